//! How many allocations `Message::parse` makes: the tree holds short lists
//! (sections, children, parameters) and short parameter values inline and
//! borrows the input, and the parser keeps its own short lists inline, so
//! a message costs a handful of allocations whatever its number of parts,
//! plus one per parameter value over 24 bytes (long boundaries, file
//! names). A counting global allocator (this test binary's only test,
//! counting on its own thread) checks it.

#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use mailwire_mime::Message;
use mailwire_mime::builder::{MessageBuilder, PartBuilder};

struct Counting;

static COUNT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
}

fn counted() {
    if ON.with(Cell::get) {
        COUNT.fetch_add(1, Relaxed);
    }
}

// SAFETY: every call goes to the system allocator unchanged; the wrapper
// only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f`, on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    COUNT.store(0, Relaxed);
    ON.with(|on| on.set(true));
    let out = f();
    ON.with(|on| on.set(false));
    (COUNT.load(Relaxed), out)
}

/// A three-level forward as the benches build it (`benches/fixtures.rs`):
/// 18 parts, 7 multiparts with a boundary each, an attachment with a
/// file name.
fn forward(seed: u64) -> Vec<u8> {
    let mut msg = MessageBuilder::new()
        .header("Subject", "original")
        .unwrap()
        .text(&"The original text, with some words.\n".repeat(40))
        .attachment(PartBuilder::attachment(
            "image/png",
            "pic.png",
            vec![seed as u8; 600],
        ))
        .build();
    for level in 0..3 {
        msg = MessageBuilder::new()
            .header("Subject", &format!("Fwd level {level}"))
            .unwrap()
            .text(&"See below, forwarded.\n".repeat(10))
            .html("<p>See below</p>")
            .forward(msg)
            .boundary_seed(seed * 10 + level)
            .build();
    }
    msg
}

#[test]
fn parse_allocations_do_not_grow_with_parts() {
    let raw = forward(3);
    let (n, parts) = allocations(|| Message::parse(&raw).parts().len());
    assert_eq!(parts, 18);
    // The part list, the parser's frame stack and its boundaries (seven
    // open at once, beyond the inline room). The seven boundaries, the
    // name and the file name of the attachment are values of 24 bytes or
    // less, held inline. It was 67 with a Vec for every section, children
    // list and parameter list, and 15 with a String for every value and a
    // Vec for the parser's section, boundaries and noted fields.
    assert!(n <= 3, "{n} allocations for 18 parts");

    // The same message with common parameters only, and every list inline:
    // the fixed allocations alone, whatever the number of leaves.
    let mut leaves = String::from("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for k in 0..4 {
        leaves.push_str(&format!(
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nleaf {k}\r\n"
        ));
    }
    leaves.push_str("--b--\r\n");
    let (few, parts) = allocations(|| Message::parse(leaves.as_bytes()).parts().len());
    assert_eq!(parts, 5);
    // The part list and the frame stack.
    assert!(few <= 2, "{few} allocations for 5 parts");
}

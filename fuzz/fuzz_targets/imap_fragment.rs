//! The fragmenter on chunked input: never panics, stays within its limits,
//! and any split gives the same frames as one whole feed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_imap::{FragmentOptions, Fragmenter, Frame};

fn run(
    data: &[u8],
    chunk: usize,
    opts: FragmentOptions,
) -> (Vec<Frame>, Option<mailwire_imap::FrameError>) {
    let mut f = Fragmenter::new(opts);
    let mut out = Vec::new();
    for part in data.chunks(chunk.max(1)) {
        f.push(part);
        loop {
            match f.poll() {
                Ok(Some(fr)) => out.push(fr),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
        assert!(f.buffered() <= data.len());
    }
    (out, None)
}

fuzz_target!(|input: &[u8]| {
    let Some((&c, data)) = input.split_first() else {
        return;
    };
    let mut opts = FragmentOptions::default();
    opts.max_line = 200;
    opts.max_literal = 1000;
    opts.max_message = 4000;
    opts.blank_line_after_literal_continues = c & 0x80 != 0;
    let (whole, e1) = run(data, data.len(), opts);
    let (split, e2) = run(data, usize::from(c & 0x7f) + 1, opts);
    // Frames are the same up to the first error; a limit error may show up
    // earlier when the input comes in small pieces, never later.
    let n = whole.len().min(split.len());
    assert_eq!(whole[..n], split[..n]);
    if e1.is_none() && e2.is_none() {
        assert_eq!(whole, split);
    }
    for fr in &whole {
        if let Frame::Message(m) = fr {
            assert!(m.len() as u64 <= opts.max_message);
            assert!(m.ends_with(b"\r\n"));
            let _ = mailwire_imap::parse::response(m);
            let _ = mailwire_imap::parse::command(m);
        }
    }
});

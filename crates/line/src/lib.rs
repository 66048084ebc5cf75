//! # mailwire-line
//!
//! CRLF line framing and dot-stuffing, shared by SMTP (the `DATA` body,
//! RFC 5321 §4.5.2) and POP3 (multi-line responses, RFC 1939 §3), and the
//! [`timer::TimerTable`] the SMTP, POP3 and IMAP state machines keep their
//! deadlines in.
//!
//! No I/O, no clock: every type here works on bytes the caller already has.
//! Input may arrive split anywhere; the result is the same whatever the split.
//!
//! ```text
//!  socket ──read──▶ BytesMut ──▶ LineFramer::next_line ──▶ Line (Bytes view)      commands, replies
//!                      │
//!                      └──────▶ Unstuffer::next_chunk  ──▶ Data(Bytes) … End(DataEnd)   DATA / RETR body
//!
//!  body chunks ──▶ Stuffer::push / finish ──▶ Vec<u8> ──write──▶ socket           client DATA, POP3 server
//! ```
//!
//! - [`LineFramer`] splits a caller-owned [`BytesMut`](bytes::BytesMut) into
//!   complete lines, each a zero-copy [`Bytes`](bytes::Bytes) view, with a
//!   length limit ([`LineError::TooLong`], reported once per line, the rest of
//!   the line discarded without buffering) and a bare-LF policy ([`BareLf`]).
//! - [`Unstuffer`] decodes a dot-stuffed body from the same buffer: content
//!   comes out as `Bytes` slices of the input, the end is only ever the real
//!   `<CRLF>.<CRLF>`, bytes after it (pipelined commands) stay in the buffer,
//!   and bare CR/LF ([`BareEol`]) or an oversize body ([`UnstuffConfig::max_size`])
//!   produce a verdict ([`DataEnd`]) at the real end of data.
//! - [`Stuffer`] (and [`stuff_all`]) encodes a body: line ends canonicalized to
//!   CRLF, a leading `.` doubled on every line, `<CRLF>.<CRLF>` appended.
//!
//! The [`manual`] module explains why these rules are as they are, in
//! particular the SMTP smuggling defence (CVE-2023-51764/51765/51766).
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use mailwire_line::{stuff_all, DataEnd, LineConfig, LineFramer, Status, UnstuffConfig, Unstuffed, Unstuffer};
//!
//! // The client side: a body with a leading dot and a bare LF.
//! let wire = stuff_all(b"Hi\n.hidden\r\nbye");
//! assert_eq!(wire, b"Hi\r\n..hidden\r\nbye\r\n.\r\n");
//!
//! // The server side: the DATA command, the body, and a pipelined QUIT.
//! let mut buf = BytesMut::new();
//! buf.extend_from_slice(b"DATA\r\n");
//! buf.extend_from_slice(&wire);
//! buf.extend_from_slice(b"QUIT\r\n");
//!
//! let mut framer = LineFramer::new(LineConfig::default());
//! let line = framer.next_line(&mut buf).unwrap().unwrap();
//! assert_eq!(line.content(), b"DATA");
//!
//! let mut unstuffer = Unstuffer::new(UnstuffConfig::default());
//! let mut body = Vec::new();
//! let end = loop {
//!     match unstuffer.next_chunk(&mut buf) {
//!         Status::Complete(Unstuffed::Data(chunk)) => body.extend_from_slice(&chunk),
//!         Status::Complete(Unstuffed::End(end)) => break end,
//!         Status::Partial => unreachable!("the whole body is in the buffer"),
//!     }
//! };
//! assert_eq!(body, b"Hi\r\n.hidden\r\nbye\r\n");
//! assert_eq!(end, DataEnd::Accepted { size: 18 });
//!
//! // The pipelined command is still in the buffer.
//! let line = framer.next_line(&mut buf).unwrap().unwrap();
//! assert_eq!(line.content(), b"QUIT");
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod ascii;
mod dash;
mod equal;
mod framer;
pub mod manual;
mod search;
mod simd;
mod stuff;
pub mod timer;
mod unstuff;

pub use ascii::{ascii_str, is_ascii, short_str};
pub use dash::find_dash_line;
pub use equal::{equal, starts_with};

pub use framer::{BareLf, Line, LineConfig, LineError, LineFramer};
pub use search::{
    HeaderWindow, field_name_len, find_any_short, find_checked_field_end, find_field_end,
    find_header_line, find_lf,
};
pub use stuff::{Stuffer, stuff_all};
pub use unstuff::{BareEol, BareEolKind, DataEnd, UnstuffConfig, Unstuffed, Unstuffer};

/// Whether the AVX-512 forms of the searches run: the CPU has AVX512BW
/// (the instructions they use) and VBMI2, the mark of a CPU from Ice Lake
/// on, where 512-bit integer work no longer slows the clock as it did on
/// Skylake-SP (a cost short searches between other code would pay; simdutf
/// and simdjson draw the same line). Detected once, then a load and a test.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512bw") && std::is_x86_feature_detected!("avx512vbmi2")
}

/// Whether the CPU is AMD's (CPUID vendor `AuthenticAMD`), read once.
/// There the dash search runs its AVX2 form and without its software
/// prefetch, and header blocks are searched line by line rather than from
/// one AVX-512 window ([`HeaderWindow`] is not made): on an AMD EPYC (Zen
/// 4, 2 vCPUs, December 2026) the prefetch took the structure parse of the
/// bench's 1 MiB base64 bodies from 47 to 67 µs (its hardware prefetcher
/// follows the search without help), the AVX-512 dash search, whose
/// 512-bit compares Zen 4 splits in two, was 9% slower on the QP
/// newsletters, and the window 11% slower on the corpus's headers; on the
/// Intel Xeon the forms were tuned on, all three paid.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn is_amd() -> bool {
    static AMD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AMD.get_or_init(|| {
        let id = core::arch::x86_64::__cpuid(0);
        [id.ebx, id.edx, id.ecx]
            .iter()
            .flat_map(|r| r.to_le_bytes())
            .eq(*b"AuthenticAMD")
    })
}

/// The result of a step that may need more input (the shape of httparse's
/// `Status`).
///
/// `Partial` is never an error: it says the buffer holds nothing more that
/// can be decided now, so the caller should read more bytes, append them to
/// the buffer and call again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum Status<T> {
    /// A complete unit was decoded.
    Complete(T),
    /// More input is needed before anything else can be decoded.
    Partial,
}

impl<T> Status<T> {
    /// True for [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// True for [`Status::Partial`].
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }

    /// The complete value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }

    /// Maps the complete value.
    pub fn map<U, F: FnOnce(T) -> U>(self, f: F) -> Status<U> {
        match self {
            Status::Complete(t) => Status::Complete(f(t)),
            Status::Partial => Status::Partial,
        }
    }
}

/// Moves the octets a machine has queued (`out`) to the caller's `buf`
/// for `poll_transmit`: `buf` takes `out`'s allocation when it is empty,
/// else they are appended. Returns how many octets moved, `None` when
/// `out` held none.
///
/// ```
/// let mut out = b"A1 NOOP\r\n".to_vec();
/// let mut buf = Vec::new();
/// assert_eq!(mailwire_line::drain_into(&mut out, &mut buf), Some(9));
/// assert_eq!(mailwire_line::drain_into(&mut out, &mut buf), None);
/// assert_eq!(buf, b"A1 NOOP\r\n");
/// ```
pub fn drain_into(out: &mut Vec<u8>, buf: &mut Vec<u8>) -> Option<usize> {
    if out.is_empty() {
        return None;
    }
    let n = out.len();
    if buf.is_empty() {
        std::mem::swap(buf, out);
    } else {
        buf.append(out);
    }
    Some(n)
}

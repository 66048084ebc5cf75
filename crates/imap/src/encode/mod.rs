//! Serializers: values to wire bytes, in the shortest correct form.
//!
//! Encoding cannot fail: every value the types allow has a correct form. A
//! string becomes an atom where the grammar allows one and the bytes fit, a
//! quoted string when it is short printable ASCII, and a literal otherwise.
//!
//! A command with a synchronizing literal cannot be sent in one go: the client
//! must wait for the server's continuation request after each `{n}` line.
//! [`Encoded`] therefore records where the command must pause:
//!
//! ```text
//! C: a1 LOGIN {5}          <- fragment 1, then wait for "+ ..."
//! S: + go ahead
//! C: fr\nd "pw"            <- fragment 2 (literal data and the rest of the line)
//! ```
//!
//! With LITERAL+ (RFC 7888) the client may use `{n+}` and send everything at once.

mod body;
mod command;
mod core;
mod fetch;
mod response;
mod search;

pub(crate) use fetch::fetch_literal_head;

use crate::types::command::Command;
use crate::types::core::LiteralMode;
use crate::types::response::Response;

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodeOptions {
    /// How command literals are announced: `Sync` (`{n}`, the default, always
    /// allowed) or `NonSync` (`{n+}`, only when the server announced LITERAL+,
    /// or LITERAL- for literals up to 4096 bytes).
    pub literal_mode: LiteralMode,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            literal_mode: LiteralMode::Sync,
        }
    }
}

/// An encoded message and the points where the sender must wait for a
/// continuation request (after each synchronizing literal announcement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    bytes: Vec<u8>,
    cuts: Vec<usize>,
}

impl Encoded {
    /// All bytes, as one buffer (what goes on the wire once every continuation arrived).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// All bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The fragments: send the first, then each next one after a continuation request.
    pub fn fragments(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut starts = vec![0];
        starts.extend(self.cuts.iter().copied());
        let ends: Vec<usize> = self
            .cuts
            .iter()
            .copied()
            .chain([self.bytes.len()])
            .collect();
        starts
            .into_iter()
            .zip(ends)
            .map(move |(a, b)| &self.bytes[a..b])
    }

    /// How many continuation requests the sender must wait for.
    pub fn waits(&self) -> usize {
        self.cuts.len()
    }
}

/// Writes IMAP syntax into a buffer the caller owns.
#[derive(Debug)]
pub struct Encoder<'b> {
    out: &'b mut Vec<u8>,
    cuts: Vec<usize>,
    literal_mode: LiteralMode,
    /// Literals in commands carry the mode; in responses always `{n}` with no wait.
    command: bool,
}

impl<'b> Encoder<'b> {
    fn new(out: &'b mut Vec<u8>, command: bool, opts: EncodeOptions) -> Self {
        Self {
            out,
            cuts: Vec::new(),
            literal_mode: opts.literal_mode,
            command,
        }
    }
}

/// Encodes a command (CRLF included) and records where it must wait for continuations.
///
/// ```
/// use mailwire_imap::{encode, parse};
/// let (cmd, _) = parse::command(b"a1 LOGIN {4}\r\nfred \"pw\"\r\n").unwrap();
/// let e = encode::command(&cmd, encode::EncodeOptions::default());
/// let parts: Vec<&[u8]> = e.fragments().collect();
/// assert_eq!(parts, [&b"a1 LOGIN fred pw\r\n"[..]]); // shortest form: atoms, no literal
/// ```
pub fn command(cmd: &Command<'_>, opts: EncodeOptions) -> Encoded {
    let mut bytes = Vec::new();
    let mut e = Encoder::new(&mut bytes, true, opts);
    e.command(cmd);
    let cuts = std::mem::take(&mut e.cuts);
    Encoded { bytes, cuts }
}

/// Encodes a command into one buffer, literals inline (the stream a server receives).
pub fn command_to_vec(cmd: &Command<'_>) -> Vec<u8> {
    command(cmd, EncodeOptions::default()).into_bytes()
}

/// Appends a response (CRLF included) to `out`.
pub fn response(r: &Response<'_>, out: &mut Vec<u8>) {
    Encoder::new(out, false, EncodeOptions::default()).response(r);
}

/// Encodes a response into a new buffer.
pub fn response_to_vec(r: &Response<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    response(r, &mut out);
    out
}

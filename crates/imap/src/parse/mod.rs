//! Zero-copy parsers for complete IMAP messages.
//!
//! Each function takes the bytes of one complete message as the
//! [`Fragmenter`](crate::Fragmenter) hands it out (every line and every literal
//! of it, with the final CRLF) and returns the value, which borrows from the
//! input, and the number of bytes consumed. Literals are taken by their
//! announced length, so their bytes are never scanned.
//!
//! Parsing is lenient where real servers are wrong (extra or trailing spaces,
//! missing response text, `NIL` where a string belongs, unknown response codes
//! and untagged responses, unknown FETCH items) and strict about framing.

mod body;
mod command;
mod core;
mod fetch;
mod response;
mod search;

use crate::types::command::Command;
use crate::types::response::Response;

/// A message did not match the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: expected {expected}")]
#[non_exhaustive]
pub struct ParseError {
    /// Offset from the start of the input where parsing failed.
    pub offset: usize,
    /// What the grammar expected there.
    pub expected: &'static str,
}

fn run<'a, O>(input: &'a [u8], r: core::IResult<'a, O>) -> Result<(O, usize), ParseError> {
    match r {
        Ok((rest, o)) => Ok((o, input.len() - rest.len())),
        Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(ParseError {
            offset: input.len() - e.input.len(),
            expected: e.expected,
        }),
        Err(nom::Err::Incomplete(_)) => Err(ParseError {
            offset: input.len(),
            expected: "more input",
        }),
    }
}

/// Parses one server response (`continue-req`, `response-data` or `response-done`,
/// RFC 3501 §7 / RFC 9051 §7) from the start of `input`, CRLF included.
/// Returns the response and the number of bytes it took.
///
/// ```
/// use mailwire_imap::{parse, Response, Data};
/// let (r, n) = parse::response(b"* 12 EXISTS\r\n").unwrap();
/// assert_eq!(r, Response::Data(Data::Exists(12)));
/// assert_eq!(n, 13);
/// ```
pub fn response(input: &[u8]) -> Result<(Response<'_>, usize), ParseError> {
    run(input, response::response(input))
}

/// Parses one client command (RFC 3501 §6 / RFC 9051 §6) from the start of
/// `input`, CRLF included, with its literals inline.
///
/// ```
/// use mailwire_imap::{parse, CommandBody};
/// let (c, _) = parse::command(b"a1 NOOP\r\n").unwrap();
/// assert_eq!(c.tag.as_str(), "a1");
/// assert_eq!(c.body, CommandBody::Noop);
/// ```
pub fn command(input: &[u8]) -> Result<(Command<'_>, usize), ParseError> {
    run(input, command::command(input))
}

/// Parses `DONE CRLF`, which ends IDLE (RFC 2177 §3). Returns the bytes taken.
pub fn idle_done(input: &[u8]) -> Result<usize, ParseError> {
    run(input, command::idle_done(input)).map(|((), n)| n)
}

/// One line of AUTHENTICATE data (RFC 3501 §6.2.2): the base64 text, undecoded
/// and wrapped in a [`Secret`](crate::Secret) so that `Debug` redacts it, or
/// `None` for `*`, the client's cancellation.
pub type AuthenticateData<'a> = Option<crate::Secret<&'a [u8]>>;

/// Parses one line of AUTHENTICATE data (RFC 3501 §6.2.2), see [`AuthenticateData`].
/// Returns it and the bytes taken.
pub fn authenticate_data(input: &[u8]) -> Result<(AuthenticateData<'_>, usize), ParseError> {
    run(input, command::auth_data(input))
}

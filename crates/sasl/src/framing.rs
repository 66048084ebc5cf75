//! Base64 framing of SASL exchanges in line-based protocols.
//!
//! SMTP (RFC 4954 §4), POP3 (RFC 5034 §4) and IMAP (RFC 3501 §6.2.2,
//! RFC 4959) carry each SASL message as one base64 line:
//!
//! ```text
//! C: AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm      <- initial response
//! S: 334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+     <- challenge
//! C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw   <- response
//! C: *                                            <- client cancels
//! ```
//!
//! * An empty *initial response* is sent as a single `=` (RFC 4954 §4,
//!   RFC 4959 §3), because an absent argument means "no initial response".
//! * A later empty response is an empty line.
//! * A response of `*` cancels the exchange (RFC 4954 §4, RFC 5034 §4).
//!
//! The protocol crates strip the command word, the reply code or the
//! continuation prefix and the CRLF; these helpers handle what is left.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A decoded client line.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientLine {
    /// The client sent `*`: cancel the exchange. The server answers with a
    /// failure (SMTP 501, POP3 -ERR, IMAP BAD).
    Cancel,
    /// The decoded response (possibly empty).
    Response(Vec<u8>),
}

impl core::fmt::Debug for ClientLine {
    // Responses carry credentials: keep them out of logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientLine::Cancel => f.write_str("Cancel"),
            ClientLine::Response(r) => write!(f, "Response([REDACTED; {} bytes])", r.len()),
        }
    }
}

/// A line that is not valid base64 (RFC 4648 §4, with padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// A byte outside the base64 alphabet, at this index of the line.
    #[error("invalid base64 byte {byte:#04x} at index {index}")]
    InvalidByte {
        /// Index in the line.
        index: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The length is not a multiple of four (padding missing or extra).
    #[error("invalid base64 length")]
    InvalidLength,
    /// Padding in the wrong place, or non-zero trailing bits.
    #[error("invalid base64 padding")]
    InvalidPadding,
}

impl From<base64::DecodeError> for FramingError {
    fn from(e: base64::DecodeError) -> Self {
        match e {
            base64::DecodeError::InvalidByte(index, byte) => {
                if byte == b'=' {
                    FramingError::InvalidPadding
                } else {
                    FramingError::InvalidByte { index, byte }
                }
            }
            base64::DecodeError::InvalidLength(_) => FramingError::InvalidLength,
            base64::DecodeError::InvalidLastSymbol(_, _) | base64::DecodeError::InvalidPadding => {
                FramingError::InvalidPadding
            }
        }
    }
}

/// Strips one trailing CRLF (or bare LF) if present.
fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Base64-encodes a message (challenge or response) for one line; an empty
/// message gives an empty line. The result never contains CR or LF.
///
/// ```
/// use mailwire_sasl::framing::encode;
/// assert_eq!(encode(b"\0tim\0tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
/// assert_eq!(encode(b""), "");
/// ```
pub fn encode(message: &[u8]) -> String {
    STANDARD.encode(message)
}

/// Encodes a client's initial response for `AUTH <mechanism> <ir>`
/// (RFC 4954 §4) or `AUTHENTICATE <mechanism> <ir>` (RFC 4959): an empty
/// response becomes `=`.
///
/// ```
/// use mailwire_sasl::framing::encode_initial_response;
/// assert_eq!(encode_initial_response(b""), "=");
/// assert_eq!(encode_initial_response(b"a"), "YQ==");
/// ```
pub fn encode_initial_response(response: &[u8]) -> String {
    if response.is_empty() {
        "=".to_owned()
    } else {
        encode(response)
    }
}

/// Decodes an initial response argument (RFC 4954 §4): `=` is an empty
/// response, anything else must be base64. A trailing CRLF is ignored.
///
/// ```
/// use mailwire_sasl::framing::decode_initial_response;
/// assert_eq!(decode_initial_response(b"=").unwrap(), b"");
/// assert_eq!(decode_initial_response(b"YQ==").unwrap(), b"a");
/// assert!(decode_initial_response(b"Y").is_err());
/// ```
pub fn decode_initial_response(arg: &[u8]) -> Result<Vec<u8>, FramingError> {
    let arg = strip_eol(arg);
    if arg == b"=" {
        return Ok(Vec::new());
    }
    decode(arg)
}

/// Decodes a client's continuation line (RFC 4954 §4, RFC 5034 §4,
/// RFC 3501 §6.2.2): `*` cancels, an empty line is an empty response, `=`
/// is also taken as an empty response (some clients send it), anything else
/// must be base64. A trailing CRLF is ignored.
///
/// ```
/// use mailwire_sasl::framing::{decode_client_line, ClientLine, FramingError};
/// assert_eq!(decode_client_line(b"*\r\n"), Ok(ClientLine::Cancel));
/// assert_eq!(decode_client_line(b""), Ok(ClientLine::Response(vec![])));
/// assert_eq!(decode_client_line(b"dXNlcg=="), Ok(ClientLine::Response(b"user".to_vec())));
/// assert_eq!(
///     decode_client_line(b"dX!l"),
///     Err(FramingError::InvalidByte { index: 2, byte: b'!' })
/// );
/// ```
pub fn decode_client_line(line: &[u8]) -> Result<ClientLine, FramingError> {
    let line = strip_eol(line);
    match line {
        b"*" => Ok(ClientLine::Cancel),
        b"" | b"=" => Ok(ClientLine::Response(Vec::new())),
        _ => decode(line).map(ClientLine::Response),
    }
}

/// Decodes a server challenge line (the text after `334 ` in SMTP, `+ ` in
/// POP3 and IMAP). An empty line is an empty challenge. A trailing CRLF is
/// ignored.
pub fn decode_challenge(line: &[u8]) -> Result<Vec<u8>, FramingError> {
    decode(strip_eol(line))
}

/// Decodes padded standard base64 (RFC 4648 §4); empty input gives an empty
/// output. Allocates at most `input.len() * 3 / 4` bytes.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, FramingError> {
    Ok(STANDARD.decode(input)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4954_section4_empty_and_cancel() {
        assert_eq!(encode_initial_response(b""), "=");
        assert_eq!(decode_initial_response(b"=\r\n"), Ok(vec![]));
        assert_eq!(decode_client_line(b"*"), Ok(ClientLine::Cancel));
        assert_eq!(
            decode_client_line(b"\r\n"),
            Ok(ClientLine::Response(vec![]))
        );
    }

    #[test]
    fn rfc4954_section4_examples() {
        // "S: 334 VXNlcm5hbWU6" is LOGIN's "Username:".
        assert_eq!(decode_challenge(b"VXNlcm5hbWU6"), Ok(b"Username:".to_vec()));
        assert_eq!(decode_challenge(b""), Ok(vec![]));
        assert_eq!(
            decode_initial_response(b"dGVzdAB0ZXN0ADEyMzQ="),
            Ok(b"test\0test\x001234".to_vec())
        );
    }

    #[test]
    fn bad_base64_is_typed() {
        assert_eq!(decode(b"YQ="), Err(FramingError::InvalidPadding));
        assert_eq!(decode(b"YQ"), Err(FramingError::InvalidPadding));
        assert_eq!(decode(b"YWJjZ"), Err(FramingError::InvalidLength));
        assert_eq!(decode(b"Y==="), Err(FramingError::InvalidPadding));
        assert_eq!(decode(b"YR=="), Err(FramingError::InvalidPadding));
        assert_eq!(decode(b"=YQ="), Err(FramingError::InvalidPadding));
        assert_eq!(
            decode(b"YQ== "),
            Err(FramingError::InvalidByte {
                index: 4,
                byte: b' '
            })
        );
        assert!(decode_client_line(b"**").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let l = ClientLine::Response(b"secret".to_vec());
        assert_eq!(format!("{l:?}"), "Response([REDACTED; 6 bytes])");
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let line = encode(&data);
            prop_assert!(!line.contains('\r') && !line.contains('\n'));
            prop_assert_eq!(decode_client_line(line.as_bytes()), Ok(ClientLine::Response(data.clone())));
            prop_assert_eq!(decode_initial_response(encode_initial_response(&data).as_bytes()), Ok(data));
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_client_line(&data);
            let _ = decode_initial_response(&data);
        }
    }
}

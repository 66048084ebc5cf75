//! SASLprep (RFC 4013) for SCRAM user names and passwords (RFC 5802 §2.2
//! `Normalize`, §5.1), via the `stringprep` crate.
//!
//! A string SASLprep refuses (a control character, an unassigned code
//! point, bad bidirectional text) is used as it is rather than failing.
//! The client and the server side of this crate both do so, as does
//! PostgreSQL on both sides, so such a password still works end to end;
//! the RFC would have the exchange fail instead.

use std::borrow::Cow;

/// Prepares `s`, or returns it unchanged if SASLprep prohibits it.
/// ASCII without control characters is always returned unchanged.
pub(crate) fn saslprep_or_raw(s: &str) -> Cow<'_, str> {
    stringprep::saslprep(s).unwrap_or(Cow::Borrowed(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4013_section3_examples() {
        assert_eq!(saslprep_or_raw("I\u{00AD}X"), "IX"); // SOFT HYPHEN mapped to nothing
        assert_eq!(saslprep_or_raw("user"), "user"); // no transformation
        assert_eq!(saslprep_or_raw("USER"), "USER"); // case preserved
        assert_eq!(saslprep_or_raw("\u{00AA}"), "a"); // NFKC
        assert_eq!(saslprep_or_raw("\u{2168}"), "IX"); // NFKC
        // Prohibited (control character, bidi check): used unchanged.
        assert_eq!(saslprep_or_raw("\u{0007}"), "\u{0007}");
        assert_eq!(saslprep_or_raw("\u{0627}\u{0031}"), "\u{0627}\u{0031}");
        assert_eq!(saslprep_or_raw("a\u{00A0}b"), "a b"); // non-ASCII space
    }
}

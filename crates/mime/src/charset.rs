//! Text in MIME charsets to UTF-8 (RFC 2046 §4.1.2), and RFC 2047 encoded
//! words in parameter values.
//!
//! Charset labels are looked up through `mailwire_message::charset` (every
//! WHATWG label through encoding_rs, plus UTF-7). An unknown charset is
//! decoded with a fallback (UTF-8 when valid, else windows-1252) and
//! reported as such.

use std::borrow::Cow;

use mailwire_message::charset::{self, DecodeStatus};

/// How the text of a part was decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextStatus {
    /// Decoded with its declared (or default) charset, without errors.
    Ok,
    /// Some bytes were invalid in the charset and became U+FFFD.
    Malformed,
    /// The charset is unknown: the fallback decoding was used.
    UnknownCharset,
}

/// Decodes `bytes` in the charset `label` to UTF-8 (borrowed when the
/// bytes already are valid UTF-8 in an ASCII-compatible charset).
///
/// Inline, with the conversion apart (`decode_text_converted`): the
/// usual answer, borrowed text, is then made where the caller keeps it (a
/// result returned from a call comes back in memory, and the caller's copy
/// of it waited on the stores that wrote it).
#[inline]
pub fn decode_text<'a>(label: &[u8], bytes: &'a [u8]) -> (Cow<'a, str>, TextStatus) {
    // Fast path: US-ASCII and UTF-8 text that is valid UTF-8.
    let plain = is_utf8_label(label);
    if plain {
        // ASCII, nearly all mail text, is checked first: a text part of a
        // few hundred bytes cost simdutf8 (or std, to which it leaves
        // inputs under 64 bytes) more than the check.
        if bytes.len() <= ASCII_FIRST
            && let Some(s) = mailwire_line::ascii_str(bytes)
        {
            return (Cow::Borrowed(s), TextStatus::Ok);
        }
        if let Ok(s) = simdutf8::basic::from_utf8(bytes) {
            return (Cow::Borrowed(s), TextStatus::Ok);
        }
    }
    decode_text_converted(label, bytes)
}

/// The longest text [`decode_text`] checks for ASCII before it validates
/// UTF-8: beyond it, simdutf8's vectors are the faster check, and a text
/// with a non-ASCII byte late in it would be read twice.
const ASCII_FIRST: usize = 2048;

/// Whether text in charset `label` is UTF-8 as it is (`utf-8`, its alias
/// `utf8`, or `us-ascii`, a subset), so that valid UTF-8 needs no
/// conversion.
#[inline]
fn is_utf8_label(label: &[u8]) -> bool {
    // As usually written first (compared whole, without a byte loop).
    matches!(label, b"us-ascii" | b"utf-8" | b"UTF-8" | b"US-ASCII")
        || label.eq_ignore_ascii_case(b"utf-8")
        || label.eq_ignore_ascii_case(b"us-ascii")
        || label.eq_ignore_ascii_case(b"utf8")
}

/// [`decode_text`] past its fast path.
fn decode_text_converted<'a>(label: &[u8], bytes: &'a [u8]) -> (Cow<'a, str>, TextStatus) {
    let (text, status) = charset::decode(label, bytes);
    let status = match status {
        DecodeStatus::Ok => TextStatus::Ok,
        DecodeStatus::Malformed => TextStatus::Malformed,
        DecodeStatus::UnknownCharset => TextStatus::UnknownCharset,
    };
    (text, status)
}

/// Like [`decode_text`] for owned bytes: no copy when they are UTF-8.
pub(crate) fn decode_text_owned(label: &[u8], bytes: Vec<u8>) -> (String, TextStatus) {
    let plain = is_utf8_label(label);
    if plain && simdutf8::basic::from_utf8(&bytes).is_ok() {
        #[allow(unsafe_code)]
        // SAFETY: simdutf8 just validated `bytes` as UTF-8 (its `basic`
        // validator accepts exactly what `std::str::from_utf8` accepts), so
        // skipping the second, slower validation of `String::from_utf8`
        // keeps the String invariant.
        let s = unsafe { String::from_utf8_unchecked(bytes) };
        return (s, TextStatus::Ok);
    }
    let (t, st) = decode_text(label, &bytes);
    (t.into_owned(), st)
}

/// Bytes with no declared charset as text: UTF-8 when valid, else
/// windows-1252.
pub(crate) fn bytes_to_string(bytes: &[u8]) -> String {
    charset::bytes_to_text(bytes).into_owned()
}

/// Whether `value` holds `=?`, where an RFC 2047 encoded word starts: one
/// search for the rare `?` (`str::contains` would build a substring
/// searcher per call, which costs more than these short values).
pub(crate) fn has_encoded_word(value: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = mailwire_line::find_any_short(&value[from..], [b'?']) {
        let i = from + p;
        if i > 0 && value[i - 1] == b'=' {
            return true;
        }
        from = i + 1;
    }
    false
}

/// Decodes RFC 2047 encoded words found in a parameter value (not allowed
/// there by RFC 2047 §5, but what many clients write in filenames).
pub(crate) fn decode_words(value: String) -> String {
    if !has_encoded_word(value.as_bytes()) {
        return value;
    }
    // The unstructured-field decoder drops white space at the ends of a
    // field value; a parameter value keeps it.
    let body = value.trim_matches([' ', '\t']);
    let start = value.len() - value.trim_start_matches([' ', '\t']).len();
    let decoded = mailwire_message::decode_unstructured(body.as_bytes());
    let mut out = String::with_capacity(value.len());
    out.push_str(&value[..start]);
    out.push_str(&decoded);
    out.push_str(&value[start + body.len()..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn simd_utf8_matches_std(bytes in proptest::collection::vec(prop_oneof![
            any::<u8>(), Just(b'a'), Just(0xc3), Just(0xa9), Just(0xe2), Just(0x82), Just(0xac)], 0..200)) {
            // The SIMD validation accepts exactly what std accepts, borrowed
            // and owned.
            let std_ok = std::str::from_utf8(&bytes).is_ok();
            let (text, status) = decode_text(b"utf-8", &bytes);
            prop_assert_eq!(std_ok, matches!(text, Cow::Borrowed(_)));
            prop_assert_eq!(std_ok, status == TextStatus::Ok);
            prop_assert_eq!(&*text, &*String::from_utf8_lossy(&bytes));
            let (owned, st) = decode_text_owned(b"utf-8", bytes.clone());
            prop_assert_eq!(owned, text.into_owned());
            prop_assert_eq!(st, status);
        }
    }
}

//! Charsets: decode bytes labelled with a MIME charset name to text.
//!
//! Every label of the WHATWG Encoding Standard is understood through
//! `encoding_rs`, plus UTF-7 (RFC 2152), which WHATWG leaves out but old
//! mail still uses, and a few aliases common in mail (`cp932`, `cp949`,
//! `ks_c_5601-1987`, `x-sjis`, ...).
//!
//! ```
//! use mailwire_message::charset::{decode, DecodeStatus};
//! let (text, status) = decode(b"ISO-8859-1", b"caf\xe9");
//! assert_eq!(text, "café");
//! assert_eq!(status, DecodeStatus::Ok);
//! let (text, status) = decode(b"utf-7", b"Hi Mom -+Jjo--!");
//! assert_eq!(text, "Hi Mom -\u{263A}-!");
//! assert_eq!(status, DecodeStatus::Ok);
//! ```

use std::borrow::Cow;

use encoding_rs::Encoding;

/// How a [`decode`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeStatus {
    /// The bytes were valid in the charset.
    Ok,
    /// Some bytes were invalid in the charset and became U+FFFD.
    Malformed,
    /// The charset label is not known; the bytes were decoded as UTF-8
    /// when valid, else as windows-1252.
    UnknownCharset,
}

/// A charset this crate can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// A charset of the WHATWG Encoding Standard.
    Whatwg(&'static Encoding),
    /// UTF-7 (RFC 2152).
    Utf7,
}

impl Charset {
    /// Look a MIME charset label up (case-insensitive, surrounding white
    /// space ignored). `None` when the label is unknown.
    ///
    /// Inline for the usual labels (`utf-8`, `us-ascii`, `iso-8859-1`,
    /// and `windows-1252` as Outlook writes it: a MIME parser checks one
    /// per text part), the table look-up apart (a message of two
    /// `windows-1252` parts 3.6 -> 3.4 µs to parse whole).
    #[inline]
    pub fn for_label(label: &[u8]) -> Option<Charset> {
        let label = crate::header::trim_wsp(label);
        // The usual labels first, without a table lookup: as usually
        // written (compared whole, without a byte loop), then in any case.
        match label {
            b"utf-8" | b"UTF-8" => return Some(Charset::Whatwg(encoding_rs::UTF_8)),
            b"us-ascii" | b"US-ASCII" | b"iso-8859-1" | b"ISO-8859-1" | b"windows-1252"
            | b"Windows-1252" => {
                return Some(Charset::Whatwg(encoding_rs::WINDOWS_1252));
            }
            _ => {}
        }
        if label.eq_ignore_ascii_case(b"utf-8") {
            return Some(Charset::Whatwg(encoding_rs::UTF_8));
        }
        if label.eq_ignore_ascii_case(b"iso-8859-1") || label.eq_ignore_ascii_case(b"us-ascii") {
            return Some(Charset::Whatwg(encoding_rs::WINDOWS_1252));
        }
        Self::for_other_label(label)
    }

    /// [`Charset::for_label`] past the usual labels (`label` trimmed).
    fn for_other_label(label: &[u8]) -> Option<Charset> {
        if label.eq_ignore_ascii_case(b"utf-7")
            || label.eq_ignore_ascii_case(b"utf7")
            || label.eq_ignore_ascii_case(b"unicode-1-1-utf-7")
            || label.eq_ignore_ascii_case(b"csunicode11utf7")
            || label.eq_ignore_ascii_case(b"x-utf-7")
        {
            return Some(Charset::Utf7);
        }
        if let Some(e) = Encoding::for_label_no_replacement(label) {
            return Some(Charset::Whatwg(e));
        }
        // Aliases seen in mail that WHATWG does not list.
        const ALIASES: &[(&[u8], &str)] = &[
            (b"cp932", "shift_jis"),
            (b"ms932", "shift_jis"),
            (b"x-sjis", "shift_jis"),
            (b"shift-jis", "shift_jis"),
            (b"cp949", "euc-kr"),
            (b"uhc", "euc-kr"),
            (b"ks_c_5601", "euc-kr"),
            (b"cp936", "gbk"),
            (b"ms936", "gbk"),
            (b"gb18030-2000", "gb18030"),
            (b"cp950", "big5"),
            (b"big5-hkscs", "big5"),
            (b"utf8", "utf-8"),
            (b"latin-1", "windows-1252"),
            (b"ansi_x3.4-1968", "windows-1252"),
            (b"cp-1252", "windows-1252"),
            (b"iso8859-1", "windows-1252"),
            (b"iso8859-15", "iso-8859-15"),
            (b"iso8859-2", "iso-8859-2"),
            (b"cp1250", "windows-1250"),
            (b"cp1251", "windows-1251"),
            (b"cp1253", "windows-1253"),
            (b"cp1254", "windows-1254"),
            (b"cp1255", "windows-1255"),
            (b"cp1256", "windows-1256"),
            (b"cp1257", "windows-1257"),
            (b"cp1258", "windows-1258"),
            (b"cp874", "windows-874"),
            (b"cp866", "ibm866"),
            (b"tis-620", "windows-874"),
            (b"unicode-1-1-utf-8", "utf-8"),
        ];
        for (alias, target) in ALIASES {
            if label.eq_ignore_ascii_case(alias) {
                return Encoding::for_label(target.as_bytes()).map(Charset::Whatwg);
            }
        }
        None
    }

    /// The charset's canonical name (`UTF-8`, `ISO-8859-2`, `UTF-7`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Charset::Whatwg(e) => e.name(),
            Charset::Utf7 => "UTF-7",
        }
    }

    /// Decode `bytes` in this charset. Borrowed when the bytes are already
    /// valid UTF-8 text in an ASCII-compatible charset.
    pub fn decode<'a>(&self, bytes: &'a [u8]) -> (Cow<'a, str>, bool) {
        match self {
            Charset::Whatwg(e) => {
                if *e == encoding_rs::UTF_16LE || *e == encoding_rs::UTF_16BE {
                    let (text, _, errors) = e.decode(bytes);
                    (text, errors)
                } else {
                    let (text, errors) = e.decode_without_bom_handling(bytes);
                    (text, errors)
                }
            }
            Charset::Utf7 => decode_utf7(bytes),
        }
    }
}

/// Decode `bytes` labelled with the MIME charset `label`.
///
/// Unknown labels decode as UTF-8 when the bytes are valid UTF-8, else as
/// windows-1252, and say so with [`DecodeStatus::UnknownCharset`].
pub fn decode<'a>(label: &[u8], bytes: &'a [u8]) -> (Cow<'a, str>, DecodeStatus) {
    match Charset::for_label(label) {
        Some(cs) => {
            let (text, errors) = cs.decode(bytes);
            let status = if errors {
                DecodeStatus::Malformed
            } else {
                DecodeStatus::Ok
            };
            (text, status)
        }
        None => (bytes_to_text(bytes), DecodeStatus::UnknownCharset),
    }
}

/// Bytes of a header as text: UTF-8 (RFC 6532) when valid, else
/// windows-1252 (the usual charset of unlabelled 8-bit mail).
pub fn bytes_to_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

fn b64_value(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => (b - b'A') as u32,
        b'a'..=b'z' => (b - b'a' + 26) as u32,
        b'0'..=b'9' => (b - b'0' + 52) as u32,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// Decode UTF-7 (RFC 2152). Returns the text and whether anything was
/// malformed (replaced by U+FFFD).
pub fn decode_utf7(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    if !bytes.contains(&b'+') && bytes.is_ascii() {
        // Pure direct characters: nothing to decode.
        return match std::str::from_utf8(bytes) {
            Ok(s) => (Cow::Borrowed(s), false),
            Err(_) => (bytes_to_text(bytes), true),
        };
    }
    let mut out = String::with_capacity(bytes.len());
    let mut errors = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'+' {
            if b.is_ascii() {
                out.push(b as char);
            } else {
                out.push('\u{FFFD}');
                errors = true;
            }
            i += 1;
            continue;
        }
        i += 1;
        if i < bytes.len() && bytes[i] == b'-' {
            out.push('+');
            i += 1;
            continue;
        }
        // Modified base64 run: 16-bit UTF-16 units.
        let mut acc: u32 = 0;
        let mut nbits = 0u32;
        let mut high: Option<u16> = None;
        while i < bytes.len() {
            let Some(v) = b64_value(bytes[i]) else { break };
            acc = (acc << 6) | v;
            nbits += 6;
            i += 1;
            if nbits >= 16 {
                nbits -= 16;
                let unit = ((acc >> nbits) & 0xFFFF) as u16;
                acc &= (1 << nbits) - 1;
                match (high.take(), unit) {
                    (None, 0xD800..=0xDBFF) => high = Some(unit),
                    (None, 0xDC00..=0xDFFF) => {
                        out.push('\u{FFFD}');
                        errors = true;
                    }
                    (None, u) => out.push(char::from_u32(u as u32).unwrap_or('\u{FFFD}')),
                    (Some(h), 0xDC00..=0xDFFF) => {
                        let c = 0x10000 + (((h as u32) - 0xD800) << 10) + (unit as u32 - 0xDC00);
                        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                    }
                    (Some(_), u) => {
                        out.push('\u{FFFD}');
                        errors = true;
                        if (0xD800..=0xDBFF).contains(&u) {
                            high = Some(u);
                        } else {
                            out.push(char::from_u32(u as u32).unwrap_or('\u{FFFD}'));
                        }
                    }
                }
            }
        }
        if high.is_some() || nbits >= 6 || acc != 0 {
            out.push('\u{FFFD}');
            errors = true;
        }
        if i < bytes.len() && bytes[i] == b'-' {
            i += 1;
        }
    }
    (Cow::Owned(out), errors)
}

/// Encode text as UTF-7 (RFC 2152), using direct characters for letters,
/// digits and RFC 2152 Set O characters except `+`, `\` and `~`.
pub fn encode_utf7(text: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fn direct(c: char) -> bool {
        c.is_ascii() && !c.is_ascii_control() && c != '+' && c != '\\' && c != '~'
            || matches!(c, ' ' | '\t' | '\r' | '\n')
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '+' {
            out.push_str("+-");
            continue;
        }
        if direct(c) {
            out.push(c);
            continue;
        }
        out.push('+');
        let mut acc: u32 = 0;
        let mut nbits = 0;
        let mut buf = [0u16; 2];
        let mut cur = Some(c);
        while let Some(ch) = cur {
            for unit in ch.encode_utf16(&mut buf).iter() {
                acc = (acc << 16) | (*unit as u32);
                nbits += 16;
                while nbits >= 6 {
                    nbits -= 6;
                    out.push(B64[((acc >> nbits) & 63) as usize] as char);
                }
                acc &= (1 << nbits) - 1;
            }
            cur = match chars.peek() {
                Some(&n) if !direct(n) && n != '+' => chars.next(),
                _ => None,
            };
        }
        if nbits > 0 {
            out.push(B64[((acc << (6 - nbits)) & 63) as usize] as char);
        }
        // Always close explicitly: the next direct character may be a base64 letter.
        out.push('-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2152_examples() {
        assert_eq!(decode_utf7(b"A+ImIDkQ.").0, "A\u{2262}\u{0391}.");
        assert_eq!(decode_utf7(b"Hi Mom -+Jjo--!").0, "Hi Mom -\u{263A}-!");
        assert_eq!(decode_utf7(b"+ZeVnLIqe-").0, "\u{65E5}\u{672C}\u{8A9E}");
        assert_eq!(decode_utf7(b"1 +- 1").0, "1 + 1");
        assert!(!decode_utf7(b"+ZeVnLIqe-").1);
        assert!(decode_utf7(b"+Z-").1);
    }

    #[test]
    fn utf7_surrogates_round_trip() {
        for s in ["a😀b", "日本語 text", "+~\\", "plain"] {
            assert_eq!(decode_utf7(encode_utf7(s).as_bytes()).0, s);
        }
    }

    #[test]
    fn labels() {
        assert_eq!(decode(b"windows-1252", b"\x80").0, "€");
        assert_eq!(decode(b"KOI8-R", b"\xf0\xd2\xc9").0, "При");
        assert_eq!(decode(b"cp932", b"\x82\xa0").0, "あ");
        assert_eq!(
            decode(b"x-nonsense", b"abc").1,
            DecodeStatus::UnknownCharset
        );
        assert_eq!(decode(b"utf-8", b"\xff").1, DecodeStatus::Malformed);
        assert!(matches!(decode(b"us-ascii", b"abc").0, Cow::Borrowed(_)));
    }
}

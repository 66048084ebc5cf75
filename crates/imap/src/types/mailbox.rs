//! Mailbox names (RFC 3501 §5.1, §5.1.3 modified UTF-7; RFC 6855 UTF-8).

use super::core::IString;

/// A mailbox name (`mailbox = "INBOX" / astring`). `INBOX` in any case is the
/// distinguished inbox; other names are kept as sent (modified UTF-7 or, with
/// UTF8=ACCEPT, UTF-8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mailbox<'a> {
    /// `INBOX`, compared without case.
    Inbox,
    /// Any other name, as bytes on the wire.
    Other(IString<'a>),
}

impl<'a> Mailbox<'a> {
    /// Wraps wire bytes; `inbox` in any case becomes [`Mailbox::Inbox`].
    pub fn new(name: IString<'a>) -> Self {
        if name.as_bytes().eq_ignore_ascii_case(b"INBOX") {
            Mailbox::Inbox
        } else {
            Mailbox::Other(name)
        }
    }

    /// Encodes a Unicode name into modified UTF-7 (RFC 3501 §5.1.3).
    pub fn from_utf8_name(name: &str) -> Mailbox<'static> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Mailbox::Inbox;
        }
        // Modified UTF-7 is plain ASCII without NUL except what we encode: NUL is
        // a non-printable and goes through base64, so the result holds no NUL.
        Mailbox::Other(IString::unvalidated(encode_utf7(name).into_bytes()))
    }

    /// The wire bytes of the name.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Mailbox::Inbox => b"INBOX",
            Mailbox::Other(s) => s.as_bytes(),
        }
    }

    /// Decodes the name from modified UTF-7; a name that is not valid modified
    /// UTF-7 but is UTF-8 (RFC 6855) is returned as it is. `None` otherwise.
    pub fn to_utf8_name(&self) -> Option<String> {
        decode_utf7(self.as_bytes())
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> Mailbox<'static> {
        match self {
            Mailbox::Inbox => Mailbox::Inbox,
            Mailbox::Other(s) => Mailbox::Other(s.into_owned()),
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Encodes text as modified UTF-7 (RFC 3501 §5.1.3): printable ASCII stands for
/// itself (`&` as `&-`), everything else is UTF-16 in modified base64 between `&` and `-`.
pub fn encode_utf7(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out.push('-');
        pending.clear();
    };
    for c in text.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-")
            } else {
                out.push(c)
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes modified UTF-7 (RFC 3501 §5.1.3). Input that is not modified UTF-7
/// but is valid UTF-8 with non-ASCII characters (an RFC 6855 name) is returned
/// unchanged; anything else gives `None`.
pub fn decode_utf7(input: &[u8]) -> Option<String> {
    if !input.is_ascii() {
        return std::str::from_utf8(input).ok().map(str::to_owned);
    }
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'&' {
            if !(0x20..=0x7e).contains(&b) {
                return None;
            }
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let end = i + 1 + input[i + 1..].iter().position(|&c| c == b'-')?;
        let run = &input[i + 1..end];
        i = end + 1;
        if run.is_empty() {
            out.push('&');
            continue;
        }
        let mut bits: u32 = 0;
        let mut nbits = 0;
        let mut units = Vec::new();
        for &c in run {
            let v = B64.iter().position(|&x| x == c)? as u32;
            bits = (bits << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(((bits >> nbits) & 0xffff) as u16);
            }
        }
        if nbits >= 6 || (bits & ((1 << nbits) - 1)) != 0 {
            return None;
        }
        for c in char::decode_utf16(units) {
            let c = c.ok()?;
            if (' '..='~').contains(&c) {
                return None; // printable ASCII must not be base64-encoded
            }
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_5_1_3_example() {
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode_utf7(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(
            decode_utf7(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Some(name)
        );
        assert_eq!(decode_utf7(b"A&-B").as_deref(), Some("A&B"));
        assert_eq!(encode_utf7("A&B"), "A&-B");
        assert_eq!(
            decode_utf7(b"Andere Ben&APw-tzer/").as_deref(),
            Some("Andere Benützer/")
        );
        assert_eq!(decode_utf7(b"&AGE-"), None);
        assert_eq!(decode_utf7(b"&U,BTF2XlZyyKng"), None);
    }
}

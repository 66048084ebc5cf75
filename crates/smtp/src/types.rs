//! SMTP value types: paths, domains, parameters, commands and replies.
//!
//! Every type here is valid by construction: the checked constructors
//! (`TryFrom`, `new`) refuse CR, LF, NUL and anything else the RFC 5321 §4.1.2
//! grammar does not allow, so serializing a value can never inject a second
//! command into the stream.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;

/// RFC 5321 §4.5.3.1.1: the maximum total length of a local part.
pub const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2: the maximum total length of a domain name or number.
pub const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3: the maximum total length of a reverse-path or
/// forward-path, including the punctuation (angle brackets).
pub const MAX_PATH: usize = 256;

/// Why a value could not be built. Names the offending byte and its index
/// where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The value is empty but must not be.
    #[error("value is empty")]
    Empty,
    /// A byte that the grammar does not allow at this position.
    #[error("byte 0x{byte:02x} not allowed at index {index}")]
    ByteNotAllowed {
        /// The offending byte.
        byte: u8,
        /// Its index in the input.
        index: usize,
    },
    /// Longer than the RFC 5321 §4.5.3.1 limit.
    #[error("{len} octets exceed the limit of {max}")]
    TooLong {
        /// The limit.
        max: usize,
        /// The length that was given.
        len: usize,
    },
    /// The structure is wrong (e.g. an empty label, a bad address literal).
    #[error("malformed value")]
    Malformed,
    /// A number is out of its range.
    #[error("number out of range")]
    OutOfRange,
}

fn bad(bytes: &[u8], index: usize) -> ValidationError {
    ValidationError::ByteNotAllowed {
        byte: bytes.get(index).copied().unwrap_or(0),
        index,
    }
}

/// Character classes, one bit each, looked up in one table.
pub(crate) const C_ATEXT: u8 = 1;
/// Letters, digits and UTF-8 bytes: what a domain label starts and ends with.
pub(crate) const C_LETDIG: u8 = 2;
/// `esmtp-value` bytes.
pub(crate) const C_VALUE: u8 = 4;
/// `xchar` of RFC 3461 xtext.
pub(crate) const C_XCHAR: u8 = 8;

/// `esmtp-keyword` bytes after the first: ASCII letters, digits and `-`.
pub(crate) const C_KEYWORD: u8 = 16;
/// Base64 bytes and `=` (an AUTH initial response, RFC 4954 §4).
const C_BASE64: u8 = 32;
/// SASL mechanism name bytes (RFC 4422 §3.1 `mech-char`).
const C_MECH: u8 = 64;
/// What a `Domain` is made of: [`C_LETDIG`], `-` and `.`.
const C_DOMAIN: u8 = 128;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alnum = b.is_ascii_alphanumeric();
        let high = b >= 0x80;
        let mut c = 0;
        // RFC 5322 §3.2.3 atext; UTF8-non-ascii per RFC 6531 §3.3.
        let special = matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        );
        if alnum || high || special {
            c |= C_ATEXT;
        }
        if alnum || high {
            c |= C_LETDIG | C_DOMAIN;
        }
        if b == b'-' || b == b'.' {
            c |= C_DOMAIN;
        }
        // esmtp-value = 1*(%d33-60 / %d62-126), UTF8-non-ascii per RFC 6531
        if (b >= 33 && b <= 60) || (b >= 62 && b <= 126) || high {
            c |= C_VALUE;
        }
        if b >= 33 && b <= 126 && b != b'+' && b != b'=' {
            c |= C_XCHAR;
        }
        if alnum || b == b'-' {
            c |= C_KEYWORD;
        }
        if alnum || b == b'+' || b == b'/' || b == b'=' {
            c |= C_BASE64;
        }
        if b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_' {
            c |= C_MECH;
        }
        t[i] = c;
        i += 1;
    }
    t
};

#[inline(always)]
pub(crate) fn class(b: u8, c: u8) -> bool {
    CLASS[b as usize] & c != 0
}

#[inline]
pub(crate) fn is_atext(b: u8) -> bool {
    class(b, C_ATEXT)
}

/// Checks the RFC 5321 `Domain` rule (with RFC 6531 U-labels): dot-separated
/// labels of letters, digits and hyphens, no hyphen at either end of a label.
pub(crate) fn check_domain(s: &[u8]) -> Result<(), ValidationError> {
    if domain_ok(s) {
        return Ok(());
    }
    domain_error(s)
}

/// Whether `s` is a `Domain`, as [`domain_error`] judges it, without a
/// branch per byte: every byte a letter, digit, UTF-8 byte, `-` or `.`
/// (one table lookup each, and-ed together); neither end a `-` or `.`;
/// and each `.` between two letters or digits, which leaves no empty
/// label and no label that starts or ends with `-`.
#[inline]
fn domain_ok(s: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (s.first(), s.last()) else {
        return false;
    };
    if s.len() > MAX_DOMAIN || !class(first, C_LETDIG) || !class(last, C_LETDIG) {
        return false;
    }
    // Both ends are letters or digits, so each dot inside has a byte on
    // each side.
    let mut all = C_DOMAIN;
    let mut dots_ok = true;
    for w in s.windows(3) {
        all &= CLASS[usize::from(w[1])];
        dots_ok &= (w[1] != b'.') | (class(w[0], C_LETDIG) & class(w[2], C_LETDIG));
    }
    all != 0 && dots_ok
}

/// [`check_domain`]'s verdict byte by byte, naming the first byte that
/// breaks the rule (the path for what [`domain_ok`] refuses).
#[cold]
fn domain_error(s: &[u8]) -> Result<(), ValidationError> {
    if s.is_empty() {
        return Err(ValidationError::Empty);
    }
    if s.len() > MAX_DOMAIN {
        return Err(ValidationError::TooLong {
            max: MAX_DOMAIN,
            len: s.len(),
        });
    }
    let mut label_start = 0;
    for (i, &b) in s.iter().enumerate() {
        if b == b'.' {
            if i == label_start || s[i - 1] == b'-' {
                return Err(bad(s, i));
            }
            label_start = i + 1;
        } else if b == b'-' {
            if i == label_start {
                return Err(bad(s, i));
            }
        } else if !class(b, C_LETDIG) {
            return Err(bad(s, i));
        }
    }
    if label_start == s.len() || s[s.len() - 1] == b'-' {
        return Err(bad(s, s.len() - 1));
    }
    Ok(())
}

/// For `b` made only of digits and dots (else `None`): whether it is an
/// IPv4 address as `std::net::Ipv4Addr` parses one (RFC 5321 §4.1.3
/// `IPv4-address-literal`): four groups of one to three digits, each at
/// most 255, no leading zero.
fn dotted_quad(b: &[u8]) -> Option<bool> {
    if b.is_empty() || !b.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    let mut groups = 0;
    for g in b.split(|&c| c == b'.') {
        groups += 1;
        let ok = match *g {
            [a] => a.is_ascii_digit(),
            [a, _] => a != b'0',
            [a, b, c] => {
                a != b'0'
                    && u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
                        <= 255
            }
            _ => false,
        };
        if !ok || groups > 4 {
            return Some(false);
        }
    }
    Some(groups == 4)
}

/// Checks an RFC 5321 §4.1.3 address literal, brackets included.
pub(crate) fn check_address_literal(s: &[u8]) -> Result<(), ValidationError> {
    if s.len() > MAX_DOMAIN {
        return Err(ValidationError::TooLong {
            max: MAX_DOMAIN,
            len: s.len(),
        });
    }
    if s.len() < 3 || s[0] != b'[' || s[s.len() - 1] != b']' {
        return Err(ValidationError::Malformed);
    }
    let inner = &s[1..s.len() - 1];
    // The usual case, a dotted quad, is checked without building strings.
    if let Some(ok) = dotted_quad(inner) {
        return if ok {
            Ok(())
        } else {
            Err(ValidationError::Malformed)
        };
    }
    for (i, &b) in inner.iter().enumerate() {
        // dcontent = %d33-90 / %d94-126
        if !(33..=90).contains(&b) && !(94..=126).contains(&b) {
            return Err(bad(s, i + 1));
        }
    }
    // Safe: all bytes checked to be ASCII above.
    let text = std::str::from_utf8(inner).map_err(|_| ValidationError::Malformed)?;
    if let Some(v6) = text
        .strip_prefix("IPv6:")
        .or_else(|| text.strip_prefix("ipv6:"))
    {
        v6.parse::<std::net::Ipv6Addr>()
            .map_err(|_| ValidationError::Malformed)?;
    } else if let Some((tag, content)) = text.split_once(':') {
        // General-address-literal = Standardized-tag ":" 1*dcontent
        if tag.is_empty()
            || content.is_empty()
            || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || tag.ends_with('-')
        {
            return Err(ValidationError::Malformed);
        }
    } else {
        text.parse::<std::net::Ipv4Addr>()
            .map_err(|_| ValidationError::Malformed)?;
    }
    Ok(())
}

/// Checks an RFC 5321 `Local-part` in its wire form: a `Dot-string` or a
/// `Quoted-string` (quotes included), UTF-8 allowed per RFC 6531.
pub(crate) fn check_local_part(s: &[u8]) -> Result<(), ValidationError> {
    if s.is_empty() {
        return Err(ValidationError::Empty);
    }
    if s.len() > MAX_LOCAL_PART {
        return Err(ValidationError::TooLong {
            max: MAX_LOCAL_PART,
            len: s.len(),
        });
    }
    if s[0] == b'"' {
        if s.len() < 2 || s[s.len() - 1] != b'"' {
            return Err(ValidationError::Malformed);
        }
        let mut i = 1;
        while i < s.len() - 1 {
            let b = s[i];
            if b == b'\\' {
                // quoted-pairSMTP = %d92 %d32-126
                match s.get(i + 1) {
                    Some(&n) if (32..=126).contains(&n) && i + 1 < s.len() - 1 => i += 2,
                    _ => return Err(bad(s, i)),
                }
                continue;
            }
            // qtextSMTP = %d32-33 / %d35-91 / %d93-126 / UTF8-non-ascii
            if !(b == 32
                || b == 33
                || (35..=91).contains(&b)
                || (93..=126).contains(&b)
                || b >= 0x80)
            {
                return Err(bad(s, i));
            }
            i += 1;
        }
    } else {
        let mut prev_dot = true;
        for (i, &b) in s.iter().enumerate() {
            if b == b'.' {
                if prev_dot {
                    return Err(bad(s, i));
                }
                prev_dot = true;
            } else if is_atext(b) {
                prev_dot = false;
            } else {
                return Err(bad(s, i));
            }
        }
        if prev_dot {
            return Err(bad(s, s.len() - 1));
        }
    }
    Ok(())
}

fn to_str(bytes: &[u8]) -> Result<&str, ValidationError> {
    std::str::from_utf8(bytes).map_err(|_| ValidationError::Malformed)
}

fn cow_bytes_to_str(c: Cow<'_, [u8]>) -> Result<Cow<'_, str>, ValidationError> {
    match c {
        Cow::Borrowed(b) => Ok(Cow::Borrowed(to_str(b)?)),
        Cow::Owned(v) => String::from_utf8(v)
            .map(Cow::Owned)
            .map_err(|_| ValidationError::Malformed),
    }
}

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident, $check:expr) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name<'a>(Cow<'a, str>);

        impl<'a> $name<'a> {
            /// Checks `value` against the grammar (and that it is UTF-8).
            pub fn validate(value: impl AsRef<[u8]>) -> Result<(), ValidationError> {
                let v = value.as_ref();
                ($check)(v)?;
                to_str(v).map(|_| ())
            }

            /// Builds the value without checking it. Debug builds still assert.
            /// Use only where a grammar already proved the value valid.
            pub fn unvalidated(value: impl Into<Cow<'a, str>>) -> Self {
                let v = value.into();
                debug_assert!(Self::validate(v.as_bytes()).is_ok(), "invalid {}: {:?}", stringify!($name), v);
                Self(v)
            }

            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Detaches the value from the input it borrows from.
            pub fn into_owned(self) -> $name<'static> {
                $name(Cow::Owned(self.0.into_owned()))
            }
        }

        impl<'a> TryFrom<&'a str> for $name<'a> {
            type Error = ValidationError;
            fn try_from(value: &'a str) -> Result<Self, ValidationError> {
                ($check)(value.as_bytes())?;
                Ok(Self(Cow::Borrowed(value)))
            }
        }

        impl<'a> TryFrom<&'a [u8]> for $name<'a> {
            type Error = ValidationError;
            fn try_from(value: &'a [u8]) -> Result<Self, ValidationError> {
                ($check)(value)?;
                Ok(Self(cow_bytes_to_str(Cow::Borrowed(value))?))
            }
        }

        impl TryFrom<String> for $name<'static> {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, ValidationError> {
                ($check)(value.as_bytes())?;
                Ok(Self(Cow::Owned(value)))
            }
        }

        impl TryFrom<Vec<u8>> for $name<'static> {
            type Error = ValidationError;
            fn try_from(value: Vec<u8>) -> Result<Self, ValidationError> {
                ($check)(&value)?;
                Ok(Self(cow_bytes_to_str(Cow::Owned(value))?))
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name<'_> {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

fn check_host(s: &[u8]) -> Result<(), ValidationError> {
    if s.first() == Some(&b'[') {
        check_address_literal(s)
    } else {
        check_domain(s)
    }
}

string_newtype!(
    /// A host: an RFC 5321 `Domain` or an `address-literal` (RFC 5321 §4.1.2,
    /// §4.1.3), with RFC 6531 U-labels.
    ///
    /// ```text
    /// Domain         = sub-domain *("." sub-domain)
    /// sub-domain     = Let-dig [Ldh-str]
    /// address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
    ///                   General-address-literal ) "]"
    /// ```
    Host,
    check_host
);

impl Host<'_> {
    /// True for an address literal such as `[192.0.2.1]`.
    pub fn is_address_literal(&self) -> bool {
        self.0.starts_with('[')
    }
}

string_newtype!(
    /// An RFC 5321 `Local-part` in its wire form (a quoted local part keeps its
    /// quotes and backslashes), at most 64 octets (§4.5.3.1.1).
    ///
    /// ```text
    /// Local-part     = Dot-string / Quoted-string
    /// Dot-string     = Atom *("."  Atom)
    /// Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
    /// ```
    LocalPart,
    check_local_part
);

fn check_text(s: &[u8]) -> Result<(), ValidationError> {
    for (i, &b) in s.iter().enumerate() {
        if b == b'\r' || b == b'\n' || b == 0 {
            return Err(bad(s, i));
        }
    }
    Ok(())
}

string_newtype!(
    /// Free text in a command argument or a reply line: any UTF-8 without CR,
    /// LF or NUL (RFC 5321 §4.1.1.6-§4.1.1.9 `String`, §4.2 `textstring`).
    Text,
    check_text
);

fn check_keyword(s: &[u8]) -> Result<(), ValidationError> {
    if s.is_empty() {
        return Err(ValidationError::Empty);
    }
    for (i, &b) in s.iter().enumerate() {
        if !(b.is_ascii_alphanumeric() || (b == b'-' && i > 0)) {
            return Err(bad(s, i));
        }
    }
    Ok(())
}

string_newtype!(
    /// An ESMTP keyword (RFC 5321 §4.1.2): used for EHLO keywords and
    /// MAIL/RCPT parameter names.
    ///
    /// ```text
    /// esmtp-keyword  = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    /// ```
    Keyword,
    check_keyword
);

fn check_esmtp_value(s: &[u8]) -> Result<(), ValidationError> {
    if s.is_empty() {
        return Err(ValidationError::Empty);
    }
    for (i, &b) in s.iter().enumerate() {
        // esmtp-value = 1*(%d33-60 / %d62-126), UTF8-non-ascii per RFC 6531
        if !class(b, C_VALUE) {
            return Err(bad(s, i));
        }
    }
    Ok(())
}

string_newtype!(
    /// An ESMTP parameter value (RFC 5321 §4.1.2).
    ///
    /// ```text
    /// esmtp-value    = 1*(%d33-60 / %d62-126)
    /// ```
    EsmtpValue,
    check_esmtp_value
);

/// Whether the `+` at `plus` in `s` starts an xtext `hexchar` (RFC 3461
/// §4): two upper-case hex digits follow it.
pub(crate) fn is_hexchar(s: &[u8], plus: usize) -> bool {
    s.get(plus + 1..plus + 3).is_some_and(|h| {
        h.iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
    })
}

fn check_xtext(s: &[u8]) -> Result<(), ValidationError> {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'+' {
            if !is_hexchar(s, i) {
                return Err(bad(s, i));
            }
            i += 3;
        } else if class(b, C_XCHAR) {
            i += 1;
        } else {
            return Err(bad(s, i));
        }
    }
    Ok(())
}

string_newtype!(
    /// An RFC 3461 §4 `xtext` in its encoded form (used by ENVID, ORCPT and
    /// the MAIL AUTH parameter).
    ///
    /// ```text
    /// xtext   = *( xchar / hexchar )
    /// xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
    ///           except for "+" and "="
    /// hexchar = ASCII "+" immediately followed by two upper case hex digits
    /// ```
    XText,
    check_xtext
);

impl XText<'static> {
    /// Encodes arbitrary bytes as xtext.
    pub fn encode(raw: &[u8]) -> Self {
        let mut s = String::with_capacity(raw.len());
        for &b in raw {
            if (33..=126).contains(&b) && b != b'+' && b != b'=' {
                s.push(b as char);
            } else {
                s.push('+');
                s.push_str(&format!("{b:02X}"));
            }
        }
        XText(Cow::Owned(s))
    }
}

impl XText<'_> {
    /// Decodes the `+XX` escapes.
    pub fn decode(&self) -> Vec<u8> {
        let b = self.0.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'+' && i + 2 < b.len() + 1 {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                if let (Some(&h), Some(&l)) = (b.get(i + 1), b.get(i + 2)) {
                    out.push(hex(h) << 4 | hex(l));
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        out
    }
}

fn check_mechanism(s: &[u8]) -> Result<(), ValidationError> {
    if s.is_empty() {
        return Err(ValidationError::Empty);
    }
    if s.len() > 20 {
        return Err(ValidationError::TooLong {
            max: 20,
            len: s.len(),
        });
    }
    if let Some(i) = s.iter().position(|&b| !class(b, C_MECH)) {
        return Err(bad(s, i));
    }
    Ok(())
}

string_newtype!(
    /// A SASL mechanism name (RFC 4422 §3.1): 1 to 20 upper-case letters,
    /// digits, hyphens and underscores.
    ///
    /// ```text
    /// sasl-mech    = 1*20mech-char
    /// mech-char    = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE
    /// ```
    Mechanism,
    check_mechanism
);

fn check_base64_or_eq(s: &[u8]) -> Result<(), ValidationError> {
    if s == b"=" {
        return Ok(());
    }
    if s.is_empty() {
        return Err(ValidationError::Empty);
    }
    if let Some(i) = s.iter().position(|&b| !class(b, C_BASE64)) {
        return Err(bad(s, i));
    }
    Ok(())
}

/// An AUTH initial response (RFC 4954 §4): base64 or `=` for an empty one.
/// Its Debug output is redacted, since it usually carries a password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct InitialResponse<'a>(Cow<'a, str>);

impl<'a> InitialResponse<'a> {
    /// Checks `value`: base64 characters, or the single `=`.
    pub fn validate(value: impl AsRef<[u8]>) -> Result<(), ValidationError> {
        check_base64_or_eq(value.as_ref())
    }
    /// Builds from a base64 string, checking it.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
        let v = value.into();
        Self::validate(v.as_bytes())?;
        Ok(Self(v))
    }
    /// The base64 text as sent (the secret: handle with care).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> InitialResponse<'static> {
        InitialResponse(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Debug for InitialResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InitialResponse(<redacted>)")
    }
}

/// A mailbox `Local-part "@" ( Domain / address-literal )` (RFC 5321 §4.1.2).
/// The whole path including the angle brackets must fit in 256 octets
/// (§4.5.3.1.3).
///
/// It keeps its wire form `local@host` as one string and the index of the
/// `@` that separates the two parts: a parsed mailbox is one slice of the
/// command line, and [`Mailbox::local_part`] and [`Mailbox::host`] borrow
/// from it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mailbox<'a> {
    /// `local "@" host`, in wire form.
    addr: Cow<'a, str>,
    /// The index of the `@` between the local part and the host.
    at: usize,
}

impl<'a> Mailbox<'a> {
    /// Builds a mailbox from its two parts, checking the path length.
    /// Allocates the joined `local@host`.
    pub fn new(local: LocalPart<'_>, host: Host<'_>) -> Result<Self, ValidationError> {
        let len = local.0.len() + host.0.len() + 3;
        if len > MAX_PATH {
            return Err(ValidationError::TooLong { max: MAX_PATH, len });
        }
        let mut addr = String::with_capacity(len - 2);
        addr.push_str(&local.0);
        addr.push('@');
        addr.push_str(&host.0);
        Ok(Self {
            addr: Cow::Owned(addr),
            at: local.0.len(),
        })
    }
    /// Builds a mailbox from its wire form `addr`, whose `@` at index `at`
    /// separates a valid local part from a valid host, within the path
    /// length limit: the parser proved all of it. Debug builds still assert.
    #[inline(always)]
    pub(crate) fn from_wire(addr: &'a str, at: usize) -> Self {
        debug_assert!(addr.len() + 2 <= MAX_PATH);
        debug_assert!(addr.as_bytes().get(at) == Some(&b'@'));
        debug_assert!(LocalPart::validate(&addr.as_bytes()[..at]).is_ok());
        debug_assert!(Host::validate(&addr.as_bytes()[at + 1..]).is_ok());
        Self {
            addr: Cow::Borrowed(addr),
            at,
        }
    }
    /// The local part, in wire form.
    pub fn local_part(&self) -> LocalPart<'_> {
        LocalPart(Cow::Borrowed(self.addr.get(..self.at).unwrap_or("")))
    }
    /// The domain or address literal.
    pub fn host(&self) -> Host<'_> {
        Host(Cow::Borrowed(self.addr.get(self.at + 1..).unwrap_or("")))
    }
    /// The mailbox in wire form, `local@host` (without angle brackets).
    pub fn as_str(&self) -> &str {
        &self.addr
    }
    /// True when neither part contains non-ASCII (else SMTPUTF8 is needed,
    /// RFC 6531 §3.4).
    pub fn is_ascii(&self) -> bool {
        self.addr.is_ascii()
    }
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> Mailbox<'static> {
        Mailbox {
            addr: Cow::Owned(self.addr.into_owned()),
            at: self.at,
        }
    }
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.addr.as_bytes());
    }
}

impl fmt::Debug for Mailbox<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("local", &self.local_part())
            .field("host", &self.host())
            .finish()
    }
}

impl<'a> TryFrom<&'a str> for Mailbox<'a> {
    type Error = ValidationError;
    /// Parses `local@domain` (no angle brackets).
    fn try_from(s: &'a str) -> Result<Self, ValidationError> {
        let at = s.rfind('@').ok_or(ValidationError::Malformed)?;
        check_local_part(&s.as_bytes()[..at])?;
        check_host(&s.as_bytes()[at + 1..])?;
        let len = s.len() + 2;
        if len > MAX_PATH {
            return Err(ValidationError::TooLong { max: MAX_PATH, len });
        }
        Ok(Mailbox {
            addr: Cow::Borrowed(s),
            at,
        })
    }
}

impl TryFrom<String> for Mailbox<'static> {
    type Error = ValidationError;
    /// Parses `local@domain` (no angle brackets), keeping the string.
    fn try_from(s: String) -> Result<Self, ValidationError> {
        let at = Mailbox::try_from(s.as_str())?.at;
        Ok(Mailbox {
            addr: Cow::Owned(s),
            at,
        })
    }
}

impl fmt::Display for Mailbox<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr)
    }
}

/// The argument of `MAIL FROM:` (RFC 5321 §4.1.2 `Reverse-path`): a mailbox or
/// the null path `<>` used for bounces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath<'a> {
    /// `<>`
    Null,
    /// `<mailbox>`
    Mailbox(Mailbox<'a>),
}

impl ReversePath<'_> {
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> ReversePath<'static> {
        match self {
            ReversePath::Null => ReversePath::Null,
            ReversePath::Mailbox(m) => ReversePath::Mailbox(m.into_owned()),
        }
    }
    /// True when no part contains non-ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            ReversePath::Null => true,
            ReversePath::Mailbox(m) => m.is_ascii(),
        }
    }
}

/// The argument of `RCPT TO:` (RFC 5321 §4.1.1.3): a mailbox, or the special
/// `<Postmaster>` without a domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath<'a> {
    /// `<Postmaster>` (case-insensitive, no domain).
    Postmaster,
    /// `<mailbox>`
    Mailbox(Mailbox<'a>),
}

impl ForwardPath<'_> {
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> ForwardPath<'static> {
        match self {
            ForwardPath::Postmaster => ForwardPath::Postmaster,
            ForwardPath::Mailbox(m) => ForwardPath::Mailbox(m.into_owned()),
        }
    }
    /// True when no part contains non-ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            ForwardPath::Postmaster => true,
            ForwardPath::Mailbox(m) => m.is_ascii(),
        }
    }
}

impl fmt::Display for ForwardPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("Postmaster"),
            ForwardPath::Mailbox(m) => m.fmt(f),
        }
    }
}

/// An ESMTP parameter that mailwire does not model (RFC 5321 §4.1.2
/// `esmtp-param`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Parameter<'a> {
    /// The keyword.
    pub keyword: Keyword<'a>,
    /// The value after `=`, if any.
    pub value: Option<EsmtpValue<'a>>,
}

impl Parameter<'_> {
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> Parameter<'static> {
        Parameter {
            keyword: self.keyword.into_owned(),
            value: self.value.map(EsmtpValue::into_owned),
        }
    }
}

/// The `BODY=` parameter (RFC 6152 §2, RFC 3030 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyType {
    /// `7BIT`
    SevenBit,
    /// `8BITMIME`
    EightBitMime,
    /// `BINARYMIME` (needs BDAT, RFC 3030 §3)
    BinaryMime,
}

impl BodyType {
    /// The wire keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::SevenBit => "7BIT",
            BodyType::EightBitMime => "8BITMIME",
            BodyType::BinaryMime => "BINARYMIME",
        }
    }
}

/// The DSN `RET=` parameter (RFC 3461 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `FULL`: return the whole message in a failure DSN.
    Full,
    /// `HDRS`: return only the headers.
    Hdrs,
}

/// The DSN `NOTIFY=` parameter (RFC 3461 §4.1). All three false means `NEVER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Notify {
    /// `SUCCESS`
    pub success: bool,
    /// `FAILURE`
    pub failure: bool,
    /// `DELAY`
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`
    pub const NEVER: Notify = Notify {
        success: false,
        failure: false,
        delay: false,
    };
}

/// The DSN `ORCPT=` parameter (RFC 3461 §4.2): `addr-type ";" xtext`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Orcpt<'a> {
    /// The address type, usually `rfc822` (an atom).
    pub addr_type: Keyword<'a>,
    /// The original recipient, xtext-encoded.
    pub addr: XText<'a>,
}

/// The `MT-PRIORITY=` value (RFC 6710 §3): -9 (lowest) to 9 (highest),
/// 0 when a message has none.
///
/// On the wire (`priority-value`, RFC 6710 §3) it is an optional sign and a
/// single digit: `-4`, `0`, `+3` and `3` parse, `10`, `03` and `-` do not.
/// [`Display`](fmt::Display) writes the shortest form (`-4`, `0`, `3`), so
/// that parsing it gives the same value back. The same grammar is used by
/// the `MT-Priority:` header field (RFC 6710 §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Priority(i8);

impl Priority {
    /// The priority of a message that carries none (RFC 6710 §3).
    pub const NORMAL: Priority = Priority(0);

    /// Builds a priority, refusing values outside -9..=9.
    pub fn new(p: i8) -> Result<Self, ValidationError> {
        if (-9..=9).contains(&p) {
            Ok(Priority(p))
        } else {
            Err(ValidationError::OutOfRange)
        }
    }
    /// The value.
    pub fn get(self) -> i8 {
        self.0
    }
}

impl std::str::FromStr for Priority {
    type Err = ValidationError;

    /// Parses `priority-value = [ "+" / "-" ] DIGIT` (RFC 6710 §3).
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        let (neg, digits) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        match digits.as_bytes() {
            [d @ b'0'..=b'9'] => {
                let v = (d - b'0') as i8;
                Ok(Priority(if neg { -v } else { v }))
            }
            [] => Err(ValidationError::Empty),
            _ => Err(ValidationError::OutOfRange),
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Priority Assignment Policy a server names after its `MT-PRIORITY`
/// EHLO keyword (RFC 6710 §3 and the IANA registry of §10): which of the
/// ten priorities it distinguishes, and who may use which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriorityPolicy {
    /// `MIXER` (RFC 6710 Appendix A): the three levels of the X.400 /
    /// RFC 2156 `Priority:` field: non-urgent (-4), normal (0) and
    /// urgent (4).
    Mixer,
    /// `STANAG4406` (RFC 6710 Appendix B): the six military precedences,
    /// deferred (-4), routine (-2), priority (0), immediate (2), flash (4)
    /// and override (6).
    Stanag4406,
    /// `NSEP` (RFC 6710 Appendix C): the National Security / Emergency
    /// Preparedness levels.
    Nsep,
}

impl PriorityPolicy {
    /// The name as it appears in the EHLO reply.
    pub fn as_str(self) -> &'static str {
        match self {
            PriorityPolicy::Mixer => "MIXER",
            PriorityPolicy::Stanag4406 => "STANAG4406",
            PriorityPolicy::Nsep => "NSEP",
        }
    }
}

/// The `BY=` parameter of DELIVERBY (RFC 2852 §4): `time ";" mode [ "T" ]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliverBy {
    /// Seconds, -999999999 to 999999999.
    pub time: i32,
    /// `true` for mode `R` (return), `false` for `N` (notify).
    pub ret: bool,
    /// The trace modifier `T`.
    pub trace: bool,
}

/// Parameters of `MAIL FROM:` (RFC 5321 §4.1.1.2 and its extensions).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailParams<'a> {
    /// `SIZE=` (RFC 1870 §3): the declared message size in octets.
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152, RFC 3030).
    pub body: Option<BodyType>,
    /// `SMTPUTF8` (RFC 6531 §3.4).
    pub smtputf8: bool,
    /// `RET=` (RFC 3461 §4.3).
    pub ret: Option<Ret>,
    /// `ENVID=` (RFC 3461 §4.4).
    pub envid: Option<XText<'a>>,
    /// `AUTH=` (RFC 4954 §5): xtext mailbox or `<>`.
    pub auth: Option<XText<'a>>,
    /// `REQUIRETLS` (RFC 8689 §4.1).
    pub requiretls: bool,
    /// `MT-PRIORITY=` (RFC 6710).
    pub mt_priority: Option<Priority>,
    /// `BY=` (RFC 2852).
    pub by: Option<DeliverBy>,
    /// Anything else, in the order received (a boxed slice: no allocation
    /// when empty, and 8 octets smaller than a `Vec` in every command).
    pub other: Box<[Parameter<'a>]>,
}

impl MailParams<'_> {
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> MailParams<'static> {
        MailParams {
            size: self.size,
            body: self.body,
            smtputf8: self.smtputf8,
            ret: self.ret,
            envid: self.envid.map(XText::into_owned),
            auth: self.auth.map(XText::into_owned),
            requiretls: self.requiretls,
            mt_priority: self.mt_priority,
            by: self.by,
            other: self.other.into_iter().map(Parameter::into_owned).collect(),
        }
    }
}

/// Parameters of `RCPT TO:` (RFC 5321 §4.1.1.3 and RFC 3461 §4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcptParams<'a> {
    /// `NOTIFY=` (RFC 3461 §4.1).
    pub notify: Option<Notify>,
    /// `ORCPT=` (RFC 3461 §4.2).
    pub orcpt: Option<Orcpt<'a>>,
    /// Anything else, in the order received (a boxed slice: no allocation
    /// when empty, and 8 octets smaller than a `Vec` in every command).
    pub other: Box<[Parameter<'a>]>,
}

impl RcptParams<'_> {
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> RcptParams<'static> {
        RcptParams {
            notify: self.notify,
            orcpt: self.orcpt.map(|o| Orcpt {
                addr_type: o.addr_type.into_owned(),
                addr: o.addr.into_owned(),
            }),
            other: self.other.into_iter().map(Parameter::into_owned).collect(),
        }
    }
}

/// An SMTP command (RFC 5321 §4.1.1, RFC 3030, RFC 3207, RFC 4954).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `HELO SP Domain`
    Helo(Host<'a>),
    /// `EHLO SP ( Domain / address-literal )`
    Ehlo(Host<'a>),
    /// `MAIL FROM:<reverse-path> [SP params]`
    Mail(ReversePath<'a>, MailParams<'a>),
    /// `RCPT TO:<forward-path> [SP params]`
    Rcpt(ForwardPath<'a>, RcptParams<'a>),
    /// `DATA`
    Data,
    /// `BDAT SP chunk-size [SP "LAST"]` (RFC 3030 §2).
    Bdat {
        /// Octets that follow the command line.
        size: u64,
        /// The `LAST` marker.
        last: bool,
    },
    /// `RSET`
    Rset,
    /// `VRFY SP String`
    Vrfy(Text<'a>),
    /// `EXPN SP String`
    Expn(Text<'a>),
    /// `HELP [SP String]`
    Help(Option<Text<'a>>),
    /// `NOOP [SP String]`
    Noop(Option<Text<'a>>),
    /// `QUIT`
    Quit,
    /// `STARTTLS` (RFC 3207 §4)
    StartTls,
    /// `AUTH SP mechanism [SP initial-response]` (RFC 4954 §4)
    Auth(Mechanism<'a>, Option<InitialResponse<'a>>),
}

impl Command<'_> {
    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> Command<'static> {
        match self {
            Command::Helo(h) => Command::Helo(h.into_owned()),
            Command::Ehlo(h) => Command::Ehlo(h.into_owned()),
            Command::Mail(p, m) => Command::Mail(p.into_owned(), m.into_owned()),
            Command::Rcpt(p, m) => Command::Rcpt(p.into_owned(), m.into_owned()),
            Command::Data => Command::Data,
            Command::Bdat { size, last } => Command::Bdat { size, last },
            Command::Rset => Command::Rset,
            Command::Vrfy(t) => Command::Vrfy(t.into_owned()),
            Command::Expn(t) => Command::Expn(t.into_owned()),
            Command::Help(t) => Command::Help(t.map(Text::into_owned)),
            Command::Noop(t) => Command::Noop(t.map(Text::into_owned)),
            Command::Quit => Command::Quit,
            Command::StartTls => Command::StartTls,
            Command::Auth(m, i) => {
                Command::Auth(m.into_owned(), i.map(InitialResponse::into_owned))
            }
        }
    }

    /// The verb, upper case.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Helo(_) => "HELO",
            Command::Ehlo(_) => "EHLO",
            Command::Mail(..) => "MAIL",
            Command::Rcpt(..) => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::Noop(_) => "NOOP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth(..) => "AUTH",
        }
    }
}

/// A three-digit reply code (RFC 5321 §4.2): first digit 2-5, second 0-5,
/// third 0-9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// Builds a code, checking RFC 5321 §4.2's `Reply-code` digits
    /// (`%x32-35 %x30-35 %x30-39`).
    pub const fn new(code: u16) -> Result<Self, ValidationError> {
        let (a, b) = (code / 100, (code / 10) % 10);
        if a >= 2 && a <= 5 && b <= 5 {
            Ok(ReplyCode(code))
        } else {
            Err(ValidationError::OutOfRange)
        }
    }
    /// The number.
    pub const fn get(self) -> u16 {
        self.0
    }
    /// 2yz: positive completion.
    pub const fn is_positive(self) -> bool {
        self.0 / 100 == 2
    }
    /// 3yz: positive intermediate (354, 334).
    pub const fn is_intermediate(self) -> bool {
        self.0 / 100 == 3
    }
    /// 4yz: transient negative.
    pub const fn is_transient(self) -> bool {
        self.0 / 100 == 4
    }
    /// 5yz: permanent negative.
    pub const fn is_permanent(self) -> bool {
        self.0 / 100 == 5
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An enhanced status code `class.subject.detail` (RFC 3463 §2, RFC 2034).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2, 4 or 5.
    pub class: u8,
    /// 0-999.
    pub subject: u16,
    /// 0-999.
    pub detail: u16,
}

impl EnhancedCode {
    /// Builds a code, checking its ranges.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Result<Self, ValidationError> {
        if (class == 2 || class == 4 || class == 5) && subject <= 999 && detail <= 999 {
            Ok(EnhancedCode {
                class,
                subject,
                detail,
            })
        } else {
            Err(ValidationError::OutOfRange)
        }
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// Appends one reply line, `code [SP / "-"] [enhanced SP] text CRLF`, to
/// `out`, after checking that `text` holds no CR, LF or NUL (on error
/// nothing is appended). No allocation: the digits are written directly.
pub(crate) fn encode_reply_line(
    out: &mut Vec<u8>,
    code: ReplyCode,
    enhanced: Option<EnhancedCode>,
    text: &str,
    last: bool,
) -> Result<(), ValidationError> {
    check_text(text.as_bytes())?;
    push_digits(out, code.0, 3);
    out.push(if last { b' ' } else { b'-' });
    if let Some(e) = enhanced {
        out.push(b'0' + e.class);
        out.push(b'.');
        push_digits(out, e.subject, 0);
        out.push(b'.');
        push_digits(out, e.detail, 0);
        if !text.is_empty() {
            out.push(b' ');
        }
    }
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends `n` (at most 999) in decimal, zero-padded to `width` digits.
fn push_digits(out: &mut Vec<u8>, n: u16, width: usize) {
    let d = [(n / 100 % 10) as u8, (n / 10 % 10) as u8, (n % 10) as u8];
    let len = if n >= 100 {
        3
    } else if n >= 10 {
        2
    } else {
        1
    };
    let start = 3 - len.max(width).min(3);
    for &x in &d[start..] {
        out.push(b'0' + x);
    }
}

/// An SMTP reply (RFC 5321 §4.2), possibly multi-line, with the RFC 2034
/// enhanced status code of its first line when there is one.
///
/// It keeps its wire form (`Cow<[u8]>`): a parsed reply borrows the input,
/// and encoding is a copy. [`Reply::lines`] gives the text of each line.
///
/// ```text
/// Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
///                  Reply-code [ SP textstring ] CRLF
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reply<'a> {
    code: ReplyCode,
    enhanced: Option<EnhancedCode>,
    raw: Cow<'a, [u8]>,
}

impl<'a> Reply<'a> {
    /// Builds a reply. Each element of `lines` becomes one reply line; when
    /// `enhanced` is given it prefixes every line (RFC 2034 §3). An empty
    /// `lines` gives one line with just the code.
    pub fn new<S: AsRef<str>>(
        code: ReplyCode,
        enhanced: Option<EnhancedCode>,
        lines: &[S],
    ) -> Result<Reply<'static>, ValidationError> {
        let mut raw =
            Vec::with_capacity(16 + lines.iter().map(|l| l.as_ref().len() + 16).sum::<usize>());
        let n = lines.len().max(1);
        for i in 0..n {
            let text = lines.get(i).map(|s| s.as_ref()).unwrap_or("");
            encode_reply_line(&mut raw, code, enhanced, text, i + 1 == n)?;
        }
        Ok(Reply {
            code,
            enhanced,
            raw: Cow::Owned(raw),
        })
    }

    /// A reply whose wire form is a constant, e.g. `250 2.1.0 OK\r\n`.
    /// Debug builds check that `raw` is one well-formed line with this code.
    pub(crate) fn from_static(
        code: ReplyCode,
        enhanced: Option<EnhancedCode>,
        raw: &'static [u8],
    ) -> Reply<'static> {
        debug_assert!(raw.starts_with(code.0.to_string().as_bytes()) && raw.ends_with(b"\r\n"));
        debug_assert!(check_text(&raw[..raw.len() - 2]).is_ok());
        Reply {
            code,
            enhanced,
            raw: Cow::Borrowed(raw),
        }
    }

    /// Builds from a code and one line of text. Panics never; refuses CR, LF
    /// and NUL in the text.
    pub fn single(
        code: u16,
        enhanced: Option<(u8, u16, u16)>,
        text: &str,
    ) -> Result<Reply<'static>, ValidationError> {
        let code = ReplyCode::new(code)?;
        let enhanced = match enhanced {
            Some((c, s, d)) => Some(EnhancedCode::new(c, s, d)?),
            None => None,
        };
        Reply::new(code, enhanced, &[text])
    }

    /// `451 internal error`: a constant fallback that needs no validation.
    pub(crate) fn internal_error() -> Reply<'static> {
        Reply {
            code: ReplyCode(451),
            enhanced: None,
            raw: Cow::Borrowed(b"451 internal error\r\n"),
        }
    }

    /// Used by the parser, which has proved `raw` is a well-formed reply.
    pub(crate) fn from_parts(
        code: ReplyCode,
        enhanced: Option<EnhancedCode>,
        raw: &'a [u8],
    ) -> Self {
        Reply {
            code,
            enhanced,
            raw: Cow::Borrowed(raw),
        }
    }

    /// The reply code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// The enhanced status code of the first line, if any.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The wire form, CRLF included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The text of each line, without the code, the separator, the enhanced
    /// code (when the reply has one) and the CRLF.
    pub fn lines(&self) -> impl Iterator<Item = &str> + '_ {
        let has_enh = self.enhanced.is_some();
        self.raw
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(move |l| {
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                let mut t = l.get(4..).unwrap_or(b"");
                if has_enh {
                    if let Some(sp) = t.iter().position(|&b| b == b' ') {
                        if crate::parse::enhanced_code(&t[..sp]).is_some() {
                            t = &t[sp + 1..];
                        }
                    } else if crate::parse::enhanced_code(t).is_some() {
                        t = b"";
                    }
                }
                std::str::from_utf8(t).unwrap_or("")
            })
    }

    /// All lines joined with a space (handy for messages and logs).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for (i, l) in self.lines().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(l);
        }
        s
    }

    /// Detaches the value from the input it borrows from.
    pub fn into_owned(self) -> Reply<'static> {
        Reply {
            code: self.code,
            enhanced: self.enhanced,
            raw: Cow::Owned(self.raw.into_owned()),
        }
    }
}

impl fmt::Debug for Reply<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("code", &self.code.0)
            .field("enhanced", &self.enhanced)
            .field("raw", &String::from_utf8_lossy(&self.raw))
            .finish()
    }
}

impl fmt::Display for Reply<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        let t = self.text();
        if !t.is_empty() {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}

/// The SASL mechanisms of an EHLO `AUTH` line (RFC 4954 §3).
///
/// The mechanisms `mailwire-sasl` implements are a bit set (no allocation
/// however many a server lists); any other name is kept, upper-cased, in
/// [`AuthMechanisms::others`], borrowed from the reply when it already is
/// upper case. Names are compared without regard to case, and listed once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthMechanisms<'a> {
    known: u32,
    // Boxed: other names are rare, and a 16-byte value keeps
    // [`Capabilities`] (returned by value from every EHLO parse) small
    // enough to be moved without a call to `memcpy`. Never `Some` of an
    // empty list, so the derived `PartialEq` holds. The extra allocation
    // clippy warns of is the trade: one only when a server lists a name
    // outside the bit set.
    #[allow(clippy::box_collection)]
    others: Option<Box<Vec<Cow<'a, str>>>>,
}

/// The bit of a mechanism in [`AuthMechanisms::known`]; `None` for a
/// variant added to `mailwire-sasl` after this crate (kept by name).
pub(crate) const fn mechanism_bit(m: mailwire_sasl::Mechanism) -> Option<u32> {
    use mailwire_sasl::Mechanism as M;
    Some(match m {
        M::ScramSha256 => 1 << 0,
        M::ScramSha1 => 1 << 1,
        M::CramMd5 => 1 << 2,
        M::OAuthBearer => 1 << 3,
        M::XOAuth2 => 1 << 4,
        M::Plain => 1 << 5,
        M::Login => 1 << 6,
        M::External => 1 << 7,
        _ => return None,
    })
}

impl<'a> AuthMechanisms<'a> {
    /// No mechanism.
    pub const fn new() -> Self {
        AuthMechanisms {
            known: 0,
            others: None,
        }
    }

    /// True when no mechanism is listed.
    pub fn is_empty(&self) -> bool {
        self.known == 0 && self.others().is_empty()
    }

    /// How many mechanisms are listed.
    pub fn len(&self) -> usize {
        self.known.count_ones() as usize + self.others().len()
    }

    /// True when `m` is listed.
    pub fn contains(&self, m: mailwire_sasl::Mechanism) -> bool {
        match mechanism_bit(m) {
            Some(b) => self.known & b != 0,
            None => self.contains_other(m.name().as_bytes()),
        }
    }

    fn contains_other(&self, name: &[u8]) -> bool {
        self.others()
            .iter()
            .any(|o| o.as_bytes().eq_ignore_ascii_case(name))
    }

    /// True when a mechanism of this name is listed (ASCII case ignored).
    pub fn contains_name(&self, name: &str) -> bool {
        match mailwire_sasl::Mechanism::from_name(name.as_bytes()) {
            Some(m) => self.contains(m),
            None => self.contains_other(name.as_bytes()),
        }
    }

    /// Adds `m` (once).
    pub fn insert(&mut self, m: mailwire_sasl::Mechanism) {
        match mechanism_bit(m) {
            Some(b) => self.known |= b,
            None => self.insert_other(Cow::Borrowed(m.name())),
        }
    }

    /// Adds a mechanism by name (once; ASCII case ignored). An unknown name
    /// is kept upper-cased. The name is not checked against the RFC 4422
    /// §3.1 syntax here; [`Capabilities::to_lines`] sends it as it is.
    pub fn insert_name(&mut self, name: Cow<'a, str>) {
        match mailwire_sasl::Mechanism::from_name(name.as_bytes()) {
            Some(m) => self.insert(m),
            None => self.insert_other(name),
        }
    }

    /// Adds an unknown name unless already listed, upper-casing it (the
    /// name stays borrowed when it already is upper case).
    pub(crate) fn insert_other(&mut self, name: Cow<'a, str>) {
        if self.contains_other(name.as_bytes()) {
            return;
        }
        let name = if name.bytes().any(|b| b.is_ascii_lowercase()) {
            Cow::Owned(name.to_ascii_uppercase())
        } else {
            name
        };
        self.others.get_or_insert_default().push(name);
    }

    /// Adds the bits of `bits` (used by the parser).
    pub(crate) fn insert_bits(&mut self, bits: u32) {
        self.known |= bits;
    }

    /// The listed mechanisms `mailwire-sasl` implements, best first
    /// ([`mailwire_sasl::Mechanism::PREFERENCE`]).
    pub fn known(&self) -> impl Iterator<Item = mailwire_sasl::Mechanism> + '_ {
        mailwire_sasl::Mechanism::PREFERENCE
            .into_iter()
            .filter(|m| mechanism_bit(*m).is_some_and(|b| self.known & b != 0))
    }

    /// The other names, upper case, in the order the server listed them.
    pub fn others(&self) -> &[Cow<'a, str>] {
        self.others.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Every name: the known mechanisms best first, then the others.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.known()
            .map(|m| -> &str { m.name() })
            .chain(self.others().iter().map(|o| o.as_ref()))
    }

    /// Detaches the value from the reply it borrows from.
    pub fn into_owned(self) -> AuthMechanisms<'static> {
        AuthMechanisms {
            known: self.known,
            others: self
                .others
                .map(|v| Box::new(v.into_iter().map(|o| Cow::Owned(o.into_owned())).collect())),
        }
    }
}

impl FromIterator<mailwire_sasl::Mechanism> for AuthMechanisms<'_> {
    fn from_iter<I: IntoIterator<Item = mailwire_sasl::Mechanism>>(iter: I) -> Self {
        let mut set = AuthMechanisms::new();
        for m in iter {
            set.insert(m);
        }
        set
    }
}

/// An EHLO keyword this crate does not interpret, with its parameters
/// (RFC 5321 §4.1.1.1 `ehlo-line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The keyword, upper case.
    pub keyword: Cow<'a, str>,
    /// What follows the keyword and its space, verbatim (empty when
    /// nothing does); [`Extension::words`] splits it.
    pub params: Cow<'a, str>,
}

impl<'a> Extension<'a> {
    /// The parameters, split at spaces (`ehlo-param` values, RFC 5321
    /// §4.1.1.1), empty pieces skipped.
    pub fn words(&self) -> impl Iterator<Item = &str> + '_ {
        self.params.split(' ').filter(|w| !w.is_empty())
    }

    /// Detaches the value from the reply it borrows from.
    pub fn into_owned(self) -> Extension<'static> {
        Extension {
            keyword: Cow::Owned(self.keyword.into_owned()),
            params: Cow::Owned(self.params.into_owned()),
        }
    }
}

/// The limits a server announces after the `LIMITS` EHLO keyword (RFC
/// 9422): what it intends to apply for the rest of the session, so that a
/// client keeps within them instead of meeting refusals. A limit the server
/// does not name, or names with a value that is not a positive decimal
/// number (RFC 9422 has a client ignore a limit it cannot use), is `None`;
/// so are limits of names this type does not know.
///
/// ```
/// use mailwire_smtp::Limits;
///
/// // RFC 9422's syntax: names in any case, an optional "=value" each.
/// let l = Limits::parse(b"MAILMAX=1000 rcptmax=50 X-OTHER RCPTDOMAINMAX=oops");
/// assert_eq!(l.mailmax.map(|n| n.get()), Some(1000));
/// assert_eq!(l.rcptmax.map(|n| n.get()), Some(50));
/// assert_eq!(l.rcptdomainmax, None);
/// assert_eq!(l.to_string(), "MAILMAX=1000 RCPTMAX=50");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Limits {
    /// `MAILMAX`: the mail transactions (MAIL commands) the server takes
    /// in one session; a client with more opens another session.
    pub mailmax: Option<NonZeroU32>,
    /// `RCPTMAX`: the RCPT commands the server takes in one transaction,
    /// refused ones included (a pipelining client cannot count only the
    /// accepted ones); a client with more recipients sends them in more
    /// transactions.
    pub rcptmax: Option<NonZeroU32>,
    /// `RCPTDOMAINMAX`: the different domains the recipients of one
    /// transaction may have.
    pub rcptdomainmax: Option<NonZeroU32>,
}

impl Limits {
    /// No limits: the server named none.
    pub const NONE: Limits = Limits {
        mailmax: None,
        rcptmax: None,
        rcptdomainmax: None,
    };

    /// Limits with these values.
    pub const fn new(
        mailmax: Option<NonZeroU32>,
        rcptmax: Option<NonZeroU32>,
        rcptdomainmax: Option<NonZeroU32>,
    ) -> Limits {
        Limits {
            mailmax,
            rcptmax,
            rcptdomainmax,
        }
    }

    /// The limits in the parameter of a `LIMITS` EHLO line (RFC 9422:
    /// `limit-name ["=" limit-value]`, separated by spaces). Never fails:
    /// what it cannot read it leaves out.
    pub fn parse(params: &[u8]) -> Limits {
        let mut l = Limits::NONE;
        for item in params.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            let (name, value) = match item.iter().position(|&b| b == b'=') {
                Some(eq) => (&item[..eq], &item[eq + 1..]),
                None => continue,
            };
            let slot = if name.eq_ignore_ascii_case(b"MAILMAX") {
                &mut l.mailmax
            } else if name.eq_ignore_ascii_case(b"RCPTMAX") {
                &mut l.rcptmax
            } else if name.eq_ignore_ascii_case(b"RCPTDOMAINMAX") {
                &mut l.rcptdomainmax
            } else {
                continue;
            };
            *slot = positive(value);
        }
        l
    }

    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Limits::NONE
    }
}

/// A positive decimal number that fits a `u32`.
fn positive(digits: &[u8]) -> Option<NonZeroU32> {
    crate::parse::digits_u64(digits)
        .and_then(|n| u32::try_from(n).ok())
        .and_then(NonZeroU32::new)
}

/// The parameter of the `LIMITS` line: the set limits as `NAME=value`,
/// separated by spaces (empty when none is set).
impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for (name, v) in [
            ("MAILMAX", self.mailmax),
            ("RCPTMAX", self.rcptmax),
            ("RCPTDOMAINMAX", self.rcptdomainmax),
        ] {
            if let Some(v) = v {
                write!(f, "{sep}{name}={v}")?;
                sep = " ";
            }
        }
        Ok(())
    }
}

/// What a server offers in its EHLO reply (RFC 5321 §4.1.1.1 and the
/// extension RFCs). Unknown keywords are kept in `other`.
///
/// A parsed value borrows from the reply ([`Capabilities::from_ehlo`]
/// allocates only for names it must upper-case or repair, and for the list
/// of unknown keywords); [`Capabilities::into_owned`] detaches it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities<'a> {
    /// The domain on the first line (invalid UTF-8 replaced by U+FFFD).
    pub domain: Cow<'a, str>,
    /// `PIPELINING` (RFC 2920).
    pub pipelining: bool,
    /// `SIZE [n]` (RFC 1870): `Some(0)` means no fixed limit.
    pub size: Option<u64>,
    /// `8BITMIME` (RFC 6152).
    pub eightbitmime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// `AUTH mech...` (RFC 4954).
    pub auth: AuthMechanisms<'a>,
    /// `DSN` (RFC 3461).
    pub dsn: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub enhanced_status_codes: bool,
    /// `CHUNKING` (RFC 3030).
    pub chunking: bool,
    /// `BINARYMIME` (RFC 3030).
    pub binarymime: bool,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// `MT-PRIORITY` (RFC 6710).
    pub mt_priority: bool,
    /// The Priority Assignment Policy named after `MT-PRIORITY`, if any
    /// (RFC 6710 §3; upper case, as received otherwise).
    pub mt_priority_policy: Option<Cow<'a, str>>,
    /// `DELIVERBY` (RFC 2852).
    pub deliverby: bool,
    /// Other keywords with their parameters, in the order received.
    pub other: Vec<Extension<'a>>,
}

impl Capabilities<'_> {
    /// True when `AUTH` lists `mech` (case-insensitive).
    pub fn has_auth(&self, mech: &str) -> bool {
        self.auth.contains_name(mech)
    }

    /// The limits of the `LIMITS` line (RFC 9422), read from `other`
    /// (kept there, as its parameter came, so that the reply's value stays
    /// small); [`Limits::NONE`] when the server offers no such line.
    pub fn limits(&self) -> Limits {
        self.other
            .iter()
            .find(|e| e.keyword.eq_ignore_ascii_case("LIMITS"))
            .map_or(Limits::NONE, |e| Limits::parse(e.params.as_bytes()))
    }

    /// Detaches the value from the reply it borrows from.
    pub fn into_owned(self) -> Capabilities<'static> {
        Capabilities {
            domain: Cow::Owned(self.domain.into_owned()),
            pipelining: self.pipelining,
            size: self.size,
            eightbitmime: self.eightbitmime,
            smtputf8: self.smtputf8,
            starttls: self.starttls,
            auth: self.auth.into_owned(),
            dsn: self.dsn,
            enhanced_status_codes: self.enhanced_status_codes,
            chunking: self.chunking,
            binarymime: self.binarymime,
            requiretls: self.requiretls,
            mt_priority: self.mt_priority,
            mt_priority_policy: self.mt_priority_policy.map(|p| Cow::Owned(p.into_owned())),
            deliverby: self.deliverby,
            other: self.other.into_iter().map(Extension::into_owned).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        /// The branch-free domain check agrees with the byte-by-byte one
        /// on strings made of the bytes that matter (letters, digits,
        /// UTF-8, `-`, `.`, and a few that are never allowed).
        #[test]
        fn domain_ok_matches_byte_by_byte(
            s in proptest::collection::vec(
                prop_oneof![
                    Just(b'a'), Just(b'Z'),
                    Just(b'7'), Just(b'-'),
                    Just(b'.'), Just(0xc3u8),
                    Just(b'_'), Just(b' '),
                    Just(b'['), any::<u8>(),
                ],
                0..270,
            )
        ) {
            prop_assert_eq!(domain_ok(&s), domain_error(&s).is_ok());
        }

        /// The same on domains of the usual shape (most of them valid),
        /// each also with one byte changed.
        #[test]
        fn domain_ok_matches_on_real_shapes(
            d in "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-zA-Z0-9]([a-z0-9-]{0,6}[a-z0-9])?){0,4}",
            at in 0usize..40,
            to in prop_oneof![
                Just(b'-'), Just(b'.'),
                Just(b'x'), Just(b'_'),
            ],
        ) {
            let mut s = d.into_bytes();
            prop_assert_eq!(domain_ok(&s), domain_error(&s).is_ok());
            prop_assert!(domain_ok(&s));
            if let Some(b) = s.get_mut(at) {
                *b = to;
            }
            prop_assert_eq!(domain_ok(&s), domain_error(&s).is_ok());
        }
    }

    proptest! {
        // The allocation-free line encoder writes what `format!` would.
        #[test]
        fn encode_reply_line_matches_format(
            code in 200u16..600,
            enh in proptest::option::of((prop_oneof![Just(2u8), Just(4), Just(5)], 0u16..1000, 0u16..1000)),
            text in "[ -~]{0,20}",
            last in any::<bool>(),
        ) {
            prop_assume!(ReplyCode::new(code).is_ok());
            let code = ReplyCode::new(code).unwrap();
            let enh = enh.map(|(c, s, d)| EnhancedCode::new(c, s, d).unwrap());
            let mut out = Vec::new();
            encode_reply_line(&mut out, code, enh, &text, last).unwrap();
            let sep = if last { ' ' } else { '-' };
            let want = match enh {
                Some(e) if text.is_empty() => format!("{code}{sep}{e}\r\n"),
                Some(e) => format!("{code}{sep}{e} {text}\r\n"),
                None => format!("{code}{sep}{text}\r\n"),
            };
            prop_assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    proptest! {
        // The dotted-quad fast path agrees with the standard library.
        #[test]
        fn dotted_quad_matches_std(s in "[0-9.]{0,18}") {
            let want = s.parse::<std::net::Ipv4Addr>().is_ok();
            if !s.is_empty() {
                prop_assert_eq!(dotted_quad(s.as_bytes()), Some(want));
            }
            let lit = format!("[{s}]");
            prop_assert_eq!(check_address_literal(lit.as_bytes()).is_ok(), want);
        }
    }

    /// Each class bit holds exactly for the bytes of its rule.
    #[test]
    fn class_bits_match_their_rules() {
        for b in 0..=255u8 {
            let alnum = b.is_ascii_alphanumeric();
            assert_eq!(class(b, C_KEYWORD), alnum || b == b'-', "{b}");
            assert_eq!(
                class(b, C_BASE64),
                alnum || b == b'+' || b == b'/' || b == b'=',
                "{b}"
            );
            assert_eq!(
                class(b, C_MECH),
                b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_',
                "{b}"
            );
        }
    }

    #[test]
    fn dotted_quad_edges() {
        for (s, ok) in [
            ("0.0.0.0", true),
            ("255.255.255.255", true),
            ("256.1.1.1", false),
            ("01.1.1.1", false),
            ("1.1.1", false),
            ("1.1.1.1.1", false),
            ("1..1.1", false),
            ("192.0.2.17", true),
            ("1234.1.1.1", false),
        ] {
            assert_eq!(dotted_quad(s.as_bytes()), Some(ok), "{s}");
            assert_eq!(s.parse::<std::net::Ipv4Addr>().is_ok(), ok, "{s}");
        }
        assert_eq!(dotted_quad(b"IPv6:::1"), None);
    }

    // `ehlo_frame` returns `Capabilities` by value; at 136 bytes and more
    // each move of the result was a call to `memcpy` (measured 1-2% of an
    // EHLO parse).
    #[test]
    fn capabilities_stay_small() {
        assert!(std::mem::size_of::<AuthMechanisms<'static>>() <= 16);
        assert!(std::mem::size_of::<Capabilities<'static>>() <= 120);
    }

    #[test]
    fn auth_mechanisms_others_round_trip() {
        let mut a = AuthMechanisms::new();
        assert!(a.others().is_empty());
        a.insert_name(Cow::Borrowed("x-Foo"));
        a.insert_name(Cow::Borrowed("X-FOO"));
        a.insert(mailwire_sasl::Mechanism::Plain);
        assert_eq!(a.others(), ["X-FOO"]);
        assert_eq!(a.len(), 2);
        assert!(a.contains_name("x-foo"));
        let owned = a.clone().into_owned();
        assert_eq!(owned, a);
        assert_eq!(AuthMechanisms::new().into_owned(), AuthMechanisms::new());
    }

    #[test]
    fn encode_reply_line_refuses_cr_lf_nul() {
        let code = ReplyCode::new(250).unwrap();
        for bad in ["a\rb", "a\nb", "a\0b"] {
            let mut out = Vec::new();
            assert!(encode_reply_line(&mut out, code, None, bad, true).is_err());
            assert!(out.is_empty());
        }
    }
}

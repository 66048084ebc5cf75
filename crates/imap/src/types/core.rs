//! Strings, atoms and tags (RFC 3501 §4, RFC 9051 §4).

use std::borrow::Cow;
use std::fmt;

/// A value was refused at construction: it names the offending byte and its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The value is empty where at least one byte is required.
    #[error("{what} must not be empty")]
    Empty {
        /// What was being built.
        what: &'static str,
    },
    /// A byte is not allowed in this kind of value.
    #[error("{what}: byte 0x{byte:02x} at index {index} is not allowed")]
    InvalidByte {
        /// What was being built.
        what: &'static str,
        /// The offending byte.
        byte: u8,
        /// Its index in the value.
        index: usize,
    },
}

/// `ATOM-CHAR`: any CHAR except atom-specials (RFC 3501 §9).
#[inline]
pub(crate) const fn is_atom_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`.
#[inline]
pub(crate) const fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `TEXT-CHAR`: any CHAR except CR and LF (we also refuse NUL).
#[inline]
pub(crate) const fn is_text_char(b: u8) -> bool {
    !matches!(b, b'\r' | b'\n' | 0)
}

/// A byte of an RFC 8474 `objectid`: `ALPHA / DIGIT / "_" / "-"` (§7).
#[inline]
pub(crate) const fn is_object_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The longest `objectid` RFC 8474 allows, in bytes (§7: `1*255`).
pub(crate) const MAX_OBJECT_ID: usize = 255;

/// Whether `id` is an object identifier of the OBJECTID extension (RFC 8474
/// §7): `objectid = 1*255(ALPHA / DIGIT / "_" / "-")`, the form of a
/// MAILBOXID (§4), an EMAILID (§5.1) and a THREADID (§5.2). Case is
/// significant: `M1a` and `m1A` are different identifiers.
///
/// Every objectid is a valid [`Atom`]; the reverse is not true. The
/// OBJECTID values of this crate ([`Code::MailboxId`],
/// [`StatusItem::MailboxId`], [`FetchItem::EmailId`],
/// [`FetchItem::ThreadId`], [`SearchKey::EmailId`],
/// [`SearchKey::ThreadId`]) hold an `Atom`: a server must put a valid
/// objectid in them (check with this function), because the parser refuses
/// any other.
///
/// ```
/// use mailwire_imap::is_object_id;
///
/// assert!(is_object_id(b"F2212ea87-6097-4256-9d51-71338625"));
/// assert!(is_object_id(b"M6d99ac3275bb4e"));
/// assert!(is_object_id(b"_"));
/// assert!(is_object_id(&[b'a'; 255]));
/// assert!(!is_object_id(&[b'a'; 256]));
/// assert!(!is_object_id(b""));
/// assert!(!is_object_id(b"M6d99.ac32")); // an atom, but not an objectid
/// assert!(!is_object_id(b"abc="));
/// assert!(!is_object_id(b"a b"));
/// ```
///
/// [`Code::MailboxId`]: crate::Code::MailboxId
/// [`StatusItem::MailboxId`]: crate::StatusItem::MailboxId
/// [`FetchItem::EmailId`]: crate::FetchItem::EmailId
/// [`FetchItem::ThreadId`]: crate::FetchItem::ThreadId
/// [`SearchKey::EmailId`]: crate::SearchKey::EmailId
/// [`SearchKey::ThreadId`]: crate::SearchKey::ThreadId
pub fn is_object_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_OBJECT_ID && id.iter().all(|&b| is_object_id_char(b))
}

fn check(what: &'static str, v: &[u8], ok: impl Fn(u8) -> bool) -> Result<(), ValidationError> {
    if v.is_empty() {
        return Err(ValidationError::Empty { what });
    }
    match v.iter().position(|&b| !ok(b)) {
        Some(index) => Err(ValidationError::InvalidByte {
            what,
            byte: v[index],
            index,
        }),
        None => Ok(()),
    }
}

macro_rules! str_newtype {
    ($(#[$m:meta])* $name:ident, $what:literal, $ok:expr) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name<'a>(Cow<'a, str>);

        impl<'a> $name<'a> {
            /// Checks `value` against the grammar and wraps it.
            pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, ValidationError> {
                let value = value.into();
                check($what, value.as_bytes(), $ok)?;
                Ok(Self(value))
            }

            /// Wraps a value the caller has already proved valid (checked in debug builds).
            pub(crate) fn unvalidated(value: impl Into<Cow<'a, str>>) -> Self {
                let value = value.into();
                debug_assert!(check($what, value.as_bytes(), $ok).is_ok(), "{}", value);
                Self(value)
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Detaches the value from the input it borrows.
            pub fn into_owned(self) -> $name<'static> {
                $name(Cow::Owned(self.0.into_owned()))
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'a> TryFrom<&'a str> for $name<'a> {
            type Error = ValidationError;
            fn try_from(value: &'a str) -> Result<Self, ValidationError> {
                Self::new(value)
            }
        }

        impl TryFrom<String> for $name<'static> {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, ValidationError> {
                Self::new(value)
            }
        }
    };
}

str_newtype!(
    /// An atom (RFC 3501 §4.1): `atom = 1*ATOM-CHAR`. Never empty, never holds a
    /// space, CTL, 8-bit byte or one of `(){%*"\]`.
    Atom,
    "atom",
    is_atom_char
);

str_newtype!(
    /// A command tag (RFC 3501 §2.2.1): `tag = 1*<any ASTRING-CHAR except "+">`.
    Tag,
    "tag",
    |b| is_astring_char(b) && b != b'+'
);

/// A string (RFC 3501 §4.3): `string = quoted / literal`, also used where the
/// grammar says `astring` or `nstring`.
///
/// The value is the decoded content; the encoder picks the shortest correct
/// form for its context (atom, quoted string or literal). Built by the
/// caller it may hold any byte except NUL, which only a `literal8` can carry
/// (see [`Binary`]); parsed from a literal it holds the bytes as received.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IString<'a>(Cow<'a, [u8]>);

impl<'a> IString<'a> {
    /// Wraps `value`, refusing NUL.
    pub fn new(value: impl Into<Cow<'a, [u8]>>) -> Result<Self, ValidationError> {
        let value = value.into();
        if let Some(index) = memchr::memchr(0, &value) {
            return Err(ValidationError::InvalidByte {
                what: "string",
                byte: 0,
                index,
            });
        }
        Ok(Self(value))
    }

    /// Wraps a value the parser has proved free of NUL.
    pub(crate) fn unvalidated(value: impl Into<Cow<'a, [u8]>>) -> Self {
        let value = value.into();
        debug_assert!(!value.contains(&0));
        Self(value)
    }

    /// Wraps literal bytes as received, unscanned (they may hold a NUL a peer sent).
    pub(crate) fn from_literal(value: &'a [u8]) -> Self {
        Self(Cow::Borrowed(value))
    }

    /// The content bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The content as UTF-8 text, when it is.
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The content, lossily decoded as UTF-8.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> IString<'static> {
        IString(Cow::Owned(self.0.into_owned()))
    }

    /// The inner value.
    pub fn into_inner(self) -> Cow<'a, [u8]> {
        self.0
    }
}

impl fmt::Debug for IString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl<'a> TryFrom<&'a str> for IString<'a> {
    type Error = ValidationError;
    fn try_from(value: &'a str) -> Result<Self, ValidationError> {
        Self::new(value.as_bytes())
    }
}

impl<'a> TryFrom<&'a [u8]> for IString<'a> {
    type Error = ValidationError;
    fn try_from(value: &'a [u8]) -> Result<Self, ValidationError> {
        Self::new(value)
    }
}

impl TryFrom<String> for IString<'static> {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, ValidationError> {
        Self::new(value.into_bytes())
    }
}

impl TryFrom<Vec<u8>> for IString<'static> {
    type Error = ValidationError;
    fn try_from(value: Vec<u8>) -> Result<Self, ValidationError> {
        Self::new(value)
    }
}

/// `nstring = string / nil` (RFC 3501 §4.5): `None` is `NIL`.
pub type NString<'a> = Option<IString<'a>>;

/// Binary content that may hold NUL (RFC 3516 `literal8`, `~{n}`): message
/// data in APPEND and the payload of FETCH `BINARY[...]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Binary<'a>(pub Cow<'a, [u8]>);

impl Binary<'_> {
    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> Binary<'static> {
        Binary(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Debug for Binary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Binary({} bytes)", self.0.len())
    }
}

/// Human-readable text (`text = 1*TEXT-CHAR`, RFC 3501 §9): no CR, LF or NUL.
/// Unlike the RFC we allow it empty, because servers omit it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text<'a>(Cow<'a, [u8]>);

impl<'a> Text<'a> {
    /// Wraps `value`, refusing CR, LF and NUL, and a text that ends like a
    /// literal announcement (`{5}`): a receiver would wait for five octets
    /// that never come (RFC 3501 §7: response text cannot end in a literal).
    pub fn new(value: impl Into<Cow<'a, [u8]>>) -> Result<Self, ValidationError> {
        let value = value.into();
        if let Some(index) = value.iter().position(|&b| !is_text_char(b)) {
            return Err(ValidationError::InvalidByte {
                what: "text",
                byte: value[index],
                index,
            });
        }
        if crate::fragment::literal_announcement(&value).is_some() {
            return Err(ValidationError::InvalidByte {
                what: "text ending in a literal announcement",
                byte: b'}',
                index: value.len() - 1,
            });
        }
        Ok(Self(value))
    }

    pub(crate) fn unvalidated(value: impl Into<Cow<'a, [u8]>>) -> Self {
        let value = value.into();
        debug_assert!(Text::new(&value[..]).is_ok());
        Self(value)
    }

    /// The text bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text, lossily decoded as UTF-8.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> Text<'static> {
        Text(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text({:?})", String::from_utf8_lossy(&self.0))
    }
}

impl<'a> TryFrom<&'a str> for Text<'a> {
    type Error = ValidationError;
    fn try_from(value: &'a str) -> Result<Self, ValidationError> {
        Self::new(value.as_bytes())
    }
}

/// How a literal was (or is to be) announced (RFC 3501 §4.3, RFC 7888, RFC 3516).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiteralMode {
    /// `{n}`: the sender waits for a continuation request before the data.
    Sync,
    /// `{n+}` (LITERAL+/LITERAL-): the data follows at once.
    NonSync,
}

/// A date (`date-text`, RFC 3501 §9) as used by SEARCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    /// Year, four digits.
    pub(crate) year: u16,
    /// Month, 1-12.
    pub(crate) month: u8,
    /// Day of month, 1-31.
    pub(crate) day: u8,
}

impl Date {
    /// The year.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1-12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, 1-31.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Builds a date, checking the ranges.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, ValidationError> {
        if year > 9999 {
            return Err(ValidationError::InvalidByte {
                what: "year",
                byte: 0,
                index: 0,
            });
        }
        if !(1..=12).contains(&month) {
            return Err(ValidationError::InvalidByte {
                what: "month",
                byte: month,
                index: 0,
            });
        }
        if !(1..=31).contains(&day) {
            return Err(ValidationError::InvalidByte {
                what: "day",
                byte: day,
                index: 0,
            });
        }
        Ok(Self { year, month, day })
    }
}

/// A date and time (`date-time`, RFC 3501 §9), e.g. `"17-Jul-1996 02:44:25 -0700"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// The date.
    pub(crate) date: Date,
    /// Hour, 0-23.
    pub(crate) hour: u8,
    /// Minute, 0-59.
    pub(crate) minute: u8,
    /// Second, 0-60.
    pub(crate) second: u8,
    /// Zone offset east of UTC in minutes, -1439..=1439.
    pub(crate) zone_minutes: i16,
}

impl DateTime {
    /// The date.
    pub fn date(&self) -> Date {
        self.date
    }

    /// Hour, minute and second.
    pub fn time(&self) -> (u8, u8, u8) {
        (self.hour, self.minute, self.second)
    }

    /// Zone offset east of UTC in minutes.
    pub fn zone_minutes(&self) -> i16 {
        self.zone_minutes
    }

    /// Builds a date-time, checking the ranges.
    pub fn new(
        date: Date,
        hour: u8,
        minute: u8,
        second: u8,
        zone_minutes: i16,
    ) -> Result<Self, ValidationError> {
        if hour > 23 || minute > 59 || second > 60 || !(-1439..=1439).contains(&zone_minutes) {
            return Err(ValidationError::InvalidByte {
                what: "time",
                byte: hour,
                index: 0,
            });
        }
        Ok(Self {
            date,
            hour,
            minute,
            second,
            zone_minutes,
        })
    }
}

//! POP3 values: commands, status lines, response codes, capabilities and
//! listing lines (RFC 1939, RFC 2449, RFC 2595, RFC 5034, RFC 6856).
//!
//! Every type validates on construction, so everything that can be built can
//! be encoded, and no value can smuggle a CR, LF or NUL onto the wire.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;

/// A message number (RFC 1939 §3: `msg`), counted from 1.
pub type MsgNum = NonZeroU32;

/// A value that failed validation: which byte, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The value is empty.
    #[error("empty value")]
    Empty,
    /// The value is longer than allowed.
    #[error("value longer than {max} octets")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A byte that is not allowed here.
    #[error("byte {byte:#04x} not allowed at index {index}")]
    InvalidByte {
        /// Index in the value.
        index: usize,
        /// The byte.
        byte: u8,
    },
}

fn check(
    value: &[u8],
    max: usize,
    ok: impl Fn(u8) -> bool,
    allow_empty: bool,
) -> Result<(), ValidationError> {
    if value.is_empty() && !allow_empty {
        return Err(ValidationError::Empty);
    }
    if value.len() > max {
        return Err(ValidationError::TooLong { max });
    }
    match value.iter().position(|&b| !ok(b)) {
        Some(index) => Err(ValidationError::InvalidByte {
            index,
            byte: value[index],
        }),
        None => Ok(()),
    }
}

macro_rules! bytes_newtype {
    ($(#[$m:meta])* $name:ident, $max:expr, $ok:expr, $empty:expr) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name<'a>(Cow<'a, [u8]>);

        impl<'a> $name<'a> {
            /// The longest value accepted, in octets.
            pub const MAX_LEN: usize = $max;

            /// Checks that `value` is valid for this type.
            pub fn validate(value: &[u8]) -> Result<(), ValidationError> {
                check(value, $max, $ok, $empty)
            }

            /// Builds the value without checking it; for parsers whose
            /// grammar already proved it valid. Debug builds assert.
            pub(crate) fn unvalidated(value: impl Into<Cow<'a, [u8]>>) -> Self {
                let value = value.into();
                debug_assert!(Self::validate(&value).is_ok());
                Self(value)
            }

            /// The octets.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            /// The value as text, with invalid UTF-8 replaced.
            pub fn to_str_lossy(&self) -> Cow<'_, str> {
                String::from_utf8_lossy(&self.0)
            }

            /// A copy that owns its octets.
            pub fn into_owned(self) -> $name<'static> {
                $name(Cow::Owned(self.0.into_owned()))
            }
        }

        impl<'a> TryFrom<&'a [u8]> for $name<'a> {
            type Error = ValidationError;
            fn try_from(value: &'a [u8]) -> Result<Self, ValidationError> {
                Self::validate(value)?;
                Ok(Self(Cow::Borrowed(value)))
            }
        }

        impl<'a> TryFrom<&'a str> for $name<'a> {
            type Error = ValidationError;
            fn try_from(value: &'a str) -> Result<Self, ValidationError> {
                Self::try_from(value.as_bytes())
            }
        }

        impl TryFrom<Vec<u8>> for $name<'static> {
            type Error = ValidationError;
            fn try_from(value: Vec<u8>) -> Result<Self, ValidationError> {
                Self::validate(&value)?;
                Ok(Self(Cow::Owned(value)))
            }
        }

        impl TryFrom<String> for $name<'static> {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, ValidationError> {
                Self::try_from(value.into_bytes())
            }
        }

        impl AsRef<[u8]> for $name<'_> {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
    };
}

fn is_arg_byte(b: u8) -> bool {
    b > 0x20 && b != 0x7f
}

fn is_text_byte(b: u8) -> bool {
    b != b'\r' && b != b'\n' && b != 0
}

fn is_uid_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

bytes_newtype!(
    /// A command argument (RFC 1939 §3: "keywords and arguments consist of
    /// printable ASCII characters"; RFC 6856 §2 allows UTF-8 in `USER` and
    /// `PASS` after `UTF8`): 1 to 255 octets, no space, no control byte.
    ///
    /// ```abnf
    /// param = 1*VCHAR   ; RFC 2449 §9, widened to UTF-8 octets (RFC 6856)
    /// ```
    Arg,
    255,
    is_arg_byte,
    false
);

bytes_newtype!(
    /// Free text: the rest of a line (the text of a status line, a `PASS`
    /// argument, which may hold spaces, RFC 1939 §7). At most 1000 octets;
    /// no CR, LF or NUL. May be empty.
    ///
    /// ```abnf
    /// text = *schar   ; schar = %x01-09 / %x0B-0C / %x0E-FF (not CR, LF, NUL)
    /// ```
    Text,
    1000,
    is_text_byte,
    true
);

bytes_newtype!(
    /// A unique-id (RFC 1939 §7 `UIDL`): 1 to 70 octets in `0x21..=0x7E`.
    ///
    /// ```abnf
    /// unique-id = 1*70 %x21-7E
    /// ```
    Uid,
    70,
    is_uid_byte,
    false
);

impl fmt::Debug for Arg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Arg({:?})", self.to_str_lossy())
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text({:?})", self.to_str_lossy())
    }
}

impl fmt::Debug for Uid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uid({:?})", self.to_str_lossy())
    }
}

impl fmt::Display for Uid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_str_lossy())
    }
}

/// A POP3 command (RFC 1939 §4-§7, RFC 2449 §5, RFC 2595 §4, RFC 5034 §4,
/// RFC 6856 §2-§3).
///
/// ```abnf
/// command = keyword *(SP param) CRLF    ; RFC 2449 §9, at most 255 octets
/// ```
///
/// `Debug` redacts the `PASS` argument and the `AUTH` initial response.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `USER name` (RFC 1939 §7).
    User(Arg<'a>),
    /// `PASS string` (RFC 1939 §7); the argument may contain spaces.
    Pass(Text<'a>),
    /// `APOP name digest` (RFC 1939 §7): the MD5 digest of the greeting's
    /// timestamp followed by the shared secret.
    Apop {
        /// The mailbox name.
        name: Arg<'a>,
        /// The MD5 digest, sent as 32 lowercase hex digits.
        digest: [u8; 16],
    },
    /// `AUTH mechanism [initial-response]` (RFC 5034 §4); the initial
    /// response is base64, or `=` for an empty one.
    Auth {
        /// The SASL mechanism name.
        mechanism: Arg<'a>,
        /// The initial response as sent (base64 or `=`).
        initial_response: Option<Arg<'a>>,
    },
    /// `CAPA` (RFC 2449 §5).
    Capa,
    /// `STAT` (RFC 1939 §5).
    Stat,
    /// `LIST [msg]` (RFC 1939 §5).
    List(Option<MsgNum>),
    /// `RETR msg` (RFC 1939 §5).
    Retr(MsgNum),
    /// `DELE msg` (RFC 1939 §5).
    Dele(MsgNum),
    /// `NOOP` (RFC 1939 §5).
    Noop,
    /// `RSET` (RFC 1939 §5).
    Rset,
    /// `TOP msg n` (RFC 1939 §7): the headers and the first `n` body lines.
    Top {
        /// The message.
        msg: MsgNum,
        /// Body lines wanted.
        lines: u32,
    },
    /// `UIDL [msg]` (RFC 1939 §7).
    Uidl(Option<MsgNum>),
    /// `QUIT` (RFC 1939 §4, §6).
    Quit,
    /// `STLS` (RFC 2595 §4).
    Stls,
    /// `UTF8` (RFC 6856 §2).
    Utf8,
    /// `LANG [lang-range]` (RFC 6856 §3).
    Lang(Option<Arg<'a>>),
}

impl fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::User(a) => f.debug_tuple("User").field(a).finish(),
            Command::Pass(_) => f.write_str("Pass([REDACTED])"),
            Command::Apop { name, .. } => f
                .debug_struct("Apop")
                .field("name", name)
                .finish_non_exhaustive(),
            Command::Auth {
                mechanism,
                initial_response,
            } => f
                .debug_struct("Auth")
                .field("mechanism", mechanism)
                .field(
                    "initial_response",
                    &initial_response.as_ref().map(|_| "[REDACTED]"),
                )
                .finish(),
            Command::Capa => f.write_str("Capa"),
            Command::Stat => f.write_str("Stat"),
            Command::List(n) => f.debug_tuple("List").field(n).finish(),
            Command::Retr(n) => f.debug_tuple("Retr").field(n).finish(),
            Command::Dele(n) => f.debug_tuple("Dele").field(n).finish(),
            Command::Noop => f.write_str("Noop"),
            Command::Rset => f.write_str("Rset"),
            Command::Top { msg, lines } => f
                .debug_struct("Top")
                .field("msg", msg)
                .field("lines", lines)
                .finish(),
            Command::Uidl(n) => f.debug_tuple("Uidl").field(n).finish(),
            Command::Quit => f.write_str("Quit"),
            Command::Stls => f.write_str("Stls"),
            Command::Utf8 => f.write_str("Utf8"),
            Command::Lang(a) => f.debug_tuple("Lang").field(a).finish(),
        }
    }
}

impl Command<'_> {
    /// The keyword, in upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::Capa => "CAPA",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Quit => "QUIT",
            Command::Stls => "STLS",
            Command::Utf8 => "UTF8",
            Command::Lang(_) => "LANG",
        }
    }

    /// The shape of the server's positive answer to this command
    /// (RFC 1939 §3: multi-line for `LIST`/`UIDL` without argument, `RETR`,
    /// `TOP`, `CAPA`, and `LANG` without argument).
    pub fn response_kind(&self) -> ResponseKind {
        match self {
            Command::Capa | Command::List(None) | Command::Uidl(None) | Command::Lang(None) => {
                ResponseKind::MultiLine
            }
            Command::Retr(_) | Command::Top { .. } => ResponseKind::Content,
            Command::Auth { .. } => ResponseKind::Auth,
            _ => ResponseKind::SingleLine,
        }
    }

    /// A copy that owns its octets.
    pub fn into_owned(self) -> Command<'static> {
        match self {
            Command::User(a) => Command::User(a.into_owned()),
            Command::Pass(t) => Command::Pass(t.into_owned()),
            Command::Apop { name, digest } => Command::Apop {
                name: name.into_owned(),
                digest,
            },
            Command::Auth {
                mechanism,
                initial_response,
            } => Command::Auth {
                mechanism: mechanism.into_owned(),
                initial_response: initial_response.map(Arg::into_owned),
            },
            Command::Capa => Command::Capa,
            Command::Stat => Command::Stat,
            Command::List(n) => Command::List(n),
            Command::Retr(n) => Command::Retr(n),
            Command::Dele(n) => Command::Dele(n),
            Command::Noop => Command::Noop,
            Command::Rset => Command::Rset,
            Command::Top { msg, lines } => Command::Top { msg, lines },
            Command::Uidl(n) => Command::Uidl(n),
            Command::Quit => Command::Quit,
            Command::Stls => Command::Stls,
            Command::Utf8 => Command::Utf8,
            Command::Lang(a) => Command::Lang(a.map(Arg::into_owned)),
        }
    }
}

/// The shape of a positive response (RFC 1939 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseKind {
    /// One status line.
    SingleLine,
    /// A status line, then lines up to `.` (CAPA, LIST, UIDL, LANG).
    MultiLine,
    /// A status line, then dot-stuffed message content up to `.` (RETR, TOP).
    Content,
    /// AUTH: `+ ` continuation lines until a status line (RFC 5034 §4).
    Auth,
}

/// `+OK` or `-ERR` (RFC 1939 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `+OK`.
    Ok,
    /// `-ERR`.
    Err,
}

/// An extended response code (RFC 2449 §8): `[LEVEL/LEVEL...]` after the
/// status indicator.
///
/// ```abnf
/// resp-code  = "[" resp-level *("/" resp-level) "]"
/// resp-level = 1*rchar
/// rchar      = %x21-2E / %x30-5C / %x5E-7F   ; printable but not "/" or "]"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode<'a> {
    /// `IN-USE` (RFC 2449 §8.1.1): the maildrop is locked by another session.
    InUse,
    /// `LOGIN-DELAY` (RFC 2449 §8.1.2): logged in too recently.
    LoginDelay,
    /// `SYS/TEMP` (RFC 3206 §4): a temporary system problem.
    SysTemp,
    /// `SYS/PERM` (RFC 3206 §4): a permanent system problem.
    SysPerm,
    /// `AUTH` (RFC 3206 §5): the credentials were wrong.
    Auth,
    /// `UTF8` (RFC 6856 §2): the command needs UTF8 mode.
    Utf8,
    /// Any other code, as sent (validated against the grammar).
    Other(Cow<'a, str>),
}

impl ResponseCode<'_> {
    /// The code as written between the brackets.
    pub fn as_str(&self) -> &str {
        match self {
            ResponseCode::InUse => "IN-USE",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
            ResponseCode::Auth => "AUTH",
            ResponseCode::Utf8 => "UTF8",
            ResponseCode::Other(s) => s,
        }
    }

    /// Checks a code against the grammar.
    pub fn validate(code: &str) -> Result<(), ValidationError> {
        check(
            code.as_bytes(),
            100,
            |b| (0x21..=0x7f).contains(&b) && b != b']',
            false,
        )?;
        if code.split('/').any(str::is_empty) {
            return Err(ValidationError::InvalidByte {
                index: code.find("//").map_or_else(
                    || {
                        if code.starts_with('/') {
                            0
                        } else {
                            code.len() - 1
                        }
                    },
                    |i| i + 1,
                ),
                byte: b'/',
            });
        }
        Ok(())
    }

    /// A code from its text; known codes become their variant.
    pub fn new(code: &str) -> Result<ResponseCode<'static>, ValidationError> {
        Self::validate(code)?;
        Ok(ResponseCode::from_validated(Cow::Owned(code.to_owned())))
    }

    pub(crate) fn from_validated(code: Cow<'_, str>) -> ResponseCode<'_> {
        match &*code {
            c if c.eq_ignore_ascii_case("IN-USE") => ResponseCode::InUse,
            c if c.eq_ignore_ascii_case("LOGIN-DELAY") => ResponseCode::LoginDelay,
            c if c.eq_ignore_ascii_case("SYS/TEMP") => ResponseCode::SysTemp,
            c if c.eq_ignore_ascii_case("SYS/PERM") => ResponseCode::SysPerm,
            c if c.eq_ignore_ascii_case("AUTH") => ResponseCode::Auth,
            c if c.eq_ignore_ascii_case("UTF8") => ResponseCode::Utf8,
            _ => ResponseCode::Other(code),
        }
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> ResponseCode<'static> {
        match self {
            ResponseCode::Other(s) => ResponseCode::Other(Cow::Owned(s.into_owned())),
            ResponseCode::InUse => ResponseCode::InUse,
            ResponseCode::LoginDelay => ResponseCode::LoginDelay,
            ResponseCode::SysTemp => ResponseCode::SysTemp,
            ResponseCode::SysPerm => ResponseCode::SysPerm,
            ResponseCode::Auth => ResponseCode::Auth,
            ResponseCode::Utf8 => ResponseCode::Utf8,
        }
    }
}

/// A status line: `+OK` or `-ERR`, an optional response code, and text
/// (RFC 1939 §3, RFC 2449 §8).
///
/// ```abnf
/// single-line = status [SP [resp-code SP] text] CRLF   ; at most 512 octets
/// status      = "+OK" / "-ERR"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusLine<'a> {
    /// `+OK` or `-ERR`.
    pub status: Status,
    /// The response code, if any.
    pub code: Option<ResponseCode<'a>>,
    /// The text after the status (and code); may be empty.
    pub text: Text<'a>,
}

impl<'a> StatusLine<'a> {
    /// `+OK text`. Text that is not valid [`Text`] is replaced by nothing.
    pub fn ok(text: &'a str) -> Self {
        StatusLine {
            status: Status::Ok,
            code: None,
            text: Text::try_from(text).unwrap_or(Text(Cow::Borrowed(b""))),
        }
    }

    /// `-ERR text`, with an optional code. Text that is not valid [`Text`]
    /// is replaced by nothing.
    pub fn err(code: Option<ResponseCode<'a>>, text: &'a str) -> Self {
        StatusLine {
            status: Status::Err,
            code,
            text: Text::try_from(text).unwrap_or(Text(Cow::Borrowed(b""))),
        }
    }

    /// True for `+OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> StatusLine<'static> {
        StatusLine {
            status: self.status,
            code: self.code.map(ResponseCode::into_owned),
            text: self.text.into_owned(),
        }
    }
}

/// How long messages stay on the server (RFC 2449 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expire {
    /// `NEVER`.
    Never,
    /// Days (0: deleted as soon as retrieved).
    Days(u32),
}

/// A capability (RFC 2449 §6, RFC 2595 §4, RFC 6856 §2-§3).
///
/// ```abnf
/// capability = capa-tag *(SP param) CRLF   ; at most 512 octets
/// capa-tag   = 1*cchar
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability<'a> {
    /// `TOP` (§6.1).
    Top,
    /// `USER` (§6.2).
    User,
    /// `SASL mech...` (§6.3).
    Sasl(Vec<Arg<'a>>),
    /// `RESP-CODES` (§6.4).
    RespCodes,
    /// `LOGIN-DELAY secs [USER]` (§6.5).
    LoginDelay {
        /// Minimum seconds between logins.
        secs: u32,
        /// The value may differ per user.
        per_user: bool,
    },
    /// `PIPELINING` (§6.6).
    Pipelining,
    /// `EXPIRE NEVER|days [USER]` (§6.7).
    Expire {
        /// Retention.
        expire: Expire,
        /// The value may differ per user.
        per_user: bool,
    },
    /// `UIDL` (§6.8).
    Uidl,
    /// `IMPLEMENTATION text` (§6.9).
    Implementation(Text<'a>),
    /// `STLS` (RFC 2595 §4).
    Stls,
    /// `AUTH-RESP-CODE` (RFC 3206 §5).
    AuthRespCode,
    /// `UTF8 [USER]` (RFC 6856 §2).
    Utf8 {
        /// `UTF8 USER`: UTF-8 user names and passwords are accepted.
        user: bool,
    },
    /// `LANG` (RFC 6856 §3).
    Lang,
    /// Any other capability.
    Other {
        /// The tag.
        tag: Arg<'a>,
        /// The parameters.
        params: Vec<Arg<'a>>,
    },
}

impl Capability<'_> {
    /// A copy that owns its octets.
    pub fn into_owned(self) -> Capability<'static> {
        match self {
            Capability::Top => Capability::Top,
            Capability::User => Capability::User,
            Capability::Sasl(v) => Capability::Sasl(v.into_iter().map(Arg::into_owned).collect()),
            Capability::RespCodes => Capability::RespCodes,
            Capability::LoginDelay { secs, per_user } => Capability::LoginDelay { secs, per_user },
            Capability::Pipelining => Capability::Pipelining,
            Capability::Expire { expire, per_user } => Capability::Expire { expire, per_user },
            Capability::Uidl => Capability::Uidl,
            Capability::Implementation(t) => Capability::Implementation(t.into_owned()),
            Capability::Stls => Capability::Stls,
            Capability::AuthRespCode => Capability::AuthRespCode,
            Capability::Utf8 { user } => Capability::Utf8 { user },
            Capability::Lang => Capability::Lang,
            Capability::Other { tag, params } => Capability::Other {
                tag: tag.into_owned(),
                params: params.into_iter().map(Arg::into_owned).collect(),
            },
        }
    }
}

/// The answer to `STAT` (RFC 1939 §5): `+OK count size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DropListing {
    /// Messages in the maildrop (not counting those marked deleted).
    pub count: u32,
    /// Their total size in octets.
    pub size: u64,
}

/// A scan listing (RFC 1939 §5 `LIST`): `msg size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScanListing {
    /// The message number.
    pub msg: MsgNum,
    /// Its size in octets (CRLF line ends, before dot-stuffing).
    pub size: u64,
}

/// A unique-id listing (RFC 1939 §7 `UIDL`): `msg unique-id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UidListing<'a> {
    /// The message number.
    pub msg: MsgNum,
    /// Its unique id.
    pub uid: Uid<'a>,
}

impl UidListing<'_> {
    /// A copy that owns its octets.
    pub fn into_owned(self) -> UidListing<'static> {
        UidListing {
            msg: self.msg,
            uid: self.uid.into_owned(),
        }
    }
}

/// A line of a `LANG` listing (RFC 6856 §3): `lang-tag SP description`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LangListing<'a> {
    /// The language tag.
    pub tag: Arg<'a>,
    /// Its description.
    pub description: Text<'a>,
}

//! Flags (RFC 3501 §2.3.2, RFC 9051 §2.3.2) and capabilities.

use super::core::Atom;

/// A message flag: `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" /
/// "\Draft" / flag-keyword / flag-extension`. System flags compare without case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag<'a> {
    /// `\Answered`.
    Answered,
    /// `\Flagged`.
    Flagged,
    /// `\Deleted`.
    Deleted,
    /// `\Seen`.
    Seen,
    /// `\Draft`.
    Draft,
    /// `\Recent` (`flag-fetch`, IMAP4rev1 only).
    Recent,
    /// `\*` (`flag-perm`: only in PERMANENTFLAGS, means new keywords may be created).
    Wildcard,
    /// A keyword such as `$Forwarded`.
    Keyword(Atom<'a>),
    /// `\Name`: a system flag this crate does not name; the atom is without the backslash.
    Extension(Atom<'a>),
}

impl Flag<'_> {
    /// Detaches the value from the input it borrows.
    pub fn into_owned(self) -> Flag<'static> {
        match self {
            Flag::Answered => Flag::Answered,
            Flag::Flagged => Flag::Flagged,
            Flag::Deleted => Flag::Deleted,
            Flag::Seen => Flag::Seen,
            Flag::Draft => Flag::Draft,
            Flag::Recent => Flag::Recent,
            Flag::Wildcard => Flag::Wildcard,
            Flag::Keyword(a) => Flag::Keyword(a.into_owned()),
            Flag::Extension(a) => Flag::Extension(a.into_owned()),
        }
    }
}

/// A mailbox attribute in LIST/LSUB (`mbx-list-flags`, RFC 3501 §7.2.2,
/// RFC 6154 special use, RFC 5258 `\NonExistent` ...): the atom after the backslash.
pub type MailboxAttr<'a> = Atom<'a>;

/// A capability name (`capability = ("AUTH=" auth-type) / atom`, RFC 3501 §7.2.1).
pub type Capability<'a> = Atom<'a>;

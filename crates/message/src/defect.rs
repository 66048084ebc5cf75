//! Defects: what a lenient parser had to repair, and where.
//!
//! The parsers of this crate accept real-world mail that breaks RFC 5322
//! (bare LF line ends, obsolete syntax, malformed encoded words, unknown
//! charsets, ...). Every repair is recorded as a [`Defect`] so that a caller
//! that wants to be strict can refuse the message.

use std::fmt;

/// What a parser had to repair (DESIGN.md: "lenient by default, with every
/// repair recorded as a defect").
///
/// The set is open: `mailwire-mime` defines its own kinds for MIME structure,
/// and new kinds may be added here in minor releases.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefectKind {
    // ---- header section (RFC 5322 §2.1, §2.2, §3.5) ----
    /// A line ended with LF alone instead of CRLF (RFC 5322 §2.1); reported
    /// once per header section, at the first such line.
    BareLf,
    /// A CR not followed by LF inside the header section.
    BareCr,
    /// A line longer than 998 characters (RFC 5322 §2.1.1).
    LineTooLong,
    /// The input ended before the blank line that ends the header section.
    MissingBlankLine,
    /// A line in the header section that is neither a field nor a
    /// continuation; the header section was taken to end before it.
    InvalidHeaderLine,
    /// A continuation line (starting with WSP) before any field.
    LeadingContinuation,
    /// A Unix mbox `From ` separator line before the first field; skipped.
    MboxFromLine,
    /// White space between a field name and its colon (obs-optional, RFC 5322 §4.5).
    WhitespaceBeforeColon,
    /// A NUL byte inside the header section.
    NulByte,
    /// The header section is larger than [`crate::Limits::max_header_bytes`];
    /// parsing stopped there.
    HeaderSectionTooLarge,
    /// The header section has more fields than [`crate::Limits::max_fields`];
    /// the rest were not read.
    TooManyFields,
    /// The input does not look like a message at all (no field was found).
    NotAMessage,
    /// Header bytes are neither ASCII nor valid UTF-8 (RFC 6532 §3.2); they
    /// were decoded as windows-1252.
    InvalidUtf8,
    /// An empty field body where a value is required.
    EmptyValue,
    // ---- RFC 2047 / charsets ----
    /// Text that looks like an encoded word but is not well formed; kept as text.
    MalformedEncodedWord,
    /// An encoded word's charset is not known; its bytes were decoded as
    /// UTF-8 (lossy) or windows-1252.
    UnknownCharset,
    /// Bytes that are invalid in their declared charset (replaced by U+FFFD).
    CharsetDecodeError,
    /// An encoded word inside a quoted string (RFC 2047 §5 forbids it); decoded anyway.
    EncodedWordInQuotedString,
    /// An encoded word not separated from surrounding text by white space
    /// (RFC 2047 §5); decoded anyway.
    EncodedWordNotDelimited,
    /// An encoded word longer than 75 characters (RFC 2047 §2); decoded anyway.
    EncodedWordTooLong,
    // ---- lexical (RFC 5322 §3.2) ----
    /// A quoted string without its closing quote.
    UnterminatedQuotedString,
    /// A comment without its closing parenthesis.
    UnterminatedComment,
    /// An angle address without its closing `>`.
    UnterminatedAngleAddr,
    /// A domain literal without its closing `]`.
    UnterminatedDomainLiteral,
    /// A group without its closing `;`.
    UnterminatedGroup,
    /// A character that is not allowed where it was found; skipped or kept as text.
    UnexpectedCharacter,
    // ---- addresses (RFC 5322 §3.4, §4.4) ----
    /// An obsolete source route (`<@a,@b:user@c>`), dropped (RFC 5322 §4.4).
    ObsoleteRoute,
    /// An obsolete local part or domain with CFWS between its dot-separated
    /// parts, or an obsolete phrase with dots (RFC 5322 §4.4).
    ObsoleteSyntax,
    /// An address without `@domain`.
    MissingDomain,
    /// An address with an empty local part.
    MissingLocalPart,
    /// A local part made of several words not joined by dots; joined.
    InvalidLocalPart,
    /// A group where only mailboxes are allowed (RFC 5322 §3.6.2); its
    /// members were taken.
    UnexpectedGroup,
    /// A display name with no address after it.
    MissingAddress,
    // ---- date-time (RFC 5322 §3.3, §4.3) ----
    /// A date-time that could not be understood at all.
    InvalidDate,
    /// A day of week that does not match the date.
    WrongDayOfWeek,
    /// A two- or three-digit year (obs-year, RFC 5322 §4.3).
    ObsoleteYear,
    /// An alphabetic or military zone (obs-zone, RFC 5322 §4.3).
    ObsoleteZone,
    /// An unknown zone name, taken as -0000.
    UnknownZone,
    /// No zone at all, taken as -0000.
    MissingZone,
    /// A time without seconds (obsolete in practice).
    MissingSeconds,
    /// A date in a non-RFC 5322 layout (asctime or ISO 8601) that was
    /// understood anyway.
    NonStandardDate,
    // ---- identifiers (RFC 5322 §3.6.4) ----
    /// A message identifier without angle brackets or `@`.
    InvalidMessageId,
    /// Text that is not a message identifier in In-Reply-To or References
    /// (obs-phrase, RFC 5322 §4.5.4); skipped.
    JunkInMessageIdList,
    /// A field value that could not be parsed at all.
    InvalidValue,
}

impl DefectKind {
    /// A stable kebab-case name for logs and JSON output.
    pub fn as_str(self) -> &'static str {
        use DefectKind::*;
        match self {
            BareLf => "bare-lf",
            BareCr => "bare-cr",
            LineTooLong => "line-too-long",
            MissingBlankLine => "missing-blank-line",
            InvalidHeaderLine => "invalid-header-line",
            LeadingContinuation => "leading-continuation",
            MboxFromLine => "mbox-from-line",
            WhitespaceBeforeColon => "whitespace-before-colon",
            NulByte => "nul-byte",
            HeaderSectionTooLarge => "header-section-too-large",
            TooManyFields => "too-many-fields",
            NotAMessage => "not-a-message",
            InvalidUtf8 => "invalid-utf8",
            EmptyValue => "empty-value",
            MalformedEncodedWord => "malformed-encoded-word",
            UnknownCharset => "unknown-charset",
            CharsetDecodeError => "charset-decode-error",
            EncodedWordInQuotedString => "encoded-word-in-quoted-string",
            EncodedWordNotDelimited => "encoded-word-not-delimited",
            EncodedWordTooLong => "encoded-word-too-long",
            UnterminatedQuotedString => "unterminated-quoted-string",
            UnterminatedComment => "unterminated-comment",
            UnterminatedAngleAddr => "unterminated-angle-addr",
            UnterminatedDomainLiteral => "unterminated-domain-literal",
            UnterminatedGroup => "unterminated-group",
            UnexpectedCharacter => "unexpected-character",
            ObsoleteRoute => "obsolete-route",
            ObsoleteSyntax => "obsolete-syntax",
            MissingDomain => "missing-domain",
            MissingLocalPart => "missing-local-part",
            InvalidLocalPart => "invalid-local-part",
            UnexpectedGroup => "unexpected-group",
            MissingAddress => "missing-address",
            InvalidDate => "invalid-date",
            WrongDayOfWeek => "wrong-day-of-week",
            ObsoleteYear => "obsolete-year",
            ObsoleteZone => "obsolete-zone",
            UnknownZone => "unknown-zone",
            MissingZone => "missing-zone",
            MissingSeconds => "missing-seconds",
            NonStandardDate => "non-standard-date",
            InvalidMessageId => "invalid-message-id",
            JunkInMessageIdList => "junk-in-message-id-list",
            InvalidValue => "invalid-value",
        }
    }
}

impl fmt::Display for DefectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One repair made by a lenient parser: its kind and the byte offset where
/// it was found.
///
/// Offsets returned by the value parsers ([`crate::parse_address_list`],
/// [`crate::parse_date_time`], ...) are relative to the slice they were
/// given; the accessors of [`crate::Message`] shift them so that they are
/// relative to the start of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Defect {
    /// What was repaired.
    pub kind: DefectKind,
    /// Byte offset of the problem.
    pub offset: usize,
}

impl Defect {
    /// A defect of `kind` at `offset`.
    pub const fn new(kind: DefectKind, offset: usize) -> Self {
        Defect { kind, offset }
    }

    /// The same defect with `base` added to its offset.
    pub const fn shifted(self, base: usize) -> Self {
        Defect {
            kind: self.kind,
            offset: self.offset + base,
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

/// Where parsers record defects. Implemented by `Vec<Defect>` (collect them)
/// and by [`IgnoreDefects`] (drop them, for callers that do not care).
pub trait DefectSink {
    /// Record one defect.
    fn push_defect(&mut self, defect: Defect);
}

impl DefectSink for Vec<Defect> {
    #[inline]
    fn push_defect(&mut self, defect: Defect) {
        self.push(defect);
    }
}

impl<S: DefectSink + ?Sized> DefectSink for &mut S {
    #[inline]
    fn push_defect(&mut self, defect: Defect) {
        (**self).push_defect(defect)
    }
}

/// A [`DefectSink`] that drops every defect.
#[derive(Debug, Clone, Copy, Default)]
pub struct IgnoreDefects;

impl DefectSink for IgnoreDefects {
    #[inline]
    fn push_defect(&mut self, _defect: Defect) {}
}

/// A sink that shifts offsets by a base before forwarding.
pub(crate) struct Shifted<'s, S: DefectSink + ?Sized> {
    pub(crate) inner: &'s mut S,
    pub(crate) base: usize,
}

impl<S: DefectSink + ?Sized> DefectSink for Shifted<'_, S> {
    #[inline]
    fn push_defect(&mut self, defect: Defect) {
        self.inner.push_defect(defect.shifted(self.base));
    }
}

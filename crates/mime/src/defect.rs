//! MIME defects: what the lenient parsers repaired, and where.

use std::fmt;

/// What a MIME parser had to repair (DESIGN.md: lenient by default, every
/// repair recorded).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefectKind {
    /// A header block ended without its blank line (RFC 5322 §2.1, RFC 2046
    /// §5.1.1: a part's header is followed by an empty line).
    MissingBlankLine,
    /// The input ended inside a header block.
    TruncatedHeader,
    /// A header block exceeded [`crate::Limits::max_header_size`]; the rest
    /// of it was skipped.
    HeaderTooLarge,
    /// A line in a header block that is neither a field nor a continuation,
    /// followed by more fields: kept as part of the header block.
    InvalidHeaderLine,
    /// A line of `From ` (mbox separator) before the first field was skipped.
    MboxFromLine,
    /// A Content-Type that could not be parsed; RFC 2045 §5.2 default used.
    InvalidContentType,
    /// A multipart without a boundary parameter: treated as text/plain.
    MissingBoundary,
    /// A boundary longer than [`crate::Limits::max_boundary_len`].
    BoundaryTooLong,
    /// A multipart ended without its close delimiter (RFC 2046 §5.1.1).
    MissingCloseDelimiter,
    /// A multipart with no body part at all (its boundary never appeared,
    /// or only its close delimiter did): it is given one `text/plain` leaf
    /// holding its preamble, so its text is not lost (Dovecot gives one empty part; see
    /// [`crate::PartStart::from_preamble`]).
    NoParts,
    /// The input ended in the middle of a body part.
    TruncatedPart,
    /// Nesting deeper than [`crate::Limits::max_depth`]: the entity is kept
    /// as an opaque leaf.
    DepthLimit,
    /// More parts than [`crate::Limits::max_parts`]: the rest of the message
    /// is kept as the body of the last part.
    PartLimit,
    /// An unknown Content-Transfer-Encoding: the body is kept as it is.
    UnknownTransferEncoding,
    /// A composite type (multipart, message) with an encoding other than
    /// 7bit, 8bit or binary (RFC 2045 §6.4); parsed after decoding.
    EncodedComposite,
    /// A text part in an unknown charset, decoded with the fallback.
    UnknownCharset,
    /// A text part with bytes invalid in its charset.
    MalformedText,
}

impl DefectKind {
    /// A short stable name (`missing-close-delimiter`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingBlankLine => "missing-blank-line",
            Self::TruncatedHeader => "truncated-header",
            Self::HeaderTooLarge => "header-too-large",
            Self::MboxFromLine => "mbox-from-line",
            Self::InvalidHeaderLine => "invalid-header-line",
            Self::InvalidContentType => "invalid-content-type",
            Self::MissingBoundary => "missing-boundary",
            Self::BoundaryTooLong => "boundary-too-long",
            Self::MissingCloseDelimiter => "missing-close-delimiter",
            Self::NoParts => "no-parts",
            Self::TruncatedPart => "truncated-part",
            Self::DepthLimit => "depth-limit",
            Self::PartLimit => "part-limit",
            Self::UnknownTransferEncoding => "unknown-transfer-encoding",
            Self::EncodedComposite => "encoded-composite",
            Self::UnknownCharset => "unknown-charset",
            Self::MalformedText => "malformed-text",
        }
    }
}

impl fmt::Display for DefectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One repair: its kind, the part it concerns, and the byte offset in the
/// stream that part belongs to (the input, or the decoded body of an
/// encoded message/rfc822 part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Defect {
    /// What was repaired.
    pub kind: DefectKind,
    /// The id of the part concerned (depth-first order, 0 is the message).
    pub part: usize,
    /// Byte offset of the problem.
    pub offset: u64,
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in part {} at byte {}",
            self.kind, self.part, self.offset
        )
    }
}

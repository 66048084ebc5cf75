//! The streaming (push) MIME parser: feed bytes in any split, receive events.
//!
//! ```text
//!  bytes (any split) ──► Parser::feed ──► Event::PartStart { headers }
//!                                         Event::Body / Decoded (chunks)
//!                                         Event::Preamble / Epilogue
//!                                         Event::PartEnd
//!                                         Event::Defect
//! ```
//!
//! Memory is bounded by [`Limits`] whatever the message size: the parser
//! keeps at most one header block ([`Limits::max_header_size`]) or a partial
//! delimiter line (a few hundred bytes) between calls, and a stack of at most
//! [`Limits::max_depth`] frames. Body bytes flow straight through as borrowed
//! chunks of the input; nothing is copied unless a chunk ends inside a line
//! that may turn out to be a boundary delimiter.
//!
//! The tree parser ([`crate::Message::parse`]) is this parser fed the whole
//! input at once, so the two agree by construction; the tests feed every
//! corpus message in random splits and byte by byte and compare the events.
//! (The tree builder is handed to the same code as a concrete sink rather
//! than a `dyn` callback, so the compiler inlines it; the events it sees
//! are the ones [`Parser::feed`] gives.)
//!
//! Boundary rules (RFC 2046 §5.1.1): a delimiter counts only at the start of
//! a line and only as a whole delimiter, `--` boundary followed by `--`
//! (close), or by optional transport padding (spaces, tabs) and the line end.
//! The line end before a delimiter belongs to the delimiter. A delimiter of
//! any enclosing multipart also ends the inner ones (repaired, reported as
//! [`DefectKind::MissingCloseDelimiter`]); the innermost boundary is tried
//! first, so nested boundaries that are prefixes of each other work.
//!
//! ```
//! use mailwire_mime::{Event, Parser};
//! let msg = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhello\r\n--b--\r\n";
//! let mut parser = Parser::new();
//! let mut bodies = Vec::new();
//! for chunk in msg.chunks(7) {
//!     parser.feed(chunk, &mut |ev| {
//!         if let Event::Body { data, .. } = ev { bodies.extend_from_slice(data) }
//!     });
//! }
//! parser.finish(&mut |_| {});
//! assert_eq!(bodies, b"hello");
//! ```

use crate::defect::{Defect, DefectKind};
use crate::encoding::Decoder;
use crate::headers::{MimeHeaders, NotedField};
use mailwire_line::HeaderWindow;
use tinyvec::TinyVec;

/// Limits that bound the parser's memory and work (STYLE.md: everything is
/// bounded). Exceeding one is a defect, never a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Deepest nesting of multiparts and encapsulated messages. Default 50:
    /// real mail rarely nests beyond 10; the bound keeps the frame stack small.
    pub max_depth: usize,
    /// Most parts in one message. Default 10 000: far above real mail, low
    /// enough to bound the tree's memory.
    pub max_parts: usize,
    /// Largest header block of one entity. Default 256 KiB: large DKIM/ARC
    /// stacks fit, and the streaming buffer stays small.
    pub max_header_size: usize,
    /// Longest boundary accepted. Default 256: RFC 2046 §5.1.1 allows 70;
    /// some generators write longer ones.
    pub max_boundary_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 50,
            max_parts: 10_000,
            max_header_size: 256 * 1024,
            max_boundary_len: 256,
        }
    }
}

/// Parser options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Options {
    /// The limits.
    pub limits: Limits,
    /// Emit [`Event::Decoded`] for every leaf (transfer encoding removed).
    /// Encapsulated messages in base64 or quoted-printable are always
    /// decoded, since they are parsed.
    ///
    /// For [`Message::parse_with`](crate::Message::parse_with) and
    /// [`Message::parse_after_header_with`](crate::Message::parse_after_header_with):
    /// decode base64 leaves while parsing, each in the same pass that
    /// finds where it ends.
    pub decode: bool,
    /// The tree's decoding parse: base64 leaves decoded whole into buffers
    /// the sink keeps ([`EventSink::keep_decoded`]).
    pub(crate) keep_base64: bool,
}

impl Options {
    /// Options with body decoding turned on.
    pub fn decoding() -> Self {
        Self {
            decode: true,
            ..Self::default()
        }
    }

    /// These options with `limits`.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// What an entity is, structurally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartKind {
    /// A leaf: its body is data (text, image, an opaque message/partial, ...).
    Leaf,
    /// A multipart (RFC 2046 §5.1): its body parts are children.
    Multipart,
    /// An encapsulated message (message/rfc822 or message/global, RFC 2046
    /// §5.2.1) in an identity encoding: its one child is the message.
    Message,
    /// An encapsulated message in base64, quoted-printable or uuencode: its
    /// body is a leaf in the input, and its decoded body is parsed as a
    /// message in a stream of its own.
    EncodedMessage,
}

/// An entity starts: its header block was read.
#[derive(Debug)]
pub struct PartStart<'a> {
    /// Depth-first index of the part (0 is the message itself).
    pub id: usize,
    /// The enclosing part.
    pub parent: Option<usize>,
    /// Nesting depth (0 for the message).
    pub depth: usize,
    /// The stream the offsets refer to: 0 is the input; an encoded
    /// encapsulated message's decoded body gets the next number.
    pub stream: usize,
    /// The IMAP section number (RFC 3501 §6.4.5); empty for a multipart
    /// that is the body of a message.
    pub section: &'a [u32],
    /// Offset of the header block.
    pub offset: u64,
    /// Offset of the body.
    pub body_offset: u64,
    /// The raw header block, including its blank line when present. For a
    /// block over [`Limits::max_header_size`] only its first lines (up to
    /// the limit) are given; `offset..body_offset` still spans all of it.
    pub header: &'a [u8],
    /// The parsed MIME fields.
    pub mime: MimeHeaders,
    /// Structure.
    pub kind: PartKind,
    /// For [`PartKind::EncodedMessage`], the stream of the decoded body.
    pub inner_stream: Option<usize>,
    /// True for the leaf given to a multipart that ended without any body
    /// part (its boundary never appeared, or only its close delimiter did;
    /// reported as [`DefectKind::NoParts`]), so its text is not lost: a
    /// `text/plain` leaf with an empty header whose body is the
    /// multipart's preamble. It comes just before the multipart's
    /// `PartEnd`; its bytes were already given as [`Event::Preamble`] of
    /// the multipart (the parser keeps no copy), so no `Body` or `Decoded`
    /// event follows it.
    pub from_preamble: bool,
}

/// An entity ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartEnd {
    /// The part's id.
    pub id: usize,
    /// Offset of the end of its body (before the line end that belongs to
    /// the next delimiter).
    pub end: u64,
}

/// What the parser reports. Events come in document order; every
/// `PartStart` is matched by a `PartEnd`.
#[derive(Debug)]
#[non_exhaustive]
// PartStart is large, but each event is moved once into the sink; boxing
// it would cost an allocation per part.
#[allow(clippy::large_enum_variant)]
pub enum Event<'a> {
    /// An entity's header block was read.
    PartStart(PartStart<'a>),
    /// Raw body bytes of leaf `id` (transfer encoding not removed).
    Body {
        /// The part.
        id: usize,
        /// Offset of `data` in the part's stream.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// Decoded body bytes of leaf `id` (with [`Options::decode`], and always
    /// for encoded encapsulated messages).
    Decoded {
        /// The part.
        id: usize,
        /// The bytes.
        data: &'a [u8],
    },
    /// Preamble bytes of multipart `id` (RFC 2046 §5.1.1).
    Preamble {
        /// The multipart.
        id: usize,
        /// Offset of `data`.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// Epilogue bytes of multipart `id`.
    Epilogue {
        /// The multipart.
        id: usize,
        /// Offset of `data`.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// An entity ended.
    PartEnd(PartEnd),
    /// Something was repaired.
    Defect(Defect),
}

/// Spare room a body decoded whole may keep (see `Parser::base64_body`),
/// or an eighth of its length.
const SPARE_KEPT: usize = 16 * 1024;

/// The length under which a base64 body is not decoded whole while
/// parsing (see `Parser::base64_body`).
const SHORT_BODY: usize = 16 * 1024;

/// Extra bytes allowed after a boundary on a delimiter line (transport
/// padding, junk after a close delimiter) before the line is judged.
const LINE_SLACK: usize = 256;

#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    next_id: usize,
    next_stream: usize,
    /// No more parts may be created: delimiters are no longer recognised.
    exhausted: bool,
}

#[derive(Debug)]
enum FrameKind {
    Multipart {
        /// Where the boundary sits in [`Parser::boundaries`].
        boundary: std::ops::Range<usize>,
        digest: bool,
        children: u32,
        closed: bool,
        /// Where the body (and so the preamble) starts.
        body_start: u64,
        /// Where the preamble ended, when the close delimiter came before
        /// any body part.
        preamble_end: Option<u64>,
    },
    Message,
    Leaf {
        decoder: Option<Decoder>,
        child: Option<Box<Parser>>,
        /// A base64 body the tree's decoding parse decodes whole as it
        /// comes to it (see [`Parser::base64_body`]); cleared once tried.
        whole_base64: bool,
    },
}

#[derive(Debug)]
struct Frame {
    id: usize,
    /// The part's section is `Parser::path[..section_len]`.
    section_len: usize,
    depth: usize,
    kind: FrameKind,
}

/// The section levels a parser holds without allocating (a part as deep
/// as `1.2.3.4.5.6.7.8`). This and the next two bounds keep the tree parse
/// of a small message from allocating for the parser's own lists (an
/// allocation each, per message, was a visible share of its cost); a
/// message beyond one moves that list to the heap once.
const INLINE_LEVELS: usize = 8;

/// The bytes of boundaries held without allocating: those of two or three
/// nested multiparts as generators write them (30 to 45 bytes each).
const INLINE_BOUNDARY_BYTES: usize = 128;

/// The `Content-*` fields of one header block noted without allocating
/// (an entity rarely has more than Type, Transfer-Encoding, Disposition,
/// ID and Description).
const INLINE_NOTED: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reading a header block; `scanned` bytes of it are known complete lines.
    Headers { scanned: usize },
    /// Discarding the rest of an oversized header block.
    SkipHeaders,
    /// Reading a body, preamble or epilogue.
    Body,
}

/// The streaming MIME parser.
///
/// Drive it with [`Parser::feed`] as bytes arrive, in any split, then call
/// [`Parser::finish`] once at the end of the message. Events go to the
/// callback passed to each call; the data they borrow is valid for the call.
#[derive(Debug)]
pub struct Parser {
    opts: Options,
    buf: Vec<u8>,
    /// Offset of `buf[0]` (or of the next input byte when `buf` is empty).
    offset: u64,
    mode: Mode,
    /// The body position is at the start of a line with no line end before it.
    at_line_start: bool,
    stack: Vec<Frame>,
    ctr: Counters,
    scratch: Vec<u8>,
    /// This parser's stream number.
    stream: usize,
    /// The section of the innermost open part: every open part's section
    /// is a prefix of it (`path[..frame.section_len]`), so the frames need
    /// no copy of their own. Starts as the section of the message this
    /// parser reads (empty for the top level), `base_len` long. Inline
    /// up to [`INLINE_LEVELS`].
    path: TinyVec<[u32; INLINE_LEVELS]>,
    base_len: usize,
    /// The boundaries of the open multiparts, innermost last (frames hold
    /// ranges of it), so a multipart costs no allocation of its own; inline
    /// up to [`INLINE_BOUNDARY_BYTES`].
    boundaries: TinyVec<[u8; INLINE_BOUNDARY_BYTES]>,
    base_depth: usize,
    parent: Option<usize>,
    /// Whether the root entity was started.
    root_started: bool,
    finished: bool,
    /// The kept part of an oversized header block and its offset.
    pending_header: Option<(Vec<u8>, u64)>,
    /// Skipping a header line whose start was already dropped.
    skip_mid_line: bool,
    /// The `Content-*` fields of the header block being read, noted as
    /// its lines go by, so the MIME fields are parsed without scanning the
    /// block a second time. Inline up to [`INLINE_NOTED`].
    content_fields: TinyVec<[NotedField; INLINE_NOTED]>,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

type Sink<'s> = dyn for<'e> FnMut(Event<'e>) + 's;

/// What the parser's internals deliver events to: any callback taking
/// every event (the `dyn` one of [`Parser::feed`]), or the tree builder
/// through [`Parser::feed_into`].
pub(crate) trait EventSink {
    /// Takes the next event.
    fn event(&mut self, ev: Event<'_>);

    /// Takes the decoded body of leaf `id`, decoded whole while parsing
    /// (with [`Options::keep_base64`]; no [`Event::Decoded`] is sent).
    fn keep_decoded(&mut self, id: usize, bytes: Vec<u8>) {
        let _ = (id, bytes);
    }

    /// Where the parser fills in the MIME fields of entity `id`, which it
    /// starts next: the sink's own blank [`MimeHeaders`], or `None` (the
    /// default) for a local one that [`Event::PartStart`] then carries.
    /// The tree builder gives the fields of a new part at the end of its
    /// list, so they are written once, where they stay, instead of built,
    /// moved into the event and copied into the list (copies whose loads
    /// met the fill's stores: a store-forwarding stall per part). A sink
    /// that gives a slot is told the rest of the start by
    /// [`EventSink::part_started`], not by an event.
    #[inline(always)]
    fn mime_slot(&mut self, id: usize) -> Option<&mut MimeHeaders> {
        let _ = id;
        None
    }

    /// Entity `start.id` starts, its MIME fields in the slot
    /// [`EventSink::mime_slot`] gave: the rest of [`PartStart`].
    #[inline(always)]
    fn part_started(&mut self, start: Started<'_>) {
        let _ = start;
    }
}

/// [`PartStart`] but for its MIME fields, for a sink that holds them (see
/// [`EventSink::mime_slot`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Started<'a> {
    pub(crate) id: usize,
    pub(crate) parent: Option<usize>,
    pub(crate) depth: usize,
    pub(crate) stream: usize,
    pub(crate) section: &'a [u32],
    pub(crate) offset: u64,
    pub(crate) body_offset: u64,
    pub(crate) kind: PartKind,
    pub(crate) inner_stream: Option<usize>,
}

impl<'a> Started<'a> {
    /// The event of this start, with its MIME fields and header block.
    fn event(self, header: &'a [u8], mime: MimeHeaders) -> Event<'a> {
        Event::PartStart(PartStart {
            id: self.id,
            parent: self.parent,
            depth: self.depth,
            stream: self.stream,
            section: self.section,
            offset: self.offset,
            body_offset: self.body_offset,
            header,
            mime,
            kind: self.kind,
            inner_stream: self.inner_stream,
            from_preamble: false,
        })
    }
}

/// The defects a header block's MIME fields give its entity, as bits of a
/// set (reported in this order).
const START_DEFECTS: [DefectKind; 7] = [
    DefectKind::InvalidContentType,
    DefectKind::UnknownTransferEncoding,
    DefectKind::UnknownCharset,
    DefectKind::MissingBoundary,
    DefectKind::BoundaryTooLong,
    DefectKind::EncodedComposite,
    DefectKind::DepthLimit,
];

impl<F: ?Sized + for<'e> FnMut(Event<'e>)> EventSink for F {
    #[inline]
    fn event(&mut self, ev: Event<'_>) {
        self(ev);
    }
}

impl Parser {
    /// A parser with default options (no decoding).
    pub fn new() -> Self {
        Self::with_options(Options::default())
    }

    /// A parser with `opts`.
    pub fn with_options(opts: Options) -> Self {
        Self {
            opts,
            buf: Vec::new(),
            offset: 0,
            mode: Mode::Headers { scanned: 0 },
            at_line_start: false,
            stack: Vec::with_capacity(8),
            ctr: Counters::default(),
            scratch: Vec::new(),
            stream: 0,
            path: TinyVec::new(),
            base_len: 0,
            boundaries: TinyVec::new(),
            base_depth: 0,
            parent: None,
            root_started: false,
            finished: false,
            pending_header: None,
            skip_mid_line: false,
            content_fields: TinyVec::new(),
        }
    }

    fn nested(opts: Options, stream: usize, section: &[u32], depth: usize, parent: usize) -> Self {
        let mut p = Self::with_options(opts);
        p.stream = stream;
        p.base_len = section.len();
        p.path.extend_from_slice(section);
        p.base_depth = depth;
        p.parent = Some(parent);
        p
    }

    /// Bytes held between calls (a partial header block or delimiter line).
    pub fn buffered(&self) -> usize {
        self.buf.len()
            + self
                .stack
                .iter()
                .map(|f| match &f.kind {
                    FrameKind::Leaf { child: Some(c), .. } => c.buffered(),
                    _ => 0,
                })
                .sum::<usize>()
    }

    /// Feeds the next bytes of the message. Events are delivered to `sink`
    /// before this returns.
    pub fn feed(&mut self, data: &[u8], sink: &mut Sink<'_>) {
        self.feed_into(data, sink);
    }

    /// [`Parser::feed`] into any sink: the tree builder's closure, which
    /// the compiler then sees whole (each event built and taken apart in
    /// place, no indirect call), or the callback of [`Parser::feed`].
    pub(crate) fn feed_into<S: EventSink + ?Sized>(&mut self, mut data: &[u8], sink: &mut S) {
        if self.finished {
            return;
        }
        while !data.is_empty() {
            if self.buf.is_empty() {
                let n = self.process(data, false, sink);
                self.offset += n as u64;
                self.buf.extend_from_slice(&data[n..]);
                return;
            }
            let take = data.len().min(self.buf.len().max(64 * 1024));
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            let buf = std::mem::take(&mut self.buf);
            let n = self.process(&buf, false, sink);
            self.offset += n as u64;
            self.buf = buf;
            self.buf.drain(..n);
        }
    }

    /// Ends the message: flushes what was held back and closes every open
    /// part (reporting what was missing).
    pub fn finish(&mut self, sink: &mut Sink<'_>) {
        self.finish_into(sink);
    }

    /// [`Parser::finish`] into any sink (see [`Parser::feed_into`]).
    pub(crate) fn finish_into<S: EventSink + ?Sized>(&mut self, sink: &mut S) {
        if self.finished {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        let n = self.process(&buf, true, sink);
        self.offset += n as u64;
        let end = self.offset;
        if !self.root_started {
            // Empty input: a message with an empty header and body.
            self.start_part(&[], 0, 0, false, false, sink);
        }
        while !self.stack.is_empty() {
            self.pop_frame(end, true, sink);
        }
        self.finished = true;
    }

    fn defect<S: EventSink + ?Sized>(
        &self,
        kind: DefectKind,
        part: usize,
        offset: u64,
        sink: &mut S,
    ) {
        sink.event(Event::Defect(Defect { kind, part, offset }));
    }

    /// Processes `input` (which starts at `self.offset`); returns how many
    /// bytes were consumed.
    fn process<S: EventSink + ?Sized>(&mut self, input: &[u8], eof: bool, sink: &mut S) -> usize {
        let mut pos = 0;
        loop {
            let mode = self.mode;
            let before = pos;
            pos = match mode {
                Mode::Headers { scanned } => self.scan_headers(input, pos, scanned, eof, sink),
                Mode::SkipHeaders => self.skip_headers(input, pos, eof, sink),
                Mode::Body => self.scan_body(input, pos, eof, sink),
            };
            if pos == before && self.mode == mode {
                return pos;
            }
        }
    }

    /// Active boundaries, innermost first: (frame index, boundary).
    fn match_delimiter(&self, line: &[u8], eof: bool) -> Match {
        // line starts with "--"
        if self.ctr.exhausted {
            return Match::No;
        }
        let body = &line[2..];
        for (idx, frame) in self.stack.iter().enumerate().rev() {
            let FrameKind::Multipart {
                boundary, closed, ..
            } = &frame.kind
            else {
                continue;
            };
            if *closed {
                continue;
            }
            let boundary = &self.boundaries[boundary.clone()];
            if body.len() < boundary.len() {
                if !eof && boundary.starts_with(body) {
                    return Match::NeedMore;
                }
                continue;
            }
            if !mailwire_line::starts_with(body, boundary) {
                continue;
            }
            let rest = &body[boundary.len()..];
            let base = 2 + boundary.len();
            // Close delimiter?
            if rest.first() == Some(&b'-') {
                if rest.len() < 2 {
                    if eof {
                        continue;
                    }
                    return Match::NeedMore;
                }
                if rest[1] == b'-' {
                    // The close line runs to its line end (junk tolerated).
                    let after = &rest[2..];
                    let lim = after.len().min(LINE_SLACK);
                    return match memchr::memchr(b'\n', &after[..lim]) {
                        Some(p) => Match::Yes {
                            frame: idx,
                            close: true,
                            len: base + 2 + p + 1,
                        },
                        None if eof || after.len() >= LINE_SLACK => Match::Yes {
                            frame: idx,
                            close: true,
                            len: base + 2 + lim,
                        },
                        None => Match::NeedMore,
                    };
                }
                continue;
            }
            // Transport padding, then the line end.
            let pad = rest
                .iter()
                .take(LINE_SLACK + 1)
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
            if pad > LINE_SLACK {
                continue;
            }
            let after = &rest[pad..];
            match after.first() {
                None => {
                    if eof {
                        return Match::Yes {
                            frame: idx,
                            close: false,
                            len: base + pad,
                        };
                    }
                    return Match::NeedMore;
                }
                Some(b'\n') => {
                    return Match::Yes {
                        frame: idx,
                        close: false,
                        len: base + pad + 1,
                    };
                }
                Some(b'\r') => match after.get(1) {
                    Some(b'\n') => {
                        return Match::Yes {
                            frame: idx,
                            close: false,
                            len: base + pad + 2,
                        };
                    }
                    None if !eof => return Match::NeedMore,
                    None => {
                        return Match::Yes {
                            frame: idx,
                            close: false,
                            len: base + pad + 1,
                        };
                    }
                    Some(_) => continue,
                },
                Some(_) => continue,
            }
        }
        Match::No
    }

    fn has_active_boundary(&self) -> bool {
        !self.ctr.exhausted
            && self
                .stack
                .iter()
                .any(|f| matches!(&f.kind, FrameKind::Multipart { closed: false, .. }))
    }

    fn scan_headers<S: EventSink + ?Sized>(
        &mut self,
        input: &[u8],
        pos: usize,
        scanned: usize,
        eof: bool,
        sink: &mut S,
    ) -> usize {
        let start = pos;
        let mut ls = start + scanned;
        if scanned == 0 {
            self.content_fields.clear();
        }
        let is_first_root = !self.root_started;
        // The window the lines are found in while it holds them, and where
        // it starts: a part's short header block is read from one.
        let mut window: Option<(usize, HeaderWindow)> = None;
        loop {
            if ls >= input.len() && !eof {
                self.mode = Mode::Headers {
                    scanned: ls - start,
                };
                return self.check_header_overflow(input, start, ls, sink);
            }
            // The line's end, and where the CPU allows it its name's end,
            // from one pass (over the window, or the line alone).
            let (nl, name_end) = match window.and_then(|(at, w)| w.line(ls - at)) {
                Some((lf, name)) => (Some(lf), Some(name)),
                None => {
                    window = HeaderWindow::new(&input[ls..], true).map(|w| (ls, w));
                    match window {
                        Some((_, w)) => w.first_line(&input[ls..]),
                        None => mailwire_line::find_header_line(&input[ls..], true),
                    }
                }
            };
            let line_end = match nl {
                Some(p) => ls + p + 1,
                None if eof => input.len(),
                None => {
                    self.mode = Mode::Headers {
                        scanned: ls - start,
                    };
                    return self.check_header_overflow(input, start, input.len(), sink);
                }
            };
            if line_end - start > self.opts.limits.max_header_size {
                return self.header_overflow(input, start, ls, sink);
            }
            let line = &input[ls..line_end];
            if !matches!(line.first(), Some(b' ' | b'\t')) {
                self.end_noted_field(ls - start);
            }
            if line.is_empty() {
                // eof with nothing more
                if ls > start {
                    let id = self.ctr.next_id;
                    self.defect(DefectKind::TruncatedHeader, id, self.abs(ls), sink);
                }
                self.block_read(input, start, ls, true, sink);
                return ls;
            }
            if line == b"\n" || line == b"\r\n" {
                self.block_read(input, start, line_end, false, sink);
                return line_end;
            }
            if line.starts_with(b"--") && self.has_active_boundary() {
                match self.match_delimiter(line, eof) {
                    Match::NeedMore => {
                        self.mode = Mode::Headers {
                            scanned: ls - start,
                        };
                        return start;
                    }
                    Match::Yes { .. } => {
                        let id = self.ctr.next_id;
                        self.defect(DefectKind::MissingBlankLine, id, self.abs(ls), sink);
                        self.block_read(input, start, ls, true, sink);
                        return ls;
                    }
                    Match::No => {}
                }
            }
            let Some((name_end, colon)) = field_line_named(line, ls == start, name_end) else {
                if ls == start && is_first_root && line.starts_with(b"From ") {
                    let id = self.ctr.next_id;
                    self.defect(DefectKind::MboxFromLine, id, self.abs(ls), sink);
                    ls = line_end;
                    continue;
                }
                // A stray line between fields (a broken fold): look at the
                // next line; when it is a field, keep reading the header.
                if ls > start {
                    let next = &input[line_end..];
                    match memchr::memchr(b'\n', next) {
                        None if !eof && next.len() <= LINE_SLACK * 4 => {
                            self.mode = Mode::Headers {
                                scanned: ls - start,
                            };
                            return self.check_header_overflow(input, start, input.len(), sink);
                        }
                        found => {
                            let next_line = &next[..found.map_or(next.len(), |p| p + 1)];
                            if !next_line.is_empty()
                                && next_line != b"\n"
                                && next_line != b"\r\n"
                                && is_field_line(next_line, false)
                            {
                                let id = self.ctr.next_id;
                                self.defect(DefectKind::InvalidHeaderLine, id, self.abs(ls), sink);
                                self.note_line(line, ls - start);
                                ls = line_end;
                                continue;
                            }
                        }
                    }
                }
                let id = self.ctr.next_id;
                self.defect(DefectKind::MissingBlankLine, id, self.abs(ls), sink);
                self.block_read(input, start, ls, true, sink);
                return ls;
            };
            self.note_field_line(line, ls - start, name_end, colon);
            ls = line_end;
            // A folded field: its continuation lines hold nothing the loop
            // acts on (no name, no delimiter, no blank line), so the run of
            // them is found in one search. Where the field's end is not in
            // the input yet, or lies past the header limit, the loop takes
            // the lines one at a time as before.
            if matches!(input.get(ls), Some(b' ' | b'\t'))
                && let Some(p) = window
                    .and_then(|(at, w)| w.field_end(ls - at))
                    .or_else(|| mailwire_line::find_field_end(&input[ls..]))
                && ls + p + 1 - start <= self.opts.limits.max_header_size
            {
                ls += p + 1;
            }
        }
    }

    fn check_header_overflow<S: EventSink + ?Sized>(
        &mut self,
        input: &[u8],
        start: usize,
        upto: usize,
        sink: &mut S,
    ) -> usize {
        if upto - start > self.opts.limits.max_header_size {
            let Mode::Headers { scanned } = self.mode else {
                return start;
            };
            return self.header_overflow(input, start, start + scanned, sink);
        }
        start
    }

    fn header_overflow<S: EventSink + ?Sized>(
        &mut self,
        input: &[u8],
        start: usize,
        ls: usize,
        sink: &mut S,
    ) -> usize {
        let id = self.ctr.next_id;
        self.defect(DefectKind::HeaderTooLarge, id, self.abs(ls), sink);
        // Keep the part of the header that fits; the entity starts once the
        // rest of its header block has been skipped.
        self.pending_header = Some((input[start..ls].to_vec(), self.abs(start)));
        self.mode = Mode::SkipHeaders;
        ls
    }

    fn skip_headers<S: EventSink + ?Sized>(
        &mut self,
        input: &[u8],
        pos: usize,
        eof: bool,
        sink: &mut S,
    ) -> usize {
        let mut ls = pos;
        loop {
            match memchr::memchr(b'\n', &input[ls..]) {
                Some(p) => {
                    let line = &input[ls..ls + p + 1];
                    let continued = std::mem::take(&mut self.skip_mid_line);
                    ls += p + 1;
                    if !continued && (line == b"\n" || line == b"\r\n") {
                        self.end_skip(ls, sink);
                        return ls;
                    }
                }
                None => {
                    if eof {
                        self.end_skip(input.len(), sink);
                        return input.len();
                    }
                    // A long partial line cannot be the blank line: drop it,
                    // remembering that its end is still to come.
                    if input.len() - ls > LINE_SLACK {
                        self.skip_mid_line = true;
                        return input.len();
                    }
                    return ls;
                }
            }
        }
    }

    /// The oversized header block ended at `body` (relative index).
    fn end_skip<S: EventSink + ?Sized>(&mut self, body: usize, sink: &mut S) {
        let (header, offset) = self.pending_header.take().unwrap_or_default();
        let body = self.abs(body);
        self.start_part(&header, offset, body, false, false, sink);
    }

    fn abs(&self, i: usize) -> u64 {
        self.offset + i as u64
    }

    /// Starts an entity whose header block was read; pushes its frame and
    /// sets the mode for its body.
    /// The header block `input[start..end]` that `scan_headers` read is
    /// complete: start its entity.
    fn block_read<S: EventSink + ?Sized>(
        &mut self,
        input: &[u8],
        start: usize,
        end: usize,
        no_blank: bool,
        sink: &mut S,
    ) {
        self.start_part(
            &input[start..end],
            self.abs(start),
            self.abs(end),
            no_blank,
            true,
            sink,
        );
    }

    /// Starts the top-level entity from its header block `input[..end]`
    /// (blank line included) as another parser split it, instead of
    /// scanning it: `fields` gives each field's start, end (past its final
    /// line end) and colon, from the block's start, in order. What follows
    /// goes to [`Parser::feed_into`] from `end` on. The caller makes sure
    /// the split is one this parser's scan would have made (a clean
    /// header, see [`crate::Message::parse_after_header`]).
    pub(crate) fn start_root_split<S: EventSink + ?Sized>(
        &mut self,
        input: &[u8],
        end: usize,
        fields: impl Iterator<Item = (usize, usize, usize)>,
        sink: &mut S,
    ) {
        self.content_fields.clear();
        for (start, field_end, colon) in fields {
            let line = &input[start..field_end];
            let (Ok(rel), Ok(rel_end)) = (u32::try_from(start), u32::try_from(field_end)) else {
                continue;
            };
            let name_end = name_end(line);
            if let Some(mut f) = NotedField::with_name(line, rel, name_end, colon) {
                f.end = rel_end;
                self.content_fields.push(f);
            }
        }
        self.block_read(input, 0, end, false, sink);
        self.offset += end as u64;
    }

    /// Notes a line of the header block (at `rel` from its start) that
    /// may start a `Content-*` field.
    fn note_line(&mut self, line: &[u8], rel: usize) {
        self.note(line, rel, NotedField::new);
    }

    /// [`Parser::note_line`] for a line [`field_line`] accepted, given the
    /// end of its name and its colon (from the line's start). Inlined: it
    /// runs for every field line of every header block.
    #[inline(always)]
    fn note_field_line(&mut self, line: &[u8], rel: usize, name_end: usize, colon: usize) {
        self.note(line, rel, |line, rel| {
            NotedField::with_name(line, rel, name_end, colon)
        });
    }

    /// Keeps the field `noted` makes of `line` (at `rel`), if it starts
    /// with a `c`: the only lines that can start a `Content-*` field.
    #[inline(always)]
    fn note(
        &mut self,
        line: &[u8],
        rel: usize,
        noted: impl FnOnce(&[u8], u32) -> Option<NotedField>,
    ) {
        if matches!(line.first(), Some(b'c' | b'C'))
            && let Ok(rel) = u32::try_from(rel)
            && let Some(field) = noted(line, rel)
        {
            self.content_fields.push(field);
        }
    }

    /// A line that is not a continuation starts at `rel` from the start
    /// of the header block: the `Content-*` field before it, if any, ends
    /// there. (Beyond 4 GiB, which no limit allows by default, the field
    /// is left running to the end of the block.)
    fn end_noted_field(&mut self, rel: usize) {
        if let Some(f) = self.content_fields.last_mut()
            && f.end == NotedField::OPEN
            && let Ok(rel) = u32::try_from(rel)
        {
            f.end = rel;
        }
    }

    /// `scanned`: `header` is the block `scan_headers` read, whose
    /// `Content-*` fields are in `content_fields`.
    fn start_part<S: EventSink + ?Sized>(
        &mut self,
        header: &[u8],
        offset: u64,
        body_offset: u64,
        no_blank: bool,
        scanned: bool,
        sink: &mut S,
    ) {
        let _ = no_blank;
        // Where this entity sits. Its section: the enclosing part's (a
        // prefix of `path`), with its number among the body parts of a
        // multipart.
        let (parent, depth, digest, message_entity) = match self.stack.last() {
            None => {
                self.path.truncate(self.base_len);
                (self.parent, self.base_depth, false, true)
            }
            Some(f) => {
                self.path.truncate(f.section_len);
                let depth = f.depth + 1;
                match &f.kind {
                    FrameKind::Multipart {
                        digest, children, ..
                    } => {
                        self.path.push(*children);
                        (Some(f.id), depth, *digest, false)
                    }
                    _ => (Some(f.id), depth, false, true),
                }
            }
        };
        self.root_started = true;
        let id = self.ctr.next_id;
        self.ctr.next_id += 1;
        let noted = scanned.then_some(&self.content_fields[..]);
        // The fields go into the sink's slot where it has one, else into a
        // local that the event carries.
        let mut local = None;
        let mime = match sink.mime_slot(id) {
            Some(slot) => slot,
            None => local.insert(MimeHeaders::blank()),
        };
        mime.fill_given_noted(header, noted, digest);
        if scanned {
            self.content_fields.clear();
        }
        // What the fields make of the entity, read while they are borrowed;
        // the defects are reported after.
        let mut defects = 0u8;
        let mut flag = |k: DefectKind| {
            if let Some(i) = START_DEFECTS.iter().position(|&d| d == k) {
                defects |= 1 << i;
            }
        };
        if mime.content_type_invalid {
            flag(DefectKind::InvalidContentType);
        }
        if mime.transfer_encoding_unknown {
            flag(DefectKind::UnknownTransferEncoding);
        }
        if mime.content_type.ty() == "text"
            && let Some(cs) = mime.content_type.param("charset")
            && mailwire_message::charset::Charset::for_label(cs.as_bytes()).is_none()
        {
            flag(DefectKind::UnknownCharset);
        }
        let limits = self.opts.limits;
        let mut kind = if mime.content_type.is_multipart() {
            PartKind::Multipart
        } else if mime.content_type.is_message() {
            if mime.transfer_encoding.is_identity() {
                PartKind::Message
            } else {
                PartKind::EncodedMessage
            }
        } else {
            PartKind::Leaf
        };
        let mut boundary_text = None;
        if kind == PartKind::Multipart {
            match mime.content_type.boundary() {
                Some("") | None => {
                    flag(DefectKind::MissingBoundary);
                    kind = PartKind::Leaf;
                }
                Some(b) if b.len() > limits.max_boundary_len => {
                    flag(DefectKind::BoundaryTooLong);
                    kind = PartKind::Leaf;
                }
                Some(b) => boundary_text = Some(b),
            }
            if kind == PartKind::Multipart && !mime.transfer_encoding.is_identity() {
                flag(DefectKind::EncodedComposite);
            }
        }
        if kind != PartKind::Leaf && depth >= limits.max_depth {
            flag(DefectKind::DepthLimit);
            kind = PartKind::Leaf;
        }
        let part_limit = !self.ctr.exhausted && self.ctr.next_id >= limits.max_parts;
        if part_limit {
            self.ctr.exhausted = true;
            kind = PartKind::Leaf;
        }
        let mut boundary = 0..0;
        if kind == PartKind::Multipart
            && let Some(b) = boundary_text
        {
            let at = self.boundaries.len();
            self.boundaries.extend_from_slice(b.as_bytes());
            boundary = at..self.boundaries.len();
        }
        let te = mime.transfer_encoding;
        let digest = mime.content_type.subtype() == "digest";
        for (i, &k) in START_DEFECTS.iter().enumerate() {
            if defects & (1 << i) != 0 {
                self.defect(k, id, offset, sink);
            }
        }
        if part_limit {
            self.defect(DefectKind::PartLimit, id, offset, sink);
        }
        // IMAP numbering: a message's non-multipart body is part 1 of it.
        if message_entity && kind != PartKind::Multipart {
            self.path.push(1);
        }
        let section_len = self.path.len();
        let inner_stream = if kind == PartKind::EncodedMessage {
            self.ctr.next_stream += 1;
            Some(self.ctr.next_stream)
        } else {
            None
        };
        // The frame is made before the part is given to the sink: made
        // right before its push, its stores were still pending when the
        // push copied it into the list with wider loads, which then waited
        // (a store-forwarding stall per part, an eighth of this function's
        // time on nested messages).
        let kind_of_frame = match kind {
            PartKind::Multipart => FrameKind::Multipart {
                boundary,
                digest,
                children: 0,
                closed: false,
                body_start: body_offset,
                preamble_end: None,
            },
            PartKind::Message => FrameKind::Message,
            PartKind::Leaf => FrameKind::Leaf {
                decoder: self.opts.decode.then(|| Decoder::new(te)),
                child: None,
                whole_base64: self.opts.keep_base64 && te == crate::TransferEncoding::Base64,
            },
            PartKind::EncodedMessage => FrameKind::Leaf {
                decoder: Some(Decoder::new(te)),
                child: Some(Box::new(Parser::nested(
                    self.opts,
                    inner_stream.unwrap_or_default(),
                    &self.path,
                    depth + 1,
                    id,
                ))),
                whole_base64: false,
            },
        };
        let frame = Frame {
            id,
            section_len,
            depth,
            kind: kind_of_frame,
        };
        let started = Started {
            id,
            parent,
            depth,
            stream: self.stream,
            section: &self.path,
            offset,
            body_offset,
            kind,
            inner_stream,
        };
        match local {
            Some(mime) => sink.event(started.event(header, mime)),
            None => sink.part_started(started),
        }
        self.stack.push(frame);
        self.mode = match kind {
            PartKind::Message => Mode::Headers { scanned: 0 },
            _ => Mode::Body,
        };
        self.at_line_start = true;
    }

    /// Emits body bytes of the innermost frame.
    fn emit<S: EventSink + ?Sized>(&mut self, data: &[u8], offset: u64, sink: &mut S) {
        if data.is_empty() {
            return;
        }
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        let id = frame.id;
        match &mut frame.kind {
            FrameKind::Leaf { decoder, child, .. } => {
                sink.event(Event::Body { id, offset, data });
                match decoder {
                    Some(Decoder::Identity) => {
                        sink.event(Event::Decoded { id, data });
                        if let Some(c) = child {
                            c.ctr = self.ctr;
                            c.feed_into(data, sink);
                            self.ctr = c.ctr;
                        }
                    }
                    Some(d) => {
                        self.scratch.clear();
                        d.decode(data, &mut self.scratch);
                        if !self.scratch.is_empty() {
                            sink.event(Event::Decoded {
                                id,
                                data: &self.scratch,
                            });
                            if let Some(c) = child {
                                c.ctr = self.ctr;
                                c.feed_into(&self.scratch, sink);
                                self.ctr = c.ctr;
                            }
                        }
                    }
                    None => {}
                }
            }
            FrameKind::Multipart {
                children, closed, ..
            } => {
                if *closed {
                    sink.event(Event::Epilogue { id, offset, data });
                } else if *children == 0 {
                    sink.event(Event::Preamble { id, offset, data });
                }
            }
            FrameKind::Message => {}
        }
    }

    /// Closes the innermost frame at offset `end`.
    fn pop_frame<S: EventSink + ?Sized>(&mut self, end: u64, at_eof: bool, sink: &mut S) {
        let Some(mut frame) = self.stack.pop() else {
            return;
        };
        match &mut frame.kind {
            FrameKind::Leaf { decoder, child, .. } => {
                if let Some(d) = decoder {
                    self.scratch.clear();
                    d.finish(&mut self.scratch);
                    if !self.scratch.is_empty() {
                        sink.event(Event::Decoded {
                            id: frame.id,
                            data: &self.scratch,
                        });
                        if let Some(c) = child.as_mut() {
                            c.ctr = self.ctr;
                            c.feed_into(&self.scratch, sink);
                            self.ctr = c.ctr;
                        }
                    }
                }
                if let Some(c) = child.as_mut() {
                    c.ctr = self.ctr;
                    c.finish_into(sink);
                    self.ctr = c.ctr;
                }
            }
            FrameKind::Multipart {
                boundary,
                closed,
                children,
                body_start,
                preamble_end,
                ..
            } => {
                // The innermost open multipart's boundary is the last one.
                self.boundaries.truncate(boundary.start);
                if *children == 0 {
                    self.defect(DefectKind::NoParts, frame.id, end, sink);
                }
                if !*closed {
                    self.defect(DefectKind::MissingCloseDelimiter, frame.id, end, sink);
                }
                if *children == 0 {
                    let body = *body_start..preamble_end.unwrap_or(end);
                    self.preamble_leaf(&frame, body, sink);
                }
            }
            FrameKind::Message => {}
        }
        let _ = at_eof;
        sink.event(Event::PartEnd(PartEnd { id: frame.id, end }));
    }

    /// Gives multipart `frame`, which ends without any body part, one leaf
    /// over `body` (its preamble): see [`PartStart::from_preamble`]. None
    /// once the part limit is reached.
    fn preamble_leaf<S: EventSink + ?Sized>(
        &mut self,
        frame: &Frame,
        body: std::ops::Range<u64>,
        sink: &mut S,
    ) {
        if self.ctr.exhausted || self.ctr.next_id >= self.opts.limits.max_parts {
            return;
        }
        let id = self.ctr.next_id;
        self.ctr.next_id += 1;
        self.path.truncate(frame.section_len);
        self.path.push(1);
        sink.event(Event::PartStart(PartStart {
            id,
            parent: Some(frame.id),
            depth: frame.depth + 1,
            stream: self.stream,
            section: &self.path,
            offset: body.start,
            body_offset: body.start,
            header: &[],
            mime: MimeHeaders::parse(&[], false),
            kind: PartKind::Leaf,
            inner_stream: None,
            from_preamble: true,
        }));
        sink.event(Event::PartEnd(PartEnd { id, end: body.end }));
    }

    fn scan_body<S: EventSink + ?Sized>(
        &mut self,
        input: &[u8],
        pos: usize,
        eof: bool,
        sink: &mut S,
    ) -> usize {
        let pos = pos + self.base64_body(&input[pos..], self.abs(pos), eof, sink);
        let data = &input[pos..];
        let base = self.abs(pos);
        if !self.has_active_boundary() {
            self.emit(data, base, sink);
            self.at_line_start = false;
            return input.len();
        }
        let mut search = 0usize;
        let mut first = self.at_line_start;
        loop {
            // The next candidate line start `l` and where its line end begins `nl`.
            let cand = if first {
                first = false;
                if data.len() < 2 && !eof {
                    if data.is_empty() || data[0] == b'-' {
                        return pos;
                    }
                    None.or(self.find_candidate(data, 0))
                } else if data.starts_with(b"--") {
                    Some((0, 0))
                } else {
                    self.find_candidate(data, 0)
                }
            } else {
                self.find_candidate(data, search)
            };
            let Some((l, nl)) = cand else {
                let keep = if eof { data.len() } else { tail_holdback(data) };
                self.emit(&data[..keep], base, sink);
                if keep > 0 {
                    self.at_line_start = false;
                }
                return pos + keep;
            };
            match self.match_delimiter(&data[l..], eof) {
                Match::NeedMore => {
                    self.emit(&data[..nl], base, sink);
                    if nl > 0 {
                        self.at_line_start = false;
                    }
                    return pos + nl;
                }
                Match::No => {
                    search = l;
                }
                Match::Yes { frame, close, len } => {
                    self.emit(&data[..nl], base, sink);
                    let end = base + nl as u64;
                    self.delimiter(frame, close, end, sink);
                    return pos + l + len;
                }
            }
        }
    }

    /// The tree's decoding parse, at the start of a base64 leaf's body:
    /// the body decoded whole (its whole lines by `base64_avx512` where
    /// the CPU has AVX-512 VBMI, the rest by encodify's SIMD decoder), which takes the
    /// longest run of base64 symbols, white space and `=` and stops at any
    /// other byte. If that byte starts a delimiter line of an open
    /// multipart, the run was the body: no delimiter can hide in it (`-`
    /// is no base64 byte), so the body needs no search of its own, and is
    /// read once instead of once for the search and once more when
    /// decoded. The sink keeps the bytes; the body is emitted as its raw
    /// bytes without the line end that belongs to the delimiter (RFC 2046
    /// §5.1.1), which the search after this finds. Anything else (junk, a
    /// run cut short, a body no boundary ends, which is never searched
    /// anyway) is left to the usual path and the body decoded on request.
    /// Returns the bytes taken.
    fn base64_body<S: EventSink + ?Sized>(
        &mut self,
        data: &[u8],
        offset: u64,
        eof: bool,
        sink: &mut S,
    ) -> usize {
        let Some(Frame {
            id,
            kind: FrameKind::Leaf { whole_base64, .. },
            ..
        }) = self.stack.last_mut()
        else {
            return 0;
        };
        if !std::mem::take(whole_base64) || !self.at_line_start {
            return 0;
        }
        // A short body is left to the usual path (searched, then decoded
        // on request): read twice, it is still in the cache the second
        // time, and its room is made to measure.
        if data.len() < SHORT_BODY || mailwire_line::find_dash_line(&data[..SHORT_BODY]).is_some() {
            return 0;
        }
        let id = *id;
        // Room for all `data` can decode to (untouched past what is
        // written), given back below if the body was much shorter.
        let mut bytes = Vec::with_capacity(crate::base64_avx512::room(data.len()));
        // Whole lines first where the CPU has AVX-512 (they end between
        // quanta, so encodify goes on as if it had read them itself).
        let lines = crate::base64_avx512::decode_lines(data, &mut bytes);
        let run = lines + encodify::base64::MIME.decode_prefix(&data[lines..], &mut bytes);
        // A delimiter line starts with two dashes (which `match_delimiter`
        // takes as given); the run may end anywhere else too: at the end
        // of the input, at one dash, at junk.
        let delimiter = run > 0
            && data[run - 1] == b'\n'
            && data[run..].starts_with(b"--")
            && matches!(self.match_delimiter(&data[run..], eof), Match::Yes { .. });
        if !delimiter {
            return 0;
        }
        // The body ends where the delimiter's line end (LF, after a CR if
        // there is one) begins.
        let body = run - 1 - usize::from(run >= 2 && data[run - 2] == b'\r');
        if bytes.capacity() - bytes.len() > SPARE_KEPT.max(bytes.len() / 8) {
            bytes.shrink_to_fit();
        }
        sink.keep_decoded(id, bytes);
        sink.event(Event::Body {
            id,
            offset,
            data: &data[..body],
        });
        self.at_line_start = false;
        body
    }

    /// Finds "\n--" at or after `from`: returns (line start, line-end start).
    fn find_candidate(&self, data: &[u8], from: usize) -> Option<(usize, usize)> {
        let p = from + mailwire_line::find_dash_line(&data[from..])?;
        let nl = if p > 0 && data[p - 1] == b'\r' {
            p - 1
        } else {
            p
        };
        Some((p + 1, nl))
    }

    /// Handles a delimiter of frame `idx` whose line end begins at `end`.
    fn delimiter<S: EventSink + ?Sized>(
        &mut self,
        idx: usize,
        close: bool,
        end: u64,
        sink: &mut S,
    ) {
        while self.stack.len() > idx + 1 {
            self.pop_frame(end, false, sink);
        }
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        if let FrameKind::Multipart {
            children,
            closed,
            preamble_end,
            ..
        } = &mut frame.kind
        {
            if close {
                if *children == 0 {
                    *preamble_end = Some(end);
                }
                *closed = true;
                self.mode = Mode::Body;
            } else {
                *children += 1;
                self.mode = Mode::Headers { scanned: 0 };
            }
        }
        self.at_line_start = true;
    }
}

/// Longest field name (with the white space before its colon) looked at.
const MAX_NAME: usize = 998;

/// Whether `line` is a header field line (or a continuation, unless `first`):
/// a name of printable characters, optional white space, then `:`. Only
/// the name is looked at.
fn is_field_line(line: &[u8], first: bool) -> bool {
    field_line(line, first).is_some()
}

/// [`is_field_line`], giving for a field line where its name ends and
/// where its colon is (`(0, 0)` for a continuation line), so a
/// `Content-*` field is noted without scanning its name again.
fn field_line(line: &[u8], first: bool) -> Option<(usize, usize)> {
    field_line_named(line, first, None)
}

/// [`field_line`] given where the line's name ends when that is known
/// already ([`mailwire_line::find_header_line`] finds it with the line).
#[inline(always)]
fn field_line_named(line: &[u8], first: bool, name_end: Option<usize>) -> Option<(usize, usize)> {
    match line.first() {
        Some(b' ' | b'\t') => (!first).then_some((0, 0)),
        Some(_) => {
            // A name runs at most to the line length limit (RFC 5322
            // §2.1.1); bounding it keeps the decision the same however much
            // of a long line has arrived.
            let line = &line[..line.len().min(MAX_NAME)];
            let i = name_end.unwrap_or_else(|| self::name_end(line));
            match line.get(i) {
                Some(b':') => (i > 0).then_some((i, i)),
                Some(b' ' | b'\t') => {
                    // Only white space may follow, then the colon.
                    let rest = &line[i..];
                    let ws = rest
                        .iter()
                        .take_while(|&&b| b == b' ' || b == b'\t')
                        .count();
                    (i > 0 && rest.get(ws) == Some(&b':')).then_some((i, i + ws))
                }
                // A control character, or no colon within the limit.
                _ => None,
            }
        }
        None => None,
    }
}

/// The index of the first byte of `line` that cannot be part of a field
/// name: `:`, a space, a control character (tab included) or DEL
/// (`line.len()` when none); eight-bit bytes are taken into the name.
pub(crate) fn name_end(line: &[u8]) -> usize {
    mailwire_line::field_name_len(line, true)
}

/// How much of `data` (no candidate delimiter in it) can be emitted: all but
/// a trailing line end, or line end and `-`, that may start a delimiter.
fn tail_holdback(data: &[u8]) -> usize {
    let n = data.len();
    if n == 0 {
        return 0;
    }
    match data[n - 1] {
        b'\r' => n - 1,
        b'\n' => {
            if n >= 2 && data[n - 2] == b'\r' {
                n - 2
            } else {
                n - 1
            }
        }
        b'-' if n >= 2 && data[n - 2] == b'\n' => {
            if n >= 3 && data[n - 3] == b'\r' {
                n - 3
            } else {
                n - 2
            }
        }
        _ => n,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    No,
    NeedMore,
    Yes {
        frame: usize,
        close: bool,
        len: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Header lines for [`noted_fields_match_full_parse`]: `Content-*`
    /// fields in every form (folded, white space before the colon, no
    /// colon, stray lines, controls), other fields and line ends.
    fn header_line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"Content-Type: text/plain; charset=utf-8".to_vec()),
            Just(b"content-type:multipart/mixed;".to_vec()),
            Just(b"\tboundary=\"b\"".to_vec()),
            Just(b" name=x.txt".to_vec()),
            Just(b"Content-Type : image/png".to_vec()),
            Just(b"Content-Type \t: image/png".to_vec()),
            Just(b"CONTENT-TRANSFER-ENCODING: base64".to_vec()),
            Just(b"Content-Disposition: attachment; filename=\"a b\"".to_vec()),
            Just(b"Content-ID: <x@y>".to_vec()),
            Just(b"Content-Language: en, fr".to_vec()),
            Just(b"Content-Description: =?utf-8?q?caf=C3=A9?=".to_vec()),
            Just(b"Content-Type\x0c: text/html".to_vec()),
            Just(b"content-type".to_vec()),
            Just(b"content-".to_vec()),
            Just(b"Content-Type: text/html\x01".to_vec()),
            Just(b"Cc: a@b".to_vec()),
            Just(b"Subject: content-type: x".to_vec()),
            Just(b"stray line".to_vec()),
            Just(b"c".to_vec()),
            Just(b"".to_vec()),
            "[ -~\t]{0,30}".prop_map(String::into_bytes),
        ]
    }

    /// A message beyond the inline room of every list the parser keeps:
    /// ten nested multiparts (sections of ten levels) with 70-byte
    /// boundaries (700 bytes of them open at once), and a leaf with eight
    /// `Content-*` fields. Whole or byte by byte, the lists move to the
    /// heap and the parts, sections and fields come out as they do for a
    /// small message.
    #[test]
    fn lists_beyond_their_inline_room() {
        const LEVELS: usize = 10;
        let boundary = |level: usize| format!("{level:02}{}", "b".repeat(68));
        let mut msg = Vec::new();
        for level in 0..LEVELS {
            msg.extend_from_slice(
                format!(
                    "Content-Type: multipart/mixed; boundary=\"{}\"\r\n\r\n--{}\r\n",
                    boundary(level),
                    boundary(level)
                )
                .as_bytes(),
            );
        }
        let leaf_header = "Content-Type: text/plain; charset=utf-8\r\n\
            Content-Transfer-Encoding: 8bit\r\n\
            Content-Disposition: attachment; filename=deep.txt\r\n\
            Content-ID: <deep@example>\r\n\
            Content-Description: the deepest part\r\n\
            Content-Language: en\r\n\
            Content-Location: deep.txt\r\n\
            Content-Base: x\r\n\r\n";
        msg.extend_from_slice(leaf_header.as_bytes());
        msg.extend_from_slice(b"deep\r\n");
        for level in (0..LEVELS).rev() {
            msg.extend_from_slice(format!("--{}--\r\n", boundary(level)).as_bytes());
        }

        let tree = crate::Message::parse(&msg);
        assert_eq!(tree.defects(), &[]);
        assert_eq!(tree.parts().len(), LEVELS + 1);
        let leaf = &tree.parts()[LEVELS];
        assert_eq!(leaf.section_string(), ["1"; LEVELS].join("."));
        assert_eq!(tree.raw_body(leaf), b"deep");
        assert_eq!(leaf.mime, MimeHeaders::parse(leaf_header.as_bytes(), false));
        assert_eq!(leaf.mime.filename(), Some("deep.txt"));
        assert_eq!(leaf.mime.location(), Some("deep.txt"));
        for (level, part) in tree.parts()[..LEVELS].iter().enumerate() {
            assert_eq!(part.mime.content_type.boundary(), Some(&*boundary(level)));
        }

        let mut parser = Parser::new();
        let mut sections = Vec::new();
        let mut sink = |ev: Event<'_>| match ev {
            Event::PartStart(s) => sections.push(s.section.to_vec()),
            Event::Defect(d) => panic!("{d:?}"),
            _ => {}
        };
        for b in msg.chunks(1) {
            parser.feed(b, &mut sink);
        }
        parser.finish(&mut sink);
        let want: Vec<Vec<u32>> = tree.parts().iter().map(|p| p.section.to_vec()).collect();
        assert_eq!(sections, want);
    }

    proptest! {
        /// The MIME fields the parser gives with each entity (from the
        /// `Content-*` fields it noted while reading the header block) are
        /// those `MimeHeaders::parse` finds scanning the block again,
        /// whatever the lines, line ends and split of the input.
        #[test]
        fn noted_fields_match_full_parse(
            lines in proptest::collection::vec((header_line(), prop_oneof![Just("\r\n"), Just("\n")]), 0..10),
            body in "[a-z\r\n-]{0,20}",
            split in 1usize..40,
        ) {
            let mut msg = Vec::new();
            for (line, end) in &lines {
                msg.extend_from_slice(line);
                msg.extend_from_slice(end.as_bytes());
            }
            msg.extend_from_slice(body.as_bytes());
            for chunk in [msg.len().max(1), split] {
                let mut parser = Parser::new();
                let mut starts = Vec::new();
                let mut sink = |ev: Event<'_>| {
                    if let Event::PartStart(s) = ev {
                        starts.push((s.header.to_vec(), s.mime));
                    }
                };
                for c in msg.chunks(chunk) {
                    parser.feed(c, &mut sink);
                }
                parser.finish(&mut sink);
                for (header, mime) in &starts {
                    prop_assert_eq!(mime, &MimeHeaders::parse(header, false));
                }
                prop_assert!(!starts.is_empty());
            }
        }

        /// A folded field's continuation lines, skipped in one search when
        /// the input holds the field's end: whole or in chunks (where the
        /// end is often not there yet and the lines go one at a time), the
        /// entities start at the same places with the same fields and the
        /// same defects, the header limit falling before, inside or after
        /// a long fold.
        #[test]
        fn folded_fields_in_any_split(
            folds in proptest::collection::vec(
                ("[a-z ]{0,90}", prop_oneof![Just(" "), Just("\t"), Just("  ")], prop_oneof![Just("\r\n"), Just("\n")]),
                0..40),
            fold_ct in any::<bool>(),
            limit in prop_oneof![Just(usize::MAX), 40usize..3000],
            split in 1usize..100,
        ) {
            let mut msg = b"Subject: long\r\n".to_vec();
            msg.extend_from_slice(if fold_ct { b"Content-Type: text/plain;\r\n" } else { b"To: a,\r\n" });
            for (text, lead, end) in &folds {
                msg.extend_from_slice(lead.as_bytes());
                msg.extend_from_slice(text.as_bytes());
                msg.extend_from_slice(end.as_bytes());
            }
            msg.extend_from_slice(b" charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n");
            let opts = Options {
                limits: Limits { max_header_size: limit, ..Limits::default() },
                ..Options::default()
            };
            let run = |chunk: usize| {
                let mut parser = Parser::with_options(opts);
                let mut seen = Vec::new();
                let mut sink = |ev: Event<'_>| match ev {
                    Event::PartStart(s) => seen.push(format!(
                        "start {} {} {:?} {:?}", s.offset, s.body_offset, s.header, s.mime
                    )),
                    Event::Defect(d) => seen.push(format!("{d:?}")),
                    _ => {}
                };
                for c in msg.chunks(chunk) {
                    parser.feed(c, &mut sink);
                }
                parser.finish(&mut sink);
                seen
            };
            let whole = run(msg.len());
            prop_assert_eq!(&run(1), &whole);
            prop_assert_eq!(&run(split), &whole);
            prop_assert!(whole.iter().any(|e| e.starts_with("start")));
        }

        /// The tree of a message whose header another parser split
        /// (`Message::parse_after_header`) is the tree of `Message::parse`,
        /// whatever the header lines (every form of `Content-*` field,
        /// stray lines, controls), line ends, blank line and body.
        #[test]
        fn tree_after_a_split_header_is_the_same(
            lines in proptest::collection::vec((header_line(), prop_oneof![Just("\r\n"), Just("\n")]), 0..10),
            blank in prop_oneof![Just(""), Just("\r\n"), Just("\n")],
            body in "[a-z\r\n-]{0,20}",
        ) {
            let mut msg = Vec::new();
            for (line, end) in &lines {
                msg.extend_from_slice(line);
                msg.extend_from_slice(end.as_bytes());
            }
            msg.extend_from_slice(blank.as_bytes());
            msg.extend_from_slice(body.as_bytes());
            let header = mailwire_message::HeaderSection::parse(&msg);
            let after = crate::Message::parse_after_header(&header);
            let scanned = crate::Message::parse(&msg);
            prop_assert_eq!(format!("{:?}", after.parts()), format!("{:?}", scanned.parts()));
            prop_assert_eq!(after.defects(), scanned.defects());
        }
    }
}

//! Leaf summaries for the `parse` example: the `"parts"` array, `--stream`
//! and `--tree`.
//!
//! [`leaf_parts`] summarises a parsed [`Message`]; [`StreamSummarizer`]
//! produces the identical list from the streaming parser, hashing decoded
//! bytes as they arrive, so the message never needs to be in memory (the
//! text of `text/*` parts is kept, since it is part of the output).
//! [`parts_json`] writes the list as JSON; [`outline`] writes the tree.

use sha2::{Digest, Sha256};

use crate::charset::decode_text;
use crate::headers::MimeHeaders;
use crate::stream::{Event, Options, Parser, PartKind};
use crate::tree::{Message, section_to_string};

/// One leaf part, as the `parse` example prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSummary {
    /// IMAP section (`1.2`).
    pub section: String,
    /// `type/subtype`, lower-cased.
    pub content_type: String,
    /// The charset parameter, lower-cased (the RFC 2045 default `us-ascii`
    /// when the Content-Type field is missing or broken on a text part).
    pub charset: Option<String>,
    /// `attachment`, `inline`, or another disposition type.
    pub disposition: Option<String>,
    /// The filename (Content-Disposition `filename`, else Content-Type
    /// `name`), decoded.
    pub filename: Option<String>,
    /// Decoded size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the decoded bytes.
    pub sha256: String,
    /// The decoded text in UTF-8 for `text/*` parts.
    pub text: Option<String>,
}

fn describe(section: &[u32], mime: &MimeHeaders) -> PartSummary {
    let is_text = mime.content_type.ty() == "text";
    PartSummary {
        section: section_to_string(section),
        content_type: mime.mime_type(),
        charset: mime.content_type.charset(),
        disposition: mime.disposition.as_ref().map(|d| d.kind().to_owned()),
        filename: mime.filename().map(str::to_owned),
        size: 0,
        sha256: String::new(),
        text: is_text.then(String::new),
    }
}

fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[usize::from(b >> 4)] as char);
        s.push(H[usize::from(b & 15)] as char);
    }
    s
}

fn text_of(mime: &MimeHeaders, data: &[u8]) -> String {
    let cs = mime.content_type.charset();
    decode_text(cs.as_deref().unwrap_or("us-ascii").as_bytes(), data)
        .0
        .into_owned()
}

/// The leaf parts of `msg`, depth-first, descending into encapsulated
/// messages.
pub fn leaf_parts(msg: &Message<'_>) -> Vec<PartSummary> {
    msg.leaves()
        .map(|p| {
            let data = msg.decoded(p);
            let mut s = describe(&p.section, &p.mime);
            s.size = data.len() as u64;
            s.sha256 = hex(&Sha256::digest(&data));
            if s.text.is_some() {
                s.text = Some(text_of(&p.mime, &data));
            }
            s
        })
        .collect()
}

#[derive(Debug)]
struct Open {
    id: usize,
    index: usize,
    hasher: Sha256,
    text: Option<Vec<u8>>,
    mime: MimeHeaders,
}

impl Open {
    /// Decoded bytes of this leaf.
    fn add(&mut self, data: &[u8], done: &mut [PartSummary]) {
        self.hasher.update(data);
        if let Some(t) = &mut self.text {
            t.extend_from_slice(data);
        }
        if let Some(s) = done.get_mut(self.index) {
            s.size += data.len() as u64;
        }
    }
}

/// Builds the same list as [`leaf_parts`] from the streaming parser.
///
/// ```
/// use mailwire_mime::{Message, summary::{leaf_parts, StreamSummarizer}};
/// let raw = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n";
/// let mut s = StreamSummarizer::new();
/// for chunk in raw.chunks(5) { s.feed(chunk); }
/// assert_eq!(s.finish(), leaf_parts(&Message::parse(raw)));
/// ```
#[derive(Debug)]
pub struct StreamSummarizer {
    parser: Parser,
    done: Vec<PartSummary>,
    open: Vec<Open>,
    /// The preamble of every open multipart that has no body part yet: the
    /// body of its leaf should it end without one (`PartStart::from_preamble`).
    preambles: Vec<(usize, Vec<u8>)>,
}

impl Default for StreamSummarizer {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamSummarizer {
    /// A summarizer with default limits.
    pub fn new() -> Self {
        Self::with_options(Options::default())
    }

    /// A summarizer with `opts` (decoding is always on).
    pub fn with_options(opts: Options) -> Self {
        Self {
            parser: Parser::with_options(Options {
                decode: true,
                ..opts
            }),
            done: Vec::new(),
            open: Vec::new(),
            preambles: Vec::new(),
        }
    }

    /// Feeds the next bytes of the message.
    pub fn feed(&mut self, data: &[u8]) {
        let Self {
            parser,
            done,
            open,
            preambles,
        } = self;
        parser.feed(data, &mut |ev| on_event(ev, done, open, preambles));
    }

    /// Ends the message and returns the leaf summaries.
    pub fn finish(mut self) -> Vec<PartSummary> {
        let Self {
            parser,
            done,
            open,
            preambles,
        } = &mut self;
        parser.finish(&mut |ev| on_event(ev, done, open, preambles));
        std::mem::take(&mut self.done)
    }

    /// Bytes the parser holds between calls (for memory checks).
    pub fn buffered(&self) -> usize {
        self.parser.buffered()
    }
}

fn on_event(
    ev: Event<'_>,
    done: &mut Vec<PartSummary>,
    open: &mut Vec<Open>,
    preambles: &mut Vec<(usize, Vec<u8>)>,
) {
    match ev {
        Event::PartStart(s) if s.kind == PartKind::Leaf => {
            // A multipart's first body part: its preamble is no leaf's body.
            if let Some(parent) = s.parent
                && !s.from_preamble
            {
                preambles.retain(|(id, _)| *id != parent);
            }
            let summary = describe(s.section, &s.mime);
            let text = summary.text.is_some().then(Vec::new);
            let mut o = Open {
                id: s.id,
                index: done.len(),
                hasher: Sha256::new(),
                text,
                mime: s.mime,
            };
            done.push(summary);
            if s.from_preamble {
                // Its body went by as the parent's preamble.
                let body = s
                    .parent
                    .and_then(|p| preambles.iter().position(|(id, _)| *id == p))
                    .map(|i| preambles.remove(i).1)
                    .unwrap_or_default();
                o.add(&body, done);
            }
            open.push(o);
        }
        Event::PartStart(s) => {
            if let Some(parent) = s.parent {
                preambles.retain(|(id, _)| *id != parent);
            }
            if s.kind == PartKind::Multipart {
                preambles.push((s.id, Vec::new()));
            }
        }
        Event::Preamble { id, data, .. } => {
            if let Some((_, p)) = preambles.iter_mut().rev().find(|(p, _)| *p == id) {
                p.extend_from_slice(data);
            }
        }
        Event::Decoded { id, data } => {
            if let Some(o) = open.iter_mut().rev().find(|o| o.id == id) {
                o.add(data, done);
            }
        }
        Event::PartEnd(e) => {
            preambles.retain(|(id, _)| *id != e.id);
            if let Some(pos) = open.iter().rposition(|o| o.id == e.id) {
                let o = open.remove(pos);
                if let Some(s) = done.get_mut(o.index) {
                    s.sha256 = hex(&o.hasher.finalize());
                    if let Some(t) = o.text {
                        s.text = Some(text_of(&o.mime, &t));
                    }
                }
            }
        }
        _ => {}
    }
}

/// Summarises a message read from `chunks` with the streaming parser.
pub fn stream_leaf_parts<'c>(chunks: impl IntoIterator<Item = &'c [u8]>) -> Vec<PartSummary> {
    let mut s = StreamSummarizer::new();
    for c in chunks {
        s.feed(c);
    }
    s.finish()
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.push_str("null"),
    }
}

impl PartSummary {
    /// This summary as a JSON object, keys in the documented order.
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(128 + self.text.as_ref().map_or(0, String::len));
        o.push_str("{\"section\":");
        json_str(&mut o, &self.section);
        o.push_str(",\"content_type\":");
        json_str(&mut o, &self.content_type);
        o.push_str(",\"charset\":");
        json_opt(&mut o, self.charset.as_deref());
        o.push_str(",\"disposition\":");
        json_opt(&mut o, self.disposition.as_deref());
        o.push_str(",\"filename\":");
        json_opt(&mut o, self.filename.as_deref());
        o.push_str(&format!(",\"size\":{},\"sha256\":", self.size));
        json_str(&mut o, &self.sha256);
        o.push_str(",\"text\":");
        json_opt(&mut o, self.text.as_deref());
        o.push('}');
        o
    }
}

/// The list as a JSON array.
pub fn parts_json(parts: &[PartSummary]) -> String {
    let mut o = String::from("[");
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str(&p.to_json());
    }
    o.push(']');
    o
}

/// A human-readable outline of the tree, one line per entity:
/// indentation, section, type, and encoding, disposition, filename and
/// decoded size of leaves.
pub fn outline(msg: &Message<'_>) -> String {
    let mut out = String::new();
    for p in msg.parts() {
        for _ in 0..p.depth {
            out.push_str("  ");
        }
        let sec = p.section_string();
        out.push_str(if sec.is_empty() { "-" } else { &sec });
        out.push(' ');
        out.push_str(&p.mime.mime_type());
        match p.kind {
            PartKind::Leaf => {
                out.push_str(&format!(
                    " [{}, {} bytes",
                    p.mime.transfer_encoding.as_str(),
                    msg.decoded(p).len()
                ));
                if let Some(d) = &p.mime.disposition {
                    out.push_str(&format!(", {}", d.kind()));
                }
                if let Some(f) = p.mime.filename() {
                    out.push_str(&format!(", \"{f}\""));
                }
                out.push(']');
            }
            PartKind::Multipart => out.push_str(&format!(" ({} parts)", p.children.len())),
            PartKind::Message => out.push_str(" (message)"),
            PartKind::EncodedMessage => out.push_str(&format!(
                " (message, {})",
                p.mime.transfer_encoding.as_str()
            )),
        }
        out.push('\n');
    }
    for d in msg.defects() {
        out.push_str(&format!("defect: {d}\n"));
    }
    out
}

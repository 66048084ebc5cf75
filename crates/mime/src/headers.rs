//! The MIME fields of one entity (RFC 2045 §3, RFC 2183, RFC 3282).

use crate::encoding::TransferEncoding;
use crate::params::{ContentDisposition, ContentType, skip_cfws};

/// The MIME fields of one entity's header block, parsed, with the defaults
/// of RFC 2045 applied where fields are missing or broken.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MimeHeaders {
    /// Content-Type (RFC 2045 §5); the default when missing or broken
    /// (`text/plain; charset=us-ascii`, or `message/rfc822` inside a
    /// multipart/digest, RFC 2046 §5.1.5).
    pub content_type: ContentType,
    /// Whether a valid Content-Type field was present.
    pub content_type_present: bool,
    /// Content-Transfer-Encoding (RFC 2045 §6); `7bit` when missing.
    pub transfer_encoding: TransferEncoding,
    /// Content-Disposition (RFC 2183).
    pub disposition: Option<ContentDisposition>,
    /// Content-ID, Content-Description, Content-Language and
    /// Content-Location, which few parts have: on the heap only for those
    /// (read them with [`MimeHeaders::content_id`] and the methods after
    /// it), so every part of a tree stays small to build and move.
    rare: Option<Box<RareFields>>,
    /// Whether an invalid Content-Type field was replaced by the default.
    pub content_type_invalid: bool,
    /// Whether the Content-Transfer-Encoding token was not understood.
    pub transfer_encoding_unknown: bool,
}

impl MimeHeaders {
    /// Parses the MIME fields of a header block (the lines up to and
    /// including the blank line). `in_digest` selects the multipart/digest
    /// default content type.
    pub fn parse(block: &[u8], in_digest: bool) -> Self {
        let mut h = Self::blank();
        h.fill(content_fields(raw_fields(block)), in_digest);
        h
    }

    /// No fields yet: `text/plain` without parameters (what
    /// [`MimeHeaders::fill`] starts from; the default with its charset
    /// parameter is set only when no valid Content-Type is found).
    ///
    /// A constant, copied from read-only data: built field by field on the
    /// stack, its small stores met the 16-byte loads that moved it on right
    /// after (a store-forwarding stall per part).
    pub(crate) fn blank() -> Self {
        Self::BLANK
    }

    /// [`MimeHeaders::blank`] as a constant.
    pub(crate) const BLANK: MimeHeaders = MimeHeaders {
        content_type: ContentType::new_static("text", "plain"),
        content_type_present: false,
        transfer_encoding: TransferEncoding::SevenBit,
        disposition: None,
        rare: None,
        content_type_invalid: false,
        transfer_encoding_unknown: false,
    };

    /// [`MimeHeaders::parse`] into `self` (blank) given where the
    /// `Content-*` fields of `block` are (every other field is not looked
    /// at): what the parser noted while it read the block, so the block is
    /// not scanned again.
    fn fill_noted(&mut self, block: &[u8], noted: &[NotedField], in_digest: bool) {
        let fields = noted.iter().filter_map(|f| {
            let start = f.start as usize;
            let end = if f.end == NotedField::OPEN {
                block.len()
            } else {
                f.end as usize
            };
            let field = block.get(start..end)?;
            match f.colon {
                // The name ends where the colon (or the white space before
                // it) begins: no byte of it is white space or a control.
                Some(colon) => {
                    let colon = colon as usize;
                    let name_end = usize::from(f.name_len) + 8;
                    Some((field.get(8..name_end)?, value_after(field, colon)))
                }
                // A stray line (no colon on it): as MimeHeaders::parse
                // would take it.
                None => content_fields(raw_fields(field).take(1)).next(),
            }
        });
        self.fill(fields, in_digest);
    }

    /// [`MimeHeaders::parse`] into `self` ([`MimeHeaders::blank`]) given
    /// where the `Content-*` fields are when they were noted (see
    /// [`MimeHeaders::fill_noted`]). Filled in place, in the caller's
    /// variable: a result returned by value was built aside and copied, and
    /// the caller's first reads of it waited on that copy.
    #[inline(never)]
    pub(crate) fn fill_given_noted(
        &mut self,
        block: &[u8],
        noted: Option<&[NotedField]>,
        in_digest: bool,
    ) {
        match noted {
            Some(noted) => self.fill_noted(block, noted, in_digest),
            None => self.fill(content_fields(raw_fields(block)), in_digest),
        }
    }

    /// Sets the fields of `self` ([`MimeHeaders::blank`]) from the
    /// `Content-*` fields given.
    fn fill<'b>(&mut self, fields: impl Iterator<Item = (&'b [u8], &'b [u8])>, in_digest: bool) {
        let h = self;
        let mut ct_seen = false;
        for (name, value) in fields {
            let n = name;
            if n.eq_ignore_ascii_case(b"type") {
                if ct_seen {
                    continue; // the first one wins
                }
                ct_seen = true;
                if h.content_type.parse_into(value) {
                    h.content_type_present = true;
                } else {
                    h.content_type_invalid = true;
                }
            } else if n.eq_ignore_ascii_case(b"transfer-encoding") {
                h.transfer_encoding = TransferEncoding::parse(value);
                h.transfer_encoding_unknown = h.transfer_encoding == TransferEncoding::Unknown;
            } else if n.eq_ignore_ascii_case(b"disposition") {
                ContentDisposition::parse_into(value, &mut h.disposition);
            } else if n.eq_ignore_ascii_case(b"id") {
                let v = String::from_utf8_lossy(skip_cfws(value));
                let v = v.trim().trim_start_matches('<');
                let v = v.split('>').next().unwrap_or_default();
                h.rare.get_or_insert_default().content_id = Some(v.to_owned());
            } else if n.eq_ignore_ascii_case(b"description") {
                h.rare.get_or_insert_default().description =
                    Some(mailwire_message::decode_unstructured(value).into_owned());
            } else if n.eq_ignore_ascii_case(b"language") {
                h.rare.get_or_insert_default().language = unfold_text(value)
                    .split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect();
            } else if n.eq_ignore_ascii_case(b"location") {
                let v: String = unfold_text(value).split_whitespace().collect();
                h.rare.get_or_insert_default().location = Some(v);
            }
        }
        if !h.content_type_present {
            h.content_type = if in_digest {
                ContentType::message_rfc822()
            } else {
                ContentType::default()
            };
        }
    }

    /// Content-ID without the angle brackets (RFC 2045 §7).
    pub fn content_id(&self) -> Option<&str> {
        self.rare.as_ref()?.content_id.as_deref()
    }

    /// Content-Description, RFC 2047 words decoded (RFC 2045 §8).
    pub fn description(&self) -> Option<&str> {
        self.rare.as_ref()?.description.as_deref()
    }

    /// Content-Language tags (RFC 3282); empty when there is none.
    pub fn language(&self) -> &[String] {
        self.rare.as_ref().map_or(&[], |r| &r.language)
    }

    /// Content-Location (RFC 2557).
    pub fn location(&self) -> Option<&str> {
        self.rare.as_ref()?.location.as_deref()
    }

    /// The `type/subtype` of the entity, lower-cased.
    pub fn mime_type(&self) -> String {
        self.content_type.mime_type()
    }

    /// The filename: Content-Disposition `filename`, else Content-Type `name`.
    pub fn filename(&self) -> Option<&str> {
        self.disposition
            .as_ref()
            .and_then(|d| d.filename())
            .or_else(|| self.content_type.param("name"))
    }
}

fn unfold_text(value: &[u8]) -> String {
    let mut v = Vec::with_capacity(value.len());
    for &b in value {
        if b != b'\r' && b != b'\n' {
            v.push(b);
        }
    }
    crate::charset::bytes_to_string(v.trim_ascii())
}

/// A `Content-*` field of a header block, as the streaming parser noted it
/// while reading the block: offsets from the block's start. (`Default`
/// only fills the unused inline slots of the parser's list.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct NotedField {
    /// Where its first line starts.
    pub(crate) start: u32,
    /// Where it ends (where the next line that is not a continuation
    /// starts), or [`NotedField::OPEN`] while the block is being read and
    /// when it runs to the end of the block.
    pub(crate) end: u32,
    /// The colon, from the field's start, when the first line is a field
    /// line (`None` for a stray line that starts with `Content-`).
    pub(crate) colon: Option<u32>,
    /// The length of the name after `Content-` (up to the colon or the
    /// white space before it).
    pub(crate) name_len: u16,
}

impl NotedField {
    /// The end of a field not yet known to end before the block does.
    pub(crate) const OPEN: u32 = u32::MAX;

    /// A field starting with `line` at `start` from the block's start,
    /// when `line` starts with `Content-` and a name (else `None`).
    pub(crate) fn new(line: &[u8], start: u32) -> Option<Self> {
        let name_end = crate::stream::name_end(line);
        let ws = line[name_end..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let colon = (line.get(name_end + ws) == Some(&b':')).then_some(name_end + ws);
        Self::named(line, start, name_end, colon)
    }

    /// [`NotedField::new`] for a field line whose name ends at `name_end`
    /// and whose colon is at `colon` (after only white space), as the
    /// parser found them: the name is not scanned again.
    pub(crate) fn with_name(
        line: &[u8],
        start: u32,
        name_end: usize,
        colon: usize,
    ) -> Option<Self> {
        let field = Self::named(line, start, name_end, Some(colon));
        // What scanning the name again gives (checked in test builds, where
        // `noted_fields_match_full_parse` drives every form of line).
        debug_assert_eq!(field, Self::new(line, start));
        field
    }

    /// The field of `line` (at `start`) whose name ends at `name_end` and
    /// whose colon, if the line is a field line, is at `colon`; `None`
    /// unless the name starts with `Content-` and goes on after it.
    fn named(line: &[u8], start: u32, name_end: usize, colon: Option<usize>) -> Option<Self> {
        let head = u64::from_le_bytes(line.get(..8)?.try_into().ok()?);
        if line.len() < 9 || crate::params::lower8(head) != u64::from_le_bytes(*b"content-") {
            return None;
        }
        Some(Self {
            start,
            end: Self::OPEN,
            colon: colon.and_then(|c| u32::try_from(c).ok()),
            name_len: u16::try_from(name_end.checked_sub(8)?).ok()?,
        })
    }
}

/// Iterates the raw fields of a header block: each field's whole bytes,
/// folded lines and line end included (a field ends at a line end not
/// followed by WSP, RFC 5322 §2.2.3). Lines that are not fields (no colon,
/// the blank line) come out too: the callers decide.
pub(crate) fn raw_fields(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= block.len() {
            return None;
        }
        let start = pos;
        let mut search = start;
        let end = loop {
            match memchr::memchr(b'\n', &block[search..]) {
                Some(p) => {
                    let e = search + p + 1;
                    if matches!(block.get(e), Some(b' ' | b'\t')) {
                        search = e;
                        continue;
                    }
                    break e;
                }
                None => break block.len(),
            }
        };
        pos = end;
        Some(&block[start..end])
    })
}

/// A field's value after the colon, without its final line end.
fn value_after(field: &[u8], colon: usize) -> &[u8] {
    let value = &field[colon + 1..];
    value
        .strip_suffix(b"\n")
        .map(|v| v.strip_suffix(b"\r").unwrap_or(v))
        .unwrap_or(value)
}

/// The `Content-*` fields among raw `fields` (see [`raw_fields`]): (name
/// without the `Content-` prefix, raw folded value). Other fields are
/// skipped without looking for their colon.
fn content_fields<'b>(
    fields: impl Iterator<Item = &'b [u8]>,
) -> impl Iterator<Item = (&'b [u8], &'b [u8])> {
    fields.filter_map(|field| {
        if field.len() < 9 || !field[..8].eq_ignore_ascii_case(b"content-") {
            return None;
        }
        let colon = memchr::memchr(b':', field)?;
        let name = field[8..colon].trim_ascii_end();
        if name.iter().any(|&b| b <= b' ' || b == 127) {
            return None;
        }
        Some((name, value_after(field, colon)))
    })
}

/// Iterates the fields of a header block: (name, raw folded value).
/// Lines that are not fields are skipped.
pub(crate) fn fields(block: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    raw_fields(block).filter_map(|field| {
        let colon = memchr::memchr(b':', field)?;
        let name = field[..colon].trim_ascii_end();
        if name.is_empty() || name.iter().any(|&b| b <= b' ' || b == 127) {
            return None;
        }
        Some((name, value_after(field, colon)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every part of a tree carries its `MimeHeaders`, moved from the
    /// parser's event into the tree: keep them small (on 64-bit targets;
    /// 336 and 560 bytes before the rare fields went behind one box).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn part_values_stay_small() {
        assert!(std::mem::size_of::<MimeHeaders>() <= 248);
        assert!(std::mem::size_of::<crate::Part>() <= 472);
        assert!(std::mem::size_of::<crate::PartStart<'static>>() <= 360);
    }

    #[test]
    fn parses_fields() {
        let h = MimeHeaders::parse(
            b"Content-Type: image/gif;\r\n name=\"a.gif\"\r\nContent-Transfer-Encoding: BASE64\r\nContent-ID: <x@y>\r\nContent-Disposition: inline\r\nContent-Language: en, fr\r\nContent-Description: =?utf-8?q?caf=C3=A9?=\r\n\r\n",
            false,
        );
        assert_eq!(h.mime_type(), "image/gif");
        assert_eq!(h.filename(), Some("a.gif"));
        assert_eq!(h.transfer_encoding, TransferEncoding::Base64);
        assert_eq!(h.content_id(), Some("x@y"));
        assert_eq!(h.language(), ["en", "fr"]);
        assert_eq!(h.description(), Some("café"));
        assert_eq!(h.location(), None);
        // Without any of the rare fields, nothing is allocated for them.
        let plain = MimeHeaders::parse(b"Content-Type: text/plain\r\n\r\n", false);
        assert!(plain.rare.is_none());
        assert_eq!((plain.content_id(), plain.language()), (None, &[][..]));
        assert!(h.disposition.unwrap().is_inline());
    }

    #[test]
    fn defaults() {
        let h = MimeHeaders::parse(b"Subject: x\r\n\r\n", false);
        assert_eq!(h.mime_type(), "text/plain");
        assert_eq!(h.content_type.charset().as_deref(), Some("us-ascii"));
        let h = MimeHeaders::parse(b"\r\n", true);
        assert_eq!(h.mime_type(), "message/rfc822");
        let h = MimeHeaders::parse(b"Content-Type: bogus\r\n\r\n", false);
        assert!(h.content_type_invalid);
        assert_eq!(h.mime_type(), "text/plain");
    }
}

/// The MIME fields few parts have (see `MimeHeaders::rare`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct RareFields {
    content_id: Option<String>,
    description: Option<String>,
    language: Vec<String>,
    location: Option<String>,
}

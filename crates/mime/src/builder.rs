//! Building MIME messages (RFC 2045-2049, 2183, 2231, 2387).
//!
//! [`PartBuilder`] makes one entity (text, attachment, inline image,
//! forwarded message, multipart); [`MessageBuilder`] assembles the usual
//! shape of a message:
//!
//! ```text
//! multipart/mixed                      (when there are attachments or forwards)
//! ├── multipart/related                (when there are inline images)
//! │   ├── multipart/alternative        (when there are both text and html)
//! │   │   ├── text/plain
//! │   │   └── text/html
//! │   └── image/png; Content-ID        (inline images)
//! ├── application/pdf; attachment      (attachments)
//! └── message/rfc822                   (forwarded messages)
//! ```
//!
//! The transfer encoding of each leaf is chosen from its content: 7bit when
//! it already is short lines of US-ASCII, quoted-printable for text that is
//! mostly ASCII, base64 otherwise (or 8bit for text when the transport has
//! 8BITMIME and the caller allows it). Lines stay within 76 characters
//! (998 for 8bit). Boundaries are made from a caller-supplied seed (the
//! crate reads no RNG) and checked against the content of their parts, so a
//! boundary never occurs inside the content it delimits.
//!
//! ```
//! use mailwire_mime::builder::{MessageBuilder, PartBuilder};
//! use mailwire_mime::Message;
//! let raw = MessageBuilder::new()
//!     .header("Subject", "Report")
//!     .unwrap()
//!     .text("See attached.\n")
//!     .attachment(PartBuilder::attachment("application/pdf", "rapport-été.pdf", b"%PDF-1.4".to_vec()))
//!     .build();
//! let msg = Message::parse(&raw);
//! let leaves: Vec<_> = msg.leaves().collect();
//! assert_eq!(leaves[1].mime.filename(), Some("rapport-été.pdf"));
//! assert_eq!(msg.decoded(leaves[1]).as_ref(), b"%PDF-1.4");
//! ```

use crate::encoding::{self, ContentStats, TransferEncoding};
use crate::params::{ContentType, write_param};

/// Why a builder call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A header name is empty or holds a character other than printable
    /// ASCII without `:` (RFC 5322 §2.2).
    #[error("invalid header name {0:?}")]
    InvalidName(String),
    /// A header value holds CR, LF or NUL (header injection).
    #[error("header value of {name} holds CR, LF or NUL at index {index}")]
    InvalidValue {
        /// The field name.
        name: String,
        /// Byte index of the bad character.
        index: usize,
    },
}

fn check_field(name: &str, value: &str) -> Result<(), BuildError> {
    if name.is_empty() || !name.bytes().all(|b| (33..127).contains(&b) && b != b':') {
        return Err(BuildError::InvalidName(name.to_owned()));
    }
    if let Some(index) = value.bytes().position(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(BuildError::InvalidValue {
            name: name.to_owned(),
            index,
        });
    }
    Ok(())
}

/// Writes `name: value` folded at spaces to lines of at most 78 characters
/// where possible, with RFC 2047 words for non-ASCII (unless `utf8`).
fn write_field(out: &mut Vec<u8>, name: &str, value: &str, utf8: bool) {
    let value = mailwire_message::encode_unstructured(value, utf8);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b":");
    let mut col = name.len() + 1;
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 && col + 1 + word.len() > 78 {
            out.extend_from_slice(b"\r\n");
            col = 0;
        }
        out.push(b' ');
        out.extend_from_slice(word.as_bytes());
        col += 1 + word.len();
    }
    out.extend_from_slice(b"\r\n");
}

#[derive(Debug, Clone)]
enum Body {
    Data { data: Vec<u8>, text: bool },
    Multipart(Vec<PartBuilder>),
    Message(Vec<u8>),
}

/// One entity to build.
#[derive(Debug, Clone)]
pub struct PartBuilder {
    content_type: ContentType,
    disposition: Option<(String, Option<String>)>,
    content_id: Option<String>,
    description: Option<String>,
    headers: Vec<(String, String)>,
    body: Body,
    encoding: Option<TransferEncoding>,
}

/// Canonical text: every line end CRLF (RFC 2046 §4.1.1).
fn canonical_text(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len() + b.len() / 32);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\r' if b.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\n' | b'\r' => out.extend_from_slice(b"\r\n"),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

impl PartBuilder {
    fn new(content_type: ContentType, body: Body) -> Self {
        Self {
            content_type,
            disposition: None,
            content_id: None,
            description: None,
            headers: Vec::new(),
            body,
            encoding: None,
        }
    }

    /// A text part `text/<subtype>; charset=utf-8` (us-ascii when the text
    /// is ASCII), line ends made CRLF.
    pub fn text(subtype: &str, text: &str) -> Self {
        let charset = if text.is_ascii() { "us-ascii" } else { "utf-8" };
        Self::new(
            ContentType::new("text", subtype).with_param("charset", charset),
            Body::Data {
                data: canonical_text(text),
                text: true,
            },
        )
    }

    /// `text/plain`.
    pub fn plain(text: &str) -> Self {
        Self::text("plain", text)
    }

    /// `text/html`.
    pub fn html(html: &str) -> Self {
        Self::text("html", html)
    }

    /// Any leaf of type `mime_type` (`image/png`) holding `data`.
    pub fn data(mime_type: &str, data: Vec<u8>) -> Self {
        let (ty, sub) = mime_type
            .split_once('/')
            .unwrap_or(("application", "octet-stream"));
        let text = ty.eq_ignore_ascii_case("text");
        Self::new(ContentType::new(ty, sub), Body::Data { data, text })
    }

    /// An attachment (RFC 2183 §2.2) named `filename`; a non-ASCII name is
    /// written with RFC 2231 (and as `name` on Content-Type for old readers).
    pub fn attachment(mime_type: &str, filename: &str, data: Vec<u8>) -> Self {
        let mut p = Self::data(mime_type, data);
        p.content_type = p.content_type.with_param("name", filename);
        p.disposition = Some(("attachment".into(), Some(filename.to_owned())));
        p
    }

    /// An inline image or other resource referenced by `cid:` URLs from an
    /// HTML part (RFC 2387, RFC 2392); `content_id` without angle brackets.
    pub fn inline(mime_type: &str, content_id: &str, data: Vec<u8>) -> Self {
        let mut p = Self::data(mime_type, data);
        p.content_id = Some(content_id.trim_matches(['<', '>']).to_owned());
        p.disposition = Some(("inline".into(), None));
        p
    }

    /// A forwarded message as `message/rfc822` (RFC 2046 §5.2.1): the bytes
    /// are kept as they are, in 7bit, 8bit or binary as their content needs.
    pub fn message(raw: Vec<u8>) -> Self {
        Self::new(ContentType::message_rfc822(), Body::Message(raw))
    }

    /// A multipart of `subtype` (`mixed`, `alternative`, `related`, ...).
    pub fn multipart(subtype: &str, parts: Vec<PartBuilder>) -> Self {
        Self::new(
            ContentType::new("multipart", subtype),
            Body::Multipart(parts),
        )
    }

    /// Sets a Content-Type parameter.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.content_type = self.content_type.with_param(name, value);
        self
    }

    /// Sets Content-Description (RFC 2045 §8).
    pub fn description(mut self, text: &str) -> Result<Self, BuildError> {
        check_field("Content-Description", text)?;
        self.description = Some(text.to_owned());
        Ok(self)
    }

    /// Adds another header field to this entity.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, BuildError> {
        check_field(name, value)?;
        self.headers.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// Forces a transfer encoding instead of choosing one.
    pub fn encoding(mut self, encoding: TransferEncoding) -> Self {
        self.encoding = Some(encoding);
        self
    }

    /// Serialises the entity (header block, blank line, body). `seed`
    /// makes the boundaries; `allow_8bit` permits 8bit text (RFC 6152).
    pub fn to_bytes(&self, seed: u64, allow_8bit: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut counter = 0u64;
        self.write(&mut out, seed, &mut counter, allow_8bit);
        out
    }

    fn write(&self, out: &mut Vec<u8>, seed: u64, counter: &mut u64, allow_8bit: bool) {
        let mut ct = self.content_type.clone();
        let (encoding, body): (TransferEncoding, Vec<u8>) = match &self.body {
            Body::Data { data, text } => {
                let enc = self.encoding.unwrap_or_else(|| {
                    let e = encoding::choose_encoding(data, *text);
                    let s = ContentStats::of(data);
                    if allow_8bit
                        && *text
                        && e != TransferEncoding::SevenBit
                        && s.controls == 0
                        && s.longest_line <= 998
                        && !s.bare_lf
                    {
                        TransferEncoding::EightBit
                    } else {
                        e
                    }
                });
                (enc, encoding::encode(enc, data, *text))
            }
            Body::Message(raw) => {
                let s = ContentStats::of(raw);
                let enc = if s.controls > 0 || s.longest_line > 998 || s.bare_lf {
                    TransferEncoding::Binary
                } else if s.high > 0 {
                    TransferEncoding::EightBit
                } else {
                    TransferEncoding::SevenBit
                };
                (enc, raw.clone())
            }
            Body::Multipart(parts) => {
                let children: Vec<Vec<u8>> = parts
                    .iter()
                    .map(|p| {
                        let mut v = Vec::new();
                        p.write(&mut v, seed, counter, allow_8bit);
                        v
                    })
                    .collect();
                let boundary = loop {
                    *counter += 1;
                    let b = format!(
                        "=_mw{:016x}{:04x}",
                        seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ *counter,
                        *counter & 0xffff
                    );
                    let mut delim = b"--".to_vec();
                    delim.extend_from_slice(b.as_bytes());
                    if children
                        .iter()
                        .all(|c| memchr::memmem::find(c, &delim).is_none())
                    {
                        break b;
                    }
                };
                ct = ct.with_param("boundary", &boundary);
                let mut body = Vec::new();
                for c in &children {
                    body.extend_from_slice(b"--");
                    body.extend_from_slice(boundary.as_bytes());
                    body.extend_from_slice(b"\r\n");
                    body.extend_from_slice(c);
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(b"--");
                body.extend_from_slice(boundary.as_bytes());
                body.extend_from_slice(b"--\r\n");
                (TransferEncoding::SevenBit, body)
            }
        };
        // Content-Type with its parameters.
        out.extend_from_slice(b"Content-Type: ");
        out.extend_from_slice(ct.mime_type().as_bytes());
        for p in ct.params() {
            write_param(out, p.name(), p.value());
        }
        out.extend_from_slice(b"\r\n");
        if encoding != TransferEncoding::SevenBit {
            out.extend_from_slice(b"Content-Transfer-Encoding: ");
            out.extend_from_slice(encoding.as_str().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some((kind, filename)) = &self.disposition {
            out.extend_from_slice(b"Content-Disposition: ");
            out.extend_from_slice(kind.as_bytes());
            if let Some(f) = filename {
                write_param(out, "filename", f);
            }
            out.extend_from_slice(b"\r\n");
        }
        if let Some(id) = &self.content_id {
            out.extend_from_slice(format!("Content-ID: <{id}>\r\n").as_bytes());
        }
        if let Some(d) = &self.description {
            write_field(out, "Content-Description", d, false);
        }
        for (n, v) in &self.headers {
            write_field(out, n, v, false);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
    }
}

/// Assembles a whole message from its usual pieces.
#[derive(Debug, Clone, Default)]
pub struct MessageBuilder {
    headers: Vec<(String, String)>,
    text: Option<String>,
    html: Option<String>,
    inline: Vec<PartBuilder>,
    attachments: Vec<PartBuilder>,
    seed: u64,
    allow_8bit: bool,
    utf8_headers: bool,
}

impl MessageBuilder {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header field (From, To, Subject, ...). Non-ASCII text is
    /// written as RFC 2047 words. CR, LF and NUL are refused.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, BuildError> {
        check_field(name, value)?;
        self.headers.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// The plain-text body.
    pub fn text(mut self, text: &str) -> Self {
        self.text = Some(text.to_owned());
        self
    }

    /// The HTML body (with `text`, they form a multipart/alternative).
    pub fn html(mut self, html: &str) -> Self {
        self.html = Some(html.to_owned());
        self
    }

    /// An inline resource for the HTML (see [`PartBuilder::inline`]); the
    /// bodies and these form a multipart/related (RFC 2387).
    pub fn inline(mut self, part: PartBuilder) -> Self {
        self.inline.push(part);
        self
    }

    /// An attachment (any [`PartBuilder`]); with attachments the message is
    /// a multipart/mixed.
    pub fn attachment(mut self, part: PartBuilder) -> Self {
        self.attachments.push(part);
        self
    }

    /// Forwards a message as a message/rfc822 attachment.
    pub fn forward(mut self, raw: Vec<u8>) -> Self {
        self.attachments.push(PartBuilder::message(raw));
        self
    }

    /// The seed the boundaries are made from (the crate reads no RNG: pass
    /// a random number for unguessable boundaries).
    pub fn boundary_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Allows 8bit text parts, for a transport with 8BITMIME (RFC 6152).
    pub fn allow_8bit(mut self, yes: bool) -> Self {
        self.allow_8bit = yes;
        self
    }

    /// Writes non-ASCII header text as raw UTF-8 (RFC 6532) rather than
    /// RFC 2047 words.
    pub fn utf8_headers(mut self, yes: bool) -> Self {
        self.utf8_headers = yes;
        self
    }

    /// The body entity this message will have.
    pub fn body_part(&self) -> PartBuilder {
        let mut bodies = Vec::new();
        if let Some(t) = &self.text {
            bodies.push(PartBuilder::plain(t));
        }
        if let Some(h) = &self.html {
            bodies.push(PartBuilder::html(h));
        }
        let mut body = match bodies.len() {
            0 => PartBuilder::plain(""),
            1 => bodies.remove(0),
            _ => PartBuilder::multipart("alternative", bodies),
        };
        if !self.inline.is_empty() {
            let mut parts = vec![body];
            parts.extend(self.inline.iter().cloned());
            body = PartBuilder::multipart("related", parts);
        }
        if !self.attachments.is_empty() {
            let mut parts = vec![body];
            parts.extend(self.attachments.iter().cloned());
            body = PartBuilder::multipart("mixed", parts);
        }
        body
    }

    /// Serialises the message.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, v) in &self.headers {
            write_field(&mut out, n, v, self.utf8_headers);
        }
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
        out.extend_from_slice(&self.body_part().to_bytes(self.seed, self.allow_8bit));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;
    use proptest::prelude::*;

    #[test]
    fn full_shape() {
        let fwd = MessageBuilder::new()
            .header("Subject", "inner")
            .unwrap()
            .text("forwarded body\n")
            .build();
        let raw = MessageBuilder::new()
            .header("Subject", "Ça va?")
            .unwrap()
            .text("plain\n")
            .html("<p>html <img src=\"cid:img1@x\"></p>")
            .inline(PartBuilder::inline(
                "image/png",
                "img1@x",
                vec![0x89, b'P', b'N', b'G', 0, 255],
            ))
            .attachment(PartBuilder::attachment(
                "application/octet-stream",
                "données.bin",
                (0..=255).collect(),
            ))
            .forward(fwd)
            .boundary_seed(42)
            .build();
        let msg = Message::parse(&raw);
        assert!(msg.defects().is_empty(), "{:?}", msg.defects());
        let sig: Vec<String> = msg
            .parts()
            .iter()
            .map(|p| format!("{} {}", p.section_string(), p.mime.mime_type()))
            .collect();
        assert_eq!(
            sig,
            [
                " multipart/mixed",
                "1 multipart/related",
                "1.1 multipart/alternative",
                "1.1.1 text/plain",
                "1.1.2 text/html",
                "1.2 image/png",
                "2 application/octet-stream",
                "3 message/rfc822",
                "3.1 text/plain"
            ]
        );
        let img = &msg.parts()[5];
        assert_eq!(img.mime.content_id(), Some("img1@x"));
        assert_eq!(msg.decoded(img).as_ref(), &[0x89, b'P', b'N', b'G', 0, 255]);
        let att = &msg.parts()[6];
        assert_eq!(att.mime.filename(), Some("données.bin"));
        assert_eq!(msg.decoded(att).len(), 256);
        assert_eq!(msg.text(&msg.parts()[8]).unwrap().0, "forwarded body\r\n");
        for line in raw.split(|&b| b == b'\n') {
            assert!(line.len() <= 78, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn encoding_choice() {
        assert_eq!(
            encoding::choose_encoding(b"hello\r\n", true),
            TransferEncoding::SevenBit
        );
        assert_eq!(
            encoding::choose_encoding("caf\u{e9} au lait, a long ascii text".as_bytes(), true),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(
            encoding::choose_encoding(&[0, 1, 2, 200], false),
            TransferEncoding::Base64
        );
        assert_eq!(
            encoding::choose_encoding("日本語のテキスト".as_bytes(), true),
            TransferEncoding::Base64
        );
    }

    #[test]
    fn injection_refused() {
        assert!(
            MessageBuilder::new()
                .header("Subject", "a\r\nBcc: x")
                .is_err()
        );
        assert!(MessageBuilder::new().header("Bad Name", "a").is_err());
    }

    #[test]
    fn boundary_avoids_content() {
        // Content that contains the first boundary the seed would give.
        let probe =
            PartBuilder::multipart("mixed", vec![PartBuilder::plain("x")]).to_bytes(1, false);
        let first = String::from_utf8_lossy(&probe);
        let b = first
            .split("boundary=")
            .nth(1)
            .unwrap()
            .split(['\r', '"', ';'])
            .next()
            .unwrap()
            .to_owned();
        let text = format!("line\r\n--{b}\r\nmore\r\n");
        let raw =
            PartBuilder::multipart("mixed", vec![PartBuilder::plain(&text)]).to_bytes(1, false);
        let msg = Message::parse(&raw);
        assert_eq!(msg.leaves().count(), 1);
        assert_eq!(msg.text(msg.leaves().next().unwrap()).unwrap().0, text);
    }

    fn arb_leaf() -> impl Strategy<Value = (String, Vec<u8>, bool)> {
        prop_oneof![
            "[ -~\n\u{e9}\u{4e2d}]{0,300}".prop_map(|t| (
                "text/plain".to_string(),
                t.into_bytes(),
                true
            )),
            proptest::collection::vec(any::<u8>(), 0..400).prop_map(|d| (
                "application/octet-stream".to_string(),
                d,
                false
            )),
        ]
    }

    proptest! {
        #[test]
        fn build_then_parse(leaves in proptest::collection::vec(arb_leaf(), 1..5), nest in any::<bool>(), seed in any::<u64>()) {
            let parts: Vec<PartBuilder> = leaves.iter().enumerate().map(|(i, (ty, d, text))| {
                if *text {
                    PartBuilder::plain(std::str::from_utf8(d).unwrap())
                } else {
                    PartBuilder::attachment(ty, &format!("f{i}.bin"), d.clone())
                }
            }).collect();
            let body = if nest {
                PartBuilder::multipart("mixed", vec![PartBuilder::multipart("alternative", parts), PartBuilder::plain("end")])
            } else {
                PartBuilder::multipart("mixed", parts)
            };
            let raw = body.to_bytes(seed, false);
            let msg = Message::parse(&raw);
            prop_assert!(msg.defects().is_empty());
            let got: Vec<_> = msg.leaves().collect();
            prop_assert_eq!(got.len(), leaves.len() + usize::from(nest));
            for (p, (ty, d, text)) in got.iter().zip(&leaves) {
                if *text {
                    let want = canonical_text(std::str::from_utf8(d).unwrap());
                    prop_assert_eq!(msg.decoded(p).into_owned(), want);
                } else {
                    prop_assert_eq!(&p.mime.mime_type(), ty);
                    prop_assert_eq!(msg.decoded(p).into_owned(), d.clone());
                }
            }
            // Lines within 76 (+CRLF) for 7bit output.
            for line in raw.split(|&b| b == b'\n') {
                prop_assert!(line.len() <= 78);
            }
        }
    }
}

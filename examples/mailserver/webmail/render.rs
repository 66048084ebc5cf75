//! A stored message as the webmail shows it: the header fields decoded
//! (RFC 2047), the body to show (the HTML alternative made safe, else the
//! text), the attachments, and single parts decoded for download.
//!
//! Parsing goes through mailwire-message (the header) and mailwire-mime
//! (the tree, IMAP section numbers as part ids, RFC 3501 §6.4.5). Both are
//! lenient and bounded, so any bytes give a view.
//!
//! Which part is the body (RFC 2046 §5.1):
//!
//! - a `text/plain` or `text/html` leaf that is not an attachment;
//! - in a multipart/alternative, the last HTML alternative, else the last
//!   one that can be shown (§5.1.4: the last is the richest);
//! - in a multipart/related (RFC 2387 §3.1), the `start` part, else the
//!   first;
//! - in any other multipart (mixed, signed, ...), the first body part that
//!   has a body.
//!
//! The attachments are every other leaf, and every encapsulated message
//! (message/rfc822, listed once, not its parts), less the text
//! alternatives not chosen and the parts the HTML shows by `cid:`.

use std::collections::HashMap;

use mailwire::message::{Message as Header, decode_unstructured};
use mailwire::mime::{Message, Part as MimePart, PartKind, TransferEncoding};

use super::sanitize::{self, CidTarget, Policy};

/// How to show a message.
pub(crate) struct ViewOptions<'a> {
    /// Load `http(s):` images (the user asked for them).
    pub(crate) show_remote_images: bool,
    /// The URL the webmail serves part `id` of this message at (an IMAP
    /// section such as `2.1`); used for `cid:` images and links.
    pub(crate) part_url: &'a dyn Fn(&str) -> String,
}

impl std::fmt::Debug for ViewOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewOptions")
            .field("show_remote_images", &self.show_remote_images)
            .finish_non_exhaustive()
    }
}

/// The body to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// Plain text, line ends `\n`; the page escapes it ([`escape_html`]).
    Text(String),
    /// Sanitized HTML, to insert as it is.
    Html {
        /// The HTML (see [`super::sanitize`] for what it can hold).
        html: String,
        /// Remote images taken out; the page offers to show them.
        blocked_remote_images: usize,
    },
}

/// One attachment of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttachmentInfo {
    /// Its IMAP section (`2`, `1.3`): the id for [`part`].
    pub(crate) part_id: String,
    /// A safe file name ([`safe_file_name`]).
    pub(crate) file_name: String,
    /// `type/subtype`, lower case.
    pub(crate) content_type: String,
    /// Decoded size in bytes.
    pub(crate) size: usize,
}

/// A message as the webmail shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageView {
    /// Subject, decoded.
    pub(crate) subject: String,
    /// From, as `Name <addr>, ...`, names decoded.
    pub(crate) from: String,
    /// To, as [`MessageView::from`].
    pub(crate) to: String,
    /// Cc, as [`MessageView::from`].
    pub(crate) cc: String,
    /// Date: RFC 5322 form when it parses, else the field as written.
    pub(crate) date: String,
    /// Message-ID, without angle brackets.
    pub(crate) message_id: Option<String>,
    /// Every header field in order: (name, unfolded value, RFC 2047 words
    /// decoded), for "show all headers".
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Body,
    /// The attachments.
    pub(crate) attachments: Vec<AttachmentInfo>,
}

/// One part of a message, decoded, for download or a `cid:` image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// `type/subtype`, lower case, always a valid `token/token`
    /// (`application/octet-stream` when the message's was not).
    pub(crate) content_type: String,
    /// A safe file name.
    pub(crate) file_name: String,
    /// The bytes, transfer encoding removed (for message/rfc822: the
    /// encapsulated message).
    pub(crate) bytes: Vec<u8>,
}

impl Part {
    /// Whether the part may be shown inline by the webmail's origin: a
    /// raster image (an SVG or HTML part served inline could run script in
    /// the webmail's origin, so anything else must be a download,
    /// `Content-Disposition: attachment` with `nosniff`).
    pub(crate) fn inline_image(&self) -> bool {
        is_raster_image(&self.content_type)
    }
}

/// Builds the view of message `raw`.
pub(crate) fn view(raw: &[u8], opts: &ViewOptions<'_>) -> MessageView {
    let header = Header::parse(raw);
    let msg = Message::parse(raw);
    let body_id = body_part(&msg, 0);
    let (body, shown_cids) = match body_id.and_then(|id| msg.part(id)) {
        Some(p) if p.mime.content_type.is("text", "html") => {
            let targets = cid_targets(&msg, opts.part_url);
            let urls: Vec<(String, String)> = targets
                .iter()
                .map(|(k, t)| (k.clone(), t.url.clone()))
                .collect();
            let policy = Policy {
                show_remote_images: opts.show_remote_images,
                cids: targets,
            };
            let s = sanitize::sanitize(&text_of(&msg, p), policy);
            // The parts the sanitized HTML shows (as html5ever writes an
            // attribute value) are not listed as attachments.
            let shown = urls
                .into_iter()
                .filter(|(_, url)| {
                    let written = url.replace('&', "&amp;").replace('"', "&quot;");
                    s.html.contains(&format!("\"{written}\""))
                })
                .map(|(k, _)| k)
                .collect();
            (
                Body::Html {
                    html: s.html,
                    blocked_remote_images: s.blocked_remote_images,
                },
                shown,
            )
        }
        Some(p) => {
            let ct = &p.mime.content_type;
            let text = text_of(&msg, p);
            let text = if ct
                .param("format")
                .is_some_and(|f| f.eq_ignore_ascii_case("flowed"))
            {
                let delsp = ct
                    .param("delsp")
                    .is_some_and(|d| d.eq_ignore_ascii_case("yes"));
                unflow(&text, delsp)
            } else {
                text
            };
            (Body::Text(text), Vec::new())
        }
        None => (Body::Text(String::new()), Vec::new()),
    };
    MessageView {
        subject: header.subject().map(|s| clean_line(&s)).unwrap_or_default(),
        from: addresses(&header, "From"),
        to: addresses(&header, "To"),
        cc: addresses(&header, "Cc"),
        date: match header.date() {
            Some(d) => d.to_rfc5322(),
            None => header
                .get("Date")
                .map(|f| clean_line(&f.value_text()))
                .unwrap_or_default(),
        },
        message_id: header.message_id().map(|m| m.as_str().to_owned()),
        headers: header
            .fields()
            .iter()
            .map(|f| {
                (
                    f.name().to_owned(),
                    clean_line(&decode_unstructured(f.raw_value())),
                )
            })
            .collect(),
        body,
        attachments: attachments(&msg, body_id, &shown_cids),
    }
}

/// Part `part_id` (an IMAP section, `1.2`) of message `raw`, decoded:
/// `None` when there is no such leaf or encapsulated message.
pub(crate) fn part(raw: &[u8], part_id: &str) -> Option<Part> {
    if part_id.is_empty() {
        return None;
    }
    let msg = Message::parse(raw);
    let p = msg.find_section(part_id)?;
    match p.kind {
        PartKind::Leaf | PartKind::Message | PartKind::EncodedMessage => Some(Part {
            content_type: valid_type(&p.mime.mime_type()),
            file_name: file_name_of(&msg, p),
            bytes: msg.decoded(p).into_owned(),
        }),
        PartKind::Multipart => None,
    }
}

/// `text` with the five characters HTML gives meaning to escaped, for
/// text and attribute values alike.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A text body as HTML: escaped ([`escape_html`]), with `http://` and
/// `https://` URLs made links that open apart from the webmail
/// (`target="_blank" rel="noopener noreferrer"`). Closing punctuation
/// after a URL is left out of it. Put the result in a `<pre>` (or a box
/// with `white-space: pre-wrap`) to keep the lines.
pub(crate) fn text_to_html(text: &str) -> String {
    // One pass: ASCII lower-casing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut done = 0;
    for (start, _) in lower.match_indices("http") {
        if start < done {
            continue;
        }
        let scheme = if lower[start..].starts_with("https://") {
            8
        } else if lower[start..].starts_with("http://") {
            7
        } else {
            continue;
        };
        let end = text[start..]
            .find(|c: char| {
                c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\'')
            })
            .map_or(text.len(), |e| start + e);
        let url = text[start..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']']);
        if url.len() <= scheme {
            continue;
        }
        out.push_str(&escape_html(&text[done..start]));
        let u = escape_html(url);
        out.push_str(&format!(
            "<a href=\"{u}\" target=\"_blank\" rel=\"noopener noreferrer\">{u}</a>"
        ));
        done = start + url.len();
    }
    out.push_str(&escape_html(&text[done..]));
    out
}

/// Longest file name kept, in characters.
const MAX_FILE_NAME: usize = 120;

/// A file name that is safe to offer for download or to write to a
/// header: no path separators or characters Windows refuses (`/ \ : * ?
/// " < > |` become `_`), no control characters, no leading dots or
/// spaces, no Windows device name, at most [`MAX_FILE_NAME`] characters
/// with the extension kept; `attachment.bin` when nothing is left.
pub(crate) fn safe_file_name(name: &str) -> String {
    let mapped: String = name
        .chars()
        .filter(|c| !c.is_control() && !is_format_char(*c))
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c => c,
        })
        .collect();
    let trim = |s: &str| -> String {
        s.trim_start_matches(|c: char| c == '.' || c.is_whitespace())
            .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
            .to_owned()
    };
    let trimmed = trim(&mapped);
    let cut: String = if trimmed.chars().count() > MAX_FILE_NAME {
        // Keep a short extension.
        let ext = trimmed
            .rsplit_once('.')
            .map(|(_, e)| e)
            .filter(|e| !e.is_empty() && e.chars().count() <= 10);
        match ext {
            Some(e) => {
                let keep = MAX_FILE_NAME - 1 - e.chars().count();
                let stem: String = trimmed.chars().take(keep).collect();
                format!("{}.{e}", stem.trim_end())
            }
            None => trimmed.chars().take(MAX_FILE_NAME).collect(),
        }
    } else {
        trimmed
    };
    // A cut may end in a dot or a space.
    let mut out = trim(&cut);
    let stem = out
        .split('.')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    let device = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if device {
        out.insert(0, '_');
    }
    if out.is_empty() {
        "attachment.bin".to_owned()
    } else {
        out
    }
}

/// Bidirectional and other invisible format characters, which can make
/// `evil.exe` look like `exe.pdf` (U+202E).
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// A Content-Disposition value for downloading `file_name` (RFC 6266
/// §4.1, §4.3): `attachment; filename="ascii"; filename*=UTF-8''...`, the
/// plain `filename` an ASCII stand-in for old clients and `filename*` the
/// exact name (RFC 8187 encoding). The name is made safe first.
pub(crate) fn content_disposition(file_name: &str) -> String {
    let name = safe_file_name(file_name);
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii() && c != '%' { c } else { '_' })
        .collect();
    let mut ext = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            ext.push(char::from(b));
        } else {
            ext.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{ext}")
}

/// Whether `content_type` is an image a browser shows without running
/// anything (not SVG).
fn is_raster_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png"
            | "image/gif"
            | "image/jpeg"
            | "image/jpg"
            | "image/pjpeg"
            | "image/webp"
            | "image/bmp"
            | "image/x-icon"
            | "image/vnd.microsoft.icon"
            | "image/avif"
    )
}

/// `content_type` when it is a valid `token/token`, else
/// `application/octet-stream`.
pub(crate) fn valid_type(content_type: &str) -> String {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match content_type.split_once('/') {
        Some((t, s)) if token(t) && token(s) => content_type.to_ascii_lowercase(),
        _ => "application/octet-stream".to_owned(),
    }
}

/// One line of display text: controls (folding left-overs, NUL) become
/// spaces, surrounding white space is trimmed.
fn clean_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The mailboxes of field `name` as `Name <addr>, ...`.
fn addresses(header: &Header<'_>, name: &str) -> String {
    let list = header.addresses(name);
    let shown: Vec<String> = list
        .mailboxes()
        .map(|m| clean_line(&m.to_string()))
        .collect();
    if shown.is_empty() || list.mailboxes().any(|m| m.domain().is_none()) {
        // Unparseable: the field as written, words decoded.
        header
            .get(name)
            .map(|f| clean_line(&decode_unstructured(f.raw_value())))
            .unwrap_or_default()
    } else {
        shown.join(", ")
    }
}

/// The text of a `text/*` part in UTF-8, line ends `\n`.
pub(crate) fn text_of(msg: &Message<'_>, p: &MimePart) -> String {
    let text = msg.text(p).map(|(t, _)| t.into_owned()).unwrap_or_default();
    text.replace("\r\n", "\n")
}

/// `format=flowed` text (RFC 3676) with its paragraphs joined for
/// display (§4.2): a line ending in a space continues on the next one,
/// and with `DelSp=yes` that space is dropped; the space added in front
/// of lines (§4.4, space-stuffing) is removed; a change of quote depth
/// ends a paragraph (§4.5); the signature separator `-- ` is a line of
/// its own (§4.3). Quoted paragraphs are written back with their `>`s
/// and a space.
fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    // The quote depth of the paragraph being joined, if any.
    let mut open: Option<usize> = None;
    let body = text.strip_suffix('\n').unwrap_or(text);
    for line in body.split('\n') {
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let mut content = &line[depth..];
        content = content.strip_prefix(' ').unwrap_or(content);
        let flowed = content.ends_with(' ') && content != "-- ";
        if open.is_some_and(|d| d != depth) {
            out.push('\n');
            open = None;
        }
        if open.is_none() && depth > 0 {
            out.push_str(&line[..depth]);
            out.push(' ');
        }
        if flowed {
            out.push_str(if delsp {
                &content[..content.len() - 1]
            } else {
                content
            });
            open = Some(depth);
        } else {
            out.push_str(content);
            out.push('\n');
            open = None;
        }
    }
    if open.is_some() {
        out.push('\n');
    }
    out
}

/// The part to show as the body below part `id` (see the module doc).
pub(crate) fn body_part(msg: &Message<'_>, id: usize) -> Option<usize> {
    let p = msg.part(id)?;
    match p.kind {
        PartKind::Leaf => {
            let ct = &p.mime.content_type;
            let attachment = p
                .mime
                .disposition
                .as_ref()
                .is_some_and(|d| d.kind().eq_ignore_ascii_case("attachment"));
            ((ct.is("text", "plain") || ct.is("text", "html")) && !attachment).then_some(id)
        }
        PartKind::Multipart => {
            let ct = &p.mime.content_type;
            if ct.is("multipart", "alternative") {
                let shown: Vec<usize> = p
                    .children
                    .iter()
                    .filter_map(|&c| body_part(msg, c))
                    .collect();
                shown
                    .iter()
                    .rev()
                    .find(|&&b| {
                        msg.part(b)
                            .is_some_and(|q| q.mime.content_type.is("text", "html"))
                    })
                    .or(shown.last())
                    .copied()
            } else if ct.is("multipart", "related") {
                let start = ct
                    .param("start")
                    .map(|s| s.trim().trim_matches(['<', '>']).to_owned());
                let first = start
                    .and_then(|s| {
                        p.children.iter().copied().find(|&c| {
                            msg.part(c)
                                .and_then(|q| q.mime.content_id())
                                .is_some_and(|id| id == s)
                        })
                    })
                    .or(p.children.first().copied())?;
                body_part(msg, first)
            } else {
                p.children.iter().find_map(|&c| body_part(msg, c))
            }
        }
        PartKind::Message | PartKind::EncodedMessage => None,
    }
}

/// Every leaf with a Content-ID, by lookup key, with the URL of its part.
fn cid_targets(msg: &Message<'_>, part_url: &dyn Fn(&str) -> String) -> HashMap<String, CidTarget> {
    let mut map = HashMap::new();
    for p in msg.leaves() {
        if let Some(id) = p.mime.content_id() {
            let key = sanitize::cid_key(id);
            if !key.is_empty() && !map.contains_key(&key) {
                map.insert(
                    key,
                    CidTarget {
                        url: part_url(&p.section_string()),
                        image: is_raster_image(&p.mime.mime_type()),
                    },
                );
            }
        }
    }
    map
}

/// The attachments of `msg` (see the module doc).
fn attachments(
    msg: &Message<'_>,
    body: Option<usize>,
    shown_cids: &[String],
) -> Vec<AttachmentInfo> {
    let parts = msg.parts();
    // For each part: inside an encapsulated message; inside an alternative.
    let mut in_message = vec![false; parts.len()];
    let mut in_alternative = vec![false; parts.len()];
    for p in parts {
        // Depth-first order: a parent comes before its children.
        if let Some(q) = p.parent.and_then(|q| parts.get(q))
            && q.id < p.id
        {
            in_message[p.id] =
                in_message[q.id] || matches!(q.kind, PartKind::Message | PartKind::EncodedMessage);
            in_alternative[p.id] =
                in_alternative[q.id] || q.mime.content_type.is("multipart", "alternative");
        }
    }
    let mut out = Vec::new();
    for p in parts {
        if in_message[p.id] || Some(p.id) == body {
            continue;
        }
        let listed = match p.kind {
            PartKind::Message | PartKind::EncodedMessage => true,
            PartKind::Multipart => false,
            PartKind::Leaf => {
                let ct = &p.mime.content_type;
                let alternative_text = in_alternative[p.id]
                    && (ct.is("text", "plain") || ct.is("text", "html"))
                    && p.mime.filename().is_none();
                let shown = p
                    .mime
                    .content_id()
                    .is_some_and(|id| shown_cids.contains(&sanitize::cid_key(id)));
                // An empty unnamed text part (a left-over of some
                // clients) is nothing to download.
                let empty_text = ct.ty() == "text"
                    && p.mime.filename().is_none()
                    && msg.raw_body(p).trim_ascii().is_empty();
                !alternative_text && !shown && !empty_text
            }
        };
        if listed {
            out.push(AttachmentInfo {
                part_id: p.section_string(),
                file_name: file_name_of(msg, p),
                content_type: valid_type(&p.mime.mime_type()),
                size: decoded_size(msg, p),
            });
        }
    }
    out
}

/// The decoded size of a part, counted without decoding base64.
fn decoded_size(msg: &Message<'_>, p: &MimePart) -> usize {
    let raw = msg.raw_body(p);
    match p.mime.transfer_encoding {
        TransferEncoding::Base64 => {
            let chars = raw
                .iter()
                .filter(|b| b.is_ascii_alphanumeric() || **b == b'+' || **b == b'/')
                .count();
            chars * 3 / 4
        }
        _ => msg.decoded(p).len(),
    }
}

/// The safe file name of a part: its own, else the subject of an
/// encapsulated message, else one made from its type.
fn file_name_of(msg: &Message<'_>, p: &MimePart) -> String {
    if let Some(name) = p.mime.filename().filter(|n| !n.trim().is_empty()) {
        return safe_file_name(name);
    }
    let ct = p.mime.mime_type();
    if matches!(p.kind, PartKind::Message | PartKind::EncodedMessage) {
        let inner = msg.decoded(p);
        let subject = Header::parse(&inner)
            .subject()
            .map(|s| clean_line(&s))
            .unwrap_or_default();
        let subject: String = subject.chars().take(80).collect();
        return safe_file_name(&format!(
            "{}.eml",
            if subject.is_empty() {
                "message"
            } else {
                &subject
            }
        ));
    }
    let ext = match ct.as_str() {
        "text/plain" => "txt",
        "text/html" => "html",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/jpeg" | "image/jpg" => "jpg",
        "application/pdf" => "pdf",
        "message/rfc822" => "eml",
        _ => "bin",
    };
    format!("attachment.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn url(id: &str) -> String {
        format!("/m/42/part/{id}")
    }

    fn opts(show_remote_images: bool) -> ViewOptions<'static> {
        ViewOptions {
            show_remote_images,
            part_url: &url,
        }
    }

    /// A message as mail clients send it: text and HTML alternatives, an
    /// inline image the HTML shows by cid:, a PDF with a non-ASCII name
    /// (RFC 2231), a forwarded message, and RFC 2047 header words.
    const RICH: &[u8] = b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.test>\r\n\
To: Ann <ann@example.test>, bob@example.test\r\n\
Cc: =?iso-8859-1?q?Ren=E9?= <rene@example.test>\r\n\
Subject: =?utf-8?b?R3LDvMOfZQ==?= and more\r\n\
Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n\
Message-ID: <rich@example.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/related; boundary=\"rel\"\r\n\
\r\n\
--rel\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
\r\n\
--alt\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gr=C3=BC=C3=9Fe, see the logo.\r\n\
--alt\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Gr\xc3\xbc\xc3\x9fe <img src=\"cid:logo@x\"><img src=\"https://t.example/p.gif\"><script>alert(1)</script></p>\r\n\
--alt--\r\n\
--rel\r\n\
Content-Type: image/png\r\n\
Content-ID: <logo@x>\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--rel--\r\n\
--outer\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename*=utf-8''rapport%20%C3%A9t%C3%A9.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: x@example.test\r\n\
Subject: Inner news\r\n\
Content-Type: text/plain\r\n\
\r\n\
inner body\r\n\
--outer\r\n\
Content-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename=\"../../etc/.passwd\"\r\n\
\r\n\
root\r\n\
--outer--\r\n";

    #[test]
    fn rich_message_view() {
        let v = view(RICH, &opts(false));
        assert_eq!(v.subject, "Grüße and more");
        assert_eq!(v.from, "Jörg Müller <joerg@example.test>");
        assert_eq!(v.to, "Ann <ann@example.test>, bob@example.test");
        assert_eq!(v.cc, "René <rene@example.test>");
        assert_eq!(v.date, "Fri, 21 Nov 1997 09:55:06 -0600");
        assert_eq!(v.message_id.as_deref(), Some("rich@example.test"));
        assert!(
            v.headers
                .contains(&("Subject".to_owned(), "Grüße and more".to_owned()))
        );
        assert_eq!(v.headers.len(), 8);
        match &v.body {
            Body::Html {
                html,
                blocked_remote_images,
            } => {
                assert_eq!(*blocked_remote_images, 1);
                assert!(html.contains("Grüße"), "{html}");
                assert!(html.contains(r#"<img src="/m/42/part/1.2">"#), "{html}");
                assert!(
                    !html.contains("script") && !html.contains("t.example"),
                    "{html}"
                );
            }
            b => panic!("expected HTML, got {b:?}"),
        }
        // The text alternative and the cid: image are not attachments.
        let listed: Vec<(&str, &str, &str, usize)> = v
            .attachments
            .iter()
            .map(|a| {
                (
                    a.part_id.as_str(),
                    a.file_name.as_str(),
                    a.content_type.as_str(),
                    a.size,
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("2", "rapport été.pdf", "application/pdf", 9),
                ("3", "Inner news.eml", "message/rfc822", 81),
                ("4", "_.._etc_.passwd", "application/octet-stream", 4),
            ]
        );
        // Every listed size is the size of the part as downloaded.
        for a in &v.attachments {
            let p = part(RICH, &a.part_id).unwrap();
            assert_eq!(p.bytes.len(), a.size, "{}", a.part_id);
            assert_eq!(p.file_name, a.file_name);
            assert_eq!(p.content_type, a.content_type);
        }
    }

    #[test]
    fn remote_images_shown_on_request() {
        let Body::Html {
            html,
            blocked_remote_images,
        } = view(RICH, &opts(true)).body
        else {
            panic!("expected HTML");
        };
        assert_eq!(blocked_remote_images, 0);
        assert!(
            html.contains(r#"<img src="https://t.example/p.gif">"#),
            "{html}"
        );
    }

    #[test]
    fn parts_are_decoded() {
        let png = part(RICH, "1.2").unwrap();
        assert_eq!(png.content_type, "image/png");
        assert_eq!(png.bytes, b"\x89PNG\r\n\x1a\n");
        assert!(png.inline_image());
        assert_eq!(png.file_name, "attachment.png");
        let text = part(RICH, "1.1.1").unwrap();
        assert_eq!(text.bytes, "Grüße, see the logo.".as_bytes());
        assert!(!text.inline_image());
        let pdf = part(RICH, "2").unwrap();
        assert_eq!(pdf.bytes, b"%PDF-1.4\n");
        let inner = part(RICH, "3").unwrap();
        assert!(inner.bytes.starts_with(b"From: x@example.test\r\n"));
        assert_eq!(part(RICH, "1"), None, "a multipart has no bytes of its own");
        assert_eq!(part(RICH, ""), None);
        assert_eq!(part(RICH, "9"), None);
        assert_eq!(part(RICH, "x.1"), None);
    }

    #[test]
    fn plain_text_message() {
        let raw = b"From: a@example.test\r\nSubject: plain\r\n\r\nline <1>\r\nline & 2\r\n";
        let v = view(raw, &opts(false));
        assert_eq!(v.body, Body::Text("line <1>\nline & 2\n".to_owned()));
        assert!(v.attachments.is_empty());
        assert_eq!(v.to, "");
        // The body of a single-part message is section 1 (RFC 3501 §6.4.5).
        assert_eq!(part(raw, "1").unwrap().bytes, b"line <1>\r\nline & 2\r\n");
        assert_eq!(
            escape_html("line <1> & \"2\" 'x'"),
            "line &lt;1&gt; &amp; &quot;2&quot; &#39;x&#39;"
        );
    }

    #[test]
    fn text_links() {
        assert_eq!(
            text_to_html("see <https://example.org/a?b=1&c=2>, or HTTP://x.example/p.\n<script>"),
            "see &lt;<a href=\"https://example.org/a?b=1&amp;c=2\" target=\"_blank\" \
             rel=\"noopener noreferrer\">https://example.org/a?b=1&amp;c=2</a>&gt;, or \
             <a href=\"HTTP://x.example/p\" target=\"_blank\" rel=\"noopener noreferrer\">\
             HTTP://x.example/p</a>.\n&lt;script&gt;"
        );
        assert_eq!(
            text_to_html("javascript:alert(1) http:// \"https://x.example/\"onclick=\"y\""),
            "javascript:alert(1) http:// &quot;<a href=\"https://x.example/\" target=\"_blank\" \
             rel=\"noopener noreferrer\">https://x.example/</a>&quot;onclick=&quot;y&quot;"
        );
        assert_eq!(text_to_html("a < b"), "a &lt; b");
        // Many URLs (or near-URLs) cost one pass, not one pass each.
        let many = "http:// https://x.example/ ".repeat(50_000);
        let t = std::time::Instant::now();
        assert_eq!(text_to_html(&many).matches("</a>").count(), 50_000);
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn pathological_html_is_handled_in_time_and_stack() {
        let t = std::time::Instant::now();
        let mut raw = b"Content-Type: text/html\r\n\r\n".to_vec();
        raw.extend_from_slice("<div><b>".repeat(50_000).as_bytes());
        raw.extend_from_slice("cid:".repeat(100_000).as_bytes());
        let v = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || view(&raw, &opts(false)))
            .unwrap()
            .join()
            .unwrap();
        assert!(matches!(v.body, Body::Html { .. }));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn rfc3676_flowed_text_is_joined() {
        let raw = "Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n\
Dear friend, this paragraph was \r\nwrapped by the sender's \r\nclient.\r\n\
\r\n\
> Quoted text that \r\n> was wrapped too.\r\n\
>> Deeper \r\n> back to one\r\n\
 From the space-stuffed line.\r\n\
-- \r\nSignature\r\n";
        let v = view(raw.as_bytes(), &opts(false));
        assert_eq!(
            v.body,
            Body::Text(
                "Dear friend, this paragraph was wrapped by the sender's client.\n\
                 \n\
                 > Quoted text that was wrapped too.\n\
                 >> Deeper \n\
                 > back to one\n\
                 From the space-stuffed line.\n\
                 -- \n\
                 Signature\n"
                    .to_owned()
            )
        );
        // DelSp=yes (§4.2): the space before a soft break goes too, as in
        // text whose words are not separated by spaces.
        assert_eq!(unflow("日本語の \nテキスト\n", true), "日本語のテキスト\n");
        assert_eq!(unflow("a \nb\n", false), "a b\n");
        // A flowed line at the end still ends the text with a line end.
        assert_eq!(unflow("end ", false), "end \n");
    }

    #[test]
    fn only_images_the_html_shows_are_hidden_from_attachments() {
        let raw = b"Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\n\
Content-Type: text/html\r\n\r\n<!-- <img src=cid:a@x> --><script>x='cid:c@x'</script><img src=\"cid:B@x\">\r\n\
--r\r\nContent-Type: image/gif\r\nContent-ID: <a@x>\r\n\r\nGIF89a\r\n\
--r\r\nContent-Type: image/gif\r\nContent-ID: <b@x>\r\n\r\nGIF89a\r\n\
--r\r\nContent-Type: image/gif\r\nContent-ID: <c@x>\r\n\r\nGIF89a\r\n--r--\r\n";
        let v = view(raw, &opts(false));
        let ids: Vec<&str> = v.attachments.iter().map(|a| a.part_id.as_str()).collect();
        assert_eq!(ids, ["2", "4"]);
        assert_eq!(
            v.body,
            Body::Html {
                html: "<img src=\"/m/42/part/3\">".to_owned(),
                blocked_remote_images: 0
            }
        );
    }

    #[test]
    fn alternative_without_html_shows_text() {
        let raw = b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nplain\r\n--b\r\nContent-Type: text/enriched\r\n\r\n<bold>x</bold>\r\n--b--\r\n";
        let v = view(raw, &opts(false));
        assert_eq!(v.body, Body::Text("plain".to_owned()));
    }

    #[test]
    fn html_only_single_part() {
        let raw = b"Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"javascript:x()\">caf=E9</a>\r\n";
        let v = view(raw, &opts(false));
        assert_eq!(
            v.body,
            Body::Html {
                html: "<a target=\"_blank\" rel=\"noopener noreferrer\">café</a>\n".to_owned(),
                blocked_remote_images: 0
            }
        );
    }

    #[test]
    fn unparseable_addresses_and_dates_are_shown_as_written() {
        let raw = b"From: =?utf-8?q?no_address?=\r\nDate: yesterday\r\nSubject: a\x01b\r\n\r\n";
        let v = view(raw, &opts(false));
        assert_eq!(v.from, "no address");
        assert_eq!(v.date, "yesterday");
        assert_eq!(v.subject, "a b");
    }

    #[test]
    fn safe_file_names() {
        for (given, safe) in [
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "_.._etc_passwd"),
            ("..\\..\\boot.ini", "_.._boot.ini"),
            (".htaccess", "htaccess"),
            ("  . hidden ", "hidden"),
            ("a\r\nb\0c.txt", "abc.txt"),
            ("evil\u{202e}fdp.exe", "evilfdp.exe"),
            ("CON.txt", "_CON.txt"),
            ("com1", "_com1"),
            ("what?<>|*\".txt", "what______.txt"),
            ("", "attachment.bin"),
            ("...", "attachment.bin"),
            ("/", "_"),
            ("résumé.pdf", "résumé.pdf"),
        ] {
            assert_eq!(safe_file_name(given), safe, "{given:?}");
        }
        let long = format!("{}.pdf", "x".repeat(500));
        let s = safe_file_name(&long);
        assert_eq!(s.chars().count(), MAX_FILE_NAME);
        assert!(s.ends_with("x.pdf"));
        assert_eq!(
            safe_file_name(&"é".repeat(500)).chars().count(),
            MAX_FILE_NAME
        );
        // A cut that ends in a dot loses it (found by proptest).
        let cut = format!("{}.{}", "a".repeat(MAX_FILE_NAME - 1), "b".repeat(20));
        assert_eq!(safe_file_name(&cut), "a".repeat(MAX_FILE_NAME - 1));
    }

    #[test]
    fn rfc6266_content_disposition() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("rapport été 100%.pdf"),
            "attachment; filename=\"rapport _t_ 100_.pdf\"; filename*=UTF-8''rapport%20%C3%A9t%C3%A9%20100%25.pdf"
        );
        assert_eq!(
            content_disposition("a\"b\\c\r\n.txt"),
            "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a_b_c.txt"
        );
    }

    #[test]
    fn content_types_are_checked() {
        assert_eq!(valid_type("image/png"), "image/png");
        assert_eq!(valid_type("Text/HTML"), "text/html");
        assert_eq!(valid_type("text/html\r\nX: y"), "application/octet-stream");
        assert_eq!(valid_type("nonsense"), "application/octet-stream");
    }

    /// Every message of the corpus is viewed, and every attachment it
    /// lists is fetched, without panic; listed sizes match the bytes.
    #[test]
    fn corpus_messages_render() {
        let root = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/mime"
        ));
        let Some(files) = mailwire_testkit::corpus::mime_messages(root) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "corpus {} is missing (CI=true)",
                root.display()
            );
            eprintln!("skipping: corpus {} is missing", root.display());
            return;
        };
        assert!(files.len() > 100, "{} files", files.len());
        let mut html = 0;
        for f in &files {
            let raw = std::fs::read(f).unwrap();
            let v = view(&raw, &opts(false));
            if let Body::Html { html: h, .. } = &v.body {
                html += 1;
                let l = h.to_ascii_lowercase();
                assert!(!l.contains("<script"), "{}", f.display());
                // No event handler in any tag.
                for tag in l.split('<').skip(1) {
                    let tag = tag.split('>').next().unwrap_or_default();
                    for (i, _) in tag.match_indices(" on") {
                        let name: String = tag[i + 3..]
                            .chars()
                            .take_while(char::is_ascii_alphabetic)
                            .collect();
                        assert!(
                            !tag[i + 3 + name.len()..].starts_with('='),
                            "{}: {tag}",
                            f.display()
                        );
                    }
                }
            }
            for a in &v.attachments {
                let p = part(&raw, &a.part_id)
                    .unwrap_or_else(|| panic!("{} {}", f.display(), a.part_id));
                assert_eq!(p.file_name, a.file_name);
                assert!(!a.file_name.is_empty() && !a.file_name.contains('/'));
                // base64 sizes are counted, not decoded: a broken body may
                // decode to fewer bytes than its characters promise.
                assert!(p.bytes.len() <= a.size + 3, "{} {}", f.display(), a.part_id);
            }
        }
        assert!(html > 5, "{html} HTML bodies");
    }

    proptest! {
        /// Escaped text with links holds no markup but the links, and
        /// each link is an http(s) URL.
        #[test]
        fn text_to_html_makes_only_links(t in "([ -~\n\u{e9}]|https?://|<a |javascript:){0,60}") {
            let html = text_to_html(&t);
            let mut rest = html.as_str();
            let mut plain = String::new();
            while let Some(i) = rest.find("<a href=\"") {
                plain.push_str(&rest[..i]);
                let after = &rest[i + 9..];
                let href_end = after.find('"').unwrap();
                let href = after[..href_end].to_ascii_lowercase();
                prop_assert!(href.starts_with("http://") || href.starts_with("https://"), "{}", html);
                let open = "\" target=\"_blank\" rel=\"noopener noreferrer\">";
                prop_assert!(after[href_end..].starts_with(open), "{}", html);
                let close = after.find("</a>").unwrap();
                plain.push_str(&after[href_end + open.len()..close]);
                rest = &after[close + 4..];
            }
            plain.push_str(rest);
            prop_assert!(!plain.contains(['<', '>', '"']), "{}", html);
        }

        /// Any name gives a header value of visible ASCII (what an HTTP
        /// header may hold) whose `filename*` decodes to the safe name.
        #[test]
        fn content_disposition_is_a_valid_header(name in "\\PC{0,200}") {
            let v = content_disposition(&name);
            prop_assert!(v.bytes().all(|b| (b' '..=b'~').contains(&b)), "{}", v);
            let ext = v.split("filename*=UTF-8''").nth(1).unwrap();
            let mut bytes = Vec::new();
            let mut i = 0;
            while i < ext.len() {
                if ext.as_bytes()[i] == b'%' {
                    bytes.push(u8::from_str_radix(&ext[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    bytes.push(ext.as_bytes()[i]);
                    i += 1;
                }
            }
            prop_assert_eq!(String::from_utf8(bytes).unwrap(), safe_file_name(&name));
            let safe = safe_file_name(&name);
            prop_assert!(!safe.is_empty() && !safe.starts_with('.'));
            prop_assert!(!safe.contains(['/', '\\', '\0']) && safe.chars().count() <= MAX_FILE_NAME);
            prop_assert_eq!(safe_file_name(&safe), safe.clone());
        }

        #[test]
        fn view_and_part_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2000), id in "[0-9.]{0,6}") {
            let _ = view(&raw, &opts(false));
            let _ = part(&raw, &id);
        }

        #[test]
        fn view_never_panics_on_mime_shaped_input(
            pieces in proptest::collection::vec(prop_oneof![
                Just("Content-Type: multipart/mixed; boundary=b\r\n"),
                Just("Content-Type: multipart/alternative; boundary=b\r\n"),
                Just("Content-Type: multipart/related; boundary=b; start=\"<x>\"\r\n"),
                Just("Content-Type: text/html\r\n"),
                Just("Content-Type: message/rfc822\r\n"),
                Just("Content-Transfer-Encoding: base64\r\n"),
                Just("Content-Transfer-Encoding: quoted-printable\r\n"),
                Just("Content-ID: <x>\r\n"),
                Just("Content-Disposition: attachment; filename*=utf-8''%C3%A9\r\n"),
                Just("\r\n"),
                Just("--b\r\n"),
                Just("--b--\r\n"),
                Just("<img src=cid:x><a href=javascript:1>"),
                Just("=C3=A9=\r\n"),
                Just("QUJD\r\n"),
            ], 0..40),
            id in "[0-9]{1,2}(\\.[0-9]{1,2}){0,2}",
        ) {
            let raw = pieces.concat().into_bytes();
            let v = view(&raw, &opts(false));
            for a in &v.attachments {
                prop_assert!(part(&raw, &a.part_id).is_some());
            }
            let _ = part(&raw, &id);
        }
    }
}

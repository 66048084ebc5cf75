//! `FETCH PREVIEW` (RFC 8970): a short plain-text preview of a message.
//!
//! RFC 8970 §3.1 leaves the algorithm to the server, within limits: plain
//! text, at most 256 characters, useful to a reader. This one takes the
//! message's first `text/plain` part that is neither an attachment nor
//! inside an attached message (the first such `text/html` part when there
//! is none, its markup removed), skips quoted lines (`>`), stops at a
//! signature (`-- `), folds every run of white space into one space and
//! cuts at 256 characters. It reads at most [`READ_LIMIT`] octets of the
//! part, so a preview costs little whatever the message.

use mailwire_mime::{Part, PartKind};

use super::Message;

/// Most characters of a preview (RFC 8970 §3.1).
pub const PREVIEW_CHARS: usize = 256;

/// Most octets of decoded text a preview looks at: enough for 256
/// characters after markup and quotes, and a bound on the work.
pub const READ_LIMIT: usize = 64 << 10;

impl Message {
    /// The message's preview (RFC 8970 §3.1; see the module text): at
    /// most 256 characters, empty when the message has no text to show.
    ///
    /// ```
    /// use mailwire_imap::kit::Message;
    /// let m = Message::parse(&b"Subject: x\r\n\r\n> quoted\r\nSee you\r\n  at  noon.\r\n-- \r\nAnn\r\n"[..]);
    /// assert_eq!(m.preview(), "See you at noon.");
    /// ```
    pub fn preview(&self) -> String {
        let shown = |p: &&Part| {
            p.is_leaf()
                && !p
                    .mime
                    .disposition
                    .as_ref()
                    .is_some_and(|d| d.is_attachment())
                && !self.in_attached_message(p)
        };
        let of_type = |sub: &str| {
            self.parts().iter().filter(shown).find(|p| {
                p.mime.content_type.ty() == "text" && p.mime.content_type.subtype() == sub
            })
        };
        let (part, html) = match (of_type("plain"), of_type("html")) {
            (Some(p), _) => (p, false),
            (None, Some(p)) => (p, true),
            (None, None) => return String::new(),
        };
        let Some((text, _)) = self.decoded_text(part) else {
            return String::new();
        };
        let mut end = text.len().min(READ_LIMIT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let text = &text[..end];
        if html {
            preview_of_text(&html_text(text))
        } else {
            preview_of_text(text)
        }
    }

    /// Whether `part` is inside an encapsulated message.
    fn in_attached_message(&self, part: &Part) -> bool {
        let mut up = part.parent;
        while let Some(p) = up.and_then(|i| self.part(i)) {
            if matches!(p.kind, PartKind::Message | PartKind::EncodedMessage) {
                return true;
            }
            up = p.parent;
        }
        false
    }
}

/// The preview of plain text: quoted lines skipped, cut at a signature
/// line, white space folded, at most [`PREVIEW_CHARS`] characters (cut
/// between words where there is more than one).
pub fn preview_of_text(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut space = false;
    for line in text.lines() {
        if line == "-- " || line == "--" {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        for c in line.chars().chain([' ']) {
            if c.is_whitespace() || c.is_control() {
                space = !out.is_empty();
                continue;
            }
            let need = usize::from(space) + 1;
            if chars + need > PREVIEW_CHARS {
                // Not in the middle of a word, unless it is the only one.
                if !space && let Some(i) = out.rfind(' ') {
                    out.truncate(i);
                }
                return out;
            }
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
            chars += need;
        }
    }
    out
}

/// The text of HTML: tags and comments removed (with the contents of
/// `script`, `style` and `head`), block ends as line breaks, the common
/// character references decoded.
fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            push_decoded(&mut out, &rest[..lt]);
        }
        if rest[lt..].starts_with("<!--") {
            // A comment ends at `-->`, whatever `>` it holds.
            rest = rest[lt + 4..]
                .find("-->")
                .map_or("", |e| &rest[lt + 4 + e + 3..]);
            continue;
        }
        let (tag, tag_end) = match rest[lt..].find('>') {
            Some(e) => (&rest[lt + 1..lt + e], lt + e + 1),
            None => (&rest[lt + 1..], rest.len()),
        };
        let tag = tag.trim();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match skip_until {
            Some(end) if tag.starts_with('/') && name == end => skip_until = None,
            Some(_) => {}
            None if !tag.starts_with('/')
                && matches!(name.as_str(), "script" | "style" | "head") =>
            {
                skip_until = Some(match name.as_str() {
                    "script" => "script",
                    "style" => "style",
                    _ => "head",
                });
            }
            None if matches!(
                name.as_str(),
                "p" | "div"
                    | "br"
                    | "li"
                    | "tr"
                    | "h1"
                    | "h2"
                    | "h3"
                    | "h4"
                    | "h5"
                    | "h6"
                    | "blockquote"
                    | "table"
                    | "ul"
                    | "ol"
            ) =>
            {
                out.push('\n')
            }
            None => {}
        }
        rest = &rest[tag_end..];
    }
    if skip_until.is_none() {
        push_decoded(&mut out, rest);
    }
    out
}

/// Appends `text` with its character references (`&amp;`, `&#233;`,
/// `&#xE9;`, `&nbsp;` ...) decoded; an unknown one is kept as it is.
fn push_decoded(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // A reference is short: `;` within its first 12 octets.
        let end = rest.bytes().take(12).position(|b| b == b';');
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => ' ',
                _ => {
                    let n = name.strip_prefix('#')?;
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview(raw: &str) -> String {
        Message::parse(raw.as_bytes().to_vec()).preview()
    }

    #[test]
    fn plain_text_first_quotes_and_signature_left_out() {
        let raw = "Subject: x\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
On Monday Ann wrote:\r\n> Lunch?\r\n>> old\r\nYes,   caf=E9 at\tnoon.\r\n\r\n-- \r\nBob\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p>HTML</p>\r\n--b--\r\n";
        assert_eq!(preview(raw), "On Monday Ann wrote: Yes, café at noon.");
    }

    #[test]
    fn html_when_there_is_no_plain_text() {
        let raw = "Subject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><head><title>T</title><style>p {color: red}</style></head>\
<body><p>Caf&eacute;&nbsp;&amp;&#32;bar &lt;3 &#xE9;t&#233;</p><script>var x = '<p>';</script><div>next</div></body></html>\r\n";
        assert_eq!(preview(raw), "Caf&eacute; & bar <3 été next");
    }

    #[test]
    fn attachments_and_attached_messages_are_not_previewed() {
        let raw = "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nfile\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text\r\n\
--b--\r\n";
        assert_eq!(preview(raw), "");
        let raw = "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nouter text\r\n--b--\r\n";
        assert_eq!(preview(raw), "outer text");
    }

    proptest::proptest! {
        /// Any text, plain or HTML, gives a preview of at most 256
        /// characters without control characters or runs of spaces.
        #[test]
        fn any_text_gives_a_bounded_preview(text in "(\\PC|[<>&;#x/ \r\n\t]){0,600}") {
            for p in [preview_of_text(&text), preview_of_text(&html_text(&text))] {
                proptest::prop_assert!(p.chars().count() <= PREVIEW_CHARS);
                proptest::prop_assert!(!p.contains("  ") && !p.chars().any(char::is_control));
                proptest::prop_assert!(!p.starts_with(' ') && !p.ends_with(' '));
            }
        }
    }

    #[test]
    fn unclosed_tags_and_references_in_any_text() {
        assert_eq!(html_text("a <é"), "a ");
        assert_eq!(html_text("&é;&ééééééé;x&#xé;"), "&é;&ééééééé;x&#xé;");
        assert_eq!(preview_of_text(&html_text("x<p")), "x");
        assert_eq!(html_text("a<!-- b > c -->d<!-- e"), "ad");
    }

    /// RFC 8970 §3.1: at most 256 characters (not octets).
    #[test]
    fn rfc8970_3_1_at_most_256_characters() {
        let body = "é".repeat(300);
        let p = preview(&format!(
            "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        ));
        assert_eq!(p.chars().count(), 256);
        let words = "word ".repeat(100);
        let p = preview(&format!("Subject: x\r\n\r\n{words}\r\n"));
        assert!(p.chars().count() <= 256 && p.ends_with("word"), "{p:?}");
        assert_eq!(preview("Subject: x\r\n\r\n"), "");
    }
}

//! Building header sections and messages (RFC 5322 §2.1.1, §2.2.3, §3.6;
//! RFC 2047 §5; RFC 6532).
//!
//! Every value is checked when it is added: CR, LF or NUL in a field name
//! or value is refused, so header injection is impossible through this API.
//! Lines are folded at white space to stay within 78 characters where the
//! text allows, and never beyond 998 (RFC 5322 §2.1.1). Non-ASCII text
//! becomes RFC 2047 encoded words, or stays raw UTF-8 in RFC 6532 mode.
//!
//! ```
//! use mailwire_message::{DateTime, HeaderBuilder, Mailbox, Message, MessageBuilder};
//! let from = Mailbox::new(Some("Jörg"), "joerg@example.com").unwrap();
//! let headers = HeaderBuilder::new()
//!     .from(&[from])
//!     .subject("Grüße")
//!     .unwrap()
//!     .date(&DateTime::new(2005, 5, 17, 15, 58, 25, 120).unwrap());
//! let bytes = MessageBuilder::new(headers, b"Hello\n").to_bytes();
//! assert!(bytes.starts_with(b"From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.com>\r\n"));
//! let msg = Message::parse(&bytes);
//! assert_eq!(msg.subject().as_deref(), Some("Grüße"));
//! assert_eq!(msg.body(), b"Hello\r\n");
//! ```

use crate::address::{Address, Group, Mailbox};
use crate::datetime::DateTime;
use crate::msgid::MessageId;

/// Why a header value could not be added.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// CR, LF, NUL (or, in a name, any byte outside printable ASCII or a
    /// colon) would break the header: refused.
    #[error("forbidden byte {byte:#04x} at index {index} of {what}")]
    ForbiddenByte {
        /// "name" or "value".
        what: &'static str,
        /// The byte.
        byte: u8,
        /// Its index.
        index: usize,
    },
    /// An empty field name.
    #[error("empty field name")]
    EmptyName,
    /// A structured value has a run of more than 900 bytes without white
    /// space: it could not be folded within 998 columns.
    #[error("value cannot be folded within 998 columns")]
    TooLong,
    /// A non-ASCII address outside RFC 6532 mode (RFC 2047 cannot encode
    /// an addr-spec; enable [`HeaderBuilder::utf8`]).
    #[error("non-ASCII address {0:?} needs RFC 6532 (utf8) output")]
    NonAsciiAddress(String),
}

fn check_name(name: &str) -> Result<(), BuildError> {
    if name.is_empty() {
        return Err(BuildError::EmptyName);
    }
    match name
        .bytes()
        .position(|b| !(33..=126).contains(&b) || b == b':')
    {
        Some(index) => Err(BuildError::ForbiddenByte {
            what: "name",
            byte: name.as_bytes()[index],
            index,
        }),
        None => Ok(()),
    }
}

fn check_value(value: &str) -> Result<(), BuildError> {
    match value
        .bytes()
        .position(|b| b == b'\r' || b == b'\n' || b == 0)
    {
        Some(index) => Err(BuildError::ForbiddenByte {
            what: "value",
            byte: value.as_bytes()[index],
            index,
        }),
        None => Ok(()),
    }
}

/// Write `name: value` folded (RFC 5322 §2.2.3): a line break is put
/// before a space wherever the line would pass 78 characters, never
/// leaving a line of white space only. Ends with CRLF.
pub fn fold_field(name: &str, value: &str, out: &mut Vec<u8>) {
    const SOFT: usize = 78;
    let start_len = out.len();
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    let spaced;
    let v: &[u8] = if value.starts_with(' ') || value.is_empty() {
        value.as_bytes()
    } else {
        spaced = [b" ", value.as_bytes()].concat();
        &spaced
    };
    let mut line_len = out.len() - start_len;
    let mut i = 0;
    while i < v.len() {
        // Next segment: a run of spaces, then a run of non-spaces.
        let seg_start = i;
        let mut j = i;
        while j < v.len() && v[j] == b' ' {
            j += 1;
        }
        while j < v.len() && v[j] != b' ' {
            j += 1;
        }
        let seg = &v[seg_start..j];
        let spaces = seg.iter().take_while(|&&b| b == b' ').count();
        // Fold before the last leading space when the line would pass 78
        // (possibly right after the colon: the body may start with FWS).
        if line_len + seg.len() > SOFT && spaces > 0 && spaces < seg.len() {
            out.extend_from_slice(&seg[..spaces - 1]);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&seg[spaces - 1..]);
            line_len = seg.len() - (spaces - 1);
        } else {
            out.extend_from_slice(seg);
            line_len += seg.len();
        }
        i = j;
    }
    out.extend_from_slice(b"\r\n");
}

/// Builds a header section: fields in the order added, each folded and
/// encoded as needed.
#[derive(Debug, Clone, Default)]
pub struct HeaderBuilder {
    fields: Vec<(String, String)>,
    utf8: bool,
}

impl HeaderBuilder {
    /// An empty header section, RFC 2047 (ASCII) output.
    pub fn new() -> Self {
        Self::default()
    }

    /// RFC 6532 output: non-ASCII text and addresses are written as raw
    /// UTF-8 instead of encoded words. Only for transports that accept it
    /// (SMTPUTF8, RFC 6531). Set this before adding fields.
    pub fn utf8(mut self, on: bool) -> Self {
        self.utf8 = on;
        self
    }

    /// Whether RFC 6532 output is on.
    pub fn is_utf8(&self) -> bool {
        self.utf8
    }

    /// Add an unstructured field (RFC 5322 §3.2.5: Subject, Comments, or
    /// any text field), encoding non-ASCII words (RFC 2047 §5(1)).
    pub fn text(mut self, name: &str, text: &str) -> Result<Self, BuildError> {
        check_name(name)?;
        check_value(text)?;
        let enc = crate::rfc2047::encode_unstructured(text, self.utf8).into_owned();
        self.fields.push((name.to_owned(), enc));
        Ok(self)
    }

    /// Add Subject (RFC 5322 §3.6.5).
    pub fn subject(self, text: &str) -> Result<Self, BuildError> {
        self.text("Subject", text)
    }

    /// Add a structured field whose value the caller has already written
    /// in RFC 5322 syntax (e.g. `Content-Type: text/plain; charset=utf-8`).
    /// It is folded but not encoded. CR, LF and NUL are refused.
    pub fn raw(mut self, name: &str, value: &str) -> Result<Self, BuildError> {
        check_name(name)?;
        check_value(value)?;
        if value.split([' ', '\t']).any(|w| w.len() > 900) {
            return Err(BuildError::TooLong);
        }
        self.fields.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    fn mailbox_text(&self, m: &Mailbox<'_>, out: &mut String) -> Result<(), BuildError> {
        if !self.utf8 && !m.addr_spec().is_ascii() {
            return Err(BuildError::NonAsciiAddress(m.addr_spec().to_owned()));
        }
        m.write_header(out, self.utf8);
        Ok(())
    }

    /// Add a field holding an address list (To, Cc, Bcc, Reply-To, ...).
    pub fn addresses(mut self, name: &str, list: &[Address<'_>]) -> Result<Self, BuildError> {
        check_name(name)?;
        let mut v = String::new();
        for (i, a) in list.iter().enumerate() {
            if i > 0 {
                v.push_str(", ");
            }
            match a {
                Address::Mailbox(m) => self.mailbox_text(m, &mut v)?,
                Address::Group(Group {
                    name: gname,
                    members,
                }) => {
                    check_value(gname)?;
                    v.push_str(&crate::rfc2047::encode_phrase(
                        if gname.is_empty() {
                            "undisclosed-recipients"
                        } else {
                            gname
                        },
                        self.utf8,
                    ));
                    v.push(':');
                    for (k, m) in members.iter().enumerate() {
                        v.push_str(if k == 0 { " " } else { ", " });
                        self.mailbox_text(m, &mut v)?;
                    }
                    v.push(';');
                }
            }
        }
        self.fields.push((name.to_owned(), v));
        Ok(self)
    }

    /// Add a field holding mailboxes (From, To, ...). Fails only for a
    /// non-ASCII address outside RFC 6532 mode.
    pub fn mailboxes(self, name: &str, list: &[Mailbox<'_>]) -> Result<Self, BuildError> {
        let l: Vec<Address<'_>> = list.iter().cloned().map(Address::Mailbox).collect();
        self.addresses(name, &l)
    }

    /// Add From. Panics never; a non-ASCII address outside RFC 6532 mode
    /// is written raw (use [`HeaderBuilder::mailboxes`] to get an error instead).
    pub fn from(self, list: &[Mailbox<'_>]) -> Self {
        self.mailboxes_lenient("From", list)
    }

    /// Add To (see [`HeaderBuilder::from`] about non-ASCII addresses).
    pub fn to(self, list: &[Mailbox<'_>]) -> Self {
        self.mailboxes_lenient("To", list)
    }

    /// Add Cc.
    pub fn cc(self, list: &[Mailbox<'_>]) -> Self {
        self.mailboxes_lenient("Cc", list)
    }

    /// Add Bcc.
    pub fn bcc(self, list: &[Mailbox<'_>]) -> Self {
        self.mailboxes_lenient("Bcc", list)
    }

    /// Add Reply-To.
    pub fn reply_to(self, list: &[Mailbox<'_>]) -> Self {
        self.mailboxes_lenient("Reply-To", list)
    }

    /// Add Sender.
    pub fn sender(self, mailbox: &Mailbox<'_>) -> Self {
        self.mailboxes_lenient("Sender", std::slice::from_ref(mailbox))
    }

    fn mailboxes_lenient(mut self, name: &str, list: &[Mailbox<'_>]) -> Self {
        let mut v = String::new();
        for (i, m) in list.iter().enumerate() {
            if i > 0 {
                v.push_str(", ");
            }
            // Mailbox values are validated at construction (no CR/LF/NUL).
            m.write_header(&mut v, self.utf8);
        }
        self.fields.push((name.to_owned(), v));
        self
    }

    /// Add Date in RFC 5322 §3.3 form.
    pub fn date(mut self, date: &DateTime) -> Self {
        self.fields.push(("Date".to_owned(), date.to_rfc5322()));
        self
    }

    /// Add a date field under another name (Resent-Date, ...).
    pub fn date_field(mut self, name: &str, date: &DateTime) -> Result<Self, BuildError> {
        check_name(name)?;
        self.fields.push((name.to_owned(), date.to_rfc5322()));
        Ok(self)
    }

    /// Add Message-ID.
    pub fn message_id(self, id: &MessageId<'_>) -> Self {
        self.ids_field("Message-ID", std::slice::from_ref(id))
    }

    /// Add In-Reply-To.
    pub fn in_reply_to(self, ids: &[MessageId<'_>]) -> Self {
        self.ids_field("In-Reply-To", ids)
    }

    /// Add References.
    pub fn references(self, ids: &[MessageId<'_>]) -> Self {
        self.ids_field("References", ids)
    }

    /// Add a field holding msg-ids. Ids built with [`MessageId::new`] are
    /// valid; a parsed id holding white space, a control or an angle
    /// bracket (possible in broken input) is left out, and with no id
    /// left the field is not added.
    pub fn ids_field(mut self, name: &str, ids: &[MessageId<'_>]) -> Self {
        let v = ids
            .iter()
            .filter(|i| {
                !i.as_str().is_empty()
                    && i.as_str()
                        .bytes()
                        .all(|b| b > b' ' && b != 0x7f && b != b'<' && b != b'>')
            })
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        if check_name(name).is_ok() && !v.is_empty() {
            self.fields.push((name.to_owned(), v));
        }
        self
    }

    /// Remove every field named `name` (ASCII case-insensitive).
    pub fn remove(mut self, name: &str) -> Self {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// The (encoded, unfolded) value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The fields as (name, encoded unfolded value), in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Write the header section (without the blank line after it).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for (n, v) in &self.fields {
            fold_field(n, v, out);
        }
    }

    /// The header section as bytes (without the blank line).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

/// A whole message: a header section and a body.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    headers: HeaderBuilder,
    body: Vec<u8>,
}

impl MessageBuilder {
    /// A message with these headers and body. Bare LF line ends in the
    /// body become CRLF (RFC 5322 §2.3).
    pub fn new(headers: HeaderBuilder, body: &[u8]) -> Self {
        let mut b = Vec::with_capacity(body.len() + body.len() / 32);
        let mut prev = 0u8;
        for &c in body {
            if c == b'\n' && prev != b'\r' {
                b.push(b'\r');
            }
            if prev == b'\r' && c != b'\n' {
                // A bare CR: make it a line end too.
                b.push(b'\n');
            }
            b.push(c);
            prev = c;
        }
        if prev == b'\r' {
            b.push(b'\n');
        }
        MessageBuilder { headers, body: b }
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderBuilder {
        &self.headers
    }

    /// The body (line ends already CRLF).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Write the message: header section, blank line, body.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        self.headers.write_to(out);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 512);
        self.write_to(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn injection_refused() {
        assert!(HeaderBuilder::new().subject("a\r\nBcc: x@y").is_err());
        assert!(HeaderBuilder::new().text("X-A\n", "v").is_err());
        assert!(HeaderBuilder::new().raw("X-A", "v\0").is_err());
        assert!(HeaderBuilder::new().text("X A", "v").is_err());
        assert!(Mailbox::new(Some("a\nb"), "x@y").is_err());
    }

    #[test]
    fn folding() {
        let long = "word ".repeat(40);
        let h = HeaderBuilder::new().subject(long.trim_end()).unwrap();
        let bytes = h.to_bytes();
        for line in bytes.split(|&b| b == b'\n') {
            assert!(line.len() <= 79, "{}", String::from_utf8_lossy(line));
        }
        let mut m = bytes.clone();
        m.extend_from_slice(b"\r\n");
        assert_eq!(Message::parse(&m).subject().unwrap(), long.trim_end());
    }

    #[test]
    fn non_ascii_subject_and_names() {
        let h = HeaderBuilder::new()
            .subject("日本語のテキストはとても長いのでいくつかの単語に分割されなければなりません")
            .unwrap()
            .to(&[Mailbox::new(Some("Ünïcödé, Name"), "a@b.test").unwrap()]);
        let mut bytes = h.to_bytes();
        assert!(bytes.is_ascii());
        for line in bytes.split(|&b| b == b'\n') {
            assert!(line.len() <= 79);
        }
        bytes.extend_from_slice(b"\r\n");
        let m = Message::parse(&bytes);
        assert_eq!(
            m.to().mailboxes().next().unwrap().name(),
            Some("Ünïcödé, Name")
        );
        let h = HeaderBuilder::new().utf8(true).subject("Grüße").unwrap();
        assert_eq!(h.to_bytes(), "Subject: Grüße\r\n".as_bytes());
        assert!(
            HeaderBuilder::new()
                .mailboxes("To", &[Mailbox::new(None, "ö@x.test").unwrap()])
                .is_err()
        );
    }
}

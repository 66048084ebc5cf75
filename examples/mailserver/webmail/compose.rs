//! Writing mail in the webmail: a [`Draft`] from the compose form, or
//! started by [`reply`] or [`forward`]; [`build`] makes the message to
//! submit (and to keep in Sent or Drafts), [`envelope`] its SMTP envelope.
//!
//! The header rules are mailwire-message's: [`mailwire::message::reply`]
//! decides the reply's recipients, subject and threading fields (RFC 5322
//! §3.6.3, §3.6.4), [`mailwire::message::HeaderBuilder`] writes and
//! encodes the fields (RFC 2047 for non-ASCII text, no header injection).
//! The body is mailwire-mime's [`MessageBuilder`]: a text/plain UTF-8 part,
//! and with attachments or a forwarded message a multipart/mixed whose
//! attachments are base64 (so their bytes come back exactly) and whose
//! forwarded message is a message/rfc822 part (RFC 2046 §5.2.1).

use std::fmt;

use mailwire::message::{
    self as rfc5322, BuildError, DateTime, HeaderBuilder, Mailbox, Message, MessageId,
    decode_unstructured, parse_address_list, parse_message_ids,
};
use mailwire::mime::TransferEncoding;
use mailwire::mime::builder::{MessageBuilder, PartBuilder};

use super::render::{self, safe_file_name, valid_type};
use super::sanitize::html_to_text;

/// A file the user attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upload {
    /// The name it was uploaded under (made safe by [`build`]).
    pub(crate) file_name: String,
    /// Its `type/subtype` (`application/octet-stream` when not valid).
    pub(crate) content_type: String,
    /// Its bytes.
    pub(crate) bytes: Vec<u8>,
}

/// A message being written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Draft {
    /// The author: `addr` or `Name <addr>`.
    pub(crate) from: String,
    /// Recipients; each entry may hold several addresses separated by
    /// commas (RFC 5322 `address-list`).
    pub(crate) to: Vec<String>,
    /// Carbon copies, as [`Draft::to`].
    pub(crate) cc: Vec<String>,
    /// Blind copies: in the envelope only, never in the header.
    pub(crate) bcc: Vec<String>,
    /// The subject.
    pub(crate) subject: String,
    /// The text, line ends `\n` or `\r\n`.
    pub(crate) body: String,
    /// The id of the message replied to, without angle brackets.
    pub(crate) in_reply_to: Option<String>,
    /// The thread's ids, oldest first, without angle brackets.
    pub(crate) references: Vec<String>,
    /// Files attached.
    pub(crate) attachments: Vec<Upload>,
    /// A message forwarded as a message/rfc822 attachment.
    pub(crate) forwarded: Option<Vec<u8>>,
}

/// Why a draft could not be made into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum ComposeError {
    /// An address field holds something that is not an address list.
    Address {
        /// The field (`From`, `To`, ...).
        field: &'static str,
        /// The text that did not parse.
        value: String,
    },
    /// The From field holds no address.
    NoFrom,
    /// A field value was refused by the header builder (a control
    /// character, a non-ASCII address, ...).
    Header(BuildError),
    /// The Message-ID given to [`build`] is not an RFC 5322 `msg-id`.
    MessageId(String),
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComposeError::Address { field, value } => {
                write!(f, "{field}: not an address: {value:?}")
            }
            ComposeError::NoFrom => f.write_str("From: no address"),
            ComposeError::Header(e) => write!(f, "{e}"),
            ComposeError::MessageId(id) => write!(f, "invalid Message-ID {id:?}"),
        }
    }
}

impl std::error::Error for ComposeError {}

impl From<BuildError> for ComposeError {
    fn from(e: BuildError) -> Self {
        ComposeError::Header(e)
    }
}

/// A reply to message `raw` from `me` (`addr` or `Name <addr>`), to all
/// its recipients with `reply_all`:
///
/// - To: the Reply-To, else the From (RFC 5322 §3.6.3); Cc (reply-all):
///   the original To and Cc without `me` and without duplicates;
/// - Subject: `Re: ` once;
/// - In-Reply-To: the original Message-ID; References: the original
///   References (or In-Reply-To) followed by its Message-ID (§3.6.4);
/// - body: `On <date>, <from> wrote:` and the original text quoted with
///   `> ` (the text part, else the HTML part's text).
pub(crate) fn reply(raw: &[u8], reply_all: bool, me: &str) -> Draft {
    let original = Message::parse(raw);
    let me_box = mailbox_of(me);
    let headers = rfc5322::reply(&original, me_box.as_slice(), reply_all).unwrap_or_default();
    let subject = headers
        .get("Subject")
        .map(|s| decode_unstructured(s.as_bytes()).into_owned())
        .unwrap_or_else(|| "Re: ".to_owned());
    Draft {
        from: me.trim().to_owned(),
        to: listed(&headers, "To"),
        cc: listed(&headers, "Cc"),
        subject,
        body: quoted(raw, &original),
        in_reply_to: ids(&headers, "In-Reply-To").into_iter().next(),
        references: ids(&headers, "References"),
        ..Draft::default()
    }
}

/// A forward of message `raw` from `me`: `Fwd: ` once before the
/// subject, the original attached whole as message/rfc822, no recipient
/// yet. A forward starts no thread of its own (RFC 5322 §3.6.4 asks for
/// threading fields on replies only).
pub(crate) fn forward(raw: &[u8], me: &str) -> Draft {
    let original = Message::parse(raw);
    let subject = original
        .subject()
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let lower = subject.to_ascii_lowercase();
    let subject = if lower.starts_with("fwd:") || lower.starts_with("fw:") {
        subject
    } else {
        format!("Fwd: {subject}")
    };
    Draft {
        from: me.trim().to_owned(),
        subject: subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
        forwarded: Some(raw.to_vec()),
        ..Draft::default()
    }
}

/// The message of `draft`, dated `date`, with Message-ID `message_id`
/// (`left@right`, no angle brackets). Bcc is not written (RFC 5322
/// §3.6.3: the envelope carries it; see [`envelope`]).
pub(crate) fn build(
    draft: &Draft,
    date: &DateTime,
    message_id: &str,
) -> Result<Vec<u8>, ComposeError> {
    let from = mailboxes("From", std::slice::from_ref(&draft.from))?;
    if from.is_empty() {
        return Err(ComposeError::NoFrom);
    }
    let id = MessageId::new(message_id.trim().trim_matches(['<', '>']))
        .map_err(|_| ComposeError::MessageId(message_id.to_owned()))?;
    let mut h = HeaderBuilder::new().date(date).mailboxes("From", &from)?;
    let to = mailboxes("To", &draft.to)?;
    if !to.is_empty() {
        h = h.mailboxes("To", &to)?;
    }
    let cc = mailboxes("Cc", &draft.cc)?;
    if !cc.is_empty() {
        h = h.mailboxes("Cc", &cc)?;
    }
    h = h.subject(draft.subject.trim())?.message_id(&id);
    let parent: Vec<MessageId<'static>> = draft
        .in_reply_to
        .iter()
        .filter_map(|i| MessageId::new(i.trim().trim_matches(['<', '>'])).ok())
        .collect();
    if !parent.is_empty() {
        h = h.in_reply_to(&parent);
    }
    let refs: Vec<MessageId<'static>> = draft
        .references
        .iter()
        .filter_map(|i| MessageId::new(i.trim().trim_matches(['<', '>'])).ok())
        .collect();
    if !refs.is_empty() {
        h = h.references(&refs);
    }
    let mut body = MessageBuilder::new().text(&draft.body);
    for a in &draft.attachments {
        body = body.attachment(
            PartBuilder::attachment(
                &valid_type(&a.content_type),
                &safe_file_name(&a.file_name),
                a.bytes.clone(),
            )
            .encoding(TransferEncoding::Base64),
        );
    }
    if let Some(f) = &draft.forwarded {
        body = body.forward(crlf(f));
    }
    let seed = seed_of(id.as_str());
    let mut out = h.to_bytes();
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    out.extend_from_slice(&body.boundary_seed(seed).body_part().to_bytes(seed, false));
    Ok(out)
}

/// The SMTP envelope of `draft` (RFC 5321 §3.3): the From address, and
/// every To, Cc and Bcc address once (compared without case).
pub(crate) fn envelope(draft: &Draft) -> Result<(String, Vec<String>), ComposeError> {
    let from = mailboxes("From", std::slice::from_ref(&draft.from))?;
    let sender = from.first().ok_or(ComposeError::NoFrom)?;
    let mut rcpts: Vec<String> = Vec::new();
    for (field, list) in [("To", &draft.to), ("Cc", &draft.cc), ("Bcc", &draft.bcc)] {
        for m in mailboxes(field, list)? {
            let a = m.addr_spec().to_owned();
            if !rcpts.iter().any(|r| r.eq_ignore_ascii_case(&a)) {
                rcpts.push(a);
            }
        }
    }
    Ok((sender.addr_spec().to_owned(), rcpts))
}

/// The mailboxes of the entries of field `field` (each an address list;
/// empty entries are skipped; group members are included).
fn mailboxes(
    field: &'static str,
    entries: &[String],
) -> Result<Vec<Mailbox<'static>>, ComposeError> {
    let mut out = Vec::new();
    for e in entries {
        let e = e.trim();
        if e.is_empty() {
            continue;
        }
        let bad = || ComposeError::Address {
            field,
            value: e.to_owned(),
        };
        let (list, defects) = parse_address_list(e.as_bytes());
        if !defects.is_empty() || list.is_empty() {
            return Err(bad());
        }
        for m in list.mailboxes() {
            if m.domain().is_none() {
                return Err(bad());
            }
            // Rebuilt through the checked constructor (no controls).
            out.push(Mailbox::new(m.name(), m.addr_spec()).map_err(|_| bad())?);
        }
    }
    Ok(out)
}

/// The user's mailbox from `addr` or `Name <addr>` (none when neither).
fn mailbox_of(me: &str) -> Vec<Mailbox<'static>> {
    let (list, _) = parse_address_list(me.trim().as_bytes());
    list.mailboxes()
        .next()
        .and_then(|m| Mailbox::new(m.name(), m.addr_spec()).ok())
        .into_iter()
        .collect()
}

/// The addresses of a built field, one `Name <addr>` entry each, names
/// decoded.
fn listed(h: &HeaderBuilder, name: &str) -> Vec<String> {
    let Some(v) = h.get(name) else {
        return Vec::new();
    };
    let (list, _) = parse_address_list(v.as_bytes());
    list.mailboxes().map(|m| m.to_string()).collect()
}

/// The ids of a built field, without angle brackets.
fn ids(h: &HeaderBuilder, name: &str) -> Vec<String> {
    h.get(name)
        .map(|v| {
            parse_message_ids(v.as_bytes())
                .0
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The reply body: an attribution line and the original text quoted.
fn quoted(raw: &[u8], original: &Message<'_>) -> String {
    let tree = mailwire::mime::Message::parse(raw);
    let text = text_body(&tree);
    let date = original
        .get("Date")
        .map(|f| f.value_text().trim().to_owned())
        .filter(|d| !d.is_empty());
    let from = original
        .from()
        .mailboxes()
        .next()
        .map(|m| m.to_string())
        .unwrap_or_else(|| "someone".to_owned());
    let mut out = String::from("\n\n");
    match date {
        Some(d) => out.push_str(&format!("On {d}, {from} wrote:\n")),
        None => out.push_str(&format!("{from} wrote:\n")),
    }
    for line in text.trim_end().lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            out.push_str(">\n");
        } else if line.starts_with('>') {
            out.push('>');
            out.push_str(line);
            out.push('\n');
        } else {
            out.push_str("> ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The text of a message to quote: its text/plain body (or the
/// text/plain alternative of its HTML body), else the text of its HTML.
fn text_body(tree: &mailwire::mime::Message<'_>) -> String {
    let Some(body) = render::body_part(tree, 0).and_then(|id| tree.part(id)) else {
        return String::new();
    };
    if !body.mime.content_type.is("text", "html") {
        return render::text_of(tree, body);
    }
    // The nearest multipart/alternative above the HTML, and a plain
    // alternative in it.
    let mut up = body.parent;
    while let Some(a) = up.and_then(|i| tree.part(i)) {
        if a.mime.content_type.is("multipart", "alternative") {
            let plain = a
                .children
                .iter()
                .filter_map(|&c| render::body_part(tree, c).and_then(|b| tree.part(b)))
                .find(|p| p.mime.content_type.is("text", "plain"));
            if let Some(p) = plain {
                return render::text_of(tree, p);
            }
            break;
        }
        up = a.parent;
    }
    html_to_text(&render::text_of(tree, body))
}

/// `raw` with every line end CRLF (a stored message may use bare LF), so
/// the forwarded message travels as 7bit or 8bit: the line-end rule of
/// mailwire-message's builder (RFC 5322 §2.3).
fn crlf(raw: &[u8]) -> Vec<u8> {
    rfc5322::MessageBuilder::new(HeaderBuilder::new(), raw)
        .body()
        .to_vec()
}

/// A boundary seed from the Message-ID (FNV-1a): different messages get
/// different boundaries; the builder checks them against the content.
fn seed_of(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

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
    let to = listed(&headers, "To");
    // mailwire-message compares local parts exactly (RFC 5321 §2.4 lets
    // a server tell case apart); nearly none does, so the Cc also leaves
    // out whoever differs from me or an earlier recipient in case only.
    let mut seen: Vec<String> = me_box
        .iter()
        .map(|m| m.addr_spec().to_owned())
        .chain(to.iter().map(|e| addr_of(e)))
        .collect();
    let mut cc = Vec::new();
    for e in listed(&headers, "Cc") {
        let a = addr_of(&e);
        if !seen.iter().any(|s| s.eq_ignore_ascii_case(&a)) {
            seen.push(a);
            cc.push(e);
        }
    }
    Draft {
        from: me.trim().to_owned(),
        to,
        cc,
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
    write(draft, date, message_id, false)
}

/// The message of `draft` as [`build`] makes it, with a Bcc field when
/// there are blind copies: for the copy kept in Drafts (so that
/// [`open_draft`] gets them back) or in Sent (RFC 5322 §3.6.3 lets the
/// sender's copy keep them). Never submit this one.
pub(crate) fn build_draft(
    draft: &Draft,
    date: &DateTime,
    message_id: &str,
) -> Result<Vec<u8>, ComposeError> {
    write(draft, date, message_id, true)
}

/// A saved draft (or any message) opened for editing again: its
/// addresses, subject, threading fields, text, attachments and forwarded
/// message (the first message/rfc822 attachment).
pub(crate) fn open_draft(raw: &[u8]) -> Draft {
    let m = Message::parse(raw);
    let list = |name: &str| -> Vec<String> {
        m.addresses(name)
            .mailboxes()
            .map(|b| b.to_string())
            .collect()
    };
    let tree = mailwire::mime::Message::parse(raw);
    let no_urls = |_: &str| String::new();
    let view = render::view(
        raw,
        &render::ViewOptions {
            show_remote_images: false,
            part_url: &no_urls,
        },
    );
    let mut draft = Draft {
        from: list("From").into_iter().next().unwrap_or_default(),
        to: list("To"),
        cc: list("Cc"),
        bcc: list("Bcc"),
        subject: view.subject,
        body: text_body(&tree),
        in_reply_to: m.in_reply_to().first().map(|i| i.as_str().to_owned()),
        references: m
            .references()
            .iter()
            .map(|i| i.as_str().to_owned())
            .collect(),
        ..Draft::default()
    };
    for a in view.attachments {
        let Some(p) = render::part(raw, &a.part_id) else {
            continue;
        };
        if p.content_type == "message/rfc822" && draft.forwarded.is_none() {
            draft.forwarded = Some(p.bytes);
        } else {
            draft.attachments.push(Upload {
                file_name: p.file_name,
                content_type: p.content_type,
                bytes: p.bytes,
            });
        }
    }
    draft
}

fn write(
    draft: &Draft,
    date: &DateTime,
    message_id: &str,
    with_bcc: bool,
) -> Result<Vec<u8>, ComposeError> {
    let from = mailboxes("From", std::slice::from_ref(&draft.from))?;
    if from.is_empty() {
        return Err(ComposeError::NoFrom);
    }
    let id = MessageId::new(message_id.trim().trim_matches(['<', '>']))
        .map_err(|_| ComposeError::MessageId(message_id.to_owned()))?;
    let mut h = HeaderBuilder::new().date(date).mailboxes("From", &from)?;
    for (field, list, written) in [
        ("To", &draft.to, true),
        ("Cc", &draft.cc, true),
        ("Bcc", &draft.bcc, with_bcc),
    ] {
        let list = mailboxes(field, list)?;
        if written && !list.is_empty() {
            h = h.mailboxes(field, &list)?;
        }
    }
    // The builder writes no id field for an empty list.
    h = h
        .subject(draft.subject.trim())?
        .message_id(&id)
        .in_reply_to(&valid_ids(&draft.in_reply_to))
        .references(&valid_ids(&draft.references));
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

/// The To, Cc and Bcc mailboxes of `draft` (an entry that is no address
/// list is left out).
pub(crate) fn recipients(draft: &Draft) -> Vec<Mailbox<'static>> {
    [("To", &draft.to), ("Cc", &draft.cc), ("Bcc", &draft.bcc)]
        .into_iter()
        .flat_map(|(field, list)| mailboxes(field, list).unwrap_or_default())
        .collect()
}

/// The valid ids among `ids` (with or without angle brackets); a broken
/// one is left out rather than refused.
fn valid_ids<'i>(ids: impl IntoIterator<Item = &'i String>) -> Vec<MessageId<'static>> {
    ids.into_iter()
        .filter_map(|i| MessageId::new(i.trim().trim_matches(['<', '>'])).ok())
        .collect()
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

/// The addr-spec of one `Name <addr>` entry written by [`listed`].
fn addr_of(entry: &str) -> String {
    let (list, _) = parse_address_list(entry.as_bytes());
    list.mailboxes()
        .next()
        .map(|m| m.addr_spec().to_owned())
        .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;
    use mailwire::mime::Message as Tree;
    use proptest::prelude::*;

    fn date() -> DateTime {
        DateTime::new(2026, 12, 4, 13, 0, 0, 60).unwrap()
    }

    /// RFC 5322 Appendix A.2, the first two messages.
    const JOHN: &[u8] = b"From: John Doe <jdoe@machine.example>\r\n\
To: Mary Smith <mary@example.net>\r\n\
Subject: Saying Hello\r\n\
Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n\
Message-ID: <1234@local.machine.example>\r\n\
\r\n\
This is a message just to say hello.\r\n\
So, \"Hello\".\r\n";

    const MARY: &[u8] = b"From: Mary Smith <mary@example.net>\r\n\
To: John Doe <jdoe@machine.example>\r\n\
Reply-To: \"Mary Smith: Personal Account\" <smith@home.example>\r\n\
Subject: Re: Saying Hello\r\n\
Date: Fri, 21 Nov 1997 10:01:10 -0600\r\n\
Message-ID: <3456@example.net>\r\n\
In-Reply-To: <1234@local.machine.example>\r\n\
References: <1234@local.machine.example>\r\n\
\r\n\
This is a reply to your hello.\r\n";

    /// RFC 5322 §3.6.4 and Appendix A.2: Mary's reply to John, then
    /// John's reply to Mary's reply, as the RFC shows them.
    #[test]
    fn rfc5322_3_6_4_reply_threading() {
        let mary = reply(JOHN, false, "Mary Smith <mary@example.net>");
        assert_eq!(mary.to, ["John Doe <jdoe@machine.example>"]);
        assert_eq!(mary.subject, "Re: Saying Hello");
        assert_eq!(
            mary.in_reply_to.as_deref(),
            Some("1234@local.machine.example")
        );
        assert_eq!(mary.references, ["1234@local.machine.example"]);

        // John answers Mary's reply: to her Reply-To (§3.6.3), "Re: " not
        // doubled, References chained.
        let john = reply(MARY, false, "John Doe <jdoe@machine.example>");
        assert_eq!(
            john.to,
            ["\"Mary Smith: Personal Account\" <smith@home.example>"]
        );
        assert_eq!(john.subject, "Re: Saying Hello");
        assert_eq!(john.in_reply_to.as_deref(), Some("3456@example.net"));
        assert_eq!(
            john.references,
            ["1234@local.machine.example", "3456@example.net"]
        );
        // Built, the fields are the RFC's.
        let raw = build(&john, &date(), "abcd.1234@local.machine.test").unwrap();
        let m = Message::parse(&raw);
        assert_eq!(
            m.get("To").unwrap().value_text(),
            "\"Mary Smith: Personal Account\" <smith@home.example>"
        );
        assert_eq!(m.get("Subject").unwrap().value_text(), "Re: Saying Hello");
        assert_eq!(
            m.get("Message-ID").unwrap().value_text(),
            "<abcd.1234@local.machine.test>"
        );
        assert_eq!(
            m.get("In-Reply-To").unwrap().value_text(),
            "<3456@example.net>"
        );
        assert_eq!(
            m.get("References").unwrap().value_text(),
            "<1234@local.machine.example> <3456@example.net>"
        );
    }

    #[test]
    fn reply_quotes_the_original() {
        let d = reply(JOHN, false, "mary@example.net");
        assert_eq!(
            d.body,
            "\n\nOn Fri, 21 Nov 1997 09:55:06 -0600, John Doe <jdoe@machine.example> wrote:\n\
             > This is a message just to say hello.\n> So, \"Hello\".\n"
        );
        assert_eq!(d.from, "mary@example.net");
        // Quoted quotes get one more level, without a space.
        let q = b"From: a@x.test\r\nSubject: q\r\n\r\n> earlier\r\n\r\nnew\r\n";
        assert!(
            reply(q, false, "me@x.test")
                .body
                .ends_with("wrote:\n>> earlier\n>\n> new\n")
        );
    }

    #[test]
    fn reply_to_html_quotes_the_text_alternative_or_the_html_text() {
        let alt = b"From: a@x.test\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n--b--\r\n";
        assert!(
            reply(alt, false, "me@x.test")
                .body
                .ends_with("> plain words\n")
        );
        let html = b"From: a@x.test\r\nContent-Type: text/html\r\n\r\n<p>one &amp; two</p><p>three<script>x()</script></p>\r\n";
        assert!(
            reply(html, false, "me@x.test")
                .body
                .ends_with("> one & two\n>\n> three\n"),
            "{:?}",
            reply(html, false, "me@x.test").body
        );
    }

    #[test]
    fn reply_all_excludes_me_and_duplicates() {
        let raw = b"From: Ann <ann@x.test>\r\nTo: me@y.test, Bob <bob@x.test>, ann@x.test\r\n\
Cc: BOB@x.test, Carol <carol@x.test>, Me Again <ME@y.test>\r\nSubject: RE: Re: plans\r\n\
Message-ID: <p@x.test>\r\n\r\nhi\r\n";
        let d = reply(raw, true, "Me <me@y.test>");
        assert_eq!(d.to, ["Ann <ann@x.test>"]);
        assert_eq!(d.cc, ["Bob <bob@x.test>", "Carol <carol@x.test>"]);
        assert_eq!(d.subject, "Re: plans");
        let one = reply(raw, false, "me@y.test");
        assert!(one.cc.is_empty());
    }

    #[test]
    fn forward_attaches_the_original() {
        let d = forward(MARY, "John Doe <jdoe@machine.example>");
        assert_eq!(d.subject, "Fwd: Re: Saying Hello");
        assert!(d.to.is_empty() && d.in_reply_to.is_none() && d.references.is_empty());
        assert_eq!(
            forward(b"Subject: FWD: x\r\n\r\n", "a@b.test").subject,
            "FWD: x"
        );
        let mut d = d;
        d.to = vec!["Ann <ann@x.test>".to_owned()];
        d.body = "See below.\n".to_owned();
        let raw = build(&d, &date(), "fwd1@machine.example").unwrap();
        let tree = Tree::parse(&raw);
        assert!(tree.defects().is_empty(), "{:?}", tree.defects());
        let rfc822 = tree
            .parts()
            .iter()
            .find(|p| p.mime.content_type.is("message", "rfc822"))
            .unwrap();
        assert_eq!(tree.decoded(rfc822).as_ref(), MARY);
        let text = tree.leaves().next().unwrap();
        assert_eq!(tree.text(text).unwrap().0, "See below.\r\n");
        // A stored message with bare LF line ends travels with CRLF.
        let lf = forward(b"Subject: lf\n\nbody\n", "a@b.test");
        let raw = build(&lf, &date(), "fwd2@b.test").unwrap();
        let tree = Tree::parse(&raw);
        let inner = tree
            .parts()
            .iter()
            .find(|p| p.mime.content_type.is("message", "rfc822"))
            .unwrap();
        assert_eq!(tree.decoded(inner).as_ref(), b"Subject: lf\r\n\r\nbody\r\n");
    }

    #[test]
    fn build_writes_headers_and_leaves_bcc_out() {
        let d = Draft {
            from: "Jörg <joerg@x.test>".to_owned(),
            to: vec!["ann@x.test, Bob <bob@x.test>".to_owned(), " ".to_owned()],
            cc: vec!["carol@x.test".to_owned()],
            bcc: vec!["secret@x.test".to_owned(), "ANN@x.test".to_owned()],
            subject: "Grüße aus Köln".to_owned(),
            body: "Hallo\nWelt\n".to_owned(),
            ..Draft::default()
        };
        let raw = build(&d, &date(), "m1@x.test").unwrap();
        assert!(raw.is_ascii());
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(
            text.starts_with("Date: Fri, 4 Dec 2026 13:00:00 +0100\r\n"),
            "{text}"
        );
        assert!(!text.to_ascii_lowercase().contains("bcc") && !text.contains("secret"));
        assert!(text.contains("Subject: =?UTF-8?"), "{text}");
        assert!(text.contains("MIME-Version: 1.0\r\n"));
        let m = Message::parse(&raw);
        assert_eq!(m.subject().as_deref(), Some("Grüße aus Köln"));
        assert_eq!(m.from().mailboxes().next().unwrap().name(), Some("Jörg"));
        assert_eq!(m.to().mailboxes().count(), 2);
        assert_eq!(m.message_id().unwrap().as_str(), "m1@x.test");
        assert!(m.get("In-Reply-To").is_none() && m.get("References").is_none());
        let tree = Tree::parse(&raw);
        assert_eq!(tree.root().mime.mime_type(), "text/plain");
        assert_eq!(tree.text(tree.root()).unwrap().0, "Hallo\r\nWelt\r\n");
        let (from, rcpts) = envelope(&d).unwrap();
        assert_eq!(from, "joerg@x.test");
        assert_eq!(
            rcpts,
            ["ann@x.test", "bob@x.test", "carol@x.test", "secret@x.test"]
        );
    }

    #[test]
    fn build_refuses_bad_input() {
        let good = Draft {
            from: "a@x.test".to_owned(),
            ..Draft::default()
        };
        assert!(build(&good, &date(), "ok@x.test").is_ok());
        assert_eq!(
            build(&good, &date(), "no at sign"),
            Err(ComposeError::MessageId("no at sign".to_owned()))
        );
        let no_from = Draft::default();
        assert_eq!(
            build(&no_from, &date(), "ok@x.test"),
            Err(ComposeError::NoFrom)
        );
        assert_eq!(envelope(&no_from), Err(ComposeError::NoFrom));
        let injected = Draft {
            subject: "hi\r\nBcc: victim@x.test".to_owned(),
            ..good.clone()
        };
        assert!(matches!(
            build(&injected, &date(), "ok@x.test"),
            Err(ComposeError::Header(_))
        ));
        for bad in ["not an address", "a@x.test\r\nBcc: v@x.test", "<@>"] {
            let d = Draft {
                to: vec![bad.to_owned()],
                ..good.clone()
            };
            assert!(
                matches!(
                    build(&d, &date(), "ok@x.test"),
                    Err(ComposeError::Address { field: "To", .. })
                ),
                "{bad:?}"
            );
        }
        // A broken parent id is left out rather than refused.
        let d = Draft {
            in_reply_to: Some("broken id".to_owned()),
            references: vec!["<a@b>".to_owned(), "bad".to_owned()],
            ..good
        };
        let raw = build(&d, &date(), "ok@x.test").unwrap();
        let m = Message::parse(&raw);
        assert!(m.get("In-Reply-To").is_none());
        assert_eq!(m.get("References").unwrap().value_text(), "<a@b>");
    }

    #[test]
    fn attachment_names_and_types_are_made_safe() {
        let d = Draft {
            from: "a@x.test".to_owned(),
            attachments: vec![Upload {
                file_name: "../../évil\r\n.sh".to_owned(),
                content_type: "text/html\r\nX-Evil: 1".to_owned(),
                bytes: b"#!/bin/sh\n".to_vec(),
            }],
            ..Draft::default()
        };
        let raw = build(&d, &date(), "ok@x.test").unwrap();
        let tree = Tree::parse(&raw);
        let att = tree.leaves().nth(1).unwrap();
        assert_eq!(att.mime.filename(), Some("_.._évil.sh"));
        assert_eq!(att.mime.mime_type(), "application/octet-stream");
        assert!(!String::from_utf8_lossy(&raw).contains("X-Evil"));
    }

    #[test]
    fn drafts_keep_bcc_and_open_again() {
        let d = Draft {
            from: "Me <me@x.test>".to_owned(),
            to: vec!["Ann <ann@x.test>".to_owned()],
            bcc: vec!["hidden@x.test".to_owned()],
            subject: "Re: plans".to_owned(),
            body: "text\n".to_owned(),
            in_reply_to: Some("p@x.test".to_owned()),
            references: vec!["o@x.test".to_owned(), "p@x.test".to_owned()],
            attachments: vec![Upload {
                file_name: "empty.txt".to_owned(),
                content_type: "text/plain".to_owned(),
                bytes: Vec::new(),
            }],
            forwarded: Some(JOHN.to_vec()),
            ..Draft::default()
        };
        let sent = build(&d, &date(), "s@x.test").unwrap();
        assert!(Message::parse(&sent).get("Bcc").is_none());
        let kept = build_draft(&d, &date(), "s@x.test").unwrap();
        assert_eq!(
            Message::parse(&kept).get("Bcc").unwrap().value_text(),
            "hidden@x.test"
        );
        assert_eq!(open_draft(&kept), d);
        // The submitted copy opens with everything but the blind copies.
        assert_eq!(
            open_draft(&sent),
            Draft {
                bcc: Vec::new(),
                ..d
            }
        );
    }

    proptest! {
        /// A draft saved with `build_draft` opens as the same draft.
        #[test]
        fn saved_drafts_open_unchanged(
            to in proptest::collection::vec("[a-z]{1,8}@[a-z]{1,8}\\.test", 0..3),
            bcc in proptest::collection::vec("[a-z]{1,8}@[a-z]{1,8}\\.test", 0..2),
            subject in "[!-~\u{e9}]([ -~\u{e9}]{0,60}[!-~\u{e9}])?",
            body in "[ -~\n\u{e9}\u{4e2d}]{0,200}",
            files in proptest::collection::vec(("[a-zA-Z0-9_\u{e9}-]{1,20}\\.bin", proptest::collection::vec(any::<u8>(), 0..300)), 0..3),
        ) {
            let d = Draft {
                from: "me@x.test".to_owned(),
                to,
                bcc,
                subject,
                body,
                attachments: files
                    .into_iter()
                    .map(|(file_name, bytes)| Upload { file_name, content_type: "application/octet-stream".to_owned(), bytes })
                    .collect(),
                ..Draft::default()
            };
            let raw = build_draft(&d, &date(), "d@x.test").unwrap();
            prop_assert_eq!(open_draft(&raw), d);
        }


        /// What `build` writes parses back with mailwire-mime: the text,
        /// and every attachment with its name, type and exact bytes.
        #[test]
        fn build_parses_back(
            body in "[ -~\n\u{e9}\u{4e2d}]{0,300}",
            subject in "[ -~\u{e9}]{0,80}",
            files in proptest::collection::vec(
                ("[a-zA-Z0-9 ._\u{e9}-]{1,40}", prop_oneof![Just("application/pdf"), Just("image/png"), Just("text/plain")], proptest::collection::vec(any::<u8>(), 0..600)),
                0..4,
            ),
            forwarded in proptest::option::of("[ -~]{0,60}"),
        ) {
            let d = Draft {
                from: "Me <me@x.test>".to_owned(),
                to: vec!["you@y.test".to_owned()],
                subject: subject.clone(),
                body: body.clone(),
                attachments: files
                    .iter()
                    .map(|(n, t, b)| Upload { file_name: n.clone(), content_type: (*t).to_owned(), bytes: b.clone() })
                    .collect(),
                forwarded: forwarded.as_ref().map(|f| format!("Subject: inner\r\n\r\n{f}\r\n").into_bytes()),
                ..Draft::default()
            };
            let raw = build(&d, &date(), "p@x.test").unwrap();
            let m = Message::parse(&raw);
            prop_assert_eq!(m.subject().unwrap_or_default().into_owned(), subject.trim());
            let tree = Tree::parse(&raw);
            prop_assert!(tree.defects().is_empty(), "{:?}", tree.defects());
            let leaves: Vec<_> = tree.leaves().collect();
            let want_text = body.replace('\n', "\r\n");
            prop_assert_eq!(tree.text(leaves[0]).unwrap().0.into_owned(), want_text);
            for (i, (n, t, b)) in files.iter().enumerate() {
                let p = leaves[1 + i];
                prop_assert_eq!(p.mime.filename().map(str::to_owned), Some(safe_file_name(n)));
                prop_assert_eq!(p.mime.mime_type(), *t);
                prop_assert_eq!(&tree.decoded(p).into_owned(), b);
            }
            let fwd = tree.parts().iter().find(|p| p.mime.content_type.is("message", "rfc822"));
            prop_assert_eq!(fwd.is_some(), forwarded.is_some());
        }
    }
}

//! What a user agent does with a message besides sending it: reply and
//! reply-all (RFC 5322 §3.6.3, §3.6.4), resend (§3.6.6), auto-reply
//! (RFC 3834), and the envelope a submitting client derives (RFC 6409
//! §8, RFC 5321 §3.3: reverse-path, recipients, Bcc removed).
//!
//! ```
//! use mailwire_message::{derive_envelope, reply, Mailbox, Message};
//! let original = Message::parse(
//!     b"From: Mary <mary@x.test>\r\nTo: me@y.test, bob@z.test\r\nCc: ann@x.test\r\n\
//!       Bcc: secret@x.test\r\nSubject: Re: lunch\r\nMessage-ID: <1@x.test>\r\n\r\nhi\r\n",
//! );
//! let me = Mailbox::new(None, "me@y.test").unwrap();
//! let r = reply(&original, &[me], true).unwrap();
//! assert_eq!(r.get("Subject"), Some("Re: lunch"));
//! assert_eq!(r.get("To"), Some("Mary <mary@x.test>"));
//! assert_eq!(r.get("Cc"), Some("bob@z.test, ann@x.test"));
//! assert_eq!(r.get("In-Reply-To"), Some("<1@x.test>"));
//!
//! let (env, wire) = derive_envelope(&original).unwrap();
//! assert_eq!(env.reverse_path, "mary@x.test");
//! assert_eq!(env.recipients, ["me@y.test", "bob@z.test", "ann@x.test", "secret@x.test"]);
//! assert!(!wire.windows(4).any(|w| w == b"Bcc:"));
//! ```

use std::borrow::Cow;

use crate::address::Mailbox;
use crate::builder::{BuildError, HeaderBuilder};
use crate::datetime::DateTime;
use crate::fields::AutoSubmitted;
use crate::message::Message;
use crate::msgid::MessageId;

/// Strip leading reply prefixes (`Re:`, `RE:`, `Re[2]:`, `Aw:`, `Sv:`) and
/// white space from a subject.
pub fn strip_reply_prefix(subject: &str) -> &str {
    let mut s = subject.trim_start();
    loop {
        let lower: String = s.chars().take(8).collect::<String>().to_ascii_lowercase();
        let prefix_len = ["re:", "aw:", "sv:", "antw:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len())
            .or_else(|| {
                // Re[2]:
                if lower.starts_with("re[") {
                    lower.find("]:").map(|i| i + 2)
                } else {
                    None
                }
            });
        match prefix_len {
            Some(n) if s.is_char_boundary(n) => s = s[n..].trim_start(),
            _ => return s,
        }
    }
}

/// A subject taken from a parsed message, with control characters (which
/// the builder refuses) turned into spaces.
fn clean_subject(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn contains(list: &[Mailbox<'_>], m: &Mailbox<'_>) -> bool {
    list.iter().any(|x| x.same_address(m))
}

/// The References of a reply (RFC 5322 §3.6.4): the parent's References
/// (or its single In-Reply-To id), then the parent's Message-ID.
fn chained_references<'a>(original: &Message<'a>) -> (Vec<MessageId<'a>>, Option<MessageId<'a>>) {
    let id = original.message_id();
    let mut refs = original.references();
    if refs.is_empty() {
        let irt = original.in_reply_to();
        if irt.len() == 1 {
            refs = irt;
        }
    }
    if let Some(id) = &id
        && !refs.contains(id)
    {
        refs.push(id.clone());
    }
    (refs, id)
}

/// Header fields of a reply to `original` from the user whose addresses
/// are `me` (the first is used as From).
///
/// - To: the original's Reply-To, else its From (RFC 5322 §3.6.3); when
///   that is only the user (a reply to one's own message), the original To.
/// - With `all`: Cc: the original's To and Cc, without the user and
///   without those already in To, each once.
/// - Subject: `Re: ` once, before the original subject stripped of its
///   reply prefixes.
/// - In-Reply-To: the original's Message-ID; References: chained (§3.6.4).
///
/// Add Date, Message-ID and the body before sending.
pub fn reply(
    original: &Message<'_>,
    me: &[Mailbox<'_>],
    all: bool,
) -> Result<HeaderBuilder, BuildError> {
    let reply_to = original.reply_to();
    let mut to: Vec<Mailbox<'_>> = if reply_to.is_empty() {
        original.from().mailboxes().cloned().collect()
    } else {
        reply_to.mailboxes().cloned().collect()
    };
    let orig_to = original.to();
    if !to.is_empty() && to.iter().all(|m| contains(me, m)) && !orig_to.is_empty() {
        to = orig_to.mailboxes().cloned().collect();
    }
    let mut dedup_to: Vec<Mailbox<'_>> = Vec::new();
    for m in to {
        if !contains(&dedup_to, &m) {
            dedup_to.push(m);
        }
    }
    let to = dedup_to;
    let mut cc: Vec<Mailbox<'_>> = Vec::new();
    if all {
        for m in orig_to.mailboxes().chain(original.cc().mailboxes()) {
            if !contains(me, m) && !contains(&to, m) && !contains(&cc, m) && !m.is_null() {
                cc.push(m.clone());
            }
        }
    }
    let mut h = HeaderBuilder::new();
    if let Some(first) = me.first() {
        h = h.from(std::slice::from_ref(first));
    }
    h = h.to(&to);
    if !cc.is_empty() {
        h = h.cc(&cc);
    }
    let subject = original.subject().unwrap_or(Cow::Borrowed(""));
    h = h.subject(&format!(
        "Re: {}",
        clean_subject(strip_reply_prefix(&subject))
    ))?;
    let (refs, id) = chained_references(original);
    if let Some(id) = id {
        h = h.in_reply_to(std::slice::from_ref(&id));
    }
    if !refs.is_empty() {
        h = h.references(&refs);
    }
    Ok(h)
}

/// The Resent-* block of a resend (RFC 5322 §3.6.6).
#[derive(Debug, Clone)]
pub struct Resend<'a> {
    /// Resent-From (required).
    pub from: Vec<Mailbox<'a>>,
    /// Resent-Sender (when not the same as Resent-From).
    pub sender: Option<Mailbox<'a>>,
    /// Resent-To.
    pub to: Vec<Mailbox<'a>>,
    /// Resent-Cc.
    pub cc: Vec<Mailbox<'a>>,
    /// Resent-Bcc (removed from the transmitted copy by [`derive_envelope`]).
    pub bcc: Vec<Mailbox<'a>>,
    /// Resent-Date (required).
    pub date: DateTime,
    /// Resent-Message-ID.
    pub message_id: Option<MessageId<'a>>,
}

/// Resend `original`: its bytes unchanged, after a new Resent-* block
/// (RFC 5322 §3.6.6 puts each block at the top). Trace fields added by
/// relays afterwards go above it.
pub fn resend(original: &Message<'_>, block: &Resend<'_>) -> Vec<u8> {
    let mut h = HeaderBuilder::new();
    h = h
        .date_field("Resent-Date", &block.date)
        .unwrap_or_else(|_| HeaderBuilder::new());
    h = mailboxes_or_same(h, "Resent-From", &block.from);
    if let Some(s) = &block.sender {
        h = mailboxes_or_same(h, "Resent-Sender", std::slice::from_ref(s));
    }
    if !block.to.is_empty() {
        h = mailboxes_or_same(h, "Resent-To", &block.to);
    }
    if !block.cc.is_empty() {
        h = mailboxes_or_same(h, "Resent-Cc", &block.cc);
    }
    if !block.bcc.is_empty() {
        h = mailboxes_or_same(h, "Resent-Bcc", &block.bcc);
    }
    if let Some(id) = &block.message_id {
        h = h.ids_field("Resent-Message-ID", std::slice::from_ref(id));
    }
    let mut out = h.to_bytes();
    original.write_to(&mut out);
    out
}

fn mailboxes_or_same(h: HeaderBuilder, name: &str, list: &[Mailbox<'_>]) -> HeaderBuilder {
    // The name is a constant valid field name; utf8 is off, so a non-ASCII
    // address makes `mailboxes` fail: then write it raw (RFC 6532).
    match h.clone().mailboxes(name, list) {
        Ok(h) => h,
        Err(_) => h
            .utf8(true)
            .mailboxes(name, list)
            .unwrap_or_else(|_| HeaderBuilder::new())
            .utf8(false),
    }
}

/// Why [`auto_reply`] will not answer (RFC 3834 §2).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutoReplyRefusal {
    /// The message is itself automatic (Auto-Submitted other than `no`).
    #[error("message is auto-submitted")]
    AutoSubmitted,
    /// The message came through a mailing list (List-* fields).
    #[error("message is from a mailing list")]
    MailingList,
    /// Precedence: bulk, list or junk.
    #[error("message is bulk mail")]
    Bulk,
    /// The return path is null (`<>`): a bounce or report.
    #[error("null sender")]
    NullSender,
    /// No address to answer to.
    #[error("no sender address")]
    NoSender,
    /// The sender is a system address (MAILER-DAEMON, postmaster,
    /// owner-*, *-request, LISTSERV, majordomo).
    #[error("sender is a system address")]
    SystemSender,
    /// The sender is the responder itself (a loop).
    #[error("message is from the responder itself")]
    FromSelf,
    /// Building the reply failed.
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// Header fields of an automatic reply (vacation message) to `original`,
/// following RFC 3834:
///
/// - never answers auto-submitted, list or bulk mail, a null sender, or
///   a system address (§2);
/// - answers the envelope sender (`envelope_from`, the SMTP MAIL FROM
///   as delivered, `Some("")` for `<>`), else Return-Path, else From (§4);
/// - sets `Auto-Submitted: auto-replied` (§5), `Subject: Auto: ...`
///   (§3.1.5), In-Reply-To and References (§3.1.4).
pub fn auto_reply(
    original: &Message<'_>,
    envelope_from: Option<&str>,
    me: &Mailbox<'_>,
) -> Result<HeaderBuilder, AutoReplyRefusal> {
    if original.auto_submitted().is_some_and(|a| a.is_automatic()) {
        return Err(AutoReplyRefusal::AutoSubmitted);
    }
    if original.fields().iter().any(|f| {
        let n = f.name();
        n.len() > 5 && n[..5].eq_ignore_ascii_case("List-")
    }) {
        return Err(AutoReplyRefusal::MailingList);
    }
    if let Some(p) = original.get("Precedence") {
        let v = p.value_text();
        if ["bulk", "list", "junk"]
            .iter()
            .any(|k| v.eq_ignore_ascii_case(k))
        {
            return Err(AutoReplyRefusal::Bulk);
        }
    }
    let target: Mailbox<'static> = match envelope_from {
        Some("") => return Err(AutoReplyRefusal::NullSender),
        Some(addr) => Mailbox::new(None, addr).map_err(|_| AutoReplyRefusal::NoSender)?,
        None => match original.return_path() {
            Some(rp) if rp.is_null() => return Err(AutoReplyRefusal::NullSender),
            Some(rp) => rp.into_owned(),
            None => original
                .from()
                .mailboxes()
                .next()
                .cloned()
                .ok_or(AutoReplyRefusal::NoSender)?
                .into_owned(),
        },
    };
    let local = target.local_part().to_ascii_lowercase();
    if [
        "mailer-daemon",
        "postmaster",
        "listserv",
        "majordomo",
        "noreply",
        "no-reply",
    ]
    .contains(&local.as_str())
        || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.ends_with("-owner")
    {
        return Err(AutoReplyRefusal::SystemSender);
    }
    if target.same_address(me) {
        return Err(AutoReplyRefusal::FromSelf);
    }
    let subject = original.subject().unwrap_or(Cow::Borrowed(""));
    let mut h = HeaderBuilder::new()
        .from(std::slice::from_ref(me))
        .to(std::slice::from_ref(&target))
        .subject(&format!(
            "Auto: {}",
            clean_subject(strip_reply_prefix(&subject))
        ))?
        .raw("Auto-Submitted", AutoSubmitted::AutoReplied.as_str())?;
    let (refs, id) = chained_references(original);
    if let Some(id) = id {
        h = h.in_reply_to(std::slice::from_ref(&id));
    }
    if !refs.is_empty() {
        h = h.references(&refs);
    }
    Ok(h)
}

/// The SMTP envelope of a message being submitted (RFC 5321 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM: the addr-spec, empty for the null path.
    pub reverse_path: String,
    /// RCPT TO, in order, each once.
    pub recipients: Vec<String>,
}

/// Why an envelope could not be derived.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Neither Sender nor From holds an address.
    #[error("no Sender or From address")]
    NoSender,
    /// No To, Cc or Bcc address.
    #[error("no recipient")]
    NoRecipients,
}

/// Derive the envelope a submitting client uses, and the copy to transmit
/// (RFC 5322 §3.6.3 Bcc, §3.6.6 Resent-*; RFC 6409 §8.1):
///
/// - reverse-path: Sender, else the first From (for a resent message,
///   Resent-Sender, else the first Resent-From of the newest block);
/// - recipients: To, Cc and Bcc (or the newest Resent-To/Cc/Bcc), group
///   members included, each address once;
/// - the transmitted copy is the message with every Bcc field (and the
///   newest block's Resent-Bcc) removed, everything else byte for byte.
pub fn derive_envelope(msg: &Message<'_>) -> Result<(Envelope, Vec<u8>), EnvelopeError> {
    let blocks = msg.resent_blocks();
    let resent = blocks
        .first()
        .filter(|b| !b.from.is_empty() || b.sender.is_some());
    let (sender, recipients): (Option<Mailbox<'_>>, Vec<Mailbox<'_>>) = match resent {
        Some(b) => (
            b.sender.clone().or_else(|| b.from.first().cloned()),
            b.to.mailboxes()
                .chain(b.cc.mailboxes())
                .chain(b.bcc.mailboxes())
                .cloned()
                .collect(),
        ),
        None => (
            msg.sender()
                .or_else(|| msg.from().mailboxes().next().cloned()),
            msg.to()
                .mailboxes()
                .chain(msg.cc().mailboxes())
                .chain(msg.bcc().mailboxes())
                .cloned()
                .collect(),
        ),
    };
    let sender = sender
        .filter(|s| !s.is_null())
        .ok_or(EnvelopeError::NoSender)?;
    let mut rcpts: Vec<Mailbox<'_>> = Vec::new();
    for m in recipients {
        if !m.is_null() && m.domain().is_some() && !contains(&rcpts, &m) {
            rcpts.push(m);
        }
    }
    if rcpts.is_empty() {
        return Err(EnvelopeError::NoRecipients);
    }
    // The transmitted copy: drop Bcc (and the newest block's Resent-Bcc).
    let mut out = Vec::with_capacity(msg.as_bytes().len());
    let input = msg.as_bytes();
    let mut pos = 0;
    let mut in_first_block = true;
    let mut seen_resent = false;
    for f in msg.fields() {
        let n = f.name();
        let is_resent = n.len() > 7 && n[..7].eq_ignore_ascii_case("Resent-");
        if seen_resent && !is_resent {
            in_first_block = false;
        }
        seen_resent |= is_resent;
        let drop = n.eq_ignore_ascii_case("Bcc")
            || (resent.is_some() && in_first_block && n.eq_ignore_ascii_case("Resent-Bcc"));
        out.extend_from_slice(&input[pos..f.offset()]);
        if !drop {
            out.extend_from_slice(f.raw());
        }
        pos = f.end();
    }
    out.extend_from_slice(&input[pos..]);
    Ok((
        Envelope {
            reverse_path: sender.addr_spec().to_owned(),
            recipients: rcpts.iter().map(|m| m.addr_spec().to_owned()).collect(),
        },
        out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_in_original_are_not_copied() {
        let m =
            Message::parse(b"From: a@b.test\r\nSubject: x\x00y\r\nMessage-ID: <a\x00b@c>\r\n\r\n");
        let me = Mailbox::new(None, "me@y.test").unwrap();
        let r = reply(&m, &[me], false).unwrap();
        assert_eq!(r.get("Subject"), Some("Re: x y"));
        assert_eq!(r.get("In-Reply-To"), None);
        assert!(!r.to_bytes().contains(&0));
    }

    #[test]
    fn prefixes() {
        assert_eq!(strip_reply_prefix("Re: RE: re[2]: Aw: x"), "x");
        assert_eq!(strip_reply_prefix("Regarding"), "Regarding");
    }

    #[test]
    fn reply_own_message_and_chain() {
        let m = Message::parse(b"From: me@y.test\r\nTo: a@b.test\r\nReferences: <0@x>\r\nMessage-ID: <1@x>\r\nSubject: hi\r\n\r\n");
        let me = Mailbox::new(None, "me@y.test").unwrap();
        let r = reply(&m, &[me], false).unwrap();
        assert_eq!(r.get("To"), Some("a@b.test"));
        assert_eq!(r.get("References"), Some("<0@x> <1@x>"));
        assert_eq!(r.get("Subject"), Some("Re: hi"));
    }

    #[test]
    fn auto_reply_rules() {
        let me = Mailbox::new(None, "me@y.test").unwrap();
        let ok = Message::parse(b"From: a@b.test\r\nSubject: Hello\r\nMessage-ID: <1@b>\r\n\r\n");
        let h = auto_reply(&ok, None, &me).unwrap();
        assert_eq!(h.get("Auto-Submitted"), Some("auto-replied"));
        assert_eq!(h.get("Subject"), Some("Auto: Hello"));
        assert_eq!(h.get("To"), Some("a@b.test"));
        assert_eq!(
            auto_reply(&ok, Some(""), &me).unwrap_err(),
            AutoReplyRefusal::NullSender
        );
        for (raw, why) in [
            (
                &b"From: a@b\r\nAuto-Submitted: auto-generated\r\n\r\n"[..],
                AutoReplyRefusal::AutoSubmitted,
            ),
            (
                b"From: a@b\r\nList-Id: <l.b>\r\n\r\n",
                AutoReplyRefusal::MailingList,
            ),
            (
                b"From: a@b\r\nPrecedence: bulk\r\n\r\n",
                AutoReplyRefusal::Bulk,
            ),
            (
                b"Return-Path: <>\r\nFrom: a@b\r\n\r\n",
                AutoReplyRefusal::NullSender,
            ),
            (
                b"From: MAILER-DAEMON@b\r\n\r\n",
                AutoReplyRefusal::SystemSender,
            ),
            (b"From: me@Y.TEST\r\n\r\n", AutoReplyRefusal::FromSelf),
        ] {
            assert_eq!(
                auto_reply(&Message::parse(raw), None, &me).unwrap_err(),
                why
            );
        }
    }

    #[test]
    fn envelope_resent_and_errors() {
        let m = Message::parse(b"Resent-From: r@x.test\r\nResent-To: t@x.test\r\nResent-Bcc: hidden@x.test\r\nFrom: a@b\r\nTo: c@d\r\nBcc: e@f\r\n\r\nbody");
        let (env, wire) = derive_envelope(&m).unwrap();
        assert_eq!(env.reverse_path, "r@x.test");
        assert_eq!(env.recipients, ["t@x.test", "hidden@x.test"]);
        assert_eq!(
            wire,
            b"Resent-From: r@x.test\r\nResent-To: t@x.test\r\nFrom: a@b\r\nTo: c@d\r\n\r\nbody"
        );
        assert_eq!(
            derive_envelope(&Message::parse(b"To: a@b\r\n\r\n")).unwrap_err(),
            EnvelopeError::NoSender
        );
        assert_eq!(
            derive_envelope(&Message::parse(b"From: a@b\r\n\r\n")).unwrap_err(),
            EnvelopeError::NoRecipients
        );
    }

    #[test]
    fn resend_prepends() {
        let m = Message::parse(b"From: a@b\r\nTo: c@d\r\n\r\nbody");
        let out = resend(
            &m,
            &Resend {
                from: vec![Mailbox::new(None, "r@x.test").unwrap()],
                sender: None,
                to: vec![Mailbox::new(None, "t@x.test").unwrap()],
                cc: vec![],
                bcc: vec![],
                date: DateTime::new(2020, 1, 2, 3, 4, 5, 0).unwrap(),
                message_id: Some(MessageId::new("r1@x.test").unwrap()),
            },
        );
        let p = Message::parse(&out);
        let b = p.resent_blocks();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].to.mailboxes().next().unwrap().addr_spec(), "t@x.test");
        assert!(out.ends_with(b"From: a@b\r\nTo: c@d\r\n\r\nbody"));
        let (env, _) = derive_envelope(&p).unwrap();
        assert_eq!(env.recipients, ["t@x.test"]);
    }
}

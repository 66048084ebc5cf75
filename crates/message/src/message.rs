//! A parsed message: the header section plus typed access to its fields
//! (RFC 5322 §3.6).

use std::borrow::Cow;

use crate::address::{AddressList, Mailbox, parse_address_list_with, parse_mailbox_list_with};
use crate::datetime::{DateTime, parse_date_time_with};
use crate::defect::{Defect, DefectKind, IgnoreDefects, Shifted};
use crate::fields::{
    AutoSubmitted, ListUrls, Priority, Received, parse_auto_submitted, parse_keywords,
    parse_list_id, parse_list_urls, parse_priority, parse_received_with,
};
use crate::header::{Field, HeaderSection, Limits};
use crate::msgid::{MessageId, parse_message_id_with, parse_message_ids_with};

/// A parsed message, borrowing from its bytes.
///
/// The accessors parse the field they are asked for each time (the
/// header section itself is split once, in [`Message::parse`]); their
/// defects are dropped. [`Message::summary`] parses the common fields
/// once and keeps every defect with its offset in the message.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    header: HeaderSection<'a>,
}

/// The common fields of a message, parsed once, with every defect found
/// (offsets relative to the start of the message).
#[derive(Debug, Clone, Default)]
pub struct Summary<'a> {
    /// Subject, decoded (RFC 2047).
    pub subject: Option<Cow<'a, str>>,
    /// From (a mailbox list).
    pub from: Vec<Mailbox<'a>>,
    /// Sender.
    pub sender: Option<Mailbox<'a>>,
    /// Reply-To.
    pub reply_to: AddressList<'a>,
    /// To.
    pub to: AddressList<'a>,
    /// Cc.
    pub cc: AddressList<'a>,
    /// Bcc.
    pub bcc: AddressList<'a>,
    /// Date.
    pub date: Option<DateTime>,
    /// Message-ID.
    pub message_id: Option<MessageId<'a>>,
    /// In-Reply-To.
    pub in_reply_to: Vec<MessageId<'a>>,
    /// References.
    pub references: Vec<MessageId<'a>>,
    /// The header section's defects, then each parsed field's.
    pub defects: Vec<Defect>,
}

/// One block of Resent-* fields (RFC 5322 §3.6.6), as prepended by one resend.
#[derive(Debug, Clone, Default)]
pub struct ResentBlock<'a> {
    /// Resent-Date.
    pub date: Option<DateTime>,
    /// Resent-From.
    pub from: Vec<Mailbox<'a>>,
    /// Resent-Sender.
    pub sender: Option<Mailbox<'a>>,
    /// Resent-To.
    pub to: AddressList<'a>,
    /// Resent-Cc.
    pub cc: AddressList<'a>,
    /// Resent-Bcc.
    pub bcc: AddressList<'a>,
    /// Resent-Message-ID.
    pub message_id: Option<MessageId<'a>>,
}

impl<'a> Message<'a> {
    /// Parse a message (a header section, a blank line, a body) with the
    /// default limits. Never fails: see [`Message::defects`].
    pub fn parse(input: &'a [u8]) -> Self {
        Message {
            header: HeaderSection::parse(input),
        }
    }

    /// As [`Message::parse`], with explicit limits.
    pub fn parse_with(input: &'a [u8], limits: Limits) -> Self {
        Message {
            header: HeaderSection::parse_with(input, limits),
        }
    }

    /// The header section.
    pub fn header(&self) -> &HeaderSection<'a> {
        &self.header
    }

    /// Every field in order.
    pub fn fields(&self) -> &[Field<'a>] {
        self.header.fields()
    }

    /// The first field named `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Field<'a>> {
        self.header.get(name)
    }

    /// The body: everything after the blank line.
    pub fn body(&self) -> &'a [u8] {
        self.header.body()
    }

    /// Defects found while splitting the header section.
    pub fn defects(&self) -> &[Defect] {
        self.header.defects()
    }

    /// The message's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.header.input()
    }

    /// Write the message back; an untouched message comes back byte for byte.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        self.header.write_to(out)
    }

    /// The decoded value of the first unstructured field `name` (Subject,
    /// Comments, or any other), with RFC 2047 words decoded.
    pub fn text(&self, name: &str) -> Option<Cow<'a, str>> {
        self.get(name)
            .map(|f| crate::rfc2047::decode_unstructured(f.raw_value()))
    }

    /// Subject, decoded.
    pub fn subject(&self) -> Option<Cow<'a, str>> {
        self.text("Subject")
    }

    /// Address list of field `name` (empty if absent).
    pub fn addresses(&self, name: &str) -> AddressList<'a> {
        match self.get(name) {
            Some(f) => parse_address_list_with(f.raw_value(), &mut IgnoreDefects),
            None => AddressList::default(),
        }
    }

    /// From.
    pub fn from(&self) -> AddressList<'a> {
        self.addresses("From")
    }
    /// To.
    pub fn to(&self) -> AddressList<'a> {
        self.addresses("To")
    }
    /// Cc.
    pub fn cc(&self) -> AddressList<'a> {
        self.addresses("Cc")
    }
    /// Bcc.
    pub fn bcc(&self) -> AddressList<'a> {
        self.addresses("Bcc")
    }
    /// Reply-To.
    pub fn reply_to(&self) -> AddressList<'a> {
        self.addresses("Reply-To")
    }
    /// Sender.
    pub fn sender(&self) -> Option<Mailbox<'a>> {
        let f = self.get("Sender")?;
        parse_mailbox_list_with(f.raw_value(), &mut IgnoreDefects)
            .into_iter()
            .next()
    }

    /// Date.
    pub fn date(&self) -> Option<DateTime> {
        parse_date_time_with(self.get("Date")?.raw_value(), &mut IgnoreDefects)
    }

    /// Message-ID.
    pub fn message_id(&self) -> Option<MessageId<'a>> {
        parse_message_id_with(self.get("Message-ID")?.raw_value(), &mut IgnoreDefects)
    }

    /// In-Reply-To.
    pub fn in_reply_to(&self) -> Vec<MessageId<'a>> {
        self.ids("In-Reply-To")
    }

    /// References.
    pub fn references(&self) -> Vec<MessageId<'a>> {
        self.ids("References")
    }

    fn ids(&self, name: &str) -> Vec<MessageId<'a>> {
        match self.get(name) {
            Some(f) => parse_message_ids_with(f.raw_value(), &mut IgnoreDefects),
            None => Vec::new(),
        }
    }

    /// Return-Path (RFC 5322 §3.6.7): `Some(null mailbox)` for `<>`.
    pub fn return_path(&self) -> Option<Mailbox<'a>> {
        crate::address::parse_return_path(self.get("Return-Path")?.raw_value()).0
    }

    /// Every Received field, top (most recent) first.
    pub fn received(&self) -> Vec<Received<'a>> {
        self.header
            .get_all("Received")
            .map(|f| parse_received_with(f.raw_value(), &mut IgnoreDefects))
            .collect()
    }

    /// Keywords (all Keywords fields, RFC 5322 §3.6.5).
    pub fn keywords(&self) -> Vec<Cow<'a, str>> {
        self.header
            .get_all("Keywords")
            .flat_map(|f| parse_keywords(f.raw_value()))
            .collect()
    }

    /// The URLs of a List-* field (RFC 2369), e.g. `list("List-Unsubscribe")`.
    pub fn list(&self, name: &str) -> Option<ListUrls<'a>> {
        Some(parse_list_urls(self.get(name)?.raw_value()).0)
    }

    /// List-Id (RFC 2919).
    pub fn list_id(&self) -> Option<Cow<'a, str>> {
        parse_list_id(self.get("List-Id")?.raw_value())
    }

    /// Auto-Submitted (RFC 3834 §5).
    pub fn auto_submitted(&self) -> Option<AutoSubmitted<'a>> {
        Some(parse_auto_submitted(
            self.get("Auto-Submitted")?.raw_value(),
        ))
    }

    /// Priority from Priority, else Importance, else X-Priority.
    pub fn priority(&self) -> Option<Priority> {
        ["Priority", "Importance", "X-Priority"]
            .iter()
            .find_map(|n| parse_priority(n, self.get(n)?.raw_value()))
    }

    /// The Resent-* blocks (RFC 5322 §3.6.6), most recent first. A block is
    /// a run of adjacent Resent-* fields; a field name repeating within a
    /// run starts a new block.
    pub fn resent_blocks(&self) -> Vec<ResentBlock<'a>> {
        let mut blocks: Vec<ResentBlock<'a>> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        let mut in_run = false;
        for f in self.fields() {
            let name = f.name();
            let is_resent = name.len() > 7 && name[..7].eq_ignore_ascii_case("Resent-");
            if !is_resent {
                in_run = false;
                continue;
            }
            let lower = &name[7..];
            if !in_run || seen.iter().any(|s| s.eq_ignore_ascii_case(lower)) {
                blocks.push(ResentBlock::default());
                seen.clear();
            }
            in_run = true;
            seen.push(lower);
            let Some(b) = blocks.last_mut() else { continue };
            let v = f.raw_value();
            let s = &mut IgnoreDefects;
            match lower.to_ascii_lowercase().as_str() {
                "date" => b.date = parse_date_time_with(v, s),
                "from" => b.from = parse_mailbox_list_with(v, s),
                "sender" => b.sender = parse_mailbox_list_with(v, s).into_iter().next(),
                "to" => b.to = parse_address_list_with(v, s),
                "cc" => b.cc = parse_address_list_with(v, s),
                "bcc" => b.bcc = parse_address_list_with(v, s),
                "message-id" => b.message_id = parse_message_id_with(v, s),
                _ => {}
            }
        }
        blocks
    }

    /// Parse the common fields once, collecting every defect with its
    /// offset in the message. The first occurrence of each field is used.
    pub fn summary(&self) -> Summary<'a> {
        let mut s = Summary {
            defects: self.header.defects().to_vec(),
            ..Summary::default()
        };
        let mut seen = 0u32;
        for f in self.fields() {
            let n = f.name_bytes();
            let v = f.raw_value();
            let mut sink = Shifted {
                inner: &mut s.defects,
                base: f.value_offset(),
            };
            macro_rules! once {
                ($bit:expr, $e:expr) => {{
                    if seen & (1 << $bit) == 0 {
                        seen |= 1 << $bit;
                        $e;
                    }
                }};
            }
            // Dispatch on length first: cheap and exact.
            match n.len() {
                2 if n.eq_ignore_ascii_case(b"To") => {
                    once!(0, s.to = parse_address_list_with(v, &mut sink))
                }
                2 if n.eq_ignore_ascii_case(b"Cc") => {
                    once!(1, s.cc = parse_address_list_with(v, &mut sink))
                }
                3 if n.eq_ignore_ascii_case(b"Bcc") => {
                    once!(2, s.bcc = parse_address_list_with(v, &mut sink))
                }
                4 if n.eq_ignore_ascii_case(b"From") => {
                    once!(3, s.from = parse_mailbox_list_with(v, &mut sink))
                }
                4 if n.eq_ignore_ascii_case(b"Date") => {
                    once!(4, s.date = parse_date_time_with(v, &mut sink))
                }
                6 if n.eq_ignore_ascii_case(b"Sender") => once!(
                    5,
                    s.sender = parse_mailbox_list_with(v, &mut sink).into_iter().next()
                ),
                7 if n.eq_ignore_ascii_case(b"Subject") => once!(
                    6,
                    s.subject = Some(crate::rfc2047::decode_unstructured_with(v, &mut sink))
                ),
                8 if n.eq_ignore_ascii_case(b"Reply-To") => {
                    once!(7, s.reply_to = parse_address_list_with(v, &mut sink))
                }
                10 if n.eq_ignore_ascii_case(b"Message-ID") => {
                    once!(8, s.message_id = parse_message_id_with(v, &mut sink))
                }
                10 if n.eq_ignore_ascii_case(b"References") => {
                    once!(9, s.references = parse_message_ids_with(v, &mut sink))
                }
                11 if n.eq_ignore_ascii_case(b"In-Reply-To") => {
                    once!(10, s.in_reply_to = parse_message_ids_with(v, &mut sink))
                }
                _ => {}
            }
        }
        if self.fields().is_empty() && !s.defects.iter().any(|d| d.kind == DefectKind::NotAMessage)
        {
            s.defects.push(Defect::new(DefectKind::NotAMessage, 0));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resent_blocks() {
        let m = Message::parse(
            b"Resent-From: a@b\r\nResent-Date: 1 Jan 2001 00:00:00 +0000\r\nResent-From: c@d\r\nResent-To: e@f\r\nFrom: x@y\r\n\r\n",
        );
        let b = m.resent_blocks();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].from[0].addr_spec(), "a@b");
        assert_eq!(b[1].to.mailboxes().next().unwrap().addr_spec(), "e@f");
    }

    #[test]
    fn summary_offsets() {
        let raw = b"Subject: =?utf-8?X?bad?=\r\nFrom: <a@b\r\n\r\n";
        let s = Message::parse(raw).summary();
        assert!(
            s.defects
                .contains(&Defect::new(DefectKind::MalformedEncodedWord, 9))
        );
        assert!(
            s.defects
                .iter()
                .any(|d| d.kind == DefectKind::UnterminatedAngleAddr && d.offset == 32)
        );
    }
}

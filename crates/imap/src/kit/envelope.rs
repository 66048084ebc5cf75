//! ENVELOPE (RFC 3501 §7.4.2 / RFC 9051 §7.5.2): the message's Date,
//! Subject, From, Sender, Reply-To, To, Cc, Bcc, In-Reply-To and Message-ID
//! as written (unfolded, encoded words kept).
//!
//! Sender and Reply-To default to From when absent or empty (RFC 3501
//! §7.4.2: "the server MUST default the sender and reply-to fields to the
//! from field"). When a field occurs more than once, the last one counts,
//! as in Dovecot.

use mailwire_mime::Part;

use super::address::address_list;
use super::lex::nolf;
use super::{Message, istr};
use crate::types::body::{Address, Envelope};

impl Message {
    /// The ENVELOPE of the message.
    pub fn envelope(&self) -> Envelope<'static> {
        self.envelope_of(self.root())
    }

    /// The ENVELOPE of the message whose header is `entity`'s header (the
    /// message itself, or the one a message/rfc822 part encapsulates).
    pub fn envelope_of(&self, entity: &Part) -> Envelope<'static> {
        let mut strings: [Option<Vec<u8>>; 4] = Default::default();
        let mut lists: [Option<Vec<Address<'static>>>; 6] = Default::default();
        for f in self.raw_fields(entity) {
            let (name, v) = (f.name, f.value);
            let string_slot = [&b"date"[..], b"subject", b"in-reply-to", b"message-id"]
                .iter()
                .position(|n| name.eq_ignore_ascii_case(n));
            if let Some(i) = string_slot {
                strings[i] = Some(nolf(v));
                continue;
            }
            let list_slot = [&b"from"[..], b"sender", b"reply-to", b"to", b"cc", b"bcc"]
                .iter()
                .position(|n| name.eq_ignore_ascii_case(n));
            if let Some(i) = list_slot {
                lists[i] = Some(address_list(v));
            }
        }
        let [date, subject, in_reply_to, message_id] = strings.map(|s| s.map(istr));
        let [from, sender, reply_to, to, cc, bcc] = lists.map(Option::unwrap_or_default);
        let or_from = |l: Vec<Address<'static>>| if l.is_empty() { from.clone() } else { l };
        Envelope {
            date,
            subject,
            sender: or_from(sender),
            reply_to: or_from(reply_to),
            from,
            to,
            cc,
            bcc,
            in_reply_to,
            message_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(a: &Address<'_>) -> [Option<String>; 4] {
        [&a.name, &a.adl, &a.mailbox, &a.host]
            .map(|s| s.as_ref().map(|s| s.to_string_lossy().into_owned()))
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    /// RFC 3501 §7.4.2: unstructured fields unfolded, Sender and Reply-To
    /// default to From (an empty Reply-To too), groups kept; the last
    /// occurrence of a field counts.
    #[test]
    fn rfc3501_7_4_2_defaults_groups_and_unfolding() {
        let m = Message::parse(
            &b"Subject: a\r\n b\r\nFrom: Ann <x@y>\r\nReply-To:\r\nTo: g: a@b;\r\n\
Date: first\r\nDate: last\r\nIn-Reply-To: <p@q>\r\n\r\nbody"[..],
        );
        let e = m.envelope();
        let text = |v: &Option<crate::types::core::IString<'_>>| {
            v.as_ref().map(|s| s.to_string_lossy().into_owned())
        };
        assert_eq!(text(&e.subject), s("a b"));
        assert_eq!(text(&e.date), s("last"));
        assert_eq!(text(&e.in_reply_to), s("<p@q>"));
        assert_eq!(e.message_id, None);
        let from = vec![[s("Ann"), None, s("x"), s("y")]];
        for list in [&e.from, &e.sender, &e.reply_to] {
            assert_eq!(list.iter().map(addr).collect::<Vec<_>>(), from);
        }
        assert_eq!(
            e.to.iter().map(addr).collect::<Vec<_>>(),
            vec![
                [None, None, s("g"), None],
                [None, None, s("a"), s("b")],
                [None, None, None, None]
            ]
        );
        assert!(e.cc.is_empty() && e.bcc.is_empty());
    }

    #[test]
    fn empty_header_gives_nil_fields() {
        let e = Message::parse(&b"\r\nbody"[..]).envelope();
        assert!(e.date.is_none() && e.subject.is_none() && e.from.is_empty());
        assert!(e.sender.is_empty() && e.message_id.is_none());
    }
}

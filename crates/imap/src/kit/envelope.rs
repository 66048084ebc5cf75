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
        for f in self.part_fields(entity) {
            let v = f.raw_value();
            let name = f.name_bytes();
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
    use crate::encode::response_to_vec;
    use crate::types::fetch::FetchItem;
    use crate::types::response::{Data, Response};

    fn encode(e: Envelope<'static>) -> String {
        let r = Response::Data(Data::Fetch {
            seq: std::num::NonZeroU32::MIN,
            items: vec![FetchItem::Envelope(Box::new(e))],
        });
        String::from_utf8(response_to_vec(&r)).unwrap()
    }

    /// The message of the RFC 3501 §8 sample session, whose ENVELOPE the
    /// sample shows (`FETCH 12 FULL`).
    #[test]
    fn rfc3501_8_sample_envelope() {
        let m = Message::parse(
            &b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
From: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
To: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US,\r\n John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nbody\r\n"[..],
        );
        assert_eq!(
            encode(m.envelope()),
            "* 1 FETCH (ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \
\"IMAP4rev1 WG mtg summary and minutes\" \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((NIL NIL \"imap\" \"cac.washington.edu\")) \
((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) \
NIL NIL \"<B27397-0100000@cac.washington.edu>\"))\r\n"
        );
    }

    #[test]
    fn empty_header_gives_nil_fields() {
        let e = Message::parse(&b"\r\nbody"[..]).envelope();
        assert!(e.date.is_none() && e.subject.is_none() && e.from.is_empty());
        assert!(e.sender.is_empty() && e.message_id.is_none());
    }
}

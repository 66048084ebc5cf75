#![no_main]
//! The mail server's delivery status notifications
//! (`examples/mailserver/bounce.rs`, RFC 3464 and RFC 6522): whatever the
//! sender, recipients, ORCPT and ENVID values a client gave, the replies
//! and host names of the remote servers and the message itself, the
//! report is what it says it is when the MIME parser reads it back: the
//! top-level fields it writes and no other (nothing injected through a
//! value), a multipart/report of `report-type=delivery-status` with three
//! parts (the text, a message/delivery-status part with one group of
//! fields per recipient reported on, with its action, and the returned
//! message or header), and the returned content as the server stored it
//! (a message that ends in its header may gain the CRLF before the
//! delimiter as its blank line).
//!
//! The input: a flags byte (RET=FULL, the action, the boundary seed's
//! low bits), then NUL-separated values: the sender, the ENVID, the
//! original message, then for each recipient (up to four) its address,
//! ORCPT, remote reply and remote host.
use libfuzzer_sys::fuzz_target;
use mailwire_message::HeaderSection;
use mailwire_mime::Message;

/// What `bounce.rs` takes from the store module: the date of a report.
mod store {
    pub(crate) fn rfc5322_date(unix: u64) -> String {
        let t = i64::try_from(unix).unwrap_or(0);
        mailwire_message::DateTime::from_unix(t, 0)
            .map(|d| d.to_rfc5322())
            .unwrap_or_default()
    }
}

#[allow(dead_code)]
#[path = "../../examples/mailserver/bounce.rs"]
mod bounce;

use bounce::{Action, Failure, Request};

/// `text` as the server stores a message it took in: every line end CRLF,
/// the last line ended too.
fn stored(text: &[u8]) -> Vec<u8> {
    let mut out = mailwire_fuzz::crlf(text);
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The fields the report's header holds, in order.
const FIELDS: [&str; 8] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut values = rest.split(|&b| b == 0);
    let sender = values.next().unwrap_or_default();
    if sender.len() + 2 > mailwire_smtp::MAX_PATH {
        // The SMTP server takes no longer reverse-path (RFC 5321
        // §4.5.3.1.3), and the report's To: holds it on one line.
        return;
    }
    let sender = text(sender);
    let envid = values.next().map(text);
    let original = stored(values.next().unwrap_or_default());
    let action = match (flags >> 1) & 3 {
        0 => Action::Failed,
        1 => Action::Delivered,
        2 => Action::Relayed,
        _ => Action::Delayed,
    };
    let mut failures = Vec::new();
    while failures.len() < 4
        && let Some(rcpt) = values.next()
    {
        let orcpt = values.next().map(text).filter(|o| !o.is_empty());
        let reply = values.next().map(text);
        let host = values.next().map(text).filter(|h| !h.is_empty());
        let status = match &reply {
            Some(r) => bounce::status_of(550, r),
            None => "5.0.0".to_string(),
        };
        failures.push(Failure {
            rcpt: text(rcpt),
            action,
            orcpt,
            status,
            diagnostic: reply,
            remote_mta: host,
        });
    }
    if failures.is_empty() {
        // The server reports on one recipient or more.
        return;
    }
    let request = Request {
        envid,
        ret: (flags & 1 == 1).then_some(mailwire_smtp::Ret::Full),
        requiretls: false,
    };
    let seed = u64::from(flags >> 3);
    let report = bounce::build(
        "mx.example.test",
        "Q1234",
        &sender,
        1_750_000_000,
        &failures,
        &request,
        &original,
        1_750_000_100,
        seed,
    );

    let header = HeaderSection::parse(&report);
    let names: Vec<&str> = header.fields().iter().map(|f| f.name()).collect();
    assert_eq!(names, FIELDS, "the report's header fields");
    assert!(header.defects().is_empty(), "{:?}", header.defects());

    let msg = Message::parse(&report);
    let root = msg.root();
    assert!(root.mime.content_type.is("multipart", "report"));
    assert_eq!(
        root.mime.content_type.param("report-type"),
        Some("delivery-status")
    );
    let parts: Vec<_> = root.children.iter().filter_map(|&c| msg.part(c)).collect();
    assert_eq!(parts.len(), 3, "the report's parts");
    assert!(parts[0].mime.content_type.is("text", "plain"));
    assert!(parts[1].mime.content_type.is("message", "delivery-status"));
    let status = msg.delivery_status(parts[1]).expect("delivery status");
    assert_eq!(status.recipients.len(), failures.len(), "{status:?}");
    for (r, f) in status.recipients.iter().zip(&failures) {
        assert!(r.action.as_deref().is_some_and(|a| !a.is_empty()));
        assert_eq!(r.original_recipient.is_some(), f.orcpt.is_some());
        assert_eq!(r.diagnostic_code.is_some(), f.diagnostic.is_some());
        assert_eq!(r.remote_mta.is_some(), f.remote_mta.is_some());
    }
    if request.ret_full() && action == Action::Failed {
        assert!(parts[2].mime.content_type.is("message", "rfc822"));
        // A message that ends in its header (no blank line) comes back
        // with the CRLF before the delimiter read as its blank line, as
        // Dovecot's BODY[n] has it too (RFC 2046 §5.1.1 gives that CRLF to
        // the delimiter; mailwire-mime's header scan does not look ahead).
        let back = msg.decoded(parts[2]);
        assert!(
            *back == original[..] || back.strip_suffix(b"\r\n") == Some(&original[..]),
            "the returned message: {:?} for {:?}",
            String::from_utf8_lossy(&back),
            String::from_utf8_lossy(&original)
        );
    } else {
        assert!(
            parts[2].mime.content_type.is("text", "rfc822-headers"),
            "{:?}",
            String::from_utf8_lossy(&report)
        );
        // The header section: up to its blank line, or all of it.
        let header = match original.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(i) => &original[..i + 4],
            None => &original[..],
        };
        assert_eq!(&*msg.decoded(parts[2]), header, "the returned header");
    }
});

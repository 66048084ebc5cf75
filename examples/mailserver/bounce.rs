//! Delivery status notifications (RFC 3464): a multipart/report (RFC 6522)
//! with a human-readable part, a message/delivery-status part and the
//! original header (text/rfc822-headers), assembled with the
//! `mailwire-mime` builder; the top header fields with `mailwire-message`.

use mailwire::mime::TransferEncoding;
use mailwire::mime::builder::PartBuilder;

use crate::store::rfc5322_date;

/// One recipient that could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) rcpt: String,
    /// The enhanced status code (RFC 3463), e.g. `5.1.1`.
    pub(crate) status: String,
    /// The remote reply, e.g. `550 5.1.1 no such user`.
    pub(crate) diagnostic: Option<String>,
    /// The host that gave it.
    pub(crate) remote_mta: Option<String>,
}

/// Keeps a value on one line of printable ASCII.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The header section of `msg` (up to and including the empty line).
fn header_of(msg: &[u8]) -> &[u8] {
    match msg.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => &msg[..i + 4],
        None => msg,
    }
}

/// A field folded by `mailwire_message`, CR/LF/NUL already removed.
fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    mailwire::message::fold_field(name, value, out);
}

/// Builds the bounce for `failures` of message `qid` from `sender`.
/// `seed` makes the MIME boundary.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    hostname: &str,
    qid: &str,
    sender: &str,
    arrival_unix: u64,
    failures: &[Failure],
    original: &[u8],
    now_unix: u64,
    seed: u64,
) -> Vec<u8> {
    let now = rfc5322_date(now_unix);

    let mut human = format!(
        "This is the mail system at host {hostname}.\r\n\r\n\
         Your message {qid} could not be delivered to the following recipients:\r\n\r\n"
    );
    for f in failures {
        human.push_str(&format!("<{}>: ", one_line(&f.rcpt)));
        match (&f.remote_mta, &f.diagnostic) {
            (Some(h), Some(d)) => {
                human.push_str(&format!("host {} said: {}\r\n", one_line(h), one_line(d)))
            }
            (None, Some(d)) => human.push_str(&format!("{}\r\n", one_line(d))),
            _ => human.push_str(&format!("status {}\r\n", f.status)),
        }
    }

    // RFC 3464 §2.2 per-message fields, then §2.3 per-recipient fields.
    let mut ds = String::new();
    ds.push_str(&format!("Reporting-MTA: dns; {hostname}\r\n"));
    ds.push_str(&format!("X-Mailwire-Queue-ID: {qid}\r\n"));
    ds.push_str(&format!("Arrival-Date: {}\r\n", rfc5322_date(arrival_unix)));
    for f in failures {
        ds.push_str("\r\n");
        ds.push_str(&format!(
            "Final-Recipient: rfc822; {}\r\n",
            one_line(&f.rcpt)
        ));
        ds.push_str("Action: failed\r\n");
        ds.push_str(&format!("Status: {}\r\n", one_line(&f.status)));
        if let Some(h) = &f.remote_mta {
            ds.push_str(&format!("Remote-MTA: dns; {}\r\n", one_line(h)));
        }
        if let Some(d) = &f.diagnostic {
            ds.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", one_line(d)));
        }
        ds.push_str(&format!("Last-Attempt-Date: {now}\r\n"));
    }

    let report = PartBuilder::multipart(
        "report",
        vec![
            // Both are short lines of US-ASCII (one_line): 7bit as they are.
            PartBuilder::plain(&human).encoding(TransferEncoding::SevenBit),
            // RFC 6522 §3: message/delivery-status is never encoded.
            PartBuilder::data("message/delivery-status", ds.into_bytes())
                .encoding(TransferEncoding::SevenBit),
            PartBuilder::data("text/rfc822-headers", header_of(original).to_vec()),
        ],
    )
    .param("report-type", "delivery-status");

    let mut out = Vec::new();
    field(
        &mut out,
        "From",
        &format!("Mail Delivery System <MAILER-DAEMON@{hostname}>"),
    );
    field(&mut out, "To", &format!("<{}>", one_line(sender)));
    field(&mut out, "Subject", "Undelivered Mail Returned to Sender");
    field(&mut out, "Date", &now);
    field(
        &mut out,
        "Message-ID",
        &format!("<{qid}.bounce@{hostname}>"),
    );
    // RFC 3834 §5: no auto-reply to this.
    field(&mut out, "Auto-Submitted", "auto-replied");
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    out.extend_from_slice(&report.to_bytes(seed, false));
    out
}

/// The enhanced status code of a reply text such as `5.1.1 nope`, or a
/// generic one for the reply code class.
pub(crate) fn status_of(code: u16, text: &str) -> String {
    let candidate = text.split_whitespace().next().unwrap_or("");
    let parts: Vec<&str> = candidate.split('.').collect();
    if parts.len() == 3
        && (parts[0] == "4" || parts[0] == "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return candidate.to_string();
    }
    if code >= 500 {
        "5.0.0".into()
    } else {
        "4.0.0".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_structure() {
        let orig = b"From: a@x.test\r\nSubject: hi\r\n\r\nsecret body\r\n";
        let f = Failure {
            rcpt: "nobody@b.test".into(),
            status: "5.1.1".into(),
            diagnostic: Some("550 5.1.1 no such\r\nuser".into()),
            remote_mta: Some("127.0.0.1".into()),
        };
        let b = build("a.test", "QID1", "a@x.test", 0, &[f], orig, 0, 7);
        let s = String::from_utf8(b.clone()).unwrap();
        assert!(s.starts_with(
            "From: Mail Delivery System <MAILER-DAEMON@a.test>\r\nTo: <a@x.test>\r\n"
        ));
        assert!(!s.contains("secret body"));
        // Parse it back with mailwire-mime.
        let msg = mailwire::mime::Message::parse(&b);
        let root = msg.root();
        assert_eq!(root.mime.mime_type(), "multipart/report");
        assert_eq!(
            root.mime.content_type.param("report-type"),
            Some("delivery-status")
        );
        let leaves: Vec<_> = msg.leaves().collect();
        let types: Vec<String> = leaves.iter().map(|p| p.mime.mime_type()).collect();
        assert_eq!(
            types,
            [
                "text/plain",
                "message/delivery-status",
                "text/rfc822-headers"
            ]
        );
        let ds = mailwire::mime::report::DeliveryStatus::parse(&msg.decoded(leaves[1]));
        assert_eq!(ds.field("reporting-mta"), Some("dns; a.test"));
        assert_eq!(ds.recipients.len(), 1);
        assert_eq!(ds.recipients[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(ds.recipients[0].action.as_deref(), Some("failed"));
        assert_eq!(
            msg.decoded(leaves[2]).as_ref(),
            b"From: a@x.test\r\nSubject: hi\r\n\r\n"
        );
        assert!(
            String::from_utf8_lossy(&msg.decoded(leaves[0]))
                .contains("host 127.0.0.1 said: 550 5.1.1 no such  user")
        );
        // No bare line ends.
        for (i, &c) in b.iter().enumerate() {
            if c == b'\n' {
                assert_eq!(b[i - 1], b'\r');
            }
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(status_of(550, "5.1.1 user unknown"), "5.1.1");
        assert_eq!(status_of(451, "4.3.0 try later"), "4.3.0");
        assert_eq!(status_of(550, "no such user"), "5.0.0");
        assert_eq!(status_of(421, "x.y.z"), "4.0.0");
    }
}

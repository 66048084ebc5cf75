//! Delivery status notifications (RFC 3464): a multipart/report (RFC 6522)
//! with a human-readable part, a message/delivery-status part and the
//! original header (text/rfc822-headers), assembled with the
//! `mailwire-mime` builder; the top header fields with `mailwire-message`.

use mailwire::mime::TransferEncoding;
use mailwire::mime::builder::PartBuilder;

use crate::store::rfc5322_date;

/// What happened to a recipient (RFC 3464 §2.3.3 `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Action {
    /// Could not be delivered.
    #[default]
    Failed,
    /// Delivered into a mailbox here (NOTIFY=SUCCESS).
    Delivered,
    /// Handed to a server that does not offer DSN (NOTIFY=SUCCESS;
    /// RFC 3461 §5.2.2): no further notices will come.
    Relayed,
    /// Still waiting in the queue (NOTIFY=DELAY).
    Delayed,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Delayed => "delayed",
        }
    }
}

/// The DSN request of a message (RFC 3461 §4.3, §4.4): kept with it in the
/// queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Request {
    /// `ENVID`, xtext-decoded (RFC 3461 §6.3 (a)).
    pub(crate) envid: Option<String>,
    /// `RET` as given (RFC 3461 §4.3): `FULL` puts the whole message in a
    /// failure report; `HDRS` or none, the header section. Passed on as
    /// given to a next hop that offers DSN (§5.2.1).
    pub(crate) ret: Option<mailwire::smtp::Ret>,
    /// The message came with REQUIRETLS (RFC 8689): its reports hold the
    /// returned header only and go with REQUIRETLS too (§5).
    pub(crate) requiretls: bool,
}

impl Request {
    /// `RET=FULL` was asked for.
    pub(crate) fn ret_full(&self) -> bool {
        self.ret == Some(mailwire::smtp::Ret::Full)
    }

    /// The request for the reports of a message that came with
    /// REQUIRETLS or not (RFC 8689 §5): with it, the header only (the
    /// content is not sent back over a path that may lack TLS), and the
    /// report itself sent with REQUIRETLS.
    pub(crate) fn with_requiretls(&self, requiretls: bool) -> Request {
        let mut r = self.clone();
        if requiretls {
            r.ret = Some(mailwire::smtp::Ret::Hdrs);
            r.requiretls = true;
        }
        r
    }
}

/// A recipient's DSN request (RFC 3461 §4.1, §4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RcptRequest {
    /// `NOTIFY`: `None` when not given (failures and delays are then
    /// reported, RFC 3461 §4.1); `NEVER` is all false.
    pub(crate) notify: Option<mailwire::smtp::Notify>,
    /// `ORCPT` as given (`rfc822;xtext`).
    pub(crate) orcpt: Option<String>,
}

impl RcptRequest {
    /// Whether a failure is to be reported.
    pub(crate) fn wants_failure(&self) -> bool {
        self.notify.is_none_or(|n| n.failure)
    }

    /// Whether a delay is to be reported.
    pub(crate) fn wants_delay(&self) -> bool {
        self.notify.is_some_and(|n| n.delay)
    }

    /// Whether a success is to be reported.
    pub(crate) fn wants_success(&self) -> bool {
        self.notify.is_some_and(|n| n.success)
    }

    /// The `NOTIFY` value as written in the queue file.
    pub(crate) fn notify_text(&self) -> Option<String> {
        let n = self.notify?;
        let mut v = Vec::new();
        for (on, name) in [
            (n.success, "SUCCESS"),
            (n.failure, "FAILURE"),
            (n.delay, "DELAY"),
        ] {
            if on {
                v.push(name);
            }
        }
        Some(if v.is_empty() {
            "NEVER".into()
        } else {
            v.join(",")
        })
    }

    /// Reads [`RcptRequest::notify_text`] back.
    pub(crate) fn parse_notify(text: &str) -> mailwire::smtp::Notify {
        let mut n = mailwire::smtp::Notify::NEVER;
        for w in text.split(',') {
            match w {
                "SUCCESS" => n.success = true,
                "FAILURE" => n.failure = true,
                "DELAY" => n.delay = true,
                _ => {}
            }
        }
        n
    }
}

/// One recipient reported on: by default one that could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Failure {
    pub(crate) rcpt: String,
    pub(crate) action: Action,
    /// The `Original-Recipient` (the ORCPT parameter, as given).
    pub(crate) orcpt: Option<String>,
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

/// Builds the report on `failures` (all of one [`Action`]) of message
/// `qid` from `sender`. `seed` makes the MIME boundary.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    hostname: &str,
    qid: &str,
    sender: &str,
    arrival_unix: u64,
    failures: &[Failure],
    request: &Request,
    original: &[u8],
    now_unix: u64,
    seed: u64,
) -> Vec<u8> {
    let now = rfc5322_date(now_unix);
    let action = failures.first().map(|f| f.action).unwrap_or_default();
    let (what, subject) = match action {
        Action::Failed => (
            "could not be delivered to",
            "Undelivered Mail Returned to Sender",
        ),
        Action::Delivered => ("was delivered to", "Successful Mail Delivery Report"),
        Action::Relayed => (
            "was relayed, to a server that sends no delivery notices, for",
            "Mail Relayed Report",
        ),
        Action::Delayed => (
            "is delayed (delivery will be tried again) for",
            "Delayed Mail (still being retried)",
        ),
    };
    let mut human = format!(
        "This is the mail system at host {hostname}.\r\n\r\n\
         Your message {qid} {what} the following recipients:\r\n\r\n"
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
    if let Some(e) = &request.envid {
        ds.push_str(&format!("Original-Envelope-Id: {}\r\n", one_line(e)));
    }
    ds.push_str(&format!("X-Mailwire-Queue-ID: {qid}\r\n"));
    ds.push_str(&format!("Arrival-Date: {}\r\n", rfc5322_date(arrival_unix)));
    for f in failures {
        ds.push_str("\r\n");
        if let Some(o) = &f.orcpt {
            ds.push_str(&format!("Original-Recipient: {}\r\n", one_line(o)));
        }
        ds.push_str(&format!(
            "Final-Recipient: rfc822; {}\r\n",
            one_line(&f.rcpt)
        ));
        ds.push_str(&format!("Action: {}\r\n", f.action.name()));
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
            // RFC 3461 §6.2: the whole message for RET=FULL in a failure
            // report, else the header section.
            if request.ret_full() && action == Action::Failed {
                PartBuilder::message(original.to_vec())
            } else {
                PartBuilder::data("text/rfc822-headers", header_of(original).to_vec())
            },
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
    field(&mut out, "Subject", subject);
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
            ..Default::default()
        };
        let b = build(
            "a.test",
            "QID1",
            "a@x.test",
            0,
            &[f],
            &Request::default(),
            orig,
            0,
            7,
        );
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
    fn rfc8689_5_report_of_a_requiretls_message() {
        let full = Request {
            ret: Some(mailwire::smtp::Ret::Full),
            ..Default::default()
        };
        let r = full.with_requiretls(true);
        assert_eq!(r.ret, Some(mailwire::smtp::Ret::Hdrs));
        assert!(r.requiretls && !r.ret_full());
        assert_eq!(full.with_requiretls(false), full);
    }

    #[test]
    fn rfc3461_6_3_fields_and_ret_full() {
        let orig = b"From: a@x.test\r\nSubject: hi\r\n\r\nthe body\r\n";
        let req = Request {
            envid: Some("QQ 314159".into()),
            ret: Some(mailwire::smtp::Ret::Full),
            ..Default::default()
        };
        let f = Failure {
            rcpt: "b@y.test".into(),
            orcpt: Some("rfc822;B@y.test".into()),
            status: "5.4.6".into(),
            ..Default::default()
        };
        let b = build(
            "a.test",
            "Q",
            "a@x.test",
            0,
            std::slice::from_ref(&f),
            &req,
            orig,
            0,
            1,
        );
        let msg = mailwire::mime::Message::parse(&b);
        let leaves: Vec<_> = msg.leaves().collect();
        let ds = mailwire::mime::report::DeliveryStatus::parse(&msg.decoded(leaves[1]));
        assert_eq!(ds.field("original-envelope-id"), Some("QQ 314159"));
        let s = String::from_utf8_lossy(&b);
        assert!(s.contains("Original-Recipient: rfc822;B@y.test\r\n"), "{s}");
        assert!(
            s.contains("message/rfc822") && s.contains("the body"),
            "{s}"
        );
        // A success report: headers only, whatever RET says; no ENVID
        // field without ENVID (RFC 3461 §6.3 (a)).
        let ok = Failure {
            action: Action::Delivered,
            status: "2.0.0".into(),
            ..f
        };
        let req = Request {
            envid: None,
            ret: Some(mailwire::smtp::Ret::Full),
            ..Default::default()
        };
        let b = build("a.test", "Q", "a@x.test", 0, &[ok], &req, orig, 0, 1);
        let s = String::from_utf8_lossy(&b);
        assert!(s.contains("Subject: Successful Mail Delivery Report"));
        assert!(s.contains("Action: delivered\r\n"));
        assert!(!s.contains("the body") && !s.contains("Original-Envelope-Id"));
    }

    #[test]
    fn notify_round_trip() {
        for text in ["NEVER", "SUCCESS", "SUCCESS,FAILURE,DELAY", "FAILURE"] {
            let r = RcptRequest {
                notify: Some(RcptRequest::parse_notify(text)),
                orcpt: None,
            };
            assert_eq!(r.notify_text().as_deref(), Some(text));
        }
        let never = RcptRequest {
            notify: Some(mailwire::smtp::Notify::NEVER),
            orcpt: None,
        };
        assert!(!never.wants_failure() && !never.wants_success());
        assert!(RcptRequest::default().wants_failure());
    }

    #[test]
    fn statuses() {
        assert_eq!(status_of(550, "5.1.1 user unknown"), "5.1.1");
        assert_eq!(status_of(451, "4.3.0 try later"), "4.3.0");
        assert_eq!(status_of(550, "no such user"), "5.0.0");
        assert_eq!(status_of(421, "x.y.z"), "4.0.0");
    }
}

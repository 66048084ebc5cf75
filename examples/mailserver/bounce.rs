//! Delivery status notifications (RFC 3464): a multipart/report (RFC 6522)
//! with a human-readable part, a message/delivery-status part and the
//! original header (text/rfc822-headers).

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
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { ' ' })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The header section of `msg` (up to and including the empty line).
fn header_of(msg: &[u8]) -> &[u8] {
    match msg.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => &msg[..i + 2],
        None => msg,
    }
}

/// Builds the bounce for `failures` of message `qid` from `sender`.
pub(crate) fn build(
    hostname: &str,
    qid: &str,
    sender: &str,
    arrival_unix: u64,
    failures: &[Failure],
    original: &[u8],
    now_unix: u64,
) -> Vec<u8> {
    let headers = header_of(original);
    let mut boundary = format!("{qid}/{hostname}.report");
    while headers.windows(boundary.len()).any(|w| w == boundary.as_bytes()) {
        boundary.push('x');
    }
    let now = rfc5322_date(now_unix);
    let mut m = String::new();
    m.push_str(&format!("From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n"));
    m.push_str(&format!("To: <{}>\r\n", one_line(sender)));
    m.push_str("Subject: Undelivered Mail Returned to Sender\r\n");
    m.push_str(&format!("Date: {now}\r\n"));
    m.push_str(&format!("Message-ID: <{qid}.bounce@{hostname}>\r\n"));
    m.push_str("Auto-Submitted: auto-replied\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n"
    ));
    m.push_str("This is a MIME-encapsulated message (RFC 3464).\r\n\r\n");

    m.push_str(&format!("--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"));
    m.push_str(&format!(
        "This is the mail system at host {hostname}.\r\n\r\nYour message {qid} could not be delivered to the following recipients:\r\n\r\n"
    ));
    for f in failures {
        m.push_str(&format!("<{}>: ", one_line(&f.rcpt)));
        match (&f.remote_mta, &f.diagnostic) {
            (Some(h), Some(d)) => m.push_str(&format!("host {} said: {}\r\n", one_line(h), one_line(d))),
            (None, Some(d)) => m.push_str(&format!("{}\r\n", one_line(d))),
            _ => m.push_str(&format!("status {}\r\n", f.status)),
        }
    }
    m.push_str("\r\n");

    m.push_str(&format!("--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"));
    m.push_str(&format!("Reporting-MTA: dns; {hostname}\r\n"));
    m.push_str(&format!("X-Mailwire-Queue-ID: {qid}\r\n"));
    m.push_str(&format!("Arrival-Date: {}\r\n", rfc5322_date(arrival_unix)));
    for f in failures {
        m.push_str("\r\n");
        m.push_str(&format!("Final-Recipient: rfc822; {}\r\n", one_line(&f.rcpt)));
        m.push_str("Action: failed\r\n");
        m.push_str(&format!("Status: {}\r\n", one_line(&f.status)));
        if let Some(h) = &f.remote_mta {
            m.push_str(&format!("Remote-MTA: dns; {}\r\n", one_line(h)));
        }
        if let Some(d) = &f.diagnostic {
            m.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", one_line(d)));
        }
        m.push_str(&format!("Last-Attempt-Date: {now}\r\n"));
    }
    m.push_str("\r\n");

    m.push_str(&format!("--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"));
    let mut out = m.into_bytes();
    out.extend_from_slice(headers);
    if !headers.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// The enhanced status code of a reply text such as `550 5.1.1 nope`, or a
/// generic one for the reply code class.
pub(crate) fn status_of(code: u16, text: &str) -> String {
    let candidate = text.split_whitespace().next().unwrap_or("");
    let parts: Vec<&str> = candidate.split('.').collect();
    if parts.len() == 3
        && (parts[0] == "4" || parts[0] == "5")
        && parts[1..].iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return candidate.to_string();
    }
    if code >= 500 { "5.0.0".into() } else { "4.0.0".into() }
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
        let b = build("a.test", "QID1", "a@x.test", 0, &[f], orig, 0);
        let s = String::from_utf8(b).unwrap();
        assert!(s.contains("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"QID1/a.test.report\""));
        assert!(s.contains("\r\n--QID1/a.test.report\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a.test\r\n"));
        assert!(s.contains("Final-Recipient: rfc822; nobody@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; 127.0.0.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such  user\r\n"));
        assert!(s.contains("Content-Type: text/rfc822-headers\r\n\r\nFrom: a@x.test\r\nSubject: hi\r\n\r\n--QID1/a.test.report--\r\n"));
        assert!(!s.contains("secret body"));
        assert!(s.starts_with("From: Mail Delivery System <MAILER-DAEMON@a.test>\r\nTo: <a@x.test>\r\n"));
        // No bare line ends.
        let bytes = s.as_bytes();
        for (i, &c) in bytes.iter().enumerate() {
            if c == b'\n' {
                assert_eq!(bytes[i - 1], b'\r');
            }
        }
    }

    #[test]
    fn boundary_avoids_content() {
        let orig = b"X: QID2/h.report\r\n\r\n";
        let b = String::from_utf8(build("h", "QID2", "s@x", 0, &[], orig, 0)).unwrap();
        assert!(b.contains("boundary=\"QID2/h.reportx\""));
    }

    #[test]
    fn statuses() {
        assert_eq!(status_of(550, "5.1.1 user unknown"), "5.1.1");
        assert_eq!(status_of(451, "4.3.0 try later"), "4.3.0");
        assert_eq!(status_of(550, "no such user"), "5.0.0");
        assert_eq!(status_of(421, "x.y.z"), "4.0.0");
    }
}

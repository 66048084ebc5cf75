//! Machine-readable reports: message/delivery-status (RFC 3464 §2) and
//! message/disposition-notification (RFC 8098, formerly RFC 3798).
//!
//! ```text
//! delivery-status-content := per-message-fields 1*( CRLF per-recipient-fields )
//! ```
//!
//! Parsing is lenient: several blank lines between groups, or none at all
//! (a new recipient group then starts at its `Final-Recipient` or
//! `Original-Recipient` field, as mail from some MTAs needs).
//!
//! ```
//! use mailwire_mime::report::DeliveryStatus;
//! let ds = DeliveryStatus::parse(b"Reporting-MTA: dns; mx.example\r\n\r\n\
//! Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n");
//! assert_eq!(ds.field("reporting-mta"), Some("dns; mx.example"));
//! assert_eq!(ds.recipients[0].action.as_deref(), Some("failed"));
//! assert_eq!(ds.recipients[0].status.as_deref(), Some("5.1.1"));
//! ```

use crate::headers::fields;

/// A field: lower-cased name and unfolded value.
pub type ReportField = (String, String);

fn group_fields(block: &[u8]) -> Vec<ReportField> {
    fields(block)
        .map(|(n, v)| {
            let v: Vec<u8> = v
                .iter()
                .copied()
                .filter(|&b| b != b'\r' && b != b'\n')
                .collect();
            (
                String::from_utf8_lossy(n).to_ascii_lowercase(),
                crate::charset::bytes_to_string(v.trim_ascii()),
            )
        })
        .collect()
}

/// Splits the body into blocks at blank lines (empty blocks dropped).
fn blocks(body: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < body.len() {
        let end = memchr::memchr(b'\n', &body[i..]).map_or(body.len(), |p| i + p + 1);
        if body[i..end].trim_ascii().is_empty() {
            if !body[start..i].trim_ascii().is_empty() {
                out.push(&body[start..i]);
            }
            start = end;
        }
        i = end;
    }
    if !body[start..].trim_ascii().is_empty() {
        out.push(&body[start..]);
    }
    out
}

/// Splits the body into groups of fields at blank lines. A group that
/// carries a Content-Transfer-Encoding field (an Exchange quirk) has the
/// rest of the body encoded: it is decoded and split in turn.
fn groups(body: &[u8]) -> Vec<Vec<ReportField>> {
    let mut out = Vec::new();
    let bs = blocks(body);
    for (k, b) in bs.iter().enumerate() {
        let g = group_fields(b);
        let cte = get(&g, "content-transfer-encoding")
            .map(|v| crate::encoding::TransferEncoding::parse(v.as_bytes()));
        if !g.is_empty() {
            out.push(g);
        }
        if let Some(te) = cte.filter(|t| !t.is_identity()) {
            let rest_start = bs
                .get(k + 1)
                .map_or(body.len(), |n| n.as_ptr() as usize - body.as_ptr() as usize);
            let decoded = crate::encoding::decode(te, &body[rest_start..]);
            for b in blocks(&decoded) {
                let g = group_fields(b);
                if !g.is_empty() {
                    out.push(g);
                }
            }
            break;
        }
    }
    out
}

fn get<'f>(fields: &'f [ReportField], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The per-recipient fields of a delivery status (RFC 3464 §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecipientStatus {
    /// Every field of the group, in order.
    pub fields: Vec<ReportField>,
    /// `Final-Recipient` (required).
    pub final_recipient: Option<String>,
    /// `Original-Recipient`.
    pub original_recipient: Option<String>,
    /// `Action`: failed, delayed, delivered, relayed, expanded (lower-cased).
    pub action: Option<String>,
    /// `Status`: the RFC 3463 code (`5.1.1`).
    pub status: Option<String>,
    /// `Remote-MTA`.
    pub remote_mta: Option<String>,
    /// `Diagnostic-Code`.
    pub diagnostic_code: Option<String>,
}

impl RecipientStatus {
    fn from_fields(fields: Vec<ReportField>) -> Self {
        let f = |n: &str| get(&fields, n).map(str::to_owned);
        Self {
            final_recipient: f("final-recipient"),
            original_recipient: f("original-recipient"),
            action: f("action").map(|a| a.to_ascii_lowercase()),
            status: f("status").map(|s| {
                s.split(|c: char| c.is_whitespace() || c == '(')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            }),
            remote_mta: f("remote-mta"),
            diagnostic_code: f("diagnostic-code"),
            fields,
        }
    }
}

/// A parsed message/delivery-status body (RFC 3464 §2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryStatus {
    /// The per-message fields (Reporting-MTA, Arrival-Date, ...).
    pub message: Vec<ReportField>,
    /// One entry per recipient group.
    pub recipients: Vec<RecipientStatus>,
}

impl DeliveryStatus {
    /// Parses the (decoded) body of a message/delivery-status part.
    pub fn parse(body: &[u8]) -> Self {
        let mut gs = groups(body).into_iter();
        let mut message = gs.next().unwrap_or_default();
        let mut recipient_groups: Vec<Vec<ReportField>> = Vec::new();
        // No blank line after the per-message fields: split at the first
        // recipient field.
        let is_recipient_start = |n: &str| n == "final-recipient" || n == "original-recipient";
        if let Some(p) = message.iter().position(|(n, _)| is_recipient_start(n)) {
            let rest = message.split_off(p);
            recipient_groups.push(rest);
        }
        for g in gs {
            recipient_groups.push(g);
        }
        // Several recipients without blank lines between them.
        let mut recipients = Vec::new();
        for g in recipient_groups {
            let mut cur: Vec<ReportField> = Vec::new();
            for (n, v) in g {
                let starts_new = (n == "final-recipient"
                    && cur.iter().any(|(m, _)| m == "final-recipient"))
                    || (n == "original-recipient"
                        && cur.iter().any(|(m, _)| m == "original-recipient"));
                if starts_new {
                    recipients.push(RecipientStatus::from_fields(std::mem::take(&mut cur)));
                }
                cur.push((n, v));
            }
            if !cur.is_empty() {
                recipients.push(RecipientStatus::from_fields(cur));
            }
        }
        Self {
            message,
            recipients,
        }
    }

    /// A per-message field by name (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&str> {
        get(&self.message, name)
    }
}

/// A parsed message/disposition-notification body (RFC 8098 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DispositionNotification {
    /// Every field in order.
    pub fields: Vec<ReportField>,
    /// `Reporting-UA`.
    pub reporting_ua: Option<String>,
    /// `Original-Recipient`.
    pub original_recipient: Option<String>,
    /// `Final-Recipient`.
    pub final_recipient: Option<String>,
    /// `Original-Message-ID`.
    pub original_message_id: Option<String>,
    /// `Disposition`, e.g. `manual-action/MDN-sent-manually; displayed`.
    pub disposition: Option<String>,
}

impl DispositionNotification {
    /// Parses the (decoded) body of a message/disposition-notification part.
    pub fn parse(body: &[u8]) -> Self {
        let fields: Vec<ReportField> = groups(body).into_iter().flatten().collect();
        let f = |n: &str| get(&fields, n).map(str::to_owned);
        Self {
            reporting_ua: f("reporting-ua"),
            original_recipient: f("original-recipient"),
            final_recipient: f("final-recipient"),
            original_message_id: f("original-message-id"),
            disposition: f("disposition"),
            fields,
        }
    }

    /// The disposition type after the `;` (`displayed`, `deleted`, ...).
    pub fn disposition_type(&self) -> Option<&str> {
        let d = self.disposition.as_deref()?;
        let t = d.split(';').nth(1)?.trim();
        Some(t.split(['/', ' ']).next().unwrap_or(t))
    }
}

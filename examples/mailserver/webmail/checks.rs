//! The sender checks the server made of a message, for the message view:
//! the results of its own `Authentication-Results` field (RFC 8601; the
//! DKIM, SPF and DMARC checks of `dkim_verify.rs`, `spf.rs` and
//! `dmarc.rs`).
//!
//! Only the topmost field whose authserv-id is this server's hostname
//! counts: the server removes fields that claim its name from every
//! message it takes over SMTP (RFC 8601 §5), so that one is its own (a
//! message the user APPENDed over IMAP carries what the user put there);
//! fields of other servers say what those servers found and are not
//! shown.

use std::fmt::Write as _;

use mailwire::message::HeaderSection;

use super::pages::esc;
use crate::dkim_verify::{claims_to_be_ours, without_comments};

/// One result: the method (`dkim`, `spf`, `dmarc`), its result (`pass`,
/// `fail`, ...) and what it is about (the signing domain, the MAIL FROM
/// address or the HELO name, the From domain), when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SenderCheck {
    pub(crate) method: String,
    pub(crate) result: String,
    pub(crate) about: Option<String>,
}

impl SenderCheck {
    /// Whether the result speaks for the sender.
    pub(crate) fn passed(&self) -> bool {
        self.result == "pass"
    }

    /// Whether the result speaks against it (RFC 8601 §2.7.1, §2.7.2).
    pub(crate) fn failed(&self) -> bool {
        matches!(self.result.as_str(), "fail" | "softfail" | "permerror")
    }
}

/// The results of the topmost `Authentication-Results` field of the
/// message `raw` that claims to come from `authserv_id`: the one the
/// server's own test ([`crate::dkim_verify::claims_to_be_ours`], the same
/// that removes such fields from what arrives) says is its own, read from
/// the field as written (not RFC 2047-decoded: the field is structured);
/// none without one.
pub(crate) fn sender_checks(raw: &[u8], authserv_id: &str) -> Vec<SenderCheck> {
    let header = HeaderSection::parse(raw);
    header
        .fields()
        .iter()
        .find(|f| claims_to_be_ours(f, authserv_id))
        .map(|f| parse(&String::from_utf8_lossy(f.raw_value())))
        .unwrap_or_default()
}

/// The checks as a row of the message view's header list (nothing
/// without any): each method and result, marked as speaking for or
/// against the sender, with what it is about.
pub(crate) fn html(checks: &[SenderCheck]) -> String {
    if checks.is_empty() {
        return String::new();
    }
    let mut o = String::from(r#"<dt>Checks</dt><dd class="checks">"#);
    for (i, c) in checks.iter().enumerate() {
        if i > 0 {
            o.push_str(", ");
        }
        let class = if c.passed() {
            "check-pass"
        } else if c.failed() {
            "check-fail"
        } else {
            "check-other"
        };
        let _ = write!(
            o,
            r#"<span class="{class}">{} {}</span>"#,
            esc(&c.method.to_ascii_uppercase()),
            esc(&c.result)
        );
        if let Some(a) = &c.about {
            let _ = write!(o, " ({})", esc(a));
        }
    }
    o.push_str("</dd>");
    o
}

/// Splits on `;` outside quoted strings.
fn segments(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// The results of one field value (RFC 8601 §2.2), after its
/// authserv-id.
fn parse(value: &str) -> Vec<SenderCheck> {
    let clean = without_comments(value);
    segments(&clean)
        .into_iter()
        .skip(1)
        .filter_map(|resinfo| {
            // White space around "=" is CFWS (§2.2): joined first.
            let joined = resinfo
                .split('=')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("=");
            let mut words = joined.split_whitespace();
            let (method, result) = words.next()?.split_once('=')?;
            let method = method.to_ascii_lowercase();
            let wanted: &[&str] = match method.as_str() {
                "dkim" => &["header.d", "header.i"],
                "spf" => &["smtp.mailfrom", "smtp.helo"],
                "dmarc" => &["header.from"],
                _ => &[],
            };
            let about = words
                .filter_map(|w| w.split_once('='))
                .find(|(p, _)| wanted.iter().any(|x| p.eq_ignore_ascii_case(x)))
                .map(|(_, v)| v.trim_matches('"').to_string());
            Some(SenderCheck {
                method,
                result: result.to_ascii_lowercase(),
                about,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: &str) -> String {
        format!("Authentication-Results: {v}\r\n")
    }

    /// A message with these header fields.
    fn msg(fields: &[String]) -> Vec<u8> {
        (fields.concat() + "Subject: s\r\n\r\nbody\r\n").into_bytes()
    }

    fn check(method: &str, result: &str, about: Option<&str>) -> SenderCheck {
        SenderCheck {
            method: method.into(),
            result: result.into(),
            about: about.map(Into::into),
        }
    }

    /// The fields the server writes (`dkim_verify::results_field`).
    #[test]
    fn the_servers_own_field() {
        let h = [
            "Received: from x by y\r\n".to_string(),
            field(
                "mx.example; dkim=fail (body hash did not verify) header.d=b.test header.s=s1 \
                 header.a=rsa-sha256 header.b=AbCd; spf=softfail smtp.mailfrom=bob@b.test",
            ),
        ];
        assert_eq!(
            sender_checks(&msg(&h), "MX.example"),
            [
                check("dkim", "fail", Some("b.test")),
                check("spf", "softfail", Some("bob@b.test"))
            ]
        );
        assert!(sender_checks(&msg(&h), "other.example").is_empty());
        assert_eq!(
            sender_checks(&msg(&[field("mx.example; dkim=none")]), "mx.example"),
            [check("dkim", "none", None)]
        );
        assert_eq!(
            sender_checks(
                &msg(&[field("mx.example; spf=pass smtp.helo=h.test")]),
                "mx.example"
            ),
            [check("spf", "pass", Some("h.test"))]
        );
        assert_eq!(
            sender_checks(
                &msg(&[field(
                    "mx.example; spf=pass smtp.mailfrom=a@x.b.test; dmarc=pass (p=reject dis=none) header.from=b.test"
                )]),
                "mx.example"
            ),
            [
                check("spf", "pass", Some("a@x.b.test")),
                check("dmarc", "pass", Some("b.test"))
            ]
        );
    }

    /// Only the topmost field of this server counts; another server's
    /// field is not this server's word.
    #[test]
    fn other_servers_fields_are_not_shown() {
        let h = [
            field("relay.example; spf=pass smtp.mailfrom=a@a.test"),
            field("mx.example; spf=fail smtp.mailfrom=a@a.test"),
            field("mx.example; spf=pass smtp.mailfrom=a@a.test"),
        ];
        assert_eq!(
            sender_checks(&msg(&h), "mx.example"),
            [check("spf", "fail", Some("a@a.test"))]
        );
    }

    /// The field shown is the one the server's delivery would have
    /// removed as a forgery had it come from outside
    /// (`claims_to_be_ours`), whatever its form: comments, nested ones
    /// too, before the authserv-id, or a quoted authserv-id. An RFC 2047
    /// word is no authserv-id (the field is structured): such a field is
    /// not the server's, and is not shown.
    #[test]
    fn shown_only_what_delivery_treats_as_its_own() {
        for own in [
            "(a (nested) comment) mx.example; spf=fail smtp.mailfrom=a@a.test",
            "\"mx.example\"; spf=fail smtp.mailfrom=a@a.test",
        ] {
            let m = msg(&[field(own)]);
            assert_eq!(
                sender_checks(&m, "mx.example"),
                [check("spf", "fail", Some("a@a.test"))],
                "{own}"
            );
            let header = HeaderSection::parse(&m);
            assert!(
                claims_to_be_ours(&header.fields()[0], "mx.example"),
                "{own}"
            );
        }
        let m = msg(&[field(
            "=?utf-8?q?mx.example?=; spf=pass smtp.mailfrom=a@a.test",
        )]);
        assert!(sender_checks(&m, "mx.example").is_empty());
    }

    /// RFC 8601 §2.2's syntax: comments anywhere, CFWS around "=", a
    /// version, quoted values (with ";" inside).
    #[test]
    fn rfc8601_2_2_syntax() {
        let h = [field(
            "mx.example (the (nested) comment) 1; dkim = pass (good; signature) header.d = \"b;test\"; \
             SPF=Neutral",
        )];
        assert_eq!(
            sender_checks(&msg(&h), "mx.example"),
            [
                check("dkim", "pass", Some("b;test")),
                check("spf", "neutral", None)
            ]
        );
        assert!(check("spf", "softfail", None).failed());
        let row = html(&[
            check("dkim", "pass", Some("<b>.test")),
            check("spf", "fail", Some("a@a.test")),
        ]);
        assert_eq!(
            row,
            r#"<dt>Checks</dt><dd class="checks"><span class="check-pass">DKIM pass</span> (&lt;b&gt;.test), <span class="check-fail">SPF fail</span> (a@a.test)</dd>"#
        );
        assert_eq!(html(&[]), "");
        assert!(check("dkim", "pass", None).passed());
        assert!(!check("spf", "temperror", None).failed());
    }
}

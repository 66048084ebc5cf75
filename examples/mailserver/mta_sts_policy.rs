//! MTA-STS policies and records as a sending server reads them (RFC 8461
//! §3.1, §3.2, §4.1): the `_mta-sts` TXT record, the policy body and the
//! match of an MX host against it. A module of its own, without the fetch
//! and the cache of `mta_sts.rs`, so that a fuzz target can include it:
//! both come from the domain a message goes to.

/// The longest `max_age` honoured (§3.2: up to 31557600 seconds).
pub(crate) const MAX_AGE_LIMIT: u64 = 31_557_600;

/// The policy mode (§3.2 `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Deliver only to matching MX hosts over verified TLS.
    Enforce,
    /// Deliver as usual; report (here: log) what `enforce` would refuse.
    Testing,
    /// The domain has no policy in force.
    None,
}

/// A parsed policy (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) mode: Mode,
    /// The `mx` patterns, lower case, without a trailing dot.
    pub(crate) mx: Vec<String>,
    /// Seconds the policy may be cached (capped at 31557600).
    pub(crate) max_age: u64,
}

impl Policy {
    /// Whether the MX host `host` is one the policy names (§4.1): exact,
    /// or `*.` standing for exactly one left-most label.
    pub(crate) fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|p| match p.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
            None => *p == host,
        })
    }
}

/// The `id` of an MTA-STS TXT record (§3.1): `v=STSv1` first, then
/// `;`-separated `key=value` fields with one `id` of 1 to 32 letters and
/// digits. `None` for anything else.
pub(crate) fn parse_txt(txt: &str) -> Option<String> {
    // One trailing separator is allowed.
    let txt = txt.trim_end_matches([' ', '\t']);
    let txt = txt.strip_suffix(';').unwrap_or(txt);
    let mut fields = txt.split(';').map(|f| f.trim_matches([' ', '\t']));
    if fields.next()? != "v=STSv1" {
        return None;
    }
    let mut id = None;
    for f in fields {
        let (k, v) = f.split_once('=')?;
        if k == "id" {
            let ok = (1..=32).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric());
            if !ok || id.is_some() {
                return None;
            }
            id = Some(v.to_string());
        } else if k.is_empty() || v.is_empty() {
            return None;
        }
    }
    id
}

/// The id of the domain's one MTA-STS record among its TXT records
/// (§3.1: records not starting with `v=STSv1;` are ignored; not exactly
/// one left means no policy).
pub(crate) fn record_id(records: &[String]) -> Option<String> {
    let sts: Vec<&String> = records
        .iter()
        .filter(|r| r.starts_with("v=STSv1;"))
        .collect();
    match sts.as_slice() {
        [one] => parse_txt(one),
        _ => None,
    }
}

/// Parses a policy body (§3.2): `key: value` lines ended by LF or CRLF;
/// `version: STSv1`, `mode` and `max_age` required, `mx` repeatable and
/// required unless the mode is `none`; unknown keys ignored; the first of
/// a repeated singleton wins.
pub(crate) fn parse_policy(text: &str) -> Result<Policy, String> {
    let (mut version, mut mode, mut max_age) = (None, None, None);
    let mut mx = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.trim_end_matches([' ', '\t']);
        if line.is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("policy line without a colon: {line:?}"))?;
        let v = v.trim_start_matches([' ', '\t']);
        match k {
            "version" => {
                version.get_or_insert(v);
            }
            "mode" => {
                mode.get_or_insert(v);
            }
            "max_age" => {
                max_age.get_or_insert(v);
            }
            "mx" => {
                let host = v.strip_prefix("*.").unwrap_or(v);
                let ok = !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
                if !ok {
                    return Err(format!("bad mx pattern {v:?}"));
                }
                mx.push(v.trim_end_matches('.').to_ascii_lowercase());
            }
            _ => {}
        }
    }
    if version != Some("STSv1") {
        return Err("no version: STSv1".into());
    }
    let mode = match mode {
        Some("enforce") => Mode::Enforce,
        Some("testing") => Mode::Testing,
        Some("none") => Mode::None,
        m => return Err(format!("bad mode {m:?}")),
    };
    let max_age = match max_age {
        Some(v) if (1..=10).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) => v
            .parse::<u64>()
            .map_err(|e| e.to_string())?
            .min(MAX_AGE_LIMIT),
        m => return Err(format!("bad max_age {m:?}")),
    };
    if mode != Mode::None && mx.is_empty() {
        return Err("no mx in an enforce or testing policy".into());
    }
    Ok(Policy { mode, mx, max_age })
}

/// RFC 8461 §3.2's example policy, for the tests here and in `mta_sts.rs`.
#[cfg(test)]
pub(crate) const SAMPLE: &str = "version: STSv1\nmode: enforce\nmx: mail.example.com\n\
                                     mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8461 §3.2: the example policy.
    #[test]
    fn rfc8461_3_2_sample_policy() {
        let p = parse_policy(SAMPLE).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604800);
        assert_eq!(
            p.mx,
            ["mail.example.com", "*.example.net", "backupmx.example.com"]
        );
        // CRLF line ends, spaces after the colon, unknown keys.
        let crlf = SAMPLE.replace('\n', "\r\n").replace(": ", ":   ") + "ext: whatever\r\n";
        assert_eq!(parse_policy(&crlf).unwrap(), p);
    }

    /// §3.2: version, mode, max_age required; mx unless mode none.
    #[test]
    fn rfc8461_3_2_required_fields() {
        assert_eq!(
            parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n")
                .unwrap()
                .mode,
            Mode::None
        );
        for bad in [
            "mode: enforce\nmx: a.example\nmax_age: 1\n",
            "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
            "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmx: a.example\n",
            "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
            "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n",
            "version: STSv1\nmode: enforce\nmx: a example\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nno colon\n",
        ] {
            assert!(parse_policy(bad).is_err(), "{bad:?}");
        }
        // max_age is capped at a year.
        let long = "version: STSv1\nmode: testing\nmx: a.example\nmax_age: 9999999999\n";
        assert_eq!(parse_policy(long).unwrap().max_age, MAX_AGE_LIMIT);
    }

    /// §4.1: `*.example.net` matches one left-most label only.
    #[test]
    fn rfc8461_4_1_mx_matching() {
        let p = parse_policy(SAMPLE).unwrap();
        for ok in ["mail.example.com", "MAIL.Example.COM.", "mx1.example.net"] {
            assert!(p.matches(ok), "{ok}");
        }
        for no in [
            "example.net",
            "a.b.example.net",
            "xmail.example.com",
            "mail.example.com.evil",
            ".example.net",
        ] {
            assert!(!p.matches(no), "{no}");
        }
    }

    /// §3.1: the TXT record and its id.
    #[test]
    fn rfc8461_3_1_txt_record() {
        assert_eq!(
            parse_txt("v=STSv1; id=20160831085700Z;").as_deref(),
            Some("20160831085700Z")
        );
        assert_eq!(parse_txt("v=STSv1;id=abc").as_deref(), Some("abc"));
        assert_eq!(parse_txt("v=STSv1; ext=1; id=abc").as_deref(), Some("abc"));
        for bad in [
            "id=abc; v=STSv1",
            "v=STSv1",
            "v=STSv1; id=",
            "v=STSv1; id=a-b",
            "v=STSv1; id=abc; id=def",
            "v=STSv1;; id=abc",
            "v=STSv2; id=abc",
            &format!("v=STSv1; id={}", "a".repeat(33)),
        ] {
            assert_eq!(parse_txt(bad), None, "{bad:?}");
        }
        // Other TXT records are ignored; two STS records mean none.
        let one = vec!["v=spf1 -all".to_string(), "v=STSv1; id=x1".to_string()];
        assert_eq!(record_id(&one).as_deref(), Some("x1"));
        let two = vec!["v=STSv1; id=x1".to_string(), "v=STSv1; id=x2".to_string()];
        assert_eq!(record_id(&two), None);
    }
}

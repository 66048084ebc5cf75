#![no_main]
//! The mail server's reading of MTA-STS (`examples/mailserver/mta_sts_policy.rs`,
//! RFC 8461), whose record and policy come from the domain a message goes
//! to: any text as the `_mta-sts` TXT records or the policy body is read
//! without a panic; a record's id is 1 to 32 letters and digits (§3.1); a
//! policy read has a `max_age` of at most a year, an `mx` pattern for each
//! mode but `none`, every pattern lower case without a trailing dot; each
//! pattern matches the host it names (§4.1: `*.` stands for one label;
//! case and a trailing dot aside), and a host matched is one a pattern
//! names.
//!
//! The input: the TXT records (one a line), a line `--`, the policy body,
//! a line `--`, the MX host names to match (one a line).
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../examples/mailserver/mta_sts_policy.rs"]
mod mta_sts_policy;

use mta_sts_policy::{MAX_AGE_LIMIT, Mode, parse_policy, parse_txt, record_id};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut pieces = text.splitn(3, "\n--\n");
    let records: Vec<String> = pieces
        .next()
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let body = pieces.next().unwrap_or_default();
    let hosts = pieces.next().unwrap_or_default();

    for r in &records {
        if let Some(id) = parse_txt(r) {
            assert!((1..=32).contains(&id.len()), "{id:?}");
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id:?}");
        }
    }
    if let Some(id) = record_id(&records) {
        let sts: Vec<&String> = records
            .iter()
            .filter(|r| r.starts_with("v=STSv1;"))
            .collect();
        assert_eq!(sts.len(), 1, "an id from several records");
        assert_eq!(parse_txt(sts[0]).as_deref(), Some(id.as_str()));
    }

    let Ok(policy) = parse_policy(body) else {
        return;
    };
    assert!(policy.max_age <= MAX_AGE_LIMIT);
    assert!(policy.mode == Mode::None || !policy.mx.is_empty());
    for p in &policy.mx {
        assert_eq!(*p, p.to_ascii_lowercase());
        assert!(!p.ends_with('.'), "{p:?}");
        // Each pattern matches the host it names (a `*.` one, one label
        // more).
        let host = match p.strip_prefix("*.") {
            Some(suffix) => format!("mx1.{suffix}"),
            None => p.clone(),
        };
        assert!(policy.matches(&host), "{p:?} does not match {host:?}");
        assert!(policy.matches(&format!("{}.", host.to_ascii_uppercase())));
    }
    for host in hosts.lines() {
        // A host matched is one a pattern names: itself, or one label
        // more than a `*.` pattern.
        if policy.matches(host) {
            let h = host.trim_end_matches('.').to_ascii_lowercase();
            assert!(
                policy.mx.iter().any(|p| *p == h
                    || p.strip_prefix('*')
                        .is_some_and(|dot_suffix| h.ends_with(dot_suffix))),
                "{host:?} matched {:?}",
                policy.mx
            );
        }
    }
});

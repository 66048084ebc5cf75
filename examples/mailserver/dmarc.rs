//! DMARC (RFC 7489) for the mail that comes in on the MTA port: whether the
//! domain in the `From:` field, which the reader sees, is the one SPF or
//! DKIM authenticated, and what its owner asks a receiver to do when it is
//! not.
//!
//! RFC 7489 is not in `shared/rfc`; the sections cited are those of the
//! published RFC.
//!
//! - **Author domains** (§6.6.1): the domains of every mailbox of the
//!   `From` fields, lower-cased, each checked (at most
//!   [`MAX_AUTHOR_DOMAINS`]; a message naming more is a `permerror` handled
//!   as `quarantine`, so that a long list cannot hide a domain).
//! - **Policy discovery** (§6.6.3): the TXT records at `_dmarc.DOMAIN`, and
//!   when there is no record there, at `_dmarc.` the organizational domain
//!   (§3.2: the public suffix list's registrable domain, from the `psl`
//!   crate). Exactly one record starting `v=DMARC1` is the policy; none or
//!   several: no DMARC for that domain. A record without a valid `p=` (or
//!   with an invalid `sp=`) counts as `p=none` when it has a `rua=`, as
//!   none otherwise.
//! - **Identifier alignment** (§3.1): an SPF `pass` of the MAIL FROM domain
//!   (the HELO name for the null sender, RFC 7208 §2.4) or a DKIM `pass` of
//!   a signature's `d=`, equal to the author domain (`s`trict) or with the
//!   same organizational domain (`r`elaxed, the default), per `aspf=` and
//!   `adkim=`. Either one aligned: `pass`; neither: `fail`.
//! - **Policy** (§6.3, §6.6.4): `p=`, or `sp=` for a subdomain whose record
//!   came from its organizational domain; `pct=` of the failing messages
//!   get it, the others the next milder one (reject → quarantine → none).
//! - A DNS failure of the policy lookup is a `temperror`: no policy acts on
//!   it. The result goes into the `Authentication-Results` field as
//!   `dmarc=fail (p=reject dis=quarantine) header.from=example.com`
//!   (§11.2); reports (`rua=`, `ruf=`) are not sent.

use mailwire::message::{FieldValue, HeaderSection, parse_field};

use crate::spf::SpfResult;
use crate::txt::{Lookup, tag, tag_list};

/// The most author domains of one message checked: each costs up to two
/// DNS lookups.
pub(crate) const MAX_AUTHOR_DOMAINS: usize = 4;

/// What a domain owner asks for mail that fails (§6.3 `p=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Policy {
    None,
    Quarantine,
    Reject,
}

impl Policy {
    fn parse(v: &str) -> Option<Policy> {
        match v.to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    /// The next milder policy (§6.6.4, for a message `pct=` left out).
    fn milder(self) -> Policy {
        match self {
            Policy::Reject => Policy::Quarantine,
            _ => Policy::None,
        }
    }
}

/// Identifier alignment mode (§3.1, `adkim=` and `aspf=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Relaxed,
    Strict,
}

/// A DMARC policy record (§6.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) policy: Policy,
    /// `sp=`: for subdomains of the organizational domain.
    pub(crate) subdomain_policy: Option<Policy>,
    pub(crate) adkim: Mode,
    pub(crate) aspf: Mode,
    /// `pct=`: the share of failing messages the policy is for, 0 to 100.
    pub(crate) pct: u8,
    /// The addresses of `rua=`'s `mailto:` URIs (§6.2), each with its
    /// size limit as `ADDRESS!OCTETS` when it has one (see
    /// [`report_destination`]); a URI whose limit does not parse is left
    /// out (its limit could not be kept).
    pub(crate) rua: Vec<String>,
}

/// A `dmarc-uri`'s size limit (§6.2: digits, then `k`, `m`, `g` or `t`)
/// in octets, the units powers of 1024 as Mail::DMARC reads them; `None`
/// for anything else or a number past 64 bits.
fn size_limit(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, shift) = match s.as_bytes().last()?.to_ascii_lowercase() {
        b'k' => (&s[..s.len() - 1], 10),
        b'm' => (&s[..s.len() - 1], 20),
        b'g' => (&s[..s.len() - 1], 30),
        b't' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// A `rua` destination as kept ([`Record::rua`]): the address, and the
/// most octets a report to it may have.
pub(crate) fn report_destination(kept: &str) -> (&str, Option<u64>) {
    match kept.rsplit_once('!') {
        Some((addr, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (addr, n.parse().ok())
        }
        _ => (kept, None),
    }
}

impl Record {
    /// Parses a TXT record; `None` when it is no DMARC record (the first
    /// tag is not `v=DMARC1`) or one to ignore (§6.6.3 step 6: no valid
    /// `p=`, or an invalid `sp=`, and no `rua=`).
    pub(crate) fn parse(txt: &str) -> Option<Record> {
        let tags = tag_list(txt)?;
        let (v, version) = tags.first()?;
        if v != "v" || version != "DMARC1" {
            return None;
        }
        let value = |name: &str| tag(&tags, name);
        let mode = |name: &str| match value(name).map(str::to_ascii_lowercase).as_deref() {
            Some("s") => Mode::Strict,
            _ => Mode::Relaxed,
        };
        let policy = value("p").and_then(Policy::parse);
        let subdomain_policy = value("sp").map(Policy::parse);
        let has_rua = value("rua").is_some_and(|v| v.split(',').any(|u| u.contains(':')));
        let rua = value("rua")
            .map(|v| {
                v.split(',')
                    .filter_map(|u| {
                        let u = u.trim();
                        let scheme = u.get(..7)?;
                        if !scheme.eq_ignore_ascii_case("mailto:") {
                            return None;
                        }
                        // A `!` in the URI itself is percent-encoded: the
                        // first one starts the size limit.
                        match u[7..].split_once('!') {
                            None => Some(u[7..].to_string()),
                            Some((addr, size)) => Some(format!("{addr}!{}", size_limit(size)?)),
                        }
                    })
                    .filter(|a| a.contains('@'))
                    .collect()
            })
            .unwrap_or_default();
        let (policy, subdomain_policy) = match (policy, subdomain_policy) {
            (Some(p), None) => (p, None),
            (Some(p), Some(Some(sp))) => (p, Some(sp)),
            _ if has_rua => (Policy::None, None),
            _ => return None,
        };
        let pct = match value("pct").map(str::parse::<u8>) {
            Some(Ok(n)) if n <= 100 => n,
            _ => 100,
        };
        Some(Record {
            policy,
            subdomain_policy,
            adkim: mode("adkim"),
            aspf: mode("aspf"),
            pct,
            rua,
        })
    }
}

/// `domain` lower-cased without a final dot.
fn normal(domain: &str) -> String {
    domain.trim_end_matches('.').to_ascii_lowercase()
}

/// The organizational domain of `domain` (§3.2): its registrable domain
/// by the public suffix list; a public suffix itself (or a name the list
/// cannot place) is its own.
pub(crate) fn organizational_domain(domain: &str) -> String {
    let d = normal(domain);
    match psl::domain_str(&d) {
        Some(org) => org.to_string(),
        None => d,
    }
}

/// Whether the authenticated domain `id` is aligned with the author
/// domain `author` (§3.1.1, §3.1.2).
pub(crate) fn aligned(id: &str, author: &str, mode: Mode) -> bool {
    let (id, author) = (normal(id), normal(author));
    match mode {
        Mode::Strict => id == author,
        Mode::Relaxed => organizational_domain(&id) == organizational_domain(&author),
    }
}

/// The author domains of a header (§6.6.1): every mailbox domain of its
/// `From` fields, lower-cased, in order, without repeats. Domain literals
/// and names that are not ASCII are left out (no DNS name to look up).
pub(crate) fn author_domains(header: &HeaderSection<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in header.fields().iter().filter(|f| f.is("from")) {
        let FieldValue::Addresses(list) = parse_field(f) else {
            continue;
        };
        for m in list.mailboxes() {
            let Some(d) = m.domain().map(normal) else {
                continue;
            };
            if d.is_empty()
                || d.starts_with('[')
                || !d
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                continue;
            }
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// The policy record for `domain` and whether it came from the
/// organizational domain (§6.6.3); `Ok(None)` when there is none.
pub(crate) fn discover(
    lookup: &Lookup<'_>,
    domain: &str,
) -> Result<Option<(Record, bool)>, String> {
    let at = |name: &str| -> Result<Option<Record>, String> {
        let records: Vec<Record> = lookup(&format!("_dmarc.{name}"))?
            .iter()
            .filter_map(|t| Record::parse(t))
            .collect();
        Ok(match <[Record; 1]>::try_from(records) {
            Ok([r]) => Some(r),
            // None, or several: no policy (step 5).
            Err(_) => None,
        })
    };
    if let Some(r) = at(domain)? {
        return Ok(Some((r, false)));
    }
    let org = organizational_domain(domain);
    if org == domain {
        return Ok(None);
    }
    Ok(at(&org)?.map(|r| (r, true)))
}

/// The DMARC result (RFC 7489 §11.2, RFC 8601 §2.7.3 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DmarcResult {
    Pass,
    Fail,
    TempError,
    PermError,
}

impl DmarcResult {
    fn word(self) -> &'static str {
        match self {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

/// The check of one author domain that has a policy (or whose lookup
/// failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evaluation {
    pub(crate) domain: String,
    pub(crate) result: DmarcResult,
    /// The policy the record asks for this domain (`p=` or `sp=`).
    pub(crate) policy: Policy,
    /// What is done: the policy for a failing message `pct=` selected,
    /// the next milder one for one it did not, none otherwise.
    pub(crate) disposition: Policy,
    /// The record checked against, and the domain it was found at (the
    /// author domain or its organizational domain): for reports.
    pub(crate) published: Option<(String, Record)>,
    /// Whether a DKIM pass and an SPF pass were aligned.
    pub(crate) dkim_aligned: bool,
    pub(crate) spf_aligned: bool,
}

impl Evaluation {
    /// The `Authentication-Results` resinfo: `dmarc=fail (p=reject
    /// dis=quarantine) header.from=example.com`.
    pub(crate) fn resinfo(&self) -> String {
        let comment = match self.result {
            DmarcResult::Pass | DmarcResult::Fail => format!(
                " (p={} dis={})",
                self.policy.word(),
                self.disposition.word()
            ),
            _ => String::new(),
        };
        format!(
            "dmarc={}{comment} header.from={}",
            self.result.word(),
            self.domain
        )
    }
}

/// What the sender authenticated: the SPF result with the domain it was
/// for, and the `d=` of every DKIM signature that passed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Authenticated<'a> {
    pub(crate) spf: Option<(SpfResult, &'a str)>,
    pub(crate) dkim: &'a [&'a str],
}

/// What the policy discovery of one author domain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// A record, and whether it came from the organizational domain.
    Policy(Record, bool),
    /// The lookup failed for now.
    Failed,
    /// More author domains than [`MAX_AUTHOR_DOMAINS`]: none looked up.
    TooMany,
}

/// The policy discovery (§6.6.3) of the author `domains` (see
/// [`author_domains`]): the domains with a policy or a failed lookup.
/// Empty when no domain has a policy, so that nothing more is needed.
pub(crate) fn policies(lookup: &Lookup<'_>, domains: &[String]) -> Vec<(String, Found)> {
    if domains.len() > MAX_AUTHOR_DOMAINS {
        return vec![(domains[0].clone(), Found::TooMany)];
    }
    domains
        .iter()
        .filter_map(|d| match discover(lookup, d) {
            Ok(Some((record, from_org))) => Some((d.clone(), Found::Policy(record, from_org))),
            Ok(None) => None,
            Err(_) => Some((d.clone(), Found::Failed)),
        })
        .collect()
}

/// Checks each author domain [`policies`] found against what the sender
/// authenticated: one evaluation each. `roll` (0 to 99, at random)
/// decides the `pct=` sampling (§6.6.4).
pub(crate) fn evaluate(
    found: &[(String, Found)],
    auth: Authenticated<'_>,
    roll: u8,
) -> Vec<Evaluation> {
    found
        .iter()
        .map(|(domain, found)| {
            let evaluation = |result, policy, disposition| Evaluation {
                domain: domain.clone(),
                result,
                policy,
                disposition,
                published: None,
                dkim_aligned: false,
                spf_aligned: false,
            };
            let (record, from_org) = match found {
                Found::Policy(record, from_org) => (record, *from_org),
                // No policy acts on a failed lookup.
                Found::Failed => {
                    return evaluation(DmarcResult::TempError, Policy::None, Policy::None);
                }
                // None passes, and the message is not delivered as if it had.
                Found::TooMany => {
                    return evaluation(
                        DmarcResult::PermError,
                        Policy::Quarantine,
                        Policy::Quarantine,
                    );
                }
            };
            let spf_aligned = auth
                .spf
                .is_some_and(|(r, d)| r == SpfResult::Pass && aligned(d, domain, record.aspf));
            let dkim_aligned = auth.dkim.iter().any(|d| aligned(d, domain, record.adkim));
            let policy = match (from_org, record.subdomain_policy) {
                (true, Some(sp)) => sp,
                _ => record.policy,
            };
            let (result, disposition) = if spf_aligned || dkim_aligned {
                (DmarcResult::Pass, Policy::None)
            } else if roll < record.pct {
                (DmarcResult::Fail, policy)
            } else {
                (DmarcResult::Fail, policy.milder())
            };
            let at = if from_org {
                organizational_domain(domain)
            } else {
                domain.clone()
            };
            Evaluation {
                published: Some((at, record.clone())),
                dkim_aligned,
                spf_aligned,
                ..evaluation(result, policy, disposition)
            }
        })
        .collect()
}

/// The strongest disposition of `evaluations` (one failing author
/// domain is enough).
pub(crate) fn disposition(evaluations: &[Evaluation]) -> Policy {
    evaluations
        .iter()
        .map(|e| e.disposition)
        .max()
        .unwrap_or(Policy::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn zone(records: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
        let mut z: HashMap<String, Vec<String>> = HashMap::new();
        for (n, t) in records {
            z.entry(n.to_string()).or_default().push(t.to_string());
        }
        z
    }

    fn run(
        z: &HashMap<String, Vec<String>>,
        from: &[&str],
        spf: Option<(SpfResult, &str)>,
        dkim: &[&str],
        roll: u8,
    ) -> Vec<Evaluation> {
        let lookup = |name: &str| -> Result<Vec<String>, String> {
            if name.contains("broken") {
                return Err("timeout".into());
            }
            Ok(z.get(name).cloned().unwrap_or_default())
        };
        let domains: Vec<String> = from.iter().map(|s| s.to_string()).collect();
        evaluate(
            &policies(&lookup, &domains),
            Authenticated { spf, dkim },
            roll,
        )
    }

    /// §6.3's tags, with the defaults of §6.3 (`adkim=r`, `aspf=r`,
    /// `pct=100`) and §6.6.3 step 6 for a missing or broken `p=`.
    #[test]
    fn rfc7489_6_3_records() {
        let r = Record::parse("v=DMARC1; p=reject; sp=none; adkim=s; aspf=r; pct=20").unwrap();
        assert_eq!(
            r,
            Record {
                policy: Policy::Reject,
                subdomain_policy: Some(Policy::None),
                adkim: Mode::Strict,
                aspf: Mode::Relaxed,
                pct: 20,
                rua: Vec::new(),
            }
        );
        // rua=: the mailto: addresses with their size limits in octets;
        // other schemes, and a URI whose limit does not parse, left out.
        let r = Record::parse(
            "v=DMARC1; p=none; rua=mailto:a@example.com!10m, https://x.example/r,MAILTO:b@example.net,mailto:c@example.org!12x,mailto:d@example.org!2K",
        )
        .unwrap();
        assert_eq!(
            r.rua,
            [
                "a@example.com!10485760",
                "b@example.net",
                "d@example.org!2048"
            ]
        );
        assert_eq!(
            report_destination(&r.rua[0]),
            ("a@example.com", Some(10 << 20))
        );
        assert_eq!(report_destination("b@example.net"), ("b@example.net", None));
        assert_eq!(
            report_destination("x!y@example.net"),
            ("x!y@example.net", None)
        );
        assert_eq!(size_limit("18446744073709551615"), Some(u64::MAX));
        assert_eq!(size_limit("18446744073709551615k"), None);
        assert_eq!(size_limit("m"), None);
        let r = Record::parse("v=DMARC1;p=Quarantine").unwrap();
        assert_eq!(r.policy, Policy::Quarantine);
        assert_eq!(
            (r.adkim, r.aspf, r.pct),
            (Mode::Relaxed, Mode::Relaxed, 100)
        );
        // The examples of §B.2.
        assert_eq!(
            Record::parse("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com")
                .unwrap()
                .policy,
            Policy::None
        );
        assert_eq!(
            Record::parse("v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com; pct=0")
                .unwrap()
                .pct,
            0
        );
        // Not DMARC, or not first.
        assert_eq!(Record::parse("v=spf1 -all"), None);
        assert_eq!(Record::parse("p=reject; v=DMARC1"), None);
        assert_eq!(Record::parse("v=dmarc1; p=reject"), None);
        // Step 6: no valid p= (or a bad sp=) is p=none with a rua=, else no record.
        assert_eq!(Record::parse("v=DMARC1"), None);
        assert_eq!(Record::parse("v=DMARC1; p=block"), None);
        assert_eq!(Record::parse("v=DMARC1; p=reject; sp=bad"), None);
        let r = Record::parse("v=DMARC1; p=block; rua=mailto:r@example.com").unwrap();
        assert_eq!((r.policy, r.subdomain_policy), (Policy::None, None));
        // An out-of-range pct= is the default.
        assert_eq!(
            Record::parse("v=DMARC1; p=reject; pct=101").unwrap().pct,
            100
        );
        assert_eq!(Record::parse("v=DMARC1; p=reject; pct=x").unwrap().pct, 100);
        // A tag twice: not a tag list.
        assert_eq!(Record::parse("v=DMARC1; p=none; p=reject"), None);
    }

    /// §3.2: organizational domains from the public suffix list.
    #[test]
    fn rfc7489_3_2_organizational_domain() {
        assert_eq!(organizational_domain("mail.example.com"), "example.com");
        assert_eq!(organizational_domain("Example.COM."), "example.com");
        assert_eq!(organizational_domain("a.b.example.co.uk"), "example.co.uk");
        assert_eq!(organizational_domain("co.uk"), "co.uk");
        assert_eq!(organizational_domain("x.b.test"), "b.test");
    }

    /// §3.1's examples: relaxed alignment takes the organizational domain,
    /// strict the exact name.
    #[test]
    fn rfc7489_3_1_alignment() {
        assert!(aligned("example.com", "example.com", Mode::Strict));
        assert!(aligned("Example.com.", "example.COM", Mode::Strict));
        assert!(!aligned("foo.example.com", "example.com", Mode::Strict));
        assert!(aligned("foo.example.com", "example.com", Mode::Relaxed));
        assert!(aligned("a.example.com", "b.example.com", Mode::Relaxed));
        assert!(!aligned("example.net", "example.com", Mode::Relaxed));
        // Two registrable domains under one public suffix are not aligned.
        assert!(!aligned("a.co.uk", "b.co.uk", Mode::Relaxed));
    }

    #[test]
    fn author_domains_of_the_from_fields() {
        let h = HeaderSection::parse(
            b"From: Bob <bob@B.Example.>, carol@b.example, x@[192.0.2.1]\r\nFrom: d@other.example\r\nSender: s@sender.example\r\n\r\n",
        );
        assert_eq!(author_domains(&h), ["b.example", "other.example"]);
        let h = HeaderSection::parse(b"To: a@b.example\r\n\r\n");
        assert!(author_domains(&h).is_empty());
    }

    #[test]
    fn discovery_falls_back_to_the_organizational_domain() {
        let z = zone(&[
            ("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine"),
            ("_dmarc.own.example.com", "v=DMARC1; p=none"),
            ("_dmarc.two.example", "v=DMARC1; p=reject"),
            ("_dmarc.two.example", "v=DMARC1; p=none"),
            ("_dmarc.other.example", "some text"),
            ("_dmarc.other.example", "v=DMARC1; p=quarantine"),
        ]);
        let lookup =
            |n: &str| -> Result<Vec<String>, String> { Ok(z.get(n).cloned().unwrap_or_default()) };
        let (r, org) = discover(&lookup, "example.com").unwrap().unwrap();
        assert_eq!((r.policy, org), (Policy::Reject, false));
        let (r, org) = discover(&lookup, "mail.example.com").unwrap().unwrap();
        assert_eq!((r.policy, org), (Policy::Reject, true));
        // A record of its own wins over the organizational domain's.
        let (r, org) = discover(&lookup, "own.example.com").unwrap().unwrap();
        assert_eq!((r.policy, org), (Policy::None, false));
        // Two DMARC records: none; other TXT records are not counted.
        assert_eq!(discover(&lookup, "two.example").unwrap(), None);
        let (r, _) = discover(&lookup, "other.example").unwrap().unwrap();
        assert_eq!(r.policy, Policy::Quarantine);
        assert_eq!(discover(&lookup, "none.example").unwrap(), None);
        let failing = |_: &str| -> Result<Vec<String>, String> { Err("timeout".into()) };
        assert!(discover(&failing, "example.com").is_err());
    }

    #[test]
    fn aligned_spf_or_dkim_passes() {
        let z = zone(&[
            ("_dmarc.example.com", "v=DMARC1; p=reject"),
            (
                "_dmarc.strict.example",
                "v=DMARC1; p=reject; adkim=s; aspf=s",
            ),
        ]);
        let pass = |e: &[Evaluation]| e.len() == 1 && e[0].result == DmarcResult::Pass;
        // SPF pass of a subdomain: relaxed alignment.
        assert!(pass(&run(
            &z,
            &["example.com"],
            Some((SpfResult::Pass, "bounce.example.com")),
            &[],
            0
        )));
        // DKIM alone.
        assert!(pass(&run(&z, &["example.com"], None, &["example.com"], 0)));
        // Strict: the subdomain does not align, the exact name does.
        let e = run(
            &z,
            &["strict.example"],
            Some((SpfResult::Pass, "mail.strict.example")),
            &["mail.strict.example"],
            0,
        );
        assert_eq!(e[0].result, DmarcResult::Fail);
        assert!(pass(&run(
            &z,
            &["strict.example"],
            None,
            &["other.example", "strict.example"],
            0
        )));
        // SPF softfail or an unrelated pass: fail, rejected.
        let e = run(
            &z,
            &["example.com"],
            Some((SpfResult::SoftFail, "example.com")),
            &["example.net"],
            0,
        );
        assert_eq!(
            (&e[0].domain, e[0].result, e[0].policy, e[0].disposition),
            (
                &"example.com".to_string(),
                DmarcResult::Fail,
                Policy::Reject,
                Policy::Reject
            )
        );
        assert!(!e[0].dkim_aligned && !e[0].spf_aligned);
        assert_eq!(
            e[0].published.as_ref().map(|p| p.0.as_str()),
            Some("example.com")
        );
        assert_eq!(
            e[0].resinfo(),
            "dmarc=fail (p=reject dis=reject) header.from=example.com"
        );
        assert_eq!(disposition(&e), Policy::Reject);
    }

    /// §6.6.4: `pct=` selects the failing messages the policy is for; the
    /// others get the next milder one.
    #[test]
    fn rfc7489_6_6_4_pct_sampling() {
        let z = zone(&[
            ("_dmarc.r.example", "v=DMARC1; p=reject; pct=25"),
            ("_dmarc.q.example", "v=DMARC1; p=quarantine; pct=0"),
        ]);
        let dis = |from: &str, roll| run(&z, &[from], None, &[], roll)[0].disposition;
        assert_eq!(dis("r.example", 0), Policy::Reject);
        assert_eq!(dis("r.example", 24), Policy::Reject);
        assert_eq!(dis("r.example", 25), Policy::Quarantine);
        assert_eq!(dis("q.example", 0), Policy::None);
    }

    #[test]
    fn subdomain_policy_and_several_authors() {
        let z = zone(&[
            ("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine"),
            ("_dmarc.lax.example", "v=DMARC1; p=none"),
        ]);
        let e = run(&z, &["news.example.com"], None, &[], 0);
        assert_eq!(
            (e[0].policy, e[0].disposition),
            (Policy::Quarantine, Policy::Quarantine)
        );
        // The record is the organizational domain's.
        assert_eq!(
            e[0].published.as_ref().map(|p| p.0.as_str()),
            Some("example.com")
        );
        // Each author domain is checked; the strongest disposition wins,
        // and a domain without a policy adds nothing.
        let e = run(
            &z,
            &["lax.example", "example.com", "nopolicy.example"],
            None,
            &["lax.example"],
            0,
        );
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].result, DmarcResult::Pass);
        assert_eq!(disposition(&e), Policy::Reject);
        // A failed lookup is a temperror, on which no policy acts.
        let e = run(&z, &["broken.example"], None, &[], 0);
        assert_eq!(e[0].result, DmarcResult::TempError);
        assert_eq!(e[0].resinfo(), "dmarc=temperror header.from=broken.example");
        assert_eq!(disposition(&e), Policy::None);
        // More author domains than are looked up: quarantined unchecked.
        let many: Vec<String> = (0..=MAX_AUTHOR_DOMAINS)
            .map(|i| format!("d{i}.example"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let e = run(&z, &many, None, &["d0.example"], 0);
        assert_eq!(e[0].result, DmarcResult::PermError);
        assert_eq!(disposition(&e), Policy::Quarantine);
    }
}

//! DMARC aggregate reports (RFC 7489 §7.2 and its Appendix C schema; not
//! in `shared/rfc`, sections as published), sent with
//! `--dmarc-reports INTERVAL` (off by default): every DMARC check of a
//! domain whose record asks for them (`rua=mailto:...`) is kept in
//! `DATA/dmarc/records`, and every INTERVAL what was kept goes, one
//! report per policy domain, to its `rua` addresses.
//!
//! - A report is the XML of Appendix C, gzipped, attached to a message
//!   (§7.2.1.1): `Subject: Report Domain: DOMAIN Submitter: HOSTNAME
//!   Report-ID: <ID>`, the file `HOSTNAME!DOMAIN!BEGIN!END.xml.gz`, from
//!   `postmaster@` the first local domain, DKIM-signed when `--dkim` has a
//!   key for that domain. Rows count the messages of one source address,
//!   disposition, outcome and authentication results.
//! - An address at another organizational domain than the policy's is
//!   only sent to when that domain agrees (§7.1): a `v=DMARC1` TXT record
//!   at `POLICYDOMAIN._report._dmarc.RUADOMAIN`.
//! - The records file holds at most [`MAX_RECORDS`] bytes between two
//!   reports; the checks past it are counted and the count logged.
//! - A `rua` address with a size limit (`mailto:a@example.com!10m`,
//!   §6.2) gets no report whose message is larger; that is logged.
//! - Not done: failure reports (`ruf=`, §7.3), reports over other URI
//!   schemes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::dkim_verify::Outcome;
use crate::dmarc::{Evaluation, Mode, report_destination};
use crate::spf::SpfResult;

/// One message's DMARC check against a record with `rua=`, as kept until
/// the next report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// Unix time of the check.
    pub(crate) time: u64,
    /// The domain the policy record was found at, and its `rua`.
    pub(crate) domain: String,
    pub(crate) rua: Vec<String>,
    /// The record as published: `adkim`, `aspf` (`r` or `s`), `p`, `sp`,
    /// `pct`.
    pub(crate) adkim: String,
    pub(crate) aspf: String,
    pub(crate) p: String,
    pub(crate) sp: String,
    pub(crate) pct: u8,
    pub(crate) source_ip: String,
    pub(crate) header_from: String,
    /// What was done: `none`, `quarantine` or `reject`.
    pub(crate) disposition: String,
    pub(crate) dkim_aligned: bool,
    pub(crate) spf_aligned: bool,
    /// Each DKIM signature checked: domain, selector, result.
    pub(crate) dkim: Vec<[String; 3]>,
    /// The SPF check: domain, scope (`mfrom` or `helo`), result.
    pub(crate) spf: Option<[String; 3]>,
}

impl Entry {
    /// The entry of an evaluation whose record asks for reports; none
    /// otherwise. `spf`: the SPF result, its domain and whether that was
    /// the HELO name (the null sender).
    pub(crate) fn of(
        e: &Evaluation,
        source_ip: std::net::IpAddr,
        dkim: &[Outcome],
        spf: Option<(SpfResult, &str, bool)>,
        time: u64,
    ) -> Option<Entry> {
        let (domain, record) = e.published.as_ref()?;
        if record.rua.is_empty() {
            return None;
        }
        let mode = |m: Mode| if m == Mode::Strict { "s" } else { "r" }.to_string();
        Some(Entry {
            time,
            domain: domain.clone(),
            rua: record.rua.clone(),
            adkim: mode(record.adkim),
            aspf: mode(record.aspf),
            p: record.policy.word().to_string(),
            sp: record
                .subdomain_policy
                .unwrap_or(record.policy)
                .word()
                .to_string(),
            pct: record.pct,
            source_ip: source_ip.to_string(),
            header_from: e.domain.clone(),
            disposition: e.disposition.word().to_string(),
            dkim_aligned: e.dkim_aligned,
            spf_aligned: e.spf_aligned,
            dkim: dkim
                .iter()
                .map(|o| {
                    [
                        o.domain.clone(),
                        o.selector.clone(),
                        o.verdict.word().to_string(),
                    ]
                })
                .collect(),
            spf: spf.map(|(r, d, helo)| {
                [
                    d.to_string(),
                    if helo { "helo" } else { "mfrom" }.to_string(),
                    r.word().to_string(),
                ]
            }),
        })
    }
}

/// The most the records file holds between two reports (about 100,000
/// checks); the checks past it are counted, not kept, and the count logged
/// when the reports go out.
pub(crate) const MAX_RECORDS: u64 = 64 << 20;

/// The entries kept between reports: `DATA/dmarc/records`, one JSON
/// object a line, appended under a lock and taken whole by the sender.
#[derive(Debug)]
pub(crate) struct Records {
    dir: PathBuf,
    lock: Mutex<()>,
    /// Checks not kept since the last report ([`MAX_RECORDS`]).
    dropped: std::sync::atomic::AtomicU64,
    /// The file's bound: [`MAX_RECORDS`] (less in tests).
    max: u64,
}

impl Records {
    /// The records under `data` (the directory made when missing).
    pub(crate) fn open(data: &std::path::Path) -> io::Result<Records> {
        let dir = data.join("dmarc");
        std::fs::create_dir_all(&dir)?;
        Ok(Records {
            dir,
            lock: Mutex::new(()),
            dropped: Default::default(),
            max: MAX_RECORDS,
        })
    }

    /// Keeps `e` for the next report.
    pub(crate) fn record(&self, e: &Entry) -> io::Result<()> {
        let mut line = serde_json::to_string(e).map_err(io::Error::other)?;
        line.push('\n');
        let _one = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("records"))?;
        if f.metadata()?.len() + line.len() as u64 > self.max {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
        f.write_all(line.as_bytes())
    }

    /// How many checks were not kept since the last call (the file was
    /// full).
    pub(crate) fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, std::sync::atomic::Ordering::Relaxed)
    }

    /// Every entry kept, taken away (lines that do not parse are dropped).
    pub(crate) fn take(&self) -> io::Result<Vec<Entry>> {
        let _one = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.dir.join("records");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        std::fs::remove_file(&path)?;
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }
}

/// One aggregate report: for the policy domain `domain`, to `rua`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) domain: String,
    pub(crate) rua: Vec<String>,
    pub(crate) id: String,
    pub(crate) begin: u64,
    pub(crate) end: u64,
    pub(crate) xml: String,
}

/// `s` with the five XML special characters escaped.
fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The reports of `entries` (one per policy domain, its record as last
/// seen, its `rua` addresses together) from the reporting organization
/// `org` (the hostname) with contact `email`, covering up to `end`; ids
/// from `id` (the period and the domain make each one unique).
pub(crate) fn build(entries: &[Entry], org: &str, email: &str, id: &str, end: u64) -> Vec<Report> {
    let mut by_domain: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        by_domain.entry(&e.domain).or_default().push(e);
    }
    by_domain
        .into_iter()
        .map(|(domain, list)| {
            let last = list[list.len() - 1];
            let begin = list.iter().map(|e| e.time).min().unwrap_or(end);
            // Each address once, with the smallest size limit any entry
            // gave it.
            let mut rua: Vec<String> = Vec::new();
            for e in &list {
                for kept in &e.rua {
                    let (addr, limit) = report_destination(kept);
                    let known = rua
                        .iter()
                        .position(|r| report_destination(r).0.eq_ignore_ascii_case(addr));
                    match known {
                        None => rua.push(kept.clone()),
                        Some(i) => {
                            let old = report_destination(&rua[i]).1;
                            if limit.is_some_and(|l| old.is_none_or(|o| l < o)) {
                                rua[i] = kept.clone();
                            }
                        }
                    }
                }
            }
            // Rows: the entries alike but for their time, counted.
            let mut rows: BTreeMap<String, u32> = BTreeMap::new();
            for e in &list {
                *rows.entry(record_xml(e)).or_default() += 1;
            }
            let report_id = format!("{id}.{domain}");
            let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n");
            let _ = write!(
                x,
                "  <report_metadata>\n    <org_name>{}</org_name>\n    <email>{}</email>\n    <report_id>{}</report_id>\n    <date_range><begin>{begin}</begin><end>{end}</end></date_range>\n  </report_metadata>\n",
                xml_text(org),
                xml_text(email),
                xml_text(&report_id),
            );
            let _ = write!(
                x,
                "  <policy_published>\n    <domain>{}</domain>\n    <adkim>{}</adkim>\n    <aspf>{}</aspf>\n    <p>{}</p>\n    <sp>{}</sp>\n    <pct>{}</pct>\n  </policy_published>\n",
                xml_text(domain),
                last.adkim,
                last.aspf,
                last.p,
                last.sp,
                last.pct
            );
            for (record, count) in rows {
                x.push_str(&record.replace("{COUNT}", &count.to_string()));
            }
            x.push_str("</feedback>\n");
            Report {
                domain: domain.to_string(),
                rua,
                id: report_id,
                begin,
                end,
                xml: x,
            }
        })
        .collect()
}

/// One `<record>` of Appendix C for `e`, its count left as `{COUNT}`.
fn record_xml(e: &Entry) -> String {
    let word = |pass: bool| if pass { "pass" } else { "fail" };
    let mut x = format!(
        "  <record>\n    <row>\n      <source_ip>{}</source_ip>\n      <count>{{COUNT}}</count>\n      <policy_evaluated>\n        <disposition>{}</disposition>\n        <dkim>{}</dkim>\n        <spf>{}</spf>\n      </policy_evaluated>\n    </row>\n    <identifiers>\n      <header_from>{}</header_from>\n    </identifiers>\n    <auth_results>\n",
        xml_text(&e.source_ip),
        xml_text(&e.disposition),
        word(e.dkim_aligned),
        word(e.spf_aligned),
        xml_text(&e.header_from),
    );
    for [domain, selector, result] in &e.dkim {
        let _ = write!(
            x,
            "      <dkim>\n        <domain>{}</domain>\n        <selector>{}</selector>\n        <result>{}</result>\n      </dkim>\n",
            xml_text(domain),
            xml_text(selector),
            xml_text(result)
        );
    }
    if let Some([domain, scope, result]) = &e.spf {
        let _ = write!(
            x,
            "      <spf>\n        <domain>{}</domain>\n        <scope>{}</scope>\n        <result>{}</result>\n      </spf>\n",
            xml_text(domain),
            xml_text(scope),
            xml_text(result)
        );
    }
    x.push_str("    </auth_results>\n  </record>\n");
    x
}

/// The report as a message (§7.2.1.1) from `from`, submitted by `org`,
/// its XML gzipped in an attachment, dated `now`.
pub(crate) fn message(r: &Report, from: &str, org: &str, now: u64) -> io::Result<Vec<u8>> {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use mailwire::mime::builder::{MessageBuilder, PartBuilder};
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(r.xml.as_bytes())?;
    let gz = gz.finish()?;
    let name = format!("{org}!{}!{}!{}.xml.gz", r.domain, r.begin, r.end);
    let bad = |e: mailwire::mime::builder::BuildError| io::Error::other(e.to_string());
    let m = MessageBuilder::new()
        .header("From", from)
        .map_err(bad)?
        .header("To", &r.rua.join(", "))
        .map_err(bad)?
        .header(
            "Subject",
            &format!(
                "Report Domain: {} Submitter: {org} Report-ID: <{}>",
                r.domain, r.id
            ),
        )
        .map_err(bad)?
        .header("Date", &crate::store::rfc5322_date(now))
        .map_err(bad)?
        .header(
            "Message-ID",
            &format!("<{}@{org}>", crate::smtp_session::random_hex(12)),
        )
        .map_err(bad)?
        .header("Auto-Submitted", "auto-generated")
        .map_err(bad)?
        .text(&format!(
            "DMARC aggregate report (RFC 7489) for {} from {org}, {} to {} (Unix time).\n",
            r.domain, r.begin, r.end
        ))
        .attachment(PartBuilder::attachment("application/gzip", &name, gz))
        .build();
    Ok(m)
}

/// Whether reports for `policy_domain` may go to `addr` (§7.1): the same
/// organizational domain, or a `v=DMARC1` record at
/// `POLICY._report._dmarc.RUADOMAIN`. A failed lookup: not now.
pub(crate) fn destination_agrees(
    lookup: &crate::txt::Lookup<'_>,
    policy_domain: &str,
    addr: &str,
) -> bool {
    use crate::dmarc::organizational_domain as org;
    let Some((_, rua_domain)) = addr.rsplit_once('@') else {
        return false;
    };
    if org(rua_domain) == org(policy_domain) {
        return true;
    }
    lookup(&format!("{policy_domain}._report._dmarc.{rua_domain}")).is_ok_and(|records| {
        records
            .iter()
            .any(|r| r.trim_start().starts_with("v=DMARC1"))
    })
}

/// The address of the kept `rua` destination `kept` if a report message
/// of `size` octets may go to it (§6.2: not past the limit it asked for;
/// the whole message is counted), else the address and its limit.
fn within_limit(kept: &str, size: u64) -> Result<&str, (&str, u64)> {
    match report_destination(kept) {
        (addr, Some(limit)) if size > limit => Err((addr, limit)),
        (addr, _) => Ok(addr),
    }
}

/// Sends the reports every `every` until shutdown (what is left at
/// shutdown goes with the next period after a restart: the records are
/// on disk).
pub(crate) fn run(shared: &crate::smtp_session::Shared, every: std::time::Duration) {
    use std::sync::atomic::Ordering;
    let tick = std::time::Duration::from_millis(200).min(every);
    let mut next = std::time::Instant::now() + every;
    while !shared.shutdown.load(Ordering::SeqCst) {
        std::thread::sleep(tick);
        if std::time::Instant::now() >= next {
            next += every;
            send_due(shared);
        }
    }
}

/// Takes what was kept and sends each domain's report to each of its
/// addresses that agrees (§7.1), through the queue like any mail of the
/// server's, DKIM-signed when there is a key for the sender's domain.
pub(crate) fn send_due(shared: &crate::smtp_session::Shared) {
    let log = |what: String| crate::driver::log(format!("dmarc report: {what}"));
    let Some(records) = &shared.dmarc_records else {
        return;
    };
    let entries = match records.take() {
        Ok(e) => e,
        Err(e) => return log(format!("cannot read the records: {e}")),
    };
    let dropped = records.take_dropped();
    if dropped > 0 {
        log(format!(
            "{dropped} checks were not kept for this period: the records file was full"
        ));
    }
    if entries.is_empty() {
        return;
    }
    let cfg = &shared.store.cfg;
    let now = crate::store::unix_now();
    let domain = &cfg.domains[0];
    let from = format!("postmaster@{domain}");
    let id = format!("{now}.{}", crate::smtp_session::random_hex(4));
    let resolver = crate::resolve::Resolver::for_checks(cfg);
    let lookup = |name: &str| resolver.txt(name).map_err(|e| e.to_string());
    for r in build(&entries, &cfg.hostname, &from, &id, now) {
        let msg = match message(&r, &from, &cfg.hostname, now) {
            Ok(m) => shared.dkim.sign(domain, &m, now),
            Err(e) => {
                log(format!("{}: {e}", r.domain));
                continue;
            }
        };
        let to: Vec<(String, crate::store::Dest)> = r
            .rua
            .iter()
            .filter_map(|kept| {
                let a = match within_limit(kept, msg.len() as u64) {
                    Ok(a) => a,
                    Err((a, limit)) => {
                        log(format!(
                            "{}: the report ({} octets) is over <{a}>'s limit, {limit} octets",
                            r.domain,
                            msg.len()
                        ));
                        return None;
                    }
                };
                if !destination_agrees(&lookup, &r.domain, a) {
                    log(format!("{}: <{a}> has not agreed to take them", r.domain));
                    return None;
                }
                Some((a.to_string(), shared.store.classify(a)?))
            })
            .collect();
        if to.is_empty() {
            continue;
        }
        let qid = crate::maildir::queue_id();
        match shared.store.inject(qid.clone(), &from, to, &msg) {
            Ok(_) => log(format!(
                "{} ({} messages) sent id={qid}",
                r.id,
                entries.iter().filter(|e| e.domain == r.domain).count()
            )),
            Err(e) => log(format!("{}: cannot store: {e}", r.domain)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ip: &str, dis: &str, time: u64) -> Entry {
        Entry {
            time,
            domain: "example.com".into(),
            rua: vec!["dmarc@example.com".into()],
            adkim: "r".into(),
            aspf: "s".into(),
            p: "reject".into(),
            sp: "quarantine".into(),
            pct: 100,
            source_ip: ip.into(),
            header_from: "example.com".into(),
            disposition: dis.into(),
            dkim_aligned: dis == "none",
            spf_aligned: false,
            dkim: vec![["example.com".into(), "s<1>".into(), "pass".into()]],
            spf: Some(["bounce.example.com".into(), "mfrom".into(), "pass".into()]),
        }
    }

    /// Appendix C's elements: metadata, the policy as published, rows
    /// counted per source and outcome, the raw results; one report per
    /// policy domain, its `rua` addresses together.
    #[test]
    fn rfc7489_appendix_c_report() {
        let mut other = entry("192.0.2.9", "none", 50);
        other.domain = "other.example".into();
        // One address under three spellings, two size limits: once, with
        // the smaller limit.
        other.rua = vec![
            "r@other.example!5000".into(),
            "R@other.example".into(),
            "r@other.example!3000".into(),
        ];
        let entries = [
            entry("192.0.2.1", "none", 100),
            entry("192.0.2.1", "none", 160),
            entry("198.51.100.7", "reject", 130),
            other,
        ];
        let reports = build(&entries, "mx.test", "postmaster@a.test", "1700", 200);
        assert_eq!(reports.len(), 2);
        let r = &reports[0];
        assert_eq!(
            (r.domain.as_str(), r.begin, r.end),
            ("example.com", 100, 200)
        );
        assert_eq!(r.id, "1700.example.com");
        assert_eq!(reports[1].rua, ["r@other.example!3000"]);
        assert_eq!(
            within_limit(&reports[1].rua[0], 3000),
            Ok("r@other.example")
        );
        assert_eq!(
            within_limit(&reports[1].rua[0], 3001),
            Err(("r@other.example", 3000))
        );
        assert_eq!(
            within_limit("dmarc@example.com", u64::MAX),
            Ok("dmarc@example.com")
        );
        let x = &r.xml;
        assert!(
            x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n"),
            "{x}"
        );
        for part in [
            "<org_name>mx.test</org_name>",
            "<email>postmaster@a.test</email>",
            "<date_range><begin>100</begin><end>200</end></date_range>",
            "<domain>example.com</domain>\n    <adkim>r</adkim>\n    <aspf>s</aspf>\n    <p>reject</p>\n    <sp>quarantine</sp>\n    <pct>100</pct>",
            "<source_ip>192.0.2.1</source_ip>\n      <count>2</count>",
            "<source_ip>198.51.100.7</source_ip>\n      <count>1</count>",
            "<disposition>reject</disposition>\n        <dkim>fail</dkim>\n        <spf>fail</spf>",
            "<selector>s&lt;1&gt;</selector>",
            "<spf>\n        <domain>bounce.example.com</domain>\n        <scope>mfrom</scope>\n        <result>pass</result>",
        ] {
            assert!(x.contains(part), "{part}\n{x}");
        }
        assert_eq!(x.matches("<record>").count(), 2, "{x}");
    }

    #[test]
    fn records_kept_and_taken() {
        let d = std::env::temp_dir().join(format!("dmarc-records-{}", crate::maildir::queue_id()));
        let mut rec = Records::open(&d).unwrap();
        assert!(rec.take().unwrap().is_empty());
        rec.record(&entry("192.0.2.1", "none", 1)).unwrap();
        rec.record(&entry("192.0.2.2", "reject", 2)).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(d.join("dmarc/records"))
            .unwrap()
            .write_all(b"not json\n")
            .unwrap();
        let got = rec.take().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].source_ip, "192.0.2.2");
        assert!(rec.take().unwrap().is_empty(), "taken away");
        // A full file keeps no more, and counts what it did not keep.
        rec.max = 1000;
        std::fs::write(d.join("dmarc/records"), vec![b'\n'; 990]).unwrap();
        rec.record(&entry("192.0.2.3", "none", 3)).unwrap();
        rec.record(&entry("192.0.2.4", "none", 4)).unwrap();
        assert_eq!(rec.take_dropped(), 2);
        assert_eq!(rec.take_dropped(), 0);
        assert!(rec.take().unwrap().is_empty());
        std::fs::remove_dir_all(d).unwrap();
    }

    /// §7.1: another organization's address only with its record.
    #[test]
    fn rfc7489_7_1_external_destinations() {
        let lookup = |name: &str| -> Result<Vec<String>, String> {
            match name {
                "example.com._report._dmarc.reports.test" => Ok(vec!["v=DMARC1".into()]),
                "example.com._report._dmarc.down.test" => Err("timeout".into()),
                _ => Ok(vec!["v=spf1 -all".into()]),
            }
        };
        assert!(destination_agrees(
            &lookup,
            "example.com",
            "d@mail.example.com"
        ));
        assert!(destination_agrees(&lookup, "example.com", "d@reports.test"));
        assert!(!destination_agrees(
            &lookup,
            "example.com",
            "d@elsewhere.test"
        ));
        assert!(!destination_agrees(&lookup, "example.com", "d@down.test"));
        assert!(!destination_agrees(&lookup, "example.com", "no-domain"));
    }

    #[test]
    fn report_message() {
        let r = &build(
            &[entry("192.0.2.1", "none", 5)],
            "mx.test",
            "postmaster@a.test",
            "9",
            10,
        )[0];
        let m = message(r, "postmaster@a.test", "mx.test", 10).unwrap();
        let text = String::from_utf8_lossy(&m).replace("\r\n ", " ");
        assert!(
            text.contains(
                "Subject: Report Domain: example.com Submitter: mx.test Report-ID: <9.example.com>"
            ),
            "{text}"
        );
        assert!(text.contains("mx.test!example.com!5!10.xml.gz"), "{text}");
        assert!(text.contains("application/gzip"), "{text}");
        let parsed = mailwire::mime::Message::parse(&m);
        let gz = parsed
            .leaves()
            .map(|p| parsed.decoded(p))
            .find(|d| d.starts_with(&[0x1f, 0x8b]))
            .expect("the gzip part");
        let mut xml = String::new();
        io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut xml).unwrap();
        assert_eq!(xml, r.xml);
    }
}

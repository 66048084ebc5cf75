//! MTA-STS (RFC 8461) for the queue runner: the `_mta-sts` TXT record
//! (§3.1) through the MX resolver, the policy fetched over HTTPS with a
//! verified certificate (§3.3, hyper over tokio-rustls), parsed (§3.2),
//! cached on disk under `DATA/mta-sts/` (§5.1) and applied (§4, §5):
//! `enforce` keeps only the MX hosts the policy names and requires
//! STARTTLS with a certificate valid for the MX name; `testing` delivers
//! anyway and logs the MX hosts that do not match (and, through
//! `OutboundMode::Testing`, a missing STARTTLS or a bad certificate).
//!
//! Explicit `--tls-policy DOMAIN=MODE` settings and `--route`s win over
//! MTA-STS (the caller does not ask for a policy then).
//!
//! A fetch that failed is remembered per domain (and record id) for
//! [`FAILURE_MEMORY`] ([`Failures`], in memory): meanwhile the domain's
//! deliveries use what a failed fetch gives (the fresh cached policy, or
//! none) without fetching again, so a policy host that is down or slow
//! costs one attempt every few minutes, not one per delivery. A new id in
//! DNS is fetched at once.

use std::collections::HashMap;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Body;
use rustls::pki_types::ServerName;

pub(crate) use crate::mta_sts_policy::{Mode, Policy, parse_policy, record_id};
use crate::resolve::Resolver;

/// The largest policy body taken (RFC 8461 §3.3 suggests 64 KiB).
pub(crate) const MAX_POLICY: usize = 64 * 1024;
/// How long a policy fetch may take (§3.3: no more than 60 seconds).
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a failed policy fetch is remembered (seconds).
pub(crate) const FAILURE_MEMORY: u64 = 300;
/// The most domains remembered at once (expired ones go first; beyond,
/// a failure is not remembered).
const MAX_FAILURES: usize = 4096;

/// The policy fetches that failed lately: domain to the record id asked
/// for and when (Unix seconds).
#[derive(Debug, Default)]
pub(crate) struct Failures(Mutex<HashMap<String, (String, u64)>>);

impl Failures {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, u64)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds since fetching `domain`'s policy `id` failed, when that is
    /// less than [`FAILURE_MEMORY`] ago.
    pub(crate) fn recent(&self, domain: &str, id: &str, now: u64) -> Option<u64> {
        let m = self.map();
        let (failed_id, at) = m.get(domain)?;
        let ago = now.saturating_sub(*at);
        (failed_id == id && ago < FAILURE_MEMORY).then_some(ago)
    }

    /// Remembers that fetching `domain`'s policy `id` failed at `now`.
    pub(crate) fn remember(&self, domain: &str, id: &str, now: u64) {
        let mut m = self.map();
        if m.len() >= MAX_FAILURES {
            m.retain(|_, (_, at)| now.saturating_sub(*at) < FAILURE_MEMORY);
        }
        if m.len() < MAX_FAILURES || m.contains_key(domain) {
            m.insert(domain.to_string(), (id.to_string(), now));
        }
    }

    /// Forgets `domain`'s failure (its policy was fetched).
    pub(crate) fn forget(&self, domain: &str) {
        self.map().remove(domain);
    }
}

/// A policy as cached on disk: the record id it came with, when it was
/// fetched (Unix seconds), and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cached {
    pub(crate) id: String,
    pub(crate) fetched: u64,
    pub(crate) policy: Policy,
    pub(crate) body: String,
}

impl Cached {
    fn fresh(&self, now: u64) -> bool {
        now < self.fetched.saturating_add(self.policy.max_age)
    }
}

/// The cache file of `domain` under `dir`, for names made of letters,
/// digits, `-` and `.` only (anything else is not cached).
fn cache_path(dir: &Path, domain: &str) -> Option<PathBuf> {
    let ok = !domain.is_empty()
        && !domain.starts_with('.')
        && domain.len() <= 253
        && domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    ok.then(|| dir.join(domain))
}

/// Reads the cached policy of `domain` (file: `id`, fetch time, body).
pub(crate) fn load(dir: &Path, domain: &str) -> Option<Cached> {
    let text = std::fs::read_to_string(cache_path(dir, domain)?).ok()?;
    let mut parts = text.splitn(3, '\n');
    let id = parts.next()?.to_string();
    let fetched = parts.next()?.parse().ok()?;
    let body = parts.next()?.to_string();
    let policy = parse_policy(&body).ok()?;
    Some(Cached {
        id,
        fetched,
        policy,
        body,
    })
}

/// Writes the cache file of `domain` (through a temporary file and a
/// rename, so a reader never sees half of it).
pub(crate) fn store(dir: &Path, domain: &str, c: &Cached) -> std::io::Result<()> {
    let Some(path) = cache_path(dir, domain) else {
        return Ok(());
    };
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{domain}.{}", crate::maildir::queue_id()));
    std::fs::write(&tmp, format!("{}\n{}\n{}", c.id, c.fetched, c.body))?;
    std::fs::rename(&tmp, path)
}

/// What to do given the cache and the TXT lookup (§5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// The cached policy is current: use it.
    UseCached,
    /// Fetch the policy (a new id, or nothing fresh cached); on failure
    /// fall back to the fresh cached policy, if any.
    Fetch(String),
    /// The domain has no policy for us.
    NoPolicy,
}

/// §5.1: a fresh cached policy stands while the TXT record's id is the
/// same or the record cannot be had; a new id means fetching again; with
/// nothing fresh cached, a record means fetching, no record no policy.
pub(crate) fn next_step(cached: Option<&Cached>, txt_id: Option<&str>, now: u64) -> Step {
    let fresh = cached.filter(|c| c.fresh(now));
    match (fresh, txt_id) {
        (Some(c), Some(id)) if c.id != id => Step::Fetch(id.to_string()),
        (Some(_), _) => Step::UseCached,
        (None, Some(id)) => Step::Fetch(id.to_string()),
        (None, None) => Step::NoPolicy,
    }
}

/// The policy in force for mail to `domain` (RFC 8461 §5.1), looked up,
/// fetched and cached as needed; `None` when the domain has none (or
/// none could be had, which §5 says to treat the same). `port` is the
/// HTTPS port (443; other values for tests); `tls` verifies the policy
/// host's certificate; `dir` is the cache directory; `failures` the
/// fetches that failed lately (not tried again for a while).
pub(crate) fn policy_for(
    resolver: &Resolver,
    domain: &str,
    port: u16,
    tls: &dyn Fn() -> Result<Arc<rustls::ClientConfig>, String>,
    dir: &Path,
    failures: &Failures,
    now: u64,
) -> Option<Policy> {
    let log = |m: String| crate::driver::log(format!("mta-sts {domain}: {m}"));
    let cached = load(dir, domain);
    let txt_id = match resolver.txt(&format!("_mta-sts.{domain}.")) {
        Ok(records) => record_id(&records),
        Err(e) => {
            log(format!("TXT lookup: {e}"));
            None
        }
    };
    let fetch_id = match next_step(cached.as_ref(), txt_id.as_deref(), now) {
        Step::UseCached => return cached.map(|c| c.policy),
        Step::NoPolicy => return None,
        Step::Fetch(id) => id,
    };
    let fallback = || {
        cached
            .as_ref()
            .filter(|c| c.fresh(now))
            .map(|c| c.policy.clone())
    };
    if let Some(ago) = failures.recent(domain, &fetch_id, now) {
        log(format!(
            "policy id={fetch_id} not fetched again yet (the fetch failed {ago} s ago)"
        ));
        return fallback();
    }
    let host = format!("mta-sts.{domain}");
    let fetched = resolver
        .host_addrs(&host, port)
        .map_err(|e| e.to_string())
        .and_then(|addrs| fetch(&host, &addrs, tls()?))
        .and_then(|body| parse_policy(&body).map(|p| (p, body)));
    match fetched {
        Ok((policy, body)) => {
            log(format!(
                "policy id={fetch_id} mode={:?} max_age={}",
                policy.mode, policy.max_age
            ));
            let c = Cached {
                id: fetch_id,
                fetched: now,
                policy: policy.clone(),
                body,
            };
            if let Err(e) = store(dir, domain, &c) {
                log(format!("cannot cache the policy: {e}"));
            }
            failures.forget(domain);
            Some(policy)
        }
        Err(e) => {
            log(format!("policy fetch failed: {e}"));
            failures.remember(domain, &fetch_id, now);
            fallback()
        }
    }
}

/// GETs `https://HOST/.well-known/mta-sts.txt` (§3.3) from the first of
/// `addrs` that answers: a verified certificate for `host`, status 200
/// (redirects are not followed), `text/plain`, at most [`MAX_POLICY`]
/// octets, within [`FETCH_TIMEOUT`].
fn fetch(
    host: &str,
    addrs: &[SocketAddr],
    tls: Arc<rustls::ClientConfig>,
) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let mut last = String::from("no address");
    for addr in addrs {
        let attempt =
            async { tokio::time::timeout(FETCH_TIMEOUT, get(host, *addr, tls.clone())).await };
        match rt.block_on(attempt) {
            Ok(Ok(body)) => return Ok(body),
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => last = format!("{addr}: timed out"),
        }
    }
    Err(last)
}

async fn get(
    host: &str,
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
) -> Result<String, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get("/.well-known/mta-sts.txt")
        .header(hyper::header::HOST, host)
        .body(String::new())
        .map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let result = read_policy(resp).await;
    conn.abort();
    result
}

async fn read_policy(resp: hyper::Response<hyper::body::Incoming>) -> Result<String, String> {
    if resp.status() != hyper::StatusCode::OK {
        return Err(format!("HTTP status {}", resp.status()));
    }
    let ctype = resp
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ctype.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("text/plain") {
        return Err(format!("Content-Type {ctype:?}, not text/plain"));
    }
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| format!("HTTP body: {e}"))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > MAX_POLICY {
                return Err(format!("policy larger than {MAX_POLICY} octets"));
            }
            out.extend_from_slice(&data);
        }
    }
    String::from_utf8(out).map_err(|_| "policy not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mta_sts_policy::SAMPLE;

    #[test]
    fn failed_fetches_remembered_for_a_while_per_domain_and_id() {
        let f = Failures::default();
        assert_eq!(f.recent("a.test", "id1", 1000), None);
        f.remember("a.test", "id1", 1000);
        assert_eq!(f.recent("a.test", "id1", 1000), Some(0));
        assert_eq!(
            f.recent("a.test", "id1", 1000 + FAILURE_MEMORY - 1),
            Some(FAILURE_MEMORY - 1)
        );
        assert_eq!(f.recent("a.test", "id1", 1000 + FAILURE_MEMORY), None);
        // A new id in DNS, or another domain: fetched at once.
        assert_eq!(f.recent("a.test", "id2", 1001), None);
        assert_eq!(f.recent("b.test", "id1", 1001), None);
        f.forget("a.test");
        assert_eq!(f.recent("a.test", "id1", 1001), None);
        // Bounded: expired entries make room; beyond, new domains are not kept.
        for i in 0..MAX_FAILURES {
            f.remember(&format!("d{i}.test"), "x", 2000);
        }
        f.remember("late.test", "x", 2001);
        assert_eq!(f.recent("late.test", "x", 2001), None);
        assert_eq!(f.map().len(), MAX_FAILURES);
        f.remember("late.test", "x", 2000 + FAILURE_MEMORY);
        assert_eq!(f.recent("late.test", "x", 2000 + FAILURE_MEMORY), Some(0));
        assert_eq!(f.map().len(), 1);
    }

    /// §5.1: when to fetch, when to keep the cached policy.
    #[test]
    fn rfc8461_5_1_policy_refresh() {
        let c = Cached {
            id: "a".into(),
            fetched: 1000,
            policy: parse_policy(SAMPLE).unwrap(),
            body: SAMPLE.into(),
        };
        let fresh_now = 1000 + 604799;
        let stale_now = 1000 + 604800;
        assert_eq!(next_step(Some(&c), Some("a"), fresh_now), Step::UseCached);
        assert_eq!(next_step(Some(&c), None, fresh_now), Step::UseCached);
        assert_eq!(
            next_step(Some(&c), Some("b"), fresh_now),
            Step::Fetch("b".into())
        );
        assert_eq!(
            next_step(Some(&c), Some("a"), stale_now),
            Step::Fetch("a".into())
        );
        assert_eq!(next_step(Some(&c), None, stale_now), Step::NoPolicy);
        assert_eq!(next_step(None, None, 0), Step::NoPolicy);
    }

    #[test]
    fn cache_round_trip() {
        let dir =
            std::env::temp_dir().join(format!("mailserver-sts-{}", crate::maildir::queue_id()));
        let c = Cached {
            id: "id1".into(),
            fetched: 42,
            policy: parse_policy(SAMPLE).unwrap(),
            body: SAMPLE.into(),
        };
        store(&dir, "example.com", &c).unwrap();
        assert_eq!(load(&dir, "example.com"), Some(c.clone()));
        assert_eq!(load(&dir, "other.example"), None);
        // Names that are not plain host names are never files.
        store(&dir, "../evil", &c).unwrap();
        assert_eq!(load(&dir, "../evil"), None);
        assert!(!dir.join("../evil").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Where mail for a domain goes (feature `mx`): the MX records of the
//! domain in preference order, else the domain itself (the implicit MX),
//! as RFC 5321 §5.1 says, resolved with hickory-resolver; then the
//! addresses of each host. [`SmtpTransport::connect_domain`] and the
//! tokio transport's `connect_domain` connect to the first host that
//! answers, verifying its certificate for the MX host's name.
//!
//! [`SmtpTransport::connect_domain`]: super::SmtpTransport::connect_domain

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;

/// Why a domain has no host to deliver to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MxError {
    /// The domain does not exist (NXDOMAIN): a permanent failure.
    #[error("{0}: no such domain")]
    NoSuchDomain(String),
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    #[error("{0}: the domain accepts no mail (null MX, RFC 7505)")]
    NullMx(String),
    /// No host of the domain has an address.
    #[error("{0}: no host to deliver to")]
    NoHost(String),
    /// The lookup failed (timeout, SERVFAIL, no resolver configured): try
    /// again later.
    #[error("DNS: {0}")]
    Dns(String),
}

/// One host to try, best first: its name (what its certificate must be
/// valid for) and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailHost {
    /// The host's name (the MX exchange, or the domain itself).
    pub name: String,
    /// Its addresses, with the port asked for.
    pub addrs: Vec<SocketAddr>,
}

/// The resolver: the system's configuration, or one name server (tests, a
/// local resolver).
#[derive(Debug, Clone, Default)]
pub struct MxResolver {
    nameserver: Option<SocketAddr>,
}

impl MxResolver {
    /// The system's resolver configuration (`/etc/resolv.conf`).
    pub fn system() -> MxResolver {
        MxResolver { nameserver: None }
    }

    /// Only this name server, over UDP and TCP.
    pub fn with_nameserver(addr: SocketAddr) -> MxResolver {
        MxResolver {
            nameserver: Some(addr),
        }
    }

    fn build(&self) -> Result<TokioResolver, MxError> {
        let mut b = match self.nameserver {
            None => hickory_resolver::Resolver::builder_tokio()
                .map_err(|e| MxError::Dns(format!("resolver configuration: {e}")))?,
            Some(ns) => hickory_resolver::Resolver::builder_with_config(
                ResolverConfig::from_parts(
                    None,
                    vec![],
                    NameServerConfigGroup::from_ips_clear(&[ns.ip()], ns.port(), true),
                ),
                TokioConnectionProvider::default(),
            ),
        };
        b.options_mut().timeout = Duration::from_secs(5);
        b.options_mut().attempts = 2;
        Ok(b.build())
    }

    /// The hosts that receive mail for `domain` on `port`, best first
    /// (RFC 5321 §5.1): its MX hosts by preference (equal ones in random
    /// order), else the domain itself; a domain literal (`[192.0.2.1]`,
    /// `[IPv6:2001:db8::1]`) is its address. Hosts without an address are
    /// left out. Needs a tokio runtime (the blocking transport makes one).
    pub async fn mail_hosts(&self, domain: &str, port: u16) -> Result<Vec<MailHost>, MxError> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if let Some(ip) = domain_literal(&domain) {
            return Ok(vec![MailHost {
                name: ip.to_string(),
                addrs: vec![SocketAddr::new(ip, port)],
            }]);
        }
        let resolver = self.build()?;
        let names = match resolver.mx_lookup(domain.as_str()).await {
            Ok(l) => order_mx(
                &domain,
                l.iter()
                    .map(|mx| (mx.preference(), mx.exchange().to_ascii()))
                    .collect(),
                &super::random_nonce().unwrap_or_default().into_bytes(),
            )?,
            Err(e) if e.is_nx_domain() => return Err(MxError::NoSuchDomain(domain)),
            // No MX: the domain is its own mail host (the implicit MX).
            Err(e) if e.is_no_records_found() => vec![domain.clone()],
            Err(e) => return Err(MxError::Dns(format!("{domain} MX: {e}"))),
        };
        let mut hosts = Vec::new();
        let mut last = None;
        for name in names {
            match resolver.lookup_ip(name.as_str()).await {
                Ok(ips) => hosts.push(MailHost {
                    addrs: ips.iter().map(|ip| SocketAddr::new(ip, port)).collect(),
                    name,
                }),
                Err(e) if e.is_nx_domain() || e.is_no_records_found() => {}
                Err(e) => last = Some(MxError::Dns(format!("{name}: {e}"))),
            }
        }
        if hosts.is_empty() {
            return Err(last.unwrap_or(MxError::NoHost(domain)));
        }
        Ok(hosts)
    }

    /// [`mail_hosts`](Self::mail_hosts) on a runtime of its own, for
    /// blocking code.
    pub fn mail_hosts_blocking(&self, domain: &str, port: u16) -> Result<Vec<MailHost>, MxError> {
        let rt = ::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| MxError::Dns(format!("resolver runtime: {e}")))?;
        rt.block_on(self.mail_hosts(domain, port))
    }
}

/// The connections to try, in order: each address of each host, with
/// the certificate to be valid for the host's name (unless the options
/// name one already).
pub(crate) fn attempts(
    hosts: &[MailHost],
    options: &super::SmtpOptions,
) -> Vec<(String, super::SmtpOptions)> {
    let mut out = Vec::new();
    for h in hosts {
        for a in &h.addrs {
            let mut o = options.clone();
            if o.transport.server_name.is_none() {
                o.transport.server_name = Some(h.name.clone());
            }
            out.push((a.to_string(), o));
        }
    }
    out
}

/// The MX records of `domain` in the order to try their hosts (RFC 5321
/// §5.1): lowest preference first, hosts of equal preference in an order
/// drawn from `seed` (§5.1: the sender MUST randomize them, to spread the
/// load), each host once (at its lowest preference). Names lose their
/// trailing dot and their case. Records that name only `.` are a null MX
/// (RFC 7505 §3): the domain accepts no mail; a `.` beside real hosts (a
/// domain that breaks RFC 7505's rule) is passed over. The lookup is the
/// caller's: [`MxResolver`] calls this with the answers of hickory-resolver,
/// a mail server with those of its own resolver.
///
/// ```
/// use mailwire::blocking::mx::{MxError, order_mx};
/// let records = vec![(20, "B.example.".to_string()), (10, "a.example.".to_string())];
/// assert_eq!(order_mx("example.org", records, b"seed").unwrap(), ["a.example", "b.example"]);
/// assert_eq!(
///     order_mx("example.net", vec![(0, ".".to_string())], b"seed"),
///     Err(MxError::NullMx("example.net".into()))
/// );
/// ```
pub fn order_mx(
    domain: &str,
    mut records: Vec<(u16, String)>,
    seed: &[u8],
) -> Result<Vec<String>, MxError> {
    for r in &mut records {
        r.1 = r.1.trim_end_matches('.').to_ascii_lowercase();
    }
    if records.iter().all(|r| r.1.is_empty()) && !records.is_empty() {
        return Err(MxError::NullMx(domain.to_owned()));
    }
    records.retain(|r| !r.1.is_empty());
    records.sort();
    // Each host once, at its lowest preference (sorted: the first).
    let mut seen = std::collections::HashSet::new();
    records.retain(|r| seen.insert(r.1.clone()));
    // Equal preferences: a Fisher-Yates shuffle within each run.
    let mut seed = seed.iter().copied().cycle();
    let mut start = 0;
    while start < records.len() {
        let end = start + records[start..].partition_point(|r| r.0 == records[start].0);
        for i in (start + 1..end).rev() {
            let j = start + usize::from(seed.next().unwrap_or(0)) % (i - start + 1);
            records.swap(i, j);
        }
        start = end;
    }
    Ok(records.into_iter().map(|r| r.1).collect())
}

/// The address of a domain literal (RFC 5321 §4.1.3: `[192.0.2.1]`,
/// `[IPv6:2001:db8::1]`, the tag in any case), if `domain` is one.
///
/// ```
/// use mailwire::blocking::mx::domain_literal;
/// assert_eq!(domain_literal("[IPv6:::1]"), "::1".parse().ok());
/// assert_eq!(domain_literal("example.org"), None);
/// ```
pub fn domain_literal(domain: &str) -> Option<IpAddr> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    match inner.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("ipv6:") => inner[5..].parse().ok(),
        _ => inner.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(r: &[(u16, &str)]) -> Vec<(u16, String)> {
        r.iter().map(|(p, n)| (*p, (*n).to_owned())).collect()
    }

    #[test]
    fn rfc5321_5_1_lowest_preference_first() {
        let got = order_mx(
            "example.org",
            recs(&[(20, "B.example."), (10, "a.example."), (30, "c.example")]),
            &[0],
        )
        .unwrap();
        assert_eq!(got, ["a.example", "b.example", "c.example"]);
    }

    #[test]
    fn rfc5321_5_1_equal_preferences_in_random_order() {
        let r = recs(&[
            (10, "a.x"),
            (10, "b.x"),
            (10, "c.x"),
            (5, "first.x"),
            (20, "last.x"),
        ]);
        let mut seen = std::collections::HashSet::new();
        for seed in 0..=255u8 {
            let got = order_mx("x", r.clone(), &[seed, seed.wrapping_mul(7)]).unwrap();
            assert_eq!(got[0], "first.x");
            assert_eq!(got[4], "last.x");
            let mut mid = got[1..4].to_vec();
            seen.insert(mid.clone());
            mid.sort();
            assert_eq!(mid, ["a.x", "b.x", "c.x"]);
        }
        assert!(seen.len() > 1, "the order of equal preferences varies");
    }

    #[test]
    fn rfc7505_null_mx_is_refused() {
        assert_eq!(
            order_mx("x.org", recs(&[(0, ".")]), &[0]),
            Err(MxError::NullMx("x.org".into()))
        );
        // A null MX beside a host: the host.
        assert_eq!(
            order_mx("x.org", recs(&[(0, "."), (10, "mx.x.org")]), &[0]).unwrap(),
            ["mx.x.org"]
        );
        // No records at all is not a null MX (the caller's implicit MX).
        assert_eq!(
            order_mx("x.org", vec![], &[0]).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_host_once_at_its_lowest_preference() {
        let got = order_mx(
            "x",
            recs(&[(30, "a.x"), (10, "b.x"), (20, "A.x."), (10, "b.x")]),
            &[3],
        )
        .unwrap();
        assert_eq!(got, ["b.x", "a.x"]);
    }

    #[test]
    fn domain_literals() {
        assert_eq!(domain_literal("[192.0.2.1]"), "192.0.2.1".parse().ok());
        assert_eq!(
            domain_literal("[IPv6:2001:db8::1]"),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(domain_literal("[2001:db8::1]"), None);
        assert_eq!(domain_literal("example.org"), None);
    }
}

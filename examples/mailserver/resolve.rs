//! Where to deliver mail for a domain (RFC 5321 §5.1): `--route` overrides
//! first, then a domain literal, then the MX records in preference order
//! (hickory-resolver), then the implicit MX: the domain's own A/AAAA records.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};

use mailwire::blocking::mx::{MxError, domain_literal, order_mx};

use crate::config::Route;

/// One host to try, with its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) addrs: Vec<SocketAddr>,
}

/// Why no host could be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// Try again later (DNS timeout, SERVFAIL).
    Temporary(String),
    /// The domain does not exist or takes no mail (RFC 7505 null MX).
    Permanent(String),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Temporary(s) | Self::Permanent(s) => f.write_str(s),
        }
    }
}

/// The MX hosts of `domain` in the order to try them: the facade's
/// [`order_mx`] (lowest preference first, equal preferences in random
/// order as RFC 5321 §5.1 asks, each host once), a null MX (RFC 7505) a
/// permanent failure.
fn ordered_hosts(domain: &str, records: Vec<(u16, String)>) -> Result<Vec<String>, ResolveError> {
    // Where the kernel's random bytes cannot be read, equal preferences
    // come in one fixed order (the mail still goes).
    let seed = crate::accounts::random_bytes(16).unwrap_or_default();
    order_mx(domain, records, &seed).map_err(|e| match e {
        MxError::NullMx(_) => {
            ResolveError::Permanent("the domain accepts no mail (null MX, RFC 7505)".into())
        }
        other => ResolveError::Temporary(other.to_string()),
    })
}

struct Dns {
    rt: tokio::runtime::Runtime,
    resolver: TokioResolver,
}

/// Resolves delivery targets.
pub(crate) struct Resolver {
    routes: HashMap<String, Route>,
    port: u16,
    /// A name server to ask instead of the system's (`--dns`).
    nameserver: Option<SocketAddr>,
    dns: Mutex<Option<Dns>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("routes", &self.routes)
            .field("port", &self.port)
            .finish()
    }
}

impl Resolver {
    /// The resolver of the checks of incoming mail (SPF, DKIM, DMARC and
    /// its reports, DNS blocklists): the configured nameserver, no
    /// `--route` (they look up TXT and A records, not where mail goes).
    pub(crate) fn for_checks(cfg: &crate::config::Config) -> Self {
        Self::new(Default::default(), cfg.mx_port, cfg.dns)
    }

    /// `port` is the SMTP port of MX hosts (25).
    pub(crate) fn new(
        routes: HashMap<String, Route>,
        port: u16,
        nameserver: Option<SocketAddr>,
    ) -> Self {
        Self {
            routes,
            port,
            nameserver,
            dns: Mutex::new(None),
        }
    }

    fn with_dns<T>(
        &self,
        f: impl FnOnce(&Dns) -> Result<T, ResolveError>,
    ) -> Result<T, ResolveError> {
        let mut g = self.dns.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ResolveError::Temporary(format!("resolver runtime: {e}")))?;
            let mut b = match self.nameserver {
                None => hickory_resolver::Resolver::builder_tokio()
                    .map_err(|e| ResolveError::Temporary(format!("resolver config: {e}")))?,
                Some(ns) => {
                    let group = NameServerConfigGroup::from_ips_clear(&[ns.ip()], ns.port(), true);
                    hickory_resolver::Resolver::builder_with_config(
                        ResolverConfig::from_parts(None, vec![], group),
                        TokioConnectionProvider::default(),
                    )
                }
            };
            b.options_mut().timeout = Duration::from_secs(5);
            b.options_mut().attempts = 2;
            *g = Some(Dns {
                rt,
                resolver: b.build(),
            });
        }
        match g.as_ref() {
            Some(dns) => f(dns),
            None => Err(ResolveError::Temporary("no resolver".into())),
        }
    }

    /// The addresses of a host name or IP address.
    pub(crate) fn host_addrs(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, ResolveError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        self.with_dns(|dns| match dns.rt.block_on(dns.resolver.lookup_ip(host)) {
            Ok(l) => Ok(l.iter().map(|ip| SocketAddr::new(ip, port)).collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => {
                Err(ResolveError::Permanent(format!("{host}: no A/AAAA record")))
            }
            Err(e) => Err(ResolveError::Temporary(format!("{host}: {e}"))),
        })
    }

    /// The TXT records of `name` (each record's strings joined), none for
    /// a name without any (RFC 8461 §3.1 asks for `_mta-sts.DOMAIN`).
    pub(crate) fn txt(&self, name: &str) -> Result<Vec<String>, ResolveError> {
        self.txt_within(name, None)
    }

    /// [`Resolver::txt`] given up after `limit` (a temporary failure),
    /// whatever the resolver's own timeouts and retries would allow.
    pub(crate) fn txt_within(
        &self,
        name: &str,
        limit: Option<Duration>,
    ) -> Result<Vec<String>, ResolveError> {
        Ok(self
            .records_within(name, RecordType::TXT, limit)?
            .into_iter()
            .filter_map(|r| match r {
                RData::TXT(t) => Some(
                    t.txt_data()
                        .iter()
                        .map(|s| String::from_utf8_lossy(s))
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }

    /// The records of type `rtype` of `name`, given up after `limit` (a
    /// temporary failure; none: the resolver's own timeouts and retries);
    /// none for a name that does not exist or has none of the type.
    fn records_within(
        &self,
        name: &str,
        rtype: RecordType,
        limit: Option<Duration>,
    ) -> Result<Vec<RData>, ResolveError> {
        self.with_dns(|dns| {
            // The timer is made inside the runtime (it needs its clock).
            let found = dns.rt.block_on(async {
                let lookup = dns.resolver.lookup(name, rtype);
                match limit {
                    Some(d) => tokio::time::timeout(d, lookup).await.ok(),
                    None => Some(lookup.await),
                }
            });
            let Some(found) = found else {
                return Err(ResolveError::Temporary(format!(
                    "{name}: {rtype} lookup: no answer in time"
                )));
            };
            match found {
                Ok(l) => Ok(l
                    .iter()
                    .filter(|r| r.record_type() == rtype)
                    .cloned()
                    .collect()),
                Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
                Err(e) => Err(ResolveError::Temporary(format!(
                    "{name}: {rtype} lookup: {e}"
                ))),
            }
        })
    }

    /// Whether mail for `domain` goes where a `--route` or a domain
    /// literal says rather than to its MX hosts (MTA-STS is about MX
    /// hosts only).
    pub(crate) fn bypasses_mx(&self, domain: &str) -> bool {
        let domain = domain.to_ascii_lowercase();
        self.routes.contains_key(&domain) || domain_literal(&domain).is_some()
    }

    /// The hosts to try for `domain`, best first.
    pub(crate) fn resolve(&self, domain: &str) -> Result<Vec<Target>, ResolveError> {
        let domain = domain.to_ascii_lowercase();
        if let Some(r) = self.routes.get(&domain) {
            let addrs = self.host_addrs(&r.host, r.port).map_err(|e| match e {
                // A configured route that does not resolve is our problem: retry.
                ResolveError::Permanent(s) => ResolveError::Temporary(s),
                t => t,
            })?;
            return Ok(vec![Target {
                host: r.host.clone(),
                addrs,
            }]);
        }
        if let Some(ip) = domain_literal(&domain) {
            return Ok(vec![Target {
                host: domain.clone(),
                addrs: vec![SocketAddr::new(ip, self.port)],
            }]);
        }
        let mx =
            self.with_dns(
                |dns| match dns.rt.block_on(dns.resolver.mx_lookup(domain.as_str())) {
                    Ok(l) => Ok(Some(
                        l.iter()
                            .map(|mx| (mx.preference(), mx.exchange().to_ascii()))
                            .collect::<Vec<_>>(),
                    )),
                    Err(e) if e.is_nx_domain() => {
                        Err(ResolveError::Permanent(format!("{domain}: no such domain")))
                    }
                    Err(e) if e.is_no_records_found() => Ok(None),
                    Err(e) => Err(ResolveError::Temporary(format!("{domain}: MX lookup: {e}"))),
                },
            )?;
        let hosts = match mx {
            Some(records) if !records.is_empty() => ordered_hosts(&domain, records)?,
            // No MX: the domain itself is the implicit MX (RFC 5321 §5.1).
            _ => vec![domain.clone()],
        };
        let mut out = Vec::new();
        let mut last_err = None;
        for host in hosts {
            match self.host_addrs(&host, self.port) {
                Ok(addrs) if !addrs.is_empty() => out.push(Target { host, addrs }),
                Ok(_) => {}
                Err(e) => last_err = Some(e),
            }
        }
        if out.is_empty() {
            return Err(last_err.unwrap_or_else(|| {
                ResolveError::Permanent(format!("{domain}: no host to deliver to"))
            }));
        }
        Ok(out)
    }
}

/// SPF's lookups ([`crate::spf::Dns`]) through a resolver, all of one
/// check within one time budget (a check makes up to some twenty
/// lookups, each of which could otherwise take the resolver's timeouts
/// and retries).
pub(crate) struct SpfDns<'r> {
    pub(crate) resolver: &'r Resolver,
    pub(crate) deadline: Instant,
}

impl SpfDns<'_> {
    fn left(&self) -> Result<Duration, String> {
        self.deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| "the SPF check's DNS time is used up".to_string())
    }

    fn records(&self, name: &str, rtype: RecordType) -> Result<Vec<RData>, String> {
        self.resolver
            .records_within(name, rtype, Some(self.left()?))
            .map_err(|e| e.to_string())
    }

    /// The host names of the MX or PTR records of `name`.
    fn names(&self, name: &str, rtype: RecordType) -> crate::spf::Answer<String> {
        Ok(self
            .records(name, rtype)?
            .into_iter()
            .filter_map(|r| match r {
                RData::MX(mx) => Some(mx.exchange().to_ascii()),
                RData::PTR(p) => Some(p.0.to_ascii()),
                _ => None,
            })
            .collect())
    }
}

impl crate::spf::Dns for SpfDns<'_> {
    fn txt(&self, name: &str) -> crate::spf::Answer<String> {
        self.resolver
            .txt_within(name, Some(self.left()?))
            .map_err(|e| e.to_string())
    }

    fn addrs(&self, name: &str, v6: bool) -> crate::spf::Answer<IpAddr> {
        let rtype = if v6 { RecordType::AAAA } else { RecordType::A };
        Ok(self
            .records(name, rtype)?
            .into_iter()
            .filter_map(|r| match r {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect())
    }

    fn mx(&self, name: &str) -> crate::spf::Answer<String> {
        self.names(name, RecordType::MX)
    }

    fn ptr(&self, name: &str) -> crate::spf::Answer<String> {
        self.names(name, RecordType::PTR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_order() {
        let got = ordered_hosts(
            "example",
            vec![
                (20, "b.example.".into()),
                (10, "A.example.".into()),
                (30, "a.example.".into()),
            ],
        )
        .unwrap();
        assert_eq!(got, ["a.example", "b.example"]);
        assert!(matches!(
            ordered_hosts("example", vec![(0, ".".into())]),
            Err(ResolveError::Permanent(_))
        ));
    }

    #[test]
    fn routes_and_literals_need_no_dns() {
        let mut routes = HashMap::new();
        routes.insert(
            "b.test".to_string(),
            Route {
                host: "127.0.0.1".into(),
                port: 2626,
            },
        );
        let r = Resolver::new(routes, 25, None);
        assert_eq!(
            r.resolve("B.Test").unwrap(),
            vec![Target {
                host: "127.0.0.1".into(),
                addrs: vec!["127.0.0.1:2626".parse().unwrap()]
            }]
        );
        assert_eq!(
            r.resolve("[127.0.0.2]").unwrap()[0].addrs,
            vec!["127.0.0.2:25".parse::<SocketAddr>().unwrap()]
        );
        assert!(r.dns.lock().unwrap().is_none(), "no resolver was built");
    }
}

//! DNS blocklists (RFC 5782): whether the client's address is listed in
//! one of the zones of `--dnsbl`, looked up once per session before its
//! first recipient, so that mail from a listed address is refused with
//! `554 5.7.1` (Postfix's `reject_rbl_client`).
//!
//! RFC 5782 is not in `shared/rfc`; the sections cited are those of the
//! published RFC.
//!
//! - The name looked up (§2.1, §2.4): an IPv4 address's octets reversed
//!   (`2.0.0.127.zone` for 127.0.0.2), an IPv6 address's 32 nibbles
//!   reversed, then the zone; an A record there is a listing.
//! - Which answers count: the codes given with the zone
//!   (`zone=127.0.0.2,127.0.0.4`), or by default any address in
//!   127.0.0.2 to 127.0.0.255. Lists answer with other addresses to say
//!   something else (Spamhaus' 127.255.255.252-255: the query was
//!   refused, e.g. through a public resolver), which must not block
//!   anybody.
//! - A failed lookup blocks nobody (it is logged): a list that does not
//!   answer must not stop mail.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::spf::Dns;

/// The longest the lookups of one client take together; a list that has
/// not answered by then counts as not listing it.
pub(crate) const DNS_BUDGET: Duration = Duration::from_secs(5);

/// One blocklist of `--dnsbl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dnsbl {
    /// The zone, lower-cased, without a final dot.
    pub(crate) zone: String,
    /// The answers that are a listing; empty: 127.0.0.2 to 127.0.0.255.
    codes: Vec<Ipv4Addr>,
}

impl Dnsbl {
    /// `ZONE` or `ZONE=CODE,CODE...` (the answers that count).
    pub(crate) fn parse(s: &str) -> Result<Dnsbl, String> {
        let (zone, codes) = match s.split_once('=') {
            Some((z, c)) => (z, Some(c)),
            None => (s, None),
        };
        let zone = zone.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if zone.len() > 200 || !zone.contains('.') || !zone.split('.').all(valid_label) {
            return Err(format!("{zone:?}: not a DNS zone name"));
        }
        let codes = match codes {
            None => Vec::new(),
            Some(c) => c
                .split(',')
                .map(|a| {
                    a.trim()
                        .parse::<Ipv4Addr>()
                        .map_err(|_| format!("{a:?}: not an IPv4 address"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Dnsbl { zone, codes })
    }

    /// Whether the answer `a` is a listing.
    fn counts(&self, a: Ipv4Addr) -> bool {
        if self.codes.is_empty() {
            let [x, y, z, w] = a.octets();
            (x, y, z) == (127, 0, 0) && w >= 2
        } else {
            self.codes.contains(&a)
        }
    }
}

/// The name to look up for `ip` in `zone` (§2.1, §2.4).
pub(crate) fn query_name(ip: IpAddr, zone: &str) -> String {
    format!("{}.{zone}", crate::spf::reversed(ip))
}

/// What the lookups of a client's address found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Found {
    /// The first list that has the address, with its answer.
    pub(crate) listed: Option<(String, Ipv4Addr)>,
    /// The lookups that failed, for the log.
    pub(crate) failed: Vec<String>,
}

/// Looks `ip` up in `lists`, in order, until one lists it.
pub(crate) fn check(dns: &dyn Dns, ip: IpAddr, lists: &[Dnsbl]) -> Found {
    let ip = crate::spf::unmapped(ip);
    let mut found = Found::default();
    for list in lists {
        match dns.addrs(&query_name(ip, &list.zone), false) {
            Ok(answers) => {
                let hit = answers.into_iter().find_map(|a| match a {
                    IpAddr::V4(a) if list.counts(a) => Some(a),
                    _ => None,
                });
                if let Some(a) = hit {
                    found.listed = Some((list.zone.clone(), a));
                    return found;
                }
            }
            Err(e) => found.failed.push(format!("{}: {e}", list.zone)),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spf::Answer;
    use std::collections::HashMap;

    struct Zone(HashMap<String, Vec<IpAddr>>);

    impl Dns for Zone {
        fn txt(&self, _: &str) -> Answer<String> {
            Ok(Vec::new())
        }
        fn addrs(&self, name: &str, v6: bool) -> Answer<IpAddr> {
            assert!(!v6, "lists are asked for A records");
            if name.ends_with("down.example") {
                return Err("timeout".into());
            }
            Ok(self.0.get(name).cloned().unwrap_or_default())
        }
        fn mx(&self, _: &str) -> Answer<String> {
            Ok(Vec::new())
        }
        fn ptr(&self, _: &str) -> Answer<String> {
            Ok(Vec::new())
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// §2.1 and §2.4's examples: the reversed octets and nibbles.
    #[test]
    fn rfc5782_2_query_names() {
        assert_eq!(
            query_name(ip("192.0.2.99"), "bad.example.com"),
            "99.2.0.192.bad.example.com"
        );
        assert_eq!(
            query_name(ip("2001:db8:1:2:3:4:567:89ab"), "ugly.example.com"),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com"
        );
    }

    #[test]
    fn lists_parse() {
        let l = Dnsbl::parse("Zen.Spamhaus.org.").unwrap();
        assert_eq!(l.zone, "zen.spamhaus.org");
        assert!(l.counts(Ipv4Addr::new(127, 0, 0, 2)));
        assert!(l.counts(Ipv4Addr::new(127, 0, 0, 11)));
        assert!(!l.counts(Ipv4Addr::new(127, 0, 0, 1)));
        assert!(!l.counts(Ipv4Addr::new(127, 255, 255, 254)));
        assert!(!l.counts(Ipv4Addr::new(10, 0, 0, 2)));
        let l = Dnsbl::parse("bl.example=127.0.0.4, 127.0.0.10").unwrap();
        assert!(l.counts(Ipv4Addr::new(127, 0, 0, 4)));
        assert!(!l.counts(Ipv4Addr::new(127, 0, 0, 2)));
        for bad in [
            "",
            "example",
            "bad zone.example",
            "a..example",
            "bl.example=x",
        ] {
            assert!(Dnsbl::parse(bad).is_err(), "{bad}");
        }
    }

    /// §5's test points: 127.0.0.2 is listed, 127.0.0.1 is not; an
    /// answer that is no listing, a list that fails and the order of the
    /// lists.
    #[test]
    fn rfc5782_5_test_points_and_answers() {
        let mut z = HashMap::new();
        z.insert("2.0.0.127.bl.example".to_string(), vec![ip("127.0.0.2")]);
        z.insert(
            "2.0.0.127.refused.example".to_string(),
            vec![ip("127.255.255.254")],
        );
        z.insert(
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example"
                .to_string(),
            vec![ip("127.0.0.3")],
        );
        let dns = Zone(z);
        let lists = |names: &[&str]| -> Vec<Dnsbl> {
            names.iter().map(|n| Dnsbl::parse(n).unwrap()).collect()
        };
        let f = check(&dns, ip("127.0.0.2"), &lists(&["bl.example"]));
        assert_eq!(
            f.listed,
            Some(("bl.example".into(), Ipv4Addr::new(127, 0, 0, 2)))
        );
        assert_eq!(
            check(&dns, ip("127.0.0.1"), &lists(&["bl.example"])).listed,
            None
        );
        // An IPv4-mapped client is looked up as IPv4; ::1 by its nibbles.
        assert!(
            check(&dns, ip("::ffff:127.0.0.2"), &lists(&["bl.example"]))
                .listed
                .is_some()
        );
        assert!(
            check(&dns, ip("::1"), &lists(&["bl.example"]))
                .listed
                .is_some()
        );
        let f = check(
            &dns,
            ip("127.0.0.2"),
            &lists(&["down.example", "refused.example", "bl.example"]),
        );
        assert_eq!(f.listed.map(|l| l.0).as_deref(), Some("bl.example"));
        assert_eq!(f.failed, ["down.example: timeout"]);
        let f = check(&dns, ip("127.0.0.2"), &lists(&["down.example"]));
        assert_eq!((f.listed, f.failed.len()), (None, 1));
    }
}

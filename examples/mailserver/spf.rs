//! SPF (RFC 7208): whether the client's address may send mail for the
//! domain of the MAIL FROM address, told in the `Authentication-Results`
//! field (RFC 8601 §2.7.2: `spf=RESULT smtp.mailfrom=ADDRESS`, or
//! `smtp.helo=NAME` for the null sender, whose identity is
//! `postmaster@` the HELO name, §2.4).
//!
//! RFC 7208 is not in `shared/rfc`; the sections cited are those of the
//! published RFC.
//!
//! - [`check_host`] is §4's function: the domain's one `v=spf1` TXT
//!   record (§4.4, §4.5), its terms parsed whole first (a syntax error
//!   anywhere is `permerror`, §4.6), then the mechanisms left to right
//!   (§5: `all`, `include`, `a`, `mx`, `ptr`, `ip4`, `ip6`, `exists`, with
//!   the qualifiers `+ - ~ ?`), `redirect=` when none matched (§6.1;
//!   `exp=` is parsed, not fetched: nothing is refused here), the macros
//!   of domain-specs (§7).
//! - The limits of §4.6.4: at most 10 terms that query DNS, 2 lookups that
//!   find nothing ("void"), 10 MX names per `mx`; the first 10 PTR names.
//! - DNS goes through [`Dns`], so the logic is tested against records in
//!   memory; the mail server gives it its resolver, under a time budget.
//! - A result never refuses a message here: like the DKIM result it tells
//!   the reader (the webmail, a filter).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// The longest the lookups of one check take together (a check may make
/// some twenty; each could otherwise last the resolver's timeouts and
/// retries), after which a lookup is a temporary failure.
pub(crate) const DNS_BUDGET: Duration = Duration::from_secs(10);

/// The result of `check_host()` (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpfResult {
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError,
    PermError,
}

impl SpfResult {
    /// The result's name (RFC 7208 §8, RFC 8601 §2.7.2).
    pub(crate) fn word(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

/// A lookup's records: none when the name does not exist or has no
/// record of the type (a "void lookup", §4.6.4); `Err` for a failure
/// that may pass (a timeout, SERVFAIL).
pub(crate) type Answer<T> = Result<Vec<T>, String>;

/// The DNS lookups SPF makes.
pub(crate) trait Dns {
    /// The TXT records of `name`, each record's strings joined (§3.3).
    fn txt(&self, name: &str) -> Answer<String>;
    /// The A (`v6` false) or AAAA records of `name`.
    fn addrs(&self, name: &str, v6: bool) -> Answer<IpAddr>;
    /// The exchange names of the MX records of `name`.
    fn mx(&self, name: &str) -> Answer<String>;
    /// The PTR names of `name` (an `in-addr.arpa` or `ip6.arpa` name).
    fn ptr(&self, name: &str) -> Answer<String>;
}

/// The most terms that query DNS (§4.6.4).
const MAX_LOOKUPS: u32 = 10;
/// The most lookups that find nothing (§4.6.4).
const MAX_VOID: u32 = 2;
/// The most MX names of one `mx`, and PTR names of one `ptr` (§4.6.4).
const MAX_NAMES: usize = 10;

/// The identity checked (§2.4): the MAIL FROM address, or `postmaster@`
/// the HELO name for the null reverse-path; `None` when there is no
/// domain to check.
pub(crate) fn identity(mail_from: &str, helo: &str) -> Option<(String, String)> {
    let (local, domain) = match mail_from.rsplit_once('@') {
        Some((l, d)) if !d.is_empty() => (l, d),
        Some(_) => return None,
        None if mail_from.is_empty() && !helo.is_empty() => ("postmaster", helo),
        None => return None,
    };
    let local = if local.is_empty() {
        "postmaster"
    } else {
        local
    };
    Some((
        local.to_string(),
        domain.trim_end_matches('.').to_ascii_lowercase(),
    ))
}

/// `check_host(ip, domain, sender)` (§4) for the identity `local@domain`
/// of a client at `ip` that said `helo`.
pub(crate) fn check_host(
    dns: &dyn Dns,
    ip: IpAddr,
    local: &str,
    domain: &str,
    helo: &str,
) -> SpfResult {
    let ip = unmapped(ip);
    let mut c = Check {
        dns,
        ip,
        local,
        sender_domain: domain,
        helo,
        lookups: 0,
        voids: 0,
    };
    c.check(domain)
}

/// One evaluation: the identity and the limits' counters.
struct Check<'a> {
    dns: &'a dyn Dns,
    ip: IpAddr,
    local: &'a str,
    sender_domain: &'a str,
    helo: &'a str,
    lookups: u32,
    voids: u32,
}

/// A mechanism's qualifier (§4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

/// A mechanism (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mechanism {
    All,
    Include(String),
    A(Option<String>, u8, u8),
    Mx(Option<String>, u8, u8),
    Ptr(Option<String>),
    Ip4(Ipv4Addr, u8),
    Ip6(Ipv6Addr, u8),
    Exists(String),
}

/// A parsed record: its directives and its `redirect=` (§6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    directives: Vec<(Qualifier, Mechanism)>,
    redirect: Option<String>,
}

/// Whether a TXT record is an SPF record: `v=spf1` alone or followed by
/// a space (§4.5).
fn is_spf1(txt: &str) -> bool {
    let b = txt.as_bytes();
    b.len() >= 6 && b[..6].eq_ignore_ascii_case(b"v=spf1") && (b.len() == 6 || b[6] == b' ')
}

/// Parses a record (§4.6.1, §12); `None` for any syntax error.
fn parse(txt: &str) -> Option<Record> {
    let mut rec = Record {
        directives: Vec::new(),
        redirect: None,
    };
    let mut exp = false;
    for term in txt[6..].split(' ').filter(|t| !t.is_empty()) {
        // A modifier: name "=" macro-string (§4.6.1); a mechanism has no
        // "=" before its ":" or "/".
        let name_end = term.find(['=', ':', '/']).unwrap_or(term.len());
        if term[name_end..].starts_with('=') {
            let (name, value) = (&term[..name_end], &term[name_end + 1..]);
            if !is_modifier_name(name) || !valid_macro_string(value) {
                return None;
            }
            if name.eq_ignore_ascii_case("redirect") {
                if rec.redirect.is_some() || value.is_empty() {
                    return None;
                }
                rec.redirect = Some(value.to_string());
            } else if name.eq_ignore_ascii_case("exp") {
                if exp || value.is_empty() {
                    return None;
                }
                exp = true;
            }
            continue;
        }
        let (q, mech) = match term.as_bytes()[0] {
            b'+' => (Qualifier::Pass, &term[1..]),
            b'-' => (Qualifier::Fail, &term[1..]),
            b'~' => (Qualifier::SoftFail, &term[1..]),
            b'?' => (Qualifier::Neutral, &term[1..]),
            _ => (Qualifier::Pass, term),
        };
        rec.directives.push((q, mechanism(mech)?));
    }
    // "redirect" is ignored with an "all" anywhere (§6.1).
    if rec.directives.iter().any(|(_, m)| *m == Mechanism::All) {
        rec.redirect = None;
    }
    Some(rec)
}

/// `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )` (§12).
fn is_modifier_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// One mechanism with its arguments (§5, §12).
fn mechanism(text: &str) -> Option<Mechanism> {
    let name_end = text.find([':', '/']).unwrap_or(text.len());
    let (name, rest) = (text[..name_end].to_ascii_lowercase(), &text[name_end..]);
    let spec = |rest: &str| -> Option<String> {
        let s = rest.strip_prefix(':')?;
        valid_domain_spec(s).then(|| s.to_string())
    };
    Some(match name.as_str() {
        "all" if rest.is_empty() => Mechanism::All,
        "include" => Mechanism::Include(spec(rest)?),
        "exists" => Mechanism::Exists(spec(rest)?),
        "ptr" if rest.is_empty() => Mechanism::Ptr(None),
        "ptr" => Mechanism::Ptr(Some(spec(rest)?)),
        "a" | "mx" => {
            let cidr_at = if let Some(r) = rest.strip_prefix(':') {
                1 + outside_macros(r, b'/').unwrap_or(r.len())
            } else {
                0
            };
            let domain = if cidr_at > 0 {
                Some(spec(&rest[..cidr_at])?)
            } else {
                None
            };
            let (v4, v6) = dual_cidr(&rest[cidr_at..])?;
            if name == "a" {
                Mechanism::A(domain, v4, v6)
            } else {
                Mechanism::Mx(domain, v4, v6)
            }
        }
        "ip4" => {
            let net = rest.strip_prefix(':')?;
            let (addr, len) = match net.split_once('/') {
                Some((a, l)) => (a, cidr_len(l, 32)?),
                None => (net, 32),
            };
            Mechanism::Ip4(addr.parse().ok()?, len)
        }
        "ip6" => {
            let net = rest.strip_prefix(':')?;
            let (addr, len) = match net.split_once('/') {
                Some((a, l)) => (a, cidr_len(l, 128)?),
                None => (net, 128),
            };
            Mechanism::Ip6(addr.parse().ok()?, len)
        }
        _ => return None,
    })
}

/// Where `byte` first is in `s` outside the macros' braces (a `/` may be
/// a macro's delimiter).
fn outside_macros(s: &str, byte: u8) -> Option<usize> {
    let mut depth = false;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        match b {
            b'{' if i > 0 && s.as_bytes()[i - 1] == b'%' => depth = true,
            b'}' => depth = false,
            _ if b == byte && !depth => return Some(i),
            _ => {}
        }
    }
    None
}

/// A CIDR length up to `max`, without leading zeros (§12).
fn cidr_len(text: &str, max: u8) -> Option<u8> {
    if text.is_empty() || text.len() > 3 || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse::<u8>().ok().filter(|&n| n <= max)
}

/// `dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]`.
fn dual_cidr(text: &str) -> Option<(u8, u8)> {
    if text.is_empty() {
        return Some((32, 128));
    }
    if let Some(v6) = text.strip_prefix("//") {
        return Some((32, cidr_len(v6, 128)?));
    }
    let rest = text.strip_prefix('/')?;
    match rest.split_once("//") {
        Some((v4, v6)) => Some((cidr_len(v4, 32)?, cidr_len(v6, 128)?)),
        None => Some((cidr_len(rest, 32)?, 128)),
    }
}

/// The macro letters of domain-specs (§7.2; `c`, `r` and `t` only in
/// `exp` text).
const DOMAIN_LETTERS: &[u8] = b"slodiphv";

/// `macro-string` (§7.1): literals `%x21-24 / %x26-7E` and macros.
fn valid_macro_string(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            match b.get(i + 1) {
                Some(b'%' | b'_' | b'-') => i += 2,
                Some(b'{') => {
                    let Some(end) = s[i..].find('}') else {
                        return false;
                    };
                    let body = &b[i + 2..i + end];
                    let ok = body.first().is_some_and(|c| {
                        DOMAIN_LETTERS.contains(&c.to_ascii_lowercase())
                            || b"crt".contains(&c.to_ascii_lowercase())
                    }) && transformers(&body[1..]).is_some();
                    if !ok {
                        return false;
                    }
                    i += end + 1;
                }
                _ => return false,
            }
        } else if matches!(b[i], 0x21..=0x24 | 0x26..=0x7e) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// `transformers *delimiter` (§7.1): the digits (none: all parts; 0 is
/// no valid count), whether reversed, the delimiters (none: ".").
fn transformers(t: &[u8]) -> Option<(Option<usize>, bool, &[u8])> {
    let digits = t.iter().take_while(|c| c.is_ascii_digit()).count();
    let count = if digits == 0 {
        None
    } else {
        let n: usize = std::str::from_utf8(&t[..digits]).ok()?.parse().ok()?;
        if n == 0 {
            return None;
        }
        Some(n)
    };
    let mut rest = &t[digits..];
    let reverse = matches!(rest.first(), Some(b'r' | b'R'));
    if reverse {
        rest = &rest[1..];
    }
    rest.iter()
        .all(|c| b".-+,/_=".contains(c))
        .then_some((count, reverse, rest))
}

/// A domain-spec (§7.1, §12): a macro-string with only the macro letters
/// of domain names, ending in a top label or a macro.
fn valid_domain_spec(s: &str) -> bool {
    if s.is_empty() || !valid_macro_string(s) {
        return false;
    }
    // No c, r or t here.
    let mut rest = s;
    while let Some(at) = rest.find("%{") {
        let letter = rest.as_bytes().get(at + 2).map(u8::to_ascii_lowercase);
        if !letter.is_some_and(|l| DOMAIN_LETTERS.contains(&l)) {
            return false;
        }
        rest = &rest[at + 2..];
    }
    if s.ends_with('}') {
        return true;
    }
    // domain-end = "." toplabel [ "." ]: a label with a letter, or
    // alphanumerics around a hyphen.
    let t = s.trim_end_matches('.');
    let Some((_, top)) = t.rsplit_once('.') else {
        return false;
    };
    !top.is_empty()
        && top.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !top.starts_with('-')
        && !top.ends_with('-')
        && (top.bytes().any(|c| c.is_ascii_alphabetic()) || top.contains('-'))
}

/// Whether `d` can be looked up: labels of 1 to 63 octets, more than one
/// label, 253 octets at most (§4.3).
fn valid_domain(d: &str) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    d.len() <= 253 && d.contains('.') && d.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// The `%{i}` form of `ip` (§7.3): dotted octets, or dotted nibbles for
/// IPv6.
fn ip_dotted(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6
            .octets()
            .iter()
            .flat_map(|o| [o >> 4, o & 0xf])
            .map(|n| format!("{n:x}"))
            .collect::<Vec<_>>()
            .join("."),
    }
}

/// `ip`'s octets (IPv4) or nibbles (IPv6) in reverse order, dotted: the
/// form names under `in-addr.arpa` and `ip6.arpa` and DNS blocklists
/// (RFC 5782 §2) use.
pub(crate) fn reversed(ip: IpAddr) -> String {
    let d = ip_dotted(ip);
    d.split('.').rev().collect::<Vec<&str>>().join(".")
}

/// The name of `ip` under `in-addr.arpa` or `ip6.arpa`: the PTR lookup
/// of `ptr` (§5.5).
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{}.in-addr.arpa", reversed(ip)),
        IpAddr::V6(_) => format!("{}.ip6.arpa", reversed(ip)),
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is (checked as
/// IPv4, §5).
pub(crate) fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is in the network `net`/`len` of its own family.
pub(crate) fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl Check<'_> {
    /// `check_host()` for `domain` (§4).
    fn check(&mut self, domain: &str) -> SpfResult {
        if !valid_domain(domain) {
            return SpfResult::None;
        }
        let records = match self.dns.txt(domain) {
            Ok(r) => r,
            Err(_) => return SpfResult::TempError,
        };
        let spf: Vec<&String> = records.iter().filter(|r| is_spf1(r)).collect();
        let txt = match spf.as_slice() {
            [one] => *one,
            [] => return SpfResult::None,
            _ => return SpfResult::PermError,
        };
        let Some(rec) = parse(txt) else {
            return SpfResult::PermError;
        };
        for (q, m) in &rec.directives {
            match self.matches(m, domain) {
                Ok(true) => {
                    return match q {
                        Qualifier::Pass => SpfResult::Pass,
                        Qualifier::Fail => SpfResult::Fail,
                        Qualifier::SoftFail => SpfResult::SoftFail,
                        Qualifier::Neutral => SpfResult::Neutral,
                    };
                }
                Ok(false) => {}
                Err(r) => return r,
            }
        }
        let Some(target) = &rec.redirect else {
            return SpfResult::Neutral;
        };
        if let Err(r) = self.count() {
            return r;
        }
        let Some(target) = self.expand(target, domain) else {
            return SpfResult::PermError;
        };
        match self.check(&target) {
            // No record where it points: permerror (§6.1).
            SpfResult::None => SpfResult::PermError,
            r => r,
        }
    }

    /// One more term that queries DNS (§4.6.4).
    fn count(&mut self) -> Result<(), SpfResult> {
        self.lookups += 1;
        if self.lookups > MAX_LOOKUPS {
            Err(SpfResult::PermError)
        } else {
            Ok(())
        }
    }

    /// The records of a lookup, counting it when void; a DNS failure is
    /// `temperror` (§5).
    fn answer<T>(&mut self, a: Answer<T>) -> Result<Vec<T>, SpfResult> {
        let v = a.map_err(|_| SpfResult::TempError)?;
        if v.is_empty() {
            self.voids += 1;
            if self.voids > MAX_VOID {
                return Err(SpfResult::PermError);
            }
        }
        Ok(v)
    }

    /// The target of a mechanism: its domain-spec expanded, or the current
    /// domain.
    fn target(&self, spec: Option<&String>, domain: &str) -> Result<String, SpfResult> {
        match spec {
            Some(s) => self.expand(s, domain).ok_or(SpfResult::PermError),
            None => Ok(domain.to_string()),
        }
    }

    /// Whether the client's address is among `name`'s addresses of its
    /// family, in their `v4`/`v6` networks.
    fn addr_match(&mut self, name: &str, v4: u8, v6: u8) -> Result<bool, SpfResult> {
        let is_v6 = self.ip.is_ipv6();
        let addrs = self.answer(self.dns.addrs(name, is_v6))?;
        let len = if is_v6 { v6 } else { v4 };
        Ok(addrs.iter().any(|&a| in_net(self.ip, a, len)))
    }

    /// Whether mechanism `m` matches, evaluated for `domain` (§5).
    fn matches(&mut self, m: &Mechanism, domain: &str) -> Result<bool, SpfResult> {
        match m {
            Mechanism::All => Ok(true),
            Mechanism::Ip4(net, len) => Ok(in_net(self.ip, IpAddr::V4(*net), *len)),
            Mechanism::Ip6(net, len) => Ok(in_net(self.ip, IpAddr::V6(*net), *len)),
            Mechanism::Include(spec) => {
                self.count()?;
                let target = self.target(Some(spec), domain)?;
                match self.check(&target) {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError => Err(SpfResult::TempError),
                    SpfResult::PermError | SpfResult::None => Err(SpfResult::PermError),
                }
            }
            Mechanism::A(spec, v4, v6) => {
                self.count()?;
                let target = self.target(spec.as_ref(), domain)?;
                self.addr_match(&target, *v4, *v6)
            }
            Mechanism::Mx(spec, v4, v6) => {
                self.count()?;
                let target = self.target(spec.as_ref(), domain)?;
                let names = self.answer(self.dns.mx(&target))?;
                if names.len() > MAX_NAMES {
                    return Err(SpfResult::PermError);
                }
                for n in names {
                    if self.addr_match(&n, *v4, *v6)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Mechanism::Ptr(spec) => {
                self.count()?;
                let target = self.target(spec.as_ref(), domain)?.to_ascii_lowercase();
                Ok(self.validated_names().iter().any(|n| {
                    let n = n.trim_end_matches('.').to_ascii_lowercase();
                    n == target || n.ends_with(&format!(".{target}"))
                }))
            }
            Mechanism::Exists(spec) => {
                self.count()?;
                let target = self.target(Some(spec), domain)?;
                // Always an A lookup, whatever the client's family (§5.7).
                Ok(!self.answer(self.dns.addrs(&target, false))?.is_empty())
            }
        }
    }

    /// The client's validated names (§5.5): its PTR names (the first
    /// ten) whose addresses include it. A DNS failure here is no name.
    fn validated_names(&mut self) -> Vec<String> {
        let Ok(names) = self.dns.ptr(&reverse_name(self.ip)) else {
            return Vec::new();
        };
        names
            .into_iter()
            .take(MAX_NAMES)
            .filter(|n| {
                self.dns
                    .addrs(n, self.ip.is_ipv6())
                    .is_ok_and(|a| a.contains(&self.ip))
            })
            .collect()
    }

    /// A domain-spec with its macros expanded (§7.3), truncated on the
    /// left to 253 octets (§7.3); `None` for a macro that cannot be.
    fn expand(&self, spec: &str, domain: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = spec;
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            match after.as_bytes().first() {
                Some(b'%') => out.push('%'),
                Some(b'_') => out.push(' '),
                Some(b'-') => out.push_str("%20"),
                Some(b'{') => {
                    let end = after.find('}')?;
                    let body = &after.as_bytes()[1..end];
                    let letter = *body.first()?;
                    let value = match letter.to_ascii_lowercase() {
                        b's' => format!("{}@{}", self.local, self.sender_domain),
                        b'l' => self.local.to_string(),
                        b'o' => self.sender_domain.to_string(),
                        b'd' => domain.to_string(),
                        b'i' => ip_dotted(self.ip),
                        // No validated name is looked up for macros (§7.3
                        // discourages %{p}): "unknown".
                        b'p' => "unknown".to_string(),
                        b'v' => if self.ip.is_ipv4() { "in-addr" } else { "ip6" }.to_string(),
                        b'h' => self.helo.to_string(),
                        _ => return None,
                    };
                    let (count, reverse, delims) = transformers(&body[1..])?;
                    let delims: &[u8] = if delims.is_empty() { b"." } else { delims };
                    let mut parts: Vec<&str> = value
                        .split(|c: char| c.is_ascii() && delims.contains(&(c as u8)))
                        .collect();
                    if reverse {
                        parts.reverse();
                    }
                    if let Some(n) = count {
                        let skip = parts.len().saturating_sub(n);
                        parts.drain(..skip);
                    }
                    let joined = parts.join(".");
                    if letter.is_ascii_uppercase() {
                        out.push_str(&url_escape(&joined));
                    } else {
                        out.push_str(&joined);
                    }
                    rest = &after[end + 1..];
                    continue;
                }
                _ => return None,
            }
            rest = &after[1..];
        }
        out.push_str(rest);
        // Left labels dropped until it fits (§7.3).
        let mut d = out.as_str();
        while d.len() > 253 {
            d = d.split_once('.')?.1;
        }
        Some(d.to_string())
    }
}

/// URL-escapes all but the unreserved characters (§7.3, RFC 3986).
fn url_escape(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Records in memory; a name listed in `fail` gives a DNS failure.
    #[derive(Default)]
    struct Zone {
        txt: HashMap<String, Vec<String>>,
        a: HashMap<String, Vec<IpAddr>>,
        mx: HashMap<String, Vec<String>>,
        ptr: HashMap<String, Vec<String>>,
        fail: Vec<String>,
    }

    impl Zone {
        fn get<T: Clone>(&self, map: &HashMap<String, Vec<T>>, name: &str) -> Answer<T> {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if self.fail.contains(&name) {
                return Err(format!("{name}: SERVFAIL"));
            }
            Ok(map.get(&name).cloned().unwrap_or_default())
        }
        fn txt(mut self, name: &str, rec: &str) -> Zone {
            self.txt.entry(name.into()).or_default().push(rec.into());
            self
        }
        fn a(mut self, name: &str, ip: &str) -> Zone {
            self.a
                .entry(name.into())
                .or_default()
                .push(ip.parse().unwrap());
            self
        }
        fn mx(mut self, name: &str, host: &str) -> Zone {
            self.mx.entry(name.into()).or_default().push(host.into());
            self
        }
    }

    impl Dns for Zone {
        fn txt(&self, name: &str) -> Answer<String> {
            self.get(&self.txt, name)
        }
        fn addrs(&self, name: &str, v6: bool) -> Answer<IpAddr> {
            self.get(&self.a, name)
                .map(|v| v.into_iter().filter(|a| a.is_ipv6() == v6).collect())
        }
        fn mx(&self, name: &str) -> Answer<String> {
            self.get(&self.mx, name)
        }
        fn ptr(&self, name: &str) -> Answer<String> {
            self.get(&self.ptr, name)
        }
    }

    fn check(z: &Zone, ip: &str, domain: &str) -> SpfResult {
        check_host(
            z,
            ip.parse().unwrap(),
            "strong-bad",
            domain,
            "mx.example.org",
        )
    }

    /// RFC 7208 Appendix A's zone (A.1), with the client addresses of
    /// its examples (A.2 to A.4).
    fn appendix_a() -> Zone {
        Zone::default()
            .a("example.com", "192.0.2.10")
            .a("example.com", "192.0.2.11")
            .a("amy.example.com", "192.0.2.65")
            .a("bob.example.com", "192.0.2.66")
            .a("mail-a.example.com", "192.0.2.129")
            .a("mail-b.example.com", "192.0.2.130")
            .a("mail-c.example.org", "192.0.2.140")
            .a("example.com", "2001:db8::1")
            .mx("example.com", "mail-a.example.com")
            .mx("example.com", "mail-b.example.com")
            .mx("example.org", "mail-c.example.org")
    }

    #[test]
    fn rfc7208_appendix_a_2_simple_examples() {
        let with = |rec: &str| appendix_a().txt("example.com", rec);
        for (rec, ip, want) in [
            ("v=spf1 +all", "192.0.2.200", SpfResult::Pass),
            ("v=spf1 a -all", "192.0.2.10", SpfResult::Pass),
            ("v=spf1 a -all", "192.0.2.65", SpfResult::Fail),
            ("v=spf1 a:example.org -all", "192.0.2.10", SpfResult::Fail),
            ("v=spf1 mx -all", "192.0.2.129", SpfResult::Pass),
            ("v=spf1 mx -all", "192.0.2.10", SpfResult::Fail),
            ("v=spf1 mx:example.org -all", "192.0.2.140", SpfResult::Pass),
            (
                "v=spf1 mx mx:example.org -all",
                "192.0.2.140",
                SpfResult::Pass,
            ),
            (
                "v=spf1 mx/30 mx:example.org/30 -all",
                "192.0.2.131",
                SpfResult::Pass,
            ),
            (
                "v=spf1 mx/30 mx:example.org/30 -all",
                "192.0.2.143",
                SpfResult::Pass,
            ),
            (
                "v=spf1 ip4:192.0.2.128/28 -all",
                "192.0.2.140",
                SpfResult::Pass,
            ),
            (
                "v=spf1 ip4:192.0.2.128/28 -all",
                "192.0.2.150",
                SpfResult::Fail,
            ),
            ("v=spf1 a/24 -all", "192.0.2.99", SpfResult::Pass),
            ("v=spf1 a//64 -all", "2001:db8::ffff", SpfResult::Pass),
            ("v=spf1 a//64 -all", "2001:db9::1", SpfResult::Fail),
            ("v=spf1 ~all", "192.0.2.1", SpfResult::SoftFail),
            ("v=spf1 ?all", "192.0.2.1", SpfResult::Neutral),
            ("v=spf1", "192.0.2.1", SpfResult::Neutral),
            (
                "v=spf1 ip6:2001:db8::/32 -all",
                "2001:db8::2",
                SpfResult::Pass,
            ),
            (
                "v=spf1 a:%{d2/}.example.com/24 -all",
                "192.0.2.99",
                SpfResult::Fail,
            ),
            // An IPv4-mapped IPv6 client is checked as IPv4 (§5).
            (
                "v=spf1 ip4:192.0.2.10 -all",
                "::ffff:192.0.2.10",
                SpfResult::Pass,
            ),
        ] {
            assert_eq!(
                check(&with(rec), ip, "example.com"),
                want,
                "{rec} from {ip}"
            );
        }
    }

    /// §7.4's examples: strong-bad@email.example.com from 192.0.2.3
    /// (and 2001:db8::cb01).
    #[test]
    fn rfc7208_7_4_macro_expansion_examples() {
        let z = Zone::default();
        let c = Check {
            dns: &z,
            ip: "192.0.2.3".parse().unwrap(),
            local: "strong-bad",
            sender_domain: "email.example.com",
            helo: "mx.example.org",
            lookups: 0,
            voids: 0,
        };
        let d = "email.example.com";
        let x = |s: &str| c.expand(s, d).unwrap();
        assert_eq!(x("%{s}"), "strong-bad@email.example.com");
        assert_eq!(x("%{o}"), "email.example.com");
        assert_eq!(x("%{d}"), "email.example.com");
        assert_eq!(x("%{d4}"), "email.example.com");
        assert_eq!(x("%{d3}"), "email.example.com");
        assert_eq!(x("%{d2}"), "example.com");
        assert_eq!(x("%{d1}"), "com");
        assert_eq!(x("%{dr}"), "com.example.email");
        assert_eq!(x("%{d2r}"), "example.email");
        assert_eq!(x("%{l}"), "strong-bad");
        assert_eq!(x("%{l-}"), "strong.bad");
        assert_eq!(x("%{lr}"), "strong-bad");
        assert_eq!(x("%{lr-}"), "bad.strong");
        assert_eq!(x("%{l1r-}"), "strong");
        assert_eq!(
            x("%{ir}.%{v}._spf.%{d2}"),
            "3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(x("%{lr-}.lp._spf.%{d2}"), "bad.strong.lp._spf.example.com");
        assert_eq!(
            x("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}"),
            "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            x("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}"),
            "3.2.0.192.in-addr.strong.lp._spf.example.com"
        );
        assert_eq!(
            x("%{d2}.trusted-domains.example.net"),
            "example.com.trusted-domains.example.net"
        );
        assert_eq!(x("%%%_%-"), "% %20");
        assert_eq!(x("%{S}"), "strong-bad%40email.example.com");
        let c6 = Check {
            ip: "2001:db8::cb01".parse().unwrap(),
            ..c
        };
        assert_eq!(
            c6.expand("%{ir}.%{v}._spf.%{d2}", d).unwrap(),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn records_are_selected_and_parsed_whole() {
        let ip = "192.0.2.10";
        let z = |recs: &[&str]| {
            recs.iter()
                .fold(appendix_a(), |z, r| z.txt("example.com", r))
        };
        assert_eq!(check(&z(&[]), ip, "example.com"), SpfResult::None);
        assert_eq!(
            check(&z(&["v=spf10 +all", "other"]), ip, "example.com"),
            SpfResult::None
        );
        assert_eq!(
            check(&z(&["v=spf1 +all", "v=spf1 -all"]), ip, "example.com"),
            SpfResult::PermError
        );
        assert_eq!(
            check(&z(&["V=SPF1 +ALL"]), ip, "example.com"),
            SpfResult::Pass
        );
        // A syntax error after the matching term still ends it (§4.6).
        for bad in [
            "v=spf1 +all moo",
            "v=spf1 +all ip4:192.0.2.300",
            "v=spf1 +all ip4:192.0.2.0/33",
            "v=spf1 +all a/024",
            "v=spf1 +all redirect=a.example redirect=b.example",
            "v=spf1 +all include:%{c}.example.com",
            "v=spf1 +all exists:%{d0}.example.com",
            "v=spf1 +all include:example",
            "v=spf1 +all 1x=y",
        ] {
            assert_eq!(
                check(&z(&[bad]), ip, "example.com"),
                SpfResult::PermError,
                "{bad}"
            );
        }
        // Unknown modifiers are ignored; exp is parsed, not fetched.
        assert_eq!(
            check(
                &z(&["v=spf1 +all x-foo=%{d} exp=explain._spf.%{d}"]),
                ip,
                "example.com"
            ),
            SpfResult::Pass
        );
        assert_eq!(check(&z(&["v=spf1 -all"]), ip, "nodot"), SpfResult::None);
    }

    #[test]
    fn include_redirect_and_errors() {
        let z = appendix_a()
            .txt("example.com", "v=spf1 include:_spf.example.net -all")
            .txt("_spf.example.net", "v=spf1 ip4:192.0.2.0/24 ~all")
            .txt("redir.example", "v=spf1 redirect=example.com")
            .txt("loose.example", "v=spf1 include:none.example ?all")
            .txt("down.example", "v=spf1 include:broken.example -all")
            .txt("both.example", "v=spf1 -all redirect=example.com");
        let z = Zone {
            fail: vec!["broken.example".into()],
            ..z
        };
        assert_eq!(check(&z, "192.0.2.77", "example.com"), SpfResult::Pass);
        assert_eq!(
            check(&z, "198.51.100.1", "example.com"),
            SpfResult::Fail,
            "include's ~all is no match"
        );
        assert_eq!(check(&z, "192.0.2.77", "redir.example"), SpfResult::Pass);
        assert_eq!(
            check(&z, "192.0.2.77", "loose.example"),
            SpfResult::PermError,
            "include of no record"
        );
        assert_eq!(
            check(&z, "192.0.2.77", "down.example"),
            SpfResult::TempError
        );
        assert_eq!(
            check(&z, "192.0.2.77", "both.example"),
            SpfResult::Fail,
            "redirect ignored with all"
        );
        let z = Zone {
            fail: vec!["gone.example".into()],
            ..Zone::default()
        };
        assert_eq!(
            check(&z, "192.0.2.77", "gone.example"),
            SpfResult::TempError
        );
    }

    #[test]
    fn rfc7208_4_6_4_limits() {
        // Eleven includes, each of a record that matches nothing.
        let mut rec = String::from("v=spf1");
        let mut z = Zone::default();
        for i in 0..11 {
            rec.push_str(&format!(" include:i{i}.example"));
            z = z.txt(&format!("i{i}.example"), "v=spf1 ip4:198.51.100.1 -all");
        }
        let z = z.txt("many.example", &rec);
        assert_eq!(check(&z, "192.0.2.1", "many.example"), SpfResult::PermError);
        // Three lookups that find nothing.
        let z = Zone::default().txt(
            "void.example",
            "v=spf1 a:n1.example a:n2.example a:n3.example +all",
        );
        assert_eq!(check(&z, "192.0.2.1", "void.example"), SpfResult::PermError);
        let z = Zone::default().txt("void.example", "v=spf1 a:n1.example a:n2.example +all");
        assert_eq!(
            check(&z, "192.0.2.1", "void.example"),
            SpfResult::Pass,
            "two void lookups are fine"
        );
        // Eleven MX names.
        let mut z = Zone::default().txt("mx.example", "v=spf1 mx -all");
        for i in 0..11 {
            z = z.mx("mx.example", &format!("m{i}.example"));
        }
        assert_eq!(check(&z, "192.0.2.1", "mx.example"), SpfResult::PermError);
    }

    #[test]
    fn ptr_and_exists() {
        let mut z = Zone::default()
            .txt("example.com", "v=spf1 ptr -all")
            .txt("e.example", "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all")
            .a("mail.example.com", "192.0.2.5")
            .a("liar.example.com", "192.0.2.9")
            .a("5.2.0.192.strong._spf.e.example", "127.0.0.2");
        z.ptr.insert(
            "5.2.0.192.in-addr.arpa".into(),
            vec!["mail.example.com".into()],
        );
        z.ptr.insert(
            "6.2.0.192.in-addr.arpa".into(),
            vec!["liar.example.com".into()],
        );
        assert_eq!(check(&z, "192.0.2.5", "example.com"), SpfResult::Pass);
        assert_eq!(
            check(&z, "192.0.2.6", "example.com"),
            SpfResult::Fail,
            "a name that does not point back"
        );
        assert_eq!(check(&z, "192.0.2.5", "e.example"), SpfResult::Pass);
        assert_eq!(check(&z, "192.0.2.7", "e.example"), SpfResult::Fail);
    }

    proptest::proptest! {
        /// Any record, of terms that look like SPF's or of any bytes,
        /// gives a result (no panic, no loop), for either family.
        #[test]
        fn any_record_gives_a_result(
            terms in proptest::collection::vec(
                proptest::prop_oneof![
                    "[-+~?]?(all|a|mx|ptr|ip4|ip6|include|exists)([:/][a-z0-9.%{}/:_=+-]{0,14})?",
                    "(redirect|exp|x-y)=[a-z0-9.%{}/_=+-]{0,14}",
                    "[ -~\u{80}-\u{ff}]{0,12}",
                ],
                0..8,
            ),
        ) {
            let rec = format!("v=spf1 {}", terms.join(" "));
            let z = appendix_a()
                .txt("example.com", &rec)
                .txt("a.example.com", &rec)
                .txt("example.org", "v=spf1 include:example.com -all");
            for ip in ["192.0.2.10", "2001:db8::1"] {
                let _ = check(&z, ip, "example.com");
                let _ = check(&z, ip, "example.org");
            }
        }
    }

    #[test]
    fn identities() {
        assert_eq!(
            identity("joe@Example.COM", "h.example"),
            Some(("joe".into(), "example.com".into()))
        );
        assert_eq!(
            identity("", "mx.example.org"),
            Some(("postmaster".into(), "mx.example.org".into()))
        );
        assert_eq!(
            identity("@example.com", "h"),
            Some(("postmaster".into(), "example.com".into()))
        );
        assert_eq!(identity("", ""), None);
        assert_eq!(identity("joe@", "h"), None);
    }
}

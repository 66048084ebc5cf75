//! Command-line configuration of the mail server.
//!
//! Every option has a default, so `cargo run --example mailserver` starts a
//! working server on loopback with the account `demo:demo`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mailwire::sasl::Secret;

use crate::accounts::Credential;
use crate::auth_guard::AuthPolicy;
use crate::limits::ConnLimits;
use crate::runner::RunnerLimits;

/// One account: a name and its password (or its keys). The account
/// receives mail for `NAME@D` for every local domain `D`.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) credential: Credential,
}

impl User {
    /// The plaintext password of a demo account (`--user`), for the banner.
    pub(crate) fn demo_password(&self) -> Option<&str> {
        match &self.credential {
            Credential::Plain(p) => Some(p.expose()),
            Credential::Scram(_) => None,
        }
    }
}

/// Limits on what one SMTP connection may do (Postfix's
/// `smtpd_hard_error_limit`, `smtpd_recipient_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionLimits {
    /// Errors (bad commands, refused recipients) before 421 and close.
    pub(crate) max_errors: u32,
    /// Recipients per transaction (452 beyond; RFC 5321 §4.5.3.1.8 asks
    /// for at least 100).
    pub(crate) max_recipients: usize,
    /// Recipients per connection, all transactions together.
    pub(crate) max_recipients_per_connection: usize,
    /// Transactions (MAIL commands accepted) per connection.
    pub(crate) max_transactions: u32,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_errors: 20,
            max_recipients: 100,
            max_recipients_per_connection: 1000,
            max_transactions: 100,
        }
    }
}

/// A `--route DOMAIN=HOST:PORT` override: mail for DOMAIN goes to HOST:PORT
/// instead of the domain's MX hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) data: PathBuf,
    /// Local domains, lower case, in the order given.
    pub(crate) domains: Vec<String>,
    pub(crate) users: Vec<User>,
    pub(crate) smtp: Option<SocketAddr>,
    pub(crate) submission: Option<SocketAddr>,
    pub(crate) smtps: Option<SocketAddr>,
    /// The POP3 port (RFC 1939), with STLS.
    pub(crate) pop3: Option<SocketAddr>,
    /// POP3 under implicit TLS (RFC 8314).
    pub(crate) pop3s: Option<SocketAddr>,
    /// The IMAP port (RFC 9051, RFC 3501), with STARTTLS.
    pub(crate) imap: Option<SocketAddr>,
    /// IMAP under implicit TLS (RFC 8314).
    pub(crate) imaps: Option<SocketAddr>,
    /// The webmail over HTTP.
    pub(crate) http: Option<SocketAddr>,
    /// The webmail over HTTPS, with the server's certificate.
    pub(crate) https: Option<SocketAddr>,
    /// Domain (lower case) to route.
    pub(crate) routes: HashMap<String, Route>,
    /// Waits between delivery attempts; the last one repeats.
    pub(crate) retry: Vec<Duration>,
    pub(crate) expire: Duration,
    /// After this long in the queue a recipient that asked for it
    /// (NOTIFY=DELAY, RFC 3461) gets one delay notice.
    pub(crate) delay_warning: Duration,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) allow_plaintext_auth: bool,
    pub(crate) sink: bool,
    /// The name this server gives itself in greetings and Received fields.
    pub(crate) hostname: String,
    /// The largest message accepted (SIZE extension), in bytes.
    pub(crate) max_size: usize,
    /// The port used for MX and A/AAAA hosts (25 in real life).
    pub(crate) mx_port: u16,
    /// A DNS server to ask instead of the system's resolv.conf.
    pub(crate) dns: Option<SocketAddr>,
    /// Connection limits.
    pub(crate) limits: ConnLimits,
    /// Defences against password guessing.
    pub(crate) auth: AuthPolicy,
    /// Limits within one SMTP or POP3 connection.
    pub(crate) session: SessionLimits,
    /// Deliveries at once, in all and per destination.
    pub(crate) runner: RunnerLimits,
    /// Address (lower case) to the addresses it stands for (`--alias`, the
    /// config file's `[aliases]`).
    pub(crate) aliases: BTreeMap<String, Vec<String>>,
    /// Mailing lists (`--list`, `[lists]`): address (lower case) to its
    /// members file.
    pub(crate) lists: BTreeMap<String, crate::list::ListConf>,
    /// Outbound TLS (`--tls-policy`, `--tls-ca`, `[tls]` in the file).
    pub(crate) tls_policy: crate::tls::OutboundPolicy,
}

/// The usage text printed for `--help` and for a bad option.
pub(crate) const USAGE: &str = "\
usage: mailserver [OPTIONS]
       mailserver passwd NAME   read a password (stdin or prompt), print its [accounts] line
  --config FILE            a TOML file with any of the settings below (see README);
                           options on the command line override it
  --data DIR               mailboxes (DIR/mailboxes/USER) and queue (DIR/queue) [./mail-data]
  --domain D               a local domain, repeatable [localhost]
  --user NAME:PASSWORD     a demo account, password in plain text, repeatable [demo:demo]
  --alias ADDR=ADDR[,ADDR...]  mail for ADDR goes to these addresses instead, repeatable
  --list ADDR=FILE         a mailing list, its members in FILE (one a line), repeatable
  --smtp ADDR              MTA port: local mail without AUTH, relay with AUTH [127.0.0.1:2525]
  --submission ADDR        submission port, AUTH required [127.0.0.1:2587]
  --smtps ADDR             implicit-TLS submission (RFC 8314) [off]
  --pop3 ADDR              POP3 port with STLS over the same mailboxes [127.0.0.1:1110]
  --pop3s ADDR             POP3 over implicit TLS [off]
  --imap ADDR              IMAP port with STARTTLS over the same mailboxes [127.0.0.1:1143]
  --imaps ADDR             IMAP over implicit TLS [off]
  --http ADDR              the webmail over HTTP [127.0.0.1:8080]
  --https ADDR             the webmail over HTTPS, with the server's certificate [off]
  --no-smtp, --no-submission, --no-pop3, --no-imap, --no-http  do not open that port
  --route DOMAIN=HOST:PORT deliver DOMAIN to HOST:PORT instead of its MX, repeatable
  --retry LIST             waits between delivery attempts [1m,5m,15m,30m,1h,2h,4h]
  --expire DURATION        give up and bounce after this long [5d]
  --delay-warning DURATION NOTIFY=DELAY notice after this long in the queue [4h]
  --cert FILE --key FILE   PEM certificate chain and key [self-signed, generated at start]
  --tls-policy [DOMAIN=]MODE  outbound STARTTLS: opportunistic, or require (verified
                           certificate, else retried then bounced); DOMAIN= for one
                           domain, repeatable [opportunistic]
  --tls-ca FILE            PEM CAs that `require` and MTA-STS trust [the Mozilla roots]
  --no-mta-sts             ignore MTA-STS policies (RFC 8461) of recipient domains;
                           a DOMAIN= --tls-policy or a --route wins over them anyway
  --mta-sts-port PORT      the HTTPS port of MTA-STS policy hosts, for tests [443]
  --allow-plaintext-auth   allow AUTH before TLS on any address [only on loopback]
  --sink                   accept and discard every message (benchmarks only)
  --hostname NAME          the name in greetings and Received fields [first domain]
  --max-size BYTES         the largest message accepted [36700160]
  --mx-port PORT           the port for MX and A/AAAA hosts [25]
  --dns ADDR               the DNS server to ask (UDP) [the system's, /etc/resolv.conf]
Defences (0 turns a count limit off where said):
  --max-connections N      connections served at once, all ports [500]
  --max-per-address N      connections one client address (IPv6: /64) may hold [20]
  --conn-rate N/DURATION   new connections per address and period, 0 = off [600/1m]
  --auth-delay DURATION    delay before the first AUTH failure is answered; doubles [500ms]
  --auth-max-delay DURATION  the longest such delay [8s]
  --auth-max-failures N    AUTH failures before the connection is closed [3]
  --auth-block-after N     AUTH failures of one address (in 10 minutes) before it is blocked [10]
  --auth-block-for DURATION  how long such a block lasts [15m]
  --max-errors N           bad commands and refused recipients before 421 and close [20]
  --max-recipients N       recipients per transaction (at least 100) [100]
  --max-recipients-per-connection N  recipients per connection [1000]
  --max-transactions N     transactions per connection [100]
Queue:
  --queue-workers N        deliveries at once [8]
  --max-per-destination N  deliveries at once to one domain [2]
  -h, --help               this text";

/// A bad command line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ConfigError(pub(crate) String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    Run(Box<Config>),
    Help,
    /// `mailserver passwd NAME`: print the `[accounts]` line for a password.
    Passwd {
        name: String,
    },
}

/// Parses a duration such as `90s`, `1m`, `2h`, `5d` or `250ms`. A bare
/// number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, ConfigError> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return err(format!(
            "bad duration {s:?}: expected a number and a unit (s, m, h, d)"
        ));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| ConfigError(format!("bad duration {s:?}: number too large")))?;
    let secs = |mul: u64| {
        n.checked_mul(mul)
            .map(Duration::from_secs)
            .ok_or_else(|| ConfigError(format!("bad duration {s:?}: too long")))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86400),
        _ => err(format!("bad duration {s:?}: unknown unit {unit:?}")),
    }
}

/// Parses a comma-separated retry list such as `1m,5m,15m`.
pub(crate) fn parse_retry(s: &str) -> Result<Vec<Duration>, ConfigError> {
    let list = s
        .split(',')
        .map(parse_duration)
        .collect::<Result<Vec<_>, _>>()?;
    if list.iter().any(|d| d.is_zero()) {
        return err("a retry interval must not be zero");
    }
    Ok(list)
}

fn parse_addr(opt: &str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse().map_err(|_| {
        ConfigError(format!(
            "{opt}: {s:?} is not an address such as 127.0.0.1:2525"
        ))
    })
}

/// Parses `NAME:PASSWORD`.
pub(crate) fn parse_user(s: &str) -> Result<User, ConfigError> {
    let Some((name, password)) = s.split_once(':') else {
        return err(format!("--user {s:?}: expected NAME:PASSWORD"));
    };
    if !valid_user_name(name) {
        return err(format!(
            "--user {s:?}: the name must be letters, digits, '.', '_', '-' or '+'"
        ));
    }
    if password.is_empty() {
        return err(format!("--user {s:?}: empty password"));
    }
    Ok(User {
        name: name.to_ascii_lowercase(),
        credential: Credential::Plain(Secret::new(password.to_string())),
    })
}

/// Parses `DOMAIN=HOST:PORT`.
pub(crate) fn parse_route(s: &str) -> Result<(String, Route), ConfigError> {
    let bad = || ConfigError(format!("--route {s:?}: expected DOMAIN=HOST:PORT"));
    let (domain, target) = s.split_once('=').ok_or_else(bad)?;
    let (host, port) = target.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if domain.is_empty() || host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((
        domain.to_ascii_lowercase(),
        Route {
            host: host.to_string(),
            port,
        },
    ))
}

/// Parses `N/DURATION` (e.g. `600/1m`), or `0` for no limit.
pub(crate) fn parse_rate(s: &str) -> Result<(u32, Duration), ConfigError> {
    let bad = || {
        ConfigError(format!(
            "--conn-rate {s:?}: expected N/DURATION such as 600/1m, or 0"
        ))
    };
    if s.trim() == "0" {
        return Ok((0, Duration::from_secs(60)));
    }
    let (n, d) = s.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let d = parse_duration(d)?;
    if d.is_zero() {
        return Err(bad());
    }
    Ok((n, d))
}

/// Whether `name` may be an account name (it is a mailbox directory and a
/// local part).
fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
        && !name.starts_with('.')
}

/// Parses `ADDR=ADDR[,ADDR...]`.
pub(crate) fn parse_alias(s: &str) -> Result<(String, Vec<String>), ConfigError> {
    let bad = || ConfigError(format!("--alias {s:?}: expected ADDR=ADDR[,ADDR...]"));
    let (from, to) = s.split_once('=').ok_or_else(bad)?;
    let to: Vec<String> = to.split(',').map(|a| a.trim().to_string()).collect();
    check_alias(from.trim(), &to).map_err(|_| bad())?;
    Ok((from.trim().to_ascii_lowercase(), to))
}

fn is_address(a: &str) -> bool {
    a.rsplit_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && valid_domain(d) && !a.contains(char::is_whitespace))
}

fn check_alias(from: &str, to: &[String]) -> Result<(), ConfigError> {
    if !is_address(from) || to.is_empty() || !to.iter().all(|a| is_address(a)) {
        return err(format!(
            "alias {from:?}: addresses such as user@example.org"
        ));
    }
    Ok(())
}

fn parse_count<T: std::str::FromStr>(opt: &str, v: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| ConfigError(format!("{opt} needs a number, not {v:?}")))
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 255
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl Config {
    /// Parses the arguments after the program name.
    pub(crate) fn parse<I, S>(args: I) -> Result<Command, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut data = PathBuf::from("./mail-data");
        let mut domains = Vec::new();
        let mut users: Vec<User> = Vec::new();
        let mut smtp = Some(parse_addr("--smtp", "127.0.0.1:2525")?);
        let mut submission = Some(parse_addr("--submission", "127.0.0.1:2587")?);
        let mut smtps = None;
        let mut pop3 = Some(parse_addr("--pop3", "127.0.0.1:1110")?);
        let mut pop3s = None;
        let mut imap = Some(parse_addr("--imap", "127.0.0.1:1143")?);
        let mut imaps = None;
        let mut http = Some(parse_addr("--http", "127.0.0.1:8080")?);
        let mut https = None;
        let mut routes = HashMap::new();
        let mut retry = parse_retry("1m,5m,15m,30m,1h,2h,4h")?;
        let mut expire = Duration::from_secs(5 * 86400);
        let mut delay_warning = Duration::from_secs(4 * 3600);
        let mut cert = None;
        let mut key = None;
        let mut allow_plaintext_auth = false;
        let mut sink = false;
        let mut hostname = None;
        let mut max_size = 35 * 1024 * 1024;
        let mut mx_port = 25;
        let mut dns = None;
        let mut limits = ConnLimits::default();
        let mut auth = AuthPolicy::default();
        let mut session = SessionLimits::default();
        let mut runner = RunnerLimits::default();
        let mut aliases = BTreeMap::new();
        let mut lists = BTreeMap::new();
        let mut tls_policy = crate::tls::OutboundPolicy::default();

        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        if args.first().is_some_and(|a| a == "passwd") {
            return match &args[1..] {
                [name] if valid_user_name(name) => Ok(Command::Passwd {
                    name: name.to_ascii_lowercase(),
                }),
                _ => err("usage: mailserver passwd NAME (letters, digits, '.', '_', '-', '+')"),
            };
        }
        // The file first, so that the options override it.
        let config_path = args.iter().enumerate().find_map(|(i, a)| match a.as_str() {
            "--config" => Some(args.get(i + 1).cloned()),
            _ => a.strip_prefix("--config=").map(|p| Some(p.to_string())),
        });
        let mut file_domains = false;
        if let Some(path) = config_path {
            let path = path.ok_or_else(|| ConfigError("--config needs a value".into()))?;
            let f = crate::config_file::load(std::path::Path::new(&path))?;
            if let Some(v) = f.data {
                data = v;
            }
            if let Some(h) = f.hostname {
                let h = h.to_ascii_lowercase();
                if !valid_domain(&h) {
                    return err(format!("hostname {h:?} is not a domain name"));
                }
                hostname = Some(h);
            }
            for d in f.domains.unwrap_or_default() {
                let d = d.to_ascii_lowercase();
                if !valid_domain(&d) {
                    return err(format!("domains: {d:?} is not a domain name"));
                }
                if !domains.contains(&d) {
                    domains.push(d);
                    file_domains = true;
                }
            }
            for (slot, port, name) in [
                (&mut smtp, &f.listen.smtp, "smtp"),
                (&mut submission, &f.listen.submission, "submission"),
                (&mut smtps, &f.listen.smtps, "smtps"),
                (&mut pop3, &f.listen.pop3, "pop3"),
                (&mut pop3s, &f.listen.pop3s, "pop3s"),
                (&mut imap, &f.listen.imap, "imap"),
                (&mut imaps, &f.listen.imaps, "imaps"),
                (&mut http, &f.listen.http, "http"),
                (&mut https, &f.listen.https, "https"),
            ] {
                if let Some(p) = port {
                    *slot = p.addr(name)?;
                }
            }
            cert = f.tls.cert.or(cert);
            key = f.tls.key.or(key);
            tls_policy.ca = f.tls.ca;
            tls_policy.no_mta_sts = f.tls.mta_sts == Some(false);
            if let Some(m) = &f.tls.policy {
                tls_policy.add(m).map_err(ConfigError)?;
            }
            for (d, m) in &f.tls.domains {
                tls_policy.add(&format!("{d}={m}")).map_err(ConfigError)?;
            }
            for (d, target) in &f.routes {
                let (d, r) = parse_route(&format!("{d}={target}"))?;
                routes.insert(d, r);
            }
            if let Some(r) = &f.retry {
                retry = parse_retry(r)?;
            }
            if let Some(e) = &f.expire {
                expire = parse_duration(e)?;
            }
            if let Some(d) = &f.delay_warning {
                delay_warning = parse_duration(d)?;
            }
            max_size = f.max_size.unwrap_or(max_size);
            mx_port = f.mx_port.unwrap_or(mx_port);
            dns = f.dns.or(dns);
            let l = &f.limits;
            limits.max_total = l.max_connections.unwrap_or(limits.max_total);
            limits.max_per_address = l.max_per_address.unwrap_or(limits.max_per_address);
            if let Some(r) = &l.conn_rate {
                (limits.rate, limits.rate_period) = parse_rate(r)?;
            }
            session.max_errors = l.max_errors.unwrap_or(session.max_errors);
            session.max_recipients = l.max_recipients.unwrap_or(session.max_recipients);
            session.max_recipients_per_connection = l
                .max_recipients_per_connection
                .unwrap_or(session.max_recipients_per_connection);
            session.max_transactions = l.max_transactions.unwrap_or(session.max_transactions);
            runner.workers = l.queue_workers.unwrap_or(runner.workers);
            runner.per_destination = l.max_per_destination.unwrap_or(runner.per_destination);
            let a = &f.auth;
            for (slot, v) in [
                (&mut auth.delay, &a.delay),
                (&mut auth.max_delay, &a.max_delay),
                (&mut auth.block_for, &a.block_for),
            ] {
                if let Some(v) = v {
                    *slot = parse_duration(v)?;
                }
            }
            auth.max_per_connection = a.max_failures.unwrap_or(auth.max_per_connection);
            auth.block_after = a.block_after.unwrap_or(auth.block_after);
            allow_plaintext_auth = a.allow_plaintext.unwrap_or(allow_plaintext_auth);
            for (name, keys) in &f.accounts {
                if !valid_user_name(name) {
                    return err(format!(
                        "accounts: {name:?}: letters, digits, '.', '_', '-' or '+'"
                    ));
                }
                let c = crate::accounts::parse_scram(keys)
                    .map_err(|e| ConfigError(format!("accounts.{name}: {e}")))?;
                users.push(User {
                    name: name.to_ascii_lowercase(),
                    credential: Credential::Scram(c),
                });
            }
            for (from, to) in f.aliases {
                check_alias(&from, &to)?;
                aliases.insert(from.to_ascii_lowercase(), to);
            }
            for (addr, list) in f.lists {
                if !is_address(&addr) {
                    return err(format!(
                        "lists.{addr:?}: addresses such as user@example.org"
                    ));
                }
                lists.insert(addr.to_ascii_lowercase(), list);
            }
        }
        let file_users = users.len();

        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (opt, inline) = match arg.split_once('=') {
                Some((o, v)) if o.starts_with("--") => (o.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let mut value = || -> Result<String, ConfigError> {
                match inline.clone() {
                    Some(v) => Ok(v),
                    None => args
                        .next()
                        .ok_or_else(|| ConfigError(format!("{opt} needs a value"))),
                }
            };
            match opt.as_str() {
                "-h" | "--help" => return Ok(Command::Help),
                "--config" => {
                    // Read above, before the other options.
                    value()?;
                }
                "--data" => data = PathBuf::from(value()?),
                "--list" => {
                    let v = value()?;
                    let bad = || ConfigError(format!("--list {v:?}: expected ADDR=FILE"));
                    let (addr, file) = v.split_once('=').ok_or_else(bad)?;
                    if !is_address(addr) || file.is_empty() {
                        return Err(bad());
                    }
                    lists.insert(
                        addr.to_ascii_lowercase(),
                        crate::list::ListConf {
                            file: PathBuf::from(file),
                            open: false,
                        },
                    );
                }
                "--alias" => {
                    let (from, to) = parse_alias(&value()?)?;
                    aliases.insert(from, to);
                }
                "--domain" => {
                    if file_domains {
                        // The command line's domains replace the file's.
                        domains.clear();
                        file_domains = false;
                    }
                    let d = value()?.to_ascii_lowercase();
                    if !valid_domain(&d) {
                        return err(format!("--domain {d:?} is not a domain name"));
                    }
                    if !domains.contains(&d) {
                        domains.push(d);
                    }
                }
                "--user" => {
                    let u = parse_user(&value()?)?;
                    if users[file_users..].iter().any(|x| x.name == u.name) {
                        return err(format!("--user {}: given twice", u.name));
                    }
                    // It replaces an account of the same name from the file.
                    match users[..file_users].iter().position(|x| x.name == u.name) {
                        Some(i) => users[i] = u,
                        None => users.push(u),
                    }
                }
                "--smtp" => smtp = Some(parse_addr("--smtp", &value()?)?),
                "--submission" => submission = Some(parse_addr("--submission", &value()?)?),
                "--smtps" => smtps = Some(parse_addr("--smtps", &value()?)?),
                "--no-smtp" => smtp = None,
                "--no-submission" => submission = None,
                "--pop3" => pop3 = Some(parse_addr("--pop3", &value()?)?),
                "--pop3s" => pop3s = Some(parse_addr("--pop3s", &value()?)?),
                "--no-pop3" => pop3 = None,
                "--imap" => imap = Some(parse_addr("--imap", &value()?)?),
                "--imaps" => imaps = Some(parse_addr("--imaps", &value()?)?),
                "--no-imap" => imap = None,
                "--http" => http = Some(parse_addr("--http", &value()?)?),
                "--https" => https = Some(parse_addr("--https", &value()?)?),
                "--no-http" => http = None,
                "--route" => {
                    let (d, r) = parse_route(&value()?)?;
                    routes.insert(d, r);
                }
                "--retry" => retry = parse_retry(&value()?)?,
                "--expire" => expire = parse_duration(&value()?)?,
                "--delay-warning" => delay_warning = parse_duration(&value()?)?,
                "--cert" => cert = Some(PathBuf::from(value()?)),
                "--tls-policy" => tls_policy.add(&value()?).map_err(ConfigError)?,
                "--tls-ca" => tls_policy.ca = Some(PathBuf::from(value()?)),
                "--no-mta-sts" => tls_policy.no_mta_sts = true,
                "--mta-sts-port" => tls_policy.mta_sts_port = Some(parse_count(&opt, &value()?)?),
                "--key" => key = Some(PathBuf::from(value()?)),
                "--allow-plaintext-auth" => allow_plaintext_auth = true,
                "--sink" => sink = true,
                "--hostname" => {
                    let h = value()?.to_ascii_lowercase();
                    if !valid_domain(&h) {
                        return err(format!("--hostname {h:?} is not a domain name"));
                    }
                    hostname = Some(h);
                }
                "--max-size" => {
                    max_size = value()?
                        .parse()
                        .map_err(|_| ConfigError("--max-size needs a number of bytes".into()))?;
                }
                "--mx-port" => {
                    mx_port = value()?
                        .parse()
                        .map_err(|_| ConfigError("--mx-port needs a port number".into()))?;
                }
                "--dns" => dns = Some(parse_addr("--dns", &value()?)?),
                "--max-connections" => limits.max_total = parse_count(&opt, &value()?)?,
                "--max-per-address" => limits.max_per_address = parse_count(&opt, &value()?)?,
                "--conn-rate" => {
                    (limits.rate, limits.rate_period) = parse_rate(&value()?)?;
                }
                "--auth-delay" => auth.delay = parse_duration(&value()?)?,
                "--auth-max-delay" => auth.max_delay = parse_duration(&value()?)?,
                "--auth-max-failures" => auth.max_per_connection = parse_count(&opt, &value()?)?,
                "--auth-block-after" => auth.block_after = parse_count(&opt, &value()?)?,
                "--auth-block-for" => auth.block_for = parse_duration(&value()?)?,
                "--max-errors" => session.max_errors = parse_count(&opt, &value()?)?,
                "--max-recipients" => session.max_recipients = parse_count(&opt, &value()?)?,
                "--max-recipients-per-connection" => {
                    session.max_recipients_per_connection = parse_count(&opt, &value()?)?;
                }
                "--max-transactions" => session.max_transactions = parse_count(&opt, &value()?)?,
                "--queue-workers" => runner.workers = parse_count(&opt, &value()?)?,
                "--max-per-destination" => runner.per_destination = parse_count(&opt, &value()?)?,
                other => return err(format!("unknown option {other:?}")),
            }
        }
        if cert.is_some() != key.is_some() {
            return err("--cert and --key go together");
        }
        if tls_policy.ca.is_some() {
            // A CA file that does not read is a mistake to report now.
            tls_policy
                .client_config(crate::tls::OutboundMode::Require)
                .map_err(ConfigError)?;
        }
        if domains.is_empty() {
            domains.push("localhost".to_string());
        }
        if users.is_empty() {
            users.push(User {
                name: "demo".into(),
                credential: Credential::Plain(Secret::new("demo".into())),
            });
        }
        if limits.max_total == 0 || limits.max_per_address == 0 {
            return err("--max-connections and --max-per-address must be at least 1");
        }
        if runner.workers == 0 || runner.per_destination == 0 {
            return err("--queue-workers and --max-per-destination must be at least 1");
        }
        if auth.max_per_connection == 0 || auth.block_after == 0 || session.max_errors == 0 {
            return err(
                "--auth-max-failures, --auth-block-after and --max-errors must be at least 1",
            );
        }
        let hostname = hostname.unwrap_or_else(|| domains[0].clone());
        Ok(Command::Run(Box::new(Config {
            data,
            domains,
            users,
            smtp,
            submission,
            smtps,
            pop3,
            pop3s,
            imap,
            imaps,
            http,
            https,
            routes,
            retry,
            expire,
            delay_warning,
            cert,
            key,
            allow_plaintext_auth,
            sink,
            hostname,
            max_size,
            mx_port,
            dns,
            limits,
            auth,
            session,
            runner,
            aliases,
            lists,
            tls_policy,
        })))
    }

    /// The wait before attempt number `attempt + 1`, after `attempt` failed
    /// attempts (`attempt >= 1`); the last interval repeats.
    pub(crate) fn retry_after(&self, attempt: u32) -> Duration {
        let i = (attempt.max(1) as usize - 1).min(self.retry.len().saturating_sub(1));
        self.retry
            .get(i)
            .copied()
            .unwrap_or(Duration::from_secs(4 * 3600))
    }

    /// Whether `domain` is one of ours (case-insensitive).
    pub(crate) fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// The account for a local part (case-insensitive); `postmaster` is the
    /// first account (RFC 5321 §4.5.1).
    pub(crate) fn user(&self, local_part: &str) -> Option<&User> {
        let lp = local_part.to_ascii_lowercase();
        self.users
            .iter()
            .find(|u| u.name == lp)
            .or_else(|| (lp == "postmaster").then(|| &self.users[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Config {
        match Config::parse(args.iter().copied()).unwrap() {
            Command::Run(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = run(&[]);
        assert_eq!(c.data, PathBuf::from("./mail-data"));
        assert_eq!(c.domains, vec!["localhost"]);
        assert_eq!(c.users.len(), 1);
        assert_eq!(c.users[0].name, "demo");
        assert_eq!(c.users[0].demo_password(), Some("demo"));
        assert_eq!(c.limits, ConnLimits::default());
        assert_eq!(c.auth, AuthPolicy::default());
        assert_eq!(c.session, SessionLimits::default());
        assert_eq!(c.smtp, Some("127.0.0.1:2525".parse().unwrap()));
        assert_eq!(c.submission, Some("127.0.0.1:2587".parse().unwrap()));
        assert_eq!(c.smtps, None);
        assert_eq!(c.retry.len(), 7);
        assert_eq!(c.retry[0], Duration::from_secs(60));
        assert_eq!(c.retry[6], Duration::from_secs(4 * 3600));
        assert_eq!(c.expire, Duration::from_secs(5 * 86400));
        assert_eq!(c.delay_warning, Duration::from_secs(4 * 3600));
        assert!(!c.sink && !c.allow_plaintext_auth);
        assert_eq!(c.hostname, "localhost");
    }

    #[test]
    fn all_options() {
        let c = run(&[
            "--data",
            "/tmp/x",
            "--domain",
            "A.test",
            "--domain=b.test",
            "--user",
            "Alice:pw:x",
            "--user",
            "bob:pw2",
            "--smtp",
            "127.0.0.1:0",
            "--submission",
            "127.0.0.1:1",
            "--smtps",
            "127.0.0.1:2",
            "--route",
            "C.test=127.0.0.1:2626",
            "--retry",
            "1s,2s",
            "--expire",
            "30s",
            "--delay-warning",
            "10s",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "--allow-plaintext-auth",
            "--sink",
            "--hostname",
            "mx.a.test",
            "--max-size",
            "1000",
            "--mx-port",
            "2525",
            "--dns",
            "127.0.0.1:5353",
            "--max-connections",
            "7",
            "--max-per-address=3",
            "--conn-rate",
            "5/10s",
            "--auth-delay",
            "10ms",
            "--auth-max-delay",
            "1s",
            "--auth-max-failures",
            "2",
            "--auth-block-after",
            "4",
            "--auth-block-for",
            "1m",
            "--max-errors",
            "5",
            "--max-recipients",
            "150",
            "--max-recipients-per-connection",
            "300",
            "--max-transactions",
            "9",
            "--queue-workers",
            "3",
            "--max-per-destination",
            "1",
        ]);
        assert_eq!(
            c.runner,
            RunnerLimits {
                workers: 3,
                per_destination: 1
            }
        );
        assert_eq!(
            c.limits,
            ConnLimits {
                max_total: 7,
                max_per_address: 3,
                rate: 5,
                rate_period: Duration::from_secs(10)
            }
        );
        assert_eq!(
            (c.auth.delay, c.auth.max_delay, c.auth.max_per_connection),
            (Duration::from_millis(10), Duration::from_secs(1), 2)
        );
        assert_eq!(
            (c.auth.block_after, c.auth.block_for),
            (4, Duration::from_secs(60))
        );
        assert_eq!(
            c.session,
            SessionLimits {
                max_errors: 5,
                max_recipients: 150,
                max_recipients_per_connection: 300,
                max_transactions: 9
            }
        );
        assert_eq!(c.domains, vec!["a.test", "b.test"]);
        assert_eq!(c.users[0].name, "alice");
        assert_eq!(c.users[0].demo_password(), Some("pw:x"));
        assert_eq!(
            c.routes["c.test"],
            Route {
                host: "127.0.0.1".into(),
                port: 2626
            }
        );
        assert_eq!(
            c.retry,
            vec![Duration::from_secs(1), Duration::from_secs(2)]
        );
        assert_eq!(c.expire, Duration::from_secs(30));
        assert_eq!(c.delay_warning, Duration::from_secs(10));
        assert!(c.sink && c.allow_plaintext_auth);
        assert_eq!(c.hostname, "mx.a.test");
        assert_eq!(c.max_size, 1000);
        assert_eq!(c.mx_port, 2525);
        assert_eq!(c.dns, Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(c.dns, Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(c.smtps, Some("127.0.0.1:2".parse().unwrap()));
    }

    #[test]
    fn webmail_ports() {
        let c = run(&[]);
        assert_eq!(c.http, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(c.https, None);
        let c = run(&["--http", "0.0.0.0:80", "--https", "[::1]:8443"]);
        assert_eq!(c.http, Some("0.0.0.0:80".parse().unwrap()));
        assert_eq!(c.https, Some("[::1]:8443".parse().unwrap()));
        assert_eq!(run(&["--no-http"]).http, None);
        assert!(Config::parse(["--http", "nowhere"]).is_err());
    }

    #[test]
    fn mta_sts_options() {
        let c = run(&[]);
        assert!(!c.tls_policy.no_mta_sts);
        assert_eq!(c.tls_policy.mta_sts_port, None);
        let c = run(&["--no-mta-sts", "--mta-sts-port", "8443"]);
        assert!(c.tls_policy.no_mta_sts);
        assert_eq!(c.tls_policy.mta_sts_port, Some(8443));
        assert!(Config::parse(["--mta-sts-port", "https"]).is_err());
    }

    #[test]
    fn retry_schedule_repeats_last() {
        let c = run(&["--retry", "1m,5m,4h"]);
        assert_eq!(c.retry_after(1), Duration::from_secs(60));
        assert_eq!(c.retry_after(2), Duration::from_secs(300));
        assert_eq!(c.retry_after(3), Duration::from_secs(4 * 3600));
        assert_eq!(c.retry_after(50), Duration::from_secs(4 * 3600));
    }

    #[test]
    fn config_file_then_options_override() {
        let dir = std::env::temp_dir().join(format!("mailwire-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mailserver.toml");
        let keys =
            crate::accounts::format_scram(&crate::accounts::hash_password("s3cret", 4096).unwrap());
        std::fs::write(
            &path,
            format!(
                r#"
data = "/srv/mail"
hostname = "mx.example.org"
domains = ["example.org", "example.net"]
[listen]
smtp = "127.0.0.1:25"
pop3 = false
http = false
https = "127.0.0.1:8443"
[limits]
max_connections = 50
max_per_address = 5
[auth]
block_after = 4
[accounts]
alice = "{keys}"
bob = "{keys}"
[aliases]
"Info@example.org" = ["alice@example.org", "x@elsewhere.test"]
[lists."team@example.org"]
file = "/srv/team"
"#
            ),
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = run(&["--config", p]);
        assert_eq!(c.data, PathBuf::from("/srv/mail"));
        assert_eq!(c.hostname, "mx.example.org");
        assert_eq!(c.domains, ["example.org", "example.net"]);
        assert_eq!(c.smtp, Some("127.0.0.1:25".parse().unwrap()));
        assert_eq!(c.pop3, None);
        assert_eq!(c.http, None);
        assert_eq!(c.https, Some("127.0.0.1:8443".parse().unwrap()));
        assert_eq!((c.limits.max_total, c.limits.max_per_address), (50, 5));
        assert_eq!(c.auth.block_after, 4);
        assert_eq!(c.users.len(), 2, "no demo account when the file has some");
        assert!(c.users.iter().all(|u| u.demo_password().is_none()));
        assert_eq!(c.aliases["info@example.org"].len(), 2);
        assert_eq!(c.lists["team@example.org"].file, PathBuf::from("/srv/team"));

        // Options override the file; --domain replaces its domains; --user
        // replaces an account of the same name.
        let c = run(&[
            "--max-connections",
            "9",
            &format!("--config={p}"),
            "--domain",
            "other.test",
            "--user",
            "bob:plain",
            "--hostname",
            "h.other.test",
            "--alias",
            "info@example.org=bob@example.org",
            "--list",
            "Staff@example.org=/srv/staff",
        ]);
        assert_eq!(c.lists.len(), 2);
        assert!(!c.lists["staff@example.org"].open);
        assert_eq!(c.limits.max_total, 9);
        assert_eq!(c.limits.max_per_address, 5);
        assert_eq!(c.domains, ["other.test"]);
        assert_eq!(c.hostname, "h.other.test");
        assert_eq!(c.users.len(), 2);
        let bob = c.users.iter().find(|u| u.name == "bob").unwrap();
        assert_eq!(bob.demo_password(), Some("plain"));
        assert_eq!(c.aliases["info@example.org"], ["bob@example.org"]);

        for bad in [
            "[accounts]\nalice = \"secret\"",
            "[accounts]\n\"a b\" = \"x\"",
            "[aliases]\n\"info\" = [\"a@b.test\"]",
            "hostname = \"bad host\"",
            "[limits]\nconn_rate = \"5\"",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(Config::parse(["--config", p]).is_err(), "{bad:?}");
        }
        assert!(Config::parse(["--config", "/nonexistent/x.toml"]).is_err());
        assert!(Config::parse(["--config"]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn passwd_command_and_aliases() {
        assert!(matches!(
            Config::parse(["passwd", "Alice"]),
            Ok(Command::Passwd { name }) if name == "alice"
        ));
        assert!(Config::parse(["passwd"]).is_err());
        assert!(Config::parse(["passwd", "a b"]).is_err());
        assert!(Config::parse(["passwd", "a", "b"]).is_err());
        let (from, to) = parse_alias("Sales@A.test=x@a.test, y@b.test").unwrap();
        assert_eq!(from, "sales@a.test");
        assert_eq!(to, ["x@a.test", "y@b.test"]);
        for bad in [
            "x@a.test",
            "x@a.test=",
            "x=y@a.test",
            "x@a.test=y@a.test,,z@a.test",
        ] {
            assert!(parse_alias(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("0").unwrap().0, 0);
        assert_eq!(parse_rate("30/1m").unwrap(), (30, Duration::from_secs(60)));
        assert!(parse_rate("x/1m").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("5d").unwrap(), Duration::from_secs(432000));
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
        assert!(parse_retry("1m,,2m").is_err());
        assert!(parse_retry("0s").is_err());
    }

    #[test]
    fn bad_lines() {
        for args in [
            &["--user", "nopassword"][..],
            &["--user", ":pw"],
            &["--user", "a b:pw"],
            &["--route", "x.test"],
            &["--route", "x.test=host"],
            &["--route", "x.test=host:0"],
            &["--smtp", "nowhere"],
            &["--cert", "c.pem"],
            &["--domain", "bad domain"],
            &["--frobnicate"],
            &["--data"],
            &["--max-connections", "0"],
            &["--max-per-address", "x"],
            &["--conn-rate", "5"],
            &["--conn-rate", "5/0s"],
            &["--auth-max-failures", "0"],
        ] {
            assert!(Config::parse(args.iter().copied()).is_err(), "{args:?}");
        }
        assert!(matches!(Config::parse(["--help"]), Ok(Command::Help)));
    }

    #[test]
    fn users_and_postmaster() {
        let c = run(&["--user", "a:1", "--user", "b:2", "--domain", "x.test"]);
        assert_eq!(c.user("B").unwrap().name, "b");
        assert_eq!(c.user("Postmaster").unwrap().name, "a");
        assert!(c.user("c").is_none());
        assert!(c.is_local_domain("X.TEST"));
        assert!(!c.is_local_domain("y.test"));
    }
}

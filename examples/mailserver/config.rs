//! Command-line configuration of the mail server.
//!
//! Every option has a default, so `cargo run --example mailserver` starts a
//! working server on loopback with the account `demo:demo`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use mailwire::sasl::Secret;

use crate::accounts::Credential;
use crate::auth_guard::AuthPolicy;
use crate::dns_name::valid_domain;
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
    /// Recipients an account that logged in may send to per period, all
    /// its sessions together (`--send-rate`; 0: no limit).
    pub(crate) send_rate: (u32, Duration),
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_errors: 20,
            max_recipients: 100,
            max_recipients_per_connection: 1000,
            max_transactions: 100,
            send_rate: (0, Duration::from_secs(3600)),
        }
    }
}

/// How the server serves its connections (`--connections`, `[limits]
/// connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Connections {
    /// One thread per CPU over an epoll set (`pool.rs`): Linux only, and
    /// the default there.
    Pool,
    /// One thread per connection, in blocking reads and writes: the model
    /// on other systems, and a choice on Linux.
    Threads,
}

impl Connections {
    /// The default of this system.
    pub(crate) const fn default_here() -> Self {
        if cfg!(target_os = "linux") {
            Connections::Pool
        } else {
            Connections::Threads
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
    /// The `--config` file, read again when it changes (its accounts'
    /// passwords take effect at once: see [`Config::reread`]).
    pub(crate) config_file: Option<PathBuf>,
    /// The arguments this configuration was made from (after the
    /// program's name), to make it again; kept out of `Debug` (a demo
    /// account's `--user NAME:PASSWORD` is among them).
    pub(crate) argv: Secret<Vec<String>>,
    pub(crate) data: PathBuf,
    /// Local domains, lower case, in the order given.
    pub(crate) domains: Vec<String>,
    pub(crate) users: Vec<User>,
    /// Whether `users` is the demo account made for a configuration
    /// without any (`demo`, password `demo`).
    pub(crate) demo_account: bool,
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
    /// Whether incoming mail's DKIM signatures are checked
    /// (`--no-dkim-verify` turns it off).
    pub(crate) dkim_verify: bool,
    /// Whether the SPF of incoming mail is checked (`--no-spf` turns it
    /// off), and the client networks whose mail gets no SPF, DMARC, DNS
    /// blocklist and greylisting check (`--trusted-networks`).
    pub(crate) spf: bool,
    pub(crate) trusted_networks: Vec<(IpAddr, u8)>,
    /// Whether the DMARC policy (RFC 7489) of incoming mail's From domain
    /// is checked and applied (`--no-dmarc` turns it off; the clients of
    /// `trusted_networks` are not checked either).
    pub(crate) dmarc: bool,
    /// DMARC aggregate reports (`--dmarc-reports INTERVAL`): how often
    /// they go out; none: not kept nor sent.
    pub(crate) dmarc_reports: Option<Duration>,
    /// DNS blocklists (RFC 5782) the addresses of clients that are not
    /// checked are looked up in (`--dnsbl`, `dnsbl = [...]`); none by
    /// default.
    pub(crate) dnsbl: Vec<crate::dnsbl::Dnsbl>,
    /// Greylisting (`--greylist DELAY`): how long a new client network,
    /// sender and recipient wait; none: off.
    pub(crate) greylist: Option<Duration>,
    /// The name this server gives itself in greetings and Received fields.
    pub(crate) hostname: String,
    /// The largest message accepted (SIZE extension), in bytes.
    pub(crate) max_size: usize,
    /// The quotas (`--quota`, `--message-quota`, `[quotas]`,
    /// `[message_quotas]`). The running server keeps its own copy, which a
    /// change of the config file replaces (`Store::set_quotas`).
    pub(crate) quotas: Quotas,
    /// The port used for MX and A/AAAA hosts (25 in real life).
    pub(crate) mx_port: u16,
    /// A DNS server to ask instead of the system's resolv.conf.
    pub(crate) dns: Option<SocketAddr>,
    /// Connection limits.
    pub(crate) limits: ConnLimits,
    /// How connections are served.
    pub(crate) connections: Connections,
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
    /// The webmail's public HTTPS URL (`--public-url`, `public_url`):
    /// `https://host[:port]`, no final slash.
    pub(crate) public_url: Option<String>,
    /// DKIM keys (`--dkim`, `dkim = [...]`).
    pub(crate) dkim: Vec<crate::dkim::DkimConf>,
}

/// A bad configuration file or a bad combination of settings.
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
    /// `mailserver passwd NAME`: print the `[accounts]` line for a password.
    Passwd {
        name: String,
    },
    /// `mailserver dkim-keygen`: write an Ed25519 key, print its DNS record.
    DkimKeygen {
        domain: String,
        selector: String,
        out: PathBuf,
    },
}

/// The command line, as clap parses it: every setting is an `Option` (or
/// an empty list) so that only what is given overrides the config file;
/// the defaults are applied when the [`Config`] is built.
#[derive(Debug, clap::Parser)]
#[command(
    name = "mailserver",
    about = "A mail server (SMTP, submission, POP3, IMAP, webmail) over the mailwire crates",
    after_help = "Every option has a default, so `mailserver` alone starts a working server \
                  on loopback with the account demo:demo. Options given on the command line \
                  override the --config file.",
    args_override_self = true,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// A TOML file with any of the settings (see the README); options on the
    /// command line override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Mailboxes (DIR/mailboxes/USER) and queue (DIR/queue) [default: ./mail-data]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// A local domain, repeatable; replaces the file's domains [default: localhost]
    #[arg(long = "domain", value_name = "D", value_parser = parse_domain)]
    domains: Vec<String>,
    /// A demo account, password in plain text, repeatable; replaces the
    /// file's account of the same name [default: demo:demo]
    #[arg(long = "user", value_name = "NAME:PASSWORD", value_parser = parse_user)]
    users: Vec<User>,
    /// Mail for ADDR goes to these addresses instead, repeatable
    #[arg(long = "alias", value_name = "ADDR=ADDR[,ADDR...]", value_parser = parse_alias)]
    aliases: Vec<(String, Vec<String>)>,
    /// A mailing list, its members in FILE (one a line), repeatable
    #[arg(long = "list", value_name = "ADDR=FILE", value_parser = parse_list)]
    lists: Vec<(String, crate::list::ListConf)>,
    /// The name in greetings and Received fields [default: the first domain]
    #[arg(long, value_name = "NAME", value_parser = parse_hostname)]
    hostname: Option<String>,
    /// The webmail's HTTPS URL as mail readers reach it (behind a proxy);
    /// lists then offer one-click unsubscription (RFC 8058)
    /// [default: https://HOSTNAME:PORT of --https, if on]
    #[arg(long, value_name = "https://HOST[:PORT]", value_parser = parse_public_url)]
    public_url: Option<String>,
    /// DKIM-sign (RFC 6376) the lists' mail of DOMAIN with the PKCS#8 PEM
    /// key (RSA or Ed25519) in KEYFILE, published under SELECTOR; repeatable
    #[arg(long = "dkim", value_name = "DOMAIN:SELECTOR:KEYFILE", value_parser = crate::dkim::parse_conf)]
    dkim: Vec<crate::dkim::DkimConf>,
    /// Do not check the DKIM signatures of mail from other servers (no
    /// Authentication-Results field; forged ones are still removed)
    #[arg(long)]
    no_dkim_verify: bool,
    /// Do not check the SPF (RFC 7208) of mail from other servers
    #[arg(long)]
    no_spf: bool,
    /// Do not check the DMARC policy (RFC 7489) of the From domain of mail
    /// from other servers (by default a failing message is refused or put
    /// in Junk, as the domain's policy asks)
    #[arg(long)]
    no_dmarc: bool,
    /// Send DMARC aggregate reports (RFC 7489 §7.2) every INTERVAL (e.g.
    /// 1d) to the domains whose records ask for them [default: off]
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration)]
    dmarc_reports: Option<Duration>,
    /// Client networks whose mail gets no SPF, DMARC, DNS blocklist and
    /// greylisting check, comma-separated CIDRs, or `none` (default:
    /// loopback, 127.0.0.0/8 and ::1); `--spf-exempt`, its first name, is
    /// taken too
    #[arg(long, alias = "spf-exempt", value_name = "CIDR,...", value_parser = parse_networks)]
    trusted_networks: Option<Networks>,
    #[command(flatten)]
    ports: PortArgs,
    #[command(flatten)]
    delivery: DeliveryArgs,
    #[command(flatten)]
    defences: DefenceArgs,
}

/// `mailserver passwd NAME`.
#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Read a password (stdin or prompt) and print its `[accounts]` line
    /// for the config file.
    Passwd {
        /// The account name: letters, digits, '.', '_', '-' or '+'.
        #[arg(value_parser = parse_account_name)]
        name: String,
    },
    /// Write a new Ed25519 DKIM key (PKCS#8 PEM, never over a file) and
    /// print the DNS TXT record that publishes it (RSA keys: `openssl
    /// genpkey`).
    DkimKeygen {
        /// The signing domain (d=).
        #[arg(long, value_parser = parse_domain)]
        domain: String,
        /// The selector (s=).
        #[arg(long)]
        selector: String,
        /// The key file to write.
        #[arg(long, value_name = "KEYFILE")]
        out: PathBuf,
    },
}

/// The ports; the `--no-X` switch and the `--X ADDR` option override each
/// other, the last given wins.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Ports")]
struct PortArgs {
    /// MTA port: local mail without AUTH, relay with AUTH [default: 127.0.0.1:2525]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr, overrides_with = "no_smtp")]
    smtp: Option<SocketAddr>,
    /// Do not open the MTA port
    #[arg(long, overrides_with = "smtp")]
    no_smtp: bool,
    /// Submission port, AUTH required [default: 127.0.0.1:2587]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr, overrides_with = "no_submission")]
    submission: Option<SocketAddr>,
    /// Do not open the submission port
    #[arg(long, overrides_with = "submission")]
    no_submission: bool,
    /// Implicit-TLS submission (RFC 8314) [default: off]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    smtps: Option<SocketAddr>,
    /// POP3 port with STLS over the same mailboxes [default: 127.0.0.1:1110]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr, overrides_with = "no_pop3")]
    pop3: Option<SocketAddr>,
    /// Do not open the POP3 port
    #[arg(long, overrides_with = "pop3")]
    no_pop3: bool,
    /// POP3 over implicit TLS [default: off]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pop3s: Option<SocketAddr>,
    /// IMAP port with STARTTLS over the same mailboxes [default: 127.0.0.1:1143]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr, overrides_with = "no_imap")]
    imap: Option<SocketAddr>,
    /// Do not open the IMAP port
    #[arg(long, overrides_with = "imap")]
    no_imap: bool,
    /// IMAP over implicit TLS [default: off]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    imaps: Option<SocketAddr>,
    /// The webmail over HTTP [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr, overrides_with = "no_http")]
    http: Option<SocketAddr>,
    /// Do not open the webmail's HTTP port
    #[arg(long, overrides_with = "http")]
    no_http: bool,
    /// The webmail over HTTPS, with the server's certificate [default: off]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    https: Option<SocketAddr>,
    /// PEM certificate chain (with --key) [default: self-signed, generated at start]
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// PEM private key (with --cert)
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Allow AUTH before TLS on any address [default: only on loopback]
    #[arg(long)]
    allow_plaintext_auth: bool,
    /// Accept and discard every message (benchmarks only)
    #[arg(long)]
    sink: bool,
    /// The largest message accepted, in bytes [default: 36700160]
    #[arg(long, value_name = "BYTES")]
    max_size: Option<usize>,
    /// The storage each account may use, all folders together, e.g. 500M
    /// or 2G (K, M, G: 1024-based) [default: no limit]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    quota: Option<u64>,
    /// The messages each account may keep, all folders together
    /// [default: no limit]
    #[arg(long, value_name = "N")]
    message_quota: Option<u64>,
}

/// Outbound mail and the queue.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Delivery and queue")]
struct DeliveryArgs {
    /// Deliver DOMAIN to HOST:PORT instead of its MX, repeatable
    #[arg(long = "route", value_name = "DOMAIN=HOST:PORT", value_parser = parse_route)]
    routes: Vec<(String, Route)>,
    /// Waits between delivery attempts, the last repeats [default: 1m,5m,15m,30m,1h,2h,4h]
    #[arg(long, value_name = "LIST", value_parser = parse_retry)]
    retry: Option<RetryList>,
    /// Give up and bounce after this long [default: 5d]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    expire: Option<Duration>,
    /// NOTIFY=DELAY notice after this long in the queue [default: 4h]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    delay_warning: Option<Duration>,
    /// Outbound STARTTLS: opportunistic, or require (verified certificate,
    /// else retried then bounced); DOMAIN= for one domain, repeatable
    /// [default: opportunistic]
    #[arg(long = "tls-policy", value_name = "[DOMAIN=]MODE", value_parser = parse_tls_policy)]
    tls_policies: Vec<String>,
    /// PEM CAs that `require` and MTA-STS trust [default: the Mozilla roots]
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Ignore MTA-STS policies (RFC 8461) of recipient domains; a DOMAIN=
    /// --tls-policy or a --route wins over them anyway
    #[arg(long)]
    no_mta_sts: bool,
    /// The HTTPS port of MTA-STS policy hosts, for tests [default: 443]
    #[arg(long, value_name = "PORT")]
    mta_sts_port: Option<u16>,
    /// The port for MX and A/AAAA hosts [default: 25]
    #[arg(long, value_name = "PORT")]
    mx_port: Option<u16>,
    /// The DNS server to ask (UDP) [default: the system's, /etc/resolv.conf]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    dns: Option<SocketAddr>,
    /// Deliveries at once [default: 8]
    #[arg(long, value_name = "N")]
    queue_workers: Option<usize>,
    /// Deliveries at once to one domain [default: 2]
    #[arg(long, value_name = "N")]
    max_per_destination: Option<usize>,
}

/// Limits and defences against abuse.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Defences")]
struct DefenceArgs {
    /// Connections served at once, all ports [default: 500]
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// How connections are served: a pool of one thread per CPU (Linux only), or a thread per connection [default: pool on Linux, threads elsewhere]
    #[arg(long, value_name = "MODEL")]
    connections: Option<Connections>,
    /// Connections one client address (IPv6: /64) may hold [default: 20]
    #[arg(long, value_name = "N")]
    max_per_address: Option<usize>,
    /// New connections per address and period, 0 = off [default: 600/1m]
    #[arg(long, value_name = "N/DURATION", value_parser = parse_rate)]
    conn_rate: Option<(u32, Duration)>,
    /// Delay before the first AUTH failure is answered; doubles [default: 500ms]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    auth_delay: Option<Duration>,
    /// The longest such delay [default: 8s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    auth_max_delay: Option<Duration>,
    /// AUTH failures before the connection is closed [default: 3]
    #[arg(long, value_name = "N")]
    auth_max_failures: Option<u32>,
    /// AUTH failures of one address (in 10 minutes) before it is blocked [default: 10]
    #[arg(long, value_name = "N")]
    auth_block_after: Option<u32>,
    /// How long such a block lasts [default: 15m]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    auth_block_for: Option<Duration>,
    /// Bad commands and refused recipients before 421 and close [default: 20]
    #[arg(long, value_name = "N")]
    max_errors: Option<u32>,
    /// Recipients per transaction (at least 100) [default: 100]
    #[arg(long, value_name = "N")]
    max_recipients: Option<usize>,
    /// Recipients per connection [default: 1000]
    #[arg(long, value_name = "N")]
    max_recipients_per_connection: Option<usize>,
    /// Transactions per connection [default: 100]
    #[arg(long, value_name = "N")]
    max_transactions: Option<u32>,
    /// Recipients an account that logged in may send to per period, all
    /// its sessions together (450 4.7.1 beyond: a stolen password sends
    /// little), e.g. 500/1h; 0 = off [default: 0]
    #[arg(long, value_name = "N/DURATION", value_parser = parse_rate)]
    send_rate: Option<(u32, Duration)>,
    /// Refuse mail (554 5.7.1, postmaster excepted) from clients whose
    /// address this DNS blocklist (RFC 5782) lists: an answer from
    /// 127.0.0.2 to 127.0.0.255, or one of CODES; repeatable. Clients of
    /// --trusted-networks and users who logged in are not looked up
    #[arg(long = "dnsbl", value_name = "ZONE[=CODE,...]", value_parser = crate::dnsbl::Dnsbl::parse)]
    dnsbl: Vec<crate::dnsbl::Dnsbl>,
    /// Greylist (RFC 6647): refuse for now (451 4.7.1) mail from a new
    /// client network, sender and recipient until it is retried after
    /// DELAY, e.g. 5m; a network that retried is then let through [default: off]
    #[arg(long, value_name = "DELAY", value_parser = parse_duration)]
    greylist: Option<Duration>,
}

/// A `--retry` list: its own type, because clap reads an `Option<Vec<_>>`
/// as a repeatable option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RetryList(pub(crate) Vec<Duration>);

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

/// Parses a size such as `500M`: a number of bytes, or of KiB, MiB or
/// GiB with the suffix `K`, `M` or `G` (either case).
pub(crate) fn parse_size(s: &str) -> Result<u64, ConfigError> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return err(format!("bad size {s:?}: the units are K, M and G")),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| ConfigError(format!("bad size {s:?}: expected a number")))
}

/// Parses a comma-separated retry list such as `1m,5m,15m`.
pub(crate) fn parse_retry(s: &str) -> Result<RetryList, ConfigError> {
    let list = s
        .split(',')
        .map(parse_duration)
        .collect::<Result<Vec<_>, _>>()?;
    if list.iter().any(|d| d.is_zero()) {
        return err("a retry interval must not be zero");
    }
    Ok(RetryList(list))
}

fn parse_addr(s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse()
        .map_err(|_| ConfigError("not an address such as 127.0.0.1:2525".into()))
}

/// Parses a domain name, to lower case.
fn parse_domain(s: &str) -> Result<String, ConfigError> {
    let d = s.to_ascii_lowercase();
    if !valid_domain(&d) {
        return err(format!("{d:?} is not a domain name"));
    }
    Ok(d)
}

/// `--hostname`: a domain name, as the config file's `hostname`.
fn parse_hostname(s: &str) -> Result<String, ConfigError> {
    parse_domain(s).map_err(|e| ConfigError(format!("hostname {}", e.0)))
}

/// The NAME of `mailserver passwd NAME`, to lower case.
fn parse_account_name(s: &str) -> Result<String, ConfigError> {
    if !valid_user_name(s) {
        return err("the name must be letters, digits, '.', '_', '-' or '+'");
    }
    Ok(s.to_ascii_lowercase())
}

/// Checks one `--tls-policy` value (`MODE` or `DOMAIN=MODE`); it is added
/// to the policy once the config file's are in.
fn parse_tls_policy(s: &str) -> Result<String, String> {
    crate::tls::OutboundPolicy::default().add(s)?;
    Ok(s.to_string())
}

/// The networks exempt from SPF by default: loopback.
fn default_trusted_networks() -> Vec<(IpAddr, u8)> {
    vec![
        (IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8),
        (IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), 128),
    ]
}

/// Networks given on the command line (one argument, so that clap takes
/// the list as one value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Networks(pub(crate) Vec<(IpAddr, u8)>);

/// `CIDR,...` (an address alone is a /32 or /128), or `none`.
pub(crate) fn parse_networks(s: &str) -> Result<Networks, ConfigError> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(Networks(Vec::new()));
    }
    s.split(',')
        .map(|n| {
            let n = n.trim();
            let bad = || ConfigError(format!("network {n:?}: expected ADDRESS[/LENGTH]"));
            let (addr, len) = match n.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (n, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let len = match len {
                None => max,
                Some(l) => l.parse::<u8>().ok().filter(|&l| l <= max).ok_or_else(bad)?,
            };
            Ok((addr, len))
        })
        .collect::<Result<_, _>>()
        .map(Networks)
}

/// Whether `ip` is in one of `nets` (an IPv4-mapped IPv6 address counts
/// as IPv4).
pub(crate) fn in_networks(ip: IpAddr, nets: &[(IpAddr, u8)]) -> bool {
    let ip = crate::spf::unmapped(ip);
    nets.iter()
        .any(|&(net, len)| crate::spf::in_net(ip, net, len))
}

/// `--public-url`: `https://` and a host, an optional port, nothing
/// after (an optional final slash is dropped).
pub(crate) fn parse_public_url(s: &str) -> Result<String, ConfigError> {
    let bad = || ConfigError(format!("public URL {s:?}: expected https://HOST[:PORT]"));
    let rest = s.strip_prefix("https://").ok_or_else(bad)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (rest, None),
    };
    let host_ok = valid_domain(&host.to_ascii_lowercase())
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok());
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p != 0));
    if !host_ok || !port_ok {
        return Err(bad());
    }
    Ok(format!("https://{}", rest.to_ascii_lowercase()))
}

/// Parses `ADDR=FILE` (`--list`): a closed list, its members in FILE.
fn parse_list(s: &str) -> Result<(String, crate::list::ListConf), ConfigError> {
    let bad = || ConfigError(format!("--list {s:?}: expected ADDR=FILE"));
    let (addr, file) = s.split_once('=').ok_or_else(bad)?;
    if !is_address(addr) || file.is_empty() {
        return Err(bad());
    }
    Ok((
        addr.to_ascii_lowercase(),
        crate::list::ListConf {
            file: PathBuf::from(file),
            open: false,
        },
    ))
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
            "rate {s:?}: expected N/DURATION such as 600/1m, or 0"
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

/// Sets `slot` to `v` when there is one.
fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

impl Config {
    /// Parses the arguments after the program name. A bad or unknown
    /// option, a bad config file and `--help` are clap errors: `exit()`
    /// prints them (help on stdout, exit 0; errors on stderr, exit 2).
    pub(crate) fn parse<I, S>(args: I) -> Result<Command, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        use clap::{CommandFactory as _, Parser as _};
        let given: Vec<String> = args.into_iter().map(Into::into).collect();
        let argv = std::iter::once("mailserver".to_string()).chain(given.iter().cloned());
        let args = Args::try_parse_from(argv)?;
        match args.command {
            Some(Sub::Passwd { name }) => return Ok(Command::Passwd { name }),
            Some(Sub::DkimKeygen {
                domain,
                selector,
                out,
            }) => {
                return Ok(Command::DkimKeygen {
                    domain,
                    selector,
                    out,
                });
            }
            None => {}
        }
        Self::build(args)
            .map(|c| {
                Command::Run(Box::new(Config {
                    argv: Secret::new(given),
                    ..c
                }))
            })
            .map_err(|e| Args::command().error(clap::error::ErrorKind::ValueValidation, e))
    }

    /// The configuration made again from the same arguments, with the
    /// config file as it is now; an error (a file that no longer reads)
    /// as the message `--config` would print.
    pub(crate) fn reread(&self) -> Result<Config, String> {
        match Self::parse(self.argv.expose().iter().cloned()) {
            Ok(Command::Run(c)) => Ok(*c),
            Ok(_) => Err("the arguments name a subcommand".into()),
            Err(e) => Err(e.to_string().trim_end().to_string()),
        }
    }

    /// The configuration: the defaults, then the config file, then the
    /// options given.
    fn build(args: Args) -> Result<Config, ConfigError> {
        let mut c = Config::defaults();
        if let Some(path) = &args.config {
            c.apply_file(crate::config_file::load(path)?)?;
            c.config_file = Some(path.clone());
        }
        c.apply_args(args)?;
        c.check()?;
        Ok(c)
    }

    /// Every setting's default, before the file and the options.
    fn defaults() -> Config {
        let addr = |s: &str| s.parse().ok();
        Config {
            config_file: None,
            argv: Secret::new(Vec::new()),
            data: PathBuf::from("./mail-data"),
            domains: Vec::new(),
            users: Vec::new(),
            demo_account: false,
            smtp: addr("127.0.0.1:2525"),
            submission: addr("127.0.0.1:2587"),
            smtps: None,
            pop3: addr("127.0.0.1:1110"),
            pop3s: None,
            imap: addr("127.0.0.1:1143"),
            imaps: None,
            http: addr("127.0.0.1:8080"),
            https: None,
            routes: HashMap::new(),
            retry: [60, 300, 900, 1800, 3600, 7200, 14400]
                .map(Duration::from_secs)
                .to_vec(),
            expire: Duration::from_secs(5 * 86400),
            delay_warning: Duration::from_secs(4 * 3600),
            cert: None,
            key: None,
            allow_plaintext_auth: false,
            sink: false,
            dkim_verify: true,
            spf: true,
            trusted_networks: default_trusted_networks(),
            dmarc: true,
            dmarc_reports: None,
            dnsbl: Vec::new(),
            greylist: None,
            // Filled from the first domain by `check` unless given.
            hostname: String::new(),
            max_size: 35 * 1024 * 1024,
            quotas: Quotas::default(),
            mx_port: 25,
            dns: None,
            limits: ConnLimits::default(),
            connections: Connections::default_here(),
            auth: AuthPolicy::default(),
            session: SessionLimits::default(),
            runner: RunnerLimits::default(),
            aliases: BTreeMap::new(),
            lists: BTreeMap::new(),
            tls_policy: crate::tls::OutboundPolicy::default(),
            public_url: None,
            dkim: Vec::new(),
        }
    }

    /// The config file's settings over the defaults.
    fn apply_file(&mut self, f: crate::config_file::File) -> Result<(), ConfigError> {
        set(&mut self.data, f.data);
        if let Some(h) = f.hostname {
            self.hostname = parse_hostname(&h)?;
        }
        for d in f.domains.unwrap_or_default() {
            let d = parse_domain(&d).map_err(|e| ConfigError(format!("domains: {}", e.0)))?;
            if !self.domains.contains(&d) {
                self.domains.push(d);
            }
        }
        let l = &f.listen;
        for (slot, port, name) in [
            (&mut self.smtp, &l.smtp, "smtp"),
            (&mut self.submission, &l.submission, "submission"),
            (&mut self.smtps, &l.smtps, "smtps"),
            (&mut self.pop3, &l.pop3, "pop3"),
            (&mut self.pop3s, &l.pop3s, "pop3s"),
            (&mut self.imap, &l.imap, "imap"),
            (&mut self.imaps, &l.imaps, "imaps"),
            (&mut self.http, &l.http, "http"),
            (&mut self.https, &l.https, "https"),
        ] {
            if let Some(p) = port {
                *slot = p.addr(name)?;
            }
        }
        self.cert = f.tls.cert.or(self.cert.take());
        self.key = f.tls.key.or(self.key.take());
        self.tls_policy.ca = f.tls.ca;
        self.tls_policy.no_mta_sts = f.tls.mta_sts == Some(false);
        if let Some(m) = &f.tls.policy {
            self.tls_policy.add(m).map_err(ConfigError)?;
        }
        for (d, m) in &f.tls.domains {
            self.tls_policy
                .add(&format!("{d}={m}"))
                .map_err(ConfigError)?;
        }
        for (d, target) in &f.routes {
            let (d, r) = parse_route(&format!("{d}={target}"))?;
            self.routes.insert(d, r);
        }
        if let Some(r) = &f.retry {
            self.retry = parse_retry(r)?.0;
        }
        for (slot, v) in [
            (&mut self.expire, &f.expire),
            (&mut self.delay_warning, &f.delay_warning),
        ] {
            if let Some(v) = v {
                *slot = parse_duration(v)?;
            }
        }
        set(&mut self.max_size, f.max_size);
        if let Some(q) = &f.quota {
            self.quotas.storage = Some(parse_size(q)?);
        }
        for (name, q) in &f.quotas {
            let limit = match q.trim() {
                "none" => None,
                q => Some(
                    parse_size(q).map_err(|e| ConfigError(format!("quotas.{name}: {}", e.0)))?,
                ),
            };
            self.quotas
                .storages
                .insert(name.to_ascii_lowercase(), limit);
        }
        self.quotas.messages = f.message_quota.or(self.quotas.messages);
        for (name, q) in &f.message_quotas {
            use crate::config_file::Count;
            let limit = match q {
                Count::Number(n) => Some(*n),
                Count::Word(w) if w.trim() == "none" => None,
                Count::Word(w) => {
                    return Err(ConfigError(format!(
                        "message_quotas.{name}: {w:?} is neither a number nor \"none\""
                    )));
                }
            };
            self.quotas
                .message_counts
                .insert(name.to_ascii_lowercase(), limit);
        }
        set(&mut self.mx_port, f.mx_port);
        self.dns = f.dns.or(self.dns);
        let l = &f.limits;
        set(&mut self.limits.max_total, l.max_connections);
        set(&mut self.connections, l.connections);
        set(&mut self.limits.max_per_address, l.max_per_address);
        if let Some(r) = &l.conn_rate {
            (self.limits.rate, self.limits.rate_period) = parse_rate(r)?;
        }
        if let Some(r) = &l.send_rate {
            self.session.send_rate = parse_rate(r)?;
        }
        set(&mut self.session.max_errors, l.max_errors);
        set(&mut self.session.max_recipients, l.max_recipients);
        set(
            &mut self.session.max_recipients_per_connection,
            l.max_recipients_per_connection,
        );
        set(&mut self.session.max_transactions, l.max_transactions);
        set(&mut self.runner.workers, l.queue_workers);
        set(&mut self.runner.per_destination, l.max_per_destination);
        let a = &f.auth;
        for (slot, v) in [
            (&mut self.auth.delay, &a.delay),
            (&mut self.auth.max_delay, &a.max_delay),
            (&mut self.auth.block_for, &a.block_for),
        ] {
            if let Some(v) = v {
                *slot = parse_duration(v)?;
            }
        }
        set(&mut self.auth.max_per_connection, a.max_failures);
        set(&mut self.auth.block_after, a.block_after);
        set(&mut self.allow_plaintext_auth, a.allow_plaintext);
        for (name, keys) in &f.accounts {
            if !valid_user_name(name) {
                return err(format!(
                    "accounts: {name:?}: letters, digits, '.', '_', '-' or '+'"
                ));
            }
            let c = crate::accounts::parse_scram(keys)
                .map_err(|e| ConfigError(format!("accounts.{name}: {e}")))?;
            self.users.push(User {
                name: name.to_ascii_lowercase(),
                credential: Credential::Scram(c),
            });
        }
        for (from, to) in f.aliases {
            check_alias(&from, &to)?;
            self.aliases.insert(from.to_ascii_lowercase(), to);
        }
        for (addr, list) in f.lists {
            if !is_address(&addr) {
                return err(format!(
                    "lists.{addr:?}: addresses such as user@example.org"
                ));
            }
            self.lists.insert(addr.to_ascii_lowercase(), list);
        }
        if let Some(u) = &f.public_url {
            self.public_url = Some(parse_public_url(u)?);
        }
        for d in &f.dkim {
            self.dkim
                .push(crate::dkim::parse_conf(d).map_err(|e| ConfigError(format!("dkim: {e}")))?);
        }
        if let Some(r) = &f.dmarc_reports {
            self.dmarc_reports = Some(parse_duration(r)?);
        }
        if let Some(g) = &f.greylist {
            self.greylist = Some(parse_duration(g)?);
        }
        for z in &f.dnsbl {
            self.dnsbl.push(
                crate::dnsbl::Dnsbl::parse(z).map_err(|e| ConfigError(format!("dnsbl: {e}")))?,
            );
        }
        Ok(())
    }

    /// The options given on the command line over the file and defaults.
    fn apply_args(&mut self, a: Args) -> Result<(), ConfigError> {
        set(&mut self.data, a.data);
        if !a.domains.is_empty() {
            // The command line's domains replace the file's.
            self.domains.clear();
            for d in a.domains {
                if !self.domains.contains(&d) {
                    self.domains.push(d);
                }
            }
        }
        let file_users = self.users.len();
        for u in a.users {
            if self.users[file_users..].iter().any(|x| x.name == u.name) {
                return err(format!("--user {}: given twice", u.name));
            }
            // It replaces an account of the same name from the file.
            match self.users[..file_users]
                .iter()
                .position(|x| x.name == u.name)
            {
                Some(i) => self.users[i] = u,
                None => self.users.push(u),
            }
        }
        self.aliases.extend(a.aliases);
        self.lists.extend(a.lists);
        if let Some(h) = a.hostname {
            self.hostname = h;
        }
        self.public_url = a.public_url.or(self.public_url.take());
        self.dkim.extend(a.dkim);
        self.dkim_verify &= !a.no_dkim_verify;
        self.spf &= !a.no_spf;
        self.dmarc &= !a.no_dmarc;
        self.dmarc_reports = a.dmarc_reports.or(self.dmarc_reports);
        if self.dmarc_reports.is_some_and(|d| d.is_zero()) {
            return err("--dmarc-reports: the interval must not be zero");
        }
        if let Some(nets) = a.trusted_networks {
            self.trusted_networks = nets.0;
        }
        let p = a.ports;
        for (slot, on, off) in [
            (&mut self.smtp, p.smtp, p.no_smtp),
            (&mut self.submission, p.submission, p.no_submission),
            (&mut self.smtps, p.smtps, false),
            (&mut self.pop3, p.pop3, p.no_pop3),
            (&mut self.pop3s, p.pop3s, false),
            (&mut self.imap, p.imap, p.no_imap),
            (&mut self.imaps, p.imaps, false),
            (&mut self.http, p.http, p.no_http),
            (&mut self.https, p.https, false),
        ] {
            if on.is_some() {
                *slot = on;
            }
            if off {
                *slot = None;
            }
        }
        self.cert = p.cert.or(self.cert.take());
        self.key = p.key.or(self.key.take());
        self.allow_plaintext_auth |= p.allow_plaintext_auth;
        self.sink |= p.sink;
        set(&mut self.max_size, p.max_size);
        self.quotas.storage = p.quota.or(self.quotas.storage);
        self.quotas.messages = p.message_quota.or(self.quotas.messages);
        let d = a.delivery;
        self.routes.extend(d.routes);
        set(&mut self.retry, d.retry.map(|r| r.0));
        set(&mut self.expire, d.expire);
        set(&mut self.delay_warning, d.delay_warning);
        for m in &d.tls_policies {
            self.tls_policy.add(m).map_err(ConfigError)?;
        }
        if d.tls_ca.is_some() {
            self.tls_policy.ca = d.tls_ca;
        }
        self.tls_policy.no_mta_sts |= d.no_mta_sts;
        self.tls_policy.mta_sts_port = d.mta_sts_port.or(self.tls_policy.mta_sts_port);
        set(&mut self.mx_port, d.mx_port);
        self.dns = d.dns.or(self.dns);
        set(&mut self.runner.workers, d.queue_workers);
        set(&mut self.runner.per_destination, d.max_per_destination);
        let x = a.defences;
        self.dnsbl.extend(x.dnsbl);
        self.greylist = x.greylist.or(self.greylist);
        set(&mut self.limits.max_total, x.max_connections);
        set(&mut self.connections, x.connections);
        set(&mut self.limits.max_per_address, x.max_per_address);
        set(&mut self.session.send_rate, x.send_rate);
        if let Some(r) = x.conn_rate {
            (self.limits.rate, self.limits.rate_period) = r;
        }
        set(&mut self.auth.delay, x.auth_delay);
        set(&mut self.auth.max_delay, x.auth_max_delay);
        set(&mut self.auth.max_per_connection, x.auth_max_failures);
        set(&mut self.auth.block_after, x.auth_block_after);
        set(&mut self.auth.block_for, x.auth_block_for);
        set(&mut self.session.max_errors, x.max_errors);
        set(&mut self.session.max_recipients, x.max_recipients);
        set(
            &mut self.session.max_recipients_per_connection,
            x.max_recipients_per_connection,
        );
        set(&mut self.session.max_transactions, x.max_transactions);
        Ok(())
    }

    /// The checks on the settings together, and the defaults that depend
    /// on others (domain, account, hostname).
    fn check(&mut self) -> Result<(), ConfigError> {
        if self.cert.is_some() != self.key.is_some() {
            return err("--cert and --key go together");
        }
        if self.tls_policy.ca.is_some() {
            // A CA file that does not read is a mistake to report now.
            self.tls_policy
                .client_config(crate::tls::OutboundMode::Require)
                .map_err(ConfigError)?;
        }
        if self.domains.is_empty() {
            self.domains.push("localhost".to_string());
        }
        if self.users.is_empty() {
            self.users.push(User {
                name: "demo".into(),
                credential: Credential::Plain(Secret::new("demo".into())),
            });
            self.demo_account = true;
        }
        for (table, names) in [
            ("quotas", self.quotas.storages.keys().collect::<Vec<_>>()),
            (
                "message_quotas",
                self.quotas.message_counts.keys().collect(),
            ),
        ] {
            if let Some(name) = names
                .into_iter()
                .find(|q| !self.users.iter().any(|u| &u.name == *q))
            {
                return err(format!("{table}: {name:?} is no account"));
            }
        }
        if self.connections == Connections::Pool && !cfg!(target_os = "linux") {
            return err("--connections pool needs Linux (epoll); use threads");
        }
        if self.limits.max_total == 0 || self.limits.max_per_address == 0 {
            return err("--max-connections and --max-per-address must be at least 1");
        }
        if self.runner.workers == 0 || self.runner.per_destination == 0 {
            return err("--queue-workers and --max-per-destination must be at least 1");
        }
        if self.auth.max_per_connection == 0
            || self.auth.block_after == 0
            || self.session.max_errors == 0
        {
            return err(
                "--auth-max-failures, --auth-block-after and --max-errors must be at least 1",
            );
        }
        if self.hostname.is_empty() {
            self.hostname = self.domains[0].clone();
        }
        Ok(())
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

/// The quotas of the accounts: a default for each resource and the
/// accounts with a limit of their own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Quotas {
    /// The storage each account may use, in bytes, all folders together
    /// (`--quota`; IMAP QUOTA, RFC 9208); none: no limit.
    pub(crate) storage: Option<u64>,
    /// Accounts with a quota of their own (the config file's `[quotas]`:
    /// a size, or `none` for no limit), over `storage`.
    pub(crate) storages: BTreeMap<String, Option<u64>>,
    /// The messages each account may keep, all folders together
    /// (`--message-quota`; IMAP QUOTA's `MESSAGE`, RFC 9208 §5.2); none:
    /// no limit.
    pub(crate) messages: Option<u64>,
    /// Accounts with a message quota of their own (`[message_quotas]`),
    /// over `messages`.
    pub(crate) message_counts: BTreeMap<String, Option<u64>>,
}

impl Quotas {
    /// Both limits of `user`'s quota: its own where it has one, else the
    /// default.
    pub(crate) fn limits(&self, user: &str) -> crate::mailstore::Limits {
        let of = |own: &BTreeMap<String, Option<u64>>, default| match own.get(user) {
            Some(q) => *q,
            None => default,
        };
        crate::mailstore::Limits {
            storage: of(&self.storages, self.storage),
            messages: of(&self.message_counts, self.messages),
        }
    }

    /// Whether any account has a quota (IMAP then offers QUOTA).
    pub(crate) fn any(&self) -> bool {
        self.storage.is_some()
            || self.storages.values().any(Option::is_some)
            || self.messages.is_some()
            || self.message_counts.values().any(Option::is_some)
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
    fn trusted_networks_default_and_list() {
        let n = parse_networks("192.0.2.0/24, 2001:db8::/32,10.0.0.1")
            .unwrap()
            .0;
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_networks(ip("192.0.2.77"), &n));
        assert!(in_networks(ip("::ffff:192.0.2.77"), &n), "IPv4-mapped");
        assert!(in_networks(ip("10.0.0.1"), &n));
        assert!(!in_networks(ip("10.0.0.2"), &n));
        assert!(in_networks(ip("2001:db8::5"), &n));
        assert!(parse_networks("none").unwrap().0.is_empty());
        for bad in ["192.0.2.0/33", "x", "::/129", "", "192.0.2.0/"] {
            assert!(parse_networks(bad).is_err(), "{bad:?}");
        }
        assert!(in_networks(ip("127.0.0.9"), &default_trusted_networks()));
        assert!(in_networks(ip("::1"), &default_trusted_networks()));
        assert!(!in_networks(ip("192.0.2.1"), &default_trusted_networks()));
        // The flag, and its first name.
        for flag in ["--trusted-networks", "--spf-exempt"] {
            let c = run(&[flag, "192.0.2.0/24"]);
            assert!(in_networks(ip("192.0.2.9"), &c.trusted_networks), "{flag}");
            assert!(!in_networks(ip("127.0.0.1"), &c.trusted_networks), "{flag}");
        }
        assert!(in_networks(ip("127.0.0.1"), &run(&[]).trusted_networks));
    }

    #[test]
    fn defaults() {
        let c = run(&[]);
        assert_eq!(c.data, PathBuf::from("./mail-data"));
        assert_eq!(c.domains, vec!["localhost"]);
        assert_eq!(c.users.len(), 1);
        assert_eq!(c.users[0].name, "demo");
        assert_eq!(c.users[0].demo_password(), Some("demo"));
        assert!(c.demo_account);
        assert!(
            !run(&["--user", "demo:demo"]).demo_account,
            "an account given"
        );
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
            "--send-rate",
            "50/1h",
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
                max_transactions: 9,
                send_rate: (50, Duration::from_secs(3600)),
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
    fn public_url_dkim_and_keygen() {
        assert_eq!(run(&[]).public_url, None);
        for (given, url) in [
            ("https://Mail.A.test", "https://mail.a.test"),
            ("https://mail.a.test:8443/", "https://mail.a.test:8443"),
            ("https://[::1]:8443", "https://[::1]:8443"),
        ] {
            assert_eq!(
                run(&["--public-url", given]).public_url.as_deref(),
                Some(url)
            );
        }
        for bad in [
            "http://mail.a.test",
            "https://",
            "https://a.test/path",
            "https://a.test:0",
            "https://a.test:x",
        ] {
            assert!(Config::parse(["--public-url", bad]).is_err(), "{bad}");
        }
        assert!(run(&[]).dnsbl.is_empty());
        assert_eq!(run(&[]).quotas.storage, None);
        assert!(!run(&[]).quotas.any());
        assert_eq!(run(&[]).greylist, None);
        assert_eq!(run(&[]).dmarc_reports, None);
        assert!(Config::parse(["--dmarc-reports", "0s"]).is_err());
        assert_eq!(
            run(&["--greylist", "90s"]).greylist,
            Some(Duration::from_secs(90))
        );
        assert_eq!(run(&["--quota", "500M"]).quotas.storage, Some(500 << 20));
        let c = run(&["--message-quota", "7"]);
        assert_eq!(
            (
                c.quotas.limits("demo").messages,
                c.quotas.limits("demo").storage
            ),
            (Some(7), None)
        );
        assert!(c.quotas.any());
        for (given, bytes) in [("0", 0), ("2g", 2 << 30), ("12K", 12 << 10), ("77", 77)] {
            assert_eq!(parse_size(given).unwrap(), bytes, "{given}");
        }
        for bad in ["", "M", "5T", "1.5G", "99999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        let c = run(&["--dnsbl", "bl.a.test", "--dnsbl", "bl.b.test=127.0.0.4"]);
        assert_eq!(c.dnsbl.len(), 2);
        assert_eq!(c.dnsbl[1].zone, "bl.b.test");
        assert!(Config::parse(["--dnsbl", "bl.a.test=x"]).is_err());
        let c = run(&["--dkim", "a.test:s1:/k1", "--dkim", "b.test:s2:/k2"]);
        assert_eq!(c.dkim.len(), 2);
        assert_eq!(c.dkim[1].selector, "s2");
        assert!(Config::parse(["--dkim", "a.test"]).is_err());
        match Config::parse([
            "dkim-keygen",
            "--domain",
            "a.test",
            "--selector",
            "s1",
            "--out",
            "/k",
        ]) {
            Ok(Command::DkimKeygen {
                domain,
                selector,
                out,
            }) => assert_eq!(
                (domain.as_str(), selector.as_str(), out),
                ("a.test", "s1", PathBuf::from("/k"))
            ),
            other => panic!("{other:?}"),
        }
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
public_url = "https://mail.example.org"
dkim = ["example.org:s1:/etc/dkim.pem"]
dnsbl = ["bl.example.net=127.0.0.4"]
quota = "1G"
message_quota = 500
greylist = "5m"
dmarc_reports = "1d"
[listen]
smtp = "127.0.0.1:25"
pop3 = false
http = false
https = "127.0.0.1:8443"
[limits]
max_connections = 50
max_per_address = 5
connections = "threads"
[auth]
block_after = 4
[accounts]
alice = "{keys}"
bob = "{keys}"
[aliases]
"Info@example.org" = ["alice@example.org", "x@elsewhere.test"]
[lists."team@example.org"]
file = "/srv/team"
[quotas]
Alice = "2G"
bob = "none"
[message_quotas]
alice = 1000
bob = "none"
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
        assert_eq!(c.connections, Connections::Threads);
        assert_eq!(c.auth.block_after, 4);
        assert_eq!(c.users.len(), 2, "no demo account when the file has some");
        assert!(c.users.iter().all(|u| u.demo_password().is_none()));
        assert_eq!(c.aliases["info@example.org"].len(), 2);
        assert_eq!(c.lists["team@example.org"].file, PathBuf::from("/srv/team"));
        assert_eq!(c.public_url.as_deref(), Some("https://mail.example.org"));
        assert_eq!(c.dkim[0].key, PathBuf::from("/etc/dkim.pem"));
        assert_eq!(
            c.dnsbl,
            [crate::dnsbl::Dnsbl::parse("bl.example.net=127.0.0.4").unwrap()]
        );
        assert_eq!(c.quotas.storage, Some(1 << 30));
        assert_eq!(c.quotas.limits("alice").storage, Some(2 << 30));
        assert_eq!(c.quotas.limits("bob").storage, None);
        assert!(c.quotas.any());
        assert_eq!(c.quotas.messages, Some(500));
        assert_eq!(c.quotas.limits("alice").messages, Some(1000));
        assert_eq!(c.quotas.limits("bob").messages, None);
        assert_eq!(
            c.quotas.limits("alice"),
            crate::mailstore::Limits {
                storage: Some(2 << 30),
                messages: Some(1000)
            }
        );
        assert_eq!(c.greylist, Some(Duration::from_secs(300)));
        assert_eq!(c.dmarc_reports, Some(Duration::from_secs(86400)));

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

        // Made again from the same arguments with the file as it is now
        // (the options still over it); a file that no longer reads is an
        // error, and the configuration in hand stays as it was.
        assert_eq!(c.config_file.as_deref(), Some(path.as_path()));
        std::fs::write(&path, "hostname = \"new.example.org\"\nquota = \"5M\"\n").unwrap();
        let again = c.reread().unwrap();
        assert_eq!(again.quotas.storage, Some(5 << 20));
        assert_eq!(again.hostname, "h.other.test");
        assert_eq!(again.argv.expose(), c.argv.expose());
        assert!(
            !format!("{c:?}").contains("bob:plain"),
            "no password in Debug"
        );
        std::fs::write(&path, "quota = [").unwrap();
        assert!(
            c.reread().unwrap_err().contains("quota"),
            "the file's error"
        );
        assert_eq!(run(&[]).config_file, None);

        for bad in [
            "[accounts]\nalice = \"secret\"",
            "[accounts]\n\"a b\" = \"x\"",
            "[aliases]\n\"info\" = [\"a@b.test\"]",
            "hostname = \"bad host\"",
            "[limits]\nconn_rate = \"5\"",
            "[quotas]\nnobody = \"1G\"",
            "[message_quotas]\nnobody = 5",
            "[message_quotas]\ndemo = \"lots\"",
            "[message_quotas]\ndemo = -1",
            "message_quota = \"5\"",
            "[quotas]\ndemo = \"lots\"",
            "quota = \"5T\"",
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
        assert_eq!(parse_retry("1s,2s").unwrap().0.len(), 2);
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
            &["--connections", "fibres"],
            &["--max-per-address", "x"],
            &["--conn-rate", "5"],
            &["--conn-rate", "5/0s"],
            &["--auth-max-failures", "0"],
        ] {
            assert!(Config::parse(args.iter().copied()).is_err(), "{args:?}");
        }
    }

    #[test]
    fn connections_default_to_the_systems_model_and_take_the_flag() {
        assert_eq!(run(&[]).connections, Connections::default_here());
        assert_eq!(
            run(&["--connections", "threads"]).connections,
            Connections::Threads
        );
        if cfg!(target_os = "linux") {
            assert_eq!(
                run(&["--connections", "pool"]).connections,
                Connections::Pool
            );
        } else {
            let pool = Config::parse(["--connections", "pool"]);
            assert!(pool.is_err(), "the pool is Linux's");
        }
    }

    fn error_kind(args: &[&str]) -> clap::error::ErrorKind {
        match Config::parse(args.iter().copied()) {
            Ok(c) => panic!("{args:?} parsed: {c:?}"),
            Err(e) => e.kind(),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory as _;
        Args::command().debug_assert();
    }

    #[test]
    fn unknown_and_bad_options_are_usage_errors() {
        use clap::error::ErrorKind;
        assert_eq!(error_kind(&["--frobnicate"]), ErrorKind::UnknownArgument);
        assert_eq!(error_kind(&["--data"]), ErrorKind::InvalidValue);
        assert_eq!(
            error_kind(&["--smtp", "nowhere"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            error_kind(&["--max-errors", "x"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(error_kind(&["--cert", "c.pem"]), ErrorKind::ValueValidation);
        // A bad combination found after parsing is a clap error too.
        assert_eq!(
            error_kind(&["--max-errors", "0"]),
            ErrorKind::ValueValidation
        );
        let e = Config::parse(["--user", "nopassword"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(
            text.contains("--user") && text.contains("NAME:PASSWORD"),
            "{text}"
        );
        // `passwd` takes no options, and the options no `passwd`.
        assert!(Config::parse(["--sink", "passwd", "a"]).is_err());
    }

    #[test]
    fn help_lists_every_option_with_its_doc() {
        use clap::CommandFactory as _;
        let e = Config::parse(["--help"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        assert_eq!(e.exit_code(), 0);
        let help = e.to_string();
        let cmd = Args::command();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            assert!(
                help.contains(&format!("--{long}")),
                "--{long} missing:\n{help}"
            );
            assert!(arg.get_help().is_some(), "--{long} has no doc");
        }
        // Every option of the hand-written parser this replaced, by name.
        let before = "config data domain user alias list smtp submission smtps pop3 pop3s \
                      imap imaps http https no-smtp no-submission no-pop3 no-imap no-http \
                      route retry expire delay-warning cert key tls-policy tls-ca \
                      allow-plaintext-auth sink hostname max-size mx-port dns \
                      max-connections max-per-address conn-rate auth-delay auth-max-delay \
                      auth-max-failures auth-block-after auth-block-for max-errors \
                      max-recipients max-recipients-per-connection max-transactions \
                      queue-workers max-per-destination";
        for name in before.split_whitespace() {
            assert!(
                cmd.get_arguments().any(|a| a.get_long() == Some(name)),
                "--{name} is gone"
            );
        }
        for heading in ["Ports:", "Delivery and queue:", "Defences:", "passwd"] {
            assert!(help.contains(heading), "{heading} missing:\n{help}");
        }
        assert!(help.contains("[default: 127.0.0.1:2525]"), "{help}");
    }

    #[test]
    fn repeated_options_collect_and_single_ones_take_the_last() {
        let c = run(&[
            "--alias",
            "a@x.test=b@x.test",
            "--alias=c@x.test=d@x.test,e@y.test",
            "--list",
            "l1@x.test=/f1",
            "--list",
            "l2@x.test=/f2",
            "--route",
            "r1.test=127.0.0.1:1",
            "--route",
            "r2.test=[::1]:2",
            "--tls-policy",
            "require",
            "--tls-policy",
            "Lax.test=opportunistic",
            "--max-size",
            "5",
            "--max-size",
            "6",
        ]);
        assert_eq!(c.aliases.len(), 2);
        assert_eq!(c.aliases["c@x.test"], ["d@x.test", "e@y.test"]);
        assert_eq!(c.lists.len(), 2);
        assert_eq!(c.routes.len(), 2);
        assert_eq!(c.routes["r2.test"].host, "::1");
        use crate::tls::OutboundMode;
        assert_eq!(c.tls_policy.for_domain("other.test"), OutboundMode::Require);
        assert_eq!(
            c.tls_policy.for_domain("lax.test"),
            OutboundMode::Opportunistic
        );
        assert_eq!(c.max_size, 6);
        // A port and its --no- switch: the last wins.
        assert_eq!(run(&["--smtp", "127.0.0.1:1", "--no-smtp"]).smtp, None);
        assert_eq!(
            run(&["--no-smtp", "--smtp", "127.0.0.1:1"]).smtp,
            Some("127.0.0.1:1".parse().unwrap())
        );
        assert_eq!(run(&["--no-imap", "--no-pop3"]).imap, None);
        assert!(Config::parse(["--user", "a:1", "--user", "A:2"]).is_err());
    }

    #[test]
    fn a_flag_overrides_the_file_value() {
        let dir = std::env::temp_dir().join(format!("mailwire-cfg-o-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("o.toml");
        std::fs::write(
            &path,
            "expire = \"2d\"\nretry = \"1m\"\n[listen]\nimap = \"127.0.0.1:9\"\n\
             [limits]\nconn_rate = \"5/1m\"\n[tls]\npolicy = \"require\"\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = run(&["--config", p]);
        assert_eq!(c.expire, Duration::from_secs(2 * 86400));
        assert_eq!(c.imap, Some("127.0.0.1:9".parse().unwrap()));
        assert_eq!(c.limits.rate, 5);
        let c = run(&[
            "--expire",
            "1h",
            "--retry",
            "2m,3m",
            "--no-imap",
            "--conn-rate",
            "0",
            "--tls-policy",
            "opportunistic",
            "--config",
            p,
        ]);
        assert_eq!(c.expire, Duration::from_secs(3600));
        assert_eq!(c.retry, [120, 180].map(Duration::from_secs));
        assert_eq!(c.imap, None);
        assert_eq!(c.limits.rate, 0);
        assert_eq!(
            c.tls_policy.for_domain("x.test"),
            crate::tls::OutboundMode::Opportunistic
        );
        let _ = std::fs::remove_dir_all(&dir);
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
}

//! The configuration file (`--config FILE`, TOML). Every key is optional
//! and has the meaning of the command-line option of the same name; the
//! options given on the command line override the file. Unknown keys are
//! errors, so that a misspelt limit does not go unnoticed.
//!
//! ```toml
//! data = "/var/lib/mailserver"
//! hostname = "mx.example.org"
//! domains = ["example.org", "example.net"]
//!
//! [listen]
//! smtp = "0.0.0.0:25"
//! submission = "0.0.0.0:587"
//! pop3 = "0.0.0.0:110"
//!
//! [accounts]   # written by `mailserver passwd NAME`
//! alice = "SCRAM-SHA-256$4096:...$...:..."
//!
//! [aliases]
//! "info@example.org" = ["alice@example.org", "bob@example.net"]
//!
//! [lists."team@example.org"]
//! file = "/var/lib/mailserver/team.members"
//! ```
//!
//! Top-level keys also include `public_url = "https://mail.example.org"`
//! (`--public-url`), `dkim = ["example.org:sel1:/etc/mail/dkim.pem"]`
//! (`--dkim`), `dnsbl = ["zen.spamhaus.org"]` (`--dnsbl`), `quota = "1G"`
//! (`--quota`), `greylist = "5m"` (`--greylist`), `dmarc_reports = "1d"`
//! (`--dmarc-reports`), and the table `[quotas]` (an account's own quota,
//! `alice = "5G"`, or `bob = "none"` for no limit); `message_quota =
//! 10000` (`--message-quota`) and `[message_quotas]` (`alice = 50000`,
//! `bob = "none"`) the same for the number of messages.
//!
//! Passwords are never in the file, only SCRAM-SHA-256 keys
//! ([`crate::accounts`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::ConfigError;

/// The ports to listen on; `false` turns a default port off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Listen {
    pub(crate) smtp: Option<Port>,
    pub(crate) submission: Option<Port>,
    pub(crate) smtps: Option<Port>,
    pub(crate) pop3: Option<Port>,
    pub(crate) pop3s: Option<Port>,
    pub(crate) imap: Option<Port>,
    pub(crate) imaps: Option<Port>,
    /// The webmail.
    pub(crate) http: Option<Port>,
    pub(crate) https: Option<Port>,
}

/// A number, or a word in its place (`"none"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Count {
    Number(u64),
    Word(String),
}

/// An address to listen on, or `false` for none.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Port {
    On(SocketAddr),
    Off(bool),
}

impl Port {
    /// The address, `None` for off; `true` is not a port.
    pub(crate) fn addr(&self, name: &str) -> Result<Option<SocketAddr>, ConfigError> {
        match self {
            Port::On(a) => Ok(Some(*a)),
            Port::Off(false) => Ok(None),
            Port::Off(true) => Err(ConfigError(format!(
                "listen.{name}: an address such as \"127.0.0.1:25\", or false"
            ))),
        }
    }
}

/// `[tls]`: the certificate chain and key (PEM), and the outbound policy
/// (`--tls-policy`, `--tls-ca`): `policy = "require"`, `ca = FILE`, and
/// `[tls.domains]` with `"example.org" = "opportunistic"` lines;
/// `mta_sts = false` as `--no-mta-sts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tls {
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) policy: Option<String>,
    pub(crate) ca: Option<PathBuf>,
    pub(crate) mta_sts: Option<bool>,
    #[serde(default)]
    pub(crate) domains: std::collections::BTreeMap<String, String>,
}

/// `[limits]`, as the options `--max-connections` and following.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limits {
    pub(crate) max_connections: Option<usize>,
    /// `"pool"` or `"threads"`.
    pub(crate) connections: Option<crate::config::Connections>,
    pub(crate) max_per_address: Option<usize>,
    /// `N/DURATION` or `"0"`.
    pub(crate) conn_rate: Option<String>,
    /// As `--send-rate`: `N/DURATION` or `"0"`.
    pub(crate) send_rate: Option<String>,
    pub(crate) max_errors: Option<u32>,
    pub(crate) max_recipients: Option<usize>,
    pub(crate) max_recipients_per_connection: Option<usize>,
    pub(crate) max_transactions: Option<u32>,
    /// Deliveries at once (`--queue-workers`).
    pub(crate) queue_workers: Option<usize>,
    /// Deliveries at once to one domain (`--max-per-destination`).
    pub(crate) max_per_destination: Option<usize>,
}

/// `[auth]`, as the options `--auth-*`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Auth {
    pub(crate) delay: Option<String>,
    pub(crate) max_delay: Option<String>,
    pub(crate) max_failures: Option<u32>,
    pub(crate) block_after: Option<u32>,
    pub(crate) block_for: Option<String>,
    /// Allow AUTH before TLS on any address (`--allow-plaintext-auth`).
    pub(crate) allow_plaintext: Option<bool>,
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    pub(crate) data: Option<PathBuf>,
    pub(crate) hostname: Option<String>,
    pub(crate) domains: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) listen: Listen,
    #[serde(default)]
    pub(crate) tls: Tls,
    /// Domain to `HOST:PORT`, as `--route`.
    #[serde(default)]
    pub(crate) routes: BTreeMap<String, String>,
    /// As `--retry`, e.g. `"1m,5m,15m"`.
    pub(crate) retry: Option<String>,
    pub(crate) expire: Option<String>,
    /// As `--delay-warning`.
    pub(crate) delay_warning: Option<String>,
    pub(crate) max_size: Option<usize>,
    /// As `--quota`, e.g. `"500M"`.
    pub(crate) quota: Option<String>,
    /// Account name to its own quota (`"2G"`, or `"none"`: no limit).
    #[serde(default)]
    pub(crate) quotas: BTreeMap<String, String>,
    /// As `--message-quota`: how many messages each account may keep.
    pub(crate) message_quota: Option<u64>,
    /// Account name to its own message quota (a number, or `"none"`).
    #[serde(default)]
    pub(crate) message_quotas: BTreeMap<String, Count>,
    pub(crate) mx_port: Option<u16>,
    pub(crate) dns: Option<SocketAddr>,
    #[serde(default)]
    pub(crate) limits: Limits,
    #[serde(default)]
    pub(crate) auth: Auth,
    /// Name to SCRAM-SHA-256 keys (`mailserver passwd NAME`).
    #[serde(default)]
    pub(crate) accounts: BTreeMap<String, String>,
    /// Address to the addresses it stands for.
    #[serde(default)]
    pub(crate) aliases: BTreeMap<String, Vec<String>>,
    /// List address to its members file (`--list`).
    #[serde(default)]
    pub(crate) lists: BTreeMap<String, crate::list::ListConf>,
    /// The webmail's HTTPS URL (`--public-url`).
    pub(crate) public_url: Option<String>,
    /// `DOMAIN:SELECTOR:KEYFILE` strings, as `--dkim`.
    #[serde(default)]
    pub(crate) dkim: Vec<String>,
    /// `ZONE[=CODE,...]` strings, as `--dnsbl`.
    #[serde(default)]
    pub(crate) dnsbl: Vec<String>,
    /// As `--greylist`, e.g. `"5m"`.
    pub(crate) greylist: Option<String>,
    /// As `--dmarc-reports`, e.g. `"1d"`.
    pub(crate) dmarc_reports: Option<String>,
}

/// Reads and parses the file.
pub(crate) fn load(path: &Path) -> Result<File, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("--config {}: {e}", path.display())))?;
    parse(&text).map_err(|e| ConfigError(format!("--config {}: {}", path.display(), e.0)))
}

/// Parses the text of a file.
pub(crate) fn parse(text: &str) -> Result<File, ConfigError> {
    // Keep the message short: toml's own points at the line and column.
    toml::from_str(text).map_err(|e| ConfigError(e.to_string().trim_end().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_file() {
        let f = parse(
            r#"
data = "/var/lib/mail"
hostname = "mx.example.org"
domains = ["example.org"]
retry = "1m,2m"
expire = "2d"
delay_warning = "1h"
max_size = 1000
mx_port = 2525
dns = "127.0.0.1:53"

[listen]
smtp = "127.0.0.1:25"
submission = false

[tls]
cert = "c.pem"
key = "k.pem"
mta_sts = false

[routes]
"example.com" = "127.0.0.1:2626"

[limits]
max_connections = 100
conn_rate = "30/1m"

[auth]
delay = "1s"
allow_plaintext = true

[accounts]
alice = "SCRAM-SHA-256$4096:c2FsdA==$a:b"

[aliases]
"info@example.org" = ["alice@example.org", "bob@example.net"]

[lists."team@example.org"]
file = "team.members"
open = true
"#,
        )
        .unwrap();
        assert_eq!(f.data.as_deref(), Some(Path::new("/var/lib/mail")));
        assert_eq!(f.domains.as_deref(), Some(&["example.org".to_string()][..]));
        assert_eq!(f.delay_warning.as_deref(), Some("1h"));
        assert_eq!(
            f.listen.smtp.as_ref().unwrap().addr("smtp").unwrap(),
            Some("127.0.0.1:25".parse().unwrap())
        );
        assert_eq!(
            f.listen.submission.as_ref().unwrap().addr("s").unwrap(),
            None
        );
        assert!(f.listen.pop3.is_none());
        assert_eq!(f.routes["example.com"], "127.0.0.1:2626");
        assert_eq!(f.tls.mta_sts, Some(false));
        assert_eq!(f.limits.max_connections, Some(100));
        assert_eq!(f.auth.allow_plaintext, Some(true));
        assert_eq!(f.accounts.len(), 1);
        assert_eq!(f.aliases["info@example.org"].len(), 2);
        assert_eq!(
            f.lists["team@example.org"],
            crate::list::ListConf {
                file: "team.members".into(),
                open: true
            }
        );
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let f = parse("").unwrap();
        assert!(f.data.is_none() && f.accounts.is_empty() && f.lists.is_empty());
    }

    #[test]
    fn mistakes_are_errors() {
        for bad in [
            "max_conections = 5",
            "[limits]\nmax_conections = 5",
            "[limits]\nconnections = \"fibres\"",
            "[listen]\nsmtp = true",
            "[listen]\nsmtp = \"nowhere\"",
            "domains = \"example.org\"",
            "[accounts]\nalice = 5",
            "data = ",
        ] {
            let r = parse(bad).and_then(|f| match &f.listen.smtp {
                Some(p) => p.addr("smtp").map(|_| ()),
                None => Ok(()),
            });
            assert!(r.is_err(), "{bad:?}");
        }
    }
}

//! An offline mail user agent over POP3 (RFC 1939): downloads a maildrop into
//! a local Maildir with the blocking driver `mailwire::blocking::Pop3Session`
//! (STLS, RFC 2595, or implicit TLS through rustls; the best login method).
//!
//! ```text
//! cargo run --example pop3 -- --server HOST:PORT --user U --password P \
//!     [--starttls | --tls] [--ca FILE | --insecure] [--auth-mech NAME] \
//!     [--keep | --delete] [--headers-only] --out DIR
//! ```
//!
//! - `--keep` (the default) leaves the messages on the server and records the
//!   UIDLs already stored in `DIR/.mailwire-pop3-uidl`; the next run fetches
//!   only new ones.
//! - `--delete` deletes each message on the server, but only after it was
//!   written, fsynced and renamed into `DIR/new/`; the deletions take effect
//!   at QUIT (RFC 1939 §6).
//! - `--headers-only` fetches `TOP n 0` (the header) instead of the message;
//!   such copies are not recorded as stored.
//! - `--auth-mech`: SCRAM-SHA-256, CRAM-MD5, PLAIN, LOGIN, APOP or USER
//!   (default: the best the server offers).
//!
//! Without `--starttls` or `--tls` the session is plaintext and passwords
//! may be sent in the clear (loopback tests). With them the certificate is
//! verified against the webpki roots, or the CAs of `--ca`; `--insecure`
//! accepts any (tests). Prints a line per message and a summary.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use mailwire::blocking::{Pop3Error, Pop3Options, Pop3Session, Security, Verification};
use mailwire::pop3::client::AuthChoice;
use mailwire::sasl::Mechanism;

const UIDL_FILE: &str = ".mailwire-pop3-uidl";

/// The command line.
#[derive(Debug, clap::Parser)]
#[command(name = "pop3", about = "Download a POP3 maildrop into a local Maildir")]
struct Args {
    /// The server, HOST:PORT.
    #[arg(long)]
    server: String,
    /// The user name.
    #[arg(long)]
    user: String,
    /// The password.
    #[arg(long)]
    password: String,
    /// STLS (RFC 2595), required.
    #[arg(long, conflicts_with = "tls")]
    starttls: bool,
    /// Implicit TLS (port 995).
    #[arg(long)]
    tls: bool,
    /// Trust only the CA certificates of this PEM file.
    #[arg(long, conflicts_with = "insecure")]
    ca: Option<PathBuf>,
    /// Accept any certificate (tests only).
    #[arg(long)]
    insecure: bool,
    /// SCRAM-SHA-256, CRAM-MD5, PLAIN, LOGIN, APOP or USER (default: the best offered).
    #[arg(long, value_parser = auth_choice)]
    auth_mech: Option<AuthChoice>,
    /// Leave the messages on the server (the default).
    #[arg(long, conflicts_with = "delete")]
    keep: bool,
    /// Delete each message on the server once stored.
    #[arg(long, conflicts_with = "headers_only")]
    delete: bool,
    /// Fetch the header only (TOP n 0).
    #[arg(long)]
    headers_only: bool,
    /// The Maildir to store into.
    #[arg(long)]
    out: PathBuf,
}

fn auth_choice(v: &str) -> Result<AuthChoice, String> {
    Ok(match v.to_ascii_uppercase().as_str() {
        "APOP" => AuthChoice::Apop,
        "USER" => AuthChoice::User,
        other => AuthChoice::Sasl(
            Mechanism::from_name(other.as_bytes())
                .ok_or_else(|| format!("unknown mechanism {v}"))?,
        ),
    })
}

// ----- the Maildir ------------------------------------------------------------

struct Maildir {
    root: PathBuf,
    seq: u64,
    uidl: File,
    have: HashSet<String>,
}

fn fsync_dir(p: &Path) -> io::Result<()> {
    File::open(p)?.sync_all()
}

impl Maildir {
    fn open(root: &Path) -> io::Result<Maildir> {
        for d in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(d))?;
        }
        let path = root.join(UIDL_FILE);
        let mut have = HashSet::new();
        if let Ok(f) = File::open(&path) {
            for line in io::BufReader::new(f).lines() {
                let line = line?;
                if !line.is_empty() {
                    have.insert(line);
                }
            }
        }
        let uidl = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Maildir {
            root: root.to_owned(),
            seq: 0,
            uidl,
            have,
        })
    }

    /// A unique name: time, pid, a counter, and the host part.
    fn name(&mut self) -> String {
        self.seq += 1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        format!(
            "{}.M{:06}P{}Q{}.mailwire-pop3",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            self.seq
        )
    }

    fn record_uid(&mut self, uid: &str) -> io::Result<()> {
        self.uidl.write_all(format!("{uid}\n").as_bytes())?;
        self.uidl.sync_all()?;
        self.have.insert(uid.to_owned());
        Ok(())
    }
}

// ----- the session --------------------------------------------------------------

#[derive(Default)]
struct Summary {
    fetched: u64,
    octets: u64,
    skipped: u64,
    deleted: u64,
    failed: u64,
}

fn connect(a: &Args) -> Result<Pop3Session, String> {
    let mut o = Pop3Options::new(&a.user, &a.password);
    o.transport.security = match (a.starttls, a.tls) {
        (true, _) => Security::StartTls,
        (_, true) => Security::Implicit,
        _ => Security::Plain,
    };
    if let Some(ca) = &a.ca {
        o.transport.verification =
            Verification::ca_file(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
    } else if a.insecure {
        eprintln!("pop3: warning: --insecure: the server certificate is not verified");
        o.transport.verification = Verification::InsecureAcceptAny;
    }
    o.machine.allow_plaintext_auth = o.transport.security == Security::Plain;
    if let Some(choice) = a.auth_mech {
        o.machine.auth = choice;
    }
    let pop = Pop3Session::connect(&a.server, o).map_err(|e| e.to_string())?;
    eprintln!("pop3: logged in with {:?}", pop.login_method());
    Ok(pop)
}

/// Retrieves message `number` into `tmp/`, fsyncs it and renames it into
/// `new/`; returns its name and size, or the session's error (the outer
/// error is a local file's).
fn store(
    pop: &mut Pop3Session,
    dir: &mut Maildir,
    number: u32,
    a: &Args,
) -> Result<Result<(String, u64), Pop3Error>, String> {
    let name = dir.name();
    let tmp = dir.root.join("tmp").join(&name);
    let mut file = File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let got = if a.headers_only {
        pop.top(number, 0, &mut file)
    } else {
        pop.retrieve(number, &mut file)
    };
    let size = match got {
        Ok(size) => size,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Ok(Err(e));
        }
    };
    file.sync_all()
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    let dest = dir.root.join("new").join(&name);
    fs::rename(&tmp, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    fsync_dir(&dir.root.join("new")).map_err(|e| e.to_string())?;
    Ok(Ok((name, size)))
}

fn run(a: &Args) -> Result<Summary, String> {
    let mut dir = Maildir::open(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let mut pop = connect(a)?;
    let mut s = Summary::default();
    let list = pop.list().map_err(|e| e.to_string())?;
    if list.iter().any(|m| m.uid.is_none()) {
        eprintln!("pop3: the server has no UIDL: every message is fetched");
    }
    for m in list {
        let stored = m.uid.as_ref().is_some_and(|u| dir.have.contains(u));
        let mut line = None;
        if stored {
            s.skipped += 1;
        } else {
            match store(&mut pop, &mut dir, m.number, a)? {
                Ok((name, size)) => {
                    s.fetched += 1;
                    s.octets += size;
                    if let Some(uid) = m.uid.as_deref().filter(|_| !a.headers_only) {
                        dir.record_uid(uid).map_err(|e| e.to_string())?;
                    }
                    let uid = m.uid.as_deref().map(|u| format!(" uid {u}"));
                    line = Some(format!(
                        "message {}: {size} octets{} -> new/{name}",
                        m.number,
                        uid.unwrap_or_default()
                    ));
                }
                Err(Pop3Error::Failed { status, .. }) => {
                    s.failed += 1;
                    println!("message {}: not retrieved: {status}", m.number);
                    continue;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        // Only now, with the copy on disk, may the original go.
        if a.delete {
            match pop.delete(m.number) {
                Ok(()) => {
                    s.deleted += 1;
                    line = line.map(|l| l + " (deleted at QUIT)");
                }
                Err(Pop3Error::Failed { status, .. }) => {
                    s.failed += 1;
                    println!("command failed: {status}");
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        if let Some(l) = line {
            println!("{l}");
        }
    }
    pop.quit().map_err(|e| format!("connection ended: {e}"))?;
    Ok(s)
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    match run(&args) {
        Ok(s) => {
            println!(
                "summary: {} fetched ({} octets), {} already stored, {} deleted, {} failed",
                s.fetched, s.octets, s.skipped, s.deleted, s.failed
            );
            if s.failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("pop3: {e}");
            ExitCode::FAILURE
        }
    }
}

//! An offline mail user agent over POP3 (RFC 1939): downloads a maildrop into
//! a local Maildir, built on `mailwire::pop3::client::Client` over a std
//! socket, with rustls for STLS (RFC 2595) and implicit TLS.
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
//! may be sent in the clear (loopback tests). Prints a line per message and
//! a summary.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mailwire::pop3::client::{AuthChoice, Client, CommandHandle, Event, Options, TlsMode};
use mailwire::pop3::{Command, MsgNum};
use mailwire::sasl::Mechanism;

const USAGE: &str = "usage: pop3 --server HOST:PORT --user U --password P [--starttls | --tls] \
[--ca FILE | --insecure] [--auth-mech NAME] [--keep | --delete] [--headers-only] --out DIR";

const UIDL_FILE: &str = ".mailwire-pop3-uidl";

#[derive(Debug)]
struct Args {
    server: String,
    user: String,
    password: String,
    tls: TlsMode,
    ca: Option<PathBuf>,
    insecure: bool,
    auth: AuthChoice,
    delete: bool,
    headers_only: bool,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        server: String::new(),
        user: String::new(),
        password: String::new(),
        tls: TlsMode::None,
        ca: None,
        insecure: false,
        auth: AuthChoice::Auto,
        delete: false,
        headers_only: false,
        out: PathBuf::new(),
    };
    let mut out = None;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--server" => a.server = value("--server")?,
            "--user" => a.user = value("--user")?,
            "--password" => a.password = value("--password")?,
            "--starttls" => a.tls = TlsMode::StartTls,
            "--tls" => a.tls = TlsMode::Implicit,
            "--ca" => a.ca = Some(PathBuf::from(value("--ca")?)),
            "--insecure" => a.insecure = true,
            "--auth-mech" => {
                let v = value("--auth-mech")?;
                a.auth = match v.to_ascii_uppercase().as_str() {
                    "APOP" => AuthChoice::Apop,
                    "USER" => AuthChoice::User,
                    other => AuthChoice::Sasl(
                        Mechanism::from_name(other.as_bytes())
                            .ok_or_else(|| format!("unknown mechanism {v}"))?,
                    ),
                };
            }
            "--keep" => a.delete = false,
            "--delete" => a.delete = true,
            "--headers-only" => a.headers_only = true,
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.server.is_empty() || a.user.is_empty() {
        return Err("--server and --user are required".into());
    }
    a.out = out.ok_or("--out is required")?;
    if a.delete && a.headers_only {
        return Err("--delete with --headers-only would delete messages never stored".into());
    }
    if a.tls != TlsMode::None && a.ca.is_none() && !a.insecure {
        return Err("TLS needs --ca FILE (a PEM certificate to trust) or --insecure".into());
    }
    Ok(a)
}

// ----- transport ------------------------------------------------------------

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

impl Stream {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Tls(t) => Some(&t.sock),
            Stream::Gone => None,
        }
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(data),
            Stream::Tls(t) => {
                t.write_all(data)?;
                t.flush()
            }
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => match t.read(buf) {
                // A peer that closes without close_notify: treat as EOF.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
            Stream::Gone => Ok(0),
        }
    }

    fn start_tls(&mut self, config: Arc<rustls::ClientConfig>, host: &str) -> Result<(), String> {
        let Stream::Plain(sock) = std::mem::replace(self, Stream::Gone) else {
            return Err("TLS is already running".into());
        };
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host}: {e}"))?;
        let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| format!("TLS handshake: {e}"))?;
        }
        *self = Stream::Tls(Box::new(tls));
        Ok(())
    }
}

fn tls_config(args: &Args) -> Result<Arc<rustls::ClientConfig>, String> {
    use mailwire::blocking::Verification;
    let verification = match &args.ca {
        Some(ca) => Verification::ca_file(ca).map_err(|e| format!("{}: {e}", ca.display()))?,
        None => {
            eprintln!("pop3: warning: --insecure: the server certificate is not verified");
            Verification::InsecureAcceptAny
        }
    };
    mailwire::blocking::tls::client_config(&verification).map_err(|e| e.to_string())
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

/// A message being written to `tmp/`.
struct Download {
    msg: MsgNum,
    uid: Option<String>,
    tmp: PathBuf,
    name: String,
    file: File,
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

struct Session {
    args: Args,
    maildir: Maildir,
    client: Client,
    /// UIDL answers by message number.
    uids: BTreeMap<u32, String>,
    sizes: BTreeMap<u32, u64>,
    uidl_handle: Option<CommandHandle>,
    list_handle: Option<CommandHandle>,
    listed: u8,
    retrievals: BTreeMap<CommandHandle, MsgNum>,
    current: Option<Download>,
    outstanding: usize,
    quit_sent: bool,
    summary: Summary,
}

impl Session {
    fn on_event(&mut self, ev: Event) -> Result<bool, String> {
        match ev {
            Event::Ready {
                method, greeting, ..
            } => {
                eprintln!(
                    "pop3: logged in with {method:?}: {}",
                    greeting.text.to_str_lossy()
                );
                self.uidl_handle = self.client.enqueue(Command::Uidl(None)).ok();
                self.list_handle = self.client.enqueue(Command::List(None)).ok();
            }
            Event::Uidl { handle, listings } if Some(handle) == self.uidl_handle => {
                for l in listings {
                    self.uids.insert(l.msg.get(), l.uid.to_string());
                }
                self.listed += 1;
            }
            Event::List { handle, listings } if Some(handle) == self.list_handle => {
                for l in listings {
                    self.sizes.insert(l.msg.get(), l.size);
                }
                self.listed += 1;
            }
            Event::Failed { handle, status } if Some(handle) == self.uidl_handle => {
                eprintln!(
                    "pop3: the server has no UIDL ({}): every message is fetched",
                    status.text.to_str_lossy()
                );
                self.listed += 1;
            }
            Event::Failed { handle, status } => {
                self.summary.failed += 1;
                if let Some(msg) = self.retrievals.remove(&handle) {
                    println!(
                        "message {msg}: not retrieved: {}",
                        status.text.to_str_lossy()
                    );
                    self.outstanding -= 1;
                } else {
                    println!("command failed: {}", status.text.to_str_lossy());
                    self.outstanding = self.outstanding.saturating_sub(1);
                }
            }
            Event::MessageStart { handle, msg } => {
                let name = self.maildir.name();
                let tmp = self.maildir.root.join("tmp").join(&name);
                let file = File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
                let _ = handle;
                self.current = Some(Download {
                    msg,
                    uid: self.uids.get(&msg.get()).cloned(),
                    tmp,
                    name,
                    file,
                });
            }
            Event::MessageChunk { data, .. } => {
                if let Some(d) = &mut self.current {
                    d.file
                        .write_all(&data)
                        .map_err(|e| format!("{}: {e}", d.tmp.display()))?;
                }
            }
            Event::MessageEnd { handle, size } => {
                let Some(d) = self.current.take() else {
                    return Ok(false);
                };
                self.retrievals.remove(&handle);
                self.store(d, size)?;
                self.outstanding -= 1;
            }
            Event::Done { .. } => self.outstanding = self.outstanding.saturating_sub(1),
            Event::Closed { reason } => {
                return match reason {
                    mailwire::pop3::ConnectionError::Quit => Ok(true),
                    other => Err(format!("connection ended: {other}")),
                };
            }
            _ => {}
        }
        if self.listed == 2 {
            self.listed = 3;
            self.plan();
        }
        if self.listed == 3 && self.outstanding == 0 && !self.quit_sent {
            self.quit_sent = true;
            let _ = self.client.enqueue(Command::Quit);
        }
        Ok(false)
    }

    /// Queues a RETR (or TOP) for every message not stored yet.
    fn plan(&mut self) {
        let numbers: Vec<u32> = self.sizes.keys().copied().collect();
        for n in numbers {
            let Some(msg) = NonZeroU32::new(n) else {
                continue;
            };
            if self
                .uids
                .get(&n)
                .is_some_and(|uid| self.maildir.have.contains(uid))
            {
                self.summary.skipped += 1;
                // Already stored in an earlier run: in delete mode it may
                // go now.
                if self.args.delete && self.client.enqueue(Command::Dele(msg)).is_ok() {
                    self.outstanding += 1;
                    self.summary.deleted += 1;
                }
                continue;
            }
            let cmd = if self.args.headers_only {
                Command::Top { msg, lines: 0 }
            } else {
                Command::Retr(msg)
            };
            if let Ok(h) = self.client.enqueue(cmd) {
                self.retrievals.insert(h, msg);
                self.outstanding += 1;
            }
        }
    }

    fn store(&mut self, d: Download, size: u64) -> Result<(), String> {
        let Download {
            msg,
            uid,
            tmp,
            name,
            file,
        } = d;
        file.sync_all()
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        drop(file);
        let dest = self.maildir.root.join("new").join(&name);
        fs::rename(&tmp, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        fsync_dir(&self.maildir.root.join("new")).map_err(|e| e.to_string())?;
        self.summary.fetched += 1;
        self.summary.octets += size;
        if let Some(uid) = uid.as_deref().filter(|_| !self.args.headers_only) {
            self.maildir.record_uid(uid).map_err(|e| e.to_string())?;
        }
        let mut line = format!(
            "message {msg}: {size} octets{} -> new/{name}",
            uid.as_deref()
                .map(|u| format!(" uid {u}"))
                .unwrap_or_default()
        );
        // Only now, with the copy on disk, may the original go.
        if self.args.delete && self.client.enqueue(Command::Dele(msg)).is_ok() {
            self.outstanding += 1;
            self.summary.deleted += 1;
            line.push_str(" (deleted at QUIT)");
        }
        println!("{line}");
        Ok(())
    }
}

fn random_nonce() -> String {
    let mut b = [0u8; 18];
    if let Ok(mut f) = File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    } else {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b[..16].copy_from_slice(&t.to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn run(args: Args) -> Result<Summary, String> {
    let host = args
        .server
        .rsplit_once(':')
        .map_or(args.server.as_str(), |(h, _)| h)
        .trim_matches(['[', ']'])
        .to_owned();
    let sock = TcpStream::connect(&args.server).map_err(|e| format!("{}: {e}", args.server))?;
    let _ = sock.set_nodelay(true);
    let mut stream = Stream::Plain(sock);
    let tls = if args.tls != TlsMode::None {
        Some(tls_config(&args)?)
    } else {
        None
    };
    if args.tls == TlsMode::Implicit {
        stream.start_tls(tls.clone().ok_or("no TLS config")?, &host)?;
    }
    let mut o = Options::new(args.user.clone(), args.password.clone());
    o.tls = args.tls;
    o.auth = args.auth;
    o.allow_plaintext_auth = args.tls == TlsMode::None;
    o.sasl_nonce = random_nonce();
    let maildir = Maildir::open(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut s = Session {
        client: Client::new(o, Instant::now()),
        args,
        maildir,
        uids: BTreeMap::new(),
        sizes: BTreeMap::new(),
        uidl_handle: None,
        list_handle: None,
        listed: 0,
        retrievals: BTreeMap::new(),
        current: None,
        outstanding: 0,
        quit_sent: false,
        summary: Summary::default(),
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // 1. what to send, 2. what happened, 3. when to wake up.
        while s.client.poll_transmit(Instant::now(), &mut out).is_some() {}
        if !out.is_empty() {
            stream.write_all(&out).map_err(|e| format!("write: {e}"))?;
            out.clear();
        }
        let mut answered = false;
        while let Some(ev) = s.client.poll_event() {
            answered = true;
            if matches!(ev, Event::StartTls) {
                while s.client.poll_transmit(Instant::now(), &mut out).is_some() {}
                stream.start_tls(tls.clone().ok_or("STLS without a TLS config")?, &host)?;
                s.client.handle_tls_established(Instant::now());
                continue;
            }
            if s.on_event(ev)? {
                if let Some(d) = s.current.take() {
                    let _ = fs::remove_file(d.tmp);
                }
                return Ok(s.summary);
            }
        }
        if answered {
            continue;
        }
        let timeout = s.client.poll_timeout().map(|t| {
            t.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        if let Some(tcp) = stream.tcp() {
            let _ = tcp.set_read_timeout(timeout);
        }
        match stream.read(&mut buf) {
            Ok(0) => s.client.handle_eof(Instant::now()),
            Ok(n) => s.client.handle_input(Instant::now(), &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                s.client.handle_timeout(Instant::now())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pop3: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
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

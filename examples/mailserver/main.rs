//! A complete mail server over std sockets, built from the mailwire crates:
//! an MTA port, a submission port with AUTH, STARTTLS and implicit TLS
//! (rustls), Maildir mailboxes served over POP3 and IMAP (one mail store,
//! Dovecot's Maildir++ layout), a persistent queue with retries and bounces,
//! and an MX resolver (hickory-resolver).
//!
//! ```text
//! cargo run --release --example mailserver            # defaults: demo:demo@localhost
//! cargo run --release --example mailserver -- --help  # every option
//! ```
//!
//! On Linux one pool of threads serves the connections of every port over
//! an epoll set (`pool.rs`): one thread runs per CPU, a connection waiting
//! for its client holds no thread, and a handler that waits long (an
//! `fsync`, a DNS lookup) has another thread take the events meanwhile.
//! Elsewhere, and on Linux with `--connections threads`, one thread per
//! connection (threads are reused: each accepts its own next connection,
//! see `Acceptors`). Besides: one queue-runner
//! thread, one signal thread. SIGTERM (or Ctrl-C) stops accepting, lets
//! every open transaction finish, then exits.
//!
//! Connections are bounded by the connection limits (`limits.rs`): the
//! thread that accepts a connection takes a slot (total, per address,
//! per-address rate) before it serves it, and answers the refused ones
//! itself (`421` / `-ERR`, then close), so a refused connection costs no
//! session. Session threads get a small stack (`STACK_SIZE`), so even
//! `--max-connections` of them (the most the pool starts, and the
//! thread-per-connection model's bound) fit easily in memory: the limit
//! decides, not the operating system.

mod accounts;
mod auth_guard;
mod bounce;
mod config;
mod config_file;
mod delivery;
mod dkim;
mod dkim_verify;
mod dmarc;
mod dmarc_report;
mod dns_name;
mod dnsbl;
mod driver;
mod greylist;
mod hops;
mod imap_session;
mod limits;
mod list;
mod maildir;
mod mailstore;
mod mta_sts;
mod mta_sts_policy;
#[cfg(target_os = "linux")]
mod pool;
mod pop3_session;
mod queue;
mod resolve;
mod rewrite;
mod runner;
mod smtp_session;
mod spf;
mod srs;
mod store;
#[cfg(test)]
mod testdir;
mod tls;
mod txt;
mod vacation;
mod webmail;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use config::{Command, Config};
use limits::{Limiter, Refusal};
use smtp_session::{Port, Shared};

/// A session thread waiting in `accept` while others wait on the same port
/// exits after this long without a connection (the listening socket's
/// receive timeout, which `accept` honours).
const WORKER_IDLE: Duration = Duration::from_secs(30);
/// The stack of a session thread. Sessions keep their buffers on the heap;
/// 512 KiB leaves ample room for rustls and the parsers while 500 threads
/// reserve a quarter of a gigabyte of address space, little of it touched.
const STACK_SIZE: usize = 512 * 1024;
/// Writes (and a TLS handshake) that make no progress for this long end
/// the connection.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// The session threads of one listening port. Each thread accepts its own
/// connections and serves them ("leader/followers"): a connection costs no
/// hand-off from an accepting thread to a worker (a channel send and a
/// futex wake-up, with a second thread switched in: 6% of the server's
/// CPU per message under `smtp-source`, see `benches/mailserver.sh`). The thread that
/// takes the last waiting place starts another before it serves, so one
/// always accepts; surplus idle threads leave after [`WORKER_IDLE`].
struct Acceptors {
    listener: TcpListener,
    /// The address to connect to to wake a waiting thread at shutdown.
    local: SocketAddr,
    port: Port,
    /// Threads blocked in `accept` on this port.
    waiting: AtomicUsize,
    sessions: Arc<Sessions>,
}

/// Whether accepted sockets inherit `TCP_NODELAY` and the send and
/// receive timeouts of their listening socket (Linux copies the listener's
/// socket to make each accepted one), so that [`listener_options`] sets
/// them once for every connection.
const LISTENER_OPTIONS_INHERITED: bool = cfg!(target_os = "linux");

/// Sets the options of a listening socket: a receive timeout of
/// [`WORKER_IDLE`], which `accept` honours (so idle threads can leave)
/// and accepted sockets start with; where [`LISTENER_OPTIONS_INHERITED`],
/// also what every connection needs (`TCP_NODELAY`, the write timeout),
/// saving two `setsockopt` calls per connection.
fn listener_options(listener: &TcpListener) -> io::Result<()> {
    let sock = socket2::SockRef::from(listener);
    sock.set_read_timeout(Some(WORKER_IDLE))?;
    if LISTENER_OPTIONS_INHERITED {
        sock.set_tcp_nodelay(true)?;
        sock.set_write_timeout(Some(IO_TIMEOUT))?;
    }
    Ok(())
}

/// What the session threads of every port share.
struct Sessions {
    shared: Arc<Shared>,
    /// Threads serving a connection now (shutdown waits for them).
    active: AtomicUsize,
}

impl Acceptors {
    /// Starts a session thread on this port.
    fn spawn(self: &Arc<Self>) {
        let acc = self.clone();
        let spawned = std::thread::Builder::new()
            .name(self.port.name().into())
            .stack_size(STACK_SIZE)
            .spawn(move || acc.run());
        if let Err(e) = spawned {
            // The threads already running go on accepting.
            eprintln!("{}: cannot start a thread: {e}", self.port.name());
        }
    }

    /// A session thread: accept, take a slot of the connection limits
    /// (refused clients are answered and closed here, without another
    /// thread), serve, and back to `accept`.
    fn run(self: Arc<Self>) {
        let shared = &self.sessions.shared;
        loop {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            // Counted as waiting before the flag is read: the shutdown
            // sees either this thread waiting (and wakes it) or the flag
            // is already seen here.
            if shared.shutdown.load(Ordering::SeqCst) {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            let accepted = self.listener.accept();
            let others = self.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
            if shared.shutdown.load(Ordering::SeqCst) {
                return;
            }
            match accepted {
                Ok((sock, peer)) => match shared.limiter.try_acquire(peer.ip(), Instant::now()) {
                    Ok(slot) => {
                        if others == 0 {
                            self.spawn();
                        }
                        self.sessions.active.fetch_add(1, Ordering::SeqCst);
                        serve_connection(shared, sock, peer, self.port);
                        drop(slot);
                        self.sessions.active.fetch_sub(1, Ordering::SeqCst);
                    }
                    Err(why) => refuse(sock, self.port, &shared.store.cfg.hostname, why),
                },
                // Idle for WORKER_IDLE: leave if another thread waits.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if others > 0 {
                        return;
                    }
                }
                Err(e) => {
                    eprintln!("{}: accept: {e}", self.port.name());
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Wakes every thread waiting in `accept` (at shutdown, after the
    /// flag is set), one connection each, for up to `within`.
    fn wake_all(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.waiting.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            let _ = TcpStream::connect_timeout(&self.local, Duration::from_millis(200));
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The session of an accepted connection over `conn`, its implicit TLS
/// handshake done: the port's machine and handler, not yet run. `None`
/// when it cannot start (logged).
fn open_session(
    shared: &Shared,
    mut conn: driver::Conn,
    peer: SocketAddr,
    port: Port,
) -> Option<Box<dyn driver::Resumable + '_>> {
    use driver::Driven;
    let name = port.name();
    let tls = port.implicit_tls();
    if tls {
        let tls = match rustls::ServerConnection::new(shared.tls.clone()) {
            Ok(t) => t,
            Err(e) => {
                driver::log(format!("{name}: TLS setup failed: {e}"));
                return None;
            }
        };
        if let Err(e) = conn.start_tls(tls) {
            driver::log(format!("{name} {peer} TLS handshake failed: {e}"));
            return None;
        }
    }
    let started: io::Result<Box<dyn driver::Resumable + '_>> = match port {
        Port::Pop3 | Port::Pop3s => pop3_session::start(shared, tls, peer)
            .map(|s| Box::new(Driven::new(s, conn, name, peer)) as _),
        Port::Imap | Port::Imaps => imap_session::start(shared, tls, peer)
            .map(|s| Box::new(Driven::new(s, conn, name, peer)) as _),
        _ => Ok(Box::new(Driven::new(
            smtp_session::start(shared, port, peer),
            conn,
            name,
            peer,
        ))),
    };
    match started {
        Ok(s) => Some(s),
        Err(e) => {
            driver::log(format!("{name} {peer} cannot start: {e}"));
            None
        }
    }
}

/// Serves one connection to its end on this thread.
fn serve_connection(shared: &Shared, sock: TcpStream, peer: SocketAddr, port: Port) {
    let conn = if LISTENER_OPTIONS_INHERITED {
        driver::Conn::inherited(sock, IO_TIMEOUT, Some(WORKER_IDLE))
    } else {
        match driver::Conn::new(sock, IO_TIMEOUT) {
            Ok(c) => c,
            Err(_) => return,
        }
    };
    if let Some(mut session) = open_session(shared, conn, peer, port) {
        session.run();
    }
}

/// Tells a refused client why, in its protocol, and closes at once. Runs
/// on the thread that accepted it: one non-blocking write of one line, no
/// other thread. The implicit-TLS ports get no line (the client expects a
/// TLS handshake).
fn refuse(sock: TcpStream, port: Port, hostname: &str, why: Refusal) {
    if !port.implicit_tls() && sock.set_nonblocking(true).is_ok() {
        let line = match port {
            Port::Pop3 | Port::Pop3s => format!("-ERR [SYS/TEMP] {why}\r\n"),
            Port::Imap | Port::Imaps => format!("* BYE [UNAVAILABLE] {why}\r\n"),
            _ => format!("421 4.7.0 {hostname} Error: {why}\r\n"),
        };
        let _ = (&sock).write_all(line.as_bytes());
    }
    let _ = sock.shutdown(std::net::Shutdown::Both);
}

/// The webmail's HTTPS base URL for the lists' one-click links:
/// `--public-url`, or else the `--https` listener under the hostname.
fn public_url(cfg: &Config, web: &[(&str, SocketAddr)]) -> Option<String> {
    cfg.public_url.clone().or_else(|| {
        let (_, addr) = web.iter().find(|(n, _)| *n == "https")?;
        Some(match addr.port() {
            443 => format!("https://{}", cfg.hostname),
            p => format!("https://{}:{p}", cfg.hostname),
        })
    })
}

fn bind(name: &str, addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| format!("--{name} {addr}: cannot listen: {e}"))
}

fn run(cfg: Config) -> Result<(), String> {
    let cfg = Arc::new(cfg);
    let store =
        store::Store::open(cfg.clone()).map_err(|e| format!("{}: {e}", cfg.data.display()))?;
    let (certs, key, tls_desc) = match (&cfg.cert, &cfg.key) {
        (Some(c), Some(k)) => {
            let (certs, key) = tls::load_pem(c, k)?;
            let desc = format!(
                "certificate from {} (taken again when it changes)",
                c.display()
            );
            (certs, key, desc)
        }
        _ => {
            let mut names = cfg.domains.clone();
            if !names.contains(&cfg.hostname) {
                names.insert(0, cfg.hostname.clone());
            }
            let (certs, key) = tls::self_signed(&names)?;
            (
                certs,
                key,
                format!(
                    "self-signed certificate for {} (made at start)",
                    names.join(", ")
                ),
            )
        }
    };
    let cert_slot = Arc::new(tls::CertSlot::new(certs, key)?);
    let tls = tls::server_config_with(cert_slot.clone())?;
    let mut listeners = Vec::new();

    for (name, addr, port) in [
        ("smtp", cfg.smtp, Port::Mta),
        ("submission", cfg.submission, Port::Submission),
        ("smtps", cfg.smtps, Port::Smtps),
        ("pop3", cfg.pop3, Port::Pop3),
        ("pop3s", cfg.pop3s, Port::Pop3s),
        ("imap", cfg.imap, Port::Imap),
        ("imaps", cfg.imaps, Port::Imaps),
    ] {
        if let Some(addr) = addr {
            let l = bind(name, addr)?;
            let local = l.local_addr().map_err(|e| e.to_string())?;
            listeners.push((l, local, port));
        }
    }
    let mut web = Vec::new();
    for (name, addr) in [("http", cfg.http), ("https", cfg.https)] {
        if let Some(addr) = addr {
            let l = bind(name, addr)?;
            let local = l.local_addr().map_err(|e| e.to_string())?;
            web.push((name, l, local));
        }
    }
    if listeners.is_empty() && web.is_empty() {
        return Err("no port to listen on".into());
    }
    let web_addrs: Vec<(&str, SocketAddr)> = web.iter().map(|(n, _, a)| (*n, *a)).collect();
    let accounts = accounts::Accounts::new(&cfg.users)?.with_changes(cfg.data.join("passwords"))?;
    let shutdown = Arc::new(AtomicBool::new(false));
    let queue = store.queue.clone();
    let shared = Arc::new(Shared {
        store,
        tls,
        accounts,
        limiter: Limiter::new(cfg.limits),
        auth_guard: auth_guard::AuthGuard::new(cfg.auth),
        srs: srs::Srs::open(&cfg.data)
            .map_err(|e| format!("{}: SRS secret: {e}", cfg.data.display()))?,
        public_url: public_url(&cfg, &web_addrs),
        dkim: dkim::Signers::load(&cfg.dkim)?,
        mta_sts_failures: mta_sts::Failures::default(),
        greylist: match cfg.greylist {
            Some(delay) => Some(
                greylist::Greylist::open(cfg.data.join("greylist"), delay, store::unix_now())
                    .map_err(|e| format!("{}: greylist: {e}", cfg.data.display()))?,
            ),
            None => None,
        },
        send_rate: limits::SendRate::new(cfg.session.send_rate),
        dmarc_records: match cfg.dmarc_reports {
            Some(_) => Some(
                dmarc_report::Records::open(&cfg.data)
                    .map_err(|e| format!("{}: dmarc: {e}", cfg.data.display()))?,
            ),
            None => None,
        },
        shutdown: shutdown.clone(),
    });
    let (mut http, mut https) = (None, None);
    for (name, l, _) in web {
        if name == "https" {
            https = Some(l);
        } else {
            http = Some(l);
        }
    }
    if http.is_some() || https.is_some() {
        webmail::start(shared.clone(), http, https)?;
    }
    if let Some(file) = cfg.config_file.clone() {
        let (shared, cfg) = (shared.clone(), cfg.clone());
        std::thread::Builder::new()
            .name("config-watch".into())
            .spawn(move || watch_config(&shared, &cfg, &file))
            .map_err(|e| format!("threads: {e}"))?;
    }
    if let (Some(cert), Some(key)) = (cfg.cert.clone(), cfg.key.clone()) {
        let shutdown = shutdown.clone();
        std::thread::Builder::new()
            .name("cert-watch".into())
            .spawn(move || watch_certificate(&shutdown, &cert_slot, &cert, &key))
            .map_err(|e| format!("threads: {e}"))?;
    }
    warn_unsigned_lists(&shared, cfg.lists.keys());

    banner(
        &cfg,
        &listeners,
        &web_addrs,
        &tls_desc,
        queue.len(),
        shared.accounts.all_plaintext(),
        shared.public_url.as_deref(),
    );

    // One pool of threads over an epoll set serves every port (pool.rs,
    // Linux), or one thread per connection (`Acceptors`): `--connections`.
    let mut acceptors = Vec::new();
    let active: Box<dyn Fn() -> usize> = match cfg.connections {
        #[cfg(target_os = "linux")]
        config::Connections::Pool => {
            // The pool and its sessions live as long as the process.
            let shared: &'static Shared = Box::leak(Box::new(shared.clone()));
            let mut ports = Vec::new();
            for (listener, _, port) in listeners {
                listener_options(&listener).map_err(|e| format!("{}: {e}", port.name()))?;
                ports.push(pool::Listener {
                    socket: listener,
                    port,
                });
            }
            let pool = pool::Pool::new(shared, ports, cfg.limits.max_total + 1)
                .map_err(|e| format!("epoll: {e}"))?;
            let pool: &'static pool::Pool = Box::leak(Box::new(pool));
            pool.start().map_err(|e| format!("threads: {e}"))?;
            Box::new(move || pool.active())
        }
        // Threads: on other systems than Linux the only model (their
        // configuration refuses the pool).
        _ => {
            let sessions = Arc::new(Sessions {
                shared: shared.clone(),
                active: AtomicUsize::new(0),
            });
            for (listener, local, port) in listeners {
                listener_options(&listener).map_err(|e| format!("{}: {e}", port.name()))?;
                let acc = Arc::new(Acceptors {
                    listener,
                    local,
                    port,
                    waiting: AtomicUsize::new(0),
                    sessions: sessions.clone(),
                });
                acc.spawn();
                acceptors.push(acc);
            }
            Box::new(move || sessions.active.load(Ordering::SeqCst))
        }
    };

    let runner = {
        let shared = shared.clone();
        std::thread::spawn(move || delivery::run_queue(&shared))
    };
    if let Some(every) = cfg.dmarc_reports {
        let shared = shared.clone();
        std::thread::spawn(move || dmarc_report::run(&shared, every));
    }

    // Wait for SIGTERM or SIGINT.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .map_err(|e| format!("signals: {e}"))?;
    let sig = signals.forever().next();
    eprintln!("signal {}: finishing open transactions", sig.unwrap_or(0));
    shutdown.store(true, Ordering::SeqCst);
    queue.shutdown();
    for a in &acceptors {
        a.wake_all(Duration::from_secs(5));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while active() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = runner.join();
    eprintln!("stopped");
    Ok(())
}

fn banner(
    cfg: &Config,
    listeners: &[(TcpListener, SocketAddr, Port)],
    web: &[(&str, SocketAddr)],
    tls_desc: &str,
    queued: usize,
    cram: bool,
    public_url: Option<&str>,
) {
    let mut o = String::new();
    let data = cfg.data.display();
    o.push_str("mailwire mailserver\n");
    o.push_str(&format!("  data        {data} (mailboxes: {data}/mailboxes/USER/new, queue: {data}/queue, {queued} queued)\n"));
    o.push_str(&format!("  domains     {}\n", cfg.domains.join(", ")));
    for (_, addr, port) in listeners {
        let what = match port {
            Port::Mta => "MTA: mail for local users, relay only after AUTH; STARTTLS",
            Port::Submission if cram => {
                "submission: AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 required; STARTTLS"
            }
            Port::Submission => "submission: AUTH PLAIN LOGIN SCRAM-SHA-256 required; STARTTLS",
            Port::Smtps => "submission over implicit TLS: AUTH required",
            Port::Pop3 => "POP3 with STLS: USER/PASS, APOP, SASL; the same mailboxes",
            Port::Pop3s => "POP3 over implicit TLS",
            Port::Imap => "IMAP4rev1/rev2 with STARTTLS: the same mailboxes, folders, IDLE",
            Port::Imaps => "IMAP over implicit TLS",
        };
        o.push_str(&format!(
            "  {:<11} listening on {addr}  ({what})\n",
            port.name()
        ));
    }
    for (name, addr) in web {
        let scheme = if *name == "https" { "https" } else { "http" };
        o.push_str(&format!(
            "  {name:<11} listening on {addr}  (webmail: {scheme}://{addr}/ ; log in with an account below)\n"
        ));
    }
    o.push_str(&format!("  TLS         {tls_desc}\n"));
    o.push_str(match cfg.connections {
        config::Connections::Pool => {
            "  connections a pool of threads over epoll, one per CPU (--connections threads: one per connection)\n"
        }
        config::Connections::Threads => "  connections one thread per connection\n",
    });
    if cfg.sink {
        o.push_str(
            "  SINK MODE   every message is read and thrown away (--sink, benchmarks only)\n",
        );
    }
    for u in &cfg.users {
        let addrs: Vec<String> = cfg
            .domains
            .iter()
            .map(|d| format!("{}@{d}", u.name))
            .collect();
        o.push_str(&format!(
            "  account     {}  password {}\n",
            addrs.join(", "),
            u.demo_password().unwrap_or("(SCRAM-SHA-256 keys)")
        ));
    }
    if !cfg.routes.is_empty() {
        for (d, r) in &cfg.routes {
            o.push_str(&format!("  route       {d} -> {}:{}\n", r.host, r.port));
        }
    }
    if !cfg.lists.is_empty() {
        let names: Vec<&str> = cfg.lists.keys().map(String::as_str).collect();
        let how = match public_url {
            Some(u) => format!("one-click unsubscribe (RFC 8058) at {u}/unsubscribe/"),
            None => "unsubscribe by mail only (no HTTPS URL: --public-url or --https)".into(),
        };
        o.push_str(&format!("  lists       {}; {how}\n", names.join(", ")));
    }
    for d in &cfg.dkim {
        o.push_str(&format!(
            "  dkim        {} selector {} ({})\n",
            d.domain,
            d.selector,
            d.key.display()
        ));
    }
    let user = &cfg.users[0].name;
    let rcpt = format!("{user}@{}", cfg.domains[0]);
    if let Some((_, addr, _)) = listeners.iter().find(|(_, _, p)| *p == Port::Mta) {
        let (ip, port) = (addr.ip(), addr.port());
        o.push_str(&format!(
            "\nSend {rcpt} a message (from another terminal):\n  \
             swaks --server {ip} --port {port} --to {rcpt} --from you@example.com\n  \
             or: python3 -c \"import smtplib; smtplib.SMTP('{ip}', {port}).sendmail('you@example.com', ['{rcpt}'], 'Subject: hello\\r\\n\\r\\nIt works.\\r\\n')\"\n"
        ));
    }
    if let Some((_, addr, _)) = listeners.iter().find(|(_, _, p)| *p == Port::Submission) {
        let pw = cfg.users[0].demo_password().unwrap_or("PASSWORD");
        o.push_str(&format!(
            "Send as {rcpt} to anyone through submission (AUTH):\n  \
             swaks --server {} --port {} --tls --auth PLAIN --auth-user {user} --auth-password {pw} --from {rcpt} --to {rcpt}\n",
            addr.ip(),
            addr.port()
        ));
    }
    if let Some((_, addr, _)) = listeners.iter().find(|(_, _, p)| *p == Port::Pop3) {
        let pw = cfg.users[0].demo_password().unwrap_or("PASSWORD");
        o.push_str(&format!(
            "Read it over POP3:\n  \
             curl pop3://{user}:{pw}@{}:{}/1\n",
            addr.ip(),
            addr.port()
        ));
    }
    if let Some((_, addr, _)) = listeners.iter().find(|(_, _, p)| *p == Port::Imap) {
        let pw = cfg.users[0].demo_password().unwrap_or("PASSWORD");
        o.push_str(&format!(
            "Read it over IMAP (folders INBOX, Sent, Drafts, Trash, Junk, Archive; delimiter '.'):\n  \
             curl 'imap://{user}:{pw}@{}:{}/INBOX;UID=1'\n  \
             or any IMAP client: server {}, port {}, STARTTLS, user {user}\n",
            addr.ip(),
            addr.port(),
            addr.ip(),
            addr.port()
        ));
    }
    o.push_str(&format!(
        "Or read it on disk: each message is one file in {data}/mailboxes/{user}/new/\n  \
         ls {data}/mailboxes/{user}/new/ && cat {data}/mailboxes/{user}/new/*\n\
         Stop with Ctrl-C or SIGTERM (open transactions finish first). Log lines follow on stderr.\n"
    ));
    let mut out = io::stdout().lock();
    let _ = out.write_all(o.as_bytes());
    let _ = out.flush();
}

/// Reads one line from stdin; on a terminal, with a prompt and no echo
/// (`stty -echo`, restored afterwards).
fn read_password(prompt: &str) -> Result<String, String> {
    use std::io::{BufRead as _, IsTerminal as _};
    let tty = io::stdin().is_terminal();
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    if tty {
        eprint!("{prompt}");
        if !stty("-echo") {
            return Err("cannot turn the terminal's echo off (stty)".into());
        }
    }
    let mut line = String::new();
    let read = io::stdin().lock().read_line(&mut line);
    if tty {
        stty("echo");
        eprintln!();
    }
    read.map_err(|e| format!("reading the password: {e}"))?;
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        return Err("empty password".into());
    }
    Ok(pw.to_string())
}

/// How often the config file is looked at ([`watch_config`]).
const CONFIG_LOOK: Duration = Duration::from_secs(1);

/// What identifies a version of a file: its modification time, length
/// and inode (`None` while it cannot be read).
fn file_stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let md = std::fs::metadata(path).ok()?;
    Some((md.modified().ok()?, md.len(), md.ino()))
}

/// Reads the `--config` file again whenever it changes (looked at every
/// [`CONFIG_LOOK`]) and gives the accounts their passwords from it
/// ([`accounts::Accounts::reload`]): `mailserver passwd NAME`'s line in
/// `[accounts]` takes effect without a restart, and an account taken out
/// can no longer log in; and the quotas (`quota`, `message_quota`,
/// `[quotas]`, `[message_quotas]`, and the command line's, which stay over
/// the file's) are in force for the next check ([`store::Store::set_quotas`]);
/// and the DKIM keys (`dkim = [...]` and `--dkim`, their key files read
/// again) sign the next message ([`dkim::Signers::replace`]).
/// A file that does not read (half written, say) changes nothing until it
/// does; every other setting is the start's, and the log says so for
/// accounts added.
fn watch_config(shared: &Shared, cfg: &Config, file: &std::path::Path) {
    on_change(&shared.shutdown, &[file], || {
        // The routing in force before (its lists: which ones are new).
        let before = shared.store.routing();
        let what = match cfg.reread() {
            // The file lost its last account: the demo account it would
            // fall back to (with its known password) is not let in.
            Ok(new) if new.demo_account && !cfg.demo_account => {
                "no account left in it: the accounts in force kept, nothing changed".to_string()
            }
            // The accounts' keys first (which can fail, changing
            // nothing), then the folders and the routing (which can fail,
            // changing nothing), then the keys in force: an account can
            // log in only once its mailbox is there.
            Ok(new) => match shared
                .accounts
                .prepare_reload(&new.users)
                .and_then(|prepared| {
                    let routed = shared
                        .store
                        .take_routing(&new)
                        .map_err(|e| format!("the new accounts' folders: {e}"))?;
                    Ok((routed, shared.accounts.apply_reload(prepared)))
                }) {
                Ok((routed, r)) => {
                    warn_unsigned_lists(
                        shared,
                        new.lists.keys().filter(|l| !before.lists.contains_key(*l)),
                    );
                    let mut what: Vec<String> =
                        routed.iter().map(|w| format!("{w} in force now")).collect();
                    if shared.store.set_quotas(new.quotas) {
                        what.push("quotas in force now".to_string());
                    }
                    match shared.dkim.replace(&new.dkim) {
                        Ok(true) => what.push("dkim keys in force now".to_string()),
                        Ok(false) => {}
                        Err(e) => {
                            what.push(format!("dkim keys not taken, those in force stay: {e}"))
                        }
                    }
                    for (names, says) in [
                        (&r.changed, "password changed, in force now"),
                        (&r.added, "added, in force now"),
                        (
                            &r.removed,
                            "removed: logins and mail refused now, the mailbox kept",
                        ),
                    ] {
                        if !names.is_empty() {
                            what.push(format!("{} {says}", names.join(", ")));
                        }
                    }
                    if let Some(e) = r.file_error {
                        what.push(format!(
                            "the passwords file not read and written again ({e}): the \
                             accounts above are in force; a password an added account's user \
                             had set waits for the file's next reading"
                        ));
                    }
                    if what.is_empty() {
                        return;
                    }
                    what.join("; ")
                }
                Err(e) => format!("not read again, nothing changed: {e}"),
            },
            Err(e) => format!("not read again, nothing changed: {e}"),
        };
        driver::log(format!("config {}: {what}", file.display()));
    });
}

/// Reads the `--cert` and `--key` files again whenever one of them
/// changes (looked at every [`CONFIG_LOOK`]; a renewal that writes new
/// files or points a link at them) and puts them in force for the next
/// handshake of every port ([`tls::CertSlot`]). Files that do not read,
/// or a key that is not the certificate's (one file written, the other
/// not yet), change nothing until they do: the certificate in force stays
/// and the log says why.
fn watch_certificate(
    shutdown: &AtomicBool,
    slot: &tls::CertSlot,
    cert: &std::path::Path,
    key: &std::path::Path,
) {
    on_change(shutdown, &[cert, key], || {
        let what = match tls::load_pem(cert, key).and_then(|(c, k)| slot.replace(c, k)) {
            Ok(()) => "the new certificate in force from the next handshake".to_string(),
            Err(e) => format!("not taken, the certificate in force stays: {e}"),
        };
        driver::log(format!("certificate {}: {what}", cert.display()));
    });
}

/// Calls `changed` whenever one of `files` changes (a new modification
/// time, length or inode, looked at every [`CONFIG_LOOK`]), until the
/// server shuts down.
fn on_change(shutdown: &AtomicBool, files: &[&std::path::Path], mut changed: impl FnMut()) {
    let stamps = || files.iter().map(|f| file_stamp(f)).collect::<Vec<_>>();
    let mut seen = stamps();
    loop {
        std::thread::sleep(CONFIG_LOOK);
        if shutdown.load(Ordering::SeqCst) {
            return;
        }
        let now = stamps();
        if now != seen {
            seen = now;
            changed();
        }
    }
}

/// Logs each of `lists` whose one-click unsubscribe (offered with the
/// webmail's URL) no DKIM key signs: RFC 8058 §4 has receivers honour the
/// one-click fields only under a DKIM signature that covers them.
fn warn_unsigned_lists<'a>(shared: &Shared, lists: impl Iterator<Item = &'a String>) {
    if shared.public_url.is_none() {
        return;
    }
    for list in lists {
        let domain = list.rsplit_once('@').map_or("", |(_, d)| d);
        if !shared.dkim.signs(domain) {
            driver::log(format!(
                "list {list}: one-click unsubscribe offered, but no --dkim key for {domain}: \
                 receivers ignore List-Unsubscribe-Post without a DKIM signature (RFC 8058 §4)"
            ));
        }
    }
}

/// `mailserver passwd NAME`: reads a password and prints the line for the
/// config file's `[accounts]` table (SCRAM-SHA-256 keys, never the password).
fn passwd(name: &str) -> Result<(), String> {
    use std::io::IsTerminal as _;
    let pw = read_password(&format!("password for {name}: "))?;
    if io::stdin().is_terminal() && read_password("again: ")? != pw {
        return Err("the passwords differ".into());
    }
    let keys = accounts::hash_password(&pw, accounts::ITERATIONS)?;
    println!("\"{name}\" = \"{}\"", accounts::format_scram(&keys));
    Ok(())
}

fn main() -> ExitCode {
    match Config::parse(std::env::args().skip(1)) {
        Ok(Command::Passwd { name }) => match passwd(&name) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mailserver passwd: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(Command::DkimKeygen {
            domain,
            selector,
            out,
        }) => match dkim::keygen(&domain, &selector, &out) {
            Ok(record) => {
                println!("{record}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mailserver dkim-keygen: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(Command::Run(cfg)) => match run(*cfg) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mailserver: {e}");
                ExitCode::FAILURE
            }
        },
        // `--help` (stdout, exit 0) and a bad command line (stderr, exit 2).
        Err(e) => e.exit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `Conn::inherited` relies on: an accepted socket starts with
    /// the options `listener_options` gave its listener.
    #[test]
    fn accepted_sockets_inherit_the_listener_options() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        listener_options(&l).unwrap();
        let _client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        assert_eq!(s.read_timeout().unwrap(), Some(WORKER_IDLE));
        if LISTENER_OPTIONS_INHERITED {
            assert!(s.nodelay().unwrap());
            assert_eq!(s.write_timeout().unwrap(), Some(IO_TIMEOUT));
        }
    }
}

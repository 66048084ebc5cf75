//! Shared helpers for the interop tests: building and starting the example
//! servers, checking for real peers, a tiny raw SMTP client, and Maildir
//! inspection.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod corpus;
pub mod dns;
pub mod dovecot;
pub mod peer;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// True when running under CI (a missing peer must then fail the test).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether `program` can be run. When it cannot: under CI the test fails;
/// elsewhere it prints why and returns false so the test can skip.
pub fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "command -v {program} || test -x /usr/sbin/{program}"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            !ci(),
            "peer {program} is missing (CI=true): run bash .ci/install-peers"
        );
        eprintln!("SKIP: peer {program} is not installed (bash .ci/install-peers installs it)");
    }
    found
}

/// Whether the Python module `module` can be imported (see [`have`]).
pub fn have_python_module(module: &str) -> bool {
    let ok = Command::new("python3")
        .arg("-c")
        .arg(format!("import {module}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !ci(),
            "python3 module {module} is missing (CI=true): run bash .ci/install-peers"
        );
        eprintln!("SKIP: python3 module {module} is not installed");
    }
    ok
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The facade features the examples need.
pub const EXAMPLE_FEATURES: &str = "line,sasl,message,mime,smtp,pop3,imap";

/// Builds an example of the root package (once per test binary) with the
/// profile this test was built with, and returns its path.
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<String>>> = OnceLock::new();
    let exe = std::env::current_exe().expect("test executable path");
    // .../target/<profile>/deps/interop_mailserver-HASH
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
    let path = profile_dir.join("examples").join(name);
    let lock = BUILT.get_or_init(Default::default);
    let mut built = lock.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        // A clean environment: the variables cargo sets for a test run
        // (CARGO_PKG_*, LD_LIBRARY_PATH, ...) would make build scripts
        // rerun and the next ordinary build start over.
        cmd.env_clear();
        for (k, v) in std::env::vars_os() {
            let k_str = k.to_string_lossy();
            let keep = matches!(
                k_str.as_ref(),
                "PATH"
                    | "HOME"
                    | "CARGO_HOME"
                    | "RUSTUP_HOME"
                    | "RUSTUP_TOOLCHAIN"
                    | "CI"
                    | "TMPDIR"
                    | "USER"
                    | "RUSTFLAGS"
            );
            if keep {
                cmd.env(k, v);
            }
        }
        cmd.current_dir(repo())
            .arg("build")
            .arg("--example")
            .arg(name)
            .env("CARGO_TARGET_DIR", &target_dir);
        // Only the crates the examples use, so that the build does not
        // depend on unrelated facade features.
        cmd.args(["--no-default-features", "--features", EXAMPLE_FEATURES]);
        if release {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("run cargo build");
        assert!(st.success(), "cargo build --example {name} failed");
        built.push(name.to_string());
    }
    assert!(
        path.exists(),
        "{} not found after the build",
        path.display()
    );
    path
}

/// A fresh scratch directory under the system's temporary directory,
/// removed with what the test left in it when the guard is dropped (and
/// the files beside it named after it: a server's `DIR.log...`, a
/// client's `DIR.cookies`), so runs do not pile up directories and
/// Maildirs in `/tmp`. A failing test keeps them for a look and prints
/// where they are. Declare it before the server that uses it (locals drop
/// in reverse order), or give it to the server ([`MailServer::owning`]).
pub fn scratch(tag: &str) -> Scratch {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("mailwire-it-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    Scratch(d)
}

/// A directory [`scratch`] made; derefs to its path.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("scratch directory kept: {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
        let (Some(parent), Some(name)) = (self.0.parent(), self.0.file_name()) else {
            return;
        };
        let prefix = format!("{}.", name.to_string_lossy());
        for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// A running mailserver.
pub struct MailServer {
    pub child: Option<Child>,
    pub data: PathBuf,
    pub smtp: Option<SocketAddr>,
    pub submission: Option<SocketAddr>,
    pub smtps: Option<SocketAddr>,
    pub imap: Option<SocketAddr>,
    /// The webmail (HTTP).
    pub http: Option<SocketAddr>,
    pub stdout: String,
    pub log: PathBuf,
    args: Vec<String>,
    /// The scratch directory the server was given to own: removed after
    /// the server is stopped (fields drop after `Drop::drop`).
    dir: Option<Scratch>,
}

impl MailServer {
    /// Starts the mailserver with `--data DIR`, ports (SMTP, submission,
    /// POP3) chosen by the system (127.0.0.1:0) unless given in `args`, and
    /// waits for its banner.
    pub fn start(data: &Path, args: &[&str]) -> MailServer {
        let mut full: Vec<String> = vec!["--data".into(), data.display().to_string()];
        if !args.contains(&"--smtp") {
            full.extend(["--smtp".into(), "127.0.0.1:0".into()]);
        }
        if !args.contains(&"--submission") {
            full.extend(["--submission".into(), "127.0.0.1:0".into()]);
        }
        if !args.contains(&"--pop3") {
            full.extend(["--pop3".into(), "127.0.0.1:0".into()]);
        }
        // IMAP is on by default (127.0.0.1:1143): never collide with
        // another test or a server on the machine.
        if !args.contains(&"--imap") && !args.contains(&"--no-imap") {
            full.extend(["--imap".into(), "127.0.0.1:0".into()]);
        }
        // So is the webmail (127.0.0.1:8080).
        if !args.contains(&"--http") && !args.contains(&"--no-http") {
            full.extend(["--http".into(), "127.0.0.1:0".into()]);
        }
        full.extend(args.iter().map(|s| s.to_string()));
        // `MAILWIRE_TEST_CONNECTIONS=threads`: every server of the run
        // serves a thread per connection (`.ci/run` runs the server's
        // tests once more so, the model of other systems than Linux).
        if let Ok(model) = std::env::var("MAILWIRE_TEST_CONNECTIONS")
            && !args.contains(&"--connections")
        {
            full.extend(["--connections".into(), model]);
        }
        Self::start_args(data, full)
    }

    fn start_args(data: &Path, args: Vec<String>) -> MailServer {
        let exe = example("mailserver");
        std::fs::create_dir_all(data).expect("data dir");
        let log = data.with_extension(format!(
            "log{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let logf = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(exe)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(logf))
            .stdin(Stdio::null())
            .spawn()
            .expect("start mailserver");
        let out = child.stdout.take().expect("stdout");
        let mut r = BufReader::new(out);
        let mut stdout = String::new();
        let (mut smtp, mut submission, mut smtps, mut imap, mut http) =
            (None, None, None, None, None);
        loop {
            let mut line = String::new();
            let n = r.read_line(&mut line).expect("read banner");
            if n == 0 {
                let _ = child.wait();
                panic!(
                    "mailserver exited during start:\n{stdout}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            stdout.push_str(&line);
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() >= 4 && words[1] == "listening" && words[2] == "on" {
                let addr: SocketAddr = words[3].parse().expect("address in banner");
                match words[0] {
                    "smtp" => smtp = Some(addr),
                    "submission" => submission = Some(addr),
                    "smtps" => smtps = Some(addr),
                    "imap" => imap = Some(addr),
                    "http" => http = Some(addr),
                    _ => {}
                }
            }
            if line.starts_with("Stop with") {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = r.read_to_end(&mut sink);
        });
        if args
            .windows(2)
            .any(|w| w[0] == "--connections" && w[1] == "threads")
        {
            assert!(
                stdout.contains("one thread per connection"),
                "--connections threads not taken:\n{stdout}"
            );
        }
        MailServer {
            child: Some(child),
            data: data.to_path_buf(),
            smtp,
            submission,
            smtps,
            imap,
            http,
            stdout,
            log,
            args,
            dir: None,
        }
    }

    /// This server, owning `dir` (its data directory): removed once the
    /// server is stopped, for a helper that returns the server.
    pub fn owning(mut self, dir: Scratch) -> Self {
        self.dir = Some(dir);
        self
    }

    pub fn smtp(&self) -> SocketAddr {
        self.smtp.expect("smtp port")
    }

    pub fn submission(&self) -> SocketAddr {
        self.submission.expect("submission port")
    }

    /// The address of the banner line `NAME listening on ADDR` (`pop3`,
    /// `imaps`, `https`, ...); panics when the server has no such port.
    pub fn listener(&self, name: &str) -> SocketAddr {
        self.stdout
            .lines()
            .find_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                (w.len() >= 4 && w[0] == name && w[1] == "listening").then(|| w[3].parse().ok())?
            })
            .unwrap_or_else(|| panic!("no {name} port in the banner:\n{}", self.stdout))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait for the exit (SIGKILL after `timeout`).
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            if Instant::now() > end {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts again with the same arguments (same data, new ports).
    pub fn restart(&mut self) {
        self.kill9();
        let args = self.args.clone();
        // The data directory stays with the server that goes on using it.
        let dir = self.dir.take();
        *self = Self::start_args(&self.data, args);
        self.dir = dir;
    }

    /// The message files of `user` (new/ and cur/).
    pub fn messages(&self, user: &str) -> Vec<PathBuf> {
        maildir_messages(&self.data.join("mailboxes").join(user))
    }

    /// Waits until `user` has at least `n` messages.
    pub fn wait_messages(&self, user: &str, n: usize, timeout: Duration) -> Vec<PathBuf> {
        let end = Instant::now() + timeout;
        loop {
            let m = self.messages(user);
            if m.len() >= n || Instant::now() > end {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The one message `user` gets within `timeout`, as text (lossy);
    /// fails the test, with `context` and this server's log, when none or
    /// more than one arrived.
    pub fn wait_one(&self, user: &str, timeout: Duration, context: &str) -> String {
        let got = self.wait_messages(user, 1, timeout);
        assert_eq!(got.len(), 1, "{context}\n{}", self.log());
        String::from_utf8_lossy(&std::fs::read(&got[0]).unwrap()).into_owned()
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Whether the server's log has `needle` within `timeout`.
pub fn wait_log(srv: &MailServer, needle: &str, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if srv.log().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The files in `dir/new` and `dir/cur`, sorted.
pub fn maildir_messages(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// The stored message without the Return-Path, Delivered-To and Received
/// fields the server put in front: what the client sent, after unstuffing.
pub fn strip_trace(stored: &[u8]) -> &[u8] {
    let mut rest = stored;
    loop {
        let is_trace = rest.starts_with(b"Return-Path:")
            || rest.starts_with(b"Delivered-To:")
            || rest.starts_with(b"Received:");
        if !is_trace {
            return rest;
        }
        // Skip the field and its folded continuation lines.
        let mut i = 0;
        loop {
            match rest[i..].windows(2).position(|w| w == b"\r\n") {
                Some(p) => {
                    i += p + 2;
                    if i < rest.len() && (rest[i] == b' ' || rest[i] == b'\t') {
                        continue;
                    }
                    break;
                }
                None => return &rest[rest.len()..],
            }
        }
        rest = &rest[i..];
    }
}

/// Finds the one message of `user` containing `marker`; panics if there are
/// none or several.
pub fn find_one(server: &MailServer, user: &str, marker: &str) -> Vec<u8> {
    let hits: Vec<Vec<u8>> = server
        .messages(user)
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|d| d.windows(marker.len()).any(|w| w == marker.as_bytes()))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "exactly one message with {marker:?} for {user}; log:\n{}",
        server.log()
    );
    hits.into_iter().next().unwrap_or_default()
}

/// A minimal SMTP client over a raw socket, for exact byte sequences.
pub struct Raw {
    pub s: TcpStream,
    r: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        Self::try_connect(addr).expect("connect")
    }

    pub fn try_connect(addr: SocketAddr) -> Option<Raw> {
        let s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
        let r = BufReader::new(s.try_clone().ok()?);
        Some(Raw { s, r })
    }

    pub fn send(&mut self, data: &[u8]) {
        // A server that went away shows up as a missing reply.
        let _ = self.s.write_all(data);
    }

    /// Reads one (possibly multi-line) reply; returns the code and the text.
    pub fn reply(&mut self) -> (u16, String) {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                return (0, all);
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
                return (code, all);
            }
        }
    }

    /// Sends a command line and reads the reply.
    pub fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// AUTH SCRAM-SHA-256 with the project's own SASL client; returns the
    /// final reply.
    pub fn auth_scram(&mut self, user: &str, password: &str) -> (u16, String) {
        use mailwire::sasl::{Client, Credentials, Mechanism, Secret, framing};
        let creds = Credentials::password(user, Secret::new(password.to_string()));
        let mut sasl =
            Client::new(Mechanism::ScramSha256, &creds, "clientnonce0123456789").expect("client");
        let first = sasl.initial_response().expect("client-first");
        let (mut code, mut text) =
            self.cmd(&format!("AUTH SCRAM-SHA-256 {}", framing::encode(&first)));
        while code == 334 {
            let challenge =
                framing::decode_challenge(text[4..].trim_end().as_bytes()).expect("334");
            let resp = match sasl.step(&challenge) {
                Ok(r) => framing::encode(&r),
                Err(_) => "*".into(),
            };
            (code, text) = self.cmd(&resp);
        }
        (code, text)
    }

    /// Everything until the server closes.
    pub fn read_to_end(&mut self) -> String {
        let mut s = String::new();
        let _ = self.r.read_to_string(&mut s);
        s
    }

    /// One message through MAIL/RCPT/DATA; returns the final reply.
    pub fn mail(&mut self, from: &str, to: &[&str], data: &[u8]) -> (u16, String) {
        let (c, t) = self.cmd(&format!("MAIL FROM:<{from}>"));
        if c != 250 {
            return (c, t);
        }
        let mut ok = 0;
        for r in to {
            if self.cmd(&format!("RCPT TO:<{r}>")).0 == 250 {
                ok += 1;
            }
        }
        if ok == 0 {
            self.cmd("RSET");
            return (550, "no recipient".into());
        }
        let (c, t) = self.cmd("DATA");
        if c != 354 {
            return (c, t);
        }
        self.send(&dot_stuff(data));
        self.send(b".\r\n");
        self.reply()
    }
}

/// Dot-stuffs CRLF text and makes sure it ends in CRLF.
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    let mut at_line_start = true;
    for &b in data {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Runs a command and returns (success, stdout + stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run command");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Kills the child process it holds when dropped (a failed test leaves no
/// peer running).
pub struct ChildGuard(pub std::process::Child);

impl ChildGuard {
    /// Kills and reaps the child.
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback address with a port free at the time of asking.
pub fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Starts Postfix's smtp-sink on a free loopback port with `args` (before
/// the address) for up to 10 sessions, and waits until it answers.
pub fn start_smtp_sink(args: &[&str]) -> (ChildGuard, SocketAddr) {
    let addr = free_port();
    let sink = ChildGuard(
        Command::new("smtp-sink")
            .args(args)
            .arg(addr.to_string())
            .arg("10")
            .spawn()
            .expect("smtp-sink"),
    );
    let end = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    (sink, addr)
}

/// Runs a future to its end on a fresh current-thread tokio runtime (the
/// tokio drivers' tests).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// POP3 session options for a plaintext loopback session (passwords
/// allowed in the clear).
pub fn pop3_plain(user: &str, password: &str) -> mailwire::blocking::Pop3Options {
    let mut o = mailwire::blocking::Pop3Options::new(user, password);
    o.transport.security = mailwire::blocking::Security::Plain;
    o.machine.allow_plaintext_auth = true;
    o
}

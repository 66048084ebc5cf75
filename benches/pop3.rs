//! POP3 retrieval throughput, mailwire versus Dovecot, in one run: the
//! mailwire POP3 client machine (over a std socket, pipelined RETR) fetches
//! 2,000 messages of 10 KiB from
//!
//! 1. Dovecot 2.3 (`pop3-login`/`pop3`, ../shared/PEERS.md), and
//! 2. a small std-socket server built on `mailwire_pop3::server::Server`
//!    (one thread per connection, content streamed in 64 KiB chunks from
//!    the files),
//!
//! 3. the `mailserver` example's POP3 service (`--pop3`), when it has one:
//!    `$MAILWIRE_MAILSERVER_BIN` (an absolute path: the bench runs in
//!    `benches/`), or `target/release/examples/mailserver` (build it first
//!    with `cargo build --release --example mailserver`),
//!
//! all serving the same Maildir. Reports messages per second (criterion
//! "elem/s") and prints the ratio. Dovecot must be installed and the bench
//! run as root (it creates the `vmail` user); without it only mailwire is
//! measured.
//!
//! ```text
//! cargo bench -p mailwire-benches --bench pop3 -- --warm-up-time 1 --measurement-time 5
//! ```
//!
//! The messages are stored with CRLF line ends, so the listing uses the file
//! size as the RFC 1939 size (a store with LF line ends would count with
//! `mailwire_pop3::WireSize`, as Dovecot does with its index).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailwire_pop3::client::{self, Client, TlsMode};
use mailwire_pop3::server::{self, MaildropEntry, Server};
use mailwire_pop3::{Command as Pop3Command, Uid};

const MESSAGES: usize = 2000;
const SIZE: usize = 10 * 1024;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn message(i: usize) -> Vec<u8> {
    let mut m =
        format!("From: a@example.com\r\nTo: testuser@example.com\r\nSubject: message {i}\r\n\r\n")
            .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog. 0123456789\r\n";
    while m.len() + line.len() <= SIZE {
        m.extend_from_slice(line);
    }
    m.extend_from_slice(b".dot\r\n");
    m
}

struct Dovecot {
    child: Child,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_dovecot(root: &Path, port: u16) -> Option<Dovecot> {
    let dovecot = ["/usr/sbin/dovecot", "/usr/bin/dovecot"]
        .into_iter()
        .find(|p| Path::new(p).is_file())?;
    if !Command::new("id")
        .arg("vmail")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?
        .success()
    {
        Command::new("useradd")
            .args(["-r", "-M", "-s", "/usr/sbin/nologin", "vmail"])
            .status()
            .ok()?;
    }
    for d in ["run", "state"] {
        fs::create_dir_all(root.join(d)).ok()?;
    }
    let r = root.display();
    let conf = format!(
        "protocols = pop3\nlisten = 127.0.0.1\nbase_dir = {r}/run\nstate_dir = {r}/state\nlog_path = {r}/dovecot.log\n\
ssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\nmail_location = maildir:{r}/mail/%u\nfirst_valid_uid = 100\n\
passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {r}/users\n}}\n\
userdb {{\n  driver = passwd-file\n  args = username_format=%u {r}/users\n  default_fields = uid=vmail gid=vmail home={r}/mail/%u\n}}\n\
service pop3-login {{\n  inet_listener pop3 {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener pop3s {{\n    port = 0\n  }}\n}}\n\
protocol pop3 {{\n  pop3_uidl_format = %08Xu%08Xv\n}}\n"
    );
    fs::write(root.join("dovecot.conf"), conf).ok()?;
    fs::write(root.join("users"), "testuser:{PLAIN}testpass::::::\n").ok()?;
    let mut p = root.to_path_buf();
    loop {
        let _ = Command::new("chmod").arg("755").arg(&p).status();
        if !p.pop() || p == Path::new("/") {
            break;
        }
    }
    Command::new("chown")
        .args(["-R", "vmail:vmail"])
        .arg(root.join("mail"))
        .status()
        .ok()?;
    let child = Command::new(dovecot)
        .args(["-F", "-c"])
        .arg(root.join("dovecot.conf"))
        .stdin(Stdio::null())
        .spawn()
        .ok()?;
    let d = Dovecot { child };
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(d);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// The files of a Maildir, in a stable order (new/ and cur/).
fn maildrop(dir: &Path) -> Vec<(PathBuf, u64, String)> {
    let mut v = Vec::new();
    for sub in ["cur", "new"] {
        for e in fs::read_dir(dir.join(sub)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let base = name.split(':').next().unwrap_or(&name).to_owned();
            v.push((e.path(), e.metadata().unwrap().len(), base));
        }
    }
    v.sort_by(|a, b| a.2.cmp(&b.2));
    v
}

/// One POP3 session of the mailwire server over a std socket.
fn serve(sock: TcpStream, dir: PathBuf) {
    let mut sock = sock;
    let _ = sock.set_nodelay(true);
    let now = Instant::now();
    let mut o = server::Options::default();
    o.allow_plaintext_auth = true;
    let mut s = Server::new(o, "benchnonce", now).unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut out = Vec::with_capacity(256 * 1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        while s.poll_transmit(Instant::now(), &mut out).is_some() {}
        if !out.is_empty() {
            if sock.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        let mut any = false;
        while let Some(ev) = s.poll_event() {
            any = true;
            match ev {
                server::Event::Authenticate {
                    handle, username, ..
                } => {
                    let pw = (username == "testuser").then(|| "testpass".into());
                    s.provide_password(handle, pw).unwrap();
                }
                server::Event::OpenMaildrop { handle, .. } => {
                    let list = maildrop(&dir);
                    files = list.iter().map(|(p, _, _)| p.clone()).collect();
                    let entries = list
                        .into_iter()
                        .map(|(_, size, base)| MaildropEntry {
                            size,
                            uid: Uid::try_from(base).unwrap(),
                        })
                        .collect();
                    s.open_maildrop(handle, entries).unwrap();
                }
                server::Event::Retrieve { handle, index, .. } => {
                    let mut f = fs::File::open(&files[index]).unwrap();
                    loop {
                        let n = f.read(&mut chunk).unwrap();
                        if n == 0 || !s.send_content(handle, &chunk[..n]).unwrap() {
                            break;
                        }
                        // Bounded memory: send what is queued before reading on.
                        if out.len() + 64 * 1024 > out.capacity() {
                            while s.poll_transmit(Instant::now(), &mut out).is_some() {}
                        }
                    }
                    s.end_content(handle).unwrap();
                }
                server::Event::Update { handle, .. } => s.finish_update(handle, Ok(())).unwrap(),
                server::Event::Closed { .. } => {
                    while s.poll_transmit(Instant::now(), &mut out).is_some() {}
                    let _ = sock.write_all(&out);
                    return;
                }
                _ => {}
            }
        }
        if any {
            continue;
        }
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => {
                s.handle_eof(Instant::now());
            }
            Ok(n) => s.handle_input(Instant::now(), &buf[..n]),
        }
    }
}

fn start_mailwire(dir: PathBuf) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for sock in l.incoming().flatten() {
            let dir = dir.clone();
            std::thread::spawn(move || serve(sock, dir));
        }
    });
    port
}

/// Fetches every message with pipelined RETR; returns (messages, octets).
fn fetch_all(port: u16) -> (usize, u64) {
    let mut o = client::Options::new("testuser", "testpass");
    o.tls = TlsMode::None;
    o.allow_plaintext_auth = true;
    o.auth = client::AuthChoice::User;
    let mut c = Client::new(o, Instant::now());
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _ = sock.set_nodelay(true);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut msgs, mut octets) = (0usize, 0u64);
    loop {
        while c.poll_transmit(Instant::now(), &mut out).is_some() {}
        if !out.is_empty() {
            sock.write_all(&out).unwrap();
            out.clear();
        }
        let mut any = false;
        while let Some(ev) = c.poll_event() {
            any = true;
            match ev {
                client::Event::Ready { .. } => {
                    for i in 1..=MESSAGES {
                        c.enqueue(Pop3Command::Retr(NonZeroU32::new(i as u32).unwrap()))
                            .unwrap();
                    }
                    c.enqueue(Pop3Command::Quit).unwrap();
                }
                client::Event::MessageChunk { data, .. } => octets += data.len() as u64,
                client::Event::MessageEnd { .. } => msgs += 1,
                client::Event::Failed { status, .. } => panic!("{status:?}"),
                client::Event::Closed { reason } => {
                    assert_eq!(reason, mailwire_pop3::ConnectionError::Quit);
                    return (msgs, octets);
                }
                _ => {}
            }
        }
        if any {
            continue;
        }
        match sock.read(&mut buf).unwrap() {
            0 => c.handle_eof(Instant::now()),
            n => c.handle_input(Instant::now(), &buf[..n]),
        }
    }
}

/// The mailserver example with `--pop3`, its mailbox `testuser` pointing at
/// `maildir` (a symbolic link); `None` when it is not built or has no POP3.
fn start_mailserver(root: &Path, maildir: &Path) -> Option<Dovecot> {
    let bin = std::env::var_os("MAILWIRE_MAILSERVER_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            let p = exe.parent()?.parent()?.join("examples").join("mailserver");
            p.is_file().then_some(p)
        })?;
    let data = root.join("ms-data");
    fs::create_dir_all(data.join("mailboxes")).ok()?;
    std::os::unix::fs::symlink(maildir, data.join("mailboxes/testuser")).ok()?;
    let (smtp, pop3) = (free_port(), free_port());
    let mut child = Command::new(bin)
        .arg("--data")
        .arg(&data)
        .args([
            "--smtp",
            &format!("127.0.0.1:{smtp}"),
            "--no-submission",
            "--pop3",
            &format!("127.0.0.1:{pop3}"),
        ])
        .args(["--user", "testuser:testpass"])
        // One connection per iteration: no per-address rate limit.
        .args(["--conn-rate", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", pop3)).is_ok() {
            // Reuses the Dovecot guard: kill by PID and wait on drop.
            MAILSERVER_PORT.store(pop3, std::sync::atomic::Ordering::SeqCst);
            return Some(Dovecot { child });
        }
        if let Ok(Some(_)) = child.try_wait() {
            eprintln!("pop3 bench: the mailserver example has no --pop3 yet: skipping it");
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

static MAILSERVER_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

fn bench(c: &mut Criterion) {
    let root = std::env::temp_dir().join(format!("mailwire-pop3-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let mail = root.join("mail/testuser");
    for d in ["new", "cur", "tmp"] {
        fs::create_dir_all(mail.join(d)).unwrap();
    }
    for i in 0..MESSAGES {
        // S= and W= (size on disk, size with CRLF) as Dovecot writes them:
        // every server may list sizes without reading the files.
        let m = message(i);
        let name = format!("1700000000.M{i:06}P1Q{i}.bench,S={0},W={0}", m.len());
        fs::write(mail.join("new").join(name), m).unwrap();
    }
    let dport = free_port();
    let dovecot = start_dovecot(&root, dport);
    if dovecot.is_none() {
        eprintln!(
            "pop3 bench: Dovecot not available (install dovecot-pop3d, run as root): measuring mailwire only"
        );
    } else {
        // Dovecot moves new/ to cur/ at the first session; do it before
        // timing so both servers see the same files.
        let _ = fetch_all(dport);
    }
    let mailserver = start_mailserver(&root, &mail);
    let msport = MAILSERVER_PORT.load(std::sync::atomic::Ordering::SeqCst);
    let mport = start_mailwire(mail.clone());
    let (n, octets) = fetch_all(mport);
    assert_eq!(n, MESSAGES);

    let mut g = c.benchmark_group("pop3_retrieve_2000x10KiB");
    g.sample_size(10);
    g.throughput(Throughput::Elements(MESSAGES as u64));
    let mut times = Vec::new();
    g.bench_function("mailwire-server", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                assert_eq!(fetch_all(mport).0, MESSAGES);
            }
            let e = t.elapsed();
            times.push(("mailwire", e.as_secs_f64() / iters as f64));
            e
        })
    });
    if dovecot.is_some() {
        g.bench_function("dovecot", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let (m, o) = fetch_all(dport);
                    assert_eq!(m, MESSAGES);
                    assert_eq!(o, octets, "same bytes from both servers");
                }
                let e = t.elapsed();
                times.push(("dovecot", e.as_secs_f64() / iters as f64));
                e
            })
        });
    }
    if mailserver.is_some() {
        g.bench_function("mailserver-example", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let (m, o) = fetch_all(msport);
                    assert_eq!(m, MESSAGES);
                    assert_eq!(o, octets, "same bytes from every server");
                }
                let e = t.elapsed();
                times.push(("mailserver", e.as_secs_f64() / iters as f64));
                e
            })
        });
    }
    g.finish();
    // The median of every timed batch (warm-up included) of each server.
    let best = |who: &str| {
        let mut v: Vec<f64> = times
            .iter()
            .filter(|(w, _)| *w == who)
            .map(|(_, t)| *t)
            .collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let m = best("mailwire");
    println!(
        "pop3: mailwire server {:.0} messages/s",
        MESSAGES as f64 / m
    );
    if dovecot.is_some() {
        let d = best("dovecot");
        println!(
            "pop3: dovecot         {:.0} messages/s",
            MESSAGES as f64 / d
        );
        println!("pop3: ratio mailwire/dovecot = {:.2}x", d / m);
    }
    if mailserver.is_some() {
        let ms = best("mailserver");
        println!(
            "pop3: mailserver      {:.0} messages/s",
            MESSAGES as f64 / ms
        );
        if dovecot.is_some() {
            println!(
                "pop3: ratio mailserver/dovecot = {:.2}x",
                best("dovecot") / ms
            );
        }
    }
    drop(mailserver);
    drop(dovecot);
    let _ = fs::remove_dir_all(&root);
}

criterion_group!(benches, bench);
criterion_main!(benches);

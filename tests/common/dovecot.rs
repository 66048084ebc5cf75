//! Dovecot as a peer and as an oracle (../shared/PEERS.md): one scratch
//! root with a config, a passwd-file user `testuser`/`testpass` and its
//! Maildir. Either [`Dovecot::start`] runs the daemon (POP3 and IMAP on
//! free loopback ports), or [`Dovecot::prepare`] only writes the files and
//! [`Dovecot::exec_imap`] talks IMAP over stdin/stdout with
//! `doveadm exec imap` (PREAUTH, no socket, no daemon).

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fails under CI (the peer must be installed there), else prints why the
/// test skips and returns true.
pub fn peer_missing(what: &str) -> bool {
    if super::ci() {
        panic!("{what} is missing (CI=true: interop peers must be installed by .ci/install-peers)");
    }
    eprintln!("skipping: {what} is missing");
    true
}

/// The path of `cmd` on PATH (or in /usr/sbin, /sbin).
pub fn which(cmd: &str) -> Option<PathBuf> {
    let paths = std::env::var("PATH").unwrap_or_default();
    paths
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

/// A free port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "dovecot exited with {status}: {}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "dovecot did not listen on {port}: {}",
        fs::read_to_string(log).unwrap_or_default()
    );
}

/// The mail user cannot be root: create `vmail` once.
fn ensure_vmail() {
    let exists = Command::new("id")
        .arg("vmail")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !exists {
        let ok = Command::new("useradd")
            .args(["-r", "-M", "-s", "/usr/sbin/nologin", "vmail"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot create the vmail user");
    }
}

/// A Dovecot for one test user (`testuser`/`testpass`) with its Maildir at
/// `mail/testuser`. A started daemon is stopped (by its PID, waiting for it
/// to exit) on drop, and the scratch root removed.
#[derive(Debug)]
pub struct Dovecot {
    /// The scratch root (config, state, mail).
    pub root: PathBuf,
    /// The POP3 port (0 when not started).
    pub port: u16,
    /// The IMAP port (0 when not started).
    pub imap_port: u16,
    child: Option<Child>,
}

impl Dovecot {
    /// Writes the config, the user and an empty Maildir without starting
    /// the daemon (for [`Dovecot::exec_imap`]), or returns `None` (skip)
    /// when Dovecot is not installed.
    pub fn prepare() -> Option<Dovecot> {
        Self::setup(0, 0, "")
    }

    /// Starts the daemon serving POP3 ([`Dovecot::port`]) and IMAP
    /// ([`Dovecot::imap_port`]) on loopback, or returns `None` (skip) when
    /// it is not installed.
    pub fn start() -> Option<Dovecot> {
        Self::start_with("")
    }

    /// [`Dovecot::start`] with `extra` settings at the end of the config
    /// (IMAP METADATA, say, which takes settings the plain peer has not).
    pub fn start_with(extra: &str) -> Option<Dovecot> {
        let Some(dovecot) = which("dovecot") else {
            peer_missing("dovecot (apt-get install dovecot-pop3d dovecot-imapd)");
            return None;
        };
        let mut d = Self::setup(free_port(), free_port(), extra)?;
        let log = d.root.join("dovecot.log");
        let mut child = Command::new(dovecot)
            .args(["-F", "-c"])
            .arg(d.root.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dovecot starts");
        wait_for_port(d.port, &mut child, &log);
        wait_for_port(d.imap_port, &mut child, &log);
        d.child = Some(child);
        Some(d)
    }

    fn setup(port: u16, imap_port: u16, extra: &str) -> Option<Dovecot> {
        if which("dovecot").is_none() || which("doveadm").is_none() {
            peer_missing("dovecot (apt-get install dovecot-pop3d dovecot-imapd)");
            return None;
        }
        ensure_vmail();
        let root = std::env::temp_dir().join(format!(
            "mailwire-dovecot-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = fs::remove_dir_all(&root);
        for d in [
            "run",
            "state",
            "mail/testuser/new",
            "mail/testuser/cur",
            "mail/testuser/tmp",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let r = root.display();
        let conf = format!(
            "protocols = pop3 imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{r}/mail/%u
mail_uid = vmail
mail_gid = vmail
first_valid_uid = 100
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {r}/users
  default_fields = uid=vmail gid=vmail home={r}/mail/%u
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol pop3 {{
  pop3_uidl_format = %08Xu%08Xv
}}
{extra}"
        );
        fs::write(root.join("dovecot.conf"), conf).unwrap();
        fs::write(root.join("users"), "testuser:{PLAIN}testpass::::::\n").unwrap();
        // Traversable by vmail; the maildir owned by it.
        let mut p = root.clone();
        loop {
            let _ = Command::new("chmod").arg("755").arg(&p).status();
            if !p.pop() || p.as_os_str().is_empty() || p == Path::new("/") {
                break;
            }
        }
        let chown = Command::new("chown")
            .args(["-R", "vmail:vmail"])
            .arg(root.join("mail"))
            .status()
            .unwrap();
        assert!(chown.success());
        Some(Dovecot {
            root,
            port,
            imap_port,
            child: None,
        })
    }

    /// The user's Maildir.
    pub fn maildir(&self) -> PathBuf {
        self.root.join("mail/testuser")
    }

    /// Drops a message into the user's `new/` as an MTA would.
    pub fn deliver(&self, name: &str, content: &[u8]) {
        let tmp = self.maildir().join("tmp").join(name);
        fs::write(&tmp, content).unwrap();
        let dest = self.maildir().join("new").join(name);
        fs::rename(&tmp, &dest).unwrap();
        let _ = Command::new("chown")
            .args(["vmail:vmail"])
            .arg(&dest)
            .status();
    }

    /// Messages left on the server (new/ and cur/).
    pub fn count(&self) -> usize {
        ["new", "cur"]
            .iter()
            .map(|d| {
                fs::read_dir(self.maildir().join(d))
                    .map(|r| r.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Runs one IMAP session as `testuser` over stdin/stdout
    /// (`doveadm exec imap`: a PREAUTH greeting, then `script`, which
    /// should end with a LOGOUT) and returns everything Dovecot wrote.
    pub fn exec_imap(&self, script: &[u8]) -> Vec<u8> {
        let doveadm = which("doveadm").expect("doveadm");
        let mut child = Command::new(doveadm)
            .arg("-c")
            .arg(self.root.join("dovecot.conf"))
            .args(["exec", "imap"])
            .env("USER", "testuser")
            .env("HOME", self.maildir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("doveadm exec imap starts");
        let mut stdin = child.stdin.take().unwrap();
        let script = script.to_vec();
        // Write on a thread: a large reply would otherwise fill the pipe
        // while we are still writing. Keep stdin open until Dovecot has
        // said BYE: at EOF on its input it drops output not yet written
        // (a long FETCH reply came back cut short).
        let (bye_tx, bye_rx) = std::sync::mpsc::channel::<()>();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&script);
            let _ = stdin.flush();
            let _ = bye_rx.recv_timeout(Duration::from_secs(300));
        });
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let err_reader = std::thread::spawn(move || {
            let mut e = Vec::new();
            let _ = stderr.read_to_end(&mut e);
            e
        });
        let mut out = Vec::new();
        let mut chunk = [0u8; 65536];
        let mut bye_sent = false;
        loop {
            let n = stdout.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            let from = out.len().saturating_sub(6);
            out.extend_from_slice(&chunk[..n]);
            if !bye_sent && out[from..].windows(6).any(|w| w == b"\n* BYE") {
                bye_sent = true;
                let _ = bye_tx.send(());
            }
        }
        drop(bye_tx);
        let _ = child.wait();
        writer.join().unwrap();
        let err = err_reader.join().unwrap();
        assert!(
            out.starts_with(b"* PREAUTH"),
            "doveadm exec imap: {}{}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        );
        out
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

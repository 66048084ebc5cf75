//! Peer processes for the SMTP interop tests: start one, collect what it
//! prints, wait until it listens; Postfix's smtp-sink.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Waits until something listens on 127.0.0.1:`port` (20 s at most).
pub fn wait_listening(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "server on port {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A peer process whose stdout is collected; killed on drop.
pub struct Peer {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Peer {
    /// Starts `cmd`, collecting its stdout.
    pub fn spawn(cmd: &mut Command) -> Peer {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start peer");
        let stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let o = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut g = o.lock().unwrap_or_else(|e| e.into_inner());
                g.push_str(&line);
                g.push('\n');
            }
        });
        Peer { child, out }
    }

    /// What it printed so far.
    pub fn text(&self) -> String {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `marker` was printed; returns the output.
    pub fn wait_for(&self, marker: &str) -> String {
        self.wait_count(marker, 1)
    }

    /// Waits until `marker` was printed `n` times (60 s at most).
    pub fn wait_count(&self, marker: &str, n: usize) -> String {
        let start = Instant::now();
        loop {
            let s = self.text();
            if s.matches(marker).count() >= n {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "peer never printed {marker:?} {n} times; got {s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Postfix's smtp-sink on 127.0.0.1:`port`, listening; `None` (skip, or
/// fail under CI) when it is not installed.
pub fn smtp_sink(port: u16) -> Option<Peer> {
    if !super::have("smtp-sink") {
        return None;
    }
    let sink = if std::path::Path::new("/usr/sbin/smtp-sink").exists() {
        "/usr/sbin/smtp-sink"
    } else {
        "smtp-sink"
    };
    let peer = Peer::spawn(Command::new(sink).args([
        "-u",
        "nobody",
        "-c",
        &format!("127.0.0.1:{port}"),
        "200",
    ]));
    wait_listening(port);
    Some(peer)
}

//! Interop: sending a 1 GiB message, generated on the fly, through the
//! blocking SMTP transport keeps the process's peak memory under 32 MiB
//! (the body streams: nothing holds the message): to Postfix's smtp-sink
//! (DATA) and to the mailserver example in sink mode (BDAT). Alone in its
//! test binary so that no other test moves the peak. Opt-in: `cargo test
//! --release -p mailwire --tests -- --ignored --test-threads=1` after
//! `.ci/install-peers`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::io::Read;
use std::time::Instant;

use mailwire::blocking::{Security, SmtpOptions, SmtpTransport};

/// A message of `n` octets: a header, then 64-octet CRLF lines (every
/// 64th starting with a dot), produced block by block.
struct Generated {
    header: Vec<u8>,
    block: Vec<u8>,
    pos: u64,
    n: u64,
}

impl Generated {
    /// A message to `to` and (Bcc) `bcc`.
    fn new(n: u64, to: &str, bcc: &str) -> Generated {
        let header =
            format!("From: alice@example.org\r\nTo: {to}\r\nBcc: {bcc}\r\nSubject: big\r\n\r\n")
                .into_bytes();
        let mut block = Vec::with_capacity(4096);
        for line in 0..64 {
            let mut l = [b'x'; 64];
            if line == 0 {
                l[0] = b'.';
            }
            l[62] = b'\r';
            l[63] = b'\n';
            block.extend_from_slice(&l);
        }
        Generated {
            header,
            block,
            pos: 0,
            n,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let h = self.header.len() as u64;
        if self.pos >= self.n {
            return Ok(0);
        }
        let left = usize::try_from(self.n - self.pos).unwrap_or(usize::MAX);
        let src = if self.pos < h {
            &self.header[self.pos as usize..]
        } else {
            &self.block[((self.pos - h) % 4096) as usize..]
        };
        let k = src.len().min(buf.len()).min(left);
        buf[..k].copy_from_slice(&src[..k]);
        self.pos += k as u64;
        Ok(k)
    }
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Sends 1 GiB to `addr`; returns what to report. Asserts the peak;
/// `log` tells what the server said when it fails.
fn send_gib(addr: &str, to: &str, bcc: &str, log: impl Fn() -> String) -> String {
    let mut o = SmtpOptions::new();
    o.transport.security = Security::Plain;
    let mut smtp = SmtpTransport::connect(addr, o).unwrap();
    let chunking = smtp.capabilities().is_some_and(|c| c.chunking);
    // Forget the peak so far (Linux: "5" resets VmHWM to the current RSS).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = peak_kib();
    let n = 1u64 << 30;
    let t = Instant::now();
    let out = smtp
        .send_reader(&mut Generated::new(n, to, bcc), Some(n))
        .unwrap_or_else(|e| panic!("{e:?}\nserver log:\n{}", log()));
    let secs = t.elapsed().as_secs_f64();
    smtp.quit().unwrap();
    let peak = peak_kib();
    assert!(out.all_delivered(), "{out:?}");
    assert_eq!(out.recipients.len(), 2);
    assert!(peak < 32 * 1024, "peak RSS {peak} KiB");
    format!(
        "1 GiB sent with {} in {secs:.1} s ({:.0} MiB/s); peak RSS {peak} KiB (before {before} KiB)",
        if chunking { "BDAT" } else { "DATA" },
        1024.0 / secs,
    )
}

/// As [`send_gib`], through the tokio transport.
fn send_gib_tokio(addr: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let o = SmtpOptions::new().security(Security::Plain);
        let mut smtp = mailwire::tokio::SmtpTransport::connect(addr, o)
            .await
            .unwrap();
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = peak_kib();
        let n = 1u64 << 30;
        let t = Instant::now();
        let mut source = AsyncGenerated(Generated::new(n, "bob@example.net", "carol@example.net"));
        let out = smtp.send_reader(&mut source, Some(n)).await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        smtp.quit().await.unwrap();
        let peak = peak_kib();
        assert!(out.all_delivered(), "{out:?}");
        assert!(peak < 32 * 1024, "peak RSS {peak} KiB");
        format!("1 GiB in {secs:.1} s; peak RSS {peak} KiB (before {before} KiB)")
    })
}

/// [`Generated`] as an `AsyncRead` (it never waits).
struct AsyncGenerated(Generated);

impl tokio::io::AsyncRead for AsyncGenerated {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = self.0.read(buf.initialize_unfilled())?;
        buf.advance(n);
        std::task::Poll::Ready(Ok(()))
    }
}

#[test]
#[ignore = "interop: needs postfix's smtp-sink (bash .ci/install-peers)"]
fn one_gib_message_in_bounded_memory() {
    let port = common::dovecot::free_port();
    let Some(sink) = common::peer::smtp_sink(port) else {
        return;
    };
    let addr = format!("127.0.0.1:{port}");
    let report = send_gib(&addr, "bob@example.net", "carol@example.net", String::new);
    eprintln!("smtp-sink: {report}");
    let report = send_gib_tokio(&addr);
    eprintln!("smtp-sink, tokio transport: {report}");
    drop(sink);
    // The mailserver example in sink mode offers CHUNKING: the BDAT path.
    let dir = common::scratch("smtp-memory");
    let srv = common::MailServer::start(&dir.join("data"), &["--sink", "--max-size", "2000000000"]);
    let report = send_gib(
        &srv.smtp().to_string(),
        "demo@localhost",
        "postmaster@localhost",
        || srv.log(),
    );
    eprintln!("mailserver --sink: {report}");
    drop(srv);
    let _ = std::fs::remove_dir_all(dir);
}

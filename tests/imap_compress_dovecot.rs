//! Interop: COMPRESS=DEFLATE (RFC 4978) of the blocking IMAP driver
//! (`mailwire::blocking::ImapSession` with `ImapOptions::compress`) against
//! Dovecot 2.3 with its `imap_zlib` plugin (../shared/PEERS.md). The
//! session runs through a counting relay, so the test also sees that the
//! bytes on the wire are fewer than the message's in both directions:
//! log in, compression on, APPEND a 300 KB text message, SELECT, FETCH it
//! back byte for byte, LIST, LOGOUT. A Dovecot without the plugin (no
//! `COMPRESS=DEFLATE` after login) fails the test.
//!
//! `#[ignore]`d: run with `cargo test --release -p mailwire --test imap_compress_dovecot -- --ignored`
//! after `bash .ci/install-peers`. A missing Dovecot skips the test, or
//! fails it when `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use common::dovecot::Dovecot;
use mailwire::blocking::{ImapOptions, ImapSession, Security};
use mailwire::imap::SearchKey;

/// The settings that load Dovecot's COMPRESS plugin
/// (`/usr/lib/dovecot/modules/lib30_imap_zlib_plugin.so`).
const IMAP_ZLIB: &str = "protocol imap {\n  mail_plugins = $mail_plugins imap_zlib\n}\n";

/// Octets relayed each way.
#[derive(Default)]
struct Counts {
    up: AtomicUsize,
    down: AtomicUsize,
}

/// A relay on loopback to `target` for one connection, counting the
/// octets each way.
fn relay(target: u16) -> (u16, Arc<Counts>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    let h = std::thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let server = TcpStream::connect(("127.0.0.1", target)).unwrap();
        let pipe = |mut from: TcpStream, mut to: TcpStream, n: Arc<Counts>, up: bool| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                loop {
                    let k = match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => k,
                    };
                    let counter = if up { &n.up } else { &n.down };
                    counter.fetch_add(k, Ordering::SeqCst);
                    if to.write_all(&buf[..k]).is_err() {
                        break;
                    }
                }
                let _ = to.shutdown(Shutdown::Write);
            })
        };
        let a = pipe(
            client.try_clone().unwrap(),
            server.try_clone().unwrap(),
            c.clone(),
            true,
        );
        let b = pipe(server, client, c, false);
        a.join().unwrap();
        b.join().unwrap();
    });
    (port, counts, h)
}

/// A text message of about 300 KB (lines that differ, as real text does,
/// but compress well).
fn message() -> Vec<u8> {
    let mut m = b"From: Fred <fred@example.org>\r\nTo: Joe <joe@example.org>\r\n\
Subject: compressed\r\nMessage-ID: <compress-1@example.org>\r\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        .to_vec();
    for i in 0..6000 {
        m.extend_from_slice(
            format!(
                "{i:05} The quick brown fox jumps over the lazy dog, {}.\r\n",
                i * 7
            )
            .as_bytes(),
        );
    }
    m
}

#[test]
#[ignore = "interop: needs Dovecot"]
fn compress_deflate_against_dovecot() {
    let Some(d) = Dovecot::start_with(IMAP_ZLIB) else {
        return;
    };
    let (port, counts, relay) = relay(d.imap_port);
    let mut o = ImapOptions::default().compress(true);
    o.transport.security = Security::Plain;
    o.machine.command_timeout = Duration::from_secs(30);
    let mut s = ImapSession::connect(&format!("127.0.0.1:{port}"), o).unwrap();
    assert!(!s.is_compressed());
    s.login("testuser", "testpass").unwrap();
    let log = || std::fs::read_to_string(d.root.join("dovecot.log")).unwrap_or_default();
    let caps = s.capabilities().unwrap();
    assert!(
        caps.has("COMPRESS=DEFLATE"),
        "Dovecot offers no COMPRESS=DEFLATE (imap_zlib plugin missing?): {caps:?}\n{}",
        log()
    );
    assert!(s.is_compressed(), "COMPRESS was not turned on");
    let before = (
        counts.up.load(Ordering::SeqCst),
        counts.down.load(Ordering::SeqCst),
    );

    let msg = message();
    s.append("INBOX", Vec::new(), &msg).unwrap();
    let up = counts.up.load(Ordering::SeqCst) - before.0;
    assert!(
        up * 4 < msg.len(),
        "APPEND of {} octets took {up} on the wire",
        msg.len()
    );

    let inbox = s.select("INBOX").unwrap();
    assert_eq!(inbox.exists, 1);
    let uids = s.uid_search(vec![SearchKey::All]).unwrap();
    assert_eq!(uids.len(), 1);
    let down0 = counts.down.load(Ordering::SeqCst);
    let mut got = Vec::new();
    let n = s.fetch_message_to(uids[0], &mut got).unwrap();
    assert_eq!(n as usize, msg.len());
    assert!(
        got == msg,
        "the fetched message differs from the appended one"
    );
    let down = counts.down.load(Ordering::SeqCst) - down0;
    assert!(
        down * 4 < msg.len(),
        "FETCH of {} octets took {down} on the wire",
        msg.len()
    );

    let folders = s.list_folders(true).unwrap();
    let inbox = folders.iter().find(|f| f.name == "INBOX").expect("INBOX");
    assert_eq!(inbox.status.and_then(|st| st.messages), Some(1));
    s.logout().unwrap();
    relay.join().unwrap();
    assert!(
        !log().contains("Error"),
        "Dovecot logged an error:\n{}",
        log()
    );
}

#[test]
#[ignore = "interop: needs Dovecot"]
fn without_the_plugin_the_session_stays_uncompressed() {
    let Some(d) = Dovecot::start() else {
        return;
    };
    let mut o = ImapOptions::default().compress(true);
    o.transport.security = Security::Plain;
    let mut s = ImapSession::connect(&format!("127.0.0.1:{}", d.imap_port), o).unwrap();
    s.login("testuser", "testpass").unwrap();
    assert!(!s.capabilities().unwrap().has("COMPRESS=DEFLATE"));
    assert!(!s.is_compressed());
    assert_eq!(s.select("INBOX").unwrap().exists, 0);
    s.logout().unwrap();
}

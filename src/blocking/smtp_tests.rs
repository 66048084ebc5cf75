//! The blocking SMTP transport against the SMTP server machine of
//! mailwire-smtp on a loopback thread (plaintext): reconnection after the
//! server ended an idle session, a message whose source fails (aborted with
//! BDAT, the connection closed with DATA: never a truncated delivery),
//! 8-bit content and a server without 8BITMIME, a silent server timed out.
//! (aiosmtpd, smtp-sink and the mailserver are the peers of
//! tests/interop_smtp_transport.rs and tests/interop_smtp_memory.rs.)

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mailwire_smtp::ConnectionError;
use mailwire_smtp::client::MailError;
use mailwire_smtp::server::{self, Server};

use super::smtp::{SmtpError, SmtpOptions, SmtpTransport};
use super::tls::Security;

/// What the server saw: one entry per complete message (its content), and
/// the number of sessions.
#[derive(Debug, Default)]
struct Seen {
    messages: Vec<Vec<u8>>,
    aborted: usize,
    sessions: usize,
}

/// Serves `sessions` connections with the server machine; after
/// `shutdown_after` messages in a session, ends it with 421.
fn serve(
    opts: server::Options,
    sessions: usize,
    shutdown_after: Option<usize>,
) -> (u16, Arc<Mutex<Seen>>, JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s2 = seen.clone();
    let t = std::thread::spawn(move || {
        for _ in 0..sessions {
            let Ok((sock, _)) = l.accept() else { return };
            s2.lock().unwrap().sessions += 1;
            session(sock, opts.clone(), &s2, shutdown_after);
        }
    });
    (port, seen, t)
}

fn session(
    mut sock: TcpStream,
    opts: server::Options,
    seen: &Mutex<Seen>,
    shutdown_after: Option<usize>,
) {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut srv = Server::new(opts, Instant::now());
    let mut body = Vec::new();
    let mut done = 0;
    let mut buf = vec![0u8; 65536];
    loop {
        while let Some(ev) = srv.poll_event() {
            match ev {
                server::Event::Mail { handle, .. } | server::Event::Rcpt { handle, .. } => {
                    srv.accept(handle).unwrap()
                }
                server::Event::DataStart { .. } => body.clear(),
                server::Event::DataChunk(c) => body.extend_from_slice(&c),
                server::Event::DataEnd { handle, .. } => {
                    srv.accept(handle).unwrap();
                    seen.lock()
                        .unwrap()
                        .messages
                        .push(std::mem::take(&mut body));
                    done += 1;
                    if shutdown_after == Some(done) {
                        srv.shutdown();
                    }
                }
                server::Event::MessageAborted { .. } => seen.lock().unwrap().aborted += 1,
                _ => {}
            }
        }
        let mut out = Vec::new();
        while srv.poll_transmit(Instant::now(), &mut out).is_some() {}
        if !out.is_empty() && sock.write_all(&out).is_err() {
            return;
        }
        if srv.is_closed() {
            return;
        }
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => return srv.handle_eof(Instant::now()),
            Ok(n) => srv.handle_input(Instant::now(), &buf[..n]),
        }
    }
}

fn plain() -> SmtpOptions {
    SmtpOptions::new().security(Security::Plain)
}

fn msg(subject: &str) -> Vec<u8> {
    format!("From: a@example.org\r\nTo: b@example.net\r\nBcc: c@example.net\r\nSubject: {subject}\r\n\r\nhi\r\n")
        .into_bytes()
}

#[test]
fn reconnects_after_the_server_ended_an_idle_session() {
    let (port, seen, t) = serve(server::Options::default(), 2, Some(1));
    let mut smtp = SmtpTransport::connect(&format!("127.0.0.1:{port}"), plain()).unwrap();
    let o = smtp.send(&msg("one")).unwrap();
    assert!(o.all_delivered() && o.recipients.len() == 2);
    // The server said 421 and closed; the next message opens a new session.
    std::thread::sleep(Duration::from_millis(1100));
    assert!(smtp.send(&msg("two")).unwrap().all_delivered());
    smtp.quit().unwrap();
    t.join().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.sessions, 2);
    assert_eq!(seen.messages.len(), 2);
    assert!(!String::from_utf8_lossy(&seen.messages[1]).contains("Bcc"));
}

/// RFC 9422 with the server machine announcing `LIMITS MAILMAX=2
/// RCPTMAX=100`: 130 recipients go in two transactions (100, then 30) and
/// the outcome has each one's result; the next message finds the session's
/// two transactions used and goes in a new session.
#[test]
fn limits_split_recipients_and_sessions() {
    use mailwire_smtp::client::Envelope;
    use mailwire_smtp::{Mailbox, ReversePath};
    let mut so = server::Options::default();
    so.max_transactions = Some(2);
    let (port, seen, t) = serve(so, 2, None);
    let mut smtp = SmtpTransport::connect(&format!("127.0.0.1:{port}"), plain()).unwrap();
    let mbox = |s: String| Mailbox::try_from(s).unwrap();
    let envelope = Envelope::new(
        ReversePath::Mailbox(mbox("a@example.org".into())),
        (0..130).map(|k| mbox(format!("u{k}@example.net"))),
    );
    let o = smtp
        .send_envelope(
            envelope,
            bytes::Bytes::from_static(b"Subject: many\r\n\r\nhi\r\n"),
        )
        .unwrap();
    assert_eq!(o.recipients.len(), 130);
    assert!(o.all_delivered());
    assert!(smtp.send(&msg("next")).unwrap().all_delivered());
    smtp.quit().unwrap();
    t.join().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.messages.len(), 3);
    assert_eq!(seen.sessions, 2);
}

/// Gives `good` octets of a message, then fails.
struct Failing {
    data: io::Cursor<Vec<u8>>,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.data.read(buf)? {
            0 => Err(io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

fn failing(body: usize) -> Failing {
    let mut v = msg("failing");
    v.extend(std::iter::repeat_n(b'x', body));
    Failing {
        data: io::Cursor::new(v),
    }
}

#[test]
fn a_failing_source_is_never_delivered_truncated() {
    // BDAT: the message is aborted (no LAST, RSET), the session goes on.
    let (port, seen, t) = serve(server::Options::default(), 1, None);
    let mut o = plain();
    o.machine.bdat_chunk_size = 64 * 1024;
    let mut smtp = SmtpTransport::connect(&format!("127.0.0.1:{port}"), o).unwrap();
    assert!(smtp.capabilities().unwrap().chunking);
    let err = smtp.send_reader(&mut failing(300_000), None).unwrap_err();
    assert!(matches!(err, SmtpError::Source(_)), "{err:?}");
    assert!(smtp.send(&msg("after")).unwrap().all_delivered());
    smtp.quit().unwrap();
    t.join().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.messages.len(), 1, "only the second message");
    assert!(String::from_utf8_lossy(&seen.messages[0]).contains("Subject: after"));

    // DATA: the connection is closed instead of ending the data; the next
    // message reconnects.
    let mut so = server::Options::default();
    so.chunking = false;
    let (port, seen, t) = serve(so, 2, None);
    let mut smtp = SmtpTransport::connect(&format!("127.0.0.1:{port}"), plain()).unwrap();
    let err = smtp.send_reader(&mut failing(300_000), None).unwrap_err();
    assert!(matches!(err, SmtpError::Source(_)), "{err:?}");
    assert!(smtp.send(&msg("after")).unwrap().all_delivered());
    smtp.quit().unwrap();
    t.join().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.sessions, 2);
    assert_eq!(seen.messages.len(), 1, "only the second message");
}

#[test]
fn eight_bit_content_and_a_server_without_8bitmime() {
    let mut so = server::Options::default();
    so.eightbitmime = false;
    let (port, seen, t) = serve(so, 1, None);
    let mut smtp = SmtpTransport::connect(&format!("127.0.0.1:{port}"), plain()).unwrap();
    let mut m = msg("8bit");
    m.extend_from_slice("Grüße\r\n".as_bytes());
    // Whole: downgraded to 7 bit and sent.
    assert!(smtp.send(&m).unwrap().all_delivered());
    // Streamed: the 8-bit octets are found on the way and the message is
    // aborted before its end.
    let err = smtp.send_reader(&mut io::Cursor::new(m), None).unwrap_err();
    assert!(
        matches!(err, SmtpError::NotSent(MailError::EightBitUnsupported)),
        "{err:?}"
    );
    smtp.quit().unwrap();
    t.join().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.messages.len(), 1);
    assert!(seen.messages[0].is_ascii());
}

#[test]
fn a_silent_server_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (_sock, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_secs(2));
    });
    let mut o = plain();
    o.machine.greeting_timeout = Duration::from_millis(300);
    let start = Instant::now();
    let err = SmtpTransport::connect(&format!("127.0.0.1:{port}"), o).unwrap_err();
    assert!(
        matches!(err, SmtpError::Closed(ConnectionError::Timeout(_))),
        "{err:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    t.join().unwrap();
}

/// The same behaviours through the tokio transport.
#[cfg(feature = "tokio")]
mod on_tokio {
    use super::*;
    use crate::tokio::SmtpTransport;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        ::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A reader of `good` octets that then fails.
    struct FailingAsync(Vec<u8>);

    impl ::tokio::io::AsyncRead for FailingAsync {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut ::tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            if self.0.is_empty() {
                return std::task::Poll::Ready(Err(io::Error::other("disk on fire")));
            }
            let n = self.0.len().min(buf.remaining());
            buf.put_slice(&self.0[..n]);
            self.0.drain(..n);
            std::task::Poll::Ready(Ok(()))
        }
    }

    fn failing_async() -> FailingAsync {
        let mut v = msg("failing");
        v.extend(std::iter::repeat_n(b'x', 300_000));
        FailingAsync(v)
    }

    #[test]
    fn reconnects_and_never_delivers_a_failing_source() {
        // DATA: the failing message closes the connection; the next one
        // reopens it; then the server ends the idle session with 421 and
        // the third message reopens it again.
        let mut so = server::Options::default();
        so.chunking = false;
        let (port, seen, t) = serve(so, 3, Some(1));
        block_on(async {
            let addr = format!("127.0.0.1:{port}");
            let mut smtp = SmtpTransport::connect(&addr, plain()).await.unwrap();
            let err = smtp
                .send_reader(&mut failing_async(), None)
                .await
                .unwrap_err();
            assert!(matches!(err, SmtpError::Source(_)), "{err:?}");
            assert!(smtp.send(&msg("two")).await.unwrap().all_delivered());
            ::tokio::time::sleep(Duration::from_millis(1100)).await;
            assert!(smtp.send(&msg("three")).await.unwrap().all_delivered());
            smtp.quit().await.unwrap();
        });
        t.join().unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.sessions, 3);
        assert_eq!(seen.messages.len(), 2);

        // BDAT: aborted, the session goes on.
        let (port, seen, t) = serve(server::Options::default(), 1, None);
        block_on(async {
            let mut o = plain();
            o.machine.bdat_chunk_size = 64 * 1024;
            let addr = format!("127.0.0.1:{port}");
            let mut smtp = SmtpTransport::connect(&addr, o).await.unwrap();
            let err = smtp
                .send_reader(&mut failing_async(), None)
                .await
                .unwrap_err();
            assert!(matches!(err, SmtpError::Source(_)), "{err:?}");
            assert!(smtp.send(&msg("after")).await.unwrap().all_delivered());
            smtp.quit().await.unwrap();
        });
        t.join().unwrap();
        assert_eq!(seen.lock().unwrap().messages.len(), 1);
    }

    #[test]
    fn a_silent_server_times_out() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (_sock, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_secs(2));
        });
        let mut o = plain();
        o.machine.greeting_timeout = Duration::from_millis(300);
        let err = block_on(SmtpTransport::connect(&format!("127.0.0.1:{port}"), o)).unwrap_err();
        assert!(
            matches!(err, SmtpError::Closed(ConnectionError::Timeout(_))),
            "{err:?}"
        );
        t.join().unwrap();
    }
}

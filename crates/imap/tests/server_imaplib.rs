//! Interop: Python's imaplib against the server machine, driven over a
//! loopback socket by the driver loop the machine documents. Opt-in
//! (`cargo test -p mailwire-imap -- --ignored`): it needs python3.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroU32;
use std::process::Command;
use std::time::{Duration, Instant};

use mailwire_imap::server::{Completion, Event, FetchLiteral, Greeting, Options, Server, Streamed};
use mailwire_imap::{Code, CommandBody, Data, FetchItem, Flag, Section};
use mailwire_sasl::Secret;

const MESSAGE: &[u8] = b"From: a@example.com\r\nSubject: hi\r\n\r\nHello from mailwire.\r\n";

/// One session: the documented driver loop with a one-message mailbox.
fn serve(mut sock: TcpStream) {
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut opts = Options::default();
    opts.allow_plaintext_auth = true; // loopback
    let mut s = Server::new(
        opts,
        Greeting::ok("mailwire ready"),
        "nonce",
        Instant::now(),
    )
    .unwrap();
    let (mut out, mut buf) = (Vec::new(), [0u8; 4096]);
    loop {
        while s.poll_transmit(Instant::now(), &mut out).is_some() {}
        sock.write_all(&out).unwrap();
        out.clear();
        let mut answered = false;
        while let Some(ev) = s.poll_event() {
            answered = true;
            match ev {
                Event::Authenticate { handle, .. } => s
                    .provide_password(handle, Some(Secret::new("p".to_owned())))
                    .unwrap(),
                Event::LoggedIn { handle, .. } => s
                    .complete(handle, Completion::ok("LOGIN completed"))
                    .unwrap(),
                Event::Command {
                    handle, command, ..
                } => match command {
                    CommandBody::Select { .. } => {
                        s.send_data(handle, Data::Flags(vec![Flag::Seen, Flag::Deleted]))
                            .unwrap();
                        s.send_data(handle, Data::Exists(1)).unwrap();
                        let v = Code::UidValidity(NonZeroU32::new(7).unwrap());
                        s.send_status(handle, Completion::ok("UIDs valid").with_code(v))
                            .unwrap();
                        s.complete(
                            handle,
                            Completion::ok("SELECT completed").with_code(Code::ReadWrite),
                        )
                        .unwrap();
                    }
                    CommandBody::Fetch { .. } => {
                        let fetch = FetchLiteral {
                            seq: NonZeroU32::new(1).unwrap(),
                            items: vec![FetchItem::Uid(NonZeroU32::new(42).unwrap())],
                            item: Streamed::Body {
                                section: Section::default(),
                                origin: None,
                            },
                            length: MESSAGE.len() as u64,
                        };
                        s.start_fetch_literal(handle, fetch).unwrap();
                        for c in MESSAGE.chunks(9) {
                            s.send_literal_chunk(handle, c).unwrap();
                            while s.poll_transmit(Instant::now(), &mut out).is_some() {}
                        }
                        s.complete(handle, Completion::ok("FETCH completed"))
                            .unwrap();
                    }
                    _ => s.complete(handle, Completion::no("not here")).unwrap(),
                },
                Event::Closed { .. } => {
                    while s.poll_transmit(Instant::now(), &mut out).is_some() {}
                    let _ = sock.write_all(&out);
                    return;
                }
                _ => {}
            }
        }
        if answered {
            continue;
        }
        match sock.read(&mut buf) {
            Ok(0) => s.handle_eof(Instant::now()),
            Ok(n) => s.handle_input(Instant::now(), &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                s.handle_timeout(Instant::now())
            }
            Err(_) => s.handle_eof(Instant::now()),
        }
    }
}

const SCRIPT: &str = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
print("caps", sorted(M.capabilities))
print(M.login("u", "p")[0])
print("caps", M.capability()[1][0].decode())
typ, data = M.select("INBOX")
print("select", typ, data)
typ, data = M.fetch("1", "(UID BODY.PEEK[])")
print("fetch", typ, data[0][0].decode(), data[0][1].decode().replace("\r\n", "|"))
typ, data = M.noop()
print("noop", typ)
print("logout", M.logout()[0])
"#;

#[test]
#[ignore = "interop: needs python3 (imaplib)"]
fn imaplib_logs_in_selects_fetches_and_logs_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        serve(sock);
    });
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(port.to_string())
        .output()
        .expect("python3");
    server.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "caps ['ID', 'IMAP4REV1', 'IMAP4REV2', 'LITERAL-']",
            "OK",
            "caps IMAP4rev1 IMAP4rev2 LITERAL- ID ENABLE IDLE UNSELECT NAMESPACE",
            "select OK [b'1']",
            "fetch OK 1 (UID 42 BODY[] {58} From: a@example.com|Subject: hi||Hello from mailwire.|",
            "noop NO",
            "logout BYE",
        ],
        "{stdout}"
    );
}

//! The blocking IMAP driver against a tiny scripted IMAP server on a
//! loopback thread, with real rustls on both sides: STARTTLS and implicit
//! TLS verified against a test CA, a certificate from another CA refused,
//! STARTTLS required but not offered refused, and a server that stops
//! answering timed out. (Dovecot is the peer of tests/interop_imap_ua.rs.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::imap::{ImapError, ImapOptions, ImapSession};
use super::tls::{Security, TransportError, Verification};

/// A CA and a `localhost` certificate it signed.
struct Pki {
    ca: CertificateDer<'static>,
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca: ca.der().clone(),
        cert: cert.der().clone(),
        key: key.serialize_der(),
    }
}

fn server_config(p: &Pki) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![p.cert.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(p.key.clone())),
        )
        .unwrap();
    Arc::new(config)
}

/// Answers IMAP commands line by line until LOGOUT or EOF.
fn serve<S: Read + Write>(
    io: S,
    mut greeting: Option<&str>,
    caps: &str,
    log: &mut Vec<String>,
) -> S {
    let mut r = BufReader::new(io);
    if let Some(g) = greeting.take() {
        r.get_mut().write_all(g.as_bytes()).unwrap();
    }
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return r.into_inner();
        }
        log.push(line.trim_end().to_owned());
        let mut w = line.split_whitespace();
        let tag = w.next().unwrap_or("*").to_owned();
        let mut cmd = w.next().unwrap_or("").to_ascii_uppercase();
        if cmd == "UID" {
            cmd = format!("UID {}", w.next().unwrap_or("").to_ascii_uppercase());
        }
        let reply = match cmd.as_str() {
            "CAPABILITY" => format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n"),
            "STARTTLS" => {
                r.get_mut()
                    .write_all(format!("{tag} OK begin TLS\r\n").as_bytes())
                    .unwrap();
                return r.into_inner();
            }
            "AUTHENTICATE" | "LOGIN" => format!("{tag} OK [CAPABILITY {caps}] welcome\r\n"),
            "SELECT" | "EXAMINE" => format!(
                "* 2 EXISTS\r\n* OK [UIDVALIDITY 42] u\r\n* OK [UIDNEXT 9] n\r\n\
                 * FLAGS (\\Seen)\r\n{tag} OK [READ-WRITE] selected\r\n"
            ),
            "UID COPY" | "UID STORE" | "UID EXPUNGE" | "EXPUNGE" => {
                format!("{tag} OK done\r\n")
            }
            "NOOP" => {
                // Never answered: the client must time out.
                continue;
            }
            "LOGOUT" => {
                let bye = format!("* BYE bye\r\n{tag} OK done\r\n");
                r.get_mut().write_all(bye.as_bytes()).unwrap();
                r.get_mut().flush().unwrap();
                return r.into_inner();
            }
            _ => format!("{tag} BAD what\r\n"),
        };
        r.get_mut().write_all(reply.as_bytes()).unwrap();
        r.get_mut().flush().unwrap();
    }
}

/// One connection served on a thread: `mode` decides the TLS.
fn spawn(p: &Pki, mode: Security, caps_before_tls: &'static str) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = server_config(p);
    let h = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut log = Vec::new();
        let after_tls = "IMAP4rev1 AUTH=PLAIN SASL-IR IDLE";
        let tls = |tcp: TcpStream| {
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            rustls::StreamOwned::new(conn, tcp)
        };
        match mode {
            Security::Plain => {
                let greeting = format!("* OK [CAPABILITY {caps_before_tls}] plain\r\n");
                serve(tcp, Some(&greeting), caps_before_tls, &mut log);
            }
            Security::StartTls => {
                let greeting = format!("* OK [CAPABILITY {caps_before_tls}] hello\r\n");
                let tcp = serve(tcp, Some(&greeting), caps_before_tls, &mut log);
                let mut s = tls(tcp);
                // A refused handshake shows up here as an error: end quietly.
                if s.conn.complete_io(&mut s.sock).is_ok() {
                    serve(s, None, after_tls, &mut log);
                }
            }
            Security::Implicit => {
                let mut s = tls(tcp);
                if s.conn.complete_io(&mut s.sock).is_ok() {
                    let greeting = format!("* OK [CAPABILITY {after_tls}] tls\r\n");
                    serve(s, Some(&greeting), after_tls, &mut log);
                }
            }
        }
        log
    });
    (port, h)
}

fn assert_certificate_refused(err: &ImapError) {
    assert!(
        matches!(
            err,
            ImapError::Transport(TransportError::Tls(rustls::Error::InvalidCertificate(_)))
        ),
        "{err}"
    );
}

fn connect(
    port: u16,
    security: Security,
    ca: &CertificateDer<'static>,
) -> Result<ImapSession, ImapError> {
    ImapSession::connect(&format!("localhost:{port}"), options(security, ca))
}

fn options(security: Security, ca: &CertificateDer<'static>) -> ImapOptions {
    let mut o = ImapOptions::default();
    o.transport.security = security;
    o.transport.verification = Verification::CustomCa(vec![ca.clone()]);
    o
}

#[test]
fn starttls_verified_against_the_test_ca() {
    let p = pki();
    let (port, h) = spawn(&p, Security::StartTls, "IMAP4rev1 STARTTLS LOGINDISABLED");
    let mut s = connect(port, Security::StartTls, &p.ca).unwrap();
    assert!(s.is_tls());
    let caps = s.capabilities().unwrap();
    assert!(
        caps.has("AUTH=PLAIN") && !caps.has("STARTTLS"),
        "asked again"
    );
    s.login("fred", "secret").unwrap();
    let m = s.select("INBOX").unwrap();
    assert_eq!((m.exists, m.uid_validity.map(|v| v.get())), (2, Some(42)));
    s.logout().unwrap();
    h.join().unwrap();
}

#[test]
fn implicit_tls_verified_against_the_test_ca() {
    let p = pki();
    let (port, h) = spawn(&p, Security::Implicit, "");
    let mut s = connect(port, Security::Implicit, &p.ca).unwrap();
    assert!(s.is_tls());
    s.login("fred", "secret").unwrap();
    s.logout().unwrap();
    h.join().unwrap();
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let p = pki();
    let other = pki();
    for mode in [Security::StartTls, Security::Implicit] {
        let (port, h) = spawn(&p, mode, "IMAP4rev1 STARTTLS");
        let err = ImapSession::connect(&format!("localhost:{port}"), options(mode, &other.ca))
            .unwrap_err();
        assert_certificate_refused(&err);
        h.join().unwrap();
    }
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let p = pki();
    let (port, h) = spawn(&p, Security::Implicit, "");
    let mut o = options(Security::Implicit, &p.ca);
    o.transport.server_name = Some("mail.example.org".into());
    let err = ImapSession::connect(&format!("127.0.0.1:{port}"), o).unwrap_err();
    assert_certificate_refused(&err);
    h.join().unwrap();
}

#[test]
fn insecure_accepts_any_certificate() {
    let p = pki();
    let (port, h) = spawn(&p, Security::Implicit, "");
    let mut o = ImapOptions::default();
    o.transport.verification = Verification::InsecureAcceptAny;
    let mut s = ImapSession::connect(&format!("localhost:{port}"), o).unwrap();
    s.login("fred", "secret").unwrap();
    s.logout().unwrap();
    h.join().unwrap();
}

#[test]
fn starttls_required_but_not_offered_is_an_error() {
    let p = pki();
    let (port, h) = spawn(&p, Security::Plain, "IMAP4rev1 AUTH=PLAIN SASL-IR");
    let err = connect(port, Security::StartTls, &p.ca).unwrap_err();
    assert!(matches!(err, ImapError::StartTlsUnavailable), "{err}");
    h.join().unwrap();
}

#[test]
fn a_silent_server_times_out_and_a_refusal_keeps_the_tagged_response() {
    let p = pki();
    let (port, h) = spawn(&p, Security::Plain, "IMAP4rev1 AUTH=PLAIN SASL-IR");
    let mut o = options(Security::Plain, &p.ca);
    o.machine.command_timeout = Duration::from_millis(400);
    let mut s = ImapSession::connect(&format!("localhost:{port}"), o).unwrap();
    s.login("fred", "secret").unwrap();
    let err = s.enable(&["X-UNKNOWN"]).unwrap_err();
    let ImapError::Command {
        command, tagged, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*command, "ENABLE");
    assert!(tagged.as_bytes().ends_with(b"BAD what\r\n"));
    let t = Instant::now();
    let err = s.run(mailwire_imap::CommandBody::Noop).unwrap_err();
    assert!(
        matches!(
            err,
            ImapError::Closed(mailwire_imap::client::ConnectionError::Timeout)
        ),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    drop(s);
    h.join().unwrap();
}

#[test]
fn move_without_move_is_copy_store_and_uid_expunge() {
    let p = pki();
    let (port, h) = spawn(&p, Security::Plain, "IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS");
    let mut s = connect(port, Security::Plain, &p.ca).unwrap();
    s.login("fred", "secret").unwrap();
    s.select("INBOX").unwrap();
    let set = super::imap::uid_set(&[3, 4, 5, 9]).unwrap();
    s.move_messages(&set, "Trash").unwrap();
    s.logout().unwrap();
    let log = h.join().unwrap();
    let cmds: Vec<&str> = log
        .iter()
        .map(|l| l.split_once(' ').map_or(l.as_str(), |(_, c)| c))
        .collect();
    let at = cmds.iter().position(|c| c.starts_with("UID COPY")).unwrap();
    assert_eq!(
        &cmds[at..at + 3],
        [
            "UID COPY 3:5,9 Trash",
            "UID STORE 3:5,9 +FLAGS.SILENT (\\Deleted)",
            "UID EXPUNGE 3:5,9"
        ],
        "{log:?}"
    );
}

//! The blocking IMAP driver against a tiny scripted IMAP server on a
//! loopback thread, with real rustls on both sides: STARTTLS and implicit
//! TLS verified against a test CA, a certificate from another CA refused,
//! STARTTLS required but not offered refused, a server that stops
//! answering timed out, and COMPRESS=DEFLATE (RFC 4978) accepted, under TLS
//! or not, and refused. (Dovecot is the peer of tests/interop_imap_ua.rs
//! and tests/imap_compress_dovecot.rs.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use mailwire_imap::{Date, DateTime};

use super::imap::{ImapError, ImapOptions, ImapSession, SummaryItems};
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
fn serve<S: Read + Write>(io: S, greeting: Option<&str>, caps: &str, log: &mut Vec<String>) -> S {
    serve_with(io, greeting, caps, log, |_, _, _| None)
}

/// A test's own answer to a command: given the command name (upper case,
/// `UID FETCH` as one), the tag and the whole line, the full reply, or
/// `None` for [`serve`]'s.
type Answer = fn(&str, &str, &str) -> Option<String>;

/// [`serve`], with `answer` asked first.
fn serve_with<S: Read + Write>(
    io: S,
    mut greeting: Option<&str>,
    caps: &str,
    log: &mut Vec<String>,
    answer: Answer,
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
        if let Some(reply) = answer(&cmd, &tag, line.trim_end()) {
            r.get_mut().write_all(reply.as_bytes()).unwrap();
            r.get_mut().flush().unwrap();
            continue;
        }
        let reply = match cmd.as_str() {
            "CAPABILITY" => format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n"),
            "STARTTLS" => {
                r.get_mut()
                    .write_all(format!("{tag} OK begin TLS\r\n").as_bytes())
                    .unwrap();
                return r.into_inner();
            }
            // Answered by the caller (`serve_compress`).
            "COMPRESS" => return r.into_inner(),
            "LIST" => format!(
                "* LIST () \"/\" INBOX\r\n* LIST (\\HasNoChildren) \"/\" Archive\r\n{tag} OK done\r\n"
            ),
            "UID FETCH" => {
                let body = fetched_body();
                let mut reply =
                    format!("* 1 FETCH (UID 7 BODY[] {{{}}}\r\n", body.len()).into_bytes();
                reply.extend_from_slice(&body);
                reply.extend_from_slice(format!(")\r\n{tag} OK done\r\n").as_bytes());
                r.get_mut().write_all(&reply).unwrap();
                r.get_mut().flush().unwrap();
                continue;
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

// ----- OBJECTID (RFC 8474) and SAVEDATE (RFC 8514) --------------------------

/// One plaintext connection that announces `caps`, served with `answer` first.
fn spawn_plain(caps: &'static str, answer: Answer) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut log = Vec::new();
        let greeting = format!("* OK [CAPABILITY {caps}] plain\r\n");
        serve_with(tcp, Some(&greeting), caps, &mut log, answer);
        log
    });
    (port, h)
}

fn plain_login(port: u16) -> ImapSession {
    let mut o = ImapOptions::default();
    o.transport.security = Security::Plain;
    let mut s = ImapSession::connect(&format!("127.0.0.1:{port}"), o).unwrap();
    s.login("fred", "secret").unwrap();
    s
}

/// The commands the server read, without their tags, that start with `name`.
fn sent<'a>(log: &'a [String], name: &str) -> Vec<&'a str> {
    log.iter()
        .filter_map(|l| l.split_once(' ').map(|(_, c)| c))
        .filter(|c| c.starts_with(name))
        .collect()
}

/// A server without OBJECTID and SAVEDATE refuses their FETCH items.
fn refuse_unknown_items(line: &str, tag: &str) -> Option<String> {
    ["EMAILID", "THREADID", "SAVEDATE", "MAILBOXID"]
        .iter()
        .any(|i| line.contains(i))
        .then(|| format!("{tag} BAD unknown item\r\n"))
}

fn summary_items() -> SummaryItems {
    let mut what = SummaryItems::flags_only();
    what.object_ids = true;
    what.save_date = true;
    what
}

/// RFC 8474 §4.2, §5.3 and RFC 8514 §4.2: with both capabilities the
/// summaries carry the EMAILID, THREADID and SAVEDATE, and the selected
/// mailbox its MAILBOXID; not asked for, the fields stay `None`.
#[test]
fn rfc8474_rfc8514_summaries_carry_object_ids_and_save_date() {
    let (port, h) = spawn_plain(
        "IMAP4rev1 AUTH=PLAIN SASL-IR OBJECTID SAVEDATE",
        |cmd, tag, line| match cmd {
            "SELECT" => Some(format!(
                "* 1 EXISTS\r\n* OK [UIDVALIDITY 42] u\r\n\
                 * OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Ok\r\n\
                 {tag} OK [READ-WRITE] selected\r\n"
            )),
            "UID FETCH" if line.contains("EMAILID") => Some(format!(
                "* 1 FETCH (UID 7 FLAGS () EMAILID (M6d99ac3275bb4e) \
                 THREADID (T64b478a75b7ea9) SAVEDATE \"01-Jan-2024 10:00:00 +0000\")\r\n\
                 {tag} OK done\r\n"
            )),
            "UID FETCH" => Some(format!(
                "* 1 FETCH (UID 7 FLAGS (\\Seen))\r\n{tag} OK done\r\n"
            )),
            _ => None,
        },
    );
    let mut s = plain_login(port);
    let m = s.select("INBOX").unwrap();
    assert_eq!(
        m.mailbox_id.as_ref().map(|id| id.as_str()),
        Some("F2212ea87-6097-4256-9d51-71338625")
    );
    let set = super::imap::uid_set(&[7]).unwrap();
    let got = s.fetch_summaries(&set, summary_items(), None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].uid, 7);
    assert_eq!(got[0].email_id.as_deref(), Some("M6d99ac3275bb4e"));
    assert_eq!(got[0].thread_id.as_deref(), Some("T64b478a75b7ea9"));
    let want = DateTime::new(Date::new(2024, 1, 1).unwrap(), 10, 0, 0, 0).unwrap();
    assert_eq!(got[0].save_date, Some(want));
    // The default asks for neither.
    let got = s
        .fetch_summaries(&set, SummaryItems::flags_only(), None)
        .unwrap();
    assert_eq!(got[0].flags, [mailwire_imap::Flag::Seen]);
    assert_eq!(
        (&got[0].email_id, &got[0].thread_id, got[0].save_date),
        (&None, &None, None)
    );
    s.logout().unwrap();
    let log = h.join().unwrap();
    assert_eq!(
        sent(&log, "UID FETCH"),
        [
            "UID FETCH 7 (UID FLAGS EMAILID THREADID SAVEDATE)",
            "UID FETCH 7 (UID FLAGS)"
        ]
    );
}

/// RFC 8474 §5.3: `THREADID NIL` from a server that keeps no threads;
/// RFC 8514 §4.2: `SAVEDATE NIL` from storage that keeps no save dates.
#[test]
fn rfc8474_rfc8514_nil_thread_id_and_save_date_are_none() {
    let (port, h) = spawn_plain(
        "IMAP4rev1 AUTH=PLAIN SASL-IR OBJECTID SAVEDATE",
        |cmd, tag, _| {
            (cmd == "UID FETCH").then(|| {
                format!(
                    "* 1 FETCH (UID 7 FLAGS () EMAILID (M6d99ac3275bb4e) \
                     THREADID NIL SAVEDATE NIL)\r\n{tag} OK done\r\n"
                )
            })
        },
    );
    let mut s = plain_login(port);
    s.select("INBOX").unwrap();
    let set = super::imap::uid_set(&[7]).unwrap();
    let got = s.fetch_summaries(&set, summary_items(), None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].email_id.as_deref(), Some("M6d99ac3275bb4e"));
    assert_eq!(got[0].thread_id, None);
    assert_eq!(got[0].save_date, None);
    // This server's SELECT sent no MAILBOXID code.
    assert_eq!(s.selected().unwrap().mailbox_id, None);
    s.logout().unwrap();
    let log = h.join().unwrap();
    assert_eq!(
        sent(&log, "UID FETCH"),
        ["UID FETCH 7 (UID FLAGS EMAILID THREADID SAVEDATE)"]
    );
}

/// RFC 8474 §3, RFC 8514 §4.1: the items are asked for only from a server
/// that announces them; without, the summary comes without them.
#[test]
fn object_ids_and_save_date_are_not_asked_without_the_capabilities() {
    let (port, h) = spawn_plain("IMAP4rev1 AUTH=PLAIN SASL-IR", |cmd, tag, line| match cmd {
        "UID FETCH" => refuse_unknown_items(line, tag)
            .or_else(|| Some(format!("* 1 FETCH (UID 7 FLAGS ())\r\n{tag} OK done\r\n"))),
        _ => None,
    });
    let mut s = plain_login(port);
    s.select("INBOX").unwrap();
    let set = super::imap::uid_set(&[7]).unwrap();
    let got = s.fetch_summaries(&set, summary_items(), None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (&got[0].email_id, &got[0].thread_id, got[0].save_date),
        (&None, &None, None)
    );
    s.logout().unwrap();
    let log = h.join().unwrap();
    assert_eq!(sent(&log, "UID FETCH"), ["UID FETCH 7 (UID FLAGS)"]);
}

/// RFC 8474 §4.3: STATUS (or LIST-STATUS, RFC 5819) asks for MAILBOXID
/// when the server announces OBJECTID, and each folder gets its id.
#[test]
fn rfc8474_4_3_list_folders_takes_the_mailbox_ids() {
    fn answer(cmd: &str, tag: &str, line: &str) -> Option<String> {
        let objectid = line.contains("MAILBOXID");
        let status = |mailbox: &str, id: &str| {
            let id = if objectid {
                format!(" MAILBOXID ({id})")
            } else {
                String::new()
            };
            format!("* STATUS {mailbox} (MESSAGES 3 UIDVALIDITY 42{id})\r\n")
        };
        match cmd {
            "STATUS" => {
                let mailbox = line.split_whitespace().nth(2)?;
                let id = if mailbox == "INBOX" {
                    "F2212ea87"
                } else {
                    "F3a"
                };
                Some(format!("{}{tag} OK done\r\n", status(mailbox, id)))
            }
            "LIST" if line.contains("STATUS") => Some(format!(
                "* LIST () \"/\" INBOX\r\n{}* LIST (\\HasNoChildren) \"/\" Archive\r\n{}\
                 {tag} OK done\r\n",
                status("INBOX", "F2212ea87"),
                status("Archive", "F3a")
            )),
            _ => None,
        }
    }
    for (caps, ids) in [
        ("IMAP4rev1 AUTH=PLAIN SASL-IR OBJECTID", true),
        ("IMAP4rev1 AUTH=PLAIN SASL-IR OBJECTID LIST-STATUS", true),
        ("IMAP4rev1 AUTH=PLAIN SASL-IR", false),
        ("IMAP4rev1 AUTH=PLAIN SASL-IR LIST-STATUS", false),
    ] {
        let (port, h) = spawn_plain(caps, answer);
        let mut s = plain_login(port);
        let folders = s.list_folders(true).unwrap();
        let got: Vec<(&str, Option<&str>, Option<u64>)> = folders
            .iter()
            .map(|f| {
                let messages = f.status.and_then(|st| st.messages);
                (f.name.as_str(), f.mailbox_id.as_deref(), messages)
            })
            .collect();
        let (inbox, archive) = if ids {
            (Some("F2212ea87"), Some("F3a"))
        } else {
            (None, None)
        };
        assert_eq!(
            got,
            [("INBOX", inbox, Some(3)), ("Archive", archive, Some(3))],
            "{caps}"
        );
        s.logout().unwrap();
        let log = h.join().unwrap();
        let asked = log.iter().filter(|l| l.contains("MAILBOXID")).count();
        let want = match (ids, caps.contains("LIST-STATUS")) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => 2,
        };
        assert_eq!(asked, want, "{caps}: {log:?}");
    }
}

// ----- COMPRESS=DEFLATE (RFC 4978) ------------------------------------------

/// The message the scripted server's UID FETCH returns: 200 KB of text
/// that compresses well.
fn fetched_body() -> Vec<u8> {
    (0..5000)
        .flat_map(|i| format!("Line {i:05}: the quick brown fox jumps.\r\n").into_bytes())
        .collect()
}

/// The server's side of COMPRESS=DEFLATE over any stream (TLS or not):
/// raw DEFLATE both ways (RFC 4978), a sync flush at each `flush`, which
/// `serve` calls after each reply. Written with flate2's own streaming
/// types, independently of the client's `deflate` module.
struct Deflated<S> {
    inner: S,
    decompress: flate2::Decompress,
    encoder: flate2::write::DeflateEncoder<Vec<u8>>,
    input: Vec<u8>,
    pos: usize,
    /// The last read filled the buffer: output may be pending.
    out_full: bool,
    /// Octets written to `inner` (compressed).
    wire_out: usize,
    /// Octets handed to the encoder (before compression).
    plain_out: usize,
}

impl<S: Read + Write> Deflated<S> {
    fn new(inner: S) -> Self {
        Deflated {
            inner,
            decompress: flate2::Decompress::new(false),
            encoder: flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default()),
            input: Vec::new(),
            pos: 0,
            out_full: false,
            wire_out: 0,
            plain_out: 0,
        }
    }

    /// Compresses and flushes `data` without sending it.
    fn deflate(&mut self, data: &[u8]) -> Vec<u8> {
        self.encoder.write_all(data).unwrap();
        self.encoder.flush().unwrap();
        self.plain_out += data.len();
        std::mem::take(self.encoder.get_mut())
    }
}

impl<S: Read + Write> Read for Deflated<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.pos < self.input.len() || self.out_full {
                let (i, o) = (self.decompress.total_in(), self.decompress.total_out());
                self.decompress
                    .decompress(&self.input[self.pos..], buf, flate2::FlushDecompress::None)
                    .map_err(std::io::Error::other)?;
                self.pos += (self.decompress.total_in() - i) as usize;
                let made = (self.decompress.total_out() - o) as usize;
                self.out_full = made == buf.len() && made > 0;
                if made > 0 {
                    return Ok(made);
                }
                if self.pos < self.input.len() {
                    return Err(std::io::Error::other("DEFLATE: no progress"));
                }
                continue;
            }
            self.input.resize(4096, 0);
            let n = self.inner.read(&mut self.input)?;
            self.input.truncate(n);
            self.pos = 0;
            if n == 0 {
                return Ok(0);
            }
        }
    }
}

impl<S: Read + Write> Write for Deflated<S> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.plain_out += data.len();
        self.encoder.write(data)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.encoder.flush()?;
        let wire = std::mem::take(self.encoder.get_mut());
        self.wire_out += wire.len();
        self.inner.write_all(&wire)?;
        self.inner.flush()
    }
}

/// How the scripted server answers COMPRESS.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CompressAnswer {
    /// OK, with a compressed ALERT in the same write as the OK.
    Ok,
    /// `NO [COMPRESSIONACTIVE]`: the session goes on uncompressed.
    No,
}

/// What the compressing server saw: the commands, and the octets it sent
/// compressed and before compression.
struct CompressLog {
    commands: Vec<String>,
    wire_out: usize,
    plain_out: usize,
}

/// Serves `io` up to COMPRESS, answers it, and serves the rest.
fn serve_compress<S: Read + Write>(
    io: S,
    greeting: Option<&str>,
    caps: &str,
    answer: CompressAnswer,
) -> CompressLog {
    let mut commands = Vec::new();
    let mut io = serve(io, greeting, caps, &mut commands);
    let Some(tag) = commands
        .last()
        .filter(|l| l.to_ascii_uppercase().ends_with(" COMPRESS DEFLATE"))
        .and_then(|l| l.split(' ').next())
        .map(str::to_owned)
    else {
        // The client never sent COMPRESS: it logged out or closed.
        return CompressLog {
            commands,
            wire_out: 0,
            plain_out: 0,
        };
    };
    match answer {
        CompressAnswer::No => {
            let no = format!("{tag} NO [COMPRESSIONACTIVE] DEFLATE active via TLS\r\n");
            io.write_all(no.as_bytes()).unwrap();
            serve(io, None, caps, &mut commands);
            CompressLog {
                commands,
                wire_out: 0,
                plain_out: 0,
            }
        }
        CompressAnswer::Ok => {
            // The OK in plaintext and, in the same write, the first
            // compressed response (RFC 4978 §3: compression starts right
            // after the OK's CRLF).
            let mut z = Deflated::new(io);
            let mut first = format!("{tag} OK DEFLATE active\r\n").into_bytes();
            first.extend(z.deflate(b"* OK [ALERT] compressed from here\r\n"));
            z.inner.write_all(&first).unwrap();
            z.inner.flush().unwrap();
            let mut z = serve(z, None, caps, &mut commands);
            z.flush().unwrap();
            CompressLog {
                commands,
                wire_out: z.wire_out,
                plain_out: z.plain_out,
            }
        }
    }
}

/// One connection, plaintext or implicit TLS, that offers COMPRESS=DEFLATE.
fn spawn_compress(
    p: &Pki,
    mode: Security,
    answer: CompressAnswer,
) -> (u16, JoinHandle<CompressLog>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = server_config(p);
    let h = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let caps = "IMAP4rev1 AUTH=PLAIN SASL-IR COMPRESS=DEFLATE";
        let greeting = format!("* OK [CAPABILITY {caps}] hello\r\n");
        match mode {
            Security::Implicit => {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut s = rustls::StreamOwned::new(conn, tcp);
                s.conn.complete_io(&mut s.sock).unwrap();
                serve_compress(s, Some(&greeting), caps, answer)
            }
            _ => serve_compress(tcp, Some(&greeting), caps, answer),
        }
    });
    (port, h)
}

/// Logs in with compression asked for, then SELECT, LIST, a 200 KB FETCH
/// and LOGOUT; returns whether compression was on, and the updates.
fn compressed_session(port: u16, mode: Security, ca: &CertificateDer<'static>) -> (bool, String) {
    let mut o = options(mode, ca).compress(true);
    // A DEFLATE layer out of step shows up as a stall: fail soon.
    o.machine.command_timeout = Duration::from_secs(10);
    let mut s = ImapSession::connect(&format!("localhost:{port}"), o).unwrap();
    assert!(!s.is_compressed(), "not before authentication");
    s.login("fred", "secret").unwrap();
    let on = s.is_compressed();
    let m = s.select("INBOX").unwrap();
    assert_eq!((m.exists, m.uid_validity.map(|v| v.get())), (2, Some(42)));
    let names: Vec<String> = s
        .list_folders(false)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["INBOX", "Archive"]);
    let mut got = Vec::new();
    let n = s.fetch_message_to(7, &mut got).unwrap();
    assert_eq!(n as usize, got.len());
    assert!(got == fetched_body(), "the fetched body differs");
    let updates = format!("{:?}", s.take_updates());
    s.logout().unwrap();
    (on, updates)
}

#[test]
fn rfc4978_compress_deflate_after_login() {
    let p = pki();
    for mode in [Security::Plain, Security::Implicit] {
        let (port, h) = spawn_compress(&p, mode, CompressAnswer::Ok);
        let (on, updates) = compressed_session(port, mode, &p.ca);
        assert!(on, "{mode:?}");
        // The response compressed in the same write as the OK arrived.
        assert!(updates.contains("compressed from here"), "{updates}");
        let log = h.join().unwrap();
        // The server read the commands after COMPRESS through its inflater.
        let cmds: Vec<&str> = log
            .commands
            .iter()
            .map(|l| l.split_once(' ').map_or(l.as_str(), |(_, c)| c))
            .collect();
        let at = cmds.iter().position(|c| *c == "COMPRESS DEFLATE").unwrap();
        assert!(cmds[at + 1].starts_with("SELECT"), "{cmds:?}");
        assert!(cmds.last().unwrap().starts_with("LOGOUT"), "{cmds:?}");
        // The text went over the wire compressed.
        assert!(log.plain_out > fetched_body().len());
        assert!(
            log.wire_out * 10 < log.plain_out,
            "{} {}",
            log.wire_out,
            log.plain_out
        );
    }
}

#[test]
fn rfc4978_compressionactive_leaves_the_session_uncompressed() {
    let p = pki();
    let (port, h) = spawn_compress(&p, Security::Plain, CompressAnswer::No);
    let (on, _) = compressed_session(port, Security::Plain, &p.ca);
    assert!(!on);
    let log = h.join().unwrap();
    assert!(log.commands.iter().any(|c| c.ends_with("COMPRESS DEFLATE")));
    assert!(log.commands.last().unwrap().ends_with("LOGOUT"));
}

#[test]
fn compression_is_not_asked_for_by_default() {
    let p = pki();
    let (port, h) = spawn_compress(&p, Security::Plain, CompressAnswer::Ok);
    let mut s = connect(port, Security::Plain, &p.ca).unwrap();
    s.login("fred", "secret").unwrap();
    assert!(!s.is_compressed());
    s.logout().unwrap();
    let log = h.join().unwrap();
    assert!(!log.commands.iter().any(|c| c.contains("COMPRESS")));
}

/// The tokio session shares the session logic, the DEFLATE layer included.
#[cfg(feature = "tokio")]
#[test]
fn rfc4978_compress_deflate_on_tokio() {
    let p = pki();
    let (port, h) = spawn_compress(&p, Security::Implicit, CompressAnswer::Ok);
    let mut o = options(Security::Implicit, &p.ca).compress(true);
    o.machine.command_timeout = Duration::from_secs(10);
    let rt = ::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let addr = format!("localhost:{port}");
        let mut s = crate::tokio::ImapSession::connect(&addr, o).await.unwrap();
        s.login("fred", "secret").await.unwrap();
        assert!(s.is_compressed() && s.is_tls());
        assert_eq!(s.select("INBOX").await.unwrap().exists, 2);
        let mut got = Vec::new();
        s.fetch_message_to(7, &mut got).await.unwrap();
        assert!(got == fetched_body(), "the fetched body differs");
        s.logout().await.unwrap();
    });
    let log = h.join().unwrap();
    assert!(log.wire_out * 10 < log.plain_out);
}

/// RFC 5256 §4's examples through `uid_sort` and `uid_thread`: the
/// commands sent (UID SORT, the criteria, the charset: US-ASCII, UTF-8 for
/// a non-ASCII key, `ALL` for no key) and the answers read; a server
/// without SORT or without `THREAD=` the algorithm is not asked.
#[test]
fn rfc5256_4_uid_sort_and_uid_thread() {
    use mailwire_imap::{
        IString, SearchKey, SortCriterion, SortKey, Thread, ThreadAlgorithm, Vec1,
    };
    let (port, h) = spawn_plain(
        "IMAP4rev1 AUTH=PLAIN SASL-IR SORT THREAD=REFERENCES",
        |cmd, tag, line| match cmd {
            "UID SORT" if line.contains("\"not in mailbox\"") => {
                Some(format!("* SORT\r\n{tag} OK SORT completed\r\n"))
            }
            "UID SORT" => Some(format!("* SORT 5 3 4 1 2\r\n{tag} OK SORT completed\r\n")),
            "UID THREAD" => Some(format!(
                "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n{tag} OK THREAD completed\r\n"
            )),
            _ => None,
        },
    );
    let mut s = plain_login(port);
    s.select("INBOX").unwrap();
    let by = |reverse, key| SortCriterion { reverse, key };
    let criteria = Vec1::new(by(false, SortKey::Subject), vec![by(true, SortKey::Date)]);
    assert_eq!(s.uid_sort(criteria, vec![]).unwrap(), [5, 3, 4, 1, 2]);
    let text = |t: &str| SearchKey::Text(IString::try_from(t.to_owned()).unwrap());
    let subject = Vec1::one(by(false, SortKey::Subject));
    let none = s.uid_sort(subject.clone(), vec![text("not in mailbox")]);
    assert_eq!(none.unwrap(), Vec::<u32>::new());
    s.uid_sort(subject, vec![text("grüße")]).unwrap();
    let threads = s.uid_thread(ThreadAlgorithm::References, vec![]).unwrap();
    let leaf = |n| Thread {
        chain: vec![n],
        children: vec![],
    };
    assert_eq!(
        threads,
        [
            leaf(2),
            Thread {
                chain: vec![3, 6],
                children: vec![
                    Thread {
                        chain: vec![4, 23],
                        children: vec![]
                    },
                    Thread {
                        chain: vec![44, 7, 96],
                        children: vec![]
                    },
                ],
            },
        ]
    );
    let err = s.uid_thread(ThreadAlgorithm::OrderedSubject, vec![]);
    assert!(
        matches!(err, Err(ImapError::Unsupported("THREAD"))),
        "{err:?}"
    );
    s.logout().unwrap();
    let log = h.join().unwrap();
    assert_eq!(
        sent(&log, "UID SORT"),
        [
            "UID SORT (SUBJECT REVERSE DATE) US-ASCII ALL",
            "UID SORT (SUBJECT) US-ASCII TEXT \"not in mailbox\"",
            // The 8-bit string goes as a literal (the script answers
            // the line without asking for it).
            "UID SORT (SUBJECT) UTF-8 TEXT {7}",
        ]
    );
    assert_eq!(
        sent(&log, "UID THREAD"),
        ["UID THREAD REFERENCES US-ASCII ALL"]
    );

    let (port, h) = spawn_plain("IMAP4rev1 AUTH=PLAIN SASL-IR", |_, _, _| None);
    let mut s = plain_login(port);
    s.select("INBOX").unwrap();
    let err = s.uid_sort(Vec1::one(by(false, SortKey::Date)), vec![]);
    assert!(
        matches!(err, Err(ImapError::Unsupported("SORT"))),
        "{err:?}"
    );
    s.logout().unwrap();
    assert!(sent(&h.join().unwrap(), "UID").is_empty());
}

/// The folder conveniences send RFC 9051's commands with the names in
/// modified UTF-7 (RFC 3501 §5.1.3): CREATE, SUBSCRIBE, RENAME,
/// UNSUBSCRIBE, STATUS (§6.3.4-§6.3.11), DELETE; `UID COPY` (§6.4.7)
/// reads the COPYUID of RFC 4315 §3, and without one gives `None`; NOOP
/// (§6.1.2) lets in the mailbox's updates; UNSELECT (RFC 3691) is sent
/// only to a server that offers it. NO keeps the server's answer.
#[test]
fn rfc9051_folder_commands_copyuid_status_noop_and_unselect() {
    use super::imap::{FolderStatus, uid_set};
    use mailwire_imap::client::Update;
    let (port, h) = spawn_plain(
        "IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS",
        |cmd, tag, line| match cmd {
            "CREATE" | "SUBSCRIBE" | "UNSUBSCRIBE" | "RENAME" => Some(format!("{tag} OK done\r\n")),
            "DELETE" if line.ends_with("INBOX") => Some(format!("{tag} NO not INBOX\r\n")),
            "DELETE" => Some(format!("{tag} OK done\r\n")),
            "STATUS" => Some(format!(
                "* STATUS Archive (MESSAGES 2 UNSEEN 1 UIDNEXT 9 UIDVALIDITY 38505)\r\n\
                 {tag} OK done\r\n"
            )),
            "UID COPY" if line.ends_with("Archive") => {
                Some(format!("{tag} OK [COPYUID 38505 2,1 8:7] copied\r\n"))
            }
            "NOOP" => Some(format!(
                "* 3 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen))\r\n{tag} OK done\r\n"
            )),
            _ => None,
        },
    );
    let mut s = plain_login(port);
    s.create_folder("Work").unwrap();
    s.create_folder("Grüße").unwrap();
    s.subscribe("Work").unwrap();
    s.rename_folder("Work", "Archive").unwrap();
    s.unsubscribe("Grüße").unwrap();
    let want = FolderStatus {
        messages: Some(2),
        unseen: Some(1),
        uid_next: Some(9),
        uid_validity: Some(38505),
    };
    assert_eq!(s.folder_status("Archive").unwrap(), want);
    // Another folder's STATUS is not taken for the one asked about.
    let err = s.folder_status("Gone").unwrap_err();
    assert!(matches!(err, ImapError::Protocol(_)), "{err}");

    s.select("INBOX").unwrap();
    s.take_updates();
    let set = uid_set(&[1, 2]).unwrap();
    // `2,1 8:7`: 2 went to 7 and 1 to 8.
    assert_eq!(s.copy_messages(&set, "Archive").unwrap(), Some(vec![8, 7]));
    assert_eq!(s.copy_messages(&set, "Trash").unwrap(), None);

    s.noop().unwrap();
    assert_eq!(s.selected().unwrap().exists, 3);
    let updates = s.take_updates();
    assert!(
        matches!(updates[..], [Update::Exists(3), Update::Fetch { .. }]),
        "{updates:?}"
    );
    let err = s.unselect().unwrap_err();
    assert!(matches!(err, ImapError::Unsupported("UNSELECT")), "{err}");
    assert!(s.selected().is_some(), "still selected");

    s.delete_folder("Archive").unwrap();
    let err = s.delete_folder("inbox").unwrap_err();
    assert!(
        matches!(
            err,
            ImapError::Command {
                command: "DELETE",
                ..
            }
        ),
        "{err}"
    );
    s.logout().unwrap();
    let log = h.join().unwrap();
    let folder_commands: Vec<&str> = ["CREATE", "SUBSCRIBE", "RENAME", "UNSUBSCRIBE", "DELETE"]
        .iter()
        .flat_map(|c| sent(&log, c))
        .collect();
    assert_eq!(
        folder_commands,
        [
            "CREATE Work",
            "CREATE Gr&APwA3w-e",
            "SUBSCRIBE Work",
            "RENAME Work Archive",
            "UNSUBSCRIBE Gr&APwA3w-e",
            "DELETE Archive",
            "DELETE INBOX",
        ]
    );
    assert_eq!(
        sent(&log, "STATUS"),
        [
            "STATUS Archive (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)",
            "STATUS Gone (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)",
        ]
    );
    assert_eq!(
        sent(&log, "UID COPY"),
        ["UID COPY 1:2 Archive", "UID COPY 1:2 Trash"]
    );
    assert_eq!(sent(&log, "NOOP"), ["NOOP"]);
    assert!(sent(&log, "UNSELECT").is_empty(), "{log:?}");

    // With UNSELECT: sent, and the folder is no longer selected.
    let (port, h) = spawn_plain("IMAP4rev1 AUTH=PLAIN SASL-IR UNSELECT", |cmd, tag, _| {
        (cmd == "UNSELECT").then(|| format!("{tag} OK done\r\n"))
    });
    let mut s = plain_login(port);
    s.select("INBOX").unwrap();
    s.unselect().unwrap();
    assert!(s.selected().is_none());
    s.logout().unwrap();
    assert_eq!(sent(&h.join().unwrap(), "UNSELECT"), ["UNSELECT"]);
}

//! `send`: a user agent that composes (or reads) a message and submits it
//! over SMTP with mailwire-smtp's client state machine on a std socket.
//!
//! This is the one example that keeps the raw sans-IO driver loop (feed
//! the machine what the socket read, write what it transmits, act on its
//! events, honour its deadline, run the TLS handshake when it asks):
//! what embedding a machine in another runtime or event loop takes. The
//! shorter way is the ready driver, `mailwire::blocking::SmtpTransport`
//! (or `mailwire::tokio::SmtpTransport`), as in the README.
//!
//! ```text
//! cargo run --example send -- --server HOST:PORT [--starttls | --tls] [--ca-file PEM]
//!     [--user U --password P] [--from ADDR] [--to ADDR]... [--cc ADDR]... [--bcc ADDR]...
//!     [--subject S] [--body TEXT | --body-file F] [--attach FILE]... [--helo NAME] [MESSAGE.eml]
//! ```
//!
//! The envelope comes from the message's headers (Sender/From; To, Cc and
//! Bcc), and the copy sent has its Bcc removed. Each recipient's result is
//! printed; the exit status is 1 when any recipient failed, 2 on a usage or
//! connection error. A message with 8-bit content is downgraded to 7 bit
//! when the server lacks 8BITMIME.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mailwire::message::{DateTime, Message, MessageIdGenerator, derive_envelope};
use mailwire::mime::builder::{MessageBuilder, PartBuilder};
use mailwire::sasl::{Credentials, Secret};
use mailwire::smtp::client::{Client, Envelope, Event, MailError, Options, TlsMode};
use mailwire::smtp::{ForwardPath, Host, Mailbox, ReversePath};

/// The command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "send",
    about = "Compose (or read) a message and submit it over SMTP"
)]
struct Args {
    /// The server, HOST:PORT.
    #[arg(long)]
    server: String,
    /// STARTTLS (RFC 3207), required.
    #[arg(long, conflicts_with = "tls")]
    starttls: bool,
    /// Implicit TLS (port 465, RFC 8314).
    #[arg(long)]
    tls: bool,
    /// Trust only the CA certificates of this PEM file.
    #[arg(long)]
    ca_file: Option<String>,
    /// AUTH as this user.
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// The password for --user.
    #[arg(long, requires = "user")]
    password: Option<String>,
    /// From: of the composed message.
    #[arg(long)]
    from: Option<String>,
    /// A To: recipient.
    #[arg(long)]
    to: Vec<String>,
    /// A Cc: recipient.
    #[arg(long)]
    cc: Vec<String>,
    /// A Bcc: recipient (in the envelope, not in the copy sent).
    #[arg(long)]
    bcc: Vec<String>,
    /// Subject: of the composed message.
    #[arg(long)]
    subject: Option<String>,
    /// The text of the composed message.
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// The text of the composed message, from a file.
    #[arg(long)]
    body_file: Option<String>,
    /// A file to attach.
    #[arg(long)]
    attach: Vec<String>,
    /// The EHLO name.
    #[arg(long)]
    helo: Option<String>,
    /// A message to send as it is, instead of composing one.
    file: Option<String>,
}

fn guess_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        "eml" => "message/rfc822",
        _ => "application/octet-stream",
    }
}

/// Composes the message from the options.
fn compose(a: &Args) -> Result<Vec<u8>, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    let from = a
        .from
        .clone()
        .ok_or("--from is needed to compose a message")?;
    let mut b = MessageBuilder::new()
        .header("From", &from)
        .map_err(|e| e.to_string())?;
    if !a.to.is_empty() {
        b = b
            .header("To", &a.to.join(", "))
            .map_err(|e| e.to_string())?;
    }
    if !a.cc.is_empty() {
        b = b
            .header("Cc", &a.cc.join(", "))
            .map_err(|e| e.to_string())?;
    }
    if !a.bcc.is_empty() {
        b = b
            .header("Bcc", &a.bcc.join(", "))
            .map_err(|e| e.to_string())?;
    }
    b = b
        .header("Subject", a.subject.as_deref().unwrap_or(""))
        .map_err(|e| e.to_string())?;
    let date = DateTime::from_unix(now.as_secs() as i64, 0).map_err(|e| e.to_string())?;
    b = b
        .header("Date", &date.to_rfc5322())
        .map_err(|e| e.to_string())?;
    let domain = from
        .rsplit('@')
        .next()
        .unwrap_or("localhost")
        .trim_end_matches('>')
        .to_owned();
    let seed = now.as_nanos() as u64 ^ u64::from(std::process::id());
    if let Ok(mut ids) = MessageIdGenerator::new(&domain, seed) {
        let id = ids.generate();
        b = b
            .header("Message-ID", &format!("<{}>", id.as_str()))
            .map_err(|e| e.to_string())?;
    }
    let body = match (&a.body, &a.body_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?,
        (None, None) => String::new(),
    };
    b = b.text(&body).boundary_seed(seed).allow_8bit(true);
    for path in &a.attach {
        let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let name = std::path::Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("attachment");
        b = b.attachment(PartBuilder::attachment(guess_type(name), name, data));
    }
    Ok(b.build())
}

/// A socket, plain or under TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.write_all(b),
            Conn::Tls(s) => s.write_all(b).and_then(|_| s.flush()),
        }
    }
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(b),
            Conn::Tls(s) => s.read(b),
        }
    }
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }
}

fn tls_wrap(tcp: TcpStream, host: &str, ca_file: Option<&str>) -> Result<Conn, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        for cert in rustls_pemfile::certs(&mut &pem[..]) {
            roots
                .add(cert.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name =
        rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
}

fn to_smtp_mailbox(addr: &str) -> Result<Mailbox<'static>, String> {
    Mailbox::try_from(addr.to_owned()).map_err(|e| format!("{addr}: {e}"))
}

fn run(a: Args) -> Result<bool, String> {
    let raw = match &a.file {
        Some(f) => std::fs::read(f).map_err(|e| format!("{f}: {e}"))?,
        None => compose(&a)?,
    };
    let parsed = Message::parse(&raw);
    let (env, copy) = derive_envelope(&parsed).map_err(|e| e.to_string())?;
    let from = if env.reverse_path.is_empty() {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(to_smtp_mailbox(&env.reverse_path)?)
    };
    let recipients = env
        .recipients
        .iter()
        .map(|r| to_smtp_mailbox(r))
        .collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(from, recipients);
    let mut message = Bytes::from(copy);

    let host = a
        .server
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(&a.server)
        .trim_matches(['[', ']'])
        .to_owned();
    let mut opts = Options::default();
    if let Some(h) = &a.helo {
        opts.helo_domain = Host::try_from(h.clone()).map_err(|e| format!("--helo: {e}"))?;
    }
    opts.starttls = if a.starttls {
        TlsMode::Required
    } else {
        TlsMode::Disabled
    };
    opts.implicit_tls = a.tls;
    if let (Some(u), Some(p)) = (&a.user, &a.password) {
        opts.credentials = Some(Credentials::password(u.clone(), Secret::from(p.as_str())));
        // Without TLS a password would cross the network in the clear:
        // allowed only towards the loopback interface.
        opts.allow_plaintext_auth = host == "127.0.0.1" || host == "::1" || host == "localhost";
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        opts.sasl_nonce = format!("{seed:x}{:x}", std::process::id());
    }

    let tcp = TcpStream::connect(&a.server).map_err(|e| format!("{}: {e}", a.server))?;
    let mut conn = if a.tls {
        tls_wrap(tcp, &host, a.ca_file.as_deref())?
    } else {
        Conn::Plain(tcp)
    };
    let mut client = Client::new(opts, Instant::now());
    client
        .send_mail(envelope.clone(), message.clone())
        .map_err(|e| e.to_string())?;

    let mut all_ok = true;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16384];
    loop {
        while client.poll_transmit(Instant::now(), &mut out).is_some() {}
        if !out.is_empty() {
            conn.write_all(&out).map_err(|e| e.to_string())?;
            out.clear();
        }
        let mut acted = false;
        while let Some(event) = client.poll_event() {
            match event {
                Event::StartTls => {
                    let Conn::Plain(tcp) = conn else {
                        return Err("STARTTLS under TLS".to_owned());
                    };
                    conn = tls_wrap(tcp, &host, a.ca_file.as_deref())?;
                    client.handle_tls_established(Instant::now());
                    acted = true;
                }
                Event::Authenticated(m) => eprintln!("authenticated with {m}"),
                Event::MailSent {
                    result: Err(MailError::EightBitUnsupported),
                    ..
                } => {
                    // RFC 6152 §3: downgrade to 7 bit and send again.
                    let down = mailwire::mime::downgrade::downgrade_7bit(&message);
                    message = Bytes::from(down.bytes.into_owned());
                    client
                        .send_mail(envelope.clone(), message.clone())
                        .map_err(|e| e.to_string())?;
                    acted = true;
                }
                Event::MailSent { result: Err(e), .. } => {
                    eprintln!("message not sent: {e}");
                    all_ok = false;
                    client.quit();
                    acted = true;
                }
                Event::MailSent {
                    result: Ok(outcome),
                    ..
                } => {
                    for r in &outcome.recipients {
                        let to = match &r.to {
                            ForwardPath::Postmaster => "Postmaster".to_owned(),
                            ForwardPath::Mailbox(m) => m.to_string(),
                        };
                        let reply = match (&r.reply, &outcome.data) {
                            (Some(rc), _) if !rc.code().is_positive() => rc.to_string(),
                            (_, Some(d)) => d.to_string(),
                            (Some(rc), None) => rc.to_string(),
                            (None, None) => outcome
                                .mail
                                .as_ref()
                                .map(|m| m.to_string())
                                .unwrap_or_default(),
                        };
                        println!(
                            "{} {to}: {reply}",
                            if r.delivered { "ok    " } else { "FAILED" }
                        );
                        all_ok &= r.delivered;
                    }
                    client.quit();
                    acted = true;
                }
                Event::Closed { reason } => {
                    while client.poll_transmit(Instant::now(), &mut out).is_some() {}
                    let _ = conn.write_all(&out);
                    if reason != mailwire::smtp::ConnectionError::Quit {
                        return Err(format!("connection closed: {reason}"));
                    }
                    return Ok(all_ok);
                }
                _ => {}
            }
        }
        if acted {
            continue;
        }
        let timeout = client.poll_timeout().map(|t| {
            t.saturating_duration_since(Instant::now())
                .max(std::time::Duration::from_millis(1))
        });
        conn.tcp()
            .set_read_timeout(timeout)
            .map_err(|e| e.to_string())?;
        match conn.read(&mut buf) {
            Ok(0) => client.handle_eof(Instant::now()),
            Ok(n) => client.handle_input(Instant::now(), &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                client.handle_timeout(Instant::now())
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("send: {e}");
            ExitCode::from(2)
        }
    }
}

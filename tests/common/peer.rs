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

/// aiosmtpd 1.4.6: prints each message it gets (envelope, the peer's
/// port, whether AUTH and TLS were used, the size, the content when under
/// 100 kB), refuses recipients whose local part starts with `bad`; with
/// auth, takes user/secret; with a certificate, offers STARTTLS and
/// requires it before AUTH and mail.
const AIOSMTPD: &str = r#"
import sys, time, ssl
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith('bad'):
            return '550 5.1.1 <%s>: no such user' % address
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        print('MESSAGE-FROM', envelope.mail_from, flush=True)
        print('MESSAGE-TO', ' '.join(envelope.rcpt_tos), flush=True)
        print('PEER', session.peer[1], flush=True)
        print('AUTH', session.authenticated, flush=True)
        print('TLS', session.ssl is not None, flush=True)
        print('SIZE', len(envelope.original_content), flush=True)
        if len(envelope.original_content) < 100000:
            print(envelope.content.decode('utf8', 'replace'), flush=True)
        print('MESSAGE-END', flush=True)
        return '250 2.0.0 OK queued'

def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b'user' and data.password == b'secret'
    return AuthResult(success=ok, handled=False)

port, with_auth, cert, key = int(sys.argv[1]), sys.argv[2] == '1', sys.argv[3], sys.argv[4]
kw = dict(data_size_limit=0)
if with_auth:
    kw.update(authenticator=auth, auth_required=True, auth_require_tls=bool(cert))
if cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kw.update(tls_context=ctx, require_starttls=True)
c = Controller(Handler(), hostname='127.0.0.1', port=port, **kw)
c.start()
print('READY', flush=True)
while True:
    time.sleep(1)
"#;

/// aiosmtpd on a free port (see [`AIOSMTPD`]), with AUTH when
/// `with_auth`, with STARTTLS when `tls` gives a certificate and key PEM
/// file; `None` (skip, or fail under CI) when it is not installed.
pub fn aiosmtpd(
    with_auth: bool,
    tls: Option<(&std::path::Path, &std::path::Path)>,
) -> Option<(Peer, u16)> {
    if !super::have("python3") || !super::have_python_module("aiosmtpd") {
        return None;
    }
    let port = super::dovecot::free_port();
    let (cert, key) = match tls {
        Some((c, k)) => (c.display().to_string(), k.display().to_string()),
        None => (String::new(), String::new()),
    };
    let peer = Peer::spawn(Command::new("python3").args([
        "-c",
        AIOSMTPD,
        &port.to_string(),
        if with_auth { "1" } else { "0" },
        &cert,
        &key,
    ]));
    peer.wait_for("READY");
    wait_listening(port);
    Some((peer, port))
}

/// A test CA and a certificate for `localhost` and 127.0.0.1 it signed, as
/// PEM files in `dir`; returns the CA's PEM.
pub fn test_ca(dir: &std::path::Path) -> Vec<u8> {
    ca_with_leaves(dir, &[("", &["localhost", "127.0.0.1"])])
}

/// A test CA and, for each `(prefix, names)`, a certificate for `names`
/// it signed, written to `dir/PREFIXcert.pem` and `dir/PREFIXkey.pem`;
/// returns the CA's PEM.
pub fn ca_with_leaves(dir: &std::path::Path, leaves: &[(&str, &[&str])]) -> Vec<u8> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    for (prefix, names) in leaves {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        std::fs::write(dir.join(format!("{prefix}cert.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{prefix}key.pem")), key.serialize_pem()).unwrap();
    }
    ca.pem().into_bytes()
}

/// The mailserver with a self-signed certificate for localhost and
/// 127.0.0.1 (STARTTLS on its ports, implicit TLS on `--smtps`), data
/// under `dir`; returns it and the certificate's PEM, to trust.
pub fn mailserver_with_cert(dir: &std::path::Path) -> (super::MailServer, Vec<u8>) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let srv = super::MailServer::start(
        &dir.join("data"),
        &[
            "--smtps",
            "127.0.0.1:0",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    (srv, ck.cert.pem().into_bytes())
}

//! A tiny DNS responder for the MX tests (the mail server's and the SMTP
//! transports' `connect_domain`) and the MTA-STS test (TXT records).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A tiny authoritative DNS server on 127.0.0.1 (UDP) for the MX tests.
/// `records` maps (lower-case name, qtype) to answers; other names are
/// NXDOMAIN, other types of known names NODATA.
pub struct TinyDns {
    pub addr: std::net::SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    pub queries: Arc<Mutex<Vec<(String, u16)>>>,
}

#[derive(Clone)]
pub enum Rr {
    Mx(u16, &'static str),
    A([u8; 4]),
    /// One TXT record (in strings of at most 255 octets).
    Txt(&'static str),
}

fn dns_name(out: &mut Vec<u8>, name: &str) {
    for label in name.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

impl TinyDns {
    /// The MX tests' zone: `mx.test` with MX 10 `primary.mx.test`
    /// (127.0.0.2, where nothing listens) and MX 20 `backup.mx.test`
    /// (127.0.0.1); `amx.test` with no MX, only an address (127.0.0.1): the
    /// implicit MX (RFC 5321 §5.1). Anything else is NXDOMAIN.
    pub fn mx_test() -> TinyDns {
        let mut records = HashMap::new();
        records.insert(
            ("mx.test".to_string(), 15),
            vec![Rr::Mx(20, "backup.mx.test"), Rr::Mx(10, "primary.mx.test")],
        );
        let a = |ip| vec![Rr::A(ip)];
        records.insert(("primary.mx.test".to_string(), 1), a([127, 0, 0, 2]));
        records.insert(("backup.mx.test".to_string(), 1), a([127, 0, 0, 1]));
        records.insert(("amx.test".to_string(), 1), a([127, 0, 0, 1]));
        TinyDns::start(records)
    }

    /// A mailserver for `a.test` (user `alice`, password `pa`) that looks
    /// names up here (`--dns`) and delivers to MX hosts on `mx`'s SMTP port
    /// (`--mx-port`), retrying hourly; data in `data`, `extra` added.
    pub fn sender(
        &self,
        data: &std::path::Path,
        mx: &super::MailServer,
        extra: &[&str],
    ) -> super::MailServer {
        let (dns, port) = (self.addr.to_string(), mx.smtp().port().to_string());
        let mut args = vec![
            "--domain",
            "a.test",
            "--user",
            "alice:pa",
            "--retry",
            "1h",
            "--dns",
            &dns,
            "--mx-port",
            &port,
        ];
        args.extend_from_slice(extra);
        super::MailServer::start(data, &args)
    }

    pub fn start(records: HashMap<(String, u16), Vec<Rr>>) -> TinyDns {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let queries = Arc::new(Mutex::new(Vec::new()));
        let (stop2, queries2) = (stop.clone(), queries.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let q = &buf[..n];
                if n < 12 {
                    continue;
                }
                // The question: labels, then type and class.
                let mut i = 12;
                let mut labels = Vec::new();
                while i < n && q[i] != 0 {
                    let l = q[i] as usize;
                    labels.push(
                        String::from_utf8_lossy(&q[i + 1..(i + 1 + l).min(n)]).to_ascii_lowercase(),
                    );
                    i += 1 + l;
                }
                if i + 5 > n {
                    continue;
                }
                let qtype = u16::from_be_bytes([q[i + 1], q[i + 2]]);
                let qend = i + 5;
                let name = labels.join(".");
                queries2.lock().unwrap().push((name.clone(), qtype));
                let known = records.keys().any(|(k, _)| *k == name);
                let answers = records
                    .get(&(name.clone(), qtype))
                    .cloned()
                    .unwrap_or_default();
                let mut r = Vec::new();
                r.extend_from_slice(&q[..2]);
                let rcode: u8 = if known { 0 } else { 3 };
                r.extend_from_slice(&[0x84 | (q[2] & 0x01), 0x80 | rcode]);
                r.extend_from_slice(&[0, 1]);
                r.extend_from_slice(&(answers.len() as u16).to_be_bytes());
                r.extend_from_slice(&[0, 0, 0, 0]);
                r.extend_from_slice(&q[12..qend]);
                for a in answers {
                    r.extend_from_slice(&[0xc0, 0x0c]);
                    let mut rdata = Vec::new();
                    let t: u16 = match a {
                        Rr::Mx(pref, host) => {
                            rdata.extend_from_slice(&pref.to_be_bytes());
                            dns_name(&mut rdata, host);
                            15
                        }
                        Rr::A(ip) => {
                            rdata.extend_from_slice(&ip);
                            1
                        }
                        Rr::Txt(text) => {
                            // One character-string holds 255 octets; a
                            // longer text (a DKIM RSA key) takes several,
                            // which resolvers join.
                            for chunk in text.as_bytes().chunks(255) {
                                rdata.push(chunk.len() as u8);
                                rdata.extend_from_slice(chunk);
                            }
                            16
                        }
                    };
                    r.extend_from_slice(&t.to_be_bytes());
                    r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
                    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
                    r.extend_from_slice(&rdata);
                }
                let _ = sock.send_to(&r, from);
            }
        });
        TinyDns {
            addr,
            stop,
            queries,
        }
    }
}

impl Drop for TinyDns {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

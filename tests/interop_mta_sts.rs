//! Interop test of the mailserver example's MTA-STS (RFC 8461, issue 15):
//! policies discovered through a local DNS responder (TinyDns, TXT
//! `_mta-sts.DOMAIN`), fetched over HTTPS from a local Python policy
//! server whose certificate a test CA signed (`--tls-ca`,
//! `--mta-sts-port`), cached, and honoured towards a second instance.
//!
//! Run it with `cargo test -p mailwire --test interop_mta_sts -- --ignored`
//! (needs python3).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::dns::{Rr, TinyDns};
use common::peer::Peer;
use common::*;

/// An HTTPS server on 127.0.0.1 (port printed) serving
/// `/.well-known/mta-sts.txt` from `ROOT/HOST` for the Host header's name,
/// as text/plain; prints `GET HOST` for each policy served.
const PY_POLICY_SERVER: &str = r#"
import http.server, ssl, sys, os
root, cert, key = sys.argv[1:4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        path = os.path.join(root, host)
        if self.path != "/.well-known/mta-sts.txt" or not os.path.isfile(path):
            self.send_error(404)
            return
        body = open(path, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print("GET", host, flush=True)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("PORT", srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// The zone: three domains with an MTA-STS record, their policy hosts
/// and MX hosts, all on 127.0.0.1.
/// - `enf.test`: enforce, MX `mx.enf.test` (in the policy);
/// - `bad.test`: enforce, MX `plain.bad.test` (not in the policy);
/// - `tst.test`: testing, MX `plain.tst.test` (not in the policy);
/// - `crt.test`: enforce, MX `mx.crt.test` (in the policy, but B's
///   certificate is not for that name);
/// - `big.test`: enforce, MX `plain.big.test` (not in the policy), a
///   policy over 64 KiB (so none is taken).
fn zone() -> TinyDns {
    let mut r = HashMap::new();
    let a = || vec![Rr::A([127, 0, 0, 1])];
    for (domain, mx, id) in [
        ("enf.test", "mx.enf.test", "v=STSv1; id=enf1;"),
        ("bad.test", "plain.bad.test", "v=STSv1; id=bad1"),
        ("tst.test", "plain.tst.test", "v=STSv1; id=tst1"),
        ("crt.test", "mx.crt.test", "v=STSv1; id=crt1"),
        ("big.test", "plain.big.test", "v=STSv1; id=big1"),
    ] {
        r.insert((domain.to_string(), 15), vec![Rr::Mx(10, mx)]);
        r.insert((mx.to_string(), 1), a());
        r.insert((format!("mta-sts.{domain}"), 1), a());
        r.insert(
            (format!("_mta-sts.{domain}"), 16),
            vec![Rr::Txt("v=spf1 -all"), Rr::Txt(id)],
        );
    }
    TinyDns::start(r)
}

fn submit(a: &MailServer, marker: &str, rcpt: &str) {
    let mut c = Raw::connect(a.submission());
    assert_eq!(c.reply().0, 220);
    assert_eq!(c.cmd("EHLO client.test").0, 250);
    assert_eq!(c.auth_scram("alice", "pa").0, 235);
    let data = format!("Subject: {marker}\r\n\r\nbody {marker}\r\n");
    let (code, text) = c.mail("alice@a.test", &[rcpt], data.as_bytes());
    assert_eq!(code, 250, "{text}\n{}", a.log());
    c.cmd("QUIT");
}

/// B's messages for bob that contain `marker`.
fn received(b: &MailServer, marker: &str) -> Vec<String> {
    b.messages("bob")
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .filter(|m| m.contains(marker))
        .collect()
}

fn wait_received(b: &MailServer, marker: &str) -> String {
    for _ in 0..300 {
        if let Some(m) = received(b, marker).pop() {
            return m;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("B never got {marker}\n{}", b.log());
}

/// Asserts that `a` logged `needle`.
fn assert_logged(a: &MailServer, needle: &str) {
    assert!(a.log().contains(needle), "{needle}\n{}", a.log());
}

/// Waits (30 s at most) until `a` logged `needle` `n` times.
fn wait_logged(a: &MailServer, needle: &str, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while a.log().matches(needle).count() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{needle}\n{}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn policy(dir: &Path, domain: &str, mode: &str, mx: &str) {
    let body = format!("version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: 86400\r\n");
    std::fs::write(dir.join(format!("mta-sts.{domain}")), body).unwrap();
}

#[test]
#[ignore = "interop: needs python3; starts two mailservers, a DNS responder and an HTTPS server"]
fn mta_sts_policies_fetched_cached_and_honoured() {
    if !have("python3") {
        return;
    }
    let dir = scratch("mta-sts");
    let ca = common::peer::ca_with_leaves(
        &dir,
        &[
            (
                "https-",
                &[
                    "mta-sts.enf.test",
                    "mta-sts.bad.test",
                    "mta-sts.tst.test",
                    "mta-sts.crt.test",
                    "mta-sts.big.test",
                ],
            ),
            ("mx-", &["mx.enf.test"]),
        ],
    );
    std::fs::write(dir.join("ca.pem"), ca).unwrap();
    let root = dir.join("policies");
    std::fs::create_dir_all(&root).unwrap();
    policy(&root, "enf.test", "enforce", "mx.enf.test");
    policy(&root, "bad.test", "enforce", "mx.bad.test");
    policy(&root, "tst.test", "testing", "*.other.test");
    policy(&root, "crt.test", "enforce", "*.crt.test");
    policy(&root, "big.test", "enforce", "mx.big.test");
    let big = root.join("mta-sts.big.test");
    let padding = format!("x-padding: {}\r\n", "a".repeat(1000)).repeat(70);
    let body = std::fs::read_to_string(&big).unwrap() + &padding;
    std::fs::write(&big, body).unwrap();
    let path = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let mut https = Some(Peer::spawn(Command::new("python3").args([
        "-c",
        PY_POLICY_SERVER,
        &path("policies"),
        &path("https-cert.pem"),
        &path("https-key.pem"),
    ])));
    let out = https.as_ref().unwrap().wait_for("PORT ");
    let port = out
        .lines()
        .find_map(|l| l.strip_prefix("PORT "))
        .unwrap()
        .trim()
        .to_string();
    let dns = zone();
    // B: the MX of all three domains, STARTTLS with a certificate for
    // mx.enf.test from the test CA.
    let b = MailServer::start(
        &dir.join("b"),
        &[
            "--domain",
            "enf.test",
            "--domain",
            "bad.test",
            "--domain",
            "tst.test",
            "--domain",
            "crt.test",
            "--domain",
            "big.test",
            "--hostname",
            "mx.enf.test",
            "--user",
            "bob:pb",
            "--cert",
            &path("mx-cert.pem"),
            "--key",
            &path("mx-key.pem"),
        ],
    );
    let a = dns.sender(
        &dir.join("a"),
        &b,
        &["--tls-ca", &path("ca.pem"), "--mta-sts-port", &port],
    );

    // (1) enforce, and the MX is not in the policy: deferred, never sent.
    submit(&a, "to-bad-1", "bob@bad.test");
    wait_logged(&a, "deferred=1", 1);
    assert_logged(
        &a,
        "mta-sts bad.test: enforce: MX plain.bad.test not in the policy",
    );
    assert_logged(&a, "no MX host of bad.test matches");

    // (2) enforce, a matching MX with STARTTLS and a certificate valid
    // for its name: delivered over TLS.
    submit(&a, "to-enf-1", "bob@enf.test");
    let got = wait_received(&b, "to-enf-1");
    assert!(got.contains("with ESMTPS"), "{got}");

    // (3) testing, an MX not in the policy (and a certificate not for its
    // name): delivered over TLS, the failures logged.
    submit(&a, "to-tst-1", "bob@tst.test");
    let got = wait_received(&b, "to-tst-1");
    assert!(got.contains("with ESMTPS"), "{got}");
    assert_logged(
        &a,
        "mta-sts tst.test: testing: MX plain.tst.test not in the policy",
    );
    // ... and so is the certificate, which is not for plain.tst.test.
    assert_logged(
        &a,
        "mta-sts testing: certificate of plain.tst.test: invalid peer certificate",
    );
    // enforce, a matching MX whose certificate is not for its name:
    // deferred, never sent.
    submit(&a, "to-crt-1", "bob@crt.test");
    wait_logged(&a, "deferred=1", 2);
    assert_logged(&a, "(bob@crt.test: mx.crt.test (127.0.0.1:");
    assert_logged(&a, "certificate not valid for name \"mx.crt.test\"");
    // A policy over 64 KiB is refused, so big.test has none: delivered.
    submit(&a, "to-big-1", "bob@big.test");
    wait_received(&b, "to-big-1");
    assert_logged(&a, "policy larger than 65536");
    // The failed fetch is remembered for a few minutes: the next message
    // to big.test does not fetch again.
    submit(&a, "to-big-2", "bob@big.test");
    wait_received(&b, "to-big-2");
    assert_eq!(
        a.log()
            .matches("mta-sts big.test: policy fetch failed")
            .count(),
        1,
        "{}",
        a.log()
    );
    assert_logged(
        &a,
        "mta-sts big.test: policy id=big1 not fetched again yet (the fetch failed",
    );
    let served = https.as_ref().unwrap().text();
    for d in ["enf.test", "bad.test", "tst.test"] {
        assert_eq!(
            served.matches(&format!("GET mta-sts.{d}")).count(),
            1,
            "{served}"
        );
        assert!(dir.join("a/mta-sts").join(d).is_file(), "{d} cached");
    }

    // (4) The policy server is gone: the cached policies stand (same id
    // in DNS, fresh): enf.test delivered over TLS, bad.test deferred again.
    https.take();
    submit(&a, "to-enf-2", "bob@enf.test");
    let got = wait_received(&b, "to-enf-2");
    assert!(got.contains("with ESMTPS"), "{got}");
    submit(&a, "to-bad-2", "bob@bad.test");
    wait_logged(&a, "no MX host of bad.test matches", 2);
    for d in ["enf.test", "bad.test"] {
        let failed = format!("mta-sts {d}: policy fetch failed");
        assert!(!a.log().contains(&failed), "{}", a.log());
    }
    assert!(received(&b, "to-bad").is_empty(), "{}", b.log());
    assert!(received(&b, "to-crt").is_empty(), "{}", b.log());
    let _ = std::fs::remove_dir_all(&dir);
}

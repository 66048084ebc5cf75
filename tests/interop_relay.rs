//! Interop tests of the mailserver example's relaying (issue 15): the
//! MT-PRIORITY of RFC 6710 passed on to a next hop that offers it (a second
//! instance) and turned into an `MT-Priority:` header field for one that
//! does not (Postfix's smtp-sink), RET=HDRS passed on (RFC 3461 §5.2.1),
//! and `--tls-policy` (a destination without STARTTLS deferred under
//! `require`), and REQUIRETLS (RFC 8689) relayed only to a next hop that
//! offers it.
//!
//! Run them with `cargo test --release -p mailwire --test interop_relay
//! -- --ignored --test-threads=1` after `bash .ci/install-peers`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Submission as alice (EHLO, AUTH PLAIN), then the MAIL/RCPT/DATA of
/// each message of the JSON spec; prints the MT-PRIORITY EHLO parameter
/// and each MAIL reply. Then, on the MTA port without AUTH, one MAIL.
const PY_PRIORITY: &str = r#"
import smtplib, sys, json
sub_port, mta_port, spec = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
c = smtplib.SMTP("127.0.0.1", sub_port)
c.ehlo("client.test")
print("policy", c.esmtp_features.get("mt-priority"))
c.login("alice", "pa")
for m in spec:
    code, text = c.mail("alice@a.test", m["mail"])
    print("mail", code, text.decode())
    if code != 250:
        c.rset()
        continue
    for r, opts in m["rcpts"]:
        code, text = c.rcpt(r, opts)
        assert code == 250, (code, text)
    code, text = c.data(m["msg"].encode())
    assert code == 250, (code, text)
c.quit()
m = smtplib.SMTP("127.0.0.1", mta_port)
m.ehlo("peer.test")
code, text = m.mail("someone@else.test", ["MT-PRIORITY=6"])
print("anonymous", code, text.decode())
m.quit()
"#;

/// Runs [`PY_PRIORITY`] against `a` with the JSON `spec`.
fn send_spec(a: &MailServer, spec: &str) -> (bool, String) {
    run(Command::new("python3").args([
        "-c",
        PY_PRIORITY,
        &a.submission().port().to_string(),
        &a.smtp().port().to_string(),
        spec,
    ]))
}

/// The `X-Mail-Args:` line (MAIL FROM's path and parameters) of a dumped
/// message from alice.
fn mail_args(dumped: &str) -> &str {
    dumped
        .lines()
        .find(|l| l.starts_with("X-Mail-Args: <alice@a.test>"))
        .unwrap_or_else(|| panic!("{dumped}"))
}

/// Waits until `path` exists and contains `n` messages (smtp-sink's `-D`
/// dump starts each with `X-Client-Addr:`); returns its text.
fn wait_dump(path: &Path, n: usize, timeout: Duration) -> String {
    let end = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.matches("X-Client-Addr:").count() >= n || Instant::now() > end {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The dumped message (envelope lines and content) that contains `marker`.
fn dumped<'a>(dump: &'a str, marker: &str) -> &'a str {
    dump.split("X-Client-Addr:")
        .find(|m| m.contains(marker))
        .unwrap_or_else(|| panic!("no message with {marker} in the dump:\n{dump}"))
}

/// An instance for `domain` (hostname `mx.DOMAIN`), data in `dir/NAME`,
/// with `args` added.
fn instance(dir: &Path, name: &str, domain: &str, args: &[&str]) -> MailServer {
    let hostname = format!("mx.{domain}");
    let mut all = vec!["--domain", domain, "--hostname", &hostname];
    all.extend_from_slice(args);
    MailServer::start(&dir.join(name), &all)
}

/// A scratch directory smtp-sink (running as nobody) may write its dump in.
fn sink_dir(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = dir.join("sink");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

#[test]
#[ignore = "interop: needs python3 and Postfix's smtp-sink (bash .ci/install-peers); starts two mailservers"]
fn mt_priority_passed_on_or_in_a_header_field_and_ret_hdrs_passed_on() {
    if !have("python3") || !have("smtp-sink") {
        return;
    }
    let dir = scratch("relay-priority");
    let dump = sink_dir(&dir).join("dump");
    // c.test: smtp-sink, with DSN and without MT-PRIORITY, dumping the
    // envelope (X-Mail-Args) and the content of what it gets.
    let (_sink, sink_addr) = start_smtp_sink(&["-u", "nobody", "-D", dump.to_str().unwrap()]);
    // b.test: a second instance, which offers MT-PRIORITY.
    let b = instance(&dir, "b", "b.test", &["--user", "carol:pc"]);
    let b_route = format!("b.test={}", b.smtp());
    let c_route = format!("c.test={sink_addr}");
    let a = instance(
        &dir,
        "a",
        "a.test",
        &[
            "--user", "alice:pa", "--route", &b_route, "--route", &c_route,
        ],
    );
    let spec = r#"[
      {"mail": ["MT-PRIORITY=10"], "rcpts": [], "msg": ""},
      {"mail": ["MT-PRIORITY=-2"],
       "rcpts": [["carol@b.test", []], ["x@c.test", []]],
       "msg": "Subject: prio-low\r\nMT-Priority: 9\r\n\r\nlow body\r\n"},
      {"mail": ["MT-PRIORITY=+3"],
       "rcpts": [["y@c.test", []]],
       "msg": "Subject: prio-urgent\r\n\r\nurgent body\r\n"},
      {"mail": ["RET=HDRS", "ENVID=hdrs-1"],
       "rcpts": [["z@c.test", ["NOTIFY=FAILURE"]]],
       "msg": "Subject: ret-hdrs\r\n\r\nhdrs body\r\n"}
    ]"#;
    let (ok, out) = send_spec(&a, spec);
    assert!(ok, "{out}\n{}", a.log());
    // RFC 6710 §3: the keyword with the policy; §4.1: 501 5.5.4 for a
    // value out of range; MIXER moves -2 to -4 and +3 to 4 (X.3.6), and a
    // sender without AUTH cannot raise its priority.
    for want in [
        "policy MIXER",
        "mail 501 5.5.4",
        "mail 250 2.3.6 Requested priority was changed to -4",
        "mail 250 2.3.6 Requested priority was changed to 4",
        "mail 250 2.1.0",
        "anonymous 250 2.3.6 Requested priority was changed to 0",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }

    // B offers MT-PRIORITY: the parameter went on (B logs it), and no
    // header field was added; the sender's own MT-Priority field stays
    // untouched in that case (RFC 6710 §9 gives it no meaning there).
    assert!(
        wait_log(&b, "priority=-4", Duration::from_secs(30)),
        "B got no MT-PRIORITY\nA:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
    let at_b = String::from_utf8(find_one(&b, "carol", "low body")).unwrap();
    assert!(at_b.contains("MT-Priority: 9\r\n"), "{at_b}");
    assert!(!at_b.contains("MT-Priority: -4"), "{at_b}");

    // smtp-sink has no MT-PRIORITY: no parameter, the field instead, and
    // the sender's own field replaced (RFC 6710 §5, §9).
    let text = wait_dump(&dump, 3, Duration::from_secs(30));
    let low = dumped(&text, "low body");
    assert!(!low.contains("MT-PRIORITY="), "{low}");
    assert!(low.contains("MT-Priority: -4\n"), "{low}");
    assert!(!low.contains("MT-Priority: 9"), "{low}");
    let urgent = dumped(&text, "urgent body");
    assert!(urgent.contains("MT-Priority: 4\n"), "{urgent}");
    // RFC 3461 §5.2.1: RET=HDRS (and ENVID, NOTIFY) went on as given.
    let hdrs = dumped(&text, "hdrs body");
    let args = mail_args(hdrs);
    for want in [" RET=HDRS", " ENVID=hdrs-1"] {
        assert!(args.contains(want), "{want}: {args}");
    }
    assert!(
        hdrs.contains("X-Rcpt-Args: <z@c.test> NOTIFY=FAILURE"),
        "{hdrs}"
    );
    assert!(!hdrs.contains("MT-Priority"), "{hdrs}");
}

/// Submission as alice: one message to the given recipients.
const PY_SUBMIT: &str = r#"
import smtplib, sys
port, marker, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
c = smtplib.SMTP("127.0.0.1", port)
c.login("alice", "pa")
c.sendmail("alice@a.test", rcpts, "Subject: %s\r\n\r\nbody %s\r\n" % (marker, marker))
c.quit()
"#;

/// The bounce alice gets from `a`, checked to hold each of `wants`.
fn alice_bounce(a: &MailServer, wants: &[&str]) -> String {
    let bounce = a.wait_one("alice", Duration::from_secs(30), "the bounce");
    for want in wants {
        assert!(bounce.contains(want), "{want}\n{bounce}\n{}", a.log());
    }
    bounce
}

fn submit(server: &MailServer, marker: &str, rcpts: &[&str]) {
    let (ok, out) = run(Command::new("python3").args([
        "-c",
        PY_SUBMIT,
        &server.submission().port().to_string(),
        marker,
        &rcpts.join(","),
    ]));
    assert!(ok, "{out}\n{}", server.log());
}

#[test]
#[ignore = "interop: needs python3 with aiosmtpd (bash .ci/install-peers); starts a mailserver"]
fn tls_policy_require_defers_a_destination_without_starttls_then_bounces() {
    if !have("python3") {
        return;
    }
    // aiosmtpd without a certificate: no STARTTLS.
    let Some((peer, port)) = common::peer::aiosmtpd(false, None) else {
        return;
    };
    let dir = scratch("relay-tls-require");
    let c_route = format!("c.test=127.0.0.1:{port}");
    let d_route = format!("d.test=127.0.0.1:{port}");
    let a = instance(
        &dir,
        "a",
        "a.test",
        &[
            "--user",
            "alice:pa",
            "--route",
            &c_route,
            "--route",
            &d_route,
            "--tls-policy",
            "require",
            "--tls-policy",
            "d.test=opportunistic",
            "--retry",
            "1s",
            "--expire",
            "4s",
        ],
    );
    submit(&a, "tls-policy", &["x@c.test", "y@d.test"]);
    // d.test is opportunistic: delivered in plain text.
    let got = peer.wait_for("MESSAGE-TO y@d.test");
    assert!(got.contains("TLS False"), "{got}");
    // c.test requires TLS: deferred with the reason, retried, then
    // bounced to alice after --expire, and never sent in plain text.
    assert!(
        wait_log(&a, "deferred=1", Duration::from_secs(20)),
        "{}",
        a.log()
    );
    alice_bounce(
        &a,
        &[
            "Final-Recipient: rfc822; x@c.test",
            "Status: 4.4.7",
            "STARTTLS",
        ],
    );
    assert!(a.log().matches("attempt=").count() >= 3, "{}", a.log());
    assert!(!peer.text().contains("x@c.test"), "{}", peer.text());
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts three mailservers"]
fn tls_policy_require_verifies_the_certificate() {
    if !have("python3") {
        return;
    }
    let dir = scratch("relay-tls-verify");
    std::fs::create_dir_all(dir.join("b")).unwrap();
    // B: STARTTLS with a self-signed certificate for 127.0.0.1.
    let (b, b_pem) = common::peer::mailserver_with_cert(&dir.join("b"));
    std::fs::write(dir.join("b.pem"), &b_pem).unwrap();
    // Another CA, which B's certificate is not from.
    std::fs::create_dir_all(dir.join("other")).unwrap();
    std::fs::write(
        dir.join("other.pem"),
        common::peer::test_ca(&dir.join("other")),
    )
    .unwrap();
    let route = format!("localhost={}", b.smtp());
    let start = |name: &str, ca: &Path| {
        let args = [
            "--user",
            "alice:pa",
            "--route",
            &route,
            "--tls-policy",
            "require",
            "--tls-ca",
            ca.to_str().unwrap(),
        ];
        instance(&dir, name, "a.test", &args)
    };
    // Trusting B's certificate: delivered over TLS.
    let trusting = start("a1", &dir.join("b.pem"));
    submit(&trusting, "verified", &["demo@localhost"]);
    let text = b.wait_one("demo", Duration::from_secs(30), &trusting.log());
    assert!(text.contains("with ESMTPS"), "{text}");
    // Not trusting it: the handshake fails, the message stays queued.
    let doubting = start("a2", &dir.join("other.pem"));
    submit(&doubting, "unverified", &["demo@localhost"]);
    assert!(
        wait_log(&doubting, "deferred=1", Duration::from_secs(20)),
        "{}",
        doubting.log()
    );
    assert!(
        doubting.log().to_ascii_lowercase().contains("certificate"),
        "{}",
        doubting.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(b.messages("demo").len(), 1, "{}", b.log());
}

/// A next hop with none of 8BITMIME, DSN and MT-PRIORITY (`smtp-sink -8
/// -N`): the message goes once each fallback is taken, in 7 bit, with the
/// priority in its header field, and the success notice says "relayed".
#[test]
#[ignore = "interop: needs python3 and Postfix's smtp-sink (bash .ci/install-peers); starts a mailserver"]
fn every_fallback_at_once_to_a_plain_next_hop() {
    if !have("python3") || !have("smtp-sink") {
        return;
    }
    let dir = scratch("relay-fallbacks");
    let dump = sink_dir(&dir).join("dump");
    let (_sink, sink_addr) =
        start_smtp_sink(&["-u", "nobody", "-8", "-N", "-D", dump.to_str().unwrap()]);
    let c_route = format!("c.test={sink_addr}");
    let a = instance(
        &dir,
        "a",
        "a.test",
        &["--user", "alice:pa", "--route", &c_route],
    );
    let spec = r#"[
      {"mail": ["MT-PRIORITY=-4", "BODY=8BITMIME"],
       "rcpts": [["w@c.test", ["NOTIFY=SUCCESS"]]],
       "msg": "Subject: eight\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nh\u00e9llo eight\r\n"}
    ]"#;
    let (ok, out) = send_spec(&a, spec);
    assert!(ok && out.contains("mail 250 2.1.0"), "{out}\n{}", a.log());
    let text = wait_dump(&dump, 1, Duration::from_secs(30));
    let got = dumped(&text, "Subject: eight");
    assert!(got.is_ascii(), "7 bit on the wire: {got}");
    assert!(got.contains("MT-Priority: -4\n"), "{got}");
    let args = mail_args(got);
    assert!(!args.contains('='), "no parameter left: {args}");
    let notice = a.wait_one("alice", Duration::from_secs(20), "the relayed notice");
    assert!(notice.contains("Action: relayed"), "{notice}");
}

/// Submission with REQUIRETLS (RFC 8689): refused before STARTTLS (530
/// 5.7.10, and not offered), then after it to two routed next hops.
const PY_REQUIRETLS: &str = r#"
import smtplib, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = smtplib.SMTP("127.0.0.1", port, timeout=20)
c.ehlo("client.test")
assert "requiretls" not in c.esmtp_features, c.esmtp_features
c.login("alice", "pa")
code, text = c.mail("alice@a.test", ["REQUIRETLS"])
assert code == 530 and b"5.7.10" in text, (code, text)
c.rset()
c.starttls(context=ctx)
c.ehlo("client.test")
assert "requiretls" in c.esmtp_features, c.esmtp_features
c.login("alice", "pa")
msg = "Subject: {0}\r\n\r\nsecret body {0}\r\n"
c.sendmail("alice@a.test", ["demo@localhost"], msg.format("to-b"), mail_options=["REQUIRETLS"])
c.sendmail("alice@a.test", ["x@c.test"], msg.format("to-c"), mail_options=["REQUIRETLS"])
c.quit()
# From a remote sender, a REQUIRETLS message that loops (Delivered-To):
# its report goes back to the sender's server with REQUIRETLS (RFC 8689 §5).
m = smtplib.SMTP("127.0.0.1", int(sys.argv[2]), timeout=20)
m.ehlo("peer.test")
m.starttls(context=ctx)
m.ehlo("peer.test")
looped = "Delivered-To: alice@a.test\r\n" + msg.format("looped")
try:
    m.sendmail("demo@localhost", ["alice@a.test"], looped, mail_options=["REQUIRETLS"])
except smtplib.SMTPException as e:
    print("looped refused", e)
m.quit()
print("ok")
"#;

/// RFC 8689 §4.2.1 and §5: a REQUIRETLS message goes on over verified TLS
/// to a next hop that offers REQUIRETLS (a second instance: it gets the
/// parameter and logs it), never to one that only offers STARTTLS
/// (aiosmtpd with a certificate from a trusted CA): that one's recipient
/// is bounced with 5.7.30, the bounce without the message's body. The
/// report of a REQUIRETLS message from a remote sender (one that loops)
/// goes back to the sender's server with REQUIRETLS, without the body.
#[test]
#[ignore = "interop: needs python3 with aiosmtpd (bash .ci/install-peers); starts two mailservers"]
fn rfc8689_requiretls_relayed_only_to_a_next_hop_that_offers_it() {
    if !have("python3") {
        return;
    }
    let dir = scratch("relay-requiretls");
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::create_dir_all(dir.join("c")).unwrap();
    // B: STARTTLS with a self-signed certificate for localhost.
    let (b, b_pem) = common::peer::mailserver_with_cert(&dir.join("b"));
    // C: aiosmtpd with STARTTLS (a certificate for 127.0.0.1 from a test
    // CA), without REQUIRETLS.
    let c_ca = common::peer::test_ca(&dir.join("c"));
    let Some((peer, c_port)) = common::peer::aiosmtpd(
        false,
        Some((&dir.join("c/cert.pem"), &dir.join("c/key.pem"))),
    ) else {
        return;
    };
    let cas = dir.join("cas.pem");
    std::fs::write(&cas, [b_pem, c_ca].concat()).unwrap();
    let b_route = format!("localhost={}", b.smtp());
    let c_route = format!("c.test=127.0.0.1:{c_port}");
    let a = instance(
        &dir,
        "a",
        "a.test",
        &[
            "--user",
            "alice:pa",
            "--route",
            &b_route,
            "--route",
            &c_route,
            "--tls-ca",
            cas.to_str().unwrap(),
        ],
    );
    let (ok, out) = run(Command::new("python3").args([
        "-c",
        PY_REQUIRETLS,
        &a.submission().port().to_string(),
        &a.smtp().port().to_string(),
    ]));
    assert!(ok && out.ends_with("ok\n"), "{out}\n{}", a.log());
    // At B: the message, and the report of the looped one.
    let at_b: Vec<String> = b
        .wait_messages("demo", 2, Duration::from_secs(30))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let with = |s: &str| {
        at_b.iter()
            .find(|t| t.contains(s))
            .unwrap_or_else(|| panic!("no {s} at B\n{}\n{}", a.log(), b.log()))
    };
    let text = with("Subject: to-b");
    assert!(text.contains("with ESMTPS"), "{text}");
    assert!(
        wait_log(&b, "requiretls", Duration::from_secs(10)),
        "{}",
        b.log()
    );
    let bounce = alice_bounce(
        &a,
        &[
            "Final-Recipient: rfc822; x@c.test",
            "Status: 5.7.30",
            "Subject: to-c",
        ],
    );
    assert!(!bounce.contains("secret body to-c"), "{bounce}");
    assert!(!peer.text().contains("secret body"), "{}", peer.text());
    // The remote sender's report: to B, with REQUIRETLS, the header only.
    let report = with("Subject: looped");
    assert!(!report.contains("secret body looped"), "{report}");
    assert_eq!(b.log().matches("requiretls").count(), 2, "{}", b.log());
}

/// aiosmtpd announcing `LIMITS RCPTMAX=3 MAILMAX=2` (RFC 9422) in its
/// EHLO reply; prints each EHLO and each transaction's recipients.
const PY_LIMITS: &str = r#"
import sys, time
from aiosmtpd.controller import Controller

class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        print('EHLO', hostname, flush=True)
        return responses[:-1] + ['250-LIMITS RCPTMAX=3 MAILMAX=2', responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        print('TX', ' '.join(envelope.rcpt_tos), flush=True)
        return '250 2.0.0 OK'

c = Controller(Handler(), hostname='127.0.0.1', port=int(sys.argv[1]))
c.start()
print('READY', flush=True)
while True:
    time.sleep(1)
"#;

/// RFC 9422: a message to seven recipients relayed to a next hop that
/// takes three RCPTs a transaction and two transactions a session goes in
/// two transactions of three, then, the session's transactions used, the
/// seventh recipient in a new session at once (the retry interval is an
/// hour: no retry could carry it within the test).
#[test]
#[ignore = "interop: needs python3 with aiosmtpd (bash .ci/install-peers); starts a mailserver"]
fn rfc9422_limits_of_the_next_hop_kept() {
    if !have("python3") || !have_python_module("aiosmtpd") {
        return;
    }
    let port = common::dovecot::free_port();
    let peer = common::peer::Peer::spawn(Command::new("python3").args([
        "-c",
        PY_LIMITS,
        &port.to_string(),
    ]));
    peer.wait_for("READY");
    let dir = scratch("relay-limits");
    let c_route = format!("c.test=127.0.0.1:{port}");
    let a = instance(
        &dir,
        "a",
        "a.test",
        &["--user", "alice:pa", "--route", &c_route, "--retry", "1h"],
    );
    let rcpts: Vec<String> = (1..=7).map(|k| format!("r{k}@c.test")).collect();
    let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    submit(&a, "limits", &rcpts);
    let got = peer.wait_for("TX r7@c.test");
    let lines: Vec<&str> = got
        .lines()
        .filter(|l| l.starts_with("EHLO") || l.starts_with("TX"))
        .collect();
    assert_eq!(lines.len(), 5, "{got}\n{}", a.log());
    assert!(lines[0].starts_with("EHLO"), "{got}");
    assert_eq!(lines[1], "TX r1@c.test r2@c.test r3@c.test", "{got}");
    assert_eq!(lines[2], "TX r4@c.test r5@c.test r6@c.test", "{got}");
    assert!(lines[3].starts_with("EHLO"), "{got}");
    assert_eq!(lines[4], "TX r7@c.test", "{got}");
    // All seven in the first attempt.
    assert!(
        common::wait_log(
            &a,
            "attempt=1 delivered=7 deferred=0",
            Duration::from_secs(10)
        ),
        "{}",
        a.log()
    );
}

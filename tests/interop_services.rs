//! Interop tests of the mailserver example's services (issue 15) with a
//! real client (Python's smtplib): aliases, local and remote (the remote
//! target is a second instance behind `--route`), plus-addressing, the
//! vacation auto-reply (RFC 3834), Delivered-To loops and DSN (RFC 3461).
//!
//! Run them with `cargo test --release -p mailwire --test interop_services
//! -- --ignored --test-threads=1` after `bash .ci/install-peers`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

const PY_SEND: &str = r#"
import smtplib, sys
port, sender, rcpts, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(","), sys.argv[4]
extra = "".join(h + "\r\n" for h in sys.argv[5:])
c = smtplib.SMTP("127.0.0.1", port)
c.ehlo("client.test")
msg = "Subject: %s\r\nFrom: <%s>\r\nMessage-ID: <%s@client.test>\r\n%s\r\nhello %s\r\n" % (marker, sender, marker, extra, marker)
refused = c.sendmail(sender, rcpts, msg)
c.quit()
print("refused", refused)
"#;

fn py_send(port: u16, from: &str, rcpts: &[&str], marker: &str) -> (bool, String) {
    py_send_with(port, from, rcpts, marker, &[])
}

/// As [`py_send`], with extra header fields.
fn py_send_with(
    port: u16,
    from: &str,
    rcpts: &[&str],
    marker: &str,
    fields: &[&str],
) -> (bool, String) {
    run(Command::new("python3")
        .args([
            "-c",
            PY_SEND,
            &port.to_string(),
            from,
            &rcpts.join(","),
            marker,
        ])
        .args(fields))
}

/// One message with the given subject (list commands).
fn py_send_subject(port: u16, from: &str, to: &str, subject: &str) -> (bool, String) {
    run(Command::new("python3").args(["-c", PY_SUBJECT, &port.to_string(), from, to, subject]))
}

const PY_SUBJECT: &str = r#"
import smtplib, sys
port, sender, rcpt, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = smtplib.SMTP("127.0.0.1", port)
c.sendmail(sender, [rcpt], "Subject: %s\r\nFrom: <%s>\r\n\r\ncommand\r\n" % (subject, sender))
c.quit()
"#;

/// Sends a message of about `size` bytes.
const PY_BIG: &str = r#"
import smtplib, sys
port, sender, rcpt, size = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
line = "x" * 78 + "\r\n"
c = smtplib.SMTP("127.0.0.1", port)
c.sendmail(sender, [rcpt], "Subject: big\r\n\r\n" + line * (size // len(line)))
c.quit()
"#;

/// Instance B (b.test, account carol) and instance A (a.test, data in
/// `a_data`) routing b.test to B, with `a_args` added.
fn two_instances(dir: &Path, a_data: &Path, a_args: &[&str]) -> (MailServer, MailServer) {
    let b = MailServer::start(
        &dir.join("b"),
        &[
            "--domain",
            "b.test",
            "--hostname",
            "mx.b.test",
            "--user",
            "carol:pc",
        ],
    );
    let route = format!("b.test={}", b.smtp());
    let mut args = vec![
        "--domain",
        "a.test",
        "--hostname",
        "mx.a.test",
        "--route",
        &route,
    ];
    args.extend_from_slice(a_args);
    (MailServer::start(a_data, &args), b)
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts two mailservers"]
fn aliases_and_plus_addressing_with_smtplib() {
    if !have("python3") {
        return;
    }
    let dir = scratch("aliases");
    // alice has a folder "news" (Maildir++).
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join("a/mailboxes/alice/.news").join(sub)).unwrap();
    }
    let (a, b) = two_instances(
        &dir,
        &dir.join("a"),
        &[
            "--user",
            "alice:pa",
            "--user",
            "bob:pb",
            "--alias",
            "team@a.test=alice@a.test,staff@a.test",
            "--alias",
            "staff@a.test=bob@a.test,carol@b.test",
        ],
    );
    let port = a.smtp().port();
    // One transaction: the nested alias and alice's tagged address; alice
    // gets one copy in her inbox and one in her folder, bob one, carol
    // (remote) one.
    let (ok, out) = py_send(
        port,
        "sender@elsewhere.test",
        &["team@a.test", "alice+news@a.test"],
        "alias-1",
    );
    assert!(ok && out.contains("refused {}"), "{out}\n{}", a.log());
    let stored = find_one(&a, "alice", "alias-1");
    assert!(String::from_utf8_lossy(&stored).contains("hello alias-1"));
    find_one(&a, "bob", "alias-1");
    // alice+news went into the folder, the alias's copy into the inbox.
    let news = maildir_messages(&dir.join("a/mailboxes/alice/.news"));
    assert_eq!(news.len(), 1, "{}", a.log());
    assert!(String::from_utf8_lossy(&std::fs::read(&news[0]).unwrap()).contains("alias-1"));
    let got = b.wait_messages("carol", 1, Duration::from_secs(30));
    assert_eq!(
        got.len(),
        1,
        "forwarded to b.test\nA:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
    let fwd = std::fs::read(&got[0]).unwrap();
    let fwd = String::from_utf8_lossy(&fwd);
    assert!(fwd.contains("alias-1"), "{fwd}");
    // Forwarded by an alias: an SRS sender.
    let rp = fwd.lines().next().unwrap();
    assert!(
        rp.starts_with("Return-Path: <SRS0=") && rp.ends_with("=elsewhere.test=sender@a.test>"),
        "{fwd}"
    );

    // A tag on an alias, an unknown tagged user, and relay still refused.
    let (ok, out) = py_send(port, "s@elsewhere.test", &["staff+x@a.test"], "alias-2");
    assert!(ok, "{out}");
    find_one(&a, "bob", "alias-2");
    let (ok, out) = py_send(port, "s@elsewhere.test", &["nobody+x@a.test"], "alias-3");
    assert!(!ok && out.contains("550"), "{out}");
    let (ok, out) = py_send(port, "s@elsewhere.test", &["carol@b.test"], "alias-4");
    assert!(!ok && out.contains("Relay access denied"), "{out}");
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts two mailservers"]
fn vacation_reply_once_and_never_to_a_list() {
    if !have("python3") {
        return;
    }
    let dir = scratch("vacation");
    let a_data = dir.join("a");
    std::fs::create_dir_all(a_data.join("mailboxes/demo")).unwrap();
    std::fs::write(
        a_data.join("mailboxes/demo/vacation.toml"),
        "subject = \"Away\"\nstart = \"2000-01-01\"\ntext = \"\"\"\nI am away.\n\"\"\"\n",
    )
    .unwrap();
    let (a, b) = two_instances(&dir, &a_data, &[]);
    let port = a.smtp().port();
    let (ok, out) = py_send(port, "carol@b.test", &["demo@a.test"], "vac-1");
    assert!(ok, "{out}");
    let reply = b.wait_one(
        "carol",
        Duration::from_secs(30),
        &format!("the reply\nA:\n{}", a.log()),
    );
    let unfolded = reply.replace("\r\n ", " ").replace("\r\n\t", " ");
    for want in [
        "Return-Path: <>\r\n",
        "Auto-Submitted: auto-replied\r\n",
        "In-Reply-To: <vac-1@client.test>\r\n",
        "Subject: Away\r\n",
        "From: demo@a.test\r\n",
        "To: carol@b.test\r\n",
        "I am away.\r\n",
    ] {
        assert!(unfolded.contains(want), "{want:?} in\n{reply}");
    }
    // The same sender again: no second reply within 7 days.
    let (ok, out) = py_send(port, "carol@b.test", &["demo@a.test"], "vac-2");
    assert!(ok, "{out}");
    assert!(
        wait_log(&a, "answered within 7 days", Duration::from_secs(10)),
        "{}",
        a.log()
    );
    // A list post from another sender: none either (RFC 3834 §2).
    let (ok, out) = py_send_with(
        port,
        "dave@b.test",
        &["demo@a.test"],
        "vac-3",
        &["List-Id: <team.b.test>"],
    );
    assert!(ok, "{out}");
    assert!(
        wait_log(&a, "mailing list", Duration::from_secs(10)),
        "{}",
        a.log()
    );
    // Nor to the null sender.
    let (ok, out) = py_send(port, "", &["demo@a.test"], "vac-4");
    assert!(ok, "{out}");
    assert!(
        wait_log(&a, "null sender", Duration::from_secs(10)),
        "{}",
        a.log()
    );
    assert_eq!(a.wait_messages("demo", 4, Duration::from_secs(10)).len(), 4);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(b.messages("carol").len(), 1, "one reply only\n{}", a.log());
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts two mailservers"]
fn forward_file_with_srs_bounce_back_and_hop_limit() {
    if !have("python3") {
        return;
    }
    let dir = scratch("forward");
    let a_data = dir.join("a");
    std::fs::create_dir_all(a_data.join("mailboxes/alice")).unwrap();
    std::fs::write(
        a_data.join("mailboxes/alice/forward"),
        "# on the road\nkeep\ncarol@b.test\n",
    )
    .unwrap();
    let (a, b) = two_instances(&dir, &a_data, &["--user", "alice:pa"]);
    let port = a.smtp().port();
    let (ok, out) = py_send(port, "carol@b.test", &["alice@a.test"], "fwd-1");
    assert!(ok, "{out}");
    // The kept copy has the original sender...
    let kept = String::from_utf8(find_one(&a, "alice", "fwd-1")).unwrap();
    assert!(
        kept.starts_with("Return-Path: <carol@b.test>\r\n"),
        "{kept}"
    );
    // ...the forwarded one an SRS sender of a.test.
    let fwd = b.wait_one(
        "carol",
        Duration::from_secs(30),
        &format!("forwarded\nA:\n{}", a.log()),
    );
    let rp = fwd
        .strip_prefix("Return-Path: <")
        .and_then(|r| r.split_once('>'))
        .map(|(a, _)| a.to_string())
        .unwrap();
    assert!(
        rp.starts_with("SRS0=") && rp.ends_with("=b.test=carol@a.test"),
        "{rp}"
    );
    assert!(fwd.contains("fwd-1"));

    // A bounce to the SRS address goes back to the original sender.
    let (ok, out) = py_send(port, "", &[&rp], "bounce-1");
    assert!(ok, "{out}\n{}", a.log());
    let got = b.wait_messages("carol", 2, Duration::from_secs(30));
    assert_eq!(
        got.len(),
        2,
        "bounce relayed\nA:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
    // A forged or unknown one is refused.
    let forged = rp.replacen("=b.test=", "=evil.test=", 1);
    let (ok, out) = py_send(port, "", &[&forged], "bounce-2");
    assert!(!ok && out.contains("550"), "{out}");

    // A message that has been round too often is refused (a mail loop).
    let received: Vec<String> = (0..51)
        .map(|i| {
            format!(
                "Received: from hop{i}.test by hop{}.test; Thu, 1 Jan 2026 00:00:00 +0000",
                i + 1
            )
        })
        .collect();
    let fields: Vec<&str> = received.iter().map(String::as_str).collect();
    let (ok, out) = py_send_with(port, "x@b.test", &["alice@a.test"], "loop-1", &fields);
    assert!(!ok && out.contains("554"), "{out}");
    assert!(a.log().contains("mail loop"), "{}", a.log());
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts two mailservers"]
fn delivered_to_added_and_a_message_coming_back_bounced() {
    if !have("python3") {
        return;
    }
    let dir = scratch("delivered-to");
    let a_data = dir.join("a");
    std::fs::create_dir_all(a_data.join("mailboxes/alice")).unwrap();
    std::fs::write(
        a_data.join("mailboxes/alice/forward"),
        "keep\ncarol@b.test\n",
    )
    .unwrap();
    let (a, b) = two_instances(&dir, &a_data, &["--user", "alice:pa", "--user", "dave:pd"]);
    let port = a.smtp().port();
    // The kept copy and the forwarded one name alice in Delivered-To.
    let (ok, out) = py_send(port, "carol@b.test", &["alice@a.test"], "dt-1");
    assert!(ok, "{out}");
    let kept = String::from_utf8(find_one(&a, "alice", "dt-1")).unwrap();
    assert!(
        kept.starts_with("Return-Path: <carol@b.test>\r\nDelivered-To: alice@a.test\r\n"),
        "{kept}"
    );
    let fwd = b.wait_one(
        "carol",
        Duration::from_secs(30),
        &format!("forwarded\nA:\n{}", a.log()),
    );
    assert!(fwd.contains("\r\nDelivered-To: alice@a.test\r\n"), "{fwd}");

    // The message comes round again (as carol's forward file would send
    // it): alice does not get it, the sender gets a DSN; dave gets it.
    let (ok, out) = py_send_with(
        port,
        "carol@b.test",
        &["alice@a.test", "dave@a.test"],
        "dt-2",
        &["Delivered-To: Alice@a.test"],
    );
    assert!(ok, "{out}");
    let copy = String::from_utf8(find_one(&a, "dave", "dt-2")).unwrap();
    assert!(copy.contains("Delivered-To: Alice@a.test"), "{copy}");
    let got = b.wait_messages("carol", 2, Duration::from_secs(30));
    assert_eq!(got.len(), 2, "bounce\nA:\n{}\nB:\n{}", a.log(), b.log());
    let dsn = got
        .iter()
        .map(|p| String::from_utf8(std::fs::read(p).unwrap()).unwrap())
        .find(|m| m.contains("multipart/report"))
        .unwrap();
    for want in [
        "Final-Recipient: rfc822; alice@a.test",
        "Action: failed",
        "Status: 5.4.6",
        "Subject: dt-2",
    ] {
        assert!(dsn.contains(want), "{want}\n{dsn}");
    }
    assert!(a.log().contains("mail loop (Delivered-To)"), "{}", a.log());
    assert!(a.log().contains("bounce id="), "{}", a.log());
    assert_eq!(
        a.messages("alice")
            .iter()
            .filter(|p| std::fs::read_to_string(p).unwrap().contains("dt-2"))
            .count(),
        0
    );
    // Nothing forwarded from alice this time.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(b.messages("carol").len(), 2);
}

/// Sends the messages of a JSON list `[{"from", "mail": [MAIL options],
/// "rcpts": [[address, [RCPT options]]], "msg"}]` in one session; prints
/// whether EHLO offered DSN.
const PY_DSN: &str = r#"
import smtplib, sys, json
port, spec = int(sys.argv[1]), json.loads(sys.argv[2])
c = smtplib.SMTP("127.0.0.1", port)
c.ehlo("client.test")
print("dsn", c.has_extn("dsn"))
for m in spec:
    code, text = c.mail(m["from"], m["mail"])
    assert code == 250, (code, text)
    for r, opts in m["rcpts"]:
        code, text = c.rcpt(r, opts)
        assert code == 250, (code, text)
    code, text = c.data(m["msg"].encode())
    assert code == 250, (code, text)
c.quit()
"#;

/// The reports (multipart/report) among `user`'s messages at `server`.
fn reports(server: &MailServer, user: &str) -> Vec<String> {
    server
        .messages(user)
        .iter()
        .map(|p| String::from_utf8(std::fs::read(p).unwrap()).unwrap())
        .filter(|m| m.contains("multipart/report"))
        .collect()
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts two mailservers"]
fn dsn_notify_ret_envid_orcpt_with_smtplib() {
    if !have("python3") {
        return;
    }
    if !have("smtp-sink") {
        return;
    }
    let dir = scratch("dsn");
    // A server without DSN (smtp-sink -N) for c.test.
    let (_sink, sink_addr) = start_smtp_sink(&["-u", "nobody", "-N"]);
    let a_data = dir.join("a");
    std::fs::create_dir_all(a_data.join("mailboxes/dave")).unwrap();
    std::fs::write(a_data.join("mailboxes/dave/forward"), "carol@b.test\n").unwrap();
    let sink_route = format!("c.test={sink_addr}");
    let (a, b) = two_instances(
        &dir,
        &a_data,
        &[
            "--user",
            "alice:pa",
            "--user",
            "dave:pd",
            "--alias",
            "sunk@a.test=x@c.test",
            "--route",
            &sink_route,
        ],
    );
    let spec = r#"[
      {"from": "carol@b.test", "mail": ["RET=HDRS", "ENVID=QQ+2B314159"],
       "rcpts": [["alice@a.test", ["NOTIFY=SUCCESS", "ORCPT=rfc822;Alice@a.test"]]],
       "msg": "Subject: dsn-1\r\n\r\nbody one\r\n"},
      {"from": "carol@b.test", "mail": ["ENVID=fwd"],
       "rcpts": [["dave@a.test", ["NOTIFY=SUCCESS,FAILURE"]]],
       "msg": "Subject: dsn-2\r\n\r\nbody two\r\n"},
      {"from": "carol@b.test", "mail": ["ENVID=sunk"],
       "rcpts": [["sunk@a.test", ["NOTIFY=SUCCESS"]]],
       "msg": "Subject: dsn-5\r\n\r\nbody five\r\n"},
      {"from": "carol@b.test", "mail": [],
       "rcpts": [["alice@a.test", ["NOTIFY=NEVER"]]],
       "msg": "Delivered-To: alice@a.test\r\nSubject: dsn-3\r\n\r\nbody three\r\n"},
      {"from": "carol@b.test", "mail": ["RET=FULL"],
       "rcpts": [["alice@a.test", ["NOTIFY=FAILURE"]]],
       "msg": "Delivered-To: alice@a.test\r\nSubject: dsn-4\r\n\r\nbody four\r\n"}
    ]"#;
    let (ok, out) =
        run(Command::new("python3").args(["-c", PY_DSN, &a.smtp().port().to_string(), spec]));
    assert!(ok && out.contains("dsn True"), "{out}\n{}", a.log());
    // Forwarded dsn-2, and three reports: delivered (dsn-1), relayed
    // (dsn-5, to the server without DSN), failed (dsn-4); none for dsn-3
    // (NOTIFY=NEVER), and none from A for dsn-2: B offers DSN, the
    // parameters went on, B sent its own notice (to the SRS sender, which
    // B has no route for: its log shows it).
    let got = b.wait_messages("carol", 4, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    let got_now = b.messages("carol");
    assert_eq!(
        got_now.len(),
        4,
        "{got:?}\nA:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
    let reps = reports(&b, "carol");
    assert_eq!(reps.len(), 3, "{reps:?}");
    let one = |action: &str| {
        reps.iter()
            .find(|r| r.contains(&format!("Action: {action}\r\n")))
            .unwrap_or_else(|| panic!("no {action} report: {reps:?}"))
            .clone()
    };
    let delivered = one("delivered");
    for want in [
        "Original-Envelope-Id: QQ+314159",
        "Original-Recipient: rfc822;Alice@a.test",
        "Final-Recipient: rfc822; alice@a.test",
        "Status: 2.0.0",
        "Subject: dsn-1",
    ] {
        assert!(delivered.contains(want), "{want}\n{delivered}");
    }
    assert!(!delivered.contains("body one"), "{delivered}");
    let relayed = one("relayed");
    for want in [
        "Original-Envelope-Id: sunk",
        "Final-Recipient: rfc822; x@c.test",
        "Subject: dsn-5",
    ] {
        assert!(relayed.contains(want), "{want}\n{relayed}");
    }
    let failed = one("failed");
    for want in ["Status: 5.4.6", "message/rfc822", "body four"] {
        assert!(failed.contains(want), "{want}\n{failed}");
    }
    assert!(
        !reps
            .iter()
            .any(|r| r.contains("dsn-3") || r.contains("dsn-2"))
    );
    assert!(
        wait_log(&b, "bounce id=", Duration::from_secs(10)),
        "B's notice for dsn-2\n{}",
        b.log()
    );
    assert!(!find_one(&b, "carol", "body two").is_empty());
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts a mailserver"]
fn dsn_delay_notice_once_after_the_delay_warning_time() {
    if !have("python3") {
        return;
    }
    let dir = scratch("dsn-delay");
    // c.test goes to a port nobody listens on: every attempt fails.
    let closed = free_port();
    let route = format!("c.test={closed}");
    let a = MailServer::start(
        &dir.join("a"),
        &[
            "--domain",
            "a.test",
            "--user",
            "alice:pa",
            "--alias",
            "away@a.test=x@c.test",
            "--route",
            &route,
            "--retry",
            "1s",
            "--delay-warning",
            "2s",
        ],
    );
    let spec = r#"[
      {"from": "alice@a.test", "mail": ["ENVID=wait"],
       "rcpts": [["away@a.test", ["NOTIFY=DELAY,FAILURE", "ORCPT=rfc822;away@a.test"]]],
       "msg": "Subject: dsn-delay\r\n\r\nwaiting\r\n"}
    ]"#;
    let (ok, out) =
        run(Command::new("python3").args(["-c", PY_DSN, &a.smtp().port().to_string(), spec]));
    assert!(ok, "{out}\n{}", a.log());
    let r = a.wait_one("alice", Duration::from_secs(20), "the delay notice");
    for want in [
        "Action: delayed",
        "Final-Recipient: rfc822; x@c.test",
        "Original-Recipient: rfc822;away@a.test",
        "Original-Envelope-Id: wait",
        "Subject: Delayed Mail",
        "Subject: dsn-delay",
    ] {
        assert!(r.contains(want), "{want}\n{r}");
    }
    // Once per message, while the retries go on.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(a.messages("alice").len(), 1, "{}", a.log());
    assert!(a.log().matches("attempt=").count() >= 3, "{}", a.log());
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts two mailservers"]
fn parallel_runner_slow_destination_does_not_hold_the_others() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    if !have("python3") {
        return;
    }
    // A destination that accepts connections and never says a word.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    hole.set_nonblocking(true).unwrap();
    let hole_addr = hole.local_addr().unwrap();
    let (held, stop) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let holder = {
        let (held, stop) = (held.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut socks = Vec::new();
            // Bounded: until the test ends, at most two minutes.
            let end = std::time::Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::SeqCst) && std::time::Instant::now() < end {
                match hole.accept() {
                    Ok((s, _)) => {
                        socks.push(s);
                        held.store(socks.len(), Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
    };
    let dir = scratch("runner");
    let slow_route = format!("slow.test={hole_addr}");
    let (a, b) = two_instances(
        &dir,
        &dir.join("a"),
        &[
            "--route",
            &slow_route,
            "--alias",
            "slow@a.test=x@slow.test",
            "--alias",
            "far@a.test=carol@b.test",
            "--max-per-destination",
            "2",
        ],
    );
    let port = a.smtp().port();
    for i in 0..3 {
        let (ok, out) = py_send(port, "s@c.test", &["slow@a.test"], &format!("slow-{i}"));
        assert!(ok, "{out}");
    }
    let end = std::time::Instant::now() + Duration::from_secs(15);
    while held.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        held.load(Ordering::SeqCst),
        2,
        "two deliveries to slow.test hang"
    );
    // Mail for another destination still goes out at once.
    let t = std::time::Instant::now();
    let (ok, out) = py_send(port, "s@c.test", &["far@a.test"], "fast-1");
    assert!(ok, "{out}");
    let got = b.wait_messages("carol", 1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "delivered past the slow one\nA:\n{}", a.log());
    eprintln!(
        "delivered to b.test {:?} after submission, slow.test hanging",
        t.elapsed()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        held.load(Ordering::SeqCst),
        2,
        "never more than two connections to one destination"
    );
    stop.store(true, Ordering::SeqCst);
    holder.join().unwrap();
}

/// The value of a header field of a stored message (first occurrence).
fn field(msg: &str, name: &str) -> Option<String> {
    msg.split("\r\n\r\n").next()?.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts two mailservers"]
fn mailing_list_post_members_only_confirmed_unsubscribe_and_bounces() {
    if !have("python3") {
        return;
    }
    let dir = scratch("list");
    let members = dir.join("team.members");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&members, "alice@a.test\ncarol@b.test\n").unwrap();
    let list = format!("team@a.test={}", members.display());
    let (a, b) = two_instances(
        &dir,
        &dir.join("a"),
        &["--user", "alice:pa", "--list", &list],
    );
    let port = a.smtp().port();

    // A member's post reaches every member with the list fields.
    let (ok, out) = py_send(port, "carol@b.test", &["team@a.test"], "list-1");
    assert!(ok, "{out}");
    let mine = String::from_utf8(find_one(&a, "alice", "list-1")).unwrap();
    let got = b.wait_messages("carol", 1, Duration::from_secs(30));
    assert_eq!(got.len(), 1, "the post at b.test\nA:\n{}", a.log());
    let theirs = String::from_utf8(std::fs::read(&got[0]).unwrap()).unwrap();
    for (copy, member) in [(&mine, "alice=a.test"), (&theirs, "carol=b.test")] {
        assert_eq!(
            field(copy, "List-Id").as_deref(),
            Some("<team.a.test>"),
            "{copy}"
        );
        assert_eq!(
            field(copy, "List-Post").as_deref(),
            Some("<mailto:team@a.test>")
        );
        assert_eq!(
            field(copy, "List-Unsubscribe").as_deref(),
            Some("<mailto:team-request@a.test?subject=unsubscribe>")
        );
        assert_eq!(
            field(copy, "Return-Path"),
            Some(format!("<team-bounces+{member}@a.test>")),
            "VERP envelope sender"
        );
    }

    // A non-member may not post.
    let (ok, out) = py_send(port, "dave@c.test", &["team@a.test"], "list-2");
    assert!(
        !ok && out.contains("posting restricted to members"),
        "{out}"
    );

    // Unsubscribing takes a confirmation from the address itself.
    let (ok, out) = py_send_subject(port, "carol@b.test", "team-request@a.test", "unsubscribe");
    assert!(ok, "{out}");
    let got = b.wait_messages("carol", 2, Duration::from_secs(30));
    let ask = got
        .iter()
        .map(|p| String::from_utf8(std::fs::read(p).unwrap()).unwrap())
        .find(|m| field(m, "Subject").is_some_and(|s| s.starts_with("confirm ")))
        .expect("the confirmation request");
    assert!(
        std::fs::read_to_string(&members)
            .unwrap()
            .contains("carol@b.test")
    );
    // A made-up token does nothing...
    let (ok, _) = py_send_subject(
        port,
        "carol@b.test",
        "team-request@a.test",
        "confirm 0123456789abcdef",
    );
    assert!(ok);
    assert!(wait_log(
        &a,
        "wrong or stale confirmation",
        Duration::from_secs(10)
    ));
    assert!(
        std::fs::read_to_string(&members)
            .unwrap()
            .contains("carol@b.test")
    );
    // ...the right one, answered as a reply, does.
    let subject = format!("Re: {}", field(&ask, "Subject").unwrap());
    let (ok, out) = py_send_subject(port, "carol@b.test", "team-request@a.test", &subject);
    assert!(ok, "{out}");
    assert!(
        wait_log(&a, "unsubscribed", Duration::from_secs(10)),
        "{}",
        a.log()
    );
    assert_eq!(std::fs::read_to_string(&members).unwrap(), "alice@a.test\n");

    // A post over 10 MiB is refused whole.
    let (ok, out) = run(Command::new("python3").args([
        "-c",
        PY_BIG,
        &port.to_string(),
        "alice@a.test",
        "team@a.test",
        &(11usize << 20).to_string(),
    ]));
    assert!(!ok && out.contains("552"), "{out}");

    // A bounce of a member's copy is counted.
    let (ok, out) = py_send(port, "", &["team-bounces+alice=a.test@a.test"], "bounce-1");
    assert!(ok, "{out}");
    assert!(
        wait_log(&a, "bounce 1 of <alice@a.test>", Duration::from_secs(10)),
        "{}",
        a.log()
    );
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts two mailservers"]
fn deferred_mail_of_a_destination_goes_when_it_takes_mail_again() {
    if !have("python3") {
        return;
    }
    let dir = scratch("wake");
    // b.test is down (nothing listens on its port) and retried hourly.
    let b_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let route = format!("b.test={b_addr}");
    let a = MailServer::start(
        &dir.join("a"),
        &[
            "--domain",
            "a.test",
            "--route",
            &route,
            "--retry",
            "1h",
            "--alias",
            "far@a.test=carol@b.test",
        ],
    );
    let port = a.smtp().port();
    for i in 0..2 {
        let (ok, out) = py_send(port, "s@c.test", &["far@a.test"], &format!("wait-{i}"));
        assert!(ok, "{out}");
    }
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while a.log().matches("deferred=1").count() < 2 && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(a.log().matches("deferred=1").count(), 2, "{}", a.log());
    // b.test comes up; the next message goes at once, and takes the two
    // deferred ones with it instead of leaving them for an hour.
    let b_port = b_addr.to_string();
    let b = MailServer::start(
        &dir.join("b"),
        &[
            "--domain", "b.test", "--user", "carol:pc", "--smtp", &b_port,
        ],
    );
    let (ok, out) = py_send(port, "s@c.test", &["far@a.test"], "now-1");
    assert!(ok, "{out}");
    let got = b.wait_messages("carol", 3, Duration::from_secs(20));
    assert_eq!(got.len(), 3, "A:\n{}\nB:\n{}", a.log(), b.log());
    assert!(a.log().contains("retried now"), "{}", a.log());
}

/// One message with an `MT-Priority:` field: argv port, `auth` or not,
/// recipient, the field's value, the MT-PRIORITY parameter (or empty).
const PY_PRIORITY_FIELD: &str = r#"
import smtplib, sys
port, auth, to, value, param = int(sys.argv[1]), sys.argv[2] == "auth", sys.argv[3], sys.argv[4], sys.argv[5]
c = smtplib.SMTP("127.0.0.1", port)
if auth:
    c.login("alice", "pa")
opts = ["MT-PRIORITY=" + param] if param else []
c.sendmail("alice@a.test", [to], "MT-Priority: %s\r\nSubject: prio\r\n\r\nprio\r\n" % value, mail_options=opts)
c.quit()
"#;

/// The log line of the message accepted for `rcpt` alone.
fn accepted_line(server: &MailServer, rcpt: &str) -> String {
    let needle = format!("rcpts=<{rcpt}> ");
    server
        .log()
        .lines()
        .find(|l| l.contains(&needle))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no line for {rcpt}:\n{}", server.log()))
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts two mailservers"]
fn mt_priority_field_of_an_authenticated_submission_is_its_priority() {
    if !have("python3") {
        return;
    }
    let dir = scratch("prio-field");
    let (a, b) = two_instances(
        &dir,
        &dir.join("a"),
        &[
            "--user", "alice:pa", "--user", "bob:pb", "--user", "dave:pd", "--user", "erin:pe",
        ],
    );
    let submission = a.submission().port();
    let mta = a.smtp().port();
    for (port, auth, to, value, param) in [
        (submission, "auth", "carol@b.test", "-9", ""),
        (submission, "auth", "bob@a.test", "9", ""),
        (mta, "anonymous", "dave@a.test", "-9", ""),
        (submission, "auth", "erin@a.test", "-9", "0"),
    ] {
        let (ok, out) = run(Command::new("python3").args([
            "-c",
            PY_PRIORITY_FIELD,
            &port.to_string(),
            auth,
            to,
            value,
            param,
        ]));
        assert!(ok, "{to}: {out}");
    }
    // RFC 6710 §9 field, no parameter, after AUTH: MIXER's level of it,
    // kept through the queue (B gets MT-PRIORITY=-4).
    assert!(accepted_line(&a, "carol@b.test").contains(" priority=-4 "));
    assert!(
        wait_log(&b, "priority=-4", Duration::from_secs(30)),
        "A:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
    assert!(accepted_line(&a, "bob@a.test").contains(" priority=4 "));
    assert!(
        a.log()
            .contains("priority 4 from the MT-Priority field (9)")
    );
    // Without AUTH the field means nothing; the parameter wins over it.
    assert!(!accepted_line(&a, "dave@a.test").contains("priority="));
    assert!(accepted_line(&a, "erin@a.test").contains(" priority=0 "));
}

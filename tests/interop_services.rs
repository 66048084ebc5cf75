//! Interop tests of the mailserver example's services (issue 15) with a
//! real client (Python's smtplib): aliases, local and remote (the remote
//! target is a second instance behind `--route`), and plus-addressing.
//!
//! Run them with `cargo test --release -p mailwire --test interop_services
//! -- --ignored --test-threads=1` after `bash .ci/install-peers`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const PY_SEND: &str = r#"
import smtplib, sys
port, sender, rcpts, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(","), sys.argv[4]
c = smtplib.SMTP("127.0.0.1", port)
c.ehlo("client.test")
refused = c.sendmail(sender, rcpts, "Subject: %s\r\nFrom: <%s>\r\n\r\nhello %s\r\n" % (marker, sender, marker))
c.quit()
print("refused", refused)
"#;

fn py_send(port: u16, from: &str, rcpts: &[&str], marker: &str) -> (bool, String) {
    run(Command::new("python3").args([
        "-c",
        PY_SEND,
        &port.to_string(),
        from,
        &rcpts.join(","),
        marker,
    ]))
}

#[test]
#[ignore = "interop: needs python3 (bash .ci/install-peers); starts two mailservers"]
fn aliases_and_plus_addressing_with_smtplib() {
    if !have("python3") {
        return;
    }
    let dir = scratch("aliases");
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
    let a = MailServer::start(
        &dir.join("a"),
        &[
            "--domain",
            "a.test",
            "--hostname",
            "mx.a.test",
            "--user",
            "alice:pa",
            "--user",
            "bob:pb",
            "--route",
            &route,
            "--alias",
            "team@a.test=alice@a.test,staff@a.test",
            "--alias",
            "staff@a.test=bob@a.test,carol@b.test",
        ],
    );
    let port = a.smtp().port();
    // One transaction: the nested alias and alice's tagged address; alice
    // gets one copy, bob one, carol (remote) one.
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
    assert!(
        fwd.starts_with("Return-Path: <sender@elsewhere.test>"),
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

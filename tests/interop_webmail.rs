//! Interop: the mailserver's webmail in a real browser. Debian's headless
//! Chromium, driven by Playwright for Python (`tests/webmail/*.py`), logs
//! in, sees new mail arrive without a reload, reads, downloads, replies
//! (checked over IMAP at the other account), moves and deletes; and the
//! security script checks that a hostile HTML message runs no script and
//! reaches no other origin, that CSRF tokens and accounts are enforced,
//! and that a wrong password is refused. Screenshots go to
//! `target/webmail-screenshots/`.
//!
//! `#[ignore]`d: run with `cargo test -p mailwire --test interop_webmail -- --ignored`
//! after `bash .ci/install-peers` (chromium, python3-playwright). A missing
//! browser or module skips the test, or fails it when `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{MailServer, ci, have_python_module, scratch};

/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether the browser and Playwright are there (see `common::have`).
fn browser_ready() -> bool {
    if !Path::new(CHROMIUM).exists() {
        assert!(
            !ci(),
            "{CHROMIUM} is missing (CI=true): run bash .ci/install-peers"
        );
        eprintln!("SKIP: {CHROMIUM} is not installed (bash .ci/install-peers installs it)");
        return false;
    }
    have_python_module("playwright")
}

/// `target/webmail-screenshots` (of the target directory this test was
/// built in).
fn screenshots() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // .../target/<profile>/deps/interop_webmail-HASH
    exe.ancestors().nth(3).unwrap().join("webmail-screenshots")
}

/// Starts the mailserver with two accounts and runs one browser script
/// against its webmail; fails with the script's output when it fails.
fn run_script(script: &str) {
    if !browser_ready() {
        return;
    }
    let data = scratch("webmail");
    // The scripts send from sender@example.org; its SPF record (from a
    // local DNS responder) passes 127.0.0.1, which is checked here
    // (`--trusted-networks none`), and its DMARC policy passes mail From
    // example.org on that, so the message view has results to show.
    let mut records = std::collections::HashMap::new();
    records.insert(
        ("example.org".to_string(), 16),
        vec![common::dns::Rr::Txt("v=spf1 ip4:127.0.0.0/8 -all")],
    );
    records.insert(
        ("_dmarc.example.org".to_string(), 16),
        vec![common::dns::Rr::Txt("v=DMARC1; p=reject")],
    );
    let dns = common::dns::TinyDns::start(records);
    let dns_addr = dns.addr.to_string();
    let srv = MailServer::start(
        &data,
        &[
            "--user",
            "alice:alice-secret",
            "--user",
            "bob:bob-secret",
            "--domain",
            "example.test",
            "--dns",
            &dns_addr,
            "--trusted-networks",
            "none",
            // The folder page shows the storage against it.
            "--quota",
            "1G",
        ],
    );
    let http = srv.http.expect("the banner gives the webmail's address");
    let smtp = srv.smtp();
    let imap = srv.imap.expect("imap port");
    let out = Command::new("python3")
        .arg(common::repo().join("tests/webmail").join(script))
        .current_dir(common::repo().join("tests/webmail"))
        // No __pycache__ left in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("WEBMAIL_URL", format!("http://{http}"))
        .env("SMTP_HOST", smtp.ip().to_string())
        .env("SMTP_PORT", smtp.port().to_string())
        .env("IMAP_HOST", imap.ip().to_string())
        .env("IMAP_PORT", imap.port().to_string())
        .env("SUBMISSION_HOST", srv.submission().ip().to_string())
        .env("SUBMISSION_PORT", srv.submission().port().to_string())
        .env("POP3_HOST", srv.listener("pop3").ip().to_string())
        .env("POP3_PORT", srv.listener("pop3").port().to_string())
        .env("ALICE", "alice")
        .env("ALICE_PW", "alice-secret")
        .env("BOB", "bob")
        .env("BOB_PW", "bob-secret")
        .env("DOMAIN", "example.test")
        .env("CHROMIUM", CHROMIUM)
        .env("SCREENSHOTS", screenshots())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("PASS"),
        "{script} failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        srv.log()
    );
}

#[test]
#[ignore = "interop: headless Chromium with Playwright against the webmail"]
fn webmail_functional() {
    run_script("functional.py");
}

#[test]
#[ignore = "interop: headless Chromium with Playwright against the webmail"]
fn webmail_security() {
    run_script("security.py");
}

/// `--https`: the webmail over TLS with the server's certificate (the
/// self-signed one here), its cookies `Secure`; the session outlives a
/// restart of the server until it logs out. Checked with curl.
#[test]
#[ignore = "interop: curl against the webmail over HTTPS"]
fn webmail_https() {
    if !common::have("curl") {
        return;
    }
    let data = scratch("webmail-https");
    let mut srv = MailServer::start(&data, &["--https", "127.0.0.1:0", "--no-http"]);
    assert!(srv.http.is_none(), "--no-http: no HTTP listener");
    let https = |srv: &MailServer| {
        srv.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("https"))
            .and_then(|l| l.split_whitespace().nth(2))
            .expect("the banner gives the HTTPS address")
            .to_string()
    };
    let addr = https(&srv);
    let url = format!("https://{addr}/login");
    let jar = data.with_extension("cookies");
    let jar = jar.to_str().unwrap();
    let page = data.with_extension("login.html");
    let page = page.to_str().unwrap();
    let out = Command::new("curl")
        .args([
            "-sk",
            "--max-time",
            "10",
            "-c",
            jar,
            "-D",
            "-",
            "-o",
            page,
            &url,
        ])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let cookie = head
        .lines()
        .find(|l| l.starts_with("set-cookie: wm_login="))
        .expect("the log-in form's cookie");
    for attr in ["httponly", "samesite=strict", "secure"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    // Log in over HTTPS: the session cookie is Secure too.
    let html = std::fs::read_to_string(page).unwrap();
    let token = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the form's token");
    let out = Command::new("curl")
        .args([
            "-sk",
            "--max-time",
            "10",
            "-b",
            jar,
            "-c",
            jar,
            "-D",
            "-",
            "-o",
            "/dev/null",
        ])
        .args([
            "--data",
            &format!("user=demo&password=demo&csrf={token}"),
            &url,
        ])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 303"), "{head}");
    let session = head
        .lines()
        .find(|l| l.starts_with("set-cookie: wm_session="))
        .expect("a session cookie");
    assert!(
        session.contains("; secure") && session.contains("httponly"),
        "{session}"
    );
    // Plain HTTP on the TLS port gets no page.
    let plain = Command::new("curl")
        .args(["-s", "--max-time", "5", &format!("http://{addr}/login")])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("<form"));
    // The session outlives a restart (even a SIGKILL): the same cookie
    // still opens the mailbox, and the log-out then ends it.
    srv.restart();
    let addr = https(&srv);
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10", "-b", jar, "-D", "-"])
        .arg(format!("https://{addr}/mail"))
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.to_ascii_lowercase().starts_with("http/1.1 200"),
        "logged out by the restart:\n{page}\n{}",
        srv.log()
    );
    let token = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the page's log-out form and its token")
        .to_string();
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10", "-b", jar, "-o", "/dev/null"])
        .args(["-w", "%{http_code}", "--data", &format!("csrf={token}")])
        .arg(format!("https://{addr}/logout"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "303");
    srv.restart();
    let addr2 = https(&srv);
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10", "-b", jar, "-o", "/dev/null"])
        .args(["-w", "%{http_code} %{redirect_url}"])
        .arg(format!("https://{addr2}/mail"))
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.starts_with("303") && answer.ends_with("/login"),
        "{answer}"
    );
}

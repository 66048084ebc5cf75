//! Interop tests of the mailserver example's list mail with RFC 8058
//! one-click unsubscription and DKIM (RFC 6376, RFC 8463): Python's
//! `dkimpy` (with `pynacl` for Ed25519) verifies a list post as a member
//! received it, with both an RSA and an Ed25519 key; curl makes the
//! one-click POST to the URL of the received `List-Unsubscribe` field.
//!
//! Run them with `cargo test --release -p mailwire --test interop_dkim
//! -- --ignored --test-threads=1` after `bash .ci/install-peers`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// Sends a post from the MTA port.
const PY_POST: &str = r#"
import smtplib, sys
port, sender, rcpt, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = smtplib.SMTP("127.0.0.1", port)
msg = ("From: Alice <%s>\r\nTo: <%s>\r\nSubject: post %s\r\nDate: Fri, 4 Dec 2026 10:00:00 +0000\r\n"
       "Message-ID: <%s@a.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "\r\nhello  %s \r\n\r\n\r\n") % (sender, rcpt, marker, marker, marker)
c.sendmail(sender, [rcpt], msg)
c.quit()
"#;

/// Sends `post MARKER` from alice@a.test to `to` on the MTA port `port`.
fn post_from_alice(port: u16, to: &str, marker: &str) {
    let (ok, out) = run(Command::new("python3").args([
        "-c",
        PY_POST,
        &port.to_string(),
        "alice@a.test",
        to,
        marker,
    ]));
    assert!(ok, "{out}");
}

/// Verifies every DKIM signature of the message in argv[1] with the DNS
/// records given as `NAME=RECORD` arguments; prints one line per signature
/// (`ok ALGORITHM H-TAG` or `bad ...`), then the result for a copy with
/// the List-Unsubscribe-Post field changed (if there is one) and one with
/// the body changed.
const PY_VERIFY: &str = r#"
import sys, dkim
msg = open(sys.argv[1], "rb").read()
records = dict(a.split("=", 1) for a in sys.argv[2:])
def dns(name, timeout=5):
    return records.get(name.decode().rstrip("."), "").encode() or None
def check(m):
    d = dkim.DKIM(m)
    sigs = [v for (k, v) in d.headers if k.lower() == b"dkim-signature"]
    out = []
    for i, s in enumerate(sigs):
        tags = dkim.util.parse_tag_value(s)
        try:
            ok = d.verify(idx=i, dnsfunc=dns)
        except dkim.DKIMException:
            ok = False
        out.append("%s %s %s" % ("ok" if ok else "bad", tags[b"a"].decode(), b"".join(tags[b"h"].split()).decode().lower()))
    return out
for line in check(msg):
    print(line)
tampered = msg.replace(b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Click")
if tampered != msg:
    print("header-tampered", " ".join(l.split()[0] for l in check(tampered)))
body = msg + b"one more line\r\n"
print("body-tampered", " ".join(l.split()[0] for l in check(body)))
"#;

/// Submits a message after AUTH (argv: port, user, password, From, To, marker).
const PY_SUBMIT: &str = r#"
import smtplib, sys
port, user, pw, frm, to, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
c = smtplib.SMTP("127.0.0.1", port)
c.login(user, pw)
c.sendmail(frm, [to], "From: <%s>\r\nTo: <%s>\r\nSubject: sub %s\r\n\r\nsubmitted %s\r\n" % (frm, to, marker, marker))
c.quit()
"#;

/// Submits `sub MARKER` from `from` to `to` as alice (password `pa`)
/// after AUTH on the submission port ([`PY_SUBMIT`]).
fn submit_as_alice(srv: &MailServer, from: &str, to: &str, marker: &str) {
    let port = srv.submission().port().to_string();
    let (ok, out) = run(
        Command::new("python3").args(["-c", PY_SUBMIT, &port, "alice", "pa", from, to, marker])
    );
    assert!(ok, "{out}");
}

/// dkimpy's lines for the message `raw` (see [`PY_VERIFY`]).
fn dkimpy(dir: &Path, raw: &[u8], records: &[String]) -> Vec<String> {
    let stored = dir.join("verify.eml");
    std::fs::write(&stored, raw).unwrap();
    let (ok, out) = run(Command::new("python3")
        .args(["-c", PY_VERIFY])
        .arg(&stored)
        .args(records));
    assert!(ok, "{out}");
    out.lines().map(str::to_string).collect()
}

/// An Ed25519 key made by `mailserver dkim-keygen` for `selector._domainkey.a.test`,
/// and its record as `NAME=RECORD`.
fn ed_key(dir: &Path, selector: &str) -> (std::path::PathBuf, String) {
    let ed = dir.join(format!("{selector}.pem"));
    let out = Command::new(example("mailserver"))
        .args(["dkim-keygen", "--domain", "a.test", "--selector", selector])
        .arg("--out")
        .arg(&ed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let (name, txt) = printed
        .trim()
        .split_once(". IN TXT ")
        .expect("a TXT record");
    assert_eq!(name, format!("{selector}._domainkey.a.test"));
    let record = txt.trim_matches('"').to_string();
    assert!(record.starts_with("v=DKIM1; k=ed25519; p="), "{record}");
    (ed, format!("{name}={record}"))
}

/// The unfolded value of the first `name` field of a message.
fn field(msg: &str, name: &str) -> Option<String> {
    let header = msg.split("\r\n\r\n").next()?;
    let unfolded = header.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// curl to the webmail (as `a.test`, its self-signed certificate not
/// verified); returns the status code and the body.
fn curl(https: SocketAddr, url: &str, args: &[&str]) -> (u16, String) {
    let resolve = format!("a.test:{}:127.0.0.1", https.port());
    let out = Command::new("curl")
        .args(["-sk", "--resolve", &resolve, "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// The RSA key (openssl) and its DNS record (`p=` the SubjectPublicKeyInfo).
fn rsa_key(dir: &Path) -> (String, String) {
    let key = dir.join("rsa.pem");
    let (ok, out) = run(Command::new("openssl").args([
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]));
    assert!(ok, "{out}");
    let der = Command::new("openssl")
        .args([
            "pkey",
            "-pubout",
            "-outform",
            "DER",
            "-in",
            key.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(der.status.success());
    use base64::Engine as _;
    let p = base64::engine::general_purpose::STANDARD.encode(der.stdout);
    (key.display().to_string(), format!("v=DKIM1; k=rsa; p={p}"))
}

#[test]
#[ignore = "interop: needs python3 with dkimpy and pynacl, curl, openssl (bash .ci/install-peers); starts a mailserver"]
fn list_post_dkim_verified_by_dkimpy_and_one_click_unsubscribe_with_curl() {
    if !have("python3")
        || !have("curl")
        || !have("openssl")
        || !have_python_module("dkim")
        || !have_python_module("nacl")
    {
        return;
    }
    let dir = scratch("dkim");
    let members = dir.join("team.members");
    std::fs::write(&members, "alice@a.test\nCarol@a.test\n").unwrap();

    // Keys: Ed25519 from the server's own dkim-keygen, RSA from openssl.
    let (ed, ed_record) = ed_key(&dir, "ed");
    let (rsa, rsa_record) = rsa_key(&dir);

    let list = format!("team@a.test={}", members.display());
    let dkim_ed = format!("a.test:ed:{}", ed.display());
    let dkim_rsa = format!("a.test:rsa:{rsa}");
    let srv = MailServer::start(
        &dir.join("data"),
        &[
            "--domain",
            "a.test",
            "--user",
            "alice:pa",
            "--user",
            "carol:pc",
            "--list",
            &list,
            "--https",
            "127.0.0.1:0",
            "--dkim",
            &dkim_rsa,
            "--dkim",
            &dkim_ed,
        ],
    );
    let https = srv.listener("https");
    let port = srv.smtp().port();
    let post = |marker: &str| post_from_alice(port, "team@a.test", marker);

    post("one");
    let raw = find_one(&srv, "carol", "post one");
    let copy = String::from_utf8(raw.clone()).unwrap();
    assert_eq!(
        field(&copy, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click"),
        "{copy}"
    );
    let unsub = field(&copy, "List-Unsubscribe").unwrap();
    let url = unsub
        .strip_prefix('<')
        .and_then(|u| u.split_once('>'))
        .map(|(u, _)| u.to_string())
        .unwrap();
    let prefix = format!("https://a.test:{}/unsubscribe/", https.port());
    assert!(url.starts_with(&prefix), "{url}");
    // The banner says where the URLs point, and which keys sign.
    assert!(
        srv.stdout.contains(&format!(
            "team@a.test; one-click unsubscribe (RFC 8058) at {prefix}"
        )) && srv.stdout.contains("dkim        a.test selector ed ("),
        "{}",
        srv.stdout
    );
    assert!(
        unsub.ends_with("<mailto:team-request@a.test?subject=unsubscribe>"),
        "{unsub}"
    );

    // dkimpy verifies both signatures, which cover the list fields; a
    // changed signed field or body fails both.
    let lines = dkimpy(
        &dir,
        &raw,
        &[ed_record, format!("rsa._domainkey.a.test={rsa_record}")],
    );
    let out = lines.join("\n");
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut algs: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("ok "))
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    algs.sort();
    assert_eq!(algs, ["ed25519-sha256", "rsa-sha256"], "{out}");
    for l in lines.iter().filter(|l| l.starts_with("ok ")) {
        let h = l.split(' ').nth(2).unwrap();
        for name in [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "mime-version",
            "content-type",
            "list-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ] {
            assert!(h.split(':').any(|n| n == name), "h= lacks {name}: {l}");
        }
    }
    assert!(lines.contains(&"header-tampered bad bad"), "{out}");
    assert!(lines.contains(&"body-tampered bad bad"), "{out}");

    // A GET shows the button (under the webmail's security headers, no
    // inline script) and changes nothing.
    let (code, page) = curl(https, &url, &["-i"]);
    assert_eq!(code, 200, "{page}");
    let lower = page.to_ascii_lowercase();
    assert!(
        lower.contains("content-security-policy: default-src 'none'")
            && lower.contains("x-frame-options: deny")
            && !lower.contains("<script>"),
        "{page}"
    );
    assert!(
        page.contains(r#"method="post""#) && page.contains("One-Click"),
        "{page}"
    );
    assert!(
        std::fs::read_to_string(&members)
            .unwrap()
            .contains("Carol@a.test")
    );

    // A forged token (another member's name, or a changed MAC) is refused.
    let token = url.strip_prefix(&prefix).unwrap();
    let mut forged = token.to_string();
    let last = if forged.ends_with('A') { "B" } else { "A" };
    forged.replace_range(forged.len() - 1.., last);
    let mut other = token.to_string();
    other.replace_range(..1, if other.starts_with('A') { "B" } else { "A" });
    for bad in [forged, other, "bm90LWEtdG9rZW4".to_string()] {
        let (code, _) = curl(
            https,
            &format!("{prefix}{bad}"),
            &["-d", "List-Unsubscribe=One-Click"],
        );
        assert_eq!(code, 404, "{bad}");
    }
    // Without the form field: 400.
    let (code, _) = curl(https, &url, &["-d", "List-Unsubscribe=Yes"]);
    assert_eq!(code, 400);
    assert!(
        std::fs::read_to_string(&members)
            .unwrap()
            .contains("Carol@a.test")
    );

    // The one-click POST (no cookie) removes the member; again: still 200.
    for _ in 0..2 {
        let (code, page) = curl(https, &url, &["-d", "List-Unsubscribe=One-Click"]);
        assert_eq!(code, 200, "{page}");
        assert!(page.contains("no longer receives"), "{page}");
    }
    assert_eq!(std::fs::read_to_string(&members).unwrap(), "alice@a.test\n");
    assert!(wait_log(
        &srv,
        "unsubscribed by one-click",
        Duration::from_secs(5)
    ));
    assert!(!srv.log().contains("no --dkim key"), "{}", srv.log());

    // The next post reaches alice only.
    post("two");
    find_one(&srv, "alice", "post two");
    assert_eq!(srv.messages("carol").len(), 1);
}

#[test]
#[ignore = "interop: needs python3 and curl (bash .ci/install-peers); starts a mailserver"]
fn without_https_url_the_list_offers_mailto_only() {
    if !have("python3") {
        return;
    }
    let dir = scratch("dkim-plain");
    let members = dir.join("team.members");
    std::fs::write(&members, "alice@a.test\n").unwrap();
    let list = format!("team@a.test={}", members.display());
    let srv = MailServer::start(
        &dir.join("data"),
        &["--domain", "a.test", "--user", "alice:pa", "--list", &list],
    );
    post_from_alice(srv.smtp().port(), "team@a.test", "plain");
    let copy = String::from_utf8(find_one(&srv, "alice", "post plain")).unwrap();
    assert_eq!(
        field(&copy, "List-Unsubscribe").as_deref(),
        Some("<mailto:team-request@a.test?subject=unsubscribe>")
    );
    assert_eq!(field(&copy, "List-Unsubscribe-Post"), None);
    assert!(
        srv.stdout.contains("team@a.test; unsubscribe by mail only"),
        "{}",
        srv.stdout
    );
    assert_eq!(
        field(&copy, "DKIM-Signature"),
        None,
        "no --dkim, no signature"
    );
    drop(srv);

    // An HTTPS URL without a DKIM key for the list's domain: warned about
    // at start (RFC 8058 §4 wants the fields signed).
    let srv = MailServer::start(
        &dir.join("data2"),
        &[
            "--domain",
            "a.test",
            "--user",
            "alice:pa",
            "--list",
            &list,
            "--https",
            "127.0.0.1:0",
        ],
    );
    assert!(
        wait_log(&srv, "no --dkim key for a.test", Duration::from_secs(5)),
        "{}",
        srv.log()
    );
}

#[test]
#[ignore = "interop: needs python3 with dkimpy and pynacl (bash .ci/install-peers); starts a mailserver"]
fn authenticated_submission_signed_for_its_from_domain_only() {
    if !have("python3") || !have_python_module("dkim") || !have_python_module("nacl") {
        return;
    }
    let dir = scratch("dkim-submit");
    let (ed, record) = ed_key(&dir, "sub");
    let dkim = format!("a.test:sub:{}", ed.display());
    let srv = MailServer::start(
        &dir.join("data"),
        &[
            "--domain", "a.test", "--user", "alice:pa", "--user", "carol:pc", "--dkim", &dkim,
        ],
    );
    for (from, marker) in [("alice@a.test", "signed"), ("alice@other.test", "unsigned")] {
        submit_as_alice(&srv, from, "carol@a.test", marker);
    }
    let signed = find_one(&srv, "carol", "sub signed");
    let lines = dkimpy(&dir, &signed, std::slice::from_ref(&record));
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("ok ed25519-sha256 from:to:subject")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == "body-tampered bad"), "{lines:?}");
    let unsigned = String::from_utf8(find_one(&srv, "carol", "sub unsigned")).unwrap();
    assert_eq!(field(&unsigned, "DKIM-Signature"), None, "{unsigned}");
    // Mail from the MTA port without AUTH is not signed either.
    post_from_alice(srv.smtp().port(), "carol@a.test", "noauth");
    let plain = String::from_utf8(find_one(&srv, "carol", "post noauth")).unwrap();
    assert_eq!(field(&plain, "DKIM-Signature"), None);
}

/// Signs the same kind of message several ways with dkimpy for `b.test`
/// (argv: the RSA key file, the output directory, our hostname) and
/// prints the Ed25519 record (made here with pynacl) as `ed RECORD`.
const PY_SIGN: &str = r#"
import base64, dkim, nacl.signing, sys
rsa, out, host = open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3].encode()
def msg(marker):
    return (b"From: Bob <bob@b.test>\r\nTo: <carol@a.test>\r\nSubject: in " + marker +
            b"\r\nDate: Fri, 4 Dec 2026 10:00:00 +0000\r\nMessage-ID: <" + marker + b"@b.test>\r\n"
            b"\r\nhello  " + marker + b" \r\n\r\n\r\n")
hs = [b"from", b"to", b"subject", b"date", b"message-id"]
def sign(m, sel, key, canon, alg=b"rsa-sha256"):
    return dkim.sign(m, sel, b"b.test", key, canonicalize=canon, include_headers=hs,
                     signature_algorithm=alg) + m
ed = nacl.signing.SigningKey.generate()
edkey = base64.b64encode(bytes(ed))
files = {
    "rsa": sign(msg(b"rsa"), b"rsa", rsa, (b"relaxed", b"relaxed")),
    "ed": sign(msg(b"ed"), b"ed", edkey, (b"simple", b"simple"), b"ed25519-sha256"),
    "both": sign(sign(msg(b"both"), b"rsa", rsa, (b"relaxed", b"simple")), b"ed", edkey,
                 (b"relaxed", b"relaxed"), b"ed25519-sha256"),
    "tampered": sign(msg(b"tampered"), b"rsa", rsa, (b"relaxed", b"relaxed")).replace(b"hello", b"HELLO"),
    "gone": sign(msg(b"gone"), b"gone", rsa, (b"relaxed", b"relaxed")),
    "forged": b"Authentication-Results: " + host + b"; dkim=pass header.d=b.test\r\n" + msg(b"forged"),
}
for name, data in files.items():
    open("%s/%s.eml" % (out, name), "wb").write(data)
print("ed v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(ed.verify_key)).decode())
"#;

/// PY_SIGN's messages, signed for `b.test` with a fresh RSA key and a
/// fresh Ed25519 key, written to `dir` as `NAME.eml`; returns the key
/// records (RSA, Ed25519) for `rsa._domainkey.b.test` and
/// `ed._domainkey.b.test`.
fn dkimpy_signed(dir: &Path) -> (String, String) {
    let (rsa, rsa_record) = rsa_key(dir);
    let (ok, out) = run(Command::new("python3")
        .args(["-c", PY_SIGN, &rsa])
        .arg(dir)
        .arg("a.test"));
    assert!(ok, "{out}");
    let ed_record = out
        .lines()
        .find_map(|l| l.strip_prefix("ed "))
        .expect("the Ed25519 record")
        .to_string();
    (rsa_record, ed_record)
}

/// Sends the message file argv[2] from bob@b.test to carol@a.test on the
/// MTA port argv[1].
const PY_SEND_FILE: &str = r#"
import smtplib, sys
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
c.sendmail("bob@b.test", ["carol@a.test"], open(sys.argv[2], "rb").read())
c.quit()
"#;

/// The `Authentication-Results` fields (unfolded) of the message in
/// `user`'s mailbox whose subject is `in MARKER`.
fn auth_results(srv: &MailServer, user: &str, marker: &str) -> Vec<String> {
    let msg = String::from_utf8(find_one(srv, user, &format!("Subject: in {marker}"))).unwrap();
    let header = msg
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("\r\n\t", " ")
        .replace("\r\n ", " ");
    header
        .split("\r\n")
        .filter_map(|l| l.strip_prefix("Authentication-Results: "))
        .map(str::to_string)
        .collect()
}

/// Incoming DKIM (RFC 6376 §6) against dkimpy's signatures, keys from a
/// DNS responder (`--dns`): RSA relaxed/relaxed and Ed25519 simple/simple
/// pass, two signatures get one result each, a changed body fails, a key
/// not in DNS is a permerror; an `Authentication-Results` field that
/// claims to be the server's own is removed (RFC 8601 §5), and with
/// `--no-dkim-verify` nothing is checked.
#[test]
#[ignore = "interop: needs python3 with dkimpy and pynacl, openssl (bash .ci/install-peers); starts a mailserver and a DNS responder"]
fn incoming_dkim_checked_against_dkimpy_signatures() {
    if !have("python3") || !have_python_module("dkim") || !have_python_module("nacl") {
        return;
    }
    use common::dns::{Rr, TinyDns};
    let dir = scratch("dkim-verify");
    let (rsa_record, ed_record) = dkimpy_signed(&dir);
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let mut records = std::collections::HashMap::new();
    records.insert(
        ("rsa._domainkey.b.test".to_string(), 16),
        vec![Rr::Txt(leak(rsa_record))],
    );
    records.insert(
        ("ed._domainkey.b.test".to_string(), 16),
        vec![Rr::Txt("v=spf1 -all"), Rr::Txt(leak(ed_record))],
    );
    let dns = TinyDns::start(records);
    let dns_addr = dns.addr.to_string();
    let srv = carol_server(&dir.join("data"), &dns_addr, &[]);
    let send = |srv: &MailServer, name: &str| {
        let (ok, out) = run(Command::new("python3")
            .args(["-c", PY_SEND_FILE, &srv.smtp().port().to_string()])
            .arg(dir.join(format!("{name}.eml"))));
        assert!(ok, "{out}");
    };
    for name in ["rsa", "ed", "both", "tampered", "gone", "forged"] {
        send(&srv, name);
    }
    let one = |marker: &str| carol_result(&srv, marker);
    let r = one("rsa");
    assert!(
        r.starts_with(
            "a.test; dkim=pass header.d=b.test header.s=rsa header.a=rsa-sha256 header.b="
        ),
        "{r}"
    );
    let r = one("ed");
    assert!(
        r.starts_with("a.test; dkim=pass header.d=b.test header.s=ed header.a=ed25519-sha256"),
        "{r}"
    );
    // dkimpy puts the newer signature on top: the Ed25519 one first.
    let r = one("both");
    assert!(
        r.contains("dkim=pass header.d=b.test header.s=ed")
            && r.contains("dkim=pass header.d=b.test header.s=rsa"),
        "{r}"
    );
    let r = one("tampered");
    assert!(
        r.starts_with("a.test; dkim=fail (body hash did not verify) header.d=b.test"),
        "{r}"
    );
    let r = one("gone");
    assert!(
        r.starts_with("a.test; dkim=permerror (no key) header.d=b.test header.s=gone"),
        "{r}"
    );
    // The forged pass is gone; an unsigned message gets dkim=none.
    assert_eq!(one("forged"), "a.test; dkim=none");
    let queried = dns.queries.lock().unwrap().clone();
    assert!(
        queried
            .iter()
            .any(|(n, t)| n == "ed._domainkey.b.test" && *t == 16),
        "{queried:?}"
    );
    drop(srv);

    // Without the check: no field, and still no forged one.
    let off = carol_server(&dir.join("data-off"), &dns_addr, &["--no-dkim-verify"]);
    send(&off, "rsa");
    send(&off, "forged");
    assert!(auth_results(&off, "carol", "rsa").is_empty());
    assert!(auth_results(&off, "carol", "forged").is_empty());
}

/// A name server that never answers does not hold a signed message's final
/// reply for every signature's lookup timeouts (5 signatures of 2 tries of
/// 5 s each, close to a minute before): the key lookups of one message
/// share one 10-second budget, and each signature whose key could not be
/// fetched in it is a `temperror`.
#[test]
#[ignore = "interop: starts a mailserver whose DNS server never answers (about 10 s)"]
fn dead_dns_costs_one_time_budget_per_message() {
    use sha2::Digest as _;
    // Bound, never read: queries to it go unanswered.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns_addr = silent.local_addr().unwrap().to_string();
    let dir = scratch("dkim-dead-dns");
    let srv = carol_server(&dir.join("data"), &dns_addr, &[]);
    use base64::Engine as _;
    let bh = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(b"body\r\n"));
    let mut msg = String::new();
    for d in 0..5 {
        msg.push_str(&format!(
            "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=d{d}.test; s=s;\r\n\th=from; bh={bh}; b=AAAA\r\n"
        ));
    }
    msg.push_str("From: x@d0.test\r\nTo: carol@a.test\r\nSubject: in dead-dns\r\n\r\nbody\r\n");
    let mut c = Raw::connect(srv.smtp());
    assert_eq!(c.reply().0, 220);
    assert_eq!(c.cmd("EHLO client.test").0, 250);
    // MAIL, RCPT and DATA take milliseconds; the wait is for the final
    // reply (any earlier refusal is the code checked below).
    let start = std::time::Instant::now();
    let (code, text) = c.mail("x@d0.test", &["carol@a.test"], msg.as_bytes());
    let took = start.elapsed();
    assert_eq!(code, 250, "{text}\n{}", srv.log());
    eprintln!("final reply after {took:?}");
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(15),
        "{took:?}"
    );
    let results = auth_results(&srv, "carol", "dead-dns");
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(
        results[0].matches("dkim=temperror").count(),
        5,
        "{results:?}"
    );
    drop(silent);
}

/// A mailserver for `a.test` with the account carol (password `pc`),
/// asking the DNS responder at `dns`, with the options `extra`, its data
/// in `data`.
fn carol_server(data: &Path, dns: &str, extra: &[&str]) -> MailServer {
    let mut args = vec!["--domain", "a.test", "--user", "carol:pc", "--dns", dns];
    args.extend_from_slice(extra);
    MailServer::start(data, &args)
}

/// The one `Authentication-Results` field of carol's message `in
/// MARKER` (fails the test, with the server's log, when there is not
/// exactly one).
fn carol_result(srv: &MailServer, marker: &str) -> String {
    let r = auth_results(srv, "carol", marker);
    assert_eq!(r.len(), 1, "{marker}: {r:?}\n{}", srv.log());
    r.into_iter().next().unwrap_or_default()
}

/// A DNS responder with these TXT records (one each) and A records.
fn zone(txt: &[(&str, &'static str)], a: &[(&str, [u8; 4])]) -> common::dns::TinyDns {
    use common::dns::Rr;
    let mut records: std::collections::HashMap<(String, u16), Vec<Rr>> = Default::default();
    for (name, t) in txt {
        records.insert((name.to_string(), 16), vec![Rr::Txt(t)]);
    }
    for (name, ip) in a {
        records.insert((name.to_string(), 1), vec![Rr::A(*ip)]);
    }
    common::dns::TinyDns::start(records)
}

/// Sends one message per line of argv[2] (`SENDER MARKER`, `<>` the null
/// sender) to carol@a.test on the MTA port argv[1], saying HELO argv[3].
const PY_SEND_FROM: &str = r#"
import smtplib, sys
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname=sys.argv[3])
for line in sys.argv[2].splitlines():
    sender, marker = line.split()
    msg = "From: x@x.test\r\nTo: carol@a.test\r\nSubject: in %s\r\n\r\nbody\r\n" % marker
    if marker == "forged":
        msg = "Authentication-Results: a.test; spf=pass\r\n" + msg
    c.sendmail("" if sender == "<>" else sender, ["carol@a.test"], msg)
c.quit()
"#;

/// Incoming SPF (RFC 7208) against records from a DNS responder, the
/// client at 127.0.0.1 (`--trusted-networks none`; by default loopback is not
/// checked): `ip4` passes, a record without the address fails, `a` of
/// another address with `~all` soft-fails, `include` passes, a domain
/// without a record is `none`, the null sender is checked as
/// `postmaster@` its HELO name (`smtp.helo`); each told in the
/// `Authentication-Results` field (with the DKIM result when the message
/// is read back for that check: here because of a forged field, which is
/// removed); and none by default or with `--no-spf`.
#[test]
#[ignore = "interop: needs python3; starts a mailserver and a DNS responder"]
fn incoming_spf_checked_against_dns_records() {
    if !have("python3") {
        return;
    }
    let dns = zone(
        &[
            ("pass.test", "v=spf1 ip4:127.0.0.0/8 -all"),
            ("fail.test", "v=spf1 ip4:192.0.2.1 -all"),
            ("soft.test", "v=spf1 a:mx.soft.test ~all"),
            ("inc.test", "v=spf1 include:pass.test -all"),
            ("helo.test", "v=spf1 a -all"),
        ],
        &[
            ("mx.soft.test", [192, 0, 2, 7]),
            ("helo.test", [127, 0, 0, 1]),
        ],
    );
    let dns_addr = dns.addr.to_string();
    let dir = scratch("spf");
    let start = |name: &str, extra: &[&str]| carol_server(&dir.join(name), &dns_addr, extra);
    let send = |srv: &MailServer, lines: &str| {
        let (ok, out) = run(Command::new("python3").args([
            "-c",
            PY_SEND_FROM,
            &srv.smtp().port().to_string(),
            lines,
            "helo.test",
        ]));
        assert!(ok, "{out}");
    };
    let srv = start("data", &["--trusted-networks", "none"]);
    send(
        &srv,
        "bob@pass.test pass\nbob@fail.test fail\nbob@soft.test soft\nbob@inc.test inc\nbob@none.test none\n<> null\nbob@fail.test forged",
    );
    let one = |marker: &str| carol_result(&srv, marker);
    assert_eq!(one("pass"), "a.test; spf=pass smtp.mailfrom=bob@pass.test");
    assert_eq!(one("fail"), "a.test; spf=fail smtp.mailfrom=bob@fail.test");
    assert_eq!(
        one("soft"),
        "a.test; spf=softfail smtp.mailfrom=bob@soft.test"
    );
    assert_eq!(one("inc"), "a.test; spf=pass smtp.mailfrom=bob@inc.test");
    assert_eq!(one("none"), "a.test; spf=none smtp.mailfrom=bob@none.test");
    assert_eq!(one("null"), "a.test; spf=pass smtp.helo=helo.test");
    // A forged field claiming a pass is removed; the message, read back
    // for that, keeps its own result (in the field of the DKIM check).
    assert_eq!(
        one("forged"),
        "a.test; dkim=none; spf=fail smtp.mailfrom=bob@fail.test"
    );
    assert!(
        srv.log()
            .contains("spf=fail smtp.mailfrom=bob@fail.test client 127.0.0.1"),
        "{}",
        srv.log()
    );
    drop(srv);

    // Loopback is exempt by default; --no-spf checks nobody.
    for (name, extra) in [
        ("default", &[][..]),
        ("off", &["--no-spf", "--trusted-networks", "none"][..]),
    ] {
        let srv = start(name, extra);
        send(&srv, "bob@fail.test fail");
        assert!(auth_results(&srv, "carol", "fail").is_empty(), "{name}");
    }
}

/// Sends one message per line of argv[2] (`MAIL-FROM FROM-ADDRESS
/// MARKER`, `<>` the null sender) to carol@a.test on the MTA port
/// argv[1], saying HELO argv[3]; prints `MARKER CODE` for each (250, or
/// the code of a refusal).
const PY_SEND_AS: &str = r#"
import smtplib, sys
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname=sys.argv[3])
for line in sys.argv[2].splitlines():
    sender, author, marker = line.split()
    msg = "From: %s\r\nTo: carol@a.test\r\nSubject: in %s\r\n\r\nbody\r\n" % (author, marker)
    try:
        c.sendmail("" if sender == "<>" else sender, ["carol@a.test"], msg)
        print(marker, 250)
    except smtplib.SMTPDataError as e:
        print(marker, e.smtp_code, e.smtp_error.decode())
c.quit()
"#;

/// DMARC (RFC 7489) of the From domain against records from a DNS
/// responder, the client at 127.0.0.1 (`--trusted-networks none`): an SPF pass
/// of the same domain or of a subdomain (relaxed alignment) passes; a
/// dkimpy signature of the From domain passes with no SPF record; an SPF
/// pass of an unrelated domain fails, and `p=reject` refuses the message
/// with 550 5.7.1 (nothing stored), `p=quarantine` puts it in carol's
/// Junk folder, `sp=none` lets a subdomain's failure through, a changed
/// signed body is refused; a domain without a record gets no DMARC
/// result. The results are told in the `Authentication-Results` field;
/// with `--no-dmarc`, or by default for loopback, nothing is refused.
#[test]
#[ignore = "interop: needs python3 with dkimpy, openssl (bash .ci/install-peers); starts a mailserver and a DNS responder"]
fn incoming_dmarc_policies_applied() {
    if !have("python3") || !have_python_module("dkim") || !have_python_module("nacl") {
        return;
    }
    let dir = scratch("dmarc");
    let (rsa_record, _) = dkimpy_signed(&dir);
    let rsa_record: &'static str = Box::leak(rsa_record.into_boxed_str());
    let spf_loopback = "v=spf1 ip4:127.0.0.0/8 -all";
    let dns = zone(
        &[
            ("rsa._domainkey.b.test", rsa_record),
            ("_dmarc.b.test", "v=DMARC1; p=reject"),
            ("pass.test", spf_loopback),
            ("mail.al.test", spf_loopback),
            ("other.test", spf_loopback),
            ("fail.test", "v=spf1 ip4:192.0.2.1 -all"),
            ("_dmarc.pass.test", "v=DMARC1; p=reject"),
            ("_dmarc.al.test", "v=DMARC1; p=reject"),
            (
                "_dmarc.reject.test",
                "v=DMARC1; p=reject; rua=mailto:r@reject.test",
            ),
            ("_dmarc.q.test", "v=DMARC1; p=quarantine"),
            ("_dmarc.s.test", "v=DMARC1; p=reject; sp=none"),
        ],
        &[],
    );
    let dns_addr = dns.addr.to_string();
    let start = |name: &str, extra: &[&str]| carol_server(&dir.join(name), &dns_addr, extra);
    let send = |srv: &MailServer, lines: &str| -> String {
        let (ok, out) = run(Command::new("python3").args([
            "-c",
            PY_SEND_AS,
            &srv.smtp().port().to_string(),
            lines,
            "client.test",
        ]));
        assert!(ok, "{out}");
        out
    };
    let send_file = |srv: &MailServer, name: &str| -> u16 {
        let mut c = Raw::connect(srv.smtp());
        assert_eq!(c.reply().0, 220);
        assert_eq!(c.cmd("EHLO client.test").0, 250);
        let msg = std::fs::read(dir.join(format!("{name}.eml"))).unwrap();
        c.mail("bob@b.test", &["carol@a.test"], &msg).0
    };
    let srv = start("data", &["--trusted-networks", "none"]);
    let out = send(
        &srv,
        "bob@pass.test bob@pass.test aligned\n\
         bounce@mail.al.test bob@al.test relaxed\n\
         bob@other.test bob@reject.test unaligned\n\
         bob@fail.test bob@reject.test spffail\n\
         bob@other.test bob@sub.q.test quarantined\n\
         bob@other.test bob@news.s.test subdomain\n\
         bob@other.test bob@nopolicy.test nopolicy",
    );
    let code = |marker: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{marker} ")))
            .unwrap_or_else(|| panic!("{marker}: {out}"))
            .to_string()
    };
    for m in ["aligned", "relaxed", "quarantined", "subdomain", "nopolicy"] {
        assert_eq!(code(m), "250", "{m}\n{}", srv.log());
    }
    for m in ["unaligned", "spffail"] {
        assert!(code(m).starts_with("550 5.7.1 "), "{m}: {}", code(m));
        let marker = format!("Subject: in {m}");
        let stored = srv
            .messages("carol")
            .into_iter()
            .chain(maildir_messages(&srv.data.join("mailboxes/carol/.Junk")))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .any(|d| d.contains(&marker));
        assert!(!stored, "{m}");
    }
    assert_eq!(send_file(&srv, "rsa"), 250);
    assert_eq!(send_file(&srv, "tampered"), 550);
    // A From after 70 KiB of other header fields is checked all the same.
    let pad = format!("X-Pad: {}\r\n", "x".repeat(900)).repeat(80);
    let padded = format!(
        "{pad}From: bob@reject.test\r\nTo: carol@a.test\r\nSubject: in padded\r\n\r\nbody\r\n"
    );
    let mut c = Raw::connect(srv.smtp());
    assert_eq!(c.reply().0, 220);
    assert_eq!(c.cmd("EHLO client.test").0, 250);
    let (code, text) = c.mail("bob@other.test", &["carol@a.test"], padded.as_bytes());
    assert_eq!(code, 550, "{text}\n{}", srv.log());
    let one = |marker: &str| carol_result(&srv, marker);
    assert_eq!(
        one("aligned"),
        "a.test; dkim=none; spf=pass smtp.mailfrom=bob@pass.test; dmarc=pass (p=reject dis=none) header.from=pass.test"
    );
    assert!(
        one("relaxed").ends_with("dmarc=pass (p=reject dis=none) header.from=al.test"),
        "{}",
        one("relaxed")
    );
    assert!(
        one("subdomain").ends_with("dmarc=fail (p=none dis=none) header.from=news.s.test"),
        "{}",
        one("subdomain")
    );
    assert_eq!(
        one("nopolicy"),
        "a.test; spf=pass smtp.mailfrom=bob@other.test"
    );
    let r = one("rsa");
    assert!(
        r.starts_with("a.test; dkim=pass header.d=b.test")
            && r.ends_with("spf=none smtp.mailfrom=bob@b.test; dmarc=pass (p=reject dis=none) header.from=b.test"),
        "{r}"
    );
    // Quarantined: in Junk, not in INBOX.
    let junk = maildir_messages(&srv.data.join("mailboxes/carol/.Junk"));
    assert_eq!(junk.len(), 1, "{junk:?}\n{}", srv.log());
    let quarantined = String::from_utf8(std::fs::read(&junk[0]).unwrap()).unwrap();
    assert!(
        quarantined.contains("Subject: in quarantined"),
        "{quarantined}"
    );
    assert!(
        quarantined
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ")
            .contains("dmarc=fail (p=quarantine dis=quarantine) header.from=sub.q.test"),
        "{quarantined}"
    );
    assert!(
        srv.log()
            .contains("refused: the DMARC policy of its From domain"),
        "{}",
        srv.log()
    );
    let queried = dns.queries.lock().unwrap().clone();
    assert!(
        queried
            .iter()
            .any(|(n, t)| n == "_dmarc.q.test" && *t == 16),
        "the organizational domain's record: {queried:?}"
    );
    drop(srv);

    // --no-dmarc, and loopback by default: delivered, no DMARC result.
    for (name, extra) in [
        ("off", &["--no-dmarc", "--trusted-networks", "none"][..]),
        ("default", &[][..]),
    ] {
        let srv = start(name, extra);
        let out = send(&srv, "bob@fail.test bob@reject.test spffail");
        assert_eq!(out.trim(), "spffail 250", "{name}");
        let r = auth_results(&srv, "carol", "spffail");
        assert!(r.iter().all(|r| !r.contains("dmarc=")), "{name}: {r:?}");
    }
}

/// Reads the DMARC aggregate report message argv[1] with Python's email,
/// gzip and xml.etree; prints the report's domain, the sum of its rows'
/// counts, then one line per row: `IP COUNT DISPOSITION DKIM SPF`.
const PY_READ_REPORT: &str = r#"
import email, email.policy, gzip, sys, xml.etree.ElementTree as ET
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
gz = [p for p in msg.walk() if p.get_content_type() == "application/gzip"]
assert len(gz) == 1, [p.get_content_type() for p in msg.walk()]
assert gz[0].get_filename().endswith(".xml.gz"), gz[0].get_filename()
root = ET.fromstring(gzip.decompress(gz[0].get_payload(decode=True)))
assert root.tag == "feedback"
rows = root.findall("record/row")
print(root.findtext("policy_published/domain"), sum(int(r.findtext("count")) for r in rows))
for r in rows:
    pe = r.find("policy_evaluated")
    print(r.findtext("source_ip"), r.findtext("count"), pe.findtext("disposition"),
          pe.findtext("dkim"), pe.findtext("spf"))
"#;

/// DMARC aggregate reports (RFC 7489 §7.2, `--dmarc-reports`): the checks
/// of a domain whose record has `rua=` are kept and sent as a gzipped XML
/// report, which Python's email, gzip and ElementTree read: the policy
/// domain, the passes and the refused one counted by disposition; the
/// address at another organization goes only with that domain's
/// `_report._dmarc` record (§7.1), and one whose size limit the report
/// passes (`!100`, §6.2) gets none.
#[test]
#[ignore = "interop: needs python3; starts a mailserver and a DNS responder"]
fn dmarc_aggregate_report_read_by_python() {
    if !have("python3") {
        return;
    }
    let dns = zone(
        &[
            ("pass.test", "v=spf1 ip4:127.0.0.0/8 -all"),
            (
                "_dmarc.pass.test",
                "v=DMARC1; p=reject; rua=mailto:carol@a.test,mailto:x@elsewhere.test,mailto:tiny@a.test!100",
            ),
            ("pass.test._report._dmarc.a.test", "v=DMARC1"),
        ],
        &[],
    );
    let dns_addr = dns.addr.to_string();
    let dir = scratch("dmarc-report");
    let srv = carol_server(
        &dir.join("data"),
        &dns_addr,
        &["--trusted-networks", "none", "--dmarc-reports", "1s"],
    );
    let (ok, out) = run(Command::new("python3").args([
        "-c",
        PY_SEND_AS,
        &srv.smtp().port().to_string(),
        "bob@pass.test bob@pass.test one\nbob@pass.test alice@pass.test two\n<> bob@pass.test refused",
        "client.test",
    ]));
    assert!(ok, "{out}");
    assert!(out.contains("refused 550"), "{out}");
    // The report arrives in carol's mailbox within a few periods.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let report = loop {
        let found = srv.messages("carol").into_iter().find(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| t.contains("Report Domain: pass.test"))
        });
        if let Some(p) = found {
            break p;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no report:\n{}",
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (ok, out) = run(Command::new("python3")
        .args(["-c", PY_READ_REPORT])
        .arg(&report));
    assert!(ok, "{out}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("pass.test 3"), "{out}");
    let rows: Vec<&str> = lines.collect();
    assert!(rows.contains(&"127.0.0.1 2 none fail pass"), "{out}");
    assert!(rows.contains(&"127.0.0.1 1 reject fail fail"), "{out}");
    assert!(
        srv.log()
            .contains("pass.test: <x@elsewhere.test> has not agreed to take them"),
        "{}",
        srv.log()
    );
    assert!(
        srv.log()
            .contains("is over <tiny@a.test>'s limit, 100 octets"),
        "{}",
        srv.log()
    );
}

/// A DKIM key rotation without a restart: the config file's `dkim` setting
/// changed to a new selector and key signs the next submission (dkimpy
/// verifies it with the new record, and the old selector signs no more);
/// a setting whose key file does not read leaves the keys in force.
#[test]
#[ignore = "interop: needs python3 with dkimpy and pynacl (bash .ci/install-peers); starts a mailserver"]
fn dkim_key_rotated_without_restart() {
    if !have("python3") || !have_python_module("dkim") || !have_python_module("nacl") {
        return;
    }
    let dir = scratch("dkim-rotate");
    let (old, old_record) = ed_key(&dir, "old");
    let (new, new_record) = ed_key(&dir, "new");
    let cfg = dir.join("mailserver.toml");
    let write = |key: &Path, selector: &str| {
        let setting = format!("a.test:{selector}:{}", key.display());
        std::fs::write(&cfg, format!("dkim = [{setting:?}]\n")).unwrap();
    };
    write(&old, "old");
    let srv = MailServer::start(
        &dir.join("data"),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--domain",
            "a.test",
            "--user",
            "alice:pa",
        ],
    );
    let submit = |marker: &str| {
        submit_as_alice(&srv, "alice@a.test", "alice@a.test", marker);
        let raw = find_one(&srv, "alice", &format!("sub {marker}"));
        let selectors: Vec<String> = String::from_utf8_lossy(&raw)
            .match_indices("; s=")
            .map(|(i, _)| {
                let rest = &String::from_utf8_lossy(&raw)[i + 4..];
                rest[..rest.find(';').unwrap()].to_string()
            })
            .collect();
        let records = [old_record.clone(), new_record.clone()];
        (selectors, dkimpy(&dir, &raw, &records))
    };
    let logged = |what: &str, n: usize| {
        let end = std::time::Instant::now() + Duration::from_secs(15);
        while srv.log().matches(what).count() < n {
            assert!(
                std::time::Instant::now() < end,
                "no {what:?}:\n{}",
                srv.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let (sel, lines) = submit("before");
    assert_eq!(sel, ["old"], "{lines:?}");
    assert!(lines[0].starts_with("ok ed25519-sha256"), "{lines:?}");

    write(&new, "new");
    logged("dkim keys in force now", 1);
    let (sel, lines) = submit("rotated");
    assert_eq!(sel, ["new"], "{lines:?}");
    assert!(lines[0].starts_with("ok ed25519-sha256"), "{lines:?}");

    write(&dir.join("missing.pem"), "gone");
    logged("dkim keys not taken, those in force stay", 1);
    let (sel, _) = submit("kept");
    assert_eq!(sel, ["new"]);
    let _ = std::fs::remove_dir_all(dir);
}

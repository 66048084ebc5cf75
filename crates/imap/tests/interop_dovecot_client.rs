//! Interop: the client machine against a real Dovecot, spoken to over the
//! pipes of `doveadm exec imap` (PREAUTH, no socket; ../shared/PEERS.md).
//! APPEND with LITERAL+, SELECT, a FETCH whose 300 KiB body is streamed in
//! chunks, STORE, SEARCH, IDLE with DONE, ENABLE, EXPUNGE and LOGOUT.
//!
//! Run: `cargo test -p mailwire-imap --test interop_dovecot_client -- --ignored`
//! (needs `dovecot-imapd`; as root also the `vmail` user PEERS.md describes).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mailwire_imap::client::{Client, Completion, ConnectionError, Event, Options};
use mailwire_imap::{
    AppendMessage, Atom, Binary, CommandBody, FetchAttr, FetchAttrs, Flag, Mailbox, SearchKey,
    SequenceSet, StoreKind, Vec1,
};

fn message() -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: interop\r\nMessage-ID: <1@example.com>\r\n\r\n".to_vec();
    for i in 0..4000 {
        m.extend_from_slice(
            format!("line {i:05} of a message large enough to be streamed\r\n").as_bytes(),
        );
    }
    m
}

fn fetch_all() -> CommandBody<'static> {
    CommandBody::Fetch {
        uid: false,
        set: SequenceSet::all(),
        attrs: FetchAttrs::List(vec![
            FetchAttr::Uid,
            FetchAttr::Flags,
            FetchAttr::Envelope,
            FetchAttr::BodyStructure,
            FetchAttr::BodySection {
                peek: true,
                section: Default::default(),
                partial: None,
            },
        ]),
        modifiers: vec![],
    }
}

#[test]
#[ignore]
fn dovecot_session() {
    if Command::new("doveadm").arg("help").output().is_err() {
        assert!(std::env::var("CI").is_err(), "doveadm missing");
        eprintln!("skipped: doveadm missing");
        return;
    }
    let dir = std::env::temp_dir().join(format!("mailwire-imap-client-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("mail")).unwrap();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let mut conf = format!(
        "protocols = imap\nbase_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nssl = no\nmail_location = maildir:{d}/mail/%u\nfirst_valid_uid = 100\n",
        d = dir.display()
    );
    if root {
        conf.push_str("mail_uid = vmail\nmail_gid = vmail\n");
        let _ = Command::new("chown")
            .args(["-R", "vmail:vmail"])
            .arg(dir.join("mail"))
            .status();
        let _ = Command::new("chmod").arg("755").arg(&dir).status();
    }
    std::fs::write(dir.join("dovecot.conf"), conf).unwrap();
    let mut child = Command::new("doveadm")
        .arg("-c")
        .arg(dir.join("dovecot.conf"))
        .args(["exec", "imap"])
        .env("USER", "testuser")
        .env("HOME", &dir)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(Vec::new());
                    return;
                }
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });

    let mut o = Options::default();
    o.stream_threshold = 64 * 1024;
    let mut c = Client::new(o, Instant::now());
    let msg = message();
    let append = CommandBody::Append {
        mailbox: Mailbox::Inbox,
        messages: Vec1::one(AppendMessage {
            flags: vec![],
            date: None,
            message: Binary(msg.clone().into()),
            utf8: false,
        }),
    };
    c.enqueue_command(append).unwrap();
    c.enqueue_command(CommandBody::Enable(Vec1::one(
        Atom::try_from("CONDSTORE").unwrap(),
    )))
    .unwrap();
    c.enqueue_command(CommandBody::Select {
        mailbox: Mailbox::Inbox,
        params: vec![],
    })
    .unwrap();
    c.enqueue_command(fetch_all()).unwrap();
    c.enqueue_command(CommandBody::Store {
        uid: false,
        set: SequenceSet::single(1).unwrap(),
        unchanged_since: None,
        kind: StoreKind::Add,
        silent: false,
        flags: vec![Flag::Flagged, Flag::Deleted],
    })
    .unwrap();
    c.enqueue_command(CommandBody::Search {
        uid: true,
        return_opts: None,
        charset: None,
        criteria: Vec1::one(SearchKey::Flagged),
    })
    .unwrap();
    c.enqueue_command(CommandBody::Idle).unwrap();

    let mut done: Vec<Completion> = Vec::new();
    let mut streamed = Vec::new();
    let mut reason = None;
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reason.is_none() && Instant::now() < deadline {
        while c.poll_transmit(Instant::now(), &mut out).is_some() {}
        if !out.is_empty() {
            stdin.write_all(&out).unwrap();
            stdin.flush().unwrap();
            out.clear();
        }
        let mut acted = false;
        while let Some(e) = c.poll_event() {
            match e {
                Event::IdleStarted { .. } => {
                    c.idle_done().unwrap();
                    acted = true;
                }
                Event::FetchChunk { data, offset, .. } => {
                    assert_eq!(offset, streamed.len() as u64);
                    streamed.extend_from_slice(&data);
                }
                Event::Completed(d) => {
                    if d.command == "IDLE" {
                        c.enqueue_command(CommandBody::Expunge).unwrap();
                        c.enqueue_command(CommandBody::Logout).unwrap();
                        acted = true;
                    }
                    done.push(d);
                }
                Event::Closed { reason: r } => reason = Some(r),
                _ => {}
            }
        }
        if acted || reason.is_some() {
            continue;
        }
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(b) if b.is_empty() => c.handle_eof(Instant::now()),
            Ok(b) => c.handle_input(Instant::now(), &b),
            Err(_) => c.handle_timeout(Instant::now()),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    let names: Vec<&str> = done.iter().map(|d| d.command).collect();
    assert_eq!(
        names,
        [
            "APPEND",
            "ENABLE",
            "SELECT",
            "FETCH",
            "STORE",
            "UID SEARCH",
            "IDLE",
            "EXPUNGE",
            "LOGOUT"
        ]
    );
    assert!(done.iter().all(Completion::is_ok), "{done:?}");
    assert_eq!(reason, Some(ConnectionError::Logout));
    // The body came out streamed, whole and in order.
    assert_eq!(streamed, msg);
    let fetch = &done[3];
    let items = fetch.fetches().next().unwrap().1;
    assert!(
        items
            .iter()
            .any(|i| matches!(i, mailwire_imap::FetchItem::BodyStructure(_)))
    );
    assert_eq!(done[5].search_results(10), [1]);
    assert!(c.enabled().has("CONDSTORE"));
}

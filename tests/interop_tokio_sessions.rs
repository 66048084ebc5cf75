//! Interop: the tokio POP3 and IMAP sessions (`mailwire::tokio::{Pop3Session,
//! ImapSession}`) against Dovecot and against the mailserver example, and
//! IDLE as a tokio `Stream` told of a message delivered meanwhile (by
//! APPEND to Dovecot, by SMTP to the mailserver). Opt-in: `cargo test -p
//! mailwire --test interop_tokio_sessions -- --ignored --test-threads=1`
//! after `.ci/install-peers`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::{block_on, pop3_plain};

use std::collections::HashSet;
use std::pin::Pin;
use std::time::{Duration, Instant};

use common::dovecot::{Dovecot, free_port};
use futures_core::Stream;
use mailwire::blocking::{ImapError, ImapOptions, Pop3Error, Security, SmtpOptions, SummaryItems};
use mailwire::imap::client::Update;
use mailwire::imap::{Flag, SearchKey, StoreKind};
use mailwire::pop3::ConnectionError;
use mailwire::tokio::{IdleStream, ImapSession, Pop3Session, SmtpTransport};

fn message(i: usize) -> Vec<u8> {
    format!(
        "From: a@example.org\r\nTo: testuser@example.org\r\nSubject: tokio session {i}\r\nMessage-ID: <t{i}@test>\r\n\r\nBody {i}.\r\n.leading dot\r\n"
    )
    .into_bytes()
}

fn imap_plain() -> ImapOptions {
    let mut o = ImapOptions::default();
    o.transport.security = Security::Plain;
    o
}

/// The next item of an IDLE stream.
async fn next(s: &mut IdleStream<'_>) -> Option<Result<Update, ImapError>> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

/// Waits on IDLE for an EXISTS; returns it and how long it took.
async fn wait_exists(imap: &mut ImapSession) -> (Option<u32>, Duration) {
    let started = Instant::now();
    let mut idle = imap.idle(Duration::from_secs(15)).await.unwrap();
    let mut exists = None;
    while let Some(u) = next(&mut idle).await {
        if let Update::Exists(n) = u.unwrap() {
            exists = Some(n);
            break;
        }
    }
    idle.done().await.unwrap();
    (exists, started.elapsed())
}

#[test]
#[ignore = "interop: needs dovecot (bash .ci/install-peers)"]
fn tokio_sessions_against_dovecot() {
    let Some(d) = Dovecot::start() else { return };
    for i in 1..=3 {
        d.deliver(&format!("100000000{i}.M1P1Q{i}.test"), &message(i));
    }
    let pop3 = format!("127.0.0.1:{}", d.port);
    let imap = format!("127.0.0.1:{}", d.imap_port);
    block_on(async {
        // POP3: a wrong password is refused with the same typed error.
        let err = Pop3Session::connect(&pop3, pop3_plain("testuser", "wrong"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Pop3Error::Closed(ConnectionError::AuthenticationFailed { .. })
            ),
            "{err:?}"
        );
        let mut pop = Pop3Session::connect(&pop3, pop3_plain("testuser", "testpass"))
            .await
            .unwrap();
        assert_eq!(pop.stat().await.unwrap().0, 3);
        let list = pop.list().await.unwrap();
        assert_eq!(list.len(), 3);
        for m in &list {
            let mut got = Vec::new();
            let n = pop.retrieve(m.number, &mut got).await.unwrap();
            assert_eq!(got, message(m.number as usize));
            assert_eq!(n, got.len() as u64);
        }
        let mut head = Vec::new();
        pop.top(1, 0, &mut head).await.unwrap();
        assert!(head.starts_with(b"From: ") && head.ends_with(b"\r\n\r\n"));
        assert!(matches!(
            pop.retrieve(9, &mut Vec::new()).await,
            Err(Pop3Error::Failed {
                command: "RETR",
                ..
            })
        ));
        let seen: HashSet<String> = list.iter().filter_map(|m| m.uid.clone()).collect();
        assert!(pop.new_messages(&seen).await.unwrap().is_empty());
        pop.delete(3).await.unwrap();
        pop.noop().await.unwrap();
        pop.quit().await.unwrap();
        assert_eq!(d.count(), 2);

        // IMAP: the two left, read, flagged, and a third told by IDLE.
        let mut s = ImapSession::connect(&imap, imap_plain()).await.unwrap();
        assert!(matches!(
            s.login("testuser", "wrong").await,
            Err(ImapError::Command { .. })
        ));
        s.login("testuser", "testpass").await.unwrap();
        let folders = s.list_folders(true).await.unwrap();
        assert!(folders.iter().any(|f| f.name == "INBOX"), "{folders:?}");
        assert_eq!(s.select("INBOX").await.unwrap().exists, 2);
        let uids = s.uid_search(vec![SearchKey::All]).await.unwrap();
        assert_eq!(uids.len(), 2);
        let newest = *uids.last().unwrap();
        let mut whole = Vec::new();
        let n = s.fetch_message_to(newest, &mut whole).await.unwrap();
        assert_eq!(n, whole.len() as u64);
        assert!(whole.starts_with(b"From: ") && whole.ends_with(b".leading dot\r\n"));
        let header = s.fetch_header(newest).await.unwrap();
        assert!(whole.starts_with(&header));
        let set = mailwire::blocking::imap::uid_set(&[newest]).unwrap();
        s.store_flags(&set, StoreKind::Add, vec![Flag::Flagged])
            .await
            .unwrap();
        let sums = s
            .fetch_summaries(&set, SummaryItems::flags_only(), None)
            .await
            .unwrap();
        assert!(sums[0].flags.contains(&Flag::Flagged), "{sums:?}");

        let port = d.imap_port;
        let other = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let mut t = mailwire::blocking::ImapSession::connect(
                &format!("127.0.0.1:{port}"),
                imap_plain(),
            )
            .unwrap();
            t.login("testuser", "testpass").unwrap();
            t.append("INBOX", Vec::new(), b"Subject: ping\r\n\r\nx\r\n")
                .unwrap();
            t.logout().unwrap();
        });
        let (exists, took) = wait_exists(&mut s).await;
        other.join().unwrap();
        assert_eq!(exists, Some(3), "IDLE told of the appended message");
        assert!(took < Duration::from_secs(10), "{took:?}");
        // The session goes on after IDLE.
        assert_eq!(s.uid_search(vec![SearchKey::All]).await.unwrap().len(), 3);
        // The folder, COPY, STATUS, SORT and THREAD calls on tokio.
        s.create_folder("Kept").await.unwrap();
        let all = mailwire::blocking::imap::uid_set(&uids).unwrap();
        let copies = s.copy_messages(&all, "Kept").await.unwrap();
        assert_eq!(copies.map(|c| c.len()), Some(2));
        assert_eq!(s.folder_status("Kept").await.unwrap().messages, Some(2));
        let by_date = mailwire::imap::SortCriterion {
            reverse: true,
            key: mailwire::imap::SortKey::Arrival,
        };
        let sorted = s
            .uid_sort(mailwire::imap::Vec1::one(by_date), vec![])
            .await
            .unwrap();
        // The appended message arrived last (the two delivered within a
        // second keep their mailbox order, RFC 5256 §3's tie rule).
        let mut older = sorted[1..].to_vec();
        older.sort_unstable();
        assert!(sorted[0] > uids[1] && older == uids, "{sorted:?}");
        let threads = s
            .uid_thread(mailwire::imap::ThreadAlgorithm::References, vec![])
            .await
            .unwrap();
        assert_eq!(threads.len(), 3, "three unrelated messages: {threads:?}");
        s.unselect().await.unwrap();
        s.delete_folder("Kept").await.unwrap();
        s.logout().await.unwrap();
    });
}

#[test]
#[ignore = "interop: starts the mailserver"]
fn tokio_sessions_against_the_mailserver_and_idle_told_of_smtp_delivery() {
    let dir = common::scratch("tokio-sessions");
    let pop3 = format!("127.0.0.1:{}", free_port());
    let srv = common::MailServer::start(&dir.join("data"), &["--pop3", &pop3]);
    let imap = srv.imap.expect("imap port").to_string();
    let smtp_addr = srv.smtp().to_string();
    block_on(async {
        let mut o = SmtpOptions::new();
        o.transport.security = Security::Plain;
        let mut smtp = SmtpTransport::connect(&smtp_addr, o.clone()).await.unwrap();
        for i in 1..=2 {
            let m = format!(
                "From: a@example.org\r\nTo: demo@localhost\r\nSubject: tokio {i}\r\n\r\nHello {i}.\r\n"
            );
            assert!(smtp.send(m.as_bytes()).await.unwrap().all_delivered());
        }
        smtp.quit().await.unwrap();
        srv.wait_messages("demo", 2, Duration::from_secs(10));

        let mut pop = Pop3Session::connect(&pop3, pop3_plain("demo", "demo"))
            .await
            .unwrap();
        let list = pop.list().await.unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        let mut got = Vec::new();
        pop.retrieve(list[0].number, &mut got).await.unwrap();
        assert_eq!(list[0].size, got.len() as u64);
        assert!(String::from_utf8(got).unwrap().contains("Subject: tokio "));
        pop.quit().await.unwrap();

        let mut s = ImapSession::connect(&imap, imap_plain()).await.unwrap();
        s.login("demo", "demo").await.unwrap();
        assert_eq!(s.select("INBOX").await.unwrap().exists, 2);
        let uids = s.uid_search(vec![SearchKey::All]).await.unwrap();
        let mut newest = Vec::new();
        s.fetch_message_to(*uids.last().unwrap(), &mut newest)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&newest).contains("Subject: tokio "));

        // IDLE: a message delivered by SMTP meanwhile arrives as EXISTS.
        let deliver = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            let mut smtp = mailwire::blocking::SmtpTransport::connect(&smtp_addr, o).unwrap();
            let m =
                b"From: a@example.org\r\nTo: demo@localhost\r\nSubject: during idle\r\n\r\nHi.\r\n";
            assert!(smtp.send(m).unwrap().all_delivered());
            smtp.quit().unwrap();
        });
        let (exists, took) = wait_exists(&mut s).await;
        deliver.join().unwrap();
        assert_eq!(exists, Some(3), "IDLE told of the SMTP delivery");
        assert!(took < Duration::from_secs(10), "{took:?}");
        let uids = s.uid_search(vec![SearchKey::All]).await.unwrap();
        let mut last = Vec::new();
        s.fetch_message_to(*uids.last().unwrap(), &mut last)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&last).contains("Subject: during idle"));
        s.logout().await.unwrap();
    });
    drop(srv);
    let _ = std::fs::remove_dir_all(dir);
}

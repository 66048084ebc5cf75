//! Corpus tests: every message under ../shared/corpus/mime/ parses without
//! panic and writes back byte for byte; the subject, first From address
//! and date of many of them are checked against known values (each one
//! agreed with Python's `email` package, a second opinion, when the table
//! was written; where Python and mailwire differ, e.g. raw 8-bit subjects,
//! the message is left out of the table).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};

use mailwire_message::Message;

fn corpus() -> Option<PathBuf> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    if dir.join("mime").is_dir() {
        return Some(dir.to_path_buf());
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("corpus folder {} is missing", dir.display());
    }
    eprintln!("skipping: corpus folder {} is missing", dir.display());
    None
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_file_parses_and_round_trips() {
    let Some(root) = corpus() else { return };
    let mut files = Vec::new();
    walk(&root.join("mime"), &mut files);
    assert!(files.len() > 100, "only {} files", files.len());
    let mut with_fields = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let m = Message::parse(&bytes);
        let s = m.summary();
        // Exercise every accessor.
        let _ = (
            m.received(),
            m.keywords(),
            m.resent_blocks(),
            m.priority(),
            m.auto_submitted(),
            m.return_path(),
        );
        let _ = (
            m.list("List-Post"),
            m.list_id(),
            s.in_reply_to.len(),
            s.references.len(),
        );
        if !m.fields().is_empty() {
            with_fields += 1;
        }
        let mut out = Vec::new();
        m.write_to(&mut out);
        assert!(out == bytes, "{} does not round-trip", f.display());
        for d in &s.defects {
            assert!(
                d.offset <= bytes.len(),
                "{}: defect {d} past the end",
                f.display()
            );
        }
    }
    assert!(with_fields > 100);
}

#[rustfmt::skip]
const EXPECTED: &[(&str, &str, &str, &str)] = &[
    ("mime/dovecot-malformed/015.eml", "Hello world", "test@example.org", "2007-05-23T04:58:08+03:00"),
    ("mime/dovecot-malformed/020.eml", "test multipart, related first, with image", "test@example.com", "2016-02-27T17:11:45+01:00"),
    ("mime/dovecot-malformed/021.eml", "test multipart, related first", "test@example.com", "2016-02-27T17:11:45+01:00"),
    ("mime/dovecot-samples/011.eml", "small image", "dummy@xyz-webserver.abcd-gestion.local", "2022-07-18T17:19:52+02:00"),
    ("mime/dovecot-samples/014.eml", "[Shapelib] need some help", "calpas2007@yahoo.fr", "2011-03-09T11:19:45+00:00"),
    ("mime/dovecot-samples/015.eml", "Re: (#5290765) Proxmox Shop E-Mails", "jsterr@proxforge.de", "2026-02-13T22:38:16+01:00"),
    ("mime/dovecot-samples/016.eml", "25 HTML + embedded image", "test@example.com", "2017-12-30T19:26:23+01:00"),
    ("mime/dovecot-samples/017.eml", "27 plaintext + (HTML + embedded image)", "test@example.com", "2017-12-30T19:36:00+01:00"),
    ("mime/dovecot-samples/018.eml", "29 (HTML + embedded image) + attachment", "test@example.com", "2017-12-30T20:19:46+01:00"),
    ("mime/dovecot-samples/019.eml", "30 plaintext + (HTML + embedded image) + attachment", "test@example.com", "2017-12-30T20:50:01+01:00"),
    ("mime/hunny-samples/000.eml", "Test message from Microsoft Outlook 00", "doug@example.com", "2000-05-17T19:35:05-04:00"),
    ("mime/hunny-samples/001.eml", "Die Hasen und die Frösche (Microsoft Outlook 00)", "doug@example.com", "2000-05-17T19:18:39-04:00"),
    ("mime/hunny-samples/002.eml", "Die Hasen und die Frösche", "dwsauder@example.com", "2000-05-19T00:31:00-04:00"),
    ("mime/hunny-samples/003.eml", "Die Hasen und die Frösche", "dwsauder@example.com", "2000-05-19T00:29:55-04:00"),
    ("mime/hunny-samples/004.eml", "The Hare and the Tortoise", "dwsauder@example.com", "2000-05-19T01:13:19-04:00"),
    ("mime/hunny-samples/005.eml", "Die Hasen und die Frösche (Microsoft Outlook 00)", "doug@example.com", "2000-05-17T19:20:24-04:00"),
    ("mime/hunny-samples/006.eml", "Test message from Microsoft Outlook 00", "doug@example.com", "2000-05-17T19:36:13-04:00"),
    ("mime/hunny-samples/007.eml", "Die Hasen und die Frösche (Microsoft Outlook 00)", "doug@example.com", "2000-05-17T19:15:35-04:00"),
    ("mime/hunny-samples/008.eml", "Test message from Microsoft Outlook 00", "doug@example.com", "2000-05-17T19:32:47-04:00"),
    ("mime/hunny-samples/011.eml", "Die Hasen und die Frösche", "dwsauder@example.com", "2000-05-19T00:17:39-04:00"),
    ("mime/hunny-samples/012.eml", "Die Hasen und die Frösche (Microsoft Outlook 00)", "doug@example.com", "2000-05-17T19:30:20-04:00"),
    ("mime/hunny-samples/013.eml", "Die Hasen und die Frösche (Microsoft Outlook 00)", "doug@example.com", "2000-05-17T19:13:51-04:00"),
    ("mime/hunny-samples/014.eml", "Test message from Microsoft Outlook 00", "doug@example.com", "2000-05-17T19:38:28-04:00"),
    ("mime/hunny-samples/017.eml", "The Hare and the Tortoise", "dwsauder@example.com", "2000-05-19T00:50:08-04:00"),
    ("mime/hunny-samples/019.eml", "Test message from Microsoft Outlook 00", "doug@example.com", "2000-05-17T19:42:10-04:00"),
    ("mime/hunny-samples/021.eml", "Test message from Microsoft Outlook 00", "doug@example.com", "2000-05-17T19:47:24-04:00"),
    ("mime/hunny-samples/028.eml", "Test message from Microsoft Outlook 00", "doug@example.com", "2000-05-17T19:44:45-04:00"),
    ("mime/hunny-samples/029.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:26:16-04:00"),
    ("mime/hunny-samples/030.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:28:27-04:00"),
    ("mime/hunny-samples/031.eml", "Test message from PINE", "doug@penguin.example.com", "2000-05-19T09:55:48-04:00"),
    ("mime/hunny-samples/032.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:08:29-04:00"),
    ("mime/hunny-samples/033.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:30:41-04:00"),
    ("mime/hunny-samples/034.eml", "Die Hasen und die Fr+APY-sche", "dwsauder@example.com", "2000-05-17T23:33:43-04:00"),
    ("mime/hunny-samples/035.eml", "Die Hasen und die Frösche (Netscape Messenger 4.7)", "dwsauder@example.com", "2000-05-17T23:13:09-04:00"),
    ("mime/hunny-samples/036.eml", "Die Hasen und die Frösche", "doug@penguin.example.com", "2000-05-19T10:18:03-04:00"),
    ("mime/hunny-samples/037.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:42:31-04:00"),
    ("mime/hunny-samples/038.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:24:11-04:00"),
    ("mime/hunny-samples/039.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:18:27-04:00"),
    ("mime/hunny-samples/040.eml", "Die Hasen und die Frösche", "dwsauder@example.com", "2000-05-17T23:41:07-04:00"),
    ("mime/hunny-samples/041.eml", "PNG graphic", "doug@penguin.example.com", "2000-05-19T10:23:16-04:00"),
    ("mime/hunny-samples/042.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:50:04-04:00"),
    ("mime/hunny-samples/043.eml", "Die Hasen und die Frösche (Netscape Communicator 4.7)", "dwsauder@example.com", "2000-05-17T22:47:43-04:00"),
    ("mime/hunny-samples/044.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:06:04-04:00"),
    ("mime/hunny-samples/045.eml", "Die Hasen und die Frösche", "doug@penguin.example.com", "2000-05-19T10:26:12-04:00"),
    ("mime/hunny-samples/046.eml", "Die Hasen und die Frösche (Netscape Communicator 4.7)", "dwsauder@example.com", "2000-05-17T22:31:57-04:00"),
    ("mime/hunny-samples/047.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:47:08-04:00"),
    ("mime/hunny-samples/048.eml", "Test message from Netscape Communicator 4.7", "dwsauder@example.com", "2000-05-17T23:44:12-04:00"),
    ("mime/hunny-samples/049.eml", "Test message from Microsoft Outlook 00", "doug@example.com", "2000-05-17T19:58:13-04:00"),
    ("mime/hunny-samples/053.eml", "Die Hasen und die Frösche (Microsoft Outlook 00)", "doug@example.com", "2000-05-17T19:27:04-04:00"),
    ("mime/mimekit-messages/bounce.txt", "Undelivered Mail Returned to Sender", "MAILER-DAEMON@hmail.jitbit.com", "2022-01-26T04:06:48-05:00"),
    ("mime/mimekit-messages/delivery-status-no-blank-line.txt", "email delivery error", "postmaster@mm1.sprynet.com", "1996-07-29T02:13:08-07:00"),
    ("mime/mimekit-messages/delivery-status.txt", "email delivery error", "postmaster@mm1.sprynet.com", "1996-07-29T02:13:08-07:00"),
    ("mime/mimekit-messages/empty-multipart.txt", "test of empty multipart/alternative", "mimekit@example.com", "2013-11-12T09:12:42-05:00"),
    ("mime/mimekit-messages/epilogue.txt", "Re: The Once and Future OS", "pcu@umich.edu", "1995-05-07T16:21:03+00:00"),
    ("mime/mimekit-messages/issue1130.txt", "Test of text body with format=flowed; delsp=yes", "unit-tests@mimekit.net", "2025-01-09T10:26:14-05:00"),
    ("mime/mimekit-messages/issue358.txt", "R: R: R: I: FR-selca LA selcaE", "jang.abcdef@xyzlinu", "2017-11-15T14:16:14+00:00"),
    ("mime/mimekit-messages/japanese.txt", "日本語メールテスト (testing Japanese emails)", "x@x.com", "2015-07-22T01:02:29+09:00"),
    ("mime/mimekit-messages/missing-subtype.txt", "Test of an invalid mime-type", "someone@somewhere.com", "2015-12-29T09:06:17-04:00"),
    ("mime/mimekit-messages/simple-embedded-message.eml", "test of simple embedded message/rfc822 part", "mimekit@example.com", "2013-11-12T09:12:42-05:00"),
    ("mime/mimekit-messages/simple-multipart.eml", "this is a simple multipart message", "mimekit@example.com", "2013-11-12T09:12:42-05:00"),
    ("mime/mimekit-messages/stack-overflow.txt", "Message Subject", "test@test.com", "2017-11-03T12:00:00-08:00"),
    ("mime/mimekit-messages/startrek.eml", "Star Trek Party!", "nsb", "1991-09-19T12:41:43-04:00"),
    ("mime/mimekit-partial/message-partial.0.eml", "Photo of a girl with feather earrings", "anonymous@mit.edu", "2017-03-28T18:40:37-04:00"),
    ("mime/mimekit-partial/message-partial.1.eml", "Photo of a girl with feather earrings", "anonymous@mit.edu", "2017-03-28T18:40:37-04:00"),
    ("mime/mimekit-partial/message-partial.2.eml", "Photo of a girl with feather earrings", "anonymous@mit.edu", "2017-03-28T18:40:37-04:00"),
    ("mime/mimekit-partial/message-partial.eml", "Photo of a girl with feather earrings", "anonymous@mit.edu", "2017-03-28T18:40:37-04:00"),
    ("mime/mimekit-partial/rfc2046.0.eml", "Audio mail (part 1 of 2)", "Bill@host.com", "1993-03-26T12:59:38-05:00"),
    ("mime/mimekit-partial/rfc2046.1.eml", "Audio mail (part 2 of 2)", "Bill@host.com", "1993-03-26T12:59:38-05:00"),
    ("mime/mimekit-partial/rfc2046.eml", "Audio mail", "Bill@host.com", "1993-03-26T12:59:38-05:00"),
    ("mime/rfc-examples/000.eml", "A multipart example", "nsb@nsb.fv.com", "1994-10-07T16:15:05-07:00"),
    ("mime/rfc-examples/003.eml", "Formatted text mail", "nsb@bellcore.com", "1993-03-22T09:41:09-08:00"),
    ("mime/rfc-examples/004.eml", "Internet Digest, volume 42", "Moderator-Address", "1994-03-22T13:34:51+00:00"),
    ("mime/rfc-examples/005.eml", "Sample message", "nsb@bellcore.com", "1993-03-21T23:56:48-08:00"),
    ("mime/rfc-examples/009.eml", "whatever", "whoever@example.com", "2009-10-10T00:30:04+02:00"),];

#[test]
fn corpus_values() {
    let Some(root) = corpus() else { return };
    assert!(EXPECTED.len() >= 30);
    for (file, subject, from, date) in EXPECTED {
        let bytes = std::fs::read(root.join(file)).unwrap();
        let m = Message::parse(&bytes);
        let s = m.summary();
        let got_subject = s.subject.as_deref().unwrap_or_default();
        // Compare with runs of white space collapsed (folding).
        let norm = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(norm(got_subject), norm(subject), "{file}: subject");
        assert_eq!(
            s.from.first().map(|m| m.addr_spec()),
            Some(*from),
            "{file}: from"
        );
        assert_eq!(
            s.date.map(|d| d.to_rfc3339()).as_deref(),
            Some(*date),
            "{file}: date"
        );
    }
}

//! Differential tests of the IMAP server kit against Dovecot
//! (../shared/PEERS.md): SEARCH, ESEARCH, SEARCHRES, SORT and THREAD over
//! the MIME corpus, and the mailbox bookkeeping (flags, EXPUNGE, QRESYNC
//! VANISHED (EARLIER), CHANGEDSINCE) in [`qresync_against_dovecot`].
//!
//! Every message of ../shared/corpus/mime (all folders; files holding NUL
//! are left out, IMAP cannot APPEND them without BINARY), plus a few
//! written here for keys the corpus does not exercise (Bcc, encoded
//! From), is APPENDed to a Dovecot Maildir with CRLF line ends, known
//! flags, keywords and INTERNALDATEs, half of them in a first session (so
//! they are not `\Recent` in the second). The second session STOREs flags,
//! FETCHes `FLAGS MODSEQ`, then runs the queries below. The kit holds the
//! same messages in a [`Mailbox`], replays the same STOREs (its flags must
//! equal Dovecot's), takes Dovecot's mod-sequences (the one number it
//! cannot predict) and answers every query; the UIDs must be the same.
//! What still differs is listed in [`KNOWN`] with its reason; a new
//! difference, or a listed one that went away, fails the test.
//!
//! `#[ignore]`d: run with `cargo test --release -p mailwire --test interop_imap_search -- --ignored --test-threads=1`
//! after `bash .ci/install-peers`. A missing Dovecot or corpus skips the
//! test, or fails it when `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::dovecot::Dovecot;
use mailwire::imap::kit::Message;
use mailwire::imap::kit::mailbox::{Flags, Mailbox};
use mailwire::imap::kit::search::{LazyContent, MessageMeta, Query, SearchContext, search};
use mailwire::imap::kit::{sort, thread};
use mailwire::imap::{
    Code, CommandBody, Data, Date, DateTime, ESearchItem, FetchItem, Flag, FragmentOptions,
    Fragmenter, Frame, Response, SequenceSet, StatusKind, Thread, ThreadAlgorithm, parse,
};

/// Differences left, as (query, the difference, reasons). Each listed
/// difference must still be there, exactly; any other query must agree.
/// All of them come from how a broken message is read (mailwire-mime and
/// mailwire-message versus Dovecot's parser), none from the evaluation.
const KNOWN: &[(&str, &str, &[&str])] = &[
    (
        "UID SEARCH RETURN (ALL) SENTBEFORE 1-Jan-2000",
        "only dovecot: [\"20\"]; only kit: [\"119\"]",
        &[BAD_TIME, BOM],
    ),
    (
        "UID SEARCH RETURN (ALL) SENTSINCE 1-Jan-2016",
        "only dovecot: []; only kit: [\"20\"]",
        &[BAD_TIME],
    ),
    (
        "UID SEARCH RETURN (ALL) NOT SENTSINCE 1-Jan-1980",
        "only dovecot: [\"20\"]; only kit: [\"119\"]",
        &[BAD_TIME, BOM],
    ),
    (
        "UID SEARCH RETURN (ALL) TO example",
        "only dovecot: [\"119\"]; only kit: []",
        &[BOM],
    ),
    (
        "UID SEARCH RETURN (ALL) HEADER Content-Type multipart",
        "only dovecot: [\"119\", \"121\"]; only kit: []",
        &[BOM, NOT_A_FIELD],
    ),
    (
        "UID SEARCH RETURN (ALL) HEADER Content-Type \"\"",
        "only dovecot: [\"119\", \"121\"]; only kit: []",
        &[BOM, NOT_A_FIELD],
    ),
    (
        "UID SEARCH RETURN (ALL) HEADER X-Mailer \"\"",
        "only dovecot: [\"121\"]; only kit: []",
        &[NOT_A_FIELD],
    ),
    (
        "UID SEARCH RETURN (ALL) HEADER MIME-Version 1.0",
        "only dovecot: [\"119\", \"121\"]; only kit: []",
        &[BOM, NOT_A_FIELD],
    ),
    (
        "UID SEARCH RETURN (ALL) BODY the",
        "only dovecot: []; only kit: [\"38\", \"97\", \"98\", \"99\"]",
        &[NOT_A_FIELD],
    ),
    (
        "UID SEARCH RETURN (ALL) BODY attachment",
        "only dovecot: []; only kit: [\"23\"]",
        &[NOT_A_FIELD],
    ),
    (
        "UID SEARCH RETURN (ALL) TEXT mime",
        "only dovecot: []; only kit: [\"146\"]",
        &[BASE64_MESSAGE],
    ),
    (
        "UID SORT (DATE) UTF-8 ALL",
        "same members, 15 places differ, the first at word 94: dovecot [\"119\", \"97\", \"98\", \"99\", \"101\", \"112\"] kit [\"97\", \"98\", \"99\", \"101\", \"112\", \"31\"]",
        &[BOM],
    ),
    (
        "UID SORT (REVERSE DATE) UTF-8 ALL",
        "same members, 15 places differ, the first at word 1: dovecot [\"20\", \"30\", \"100\", \"140\", \"38\", \"120\"] kit [\"30\", \"100\", \"140\", \"20\", \"38\", \"120\"]",
        &[BAD_TIME],
    ),
    (
        "UID SORT (SUBJECT) UTF-8 ALL",
        "same members, 48 places differ, the first at word 32: dovecot [\"124\", \"125\", \"146\", \"38\", \"39\", \"40\"] kit [\"119\", \"124\", \"125\", \"146\", \"38\", \"39\"]",
        &[BOM, RAW_8BIT],
    ),
    (
        "UID SORT (SUBJECT DATE) UTF-8 ALL",
        "same members, 51 places differ, the first at word 29: dovecot [\"125\", \"146\", \"36\", \"100\", \"30\", \"10\"] kit [\"119\", \"125\", \"146\", \"36\", \"100\", \"30\"]",
        &[BOM, RAW_8BIT],
    ),
    (
        "UID SORT (TO) UTF-8 ALL",
        "same members, 7 places differ, the first at word 38: dovecot [\"124\", \"125\", \"145\", \"146\", \"149\", \"130\"] kit [\"119\", \"124\", \"125\", \"145\", \"146\", \"149\"]",
        &[BOM],
    ),
    (
        "UID SORT (DISPLAYFROM) UTF-8 ALL",
        "same members, 2 places differ, the first at word 147: dovecot [\"147\", \"139\"] kit [\"139\", \"147\"]",
        &[BARE_WORD],
    ),
    (
        "UID SORT (DISPLAYTO) UTF-8 ALL",
        "same members, 33 places differ, the first at word 38: dovecot [\"124\", \"125\", \"145\", \"146\", \"149\", \"130\"] kit [\"119\", \"124\", \"125\", \"145\", \"146\", \"149\"]",
        &[BOM],
    ),
    (
        "UID SORT (REVERSE SUBJECT REVERSE SIZE) UTF-8 ALL",
        "same members, 49 places differ, the first at word 69: dovecot [\"119\", \"116\", \"65\", \"70\", \"63\", \"95\"] kit [\"116\", \"78\", \"86\", \"89\", \"65\", \"44\"]",
        &[BOM, RAW_8BIT],
    ),
    (
        "UID THREAD ORDEREDSUBJECT UTF-8 ALL",
        "only dovecot: [\"(95))\", \"(56\"]; only kit: [\"(56)\", \"(95)\"]",
        &[RAW_8BIT],
    ),
    (
        "UID THREAD REFERENCES UTF-8 ALL",
        "only dovecot: [\"(95))\", \"((56)\"]; only kit: [\"(56)\", \"(95)\"]",
        &[RAW_8BIT],
    ),
];

/// mimekit-messages/feedback-report.txt (UID 119) begins with a UTF-8 BOM:
/// mailwire-mime finds no header field in it (it is all body); Dovecot
/// reads the BOM as part of the first field's name and the other fields
/// normally (Date:, To:, Content-Type: ...).
const BOM: &str = "UTF-8 BOM before the header";
/// A header line that is neither a field nor a continuation: issue358.txt
/// (UID 121, a wrapped X-header), the nested header of
/// dovecot-samples/015.eml (UID 38, unindented continuations), the
/// headerless message/rfc822 of dovecot-malformed/022.eml (UID 23) and
/// photo.b64/.uu (UIDs 97-99, no header at all). mailwire-mime ends the
/// header at that line and makes the rest body; Dovecot reads header lines
/// up to the blank line, so BODY finds nothing there and HEADER finds the
/// later fields.
const NOT_A_FIELD: &str = "header ends at a line that is not a field";
/// dovecot-malformed/019.eml (UID 20): `Date: Tue, 7 Apr 2026 10:00:t <...>`.
/// mailwire-message keeps the valid date (7 Apr 2026); Dovecot drops the
/// field (SENT* then see 1 Jan 1970, SORT DATE the INTERNALDATE).
const BAD_TIME: &str = "Date: with a broken time";
/// rfc-examples/008.eml (UID 146) holds a base64-encoded message/rfc822
/// (RFC 2046 §5.2.1 forbids it): kit::Message decodes and parses it, so
/// TEXT finds its header; Dovecot parses the encoded text.
const BASE64_MESSAGE: &str = "base64-encoded message/rfc822";
/// hunny-samples/020, 022, 027, 052.eml (UIDs 63, 65, 70, 95) carry raw
/// Latin-1 bytes in Subject:. mailwire-message decodes them as Latin-1,
/// so their base subject equals the RFC 2047 one of 001, 007, 013 ...;
/// Dovecot does not, so it sorts them apart and makes two threads.
const RAW_8BIT: &str = "raw 8-bit Subject:";
/// rfc-examples/001.eml (UID 139) has `From: Whomever`, no address.
/// The kit's DISPLAYFROM key is the bare word, equal to the display name
/// of UID 147 (`Whomever <whoever@...>`), so sequence order decides;
/// Dovecot completes the broken address, its key sorts after.
const BARE_WORD: &str = "From: without an address";

/// SEARCH keys, run as `UID SEARCH <keys>` (`{MODSEQ}` is replaced by a
/// mod-sequence in the middle of the mailbox's range).
const QUERIES: &[&str] = &[
    "ALL",
    "ANSWERED",
    "UNANSWERED",
    "DELETED",
    "UNDELETED",
    "DRAFT",
    "UNDRAFT",
    "FLAGGED",
    "UNFLAGGED",
    "SEEN",
    "UNSEEN",
    "KEYWORD $Label1",
    "UNKEYWORD $Label1",
    "KEYWORD urgent",
    "KEYWORD $Label2",
    "KEYWORD NeverSet",
    "UNKEYWORD Work",
    "BEFORE 1-Jun-2003",
    "ON {ON}",
    "SINCE 1-Jun-2003",
    "SENTBEFORE 1-Jan-2000",
    "SENTON 19-Aug-2022",
    "SENTON 30-Dec-2017",
    "SENTSINCE 1-Jan-2016",
    "NOT SENTSINCE 1-Jan-1980",
    "LARGER 10000",
    "SMALLER 1000",
    "LARGER 3000 SMALLER 6000",
    "FROM sauder",
    "FROM \"doug@example.com\"",
    "FROM mimekit",
    "FROM \"Nathaniel Borenstein\"",
    "FROM andré",
    "TO example",
    "CC postmaster",
    "CC nsb",
    "BCC hidden",
    "SUBJECT test",
    "SUBJECT \"re:\"",
    "SUBJECT message",
    "SUBJECT café",
    "HEADER Message-ID \"\"",
    "HEADER Content-Type multipart",
    "HEADER Content-Type \"\"",
    "HEADER X-Mailer \"\"",
    "HEADER MIME-Version 1.0",
    "HEADER Received smtp",
    "BODY the",
    "BODY attachment",
    "BODY \"Doug Sauder\"",
    "BODY déjà",
    "TEXT boundary",
    "TEXT mime",
    "TEXT sauder",
    "TEXT déjà",
    "1:10",
    "20:*",
    "*",
    "UID 3:7,20:25,190:*",
    "UID 10:1",
    "NOT SEEN",
    "OR FLAGGED DELETED",
    "OR (FROM doug SUBJECT test) NOT LARGER 5000",
    "NOT (OR SEEN ANSWERED)",
    "OR OR DRAFT KEYWORD Work NOT 5:*",
    "(SEEN FLAGGED) (UNDELETED)",
    "MODSEQ {MODSEQ}",
    "NOT MODSEQ {MODSEQ}",
    "OLDER 86400",
    "YOUNGER 86400",
];

/// Queries on `\Recent`, asked in the session that has the recent messages.
const RECENT: &[&str] = &["RECENT", "NEW", "OLD", "OR NEW FLAGGED", "NOT RECENT SEEN"];

/// ESEARCH queries: compared item by item.
const ESEARCH: &[&str] = &[
    "UID SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED",
    "UID SEARCH RETURN () SEEN",
    "UID SEARCH RETURN (COUNT) KEYWORD NeverSet",
    "SEARCH RETURN (MIN MAX) UNSEEN",
    "UID SEARCH RETURN (ALL) MODSEQ {MODSEQ}",
];

/// SORT criteria, run as `UID SORT (<criteria>) UTF-8 ALL`.
const SORTS: &[&str] = &[
    "ARRIVAL",
    "REVERSE ARRIVAL",
    "DATE",
    "REVERSE DATE",
    "SIZE",
    "SUBJECT",
    "SUBJECT DATE",
    "FROM",
    "TO",
    "CC",
    "DISPLAYFROM",
    "DISPLAYTO",
    "REVERSE SUBJECT REVERSE SIZE",
];

/// The STOREs of the second session, replayed on the kit's mailbox.
const STORES: &[&str] = &[
    "STORE 1:20 +FLAGS (\\Flagged)",
    "STORE 10:30 -FLAGS (\\Seen $Label1)",
    "STORE 40,45,50 FLAGS (\\Answered urgent)",
    "UID STORE 60:* +FLAGS.SILENT ($Label2)",
    "STORE 70:75 +FLAGS (\\Deleted)",
];

/// Messages for keys the corpus does not exercise.
const EXTRA: &[&[u8]] = &[
    b"From: =?iso-8859-1?q?Andr=E9?= Pirard <pirard@example.be>\r\nTo: list@example.org\r\n\
Bcc: hidden@example.net\r\nSubject: =?utf-8?q?caf=C3=A9?= au lait\r\nDate: Mon, 7 Apr 2003 23:30:00 -0500\r\n\
Message-ID: <extra1@example.be>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nD=E9j=E0 vu.\r\n",
    b"From: someone@example.org\r\nSubject: Re: =?utf-8?q?caf=C3=A9?= au lait\r\n\
Date: Tue, 8 Apr 2003 10:00:00 +0000\r\nIn-Reply-To: <extra1@example.be>\r\n\r\nno\r\n",
];

/// The corpus messages (files holding NUL left out: IMAP cannot APPEND
/// them without BINARY) and the messages of [`EXTRA`], with CRLF line ends.
fn corpus() -> Option<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = common::corpus::mime_messages(true)?
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| !m.is_empty() && !m.contains(&0))
        .collect();
    out.extend(EXTRA.iter().map(|m| common::corpus::crlf(m)));
    Some(out)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A civil date from days since 1970 (the inverse of days_from_civil).
fn civil(days: i64) -> (u16, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as u16, m as u8, d as u8)
}

fn datetime(unix: i64) -> DateTime {
    let (y, m, d) = civil(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    DateTime::new(
        Date::new(y, m, d).unwrap(),
        (s / 3600) as u8,
        (s / 60 % 60) as u8,
        (s % 60) as u8,
        0,
    )
    .unwrap()
}

fn imap_date(d: &DateTime) -> String {
    let (h, mi, s) = d.time();
    let date = d.date();
    format!(
        "{:02}-{}-{} {h:02}:{mi:02}:{s:02} +0000",
        date.day(),
        MONTHS[usize::from(date.month()) - 1],
        date.year()
    )
}

/// The flags a message is APPENDed with.
fn append_flags(i: usize) -> Vec<&'static str> {
    let mut f = Vec::new();
    if i.is_multiple_of(3) {
        f.push("\\Seen");
    }
    if i.is_multiple_of(5) {
        f.push("\\Answered");
    }
    if i.is_multiple_of(7) {
        f.push("\\Deleted");
    }
    if i.is_multiple_of(11) {
        f.push("\\Draft");
    }
    if i % 4 == 1 {
        f.push("$Label1");
    }
    if i % 6 == 2 {
        f.push("Work");
    }
    f
}

fn append(tag: usize, msg: &[u8], flags: &[&str], date: &DateTime) -> Vec<u8> {
    let mut out = format!(
        "ap{tag} APPEND INBOX ({}) \"{}\" {{{}+}}\r\n",
        flags.join(" "),
        imap_date(date),
        msg.len()
    )
    .into_bytes();
    out.extend_from_slice(msg);
    out.extend_from_slice(b"\r\n");
    out
}

/// Command text with non-ASCII search strings sent as literals, and
/// CHARSET UTF-8 when there are any.
fn with_literals(keys: &str) -> (String, bool) {
    let mut out = String::new();
    let mut utf8 = false;
    for (n, word) in keys.split(' ').enumerate() {
        if n > 0 {
            out.push(' ');
        }
        if word.is_ascii() {
            out.push_str(word);
        } else {
            utf8 = true;
            out.push_str(&format!("{{{}+}}\r\n{word}", word.len()));
        }
    }
    (out, utf8)
}

/// A command parsed by the codec (the text is leaked: a test's handful of
/// commands borrow from it for the whole run).
fn command_body(text: &str) -> CommandBody<'static> {
    let cmd: &'static str = Box::leak(format!("x {text}\r\n").into_boxed_str());
    parse::command(cmd.as_bytes())
        .unwrap_or_else(|e| panic!("{e:?}: {cmd}"))
        .0
        .body
}

struct Kit {
    mailbox: Mailbox,
    messages: Vec<Message>,
    dates: Vec<DateTime>,
    sizes: Vec<u64>,
    modseqs: Vec<u64>,
    now: i64,
}

impl Kit {
    fn items(&self) -> impl Iterator<Item = (MessageMeta<'_>, LazyContent<'_>)> {
        self.mailbox.entries().iter().enumerate().map(|(i, e)| {
            let mut meta = MessageMeta::of(i as u32 + 1, e, self.dates[i], self.sizes[i]);
            // Dovecot's mod-sequences, the one number the kit cannot predict.
            meta.modseq = self.modseqs[i];
            (meta, LazyContent::borrowed(&self.messages[i]))
        })
    }

    /// The ESEARCH items the kit gives, in the canonical order.
    fn esearch(&self, body: &CommandBody<'_>, saved: &[u32]) -> String {
        let CommandBody::Search {
            return_opts: Some(opts),
            ..
        } = body
        else {
            panic!("{body:?}")
        };
        let (_, numbers, modseq) = self.search(body, saved);
        let r = mailwire::imap::kit::search::SearchResult { numbers, modseq };
        canonical(r.esearch_items(opts).iter().collect())
    }

    fn search(&self, body: &CommandBody<'_>, saved: &[u32]) -> (bool, Vec<u32>, Option<u64>) {
        let CommandBody::Search {
            uid,
            charset,
            criteria,
            ..
        } = body
        else {
            panic!("{body:?}")
        };
        let q = Query::new(criteria, charset.as_ref().map(|c| c.as_bytes())).unwrap();
        let ctx = SearchContext {
            saved,
            ..SearchContext::of(&self.mailbox, self.now)
        };
        let r = search(&q, &ctx, *uid, self.items());
        (*uid, r.numbers, r.modseq)
    }

    /// The messages matching all, for SORT and THREAD over `ALL`.
    fn sort(&self, body: &CommandBody<'_>) -> Vec<u32> {
        let CommandBody::Sort { criteria, uid, .. } = body else {
            panic!()
        };
        sort::sort(criteria, *uid, self.items())
    }

    fn thread(&self, body: &CommandBody<'_>) -> Vec<Thread> {
        let CommandBody::Thread { algorithm, uid, .. } = body else {
            panic!()
        };
        match algorithm {
            ThreadAlgorithm::References => thread::references(*uid, self.items()),
            _ => thread::ordered_subject(*uid, self.items()),
        }
    }
}

#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn search_sort_thread_against_dovecot() {
    let Some(msgs) = corpus() else { return };
    let Some(dovecot) = Dovecot::prepare() else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // INTERNALDATEs: spread over 2000-2010, every tenth within the last hours.
    let dates: Vec<DateTime> = (0..msgs.len())
        .map(|i| {
            if i % 10 == 9 {
                datetime(now - 600 - i as i64 * 60)
            } else {
                datetime(946_684_800 + i as i64 * 2_000_000 + i as i64 * 3_607)
            }
        })
        .collect();
    let half = msgs.len() / 2;

    // Session 1: the first half, then SELECT so they lose \Recent for session 2.
    let mut s1 = Vec::new();
    for (i, m) in msgs.iter().enumerate().take(half) {
        s1.extend(append(i, m, &append_flags(i), &dates[i]));
    }
    s1.extend_from_slice(b"s1 SELECT INBOX\r\nz LOGOUT\r\n");
    untagged(&dovecot.exec_imap(&s1));

    // Session 2: the second half, SELECT, STOREs, FETCH, then the queries.
    let mut s2 = Vec::new();
    for (i, m) in msgs.iter().enumerate().skip(half) {
        s2.extend(append(i, m, &append_flags(i), &dates[i]));
    }
    s2.extend_from_slice(b"sel SELECT INBOX (CONDSTORE)\r\n");
    for (n, s) in STORES.iter().enumerate() {
        s2.extend_from_slice(format!("st{n} {s}\r\n").as_bytes());
    }
    s2.extend_from_slice(b"f FETCH 1:* (UID FLAGS MODSEQ INTERNALDATE RFC822.SIZE)\r\n");
    for (n, q) in RECENT.iter().enumerate() {
        s2.extend_from_slice(format!("rc{n} UID SEARCH RETURN (ALL) {q}\r\n").as_bytes());
    }
    s2.extend_from_slice(b"z LOGOUT\r\n");
    let out2 = dovecot.exec_imap(&s2);
    let session2 = untagged(&out2);

    // The kit's mailbox: the same messages, flags and STOREs.
    let mut mailbox = Mailbox::new(1, true);
    for i in 0..msgs.len() {
        let flags: Vec<Flag<'static>> = append_flags(i).iter().map(|f| parse_flag(f)).collect();
        mailbox.append(Flags::from_flags(&flags), i >= half);
    }
    for s in STORES {
        let CommandBody::Store {
            uid,
            set,
            kind,
            flags,
            ..
        } = command_body(s)
        else {
            panic!()
        };
        let seqs = mailbox.resolve(&set, uid).unwrap();
        mailbox.store(&seqs, kind, &flags, None);
    }
    // Dovecot runs pipelined commands concurrently and interleaves their
    // untagged responses: the FETCH replies are the ones with a UID.
    let mut modseqs = vec![0; msgs.len()];
    let mut fetched = 0;
    for d in &session2 {
        let Data::Fetch { seq, items } = d else {
            continue;
        };
        if !items.iter().any(|i| matches!(i, FetchItem::Uid(_))) {
            continue;
        }
        let i = seq.get() as usize - 1;
        let entry = mailbox.entry(seq.get()).unwrap();
        for item in items {
            match item {
                FetchItem::Uid(u) => assert_eq!(u.get(), entry.uid.get(), "UID of {seq}"),
                FetchItem::Flags(f) => {
                    let recent = f.contains(&Flag::Recent);
                    assert_eq!(recent, entry.recent, "\\Recent of message {seq}");
                    assert_eq!(Flags::from_flags(f), entry.flags, "flags of message {seq}");
                }
                FetchItem::ModSeq(m) => modseqs[i] = *m,
                FetchItem::InternalDate(d) => assert_eq!(*d, dates[i], "INTERNALDATE of {seq}"),
                FetchItem::Rfc822Size(s) => {
                    assert_eq!(*s, msgs[i].len() as u64, "size of {seq}")
                }
                _ => {}
            }
        }
        fetched += 1;
    }
    assert_eq!(fetched, msgs.len());
    let mut sorted = modseqs.clone();
    sorted.sort_unstable();
    let mid = sorted[sorted.len() * 3 / 4].to_string();

    let mut kit = Kit {
        mailbox,
        messages: msgs.iter().map(|m| Message::parse(m.clone())).collect(),
        dates,
        sizes: msgs.iter().map(|m| m.len() as u64).collect(),
        modseqs,
        now,
    };

    let mut differences: Vec<(String, String)> = Vec::new();
    let mut found = 0;
    let mut compare = |cmd: &str, theirs: String, ours: String| {
        if theirs.contains(|c: char| c.is_ascii_digit()) {
            found += 1;
        }
        if theirs != ours {
            differences.push((cmd.to_owned(), diff(&theirs, &ours)));
        }
    };
    let mut asked = 0;
    for (n, q) in RECENT.iter().enumerate() {
        let cmd = format!("UID SEARCH RETURN (ALL) {q}");
        compare(
            &cmd,
            esearch(&session2, &format!("rc{n}")),
            kit.esearch(&command_body(&cmd), &[]),
        );
        asked += 1;
    }

    // Session 3: SEARCH and ESEARCH (correlated by their TAG). Session 2
    // took \Recent with it.
    kit.mailbox.clear_recent();
    let on = imap_date(&kit.dates[20]);
    let on = on.split(' ').next().unwrap();
    let mut script = b"sel EXAMINE INBOX\r\n".to_vec();
    let mut searches: Vec<(String, String)> = Vec::new();
    for (n, q) in QUERIES.iter().enumerate() {
        let q = q.replace("{MODSEQ}", &mid).replace("{ON}", on);
        let (text, utf8) = with_literals(&q);
        let charset = if utf8 { "CHARSET UTF-8 " } else { "" };
        searches.push((
            format!("q{n}"),
            format!("UID SEARCH RETURN (ALL) {charset}{text}"),
        ));
    }
    for (n, q) in ESEARCH.iter().enumerate() {
        searches.push((format!("e{n}"), q.replace("{MODSEQ}", &mid)));
    }
    for (tag, cmd) in &searches {
        script.extend_from_slice(format!("{tag} {cmd}\r\n").as_bytes());
    }
    // SEARCHRES: save FLAGGED, then use `$` (RFC 5182 makes the server
    // wait for the SAVE).
    let res = [
        ("r1", "UID SEARCH RETURN (ALL) $ SEEN"),
        ("r2", "UID SEARCH RETURN (ALL) OR $ DRAFT"),
    ];
    script.extend_from_slice(b"r0 SEARCH RETURN (SAVE) FLAGGED\r\n");
    for (tag, cmd) in res {
        script.extend_from_slice(format!("{tag} {cmd}\r\n").as_bytes());
    }
    script.extend_from_slice(b"z LOGOUT\r\n");
    let session3 = untagged(&dovecot.exec_imap(&script));
    let flagged = kit.search(&command_body("SEARCH FLAGGED"), &[]).1;
    let saved: Vec<u32> = flagged
        .iter()
        .map(|&s| kit.mailbox.uid(s).unwrap())
        .collect();
    for (tag, cmd) in searches
        .iter()
        .map(|(t, c)| (t.as_str(), c.as_str()))
        .chain(res)
    {
        compare(
            cmd,
            esearch(&session3, tag),
            kit.esearch(&command_body(cmd), &saved),
        );
        asked += 1;
    }

    // SORT and THREAD: one session each (their responses carry no tag).
    let alone = |cmd: &str| -> Vec<u8> {
        dovecot.exec_imap(format!("a EXAMINE INBOX\r\nq {cmd}\r\nz LOGOUT\r\n").as_bytes())
    };
    for s in SORTS {
        let cmd = format!("UID SORT ({s}) UTF-8 ALL");
        let out = alone(&cmd);
        let theirs: Vec<Vec<u32>> = untagged(&out)
            .into_iter()
            .filter_map(|d| match d {
                Data::Sort { numbers, .. } => Some(numbers),
                _ => None,
            })
            .collect();
        let words = |v: &[u32]| {
            v.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        compare(
            &cmd,
            theirs
                .iter()
                .map(|v| words(v))
                .collect::<Vec<_>>()
                .join(" / "),
            words(&kit.sort(&command_body(&cmd))),
        );
        asked += 1;
    }
    for a in ["ORDEREDSUBJECT", "REFERENCES"] {
        let cmd = format!("UID THREAD {a} UTF-8 ALL");
        let out = alone(&cmd);
        let theirs: Vec<Vec<Thread>> = untagged(&out)
            .into_iter()
            .filter_map(|d| match d {
                Data::Thread(t) => Some(t),
                _ => None,
            })
            .collect();
        let enc = |t: Vec<Thread>| {
            let r = Response::Data(Data::Thread(t));
            String::from_utf8(mailwire::imap::encode::response_to_vec(&r))
                .unwrap()
                .replace(")(", ") (")
                .trim_end()
                .to_owned()
        };
        compare(
            &cmd,
            theirs.into_iter().map(enc).collect::<Vec<_>>().join(" / "),
            enc(kit.thread(&command_body(&cmd))),
        );
        asked += 1;
    }

    eprintln!(
        "{} messages, {asked} queries ({found} with a non-empty answer), {} differences",
        msgs.len(),
        differences.len()
    );
    assert!(
        asked >= 40 && found >= 40,
        "{asked} queries, {found} non-empty"
    );
    let listed = |q: &str, d: &str| KNOWN.iter().any(|k| k.0 == q && k.1 == d);
    let new: Vec<String> = differences
        .iter()
        .filter(|(q, d)| !listed(q, d))
        .map(|(q, d)| format!("    (\n        {q:?},\n        {d:?},\n        REASON,\n    ),\n"))
        .collect();
    let gone: Vec<&str> = KNOWN
        .iter()
        .filter(|k| !differences.iter().any(|(q, d)| q == k.0 && d == k.1))
        .map(|k| k.0)
        .collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "new differences:\n{}\nlisted but gone: {gone:?}",
        new.concat()
    );
    // Sanity: the queries are not vacuous.
    assert_eq!(
        kit.search(&command_body("UID SEARCH ALL"), &[]).1.len(),
        msgs.len()
    );
}

/// Every untagged data response of a session (each tagged status is
/// checked to be OK). The output is leaked: the values borrow from it.
fn untagged(out: &[u8]) -> Vec<Data<'static>> {
    responses(out)
        .into_iter()
        .filter_map(|r| match r {
            Response::Data(d) => Some(d),
            _ => None,
        })
        .collect()
}

/// Every response of a session, each tagged status checked to be OK.
fn responses(out: &[u8]) -> Vec<Response<'static>> {
    let mut f = Fragmenter::new(FragmentOptions::default());
    f.push(out);
    let mut all = Vec::new();
    while let Some(frame) = f.poll().unwrap() {
        let Frame::Message(m) = frame else { continue };
        let m: &'static [u8] = Box::leak(m.to_vec().into_boxed_slice());
        match parse::response(m) {
            Ok((r, _)) => {
                if let Response::Status(s) = &r {
                    assert!(
                        s.tag.is_none() || s.kind == StatusKind::Ok,
                        "{}",
                        String::from_utf8_lossy(m)
                    );
                }
                all.push(r);
            }
            Err(e) => panic!("{e:?}: {}", String::from_utf8_lossy(m)),
        }
    }
    all
}

/// UIDVALIDITY and HIGHESTMODSEQ from a SELECT's response codes.
fn select_codes(rs: &[Response<'_>]) -> (u32, u64) {
    let mut v = 0;
    let mut h = 0;
    for r in rs {
        if let Response::Status(s) = r {
            match s.code {
                Some(Code::UidValidity(n)) => v = n.get(),
                Some(Code::HighestModSeq(n)) => h = n,
                _ => {}
            }
        }
    }
    (v, h)
}

/// The operations of the QRESYNC test, each in a session of its own.
const QRESYNC_OPS: &[&str] = &[
    "STORE 3,5,7:9 +FLAGS (\\Deleted)",
    "STORE 10 +FLAGS (\\Seen)",
    "UID EXPUNGE 1:8",
    "STORE 2,12 +FLAGS ($Kw)",
    "EXPUNGE",
    "STORE 1:3 +FLAGS (\\Answered)",
    "STORE 4 FLAGS (\\Deleted)",
    "EXPUNGE",
];

/// Mailbox bookkeeping against Dovecot: the same STOREs and EXPUNGEs,
/// then from every earlier state (its HIGHESTMODSEQ) a SELECT with QRESYNC
/// (with and without known UIDs) and a `UID FETCH (CHANGEDSINCE m
/// VANISHED)`: the VANISHED (EARLIER) UIDs and the changed UIDs of the
/// kit's [`Mailbox`] must be Dovecot's, and so must the flags at the end.
#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn qresync_against_dovecot() {
    let Some(dovecot) = Dovecot::prepare() else {
        return;
    };
    let date = datetime(1_600_000_000);
    let mut s1 = Vec::new();
    for i in 0..20 {
        let m = format!("Subject: m{i}\r\nMessage-ID: <{i}@x>\r\n\r\nbody {i}\r\n");
        s1.extend(append(i, m.as_bytes(), &[], &date));
    }
    s1.extend_from_slice(b"z LOGOUT\r\n");
    responses(&dovecot.exec_imap(&s1));
    let session = |cmds: &str| -> Vec<Response<'static>> {
        responses(&dovecot.exec_imap(format!("e ENABLE QRESYNC\r\n{cmds}z LOGOUT\r\n").as_bytes()))
    };

    let mut mb: Option<Mailbox> = None;
    // (Dovecot's HIGHESTMODSEQ, the kit's, the UIDs the next operation
    // expunges) before each operation and at the end.
    let mut points: Vec<(u64, u64, Vec<u32>)> = Vec::new();
    let mut v = 0;
    for op in QRESYNC_OPS.iter().map(Some).chain([None]) {
        let cmds = match op {
            Some(op) => format!("s SELECT INBOX\r\no {op}\r\n"),
            None => "s SELECT INBOX\r\n".to_string(),
        };
        let (uv, h) = select_codes(&session(&cmds));
        let mb = mb.get_or_insert_with(|| {
            v = uv;
            let mut mb = Mailbox::new(uv, true);
            for _ in 0..20 {
                mb.append(Flags::default(), false);
            }
            mb
        });
        let before: Vec<u32> = mb.uids().collect();
        let kh = mb.highest_modseq();
        match op.map(|op| command_body(op)) {
            Some(CommandBody::Store {
                uid,
                set,
                kind,
                flags,
                ..
            }) => {
                let seqs = mb.resolve(&set, uid).unwrap();
                mb.store(&seqs, kind, &flags, None);
            }
            Some(CommandBody::UidExpunge(set)) => {
                mb.expunge_deleted(Some(&set));
            }
            Some(CommandBody::Expunge) => {
                mb.expunge_deleted(None);
            }
            Some(other) => panic!("{other:?}"),
            None => {}
        }
        let gone = before
            .into_iter()
            .filter(|&u| mb.seq(u).is_none())
            .collect();
        points.push((h, kh, gone));
    }
    let mb = mb.unwrap();
    let uids_of = |seqs: &[u32]| -> Vec<u32> { seqs.iter().map(|&s| mb.uid(s).unwrap()).collect() };
    let set_uids = |s: Option<&SequenceSet>| -> Vec<u32> {
        s.map(|s| s.iter(u32::MAX).collect()).unwrap_or_default()
    };
    let theirs = |rs: &[Response<'_>]| -> (Vec<u32>, Vec<u32>) {
        let mut vanished = Vec::new();
        let mut changed = Vec::new();
        for r in rs {
            match r {
                Response::Data(Data::Vanished { uids, .. }) => vanished.extend(uids.iter(u32::MAX)),
                Response::Data(Data::Fetch { items, .. }) => {
                    changed.extend(items.iter().find_map(|i| match i {
                        FetchItem::Uid(u) => Some(u.get()),
                        _ => None,
                    }))
                }
                _ => {}
            }
        }
        vanished.sort_unstable();
        changed.sort_unstable();
        (vanished, changed)
    };
    let known = command_body("UID FETCH 2:9,15 FLAGS");
    let CommandBody::Fetch { set: known, .. } = known else {
        panic!()
    };
    // Dovecot does not count an expunge as a change of HIGHESTMODSEQ: from
    // the state right before an EXPUNGE its VANISHED (EARLIER) leaves out
    // what that EXPUNGE removed (the client there would never learn of
    // it). The kit gives every expunge a mod-sequence of its own (RFC 7162
    // §3.2.5.1 "expunged since the specified mod-sequence"): exactly those
    // UIDs are taken out of the kit's answer before comparing.
    let dovecot_view = |(v, c): (Vec<u32>, Vec<u32>), gone: &[u32]| {
        (
            v.into_iter()
                .filter(|u| !gone.contains(u))
                .collect::<Vec<_>>(),
            c,
        )
    };
    for (dh, kh, gone) in &points {
        let (dh, kh) = (*dh, *kh);
        let q = mb.qresync(v, kh, None, None).unwrap();
        let ours = dovecot_view((set_uids(q.vanished.as_ref()), uids_of(&q.changed)), gone);
        let got = theirs(&session(&format!(
            "s SELECT INBOX (QRESYNC ({v} {dh}))\r\n"
        )));
        assert_eq!(got, ours, "SELECT (QRESYNC ({v} {dh}))");

        let q = mb.qresync(v, kh, Some(&known), None).unwrap();
        let ours = dovecot_view((set_uids(q.vanished.as_ref()), uids_of(&q.changed)), gone);
        let got = theirs(&session(&format!(
            "s SELECT INBOX (QRESYNC ({v} {dh} 2:9,15))\r\n"
        )));
        assert_eq!(got, ours, "SELECT (QRESYNC ({v} {dh} 2:9,15))");

        let all: Vec<u32> = (1..=mb.len()).collect();
        let ours = dovecot_view(
            (
                set_uids(mb.vanished_since(kh, Some(&SequenceSet::all())).as_ref()),
                uids_of(&mb.changed_since(&all, kh)),
            ),
            gone,
        );
        let got = theirs(&session(&format!(
            "s SELECT INBOX\r\nf UID FETCH 1:* (FLAGS) (CHANGEDSINCE {dh} VANISHED)\r\n"
        )));
        assert_eq!(got, ours, "UID FETCH (CHANGEDSINCE {dh} VANISHED)");
    }
    // The flags at the end.
    let rs = session("s SELECT INBOX\r\nf FETCH 1:* (UID FLAGS)\r\n");
    let mut n = 0;
    for r in &rs {
        let Response::Data(Data::Fetch { seq, items }) = r else {
            continue;
        };
        let entry = mb.entry(seq.get()).unwrap();
        for i in items {
            match i {
                FetchItem::Uid(u) => assert_eq!(u.get(), entry.uid.get()),
                FetchItem::Flags(f) => assert_eq!(Flags::from_flags(f), entry.flags, "{seq}"),
                _ => {}
            }
        }
        n += 1;
    }
    assert_eq!(n, mb.len());
    eprintln!(
        "{} states compared, {} messages left",
        points.len(),
        mb.len()
    );
}

/// The ESEARCH items answering `tag`, in a canonical order.
fn esearch(data: &[Data<'_>], tag: &str) -> String {
    let items: Vec<&ESearchItem<'_>> = data
        .iter()
        .find_map(|d| match d {
            Data::ESearch {
                tag: Some(t),
                items,
                ..
            } if t.as_bytes() == tag.as_bytes() => Some(items.iter().collect()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ESEARCH for {tag}"));
    canonical(items)
}

/// ESEARCH items as text, ALL expanded to its numbers, in a fixed order.
fn canonical(items: Vec<&ESearchItem<'_>>) -> String {
    let mut v: Vec<String> = items
        .iter()
        .map(|i| match i {
            ESearchItem::All(set) => {
                let n: Vec<String> = set.iter(u32::MAX).map(|n| n.to_string()).collect();
                format!("ALL {}", n.join(" "))
            }
            other => format!("{other:?}"),
        })
        .collect();
    v.sort();
    v.join(" ")
}

/// What only one side has, word by word (numbers of a result, or the
/// positions where two orders part).
fn diff(theirs: &str, ours: &str) -> String {
    let t: Vec<&str> = theirs.split(' ').collect();
    let o: Vec<&str> = ours.split(' ').collect();
    let only_t: Vec<&str> = t.iter().copied().filter(|w| !o.contains(w)).collect();
    let only_o: Vec<&str> = o.iter().copied().filter(|w| !t.contains(w)).collect();
    if only_t.is_empty() && only_o.is_empty() {
        let at = t.iter().zip(&o).position(|(a, b)| a != b).unwrap_or(0);
        let count = t.iter().zip(&o).filter(|(a, b)| a != b).count();
        format!(
            "same members, {count} places differ, the first at word {at}: dovecot {:?} kit {:?}",
            &t[at..(at + 6).min(t.len())],
            &o[at..(at + 6).min(o.len())]
        )
    } else {
        format!("only dovecot: {only_t:?}; only kit: {only_o:?}")
    }
}

fn parse_flag(f: &str) -> Flag<'static> {
    let CommandBody::Store { flags, .. } = command_body(&format!("STORE 1 FLAGS ({f})")) else {
        panic!()
    };
    flags.into_iter().next().unwrap().into_owned()
}

//! `imap`: a user agent for the three ways of keeping mail on an IMAP
//! server, on the blocking driver `mailwire::blocking::ImapSession`.
//!
//! ```text
//! cargo run --release --example imap -- --server HOST:PORT --user U --password P
//!     [--starttls | --tls] [--ca-file PEM | --insecure] [--compress] [--folder F] COMMAND
//!
//! offline
//!   download --out DIR [--delete]    new messages of the folder into the Maildir DIR;
//!                                    with --delete, deleted on the server once the
//!                                    local copies are fsynced
//! online
//!   folders                          folders with their special use and counts
//!   list [FOLDER] [--limit N] [--sort KEY [--reverse]]
//!                                    date, sender, subject, size and flags; KEY (date,
//!                                    arrival, from, to, cc, subject, size) sorted by
//!                                    the server (SORT)
//!   threads [FOLDER] [--limit N]     the conversations, each reply indented under the
//!                                    message it answers (UID THREAD REFERENCES,
//!                                    evaluated by the server); the newest N threads
//!   read UID                         the text part shown, attachments listed (only
//!                                    the header and the text part are downloaded)
//!   headers UID                      the header section only
//!   part UID SECTION --out FILE      one MIME part (e.g. 2 or 1.2), decoded; nothing
//!                                    else of the message is downloaded
//!   search [--from X] [--subject Y] [--text Z] [--since DATE]
//!                                    evaluated by the server; DATE is 2024-02-01 or 1-Feb-2024
//!   flag UIDS [--add FLAG]... [--remove FLAG]...
//!                                    FLAG: seen, answered, flagged, deleted, draft or a keyword
//!   move UIDS FOLDER                 UID MOVE, or COPY + \Deleted + EXPUNGE
//!   delete UIDS                      \Deleted, then expunged
//! disconnected
//!   sync --dir DIR                   a Maildir mirror of every folder, synced both ways
//!   watch [--timeout SECS] [--count N]
//!                                    IDLE: each new message's sender and subject
//! ```
//!
//! Without `--starttls` or `--tls` the session is plaintext (loopback and
//! tests); with them certificates are verified against the webpki roots, or
//! the CAs of `--ca-file`. `--insecure` accepts any certificate (tests).
//! `--compress` compresses the session after log-in (COMPRESS=DEFLATE, RFC
//! 4978) when the server offers it: a mobile link's friend.
//! UIDS is a UID set: `7`, `1,3`, `2:5`. `--folder` (default INBOX) is the
//! folder the online commands work in.
//!
//! # sync
//!
//! `DIR/<folder>/` is a Maildir per server folder (the name as UTF-8, `/`
//! written `%2F`), with `.mailwire-sync` holding the folder's UIDVALIDITY,
//! HIGHESTMODSEQ, UIDNEXT and, per message, its UID, the flags at the last
//! sync and the local file's base name. Each run:
//! - uploads local changes: a file new in a folder's `cur/` or `new/` is
//!   APPENDed (then fetched back under its server UID); a file moved to
//!   another folder's directory is moved on the server (UID MOVE); a file
//!   removed is deleted on the server; a flag changed (the Maildir letters
//!   S R F T D) is stored;
//! - downloads server changes: new messages, flag changes, deletions;
//! - asks only what changed, by RFC 7162: nothing when HIGHESTMODSEQ and
//!   UIDNEXT did not move; with QRESYNC, `SELECT (QRESYNC (uidvalidity
//!   modseq))` answers with the UIDs that vanished and the flags that
//!   changed; with CONDSTORE alone, `UID SEARCH ALL` and `UID FETCH (FLAGS)
//!   (CHANGEDSINCE m)`; without either, the flags of every message. Each
//!   folder's line says which (`unchanged`, `QRESYNC`, `CONDSTORE`, `full`).
//!   A copy downloaded by a run that was cut short before it saved the state
//!   is recognized by its name and not uploaded again.
//!   A new UIDVALIDITY drops the folder's mirrored copies and downloads
//!   the folder again (local files never uploaded are kept and uploaded).
//!
//! **Conflicts.** Flags merge per flag against the last sync: a flag
//! changed on one side takes that side's value (a flag cannot have changed
//! both ways on both sides). A message deleted or moved away on either side
//! is deleted (or moved) on both, whatever flags the other side changed:
//! deletion wins. Keywords are not mirrored (the Maildir letters only).
//!
//! Exit status: 0 on success, 1 when the server refused a command, 2 on a
//! usage or connection error.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mailwire::blocking::imap::uid_set;
use mailwire::blocking::{
    ImapError, ImapOptions, ImapSession, MessageSummary, Security, SummaryItems, Verification,
};
use mailwire::imap::client::Update;
use mailwire::imap::{
    Atom, BodyStructure, Date, Flag, IString, SearchKey, Section, SectionText, SelectParam, SeqNum,
    SeqRange, SequenceSet, SortCriterion, SortKey, SpecificFields, StoreKind, Thread,
    ThreadAlgorithm, Vec1,
};

/// The command line (see the module docs for the commands).
#[derive(Debug, clap::Parser)]
#[command(
    name = "imap",
    about = "An IMAP user agent: offline download, online commands, a Maildir sync, IDLE watch",
    after_help = "COMMAND: folders, list [FOLDER], read UID, headers UID, part UID SECTION, \
search, flag UIDS, move UIDS FOLDER, delete UIDS, download, sync, watch \
(see the example's source docs)"
)]
struct Args {
    /// The server, HOST:PORT.
    #[arg(long)]
    server: String,
    /// The user name.
    #[arg(long)]
    user: String,
    /// The password.
    #[arg(long)]
    password: String,
    /// STARTTLS (RFC 9051 §6.2.1), required.
    #[arg(long, conflicts_with = "tls")]
    starttls: bool,
    /// Implicit TLS (port 993).
    #[arg(long)]
    tls: bool,
    /// Trust only the CA certificates of this PEM file.
    #[arg(long)]
    ca_file: Option<String>,
    /// Accept any certificate (tests only).
    #[arg(long)]
    insecure: bool,
    /// Compress the session (COMPRESS=DEFLATE, RFC 4978) when the server
    /// offers it.
    #[arg(long)]
    compress: bool,
    /// The folder the online commands work in (default INBOX).
    #[arg(long)]
    folder: Option<String>,
    /// download: the Maildir; part: the file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// sync: the directory of the Maildir mirror.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// download: delete on the server once stored.
    #[arg(long)]
    delete: bool,
    /// list: at most this many messages (the newest, or the first in
    /// `--sort`'s order); threads: at most this many threads (the newest).
    #[arg(long)]
    limit: Option<usize>,
    /// list: the order, evaluated by the server (SORT, RFC 5256): date,
    /// arrival, from, to, cc, subject or size.
    #[arg(long)]
    sort: Option<String>,
    /// list: `--sort`'s order reversed.
    #[arg(long)]
    reverse: bool,
    /// search: the sender contains this.
    #[arg(long)]
    from: Option<String>,
    /// search: the subject contains this.
    #[arg(long)]
    subject: Option<String>,
    /// search: the message contains this.
    #[arg(long)]
    text: Option<String>,
    /// search: since this date (2024-02-01 or 1-Feb-2024).
    #[arg(long)]
    since: Option<String>,
    /// flag: flags to add.
    #[arg(long)]
    add: Vec<String>,
    /// flag: flags to remove.
    #[arg(long)]
    remove: Vec<String>,
    /// watch: stop after this many seconds.
    #[arg(long)]
    timeout: Option<u64>,
    /// watch: stop after this many messages.
    #[arg(long)]
    count: Option<usize>,
    /// The command and its arguments.
    #[arg(required = true)]
    words: Vec<String>,
}

/// A failure: a usage or connection error (exit 2) or a refused command (exit 1).
enum Failure {
    Usage(String),
    Refused(String),
}

impl From<ImapError> for Failure {
    fn from(e: ImapError) -> Self {
        match e {
            ImapError::Command { .. } | ImapError::Unsupported(_) | ImapError::Protocol(_) => {
                Failure::Refused(e.to_string())
            }
            other => Failure::Usage(other.to_string()),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Usage(format!("local files: {e}"))
    }
}

fn usage(msg: impl Into<String>) -> Failure {
    Failure::Usage(msg.into())
}

fn connect(a: &Args) -> Result<ImapSession, Failure> {
    let mut options = ImapOptions::default();
    options.transport.security = if a.tls {
        Security::Implicit
    } else if a.starttls {
        Security::StartTls
    } else {
        Security::Plain
    };
    if let Some(ca) = &a.ca_file {
        options.transport.verification =
            Verification::ca_file(ca).map_err(|e| usage(format!("{ca}: {e}")))?;
    } else if a.insecure {
        options.transport.verification = Verification::InsecureAcceptAny;
    }
    options = options.compress(a.compress);
    let mut s = ImapSession::connect(&a.server, options)
        .map_err(|e| usage(format!("{}: {e}", a.server)))?;
    s.login(&a.user, &a.password)?;
    Ok(s)
}

// ----- small helpers --------------------------------------------------------

fn flag_name(f: &Flag<'_>) -> String {
    match f {
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Seen => "\\Seen".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::Wildcard => "\\*".into(),
        Flag::Keyword(k) => k.as_str().to_owned(),
        Flag::Extension(e) => format!("\\{}", e.as_str()),
    }
}

fn parse_flag(s: &str) -> Result<Flag<'static>, Failure> {
    let bare = s.trim_start_matches('\\');
    Ok(match bare.to_ascii_lowercase().as_str() {
        "seen" => Flag::Seen,
        "answered" => Flag::Answered,
        "flagged" => Flag::Flagged,
        "deleted" => Flag::Deleted,
        "draft" => Flag::Draft,
        _ => Flag::Keyword(
            Atom::new(bare.to_owned()).map_err(|e| usage(format!("flag {s:?}: {e}")))?,
        ),
    })
}

/// `7`, `1,3`, `2:5`, `4:*`.
fn parse_uids(s: &str) -> Result<SequenceSet, Failure> {
    let bad = || usage(format!("not a UID set: {s:?}"));
    let num = |t: &str| -> Result<SeqNum, Failure> {
        if t == "*" {
            return Ok(SeqNum::Largest);
        }
        t.parse::<NonZeroU32>()
            .map(SeqNum::Value)
            .map_err(|_| bad())
    };
    let mut ranges = Vec::new();
    for part in s.split(',') {
        ranges.push(match part.split_once(':') {
            Some((x, y)) => SeqRange::Range(num(x)?, num(y)?),
            None => SeqRange::Single(num(part)?),
        });
    }
    SequenceSet::new(ranges).ok_or_else(bad)
}

fn one_uid(s: &str) -> Result<u32, Failure> {
    s.parse::<NonZeroU32>()
        .map(NonZeroU32::get)
        .map_err(|_| usage(format!("not a UID: {s:?}")))
}

/// `2024-02-01` or `1-Feb-2024`.
fn parse_date(s: &str) -> Result<Date, Failure> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let bad = || usage(format!("not a date (2024-02-01 or 1-Feb-2024): {s:?}"));
    let parts: Vec<&str> = s.split('-').collect();
    let [a, b, c] = parts[..] else {
        return Err(bad());
    };
    let (y, m, d) = if a.len() == 4 {
        (a.parse().ok(), b.parse().ok(), c.parse().ok())
    } else {
        let m = MONTHS
            .iter()
            .position(|x| x.eq_ignore_ascii_case(b))
            .and_then(|i| u8::try_from(i + 1).ok());
        (c.parse().ok(), m, a.parse().ok())
    };
    let (Some(y), Some(m), Some(d)) = (y, m, d) else {
        return Err(bad());
    };
    Date::new(y, m, d).map_err(|_| bad())
}

fn istring(s: &str) -> Result<IString<'static>, Failure> {
    IString::try_from(s.to_owned()).map_err(|e| usage(e.to_string()))
}

fn word<'a>(a: &'a Args, i: usize, what: &str) -> Result<&'a str, Failure> {
    a.words
        .get(i)
        .map(String::as_str)
        .ok_or_else(|| usage(format!("{} needs {what}", a.words[0])))
}

fn folder(a: &Args) -> &str {
    a.folder.as_deref().unwrap_or("INBOX")
}

/// One line for a message: UID, date, sender, subject, size, flags.
fn summary_line(s: &MessageSummary) -> String {
    let head = mailwire::message::Message::parse(&s.header);
    let sum = head.summary();
    let date = sum
        .date
        .map(|d| d.to_short())
        .unwrap_or_else(|| "-".repeat(16));
    let from = sum
        .from
        .first()
        .map(|m| match m.name() {
            Some(n) if !n.is_empty() => format!("{n} <{}>", m.addr_spec()),
            _ => m.addr_spec().to_owned(),
        })
        .unwrap_or_default();
    let subject = sum.subject.as_deref().unwrap_or("").to_owned();
    let flags: Vec<String> = s.flags.iter().map(flag_name).collect();
    format!(
        "{:>6}  {date}  {:<40}  {}  {} bytes  ({})",
        s.uid,
        truncate(&from, 40),
        subject,
        s.size.unwrap_or(0),
        flags.join(" ")
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn print_summaries(s: &mut ImapSession, uids: &[u32]) -> Result<(), Failure> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(uids)?;
    for m in s.fetch_summaries(&set, SummaryItems::default(), None)? {
        println!("{}", summary_line(&m));
    }
    Ok(())
}

/// Each message's line ([`summary_line`]) by UID, for printing in an
/// order of the server's (SORT, THREAD).
fn summary_lines(s: &mut ImapSession, uids: &[u32]) -> Result<HashMap<u32, String>, Failure> {
    Ok(
        s.fetch_summaries(&uid_set(uids)?, SummaryItems::default(), None)?
            .iter()
            .map(|m| (m.uid, summary_line(m)))
            .collect(),
    )
}

// ----- online commands -------------------------------------------------------

fn cmd_folders(s: &mut ImapSession) -> Result<(), Failure> {
    for f in s.list_folders(true)? {
        let st = f.status.unwrap_or_default();
        println!(
            "{:<30} {:<8} {:>6} messages {:>6} unseen",
            f.name,
            f.special_use.as_deref().unwrap_or("-"),
            st.messages.map_or("-".into(), |n| n.to_string()),
            st.unseen.map_or("-".into(), |n| n.to_string()),
        );
    }
    Ok(())
}

fn cmd_list(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let name = a.words.get(1).map(String::as_str).unwrap_or(folder(a));
    let m = s.examine(name)?;
    if m.exists == 0 {
        return Ok(());
    }
    let Some(by) = &a.sort else {
        let mut uids = s.uid_search(vec![SearchKey::All])?;
        if let Some(n) = a.limit {
            let skip = uids.len().saturating_sub(n);
            uids.drain(..skip);
        }
        return print_summaries(s, &uids);
    };
    let key = match by.to_ascii_lowercase().as_str() {
        "date" => SortKey::Date,
        "arrival" => SortKey::Arrival,
        "from" => SortKey::From,
        "to" => SortKey::To,
        "cc" => SortKey::Cc,
        "subject" => SortKey::Subject,
        "size" => SortKey::Size,
        other => {
            return Err(usage(format!(
                "--sort {other:?}: date, arrival, from, to, cc, subject or size"
            )));
        }
    };
    let criterion = SortCriterion {
        reverse: a.reverse,
        key,
    };
    let mut uids = s.uid_sort(Vec1::one(criterion), vec![])?;
    uids.truncate(a.limit.unwrap_or(usize::MAX));
    if uids.is_empty() {
        return Ok(());
    }
    // Summaries come in UID order: printed in the server's.
    let lines = summary_lines(s, &uids)?;
    for line in uids.iter().filter_map(|uid| lines.get(uid)) {
        println!("{line}");
    }
    Ok(())
}

/// `threads`: the folder's conversations as the server threads them (RFC
/// 5256 §3 REFERENCES), oldest first, each message indented under the one
/// it answers.
fn cmd_threads(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let name = a.words.get(1).map(String::as_str).unwrap_or(folder(a));
    if s.examine(name)?.exists == 0 {
        return Ok(());
    }
    let mut threads = s.uid_thread(ThreadAlgorithm::References, vec![])?;
    if let Some(n) = a.limit {
        let skip = threads.len().saturating_sub(n);
        threads.drain(..skip);
    }
    fn uids_of(t: &Thread, out: &mut Vec<u32>) {
        out.extend(&t.chain);
        t.children.iter().for_each(|c| uids_of(c, out));
    }
    let mut uids = Vec::new();
    threads.iter().for_each(|t| uids_of(t, &mut uids));
    if uids.is_empty() {
        return Ok(());
    }
    let lines = summary_lines(s, &uids)?;
    // A chain's messages each one deeper; its children under its last.
    fn print(t: &Thread, depth: usize, lines: &HashMap<u32, String>) {
        for (i, uid) in t.chain.iter().enumerate() {
            if let Some(l) = lines.get(uid) {
                println!("{}{l}", "  ".repeat(depth + i));
            }
        }
        for c in &t.children {
            print(c, depth + t.chain.len(), lines);
        }
    }
    for t in &threads {
        print(t, 0, &lines);
    }
    Ok(())
}

/// A leaf of a BODYSTRUCTURE, with its IMAP section number.
struct Leaf {
    section: Vec<NonZeroU32>,
    mime: String,
    encoding: String,
    filename: Option<String>,
    attachment: bool,
    size: u32,
}

fn lossy(s: &IString<'_>) -> String {
    s.to_string_lossy().into_owned()
}

/// The leaves of `b` in order (RFC 3501 §6.4.5 numbering); an encapsulated
/// message is one leaf.
fn leaves(b: &BodyStructure<'_>, section: &mut Vec<NonZeroU32>, out: &mut Vec<Leaf>) {
    match b {
        BodyStructure::Multi { bodies, .. } => {
            for (i, child) in bodies.iter().enumerate() {
                let Some(n) = u32::try_from(i + 1).ok().and_then(NonZeroU32::new) else {
                    return;
                };
                section.push(n);
                leaves(child, section, out);
                section.pop();
            }
        }
        BodyStructure::Single {
            fields,
            specific,
            extension,
        } => {
            let mime = match specific {
                SpecificFields::Basic {
                    media_type,
                    subtype,
                } => format!("{}/{}", lossy(media_type), lossy(subtype)),
                SpecificFields::Text { subtype, .. } => format!("text/{}", lossy(subtype)),
                SpecificFields::Message { subtype, .. } => format!("message/{}", lossy(subtype)),
            }
            .to_ascii_lowercase();
            let disposition = extension.as_ref().and_then(|e| e.data.disposition.as_ref());
            let param = |list: &[(IString<'_>, IString<'_>)], name: &str| {
                list.iter()
                    .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
                    .map(|(_, v)| lossy(v))
            };
            let filename = disposition
                .and_then(|d| param(&d.params, "filename"))
                .or_else(|| param(&fields.params, "name"));
            let attachment = filename.is_some()
                || disposition
                    .is_some_and(|d| d.kind.as_bytes().eq_ignore_ascii_case(b"attachment"));
            let mut section = section.clone();
            if section.is_empty() {
                section.push(NonZeroU32::MIN);
            }
            out.push(Leaf {
                section,
                mime,
                encoding: fields.encoding.as_ref().map(lossy).unwrap_or_default(),
                filename,
                attachment,
                size: fields.size,
            });
        }
    }
}

fn section_text(s: &[NonZeroU32]) -> String {
    s.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// Online `read`: the header, the BODYSTRUCTURE, then the one text part
/// shown (its MIME header and body); attachments are listed, not fetched.
fn cmd_read(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let uid = one_uid(word(a, 1, "a UID")?)?;
    s.examine(folder(a))?;
    let mut items = SummaryItems::flags_only();
    items.body_structure = true;
    let set = uid_set(&[uid])?;
    let sum = s.fetch_summaries(&set, items, None)?;
    let mut parts = Vec::new();
    let multipart = match sum.first().and_then(MessageSummary::body_structure) {
        Some(b) => {
            leaves(&b, &mut Vec::new(), &mut parts);
            matches!(b, BodyStructure::Multi { .. })
        }
        None => return Err(Failure::Refused(format!("no message with UID {uid}"))),
    };
    let header = s.fetch_header(uid)?;
    let head = mailwire::message::Message::parse(&header);
    let summary = head.summary();
    let list = |v: &mailwire::message::AddressList<'_>| {
        v.mailboxes()
            .map(|m| m.addr_spec().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let from: Vec<String> = summary
        .from
        .iter()
        .map(|m| m.addr_spec().to_owned())
        .collect();
    println!("From: {}", from.join(", "));
    println!("To: {}", list(&summary.to));
    if let Some(d) = summary.date {
        println!("Date: {d}");
    }
    println!("Subject: {}", summary.subject.as_deref().unwrap_or(""));
    println!();
    let shown = parts
        .iter()
        .position(|p| p.mime == "text/plain" && !p.attachment)
        .or_else(|| {
            parts
                .iter()
                .position(|p| p.mime.starts_with("text/") && !p.attachment)
        });
    if let Some(i) = shown {
        // The part as an entity of its own: its MIME header (the message
        // header for a single-part message), then its body; decoded here.
        let mut entity = Vec::new();
        if multipart {
            let mime = Section {
                part: parts[i].section.clone(),
                text: Some(SectionText::Mime),
            };
            s.fetch_section_to(uid, mime, &mut entity)?;
        } else {
            entity.extend_from_slice(&header);
        }
        let body = Section {
            part: parts[i].section.clone(),
            text: None,
        };
        s.fetch_section_to(uid, body, &mut entity)?;
        let decoded = mailwire::mime::summary::leaf_parts(&mailwire::mime::Message::parse(&entity));
        let text = decoded
            .first()
            .and_then(|p| p.text.as_deref())
            .unwrap_or("");
        println!("{}", text.trim_end());
    }
    let others: Vec<&Leaf> = parts
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != shown)
        .map(|(_, p)| p)
        .collect();
    if !others.is_empty() {
        println!();
        println!("Attachments:");
        for p in others {
            println!(
                "  [{}] {} ({}, {}, {} bytes on the server)",
                section_text(&p.section),
                p.filename.as_deref().unwrap_or("(no name)"),
                p.mime,
                p.encoding.to_ascii_lowercase(),
                p.size
            );
        }
    }
    Ok(())
}

fn cmd_headers(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let uid = one_uid(word(a, 1, "a UID")?)?;
    s.examine(folder(a))?;
    io::stdout().write_all(&s.fetch_header(uid)?)?;
    Ok(())
}

fn cmd_part(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let uid = one_uid(word(a, 1, "a UID")?)?;
    let spec = word(a, 2, "a SECTION")?;
    let out = a
        .out
        .clone()
        .ok_or_else(|| usage("part needs --out FILE"))?;
    let part: Vec<NonZeroU32> = spec
        .split('.')
        .map(|n| n.parse::<NonZeroU32>())
        .collect::<Result<_, _>>()
        .map_err(|_| usage(format!("not a section: {spec:?}")))?;
    s.examine(folder(a))?;
    let tmp = out.with_extension("part-tmp");
    let mut f = File::create(&tmp)?;
    let n = if s.capabilities()?.has("BINARY") {
        // Decoded by the server and streamed to the file.
        s.fetch_binary_to(uid, part, &mut f)?
    } else {
        // The part's MIME header and raw body; decoded here.
        let mut entity = Vec::new();
        let mime = Section {
            part: part.clone(),
            text: Some(SectionText::Mime),
        };
        s.fetch_section_to(uid, mime, &mut entity)?;
        s.fetch_section_to(uid, Section { part, text: None }, &mut entity)?;
        let msg = mailwire::mime::Message::parse(&entity);
        let data = msg.decoded(msg.root());
        f.write_all(&data)?;
        data.len() as u64
    };
    f.sync_all()?;
    fs::rename(&tmp, &out)?;
    println!("{n} bytes written to {}", out.display());
    Ok(())
}

fn cmd_search(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let mut keys = Vec::new();
    if let Some(x) = &a.from {
        keys.push(SearchKey::From(istring(x)?));
    }
    if let Some(x) = &a.subject {
        keys.push(SearchKey::Subject(istring(x)?));
    }
    if let Some(x) = &a.text {
        keys.push(SearchKey::Text(istring(x)?));
    }
    if let Some(x) = &a.since {
        keys.push(SearchKey::Since(parse_date(x)?));
    }
    if keys.is_empty() {
        return Err(usage("search needs --from, --subject, --text or --since"));
    }
    s.examine(folder(a))?;
    let uids = s.uid_search(keys)?;
    print_summaries(s, &uids)
}

fn cmd_flag(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let set = parse_uids(word(a, 1, "UIDS")?)?;
    let add = a
        .add
        .iter()
        .map(|f| parse_flag(f))
        .collect::<Result<Vec<_>, _>>()?;
    let remove = a
        .remove
        .iter()
        .map(|f| parse_flag(f))
        .collect::<Result<Vec<_>, _>>()?;
    if add.is_empty() && remove.is_empty() {
        return Err(usage("flag needs --add FLAG or --remove FLAG"));
    }
    s.select(folder(a))?;
    if !add.is_empty() {
        s.store_flags(&set, StoreKind::Add, add)?;
    }
    if !remove.is_empty() {
        s.store_flags(&set, StoreKind::Remove, remove)?;
    }
    for m in s.fetch_summaries(&set, SummaryItems::flags_only(), None)? {
        let flags: Vec<String> = m.flags.iter().map(flag_name).collect();
        println!("{:>6}  ({})", m.uid, flags.join(" "));
    }
    Ok(())
}

fn cmd_move(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let set = parse_uids(word(a, 1, "UIDS")?)?;
    let to = word(a, 2, "a destination FOLDER")?;
    s.select(folder(a))?;
    s.move_messages(&set, to)?;
    println!("moved to {to}");
    Ok(())
}

fn cmd_delete(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let set = parse_uids(word(a, 1, "UIDS")?)?;
    s.select(folder(a))?;
    s.delete_messages(&set)?;
    println!("deleted");
    Ok(())
}

// ----- Maildir ----------------------------------------------------------------

fn fsync_dir(p: &Path) -> io::Result<()> {
    File::open(p)?.sync_all()
}

fn ensure_maildir(root: &Path) -> io::Result<()> {
    for d in ["tmp", "new", "cur"] {
        fs::create_dir_all(root.join(d))?;
    }
    Ok(())
}

/// A unique base name: `time.M<uid>V<uidvalidity>P<pid>N<n>.mailwire`.
fn base_name(uid: u32, uidvalidity: u32) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "{}.M{uid}V{uidvalidity}P{}N{n}.mailwire",
        now.as_secs(),
        std::process::id()
    )
}

/// Streams the message into `tmp/`, fsyncs it, then renames it into
/// `sub/` (`new` or `cur`) under `name` and fsyncs the directory: once this
/// returns, the copy survives a crash.
fn store_message(
    s: &mut ImapSession,
    root: &Path,
    uid: u32,
    sub: &str,
    base: &str,
    name: &str,
) -> Result<PathBuf, Failure> {
    let tmp = root.join("tmp").join(base);
    let mut f = File::create(&tmp)?;
    let r = s.fetch_message_to(uid, &mut f);
    if let Err(e) = r {
        let _ = fs::remove_file(&tmp);
        return Err(e.into());
    }
    f.sync_all()?;
    drop(f);
    let dest = root.join(sub).join(name);
    fs::rename(&tmp, &dest)?;
    fsync_dir(&root.join(sub))?;
    Ok(dest)
}

/// Writes `text` to `path` atomically (tmp file, fsync, rename, fsync dir).
fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(d) = path.parent() {
        fsync_dir(d)?;
    }
    Ok(())
}

// ----- offline: download ----------------------------------------------------------

fn cmd_download(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let out = a
        .out
        .clone()
        .ok_or_else(|| usage("download needs --out DIR"))?;
    ensure_maildir(&out)?;
    let state_path = out.join(".mailwire-download");
    let m = if a.delete {
        s.select(folder(a))?
    } else {
        s.examine(folder(a))?
    };
    let validity = m.uid_validity.map_or(0, NonZeroU32::get);
    // "UIDVALIDITY LASTUID": messages up to LASTUID were downloaded before.
    let state = fs::read_to_string(&state_path).unwrap_or_default();
    let mut nums = state
        .split_whitespace()
        .map(|w| w.parse::<u32>().unwrap_or(0));
    let (old_validity, mut last) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
    if old_validity != validity {
        last = 0;
    }
    let uids: Vec<u32> = if m.exists == 0 {
        Vec::new()
    } else {
        let from = NonZeroU32::new(last.saturating_add(1)).map_or(SeqNum::Largest, SeqNum::Value);
        let range = SequenceSet::new(vec![SeqRange::Range(from, SeqNum::Largest)])
            .ok_or_else(|| usage("UID range"))?;
        s.uid_search(vec![SearchKey::Uid(range)])?
            .into_iter()
            .filter(|&u| u > last)
            .collect()
    };
    let mut stored = Vec::new();
    for &uid in &uids {
        let base = base_name(uid, validity);
        store_message(s, &out, uid, "new", &base, &base)?;
        stored.push(uid);
        last = last.max(uid);
        write_atomic(&state_path, &format!("{validity} {last}\n"))?;
    }
    println!(
        "downloaded {} messages into {}",
        stored.len(),
        out.display()
    );
    if a.delete && !stored.is_empty() {
        // Every copy above is fsynced: only now may the server's go.
        s.delete_messages(&uid_set(&stored)?)?;
        println!("deleted {} messages on the server", stored.len());
    }
    Ok(())
}

// ----- watch ------------------------------------------------------------------------

fn cmd_watch(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let m = s.examine(folder(a))?;
    let mut last = m.uid_next.map_or(1, NonZeroU32::get).saturating_sub(1);
    let deadline = a.timeout.map(|t| Instant::now() + Duration::from_secs(t));
    let mut seen = 0usize;
    println!("watching {} (UIDs after {last})", folder(a));
    loop {
        let left = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(25 * 60),
        };
        if left.is_zero() {
            return Ok(());
        }
        let mut news = false;
        {
            let mut idle = s.idle(left)?;
            for u in idle.by_ref() {
                if matches!(u?, Update::Exists(_)) {
                    news = true;
                    break;
                }
            }
            idle.done()?;
        }
        if !news {
            continue;
        }
        let from = NonZeroU32::new(last.saturating_add(1)).map_or(SeqNum::Largest, SeqNum::Value);
        let range = SequenceSet::new(vec![SeqRange::Range(from, SeqNum::Largest)])
            .ok_or_else(|| usage("UID range"))?;
        let uids: Vec<u32> = s
            .uid_search(vec![SearchKey::Uid(range)])?
            .into_iter()
            .filter(|&u| u > last)
            .collect();
        if uids.is_empty() {
            continue;
        }
        let mut items = SummaryItems::flags_only();
        items.header_fields = true;
        for m in s.fetch_summaries(&uid_set(&uids)?, items, None)? {
            let head = mailwire::message::Message::parse(&m.header);
            let sum = head.summary();
            let from = sum
                .from
                .first()
                .map(|f| f.addr_spec().to_owned())
                .unwrap_or_default();
            println!(
                "new message {}: {} — {}",
                m.uid,
                from,
                sum.subject.as_deref().unwrap_or("")
            );
            let _ = io::stdout().flush();
            last = last.max(m.uid);
            seen += 1;
        }
        if a.count.is_some_and(|n| seen >= n) {
            return Ok(());
        }
    }
}

// ----- disconnected: sync ---------------------------------------------------------------

/// Maildir info letters for the system flags, in the order Maildir wants (ASCII).
const LETTERS: [(char, Flag<'static>); 5] = [
    ('D', Flag::Draft),
    ('F', Flag::Flagged),
    ('R', Flag::Answered),
    ('S', Flag::Seen),
    ('T', Flag::Deleted),
];

fn letters_of(flags: &[Flag<'_>]) -> String {
    LETTERS
        .iter()
        .filter(|(_, f)| flags.contains(f))
        .map(|(c, _)| *c)
        .collect()
}

fn flags_of(letters: &str) -> Vec<Flag<'static>> {
    LETTERS
        .iter()
        .filter(|(c, _)| letters.contains(*c))
        .map(|(_, f)| f.clone())
        .collect()
}

/// Per flag: the side that changed it since `base` wins.
fn merge(base: &str, local: &str, server: &str) -> String {
    LETTERS
        .iter()
        .filter(|(c, _)| {
            let (b, l, s) = (base.contains(*c), local.contains(*c), server.contains(*c));
            if l != b { l } else { s }
        })
        .map(|(c, _)| *c)
        .collect()
}

/// A file of a local Maildir folder.
struct LocalFile {
    path: PathBuf,
    letters: String,
}

/// Files of `cur/` and `new/` by base name (before `:2,`).
fn scan(root: &Path) -> io::Result<HashMap<String, LocalFile>> {
    let mut out = HashMap::new();
    for sub in ["new", "cur"] {
        let Ok(rd) = fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in rd {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let (base, info) = match name.split_once(":2,") {
                Some((b, i)) => (b.to_owned(), i.to_owned()),
                None => (name.clone(), String::new()),
            };
            let letters = letters_of(&flags_of(&info));
            out.insert(
                base,
                LocalFile {
                    path: e.path(),
                    letters,
                },
            );
        }
    }
    Ok(out)
}

/// What `.mailwire-sync` remembers of a folder.
#[derive(Default)]
struct SyncState {
    uidvalidity: u32,
    modseq: u64,
    uidnext: u32,
    /// UID -> (flag letters at the last sync, base name).
    messages: BTreeMap<u32, (String, String)>,
}

impl SyncState {
    fn load(path: &Path) -> SyncState {
        let mut st = SyncState::default();
        let Ok(text) = fs::read_to_string(path) else {
            return st;
        };
        for line in text.lines() {
            let w: Vec<&str> = line.split(' ').collect();
            match w[..] {
                ["uidvalidity", v] => st.uidvalidity = v.parse().unwrap_or(0),
                ["highestmodseq", v] => st.modseq = v.parse().unwrap_or(0),
                ["uidnext", v] => st.uidnext = v.parse().unwrap_or(0),
                [uid, letters, base] => {
                    if let Ok(uid) = uid.parse() {
                        let letters = letters.trim_start_matches('-').to_owned();
                        st.messages.insert(uid, (letters, base.to_owned()));
                    }
                }
                _ => {}
            }
        }
        st
    }

    fn save(&self, path: &Path) -> io::Result<()> {
        let mut t = format!(
            "uidvalidity {}\nhighestmodseq {}\nuidnext {}\n",
            self.uidvalidity, self.modseq, self.uidnext
        );
        for (uid, (letters, base)) in &self.messages {
            t.push_str(&format!("{uid} -{letters} {base}\n"));
        }
        write_atomic(path, &t)
    }
}

/// The local directory of a folder: its UTF-8 name, `/` and `%` escaped,
/// a leading `.` too.
fn local_dir(dir: &Path, name: &str) -> PathBuf {
    let mut s = String::new();
    for (i, c) in name.chars().enumerate() {
        match c {
            '/' => s.push_str("%2F"),
            '%' => s.push_str("%25"),
            '.' if i == 0 => s.push_str("%2E"),
            c => s.push(c),
        }
    }
    dir.join(s)
}

#[derive(Default)]
struct Counts {
    down: usize,
    up: usize,
}

fn cmd_sync(s: &mut ImapSession, a: &Args) -> Result<(), Failure> {
    let dir = a.dir.clone().ok_or_else(|| usage("sync needs --dir DIR"))?;
    fs::create_dir_all(&dir)?;
    let caps = s.capabilities()?;
    let resync = if caps.has("QRESYNC") {
        s.enable(&["QRESYNC"])?;
        Resync::Qresync
    } else if caps.has("CONDSTORE") {
        s.enable(&["CONDSTORE"])?;
        Resync::Condstore
    } else {
        Resync::Full
    };
    let folders: Vec<String> = s
        .list_folders(false)?
        .into_iter()
        .filter(|f| f.selectable())
        .map(|f| f.name)
        .collect();
    let mut total = Counts::default();

    // Local moves first: a file the state of folder A knows, now in the
    // directory of folder B, is moved on the server; B then downloads it
    // under its new UID.
    let mut scans: HashMap<String, HashMap<String, LocalFile>> = HashMap::new();
    for f in &folders {
        let root = local_dir(&dir, f);
        ensure_maildir(&root)?;
        scans.insert(f.clone(), scan(&root)?);
    }
    for f in &folders {
        let root = local_dir(&dir, f);
        let state_path = root.join(".mailwire-sync");
        let mut st = SyncState::load(&state_path);
        let mut moves: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (uid, (_, base)) in &st.messages {
            if scans[f].contains_key(base) {
                continue;
            }
            if let Some(to) = folders
                .iter()
                .find(|g| *g != f && scans[*g].contains_key(base))
            {
                moves.entry(to.clone()).or_default().push(*uid);
            }
        }
        if moves.is_empty() {
            continue;
        }
        let m = s.select(f)?;
        for (to, uids) in moves {
            if m.uid_validity.map(NonZeroU32::get) == Some(st.uidvalidity) {
                s.move_messages(&uid_set(&uids)?, &to)?;
                total.up += uids.len();
                println!("{f}: moved {} to {to}", uids.len());
            }
            // The moved files in the destination are now server copies,
            // fetched again under their new UIDs.
            for uid in &uids {
                if let Some((_, base)) = st.messages.remove(uid)
                    && let Some(file) = scans.get_mut(&to).and_then(|sc| sc.remove(&base))
                {
                    fs::remove_file(&file.path)?;
                }
            }
        }
        st.save(&state_path)?;
    }

    for f in &folders {
        let (c, how) = sync_folder(s, &dir, f, resync, scans.remove(f).unwrap_or_default())?;
        println!("{f}: {} down, {} up ({how})", c.down, c.up);
        total.down += c.down;
        total.up += c.up;
    }
    println!("sync: {} down, {} up", total.down, total.up);
    Ok(())
}

/// How much the server helps a sync (RFC 7162).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resync {
    /// Neither: the flags of every message are fetched.
    Full,
    /// CONDSTORE: HIGHESTMODSEQ, `CHANGEDSINCE`.
    Condstore,
    /// QRESYNC: SELECT tells what changed and vanished.
    Qresync,
}

/// True if `set` holds `n` (`*` is the largest UID).
fn set_contains(set: &SequenceSet, n: u32) -> bool {
    let SequenceSet::Set(ranges) = set else {
        return false;
    };
    let v = |s: SeqNum| match s {
        SeqNum::Value(v) => v.get(),
        SeqNum::Largest => u32::MAX,
    };
    ranges.iter().any(|r| match *r {
        SeqRange::Single(x) => v(x) == n,
        SeqRange::Range(a, b) => v(a).min(v(b)) <= n && n <= v(a).max(v(b)),
    })
}

/// `Some((uid, uidvalidity))` for a base name this program gave a download
/// (`time.M<uid>V<uidvalidity>P...`).
fn downloaded_as(base: &str) -> Option<(u32, u32)> {
    let rest = base.split_once(".M")?.1;
    let (uid, rest) = rest.split_once('V')?;
    let (validity, _) = rest.split_once('P')?;
    Some((uid.parse().ok()?, validity.parse().ok()?))
}

fn sync_folder(
    s: &mut ImapSession,
    dir: &Path,
    name: &str,
    resync: Resync,
    mut local: HashMap<String, LocalFile>,
) -> Result<(Counts, &'static str), Failure> {
    let root = local_dir(dir, name);
    let state_path = root.join(".mailwire-sync");
    let mut st = SyncState::load(&state_path);
    let mut c = Counts::default();
    let params = match resync {
        Resync::Qresync if st.uidvalidity != 0 && st.modseq > 0 => vec![SelectParam::QResync {
            uidvalidity: st.uidvalidity,
            modseq: st.modseq,
            known_uids: None,
            seq_match: None,
        }],
        Resync::Full => Vec::new(),
        _ => vec![SelectParam::CondStore],
    };
    let qresync_asked = matches!(params.first(), Some(SelectParam::QResync { .. }));
    let (m, selected) = s.select_with(name, false, params)?;
    let validity = m.uid_validity.map_or(0, NonZeroU32::get);
    if st.uidvalidity != validity {
        // Another mailbox under the same name: the mirrored copies are stale.
        for (_, base) in st.messages.values() {
            if let Some(file) = local.remove(base) {
                fs::remove_file(&file.path)?;
            }
        }
        st = SyncState {
            uidvalidity: validity,
            ..SyncState::default()
        };
    }
    // A copy downloaded by a run that stopped before saving the state is
    // taken back, not uploaded again.
    for (base, file) in &local {
        if let Some((uid, v)) = downloaded_as(base)
            && v == validity
            && !st.messages.contains_key(&uid)
            && !st.messages.values().any(|(_, b)| b == base)
        {
            st.messages
                .insert(uid, (file.letters.clone(), base.clone()));
        }
    }

    // The server's view: UID -> flag letters.
    let uidnext = m.uid_next.map_or(0, NonZeroU32::get);
    let modseq = m.highest_modseq.unwrap_or(0);
    let known = st.modseq > 0 && m.highest_modseq.is_some();
    let mut server: BTreeMap<u32, String> = BTreeMap::new();
    let mut how = "full";
    if known
        && modseq == st.modseq
        && uidnext == st.uidnext
        && m.exists as usize == st.messages.len()
    {
        // Nothing changed on the server since the last sync.
        how = "unchanged";
        for (uid, (letters, _)) in &st.messages {
            server.insert(*uid, letters.clone());
        }
    } else if known && qresync_asked {
        // RFC 7162 §3.2.5: SELECT answered with VANISHED (EARLIER) and the
        // FETCH of every message changed since.
        how = "QRESYNC";
        for (uid, (letters, _)) in &st.messages {
            server.insert(*uid, letters.clone());
        }
        for d in selected.data() {
            match d {
                mailwire::imap::Data::Vanished { uids, .. } => {
                    server.retain(|u, _| !set_contains(&uids, *u));
                }
                mailwire::imap::Data::Fetch { items, .. } => {
                    let mut uid = None;
                    let mut flags = None;
                    for i in items {
                        match i {
                            mailwire::imap::FetchItem::Uid(u) => uid = Some(u.get()),
                            mailwire::imap::FetchItem::Flags(f) => flags = Some(letters_of(&f)),
                            _ => {}
                        }
                    }
                    if let (Some(u), Some(f)) = (uid, flags) {
                        server.insert(u, f);
                    }
                }
                _ => {}
            }
        }
    } else if known && resync != Resync::Full && m.exists > 0 {
        how = "CONDSTORE";
        for uid in s.uid_search(vec![SearchKey::All])? {
            let letters = st
                .messages
                .get(&uid)
                .map(|(l, _)| l.clone())
                .unwrap_or_default();
            server.insert(uid, letters);
        }
        let all = SequenceSet::all();
        for msg in s.fetch_summaries(&all, SummaryItems::flags_only(), Some(st.modseq))? {
            server.insert(msg.uid, letters_of(&msg.flags));
        }
    }
    if how != "CONDSTORE" && server.len() != m.exists as usize {
        // First sync, no CONDSTORE, or the answer does not add up: ask all.
        how = "full";
        server.clear();
        if m.exists > 0 {
            let all = SequenceSet::all();
            for msg in s.fetch_summaries(&all, SummaryItems::flags_only(), None)? {
                server.insert(msg.uid, letters_of(&msg.flags));
            }
        }
    }

    // Up: files new here are appended, then fetched back under their UID.
    let known_bases: std::collections::HashSet<&String> =
        st.messages.values().map(|(_, b)| b).collect();
    let mut new_local: Vec<(&String, &LocalFile)> = local
        .iter()
        .filter(|(b, _)| !known_bases.contains(b))
        .collect();
    new_local.sort_by(|x, y| x.0.cmp(y.0));
    let mut appended = false;
    for (_, file) in new_local {
        let data = fs::read(&file.path)?;
        match s.append(name, flags_of(&file.letters), &data) {
            Ok(_) => {
                fs::remove_file(&file.path)?;
                c.up += 1;
                appended = true;
            }
            // Refused (an empty or malformed file): kept here, said, skipped.
            Err(e @ ImapError::Command { .. }) => {
                eprintln!("{name}: not uploaded: {}: {e}", file.path.display());
            }
            Err(e) => return Err(e.into()),
        }
    }
    if appended && let Some(from) = NonZeroU32::new(uidnext.max(1)) {
        // The appended messages: UIDs from the UIDNEXT the SELECT gave.
        let range = SequenceSet::new(vec![SeqRange::Range(SeqNum::Value(from), SeqNum::Largest)])
            .ok_or_else(|| usage("UID range"))?;
        for msg in s.fetch_summaries(&range, SummaryItems::flags_only(), None)? {
            if msg.uid >= from.get() {
                server.insert(msg.uid, letters_of(&msg.flags));
            }
        }
    }
    let local = scan(&root)?;

    // Reconcile what both knew.
    let mut to_delete = Vec::new();
    let mut stores: BTreeMap<(String, bool), Vec<u32>> = BTreeMap::new();
    let uids: Vec<u32> = st.messages.keys().copied().collect();
    for uid in uids {
        let Some((base_letters, base)) = st.messages.get(&uid).cloned() else {
            continue;
        };
        match (local.get(&base), server.get(&uid)) {
            (None, Some(_)) => {
                to_delete.push(uid);
                st.messages.remove(&uid);
            }
            (Some(file), None) => {
                fs::remove_file(&file.path)?;
                st.messages.remove(&uid);
                c.down += 1;
            }
            (None, None) => {
                st.messages.remove(&uid);
            }
            (Some(file), Some(srv)) => {
                let merged = merge(&base_letters, &file.letters, srv);
                if merged != *srv {
                    for (ch, _) in LETTERS.iter() {
                        let (want, has) = (merged.contains(*ch), srv.contains(*ch));
                        if want != has {
                            stores.entry((ch.to_string(), want)).or_default().push(uid);
                        }
                    }
                    c.up += 1;
                }
                if merged != file.letters {
                    let dest = root.join("cur").join(format!("{base}:2,{merged}"));
                    fs::rename(&file.path, &dest)?;
                    c.down += 1;
                }
                st.messages.insert(uid, (merged, base));
            }
        }
    }
    for ((letter, add), uids) in stores {
        let kind = if add {
            StoreKind::Add
        } else {
            StoreKind::Remove
        };
        s.store_flags(&uid_set(&uids)?, kind, flags_of(&letter))?;
    }
    for uid in &to_delete {
        server.remove(uid);
    }
    if !to_delete.is_empty() {
        s.delete_messages(&uid_set(&to_delete)?)?;
        c.up += to_delete.len();
    }
    // Down: messages new on the server.
    for (uid, letters) in &server {
        if st.messages.contains_key(uid) {
            continue;
        }
        let base = base_name(*uid, validity);
        store_message(s, &root, *uid, "cur", &base, &format!("{base}:2,{letters}"))?;
        st.messages.insert(*uid, (letters.clone(), base));
        c.down += 1;
    }
    fsync_dir(&root.join("cur"))?;
    let now = s.selected().cloned();
    st.uidvalidity = validity;
    st.uidnext = now
        .as_ref()
        .and_then(|m| m.uid_next)
        .map_or(uidnext, NonZeroU32::get);
    st.modseq = now.and_then(|m| m.highest_modseq).unwrap_or(modseq);
    if c.up > 0 {
        // Our own changes moved HIGHESTMODSEQ and UIDNEXT: learn the new ones
        // so that the next run sees no change.
        let params = if resync == Resync::Full {
            Vec::new()
        } else {
            vec![SelectParam::CondStore]
        };
        let (m, _) = s.select_with(name, true, params)?;
        st.uidnext = m.uid_next.map_or(st.uidnext, NonZeroU32::get);
        st.modseq = m.highest_modseq.unwrap_or(st.modseq);
    }
    st.save(&state_path)?;
    Ok((c, how))
}

// ----- main ---------------------------------------------------------------------

fn run(a: &Args) -> Result<(), Failure> {
    let mut s = connect(a)?;
    match a.words[0].as_str() {
        "folders" => cmd_folders(&mut s)?,
        "list" => cmd_list(&mut s, a)?,
        "threads" => cmd_threads(&mut s, a)?,
        "read" => cmd_read(&mut s, a)?,
        "headers" => cmd_headers(&mut s, a)?,
        "part" => cmd_part(&mut s, a)?,
        "search" => cmd_search(&mut s, a)?,
        "flag" => cmd_flag(&mut s, a)?,
        "move" => cmd_move(&mut s, a)?,
        "delete" => cmd_delete(&mut s, a)?,
        "download" => cmd_download(&mut s, a)?,
        "sync" => cmd_sync(&mut s, a)?,
        "watch" => cmd_watch(&mut s, a)?,
        other => return Err(usage(format!("unknown command {other:?}"))),
    }
    s.logout()?;
    Ok(())
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(e)) => {
            eprintln!("imap: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(e)) => {
            eprintln!("imap: {e}");
            ExitCode::from(2)
        }
    }
}

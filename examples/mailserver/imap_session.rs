//! The IMAP service (RFC 9051 and RFC 3501) over the mail store that SMTP
//! delivers to and POP3 reads: `mailwire::imap::server::Server` driven by
//! `driver::drive`, its commands answered from [`crate::mailstore`] with
//! the server kit (`mailwire::imap::kit`): FETCH items from
//! `kit::Message`, sequence numbers, UIDs and flags from
//! `kit::mailbox::Mailbox`, SEARCH, SORT and THREAD from the kit's
//! evaluators.
//!
//! - Accounts and authentication as for POP3 and submission: LOGIN and
//!   AUTHENTICATE PLAIN, LOGIN, CRAM-MD5 (demo accounts), SCRAM-SHA-256;
//!   passwords in the clear only under TLS or on loopback.
//! - A selected folder is a snapshot of the Maildir; it is brought up to
//!   date (new messages, flags and expunges by other sessions, deliveries,
//!   POP3 deletions) at NOOP, CHECK, IDLE and every command that does not
//!   name messages by sequence number (RFC 9051 §7.5.1 forbids EXPUNGE
//!   during those). During IDLE the folder's change counter is read every
//!   driver tick (200 ms), and the folder synced when it moved.
//! - Offered beyond the machine's own: UIDPLUS, MOVE, SPECIAL-USE,
//!   CHILDREN, ESEARCH, SORT, THREAD=REFERENCES, THREAD=ORDEREDSUBJECT,
//!   LIST-EXTENDED, LIST-STATUS, STATUS=SIZE, CONDSTORE (mod-sequences
//!   persisted by the store), QRESYNC (VANISHED (EARLIER) from the store's
//!   expunge history, across sessions and restarts; a client older than
//!   the history gets every UID of its known set that is gone, as RFC 7162
//!   §3.2.5.2 allows), LITERAL+, BINARY (RFC 3516:
//!   `BINARY[]` streams from the file like `BODY[]`, as a `literal8` only
//!   when the message holds NUL, which `BODY[]` sends as 0x80 like Dovecot; `BINARY[part]` is decoded by the kit in
//!   memory, at most `--max-size`; APPEND takes `~{n}`, and a message over
//!   256 KiB streams into a file as it arrives), MULTIAPPEND
//!   (RFC 3502: the messages of one APPEND are added at once), QUOTA,
//!   QUOTA=RES-STORAGE and QUOTA=RES-MESSAGE with `--quota` or
//!   `--message-quota` (RFC 9208, not in `shared/rfc`, sections as
//!   published: the root `""` of each account, the storage and the
//!   messages of all its folders; APPEND and COPY beyond a limit get
//!   `NO [OVERQUOTA]`; SETQUOTA is refused), METADATA (RFC 5464, not
//!   in `shared/rfc`, sections as published: server and folder
//!   annotations, the rules from the kit's `kit::metadata`, kept by
//!   [`crate::mailstore::metadata`]; the server's
//!   shared `/shared/admin` is `mailto:postmaster@` the host name, and
//!   shared server entries are not written over IMAP; no unsolicited
//!   METADATA responses, which §4.4.2 makes optional), SAVEDATE (RFC
//!   8514, not in `shared/rfc`: the save date the store keeps beside the
//!   mod-sequence, set once), OBJECTID (RFC 8474, not in `shared/rfc`:
//!   MAILBOXID from the folder's `dovecot-uidlist` GUID, so it goes with
//!   the folder through RENAME; EMAILID from the message file's name, a
//!   copy's name carrying its original's; THREADID from the thread's
//!   first message as the header names it, [`thread_id_of`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mailwire::imap::kit::Message;
use mailwire::imap::kit::mailbox::{Flags, Mailbox as KitMailbox, SystemFlags, compact_set};
use mailwire::imap::kit::search::{
    self, LazyContent, MessageMeta, Query, SearchContext, SearchError,
};
use mailwire::imap::server::{
    AuthMethod, Completion, Event, FetchLiteral, Greeting, LiteralExtension, Namespaces, Options,
    Server, Streamed,
};

use mailwire::imap::{
    Atom, BodyStructure, Code, CommandBody, Data, Date, DateTime, Envelope, FetchAttr, FetchAttrs,
    FetchItem, FetchModifier, Flag, IString, ListItem, ListReturn, ListSelect, Mailbox,
    MetadataOptions, NString, Namespace, SearchReturn, Section, SelectParam, SequenceSet,
    StatusAttr, StatusItem, StoreKind, Tag, ThreadAlgorithm, Value,
};
use mailwire::pop3::WireSize;
use mailwire::sasl::Mechanism;

use crate::auth_guard::Attempt;
use crate::driver::{Conn, Handler};
use crate::maildir::create_new;
use crate::mailstore::folder::{MsgFile, new_base, thread_id_of};
use crate::mailstore::metadata::{Scope, SetError};
use crate::mailstore::{DELIMITER, Folder, MailStore, StoreError};
use crate::smtp_session::{STRESS_TIMEOUT, Shared, random_hex};
use mailwire::imap::kit::metadata::{self, Depth};

crate::driver::impl_machine!(Server, Event);

/// Capabilities the session implements on top of the machine's.
const CAPABILITIES: [&str; 22] = [
    "UIDPLUS",
    "MOVE",
    "SPECIAL-USE",
    "CHILDREN",
    "ESEARCH",
    "SORT",
    "THREAD=REFERENCES",
    "THREAD=ORDEREDSUBJECT",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "STATUS=SIZE",
    "CONDSTORE",
    "QRESYNC",
    "BINARY",
    "MULTIAPPEND",
    "UTF8=ACCEPT",
    "METADATA",
    "WITHIN",
    "PREVIEW",
    "PARTIAL",
    "SAVEDATE",
    "OBJECTID",
];

/// Capabilities offered with a quota (RFC 9208 §3.1, §5.1, §5.2): the
/// one quota root `""` of each account, its resources the storage and
/// the messages of all its folders.
const QUOTA_CAPABILITIES: [&str; 3] = ["QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"];

/// APPEND messages longer than this stream into a file as they arrive
/// (the machine's `AppendData` events) instead of being held whole: the
/// memory of an APPEND is one read whatever its size (`--max-size` limits
/// the message, 35 MiB by default, and a session holds no more of it).
const STREAM_APPEND: u64 = 256 << 10;

/// The one quota root of an account (RFC 9208 §3.1).
const QUOTA_ROOT: &str = "";

/// The machine's options for a port: STARTTLS on the plain port, implicit
/// TLS on the imaps port; passwords in the clear before TLS on loopback
/// only, unless --allow-plaintext-auth.
pub(crate) fn options(shared: &Shared, implicit_tls: bool, peer: SocketAddr) -> Options {
    let cfg = &shared.store.cfg;
    let mut o = Options::default();
    o.hostname = cfg.hostname.clone();
    o.starttls = !implicit_tls;
    o.implicit_tls = implicit_tls;
    o.sasl_mechanisms = shared.mailbox_mechanisms();
    o.allow_plaintext_auth = cfg.allow_plaintext_auth || peer.ip().is_loopback();
    o.max_bad_commands = cfg.session.max_errors;
    o.literal = LiteralExtension::Plus;
    o.max_literal = cfg.max_size as u64;
    o.append_stream_threshold = Some(STREAM_APPEND);
    o.compress = true;
    // RFC 8437: the session forgets its user (`Event::Unauthenticated`).
    o.unauthenticate = true;
    o.max_command = cfg.max_size as u64 + (64 << 10);
    let quota: &[&str] = if shared.store.any_quota() {
        &QUOTA_CAPABILITIES
    } else {
        &[]
    };
    // RFC 7889 §3: one limit for every folder, the largest message taken.
    let append_limit = Atom::new(format!("APPENDLIMIT={}", cfg.max_size)).ok();
    o.capabilities = CAPABILITIES
        .iter()
        .chain(quota)
        .filter_map(|c| Atom::new(*c).ok())
        .chain(append_limit)
        .collect();
    o.namespaces = Some(Namespaces {
        personal: vec![Namespace {
            prefix: IString::try_from("").unwrap_or_else(|_| unreachable!("empty is a string")),
            delimiter: Some(DELIMITER),
            extensions: Vec::new(),
        }],
        other: Vec::new(),
        shared: Vec::new(),
    });
    if shared.limiter.stressed() {
        o.autologout = STRESS_TIMEOUT;
    }
    o
}

/// Whether a file holds a NUL octet, read in 64 KiB pieces; the file is
/// left at its start again.
fn holds_nul(file: &mut File) -> io::Result<bool> {
    use std::io::Seek as _;
    let mut buf = vec![0u8; 64 * 1024];
    let mut found = false;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if buf[..n].contains(&0) {
            found = true;
            break;
        }
    }
    file.rewind()?;
    Ok(found)
}

/// A response code by name (`NONEXISTENT`, `ALREADYEXISTS` ...).
fn code(name: &'static str) -> Code<'static> {
    match Atom::new(name) {
        Ok(a) => Code::Simple(a),
        Err(_) => Code::Parse,
    }
}

/// The NO for a store error.
fn refusal(e: &StoreError) -> Completion<'static> {
    let c = Completion::no(&e.to_string());
    match e {
        StoreError::NoSuch => c.with_code(code("NONEXISTENT")),
        StoreError::Exists => c.with_code(code("ALREADYEXISTS")),
        StoreError::BadName | StoreError::Refused(_) => c.with_code(code("CANNOT")),
        StoreError::Io(_) => c.with_code(code("SERVERBUG")),
    }
}

/// [`QUOTA_ROOT`] as the string the responses carry.
fn quota_root() -> IString<'static> {
    IString::try_from(QUOTA_ROOT).unwrap_or_else(|_| unreachable!("empty is a string"))
}

/// The name of a mailbox as stored: modified UTF-7 (RFC 3501 §5.1.3), as
/// Dovecot keeps it. A client that uses UTF-8 names (`utf8`: it enabled
/// UTF8=ACCEPT or IMAP4rev2) sends UTF-8, converted here (RFC 6855 §3:
/// Net-Unicode, so no control characters and no line or paragraph
/// separator; `&` is then a character like any other), in NFC: a name
/// not in it is taken as its NFC form in every command, so SELECT opens
/// what CREATE made under either form (RFC 9051 §5.1); another client
/// sends the stored form.
fn name_of(m: &Mailbox<'_>, utf8: bool) -> Option<String> {
    match m {
        Mailbox::Inbox => Some("INBOX".to_string()),
        Mailbox::Other(s) if utf8 => {
            let text = s.to_str()?;
            if text
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
            {
                return None;
            }
            let text: String = unicode_normalization::UnicodeNormalization::nfc(text).collect();
            String::from_utf8(Mailbox::from_utf8_name(&text).as_bytes().to_vec()).ok()
        }
        Mailbox::Other(s) => s.to_str().map(str::to_string),
    }
}

/// Whether the client uses UTF-8 mailbox names: it enabled UTF8=ACCEPT
/// (RFC 6855 §3) or IMAP4rev2 (RFC 9051 §5.1).
fn utf8_names(m: &Server) -> bool {
    m.is_enabled("UTF8=ACCEPT") || m.is_enabled("IMAP4rev2")
}

/// A stored name as the client reads it: UTF-8 for a client that uses
/// UTF-8 names (see [`name_of`]), else the stored form. `None` for a
/// stored name that is no modified UTF-7.
fn shown_name(name: &str, utf8: bool) -> Option<String> {
    if !utf8 || name.is_ascii() && !name.contains('&') {
        return Some(name.to_string());
    }
    let stored = IString::try_from(name.to_string()).ok()?;
    Mailbox::Other(stored).to_utf8_name()
}

/// The mailbox of a stored name, as the client reads it ([`shown_name`]).
fn mailbox_of(name: &str, utf8: bool) -> Option<Mailbox<'static>> {
    if name == "INBOX" {
        return Some(Mailbox::Inbox);
    }
    IString::try_from(shown_name(name, utf8)?)
        .ok()
        .map(Mailbox::Other)
}

/// The header of APPEND message `i`: read from its file when it streamed
/// in ([`Staged`]), else `data` itself (its header is all
/// [`eight_bit_header`] looks at).
fn staged_header<'d>(staged: &[Option<Staged>], i: usize, data: &'d [u8]) -> Cow<'d, [u8]> {
    match staged.get(i) {
        Some(Some(st)) => Cow::Owned(read_header(&st.path).unwrap_or_default()),
        _ => Cow::Borrowed(data),
    }
}

/// Whether the header of `message` holds a byte above 127 (RFC 6855 §4:
/// such an APPEND needs UTF8=ACCEPT enabled).
fn eight_bit_header(message: &[u8]) -> bool {
    let end = header_end(message).unwrap_or(message.len());
    !message[..end].is_ascii()
}

/// The IMAP date-time of a Unix time, in UTC.
fn imap_date(unix: i64) -> Option<DateTime> {
    let d = mailwire::message::DateTime::from_unix(unix, 0).ok()?;
    DateTime::new(
        Date::new(d.year(), d.month(), d.day()).ok()?,
        d.hour(),
        d.minute(),
        d.second(),
        0,
    )
    .ok()
}

/// A message's INTERNALDATE (the file's modification time, as Dovecot
/// keeps it) and size with CRLF line ends.
fn date_and_size(path: Option<&PathBuf>, m: &MsgFile) -> (DateTime, u64) {
    let meta = path.and_then(|p| fs::metadata(p).ok());
    let unix = meta
        .as_ref()
        .and_then(|md| md.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let size = m
        .wire_size()
        .or_else(|| meta.as_ref().map(|md| md.len()))
        .unwrap_or(0);
    let epoch = imap_date(0).unwrap_or_else(|| unreachable!("1970 is a date"));
    (imap_date(unix).unwrap_or(epoch), size)
}

/// A message's ENVELOPE, BODYSTRUCTURE and BODY, computed once by the kit
/// and shared by every session: a Maildir file never changes, so the
/// answers for (folder, base name) never go stale.
#[derive(Debug)]
struct Shape {
    envelope: Envelope<'static>,
    structure: BodyStructure<'static>,
    body: BodyStructure<'static>,
}

/// Answers worked out from a message file's content (which never
/// changes), kept for every session per folder, then per base name: looked
/// up with borrowed keys, so a FETCH of every message allocates no key.
/// Past `max` answers the cache starts over.
struct PerMessage<T> {
    map: Mutex<HashMap<PathBuf, HashMap<Box<str>, T>>>,
    max: usize,
}

impl<T: Clone> PerMessage<T> {
    fn new(max: usize) -> Self {
        PerMessage {
            map: Mutex::default(),
            max,
        }
    }

    fn get(&self, dir: &Path, base: &str) -> Option<T> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(dir)?
            .get(base)
            .cloned()
    }

    fn insert(&self, dir: &Path, base: &str, value: T) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.values().map(HashMap::len).sum::<usize>() >= self.max {
            map.clear();
        }
        if let Some(folder) = map.get_mut(dir) {
            folder.insert(base.into(), value);
        } else {
            map.entry(dir.to_path_buf())
                .or_default()
                .insert(base.into(), value);
        }
    }
}

/// The shapes: at most 100,000 (about 1-2 KiB each).
static SHAPES: LazyLock<PerMessage<Arc<Shape>>> = LazyLock::new(|| PerMessage::new(100_000));

/// The THREADIDs: at most 200,000 (a 25-byte id each).
static THREADS: LazyLock<PerMessage<Arc<str>>> = LazyLock::new(|| PerMessage::new(200_000));

impl Shape {
    fn cached(dir: &Path, base: &str) -> Option<Arc<Shape>> {
        SHAPES.get(dir, base)
    }

    fn remember(dir: &Path, base: &str, msg: &Message) -> Arc<Shape> {
        let shape = Arc::new(Shape {
            envelope: msg.envelope(),
            structure: msg.body_structure(),
            body: msg.body(),
        });
        SHAPES.insert(dir, base, shape.clone());
        shape
    }
}

/// The THREADID (RFC 8474 §5.2) of message `m` of `folder`: from the
/// shared cache, else worked out from `raw` when the caller has read the
/// message, else from its header section read from the file. `None` when
/// the file is gone (expunged by another session meanwhile).
pub(crate) fn thread_id(folder: &Folder, m: &MsgFile, raw: Option<&[u8]>) -> Option<Arc<str>> {
    if let Some(id) = THREADS.get(&folder.dir, &m.base) {
        return Some(id);
    }
    let id: Arc<str> = match raw {
        Some(raw) => thread_id_in(raw, &m.email_id),
        None => thread_id_in(&read_header(&folder.find(m)?).ok()?, &m.email_id),
    }
    .into();
    THREADS.insert(&folder.dir, &m.base, id.clone());
    Some(id)
}

/// The THREADID of a message with EMAILID `email_id` whose content (or
/// header section) is `raw`: [`thread_id_of`] the root its header names
/// (`kit::thread::thread_root`). Only the header section within the first
/// [`MAX_HEADER_READ`] octets counts, as [`read_header`] reads it, so the
/// id is the same whichever way the message was read.
pub(crate) fn thread_id_in(raw: &[u8], email_id: &str) -> String {
    let head = &raw[..raw.len().min(MAX_HEADER_READ as usize)];
    let head = &head[..header_end(head).unwrap_or(head.len())];
    let root = mailwire::imap::kit::thread::thread_root(&Message::parse(head.to_vec()));
    thread_id_of(root.as_deref(), email_id)
}

/// The selected folder: the kit's sequence/UID/flag model and, in the same
/// order, the files.
struct Selected {
    name: String,
    folder: Folder,
    read_only: bool,
    mb: KitMailbox,
    files: Vec<MsgFile>,
    watch: Arc<AtomicU64>,
    seen: u64,
    keyword_room: bool,
    /// HIGHESTMODSEQ as last read from the store.
    highest_modseq: u64,
    /// The store's expunge history, `(uid, modseq)` by UID, with the
    /// mod-sequence at or below which it forgot: what QRESYNC's VANISHED
    /// (EARLIER) answers from.
    expunged: Vec<(u32, u64)>,
    expunge_horizon: u64,
}

impl Selected {
    /// The kit's model anew from `files`, with the store's mod-sequences
    /// (the saved search result `$` kept).
    fn rebuild(&mut self) {
        let mut mb = KitMailbox::new(self.mb.uid_validity(), self.keyword_room);
        for f in &self.files {
            if let Some(uid) = NonZeroU32::new(f.uid) {
                mb.push_existing(uid, f.flags.clone(), f.modseq, f.recent);
            }
        }
        mb.raise_uid_next(self.mb.uid_next());
        mb.raise_highest_modseq(self.highest_modseq.max(self.mb.highest_modseq()));
        mb.save_result(self.mb.saved().to_vec());
        // The store's expunge history: a QRESYNC from after its horizon
        // learns exactly what vanished (RFC 7162 §3.2.5.1), one from
        // before gets every missing UID of its known set (§3.2.5.2).
        for &(uid, modseq) in &self.expunged {
            if let Some(uid) = NonZeroU32::new(uid) {
                mb.push_expunged(uid, modseq);
            }
        }
        mb.forget_expunged(self.expunge_horizon);
        self.mb = mb;
    }

    /// Adds our own expunge of `uids` at `modseq` to the history the store
    /// has just written, as [`Selected::rebuild`] reads it.
    fn note_expunged(&mut self, uids: &[u32], modseq: u64) {
        for &uid in uids {
            match self.expunged.binary_search_by_key(&uid, |e| e.0) {
                Ok(i) => self.expunged[i].1 = modseq,
                Err(i) => self.expunged.insert(i, (uid, modseq)),
            }
        }
    }

    /// Brings the snapshot up to date; returns the untagged responses that
    /// tell the client (FETCH for flags, with MODSEQ under CONDSTORE;
    /// EXPUNGE, EXISTS, RECENT).
    fn resync(&mut self, condstore: bool, qresync: bool) -> io::Result<Vec<Data<'static>>> {
        self.seen = self.watch.load(Ordering::SeqCst);
        let snap = self.folder.sync(true)?;
        let mut out = Vec::new();
        let mut gone = Vec::new();
        let mut disk = snap.messages.into_iter().peekable();
        for i in 0..self.files.len() {
            let uid = self.files[i].uid;
            while disk.peek().is_some_and(|d| d.uid < uid) {
                disk.next();
            }
            match disk.peek() {
                Some(d) if d.uid == uid => {
                    let Some(d) = disk.next() else { break };
                    let old = &self.files[i];
                    if d.flags != old.flags || d.modseq != old.modseq {
                        out.push(fetch_flags(
                            i as u32 + 1,
                            NonZeroU32::new(uid).unwrap_or(NonZeroU32::MIN),
                            &d.flags,
                            old.recent,
                            true,
                            condstore.then_some(d.modseq),
                        ));
                    }
                    let recent = old.recent;
                    self.files[i] = MsgFile { recent, ..d };
                }
                _ => gone.push(i as u32 + 1),
            }
        }
        let gone_uids: Vec<u32> = gone
            .iter()
            .map(|&s| self.files[s as usize - 1].uid)
            .collect();
        // At the store's mod-sequence: the kit and the store agree.
        out.extend(expunge_responses(
            self.mb.expunge_at(&gone, snap.highest_modseq),
            &gone_uids,
            qresync,
        ));
        for &seq in gone.iter().rev() {
            self.files.remove(seq as usize - 1);
        }
        let before = self.files.len();
        let last = self.files.last().map_or(0, |f| f.uid);
        let mut recent = false;
        for d in disk.filter(|d| d.uid > last) {
            recent |= d.recent;
            self.files.push(d);
        }
        self.keyword_room = snap.keyword_room;
        self.highest_modseq = snap.highest_modseq;
        self.expunged = snap.expunged;
        self.expunge_horizon = snap.expunge_horizon;
        self.mb.raise_uid_next(snap.uid_next);
        self.rebuild();
        if self.files.len() != before {
            out.push(Data::Exists(self.mb.len()));
            if recent {
                out.push(Data::Recent(self.mb.recent_count()));
            }
        }
        Ok(out)
    }

    /// The metadata and lazily loaded content of messages, for the kit's
    /// SEARCH (`Load::Whole`), SORT and THREAD (`Load::Header`).
    fn rows(&self, seqs: &[u32], load: Load) -> Vec<(MessageMeta<'_>, LazyContent<'_>)> {
        kit_rows(&self.mb, &self.files, &self.folder, seqs, load, &[])
    }
}

/// How much of a message file the kit's rows load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Load {
    /// All of it (SEARCH may look into bodies).
    Whole,
    /// The header section only, at most [`MAX_HEADER_READ`]: every SORT
    /// key (RFC 5256 §3) and THREAD's fields are header fields or the
    /// metadata, so a sort reads no bodies.
    Header,
}

/// The most of a message file read for its header section.
const MAX_HEADER_READ: u64 = 64 * 1024;

/// The kit's rows for SEARCH, SORT and THREAD: the metadata of each
/// sequence number of `mb` (whose messages are `files`, in order) and a
/// loader of its content. `threads` holds the THREADIDs of `files` in the
/// same order when the search needs them (empty otherwise: every THREADID
/// `None`). The IMAP session and the webmail share it.
pub(crate) fn kit_rows<'a>(
    mb: &'a KitMailbox,
    files: &'a [MsgFile],
    folder: &'a Folder,
    seqs: &[u32],
    load: Load,
    threads: &'a [Option<Arc<str>>],
) -> Vec<(MessageMeta<'a>, LazyContent<'a>)> {
    seqs.iter()
        .filter_map(|&seq| {
            let e = mb.entry(seq)?;
            let m = files.get(seq as usize - 1)?;
            let path = folder.find(m);
            let (date, size) = date_and_size(path.as_ref(), m);
            let thread = threads.get(seq as usize - 1).and_then(Option::as_deref);
            let meta = MessageMeta::of(seq, e, date, size)
                .with_save_date(imap_date(m.save_date))
                .with_object_ids(Some(&*m.email_id), thread);
            let content = LazyContent::new(move || {
                let raw = path.and_then(|p| match load {
                    Load::Whole => fs::read(p).ok(),
                    Load::Header => read_header(&p).ok(),
                });
                Message::parse(raw.unwrap_or_default())
            });
            Some((meta, content))
        })
        .collect()
}

/// The header section of a message file with its empty line (the first
/// [`MAX_HEADER_READ`] octets when it is longer, or the whole file when it
/// has no body).
pub(crate) fn read_header(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?
        .take(MAX_HEADER_READ)
        .read_to_end(&mut buf)?;
    let end = header_end(&buf).unwrap_or(buf.len());
    buf.truncate(end);
    Ok(buf)
}

/// Where the header section ends (after its empty line, CRLF or LF).
fn header_end(buf: &[u8]) -> Option<usize> {
    match buf {
        [b'\n', ..] => return Some(1),
        [b'\r', b'\n', ..] => return Some(2),
        _ => {}
    }
    let mut from = 0;
    while let Some(i) = buf[from..].iter().position(|&b| b == b'\n') {
        let after = from + i + 1;
        match &buf[after..] {
            [b'\n', ..] => return Some(after + 1),
            [b'\r', b'\n', ..] => return Some(after + 2),
            _ => from = after,
        }
    }
    None
}

/// `* seq FETCH (FLAGS (...) [UID n] [MODSEQ (m)])`.
fn fetch_flags(
    seq: u32,
    uid: NonZeroU32,
    flags: &Flags,
    recent: bool,
    with_uid: bool,
    modseq: Option<u64>,
) -> Data<'static> {
    let mut items = vec![FetchItem::Flags(flags.to_flags(recent))];
    if with_uid {
        items.push(FetchItem::Uid(uid));
    }
    items.extend(modseq.map(FetchItem::ModSeq));
    Data::Fetch {
        seq: NonZeroU32::new(seq).unwrap_or(NonZeroU32::MIN),
        items,
    }
}

/// Whether `name` matches a LIST pattern (`*` anything, `%` anything but
/// the delimiter; RFC 9051 §6.3.9).
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| matches(rest, &name[i..])),
        Some((b'%', rest)) => (0..=name.len())
            .take_while(|&i| i == 0 || name[i - 1] != DELIMITER)
            .any(|i| matches(rest, &name[i..])),
        Some((c, rest)) => name.first() == Some(c) && matches(rest, &name[1..]),
    }
}

pub(crate) struct Session<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    user: Option<String>,
    sel: Option<Selected>,
    idling: bool,
    /// A CONDSTORE-enabling command was given (RFC 7162 §3.1).
    condstore: bool,
    attempt: Option<Attempt>,
    auth_failures: u32,
    /// The password's generation at log-in (see
    /// [`crate::accounts::Accounts::generation`]).
    generation: u64,
    /// The APPEND messages that streamed in for the command to come, by
    /// their index in it.
    staged: Vec<Option<Staged>>,
}

/// An APPEND message that streamed in (over [`STREAM_APPEND`] octets),
/// in a file of the account's INBOX `tmp/` until its command comes (the
/// folder it goes to is known then); renamed into that folder's `tmp/`
/// and added like any other. Dropped, it removes its file (nothing once
/// the folder took it into `cur/`); a file left by a crash is removed at
/// the next start with the rest of `tmp/`.
#[derive(Debug)]
struct Staged {
    path: PathBuf,
    /// None once a write failed (the APPEND is then refused), or once the
    /// file was synced for its folder.
    file: Option<File>,
    len: u64,
    wire: WireSize,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Session<'_> {
    /// Takes a piece of streamed APPEND message `message` (see
    /// [`Staged`]): its first piece starts a new file. (The machine ends
    /// every command that streamed with its `Command` or
    /// `AppendAbandoned`, where the staged files go: none is left from an
    /// earlier one.)
    fn stage(&mut self, message: usize, offset: u64, data: &[u8]) {
        let Some(user) = self.user.clone() else {
            return;
        };
        if offset == 0 {
            if self.staged.len() <= message {
                self.staged.resize_with(message + 1, || None);
            }
            let base = new_base(&self.shared.store.cfg.hostname, 0, 0);
            let path = self
                .store()
                .inbox(&user)
                .tmp_path(&format!("append.{base}"));
            let file = create_new(&path);
            if let Err(e) = &file {
                self.log(&format!("APPEND staging {}: {e}", path.display()));
            }
            self.staged[message] = Some(Staged {
                path,
                file: file.ok(),
                len: 0,
                wire: WireSize::new(),
            });
        }
        let Some(Some(st)) = self.staged.get_mut(message) else {
            return;
        };
        match st.file.as_mut().map(|f| f.write_all(data)) {
            Some(Ok(())) => {
                st.len += data.len() as u64;
                st.wire.push(data);
            }
            Some(Err(_)) => st.file = None,
            None => {}
        }
    }

    /// Whether responses carry MODSEQ (ENABLE CONDSTORE, or a command
    /// that enables it, RFC 7162 §3.1).
    fn condstore(&self, m: &Server) -> bool {
        self.condstore || m.is_enabled("CONDSTORE")
    }

    fn store(&self) -> &MailStore {
        &self.shared.store.mail
    }

    fn log(&self, what: &str) {
        crate::driver::log(format!("imap {}: {what}", self.peer));
    }

    fn auth_failed(&mut self, m: &mut Server, attempt: Attempt) {
        let who = format!("imap {}", self.peer);
        if self
            .shared
            .auth_guard
            .penalize(attempt, &mut self.auth_failures, &who)
        {
            m.close_session("Too many authentication failures");
        }
    }

    fn authenticate(
        &mut self,
        m: &mut Server,
        handle: mailwire::imap::server::Handle,
        username: String,
        method: AuthMethod,
    ) {
        if let Some(a) = self.attempt.take() {
            self.auth_failed(m, a);
            if m.is_closed() {
                return;
            }
        }
        let attempt = match self.shared.auth_guard.begin(self.peer.ip(), Instant::now()) {
            Ok(a) => a,
            Err(_) => {
                self.log("authentication refused: address blocked after repeated failures");
                let _ = m.complete(
                    handle,
                    Completion::no("too many authentication failures from your address, try later")
                        .with_code(code("UNAVAILABLE")),
                );
                m.close_session("Too many authentication failures");
                return;
            }
        };
        let accounts = &self.shared.accounts;
        match method {
            AuthMethod::Sasl(Mechanism::ScramSha256) => {
                let _ = m.provide_scram_credentials(handle, Some(accounts.scram(&username)));
                self.attempt = Some(attempt);
            }
            AuthMethod::Sasl(Mechanism::CramMd5) => {
                let _ = m.provide_password(handle, accounts.plaintext(&username));
                self.attempt = Some(attempt);
            }
            _ => {
                let mut ok = false;
                let _ = m.check_password(handle, |pw| {
                    ok = accounts.verify(&username, pw.expose());
                    ok
                });
                if ok {
                    self.attempt = Some(attempt);
                } else {
                    self.auth_failed(m, attempt);
                }
            }
        }
    }

    /// What changed in the selected folder since the client last heard
    /// (when its counter moved, or `always`), as untagged responses.
    fn changes(&mut self, always: bool, condstore: bool, qresync: bool) -> Vec<Data<'static>> {
        let Some(sel) = self.sel.as_mut() else {
            return Vec::new();
        };
        if !always && sel.watch.load(Ordering::SeqCst) == sel.seen {
            return Vec::new();
        }
        match sel.resync(condstore, qresync) {
            Ok(data) => data,
            Err(e) => {
                let name = sel.name.clone();
                self.log(&format!("sync of {name} failed: {e}"));
                Vec::new()
            }
        }
    }

    /// Sends the changes as data of the command in progress (only when
    /// the moment allows EXPUNGE).
    fn updates(&mut self, m: &mut Server, handle: mailwire::imap::server::Handle, always: bool) {
        let condstore = self.condstore(m);
        for d in self.changes(always, condstore, m.is_enabled("QRESYNC")) {
            let _ = m.send_data(handle, d);
        }
    }

    fn command(
        &mut self,
        m: &mut Server,
        conn: &mut Conn,
        handle: mailwire::imap::server::Handle,
        tag: Tag<'static>,
        cmd: CommandBody<'static>,
    ) -> Completion<'static> {
        let Some(user) = self.user.clone() else {
            return Completion::bad("not logged in");
        };
        if self.shared.accounts.changed_since(&user, self.generation) {
            self.log(&format!("{user}'s password changed: session closed"));
            m.close_session("Your password was changed: log in again");
            return Completion::no("password changed");
        }
        let utf8 = utf8_names(m);
        // Commands that name messages by sequence number must not see
        // expunges (RFC 9051 §7.5.1); the others bring the folder up to date.
        let by_seq = matches!(
            cmd,
            CommandBody::Fetch { uid: false, .. }
                | CommandBody::Store { uid: false, .. }
                | CommandBody::Search { uid: false, .. }
                | CommandBody::Copy { uid: false, .. }
                | CommandBody::Move { uid: false, .. }
                | CommandBody::Sort { uid: false, .. }
                | CommandBody::Thread { uid: false, .. }
        );
        let always = matches!(cmd, CommandBody::Noop | CommandBody::Check);
        if !by_seq
            && !matches!(
                cmd,
                CommandBody::Select { .. } | CommandBody::Examine { .. } | CommandBody::Close
            )
        {
            self.updates(m, handle, always);
        }
        match cmd {
            CommandBody::Noop => Completion::ok("NOOP completed"),
            CommandBody::Check => Completion::ok("CHECK completed"),
            CommandBody::Select { mailbox, params } => {
                self.condstore |= params.contains(&SelectParam::CondStore);
                self.select(m, handle, &user, &mailbox, false, &params)
            }
            CommandBody::Examine { mailbox, params } => {
                self.condstore |= params.contains(&SelectParam::CondStore);
                self.select(m, handle, &user, &mailbox, true, &params)
            }
            CommandBody::Create { mailbox, .. } => match name_of(&mailbox, utf8) {
                // A trailing delimiter only says a children will follow.
                Some(n) => match self.store().create(&user, n.trim_end_matches('.')) {
                    Ok(()) => {
                        self.tell_normalized(m, handle, &mailbox, &n, utf8);
                        let done = Completion::ok("CREATE completed");
                        // RFC 8474 §4.1: the new folder's MAILBOXID (its
                        // first sync writes the GUID it comes from).
                        match self.mailbox_id(&user, n.trim_end_matches('.')) {
                            Some(id) => done.with_code(Code::MailboxId(id)),
                            None => done,
                        }
                    }
                    Err(e) => refusal(&e),
                },
                None => Completion::no("invalid name").with_code(code("CANNOT")),
            },
            CommandBody::Delete(mailbox) => {
                let Some(n) = name_of(&mailbox, utf8) else {
                    return refusal(&StoreError::NoSuch);
                };
                if self.sel.as_ref().is_some_and(|s| s.name == n) {
                    return Completion::no("mailbox is selected").with_code(code("INUSE"));
                }
                match self.store().delete(&user, &n) {
                    Ok(()) => {
                        let _ = self.store().subscribe(&user, &n, false);
                        Completion::ok("DELETE completed")
                    }
                    Err(e) => refusal(&e),
                }
            }
            CommandBody::Rename { from, to } => match (name_of(&from, utf8), name_of(&to, utf8)) {
                (Some(f), Some(t)) => match self.store().rename(&user, &f, &t) {
                    Ok(()) => Completion::ok("RENAME completed"),
                    Err(e) => refusal(&e),
                },
                _ => refusal(&StoreError::BadName),
            },
            CommandBody::Subscribe(mailbox) | CommandBody::Unsubscribe(mailbox)
                if name_of(&mailbox, utf8).is_none() =>
            {
                refusal(&StoreError::BadName)
            }
            CommandBody::Subscribe(mailbox) => {
                let n = name_of(&mailbox, utf8).unwrap_or_default();
                match self.store().subscribe(&user, &n, true) {
                    Ok(()) => Completion::ok("SUBSCRIBE completed"),
                    Err(e) => refusal(&e),
                }
            }
            CommandBody::Unsubscribe(mailbox) => {
                let n = name_of(&mailbox, utf8).unwrap_or_default();
                match self.store().subscribe(&user, &n, false) {
                    Ok(()) => Completion::ok("UNSUBSCRIBE completed"),
                    Err(e) => refusal(&e),
                }
            }
            CommandBody::List {
                select,
                reference,
                patterns,
                return_opts,
            } => self.list(
                m,
                handle,
                &user,
                &select,
                &reference,
                patterns.as_ref(),
                &return_opts,
                false,
            ),
            CommandBody::Lsub { reference, pattern } => self.list(
                m,
                handle,
                &user,
                &[ListSelect::Subscribed],
                &reference,
                std::slice::from_ref(&pattern),
                &[],
                true,
            ),
            CommandBody::Status { mailbox, items } => {
                let Some(n) = name_of(&mailbox, utf8) else {
                    return refusal(&StoreError::NoSuch);
                };
                match self.status_items(&user, &n, &items) {
                    Ok(items) => {
                        let _ = m.send_data(handle, Data::Status { mailbox, items });
                        Completion::ok("STATUS completed")
                    }
                    Err(e) => refusal(&e),
                }
            }
            CommandBody::Append { mailbox, messages } => {
                let Some(n) = name_of(&mailbox, utf8) else {
                    return refusal(&StoreError::NoSuch);
                };
                // RFC 6855 §4: 8-bit header fields only from a client that
                // enabled UTF8=ACCEPT (or IMAP4rev2, whose messages may
                // have them: RFC 9051 §6.3.12), in the UTF8 form.
                // (A refused APPEND's staged files go at the command's end.)
                if !utf8
                    && messages.iter().enumerate().any(|(i, msg)| {
                        msg.utf8
                            || eight_bit_header(&staged_header(&self.staged, i, &msg.message.0))
                    })
                {
                    return Completion::no("8-bit header fields need ENABLE UTF8=ACCEPT")
                        .with_code(code("CANNOT"));
                }
                let staged = std::mem::take(&mut self.staged);
                let r = self.append(&user, &n, messages.as_ref(), staged);
                // The client's own APPEND to the selected folder: EXISTS now.
                if self.sel.as_ref().is_some_and(|s| s.name == n) {
                    self.updates(m, handle, true);
                }
                r
            }
            CommandBody::Close => {
                let mut done = Completion::ok("CLOSE completed");
                if let Some(sel) = self.sel.as_mut()
                    && !sel.read_only
                {
                    let seqs = deleted(&sel.mb, None);
                    if let Err(e) = expunge(self.shared, sel, &seqs, false) {
                        done = Completion::no(&format!("expunge failed: {e}"));
                    }
                }
                self.sel = None;
                done
            }
            CommandBody::Expunge => self.expunge_cmd(m, handle, None),
            CommandBody::UidExpunge(set) => self.expunge_cmd(m, handle, Some(set)),
            CommandBody::Fetch {
                uid,
                set,
                attrs,
                modifiers,
            } => match self.fetch(m, conn, handle, uid, &set, attrs, &modifiers) {
                Ok(c) => c,
                // The connection broke in the middle of a literal.
                Err(e) => {
                    self.log(&format!("FETCH: {e}"));
                    m.close_session("I/O error");
                    Completion::no("I/O error")
                }
            },
            CommandBody::Store {
                uid,
                set,
                unchanged_since,
                kind,
                silent,
                flags,
            } => {
                self.condstore |= unchanged_since.is_some();
                self.store_cmd(m, handle, uid, &set, unchanged_since, kind, silent, &flags)
            }
            CommandBody::Search {
                charset: Some(_), ..
            } if m.is_enabled("UTF8=ACCEPT") => {
                // RFC 6855 §3: strings are UTF-8 once enabled.
                Completion::bad("no CHARSET after ENABLE UTF8=ACCEPT")
            }
            CommandBody::Search {
                uid,
                return_opts,
                charset,
                criteria,
            } => self.search(
                m,
                handle,
                &tag,
                uid,
                return_opts,
                charset,
                criteria.as_ref(),
            ),
            CommandBody::Sort {
                uid,
                criteria,
                charset,
                search,
            } => {
                let (sel, seqs) = match self.matching(search.as_ref(), Some(charset)) {
                    Ok((sel, r)) => (sel, r.numbers),
                    Err(c) => return c,
                };
                let numbers = mailwire::imap::kit::sort::sort(
                    criteria.as_ref(),
                    uid,
                    sel.rows(&seqs, Load::Header),
                );
                let _ = m.send_data(
                    handle,
                    Data::Sort {
                        numbers,
                        modseq: None,
                    },
                );
                Completion::ok("SORT completed")
            }
            CommandBody::Thread {
                uid,
                algorithm,
                charset,
                search,
            } => {
                let (sel, seqs) = match self.matching(search.as_ref(), Some(charset)) {
                    Ok((sel, r)) => (sel, r.numbers),
                    Err(c) => return c,
                };
                let threads = match algorithm {
                    ThreadAlgorithm::References => {
                        mailwire::imap::kit::thread::references(uid, sel.rows(&seqs, Load::Header))
                    }
                    ThreadAlgorithm::OrderedSubject => {
                        mailwire::imap::kit::thread::ordered_subject(
                            uid,
                            sel.rows(&seqs, Load::Header),
                        )
                    }
                    ThreadAlgorithm::Other(_) => {
                        return Completion::bad("unknown THREAD algorithm");
                    }
                };
                let _ = m.send_data(handle, Data::Thread(threads));
                Completion::ok("THREAD completed")
            }
            CommandBody::Copy { uid, set, mailbox } => {
                self.copy(m, handle, &user, uid, &set, &mailbox, false)
            }
            CommandBody::GetQuotaRoot(mailbox) => {
                let Some(n) = name_of(&mailbox, utf8) else {
                    return refusal(&StoreError::NoSuch);
                };
                if let Err(e) = self.store().folder(&user, &n) {
                    return refusal(&e);
                }
                // An account without a limit has no quota root (RFC 9208).
                let limited = self.shared.store.quota_limits(&user).any();
                let _ = m.send_data(
                    handle,
                    Data::QuotaRoot {
                        mailbox: mailbox.into_owned(),
                        roots: if limited {
                            vec![quota_root()]
                        } else {
                            Vec::new()
                        },
                    },
                );
                if !limited {
                    return Completion::ok("GETQUOTAROOT completed");
                }
                self.quota(m, handle, &user, "GETQUOTAROOT completed")
            }
            CommandBody::GetQuota(root) if root.as_bytes() == QUOTA_ROOT.as_bytes() => {
                self.quota(m, handle, &user, "GETQUOTA completed")
            }
            CommandBody::GetQuota(_) => {
                Completion::no("no such quota root").with_code(code("NONEXISTENT"))
            }
            CommandBody::SetQuota { .. } => {
                Completion::no("quotas are set by the administrator").with_code(code("NOPERM"))
            }
            CommandBody::Move { uid, set, mailbox } => {
                self.copy(m, handle, &user, uid, &set, &mailbox, true)
            }
            CommandBody::GetMetadata {
                options,
                mailbox,
                entries,
            } => self.get_metadata(m, handle, &user, options, mailbox, &entries, utf8),
            CommandBody::SetMetadata { mailbox, entries } => {
                self.set_metadata(&user, &mailbox, entries, utf8)
            }
            _ => Completion::bad("command not supported"),
        }
    }

    fn select(
        &mut self,
        m: &mut Server,
        handle: mailwire::imap::server::Handle,
        user: &str,
        mailbox: &Mailbox<'_>,
        examine: bool,
        params: &[SelectParam],
    ) -> Completion<'static> {
        self.sel = None;
        let qresync = params.iter().find_map(|p| match p {
            SelectParam::QResync {
                uidvalidity,
                modseq,
                known_uids,
                seq_match,
            } => Some((*uidvalidity, *modseq, known_uids, seq_match)),
            _ => None,
        });
        if qresync.is_some() && !m.is_enabled("QRESYNC") {
            return Completion::bad("QRESYNC is not enabled");
        }
        let Some(name) = name_of(mailbox, utf8_names(m)) else {
            return refusal(&StoreError::NoSuch);
        };
        let folder = match self.store().folder(user, &name) {
            Ok(f) => f,
            Err(e) => return refusal(&e),
        };
        let watch = self.store().watch(&folder.dir);
        let seen = watch.load(Ordering::SeqCst);
        let snap = match folder.sync(!examine) {
            Ok(s) => s,
            Err(e) => return refusal(&StoreError::Io(e)),
        };
        let mailbox_id = Atom::new(snap.mailbox_id.clone()).ok();
        let mut sel = Selected {
            name,
            folder,
            read_only: examine,
            mb: KitMailbox::new(snap.uid_validity, snap.keyword_room),
            files: snap.messages,
            watch,
            seen,
            keyword_room: snap.keyword_room,
            highest_modseq: snap.highest_modseq,
            expunged: snap.expunged,
            expunge_horizon: snap.expunge_horizon,
        };
        sel.mb.raise_uid_next(snap.uid_next);
        sel.rebuild();
        let mb = &sel.mb;
        let _ = m.send_data(handle, Data::Flags(mb.flags()));
        let _ = m.send_data(handle, Data::Exists(mb.len()));
        let _ = m.send_data(handle, Data::Recent(mb.recent_count()));
        if let Some(v) = NonZeroU32::new(mb.uid_validity()) {
            let _ = m.send_status(
                handle,
                Completion::ok("UIDs valid").with_code(Code::UidValidity(v)),
            );
        }
        if let Some(n) = NonZeroU32::new(mb.uid_next()) {
            let _ = m.send_status(
                handle,
                Completion::ok("Predicted next UID").with_code(Code::UidNext(n)),
            );
        }
        let permanent = if examine {
            Vec::new()
        } else {
            mb.permanent_flags()
        };
        let _ = m.send_status(
            handle,
            Completion::ok("Flags permitted").with_code(Code::PermanentFlags(permanent)),
        );
        if let Some(u) = mb.first_unseen().and_then(NonZeroU32::new) {
            let _ = m.send_status(
                handle,
                Completion::ok("First unseen").with_code(Code::Unseen(u)),
            );
        }
        let _ = m.send_status(
            handle,
            Completion::ok("Highest").with_code(Code::HighestModSeq(mb.highest_modseq())),
        );
        // RFC 8474 §4.2.
        if let Some(id) = mailbox_id {
            let _ = m.send_status(handle, Completion::ok("Ok").with_code(Code::MailboxId(id)));
        }
        // RFC 7162 §3.2.5: what vanished and what changed since the
        // client's mod-sequence, when its UIDVALIDITY is still good.
        if let Some((validity, modseq, known, seq_match)) = qresync
            && let Some(out) = mb.qresync(
                validity,
                modseq,
                known.as_ref(),
                seq_match.as_ref().map(|(a, b)| (a, b)),
            )
        {
            if let Some(uids) = out.vanished {
                let _ = m.send_data(
                    handle,
                    Data::Vanished {
                        earlier: true,
                        uids,
                    },
                );
            }
            for seq in out.changed {
                if let Some(e) = mb.entry(seq) {
                    let d = fetch_flags(seq, e.uid, &e.flags, e.recent, true, Some(e.modseq));
                    let _ = m.send_data(handle, d);
                }
            }
        }
        self.sel = Some(sel);
        if examine {
            Completion::ok("EXAMINE completed").with_code(Code::ReadOnly)
        } else {
            Completion::ok("SELECT completed").with_code(Code::ReadWrite)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn list(
        &mut self,
        m: &mut Server,
        handle: mailwire::imap::server::Handle,
        user: &str,
        select: &[ListSelect],
        reference: &Mailbox<'_>,
        patterns: &[IString<'_>],
        return_opts: &[ListReturn],
        lsub: bool,
    ) -> Completion<'static> {
        // The names are read and shown in the form the client uses.
        let utf8 = utf8_names(m);
        let done = if lsub {
            "LSUB completed"
        } else {
            "LIST completed"
        };
        let reference = match reference {
            Mailbox::Inbox => b"INBOX".to_vec(),
            Mailbox::Other(s) => s.as_bytes().to_vec(),
        };
        let names = match self.store().list(user) {
            Ok(n) => n,
            Err(e) => return refusal(&StoreError::Io(e)),
        };
        let subs = self.store().subscriptions(user).unwrap_or_default();
        // The folders, and the levels above them that are no folder.
        let mut entries: Vec<(String, bool)> = names.iter().map(|n| (n.clone(), true)).collect();
        for n in &names {
            let mut level = n.as_str();
            while let Some((parent, _)) = level.rsplit_once('.') {
                if !entries.iter().any(|(e, _)| e == parent) {
                    entries.push((parent.to_string(), false));
                }
                level = parent;
            }
        }
        if let Some(rest) = entries.get_mut(1..) {
            rest.sort();
        }
        let want_subscribed = select.contains(&ListSelect::Subscribed)
            || return_opts.contains(&ListReturn::Subscribed);
        let only_special = select.contains(&ListSelect::SpecialUse);
        let status: Option<&Vec<StatusAttr>> = return_opts.iter().find_map(|r| match r {
            ListReturn::Status(s) => Some(s),
            _ => None,
        });
        for p in patterns {
            if p.as_bytes().is_empty() {
                // RFC 9051 §6.3.9: the delimiter and the root.
                let item = ListItem {
                    attributes: vec![Atom::new("Noselect").unwrap_or_else(|_| unreachable!())],
                    delimiter: Some(DELIMITER),
                    mailbox: Mailbox::Other(
                        IString::try_from("").unwrap_or_else(|_| unreachable!()),
                    ),
                    extended: Vec::new(),
                };
                let d = if lsub {
                    Data::Lsub(item)
                } else {
                    Data::List(item)
                };
                let _ = m.send_data(handle, d);
                continue;
            }
            let mut full = reference.clone();
            full.extend_from_slice(p.as_bytes());
            for (n, exists) in &entries {
                let (n, exists) = (n.as_str(), *exists);
                let subscribed = subs.iter().any(|s| s == n);
                // The pattern is in the form the client uses for names.
                let Some(shown) = shown_name(n, utf8) else {
                    continue;
                };
                let is_match = if n == "INBOX" {
                    // INBOX is case-insensitive.
                    matches(&full.to_ascii_uppercase(), b"INBOX")
                } else {
                    matches(&full, shown.as_bytes())
                };
                if !is_match
                    || (select.contains(&ListSelect::Subscribed) && !subscribed)
                    || (only_special && MailStore::special_use(n).is_none())
                    || (lsub && !exists && !subscribed)
                {
                    continue;
                }
                let prefix = format!("{n}.");
                let children = names.iter().any(|c| c.starts_with(&prefix));
                let mut attributes: Vec<Atom<'static>> = Vec::new();
                let mut push = |a: &str| {
                    if let Ok(a) = Atom::new(a.to_string()) {
                        attributes.push(a);
                    }
                };
                if !exists {
                    // A level that only has children (RFC 5258 §3.4).
                    push("NonExistent");
                    push("Noselect");
                }
                push(if children {
                    "HasChildren"
                } else {
                    "HasNoChildren"
                });
                if want_subscribed && subscribed && !lsub {
                    push("Subscribed");
                }
                if let Some(s) = MailStore::special_use(n) {
                    push(s);
                }
                let Some(mailbox) = mailbox_of(n, utf8) else {
                    continue;
                };
                let item = ListItem {
                    attributes,
                    delimiter: Some(DELIMITER),
                    mailbox: mailbox.clone(),
                    extended: Vec::new(),
                };
                let _ = m.send_data(
                    handle,
                    if lsub {
                        Data::Lsub(item)
                    } else {
                        Data::List(item)
                    },
                );
                if let Some(items) = status.filter(|_| exists)
                    && let Ok(items) = self.status_items(user, n, items)
                {
                    let _ = m.send_data(handle, Data::Status { mailbox, items });
                }
            }
        }
        Completion::ok(done)
    }

    /// The `QUOTA` response of the account's root, one resource for each
    /// limit it has (RFC 9208 §5.1: `STORAGE` in units of 1024 octets, the
    /// usage rounded up; §5.2: `MESSAGE`, a count), and the command's
    /// completion `done`.
    fn quota(
        &self,
        m: &mut Server,
        handle: mailwire::imap::server::Handle,
        user: &str,
        done: &str,
    ) -> Completion<'static> {
        let limits = self.shared.store.quota_limits(user);
        if !limits.any() {
            return Completion::no("no quota").with_code(code("NONEXISTENT"));
        }
        let used = match self.store().usage(user) {
            Ok(u) => u,
            Err(e) => return refusal(&StoreError::Io(e)),
        };
        let atom = |a: &'static str| Atom::new(a).unwrap_or_else(|_| unreachable!("an atom"));
        let storage = limits
            .storage
            .map(|l| (atom("STORAGE"), used.bytes.div_ceil(1024), l / 1024));
        let messages = limits.messages.map(|l| (atom("MESSAGE"), used.messages, l));
        let _ = m.send_data(
            handle,
            Data::Quota {
                root: quota_root(),
                resources: storage.into_iter().chain(messages).collect(),
            },
        );
        Completion::ok(done)
    }

    /// After a CREATE whose UTF-8 name was not in NFC (and was made under
    /// its NFC form, see [`name_of`]): the untagged LIST of the name made,
    /// with the name given as `OLDNAME` (RFC 9051 §6.3.4, §6.3.9.7).
    fn tell_normalized(
        &self,
        m: &mut Server,
        handle: mailwire::imap::server::Handle,
        given: &Mailbox<'_>,
        stored: &str,
        utf8: bool,
    ) {
        let Mailbox::Other(given) = given else {
            return;
        };
        if !utf8 || given.to_str().is_none_or(unicode_normalization::is_nfc) {
            return;
        }
        let (Some(made), Ok(name)) = (
            mailbox_of(stored.trim_end_matches('.'), utf8),
            IString::try_from("OLDNAME"),
        ) else {
            return;
        };
        let old = Value::List(vec![Value::String(given.clone().into_owned())]);
        let _ = m.send_data(
            handle,
            Data::List(ListItem {
                attributes: Vec::new(),
                delimiter: Some(DELIMITER),
                mailbox: made,
                extended: vec![(name, old)],
            }),
        );
    }

    /// GETMETADATA (RFC 5464 §4.2): the entries asked for, of the server
    /// (the mailbox `""`: the account's private entries and the
    /// administrator's shared ones) or of a folder, chosen by the kit.
    #[allow(clippy::too_many_arguments)]
    fn get_metadata(
        &self,
        m: &mut Server,
        handle: mailwire::imap::server::Handle,
        user: &str,
        options: MetadataOptions,
        mailbox: Mailbox<'static>,
        names: &[IString<'static>],
        utf8: bool,
    ) -> Completion<'static> {
        let Some(depth) = Depth::of(&options) else {
            return Completion::bad("DEPTH is 0, 1 or infinity");
        };
        let wanted: Result<Vec<String>, _> = names
            .iter()
            .map(|n| metadata::entry_name(n.as_bytes(), true))
            .collect();
        let wanted = match wanted {
            Ok(w) => w,
            Err(why) => return Completion::bad(&why.to_string()),
        };
        let Some(name) = name_of(&mailbox, utf8) else {
            return refusal(&StoreError::NoSuch);
        };
        let scope = Scope::of(&name);
        let mut stored = match self.store().metadata(user, scope) {
            Ok(e) => e,
            Err(e) => return refusal(&e),
        };
        if scope == Scope::Server {
            let admin = format!("mailto:postmaster@{}", self.shared.store.cfg.hostname);
            stored.insert("/shared/admin".to_string(), admin.into_bytes());
        }
        let found = metadata::select(&stored, &wanted, depth, options.max_size);
        if let Some(data) = found.response(mailbox) {
            let _ = m.send_data(handle, data);
        }
        let done = Completion::ok("GETMETADATA completed");
        match found.code() {
            Some(c) => done.with_code(c),
            None => done,
        }
    }

    /// SETMETADATA (RFC 5464 §4.3): every change made, or none.
    fn set_metadata(
        &self,
        user: &str,
        mailbox: &Mailbox<'_>,
        entries: Vec<(IString<'static>, NString<'static>)>,
        utf8: bool,
    ) -> Completion<'static> {
        let changes = match metadata::changes(entries) {
            Ok(c) => c,
            Err(why) => return Completion::bad(&why.to_string()),
        };
        let Some(name) = name_of(mailbox, utf8) else {
            return refusal(&StoreError::NoSuch);
        };
        match self.store().set_metadata(user, Scope::of(&name), changes) {
            Ok(()) => Completion::ok("SETMETADATA completed"),
            Err(SetError::Over(over)) => Completion::no(&over.to_string()).with_code(over.code()),
            Err(SetError::NoPermission) => {
                Completion::no("shared server entries are the administrator's")
                    .with_code(code("NOPERM"))
            }
            Err(SetError::Store(e)) => refusal(&e),
        }
    }

    /// Whether adding `messages` of `bytes` would take `user` over the
    /// quota: the refusal (the `OVERQUOTA` response code of RFC 5530) if
    /// so. Without a quota, or adding nothing (MOVE), never.
    fn over_quota(&self, user: &str, bytes: u64, messages: u64) -> Option<Completion<'static>> {
        let limits = self.shared.store.quota_limits(user);
        let adding = crate::mailstore::Usage { bytes, messages };
        match self.store().exceeds(user, &limits, adding) {
            Ok(Some(which)) => Some(
                Completion::no(&format!(
                    "the account's {} quota would be exceeded",
                    which.word()
                ))
                .with_code(code("OVERQUOTA")),
            ),
            Ok(None) => None,
            Err(e) => Some(refusal(&StoreError::Io(e))),
        }
    }

    /// The MAILBOXID (RFC 8474 §4) of `user`'s folder `name`.
    fn mailbox_id(&self, user: &str, name: &str) -> Option<Atom<'static>> {
        let snap = self.store().folder(user, name).ok()?.sync(false).ok()?;
        Atom::new(snap.mailbox_id).ok()
    }

    fn status_items(
        &self,
        user: &str,
        name: &str,
        items: &[StatusAttr],
    ) -> Result<Vec<StatusItem<'static>>, StoreError> {
        let folder = self.store().folder(user, name)?;
        let snap = folder.sync(false)?;
        let msgs = &snap.messages;
        let count = |f: &dyn Fn(&MsgFile) -> bool| msgs.iter().filter(|m| f(m)).count() as u64;
        let mut out = Vec::new();
        for a in items {
            let v = match a {
                StatusAttr::Messages => msgs.len() as u64,
                StatusAttr::Recent => count(&|m| m.in_new),
                StatusAttr::UidNext => u64::from(snap.uid_next),
                StatusAttr::UidValidity => u64::from(snap.uid_validity),
                StatusAttr::Unseen => count(&|m| !m.flags.system.contains(SystemFlags::SEEN)),
                StatusAttr::Deleted => count(&|m| m.flags.system.contains(SystemFlags::DELETED)),
                StatusAttr::Size => msgs.iter().map(|m| folder.message_size(m)).sum(),
                StatusAttr::AppendLimit => self.shared.store.cfg.max_size as u64,
                StatusAttr::HighestModSeq => snap.highest_modseq,
                // RFC 8474 §4.3.
                StatusAttr::MailboxId => {
                    if let Ok(id) = Atom::new(snap.mailbox_id.clone()) {
                        out.push(StatusItem::MailboxId(id));
                    }
                    continue;
                }
            };
            out.push(StatusItem::Number(*a, Some(v)));
        }
        Ok(out)
    }

    /// APPEND (and MULTIAPPEND, RFC 3502): every message written and
    /// synced in the folder's `tmp/` (a streamed one, [`Staged`], renamed
    /// there), then all added at once; what is left of `staged` is removed
    /// when it drops.
    fn append(
        &mut self,
        user: &str,
        name: &str,
        messages: &[mailwire::imap::AppendMessage<'_>],
        mut staged: Vec<Option<Staged>>,
    ) -> Completion<'static> {
        staged.resize_with(messages.len().max(staged.len()), || None);
        let folder = match self.store().folder(user, name) {
            Ok(f) => f,
            Err(StoreError::NoSuch) => {
                return Completion::no("no such mailbox").with_code(Code::TryCreate);
            }
            Err(e) => return refusal(&e),
        };
        if staged.iter().flatten().any(|st| st.file.is_none()) {
            return refusal(&StoreError::Io(io::Error::other(
                "the streamed message could not be written",
            )));
        }
        let len_of = |i: usize, msg: &mailwire::imap::AppendMessage<'_>| match &staged[i] {
            Some(st) => st.len,
            None => msg.message.0.len() as u64,
        };
        let bytes = messages.iter().enumerate().map(|(i, m)| len_of(i, m)).sum();
        if let Some(refused) = self.over_quota(user, bytes, messages.len() as u64) {
            return refused;
        }
        let mut items = Vec::with_capacity(messages.len());
        let host = &self.shared.store.cfg.hostname;
        let res = (|| -> io::Result<()> {
            for (i, msg) in messages.iter().enumerate() {
                let when = msg
                    .date
                    .map(|d| mailwire::imap::kit::search::unix_time(&d))
                    .and_then(|t| u64::try_from(t).ok())
                    .map(|t| UNIX_EPOCH + std::time::Duration::from_secs(t))
                    .unwrap_or_else(SystemTime::now);
                match &mut staged[i] {
                    Some(st) => {
                        let base = new_base(host, st.len, st.wire.size());
                        let f = st.file.take().ok_or_else(|| io::Error::other("no file"))?;
                        f.set_modified(when)?;
                        crate::maildir::sync_file(&f)?;
                        fs::rename(&st.path, folder.tmp_path(&base))?;
                        st.path = folder.tmp_path(&base);
                        items.push((base, Flags::from_flags(&msg.flags)));
                    }
                    None => {
                        let data = &msg.message.0;
                        let base = new_base(host, data.len() as u64, WireSize::of(data));
                        let path = folder.tmp_path(&base);
                        let mut f = create_new(&path)?;
                        items.push((base, Flags::from_flags(&msg.flags)));
                        f.write_all(data)?;
                        f.set_modified(when)?;
                        crate::maildir::sync_file(&f)?;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = res {
            for (b, _) in &items {
                let _ = fs::remove_file(folder.tmp_path(b));
            }
            return refusal(&StoreError::Io(e));
        }
        // Each staged file is in `cur/` now (its drop finds nothing), or
        // was not taken and goes with `staged`.
        match folder.add(&items) {
            Ok((validity, uids)) => {
                self.store().notify(&folder.dir);
                match (NonZeroU32::new(validity), compact_set(&uids)) {
                    (Some(uidvalidity), Some(uids)) => Completion::ok("APPEND completed")
                        .with_code(Code::AppendUid { uidvalidity, uids }),
                    _ => Completion::ok("APPEND completed"),
                }
            }
            Err(e) => refusal(&StoreError::Io(e)),
        }
    }

    fn expunge_cmd(
        &mut self,
        m: &mut Server,
        handle: mailwire::imap::server::Handle,
        uids: Option<SequenceSet>,
    ) -> Completion<'static> {
        let Some(sel) = self.sel.as_mut() else {
            return Completion::bad("no mailbox selected");
        };
        if sel.read_only {
            return Completion::no("mailbox is read-only").with_code(Code::ReadOnly);
        }
        let seqs = deleted(&sel.mb, uids.as_ref());
        match expunge_and_tell(self.shared, sel, m, handle, &seqs) {
            Ok(()) => Completion::ok("EXPUNGE completed"),
            Err(e) => Completion::no(&format!("expunge failed: {e}")),
        }
    }

    /// FETCH. A whole message asked last (`BODY[]`, `BODY.PEEK[]`, `BINARY[]`,
    /// `RFC822`) after items that need no parsing (the usual download)
    /// streams from the file in 64 KiB chunks, sent as they are read: the
    /// session never holds the message. Anything else parses the message
    /// once with the kit.
    #[allow(clippy::too_many_arguments)]
    fn fetch(
        &mut self,
        m: &mut Server,
        conn: &mut Conn,
        handle: mailwire::imap::server::Handle,
        uid: bool,
        set: &SequenceSet,
        attrs: FetchAttrs<'_>,
        modifiers: &[FetchModifier],
    ) -> io::Result<Completion<'static>> {
        let mut changed_since = None;
        let mut vanished = false;
        for md in modifiers {
            match md {
                FetchModifier::ChangedSince(q) => changed_since = Some(*q),
                FetchModifier::Vanished => vanished = true,
            }
        }
        // RFC 7162 §3.2.6: VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC.
        if vanished && (!uid || changed_since.is_none() || !m.is_enabled("QRESYNC")) {
            return Ok(Completion::bad(
                "VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC",
            ));
        }
        let Some(sel) = self.sel.as_mut() else {
            return Ok(Completion::bad("no mailbox selected"));
        };
        let mut seqs = match sel.mb.resolve(set, uid) {
            Ok(s) => s,
            Err(e) => return Ok(Completion::bad(&e.to_string())),
        };
        if let Some(q) = changed_since {
            if vanished && let Some(uids) = sel.mb.vanished_since(q, Some(set)) {
                let _ = m.send_data(
                    handle,
                    Data::Vanished {
                        earlier: true,
                        uids,
                    },
                );
            }
            // RFC 7162 §3.1.4.1: only what changed, and MODSEQ with it.
            seqs = sel.mb.changed_since(&seqs, q);
        }
        let mut attrs = match attrs {
            FetchAttrs::All => vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
                FetchAttr::Envelope,
            ],
            FetchAttrs::Fast => vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
            ],
            FetchAttrs::Full => vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
                FetchAttr::Envelope,
                FetchAttr::Body,
            ],
            FetchAttrs::List(l) => l,
        };
        if uid && !attrs.contains(&FetchAttr::Uid) {
            attrs.insert(0, FetchAttr::Uid);
        }
        if changed_since.is_some() && !attrs.contains(&FetchAttr::ModSeq) {
            attrs.push(FetchAttr::ModSeq);
        }
        if attrs.contains(&FetchAttr::ModSeq) {
            self.condstore = true;
        }
        let sets_seen = !sel.read_only
            && attrs.iter().any(|a| {
                matches!(
                    a,
                    FetchAttr::BodySection { peek: false, .. }
                        | FetchAttr::Binary { peek: false, .. }
                        | FetchAttr::Rfc822
                        | FetchAttr::Rfc822Text
                )
            });
        if sets_seen && !attrs.contains(&FetchAttr::Flags) {
            attrs.push(FetchAttr::Flags);
        }
        let streamed = match attrs.last() {
            Some(FetchAttr::BodySection {
                section,
                partial: None,
                ..
            }) if section.part.is_empty() && section.text.is_none() => Some(Streamed::Body {
                section: Section::default(),
                origin: None,
            }),
            // BINARY[] is the whole message as stored (RFC 3516 §4.2).
            Some(FetchAttr::Binary {
                part,
                partial: None,
                ..
            }) if part.is_empty() => Some(Streamed::Binary {
                part: Vec::new(),
                origin: None,
                literal8: false,
            }),
            Some(FetchAttr::Rfc822) => Some(Streamed::Rfc822),
            _ => None,
        };
        let parse = |attrs: &[FetchAttr<'_>]| {
            attrs.iter().any(|a| {
                !matches!(
                    a,
                    FetchAttr::Uid
                        | FetchAttr::Flags
                        | FetchAttr::InternalDate
                        | FetchAttr::SaveDate
                        | FetchAttr::EmailId
                        | FetchAttr::ThreadId
                        | FetchAttr::ModSeq
                        | FetchAttr::Rfc822Size
                )
            })
        };
        let streamed = streamed.filter(|_| !parse(&attrs[..attrs.len() - 1]));
        if streamed.is_some() {
            attrs.pop();
        }
        let needs_content = parse(&attrs);
        // \Seen first, so that the FLAGS returned are the new ones.
        if sets_seen {
            let unseen: Vec<u32> = seqs
                .iter()
                .copied()
                .filter(|&s| {
                    sel.mb
                        .entry(s)
                        .is_some_and(|e| !e.flags.system.contains(SystemFlags::SEEN))
                })
                .collect();
            if let Err(e) = set_flags(self.shared, sel, &unseen, StoreKind::Add, &[Flag::Seen]) {
                return Ok(Completion::no(&format!("cannot set \\Seen: {e}")));
            }
        }
        // ENVELOPE, BODYSTRUCTURE and BODY come from the shared cache
        // when nothing else needs the message.
        let shape_only = attrs.iter().all(|a| {
            matches!(
                a,
                FetchAttr::Uid
                    | FetchAttr::Flags
                    | FetchAttr::InternalDate
                    | FetchAttr::SaveDate
                    | FetchAttr::EmailId
                    | FetchAttr::ThreadId
                    | FetchAttr::ModSeq
                    | FetchAttr::Rfc822Size
                    | FetchAttr::Envelope
                    | FetchAttr::BodyStructure
                    | FetchAttr::Body
            )
        });
        // What the streamed literals put out, written in big pieces.
        let mut pending = Vec::new();
        for seq in seqs {
            let (Some(e), Some(f)) = (sel.mb.entry(seq), sel.files.get(seq as usize - 1)) else {
                continue;
            };
            let mut shape = None;
            if needs_content && shape_only {
                shape = Shape::cached(&sel.folder.dir, &f.base);
            }
            // The file is looked for (a stat or more) only when something
            // is read from it: not for a shape from the cache.
            let need_path = (needs_content && shape.is_none())
                || streamed.is_some()
                || attrs.contains(&FetchAttr::InternalDate)
                || (attrs.contains(&FetchAttr::Rfc822Size) && f.wire_size().is_none());
            let path = if need_path { sel.folder.find(f) } else { None };
            let msg = if needs_content && shape.is_none() {
                match path.as_ref().and_then(|p| fs::read(p).ok()) {
                    Some(bytes) => Some(Message::parse(bytes)),
                    // Expunged by another session meanwhile.
                    None => continue,
                }
            } else {
                None
            };
            if shape_only && let Some(msg) = &msg {
                shape = Some(Shape::remember(&sel.folder.dir, &f.base, msg));
            }
            let thread = if attrs.contains(&FetchAttr::ThreadId) {
                match thread_id(&sel.folder, f, msg.as_ref().map(|m| &m.raw()[..])) {
                    Some(id) => Atom::new(id.to_string()).ok(),
                    // Expunged by another session meanwhile.
                    None => continue,
                }
            } else {
                None
            };
            let mut items: Vec<FetchItem<'_>> = Vec::with_capacity(attrs.len());
            for a in &attrs {
                match a {
                    FetchAttr::Uid => items.push(FetchItem::Uid(e.uid)),
                    FetchAttr::Flags => items.push(FetchItem::Flags(e.flags.to_flags(e.recent))),
                    FetchAttr::InternalDate => {
                        items.push(FetchItem::InternalDate(date_and_size(path.as_ref(), f).0))
                    }
                    // RFC 8514 §4.2: kept by the store, not the file.
                    FetchAttr::SaveDate => items.push(FetchItem::SaveDate(imap_date(f.save_date))),
                    // RFC 8474 §5.3: the EMAILID from the file's name,
                    // the THREADID from the header's thread root.
                    FetchAttr::EmailId => {
                        if let Ok(id) = Atom::new(f.email_id.to_string()) {
                            items.push(FetchItem::EmailId(id));
                        }
                    }
                    FetchAttr::ThreadId => items.push(FetchItem::ThreadId(thread.clone())),
                    FetchAttr::Rfc822Size => {
                        let size = match &msg {
                            Some(msg) => WireSize::of(msg.raw()),
                            None => date_and_size(path.as_ref(), f).1,
                        };
                        items.push(FetchItem::Rfc822Size(size));
                    }
                    FetchAttr::ModSeq => items.push(FetchItem::ModSeq(e.modseq)),
                    FetchAttr::Envelope if shape.is_some() => {
                        if let Some(sh) = &shape {
                            items.push(FetchItem::Envelope(Box::new(sh.envelope.clone())));
                        }
                    }
                    FetchAttr::BodyStructure if shape.is_some() => {
                        if let Some(sh) = &shape {
                            items.push(FetchItem::BodyStructure(Box::new(sh.structure.clone())));
                        }
                    }
                    FetchAttr::Body if shape.is_some() => {
                        if let Some(sh) = &shape {
                            items.push(FetchItem::Body(Box::new(sh.body.clone())));
                        }
                    }
                    a => {
                        let Some(msg) = &msg else { continue };
                        match msg.fetch(a) {
                            Ok(Some(item)) => items.push(item),
                            Ok(None) => {}
                            Err(err) => {
                                conn.write_all(&pending)?;
                                return Ok(Completion::no(&err.to_string()).with_code(err.code()));
                            }
                        }
                    }
                }
            }
            let Some(seq) = NonZeroU32::new(seq) else {
                continue;
            };
            let Some(item) = &streamed else {
                let _ = m.send_data(handle, Data::Fetch { seq, items });
                continue;
            };
            let Some(mut file) = path.and_then(|p| File::open(p).ok()) else {
                continue;
            };
            let length = file.metadata()?.len();
            let mut item = item.clone();
            // BODY[] and RFC822 are IMAP strings, which cannot hold NUL
            // (RFC 3501 §4.3; RFC 9051 §4.3): each NUL goes out as 0x80,
            // as Dovecot sends it. BINARY[] sends the octets as they are.
            let mut no_nul = true;
            if let Streamed::Binary { literal8, .. } = &mut item {
                // RFC 3516 §4.2: `~{n}` only when the data holds NUL.
                *literal8 = holds_nul(&mut file)?;
                no_nul = false;
            }
            let head = FetchLiteral {
                seq,
                items,
                item,
                length,
            };
            if m.start_fetch_literal(handle, head).is_err() {
                conn.write_all(&pending)?;
                return Ok(Completion::no("FETCH failed"));
            }
            let mut buf = vec![0u8; 64 * 1024];
            let mut left = length;
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = file.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "message file shrank while sent",
                    ));
                }
                // (`contains` on bytes is a memchr: the common case costs a
                // fast scan and no write.)
                if no_nul && buf[..n].contains(&0) {
                    for b in buf[..n].iter_mut().filter(|b| **b == 0) {
                        *b = 0x80;
                    }
                }
                let _ = m.send_literal_chunk(handle, &buf[..n]);
                left -= n as u64;
                // Out in writes of about 256 KiB: memory stays bounded,
                // and many small messages do not cost a write each.
                while m.poll_transmit(Instant::now(), &mut pending).is_some() {}
                if pending.len() >= 256 << 10 {
                    conn.write_all(&pending)?;
                    pending.clear();
                }
            }
        }
        while m.poll_transmit(Instant::now(), &mut pending).is_some() {}
        if !pending.is_empty() {
            conn.write_all(&pending)?;
        }
        Ok(Completion::ok("FETCH completed"))
    }

    #[allow(clippy::too_many_arguments)]
    fn store_cmd(
        &mut self,
        m: &mut Server,
        handle: mailwire::imap::server::Handle,
        uid: bool,
        set: &SequenceSet,
        unchanged_since: Option<u64>,
        kind: StoreKind,
        silent: bool,
        flags: &[Flag<'_>],
    ) -> Completion<'static> {
        let condstore = self.condstore(m);
        let Some(sel) = self.sel.as_mut() else {
            return Completion::bad("no mailbox selected");
        };
        if sel.read_only {
            return Completion::no("mailbox is read-only").with_code(Code::ReadOnly);
        }
        let seqs = match sel.mb.resolve(set, uid) {
            Ok(s) => s,
            Err(e) => return Completion::bad(&e.to_string()),
        };
        // RFC 7162 §3.1.3: a message changed since UNCHANGEDSINCE is left
        // alone and named in MODIFIED.
        let (seqs, modified): (Vec<u32>, Vec<u32>) = seqs.into_iter().partition(|&s| {
            unchanged_since.is_none_or(|u| sel.mb.entry(s).is_none_or(|e| e.modseq <= u))
        });
        if let Err(e) = set_flags(self.shared, sel, &seqs, kind, flags) {
            return Completion::no(&format!("STORE failed: {e}"));
        }
        if !silent {
            for seq in seqs {
                if let Some(e) = sel.mb.entry(seq) {
                    let modseq = condstore.then_some(e.modseq);
                    let _ = m.send_data(
                        handle,
                        fetch_flags(seq, e.uid, &e.flags, e.recent, uid, modseq),
                    );
                }
            }
        }
        let done = Completion::ok("STORE completed");
        let named: Vec<u32> = if uid {
            modified.iter().filter_map(|&s| sel.mb.uid(s)).collect()
        } else {
            modified
        };
        match compact_set(&named) {
            Some(set) => done.with_code(Code::Modified(set)),
            None => done,
        }
    }

    /// The selected folder and the sequence numbers the keys match in it
    /// (with the highest mod-sequence among them for a MODSEQ key).
    fn matching(
        &self,
        criteria: &[mailwire::imap::SearchKey<'_>],
        charset: Option<IString<'_>>,
    ) -> Result<(&Selected, search::SearchResult), Completion<'static>> {
        let Some(sel) = self.sel.as_ref() else {
            return Err(Completion::bad("no mailbox selected"));
        };
        let query = match Query::new(criteria, charset.as_ref().map(|c| c.as_bytes())) {
            Ok(q) => q,
            Err(SearchError::BadCharset) => {
                return Err(
                    Completion::no("unknown charset").with_code(Code::BadCharset(Vec::new()))
                );
            }
            Err(e) => return Err(Completion::bad(&e.to_string())),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let ctx = SearchContext::of(&sel.mb, now);
        let all: Vec<u32> = (1..=sel.mb.len()).collect();
        // THREADIDs are worked out only for a search that asks for them.
        let threads: Vec<Option<Arc<str>>> = if query.uses_thread_id() {
            sel.files
                .iter()
                .map(|f| thread_id(&sel.folder, f, None))
                .collect()
        } else {
            Vec::new()
        };
        let rows = kit_rows(
            &sel.mb,
            &sel.files,
            &sel.folder,
            &all,
            Load::Whole,
            &threads,
        );
        Ok((sel, search::search(&query, &ctx, false, rows)))
    }

    #[allow(clippy::too_many_arguments)]
    fn search(
        &mut self,
        m: &mut Server,
        handle: mailwire::imap::server::Handle,
        tag: &Tag<'_>,
        uid: bool,
        return_opts: Option<Vec<SearchReturn>>,
        charset: Option<IString<'_>>,
        criteria: &[mailwire::imap::SearchKey<'_>],
    ) -> Completion<'static> {
        if let Some(o) = &return_opts
            && o.contains(&SearchReturn::All)
            && o.iter().any(|r| matches!(r, SearchReturn::Partial(_)))
        {
            // RFC 9394 §3.1: one or the other.
            return Completion::bad("PARTIAL and ALL together");
        }
        let (seqs, modseq) = match self.matching(criteria, charset) {
            Ok((_, r)) => (r.numbers, r.modseq),
            Err(c) => return c,
        };
        self.condstore |= modseq.is_some();
        let Some(sel) = self.sel.as_mut() else {
            return Completion::bad("no mailbox selected");
        };
        let numbers: Vec<u32> = if uid {
            seqs.iter().filter_map(|&s| sel.mb.uid(s)).collect()
        } else {
            seqs.clone()
        };
        match return_opts {
            None => {
                let _ = m.send_data(
                    handle,
                    Data::Search {
                        // RFC 7162 §3.1.5: no MODSEQ when nothing matched.
                        modseq: modseq.filter(|_| !numbers.is_empty()),
                        numbers,
                    },
                );
            }
            Some(opts) => {
                if opts.contains(&SearchReturn::Save) {
                    sel.mb
                        .save_result(seqs.iter().filter_map(|&s| sel.mb.uid(s)).collect());
                }
                let result = search::SearchResult { numbers, modseq };
                let only_save = opts.iter().all(|o| *o == SearchReturn::Save) && !opts.is_empty();
                if !only_save {
                    let wanted: Vec<SearchReturn> = opts
                        .into_iter()
                        .filter(|o| *o != SearchReturn::Save)
                        .collect();
                    let _ = m.send_data(
                        handle,
                        Data::ESearch {
                            tag: IString::try_from(tag.as_str().to_string()).ok(),
                            uid,
                            items: result.esearch_items(&wanted),
                        },
                    );
                }
            }
        }
        Completion::ok("SEARCH completed")
    }

    #[allow(clippy::too_many_arguments)]
    fn copy(
        &mut self,
        m: &mut Server,
        handle: mailwire::imap::server::Handle,
        user: &str,
        uid: bool,
        set: &SequenceSet,
        mailbox: &Mailbox<'_>,
        is_move: bool,
    ) -> Completion<'static> {
        let name = name_of(mailbox, utf8_names(m)).unwrap_or_default();
        let dest = match self.shared.store.mail.folder(user, &name) {
            Ok(f) => f,
            Err(StoreError::NoSuch) => {
                return Completion::no("no such mailbox").with_code(Code::TryCreate);
            }
            Err(e) => return refusal(&e),
        };
        let Some(sel) = self.sel.as_mut() else {
            return Completion::bad("no mailbox selected");
        };
        if is_move && sel.read_only {
            return Completion::no("mailbox is read-only").with_code(Code::ReadOnly);
        }
        let seqs = match sel.mb.resolve(set, uid) {
            Ok(s) => s,
            Err(e) => return Completion::bad(&e.to_string()),
        };
        // A copy takes room again; a move does not.
        if !is_move {
            let bytes = seqs
                .iter()
                .filter_map(|&seq| sel.files.get(seq as usize - 1))
                .map(|f| sel.folder.message_size(f))
                .sum();
            if let Some(refused) = self.over_quota(user, bytes, seqs.len() as u64) {
                return refused;
            }
        }
        let Some(sel) = self.sel.as_mut() else {
            return Completion::bad("no mailbox selected");
        };
        let host = &self.shared.store.cfg.hostname;
        let mut items = Vec::new();
        let mut moves = Vec::new();
        let mut copied = Vec::new();
        for &seq in &seqs {
            let (Some(e), Some(f)) = (sel.mb.entry(seq), sel.files.get(seq as usize - 1)) else {
                continue;
            };
            let Some(src) = sel.folder.find(f) else {
                continue;
            };
            let res = (|| -> io::Result<String> {
                let base = f.copy_base(&src, host)?;
                // MOVE renames the file over (move_in below); COPY links it.
                if !is_move {
                    let tmp = dest.tmp_path(&base);
                    if fs::hard_link(&src, &tmp).is_err() {
                        fs::copy(&src, &tmp)?;
                        crate::maildir::sync_file(&File::open(&tmp)?)?;
                    }
                }
                Ok(base)
            })();
            match res {
                Ok(base) => {
                    if is_move {
                        moves.push((src, base, e.flags.clone()));
                    } else {
                        items.push((base, e.flags.clone()));
                    }
                    copied.push((seq, e.uid.get()));
                }
                // Expunged meanwhile: not copied.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => {
                    for (b, _) in &items {
                        let _ = fs::remove_file(dest.tmp_path(b));
                    }
                    return Completion::no(&format!("copy failed: {err}"));
                }
            }
        }
        let added = if is_move {
            dest.move_in(&moves).map(|(v, uids)| {
                // What another session moved or expunged first is not ours.
                let mut kept = Vec::new();
                let mut dest_uids = Vec::new();
                for (c, u) in copied.iter().zip(uids) {
                    if let Some(u) = u {
                        kept.push(*c);
                        dest_uids.push(u);
                    }
                }
                copied = kept;
                (v, dest_uids)
            })
        } else {
            dest.add(&items)
        };
        let (validity, uids) = match added {
            Ok(r) => r,
            Err(e) => return refusal(&StoreError::Io(e)),
        };
        self.shared.store.mail.notify(&dest.dir);
        let src_uids: Vec<u32> = copied.iter().map(|(_, u)| *u).collect();
        let copyuid = match (
            NonZeroU32::new(validity),
            compact_set(&src_uids),
            compact_set(&uids),
        ) {
            (Some(uidvalidity), Some(source), Some(destination)) => Some(Code::CopyUid {
                uidvalidity,
                source,
                destination,
            }),
            _ => None,
        };
        if !is_move {
            let done = Completion::ok("COPY completed");
            return match copyuid {
                Some(c) => done.with_code(c),
                None => done,
            };
        }
        // RFC 6851 §4.3: COPYUID in an untagged OK, then the EXPUNGEs.
        if let Some(c) = copyuid {
            let _ = m.send_status(handle, Completion::ok("Moved UIDs").with_code(c));
        }
        let moved: Vec<u32> = copied.iter().map(|(s, _)| *s).collect();
        match expunge_and_tell(self.shared, sel, m, handle, &moved) {
            Ok(()) => Completion::ok("MOVE completed"),
            Err(e) => Completion::no(&format!("copied, but the originals stay: {e}")),
        }
    }
}

/// The messages with `\Deleted` (within `uids` when given).
fn deleted(mb: &KitMailbox, uids: Option<&SequenceSet>) -> Vec<u32> {
    let candidates: Vec<u32> = match uids {
        Some(set) => mb.resolve(set, true).unwrap_or_default(),
        None => (1..=mb.len()).collect(),
    };
    candidates
        .into_iter()
        .filter(|&s| {
            mb.entry(s)
                .is_some_and(|e| e.flags.system.contains(SystemFlags::DELETED))
        })
        .collect()
}

/// The responses for expunged messages: `* n EXPUNGE` each, or after
/// ENABLE QRESYNC one `* VANISHED uids` (RFC 7162 §3.2.10).
fn expunge_responses(nums: Vec<u32>, uids: &[u32], qresync: bool) -> Vec<Data<'static>> {
    if qresync {
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        return compact_set(&sorted)
            .map(|uids| Data::Vanished {
                earlier: false,
                uids,
            })
            .into_iter()
            .collect();
    }
    nums.into_iter()
        .filter_map(NonZeroU32::new)
        .map(Data::Expunge)
        .collect()
}

/// Removes the messages (ascending sequence numbers) from disk and from the
/// snapshot; returns the responses that tell the client.
fn expunge(
    shared: &Shared,
    sel: &mut Selected,
    seqs: &[u32],
    qresync: bool,
) -> io::Result<Vec<Data<'static>>> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let files: Vec<&MsgFile> = seqs
        .iter()
        .filter_map(|&s| sel.files.get(s as usize - 1))
        .collect();
    let uids: Vec<u32> = files.iter().map(|f| f.uid).collect();
    let highest = sel.folder.expunge(&files)?;
    sel.highest_modseq = sel.highest_modseq.max(highest);
    sel.note_expunged(&uids, highest);
    shared.store.mail.notify(&sel.folder.dir);
    for &s in seqs.iter().rev() {
        sel.files.remove(s as usize - 1);
    }
    // At the store's mod-sequence, so the kit's record and the store's
    // agree and HIGHESTMODSEQ does not run ahead of the store's.
    Ok(expunge_responses(
        sel.mb.expunge_at(seqs, highest),
        &uids,
        qresync,
    ))
}

/// [`expunge`], and its responses for the command in progress.
fn expunge_and_tell(
    shared: &Shared,
    sel: &mut Selected,
    m: &mut Server,
    handle: mailwire::imap::server::Handle,
    seqs: &[u32],
) -> io::Result<()> {
    let qresync = m.is_enabled("QRESYNC");
    for d in expunge(shared, sel, seqs, qresync)? {
        let _ = m.send_data(handle, d);
    }
    Ok(())
}

/// Applies a flag change to messages on disk and in the snapshot.
fn set_flags(
    shared: &Shared,
    sel: &mut Selected,
    seqs: &[u32],
    kind: StoreKind,
    flags: &[Flag<'_>],
) -> io::Result<()> {
    let mut targets = Vec::new();
    for &s in seqs {
        if let (Some(e), Some(f)) = (sel.mb.entry(s), sel.files.get(s as usize - 1)) {
            let mut nf = e.flags.clone();
            if nf.apply(kind, flags) {
                targets.push((s, f, nf));
            }
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    let changes: Vec<(&MsgFile, Flags)> =
        targets.iter().map(|(_, f, nf)| (*f, nf.clone())).collect();
    let results = sel.folder.set_flags(&changes)?;
    let seqs: Vec<u32> = targets.iter().map(|(s, _, _)| *s).collect();
    for (s, r) in seqs.into_iter().zip(results) {
        let Some(new) = r else { continue };
        let i = s as usize - 1;
        let recent = sel.files[i].recent;
        sel.highest_modseq = sel.highest_modseq.max(new.modseq);
        sel.files[i] = MsgFile { recent, ..new };
    }
    sel.rebuild();
    shared.store.mail.notify(&sel.folder.dir);
    // Our own change: nothing to tell ourselves.
    sel.seen = sel.watch.load(Ordering::SeqCst);
    Ok(())
}

/// Whether `cmd` reads message files or lists a folder's files
/// (`SELECT` on a folder changed behind the session, `STATUS`, `FETCH`,
/// `SEARCH`, `SORT`, `THREAD`). Commands that write wait in
/// [`crate::maildir::sync_file`] already.
fn reads_messages(cmd: &CommandBody<'_>) -> bool {
    matches!(
        cmd,
        CommandBody::Select { .. }
            | CommandBody::Examine { .. }
            | CommandBody::Status { .. }
            | CommandBody::Fetch { .. }
            | CommandBody::Search { .. }
            | CommandBody::Sort { .. }
            | CommandBody::Thread { .. }
    )
}

impl Handler<Server> for Session<'_> {
    fn event(&mut self, m: &mut Server, ev: Event, conn: &mut Conn) -> io::Result<()> {
        match ev {
            Event::Authenticate {
                handle,
                username,
                method,
                ..
            } => self.authenticate(m, handle, username, method),
            Event::LoggedIn {
                handle, username, ..
            } => {
                if let Some(a) = self.attempt.take() {
                    self.shared.auth_guard.succeeded(a);
                }
                // Only the account itself (an authzid naming another user
                // is refused).
                if self.shared.accounts.exists(&username) {
                    self.log(&format!("{username} logged in"));
                    self.generation = self.shared.accounts.generation(&username);
                    self.user = Some(username);
                    let _ = m.complete(handle, Completion::ok("Logged in"));
                } else {
                    let _ = m.complete(
                        handle,
                        Completion::no("no such mailbox").with_code(code("AUTHORIZATIONFAILED")),
                    );
                }
            }
            Event::AppendData {
                message,
                offset,
                data,
            } => self.stage(message, offset, &data),
            Event::AppendAbandoned => self.staged.clear(),
            Event::Command {
                handle,
                tag,
                command,
            } => {
                // A command that reads message files or scans a folder may
                // wait on the disk (a cold cache): another thread of the
                // pool serves meanwhile.
                let done = if reads_messages(&command) {
                    crate::driver::blocking(|| self.command(m, conn, handle, tag, command))
                } else {
                    self.command(m, conn, handle, tag, command)
                };
                // The staged files of an APPEND refused before it took
                // them are removed.
                self.staged.clear();
                let _ = m.complete(handle, done);
            }
            Event::IdleStarted => {
                self.idling = true;
                self.push_changes(m, true);
            }
            Event::IdleDone => self.idling = false,
            Event::Unselected => self.sel = None,
            Event::Unauthenticated => {
                // RFC 8437: as before LOGIN; the machine refuses the
                // authenticated commands until the next one.
                if let Some(user) = self.user.take() {
                    self.log(&format!("{user} unauthenticated"));
                }
                self.sel = None;
                self.staged.clear();
                self.idling = false;
                self.condstore = false;
                self.generation = 0;
            }
            Event::StartTls => {
                let tls = rustls::ServerConnection::new(self.shared.tls.clone())
                    .map_err(io::Error::other)?;
                conn.start_tls(tls)?;
                m.handle_tls_established(Instant::now());
            }
            // The OK went out as it is (the driver flushes before it
            // hands over events); all after it is compressed.
            Event::Compress => {
                conn.start_deflate();
                self.log("COMPRESS=DEFLATE on");
            }
            Event::Closed { reason } => self.log(&format!("closed: {reason}")),
            _ => {}
        }
        Ok(())
    }

    fn tick(&mut self, m: &mut Server) -> bool {
        // SIGTERM: a session waiting for its client (IDLE included) ends
        // with a BYE; a command in progress is never cut.
        if self.shared.shutdown.load(Ordering::SeqCst) {
            m.close_session("Server shutting down");
            return true;
        }
        if self.idling {
            self.push_changes(m, false);
        }
        false
    }

    fn end(&mut self) {
        // An attempt still open failed (it is already counted).
        self.attempt = None;
        // An APPEND whose command never came.
        self.staged.clear();
    }
}

impl Session<'_> {
    /// During IDLE: pushes what changed (the counter moved, or `always`).
    fn push_changes(&mut self, m: &mut Server, always: bool) {
        let condstore = self.condstore(m);
        for d in self.changes(always, condstore, m.is_enabled("QRESYNC")) {
            let _ = m.push_update(&d);
        }
    }
}

/// A session for an accepted IMAP connection (the imaps port has TLS in
/// place already): the machine (its greeting queued) and the handler.
pub(crate) fn start(
    shared: &Shared,
    implicit_tls: bool,
    peer: SocketAddr,
) -> io::Result<(Server, Session<'_>)> {
    let session = Session {
        shared,
        peer,
        user: None,
        sel: None,
        idling: false,
        condstore: false,
        attempt: None,
        auth_failures: 0,
        generation: 0,
        staged: Vec::new(),
    };
    let nonce = random_hex(18);
    let greeting = Greeting::ok(&format!(
        "{} mailwire IMAP ready",
        shared.store.cfg.hostname
    ));
    let m = Server::new(
        options(shared, implicit_tls, peer),
        greeting,
        &nonce,
        Instant::now(),
    )
    .map_err(io::Error::other)?;
    Ok((m, session))
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_end() {
        use super::header_end;
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), Some(8));
        assert_eq!(header_end(b"A: b\n\nbody"), Some(6));
        assert_eq!(header_end(b"A: b\r\n"), None);
        assert_eq!(header_end(b"\r\nbody"), Some(2));
        assert_eq!(header_end(b"\nbody"), Some(1));
        assert_eq!(header_end(b"A: b\r\n c\r\n\r\n"), Some(12));
    }

    use super::*;

    /// A THREADID comes from the header section within the first
    /// [`MAX_HEADER_READ`] octets, whether the whole message or the header
    /// alone was read; a References field past them does not count.
    #[test]
    fn thread_id_from_the_header_read() {
        let reply = b"Message-ID: <b@x>\r\nReferences: <a@x>\r\n\r\nReferences: <c@x>\r\n";
        let from_root = thread_id_of(Some("a@x"), "M1");
        assert_eq!(thread_id_in(reply, "M1"), from_root);
        assert_eq!(thread_id_in(&reply[..38], "M1"), from_root);
        let mut long = b"Message-ID: <b@x>\r\n".to_vec();
        while long.len() < MAX_HEADER_READ as usize {
            long.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
        }
        long.extend_from_slice(b"References: <a@x>\r\n\r\nbody\r\n");
        assert_eq!(thread_id_in(&long, "M1"), thread_id_of(Some("b@x"), "M1"));
        assert_eq!(
            thread_id_in(b"Subject: x\r\n\r\n", "M7"),
            thread_id_of(None, "M7")
        );
    }

    #[test]
    fn list_patterns() {
        assert!(matches(b"*", b"a.b"));
        assert!(matches(b"%", b"Sent"));
        assert!(!matches(b"%", b"a.b"));
        assert!(matches(b"a.%", b"a.b"));
        assert!(matches(b"a*", b"a.b.c"));
        assert!(!matches(b"b*", b"a"));
        assert!(matches(b"Work", b"Work"));
    }

    #[test]
    fn expunges_or_vanished() {
        let n = |v| NonZeroU32::new(v).unwrap();
        assert_eq!(
            expunge_responses(vec![3, 3], &[7, 9], false),
            [Data::Expunge(n(3)), Data::Expunge(n(3))]
        );
        assert_eq!(
            expunge_responses(vec![3, 3], &[9, 7, 8], true),
            [Data::Vanished {
                earlier: false,
                uids: SequenceSet::range(7, 9).unwrap()
            }]
        );
        assert!(expunge_responses(vec![], &[], true).is_empty());
    }

    #[test]
    fn flag_fetch_items() {
        let mut f = Flags::default();
        f.system.insert(SystemFlags::SEEN);
        let d = fetch_flags(2, NonZeroU32::new(5).unwrap(), &f, true, true, Some(9));
        let Data::Fetch { seq, items } = d else {
            panic!()
        };
        assert_eq!(seq.get(), 2);
        assert_eq!(
            items,
            [
                FetchItem::Flags(vec![Flag::Seen, Flag::Recent]),
                FetchItem::Uid(NonZeroU32::new(5).unwrap()),
                FetchItem::ModSeq(9)
            ]
        );
    }

    #[test]
    fn mailbox_names() {
        for utf8 in [false, true] {
            assert_eq!(name_of(&Mailbox::Inbox, utf8).as_deref(), Some("INBOX"));
            assert_eq!(mailbox_of("INBOX", utf8), Some(Mailbox::Inbox));
            let m = mailbox_of("Archive.2024", utf8).unwrap();
            assert_eq!(name_of(&m, utf8).as_deref(), Some("Archive.2024"));
        }
    }

    /// RFC 6855 §3: a client that enabled UTF8=ACCEPT names mailboxes in
    /// UTF-8; they are stored in modified UTF-7 (RFC 3501 §5.1.3, the
    /// example of RFC 9051 Appendix A.1), so that a client without it, and
    /// Dovecot, see the same mailbox; `&` is a character there.
    #[test]
    fn rfc6855_3_utf8_names_are_stored_in_modified_utf7() {
        let wire = |s: &str| Mailbox::new(IString::try_from(s.to_string()).unwrap());
        let stored = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        let text = "~peter/mail/台北/日本語";
        assert_eq!(name_of(&wire(text), true).as_deref(), Some(stored));
        assert_eq!(mailbox_of(stored, true), Some(wire(text)));
        assert_eq!(mailbox_of(stored, false), Some(wire(stored)));
        assert_eq!(name_of(&wire(stored), false).as_deref(), Some(stored));
        assert_eq!(name_of(&wire("R&D"), true).as_deref(), Some("R&-D"));
        assert_eq!(mailbox_of("R&-D", true), Some(wire("R&D")));
        assert_eq!(
            shown_name("Plain.Name", true).as_deref(),
            Some("Plain.Name")
        );
        for bad in ["tab\there", "line\u{2028}sep", "del\u{7f}"] {
            assert_eq!(name_of(&wire(bad), true), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc6855_4_eight_bit_headers() {
        assert!(eight_bit_header("Subject: Grüße\r\n\r\nbody".as_bytes()));
        assert!(!eight_bit_header("Subject: hi\r\n\r\nGrüße".as_bytes()));
        assert!(!eight_bit_header("Subject: hi\n\nGrüße".as_bytes()));
    }

    #[test]
    fn dates() {
        let d = imap_date(951_782_400).unwrap();
        assert_eq!(
            (d.date().year(), d.date().month(), d.date().day()),
            (2000, 2, 29)
        );
    }
}

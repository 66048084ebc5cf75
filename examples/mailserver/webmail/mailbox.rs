//! What the webmail does to the mail store, for one logged-in user. Every
//! look-up goes through [`MailStore::folder`] with the session's user, so
//! a folder name or UID from a URL never reaches another account. All of
//! it is blocking file work: the HTTP side runs it in `spawn_blocking`.

use std::fs;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::SystemTime;

use mailwire::imap::kit::mailbox::{Flags, Mailbox as KitMailbox, SystemFlags};
use mailwire::imap::kit::search::{self, Query, SearchContext};
use mailwire::imap::{IString, SearchKey, SortCriterion, SortKey};
use mailwire::pop3::WireSize;

use crate::imap_session::{Load, kit_rows, read_header};
use crate::maildir::{create_new, queue_id};
use crate::mailstore::folder::{MsgFile, new_base};
use crate::mailstore::{Folder, MailStore, StoreError};
use crate::mailstore::{Limits, Usage};
use crate::rewrite::{Context, Expansion};
use crate::smtp_session::Shared;
use crate::store::{Dest, Trace, received_field, unix_now};

/// Messages on one page of the list.
pub(crate) const PAGE: usize = 50;

/// Why a request on the store failed.
#[derive(Debug)]
pub(crate) enum WebError {
    /// No such folder or message (for this user).
    NotFound,
    /// Refused, with the reason to show.
    Refused(String),
    /// The store failed.
    Io(io::Error),
}

impl From<io::Error> for WebError {
    fn from(e: io::Error) -> Self {
        WebError::Io(e)
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuch | StoreError::BadName => WebError::NotFound,
            StoreError::Io(e) => WebError::Io(e),
            other => WebError::Refused(other.to_string()),
        }
    }
}

/// One folder in the folder list.
#[derive(Debug, Clone)]
pub(crate) struct FolderInfo {
    pub(crate) name: String,
    pub(crate) unread: usize,
    pub(crate) total: usize,
}

/// Every folder of `user` with its counts, INBOX first.
pub(crate) fn folders(mail: &MailStore, user: &str) -> Result<Vec<FolderInfo>, WebError> {
    let mut out = Vec::new();
    for name in mail.list(user)? {
        let Ok(f) = mail.folder(user, &name) else {
            continue;
        };
        let snap = f.sync(false)?;
        let unread = snap
            .messages
            .iter()
            .filter(|m| !m.flags.system.contains(SystemFlags::SEEN))
            .count();
        out.push(FolderInfo {
            name,
            unread,
            total: snap.messages.len(),
        });
    }
    Ok(out)
}

/// Whether a folder is one the webmail lets people rename or delete: not
/// INBOX and not one of the special-use folders every account has.
pub(crate) fn is_own_folder(name: &str) -> bool {
    !name.eq_ignore_ascii_case("INBOX") && MailStore::special_use(name).is_none()
}

/// A folder name as typed (Unicode, `.` between levels) in the store's
/// form (IMAP's modified UTF-7, RFC 3501 §5.1.3), from its NFC form, as
/// IMAP takes UTF-8 names (RFC 9051 §5.1), so the two make one folder.
fn stored_name(typed: &str) -> Result<String, WebError> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(WebError::Refused("a folder needs a name".into()));
    }
    let nfc: String = unicode_normalization::UnicodeNormalization::nfc(typed).collect();
    Ok(mailwire::imap::encode_utf7(&nfc))
}

/// Creates a folder (subscribed, so IMAP clients show it too); returns
/// its stored name.
pub(crate) fn create_folder(mail: &MailStore, user: &str, typed: &str) -> Result<String, WebError> {
    let name = stored_name(typed)?;
    mail.create(user, &name).map_err(|e| match e {
        StoreError::BadName => WebError::Refused(
            "not a folder name: no '/', no empty level, no level starting with '.'".into(),
        ),
        other => other.into(),
    })?;
    mail.subscribe(user, &name, true)?;
    Ok(name)
}

/// Renames one of the user's own folders (with its children); the
/// subscription follows.
pub(crate) fn rename_folder(
    mail: &MailStore,
    user: &str,
    from: &str,
    typed: &str,
) -> Result<String, WebError> {
    if !is_own_folder(from) {
        return Err(WebError::Refused("this folder cannot be renamed".into()));
    }
    let to = stored_name(typed)?;
    if !is_own_folder(&to) {
        return Err(WebError::Refused(
            "that name belongs to a standard folder".into(),
        ));
    }
    mail.rename(user, from, &to).map_err(|e| match e {
        StoreError::BadName => WebError::Refused("not a folder name".into()),
        other => other.into(),
    })?;
    if mail.subscriptions(user)?.iter().any(|s| s == from) {
        mail.subscribe(user, from, false)?;
        mail.subscribe(user, &to, true)?;
    }
    Ok(to)
}

/// Deletes one of the user's own folders when it is empty (the webmail
/// never throws messages away with a folder: move or delete them first).
pub(crate) fn delete_folder(mail: &MailStore, user: &str, name: &str) -> Result<(), WebError> {
    if !is_own_folder(name) {
        return Err(WebError::Refused("this folder cannot be deleted".into()));
    }
    if !mail.folder(user, name)?.sync(false)?.messages.is_empty() {
        return Err(WebError::Refused(
            "the folder is not empty: move or delete its messages first".into(),
        ));
    }
    mail.delete(user, name)?;
    mail.subscribe(user, name, false)?;
    Ok(())
}

/// The order of the message list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Sort {
    #[default]
    Date,
    From,
    Subject,
}

impl Sort {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "from" => Sort::From,
            "subject" => Sort::Subject,
            _ => Sort::Date,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Sort::Date => "date",
            Sort::From => "from",
            Sort::Subject => "subject",
        }
    }
}

/// Where a search looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Field {
    /// Headers and body (IMAP `TEXT`).
    #[default]
    Text,
    From,
    Subject,
}

impl Field {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "from" => Field::From,
            "subject" => Field::Subject,
            _ => Field::Text,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Text => "text",
            Field::From => "from",
            Field::Subject => "subject",
        }
    }
}

/// What the message list shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    pub(crate) sort: Sort,
    /// Oldest (or A) first.
    pub(crate) ascending: bool,
    pub(crate) search: String,
    pub(crate) field: Field,
    /// From 0.
    pub(crate) page: usize,
}

/// One row of the message list.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) uid: u32,
    pub(crate) from: String,
    pub(crate) subject: String,
    pub(crate) date: String,
    pub(crate) seen: bool,
    pub(crate) flagged: bool,
}

/// One page of a folder's list, and how many messages matched.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub(crate) rows: Vec<Row>,
    pub(crate) matched: usize,
}

/// The kit's model of a folder's messages, in UID order.
fn kit_mailbox(uid_validity: u32, files: &[MsgFile]) -> KitMailbox {
    let mut mb = KitMailbox::new(uid_validity, false);
    for f in files {
        if let Some(uid) = NonZeroU32::new(f.uid) {
            mb.push_existing(uid, f.flags.clone(), f.modseq, false);
        }
    }
    mb
}

/// The message list of a folder: searched (sender, subject or full text)
/// and sorted by the IMAP server kit, as IMAP SEARCH and SORT are.
pub(crate) fn list(
    mail: &MailStore,
    user: &str,
    name: &str,
    q: &ListQuery,
) -> Result<Listing, WebError> {
    let folder = mail.folder(user, name)?;
    let snap = folder.sync(false)?;
    let files = snap.messages;
    let mb = kit_mailbox(snap.uid_validity, &files);
    let all: Vec<u32> = (1..=mb.len()).collect();
    let seqs = if q.search.trim().is_empty() {
        all
    } else {
        let needle = IString::try_from(q.search.trim().to_string())
            .map_err(|_| WebError::Refused("cannot search for that text".into()))?;
        let key = match q.field {
            Field::Text => SearchKey::Text(needle),
            Field::From => SearchKey::From(needle),
            Field::Subject => SearchKey::Subject(needle),
        };
        let query =
            Query::new(&[key], Some(b"UTF-8")).map_err(|e| WebError::Refused(e.to_string()))?;
        let ctx = SearchContext::of(&mb, unix_now() as i64);
        search::search(
            &query,
            &ctx,
            false,
            kit_rows(&mb, &files, &folder, &all, Load::Whole, &[]),
        )
        .numbers
    };
    let key = match q.sort {
        Sort::Date => SortKey::Date,
        Sort::From => SortKey::DisplayFrom,
        Sort::Subject => SortKey::Subject,
    };
    let criteria = [SortCriterion {
        reverse: !q.ascending,
        key,
    }];
    let order = mailwire::imap::kit::sort::sort(
        &criteria,
        false,
        kit_rows(&mb, &files, &folder, &seqs, Load::Header, &[]),
    );
    let matched = order.len();
    let rows = order
        .iter()
        .skip(q.page * PAGE)
        .take(PAGE)
        .filter_map(|&seq| files.get(seq as usize - 1))
        .map(|m| row(&folder, m))
        .collect();
    Ok(Listing { rows, matched })
}

/// A list row from the message's header section.
fn row(folder: &Folder, m: &MsgFile) -> Row {
    dated_row(folder, m).0
}

/// The other messages of the conversation of message `m` of folder
/// `name` (its content `raw`): those with its THREADID (RFC 8474 §5.2, as
/// IMAP's FETCH THREADID tells it: the thread's first message as the
/// headers name it) in that folder, INBOX and the Sent folder, each once
/// (a copy, one EMAILID, counts once; `m` and its copies not at all),
/// oldest first, with the folder each is in.
pub(crate) fn conversation(
    mail: &MailStore,
    user: &str,
    name: &str,
    m: &MsgFile,
    raw: &[u8],
) -> Result<Vec<(String, Row)>, WebError> {
    let thread = crate::imap_session::thread_id_in(raw, &m.email_id);
    let sent = mail
        .list(user)?
        .into_iter()
        .find(|n| MailStore::special_use(n) == Some("Sent"));
    let inbox = |n: &str| n.eq_ignore_ascii_case("INBOX");
    let mut names: Vec<String> = Vec::new();
    for n in [name.to_string(), "INBOX".to_string()]
        .into_iter()
        .chain(sent)
    {
        if !names.iter().any(|x| *x == n || (inbox(x) && inbox(&n))) {
            names.push(n);
        }
    }
    let mut seen = vec![m.email_id.clone()];
    let mut found = Vec::new();
    for n in &names {
        let Ok(folder) = mail.folder(user, n) else {
            continue;
        };
        for f in folder.sync(false)?.messages {
            if seen.contains(&f.email_id)
                || crate::imap_session::thread_id(&folder, &f, None).as_deref() != Some(&*thread)
            {
                continue;
            }
            seen.push(f.email_id.clone());
            let (row, time) = dated_row(&folder, &f);
            found.push((time, n.clone(), row));
        }
    }
    found.sort_by_key(|(time, _, _)| *time);
    Ok(found.into_iter().map(|(_, n, r)| (n, r)).collect())
}

/// [`row`] and the time it shows, in seconds since 1970 (for ordering).
fn dated_row(folder: &Folder, m: &MsgFile) -> (Row, i64) {
    let path = folder.find(m);
    let raw = path
        .as_ref()
        .and_then(|p| read_header(p).ok())
        .unwrap_or_default();
    let msg = mailwire::message::Message::parse(&raw);
    let from = msg
        .from()
        .mailboxes()
        .next()
        .map(|mb| {
            mb.name()
                .filter(|n| !n.is_empty())
                .unwrap_or(mb.addr_spec())
                .to_string()
        })
        .unwrap_or_default();
    // The Date field, else the arrival (the file's time, IMAP's
    // INTERNALDATE).
    let date = msg
        .get("Date")
        .and_then(|f| mailwire::message::parse_date_time(f.raw_value()).0)
        .or_else(|| {
            let t = fs::metadata(path.as_ref()?).ok()?.modified().ok()?;
            let unix = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
            mailwire::message::DateTime::from_unix(i64::try_from(unix).ok()?, 0).ok()
        });
    let row = Row {
        uid: m.uid,
        from,
        subject: msg.subject().map(|s| s.into_owned()).unwrap_or_default(),
        date: date.map(|d| d.to_short()).unwrap_or_default(),
        seen: m.flags.system.contains(SystemFlags::SEEN),
        flagged: m.flags.system.contains(SystemFlags::FLAGGED),
    };
    (row, date.map_or(0, |d| d.unix_timestamp()))
}

/// A message of `user`'s folder: its file record and content.
pub(crate) fn load(
    mail: &MailStore,
    user: &str,
    name: &str,
    uid: u32,
) -> Result<(MsgFile, Vec<u8>), WebError> {
    let folder = mail.folder(user, name)?;
    let m = find(&folder, uid)?;
    let path = folder.find(&m).ok_or(WebError::NotFound)?;
    let raw = fs::read(path)?;
    Ok((m, raw))
}

/// The record of a UID in a folder.
fn find(folder: &Folder, uid: u32) -> Result<MsgFile, WebError> {
    find_all(folder, &[uid])?
        .into_iter()
        .next()
        .ok_or(WebError::NotFound)
}

/// The records of these UIDs in a folder, in UID order (one read of the
/// folder); those gone meanwhile are left out, [`WebError::NotFound`] when
/// every one is.
fn find_all(folder: &Folder, uids: &[u32]) -> Result<Vec<MsgFile>, WebError> {
    let found: Vec<MsgFile> = folder
        .sync(false)?
        .messages
        .into_iter()
        .filter(|m| uids.contains(&m.uid))
        .collect();
    if found.is_empty() {
        return Err(WebError::NotFound);
    }
    Ok(found)
}

/// Sets (`on`) or clears a system flag of these messages.
pub(crate) fn set_flag(
    mail: &MailStore,
    user: &str,
    name: &str,
    uids: &[u32],
    flag: SystemFlags,
    on: bool,
) -> Result<(), WebError> {
    let folder = mail.folder(user, name)?;
    let found = find_all(&folder, uids)?;
    let changes: Vec<(&MsgFile, _)> = found
        .iter()
        .filter(|m| m.flags.system.contains(flag) != on)
        .map(|m| {
            let mut flags = m.flags.clone();
            if on {
                flags.system.insert(flag);
            } else {
                flags.system.remove(flag);
            }
            (m, flags)
        })
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    folder.set_flags(&changes)?;
    mail.notify(&folder.dir);
    Ok(())
}

/// Moves messages to another folder of the same user (IMAP MOVE's way:
/// the files are renamed over, then their old records expunged).
pub(crate) fn move_to(
    shared: &Shared,
    user: &str,
    from: &str,
    uids: &[u32],
    to: &str,
) -> Result<(), WebError> {
    let mail = &shared.store.mail;
    let src = mail.folder(user, from)?;
    let dest = mail.folder(user, to)?;
    if src.dir == dest.dir {
        return Ok(());
    }
    let found = find_all(&src, uids)?;
    let mut items = Vec::with_capacity(found.len());
    let mut moving = Vec::with_capacity(found.len());
    for m in &found {
        // Gone since the folder was read: nothing to move.
        let Some(path) = src.find(m) else { continue };
        let base = m.copy_base(&path, &shared.store.cfg.hostname)?;
        items.push((path, base, m.flags.clone()));
        moving.push(m);
    }
    let (_, given) = dest.move_in(&items)?;
    // Only the ones that arrived leave their old record.
    let moved: Vec<&MsgFile> = moving
        .into_iter()
        .zip(given)
        .filter_map(|(m, uid)| uid.map(|_| m))
        .collect();
    if moved.is_empty() {
        return Err(WebError::NotFound);
    }
    src.expunge(&moved)?;
    mail.notify(&dest.dir);
    mail.notify(&src.dir);
    Ok(())
}

/// Removes messages for good.
pub(crate) fn expunge(
    mail: &MailStore,
    user: &str,
    name: &str,
    uids: &[u32],
) -> Result<(), WebError> {
    let folder = mail.folder(user, name)?;
    let found = find_all(&folder, uids)?;
    let refs: Vec<&MsgFile> = found.iter().collect();
    folder.expunge(&refs)?;
    mail.notify(&folder.dir);
    Ok(())
}

/// Deletes messages: to Trash, or for good when they are in Trash already.
pub(crate) fn delete(
    shared: &Shared,
    user: &str,
    name: &str,
    uids: &[u32],
) -> Result<(), WebError> {
    if MailStore::special_use(name) == Some("Trash") {
        return expunge(&shared.store.mail, user, name, uids);
    }
    move_to(shared, user, name, uids, "Trash")
}

/// Refuses to store a message of `bytes` for `user` when that would take
/// the account past `limits`, its quota, as IMAP's APPEND does: the
/// webmail's own saves (a draft, the copy of a message sent) count
/// against the quota like any other.
pub(crate) fn within_quota(
    mail: &MailStore,
    limits: &Limits,
    user: &str,
    bytes: u64,
) -> Result<(), WebError> {
    let adding = Usage { bytes, messages: 1 };
    match mail.exceeds(user, limits, adding)? {
        None => Ok(()),
        Some(which) => Err(WebError::Refused(format!(
            "Your {} quota is full: delete or move some messages (and empty the Trash) \
             to make room.",
            which.word()
        ))),
    }
}

/// Adds a message to a folder with these flags (IMAP APPEND's way: a
/// complete, fsynced file in `tmp/`, then renamed in and given a UID).
pub(crate) fn append(
    shared: &Shared,
    user: &str,
    name: &str,
    data: &[u8],
    flags: SystemFlags,
) -> Result<u32, WebError> {
    let mail = &shared.store.mail;
    let folder = mail.folder(user, name)?;
    let base = new_base(
        &shared.store.cfg.hostname,
        data.len() as u64,
        WireSize::of(data),
    );
    let tmp = folder.tmp_path(&base);
    let written = (|| -> io::Result<()> {
        let mut f = create_new(&tmp)?;
        f.write_all(data)?;
        f.set_modified(SystemTime::now())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e.into());
    }
    let mut fl = Flags::default();
    fl.system = flags;
    let (_, uids) = folder.add(&[(base, fl)])?;
    mail.notify(&folder.dir);
    uids.first().copied().ok_or(WebError::NotFound)
}

/// The envelope sender of `user`'s mail: the account at the first local
/// domain.
pub(crate) fn address_of(shared: &Shared, user: &str) -> String {
    format!("{user}@{}", shared.store.cfg.domains[0])
}

/// Submits a message through the server's own path, as the submission
/// port does after AUTH: each recipient expanded by the same rewriting
/// (aliases, forwards, local accounts, relay), a Received field, and the
/// store's commit, which returns only once every copy is durable (the
/// queue for remote recipients, the Maildirs for local ones). Returns the
/// queue id.
pub(crate) fn submit(
    shared: &Shared,
    user: &str,
    peer: SocketAddr,
    tls: bool,
    rcpts: &[String],
    data: &[u8],
) -> Result<String, WebError> {
    if rcpts.is_empty() {
        return Err(WebError::Refused("no recipient".into()));
    }
    let store = &shared.store;
    let cx = Context {
        srs: &shared.srs,
        day: unix_now() / 86400,
    };
    let mut targets: Vec<(String, Dest)> = Vec::new();
    for a in rcpts {
        let more = match crate::rewrite::expand(&store.cfg, cx, a) {
            Expansion::Remote => vec![(a.clone(), Dest::Remote)],
            Expansion::Local(t) => t,
            Expansion::Unknown => {
                return Err(WebError::Refused(format!("{a}: no such recipient here")));
            }
        };
        for t in more {
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
    }
    let id = queue_id();
    let trace = Trace {
        helo: "webmail".into(),
        peer: peer.ip().to_string(),
        tls,
        auth: true,
        extended: true,
    };
    let for_rcpt = (rcpts.len() == 1).then(|| rcpts[0].as_str());
    let mut full =
        received_field(&store.cfg.hostname, &id, &trace, for_rcpt, unix_now()).into_bytes();
    full.extend_from_slice(data);
    let sender = address_of(shared, user);
    // DKIM-signed (`--dkim`) for its From domain, as the submission port does.
    let full = shared.dkim.sign_as_from(&full, unix_now());
    store.inject(id.clone(), &sender, targets, &full)?;
    crate::driver::log(format!(
        "webmail: {user} sent id={id} to {} recipient(s)",
        rcpts.len()
    ));
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A typed name in any normal form is stored from its NFC form, the
    /// form IMAP clients' UTF-8 names are taken in.
    #[test]
    fn typed_names_in_nfc() {
        assert_eq!(stored_name(" Cafe\u{301} ").unwrap(), "Caf&AOk-");
        assert_eq!(stored_name("Caf\u{e9}").unwrap(), "Caf&AOk-");
        assert!(stored_name("  ").is_err());
    }

    /// A store in a directory of its own under the system's temporary
    /// directory, removed when the test is done with the store.
    struct TestStore {
        mail: MailStore,
        root: std::path::PathBuf,
    }

    impl std::ops::Deref for TestStore {
        type Target = MailStore;
        fn deref(&self) -> &MailStore {
            &self.mail
        }
    }

    impl Drop for TestStore {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    /// A store with one user and these messages (From, Subject, Date) in
    /// INBOX, in this order.
    fn store_with(tag: &str, msgs: &[(&str, &str, &str)]) -> TestStore {
        let root = std::env::temp_dir().join(format!("webmail-mailbox-{tag}-{}", queue_id()));
        let mail = MailStore::open(&root, &["u"]).unwrap();
        let inbox = mail.inbox("u");
        for (from, subject, date) in msgs {
            let data = format!(
                "From: {from}\r\nSubject: {subject}\r\nDate: {date}\r\n\r\nbody of {subject}\r\n"
            );
            let base = new_base("h", data.len() as u64, data.len() as u64);
            fs::write(inbox.tmp_path(&base), &data).unwrap();
            inbox.add(&[(base, Flags::default())]).unwrap();
        }
        TestStore { mail, root }
    }

    /// A message's conversation: its reply in INBOX and the user's own
    /// reply in Sent, oldest first, each once (a copy in another folder
    /// not again), without the message itself or the unrelated one.
    #[test]
    fn conversation_across_inbox_and_sent() {
        let mail = store_with("thread", &[]);
        let add = |folder: &str, head: &str, day: u32| {
            let f = mail.folder("u", folder).unwrap();
            let data = format!(
                "{head}From: a@x.test\r\nDate: {day} Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n"
            );
            let base = new_base("h", data.len() as u64, data.len() as u64);
            fs::write(f.tmp_path(&base), &data).unwrap();
            f.add(&[(base, Flags::default())]).unwrap();
        };
        add("INBOX", "Message-ID: <a@x>\r\nSubject: plan\r\n", 1);
        add("INBOX", "Message-ID: <c@x>\r\nSubject: other\r\n", 2);
        add(
            "Sent",
            "Message-ID: <b@x>\r\nReferences: <a@x>\r\nSubject: Re: plan\r\n",
            3,
        );
        add(
            "INBOX",
            "Message-ID: <d@x>\r\nReferences: <a@x> <b@x>\r\nSubject: Re: plan\r\n",
            4,
        );
        let inbox = mail.inbox("u").sync(false).unwrap().messages;
        // A copy of the reply in Sent, made as COPY makes it (one EMAILID).
        let sent = mail.folder("u", "Sent").unwrap();
        let reply = &sent.sync(false).unwrap().messages[0];
        let copy = reply.copy_base(&reply.path(&sent.dir), "h").unwrap();
        fs::copy(reply.path(&sent.dir), sent.tmp_path(&copy)).unwrap();
        sent.add(&[(copy, Flags::default())]).unwrap();

        let first = &inbox[0];
        let raw = fs::read(first.path(&mail.inbox("u").dir)).unwrap();
        let thread = conversation(&mail, "u", "INBOX", first, &raw).unwrap();
        let got: Vec<(&str, &str, u32)> = thread
            .iter()
            .map(|(f, r)| (f.as_str(), r.subject.as_str(), r.uid))
            .collect();
        assert_eq!(got, [("Sent", "Re: plan", 1), ("INBOX", "Re: plan", 3)]);
        // From the last reply the first message is in the conversation.
        let last = &inbox[2];
        let raw = fs::read(last.path(&mail.inbox("u").dir)).unwrap();
        let thread = conversation(&mail, "u", "INBOX", last, &raw).unwrap();
        let got: Vec<(&str, &str)> = thread
            .iter()
            .map(|(f, r)| (f.as_str(), r.subject.as_str()))
            .collect();
        assert_eq!(got, [("INBOX", "plan"), ("Sent", "Re: plan")]);
        // The unrelated message is alone.
        let raw = fs::read(inbox[1].path(&mail.inbox("u").dir)).unwrap();
        assert!(
            conversation(&mail, "u", "INBOX", &inbox[1], &raw)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn list_sorts_searches_and_pages() {
        let mail = store_with(
            "list",
            &[
                (
                    "Carol <c@x.test>",
                    "banana",
                    "Mon, 1 Jan 2024 10:00:00 +0000",
                ),
                (
                    "alice@x.test",
                    "Apple pie",
                    "Wed, 3 Jan 2024 10:00:00 +0000",
                ),
                ("Bob <b@x.test>", "cherry", "Tue, 2 Jan 2024 10:00:00 +0000"),
            ],
        );
        let subjects = |q: &ListQuery| -> Vec<String> {
            list(&mail, "u", "INBOX", q)
                .unwrap()
                .rows
                .into_iter()
                .map(|r| r.subject)
                .collect()
        };
        // Newest first by default.
        assert_eq!(
            subjects(&ListQuery::default()),
            ["Apple pie", "cherry", "banana"]
        );
        let by_subject = ListQuery {
            sort: Sort::Subject,
            ascending: true,
            ..ListQuery::default()
        };
        assert_eq!(subjects(&by_subject), ["Apple pie", "banana", "cherry"]);
        let by_from = ListQuery {
            sort: Sort::From,
            ascending: true,
            ..ListQuery::default()
        };
        // DISPLAYFROM: the name, else the address.
        assert_eq!(subjects(&by_from), ["Apple pie", "cherry", "banana"]);
        let from_bob = ListQuery {
            search: "bob".into(),
            field: Field::From,
            ..ListQuery::default()
        };
        assert_eq!(subjects(&from_bob), ["cherry"]);
        let text = ListQuery {
            search: "BODY OF BANANA".into(),
            ..ListQuery::default()
        };
        assert_eq!(subjects(&text), ["banana"]);
        let none = ListQuery {
            search: "banana".into(),
            field: Field::From,
            ..ListQuery::default()
        };
        assert!(subjects(&none).is_empty());
        let page2 = ListQuery {
            page: 1,
            ..ListQuery::default()
        };
        let l = list(&mail, "u", "INBOX", &page2).unwrap();
        assert!(l.rows.is_empty());
        assert_eq!(l.matched, 3);
        let rows = list(&mail, "u", "INBOX", &ListQuery::default())
            .unwrap()
            .rows;
        assert_eq!(rows[0].from, "alice@x.test");
        assert_eq!(rows[1].from, "Bob");
        assert_eq!(rows[0].date, "2024-01-03 10:00");
    }

    #[test]
    fn flags_and_unread_counts() {
        let mail = store_with("flags", &[("a@x.test", "one", ""), ("a@x.test", "two", "")]);
        let unread = |mail: &MailStore| {
            folders(mail, "u")
                .unwrap()
                .into_iter()
                .find(|f| f.name == "INBOX")
                .unwrap()
                .unread
        };
        assert_eq!(unread(&mail), 2);
        let uid = list(&mail, "u", "INBOX", &ListQuery::default())
            .unwrap()
            .rows[0]
            .uid;
        set_flag(&mail, "u", "INBOX", &[uid], SystemFlags::SEEN, true).unwrap();
        assert_eq!(unread(&mail), 1);
        set_flag(&mail, "u", "INBOX", &[uid], SystemFlags::FLAGGED, true).unwrap();
        let (m, raw) = load(&mail, "u", "INBOX", uid).unwrap();
        assert!(m.flags.system.contains(SystemFlags::FLAGGED));
        assert!(raw.starts_with(b"From: a@x.test"));
        assert!(matches!(
            load(&mail, "u", "INBOX", 999),
            Err(WebError::NotFound)
        ));
        assert!(matches!(
            load(&mail, "u", "../u", uid),
            Err(WebError::NotFound)
        ));
        assert!(matches!(
            load(&mail, "other", "INBOX", uid),
            Err(WebError::NotFound)
        ));
    }

    /// The list's actions on several messages at once: the ones gone
    /// meanwhile are left out, none left is NotFound.
    #[test]
    fn actions_on_several_messages() {
        let mail = store_with(
            "bulk",
            &[
                ("a@x.test", "one", ""),
                ("a@x.test", "two", ""),
                ("a@x.test", "three", ""),
            ],
        );
        let rows = || {
            list(&mail, "u", "INBOX", &ListQuery::default())
                .unwrap()
                .rows
        };
        let uids: Vec<u32> = rows().iter().map(|r| r.uid).collect();
        set_flag(
            &mail,
            "u",
            "INBOX",
            &[uids[0], uids[2], 999],
            SystemFlags::SEEN,
            true,
        )
        .unwrap();
        let seen: Vec<bool> = rows().iter().map(|r| r.seen).collect();
        assert_eq!(seen.iter().filter(|s| **s).count(), 2);
        expunge(&mail, "u", "INBOX", &[uids[0], uids[1]]).unwrap();
        assert_eq!(rows().len(), 1);
        assert!(matches!(
            expunge(&mail, "u", "INBOX", &[uids[0], 999]),
            Err(WebError::NotFound)
        ));
    }

    /// Folders made, renamed (subscription following) and deleted from
    /// the webmail; INBOX, the special folders and non-empty folders are
    /// kept.
    /// The webmail's saves count against the quota: refused when the
    /// message would take the account past it, taken up to it; without a
    /// quota, always taken.
    #[test]
    fn saves_within_the_quota() {
        let mail = store_with("quota", &[("a@x.test", "one", "")]);
        let used = mail.usage("u").unwrap();
        let storage = |n| Limits {
            storage: Some(n),
            messages: None,
        };
        assert!(within_quota(&mail, &Limits::default(), "u", 1 << 40).is_ok());
        assert!(within_quota(&mail, &storage(used.bytes + 10), "u", 10).is_ok());
        assert!(matches!(
            within_quota(&mail, &storage(used.bytes + 10), "u", 11),
            Err(WebError::Refused(_))
        ));
        // A message quota: one more message than there are fits, not two.
        let count = Limits {
            storage: None,
            messages: Some(used.messages + 1),
        };
        assert!(within_quota(&mail, &count, "u", 10).is_ok());
        let inbox = mail.inbox("u");
        let base = new_base("h", 10, 10);
        fs::write(inbox.tmp_path(&base), b"0123456789").unwrap();
        inbox.add(&[(base, Flags::default())]).unwrap();
        assert!(matches!(
            within_quota(&mail, &count, "u", 10),
            Err(WebError::Refused(m)) if m.contains("message quota")
        ));
    }

    #[test]
    fn folder_management() {
        let mail = store_with("folders", &[("a@x.test", "one", "")]);
        let names = || -> Vec<String> {
            folders(&mail, "u")
                .unwrap()
                .into_iter()
                .map(|f| f.name)
                .collect()
        };
        assert_eq!(create_folder(&mail, "u", " Café ").unwrap(), "Caf&AOk-");
        assert!(names().contains(&"Caf&AOk-".to_string()));
        assert!(
            mail.subscriptions("u")
                .unwrap()
                .contains(&"Caf&AOk-".to_string())
        );
        assert!(matches!(
            create_folder(&mail, "u", "Café"),
            Err(WebError::Refused(_))
        ));
        assert!(matches!(
            create_folder(&mail, "u", "a/b"),
            Err(WebError::Refused(_))
        ));
        assert!(matches!(
            create_folder(&mail, "u", "  "),
            Err(WebError::Refused(_))
        ));
        assert_eq!(
            rename_folder(&mail, "u", "Caf&AOk-", "Projects.2026").unwrap(),
            "Projects.2026"
        );
        let subs = mail.subscriptions("u").unwrap();
        assert!(
            subs.contains(&"Projects.2026".to_string()) && !subs.contains(&"Caf&AOk-".to_string())
        );
        for refused in ["INBOX", "Trash", "Sent"] {
            assert!(matches!(
                rename_folder(&mail, "u", refused, "X"),
                Err(WebError::Refused(_))
            ));
            assert!(matches!(
                delete_folder(&mail, "u", refused),
                Err(WebError::Refused(_))
            ));
        }
        assert!(matches!(
            rename_folder(&mail, "u", "Projects.2026", "Trash"),
            Err(WebError::Refused(_))
        ));
        // Not empty: kept.
        let uid = list(&mail, "u", "INBOX", &ListQuery::default())
            .unwrap()
            .rows[0]
            .uid;
        let inbox = mail.folder("u", "INBOX").unwrap();
        let m = find(&inbox, uid).unwrap();
        let dest = mail.folder("u", "Projects.2026").unwrap();
        dest.move_in(&[(
            inbox.find(&m).unwrap(),
            new_base("h", 1, 1),
            m.flags.clone(),
        )])
        .unwrap();
        assert!(matches!(
            delete_folder(&mail, "u", "Projects.2026"),
            Err(WebError::Refused(_))
        ));
        expunge(&mail, "u", "Projects.2026", &[1]).unwrap();
        delete_folder(&mail, "u", "Projects.2026").unwrap();
        assert!(!names().contains(&"Projects.2026".to_string()));
        assert!(
            !mail
                .subscriptions("u")
                .unwrap()
                .contains(&"Projects.2026".to_string())
        );
    }

    #[test]
    fn sort_and_field_names_round_trip() {
        for s in [Sort::Date, Sort::From, Sort::Subject] {
            assert_eq!(Sort::parse(s.name()), s);
        }
        for f in [Field::Text, Field::From, Field::Subject] {
            assert_eq!(Field::parse(f.name()), f);
        }
        assert_eq!(Sort::parse("nonsense"), Sort::Date);
    }
}

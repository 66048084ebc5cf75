//! The POP3 service (RFC 1939, STLS, SASL AUTH) over the same Maildir
//! mailboxes and accounts as SMTP: `mailwire::pop3::server::Server` driven by
//! `driver::drive`, the events answered from the INBOX of the mail store
//! (`mailstore`): the maildrop is a sync of the INBOX (messages get their
//! IMAP UIDs), and a deletion is an expunge that IMAP sessions see.
//!
//! - UIDL: the Maildir base name (before `:2,`), which never changes when a
//!   message moves from new/ to cur/; a SHA-256 prefix when the name does
//!   not fit RFC 1939's 70 printable octets.
//! - One session per mailbox at a time (`-ERR [IN-USE]`), released when the
//!   session ends in any way.
//! - Content streamed from the file in 64 KiB chunks, flushed to the socket
//!   between chunks.
//! - Deletion only in UPDATE (after QUIT).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read as _};
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use crate::auth_guard::Attempt;
use crate::mailstore::Folder;
use crate::mailstore::folder::MsgFile;

use mailwire::pop3::server::{AuthMethod, Event, MaildropEntry, Options, Server};
use mailwire::pop3::{ResponseCode, StatusLine, Uid, WireSize};
use mailwire::sasl::Mechanism;
use sha2::{Digest as _, Sha256};

use crate::driver::{Conn, Handler, flush};
use crate::smtp_session::{STRESS_TIMEOUT, Shared, random_hex};

/// Mailboxes with an open POP3 session (RFC 1939 §4: exclusive access).
fn locks() -> &'static Mutex<HashSet<String>> {
    static LOCKS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    LOCKS.get_or_init(|| Mutex::new(HashSet::new()))
}

crate::driver::impl_machine!(Server, Event);

/// The machine's options for a port: STLS on the plain port, implicit TLS
/// on the pop3s port; USER/PASS and PLAIN/LOGIN before TLS on loopback
/// only, unless --allow-plaintext-auth.
pub(crate) fn options(shared: &Shared, implicit_tls: bool, peer: SocketAddr) -> Options {
    let cfg = &shared.store.cfg;
    let mut o = Options::default();
    o.hostname = cfg.hostname.clone();
    o.stls = !implicit_tls;
    o.implicit_tls = implicit_tls;
    o.sasl_mechanisms = shared.mailbox_mechanisms();
    o.allow_plaintext_auth = cfg.allow_plaintext_auth || peer.ip().is_loopback();
    o.max_bad_commands = cfg.session.max_errors;
    if shared.limiter.stressed() {
        o.autologout = STRESS_TIMEOUT;
    }
    o
}

pub(crate) struct Session<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    /// The locked mailbox, if any.
    user: Option<String>,
    /// The INBOX and the messages of the maildrop, by message index.
    inbox: Option<Folder>,
    files: Vec<MsgFile>,
    out: Vec<u8>,
    /// An AUTH attempt whose outcome the machine decides (SCRAM,
    /// CRAM-MD5): it succeeded if `OpenMaildrop` follows, failed if another
    /// attempt or the end of the session comes first.
    attempt: Option<Attempt>,
    /// AUTH failures on this connection.
    auth_failures: u32,
    /// The password's generation at log-in (see
    /// [`crate::accounts::Accounts::generation`]).
    generation: u64,
}

/// The refusal a session whose password was changed gets.
fn password_changed_line(text: &'static str) -> StatusLine<'static> {
    StatusLine::err(Some(ResponseCode::Auth), text)
}

fn uid_for(base: &str) -> Uid<'static> {
    Uid::try_from(base.to_owned()).unwrap_or_else(|_| {
        let h = Sha256::digest(base.as_bytes());
        let hex = crate::accounts::hex(&h[..16]);
        // 32 hex digits: always a valid unique-id.
        Uid::try_from(hex).unwrap_or_else(|_| unreachable!("hex is a valid uid"))
    })
}

impl Session<'_> {
    /// An attempt failed: wait (growing with the failures), and close the
    /// session after too many. Whatever the machine queued (its `-ERR`)
    /// goes out after the wait.
    fn auth_failed(&mut self, m: &mut Server, attempt: Attempt) {
        let who = format!("pop3 {}", self.peer);
        if self
            .shared
            .auth_guard
            .penalize(attempt, &mut self.auth_failures, &who)
        {
            m.close_session();
        }
    }

    /// Whether the account's password changed since this session logged
    /// in (see [`crate::accounts::Accounts::generation`]).
    fn password_changed(&self) -> bool {
        let changed = self
            .user
            .as_deref()
            .is_some_and(|u| self.shared.accounts.changed_since(u, self.generation));
        if changed {
            eprintln!("pop3 {}: the password changed: session ended", self.peer);
        }
        changed
    }

    fn release(&mut self) {
        if let Some(u) = self.user.take() {
            locks().lock().unwrap_or_else(|e| e.into_inner()).remove(&u);
        }
    }

    /// The INBOX of `user` in UID order (oldest first), synced.
    fn listing(&mut self, user: &str) -> io::Result<Vec<MaildropEntry>> {
        let inbox = self.shared.store.mail.inbox(user);
        let snap = inbox.sync(false)?;
        let mut entries = Vec::with_capacity(snap.messages.len());
        self.files.clear();
        for m in snap.messages {
            // RFC 1939 sizes count CRLF line ends. The `,W=<size>` in the
            // name (written at delivery, as Dovecot does) saves reading
            // the file; otherwise read it once.
            let size = match m.wire_size() {
                Some(w) => w,
                None => {
                    let mut size = WireSize::new();
                    let Some(path) = inbox.find(&m) else {
                        // Expunged meanwhile: not in this maildrop.
                        continue;
                    };
                    let mut f = File::open(&path)?;
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        // (The caller runs the whole listing in
                        // `driver::blocking`.)
                        let n = f.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        size.push(&buf[..n]);
                    }
                    size.size()
                }
            };
            entries.push(MaildropEntry {
                size,
                uid: uid_for(&m.base),
            });
            self.files.push(m);
        }
        self.inbox = Some(inbox);
        Ok(entries)
    }
}

impl Handler<Server> for Session<'_> {
    fn event(&mut self, m: &mut Server, ev: Event, conn: &mut Conn) -> io::Result<()> {
        match ev {
            Event::Authenticate {
                handle,
                username,
                method,
                ..
            } => {
                // The last attempt the machine decided did not succeed.
                if let Some(a) = self.attempt.take() {
                    self.auth_failed(m, a);
                    if m.is_closed() {
                        return Ok(());
                    }
                }
                let attempt = match self.shared.auth_guard.begin(self.peer.ip(), Instant::now()) {
                    Ok(a) => a,
                    Err(_) => {
                        eprintln!(
                            "pop3 {}: AUTH refused: address blocked after repeated failures",
                            self.peer
                        );
                        let _ = m.refuse(
                            handle,
                            StatusLine::err(
                                Some(ResponseCode::SysTemp),
                                "too many authentication failures from your address, try later",
                            ),
                        );
                        m.close_session();
                        return Ok(());
                    }
                };
                let accounts = &self.shared.accounts;
                match method {
                    AuthMethod::Sasl(Mechanism::ScramSha256) => {
                        // Unknown users get made-up keys and fail at the
                        // proof, like a wrong password.
                        let _ =
                            m.provide_scram_credentials(handle, Some(accounts.scram(&username)));
                        self.attempt = Some(attempt);
                    }
                    AuthMethod::Sasl(Mechanism::CramMd5) | AuthMethod::Apop => {
                        // Need the plaintext (demo accounts only).
                        let _ = m.provide_password(handle, accounts.plaintext(&username));
                        self.attempt = Some(attempt);
                    }
                    _ => {
                        // USER/PASS, PLAIN, LOGIN: checked against the SCRAM
                        // keys, with the same work for an unknown user.
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
            Event::OpenMaildrop { handle, username } => {
                if let Some(a) = self.attempt.take() {
                    self.shared.auth_guard.succeeded(a);
                }
                // Only the account itself (an authzid naming another user
                // is refused).
                if !self.shared.accounts.exists(&username) {
                    let _ = m.refuse(
                        handle,
                        StatusLine::err(Some(ResponseCode::Auth), "no such mailbox"),
                    );
                    return Ok(());
                }
                let fresh = locks()
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(username.clone());
                if !fresh {
                    eprintln!("pop3 {} {username}: maildrop in use", self.peer);
                    let _ = m.refuse(
                        handle,
                        StatusLine::err(
                            Some(ResponseCode::InUse),
                            "Do you have another POP session running?",
                        ),
                    );
                    return Ok(());
                }
                self.generation = self.shared.accounts.generation(&username);
                self.user = Some(username.clone());
                // Every file of the maildrop looked at: may wait on the
                // disk, so another thread of the pool serves meanwhile.
                match crate::driver::blocking(|| self.listing(&username)) {
                    Ok(entries) => {
                        let _ = m.open_maildrop(handle, entries);
                    }
                    Err(e) => {
                        eprintln!("pop3 {username}: cannot list the maildrop: {e}");
                        self.release();
                        let _ = m.refuse(
                            handle,
                            StatusLine::err(Some(ResponseCode::SysTemp), "maildrop unavailable"),
                        );
                    }
                }
            }
            Event::Retrieve { handle, index, .. } => {
                if self.password_changed() {
                    let _ = m.refuse(
                        handle,
                        password_changed_line("your password was changed: log in again"),
                    );
                    m.close_session();
                    return Ok(());
                }
                let path = self
                    .files
                    .get(index)
                    .zip(self.inbox.as_ref())
                    .and_then(|(m, inbox)| inbox.find(m));
                let Some(path) = path else {
                    let _ = m.refuse(
                        handle,
                        StatusLine::err(Some(ResponseCode::SysTemp), "message unavailable"),
                    );
                    return Ok(());
                };
                let mut f = match File::open(&path) {
                    Ok(f) => f,
                    Err(_) => {
                        // Removed behind our back (another client, an admin).
                        let _ = m.refuse(
                            handle,
                            StatusLine::err(Some(ResponseCode::SysTemp), "message vanished"),
                        );
                        return Ok(());
                    }
                };
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    // A read may wait on the disk: another thread of the
                    // pool serves meanwhile.
                    let n = crate::driver::blocking(|| f.read(&mut buf))?;
                    if n == 0 || !m.send_content(handle, &buf[..n]).unwrap_or(false) {
                        break;
                    }
                    // Never more than one chunk in memory.
                    flush(m, conn, &mut self.out)?;
                }
                let _ = m.end_content(handle);
            }
            Event::Update { handle, deleted } => {
                if self.password_changed() {
                    // No deletion from a session whose password is old.
                    self.release();
                    let _ = m.finish_update(
                        handle,
                        Err(password_changed_line(
                            "your password was changed: nothing deleted",
                        )),
                    );
                    return Ok(());
                }
                let doomed: Vec<&MsgFile> = deleted
                    .iter()
                    .filter_map(|d| self.files.get(d.index))
                    .collect();
                let mut failed = 0;
                if let Some(inbox) = &self.inbox
                    && !doomed.is_empty()
                {
                    // An expunge of the store: IMAP sessions see it.
                    if let Err(e) = inbox.expunge(&doomed) {
                        eprintln!("pop3 {}: expunge failed: {e}", self.peer);
                        failed = doomed.len();
                    }
                    self.shared.store.mail.notify(&inbox.dir);
                }
                self.release();
                let result = if failed == 0 {
                    Ok(())
                } else {
                    Err(StatusLine::err(
                        Some(ResponseCode::SysTemp),
                        "some deleted messages not removed",
                    ))
                };
                let _ = m.finish_update(handle, result);
            }
            Event::StartTls => {
                let tls = rustls::ServerConnection::new(self.shared.tls.clone())
                    .map_err(io::Error::other)?;
                conn.start_tls(tls)?;
                m.handle_tls_established(Instant::now());
            }
            Event::Closed { reason } => {
                self.release();
                eprintln!("pop3 {}: closed: {reason}", self.peer);
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self) {
        // Whatever happened, the lock goes (RFC 1939 §6: no UPDATE without QUIT).
        self.release();
        // An attempt still open failed (it is already counted as a failure of
        // the address).
        self.attempt = None;
    }
}

/// A session for an accepted POP3 connection (the pop3s port has TLS in
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
        inbox: None,
        files: Vec::new(),
        out: Vec::new(),
        attempt: None,
        auth_failures: 0,
        generation: 0,
    };
    let nonce = random_hex(18);
    let m = Server::new(options(shared, implicit_tls, peer), &nonce, Instant::now())
        .map_err(io::Error::other)?;
    Ok((m, session))
}

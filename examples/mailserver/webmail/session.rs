//! Log-in sessions and CSRF tokens.
//!
//! A session id is 32 random bytes from the kernel (hex), sent only in a
//! cookie that scripts cannot read (HttpOnly) and that no other site's
//! request carries (SameSite=Strict); under HTTPS it is also `Secure`.
//! Each session has its own CSRF token, put in every form; a POST whose
//! token differs is refused (403). The log-in form, before any session,
//! uses a double-submit token: a cookie and the same value in the form.
//!
//! Sessions outlive a restart of the server: they are kept in
//! `DATA/webmail-sessions`, rewritten (a temporary file renamed over it)
//! when one opens or closes, and when one in use was last written more
//! than [`TOUCH_SAVED`] ago. The file holds the SHA-256 of each id, never
//! the id itself, so reading it lets no one in. A session ends at load
//! when its account is gone or its password changed (each session keeps
//! a tag of the account's credential, see [`Sessions::load`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use sha2::{Digest as _, Sha256};

use crate::accounts::hex;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "wm_session";
/// The log-in form's double-submit cookie.
pub(crate) const LOGIN_COOKIE: &str = "wm_login";
/// A session unused this long is gone.
const IDLE: Duration = Duration::from_secs(8 * 3600);
/// At most this many sessions; past it the idle ones go, then the oldest.
const MAX_SESSIONS: usize = 10_000;

/// How often a session in use is written again: its last use is kept to
/// this precision across a restart.
const TOUCH_SAVED: Duration = Duration::from_secs(10 * 60);
/// The first line of the sessions file.
const FILE_HEADER: &str = "mailwire-webmail-sessions 1";

/// A logged-in user.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user: String,
    pub(crate) csrf: String,
    /// The account's credential tag when the session opened (see
    /// [`Sessions::load`]).
    tag: String,
    /// Last use, seconds since 1970.
    last: u64,
    /// `last` as the file has it.
    saved: u64,
}

/// Every open session, by the SHA-256 (hex) of its id.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    /// Where they are kept (none: in memory only).
    file: Option<PathBuf>,
    /// Taken around each rewrite of the file, so that the last one
    /// written holds the newest state.
    writing: Mutex<()>,
    /// The credential tag of an account, given a salt (see
    /// [`Sessions::load`]).
    tagger: Option<Tagger>,
}

/// Tags an account's credential with a salt: `None` for no such account.
pub(crate) type Tagger = Box<dyn Fn(&str, &[u8]) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("open", &self.lock().len())
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// Seconds since 1970.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The key a session is kept under: the SHA-256 of its id, in hex.
fn key(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

/// Writes `path` anew, readable by its owner only.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(data)
}

/// Whether a session opened or used at `last` is still open at `now`.
fn fresh(last: u64, now: u64) -> bool {
    now.saturating_sub(last) < IDLE.as_secs()
}

/// A fresh random token: 32 bytes from the kernel, in hex.
pub(crate) fn token() -> Result<String, String> {
    Ok(hex(&crate::accounts::random_bytes(32)?))
}

/// Whether two tokens are equal, in time independent of where they differ.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of the cookie `name` in the request's Cookie fields.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A Set-Cookie value for `name`; `None` clears it.
pub(crate) fn set_cookie(name: &str, value: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

impl Sessions {
    /// The sessions kept in `file` that are still open: not idle for too
    /// long, and of an account whose credential `tagger` still tags as it
    /// did when the session opened (`tagger(user, salt)`, `None` for a user
    /// that is no account; the salt is the session's key, so the tags of
    /// two sessions differ). A missing or unreadable file is no session;
    /// a line that is not one is skipped.
    pub(crate) fn load(file: PathBuf, tagger: Tagger) -> Sessions {
        let now = now();
        let mut map = HashMap::new();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let mut lines = text.lines();
        if lines.next() == Some(FILE_HEADER) {
            for line in lines {
                let mut f = line.splitn(5, ' ');
                let (Some(k), Some(csrf), Some(tag), Some(last), Some(user)) =
                    (f.next(), f.next(), f.next(), f.next(), f.next())
                else {
                    continue;
                };
                let Ok(last) = last.parse::<u64>() else {
                    continue;
                };
                let valid = k.len() == 64
                    && csrf.len() == 64
                    && fresh(last, now)
                    && tagger(user, k.as_bytes()).is_some_and(|t| same_token(&t, tag));
                if valid {
                    let session = Session {
                        user: user.to_string(),
                        csrf: csrf.to_string(),
                        tag: tag.to_string(),
                        last,
                        saved: last,
                    };
                    map.insert(k.to_string(), session);
                }
            }
        }
        Sessions {
            map: Mutex::new(map),
            file: Some(file),
            writing: Mutex::new(()),
            tagger: Some(tagger),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes every session to the file (a temporary file beside it,
    /// renamed over it; not synced: a session lost in a crash of the
    /// machine is a log-in again, not lost mail), on the caller's thread:
    /// a file of about 200 bytes a session, written at log-in, log-out and
    /// at most once in ten minutes per session in use. Logged, not
    /// returned, on failure: the sessions go on in memory.
    fn save(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = format!("{FILE_HEADER}\n");
        for (k, s) in self.lock().iter_mut() {
            // A name with white space would not read back; such a session
            // stays in memory only.
            if !s.user.is_empty() && !s.user.contains(|c: char| c.is_whitespace()) {
                text.push_str(&format!("{k} {} {} {} {}\n", s.csrf, s.tag, s.last, s.user));
            }
            s.saved = s.last;
        }
        let tmp = file.with_extension("tmp");
        let written =
            write_private(&tmp, text.as_bytes()).and_then(|()| std::fs::rename(&tmp, file));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            crate::driver::log(format!("webmail: {}: {e}", file.display()));
        }
    }

    /// Opens a session for `user`; returns its id.
    pub(crate) fn open(&self, user: &str) -> Result<String, String> {
        let id = token()?;
        let csrf = token()?;
        let k = key(&id);
        let tag = match &self.tagger {
            Some(t) => t(user, k.as_bytes()).ok_or("no such account")?,
            None => String::new(),
        };
        let now = now();
        {
            let mut map = self.lock();
            if map.len() >= MAX_SESSIONS {
                map.retain(|_, s| fresh(s.last, now));
            }
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, s)| s.last)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
            map.insert(
                k,
                Session {
                    user: user.to_string(),
                    csrf,
                    tag,
                    last: now,
                    saved: now,
                },
            );
        }
        self.save();
        Ok(id)
    }

    /// The session with this id, if open and not idle for too long.
    pub(crate) fn get(&self, id: &str) -> Option<Session> {
        let now = now();
        let k = key(id);
        let (found, stale) = {
            let mut map = self.lock();
            let s = map.get_mut(&k)?;
            if !fresh(s.last, now) {
                map.remove(&k);
                return None;
            }
            s.last = now;
            let stale = now.saturating_sub(s.saved) >= TOUCH_SAVED.as_secs();
            (s.clone(), stale)
        };
        if stale {
            self.save();
        }
        Some(found)
    }

    /// Ends every session of `user` (after a password change).
    pub(crate) fn close_user(&self, user: &str) {
        let before = {
            let mut map = self.lock();
            let n = map.len();
            map.retain(|_, s| s.user != user);
            n - map.len()
        };
        if before > 0 {
            self.save();
        }
    }

    /// Ends a session.
    pub(crate) fn close(&self, id: &str) {
        let removed = self.lock().remove(&key(id)).is_some();
        if removed {
            self.save();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_are_random_hex() {
        let a = token().unwrap();
        let b = token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn token_comparison() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", ""));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("x_wm_session=evil; wm_session=good"),
        );
        h.append(COOKIE, HeaderValue::from_static("wm_login=tok"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("good"));
        assert_eq!(cookie(&h, LOGIN_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "other"), None);
    }

    #[test]
    fn cookie_attributes() {
        let c = set_cookie(SESSION_COOKIE, Some("v"), true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(!set_cookie(SESSION_COOKIE, Some("v"), false).contains("Secure"));
        assert!(set_cookie(SESSION_COOKIE, None, false).contains("Max-Age=0"));
    }

    #[test]
    fn sessions_open_get_close() {
        let s = Sessions::default();
        let id = s.open("alice").unwrap();
        let got = s.get(&id).unwrap();
        assert_eq!(got.user, "alice");
        assert_eq!(got.csrf.len(), 64);
        assert!(s.get("nope").is_none());
        s.close(&id);
        assert!(s.get(&id).is_none());
    }

    /// A directory for one test's sessions file, removed afterwards.
    struct Dir(crate::testdir::TestDir);

    impl Dir {
        fn new(tag: &str) -> Dir {
            Dir(crate::testdir::TestDir::new(&format!("sessions-{tag}")))
        }

        fn file(&self) -> std::path::PathBuf {
            self.0.join("webmail-sessions")
        }
    }

    /// A tagger for the accounts `users` with `password` (what
    /// `Accounts::credential_tag` does, without the keyed hash).
    fn tagger(users: &'static [&'static str], password: &'static str) -> Tagger {
        Box::new(move |user, salt| {
            users
                .contains(&user)
                .then(|| hex(&Sha256::digest([salt, password.as_bytes()].concat())))
        })
    }

    #[test]
    fn sessions_outlive_a_restart() {
        let dir = Dir::new("restart");
        let s = Sessions::load(dir.file(), tagger(&["alice", "bob"], "pw"));
        let a = s.open("alice").unwrap();
        let b = s.open("bob").unwrap();
        let csrf = s.get(&a).unwrap().csrf;
        s.close(&b);
        drop(s);

        let text = std::fs::read_to_string(dir.file()).unwrap();
        assert!(text.starts_with(FILE_HEADER), "{text}");
        assert!(!text.contains(&a), "the file holds no session id");
        assert!(text.contains(&key(&a)));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.file()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by the owner only");

        let s = Sessions::load(dir.file(), tagger(&["alice", "bob"], "pw"));
        let got = s.get(&a).expect("alice's session after the restart");
        assert_eq!(
            (got.user.as_str(), got.csrf.as_str()),
            ("alice", csrf.as_str())
        );
        assert!(s.get(&b).is_none(), "a closed session stays closed");
        assert!(s.get(&key(&a)).is_none(), "the key is not an id");
    }

    #[test]
    fn a_new_password_or_a_removed_account_ends_sessions() {
        let dir = Dir::new("password");
        let s = Sessions::load(dir.file(), tagger(&["alice", "bob"], "pw"));
        let a = s.open("alice").unwrap();
        let b = s.open("bob").unwrap();
        assert!(s.open("carol").is_err(), "no such account: no session");
        drop(s);
        let s = Sessions::load(dir.file(), tagger(&["alice", "bob"], "new"));
        assert!(s.get(&a).is_none() && s.get(&b).is_none());

        let s = Sessions::load(dir.file(), tagger(&["alice", "bob"], "new"));
        let a = s.open("alice").unwrap();
        let b = s.open("bob").unwrap();
        drop(s);
        let s = Sessions::load(dir.file(), tagger(&["bob"], "new"));
        assert!(s.get(&a).is_none(), "alice is no account any more");
        assert!(s.get(&b).is_some());
    }

    #[test]
    fn idle_and_malformed_entries_are_not_loaded() {
        let dir = Dir::new("idle");
        let t = tagger(&["alice"], "pw");
        let (old, fresh, bad) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let tag = |k: &str| t("alice", k.as_bytes()).unwrap();
        let csrf = "d".repeat(64);
        let now = now();
        let idle = now - IDLE.as_secs() - 1;
        let lines = [
            FILE_HEADER.to_string(),
            format!("{} {csrf} {} {idle} alice", key(&old), tag(&key(&old))),
            format!("{} {csrf} {} {now} alice", key(&fresh), tag(&key(&fresh))),
            format!("{} {csrf} {} soon alice", key(&bad), tag(&key(&bad))),
            format!("{} short {} {now} alice", key(&bad), tag(&key(&bad))),
            "junk".to_string(),
            String::new(),
        ];
        std::fs::write(dir.file(), lines.join("\n")).unwrap();
        let s = Sessions::load(dir.file(), tagger(&["alice"], "pw"));
        assert!(s.get(&old).is_none(), "idle for longer than IDLE");
        assert!(s.get(&bad).is_none(), "malformed lines are skipped");
        assert_eq!(s.get(&fresh).unwrap().user, "alice");

        // Another format: nothing is taken from it.
        std::fs::write(dir.file(), lines[1..].join("\n")).unwrap();
        let s = Sessions::load(dir.file(), tagger(&["alice"], "pw"));
        assert!(s.get(&fresh).is_none());
    }

    /// A session in use is written again only when its last use moved by
    /// [`TOUCH_SAVED`], so a request does not rewrite the file.
    #[test]
    fn use_is_saved_now_and_then() {
        let dir = Dir::new("touch");
        let s = Sessions::load(dir.file(), tagger(&["alice"], "pw"));
        let a = s.open("alice").unwrap();
        let times = || {
            let map = s.lock();
            let x = map.values().next().unwrap();
            (x.last, x.saved)
        };
        // As if it had opened a minute ago: used now, not written.
        s.lock().values_mut().for_each(|x| {
            x.last -= 60;
            x.saved -= 60;
        });
        s.get(&a).unwrap();
        let (last, saved) = times();
        assert_eq!(last - saved, 60, "not written for a minute's use");
        // Written long ago: written now.
        s.lock()
            .values_mut()
            .for_each(|x| x.saved -= TOUCH_SAVED.as_secs());
        s.get(&a).unwrap();
        let (last, saved) = times();
        assert_eq!(last, saved);
        let text = std::fs::read_to_string(dir.file()).unwrap();
        assert!(text.contains(&format!(" {last} alice")), "{text}");
    }
}

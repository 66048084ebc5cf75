//! Log-in sessions and CSRF tokens.
//!
//! A session id is 32 random bytes from the kernel (hex), sent only in a
//! cookie that scripts cannot read (HttpOnly) and that no other site's
//! request carries (SameSite=Strict); under HTTPS it is also `Secure`.
//! Each session has its own CSRF token, put in every form; a POST whose
//! token differs is refused (403). The log-in form, before any session,
//! uses a double-submit token: a cookie and the same value in the form.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "wm_session";
/// The log-in form's double-submit cookie.
pub(crate) const LOGIN_COOKIE: &str = "wm_login";
/// A session unused this long is gone.
const IDLE: Duration = Duration::from_secs(8 * 3600);
/// At most this many sessions; past it the idle ones go, then the oldest.
const MAX_SESSIONS: usize = 10_000;

/// A logged-in user.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user: String,
    pub(crate) csrf: String,
    last: Instant,
}

/// Every open session, by id.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

/// A fresh random token: 32 bytes from the kernel, in hex.
pub(crate) fn token() -> Result<String, String> {
    let b = crate::accounts::random_bytes(32)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
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
    /// Opens a session for `user`; returns its id.
    pub(crate) fn open(&self, user: &str) -> Result<String, String> {
        let id = token()?;
        let csrf = token()?;
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| now.duration_since(s.last) < IDLE);
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
            id.clone(),
            Session {
                user: user.to_string(),
                csrf,
                last: now,
            },
        );
        Ok(id)
    }

    /// The session with this id, if open and not idle for too long.
    pub(crate) fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.get_mut(id)?;
        if now.duration_since(s.last) >= IDLE {
            map.remove(id);
            return None;
        }
        s.last = now;
        Some(s.clone())
    }

    /// Ends a session.
    pub(crate) fn close(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
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
}

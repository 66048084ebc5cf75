//! Mailing lists: `--list NAME@DOMAIN=FILE` or the config file's
//! `[lists."NAME@DOMAIN"]` with `file = "..."`; FILE holds the members,
//! one address a line (`#` comments), and is rewritten on (un)subscription
//! (under one lock, [`set_member`], whether by mail or by the web).
//!
//! - A post to `NAME@DOMAIN` is accepted from members only (unless the list
//!   is `open`; refused at RCPT with `550 5.7.1`), and sent to every member
//!   with the fields of RFC 2919 (`List-Id`) and RFC 2369 (`List-Post`,
//!   `List-Unsubscribe`, `List-Help`), `Precedence: list`, and an envelope
//!   sender of its own per member, `NAME-bounces+LOCAL=HOST@DOMAIN` (VERP),
//!   so that a bounce names the member.
//! - One-click unsubscription (RFC 8058; its text is not in `shared/rfc`,
//!   sections as in the published RFC): when the webmail has an HTTPS URL
//!   (`--public-url https://HOST[:PORT]`, or else `--https` with the
//!   server's hostname and that port), each member's copy carries
//!   `List-Unsubscribe: <https://.../unsubscribe/TOKEN>, <mailto:...>` and
//!   `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (§3.1). TOKEN
//!   ([`one_click_token`]) names the list and the member and carries an
//!   HMAC-SHA-256 (128 bits) of them under the server's secret, with no
//!   date: the mail may be read months later. `POST /unsubscribe/TOKEN`
//!   with the body `List-Unsubscribe=One-Click` removes the member (§3.2,
//!   no cookie, no other check); a `GET` only shows a button that does
//!   that POST, because link scanners fetch URLs. Without an HTTPS URL
//!   there is the mailto URI only and no `List-Unsubscribe-Post` (§3.1
//!   requires an HTTPS URI with it). RFC 8058 §4 wants both fields covered
//!   by a DKIM signature: `--dkim` for the list's domain ([`crate::dkim`]).
//! - Mail to `NAME-request@DOMAIN` with the subject `subscribe` or
//!   `unsubscribe` is answered with a confirmation request; the change is
//!   made when the sender replies with `confirm TOKEN` in the subject (an
//!   HMAC of the action, list, address and day under the server's secret,
//!   valid that day and the next), so nobody can (un)subscribe an address
//!   whose mail they do not receive.
//! - Bounces to `NAME-bounces+...@DOMAIN` are counted per member in
//!   `DATA/lists/NAME@DOMAIN.bounces` and logged.
//! - A post is held in memory on its way through: at most [`MAX_POST`].

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Deserialize;

use crate::smtp_session::Shared;
use crate::srs::Srs;
use crate::store::{split_addr, unix_now};

/// The largest post a list takes (it is held in memory to be sent on):
/// 10 MiB, `552 5.3.4` beyond.
pub(crate) const MAX_POST: usize = 10 * 1024 * 1024;

/// One list's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListConf {
    /// The members file.
    pub(crate) file: PathBuf,
    /// Whether non-members may post. Default false.
    #[serde(default)]
    pub(crate) open: bool,
}

/// What an address of a list is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// `NAME@DOMAIN`: a post.
    Post,
    /// `NAME-request@DOMAIN`: (un)subscription.
    Request,
    /// `NAME-bounces+LOCAL=HOST@DOMAIN`: a bounce for that member.
    Bounce(Option<String>),
}

/// The list (its address, lower case) and role of `addr`, if it is one.
pub(crate) fn classify(lists: &BTreeMap<String, ListConf>, addr: &str) -> Option<(String, Role)> {
    let lower = addr.to_ascii_lowercase();
    let (local, domain) = split_addr(&lower)?;
    for list in lists.keys() {
        let Some((name, ldomain)) = split_addr(list) else {
            continue;
        };
        if ldomain != domain {
            continue;
        }
        if local == name {
            return Some((list.clone(), Role::Post));
        }
        let Some(rest) = local.strip_prefix(name) else {
            continue;
        };
        if rest == "-request" {
            return Some((list.clone(), Role::Request));
        }
        if rest == "-bounces" {
            return Some((list.clone(), Role::Bounce(None)));
        }
        if let Some(verp) = rest.strip_prefix("-bounces+") {
            let member = verp.rsplit_once('=').map(|(l, h)| format!("{l}@{h}"));
            return Some((list.clone(), Role::Bounce(member)));
        }
    }
    None
}

/// The members of a list, as written in its file.
pub(crate) fn members(conf: &ListConf) -> io::Result<Vec<String>> {
    let text = match std::fs::read_to_string(&conf.file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| split_addr(l).is_some())
        .map(str::to_string)
        .collect())
}

/// Whether `addr` is a member (case-insensitive).
pub(crate) fn is_member(conf: &ListConf, addr: &str) -> bool {
    members(conf).is_ok_and(|m| m.iter().any(|x| x.eq_ignore_ascii_case(addr)))
}

/// The envelope sender of a post to `member` (VERP).
fn verp(list: &str, member: &str) -> String {
    let (name, domain) = split_addr(list).unwrap_or((list, ""));
    let (ml, mh) = split_addr(member).unwrap_or((member, ""));
    format!("{name}-bounces+{ml}={mh}@{domain}")
}

/// The list fields put in front of a post; with `one_click` (the member's
/// HTTPS unsubscribe URL) the RFC 8058 form of `List-Unsubscribe`.
fn list_fields(list: &str, one_click: Option<&str>) -> String {
    let (name, domain) = split_addr(list).unwrap_or((list, ""));
    let mailto = format!("<mailto:{name}-request@{domain}?subject=unsubscribe>");
    let unsubscribe = match one_click {
        Some(url) => format!(
            "List-Unsubscribe: <{url}>,\r\n {mailto}\r\n\
             List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        ),
        None => format!("List-Unsubscribe: {mailto}\r\n"),
    };
    format!(
        "List-Id: <{name}.{domain}>\r\n\
         List-Post: <mailto:{list}>\r\n\
         List-Help: <mailto:{name}-request@{domain}?subject=help>\r\n\
         {unsubscribe}\
         Precedence: list\r\n"
    )
}

/// What the one-click token's MAC is over (domain-separated from the
/// confirmation tokens).
fn one_click_data(list: &str, member: &str) -> Vec<u8> {
    format!("one-click\0{list}\0{}", member.to_ascii_lowercase()).into_bytes()
}

/// The one-click token of `member` on `list`: base64url of a 16-byte
/// HMAC-SHA-256 prefix, the list and the member (lower case); nothing else
/// (no date, no server state).
pub(crate) fn one_click_token(secret: &Srs, list: &str, member: &str) -> String {
    let mut raw = secret.mac(&one_click_data(list, member))[..16].to_vec();
    raw.extend_from_slice(list.as_bytes());
    raw.push(0);
    raw.extend_from_slice(member.to_ascii_lowercase().as_bytes());
    B64URL.encode(raw)
}

/// The list and member a token names, if its MAC is right.
pub(crate) fn check_one_click(secret: &Srs, token: &str) -> Option<(String, String)> {
    if token.len() > 1024 {
        return None;
    }
    let raw = B64URL.decode(token).ok()?;
    let (tag, rest) = raw.split_at_checked(16)?;
    let text = std::str::from_utf8(rest).ok()?;
    let (list, member) = text.split_once('\0')?;
    secret
        .verify_mac(&one_click_data(list, member), tag)
        .then(|| (list.to_string(), member.to_string()))
}

/// The lock over every members file rewrite.
static MEMBERS: Mutex<()> = Mutex::new(());

/// Adds (`subscribe`) or removes `addr` (case-insensitive) in the members
/// file; whether the file changed.
pub(crate) fn set_member(conf: &ListConf, addr: &str, subscribe: bool) -> io::Result<bool> {
    let _guard = MEMBERS.lock().unwrap_or_else(|e| e.into_inner());
    let mut m = members(conf)?;
    let before = m.len();
    m.retain(|x| !x.eq_ignore_ascii_case(addr));
    let was_member = m.len() != before;
    if subscribe {
        m.push(addr.to_string());
    }
    if was_member == subscribe {
        return Ok(false);
    }
    let mut text = String::new();
    for x in &m {
        text.push_str(x);
        text.push('\n');
    }
    crate::maildir::write_atomic(&conf.file, text.as_bytes())?;
    Ok(true)
}

/// Signs `msg` for the list's domain (when there is a `--dkim` key for it)
/// and stores it for `to`.
fn send(
    shared: &Shared,
    list: &str,
    sender: &str,
    to: (String, crate::store::Dest),
    msg: &[u8],
) -> io::Result<()> {
    let domain = split_addr(list).map_or("", |(_, d)| d);
    let signed = shared.dkim.sign(domain, msg, unix_now());
    shared
        .store
        .inject(crate::maildir::queue_id(), sender, vec![to], &signed)?;
    Ok(())
}

/// Sends a post (the content as received) to every member; returns how
/// many copies were stored.
pub(crate) fn post(
    shared: &Shared,
    list: &str,
    conf: &ListConf,
    content: &[u8],
) -> io::Result<usize> {
    let store = &shared.store;
    let mut n = 0;
    for m in members(conf)? {
        let Some(dest) = store.classify(&m) else {
            crate::driver::log(format!("list {list}: no such local member <{m}>"));
            continue;
        };
        let url = shared.public_url.as_ref().map(|base| {
            format!(
                "{base}/unsubscribe/{}",
                one_click_token(&shared.srs, list, &m)
            )
        });
        let mut data = list_fields(list, url.as_deref()).into_bytes();
        data.extend_from_slice(content);
        send(shared, list, &verp(list, &m), (m.clone(), dest), &data)?;
        n += 1;
    }
    crate::driver::log(format!("list {list}: post sent to {n} member(s)"));
    Ok(n)
}

/// The subject of a message (first line only, unfolded poorly but enough
/// for a command).
fn subject(content: &[u8]) -> String {
    let head_end = content
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(content.len());
    let header = String::from_utf8_lossy(&content[..head_end]);
    header
        .split("\r\n")
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("subject")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

fn token(secret: &Srs, action: &str, list: &str, addr: &str, day: u64) -> String {
    secret.token(&format!(
        "{action} {list} {} {day}",
        addr.to_ascii_lowercase()
    ))
}

/// Sends a short message from the list's request address (null envelope
/// sender, auto-replied: no one answers it automatically).
fn answer(shared: &Shared, list: &str, to: &str, subject: &str, text: &str) -> io::Result<()> {
    let Some(dest) = shared.store.classify(to) else {
        return Ok(());
    };
    let (name, domain) = split_addr(list).unwrap_or((list, ""));
    let msg = format!(
        "From: <{name}-request@{domain}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: {}\r\nAuto-Submitted: auto-replied\r\n{}\r\n{text}\r\n",
        crate::store::rfc5322_date(unix_now()),
        list_fields(list, None)
    );
    send(shared, list, "", (to.to_string(), dest), msg.as_bytes())
}

/// Handles mail to the request address from `sender`.
pub(crate) fn request(
    shared: &Shared,
    list: &str,
    conf: &ListConf,
    sender: &str,
    content: &[u8],
) -> io::Result<()> {
    if sender.is_empty() {
        return Ok(());
    }
    let secret = &shared.srs;
    let day = unix_now() / 86400;
    let subj = subject(content).to_ascii_lowercase();
    let words: Vec<&str> = subj.split_whitespace().collect();
    let log = |what: &str| crate::driver::log(format!("list {list}: <{sender}> {what}"));
    match words.as_slice() {
        [cmd @ ("subscribe" | "unsubscribe")] => {
            let t = token(secret, cmd, list, sender, day);
            log(&format!("asked to {cmd}; confirmation sent"));
            answer(
                shared,
                list,
                sender,
                &format!("confirm {t}"),
                &format!(
                    "Someone asked to {cmd} <{sender}> to or from {list}.\r\n\
                     To confirm, reply keeping the subject \"confirm {t}\".\r\n\
                     Otherwise, ignore this message."
                ),
            )
        }
        [.., "confirm", t] => {
            for cmd in ["subscribe", "unsubscribe"] {
                if [day, day.saturating_sub(1)]
                    .iter()
                    .any(|d| token(secret, cmd, list, sender, *d) == *t)
                {
                    set_member(conf, sender, cmd == "subscribe")?;
                    log(&format!("{cmd}d"));
                    return answer(shared, list, sender, &format!("{cmd}d"), "Done.");
                }
            }
            log("sent a wrong or stale confirmation");
            Ok(())
        }
        _ => answer(
            shared,
            list,
            sender,
            "help",
            &format!(
                "Send \"subscribe\" or \"unsubscribe\" as the subject to {}.",
                split_addr(list).map_or(String::new(), |(n, d)| format!("{n}-request@{d}"))
            ),
        ),
    }
}

/// Counts a bounce of `member`'s copy.
pub(crate) fn bounce(data: &Path, list: &str, member: Option<&str>) -> io::Result<u32> {
    let dir = data.join("lists");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{list}.bounces"));
    let who = member.unwrap_or("(unknown)").to_ascii_lowercase();
    let mut counts: BTreeMap<String, u32> = std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (n, w) = l.split_once(' ')?;
            Some((w.to_string(), n.parse().ok()?))
        })
        .collect();
    let n = counts.entry(who.clone()).or_default();
    *n += 1;
    let n = *n;
    let text: String = counts.iter().map(|(w, c)| format!("{c} {w}\n")).collect();
    crate::maildir::write_atomic(&path, text.as_bytes())?;
    crate::driver::log(format!("list {list}: bounce {n} of <{who}>"));
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> BTreeMap<String, ListConf> {
        let mut m = BTreeMap::new();
        m.insert(
            "team@a.test".to_string(),
            ListConf {
                file: PathBuf::from("/nonexistent"),
                open: false,
            },
        );
        m
    }

    #[test]
    fn roles() {
        let l = lists();
        assert_eq!(
            classify(&l, "Team@A.test"),
            Some(("team@a.test".into(), Role::Post))
        );
        assert_eq!(
            classify(&l, "team-request@a.test"),
            Some(("team@a.test".into(), Role::Request))
        );
        assert_eq!(
            classify(&l, "team-bounces+carol=b.test@a.test"),
            Some((
                "team@a.test".into(),
                Role::Bounce(Some("carol@b.test".into()))
            ))
        );
        assert_eq!(classify(&l, "team@b.test"), None);
        assert_eq!(classify(&l, "teams@a.test"), None);
        assert_eq!(
            verp("team@a.test", "carol@b.test"),
            "team-bounces+carol=b.test@a.test"
        );
    }

    /// A scratch directory and a closed list whose members file is in it.
    fn scratch_list(tag: &str) -> (PathBuf, ListConf) {
        let dir = std::env::temp_dir().join(format!("mailwire-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = ListConf {
            file: dir.join("team"),
            open: false,
        };
        (dir, conf)
    }

    #[test]
    fn members_file_and_bounces() {
        let (dir, conf) = scratch_list("list");
        assert!(members(&conf).unwrap().is_empty());
        std::fs::write(
            &conf.file,
            "# members\nalice@a.test\n\nCarol@b.test # remote\nnot an address\n",
        )
        .unwrap();
        assert_eq!(members(&conf).unwrap(), ["alice@a.test", "Carol@b.test"]);
        assert!(is_member(&conf, "carol@B.test"));
        assert!(!is_member(&conf, "dave@b.test"));
        assert_eq!(
            bounce(&dir, "team@a.test", Some("carol@b.test")).unwrap(),
            1
        );
        assert_eq!(
            bounce(&dir, "team@a.test", Some("Carol@b.test")).unwrap(),
            2
        );
        assert_eq!(bounce(&dir, "team@a.test", None).unwrap(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn fields_and_commands() {
        let f = list_fields("team@a.test", None);
        assert!(!f.contains("List-Unsubscribe-Post"));
        assert!(f.contains("List-Id: <team.a.test>\r\n"));
        assert!(f.contains("List-Post: <mailto:team@a.test>\r\n"));
        assert!(
            f.contains("List-Unsubscribe: <mailto:team-request@a.test?subject=unsubscribe>\r\n")
        );
        assert_eq!(
            subject(b"From: x\r\nSUBJECT:  subscribe \r\n\r\nbody"),
            "subscribe"
        );
        let s = Srs::new(vec![3; 32]);
        let t = token(&s, "subscribe", "team@a.test", "Carol@b.test", 9);
        assert_eq!(t, token(&s, "subscribe", "team@a.test", "carol@b.test", 9));
        assert_ne!(
            t,
            token(&s, "unsubscribe", "team@a.test", "carol@b.test", 9)
        );
        assert_ne!(t, token(&s, "subscribe", "team@a.test", "carol@b.test", 10));
    }

    /// RFC 8058 §3.1: the HTTPS URI first, the mailto one kept, and the
    /// POST field beside it.
    #[test]
    fn rfc8058_3_1_one_click_fields() {
        let f = list_fields("team@a.test", Some("https://mx.a.test/unsubscribe/T"));
        assert!(
            f.contains(
                "List-Unsubscribe: <https://mx.a.test/unsubscribe/T>,\r\n \
                 <mailto:team-request@a.test?subject=unsubscribe>\r\n\
                 List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            ),
            "{f}"
        );
    }

    #[test]
    fn one_click_tokens_name_list_and_member_and_cannot_be_forged() {
        let s = Srs::new(vec![3; 32]);
        let t = one_click_token(&s, "team@a.test", "Carol@b.test");
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            check_one_click(&s, &t),
            Some(("team@a.test".into(), "carol@b.test".into()))
        );
        // Another secret, another member, a changed byte, garbage: refused.
        assert_eq!(check_one_click(&Srs::new(vec![4; 32]), &t), None);
        let mut raw = B64URL.decode(&t).unwrap();
        let n = raw.len();
        raw[n - 1] ^= 1;
        assert_eq!(check_one_click(&s, &B64URL.encode(&raw)), None);
        raw[n - 1] ^= 1;
        raw[0] ^= 1;
        assert_eq!(check_one_click(&s, &B64URL.encode(&raw)), None);
        for bad in ["", "x", "!!!!", &"A".repeat(2000)] {
            assert_eq!(check_one_click(&s, bad), None);
        }
        // The MAC is not shorter than 16 bytes.
        assert!(!s.verify_mac(b"x", &s.mac(b"x")[..8]));
    }

    #[test]
    fn set_member_adds_removes_and_is_idempotent() {
        let (dir, conf) = scratch_list("list-set");
        std::fs::write(&conf.file, "alice@a.test\nCarol@b.test\n").unwrap();
        assert!(set_member(&conf, "carol@B.test", false).unwrap());
        assert!(!set_member(&conf, "carol@b.test", false).unwrap());
        assert_eq!(
            std::fs::read_to_string(&conf.file).unwrap(),
            "alice@a.test\n"
        );
        assert!(set_member(&conf, "dave@b.test", true).unwrap());
        assert!(!set_member(&conf, "Dave@b.test", true).unwrap());
        assert_eq!(members(&conf).unwrap(), ["alice@a.test", "dave@b.test"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

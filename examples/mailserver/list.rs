//! Mailing lists: `--list NAME@DOMAIN=FILE` or the config file's
//! `[lists."NAME@DOMAIN"]` with `file = "..."`; FILE holds the members,
//! one address a line (`#` comments), and is rewritten on (un)subscription.
//!
//! - A post to `NAME@DOMAIN` is accepted from members only (unless the list
//!   is `open`; refused at RCPT with `550 5.7.1`), and sent to every member
//!   with the fields of RFC 2919 (`List-Id`) and RFC 2369 (`List-Post`,
//!   `List-Unsubscribe`, `List-Help`), `Precedence: list`, and an envelope
//!   sender of its own per member, `NAME-bounces+LOCAL=HOST@DOMAIN` (VERP),
//!   so that a bounce names the member. `List-Unsubscribe-Post` (RFC 8058)
//!   is not added: it requires an HTTPS unsubscribe URI, and this server
//!   has only the mailto one.
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

use serde::Deserialize;

use crate::srs::Srs;
use crate::store::{Store, split_addr, unix_now};

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

/// The list fields put in front of a post.
fn list_fields(list: &str) -> String {
    let (name, domain) = split_addr(list).unwrap_or((list, ""));
    format!(
        "List-Id: <{name}.{domain}>\r\n\
         List-Post: <mailto:{list}>\r\n\
         List-Help: <mailto:{name}-request@{domain}?subject=help>\r\n\
         List-Unsubscribe: <mailto:{name}-request@{domain}?subject=unsubscribe>\r\n\
         Precedence: list\r\n"
    )
}

/// Sends a post (the content as received) to every member; returns how
/// many copies were stored.
pub(crate) fn post(
    store: &Store,
    list: &str,
    conf: &ListConf,
    content: &[u8],
) -> io::Result<usize> {
    let mut data = list_fields(list).into_bytes();
    data.extend_from_slice(content);
    let mut n = 0;
    for m in members(conf)? {
        let Some(dest) = store.classify(&m) else {
            crate::driver::log(format!("list {list}: no such local member <{m}>"));
            continue;
        };
        store.inject(
            crate::maildir::queue_id(),
            &verp(list, &m),
            vec![(m.clone(), dest)],
            &data,
        )?;
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
fn answer(store: &Store, list: &str, to: &str, subject: &str, text: &str) -> io::Result<()> {
    let Some(dest) = store.classify(to) else {
        return Ok(());
    };
    let (name, domain) = split_addr(list).unwrap_or((list, ""));
    let msg = format!(
        "From: <{name}-request@{domain}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: {}\r\nAuto-Submitted: auto-replied\r\n{}\r\n{text}\r\n",
        crate::store::rfc5322_date(unix_now()),
        list_fields(list)
    );
    store.inject(
        crate::maildir::queue_id(),
        "",
        vec![(to.to_string(), dest)],
        msg.as_bytes(),
    )?;
    Ok(())
}

/// Handles mail to the request address from `sender`.
pub(crate) fn request(
    store: &Store,
    secret: &Srs,
    list: &str,
    conf: &ListConf,
    sender: &str,
    content: &[u8],
) -> io::Result<()> {
    if sender.is_empty() {
        return Ok(());
    }
    let day = unix_now() / 86400;
    let subj = subject(content).to_ascii_lowercase();
    let words: Vec<&str> = subj.split_whitespace().collect();
    let log = |what: &str| crate::driver::log(format!("list {list}: <{sender}> {what}"));
    match words.as_slice() {
        [cmd @ ("subscribe" | "unsubscribe")] => {
            let t = token(secret, cmd, list, sender, day);
            log(&format!("asked to {cmd}; confirmation sent"));
            answer(
                store,
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
                    let mut m = members(conf)?;
                    m.retain(|x| !x.eq_ignore_ascii_case(sender));
                    if cmd == "subscribe" {
                        m.push(sender.to_string());
                    }
                    let mut text = String::new();
                    for x in &m {
                        text.push_str(x);
                        text.push('\n');
                    }
                    crate::maildir::write_atomic(&conf.file, text.as_bytes())?;
                    log(&format!("{cmd}d"));
                    return answer(store, list, sender, &format!("{cmd}d"), "Done.");
                }
            }
            log("sent a wrong or stale confirmation");
            Ok(())
        }
        _ => answer(
            store,
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

    #[test]
    fn members_file_and_bounces() {
        let dir = std::env::temp_dir().join(format!("mailwire-list-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = ListConf {
            file: dir.join("team"),
            open: false,
        };
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
        let f = list_fields("team@a.test");
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
}

//! Vacation auto-replies (RFC 3834), per account: the file
//! `DATA/mailboxes/USER/vacation.toml`
//!
//! ```toml
//! subject = "Away until the 24th"   # optional; default "Auto: <their subject>"
//! start = "2026-12-01"              # optional, UTC day, inclusive
//! end = "2026-12-24"                # optional, UTC day, inclusive
//! text = """
//! I am away and read no mail until the 24th.
//! """
//! ```
//!
//! After a message is stored for the account, the reply is made with
//! `mailwire_message::auto_reply`, which follows RFC 3834 §2: never to
//! auto-submitted mail, mailing-list mail (any `List-*` field), bulk mail
//! (`Precedence: bulk/list/junk`), the null sender or system addresses;
//! `Auto-Submitted: auto-replied` (§5), `In-Reply-To`/`References` (§3.1.4).
//! It goes to the envelope sender with a null envelope sender of its own
//! (§3.3), at most once per sender every 7 days (§2: "SHOULD NOT ... more
//! than once ... within a period of several days"), remembered in
//! `vacation.seen` next to the file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::Path;
use std::sync::Mutex;

use mailwire::message::{DateTime, Mailbox, Message, MessageBuilder, MessageId, auto_reply};
use serde::Deserialize;

use crate::store::{Dest, Store, account_of, unix_now};

/// How long a sender is not answered again.
pub(crate) const ONCE_PER: u64 = 7 * 86400;
/// Senders remembered per account at most (the oldest are forgotten).
const MAX_SEEN: usize = 10_000;
/// Header bytes read from the delivered message.
const MAX_HEADER: u64 = 64 * 1024;

/// The file's fields as written: what the webmail's form shows and saves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileForm {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) end: Option<String>,
    pub(crate) text: String,
}

/// The vacation file of the account whose directory is `dir`.
pub(crate) const FILE: &str = "vacation.toml";

impl FileForm {
    /// The settings in `dir`'s file: none when there is no file (or it
    /// does not parse).
    pub(crate) fn load(dir: &Path) -> io::Result<Option<FileForm>> {
        match std::fs::read_to_string(dir.join(FILE)) {
            Ok(t) => Ok(toml::from_str(&t).ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `form` as `dir`'s file (atomically) when it passes the
    /// checks delivery makes ([`Vacation::parse`]; `Ok(Err(reason))`
    /// otherwise); `None` removes the file.
    pub(crate) fn save(dir: &Path, form: Option<&FileForm>) -> io::Result<Result<(), String>> {
        let path = dir.join(FILE);
        let Some(form) = form else {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(Ok(())),
            };
        };
        let text = match toml::to_string(form) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if let Err(why) = Vacation::parse(&text) {
            return Ok(Err(why));
        }
        crate::maildir::write_atomic(&path, text.as_bytes()).map(Ok)
    }
}

/// An account's vacation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vacation {
    subject: Option<String>,
    text: String,
    /// Unix times: from the start of `start`'s day to the end of `end`'s.
    from: Option<u64>,
    until: Option<u64>,
}

/// The Unix time of the start of a `YYYY-MM-DD` day (UTC).
fn parse_day(s: &str) -> Result<u64, String> {
    let bad = || format!("bad date {s:?}: expected YYYY-MM-DD");
    let mut it = s.trim().splitn(3, '-');
    let mut num = |len: usize| -> Result<u16, String> {
        let p = it.next().ok_or_else(bad)?;
        if p.len() != len || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        p.parse().map_err(|_| bad())
    };
    let (y, m, d) = (num(4)?, num(2)?, num(2)?);
    let (m, d) = (
        u8::try_from(m).map_err(|_| bad())?,
        u8::try_from(d).map_err(|_| bad())?,
    );
    let t = DateTime::new(y, m, d, 0, 0, 0, 0)
        .map_err(|_| bad())?
        .unix_timestamp();
    u64::try_from(t).map_err(|_| bad())
}

impl Vacation {
    /// Parses the text of a vacation file.
    pub(crate) fn parse(text: &str) -> Result<Vacation, String> {
        let f: FileForm = toml::from_str(text).map_err(|e| e.to_string())?;
        if f.text.trim().is_empty() {
            return Err("empty text".into());
        }
        if f.subject
            .as_deref()
            .is_some_and(|s| s.contains(['\r', '\n']))
        {
            return Err("the subject is one line".into());
        }
        let from = f.start.as_deref().map(parse_day).transpose()?;
        let until = f
            .end
            .as_deref()
            .map(parse_day)
            .transpose()?
            .map(|t| t + 86400 - 1);
        Ok(Vacation {
            subject: f.subject,
            text: f.text,
            from,
            until,
        })
    }

    /// Whether it applies at `now` (Unix seconds).
    pub(crate) fn active(&self, now: u64) -> bool {
        self.from.is_none_or(|f| now >= f) && self.until.is_none_or(|u| now <= u)
    }
}

/// Serialises the reads and writes of the `vacation.seen` files.
static SEEN_LOCK: Mutex<()> = Mutex::new(());

/// Whether `sender` may be answered now; records it if so.
fn first_in_period(seen_file: &Path, sender: &str, now: u64) -> io::Result<bool> {
    let _g = SEEN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let text = match std::fs::read_to_string(seen_file) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut seen: HashMap<String, u64> = HashMap::new();
    for line in text.lines() {
        if let Some((t, who)) = line.split_once(' ')
            && let Ok(t) = t.parse::<u64>()
            && now.saturating_sub(t) < ONCE_PER
        {
            seen.insert(who.to_string(), t);
        }
    }
    if seen.contains_key(sender) {
        return Ok(false);
    }
    seen.insert(sender.to_string(), now);
    let mut list: Vec<(u64, String)> = seen.into_iter().map(|(w, t)| (t, w)).collect();
    list.sort();
    let skip = list.len().saturating_sub(MAX_SEEN);
    let mut out = String::new();
    for (t, w) in &list[skip..] {
        out.push_str(&format!("{t} {w}\n"));
    }
    crate::maildir::write_atomic(seen_file, out.as_bytes())?;
    Ok(true)
}

/// The header section of a stored message (at most [`MAX_HEADER`] bytes).
fn read_header(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?.take(MAX_HEADER).read_to_end(&mut buf)?;
    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        buf.truncate(i + 4);
    }
    Ok(buf)
}

/// The reply to the message stored at `stored`, for `user` whose address
/// is `me`, or why there is none.
fn build_reply(
    v: &Vacation,
    stored: &Path,
    envelope_sender: &str,
    me: &str,
    hostname: &str,
    now: u64,
) -> Result<Vec<u8>, String> {
    let header = read_header(stored).map_err(|e| e.to_string())?;
    let original = Message::parse(&header);
    let me = Mailbox::new(None, me).map_err(|e| e.to_string())?;
    let mut h = auto_reply(&original, Some(envelope_sender), &me).map_err(|e| e.to_string())?;
    if let Some(s) = &v.subject {
        h = h.remove("Subject").subject(s).map_err(|e| e.to_string())?;
    }
    let date =
        DateTime::from_unix(i64::try_from(now).unwrap_or(0), 0).map_err(|e| e.to_string())?;
    let id = MessageId::new(&format!(
        "{}.vacation@{hostname}",
        crate::maildir::queue_id()
    ))
    .map_err(|e| e.to_string())?;
    let ascii = v.text.is_ascii();
    let h = h
        .date(&date)
        .message_id(&id)
        .raw("MIME-Version", "1.0")
        .and_then(|h| {
            h.raw(
                "Content-Type",
                if ascii {
                    "text/plain; charset=us-ascii"
                } else {
                    "text/plain; charset=utf-8"
                },
            )
        })
        .and_then(|h| {
            h.raw(
                "Content-Transfer-Encoding",
                if ascii { "7bit" } else { "8bit" },
            )
        })
        .map_err(|e| e.to_string())?;
    let mut body = v.text.replace("\r\n", "\n").replace('\n', "\r\n");
    if !body.ends_with("\r\n") {
        body.push_str("\r\n");
    }
    let mut out = format!(
        "Received: by {hostname} (mailwire vacation);\r\n\t{}\r\n",
        crate::store::rfc5322_date(now)
    )
    .into_bytes();
    out.extend_from_slice(&MessageBuilder::new(h, body.as_bytes()).to_bytes());
    Ok(out)
}

/// After a message from `sender` was stored (a copy at `stored`) for the
/// local accounts `users`: the vacation replies due.
pub(crate) fn after_delivery(store: &Store, sender: &str, users: &[&str], stored: &Path) {
    let now = unix_now();
    for user in users {
        let dir = store.maildirs.dir(user);
        let text = match std::fs::read_to_string(dir.join(FILE)) {
            Ok(t) => t,
            Err(_) => continue,
        };
        let log = |what: &str| crate::driver::log(format!("vacation {user}: {what}"));
        let v = match Vacation::parse(&text) {
            Ok(v) => v,
            Err(e) => {
                log(&format!("vacation.toml: {e}"));
                continue;
            }
        };
        if !v.active(now) {
            continue;
        }
        let me = format!("{user}@{}", store.cfg.domains[0]);
        let reply = match build_reply(&v, stored, sender, &me, &store.cfg.hostname, now) {
            Ok(r) => r,
            Err(why) => {
                log(&format!("no reply to <{sender}>: {why}"));
                continue;
            }
        };
        let sender_key = sender.to_ascii_lowercase();
        match first_in_period(&dir.join("vacation.seen"), &sender_key, now) {
            Ok(true) => {}
            Ok(false) => {
                log(&format!("no reply to <{sender}>: answered within 7 days"));
                continue;
            }
            Err(e) => {
                log(&format!("vacation.seen: {e}"));
                continue;
            }
        }
        let Some(dest) = store.classify(sender) else {
            log(&format!("no reply to <{sender}>: no such local mailbox"));
            continue;
        };
        let id = crate::maildir::queue_id();
        // RFC 3834 §3.3: the reply's own envelope sender is null.
        match store.inject(id.clone(), "", vec![(sender.to_string(), dest)], &reply) {
            Ok(_) => log(&format!("replied to <{sender}> id={id}")),
            Err(e) => log(&format!("cannot store the reply: {e}")),
        }
    }
}

/// The local accounts among a transaction's recipients, each once (a
/// delivery into a folder, `USER/.tag`, is the account's).
pub(crate) fn local_users(rcpts: &[(String, Dest)]) -> Vec<&str> {
    let mut users: Vec<&str> = Vec::new();
    for (_, d) in rcpts {
        if let Dest::Local(u) = d {
            let u = account_of(u);
            if !users.contains(&u) {
                users.push(u);
            }
        }
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(parse_day("1970-01-01").unwrap(), 0);
        assert_eq!(parse_day("2000-03-01").unwrap(), 951_868_800);
        assert_eq!(parse_day("2024-02-29").unwrap(), 1_709_164_800);
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "1969-12-31",
            "x",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }

    /// What the webmail saves is what delivery reads; a form delivery
    /// would not take is refused and leaves the file as it was; `None`
    /// removes it.
    #[test]
    fn settings_saved_and_loaded() {
        let dir =
            std::env::temp_dir().join(format!("vacation-form-{}", crate::maildir::queue_id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(FileForm::load(&dir).unwrap(), None);
        let form = FileForm {
            subject: Some("Away \"for\" now".into()),
            start: Some("2026-12-20".into()),
            end: None,
            text: "Back in January.\nRegards = me\n".into(),
        };
        FileForm::save(&dir, Some(&form)).unwrap().unwrap();
        assert_eq!(FileForm::load(&dir).unwrap().as_ref(), Some(&form));
        let v = Vacation::parse(&std::fs::read_to_string(dir.join(FILE)).unwrap()).unwrap();
        assert!(!v.active(parse_day("2026-12-19").unwrap()));
        assert!(v.active(parse_day("2027-06-01").unwrap()));
        for bad in [
            FileForm {
                text: " ".into(),
                ..form.clone()
            },
            FileForm {
                end: Some("2026-13-01".into()),
                ..form.clone()
            },
            FileForm {
                subject: Some("two\nlines".into()),
                ..form.clone()
            },
        ] {
            assert!(
                FileForm::save(&dir, Some(&bad)).unwrap().is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(FileForm::load(&dir).unwrap().as_ref(), Some(&form));
        FileForm::save(&dir, None).unwrap().unwrap();
        assert_eq!(FileForm::load(&dir).unwrap(), None);
        FileForm::save(&dir, None).unwrap().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn file_and_period() {
        let v = Vacation::parse(
            "subject = \"Away\"\nstart = \"2026-12-01\"\nend = \"2026-12-24\"\ntext = \"\"\"\nGone.\n\"\"\"\n",
        )
        .unwrap();
        let dec1 = parse_day("2026-12-01").unwrap();
        assert!(!v.active(dec1 - 1));
        assert!(v.active(dec1));
        assert!(v.active(parse_day("2026-12-24").unwrap() + 86399));
        assert!(!v.active(parse_day("2026-12-25").unwrap()));
        let always = Vacation::parse("text = \"x\"").unwrap();
        assert!(always.active(0) && always.active(u64::MAX));
        for bad in [
            "",
            "text = \"\"",
            "text = \"x\"\nstart = \"soon\"",
            "text = \"x\"\nfoo = 1",
            "text = \"x\"\nsubject = \"a\\nb\"",
        ] {
            assert!(Vacation::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn once_per_sender_per_week() {
        let dir = std::env::temp_dir().join(format!("mailwire-vac-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("vacation.seen");
        let t = 1_800_000_000;
        assert!(first_in_period(&f, "a@x.test", t).unwrap());
        assert!(!first_in_period(&f, "a@x.test", t + 3600).unwrap());
        assert!(first_in_period(&f, "b@x.test", t + 3600).unwrap());
        assert!(first_in_period(&f, "a@x.test", t + ONCE_PER).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reply_fields() {
        let dir = std::env::temp_dir().join(format!("mailwire-vacr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let msg = dir.join("msg");
        std::fs::write(
            &msg,
            "Return-Path: <carol@b.test>\r\nFrom: Carol <carol@b.test>\r\nTo: demo@a.test\r\n\
             Subject: Lunch?\r\nMessage-ID: <m1@b.test>\r\n\r\nbody\r\n",
        )
        .unwrap();
        let v = Vacation::parse("text = \"Away, back soon.\"").unwrap();
        let r = build_reply(
            &v,
            &msg,
            "carol@b.test",
            "demo@a.test",
            "mx.a.test",
            1_800_000_000,
        )
        .unwrap();
        let r = String::from_utf8(r).unwrap();
        for want in [
            "Auto-Submitted: auto-replied\r\n",
            "In-Reply-To: <m1@b.test>\r\n",
            "References: <m1@b.test>\r\n",
            "Subject: Auto: Lunch?\r\n",
            "To: carol@b.test\r\n",
            "From: demo@a.test\r\n",
            "\r\n\r\nAway, back soon.\r\n",
        ] {
            assert!(r.contains(want), "{want:?} in\n{r}");
        }
        // A list post and the null sender get none.
        std::fs::write(
            &msg,
            "From: carol@b.test\r\nList-Id: <team.b.test>\r\nSubject: x\r\n\r\nbody\r\n",
        )
        .unwrap();
        assert!(build_reply(&v, &msg, "carol@b.test", "demo@a.test", "h", 0).is_err());
        std::fs::write(&msg, "From: carol@b.test\r\nSubject: x\r\n\r\nbody\r\n").unwrap();
        assert!(build_reply(&v, &msg, "", "demo@a.test", "h", 0).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

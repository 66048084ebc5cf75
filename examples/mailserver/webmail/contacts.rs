//! The address book: each account's contacts, kept in
//! `DATA/mailboxes/USER/contacts`, one RFC 5322 mailbox a line (`Name
//! <addr>` or `addr`, RFC 5322 §3.4), the name quoted or RFC 2047-encoded
//! as mailwire-message writes it. The contacts page adds and removes
//! them; the sender of a message is added from its view; every recipient
//! of a message sent from the webmail is added when new (without changing
//! a name already there); the compose form offers them as suggestions.
//! A line that is no mailbox is skipped; an address is there once
//! (compared without case).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use mailwire::message::{Mailbox, parse_address_list};
use serde::Deserialize;

use super::http::{Ctx, User, blocking, forbidden, frame_page, redirect};
use super::mailbox::WebError;
use super::pages::{csrf_field, esc, url};

/// The file in the account's directory.
const FILE: &str = "contacts";
/// The most contacts an account keeps (new recipients beyond are not
/// added).
pub(crate) const MAX_CONTACTS: usize = 2000;
/// The longest name kept (characters).
const MAX_NAME: usize = 200;
/// The longest address taken: RFC 5321 §4.5.3.1.3's path of 256 octets
/// without its angle brackets.
const MAX_ADDR: usize = 254;

/// Held around each read-change-write of a contacts file, so that two
/// requests changing one account's contacts at once (two tabs, a send's
/// collection beside an add) do not lose either change.
static CHANGING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Loads the contacts of `dir`, lets `change` change them, and writes
/// them back when it says it did; under [`CHANGING`].
fn change<E: From<io::Error>>(
    dir: &Path,
    change: impl FnOnce(&mut Contacts) -> Result<bool, E>,
) -> Result<(), E> {
    let _one = CHANGING.lock().unwrap_or_else(|e| e.into_inner());
    let mut book = Contacts::load(dir)?;
    if change(&mut book)? {
        book.save(dir)?;
    }
    Ok(())
}

/// One contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contact {
    /// The display name (empty: none).
    pub(crate) name: String,
    /// The address (`local@domain`).
    pub(crate) addr: String,
}

impl Contact {
    /// The first mailbox of `entry` (`Name <addr>`, `addr`, or a list),
    /// with a domain; the name cut to [`MAX_NAME`] characters.
    pub(crate) fn parse(entry: &str) -> Option<Contact> {
        let (list, defects) = parse_address_list(entry.trim().as_bytes());
        if !defects.is_empty() {
            return None;
        }
        let m = list.mailboxes().next()?;
        m.domain()?;
        let name: String = m
            .name()
            .unwrap_or("")
            .trim()
            .chars()
            .take(MAX_NAME)
            .collect();
        Contact::new(&name, m.addr_spec())
    }

    /// A contact from a name (may be empty) and an address, `None` when
    /// they make no mailbox (a control character, no domain).
    pub(crate) fn new(name: &str, addr: &str) -> Option<Contact> {
        let (name, addr) = (name.trim(), addr.trim());
        if addr.len() > MAX_ADDR {
            return None;
        }
        let m = Mailbox::new((!name.is_empty()).then_some(name), addr).ok()?;
        m.domain()?;
        Some(Contact {
            name: m.name().unwrap_or("").to_owned(),
            addr: m.addr_spec().to_owned(),
        })
    }

    /// The contact as a mailbox: `Name <addr>`, or `addr`.
    pub(crate) fn entry(&self) -> String {
        let name = (!self.name.is_empty()).then_some(self.name.as_str());
        Mailbox::new(name, &self.addr)
            .map(|m| m.to_string())
            .unwrap_or_else(|_| self.addr.clone())
    }

    /// The sort key: the name, else the address, without case.
    fn key(&self) -> String {
        if self.name.is_empty() {
            self.addr.to_lowercase()
        } else {
            self.name.to_lowercase()
        }
    }
}

/// An account's contacts, sorted by name (address when none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Contacts(Vec<Contact>);

impl Contacts {
    /// The contacts of the file's text.
    pub(crate) fn parse(text: &str) -> Contacts {
        let mut c = Contacts::default();
        for line in text.lines() {
            if let Some(contact) = Contact::parse(line) {
                c.add(contact, false);
            }
        }
        c
    }

    /// The file's text.
    pub(crate) fn to_text(&self) -> String {
        self.0.iter().map(|c| c.entry() + "\n").collect()
    }

    /// The contacts of `dir` (an account's directory); none without a file.
    pub(crate) fn load(dir: &Path) -> io::Result<Contacts> {
        match std::fs::read_to_string(dir.join(FILE)) {
            Ok(t) => Ok(Contacts::parse(&t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Contacts::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes them to `dir` (atomically, synced).
    pub(crate) fn save(&self, dir: &Path) -> io::Result<()> {
        crate::maildir::write_atomic(&dir.join(FILE), self.to_text().as_bytes())
    }

    /// Every contact, sorted.
    pub(crate) fn all(&self) -> &[Contact] {
        &self.0
    }

    /// Adds `c`; a contact with the same address gets its name when
    /// `rename` (and `c` has one), else stays. False when nothing changed
    /// (also when the book is full).
    pub(crate) fn add(&mut self, c: Contact, rename: bool) -> bool {
        if let Some(old) = self
            .0
            .iter_mut()
            .find(|o| o.addr.eq_ignore_ascii_case(&c.addr))
        {
            if !rename || c.name.is_empty() || old.name == c.name {
                return false;
            }
            old.name = c.name;
        } else if self.0.len() >= MAX_CONTACTS {
            return false;
        } else {
            self.0.push(c);
        }
        self.0.sort_by_cached_key(Contact::key);
        true
    }

    /// Removes the contact with address `addr` (without case); false when
    /// there is none.
    pub(crate) fn remove(&mut self, addr: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|c| !c.addr.eq_ignore_ascii_case(addr.trim()));
        self.0.len() != before
    }
}

/// Adds the recipients of a message `user` sent to the user's contacts
/// (new addresses only; names already there stay). A failure is logged:
/// the message is sent anyway.
pub(crate) fn collect(dir: &Path, user: &str, recipients: &[Mailbox<'_>]) {
    let added = change(dir, |book| -> io::Result<bool> {
        let mut changed = false;
        for m in recipients {
            if let Some(c) = Contact::new(m.name().unwrap_or(""), m.addr_spec()) {
                changed |= book.add(c, false);
            }
        }
        Ok(changed)
    });
    if let Err(e) = added {
        crate::driver::log(format!("webmail {user}: contacts: {e}"));
    }
}

/// The routes of this module.
pub(super) fn routes() -> Router<Ctx> {
    Router::new().route("/contacts", get(page).post(action))
}

/// The directory of `user`'s contacts file.
fn dir_of(ctx: &Ctx, user: &str) -> PathBuf {
    ctx.app.shared.store.maildirs.dir(user)
}

/// The contacts of `user`, read on a blocking thread.
pub(super) async fn of_user(ctx: &Ctx, user: &str) -> Result<Contacts, Response> {
    let dir = dir_of(ctx, user);
    blocking(move || Ok(Contacts::load(&dir)?)).await
}

/// The compose form's suggestions: every contact as an `<option>` of the
/// `<datalist id="contacts">` the To, Cc and Bcc fields name.
pub(super) fn datalist(book: &Contacts) -> String {
    let mut o = String::from(r#"<datalist id="contacts">"#);
    for c in book.all() {
        let _ = write!(o, r#"<option value="{}">"#, esc(&c.entry()));
    }
    o.push_str("</datalist>");
    o
}

/// The contacts page: one added by name and address; each with a link
/// to write to it and a button that removes it.
fn page_html(book: &Contacts, csrf: &str) -> String {
    let csrf = csrf_field(csrf);
    let mut o = format!(
        r#"<section id="address-book"><h1>Contacts</h1>
<form method="post" action="/contacts" class="create">{csrf}<input type="hidden" name="op" value="add">
<label for="contact-name">Name</label> <input id="contact-name" name="name" maxlength="{MAX_NAME}">
<label for="contact-addr">Address</label> <input id="contact-addr" name="addr" required maxlength="{MAX_ADDR}">
<button type="submit">Add</button></form>
<p class="hint">The people you write to are added here; a name given again replaces the one kept.</p>
<table class="contacts"><thead><tr><th scope="col">Name</th><th scope="col">Address</th><th scope="col">Write</th><th scope="col">Delete</th></tr></thead><tbody>"#
    );
    for c in book.all() {
        let addr = esc(&c.addr);
        let _ = write!(
            o,
            r#"<tr><td>{}</td><td>{addr}</td><td><a href="/compose?to={}">Write</a></td><td><form method="post" action="/contacts" class="inline">{csrf}<input type="hidden" name="op" value="delete"><input type="hidden" name="addr" value="{addr}"><button type="submit" aria-label="Delete {addr}">Delete</button></form></td></tr>"#,
            esc(&c.name),
            esc(&url(&c.entry())),
        );
    }
    o.push_str("</tbody></table></section>");
    o
}

async fn page(State(ctx): State<Ctx>, user: User) -> Response {
    let book = match of_user(&ctx, &user.name).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let csrf = user.csrf.clone();
    frame_page(&ctx, &user, None, "Contacts", move |_| {
        page_html(&book, &csrf)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct ContactForm {
    #[serde(default)]
    csrf: String,
    /// `add` or `delete`.
    op: String,
    /// Add: the name and address typed on the contacts page...
    #[serde(default)]
    name: String,
    /// ... (delete: the address removed) ...
    #[serde(default)]
    addr: String,
    /// ... or a whole mailbox (`Name <addr>`, a message's sender).
    #[serde(default)]
    entry: String,
}

/// Adds or removes a contact, then back to the contacts page.
async fn action(State(ctx): State<Ctx>, user: User, Form(a): Form<ContactForm>) -> Response {
    if !user.token_ok(&a.csrf) {
        return forbidden();
    }
    let dir = dir_of(&ctx, &user.name);
    let done = blocking(move || {
        change(&dir, |book| match a.op.as_str() {
            "add" => {
                let c = if a.entry.is_empty() {
                    Contact::new(&a.name, &a.addr)
                } else {
                    Contact::parse(&a.entry)
                };
                let typed = if a.entry.is_empty() {
                    &a.addr
                } else {
                    &a.entry
                };
                let c = c.ok_or_else(|| WebError::Refused(format!("Not an address: {typed}")))?;
                let known = book
                    .all()
                    .iter()
                    .any(|o| o.addr.eq_ignore_ascii_case(&c.addr));
                if !known && book.all().len() >= MAX_CONTACTS {
                    return Err(WebError::Refused(format!(
                        "The address book is full ({MAX_CONTACTS} contacts)."
                    )));
                }
                Ok(book.add(c, true))
            }
            "delete" => Ok(book.remove(&a.addr)),
            _ => Err(WebError::Refused("unknown action".into())),
        })
    })
    .await;
    match done {
        Ok(()) => redirect("/contacts"),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_write_back() {
        let c = Contact::parse("Carol Jones <carol@example.org>").unwrap();
        assert_eq!(
            (c.name.as_str(), c.addr.as_str()),
            ("Carol Jones", "carol@example.org")
        );
        assert_eq!(c.entry(), "Carol Jones <carol@example.org>");
        let bare = Contact::parse("  bob@example.net ").unwrap();
        assert_eq!(bare.name, "");
        assert_eq!(bare.entry(), "bob@example.net");
        // A name with specials is quoted (RFC 5322 §3.2.4) and reads back.
        let q = Contact::new("Jones, Carol \"CJ\"", "carol@example.org").unwrap();
        assert_eq!(Contact::parse(&q.entry()).unwrap(), q);
        // Non-ASCII names are kept as UTF-8 (RFC 6532) and read back.
        let u = Contact::new("Zoë Ångström", "zoe@example.org").unwrap();
        assert_eq!(u.entry(), "Zoë Ångström <zoe@example.org>");
        assert_eq!(Contact::parse(&u.entry()).unwrap(), u);
    }

    #[test]
    fn what_is_no_mailbox_is_refused() {
        for bad in [
            "",
            "no address",
            "carol@",
            "<>",
            "Carol <carol>",
            "a@b\r\nBcc: x@y",
        ] {
            assert_eq!(Contact::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Contact::new("Bad\u{7}name", "a@example.org"), None);
        assert_eq!(Contact::new("", "not-an-address"), None);
        let host = "h".repeat(250);
        assert_eq!(
            Contact::new("", &format!("a@{host}.org")),
            None,
            "longer than a path"
        );
        let long = "n".repeat(500);
        let c = Contact::parse(&format!("{long} <a@example.org>")).unwrap();
        assert_eq!(c.name.chars().count(), MAX_NAME);
    }

    #[test]
    fn the_book_keeps_each_address_once_sorted() {
        let mut b = Contacts::default();
        let c = |e: &str| Contact::parse(e).unwrap();
        assert!(b.add(c("Zed <z@example.org>"), false));
        assert!(b.add(c("alice@example.org"), false));
        assert!(b.add(c("Bob <bob@example.org>"), false));
        assert!(
            !b.add(c("Robert <BOB@example.org>"), false),
            "collected: kept as it was"
        );
        assert!(
            b.add(c("Robert <BOB@example.org>"), true),
            "renamed on the page"
        );
        assert!(
            !b.add(c("bob@example.org"), true),
            "no name: the old one stays"
        );
        let entries: Vec<String> = b.all().iter().map(Contact::entry).collect();
        assert_eq!(
            entries,
            [
                "alice@example.org",
                "Robert <bob@example.org>",
                "Zed <z@example.org>"
            ]
        );
        assert!(b.remove("Z@EXAMPLE.ORG"));
        assert!(!b.remove("z@example.org"));
        assert_eq!(Contacts::parse(&b.to_text()), b);
    }

    #[test]
    fn the_file_skips_bad_lines_and_is_bounded() {
        let text = "Carol <carol@example.org>\njunk line\n\ncarol@example.org\n=?utf-8?q?Zo=C3=AB?= <zoe@example.org>\n";
        let b = Contacts::parse(text);
        let names: Vec<&str> = b.all().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Carol", "Zoë"]);
        let mut full = Contacts::default();
        for i in 0..MAX_CONTACTS + 5 {
            full.add(
                Contact::new("", &format!("u{i}@example.org")).unwrap(),
                false,
            );
        }
        assert_eq!(full.all().len(), MAX_CONTACTS);
    }

    #[test]
    fn the_page_and_the_suggestions_escape() {
        let mut b = Contacts::default();
        b.add(
            Contact::new("<script>x</script>", "evil@example.org").unwrap(),
            false,
        );
        b.add(Contact::new("Carol", "carol@example.org").unwrap(), false);
        let page = page_html(&b, "tok");
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(
            page.contains(r#"<a href="/compose?to=Carol%20%3Ccarol%40example.org%3E">"#),
            "{page}"
        );
        assert_eq!(
            page.matches(r#"name="csrf" value="tok""#).count(),
            3,
            "each form has the token"
        );
        let list = datalist(&b);
        assert!(
            list.contains(r#"<option value="Carol &lt;carol@example.org&gt;">"#),
            "{list}"
        );
        assert!(!list.contains("<script>"));
    }

    #[test]
    fn load_and_save() {
        let dir =
            std::env::temp_dir().join(format!("mailwire-contacts-{}", crate::maildir::queue_id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(
            Contacts::load(&dir).unwrap(),
            Contacts::default(),
            "no file: none"
        );
        let mut b = Contacts::default();
        b.add(Contact::new("Carol", "carol@example.org").unwrap(), false);
        b.save(&dir).unwrap();
        assert_eq!(Contacts::load(&dir).unwrap(), b);
        // Changes at the same moment all land.
        let dir2 = dir.clone();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let dir = dir2.clone();
                std::thread::spawn(move || {
                    collect(
                        &dir,
                        "u",
                        &[Mailbox::new(None, &format!("t{i}@example.org")).unwrap()],
                    );
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(Contacts::load(&dir).unwrap().all().len(), 9);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

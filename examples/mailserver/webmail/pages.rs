//! The pages, as plain HTML: every value from a message or a URL is
//! escaped ([`esc`]); no inline script or style (the Content-Security-Policy
//! allows neither), one stylesheet and one small script from `/static/`.

use std::fmt::Write as _;

use super::mailbox::{Field, FolderInfo, ListQuery, Listing, PAGE, Sort};
use crate::mailstore::{Limits, Usage};

/// Escapes text for HTML text and quoted attribute values.
pub(crate) use super::render::escape_html as esc;

/// `s` percent-encoded for a query string value (RFC 3986 unreserved
/// characters kept).
pub(crate) fn url(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

/// A folder's name for people: the store keeps IMAP's modified UTF-7
/// (RFC 3501 §5.1.3), as it goes over the wire.
pub(crate) fn folder_label(name: &str) -> String {
    mailwire::imap::decode_utf7(name.as_bytes()).unwrap_or_else(|| name.to_string())
}

/// A size for people: bytes, KiB, MiB or GiB.
pub(crate) fn size(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", n as f64 / 1_048_576.0),
        _ => format!("{:.1} GiB", n as f64 / 1_073_741_824.0),
    }
}

/// The account's usage for the folder page: the storage line, and with
/// `--message-quota` a line of the messages of how many.
pub(crate) fn usage(used: Usage, limits: &Limits) -> String {
    let mut html = storage(used.bytes, limits.storage);
    if let Some(limit) = limits.messages {
        let (n, of) = (used.messages.to_string(), limit.to_string());
        html.push_str(&of_limit(
            "messages",
            "Messages",
            &n,
            &of,
            used.messages,
            limit,
        ));
    }
    html
}

/// The account's storage for the folder page: what its messages take
/// and, with `--quota`, of how much (a `meter` beside the text).
pub(crate) fn storage(used: u64, quota: Option<u64>) -> String {
    match quota {
        None => format!(
            r#"<p class="storage" id="storage">Storage used: {}</p>"#,
            size(used)
        ),
        Some(limit) => of_limit(
            "storage",
            "Storage used",
            &size(used),
            &size(limit),
            used,
            limit,
        ),
    }
}

/// A usage line against its limit: `label: used of limit (percent%)` and a
/// `meter` that turns high at 90%.
fn of_limit(
    id: &str,
    label: &str,
    used_text: &str,
    limit_text: &str,
    used: u64,
    limit: u64,
) -> String {
    let percent = used.saturating_mul(100) / limit.max(1);
    format!(
        r#"<p class="storage" id="{id}">{label}: {used_text} of {limit_text} ({percent}%) <meter min="0" max="{limit}" high="{high}" value="{used}"></meter></p>"#,
        high = limit / 10 * 9,
    )
}

/// The logged-in frame: the page's user and token, the folders.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    pub(crate) user: &'a str,
    pub(crate) csrf: &'a str,
    pub(crate) folders: &'a [FolderInfo],
    pub(crate) current: Option<&'a str>,
}

/// A hidden CSRF field.
pub(crate) fn csrf_field(csrf: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(csrf))
}

/// The document's head: title, the stylesheet and the script.
pub(crate) fn head(title: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{} – mailwire webmail</title>
<link rel="stylesheet" href="/static/webmail.css">
<script src="/static/webmail.js" defer></script>
</head>
"#,
        esc(title)
    )
}

/// The folder list (also replaced by the script when mail comes).
pub(crate) fn folder_nav(folders: &[FolderInfo], current: Option<&str>) -> String {
    let mut o = String::from(r#"<nav class="folders" id="folders" aria-label="Folders"><ul>"#);
    for f in folders {
        let cur = current.is_some_and(|c| c.eq_ignore_ascii_case(&f.name));
        let cls = match (cur, f.unread > 0) {
            (true, true) => r#" class="current unread""#,
            (true, false) => r#" class="current""#,
            (false, true) => r#" class="unread""#,
            (false, false) => "",
        };
        let count = if f.unread > 0 {
            format!(
                r#" <span class="count" aria-label="{} unread">{}</span>"#,
                f.unread, f.unread
            )
        } else {
            String::new()
        };
        let _ = write!(
            o,
            r#"<li><a href="/mail?f={}"{cls}{}>{}</a>{count}</li>"#,
            url(&f.name),
            if cur { r#" aria-current="page""# } else { "" },
            esc(&folder_label(&f.name))
        );
    }
    o.push_str(r#"</ul><p class="manage"><a href="/folders">Manage folders</a></p></nav>"#);
    o
}

/// The folder management page: a new folder; rename or delete (when
/// empty) each of the user's own folders.
/// `storage` is [`storage`]'s line.
pub(crate) fn folders(folders: &[FolderInfo], csrf: &str, storage: &str) -> String {
    let mut o = format!(
        r#"<section id="manage"><h1>Folders</h1>
{storage}
<form method="post" action="/folders" class="create">{}<input type="hidden" name="op" value="create">
<label for="new">New folder</label> <input id="new" name="name" required maxlength="200">
<button type="submit">Create</button></form>
<p class="hint">A "." in a name makes a folder inside another (Projects.2026).</p>
<table class="folders"><thead><tr><th scope="col">Folder</th><th scope="col">Messages</th><th scope="col">Rename</th><th scope="col">Delete</th></tr></thead><tbody>"#,
        csrf_field(csrf)
    );
    for f in folders {
        let label = esc(&folder_label(&f.name));
        let _ = write!(
            o,
            r#"<tr><td><a href="/mail?f={}">{label}</a></td><td>{}</td>"#,
            url(&f.name),
            f.total
        );
        if super::mailbox::is_own_folder(&f.name) {
            let _ = write!(
                o,
                r#"<td><form method="post" action="/folders" class="inline">{csrf}<input type="hidden" name="op" value="rename"><input type="hidden" name="name" value="{name}"><input name="to" value="{label}" aria-label="New name for {label}" required maxlength="200"> <button type="submit">Rename</button></form></td>
<td><form method="post" action="/folders" class="inline">{csrf}<input type="hidden" name="op" value="delete"><input type="hidden" name="name" value="{name}"><button type="submit"{disabled}>Delete</button></form></td></tr>"#,
                csrf = csrf_field(csrf),
                name = esc(&f.name),
                disabled = if f.total > 0 {
                    r#" disabled title="Not empty""#
                } else {
                    ""
                },
            );
        } else {
            o.push_str("<td></td><td></td></tr>");
        }
    }
    o.push_str("</tbody></table></section>");
    o
}

/// A whole page of a logged-in user.
pub(crate) fn page(title: &str, frame: &Frame<'_>, main: &str) -> String {
    format!(
        r#"{}<body>
<header class="top"><a class="brand" href="/mail">mailwire</a>
<a class="button primary" href="/compose">Compose</a>
<a class="button" id="contacts-link" href="/contacts">Contacts</a>
<a class="button" id="vacation-link" href="/vacation">Vacation reply</a>
<a class="button" id="password-link" href="/password">Password</a>
<span class="user">{}</span>
<form method="post" action="/logout" class="inline">{}<button type="submit">Log out</button></form>
</header>
<div class="layout">{}<main id="main">{}</main></div>
</body></html>
"#,
        head(title),
        esc(frame.user),
        csrf_field(frame.csrf),
        folder_nav(frame.folders, frame.current),
        main
    )
}

/// The log-in page.
pub(crate) fn login(csrf: &str, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    format!(
        r#"{}<body class="login">
<main><h1>mailwire webmail</h1>{err}
<form method="post" action="/login">{}
<p><label for="user">User</label><input id="user" name="user" autocomplete="username" required autofocus></p>
<p><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit" class="primary">Log in</button></p>
</form></main></body></html>
"#,
        head("Log in"),
        csrf_field(csrf)
    )
}

/// A short page for an error.
pub(crate) fn error(title: &str, text: &str) -> String {
    format!(
        r#"{}<body><main><h1>{}</h1><p>{}</p><p><a href="/mail">Back to the mail</a></p></main></body></html>
"#,
        head(title),
        esc(title),
        esc(text)
    )
}

/// The URL of a list view.
fn list_url(folder: &str, q: &ListQuery, sort: Sort, ascending: bool, page: usize) -> String {
    let mut u = format!("/mail?f={}&sort={}", url(folder), sort.name());
    if ascending {
        u.push_str("&asc=1");
    }
    if !q.search.is_empty() {
        let _ = write!(u, "&q={}&in={}", url(&q.search), q.field.name());
    }
    if page > 0 {
        let _ = write!(u, "&page={page}");
    }
    u
}

/// The message list of a folder. `version` is the folder's change
/// counter: the script waits for it to move, then reloads the list.
/// `folders` are the move targets of the actions on ticked messages.
pub(crate) fn list(
    folder: &str,
    q: &ListQuery,
    l: &Listing,
    version: u64,
    folders: &[FolderInfo],
    csrf: &str,
) -> String {
    let mut o = format!(
        r#"<section id="list" data-folder="{}" data-version="{version}">
<h1>{}</h1>
<form method="get" action="/mail" class="search" role="search">
<input type="hidden" name="f" value="{}">
<label for="q">Search</label> <input id="q" name="q" type="search" value="{}">
<label for="in">in</label> <select id="in" name="in">"#,
        esc(folder),
        esc(&folder_label(folder)),
        esc(folder),
        esc(&q.search)
    );
    for f in [Field::Text, Field::From, Field::Subject] {
        let label = match f {
            Field::Text => "everything",
            Field::From => "sender",
            Field::Subject => "subject",
        };
        let sel = if f == q.field { " selected" } else { "" };
        let _ = write!(o, r#"<option value="{}"{sel}>{label}</option>"#, f.name());
    }
    o.push_str(r#"</select> <button type="submit">Search</button></form>"#);
    let head_link = |s: Sort, label: &str| {
        // The current column toggles its direction; another starts
        // newest (Z) first for dates, A first for text.
        let asc = if q.sort == s {
            !q.ascending
        } else {
            s != Sort::Date
        };
        let mark = match (q.sort == s, q.ascending) {
            (true, true) => " ▲",
            (true, false) => " ▼",
            _ => "",
        };
        format!(
            r#"<a href="{}">{label}{mark}</a>"#,
            esc(&list_url(folder, q, s, asc, 0))
        )
    };
    if l.rows.is_empty() {
        o.push_str(r#"<p class="empty">No messages.</p>"#);
    } else {
        // The ticked messages (`u`) go to /bulk with one action.
        let _ = write!(
            o,
            r#"<form method="post" action="/bulk" id="bulk">{}<input type="hidden" name="f" value="{}">
<div class="bulk"><label for="op">Selected:</label> <select id="op" name="op">
<option value="read">Mark read</option><option value="unread">Mark unread</option>
<option value="flag">Flag</option><option value="unflag">Unflag</option>
<option value="delete">Delete</option><option value="move">Move to folder:</option></select>
<label for="to" class="visually-hidden">Folder</label> <select id="to" name="to">"#,
            csrf_field(csrf),
            esc(folder)
        );
        for f in folders
            .iter()
            .filter(|f| !f.name.eq_ignore_ascii_case(folder))
        {
            let _ = write!(
                o,
                r#"<option value="{}">{}</option>"#,
                esc(&f.name),
                esc(&folder_label(&f.name))
            );
        }
        let _ = write!(
            o,
            r#"</select> <button type="submit">Apply</button></div>
<table class="messages"><thead><tr><th scope="col" class="pick"><input type="checkbox" id="pick-all" aria-label="Select all"></th><th scope="col">{}</th><th scope="col">{}</th><th scope="col" class="date">{}</th></tr></thead><tbody>"#,
            head_link(Sort::From, "From"),
            head_link(Sort::Subject, "Subject"),
            head_link(Sort::Date, "Date")
        );
        for r in &l.rows {
            let mut cls = Vec::new();
            if !r.seen {
                cls.push("unread");
            }
            if r.flagged {
                cls.push("flagged");
            }
            let subject = if r.subject.trim().is_empty() {
                "(no subject)"
            } else {
                &r.subject
            };
            let _ = write!(
                o,
                r#"<tr class="{}" data-uid="{}"><td class="pick"><input type="checkbox" name="u" value="{}" aria-label="Select"></td><td class="from">{}</td><td class="subject"><a href="/msg?f={}&amp;uid={}">{}{}</a></td><td class="date">{}</td></tr>"#,
                cls.join(" "),
                r.uid,
                r.uid,
                esc(&r.from),
                url(folder),
                r.uid,
                if r.flagged { "★ " } else { "" },
                esc(subject),
                short_date(&r.date)
            );
        }
        o.push_str("</tbody></table></form>");
    }
    let pages = l.matched.div_ceil(PAGE).max(1);
    if pages > 1 {
        o.push_str(r#"<nav class="pager" aria-label="Pages">"#);
        if q.page > 0 {
            let _ = write!(
                o,
                r#"<a href="{}" rel="prev">Newer</a> "#,
                esc(&list_url(folder, q, q.sort, q.ascending, q.page - 1))
            );
        }
        let _ = write!(o, "<span>Page {} of {pages}</span>", q.page + 1);
        if q.page + 1 < pages {
            let _ = write!(
                o,
                r#" <a href="{}" rel="next">Older</a>"#,
                esc(&list_url(folder, q, q.sort, q.ascending, q.page + 1))
            );
        }
        o.push_str("</nav>");
    }
    let _ = write!(
        o,
        r#"<p class="total">{} message(s)</p></section>"#,
        l.matched
    );
    o
}

/// `YYYY-MM-DD HH:MM` with the year in a span that a phone's width hides.
fn short_date(date: &str) -> String {
    match date.split_once('-') {
        Some((year, rest)) => format!(r#"<span class="year">{}-</span>{}"#, esc(year), esc(rest)),
        None => esc(date),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(url("Archive.2024 x&y=é"), "Archive.2024%20x%26y%3D%C3%A9");
        assert_eq!(folder_label("Entw&APw-rfe"), "Entwürfe");
        assert_eq!(folder_label("Sent"), "Sent");
    }

    #[test]
    fn sizes() {
        assert_eq!(size(10), "10 B");
        assert_eq!(size(2048), "2.0 KiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
        assert_eq!(
            storage(5 << 20, None),
            r#"<p class="storage" id="storage">Storage used: 5.0 MiB</p>"#
        );
        assert_eq!(
            storage(512 << 20, Some(1 << 30)),
            r#"<p class="storage" id="storage">Storage used: 512.0 MiB of 1.0 GiB (50%) <meter min="0" max="1073741824" high="966367638" value="536870912"></meter></p>"#
        );
        assert!(storage(11 << 10, Some(10 << 10)).contains("(110%)"));
        // The message line only with a message quota.
        let used = Usage {
            bytes: 2048,
            messages: 45,
        };
        assert_eq!(usage(used, &Limits::default()), storage(2048, None));
        let counted = Limits {
            storage: None,
            messages: Some(50),
        };
        assert_eq!(
            usage(used, &counted),
            format!(
                "{}{}",
                storage(2048, None),
                r#"<p class="storage" id="messages">Messages: 45 of 50 (90%) <meter min="0" max="50" high="45" value="45"></meter></p>"#
            )
        );
        assert_eq!(size(3 * 1_048_576), "3.0 MiB");
    }

    #[test]
    fn folder_page_offers_only_own_folders() {
        let folder = |name: &str, total| FolderInfo {
            name: name.into(),
            unread: 0,
            total,
        };
        let html = folders(
            &[
                folder("INBOX", 3),
                folder("Trash", 0),
                folder("Projects", 0),
                folder("Caf&AOk-", 2),
            ],
            "t",
            &storage(2048, None),
        );
        assert!(html.contains("Storage used: 2.0 KiB"), "{html}");
        // Rename and delete forms for the user's own folders only.
        assert_eq!(html.matches(r#"value="rename""#).count(), 2, "{html}");
        assert!(!html.contains(r#"name="name" value="INBOX""#));
        assert!(!html.contains(r#"name="name" value="Trash""#));
        // The label is the decoded name; deleting a non-empty one is off.
        assert!(html.contains(r#"value="Café""#), "{html}");
        assert_eq!(html.matches("disabled").count(), 1, "{html}");
    }

    #[test]
    fn list_escapes_message_fields() {
        let l = Listing {
            rows: vec![super::super::mailbox::Row {
                uid: 7,
                from: "<script>x</script>".into(),
                subject: "\"><img src=x onerror=alert(1)>".into(),
                date: String::new(),
                seen: false,
                flagged: false,
            }],
            matched: 1,
        };
        let folder = |name: &str, total| FolderInfo {
            name: name.into(),
            unread: 0,
            total,
        };
        let folders = [folder("INBOX", 1), folder("\"><b>x", 0)];
        let html = list("INBOX", &ListQuery::default(), &l, 3, &folders, "tok\"en");
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>"));
        assert!(html.contains(r#"class="unread""#));
        assert!(html.contains(r#"data-version="3""#));
        // The ticked messages go to /bulk, with the token; the folder
        // itself is no move target.
        assert!(html.contains(r#"<input type="checkbox" name="u" value="7""#));
        assert!(
            html.contains(r#"name="csrf" value="tok&quot;en""#),
            "{html}"
        );
        assert!(!html.contains(r#"<option value="INBOX">"#));
        assert!(
            html.contains(r#"<option value="&quot;&gt;&lt;b&gt;x">"#),
            "{html}"
        );
        assert_eq!(
            short_date("2024-01-03 10:00"),
            r#"<span class="year">2024-</span>01-03 10:00"#
        );
    }
}

//! The message view, the message body frame, attachments, and compose
//! (new, reply, reply-all, forward, drafts): the pages over [`render`]
//! and [`compose`].
//!
//! The HTML of a message is never part of a webmail page: the view embeds
//! `/body` in an iframe sandboxed without `allow-scripts`, and `/body` is
//! served with its own policy (`default-src 'none'; img-src 'self' data:`,
//! remote images only once the user asked; `style-src 'unsafe-inline'`
//! for the message's own filtered styles; `sandbox`). Attachments are
//! always downloads (`Content-Disposition: attachment`, a safe file name,
//! `nosniff`).

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Multipart, Query, State};
use axum::http::header::{
    CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mailwire::imap::kit::mailbox::SystemFlags;
use serde::Deserialize;

use super::checks;
use super::compose::{self, Draft, Upload};
use super::contacts::{self, Contact};
use super::http::{Ctx, User, blocking, frame_page, html, redirect};
use super::mailbox::{self, FolderInfo, WebError};
use super::pages::{csrf_field, esc, folder_label, size, url};
use super::render::{self, Body, MessageView, ViewOptions};
use crate::mailstore::MailStore;
use crate::store::unix_now;

/// The routes of this module.
pub(super) fn routes() -> Router<Ctx> {
    Router::new()
        .route("/msg", get(message))
        .route("/body", get(body))
        .route("/part", get(part))
        .route("/compose", get(compose_page))
        .route("/send", post(send))
}

#[derive(Debug, Deserialize)]
struct MsgParams {
    f: String,
    uid: u32,
    headers: Option<String>,
    images: Option<String>,
}

/// The URL of a message's page with extra parameters.
fn msg_url(path: &str, f: &str, uid: u32) -> String {
    format!("{path}?f={}&uid={uid}", url(f))
}

/// A view of message `uid` of `f` for `user`, with `cid:` images pointing
/// at its own parts.
fn view_of(raw: &[u8], f: &str, uid: u32, images: bool) -> MessageView {
    let base = msg_url("/part", f, uid);
    let part_url = move |id: &str| format!("{base}&part={}", url(id));
    render::view(
        raw,
        &ViewOptions {
            show_remote_images: images,
            part_url: &part_url,
        },
    )
}

/// The message page: headers (all on demand), the body, the attachments,
/// and the actions. Opening it marks the message read.
async fn message(State(ctx): State<Ctx>, user: User, Query(p): Query<MsgParams>) -> Response {
    let images = p.images.as_deref() == Some("1");
    let app = ctx.app.clone();
    let (name, f, uid) = (user.name.clone(), p.f.clone(), p.uid);
    let got = blocking(move || {
        let mail = &app.shared.store.mail;
        let (m, raw) = mailbox::load(mail, &name, &f, uid)?;
        if !m.flags.system.contains(SystemFlags::SEEN) {
            mailbox::set_flag(mail, &name, &f, &[uid], SystemFlags::SEEN, true)?;
        }
        let flagged = m.flags.system.contains(SystemFlags::FLAGGED);
        let checks = checks::sender_checks(&raw, &app.shared.store.cfg.hostname);
        // The rest of the conversation; a folder that cannot be read
        // leaves the list out, not the message.
        let thread = mailbox::conversation(mail, &name, &f, &m, &raw).unwrap_or_default();
        Ok((flagged, view_of(&raw, &f, uid, images), checks, thread))
    })
    .await;
    let (flagged, v, checks, thread) = match got {
        Ok(x) => x,
        Err(r) => return r,
    };
    let title = if v.subject.is_empty() {
        "(no subject)".to_string()
    } else {
        v.subject.clone()
    };
    let csrf = user.csrf.clone();
    let show_headers = p.headers.as_deref() == Some("1");
    let f = p.f.clone();
    frame_page(&ctx, &user, Some(p.f.clone()), &title, move |folders| {
        let checks = checks::html(&checks);
        let mut page = message_html(
            &f,
            p.uid,
            &csrf,
            folders,
            &v,
            &checks,
            flagged,
            show_headers,
            images,
        );
        page.push_str(&conversation_html(&thread));
        page
    })
    .await
}

#[allow(clippy::too_many_arguments)]
fn message_html(
    f: &str,
    uid: u32,
    csrf: &str,
    folders: &[FolderInfo],
    v: &MessageView,
    checks: &str,
    flagged: bool,
    show_headers: bool,
    images: bool,
) -> String {
    let here = msg_url("/msg", f, uid);
    let compose = |mode: &str| esc(&format!("/compose?mode={mode}&f={}&uid={uid}", url(f)));
    let hidden = format!(
        r#"{}<input type="hidden" name="f" value="{}"><input type="hidden" name="uid" value="{uid}">"#,
        csrf_field(csrf),
        esc(f)
    );
    let mut o = format!(
        r#"<article class="message"><h1 id="subject">{}</h1>
<div class="toolbar">
{}<a class="button" id="reply" href="{}">Reply</a>
<a class="button" id="reply-all" href="{}">Reply all</a>
<a class="button" id="forward" href="{}">Forward</a>
<form method="post" action="/action" class="inline">{hidden}<button type="submit" id="unread" name="op" value="unread">Mark unread</button></form>
<form method="post" action="/action" class="inline">{hidden}<button type="submit" id="flag" name="op" value="{}">{}</button></form>
<form method="post" action="/action" class="inline">{hidden}<label for="move-to">Move to</label> <select id="move-to" name="to">"#,
        esc(&v.subject),
        if MailStore::special_use(f) == Some("Drafts") {
            format!(
                r#"<a class="button primary" id="edit" href="{}">Edit</a> "#,
                compose("draft")
            )
        } else {
            String::new()
        },
        compose("reply"),
        compose("replyall"),
        compose("forward"),
        if flagged { "unflag" } else { "flag" },
        if flagged { "Unflag" } else { "Flag" },
    );
    for fi in folders.iter().filter(|fi| !fi.name.eq_ignore_ascii_case(f)) {
        let _ = write!(
            o,
            r#"<option value="{}">{}</option>"#,
            esc(&fi.name),
            esc(&folder_label(&fi.name))
        );
    }
    // One click to the Junk folder (DMARC's quarantine and the user's
    // own), or out of it back to INBOX.
    let in_junk = MailStore::special_use(f) == Some("Junk");
    let junk = folders
        .iter()
        .find(|fi| MailStore::special_use(&fi.name) == Some("Junk"))
        .filter(|_| !in_junk)
        .map(|fi| (fi.name.as_str(), "junk", "Junk"))
        .or(in_junk.then_some(("INBOX", "not-junk", "Not junk")))
        .map_or(String::new(), |(to, id, label)| {
            format!(
                r#"
<form method="post" action="/action" class="inline">{hidden}<input type="hidden" name="to" value="{}"><button type="submit" id="{id}" name="op" value="move">{label}</button></form>"#,
                esc(to)
            )
        });
    let _ = write!(
        o,
        r#"</select> <button type="submit" id="move" name="op" value="move">Move</button></form>{junk}
<form method="post" action="/action" class="inline">{hidden}<button type="submit" id="delete" name="op" value="delete">Delete</button></form>
</div>
<dl class="headers"><dt>From</dt><dd>{from}{}</dd><dt>To</dt><dd>{}</dd>"#,
        // A sender that is an address can go to the contacts.
        match Contact::parse(&v.from) {
            Some(_) => format!(
                r#" <form method="post" action="/contacts" class="inline">{}<input type="hidden" name="op" value="add"><input type="hidden" name="entry" value="{}"><button type="submit" id="add-contact">Add to contacts</button></form>"#,
                csrf_field(csrf),
                esc(&v.from)
            ),
            None => String::new(),
        },
        esc(&v.to),
        from = esc(&v.from),
    );
    if !v.cc.is_empty() {
        let _ = write!(o, "<dt>Cc</dt><dd>{}</dd>", esc(&v.cc));
    }
    if !v.date.is_empty() {
        let _ = write!(o, "<dt>Date</dt><dd>{}</dd>", esc(&v.date));
    }
    // The server's DKIM and SPF results (HTML of `checks::html`).
    o.push_str(checks);
    o.push_str("</dl>");
    let images_q = if images { "&images=1" } else { "" };
    if show_headers {
        o.push_str(r#"<pre class="raw-headers">"#);
        for (n, val) in &v.headers {
            let _ = writeln!(o, "{}: {}", esc(n), esc(val));
        }
        let _ = write!(
            o,
            r#"</pre><p><a id="hide-headers" href="{}">Hide the headers</a></p>"#,
            esc(&format!("{here}{images_q}"))
        );
    } else {
        let _ = write!(
            o,
            r#"<p><a id="show-headers" href="{}">All headers</a></p>"#,
            esc(&format!("{here}&headers=1{images_q}"))
        );
    }
    o.push_str(r#"<div id="body">"#);
    match &v.body {
        Body::Text(t) => {
            let _ = write!(o, r#"<pre class="text">{}</pre>"#, render::text_to_html(t));
        }
        Body::Html {
            blocked_remote_images,
            ..
        } => {
            if *blocked_remote_images > 0 && !images {
                let _ = write!(
                    o,
                    r#"<p class="notice">{blocked_remote_images} remote image(s) blocked (they would tell the sender you read this). <a id="show-images" href="{}">Show images</a></p>"#,
                    esc(&format!("{here}&images=1"))
                );
            }
            let _ = write!(
                o,
                r#"<iframe class="body" title="The message" sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" src="{}"></iframe>"#,
                esc(&format!("{}{images_q}", msg_url("/body", f, uid)))
            );
        }
    }
    o.push_str("</div>");
    if !v.attachments.is_empty() {
        o.push_str(r#"<h2>Attachments</h2><ul class="attachments">"#);
        for a in &v.attachments {
            let _ = write!(
                o,
                r#"<li><a href="{}" download="{}">{}</a> <span class="meta">({}, {})</span>"#,
                esc(&format!(
                    "{}&part={}",
                    msg_url("/part", f, uid),
                    url(&a.part_id)
                )),
                esc(&a.file_name),
                esc(&a.file_name),
                esc(&a.content_type),
                size(a.size as u64)
            );
            if a.content_type.starts_with("image/") {
                let _ = write!(
                    o,
                    r#" <a href="{}">view</a>"#,
                    esc(&format!(
                        "{}&part={}&inline=1",
                        msg_url("/part", f, uid),
                        url(&a.part_id)
                    ))
                );
            }
            o.push_str("</li>");
        }
        o.push_str("</ul>");
    }
    o.push_str("</article>");
    o
}

/// The other messages of the conversation ([`mailbox::conversation`]),
/// oldest first, each a link to its page with the folder it is in; nothing
/// for a message alone in its conversation.
fn conversation_html(thread: &[(String, mailbox::Row)]) -> String {
    if thread.is_empty() {
        return String::new();
    }
    let mut o = String::from(
        r#"<section class="conversation" id="conversation"><h2>In this conversation</h2><ul>"#,
    );
    for (folder, r) in thread {
        let subject = if r.subject.is_empty() {
            "(no subject)"
        } else {
            &r.subject
        };
        let _ = write!(
            o,
            r#"<li><a href="{}">{}</a> <span class="meta">{}, {}, in {}</span></li>"#,
            esc(&msg_url("/msg", folder, r.uid)),
            esc(subject),
            esc(&r.from),
            esc(&r.date),
            esc(&folder_label(folder))
        );
    }
    o.push_str("</ul></section>");
    o
}

/// The policy of the message body frame.
fn body_csp(images: bool) -> String {
    format!(
        "default-src 'none'; img-src 'self' data:{}; style-src 'unsafe-inline'; form-action 'none'; \
         frame-ancestors 'self'; sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox",
        if images { " http: https:" } else { "" }
    )
}

/// The message's body alone, for the sandboxed frame of the view.
async fn body(State(ctx): State<Ctx>, user: User, Query(p): Query<MsgParams>) -> Response {
    let images = p.images.as_deref() == Some("1");
    let app = ctx.app.clone();
    let (name, f, uid) = (user.name.clone(), p.f.clone(), p.uid);
    let got = blocking(move || {
        let (_, raw) = mailbox::load(&app.shared.store.mail, &name, &f, uid)?;
        Ok(view_of(&raw, &f, uid, images).body)
    })
    .await;
    let inner = match got {
        Ok(Body::Html { html, .. }) => html,
        Ok(Body::Text(t)) => format!("<pre>{}</pre>", render::text_to_html(&t)),
        Err(r) => return r,
    };
    let doc = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><base target="_blank"><style>body{{font:15px/1.45 system-ui,sans-serif;margin:8px;overflow-wrap:anywhere}}img{{max-width:100%;height:auto}}pre{{white-space:pre-wrap}}</style></head><body>{inner}</body></html>"#
    );
    let mut r = html(doc);
    if let Ok(v) = HeaderValue::from_str(&body_csp(images)) {
        r.headers_mut().insert(CONTENT_SECURITY_POLICY, v);
    }
    r.headers_mut()
        .insert(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    r
}

#[derive(Debug, Deserialize)]
struct PartParams {
    f: String,
    uid: u32,
    part: String,
    /// Show a raster image in the browser rather than download it.
    inline: Option<String>,
}

/// One part, decoded: a download (or an image for the body frame).
async fn part(State(ctx): State<Ctx>, user: User, Query(p): Query<PartParams>) -> Response {
    let app = ctx.app.clone();
    let inline = p.inline.as_deref() == Some("1");
    let (name, f, uid, id) = (user.name.clone(), p.f, p.uid, p.part);
    let got = blocking(move || {
        let (_, raw) = mailbox::load(&app.shared.store.mail, &name, &f, uid)?;
        render::part(&raw, &id).ok_or(WebError::NotFound)
    })
    .await;
    let part = match got {
        Ok(x) => x,
        Err(r) => return r,
    };
    let show_inline = inline && part.inline_image();
    let mut r = part.bytes.into_response();
    let h = r.headers_mut();
    let ct = HeaderValue::from_str(&part.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(CONTENT_TYPE, ct);
    let mut disposition = render::content_disposition(&part.file_name);
    // Only a raster image may be shown by the browser (never HTML or SVG,
    // which could run script in the webmail's origin).
    if show_inline {
        disposition = disposition.replacen("attachment", "inline", 1);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    r
}

#[derive(Debug, Deserialize)]
struct ComposeParams {
    mode: Option<String>,
    f: Option<String>,
    uid: Option<u32>,
    /// A new message to this mailbox (the contacts page's "Write").
    to: Option<String>,
}

/// Where a compose form came from: the message replied to or forwarded.
#[derive(Debug, Clone, Default)]
struct Origin {
    /// Reply: flag this message `\Answered` once sent.
    replied: Option<(String, u32)>,
    /// Forward: attach this message.
    forwarded: Option<(String, u32)>,
    /// A draft opened again: its attachments are kept, and it is replaced
    /// once saved again or sent.
    draft: Option<(String, u32)>,
}

/// The compose form: new, or started from a message (reply, reply to
/// all, forward).
async fn compose_page(
    State(ctx): State<Ctx>,
    user: User,
    Query(p): Query<ComposeParams>,
) -> Response {
    let me = mailbox::address_of(&ctx.app.shared, &user.name);
    let mode = p.mode.unwrap_or_default();
    let (draft, origin) = match (mode.as_str(), p.f, p.uid) {
        (m @ ("reply" | "replyall" | "forward" | "draft"), Some(f), Some(uid)) => {
            let app = ctx.app.clone();
            let (name, ff, me2, m2) = (user.name.clone(), f.clone(), me.clone(), m.to_string());
            let got = blocking(move || {
                let (_, raw) = mailbox::load(&app.shared.store.mail, &name, &ff, uid)?;
                Ok(match m2.as_str() {
                    "forward" => compose::forward(&raw, &me2),
                    "draft" => compose::open_draft(&raw),
                    all => compose::reply(&raw, all == "replyall", &me2),
                })
            })
            .await;
            match got {
                Ok(d) if m == "draft" => (
                    d,
                    Origin {
                        draft: Some((f, uid)),
                        ..Origin::default()
                    },
                ),
                Ok(d) if m == "forward" => (
                    d,
                    Origin {
                        forwarded: Some((f, uid)),
                        ..Origin::default()
                    },
                ),
                Ok(d) => (
                    d,
                    Origin {
                        replied: Some((f, uid)),
                        ..Origin::default()
                    },
                ),
                Err(r) => return r,
            }
        }
        _ => (
            Draft {
                from: me,
                to: p.to.into_iter().collect(),
                ..Draft::default()
            },
            Origin::default(),
        ),
    };
    let title = if draft.subject.is_empty() {
        "New message".to_string()
    } else {
        draft.subject.clone()
    };
    let suggestions = match contacts::of_user(&ctx, &user.name).await {
        Ok(book) => contacts::datalist(&book),
        Err(r) => return r,
    };
    let csrf = user.csrf.clone();
    frame_page(&ctx, &user, None, &title, move |_| {
        compose_html(&csrf, &draft, &origin, None) + &suggestions
    })
    .await
}

fn compose_html(csrf: &str, d: &Draft, origin: &Origin, error: Option<&str>) -> String {
    let mut o = String::from(r#"<h1>Write</h1>"#);
    if let Some(e) = error {
        let _ = write!(o, r#"<p class="error" role="alert">{}</p>"#, esc(e));
    }
    let _ = write!(
        o,
        r#"<form class="compose" method="post" action="/send" enctype="multipart/form-data">{}
<p><span>From</span> <span class="from">{}</span></p>
<p><label for="to">To</label><input id="to" name="to" type="text" value="{}" autocomplete="email" list="contacts"></p>
<p><label for="cc">Cc</label><input id="cc" name="cc" type="text" value="{}" list="contacts"></p>
<p><label for="bcc">Bcc</label><input id="bcc" name="bcc" type="text" value="{}" list="contacts"></p>
<p><label for="subject">Subject</label><input id="subject" name="subject" type="text" value="{}"></p>
<p><label for="body">Text</label><textarea id="body" name="body" rows="16">{}</textarea></p>
<p><label for="attachments">Attach files</label><input id="attachments" name="attachment" type="file" multiple></p>
<input type="hidden" name="in_reply_to" value="{}"><input type="hidden" name="references" value="{}">"#,
        csrf_field(csrf),
        esc(&d.from),
        esc(&d.to.join(", ")),
        esc(&d.cc.join(", ")),
        esc(&d.bcc.join(", ")),
        esc(&d.subject),
        esc(&d.body),
        esc(d.in_reply_to.as_deref().unwrap_or("")),
        esc(&d.references.join(" "))
    );
    if let Some((f, uid)) = &origin.replied {
        let _ = write!(
            o,
            r#"<input type="hidden" name="orig_f" value="{}"><input type="hidden" name="orig_uid" value="{uid}">"#,
            esc(f)
        );
    }
    if let Some((f, uid)) = &origin.forwarded {
        let _ = write!(
            o,
            r#"<input type="hidden" name="fwd_f" value="{}"><input type="hidden" name="fwd_uid" value="{uid}"><p class="notice">The original message is attached.</p>"#,
            esc(f)
        );
    }
    if let Some((f, uid)) = &origin.draft {
        let _ = write!(
            o,
            r#"<input type="hidden" name="draft_f" value="{}"><input type="hidden" name="draft_uid" value="{uid}">"#,
            esc(f)
        );
        let kept: Vec<&str> = d.attachments.iter().map(|a| a.file_name.as_str()).collect();
        if !kept.is_empty() {
            let _ = write!(
                o,
                r#"<p class="notice">Kept from the draft: {}</p>"#,
                esc(&kept.join(", "))
            );
        }
        if d.forwarded.is_some() {
            o.push_str(r#"<p class="notice">The forwarded message is attached.</p>"#);
        }
    }
    o.push_str(
        r#"<div class="toolbar"><button type="submit" class="primary" name="action" value="send">Send</button> <button type="submit" name="action" value="draft">Save draft</button></div></form>"#,
    );
    o
}

/// The compose form as posted.
#[derive(Debug, Default)]
struct Posted {
    csrf: String,
    action: String,
    draft: Draft,
    origin: Origin,
}

/// Reads the multipart form: its fields and the uploaded files.
async fn read_form(mut mp: Multipart) -> Result<Posted, String> {
    let mut p = Posted::default();
    let (mut orig_f, mut orig_uid, mut fwd_f, mut fwd_uid) = (None, None, None, None);
    let (mut draft_f, mut draft_uid) = (None, None);
    while let Some(field) = mp.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or("").to_string();
        if name == "attachment" {
            let file_name = field.file_name().unwrap_or("").to_string();
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string();
            let bytes = field.bytes().await.map_err(|e| e.to_string())?;
            if !file_name.is_empty() || !bytes.is_empty() {
                p.draft.attachments.push(Upload {
                    file_name,
                    content_type,
                    bytes: bytes.to_vec(),
                });
            }
            continue;
        }
        let text = field.text().await.map_err(|e| e.to_string())?;
        match name.as_str() {
            "csrf" => p.csrf = text,
            "action" => p.action = text,
            "to" => p.draft.to = vec![text],
            "cc" => p.draft.cc = vec![text],
            "bcc" => p.draft.bcc = vec![text],
            "subject" => p.draft.subject = text,
            "body" => p.draft.body = text,
            "in_reply_to" => p.draft.in_reply_to = Some(text).filter(|t| !t.trim().is_empty()),
            "references" => {
                p.draft.references = text.split_whitespace().map(str::to_string).collect();
            }
            "orig_f" => orig_f = Some(text),
            "orig_uid" => orig_uid = text.parse().ok(),
            "fwd_f" => fwd_f = Some(text),
            "fwd_uid" => fwd_uid = text.parse().ok(),
            "draft_f" => draft_f = Some(text),
            "draft_uid" => draft_uid = text.parse().ok(),
            _ => {}
        }
    }
    p.origin.replied = orig_f.zip(orig_uid);
    p.origin.forwarded = fwd_f.zip(fwd_uid);
    p.origin.draft = draft_f.zip(draft_uid);
    Ok(p)
}

/// Sends the message (the server's submission path, then a copy in Sent)
/// or saves it in Drafts.
async fn send(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    user: User,
    mp: Multipart,
) -> Response {
    let mut p = match read_form(mp).await {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                html(super::pages::error("Bad form", &e)),
            )
                .into_response();
        }
    };
    if !user.token_ok(&p.csrf) {
        return super::http::forbidden();
    }
    let shared = ctx.app.shared.clone();
    p.draft.from = mailbox::address_of(&shared, &user.name);
    let name = user.name.clone();
    let secure = ctx.secure;
    let (draft, origin, action) = (p.draft.clone(), p.origin.clone(), p.action.clone());
    let done = tokio::task::spawn_blocking(move || -> Result<&'static str, WebError> {
        let mut draft = draft;
        let mail = &shared.store.mail;
        if let Some((f, uid)) = &origin.forwarded {
            let (_, raw) = mailbox::load(mail, &name, f, *uid)?;
            draft.forwarded = Some(raw);
        }
        if let Some((f, uid)) = &origin.draft {
            // What the form cannot carry back: the draft's files and
            // forwarded message.
            let (_, raw) = mailbox::load(mail, &name, f, *uid)?;
            let old = compose::open_draft(&raw);
            let added = std::mem::replace(&mut draft.attachments, old.attachments);
            draft.attachments.extend(added);
            if draft.forwarded.is_none() {
                draft.forwarded = old.forwarded;
            }
        }
        // The old draft goes once its replacement is stored or sent.
        let drop_old = |mail: &MailStore| {
            if let Some((f, uid)) = &origin.draft {
                let _ = mailbox::expunge(mail, &name, f, &[*uid]);
            }
        };
        let token = super::session::token().map_err(|e| WebError::Io(std::io::Error::other(e)))?;
        let id = format!(
            "{}.{}@{}",
            unix_now(),
            &token[..16],
            shared.store.cfg.hostname
        );
        let date = mailwire::message::DateTime::from_unix(unix_now() as i64, 0)
            .map_err(|e| WebError::Refused(e.to_string()))?;
        let refused = |e: compose::ComposeError| WebError::Refused(e.to_string());
        // Drafts and Sent keep Bcc; the message submitted does not.
        let copy = compose::build_draft(&draft, &date, &id).map_err(refused)?;
        // The copy kept (the draft, or the message in Sent) must fit the
        // quota: checked before anything is sent, so that a message is not
        // sent without its copy.
        mailbox::within_quota(
            mail,
            &shared.store.quota_limits(&name),
            &name,
            copy.len() as u64,
        )?;
        if action == "draft" {
            mailbox::append(
                &shared,
                &name,
                "Drafts",
                &copy,
                seen_and(SystemFlags::DRAFT),
            )?;
            drop_old(mail);
            return Ok("Drafts");
        }
        let raw = compose::build(&draft, &date, &id).map_err(refused)?;
        let (_, rcpts) = compose::envelope(&draft).map_err(refused)?;
        mailbox::submit(&shared, &name, peer, secure, &rcpts, &raw)?;
        let book = shared.store.maildirs.dir(&name);
        contacts::collect(&book, &name, &compose::recipients(&draft));
        mailbox::append(
            &shared,
            &name,
            "Sent",
            &copy,
            seen_and(SystemFlags::empty()),
        )?;
        drop_old(mail);
        if let Some((f, uid)) = &origin.replied {
            // The original may be gone meanwhile: the mail is sent anyway.
            let _ = mailbox::set_flag(
                &shared.store.mail,
                &name,
                f,
                &[*uid],
                SystemFlags::ANSWERED,
                true,
            );
        }
        Ok("Sent")
    })
    .await
    .unwrap_or_else(|_| Err(WebError::Io(std::io::Error::other("task failed"))));
    match done {
        Ok(folder) => redirect(&format!("/mail?f={folder}")),
        Err(WebError::Refused(why)) => {
            // Back to the form with what was typed (files must be attached again).
            let csrf = user.csrf.clone();
            let draft = p.draft;
            let origin = p.origin;
            let suggestions = contacts::of_user(&ctx, &user.name)
                .await
                .map(|b| contacts::datalist(&b))
                .unwrap_or_default();
            let mut r = frame_page(&ctx, &user, None, "Not sent", move |_| {
                compose_html(&csrf, &draft, &origin, Some(&format!("Not sent: {why}")))
                    + &suggestions
            })
            .await;
            *r.status_mut() = StatusCode::BAD_REQUEST;
            r
        }
        Err(e) => super::http::failure(e),
    }
}

/// `\Seen` and `other`.
fn seen_and(other: SystemFlags) -> SystemFlags {
    let mut f = SystemFlags::SEEN;
    f.insert(other);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_policy_allows_remote_images_only_when_asked() {
        let no = body_csp(false);
        assert!(no.starts_with("default-src 'none'"));
        assert!(!no.contains("http:") && !no.contains("script"));
        assert!(no.contains("sandbox") && !no.contains("allow-scripts"));
        assert!(body_csp(true).contains("img-src 'self' data: http: https:"));
    }

    #[test]
    fn compose_form_escapes_and_keeps_threading() {
        let d = Draft {
            from: "a@b.test".into(),
            to: vec!["\"><script>".into()],
            subject: "Re: x".into(),
            in_reply_to: Some("id@x".into()),
            references: vec!["r1@x".into(), "id@x".into()],
            ..Draft::default()
        };
        let h = compose_html("tok", &d, &Origin::default(), None);
        assert!(!h.contains("<script>"));
        assert!(h.contains(r#"name="csrf" value="tok""#));
        assert!(h.contains(r#"name="references" value="r1@x id@x""#));
        assert!(h.contains(r#"enctype="multipart/form-data""#));
    }
}

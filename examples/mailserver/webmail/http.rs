//! The HTTP side: axum's router on a tokio runtime of its own (one
//! thread, started by [`start`]), each connection served by hyper's
//! HTTP/1.1, under TLS (tokio-rustls, the server's certificate) for
//! `--https`.
//!
//! Every response gets the security headers ([`security_headers`]): a
//! strict Content-Security-Policy (scripts and styles only from
//! `/static/`, nothing inline), `X-Content-Type-Options: nosniff`, no
//! referrer, no caching, no framing by other pages. Every POST carries
//! the session's CSRF token; a POST without it is refused (403). The one
//! exception is the lists' one-click unsubscribe URL ([`super::unsubscribe`]),
//! whose token in the path is its authorization (RFC 8058 §3.2).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use mailwire::imap::kit::mailbox::SystemFlags;
use serde::Deserialize;

use super::mailbox::{self, Field, ListQuery, Sort, WebError};
use super::pages::{self, Frame};
use super::session::{self, LOGIN_COOKIE, SESSION_COOKIE, Sessions, same_token};
use crate::limits::{ConnLimits, Limiter};
use crate::smtp_session::Shared;

/// The policy of every page: nothing inline, nothing from elsewhere.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/// How long the long poll for new mail waits before answering anyway.
const POLL_WAIT: Duration = Duration::from_secs(25);
/// How often the long poll looks at the folder's change counter (as an
/// IMAP IDLE session does).
const POLL_TICK: Duration = Duration::from_millis(200);
/// The largest request body (a message with its attachments).
const MAX_BODY: usize = 30 * 1024 * 1024;
/// A TLS handshake must be done within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler shares.
#[derive(Debug)]
pub(super) struct App {
    pub(super) shared: Arc<Shared>,
    pub(super) sessions: Sessions,
}

/// The state of one listener: the app, and whether it is HTTPS (cookies
/// then get `Secure`).
#[derive(Debug, Clone)]
pub(super) struct Ctx {
    pub(super) app: Arc<App>,
    pub(super) secure: bool,
}

/// Starts the webmail on its own thread, serving the listeners given.
pub(crate) fn start(
    shared: Arc<Shared>,
    http: Option<std::net::TcpListener>,
    https: Option<std::net::TcpListener>,
) -> Result<(), String> {
    let tagging = shared.clone();
    let sessions = Sessions::load(
        shared.store.cfg.data.join("webmail-sessions"),
        Box::new(move |user, salt| {
            tagging
                .accounts
                .credential_tag(user, salt, |d| tagging.srs.mac(d))
        }),
    );
    let app = Arc::new(App { shared, sessions });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("webmail: tokio runtime: {e}"))?;
    let mut listeners = Vec::new();
    for (l, secure) in [(http, false), (https, true)] {
        if let Some(l) = l {
            l.set_nonblocking(true)
                .map_err(|e| format!("webmail: {e}"))?;
            listeners.push((l, secure));
        }
    }
    std::thread::Builder::new()
        .name("webmail".into())
        .spawn(move || {
            rt.block_on(async move {
                let mut tasks = Vec::new();
                for (l, secure) in listeners {
                    let ctx = Ctx {
                        app: app.clone(),
                        secure,
                    };
                    let l = match tokio::net::TcpListener::from_std(l) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("webmail: {e}");
                            continue;
                        }
                    };
                    tasks.push(tokio::spawn(serve(l, ctx)));
                }
                for t in tasks {
                    let _ = t.await;
                }
            });
        })
        .map_err(|e| format!("webmail: cannot start its thread: {e}"))?;
    Ok(())
}

/// The webmail's own connection budget (the mail ports' limiter, with
/// limits of its own: a browser opens several connections, and a page
/// waiting for new mail holds one).
const WEB_LIMITS: ConnLimits = ConnLimits {
    max_total: 256,
    max_per_address: 64,
    rate: 1200,
    rate_period: Duration::from_secs(60),
};
/// A request's header section must arrive within this (slow clients
/// cannot hold connections for nothing).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves one listener: each connection (after its TLS handshake with
/// the server's certificate, the mail ports' rustls configuration, when
/// `secure`) gets HTTP/1.1 from hyper with the router, while it holds a
/// slot of [`WEB_LIMITS`]; a connection over the limits is closed at once.
async fn serve(l: tokio::net::TcpListener, ctx: Ctx) {
    let tls = ctx
        .secure
        .then(|| tokio_rustls::TlsAcceptor::from(ctx.app.shared.tls.clone()));
    let limiter = Limiter::new(WEB_LIMITS);
    let app = router(ctx);
    loop {
        let (sock, peer) = match l.accept().await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("webmail: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = limiter.try_acquire(peer.ip(), Instant::now()) else {
            continue;
        };
        let svc = TowerToHyperService::new(app.clone().layer(Extension(ConnectInfo(peer))));
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let _ = match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(sock)).await {
                        Ok(Ok(s)) => http.serve_connection(TokioIo::new(s), svc).await,
                        _ => return,
                    }
                }
                None => http.serve_connection(TokioIo::new(sock), svc).await,
            };
        });
    }
}

/// Every route.
fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/static/webmail.css", get(css))
        .route("/static/webmail.js", get(js))
        .route("/mail", get(list))
        .route("/poll", get(poll))
        .route("/action", post(action))
        .route("/bulk", post(bulk))
        .route("/folders", get(folders_page).post(folders_action))
        .merge(super::view::routes())
        .merge(super::unsubscribe::routes())
        .merge(super::contacts::routes())
        .merge(super::autoreply::routes())
        .merge(super::password::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(ctx)
}

/// The headers every response gets (a handler may have set its own
/// Content-Security-Policy or framing rule first: the message body does).
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(PAGE_CSP));
    h.entry(X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// The logged-in user of a request (from the session cookie). A request
/// without a session goes to the log-in page (GET) or is refused (403).
#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) sid: String,
    pub(super) name: String,
    pub(super) csrf: String,
}

impl User {
    /// Whether a form's token is the session's (else the POST is refused,
    /// 403).
    pub(super) fn token_ok(&self, token: &str) -> bool {
        same_token(token, &self.csrf)
    }
}

impl FromRequestParts<Ctx> for User {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, Self::Rejection> {
        let found = session::cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|sid| ctx.app.sessions.get(&sid).map(|s| (sid, s)));
        match found {
            Some((sid, s)) => Ok(User {
                sid,
                name: s.user,
                csrf: s.csrf,
            }),
            None if parts.method == Method::GET => Err(redirect("/login")),
            None => Err(forbidden()),
        }
    }
}

/// A 303 to `to`.
pub(super) fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// 403, for a missing or wrong CSRF token or session.
pub(super) fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        html(pages::error(
            "Forbidden",
            "The form was not sent from this webmail's page (missing or stale token). Reload the page and try again.",
        )),
    )
        .into_response()
}

/// An HTML body.
pub(super) fn html(body: String) -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// The page for a store error.
pub(super) fn failure(e: WebError) -> Response {
    match e {
        WebError::NotFound => (
            StatusCode::NOT_FOUND,
            html(pages::error("Not found", "No such folder or message.")),
        )
            .into_response(),
        WebError::Refused(why) => {
            (StatusCode::BAD_REQUEST, html(pages::error("Refused", &why))).into_response()
        }
        WebError::Io(err) => {
            crate::driver::log(format!("webmail: store error: {err}"));
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                html(pages::error("Error", "The mail store failed; try again.")),
            )
                .into_response()
        }
    }
}

/// Runs blocking store work off the runtime's thread.
pub(super) async fn blocking<T, F>(f: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, WebError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failure(e)),
        Err(_) => Err(failure(WebError::Io(std::io::Error::other("task failed")))),
    }
}

/// The logged-in frame (the folders with their counts) around the main
/// part, which `main` makes knowing the folders.
pub(super) async fn frame_page(
    ctx: &Ctx,
    user: &User,
    current: Option<String>,
    title: &str,
    main: impl FnOnce(&[mailbox::FolderInfo]) -> String,
) -> Response {
    let app = ctx.app.clone();
    let name = user.name.clone();
    let folders = match blocking(move || mailbox::folders(&app.shared.store.mail, &name)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let frame = Frame {
        user: &user.name,
        csrf: &user.csrf,
        folders: &folders,
        current: current.as_deref(),
    };
    html(pages::page(title, &frame, &main(&folders)))
}

async fn root(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    let logged_in = session::cookie(&headers, SESSION_COOKIE)
        .is_some_and(|sid| ctx.app.sessions.get(&sid).is_some());
    redirect(if logged_in { "/mail" } else { "/login" })
}

async fn css() -> Response {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("static/webmail.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("static/webmail.js"),
    )
        .into_response()
}

/// The log-in page with a fresh double-submit token (cookie and form).
fn login_form(ctx: &Ctx, status: StatusCode, error: Option<&str>) -> Response {
    let Ok(tok) = session::token() else {
        return failure(WebError::Io(std::io::Error::other("no random token")));
    };
    let mut r = (status, html(pages::login(&tok, error))).into_response();
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(LOGIN_COOKIE, Some(&tok), ctx.secure))
    {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}

async fn login_page(State(ctx): State<Ctx>) -> Response {
    login_form(&ctx, StatusCode::OK, None)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// The account name typed: `name` or `name@local-domain`.
fn account_name(ctx: &Ctx, typed: &str) -> String {
    let typed = typed.trim().to_ascii_lowercase();
    match crate::store::split_addr(&typed) {
        Some((local, domain)) if ctx.app.shared.store.cfg.is_local_domain(domain) => {
            local.to_string()
        }
        _ => typed,
    }
}

/// Logs in with an account's password, slowed down after failures by the
/// server's auth guard (the same per-address count as SMTP AUTH, POP3
/// and IMAP).
async fn login(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let ok_token = session::cookie(&headers, LOGIN_COOKIE).is_some_and(|c| same_token(&c, &f.csrf));
    if !ok_token {
        return forbidden();
    }
    let name = account_name(&ctx, &f.user);
    match check_password(&ctx, peer, &name, f.password, "log-in").await {
        Ok(()) => {}
        Err(Denied::Blocked) => {
            return login_form(&ctx, StatusCode::TOO_MANY_REQUESTS, Some(BLOCKED));
        }
        Err(Denied::Wrong) => {
            return login_form(
                &ctx,
                StatusCode::UNAUTHORIZED,
                Some("Wrong user name or password."),
            );
        }
    }
    let sid = match ctx.app.sessions.open(&name) {
        Ok(s) => s,
        Err(e) => return failure(WebError::Io(std::io::Error::other(e))),
    };
    crate::driver::log(format!("webmail {peer}: {name} logged in"));
    let mut r = redirect("/mail");
    for c in [
        session::set_cookie(SESSION_COOKIE, Some(&sid), ctx.secure),
        session::set_cookie(LOGIN_COOKIE, None, ctx.secure),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(SET_COOKIE, v);
        }
    }
    r
}

/// What the page says to an address the AUTH guard blocks.
pub(super) const BLOCKED: &str = "Too many failed log-ins from your address; try again later.";

/// Why [`check_password`] said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Denied {
    /// The client's address is blocked for now (too many failures).
    Blocked,
    /// Not the password (answered after the guard's delay).
    Wrong,
}

/// Checks `password` of account `name` for a request from `peer` under
/// the AUTH guard that SMTP, POP3 and IMAP share: a blocked address is
/// refused before any check, a wrong password counts as a failure of the
/// address and is answered after the guard's delay (slept here), logged
/// as a failed `what` (a log-in, a password change).
pub(super) async fn check_password(
    ctx: &Ctx,
    peer: SocketAddr,
    name: &str,
    password: String,
    what: &str,
) -> Result<(), Denied> {
    let shared = ctx.app.shared.clone();
    let Ok(attempt) = shared.auth_guard.begin(peer.ip(), Instant::now()) else {
        return Err(Denied::Blocked);
    };
    let verified = {
        let (shared, name) = (shared.clone(), name.to_string());
        tokio::task::spawn_blocking(move || shared.accounts.verify(&name, &password))
            .await
            .unwrap_or(false)
    };
    if !verified {
        let action = shared.auth_guard.failed(attempt, 1);
        crate::driver::log(format!(
            "webmail {peer}: {what} as {name:?} failed (answered after {} ms)",
            action.delay.as_millis()
        ));
        tokio::time::sleep(action.delay).await;
        return Err(Denied::Wrong);
    }
    shared.auth_guard.succeeded(attempt);
    Ok(())
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(ctx): State<Ctx>, user: User, Form(f): Form<TokenForm>) -> Response {
    if !user.token_ok(&f.csrf) {
        return forbidden();
    }
    ctx.app.sessions.close(&user.sid);
    let mut r = redirect("/login");
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(SESSION_COOKIE, None, ctx.secure)) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Default, Deserialize)]
struct ListParams {
    f: Option<String>,
    sort: Option<String>,
    asc: Option<String>,
    q: Option<String>,
    #[serde(rename = "in")]
    field: Option<String>,
    page: Option<usize>,
}

/// A folder's message list.
async fn list(State(ctx): State<Ctx>, user: User, Query(p): Query<ListParams>) -> Response {
    let folder = p.f.unwrap_or_else(|| "INBOX".into());
    let q = ListQuery {
        sort: Sort::parse(p.sort.as_deref().unwrap_or("")),
        ascending: p.asc.is_some_and(|a| a == "1"),
        search: p.q.unwrap_or_default(),
        field: Field::parse(p.field.as_deref().unwrap_or("")),
        page: p.page.unwrap_or(0).min(1_000_000),
    };
    let app = ctx.app.clone();
    let (name, f, qq) = (user.name.clone(), folder.clone(), q.clone());
    let got = blocking(move || {
        let mail = &app.shared.store.mail;
        // The counter first: a change while the list is read makes the
        // next poll answer at once.
        let version = mail
            .folder(&name, &f)
            .map(|d| mail.watch(&d.dir).load(Ordering::SeqCst))?;
        Ok((version, mailbox::list(mail, &name, &f, &qq)?))
    })
    .await;
    let (version, listing) = match got {
        Ok(v) => v,
        Err(r) => return r,
    };
    let title = pages::folder_label(&folder);
    let csrf = user.csrf.clone();
    frame_page(&ctx, &user, Some(folder.clone()), &title, |folders| {
        pages::list(&folder, &q, &listing, version, folders, &csrf)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct PollParams {
    f: String,
    v: u64,
}

/// The long poll for new mail: answers `{"v": N}` as soon as the folder's
/// change counter (the store's notifications, as IMAP IDLE uses them)
/// differs from `v`, or after [`POLL_WAIT`] with the same value.
async fn poll(State(ctx): State<Ctx>, user: User, Query(p): Query<PollParams>) -> Response {
    let app = ctx.app.clone();
    let (name, f) = (user.name.clone(), p.f.clone());
    let watch = match blocking(move || {
        let mail = &app.shared.store.mail;
        Ok(mail.watch(&mail.folder(&name, &f)?.dir))
    })
    .await
    {
        Ok(w) => w,
        Err(r) => return r,
    };
    let deadline = Instant::now() + POLL_WAIT;
    let mut now = watch.load(Ordering::SeqCst);
    while now == p.v && Instant::now() < deadline {
        tokio::time::sleep(POLL_TICK).await;
        now = watch.load(Ordering::SeqCst);
    }
    (
        [(CONTENT_TYPE, "application/json")],
        serde_json::json!({ "v": now }).to_string(),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf: String,
    f: String,
    uid: u32,
    op: String,
    to: Option<String>,
}

/// The actions of the message view and the list: read, unread, flag,
/// unflag, move (to `to`) and delete (to Trash) on messages of folder `f`.
fn apply(
    shared: &Shared,
    user: &str,
    f: &str,
    uids: &[u32],
    op: &str,
    to: Option<&str>,
) -> Result<(), WebError> {
    let mail = &shared.store.mail;
    match op {
        "read" => mailbox::set_flag(mail, user, f, uids, SystemFlags::SEEN, true),
        "unread" => mailbox::set_flag(mail, user, f, uids, SystemFlags::SEEN, false),
        "flag" => mailbox::set_flag(mail, user, f, uids, SystemFlags::FLAGGED, true),
        "unflag" => mailbox::set_flag(mail, user, f, uids, SystemFlags::FLAGGED, false),
        "move" => {
            let to = to.ok_or_else(|| WebError::Refused("no folder to move to".into()))?;
            mailbox::move_to(shared, user, f, uids, to)
        }
        "delete" => mailbox::delete(shared, user, f, uids),
        _ => Err(WebError::Refused("unknown action".into())),
    }
}

/// One action on one message, from its view.
async fn action(State(ctx): State<Ctx>, user: User, Form(a): Form<ActionForm>) -> Response {
    if !user.token_ok(&a.csrf) {
        return forbidden();
    }
    let app = ctx.app.clone();
    let (name, f, op, to, uid) = (user.name.clone(), a.f.clone(), a.op.clone(), a.to, a.uid);
    let done = blocking(move || apply(&app.shared, &name, &f, &[uid], &op, to.as_deref())).await;
    match done {
        // Back to the message, or to its folder's list (for "unread":
        // the message page would mark it read again).
        Ok(()) if matches!(a.op.as_str(), "read" | "flag" | "unflag") => {
            redirect(&format!("/msg?f={}&uid={}", pages::url(&a.f), a.uid))
        }
        Ok(()) => redirect(&format!("/mail?f={}", pages::url(&a.f))),
        Err(r) => r,
    }
}

/// The most messages one list action takes (a page holds fewer).
const MAX_BULK: usize = 1000;

/// One action on the messages ticked in a folder's list (`u`, repeated),
/// then back to the list.
async fn bulk(
    State(ctx): State<Ctx>,
    user: User,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if !user.token_ok(&get("csrf").unwrap_or_default()) {
        return forbidden();
    }
    let Some(f) = get("f") else {
        return failure(WebError::Refused("no folder".into()));
    };
    let uids: Vec<u32> = pairs
        .iter()
        .filter(|(n, _)| n == "u")
        .filter_map(|(_, v)| v.parse().ok())
        .take(MAX_BULK)
        .collect();
    let back = format!("/mail?f={}", pages::url(&f));
    if uids.is_empty() {
        return redirect(&back);
    }
    let (app, name, op, to) = (ctx.app.clone(), user.name.clone(), get("op"), get("to"));
    let done = blocking(move || {
        apply(
            &app.shared,
            &name,
            &f,
            &uids,
            op.as_deref().unwrap_or(""),
            to.as_deref(),
        )
    })
    .await;
    match done {
        Ok(()) => redirect(&back),
        Err(r) => r,
    }
}

/// The folder management page: create, rename and delete folders.
async fn folders_page(State(ctx): State<Ctx>, user: User) -> Response {
    let (app, name) = (ctx.app.clone(), user.name.clone());
    let used = match blocking(move || Ok(app.shared.store.mail.usage(&name)?)).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let storage = pages::usage(used, &ctx.app.shared.store.quota_limits(&user.name));
    let csrf = user.csrf.clone();
    frame_page(&ctx, &user, None, "Folders", |folders| {
        pages::folders(folders, &csrf, &storage)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct FolderForm {
    #[serde(default)]
    csrf: String,
    op: String,
    /// The folder acted on (stored name), or the new one's name as typed.
    name: String,
    /// The new name as typed (rename).
    to: Option<String>,
}

/// Creates, renames or deletes a folder, then back to the folder page.
async fn folders_action(State(ctx): State<Ctx>, user: User, Form(a): Form<FolderForm>) -> Response {
    if !user.token_ok(&a.csrf) {
        return forbidden();
    }
    let (app, name) = (ctx.app.clone(), user.name.clone());
    let done = blocking(move || {
        let mail = &app.shared.store.mail;
        match a.op.as_str() {
            "create" => mailbox::create_folder(mail, &name, &a.name).map(drop),
            "rename" => {
                let to = a.to.as_deref().unwrap_or("");
                mailbox::rename_folder(mail, &name, &a.name, to).map(drop)
            }
            "delete" => mailbox::delete_folder(mail, &name, &a.name),
            _ => Err(WebError::Refused("unknown action".into())),
        }
    })
    .await;
    match done {
        Ok(()) => redirect("/folders"),
        Err(r) => r,
    }
}

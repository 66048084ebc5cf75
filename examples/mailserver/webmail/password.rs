//! The password page: a user changes their own password (the current one
//! asked again, the new one twice). The new keys are written by
//! [`crate::accounts::Accounts::change_password`] (`DATA/passwords`,
//! in force at once for SMTP, POP3, IMAP and the webmail); every webmail
//! session of the account ends, and the browser that changed it gets a
//! new one. A wrong current password counts as a failed log-in of the
//! address (the same guard, delays and blocks).

use std::net::SocketAddr;

use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::http::{BLOCKED, Ctx, Denied, User, check_password, forbidden, frame_page, redirect};
use super::pages::csrf_field;
use super::session::{self, SESSION_COOKIE};

/// The shortest new password taken (characters).
const MIN_LEN: usize = 8;
/// The longest (bytes).
const MAX_LEN: usize = 200;

/// The routes of this module.
pub(super) fn routes() -> Router<Ctx> {
    Router::new().route("/password", get(page).post(change))
}

/// The form, with a line saying what happened last (`note`: escaped
/// here).
fn page_html(csrf: &str, note: Option<&str>) -> String {
    let note = note.map_or(String::new(), |n| {
        format!(
            r#"<p class="note" id="password-note">{}</p>"#,
            super::pages::esc(n)
        )
    });
    format!(
        r#"<section id="password"><h1>Password</h1>{note}
<form method="post" action="/password" class="settings">{}
<p><label for="current">Current password</label> <input type="password" id="current" name="current" required autocomplete="current-password" maxlength="{MAX_LEN}"></p>
<p><label for="new">New password</label> <input type="password" id="new" name="new" required autocomplete="new-password" minlength="{MIN_LEN}" maxlength="{MAX_LEN}"></p>
<p><label for="repeat">New password again</label> <input type="password" id="repeat" name="repeat" required autocomplete="new-password" minlength="{MIN_LEN}" maxlength="{MAX_LEN}"></p>
<p><button type="submit">Change password</button></p>
</form>
<p class="hint">At least {MIN_LEN} characters. Mail programs need the new password at once; other browsers are logged out.</p></section>"#,
        csrf_field(csrf)
    )
}

#[derive(Debug, Deserialize)]
struct Done {
    done: Option<String>,
}

async fn page(State(ctx): State<Ctx>, user: User, Query(q): Query<Done>) -> Response {
    let csrf = user.csrf.clone();
    let note = q.done.map(|_| "Your password was changed.");
    frame_page(&ctx, &user, None, "Password", move |_| {
        page_html(&csrf, note)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// What is wrong with a new password, if anything.
fn refusal(new: &str, repeat: &str) -> Option<&'static str> {
    if new != repeat {
        Some("The new password and its repetition differ.")
    } else if new.chars().count() < MIN_LEN {
        Some("The new password is too short.")
    } else if new.len() > MAX_LEN {
        Some("The new password is too long.")
    } else {
        None
    }
}

async fn change(
    State(ctx): State<Ctx>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    user: User,
    Form(f): Form<PasswordForm>,
) -> Response {
    if !user.token_ok(&f.csrf) {
        return forbidden();
    }
    let again = |status: StatusCode, why: &'static str| {
        let (ctx, user) = (ctx.clone(), user.clone());
        async move {
            let csrf = user.csrf.clone();
            let mut r = frame_page(&ctx, &user, None, "Password", move |_| {
                page_html(&csrf, Some(why))
            })
            .await;
            *r.status_mut() = status;
            r
        }
    };
    if let Some(why) = refusal(&f.new, &f.repeat) {
        return again(StatusCode::BAD_REQUEST, why).await;
    }
    match check_password(&ctx, peer, &user.name, f.current, "password change").await {
        Ok(()) => {}
        Err(Denied::Blocked) => return again(StatusCode::TOO_MANY_REQUESTS, BLOCKED).await,
        Err(Denied::Wrong) => {
            return again(StatusCode::UNAUTHORIZED, "The current password is wrong.").await;
        }
    }
    let shared = ctx.app.shared.clone();
    let (name, new) = (user.name.clone(), f.new);
    let changed = tokio::task::spawn_blocking(move || shared.accounts.change_password(&name, &new))
        .await
        .unwrap_or_else(|_| Err("task failed".into()));
    if let Err(e) = changed {
        crate::driver::log(format!("webmail {}: password not changed: {e}", user.name));
        return again(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The password could not be changed; it is the old one still.",
        )
        .await;
    }
    crate::driver::log(format!(
        "webmail {peer}: {} changed their password",
        user.name
    ));
    // Every session of the account ends; this browser gets a new one.
    ctx.app.sessions.close_user(&user.name);
    let mut r = redirect("/password?done=1");
    if let Ok(sid) = ctx.app.sessions.open(&user.name)
        && let Ok(v) =
            HeaderValue::from_str(&session::set_cookie(SESSION_COOKIE, Some(&sid), ctx.secure))
    {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_refused() {
        assert!(refusal("long enough", "long enough").is_none());
        assert!(refusal("long enough", "long enougH").is_some());
        assert!(refusal("short", "short").is_some());
        assert!(
            refusal("ëëëëëëëë", "ëëëëëëëë").is_none(),
            "characters, not bytes"
        );
        let long = "x".repeat(MAX_LEN + 1);
        assert!(refusal(&long, &long).is_some());
    }

    #[test]
    fn page_escapes_its_note() {
        let p = page_html("tok", Some("<b>x</b>"));
        assert!(p.contains("&lt;b&gt;x&lt;/b&gt;") && !p.contains("<b>x"));
        assert!(p.contains(r#"name="csrf" value="tok""#));
        assert!(!page_html("tok", None).contains("password-note"));
    }
}

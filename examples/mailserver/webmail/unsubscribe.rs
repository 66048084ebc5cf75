//! One-click unsubscription from the lists (RFC 8058; its text is not in
//! `shared/rfc`, sections as in the published RFC): the URL of a member's
//! `List-Unsubscribe` field, `/unsubscribe/TOKEN` ([`crate::list`] makes
//! and checks the token).
//!
//! - `POST` with the form field `List-Unsubscribe=One-Click` (§3.2;
//!   `application/x-www-form-urlencoded` or `multipart/form-data`) removes
//!   the member: no cookie, no CSRF token (the mail reader's POST carries
//!   neither; the token itself is the authorization). 200 with a short
//!   page, also when the member was already gone.
//! - `GET` changes nothing (§3.1: link scanners and prefetchers fetch the
//!   URL): a page with a button that makes the POST.
//! - A token that does not check, or names a list that does not exist:
//!   404, nothing changed; a POST without the field: 400.

use axum::Router;
use axum::extract::{FromRequest as _, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::http::{Ctx, html};
use super::pages::{self, esc};
use crate::list::ListConf;

/// The routes of this module.
pub(super) fn routes() -> Router<Ctx> {
    Router::new().route("/unsubscribe/{token}", get(confirm_page).post(one_click))
}

/// The list (address and configuration) and member a token names.
fn target(ctx: &Ctx, token: &str) -> Option<(String, ListConf, String)> {
    let shared = &ctx.app.shared;
    let (list, member) = crate::list::check_one_click(&shared.srs, token)?;
    let conf = shared.store.routing().lists.get(&list)?.clone();
    Some((list, conf, member))
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        html(pages::error(
            "Not found",
            "This unsubscribe link is not valid.",
        )),
    )
        .into_response()
}

/// A page with a heading and a paragraph, then `extra` (HTML).
fn page(title: &str, text: &str, extra: &str) -> Response {
    html(format!(
        "{}<body><main><h1>{}</h1><p>{}</p>{extra}</main></body></html>\n",
        pages::head(title),
        esc(title),
        esc(text)
    ))
}

async fn confirm_page(State(ctx): State<Ctx>, Path(token): Path<String>) -> Response {
    let Some((list, _, member)) = target(&ctx, &token) else {
        return not_found();
    };
    page(
        "Unsubscribe",
        &format!("Stop sending the list {list} to {member}?"),
        &format!(
            r#"<form method="post" action="/unsubscribe/{}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><p><button type="submit" class="primary">Unsubscribe</button></p></form>"#,
            esc(&token)
        ),
    )
}

#[derive(Debug, Deserialize)]
struct OneClickForm {
    #[serde(rename = "List-Unsubscribe")]
    value: String,
}

/// The value of the form field `List-Unsubscribe`, in either form
/// encoding (§3.2).
async fn field_value(req: Request, ctx: &Ctx) -> Option<String> {
    let multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        let axum::Form(f) = axum::Form::<OneClickForm>::from_request(req, ctx)
            .await
            .ok()?;
        return Some(f.value);
    }
    let mut m = Multipart::from_request(req, ctx).await.ok()?;
    while let Ok(Some(field)) = m.next_field().await {
        if field.name() == Some("List-Unsubscribe") {
            return field.text().await.ok();
        }
    }
    None
}

async fn one_click(State(ctx): State<Ctx>, Path(token): Path<String>, req: Request) -> Response {
    let Some((list, conf, member)) = target(&ctx, &token) else {
        return not_found();
    };
    if field_value(req, &ctx).await.as_deref() != Some("One-Click") {
        return (
            StatusCode::BAD_REQUEST,
            html(pages::error(
                "Bad request",
                "The form must carry List-Unsubscribe=One-Click.",
            )),
        )
            .into_response();
    }
    let who = member.clone();
    let done =
        tokio::task::spawn_blocking(move || crate::list::set_member(&conf, &who, false)).await;
    match done {
        Ok(Ok(removed)) => {
            crate::driver::log(format!(
                "list {list}: <{member}> {} by one-click (RFC 8058)",
                if removed {
                    "unsubscribed"
                } else {
                    "already unsubscribed"
                }
            ));
            page(
                "Unsubscribed",
                &format!("{member} no longer receives the list {list}."),
                "",
            )
        }
        Ok(Err(e)) => super::http::failure(super::mailbox::WebError::Io(e)),
        Err(_) => super::http::failure(super::mailbox::WebError::Io(std::io::Error::other(
            "task failed",
        ))),
    }
}

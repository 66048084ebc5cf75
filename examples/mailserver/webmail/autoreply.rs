//! The vacation auto-reply page: the account's `vacation.toml` (see
//! [`crate::vacation`], which answers after each delivery) shown as a form
//! and written back, or removed when the reply is turned off. A form that
//! delivery would not take (no text, a bad day, a subject of two lines) is
//! refused with the reason, and the file stays as it was.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::http::{Ctx, User, blocking, forbidden, frame_page, redirect};
use super::mailbox::WebError;
use super::pages::{csrf_field, esc};
use crate::vacation::FileForm;

/// The longest subject taken (characters).
const MAX_SUBJECT: usize = 200;
/// The longest text taken (bytes).
const MAX_TEXT: usize = 16 * 1024;

/// The routes of this module.
pub(super) fn routes() -> Router<Ctx> {
    Router::new().route("/vacation", get(page).post(action))
}

/// The form: on or off, subject, first and last day, text.
fn page_html(current: Option<&FileForm>, csrf: &str) -> String {
    let f = current.cloned().unwrap_or_default();
    let on = if current.is_some() { " checked" } else { "" };
    let opt = |v: &Option<String>| esc(v.as_deref().unwrap_or(""));
    format!(
        r#"<section id="vacation"><h1>Vacation reply</h1>
<form method="post" action="/vacation" class="settings">{csrf}
<p><label><input type="checkbox" id="vacation-on" name="on" value="1"{on}> Answer mail automatically</label></p>
<p><label for="vacation-subject">Subject</label> <input id="vacation-subject" name="subject" value="{subject}" maxlength="{MAX_SUBJECT}" placeholder="Auto: their subject"></p>
<p><label for="vacation-start">From</label> <input type="date" id="vacation-start" name="start" value="{start}">
<label for="vacation-end">until</label> <input type="date" id="vacation-end" name="end" value="{end}"> <span class="hint">(days in UTC, both included; empty: from now, no end)</span></p>
<p><label for="vacation-text">Text</label><br><textarea id="vacation-text" name="text" rows="8" cols="72" maxlength="{MAX_TEXT}">{text}</textarea></p>
<p><button type="submit">Save</button></p>
</form>
<p class="hint">Each sender gets the reply at most once a week; mailing lists, bulk and automatic mail get none.</p></section>"#,
        csrf = csrf_field(csrf),
        subject = opt(&f.subject),
        start = opt(&f.start),
        end = opt(&f.end),
        text = esc(&f.text),
    )
}

async fn page(State(ctx): State<Ctx>, user: User) -> Response {
    let dir = ctx.app.shared.store.maildirs.dir(&user.name);
    let current = match blocking(move || Ok(FileForm::load(&dir)?)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let csrf = user.csrf.clone();
    frame_page(&ctx, &user, None, "Vacation reply", move |_| {
        page_html(current.as_ref(), &csrf)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct VacationForm {
    #[serde(default)]
    csrf: String,
    /// Present (`1`) when the reply is on.
    #[serde(default)]
    on: Option<String>,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    text: String,
}

/// The settings a submitted form asks for: none when turned off; empty
/// fields left out; line ends as the file keeps them (LF).
fn settings(a: VacationForm) -> Result<Option<FileForm>, WebError> {
    if a.on.is_none() {
        return Ok(None);
    }
    if a.subject.chars().count() > MAX_SUBJECT || a.text.len() > MAX_TEXT {
        return Err(WebError::Refused(
            "The subject or the text is too long.".into(),
        ));
    }
    let given = |s: String| {
        let s = s.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    Ok(Some(FileForm {
        subject: given(a.subject),
        start: given(a.start),
        end: given(a.end),
        text: a.text.replace("\r\n", "\n"),
    }))
}

/// Saves (or removes) the settings, then back to the page.
async fn action(State(ctx): State<Ctx>, user: User, Form(a): Form<VacationForm>) -> Response {
    if !user.token_ok(&a.csrf) {
        return forbidden();
    }
    let dir = ctx.app.shared.store.maildirs.dir(&user.name);
    let done = blocking(move || {
        let form = settings(a)?;
        FileForm::save(&dir, form.as_ref())?
            .map_err(|why| WebError::Refused(format!("Not saved: {why}.")))
    })
    .await;
    match done {
        Ok(()) => redirect("/vacation"),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(on: bool, subject: &str, text: &str) -> VacationForm {
        VacationForm {
            csrf: String::new(),
            on: on.then(|| "1".to_string()),
            subject: subject.into(),
            start: " 2026-12-20 ".into(),
            end: String::new(),
            text: text.into(),
        }
    }

    #[test]
    fn settings_from_the_form() {
        assert_eq!(settings(form(false, "x", "y")).unwrap(), None);
        let s = settings(form(true, "", "Away.\r\nBack soon.\r\n"))
            .unwrap()
            .unwrap();
        assert_eq!(
            s,
            FileForm {
                subject: None,
                start: Some("2026-12-20".into()),
                end: None,
                text: "Away.\nBack soon.\n".into(),
            }
        );
        assert!(settings(form(true, &"s".repeat(MAX_SUBJECT + 1), "t")).is_err());
    }

    /// The saved values are shown escaped; the switch shows the state.
    #[test]
    fn page_shows_the_settings_escaped() {
        let f = FileForm {
            subject: Some("\"><script>x</script>".into()),
            start: None,
            end: Some("2027-01-06".into()),
            text: "</textarea><b>hi</b>".into(),
        };
        let page = page_html(Some(&f), "tok");
        assert!(page.contains(r#"name="on" value="1" checked"#), "{page}");
        assert!(
            page.contains("&lt;/textarea&gt;&lt;b&gt;hi&lt;/b&gt;</textarea>"),
            "{page}"
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains(r#"value="2027-01-06""#), "{page}");
        assert!(page.contains(r#"name="csrf" value="tok""#), "{page}");
        assert!(!page_html(None, "tok").contains("checked"));
    }
}

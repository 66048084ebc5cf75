//! The message view, the message body frame, attachments and compose
//! (the pages over `render` and `compose`).

use axum::Router;

use super::http::Ctx;

/// The routes of this module.
pub(super) fn routes() -> Router<Ctx> {
    Router::new()
}

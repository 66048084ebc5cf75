//! The webmail: the mailboxes of the store over HTTP (and HTTPS with the
//! server's certificate), for a web browser.
//!
//! - [`http`]: the routes (axum on a tokio runtime of its own, on one
//!   thread; the store is blocking, so every store access runs in
//!   `spawn_blocking`), the security headers, the long poll that shows new
//!   mail without a reload.
//! - [`session`]: log-in sessions (a random id in an HttpOnly,
//!   SameSite=Strict cookie, Secure under HTTPS) and their CSRF tokens.
//! - [`mailbox`]: what the pages do to the store: folders with unread
//!   counts, message lists sorted and searched by the IMAP server kit,
//!   flags, move, delete to Trash, Sent and Drafts copies, and submission
//!   through the server's own queue.
//! - [`pages`]: the HTML (plain HTML and CSS, one small script);
//!   [`view`]: the message view, its body frame, attachments, compose.
//! - [`checks`]: the server's own DKIM, SPF and DMARC results of a
//!   message (its `Authentication-Results` field), shown in the message
//!   view.
//! - [`contacts`]: the address book (a file per account), its page, the
//!   compose form's suggestions, the recipients of sent mail collected.
//! - [`autoreply`]: the vacation reply's page (the account's
//!   `vacation.toml`, which delivery answers with).
//! - [`password`]: the user's own password change (in force at once for
//!   every protocol; the account's other webmail sessions end).
//! - [`unsubscribe`]: the lists' one-click unsubscribe URL (RFC 8058),
//!   the one POST without a session or CSRF token.
//! - The HTTP-free parts: a stored message rendered for the browser with
//!   its HTML made safe ([`render`], [`sanitize`]), and replies, forwards
//!   and new messages built for submission ([`compose`]).

mod autoreply;
mod checks;
pub(crate) mod compose;
mod contacts;
mod http;
mod mailbox;
mod pages;
mod password;
pub(crate) mod render;
pub(crate) mod sanitize;
mod session;
mod unsubscribe;
mod view;

pub(crate) use http::start;

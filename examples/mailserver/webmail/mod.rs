//! The webmail's HTTP-free parts: a stored message rendered for the
//! browser with its HTML made safe ([`render`], [`sanitize`]), and
//! replies, forwards and new messages built for submission ([`compose`]).
//!
//! What the HTTP side must add for the guarantees to hold:
//!
//! - show [`render::Body::Text`] through [`render::text_to_html`] (or
//!   [`render::escape_html`]), and [`render::Body::Html`] as it is,
//!   inside a box that clips it (`overflow:hidden`);
//! - serve a part ([`render::part`]) inline only when
//!   [`render::Part::inline_image`] says so (the `cid:` images), every
//!   other part with [`render::content_disposition`] as
//!   `Content-Disposition`, and always with `X-Content-Type-Options:
//!   nosniff`: an HTML or SVG part served inline would run in the
//!   webmail's origin;
//! - send a Content-Security-Policy as defence in depth (`img-src 'self'
//!   data:`, plus `https: http:` only on a page where the user asked for
//!   remote images; no inline script);
//! - submit [`compose::build`]'s output to [`compose::envelope`]'s
//!   recipients, and keep [`compose::build_draft`]'s (which keeps Bcc) in
//!   Sent and Drafts.

// Until the HTTP side of the webmail (branch webmail-http) calls these
// modules only their tests do; that branch removes this allow when it
// merges this one.
#![allow(dead_code)]

pub(crate) mod compose;
pub(crate) mod render;
pub(crate) mod sanitize;

//! The webmail's HTTP-free parts: a stored message rendered for the
//! browser with its HTML made safe ([`render`], [`sanitize`]), and
//! replies, forwards and new messages built for submission ([`compose`]).

// Until the HTTP side of the webmail (branch webmail-http) calls these
// modules only their tests do; that branch removes this allow when it
// merges this one.
#![allow(dead_code)]

pub(crate) mod compose;
pub(crate) mod render;
pub(crate) mod sanitize;

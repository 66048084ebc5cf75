//! # mailwire-smtp
//!
//! SMTP (RFC 5321) and its extensions, sans-IO.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod client;
mod encode;
mod error;
mod parse;
pub mod server;
mod timer;
mod types;

pub use error::ConnectionError;
pub use parse::{FrameError, ParseError, Status, parse_command, parse_reply, reply_frame};
pub use types::*;

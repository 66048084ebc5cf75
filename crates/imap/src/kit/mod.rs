//! The server kit: pure functions over mailwire-mime (no I/O) that answer
//! FETCH (and SEARCH) from a stored message.
//!
//! ```text
//!  stored bytes ──► Message::parse (once) ──► envelope(), body_structure(),
//!                                             section(), binary(), ...
//!                                               └─► FetchItem values for the encoder
//! ```

mod message;

pub use message::{Message, Options};

pub mod mailbox;
pub mod search;
pub mod sort;
pub mod thread;

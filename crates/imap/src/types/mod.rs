//! The typed values of the IMAP grammar. Every value that can be built can be
//! serialized, and the serializer never emits what the parser would reject.

pub mod body;
pub mod command;
pub mod core;
pub mod fetch;
pub mod flag;
pub mod mailbox;
pub mod response;
pub mod search;
pub mod secret;
pub mod sequence;

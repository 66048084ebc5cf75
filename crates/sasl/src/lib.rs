//! SASL (RFC 4422) mechanisms as sans-IO step machines, client and server
//! side, for SMTP AUTH (RFC 4954), POP3 AUTH (RFC 5034) and IMAP
//! AUTHENTICATE (RFC 3501 §6.2.2, RFC 4959).
//!
//! No I/O, no clock, no randomness: bytes go in, bytes come out, and the
//! nonces come from the caller. The protocol crates carry the messages as
//! base64 lines with the helpers in [`framing`].
//!
//! ```text
//!  protocol crate                    mailwire-sasl
//!  AUTH line  --base64 decode-->  Server::start / Server::step  --> ServerStep
//!  334 line   <--base64 encode--  ServerStep::Challenge
//!  app        <--- ServerStep::Need* ---  (password, SCRAM keys, token, EXTERNAL)
//!  app        ---- provide_* / accept_* / reject --->  ServerStep
//! ```
//!
//! | Mechanism | Spec | Client | Server asks the application for |
//! |---|---|---|---|
//! | `SCRAM-SHA-256` | RFC 7677 | [`Client::scram_sha256`] | [`ServerStep::NeedScramCredentials`] |
//! | `SCRAM-SHA-1` | RFC 5802 | [`Client::scram_sha1`] | [`ServerStep::NeedScramCredentials`] |
//! | `CRAM-MD5` | RFC 2195 | [`Client::cram_md5`] | [`ServerStep::NeedPassword`] |
//! | `OAUTHBEARER` | RFC 7628 | [`Client::oauthbearer`] | [`ServerStep::NeedVerifyToken`] |
//! | `XOAUTH2` | Google/Microsoft | [`Client::xoauth2`] | [`ServerStep::NeedVerifyToken`] |
//! | `PLAIN` | RFC 4616 | [`Client::plain`] | [`ServerStep::NeedPassword`] |
//! | `LOGIN` | draft-murchison-sasl-login | [`Client::login`] | [`ServerStep::NeedPassword`] |
//! | `EXTERNAL` | RFC 4422 app. A | [`Client::external`] | [`ServerStep::NeedExternal`] |
//!
//! SCRAM user names and passwords go through SASLprep (RFC 4013) on both
//! sides; a string SASLprep refuses is used unchanged (as PostgreSQL does)
//! rather than failing. SCRAM runs without channel binding: clients send `n,,`; servers accept
//! `n` and `y` and refuse `p=` (no `-PLUS` mechanisms).
//!
//! Secrets (passwords, tokens, SCRAM keys) travel in [`Secret`], which
//! redacts `Debug` and is wiped on drop; proofs, digests and passwords are
//! compared in constant time.
//!
//! # Security notes
//!
//! * PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER send a reusable secret: offer
//!   and use them only over TLS ([`Mechanism::sends_secret_in_clear`]).
//! * The server never hands the client's password to the application
//!   unless asked to ([`Server::check_password`]); errors and
//!   [`FailureReason`] carry no client data, and `Debug` output of every
//!   type here redacts secrets.
//! * SCRAM clients refuse a success that lacks a valid server signature
//!   ([`Client::finish`]) and bound the server's iteration count, so a
//!   hostile server cannot burn the client's CPU.
//! * SCRAM servers should answer unknown users with plausible fake
//!   credentials rather than [`Server::reject`], so the exchange does not
//!   reveal which users exist (see [`ServerStep::NeedScramCredentials`]).
//! * Byte strings that may hold secrets (a base64-decoded client line, a
//!   PLAIN message) are wiped after use inside this crate; the bytes the
//!   client returns for sending are the caller's to wipe.
//! * Every client message is bounded ([`ServerOptions::max_response_len`]),
//!   and malformed input ends in a typed [`FailureReason`], never a panic
//!   (property tests and a fuzz target per server mechanism check this).
//!
//! # Example: a SCRAM-SHA-256 client talking to its server in memory
//!
//! ```
//! use core::num::NonZeroU32;
//! use mailwire_sasl::*;
//!
//! // The client picks a mechanism from what the server offers.
//! let creds = Credentials::password("user", Secret::from("pencil"));
//! let mech = choose(&["PLAIN", "SCRAM-SHA-256"], &creds.mechanisms()).unwrap();
//! assert_eq!(mech, Mechanism::ScramSha256);
//! // Nonces come from the caller's random source.
//! let mut client = Client::new(mech, &creds, "rOprNGfwEbeRWgbNEkqO").unwrap();
//! let mut server = Server::new(mech, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", ServerOptions::default()).unwrap();
//!
//! // The server's user database holds derived keys, not the password.
//! let stored = ScramCredentials::derive(
//!     ScramHash::Sha256, "pencil", b"a random salt", NonZeroU32::new(4096).unwrap(),
//! ).unwrap();
//!
//! // AUTH SCRAM-SHA-256 <initial response>
//! let mut step = server.start(client.initial_response().as_deref());
//! loop {
//!     step = match step {
//!         ServerStep::Challenge(c) => server.step(&client.step(&c).unwrap()),
//!         ServerStep::NeedScramCredentials { authcid, .. } => {
//!             assert_eq!(authcid, "user");
//!             server.provide_scram_credentials(stored.clone()).unwrap()
//!         }
//!         ServerStep::Success { authcid, additional_data, .. } => {
//!             assert_eq!(authcid, "user");
//!             // The client checks the server's signature before trusting it.
//!             client.finish(additional_data.as_deref()).unwrap();
//!             break;
//!         }
//!         other => panic!("unexpected {other:?}"),
//!     };
//! }
//! assert!(client.is_complete());
//! ```
#![deny(missing_docs)]

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod check;
mod client;
pub mod framing;
mod mechanism;
mod saslprep;
mod scram;
mod secret;
mod server;

pub use check::{PendingCheck, Verdict};
pub use client::{
    Client, ClientError, Credentials, DEFAULT_MAX_ITERATIONS, DEFAULT_MIN_ITERATIONS,
};
pub use mechanism::{Mechanism, UnknownMechanism, choose};
pub use scram::{CredentialsError, ScramCredentials, ScramHash};
pub use secret::Secret;
pub use server::{
    AnswerError, AnswerErrorKind, FailureReason, Server, ServerNewError, ServerOptions, ServerStep,
};

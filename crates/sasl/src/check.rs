//! The credential check a protocol server machine holds while its
//! application looks the user up: a password the client sent as it is
//! (IMAP `LOGIN`, POP3 `USER`/`PASS`), a POP3 `APOP` digest, or a SASL
//! exchange waiting for the user's password or SCRAM keys. The IMAP and
//! POP3 server machines keep one while their `Authenticate` event is
//! unanswered, and answer it through the three methods here, so both judge
//! credentials alike.
//!
//! ```
//! use mailwire_sasl::{PendingCheck, Secret, Verdict};
//!
//! let check = PendingCheck::Password(Secret::from("pencil"));
//! assert!(check.takes_password() && check.takes_verifier() && !check.takes_scram());
//! let stored = Some(Secret::from("pencil"));
//! assert!(matches!(check.with_password(stored), Verdict::Accepted));
//! ```

use md5::{Digest as _, Md5};

use crate::{Mechanism, ScramCredentials, Secret, Server, ServerStep};

/// A credential check waiting for the application's answer.
#[derive(Debug)]
pub enum PendingCheck {
    /// The password the client sent in the clear (IMAP `LOGIN`, POP3
    /// `PASS`).
    Password(Secret<String>),
    /// A POP3 `APOP` digest (RFC 1939 §7): the MD5 of the greeting's
    /// timestamp followed by the password.
    Apop {
        /// The timestamp of the greeting, angle brackets included.
        timestamp: String,
        /// The digest the client sent.
        digest: [u8; 16],
    },
    /// A SASL exchange that asked for the password
    /// ([`ServerStep::NeedPassword`]) or the SCRAM keys
    /// ([`ServerStep::NeedScramCredentials`]).
    Sasl(Box<Server>),
}

/// How an answered [`PendingCheck`] ends.
#[derive(Debug)]
pub enum Verdict {
    /// The client's password was right.
    Accepted,
    /// An unknown user, a wrong password, or an answer the exchange cannot
    /// use.
    Rejected,
    /// The SASL exchange goes on with (or ends in) this step; the server
    /// machine handles it as any other step of the exchange.
    Step(Box<Server>, ServerStep),
}

impl Verdict {
    fn of(ok: bool) -> Verdict {
        if ok {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        }
    }
}

fn is_scram(m: Mechanism) -> bool {
    matches!(m, Mechanism::ScramSha1 | Mechanism::ScramSha256)
}

impl PendingCheck {
    /// Whether [`PendingCheck::with_password`] answers it: all but SCRAM,
    /// which needs stored keys.
    pub fn takes_password(&self) -> bool {
        !self.takes_scram()
    }

    /// Whether [`PendingCheck::with_verifier`] answers it: a password the
    /// client sent, or SASL `PLAIN` or `LOGIN` (APOP, CRAM-MD5 and SCRAM
    /// never show the password).
    pub fn takes_verifier(&self) -> bool {
        match self {
            Self::Password(_) => true,
            Self::Apop { .. } => false,
            Self::Sasl(s) => matches!(s.mechanism(), Mechanism::Plain | Mechanism::Login),
        }
    }

    /// Whether [`PendingCheck::with_scram`] answers it: SASL `SCRAM-*`.
    pub fn takes_scram(&self) -> bool {
        matches!(self, Self::Sasl(s) if is_scram(s.mechanism()))
    }

    /// Answers with the user's password (`None`: no such user). A password
    /// the client sent, or the APOP digest, is compared in constant time; a
    /// SASL exchange compares or computes its digest itself.
    pub fn with_password(self, stored: Option<Secret<String>>) -> Verdict {
        let Some(stored) = stored else {
            return Verdict::Rejected;
        };
        match self {
            Self::Password(given) => Verdict::of(given.ct_eq(stored.expose().as_bytes())),
            Self::Apop { timestamp, digest } => {
                let mut h = Md5::new();
                h.update(timestamp.as_bytes());
                h.update(stored.expose().as_bytes());
                let expected: [u8; 16] = h.finalize().into();
                Verdict::of(Secret::new(expected.to_vec()).ct_eq(&digest))
            }
            Self::Sasl(sasl) => step(sasl, |s| s.provide_password(stored).ok()),
        }
    }

    /// Answers by letting `verify` judge the client's password (e.g.
    /// against a stored hash).
    pub fn with_verifier<F>(self, verify: F) -> Verdict
    where
        F: FnOnce(&Secret<String>) -> bool,
    {
        match self {
            Self::Password(given) => Verdict::of(verify(&given)),
            Self::Apop { .. } => Verdict::Rejected,
            Self::Sasl(sasl) => step(sasl, |s| s.check_password(verify).ok()),
        }
    }

    /// Answers a SCRAM exchange with the user's stored keys (`None`: no
    /// such user).
    pub fn with_scram(self, credentials: Option<ScramCredentials>) -> Verdict {
        match (self, credentials) {
            (Self::Sasl(sasl), Some(c)) => step(sasl, |s| s.provide_scram_credentials(c).ok()),
            _ => Verdict::Rejected,
        }
    }
}

/// The step `answer` gets from the exchange, or [`Verdict::Rejected`] when
/// the exchange refused the answer.
fn step(mut sasl: Box<Server>, answer: impl FnOnce(&mut Server) -> Option<ServerStep>) -> Verdict {
    match answer(&mut sasl) {
        Some(s) => Verdict::Step(sasl, s),
        None => Verdict::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FailureReason, ServerOptions};

    fn plain_waiting(user: &str, pass: &str) -> PendingCheck {
        let mut s = Server::new(Mechanism::Plain, "n", ServerOptions::default()).unwrap();
        let msg = format!("\0{user}\0{pass}");
        assert!(matches!(
            s.start(Some(msg.as_bytes())),
            ServerStep::NeedPassword { .. }
        ));
        PendingCheck::Sasl(Box::new(s))
    }

    #[test]
    fn password_sent_in_the_clear() {
        let c = || PendingCheck::Password(Secret::from("pencil"));
        assert!(matches!(
            c().with_password(Some(Secret::from("pencil"))),
            Verdict::Accepted
        ));
        assert!(matches!(
            c().with_password(Some(Secret::from("pen"))),
            Verdict::Rejected
        ));
        assert!(matches!(c().with_password(None), Verdict::Rejected));
        assert!(matches!(
            c().with_verifier(|p| p.expose() == "pencil"),
            Verdict::Accepted
        ));
        assert!(matches!(c().with_verifier(|_| false), Verdict::Rejected));
        assert!(matches!(c().with_scram(None), Verdict::Rejected));
    }

    /// RFC 1939 §7's example: the digest of the timestamp and `tanstaaf`.
    #[test]
    fn rfc1939_7_apop_digest() {
        let digest: [u8; 16] = [
            0xc4, 0xc9, 0x33, 0x4b, 0xac, 0x56, 0x0e, 0xcc, 0x97, 0x9e, 0x58, 0x00, 0x1b, 0x3e,
            0x22, 0xfb,
        ];
        let c = || PendingCheck::Apop {
            timestamp: "<1896.697170952@dbc.mtview.ca.us>".into(),
            digest,
        };
        assert!(c().takes_password() && !c().takes_verifier() && !c().takes_scram());
        assert!(matches!(
            c().with_password(Some(Secret::from("tanstaaf"))),
            Verdict::Accepted
        ));
        assert!(matches!(
            c().with_password(Some(Secret::from("tanstaaF"))),
            Verdict::Rejected
        ));
        assert!(matches!(c().with_verifier(|_| true), Verdict::Rejected));
    }

    #[test]
    fn sasl_plain_steps() {
        let ok = plain_waiting("u", "pencil").with_password(Some(Secret::from("pencil")));
        assert!(matches!(ok, Verdict::Step(_, ServerStep::Success { .. })));
        let bad = plain_waiting("u", "pencil").with_verifier(|p| p.expose() == "other");
        assert!(matches!(
            bad,
            Verdict::Step(_, ServerStep::Failure(FailureReason::InvalidCredentials))
        ));
        assert!(matches!(
            plain_waiting("u", "p").with_password(None),
            Verdict::Rejected
        ));
    }

    #[test]
    fn what_each_check_takes() {
        let plain = plain_waiting("u", "p");
        assert!(plain.takes_password() && plain.takes_verifier() && !plain.takes_scram());
        let mut scram =
            Server::new(Mechanism::ScramSha256, "nonce", ServerOptions::default()).unwrap();
        assert!(matches!(
            scram.start(Some(b"n,,n=user,r=abc")),
            ServerStep::NeedScramCredentials { .. }
        ));
        let scram = PendingCheck::Sasl(Box::new(scram));
        assert!(!scram.takes_password() && !scram.takes_verifier() && scram.takes_scram());
        // SCRAM keys of the wrong hash are refused by the exchange.
        let keys = ScramCredentials::derive(
            crate::ScramHash::Sha1,
            "p",
            b"salt",
            core::num::NonZeroU32::new(4096).unwrap(),
        )
        .unwrap();
        assert!(matches!(scram.with_scram(Some(keys)), Verdict::Rejected));
    }
}

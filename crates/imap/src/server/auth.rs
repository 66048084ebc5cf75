//! LOGIN and AUTHENTICATE (RFC 9051 §6.2.2, §6.2.3; RFC 4959 SASL-IR)
//! through mailwire-sasl's server machines.

use mailwire_sasl::{
    Mechanism, PendingCheck, ScramCredentials, Secret, ServerOptions, ServerStep, Verdict,
};

use super::event::{AuthMethod, Event, Handle};
use super::state::{Mode, Pending};
use super::{ReplyError, Server};
use crate::types::core::{Atom, Tag};
use crate::types::response::{Code, StatusKind};

/// Proof that the client authenticated (STYLE.md (b)): only a successful
/// credential check here, or a PREAUTH greeting the application chose,
/// creates it, and the authenticated and selected states hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Authenticated(());

impl Authenticated {
    /// The application greeted with PREAUTH: it authenticated the client
    /// outside IMAP.
    pub(super) fn preauth() -> Authenticated {
        Authenticated(())
    }
}

fn code(name: &'static str) -> Code<'static> {
    Code::Simple(Atom::unvalidated(name))
}

impl Server {
    pub(super) fn plaintext_ok(&self) -> bool {
        self.tls.is_some() || self.options.allow_plaintext_auth
    }

    /// The SASL mechanisms offered now: those that send the password in
    /// the clear only under TLS or when allowed. Token and EXTERNAL
    /// mechanisms have no answer event here and are never offered.
    pub(super) fn mechanisms(&self) -> impl Iterator<Item = Mechanism> + '_ {
        self.options.sasl_mechanisms.iter().copied().filter(|m| {
            matches!(
                m,
                Mechanism::Plain
                    | Mechanism::Login
                    | Mechanism::CramMd5
                    | Mechanism::ScramSha1
                    | Mechanism::ScramSha256
            ) && (!m.sends_secret_in_clear() || self.plaintext_ok())
        })
    }

    pub(super) fn login(&mut self, tag: Tag<'static>, username: &[u8], password: &[u8]) {
        if !self.plaintext_ok() {
            self.tagged(
                &tag,
                StatusKind::No,
                Some(code("PRIVACYREQUIRED")),
                "LOGIN needs TLS",
            );
            return;
        }
        match (std::str::from_utf8(username), std::str::from_utf8(password)) {
            (Ok(u), Ok(p)) => {
                let handle = self.handle();
                self.pending = Some((
                    handle,
                    Pending::Auth {
                        tag,
                        check: PendingCheck::Password(Secret::new(p.to_owned())),
                        username: u.to_owned(),
                        authzid: None,
                        method: AuthMethod::Login,
                    },
                ));
                self.events.push_back(Event::Authenticate {
                    handle,
                    username: u.to_owned(),
                    authzid: None,
                    method: AuthMethod::Login,
                });
            }
            _ => self.auth_failed(&tag),
        }
    }

    pub(super) fn authenticate(
        &mut self,
        tag: Tag<'static>,
        mechanism: &str,
        initial: Option<&[u8]>,
    ) {
        let m = match Mechanism::from_name(mechanism.as_bytes())
            .filter(|m| self.options.sasl_mechanisms.contains(m))
        {
            Some(m) if self.mechanisms().any(|x| x == m) => m,
            Some(m) if m.sends_secret_in_clear() => {
                let c = Some(code("PRIVACYREQUIRED"));
                self.tagged(&tag, StatusKind::No, c, "Mechanism needs TLS");
                return;
            }
            _ => {
                let t = "Unsupported authentication mechanism";
                self.tagged(&tag, StatusKind::No, None, t);
                return;
            }
        };
        self.auth_attempts += 1;
        let nonce = match (m, self.auth_attempts) {
            (Mechanism::CramMd5, n) => format!("<{}.{n}@{}>", self.nonce, self.options.hostname),
            (_, 1) => self.nonce.clone(),
            (_, n) => format!("{}.{n}", self.nonce),
        };
        match mailwire_sasl::Server::new(m, &nonce, ServerOptions::default()) {
            Ok(mut sasl) => {
                let step = sasl.start_line(initial);
                self.sasl_step(tag, Box::new(sasl), step);
            }
            Err(_) => self.tagged(
                &tag,
                StatusKind::No,
                Some(code("UNAVAILABLE")),
                "Mechanism unavailable",
            ),
        }
    }

    /// A line of AUTHENTICATE data (RFC 9051 §6.2.2).
    pub(super) fn sasl_line(
        &mut self,
        tag: Tag<'static>,
        mut sasl: Box<mailwire_sasl::Server>,
        line: &[u8],
    ) {
        let step = sasl.step_line(line);
        self.sasl_step(tag, sasl, step);
    }

    fn sasl_step(&mut self, tag: Tag<'static>, sasl: Box<mailwire_sasl::Server>, step: ServerStep) {
        let method = AuthMethod::Sasl(sasl.mechanism());
        match step {
            ServerStep::Challenge(c) => {
                self.out.extend_from_slice(b"+ ");
                self.out
                    .extend_from_slice(mailwire_sasl::framing::encode(&c).as_bytes());
                self.out.extend_from_slice(b"\r\n");
                self.mode = Mode::AuthLine { tag, sasl };
            }
            ServerStep::NeedPassword { authcid, authzid }
            | ServerStep::NeedScramCredentials { authcid, authzid } => {
                let handle = self.handle();
                self.pending = Some((
                    handle,
                    Pending::Auth {
                        tag,
                        check: PendingCheck::Sasl(sasl),
                        username: authcid.clone(),
                        authzid: authzid.clone(),
                        method,
                    },
                ));
                self.events.push_back(Event::Authenticate {
                    handle,
                    username: authcid,
                    authzid,
                    method,
                });
            }
            ServerStep::Success {
                authcid, authzid, ..
            } => self.auth_succeeded(tag, authzid.unwrap_or(authcid), method),
            ServerStep::Failure(reason) => {
                if reason.is_client_error() || reason == mailwire_sasl::FailureReason::Cancelled {
                    // RFC 9051 §6.2.2: a cancelled exchange is answered BAD.
                    self.tagged(
                        &tag,
                        StatusKind::Bad,
                        None,
                        "Authentication cancelled or malformed",
                    );
                } else {
                    self.auth_failed(&tag);
                }
            }
            // Token and EXTERNAL steps: those mechanisms are never offered.
            _ => self.auth_failed(&tag),
        }
    }

    fn auth_failed(&mut self, tag: &Tag<'_>) {
        self.tagged(
            tag,
            StatusKind::No,
            Some(code("AUTHENTICATIONFAILED")),
            "Authentication failed",
        );
    }

    fn auth_succeeded(&mut self, tag: Tag<'static>, username: String, method: AuthMethod) {
        let handle = self.handle();
        let proof = Authenticated(());
        self.pending = Some((handle, Pending::LoggedIn { tag, proof }));
        self.events.push_back(Event::LoggedIn {
            handle,
            username,
            method,
        });
    }

    /// Ends the pending credential check with the application's answer,
    /// given that it fits (`fits`); then drains the outputs.
    fn answer_check<T>(
        &mut self,
        handle: Handle,
        value: T,
        fits: fn(&PendingCheck) -> bool,
        answer: impl FnOnce(PendingCheck, T) -> Verdict,
    ) -> Result<(), ReplyError<T>> {
        if let Err(e) = self.misuse(
            handle,
            |p| matches!(p, Pending::Auth { check, .. } if fits(check)),
        ) {
            return Err(e.with(value));
        }
        let Some((
            _,
            Pending::Auth {
                tag,
                check,
                username,
                authzid,
                method,
            },
        )) = self.pending.take()
        else {
            return Ok(());
        };
        match answer(check, value) {
            Verdict::Accepted => self.auth_succeeded(tag, authzid.unwrap_or(username), method),
            Verdict::Rejected => self.auth_failed(&tag),
            Verdict::Step(sasl, step) => self.sasl_step(tag, sasl, step),
        }
        self.process();
        Ok(())
    }

    /// Answers [`Event::Authenticate`] with the user's plaintext password,
    /// or `None` for an unknown user. The machine compares it in constant
    /// time (the LOGIN command, SASL PLAIN and LOGIN) or runs CRAM-MD5. Not
    /// for SCRAM. Then drain the outputs.
    pub fn provide_password(
        &mut self,
        handle: Handle,
        password: Option<Secret<String>>,
    ) -> Result<(), ReplyError<Option<Secret<String>>>> {
        self.answer_check(
            handle,
            password,
            PendingCheck::takes_password,
            PendingCheck::with_password,
        )
    }

    /// Answers [`Event::Authenticate`] for LOGIN and SASL PLAIN/LOGIN by
    /// letting `verify` check the password the client sent (e.g. against a
    /// stored hash). Then drain the outputs.
    pub fn check_password<F>(&mut self, handle: Handle, verify: F) -> Result<(), ReplyError<F>>
    where
        F: FnOnce(&Secret<String>) -> bool,
    {
        self.answer_check(
            handle,
            verify,
            PendingCheck::takes_verifier,
            PendingCheck::with_verifier,
        )
    }

    /// Answers [`Event::Authenticate`] for SASL `SCRAM-*` with the user's
    /// stored keys, or `None` for an unknown user. Then drain the outputs.
    pub fn provide_scram_credentials(
        &mut self,
        handle: Handle,
        credentials: Option<ScramCredentials>,
    ) -> Result<(), ReplyError<Option<ScramCredentials>>> {
        self.answer_check(
            handle,
            credentials,
            PendingCheck::takes_scram,
            PendingCheck::with_scram,
        )
    }
}

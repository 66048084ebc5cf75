//! The client side: [`Client`], a step machine per mechanism.
//!
//! ```text
//! let ir = client.initial_response();          // Some(..) for client-first mechanisms
//! AUTH <mech> [base64(ir)]          ->
//!                                   <- 334 base64(challenge)
//! client.step(&challenge)?          -> base64(response)
//!                                   <- 235 (success, maybe with additional data)
//! client.finish(additional_data)?   // SCRAM: checks the server signature
//! ```

use core::fmt;
use core::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use md5::Md5;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::mechanism::Mechanism;
use crate::saslprep::saslprep_or_raw;
use crate::scram::{self, ScramHash, ServerFinal, ServerFirst};
use crate::secret::Secret;

/// Why the client cannot go on.
///
/// Values sent by the server (`e=` errors) are included; secrets never are.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A constructor argument is unusable: it contains a byte the
    /// mechanism cannot carry (NUL in PLAIN, `\x01` in OAuth, a comma in a
    /// SCRAM nonce, ...). Names the field.
    #[error("invalid {field} for this mechanism")]
    InvalidInput {
        /// The argument: `authzid`, `username`, `password`, `token`,
        /// `nonce`, `host`.
        field: &'static str,
    },
    /// [`Client::new`] was given credentials without what the mechanism
    /// needs (a password, a token).
    #[error("credentials lack a {0} for this mechanism")]
    MissingCredential(&'static str),
    /// The server sent a challenge where the mechanism expects none.
    #[error("unexpected challenge from the server")]
    UnexpectedChallenge,
    /// The server's message does not follow the mechanism's grammar.
    #[error("malformed server message: {0}")]
    MalformedChallenge(&'static str),
    /// SCRAM: the server's nonce does not extend the client's nonce
    /// (RFC 5802 §5.1 `r=`).
    #[error("SCRAM server nonce does not start with the client nonce")]
    NonceMismatch,
    /// SCRAM: the iteration count is outside the accepted bounds (see
    /// [`Client::with_iteration_bounds`]).
    #[error("SCRAM iteration count {0} outside the accepted bounds")]
    IterationCount(u32),
    /// SCRAM: the server sent a mandatory extension (`m=`) we do not know.
    #[error("SCRAM mandatory extension not supported")]
    MandatoryExtension,
    /// SCRAM: the `ServerSignature` does not match: the server does not know
    /// the password (or the exchange was tampered with). Do not trust the
    /// session.
    #[error("SCRAM server signature mismatch")]
    ServerSignatureMismatch,
    /// SCRAM: the server sent `e=<value>` (RFC 5802 §7 `server-error`).
    #[error("SCRAM server error: {0}")]
    ServerError(String),
    /// SCRAM: [`Client::finish`] was called, but no `server-final-message`
    /// arrived, so the server was not authenticated.
    #[error("SCRAM server-final-message missing")]
    MissingServerFinal,
    /// A step after the exchange finished.
    #[error("the exchange is already complete")]
    AlreadyComplete,
    /// A call after an earlier step failed: the exchange is over.
    #[error("the exchange failed earlier")]
    Aborted,
}

/// What a client authenticates with, for [`Client::new`] after choosing a
/// mechanism with [`crate::choose`].
///
/// ```
/// use mailwire_sasl::{Credentials, Mechanism, Secret};
/// let creds = Credentials::password("tim", Secret::from("tanstaaftanstaaf"));
/// assert!(creds.supports(Mechanism::CramMd5));
/// assert!(!creds.supports(Mechanism::XOAuth2));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Credentials {
    /// The authentication identity (user name).
    pub username: String,
    /// The authorization identity to act as, if not the user itself.
    pub authzid: Option<String>,
    /// The password, for SCRAM, CRAM-MD5, PLAIN and LOGIN.
    pub password: Option<Secret<String>>,
    /// The OAuth 2.0 bearer token, for XOAUTH2 and OAUTHBEARER.
    pub token: Option<Secret<String>>,
    /// Host name for OAUTHBEARER's `host=` (RFC 7628 §3.1).
    pub host: Option<String>,
    /// Port for OAUTHBEARER's `port=` (RFC 7628 §3.1).
    pub port: Option<u16>,
}

impl Credentials {
    /// User name and password.
    pub fn password(username: impl Into<String>, password: Secret<String>) -> Self {
        Self {
            username: username.into(),
            authzid: None,
            password: Some(password),
            token: None,
            host: None,
            port: None,
        }
    }

    /// User name and OAuth 2.0 bearer token.
    pub fn token(username: impl Into<String>, token: Secret<String>) -> Self {
        Self {
            username: username.into(),
            authzid: None,
            password: None,
            token: Some(token),
            host: None,
            port: None,
        }
    }

    /// Sets the authorization identity.
    pub fn with_authzid(mut self, authzid: impl Into<String>) -> Self {
        self.authzid = Some(authzid.into());
        self
    }

    /// Sets the server host and port for OAUTHBEARER.
    pub fn with_host_port(mut self, host: impl Into<String>, port: u16) -> Self {
        self.host = Some(host.into());
        self.port = Some(port);
        self
    }

    /// True when these credentials hold what `mechanism` needs (EXTERNAL
    /// needs nothing).
    pub fn supports(&self, mechanism: Mechanism) -> bool {
        if mechanism.uses_password() {
            self.password.is_some()
        } else if mechanism.uses_token() {
            self.token.is_some()
        } else {
            true
        }
    }

    /// The mechanisms these credentials can drive, best first; pass it to
    /// [`crate::choose`]. EXTERNAL is left out: a client opts into it
    /// explicitly. Filter out [`Mechanism::sends_secret_in_clear`] ones
    /// when the channel is not encrypted.
    pub fn mechanisms(&self) -> Vec<Mechanism> {
        Mechanism::PREFERENCE
            .into_iter()
            .filter(|m| *m != Mechanism::External && self.supports(*m))
            .collect()
    }
}

/// SCRAM client state after the server-first message.
struct ScramPending {
    server_signature: Zeroizing<Vec<u8>>,
}

enum State {
    /// Nothing received yet.
    Start,
    /// LOGIN: the user name was sent.
    LoginUserSent,
    /// PLAIN, EXTERNAL, XOAUTH2, OAUTHBEARER: the message was sent.
    Sent,
    /// SCRAM: client-first sent, awaiting server-first.
    ScramFirstSent,
    /// SCRAM: client-final sent, awaiting server-final.
    ScramFinalSent(ScramPending),
    /// The mechanism has nothing more to send; for SCRAM the server was
    /// verified.
    Done,
    /// A step failed; the exchange is over.
    Failed,
}

enum Kind {
    Plain {
        message: Zeroizing<Vec<u8>>,
    },
    Login {
        username: String,
        password: Secret<String>,
    },
    CramMd5 {
        username: String,
        password: Secret<String>,
    },
    Scram {
        hash: ScramHash,
        /// SASLprep'd password.
        password: Secret<String>,
        gs2_header: Vec<u8>,
        client_first_bare: Vec<u8>,
        nonce: Vec<u8>,
        min_iterations: u32,
        max_iterations: u32,
    },
    /// XOAUTH2 and OAUTHBEARER.
    OAuth {
        message: Zeroizing<Vec<u8>>,
        /// The response to an error challenge: empty for XOAUTH2, `\x01`
        /// for OAUTHBEARER (RFC 7628 §3.2.3).
        error_ack: &'static [u8],
        error: Option<Vec<u8>>,
    },
    External {
        authzid: Vec<u8>,
    },
}

/// The client side of one SASL exchange (RFC 4422 §3), for any
/// [`Mechanism`].
///
/// No I/O, no clock, no randomness: the SCRAM client nonce is a
/// constructor argument. The protocol crate base64-encodes what this
/// returns and decodes what the server sends (see [`crate::framing`]).
///
/// * [`Client::initial_response`]: what to put in `AUTH <mech> <ir>` /
///   SASL-IR, or `None` if the mechanism starts with a challenge.
/// * [`Client::step`]: the response to each server challenge. An empty
///   first challenge (a server that does not take initial responses) is
///   answered with the initial response.
/// * [`Client::finish`]: call when the server reports success, with its
///   additional data if any; for SCRAM it fails unless the server proved it
///   knows the password (RFC 5802 §5.1 `v=`).
pub struct Client {
    mechanism: Mechanism,
    kind: Kind,
    state: State,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("mechanism", &self.mechanism)
            .field("complete", &self.is_complete())
            .finish_non_exhaustive()
    }
}

/// The default upper bound on a server's SCRAM iteration count: a hostile
/// server cannot make the client spin for long.
pub const DEFAULT_MAX_ITERATIONS: u32 = 1_000_000;
/// The default lower bound on a server's SCRAM iteration count
/// (RFC 7677 §4 and RFC 5802 §5.1 recommend at least 4096).
pub const DEFAULT_MIN_ITERATIONS: u32 = 4096;

fn check_no(field: &'static str, value: &str, bad: &[u8]) -> Result<(), ClientError> {
    if value.bytes().any(|b| bad.contains(&b)) {
        Err(ClientError::InvalidInput { field })
    } else {
        Ok(())
    }
}

fn check_scram_nonce(nonce: &str) -> Result<(), ClientError> {
    if nonce.is_empty() || !nonce.bytes().all(scram::is_printable) {
        Err(ClientError::InvalidInput { field: "nonce" })
    } else {
        Ok(())
    }
}

impl Client {
    /// Builds the client for `mechanism` from [`Credentials`].
    ///
    /// `nonce` is used by SCRAM only: the client nonce, printable ASCII
    /// without `,` (RFC 5802 §7 `c-nonce`), from a cryptographic random
    /// source, e.g. 18 random bytes in base64. Other mechanisms ignore it.
    pub fn new(
        mechanism: Mechanism,
        credentials: &Credentials,
        nonce: &str,
    ) -> Result<Client, ClientError> {
        let authzid = credentials.authzid.as_deref();
        let user = credentials.username.as_str();
        let password = || {
            credentials
                .password
                .clone()
                .ok_or(ClientError::MissingCredential("password"))
        };
        let token = || {
            credentials
                .token
                .clone()
                .ok_or(ClientError::MissingCredential("token"))
        };
        match mechanism {
            Mechanism::ScramSha256 => Client::scram_sha256(authzid, user, password()?, nonce),
            Mechanism::ScramSha1 => Client::scram_sha1(authzid, user, password()?, nonce),
            Mechanism::CramMd5 => Client::cram_md5(user, password()?),
            Mechanism::Plain => Client::plain(authzid, user, password()?),
            Mechanism::Login => Client::login(user, password()?),
            Mechanism::XOAuth2 => Client::xoauth2(user, token()?),
            Mechanism::OAuthBearer => Client::oauthbearer(
                Some(authzid.unwrap_or(user)),
                credentials.host.as_deref(),
                credentials.port,
                token()?,
            ),
            Mechanism::External => Client::external(authzid),
        }
    }

    fn build(mechanism: Mechanism, kind: Kind) -> Client {
        Client {
            mechanism,
            kind,
            state: State::Start,
        }
    }

    /// PLAIN (RFC 4616 §2): `[authzid] NUL authcid NUL passwd`.
    /// None of the three may contain NUL; authcid and password must not be
    /// empty.
    pub fn plain(
        authzid: Option<&str>,
        authcid: &str,
        password: Secret<String>,
    ) -> Result<Client, ClientError> {
        let authzid = authzid.unwrap_or("");
        check_no("authzid", authzid, b"\0")?;
        check_no("username", authcid, b"\0")?;
        check_no("password", password.expose(), b"\0")?;
        if authcid.is_empty() {
            return Err(ClientError::InvalidInput { field: "username" });
        }
        if password.expose().is_empty() {
            return Err(ClientError::InvalidInput { field: "password" });
        }
        let mut message = Zeroizing::new(Vec::new());
        message.extend_from_slice(authzid.as_bytes());
        message.push(0);
        message.extend_from_slice(authcid.as_bytes());
        message.push(0);
        message.extend_from_slice(password.expose().as_bytes());
        Ok(Client::build(Mechanism::Plain, Kind::Plain { message }))
    }

    /// LOGIN: answers the first challenge ("Username:") with the user name
    /// and the second ("Password:") with the password.
    pub fn login(username: &str, password: Secret<String>) -> Result<Client, ClientError> {
        check_no("username", username, b"\0\r\n")?;
        check_no("password", password.expose(), b"\0\r\n")?;
        Ok(Client::build(
            Mechanism::Login,
            Kind::Login {
                username: username.to_owned(),
                password,
            },
        ))
    }

    /// CRAM-MD5 (RFC 2195 §2): answers the challenge with
    /// `username SP hex(HMAC-MD5(password, challenge))`.
    pub fn cram_md5(username: &str, password: Secret<String>) -> Result<Client, ClientError> {
        check_no("username", username, b"\0\r\n")?;
        if username.is_empty() {
            return Err(ClientError::InvalidInput { field: "username" });
        }
        Ok(Client::build(
            Mechanism::CramMd5,
            Kind::CramMd5 {
                username: username.to_owned(),
                password,
            },
        ))
    }

    /// SCRAM-SHA-1 (RFC 5802). See [`Client::new`] for `nonce`.
    pub fn scram_sha1(
        authzid: Option<&str>,
        username: &str,
        password: Secret<String>,
        nonce: &str,
    ) -> Result<Client, ClientError> {
        Client::scram(ScramHash::Sha1, authzid, username, password, nonce)
    }

    /// SCRAM-SHA-256 (RFC 7677). See [`Client::new`] for `nonce`.
    pub fn scram_sha256(
        authzid: Option<&str>,
        username: &str,
        password: Secret<String>,
        nonce: &str,
    ) -> Result<Client, ClientError> {
        Client::scram(ScramHash::Sha256, authzid, username, password, nonce)
    }

    fn scram(
        hash: ScramHash,
        authzid: Option<&str>,
        username: &str,
        password: Secret<String>,
        nonce: &str,
    ) -> Result<Client, ClientError> {
        check_scram_nonce(nonce)?;
        // RFC 5802 §5.1: the user name and password are prepared with
        // SASLprep (see the saslprep module for strings it refuses); the
        // authzid is sent as is.
        let user = saslprep_or_raw(username).into_owned();
        let prepped = Secret::new(saslprep_or_raw(password.expose()).into_owned());
        if user.is_empty() || user.contains('\0') {
            return Err(ClientError::InvalidInput { field: "username" });
        }
        let mut gs2_header = b"n,".to_vec();
        if let Some(a) = authzid {
            if a.is_empty() || a.contains('\0') {
                return Err(ClientError::InvalidInput { field: "authzid" });
            }
            gs2_header.extend_from_slice(b"a=");
            gs2_header.extend_from_slice(scram::encode_saslname(a).as_bytes());
        }
        gs2_header.push(b',');
        let client_first_bare =
            format!("n={},r={}", scram::encode_saslname(&user), nonce).into_bytes();
        let mechanism = match hash {
            ScramHash::Sha1 => Mechanism::ScramSha1,
            ScramHash::Sha256 => Mechanism::ScramSha256,
        };
        Ok(Client::build(
            mechanism,
            Kind::Scram {
                hash,
                password: prepped,
                gs2_header,
                client_first_bare,
                nonce: nonce.as_bytes().to_vec(),
                min_iterations: DEFAULT_MIN_ITERATIONS,
                max_iterations: DEFAULT_MAX_ITERATIONS,
            },
        ))
    }

    /// XOAUTH2: `user=<user>\x01auth=Bearer <token>\x01\x01`.
    pub fn xoauth2(user: &str, token: Secret<String>) -> Result<Client, ClientError> {
        check_no("username", user, b"\x01\0")?;
        check_token(token.expose())?;
        let mut message = Zeroizing::new(Vec::new());
        message.extend_from_slice(b"user=");
        message.extend_from_slice(user.as_bytes());
        message.extend_from_slice(b"\x01auth=Bearer ");
        message.extend_from_slice(token.expose().as_bytes());
        message.extend_from_slice(b"\x01\x01");
        Ok(Client::build(
            Mechanism::XOAuth2,
            Kind::OAuth {
                message,
                error_ack: b"",
                error: None,
            },
        ))
    }

    /// OAUTHBEARER (RFC 7628 §3.1):
    /// `n,a=<authzid>,\x01host=<host>\x01port=<port>\x01auth=Bearer <token>\x01\x01`.
    pub fn oauthbearer(
        authzid: Option<&str>,
        host: Option<&str>,
        port: Option<u16>,
        token: Secret<String>,
    ) -> Result<Client, ClientError> {
        check_token(token.expose())?;
        let mut message = Zeroizing::new(b"n,".to_vec());
        if let Some(a) = authzid {
            if a.is_empty() || a.contains('\0') {
                return Err(ClientError::InvalidInput { field: "authzid" });
            }
            message.extend_from_slice(b"a=");
            message.extend_from_slice(scram::encode_saslname(a).as_bytes());
        }
        message.extend_from_slice(b",\x01");
        if let Some(h) = host {
            if h.is_empty() || !h.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                return Err(ClientError::InvalidInput { field: "host" });
            }
            message.extend_from_slice(b"host=");
            message.extend_from_slice(h.as_bytes());
            message.push(1);
        }
        if let Some(p) = port {
            message.extend_from_slice(format!("port={p}\x01").as_bytes());
        }
        message.extend_from_slice(b"auth=Bearer ");
        message.extend_from_slice(token.expose().as_bytes());
        message.extend_from_slice(b"\x01\x01");
        Ok(Client::build(
            Mechanism::OAuthBearer,
            Kind::OAuth {
                message,
                error_ack: b"\x01",
                error: None,
            },
        ))
    }

    /// EXTERNAL (RFC 4422 appendix A): sends the authorization identity, or
    /// an empty message to act as the identity established outside SASL.
    pub fn external(authzid: Option<&str>) -> Result<Client, ClientError> {
        let a = authzid.unwrap_or("");
        check_no("authzid", a, b"\0")?;
        Ok(Client::build(
            Mechanism::External,
            Kind::External {
                authzid: a.as_bytes().to_vec(),
            },
        ))
    }

    /// SCRAM only: the accepted range of the server's iteration count
    /// (default [`DEFAULT_MIN_ITERATIONS`]..=[`DEFAULT_MAX_ITERATIONS`]).
    /// The maximum bounds the CPU a hostile server can make the client
    /// spend on PBKDF2.
    pub fn with_iteration_bounds(mut self, min: NonZeroU32, max: NonZeroU32) -> Self {
        if let Kind::Scram {
            min_iterations,
            max_iterations,
            ..
        } = &mut self.kind
        {
            *min_iterations = min.get();
            *max_iterations = max.get();
        }
        self
    }

    /// The mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// True when the client has nothing more to send and (SCRAM) has
    /// verified the server.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// OAuth mechanisms: the error JSON (RFC 7628 §3.2.2) the server sent
    /// before failing, if any.
    pub fn oauth_error(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::OAuth { error, .. } => error.as_deref(),
            _ => None,
        }
    }

    /// The initial response (RFC 4422 §3.3), for SMTP `AUTH <mech> <ir>`
    /// (RFC 4954 §4), POP3 `AUTH <mech> <ir>` (RFC 5034 §4) and IMAP SASL-IR
    /// (RFC 4959). `None` for mechanisms where the server speaks first
    /// (CRAM-MD5, LOGIN). Encode with
    /// [`crate::framing::encode_initial_response`], which writes an empty
    /// response as `=`. It is the same message [`Client::step`] returns for
    /// an empty first challenge.
    pub fn initial_response(&self) -> Option<Vec<u8>> {
        match &self.kind {
            Kind::Plain { message } | Kind::OAuth { message, .. } => Some(message.to_vec()),
            Kind::Scram {
                gs2_header,
                client_first_bare,
                ..
            } => {
                let mut m = gs2_header.clone();
                m.extend_from_slice(client_first_bare);
                Some(m)
            }
            Kind::External { authzid } => Some(authzid.clone()),
            Kind::Login { .. } | Kind::CramMd5 { .. } => None,
        }
    }

    /// Answers one server challenge (already base64-decoded).
    ///
    /// For a client-first mechanism, if the initial response was not sent,
    /// the server's first challenge is empty and this returns the initial
    /// response; if it was sent, pass the server's next challenge directly.
    /// An error ends the exchange: send `*` to cancel.
    ///
    /// The returned bytes may hold the password (PLAIN, LOGIN) or the
    /// token (XOAUTH2, OAUTHBEARER): wipe them once sent (e.g. keep them
    /// in a `zeroize::Zeroizing`). The same holds for
    /// [`Client::initial_response`].
    pub fn step(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        let state = core::mem::replace(&mut self.state, State::Failed);
        let result = self.step_inner(state, challenge);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn step_inner(&mut self, state: State, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        let initial_requested = matches!(state, State::Start) && challenge.is_empty();
        match (&mut self.kind, state) {
            (_, State::Done) => Err(ClientError::AlreadyComplete),
            (_, State::Failed) => Err(ClientError::Aborted),
            (Kind::Plain { message }, State::Start) if initial_requested => {
                self.state = State::Done;
                Ok(message.to_vec())
            }
            (Kind::External { authzid }, State::Start) if initial_requested => {
                self.state = State::Done;
                Ok(authzid.clone())
            }
            (Kind::Plain { .. } | Kind::External { .. }, _) => {
                Err(ClientError::UnexpectedChallenge)
            }
            (Kind::Login { username, .. }, State::Start) => {
                self.state = State::LoginUserSent;
                Ok(username.as_bytes().to_vec())
            }
            (Kind::Login { password, .. }, State::LoginUserSent) => {
                self.state = State::Done;
                Ok(password.expose().as_bytes().to_vec())
            }
            (Kind::Login { .. }, _) => Err(ClientError::UnexpectedChallenge),
            (Kind::CramMd5 { username, password }, State::Start) => {
                if challenge.is_empty() {
                    return Err(ClientError::MalformedChallenge("empty CRAM-MD5 challenge"));
                }
                let mut mac = <Hmac<Md5> as Mac>::new_from_slice(password.expose().as_bytes())
                    .map_err(|_| ClientError::InvalidInput { field: "password" })?;
                mac.update(challenge);
                let digest = mac.finalize().into_bytes();
                let mut out = username.as_bytes().to_vec();
                out.push(b' ');
                out.extend_from_slice(hex(&digest).as_bytes());
                self.state = State::Done;
                Ok(out)
            }
            (Kind::CramMd5 { .. }, _) => Err(ClientError::UnexpectedChallenge),
            (Kind::OAuth { message, .. }, State::Start) if initial_requested => {
                self.state = State::Sent;
                Ok(message.to_vec())
            }
            (
                Kind::OAuth {
                    error, error_ack, ..
                },
                State::Start | State::Sent,
            ) => {
                // RFC 7628 §3.2.3: the server sent an error; acknowledge it
                // and let the server fail the exchange.
                *error = Some(challenge.to_vec());
                self.state = State::Done;
                Ok(error_ack.to_vec())
            }
            (Kind::OAuth { .. }, _) => Err(ClientError::UnexpectedChallenge),
            (Kind::Scram { .. }, State::Start) if initial_requested => {
                self.state = State::ScramFirstSent;
                self.initial_response()
                    .ok_or(ClientError::UnexpectedChallenge)
            }
            (kind @ Kind::Scram { .. }, State::Start | State::ScramFirstSent) => {
                let (out, pending) = scram_client_final(kind, challenge)?;
                self.state = State::ScramFinalSent(pending);
                Ok(out)
            }
            (Kind::Scram { .. }, State::ScramFinalSent(pending)) => {
                verify_server_final(&pending, challenge)?;
                self.state = State::Done;
                Ok(Vec::new())
            }
            (Kind::Scram { .. }, _) => Err(ClientError::UnexpectedChallenge),
        }
    }

    /// Call when the server reports success, with the additional data that
    /// came with it (RFC 4422 §3.6), if any.
    ///
    /// For SCRAM the server must have proved knowledge of the password by
    /// now, either in a challenge passed to [`Client::step`] or in
    /// `additional_data`; otherwise this fails and the session must not be
    /// trusted. Other mechanisms accept success whenever their message was
    /// sent and ignore additional data.
    pub fn finish(&mut self, additional_data: Option<&[u8]>) -> Result<(), ClientError> {
        let state = core::mem::replace(&mut self.state, State::Failed);
        let result = match (&self.kind, state) {
            (_, State::Failed) => Err(ClientError::Aborted),
            (Kind::Scram { .. }, State::ScramFinalSent(pending)) => match additional_data {
                Some(data) => verify_server_final(&pending, data),
                None => Err(ClientError::MissingServerFinal),
            },
            (Kind::Scram { .. }, State::Done) => Ok(()),
            (Kind::Scram { .. }, _) => Err(ClientError::MissingServerFinal),
            _ => Ok(()),
        };
        if result.is_ok() {
            self.state = State::Done;
        }
        result
    }
}

fn check_token(token: &str) -> Result<(), ClientError> {
    // RFC 6750 §2.1 b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    if token.is_empty()
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
    {
        Err(ClientError::InvalidInput { field: "token" })
    } else {
        Ok(())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn scram_client_final(
    kind: &Kind,
    challenge: &[u8],
) -> Result<(Vec<u8>, ScramPending), ClientError> {
    let Kind::Scram {
        hash,
        password,
        gs2_header,
        client_first_bare,
        nonce,
        min_iterations,
        max_iterations,
    } = kind
    else {
        return Err(ClientError::UnexpectedChallenge);
    };
    let first = scram::server_first(challenge).map_err(|e| ClientError::MalformedChallenge(e.0))?;
    let (full_nonce, salt, iterations, mext) = match first {
        ServerFirst::Error(e) => {
            return Err(ClientError::ServerError(
                String::from_utf8_lossy(e).into_owned(),
            ));
        }
        ServerFirst::Ok {
            nonce,
            salt,
            iterations,
            mandatory_ext,
        } => (nonce, salt, iterations, mandatory_ext),
    };
    if mext {
        return Err(ClientError::MandatoryExtension);
    }
    // RFC 5802 §5.1: the server appends its own nonce to the client's.
    if full_nonce.len() <= nonce.len() || !full_nonce.starts_with(nonce) {
        return Err(ClientError::NonceMismatch);
    }
    let salt = scram::b64(salt).map_err(|e| ClientError::MalformedChallenge(e.0))?;
    if salt.is_empty() {
        return Err(ClientError::MalformedChallenge("empty salt"));
    }
    let i = scram::parse_iterations(iterations)
        .ok_or(ClientError::MalformedChallenge("bad iteration count"))?
        .get();
    if i < *min_iterations || i > *max_iterations {
        return Err(ClientError::IterationCount(i));
    }
    let mut without_proof = b"c=".to_vec();
    without_proof.extend_from_slice(STANDARD.encode(gs2_header).as_bytes());
    without_proof.extend_from_slice(b",r=");
    without_proof.extend_from_slice(full_nonce);
    let mut auth_message = client_first_bare.clone();
    auth_message.push(b',');
    auth_message.extend_from_slice(challenge);
    auth_message.push(b',');
    auth_message.extend_from_slice(&without_proof);
    let salted = hash.hi(password.expose().as_bytes(), &salt, i);
    let (proof, server_signature) = scram::client_proof(*hash, &salted, &auth_message);
    auth_message.zeroize();
    let mut out = without_proof;
    out.extend_from_slice(b",p=");
    out.extend_from_slice(STANDARD.encode(&*proof).as_bytes());
    Ok((out, ScramPending { server_signature }))
}

fn verify_server_final(pending: &ScramPending, data: &[u8]) -> Result<(), ClientError> {
    match scram::server_final(data).map_err(|e| ClientError::MalformedChallenge(e.0))? {
        ServerFinal::Error(e) => Err(ClientError::ServerError(
            String::from_utf8_lossy(e).into_owned(),
        )),
        ServerFinal::Verifier(v) => {
            let v = scram::b64(v).map_err(|e| ClientError::MalformedChallenge(e.0))?;
            if bool::from(v.ct_eq(&pending.server_signature)) {
                Ok(())
            } else {
                Err(ClientError::ServerSignatureMismatch)
            }
        }
    }
}

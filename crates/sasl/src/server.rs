//! The server side: [`Server`], a step machine per mechanism that asks the
//! application for credentials through [`ServerStep`] values.
//!
//! ```text
//! C: AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm   server.start(Some(ir))  -> NeedPassword { authcid: "tim", .. }
//!                                              server.provide_password(pw) -> Success { authcid: "tim", .. }
//! S: 235 2.7.0 Authentication successful
//! ```
//!
//! The machine never logs, echoes or returns a secret it received: the
//! client's password stays inside and is compared in constant time, and
//! every secret is wiped when dropped.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use md5::Md5;
use nom::Parser;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::combinator::all_consuming;
use nom::multi::fold_many0;
use nom::sequence::terminated;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::framing::{self, ClientLine};
use crate::mechanism::Mechanism;
use crate::scram::{self, CbindFlag, ScramCredentials, ScramHash};
use crate::secret::Secret;

/// Server limits and choices. `#[non_exhaustive]`: build it with
/// `ServerOptions::default()` and set fields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Largest decoded client message accepted, in bytes. Default 16 KiB:
    /// above RFC 4954's 12288-octet AUTH line (§4) and room for large
    /// OAuth tokens, yet small enough to bound memory per connection.
    pub max_response_len: usize,
    /// SCRAM: send the `server-final-message` as additional data with
    /// success ([`ServerStep::Success::additional_data`], RFC 4422 §3.6),
    /// instead of as one more challenge that the client answers with an
    /// empty response. Default false: SMTP (RFC 4954 §4) and POP3 have no
    /// way to carry data with success, and IMAP4rev1 neither.
    pub scram_final_with_success: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            max_response_len: 16 * 1024,
            scram_final_with_success: false,
        }
    }
}

/// Why an exchange failed. None of the variants carries client data, so a
/// reason can be logged safely.
///
/// Map it to the protocol: [`FailureReason::is_client_error`] ones are a
/// syntax error (SMTP 501 5.5.2, IMAP BAD, POP3 -ERR), `Cancelled` is SMTP
/// 501 5.0.0 (RFC 4954 §4), the others are "authentication failed" (SMTP
/// 535 5.7.8, IMAP NO, POP3 -ERR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FailureReason {
    /// The client cancelled with `*` ([`Server::cancel`]).
    #[error("authentication cancelled by the client")]
    Cancelled,
    /// The client's message does not follow the mechanism's grammar.
    #[error("malformed client message: {0}")]
    Malformed(&'static str),
    /// A client line is not valid base64.
    #[error("invalid base64 in client response")]
    BadBase64,
    /// A client message exceeds [`ServerOptions::max_response_len`].
    #[error("client message too long")]
    TooLong,
    /// Wrong password, proof or token, or the application rejected the
    /// identity.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// SCRAM or OAUTHBEARER: the client requires channel binding (`p=`),
    /// which this server does not offer (no `-PLUS` mechanism).
    #[error("channel binding not supported")]
    ChannelBindingNotSupported,
    /// SCRAM: the client sent a mandatory extension (`m=`) this server does
    /// not support (RFC 5802 §5.1).
    #[error("unsupported mandatory extension")]
    UnsupportedExtension,
    /// SCRAM: the nonce in the client-final message is not the combined
    /// nonce.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// SCRAM: the `c=` attribute does not match the GS2 header.
    #[error("channel binding data mismatch")]
    ChannelBindingMismatch,
    /// The mechanism starts with a server challenge (CRAM-MD5) and cannot
    /// take an initial response.
    #[error("initial response not allowed for this mechanism")]
    InitialResponseNotAllowed,
    /// Client input arrived while the machine waited for the application,
    /// or after the exchange ended.
    #[error("client message out of order")]
    UnexpectedResponse,
}

impl FailureReason {
    /// The SMTP reply code and enhanced status code for this failure
    /// (RFC 4954 §4 and §6): `501 5.0.0` for a cancel, `501 5.5.2` for bad
    /// base64 or a malformed message, `500 5.5.6` for an over-long
    /// message, `535 5.7.8` for failed authentication.
    ///
    /// ```
    /// use mailwire_sasl::FailureReason;
    /// assert_eq!(FailureReason::InvalidCredentials.smtp_status(), (535, "5.7.8"));
    /// ```
    pub fn smtp_status(self) -> (u16, &'static str) {
        match self {
            FailureReason::Cancelled => (501, "5.0.0"),
            FailureReason::TooLong => (500, "5.5.6"),
            r if r.is_client_error() => (501, "5.5.2"),
            _ => (535, "5.7.8"),
        }
    }

    /// True for protocol errors by the client (malformed input, too long,
    /// out of order), as opposed to failed authentication.
    pub fn is_client_error(self) -> bool {
        matches!(
            self,
            FailureReason::Malformed(_)
                | FailureReason::BadBase64
                | FailureReason::TooLong
                | FailureReason::InitialResponseNotAllowed
                | FailureReason::UnexpectedResponse
        )
    }
}

/// What the server does next. Variants named `Need*` create a duty: the
/// application MUST answer with the method the variant names (or
/// [`Server::reject`]) before the exchange can go on.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerStep {
    /// Send this challenge to the client (base64, e.g. with
    /// [`framing::encode`]; SMTP `334`, IMAP and POP3 `+`) and feed its
    /// answer to [`Server::step`] or [`Server::step_line`].
    Challenge(Vec<u8>),
    /// PLAIN, LOGIN, CRAM-MD5: look the user up. MUST call
    /// [`Server::provide_password`] with the user's password (compared in
    /// constant time by the machine), or, for PLAIN and LOGIN only,
    /// [`Server::check_password`] to verify against a stored hash; or
    /// [`Server::reject`] for an unknown user or a forbidden `authzid`.
    NeedPassword {
        /// The authentication identity (user name).
        authcid: String,
        /// The requested authorization identity, if any (PLAIN only).
        authzid: Option<String>,
    },
    /// SCRAM: look the user up. MUST call
    /// [`Server::provide_scram_credentials`] or [`Server::reject`]. To keep
    /// unknown users indistinguishable, answer with credentials derived
    /// from a dummy password and a salt the server derives per user name:
    /// the proof then fails at the end like a wrong password.
    NeedScramCredentials {
        /// The user name (`n=`, with `=2C`/`=3D` decoded; not SASLprep'd).
        authcid: String,
        /// The requested authorization identity (`a=`), if any.
        authzid: Option<String>,
    },
    /// XOAUTH2, OAUTHBEARER: verify the bearer token. MUST call
    /// [`Server::accept_token`] with the identity the token grants, or
    /// [`Server::reject_token`].
    NeedVerifyToken {
        /// XOAUTH2 `user=`, or OAUTHBEARER's GS2 `a=` authzid.
        user: Option<String>,
        /// The bearer token.
        token: Secret<String>,
        /// OAUTHBEARER `host=`.
        host: Option<String>,
        /// OAUTHBEARER `port=`.
        port: Option<u16>,
    },
    /// EXTERNAL: decide from outside SASL (e.g. the TLS client
    /// certificate) who the client is and whether it may act as
    /// `authzid`. MUST call [`Server::accept_external`] or
    /// [`Server::reject`].
    NeedExternal {
        /// The requested authorization identity; `None` when the client
        /// sent an empty message.
        authzid: Option<String>,
    },
    /// Authenticated.
    Success {
        /// Who authenticated.
        authcid: String,
        /// Who the client acts as, if it asked for someone else. The
        /// application decides whether `authcid` may act as `authzid`
        /// (reject earlier, in the `Need*` step, if not).
        authzid: Option<String>,
        /// Additional data to send with success (SCRAM with
        /// [`ServerOptions::scram_final_with_success`]).
        additional_data: Option<Vec<u8>>,
    },
    /// The exchange failed; it is over.
    Failure(FailureReason),
}

/// An answer given in the wrong state, or a value that cannot be used; the
/// value comes back.
pub struct AnswerError<T> {
    value: T,
    kind: AnswerErrorKind,
}

/// Why [`AnswerError`] was returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnswerErrorKind {
    /// The server is not waiting for this answer.
    WrongState,
    /// The answer does not fit this mechanism (e.g. `check_password` for
    /// CRAM-MD5, or SCRAM credentials for the other hash).
    WrongValue,
}

impl<T> AnswerError<T> {
    /// The value given back.
    pub fn into_value(self) -> T {
        self.value
    }

    /// Why.
    pub fn kind(&self) -> AnswerErrorKind {
        self.kind
    }
}

impl<T> fmt::Debug for AnswerError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerError")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for AnswerError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            AnswerErrorKind::WrongState => {
                f.write_str("the SASL server is not waiting for this answer")
            }
            AnswerErrorKind::WrongValue => {
                f.write_str("this answer does not fit the SASL mechanism")
            }
        }
    }
}

impl<T> std::error::Error for AnswerError<T> {}

/// The server's setup error: a nonce or challenge the mechanism cannot use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerNewError {
    /// SCRAM: the nonce must be printable ASCII without `,`
    /// (RFC 5802 §7 `s-nonce`) and not empty.
    #[error("invalid SCRAM server nonce")]
    InvalidNonce,
    /// CRAM-MD5: the challenge must be a non-empty `<...>` msg-id of
    /// printable ASCII (RFC 2195 §2).
    #[error("invalid CRAM-MD5 challenge")]
    InvalidChallenge,
}

enum State {
    /// Nothing happened yet: call start.
    Initial,
    /// An empty challenge was sent; the next response is the mechanism's
    /// first message.
    AwaitFirst,
    LoginAwaitUser,
    LoginAwaitPassword {
        username: String,
    },
    AwaitPassword {
        authcid: String,
        authzid: Option<String>,
        check: PasswordCheck,
    },
    ScramAwaitCredentials {
        authcid: String,
        authzid: Option<String>,
        gs2_header: Vec<u8>,
        client_first_bare: Vec<u8>,
        client_nonce: Vec<u8>,
    },
    ScramAwaitFinal {
        authcid: String,
        authzid: Option<String>,
        gs2_header: Vec<u8>,
        auth_message_prefix: Vec<u8>,
        full_nonce: Vec<u8>,
        creds: ScramCredentials,
    },
    ScramAwaitAck {
        authcid: String,
        authzid: Option<String>,
    },
    AwaitToken {
        authzid: Option<String>,
    },
    OAuthAwaitErrorAck,
    AwaitExternal {
        authzid: Option<String>,
    },
    Done,
}

/// What the client sent that the password is checked against.
enum PasswordCheck {
    /// PLAIN, LOGIN: the password itself.
    Given(Secret<String>),
    /// CRAM-MD5: the digest the client sent.
    CramDigest([u8; 16]),
}

/// The server side of one SASL exchange (RFC 4422 §3), for any
/// [`Mechanism`].
///
/// Drive it like this:
/// 1. [`Server::start`] (or [`Server::start_line`]) when the `AUTH` /
///    `AUTHENTICATE` command arrives, with its initial response if any.
/// 2. Act on the returned [`ServerStep`]: send a `Challenge` and feed the
///    client's answer to [`Server::step`] (or [`Server::step_line`]);
///    answer a `Need*` with the method it names; stop at `Success` or
///    `Failure`.
/// 3. If the client sends `*`, call [`Server::cancel`].
///
/// Input in the wrong order, malformed or over-long input all end in
/// `Failure` with a typed reason; nothing panics. An answer method called
/// when the machine is not waiting for it returns an [`AnswerError`]
/// carrying the value back and changes nothing.
pub struct Server {
    mechanism: Mechanism,
    options: ServerOptions,
    /// SCRAM server nonce, or CRAM-MD5 challenge.
    nonce: Vec<u8>,
    state: State,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("mechanism", &self.mechanism)
            .field("done", &self.is_done())
            .finish_non_exhaustive()
    }
}

const DEFAULT_OAUTH_ERROR: &[u8] = br#"{"status":"invalid_token"}"#;

impl Server {
    /// Builds the server for `mechanism`.
    ///
    /// `nonce` comes from the caller's cryptographic random source:
    /// * SCRAM: the server's nonce part (printable ASCII without `,`,
    ///   e.g. 18 random bytes in base64), appended to the client's.
    /// * CRAM-MD5: the whole challenge, a msg-id such as
    ///   `<1896.697170952@postoffice.reston.mci.net>` (RFC 2195 §2) built
    ///   from a random number, the time and the host name.
    /// * Other mechanisms ignore it (pass `""`).
    pub fn new(
        mechanism: Mechanism,
        nonce: &str,
        options: ServerOptions,
    ) -> Result<Server, ServerNewError> {
        let scram = matches!(mechanism, Mechanism::ScramSha1 | Mechanism::ScramSha256);
        if scram && (nonce.is_empty() || !nonce.bytes().all(scram::is_printable)) {
            return Err(ServerNewError::InvalidNonce);
        }
        if mechanism == Mechanism::CramMd5
            && (nonce.len() < 3
                || !nonce.starts_with('<')
                || !nonce.ends_with('>')
                || !nonce.bytes().all(|b| (0x20..=0x7e).contains(&b)))
        {
            return Err(ServerNewError::InvalidChallenge);
        }
        Ok(Server {
            mechanism,
            options,
            nonce: nonce.as_bytes().to_vec(),
            state: State::Initial,
        })
    }

    /// The mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// True after `Success` or `Failure`.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn fail(&mut self, reason: FailureReason) -> ServerStep {
        self.state = State::Done;
        ServerStep::Failure(reason)
    }

    /// Starts the exchange, with the client's initial response if the
    /// command carried one (decoded; `=` means `Some(b"")`, RFC 4954 §4).
    pub fn start(&mut self, initial_response: Option<&[u8]>) -> ServerStep {
        if !matches!(self.state, State::Initial) {
            return self.fail(FailureReason::UnexpectedResponse);
        }
        if initial_response.is_some_and(|ir| ir.len() > self.options.max_response_len) {
            return self.fail(FailureReason::TooLong);
        }
        match (self.mechanism, initial_response) {
            (Mechanism::CramMd5, Some(ir)) if !ir.is_empty() => {
                self.fail(FailureReason::InitialResponseNotAllowed)
            }
            (Mechanism::CramMd5, _) => {
                self.state = State::AwaitFirst;
                ServerStep::Challenge(self.nonce.clone())
            }
            (Mechanism::Login, Some(ir)) if !ir.is_empty() => {
                // Some clients send the user name as initial response.
                self.state = State::LoginAwaitUser;
                self.step(ir)
            }
            (Mechanism::Login, _) => {
                self.state = State::LoginAwaitUser;
                ServerStep::Challenge(b"Username:".to_vec())
            }
            (_, Some(ir)) => {
                self.state = State::AwaitFirst;
                self.step(ir)
            }
            (_, None) => {
                self.state = State::AwaitFirst;
                ServerStep::Challenge(Vec::new())
            }
        }
    }

    /// [`Server::start`] from the base64 argument of the command
    /// (`=` for an empty response), or `None` without one.
    pub fn start_line(&mut self, initial_response: Option<&[u8]>) -> ServerStep {
        match initial_response {
            None => self.start(None),
            Some(line) => {
                if line.len() / 4 * 3 > self.options.max_response_len + 3 {
                    return self.fail(FailureReason::TooLong);
                }
                match framing::decode_initial_response(line) {
                    Ok(ir) => {
                        let ir = Zeroizing::new(ir);
                        self.start(Some(&ir))
                    }
                    Err(_) => self.fail(FailureReason::BadBase64),
                }
            }
        }
    }

    /// Feeds a client line (base64, `*` to cancel, RFC 4954 §4) to
    /// [`Server::step`] or [`Server::cancel`].
    pub fn step_line(&mut self, line: &[u8]) -> ServerStep {
        if line.len() / 4 * 3 > self.options.max_response_len + 3 {
            return self.fail(FailureReason::TooLong);
        }
        match framing::decode_client_line(line) {
            Ok(ClientLine::Cancel) => self.cancel(),
            Ok(ClientLine::Response(r)) => {
                let r = Zeroizing::new(r);
                self.step(&r)
            }
            Err(_) => self.fail(FailureReason::BadBase64),
        }
    }

    /// The client cancelled (`*`): the exchange fails with
    /// [`FailureReason::Cancelled`].
    pub fn cancel(&mut self) -> ServerStep {
        self.fail(FailureReason::Cancelled)
    }

    /// Feeds the client's response to the last challenge (decoded).
    pub fn step(&mut self, response: &[u8]) -> ServerStep {
        if response.len() > self.options.max_response_len {
            return self.fail(FailureReason::TooLong);
        }
        let state = core::mem::replace(&mut self.state, State::Done);
        match (self.mechanism, state) {
            (Mechanism::Plain, State::AwaitFirst) => match parse_plain(response) {
                Ok((authzid, authcid, password)) => {
                    self.state = State::AwaitPassword {
                        authcid: authcid.clone(),
                        authzid: authzid.clone(),
                        check: PasswordCheck::Given(password),
                    };
                    ServerStep::NeedPassword { authcid, authzid }
                }
                Err(m) => self.fail(FailureReason::Malformed(m)),
            },
            (Mechanism::Login, State::LoginAwaitUser) => match login_field(response) {
                Some(username) if !username.is_empty() => {
                    self.state = State::LoginAwaitPassword { username };
                    ServerStep::Challenge(b"Password:".to_vec())
                }
                _ => self.fail(FailureReason::Malformed("LOGIN user name")),
            },
            (Mechanism::Login, State::LoginAwaitPassword { username }) => {
                match login_field(response) {
                    Some(password) if !password.is_empty() => {
                        self.state = State::AwaitPassword {
                            authcid: username.clone(),
                            authzid: None,
                            check: PasswordCheck::Given(Secret::new(password)),
                        };
                        ServerStep::NeedPassword {
                            authcid: username,
                            authzid: None,
                        }
                    }
                    _ => self.fail(FailureReason::Malformed("LOGIN password")),
                }
            }
            (Mechanism::CramMd5, State::AwaitFirst) => match parse_cram(response) {
                Ok((authcid, digest)) => {
                    self.state = State::AwaitPassword {
                        authcid: authcid.clone(),
                        authzid: None,
                        check: PasswordCheck::CramDigest(digest),
                    };
                    ServerStep::NeedPassword {
                        authcid,
                        authzid: None,
                    }
                }
                Err(m) => self.fail(FailureReason::Malformed(m)),
            },
            (Mechanism::ScramSha1 | Mechanism::ScramSha256, State::AwaitFirst) => {
                self.scram_first(response)
            }
            (
                Mechanism::ScramSha1 | Mechanism::ScramSha256,
                state @ State::ScramAwaitFinal { .. },
            ) => self.scram_final(state, response),
            (
                Mechanism::ScramSha1 | Mechanism::ScramSha256,
                State::ScramAwaitAck { authcid, authzid },
            ) => {
                // RFC 5802 §5: the client answers the server-final
                // challenge with an empty response (RFC 4422 §3.6 style).
                if response.is_empty() {
                    ServerStep::Success {
                        authcid,
                        authzid,
                        additional_data: None,
                    }
                } else {
                    self.fail(FailureReason::Malformed(
                        "non-empty response to server-final",
                    ))
                }
            }
            (Mechanism::XOAuth2, State::AwaitFirst) => match parse_xoauth2(response) {
                Ok((user, token)) => {
                    self.state = State::AwaitToken { authzid: None };
                    ServerStep::NeedVerifyToken {
                        user: Some(user),
                        token,
                        host: None,
                        port: None,
                    }
                }
                Err(r) => self.fail(r),
            },
            (Mechanism::OAuthBearer, State::AwaitFirst) => match parse_oauthbearer(response) {
                Ok(m) => {
                    self.state = State::AwaitToken {
                        authzid: m.authzid.clone(),
                    };
                    ServerStep::NeedVerifyToken {
                        user: m.authzid,
                        token: m.token,
                        host: m.host,
                        port: m.port,
                    }
                }
                Err(r) => self.fail(r),
            },
            (Mechanism::XOAuth2 | Mechanism::OAuthBearer, State::OAuthAwaitErrorAck) => {
                // RFC 7628 §3.2.3: whatever the client answers (it should be
                // a lone %x01, or empty for XOAUTH2), the exchange fails.
                self.fail(FailureReason::InvalidCredentials)
            }
            (Mechanism::External, State::AwaitFirst) => match core::str::from_utf8(response) {
                Ok(a) if !a.contains('\0') => {
                    let authzid = (!a.is_empty()).then(|| a.to_owned());
                    self.state = State::AwaitExternal {
                        authzid: authzid.clone(),
                    };
                    ServerStep::NeedExternal { authzid }
                }
                _ => self.fail(FailureReason::Malformed("EXTERNAL authzid")),
            },
            _ => self.fail(FailureReason::UnexpectedResponse),
        }
    }

    fn scram_hash(&self) -> ScramHash {
        if self.mechanism == Mechanism::ScramSha1 {
            ScramHash::Sha1
        } else {
            ScramHash::Sha256
        }
    }

    fn scram_first(&mut self, response: &[u8]) -> ServerStep {
        let cf = match scram::client_first(response) {
            Ok(cf) => cf,
            Err(m) => return self.fail(FailureReason::Malformed(m.0)),
        };
        match cf.gs2.flag {
            // "y": the client could bind but thinks we cannot, which is
            // true: we offer no -PLUS mechanism (RFC 5802 §6).
            CbindFlag::No | CbindFlag::Yes => {}
            CbindFlag::Required => return self.fail(FailureReason::ChannelBindingNotSupported),
        }
        if cf.mandatory_ext {
            return self.fail(FailureReason::UnsupportedExtension);
        }
        let authcid = match scram::decode_saslname(cf.username) {
            Ok(a) => a,
            Err(m) => return self.fail(FailureReason::Malformed(m.0)),
        };
        let authzid = match cf.gs2.authzid.map(scram::decode_saslname).transpose() {
            Ok(a) => a,
            Err(m) => return self.fail(FailureReason::Malformed(m.0)),
        };
        self.state = State::ScramAwaitCredentials {
            authcid: authcid.clone(),
            authzid: authzid.clone(),
            gs2_header: cf.gs2.raw.to_vec(),
            client_first_bare: cf.bare.to_vec(),
            client_nonce: cf.nonce.to_vec(),
        };
        ServerStep::NeedScramCredentials { authcid, authzid }
    }

    fn scram_final(&mut self, state: State, response: &[u8]) -> ServerStep {
        let State::ScramAwaitFinal {
            authcid,
            authzid,
            gs2_header,
            auth_message_prefix,
            full_nonce,
            creds,
        } = state
        else {
            return self.fail(FailureReason::UnexpectedResponse);
        };
        let cf = match scram::client_final(response) {
            Ok(cf) => cf,
            Err(m) => return self.fail(FailureReason::Malformed(m.0)),
        };
        if cf.channel_binding != STANDARD.encode(&gs2_header).as_bytes() {
            return self.fail(FailureReason::ChannelBindingMismatch);
        }
        if !bool::from(cf.nonce.ct_eq(&full_nonce)) {
            return self.fail(FailureReason::NonceMismatch);
        }
        let Ok(proof) = scram::b64(cf.proof).map(Zeroizing::new) else {
            return self.fail(FailureReason::Malformed("bad proof base64"));
        };
        let hash = creds.hash();
        if proof.len() != hash.output_len() {
            return self.fail(FailureReason::Malformed("bad proof length"));
        }
        let mut auth_message = Zeroizing::new(auth_message_prefix);
        auth_message.extend_from_slice(cf.without_proof);
        // RFC 5802 §3: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage);
        // the proof is right when H(ClientKey) == StoredKey.
        let client_signature = hash.hmac(creds.stored_key().expose(), &auth_message);
        let client_key: Zeroizing<Vec<u8>> = Zeroizing::new(
            proof
                .iter()
                .zip(client_signature.iter())
                .map(|(a, b)| a ^ b)
                .collect(),
        );
        if !creds.stored_key().ct_eq(&hash.h(&client_key)) {
            return self.fail(FailureReason::InvalidCredentials);
        }
        let server_signature = hash.hmac(creds.server_key().expose(), &auth_message);
        let mut server_final = b"v=".to_vec();
        server_final.extend_from_slice(STANDARD.encode(&*server_signature).as_bytes());
        if self.options.scram_final_with_success {
            ServerStep::Success {
                authcid,
                authzid,
                additional_data: Some(server_final),
            }
        } else {
            self.state = State::ScramAwaitAck { authcid, authzid };
            ServerStep::Challenge(server_final)
        }
    }

    /// Answers [`ServerStep::NeedPassword`] with the user's password; the
    /// machine compares (PLAIN, LOGIN) or computes the CRAM-MD5 digest and
    /// compares, in constant time.
    pub fn provide_password(
        &mut self,
        password: Secret<String>,
    ) -> Result<ServerStep, AnswerError<Secret<String>>> {
        let State::AwaitPassword { .. } = self.state else {
            return Err(AnswerError {
                value: password,
                kind: AnswerErrorKind::WrongState,
            });
        };
        let State::AwaitPassword {
            authcid,
            authzid,
            check,
        } = core::mem::replace(&mut self.state, State::Done)
        else {
            return Ok(ServerStep::Failure(FailureReason::UnexpectedResponse));
        };
        let ok = match check {
            PasswordCheck::Given(given) => given.ct_eq(password.expose().as_bytes()),
            PasswordCheck::CramDigest(digest) => {
                match <Hmac<Md5> as Mac>::new_from_slice(password.expose().as_bytes()) {
                    Ok(mut mac) => {
                        mac.update(&self.nonce);
                        bool::from(mac.finalize().into_bytes().as_slice().ct_eq(&digest))
                    }
                    Err(_) => false,
                }
            }
        };
        Ok(self.outcome(ok, authcid, authzid))
    }

    /// Answers [`ServerStep::NeedPassword`] for PLAIN or LOGIN by letting
    /// `verify` check the client's password (e.g. against a stored hash).
    /// For CRAM-MD5 this returns [`AnswerErrorKind::WrongValue`]: the
    /// mechanism needs the password itself.
    pub fn check_password<F>(&mut self, verify: F) -> Result<ServerStep, AnswerError<F>>
    where
        F: FnOnce(&Secret<String>) -> bool,
    {
        match &self.state {
            State::AwaitPassword {
                check: PasswordCheck::Given(_),
                ..
            } => {}
            State::AwaitPassword { .. } => {
                return Err(AnswerError {
                    value: verify,
                    kind: AnswerErrorKind::WrongValue,
                });
            }
            _ => {
                return Err(AnswerError {
                    value: verify,
                    kind: AnswerErrorKind::WrongState,
                });
            }
        }
        let State::AwaitPassword {
            authcid,
            authzid,
            check: PasswordCheck::Given(given),
        } = core::mem::replace(&mut self.state, State::Done)
        else {
            return Ok(ServerStep::Failure(FailureReason::UnexpectedResponse));
        };
        let ok = verify(&given);
        Ok(self.outcome(ok, authcid, authzid))
    }

    fn outcome(&mut self, ok: bool, authcid: String, authzid: Option<String>) -> ServerStep {
        if ok {
            self.state = State::Done;
            ServerStep::Success {
                authcid,
                authzid,
                additional_data: None,
            }
        } else {
            self.fail(FailureReason::InvalidCredentials)
        }
    }

    /// Answers [`ServerStep::NeedScramCredentials`] with the user's stored
    /// SCRAM keys; returns the server-first challenge. Credentials for the
    /// other hash give [`AnswerErrorKind::WrongValue`].
    pub fn provide_scram_credentials(
        &mut self,
        credentials: ScramCredentials,
    ) -> Result<ServerStep, AnswerError<ScramCredentials>> {
        if !matches!(self.state, State::ScramAwaitCredentials { .. }) {
            return Err(AnswerError {
                value: credentials,
                kind: AnswerErrorKind::WrongState,
            });
        }
        if credentials.hash() != self.scram_hash() {
            return Err(AnswerError {
                value: credentials,
                kind: AnswerErrorKind::WrongValue,
            });
        }
        let State::ScramAwaitCredentials {
            authcid,
            authzid,
            gs2_header,
            client_first_bare,
            client_nonce,
        } = core::mem::replace(&mut self.state, State::Done)
        else {
            return Ok(ServerStep::Failure(FailureReason::UnexpectedResponse));
        };
        let mut full_nonce = client_nonce;
        full_nonce.extend_from_slice(&self.nonce);
        let mut server_first = b"r=".to_vec();
        server_first.extend_from_slice(&full_nonce);
        server_first.extend_from_slice(b",s=");
        server_first.extend_from_slice(STANDARD.encode(credentials.salt()).as_bytes());
        server_first.extend_from_slice(format!(",i={}", credentials.iterations()).as_bytes());
        let mut auth_message_prefix = client_first_bare;
        auth_message_prefix.push(b',');
        auth_message_prefix.extend_from_slice(&server_first);
        auth_message_prefix.push(b',');
        self.state = State::ScramAwaitFinal {
            authcid,
            authzid,
            gs2_header,
            auth_message_prefix,
            full_nonce,
            creds: credentials,
        };
        Ok(ServerStep::Challenge(server_first))
    }

    /// Answers [`ServerStep::NeedVerifyToken`]: the token is valid and
    /// grants `identity`.
    pub fn accept_token(&mut self, identity: String) -> Result<ServerStep, AnswerError<String>> {
        if !matches!(self.state, State::AwaitToken { .. }) {
            return Err(wrong_state(identity));
        }
        let State::AwaitToken { authzid } = core::mem::replace(&mut self.state, State::Done) else {
            return Ok(ServerStep::Failure(FailureReason::UnexpectedResponse));
        };
        Ok(ServerStep::Success {
            authcid: identity,
            authzid,
            additional_data: None,
        })
    }

    /// Answers [`ServerStep::NeedVerifyToken`]: the token is invalid. The
    /// returned step is the error challenge (RFC 7628 §3.2.2): `error_json`,
    /// or `{"status":"invalid_token"}` when `None`; the client's answer to
    /// it, fed to [`Server::step`], ends in `Failure`.
    pub fn reject_token(
        &mut self,
        error_json: Option<String>,
    ) -> Result<ServerStep, AnswerError<Option<String>>> {
        if !matches!(self.state, State::AwaitToken { .. }) {
            return Err(wrong_state(error_json));
        }
        self.state = State::OAuthAwaitErrorAck;
        Ok(ServerStep::Challenge(error_json.map_or_else(
            || DEFAULT_OAUTH_ERROR.to_vec(),
            String::into_bytes,
        )))
    }

    /// Answers [`ServerStep::NeedExternal`]: the client is `identity`.
    pub fn accept_external(&mut self, identity: String) -> Result<ServerStep, AnswerError<String>> {
        if !matches!(self.state, State::AwaitExternal { .. }) {
            return Err(wrong_state(identity));
        }
        let State::AwaitExternal { authzid } = core::mem::replace(&mut self.state, State::Done)
        else {
            return Ok(ServerStep::Failure(FailureReason::UnexpectedResponse));
        };
        Ok(ServerStep::Success {
            authcid: identity,
            authzid,
            additional_data: None,
        })
    }

    /// Answers any `Need*` step negatively (unknown user, forbidden
    /// authzid, no external identity): the exchange fails with
    /// [`FailureReason::InvalidCredentials`].
    pub fn reject(&mut self) -> Result<ServerStep, AnswerError<()>> {
        match self.state {
            State::AwaitPassword { .. }
            | State::ScramAwaitCredentials { .. }
            | State::AwaitToken { .. }
            | State::AwaitExternal { .. } => Ok(self.fail(FailureReason::InvalidCredentials)),
            _ => Err(AnswerError {
                value: (),
                kind: AnswerErrorKind::WrongState,
            }),
        }
    }
}

fn wrong_state<T>(value: T) -> AnswerError<T> {
    AnswerError {
        value,
        kind: AnswerErrorKind::WrongState,
    }
}

fn utf8_no_nul(b: &[u8]) -> Option<String> {
    let s = core::str::from_utf8(b).ok()?;
    (!s.contains('\0')).then(|| s.to_owned())
}

/// RFC 4616 §2: `message = [authzid] UTF8NUL authcid UTF8NUL passwd`.
fn parse_plain(m: &[u8]) -> Result<(Option<String>, String, Secret<String>), &'static str> {
    let mut parts = m.splitn(3, |b| *b == 0);
    let (Some(authzid), Some(authcid), Some(passwd)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("PLAIN message needs two NULs");
    };
    if passwd.contains(&0) {
        return Err("NUL in PLAIN password");
    }
    if authcid.is_empty() || passwd.is_empty() {
        return Err("empty PLAIN authcid or password");
    }
    let authzid = if authzid.is_empty() {
        None
    } else {
        Some(utf8_no_nul(authzid).ok_or("PLAIN authzid is not UTF-8")?)
    };
    let authcid = utf8_no_nul(authcid).ok_or("PLAIN authcid is not UTF-8")?;
    let passwd = core::str::from_utf8(passwd).map_err(|_| "PLAIN password is not UTF-8")?;
    Ok((authzid, authcid, Secret::new(passwd.to_owned())))
}

fn login_field(m: &[u8]) -> Option<String> {
    utf8_no_nul(m)
}

/// RFC 2195 §2: `user SP digest`, the digest 32 lower-case hex digits
/// (upper case is accepted).
fn parse_cram(m: &[u8]) -> Result<(String, [u8; 16]), &'static str> {
    let sp = m
        .iter()
        .rposition(|b| *b == b' ')
        .ok_or("CRAM-MD5 response without space")?;
    let (user, hexd) = (&m[..sp], &m[sp + 1..]);
    if user.is_empty() {
        return Err("empty CRAM-MD5 user name");
    }
    if hexd.len() != 32 {
        return Err("CRAM-MD5 digest is not 32 hex digits");
    }
    let mut digest = [0u8; 16];
    for (i, pair) in hexd.chunks_exact(2).enumerate() {
        let hi = hex_val(pair[0]).ok_or("CRAM-MD5 digest is not hex")?;
        let lo = hex_val(pair[1]).ok_or("CRAM-MD5 digest is not hex")?;
        digest[i] = hi << 4 | lo;
    }
    let user = utf8_no_nul(user).ok_or("CRAM-MD5 user name is not UTF-8")?;
    Ok((user, digest))
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `auth=Bearer <token>` (RFC 7628 §3.1 `auth-value`, RFC 6750 §2.1
/// `b64token`); the scheme is case-insensitive (RFC 7235 §2.1).
fn bearer_token(value: &[u8]) -> Result<Secret<String>, FailureReason> {
    let malformed = FailureReason::Malformed("auth is not \"Bearer <token>\"");
    let (scheme, token) = value.split_at_checked(7).ok_or(malformed)?;
    if !scheme.eq_ignore_ascii_case(b"Bearer ") {
        return Err(malformed);
    }
    let token = token.trim_ascii();
    if token.is_empty()
        || !token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(b))
    {
        return Err(malformed);
    }
    // Checked ASCII above.
    Ok(Secret::new(String::from_utf8_lossy(token).into_owned()))
}

/// `key=value` pairs each ending in `\x01`, then a final `\x01`
/// (RFC 7628 §3.1 `kvpairs`; XOAUTH2 has the same shape). Calls `f` per
/// pair. `key = 1*(ALPHA)`, `value = *(VCHAR / SP / HTAB / CR / LF)`.
fn kvpairs<'a>(
    i: &'a [u8],
    mut f: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), FailureReason>,
) -> Result<(), FailureReason> {
    let pair = terminated(
        (
            take_while1(|b: u8| b.is_ascii_alphabetic()),
            tag(&b"="[..]),
            take_while(|b: u8| {
                (0x20..=0x7e).contains(&b) || b == b'\t' || b == b'\r' || b == b'\n'
            }),
        ),
        tag(&b"\x01"[..]),
    );
    let mut pairs: Vec<(&[u8], &[u8])> = Vec::new();
    let r: nom::IResult<&[u8], (), ()> = all_consuming(terminated(
        fold_many0(pair, || (), |(), (k, _, v)| pairs.push((k, v))),
        tag(&b"\x01"[..]),
    ))
    .parse(i);
    if r.is_err() {
        return Err(FailureReason::Malformed("bad key=value list"));
    }
    for (k, v) in pairs {
        f(k, v)?;
    }
    Ok(())
}

fn parse_xoauth2(m: &[u8]) -> Result<(String, Secret<String>), FailureReason> {
    let mut user = None;
    let mut token = None;
    kvpairs(m, |k, v| {
        match k {
            b"user" => user = Some(utf8_no_nul(v).ok_or(FailureReason::Malformed("user"))?),
            b"auth" => token = Some(bearer_token(v)?),
            _ => {}
        }
        Ok(())
    })?;
    match (user, token) {
        (Some(u), Some(t)) if !u.is_empty() => Ok((u, t)),
        _ => Err(FailureReason::Malformed("XOAUTH2 needs user= and auth=")),
    }
}

struct OAuthBearerMessage {
    authzid: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    token: Secret<String>,
}

/// RFC 7628 §3.1: `gs2-header kvsep *kvpair kvsep`.
fn parse_oauthbearer(m: &[u8]) -> Result<OAuthBearerMessage, FailureReason> {
    let (rest, gs2) =
        scram::gs2_header(m).map_err(|_| FailureReason::Malformed("bad GS2 header"))?;
    if gs2.flag == CbindFlag::Required {
        return Err(FailureReason::ChannelBindingNotSupported);
    }
    let authzid = gs2
        .authzid
        .map(scram::decode_saslname)
        .transpose()
        .map_err(|e| FailureReason::Malformed(e.0))?;
    let rest = rest
        .strip_prefix(b"\x01")
        .ok_or(FailureReason::Malformed("missing kvsep after GS2 header"))?;
    let mut host = None;
    let mut port = None;
    let mut token = None;
    kvpairs(rest, |k, v| {
        match k {
            b"host" => host = Some(String::from_utf8_lossy(v).into_owned()),
            b"port" => {
                port = Some(
                    core::str::from_utf8(v)
                        .ok()
                        .and_then(|p| p.parse::<u16>().ok())
                        .ok_or(FailureReason::Malformed("bad port"))?,
                )
            }
            b"auth" => token = Some(bearer_token(v)?),
            _ => {}
        }
        Ok(())
    })?;
    let token = token.ok_or(FailureReason::Malformed("OAUTHBEARER needs auth="))?;
    Ok(OAuthBearerMessage {
        authzid,
        host,
        port,
        token,
    })
}

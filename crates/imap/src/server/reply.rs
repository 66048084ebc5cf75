//! The application's answers: greeting, data for a command, streamed FETCH
//! literals, completions, and pushed updates.

use std::num::NonZeroU32;
use std::time::Instant;

use super::event::{Event, Handle};
use super::state::{Kind, Pending, State};
use super::{ConnectionError, PushError, Queued, ReplyError, Server, text};
use crate::types::core::Text;
use crate::types::fetch::{FetchItem, Section};
use crate::types::response::{Code, Data, Response, StatusKind, StatusResponse};

/// How a command ends (RFC 9051 §7.1): the tagged status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `OK`: success.
    Ok,
    /// `NO`: failure.
    No,
    /// `BAD`: protocol error.
    Bad,
}

impl Outcome {
    fn kind(self) -> StatusKind {
        match self {
            Outcome::Ok => StatusKind::Ok,
            Outcome::No => StatusKind::No,
            Outcome::Bad => StatusKind::Bad,
        }
    }
}

/// A status: OK, NO or BAD with an optional response code and a text.
/// Tagged it completes a command ([`Server::complete`]); untagged it is
/// data ([`Server::send_status`], e.g. `* OK [UIDVALIDITY 3857529045] UIDs valid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion<'a> {
    /// OK, NO or BAD.
    pub outcome: Outcome,
    /// The response code (`[READ-WRITE]`, `[TRYCREATE]`, `[APPENDUID ...]` ...).
    pub code: Option<Code<'a>>,
    /// The human-readable text.
    pub text: Text<'a>,
}

impl Completion<'static> {
    /// `OK text` (CR, LF and NUL in `text` become spaces).
    pub fn ok(t: &str) -> Self {
        Completion {
            outcome: Outcome::Ok,
            code: None,
            text: text(t),
        }
    }

    /// `NO text`.
    pub fn no(t: &str) -> Self {
        Completion {
            outcome: Outcome::No,
            code: None,
            text: text(t),
        }
    }

    /// `BAD text`.
    pub fn bad(t: &str) -> Self {
        Completion {
            outcome: Outcome::Bad,
            code: None,
            text: text(t),
        }
    }
}

impl<'a> Completion<'a> {
    /// The same with a response code.
    pub fn with_code<'b>(self, code: Code<'b>) -> Completion<'b>
    where
        'a: 'b,
    {
        Completion {
            outcome: self.outcome,
            code: Some(code),
            text: self.text,
        }
    }

    fn encode(&self, tag: Option<&crate::types::core::Tag<'_>>, out: &mut Vec<u8>) {
        crate::encode::response(
            &Response::Status(StatusResponse {
                tag: tag.cloned(),
                kind: self.outcome.kind(),
                code: self.code.clone(),
                text: self.text.clone(),
            }),
            out,
        );
    }
}

/// The greeting (RFC 9051 §7.1.1, §7.1.4, §7.1.5), decided by the
/// application before the machine exists.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Greeting {
    /// `* OK [CAPABILITY ...] text`: not authenticated.
    Ok(String),
    /// `* PREAUTH [CAPABILITY ...] text`: already authenticated (e.g. by
    /// the TLS client certificate or a local pipe).
    PreAuth(String),
    /// `* BYE text`: refused; the machine closes at once.
    Bye(String),
}

impl Greeting {
    /// `* OK` with this text.
    pub fn ok(text: &str) -> Greeting {
        Greeting::Ok(text.to_owned())
    }
}

/// The attribute whose data a FETCH response streams as a literal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Streamed<'a> {
    /// `BODY[section]<origin>`.
    Body {
        /// The section.
        section: Section<'a>,
        /// The first octet returned, for a partial FETCH.
        origin: Option<u32>,
    },
    /// `BINARY[part]<origin>` (RFC 3516).
    Binary {
        /// The part.
        part: Vec<NonZeroU32>,
        /// The first octet returned.
        origin: Option<u32>,
        /// Sent as a `literal8` (`~{n}`): the data holds NUL. RFC 3516
        /// §4.2: without NUL the server SHOULD send a plain literal, so
        /// that a client learns from the syntax alone whether NUL is there.
        literal8: bool,
    },
    /// `RFC822`.
    Rfc822,
    /// `RFC822.HEADER`.
    Rfc822Header,
    /// `RFC822.TEXT`.
    Rfc822Text,
}

/// A FETCH response whose last attribute streams as a literal of `length`
/// octets: `* seq FETCH (items... BODY[] {length}`, then
/// [`Server::send_literal_chunk`] until `length` octets went out, after
/// which the machine closes the response with `)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchLiteral<'a> {
    /// The message sequence number.
    pub seq: NonZeroU32,
    /// The attributes before the streamed one (UID, FLAGS ...).
    pub items: Vec<FetchItem<'a>>,
    /// The streamed attribute.
    pub item: Streamed<'a>,
    /// Its length in octets.
    pub length: u64,
}

/// What a misuse is, before the value to hand back is known.
#[derive(Debug, Clone, Copy)]
pub(super) enum Misuse {
    Unknown,
    Wrong,
    Closed,
}

impl Misuse {
    pub(super) fn with<T>(self, v: T) -> ReplyError<T> {
        match self {
            Misuse::Unknown => ReplyError::UnknownHandle(v),
            Misuse::Wrong => ReplyError::WrongAnswer(v),
            Misuse::Closed => ReplyError::Closed(v),
        }
    }
}

impl Server {
    pub(super) fn greet(&mut self, greeting: Greeting, now: Instant) {
        let (kind, t) = match greeting {
            Greeting::Ok(t) => (StatusKind::Ok, t),
            Greeting::PreAuth(t) => {
                self.state = State::Authenticated(super::auth::Authenticated::preauth());
                (StatusKind::PreAuth, t)
            }
            Greeting::Bye(t) => {
                self.bye(None, &t);
                self.close(ConnectionError::Refused);
                return;
            }
        };
        let code = if self.options.capability_in_greeting {
            self.capability_code()
        } else {
            None
        };
        self.status(None, kind, code, &t);
        self.arm_autologout(now);
    }

    pub(super) fn misuse(
        &self,
        handle: Handle,
        fits: impl Fn(&Pending) -> bool,
    ) -> Result<(), Misuse> {
        if self.closed {
            return Err(Misuse::Closed);
        }
        match &self.pending {
            Some((h, p)) if *h == handle => {
                if fits(p) {
                    Ok(())
                } else {
                    Err(Misuse::Wrong)
                }
            }
            _ => Err(Misuse::Unknown),
        }
    }

    fn command_open(p: &Pending) -> bool {
        matches!(
            p,
            Pending::Command {
                literal_left: None,
                ..
            }
        )
    }

    fn holds_expunge(&self) -> bool {
        matches!(
            &self.pending,
            Some((
                _,
                Pending::Command {
                    holds_expunge: true,
                    ..
                }
            ))
        )
    }

    /// Sends untagged data for the command of [`Event::Command`] (`* 18
    /// EXISTS`, `* LIST ...`, `* 12 FETCH (...)`, `* SEARCH ...`, `*
    /// ESEARCH ...`, `* STATUS ...`). An EXPUNGE or VANISHED given while
    /// FETCH, STORE or SEARCH by sequence number runs is queued instead
    /// (RFC 9051 §7.5.1). Then drain `poll_transmit`.
    pub fn send_data<'a>(
        &mut self,
        handle: Handle,
        data: Data<'a>,
    ) -> Result<(), ReplyError<Data<'a>>> {
        if let Err(m) = self.misuse(handle, Self::command_open) {
            return Err(m.with(data));
        }
        // Encoded in place: no copy of the data (a FETCH of ENVELOPE and
        // BODYSTRUCTURE is mostly owned strings), no buffer per response.
        if is_expunge(&data) && self.holds_expunge() {
            let mut bytes = Vec::new();
            crate::encode::response(&Response::Data(data), &mut bytes);
            self.updates.push_back(Queued {
                expunge: true,
                bytes,
            });
        } else {
            crate::encode::response(&Response::Data(data), &mut self.out);
        }
        Ok(())
    }

    /// Sends an untagged status for the command of [`Event::Command`], e.g.
    /// `* OK [UIDVALIDITY 3857529045] UIDs valid` during SELECT, or `* OK
    /// [COPYUID ...]` during MOVE (RFC 6851 §4.3). Then drain
    /// `poll_transmit`.
    pub fn send_status<'a>(
        &mut self,
        handle: Handle,
        status: Completion<'a>,
    ) -> Result<(), ReplyError<Completion<'a>>> {
        if let Err(m) = self.misuse(handle, Self::command_open) {
            return Err(m.with(status));
        }
        status.encode(None, &mut self.out);
        Ok(())
    }

    /// Starts a FETCH response whose last attribute streams as a literal
    /// (a big `BODY[]`): writes `* seq FETCH (items... BODY[] {length}`.
    /// Then feed exactly `length` octets with
    /// [`send_literal_chunk`](Self::send_literal_chunk), draining
    /// `poll_transmit` after each, so the message never sits whole in
    /// memory. With `length` 0 the response is complete at once.
    pub fn start_fetch_literal<'a>(
        &mut self,
        handle: Handle,
        fetch: FetchLiteral<'a>,
    ) -> Result<(), ReplyError<FetchLiteral<'a>>> {
        if let Err(m) = self.misuse(handle, Self::command_open) {
            return Err(m.with(fetch));
        }
        let streamed = match &fetch.item {
            Streamed::Body { section, origin } => FetchItem::BodySection {
                section: section.clone(),
                origin: *origin,
                data: None,
            },
            Streamed::Binary { part, origin, .. } => FetchItem::Binary {
                part: part.clone(),
                origin: *origin,
                data: None,
            },
            Streamed::Rfc822 => FetchItem::Rfc822(None),
            Streamed::Rfc822Header => FetchItem::Rfc822Header(None),
            Streamed::Rfc822Text => FetchItem::Rfc822Text(None),
        };
        let literal8 = matches!(fetch.item, Streamed::Binary { literal8: true, .. });
        crate::encode::fetch_literal_head(
            fetch.seq,
            &fetch.items,
            &streamed,
            fetch.length,
            literal8,
            &mut self.out,
        );
        if fetch.length == 0 {
            self.out.extend_from_slice(b")\r\n");
        } else if let Some((_, Pending::Command { literal_left, .. })) = &mut self.pending {
            *literal_left = Some(fetch.length);
        }
        Ok(())
    }

    /// The next octets of the literal started by
    /// [`start_fetch_literal`](Self::start_fetch_literal); after the last
    /// one the machine writes `)` and CRLF. More octets than announced are
    /// refused ([`ReplyError::WrongAnswer`]). Then drain `poll_transmit`.
    pub fn send_literal_chunk(
        &mut self,
        handle: Handle,
        chunk: &[u8],
    ) -> Result<(), ReplyError<()>> {
        let len = chunk.len() as u64;
        self.misuse(
            handle,
            |p| matches!(p, Pending::Command { literal_left: Some(n), .. } if *n >= len),
        )
        .map_err(|m| m.with(()))?;
        if let Some((_, Pending::Command { literal_left, .. })) = &mut self.pending {
            let left = literal_left.map_or(0, |n| n - len);
            self.out.extend_from_slice(chunk);
            if left == 0 {
                *literal_left = None;
                self.out.extend_from_slice(b")\r\n");
            } else {
                *literal_left = Some(left);
            }
        }
        Ok(())
    }

    /// Completes the decision of `handle` with a tagged status:
    /// - [`Event::Command`]: after its data; queued updates the moment
    ///   allows go out first (RFC 9051 §7.5.1). OK to SELECT/EXAMINE
    ///   selects the mailbox, OK to CLOSE deselects it.
    /// - [`Event::LoggedIn`]: OK enters the authenticated state; NO refuses.
    /// - [`Event::Authenticate`]: NO or BAD refuses (OK is
    ///   [`ReplyError::WrongAnswer`]: give the password instead).
    ///
    /// Refused while a streamed literal is unfinished. Then drain the
    /// outputs: the machine reads the next pipelined command.
    pub fn complete<'a>(
        &mut self,
        handle: Handle,
        completion: Completion<'a>,
    ) -> Result<(), ReplyError<Completion<'a>>> {
        let ok = completion.outcome == Outcome::Ok;
        if let Err(m) = self.misuse(handle, |p| match p {
            Pending::Auth { .. } => !ok,
            Pending::LoggedIn { .. } => true,
            Pending::Command { literal_left, .. } => literal_left.is_none(),
        }) {
            return Err(m.with(completion));
        }
        let Some((_, pending)) = self.pending.take() else {
            return Ok(());
        };
        let now = self.last_now;
        match pending {
            Pending::Auth { tag, .. } => {
                self.mode = super::state::Mode::Commands;
                completion.encode(Some(&tag), &mut self.out);
            }
            Pending::LoggedIn { tag, proof } => {
                let mut completion = completion;
                if ok {
                    self.state = State::Authenticated(proof);
                    self.arm_autologout(now);
                    if completion.code.is_none() && self.options.capability_after_login {
                        completion.code = self.capability_code();
                    }
                }
                completion.encode(Some(&tag), &mut self.out);
            }
            Pending::Command {
                tag,
                kind,
                holds_expunge,
                ..
            } => {
                match (kind, ok) {
                    (Kind::Select { examine }, true) => {
                        let read_only = examine || matches!(&completion.code, Some(Code::ReadOnly));
                        if let Some(proof) = self.state.proof() {
                            self.state = State::Selected { read_only, proof };
                        }
                    }
                    // The mailbox is gone: what was queued for it is moot
                    // (and CLOSE sends no EXPUNGE, RFC 9051 §6.4.1).
                    (Kind::Close, true) => {
                        if let Some(proof) = self.state.proof() {
                            self.state = State::Authenticated(proof);
                        }
                        self.updates.clear();
                    }
                    _ => self.flush_updates(!holds_expunge),
                }
                completion.encode(Some(&tag), &mut self.out);
            }
        }
        self.process();
        Ok(())
    }

    /// Queues an untagged update from outside the client's commands (new
    /// mail, flag changes or expunges by other sessions): EXISTS, RECENT,
    /// EXPUNGE, VANISHED, FETCH or FLAGS. It goes out when RFC 9051 §7.5.1
    /// allows: at the end of the current or next command (an EXPUNGE not
    /// during FETCH, STORE or SEARCH by sequence number), or at once
    /// during IDLE. Then drain `poll_transmit`.
    pub fn push_update(&mut self, update: &Data<'_>) -> Result<(), PushError> {
        if self.closed {
            return Err(PushError::Closed);
        }
        if !matches!(
            update,
            Data::Exists(_)
                | Data::Recent(_)
                | Data::Expunge(_)
                | Data::Vanished { .. }
                | Data::Fetch { .. }
                | Data::Flags(_)
        ) {
            return Err(PushError::NotAnUpdate);
        }
        if !matches!(self.state, State::Selected { .. }) {
            return Err(PushError::NotSelected);
        }
        if self.updates.len() >= self.options.max_queued_updates {
            return Err(PushError::QueueFull);
        }
        let mut bytes = Vec::new();
        crate::encode::response(&Response::Data(update.clone()), &mut bytes);
        self.updates.push_back(Queued {
            expunge: is_expunge(update),
            bytes,
        });
        if matches!(self.mode, super::state::Mode::Idle { .. }) {
            self.flush_updates(true);
        }
        Ok(())
    }

    /// Sends the queued updates in order, stopping at the first EXPUNGE
    /// when `expunge_ok` is false (what follows it counts messages after
    /// the expunge, so it waits too).
    pub(super) fn flush_updates(&mut self, expunge_ok: bool) {
        if !matches!(self.state, State::Selected { .. }) {
            self.updates.clear();
            return;
        }
        while let Some(q) = self.updates.front() {
            if q.expunge && !expunge_ok {
                break;
            }
            if let Some(q) = self.updates.pop_front() {
                self.out.extend_from_slice(&q.bytes);
            }
        }
    }

    /// Ends the session from the application's side (e.g. shutdown): `*
    /// BYE text` and [`Event::Closed`] with [`ConnectionError::Local`].
    pub fn close_session(&mut self, text: &str) {
        if !self.closed {
            self.bye(None, text);
            self.close(ConnectionError::Local);
        }
    }

    pub(super) fn command_event(
        &mut self,
        tag: crate::types::core::Tag<'static>,
        command: crate::types::command::CommandBody<'static>,
        kind: Kind,
    ) {
        let handle = self.handle();
        self.pending = Some((
            handle,
            Pending::Command {
                tag: tag.clone(),
                kind,
                holds_expunge: super::state::holds_expunge(&command),
                literal_left: None,
            },
        ));
        // The command whose messages streamed is told: not abandoned.
        self.streamed_pending = false;
        self.events.push_back(Event::Command {
            handle,
            tag,
            command,
        });
    }
}

/// EXPUNGE, or VANISHED without EARLIER (RFC 7162 §3.2.10: the same rules).
fn is_expunge(d: &Data<'_>) -> bool {
    matches!(d, Data::Expunge(_) | Data::Vanished { earlier: false, .. })
}

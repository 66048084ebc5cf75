//! The session states of RFC 9051 §3 (RFC 3501 §3) and what the machine
//! waits for.

use super::auth::Authenticated;
use super::event::AuthMethod;
use crate::types::command::CommandBody;
use crate::types::core::Tag;
use mailwire_sasl::PendingCheck;

/// The IMAP state (RFC 9051 §3, figure in §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Before LOGIN/AUTHENTICATE (§3.1).
    NotAuthenticated,
    /// Logged in, no mailbox selected (§3.2).
    Authenticated(Authenticated),
    /// A mailbox is selected (§3.3).
    Selected {
        /// EXAMINE, or SELECT answered `READ-ONLY`.
        read_only: bool,
        /// Only an authenticated session selects.
        proof: Authenticated,
    },
    /// After LOGOUT, or the connection is over (§3.4).
    Logout,
}

/// What the input is read as.
#[derive(Debug)]
pub(crate) enum Mode {
    /// Tagged commands.
    Commands,
    /// One line of AUTHENTICATE data after a `+` challenge.
    AuthLine {
        tag: Tag<'static>,
        sasl: Box<mailwire_sasl::Server>,
    },
    /// IDLE: only `DONE` (RFC 2177 §3).
    Idle { tag: Tag<'static> },
    /// After the OK to STARTTLS: nothing until the handshake.
    WaitTls,
}

/// What a command handed to the application changes when it completes OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// SELECT (false) or EXAMINE (true).
    Select { examine: bool },
    /// CLOSE.
    Close,
    /// Anything else.
    Other,
}

/// The decision the machine waits for.
#[derive(Debug)]
pub(crate) enum Pending {
    /// Credentials ([`super::Event::Authenticate`]).
    Auth {
        tag: Tag<'static>,
        check: PendingCheck,
        username: String,
        authzid: Option<String>,
        method: AuthMethod,
    },
    /// Opening the user's store ([`super::Event::LoggedIn`]); the proof
    /// of the credential check waits for the application's OK.
    LoggedIn {
        tag: Tag<'static>,
        proof: Authenticated,
    },
    /// A command ([`super::Event::Command`]).
    Command {
        tag: Tag<'static>,
        kind: Kind,
        /// FETCH, STORE, SEARCH (and SORT, THREAD) by sequence number: no
        /// EXPUNGE may go out while they run (RFC 9051 §7.5.1).
        holds_expunge: bool,
        /// Octets of a streamed FETCH literal still due.
        literal_left: Option<u64>,
    },
}

impl State {
    /// The proof of authentication, in the authenticated and selected states.
    pub(crate) fn proof(self) -> Option<Authenticated> {
        match self {
            State::Authenticated(p) | State::Selected { proof: p, .. } => Some(p),
            _ => None,
        }
    }
}

/// Where a command may be given (RFC 9051 §6 organizes them by the
/// lowest state that allows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Allowed {
    /// §6.1: any state.
    Any,
    /// §6.2: not authenticated only.
    NotAuthenticated,
    /// §6.3: authenticated or selected.
    Authenticated,
    /// RFC 5161 §3.1: ENABLE only before a mailbox is selected.
    AuthenticatedOnly,
    /// §6.4: selected only.
    Selected,
}

impl Allowed {
    /// Where the command named `name` (upper case; `UID x` as `x` with
    /// `uid`) is allowed; `None` for an unknown name.
    pub(crate) fn of_name(name: &[u8]) -> Option<Allowed> {
        Some(match name {
            b"CAPABILITY" | b"NOOP" | b"LOGOUT" | b"ID" => Allowed::Any,
            b"STARTTLS" | b"AUTHENTICATE" | b"LOGIN" => Allowed::NotAuthenticated,
            b"ENABLE" => Allowed::AuthenticatedOnly,
            b"SELECT" | b"EXAMINE" | b"CREATE" | b"DELETE" | b"RENAME" | b"SUBSCRIBE"
            | b"UNSUBSCRIBE" | b"LIST" | b"LSUB" | b"NAMESPACE" | b"STATUS" | b"APPEND"
            | b"IDLE" | b"GETQUOTA" | b"GETQUOTAROOT" | b"SETQUOTA" | b"GETMETADATA"
            | b"SETMETADATA" | b"COMPRESS" | b"UNAUTHENTICATE" => Allowed::Authenticated,
            b"CHECK" | b"CLOSE" | b"UNSELECT" | b"EXPUNGE" | b"SEARCH" | b"FETCH" | b"STORE"
            | b"COPY" | b"MOVE" | b"SORT" | b"THREAD" | b"UID" => Allowed::Selected,
            _ => return None,
        })
    }

    /// Where a parsed command is allowed.
    pub(crate) fn of(body: &CommandBody<'_>) -> Allowed {
        let name = body.name();
        let first = name.split(' ').next().unwrap_or(name);
        Allowed::of_name(first.as_bytes()).unwrap_or(Allowed::Any)
    }

    /// Whether `state` allows it.
    pub(crate) fn permits(self, state: State) -> bool {
        match (self, state) {
            (_, State::Logout) => false,
            (Allowed::Any, _) => true,
            (Allowed::NotAuthenticated, s) => s == State::NotAuthenticated,
            (Allowed::AuthenticatedOnly, s) => matches!(s, State::Authenticated(_)),
            (Allowed::Authenticated, s) => s != State::NotAuthenticated,
            (Allowed::Selected, s) => matches!(s, State::Selected { .. }),
        }
    }
}

/// FETCH, STORE, SEARCH by sequence number (and SORT and THREAD, which
/// return sequence numbers too): RFC 9051 §7.5.1 forbids an EXPUNGE while
/// they run, so that numbers in pipelined commands stay valid (§5.5).
pub(crate) fn holds_expunge(body: &CommandBody<'_>) -> bool {
    matches!(
        body,
        CommandBody::Fetch { uid: false, .. }
            | CommandBody::Store { uid: false, .. }
            | CommandBody::Search { uid: false, .. }
            | CommandBody::Sort { uid: false, .. }
            | CommandBody::Thread { uid: false, .. }
    )
}

//! Sending: what a command is, the queue, tags, the pipelining rules of
//! RFC 9051 §5.5 and literals (synchronizing, LITERAL+, LITERAL-).

use std::collections::VecDeque;

use mailwire_sasl::framing::encode_initial_response;

use super::*;
use crate::encode::{self, EncodeOptions, Encoded};
use crate::fragment::literal_announcement;
use crate::types::command::{Command, CommandBody};
use crate::types::core::{Atom, LiteralMode, Tag};
use crate::types::fetch::FetchAttrs;
use crate::types::secret::Secret;
use crate::types::sequence::SequenceSet;

/// What a command is, as far as routing and pipelining care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Capability,
    StartTls,
    /// COMPRESS (RFC 4978).
    Compress,
    Login,
    Authenticate,
    Select,
    Enable,
    Idle,
    Logout,
    /// CLOSE or UNSELECT: leaves the selected state.
    Close,
    /// UNAUTHENTICATE (RFC 8437): back to the not authenticated state.
    Unauthenticate,
    Fetch {
        uid: bool,
    },
    Store {
        uid: bool,
    },
    Search {
        uid: bool,
    },
    Sort,
    Thread,
    List,
    Status,
    Namespace,
    Id,
    Quota,
    Metadata,
    /// EXPUNGE, COPY, MOVE, APPEND, NOOP, CREATE ...
    Other,
}

impl Kind {
    pub(super) fn of(body: &CommandBody<'_>) -> Kind {
        use CommandBody as B;
        match body {
            B::Capability => Kind::Capability,
            B::StartTls => Kind::StartTls,
            B::Compress { .. } => Kind::Compress,
            B::Login { .. } => Kind::Login,
            B::Authenticate { .. } => Kind::Authenticate,
            B::Select { .. } | B::Examine { .. } => Kind::Select,
            B::Enable(_) => Kind::Enable,
            B::Idle => Kind::Idle,
            B::Logout => Kind::Logout,
            B::Close | B::Unselect => Kind::Close,
            B::Unauthenticate => Kind::Unauthenticate,
            B::Fetch { uid, .. } => Kind::Fetch { uid: *uid },
            B::Store { uid, .. } => Kind::Store { uid: *uid },
            B::Search { uid, .. } => Kind::Search { uid: *uid },
            B::Sort { .. } => Kind::Sort,
            B::Thread { .. } => Kind::Thread,
            B::List { .. } | B::Lsub { .. } => Kind::List,
            B::Status { .. } => Kind::Status,
            B::Namespace => Kind::Namespace,
            B::Id(_) => Kind::Id,
            B::GetQuota(_) | B::GetQuotaRoot(_) | B::SetQuota { .. } => Kind::Quota,
            B::GetMetadata { .. } | B::SetMetadata { .. } => Kind::Metadata,
            _ => Kind::Other,
        }
    }

    /// Changes the session's state: waits for all before, all after wait for it.
    pub(super) fn is_barrier(self) -> bool {
        matches!(
            self,
            Kind::StartTls
                | Kind::Compress
                | Kind::Login
                | Kind::Authenticate
                | Kind::Select
                | Kind::Enable
                | Kind::Idle
                | Kind::Logout
                | Kind::Close
                | Kind::Unauthenticate
        )
    }

    /// In progress, it keeps the server from sending EXPUNGE (RFC 9051 §5.5).
    pub(super) fn blocks_expunge(self) -> bool {
        matches!(
            self,
            Kind::Fetch { uid: false } | Kind::Store { uid: false } | Kind::Search { uid: false }
        )
    }
}

/// True if the command carries message sequence numbers (RFC 9051 §5.5);
/// UID SEARCH, SORT and THREAD count too, as their keys may.
pub(super) fn uses_sequence_numbers(body: &CommandBody<'_>) -> bool {
    use CommandBody as B;
    match body {
        B::Fetch { uid, .. } | B::Store { uid, .. } | B::Copy { uid, .. } | B::Move { uid, .. } => {
            !uid
        }
        B::Search { .. } | B::Sort { .. } | B::Thread { .. } => true,
        _ => false,
    }
}

/// True if the command reads the saved search result `$` (RFC 5182 §2.4).
pub(super) fn uses_saved_result(body: &CommandBody<'_>) -> bool {
    use CommandBody as B;
    match body {
        B::Fetch { set, .. }
        | B::Store { set, .. }
        | B::Copy { set, .. }
        | B::Move { set, .. }
        | B::UidExpunge(set) => matches!(set, SequenceSet::Saved),
        _ => false,
    }
}

/// True for a CONDSTORE enabling command (RFC 7162 §3.1): SELECT/EXAMINE
/// (CONDSTORE), FETCH with MODSEQ or CHANGEDSINCE, STORE with UNCHANGEDSINCE.
fn enables_condstore(body: &CommandBody<'_>) -> bool {
    use crate::types::command::{FetchModifier, SelectParam};
    use crate::types::fetch::FetchAttr;
    match body {
        CommandBody::Select { params, .. } | CommandBody::Examine { params, .. } => {
            params.contains(&SelectParam::CondStore)
        }
        CommandBody::Fetch {
            attrs, modifiers, ..
        } => {
            matches!(attrs, FetchAttrs::List(a) if a.contains(&FetchAttr::ModSeq))
                || modifiers
                    .iter()
                    .any(|m| matches!(m, FetchModifier::ChangedSince(_)))
        }
        CommandBody::Store {
            unchanged_since, ..
        } => unchanged_since.is_some(),
        _ => false,
    }
}

/// A command waiting to be sent.
#[derive(Debug)]
pub(super) enum Queued {
    Command(CommandBody<'static>),
    Authenticate(Box<mailwire_sasl::Client>),
}

/// Where an IDLE stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Idle {
    /// IDLE sent, no `+` yet. `announce`: first issue (not a refresh).
    Sent { announce: bool, done: bool },
    /// `+` received: idling.
    Active,
    /// DONE sent; `refresh`: issue IDLE again after the tagged OK.
    Ending { refresh: bool },
}

/// A command sent and not yet completed.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) handle: CommandHandle,
    pub(super) tag: String,
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    /// Sent by the machine itself (CAPABILITY): no Completed event.
    pub(super) internal: bool,
    pub(super) data: Vec<Received>,
    /// Fragments still to send, each after a continuation request.
    pub(super) rest: VecDeque<Vec<u8>>,
    pub(super) sasl: Option<Box<mailwire_sasl::Client>>,
    /// The SASL exchange was cancelled with `*`.
    pub(super) sasl_cancelled: bool,
    pub(super) idle: Option<Idle>,
    /// SELECT/EXAMINE: the mailbox being opened.
    pub(super) select: Option<SelectedMailbox>,
    /// FETCH/STORE: the set, to attribute FETCH responses.
    pub(super) set: Option<SequenceSet>,
    /// A CONDSTORE enabling command (RFC 7162 §3.1): its OK enables CONDSTORE.
    pub(super) enables_condstore: bool,
}

impl InFlight {
    pub(super) fn awaits_continuation(&self) -> bool {
        !self.rest.is_empty()
            || (self.kind == Kind::Authenticate && !self.sasl_cancelled)
            || matches!(self.idle, Some(Idle::Sent { .. }))
    }

    /// Waits for the server (not an active IDLE).
    pub(super) fn awaits_response(&self) -> bool {
        !matches!(self.idle, Some(Idle::Active))
    }
}

impl Client {
    // ----- internals: sending ------------------------------------------

    pub(super) fn push_queue(&mut self, q: Queued) -> CommandHandle {
        let handle = CommandHandle(self.next_handle);
        self.next_handle += 1;
        self.queue.push_back((handle, q));
        self.pump();
        handle
    }

    pub(super) fn login_disabled(&self) -> bool {
        self.caps.as_ref().is_some_and(|c| c.has("LOGINDISABLED"))
    }

    pub(super) fn idle_pending(&self) -> bool {
        self.inflight.iter().any(|c| c.kind == Kind::Idle)
            || self
                .queue
                .iter()
                .any(|(_, q)| matches!(q, Queued::Command(CommandBody::Idle)))
    }

    /// COMPRESS is active, about to be, or queued or in progress (RFC 4978 §3).
    pub(super) fn compress_pending(&self) -> bool {
        self.compressed
            || self.wait_compress
            || self.inflight.iter().any(|c| c.kind == Kind::Compress)
            || self
                .queue
                .iter()
                .any(|(_, q)| matches!(q, Queued::Command(CommandBody::Compress { .. })))
    }

    pub(super) fn next_tag(&mut self) -> Tag<'static> {
        let n = self.next_tag;
        self.next_tag += 1;
        let w = self.options.tag_width;
        // A valid tag followed by digits (ASTRING-CHARs other than `+`) is a valid tag.
        Tag::unvalidated(format!("{}{n:0w$}", self.options.tag_prefix))
    }

    /// Sends queued commands while the pipelining rules allow.
    pub(super) fn pump(&mut self) {
        while self.greeted && !self.wait_tls && !self.wait_compress && !self.closed {
            if self
                .inflight
                .iter()
                .any(|c| !c.rest.is_empty() || c.kind.is_barrier() || c.internal)
            {
                return;
            }
            let Some((_, q)) = self.queue.front() else {
                return;
            };
            let go = self.inflight.is_empty()
                || (self.options.pipelining
                    && match q {
                        Queued::Authenticate(_) => false,
                        Queued::Command(b) => {
                            !Kind::of(b).is_barrier()
                                && !uses_saved_result(b)
                                && (!uses_sequence_numbers(b)
                                    || self.inflight.iter().all(|c| c.kind.blocks_expunge()))
                        }
                    });
            if !go {
                return;
            }
            let Some((handle, q)) = self.queue.pop_front() else {
                return;
            };
            match q {
                Queued::Command(body) => {
                    if matches!(body, CommandBody::Login { .. }) && self.login_disabled() {
                        // The capabilities became known after it was queued.
                        self.events.push_back(Event::Refused {
                            handle,
                            error: SendError::LoginDisabled(body),
                        });
                        continue;
                    }
                    self.send(handle, body, false);
                }
                Queued::Authenticate(sasl) => self.send_authenticate(handle, sasl),
            }
        }
    }

    pub(super) fn literal_mode(&self, sync: &Encoded) -> LiteralMode {
        let Some(caps) = &self.caps else {
            return LiteralMode::Sync;
        };
        if !self.options.literal_plus || sync.waits() == 0 {
            return LiteralMode::Sync;
        }
        if caps.has("LITERAL+") {
            return LiteralMode::NonSync;
        }
        if caps.has("LITERAL-") || caps.has("IMAP4rev2") {
            // RFC 7888 §5: LITERAL- allows `{n+}` only up to 4096 octets.
            let small = sync.fragments().take(sync.waits()).all(|f| {
                let line = f.strip_suffix(b"\r\n").unwrap_or(f);
                literal_announcement(line).is_some_and(|(n, _, _)| n <= 4096)
            });
            if small {
                return LiteralMode::NonSync;
            }
        }
        LiteralMode::Sync
    }

    pub(super) fn send(
        &mut self,
        handle: CommandHandle,
        body: CommandBody<'static>,
        internal: bool,
    ) {
        let tag = self.next_tag();
        let kind = Kind::of(&body);
        let name = body.name();
        let cmd = Command { tag, body };
        let sync = encode::command(&cmd, EncodeOptions::default());
        let encoded = match self.literal_mode(&sync) {
            LiteralMode::Sync => sync,
            mode => encode::command(&cmd, EncodeOptions { literal_mode: mode }),
        };
        let mut rest: VecDeque<Vec<u8>> = encoded.fragments().map(<[u8]>::to_vec).collect();
        if let Some(first) = rest.pop_front() {
            self.out.extend_from_slice(&first);
        }
        let enables_condstore = enables_condstore(&cmd.body);
        let (select, set) = match &cmd.body {
            CommandBody::Select { mailbox, .. } => {
                (Some(SelectedMailbox::new(mailbox.clone(), false)), None)
            }
            CommandBody::Examine { mailbox, .. } => {
                (Some(SelectedMailbox::new(mailbox.clone(), true)), None)
            }
            CommandBody::Fetch { set, .. } | CommandBody::Store { set, .. } => {
                (None, Some(set.clone()))
            }
            _ => (None, None),
        };
        self.inflight.push_back(InFlight {
            handle,
            tag: cmd.tag.as_str().to_owned(),
            name,
            kind,
            internal,
            data: Vec::new(),
            rest,
            sasl: None,
            sasl_cancelled: false,
            idle: (kind == Kind::Idle).then_some(Idle::Sent {
                announce: true,
                done: false,
            }),
            select,
            set,
            enables_condstore,
        });
    }

    pub(super) fn send_authenticate(
        &mut self,
        handle: CommandHandle,
        sasl: Box<mailwire_sasl::Client>,
    ) {
        let tag = self.next_tag();
        let sasl_ir = self.caps.as_ref().is_some_and(Capabilities::sasl_ir);
        let initial = if sasl_ir {
            sasl.initial_response()
                .and_then(|r| Atom::new(encode_initial_response(&r)).ok())
                .map(Secret::new)
        } else {
            None
        };
        let mechanism = Atom::unvalidated(sasl.mechanism().name());
        let cmd = Command {
            tag,
            body: CommandBody::Authenticate {
                mechanism,
                initial_response: initial,
            },
        };
        self.out
            .extend_from_slice(encode::command(&cmd, EncodeOptions::default()).as_bytes());
        self.inflight.push_back(InFlight {
            handle,
            tag: cmd.tag.as_str().to_owned(),
            name: "AUTHENTICATE",
            kind: Kind::Authenticate,
            internal: false,
            data: Vec::new(),
            rest: VecDeque::new(),
            sasl: Some(sasl),
            sasl_cancelled: false,
            idle: None,
            select: None,
            set: None,
            enables_condstore: false,
        });
    }

    pub(super) fn ask_capabilities(&mut self) {
        if self.options.auto_capability && self.caps.is_none() && !self.closed {
            let handle = CommandHandle(0);
            self.send(handle, CommandBody::Capability, true);
        }
    }
}

//! What the machine remembers about the session: capabilities, enabled
//! extensions and the selected mailbox.

use std::num::NonZeroU32;

use crate::types::core::Atom;
use crate::types::flag::{Capability, Flag};
use crate::types::mailbox::Mailbox;
use crate::types::response::Code;

/// The server's capabilities (RFC 9051 §7.2.2), upper-cased. Names compare
/// without case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities(Vec<String>);

impl Capabilities {
    pub(crate) fn from_atoms<'a>(caps: impl IntoIterator<Item = &'a Capability<'a>>) -> Self {
        Capabilities(
            caps.into_iter()
                .map(|c| c.as_str().to_ascii_uppercase())
                .collect(),
        )
    }

    pub(crate) fn push(&mut self, name: String) {
        self.0.push(name);
    }

    /// True if the server announced `name` (any case).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// The SASL mechanisms announced as `AUTH=...`.
    pub fn auth_mechanisms(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|c| c.strip_prefix("AUTH="))
    }

    /// Every capability, upper-cased, in the server's order.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// SASL-IR (RFC 4959), which IMAP4rev2 includes (RFC 9051 §6.2.2).
    pub(crate) fn sasl_ir(&self) -> bool {
        self.has("SASL-IR") || self.has("IMAP4rev2")
    }
}

/// The mailbox selected with SELECT or EXAMINE, kept up to date from the
/// server's responses (RFC 9051 §6.3.2, §7.3, §7.4; RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelectedMailbox {
    /// The mailbox name as sent.
    pub name: Mailbox<'static>,
    /// EXAMINE, or `[READ-ONLY]` in the tagged OK.
    pub read_only: bool,
    /// Number of messages (`EXISTS`, minus one per `EXPUNGE`, minus the
    /// UIDs of each `VANISHED` without `EARLIER`).
    pub exists: u32,
    /// `RECENT` (IMAP4rev1 only).
    pub recent: Option<u32>,
    /// `UIDVALIDITY`.
    pub uid_validity: Option<NonZeroU32>,
    /// `UIDNEXT`.
    pub uid_next: Option<NonZeroU32>,
    /// `UNSEEN` (IMAP4rev1 only): the first unseen message.
    pub unseen: Option<NonZeroU32>,
    /// `HIGHESTMODSEQ` (RFC 7162 §3.1.2.1); `None` also after `NOMODSEQ`.
    pub highest_modseq: Option<u64>,
    /// `FLAGS`: the flags defined in the mailbox.
    pub flags: Vec<Flag<'static>>,
    /// `PERMANENTFLAGS`: the flags the client can change permanently.
    pub permanent_flags: Vec<Flag<'static>>,
    /// `MAILBOXID` (RFC 8474 §4.2): the server-assigned identifier of the
    /// mailbox, sent among SELECT's and EXAMINE's responses by a server
    /// that announces `OBJECTID`; `None` when the server sent none.
    pub mailbox_id: Option<Atom<'static>>,
}

impl SelectedMailbox {
    pub(crate) fn new(name: Mailbox<'static>, read_only: bool) -> Self {
        SelectedMailbox {
            name,
            read_only,
            exists: 0,
            recent: None,
            uid_validity: None,
            uid_next: None,
            unseen: None,
            highest_modseq: None,
            flags: Vec::new(),
            permanent_flags: Vec::new(),
            mailbox_id: None,
        }
    }

    /// Takes what a response code says about the mailbox; true if it said anything.
    pub(crate) fn apply_code(&mut self, code: &Code<'_>) -> bool {
        match code {
            Code::UidValidity(n) => self.uid_validity = Some(*n),
            Code::UidNext(n) => self.uid_next = Some(*n),
            Code::Unseen(n) => self.unseen = Some(*n),
            Code::HighestModSeq(n) => self.highest_modseq = Some(*n),
            Code::NoModSeq => self.highest_modseq = None,
            Code::PermanentFlags(f) => {
                self.permanent_flags = f.iter().cloned().map(Flag::into_owned).collect();
            }
            Code::MailboxId(id) => self.mailbox_id = Some(id.clone().into_owned()),
            Code::ReadOnly => self.read_only = true,
            Code::ReadWrite => self.read_only = false,
            _ => return false,
        }
        true
    }

    /// Applies `n EXPUNGE` (RFC 9051 §7.5.1): later messages move down by one.
    pub(crate) fn expunge(&mut self, seq: u32) {
        if seq <= self.exists {
            self.exists -= 1;
        }
    }
}

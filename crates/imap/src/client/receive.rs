//! Receiving: framing, the greeting, continuation requests, tagged
//! completions, and the routing of untagged data to the command that
//! caused it or to the application as an update; streamed FETCH bodies.

use std::num::NonZeroU32;

use bytes::Bytes;
use mailwire_sasl::framing::{decode_challenge, encode as b64};

use super::event::text_of;
use super::*;
use crate::encode::{self, EncodeOptions};
use crate::fragment::Frame;
use crate::types::command::{Command, CommandBody};
use crate::types::fetch::FetchItem;
use crate::types::flag::Flag;
use crate::types::response::{Code, Continue, Data, Response, StatusKind, StatusResponse};
use crate::types::sequence::{SeqNum, SeqRange, SequenceSet};

/// A literal being streamed out as [`Event::FetchChunk`]s.
#[derive(Debug)]
pub(super) struct Streaming {
    pub(super) handle: Option<CommandHandle>,
    pub(super) seq: NonZeroU32,
    pub(super) uid: Option<NonZeroU32>,
    pub(super) item: Bytes,
    pub(super) offset: u64,
    pub(super) total: u64,
}

impl Client {
    pub(super) fn process(&mut self) {
        while !self.closed && !self.wait_tls && !self.wait_compress {
            if let Some(chunk) = self.frag.poll_streamed() {
                self.chunk(chunk);
                continue;
            }
            match self.frag.poll() {
                Ok(None) => break,
                Ok(Some(Frame::LiteralAnnounced { length, .. })) => self.literal(length),
                Ok(Some(Frame::Message(m))) => self.message(m),
                Err(e) => self.close(ConnectionError::TooLarge(e)),
            }
        }
    }

    /// A literal is announced: stream it if it is a large FETCH body.
    pub(super) fn literal(&mut self, length: u64) {
        if length <= self.options.stream_threshold && length <= self.options.max_literal {
            return;
        }
        let Some((seq, uid, item)) = stream_context(self.frag.pending()) else {
            return; // over max_literal: the next poll reports it
        };
        if !self.frag.stream_literal() {
            return;
        }
        let handle = self
            .fetch_target(seq, uid, false)
            .map(|i| self.inflight[i].handle);
        self.streaming = Some(Streaming {
            handle,
            seq,
            uid,
            item,
            offset: 0,
            total: length,
        });
    }

    pub(super) fn chunk(&mut self, data: Bytes) {
        let done = self.frag.streaming().is_none();
        let Some(s) = self.streaming.as_mut() else {
            return;
        };
        let offset = s.offset;
        s.offset += data.len() as u64;
        self.events.push_back(Event::FetchChunk {
            handle: s.handle,
            seq: s.seq,
            uid: s.uid,
            item: s.item.clone(),
            offset,
            total: s.total,
            data,
        });
        if done {
            self.streaming = None;
        }
    }

    pub(super) fn message(&mut self, raw: Bytes) {
        // The common case parses once; only a response that fails is repaired.
        match crate::parse::response(&raw) {
            Ok((resp, _)) => {
                let rec = Received::new(raw.clone(), Vec::new());
                self.dispatch(resp, rec);
            }
            Err(first) => match repair::repair(&raw, first) {
                Some((bytes, defects)) => {
                    if let Ok((resp, _)) = crate::parse::response(&bytes) {
                        self.dispatch(resp, Received::new(bytes.clone(), defects));
                    }
                }
                None => self.malformed(raw, first),
            },
        }
    }

    pub(super) fn dispatch(&mut self, resp: Response<'_>, rec: Received) {
        if !self.greeted {
            return self.greeting(resp);
        }
        match resp {
            Response::Continue(c) => self.continuation(c, rec),
            Response::Status(s) if s.tag.is_some() => self.tagged(s, rec),
            Response::Status(s) => self.untagged_status(s, rec),
            Response::Data(d) => self.data(d, rec),
        }
    }

    /// A response that did not parse even after repairs: discarded whole.
    /// A tagged one for a command in progress still completes it (with the
    /// status word it starts with), so the session does not hang.
    pub(super) fn malformed(&mut self, raw: Bytes, error: crate::parse::ParseError) {
        if !self.greeted {
            // At most 200 bytes of it: the line may be up to `max_line` long.
            let text = String::from_utf8_lossy(&raw[..raw.len().min(200)])
                .trim_end()
                .to_owned();
            return self.close(ConnectionError::MalformedGreeting(text));
        }
        let mut words = raw.splitn(3, |&b| b == b' ' || b == b'\r');
        let (tag, status) = (words.next(), words.next());
        if let (Some(tag), Some(status)) = (tag, status)
            && let Some(kind) = ["OK", "NO", "BAD"]
                .iter()
                .find(|k| status.eq_ignore_ascii_case(k.as_bytes()))
            && self.inflight.iter().any(|c| c.tag.as_bytes() == tag)
        {
            let mut line = tag.to_vec();
            line.push(b' ');
            line.extend_from_slice(kind.as_bytes());
            line.extend_from_slice(b"\r\n");
            let bytes = Bytes::from(line);
            if let Ok((Response::Status(s), _)) = crate::parse::response(&bytes) {
                let defect = Defect {
                    kind: DefectKind::TextDropped,
                    offset: tag.len() + 1 + status.len(),
                };
                let rec = Received::new(bytes.clone(), vec![defect]);
                return self.tagged(s, rec);
            }
        }
        self.events
            .push_back(Event::Update(Update::Malformed { bytes: raw, error }));
    }

    pub(super) fn greeting(&mut self, resp: Response<'_>) {
        match resp {
            Response::Status(s) if s.tag.is_none() => match s.kind {
                StatusKind::Ok | StatusKind::PreAuth => {
                    self.greeted = true;
                    let kind = if s.kind == StatusKind::PreAuth {
                        self.authenticated = true;
                        Greeting::PreAuth
                    } else {
                        Greeting::Ok
                    };
                    self.events.push_back(Event::Greeting {
                        kind,
                        text: text_of(&s.text),
                    });
                    if let Some(Code::Capability(c)) = &s.code {
                        self.set_caps(Capabilities::from_atoms(c.iter()));
                    }
                    if let Some(Code::Alert) = &s.code {
                        self.events
                            .push_back(Event::Update(Update::Alert(text_of(&s.text))));
                    }
                    self.ask_capabilities();
                    self.pump();
                }
                StatusKind::Bye => self.close(ConnectionError::Refused(text_of(&s.text))),
                _ => self.close(ConnectionError::MalformedGreeting(text_of(&s.text))),
            },
            _ => self.close(ConnectionError::MalformedGreeting(
                "not an untagged status".into(),
            )),
        }
    }

    fn enable(&mut self, cap: &str) {
        if !self.enabled.has(cap) {
            self.enabled.push(cap.to_owned());
        }
    }

    pub(super) fn set_caps(&mut self, caps: Capabilities) {
        self.caps = Some(caps.clone());
        self.events.push_back(Event::Capabilities(caps));
    }

    pub(super) fn continuation(&mut self, c: Continue<'_>, rec: Received) {
        let Some(cmd) = self.inflight.iter_mut().find(|c| c.awaits_continuation()) else {
            self.events.push_back(Event::Update(Update::Other(rec)));
            return;
        };
        if let Some(next) = cmd.rest.pop_front() {
            self.out.extend_from_slice(&next);
            if cmd.rest.is_empty() {
                // The command is fully sent: the next may follow.
                self.pump();
            }
            return;
        }
        if let Some(sasl) = cmd.sasl.as_mut() {
            let reply = decode_challenge(c.text.as_bytes())
                .map_err(|_| ())
                .and_then(|ch| sasl.step(&ch).map_err(|_| ()));
            match reply {
                Ok(r) => {
                    self.out.extend_from_slice(b64(&r).as_bytes());
                    self.out.extend_from_slice(b"\r\n");
                }
                Err(()) => {
                    // RFC 9051 §6.2.2: `*` cancels; the server answers BAD.
                    self.out.extend_from_slice(b"*\r\n");
                    cmd.sasl_cancelled = true;
                }
            }
            return;
        }
        if let Some(Idle::Sent { announce, done }) = cmd.idle {
            let handle = cmd.handle;
            if done {
                cmd.idle = Some(Idle::Ending { refresh: false });
                self.out.extend_from_slice(b"DONE\r\n");
            } else {
                cmd.idle = Some(Idle::Active);
            }
            if announce {
                self.events.push_back(Event::IdleStarted { handle });
            }
        }
    }

    pub(super) fn tagged(&mut self, s: StatusResponse<'_>, rec: Received) {
        let tag = s.tag.as_ref().map(|t| t.as_str()).unwrap_or_default();
        let Some(i) = self.inflight.iter().position(|c| c.tag == tag) else {
            self.events.push_back(Event::Update(Update::Other(rec)));
            return;
        };
        let Some(mut cmd) = self.inflight.remove(i) else {
            return;
        };
        let ok = s.kind == StatusKind::Ok;
        let mut caps_in_code = false;
        if let Some(Code::Capability(c)) = &s.code
            && !(ok && cmd.kind == Kind::StartTls)
        {
            // (A list sent with the OK to STARTTLS is plaintext, so not trusted.)
            caps_in_code = true;
            self.set_caps(Capabilities::from_atoms(c.iter()));
        }
        match cmd.kind {
            Kind::StartTls if ok => {
                self.wait_tls = true;
                self.caps = None;
                self.events
                    .push_back(Event::StartTls { handle: cmd.handle });
                return;
            }
            Kind::Compress if ok => {
                // RFC 4978 §3: the server compresses from the byte after this
                // OK's CRLF; nothing more is parsed or sent until the switch.
                self.wait_compress = true;
                self.events.push_back(Event::Compress {
                    handle: cmd.handle,
                    text: text_of(&s.text),
                });
                return;
            }
            Kind::Login | Kind::Authenticate if ok => {
                if let Some(sasl) = cmd.sasl.as_mut()
                    && let Err(e) = sasl.finish(None)
                {
                    return self.close(ConnectionError::AuthenticationNotVerified(e.to_string()));
                }
                self.authenticated = true;
                if !caps_in_code {
                    // RFC 9051 §6.2.2: the capabilities may change with authentication.
                    self.caps = None;
                    self.ask_capabilities();
                }
            }
            Kind::Select => {
                self.selected = match (ok, cmd.select.take()) {
                    (true, Some(mut m)) => {
                        if let Some(code) = &s.code {
                            m.apply_code(code);
                        }
                        Some(m)
                    }
                    // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected.
                    _ => None,
                };
            }
            Kind::Close if ok => self.selected = None,
            Kind::Unauthenticate if ok => {
                // RFC 8437 §3: as before LOGIN, the mailbox closed and
                // the ENABLEd extensions off; the capabilities change back.
                self.authenticated = false;
                self.selected = None;
                self.enabled = Capabilities::default();
                if !caps_in_code {
                    self.caps = None;
                    self.ask_capabilities();
                }
            }
            Kind::Idle
                if ok
                    && cmd.idle == Some(Idle::Ending { refresh: true })
                    && !self.logout_queued =>
            {
                // The refresh: issue IDLE again under the same handle.
                let tag = self.next_tag();
                let line = encode::command(
                    &Command {
                        tag: tag.clone(),
                        body: CommandBody::Idle,
                    },
                    EncodeOptions::default(),
                );
                self.out.extend_from_slice(line.as_bytes());
                cmd.tag = tag.as_str().to_owned();
                cmd.idle = Some(Idle::Sent {
                    announce: false,
                    done: false,
                });
                cmd.data.clear();
                self.inflight.push_front(cmd);
                return;
            }
            _ => {}
        }
        if let Some(code) = &s.code
            && let Some(m) = self.selected.as_mut()
            && cmd.kind != Kind::Select
            && matches!(code, Code::HighestModSeq(_))
        {
            m.apply_code(code);
        }
        if ok && cmd.enables_condstore {
            self.enable("CONDSTORE");
        }
        if !cmd.internal {
            self.events.push_back(Event::Completed(Completion {
                handle: cmd.handle,
                command: cmd.name,
                status: s.kind,
                tagged: rec,
                data: cmd.data,
            }));
        }
        if cmd.kind == Kind::Logout {
            return self.close(ConnectionError::Logout);
        }
        self.pump();
    }

    /// The index of the oldest command of a kind.
    pub(super) fn find(&self, f: impl Fn(Kind) -> bool) -> Option<usize> {
        self.inflight.iter().position(|c| f(c.kind))
    }

    /// The SELECT/EXAMINE in progress, if any.
    pub(super) fn select_index(&self) -> Option<usize> {
        self.find(|k| k == Kind::Select)
    }

    pub(super) fn push_data(&mut self, i: usize, rec: Received) {
        let max = self.options.max_responses_per_command;
        let Some(c) = self.inflight.get_mut(i) else {
            return;
        };
        if c.data.len() >= max {
            return self.close(ConnectionError::TooManyResponses);
        }
        c.data.push(rec);
    }

    /// Gives the response to the command `i`, or else as an update.
    pub(super) fn deliver(
        &mut self,
        i: Option<usize>,
        rec: Received,
        update: impl FnOnce(Received) -> Update,
    ) {
        match i {
            Some(i) => self.push_data(i, rec),
            None => self.events.push_back(Event::Update(update(rec))),
        }
    }

    /// The oldest command that is not the machine's own, nor an IDLE (what
    /// comes during IDLE, such as Dovecot's `* OK Still here`, is news for
    /// the application).
    pub(super) fn oldest(&self) -> Option<usize> {
        self.inflight
            .iter()
            .position(|c| !c.internal && c.kind != Kind::Idle)
    }

    pub(super) fn untagged_status(&mut self, s: StatusResponse<'_>, rec: Received) {
        if s.kind == StatusKind::Bye {
            self.bye = Some(text_of(&s.text));
            let logout = self.find(|k| k == Kind::Logout);
            return self.deliver(logout, rec, |r| {
                Update::Bye(r.status().map(|s| text_of(&s.text)).unwrap_or_default())
            });
        }
        match &s.code {
            Some(Code::Alert) => {
                self.events
                    .push_back(Event::Update(Update::Alert(text_of(&s.text))));
                return;
            }
            Some(Code::Capability(c)) => {
                self.set_caps(Capabilities::from_atoms(c.iter()));
                return;
            }
            Some(Code::Closed) => {
                // RFC 7162 §3.2.11: the previous mailbox is closed; what
                // follows belongs to the one being selected.
                self.selected = None;
            }
            Some(code) => {
                if let Some(i) = self.select_index() {
                    if let Some(m) = self.inflight[i].select.as_mut() {
                        m.apply_code(code);
                    }
                    return self.push_data(i, rec);
                }
                if let Some(m) = self.selected.as_mut() {
                    m.apply_code(code);
                }
            }
            None => {}
        }
        let i = self.oldest();
        self.deliver(i, rec, Update::Notice);
    }

    /// The mailbox that mailbox data applies to: the one being selected,
    /// else the selected one; with the SELECT's index if any.
    pub(super) fn mailbox_mut(&mut self) -> (Option<usize>, Option<&mut SelectedMailbox>) {
        match self.select_index() {
            Some(i) => (Some(i), self.inflight[i].select.as_mut()),
            None => (None, self.selected.as_mut()),
        }
    }

    pub(super) fn data(&mut self, d: Data<'_>, rec: Received) {
        match d {
            Data::Exists(n) => {
                let (sel, m) = self.mailbox_mut();
                if let Some(m) = m {
                    m.exists = n;
                }
                self.deliver(sel, rec, |_| Update::Exists(n));
            }
            Data::Recent(n) => {
                let (sel, m) = self.mailbox_mut();
                if let Some(m) = m {
                    m.recent = Some(n);
                }
                self.deliver(sel, rec, |_| Update::Recent(n));
            }
            Data::Flags(f) => {
                let flags: Vec<Flag<'static>> = f.into_iter().map(Flag::into_owned).collect();
                let (sel, m) = self.mailbox_mut();
                if let Some(m) = m {
                    m.flags = flags.clone();
                }
                match sel {
                    Some(i) => self.push_data(i, rec),
                    None => self.events.push_back(Event::Update(Update::Flags(flags))),
                }
            }
            Data::Expunge(n) => {
                if let (_, Some(m)) = self.mailbox_mut() {
                    m.expunge(n.get());
                }
                self.events.push_back(Event::Update(Update::Expunge(n)));
            }
            Data::Vanished {
                earlier: true,
                uids: _,
            } => {
                // RFC 7162 §3.2.10: the answer to a UID FETCH (VANISHED) or a
                // SELECT (QRESYNC).
                let i = self.find(|k| matches!(k, Kind::Fetch { uid: true } | Kind::Select));
                self.deliver(i, rec, Update::Other);
            }
            Data::Vanished {
                earlier: false,
                uids,
            } => {
                if let (_, Some(m)) = self.mailbox_mut() {
                    m.exists = m.exists.saturating_sub(set_len(&uids, m.exists));
                }
                self.events.push_back(Event::Update(Update::Vanished(uids)));
            }
            Data::Fetch { seq, items } => self.fetch(seq, &items, rec),
            Data::Capability(c) => {
                self.set_caps(Capabilities::from_atoms(c.iter()));
                if let Some(i) = self.find(|k| k == Kind::Capability)
                    && !self.inflight[i].internal
                {
                    self.push_data(i, rec);
                }
            }
            Data::Enabled(c) => {
                for cap in Capabilities::from_atoms(c.iter()).as_slice() {
                    self.enable(cap);
                    if cap == "QRESYNC" {
                        // RFC 7162 §3.2.3: enabling QRESYNC enables CONDSTORE.
                        self.enable("CONDSTORE");
                    }
                }
                let i = self.find(|k| k == Kind::Enable);
                self.deliver(i, rec, Update::Other);
            }
            Data::ESearch { tag: Some(t), .. } => {
                let i = self
                    .inflight
                    .iter()
                    .position(|c| c.tag.as_bytes() == t.as_bytes());
                self.deliver(i, rec, Update::Other);
            }
            Data::Search { .. } | Data::ESearch { .. } => {
                let i = self.find(|k| matches!(k, Kind::Search { .. }));
                self.deliver(i, rec, Update::Other);
            }
            Data::Sort { .. } => {
                let i = self.find(|k| k == Kind::Sort);
                self.deliver(i, rec, Update::Other);
            }
            Data::Thread(_) => {
                let i = self.find(|k| k == Kind::Thread);
                self.deliver(i, rec, Update::Other);
            }
            Data::List(_) | Data::Lsub(_) | Data::XList(_) => {
                // RFC 9051 §6.3.2: SELECT may answer with a LIST (OLDNAME).
                let i = self
                    .find(|k| k == Kind::List)
                    .or_else(|| self.find(|k| k == Kind::Select));
                self.deliver(i, rec, Update::Other);
            }
            Data::Status { .. } => {
                // RFC 5819: LIST (RETURN (STATUS ...)) answers with STATUS too.
                let i = self
                    .find(|k| k == Kind::Status)
                    .or_else(|| self.find(|k| k == Kind::List));
                self.deliver(i, rec, Update::Other);
            }
            Data::Namespace { .. } => {
                let i = self.find(|k| k == Kind::Namespace);
                self.deliver(i, rec, Update::Other);
            }
            Data::Id(_) => {
                let i = self.find(|k| k == Kind::Id);
                self.deliver(i, rec, Update::Other);
            }
            Data::Quota { .. } | Data::QuotaRoot { .. } => {
                let i = self.find(|k| k == Kind::Quota);
                self.deliver(i, rec, Update::Other);
            }
            Data::Metadata { .. } => {
                let i = self.find(|k| k == Kind::Metadata);
                self.deliver(i, rec, Update::Other);
            }
            _ => {
                let i = self.oldest();
                self.deliver(i, rec, Update::Other);
            }
        }
    }

    /// The FETCH or STORE in progress whose set holds this message, or, for
    /// a response carrying more than flags, the oldest one.
    pub(super) fn fetch_target(
        &self,
        seq: NonZeroU32,
        uid: Option<NonZeroU32>,
        flags_only: bool,
    ) -> Option<usize> {
        let exists = self.selected.as_ref().map_or(u32::MAX, |m| m.exists.max(1));
        let hit = self.inflight.iter().position(|c| match (c.kind, &c.set) {
            (Kind::Fetch { uid: false } | Kind::Store { uid: false }, Some(set)) => {
                set_contains(set, seq.get(), exists)
            }
            (Kind::Fetch { uid: true } | Kind::Store { uid: true }, Some(set)) => {
                uid.is_some_and(|u| set_contains(set, u.get(), u32::MAX))
            }
            _ => false,
        });
        if hit.is_some() {
            return hit;
        }
        // RFC 7162 §3.2.5.1: SELECT (QRESYNC) answers with FETCH responses.
        if let Some(i) = self.select_index() {
            return Some(i);
        }
        if flags_only {
            return None;
        }
        self.find(|k| matches!(k, Kind::Fetch { .. } | Kind::Store { .. } | Kind::Select))
    }

    pub(super) fn fetch(&mut self, seq: NonZeroU32, items: &[FetchItem<'_>], rec: Received) {
        let mut uid = None;
        let mut flags = None;
        let mut modseq = None;
        let mut flags_only = true;
        for it in items {
            match it {
                FetchItem::Uid(u) => uid = Some(*u),
                FetchItem::Flags(f) => {
                    flags = Some(f.iter().cloned().map(Flag::into_owned).collect());
                }
                FetchItem::ModSeq(m) => modseq = Some(*m),
                _ => flags_only = false,
            }
        }
        match self.fetch_target(seq, uid, flags_only) {
            Some(i) => self.push_data(i, rec),
            None => self.events.push_back(Event::Update(Update::Fetch {
                seq,
                uid,
                flags,
                modseq,
                response: rec,
            })),
        }
        if let (Some(m), Some(ms)) = (self.selected.as_mut(), modseq)
            && m.highest_modseq.is_some_and(|h| h < ms)
        {
            m.highest_modseq = Some(ms);
        }
    }
}

/// True if `set` holds `n` (`*` is `largest`).
pub(super) fn set_contains(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let val = |s: SeqNum| match s {
        SeqNum::Value(v) => v.get(),
        SeqNum::Largest => largest,
    };
    match set {
        SequenceSet::Saved => true,
        SequenceSet::Set(ranges) => ranges.iter().any(|r| {
            let (a, b) = match *r {
                SeqRange::Single(x) => (val(x), val(x)),
                SeqRange::Range(x, y) => (val(x), val(y)),
            };
            a.min(b) <= n && n <= a.max(b)
        }),
    }
}

/// How many numbers `set` holds, counted by ranges (never iterated) and
/// capped at `cap`.
pub(super) fn set_len(set: &SequenceSet, cap: u32) -> u32 {
    let SequenceSet::Set(ranges) = set else {
        return 0;
    };
    let val = |s: SeqNum| match s {
        SeqNum::Value(v) => u64::from(v.get()),
        SeqNum::Largest => u64::from(u32::MAX),
    };
    let total: u64 = ranges
        .iter()
        .map(|r| match *r {
            SeqRange::Single(_) => 1,
            SeqRange::Range(a, b) => val(a).abs_diff(val(b)) + 1,
        })
        .sum();
    u32::try_from(total.min(u64::from(cap))).unwrap_or(cap)
}

/// For a literal announced in `* n FETCH (... ITEM {len}`: the message
/// number, its UID if it came before, and the item, when the item is a
/// message body worth streaming (`BODY[...]`, `BINARY[...]`, `RFC822`,
/// `RFC822.TEXT`).
pub(super) fn stream_context(pending: &[u8]) -> Option<(NonZeroU32, Option<NonZeroU32>, Bytes)> {
    let rest = pending.strip_prefix(b"* ")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let seq: NonZeroU32 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let after = &rest[digits..];
    if after.len() < 8 || !after[..8].eq_ignore_ascii_case(b" FETCH (") {
        return None;
    }
    let line = pending.strip_suffix(b"\r\n")?;
    let mut end = memchr::memrchr(b'{', line)?;
    if end > 0 && line[end - 1] == b'~' {
        end -= 1;
    }
    let head = line[..end].strip_suffix(b" ")?;
    let upper = head.to_ascii_uppercase();
    let start = ["BODY[", "BINARY[", "RFC822"]
        .iter()
        .filter_map(|k| memchr::memmem::rfind(&upper, k.as_bytes()))
        .max()?;
    if start == 0 || !matches!(upper[start - 1], b' ' | b'(') {
        return None;
    }
    let item = &upper[start..];
    let ok = item.starts_with(b"BODY[") && item.contains(&b']')
        || item.starts_with(b"BINARY[") && item.contains(&b']')
        || item == b"RFC822"
        || item == b"RFC822.TEXT";
    if !ok {
        return None;
    }
    Some((
        seq,
        uid_before(&upper[..start]),
        Bytes::copy_from_slice(&head[start..]),
    ))
}

/// `UID n` in the upper-cased start of a FETCH response.
pub(super) fn uid_before(upper: &[u8]) -> Option<NonZeroU32> {
    let mut from = 0;
    while let Some(k) = memchr::memmem::find(&upper[from..], b"UID ") {
        let at = from + k;
        if at > 0 && matches!(upper[at - 1], b' ' | b'(') {
            let digits: Vec<u8> = upper[at + 4..]
                .iter()
                .copied()
                .take_while(u8::is_ascii_digit)
                .collect();
            return std::str::from_utf8(&digits).ok()?.parse().ok();
        }
        from = at + 4;
    }
    None
}

//! # mailwire-testkit
//!
//! Test support shared by the mailwire protocol crates (not published).
//! Protocol tests open no sockets (STYLE.md (d)):
//!
//! - [`Pair`]: a client and a server machine joined in memory on a virtual
//!   clock. [`Pair::step`] moves bytes both ways (through an optional tamper
//!   hook and in chunks of any size) and, when nothing else moves, advances
//!   the clock to the earliest `poll_timeout`. [`Pair::drive`] runs until
//!   both sides are idle; [`Pair::drive_bounded`] fails on livelock.
//! - [`Scripted`]: one real machine against exact bytes, with
//!   [`Scripted::send`] and [`Scripted::expect`].
//! - [`Transcript`]: RFC-style `C:`/`S:` transcripts as data.
//!
//! The machines are reached through the [`Machine`] trait. A test crate
//! wraps a protocol type with [`machine!`] (the orphan rule forbids
//! implementing this crate's trait for another crate's type directly).
//!
//! ```
//! use std::time::Instant;
//! use mailwire_testkit::{Machine, Scripted};
//!
//! /// A toy machine that echoes each input back.
//! #[derive(Default)]
//! struct Echo { out: Vec<u8>, closed: bool }
//! impl Machine for Echo {
//!     type Event = ();
//!     fn handle_input(&mut self, _: Instant, d: &[u8]) { self.out.extend_from_slice(d) }
//!     fn handle_eof(&mut self, _: Instant) { self.closed = true }
//!     fn handle_timeout(&mut self, _: Instant) {}
//!     fn poll_transmit(&mut self, _: Instant, b: &mut Vec<u8>) -> Option<usize> {
//!         if self.out.is_empty() { return None }
//!         let n = self.out.len(); b.append(&mut self.out); Some(n)
//!     }
//!     fn poll_event(&mut self) -> Option<()> { None }
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//!     fn is_closed(&self) -> bool { self.closed }
//! }
//!
//! let mut s = Scripted::new(Echo::default(), Instant::now());
//! s.send(b"hello\r\n");
//! s.expect(b"hello\r\n");
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod corpus;

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// The sans-IO driver surface every mailwire machine has (STYLE.md (a)).
pub trait Machine {
    /// The machine's event type.
    type Event: Debug;
    /// Bytes from the peer.
    fn handle_input(&mut self, now: Instant, data: &[u8]);
    /// The peer closed its side.
    fn handle_eof(&mut self, now: Instant);
    /// Fire expired timers.
    fn handle_timeout(&mut self, now: Instant);
    /// Append bytes to send.
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize>;
    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// The next deadline.
    fn poll_timeout(&self) -> Option<Instant>;
    /// True once closed.
    fn is_closed(&self) -> bool;
}

/// Wraps a protocol machine in a local newtype that implements [`Machine`].
///
/// ```text
/// mailwire_testkit::machine!(pub struct Srv(mailwire_smtp::server::Server), mailwire_smtp::server::Event);
/// ```
#[macro_export]
macro_rules! machine {
    ($vis:vis struct $name:ident($inner:ty), $event:ty) => {
        /// A [`Machine`]($crate::Machine) wrapper.
        #[derive(Debug)]
        $vis struct $name(pub $inner);
        impl $crate::Machine for $name {
            type Event = $event;
            fn handle_input(&mut self, now: ::std::time::Instant, data: &[u8]) { self.0.handle_input(now, data) }
            fn handle_eof(&mut self, now: ::std::time::Instant) { self.0.handle_eof(now) }
            fn handle_timeout(&mut self, now: ::std::time::Instant) { self.0.handle_timeout(now) }
            fn poll_transmit(&mut self, now: ::std::time::Instant, buf: &mut Vec<u8>) -> Option<usize> {
                self.0.poll_transmit(now, buf)
            }
            fn poll_event(&mut self) -> Option<$event> { self.0.poll_event() }
            fn poll_timeout(&self) -> Option<::std::time::Instant> { self.0.poll_timeout() }
            fn is_closed(&self) -> bool { self.0.is_closed() }
        }
        impl ::std::ops::Deref for $name {
            type Target = $inner;
            fn deref(&self) -> &$inner { &self.0 }
        }
        impl ::std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut $inner { &mut self.0 }
        }
    };
}

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

/// A hook that may alter (or drop, by clearing) bytes in flight.
pub type Tamper = Box<dyn FnMut(Direction, &mut Vec<u8>)>;

/// What one [`Pair::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Bytes moved or events were handled.
    Moved,
    /// Nothing moved; the clock advanced to a deadline and timers fired.
    TimerFired,
    /// Nothing moved and no timer is armed.
    Idle,
}

/// A livelock: [`Pair::drive_bounded`] ran out of steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Livelock {
    /// Steps taken.
    pub steps: usize,
}

/// A client and a server machine joined in memory on a virtual clock.
pub struct Pair<C: Machine, S: Machine> {
    /// The client machine.
    pub client: C,
    /// The server machine.
    pub server: S,
    /// The virtual clock.
    pub now: Instant,
    /// Deliver bytes in pieces of at most this many octets (None: whole).
    pub chunk: Option<usize>,
    /// Fire timers when idle (default true); when false an idle pair stops.
    pub advance_clock: bool,
    /// Total bytes moved each way: (to server, to client).
    pub moved: (usize, usize),
    tamper: Option<Tamper>,
    buf: Vec<u8>,
}

impl<C: Machine, S: Machine> Debug for Pair<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("now", &self.now)
            .field("moved", &self.moved)
            .finish_non_exhaustive()
    }
}

impl<C: Machine, S: Machine> Pair<C, S> {
    /// Joins two machines at time `now`.
    pub fn new(client: C, server: S, now: Instant) -> Self {
        Pair {
            client,
            server,
            now,
            chunk: None,
            advance_clock: true,
            moved: (0, 0),
            tamper: None,
            buf: Vec::new(),
        }
    }

    /// Installs a hook between the two sides.
    pub fn tamper(&mut self, hook: impl FnMut(Direction, &mut Vec<u8>) + 'static) {
        self.tamper = Some(Box::new(hook));
    }

    fn deliver<M: Machine>(to: &mut M, now: Instant, data: &[u8], chunk: Option<usize>) {
        match chunk {
            None => to.handle_input(now, data),
            Some(k) => {
                for piece in data.chunks(k.max(1)) {
                    to.handle_input(now, piece);
                }
            }
        }
    }

    /// Moves bytes both ways and hands every event to its callback; when
    /// nothing moved, advances the clock to the earliest deadline and fires
    /// the timers of both sides.
    pub fn step(
        &mut self,
        on_client: &mut dyn FnMut(&mut C, C::Event),
        on_server: &mut dyn FnMut(&mut S, S::Event),
    ) -> Progress {
        let mut moved = false;
        // client -> server
        self.buf.clear();
        while self.client.poll_transmit(self.now, &mut self.buf).is_some() {}
        if let Some(t) = &mut self.tamper
            && !self.buf.is_empty()
        {
            t(Direction::ToServer, &mut self.buf);
        }
        if !self.buf.is_empty() {
            moved = true;
            self.moved.0 += self.buf.len();
            if !self.server.is_closed() {
                Self::deliver(&mut self.server, self.now, &self.buf, self.chunk);
            }
        }
        while let Some(e) = self.server.poll_event() {
            moved = true;
            on_server(&mut self.server, e);
        }
        // server -> client
        self.buf.clear();
        while self.server.poll_transmit(self.now, &mut self.buf).is_some() {}
        if let Some(t) = &mut self.tamper
            && !self.buf.is_empty()
        {
            t(Direction::ToClient, &mut self.buf);
        }
        if !self.buf.is_empty() {
            moved = true;
            self.moved.1 += self.buf.len();
            if !self.client.is_closed() {
                Self::deliver(&mut self.client, self.now, &self.buf, self.chunk);
            }
        }
        while let Some(e) = self.client.poll_event() {
            moved = true;
            on_client(&mut self.client, e);
        }
        if moved {
            return Progress::Moved;
        }
        // A closed side closes the transport: tell the other one.
        if self.server.is_closed() && !self.client.is_closed() {
            self.client.handle_eof(self.now);
            return Progress::Moved;
        }
        if self.client.is_closed() && !self.server.is_closed() {
            self.server.handle_eof(self.now);
            return Progress::Moved;
        }
        if !self.advance_clock {
            return Progress::Idle;
        }
        let next = match (self.client.poll_timeout(), self.server.poll_timeout()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return Progress::Idle,
        };
        if next > self.now {
            self.now = next;
        }
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        Progress::TimerFired
    }

    /// Steps until both sides are idle (no bytes, no events, no timers).
    /// Panics after a million steps.
    pub fn drive(
        &mut self,
        mut on_client: impl FnMut(&mut C, C::Event),
        mut on_server: impl FnMut(&mut S, S::Event),
    ) {
        if let Err(l) = self.drive_bounded(1_000_000, &mut on_client, &mut on_server) {
            panic!("pair did not settle after {} steps", l.steps);
        }
    }

    /// Steps until idle, at most `max_steps` times.
    pub fn drive_bounded(
        &mut self,
        max_steps: usize,
        on_client: &mut dyn FnMut(&mut C, C::Event),
        on_server: &mut dyn FnMut(&mut S, S::Event),
    ) -> Result<usize, Livelock> {
        for i in 0..max_steps {
            if self.step(on_client, on_server) == Progress::Idle {
                return Ok(i);
            }
        }
        Err(Livelock { steps: max_steps })
    }

    /// Steps without firing timers until nothing moves.
    pub fn settle(
        &mut self,
        on_client: &mut dyn FnMut(&mut C, C::Event),
        on_server: &mut dyn FnMut(&mut S, S::Event),
    ) {
        let adv = self.advance_clock;
        self.advance_clock = false;
        for _ in 0..1_000_000 {
            if self.step(on_client, on_server) == Progress::Idle {
                break;
            }
        }
        self.advance_clock = adv;
    }
}

/// One real machine against exact bytes.
#[derive(Debug)]
pub struct Scripted<M: Machine> {
    /// The machine under test.
    pub machine: M,
    /// The virtual clock.
    pub now: Instant,
    /// Events collected so far (drain with [`Scripted::events`]).
    pub collected: Vec<M::Event>,
    pending: Vec<u8>,
}

impl<M: Machine> Scripted<M> {
    /// Starts a script at `now`.
    pub fn new(machine: M, now: Instant) -> Self {
        Scripted {
            machine,
            now,
            collected: Vec::new(),
            pending: Vec::new(),
        }
    }

    fn pump(&mut self) {
        while self
            .machine
            .poll_transmit(self.now, &mut self.pending)
            .is_some()
        {}
        while let Some(e) = self.machine.poll_event() {
            self.collected.push(e);
        }
    }

    /// Feeds bytes as the peer.
    pub fn send(&mut self, bytes: &[u8]) {
        self.machine.handle_input(self.now, bytes);
        self.pump();
    }

    /// Feeds bytes one at a time.
    pub fn send_bytewise(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.machine.handle_input(self.now, std::slice::from_ref(b));
            self.pump();
        }
    }

    /// Asserts that the machine sent exactly `bytes` next (and takes them).
    #[track_caller]
    pub fn expect(&mut self, bytes: &[u8]) {
        self.pump();
        if !self.pending.starts_with(bytes) {
            panic!(
                "expected {:?}\n     got {:?}",
                String::from_utf8_lossy(bytes),
                String::from_utf8_lossy(&self.pending)
            );
        }
        self.pending.drain(..bytes.len());
    }

    /// Asserts that nothing is waiting to be sent.
    #[track_caller]
    pub fn expect_nothing(&mut self) {
        self.pump();
        assert!(
            self.pending.is_empty(),
            "unexpected output {:?}",
            String::from_utf8_lossy(&self.pending)
        );
    }

    /// Takes everything the machine sent so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        self.pump();
        std::mem::take(&mut self.pending)
    }

    /// Takes the collected events.
    pub fn events(&mut self) -> Vec<M::Event> {
        self.pump();
        std::mem::take(&mut self.collected)
    }

    /// Runs a closure on the machine (an application command), then pumps.
    pub fn act<R>(&mut self, f: impl FnOnce(&mut M) -> R) -> R {
        let r = f(&mut self.machine);
        self.pump();
        r
    }

    /// Advances the clock and fires timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.machine.handle_timeout(self.now);
        self.pump();
    }

    /// Signals end of input.
    pub fn eof(&mut self) {
        self.machine.handle_eof(self.now);
        self.pump();
    }
}

/// Who speaks a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `C:` lines.
    Client,
    /// `S:` lines.
    Server,
}

/// An RFC-style transcript: `C: ` and `S: ` lines, each a wire line that
/// gets CRLF appended. Lines with other prefixes are ignored; a line that
/// is just `C:` is an empty line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The lines in order.
    pub lines: Vec<(Side, Vec<u8>)>,
}

impl Transcript {
    /// Parses transcript text (leading whitespace is ignored).
    pub fn parse(text: &str) -> Transcript {
        let mut lines = Vec::new();
        for l in text.lines() {
            let l = l.trim_start();
            let (side, rest) = if let Some(r) = l.strip_prefix("C:") {
                (Side::Client, r)
            } else if let Some(r) = l.strip_prefix("S:") {
                (Side::Server, r)
            } else {
                continue;
            };
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            let mut v = rest.as_bytes().to_vec();
            v.extend_from_slice(b"\r\n");
            lines.push((side, v));
        }
        Transcript { lines }
    }

    /// Consecutive lines of one side joined into one block each: what one
    /// side sends before it waits for the other.
    pub fn turns(&self) -> Vec<(Side, Vec<u8>)> {
        let mut out: Vec<(Side, Vec<u8>)> = Vec::new();
        for (side, l) in &self.lines {
            match out.last_mut() {
                Some((s, v)) if s == side => v.extend_from_slice(l),
                _ => out.push((*side, l.clone())),
            }
        }
        out
    }

    /// All bytes one side sends, in order.
    pub fn bytes_of(&self, side: Side) -> Vec<u8> {
        self.lines
            .iter()
            .filter(|(s, _)| *s == side)
            .flat_map(|(_, l)| l.clone())
            .collect()
    }
}

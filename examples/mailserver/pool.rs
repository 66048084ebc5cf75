//! The connections of every port, served by one pool of threads over one
//! epoll set (Linux).
//!
//! A connection waiting for its client holds no thread: its socket sits in
//! the epoll set (edge-triggered) and its session ([`Resumable`]: machine,
//! handler, socket) in a slot of the [`Table`]. When input arrives, a
//! thread of the pool takes the session out of its slot, runs the driver
//! loop until the socket has nothing more to read, and puts it back. A
//! turn ends after [`READ_BUDGET`](crate::driver::READ_BUDGET) reads at the
//! latest ([`Step::Yield`]): then the socket is modified in the epoll set,
//! which reports it again behind the events already waiting, so a client
//! that sends faster than it is served shares its thread with the others.
//!
//! One thread runs per CPU, so under load a thread goes from one ready
//! connection to the next without sleeping, where one thread per
//! connection sleeps and is woken for every command (under `smtp-source`
//! that took the server's CPU per message from 85-95 us to about 60; see
//! `benches/mailserver.sh`). Only one of them waits in epoll while no
//! events back up; the others park as followers ([`Pool::may_wait`]), so
//! that an event that comes while one thread serves does not wake another
//! just for it. A handler that may wait long (an `fsync`, a DNS lookup, a
//! TLS handshake's round trips, an AUTH failure's delay) runs it in
//! [`blocking`], which first makes sure another thread waits for events: a
//! follower called, a spare woken, or a new thread (up to the pool's
//! `max_threads`). When the wait is over, the surplus thread becomes a
//! spare again; spares unused for [`WORKER_IDLE`] leave. A handler that
//! blocks without saying so holds up at most one [`TICK`]: the monitor
//! thread calls a follower or starts another thread when events wait, no
//! thread waits for them, and none was taken since its last look; that
//! thread stays as long as no other one waits for events. (Before that
//! rule, it went back to the spares after one event, so two clients
//! flooding a two-CPU server kept another client's session without DATA
//! waiting 3.5-5.9 s; with the rule or the turns alone it took 0.4-17 ms,
//! with both 3.6-5 ms; with one waiter in epoll, 2.1 ms.)
//!
//! Timeouts and the handlers' ticks (the shutdown between transactions,
//! IMAP IDLE's news): every [`TICK`] the monitor resumes each waiting
//! session with `tick`, which handles the deadline if it passed, else calls
//! the handler's tick, and answers what that produced without reading.
//!
//! The listening sockets are in the same set (one-shot: the thread that
//! gets one accepts one connection, arms it again, and serves what it
//! accepted).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::OwnedFd;
use rustix::net::SocketFlags;

use crate::driver::{Conn, POOL_THREAD, POOL_WAITS, Resumable, Step, TICK, Waits, log, timespec};
use crate::limits::ConnGuard;
use crate::smtp_session::{Port, Shared};

/// A spare thread leaves after waiting this long without being needed.
const WORKER_IDLE: Duration = Duration::from_secs(30);

/// The tokens from this one up are listening sockets (index from the
/// top); below, a connection's slot and generation.
const LISTENER_TOKENS: u64 = u64::MAX - 64;

/// The epoll flags of a connection: input, edge-triggered (the serving
/// thread reads until the socket has nothing more; a new edge while it
/// serves is noted in the slot, see [`State::Busy`]).
fn conn_flags() -> EventFlags {
    EventFlags::IN | EventFlags::RDHUP | EventFlags::ET
}

/// A session with what it holds for its life.
struct Live {
    session: Box<dyn Resumable + 'static>,
    /// The connection-limit slot, given back when the session goes.
    _guard: ConnGuard,
}

enum State {
    Free,
    /// Waiting for input, in the epoll set.
    Waiting(Live),
    /// A thread serves it now; `more`: input arrived meanwhile (an edge
    /// that thread may not have seen), so it serves again before it parks.
    Busy {
        more: bool,
    },
}

struct Slot {
    /// Bumped when the slot is freed: an event for an earlier connection
    /// in this slot finds another generation and is ignored.
    generation: u32,
    state: State,
}

/// Every connection's slot.
#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Table {
    /// A slot for a new connection, busy (its thread serves it first),
    /// as its index and generation. (The connection limits keep the
    /// slots far below `u32::MAX`: `None` is never seen in practice.)
    fn insert_busy(&mut self) -> Option<(u32, u32)> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(self.slots.len()).ok()?;
                self.slots.push(Slot {
                    generation: 0,
                    state: State::Free,
                });
                i
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.state = State::Busy { more: false };
        Some((index, slot.generation))
    }

    fn release(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.state = State::Free;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
    }
}

fn token(index: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(index)
}

/// One listening port.
pub(crate) struct Listener {
    pub(crate) socket: TcpListener,
    pub(crate) port: Port,
}

/// The pool's threads, counted under one lock.
#[derive(Debug, Default)]
struct Threads {
    /// Threads taking events (waiting in epoll or serving, or parked as
    /// followers).
    running: usize,
    /// Running threads parked until events back up ([`Pool::may_wait`]).
    followers: usize,
    /// Followers called to wait for events (and not yet up).
    called: usize,
    /// Threads parked as spares, ready to run when one blocks.
    spare: usize,
    /// Spares asked to run (and not yet running).
    wanted: usize,
    /// Running threads inside [`blocking`].
    blocked: usize,
}

/// The pool: the epoll set, the listeners, the sessions and the threads.
pub(crate) struct Pool {
    epoll: OwnedFd,
    listeners: Vec<Listener>,
    table: Mutex<Table>,
    shared: &'static Shared,
    /// Threads in `epoll_wait`.
    idle: AtomicUsize,
    /// Events taken so far (the monitor's sign of progress).
    taken: AtomicUsize,
    threads: Mutex<Threads>,
    /// Where spares wait.
    spares: Condvar,
    /// Where followers wait.
    followers: Condvar,
    /// Threads that run when none blocks: one per CPU.
    base: usize,
    max_threads: usize,
    /// Sessions open (shutdown waits for them).
    active: AtomicUsize,
}

/// Before one of its threads waits long, the pool makes sure another
/// thread waits for events (a spare woken, or a new thread), so the other
/// connections are served meanwhile.
impl Waits for Pool {
    fn enter(&'static self) {
        let mut t = self.lock_threads();
        t.blocked += 1;
        if self.idle.load(Ordering::SeqCst) == 0 && !self.call_follower(&mut t) {
            self.add_thread(&mut t);
        }
    }

    fn leave(&'static self) {
        self.lock_threads().blocked -= 1;
    }
}

impl Pool {
    /// A pool over `listeners` (made non-blocking here). `max_threads`
    /// bounds the threads (each one waits in epoll or serves one
    /// connection; the connection limits bound the sessions).
    pub(crate) fn new(
        shared: &'static Shared,
        listeners: Vec<Listener>,
        max_threads: usize,
    ) -> std::io::Result<Self> {
        let epoll = epoll::create(CreateFlags::CLOEXEC)?;
        assert!(listeners.len() <= 64, "at most 64 listening sockets");
        for (i, l) in listeners.iter().enumerate() {
            l.socket.set_nonblocking(true)?;
            epoll::add(
                &epoll,
                &l.socket,
                EventData::new_u64(u64::MAX - i as u64),
                EventFlags::IN | EventFlags::ONESHOT,
            )?;
        }
        let base = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Pool {
            epoll,
            listeners,
            table: Mutex::new(Table::default()),
            shared,
            idle: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            threads: Mutex::new(Threads::default()),
            spares: Condvar::new(),
            followers: Condvar::new(),
            base,
            max_threads: max_threads.max(base + 1),
            active: AtomicUsize::new(0),
        })
    }

    /// Starts the threads: one per CPU, and the monitor.
    pub(crate) fn start(&'static self) -> std::io::Result<()> {
        let _ = POOL_WAITS.set(self);
        {
            let mut t = self.lock_threads();
            for _ in 0..self.base {
                self.add_thread(&mut t);
            }
        }
        std::thread::Builder::new()
            .name("pool-monitor".into())
            .spawn(move || self.monitor())?;
        Ok(())
    }

    /// Sessions open now.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_threads(&self) -> MutexGuard<'_, Threads> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One more running thread: a spare woken, or a new thread (unless
    /// there are `max_threads`).
    fn add_thread(&'static self, t: &mut Threads) {
        if t.spare > t.wanted {
            t.wanted += 1;
            self.spares.notify_one();
            return;
        }
        if t.running + t.spare >= self.max_threads {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("session".into())
            .stack_size(crate::STACK_SIZE)
            .spawn(move || self.worker());
        match spawned {
            Ok(_) => t.running += 1,
            Err(e) => log(format!("cannot start a session thread: {e}")),
        }
    }

    /// After serving: whether this thread goes on. With more threads
    /// running than one per CPU plus the blocked ones, and another thread
    /// waiting for events, it waits as a spare (false once it has waited
    /// [`WORKER_IDLE`] for nothing: it leaves). While no other thread
    /// waits for events (each serves a long command, say), it stays: a
    /// thread the monitor added serves every connection until one of the
    /// others is back.
    fn keep_running(&self) -> bool {
        let mut t = self.lock_threads();
        if t.running <= self.base + t.blocked || self.idle.load(Ordering::SeqCst) == 0 {
            return true;
        }
        t.running -= 1;
        t.spare += 1;
        loop {
            let (g, wait) = self
                .spares
                .wait_timeout(t, WORKER_IDLE)
                .unwrap_or_else(|e| e.into_inner());
            t = g;
            if t.wanted > 0 {
                t.wanted -= 1;
                t.spare -= 1;
                t.running += 1;
                return true;
            }
            if wait.timed_out() {
                t.spare -= 1;
                return false;
            }
        }
    }

    /// A thread of the pool: wait for one event and serve it. Returns at
    /// shutdown once no session is left, or as a spare nobody needed.
    fn worker(&'static self) {
        POOL_THREAD.set(true);
        let mut events = Vec::with_capacity(1);
        let wait = timespec(TICK);
        loop {
            if self.shared.shutdown.load(Ordering::SeqCst) && self.active() == 0 {
                self.lock_threads().running -= 1;
                return;
            }
            if !self.may_wait() {
                continue;
            }
            self.idle.fetch_add(1, Ordering::SeqCst);
            events.clear();
            let res = epoll::wait(&self.epoll, spare_capacity(&mut events), Some(&wait));
            self.idle.fetch_sub(1, Ordering::SeqCst);
            if let Err(e) = res
                && e != rustix::io::Errno::INTR
            {
                log(format!("epoll_wait: {e}"));
                std::thread::sleep(Duration::from_millis(50));
            }
            let Some(ev) = events.first() else {
                continue;
            };
            self.taken.fetch_add(1, Ordering::Relaxed);
            let t = ev.data.u64();
            if t >= LISTENER_TOKENS {
                self.accept((u64::MAX - t) as usize);
            } else {
                self.ready(t);
            }
            if !self.keep_running() {
                return;
            }
        }
    }

    /// Whether this thread waits for events now: when no other thread
    /// does, or when events are ready already (a backlog, which more
    /// threads take). Else it parks as a follower until it is called (by
    /// [`blocking`] or the monitor, when no thread waits for events) or a
    /// [`TICK`] passes, and returns false (the caller looks again): under
    /// a load that keeps events waiting, every thread runs again within a
    /// tick.
    ///
    /// Every thread waiting in epoll at once is woken for each event that
    /// comes while the others serve, and sleeps again after it: with two
    /// threads on two CPUs under `smtp-source`, 1.3-1.5 context switches a
    /// message, against 0.07-0.9 with one waiter (see
    /// `benches/mailserver.sh`). Calling a follower whenever a second
    /// event was ready made 0.5-2.4: it parked again right after.
    fn may_wait(&self) -> bool {
        if self.idle.load(Ordering::SeqCst) == 0 || self.pending() {
            return true;
        }
        let mut t = self.lock_threads();
        t.followers += 1;
        let (mut t, _) = self
            .followers
            .wait_timeout_while(t, TICK, |t| t.called == 0)
            .unwrap_or_else(|e| e.into_inner());
        t.followers -= 1;
        // Called or not (a tick passed), it answers one call if any.
        t.called = t.called.saturating_sub(1);
        false
    }

    /// Calls a parked follower to wait for events; false when none is
    /// parked (or all are called already).
    fn call_follower(&self, t: &mut Threads) -> bool {
        if t.followers <= t.called {
            return false;
        }
        t.called += 1;
        self.followers.notify_one();
        true
    }

    /// Every [`TICK`]: calls a follower or starts a thread when events
    /// wait while no thread waits for them and none was taken since the
    /// last look (a handler that blocks without [`blocking`]), then the
    /// ticks of the waiting sessions.
    fn monitor(&'static self) {
        let mut taken = 0;
        loop {
            std::thread::sleep(TICK);
            if self.shared.shutdown.load(Ordering::SeqCst) && self.active() == 0 {
                return;
            }
            let now_taken = self.taken.load(Ordering::Relaxed);
            if now_taken == taken && self.idle.load(Ordering::SeqCst) == 0 && self.pending() {
                let mut t = self.lock_threads();
                if !self.call_follower(&mut t) {
                    self.add_thread(&mut t);
                }
            }
            taken = now_taken;
            self.ticks();
        }
    }

    /// Whether the epoll set has events ready (the epoll descriptor polls
    /// readable then; nothing is taken).
    fn pending(&self) -> bool {
        let mut fds = [PollFd::new(&self.epoll, PollFlags::IN)];
        matches!(poll(&mut fds, Some(&timespec(Duration::ZERO))), Ok(n) if n > 0)
    }

    /// Accepts one connection on listener `i`, arms the listener again,
    /// and serves the connection (or refuses it).
    fn accept(&self, i: usize) {
        let l = &self.listeners[i];
        if self.shared.shutdown.load(Ordering::SeqCst) {
            // Not armed again: nothing new is accepted.
            return;
        }
        let accepted =
            rustix::net::acceptfrom_with(&l.socket, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC);
        if let Err(e) = epoll::modify(
            &self.epoll,
            &l.socket,
            EventData::new_u64(u64::MAX - i as u64),
            EventFlags::IN | EventFlags::ONESHOT,
        ) {
            log(format!("{}: epoll: {e}", l.port.name()));
        }
        let (fd, peer) = match accepted {
            Ok((fd, Some(addr))) => match SocketAddr::try_from(addr) {
                Ok(peer) => (fd, peer),
                Err(_) => return,
            },
            Ok((_, None)) | Err(rustix::io::Errno::AGAIN) => return,
            Err(e) => {
                log(format!("{}: accept: {e}", l.port.name()));
                // Out of descriptors, say: give the others a moment.
                std::thread::sleep(Duration::from_millis(50));
                return;
            }
        };
        let sock = TcpStream::from(fd);
        let guard = match self.shared.limiter.try_acquire(peer.ip(), Instant::now()) {
            Ok(g) => g,
            Err(why) => {
                crate::refuse(sock, l.port, &self.shared.store.cfg.hostname, why);
                return;
            }
        };
        let conn = Conn::nonblocking(sock, crate::IO_TIMEOUT);
        let Some(session) = crate::open_session(self.shared, conn, peer, l.port) else {
            return;
        };
        let Some((index, generation)) = self.table().insert_busy() else {
            return;
        };
        self.active.fetch_add(1, Ordering::SeqCst);
        // In the set before the first read: input that arrives from here
        // on is an edge this thread or the next one sees.
        if let Err(e) = epoll::add(
            &self.epoll,
            session.socket().as_fd(),
            EventData::new_u64(token(index, generation)),
            conn_flags(),
        ) {
            // The session cannot wait for input: it ends (closing the
            // socket) with its slot.
            log(format!("{} {peer}: epoll: {e}", l.port.name()));
            drop((session, guard));
            self.end(index);
            return;
        }
        let live = Live {
            session,
            _guard: guard,
        };
        self.serve(index, live, false);
    }

    /// An event for a connection: serve it, unless a thread serves it now
    /// (then that thread serves again) or it is gone.
    fn ready(&self, t: u64) {
        let (index, generation) = (t as u32, (t >> 32) as u32);
        let live = {
            let mut table = self.table();
            let Some(slot) = table.slots.get_mut(index as usize) else {
                return;
            };
            if slot.generation != generation {
                return;
            }
            match std::mem::replace(&mut slot.state, State::Busy { more: false }) {
                State::Waiting(live) => live,
                State::Busy { .. } => {
                    slot.state = State::Busy { more: true };
                    return;
                }
                State::Free => {
                    slot.state = State::Free;
                    return;
                }
            }
        };
        self.serve(index, live, false);
    }

    /// Resumes a session this thread took, until it waits with nothing
    /// noted meanwhile (then back into its slot) or ends.
    fn serve(&self, index: u32, mut live: Live, mut tick: bool) {
        loop {
            match live.session.resume(tick) {
                Step::Over => {
                    // The socket closes with the session (and leaves the
                    // epoll set with its last descriptor).
                    drop(live);
                    self.end(index);
                    return;
                }
                Step::Wait => {
                    let mut table = self.table();
                    let slot = &mut table.slots[index as usize];
                    if let State::Busy { more: true } = slot.state {
                        slot.state = State::Busy { more: false };
                        tick = false;
                        continue;
                    }
                    slot.state = State::Waiting(live);
                    return;
                }
                Step::Yield => {
                    // Back into the slot, then the socket modified in the
                    // set with the same flags: epoll looks at it again and,
                    // as input is left, reports it behind the events already
                    // ready (an edge-triggered socket with unread input
                    // gives no new edge by itself).
                    let mut table = self.table();
                    let slot = &mut table.slots[index as usize];
                    let data = EventData::new_u64(token(index, slot.generation));
                    let rearmed =
                        epoll::modify(&self.epoll, live.session.socket(), data, conn_flags());
                    if let Err(e) = rearmed {
                        // Not reported again: this thread goes on instead.
                        log(format!("epoll: {e}"));
                        tick = false;
                        continue;
                    }
                    slot.state = State::Waiting(live);
                    return;
                }
            }
        }
    }

    fn end(&self, index: u32) {
        self.table().release(index);
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    /// Resumes each waiting session with `tick` (its timeout or its
    /// handler's tick).
    fn ticks(&self) {
        let count = self.table().slots.len();
        for index in 0..count {
            let live = {
                let mut table = self.table();
                let slot = &mut table.slots[index];
                match std::mem::replace(&mut slot.state, State::Busy { more: false }) {
                    State::Waiting(live) => live,
                    other => {
                        slot.state = other;
                        continue;
                    }
                }
            };
            self.serve(index as u32, live, true);
        }
    }
}

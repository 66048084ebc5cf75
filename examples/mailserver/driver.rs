//! The blocking-socket driver for any mailwire state machine.
//!
//! [`Machine`] is the driver contract of STYLE.md §(a): after any `handle_*`
//! call or app command, drain `poll_transmit`, then `poll_event`, then ask
//! `poll_timeout`, and go round again when an event led to a command.
//! [`Conn`] is a TCP socket with rustls optionally layered under the machine
//! (socket, then rustls, then `handle_input`; `poll_transmit`, then rustls,
//! then socket). [`drive`] runs one connection to its end on the calling
//! thread; [`Driven`] holds one connection's machine, handler and socket
//! for the thread pool (`pool.rs`), which runs the same loop only while
//! input is there and keeps the connection in an epoll set between.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// Writes one log line to stderr with a single write (stderr is
/// unbuffered: `eprintln!` would make one system call per piece).
pub(crate) fn log(line: String) {
    let mut line = line;
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The methods every mailwire machine has (STYLE.md §(a)).
pub(crate) trait Machine {
    type Event;
    fn handle_input(&mut self, now: Instant, data: &[u8]);
    fn handle_eof(&mut self, now: Instant);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize>;
    fn poll_event(&mut self) -> Option<Self::Event>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn is_closed(&self) -> bool;
}

/// Implements [`Machine`] for a mailwire machine type by forwarding to its
/// inherent methods of the same names (they all follow STYLE.md §(a)).
macro_rules! impl_machine {
    ($machine:ty, $event:ty) => {
        impl $crate::driver::Machine for $machine {
            type Event = $event;
            fn handle_input(&mut self, now: std::time::Instant, data: &[u8]) {
                <$machine>::handle_input(self, now, data)
            }
            fn handle_eof(&mut self, now: std::time::Instant) {
                <$machine>::handle_eof(self, now)
            }
            fn handle_timeout(&mut self, now: std::time::Instant) {
                <$machine>::handle_timeout(self, now)
            }
            fn poll_transmit(
                &mut self,
                now: std::time::Instant,
                buf: &mut Vec<u8>,
            ) -> Option<usize> {
                <$machine>::poll_transmit(self, now, buf)
            }
            fn poll_event(&mut self) -> Option<$event> {
                <$machine>::poll_event(self)
            }
            fn poll_timeout(&self) -> Option<std::time::Instant> {
                <$machine>::poll_timeout(self)
            }
            fn is_closed(&self) -> bool {
                <$machine>::is_closed(self)
            }
        }
    };
}
pub(crate) use impl_machine;

/// What the application does with the events of one connection.
pub(crate) trait Handler<M: Machine> {
    /// Answers one event, typically by calling a method of `m`; may upgrade
    /// `conn` to TLS on a StartTls event.
    fn event(&mut self, m: &mut M, ev: M::Event, conn: &mut Conn) -> io::Result<()>;
    /// Called about every [`TICK`] while waiting for input; returning true
    /// ends the connection (used to finish at shutdown between transactions).
    fn tick(&mut self, _m: &mut M) -> bool {
        false
    }
    /// Called once when the connection is over, whatever ended it (after
    /// the last event; the socket is still open).
    fn end(&mut self) {}
}

/// How often a waiting connection looks at [`Handler::tick`].
pub(crate) const TICK: Duration = Duration::from_millis(200);

/// The result of one read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadResult {
    Data(usize),
    Eof,
    /// The deadline passed.
    TimedOut,
    /// Nothing yet, and the deadline has not passed.
    Tick,
}

/// A TCP connection, plain or with TLS, and compressed above that once
/// an IMAP client asked (RFC 4978).
pub(crate) struct Conn {
    sock: TcpStream,
    tls: Option<Box<rustls::Connection>>,
    /// COMPRESS=DEFLATE, between the machine and TLS (the facade's layer,
    /// which the IMAP client drivers use too), and its output buffer.
    deflate: Option<Box<(mailwire::blocking::Deflate, Vec<u8>)>>,
    read_timeout: Option<Duration>,
    /// Timeout for writes and for a TLS handshake.
    io_timeout: Duration,
    /// The socket is non-blocking (the pool's connections): a read returns
    /// at once, and a write or handshake that would block waits in `poll`
    /// (up to `io_timeout`) instead of in the system call.
    nonblocking: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.sock.peer_addr().ok())
            .field("tls", &self.tls.is_some())
            .field("deflate", &self.deflate.is_some())
            .finish()
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// What a thread pool does around a long wait of one of its threads
/// (`pool.rs`: make sure another thread takes the events meanwhile).
pub(crate) trait Waits: Sync {
    /// A thread of the pool is about to wait.
    fn enter(&'static self);
    /// The wait is over.
    fn leave(&'static self);
}

/// The pool's [`Waits`], set once by the pool; [`POOL_THREAD`] marks its
/// threads.
pub(crate) static POOL_WAITS: std::sync::OnceLock<&'static dyn Waits> = std::sync::OnceLock::new();

thread_local! {
    /// This thread is one of the pool's.
    pub(crate) static POOL_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, which may wait long (an `fsync`, a DNS lookup, a TLS
/// handshake's round trips, an AUTH failure's delay): on a thread of the
/// connection pool, another thread serves the other connections meanwhile
/// (see `pool.rs`). Elsewhere just runs `f`.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    struct Leave(&'static dyn Waits);
    impl Drop for Leave {
        fn drop(&mut self) {
            self.0.leave();
        }
    }
    let _leave = match POOL_WAITS.get() {
        Some(&w) if POOL_THREAD.get() => {
            w.enter();
            Some(Leave(w))
        }
        _ => None,
    };
    f()
}

/// Waits until `sock` is readable (`read`) or writable (`write`), or
/// fails with `TimedOut` at `deadline` (`poll(2)`).
fn wait_ready(sock: &TcpStream, read: bool, write: bool, deadline: Instant) -> io::Result<()> {
    blocking(|| poll_until(sock, read, write, deadline))
}

/// `d` as the timeout of `poll` and `epoll_wait` (saturated, not refused,
/// past `i64::MAX` seconds).
pub(crate) fn timespec(d: Duration) -> rustix::event::Timespec {
    rustix::event::Timespec {
        tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: d.subsec_nanos().into(),
    }
}

fn poll_until(sock: &TcpStream, read: bool, write: bool, deadline: Instant) -> io::Result<()> {
    use rustix::event::{PollFd, PollFlags, poll};
    let mut flags = PollFlags::empty();
    flags.set(PollFlags::IN, read);
    flags.set(PollFlags::OUT, write);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
        match poll(&mut [PollFd::new(sock, flags)], Some(&timespec(left))) {
            // Ready, or an error or hang-up the next call reports.
            Ok(n) if n > 0 => return Ok(()),
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

impl Conn {
    /// A plaintext connection.
    pub(crate) fn new(sock: TcpStream, io_timeout: Duration) -> io::Result<Self> {
        sock.set_nodelay(true)?;
        sock.set_write_timeout(Some(io_timeout))?;
        Ok(Self::inherited(sock, io_timeout, None))
    }

    /// A plaintext connection accepted from a listener whose `TCP_NODELAY`
    /// and write timeout (`io_timeout`) it inherited, with the inherited
    /// read timeout `read_timeout`: [`Conn::new`] without its two
    /// `setsockopt` calls (Linux copies these options from a listening
    /// socket to the sockets it accepts; see `main.rs`).
    pub(crate) fn inherited(
        sock: TcpStream,
        io_timeout: Duration,
        read_timeout: Option<Duration>,
    ) -> Self {
        Self {
            sock,
            tls: None,
            deflate: None,
            read_timeout,
            io_timeout,
            nonblocking: false,
        }
    }

    /// A plaintext connection over a non-blocking socket (accepted with
    /// `SOCK_NONBLOCK`, `TCP_NODELAY` inherited from the listener): reads
    /// never wait; writes and handshakes wait in `poll` for up to
    /// `io_timeout`.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the pool's (Linux)
    pub(crate) fn nonblocking(sock: TcpStream, io_timeout: Duration) -> Self {
        Self {
            sock,
            tls: None,
            deflate: None,
            read_timeout: None,
            io_timeout,
            nonblocking: true,
        }
    }

    /// The socket (for the pool's epoll set).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the pool's (Linux)
    pub(crate) fn socket(&self) -> &TcpStream {
        &self.sock
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    fn set_read_timeout(&mut self, d: Duration) -> io::Result<()> {
        if self.nonblocking {
            // Reads return at once; waits happen in `poll` (or epoll).
            return Ok(());
        }
        let d = d.max(Duration::from_millis(1));
        if self.read_timeout != Some(d) {
            self.sock.set_read_timeout(Some(d))?;
            self.read_timeout = Some(d);
        }
        Ok(())
    }

    /// Layers TLS under the connection and completes the handshake.
    pub(crate) fn start_tls(&mut self, tls: impl Into<rustls::Connection>) -> io::Result<()> {
        let mut tls: rustls::Connection = tls.into();
        let deadline = Instant::now() + self.io_timeout;
        while tls.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake timed out",
                ));
            }
            self.set_read_timeout(left)?;
            match tls.complete_io(&mut self.sock) {
                Ok((0, 0)) if tls.is_handshaking() => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "EOF in TLS handshake",
                    ));
                }
                Ok(_) => {}
                Err(e) if self.nonblocking && e.kind() == io::ErrorKind::WouldBlock => {
                    let out = tls.wants_write();
                    wait_ready(&self.sock, !out, out, deadline)?;
                }
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.send_tls(&mut tls)?;
        self.tls = Some(Box::new(tls));
        Ok(())
    }

    /// Compresses everything written and decompresses everything read
    /// from now on (RFC 4978 §3: after the OK to COMPRESS, which must have
    /// been written).
    pub(crate) fn start_deflate(&mut self) {
        let z = mailwire::blocking::Deflate::new(Vec::new());
        self.deflate = Some(Box::new((z, Vec::new())));
    }

    /// Whether all the input not yet read is in the socket: none waits
    /// decrypted in the TLS buffer (rustls wants to read only once that
    /// is empty) or compressed in the COMPRESS layer, so an epoll event
    /// for the socket covers it.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the pool's (Linux)
    pub(crate) fn may_yield(&self) -> bool {
        self.tls.as_ref().is_none_or(|t| t.wants_read())
            && self.deflate.as_ref().is_none_or(|z| !z.0.has_pending())
    }

    /// Reads what is there, waiting until `deadline` (and at most `tick`):
    /// decompressed when COMPRESS is on.
    pub(crate) fn read(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        tick: Option<Duration>,
    ) -> io::Result<ReadResult> {
        let Some(mut z) = self.deflate.take() else {
            return self.read_raw(buf, deadline, tick);
        };
        let res = loop {
            match z.0.inflate(buf) {
                Ok(0) => {}
                Ok(n) => break Ok(ReadResult::Data(n)),
                Err(e) => break Err(e),
            }
            // Nothing pending: read compressed octets into the layer.
            match self.read_raw(z.0.input_space(), deadline, tick) {
                Ok(ReadResult::Data(n)) => z.0.filled(n),
                other => {
                    z.0.filled(0);
                    break other;
                }
            }
        };
        self.deflate = Some(z);
        res
    }

    /// [`Conn::read`] below the COMPRESS layer.
    fn read_raw(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        tick: Option<Duration>,
    ) -> io::Result<ReadResult> {
        loop {
            if let Some(tls) = self.tls.as_mut() {
                match tls.reader().read(buf) {
                    Ok(0) => return Ok(ReadResult::Eof),
                    Ok(n) => return Ok(ReadResult::Data(n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return Ok(ReadResult::Eof);
                    }
                    Err(e) => return Err(e),
                }
            }
            let now = Instant::now();
            let mut wait = match deadline {
                Some(d) if d <= now => return Ok(ReadResult::TimedOut),
                Some(d) => d - now,
                None => Duration::from_secs(3600),
            };
            if let Some(t) = tick {
                wait = wait.min(t);
            }
            self.set_read_timeout(wait)?;
            let res = match self.tls.as_mut() {
                None => self.sock.read(buf),
                Some(tls) => tls.read_tls(&mut self.sock),
            };
            match res {
                Ok(0) => return Ok(ReadResult::Eof),
                Ok(n) => {
                    let Some(mut tls) = self.tls.take() else {
                        return Ok(ReadResult::Data(n));
                    };
                    let res = match tls.process_new_packets() {
                        Err(e) => {
                            // Send the alert, then give up.
                            let _ = tls.write_tls(&mut self.sock);
                            Err(io::Error::new(io::ErrorKind::InvalidData, e))
                        }
                        Ok(_) => self.send_tls(&mut tls),
                    };
                    self.tls = Some(tls);
                    res?;
                }
                Err(e) if is_timeout(&e) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(ReadResult::TimedOut);
                    }
                    return Ok(ReadResult::Tick);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes all of `data` (through TLS when active). Under TLS the data
    /// goes in as pieces rustls buffers (its plaintext buffer is limited,
    /// 64 KiB by default: one `write_all` of more fails with `WriteZero`),
    /// each sent before the next.
    pub(crate) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(mut z) = self.deflate.take() else {
            return self.write_raw(data);
        };
        let (layer, out) = &mut *z;
        out.clear();
        let res = match layer.compress(data, out) {
            Ok(()) => self.write_raw(out),
            Err(e) => Err(e),
        };
        // A big FETCH's buffer is not kept for the rest of the session.
        if out.capacity() > 1 << 20 {
            *out = Vec::new();
        }
        self.deflate = Some(z);
        res
    }

    /// [`Conn::write_all`] below the COMPRESS layer.
    fn write_raw(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(mut tls) = self.tls.take() else {
            return self.send(data);
        };
        let res = self.write_tls_all(&mut tls, data);
        self.tls = Some(tls);
        res
    }

    fn write_tls_all(&mut self, tls: &mut rustls::Connection, data: &[u8]) -> io::Result<()> {
        let mut rest = data;
        loop {
            let n = tls.writer().write(rest)?;
            rest = &rest[n..];
            let flushed = tls.wants_write();
            self.send_tls(tls)?;
            if rest.is_empty() {
                return Ok(());
            }
            if n == 0 && !flushed {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "TLS took no data"));
            }
        }
    }

    /// Writes all of `data` to the socket (see [`Conn::write_with`]).
    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        let mut rest = data;
        self.write_with(|sock| {
            (!rest.is_empty()).then(|| match sock.write(rest) {
                Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    rest = &rest[n..];
                    Ok(())
                }
                Err(e) => Err(e),
            })
        })
    }

    /// Sends what rustls has queued (see [`Conn::write_with`]).
    fn send_tls(&mut self, tls: &mut rustls::Connection) -> io::Result<()> {
        self.write_with(|sock| tls.wants_write().then(|| tls.write_tls(sock).map(drop)))
    }

    /// Makes the writes `write` asks for (it returns `None` when there is
    /// nothing left) until it is done: on a non-blocking socket, waiting in
    /// `poll` while the send buffer is full, up to `io_timeout`.
    fn write_with(
        &mut self,
        mut write: impl FnMut(&mut TcpStream) -> Option<io::Result<()>>,
    ) -> io::Result<()> {
        let mut deadline = None;
        while let Some(res) = write(&mut self.sock) {
            match res {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if self.nonblocking && e.kind() == io::ErrorKind::WouldBlock => {
                    let d = *deadline.get_or_insert_with(|| Instant::now() + self.io_timeout);
                    wait_ready(&self.sock, false, true, d)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Ends the connection: TLS close_notify, then a TCP shutdown. A plain
    /// connection needs no shutdown call: this socket is its only handle, so
    /// dropping the `Conn` closes it and sends the FIN (one system call
    /// fewer per connection).
    pub(crate) fn close(&mut self) {
        if let Some(mut tls) = self.tls.take() {
            tls.send_close_notify();
            let _ = self.send_tls(&mut tls);
            let _ = self.sock.shutdown(Shutdown::Both);
        }
    }
}

/// Sends what the machine has to send.
pub(crate) fn flush<M: Machine>(m: &mut M, conn: &mut Conn, out: &mut Vec<u8>) -> io::Result<()> {
    while m.poll_transmit(Instant::now(), out).is_some() {}
    if !out.is_empty() {
        let res = conn.write_all(out);
        out.clear();
        res?;
    }
    Ok(())
}

/// Runs `m` over `conn` until the machine closes, the peer goes away, or the
/// handler's tick asks to stop; then [`Handler::end`]. Does not close
/// `conn`.
pub(crate) fn drive<M: Machine, H: Handler<M>>(
    m: &mut M,
    conn: &mut Conn,
    h: &mut H,
) -> io::Result<()> {
    let res = with_buffers(|out, buf| drive_with(m, conn, h, out, buf, &mut false));
    h.end();
    res
}

/// Runs `f` with this thread's output and read buffers. They outlive the
/// connection: a thread serves one connection after another and reuses
/// them (no 16 KiB allocation and zeroing per connection).
fn with_buffers<T>(f: impl FnOnce(&mut Vec<u8>, &mut [u8]) -> T) -> T {
    let (mut out, mut buf) = BUFFERS
        .with(|b| b.take())
        .unwrap_or_else(|| (Vec::with_capacity(4096), vec![0u8; 16 * 1024]));
    let res = f(&mut out, &mut buf);
    out.clear();
    BUFFERS.with(|b| b.set(Some((out, buf))));
    res
}

thread_local! {
    /// [`with_buffers`]'s buffers, kept between connections.
    static BUFFERS: std::cell::Cell<Option<(Vec<u8>, Vec<u8>)>> =
        const { std::cell::Cell::new(None) };
}

/// Transmits and answers events until the machine needs input: the
/// deadline to wait until, or `None` when the connection is over (the
/// machine closed, or saw the end of input and has nothing more to say).
fn settle<M: Machine, H: Handler<M>>(
    m: &mut M,
    conn: &mut Conn,
    h: &mut H,
    out: &mut Vec<u8>,
    eof: bool,
) -> io::Result<Option<Option<Instant>>> {
    loop {
        // 1. transmit, 2. events, 3. timeout: always in this order.
        flush(m, conn, out)?;
        let mut any = false;
        while let Some(ev) = m.poll_event() {
            any = true;
            h.event(m, ev, conn)?;
        }
        if any {
            continue;
        }
        if m.is_closed() || eof {
            return Ok(None);
        }
        return Ok(Some(m.poll_timeout()));
    }
}

/// Gives the machine what one read brought. False when the handler's tick
/// ends the connection (after a last flush).
fn take_read<M: Machine, H: Handler<M>>(
    m: &mut M,
    conn: &mut Conn,
    h: &mut H,
    out: &mut Vec<u8>,
    res: ReadResult,
    buf: &[u8],
    eof: &mut bool,
) -> io::Result<bool> {
    match res {
        ReadResult::Data(n) => m.handle_input(Instant::now(), &buf[..n]),
        ReadResult::Eof => {
            *eof = true;
            m.handle_eof(Instant::now());
        }
        ReadResult::TimedOut => m.handle_timeout(Instant::now()),
        ReadResult::Tick => {
            if h.tick(m) {
                flush(m, conn, out)?;
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn drive_with<M: Machine, H: Handler<M>>(
    m: &mut M,
    conn: &mut Conn,
    h: &mut H,
    out: &mut Vec<u8>,
    buf: &mut [u8],
    eof: &mut bool,
) -> io::Result<()> {
    while let Some(deadline) = settle(m, conn, h, out, *eof)? {
        let res = conn.read(buf, deadline, Some(TICK))?;
        if !take_read(m, conn, h, out, res, buf, eof)? {
            break;
        }
    }
    Ok(())
}

/// What [`Resumable::resume`] left the connection in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the pool's (Linux)
pub(crate) enum Step {
    /// Waiting for input (nothing left to read; the timeout is checked at
    /// the next tick).
    Wait,
    /// Over: the handler has ended (and TLS with it); dropping the
    /// session closes the socket.
    Over,
    /// Served its turn ([`READ_BUDGET`] reads): input may be left in the
    /// socket (none in the connection's TLS buffer). The pool puts the
    /// session back and has epoll report the socket again, behind the
    /// connections already waiting to be served.
    Yield,
}

/// Reads one turn of [`Resumable::resume`] may take before it yields
/// (16 KiB each: 256 KiB): a client that sends faster than its commands
/// are served does not keep a thread of the pool from the others.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the pool's (Linux)
pub(crate) const READ_BUDGET: u32 = 16;

/// A connection the pool serves a little at a time.
pub(crate) trait Resumable: Send {
    /// Serves the connection until it waits for input (its socket has
    /// nothing more to read) or ends. `tick` asks for the periodic check
    /// instead of a read: the deadline's timeout if it passed, else
    /// [`Handler::tick`]; then only what that produced is answered (the
    /// pool resumes with `tick` false when input arrives).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the pool's (Linux)
    fn resume(&mut self, tick: bool) -> Step;
    /// Serves the connection to its end on this thread, waiting in blocking
    /// reads (the thread-per-connection model: `--connections threads`,
    /// and the only one on other systems than Linux).
    fn run(&mut self);
    /// The socket, for the epoll set.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the pool's (Linux)
    fn socket(&self) -> &TcpStream;
}

/// One connection: its machine, its handler and its socket. Dropped
/// before its end, it ends (the handler's end, the socket closed).
pub(crate) struct Driven<M: Machine, H: Handler<M>> {
    m: M,
    h: H,
    conn: Conn,
    eof: bool,
    over: bool,
    /// For the log line of an I/O error: the port's name and the peer.
    name: &'static str,
    peer: std::net::SocketAddr,
}

impl<M: Machine, H: Handler<M>> Driven<M, H> {
    pub(crate) fn new(
        (m, h): (M, H),
        conn: Conn,
        name: &'static str,
        peer: std::net::SocketAddr,
    ) -> Self {
        Self {
            m,
            h,
            conn,
            eof: false,
            over: false,
            name,
            peer,
        }
    }

    #[cfg_attr(not(target_os = "linux"), allow(dead_code))] // the pool's (Linux)
    fn turn(&mut self, tick: bool, out: &mut Vec<u8>, buf: &mut [u8]) -> io::Result<Step> {
        let Self { m, h, conn, .. } = self;
        if tick {
            let now = Instant::now();
            let res = if m.poll_timeout().is_some_and(|d| d <= now) {
                ReadResult::TimedOut
            } else {
                ReadResult::Tick
            };
            if !take_read(m, conn, h, out, res, buf, &mut self.eof)? {
                return Ok(Step::Over);
            }
            return Ok(match settle(m, conn, h, out, self.eof)? {
                Some(_) => Step::Wait,
                None => Step::Over,
            });
        }
        let mut reads: u32 = 0;
        while settle(m, conn, h, out, self.eof)?.is_some() {
            // Past the budget, the turn ends as soon as no input waits in
            // the TLS buffer.
            if reads >= READ_BUDGET && conn.may_yield() {
                return Ok(Step::Yield);
            }
            match conn.read(buf, None, None)? {
                // Nothing more to read now (a non-blocking socket).
                ReadResult::Tick => return Ok(Step::Wait),
                res => {
                    reads = reads.saturating_add(1);
                    if !take_read(m, conn, h, out, res, buf, &mut self.eof)? {
                        break;
                    }
                }
            }
        }
        Ok(Step::Over)
    }

    /// Ends the connection: the handler's end, TLS close, an I/O error
    /// logged.
    fn finish(&mut self, res: io::Result<()>) {
        self.over = true;
        self.h.end();
        if let Err(e) = res {
            log(format!("{} {} connection error: {e}", self.name, self.peer));
        }
        self.conn.close();
    }
}

impl<M: Machine, H: Handler<M>> Drop for Driven<M, H> {
    fn drop(&mut self) {
        if !self.over {
            self.finish(Ok(()));
        }
    }
}

impl<M, H> Resumable for Driven<M, H>
where
    M: Machine + Send,
    H: Handler<M> + Send,
{
    fn resume(&mut self, tick: bool) -> Step {
        if self.over {
            return Step::Over;
        }
        let res = with_buffers(|out, buf| self.turn(tick, out, buf));
        match res {
            Ok(step @ (Step::Wait | Step::Yield)) => step,
            Ok(Step::Over) => {
                self.finish(Ok(()));
                Step::Over
            }
            Err(e) => {
                self.finish(Err(e));
                Step::Over
            }
        }
    }

    fn run(&mut self) {
        if self.over {
            return;
        }
        let Self {
            m, h, conn, eof, ..
        } = self;
        let res = with_buffers(|out, buf| drive_with(m, conn, h, out, buf, eof));
        self.finish(res);
    }

    fn socket(&self) -> &TcpStream {
        self.conn.socket()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::io::{BufRead, BufReader};
    use std::net::{SocketAddr, TcpListener};
    use std::sync::Arc;

    /// A line echo machine with an idle timeout and a STARTTLS command.
    struct Echo {
        inbuf: Vec<u8>,
        out: Vec<u8>,
        events: VecDeque<String>,
        idle: Duration,
        deadline: Option<Instant>,
        closed: bool,
        waiting_tls: bool,
    }

    impl Echo {
        fn new(now: Instant) -> Self {
            let idle = Duration::from_millis(300);
            Self {
                inbuf: Vec::new(),
                out: b"hello\r\n".to_vec(),
                events: VecDeque::new(),
                idle,
                deadline: Some(now + idle),
                closed: false,
                waiting_tls: false,
            }
        }
    }

    impl Machine for Echo {
        type Event = String;
        fn handle_input(&mut self, now: Instant, data: &[u8]) {
            if self.waiting_tls {
                self.closed = true;
                self.events.push_back("plaintext after starttls".into());
                return;
            }
            self.deadline = Some(now + self.idle);
            self.inbuf.extend_from_slice(data);
            while let Some(i) = self.inbuf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.inbuf.drain(..=i).collect();
                let line = String::from_utf8_lossy(&line).trim_end().to_string();
                if line == "STARTTLS" {
                    self.out.extend_from_slice(b"go ahead\r\n");
                    self.waiting_tls = true;
                    // Anything after it in the same read is plaintext injection.
                    if !self.inbuf.is_empty() {
                        self.closed = true;
                        self.events.push_back("plaintext after starttls".into());
                    }
                    return;
                }
                if line == "QUIT" {
                    self.out.extend_from_slice(b"bye\r\n");
                    self.closed = true;
                    return;
                }
                self.events.push_back(line);
            }
        }
        fn handle_eof(&mut self, _now: Instant) {
            self.closed = true;
        }
        fn handle_timeout(&mut self, now: Instant) {
            if self.deadline.is_some_and(|d| d <= now) {
                self.out.extend_from_slice(b"timeout\r\n");
                self.closed = true;
                self.deadline = None;
            }
        }
        fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
            if self.out.is_empty() {
                return None;
            }
            let n = self.out.len();
            buf.append(&mut self.out);
            Some(n)
        }
        fn poll_event(&mut self) -> Option<String> {
            if self.waiting_tls && self.out.is_empty() && !self.closed {
                self.waiting_tls = false;
                return Some("STARTTLS".into());
            }
            self.events.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.deadline
        }
        fn is_closed(&self) -> bool {
            self.closed
        }
    }

    struct EchoHandler {
        tls: Arc<rustls::ServerConfig>,
        seen: Vec<String>,
    }

    impl Handler<Echo> for EchoHandler {
        fn event(&mut self, m: &mut Echo, ev: String, conn: &mut Conn) -> io::Result<()> {
            if ev == "STARTTLS" {
                let sc =
                    rustls::ServerConnection::new(self.tls.clone()).map_err(io::Error::other)?;
                conn.start_tls(sc)?;
                m.out.extend_from_slice(b"secure\r\n");
            } else if !m.closed {
                m.out.extend_from_slice(format!("echo {ev}\r\n").as_bytes());
            }
            self.seen.push(ev);
            Ok(())
        }
    }

    fn serve_one() -> (SocketAddr, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (certs, key) = crate::tls::self_signed(&["localhost".into()]).unwrap();
        let tls = crate::tls::server_config(certs, key).unwrap();
        let t = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut conn = Conn::new(s, Duration::from_secs(5)).unwrap();
            let mut m = Echo::new(Instant::now());
            let mut h = EchoHandler { tls, seen: vec![] };
            drive(&mut m, &mut conn, &mut h).unwrap();
            conn.close();
            h.seen
        });
        (addr, t)
    }

    #[test]
    fn plain_echo_pipelined_and_timeout() {
        let (addr, t) = serve_one();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"a\r\nb\r\n").unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut lines = Vec::new();
        for _ in 0..4 {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            lines.push(l);
        }
        assert_eq!(
            lines,
            ["hello\r\n", "echo a\r\n", "echo b\r\n", "timeout\r\n"]
        );
        let mut rest = String::new();
        r.read_line(&mut rest).unwrap();
        assert_eq!(rest, "", "closed after the timeout");
        assert_eq!(t.join().unwrap(), ["a", "b"]);
    }

    #[test]
    fn starttls_upgrade() {
        let (addr, t) = serve_one();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"x\r\n").unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut text = String::new();
        while !text.ends_with("echo x\r\n") {
            r.read_line(&mut text).unwrap();
        }
        s.write_all(b"STARTTLS\r\n").unwrap();
        while !text.ends_with("go ahead\r\n") {
            r.read_line(&mut text).unwrap();
        }
        assert_eq!(text, "hello\r\necho x\r\ngo ahead\r\n");
        let cc = rustls::ClientConnection::new(
            crate::tls::client_config().unwrap(),
            "localhost".try_into().unwrap(),
        )
        .unwrap();
        let mut tls = rustls::StreamOwned::new(cc, s);
        tls.write_all(b"y\r\n").unwrap();
        let mut got = String::new();
        {
            let mut r = BufReader::new(&mut tls);
            while !got.ends_with("echo y\r\n") {
                r.read_line(&mut got).unwrap();
            }
        }
        tls.write_all(b"QUIT\r\n").unwrap();
        let _ = tls.read_to_string(&mut got);
        assert_eq!(got, "secure\r\necho y\r\nbye\r\n");
        assert_eq!(t.join().unwrap(), ["x", "STARTTLS", "y"]);
    }

    #[test]
    fn plaintext_after_starttls_is_refused() {
        let (addr, t) = serve_one();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"STARTTLS\r\nRSET\r\n").unwrap();
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        assert_eq!(got, "hello\r\ngo ahead\r\n");
        assert_eq!(t.join().unwrap(), ["plaintext after starttls"]);
    }

    /// A connected pair: the client end, and the server end non-blocking.
    fn nonblocking_pair() -> (TcpStream, TcpStream, SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, peer) = l.accept().unwrap();
        s.set_nonblocking(true).unwrap();
        (client, s, peer)
    }

    /// The echo machine driven the pool's way over the server side of a
    /// fresh connection (non-blocking, `io_timeout` for writes), and the
    /// client side.
    fn driven_echo(io_timeout: Duration) -> (TcpStream, Driven<Echo, EchoHandler>) {
        let (client, s, peer) = nonblocking_pair();
        let (certs, key) = crate::tls::self_signed(&["localhost".into()]).unwrap();
        let tls = crate::tls::server_config(certs, key).unwrap();
        let h = EchoHandler { tls, seen: vec![] };
        let conn = Conn::nonblocking(s, io_timeout);
        let d = Driven::new((Echo::new(Instant::now()), h), conn, "test", peer);
        (client, d)
    }

    /// The pool's way of driving: resumed while input is there, `Wait`
    /// when the socket has nothing more, ticks for the timeout.
    #[test]
    fn resumed_over_a_nonblocking_socket() {
        let (client, mut d) = driven_echo(Duration::from_secs(5));
        assert_eq!(d.resume(false), Step::Wait, "greeted; nothing to read");
        let mut r = BufReader::new(client.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "hello\r\n");
        (&client).write_all(b"a\r\nb\r\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while d.h.seen.len() < 2 {
            assert!(Instant::now() < deadline, "input never read");
            assert_eq!(d.resume(false), Step::Wait);
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(d.h.seen, ["a", "b"]);
        assert_eq!(d.resume(true), Step::Wait, "a tick before the deadline");
        std::thread::sleep(Duration::from_millis(350));
        assert_eq!(d.resume(true), Step::Over, "the tick after the deadline");
        assert_eq!(d.resume(false), Step::Over, "over stays over");
        drop(d);
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "echo a\r\necho b\r\ntimeout\r\n");
    }

    /// A client that sends without pause: a turn ends after
    /// [`READ_BUDGET`] reads with `Yield` (input left in the socket), and
    /// the next turns go on where it stopped.
    #[test]
    fn a_turn_yields_after_its_read_budget() {
        let (client, mut d) = driven_echo(Duration::from_secs(10));
        // 1 MiB of one-letter lines (four budgets' worth), written while
        // the echoes are read on another thread.
        const LINES: usize = (1 << 20) / 3;
        let mut w = client.try_clone().unwrap();
        let writer = std::thread::spawn(move || w.write_all(&b"a\r\n".repeat(LINES)).unwrap());
        // `client` stays open here until every line was read: the turns
        // see no end of input.
        let r = client.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(r);
            let mut line = String::new();
            let mut echoes = 0;
            while echoes < LINES && r.read_line(&mut line).unwrap() > 0 {
                echoes += usize::from(line == "echo a\r\n");
                line.clear();
            }
            echoes
        });
        let (mut yields, mut waits) = (0, 0);
        let deadline = Instant::now() + Duration::from_secs(20);
        while d.h.seen.len() < LINES {
            assert!(Instant::now() < deadline, "input never read");
            match d.resume(false) {
                Step::Yield => yields += 1,
                Step::Wait => {
                    waits += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Step::Over => panic!("over"),
            }
        }
        writer.join().unwrap();
        drop(d);
        drop(client);
        assert_eq!(reader.join().unwrap(), LINES, "every line answered, once");
        eprintln!("{yields} turns yielded, {waits} waited");
        assert!(yields > 0, "no turn used up its reads ({waits} waited)");
    }

    /// A write larger than the socket buffers completes on a non-blocking
    /// socket: it waits in `poll` while the peer has not read.
    #[test]
    fn nonblocking_write_waits_for_the_peer() {
        let (mut client, s, _) = nonblocking_pair();
        let data: Vec<u8> = (0..8 << 20).map(|i| (i % 251) as u8).collect();
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got
        });
        let mut conn = Conn::nonblocking(s, Duration::from_secs(10));
        conn.write_all(&data).unwrap();
        drop(conn);
        assert!(reader.join().unwrap() == data);
    }
}

//! Connection limits: how many connections the server serves at once, how
//! many one client address may hold, and how fast one address may open
//! them (Postfix's `smtpd_client_connection_count_limit` and
//! `smtpd_client_connection_rate_limit`, kept in-process instead of in
//! anvil).
//!
//! The thread that accepts a connection asks [`Limiter::try_acquire`]
//! *before* it serves it or starts another thread. A refused connection gets one line (`421` for SMTP,
//! `-ERR` for POP3; nothing on the implicit-TLS ports, which expect a TLS
//! handshake) and is closed at once on the accepting thread, so a flood of
//! connections costs one `accept`, one `write` and one `close` each and
//! never a new thread. An accepted connection carries its [`ConnGuard`]; the
//! slot is given back when the guard drops, whatever way the session ends.
//! The number of session threads is so bounded by `max_total`, well below
//! what the operating system allows, and it is this limit, not a full
//! accept queue or a failed `pthread_create`, that decides who is served.
//!
//! IPv6 clients are counted per /64 (one host usually has a whole /64);
//! IPv4-mapped IPv6 addresses count as their IPv4 address.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The limits, from the command line or the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnLimits {
    /// Connections served at once, all ports and addresses together.
    pub(crate) max_total: usize,
    /// Connections one client address (IPv6: one /64) may hold at once.
    pub(crate) max_per_address: usize,
    /// At most this many new connections per `rate_period` from one
    /// address; `0` turns the rate limit off.
    pub(crate) rate: u32,
    /// The period of `rate`.
    pub(crate) rate_period: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_total: 500,
            max_per_address: 20,
            // A burst of 600, then 10 a second: far above any real client
            // (a busy relay keeps a few connections open), far below a
            // connect loop.
            rate: 600,
            rate_period: Duration::from_secs(60),
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `max_total` connections are open.
    Total,
    /// The address holds `max_per_address` connections.
    PerAddress,
    /// The address opened more than `rate` connections in `rate_period`.
    Rate,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Total => "too many connections",
            Refusal::PerAddress => "too many connections from your address",
            Refusal::Rate => "too many connections from your address per unit of time",
        })
    }
}

/// What is known about one client address.
#[derive(Debug)]
struct Client {
    /// Its connections open now.
    open: usize,
    /// Connections it may still open now (a token bucket of `rate` tokens,
    /// refilled at `rate` per `rate_period`).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    refilled: Instant,
}

#[derive(Debug, Default)]
struct State {
    total: usize,
    clients: HashMap<IpAddr, Client>,
    /// Prune forgotten clients once the table grows beyond this.
    prune_at: usize,
    /// Refusals since the last log line, and when that was.
    refused: u64,
    logged: Option<Instant>,
}

/// The shared counters (one per server).
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: ConnLimits,
    state: Mutex<State>,
}

/// One connection's slot; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct ConnGuard {
    limiter: Arc<Limiter>,
    key: IpAddr,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.limiter.release(self.key);
    }
}

/// The key an address is counted under (also by the AUTH guard).
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

const MIN_PRUNE: usize = 1024;

impl Client {
    /// Its tokens at `now` (at most `rate`).
    fn tokens_at(&self, now: Instant, rate: f64, per_sec: f64) -> f64 {
        (self.tokens + now.duration_since(self.refilled).as_secs_f64() * per_sec).min(rate)
    }

    /// Spends a token of the rate limit if there is one.
    fn spend(&mut self, now: Instant, rate: f64, per_sec: f64) -> bool {
        self.tokens = self.tokens_at(now, rate, per_sec);
        self.refilled = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

impl Limiter {
    pub(crate) fn new(limits: ConnLimits) -> Arc<Self> {
        Arc::new(Limiter {
            limits,
            state: Mutex::new(State {
                prune_at: MIN_PRUNE,
                ..State::default()
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tokens refilled per second.
    fn refill_rate(&self) -> f64 {
        f64::from(self.limits.rate) / self.limits.rate_period.as_secs_f64().max(1e-3)
    }

    /// Takes a slot for a new connection from `ip`, or says why not. Every
    /// attempt, refused or not, spends one token of the address's rate, so
    /// a client that keeps hammering stays refused.
    pub(crate) fn try_acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        now: Instant,
    ) -> Result<ConnGuard, Refusal> {
        let k = address_key(ip);
        let rate = f64::from(self.limits.rate);
        let per_sec = self.refill_rate();
        let mut st = self.lock();
        if st.clients.len() >= st.prune_at {
            // Forget the addresses with nothing open and a full bucket.
            st.clients.retain(|_, c| {
                c.open > 0 || (rate > 0.0 && c.tokens_at(now, rate, per_sec) < rate)
            });
            st.prune_at = (st.clients.len() * 2).max(MIN_PRUNE);
        }
        let total = st.total;
        let c = st.clients.entry(k).or_insert(Client {
            open: 0,
            tokens: rate,
            refilled: now,
        });
        let verdict = if self.limits.rate > 0 && !c.spend(now, rate, per_sec) {
            Err(Refusal::Rate)
        } else if c.open >= self.limits.max_per_address {
            Err(Refusal::PerAddress)
        } else if total >= self.limits.max_total {
            Err(Refusal::Total)
        } else {
            c.open += 1;
            Ok(())
        };
        match verdict {
            Ok(()) => {
                st.total += 1;
                drop(st);
                Ok(ConnGuard {
                    limiter: self.clone(),
                    key: k,
                })
            }
            Err(r) => {
                st.refused += 1;
                // One log line a second at most, whatever the flood.
                if st
                    .logged
                    .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
                {
                    let n = std::mem::take(&mut st.refused);
                    st.logged = Some(now);
                    drop(st);
                    crate::driver::log(format!(
                        "refused {n} connection(s), the last from {ip}: {r}"
                    ));
                }
                Err(r)
            }
        }
    }

    fn release(&self, k: IpAddr) {
        let mut st = self.lock();
        st.total = st.total.saturating_sub(1);
        if let Some(c) = st.clients.get_mut(&k) {
            c.open = c.open.saturating_sub(1);
        }
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.lock().total
    }

    /// Whether the server is under stress: three quarters of its slots are
    /// taken. New sessions then get short idle timeouts (Postfix's
    /// `smtpd_timeout = ${stress?{10}:{300}}s`).
    pub(crate) fn stressed(&self) -> bool {
        self.open() * 4 >= self.limits.max_total * 3
    }
}

/// The recipients each account that logged in may send to per period
/// (`--send-rate N/DURATION`), all its sessions together: a token bucket
/// per account, so that a stolen password sends a little, not a flood,
/// before someone notices. Off when N is 0.
#[derive(Debug)]
pub(crate) struct SendRate {
    rate: u32,
    period: Duration,
    /// Account to its tokens and when they were counted.
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl SendRate {
    pub(crate) fn new((rate, period): (u32, Duration)) -> Self {
        SendRate {
            rate,
            period,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one token of `user`'s for a recipient at `now`; false when
    /// there is none left (the recipient is refused for now).
    pub(crate) fn spend(&self, user: &str, now: Instant) -> bool {
        if self.rate == 0 {
            return true;
        }
        let rate = f64::from(self.rate);
        let per_sec = rate / self.period.as_secs_f64().max(1e-3);
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = b.entry(user.to_string()).or_insert((rate, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec).min(rate);
        *at = now;
        if *tokens < 1.0 {
            return false;
        }
        *tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    fn limits(total: usize, per: usize, rate: u32) -> ConnLimits {
        ConnLimits {
            max_total: total,
            max_per_address: per,
            rate,
            rate_period: Duration::from_secs(10),
        }
    }

    #[test]
    fn per_address_limit_and_release() {
        let l = Limiter::new(limits(100, 3, 0));
        let now = Instant::now();
        let held: Vec<_> = (0..3).map(|_| l.try_acquire(ip(2), now).unwrap()).collect();
        assert_eq!(l.try_acquire(ip(2), now).unwrap_err(), Refusal::PerAddress);
        // Another address is not affected.
        let other = l.try_acquire(ip(3), now).unwrap();
        assert_eq!(l.open(), 4);
        drop(held);
        assert_eq!(l.open(), 1);
        let again = l.try_acquire(ip(2), now).unwrap();
        drop((other, again));
        assert_eq!(l.open(), 0);
    }

    #[test]
    fn total_limit() {
        let l = Limiter::new(limits(4, 3, 0));
        let now = Instant::now();
        let a: Vec<_> = (0..3).map(|_| l.try_acquire(ip(2), now).unwrap()).collect();
        let b = l.try_acquire(ip(3), now).unwrap();
        assert!(l.stressed());
        assert_eq!(l.try_acquire(ip(4), now).unwrap_err(), Refusal::Total);
        drop(b);
        assert!(l.try_acquire(ip(4), now).is_ok());
        drop(a);
    }

    #[test]
    fn rate_limit_refills_over_time() {
        let l = Limiter::new(limits(100, 100, 5));
        let t0 = Instant::now();
        for _ in 0..5 {
            drop(l.try_acquire(ip(2), t0).unwrap());
        }
        assert_eq!(l.try_acquire(ip(2), t0).unwrap_err(), Refusal::Rate);
        assert!(l.try_acquire(ip(3), t0).is_ok(), "per address");
        // 5 per 10 s: one token every 2 s.
        assert_eq!(
            l.try_acquire(ip(2), t0 + Duration::from_millis(1500))
                .unwrap_err(),
            Refusal::Rate
        );
        // 0.75 tokens at 1.5 s, 2 at 4 s.
        assert!(
            l.try_acquire(ip(2), t0 + Duration::from_millis(4000))
                .is_ok()
        );
        assert!(
            l.try_acquire(ip(2), t0 + Duration::from_millis(4000))
                .is_ok()
        );
        assert_eq!(
            l.try_acquire(ip(2), t0 + Duration::from_millis(4000))
                .unwrap_err(),
            Refusal::Rate
        );
        assert_eq!(l.open(), 0);
    }

    #[test]
    fn refused_attempts_spend_tokens() {
        let l = Limiter::new(limits(100, 1, 3));
        let t0 = Instant::now();
        let g = l.try_acquire(ip(2), t0).unwrap();
        assert_eq!(l.try_acquire(ip(2), t0).unwrap_err(), Refusal::PerAddress);
        assert_eq!(l.try_acquire(ip(2), t0).unwrap_err(), Refusal::PerAddress);
        drop(g);
        assert_eq!(l.try_acquire(ip(2), t0).unwrap_err(), Refusal::Rate);
    }

    #[test]
    fn ipv6_counted_per_64_and_mapped_v4_as_v4() {
        let l = Limiter::new(limits(100, 1, 0));
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _g = l.try_acquire(a, now).unwrap();
        assert_eq!(l.try_acquire(b, now).unwrap_err(), Refusal::PerAddress);
        assert!(l.try_acquire(c, now).is_ok());
        let _v4 = l.try_acquire(ip(9), now).unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.9".parse().unwrap();
        assert_eq!(l.try_acquire(mapped, now).unwrap_err(), Refusal::PerAddress);
    }

    #[test]
    fn forgotten_clients_are_pruned() {
        let l = Limiter::new(limits(100_000, 10, 2));
        let t0 = Instant::now();
        for i in 0..3000u32 {
            let a = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            drop(l.try_acquire(a, t0).unwrap());
        }
        // Long after: every bucket is full again, so all may go.
        let later = t0 + Duration::from_secs(60);
        for i in 0..1200u32 {
            let a = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i));
            drop(l.try_acquire(a, later).unwrap());
        }
        assert!(l.lock().clients.len() <= 2 * MIN_PRUNE);
    }

    /// Each account has its own bucket: N recipients at once, then one
    /// more per period/N; 0 is no limit.
    #[test]
    fn send_rate_per_account() {
        let t0 = Instant::now();
        let r = SendRate::new((3, Duration::from_secs(60)));
        assert!((0..3).all(|_| r.spend("alice", t0)));
        assert!(!r.spend("alice", t0));
        assert!(r.spend("bob", t0), "another account's own bucket");
        assert!(!r.spend("alice", t0 + Duration::from_secs(19)));
        assert!(r.spend("alice", t0 + Duration::from_secs(21)));
        assert!(!r.spend("alice", t0 + Duration::from_secs(22)));
        let off = SendRate::new((0, Duration::from_secs(60)));
        assert!((0..1000).all(|_| off.spend("alice", t0)));
    }
}

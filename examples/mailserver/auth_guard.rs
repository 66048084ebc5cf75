//! Defences against password guessing, for SMTP AUTH and POP3 alike:
//!
//! - every attempt counts as a failure of the client address from the
//!   moment it starts (and is taken back if it succeeds), so parallel
//!   connections cannot run more guesses than the block allows;
//! - a failure is answered only after a delay that doubles with each
//!   failure of the address (`delay`, `2 × delay`, ... up to `max_delay`),
//!   the way Dovecot's `auth_failure_delay` slows a guesser;
//! - a connection is closed after `max_per_connection` failures;
//! - an address with `block_after` failures within `window` is blocked for
//!   `block_for`: its AUTH commands are refused before any credential is
//!   looked at, so a right password is refused too (it cannot be told
//!   apart from a guess). Other addresses are not affected.
//!
//! The delay happens on the session's own thread, before its answer is
//! written; the connection limits ([`crate::limits`]) bound how many such
//! threads one address can hold.
//!
//! IPv6 addresses count per /64, as in the connection limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The AUTH policy, from the command line or the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthPolicy {
    /// The delay before the first failure is answered; it doubles with
    /// each failure of the address.
    pub(crate) delay: Duration,
    /// The longest delay.
    pub(crate) max_delay: Duration,
    /// Failures on one connection before it is closed.
    pub(crate) max_per_connection: u32,
    /// Failures of one address within `window` before it is blocked.
    pub(crate) block_after: u32,
    /// How long failures are remembered.
    pub(crate) window: Duration,
    /// How long a block lasts.
    pub(crate) block_for: Duration,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_per_connection: 3,
            block_after: 10,
            window: Duration::from_secs(600),
            block_for: Duration::from_secs(900),
        }
    }
}

#[derive(Debug)]
struct Record {
    failures: u32,
    /// When the count started; it starts over `window` later.
    since: Instant,
    blocked_until: Option<Instant>,
}

/// The failures of every address (one per server).
#[derive(Debug)]
pub(crate) struct AuthGuard {
    policy: AuthPolicy,
    records: Mutex<HashMap<IpAddr, Record>>,
}

/// The address is blocked: refuse without looking at the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocked;

/// One AUTH attempt in progress, counted as a failure until
/// [`AuthGuard::succeeded`] says otherwise.
#[derive(Debug)]
#[must_use]
pub(crate) struct Attempt {
    key: IpAddr,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FailureAction {
    /// Wait this long before answering.
    pub(crate) delay: Duration,
    /// Then close the connection (too many failures on it).
    pub(crate) disconnect: bool,
}

fn key(ip: IpAddr) -> IpAddr {
    crate::limits::address_key(ip)
}

impl AuthGuard {
    pub(crate) fn new(policy: AuthPolicy) -> Self {
        AuthGuard {
            policy,
            records: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn policy(&self) -> &AuthPolicy {
        &self.policy
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An AUTH attempt from `ip` starts: refused when the address is
    /// blocked, otherwise counted as a failure (which may block it for the
    /// next attempt).
    pub(crate) fn begin(&self, ip: IpAddr, now: Instant) -> Result<Attempt, Blocked> {
        let k = key(ip);
        let p = self.policy;
        let mut map = self.lock();
        if map.len() >= 4096 {
            // Forget what has expired; the table stays bounded by the
            // addresses that failed within one window.
            map.retain(|_, r| {
                now.duration_since(r.since) < p.window || r.blocked_until.is_some_and(|b| b > now)
            });
        }
        let r = map.entry(k).or_insert(Record {
            failures: 0,
            since: now,
            blocked_until: None,
        });
        if let Some(until) = r.blocked_until {
            if until > now {
                return Err(Blocked);
            }
            r.blocked_until = None;
            r.failures = 0;
            r.since = now;
        }
        if now.duration_since(r.since) >= p.window {
            r.failures = 0;
            r.since = now;
        }
        r.failures += 1;
        if r.failures >= p.block_after {
            r.blocked_until = Some(now + p.block_for);
            drop(map);
            crate::driver::log(format!(
                "auth: {ip} blocked for {}s after {} failures",
                p.block_for.as_secs(),
                p.block_after
            ));
        }
        Ok(Attempt { key: k })
    }

    /// The attempt succeeded: it is not a failure after all.
    pub(crate) fn succeeded(&self, attempt: Attempt) {
        if let Some(r) = self.lock().get_mut(&attempt.key) {
            r.failures = r.failures.saturating_sub(1);
        }
    }

    /// The attempt failed, the connection's `conn_failures`-th failure:
    /// how long to wait before answering, and whether to close then.
    pub(crate) fn failed(&self, attempt: Attempt, conn_failures: u32) -> FailureAction {
        let n = self
            .lock()
            .get(&attempt.key)
            .map_or(1, |r| r.failures)
            .max(conn_failures)
            .max(1);
        let factor = 1u32 << (n - 1).min(16);
        FailureAction {
            delay: self
                .policy
                .delay
                .saturating_mul(factor)
                .min(self.policy.max_delay),
            disconnect: conn_failures >= self.policy.max_per_connection,
        }
    }
    /// A failed attempt of a POP3 or IMAP session (`who` names it in the
    /// log): counts it in `conn_failures`, waits the delay, and says
    /// whether to close the session.
    pub(crate) fn penalize(&self, attempt: Attempt, conn_failures: &mut u32, who: &str) -> bool {
        *conn_failures += 1;
        let action = self.failed(attempt, *conn_failures);
        crate::driver::log(format!(
            "{who}: authentication failed ({conn_failures} on this connection; answered after {} ms)",
            action.delay.as_millis()
        ));
        crate::driver::blocking(|| std::thread::sleep(action.delay));
        action.disconnect
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    fn policy() -> AuthPolicy {
        AuthPolicy {
            delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
            max_per_connection: 3,
            block_after: 5,
            window: Duration::from_secs(60),
            block_for: Duration::from_secs(120),
        }
    }

    #[test]
    fn delay_doubles_and_connection_closes_after_three() {
        let g = AuthGuard::new(policy());
        let t = Instant::now();
        let mut got = Vec::new();
        for n in 1..=3 {
            let a = g.begin(ip(2), t).unwrap();
            got.push(g.failed(a, n));
        }
        let ms: Vec<u128> = got.iter().map(|a| a.delay.as_millis()).collect();
        assert_eq!(ms, [100, 200, 400]);
        assert_eq!(
            got.iter().map(|a| a.disconnect).collect::<Vec<_>>(),
            [false, false, true]
        );
        // A new connection from the same address starts where the address is.
        let a = g.begin(ip(2), t).unwrap();
        assert_eq!(g.failed(a, 1).delay.as_millis(), 700, "capped");
    }

    #[test]
    fn block_after_repeated_failures_then_expires() {
        let g = AuthGuard::new(policy());
        let t = Instant::now();
        for _ in 0..5 {
            let a = g.begin(ip(2), t).unwrap();
            let _ = g.failed(a, 1);
        }
        assert_eq!(g.begin(ip(2), t).unwrap_err(), Blocked);
        // Another address is not blocked.
        let other = g.begin(ip(3), t).unwrap();
        g.succeeded(other);
        assert_eq!(
            g.begin(ip(2), t + Duration::from_secs(119)).unwrap_err(),
            Blocked
        );
        let a = g.begin(ip(2), t + Duration::from_secs(121)).unwrap();
        assert_eq!(g.failed(a, 1).delay.as_millis(), 100, "starts over");
    }

    #[test]
    fn attempts_in_flight_count_and_success_gives_back() {
        let g = AuthGuard::new(policy());
        let t = Instant::now();
        // Five attempts at once (parallel connections): the sixth is refused
        // before any of them has been answered.
        let open: Vec<Attempt> = (0..5).map(|_| g.begin(ip(2), t).unwrap()).collect();
        assert_eq!(g.begin(ip(2), t).unwrap_err(), Blocked);
        for a in open {
            g.succeeded(a);
        }
        // Successes are given back, but the block stands once set.
        assert_eq!(g.begin(ip(2), t).unwrap_err(), Blocked);

        let g = AuthGuard::new(policy());
        for _ in 0..20 {
            let a = g.begin(ip(4), t).unwrap();
            g.succeeded(a);
        }
        assert!(g.begin(ip(4), t).is_ok(), "successes never block");
    }

    #[test]
    fn failures_are_forgotten_after_the_window() {
        let g = AuthGuard::new(policy());
        let t = Instant::now();
        for _ in 0..4 {
            let a = g.begin(ip(2), t).unwrap();
            let _ = g.failed(a, 1);
        }
        let later = t + Duration::from_secs(61);
        for _ in 0..4 {
            let a = g.begin(ip(2), later).unwrap();
            let _ = g.failed(a, 1);
        }
        assert!(g.begin(ip(2), later).is_ok());
    }
}

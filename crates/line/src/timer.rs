//! A fixed timer table for the protocol state machines (STYLE.md (a): a
//! private enum indexes a fixed array; the next deadline is the minimum).
//! The SMTP, POP3 and IMAP machines each keep one; it holds no clock, the
//! caller passes `now`.

use std::time::Instant;

/// A fixed set of `N` optional deadlines, indexed by the machine's own
/// timer enum.
///
/// ```
/// use std::time::{Duration, Instant};
/// use mailwire_line::timer::TimerTable;
///
/// let now = Instant::now();
/// let mut t = TimerTable::<2>::new();
/// t.set(1, now + Duration::from_secs(5));
/// t.set(0, now + Duration::from_secs(9));
/// assert_eq!(t.next(), Some(now + Duration::from_secs(5)));
/// assert_eq!(t.expired(now + Duration::from_secs(6)), Some(1));
/// t.stop(1);
/// assert_eq!(t.expired(now + Duration::from_secs(6)), None);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TimerTable<const N: usize> {
    slots: [Option<Instant>; N],
}

impl<const N: usize> Default for TimerTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TimerTable<N> {
    /// No timer armed.
    pub const fn new() -> Self {
        Self { slots: [None; N] }
    }

    /// Arms timer `i` for `at` (replacing its deadline).
    pub fn set(&mut self, i: usize, at: Instant) {
        self.slots[i] = Some(at);
    }

    /// Disarms timer `i`.
    pub fn stop(&mut self, i: usize) {
        self.slots[i] = None;
    }

    /// The deadline of timer `i`, if armed.
    pub fn get(&self, i: usize) -> Option<Instant> {
        self.slots[i]
    }

    /// Disarms every timer.
    pub fn stop_all(&mut self) {
        self.slots = [None; N];
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.slots.iter().flatten().min().copied()
    }

    /// The first timer (by index) that has expired at `now`.
    pub fn expired(&self, now: Instant) -> Option<usize> {
        self.slots.iter().position(|s| s.is_some_and(|t| t <= now))
    }
}

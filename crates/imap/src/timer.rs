//! Fixed timer tables (STYLE.md (a): a private enum indexes a fixed array;
//! the next deadline is the minimum).

use std::time::Instant;

/// A fixed set of `N` optional deadlines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimerTable<const N: usize> {
    slots: [Option<Instant>; N],
}

impl<const N: usize> TimerTable<N> {
    pub(crate) const fn new() -> Self {
        Self { slots: [None; N] }
    }

    pub(crate) fn set(&mut self, i: usize, at: Instant) {
        self.slots[i] = Some(at);
    }

    pub(crate) fn stop(&mut self, i: usize) {
        self.slots[i] = None;
    }

    pub(crate) fn get(&self, i: usize) -> Option<Instant> {
        self.slots[i]
    }

    pub(crate) fn stop_all(&mut self) {
        self.slots = [None; N];
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.slots.iter().flatten().min().copied()
    }

    /// The first timer (by index) that has expired at `now`.
    pub(crate) fn expired(&self, now: Instant) -> Option<usize> {
        self.slots.iter().position(|s| s.is_some_and(|t| t <= now))
    }
}

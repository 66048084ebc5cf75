//! The parallel queue runner: up to `workers` deliveries at once, each on
//! its own thread, and at most `per_destination` of them to one domain at a
//! time, so that one slow or dead destination (a server that accepts and
//! never answers holds a delivery for the SMTP timeouts, minutes) does not
//! hold the mail for the others.
//!
//! A due message whose domains are all busy waits in the dispatcher (still
//! marked busy in the queue) until a delivery to one of them ends; the
//! others go ahead of it.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::queue::Entry;
use crate::resolve::Resolver;
use crate::smtp_session::Shared;
use crate::store::split_addr;

/// How many deliveries run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunnerLimits {
    /// Deliveries at once.
    pub(crate) workers: usize,
    /// Deliveries at once to one domain.
    pub(crate) per_destination: usize,
}

impl Default for RunnerLimits {
    fn default() -> Self {
        RunnerLimits {
            workers: 8,
            per_destination: 2,
        }
    }
}

/// Deliveries in progress, in all and per domain.
#[derive(Debug, Default)]
struct Busy {
    running: usize,
    domains: HashMap<String, usize>,
}

/// The domains of an entry's recipients, lower case, each once.
fn domains(entry: &Entry) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &entry.recipients {
        if let Some((_, d)) = split_addr(r) {
            let d = d.to_ascii_lowercase();
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

impl Busy {
    /// Whether a delivery of these domains may start now.
    fn may_start(&self, limits: RunnerLimits, doms: &[String]) -> bool {
        self.running < limits.workers
            && doms
                .iter()
                .all(|d| self.domains.get(d).copied().unwrap_or(0) < limits.per_destination)
    }

    fn start(&mut self, doms: &[String]) {
        self.running += 1;
        for d in doms {
            *self.domains.entry(d.clone()).or_default() += 1;
        }
    }

    fn end(&mut self, doms: &[String]) {
        self.running = self.running.saturating_sub(1);
        for d in doms {
            if let Some(n) = self.domains.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    self.domains.remove(d);
                }
            }
        }
    }
}

/// Runs the queue until it shuts down; returns once every delivery in
/// progress has ended.
pub(crate) fn run(shared: &Shared) {
    let cfg = &shared.store.cfg;
    let limits = cfg.runner;
    let resolver = Resolver::new(cfg.routes.clone(), cfg.mx_port, cfg.dns);
    let queue = &shared.store.queue;
    let busy = Mutex::new(Busy::default());
    let ended = Condvar::new();
    let lock = || busy.lock().unwrap_or_else(|e| e.into_inner());
    std::thread::scope(|scope| {
        let mut waiting: Vec<(Entry, Vec<String>)> = Vec::new();
        loop {
            // Wait less while messages wait for a slot.
            let wait = if waiting.is_empty() {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(100)
            };
            let Some(due) = queue.take_due(wait) else {
                break;
            };
            waiting.extend(due.into_iter().map(|e| {
                let d = domains(&e);
                (e, d)
            }));
            // RFC 6710: higher priority first, also among the ones left
            // waiting for a slot.
            waiting.sort_by_key(|(e, _)| e.rank());
            let mut g = lock();
            let mut i = 0;
            while i < waiting.len() {
                if g.may_start(limits, &waiting[i].1) {
                    let (entry, doms) = waiting.remove(i);
                    g.start(&doms);
                    let fallback = (entry.clone(), doms.clone());
                    let (resolver, busy, ended) = (&resolver, &busy, &ended);
                    let spawned = std::thread::Builder::new()
                        .name("delivery".into())
                        .spawn_scoped(scope, move || {
                            crate::delivery::process(shared, resolver, entry);
                            busy.lock().unwrap_or_else(|e| e.into_inner()).end(&doms);
                            ended.notify_all();
                        });
                    if let Err(e) = spawned {
                        crate::driver::log(format!("queue: cannot start a delivery: {e}"));
                        // Give it back to the queue, as it was: retried
                        // at the next pass.
                        let (entry, doms) = fallback;
                        g.end(&doms);
                        let _ = queue.update(entry);
                    }
                } else {
                    i += 1;
                }
            }
            if !waiting.is_empty() && g.running > 0 {
                // Until a delivery ends (or a little while, for new entries).
                let _ = ended.wait_timeout(g, Duration::from_millis(100));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_per_domain_and_in_all() {
        let limits = RunnerLimits {
            workers: 3,
            per_destination: 2,
        };
        let a = vec!["a.test".to_string()];
        let ab = vec!["a.test".to_string(), "b.test".to_string()];
        let c = vec!["c.test".to_string()];
        let mut b = Busy::default();
        assert!(b.may_start(limits, &a));
        b.start(&a);
        b.start(&a);
        assert!(!b.may_start(limits, &a), "two to a.test at most");
        assert!(!b.may_start(limits, &ab), "every domain must have room");
        assert!(b.may_start(limits, &c));
        b.start(&c);
        assert!(
            !b.may_start(limits, &["d.test".to_string()]),
            "three in all"
        );
        b.end(&a);
        assert!(b.may_start(limits, &ab));
        b.end(&a);
        b.end(&c);
        assert_eq!(b.running, 0);
        assert!(b.domains.is_empty());
    }

    #[test]
    fn entry_domains() {
        let e = Entry::new(
            "id".into(),
            "s@x.test".into(),
            vec![
                "a@B.test".into(),
                "c@b.test".into(),
                "d@e.test".into(),
                "bad".into(),
            ],
        );
        assert_eq!(domains(&e), ["b.test", "e.test"]);
    }
}

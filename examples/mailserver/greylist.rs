//! Greylisting (RFC 6647, not in `shared/rfc`; sections as published):
//! the first attempt to deliver mail from an unknown client network,
//! sender and recipient is refused for now (`451 4.7.1` at RCPT), which a
//! real mail server retries and most spam software does not.
//!
//! - The triplet (§4.1): the client's network (IPv4 /24, IPv6 /64: a
//!   sending site's outbound servers share a queue, §4.4), the envelope
//!   sender and the recipient, lower-cased.
//! - A retry of the triplet after `--greylist DELAY` and within
//!   [`RETRY_WINDOW`] passes, and so does, from then on, everything from
//!   that network (automatic allow-listing, §4.5) for [`KEEP`] after its
//!   last mail, so that a server that proved it retries is delayed once,
//!   not per sender and recipient. A retry earlier than DELAY is refused
//!   again without restarting the wait; one after the window starts over.
//! - The state lives in `DATA/greylist` (rewritten atomically, at most
//!   every [`WRITE_EVERY`] for new triplets and at once when a network
//!   passes), so that a restart neither forgets the allowed networks nor
//!   makes the waiting senders start over; at most [`MAX_TRIPLETS`]
//!   waiting triplets are kept (the oldest go first).
//! - Users who logged in and clients of `--trusted-networks` are never
//!   greylisted (the caller decides); nor is postmaster.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// How long after its first attempt a retry still passes.
pub(crate) const RETRY_WINDOW: Duration = Duration::from_secs(2 * 86400);

/// How long a network that passed stays allowed after its last mail.
pub(crate) const KEEP: Duration = Duration::from_secs(36 * 86400);

/// The least time between two writes of the file for new triplets.
pub(crate) const WRITE_EVERY: Duration = Duration::from_secs(5);

/// The most waiting triplets kept.
pub(crate) const MAX_TRIPLETS: usize = 100_000;

const FILE_HEADER: &str = "mailwire-greylist 1";

/// What the greylist says of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// Refused for now; the seconds left until a retry passes.
    Wait(u64),
}

#[derive(Debug, Default)]
struct State {
    /// Triplet (`net\tsender\trecipient`) to its first attempt (Unix s).
    waiting: HashMap<String, u64>,
    /// Network to the last time mail from it passed (Unix s).
    passed: HashMap<String, u64>,
    /// When the file was last written (Unix s), and whether it is behind.
    written: u64,
    dirty: bool,
}

/// The greylist of one server.
#[derive(Debug)]
pub(crate) struct Greylist {
    delay: Duration,
    file: PathBuf,
    state: Mutex<State>,
}

/// The network the client's address belongs to for greylisting: an IPv4
/// /24 or an IPv6 /64 (an IPv4-mapped address as IPv4).
pub(crate) fn network(ip: IpAddr) -> String {
    match crate::spf::unmapped(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

impl Greylist {
    /// The greylist in `file` (none yet: empty), refusing new triplets for
    /// `delay`. Lines that do not parse are skipped; so are entries that
    /// have expired.
    pub(crate) fn open(file: PathBuf, delay: Duration, now: u64) -> io::Result<Greylist> {
        let mut state = State::default();
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let mut lines = text.lines();
                if lines.next() == Some(FILE_HEADER) {
                    for line in lines {
                        let mut f = line.splitn(3, ' ');
                        let (Some(kind), Some(t), Some(key)) = (f.next(), f.next(), f.next())
                        else {
                            continue;
                        };
                        let Ok(t) = t.parse::<u64>() else {
                            continue;
                        };
                        match kind {
                            "W" if now.saturating_sub(t) <= RETRY_WINDOW.as_secs() => {
                                state.waiting.insert(key.to_string(), t);
                            }
                            "P" if now.saturating_sub(t) <= KEEP.as_secs() => {
                                state.passed.insert(key.to_string(), t);
                            }
                            _ => {}
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Greylist {
            delay,
            file,
            state: Mutex::new(state),
        })
    }

    /// The verdict on mail from `ip` by `sender` (empty: the null sender)
    /// to `recipient` at Unix time `now`; the file is written when due
    /// (a failure to write is returned after the verdict is made, which
    /// stands: the greylist is no store of mail).
    pub(crate) fn check(
        &self,
        ip: IpAddr,
        sender: &str,
        recipient: &str,
        now: u64,
    ) -> (Verdict, io::Result<()>) {
        let net = network(ip);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let verdict = self.decide(&mut st, net, sender, recipient, now);
        let urgent = verdict == Verdict::Pass && st.dirty;
        let due = st.dirty && now.saturating_sub(st.written) >= WRITE_EVERY.as_secs();
        let written = if urgent || due {
            st.written = now;
            st.dirty = false;
            crate::maildir::write_atomic(&self.file, render(&st).as_bytes())
        } else {
            Ok(())
        };
        (verdict, written)
    }

    fn decide(
        &self,
        st: &mut State,
        net: String,
        sender: &str,
        recipient: &str,
        now: u64,
    ) -> Verdict {
        let delay = self.delay.as_secs();
        if let Some(last) = st.passed.get_mut(&net)
            && now.saturating_sub(*last) <= KEEP.as_secs()
        {
            // Written with the next change, or at the next pass: a
            // refreshed time lost in a crash costs nothing yet.
            if now.saturating_sub(*last) > 86400 {
                *last = now;
                st.dirty = true;
            }
            return Verdict::Pass;
        }
        let key = format!(
            "{net}\t{}\t{}",
            sender.to_ascii_lowercase(),
            recipient.to_ascii_lowercase()
        );
        match st.waiting.get(&key).copied() {
            Some(first) if now.saturating_sub(first) > RETRY_WINDOW.as_secs() => {
                st.waiting.insert(key, now);
                st.dirty = true;
                Verdict::Wait(delay)
            }
            Some(first) if now.saturating_sub(first) >= delay => {
                st.waiting
                    .retain(|k, _| !k.starts_with(&format!("{net}\t")));
                st.passed.insert(net, now);
                st.dirty = true;
                Verdict::Pass
            }
            Some(first) => Verdict::Wait(delay - now.saturating_sub(first)),
            None => {
                if st.waiting.len() >= MAX_TRIPLETS {
                    prune(st, now);
                }
                st.waiting.insert(key, now);
                st.dirty = true;
                Verdict::Wait(delay)
            }
        }
    }
}

/// Drops what has expired, then, if still full, the oldest tenth of the
/// waiting triplets.
fn prune(st: &mut State, now: u64) {
    st.waiting
        .retain(|_, t| now.saturating_sub(*t) <= RETRY_WINDOW.as_secs());
    st.passed
        .retain(|_, t| now.saturating_sub(*t) <= KEEP.as_secs());
    if st.waiting.len() >= MAX_TRIPLETS {
        let mut times: Vec<u64> = st.waiting.values().copied().collect();
        times.sort_unstable();
        let cut = times[times.len() / 10];
        st.waiting.retain(|_, t| *t > cut);
    }
}

/// The file: a header line, then `W FIRST TRIPLET` and `P LAST NETWORK`
/// lines.
fn render(st: &State) -> String {
    let mut out = format!("{FILE_HEADER}\n");
    for (net, t) in &st.passed {
        let _ = writeln!(out, "P {t} {net}");
    }
    for (key, t) in &st.waiting {
        let _ = writeln!(out, "W {t} {key}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "mailserver-greylist-{name}-{}",
            crate::maildir::queue_id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn networks() {
        assert_eq!(network(ip("192.0.2.77")), "192.0.2.0/24");
        assert_eq!(network(ip("::ffff:192.0.2.77")), "192.0.2.0/24");
        assert_eq!(network(ip("2001:db8:1:2:3::9")), "2001:db8:1:2::/64");
    }

    /// The first attempt waits, an early retry waits for what is left, a
    /// retry after the delay passes and allows the network; another
    /// network, sender or recipient waits on its own; a retry after the
    /// window starts over.
    #[test]
    fn triplets_wait_then_pass_and_allow_their_network() {
        let d = scratch("rules");
        let g = Greylist::open(d.join("greylist"), Duration::from_secs(300), 0).unwrap();
        let late = 1100 + RETRY_WINDOW.as_secs() + 1;
        let gone = 1302 + KEEP.as_secs() + 1;
        let wait = Verdict::Wait;
        for (i, (ip_, from, to, now, want)) in [
            ("192.0.2.1", "a@x.test", "u@d.test", 1000, wait(300)),
            // The same triplet (case aside) from the same /24: what is left.
            ("192.0.2.9", "A@X.test", "U@d.test", 1100, wait(200)),
            ("198.51.100.1", "a@x.test", "u@d.test", 1100, wait(300)),
            ("192.0.2.1", "b@x.test", "u@d.test", 1100, wait(300)),
            ("192.0.2.1", "a@x.test", "u@d.test", 1300, Verdict::Pass),
            // The network passed: anyone from it, at once.
            ("192.0.2.200", "c@y.test", "v@d.test", 1301, Verdict::Pass),
            ("192.0.2.200", "", "v@d.test", 1302, Verdict::Pass),
            // Another network still waits; after the window it starts over.
            ("198.51.100.1", "a@x.test", "u@d.test", late, wait(300)),
            (
                "198.51.100.1",
                "a@x.test",
                "u@d.test",
                late + 300,
                Verdict::Pass,
            ),
            // An allowed network that sent nothing for KEEP waits again.
            ("192.0.2.1", "a@x.test", "u@d.test", gone, wait(300)),
        ]
        .into_iter()
        .enumerate()
        {
            let (v, written) = g.check(ip(ip_), from, to, now);
            written.unwrap();
            assert_eq!(v, want, "step {i}");
        }
        std::fs::remove_dir_all(d).unwrap();
    }

    /// A restart keeps the allowed networks and the waiting triplets (at
    /// the pass at once; new triplets within WRITE_EVERY); expired lines
    /// and lines that do not parse are dropped.
    #[test]
    fn state_survives_a_restart() {
        let d = scratch("file");
        let path = d.join("greylist");
        let delay = Duration::from_secs(60);
        let g = Greylist::open(path.clone(), delay, 0).unwrap();
        assert_eq!(
            g.check(ip("192.0.2.1"), "a@x.test", "u@d.test", 100).0,
            Verdict::Wait(60)
        );
        assert_eq!(
            g.check(ip("203.0.113.5"), "a@x.test", "u@d.test", 200).0,
            Verdict::Wait(60)
        );
        assert_eq!(
            g.check(ip("192.0.2.1"), "a@x.test", "u@d.test", 160).0,
            Verdict::Pass
        );
        drop(g);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("mailwire-greylist 1\n"), "{text}");
        assert!(text.contains("P 160 192.0.2.0/24\n"), "{text}");
        assert!(
            text.contains("W 200 203.0.113.0/24\ta@x.test\tu@d.test\n"),
            "{text}"
        );
        std::fs::write(&path, text + "W x bad\nP 1\nZ 5 what\n").unwrap();
        let g = Greylist::open(path.clone(), delay, 300).unwrap();
        assert_eq!(
            g.check(ip("192.0.2.7"), "n@x.test", "u@d.test", 300).0,
            Verdict::Pass
        );
        assert_eq!(
            g.check(ip("203.0.113.5"), "a@x.test", "u@d.test", 270).0,
            Verdict::Pass
        );
        drop(g);
        let far = 200 + KEEP.as_secs() + 10;
        let g = Greylist::open(path, delay, far).unwrap();
        assert_eq!(
            g.check(ip("192.0.2.1"), "a@x.test", "u@d.test", far).0,
            Verdict::Wait(60)
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn waiting_triplets_are_bounded() {
        let mut st = State::default();
        for i in 0..MAX_TRIPLETS as u64 {
            st.waiting.insert(format!("n\t{i}\tr"), 1000 + i);
        }
        prune(&mut st, 1000 + MAX_TRIPLETS as u64);
        assert!(
            st.waiting.len() < MAX_TRIPLETS * 91 / 100,
            "{}",
            st.waiting.len()
        );
        assert!(
            st.waiting
                .contains_key(&format!("n\t{}\tr", MAX_TRIPLETS - 1))
        );
    }
}

//! `mailwire-modseq`: the mod-sequence of each message of a folder
//! (RFC 7162 CONDSTORE), in a file of the mailserver's own beside
//! Dovecot's: Dovecot keeps mod-sequences in its index files, and ignores
//! this file, so neither server disturbs the other.
//!
//! ```text
//! H42                  the folder's HIGHESTMODSEQ
//! 1 17 S 1765100000    UID, mod-sequence, the flag letters it was given
//! 2 42 FSa 1765100042  for, and its save date (RFC 8514) in seconds since 1970
//! F30                  expunges at or below 30 are forgotten
//! X3 35                UID 3 was expunged at mod-sequence 35
//! ```
//!
//! A message whose flag letters differ from the ones recorded (changed by
//! Dovecot, or by hand) gets a new mod-sequence at the next sync, so a
//! change made by any program is seen by CONDSTORE clients.
//!
//! The save date (RFC 8514 SAVEDATE) is set once, when the message gets its
//! row, and kept while the message stays in the folder (§3): a flag change
//! renames the file (and changes its ctime) but not this column. A row
//! without it (a file written before the column) has no save date known;
//! the next sync that finds the message gives it one. An older reader of
//! this file takes the column for part of the flag letters, finds them
//! changed, and gives the message a new mod-sequence: always safe.
//!
//! The `X` lines are the expunge history QRESYNC's VANISHED (EARLIER)
//! answers from (RFC 7162 §3.2.5.1), at most [`MAX_EXPUNGED`] of them: the
//! oldest are forgotten beyond that, and `F` says up to where, so a client
//! whose mod-sequence is older gets every missing UID of its known set
//! instead (§3.2.5.2). A file without `F` (written before the history was
//! kept) has forgotten everything up to its `H`.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The most expunges a folder remembers.
pub(crate) const MAX_EXPUNGED: usize = 8192;

/// The table of one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModSeqs {
    pub(crate) highest: u64,
    /// UID to (mod-sequence, flag letters).
    pub(crate) map: HashMap<u32, (u64, String)>,
    /// UID to save date (RFC 8514), seconds since 1970 UTC.
    pub(crate) saved: HashMap<u32, i64>,
    /// `(uid, modseq)` of the expunges remembered, by UID.
    pub(crate) expunged: Vec<(u32, u64)>,
    /// Expunges at or below this mod-sequence are forgotten.
    pub(crate) horizon: u64,
}

impl Default for ModSeqs {
    fn default() -> Self {
        Self {
            highest: 1,
            map: HashMap::new(),
            saved: HashMap::new(),
            expunged: Vec::new(),
            horizon: 1,
        }
    }
}

impl ModSeqs {
    /// Parses the file; lines that do not fit are skipped (their messages
    /// get a new mod-sequence, which is always safe).
    pub(crate) fn parse(text: &str) -> Self {
        let mut m = ModSeqs::default();
        // Carriage returns at a line's end are nothing of the table's (a
        // row's flag letters hold none): what `format` writes reads back
        // the same.
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        if let Some(h) = lines
            .next()
            .and_then(|l| l.strip_prefix('H'))
            .and_then(|h| h.parse().ok())
        {
            m.highest = h;
        }
        let mut horizon = None;
        for l in lines {
            if let Some(f) = l.strip_prefix('F') {
                horizon = f.parse().ok().or(horizon);
                continue;
            }
            if let Some(x) = l.strip_prefix('X') {
                if let Some((Ok(uid), Ok(q))) = x
                    .split_once(' ')
                    .map(|(u, q)| (u.parse::<u32>(), q.parse::<u64>()))
                {
                    m.expunged.push((uid, q));
                    m.highest = m.highest.max(q);
                }
                continue;
            }
            let mut w = l.splitn(4, ' ');
            if let (Some(Ok(uid)), Some(Ok(q))) = (
                w.next().map(str::parse::<u32>),
                w.next().map(str::parse::<u64>),
            ) {
                // A row's flags are Maildir info letters; a row with
                // anything else did not come from `format` and is skipped.
                let info = w.next().unwrap_or("");
                if !info.bytes().all(|b| b.is_ascii_graphic()) {
                    continue;
                }
                m.map.insert(uid, (q, info.to_string()));
                m.highest = m.highest.max(q);
                if let Some(Ok(t)) = w.next().map(str::parse::<i64>) {
                    m.saved.insert(uid, t);
                }
            }
        }
        // Without `F`, nothing before this file's highest is known.
        m.horizon = horizon.unwrap_or(m.highest);
        m.expunged.sort_unstable();
        m.expunged.dedup_by_key(|e| e.0);
        m.expunged.retain(|&(_, q)| q > m.horizon);
        m.bound();
        m
    }

    /// Forgets the row and save date of `uid` (gone from the folder).
    pub(crate) fn remove(&mut self, uid: u32) {
        self.map.remove(&uid);
        self.saved.remove(&uid);
    }

    /// Remembers that `uids` were expunged at `modseq`.
    pub(crate) fn record_expunged(&mut self, uids: impl IntoIterator<Item = u32>, modseq: u64) {
        for uid in uids {
            match self.expunged.binary_search_by_key(&uid, |e| e.0) {
                Ok(i) => self.expunged[i].1 = modseq,
                Err(i) => self.expunged.insert(i, (uid, modseq)),
            }
        }
        self.bound();
    }

    /// Keeps the [`MAX_EXPUNGED`] most recent expunges; the horizon rises
    /// over the ones forgotten.
    fn bound(&mut self) {
        if self.expunged.len() <= MAX_EXPUNGED {
            return;
        }
        let mut qs: Vec<u64> = self.expunged.iter().map(|e| e.1).collect();
        let cut = qs.len() - MAX_EXPUNGED;
        // The mod-sequence of the last one forgotten: every expunge at or
        // below it goes (some more than `cut` when several share it).
        let (_, &mut q, _) = qs.select_nth_unstable(cut - 1);
        self.horizon = self.horizon.max(q);
        self.expunged.retain(|e| e.1 > q);
    }

    /// The file's text, by UID.
    pub(crate) fn format(&self) -> String {
        let mut rows: Vec<_> = self.map.iter().collect();
        rows.sort_unstable_by_key(|(u, _)| **u);
        let mut out = format!("H{}\n", self.highest);
        for (uid, (q, info)) in rows {
            // Into the one buffer: no string per row.
            let _ = match self.saved.get(uid) {
                Some(t) => writeln!(out, "{uid} {q} {info} {t}"),
                None => writeln!(out, "{uid} {q} {info}"),
            };
        }
        let _ = writeln!(out, "F{}", self.horizon);
        for (uid, q) in &self.expunged {
            let _ = writeln!(out, "X{uid} {q}");
        }
        out
    }

    /// The next mod-sequence, now the highest.
    pub(crate) fn next(&mut self) -> u64 {
        self.highest += 1;
        self.highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row whose flags are not Maildir info letters is skipped, and
    /// carriage returns ending a line are nothing of the table's: what is
    /// read is what `format` writes back (found by the fuzz target
    /// `mailserver_mailstore`).
    #[test]
    fn rows_read_as_written() {
        let m = ModSeqs::parse("H9\r\n1 3 S\r\r\n2 4 S\u{7}x 5\n3 5 RS\r");
        assert_eq!(m.highest, 9);
        assert_eq!(m.map.get(&1), Some(&(3, "S".to_string())));
        assert_eq!(m.map.get(&2), None);
        assert_eq!(m.map.get(&3), Some(&(5, "RS".to_string())));
        assert_eq!(ModSeqs::parse(&m.format()), m);
    }

    #[test]
    fn round_trip_and_highest() {
        let m = ModSeqs::parse("H5\n1 3 S\n2 7 \nbad line\n");
        assert_eq!(m.highest, 7, "a record above H raises it");
        assert_eq!(m.map[&1], (3, "S".to_string()));
        assert_eq!(m.map[&2], (7, String::new()));
        assert_eq!(ModSeqs::parse(&m.format()), m);
        let mut m = ModSeqs::parse("");
        assert_eq!(m.highest, 1);
        assert_eq!(m.next(), 2);
    }

    /// The save-date column: read and written back, absent in an older
    /// file's rows (and for a row with empty flag letters), forgotten
    /// with its row.
    #[test]
    fn save_dates_round_trip() {
        let mut m = ModSeqs::parse("H9\n1 3 S 1700000000\n2 7  1700000042\n3 8 F\n");
        assert_eq!(m.map[&2], (7, String::new()));
        assert_eq!(m.saved[&1], 1_700_000_000);
        assert_eq!(m.saved[&2], 1_700_000_042);
        assert!(!m.saved.contains_key(&3));
        let text = m.format();
        assert!(text.contains("\n2 7  1700000042\n3 8 F\n"), "{text}");
        assert_eq!(ModSeqs::parse(&text), m);
        m.remove(1);
        assert!(!m.map.contains_key(&1) && !m.saved.contains_key(&1));
        assert_eq!(ModSeqs::parse(&m.format()), m);
    }

    #[test]
    fn expunge_history_round_trip() {
        // A file from before the history: everything up to H forgotten.
        let mut m = ModSeqs::parse("H9\n1 3 S\n");
        assert_eq!((m.horizon, m.expunged.len()), (9, 0));
        let q = m.next();
        m.record_expunged([7, 2], q);
        assert_eq!(m.expunged, vec![(2, 10), (7, 10)]);
        let text = m.format();
        assert!(text.contains("\nF9\nX2 10\nX7 10\n"), "{text}");
        assert_eq!(ModSeqs::parse(&text), m);
        // Entries at or below F are dropped; an X above H raises it.
        let m = ModSeqs::parse("H5\nF4\nX1 3\nX2 6\nbad\n");
        assert_eq!((m.highest, m.horizon), (6, 4));
        assert_eq!(m.expunged, vec![(2, 6)]);
    }

    #[test]
    fn expunge_history_is_bounded() {
        let mut m = ModSeqs::default();
        let n = u32::try_from(MAX_EXPUNGED).unwrap();
        for uid in 1..=n + 5 {
            let q = m.next();
            m.record_expunged([uid], q);
        }
        assert_eq!(m.expunged.len(), MAX_EXPUNGED);
        // The five oldest (mod-sequences 2 to 6) went; the horizon says so.
        assert_eq!(m.horizon, 6);
        assert_eq!(m.expunged[0], (6, 7));
        assert!(m.expunged.iter().all(|e| e.1 > m.horizon));
        assert_eq!(ModSeqs::parse(&m.format()), m);
    }
}

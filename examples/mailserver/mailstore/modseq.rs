//! `mailwire-modseq`: the mod-sequence of each message of a folder
//! (RFC 7162 CONDSTORE), in a file of the mailserver's own beside
//! Dovecot's: Dovecot keeps mod-sequences in its index files, and ignores
//! this file, so neither server disturbs the other.
//!
//! ```text
//! H42            the folder's HIGHESTMODSEQ
//! 1 17 S         UID, mod-sequence, the flag letters it was given for
//! 2 42 FSa
//! ```
//!
//! A message whose flag letters differ from the ones recorded (changed by
//! Dovecot, or by hand) gets a new mod-sequence at the next sync, so a
//! change made by any program is seen by CONDSTORE clients.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The table of one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModSeqs {
    pub(crate) highest: u64,
    /// UID to (mod-sequence, flag letters).
    pub(crate) map: HashMap<u32, (u64, String)>,
}

impl Default for ModSeqs {
    fn default() -> Self {
        Self {
            highest: 1,
            map: HashMap::new(),
        }
    }
}

impl ModSeqs {
    /// Parses the file; lines that do not fit are skipped (their messages
    /// get a new mod-sequence, which is always safe).
    pub(crate) fn parse(text: &str) -> Self {
        let mut m = ModSeqs::default();
        let mut lines = text.lines();
        if let Some(h) = lines
            .next()
            .and_then(|l| l.strip_prefix('H'))
            .and_then(|h| h.parse().ok())
        {
            m.highest = h;
        }
        for l in lines {
            let mut w = l.splitn(3, ' ');
            if let (Some(Ok(uid)), Some(Ok(q))) = (
                w.next().map(str::parse::<u32>),
                w.next().map(str::parse::<u64>),
            ) {
                m.map.insert(uid, (q, w.next().unwrap_or("").to_string()));
                m.highest = m.highest.max(q);
            }
        }
        m
    }

    /// The file's text, by UID.
    pub(crate) fn format(&self) -> String {
        let mut rows: Vec<_> = self.map.iter().collect();
        rows.sort_unstable_by_key(|(u, _)| **u);
        let mut out = format!("H{}\n", self.highest);
        for (uid, (q, info)) in rows {
            // Into the one buffer: no string per row.
            let _ = writeln!(out, "{uid} {q} {info}");
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
}

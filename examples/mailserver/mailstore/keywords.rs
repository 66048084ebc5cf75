//! Dovecot's `dovecot-keywords` file: which IMAP keyword each lower-case
//! letter `a`..`z` of a Maildir file name's info part stands for.
//!
//! One line per keyword, `INDEX NAME`, index 0 for `a` up to 25 for `z`
//! (Dovecot's Maildir documentation). Letters are given in order and never
//! reassigned while the file exists; a 27th keyword has no letter and is
//! not stored (the session answers that flag as not permanent).

/// The keyword table of one folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Keywords {
    slots: [Option<String>; 26],
}

impl Keywords {
    /// Parses the file; lines that do not fit are skipped. Carriage
    /// returns at a line's end are not part of the name (a keyword is an
    /// atom, which holds none): what [`Keywords::format`] writes reads back
    /// the same.
    pub(crate) fn parse(text: &str) -> Self {
        let mut k = Keywords::default();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            let Some((idx, name)) = line.split_once(' ') else {
                continue;
            };
            if let Ok(i) = idx.parse::<usize>()
                && i < 26
                && !name.is_empty()
            {
                k.slots[i] = Some(name.to_string());
            }
        }
        k
    }

    /// The file's text.
    pub(crate) fn format(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.slots.iter().enumerate() {
            if let Some(name) = s {
                out.push_str(&format!("{i} {name}\n"));
            }
        }
        out
    }

    /// The keyword of a letter.
    pub(crate) fn name(&self, letter: char) -> Option<&str> {
        let i = (letter as usize).checked_sub('a' as usize)?;
        self.slots.get(i)?.as_deref()
    }

    /// The letter of a keyword (ASCII case ignored, as IMAP compares them).
    pub(crate) fn letter(&self, name: &str) -> Option<char> {
        self.slots
            .iter()
            .position(|s| s.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(name)))
            .map(|i| (b'a' + i as u8) as char)
    }

    /// The letter of a keyword, giving it the first free one if it has
    /// none; the bool says whether the table changed. `None`: all 26 taken.
    pub(crate) fn letter_or_assign(&mut self, name: &str) -> Option<(char, bool)> {
        if let Some(l) = self.letter(name) {
            return Some((l, false));
        }
        let i = self.slots.iter().position(Option::is_none)?;
        self.slots[i] = Some(name.to_string());
        Some(((b'a' + i as u8) as char, true))
    }

    /// Whether another keyword can get a letter.
    pub(crate) fn has_room(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Carriage returns ending a line are not the keyword's, however many
    /// and whether or not LF follows (the fuzz target
    /// `mailserver_mailstore` found names that changed when saved).
    #[test]
    fn line_end_carriage_returns_are_not_names() {
        let k = Keywords::parse("0 Junk\r\r\n1 Seen-Later\r");
        assert_eq!(
            (k.name('a'), k.name('b')),
            (Some("Junk"), Some("Seen-Later"))
        );
        assert_eq!(Keywords::parse(&k.format()), k);
    }

    #[test]
    fn parse_format_assign() {
        let mut k = Keywords::parse("0 $Forwarded\n2 Junk\nbad\n30 x\n");
        assert_eq!(k.name('a'), Some("$Forwarded"));
        assert_eq!(k.name('b'), None);
        assert_eq!(k.letter("junk"), Some('c'));
        assert_eq!(k.letter_or_assign("Work"), Some(('b', true)));
        assert_eq!(k.letter_or_assign("work"), Some(('b', false)));
        assert_eq!(k.format(), "0 $Forwarded\n1 Work\n2 Junk\n");
        for i in 0..23 {
            assert!(k.letter_or_assign(&format!("k{i}")).is_some());
        }
        assert!(!k.has_room());
        assert_eq!(k.letter_or_assign("one-too-many"), None);
        assert_eq!(Keywords::parse(&k.format()), k);
    }
}

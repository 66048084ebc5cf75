//! Dovecot's `dovecot-uidlist` file, version 3: the UID of each Maildir
//! file, UIDVALIDITY and the next UID, so that the mailserver and Dovecot
//! can serve the same Maildir with the same UIDs.
//!
//! The format (Dovecot's Maildir documentation, `maildir-uidlist.h`):
//!
//! ```text
//! 3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1
//! 25011 :1275660201.M1P2.host,S=1234,W=1260
//! 25012 W1302 :1275660203.M5P6.host
//! ```
//!
//! - header: the version `3`, then space-separated fields, a letter and
//!   its value: `V` UIDVALIDITY, `N` the next UID, `G` the mailbox GUID
//!   (hex); other header fields are kept as they are;
//! - one line per message, UIDs ascending: the UID, optional extension
//!   fields (a letter `A`-`Z` and a value, e.g. `W` the wire size, `S` the
//!   file size, `G` a GUID, `P` a POP3 UIDL), then ` :` and the file name.
//!   Dovecot matches files by their base name (before `:2,`), so the name
//!   is written without the info part. Extension fields are kept verbatim.

use std::fmt::Write as _;

/// One message of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) uid: u32,
    /// The extension fields as written (`W1302 S1280`), possibly empty.
    pub(crate) ext: String,
    /// The base file name (no `:2,` info).
    pub(crate) base: String,
}

/// The parsed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UidList {
    pub(crate) uid_validity: u32,
    pub(crate) next_uid: u32,
    /// The mailbox GUID, 32 hex digits.
    pub(crate) guid: String,
    /// Header fields other than V, N and G, as written.
    pub(crate) other_header: Vec<String>,
    /// By UID, ascending.
    pub(crate) records: Vec<Record>,
}

/// Why a file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError(pub(crate) String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dovecot-uidlist: {}", self.0)
    }
}

impl UidList {
    /// An empty list for a new folder.
    pub(crate) fn new(uid_validity: u32, guid: String) -> Self {
        Self {
            uid_validity,
            next_uid: 1,
            guid,
            other_header: Vec::new(),
            records: Vec::new(),
        }
    }

    /// Parses the file. Records out of UID order, or at or above the
    /// header's next UID, raise the next UID (never lower it): a UID in the
    /// file is never given again.
    pub(crate) fn parse(text: &str) -> Result<Self, ParseError> {
        // Carriage returns at a line's end belong to no field or file name
        // (Dovecot writes LF): what `format` writes reads back the same.
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        let header = lines.next().ok_or_else(|| ParseError("empty".into()))?;
        let mut fields = header.split(' ');
        if fields.next() != Some("3") {
            return Err(ParseError(format!("unsupported header {header:?}")));
        }
        let mut list = UidList::new(0, String::new());
        // Dovecot's fields are printable ASCII; one with anything else (a
        // damaged file) is dropped rather than kept to be written back.
        for f in fields.filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_graphic())) {
            let mut chars = f.chars();
            let key = chars.next();
            let value = chars.as_str();
            match key {
                Some('V') => list.uid_validity = number(value)?,
                Some('N') => list.next_uid = number(value)?,
                Some('G') => list.guid = value.to_string(),
                _ => list.other_header.push(f.to_string()),
            }
        }
        if list.uid_validity == 0 {
            return Err(ParseError("no UIDVALIDITY".into()));
        }
        for line in lines.filter(|l| !l.is_empty()) {
            let (uid, rest) = line
                .split_once(' ')
                .ok_or_else(|| ParseError(format!("bad line {line:?}")))?;
            let uid: u32 = number(uid)?;
            let (ext, base) = match rest.split_once(':') {
                Some((ext, name)) => (ext.trim_end(), name),
                None => return Err(ParseError(format!("no file name in {line:?}"))),
            };
            // The info part never belongs in the list; drop it if written.
            let base = base.split(":2,").next().unwrap_or(base);
            if uid == 0 || base.is_empty() {
                return Err(ParseError(format!("bad line {line:?}")));
            }
            if list.records.last().is_some_and(|r| r.uid >= uid) {
                return Err(ParseError(format!("UID {uid} out of order")));
            }
            list.next_uid = list.next_uid.max(uid.saturating_add(1));
            list.records.push(Record {
                uid,
                ext: ext.to_string(),
                base: base.to_string(),
            });
        }
        Ok(list)
    }

    /// The file's text.
    pub(crate) fn format(&self) -> String {
        let mut out = String::with_capacity(64 + self.records.len() * 64);
        let _ = write!(out, "3 V{} N{}", self.uid_validity, self.next_uid);
        if !self.guid.is_empty() {
            let _ = write!(out, " G{}", self.guid);
        }
        for h in &self.other_header {
            let _ = write!(out, " {h}");
        }
        out.push('\n');
        for r in &self.records {
            let _ = write!(out, "{}", r.uid);
            if !r.ext.is_empty() {
                let _ = write!(out, " {}", r.ext);
            }
            let _ = writeln!(out, " :{}", r.base);
        }
        out
    }

    /// Gives the next UID to `base`; `None` when UIDs are used up (the
    /// folder then needs a new UIDVALIDITY).
    pub(crate) fn assign(&mut self, base: String) -> Option<u32> {
        let uid = self.next_uid;
        if uid == 0 || uid == u32::MAX {
            return None;
        }
        self.next_uid += 1;
        self.records.push(Record {
            uid,
            ext: String::new(),
            base,
        });
        Some(uid)
    }
}

fn number(s: &str) -> Result<u32, ParseError> {
    s.parse()
        .map_err(|_| ParseError(format!("bad number {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Dovecot's Maildir documentation.
    const DOVECOT: &str = "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n\
25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394\n\
25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n";

    #[test]
    fn dovecot_example_round_trip() {
        let l = UidList::parse(DOVECOT).unwrap();
        assert_eq!(l.uid_validity, 1275660208);
        assert_eq!(l.next_uid, 25022);
        assert_eq!(l.guid, "3085f01b7f11094c501100008c4a11c1");
        assert_eq!(l.records.len(), 2);
        assert_eq!(l.records[1].ext, "W2481");
        assert_eq!(l.records[1].base, "1276533073.M242911P3632.kurkku");
        let again = UidList::parse(&l.format()).unwrap();
        assert_eq!(again, l);
        assert!(l.format().starts_with("3 V1275660208 N25022 G3085"));
    }

    #[test]
    fn assign_never_reuses() {
        let mut l = UidList::parse("3 V7 N3\n5 :a\n").unwrap();
        // A record above N raises it.
        assert_eq!(l.next_uid, 6);
        assert_eq!(l.assign("b".into()), Some(6));
        l.records.clear();
        assert_eq!(l.assign("c".into()), Some(7));
        let l2 = UidList::parse(&l.format()).unwrap();
        assert_eq!(l2.next_uid, 8);
    }

    /// A header field that starts with a character of several bytes, or
    /// holds a control character (a damaged file; found by the fuzz target
    /// `mailserver_mailstore`, where splitting off the key byte panicked),
    /// is dropped; the others are kept and written back.
    #[test]
    fn header_field_of_a_wide_character() {
        let l = UidList::parse("3 V7 \u{e9}1 N3 \u{20ac} \u{8}\r X1\n1 :a\n").unwrap();
        assert_eq!((l.uid_validity, l.next_uid), (7, 3));
        assert_eq!(l.other_header, ["X1"]);
        assert_eq!(UidList::parse(&l.format()).unwrap(), l);
    }

    #[test]
    fn bad_files() {
        for bad in [
            "",
            "1 V1 N1\n",
            "3 N5\n",
            "3 V1 N2\n2 :a\n1 :b\n",
            "3 V1\nx :a\n",
            "3 V1\n1 a\n",
        ] {
            assert!(UidList::parse(bad).is_err(), "{bad:?}");
        }
    }
}

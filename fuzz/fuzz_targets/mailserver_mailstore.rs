#![no_main]
//! The files the mail server's store keeps beside each Maildir folder
//! (`examples/mailserver/mailstore/`), which Dovecot writes too when both
//! serve the same Maildir, or which a crash may leave cut off: any text as
//! `dovecot-uidlist` (`uidlist.rs`), `dovecot-keywords` (`keywords.rs`) or
//! the folder's mod-sequence table (`modseq.rs`) is read without a panic,
//! and what was read is written back to a text that reads the same: the
//! server keeps what it found when it saves. A uidlist read keeps its UIDs
//! ascending with the next UID above them all (no UID is given twice); the
//! mod-sequence table keeps at most `MAX_EXPUNGED` expunges, all above its
//! horizon.
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../examples/mailserver/mailstore/uidlist.rs"]
mod uidlist;

#[allow(dead_code)]
#[path = "../../examples/mailserver/mailstore/keywords.rs"]
mod keywords;

#[allow(dead_code)]
#[path = "../../examples/mailserver/mailstore/modseq.rs"]
mod modseq;

fuzz_target!(|data: &[u8]| {
    // The store reads these files as UTF-8 text, lossily.
    let text = String::from_utf8_lossy(data);

    if let Ok(list) = uidlist::UidList::parse(&text) {
        assert!(list.uid_validity != 0);
        assert!(list.records.windows(2).all(|w| w[0].uid < w[1].uid));
        assert!(
            list.records
                .iter()
                .all(|r| r.uid < list.next_uid || r.uid == u32::MAX),
            "a UID at or above the next one"
        );
        let again = uidlist::UidList::parse(&list.format());
        assert_eq!(again.as_ref(), Ok(&list), "{:?}", list.format());
    }

    let words = keywords::Keywords::parse(&text);
    assert_eq!(keywords::Keywords::parse(&words.format()), words);

    let table = modseq::ModSeqs::parse(&text);
    assert!(table.expunged.len() <= modseq::MAX_EXPUNGED);
    assert!(table.expunged.iter().all(|&(_, q)| q > table.horizon));
    assert!(table.expunged.windows(2).all(|w| w[0].0 < w[1].0));
    let again = modseq::ModSeqs::parse(&table.format());
    assert_eq!(again, table, "{:?}", table.format());
});

//! The IMAP server kit's SEARCH, SORT, THREAD and mailbox bookkeeping on
//! any input: the input starts with a command the codec parses (SEARCH,
//! SORT, THREAD, FETCH, STORE, UID EXPUNGE, SELECT with QRESYNC ...); the
//! rest, split at 0xFF bytes, are up to eight stored messages, some with
//! RFC 8474 EMAILIDs and THREADIDs. Never panics; nesting is bounded by
//! the parser and by `Query::new`; the results are consistent (ascending,
//! within the mailbox, NOT k the complement of k).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_imap::kit::Message;
use mailwire_imap::kit::mailbox::{Flags, Mailbox};
use mailwire_imap::kit::search::{LazyContent, MessageMeta, Query, SearchContext, search};
use mailwire_imap::kit::{sort, thread};
use mailwire_imap::{CommandBody, Date, DateTime, Flag, SearchKey, SelectParam, parse};

fuzz_target!(|data: &[u8]| {
    let Ok((cmd, n)) = parse::command(data) else {
        return;
    };
    let raws: Vec<&[u8]> = data[n..].split(|&b| b == 0xff).take(8).collect();
    let messages: Vec<Message> = raws
        .iter()
        .map(|r| Message::parse(bytes::Bytes::copy_from_slice(r)))
        .collect();
    let mut mb = Mailbox::new(1, true);
    for (i, r) in raws.iter().enumerate() {
        let mut flags = Vec::new();
        if r.len() % 2 == 0 {
            flags.push(Flag::Seen);
        }
        if r.len() % 3 == 0 {
            flags.push(Flag::Deleted);
        }
        mb.append(Flags::from_flags(&flags), i % 2 == 0);
    }
    mb.expunge(&[2]);
    let dates: Vec<DateTime> = raws
        .iter()
        .map(|r| {
            let day = (r.len() % 28) as u8 + 1;
            DateTime::new(Date::new(2020, 1, day).unwrap(), 12, 0, 0, 60).unwrap()
        })
        .collect();
    // RFC 8474 identifiers: an EMAILID by content length, a THREADID by
    // parity, each missing on some messages (EMAILID x and THREADID x
    // never match those).
    let object_ids = |i: usize| {
        const EMAIL: [&str; 3] = ["M1", "M2", "M3"];
        const THREAD: [&str; 2] = ["T1", "T2"];
        (
            (i % 4 != 3).then(|| EMAIL[raws[i].len() % 3]),
            (i % 3 != 2).then(|| THREAD[raws[i].len() % 2]),
        )
    };
    let kept: Vec<usize> = (0..raws.len()).filter(|&i| i != 1).collect();
    let items = || {
        mb.entries()
            .iter()
            .zip(&kept)
            .enumerate()
            .map(|(s, (e, &i))| {
                let (email_id, thread_id) = object_ids(i);
                (
                    MessageMeta::of(s as u32 + 1, e, dates[i], raws[i].len() as u64)
                        .with_object_ids(email_id, thread_id),
                    LazyContent::borrowed(&messages[i]),
                )
            })
    };
    let ctx = SearchContext {
        saved: &[1, 3],
        ..SearchContext::of(&mb, 1_600_000_000)
    };
    match &cmd.body {
        CommandBody::Search {
            uid,
            return_opts,
            charset,
            criteria,
        } => {
            let Ok(q) = Query::new(criteria, charset.as_ref().map(|c| c.as_bytes())) else {
                return;
            };
            // THREADID keys are found wherever they sit (a server works
            // its thread ids out only when this says so).
            assert_eq!(q.uses_thread_id(), criteria.iter().any(has_thread_id));
            let r = search(&q, &ctx, *uid, items());
            assert!(r.numbers.windows(2).all(|w| w[0] < w[1]));
            assert!(r.numbers.len() <= mb.len() as usize);
            let _ = r.esearch_items(return_opts.as_deref().unwrap_or(&[]));
            let not = SearchKey::Not(Box::new(SearchKey::And(criteria.clone())));
            if let Ok(nq) = Query::new(&[not], charset.as_ref().map(|c| c.as_bytes())) {
                let nr = search(&nq, &ctx, *uid, items());
                assert_eq!(r.numbers.len() + nr.numbers.len(), mb.len() as usize);
                assert!(r.numbers.iter().all(|n| !nr.numbers.contains(n)));
            }
        }
        CommandBody::Sort { uid, criteria, .. } => {
            let out = sort::sort(criteria, *uid, items());
            assert_eq!(out.len(), mb.len() as usize);
        }
        CommandBody::Thread { uid, .. } => {
            let _ = thread::ordered_subject(*uid, items());
            let _ = thread::references(*uid, items());
            // The root a stateless THREADID is derived from.
            for m in &messages {
                let _ = thread::thread_root(m);
            }
        }
        CommandBody::Fetch { uid, set, .. } | CommandBody::Copy { uid, set, .. } => {
            if let Ok(seqs) = mb.resolve(set, *uid) {
                assert!(seqs.iter().all(|&s| s >= 1 && s <= mb.len()));
                let _ = mb.changed_since(&seqs, 2);
            }
        }
        CommandBody::Store {
            uid,
            set,
            unchanged_since,
            kind,
            flags,
            ..
        } => {
            if let Ok(seqs) = mb.resolve(set, *uid) {
                let before = mb.highest_modseq();
                mb.store(&seqs, *kind, flags, *unchanged_since);
                assert!(mb.highest_modseq() >= before);
                let _ = mb.flags();
                let _ = mb.permanent_flags();
            }
        }
        CommandBody::UidExpunge(set) => {
            let len = mb.len();
            let gone = mb.expunge_deleted(Some(set));
            assert_eq!(mb.len() as usize + gone.len(), len as usize);
            let _ = mb.vanished_since(1, Some(set));
        }
        CommandBody::Select { params, .. } | CommandBody::Examine { params, .. } => {
            for p in params {
                if let SelectParam::QResync {
                    uidvalidity,
                    modseq,
                    known_uids,
                    seq_match,
                } = p
                {
                    if modseq % 2 == 1 {
                        // Forgotten expunges: the fallback over the known UIDs.
                        mb.forget_expunged(mb.highest_modseq());
                    }
                    let _ = mb.qresync(
                        *uidvalidity,
                        *modseq,
                        known_uids.as_ref(),
                        seq_match.as_ref().map(|(a, b)| (a, b)),
                    );
                }
            }
        }
        _ => {}
    }
});

/// Whether `k` is, or holds under NOT, OR or a parenthesized list, a
/// THREADID key.
fn has_thread_id(k: &SearchKey<'_>) -> bool {
    match k {
        SearchKey::ThreadId(_) => true,
        SearchKey::Not(a) => has_thread_id(a),
        SearchKey::Or(a, b) => has_thread_id(a) || has_thread_id(b),
        SearchKey::And(v) => v.iter().any(has_thread_id),
        _ => false,
    }
}

//! The IMAP client machine driven by structured input: selector bytes
//! choose application commands, AUTHENTICATE, TLS established or
//! compression started, timeouts and IDLE's DONE; the rest is server bytes
//! in pieces. Never panics; nothing happens after Closed; memory stays
//! bounded by the options; nothing is sent between the OK to COMPRESS and
//! the switch (RFC 4978 §3).
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailwire_imap::client::{Client, Event, Options};
use mailwire_imap::{
    AppendMessage, Binary, CommandBody, FetchAttr, FetchAttrs, Flag, IString, Mailbox, Secret,
    SequenceSet, StoreKind, Vec1,
};

fn command(k: u8) -> CommandBody<'static> {
    let s = |v: &str| IString::try_from(v.to_owned()).expect("valid");
    let body = FetchAttrs::List(vec![
        FetchAttr::Uid,
        FetchAttr::Flags,
        FetchAttr::BodySection {
            peek: true,
            section: Default::default(),
            partial: None,
        },
    ]);
    match k % 21 {
        0 => CommandBody::Capability,
        1 => CommandBody::Noop,
        2 => CommandBody::Login {
            username: s("fred"),
            password: Secret::new(s("secret")),
        },
        3 => CommandBody::Select {
            mailbox: Mailbox::Inbox,
            params: vec![],
        },
        4 => CommandBody::Examine {
            mailbox: Mailbox::new(s("a b")),
            params: vec![],
        },
        5 => CommandBody::Fetch {
            uid: false,
            set: SequenceSet::all(),
            attrs: body,
            modifiers: vec![],
        },
        6 => CommandBody::Fetch {
            uid: true,
            set: SequenceSet::all(),
            attrs: body,
            modifiers: vec![],
        },
        7 => CommandBody::Store {
            uid: false,
            set: SequenceSet::all(),
            unchanged_since: None,
            kind: StoreKind::Add,
            silent: false,
            flags: vec![Flag::Seen],
        },
        8 => CommandBody::Append {
            mailbox: Mailbox::Inbox,
            messages: Vec1::one(AppendMessage {
                flags: vec![],
                date: None,
                message: Binary(vec![b'x'; usize::from(k) * 40].into()),
                utf8: false,
            }),
        },
        9 => CommandBody::Idle,
        10 => CommandBody::Enable(Vec1::one(
            mailwire_imap::Atom::try_from("QRESYNC").expect("atom"),
        )),
        11 => CommandBody::StartTls,
        12 => CommandBody::List {
            select: vec![],
            reference: Mailbox::new(s("")),
            patterns: Vec1::one(s("*")),
            return_opts: vec![],
        },
        13 => CommandBody::Status {
            mailbox: Mailbox::Inbox,
            items: vec![mailwire_imap::StatusAttr::Messages],
        },
        14 => CommandBody::Close,
        15 => CommandBody::Expunge,
        16 => CommandBody::Move {
            uid: true,
            set: SequenceSet::Saved,
            mailbox: Mailbox::new(s("x")),
        },
        17 => CommandBody::Namespace,
        18 => CommandBody::UidExpunge(SequenceSet::all()),
        19 => CommandBody::Compress {
            algorithm: mailwire_imap::Atom::try_from("DEFLATE").expect("atom"),
        },
        _ => CommandBody::Logout,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut data)) = data.split_first() else {
        return;
    };
    let start = Instant::now();
    let mut now = start;
    let mut o = Options::default();
    o.stream_threshold = 64;
    o.max_literal = 512;
    o.max_response = 8192;
    o.max_line = 4096;
    o.max_responses_per_command = 64;
    o.max_pending_events = 256;
    o.pipelining = flags & 4 == 0;
    o.auto_capability = flags & 8 == 0;
    let mut c = Client::new(o, now);
    match flags & 3 {
        1 => c.handle_input(
            now,
            b"* OK [CAPABILITY IMAP4rev2 LITERAL+ SASL-IR IDLE STARTTLS AUTH=PLAIN COMPRESS=DEFLATE] hi\r\n",
        ),
        2 => c.handle_input(
            now,
            b"* PREAUTH [CAPABILITY IMAP4rev1 LITERAL- IDLE CONDSTORE] hi\r\n",
        ),
        _ => {}
    }
    let mut out = Vec::new();
    let mut closed = false;
    let mut events = 0usize;
    // The OK to COMPRESS arrived and the switch was not made yet.
    let mut compress_pending = false;
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        let arg = data.first().copied().unwrap_or(0);
        match op % 8 {
            0 => {
                let _ = c.enqueue_command(command(arg));
                data = data.get(1..).unwrap_or(&[]);
            }
            1 => {
                let sasl = match arg % 3 {
                    0 => mailwire_sasl::Client::plain(
                        None,
                        "u",
                        mailwire_sasl::Secret::new("p".into()),
                    ),
                    1 => {
                        mailwire_sasl::Client::cram_md5("u", mailwire_sasl::Secret::new("p".into()))
                    }
                    _ => mailwire_sasl::Client::scram_sha256(
                        None,
                        "u",
                        mailwire_sasl::Secret::new("p".into()),
                        "fuzznonce",
                    ),
                };
                if let Ok(sasl) = sasl {
                    let _ = c.authenticate(sasl);
                }
                data = data.get(1..).unwrap_or(&[]);
            }
            2 => {
                c.handle_tls_established(now);
                if compress_pending {
                    // The stand-in for DEFLATE is the identity: the leftover
                    // is fed back as it was taken.
                    compress_pending = false;
                    let left = c.take_compressed_input();
                    c.handle_compression_started(now);
                    assert!(c.is_compressed());
                    c.handle_input(now, &left);
                }
            }
            3 => {
                now += Duration::from_secs(u64::from(arg) * 60);
                c.handle_timeout(now);
                data = data.get(1..).unwrap_or(&[]);
            }
            4 => {
                let _ = c.idle_done();
            }
            _ => {
                let n = usize::from(arg) + 1;
                let rest = data.get(1..).unwrap_or(&[]);
                let (piece, after) = rest.split_at(n.min(rest.len()));
                c.handle_input(now, piece);
                data = after;
            }
        }
        while c.poll_transmit(now, &mut out).is_some() {}
        assert!(
            !compress_pending || out.is_empty(),
            "sent before the switch to COMPRESS"
        );
        out.clear();
        while let Some(e) = c.poll_event() {
            assert!(!closed, "event after Closed");
            events += 1;
            match e {
                Event::Closed { .. } => closed = true,
                Event::Compress { .. } => compress_pending = true,
                _ => {}
            }
        }
        if let Some(t) = c.poll_timeout() {
            assert!(t >= start);
        }
    }
    c.handle_eof(now);
    while c.poll_event().is_some() {}
    assert!(c.is_closed());
    let _ = events;
});

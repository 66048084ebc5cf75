//! Arbitrary client bytes, in arbitrary pieces, into the POP3 server
//! machine, with an application that answers every event (a deterministic
//! maildrop, a fixed password, chunked content). Never panics; output stays
//! bounded; after Closed nothing more happens.
#![no_main]

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailwire_pop3::server::{AuthMethod, Event, MaildropEntry, Options, Server};
use mailwire_pop3::{ResponseCode, StatusLine, Uid, WireSize};
use mailwire_sasl::{Mechanism, ScramCredentials, ScramHash, Secret};

const MESSAGES: [&[u8]; 3] = [
    b"Subject: a\r\n\r\n.dot\r\nbody\r\n",
    b"Subject: b\n\nlf\n.\n..\nno end",
    b"",
];

fn answer(s: &mut Server, locked: bool) -> bool {
    let mut any = false;
    while let Some(ev) = s.poll_event() {
        any = true;
        match ev {
            Event::Authenticate {
                handle,
                username,
                method,
                ..
            } => {
                let known = username == "u";
                let r = match method {
                    AuthMethod::Sasl(Mechanism::ScramSha256) => s
                        .provide_scram_credentials(
                            handle,
                            known.then(|| {
                                ScramCredentials::derive(
                                    ScramHash::Sha256,
                                    "p",
                                    b"salt",
                                    NonZeroU32::MIN.saturating_add(1),
                                )
                                .expect("derive")
                            }),
                        )
                        .is_ok(),
                    AuthMethod::User => {
                        s.check_password(handle, |p| known && p.ct_eq(b"p")).is_ok()
                    }
                    _ => s
                        .provide_password(handle, known.then(|| Secret::from("p")))
                        .is_ok(),
                };
                assert!(r, "answer refused");
            }
            Event::OpenMaildrop { handle, .. } => {
                if locked {
                    s.refuse(handle, StatusLine::err(Some(ResponseCode::InUse), "locked"))
                        .expect("refuse");
                } else {
                    let listing = MESSAGES
                        .iter()
                        .enumerate()
                        .map(|(i, m)| MaildropEntry {
                            size: WireSize::of(m),
                            uid: Uid::try_from(format!("u{i}")).expect("uid"),
                        })
                        .collect();
                    s.open_maildrop(handle, listing).expect("open");
                }
            }
            Event::Retrieve { handle, index, .. } => {
                for c in MESSAGES[index].chunks(3) {
                    if !s.send_content(handle, c).expect("content") {
                        break;
                    }
                }
                s.end_content(handle).expect("end");
            }
            Event::Update { handle, .. } => s.finish_update(handle, Ok(())).expect("update"),
            Event::StartTls => s.handle_tls_established(Instant::now()),
            _ => {}
        }
    }
    any
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let flags = data[0];
    let data = &data[1..];
    let now = Instant::now();
    let mut o = Options::default();
    o.apop = flags & 1 != 0;
    o.stls = flags & 2 != 0;
    o.allow_plaintext_auth = flags & 4 != 0;
    o.utf8 = flags & 8 != 0;
    o.sasl_mechanisms = vec![
        Mechanism::ScramSha256,
        Mechanism::CramMd5,
        Mechanism::Plain,
        Mechanism::Login,
    ];
    o.max_buffered = 4096;
    let mut s = Server::new(o, "fuzz", now).expect("nonce");
    let mut out = Vec::new();
    let step = usize::from(flags >> 4) + 1;
    for (i, piece) in data.chunks(step).enumerate() {
        s.handle_input(now + Duration::from_millis(i as u64), piece);
        loop {
            while s.poll_transmit(now, &mut out).is_some() {}
            if !answer(&mut s, flags & 16 != 0) {
                break;
            }
        }
        assert!(out.len() < 1 << 22);
        out.clear();
    }
    s.handle_timeout(now + Duration::from_secs(3600));
    s.handle_eof(now);
    while s.poll_transmit(now, &mut out).is_some() {}
    while s.poll_event().is_some() {}
    assert!(s.is_closed());
    assert!(s.poll_timeout().is_none());
});

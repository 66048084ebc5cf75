//! Arbitrary server bytes, in arbitrary pieces, into the POP3 client
//! machine with a queue of commands. Never panics; events stay bounded by
//! the input; after Closed nothing more happens.
#![no_main]

use std::num::NonZeroU32;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use mailwire_pop3::Command;
use mailwire_pop3::client::{AuthChoice, Client, Event, Options, TlsMode};

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let flags = data[0];
    let data = &data[1..];
    let now = Instant::now();
    let mut o = Options::new("user", "pass");
    o.tls = if flags & 1 != 0 {
        TlsMode::StartTls
    } else {
        TlsMode::None
    };
    o.allow_plaintext_auth = flags & 2 != 0;
    o.sasl_nonce = "fuzznonce".into();
    o.auth = match (flags >> 2) & 3 {
        0 => AuthChoice::Auto,
        1 => AuthChoice::Apop,
        2 => AuthChoice::User,
        _ => AuthChoice::Sasl(mailwire_sasl::Mechanism::ScramSha256),
    };
    o.max_listing = 1000;
    let mut c = Client::new(o, now);
    let one = NonZeroU32::MIN;
    for cmd in [
        Command::Stat,
        Command::List(None),
        Command::Uidl(Some(one)),
        Command::Retr(one),
        Command::Top { msg: one, lines: 2 },
        Command::Capa,
        Command::Dele(one),
        Command::Quit,
    ] {
        c.enqueue(cmd).expect("enqueue");
    }
    let step = usize::from(flags >> 4) + 1;
    let mut out = Vec::new();
    let mut closed = false;
    for piece in data.chunks(step) {
        c.handle_input(now, piece);
        while c.poll_transmit(now, &mut out).is_some() {}
        while let Some(e) = c.poll_event() {
            assert!(!closed, "event after Closed");
            match e {
                Event::StartTls => c.handle_tls_established(now),
                Event::Closed { .. } => closed = true,
                _ => {}
            }
        }
        while c.poll_transmit(now, &mut out).is_some() {}
        out.clear();
    }
    c.handle_eof(now);
    while c.poll_event().is_some() {}
    assert!(c.is_closed());
});

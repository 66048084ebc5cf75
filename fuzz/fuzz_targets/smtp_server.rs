//! The SMTP server state machine fed arbitrary bytes in arbitrary pieces,
//! with an application that accepts everything: never panics, and every
//! decision it asks for can be answered.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mailwire_smtp::server::{Event, Options, Server};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut o = Options::default();
    o.starttls = split & 1 == 1;
    o.auth_mechanisms = vec![
        mailwire_sasl::Mechanism::Plain,
        mailwire_sasl::Mechanism::Login,
    ];
    o.allow_plaintext_auth = split & 2 == 2;
    o.max_message_size = 4096;
    o.binarymime = true;
    o.dsn = true;
    // MT-PRIORITY (RFC 6710) offered or not: the parameter accepted, or 555.
    o.mt_priority = split & 1 == 0;
    o.mt_priority_policy = Some(mailwire_smtp::PriorityPolicy::Mixer);
    // REQUIRETLS (RFC 8689): 530 before TLS, accepted after STARTTLS.
    o.requiretls = true;
    // LIMITS (RFC 9422): MAILMAX kept at two transactions a session.
    o.max_transactions = (split & 2 == 0).then_some(2);
    let mut s = Server::new(o, now);
    let mut out = Vec::new();
    let piece = usize::from(split >> 2).max(1);
    for chunk in data.chunks(piece) {
        s.handle_input(now, chunk);
        loop {
            while s.poll_transmit(now, &mut out).is_some() {}
            let mut any = false;
            while let Some(e) = s.poll_event() {
                any = true;
                match e {
                    Event::Mail { handle, .. }
                    | Event::Rcpt { handle, .. }
                    | Event::DataEnd { handle, .. } => {
                        s.accept(handle).expect("pending decision");
                    }
                    Event::AuthStart {
                        handle,
                        initial_response: None,
                        ..
                    } => {
                        s.auth_challenge(handle, b"").expect("pending auth");
                    }
                    Event::AuthStart { handle, .. } | Event::AuthResponse { handle, .. } => {
                        s.auth_success(handle).expect("pending auth");
                    }
                    Event::StartTls => s.handle_tls_established(now),
                    _ => {}
                }
            }
            if !any {
                break;
            }
        }
        out.clear();
    }
    s.handle_timeout(now + Duration::from_secs(600));
    s.handle_eof(now);
    assert!(s.is_closed());
});

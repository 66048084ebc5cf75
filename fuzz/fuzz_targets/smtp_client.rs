//! The SMTP client state machine, with credentials and a queued message,
//! fed arbitrary server bytes in arbitrary pieces: never panics.
#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mailwire_sasl::{Credentials, Secret};
use mailwire_smtp::client::{Client, Envelope, Event, Options, TlsMode};
use mailwire_smtp::{Mailbox, ReversePath};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut o = Options::default();
    o.starttls = if split & 1 == 1 {
        TlsMode::Opportunistic
    } else {
        TlsMode::Disabled
    };
    if split & 2 == 2 {
        o.credentials = Some(Credentials::password("user", Secret::from("pass")));
        o.allow_plaintext_auth = true;
        o.sasl_nonce = "fyko+d2lbbFgONRv9qkxdawL".to_owned();
    }
    let mut c = Client::new(o, now);
    let from = ReversePath::Mailbox(
        Mailbox::try_from("a@example.org")
            .expect("valid")
            .into_owned(),
    );
    let to = Mailbox::try_from("b@example.net")
        .expect("valid")
        .into_owned();
    let env = Envelope::new(from, [to.clone(), to]);
    let _ = c.send_mail(
        env,
        Bytes::from_static(b"Subject: x\r\n\r\n.dot\r\nh\xc3\xa9\r\n"),
    );
    c.quit();
    let mut out = Vec::new();
    let piece = usize::from(split >> 2).max(1);
    for chunk in data.chunks(piece) {
        c.handle_input(now, chunk);
        while c.poll_transmit(now, &mut out).is_some() {}
        while let Some(e) = c.poll_event() {
            if let Event::StartTls = e {
                c.handle_tls_established(now);
            }
        }
        out.clear();
    }
    c.handle_timeout(now + Duration::from_secs(3600));
    assert!(c.is_closed());
});

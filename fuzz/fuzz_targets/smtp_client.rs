//! The SMTP client state machine, with credentials, a queued message and a
//! streamed one (pushed in pieces while the server talks, sometimes
//! aborted with RSET), NOOP and RSET, fed arbitrary server bytes in
//! arbitrary pieces (sometimes after an EHLO reply with LIMITS): never
//! panics.
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
        env.clone(),
        Bytes::from_static(b"Subject: x\r\n\r\n.dot\r\nh\xc3\xa9\r\n"),
    );
    c.noop();
    let _ = c.start_mail(env, if split & 4 == 4 { Some(40) } else { None });
    let body = b"Subject: s\r\n\r\n.a\rb\nc\r\n..\r\n";
    let mut fed = 0;
    let mut out = Vec::new();
    let piece = usize::from(split >> 3).max(1);
    if split & 0x80 == 0x80 {
        // A server with LIMITS (RFC 9422) that takes one RCPT a
        // transaction and one transaction a session: the rest of the input
        // answers what the client sends within them.
        c.handle_input(
            now,
            b"220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=1 MAILMAX=1\r\n",
        );
    }
    for (i, chunk) in data.chunks(piece).enumerate() {
        c.handle_input(now, chunk);
        // Push a few octets of the body per round while it is wanted;
        // abort it on one round when asked to.
        if c.wants_body() && fed < body.len() {
            let end = (fed + 3).min(body.len());
            let _ = c.push_body(Bytes::copy_from_slice(&body[fed..end]));
            fed = end;
        } else if fed == body.len() {
            let _ = c.end_body();
        }
        if split & 0x80 == 0x80 && i == 2 {
            c.rset();
        }
        if i == 4 {
            c.quit();
        }
        while c.poll_transmit(now, &mut out).is_some() {}
        while let Some(e) = c.poll_event() {
            if let Event::StartTls = e {
                c.handle_tls_established(now);
            }
        }
        out.clear();
    }
    // A machine waiting for the application's body has no deadline: end it.
    let _ = c.end_body();
    c.quit();
    while c.poll_transmit(now, &mut out).is_some() {}
    c.handle_timeout(now + Duration::from_secs(3600));
    assert!(c.is_closed());
});

//! Fuzzes every SASL client with server challenges (split at 0xFF) and the
//! base64 framing decoders with the raw input.
#![no_main]

use core::num::NonZeroU32;

use libfuzzer_sys::fuzz_target;
use mailwire_sasl::framing;
use mailwire_sasl::{Client, Credentials, Mechanism, Secret};

fuzz_target!(|data: &[u8]| {
    let _ = framing::decode_client_line(data);
    let _ = framing::decode_initial_response(data);
    let _ = framing::decode_challenge(data);
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mech = Mechanism::PREFERENCE[usize::from(selector) % Mechanism::PREFERENCE.len()];
    let creds = if mech.uses_token() {
        Credentials::token("user", Secret::from("dG9rZW4="))
    } else {
        Credentials::password("user", Secret::from("pencil"))
    };
    let Ok(client) = Client::new(mech, &creds, "fyko+d2lbbFgONRv9qkxdawL") else {
        return;
    };
    // Keep PBKDF2 cheap: a fuzzer must not spend its time hashing.
    let mut client =
        client.with_iteration_bounds(NonZeroU32::MIN, NonZeroU32::MIN.saturating_add(15));
    let _ = client.initial_response();
    let mut last = None;
    for challenge in rest.split(|b| *b == 0xFF) {
        let _ = client.step(challenge);
        last = Some(challenge);
    }
    let _ = client.finish(last);
});

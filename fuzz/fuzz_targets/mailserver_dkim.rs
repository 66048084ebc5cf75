#![no_main]
//! The mail server's DKIM signing and verification
//! (`examples/mailserver/dkim.rs`, `examples/mailserver/dkim_verify.rs`,
//! RFC 6376) and its removal of forged `Authentication-Results` fields
//! (RFC 8601 §5), on any message a sender can send:
//!
//! - any message with any `DKIM-Signature` fields, its key records
//!   answered with any text, is checked without a panic, at most
//!   `MAX_SIGNATURES` signatures of it, and none passes: no input can
//!   hold a signature made with a key the fuzzer does not have;
//! - a message signed by the server's own signer (an Ed25519 key made at
//!   start) passes under its published record, when its header parses
//!   without defects (the signature goes in front of the first field);
//!   only a message without a From field is not signed (RFC 6376 §5.4);
//! - after `rewrite`, no field but the ones it put in front claims this
//!   server's authserv-id.
//!
//! The first byte chooses what the rest is: the message only (the signing
//! round trip, then the check with the server's record), or a message, a
//! line `\n--\n`, then the text every key lookup answers with.
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mailwire::message::HeaderSection;

#[allow(dead_code)]
#[path = "../../examples/mailserver/txt.rs"]
mod txt;

#[allow(dead_code)]
#[path = "../../examples/mailserver/dns_name.rs"]
mod dns_name;

#[allow(dead_code)]
#[path = "../../examples/mailserver/dkim.rs"]
mod dkim;

#[allow(dead_code)]
#[path = "../../examples/mailserver/dkim_verify.rs"]
mod dkim_verify;

/// What `dkim.rs` logs through: nothing to log while fuzzing.
mod driver {
    pub(crate) fn log(_: String) {}
}

use dkim_verify::{MAX_SIGNATURES, Verdict, claims_to_be_ours, rewrite, verify};

const DOMAIN: &str = "example.test";
const SELECTOR: &str = "fuzz";
const AUTHSERV_ID: &str = "mx.example.test";
const NOW: u64 = 1_750_000_000;

/// The server's signer and the TXT record it publishes, made once.
fn signer() -> &'static (dkim::Signer, String) {
    static SIGNER: OnceLock<(dkim::Signer, String)> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("mailwire-fuzz-dkim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let key = dir.join("key.pem");
        let _ = std::fs::remove_file(&key);
        let line = dkim::keygen(DOMAIN, SELECTOR, &key).expect("keygen");
        let signer = dkim::Signer::from_pem(DOMAIN, SELECTOR, &key).expect("the key reads");
        let _ = std::fs::remove_dir_all(&dir);
        // `s._domainkey.d. IN TXT "v=DKIM1; ..."`: the quoted text.
        let record = line
            .split_once('"')
            .and_then(|(_, r)| r.strip_suffix('"'))
            .expect("a quoted record")
            .to_string();
        (signer, record)
    })
}

/// The checks every message gets, whatever the key lookups answer.
fn check_any(msg: &[u8], answer: Result<Vec<String>, String>, own_key: bool) {
    let lookup = |_: &str| answer.clone();
    let outcomes = verify(msg, &lookup, NOW);
    assert!(outcomes.len() <= MAX_SIGNATURES);
    if !own_key {
        assert!(
            outcomes.iter().all(|o| o.verdict != Verdict::Pass),
            "a signature passed under a key from the input: {outcomes:?}"
        );
    }
    let field = dkim_verify::results_field(AUTHSERV_ID, Some(&outcomes), None, &[]);
    let out = rewrite(msg, AUTHSERV_ID, &field);
    let header = HeaderSection::parse(&out);
    let claiming = header
        .fields()
        .iter()
        .filter(|f| claims_to_be_ours(f, AUTHSERV_ID))
        .count();
    let ours = HeaderSection::parse(field.as_bytes())
        .fields()
        .iter()
        .filter(|f| claims_to_be_ours(f, AUTHSERV_ID))
        .count();
    assert!(
        claiming <= ours,
        "a forged result field survived: {:?}",
        String::from_utf8_lossy(&out)
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (signer, record) = signer();
    if mode & 1 == 0 {
        let msg = mailwire_fuzz::crlf(rest);
        let header = HeaderSection::parse(&msg);
        let Ok(sig) = signer.signature(&msg, NOW) else {
            // Refused only for a message without a From field (§5.4).
            assert!(header.get("from").is_none(), "signing refused");
            return;
        };
        let mut signed = sig.into_bytes();
        signed.extend_from_slice(&msg);
        let outcomes = verify(&signed, &|_: &str| Ok(vec![record.clone()]), NOW);
        if header.defects().is_empty() {
            assert_eq!(
                outcomes.first().map(|o| &o.verdict),
                Some(&Verdict::Pass),
                "the server's own signature did not verify: {:?}",
                String::from_utf8_lossy(&signed)
            );
        }
        check_any(&signed, Ok(vec![record.clone()]), true);
    } else {
        let (msg, records) = match rest.windows(4).position(|w| w == b"\n--\n") {
            Some(p) => (&rest[..p + 1], &rest[p + 4..]),
            None => (rest, &[][..]),
        };
        let text = String::from_utf8_lossy(records).into_owned();
        let answer = if mode & 2 == 2 {
            Err("a temporary failure".to_string())
        } else {
            Ok(text.lines().map(str::to_string).collect())
        };
        check_any(&mailwire_fuzz::crlf(msg), answer, false);
    }
});

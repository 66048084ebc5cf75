//! Fuzzes the SASL server for SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677).
//! The input is split at 0xFF bytes into messages; the first byte picks the
//! variant and how the application answers (see `mailwire_fuzz::sasl_server`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_sasl::Mechanism;

fuzz_target!(|data: &[u8]| {
    mailwire_fuzz::sasl_server(
        &[Mechanism::ScramSha1, Mechanism::ScramSha256],
        "3rfcNHYJY1ZVvWVs7j",
        data,
    );
});

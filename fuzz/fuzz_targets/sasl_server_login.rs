//! Fuzzes the SASL server for LOGIN.
//! The input is split at 0xFF bytes into messages; the first byte picks the
//! variant and how the application answers (see `mailwire_fuzz::sasl_server`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_sasl::Mechanism;

fuzz_target!(|data: &[u8]| {
    mailwire_fuzz::sasl_server(&[Mechanism::Login], "", data);
});

#![no_main]
//! The mail server's SPF check (`examples/mailserver/spf.rs`, RFC 7208):
//! any record text, for either address family, gives a result without a
//! panic, and the limits of §4.6.4 bound the lookups whatever the records
//! (each name answers with the input's records, so includes and
//! redirects loop back into them).
use std::cell::Cell;
use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../examples/mailserver/spf.rs"]
mod spf;

use spf::{Answer, Dns};

/// Every name has the input's TXT records, one address of each family
/// and two MX names; counts the lookups.
struct Zone {
    records: Vec<String>,
    lookups: Cell<usize>,
}

impl Zone {
    fn count(&self) {
        self.lookups.set(self.lookups.get() + 1);
    }
}

impl Dns for Zone {
    fn txt(&self, _: &str) -> Answer<String> {
        self.count();
        Ok(self.records.clone())
    }
    fn addrs(&self, name: &str, v6: bool) -> Answer<IpAddr> {
        self.count();
        if name.starts_with("void") {
            return Ok(Vec::new());
        }
        let ip = if v6 { "2001:db8::1" } else { "192.0.2.1" };
        Ok(vec![ip.parse().unwrap()])
    }
    fn mx(&self, name: &str) -> Answer<String> {
        self.count();
        Ok(vec![format!("mx1.{name}"), format!("void.{name}")])
    }
    fn ptr(&self, _: &str) -> Answer<String> {
        self.count();
        Ok(vec!["host.example.com".into()])
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    // Up to three records, separated by newlines; "v=spf1 " put in front
    // of the first so that most inputs are SPF records.
    let mut records: Vec<String> = text.split('\n').take(3).map(str::to_string).collect();
    if first & 1 == 0 {
        records[0] = format!("v=spf1 {}", records[0]);
    }
    let zone = Zone {
        records,
        lookups: Cell::new(0),
    };
    let ip: IpAddr = if first & 2 == 0 {
        "192.0.2.1".parse().unwrap()
    } else {
        "2001:db8::1".parse().unwrap()
    };
    let r = spf::check_host(&zone, ip, "user", "example.com", "helo.example.com");
    let _ = r.word();
    // At most 10 terms that query DNS, each with up to 10 MX or PTR names
    // and their addresses, and the records' own TXT lookups.
    assert!(
        zone.lookups.get() <= 1 + 10 * 22,
        "{} lookups",
        zone.lookups.get()
    );
});

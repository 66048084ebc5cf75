//! The address-list parser: never panics; every mailbox that can be
//! rebuilt from its parsed parts writes out and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_message::{Mailbox, parse_address_list, parse_mailbox_list, parse_return_path};

fuzz_target!(|data: &[u8]| {
    let (list, defects) = parse_address_list(data);
    for d in &defects {
        assert!(d.offset <= data.len());
    }
    let _ = parse_mailbox_list(data);
    let _ = parse_return_path(data);
    for m in list.mailboxes() {
        if m.domain().is_none() {
            continue;
        }
        let Ok(rebuilt) = Mailbox::new(m.name(), m.addr_spec()) else {
            continue;
        };
        let text = rebuilt.to_string();
        let (again, d) = parse_address_list(text.as_bytes());
        let first = again.mailboxes().next();
        assert_eq!(first, Some(&rebuilt), "{text:?} {d:?}");
    }
});

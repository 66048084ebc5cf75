#![no_main]
//! The IMAP server kit on any message: FETCH of every attribute, of every
//! section of every part, and of sections and partial ranges taken from
//! the input, never panics; a partial section is a cut of the whole one;
//! ENVELOPE, BODYSTRUCTURE, BODY and PREVIEW encode to a response the
//! codec parses back to the same values; a preview holds at most 256
//! characters.
//!
//! Input: the first 16 bytes choose extra sections and ranges, the rest is
//! the message.
use std::num::NonZeroU32;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mailwire_imap::kit::{Message, Options};
use mailwire_imap::{
    Data, FetchAttr, FetchItem, IString, Partial, Response, Section, SectionText, encode, parse,
};

fn text(b: u8) -> Option<SectionText<'static>> {
    let names = || {
        vec![
            IString::try_from("Subject").unwrap(),
            IString::try_from("to").unwrap(),
        ]
    };
    match b % 7 {
        0 => None,
        1 => Some(SectionText::Header),
        2 => Some(SectionText::Text),
        3 => Some(SectionText::Mime),
        4 => Some(SectionText::HeaderFields(names())),
        5 => Some(SectionText::HeaderFieldsNot(names())),
        _ => Some(SectionText::HeaderFields(Vec::new())),
    }
}

fn check_section(
    m: &Message,
    part: &[NonZeroU32],
    text: Option<SectionText<'static>>,
    partial: Option<Partial>,
) {
    let section = Section {
        part: part.to_vec(),
        text,
    };
    let whole = m.section(&section, None);
    let cut = m.section(&section, partial);
    assert_eq!(whole.is_some(), cut.is_some());
    if let (Some(w), Some(c), Some(p)) = (whole, cut, partial) {
        let start = (p.origin as usize).min(w.len());
        let end = start.saturating_add(p.length.get() as usize).min(w.len());
        assert_eq!(&w[start..end], &c[..]);
    }
    let attr = FetchAttr::BodySection {
        peek: true,
        section,
        partial,
    };
    let _ = m.fetch(&attr);
    let _ = m.fetch(&FetchAttr::Binary {
        peek: true,
        part: part.to_vec(),
        partial,
    });
    let _ = m.fetch(&FetchAttr::BinarySize(part.to_vec()));
}

fuzz_target!(|data: &[u8]| {
    let (ctl, raw) = data.split_at(data.len().min(16));
    let mut options = Options::default();
    options.limits.max_depth = 20;
    options.limits.max_parts = 200;
    options.limits.max_header_size = 4096;
    let m = Message::parse_with(Bytes::copy_from_slice(raw), options);

    // The structures round-trip through the codec.
    let items: Vec<FetchItem<'_>> = [
        FetchAttr::Envelope,
        FetchAttr::BodyStructure,
        FetchAttr::Body,
        FetchAttr::Preview { lazy: false },
    ]
    .iter()
    .map(|a| m.fetch(a).unwrap().unwrap())
    .collect();
    let r = Response::Data(Data::Fetch {
        seq: NonZeroU32::MIN,
        items: items.clone(),
    });
    let bytes = encode::response_to_vec(&r);
    let (back, n) = parse::response(&bytes).unwrap();
    assert_eq!(n, bytes.len());
    let Response::Data(Data::Fetch { items: back, .. }) = back else {
        panic!("not a FETCH")
    };
    assert_eq!(back, items);
    assert!(m.preview().chars().count() <= mailwire_imap::kit::PREVIEW_CHARS);
    for a in [
        FetchAttr::Rfc822,
        FetchAttr::Rfc822Header,
        FetchAttr::Rfc822Text,
        FetchAttr::Rfc822Size,
    ] {
        assert!(m.fetch(&a).unwrap().is_some());
    }

    // A range from the control bytes.
    let partial = match ctl {
        [a, b, c, ..] if a & 1 == 1 => NonZeroU32::new(u32::from(*c) + 1).map(|length| Partial {
            origin: u32::from(*b) * 3,
            length,
        }),
        _ => None,
    };
    // Every part the tree has, with every section kind.
    for p in m.parts() {
        let path: Vec<NonZeroU32> = p
            .section
            .iter()
            .filter_map(|&n| NonZeroU32::new(n))
            .collect();
        for t in 0..7 {
            check_section(&m, &path, text(t), partial);
        }
    }
    // Paths from the control bytes (existing or not).
    for chunk in ctl.chunks(4) {
        let path: Vec<NonZeroU32> = chunk[1..]
            .iter()
            .take_while(|&&b| b != 0)
            .filter_map(|&b| NonZeroU32::new(u32::from(b % 6)))
            .collect();
        check_section(&m, &path, text(chunk[0]), partial);
    }
});

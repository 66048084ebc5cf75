//! Differential test: the IMAP server kit (`mailwire::imap::kit`) against
//! Dovecot's FETCH output (../shared/PEERS.md), for every message of
//! ../shared/corpus/mime.
//!
//! Every message (bare LF made CRLF, as a server stores it) is APPENDed to
//! a scratch Dovecot mailbox in one `doveadm exec imap` session; a second
//! session FETCHes, per message, ENVELOPE, BODYSTRUCTURE, BODY, and
//! BODY[section] for every section the message has: `[]`, `HEADER`,
//! `TEXT`, `HEADER.FIELDS`, `HEADER.FIELDS.NOT`, every part number, its
//! `MIME` header, and `HEADER`/`TEXT` of each message/rfc822 part; plus
//! `BINARY.SIZE` of every part. Both sides are parsed into the codec's
//! typed [`FetchItem`]s and compared item by item.
//!
//! Every difference left is listed in [`KNOWN`] with its reason, keyed by
//! file and item: a difference not listed fails the test, and so does a
//! listed one that no longer occurs.
//!
//! `#[ignore]`d: run with `cargo test --release -p mailwire --test interop_imap_kit -- --ignored --test-threads=1`
//! after `bash .ci/install-peers`. A missing Dovecot (or corpus) skips
//! the test, or fails it when `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;

use common::dovecot::Dovecot;
use mailwire::imap::kit::Message;
use mailwire::imap::{
    BodyStructure, Code, Data, FetchAttr, FetchItem, FragmentOptions, Fragmenter, Frame, IString,
    Response, Section, SectionText, SpecificFields, parse,
};

// Why the differences that remain are there.
const SUBTREE: &str = "BINARY of a multipart or message/rfc822 part: Dovecot decodes every part \
inside it (rewriting their Content-Transfer-Encoding), the kit returns the part's content with \
only its own (identity) encoding removed, as RFC 3516 §4.2 says";
const PARSE: &str = "invalid base64 or quoted-printable somewhere in the message: Dovecot refuses \
BINARY for every part of it (NO [PARSE]), the kit decodes leniently, part by part";
const UNKNOWN_ELSEWHERE: &str = "an encoding Dovecot does not know (x-uuencode, 6bit, ...) \
somewhere in the message: Dovecot refuses BINARY for every part of it (NO [UNKNOWN-CTE]), the kit \
answers part by part and decodes x-uuencode";
const BASE64: &str = "base64 with broken lines: Dovecot stops decoding at the first one, the kit \
skips the bad characters and decodes on (as Python's email package does)";
const WRAPPED: &str = "Dovecot reports a negative size wrapped to 64 bits \
(18446744073709547891), which the codec rightly refuses to parse";
const STORED: &str = "Dovecot changed the message when storing it (the kit answers from what \
Dovecot stored): binary parts of a literal8 APPEND become base64 (005), a final bare CR is \
dropped (049)";
const PREFIX: &str = "nested boundaries that are prefixes of one another: Dovecot takes any line \
that starts with `--boundary` as a delimiter, mailwire-mime only the boundary followed by white \
space (RFC 2046 §5.1.1), so the parts are cut differently";
const NO_SEMICOLON: &str = "`Content-Type: multipart/mixed` then `boundary=` without `;`: Dovecot \
finds the field invalid and the message not multipart, mailwire-mime still reads the boundary";
const GARBLED: &str = "a garbled copy of a message (broken header lines, a delimiter in the wrong \
case): the two MIME parsers cut the parts differently";
const NOT_A_MESSAGE: &str = "a message/rfc822 part that holds one line of text: Dovecot reads the \
line as the inner message's header, mailwire-mime as its body";
const CONTINUATION: &str = "an encapsulated message that starts with a continuation line (a \
Received field cut off): Dovecot keeps reading the header, mailwire-mime ends it there";
const ENCODED_MESSAGE: &str = "a base64-encoded message/rfc822 (RFC 2046 §5.2.1 forbids it): the \
kit decodes and parses the inner message, Dovecot reads the base64 text as its header";

/// Differences that remain, with their reasons: (file under
/// corpus/mime, item as requested, reason).
const KNOWN: &[(&str, &str, &str)] = &[
    ("dovecot-malformed/004.eml", "BINARY.SIZE[1]", PREFIX),
    ("dovecot-malformed/004.eml", "BODY", PREFIX),
    ("dovecot-malformed/004.eml", "BODYSTRUCTURE", PREFIX),
    ("dovecot-malformed/004.eml", "BODY[1.MIME]", PREFIX),
    ("dovecot-malformed/004.eml", "BODY[1]", PREFIX),
    ("dovecot-malformed/007.eml", "BINARY.SIZE[1]", PREFIX),
    ("dovecot-malformed/007.eml", "BODY", PREFIX),
    ("dovecot-malformed/007.eml", "BODYSTRUCTURE", PREFIX),
    ("dovecot-malformed/007.eml", "BODY[1.MIME]", PREFIX),
    ("dovecot-malformed/007.eml", "BODY[1]", PREFIX),
    ("dovecot-malformed/016.eml", "BINARY.SIZE[1.1]", PREFIX),
    ("dovecot-malformed/016.eml", "BINARY.SIZE[1]", PREFIX),
    ("dovecot-malformed/016.eml", "BINARY.SIZE[2]", PREFIX),
    ("dovecot-malformed/016.eml", "BODY", PREFIX),
    ("dovecot-malformed/016.eml", "BODYSTRUCTURE", PREFIX),
    ("dovecot-malformed/016.eml", "BODY[1.1]", PREFIX),
    ("dovecot-malformed/016.eml", "BODY[1]", PREFIX),
    ("dovecot-malformed/016.eml", "BODY[2.MIME]", PREFIX),
    ("dovecot-malformed/016.eml", "BODY[2]", PREFIX),
    ("dovecot-malformed/017.eml", "BINARY.SIZE[1]", NO_SEMICOLON),
    ("dovecot-malformed/017.eml", "BODY", NO_SEMICOLON),
    ("dovecot-malformed/017.eml", "BODYSTRUCTURE", NO_SEMICOLON),
    ("dovecot-malformed/017.eml", "BODY[1.MIME]", NO_SEMICOLON),
    ("dovecot-malformed/017.eml", "BODY[1]", NO_SEMICOLON),
    ("dovecot-malformed/018.eml", "BINARY.SIZE[1]", PARSE),
    ("dovecot-malformed/019.eml", "BINARY.SIZE[4]", GARBLED),
    ("dovecot-malformed/019.eml", "BINARY.SIZE[5]", GARBLED),
    ("dovecot-malformed/019.eml", "BINARY.SIZE[6]", GARBLED),
    ("dovecot-malformed/019.eml", "BINARY.SIZE[7]", GARBLED),
    ("dovecot-malformed/019.eml", "BINARY.SIZE[8]", GARBLED),
    ("dovecot-malformed/019.eml", "BINARY.SIZE[9]", GARBLED),
    ("dovecot-malformed/019.eml", "BODY", GARBLED),
    ("dovecot-malformed/019.eml", "BODYSTRUCTURE", GARBLED),
    ("dovecot-malformed/019.eml", "BODY[4.MIME]", GARBLED),
    ("dovecot-malformed/019.eml", "BODY[4]", GARBLED),
    ("dovecot-malformed/019.eml", "BODY[5.MIME]", GARBLED),
    ("dovecot-malformed/019.eml", "BODY[5]", GARBLED),
    ("dovecot-malformed/019.eml", "BODY[6.MIME]", GARBLED),
    ("dovecot-malformed/019.eml", "BODY[6]", GARBLED),
    ("dovecot-malformed/019.eml", "BODY[7]", GARBLED),
    ("dovecot-malformed/019.eml", "BODY[8]", GARBLED),
    ("dovecot-malformed/019.eml", "BODY[9]", GARBLED),
    ("dovecot-malformed/020.eml", "BINARY.SIZE[1]", SUBTREE),
    (
        "dovecot-malformed/022.eml",
        "BINARY.SIZE[2.1]",
        NOT_A_MESSAGE,
    ),
    ("dovecot-malformed/022.eml", "BINARY.SIZE[2]", NOT_A_MESSAGE),
    ("dovecot-malformed/022.eml", "BODY", NOT_A_MESSAGE),
    ("dovecot-malformed/022.eml", "BODYSTRUCTURE", NOT_A_MESSAGE),
    ("dovecot-malformed/022.eml", "BODY[2.1.MIME]", NOT_A_MESSAGE),
    ("dovecot-malformed/022.eml", "BODY[2.1]", NOT_A_MESSAGE),
    ("dovecot-malformed/022.eml", "BODY[2.HEADER]", NOT_A_MESSAGE),
    ("dovecot-malformed/022.eml", "BODY[2.TEXT]", NOT_A_MESSAGE),
    ("dovecot-malformed/022.eml", "BODY[2]", NOT_A_MESSAGE),
    ("dovecot-samples/002.eml", "BINARY.SIZE[1]", PARSE),
    ("dovecot-samples/002.eml", "BINARY.SIZE[2]", PARSE),
    ("dovecot-samples/002.eml", "BINARY.SIZE[3]", PARSE),
    (
        "dovecot-samples/004.eml",
        "BINARY.SIZE[6]",
        UNKNOWN_ELSEWHERE,
    ),
    ("dovecot-samples/005.eml", "stored", STORED),
    ("dovecot-samples/011.eml", "BINARY.SIZE[2]", SUBTREE),
    ("dovecot-samples/015.eml", "BINARY.SIZE[4.1]", CONTINUATION),
    ("dovecot-samples/015.eml", "BODY", CONTINUATION),
    ("dovecot-samples/015.eml", "BODYSTRUCTURE", CONTINUATION),
    ("dovecot-samples/015.eml", "BODY[4.1.MIME]", CONTINUATION),
    ("dovecot-samples/015.eml", "BODY[4.1]", CONTINUATION),
    ("dovecot-samples/015.eml", "BODY[4.HEADER]", CONTINUATION),
    ("dovecot-samples/015.eml", "BODY[4.TEXT]", CONTINUATION),
    ("dovecot-samples/016.eml", "BINARY.SIZE[1]", PARSE),
    ("dovecot-samples/016.eml", "BINARY.SIZE[2]", PARSE),
    ("dovecot-samples/017.eml", "BINARY.SIZE[1]", PARSE),
    ("dovecot-samples/017.eml", "BINARY.SIZE[2.1]", PARSE),
    ("dovecot-samples/017.eml", "BINARY.SIZE[2.2]", PARSE),
    ("dovecot-samples/017.eml", "BINARY.SIZE[2]", PARSE),
    ("dovecot-samples/018.eml", "BINARY.SIZE[1.1]", PARSE),
    ("dovecot-samples/018.eml", "BINARY.SIZE[1.2]", PARSE),
    ("dovecot-samples/018.eml", "BINARY.SIZE[1]", PARSE),
    ("dovecot-samples/018.eml", "BINARY.SIZE[2]", PARSE),
    ("dovecot-samples/019.eml", "BINARY.SIZE[1.1]", PARSE),
    ("dovecot-samples/019.eml", "BINARY.SIZE[1.2.1]", PARSE),
    ("dovecot-samples/019.eml", "BINARY.SIZE[1.2.2]", PARSE),
    ("dovecot-samples/019.eml", "BINARY.SIZE[1.2]", PARSE),
    ("dovecot-samples/019.eml", "BINARY.SIZE[1]", PARSE),
    ("dovecot-samples/019.eml", "BINARY.SIZE[2]", PARSE),
    ("hunny-samples/015.eml", "BINARY.SIZE[1.1]", SUBTREE),
    ("hunny-samples/015.eml", "BINARY.SIZE[1]", SUBTREE),
    ("hunny-samples/017.eml", "BINARY.SIZE[1]", UNKNOWN_ELSEWHERE),
    ("hunny-samples/017.eml", "BINARY.SIZE[2]", UNKNOWN_ELSEWHERE),
    ("hunny-samples/017.eml", "BINARY.SIZE[3]", UNKNOWN_ELSEWHERE),
    ("hunny-samples/018.eml", "BINARY.SIZE[1]", SUBTREE),
    ("hunny-samples/019.eml", "BINARY.SIZE[1]", SUBTREE),
    ("hunny-samples/021.eml", "BINARY.SIZE[1.1]", SUBTREE),
    ("hunny-samples/021.eml", "BINARY.SIZE[1]", SUBTREE),
    ("hunny-samples/025.eml", "BINARY.SIZE[1]", SUBTREE),
    ("hunny-samples/026.eml", "BINARY.SIZE[1]", UNKNOWN_ELSEWHERE),
    ("hunny-samples/026.eml", "BINARY.SIZE[2]", UNKNOWN_ELSEWHERE),
    ("hunny-samples/026.eml", "BINARY.SIZE[3]", UNKNOWN_ELSEWHERE),
    ("hunny-samples/028.eml", "BINARY.SIZE[1]", SUBTREE),
    ("hunny-samples/032.eml", "BINARY.SIZE[1]", SUBTREE),
    ("hunny-samples/035.eml", "BINARY.SIZE[1.2]", SUBTREE),
    ("hunny-samples/035.eml", "BINARY.SIZE[1]", SUBTREE),
    ("hunny-samples/039.eml", "BINARY.SIZE[1]", SUBTREE),
    ("hunny-samples/048.eml", "BINARY.SIZE[1]", UNKNOWN_ELSEWHERE),
    ("hunny-samples/048.eml", "BINARY.SIZE[2]", UNKNOWN_ELSEWHERE),
    ("hunny-samples/048.eml", "BINARY.SIZE[3]", UNKNOWN_ELSEWHERE),
    ("hunny-samples/048.eml", "BINARY.SIZE[4]", UNKNOWN_ELSEWHERE),
    ("hunny-samples/051.eml", "BINARY.SIZE[1]", SUBTREE),
    ("mimekit-messages/bounce.txt", "BINARY.SIZE[3.1]", BASE64),
    ("mimekit-messages/bounce.txt", "BINARY.SIZE[3]", SUBTREE),
    ("mimekit-messages/startrek.eml", "BINARY.SIZE[1.2]", BASE64),
    ("mimekit-messages/startrek.eml", "BINARY.SIZE[1]", SUBTREE),
    ("mimekit-messages/startrek.eml", "BINARY.SIZE[2.1]", BASE64),
    ("mimekit-messages/startrek.eml", "BINARY.SIZE[2.4]", WRAPPED),
    ("mimekit-messages/startrek.eml", "BINARY.SIZE[2]", SUBTREE),
    ("mimekit-partial/rfc2046.eml", "BINARY.SIZE[1]", PARSE),
    ("rfc-examples/000.eml", "BINARY.SIZE[1]", PARSE),
    ("rfc-examples/000.eml", "BINARY.SIZE[2]", PARSE),
    ("rfc-examples/000.eml", "BINARY.SIZE[3.1]", PARSE),
    ("rfc-examples/000.eml", "BINARY.SIZE[3.2]", PARSE),
    ("rfc-examples/000.eml", "BINARY.SIZE[3]", PARSE),
    ("rfc-examples/000.eml", "BINARY.SIZE[4]", PARSE),
    ("rfc-examples/000.eml", "BINARY.SIZE[5.1]", PARSE),
    ("rfc-examples/000.eml", "BINARY.SIZE[5]", PARSE),
    ("rfc-examples/002.eml", "BINARY.SIZE[2]", SUBTREE),
    ("rfc-examples/008.eml", "BINARY.SIZE[2.1]", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BINARY.SIZE[2.2]", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BINARY.SIZE[2]", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BODY", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BODYSTRUCTURE", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BODY[2.1.MIME]", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BODY[2.1]", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BODY[2.2.MIME]", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BODY[2.2]", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BODY[2.HEADER]", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BODY[2.TEXT]", ENCODED_MESSAGE),
    ("rfc-examples/008.eml", "BODY[2]", ENCODED_MESSAGE),
];

fn nz(n: usize) -> NonZeroU32 {
    NonZeroU32::new(u32::try_from(n).unwrap()).unwrap()
}

fn section(part: &[NonZeroU32], text: Option<SectionText<'static>>) -> FetchAttr<'static> {
    FetchAttr::BodySection {
        peek: true,
        section: Section {
            part: part.to_vec(),
            text,
        },
        partial: None,
    }
}

/// The part numbers of a structure (RFC 3501 §6.4.5), in order.
fn part_numbers(b: &BodyStructure<'_>, path: &mut Vec<NonZeroU32>, out: &mut Vec<Vec<NonZeroU32>>) {
    match b {
        BodyStructure::Multi { bodies, .. } => {
            for (i, child) in bodies.iter().enumerate() {
                path.push(nz(i + 1));
                part(child, path, out);
                path.pop();
            }
        }
        BodyStructure::Single { .. } => {
            path.push(nz(1));
            part(b, path, out);
            path.pop();
        }
    }
}

fn part(b: &BodyStructure<'_>, path: &mut Vec<NonZeroU32>, out: &mut Vec<Vec<NonZeroU32>>) {
    match b {
        BodyStructure::Single {
            specific: SpecificFields::Message { body, .. },
            ..
        } => {
            out.push(path.clone());
            part_numbers(body, path, out);
        }
        BodyStructure::Single { .. } => out.push(path.clone()),
        BodyStructure::Multi { .. } => {
            out.push(path.clone());
            part_numbers(b, path, out);
        }
    }
}

/// What to FETCH for one message: the structure items and every section.
fn attrs(m: &Message) -> Vec<FetchAttr<'static>> {
    let names = |l: &[&'static str]| {
        l.iter()
            .map(|n| IString::try_from(*n).unwrap())
            .collect::<Vec<_>>()
    };
    let mut a = vec![
        FetchAttr::Envelope,
        FetchAttr::BodyStructure,
        FetchAttr::Body,
        FetchAttr::Rfc822Size,
        section(&[], None),
        section(&[], Some(SectionText::Header)),
        section(&[], Some(SectionText::Text)),
        section(
            &[],
            Some(SectionText::HeaderFields(names(&[
                "From",
                "subject",
                "TO",
                "Content-Type",
                "X-None",
            ]))),
        ),
        section(
            &[],
            Some(SectionText::HeaderFieldsNot(names(&[
                "received", "Subject",
            ]))),
        ),
    ];
    let mut parts = Vec::new();
    part_numbers(&m.body_structure(), &mut Vec::new(), &mut parts);
    for p in parts {
        a.push(section(&p, None));
        a.push(section(&p, Some(SectionText::Mime)));
        // HEADER and TEXT exist only for message/rfc822 parts; elsewhere
        // both sides answer the empty string.
        a.push(section(&p, Some(SectionText::Header)));
        a.push(section(&p, Some(SectionText::Text)));
        a.push(FetchAttr::BinarySize(p));
    }
    // A part that does not exist.
    a.push(section(&[nz(99)], None));
    a.push(FetchAttr::BinarySize(vec![nz(99)]));
    a
}

/// The item a FETCH attribute names in the reply, as a string key.
fn key(item: &FetchItem<'_>) -> String {
    let part = |p: &[NonZeroU32]| {
        p.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(".")
    };
    let list = |l: &[IString<'_>]| {
        l.iter()
            .map(|n| n.to_string_lossy().to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    match item {
        FetchItem::Envelope(_) => "ENVELOPE".into(),
        FetchItem::BodyStructure(_) => "BODYSTRUCTURE".into(),
        FetchItem::Body(_) => "BODY".into(),
        FetchItem::Rfc822Size(_) => "RFC822.SIZE".into(),
        FetchItem::BodySection { section, .. } => {
            let p = part(&section.part);
            let dot = if p.is_empty() { "" } else { "." };
            let t = match &section.text {
                None => String::new(),
                Some(SectionText::Header) => format!("{dot}HEADER"),
                Some(SectionText::Text) => format!("{dot}TEXT"),
                Some(SectionText::Mime) => format!("{dot}MIME"),
                Some(SectionText::HeaderFields(l)) => format!("{dot}HEADER.FIELDS ({})", list(l)),
                Some(SectionText::HeaderFieldsNot(l)) => {
                    format!("{dot}HEADER.FIELDS.NOT ({})", list(l))
                }
            };
            format!("BODY[{p}{t}]")
        }
        FetchItem::BinarySize { part: p, .. } => format!("BINARY.SIZE[{}]", part(p)),
        FetchItem::Binary { part: p, .. } => format!("BINARY[{}]", part(p)),
        other => format!("{other:?}"),
    }
}

/// Dovecot's output split into complete responses (literals included).
macro_rules! frames {
    ($out:expr) => {{
        let mut f = Fragmenter::new(FragmentOptions::default());
        f.push($out);
        let mut frames = Vec::new();
        loop {
            match f.poll() {
                Ok(Some(Frame::Message(msg))) => frames.push(msg),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => panic!("Dovecot's output does not frame: {e}"),
            }
        }
        frames
    }};
}

/// The FETCH response of each message (by sequence number), items by key.
fn dovecot_items<T: AsRef<[u8]>>(frames: &[T]) -> BTreeMap<u32, BTreeMap<String, FetchItem<'_>>> {
    let mut all: BTreeMap<u32, BTreeMap<String, FetchItem<'_>>> = BTreeMap::new();
    for msg in frames {
        match parse::response(msg.as_ref()) {
            Ok((Response::Data(Data::Fetch { seq, items }), _)) => {
                let entry = all.entry(seq.get()).or_default();
                for item in items {
                    entry.insert(key(&item), item);
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!(
                "Dovecot's response does not parse ({e}): {}",
                String::from_utf8_lossy(&msg.as_ref()[..msg.as_ref().len().min(300)])
            ),
        }
    }
    all
}

/// Whether Dovecot's item equals ours. Section data are compared by
/// origin and bytes (the section echo keeps the command's spelling).
fn same(ours: &FetchItem<'_>, theirs: Option<&FetchItem<'_>>) -> bool {
    match (ours, theirs) {
        (
            FetchItem::BodySection {
                origin: o1,
                data: d1,
                ..
            },
            Some(FetchItem::BodySection {
                origin: o2,
                data: d2,
                ..
            }),
        ) => o1 == o2 && d1 == d2,
        (a, Some(b)) => a == b,
        (_, None) => false,
    }
}

/// The atom of a response code (`UNKNOWN-CTE`).
fn code_name(code: Code<'_>) -> String {
    match code {
        Code::Simple(a) => a.as_str().to_owned(),
        other => format!("{other:?}"),
    }
}

/// What differs between the two values, shortly.
fn describe(ours: &FetchItem<'_>, theirs: Option<&FetchItem<'_>>) -> String {
    let Some(theirs) = theirs else {
        return "Dovecot did not return it".into();
    };
    match (ours, theirs) {
        (FetchItem::BodySection { data: a, .. }, FetchItem::BodySection { data: b, .. }) => {
            let a = a.as_ref().map(|s| s.as_bytes()).unwrap_or_default();
            let b = b.as_ref().map(|s| s.as_bytes()).unwrap_or_default();
            let at = a
                .iter()
                .zip(b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            format!(
                "kit {} octets, Dovecot {} octets, first difference at {at}: kit {:?} Dovecot {:?}",
                a.len(),
                b.len(),
                String::from_utf8_lossy(&a[at..a.len().min(at + 40)]),
                String::from_utf8_lossy(&b[at..b.len().min(at + 40)]),
            )
        }
        _ => {
            let enc = |i: &FetchItem<'_>| {
                let r = Response::Data(Data::Fetch {
                    seq: NonZeroU32::MIN,
                    items: vec![i.clone()],
                });
                String::from_utf8_lossy(&mailwire::imap::encode::response_to_vec(&r)).into_owned()
            };
            format!("\n  kit:     {}  Dovecot: {}", enc(ours), enc(theirs))
        }
    }
}

#[test]
#[ignore = "interop: needs Dovecot (bash .ci/install-peers)"]
fn kit_fetch_equals_dovecot_for_every_corpus_message() {
    let Some(messages) = common::corpus::mime_messages(false) else {
        return;
    };
    let Some(dovecot) = Dovecot::prepare() else {
        return;
    };

    // Store every message, in order: message n is sequence number n.
    let mut script = Vec::new();
    for (_, raw) in &messages {
        let binary = if raw.contains(&0) { "~" } else { "" };
        script
            .extend_from_slice(format!("a APPEND INBOX {binary}{{{}+}}\r\n", raw.len()).as_bytes());
        script.extend_from_slice(raw);
        script.extend_from_slice(b"\r\n");
    }
    // Read back what Dovecot stored: the kit answers from the same bytes.
    script.extend_from_slice(b"a SELECT INBOX\r\na FETCH 1:* (BODY.PEEK[])\r\na LOGOUT\r\n");
    let out = dovecot.exec_imap(&script);
    let appended = out.windows(15).filter(|w| w == b"a OK [APPENDUID").count();
    assert_eq!(
        appended,
        messages.len(),
        "APPEND failed: {}",
        String::from_utf8_lossy(&out)
    );
    let frames = frames!(&out);
    let stored = dovecot_items(&frames);
    let mut found: BTreeMap<(String, String), String> = BTreeMap::new();
    let kit: Vec<Message> = messages
        .iter()
        .enumerate()
        .map(|(i, (name, raw))| {
            let body = |items: &BTreeMap<u32, BTreeMap<String, FetchItem<'_>>>| match items
                .get(&u32::try_from(i + 1).unwrap())?
                .get("BODY[]")?
            {
                FetchItem::BodySection { data: Some(d), .. } => Some(d.as_bytes().to_vec()),
                _ => None,
            };
            let data = body(&stored).unwrap_or_else(|| {
                // Rarely a reply is missing from a long FETCH 1:*: ask again.
                let again = dovecot.exec_imap(
                    format!(
                        "a SELECT INBOX\r\na FETCH {} (BODY.PEEK[])\r\na LOGOUT\r\n",
                        i + 1
                    )
                    .as_bytes(),
                );
                let frames = frames!(&again);
                body(&dovecot_items(&frames)).unwrap_or_else(|| {
                    panic!(
                        "Dovecot did not return {name}: {}",
                        String::from_utf8_lossy(&again)
                    )
                })
            });
            if data != *raw {
                // Dovecot changed the message when storing it: list it.
                let at = data
                    .iter()
                    .zip(raw)
                    .position(|(a, b)| a != b)
                    .unwrap_or(data.len().min(raw.len()));
                found.insert(
                    (name.clone(), "stored".into()),
                    format!(
                        "APPENDed {} octets, stored {} octets, first difference at {at}",
                        raw.len(),
                        data.len()
                    ),
                );
            }
            Message::parse(data)
        })
        .collect();

    let mut script = b"a SELECT INBOX\r\n".to_vec();
    let mut wanted = Vec::new();
    // BINARY.SIZE one by one, each with its own tag: Dovecot refuses some
    // with a tagged NO (as the kit does for an unknown encoding).
    let mut size_tags = Vec::new();
    let fetch = |tag: &str, seq: usize, attrs: Vec<FetchAttr<'static>>| {
        mailwire::imap::encode::command_to_vec(&mailwire::imap::Command {
            tag: tag.try_into().unwrap(),
            body: mailwire::imap::CommandBody::Fetch {
                uid: false,
                set: mailwire::imap::SequenceSet::single(u32::try_from(seq).unwrap()).unwrap(),
                attrs: mailwire::imap::FetchAttrs::List(attrs),
                modifiers: Vec::new(),
            },
        })
    };
    for (i, m) in kit.iter().enumerate() {
        let (sizes, attrs): (Vec<_>, Vec<_>) = attrs(m)
            .into_iter()
            .partition(|a| matches!(a, FetchAttr::BinarySize(_)));
        script.extend_from_slice(&fetch("a", i + 1, attrs.clone()));
        for (j, a) in sizes.into_iter().enumerate() {
            let tag = format!("s{i}x{j}");
            script.extend_from_slice(&fetch(&tag, i + 1, vec![a.clone()]));
            size_tags.push((i, tag, a));
        }
        wanted.push(attrs);
    }
    script.extend_from_slice(b"a LOGOUT\r\n");
    let out = dovecot.exec_imap(&script);
    if let Ok(path) = std::env::var("KIT_DOVECOT_OUT") {
        std::fs::write(path, &out).unwrap();
    }
    let frames = frames!(&out);
    let theirs = dovecot_items(&frames);

    let mut compared = 0usize;
    for (i, ((name, _), m)) in messages.iter().zip(&kit).enumerate() {
        let empty = BTreeMap::new();
        let seq = u32::try_from(i + 1).unwrap();
        let mut theirs = theirs.get(&seq).unwrap_or(&empty);
        let (again, again_frames, again_items);
        let missing = wanted[i]
            .iter()
            .any(|a| !theirs.contains_key(&key(&m.fetch(a).unwrap().unwrap())));
        if missing {
            // Rarely a reply is missing from the long session: ask again,
            // for this message alone.
            eprintln!("{name}: FETCH again");
            again = dovecot.exec_imap(
                &[
                    &b"a SELECT INBOX\r\n"[..],
                    &fetch("a", i + 1, wanted[i].clone()),
                    b"a LOGOUT\r\n",
                ]
                .concat(),
            );
            again_frames = frames!(&again);
            again_items = dovecot_items(&again_frames);
            theirs = again_items.get(&seq).unwrap_or(&empty);
        }
        for attr in &wanted[i] {
            let ours = m.fetch(attr).unwrap().unwrap();
            let k = key(&ours);
            let t = theirs.get(&k);
            compared += 1;
            if !same(&ours, t) {
                found.insert((name.clone(), k), describe(&ours, t));
            }
        }
    }
    let text = String::from_utf8_lossy(&out);
    for (i, tag, attr) in &size_tags {
        compared += 1;
        let status = text
            .split("\r\n")
            .find_map(|l| l.strip_prefix(&format!("{tag} ")))
            .unwrap_or("(no tagged reply)");
        let theirs = theirs.get(&u32::try_from(i + 1).unwrap());
        let diff = match kit[*i].fetch(attr) {
            Ok(Some(ours)) => {
                let t = theirs.and_then(|t| t.get(&key(&ours)));
                (!same(&ours, t)).then(|| match t {
                    Some(_) => describe(&ours, t),
                    None => format!("kit {ours:?}, Dovecot {status}"),
                })
            }
            Ok(None) => Some("kit: no answer".to_owned()),
            Err(e) => (!status.starts_with(&format!("NO [{}]", code_name(e.code()))))
                .then(|| format!("kit NO [{}], Dovecot {status}", code_name(e.code()))),
        };
        if let Some(d) = diff {
            let FetchAttr::BinarySize(p) = attr else {
                unreachable!()
            };
            let d = match kit[*i].section_part(p) {
                Some(part) => format!("[{:?} {:?}] {d}", part.kind, part.mime.transfer_encoding),
                None => d,
            };
            let k = key(&FetchItem::BinarySize {
                part: p.clone(),
                size: 0,
            });
            found.insert((messages[*i].0.clone(), k), d);
        }
    }

    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(f, k, _)| ((*f).to_owned(), (*k).to_owned()))
        .collect();
    let new: Vec<String> = found
        .iter()
        .filter(|(k, _)| !known.contains(*k))
        .map(|((f, k), d)| format!("{f} {k}: {d}"))
        .collect();
    let stale: Vec<&(String, String)> = known.iter().filter(|k| !found.contains_key(*k)).collect();
    eprintln!(
        "{} messages, {compared} items compared, {} known differences",
        messages.len(),
        found.len() - new.len()
    );
    assert!(
        new.is_empty() && stale.is_empty(),
        "{} new differences:\n{}\nlisted differences that no longer occur: {stale:?}",
        new.len(),
        new.join("\n")
    );
}

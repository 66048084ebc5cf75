//! Header parsing: every header field of every corpus message into
//! structured values, mailwire-message beside mail-parser 0.11 and
//! mailparse 0.18, on identical input in one benchmark group.
//!
//! Input: every message file under `../shared/corpus/mime/` (`*.eml` and
//! `*.txt`, without the bare bodies `body.N.txt`, the RFC texts and the
//! encoder fixtures). Each library gets the whole message; each stops at
//! the end of the header section. Throughput counts header-section bytes
//! (up to and including the blank line), the same figure for all three.
//!
//! What each library does per message, so the work is equivalent:
//!
//! - **mailwire**: `Message::parse` (split and unfold-free field slicing),
//!   then `parse_field` on every field: addresses (From, To, Cc, Bcc,
//!   Reply-To, Sender, Resent-*) into mailboxes with decoded display names;
//!   Date/Resent-Date into a date-time; Message-ID/In-Reply-To/References/
//!   Content-ID/Resent-Message-ID into ids; Return-Path into a path;
//!   Received into tokens and date; List-* into URLs; Keywords and
//!   Content-Language into lists; Subject, Comments, Content-Description,
//!   Content-Location and Content-Transfer-Encoding RFC 2047-decoded; any
//!   other field as raw text.
//! - **mail-parser 0.11**: `MessageParser::new().parse_headers(..)`, whose
//!   defaults parse exactly those fields with its structured parsers
//!   (addresses, dates, ids, Received, List-* as addresses, Keywords as a
//!   list, unstructured text decoded, others raw). Content-Type and
//!   Content-Disposition are switched to raw (`header_raw`), since
//!   mailwire-message leaves MIME parameters to mailwire-mime.
//! - **mailparse 0.18**: `parse_headers`, then per field: `addrparse_header`
//!   for address fields, `dateparse` of the value for Date/Resent-Date and
//!   of the part after the last `;` for Received, `msgidparse` for id
//!   fields, `get_value` (RFC 2047 decoding) for the unstructured fields,
//!   `get_value_raw` for the rest (mailparse has no Received, List-* or
//!   Keywords parser).
//!
//! Each then touches every value (a checksum over address, id and text
//! lengths and timestamps) so nothing is optimised away.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mail_parser::{HeaderName, HeaderValue, MessageParser};
use mailwire_benches::fixtures::{header_bytes, header_corpus, mailwire_headers};

fn mail_parser_all(parser: &MessageParser, msgs: &[Vec<u8>]) -> u64 {
    let mut sum = 0u64;
    for m in msgs {
        let Some(msg) = parser.parse_headers(m) else {
            continue;
        };
        for h in msg.headers() {
            sum += match &h.value {
                HeaderValue::Text(t) => t.len() as u64,
                HeaderValue::TextList(l) => l.iter().map(|t| t.len() as u64).sum(),
                HeaderValue::Address(a) => a
                    .iter()
                    .map(|x| {
                        x.address.as_ref().map_or(0, |s| s.len() as u64)
                            + x.name.as_ref().map_or(0, |n| n.len() as u64)
                    })
                    .sum(),
                HeaderValue::DateTime(d) => d.to_timestamp() as u64,
                HeaderValue::Received(r) => r.date.map_or(0, |d| d.to_timestamp() as u64) + 1,
                HeaderValue::ContentType(c) => c.c_type.len() as u64,
                HeaderValue::Empty => 0,
            };
        }
    }
    sum
}

fn mailparse_all(msgs: &[Vec<u8>]) -> u64 {
    let mut sum = 0u64;
    for m in msgs {
        let Ok((headers, _)) = mailparse::parse_headers(m) else {
            continue;
        };
        for h in &headers {
            let key = h.get_key_ref();
            let k = key.to_ascii_lowercase();
            sum += match k.as_str() {
                "from" | "to" | "cc" | "bcc" | "reply-to" | "sender" | "resent-from"
                | "resent-to" | "resent-cc" | "resent-bcc" | "resent-sender" | "return-path" => {
                    match mailparse::addrparse_header(h) {
                        Ok(list) => list
                            .iter()
                            .map(|a| match a {
                                mailparse::MailAddr::Single(s) => {
                                    s.addr.len() as u64
                                        + s.display_name.as_ref().map_or(0, |n| n.len() as u64)
                                }
                                mailparse::MailAddr::Group(g) => {
                                    g.addrs.iter().map(|s| s.addr.len() as u64).sum()
                                }
                            })
                            .sum(),
                        Err(_) => 0,
                    }
                }
                "date" | "resent-date" => {
                    mailparse::dateparse(&h.get_value()).map_or(0, |t| t as u64)
                }
                "received" => {
                    let v = h.get_value();
                    match v.rfind(';') {
                        Some(i) => mailparse::dateparse(&v[i + 1..]).map_or(0, |t| t as u64),
                        None => 0,
                    }
                }
                "message-id" | "in-reply-to" | "references" | "content-id"
                | "resent-message-id" => match mailparse::msgidparse(&h.get_value()) {
                    Ok(ids) => ids.iter().map(|i| i.len() as u64).sum(),
                    Err(_) => 0,
                },
                "subject"
                | "comments"
                | "content-description"
                | "content-location"
                | "content-transfer-encoding"
                | "keywords" => h.get_value().len() as u64,
                _ => h.get_value_raw().len() as u64,
            };
        }
    }
    sum
}

fn bench(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/mime");
    let msgs = header_corpus(dir.as_ref());
    if msgs.is_empty() {
        eprintln!("message_headers: corpus missing, nothing to measure");
        return;
    }
    let header_bytes = header_bytes(&msgs);
    eprintln!(
        "message_headers: {} messages, {} header bytes",
        msgs.len(),
        header_bytes
    );
    let parser = MessageParser::new()
        .header_raw(HeaderName::ContentType)
        .header_raw(HeaderName::ContentDisposition);
    let mut g = c.benchmark_group("message_headers");
    g.throughput(Throughput::Bytes(header_bytes as u64));
    g.bench_function("mailwire", |b| {
        b.iter(|| black_box(mailwire_headers(black_box(&msgs))))
    });
    g.bench_function("mail-parser", |b| {
        b.iter(|| black_box(mail_parser_all(&parser, black_box(&msgs))))
    });
    g.bench_function("mailparse", |b| {
        b.iter(|| black_box(mailparse_all(black_box(&msgs))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Downgrading a message to 7 bit (RFC 6152 §3, RFC 2045 §6), for relaying
//! to a server without 8BITMIME.
//!
//! Every leaf whose body is 8bit, binary, of an unknown encoding, or
//! declared 7bit but not 7-bit clean is re-encoded: quoted-printable for
//! `text/*`, base64 otherwise. Its Content-Transfer-Encoding field is
//! replaced; a multipart or message/rfc822 entity declared 8bit or binary
//! is relabelled 7bit (its parts now are). Every other byte is copied as
//! it is: the structure, the boundaries, the header fields and the order of
//! everything stay the same. Header fields holding raw UTF-8 (RFC 6532)
//! cannot be downgraded here and are left as they are ([`Downgraded::headers_8bit`]).
//!
//! ```
//! use mailwire_mime::downgrade::downgrade_7bit;
//! let raw = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCafé\r\n";
//! let out = downgrade_7bit(raw.as_bytes());
//! assert!(out.bytes.is_ascii());
//! let msg = mailwire_mime::Message::parse(&out.bytes);
//! assert_eq!(msg.text(msg.root()).unwrap().0, "Café\r\n");
//! ```

use std::borrow::Cow;

use crate::encoding::{self, ContentStats, TransferEncoding};
use crate::stream::PartKind;
use crate::tree::Message;

/// The result of [`downgrade_7bit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downgraded<'a> {
    /// The message in 7 bit (borrowed when nothing had to change).
    pub bytes: Cow<'a, [u8]>,
    /// How many leaves were re-encoded.
    pub reencoded: usize,
    /// Whether some header block still holds octets over 127.
    pub headers_8bit: bool,
}

fn is_7bit_clean(data: &[u8]) -> bool {
    let s = ContentStats::of(data);
    s.high == 0
        && s.longest_line <= 998
        && !data.contains(&0)
        && !data
            .windows(2)
            .any(|w| (w[0] == b'\r') != (w[1] == b'\n') && (w[0] == b'\r'))
}

/// Writes `header` with its Content-Transfer-Encoding field(s) replaced by
/// one with `te` (or removed for 7bit), keeping the blank line at the end.
fn rewrite_header(header: &[u8], te: TransferEncoding, out: &mut Vec<u8>) {
    // Split off the blank line.
    let (fields_part, blank): (&[u8], &[u8]) = if header.ends_with(b"\r\n\r\n") {
        (&header[..header.len() - 2], b"\r\n")
    } else if header.ends_with(b"\n\n") {
        (&header[..header.len() - 1], b"\n")
    } else {
        (header, b"\r\n")
    };
    let mut i = 0;
    while i < fields_part.len() {
        // One field: up to a line end not followed by WSP.
        let mut end = i;
        loop {
            match memchr::memchr(b'\n', &fields_part[end..]) {
                Some(p) => {
                    end += p + 1;
                    if matches!(fields_part.get(end), Some(b' ' | b'\t')) {
                        continue;
                    }
                }
                None => end = fields_part.len(),
            }
            break;
        }
        let field = &fields_part[i..end];
        let is_cte = field.len() > 26
            && field[..25].eq_ignore_ascii_case(b"content-transfer-encoding")
            && field[25..].trim_ascii_start().first() == Some(&b':');
        if !is_cte {
            out.extend_from_slice(field);
            if !field.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
        i = end;
    }
    if te != TransferEncoding::SevenBit {
        out.extend_from_slice(b"Content-Transfer-Encoding: ");
        out.extend_from_slice(te.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(blank);
}

/// A line of quoted-printable output that starts with `--` could be read as
/// a boundary delimiter: encode its first `-`.
fn guard_dashes(qp: Vec<u8>) -> Vec<u8> {
    if mailwire_line::find_dash_line(&qp).is_none() && !qp.starts_with(b"--") {
        return qp;
    }
    let mut out = Vec::with_capacity(qp.len() + 16);
    let mut line_start = true;
    for &b in &qp {
        if line_start && b == b'-' {
            out.extend_from_slice(b"=2D");
        } else {
            out.push(b);
        }
        line_start = b == b'\n';
    }
    out
}

/// Downgrades `input` to 7 bit, keeping its structure.
pub fn downgrade_7bit(input: &[u8]) -> Downgraded<'_> {
    let msg = Message::parse(input);
    // (start, end, replacement) in the input, in order.
    let mut edits: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    let mut reencoded = 0;
    let mut headers_8bit = false;
    for p in msg.parts() {
        if p.stream != 0 {
            continue; // inside an encoded message: already 7 bit
        }
        let header = msg.header_bytes(p);
        if header.iter().any(|&b| b >= 0x80) {
            headers_8bit = true;
        }
        let te = p.mime.transfer_encoding;
        match p.kind {
            PartKind::Leaf => {
                let body = msg.raw_body(p);
                let needs = match te {
                    TransferEncoding::Base64
                    | TransferEncoding::QuotedPrintable
                    | TransferEncoding::UuEncode => false,
                    TransferEncoding::SevenBit => !is_7bit_clean(body),
                    _ => true,
                };
                if !needs {
                    continue;
                }
                let text = p.mime.content_type.ty() == "text";
                let new_te = if text {
                    TransferEncoding::QuotedPrintable
                } else {
                    TransferEncoding::Base64
                };
                let mut rep = Vec::with_capacity(header.len() + body.len() * 4 / 3 + 64);
                rewrite_header(header, new_te, &mut rep);
                let mut enc = encoding::encode(new_te, body, text);
                if new_te == TransferEncoding::QuotedPrintable {
                    enc = guard_dashes(enc);
                }
                // base64 lines each end with CRLF; the line end before the
                // next delimiter belongs to the delimiter, so drop the last.
                if new_te == TransferEncoding::Base64 && enc.ends_with(b"\r\n") {
                    enc.truncate(enc.len() - 2);
                }
                rep.extend_from_slice(&enc);
                edits.push((p.header.start, p.body.end, rep));
                reencoded += 1;
            }
            PartKind::Multipart | PartKind::Message => {
                if matches!(te, TransferEncoding::EightBit | TransferEncoding::Binary) {
                    let mut rep = Vec::with_capacity(header.len());
                    rewrite_header(header, TransferEncoding::SevenBit, &mut rep);
                    edits.push((p.header.start, p.header.end, rep));
                }
            }
            PartKind::EncodedMessage => {}
        }
    }
    if edits.is_empty() {
        return Downgraded {
            bytes: Cow::Borrowed(input),
            reencoded,
            headers_8bit,
        };
    }
    // Parts are depth-first, so edits are in order and never overlap (a
    // leaf lies inside its parent's body, not its header).
    edits.sort_by_key(|e| e.0);
    let mut out = Vec::with_capacity(input.len() + input.len() / 3);
    let mut pos = 0;
    for (s, e, rep) in edits {
        if s < pos {
            continue;
        }
        out.extend_from_slice(&input[pos..s]);
        out.extend_from_slice(&rep);
        pos = e;
    }
    out.extend_from_slice(&input[pos..]);
    Downgraded {
        bytes: Cow::Owned(out),
        reencoded,
        headers_8bit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{MessageBuilder, PartBuilder};

    #[test]
    fn rfc6152_downgrade_keeps_structure() {
        let inner = b"Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n--not-a-boundary\r\n".to_vec();
        let raw = MessageBuilder::new()
            .text("Ünïcödé text\nwith lines\n")
            .attachment(
                PartBuilder::attachment(
                    "application/octet-stream",
                    "b.bin",
                    vec![0, 1, 2, 0xff, b'\n', b'\r'],
                )
                .encoding(TransferEncoding::Binary),
            )
            .forward(inner)
            .allow_8bit(true)
            .boundary_seed(9)
            .build();
        assert!(!raw.is_ascii());
        let before = Message::parse(&raw);
        let out = downgrade_7bit(&raw);
        assert!(out.bytes.is_ascii());
        assert_eq!(out.reencoded, 3);
        assert!(!out.headers_8bit);
        let after = Message::parse(&out.bytes);
        assert!(after.defects().is_empty(), "{:?}", after.defects());
        let shape = |m: &Message<'_>| -> Vec<(String, String, Vec<u8>)> {
            m.parts()
                .iter()
                .map(|p| {
                    (
                        p.section_string(),
                        p.mime.mime_type(),
                        if p.is_leaf() {
                            m.decoded(p).into_owned()
                        } else {
                            Vec::new()
                        },
                    )
                })
                .collect()
        };
        assert_eq!(shape(&before), shape(&after));
        for line in out.bytes.split(|&b| b == b'\n') {
            assert!(line.len() <= 78);
        }
        // Already 7 bit: borrowed, unchanged.
        let again = downgrade_7bit(&out.bytes);
        assert!(matches!(again.bytes, Cow::Borrowed(_)));
    }
}

//! message/partial (RFC 2046 §5.2.2) and message/external-body (RFC 2046
//! §5.2.3).
//!
//! [`split`] cuts a message into fragments of at most a given size, at line
//! boundaries (rule 1 of §5.2.2.1); [`reassemble`] merges the headers as
//! rules 2-4 say and joins the bodies. For a message whose header lists its
//! other fields before Content-*, Subject, Message-ID, Encrypted and
//! MIME-Version (the usual order), reassembling its fragments gives back
//! the original bytes exactly.
//!
//! ```
//! use mailwire_mime::partial::{split, reassemble};
//! let msg = b"From: a@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n\r\n".iter()
//!     .chain(b"line of text\r\n".repeat(100).iter()).copied().collect::<Vec<u8>>();
//! let parts = split(&msg, 500, "frag-1@example.org").unwrap();
//! assert!(parts.len() > 3 && parts.iter().all(|p| p.len() <= 500));
//! let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
//! assert_eq!(reassemble(&refs).unwrap(), msg);
//! ```

use crate::downgrade::downgrade_7bit;
use crate::params::{ContentType, write_param};
use crate::tree::Message;

/// Why splitting or reassembling failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartialError {
    /// The size limit leaves no room for content after the headers.
    #[error("fragment size {0} is too small for the headers")]
    TooSmall(usize),
    /// The id holds characters that cannot go in a quoted string.
    #[error("invalid fragment id")]
    InvalidId,
    /// A fragment is not a message/partial entity.
    #[error("fragment {0} is not message/partial")]
    NotPartial(usize),
    /// The fragments do not all carry the same id.
    #[error("fragments have different ids")]
    MixedIds,
    /// A fragment's number is missing, zero, or repeated.
    #[error("bad or repeated fragment number in fragment {0}")]
    BadNumber(usize),
    /// No fragment says the total, or fragments are missing.
    #[error("fragments missing: have {have}, total {total:?}")]
    Incomplete {
        /// Fragments given.
        have: usize,
        /// The declared total, when one was found.
        total: Option<u32>,
    },
}

/// The raw fields of a header block: (name, whole field bytes with its line end).
fn raw_fields(header: &[u8]) -> Vec<(&[u8], &[u8])> {
    crate::headers::raw_fields(header)
        .filter(|field| !field.trim_ascii().is_empty())
        .map(|field| {
            let name = memchr::memchr(b':', field).map_or(&field[..0], |c| field[..c].trim_ascii());
            (name, field)
        })
        .collect()
}

/// Content-*, Subject, Message-ID, Encrypted, MIME-Version: the fields that
/// belong to the inner message (RFC 2046 §5.2.2.1 rules 2 and 3).
fn is_inner_field(name: &[u8]) -> bool {
    (name.len() >= 8 && name[..8].eq_ignore_ascii_case(b"content-"))
        || name.eq_ignore_ascii_case(b"subject")
        || name.eq_ignore_ascii_case(b"message-id")
        || name.eq_ignore_ascii_case(b"encrypted")
        || name.eq_ignore_ascii_case(b"mime-version")
}

fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(field);
    if !field.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
}

/// Splits `message` into message/partial fragments of at most `max_size`
/// bytes each, with fragment id `id` (RFC 2046 §5.2.2). The message is
/// first downgraded to 7 bit, since message/partial must be 7bit.
///
/// Each fragment's header is the original's fields other than Content-*,
/// Subject, Message-ID, Encrypted and MIME-Version (kept for transport),
/// the Subject, then `MIME-Version: 1.0` and the message/partial
/// Content-Type; the first fragment's body starts with the inner header
/// (the original's Content-*, Subject, Message-ID, Encrypted and
/// MIME-Version fields).
pub fn split(message: &[u8], max_size: usize, id: &str) -> Result<Vec<Vec<u8>>, PartialError> {
    if id.bytes().any(|b| !(32..=126).contains(&b)) {
        return Err(PartialError::InvalidId);
    }
    let down = downgrade_7bit(message);
    let message: &[u8] = &down.bytes;
    let msg = Message::parse(message);
    let root = msg.root();
    let header = &message[root.header.clone()];
    let body = &message[root.header.end..];
    let fields = raw_fields(header);
    let mut outer = Vec::new();
    let mut inner = Vec::new();
    for (name, f) in &fields {
        if is_inner_field(name) {
            push_field(&mut inner, f);
        } else {
            push_field(&mut outer, f);
        }
    }
    for (name, f) in &fields {
        if name.eq_ignore_ascii_case(b"subject") {
            push_field(&mut outer, f);
        }
    }
    outer.extend_from_slice(b"MIME-Version: 1.0\r\n");
    // The inner message: its header, the blank line, the body.
    let mut content = inner;
    content.extend_from_slice(
        if header.ends_with(b"\n\n") && !header.ends_with(b"\r\n\r\n") {
            b"\n"
        } else {
            b"\r\n"
        },
    );
    content.extend_from_slice(body);
    let fragment_header = |n: usize, total: usize| -> Vec<u8> {
        let mut h = outer.clone();
        h.extend_from_slice(b"Content-Type: message/partial");
        write_param(&mut h, "id", id);
        write_param(&mut h, "number", &n.to_string());
        write_param(&mut h, "total", &total.to_string());
        h.extend_from_slice(b"\r\n\r\n");
        h
    };
    // Room per fragment, with the widest numbers the count could need.
    let mut total_guess = 1usize;
    loop {
        let hlen = fragment_header(total_guess, total_guess).len();
        if hlen >= max_size {
            return Err(PartialError::TooSmall(max_size));
        }
        let room = max_size - hlen;
        let chunks = cut_lines(&content, room);
        if chunks.len() <= total_guess
            || chunks.len().to_string().len() <= total_guess.to_string().len()
        {
            let total = chunks.len();
            return Ok(chunks
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut f = fragment_header(i + 1, total);
                    f.extend_from_slice(c);
                    f
                })
                .collect());
        }
        total_guess = chunks.len();
    }
}

/// Cuts `data` into pieces of at most `room` bytes, ending at line ends
/// when a line end is found in the piece.
fn cut_lines(data: &[u8], room: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let end = (pos + room).min(data.len());
        let cut = if end == data.len() {
            end
        } else {
            match memchr::memrchr(b'\n', &data[pos..end]) {
                Some(p) => pos + p + 1,
                None => end,
            }
        };
        out.push(&data[pos..cut]);
        pos = cut;
    }
    if out.is_empty() {
        out.push(&data[..0]);
    }
    out
}

/// The id, number and total of a message/partial Content-Type.
fn partial_params(ct: &ContentType) -> (Option<String>, Option<u32>, Option<u32>) {
    (
        ct.param("id").map(str::to_owned),
        ct.param("number").and_then(|n| n.trim().parse().ok()),
        ct.param("total").and_then(|n| n.trim().parse().ok()),
    )
}

/// Reassembles message/partial fragments (in any order) into the original
/// message (RFC 2046 §5.2.2.1).
pub fn reassemble(fragments: &[&[u8]]) -> Result<Vec<u8>, PartialError> {
    let mut pieces: Vec<(u32, &[u8], &[u8])> = Vec::new(); // (number, header, body)
    let mut id: Option<String> = None;
    let mut total: Option<u32> = None;
    for (i, f) in fragments.iter().enumerate() {
        let msg = Message::parse(f);
        let root = msg.root();
        if !root.mime.content_type.is("message", "partial") {
            return Err(PartialError::NotPartial(i));
        }
        let (fid, number, ftotal) = partial_params(&root.mime.content_type);
        match (&id, fid) {
            (None, Some(x)) => id = Some(x),
            (Some(a), Some(b)) if *a == b => {}
            _ => return Err(PartialError::MixedIds),
        }
        if ftotal.is_some() {
            total = ftotal;
        }
        let number = number
            .filter(|&n| n > 0)
            .ok_or(PartialError::BadNumber(i))?;
        if pieces.iter().any(|p| p.0 == number) {
            return Err(PartialError::BadNumber(i));
        }
        pieces.push((number, &f[root.header.clone()], &f[root.header.end..]));
    }
    pieces.sort_by_key(|p| p.0);
    let complete = total.is_some_and(|t| {
        t as usize == pieces.len()
            && pieces
                .iter()
                .enumerate()
                .all(|(k, p)| p.0 as usize == k + 1)
    });
    if !complete {
        return Err(PartialError::Incomplete {
            have: pieces.len(),
            total,
        });
    }
    let mut content = Vec::new();
    for p in &pieces {
        content.extend_from_slice(p.2);
    }
    let inner = Message::parse(&content);
    let inner_root = inner.root();
    let inner_header = &content[inner_root.header.clone()];
    let mut out = Vec::with_capacity(content.len() + 512);
    // Rule 2: the first enclosing header, less the inner kinds.
    for (name, f) in raw_fields(pieces[0].1) {
        if !is_inner_field(name) {
            push_field(&mut out, f);
        }
    }
    // Rule 3: the inner header's Content-*, Subject, Message-ID, Encrypted,
    // MIME-Version; the rest of it is dropped.
    for (name, f) in raw_fields(inner_header) {
        if is_inner_field(name) {
            push_field(&mut out, f);
        }
    }
    out.extend_from_slice(
        if inner_header.ends_with(b"\n\n") && !inner_header.ends_with(b"\r\n\r\n") {
            b"\n"
        } else {
            b"\r\n"
        },
    );
    out.extend_from_slice(&content[inner_root.header.end..]);
    Ok(out)
}

/// The parameters of a message/external-body part (RFC 2046 §5.2.3) and
/// the header of the external data ("phantom" header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalBody {
    /// `access-type` (FTP, ANON-FTP, TFTP, LOCAL-FILE, MAIL-SERVER, URL, ...), lower-cased.
    pub access_type: String,
    /// `expiration`.
    pub expiration: Option<String>,
    /// `size` in octets.
    pub size: Option<u64>,
    /// `permission` (read, read-write).
    pub permission: Option<String>,
    /// `name` (FTP, TFTP, LOCAL-FILE).
    pub name: Option<String>,
    /// `site`.
    pub site: Option<String>,
    /// `directory`.
    pub directory: Option<String>,
    /// `mode`.
    pub mode: Option<String>,
    /// `server` (MAIL-SERVER).
    pub server: Option<String>,
    /// `subject` (MAIL-SERVER).
    pub subject: Option<String>,
    /// `URL` (RFC 2017).
    pub url: Option<String>,
    /// The MIME fields of the external data.
    pub phantom: crate::MimeHeaders,
    /// The phantom body (the command for MAIL-SERVER).
    pub phantom_body: Vec<u8>,
}

impl ExternalBody {
    /// Reads a message/external-body part of `msg`.
    pub fn from_part(msg: &Message<'_>, part: &crate::Part) -> Option<Self> {
        let ct = &part.mime.content_type;
        if !ct.is("message", "external-body") {
            return None;
        }
        let p = |n: &str| ct.param(n).map(str::to_owned);
        let body = msg.raw_body(part);
        let inner = Message::parse(body);
        let root = inner.root();
        Some(Self {
            access_type: p("access-type").unwrap_or_default().to_ascii_lowercase(),
            expiration: p("expiration"),
            size: ct.param("size").and_then(|s| s.trim().parse().ok()),
            permission: p("permission"),
            name: p("name"),
            site: p("site"),
            directory: p("directory"),
            mode: p("mode"),
            server: p("server"),
            subject: p("subject"),
            url: p("url"),
            phantom: root.mime.clone(),
            phantom_body: inner.raw_body(root).to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/mime");

    fn read(rel: &str) -> Option<Vec<u8>> {
        match std::fs::read(format!("{CORPUS}/{rel}")) {
            Ok(d) => Some(d),
            Err(_) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "corpus missing"
                );
                None
            }
        }
    }

    fn fields_sorted(h: &[u8]) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = raw_fields(h)
            .into_iter()
            .map(|(_, f)| f.trim_ascii_end().to_vec())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rfc2046_5_2_2_2_example() {
        let (Some(a), Some(b), Some(want)) = (
            read("mimekit-partial/rfc2046.0.eml"),
            read("mimekit-partial/rfc2046.1.eml"),
            read("mimekit-partial/rfc2046.eml"),
        ) else {
            return;
        };
        // Any order.
        let got = reassemble(&[&b, &a]).unwrap();
        let (gm, wm) = (Message::parse(&got), Message::parse(&want));
        // Same fields (the RFC's sample shows Subject before Message-ID; rule 3
        // keeps the inner order), same body.
        assert_eq!(
            fields_sorted(gm.header_bytes(gm.root())),
            fields_sorted(wm.header_bytes(wm.root()))
        );
        assert_eq!(gm.raw_body(gm.root()), wm.raw_body(wm.root()));
        assert!(got.starts_with(b"X-Weird-Header-1: Foo\n"));
    }

    #[test]
    fn mimekit_partial_reassembles() {
        let (Some(a), Some(b), Some(c), Some(want)) = (
            read("mimekit-partial/message-partial.0.eml"),
            read("mimekit-partial/message-partial.1.eml"),
            read("mimekit-partial/message-partial.2.eml"),
            read("mimekit-partial/message-partial.eml"),
        ) else {
            return;
        };
        let got = reassemble(&[&c, &a, &b]).unwrap();
        let (gm, wm) = (Message::parse(&got), Message::parse(&want));
        assert_eq!(
            fields_sorted(gm.header_bytes(gm.root())),
            fields_sorted(wm.header_bytes(wm.root()))
        );
        assert_eq!(gm.raw_body(gm.root()), wm.raw_body(wm.root()));
        assert_eq!(
            crate::summary::leaf_parts(&gm),
            crate::summary::leaf_parts(&wm)
        );
        // Errors.
        assert!(matches!(
            reassemble(&[&a, &b]),
            Err(PartialError::Incomplete { .. })
        ));
        assert!(matches!(
            reassemble(&[&a, &a, &c]),
            Err(PartialError::BadNumber(1))
        ));
        // Split it again and reassemble: the same message.
        let frags = split(&want, 60_000, "x@y").unwrap();
        assert_eq!(frags.len(), 3);
        assert!(frags.iter().all(|f| f.len() <= 60_000 && f.is_ascii()));
        let refs: Vec<&[u8]> = frags.iter().map(Vec::as_slice).collect();
        let again = reassemble(&refs).unwrap();
        let am = Message::parse(&again);
        assert_eq!(
            crate::summary::leaf_parts(&am),
            crate::summary::leaf_parts(&wm)
        );
    }

    #[test]
    fn rfc2046_5_2_3_external_body() {
        let Some(data) = read("rfc-examples/001.eml") else {
            return;
        };
        let msg = Message::parse(&data);
        let ext: Vec<ExternalBody> = msg
            .leaves()
            .filter_map(|p| ExternalBody::from_part(&msg, p))
            .collect();
        assert_eq!(ext.len(), 3);
        assert_eq!(ext[0].access_type, "anon-ftp");
        assert_eq!(ext[0].site.as_deref(), Some("thumper.bellcore.com"));
        assert_eq!(ext[0].name.as_deref(), Some("BodyFormats.ps"));
        assert_eq!(ext[0].phantom.mime_type(), "application/postscript");
        assert_eq!(ext[2].access_type, "mail-server");
        assert!(String::from_utf8_lossy(&ext[2].phantom_body).contains("get RFC-MIME.DOC"));
    }

    proptest! {
        #[test]
        fn split_then_reassemble_is_identity(
            lines in proptest::collection::vec("[ -~]{0,120}", 0..80),
            max in 300usize..3000,
        ) {
            let mut msg = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: test\r\nMessage-ID: <m@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n".to_vec();
            for l in &lines {
                msg.extend_from_slice(l.as_bytes());
                msg.extend_from_slice(b"\r\n");
            }
            let frags = split(&msg, max, "id@example.org").unwrap();
            for f in &frags {
                prop_assert!(f.len() <= max);
            }
            let mut refs: Vec<&[u8]> = frags.iter().map(Vec::as_slice).collect();
            refs.reverse();
            prop_assert_eq!(reassemble(&refs).unwrap(), msg);
        }
    }
}

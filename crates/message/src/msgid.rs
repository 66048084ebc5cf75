//! Message identifiers (RFC 5322 §3.6.4, obsolete forms §4.5.4).
//!
//! ```text
//! msg-id      = [CFWS] "<" id-left "@" id-right ">" [CFWS]
//! id-left     = dot-atom-text / obs-id-left
//! id-right    = dot-atom-text / no-fold-literal / obs-id-right
//! in-reply-to = 1*msg-id          obs-in-reply-to = *(phrase / msg-id)
//! references  = 1*msg-id          obs-references  = *(phrase / msg-id)
//! ```
//!
//! ```
//! use mailwire_message::{parse_message_ids, MessageIdGenerator};
//! let (ids, _) = parse_message_ids(b"<1234@local.machine.example> (x) <3456@example.net>");
//! assert_eq!(ids[1].as_str(), "3456@example.net");
//! let mut ids = MessageIdGenerator::new("example.org", 42).unwrap();
//! assert_ne!(ids.generate(), ids.generate());
//! ```

use std::borrow::Cow;
use std::fmt;

use nom::Parser;
use nom::bytes::complete::take_until;
use nom::character::complete::char as ch;
use nom::sequence::delimited;

use crate::defect::{Defect, DefectKind, DefectSink};
use crate::lex::{Lexer, is_atext};

/// A message identifier, without its angle brackets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId<'a>(Cow<'a, str>);

/// Why a [`MessageId`] could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageIdError {
    /// A byte that is not allowed in a msg-id (CR, LF, NUL, white space,
    /// `<`, `>`, or anything outside dot-atom-text / no-fold-literal).
    #[error("forbidden byte {byte:#04x} at index {index}")]
    ForbiddenByte {
        /// The byte.
        byte: u8,
        /// Its index.
        index: usize,
    },
    /// No `@`, or an empty side.
    #[error("a message id is id-left \"@\" id-right")]
    Shape,
    /// Longer than 900 bytes.
    #[error("message id too long")]
    TooLong,
}

fn dot_atom_text_ok(s: &[u8]) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    for (i, part) in s.split(|&b| b == b'.').enumerate() {
        if part.is_empty() {
            return Some(i);
        }
    }
    s.iter().position(|&b| !(is_atext(b) || b == b'.'))
}

impl<'a> MessageId<'a> {
    /// Build a message id from `id-left@id-right` (no brackets), checking
    /// RFC 5322 §3.6.4 (dot-atom-text on the left; dot-atom-text or a
    /// `[...]` literal on the right).
    pub fn new(id: &str) -> Result<MessageId<'static>, MessageIdError> {
        let b = id.as_bytes();
        if b.len() > 900 {
            return Err(MessageIdError::TooLong);
        }
        let at = id.rfind('@').ok_or(MessageIdError::Shape)?;
        let (left, right) = (&b[..at], &b[at + 1..]);
        if left.is_empty() || right.is_empty() {
            return Err(MessageIdError::Shape);
        }
        if let Some(i) = dot_atom_text_ok(left) {
            return Err(MessageIdError::ForbiddenByte {
                byte: b[i],
                index: i,
            });
        }
        let right_ok = if right.starts_with(b"[") && right.ends_with(b"]") && right.len() >= 2 {
            right[1..right.len() - 1]
                .iter()
                .position(|&b| !(33..=126).contains(&b) || matches!(b, b'[' | b']' | b'\\'))
                .map(|i| i + 1)
        } else {
            dot_atom_text_ok(right)
        };
        if let Some(i) = right_ok {
            let index = at + 1 + i;
            return Err(MessageIdError::ForbiddenByte {
                byte: b.get(index).copied().unwrap_or(b'.'),
                index,
            });
        }
        Ok(MessageId(Cow::Owned(id.to_owned())))
    }

    /// The id, without angle brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An owned copy.
    pub fn into_owned(self) -> MessageId<'static> {
        MessageId(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Display for MessageId<'_> {
    /// With angle brackets, as in a header: `<id@host>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

/// `"<" ... ">"` with nom: the text between the brackets.
fn bracketed(i: &[u8]) -> nom::IResult<&[u8], &[u8]> {
    delimited(ch('<'), take_until(">"), ch('>')).parse(i)
}

fn id_from<'a, S: DefectSink + ?Sized>(
    inner: &'a [u8],
    offset: usize,
    sink: &mut S,
) -> MessageId<'a> {
    let trimmed = crate::header::trim_wsp(inner);
    let text: Cow<'a, str> = if trimmed
        .iter()
        .any(|&b| crate::lex::is_wsp(b) || b == b'(' || b == b'"')
    {
        // obs-id-left / obs-id-right: CFWS inside; drop it.
        sink.push_defect(Defect::new(DefectKind::ObsoleteSyntax, offset));
        let mut s = Vec::with_capacity(trimmed.len());
        let mut lx = Lexer::new(trimmed, 0);
        while let Some(b) = lx.peek() {
            if crate::lex::is_wsp(b) || b == b'(' {
                lx.skip_cfws(sink);
            } else if b == b'"' {
                let q = lx.quoted_string(sink);
                s.extend_from_slice(&crate::rfc2047::unquote(q));
            } else {
                s.push(b);
                lx.pos += 1;
            }
        }
        Cow::Owned(crate::charset::bytes_to_text(&s).into_owned())
    } else {
        crate::charset::bytes_to_text(trimmed)
    };
    if !text.contains('@') {
        sink.push_defect(Defect::new(DefectKind::InvalidMessageId, offset));
    }
    MessageId(text)
}

/// Parse a single msg-id (Message-ID, Resent-Message-ID, Content-ID).
/// Lenient: an id without brackets is taken up to white space, with a defect.
pub fn parse_message_id(value: &[u8]) -> (Option<MessageId<'_>>, Vec<Defect>) {
    let mut d = Vec::new();
    let id = parse_message_id_with(value, &mut d);
    (id, d)
}

/// As [`parse_message_id`], recording defects into `sink`.
pub fn parse_message_id_with<'a, S: DefectSink + ?Sized>(
    value: &'a [u8],
    sink: &mut S,
) -> Option<MessageId<'a>> {
    let mut lx = Lexer::new(value, 0);
    lx.skip_cfws(sink);
    let start = lx.pos;
    if let Ok((rest, inner)) = bracketed(&value[start..]) {
        lx.pos = value.len() - rest.len();
        lx.skip_cfws(sink);
        if !lx.src[lx.pos..].is_empty() {
            sink.push_defect(Defect::new(DefectKind::UnexpectedCharacter, lx.pos));
        }
        return Some(id_from(inner, start + 1, sink));
    }
    let rest = &value[start..];
    let n = rest.iter().take_while(|&&b| !crate::lex::is_wsp(b)).count();
    if n == 0 {
        sink.push_defect(Defect::new(DefectKind::EmptyValue, start));
        return None;
    }
    sink.push_defect(Defect::new(DefectKind::InvalidMessageId, start));
    let tok = &rest[..n];
    let tok = tok.strip_prefix(b"<").unwrap_or(tok);
    Some(id_from(tok, start, sink))
}

/// Parse a list of msg-ids (In-Reply-To, References; RFC 5322 §3.6.4).
/// Words and quoted strings between ids (obs-phrase) are skipped with
/// [`DefectKind::JunkInMessageIdList`].
pub fn parse_message_ids(value: &[u8]) -> (Vec<MessageId<'_>>, Vec<Defect>) {
    let mut d = Vec::new();
    let ids = parse_message_ids_with(value, &mut d);
    (ids, d)
}

/// As [`parse_message_ids`], recording defects into `sink`.
pub fn parse_message_ids_with<'a, S: DefectSink + ?Sized>(
    value: &'a [u8],
    sink: &mut S,
) -> Vec<MessageId<'a>> {
    let mut out = Vec::new();
    let mut lx = Lexer::new(value, 0);
    loop {
        lx.skip_cfws(sink);
        let start = lx.pos;
        match lx.peek() {
            None => break,
            Some(b'<') => match bracketed(&value[start..]) {
                Ok((rest, inner)) => {
                    lx.pos = value.len() - rest.len();
                    out.push(id_from(inner, start + 1, sink));
                }
                Err(_) => {
                    sink.push_defect(Defect::new(DefectKind::UnterminatedAngleAddr, start));
                    break;
                }
            },
            Some(b'"') => {
                sink.push_defect(Defect::new(DefectKind::JunkInMessageIdList, start));
                lx.quoted_string(sink);
            }
            Some(_) => {
                let n = value[start..]
                    .iter()
                    .take_while(|&&b| !crate::lex::is_wsp(b) && b != b'<' && b != b'(' && b != b'"')
                    .count()
                    .max(1);
                let word = &value[start..start + n];
                lx.pos += n;
                if word.contains(&b'@') && !word.contains(&b'>') {
                    // A bare id without brackets.
                    sink.push_defect(Defect::new(DefectKind::InvalidMessageId, start));
                    out.push(id_from(word, start, sink));
                } else {
                    sink.push_defect(Defect::new(DefectKind::JunkInMessageIdList, start));
                }
            }
        }
    }
    out
}

/// Generates unique Message-IDs for one domain (RFC 5322 §3.6.4 says the
/// id must be unique; the right side is the caller's domain).
///
/// The crate reads no clock and no RNG: the caller passes a seed (a random
/// number, or a timestamp mixed with a process id). Each call advances a
/// counter, so no two calls on one generator return the same id, and two
/// generators with different seeds do not collide in practice (the seed
/// is mixed by SplitMix64).
#[derive(Debug, Clone)]
pub struct MessageIdGenerator {
    domain: String,
    seed: u64,
    counter: u64,
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn base36(mut v: u64, out: &mut String) {
    const D: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut buf = [0u8; 13];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = D[(v % 36) as usize];
        v /= 36;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

impl MessageIdGenerator {
    /// A generator for ids `...@domain`. The domain must be a dot-atom or
    /// a `[...]` literal.
    pub fn new(domain: &str, seed: u64) -> Result<MessageIdGenerator, MessageIdError> {
        MessageId::new(&format!("x@{domain}"))?;
        Ok(MessageIdGenerator {
            domain: domain.to_owned(),
            seed: splitmix64(seed),
            counter: 0,
        })
    }

    /// The next id: `<seed-mix>.<counter>.<hash>@domain`.
    pub fn generate(&mut self) -> MessageId<'static> {
        self.counter = self.counter.wrapping_add(1);
        let mut s = String::with_capacity(40 + self.domain.len());
        base36(self.seed, &mut s);
        s.push('.');
        base36(self.counter, &mut s);
        s.push('.');
        base36(splitmix64(self.seed ^ self.counter.rotate_left(32)), &mut s);
        s.push('@');
        s.push_str(&self.domain);
        // Built only from base36 digits, dots and a validated domain.
        MessageId(Cow::Owned(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let (id, d) = parse_message_id(b" <1234@local.machine.example>\r\n");
        assert_eq!(id.unwrap().as_str(), "1234@local.machine.example");
        assert!(d.is_empty());
        let (id, d) = parse_message_id(b"<testabcd.1234@silly.test>");
        assert_eq!(id.unwrap().as_str(), "testabcd.1234@silly.test");
        assert!(d.is_empty());
        let (id, d) = parse_message_id(b"no-brackets@x");
        assert_eq!(id.unwrap().as_str(), "no-brackets@x");
        assert_eq!(d[0].kind, DefectKind::InvalidMessageId);
        let (ids, d) = parse_message_ids(b"<a@b> John's message <c@d>");
        assert_eq!(ids.len(), 2);
        assert!(d.iter().all(|d| d.kind == DefectKind::JunkInMessageIdList));
        for s in [&b"<"[..], b">", b"<<>>", b"\"", b"(", b""] {
            let _ = parse_message_id(s);
            let _ = parse_message_ids(s);
        }
    }

    #[test]
    fn build() {
        assert!(MessageId::new("a.b@c.d").is_ok());
        assert!(MessageId::new("a@[1.2.3.4]").is_ok());
        assert!(MessageId::new("a b@c").is_err());
        assert!(MessageId::new("a@c>\r\n").is_err());
        assert!(MessageId::new("nodomain").is_err());
        let mut g = MessageIdGenerator::new("example.org", 7).unwrap();
        let a = g.generate();
        let b = g.generate();
        assert_ne!(a, b);
        assert!(MessageId::new(a.as_str()).is_ok());
        let mut g2 = MessageIdGenerator::new("example.org", 8).unwrap();
        assert_ne!(g2.generate(), a);
    }
}

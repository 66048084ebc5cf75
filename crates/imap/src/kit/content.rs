//! The Content-* fields of one entity as BODYSTRUCTURE reports them
//! (RFC 3501 §7.4.2 / RFC 9051 §7.5.2): type and subtype as written,
//! parameters with RFC 2231 continuations joined but not decoded, and the
//! raw values of Content-ID, -Description, -MD5 (RFC 1864), -Language
//! (RFC 3282), -Location (RFC 2557) and -Disposition (RFC 2183).
//!
//! The first occurrence of each field counts. An entity that is not MIME
//! (no MIME-Version and no Content-Type, and not a body part of a
//! multipart, RFC 2045 §4) has none of these fields: its Content-* lines
//! are ignored, as Dovecot does.

use super::lex::{Lexer, nolf};

/// A parameter list: (attribute, value) in order.
pub(crate) type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// The parsed Content-* fields of an entity (absent fields are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ContentFields {
    /// `type` and `subtype` from Content-Type (the subtype is `None` when
    /// the field stops after the type).
    pub(crate) media: Option<(Vec<u8>, Option<Vec<u8>>)>,
    /// Content-Type parameters.
    pub(crate) params: Params,
    /// Content-Transfer-Encoding token.
    pub(crate) encoding: Option<Vec<u8>>,
    /// Content-ID, raw.
    pub(crate) id: Option<Vec<u8>>,
    /// Content-Description, raw (RFC 2047 words kept).
    pub(crate) description: Option<Vec<u8>>,
    /// Content-MD5, raw.
    pub(crate) md5: Option<Vec<u8>>,
    /// Content-Disposition type and parameters.
    pub(crate) disposition: Option<(Vec<u8>, Params)>,
    /// Content-Language tags.
    pub(crate) language: Option<Vec<Vec<u8>>>,
    /// Content-Location, raw.
    pub(crate) location: Option<Vec<u8>>,
}

impl ContentFields {
    /// Reads the fields of a header block. `in_multipart`: the entity is a
    /// body part of a multipart (MIME without a MIME-Version of its own).
    pub(crate) fn parse<'a>(
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
        in_multipart: bool,
    ) -> Self {
        let mut c = ContentFields::default();
        let mut mime = in_multipart;
        let mut disposition_seen = false;
        let mut ct_seen = false;
        for (name, value) in fields {
            if name.eq_ignore_ascii_case(b"mime-version") {
                mime = true;
                continue;
            }
            if name.len() < 8 || !name[..8].eq_ignore_ascii_case(b"content-") {
                continue;
            }
            let n = &name[8..];
            if n.eq_ignore_ascii_case(b"type") {
                mime = true;
                if !ct_seen {
                    ct_seen = true;
                    c.content_type(value);
                }
            } else if n.eq_ignore_ascii_case(b"transfer-encoding") {
                if c.encoding.is_none() {
                    let mut l = Lexer::new(value);
                    l.skip_cfws();
                    let t = l.token();
                    l.skip_cfws();
                    if !t.is_empty() && l.at_end() {
                        c.encoding = Some(t.to_vec());
                    }
                }
            } else if n.eq_ignore_ascii_case(b"id") {
                c.id.get_or_insert_with(|| nolf(value));
            } else if n.eq_ignore_ascii_case(b"description") {
                c.description.get_or_insert_with(|| nolf(value));
            } else if n.eq_ignore_ascii_case(b"md5") {
                c.md5.get_or_insert_with(|| nolf(value));
            } else if n.eq_ignore_ascii_case(b"location") {
                c.location.get_or_insert_with(|| nolf(value));
            } else if n.eq_ignore_ascii_case(b"language") {
                if c.language.is_none() {
                    c.language = language(value);
                }
            } else if n.eq_ignore_ascii_case(b"disposition") && !disposition_seen {
                let mut l = Lexer::new(value);
                l.skip_cfws();
                let kind = l.token();
                if !kind.is_empty() {
                    disposition_seen = true;
                    l.skip_cfws();
                    c.disposition = Some((kind.to_vec(), params(&mut l)));
                }
            }
        }
        if mime { c } else { ContentFields::default() }
    }

    /// `type "/" subtype *(";" parameter)`; parameters are read only when
    /// the type is well formed.
    fn content_type(&mut self, value: &[u8]) {
        let mut l = Lexer::new(value);
        l.skip_cfws();
        let ty = l.token().to_vec();
        l.skip_cfws();
        if !l.eat(b'/') {
            self.media = Some((ty, None));
            return;
        }
        l.skip_cfws();
        let sub = l.token().to_vec();
        let ok = !ty.is_empty() && !sub.is_empty();
        self.media = Some((ty, Some(sub)));
        if ok {
            l.skip_cfws();
            self.params = params(&mut l);
        }
    }

    /// The Content-Transfer-Encoding, `7bit` when absent.
    pub(crate) fn encoding_or_default(&self) -> &[u8] {
        self.encoding.as_deref().unwrap_or(b"7bit")
    }
}

/// `1#Language-tag` (RFC 3282 §2): atoms separated by commas.
fn language(value: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut l = Lexer::new(value);
    let mut tags = Vec::new();
    l.skip_cfws();
    loop {
        let t = l.atom();
        if t.is_empty() {
            break;
        }
        tags.push(t.to_vec());
        l.skip_cfws();
        if !l.eat(b',') {
            break;
        }
        l.skip_cfws();
    }
    (!tags.is_empty()).then_some(tags)
}

/// One RFC 2231 §3 piece: `name*N` or `name*N*` or `name*`.
struct Piece {
    name: Vec<u8>,
    index: u32,
    extended: bool,
    value: Vec<u8>,
}

/// `*(";" attribute "=" value)` (RFC 2045 §5.1) up to the first broken
/// parameter, with RFC 2231 continuations joined: `name*0`, `name*1` become
/// `name`; when any piece is extended (`name*0*`), the result is `name*`
/// with the `charset'language'` prefix and percent-encoding kept
/// (BODYSTRUCTURE carries parameters undecoded).
fn params(l: &mut Lexer<'_>) -> Params {
    let mut plain = Params::new();
    let mut pieces: Vec<Piece> = Vec::new();
    while l.eat(b';') {
        l.skip_cfws();
        if l.at_end() {
            break;
        }
        let name = l.token().to_vec();
        l.skip_cfws();
        if name.is_empty() || !l.eat(b'=') {
            break;
        }
        l.skip_cfws();
        let value = if l.peek() == Some(b'=') {
            // name==?utf-8?b?...?= written without quotes.
            let start = l.pos;
            while l
                .peek()
                .is_some_and(|b| !matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n'))
            {
                l.pos += 1;
            }
            l.input[start..l.pos].to_vec()
        } else {
            l.value().unwrap_or_default()
        };
        l.skip_cfws();
        match split_2231(&name) {
            Some((base, index, extended)) => pieces.push(Piece {
                name: base.to_vec(),
                index,
                extended,
                value,
            }),
            None => plain.push((name, value)),
        }
    }
    pieces.sort_by(|a, b| {
        a.name
            .to_ascii_lowercase()
            .cmp(&b.name.to_ascii_lowercase())
            .then(a.index.cmp(&b.index))
    });
    let mut i = 0;
    while i < pieces.len() {
        let mut j = i;
        while j < pieces.len() && pieces[j].name.eq_ignore_ascii_case(&pieces[i].name) {
            j += 1;
        }
        let group = &pieces[i..j];
        let extended = group.iter().any(|p| p.extended);
        let mut value = Vec::new();
        if extended && !group[0].extended {
            value.extend_from_slice(b"''");
        }
        for p in group {
            value.extend_from_slice(&p.value);
        }
        let mut name = group[0].name.clone();
        if extended {
            name.push(b'*');
        }
        plain.push((name, value));
        i = j;
    }
    plain
}

/// `name*`, `name*N`, `name*N*` → (name, N, extended); `None` for a plain
/// attribute.
fn split_2231(name: &[u8]) -> Option<(&[u8], u32, bool)> {
    let star = memchr::memchr(b'*', name)?;
    let (base, mut rest) = (&name[..star], &name[star + 1..]);
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let index = rest[..digits].iter().fold(0u32, |n, &d| {
        n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    });
    rest = &rest[digits..];
    let extended = rest == b"*" || (digits == 0 && rest.is_empty());
    match rest {
        b"" | b"*" => Some((base, index, extended)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(block: &[(&'static [u8], &'static [u8])]) -> ContentFields {
        ContentFields::parse(block.iter().copied(), false)
    }

    #[test]
    fn content_type_as_written() {
        let c = parse(&[(
            b"Content-Type",
            b" Text/PLAIN ; Charset=\"UTF-8\" (c); format=flowed",
        )]);
        assert_eq!(c.media, Some((b"Text".to_vec(), Some(b"PLAIN".to_vec()))));
        assert_eq!(
            c.params,
            vec![
                (b"Charset".to_vec(), b"UTF-8".to_vec()),
                (b"format".to_vec(), b"flowed".to_vec())
            ]
        );
    }

    #[test]
    fn rfc2231_3_continuations_joined_not_decoded() {
        let c = parse(&[
            (b"MIME-Version", b" 1.0"),
            (
                b"Content-Disposition",
                b" attachment; filename*0*=us-ascii'en'This%20is; filename*1=\" fun\"",
            ),
        ]);
        let (kind, params) = c.disposition.unwrap();
        assert_eq!(kind, b"attachment");
        assert_eq!(
            params,
            vec![(b"filename*".to_vec(), b"us-ascii'en'This%20is fun".to_vec())]
        );
    }

    #[test]
    fn not_mime_without_version_or_type() {
        let c = parse(&[(b"Content-Transfer-Encoding", b" base64")]);
        assert_eq!(c, ContentFields::default());
        let c = ContentFields::parse(
            [(&b"Content-Transfer-Encoding"[..], &b" base64"[..])].into_iter(),
            true,
        );
        assert_eq!(c.encoding.as_deref(), Some(&b"base64"[..]));
    }

    #[test]
    fn language_and_raw_fields() {
        let c = parse(&[
            (b"Mime-Version", b"1.0"),
            (b"Content-Language", b" en-US, (x) fr"),
            (b"Content-ID", b" <a@b>"),
            (b"Content-ID", b" <second@b>"),
            (b"Content-Description", b" =?utf-8?q?x?=\r\n y"),
        ]);
        assert_eq!(c.language, Some(vec![b"en-US".to_vec(), b"fr".to_vec()]));
        assert_eq!(c.id.as_deref(), Some(&b"<a@b>"[..]));
        assert_eq!(c.description.as_deref(), Some(&b"=?utf-8?q?x?= y"[..]));
    }
}

//! The lexical layer of RFC 5322 §3.2 (CFWS, atoms, quoted strings,
//! domain literals), lenient and zero-copy. Used by the structured parsers.

use crate::defect::{Defect, DefectKind, DefectSink};

/// Byte classes, one bit each, looked up in [`CLASS`].
const ATEXT: u8 = 1;
/// RFC 2047 §2 `token` characters (an encoded word's charset).
const TOKEN: u8 = 2;

const fn build_class() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mut atext = alnum;
        let specials_a = b"!#$%&'*+-/=?^_`{|}~";
        let mut k = 0;
        while k < specials_a.len() {
            if specials_a[k] == b {
                atext = true;
            }
            k += 1;
        }
        let mut token = b > 0x20 && b < 0x7f;
        let especials = b"()<>@,;:\"/[]?.=";
        let mut k = 0;
        while k < especials.len() {
            if especials[k] == b {
                token = false;
            }
            k += 1;
        }
        t[i] = (if atext || b >= 0x80 { ATEXT } else { 0 }) | (if token { TOKEN } else { 0 });
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = build_class();

/// `atext` (RFC 5322 §3.2.3).
#[inline]
pub(crate) fn is_atext(b: u8) -> bool {
    b < 0x80 && CLASS[b as usize] & ATEXT != 0
}

/// atext, or a non-ASCII byte (RFC 6532 §3.2 UTF-8 in atoms).
#[inline]
pub(crate) fn is_atext_utf8(b: u8) -> bool {
    CLASS[b as usize] & ATEXT != 0
}

/// RFC 2047 §2 `token` character.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    CLASS[b as usize] & TOKEN != 0
}

#[inline]
pub(crate) fn is_wsp(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A cursor over a field body. `pos` is public to the crate so parsers can
/// step over single specials.
#[derive(Debug, Clone)]
pub(crate) struct Lexer<'a> {
    pub(crate) src: &'a [u8],
    pub(crate) pos: usize,
    /// The content of the last comment skipped by `skip_cfws`, if the last
    /// call skipped one.
    pub(crate) last_comment: Option<&'a [u8]>,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a [u8], pos: usize) -> Self {
        Lexer {
            src,
            pos,
            last_comment: None,
        }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    /// Skip CFWS (RFC 5322 §3.2.2). Returns whether anything was skipped.
    /// `last_comment` is reset only when something is skipped.
    #[inline]
    pub(crate) fn skip_cfws<S: DefectSink + ?Sized>(&mut self, sink: &mut S) -> bool {
        let start = self.pos;
        if self.peek().is_some_and(|b| is_wsp(b) || b == b'(') {
            self.last_comment = None;
        }
        while let Some(b) = self.peek() {
            if is_wsp(b) {
                self.pos += 1;
            } else if b == b'(' {
                let c = self.comment(sink);
                self.last_comment = Some(c);
            } else {
                break;
            }
        }
        self.pos != start
    }

    /// A comment at `pos` (which holds `(`): returns its content (nested
    /// comments and escapes in place).
    pub(crate) fn comment<S: DefectSink + ?Sized>(&mut self, sink: &mut S) -> &'a [u8] {
        let start = self.pos;
        self.pos += 1;
        let mut depth = 1usize;
        while let Some(b) = self.peek() {
            match b {
                b'\\' => self.pos += 2,
                b'(' => {
                    depth += 1;
                    self.pos += 1;
                }
                b')' => {
                    depth -= 1;
                    self.pos += 1;
                    if depth == 0 {
                        return &self.src[start + 1..self.pos - 1];
                    }
                }
                _ => self.pos += 1,
            }
        }
        self.pos = self.src.len();
        sink.push_defect(Defect::new(DefectKind::UnterminatedComment, start));
        &self.src[start + 1..]
    }

    /// A quoted string at `pos` (which holds `"`): returns its content,
    /// escapes and folding in place (see `rfc2047::unquote`).
    pub(crate) fn quoted_string<S: DefectSink + ?Sized>(&mut self, sink: &mut S) -> &'a [u8] {
        let start = self.pos;
        self.pos += 1;
        let body = &self.src[self.pos..];
        let mut i = 0;
        while let Some(off) = memchr::memchr2(b'"', b'\\', &body[i..]) {
            let at = i + off;
            if body[at] == b'\\' {
                i = at + 2;
                if i > body.len() {
                    break;
                }
                continue;
            }
            self.pos += at + 1;
            return &body[..at];
        }
        self.pos = self.src.len();
        sink.push_defect(Defect::new(DefectKind::UnterminatedQuotedString, start));
        body
    }

    /// A domain literal at `pos` (which holds `[`), brackets included.
    pub(crate) fn domain_literal<S: DefectSink + ?Sized>(&mut self, sink: &mut S) -> &'a [u8] {
        let start = self.pos;
        match memchr::memchr(b']', &self.src[start..]) {
            Some(i) => {
                self.pos = start + i + 1;
                &self.src[start..self.pos]
            }
            None => {
                sink.push_defect(Defect::new(DefectKind::UnterminatedDomainLiteral, start));
                self.pos = self.src.len();
                &self.src[start..]
            }
        }
    }

    /// A run of atext (and UTF-8) at `pos`; an encoded word is taken whole
    /// even when its text holds specials. `None` when `pos` is not atext.
    #[inline]
    pub(crate) fn atom_lenient(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        let rest = &self.src[start..];
        if rest.starts_with(b"=?")
            && let Some(n) = crate::rfc2047::encoded_word_len(rest)
        {
            // Only take it whole if it ends where an atom would
            // (at a delimiter), else fall back to atext.
            let after = rest.get(n).copied();
            if after.is_none_or(|b| !is_atext_utf8(b) || b == b'=') {
                self.pos += n;
                return Some(&rest[..n]);
            }
        }
        let n = rest.iter().take_while(|&&b| is_atext_utf8(b)).count();
        if n == 0 {
            return None;
        }
        self.pos += n;
        Some(&rest[..n])
    }
}

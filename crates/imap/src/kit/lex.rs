//! The RFC 5322 §3.2 lexical tokens that ENVELOPE and BODYSTRUCTURE need
//! from header field values: white space and comments (CFWS), atoms, MIME
//! tokens (RFC 2045 §5.1) and quoted strings.
//!
//! IMAP returns these values as the message wrote them (RFC 3501 §7.4.2:
//! no RFC 2047 decoding), so this lexer keeps bytes as they are, only
//! unquoting quoted strings and dropping line breaks.

/// A cursor over one (folded) field value.
#[derive(Debug, Clone)]
pub(crate) struct Lexer<'a> {
    pub(crate) input: &'a [u8],
    pub(crate) pos: usize,
    /// The text of the last comment skipped (RFC 5322 §3.2.2), which an
    /// address without a display name uses as its name.
    pub(crate) last_comment: Option<Vec<u8>>,
}

/// `tspecials` (RFC 2045 §5.1).
fn is_tspecial(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'<'
            | b'>'
            | b'@'
            | b','
            | b';'
            | b':'
            | b'\\'
            | b'"'
            | b'/'
            | b'['
            | b']'
            | b'?'
            | b'='
    )
}

/// `atext` (RFC 5322 §3.2.3), with 8-bit bytes allowed (RFC 6532).
pub(crate) fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Lexer {
            input,
            pos: 0,
            last_comment: None,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// Skips white space, line breaks and comments (`CFWS`). A comment is
    /// nested and may hold quoted pairs; an unclosed one runs to the end.
    pub(crate) fn skip_cfws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => self.comment(),
                _ => break,
            }
        }
    }

    fn comment(&mut self) {
        let mut depth = 0usize;
        let mut text = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'(' => {
                    if depth > 0 {
                        text.push(b);
                    }
                    depth += 1;
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    text.push(b);
                }
                b'\\' => {
                    if let Some(n) = self.peek() {
                        self.pos += 1;
                        text.push(n);
                    }
                }
                b'\r' | b'\n' => {}
                _ => text.push(b),
            }
        }
        self.last_comment = Some(text);
    }

    /// Takes bytes while `ok` holds.
    fn take_while(&mut self, ok: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&ok) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// `token` (RFC 2045 §5.1): any CHAR but SPACE, CTLs and tspecials
    /// (8-bit bytes accepted, as real mail has them).
    pub(crate) fn token(&mut self) -> &'a [u8] {
        self.take_while(|b| b > b' ' && b != 0x7f && !is_tspecial(b))
    }

    /// `atom` without its CFWS: `1*atext`.
    pub(crate) fn atom(&mut self) -> &'a [u8] {
        self.take_while(is_atext)
    }

    /// `quoted-string` (RFC 5322 §3.2.4) at the cursor, which is on the
    /// opening quote: the content unquoted, line breaks removed. An
    /// unclosed string runs to the end.
    pub(crate) fn quoted(&mut self, out: &mut Vec<u8>) {
        self.pos += 1;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => return,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        self.pos += 1;
                        out.push(n);
                    }
                }
                b'\r' | b'\n' => {}
                _ => out.push(b),
            }
        }
    }

    /// A MIME parameter value (RFC 2045 §5.1): a token or a quoted string.
    pub(crate) fn value(&mut self) -> Option<Vec<u8>> {
        if self.peek() == Some(b'"') {
            let mut v = Vec::new();
            self.quoted(&mut v);
            Some(v)
        } else {
            let t = self.token();
            (!t.is_empty()).then(|| t.to_vec())
        }
    }

    /// Consumes `b` when it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
}

/// A field value as IMAP returns an unstructured string (RFC 3501 §7.4.2):
/// leading white space dropped, line breaks of folding removed (the white
/// space after them kept), a NUL replaced by 0x80 as Dovecot does (an IMAP
/// string cannot hold NUL).
pub(crate) fn nolf(value: &[u8]) -> Vec<u8> {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(value.len());
    value[start..]
        .iter()
        .filter(|&&b| b != b'\r' && b != b'\n')
        .map(|&b| if b == 0 { 0x80 } else { b })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfws_comments_and_quotes() {
        let mut l = Lexer::new(b" (a (nested) \\) c)\r\n \"q\\\"x\r\n y\" t/x");
        l.skip_cfws();
        assert_eq!(l.last_comment.as_deref(), Some(&b"a (nested) ) c"[..]));
        let mut v = Vec::new();
        l.quoted(&mut v);
        assert_eq!(v, b"q\"x y");
        l.skip_cfws();
        assert_eq!(l.token(), b"t");
        assert!(l.eat(b'/'));
        assert_eq!(l.token(), b"x");
        assert!(l.at_end());
    }

    #[test]
    fn nolf_unfolds() {
        assert_eq!(nolf(b"  a\r\n\tb\0"), b"a\tb\x80");
    }
}

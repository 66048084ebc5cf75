//! Leniency: understanding the mistakes real servers make.
//!
//! The codec's parsers already accept the most common ones quietly (extra
//! spaces between items, `NIL` for a string, missing response text). When a
//! response still does not parse, the machine tries one small local repair
//! at the offset where parsing stopped, records it as a [`Defect`], and
//! parses again, up to [`MAX_REPAIRS`] times:
//!
//! ```text
//! * 1 FETCH (FLAGS (\Seen) UID 7))     stray ")"            -> removed
//! * 1 FETCH (FLAGS (\Seen) UID 7       "(" never closed     -> ")" added
//! * 1 FETCH (FLAGS (\Seen)UID 7)       space missing        -> inserted
//! * OK [UIDNEXT 99999999999] x         number out of range  -> 4294967295
//! ```
//!
//! A repair never touches the bytes of a literal (the parser takes them by
//! length and never fails inside one), so framing is unchanged. A response
//! that still fails is discarded whole (STYLE.md: never resync inside a unit).

use bytes::Bytes;

use super::event::{Defect, DefectKind};
use crate::parse::{self, ParseError};

/// Most repairs tried on one response.
pub(crate) const MAX_REPAIRS: usize = 8;

/// Repairs a response that failed to parse with `first`. Returns bytes that
/// parse and the repairs made, or `None` when no repair helps.
pub(crate) fn repair(bytes: &[u8], first: ParseError) -> Option<(Bytes, Vec<Defect>)> {
    let mut work = bytes.to_vec();
    let mut defects = Vec::new();
    let mut err = first;
    // Offsets in `work` move as bytes are inserted or removed; `shift` maps
    // them back to the response as received.
    let mut shift: isize = 0;
    for _ in 0..MAX_REPAIRS {
        let (kind, delta) = repair_at(&mut work, err)?;
        defects.push(Defect {
            kind,
            offset: (err.offset as isize - shift).max(0) as usize,
        });
        shift += delta;
        match parse::response(&work) {
            Ok(_) => return Some((Bytes::from(work), defects)),
            Err(e) => err = e,
        }
    }
    None
}

/// One repair at the failure offset; returns what it was and how many bytes
/// it added (negative: removed).
fn repair_at(work: &mut Vec<u8>, err: ParseError) -> Option<(DefectKind, isize)> {
    // Errors at or after the final CRLF are repaired before it.
    let o = err.offset.min(work.len().saturating_sub(2));
    let at = work.get(o).copied();
    let prev = o.checked_sub(1).and_then(|i| work.get(i)).copied();
    let depth = paren_depth(&work[..o]);
    let at_eol = at == Some(b'\r') || at.is_none();
    // A space where none belongs.
    if at == Some(b' ') {
        work.remove(o);
        return Some((DefectKind::ExtraSpace, -1));
    }
    if prev == Some(b' ') && (at == Some(b')') || at_eol) && o >= 1 {
        work.remove(o - 1);
        return Some((DefectKind::ExtraSpace, -1));
    }
    // A `)` with nothing open, or where the grammar wanted something else.
    if at == Some(b')')
        && (depth == 0 || (err.expected != ")" && !closes_all_after(&work[o..], depth)))
    {
        work.remove(o);
        return Some((DefectKind::StrayParenthesis, -1));
    }
    // The line ends while a list is open.
    if at_eol && depth > 0 {
        work.insert(o, b')');
        return Some((DefectKind::MissingParenthesis, 1));
    }
    // A number out of range: clamp it.
    if let Some(b) = at
        && b.is_ascii_digit()
    {
        let end = o + work[o..].iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = &work[o..end];
        let big = digits.len() > 10
            || std::str::from_utf8(digits)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .is_none_or(|n| n > u64::from(u32::MAX));
        if big {
            let clamped = u32::MAX.to_string();
            let delta = clamped.len() as isize - digits.len() as isize;
            work.splice(o..end, clamped.bytes());
            return Some((DefectKind::NumberOutOfRange, delta));
        }
    }
    // `NIL` where a string belongs.
    if work[o..].len() >= 3 && work[o..o + 3].eq_ignore_ascii_case(b"NIL") {
        work.splice(o..o + 3, *b"\"\"");
        return Some((DefectKind::NilForString, -1));
    }
    // Two items run together: `(\Seen)UID` or `"x"(`.
    if let (Some(p), Some(a)) = (prev, at)
        && p != b' '
        && a != b' '
        && matches!(p, b')' | b'"')
        && !at_eol
    {
        work.insert(o, b' ');
        return Some((DefectKind::MissingSpace, 1));
    }
    if err.expected == "SP"
        && let Some(a) = at
        && a != b' '
        && !at_eol
    {
        work.insert(o, b' ');
        return Some((DefectKind::MissingSpace, 1));
    }
    None
}

/// True if the `)`s at the start of `rest` (before CRLF) close exactly the
/// open lists, i.e. this `)` is not the stray one.
fn closes_all_after(rest: &[u8], depth: usize) -> bool {
    let closing = rest.iter().take_while(|&&b| b == b')').count();
    closing <= depth
}

/// How many parentheses are open at the end of `s`, outside quoted strings
/// and literals.
fn paren_depth(s: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => {
                i += 1;
                while i < s.len() && s[i] != b'"' {
                    if s[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' => {
                // `{n}CRLF` then n octets.
                let close = s[i..].iter().position(|&b| b == b'}');
                if let Some(c) = close {
                    let n = std::str::from_utf8(&s[i + 1..i + c])
                        .ok()
                        .and_then(|d| d.trim_end_matches('+').parse::<usize>().ok());
                    if let Some(n) = n
                        && s.get(i + c + 1..i + c + 3) == Some(b"\r\n")
                    {
                        i = i.saturating_add(c + 3).saturating_add(n);
                        continue;
                    }
                }
            }
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::response::{Data, Response};

    fn fix(s: &[u8]) -> (Vec<u8>, Vec<DefectKind>) {
        let e = parse::response(s).unwrap_err();
        let (b, d) = repair(s, e).unwrap();
        (b.to_vec(), d.iter().map(|d| d.kind).collect())
    }

    #[test]
    fn stray_parenthesis_removed() {
        let (b, d) = fix(b"* 1 FETCH (FLAGS (\\Seen) UID 7))\r\n");
        assert_eq!(b, b"* 1 FETCH (FLAGS (\\Seen) UID 7)\r\n");
        assert_eq!(d, [DefectKind::StrayParenthesis]);
    }

    #[test]
    fn missing_parenthesis_added() {
        let (b, d) = fix(b"* 1 FETCH (FLAGS (\\Seen) UID 7\r\n");
        assert_eq!(b, b"* 1 FETCH (FLAGS (\\Seen) UID 7)\r\n");
        assert_eq!(d, [DefectKind::MissingParenthesis]);
    }

    #[test]
    fn missing_space_inserted() {
        let (b, d) = fix(b"* 1 FETCH (FLAGS (\\Seen)UID 7)\r\n");
        assert_eq!(b, b"* 1 FETCH (FLAGS (\\Seen) UID 7)\r\n");
        assert_eq!(d, [DefectKind::MissingSpace]);
    }

    #[test]
    fn number_out_of_range_clamped() {
        let (b, d) = fix(b"* 1 FETCH (UID 99999999999)\r\n");
        assert_eq!(b, b"* 1 FETCH (UID 4294967295)\r\n");
        assert_eq!(d, [DefectKind::NumberOutOfRange]);
        let (r, _) = parse::response(&b).unwrap();
        assert!(matches!(r, Response::Data(Data::Fetch { .. })));
    }

    #[test]
    fn hopeless_input_is_an_error() {
        let s = b"\x01\x02\r\n";
        assert!(repair(s, parse::response(s).unwrap_err()).is_none());
    }
}

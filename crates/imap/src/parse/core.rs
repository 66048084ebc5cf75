//! Core rules: numbers, atoms, strings, literals, flags, mailboxes, sequence
//! sets and dates (RFC 3501 §9, RFC 9051 §9).

use std::borrow::Cow;
use std::num::NonZeroU32;

use nom::error::{ErrorKind, ParseError as NomParseError};
use nom::{Err, Parser};

use crate::types::core::{
    Atom, Binary, Date, DateTime, IString, MAX_OBJECT_ID, NString, Tag, Text, is_astring_char,
    is_atom_char, is_object_id_char,
};
use crate::types::fetch::Value;
use crate::types::flag::Flag;
use crate::types::mailbox::Mailbox;
use crate::types::secret::Vec1;
use crate::types::sequence::{SeqNum, SeqRange, SequenceSet};

/// The parsers' internal error: where it failed and what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PError<'a> {
    pub(crate) input: &'a [u8],
    pub(crate) expected: &'static str,
}

impl<'a> NomParseError<&'a [u8]> for PError<'a> {
    fn from_error_kind(input: &'a [u8], kind: ErrorKind) -> Self {
        let _ = kind;
        PError {
            input,
            expected: "valid syntax",
        }
    }

    fn append(_: &'a [u8], _: ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        // Report the alternative that got furthest.
        if other.input.len() <= self.input.len() {
            other
        } else {
            self
        }
    }
}

/// nom's result with our error.
pub(crate) type IResult<'a, O> = nom::IResult<&'a [u8], O, PError<'a>>;

/// Fails at `input`, saying what was expected.
#[inline]
pub(crate) fn fail<'a, O>(input: &'a [u8], expected: &'static str) -> IResult<'a, O> {
    Err(Err::Error(PError { input, expected }))
}

/// A short keyword upper-cased on the stack, for case-insensitive matching
/// without allocating. Words longer than the buffer, or not ASCII, match nothing.
pub(crate) struct Upper {
    buf: [u8; 24],
    len: usize,
}

impl Upper {
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// Upper-cases `s` into an [`Upper`].
#[inline]
pub(crate) fn upper(s: &[u8]) -> Upper {
    let mut u = Upper {
        buf: [0; 24],
        len: 0,
    };
    if s.len() <= u.buf.len() && s.is_ascii() {
        for (d, b) in u.buf.iter_mut().zip(s) {
            *d = b.to_ascii_uppercase();
        }
        u.len = s.len();
    }
    u
}

/// The maximum nesting of parenthesized structures (BODYSTRUCTURE, search keys, generic values).
pub(crate) const MAX_DEPTH: usize = 64;

/// Case-insensitive keyword.
#[inline]
pub(crate) fn tag_no_case<'a>(kw: &'static str) -> impl Fn(&'a [u8]) -> IResult<'a, &'a [u8]> {
    move |i: &'a [u8]| {
        let n = kw.len();
        if i.len() >= n && i[..n].eq_ignore_ascii_case(kw.as_bytes()) {
            Ok((&i[n..], &i[..n]))
        } else {
            fail(i, kw)
        }
    }
}

/// One byte.
#[inline]
pub(crate) fn byte<'a>(b: u8, expected: &'static str) -> impl Fn(&'a [u8]) -> IResult<'a, ()> {
    move |i: &'a [u8]| match i.first() {
        Some(&c) if c == b => Ok((&i[1..], ())),
        _ => fail(i, expected),
    }
}

/// `SP`; leniently one or more spaces.
#[inline]
pub(crate) fn sp(i: &[u8]) -> IResult<'_, ()> {
    let n = i.iter().take_while(|&&b| b == b' ').count();
    if n == 0 {
        fail(i, "SP")
    } else {
        Ok((&i[n..], ()))
    }
}

/// Any spaces (possibly none): trailing spaces servers leave before CRLF.
#[inline]
pub(crate) fn opt_sp(i: &[u8]) -> &[u8] {
    let n = i.iter().take_while(|&&b| b == b' ').count();
    &i[n..]
}

/// `CRLF`, after any trailing spaces.
#[inline]
pub(crate) fn crlf(i: &[u8]) -> IResult<'_, ()> {
    let i = opt_sp(i);
    if i.starts_with(b"\r\n") {
        Ok((&i[2..], ()))
    } else {
        fail(i, "CRLF")
    }
}

/// `number = 1*DIGIT` (32 bit).
#[inline]
pub(crate) fn number(i: &[u8]) -> IResult<'_, u32> {
    let (rest, n) = number64(i)?;
    match u32::try_from(n) {
        Ok(n) => Ok((rest, n)),
        Err(_) => fail(i, "number (32 bit)"),
    }
}

/// `number64` (RFC 9051) / `mod-sequence-value` (63 bit).
#[inline]
pub(crate) fn number64(i: &[u8]) -> IResult<'_, u64> {
    let mut n: u64 = 0;
    let mut len = 0;
    for &b in i {
        if !b.is_ascii_digit() {
            break;
        }
        n = match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
        {
            Some(n) if n <= i64::MAX as u64 => n,
            _ => return fail(i, "number (63 bit)"),
        };
        len += 1;
    }
    if len == 0 {
        fail(i, "number")
    } else {
        Ok((&i[len..], n))
    }
}

/// `nz-number`.
#[inline]
pub(crate) fn nz_number(i: &[u8]) -> IResult<'_, NonZeroU32> {
    let (rest, n) = number(i)?;
    match NonZeroU32::new(n) {
        Some(n) => Ok((rest, n)),
        None => fail(i, "non-zero number"),
    }
}

/// `partial-range` (RFC 9394 §3.1): `nz-number ":" nz-number`, or both
/// with a minus sign (counted from the end).
pub(crate) fn partial_range(i: &[u8]) -> IResult<'_, crate::types::command::PartialRange> {
    let from_end = i.first() == Some(&b'-');
    let (j, first) = nz_number(&i[usize::from(from_end)..])?;
    let (j, _) = byte(b':', "':'")(j)?;
    let (j, _) = if from_end {
        byte(b'-', "'-'")(j)?
    } else {
        (j, ())
    };
    let (j, last) = nz_number(j)?;
    Ok((
        j,
        crate::types::command::PartialRange {
            from_end,
            first,
            last,
        },
    ))
}

#[inline]
fn take_while1_str<'a>(
    i: &'a [u8],
    ok: impl Fn(u8) -> bool,
    expected: &'static str,
) -> IResult<'a, &'a str> {
    let n = i.iter().take_while(|&&b| ok(b)).count();
    if n == 0 {
        return fail(i, expected);
    }
    match std::str::from_utf8(&i[..n]) {
        Ok(s) => Ok((&i[n..], s)),
        Err(_) => fail(i, expected),
    }
}

/// `atom = 1*ATOM-CHAR`.
#[inline]
pub(crate) fn atom(i: &[u8]) -> IResult<'_, Atom<'_>> {
    let (rest, s) = take_while1_str(i, is_atom_char, "atom")?;
    // The grammar just proved every byte an ATOM-CHAR.
    Ok((rest, Atom::unvalidated(s)))
}

/// `objectid = 1*255(ALPHA / DIGIT / "_" / "-")` (RFC 8474 §7), case kept
/// as sent (objectids are case-sensitive). A longer run of such bytes is
/// refused whole, never cut at 255.
pub(crate) fn objectid(i: &[u8]) -> IResult<'_, Atom<'_>> {
    const EXPECTED: &str = "objectid (1 to 255 of ALPHA, DIGIT, \"_\", \"-\")";
    let (rest, s) = take_while1_str(i, is_object_id_char, EXPECTED)?;
    if s.len() > MAX_OBJECT_ID {
        return fail(i, EXPECTED);
    }
    // Letters, digits, `_` and `-` are all ATOM-CHARs: the bytes just
    // checked are a valid atom.
    Ok((rest, Atom::unvalidated(s)))
}

/// `"(" objectid ")"` (RFC 8474 §7: `fetch-emailid-resp`, the MAILBOXID
/// response code and STATUS item).
pub(crate) fn paren_objectid(i: &[u8]) -> IResult<'_, Atom<'_>> {
    let (i, _) = byte(b'(', "'('")(i)?;
    let (i, id) = objectid(i)?;
    let (i, _) = byte(b')', "')'")(i)?;
    Ok((i, id))
}

/// `tag = 1*<any ASTRING-CHAR except "+">`.
pub(crate) fn tag(i: &[u8]) -> IResult<'_, Tag<'_>> {
    let (rest, s) = take_while1_str(i, |b| is_astring_char(b) && b != b'+', "tag")?;
    // Every byte was checked against the tag grammar just above.
    Ok((rest, Tag::unvalidated(s)))
}

/// The bytes that stop the scan of a quoted string: DQUOTE, backslash, CR, LF, NUL.
static QUOTED_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t[0] = true;
    t
};

/// Whether any of the eight bytes in `w` is DQUOTE, backslash, CR, LF or NUL.
#[inline]
fn has_quoted_special(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    (zero(w ^ (LO * 0x22))
        | zero(w ^ (LO * 0x5c))
        | zero(w ^ (LO * 0x0d))
        | zero(w ^ (LO * 0x0a))
        | zero(w))
        != 0
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, 8-bit allowed (RFC 9051 `QUOTED-CHAR` / UTF-8).
#[inline]
pub(crate) fn quoted(i: &[u8]) -> IResult<'_, IString<'_>> {
    if i.first() != Some(&b'"') {
        return fail(i, "quoted string");
    }
    let body = &i[1..];
    let mut owned: Option<Vec<u8>> = None;
    let mut start = 0;
    loop {
        // Strings are short: eight bytes at a time (SWAR), then a table lookup
        // per byte, beat a SIMD search's setup.
        let mut k = start;
        while k + 8 <= body.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&body[k..k + 8]);
            if has_quoted_special(u64::from_le_bytes(w)) {
                break;
            }
            k += 8;
        }
        while k < body.len() && !QUOTED_SPECIAL[usize::from(body[k])] {
            k += 1;
        }
        if k == body.len() {
            return fail(&body[k..], "closing DQUOTE");
        }
        match body[k] {
            b'"' => {
                let value = match owned {
                    None => Cow::Borrowed(&body[..k]),
                    Some(mut v) => {
                        v.extend_from_slice(&body[start..k]);
                        Cow::Owned(v)
                    }
                };
                // No NUL, CR or LF: the scan stops at each and refuses it below.
                return Ok((&body[k + 1..], IString::unvalidated(value)));
            }
            b'\\' => {
                let Some(&next) = body.get(k + 1) else {
                    return fail(&body[k..], "quoted-special");
                };
                if next != b'"' && next != b'\\' {
                    return fail(&body[k + 1..], "quoted-special after backslash");
                }
                let v = owned.get_or_insert_with(Vec::new);
                v.extend_from_slice(&body[start..k]);
                v.push(next);
                start = k + 2;
            }
            _ => return fail(&body[k..], "QUOTED-CHAR"),
        }
    }
}

/// The head of a literal: `"{" number64 ["+"] "}" CRLF`; returns the length.
#[inline]
pub(crate) fn literal_head(i: &[u8]) -> IResult<'_, u64> {
    let (i, _) = byte(b'{', "literal")(i)?;
    let (i, n) = number64(i)?;
    let i = match i.first() {
        Some(b'+') => &i[1..],
        _ => i,
    };
    let (i, _) = byte(b'}', "'}'")(i)?;
    if !i.starts_with(b"\r\n") {
        return fail(i, "CRLF after literal length");
    }
    Ok((&i[2..], n))
}

/// Takes `n` octets after a literal head: O(1), the bytes are never scanned.
#[inline]
fn literal_data(i: &[u8], n: u64) -> IResult<'_, &[u8]> {
    match usize::try_from(n) {
        Ok(n) if n <= i.len() => Ok((&i[n..], &i[..n])),
        _ => fail(i, "literal data (input ends early)"),
    }
}

/// `literal = "{" number64 ["+"] "}" CRLF *CHAR8`. Refuses NUL (only `literal8` may carry it).
pub(crate) fn literal(i: &[u8]) -> IResult<'_, IString<'_>> {
    let (rest, n) = literal_head(i)?;
    let (rest, data) = literal_data(rest, n)?;
    // The literal's bytes are not scanned (O(1) whatever its size): a NUL the
    // peer put in one is passed through, and the encoder sends it back as a literal.
    Ok((rest, IString::from_literal(data)))
}

/// `literal8 = "~{" number64 "}" CRLF *OCTET` or a plain literal (RFC 3516).
pub(crate) fn literal8_or_literal(i: &[u8]) -> IResult<'_, Binary<'_>> {
    let j = if i.first() == Some(&b'~') { &i[1..] } else { i };
    let (rest, n) = literal_head(j)?;
    let (rest, data) = literal_data(rest, n)?;
    Ok((rest, Binary(Cow::Borrowed(data))))
}

/// `string = quoted / literal`.
#[inline]
pub(crate) fn string(i: &[u8]) -> IResult<'_, IString<'_>> {
    match i.first() {
        Some(b'"') => quoted(i),
        Some(b'{') => literal(i),
        _ => fail(i, "string"),
    }
}

/// `astring = 1*ASTRING-CHAR / string`.
#[inline]
pub(crate) fn astring(i: &[u8]) -> IResult<'_, IString<'_>> {
    match i.first() {
        Some(b'"') => quoted(i),
        Some(b'{') => literal(i),
        _ => {
            let n = i.iter().take_while(|&&b| is_astring_char(b)).count();
            if n == 0 {
                return fail(i, "astring");
            }
            // ASTRING-CHARs hold no NUL.
            Ok((&i[n..], IString::unvalidated(&i[..n])))
        }
    }
}

/// `nil = "NIL"`.
#[inline]
pub(crate) fn nil(i: &[u8]) -> IResult<'_, ()> {
    if i.len() >= 3
        && i[..3].eq_ignore_ascii_case(b"NIL")
        && !i.get(3).is_some_and(|&b| is_astring_char(b))
    {
        Ok((&i[3..], ()))
    } else {
        fail(i, "NIL")
    }
}

/// `x / nil`: NIL as `None`, else what `x` parses (its error when it
/// does not).
#[inline]
pub(crate) fn or_nil<'a, T>(
    i: &'a [u8],
    x: impl FnOnce(&'a [u8]) -> IResult<'a, T>,
) -> IResult<'a, Option<T>> {
    match nil(i) {
        Ok((r, ())) => Ok((r, None)),
        Err(_) => x(i).map(|(r, v)| (r, Some(v))),
    }
}

/// `nstring = string / nil`.
#[inline]
pub(crate) fn nstring(i: &[u8]) -> IResult<'_, NString<'_>> {
    match i.first() {
        Some(b'"') => quoted(i).map(|(r, s)| (r, Some(s))),
        Some(b'{') => literal(i).map(|(r, s)| (r, Some(s))),
        _ => nil(i).map(|(r, ())| (r, None)),
    }
}

/// A `string` where servers sometimes send `NIL` (lenient): NIL gives "".
#[inline]
pub(crate) fn string_or_nil(i: &[u8]) -> IResult<'_, IString<'_>> {
    nstring(i).map(|(r, s)| (r, s.unwrap_or_else(|| IString::unvalidated(&b""[..]))))
}

/// `text = 1*TEXT-CHAR`, leniently empty: everything up to CRLF.
pub(crate) fn text(i: &[u8]) -> IResult<'_, Text<'_>> {
    let n = memchr::memchr2(b'\r', b'\n', i).unwrap_or(i.len());
    let t = &i[..n];
    if t.contains(&0) {
        return fail(i, "TEXT-CHAR");
    }
    if crate::fragment::literal_announcement(t).is_some() {
        return fail(i, "text not ending in a literal announcement");
    }
    // No CR, LF (memchr stopped there) or NUL, nor a literal-like end (checked).
    Ok((&i[n..], Text::unvalidated(t)))
}

/// `mailbox = "INBOX" / astring`.
#[inline]
pub(crate) fn mailbox(i: &[u8]) -> IResult<'_, Mailbox<'_>> {
    astring(i).map(|(r, s)| (r, Mailbox::new(s)))
}

/// `flag`, `flag-fetch`, `flag-perm` (`\*` included).
pub(crate) fn flag(i: &[u8]) -> IResult<'_, Flag<'_>> {
    if i.first() == Some(&b'\\') {
        let j = &i[1..];
        if j.first() == Some(&b'*') {
            return Ok((&j[1..], Flag::Wildcard));
        }
        let (rest, a) = atom(j)?;
        let f = match upper(a.as_str().as_bytes()).as_bytes() {
            b"ANSWERED" => Flag::Answered,
            b"FLAGGED" => Flag::Flagged,
            b"DELETED" => Flag::Deleted,
            b"SEEN" => Flag::Seen,
            b"DRAFT" => Flag::Draft,
            b"RECENT" => Flag::Recent,
            _ => Flag::Extension(a),
        };
        Ok((rest, f))
    } else {
        atom(i).map(|(r, a)| (r, Flag::Keyword(a)))
    }
}

/// A parenthesized, space-separated list, possibly empty; lenient about extra spaces.
#[inline]
pub(crate) fn paren_list<'a, O>(
    i: &'a [u8],
    item: impl FnMut(&'a [u8]) -> IResult<'a, O>,
) -> IResult<'a, Vec<O>> {
    paren_list_with_capacity(i, 0, item)
}

/// [`paren_list`] with room for `cap` items reserved up front.
pub(crate) fn paren_list_with_capacity<'a, O>(
    i: &'a [u8],
    cap: usize,
    item: impl FnMut(&'a [u8]) -> IResult<'a, O>,
) -> IResult<'a, Vec<O>> {
    list_items(i, cap, true, item)
}

/// [`paren_list`] without its leniency about a line break between items:
/// for a response code's list, which ends on its line (else what follows
/// the response could make a code of it).
pub(crate) fn paren_list_in_line<'a, O>(
    i: &'a [u8],
    item: impl FnMut(&'a [u8]) -> IResult<'a, O>,
) -> IResult<'a, Vec<O>> {
    list_items(i, 0, false, item)
}

/// A parenthesized list of `item`s; `breaks`: a line break between items
/// is taken as a space.
fn list_items<'a, O>(
    i: &'a [u8],
    cap: usize,
    breaks: bool,
    mut item: impl FnMut(&'a [u8]) -> IResult<'a, O>,
) -> IResult<'a, Vec<O>> {
    let (mut i, _) = byte(b'(', "'('")(i)?;
    let mut out = Vec::with_capacity(cap);
    loop {
        i = opt_sp(i);
        if breaks && i.starts_with(b"\r\n") && !out.is_empty() {
            // Lenient: a line break between items (a server that miscounted a
            // literal, with FragmentOptions::blank_line_after_literal_continues).
            i = opt_sp(&i[2..]);
        }
        if let Some(b')') = i.first() {
            return Ok((&i[1..], out));
        }
        let (rest, v) = item(i)?;
        out.push(v);
        i = rest;
        match i.first() {
            // Lenient: `)(` with no space between list items (Gmail addresses).
            Some(b' ') | Some(b')') | Some(b'(') | Some(b'\r') => {}
            _ => return fail(i, "SP or ')'"),
        }
    }
}

/// Items separated by SP (at least one), stopping before anything else.
pub(crate) fn sp_list1<'a, O>(
    i: &'a [u8],
    mut item: impl FnMut(&'a [u8]) -> IResult<'a, O>,
) -> IResult<'a, Vec<O>> {
    let (mut i, first) = item(i)?;
    let mut out = vec![first];
    loop {
        let Ok((j, ())) = sp(i) else {
            return Ok((i, out));
        };
        match item(j) {
            Ok((rest, v)) => {
                out.push(v);
                i = rest;
            }
            Err(Err::Error(_)) => return Ok((i, out)),
            Err(e) => return Err(e),
        }
    }
}

/// `flag-list = "(" [flag *(SP flag)] ")"`.
#[inline]
pub(crate) fn flag_list(i: &[u8]) -> IResult<'_, Vec<Flag<'_>>> {
    paren_list(i, flag)
}

/// `seq-number = nz-number / "*"`.
#[inline]
fn seq_number(i: &[u8]) -> IResult<'_, SeqNum> {
    if i.first() == Some(&b'*') {
        return Ok((&i[1..], SeqNum::Largest));
    }
    nz_number(i).map(|(r, n)| (r, SeqNum::Value(n)))
}

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]` / `"$"`.
pub(crate) fn sequence_set(i: &[u8]) -> IResult<'_, SequenceSet> {
    if i.first() == Some(&b'$') {
        return Ok((&i[1..], SequenceSet::Saved));
    }
    let (rest, first) = seq_range(i)?;
    let mut out = Vec1::one(first);
    let mut i = rest;
    while i.first() == Some(&b',') {
        let (rest, r) = seq_range(&i[1..])?;
        out.push(r);
        i = rest;
    }
    Ok((i, SequenceSet::Set(out)))
}

/// `seq-number / seq-range`.
fn seq_range(i: &[u8]) -> IResult<'_, SeqRange> {
    {
        let (rest, a) = seq_number(i)?;
        let (rest, r) = if rest.first() == Some(&b':') {
            let (rest, b) = seq_number(&rest[1..])?;
            (rest, SeqRange::Range(a, b))
        } else {
            (rest, SeqRange::Single(a))
        };
        Ok((rest, r))
    }
}

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

fn month(i: &[u8]) -> IResult<'_, u8> {
    if i.len() >= 3 {
        let m = [
            i[0].to_ascii_lowercase(),
            i[1].to_ascii_lowercase(),
            i[2].to_ascii_lowercase(),
        ];
        if let Some(k) = MONTHS.iter().position(|x| **x == m) {
            return Ok((&i[3..], k as u8 + 1));
        }
    }
    fail(i, "month name")
}

fn digits(i: &[u8], n: usize) -> IResult<'_, u32> {
    if i.len() >= n && i[..n].iter().all(u8::is_ascii_digit) {
        let v = i[..n]
            .iter()
            .fold(0u32, |a, &b| a * 10 + u32::from(b - b'0'));
        Ok((&i[n..], v))
    } else {
        fail(i, "digits")
    }
}

fn date_text(i: &[u8]) -> IResult<'_, Date> {
    let (i, day) = if i.len() > 1 && i[1].is_ascii_digit() {
        digits(i, 2)?
    } else {
        digits(i, 1)?
    };
    let (i, _) = byte(b'-', "'-'")(i)?;
    let (i, m) = month(i)?;
    let (i, _) = byte(b'-', "'-'")(i)?;
    let (rest, y) = digits(i, 4)?;
    match Date::new(y as u16, m, day as u8) {
        Ok(d) => Ok((rest, d)),
        Err(_) => fail(i, "valid date"),
    }
}

/// `date = date-text / DQUOTE date-text DQUOTE`.
pub(crate) fn date(i: &[u8]) -> IResult<'_, Date> {
    if i.first() == Some(&b'"') {
        let (i, d) = date_text(&i[1..])?;
        let (i, _) = byte(b'"', "DQUOTE")(i)?;
        Ok((i, d))
    } else {
        date_text(i)
    }
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`.
pub(crate) fn date_time(i: &[u8]) -> IResult<'_, DateTime> {
    let start = i;
    let (i, _) = byte(b'"', "date-time")(i)?;
    let i = if i.first() == Some(&b' ') { &i[1..] } else { i };
    let (i, d) = date_text(i)?;
    let (i, _) = byte(b' ', "SP")(i)?;
    let (i, h) = digits(i, 2)?;
    let (i, _) = byte(b':', "':'")(i)?;
    let (i, mi) = digits(i, 2)?;
    let (i, _) = byte(b':', "':'")(i)?;
    let (i, s) = digits(i, 2)?;
    let (i, _) = byte(b' ', "SP")(i)?;
    let (sign, i) = match i.first() {
        Some(b'+') => (1i16, &i[1..]),
        Some(b'-') => (-1i16, &i[1..]),
        _ => return fail(i, "zone sign"),
    };
    let (i, zh) = digits(i, 2)?;
    let (i, zm) = digits(i, 2)?;
    let (i, _) = byte(b'"', "DQUOTE")(i)?;
    let zone = sign * (zh as i16 * 60 + zm as i16);
    match DateTime::new(d, h as u8, mi as u8, s as u8, zone) {
        Ok(dt) => Ok((i, dt)),
        Err(_) => fail(start, "valid date-time"),
    }
}

/// A generic value of an unknown item: nil, number, string, list, flag or atom.
pub(crate) fn value(i: &[u8], depth: usize) -> IResult<'_, Value<'_>> {
    if depth > MAX_DEPTH {
        return fail(i, "nesting within the depth limit");
    }
    match i.first() {
        Some(b'(') => paren_list(i, |j| value(j, depth + 1)).map(|(r, v)| (r, Value::List(v))),
        Some(b'"') | Some(b'{') => string(i).map(|(r, s)| (r, Value::String(s))),
        Some(b'\\') => {
            let (r, a) = atom(&i[1..])?;
            Ok((r, Value::Flag(a)))
        }
        Some(b) if b.is_ascii_digit() => {
            if let Ok((r, n)) = number64(i)
                && !r.first().is_some_and(|&b| is_atom_char(b))
            {
                return Ok((r, Value::Number(n)));
            }
            atom(i).map(|(r, a)| (r, Value::Atom(a)))
        }
        _ => {
            if let Ok((r, ())) = nil(i) {
                return Ok((r, Value::Nil));
            }
            atom(i).map(|(r, a)| (r, Value::Atom(a)))
        }
    }
}

/// Runs `p` and requires it to end the input (after trailing spaces and CRLF).
#[allow(dead_code)]
pub(crate) fn all_consuming_line<'a, O>(
    mut p: impl Parser<&'a [u8], Output = O, Error = PError<'a>>,
    i: &'a [u8],
) -> IResult<'a, O> {
    let (i, o) = p.parse(i)?;
    let (i, ()) = crlf(i)?;
    Ok((i, o))
}

/// Turns a parsed list into a [`Vec1`](crate::Vec1), failing at `at` when it is empty.
pub(crate) fn vec1<'a, O>(
    at: &'a [u8],
    rest: &'a [u8],
    v: Vec<O>,
    expected: &'static str,
) -> IResult<'a, crate::Vec1<O>> {
    match crate::Vec1::try_from(v) {
        Ok(v) => Ok((rest, v)),
        Err(_) => fail(at, expected),
    }
}

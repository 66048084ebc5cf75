//! Parsers: SMTP command lines, replies and EHLO capabilities.
//!
//! Two layers (STYLE.md (b)): [`reply_frame`] finds where a complete,
//! possibly multi-line reply ends in a stream; [`parse_reply`] and
//! [`parse_command`] then parse one complete unit in one hand-written pass
//! and borrow from it ([`ehlo_frame`] frames and reads an EHLO reply in
//! one). The earlier parsers (nom combinators, then the first hand-written
//! command parser) are kept in the tests as the oracles the fast ones must
//! agree with.

use std::borrow::Cow;

use crate::types::*;

/// The result of a streaming framer: a complete unit of `n` bytes, or more
/// input needed. Partial is never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A complete unit.
    Complete(T),
    /// Not enough input yet.
    Partial,
}

/// Why a command or reply could not be parsed. Each maps to the reply a
/// server sends for it ([`ParseError::reply_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The verb is not an SMTP command (500 5.5.1).
    #[error("command not recognized")]
    UnknownCommand,
    /// The arguments do not follow the grammar (501 5.5.4, or 500 5.5.2 for
    /// a reply).
    #[error("syntax error in parameters or arguments")]
    Syntax,
    /// A path is malformed (501 5.1.3 / 5.1.7).
    #[error("bad address syntax")]
    BadPath,
    /// A path, local part or domain is over its RFC 5321 §4.5.3.1 limit
    /// (501 5.1.3).
    #[error("address too long")]
    PathTooLong,
    /// A MAIL/RCPT parameter has a bad value (501 5.5.4).
    #[error("bad parameter value")]
    BadParameter,
    /// A MAIL/RCPT parameter appears twice (501 5.5.4).
    #[error("duplicate parameter")]
    DuplicateParameter,
    /// A reply line is malformed, or the lines of a reply disagree on the code.
    #[error("malformed reply")]
    BadReply,
}

impl ParseError {
    /// The server's reply code and RFC 3463 enhanced code for this error.
    pub fn reply_code(self) -> (u16, (u8, u16, u16)) {
        match self {
            ParseError::UnknownCommand => (500, (5, 5, 1)),
            ParseError::Syntax | ParseError::BadReply => (501, (5, 5, 4)),
            ParseError::BadPath => (501, (5, 1, 3)),
            ParseError::PathTooLong => (501, (5, 1, 3)),
            ParseError::BadParameter | ParseError::DuplicateParameter => (501, (5, 5, 4)),
        }
    }
}

/// Why the reply framer gave up. Fatal for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A reply line is longer than the limit.
    #[error("reply line too long")]
    LineTooLong,
    /// A reply has more lines than the limit.
    #[error("too many reply lines")]
    TooManyLines,
    /// A line does not start with three digits and a separator, or ends
    /// with a bare LF.
    #[error("malformed reply line")]
    Malformed,
}

/// `b` as a `&str`, or `Syntax` when it is not UTF-8.
///
/// Command lines are almost always ASCII: `is_ascii` checks them a word
/// at a time, which costs a fraction of `from_utf8` on short arguments
/// (`from_utf8` goes byte by byte up to the first aligned word, and was
/// about a seventh of the command mix's time); any other line goes through
/// `from_utf8`.
#[inline]
fn bytes_str(b: &[u8]) -> Result<&str, ParseError> {
    if b.is_ascii() {
        #[allow(unsafe_code)]
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(b) });
    }
    std::str::from_utf8(b).map_err(|_| ParseError::Syntax)
}

// Line scanning. Command and reply lines are short (mostly under 64
// octets), where the set-up of a SIMD search costs more than the search: the
// first 64 octets are scanned a word at a time (SWAR), the rest with memchr.

const SWAR_SPAN: usize = 64;
const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `v` that is zero. Bits above the first zero
/// byte may be false positives; the lowest set bit is exact.
#[inline(always)]
const fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// The index of the first byte of `hay` for which `hit` (on a byte) holds,
/// with `mask` giving the SWAR version on a little-endian word.
#[inline(always)]
fn find_by(
    hay: &[u8],
    mask: impl Fn(u64) -> u64,
    hit: impl Fn(u8) -> bool,
    long: impl Fn(&[u8]) -> Option<usize>,
) -> Option<usize> {
    let span = hay.len().min(SWAR_SPAN);
    let mut i = 0;
    while i + 8 <= span {
        let m = mask(word(&hay[i..]));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if hay.len() > SWAR_SPAN {
        return long(&hay[i..]).map(|j| i + j);
    }
    if i < hay.len() && hay.len() >= 8 {
        // The last (partial) word: reload the final eight bytes. The bytes
        // before `i` were searched and hold no hit, so no false positive
        // either: the lowest bit is the first hit at or after `i`.
        let start = hay.len() - 8;
        let m = mask(word(&hay[start..]));
        return (m != 0).then(|| start + (m.trailing_zeros() / 8) as usize);
    }
    hay[i..].iter().position(|&c| hit(c)).map(|j| i + j)
}

/// The index of the first `b` in `hay`.
#[inline(always)]
fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    find_by(
        hay,
        |w| zero_bytes(w ^ (LO * u64::from(b))),
        |c| c == b,
        |h| memchr::memchr(b, h),
    )
}

/// The index of the first LF in `hay`: mailwire-line's short-line search (a
/// 64-byte window at once).
#[inline(always)]
fn find_lf(hay: &[u8]) -> Option<usize> {
    mailwire_line::find_lf(hay)
}

/// Finds the end of the first command line in `input` (RFC 5321 §2.3.8:
/// CRLF only). Returns `Complete(n)` with the length including the CRLF.
/// A bare LF or a line longer than `max_len` (CRLF included) is an error.
#[inline]
pub fn command_frame(input: &[u8], max_len: usize) -> Result<Status<usize>, FrameError> {
    match find_lf(input) {
        None if input.len() >= max_len => Err(FrameError::LineTooLong),
        None => Ok(Status::Partial),
        Some(lf) if lf + 1 > max_len => Err(FrameError::LineTooLong),
        Some(lf) if lf == 0 || input[lf - 1] != b'\r' => Err(FrameError::Malformed),
        Some(lf) => Ok(Status::Complete(lf + 1)),
    }
}

const fn verb(v: &[u8; 4]) -> u32 {
    u32::from_le_bytes([v[0] | 0x20, v[1] | 0x20, v[2] | 0x20, v[3] | 0x20])
}

const V_MAIL: u32 = verb(b"MAIL");
const V_RCPT: u32 = verb(b"RCPT");
const V_DATA: u32 = verb(b"DATA");
const V_BDAT: u32 = verb(b"BDAT");
const V_EHLO: u32 = verb(b"EHLO");
const V_HELO: u32 = verb(b"HELO");
const V_RSET: u32 = verb(b"RSET");
const V_QUIT: u32 = verb(b"QUIT");
const V_NOOP: u32 = verb(b"NOOP");
const V_HELP: u32 = verb(b"HELP");
const V_VRFY: u32 = verb(b"VRFY");
const V_EXPN: u32 = verb(b"EXPN");
const V_AUTH: u32 = verb(b"AUTH");

/// Parses one command line (without its CRLF): RFC 5321 §4.1.1 and the
/// commands of RFC 3030, 3207 and 4954. The verb is case-insensitive.
///
/// ```text
/// mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
/// rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
///        Forward-path ) [SP Rcpt-parameters] CRLF
/// ```
///
/// ```
/// use mailwire_smtp::{parse_command, Command};
/// let cmd = parse_command(b"RCPT TO:<bob@example.org> NOTIFY=FAILURE").unwrap();
/// assert!(matches!(cmd, Command::Rcpt(..)));
/// ```
#[inline]
pub fn parse_command(line: &[u8]) -> Result<Command<'_>, ParseError> {
    // The verbs without an argument are answered here, inlined into the
    // caller, so the caller's frame holds the command without a copy out of
    // a returned value (a copy that stalls on its partly written bytes).
    if let &[a, b, c, d] = line {
        match verb(&[a, b, c, d]) {
            V_DATA => return Ok(Command::Data),
            V_RSET => return Ok(Command::Rset),
            V_QUIT => return Ok(Command::Quit),
            V_NOOP => return Ok(Command::Noop(None)),
            _ => {}
        }
    }
    parse_command_line(line)
}

/// [`parse_command`] for every line.
fn parse_command_line(line: &[u8]) -> Result<Command<'_>, ParseError> {
    // Almost every verb has four letters: look there before searching.
    let verb_len = if line.len() == 4 || line.get(4) == Some(&b' ') {
        4
    } else {
        line.iter().position(|&b| b == b' ').unwrap_or(line.len())
    };
    let (v, rest) = line.split_at(verb_len);
    // `rest` is empty or starts with the single SP.
    let has_arg = !rest.is_empty();
    let arg = || -> Result<&str, ParseError> { bytes_str(&rest[1..]) };
    match v.len() {
        4 => {
            let w = u32::from_le_bytes([v[0] | 0x20, v[1] | 0x20, v[2] | 0x20, v[3] | 0x20]);
            match w {
                V_MAIL if has_arg => mail(arg()?),
                V_RCPT if has_arg => rcpt(arg()?),
                V_MAIL | V_RCPT => Err(ParseError::Syntax),
                V_DATA if rest.is_empty() => Ok(Command::Data),
                V_BDAT => bdat(rest.get(1..).unwrap_or(b"")),
                V_EHLO => host_arg(rest).map(Command::Ehlo),
                V_HELO => host_arg(rest).map(Command::Helo),
                V_RSET if rest.is_empty() => Ok(Command::Rset),
                V_QUIT if rest.is_empty() => Ok(Command::Quit),
                V_DATA | V_RSET | V_QUIT => Err(ParseError::Syntax),
                V_NOOP => opt_text(rest).map(Command::Noop),
                V_HELP => opt_text(rest).map(Command::Help),
                V_VRFY => text_arg(rest).map(Command::Vrfy),
                V_EXPN => text_arg(rest).map(Command::Expn),
                V_AUTH => auth(rest.get(1..).unwrap_or(b"")),
                _ => Err(ParseError::UnknownCommand),
            }
        }
        8 if v.eq_ignore_ascii_case(b"STARTTLS") => {
            if rest.is_empty() {
                Ok(Command::StartTls)
            } else {
                Err(ParseError::Syntax)
            }
        }
        _ => Err(ParseError::UnknownCommand),
    }
}

fn host_arg(rest: &[u8]) -> Result<Host<'_>, ParseError> {
    let arg = rest.get(1..).ok_or(ParseError::Syntax)?;
    Host::try_from(bytes_str(arg)?).map_err(|_| ParseError::Syntax)
}

fn text_arg(rest: &[u8]) -> Result<Text<'_>, ParseError> {
    let arg = rest.get(1..).ok_or(ParseError::Syntax)?;
    if arg.is_empty() {
        return Err(ParseError::Syntax);
    }
    Text::try_from(bytes_str(arg)?).map_err(|_| ParseError::Syntax)
}

fn opt_text(rest: &[u8]) -> Result<Option<Text<'_>>, ParseError> {
    if rest.is_empty() {
        Ok(None)
    } else {
        text_arg(rest).map(Some)
    }
}

/// Parses 1 to 20 ASCII digits.
#[inline]
pub(crate) fn digits_u64(d: &[u8]) -> Option<u64> {
    leading_u64(d)
        .filter(|&(_, len)| len == d.len())
        .map(|(n, _)| n)
}

/// The number the ASCII digits at the start of `d` spell and how many
/// there are, read in one pass: `None` for none, more than 20 (at most 21
/// are looked at), or a number past `u64`.
///
/// Nineteen digits never pass `u64::MAX` (10^19 - 1 < 2^64), so only a
/// twentieth is checked for overflow: the digits before it cost an add and
/// a multiply by ten that the compiler makes two `lea`s, where a checked
/// multiply waited on `mul` and its overflow flag at each digit (`SIZE=`
/// in a MAIL command, a BDAT chunk size).
#[inline]
fn leading_u64(d: &[u8]) -> Option<(u64, usize)> {
    let digit = |at: usize| d.get(at).map(|b| b.wrapping_sub(b'0')).filter(|&x| x <= 9);
    let mut n: u64 = 0;
    let mut len = 0;
    while len < 19 {
        let Some(x) = digit(len) else {
            break;
        };
        n = n * 10 + u64::from(x);
        len += 1;
    }
    if len == 19
        && let Some(x) = digit(19)
    {
        n = n.checked_mul(10)?.checked_add(u64::from(x))?;
        len = 20;
        if digit(20).is_some() {
            return None;
        }
    }
    (len > 0).then_some((n, len))
}

/// `BDAT SP chunk-size [SP "LAST"]` after the verb and its space
/// (RFC 3030 §2): `chunk-size = 1*DIGIT` (at most 20, as [`digits_u64`]),
/// `LAST` in any case. One pass over the digits ([`leading_u64`]), and
/// `LAST` compared as one word ([`is_word`]).
#[inline]
fn bdat(arg: &[u8]) -> Result<Command<'static>, ParseError> {
    let (size, digits) = leading_u64(arg).ok_or(ParseError::Syntax)?;
    let last = match &arg[digits..] {
        [] => false,
        [b' ', l @ ..] if is_word(l, b"LAST") => true,
        _ => return Err(ParseError::Syntax),
    };
    Ok(Command::Bdat { size, last })
}

fn auth(arg: &[u8]) -> Result<Command<'_>, ParseError> {
    let arg = bytes_str(arg)?;
    let (mech, ir) = match split_at_byte(arg, b' ') {
        Some((m, ir)) => (m, Some(ir)),
        None => (arg, None),
    };
    let mech = Mechanism::try_from(mech).map_err(|_| ParseError::Syntax)?;
    let ir = match ir {
        Some(ir) => Some(InitialResponse::new(ir).map_err(|_| ParseError::Syntax)?),
        None => None,
    };
    Ok(Command::Auth(mech, ir))
}

/// `"<" [ A-d-l ":" ] Mailbox ">"` or `"<>"` at the start of `input`
/// (RFC 5321 §4.1.2): the mailbox (`None` for the null path; a source
/// route is checked and dropped, as RFC 5321 §4.1.2 and Appendix C allow)
/// and the offset just after the closing `>`.
///
/// One pass over the bytes checks a Dot-string local part and a Domain;
/// a quoted local part and an address literal other than a plain dotted
/// quad go through the type checks ([`check_local_part`],
/// [`check_address_literal`]). The mailbox is one slice of `input`
/// ([`Mailbox::from_wire`]).
#[inline(always)]
fn path(input: &str) -> Result<(Option<Mailbox<'_>>, usize), ParseError> {
    let b = input.as_bytes();
    if b.first() != Some(&b'<') {
        return Err(ParseError::BadPath);
    }
    let mut i = 1;
    if b.get(1) == Some(&b'>') {
        return Ok((None, 2));
    }
    // A-d-l = At-domain *( "," At-domain ); At-domain = "@" Domain
    if b.get(1) == Some(&b'@') {
        i = source_route(b)?;
    }
    // Local-part: a quoted string (checked by `check_local_part`), or a
    // Dot-string checked here in one pass.
    let local_start = i;
    let quoted = b.get(i) == Some(&b'"');
    let local_end = if quoted {
        quoted_end(b, i)?
    } else {
        // Dot-string = Atom *("." Atom): a dot only after an atext (the
        // byte before it, not a flag carried from byte to byte, which made
        // each byte wait on the last).
        let mut j = i;
        loop {
            match b.get(j) {
                Some(&c) if class(c, C_ATEXT) => j += 1,
                Some(b'.') if j > i && b[j - 1] != b'.' => j += 1,
                _ => break,
            }
        }
        if j == i || b[j - 1] == b'.' {
            return Err(ParseError::BadPath);
        }
        j
    };
    if b.get(local_end) != Some(&b'@') {
        return Err(ParseError::BadPath);
    }
    let host_start = local_end + 1;
    let literal = b.get(host_start) == Some(&b'[');
    // A dotted quad is checked as it is found; any other literal is left
    // to `check_address_literal` below.
    let mut literal_checked = false;
    let host_end = if literal {
        match ipv4_literal_len(&b[host_start + 1..]) {
            Some(n) => {
                literal_checked = true;
                host_start + 1 + n + 1
            }
            None => {
                host_start + memchr::memchr(b']', &b[host_start..]).ok_or(ParseError::BadPath)? + 1
            }
        }
    } else {
        // Domain = sub-domain *("." sub-domain), checked in one pass.
        let mut j = host_start;
        let mut label_start = j;
        loop {
            match b.get(j) {
                Some(&c) if class(c, C_LETDIG) => j += 1,
                Some(b'-') if j > label_start => j += 1,
                Some(b'.') if j > label_start && b[j - 1] != b'-' => {
                    j += 1;
                    label_start = j;
                }
                _ => break,
            }
        }
        if j == label_start || b[j - 1] == b'-' {
            return Err(ParseError::BadPath);
        }
        j
    };
    if b.get(host_end) != Some(&b'>') {
        return Err(ParseError::BadPath);
    }
    let (local_len, host_len) = (local_end - local_start, host_end - host_start);
    if local_len + host_len + 3 > MAX_PATH || local_len > MAX_LOCAL_PART || host_len > MAX_DOMAIN {
        return Err(ParseError::PathTooLong);
    }
    if quoted {
        check_local_part(&b[local_start..local_end]).map_err(map_validation)?;
    }
    if literal && !literal_checked {
        check_address_literal(&b[host_start..host_end]).map_err(map_validation)?;
    }
    // The delimiters are ASCII, so these are char boundaries.
    let addr = input
        .get(local_start..host_end)
        .ok_or(ParseError::BadPath)?;
    Ok((Some(Mailbox::from_wire(addr, local_len)), host_end + 1))
}

/// The end of the source route `"@" Domain *( "," "@" Domain ) ":"` at
/// index 1 of `b`: the index after the colon.
#[cold]
fn source_route(b: &[u8]) -> Result<usize, ParseError> {
    let colon = memchr::memchr(b':', b).ok_or(ParseError::BadPath)?;
    for at_domain in b[1..colon].split(|&c| c == b',') {
        let d = at_domain.strip_prefix(b"@").ok_or(ParseError::BadPath)?;
        check_domain(d).map_err(|_| ParseError::BadPath)?;
    }
    Ok(colon + 1)
}

/// The index just after the quoted string that starts at `b[i]` (a quote),
/// skipping backslash pairs; its content is checked later.
fn quoted_end(b: &[u8], i: usize) -> Result<usize, ParseError> {
    let mut j = i + 1;
    loop {
        match b.get(j) {
            Some(b'\\') => j += 2,
            Some(b'"') => return Ok(j + 1),
            Some(_) => j += 1,
            None => return Err(ParseError::BadPath),
        }
    }
}

/// The length of the dotted quad at the start of `b` when one is there and
/// is followed by `]`: four groups of one to three digits, each at most
/// 255, no leading zero (RFC 5321 §4.1.3 `IPv4-address-literal`, as
/// `std::net::Ipv4Addr` parses it). `None` does not mean invalid, only
/// "not this simple case": the caller then runs the full check.
#[inline(always)]
fn ipv4_literal_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    for g in 0..4 {
        if g > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let d = b.get(i)?.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        let mut n = u32::from(d);
        i += 1;
        for _ in 0..2 {
            match b.get(i) {
                Some(&c) if c.is_ascii_digit() => {
                    if n == 0 {
                        return None;
                    }
                    n = n * 10 + u32::from(c - b'0');
                    i += 1;
                }
                _ => break,
            }
        }
        if n > 255 {
            return None;
        }
    }
    (b.get(i) == Some(&b']')).then_some(i)
}

fn map_validation(e: ValidationError) -> ParseError {
    match e {
        ValidationError::TooLong { .. } => ParseError::PathTooLong,
        _ => ParseError::BadPath,
    }
}

/// Splits `SP esmtp-param *(SP esmtp-param)` into checked (keyword, value)
/// pairs.
#[inline]
fn params<'a>(
    mut s: &'a str,
    mut each: impl FnMut(&'a str, Option<&'a str>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    while !s.is_empty() {
        let b = s.as_bytes();
        if b[0] != b' ' {
            return Err(ParseError::Syntax);
        }
        // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
        if !b.get(1).is_some_and(u8::is_ascii_alphanumeric) {
            return Err(ParseError::Syntax);
        }
        let mut i = 2;
        while i < b.len() && class(b[i], C_KEYWORD) {
            i += 1;
        }
        let k = &s[1..i];
        let v = match b.get(i) {
            None | Some(b' ') => None,
            Some(b'=') => {
                // esmtp-value = 1*(%d33-60 / %d62-126)
                let start = i + 1;
                let j = find_value_end(&b[start..]).map_or(b.len(), |n| start + n);
                if j == start || (j < b.len() && b[j] != b' ') {
                    return Err(ParseError::BadParameter);
                }
                i = j;
                Some(&s[start..j])
            }
            Some(_) => return Err(ParseError::Syntax),
        };
        s = &s[i..];
        each(k, v)?;
    }
    Ok(())
}

/// The index of the first byte of `hay` that cannot be in an
/// `esmtp-value` (RFC 5321 §4.1.2 `%d33-60 / %d62-126`, RFC 6531
/// UTF8-non-ascii): a control or space, `=` or DEL, eight bytes at a time.
#[inline(always)]
fn find_value_end(hay: &[u8]) -> Option<usize> {
    find_by(
        hay,
        // Bytes below 0x21 (the borrow of `w - 0x21..` only runs upwards
        // from such a byte, so the lowest bit is exact; `!w` drops bytes
        // of 0x80 and above, which are allowed), `=` and DEL.
        |w| {
            (w.wrapping_sub(LO * 0x21) & !w & HI)
                | zero_bytes(w ^ (LO * u64::from(b'=')))
                | zero_bytes(w ^ (LO * 0x7f))
        },
        |c| !class(c, C_VALUE),
        |h| h.iter().position(|&c| !class(c, C_VALUE)),
    )
}

/// `s.split_once(c)` for an ASCII `c`, with a plain loop (the values are
/// short).
#[inline(always)]
fn split_at_byte(s: &str, c: u8) -> Option<(&str, &str)> {
    debug_assert!(c.is_ascii());
    let i = s.bytes().position(|b| b == c)?;
    // `c` is ASCII, so `i` and `i + 1` are char boundaries.
    Some((s.get(..i)?, s.get(i + 1..)?))
}

#[inline]
fn set<T>(slot: &mut Option<T>, v: T) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::DuplicateParameter);
    }
    *slot = Some(v);
    Ok(())
}

#[inline]
fn set_flag(slot: &mut bool, v: Option<&str>) -> Result<(), ParseError> {
    if v.is_some() {
        return Err(ParseError::BadParameter);
    }
    if *slot {
        return Err(ParseError::DuplicateParameter);
    }
    *slot = true;
    Ok(())
}

#[inline]
fn need(v: Option<&str>) -> Result<&str, ParseError> {
    v.ok_or(ParseError::BadParameter)
}

fn number<T: std::str::FromStr>(v: &str) -> Result<T, ParseError> {
    if v.is_empty() || v.len() > 20 {
        return Err(ParseError::BadParameter);
    }
    v.parse::<T>().map_err(|_| ParseError::BadParameter)
}

/// `b` is the ASCII literal `lit` in any case. From four to eight bytes
/// (the keywords and values of most ESMTP parameters) both are upper-cased
/// and compared as one word ([`short_word`], [`upper_word`]), where
/// `eq_ignore_ascii_case` goes byte by byte.
#[inline(always)]
fn is_word(b: &[u8], lit: &[u8]) -> bool {
    if b.len() != lit.len() {
        return false;
    }
    if !(4..=8).contains(&lit.len()) {
        return b.eq_ignore_ascii_case(lit);
    }
    upper_word(short_word(b)) == upper_word(pack(lit, 0))
}

/// `b` (four to eight bytes) as a little-endian word, zero-padded, from two
/// overlapping four-byte loads (the bytes both hold are the same in each).
#[inline(always)]
fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    debug_assert!((4..=8).contains(&n));
    let quad = |at: usize| u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]));
    quad(0) | (quad(n - 4) << (8 * (n - 4)))
}

/// An `xtext` (RFC 3461 §4) out of (part of) an `esmtp-value` that
/// [`params`] checked. Such a value holds no control, space, `=` or DEL, so
/// it is an xtext when it is ASCII and each `+` starts a `hexchar`: one
/// word-at-a-time pass for each, where [`XText::try_from`] classifies every
/// byte (a quarter of a RCPT with NOTIFY and ORCPT).
#[inline]
fn xtext(v: &str) -> Result<XText<'_>, ParseError> {
    let b = v.as_bytes();
    if !b.is_ascii() {
        return Err(ParseError::BadParameter);
    }
    let mut from = 0;
    while let Some(i) = find_byte(&b[from..], b'+') {
        let at = from + i;
        if !is_hexchar(b, at) {
            return Err(ParseError::BadParameter);
        }
        from = at + 3;
    }
    Ok(XText::unvalidated(v))
}

#[inline]
fn other_param<'a>(k: &'a str, v: Option<&'a str>) -> Parameter<'a> {
    // Both were checked against their grammar in `params`.
    Parameter {
        keyword: Keyword::unvalidated(k),
        value: v.map(EsmtpValue::unvalidated),
    }
}

#[inline(always)]
fn mail(arg: &str) -> Result<Command<'_>, ParseError> {
    if arg.len() < 5 || !arg.as_bytes()[..5].eq_ignore_ascii_case(b"FROM:") {
        return Err(ParseError::Syntax);
    }
    let input = &arg[5..];
    let (from, end) = path(input)?;
    let from = match from {
        None => ReversePath::Null,
        Some(m) => ReversePath::Mailbox(m),
    };
    let rest = &input[end..];
    // Built in place: the parameters are filled inside the value that is
    // returned, so the `Command` is not copied out of a temporary.
    let mut cmd = Command::Mail(from, MailParams::default());
    if rest.is_empty() {
        return Ok(cmd);
    }
    let Command::Mail(_, p) = &mut cmd else {
        return Err(ParseError::Syntax);
    };
    let mut other = Vec::new();
    params(rest, |k, v| {
        let is = |n: &str| is_word(k.as_bytes(), n.as_bytes());
        if is("SIZE") {
            let n = digits_u64(need(v)?.as_bytes()).ok_or(ParseError::BadParameter)?;
            set(&mut p.size, n)
        } else if is("BODY") {
            let v = need(v)?;
            let b = if is_word(v.as_bytes(), b"8BITMIME") {
                BodyType::EightBitMime
            } else if is_word(v.as_bytes(), b"7BIT") {
                BodyType::SevenBit
            } else if is_word(v.as_bytes(), b"BINARYMIME") {
                BodyType::BinaryMime
            } else {
                return Err(ParseError::BadParameter);
            };
            set(&mut p.body, b)
        } else if is("SMTPUTF8") {
            set_flag(&mut p.smtputf8, v)
        } else if is("REQUIRETLS") {
            set_flag(&mut p.requiretls, v)
        } else if is("RET") {
            let v = need(v)?;
            let r = if is_word(v.as_bytes(), b"FULL") {
                Ret::Full
            } else if is_word(v.as_bytes(), b"HDRS") {
                Ret::Hdrs
            } else {
                return Err(ParseError::BadParameter);
            };
            set(&mut p.ret, r)
        } else if is("ENVID") {
            let x = xtext(need(v)?)?;
            if x.as_str().len() > 100 {
                return Err(ParseError::BadParameter);
            }
            set(&mut p.envid, x)
        } else if is("AUTH") {
            set(&mut p.auth, xtext(need(v)?)?)
        } else if is("MT-PRIORITY") {
            // RFC 6710 §3: `[ "+" / "-" ] DIGIT`; anything else is 501
            // 5.5.4 (RFC 6710 §4.1).
            let n: Priority = need(v)?.parse().map_err(|_| ParseError::BadParameter)?;
            set(&mut p.mt_priority, n)
        } else if is("BY") {
            set(&mut p.by, deliver_by(need(v)?)?)
        } else {
            other.push(other_param(k, v));
            Ok(())
        }
    })?;
    if !other.is_empty() {
        p.other = other.into_boxed_slice();
    }
    Ok(cmd)
}

fn deliver_by(v: &str) -> Result<DeliverBy, ParseError> {
    let (t, mode) = split_at_byte(v, b';').ok_or(ParseError::BadParameter)?;
    let time: i32 = number(t)?;
    if !(-999_999_999..=999_999_999).contains(&time) {
        return Err(ParseError::BadParameter);
    }
    let (m, trace) = match mode.as_bytes() {
        [m] => (*m, false),
        [m, t] if t.eq_ignore_ascii_case(&b'T') => (*m, true),
        _ => return Err(ParseError::BadParameter),
    };
    let ret = match m.to_ascii_uppercase() {
        b'R' => true,
        b'N' => false,
        _ => return Err(ParseError::BadParameter),
    };
    Ok(DeliverBy { time, ret, trace })
}

#[inline(always)]
fn rcpt(arg: &str) -> Result<Command<'_>, ParseError> {
    if arg.len() < 3 || !arg.as_bytes()[..3].eq_ignore_ascii_case(b"TO:") {
        return Err(ParseError::Syntax);
    }
    let s = &arg[3..];
    let (to, rest) = if s.len() >= 12 && s.as_bytes()[..12].eq_ignore_ascii_case(b"<Postmaster>") {
        (ForwardPath::Postmaster, &s[12..])
    } else {
        let (m, end) = path(s)?;
        (
            ForwardPath::Mailbox(m.ok_or(ParseError::BadPath)?),
            &s[end..],
        )
    };
    // Built in place, as in `mail`.
    let mut cmd = Command::Rcpt(to, RcptParams::default());
    if rest.is_empty() {
        return Ok(cmd);
    }
    let Command::Rcpt(_, p) = &mut cmd else {
        return Err(ParseError::Syntax);
    };
    let mut other = Vec::new();
    params(rest, |k, v| {
        if is_word(k.as_bytes(), b"NOTIFY") {
            let v = need(v)?;
            let mut n = Notify::NEVER;
            if !is_word(v.as_bytes(), b"NEVER") {
                // A list of SUCCESS, FAILURE and DELAY, each at most once:
                // each item read from the front as one word.
                let mut rest = v.as_bytes();
                loop {
                    let starts =
                        |lit: &[u8]| rest.get(..lit.len()).is_some_and(|w| is_word(w, lit));
                    let (flag, len) = if starts(b"SUCCESS") {
                        (&mut n.success, 7)
                    } else if starts(b"FAILURE") {
                        (&mut n.failure, 7)
                    } else if starts(b"DELAY") {
                        (&mut n.delay, 5)
                    } else {
                        return Err(ParseError::BadParameter);
                    };
                    if *flag {
                        return Err(ParseError::BadParameter);
                    }
                    *flag = true;
                    match rest.get(len) {
                        None => break,
                        Some(b',') => rest = &rest[len + 1..],
                        Some(_) => return Err(ParseError::BadParameter),
                    }
                }
            }
            set(&mut p.notify, n)
        } else if is_word(k.as_bytes(), b"ORCPT") {
            // `addr-type ";" xtext` (RFC 3461 §4.2), the type an atom
            // checked as an esmtp-keyword: one scan finds its end, which
            // must be the `;`.
            let v = need(v)?;
            let t = v
                .bytes()
                .position(|c| !class(c, C_KEYWORD))
                .unwrap_or(v.len());
            if t == 0 || v.as_bytes()[0] == b'-' || v.as_bytes().get(t) != Some(&b';') {
                return Err(ParseError::BadParameter);
            }
            let addr_type = Keyword::unvalidated(&v[..t]);
            let addr = xtext(&v[t + 1..])?;
            if addr.as_str().is_empty() {
                return Err(ParseError::BadParameter);
            }
            set(&mut p.orcpt, Orcpt { addr_type, addr })
        } else {
            other.push(other_param(k, v));
            Ok(())
        }
    })?;
    if !other.is_empty() {
        p.other = other.into_boxed_slice();
    }
    Ok(cmd)
}

#[cfg(test)]
mod value_end_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The SWAR search finds what a byte loop over the class finds, at
        // every length and offset.
        #[test]
        fn find_value_end_matches_class(
            v in proptest::collection::vec(
                prop_oneof![any::<u8>(), 0x21u8..0x7f, Just(b'='), Just(b' '), Just(0x7f), Just(0x80)],
                0..90,
            ),
        ) {
            for from in 0..=v.len() {
                let hay = &v[from..];
                prop_assert_eq!(
                    find_value_end(hay),
                    hay.iter().position(|&c| !class(c, C_VALUE))
                );
            }
        }
    }
}

#[cfg(test)]
mod number_tests {
    use super::*;
    use proptest::prelude::*;

    /// What [`leading_u64`] promises, from the standard library: the run of
    /// leading ASCII digits, when it is 1 to 20 long and its number fits.
    fn model(d: &[u8]) -> Option<(u64, usize)> {
        let len = d.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=20).contains(&len) {
            return None;
        }
        std::str::from_utf8(&d[..len])
            .ok()?
            .parse()
            .ok()
            .map(|n| (n, len))
    }

    proptest! {
        #[test]
        fn leading_u64_matches_the_standard_parse(
            d in prop_oneof![
                "[0-9]{0,22}",
                "[0-9]{18,21}[ A-Za-z]{0,3}",
                "(1844674407370955161[0-9]|0{0,3}18446744073709551615)",
                "[0-9 x]{0,24}",
            ],
        ) {
            prop_assert_eq!(leading_u64(d.as_bytes()), model(d.as_bytes()));
            prop_assert_eq!(
                digits_u64(d.as_bytes()),
                model(d.as_bytes()).filter(|&(_, len)| len == d.len()).map(|(n, _)| n)
            );
        }
    }

    #[test]
    fn twenty_digits_at_the_edge_of_u64() {
        assert_eq!(leading_u64(b"18446744073709551615"), Some((u64::MAX, 20)));
        assert_eq!(leading_u64(b"18446744073709551616"), None);
        assert_eq!(leading_u64(b"99999999999999999999"), None);
        assert_eq!(leading_u64(b"00000000000000000001"), Some((1, 20)));
        assert_eq!(leading_u64(b"000000000000000000001"), None);
        assert_eq!(
            leading_u64(b"9999999999999999999 "),
            Some((9_999_999_999_999_999_999, 19))
        );
        assert_eq!(leading_u64(b""), None);
        assert_eq!(leading_u64(b"x1"), None);
    }
}

#[cfg(test)]
mod param_value_tests {
    use super::*;
    use proptest::prelude::*;

    const WORDS: &[&[u8]] = &[
        b"RET",
        b"SIZE",
        b"BODY",
        b"ENVID",
        b"NOTIFY",
        b"SUCCESS",
        b"8BITMIME",
        b"BINARYMIME",
    ];

    proptest! {
        // The word compare agrees with `eq_ignore_ascii_case` on any bytes,
        // and on every case of each literal with one byte changed.
        #[test]
        fn is_word_matches_eq_ignore_ascii_case(
            w in prop::sample::select(WORDS),
            flips in proptest::collection::vec(any::<bool>(), 10),
            change in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
            raw in proptest::collection::vec(any::<u8>(), 0..11),
        ) {
            let mut b: Vec<u8> = w
                .iter()
                .zip(&flips)
                .map(|(&c, &f)| if f { c.to_ascii_lowercase() } else { c })
                .collect();
            if let Some((at, byte)) = change {
                let i = at.index(b.len());
                b[i] = byte;
            }
            prop_assert_eq!(is_word(&b, w), b.eq_ignore_ascii_case(w));
            prop_assert_eq!(is_word(&raw, w), raw.eq_ignore_ascii_case(w));
        }

        // On any run of `esmtp-value` bytes (what `params` hands it), the
        // shortcut accepts what the type's own check accepts.
        #[test]
        fn xtext_of_a_value_matches_the_type_check(
            v in proptest::collection::vec(
                prop_oneof![
                    0x21u8..0x7f,
                    Just(b'+'),
                    prop::sample::select(b"0123456789ABCDEFabcdef".to_vec()),
                    Just(0xc3),
                    Just(0xa9),
                ],
                0..80,
            ),
        ) {
            let Ok(s) = std::str::from_utf8(&v) else { return Ok(()) };
            if find_value_end(&v).is_some() {
                return Ok(());
            }
            prop_assert_eq!(
                xtext(s).map(|x| x.as_str().to_owned()).ok(),
                XText::try_from(s).map(|x| x.as_str().to_owned()).ok()
            );
        }
    }

    #[test]
    fn rfc_3461_section_4_hexchars() {
        assert!(xtext("rfc822;a+2Bb@example.org").is_ok());
        assert!(xtext("a+2b").is_err(), "lower-case hex");
        assert!(xtext("a+2").is_err(), "cut short");
        assert!(xtext("a+").is_err());
        assert!(xtext("+41+42+43").is_ok());
        assert!(xtext("caf\u{e9}").is_err(), "not ASCII");
    }
}

#[cfg(test)]
mod bytes_str_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The ASCII shortcut accepts and refuses what `from_utf8` does, and
        // gives the same string.
        #[test]
        fn bytes_str_matches_from_utf8(
            v in prop_oneof![
                proptest::collection::vec(0u8..0x80, 0..70),
                proptest::collection::vec(any::<u8>(), 0..70),
                "\\PC{0,30}".prop_map(String::into_bytes),
            ],
        ) {
            for from in 0..=v.len().min(9) {
                let b = &v[from..];
                prop_assert_eq!(bytes_str(b).ok(), std::str::from_utf8(b).ok());
            }
        }
    }
}

/// The command parser before the single-pass rewrite, as the oracle of
/// the tests.
#[cfg(test)]
#[path = "parse_oracle.rs"]
mod oracle;

/// Parses `class "." subject "." detail` (RFC 3463 §2) at the start of `t`.
pub(crate) fn enhanced_code(t: &[u8]) -> Option<EnhancedCode> {
    let mut it = t.split(|&b| b == b'.');
    let (a, b, c) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some()
        || a.len() != 1
        || b.is_empty()
        || b.len() > 3
        || c.is_empty()
        || c.len() > 3
    {
        return None;
    }
    if !a.iter().chain(b).chain(c).all(u8::is_ascii_digit) {
        return None;
    }
    let n = |d: &[u8]| {
        d.iter()
            .fold(0u16, |acc, &x| acc * 10 + u16::from(x - b'0'))
    };
    EnhancedCode::new(a[0] - b'0', n(b), n(c)).ok()
}

/// Finds the end of the first complete reply in `input` (RFC 5321 §4.2.1):
/// lines `DDD-text CRLF` up to one `DDD text CRLF` or `DDD CRLF`.
/// Returns `Complete(n)` with the length including the final CRLF.
///
/// `max_line` bounds each line (RFC 5321 §4.5.3.1.5 says 512 octets; servers
/// exceed it), `max_lines` the number of lines.
pub fn reply_frame(
    input: &[u8],
    max_line: usize,
    max_lines: usize,
) -> Result<Status<usize>, FrameError> {
    let mut pos = 0;
    let mut lines = 0;
    loop {
        let rest = &input[pos..];
        let Some(lf) = find_lf(rest) else {
            if rest.len() > max_line {
                return Err(FrameError::LineTooLong);
            }
            if rest.len() >= 3 && !rest[..3].iter().all(u8::is_ascii_digit) {
                return Err(FrameError::Malformed);
            }
            return Ok(Status::Partial);
        };
        if lf + 1 > max_line {
            return Err(FrameError::LineTooLong);
        }
        if lf == 0 || rest[lf - 1] != b'\r' || lf < 4 {
            return Err(FrameError::Malformed);
        }
        lines += 1;
        if lines > max_lines {
            return Err(FrameError::TooManyLines);
        }
        let sep = if lf == 4 { b' ' } else { rest[3] };
        pos += lf + 1;
        match sep {
            b' ' => return Ok(Status::Complete(pos)),
            b'-' => {}
            _ => return Err(FrameError::Malformed),
        }
    }
}

/// Parses one complete reply as framed by [`reply_frame`]: every line has the
/// same code; the enhanced status code is taken from the first line when its
/// class matches the reply code (RFC 2034 §3).
///
/// ```
/// use mailwire_smtp::parse_reply;
/// let r = parse_reply(b"250-mx.example\r\n250 2.0.0 OK\r\n").unwrap();
/// assert_eq!(r.code().get(), 250);
/// ```
pub fn parse_reply(input: &[u8]) -> Result<Reply<'_>, ParseError> {
    let mut code: u16 = 0;
    let mut enhanced = None;
    let mut rest = input;
    let mut first = true;
    while !rest.is_empty() {
        // Find the line end in one pass: the first CR, LF or NUL after the
        // code must be the CR of the CRLF, so a bare CR or LF or a NUL
        // inside the text is refused.
        let cr = find_line_ctl(rest, 3).ok_or(ParseError::BadReply)?;
        if rest[cr] != b'\r' || rest.get(cr + 1) != Some(&b'\n') {
            return Err(ParseError::BadReply);
        }
        let line = &rest[..cr];
        rest = &rest[cr + 2..];
        let n = reply_code_number([line[0], line[1], line[2]]).ok_or(ParseError::BadReply)?;
        // The class digit (2-5).
        let d0 = (n / 100) as u8;
        if first {
            code = n;
        } else if n != code {
            return Err(ParseError::BadReply);
        }
        let last = match line.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            _ => return Err(ParseError::BadReply),
        };
        let text = line.get(4..).unwrap_or(b"");
        if first {
            first = false;
            if d0 != 3 && text.first().is_some_and(|&b| b == d0 + b'0') {
                let end = memchr::memchr(b' ', text).unwrap_or(text.len());
                enhanced = enhanced_code(&text[..end]);
            }
        }
        if last != rest.is_empty() {
            return Err(ParseError::BadReply);
        }
    }
    let code = ReplyCode::new(code).map_err(|_| ParseError::BadReply)?;
    // Every line was checked above: three digits with one code, a valid
    // separator, no CR or NUL in the text, CRLF at the end.
    Ok(Reply::from_parts(code, enhanced, input))
}

/// The index of the first SP or CR in `hay`.
#[inline(always)]
fn find_sp_or_cr(hay: &[u8]) -> Option<usize> {
    find_by(
        hay,
        |w| zero_bytes(w ^ (LO * u64::from(b' '))) | zero_bytes(w ^ (LO * u64::from(b'\r'))),
        |c| c == b' ' || c == b'\r',
        |h| memchr::memchr2(b' ', b'\r', h),
    )
}

/// The index of the first CR in `hay`.
#[inline(always)]
fn find_cr(hay: &[u8]) -> Option<usize> {
    find_byte(hay, b'\r')
}

/// ASCII upper case of the eight bytes of a word at once; other bytes are
/// left as they are.
#[inline(always)]
const fn upper_word(w: u64) -> u64 {
    let low7 = w & !HI;
    // High bit of each byte: at or above 'a', and above 'z'.
    let ge_a = low7.wrapping_add(LO * (0x80 - b'a' as u64));
    let gt_z = low7.wrapping_add(LO * (0x80 - b'z' as u64 - 1));
    let lower = ge_a & !gt_z & !w & HI;
    w - (lower >> 2)
}

/// Up to eight bytes of `s` from `off`, zero-padded, as a little-endian word.
#[inline(always)]
const fn pack(s: &[u8], off: usize) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < 8 && off + i < s.len() {
        w |= (s[off + i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// Bytes `off..off + 8` of the word `hay[..len]` (zero-padded) in ASCII
/// upper case. Bytes of `hay` after the word let this load eight bytes at
/// once (and mask) instead of gathering them one by one.
#[inline(always)]
fn kw_word(hay: &[u8], len: usize, off: usize) -> u64 {
    if off >= len {
        return 0;
    }
    let n = len - off;
    let w = match hay.get(off..off + 8) {
        Some(b) => word(b),
        None => pack(hay.get(..len).unwrap_or(hay), off),
    };
    upper_word(if n >= 8 {
        w
    } else {
        w & ((1u64 << (8 * n)) - 1)
    })
}

/// The EHLO keywords this crate knows (RFC 5321 §4.1.1.1 and extensions).
#[derive(Clone, Copy)]
enum EhloKeyword {
    Pipelining,
    Size,
    EightBitMime,
    SmtpUtf8,
    StartTls,
    Dsn,
    EnhancedStatusCodes,
    Chunking,
    BinaryMime,
    RequireTls,
    MtPriority,
    DeliverBy,
    Auth,
}

/// True when `kw` (whose first word, upper-cased, is `w0`) is `$name` in
/// any ASCII case, comparing eight bytes at a time. The caller has checked
/// the length.
macro_rules! is_word {
    ($hay:expr, $len:expr, $w0:expr, $name:literal) => {{
        const N: &[u8] = $name;
        $w0 == const { pack(N, 0) }
            && (N.len() <= 8 || kw_word($hay, $len, 8) == const { pack(N, 8) })
            && (N.len() <= 16 || kw_word($hay, $len, 16) == const { pack(N, 16) })
    }};
}

/// Matches the word `hay[..len]` against rows `length name => value`, in
/// any ASCII case, eight bytes at a time: the value of the matching row, or
/// `None`. Each row's length is checked against its name at compile time.
macro_rules! match_word {
    ($hay:expr, $len:expr, { $($n:literal $name:literal => $v:expr,)* }) => {{
        let (hay, len) = ($hay, $len);
        let w0 = kw_word(hay, len, 0);
        $(const { assert!($name.len() == $n) };)*
        match len {
            $($n if is_word!(hay, len, w0, $name) => Some($v),)*
            _ => None,
        }
    }};
}

/// Matches the keyword `hay[..len]` case-insensitively.
#[inline(always)]
fn ehlo_keyword(hay: &[u8], len: usize) -> Option<EhloKeyword> {
    use EhloKeyword as K;
    match_word!(hay, len, {
        3 b"DSN" => K::Dsn,
        4 b"SIZE" => K::Size,
        4 b"AUTH" => K::Auth,
        8 b"8BITMIME" => K::EightBitMime,
        8 b"SMTPUTF8" => K::SmtpUtf8,
        8 b"STARTTLS" => K::StartTls,
        8 b"CHUNKING" => K::Chunking,
        9 b"DELIVERBY" => K::DeliverBy,
        10 b"PIPELINING" => K::Pipelining,
        10 b"BINARYMIME" => K::BinaryMime,
        10 b"REQUIRETLS" => K::RequireTls,
        11 b"MT-PRIORITY" => K::MtPriority,
        19 b"ENHANCEDSTATUSCODES" => K::EnhancedStatusCodes,
    })
}

/// The [`AuthMechanisms`] bit of the SASL mechanism name `hay[..len]` if
/// `mailwire-sasl` implements it (any ASCII case); `None` for any other
/// name.
#[inline(always)]
fn auth_mechanism_bit(hay: &[u8], len: usize) -> Option<u32> {
    use mailwire_sasl::Mechanism as M;
    let mech = match_word!(hay, len, {
        5 b"PLAIN" => M::Plain,
        5 b"LOGIN" => M::Login,
        7 b"XOAUTH2" => M::XOAuth2,
        8 b"CRAM-MD5" => M::CramMd5,
        8 b"EXTERNAL" => M::External,
        11 b"SCRAM-SHA-1" => M::ScramSha1,
        11 b"OAUTHBEARER" => M::OAuthBearer,
        13 b"SCRAM-SHA-256" => M::ScramSha256,
    })?;
    mechanism_bit(mech)
}

/// `b` as text, borrowed when it is UTF-8, invalid sequences replaced
/// (U+FFFD) otherwise.
#[inline]
fn lossy(b: &[u8]) -> Cow<'_, str> {
    // `utf8_chunks` is inlined here (`from_utf8` is a call into std), which
    // is faster on the short names of an EHLO reply. A first chunk with
    // nothing invalid after it is the whole input.
    match b.utf8_chunks().next() {
        None => Cow::Borrowed(""),
        Some(c) if c.invalid().is_empty() => Cow::Borrowed(c.valid()),
        Some(_) => String::from_utf8_lossy(b),
    }
}

/// [`lossy`], ASCII upper-cased (copied only when a lower-case letter is
/// there).
#[inline]
fn lossy_upper(b: &[u8]) -> Cow<'_, str> {
    if b.iter().any(u8::is_ascii_lowercase) {
        let mut s = lossy(b).into_owned();
        s.make_ascii_uppercase();
        Cow::Owned(s)
    } else {
        lossy(b)
    }
}

impl<'a> Capabilities<'a> {
    /// Reads the extensions from a positive EHLO reply (RFC 5321 §4.1.1.1):
    /// the first line is the domain, each further line `ehlo-keyword
    /// *(SP ehlo-param)`. Keywords are case-insensitive.
    ///
    /// The value borrows from `reply` and allocates nothing for a reply
    /// made of known keywords and mechanism names (the common case).
    /// [`ehlo_frame`] frames, checks and reads a reply in one pass instead.
    pub fn from_ehlo(reply: &'a Reply<'_>) -> Capabilities<'a> {
        Capabilities::from_ehlo_bytes(reply.as_bytes())
    }

    /// [`Capabilities::from_ehlo`] on the bytes of a reply.
    fn from_ehlo_bytes(reply: &'a [u8]) -> Capabilities<'a> {
        let mut caps = Capabilities::default();
        // Every line of a `Reply` is `DDD [SP / "-"] text CRLF` with no CR
        // or LF in the text (its constructors check it); the scan below
        // still never indexes out of bounds whatever the bytes.
        let mut raw = reply;
        let mut first = true;
        while raw.len() >= 3 {
            let text = match raw.get(3) {
                Some(b' ' | b'-') => &raw[4..],
                _ => &raw[3..],
            };
            // "KEYWORD params\r\n" or "KEYWORD\r\n": the only CR is the
            // one of the CRLF.
            let kw_end = find_sp_or_cr(text).unwrap_or(text.len());
            let params_len;
            if text.get(kw_end) == Some(&b' ') {
                params_len = find_cr(&text[kw_end + 1..]).unwrap_or(text.len() - kw_end - 1);
                raw = text.get(kw_end + 1 + params_len + 2..).unwrap_or(b"");
            } else {
                params_len = 0;
                raw = text.get(kw_end + 2..).unwrap_or(b"");
            }
            caps.ehlo_line(first, text, kw_end, params_len);
            first = false;
        }
        caps
    }

    /// Reads one EHLO line: `text` starts with the keyword, which is
    /// `text[..kw_end]`; when `params_len` is not zero the parameters are
    /// the `params_len` bytes after the keyword's SP. `text` goes on past
    /// the line (to the end of the reply), so names in it can be loaded a
    /// word at a time. The first line names the domain.
    #[inline(always)]
    fn ehlo_line(&mut self, first: bool, text: &'a [u8], kw_end: usize, params_len: usize) {
        let kw = &text[..kw_end];
        let after = text.get(kw_end + 1..).unwrap_or(b"");
        let params = after.get(..params_len).unwrap_or(after);
        if first {
            self.domain = lossy(kw);
            return;
        }
        if kw.is_empty() {
            return;
        }
        match ehlo_keyword(text, kw_end) {
            Some(EhloKeyword::Pipelining) => self.pipelining = true,
            Some(EhloKeyword::Size) => {
                let n = params.split(|&b| b == b' ').next().unwrap_or(b"");
                self.size = Some(digits_u64(n).unwrap_or(0));
            }
            Some(EhloKeyword::EightBitMime) => self.eightbitmime = true,
            Some(EhloKeyword::SmtpUtf8) => self.smtputf8 = true,
            Some(EhloKeyword::StartTls) => self.starttls = true,
            Some(EhloKeyword::Dsn) => self.dsn = true,
            Some(EhloKeyword::EnhancedStatusCodes) => self.enhanced_status_codes = true,
            Some(EhloKeyword::Chunking) => self.chunking = true,
            Some(EhloKeyword::BinaryMime) => self.binarymime = true,
            Some(EhloKeyword::RequireTls) => self.requiretls = true,
            Some(EhloKeyword::MtPriority) => {
                self.mt_priority = true;
                // RFC 6710 §3: an optional policy name.
                self.mt_priority_policy = params
                    .split(|&b| b == b' ')
                    .find(|w| !w.is_empty())
                    .map(lossy_upper);
            }
            Some(EhloKeyword::DeliverBy) => self.deliverby = true,
            Some(EhloKeyword::Auth) => {
                let params_len = params.len();
                let mut start = 0;
                while start < params_len {
                    let len = params[start..]
                        .iter()
                        .position(|&b| b == b' ')
                        .unwrap_or(params_len - start);
                    if len > 0 {
                        match auth_mechanism_bit(&after[start..], len) {
                            Some(bit) => self.auth.insert_bits(bit),
                            None => self.auth.insert_other(lossy(&params[start..start + len])),
                        }
                    }
                    start += len + 1;
                }
            }
            None => self.other.push(Extension {
                keyword: lossy_upper(kw),
                params: lossy(params),
            }),
        }
    }
}

/// An EHLO reply read by [`ehlo_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhloReply<'a> {
    /// The reply code: 250 for a positive reply (RFC 5321 §4.1.1.1); for
    /// any other, `caps` reads the error text as if it were extensions and
    /// means nothing.
    pub code: ReplyCode,
    /// What the server offers, as [`Capabilities::from_ehlo`] reads it.
    pub caps: Capabilities<'a>,
}

/// High bit set in each byte of `v` below `n` (`n` at most 0x80). As for
/// [`zero_bytes`], bits above the first such byte may be false positives;
/// the lowest set bit is exact (a byte at or above `n` borrows nothing).
#[inline(always)]
const fn bytes_below(v: u64, n: u8) -> u64 {
    v.wrapping_sub(LO * n as u64) & !v & HI
}

/// The index of the first byte of `hay` that is in `set`, all of whose
/// bytes are below `n`: the word-at-a-time step looks for any byte below
/// `n` (three operations a word instead of three per pattern); when that
/// byte is not in `set` (a TAB or another control, rare on a reply line)
/// `exact` searches on from the byte after it.
#[inline(always)]
fn find_in_low_set(
    hay: &[u8],
    n: u8,
    set: impl Fn(u8) -> bool,
    exact: impl Fn(&[u8]) -> Option<usize>,
) -> Option<usize> {
    let i = find_by(
        hay,
        |w| bytes_below(w, n),
        |c| c < n,
        |h| h.iter().position(|&c| c < n),
    )?;
    if set(hay[i]) {
        Some(i)
    } else {
        exact(&hay[i + 1..]).map(|j| i + 1 + j)
    }
}

/// The index of the first SP, CR, LF or NUL in `hay`.
#[inline(always)]
fn find_sp_or_ctl(hay: &[u8]) -> Option<usize> {
    find_in_low_set(
        hay,
        b' ' + 1,
        |c| matches!(c, b' ' | b'\r' | b'\n' | 0),
        find_sp_or_ctl_exact,
    )
}

/// [`find_sp_or_ctl`] with one pattern test per byte value.
#[inline(never)]
fn find_sp_or_ctl_exact(hay: &[u8]) -> Option<usize> {
    hay.iter()
        .position(|&c| matches!(c, b' ' | b'\r' | b'\n' | 0))
}

/// The index of the first CR, LF or NUL in `hay` at or after `from`, by
/// way of [`find_in_low_set`].
#[inline(always)]
fn find_line_ctl(hay: &[u8], from: usize) -> Option<usize> {
    find_in_low_set(
        hay.get(from..)?,
        b'\r' + 1,
        |c| matches!(c, b'\r' | b'\n' | 0),
        |h| memchr::memchr3(b'\r', b'\n', 0, h),
    )
    .map(|i| i + from)
}

/// Frames, checks and reads an EHLO reply in one pass: the same as
/// [`reply_frame`] with these limits, then [`parse_reply`] on the framed
/// reply and [`Capabilities::from_ehlo`] on the result, without building
/// the [`Reply`] in between.
///
/// `Complete((n, parsed))` gives the length of the reply (its final CRLF
/// included) and the reply read, or why it does not parse; a framing error
/// (fatal for the connection, as for [`reply_frame`]) is the outer `Err`.
///
/// Lines of the usual shape are read here directly; anything else (a
/// partial or malformed reply, a line without text) goes through the
/// three functions above, so both ways accept and refuse the same input.
///
/// ```
/// use mailwire_smtp::{ehlo_frame, Status};
/// let input = b"250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 1000\r\n";
/// let Ok(Status::Complete((n, Ok(ehlo)))) = ehlo_frame(input, 512, 100) else { panic!() };
/// assert_eq!(n, input.len());
/// assert_eq!(ehlo.code.get(), 250);
/// assert!(ehlo.caps.pipelining);
/// assert_eq!(ehlo.caps.size, Some(1000));
/// ```
#[allow(clippy::type_complexity)]
pub fn ehlo_frame(
    input: &[u8],
    max_line: usize,
    max_lines: usize,
) -> Result<Status<(usize, Result<EhloReply<'_>, ParseError>)>, FrameError> {
    // Built in place: the capabilities are filled inside the value that
    // is returned, so it is not copied out of a temporary.
    let mut out = Ok(Status::Complete((
        0,
        Ok(EhloReply {
            code: CODE_250,
            caps: Capabilities::default(),
        }),
    )));
    if let Ok(Status::Complete((n, Ok(reply)))) = &mut out
        && let Some((len, code)) = ehlo_fast(input, max_line, max_lines, &mut reply.caps)
    {
        *n = len;
        reply.code = code;
        return out;
    }
    ehlo_frame_slow(input, max_line, max_lines)
}

const CODE_250: ReplyCode = match ReplyCode::new(250) {
    Ok(c) => c,
    Err(_) => panic!("250 is a reply code"),
};

/// The fast path of [`ehlo_frame`]: the length and code of a reply made of
/// lines of the usual shape, its capabilities read into `caps`; `None` for
/// anything else (`caps` then holds a part of the lines).
#[inline(always)]
fn ehlo_fast<'a>(
    input: &'a [u8],
    max_line: usize,
    max_lines: usize,
    caps: &mut Capabilities<'a>,
) -> Option<(usize, ReplyCode)> {
    let mut pos = 0;
    let mut lines = 0;
    let mut code = [0u8; 3];
    loop {
        let line = &input[pos..];
        // "DDD" SP/"-" and at least a CRLF.
        let [d0, d1, d2, sep, ..] = *line else {
            return None;
        };
        if lines == 0 {
            code = [d0, d1, d2];
        }
        if [d0, d1, d2] != code || (sep != b' ' && sep != b'-') {
            return None;
        }
        let text = &line[4..];
        // The keyword ends at an SP or the CR of the CRLF; the parameters
        // at the CR. Any other CR, LF or NUL: the slow path decides.
        let kw_end = find_sp_or_ctl(text)?;
        let (cr, params_len) = if text[kw_end] == b' ' {
            let cr = find_line_ctl(text, kw_end + 1)?;
            (cr, cr - kw_end - 1)
        } else {
            (kw_end, 0)
        };
        let len = 4 + cr + 2;
        lines += 1;
        if text[cr] != b'\r'
            || text.get(cr + 1) != Some(&b'\n')
            || len > max_line
            || lines > max_lines
        {
            return None;
        }
        caps.ehlo_line(lines == 1, text, kw_end, params_len);
        pos += len;
        if sep == b' ' {
            break;
        }
    }
    let n = reply_code_number(code)?;
    ReplyCode::new(n).ok().map(|c| (pos, c))
}

/// The number of a reply code's three digits when they are a `Reply-code`
/// (RFC 5321 §4.2: `%x32-35 %x30-35 %x30-39`).
#[inline(always)]
fn reply_code_number(digits: [u8; 3]) -> Option<u16> {
    match digits.map(|d| d.wrapping_sub(b'0')) {
        [a @ 2..=5, b @ 0..=5, c @ 0..=9] => {
            Some(u16::from(a) * 100 + u16::from(b) * 10 + u16::from(c))
        }
        _ => None,
    }
}

/// [`ehlo_frame`] by way of [`reply_frame`], [`parse_reply`] and
/// [`Capabilities::from_ehlo`].
#[allow(clippy::type_complexity)]
#[cold]
fn ehlo_frame_slow(
    input: &[u8],
    max_line: usize,
    max_lines: usize,
) -> Result<Status<(usize, Result<EhloReply<'_>, ParseError>)>, FrameError> {
    let n = match reply_frame(input, max_line, max_lines)? {
        Status::Partial => return Ok(Status::Partial),
        Status::Complete(n) => n,
    };
    let raw = &input[..n];
    // `parse_reply` borrows `raw` as it is: reading the capabilities from
    // `raw` is reading them from the reply.
    let parsed = parse_reply(raw).map(|r| EhloReply {
        code: r.code(),
        caps: Capabilities::from_ehlo_bytes(raw),
    });
    Ok(Status::Complete((n, parsed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The previous representation of [`Capabilities`] (a String per
    /// name), which the reference below builds.
    #[derive(Debug, Default, PartialEq)]
    struct OwnedCaps {
        domain: String,
        pipelining: bool,
        size: Option<u64>,
        eightbitmime: bool,
        smtputf8: bool,
        starttls: bool,
        auth: Vec<String>,
        dsn: bool,
        enhanced_status_codes: bool,
        chunking: bool,
        binarymime: bool,
        requiretls: bool,
        mt_priority: bool,
        mt_priority_policy: Option<String>,
        deliverby: bool,
        other: Vec<(String, Vec<String>)>,
    }

    impl OwnedCaps {
        /// The mechanisms as a sorted list: the bit set does not keep the
        /// server's order.
        fn sorted(mut self) -> Self {
            self.auth.sort();
            self
        }
    }

    /// `c` in the previous representation.
    fn owned_caps(c: &Capabilities<'_>) -> OwnedCaps {
        OwnedCaps {
            domain: c.domain.to_string(),
            pipelining: c.pipelining,
            size: c.size,
            eightbitmime: c.eightbitmime,
            smtputf8: c.smtputf8,
            starttls: c.starttls,
            auth: c.auth.names().map(str::to_owned).collect(),
            dsn: c.dsn,
            enhanced_status_codes: c.enhanced_status_codes,
            chunking: c.chunking,
            binarymime: c.binarymime,
            requiretls: c.requiretls,
            mt_priority: c.mt_priority,
            mt_priority_policy: c.mt_priority_policy.as_deref().map(str::to_owned),
            deliverby: c.deliverby,
            other: c
                .other
                .iter()
                .map(|e| {
                    (
                        e.keyword.to_string(),
                        e.words().map(str::to_owned).collect(),
                    )
                })
                .collect(),
        }
        .sorted()
    }

    /// The previous, straightforward `from_ehlo`, kept as the reference
    /// the optimised one must agree with.
    fn reference_from_ehlo(reply: &Reply<'_>) -> OwnedCaps {
        let mut caps = OwnedCaps::default();
        let mut raw = reply.as_bytes();
        let mut first = true;
        while let Some(lf) = memchr::memchr(b'\n', raw) {
            // "250-KEYWORD params\r\n": skip the code, the separator and the CRLF.
            let line = &raw[..lf];
            raw = &raw[lf + 1..];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = line.get(4..).unwrap_or(b"");
            let kw_end = text.iter().position(|&b| b == b' ').unwrap_or(text.len());
            let (kw, params) = (&text[..kw_end], text.get(kw_end + 1..).unwrap_or(b""));
            if first {
                first = false;
                caps.domain = String::from_utf8_lossy(kw).into_owned();
                continue;
            }
            let upper = |i: usize| kw.get(i).map(u8::to_ascii_uppercase);
            let is = |n: &[u8]| kw.eq_ignore_ascii_case(n);
            match (kw.len(), upper(0)) {
                (10, Some(b'P')) if is(b"PIPELINING") => caps.pipelining = true,
                (4, Some(b'S')) if is(b"SIZE") => {
                    let n = params.split(|&b| b == b' ').next().unwrap_or(b"");
                    caps.size = Some(digits_u64(n).unwrap_or(0));
                }
                (8, Some(b'8')) if is(b"8BITMIME") => caps.eightbitmime = true,
                (8, Some(b'S')) if is(b"SMTPUTF8") => caps.smtputf8 = true,
                (8, Some(b'S')) if is(b"STARTTLS") => caps.starttls = true,
                (3, Some(b'D')) if is(b"DSN") => caps.dsn = true,
                (19, Some(b'E')) if is(b"ENHANCEDSTATUSCODES") => caps.enhanced_status_codes = true,
                (8, Some(b'C')) if is(b"CHUNKING") => caps.chunking = true,
                (10, Some(b'B')) if is(b"BINARYMIME") => caps.binarymime = true,
                (10, Some(b'R')) if is(b"REQUIRETLS") => caps.requiretls = true,
                (11, Some(b'M')) if is(b"MT-PRIORITY") => {
                    caps.mt_priority = true;
                    caps.mt_priority_policy = params
                        .split(|&b| b == b' ')
                        .find(|w| !w.is_empty())
                        .map(|w| String::from_utf8_lossy(w).to_ascii_uppercase());
                }
                (9, Some(b'D')) if is(b"DELIVERBY") => caps.deliverby = true,
                (4, Some(b'A')) if is(b"AUTH") => {
                    for m in params.split(|&b| b == b' ').filter(|m| !m.is_empty()) {
                        if !caps
                            .auth
                            .iter()
                            .any(|a| a.as_bytes().eq_ignore_ascii_case(m))
                        {
                            let mut m = String::from_utf8_lossy(m).into_owned();
                            m.make_ascii_uppercase();
                            caps.auth.push(m);
                        }
                    }
                }
                (0, _) => {}
                _ => {
                    let words = params
                        .split(|&b| b == b' ')
                        .filter(|w| !w.is_empty())
                        .map(|w| String::from_utf8_lossy(w).into_owned())
                        .collect();
                    caps.other
                        .push((String::from_utf8_lossy(kw).to_ascii_uppercase(), words));
                }
            }
        }
        caps.sorted()
    }

    /// The previous `parse_reply` (two scans per line), the reference.
    fn reference_parse_reply(input: &[u8]) -> Result<Reply<'_>, ParseError> {
        let mut code: u16 = 0;
        let mut enhanced = None;
        let mut rest = input;
        let mut first = true;
        while !rest.is_empty() {
            // Find the line end; a CR or NUL inside the text is refused.
            let lf = memchr::memchr(b'\n', rest).ok_or(ParseError::BadReply)?;
            if lf < 4 || rest[lf - 1] != b'\r' {
                return Err(ParseError::BadReply);
            }
            let line = &rest[..lf - 1];
            rest = &rest[lf + 1..];
            let (d0, d1, d2) = (
                line[0].wrapping_sub(b'0'),
                line[1].wrapping_sub(b'0'),
                line[2].wrapping_sub(b'0'),
            );
            // Reply-code = %x32-35 %x30-35 %x30-39
            if !(2..=5).contains(&d0) || d1 > 5 || d2 > 9 {
                return Err(ParseError::BadReply);
            }
            let n = u16::from(d0) * 100 + u16::from(d1) * 10 + u16::from(d2);
            if first {
                code = n;
            } else if n != code {
                return Err(ParseError::BadReply);
            }
            let last = match line.get(3) {
                None | Some(b' ') => true,
                Some(b'-') => false,
                _ => return Err(ParseError::BadReply),
            };
            let text = line.get(4..).unwrap_or(b"");
            if memchr::memchr2(0, b'\r', text).is_some() {
                return Err(ParseError::BadReply);
            }
            if first {
                first = false;
                if d0 != 3 && text.first().is_some_and(|&b| b == d0 + b'0') {
                    let end = memchr::memchr(b' ', text).unwrap_or(text.len());
                    enhanced = enhanced_code(&text[..end]);
                }
            }
            if last != rest.is_empty() {
                return Err(ParseError::BadReply);
            }
        }
        let code = ReplyCode::new(code).map_err(|_| ParseError::BadReply)?;
        // Every line was checked above: three digits with one code, a valid
        // separator, no CR or NUL in the text, CRLF at the end.
        Ok(Reply::from_parts(code, enhanced, input))
    }

    /// The previous, nom-based BDAT argument parser, the reference.
    fn reference_bdat(arg: &[u8]) -> Result<Command<'static>, ParseError> {
        use nom::Parser;
        use nom::bytes::complete::{tag, tag_no_case, take_while1};
        use nom::combinator::opt;
        use nom::sequence::preceded;
        type PResult<'a, T> = nom::IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;
        let r: PResult<'_, (&[u8], Option<&[u8]>)> = (
            take_while1(|b: u8| b.is_ascii_digit()),
            opt(preceded(tag(&b" "[..]), tag_no_case(&b"LAST"[..]))),
        )
            .parse(arg);
        let Ok((rest, (digits, last))) = r else {
            return Err(ParseError::Syntax);
        };
        if !rest.is_empty() {
            return Err(ParseError::Syntax);
        }
        let size = digits_u64(digits).ok_or(ParseError::Syntax)?;
        Ok(Command::Bdat {
            size,
            last: last.is_some(),
        })
    }

    proptest! {
        #[test]
        fn bdat_matches_reference(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(&b"1"[..]), Just(&b"0"[..]), Just(&b"99999999999"[..]),
                    Just(&b" "[..]), Just(&b"LAST"[..]), Just(&b"last"[..]), Just(&b"LAS"[..]),
                    Just(&b"x"[..]), Just(&b"\xff"[..]), Just(&b"00000000000"[..]), Just(&b"lAsT"[..]),
                ],
                0..6,
            ),
        ) {
            let arg = parts.concat();
            prop_assert_eq!(bdat(&arg), reference_bdat(&arg));
        }
    }

    fn naive(hay: &[u8], set: &[u8]) -> Option<usize> {
        hay.iter().position(|c| set.contains(c))
    }

    proptest! {
        // The word-at-a-time scanners agree with a plain search, for every
        // length around the 8-octet word and the 64-octet SWAR span.
        #[test]
        fn scanners_match_naive(
            hay in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(0u8), Just(b' '), any::<u8>(), b'a'..=b'z'],
                0..200,
            ),
            from in 0usize..10,
        ) {
            prop_assert_eq!(find_lf(&hay), naive(&hay, b"\n"));
            prop_assert_eq!(find_sp_or_cr(&hay), naive(&hay, b" \r"));
            prop_assert_eq!(find_cr(&hay), naive(&hay, b"\r"));
            let want = hay.get(from..).and_then(|h| naive(h, b"\r\n\0")).map(|i| i + from);
            prop_assert_eq!(find_line_ctl(&hay, from), want);
            prop_assert_eq!(find_sp_or_ctl(&hay), naive(&hay, b" \r\n\0"));
        }

        // The same on bytes around the two thresholds of `bytes_below`
        // (controls that are candidates but not hits, and their
        // neighbours), placed at every offset of a word.
        #[test]
        fn low_set_scanners_match_naive(
            hay in proptest::collection::vec(
                prop_oneof![0u8..=0x22, Just(b'\t'), 0x7e..=0x82u8, Just(0xff), b'a'..=b'z'],
                0..150,
            ),
            from in 0usize..20,
        ) {
            let want = hay.get(from..).and_then(|h| naive(h, b"\r\n\0")).map(|i| i + from);
            prop_assert_eq!(find_line_ctl(&hay, from), want);
            prop_assert_eq!(find_sp_or_ctl(&hay), naive(&hay, b" \r\n\0"));
        }

        #[test]
        fn upper_word_is_ascii_uppercase(b in any::<[u8; 8]>()) {
            let want = u64::from_le_bytes(b.map(|c| c.to_ascii_uppercase()));
            prop_assert_eq!(upper_word(u64::from_le_bytes(b)), want);
        }

        // Keyword matching is exactly ASCII case-insensitive equality.
        #[test]
        fn ehlo_keyword_exact(kw in proptest::collection::vec(any::<u8>(), 0..24), pick in 0usize..13) {
            let names: [&[u8]; 13] = [
                b"PIPELINING", b"SIZE", b"8BITMIME", b"SMTPUTF8", b"STARTTLS", b"DSN",
                b"ENHANCEDSTATUSCODES", b"CHUNKING", b"BINARYMIME", b"REQUIRETLS",
                b"MT-PRIORITY", b"DELIVERBY", b"AUTH",
            ];
            let known = |k: &[u8]| names.iter().any(|n| n.eq_ignore_ascii_case(k));
            prop_assert_eq!(ehlo_keyword(&kw, kw.len()).is_some(), known(&kw));
            // With bytes after the keyword, as in a reply.
            let mut longer = kw.clone();
            longer.extend_from_slice(b" PARAMS AND MORE TEXT\r\n");
            prop_assert_eq!(ehlo_keyword(&longer, kw.len()).is_some(), known(&kw));
            // A case-mangled known name always matches.
            let mut name = names[pick].to_vec();
            for (i, c) in name.iter_mut().enumerate() {
                if i % 2 == 1 {
                    *c = c.to_ascii_lowercase();
                }
            }
            prop_assert!(ehlo_keyword(&name, name.len()).is_some());
        }
    }

    proptest! {
        // Mechanism matching is exactly `mailwire_sasl::Mechanism::from_name`.
        #[test]
        fn auth_mechanism_bit_exact(
            name in proptest::collection::vec(any::<u8>(), 0..16),
            pick in 0usize..8,
        ) {
            let want = mailwire_sasl::Mechanism::from_name(&name).and_then(mechanism_bit);
            prop_assert_eq!(auth_mechanism_bit(&name, name.len()), want);
            let mut longer = name.clone();
            longer.extend_from_slice(b" LOGIN PLAIN\r\n");
            prop_assert_eq!(auth_mechanism_bit(&longer, name.len()), want);
            let mut m = mailwire_sasl::Mechanism::PREFERENCE[pick].name().to_owned();
            if pick % 2 == 0 {
                m.make_ascii_lowercase();
            }
            let want = mailwire_sasl::Mechanism::from_name(m.as_bytes()).and_then(mechanism_bit);
            prop_assert!(want.is_some());
            prop_assert_eq!(auth_mechanism_bit(m.as_bytes(), m.len()), want);
        }
    }

    proptest! {
        #[test]
        fn from_ehlo_matches_reference(
            lines in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![
                        Just(" ".to_owned()),
                        Just("AUTH".to_owned()),
                        Just("auth".to_owned()),
                        Just("SIZE".to_owned()),
                        Just("Pipelining".to_owned()),
                        Just("ENHANCEDSTATUSCODES".to_owned()),
                        Just("MT-PRIORITY".to_owned()),
                        Just("Mixer".to_owned()),
                        Just("plain".to_owned()),
                        Just("123".to_owned()),
                        Just("LIMITS".to_owned()),
                        Just("RCPTMAX=".to_owned()),
                        Just("mailmax=12".to_owned()),
                        "[ -~\u{80}-\u{10ffff}]{0,12}",
                    ],
                    0..5,
                ),
                1..6,
            ),
        ) {
            let lines: Vec<String> = lines.into_iter().map(|l| l.concat()).collect();
            let reply = Reply::new(ReplyCode::new(250).unwrap(), None, &lines).unwrap();
            let caps = Capabilities::from_ehlo(&reply);
            prop_assert_eq!(owned_caps(&caps), reference_from_ehlo(&reply));
            let parsed = parse_reply(reply.as_bytes()).unwrap();
            prop_assert_eq!(owned_caps(&Capabilities::from_ehlo(&parsed)), reference_from_ehlo(&parsed));
            // Detached, the value is the same.
            prop_assert_eq!(caps.clone().into_owned(), caps);
        }
    }

    proptest! {
        #[test]
        fn parse_reply_matches_reference(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(&b"250-"[..]),
                    Just(&b"250 "[..]),
                    Just(&b"250"[..]),
                    Just(&b"451 "[..]),
                    Just(&b"\r\n"[..]),
                    Just(&b"\r"[..]),
                    Just(&b"\n"[..]),
                    Just(&b"\0"[..]),
                    Just(&b"2.1.0 "[..]),
                    Just(&b"text and more text, long enough to pass a word or two"[..]),
                    Just(&b"\xff"[..]),
                ],
                0..12,
            ),
        ) {
            let input = parts.concat();
            prop_assert_eq!(parse_reply(&input), reference_parse_reply(&input));
        }
    }

    /// An `ehlo_frame` result with the capabilities owned.
    type OwnedEhloFrame =
        Result<Status<(usize, Result<(ReplyCode, OwnedCaps), ParseError>)>, FrameError>;

    /// `ehlo_frame` the long way: `reply_frame`, `parse_reply`, then
    /// `Capabilities::from_ehlo`, owned so that it outlives the `Reply`.
    fn reference_ehlo_frame(input: &[u8], max_line: usize, max_lines: usize) -> OwnedEhloFrame {
        Ok(match reply_frame(input, max_line, max_lines)? {
            Status::Partial => Status::Partial,
            Status::Complete(n) => Status::Complete((
                n,
                parse_reply(&input[..n])
                    .map(|r| (r.code(), owned_caps(&Capabilities::from_ehlo(&r)))),
            )),
        })
    }

    /// What `ehlo_frame` returns, in the reference's terms.
    fn ehlo_frame_owned(input: &[u8], max_line: usize, max_lines: usize) -> OwnedEhloFrame {
        Ok(match ehlo_frame(input, max_line, max_lines)? {
            Status::Partial => Status::Partial,
            Status::Complete((n, r)) => {
                Status::Complete((n, r.map(|e| (e.code, owned_caps(&e.caps)))))
            }
        })
    }

    proptest! {
        // The one-pass EHLO reader accepts, refuses and reads exactly as
        // reply_frame + parse_reply + from_ehlo, whatever the bytes and
        // limits.
        #[test]
        fn ehlo_frame_matches_reference(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(&b"250-"[..]), Just(&b"250 "[..]), Just(&b"250"[..]),
                    Just(&b"550 "[..]), Just(&b"251-"[..]), Just(&b"2x0-"[..]),
                    Just(&b"\r\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..]),
                    Just(&b"\n"[..]), Just(&b"\0"[..]), Just(&b" "[..]),
                    Just(&b"mx.example.org"[..]), Just(&b"AUTH"[..]), Just(&b"auth"[..]),
                    Just(&b"PLAIN login X-MECH"[..]), Just(&b"SIZE"[..]), Just(&b"100"[..]),
                    Just(&b"PIPELINING"[..]), Just(&b"MT-PRIORITY mixer"[..]),
                    Just(&b"ENHANCEDSTATUSCODES"[..]), Just(&b"x-unknown a  b"[..]),
                    Just(&b"a keyword line long enough to cross the sixty-four octet word span"[..]),
                    Just(&b"\xff"[..]),
                    // Controls the word step of the scanners stops at
                    // without their being a hit.
                    Just(&b"\t"[..]), Just(&b"a\x0bb\x1f"[..]), Just(&b"SIZE\t1"[..]),
                ],
                0..16,
            ),
            max_line in 4usize..120,
            max_lines in 1usize..8,
        ) {
            let input = parts.concat();
            prop_assert_eq!(
                ehlo_frame_owned(&input, max_line, max_lines),
                reference_ehlo_frame(&input, max_line, max_lines)
            );
        }

        // Well-formed replies built from lines: the fast path itself (not
        // only its fallback) gives the reference's value, for every prefix.
        #[test]
        fn ehlo_frame_matches_reference_on_replies(
            lines in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![
                        Just(" ".to_owned()), Just("AUTH".to_owned()), Just("size".to_owned()),
                        Just("8BITMIME".to_owned()), Just("CRAM-MD5".to_owned()),
                        Just("Mixer".to_owned()), Just("123".to_owned()),
                        Just("\t".to_owned()), Just("a\u{b}\u{1f}".to_owned()),
                        "[ -~\u{80}-\u{10ffff}]{0,12}",
                    ],
                    0..5,
                ),
                1..8,
            ),
            tail in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            let lines: Vec<String> = lines.into_iter().map(|l| l.concat()).collect();
            let reply = Reply::new(ReplyCode::new(250).unwrap(), None, &lines).unwrap();
            let mut input = reply.as_bytes().to_vec();
            input.extend_from_slice(&tail);
            for end in 0..=input.len() {
                prop_assert_eq!(
                    ehlo_frame_owned(&input[..end], 512, 100),
                    reference_ehlo_frame(&input[..end], 512, 100)
                );
            }
            let Ok(Status::Complete((n, Ok(e)))) = ehlo_frame(&input, 512, 100) else {
                panic!("a built reply reads");
            };
            prop_assert_eq!(n, reply.as_bytes().len());
            prop_assert_eq!(&e.caps, &Capabilities::from_ehlo(&reply));
            // The fast path read it, not the fallback.
            let mut caps = Capabilities::default();
            prop_assert_eq!(ehlo_fast(&input, 512, 100, &mut caps), Some((n, e.code)));
            prop_assert_eq!(caps, e.caps);
        }
    }

    #[test]
    fn ehlo_frame_reads_a_postfix_reply() {
        let input = b"250-mx.example.com Hello\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
                      250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n221 bye\r\n";
        let Ok(Status::Complete((n, Ok(e)))) = ehlo_frame(input, 512, 100) else {
            panic!("reads");
        };
        assert_eq!(&input[n..], b"221 bye\r\n");
        assert_eq!(e.code.get(), 250);
        assert_eq!(e.caps.domain, "mx.example.com");
        assert_eq!(e.caps.size, Some(52_428_800));
        assert!(e.caps.eightbitmime && e.caps.starttls && !e.caps.pipelining);
        assert_eq!(e.caps.auth.names().collect::<Vec<_>>(), ["PLAIN", "LOGIN"]);
        // Partial, framing errors and parse errors as the three-step path.
        assert_eq!(ehlo_frame(&input[..30], 512, 100), Ok(Status::Partial));
        assert_eq!(ehlo_frame(input, 512, 2), Err(FrameError::TooManyLines));
        assert_eq!(ehlo_frame(input, 20, 100), Err(FrameError::LineTooLong));
        assert_eq!(
            ehlo_frame(b"250-a\r\n251 b\r\n", 512, 100),
            Ok(Status::Complete((14, Err(ParseError::BadReply))))
        );
    }

    #[test]
    fn ehlo_keyword_maps_each_name() {
        let reply = parse_reply(
            b"250-mx\r\n250-pipelining\r\n250-Size 10\r\n250-8bitmime\r\n250-smtputf8\r\n\
                  250-starttls\r\n250-dsn\r\n250-enhancedstatuscodes\r\n250-chunking\r\n\
                  250-binarymime\r\n250-requiretls\r\n250-mt-priority MIXER\r\n250-deliverby 60\r\n\
                  250-auth plain Login\r\n250-X-\xffSTRANGE a  b\r\n250-limits RCPTMAX=20 MAILMAX=0\r\n250 \r\n",
        )
        .unwrap();
        let caps = Capabilities::from_ehlo(&reply);
        assert_eq!(caps.domain, "mx");
        assert!(caps.pipelining && caps.eightbitmime && caps.smtputf8 && caps.starttls);
        assert!(caps.dsn && caps.enhanced_status_codes && caps.chunking && caps.binarymime);
        assert!(caps.requiretls && caps.mt_priority && caps.deliverby);
        // RFC 9422: MAILMAX=0 is no positive number, so no limit.
        assert_eq!(caps.limits().rcptmax.map(|n| n.get()), Some(20));
        assert_eq!(caps.limits().mailmax, None);
        assert_eq!(caps.size, Some(10));
        assert_eq!(caps.auth.names().collect::<Vec<_>>(), ["PLAIN", "LOGIN"]);
        assert_eq!(caps.other.len(), 2);
        assert_eq!(caps.other[0].keyword, "X-\u{fffd}STRANGE");
        assert_eq!(caps.other[0].words().collect::<Vec<_>>(), ["a", "b"]);
    }
}

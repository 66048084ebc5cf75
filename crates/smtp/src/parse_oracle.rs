//! The command parser as it was before the single-pass rewrite (0.1.0),
//! kept in the tests as the oracle the fast one must agree with: the same
//! inputs accepted, the same errors, the same values. Only the way values
//! are built changed (a `Mailbox` is one slice now, unknown parameters a
//! boxed slice); the checks are the old ones, including the address
//! literal check through `std::net`.

#![allow(clippy::all, clippy::pedantic)]

use crate::parse::ParseError;
use crate::types::*;

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

/// The address literal check as it was: a dotted quad by hand, IPv6 and
/// any other IPv4 form through `std::net`.
fn old_check_address_literal(s: &[u8]) -> Result<(), ValidationError> {
    fn dotted_quad(b: &[u8]) -> Option<bool> {
        if b.is_empty() || !b.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
            return None;
        }
        let mut groups = 0;
        for g in b.split(|&c| c == b'.') {
            groups += 1;
            let ok = match *g {
                [a] => a.is_ascii_digit(),
                [a, _] => a != b'0',
                [a, b, c] => {
                    a != b'0'
                        && u16::from(a - b'0') * 100
                            + u16::from(b - b'0') * 10
                            + u16::from(c - b'0')
                            <= 255
                }
                _ => false,
            };
            if !ok || groups > 4 {
                return Some(false);
            }
        }
        Some(groups == 4)
    }
    if s.len() > MAX_DOMAIN {
        return Err(ValidationError::TooLong {
            max: MAX_DOMAIN,
            len: s.len(),
        });
    }
    if s.len() < 3 || s[0] != b'[' || s[s.len() - 1] != b']' {
        return Err(ValidationError::Malformed);
    }
    let inner = &s[1..s.len() - 1];
    if let Some(ok) = dotted_quad(inner) {
        return if ok {
            Ok(())
        } else {
            Err(ValidationError::Malformed)
        };
    }
    for &b in inner {
        if !(33..=90).contains(&b) && !(94..=126).contains(&b) {
            return Err(ValidationError::Malformed);
        }
    }
    let text = std::str::from_utf8(inner).map_err(|_| ValidationError::Malformed)?;
    if let Some(v6) = text
        .strip_prefix("IPv6:")
        .or_else(|| text.strip_prefix("ipv6:"))
    {
        v6.parse::<std::net::Ipv6Addr>()
            .map_err(|_| ValidationError::Malformed)?;
    } else if let Some((tag, content)) = text.split_once(':') {
        if tag.is_empty()
            || content.is_empty()
            || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || tag.ends_with('-')
        {
            return Err(ValidationError::Malformed);
        }
    } else {
        text.parse::<std::net::Ipv4Addr>()
            .map_err(|_| ValidationError::Malformed)?;
    }
    Ok(())
}

fn bytes_str(b: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(b).map_err(|_| ParseError::Syntax)
}

pub(crate) fn parse_command(line: &[u8]) -> Result<Command<'_>, ParseError> {
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
fn digits_u64(d: &[u8]) -> Option<u64> {
    if d.is_empty() || d.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// `BDAT SP chunk-size [SP "LAST"]` after the verb and its space
/// (RFC 3030 §2): `chunk-size = 1*DIGIT`, `LAST` in any case.
fn bdat(arg: &[u8]) -> Result<Command<'static>, ParseError> {
    let digits = arg.iter().take_while(|b| b.is_ascii_digit()).count();
    let last = match &arg[digits..] {
        b"" => false,
        [b' ', l @ ..] if l.eq_ignore_ascii_case(b"LAST") => true,
        _ => return Err(ParseError::Syntax),
    };
    let size = digits_u64(&arg[..digits]).ok_or(ParseError::Syntax)?;
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

/// `"<" [ A-d-l ":" ] Mailbox ">"` or `"<>"`, returning the mailbox (None
/// for the null path; a source route is checked and dropped, as RFC 5321
/// §4.1.2 and Appendix C allow) and the rest of the input.
///
/// The scan yields plain offsets ([`PathSpan`]); the caller builds the
/// mailbox in place ([`span_mailbox`]), which avoids moving nested enums
/// through several temporaries on this hot path.
#[inline(always)]
fn path(input: &str) -> Result<PathSpan, ParseError> {
    let b = input.as_bytes();
    if b.first() != Some(&b'<') {
        return Err(ParseError::BadPath);
    }
    let mut i = 1;
    if b.get(1) == Some(&b'>') {
        return Ok(PathSpan {
            null: true,
            end: 2,
            ..PathSpan::default()
        });
    }
    // A-d-l = At-domain *( "," At-domain ); At-domain = "@" Domain
    if b.get(1) == Some(&b'@') {
        let colon = memchr::memchr(b':', b).ok_or(ParseError::BadPath)?;
        for at_domain in b[1..colon].split(|&c| c == b',') {
            let d = at_domain.strip_prefix(b"@").ok_or(ParseError::BadPath)?;
            check_domain(d).map_err(|_| ParseError::BadPath)?;
        }
        i = colon + 1;
    }
    // Local-part: a quoted string (checked by `check_local_part`), or a
    // Dot-string checked here in one pass.
    let local_start = i;
    let quoted = b.get(i) == Some(&b'"');
    let local_end = if quoted {
        let mut j = i + 1;
        loop {
            match b.get(j) {
                Some(b'\\') => j += 2,
                Some(b'"') => break j + 1,
                Some(_) => j += 1,
                None => return Err(ParseError::BadPath),
            }
        }
    } else {
        // Dot-string = Atom *("." Atom)
        let mut j = i;
        let mut prev_dot = true;
        while let Some(&c) = b.get(j) {
            if class(c, C_ATEXT) {
                prev_dot = false;
            } else if c == b'.' && !prev_dot {
                prev_dot = true;
            } else {
                break;
            }
            j += 1;
        }
        if prev_dot {
            return Err(ParseError::BadPath);
        }
        j
    };
    if b.get(local_end) != Some(&b'@') {
        return Err(ParseError::BadPath);
    }
    let host_start = local_end + 1;
    let literal = b.get(host_start) == Some(&b'[');
    let host_end = if literal {
        host_start + memchr::memchr(b']', &b[host_start..]).ok_or(ParseError::BadPath)? + 1
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
    Ok(PathSpan {
        null: false,
        local: (local_start, local_end),
        host: (host_start, host_end),
        quoted,
        literal,
        end: host_end + 1,
    })
}

/// Offsets of a path found by [`path`] in its input.
#[derive(Debug, Clone, Copy, Default)]
struct PathSpan {
    /// `<>`.
    null: bool,
    local: (usize, usize),
    host: (usize, usize),
    /// The local part is a quoted string (not yet checked).
    quoted: bool,
    /// The host is an address literal (not yet checked).
    literal: bool,
    /// Offset just after the closing `>`.
    end: usize,
}

/// The mailbox of a non-null `span` of `input`, finishing the checks
/// [`path`] left to the type constructors (quoted local part, address
/// literal).
#[inline(always)]
fn span_mailbox<'a>(input: &'a str, span: &PathSpan) -> Result<Mailbox<'a>, ParseError> {
    // The delimiters are ASCII, so these are char boundaries.
    let local = input
        .get(span.local.0..span.local.1)
        .ok_or(ParseError::BadPath)?;
    let host = input
        .get(span.host.0..span.host.1)
        .ok_or(ParseError::BadPath)?;
    if !span.quoted && !span.literal {
        // Proved a Dot-string of at most 64 octets and a Domain of at most
        // 255, the path within 256, by `path`.
        return Mailbox::new(LocalPart::unvalidated(local), Host::unvalidated(host))
            .map_err(map_validation);
    }
    let local = if span.quoted {
        LocalPart::try_from(local).map_err(map_validation)?
    } else {
        LocalPart::unvalidated(local)
    };
    let host = if span.literal {
        old_check_address_literal(host.as_bytes()).map_err(map_validation)?;
        Host::unvalidated(host)
    } else {
        Host::unvalidated(host)
    };
    Mailbox::new(local, host).map_err(map_validation)
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
        let mut i = 1;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || (b[i] == b'-' && i > 1)) {
            i += 1;
        }
        if i == 1 {
            return Err(ParseError::Syntax);
        }
        let k = &s[1..i];
        let v = match b.get(i) {
            None | Some(b' ') => None,
            Some(b'=') => {
                // esmtp-value = 1*(%d33-60 / %d62-126)
                let start = i + 1;
                let mut j = start;
                while j < b.len() && class(b[j], C_VALUE) {
                    j += 1;
                }
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

#[inline]
fn xtext(v: &str) -> Result<XText<'_>, ParseError> {
    XText::try_from(v).map_err(|_| ParseError::BadParameter)
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
    let span = path(input)?;
    let from = if span.null {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(span_mailbox(input, &span)?)
    };
    let rest = &input[span.end..];
    // Built in place: the parameters are filled inside the value that is
    // returned, so the large `Command` is not copied out of a temporary.
    let mut cmd = Command::Mail(from, MailParams::default());
    let Command::Mail(_, p) = &mut cmd else {
        return Err(ParseError::Syntax);
    };
    let mut other = Vec::new();
    params(rest, |k, v| {
        let is = |n: &str| k.len() == n.len() && k.eq_ignore_ascii_case(n);
        if is("SIZE") {
            let n = digits_u64(need(v)?.as_bytes()).ok_or(ParseError::BadParameter)?;
            set(&mut p.size, n)
        } else if is("BODY") {
            let v = need(v)?;
            let b = if v.eq_ignore_ascii_case("8BITMIME") {
                BodyType::EightBitMime
            } else if v.eq_ignore_ascii_case("7BIT") {
                BodyType::SevenBit
            } else if v.eq_ignore_ascii_case("BINARYMIME") {
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
            let r = if v.eq_ignore_ascii_case("FULL") {
                Ret::Full
            } else if v.eq_ignore_ascii_case("HDRS") {
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
    p.other = other.into_boxed_slice();
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
        let span = path(s)?;
        if span.null {
            return Err(ParseError::BadPath);
        }
        (
            ForwardPath::Mailbox(span_mailbox(s, &span)?),
            &s[span.end..],
        )
    };
    // Built in place, as in `mail`.
    let mut cmd = Command::Rcpt(to, RcptParams::default());
    let Command::Rcpt(_, p) = &mut cmd else {
        return Err(ParseError::Syntax);
    };
    let mut other = Vec::new();
    params(rest, |k, v| {
        if k.eq_ignore_ascii_case("NOTIFY") {
            let v = need(v)?;
            let mut n = Notify::NEVER;
            if !v.eq_ignore_ascii_case("NEVER") {
                for item in v.as_bytes().split(|&b| b == b',') {
                    let flag = if item.eq_ignore_ascii_case(b"SUCCESS") {
                        &mut n.success
                    } else if item.eq_ignore_ascii_case(b"FAILURE") {
                        &mut n.failure
                    } else if item.eq_ignore_ascii_case(b"DELAY") {
                        &mut n.delay
                    } else {
                        return Err(ParseError::BadParameter);
                    };
                    if *flag {
                        return Err(ParseError::BadParameter);
                    }
                    *flag = true;
                }
            }
            set(&mut p.notify, n)
        } else if k.eq_ignore_ascii_case("ORCPT") {
            let (t, a) = split_at_byte(need(v)?, b';').ok_or(ParseError::BadParameter)?;
            let addr_type = Keyword::try_from(t).map_err(|_| ParseError::BadParameter)?;
            let addr = xtext(a)?;
            if addr.as_str().is_empty() {
                return Err(ParseError::BadParameter);
            }
            set(&mut p.orcpt, Orcpt { addr_type, addr })
        } else {
            other.push(other_param(k, v));
            Ok(())
        }
    })?;
    p.other = other.into_boxed_slice();
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Lines that reach every branch of the parser, mutated below.
    const SEEDS: &[&str] = &[
        "EHLO client.example.org",
        "HELO [192.0.2.1]",
        "EHLO [IPv6:2001:db8::1]",
        "MAIL FROM:<sender.name@example.org> SIZE=123456 BODY=8BITMIME",
        "MAIL FROM:<> RET=HDRS ENVID=QQ314159",
        "MAIL FROM:<\"quoted local\"@example.org>",
        "MAIL FROM:<\"a\\\"b\"@[10.0.0.1]> SMTPUTF8 REQUIRETLS",
        "MAIL FROM:<@a.b,@c.d:x@y.z> AUTH=e+3Dmc2@example.com MT-PRIORITY=-3 BY=120;RT X-FOO=bar X-FLAG",
        "MAIL FROM:<a@b.c> BODY=7BIT RET=FULL BY=-5;N",
        "RCPT TO:<first.recipient@example.net>",
        "RCPT TO:<second@mail.example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;second@mail.example.com",
        "RCPT TO:<Postmaster> NOTIFY=NEVER X-Y",
        "RCPT TO:<user@[192.0.2.17]>",
        "RCPT TO:<user@[255.0.10.1]> NOTIFY=DELAY",
        "RCPT TO:<user@[IPv6:::1]>",
        "RCPT TO:<user@[tag:content]>",
        "RCPT TO:<用户@例子.广告>",
        "DATA",
        "BDAT 86 LAST",
        "RSET",
        "NOOP",
        "NOOP hi",
        "HELP MAIL",
        "VRFY Crispin",
        "EXPN list",
        "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=",
        "AUTH EXTERNAL =",
        "STARTTLS",
        "QUIT",
    ];

    /// Bytes that matter to the grammar.
    const INTERESTING: &[u8] = b"<>@[]:.,;=+-\" \\0129aZ\x80\xc3\xa9\xff\r\n\0";

    fn mutated() -> impl Strategy<Value = Vec<u8>> {
        (
            0..SEEDS.len(),
            proptest::collection::vec(
                (
                    0usize..3,
                    any::<prop::sample::Index>(),
                    any::<prop::sample::Index>(),
                    any::<u8>(),
                ),
                0..4,
            ),
        )
            .prop_map(|(seed, edits)| {
                let mut v = SEEDS[seed].as_bytes().to_vec();
                for (kind, at, pick, raw) in edits {
                    let b = if raw & 1 == 0 {
                        INTERESTING[pick.index(INTERESTING.len())]
                    } else {
                        raw
                    };
                    match kind {
                        0 if !v.is_empty() => {
                            let i = at.index(v.len());
                            v[i] = b;
                        }
                        1 => {
                            let i = at.index(v.len() + 1);
                            v.insert(i, b);
                        }
                        _ if !v.is_empty() => {
                            let i = at.index(v.len());
                            v.remove(i);
                        }
                        _ => {}
                    }
                }
                v
            })
    }

    fn literal_rcpt() -> impl Strategy<Value = String> {
        (
            prop_oneof![
                "[0-9.]{0,20}",
                "[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}",
                "(IPv6|ipv6|IPV6):[0-9a-fA-F:.]{0,30}",
                "[a-zA-Z0-9-]{0,5}:[!-Z^-~]{0,8}",
                "[ -~]{0,12}",
            ],
            prop_oneof![
                Just(""),
                Just("]"),
                Just("]>"),
                Just("]> NOTIFY=NEVER"),
                Just("]]>")
            ],
        )
            .prop_map(|(inner, tail)| format!("RCPT TO:<a.b@[{inner}{tail}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn parse_command_matches_oracle_on_mutations(line in mutated()) {
            prop_assert_eq!(crate::parse::parse_command(&line), parse_command(&line));
        }

        #[test]
        fn parse_command_matches_oracle_on_bytes(line in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert_eq!(crate::parse::parse_command(&line), parse_command(&line));
        }

        #[test]
        fn parse_command_matches_oracle_on_address_literals(line in literal_rcpt()) {
            prop_assert_eq!(
                crate::parse::parse_command(line.as_bytes()),
                parse_command(line.as_bytes())
            );
        }

        #[test]
        fn parse_command_matches_oracle_on_paths(
            verb in prop_oneof![Just("MAIL FROM:"), Just("RCPT TO:"), Just("rcpt to:")],
            local in "(\"[ -~]{0,10}\"|[a-z.!#+=]{0,10}|[a-z]{60,66})",
            host in "([a-z0-9.-]{0,12}|[a-z]{250,256}|\\[[0-9.]{0,16}\\])",
            tail in "(| [A-Z=a-z0-9;,+-]{0,16})",
        ) {
            let line = format!("{verb}<{local}@{host}>{tail}");
            prop_assert_eq!(
                crate::parse::parse_command(line.as_bytes()),
                parse_command(line.as_bytes())
            );
        }
    }

    /// Every group of one to four digits (leading zeros too) in each
    /// position of a dotted quad, against the old check through `std`.
    #[test]
    fn ipv4_literals_match_oracle_exhaustively() {
        let mut groups: Vec<String> = (0..=1000).map(|n| n.to_string()).collect();
        groups.extend((0..=99).map(|n| format!("0{n}")));
        groups.extend(["", "00", "000", "0000", "2555", "1.", "1.2.3.4.5"].map(String::from));
        for g in &groups {
            for pos in 0..4 {
                let mut quad = ["1", "2", "3", "4"].map(String::from);
                quad[pos] = g.clone();
                let line = format!("RCPT TO:<a@[{}]>", quad.join("."));
                assert_eq!(
                    crate::parse::parse_command(line.as_bytes()),
                    parse_command(line.as_bytes()),
                    "{line}"
                );
            }
        }
    }

    /// A command is at most 128 octets: LLVM copies that inline, a larger
    /// one through a call to `memcpy` (about a tenth of a RCPT's parse).
    #[test]
    fn command_fits_128_octets() {
        assert!(std::mem::size_of::<Command<'_>>() <= 128);
        assert!(std::mem::size_of::<Result<Command<'_>, ParseError>>() <= 128);
        assert_eq!(std::mem::size_of::<Mailbox<'_>>(), 32);
    }

    #[test]
    fn seeds_parse_as_before() {
        for s in SEEDS {
            let new = crate::parse::parse_command(s.as_bytes());
            assert_eq!(new, parse_command(s.as_bytes()), "{s}");
            assert!(new.is_ok(), "{s}: {new:?}");
        }
    }
}

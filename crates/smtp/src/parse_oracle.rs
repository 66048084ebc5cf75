//! The command parser as it was before the single-pass rewrite (0.1.0),
//! kept in the tests as the oracle the fast one must agree with: the same
//! inputs accepted, the same errors, the same values. What the rewrite
//! changed is here as it was (`parse_command`, `bytes_str`, `path`,
//! `params`, `mail`, `rcpt`); only the way values are built follows the
//! new types (a `Mailbox` is one slice now, unknown parameters a boxed
//! slice). What it left alone is called from the parser itself (the
//! argument helpers, AUTH, BDAT, the parameter value checks), and an
//! address literal goes through `check_address_literal` as it always did,
//! a dotted quad by hand and every other form through `std::net`: the
//! fast parser's own dotted-quad scan is what the tests hold against it.

#![allow(clippy::all, clippy::pedantic)]

use super::{
    ParseError, V_AUTH, V_BDAT, V_DATA, V_EHLO, V_EXPN, V_HELO, V_HELP, V_MAIL, V_NOOP, V_QUIT,
    V_RCPT, V_RSET, V_VRFY, auth, bdat, deliver_by, digits_u64, host_arg, map_validation, need,
    opt_text, other_param, set, set_flag, split_at_byte, text_arg,
};
use crate::types::*;

/// An `xtext` checked by the type, byte by byte.
fn xtext(v: &str) -> Result<XText<'_>, ParseError> {
    XText::try_from(v).map_err(|_| ParseError::BadParameter)
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
        check_address_literal(host.as_bytes()).map_err(map_validation)?;
        Host::unvalidated(host)
    } else {
        Host::unvalidated(host)
    };
    Mailbox::new(local, host).map_err(map_validation)
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
        "RCPT TO:<a@b.c> NOTIFY=delay,Success,fAILURE ORCPT=x-Type;a+2Bb+3D",
        "MAIL FROM:<a@b.c> BODY=binarymime ENVID=a+2B SIZE=0",
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

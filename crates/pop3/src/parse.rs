//! Grammar parsers: complete lines in (without their CRLF), values out.
//!
//! The streaming layer ([`mailwire_line::LineFramer`], and the
//! [`ResponseDecoder`](crate::ResponseDecoder) for replies) frames lines
//! first; these functions see only whole units and use nom 8's `complete`
//! combinators. Outputs borrow from the input.

use std::borrow::Cow;
use std::num::NonZeroU32;

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while, take_while_m_n, take_while1};
use nom::character::complete::digit1;
use nom::combinator::{all_consuming, opt, rest};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::types::*;

/// Why a command line was refused. The server answers `-ERR` and goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The keyword is not a POP3 command this crate knows.
    #[error("unknown command")]
    Unknown,
    /// The arguments do not fit the command (missing, extra, or malformed).
    #[error("syntax error in arguments")]
    Syntax,
    /// A message number is zero or not a number (RFC 1939 §3: `msg` counts from 1).
    #[error("invalid message number")]
    InvalidNumber,
}

/// Why a server response line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The line starts with neither `+OK` nor `-ERR`.
    #[error("not a status line")]
    NotStatus,
    /// The status line does not carry what the command's answer needs
    /// (e.g. `+OK` without `count size` for STAT).
    #[error("malformed status line arguments")]
    Arguments,
    /// A line of a multi-line answer is malformed.
    #[error("malformed listing line")]
    Listing,
    /// A capability line is malformed.
    #[error("malformed capability")]
    Capability,
    /// A continuation line (`+ base64`) is malformed.
    #[error("malformed continuation")]
    Continuation,
}

type Res<'a, T> = IResult<&'a [u8], T>;

fn is_arg_byte(b: u8) -> bool {
    b > 0x20 && b != 0x7f
}

fn is_text_byte(b: u8) -> bool {
    b != b'\r' && b != b'\n' && b != 0
}

fn arg(i: &[u8]) -> Res<'_, Arg<'_>> {
    // take_while_m_n proved: 1..=255 octets, each an arg byte (Arg's rule).
    take_while_m_n(1, Arg::MAX_LEN, is_arg_byte)
        .map(|a: &[u8]| Arg::unvalidated(a))
        .parse(i)
}

fn text(i: &[u8]) -> Res<'_, Text<'_>> {
    // take_while_m_n proved: at most 1000 octets without CR, LF, NUL.
    take_while_m_n(0, Text::MAX_LEN, is_text_byte)
        .map(|t: &[u8]| Text::unvalidated(t))
        .parse(i)
}

fn number_u64(i: &[u8]) -> Res<'_, u64> {
    digit1
        .map_res(|d: &[u8]| {
            // digit1 proved: ASCII digits only.
            std::str::from_utf8(d)
                .map_err(|_| ())
                .and_then(|s| s.parse::<u64>().map_err(|_| ()))
        })
        .parse(i)
}

fn number_u32(i: &[u8]) -> Res<'_, u32> {
    number_u64.map_res(u32::try_from).parse(i)
}

fn msg(i: &[u8]) -> Res<'_, MsgNum> {
    number_u32.map_opt(NonZeroU32::new).parse(i)
}

fn sp_msg(i: &[u8]) -> Res<'_, MsgNum> {
    preceded(tag(&b" "[..]), msg).parse(i)
}

fn hex_digest(i: &[u8]) -> Res<'_, [u8; 16]> {
    take_while_m_n(32, 32, |b: u8| b.is_ascii_hexdigit())
        .map(|h: &[u8]| {
            let mut out = [0u8; 16];
            for (k, pair) in h.chunks_exact(2).enumerate() {
                out[k] = (hex_val(pair[0]) << 4) | hex_val(pair[1]);
            }
            out
        })
        .parse(i)
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

fn args<'a, T>(
    line: &'a [u8],
    p: impl Parser<&'a [u8], Output = T, Error = nom::error::Error<&'a [u8]>>,
) -> Result<T, CommandError> {
    all_consuming(p)
        .parse(line)
        .map(|(_, v)| v)
        .map_err(|_| CommandError::Syntax)
}

/// Parses a message-number argument list, telling a bad number from a
/// syntax error.
fn msg_args<'a, T>(
    line: &'a [u8],
    p: impl Parser<&'a [u8], Output = T, Error = nom::error::Error<&'a [u8]>>,
) -> Result<T, CommandError> {
    args(line, p).map_err(|_| {
        if line.split(|&b| b == b' ').skip(1).any(|w| {
            std::str::from_utf8(w)
                .ok()
                .and_then(|w| w.parse::<u32>().ok())
                .is_none_or(|v| v == 0)
        }) {
            CommandError::InvalidNumber
        } else {
            CommandError::Syntax
        }
    })
}

/// Parses one command line, without its CRLF (RFC 1939 §3: a case-
/// insensitive keyword, then arguments separated by single spaces).
///
/// ```
/// use mailwire_pop3::{parse_command, Command};
/// assert_eq!(parse_command(b"retr 1").unwrap(), Command::Retr(1.try_into().unwrap()));
/// assert!(parse_command(b"RETR 0").is_err());
/// ```
pub fn parse_command(line: &[u8]) -> Result<Command<'_>, CommandError> {
    let kw_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let (kw, rest_) = line.split_at(kw_len);
    let mut k = [0u8; 4];
    if kw.len() > 4 || kw.len() < 3 {
        return Err(CommandError::Unknown);
    }
    for (d, s) in k.iter_mut().zip(kw) {
        *d = s.to_ascii_uppercase();
    }
    let sp_arg = || preceded(tag(&b" "[..]), arg);
    match &k[..kw.len()] {
        b"USER" => args(rest_, sp_arg()).map(Command::User),
        b"PASS" => {
            // RFC 1939 §7: PASS has exactly one argument, so spaces in it
            // are part of the password.
            args(rest_, preceded(tag(&b" "[..]), text))
                .and_then(|t| {
                    if t.as_bytes().is_empty() {
                        Err(CommandError::Syntax)
                    } else {
                        Ok(t)
                    }
                })
                .map(Command::Pass)
        }
        b"APOP" => args(rest_, (sp_arg(), preceded(tag(&b" "[..]), hex_digest)))
            .map(|(name, digest)| Command::Apop { name, digest }),
        b"AUTH" => args(rest_, (sp_arg(), opt(sp_arg()))).map(|(mechanism, initial_response)| {
            Command::Auth {
                mechanism,
                initial_response,
            }
        }),
        b"CAPA" => args(rest_, nothing).map(|()| Command::Capa),
        b"STAT" => args(rest_, nothing).map(|()| Command::Stat),
        b"LIST" => msg_args(rest_, opt(sp_msg)).map(Command::List),
        b"RETR" => msg_args(rest_, sp_msg).map(Command::Retr),
        b"DELE" => msg_args(rest_, sp_msg).map(Command::Dele),
        b"NOOP" => args(rest_, nothing).map(|()| Command::Noop),
        b"RSET" => args(rest_, nothing).map(|()| Command::Rset),
        b"TOP" => msg_args(rest_, (sp_msg, preceded(tag(&b" "[..]), number_u32)))
            .map(|(msg, lines)| Command::Top { msg, lines }),
        b"UIDL" => msg_args(rest_, opt(sp_msg)).map(Command::Uidl),
        b"QUIT" => args(rest_, nothing).map(|()| Command::Quit),
        b"STLS" => args(rest_, nothing).map(|()| Command::Stls),
        b"UTF8" => args(rest_, nothing).map(|()| Command::Utf8),
        b"LANG" => args(rest_, opt(sp_arg())).map(Command::Lang),
        _ => Err(CommandError::Unknown),
    }
}

fn nothing(i: &[u8]) -> Res<'_, ()> {
    Ok((i, ()))
}

fn is_rchar(b: u8) -> bool {
    (0x21..=0x7f).contains(&b) && b != b'/' && b != b']'
}

fn slash_level(i: &[u8]) -> Res<'_, &[u8]> {
    preceded(tag(&b"/"[..]), take_while1(is_rchar)).parse(i)
}

fn resp_code(i: &[u8]) -> Res<'_, ResponseCode<'_>> {
    let (start, _) = tag(&b"["[..]).parse(i)?;
    let (i, first) = take_while1(is_rchar).parse(start)?;
    let mut len = first.len();
    let mut j = i;
    while let Ok((k, level)) = slash_level(j) {
        len += 1 + level.len();
        j = k;
    }
    let (j, _) = tag(&b"]"[..]).parse(j)?;
    let raw = &start[..len];
    // The grammar above proved the code is printable ASCII: valid UTF-8.
    let code = std::str::from_utf8(raw)
        .map_err(|_| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Char)))?;
    Ok((j, ResponseCode::from_validated(Cow::Borrowed(code))))
}

/// Parses a status line without its CRLF: `+OK`/`-ERR`, an optional
/// RFC 2449 §8 response code, and text (RFC 1939 §3).
///
/// A `[` that does not open a well-formed code is text.
///
/// ```
/// use mailwire_pop3::{parse_status_line, ResponseCode, Status};
/// let l = parse_status_line(b"-ERR [IN-USE] Do you have another POP session running?").unwrap();
/// assert_eq!(l.status, Status::Err);
/// assert_eq!(l.code, Some(ResponseCode::InUse));
/// assert_eq!(l.text.as_bytes(), b"Do you have another POP session running?");
/// ```
pub fn parse_status_line(line: &[u8]) -> Result<StatusLine<'_>, ReplyError> {
    let status = alt((
        tag_no_case(&b"+OK"[..]).map(|_| Status::Ok),
        tag_no_case(&b"-ERR"[..]).map(|_| Status::Err),
    ));
    let mut p = all_consuming((
        status,
        opt(preceded(
            tag(&b" "[..]),
            (
                opt((resp_code, alt((tag(&b" "[..]), nom::combinator::eof)))),
                text,
            ),
        )),
    ));
    match p.parse(line) {
        Ok((_, (status, tail))) => {
            let (code, text) = match tail {
                Some((code, text)) => (code.map(|(c, _)| c), text),
                None => (None, Text::unvalidated(&b""[..])),
            };
            Ok(StatusLine { status, code, text })
        }
        Err(_) => Err(ReplyError::NotStatus),
    }
}

/// Parses a SASL continuation line (RFC 5034 §4): `+`, `+ ` or `+ base64`.
/// Returns the base64 text (not decoded).
pub fn parse_continuation(line: &[u8]) -> Result<&[u8], ReplyError> {
    match line {
        b"+" => Ok(b""),
        [b'+', b' ', rest @ ..] if !rest.contains(&b' ') => Ok(rest),
        _ => Err(ReplyError::Continuation),
    }
}

/// Parses the text of a `+OK` answer to `STAT` (RFC 1939 §5): `count size`,
/// then optional text.
pub fn parse_drop_listing(text: &[u8]) -> Result<DropListing, ReplyError> {
    let (_, (count, _, size, _)) = (
        number_u32,
        tag(&b" "[..]),
        number_u64,
        opt(preceded(tag(&b" "[..]), rest)),
    )
        .parse(text)
        .ok()
        .filter(|(r, _)| r.is_empty())
        .ok_or(ReplyError::Arguments)?;
    Ok(DropListing { count, size })
}

/// Parses a scan listing, `msg size` (RFC 1939 §5), from a `LIST` line or
/// the text of a `+OK` answer to `LIST msg`. Text after the size is
/// ignored (the RFC discourages it but allows it).
pub fn parse_scan_listing(text: &[u8]) -> Result<ScanListing, ReplyError> {
    all_consuming((
        msg,
        tag(&b" "[..]),
        number_u64,
        opt(preceded(tag(&b" "[..]), rest)),
    ))
    .parse(text)
    .map(|(_, (msg, _, size, _))| ScanListing { msg, size })
    .map_err(|_| ReplyError::Listing)
}

/// Parses a unique-id listing, `msg unique-id` (RFC 1939 §7), from a `UIDL`
/// line or the text of a `+OK` answer to `UIDL msg`.
pub fn parse_uid_listing(text: &[u8]) -> Result<UidListing<'_>, ReplyError> {
    all_consuming((
        msg,
        tag(&b" "[..]),
        // take_while_m_n proved: 1..=70 octets in 0x21..=0x7E (Uid's rule).
        take_while_m_n(1, Uid::MAX_LEN, |b| (0x21..=0x7e).contains(&b))
            .map(|u: &[u8]| Uid::unvalidated(u)),
    ))
    .parse(text)
    .map(|(_, (msg, _, uid))| UidListing { msg, uid })
    .map_err(|_| ReplyError::Listing)
}

/// Parses a `LANG` listing line (RFC 6856 §3): `tag SP description`.
pub fn parse_lang_listing(line: &[u8]) -> Result<LangListing<'_>, ReplyError> {
    all_consuming((arg, preceded(tag(&b" "[..]), text)))
        .parse(line)
        .map(|(_, (tag, description))| LangListing { tag, description })
        .map_err(|_| ReplyError::Listing)
}

fn params(i: &[u8]) -> Res<'_, Vec<Arg<'_>>> {
    let mut out = Vec::new();
    let mut i = i;
    // At most 64 parameters: a 512-octet line holds fewer, but the bound
    // holds whatever the line limit.
    while out.len() < 64 {
        match preceded(take_while1(|b| b == b' '), arg).parse(i) {
            Ok((r, a)) => {
                out.push(a);
                i = r;
            }
            Err(_) => break,
        }
    }
    let (i, _) = take_while(|b| b == b' ').parse(i)?;
    Ok((i, out))
}

/// Parses one capability line of a `CAPA` answer (RFC 2449 §6). Unknown
/// capabilities become [`Capability::Other`].
///
/// ```
/// use mailwire_pop3::{parse_capability, Capability};
/// assert_eq!(parse_capability(b"PIPELINING").unwrap(), Capability::Pipelining);
/// assert!(matches!(parse_capability(b"SASL PLAIN LOGIN").unwrap(), Capability::Sasl(m) if m.len() == 2));
/// ```
pub fn parse_capability(line: &[u8]) -> Result<Capability<'_>, ReplyError> {
    let (r, tag_) = arg(line).map_err(|_| ReplyError::Capability)?;
    let up = |s: &str| tag_.as_bytes().eq_ignore_ascii_case(s.as_bytes());
    if up("IMPLEMENTATION") {
        let t = r.strip_prefix(b" ").unwrap_or(r);
        return Text::try_from(t)
            .map(Capability::Implementation)
            .map_err(|_| ReplyError::Capability);
    }
    let (r, ps) = params(r).map_err(|_| ReplyError::Capability)?;
    if !r.is_empty() {
        return Err(ReplyError::Capability);
    }
    let num = |a: &Arg<'_>| -> Result<u32, ReplyError> {
        all_consuming(number_u32)
            .parse(a.as_bytes())
            .map(|(_, n)| n)
            .map_err(|_| ReplyError::Capability)
    };
    let is_user =
        |a: Option<&Arg<'_>>| a.is_some_and(|a| a.as_bytes().eq_ignore_ascii_case(b"USER"));
    let none = ps.is_empty();
    Ok(match () {
        _ if up("TOP") && none => Capability::Top,
        _ if up("USER") && none => Capability::User,
        _ if up("SASL") => Capability::Sasl(ps),
        _ if up("RESP-CODES") && none => Capability::RespCodes,
        _ if up("PIPELINING") && none => Capability::Pipelining,
        _ if up("UIDL") && none => Capability::Uidl,
        _ if up("STLS") && none => Capability::Stls,
        _ if up("AUTH-RESP-CODE") && none => Capability::AuthRespCode,
        _ if up("LANG") && none => Capability::Lang,
        _ if up("UTF8") && (none || (ps.len() == 1 && is_user(ps.first()))) => {
            Capability::Utf8 { user: !none }
        }
        _ if up("LOGIN-DELAY") && (ps.len() == 1 || (ps.len() == 2 && is_user(ps.get(1)))) => {
            Capability::LoginDelay {
                secs: num(&ps[0])?,
                per_user: ps.len() == 2,
            }
        }
        _ if up("EXPIRE") && (ps.len() == 1 || (ps.len() == 2 && is_user(ps.get(1)))) => {
            let expire = if ps[0].as_bytes().eq_ignore_ascii_case(b"NEVER") {
                Expire::Never
            } else {
                Expire::Days(num(&ps[0])?)
            };
            Capability::Expire {
                expire,
                per_user: ps.len() == 2,
            }
        }
        _ => Capability::Other {
            tag: tag_,
            params: ps,
        },
    })
}

/// Undoes the dot-stuffing of one line of a multi-line answer (RFC 1939 §3):
/// `None` for the terminating `.`, else the line with one leading `.`
/// removed if it had one.
pub fn unstuff_line(line: &[u8]) -> Option<&[u8]> {
    match line {
        b"." => None,
        [b'.', rest @ ..] => Some(rest),
        _ => Some(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> MsgNum {
        MsgNum::new(v).unwrap()
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse_command(b"USER mrose").unwrap(),
            Command::User(Arg::try_from("mrose").unwrap())
        );
        assert_eq!(
            parse_command(b"pass my secret").unwrap(),
            Command::Pass(Text::try_from("my secret").unwrap())
        );
        assert_eq!(parse_command(b"LIST").unwrap(), Command::List(None));
        assert_eq!(parse_command(b"LIST 2").unwrap(), Command::List(Some(n(2))));
        assert_eq!(parse_command(b"LIST 0"), Err(CommandError::InvalidNumber));
        assert_eq!(parse_command(b"LIST x"), Err(CommandError::InvalidNumber));
        assert_eq!(parse_command(b"LIST 1 2"), Err(CommandError::Syntax));
        assert_eq!(parse_command(b"LIST  1"), Err(CommandError::InvalidNumber));
        assert_eq!(
            parse_command(b"TOP 10 0").unwrap(),
            Command::Top {
                msg: n(10),
                lines: 0
            }
        );
        assert_eq!(parse_command(b"FOO"), Err(CommandError::Unknown));
        assert_eq!(parse_command(b""), Err(CommandError::Unknown));
        assert_eq!(parse_command(b"QUIT "), Err(CommandError::Syntax));
        assert_eq!(
            parse_command(b"RETR 99999999999"),
            Err(CommandError::InvalidNumber)
        );
        let apop = parse_command(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb").unwrap();
        assert!(
            matches!(apop, Command::Apop { digest, .. } if digest[0] == 0xc4 && digest[15] == 0xfb)
        );
        assert_eq!(
            parse_command(b"AUTH PLAIN =").unwrap(),
            Command::Auth {
                mechanism: Arg::try_from("PLAIN").unwrap(),
                initial_response: Some(Arg::try_from("=").unwrap())
            }
        );
        assert_eq!(parse_command(b"PASS "), Err(CommandError::Syntax));
    }

    #[test]
    fn status_lines() {
        let l = parse_status_line(b"+OK").unwrap();
        assert!(l.is_ok() && l.code.is_none() && l.text.as_bytes().is_empty());
        let l = parse_status_line(b"-ERR [SYS/TEMP] try later").unwrap();
        assert_eq!(l.code, Some(ResponseCode::SysTemp));
        let l = parse_status_line(b"-ERR [AUTH]").unwrap();
        assert_eq!(l.code, Some(ResponseCode::Auth));
        let l = parse_status_line(b"+OK [not a code").unwrap();
        assert_eq!(l.code, None);
        assert_eq!(l.text.as_bytes(), b"[not a code");
        let l = parse_status_line(b"-ERR [X//Y] t").unwrap();
        assert_eq!(l.code, None);
        assert!(parse_status_line(b"OK").is_err());
        assert!(parse_status_line(b"+OKAY").is_err());
        assert!(parse_status_line(b"+OK\0").is_err());
    }

    #[test]
    fn listings() {
        assert_eq!(
            parse_drop_listing(b"2 320").unwrap(),
            DropListing {
                count: 2,
                size: 320
            }
        );
        assert!(parse_drop_listing(b"7").is_err());
        assert!(parse_drop_listing(b"seven 1").is_err());
        assert!(parse_drop_listing(b"7 #octets").is_err());
        assert_eq!(
            parse_scan_listing(b"1 120").unwrap(),
            ScanListing {
                msg: n(1),
                size: 120
            }
        );
        assert!(parse_scan_listing(b"1").is_err());
        assert_eq!(
            parse_uid_listing(b"1 whqtswO00WBw418f9t5JxYwZ")
                .unwrap()
                .uid
                .as_bytes(),
            b"whqtswO00WBw418f9t5JxYwZ"
        );
        assert!(parse_uid_listing(b"1 ").is_err());
    }

    #[test]
    fn capabilities() {
        assert_eq!(
            parse_capability(b"EXPIRE NEVER").unwrap(),
            Capability::Expire {
                expire: Expire::Never,
                per_user: false
            }
        );
        assert_eq!(
            parse_capability(b"EXPIRE 31 USER").unwrap(),
            Capability::Expire {
                expire: Expire::Days(31),
                per_user: true
            }
        );
        assert_eq!(
            parse_capability(b"LOGIN-DELAY 300").unwrap(),
            Capability::LoginDelay {
                secs: 300,
                per_user: false
            }
        );
        assert_eq!(
            parse_capability(b"UTF8 USER").unwrap(),
            Capability::Utf8 { user: true }
        );
        assert!(matches!(
            parse_capability(b"IMPLEMENTATION Shlemazle Plotz-v302").unwrap(),
            Capability::Implementation(_)
        ));
        assert!(matches!(
            parse_capability(b"X-GOOGLE-RICO").unwrap(),
            Capability::Other { .. }
        ));
        assert!(parse_capability(b"").is_err());
        assert!(parse_capability(b"LOGIN-DELAY x").is_err());
    }
}

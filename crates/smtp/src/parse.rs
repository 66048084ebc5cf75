//! Parsers: SMTP command lines, replies and EHLO capabilities.
//!
//! Two layers (STYLE.md (b)): [`reply_frame`] finds where a complete,
//! possibly multi-line reply ends in a stream; [`parse_reply`] and
//! [`parse_command`] then parse one complete unit with nom `complete`
//! combinators and borrow from it.

use nom::Parser;
use nom::bytes::complete::{tag, tag_no_case, take_while, take_while1};
use nom::combinator::opt;
use nom::sequence::preceded;

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

type PResult<'a, T> = nom::IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;

fn syntax<T>(_: nom::Err<nom::error::Error<&[u8]>>) -> Result<T, ParseError> {
    Err(ParseError::Syntax)
}

#[inline]
fn bytes_str(b: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(b).map_err(|_| ParseError::Syntax)
}

/// Parses one command line (without its CRLF): RFC 5321 §4.1.1 and the
/// commands of RFC 3030, 3207 and 4954. The verb is case-insensitive.
///
/// ```
/// use mailwire_smtp::{parse_command, Command};
/// let cmd = parse_command(b"RCPT TO:<bob@example.org> NOTIFY=FAILURE").unwrap();
/// assert!(matches!(cmd, Command::Rcpt(..)));
/// ```
pub fn parse_command(line: &[u8]) -> Result<Command<'_>, ParseError> {
    let verb_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let (verb, rest) = line.split_at(verb_len);
    // `rest` is empty or starts with the single SP.
    let arg = rest.get(1..).unwrap_or(b"");
    let v = |name: &[u8]| verb.eq_ignore_ascii_case(name);
    match verb.len() {
        4 if v(b"MAIL") => mail(arg, !rest.is_empty()),
        4 if v(b"RCPT") => rcpt(arg, !rest.is_empty()),
        4 if v(b"DATA") => no_arg(rest, Command::Data),
        4 if v(b"BDAT") => bdat(arg),
        4 if v(b"EHLO") => host_arg(arg).map(Command::Ehlo),
        4 if v(b"HELO") => host_arg(arg).map(Command::Helo),
        4 if v(b"RSET") => no_arg(rest, Command::Rset),
        4 if v(b"QUIT") => no_arg(rest, Command::Quit),
        4 if v(b"NOOP") => opt_text(rest).map(Command::Noop),
        4 if v(b"HELP") => opt_text(rest).map(Command::Help),
        4 if v(b"VRFY") => text_arg(arg).map(Command::Vrfy),
        4 if v(b"EXPN") => text_arg(arg).map(Command::Expn),
        4 if v(b"AUTH") => auth(arg),
        8 if v(b"STARTTLS") => no_arg(rest, Command::StartTls),
        _ => Err(ParseError::UnknownCommand),
    }
}

fn no_arg(rest: &[u8], cmd: Command<'static>) -> Result<Command<'static>, ParseError> {
    if rest.is_empty() { Ok(cmd) } else { Err(ParseError::Syntax) }
}

fn host_arg(arg: &[u8]) -> Result<Host<'_>, ParseError> {
    Host::try_from(arg).map_err(|_| ParseError::Syntax)
}

fn text_arg(arg: &[u8]) -> Result<Text<'_>, ParseError> {
    if arg.is_empty() {
        return Err(ParseError::Syntax);
    }
    Text::try_from(arg).map_err(|_| ParseError::Syntax)
}

fn opt_text(rest: &[u8]) -> Result<Option<Text<'_>>, ParseError> {
    if rest.is_empty() { Ok(None) } else { text_arg(&rest[1..]).map(Some) }
}

fn bdat(arg: &[u8]) -> Result<Command<'static>, ParseError> {
    let r: PResult<'_, (&[u8], Option<&[u8]>)> =
        (take_while1(|b: u8| b.is_ascii_digit()), opt(preceded(tag(&b" "[..]), tag_no_case(&b"LAST"[..]))))
            .parse(arg);
    let (rest, (digits, last)) = r.or_else(syntax)?;
    if !rest.is_empty() || digits.len() > 20 {
        return Err(ParseError::Syntax);
    }
    let size = bytes_str(digits)?.parse::<u64>().map_err(|_| ParseError::Syntax)?;
    Ok(Command::Bdat { size, last: last.is_some() })
}

fn auth(arg: &[u8]) -> Result<Command<'_>, ParseError> {
    let (mech, ir) = match arg.iter().position(|&b| b == b' ') {
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
        None => (arg, None),
    };
    let mech = Mechanism::try_from(mech).map_err(|_| ParseError::Syntax)?;
    let ir = match ir {
        Some(ir) => {
            InitialResponse::validate(ir).map_err(|_| ParseError::Syntax)?;
            Some(InitialResponse::new(bytes_str(ir)?).map_err(|_| ParseError::Syntax)?)
        }
        None => None,
    };
    Ok(Command::Auth(mech, ir))
}

/// `"<" [ A-d-l ":" ] Mailbox ">"` or `"<>"` (when `null_ok`), returning the
/// mailbox (None for the null path; the source route is ignored as RFC 5321
/// §4.1.2 allows) and the rest of the input.
fn path(input: &[u8]) -> Result<(Option<Mailbox<'_>>, &[u8]), ParseError> {
    if input.first() != Some(&b'<') {
        return Err(ParseError::BadPath);
    }
    let mut s = &input[1..];
    if s.first() == Some(&b'>') {
        return Ok((None, &s[1..]));
    }
    // A-d-l = At-domain *( "," At-domain ); At-domain = "@" Domain
    if s.first() == Some(&b'@') {
        let colon = s.iter().position(|&b| b == b':').ok_or(ParseError::BadPath)?;
        for at_domain in s[..colon].split(|&b| b == b',') {
            let d = at_domain.strip_prefix(b"@").ok_or(ParseError::BadPath)?;
            check_domain(d).map_err(|_| ParseError::BadPath)?;
        }
        s = &s[colon + 1..];
    }
    // Local-part
    let local_len = if s.first() == Some(&b'"') {
        let mut i = 1;
        loop {
            match s.get(i) {
                Some(b'\\') => i += 2,
                Some(b'"') => break i + 1,
                Some(_) => i += 1,
                None => return Err(ParseError::BadPath),
            }
        }
    } else {
        take_while::<_, _, nom::error::Error<&[u8]>>(|b: u8| is_atext(b) || b == b'.')
            .parse(s)
            .map(|(_, l)| l.len())
            .unwrap_or(0)
    };
    let local = &s[..local_len];
    let s2 = &s[local_len..];
    if s2.first() != Some(&b'@') {
        return Err(ParseError::BadPath);
    }
    let after_at = &s2[1..];
    let host_len = if after_at.first() == Some(&b'[') {
        after_at.iter().position(|&b| b == b']').map(|i| i + 1).ok_or(ParseError::BadPath)?
    } else {
        after_at.iter().position(|&b| b == b'>').unwrap_or(after_at.len())
    };
    let host = &after_at[..host_len];
    let rest = &after_at[host_len..];
    if rest.first() != Some(&b'>') {
        return Err(ParseError::BadPath);
    }
    if local.len() + host.len() + 3 > MAX_PATH {
        return Err(ParseError::PathTooLong);
    }
    let local = LocalPart::try_from(local).map_err(map_validation)?;
    let host = Host::try_from(host).map_err(map_validation)?;
    // Length checked above, so `new` cannot fail; map just in case.
    let mbox = Mailbox::new(local, host).map_err(map_validation)?;
    Ok((Some(mbox), &rest[1..]))
}

fn map_validation(e: ValidationError) -> ParseError {
    match e {
        ValidationError::TooLong { .. } => ParseError::PathTooLong,
        _ => ParseError::BadPath,
    }
}

/// Splits `SP esmtp-param *(SP esmtp-param)` into (keyword, value) pairs.
fn params<'a>(
    mut s: &'a [u8],
    mut each: impl FnMut(&'a [u8], Option<&'a [u8]>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    while !s.is_empty() {
        s = s.strip_prefix(b" ").ok_or(ParseError::Syntax)?;
        let end = memchr::memchr(b' ', s).unwrap_or(s.len());
        let p = &s[..end];
        s = &s[end..];
        let (k, v) = match memchr::memchr(b'=', p) {
            Some(i) => (&p[..i], Some(&p[i + 1..])),
            None => (p, None),
        };
        check_keyword_bytes(k)?;
        if let Some(v) = v {
            EsmtpValue::validate(v).map_err(|_| ParseError::BadParameter)?;
        }
        each(k, v)?;
    }
    Ok(())
}

fn check_keyword_bytes(k: &[u8]) -> Result<(), ParseError> {
    Keyword::validate(k).map_err(|_| ParseError::Syntax)
}

fn set<T>(slot: &mut Option<T>, v: T) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::DuplicateParameter);
    }
    *slot = Some(v);
    Ok(())
}

fn set_flag(slot: &mut bool, v: Option<&[u8]>) -> Result<(), ParseError> {
    if v.is_some() {
        return Err(ParseError::BadParameter);
    }
    if *slot {
        return Err(ParseError::DuplicateParameter);
    }
    *slot = true;
    Ok(())
}

fn need(v: Option<&[u8]>) -> Result<&[u8], ParseError> {
    v.ok_or(ParseError::BadParameter)
}

fn number<T: std::str::FromStr>(v: &[u8]) -> Result<T, ParseError> {
    if v.is_empty() || v.len() > 20 {
        return Err(ParseError::BadParameter);
    }
    bytes_str(v)?.parse::<T>().map_err(|_| ParseError::BadParameter)
}

fn xtext(v: &[u8]) -> Result<XText<'_>, ParseError> {
    XText::try_from(v).map_err(|_| ParseError::BadParameter)
}

fn other_param<'a>(k: &'a [u8], v: Option<&'a [u8]>) -> Result<Parameter<'a>, ParseError> {
    // Both were checked against their grammar in `params`.
    Ok(Parameter {
        keyword: Keyword::unvalidated(bytes_str(k)?),
        value: match v {
            Some(v) => Some(EsmtpValue::unvalidated(bytes_str(v)?)),
            None => None,
        },
    })
}

fn mail(arg: &[u8], has_sp: bool) -> Result<Command<'_>, ParseError> {
    if !has_sp || arg.len() < 5 || !arg[..5].eq_ignore_ascii_case(b"FROM:") {
        return Err(ParseError::Syntax);
    }
    let (mbox, rest) = path(&arg[5..])?;
    let from = match mbox {
        Some(m) => ReversePath::Mailbox(m),
        None => ReversePath::Null,
    };
    let mut p = MailParams::default();
    params(rest, |k, v| {
        let is = |n: &[u8]| k.eq_ignore_ascii_case(n);
        if is(b"SIZE") {
            set(&mut p.size, number(need(v)?)?)
        } else if is(b"BODY") {
            let v = need(v)?;
            let b = if v.eq_ignore_ascii_case(b"7BIT") {
                BodyType::SevenBit
            } else if v.eq_ignore_ascii_case(b"8BITMIME") {
                BodyType::EightBitMime
            } else if v.eq_ignore_ascii_case(b"BINARYMIME") {
                BodyType::BinaryMime
            } else {
                return Err(ParseError::BadParameter);
            };
            set(&mut p.body, b)
        } else if is(b"SMTPUTF8") {
            set_flag(&mut p.smtputf8, v)
        } else if is(b"REQUIRETLS") {
            set_flag(&mut p.requiretls, v)
        } else if is(b"RET") {
            let v = need(v)?;
            let r = if v.eq_ignore_ascii_case(b"FULL") {
                Ret::Full
            } else if v.eq_ignore_ascii_case(b"HDRS") {
                Ret::Hdrs
            } else {
                return Err(ParseError::BadParameter);
            };
            set(&mut p.ret, r)
        } else if is(b"ENVID") {
            let x = xtext(need(v)?)?;
            if x.as_str().len() > 100 {
                return Err(ParseError::BadParameter);
            }
            set(&mut p.envid, x)
        } else if is(b"AUTH") {
            set(&mut p.auth, xtext(need(v)?)?)
        } else if is(b"MT-PRIORITY") {
            let n: i8 = number(need(v)?)?;
            set(&mut p.mt_priority, Priority::new(n).map_err(|_| ParseError::BadParameter)?)
        } else if is(b"BY") {
            set(&mut p.by, deliver_by(need(v)?)?)
        } else {
            p.other.push(other_param(k, v)?);
            Ok(())
        }
    })?;
    Ok(Command::Mail(from, p))
}

fn deliver_by(v: &[u8]) -> Result<DeliverBy, ParseError> {
    let semi = memchr::memchr(b';', v).ok_or(ParseError::BadParameter)?;
    let time: i32 = number(&v[..semi])?;
    if !(-999_999_999..=999_999_999).contains(&time) {
        return Err(ParseError::BadParameter);
    }
    let mode = &v[semi + 1..];
    let (m, trace) = match mode {
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

fn rcpt(arg: &[u8], has_sp: bool) -> Result<Command<'_>, ParseError> {
    if !has_sp || arg.len() < 3 || !arg[..3].eq_ignore_ascii_case(b"TO:") {
        return Err(ParseError::Syntax);
    }
    let s = &arg[3..];
    let (to, rest) = if s.len() >= 12 && s[..12].eq_ignore_ascii_case(b"<Postmaster>") {
        (ForwardPath::Postmaster, &s[12..])
    } else {
        match path(s)? {
            (Some(m), rest) => (ForwardPath::Mailbox(m), rest),
            (None, _) => return Err(ParseError::BadPath),
        }
    };
    let mut p = RcptParams::default();
    params(rest, |k, v| {
        if k.eq_ignore_ascii_case(b"NOTIFY") {
            let v = need(v)?;
            let mut n = Notify::NEVER;
            if !v.eq_ignore_ascii_case(b"NEVER") {
                for item in v.split(|&b| b == b',') {
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
        } else if k.eq_ignore_ascii_case(b"ORCPT") {
            let v = need(v)?;
            let semi = memchr::memchr(b';', v).ok_or(ParseError::BadParameter)?;
            let addr_type = Keyword::try_from(&v[..semi]).map_err(|_| ParseError::BadParameter)?;
            let addr = xtext(&v[semi + 1..])?;
            if addr.as_str().is_empty() {
                return Err(ParseError::BadParameter);
            }
            set(&mut p.orcpt, Orcpt { addr_type, addr })
        } else {
            p.other.push(other_param(k, v)?);
            Ok(())
        }
    })?;
    Ok(Command::Rcpt(to, p))
}

/// Parses `class "." subject "." detail` (RFC 3463 §2) at the start of `t`.
pub(crate) fn enhanced_code(t: &[u8]) -> Option<EnhancedCode> {
    let mut it = t.split(|&b| b == b'.');
    let (a, b, c) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || a.len() != 1 || b.is_empty() || b.len() > 3 || c.is_empty() || c.len() > 3 {
        return None;
    }
    if !a.iter().chain(b).chain(c).all(u8::is_ascii_digit) {
        return None;
    }
    let n = |d: &[u8]| d.iter().fold(0u16, |acc, &x| acc * 10 + u16::from(x - b'0'));
    EnhancedCode::new(a[0] - b'0', n(b), n(c)).ok()
}

/// Finds the end of the first complete reply in `input` (RFC 5321 §4.2.1):
/// lines `DDD-text CRLF` up to one `DDD text CRLF` or `DDD CRLF`.
/// Returns `Complete(n)` with the length including the final CRLF.
///
/// `max_line` bounds each line (RFC 5321 §4.5.3.1.5 says 512 octets; servers
/// exceed it), `max_lines` the number of lines.
pub fn reply_frame(input: &[u8], max_line: usize, max_lines: usize) -> Result<Status<usize>, FrameError> {
    let mut pos = 0;
    let mut lines = 0;
    loop {
        let rest = &input[pos..];
        let Some(lf) = memchr::memchr(b'\n', rest) else {
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
    let mut code = None;
    let mut enhanced = None;
    let mut rest = input;
    let mut first = true;
    while !rest.is_empty() {
        let lf = memchr::memchr(b'\n', rest).ok_or(ParseError::BadReply)?;
        let line = &rest[..lf];
        let line = line.strip_suffix(b"\r").ok_or(ParseError::BadReply)?;
        rest = &rest[lf + 1..];
        let r: PResult<'_, &[u8]> = take_while1(|b: u8| b.is_ascii_digit()).parse(line);
        let (after, digits) = r.map_err(|_| ParseError::BadReply)?;
        if digits.len() != 3 {
            return Err(ParseError::BadReply);
        }
        let n = digits.iter().fold(0u16, |acc, &x| acc * 10 + u16::from(x - b'0'));
        let c = ReplyCode::new(n).map_err(|_| ParseError::BadReply)?;
        match code {
            None => code = Some(c),
            Some(prev) if prev != c => return Err(ParseError::BadReply),
            Some(_) => {}
        }
        let last = match after.first() {
            None | Some(b' ') => true,
            Some(b'-') => false,
            _ => return Err(ParseError::BadReply),
        };
        let text = after.get(1..).unwrap_or(b"");
        if text.iter().any(|&b| b == 0 || b == b'\r') {
            return Err(ParseError::BadReply);
        }
        if first {
            first = false;
            if !c.is_intermediate() {
                let end = memchr::memchr(b' ', text).unwrap_or(text.len());
                enhanced = enhanced_code(&text[..end]).filter(|e| u16::from(e.class) == n / 100);
            }
        }
        if last != rest.is_empty() {
            return Err(ParseError::BadReply);
        }
    }
    let code = code.ok_or(ParseError::BadReply)?;
    // Every line was checked above: three digits with one code, a valid
    // separator, no CR or NUL in the text, CRLF at the end.
    Ok(Reply::from_parts(code, enhanced, input))
}

impl Capabilities {
    /// Reads the extensions from a positive EHLO reply (RFC 5321 §4.1.1.1):
    /// the first line is the domain, each further line `ehlo-keyword
    /// *(SP ehlo-param)`. Keywords are case-insensitive.
    pub fn from_ehlo(reply: &Reply<'_>) -> Capabilities {
        let mut caps = Capabilities::default();
        for (i, line) in reply.lines().enumerate() {
            if i == 0 {
                caps.domain = line.split(' ').next().unwrap_or("").to_owned();
                continue;
            }
            let mut words = line.split(' ').filter(|w| !w.is_empty());
            let Some(kw) = words.next() else { continue };
            let kw = kw.to_ascii_uppercase();
            match kw.as_str() {
                "PIPELINING" => caps.pipelining = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "8BITMIME" => caps.eightbitmime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "STARTTLS" => caps.starttls = true,
                "DSN" => caps.dsn = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                "CHUNKING" => caps.chunking = true,
                "BINARYMIME" => caps.binarymime = true,
                "REQUIRETLS" => caps.requiretls = true,
                "MT-PRIORITY" => caps.mt_priority = true,
                "DELIVERBY" => caps.deliverby = true,
                "AUTH" => {
                    for m in words {
                        let m = m.to_ascii_uppercase();
                        if !caps.auth.contains(&m) {
                            caps.auth.push(m);
                        }
                    }
                }
                _ => caps.other.push((kw, words.map(str::to_owned).collect())),
            }
        }
        caps
    }
}

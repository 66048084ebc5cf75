//! Other structured fields: Received (RFC 5322 §3.6.7), Keywords (§3.6.5),
//! List-* (RFC 2369, RFC 2919), Auto-Submitted (RFC 3834 §5),
//! Priority / Importance / X-Priority.

use std::borrow::Cow;

use crate::datetime::{DateTime, parse_date_time_with};
use crate::defect::{Defect, DefectKind, DefectSink, Shifted};
use crate::lex::{Lexer, is_wsp};

/// A Received field (RFC 5322 §3.6.7):
///
/// ```text
/// received       = "Received:" [1*received-token / CFWS] ";" date-time CRLF
/// received-token = word / angle-addr / addr-spec / domain
/// ```
///
/// ```
/// use mailwire_message::parse_received;
/// let (r, _) = parse_received(b"from node.example by x.y.test with ESMTP id 123; 21 Nov 1997 10:01:22 -0600");
/// assert_eq!(r.get("from").as_deref(), Some("node.example"));
/// assert_eq!(r.get("with").as_deref(), Some("ESMTP"));
/// assert_eq!(r.date.unwrap().to_rfc3339(), "1997-11-21T10:01:22-06:00");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received<'a> {
    /// The bytes before the last `;`: the received-tokens, read lazily by
    /// [`Received::tokens`].
    tokens_raw: &'a [u8],
    /// The date-time after the last `;`.
    pub date: Option<DateTime>,
}

impl<'a> Received<'a> {
    /// The received-tokens in order, comments dropped, quoted strings
    /// unquoted, angle addresses kept with their brackets.
    pub fn tokens(&self) -> ReceivedTokens<'a> {
        ReceivedTokens {
            lx: Lexer::new(self.tokens_raw, 0),
        }
    }

    /// The token after the clause keyword `name` (`from`, `by`, `via`,
    /// `with`, `id`, `for`; RFC 5321 §4.4), ASCII case-insensitive.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        let mut it = self.tokens();
        while let Some(t) = it.next() {
            if t.eq_ignore_ascii_case(name) {
                return it.next();
            }
        }
        None
    }
}

/// Iterator over the tokens of a [`Received`] field.
#[derive(Debug, Clone)]
pub struct ReceivedTokens<'a> {
    lx: Lexer<'a>,
}

impl<'a> Iterator for ReceivedTokens<'a> {
    type Item = Cow<'a, str>;

    fn next(&mut self) -> Option<Cow<'a, str>> {
        let lx = &mut self.lx;
        let src = lx.src;
        lx.skip_cfws(&mut crate::defect::IgnoreDefects);
        let start = lx.pos;
        match lx.peek()? {
            b'"' => {
                let q = lx.quoted_string(&mut crate::defect::IgnoreDefects);
                Some(match crate::rfc2047::unquote(q) {
                    Cow::Borrowed(b) => crate::charset::bytes_to_text(b),
                    Cow::Owned(v) => Cow::Owned(crate::charset::bytes_to_text(&v).into_owned()),
                })
            }
            _ => {
                let n = src[start..]
                    .iter()
                    .take_while(|&&b| !is_wsp(b) && b != b'(' && b != b'"')
                    .count()
                    .max(1);
                lx.pos += n;
                Some(crate::charset::bytes_to_text(&src[start..start + n]))
            }
        }
    }
}

/// Parse a Received field body. Defect offsets are relative to `value`.
pub fn parse_received(value: &[u8]) -> (Received<'_>, Vec<Defect>) {
    let mut d = Vec::new();
    let r = parse_received_with(value, &mut d);
    (r, d)
}

/// As [`parse_received`], recording defects into `sink`. The tokens are
/// not checked here: unterminated comments or quoted strings among them
/// are tolerated by [`Received::tokens`].
pub fn parse_received_with<'a, S: DefectSink + ?Sized>(
    value: &'a [u8],
    sink: &mut S,
) -> Received<'a> {
    let (tokens_raw, date) = match memchr::memrchr(b';', value) {
        Some(semi) => {
            let mut sh = Shifted {
                inner: sink,
                base: semi + 1,
            };
            (
                &value[..semi],
                parse_date_time_with(&value[semi + 1..], &mut sh),
            )
        }
        None => {
            sink.push_defect(Defect::new(DefectKind::InvalidDate, value.len()));
            (value, None)
        }
    };
    Received { tokens_raw, date }
}

/// Split a value at top-level commas (outside quoted strings, comments and
/// angle brackets), returning each element's offset and bytes.
fn split_commas(value: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut lx = Lexer::new(value, 0);
    let mut start = 0;
    let mut sink = crate::defect::IgnoreDefects;
    while let Some(b) = lx.peek() {
        match b {
            b'"' => {
                lx.quoted_string(&mut sink);
            }
            b'(' => {
                lx.comment(&mut sink);
            }
            b'<' => match memchr::memchr(b'>', &value[lx.pos..]) {
                Some(i) => lx.pos += i + 1,
                None => lx.pos = value.len(),
            },
            b',' => {
                out.push((start, &value[start..lx.pos]));
                lx.pos += 1;
                start = lx.pos;
            }
            _ => lx.pos += 1,
        }
    }
    out.push((start, &value[start..]));
    out
}

/// Parse a Keywords field body (RFC 5322 §3.6.5: `phrase *("," phrase)`),
/// each phrase decoded (RFC 2047).
pub fn parse_keywords(value: &[u8]) -> Vec<Cow<'_, str>> {
    split_commas(value)
        .into_iter()
        .map(|(_, p)| crate::rfc2047::decode_phrase(p))
        .filter(|k| !k.is_empty())
        .collect()
}

/// The URLs of a List-* field (RFC 2369 §2): each in angle brackets,
/// comma-separated, comments allowed; `NO` in List-Post means posting is
/// not allowed (RFC 2369 §3.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListUrls<'a> {
    /// The URLs, without brackets and with white space removed (RFC 2369 §2).
    pub urls: Vec<Cow<'a, str>>,
    /// The field said `NO` (List-Post only).
    pub no: bool,
}

/// Parse a List-Help / List-Subscribe / List-Unsubscribe / List-Post /
/// List-Owner / List-Archive body (RFC 2369).
pub fn parse_list_urls(value: &[u8]) -> (ListUrls<'_>, Vec<Defect>) {
    let mut defects = Vec::new();
    let mut out = ListUrls::default();
    for (off, part) in split_commas(value) {
        let mut lx = Lexer::new(part, 0);
        lx.skip_cfws(&mut defects);
        let rest = crate::header::trim_wsp(&part[lx.pos..]);
        if rest.is_empty() {
            continue;
        }
        let is_no = rest.len() >= 2 && rest[..2].eq_ignore_ascii_case(b"NO") && {
            let mut l2 = Lexer::new(rest, 2);
            l2.skip_cfws(&mut defects);
            l2.pos >= rest.len()
        };
        if is_no {
            out.no = true;
            continue;
        }
        if rest.first() == Some(&b'<') {
            match memchr::memchr(b'>', rest) {
                Some(end) => {
                    let url = &rest[1..end];
                    let text = if url.iter().any(|&b| is_wsp(b)) {
                        // RFC 2369 §2: white space in a URL is ignored.
                        let v: Vec<u8> = url.iter().copied().filter(|&b| !is_wsp(b)).collect();
                        Cow::Owned(crate::charset::bytes_to_text(&v).into_owned())
                    } else {
                        crate::charset::bytes_to_text(url)
                    };
                    out.urls.push(text);
                }
                None => defects.push(Defect::new(DefectKind::UnterminatedAngleAddr, off + lx.pos)),
            }
        } else {
            defects.push(Defect::new(DefectKind::InvalidValue, off + lx.pos));
        }
    }
    (out, defects)
}

/// Parse a List-Id body (RFC 2919 §3: `[phrase] "<" list-id ">"`): the id.
pub fn parse_list_id(value: &[u8]) -> Option<Cow<'_, str>> {
    let open = memchr::memrchr(b'<', value)?;
    let close = memchr::memchr(b'>', &value[open..])? + open;
    Some(crate::charset::bytes_to_text(crate::header::trim_wsp(
        &value[open + 1..close],
    )))
}

/// The Auto-Submitted field (RFC 3834 §5).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoSubmitted<'a> {
    /// `no`: written by a person.
    No,
    /// `auto-generated`.
    AutoGenerated,
    /// `auto-replied`.
    AutoReplied,
    /// `auto-notified` (RFC 5436).
    AutoNotified,
    /// Another keyword (an extension).
    Other(Cow<'a, str>),
}

impl AutoSubmitted<'_> {
    /// Whether the message was sent automatically (anything but `no`).
    pub fn is_automatic(&self) -> bool {
        !matches!(self, AutoSubmitted::No)
    }

    /// The keyword as written in a header.
    pub fn as_str(&self) -> &str {
        match self {
            AutoSubmitted::No => "no",
            AutoSubmitted::AutoGenerated => "auto-generated",
            AutoSubmitted::AutoReplied => "auto-replied",
            AutoSubmitted::AutoNotified => "auto-notified",
            AutoSubmitted::Other(s) => s,
        }
    }
}

/// Parse an Auto-Submitted body: the keyword, parameters ignored.
pub fn parse_auto_submitted(value: &[u8]) -> AutoSubmitted<'_> {
    let mut lx = Lexer::new(value, 0);
    lx.skip_cfws(&mut crate::defect::IgnoreDefects);
    let start = lx.pos;
    let n = value[start..]
        .iter()
        .take_while(|&&b| !is_wsp(b) && b != b';' && b != b'(')
        .count();
    let kw = &value[start..start + n];
    if kw.eq_ignore_ascii_case(b"no") {
        AutoSubmitted::No
    } else if kw.eq_ignore_ascii_case(b"auto-generated") {
        AutoSubmitted::AutoGenerated
    } else if kw.eq_ignore_ascii_case(b"auto-replied") {
        AutoSubmitted::AutoReplied
    } else if kw.eq_ignore_ascii_case(b"auto-notified") {
        AutoSubmitted::AutoNotified
    } else {
        AutoSubmitted::Other(crate::charset::bytes_to_text(kw))
    }
}

/// A message's priority, from Priority (RFC 2156 §5.3.6), Importance
/// (RFC 2156 §5.3.4) or X-Priority (de-facto, 1 highest to 5 lowest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Priority: urgent; Importance: high; X-Priority: 1 or 2.
    High,
    /// Priority: normal; Importance: normal; X-Priority: 3.
    Normal,
    /// Priority: non-urgent; Importance: low; X-Priority: 4 or 5.
    Low,
}

/// Parse a Priority, Importance or X-Priority body, by field name.
/// `None` when the value is not understood.
pub fn parse_priority(name: &str, value: &[u8]) -> Option<Priority> {
    let v = crate::header::trim_wsp(value);
    if name.eq_ignore_ascii_case("X-Priority") {
        return match v.first()? {
            b'1' | b'2' => Some(Priority::High),
            b'3' => Some(Priority::Normal),
            b'4' | b'5' => Some(Priority::Low),
            _ => None,
        };
    }
    let word = &v[..v
        .iter()
        .take_while(|&&b| !is_wsp(b) && b != b'(' && b != b';')
        .count()];
    let eq = |s: &str| word.eq_ignore_ascii_case(s.as_bytes());
    if eq("urgent") || eq("high") {
        Some(Priority::High)
    } else if eq("normal") {
        Some(Priority::Normal)
    } else if eq("non-urgent") || eq("low") {
        Some(Priority::Low)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received() {
        let (r, d) = parse_received(b"from x.y.test\r\n   by example.net\r\n   via TCP\r\n   with ESMTP\r\n   id ABC12345\r\n   for <mary@example.net>;  21 Nov 1997 10:05:43 -0600");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(r.get("by").as_deref(), Some("example.net"));
        assert_eq!(r.get("for").as_deref(), Some("<mary@example.net>"));
        assert_eq!(r.tokens().count(), 12);
        assert_eq!(r.date.unwrap().unix_timestamp(), 880128343);
        let (r, d) = parse_received(b"garbage");
        assert!(r.date.is_none());
        assert!(!d.is_empty());
    }

    #[test]
    fn list_and_keywords() {
        let (l, _) = parse_list_urls(b"<mailto:list@host.com?subject=help> (List Instructions),\r\n <http://www.host.com/list/>");
        assert_eq!(
            l.urls,
            [
                "mailto:list@host.com?subject=help",
                "http://www.host.com/list/"
            ]
        );
        assert!(parse_list_urls(b" NO (posting not allowed)").0.no);
        assert_eq!(
            parse_list_id(b"List Header Mailing List <list-header.nisto.com>").as_deref(),
            Some("list-header.nisto.com")
        );
        assert_eq!(
            parse_keywords(b"foo, \"bar, baz\", =?utf-8?q?=C3=A9?="),
            ["foo", "bar, baz", "é"]
        );
    }

    #[test]
    fn auto_and_priority() {
        assert_eq!(
            parse_auto_submitted(b" auto-replied; owner-email=x"),
            AutoSubmitted::AutoReplied
        );
        assert!(!parse_auto_submitted(b"No").is_automatic());
        assert_eq!(
            parse_priority("X-Priority", b" 1 (Highest)"),
            Some(Priority::High)
        );
        assert_eq!(parse_priority("Importance", b"low"), Some(Priority::Low));
        assert_eq!(parse_priority("Priority", b"urgent"), Some(Priority::High));
    }
}

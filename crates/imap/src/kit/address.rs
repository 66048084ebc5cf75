//! Address lists for the ENVELOPE (RFC 3501 §7.4.2 / RFC 9051 §7.5.2):
//! RFC 5322 §3.4 `address-list` read into IMAP's four-field addresses,
//! the display name kept as written (encoded words are not decoded; the
//! client does that), groups as a start marker `(NIL NIL name NIL)`, their
//! members and an end marker `(NIL NIL NIL NIL)`.
//!
//! Lenient like the servers clients are tuned to: a mailbox without a
//! display name takes its trailing comment as one (`a@b (Name)`); a
//! missing local part or domain becomes `MISSING_MAILBOX` /
//! `MISSING_DOMAIN`; an unparseable address is skipped to the next comma.

use super::istr;
use super::lex::Lexer;
use crate::types::body::Address;

/// Bound on addresses read from one field: a header cannot make the
/// envelope grow without bound.
const MAX_ADDRESSES: usize = 10_000;

/// Parses an `address-list` field value.
pub(crate) fn address_list(value: &[u8]) -> Vec<Address<'static>> {
    let mut l = Lexer::new(value);
    let mut out = Vec::new();
    loop {
        l.skip_cfws();
        if l.at_end() || out.len() >= MAX_ADDRESSES {
            break;
        }
        if l.eat(b',') {
            continue;
        }
        let before = l.pos;
        address(&mut l, &mut out);
        if l.pos == before {
            // Not an address: skip one byte and look for the next one.
            l.pos += 1;
        }
    }
    out
}

fn address(l: &mut Lexer<'_>, out: &mut Vec<Address<'static>>) {
    let start = l.pos;
    let phrase = phrase(l);
    l.skip_cfws();
    match l.peek() {
        Some(b':') if !phrase.is_empty() => {
            l.pos += 1;
            out.push(Address {
                name: None,
                adl: None,
                mailbox: Some(istr(phrase)),
                host: None,
            });
            loop {
                l.skip_cfws();
                if l.at_end() || l.eat(b';') {
                    break;
                }
                if l.eat(b',') {
                    continue;
                }
                let before = l.pos;
                mailbox(l, out);
                if l.pos == before {
                    l.pos += 1;
                }
            }
            out.push(Address {
                name: None,
                adl: None,
                mailbox: None,
                host: None,
            });
        }
        _ => {
            l.pos = start;
            mailbox(l, out);
        }
    }
}

/// `mailbox = name-addr / addr-spec`.
fn mailbox(l: &mut Lexer<'_>, out: &mut Vec<Address<'static>>) {
    let start = l.pos;
    l.last_comment = None;
    let phrase = phrase(l);
    l.skip_cfws();
    if l.eat(b'<') {
        l.skip_cfws();
        let route = route(l);
        let (local, domain) = addr_spec(l);
        l.skip_cfws();
        l.eat(b'>');
        skip_to_separator(l);
        out.push(make(
            (!phrase.is_empty()).then_some(phrase),
            route,
            local,
            domain,
        ));
        return;
    }
    l.pos = start;
    l.last_comment = None;
    let (local, domain) = addr_spec(l);
    l.skip_cfws();
    let name = l.last_comment.take().filter(|c| !c.is_empty());
    skip_to_separator(l);
    out.push(make(name, None, local, domain));
}

fn make(
    name: Option<Vec<u8>>,
    route: Option<Vec<u8>>,
    local: Vec<u8>,
    domain: Option<Vec<u8>>,
) -> Address<'static> {
    let local = if local.is_empty() {
        b"MISSING_MAILBOX".to_vec()
    } else {
        local
    };
    let domain = match domain {
        Some(d) if !d.is_empty() => d,
        _ => b"MISSING_DOMAIN".to_vec(),
    };
    Address {
        name: name.map(istr),
        adl: route.map(istr),
        mailbox: Some(istr(local)),
        host: Some(istr(domain)),
    }
}

/// Skips what is left of a broken address up to the next `,` or `;`.
fn skip_to_separator(l: &mut Lexer<'_>) {
    while let Some(b) = l.peek() {
        match b {
            b',' | b';' => break,
            b'"' => {
                let mut sink = Vec::new();
                l.quoted(&mut sink);
            }
            b'(' => l.skip_cfws(),
            _ => l.pos += 1,
        }
    }
}

/// `phrase = 1*word / obs-phrase`: words (atoms, with `.` allowed as in
/// obs-phrase, and quoted strings unquoted) joined by one space.
fn phrase(l: &mut Lexer<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        l.skip_cfws();
        if l.peek() == Some(b'"') {
            if !out.is_empty() {
                out.push(b' ');
            }
            l.quoted(&mut out);
        } else {
            let start = l.pos;
            while l
                .peek()
                .is_some_and(|b| super::lex::is_atext(b) || b == b'.')
            {
                l.pos += 1;
            }
            if l.pos == start {
                break;
            }
            if !out.is_empty() {
                out.push(b' ');
            }
            out.extend_from_slice(&l.input[start..l.pos]);
        }
    }
    out
}

/// `obs-route`: `@a,@b:` before the addr-spec, returned without the colon.
fn route(l: &mut Lexer<'_>) -> Option<Vec<u8>> {
    if l.peek() != Some(b'@') {
        return None;
    }
    let start = l.pos;
    while l.peek().is_some_and(|b| b != b':' && b != b'>') {
        l.pos += 1;
    }
    let r: Vec<u8> = l.input[start..l.pos]
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    l.eat(b':');
    l.skip_cfws();
    Some(r)
}

/// `addr-spec = local-part "@" domain`, each as words joined by dots; the
/// domain is `None` when there is no `@`.
fn addr_spec(l: &mut Lexer<'_>) -> (Vec<u8>, Option<Vec<u8>>) {
    let local = dotted(l, true);
    l.skip_cfws();
    if !l.eat(b'@') {
        return (local, None);
    }
    l.skip_cfws();
    if l.peek() == Some(b'[') {
        let start = l.pos;
        while l.peek().is_some_and(|b| b != b']') {
            l.pos += 1;
        }
        l.eat(b']');
        let lit = l.input[start..l.pos]
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'\r' | b'\n'))
            .collect();
        return (local, Some(lit));
    }
    (local, Some(dotted(l, false)))
}

/// `word *("." word)` (a quoted word only in a local part).
fn dotted(l: &mut Lexer<'_>, quoted_ok: bool) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        l.skip_cfws();
        if quoted_ok && l.peek() == Some(b'"') {
            l.quoted(&mut out);
        } else {
            let a = l.atom();
            if a.is_empty() {
                break;
            }
            out.extend_from_slice(a);
        }
        l.skip_cfws();
        if l.peek() == Some(b'.') {
            l.pos += 1;
            out.push(b'.');
        } else {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(v: &[u8]) -> Vec<[Option<String>; 4]> {
        address_list(v)
            .into_iter()
            .map(|a| {
                [a.name, a.adl, a.mailbox, a.host]
                    .map(|s| s.map(|s| s.to_string_lossy().into_owned()))
            })
            .collect()
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn rfc5322_a_1_2_mailboxes_and_groups() {
        let got = show(
            b" \"Joe Q. Public\" <john.q.public@example.com>, Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
        );
        assert_eq!(
            got[0],
            [
                s("Joe Q. Public"),
                None,
                s("john.q.public"),
                s("example.com")
            ]
        );
        assert_eq!(got[1], [s("Mary Smith"), None, s("mary"), s("x.test")]);
        assert_eq!(got[2], [None, None, s("jdoe"), s("example.org")]);
        assert_eq!(got[3], [s("Who?"), None, s("one"), s("y.test")]);
        let got = show(b"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;");
        assert_eq!(got[0], [None, None, s("A Group"), None]);
        assert_eq!(got[3], [s("John"), None, s("jdoe"), s("one.test")]);
        assert_eq!(got[4], [None, None, None, None]);
        assert_eq!(show(b"Undisclosed recipients:;").len(), 2);
    }

    #[test]
    fn comments_routes_and_missing_parts() {
        assert_eq!(
            show(b"pete(his account)@silly.test (Pete Example)"),
            vec![[s("Pete Example"), None, s("pete"), s("silly.test")]]
        );
        assert_eq!(
            show(b"<@a.test,@b.test:x@c.test>"),
            vec![[None, s("@a.test,@b.test"), s("x"), s("c.test")]]
        );
        assert_eq!(
            show(b"nobody"),
            vec![[None, None, s("nobody"), s("MISSING_DOMAIN")]]
        );
        assert!(show(b"").is_empty());
    }
}

//! Addresses (RFC 5322 §3.4, obsolete forms §4.4, UTF-8 per RFC 6532 §3.2).
//!
//! ```text
//! address-list = (address *("," address)) / obs-addr-list
//! address      = mailbox / group
//! mailbox      = name-addr / addr-spec
//! name-addr    = [display-name] angle-addr
//! angle-addr   = [CFWS] "<" addr-spec ">" [CFWS] / obs-angle-addr
//! group        = display-name ":" [group-list] ";" [CFWS]
//! addr-spec    = local-part "@" domain
//! obs-angle-addr = [CFWS] "<" obs-route addr-spec ">" [CFWS]
//! ```
//!
//! The parser is lenient: display names may be encoded words, quoted
//! strings or obsolete phrases with dots; a name in a trailing comment
//! (`user@host (Name)`) is used when there is no display name; broken
//! punctuation is skipped. Each repair is a [`Defect`].
//!
//! ```
//! use mailwire_message::parse_address_list;
//! let (list, defects) = parse_address_list(
//!     b"\"Joe Q. Public\" <john.q.public@example.com>, A Group:Ed <c@a.test>;",
//! );
//! assert!(defects.is_empty());
//! let all: Vec<_> = list.mailboxes().map(|m| m.addr_spec().to_string()).collect();
//! assert_eq!(all, ["john.q.public@example.com", "c@a.test"]);
//! assert_eq!(list.mailboxes().next().unwrap().name(), Some("Joe Q. Public"));
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::defect::{Defect, DefectKind, DefectSink};
use crate::lex::{Lexer, is_atext_utf8};
use crate::rfc2047::{PhraseItem, PhraseToken, render_phrase};

/// A mailbox (RFC 5322 §3.4): an optional display name and an addr-spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox<'a> {
    name: Option<Cow<'a, str>>,
    addr: Cow<'a, str>,
    at: Option<usize>,
}

/// A group (RFC 5322 §3.4): a display name and its mailboxes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Group<'a> {
    /// The group's display name, decoded.
    pub name: Cow<'a, str>,
    /// Its members (possibly none, as in `Undisclosed recipients:;`).
    pub members: Vec<Mailbox<'a>>,
}

/// One element of an address list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address<'a> {
    /// A single mailbox.
    Mailbox(Mailbox<'a>),
    /// A named group of mailboxes.
    Group(Group<'a>),
}

/// An address list as found in To, Cc, Bcc, Reply-To, From (RFC 5322 §3.6.2, §3.6.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AddressList<'a>(pub Vec<Address<'a>>);

/// Why an address could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// A byte that may never appear (CR, LF, NUL or another control character).
    #[error("forbidden byte {byte:#04x} at index {index}")]
    ForbiddenByte {
        /// The byte.
        byte: u8,
        /// Its index in the text given.
        index: usize,
    },
    /// The addr-spec has no `@`.
    #[error("address has no '@'")]
    MissingAt,
    /// The local part is empty.
    #[error("address has an empty local part")]
    EmptyLocalPart,
    /// The domain is not a dot-atom or a domain literal.
    #[error("invalid domain at index {index}")]
    InvalidDomain {
        /// Index of the first bad byte in the addr-spec.
        index: usize,
    },
    /// The addr-spec is longer than 900 bytes (it could not be folded
    /// within the 998-byte line limit of RFC 5322 §2.1.1).
    #[error("address too long")]
    TooLong,
}

fn check_controls(text: &str) -> Result<(), AddressError> {
    match text
        .bytes()
        .position(|b| b < 0x20 && b != b'\t' || b == 0x7f)
    {
        Some(index) => Err(AddressError::ForbiddenByte {
            byte: text.as_bytes()[index],
            index,
        }),
        None => Ok(()),
    }
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(is_atext_utf8))
}

/// Quote a local part if it is not a dot-atom (RFC 5322 §3.4.1).
fn quote_local(local: &str) -> Cow<'_, str> {
    if is_dot_atom(local) {
        return Cow::Borrowed(local);
    }
    let mut q = String::with_capacity(local.len() + 2);
    q.push('"');
    for c in local.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    Cow::Owned(q)
}

impl<'a> Mailbox<'a> {
    /// Build a mailbox from a display name and an addr-spec `local@domain`.
    ///
    /// The local part (before the last `@`) is taken as it is when it is a
    /// dot-atom or a quoted string, else it is quoted; the domain must be a
    /// dot-atom or a domain literal. Non-ASCII (RFC 6532) is allowed. CR,
    /// LF, NUL and other controls are refused anywhere (no header injection).
    pub fn new(name: Option<&str>, addr_spec: &str) -> Result<Mailbox<'static>, AddressError> {
        check_controls(addr_spec)?;
        if let Some(n) = name {
            check_controls(n)?;
        }
        let at = addr_spec.rfind('@').ok_or(AddressError::MissingAt)?;
        let (local, domain) = (&addr_spec[..at], &addr_spec[at + 1..]);
        Self::from_parts(name, local, domain).map(|m| {
            // A local part given already quoted is kept as it is.
            if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
                let inner = &local[1..local.len() - 1];
                let mut escaped = false;
                let ok = inner.chars().all(|c| {
                    if escaped {
                        escaped = false;
                        true
                    } else if c == '\\' {
                        escaped = true;
                        true
                    } else {
                        c != '"'
                    }
                }) && !escaped;
                if ok {
                    let addr = format!("{local}@{domain}");
                    return Mailbox {
                        name: m.name,
                        at: Some(local.len()),
                        addr: Cow::Owned(addr),
                    };
                }
            }
            m
        })
    }

    /// Build a mailbox from a display name, a local part (unquoted: it is
    /// quoted here when it is not a dot-atom) and a domain.
    pub fn from_parts(
        name: Option<&str>,
        local: &str,
        domain: &str,
    ) -> Result<Mailbox<'static>, AddressError> {
        check_controls(local)?;
        check_controls(domain)?;
        if let Some(n) = name {
            check_controls(n)?;
        }
        if local.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        let domain_ok = is_dot_atom(domain)
            || (domain.starts_with('[')
                && domain.ends_with(']')
                && domain.len() >= 2
                && domain[1..domain.len() - 1]
                    .bytes()
                    .all(|b| (33..=126).contains(&b) && !matches!(b, b'[' | b']' | b'\\')));
        if !domain_ok {
            let index = local.len()
                + 1
                + domain
                    .bytes()
                    .position(|b| !is_atext_utf8(b) && b != b'.')
                    .unwrap_or(0);
            return Err(AddressError::InvalidDomain { index });
        }
        let local_q = quote_local(local);
        let addr = format!("{local_q}@{domain}");
        if addr.len() > 900 {
            return Err(AddressError::TooLong);
        }
        Ok(Mailbox {
            // An empty display name is no display name.
            name: name
                .filter(|n| !n.is_empty())
                .map(|n| Cow::Owned(n.to_owned())),
            at: Some(local_q.len()),
            addr: Cow::Owned(addr),
        })
    }

    /// The decoded display name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The addr-spec as text: `local@domain`, the local part quoted when it
    /// is not a dot-atom, CFWS and obsolete routes removed. For a mailbox
    /// without a domain (a repaired defect) this is just the local part; for
    /// the null path `<>` it is empty.
    pub fn addr_spec(&self) -> &str {
        &self.addr
    }

    /// The local part, as written (quoted if it was quoted).
    pub fn local_part(&self) -> &str {
        match self.at {
            Some(at) => &self.addr[..at],
            None => &self.addr,
        }
    }

    /// The domain, if the address had one.
    pub fn domain(&self) -> Option<&str> {
        self.at.map(|at| &self.addr[at + 1..])
    }

    /// Whether this is the null path `<>` (RFC 5321 §4.5.5 / RFC 5322 §3.6.7 Return-Path).
    pub fn is_null(&self) -> bool {
        self.addr.is_empty()
    }

    /// An owned copy.
    pub fn into_owned(self) -> Mailbox<'static> {
        Mailbox {
            name: self.name.map(|n| Cow::Owned(n.into_owned())),
            addr: Cow::Owned(self.addr.into_owned()),
            at: self.at,
        }
    }

    /// Whether two mailboxes have the same address (local part exact,
    /// domain ASCII case-insensitive).
    pub fn same_address(&self, other: &Mailbox<'_>) -> bool {
        self.local_part() == other.local_part()
            && match (self.domain(), other.domain()) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            }
    }

    /// Write the mailbox as header text: `name <addr>` with the name
    /// encoded as needed (RFC 2047, or raw UTF-8 with `utf8`), or the bare
    /// addr-spec.
    pub fn write_header(&self, out: &mut String, utf8: bool) {
        match &self.name {
            Some(n) if !n.is_empty() => {
                out.push_str(&crate::rfc2047::encode_phrase(n, utf8));
                out.push_str(" <");
                out.push_str(&self.addr);
                out.push('>');
            }
            _ => out.push_str(&self.addr),
        }
    }
}

impl fmt::Display for Mailbox<'_> {
    /// The mailbox as header text with raw UTF-8 (RFC 6532).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_header(&mut s, true);
        f.write_str(&s)
    }
}

impl<'a> Group<'a> {
    /// An owned copy.
    pub fn into_owned(self) -> Group<'static> {
        Group {
            name: Cow::Owned(self.name.into_owned()),
            members: self.members.into_iter().map(Mailbox::into_owned).collect(),
        }
    }
}

impl<'a> Address<'a> {
    /// An owned copy.
    pub fn into_owned(self) -> Address<'static> {
        match self {
            Address::Mailbox(m) => Address::Mailbox(m.into_owned()),
            Address::Group(g) => Address::Group(g.into_owned()),
        }
    }
}

impl<'a> AddressList<'a> {
    /// Every mailbox, group members included, in order.
    pub fn mailboxes(&self) -> impl Iterator<Item = &Mailbox<'a>> {
        self.0.iter().flat_map(|a| match a {
            Address::Mailbox(m) => std::slice::from_ref(m).iter(),
            Address::Group(g) => g.members.iter(),
        })
    }

    /// Whether the list holds no address.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An owned copy.
    pub fn into_owned(self) -> AddressList<'static> {
        AddressList(self.0.into_iter().map(Address::into_owned).collect())
    }
}

/// Bytes of an address as text: folding (CR, LF) removed, UTF-8 or windows-1252.
fn to_text<'a, S: DefectSink + ?Sized>(b: &'a [u8], offset: usize, sink: &mut S) -> Cow<'a, str> {
    if memchr::memchr2(b'\r', b'\n', b).is_some() {
        let v: Vec<u8> = b
            .iter()
            .copied()
            .filter(|&c| c != b'\r' && c != b'\n')
            .collect();
        return Cow::Owned(to_text(&v, offset, sink).into_owned());
    }
    match mailwire_line::short_str(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(e) => {
            sink.push_defect(Defect::new(
                DefectKind::InvalidUtf8,
                offset + e.valid_up_to(),
            ));
            crate::charset::bytes_to_text(b)
        }
    }
}

/// Parse an address list (To, Cc, Bcc, Reply-To, Resent-To, ...).
/// Returns the addresses and the defects (offsets relative to `value`).
pub fn parse_address_list(value: &[u8]) -> (AddressList<'_>, Vec<Defect>) {
    let mut defects = Vec::new();
    let list = parse_address_list_with(value, &mut defects);
    (list, defects)
}

/// As [`parse_address_list`], recording defects into `sink`.
pub fn parse_address_list_with<'a, S: DefectSink + ?Sized>(
    value: &'a [u8],
    sink: &mut S,
) -> AddressList<'a> {
    let mut lx = Lexer::new(value, 0);
    AddressList(parse_list(&mut lx, sink, false, &mut Vec::new(), true))
}

/// Parse a mailbox list (From, Resent-From; RFC 5322 §3.6.2): as an
/// address list, with groups flattened into their members
/// ([`DefectKind::UnexpectedGroup`]).
pub fn parse_mailbox_list(value: &[u8]) -> (Vec<Mailbox<'_>>, Vec<Defect>) {
    let mut defects = Vec::new();
    let list = parse_mailbox_list_with(value, &mut defects);
    (list, defects)
}

/// As [`parse_mailbox_list`], recording defects into `sink`.
pub fn parse_mailbox_list_with<'a, S: DefectSink + ?Sized>(
    value: &'a [u8],
    sink: &mut S,
) -> Vec<Mailbox<'a>> {
    let mut lx = Lexer::new(value, 0);
    let mut out = Vec::new();
    // Straight into the mailbox list, without a list of addresses between
    // (an allocation per field); a group's defects come after the parse's,
    // as they would from that list.
    let mut groups = 0;
    parse_list_into(
        &mut lx,
        sink,
        false,
        &mut Vec::new(),
        true,
        &mut |a| match a {
            Address::Mailbox(m) => out.push(m),
            Address::Group(g) => {
                groups += 1;
                out.extend(g.members);
            }
        },
    );
    for _ in 0..groups {
        sink.push_defect(Defect::new(DefectKind::UnexpectedGroup, 0));
    }
    out
}

/// Parse a single mailbox (Sender, Resent-Sender; RFC 5322 §3.6.2). The
/// first mailbox of the value; more are reported as a defect.
pub fn parse_mailbox(value: &[u8]) -> (Option<Mailbox<'_>>, Vec<Defect>) {
    let (list, mut defects) = parse_mailbox_list(value);
    if list.len() > 1 {
        defects.push(Defect::new(DefectKind::InvalidValue, 0));
    }
    (list.into_iter().next(), defects)
}

/// Parse a Return-Path value (RFC 5322 §3.6.7): `<addr-spec>` or the null
/// path `<>` (returned as a mailbox whose [`Mailbox::is_null`] is true).
pub fn parse_return_path(value: &[u8]) -> (Option<Mailbox<'_>>, Vec<Defect>) {
    let mut defects = Vec::new();
    let mut lx = Lexer::new(value, 0);
    lx.skip_cfws(&mut defects);
    if lx.peek() == Some(b'<') {
        let save = lx.pos;
        lx.pos += 1;
        lx.skip_cfws(&mut defects);
        if lx.peek() == Some(b'>') {
            return (
                Some(Mailbox {
                    name: None,
                    addr: Cow::Borrowed(""),
                    at: None,
                }),
                defects,
            );
        }
        lx.pos = save;
    }
    let list = parse_list(&mut lx, &mut defects, false, &mut Vec::new(), true);
    let first = list.into_iter().find_map(|a| match a {
        Address::Mailbox(m) => Some(m),
        Address::Group(_) => None,
    });
    (first, defects)
}

/// `items` is scratch space for phrase tokens, reused across addresses.
/// With `fast`, addresses of the usual shapes are read by
/// [`simple_address`] (the tests compare both ways).
fn parse_list<'a, S: DefectSink + ?Sized>(
    lx: &mut Lexer<'a>,
    sink: &mut S,
    in_group: bool,
    items: &mut Vec<PhraseItem<'a>>,
    fast: bool,
) -> Vec<Address<'a>> {
    let mut out = Vec::new();
    parse_list_into(lx, sink, in_group, items, fast, &mut |a| out.push(a));
    out
}

/// [`parse_list`], each address given to `out` in order.
fn parse_list_into<'a, S: DefectSink + ?Sized>(
    lx: &mut Lexer<'a>,
    sink: &mut S,
    in_group: bool,
    items: &mut Vec<PhraseItem<'a>>,
    fast: bool,
    out: &mut impl FnMut(Address<'a>),
) {
    loop {
        // A comment read for the address before (which the lexer keeps
        // until it skips something) is not this one's: it could name it.
        lx.last_comment = None;
        lx.skip_cfws(sink);
        match lx.peek() {
            None => break,
            Some(b',') => {
                lx.pos += 1;
                continue;
            }
            Some(b';') if in_group => break,
            _ => {}
        }
        let before = lx.pos;
        // (A comment just skipped may name the address: the general way.)
        if fast
            && lx.last_comment.is_none()
            && let Some((mb, end)) = simple_address(lx.src, lx.pos)
        {
            out(Address::Mailbox(mb));
            lx.pos = end;
        } else if let Some(a) = parse_address(lx, sink, in_group, items, fast) {
            out(a);
        }
        lx.skip_cfws(sink);
        match lx.peek() {
            None => break,
            Some(b',') => lx.pos += 1,
            Some(b';') if in_group => break,
            Some(_) => {
                sink.push_defect(Defect::new(DefectKind::UnexpectedCharacter, lx.pos));
                // Skip to the next top-level comma.
                skip_to_comma(lx, sink, in_group);
            }
        }
        if lx.pos == before {
            // Never loop without progress.
            lx.pos += 1;
        }
    }
}

/// Whether `span` holds `=?`, the start of an encoded word (RFC 2047
/// §2): one `memchr` for the `=` most addresses do not have (a
/// `memmem` search's set-up cost more than a short address's whole scan).
fn has_encoded_word_start(span: &[u8]) -> bool {
    memchr::memchr(b'=', span).is_some_and(|p| span[p..].windows(2).any(|w| w == b"=?"))
}

/// One address of the usual shapes at `from` (after the white space and
/// comments the list parser skipped), read in one pass over its bytes
/// instead of token by token: `local@domain`, `Display Name
/// <local@domain>` (words of ASCII atext, one space apart) and `"Quoted
/// Name" <local@domain>` (printable ASCII, no backslash), the addr-spec a
/// dot-atom on each side of the `@`, spaces around, up to a comma or the
/// end of the value. Returns the mailbox the general parser gives for it
/// (borrowed, without defects) and where the address ends: at the comma
/// or the end. `None` for anything else, which the general parser reads:
/// comments, folding, tabs, quoted local parts, domain literals, encoded
/// words, dots in names, eight-bit bytes, groups.
fn simple_address(src: &[u8], from: usize) -> Option<(Mailbox<'_>, usize)> {
    let at = |i: usize| src.get(i).copied();
    let atext_run = |i: usize| {
        src.get(i..).map_or(0, |r| {
            r.iter().take_while(|&&b| crate::lex::is_atext(b)).count()
        })
    };
    // A dot-atom at `i`: where it ends.
    let dot_atom = |mut i: usize| -> Option<usize> {
        loop {
            let n = atext_run(i);
            if n == 0 {
                return None;
            }
            i += n;
            if at(i) != Some(b'.') {
                return Some(i);
            }
            i += 1;
        }
    };
    let spaces = |mut i: usize| {
        while at(i) == Some(b' ') {
            i += 1;
        }
        i
    };
    let mut i = spaces(from);
    let mut name: Option<&[u8]> = None;
    let angle = match at(i)? {
        b'"' => {
            let q = src.get(i + 1..)?;
            let q = &q[..memchr::memchr(b'"', q)?];
            if !q.iter().all(|&c| (b' '..=b'~').contains(&c) && c != b'\\') {
                return None;
            }
            name = (!q.is_empty()).then_some(q);
            i = spaces(i + 2 + q.len());
            (at(i) == Some(b'<')).then_some(true)?
        }
        b'<' => true,
        _ => {
            let first = atext_run(i);
            match at(i + first) {
                _ if first == 0 => return None,
                // The local part of a bare addr-spec.
                Some(b'@' | b'.') => false,
                _ => {
                    // A display name: words one space apart, then `<`.
                    let start = i;
                    let mut end = i + first;
                    loop {
                        let j = spaces(end);
                        match at(j) {
                            Some(b'<') => {
                                i = j;
                                break;
                            }
                            Some(_) if j == end + 1 => {
                                let n = atext_run(j);
                                if n == 0 {
                                    return None;
                                }
                                end = j + n;
                            }
                            _ => return None,
                        }
                    }
                    name = Some(&src[start..end]);
                    true
                }
            }
        }
    };
    let addr_start = if angle { i + 1 } else { i };
    let local_end = dot_atom(addr_start)?;
    if at(local_end) != Some(b'@') {
        return None;
    }
    let addr_end = dot_atom(local_end + 1)?;
    let mut end = addr_end;
    if angle {
        if at(end) != Some(b'>') {
            return None;
        }
        end += 1;
    }
    let end = spaces(end);
    if !matches!(at(end), None | Some(b',')) || has_encoded_word_start(&src[from..end]) {
        return None;
    }
    // ASCII throughout, so both conversions succeed.
    let text = |b| mailwire_line::ascii_str(b).map(Cow::Borrowed);
    Some((
        Mailbox {
            name: match name {
                Some(n) => Some(text(n)?),
                None => None,
            },
            addr: text(&src[addr_start..addr_end])?,
            at: Some(local_end - addr_start),
        },
        end,
    ))
}

fn skip_to_comma<S: DefectSink + ?Sized>(lx: &mut Lexer<'_>, sink: &mut S, in_group: bool) {
    while let Some(b) = lx.peek() {
        match b {
            b',' => return,
            b';' if in_group => return,
            b'"' => {
                lx.quoted_string(sink);
            }
            b'(' => {
                lx.comment(sink);
            }
            _ => lx.pos += 1,
        }
    }
}

/// Bytes that end a phrase/local part scan in an address.
fn parse_address<'a, S: DefectSink + ?Sized>(
    lx: &mut Lexer<'a>,
    sink: &mut S,
    in_group: bool,
    items: &mut Vec<PhraseItem<'a>>,
    fast: bool,
) -> Option<Address<'a>> {
    let src = lx.src;
    items.clear();
    let mut first_comment: Option<&'a [u8]> = None;
    loop {
        let space = lx.skip_cfws(sink);
        if first_comment.is_none() {
            first_comment = lx.last_comment;
        }
        let offset = lx.pos;
        match lx.peek() {
            None | Some(b',') => break,
            Some(b';') if in_group => break,
            Some(b'<') => {
                let name = if items.is_empty() {
                    None
                } else {
                    Some(render_phrase(src, items, sink)).filter(|n| !n.is_empty())
                };
                if items.iter().any(PhraseItem::is_dot) {
                    sink.push_defect(Defect::new(DefectKind::ObsoleteSyntax, items[0].offset));
                }
                let mut mb = angle_addr(lx, sink, items)?;
                if name.is_some() {
                    mb.name = name;
                } else if let Some(c) = lx.last_comment.or(first_comment) {
                    mb.name = comment_name(c, sink);
                }
                return Some(Address::Mailbox(mb));
            }
            Some(b':') if !in_group => {
                lx.pos += 1;
                let name = render_phrase(src, items, sink);
                let members_all = parse_list(lx, sink, true, items, fast);
                let mut members = Vec::with_capacity(members_all.len());
                for a in members_all {
                    match a {
                        Address::Mailbox(m) => members.push(m),
                        Address::Group(g) => {
                            sink.push_defect(Defect::new(DefectKind::UnexpectedGroup, offset));
                            members.extend(g.members);
                        }
                    }
                }
                if lx.peek() == Some(b';') {
                    lx.pos += 1;
                } else {
                    sink.push_defect(Defect::new(DefectKind::UnterminatedGroup, lx.pos));
                }
                return Some(Address::Group(Group { name, members }));
            }
            Some(b'@') => {
                let start = items.first().map_or(offset, |i| i.offset);
                let mut mb = addr_spec_after_local(lx, sink, items, start)?;
                lx.skip_cfws(sink);
                if let Some(c) = lx.last_comment.or(first_comment) {
                    mb.name = comment_name(c, sink);
                }
                return Some(Address::Mailbox(mb));
            }
            Some(_) => push_word(lx, sink, items, space, offset),
        }
    }
    // No '@', no '<': a bare word (or display name without address).
    if items.is_empty() {
        return None;
    }
    let start = items[0].offset;
    if items.len() == 1
        && let PhraseToken::Atom(a) = items[0].token(src)
    {
        sink.push_defect(Defect::new(DefectKind::MissingDomain, start));
        return Some(Address::Mailbox(Mailbox {
            name: first_comment.and_then(|c| comment_name(c, sink)),
            addr: to_text(a, start, sink),
            at: None,
        }));
    }
    sink.push_defect(Defect::new(DefectKind::MissingAddress, start));
    None
}

/// Reads one word of a phrase or local part at `offset` (a quoted string,
/// a dot or a lenient atom) into `items`; a byte that starts none of them
/// is reported and skipped.
#[inline]
fn push_word<'a, S: DefectSink + ?Sized>(
    lx: &mut Lexer<'a>,
    sink: &mut S,
    items: &mut Vec<PhraseItem<'a>>,
    space_before: bool,
    offset: usize,
) {
    let token = match lx.peek() {
        Some(b'"') => PhraseToken::Quoted(lx.quoted_string(sink)),
        Some(b'.') => {
            lx.pos += 1;
            PhraseToken::Dot
        }
        _ => match lx.atom_lenient() {
            Some(a) => PhraseToken::Atom(a),
            None => {
                sink.push_defect(Defect::new(DefectKind::UnexpectedCharacter, offset));
                lx.pos += 1;
                return;
            }
        },
    };
    items.push(PhraseItem::new(lx.src, token, space_before, offset));
}

fn comment_name<'a, S: DefectSink + ?Sized>(c: &'a [u8], sink: &mut S) -> Option<Cow<'a, str>> {
    let _ = sink;
    let content = crate::rfc2047::unquote(c);
    let text = match content {
        Cow::Borrowed(b) => crate::rfc2047::decode_unstructured(b),
        Cow::Owned(v) => Cow::Owned(crate::rfc2047::decode_unstructured(&v).into_owned()),
    };
    if text.is_empty() { None } else { Some(text) }
}

/// `<` [obs-route] addr-spec `>`, at `<`.
fn angle_addr<'a, S: DefectSink + ?Sized>(
    lx: &mut Lexer<'a>,
    sink: &mut S,
    items: &mut Vec<PhraseItem<'a>>,
) -> Option<Mailbox<'a>> {
    let open = lx.pos;
    lx.pos += 1;
    lx.skip_cfws(sink);
    if lx.peek() == Some(b'@') {
        // obs-route = obs-domain-list ":"
        sink.push_defect(Defect::new(DefectKind::ObsoleteRoute, lx.pos));
        match memchr::memchr2(b':', b'>', &lx.src[lx.pos..]) {
            Some(i) if lx.src[lx.pos + i] == b':' => lx.pos += i + 1,
            _ => {}
        }
        lx.skip_cfws(sink);
    }
    if lx.peek() == Some(b'>') {
        lx.pos += 1;
        sink.push_defect(Defect::new(DefectKind::MissingLocalPart, open));
        return None;
    }
    items.clear();
    let mut mb = None;
    loop {
        let space = lx.skip_cfws(sink);
        let offset = lx.pos;
        match lx.peek() {
            None | Some(b'>') | Some(b',') => break,
            Some(b'@') => {
                let start = items.first().map_or(offset, |i| i.offset);
                mb = addr_spec_after_local(lx, sink, items, start);
                lx.skip_cfws(sink);
                break;
            }
            Some(_) => push_word(lx, sink, items, space, offset),
        }
    }
    if mb.is_none() && !items.is_empty() {
        // <local> without domain
        let start = items[0].offset;
        sink.push_defect(Defect::new(DefectKind::MissingDomain, start));
        let (local, _) = local_text(lx.src, items, sink);
        mb = Some(Mailbox {
            name: None,
            addr: local,
            at: None,
        });
    }
    match lx.peek() {
        Some(b'>') => lx.pos += 1,
        _ => {
            sink.push_defect(Defect::new(DefectKind::UnterminatedAngleAddr, open));
            // Skip anything up to '>' within this address.
            if let Some(i) = memchr::memchr(b'>', &lx.src[lx.pos..]) {
                let comma = memchr::memchr(b',', &lx.src[lx.pos..]);
                if comma.is_none_or(|c| c > i) {
                    lx.pos += i + 1;
                }
            }
        }
    }
    if mb.is_none() {
        sink.push_defect(Defect::new(DefectKind::MissingLocalPart, open));
    }
    mb
}

/// The local part text from its items; `true` if it is a contiguous slice.
fn local_text<'a, S: DefectSink + ?Sized>(
    src: &'a [u8],
    items: &[PhraseItem<'a>],
    sink: &mut S,
) -> (Cow<'a, str>, bool) {
    let mut contiguous = true;
    let mut prev_dot = true;
    let mut obs = false;
    let mut joined = false;
    for (i, it) in items.iter().enumerate() {
        let is_dot = it.is_dot();
        if i > 0 && it.space_before {
            contiguous = false;
            if is_dot || prev_dot {
                obs = true;
            }
        }
        if i > 0 && !is_dot && !prev_dot {
            joined = true;
        }
        prev_dot = is_dot;
    }
    if let (Some(f), Some(l)) = (items.first(), items.last()) {
        if obs {
            sink.push_defect(Defect::new(DefectKind::ObsoleteSyntax, f.offset));
        }
        if joined {
            sink.push_defect(Defect::new(DefectKind::InvalidLocalPart, f.offset));
        }
        if contiguous {
            let end = l.end().min(src.len());
            return (to_text(&src[f.offset..end], f.offset, sink), true);
        }
    }
    let mut s = String::new();
    for it in items {
        match it.token(src) {
            PhraseToken::Atom(a) => s.push_str(&to_text(a, it.offset, sink)),
            PhraseToken::Quoted(q) => {
                s.push('"');
                s.push_str(&to_text(q, it.offset, sink));
                s.push('"');
            }
            PhraseToken::Dot => s.push('.'),
        }
    }
    (Cow::Owned(s), false)
}

/// At `@`: parse the domain and build the mailbox from the local part items.
fn addr_spec_after_local<'a, S: DefectSink + ?Sized>(
    lx: &mut Lexer<'a>,
    sink: &mut S,
    items: &[PhraseItem<'a>],
    start: usize,
) -> Option<Mailbox<'a>> {
    let src = lx.src;
    let at_pos = lx.pos;
    if items.is_empty() {
        sink.push_defect(Defect::new(DefectKind::MissingLocalPart, at_pos));
    }
    let (local, local_contiguous) = local_text(src, items, sink);
    let local_end_contiguous = local_contiguous && items.last().is_none_or(|l| l.end() == at_pos);
    lx.pos += 1; // '@'
    let after_at = lx.pos;
    let scan = scan_domain(lx, sink, None);
    if scan.obs {
        sink.push_defect(Defect::new(DefectKind::ObsoleteSyntax, at_pos));
    }
    if scan.parts == 0 {
        sink.push_defect(Defect::new(DefectKind::MissingDomain, at_pos));
        return Some(Mailbox {
            name: None,
            at: None,
            addr: local,
        });
    }
    let at = local.len();
    let whole = &src[start..scan.end];
    if local_end_contiguous
        && scan.contiguous
        && !items.is_empty()
        && memchr::memchr2(b'\r', b'\n', whole).is_none()
    {
        match mailwire_line::short_str(whole) {
            Ok(text) => {
                // The local part is the same bytes, so `at` is its length.
                return Some(Mailbox {
                    name: None,
                    at: Some(at),
                    addr: Cow::Borrowed(text),
                });
            }
            Err(e) => {
                // Decoded piecewise below, so `at` stays on the '@'.
                sink.push_defect(Defect::new(
                    DefectKind::InvalidUtf8,
                    start + e.valid_up_to(),
                ));
            }
        }
    }
    // CFWS somewhere: rebuild the text without it (a second, rare pass).
    let mut s = String::with_capacity(local.len() + 32);
    s.push_str(&local);
    s.push('@');
    let mut again = Lexer::new(src, after_at);
    scan_domain(&mut again, &mut crate::defect::IgnoreDefects, Some(&mut s));
    Some(Mailbox {
        name: None,
        at: Some(at),
        addr: Cow::Owned(s),
    })
}

/// What [`scan_domain`] found.
struct DomainScan {
    parts: usize,
    /// No CFWS anywhere between '@' and the end of the last part.
    contiguous: bool,
    obs: bool,
    /// End of the last part.
    end: usize,
}

/// Scan a domain after '@' (dot-atom / domain-literal / obs-domain),
/// appending its text without CFWS to `out` when given.
fn scan_domain<'a, S: DefectSink + ?Sized>(
    lx: &mut Lexer<'a>,
    sink: &mut S,
    mut out: Option<&mut String>,
) -> DomainScan {
    let src = lx.src;
    let mut scan = DomainScan {
        parts: 0,
        contiguous: true,
        obs: false,
        end: lx.pos,
    };
    let push = |out: &mut Option<&mut String>, part: &'a [u8], off: usize, sink: &mut S| {
        if let Some(o) = out.as_deref_mut() {
            o.push_str(&to_text(part, off, sink));
        }
    };
    loop {
        if lx.skip_cfws(sink) {
            if scan.parts == 0 {
                scan.contiguous = false;
            } else if lx.peek() == Some(b'.') {
                // CFWS then a dot: obs-domain continues.
                scan.contiguous = false;
                scan.obs = true;
            } else {
                break;
            }
        }
        let off = lx.pos;
        match lx.peek() {
            Some(b'[') if scan.parts == 0 => {
                let lit = lx.domain_literal(sink);
                push(&mut out, lit, off, sink);
                scan.parts += 1;
                scan.end = lx.pos;
                break;
            }
            Some(b'.') => {
                lx.pos += 1;
                push(&mut out, b".", off, sink);
                scan.parts += 1;
                scan.end = lx.pos;
                if lx.skip_cfws(sink) {
                    scan.contiguous = false;
                    scan.obs = true;
                }
            }
            Some(b) if is_atext_utf8(b) => {
                let n = src[off..].iter().take_while(|&&b| is_atext_utf8(b)).count();
                lx.pos += n;
                push(&mut out, &src[off..off + n], off, sink);
                scan.parts += 1;
                scan.end = lx.pos;
            }
            _ => break,
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `=?` found wherever it is, and only there.
    #[test]
    fn encoded_word_start_in_a_span() {
        for (span, has) in [
            (&b""[..], false),
            (b"=", false),
            (b"=?", true),
            (b"a=b=?c", true),
            (b"a==?", true),
            (b"a?=b", false),
            (b"=x=y=", false),
            (b"Name <a@b>", false),
        ] {
            assert_eq!(has_encoded_word_start(span), has, "{span:?}");
        }
    }

    fn mbs(v: &[u8]) -> Vec<(Option<String>, String)> {
        parse_address_list(v)
            .0
            .mailboxes()
            .map(|m| (m.name().map(str::to_owned), m.addr_spec().to_owned()))
            .collect()
    }

    /// A mailbox list flattens groups into their members, in order, and
    /// reports each group after the defects of the parse itself.
    #[test]
    fn mailbox_list_flattens_groups() {
        let (list, defects) =
            parse_mailbox_list(b"a@b, G: c@d, \"E\" <e@f>;, H:;, (x) g@h, i, j@k");
        let addrs: Vec<&str> = list.iter().map(|m| m.addr_spec()).collect();
        assert_eq!(addrs, ["a@b", "c@d", "e@f", "g@h", "i", "j@k"]);
        let kinds: Vec<DefectKind> = defects.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            [
                DefectKind::MissingDomain,
                DefectKind::UnexpectedGroup,
                DefectKind::UnexpectedGroup
            ]
        );
    }

    #[test]
    fn many_tokens_spill() {
        assert_eq!(
            mbs(b"a b c d e f g h i j k <x@y>, l.m.n.o.p.q.r.s.t.u@v"),
            [
                (Some("a b c d e f g h i j k".into()), "x@y".into()),
                (None, "l.m.n.o.p.q.r.s.t.u@v".into())
            ]
        );
    }

    #[test]
    fn basic() {
        assert_eq!(
            mbs(b" Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"),
            [
                (Some("Mary Smith".into()), "mary@x.test".into()),
                (None, "jdoe@example.org".into()),
                (Some("Who?".into()), "one@y.test".into())
            ]
        );
    }

    /// A list as read: the addresses and the defects.
    type Read<'a> = (Vec<Address<'a>>, Vec<Defect>);

    /// Both ways of reading a list: with the one-pass reading of the usual
    /// shapes, and token by token only.
    fn both_ways(v: &[u8]) -> (Read<'_>, Read<'_>) {
        let run = |fast| {
            let mut defects = Vec::new();
            let list = parse_list(
                &mut Lexer::new(v, 0),
                &mut defects,
                false,
                &mut Vec::new(),
                fast,
            );
            (list, defects)
        };
        (run(true), run(false))
    }

    #[test]
    fn simple_shapes_read_in_one_pass() {
        for (v, name, addr) in [
            (&b"jdoe@example.org"[..], None, "jdoe@example.org"),
            (
                b"  first.last@sub.example.org  ",
                None,
                "first.last@sub.example.org",
            ),
            (
                b"Mary Smith <mary@x.test>",
                Some("Mary Smith"),
                "mary@x.test",
            ),
            (
                b"\"Smith, Mary\" <mary@x.test>",
                Some("Smith, Mary"),
                "mary@x.test",
            ),
            (b"<mary@x.test>", None, "mary@x.test"),
            (b"\"\" <mary@x.test>", None, "mary@x.test"),
        ] {
            let (mb, end) = simple_address(v, 0).expect("a usual shape");
            assert_eq!((mb.name(), mb.addr_spec(), end), (name, addr, v.len()));
            assert_eq!(both_ways(v).0, both_ways(v).1);
        }
        for v in [
            &b"Mary  Smith <mary@x.test>"[..],
            b"John Q. Public <j@x.test>",
            b"a@b (Alice)",
            b"=?utf-8?q?J=C3=B6rg?= <j@x.test>",
            b"\"a\\\"b\" <j@x.test>",
            b"< j@x.test>",
            b"j@[192.0.2.1]",
            b"j.@x.test",
            b"j@x.test;",
            b"J\xc3\xb6rg <j@x.test>",
            b"Mary\tSmith <mary@x.test>",
        ] {
            assert!(
                simple_address(v, 0).is_none(),
                "{:?}",
                String::from_utf8_lossy(v)
            );
        }
    }

    /// Pieces of address lists, usual and not, for the comparison below.
    const PIECES: &[&str] = &[
        "a",
        "john",
        "Mary",
        " ",
        "  ",
        "\t",
        ".",
        "@",
        "<",
        ">",
        ",",
        "\"",
        "\\",
        "(",
        ")",
        "=?",
        "?=",
        ";",
        ":",
        "\r\n ",
        "é",
        "[1.2.3.4]",
        "-",
        "x.test",
        "(c) ",
        "j.doe@x.test",
        "Mary Smith <m@x.test>",
        "\"Smith, M\" <m@x.test>",
    ];

    proptest::proptest! {
        /// The one-pass reading gives what the token-by-token parser gives
        /// (addresses and defects), on lists made of any pieces, and on
        /// lists of the usual shapes as they are and with one byte changed.
        #[test]
        fn one_pass_reading_agrees(
            pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..12),
            names in proptest::collection::vec("[A-Za-z]{1,6}( [A-Za-z!#'-]{1,5}){0,2}", 1..4),
            cut in 0usize..64,
            with in proptest::prelude::any::<u8>(),
        ) {
            let mixed = pieces.concat();
            let (fast, general) = both_ways(mixed.as_bytes());
            proptest::prop_assert_eq!(fast, general);
            let list = names.iter().enumerate().map(|(k, n)| match k % 3 {
                0 => format!("{n} <u{k}.x@mail.example.org>"),
                1 => format!("\"{n}\" <u{k}@example.org>"),
                _ => format!("u{k}@example.net"),
            }).collect::<Vec<_>>().join(", ");
            let mut bytes = list.into_bytes();
            let (fast, general) = both_ways(&bytes);
            proptest::prop_assert_eq!(fast, general);
            let k = cut % bytes.len();
            bytes[k] = with;
            let (fast, general) = both_ways(&bytes);
            proptest::prop_assert_eq!(fast, general);
        }
    }

    /// A comment that names one address does not name the next, however
    /// close the comma: "a@b (Alice),x@y" gave x@y the name "Alice".
    #[test]
    fn comment_name_stays_with_its_address() {
        for v in [
            &b"a@b (Alice),x@y"[..],
            b"a@b (Alice) ,x@y",
            b"a@b(Alice),x@y",
            b"(Alice) a@b,x@y",
        ] {
            let got = mbs(v);
            assert_eq!(got.len(), 2, "{v:?}");
            assert_eq!(got[0].0.as_deref(), Some("Alice"), "{v:?}");
            assert_eq!(got[1], (None, "x@y".into()), "{v:?}");
        }
        // A comment after an angle address names nothing (it named the
        // next address before).
        assert_eq!(
            mbs(b"<a@b> (Alice),x@y"),
            [(None, "a@b".into()), (None, "x@y".into())]
        );
        assert_eq!(
            mbs(b"a@b (Alice),x@y (Bob)"),
            [
                (Some("Alice".into()), "a@b".into()),
                (Some("Bob".into()), "x@y".into())
            ]
        );
    }

    #[test]
    fn comments_and_obs() {
        let (l, d) =
            parse_address_list(b"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>");
        let m = l.mailboxes().next().unwrap();
        assert_eq!(m.name(), Some("Pete"));
        assert_eq!(m.addr_spec(), "pete@silly.test");
        assert!(d.is_empty(), "{d:?}");
        let (l, d) = parse_address_list(b"<@route1,@route2:user@host>");
        assert_eq!(l.mailboxes().next().unwrap().addr_spec(), "user@host");
        assert_eq!(d[0].kind, DefectKind::ObsoleteRoute);
        assert_eq!(
            mbs(b"john . doe @ example . com (John)"),
            [(Some("John".into()), "john.doe@example.com".into())]
        );
    }

    #[test]
    fn encoded_names_and_utf8() {
        assert_eq!(
            mbs(b"=?utf-8?q?J=C3=B6rg?= <j@x.test>, \"=?utf-8?b?w6k=?=\" <e@x.test>, J\xc3\xb6rg <\xc3\xb6@x.test>"),
            [
                (Some("Jörg".into()), "j@x.test".into()),
                (Some("é".into()), "e@x.test".into()),
                (Some("Jörg".into()), "ö@x.test".into())
            ]
        );
    }

    #[test]
    fn broken() {
        let (l, _) = parse_address_list(b"\xd3\x8e@h\xe0");
        let m = l.mailboxes().next().unwrap();
        assert_eq!(m.domain(), Some("h\u{e0}"));
        for s in [
            &b"<"[..],
            b"<>",
            b"@",
            b",,,",
            b"a@",
            b"\"unterminated",
            b"(",
            b"x <y",
            b"a:b",
            b"::;;",
            b"[",
            b"<@",
            b"a@[",
            b"=?",
            b"a@b.",
            b"a@.b",
        ] {
            let _ = parse_address_list(s);
            let _ = parse_mailbox_list(s);
            let _ = parse_return_path(s);
        }
        let (l, d) = parse_address_list(b"undisclosed-recipients");
        assert_eq!(
            l.mailboxes().next().unwrap().addr_spec(),
            "undisclosed-recipients"
        );
        assert_eq!(d[0].kind, DefectKind::MissingDomain);
    }

    #[test]
    fn build_and_quote() {
        let m = Mailbox::new(Some("Joe"), "john doe@example.com").unwrap();
        assert_eq!(m.addr_spec(), "\"john doe\"@example.com");
        assert_eq!(m.local_part(), "\"john doe\"");
        assert!(Mailbox::new(None, "a\r\n@b").is_err());
        assert!(Mailbox::new(None, "a@b c").is_err());
        let text = m.to_string();
        let (l, _) = parse_address_list(text.as_bytes());
        assert_eq!(l.mailboxes().next().unwrap(), &m);
    }

    #[test]
    fn return_path() {
        assert!(parse_return_path(b" <>").0.unwrap().is_null());
        assert_eq!(parse_return_path(b"<a@b>").0.unwrap().addr_spec(), "a@b");
    }
}

//! Content-Type and Content-Disposition values with their parameters
//! (RFC 2045 §5.1, RFC 2183 §2, RFC 2231).
//!
//! ```text
//! content := "Content-Type" ":" type "/" subtype *(";" parameter)
//! parameter := attribute "=" value
//! value := token / quoted-string
//! disposition := "Content-Disposition" ":" disposition-type *(";" disposition-parm)
//! ; RFC 2231 §7:
//! extended-parameter := (extended-initial-name "=" extended-initial-value) /
//!                       (extended-other-names "=" extended-other-values)
//! extended-initial-value := [charset] "'" [language] "'" extended-other-values
//! ```
//!
//! Parsing is lenient: comments, missing `;`, unquoted values holding spaces,
//! unterminated quotes and RFC 2047 encoded words inside quoted values (which
//! many clients put in filenames) are all accepted.
//!
//! ```
//! use mailwire_mime::ContentType;
//! let ct = ContentType::parse(b"text/plain; charset=\"ISO-8859-1\" (latin)");
//! assert_eq!(ct.mime_type(), "text/plain");
//! assert_eq!(ct.param("charset"), Some("ISO-8859-1"));
//! ```

use std::borrow::Cow;

use compact_str::CompactString;
use tinyvec::TinyVec;

use nom::{IResult, Parser, bytes::complete::take_while1};

/// One parameter after RFC 2231 sections were joined and decoded.
///
/// Common names (`charset`, `boundary`, ...) are held by static
/// reference; values of up to 24 bytes (nearly all but boundaries) are
/// held inline, so a parsed parameter rarely costs an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Param {
    name: Cow<'static, str>,
    value: CompactString,
    language: Option<String>,
}

impl Param {
    /// An empty parameter: the unused inline room of a parameter list.
    const EMPTY: Param = Param {
        name: Cow::Borrowed(""),
        value: CompactString::const_new(""),
        language: None,
    };

    /// A parameter without a language; `name` is lower-cased.
    pub fn new(name: &str, value: &str) -> Self {
        Self {
            name: intern(name.as_bytes()),
            value: CompactString::new(value),
            language: None,
        }
    }

    /// Attribute name, lower-cased, without any RFC 2231 `*` suffix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value as text (percent-decoding, charset and RFC 2047 words
    /// decoded).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The RFC 2231 language tag, when one was given.
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }
}

/// A parsed Content-Type (RFC 2045 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    ty: Cow<'static, str>,
    subtype: Cow<'static, str>,
    params: Params,
}

/// The parameters of one field: one held inline (nearly every
/// Content-Type has one: a charset, a boundary or a name), more on the heap.
type Params = TinyVec<[Param; 1]>;

/// ASCII upper-case letters of the eight bytes of `x` lower-cased, the
/// other bytes unchanged (per byte, without carries between them).
pub(crate) const fn lower8(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = x & !HIGH;
    // The high bit of a byte set when it is at least 'A' (then when it is
    // above 'Z'): no sum passes 0xff.
    let ge_a = low7 + 0x3f3f_3f3f_3f3f_3f3f;
    let gt_z = low7 + 0x2525_2525_2525_2525;
    let upper = (ge_a ^ gt_z) & !x & HIGH;
    x | (upper >> 2)
}

/// The little-endian integer of `name[at..at + n]` (n <= 8), at compile
/// time.
const fn load_const(name: &[u8], at: usize, n: usize) -> u64 {
    let mut k = 0u64;
    let mut i = 0;
    while i < n {
        k |= (name[at + i] as u64) << (8 * i);
        i += 1;
    }
    k
}

/// `name` lower-cased as one integer, to compare names of the same length
/// without `memcmp`: its first and last eight bytes (four for a name of
/// four to seven bytes, the bytes themselves for a shorter one), which
/// overlap and so hold the whole name up to 16 bytes. The table's keys,
/// at compile time; [`name_key`] is the same at run time.
const fn name_key_const(name: &[u8]) -> u128 {
    let n = name.len();
    let (lo, hi) = if n >= 8 {
        (load_const(name, 0, 8), load_const(name, n - 8, 8))
    } else if n >= 4 {
        (load_const(name, 0, 4), load_const(name, n - 4, 4))
    } else {
        (load_const(name, 0, n), 0)
    };
    (lower8(lo) as u128) | ((lower8(hi) as u128) << 64)
}

/// [`name_key_const`] with word loads.
fn name_key(name: &[u8]) -> u128 {
    let n = name.len();
    let word = |at: usize| {
        u64::from_le_bytes(
            name.get(at..at + 8)
                .and_then(|w| w.try_into().ok())
                .unwrap_or_default(),
        )
    };
    let half = |at: usize| {
        u64::from(u32::from_le_bytes(
            name.get(at..at + 4)
                .and_then(|w| w.try_into().ok())
                .unwrap_or_default(),
        ))
    };
    let (lo, hi) = if n >= 8 {
        (word(0), word(n - 8))
    } else if n >= 4 {
        (half(0), half(n - 4))
    } else {
        (load_const(name, 0, n), 0)
    };
    u128::from(lower8(lo)) | (u128::from(lower8(hi)) << 64)
}

/// The interned names of one length, each with its [`name_key`].
macro_rules! interned {
    ($($name:literal),* $(,)?) => {
        &[$((name_key_const($name.as_bytes()), $name)),*]
    };
}

/// Lower-cases a name, without allocating for the common ones.
///
/// Inline, with the table's look-up apart ([`interned()`], whose answer
/// comes back in two registers): a `Cow` returned from a call comes back
/// in memory, and the caller's copy of it waited on the stores that wrote
/// it (a store-forwarding stall per name).
#[inline]
fn intern(name: &[u8]) -> Cow<'static, str> {
    match interned(name) {
        Some(c) => Cow::Borrowed(c),
        None => Cow::Owned(lower_owned(name)),
    }
}

/// `name` lower-cased as a new string (a name [`interned()`] does not know).
#[cold]
fn lower_owned(name: &[u8]) -> String {
    String::from_utf8_lossy(name).to_ascii_lowercase()
}

/// The interned name `name` is, in any case; `None` for another.
fn interned(name: &[u8]) -> Option<&'static str> {
    /// The names interned, by length: the types, subtypes and parameters
    /// that RFC 2045, 2046, 2183, 2387, 1847, 3676, 3462/6522, 5965, 8098
    /// and 8551 define or that mail commonly carries.
    const BY_LEN: [&[(u128, &str)]; 25] = [
        &[],
        &[],
        interned!["id"],
        interned!["pdf", "png", "gif", "zip", "xml", "url"],
        interned![
            "text", "html", "name", "type", "size", "jpeg", "mode", "site", "json"
        ],
        interned![
            "plain", "mixed", "image", "delsp", "audio", "video", "total", "basic", "start"
        ],
        interned![
            "rfc822", "format", "signed", "report", "inline", "micalg", "digest", "number",
            "method", "server", "global",
        ],
        interned![
            "message", "related", "charset", "partial", "flowed", "subject", "padding"
        ],
        interned![
            "boundary", "filename", "protocol", "enriched", "calendar", "parallel"
        ],
        interned!["multipart", "directory", "read-date", "encrypted"],
        interned![
            "attachment",
            "expiration",
            "permission",
            "postscript",
            "smime-type",
            "start-info",
            "pkcs7-mime",
        ],
        interned!["alternative", "application", "report-type", "access-type"],
        interned!["octet-stream"],
        interned![
            "creation-date",
            "external-body",
            "pgp-signature",
            "pgp-encrypted"
        ],
        interned!["rfc822-headers"],
        interned!["delivery-status", "pkcs7-signature", "feedback-report"],
        &[],
        interned!["modification-date"],
        &[],
        &[],
        &[],
        &[],
        &[],
        &[],
        interned!["disposition-notification"],
    ];
    if let Some(cands) = BY_LEN.get(name.len()) {
        let key = name_key(name);
        // The key is the whole name up to 16 bytes; a longer one is
        // compared in full once its key matches.
        if let Some((_, c)) = cands
            .iter()
            .find(|(k, c)| *k == key && (c.len() <= 16 || c.as_bytes().eq_ignore_ascii_case(name)))
        {
            return Some(c);
        }
    }
    None
}

impl Default for ContentType {
    /// `text/plain; charset=us-ascii`, the default of RFC 2045 §5.2.
    fn default() -> Self {
        Self {
            ty: "text".into(),
            subtype: "plain".into(),
            params: std::iter::once(Param {
                name: "charset".into(),
                value: const { CompactString::const_new("us-ascii") },
                language: None,
            })
            .collect(),
        }
    }
}

impl ContentType {
    /// A content type with no parameters; type and subtype are lower-cased.
    pub fn new(ty: &str, subtype: &str) -> Self {
        Self {
            ty: intern(ty.as_bytes()),
            subtype: intern(subtype.as_bytes()),
            params: Params::new(),
        }
    }

    /// A content type from lower-case static names, without allocating.
    /// A `const fn`, for the constant blank MIME fields of the tree parse.
    pub(crate) const fn new_static(ty: &'static str, subtype: &'static str) -> Self {
        Self {
            ty: Cow::Borrowed(ty),
            subtype: Cow::Borrowed(subtype),
            params: TinyVec::Inline(tinyvec::ArrayVec::from_array_empty([Param::EMPTY])),
        }
    }

    /// `message/rfc822`, the default inside multipart/digest (RFC 2046 §5.1.5).
    pub fn message_rfc822() -> Self {
        Self::new("message", "rfc822")
    }

    /// Parses a field value. A value without a valid `type/subtype` gives
    /// `None` from [`ContentType::try_parse`]; this function then returns the
    /// RFC 2045 §5.2 default.
    pub fn parse(value: &[u8]) -> Self {
        Self::try_parse(value).unwrap_or_default()
    }

    /// Parses a field value; `None` when `type/subtype` is missing or broken
    /// (RFC 2045 §5.2 then says to use `text/plain; charset=us-ascii`).
    pub fn try_parse(value: &[u8]) -> Option<Self> {
        let mut ct = Self::new_static("", "");
        ct.parse_into(value).then_some(ct)
    }

    /// [`ContentType::try_parse`] into `self`, which is left as it was
    /// when the value is not a content type (false). The header parser
    /// fills its part's field this way: a value built elsewhere and moved
    /// in was copied, its loads waiting on the stores that built it.
    pub(crate) fn parse_into(&mut self, value: &[u8]) -> bool {
        // Each way's names stored in its own branch: both ways' results
        // joined into one value on the stack were copied into `self` with
        // loads that waited on the stores that made it (a
        // store-forwarding stall per Content-Type).
        let rest = match common_type(value) {
            Some((ty, subtype, rest)) => {
                self.ty = ty;
                self.subtype = subtype;
                rest
            }
            None => match type_subtype(value) {
                Some([ty, sub, rest]) => {
                    self.ty = intern(ty);
                    self.subtype = intern(sub);
                    rest
                }
                None => return false,
            },
        };
        parse_params_into(rest, &mut self.params);
        true
    }

    /// The top-level type, lower-cased (`text`).
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The subtype, lower-cased (`plain`).
    pub fn subtype(&self) -> &str {
        &self.subtype
    }

    /// `type/subtype`, lower-cased.
    pub fn mime_type(&self) -> String {
        format!("{}/{}", self.ty, self.subtype)
    }

    /// True when type and subtype are `ty`/`subtype` (case-insensitive).
    pub fn is(&self, ty: &str, subtype: &str) -> bool {
        self.ty.eq_ignore_ascii_case(ty) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// True for `multipart/*`.
    pub fn is_multipart(&self) -> bool {
        self.ty == "multipart"
    }

    /// True for an encapsulated message that is parsed as one
    /// (`message/rfc822`, `message/global`, RFC 2046 §5.2.1, RFC 6532 §3.7).
    pub fn is_message(&self) -> bool {
        self.ty == "message" && matches!(&*self.subtype, "rfc822" | "global" | "news")
    }

    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }

    /// All parameters in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Adds or replaces a parameter (a builder helper).
    pub fn with_param(mut self, name: &str, value: &str) -> Self {
        let param = Param::new(name, value);
        self.params.retain(|p| p.name != param.name);
        self.params.push(param);
        self
    }

    /// The `charset` parameter, lower-cased.
    pub fn charset(&self) -> Option<String> {
        self.param("charset").map(|c| c.trim().to_ascii_lowercase())
    }

    /// The `boundary` parameter (RFC 2046 §5.1.1).
    pub fn boundary(&self) -> Option<&str> {
        self.param("boundary")
    }
}

/// A parsed Content-Disposition (RFC 2183 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDisposition {
    kind: Cow<'static, str>,
    params: Params,
}

impl ContentDisposition {
    /// Parses a field value; `None` when there is no disposition type.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let mut slot = None;
        Self::parse_into(value, &mut slot);
        slot
    }

    /// [`ContentDisposition::parse`] into `slot` (`None`), where the
    /// header parser keeps it: its parameters are read into their place
    /// there, not into a value that is then copied (the copy's loads
    /// waited on the stores that had just made it).
    pub(crate) fn parse_into(value: &[u8], slot: &mut Option<Self>) {
        let value = skip_cfws(value);
        // The two usual types by one comparison each, else the token scan
        // and `intern` (the same result: see `common_disposition_agrees`).
        let common = ["attachment", "inline"].into_iter().find_map(|kind| {
            let head = value.get(..kind.len())?;
            let rest = &value[kind.len()..];
            (head.eq_ignore_ascii_case(kind.as_bytes())
                && rest.first().is_none_or(|&b| !is_token_char(b)))
            .then_some((Cow::Borrowed(kind), rest))
        });
        let (kind, rest) = match common {
            Some(found) => found,
            None => match token(value) {
                Ok((rest, kind)) => (intern(kind), rest),
                Err(_) => {
                    *slot = None;
                    return;
                }
            },
        };
        let d = slot.insert(Self {
            kind,
            params: Params::new(),
        });
        parse_params_into(rest, &mut d.params);
    }

    /// A disposition with no parameters.
    pub fn new(kind: &str) -> Self {
        Self {
            kind: intern(kind.as_bytes()),
            params: Params::new(),
        }
    }

    /// The disposition type, lower-cased (`inline`, `attachment`, ...).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// True for `attachment`.
    pub fn is_attachment(&self) -> bool {
        self.kind == "attachment"
    }

    /// True for `inline`.
    pub fn is_inline(&self) -> bool {
        self.kind == "inline"
    }

    /// The `filename` parameter (RFC 2183 §2.3), decoded.
    pub fn filename(&self) -> Option<&str> {
        self.param("filename")
    }

    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }

    /// All parameters in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }
}

fn find_param<'p>(params: &'p [Param], name: &str) -> Option<&'p str> {
    // Names are kept lower-cased: a lower-case `name` (every one this
    // crate asks for) matches as it is, without the byte loop that folds
    // case, which runs only for another spelling.
    params
        .iter()
        .find(|p| {
            mailwire_line::equal(p.name.as_bytes(), name.as_bytes())
                || p.name.eq_ignore_ascii_case(name)
        })
        .map(|p| &*p.value)
}

/// Whether `b` may appear in a `token` (RFC 2045 §5.1): not a space, a
/// control or one of the `tspecials`; octets over 127 are accepted.
pub fn is_token_char(b: u8) -> bool {
    TOKEN_CHARS[usize::from(b)]
}

/// [`is_token_char`] for every octet (tokens are scanned a byte at a time
/// in every parameter: one load instead of a chain of comparisons).
const TOKEN_CHARS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 33;
    while b < 256 {
        t[b] = b != 127
            && !matches!(
                b as u8,
                b'(' | b')'
                    | b'<'
                    | b'>'
                    | b'@'
                    | b','
                    | b';'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'='
            );
        b += 1;
    }
    t
};

/// `token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>`
/// (RFC 2045 §5.1); octets over 127 are accepted (RFC 6532).
fn token(input: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(is_token_char).parse(input)
}

/// One of [`COMMON_TYPES`]: `type/subtype` (9 to 24 bytes, lower-case),
/// its two names, and the words of `full` at 0, 8 (or `len - 8`) and
/// `len - 8`, which cover it, to compare eight bytes at a time.
struct CommonType {
    full: &'static str,
    ty: &'static str,
    sub: &'static str,
    words: [u64; 3],
}

/// A [`CommonType`] entry, its words computed at compile time.
const fn common(full: &'static str, ty: &'static str, sub: &'static str) -> CommonType {
    let b = full.as_bytes();
    let n = b.len();
    assert!(n >= 9 && n <= 24);
    let mid = middle_word(n);
    CommonType {
        full,
        ty,
        sub,
        words: [
            load_const(b, 0, 8),
            load_const(b, mid, 8),
            load_const(b, n - 8, 8),
        ],
    }
}

/// Where the middle of the three words that cover `n` bytes (9 to 24)
/// starts: at 8, or at `n - 8` when two words cover them.
const fn middle_word(n: usize) -> usize {
    if n > 16 { 8 } else { n - 8 }
}

/// The `type/subtype` pairs most parts have, lower-case, by the first
/// letter of the type (see [`common_type`]). Each name is one [`intern`]
/// knows, so the result is what the general path gives.
const COMMON_TYPES: [&[CommonType]; 4] = [
    &[
        common("text/plain", "text", "plain"),
        common("text/html", "text", "html"),
        common("text/calendar", "text", "calendar"),
        common("text/enriched", "text", "enriched"),
    ],
    &[
        common("multipart/alternative", "multipart", "alternative"),
        common("multipart/mixed", "multipart", "mixed"),
        common("multipart/related", "multipart", "related"),
        common("multipart/signed", "multipart", "signed"),
        common("multipart/report", "multipart", "report"),
        common("multipart/digest", "multipart", "digest"),
        common("message/rfc822", "message", "rfc822"),
        common("message/delivery-status", "message", "delivery-status"),
        common("message/partial", "message", "partial"),
    ],
    &[
        common("image/png", "image", "png"),
        common("image/jpeg", "image", "jpeg"),
        common("image/gif", "image", "gif"),
    ],
    &[
        common("application/octet-stream", "application", "octet-stream"),
        common("application/pdf", "application", "pdf"),
    ],
];

/// [`type_subtype`] and [`intern`] of both names for a value that starts
/// (after white space) with one of [`COMMON_TYPES`] in any case, followed
/// by a byte that cannot continue the subtype token: the two scans and
/// lookups become one comparison. `None` for any other value (a comment
/// before the type, white space around the `/`, another type), which the
/// general path then parses.
fn common_type(value: &[u8]) -> Option<(Cow<'static, str>, Cow<'static, str>, &[u8])> {
    let ws = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))?;
    let v = &value[ws..];
    let list = match v[0] | 0x20 {
        b't' => COMMON_TYPES[0],
        b'm' => COMMON_TYPES[1],
        b'i' => COMMON_TYPES[2],
        b'a' => COMMON_TYPES[3],
        _ => return None,
    };
    // `v`'s word at `at` lower-cased (the same as comparing each byte
    // with `eq_ignore_ascii_case`, the table being lower-case).
    let word = |at: usize| {
        v.get(at..at + 8)
            .and_then(|w| w.try_into().ok())
            .map(|w| lower8(u64::from_le_bytes(w)))
    };
    list.iter().find_map(|c| {
        let n = c.full.len();
        let mid = middle_word(n);
        if n > v.len()
            || word(0)? != c.words[0]
            || word(mid)? != c.words[1]
            || word(n - 8)? != c.words[2]
        {
            return None;
        }
        let rest = &v[n..];
        rest.first().is_none_or(|&b| !is_token_char(b)).then_some((
            Cow::Borrowed(c.ty),
            Cow::Borrowed(c.sub),
            rest,
        ))
    })
}

/// `type "/" subtype` with optional CFWS around each.
/// Returns type, subtype and what follows.
fn type_subtype(input: &[u8]) -> Option<[&[u8]; 3]> {
    let input = skip_cfws(input);
    let (ty, input) = split_token(input)?;
    let input = skip_cfws(input).strip_prefix(b"/")?;
    let (sub, input) = split_token(skip_cfws(input))?;
    Some([ty, sub, input])
}

/// The token `input` starts with and what follows it; `None` when it
/// does not start with one ([`token`] without the parser combinator's
/// steps, for the Content-Type of every part).
fn split_token(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = input
        .iter()
        .position(|&b| !is_token_char(b))
        .unwrap_or(input.len());
    (n > 0).then(|| input.split_at(n))
}

/// Skips whitespace and RFC 5322 comments (nested, with quoted pairs).
pub(crate) fn skip_cfws(mut input: &[u8]) -> &[u8] {
    loop {
        let ws = input
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .unwrap_or(input.len());
        input = &input[ws..];
        if input.first() == Some(&b'(') {
            let mut depth = 0usize;
            let mut i = 0;
            while i < input.len() {
                match input[i] {
                    b'\\' => i += 1,
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            input = &input[i.min(input.len())..];
        } else {
            return input;
        }
    }
}

/// Removes comments from a short structured value (Content-Transfer-Encoding);
/// the caller trims white space. A value with no comment or `;` (nearly
/// every one) is given back as it is, without the comment scan.
pub(crate) fn trim_comments(value: &[u8]) -> &[u8] {
    if !value.iter().any(|&b| b == b'(' || b == b';') {
        return value;
    }
    let v = skip_cfws(value);
    let end = v
        .iter()
        .position(|&b| b == b'(' || b == b';')
        .unwrap_or(v.len());
    &v[..end]
}

/// A quoted-string body, unescaped; tolerates a missing closing quote.
fn quoted_string(input: &[u8]) -> (Cow<'_, [u8]>, &[u8]) {
    // input starts after the opening quote.
    let mut i = 0;
    let mut escaped = false;
    while i < input.len() {
        match input[i] {
            b'"' => break,
            b'\\' => {
                escaped = true;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    let end = i.min(input.len());
    let body = &input[..end];
    let rest = if end < input.len() {
        &input[end + 1..]
    } else {
        &[][..]
    };
    if !escaped && !body.contains(&b'\r') && !body.contains(&b'\n') {
        return (Cow::Borrowed(body), rest);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut j = 0;
    while j < body.len() {
        match body[j] {
            b'\\' if j + 1 < body.len() => {
                out.push(body[j + 1]);
                j += 2;
            }
            b'\r' | b'\n' => j += 1, // unfold
            b => {
                out.push(b);
                j += 1;
            }
        }
    }
    (Cow::Owned(out), rest)
}

/// Each string with its [`CompactString`], built at compile time.
macro_rules! with_compact {
    ($($s:literal),* $(,)?) => {
        [$(($s, CompactString::const_new($s))),*]
    };
}

/// A parameter value as written (no RFC 2231 encoding) as text: one of
/// the common values copied from a table, else UTF-8 (windows-1252 when
/// invalid) with RFC 2047 words decoded, inline up to 24 bytes.
fn param_value(value: &[u8]) -> CompactString {
    /// Values as common as the names `intern` knows, in the cases they
    /// are written in (a value keeps its case).
    static COMMON: [(&str, CompactString); 14] = with_compact![
        "us-ascii",
        "utf-8",
        "UTF-8",
        "US-ASCII",
        "iso-8859-1",
        "ISO-8859-1",
        "iso-8859-15",
        "ISO-8859-15",
        "windows-1252",
        "Windows-1252",
        "flowed",
        "fixed",
        "yes",
        "no",
    ];
    if let Some((_, c)) = COMMON
        .iter()
        .find(|(c, _)| c.len() == value.len() && c.as_bytes() == value)
    {
        return c.clone();
    }
    // UTF-8 without an encoded word (nearly every value) is the text
    // itself: copied once, into the inline buffer when it fits. ASCII
    // (nearly every value again: a boundary, a file name) is checked a
    // word at a time and taken as it is; `str::from_utf8`'s set-up cost
    // more than these few dozen bytes.
    if let Ok(text) = mailwire_line::short_str(value)
        && !crate::charset::has_encoded_word(value)
    {
        return CompactString::new(text);
    }
    CompactString::from(crate::charset::decode_words(
        crate::charset::bytes_to_string(value),
    ))
}

/// One raw parameter as written: `name`, section number, extended flag, value.
struct RawParam<'a> {
    name: Cow<'static, str>,
    section: Option<u32>,
    extended: bool,
    value: Cow<'a, [u8]>,
    quoted: bool,
}

/// Parses `*(";" parameter)`, leniently, then joins RFC 2231 sections
/// (the parser reads them in place: [`parse_params_into`]).
#[cfg(test)]
fn parse_params(input: &[u8]) -> Params {
    let mut out = Params::new();
    parse_params_into(input, &mut out);
    out
}

/// `*(";" parameter)` into `out` (emptied first), where the caller keeps
/// the list: built in place, it is not copied on the way back (a copy
/// whose loads waited on the stores that had just built it).
pub(crate) fn parse_params_into(input: &[u8], out: &mut Params) {
    out.clear();
    if !simple_params_into(input, out) {
        out.clear();
        general_params_into(input, out);
    }
}

/// [`simple_params_into`] as a value (the tests compare the two ways).
#[cfg(test)]
fn simple_params(input: &[u8]) -> Option<Params> {
    let mut out = Params::new();
    simple_params_into(input, &mut out).then_some(out)
}

/// [`general_params_into`] as a value.
#[cfg(test)]
fn general_params(input: &[u8]) -> Params {
    let mut out = Params::new();
    general_params_into(input, &mut out);
    out
}

/// Parameters in the form nearly every message writes them: `name=token`
/// or `name="text"` without comments, escapes, folds inside the quotes or
/// RFC 2231 names, separated by `;` and white space. In one pass, without
/// the general lexer's steps, into `out` (empty); false for anything
/// else, which [`general_params_into`] then parses (to the same result on
/// what this accepts: see the `simple_params_agree` test).
fn simple_params_into(input: &[u8], out: &mut Params) -> bool {
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let skip_ws = |i: &mut usize| {
        while *i < input.len() && is_ws(input[*i]) {
            *i += 1;
        }
    };
    let mut i = 0;
    loop {
        skip_ws(&mut i);
        match input.get(i) {
            None => return true,
            Some(b';') => {
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        // The usual names (`charset=`, `boundary=`, ...: see
        // `known_name`) are matched whole from one eight-byte load;
        // another name is scanned and then looked up.
        let name = match known_name(&input[i..]) {
            Some((name, len)) => {
                i += len;
                Cow::Borrowed(name)
            }
            None => {
                let name_start = i;
                while i < input.len() && is_token_char(input[i]) {
                    if input[i] == b'*' {
                        return false;
                    }
                    i += 1;
                }
                let name = &input[name_start..i];
                skip_ws(&mut i);
                if name.is_empty() || input.get(i) != Some(&b'=') {
                    return false;
                }
                i += 1;
                intern(name)
            }
        };
        skip_ws(&mut i);
        let value = if input.get(i) == Some(&b'"') {
            let body = &input[i + 1..];
            // The closing quote, with no escape or line break before it:
            // one short search (two vector searches' set-up cost more than
            // a boundary's few dozen bytes).
            let Some(q) = mailwire_line::find_any_short(body, [b'"', b'\\', b'\n', b'\r']) else {
                return false;
            };
            if body[q] != b'"' {
                return false;
            }
            i += q + 2;
            &body[..q]
        } else {
            let start = i;
            while i < input.len() && is_token_char(input[i]) {
                i += 1;
            }
            let v = &input[start..i];
            skip_ws(&mut i);
            if v.is_empty() || !matches!(input.get(i), None | Some(b';')) {
                return false;
            }
            v
        };
        let value = param_value(value);
        if out.iter().any(|q| q.name == name) {
            continue;
        }
        push_param(out, name, value);
    }
}

/// The usual parameter names with their `=` (in any case) at the start of
/// `input`, from one eight-byte load: `charset=`, `boundary=`,
/// `filename=`, `name=` and `format=`. The name, and the bytes up to the
/// value; `None` for another name (or fewer than eight bytes left).
#[inline(always)]
fn known_name(input: &[u8]) -> Option<(&'static str, usize)> {
    /// Each name: its bytes with `=` as a word (the bytes past them zero),
    /// how many bytes that is (9 when the `=` lies past the word), and
    /// the name.
    const fn known(with_eq: &'static [u8]) -> (u64, usize, &'static str) {
        let n = with_eq.len();
        let in_word = if n > 8 { 8 } else { n };
        let name = match with_eq.split_last() {
            Some((_, name)) => match std::str::from_utf8(name) {
                Ok(name) => name,
                Err(_) => panic!("an ASCII name"),
            },
            None => panic!("a name"),
        };
        (load_const(with_eq, 0, in_word), n, name)
    }
    const KNOWN: [(u64, usize, &str); 5] = [
        known(b"charset="),
        known(b"boundary="),
        known(b"filename="),
        known(b"name="),
        known(b"format="),
    ];
    let word = lower8(u64::from_le_bytes(*input.first_chunk::<8>()?));
    KNOWN.iter().find_map(|&(key, len, name)| {
        let hit = if len > 8 {
            word == key && input.get(8) == Some(&b'=')
        } else {
            word & (u64::MAX >> (64 - 8 * len as u32)) == key
        };
        hit.then_some((name, len))
    })
}

/// Pushes the parameter `name=value` (no language) onto `out`, with the
/// inline case in the caller and written field by field into the free
/// slot: `TinyVec::push`, out of line, took the parameter by reference,
/// and a whole `Param` made on the stack and moved into the slot was
/// copied with wide loads that waited on the narrow stores that had just
/// made it (a store-forwarding stall per parameter).
#[inline(always)]
fn push_param(out: &mut Params, name: Cow<'static, str>, value: CompactString) {
    if let TinyVec::Inline(a) = out
        && a.len() < a.capacity()
    {
        // The slot past the end holds a valid `Param` (an `ArrayVec`'s
        // whole array is), whose fields are replaced and dropped.
        let at = a.len();
        a.set_len(at + 1);
        let slot = &mut a[at];
        slot.name = name;
        slot.value = value;
        slot.language = None;
        return;
    }
    out.push(Param {
        name,
        value,
        language: None,
    });
}

/// The parameters of `input`, leniently (comments, unquoted values with
/// spaces, broken quotes, RFC 2231 sections and charsets).
fn general_params_into(input: &[u8], out: &mut Params) {
    // Without RFC 2231 names (nearly always), the parameters go straight
    // into the list: the first occurrence of a name wins.
    for p in raw_params(input) {
        if p.section.is_some() || p.extended {
            *out = TinyVec::Heap(join_params(raw_params(input).collect()));
            return;
        }
        if out.iter().any(|q| q.name == p.name) {
            continue;
        }
        push_param(out, p.name, param_value(&p.value));
    }
}

/// The parameters of `*(";" parameter)` as written, leniently.
fn raw_params(mut input: &[u8]) -> impl Iterator<Item = RawParam<'_>> {
    std::iter::from_fn(move || {
        loop {
            input = skip_cfws(input);
            // Skip separators (and stray junk up to the next ';').
            if input.first() == Some(&b';') {
                input = &input[1..];
                continue;
            }
            if input.is_empty() {
                return None;
            }
            let Ok((rest, name)) = token(input) else {
                // Junk: skip to next ';'.
                match memchr::memchr(b';', input) {
                    Some(p) => {
                        input = &input[p + 1..];
                        continue;
                    }
                    None => return None,
                }
            };
            let rest = skip_cfws(rest);
            let Some(rest) = rest.strip_prefix(b"=") else {
                // A name without a value: skip it.
                input = rest;
                continue;
            };
            let rest = skip_cfws(rest);
            let (value, quoted, rest) = if let Some(q) = rest.strip_prefix(b"\"") {
                let (v, r) = quoted_string(q);
                (v, true, r)
            } else {
                // Unquoted: up to ';' (lenient: spaces allowed inside), trimmed.
                let mut end = memchr::memchr(b';', rest).unwrap_or(rest.len());
                // A missing ';': whitespace followed by `token =` starts the next
                // parameter.
                let mut k = 0;
                while k < end {
                    if rest[k].is_ascii_whitespace() {
                        let after = skip_cfws(&rest[k..end]);
                        if let Ok((r, _)) = token(after)
                            && skip_cfws(r).first() == Some(&b'=')
                        {
                            end = k;
                            break;
                        }
                    }
                    k += 1;
                }
                let v = rest[..end].trim_ascii();
                // Drop a trailing comment.
                let v = match memchr::memchr(b'(', v) {
                    Some(p) if p > 0 => v[..p].trim_ascii_end(),
                    _ => v,
                };
                (Cow::Borrowed(v), false, &rest[end..])
            };
            input = rest;
            let (base, section, extended) = split_2231_name(name);
            return Some(RawParam {
                name: intern(base),
                section,
                extended,
                value,
                quoted,
            });
        }
    })
}

/// Splits `name*2*` into (`name`, Some(2), true).
fn split_2231_name(name: &[u8]) -> (&[u8], Option<u32>, bool) {
    let (name, extended) = match name.strip_suffix(b"*") {
        Some(n) => (n, true),
        None => (name, false),
    };
    // Names are short: a plain loop, not a vector search.
    if let Some(star) = name.iter().rposition(|&b| b == b'*') {
        let num = &name[star + 1..];
        if !num.is_empty()
            && num.len() <= 4
            && num.iter().all(|b| b.is_ascii_digit())
            && let Ok(n) = std::str::from_utf8(num).unwrap_or("x").parse()
        {
            return (&name[..star], Some(n), extended);
        }
    }
    (name, None, extended)
}

fn percent_decode(v: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%' && i + 2 < v.len() {
            let h = (v[i + 1] as char).to_digit(16);
            let l = (v[i + 2] as char).to_digit(16);
            if let (Some(h), Some(l)) = (h, l) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(v[i]);
        i += 1;
    }
}

fn join_params(raw: Vec<RawParam<'_>>) -> Vec<Param> {
    let mut out: Vec<Param> = Vec::with_capacity(raw.len());
    // Names that had an RFC 2231 form: these win over a plain one.
    let mut done: Vec<Cow<'static, str>> = Vec::new();
    for (idx, p) in raw.iter().enumerate() {
        if p.section.is_none() && !p.extended {
            continue;
        }
        if done.contains(&p.name) {
            continue;
        }
        done.push(p.name.clone());
        // Gather every section of this name (first occurrence of each number).
        let mut sections: Vec<&RawParam<'_>> = raw[idx..]
            .iter()
            .filter(|q| q.name == p.name && (q.section.is_some() || q.extended))
            .collect();
        sections.sort_by_key(|q| q.section.unwrap_or(0));
        sections.dedup_by_key(|q| q.section.unwrap_or(0));
        let mut bytes = Vec::new();
        let mut charset: Option<String> = None;
        let mut language = None;
        for (expected, s) in (0u32..).zip(sections) {
            let n = s.section.unwrap_or(0);
            if n != expected {
                break; // a missing section: stop (RFC 2231 §3)
            }
            let mut v: &[u8] = &s.value;
            if s.extended {
                if n == 0 {
                    // charset'language'value
                    let mut parts = v.splitn(3, |&b| b == b'\'');
                    let a = parts.next().unwrap_or_default();
                    if let (Some(lang), Some(rest)) = (parts.next(), parts.next()) {
                        if !a.is_empty() {
                            charset = Some(String::from_utf8_lossy(a).into_owned());
                        }
                        if !lang.is_empty() {
                            language = Some(String::from_utf8_lossy(lang).into_owned());
                        }
                        v = rest;
                    }
                }
                if s.quoted && !s.value.contains(&b'%') {
                    bytes.extend_from_slice(v);
                } else {
                    percent_decode(v, &mut bytes);
                }
            } else {
                bytes.extend_from_slice(v);
            }
        }
        let value = match &charset {
            Some(cs) => crate::charset::decode_text(cs.as_bytes(), &bytes)
                .0
                .into_owned(),
            None => crate::charset::bytes_to_string(&bytes),
        };
        out.push(Param {
            name: p.name.clone(),
            value: CompactString::from(crate::charset::decode_words(value)),
            language,
        });
    }
    for p in raw {
        if p.section.is_some() || p.extended || done.contains(&p.name) {
            continue;
        }
        if out.iter().any(|q| q.name == p.name) {
            continue; // first occurrence wins
        }
        let text = crate::charset::bytes_to_string(&p.value);
        out.push(Param {
            name: p.name,
            value: CompactString::from(crate::charset::decode_words(text)),
            language: None,
        });
    }
    out
}

/// Quotes a parameter value when it is not a token (RFC 2045 §5.1).
pub(crate) fn write_param(out: &mut Vec<u8>, name: &str, value: &str) {
    let ascii_ok = value.bytes().all(|b| (32..127).contains(&b) || b == b'\t');
    if ascii_ok {
        out.extend_from_slice(b";\r\n\t");
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        if !value.is_empty() && value.bytes().all(is_token_char) {
            out.extend_from_slice(value.as_bytes());
        } else {
            out.push(b'"');
            for b in value.bytes() {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        }
        return;
    }
    // RFC 2231: name*0*=utf-8''..., sections of at most ~60 encoded chars,
    // never splitting an escape.
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut enc: Vec<Vec<u8>> = vec![b"utf-8''".to_vec()];
    for b in value.bytes() {
        let piece: Vec<u8> = if is_token_char(b) && b != b'%' && b != b'\'' && b != b'*' {
            vec![b]
        } else {
            vec![b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]
        };
        if enc.last().map_or(0, Vec::len) + piece.len() > 60 {
            enc.push(Vec::new());
        }
        if let Some(last) = enc.last_mut() {
            last.extend_from_slice(&piece);
        }
    }
    for (i, sec) in enc.iter().enumerate() {
        out.extend_from_slice(b";\r\n\t");
        out.extend_from_slice(name.as_bytes());
        if enc.len() > 1 {
            out.extend_from_slice(format!("*{i}").as_bytes());
        }
        out.extend_from_slice(b"*=");
        out.extend_from_slice(sec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc2045_5_1_examples() {
        let a = ContentType::parse(b"text/plain; charset=us-ascii (Plain text)");
        let b = ContentType::parse(b"text/plain; charset=\"us-ascii\"");
        assert_eq!(a, b);
        assert_eq!(a.charset().as_deref(), Some("us-ascii"));
        let c = ContentType::parse(b"TEXT/PLAIN; CHARSET=US-ASCII");
        assert_eq!(c.mime_type(), "text/plain");
        assert_eq!(c.param("charset"), Some("US-ASCII"));
    }

    #[test]
    fn token_chars_rfc2045_5_1() {
        let tspecials = b"()<>@,;:\\\"/[]?=";
        for b in 0..=255u8 {
            let want = b > 32 && b != 127 && !tspecials.contains(&b);
            assert_eq!(is_token_char(b), want, "{b}");
        }
    }

    /// The usual names are matched whole with their `=` in any case, and
    /// a longer name that starts like one is not.
    #[test]
    fn known_names_whole_in_any_case() {
        for (written, name) in [
            ("charset=utf-8;", "charset"),
            ("CHARSET=utf-8;", "charset"),
            ("Boundary=\"x\"", "boundary"),
            ("FileName=\"a.pdf\"", "filename"),
            ("name=\"a.pdf\"", "name"),
            ("Format=flowed", "format"),
        ] {
            let len = name.len() + 1;
            assert_eq!(
                known_name(written.as_bytes()),
                Some((name, len)),
                "{written}"
            );
        }
        for other in [
            "charsets=x",
            "boundary =x",
            "boundaryx=",
            "filenames=x",
            "names=xyz",
            "formats=x",
            "nam=xyzw",
            "name",
            "x-name=ab",
        ] {
            assert_eq!(known_name(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn simple_params_take_the_usual_forms() {
        for input in [
            &b"; charset=us-ascii"[..],
            b";\r\n\tboundary=\"=_mw3c6ef372fe94f8280002\"",
            b"; name=\"a b.pdf\"; charset=UTF-8 ;",
            b"",
        ] {
            let fast = simple_params(input).expect("the usual form");
            assert_eq!(fast, general_params(input));
        }
        for input in [
            &b"; charset=us-ascii (Plain text)"[..],
            b"; name*=utf-8''a",
            b"; name=\"a\\\"b\"",
            b"; name=a b",
        ] {
            assert!(simple_params(input).is_none());
        }
    }

    /// Values of up to 24 bytes are held inline, longer ones on the heap;
    /// the accessors give them back as written.
    #[test]
    fn param_values_inline_up_to_24_bytes() {
        let ct = ContentType::parse(
            b"multipart/mixed; boundary=\"----=_Part_12345_67890.1234567890\"; name=\"report 2024.pdf\"; charset=utf-8",
        );
        let [boundary, name, charset] = ct.params() else {
            panic!("{ct:?}");
        };
        assert_eq!(boundary.name(), "boundary");
        assert_eq!(boundary.value(), "----=_Part_12345_67890.1234567890");
        assert!(boundary.value.is_heap_allocated());
        assert_eq!((name.name(), name.value()), ("name", "report 2024.pdf"));
        assert!(!name.value.is_heap_allocated());
        assert_eq!((charset.value(), charset.language()), ("utf-8", None));
        assert!(!charset.value.is_heap_allocated());
        let p = Param::new("Title", "x");
        assert_eq!((p.name(), p.value(), p.language()), ("title", "x", None));
        assert_eq!(Param::default().value(), "");
    }

    #[test]
    fn rfc2045_5_2_default() {
        let ct = ContentType::parse(b"garbage");
        assert_eq!(ct, ContentType::default());
        assert!(ContentType::try_parse(b"text/").is_none());
    }

    #[test]
    fn rfc2183_2_examples() {
        let d = ContentDisposition::parse(
            b"attachment; filename=genome.jpeg;\r\n modification-date=\"Wed, 12 Feb 1997 16:29:51 -0500\";",
        )
        .unwrap();
        assert!(d.is_attachment());
        assert_eq!(d.filename(), Some("genome.jpeg"));
        assert_eq!(
            d.param("modification-date"),
            Some("Wed, 12 Feb 1997 16:29:51 -0500")
        );
        assert!(ContentDisposition::parse(b"inline").unwrap().is_inline());
    }

    #[test]
    fn rfc2231_3_continuations() {
        let ct = ContentType::parse(
            b"message/external-body; access-type=URL;\r\n URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
        );
        assert_eq!(
            ct.param("url"),
            Some("ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")
        );
    }

    #[test]
    fn rfc2231_4_charset_language() {
        let ct = ContentType::parse(
            b"application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
        );
        assert_eq!(ct.param("title"), Some("This is ***fun***"));
        assert_eq!(ct.params()[0].language(), Some("en-us"));
    }

    #[test]
    fn rfc2231_4_1_combined() {
        let ct = ContentType::parse(
            b"application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
        );
        assert_eq!(
            ct.param("title"),
            Some("This is even more ***fun*** isn't it!")
        );
    }

    #[test]
    fn rfc2231_split_character() {
        // "é" in UTF-8 is C3 A9, split across two sections.
        let d = ContentDisposition::parse(
            b"attachment; filename*0*=utf-8''caf%C3; filename*1*=%A9.txt",
        )
        .unwrap();
        assert_eq!(d.filename(), Some("café.txt"));
        let d =
            ContentDisposition::parse(b"attachment; filename*=iso-8859-1''%E9t%E9.txt").unwrap();
        assert_eq!(d.filename(), Some("été.txt"));
        // White space around a value with "=?" but no encoded word is kept
        // (found by `write_then_parse`).
        let d = ContentDisposition::parse(b"attachment; filename=\" =? \"").unwrap();
        assert_eq!(d.filename(), Some(" =? "));
    }

    #[test]
    fn lenient_values() {
        let d = ContentDisposition::parse(b"attachment; filename=my file.txt").unwrap();
        assert_eq!(d.filename(), Some("my file.txt"));
        let d = ContentDisposition::parse(b"attachment; filename=\"unterminated.txt").unwrap();
        assert_eq!(d.filename(), Some("unterminated.txt"));
        let ct = ContentType::parse(b"multipart/mixed;boundary=\"a\\\"b\"");
        assert_eq!(ct.boundary(), Some("a\"b"));
    }

    #[test]
    fn rfc2047_words_in_filenames() {
        let d = ContentDisposition::parse(b"attachment; filename=\"=?UTF-8?B?w6l0w6kudHh0?=\"")
            .unwrap();
        assert_eq!(d.filename(), Some("été.txt"));
    }

    /// Pieces that parameter lists are made of, broken ones included.
    const PARAM_PIECES: &[&[u8]] = &[
        b"charset",
        b"Name",
        b"boundary",
        b"CharSet",
        b"BOUNDARY",
        b"filename",
        b"NAME",
        b"format",
        b"flowed",
        b"x*",
        b"x*0*",
        b"=",
        b";",
        b" ",
        b"\t",
        b"\r\n ",
        b"\n",
        b"\"",
        b"\\",
        b"(",
        b")",
        b"=?",
        b"?=",
        b"us-ascii",
        b"a b",
        b"\xc3\xa9",
        b"\xe9",
        b"/",
        b"\x0c",
        b"%41",
        b"'",
    ];

    /// Every interned name, in any case, comes back lower-cased and
    /// borrowed; a name one byte off is not taken for it.
    #[test]
    fn intern_known_names() {
        for name in [
            "id",
            "png",
            "text",
            "plain",
            "rfc822",
            "message",
            "boundary",
            "multipart",
            "attachment",
            "alternative",
            "octet-stream",
            "creation-date",
            "delivery-status",
            "modification-date",
            "access-type",
            "external-body",
            "pkcs7-signature",
            "disposition-notification",
        ] {
            for written in [name.to_owned(), name.to_ascii_uppercase()] {
                let got = intern(written.as_bytes());
                assert!(matches!(got, Cow::Borrowed(_)), "{written}");
                assert_eq!(got, name);
            }
            let mut off = name.as_bytes().to_vec();
            *off.last_mut().unwrap() ^= 1;
            let got = intern(&off);
            assert!(matches!(got, Cow::Owned(_)), "{off:?}");
            assert_eq!(got.as_bytes(), off.to_ascii_lowercase());
        }
        // Only the 17th byte differs from an interned name.
        assert!(matches!(intern(b"modification-datX"), Cow::Owned(_)));
        // A byte no key holds (past the first eight, before the last eight).
        assert!(matches!(intern(b"disposition-nXtification"), Cow::Owned(_)));
    }

    proptest! {
        /// The integer comparison of `intern` gives what lower-casing the
        /// name gives, whatever the name.
        #[test]
        fn intern_is_lowercase(name in proptest::collection::vec(prop_oneof![
            any::<u8>(), Just(b'a'), Just(b'T'), Just(b'-'), Just(b'e'), Just(b'X')], 0..20)) {
            let got = intern(&name);
            prop_assert_eq!(&*got, String::from_utf8_lossy(&name).to_ascii_lowercase());
        }

        /// The run-time key is the compile-time one, and lower8 is
        /// to_ascii_lowercase, whatever the bytes.
        #[test]
        fn name_key_matches_const(name in proptest::collection::vec(any::<u8>(), 0..20)) {
            prop_assert_eq!(name_key(&name), name_key_const(&name));
            let lowered: Vec<u8> = name.iter().map(u8::to_ascii_lowercase).collect();
            prop_assert_eq!(name_key(&name), name_key_const(&lowered));
        }

        /// The hand-written token split agrees with the parser combinator.
        #[test]
        fn split_token_matches_nom(input in proptest::collection::vec(prop_oneof![
            any::<u8>(), Just(b'a'), Just(b'/'), Just(b' '), Just(b';')], 0..20)) {
            let want = token(&input).ok().map(|(rest, t)| (t, rest));
            prop_assert_eq!(split_token(&input), want);
        }

        #[test]
        fn write_then_parse(v in "\\PC{0,80}") {
            let v: String = v.chars().filter(|c| !c.is_control()).collect();
            let mut out = b"attachment".to_vec();
            write_param(&mut out, "filename", &v);
            let d = ContentDisposition::parse(&out).unwrap();
            prop_assert_eq!(d.filename(), Some(v.as_str()));
        }

        /// The one-pass parameter parser gives what the general one gives
        /// on every input it accepts (and it accepts the usual forms).
        #[test]
        fn simple_params_agree(pieces in proptest::collection::vec(
            proptest::sample::select(PARAM_PIECES.to_vec()), 0..16)) {
            let input = pieces.concat();
            if let Some(fast) = simple_params(&input) {
                prop_assert_eq!(fast, general_params(&input));
            }
        }

        /// The table lookup of the common types gives what the scan and
        /// `intern` give, whatever follows or precedes them.
        #[test]
        fn common_type_matches_general(
            lead in "[ \t\r\n(]{0,2}",
            pick in 0usize..18,
            upper in any::<bool>(),
            tail in proptest::collection::vec(prop_oneof![
                any::<u8>(), Just(b';'), Just(b' '), Just(b'/'), Just(b'*'), Just(b'x'),
                Just(b'('), Just(b'\r')], 0..6),
        ) {
            let names = [
                "text/plain", "text/html", "TEXT/calendar", "text/enriched",
                "multipart/alternative", "multipart/mixed", "multipart/related",
                "multipart/signed", "multipart/report", "multipart/digest",
                "message/rfc822", "message/delivery-status", "message/partial",
                "image/png", "image/jpeg", "image/gif", "application/octet-stream",
                "application/pdf",
            ];
            let name = if upper { names[pick].to_ascii_uppercase() } else { names[pick].to_owned() };
            // Every prefix as well: cut names, names one byte short.
            let mut value = lead.into_bytes();
            value.extend_from_slice(name.as_bytes());
            value.extend_from_slice(&tail);
            // The written name itself, then what follows, takes the table.
            let at = value.len() - tail.len();
            let follows = tail.first().is_none_or(|&b| !is_token_char(b));
            if !value[..at].contains(&b'(') && follows {
                prop_assert!(common_type(&value).is_some(), "{:?}", value);
            }
            for cut in 0..=value.len() {
                let v = &value[..cut];
                let general = type_subtype(v).map(|[t, s, r]| (intern(t), intern(s), r));
                if let Some(fast) = common_type(v) {
                    prop_assert_eq!(Some(fast), general.clone());
                }
                prop_assert_eq!(ContentType::try_parse(v), general.map(|(t, s, r)| ContentType {
                    ty: t, subtype: s, params: parse_params(r),
                }));
            }
        }

        /// The table of common values gives what decoding every value
        /// gives, and the search for `=?` what a scan of every byte pair
        /// finds, whatever the bytes.
        #[test]
        fn param_value_matches_decoding(value in proptest::collection::vec(prop_oneof![
            any::<u8>(), Just(b'='), Just(b'?'), Just(b'a'), Just(b'q'), Just(b' '),
            Just(0xc3), Just(0xa9)], 0..24)) {
            let want = crate::charset::decode_words(crate::charset::bytes_to_string(&value));
            prop_assert_eq!(param_value(&value), want);
            prop_assert_eq!(crate::charset::has_encoded_word(&value), value.windows(2).any(|w| w == b"=?"));
        }

        /// The comparison with the usual disposition types gives what the
        /// token scan and `intern` give, on every prefix of the value.
        #[test]
        fn common_disposition_agrees(
            lead in "[ \t(]{0,2}",
            kind in prop_oneof![Just("attachment"), Just("INLINE"), Just("Inline"), Just("attach")],
            tail in proptest::collection::vec(prop_oneof![
                any::<u8>(), Just(b';'), Just(b' '), Just(b'x'), Just(b'=')], 0..6),
        ) {
            let mut value = lead.into_bytes();
            value.extend_from_slice(kind.as_bytes());
            value.extend_from_slice(&tail);
            for cut in 0..=value.len() {
                let v = &value[..cut];
                let want = token(skip_cfws(v)).ok().map(|(rest, k)| ContentDisposition {
                    kind: intern(k),
                    params: parse_params(rest),
                });
                prop_assert_eq!(ContentDisposition::parse(v), want);
            }
        }

        #[test]
        fn never_panics(v in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ContentType::parse(&v);
            let _ = ContentDisposition::parse(&v);
        }
    }
}

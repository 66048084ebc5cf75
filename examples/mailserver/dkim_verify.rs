//! DKIM verification (RFC 6376 §6) of the mail that comes in on the MTA
//! port, told in an `Authentication-Results` field (RFC 8601).
//!
//! RFC 6376, RFC 8301, RFC 8463 and RFC 8601 are not in `shared/rfc`; the
//! sections cited are those of the published RFCs.
//!
//! - Every `DKIM-Signature` field (at most [`MAX_SIGNATURES`], the first
//!   ones) is checked on its own: its tag list (§3.2, §3.5), the
//!   canonicalizations `simple` and `relaxed` of header and body (§3.4),
//!   `l=`, `x=`, `i=` within `d=`, `h=` with `from` in it (§5.4), the body
//!   hash (§3.7), the key record at `s._domainkey.d` (§3.6.1: `v=`, `k=`,
//!   `h=`, `s=`, `t=s`, an empty `p=` is a revoked key) and the signature:
//!   `rsa-sha256` with keys of 1024 to 8192 bits (RFC 8301 §3.2 requires
//!   verifiers to take 1024), `ed25519-sha256` (RFC 8463 §3); `rsa-sha1`
//!   is never valid (RFC 8301 §3.1).
//! - Results as RFC 8601 §2.7.1 names them: `pass`, `fail` (the hashes or
//!   the signature do not match), `neutral` (nothing in the message to
//!   check against: a signature that cannot be parsed), `temperror` (the
//!   key lookup failed for now), `permerror` (no key, a revoked or unusable
//!   key, a required tag missing, an expired signature).
//! - Nothing is refused on a result: the field tells the reader (the
//!   webmail, a filter), and a message without any signature gets none.
//!   Incoming `Authentication-Results` fields that claim to come from this
//!   server's own authserv-id (the hostname) are removed first (RFC 8601
//!   §5), so that a sender cannot forge a `pass`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use mailwire::message::{Field, HeaderSection};
use ring::signature::{self, UnparsedPublicKey};
use sha2::{Digest as _, Sha256};

use crate::dkim::{relaxed_body, relaxed_header};
use crate::txt::{Lookup, tag, tag_list};

/// The most signatures of one message checked (each may cost a DNS
/// lookup and a public-key operation).
pub(crate) const MAX_SIGNATURES: usize = 5;

/// The longest the key lookups of one message take together. Each
/// lookup may otherwise last the resolver's timeouts and retries (10 s),
/// so five signatures of domains whose name servers do not answer held
/// the client's final reply for close to a minute.
pub(crate) const DNS_BUDGET: Duration = Duration::from_secs(10);

/// What the check of one signature gave (RFC 8601 §2.7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    Fail(String),
    Neutral(String),
    TempError(String),
    PermError(String),
}

impl Verdict {
    /// The result's word, as RFC 8601 and the DMARC report schema (RFC
    /// 7489 Appendix C) write it.
    pub(crate) fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "fail",
            Verdict::Neutral(_) => "neutral",
            Verdict::TempError(_) => "temperror",
            Verdict::PermError(_) => "permerror",
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Pass => None,
            Verdict::Fail(r)
            | Verdict::Neutral(r)
            | Verdict::TempError(r)
            | Verdict::PermError(r) => Some(r),
        }
    }
}

/// One signature's result with what identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) verdict: Verdict,
    /// `d=`, `s=` and `a=` as given (empty when missing).
    pub(crate) domain: String,
    pub(crate) selector: String,
    pub(crate) algorithm: String,
    /// The first eight characters of `b=` (RFC 6008 `header.b`), which
    /// tell two signatures of one domain apart.
    pub(crate) b_prefix: String,
}

/// `lookup` (given the time it may take) within a budget for all the
/// lookups of one message: each gets what is left of `budget`, and once it
/// is spent the next fails at once, a `temperror` for its signature.
pub(crate) fn within_budget<'a>(
    lookup: impl Fn(&str, Duration) -> Result<Vec<String>, String> + 'a,
    budget: Duration,
) -> impl Fn(&str) -> Result<Vec<String>, String> + 'a {
    let deadline = Instant::now() + budget;
    move |name| {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("the DNS time for this message is spent".into());
        }
        lookup(name, left)
    }
}

/// Checks every DKIM-Signature field of `msg` (header and body, CRLF line
/// ends) at Unix time `now`; `lookup` gives the TXT records of a name
/// (`Err` for a temporary failure).
pub(crate) fn verify(msg: &[u8], lookup: &Lookup<'_>, now: u64) -> Vec<Outcome> {
    let header = HeaderSection::parse(msg);
    let fields = header.fields();
    fields
        .iter()
        .filter(|f| f.is("dkim-signature"))
        .take(MAX_SIGNATURES)
        .map(|sig| check(sig, fields, header.body(), lookup, now))
        .collect()
}

/// A value with all white space removed (base64 of `b=`, `bh=`, `p=`).
fn squeeze(v: &str) -> String {
    v.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

/// The canonicalization of header or body (§3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Canon {
    Simple,
    Relaxed,
}

fn canon(name: &str) -> Option<Canon> {
    match name.to_ascii_lowercase().as_str() {
        "simple" => Some(Canon::Simple),
        "relaxed" => Some(Canon::Relaxed),
        _ => None,
    }
}

/// The body in the "simple" canonical form (§3.4.3): the empty lines at
/// the end removed, one CRLF at the end (an empty body is one CRLF).
fn simple_body(body: &[u8]) -> Vec<u8> {
    let mut end = body.len();
    while body[..end].ends_with(b"\r\n\r\n") {
        end -= 2;
    }
    let mut out = body[..end].to_vec();
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn canon_header(c: Canon, raw: &[u8]) -> Vec<u8> {
    match c {
        Canon::Simple => raw.to_vec(),
        Canon::Relaxed => relaxed_header(raw),
    }
}

/// `raw` (a DKIM-Signature field) with the value of its `b=` tag deleted,
/// with the white space around the value (§3.7).
fn without_b(raw: &[u8]) -> Vec<u8> {
    let colon = raw.iter().position(|&b| b == b':').map_or(0, |c| c + 1);
    let end = raw.len()
        - if raw.ends_with(b"\r\n") {
            2
        } else {
            usize::from(raw.ends_with(b"\n"))
        };
    let mut out = raw[..colon].to_vec();
    for (i, spec) in raw[colon..end].split(|&b| b == b';').enumerate() {
        if i > 0 {
            out.push(b';');
        }
        let t = spec.trim_ascii_start();
        let name_end = t
            .iter()
            .position(|b| !b.is_ascii_alphanumeric() && *b != b'_')
            .unwrap_or(t.len());
        let after = t[name_end..].trim_ascii_start();
        if &t[..name_end] == b"b" && after.first() == Some(&b'=') {
            let eq = spec.len() - after.len();
            out.extend_from_slice(&spec[..=eq]);
        } else {
            out.extend_from_slice(spec);
        }
    }
    out.extend_from_slice(&raw[end..]);
    out
}

/// A public key from a key record.
enum PublicKey {
    /// RSAPublicKey DER.
    Rsa(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// One DER element at the start of `der`: (tag, content, rest).
fn der(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The RSAPublicKey of `p=`: the SubjectPublicKeyInfo most records publish,
/// unwrapped, or an RSAPublicKey given bare (both occur).
fn rsa_public_key(p: &[u8]) -> Option<Vec<u8>> {
    let (tag, seq, _) = der(p)?;
    if tag != 0x30 {
        return None;
    }
    let (first, _, rest) = der(seq)?;
    match first {
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, exponent INTEGER }
        0x02 => Some(p.to_vec()),
        // SubjectPublicKeyInfo ::= SEQUENCE { algorithm, BIT STRING }
        0x30 => {
            let (bits_tag, bits, _) = der(rest)?;
            let (&unused, key) = bits.split_first()?;
            (bits_tag == 0x03 && unused == 0).then(|| key.to_vec())
        }
        _ => None,
    }
}

/// The key record's public key for `alg` (`rsa` or `ed25519`), or why it
/// cannot be used (§3.6.1, §6.1.2).
fn parse_key(record: &str, key_type: &str) -> Result<(PublicKey, bool), String> {
    let tags = tag_list(record).ok_or("key record syntax")?;
    if tags.first().is_some_and(|(n, _)| n == "v") && tag(&tags, "v") != Some("DKIM1") {
        return Err("key record version".into());
    }
    if tags.iter().skip(1).any(|(n, _)| n == "v") {
        return Err("key record v= not first".into());
    }
    let k = tag(&tags, "k").unwrap_or("rsa");
    if !k.eq_ignore_ascii_case(key_type) {
        return Err(format!("key type {k} for a {key_type} signature"));
    }
    if let Some(h) = tag(&tags, "h")
        && !h
            .split(':')
            .any(|a| a.trim().eq_ignore_ascii_case("sha256"))
    {
        return Err("key not for sha256".into());
    }
    if let Some(s) = tag(&tags, "s")
        && !s
            .split(':')
            .any(|t| matches!(t.trim().to_ascii_lowercase().as_str(), "*" | "email"))
    {
        return Err("key not for email".into());
    }
    let strict =
        tag(&tags, "t").is_some_and(|t| t.split(':').any(|f| f.trim().eq_ignore_ascii_case("s")));
    let p = squeeze(tag(&tags, "p").ok_or("key record without p=")?);
    if p.is_empty() {
        return Err("key revoked".into());
    }
    let raw = B64.decode(p.as_bytes()).map_err(|_| "key not base64")?;
    let key = if key_type == "ed25519" {
        if raw.len() != 32 {
            return Err("Ed25519 key not 32 octets".into());
        }
        PublicKey::Ed25519(raw)
    } else {
        PublicKey::Rsa(rsa_public_key(&raw).ok_or("RSA key not DER")?)
    };
    Ok((key, strict))
}

/// Whether `sub` is `domain` or a subdomain of it, ignoring case.
fn within(sub: &str, domain: &str) -> bool {
    let (sub, domain) = (sub.to_ascii_lowercase(), domain.to_ascii_lowercase());
    sub == domain || sub.ends_with(&format!(".{domain}"))
}

/// Checks one signature.
fn check(
    sig: &Field<'_>,
    fields: &[Field<'_>],
    body: &[u8],
    lookup: &Lookup<'_>,
    now: u64,
) -> Outcome {
    let value = String::from_utf8_lossy(sig.raw_value());
    let tags = tag_list(&value);
    let get = |n: &str| tags.as_deref().and_then(|t| tag(t, n)).unwrap_or("");
    let mut out = Outcome {
        verdict: Verdict::Pass,
        domain: get("d").to_string(),
        selector: get("s").to_string(),
        algorithm: get("a").to_string(),
        b_prefix: squeeze(get("b")).chars().take(8).collect(),
    };
    out.verdict = match tags {
        None => Verdict::Neutral("signature syntax".into()),
        Some(tags) => judge(sig, &tags, fields, body, lookup, now),
    };
    out
}

fn judge(
    sig: &Field<'_>,
    tags: &[(String, String)],
    fields: &[Field<'_>],
    body: &[u8],
    lookup: &Lookup<'_>,
    now: u64,
) -> Verdict {
    let perm = |why: &str| Verdict::PermError(why.to_string());
    if tag(tags, "v") != Some("1") {
        return perm("version");
    }
    let (Some(a), Some(b), Some(bh), Some(d), Some(h), Some(s)) = (
        tag(tags, "a"),
        tag(tags, "b"),
        tag(tags, "bh"),
        tag(tags, "d"),
        tag(tags, "h"),
        tag(tags, "s"),
    ) else {
        return perm("required tag missing");
    };
    let key_type = match a.to_ascii_lowercase().as_str() {
        "rsa-sha256" => "rsa",
        "ed25519-sha256" => "ed25519",
        "rsa-sha1" => return perm("rsa-sha1 is not accepted (RFC 8301)"),
        _ => return perm("unknown algorithm"),
    };
    let names: Vec<String> = h
        .split(':')
        .map(|n| squeeze(n).to_ascii_lowercase())
        .collect();
    if !names.iter().any(|n| n == "from") {
        return perm("From not signed");
    }
    let identity = tag(tags, "i").map(|i| i.rsplit_once('@').map_or(i, |(_, dom)| dom));
    if identity.is_some_and(|i| !within(i, d)) {
        return perm("i= not within d=");
    }
    if let Some(x) = tag(tags, "x") {
        match x.parse::<u64>() {
            Ok(x) if x < now => return perm("signature expired"),
            Ok(x)
                if tag(tags, "t")
                    .and_then(|t| t.parse::<u64>().ok())
                    .is_some_and(|t| t > x) =>
            {
                return perm("x= before t=");
            }
            Ok(_) => {}
            Err(_) => return perm("x= not a number"),
        }
    }
    if tag(tags, "q").is_some_and(|q| {
        !q.split(':')
            .any(|m| m.trim().eq_ignore_ascii_case("dns/txt"))
    }) {
        return perm("query method");
    }
    let c = tag(tags, "c").unwrap_or("simple");
    let (hc, bc) = match c.split_once('/') {
        Some((x, y)) => (canon(x), canon(y)),
        None => (canon(c), Some(Canon::Simple)),
    };
    let (Some(hc), Some(bc)) = (hc, bc) else {
        return perm("canonicalization");
    };
    // The body hash first: it needs no key (§6.1.3).
    let mut cbody = match bc {
        Canon::Simple => simple_body(body),
        Canon::Relaxed => relaxed_body(body),
    };
    if let Some(l) = tag(tags, "l") {
        match l.parse::<usize>() {
            Ok(l) if l <= cbody.len() => cbody.truncate(l),
            Ok(_) => return perm("l= beyond the body"),
            Err(_) => return perm("l= not a number"),
        }
    }
    let Ok(want_bh) = B64.decode(squeeze(bh)) else {
        return perm("bh= not base64");
    };
    if Sha256::digest(&cbody).as_slice() != want_bh.as_slice() {
        return Verdict::Fail("body hash did not verify".into());
    }
    let Ok(sig_bytes) = B64.decode(squeeze(b)) else {
        return perm("b= not base64");
    };
    // The key (§3.6.2.2): the first record that gives a usable one.
    let name = format!("{s}._domainkey.{d}.");
    let records = match lookup(&name) {
        Ok(r) => r,
        Err(e) => return Verdict::TempError(format!("key lookup: {e}")),
    };
    let mut last = String::from("no key");
    let mut key = None;
    for r in &records {
        match parse_key(r, key_type) {
            Ok(k) => {
                key = Some(k);
                break;
            }
            Err(e) => last = e,
        }
    }
    let Some((key, strict)) = key else {
        return Verdict::PermError(last);
    };
    if strict && identity.is_some_and(|i| !i.eq_ignore_ascii_case(d)) {
        return perm("i= not d= under t=s");
    }
    // The signed header fields (§5.4.2: the k-th use of a name takes the
    // k-th field from the bottom; a name with no field left adds nothing),
    // then this field with b= empty and no final CRLF.
    let mut data = Vec::new();
    let mut used: Vec<(&str, usize)> = Vec::new();
    for n in &names {
        let k = match used.iter_mut().find(|(u, _)| u == n) {
            Some((_, k)) => {
                *k += 1;
                *k
            }
            None => {
                used.push((n, 0));
                0
            }
        };
        if let Some(f) = fields.iter().rev().filter(|f| f.is(n)).nth(k) {
            data.extend_from_slice(&canon_header(hc, f.raw()));
        }
    }
    let own = canon_header(hc, &without_b(sig.raw()));
    data.extend_from_slice(own.strip_suffix(b"\r\n").unwrap_or(&own));
    let ok = match key {
        PublicKey::Rsa(k) => UnparsedPublicKey::new(
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            k,
        )
        .verify(&data, &sig_bytes)
        .is_ok(),
        PublicKey::Ed25519(k) => UnparsedPublicKey::new(&signature::ED25519, k)
            .verify(&Sha256::digest(&data), &sig_bytes)
            .is_ok(),
    };
    if ok {
        Verdict::Pass
    } else {
        Verdict::Fail("signature did not verify".into())
    }
}

/// Keeps the characters a result field may show of a value the sender
/// chose (a domain, a selector, an algorithm, base64).
fn clean(v: &str) -> String {
    v.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '/'))
        .take(255)
        .collect()
}

/// The `Authentication-Results` field (RFC 8601 §2.2) for the DKIM
/// `outcomes` (when checked; none: `dkim=none`), the SPF result and the
/// DMARC results (`resinfo`s, see `crate::spf` and `crate::dmarc`), with
/// its CRLF, as `authserv_id` (the hostname) reports them; empty without
/// any.
pub(crate) fn results_field(
    authserv_id: &str,
    dkim: Option<&[Outcome]>,
    spf: Option<&str>,
    dmarc: &[String],
) -> String {
    if dkim.is_none() && spf.is_none() && dmarc.is_empty() {
        return String::new();
    }
    let mut value = clean(authserv_id);
    let outcomes = dkim.unwrap_or_default();
    if dkim.is_some_and(<[Outcome]>::is_empty) {
        value.push_str("; dkim=none");
    }
    for o in outcomes {
        let _ = write!(value, "; dkim={}", o.verdict.word());
        if let Some(r) = o.verdict.reason() {
            let r: String = r
                .chars()
                .filter(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | ',' | ':' | '=' | '-')
                })
                .collect();
            let _ = write!(value, " ({r})");
        }
        for (p, v) in [
            ("header.d", &o.domain),
            ("header.s", &o.selector),
            ("header.a", &o.algorithm),
            ("header.b", &o.b_prefix),
        ] {
            let v = clean(v);
            if !v.is_empty() {
                let _ = write!(value, " {p}={v}");
            }
        }
    }
    for s in spf.into_iter().chain(dmarc.iter().map(String::as_str)) {
        let _ = write!(value, "; {s}");
    }
    let mut out = Vec::new();
    mailwire::message::fold_field("Authentication-Results", &value, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `field` is an `Authentication-Results` field that claims to
/// come from `authserv_id` (RFC 8601 §5: such fields from outside are
/// forgeries, removed before the server adds its own).
pub(crate) fn claims_to_be_ours(field: &Field<'_>, authserv_id: &str) -> bool {
    if !field.is("authentication-results") {
        return false;
    }
    self::authserv_id(&String::from_utf8_lossy(field.raw_value())).eq_ignore_ascii_case(authserv_id)
}

/// The authserv-id of an `Authentication-Results` value (RFC 8601 §2.2):
/// its first token once the comments are gone (nested ones too), up to
/// ";" or white space (an optional version number may follow), without
/// the quotes of a quoted-string.
pub(crate) fn authserv_id(value: &str) -> String {
    let v = without_comments(value);
    let before_results = v.split(';').next().unwrap_or("");
    before_results
        .split_ascii_whitespace()
        .next()
        .unwrap_or("")
        .trim_matches('"')
        .to_string()
}

/// `value` without its comments (RFC 5322 §3.2.2: nested, with quoted
/// pairs; quoted strings kept).
pub(crate) fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The message `content` with the forged result fields removed and
/// `prepend` (whole fields with their CRLFs) in front.
pub(crate) fn rewrite(content: &[u8], authserv_id: &str, prepend: &str) -> Vec<u8> {
    let header = HeaderSection::parse(content);
    let mut out = Vec::with_capacity(content.len() + prepend.len());
    out.extend_from_slice(prepend.as_bytes());
    let mut at = 0;
    for f in header.fields() {
        if claims_to_be_ours(f, authserv_id) {
            let start = f.raw().as_ptr() as usize - content.as_ptr() as usize;
            out.extend_from_slice(&content[at..start]);
            at = start + f.raw().len();
        }
    }
    out.extend_from_slice(&content[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair as _};

    #[test]
    fn rfc6376_3_4_5_canonicalization_examples() {
        let field_a = b"A: X\r\n";
        let field_b = b"B : Y\t\r\n\tZ  \r\n";
        assert_eq!(relaxed_header(field_a), b"a:X\r\n");
        assert_eq!(relaxed_header(field_b), b"b:Y Z\r\n");
        let body = b" C \r\nD \t E\r\n\r\n\r\n";
        assert_eq!(relaxed_body(body), b" C\r\nD E\r\n");
        assert_eq!(simple_body(body), b" C \r\nD \t E\r\n");
        assert_eq!(canon_header(Canon::Simple, field_b), field_b);
    }

    #[test]
    fn rfc6376_3_4_3_simple_body_edges() {
        assert_eq!(simple_body(b""), b"\r\n");
        assert_eq!(simple_body(b"\r\n\r\n"), b"\r\n");
        assert_eq!(simple_body(b"x"), b"x\r\n");
        assert_eq!(simple_body(b"x\r\n"), b"x\r\n");
        assert_eq!(relaxed_body(b""), b"");
    }

    #[test]
    fn b_value_removed_with_its_white_space() {
        assert_eq!(
            without_b(b"DKIM-Signature: v=1; b=abc\r\n def; bh=xyz; d=x\r\n"),
            b"DKIM-Signature: v=1; b=; bh=xyz; d=x\r\n"
        );
        assert_eq!(
            without_b(b"DKIM-Signature: v=1; bh=xyz;\r\n\tb = abc\r\n def\r\n"),
            b"DKIM-Signature: v=1; bh=xyz;\r\n\tb =\r\n"
        );
    }

    #[test]
    fn spki_and_bare_rsa_keys() {
        // SEQUENCE { SEQUENCE { OID rsaEncryption, NULL }, BIT STRING { 0, RSAPublicKey } }
        let rsa = [0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03];
        let mut bits = vec![0x03, (rsa.len() + 1) as u8, 0x00];
        bits.extend_from_slice(&rsa);
        let alg = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let mut spki = vec![0x30, (alg.len() + bits.len()) as u8];
        spki.extend_from_slice(&alg);
        spki.extend_from_slice(&bits);
        assert_eq!(rsa_public_key(&spki).as_deref(), Some(&rsa[..]));
        assert_eq!(rsa_public_key(&rsa).as_deref(), Some(&rsa[..]));
        assert_eq!(rsa_public_key(&[0x30, 0x05, 0x02]), None, "cut short");
        assert_eq!(rsa_public_key(&[]), None);
    }

    /// Five signatures whose key lookups never answer cost one budget,
    /// not five lookups' timeouts: those after the budget fail at once
    /// (`temperror`), and no lookup is given more than what is left.
    #[test]
    fn key_lookups_share_one_time_budget() {
        let body = b"body\r\n";
        let bh = B64.encode(Sha256::digest(relaxed_body(body)));
        let mut msg = String::new();
        for d in 0..MAX_SIGNATURES {
            msg.push_str(&format!(
                "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=d{d}.test; s=s;\r\n\th=from; bh={bh}; b=AAAA\r\n"
            ));
        }
        msg.push_str("From: a@d0.test\r\n\r\nbody\r\n");
        let budget = Duration::from_millis(300);
        let given = std::cell::RefCell::new(Vec::new());
        let lookup = within_budget(
            |name: &str, left: Duration| {
                given.borrow_mut().push((name.to_string(), left));
                // A name server that does not answer: the lookup takes
                // all the time it is given.
                std::thread::sleep(left.min(Duration::from_millis(120)));
                Err("no answer".to_string())
            },
            budget,
        );
        let start = Instant::now();
        let out = verify(msg.as_bytes(), &lookup, 1_000);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(out.len(), MAX_SIGNATURES);
        let given = given.borrow();
        assert!((1..=3).contains(&given.len()), "{given:?}");
        assert!(given.iter().all(|(_, left)| *left <= budget));
        assert_eq!(given[0].0, "s._domainkey.d0.test.");
        for (k, o) in out.iter().enumerate() {
            let want = if k < given.len() {
                "key lookup: no answer"
            } else {
                "key lookup: the DNS time for this message is spent"
            };
            assert_eq!(o.verdict, Verdict::TempError(want.into()), "signature {k}");
        }
    }

    /// A message signed here with a fresh Ed25519 key, as the signer of
    /// `dkim.rs` would (relaxed/relaxed), then every way to break it.
    #[test]
    fn ed25519_pass_and_each_failure() {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let record = format!(
            "v=DKIM1; k=ed25519; p={}",
            B64.encode(pair.public_key().as_ref())
        );
        let msg = b"From: A <a@b.test>\r\nTo: c@d.test\r\nSubject: hi\r\n\r\nbody  line \r\n\r\n";
        let sign = |msg: &[u8], extra: &str| -> Vec<u8> {
            let header = HeaderSection::parse(msg);
            let bh = B64.encode(Sha256::digest(relaxed_body(header.body())));
            let unsigned = format!(
                "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=b.test; s=sel;{extra}\r\n\th=from:to:subject; bh={bh};\r\n\tb="
            );
            let mut data = Vec::new();
            for n in ["from", "to", "subject"] {
                if let Some(f) = header.fields().iter().rev().find(|f| f.is(n)) {
                    data.extend_from_slice(&relaxed_header(f.raw()));
                }
            }
            let own = relaxed_header(unsigned.as_bytes());
            data.extend_from_slice(own.strip_suffix(b"\r\n").unwrap());
            let sig = pair.sign(&Sha256::digest(&data));
            [format!("{unsigned}{}\r\n", B64.encode(sig)).as_bytes(), msg].concat()
        };
        let rec = record.clone();
        let lookup = move |name: &str| -> Result<Vec<String>, String> {
            Ok(if name == "sel._domainkey.b.test." {
                vec!["v=spf1 -all".into(), rec.clone()]
            } else {
                Vec::new()
            })
        };
        let verdict = |m: &[u8]| verify(m, &lookup, 1_000).remove(0).verdict;
        let signed = sign(msg, "");
        assert_eq!(verdict(&signed), Verdict::Pass);
        let o = &verify(&signed, &lookup, 1_000)[0];
        assert_eq!((o.domain.as_str(), o.selector.as_str()), ("b.test", "sel"));
        // Relaxed: white space changes in the header and body still pass.
        let loose = String::from_utf8(signed.clone())
            .unwrap()
            .replace("Subject: hi", "Subject:   hi ")
            .replace("body  line", "body line");
        assert_eq!(verdict(loose.as_bytes()), Verdict::Pass);
        // Anything else fails.
        let body = [&signed[..], b"more\r\n"].concat();
        assert_eq!(
            verdict(&body),
            Verdict::Fail("body hash did not verify".into())
        );
        let subject = String::from_utf8(signed.clone())
            .unwrap()
            .replace("hi", "ho");
        assert_eq!(
            verdict(subject.as_bytes()),
            Verdict::Fail("signature did not verify".into())
        );
        // A From added at the bottom is the one hashed (§5.4.2).
        let added = String::from_utf8(signed.clone()).unwrap().replacen(
            "\r\n\r\n",
            "\r\nFrom: evil@e.test\r\n\r\n",
            1,
        );
        assert!(
            matches!(verdict(added.as_bytes()), Verdict::Fail(_)),
            "{added}"
        );
        // The key: unknown selector, revoked, wrong type, lookup failure.
        let other = String::from_utf8(signed.clone())
            .unwrap()
            .replace("s=sel", "s=old");
        assert_eq!(
            verdict(other.as_bytes()),
            Verdict::PermError("no key".into())
        );
        let revoked =
            |_: &str| -> Result<Vec<String>, String> { Ok(vec!["v=DKIM1; k=ed25519; p=".into()]) };
        assert_eq!(
            verify(&signed, &revoked, 1_000)[0].verdict,
            Verdict::PermError("key revoked".into())
        );
        let rsa = |_: &str| -> Result<Vec<String>, String> { Ok(vec!["v=DKIM1; p=AAAA".into()]) };
        assert!(matches!(
            verify(&signed, &rsa, 1_000)[0].verdict,
            Verdict::PermError(_)
        ));
        let down = |_: &str| -> Result<Vec<String>, String> { Err("timed out".into()) };
        assert!(matches!(
            verify(&signed, &down, 1_000)[0].verdict,
            Verdict::TempError(_)
        ));
        // Expiry, identity, algorithms, syntax.
        let expiring = sign(msg, " t=900; x=950;");
        assert_eq!(
            verdict(&expiring),
            Verdict::PermError("signature expired".into())
        );
        assert_eq!(verify(&expiring, &lookup, 940)[0].verdict, Verdict::Pass);
        let foreign = sign(msg, " i=a@other.test;");
        assert_eq!(
            verdict(&foreign),
            Verdict::PermError("i= not within d=".into())
        );
        let sub = sign(msg, " i=a@mail.b.test;");
        assert_eq!(verdict(&sub), Verdict::Pass);
        let sha1 = String::from_utf8(signed.clone())
            .unwrap()
            .replace("ed25519-sha256", "rsa-sha1");
        assert!(matches!(verdict(sha1.as_bytes()), Verdict::PermError(_)));
        let broken = String::from_utf8(signed.clone())
            .unwrap()
            .replace("v=1;", "v=1; v=2;");
        assert!(matches!(verdict(broken.as_bytes()), Verdict::Neutral(_)));
        let no_from = String::from_utf8(signed).unwrap().replace("h=from:", "h=");
        assert_eq!(
            verdict(no_from.as_bytes()),
            Verdict::PermError("From not signed".into())
        );
    }

    proptest! {
        /// Whatever the signature field, the key record and the message
        /// hold, the check gives a verdict and never panics (the DER
        /// reader, the tag lists, `l=` beyond the body, a `b=` at the end).
        #[test]
        fn never_panics(
            tags in proptest::collection::vec(
                prop_oneof![
                    Just("v=1".to_string()),
                    Just("a=rsa-sha256".to_string()),
                    Just("a=ed25519-sha256".to_string()),
                    Just("d=b.test".to_string()),
                    Just("s=s".to_string()),
                    Just("h=from:to".to_string()),
                    Just("c=simple/relaxed".to_string()),
                    "[a-z]{1,2}=[ -~]{0,12}",
                    "l=[0-9]{1,22}",
                    "x=[0-9]{1,22}",
                    "b(h)?=[A-Za-z0-9+/=]{0,16}",
                ],
                0..10,
            ),
            record in "[ -~]{0,80}",
            der in proptest::collection::vec(any::<u8>(), 0..64),
            body in "[ -~\r\n]{0,60}",
        ) {
            let msg = format!("DKIM-Signature: {}\r\nFrom: a@b.test\r\nTo: c@d.test\r\n\r\n{body}", tags.join("; "));
            let key = format!("v=DKIM1; p={}", B64.encode(&der));
            let lookup = |_: &str| -> Result<Vec<String>, String> { Ok(vec![record.clone(), key.clone()]) };
            let out = verify(msg.as_bytes(), &lookup, 1_000);
            prop_assert_eq!(out.len(), 1);
            let _ = results_field("mx.test", Some(&out), None, &[]);
            let _ = rsa_public_key(&der);
            let _ = tag_list(&record);
            let _ = without_b(msg.as_bytes());
        }
    }

    #[test]
    fn results_field_and_forged_ones_removed() {
        let o = Outcome {
            verdict: Verdict::Fail("body hash did not verify".into()),
            domain: "b.test".into(),
            selector: "s(1);x".into(),
            algorithm: "rsa-sha256".into(),
            b_prefix: "AbCd+/12".into(),
        };
        let f = results_field("mx.example", Some(&[o]), None, &[]);
        assert!(
            f.starts_with(
                "Authentication-Results: mx.example; dkim=fail (body hash did not verify)"
            ),
            "{f}"
        );
        assert!(
            f.contains("header.s=s1x") && f.contains("header.b=AbCd+/12"),
            "{f}"
        );
        assert!(f.ends_with("\r\n"));
        assert_eq!(
            results_field("mx.example", Some(&[]), None, &[]),
            "Authentication-Results: mx.example; dkim=none\r\n"
        );
        assert_eq!(
            results_field(
                "mx.example",
                Some(&[]),
                Some("spf=pass smtp.mailfrom=a@b.test"),
                &["dmarc=pass (p=reject dis=none) header.from=b.test".into()]
            ),
            "Authentication-Results: mx.example; dkim=none; spf=pass\r\n smtp.mailfrom=a@b.test; dmarc=pass (p=reject dis=none) header.from=b.test\r\n"
        );
        assert_eq!(results_field("mx.example", None, None, &[]), "");
        let msg = b"Authentication-Results: (c) MX.example; dkim=pass\r\nAuthentication-Results: other.example; dkim=pass\r\nSubject: s\r\nAuthentication-Results:mx.example\r\n\t; spf=pass\r\n\r\nbody\r\n";
        let out = rewrite(msg, "mx.example", "X: y\r\n");
        assert_eq!(
            out,
            b"X: y\r\nAuthentication-Results: other.example; dkim=pass\r\nSubject: s\r\n\r\nbody\r\n"
        );
        // A nested comment before the authserv-id, or a quoted one, does
        // not hide a forgery.
        let msg = b"Authentication-Results: (a (b) c) mx.example; dkim=pass\r\nAuthentication-Results: \"mx.example\" 1; spf=pass\r\nSubject: s\r\n\r\nbody\r\n";
        assert_eq!(
            rewrite(msg, "mx.example", ""),
            b"Subject: s\r\n\r\nbody\r\n"
        );
        assert_eq!(authserv_id("; spf=pass"), "");
        assert_eq!(authserv_id(" mx.example 1 (v); dkim=none"), "mx.example");
    }
}

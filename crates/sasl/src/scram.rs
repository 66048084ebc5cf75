//! SCRAM (RFC 5802, RFC 7677): the crypto and the message grammar shared by
//! the client and the server.
//!
//! ```text
//! C: n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL                       client-first
//! S: r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096
//! C: c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=
//! S: v=rmF9pqV8S7suAoZWja4dJRkFsKQ=                               server-final
//! ```

use core::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::combinator::{all_consuming, consumed, opt};
use nom::multi::fold_many0;
use nom::sequence::{preceded, terminated};
use nom::{IResult, Parser};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::saslprep::saslprep_or_raw;
use crate::secret::Secret;

/// The hash function of a SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScramHash {
    /// SHA-1, for `SCRAM-SHA-1` (RFC 5802).
    Sha1,
    /// SHA-256, for `SCRAM-SHA-256` (RFC 7677).
    Sha256,
}

impl ScramHash {
    /// The output length in bytes: 20 or 32.
    pub const fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
        }
    }

    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
        // HMAC accepts keys of any length (RFC 2104 §2), so new_from_slice
        // cannot fail; an empty output would make every comparison fail.
        match self {
            ScramHash::Sha1 => match <Hmac<Sha1> as Mac>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    Zeroizing::new(m.finalize().into_bytes().to_vec())
                }
                Err(_) => Zeroizing::new(Vec::new()),
            },
            ScramHash::Sha256 => match <Hmac<Sha256> as Mac>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    Zeroizing::new(m.finalize().into_bytes().to_vec())
                }
                Err(_) => Zeroizing::new(Vec::new()),
            },
        }
    }

    pub(crate) fn h(self, data: &[u8]) -> Zeroizing<Vec<u8>> {
        match self {
            ScramHash::Sha1 => Zeroizing::new(Sha1::digest(data).to_vec()),
            ScramHash::Sha256 => Zeroizing::new(Sha256::digest(data).to_vec()),
        }
    }

    /// `Hi(str, salt, i)` of RFC 5802 §2.2: PBKDF2 with HMAC.
    pub(crate) fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0u8; self.output_len()]);
        match self {
            ScramHash::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut out),
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
            }
        }
        out
    }
}

/// What a SCRAM server stores for a user (RFC 5802 §3): the salt, the
/// iteration count, `StoredKey = H(ClientKey)` and `ServerKey`. The
/// password itself is never needed, and `StoredKey` alone does not let
/// anyone log in.
#[derive(Clone, Debug)]
pub struct ScramCredentials {
    hash: ScramHash,
    salt: Vec<u8>,
    iterations: NonZeroU32,
    stored_key: Secret<Vec<u8>>,
    server_key: Secret<Vec<u8>>,
}

/// [`ScramCredentials::new`] got keys of the wrong length, or a
/// constructor an empty salt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// A key is not as long as the hash output.
    #[error("SCRAM key length does not match the hash output length")]
    KeyLength,
    /// The salt is empty.
    #[error("SCRAM salt is empty")]
    EmptySalt,
}

impl ScramCredentials {
    /// Builds credentials from stored values (e.g. read from a user
    /// database).
    pub fn new(
        hash: ScramHash,
        salt: Vec<u8>,
        iterations: NonZeroU32,
        stored_key: Secret<Vec<u8>>,
        server_key: Secret<Vec<u8>>,
    ) -> Result<Self, CredentialsError> {
        if stored_key.expose().len() != hash.output_len()
            || server_key.expose().len() != hash.output_len()
        {
            return Err(CredentialsError::KeyLength);
        }
        if salt.is_empty() {
            return Err(CredentialsError::EmptySalt);
        }
        Ok(Self {
            hash,
            salt,
            iterations,
            stored_key,
            server_key,
        })
    }

    /// Derives the stored values from a password (RFC 5802 §3; SASLprep is
    /// applied as the client applies it, see the crate docs):
    /// `SaltedPassword = Hi(SASLprep(password), salt, i)`,
    /// `StoredKey = H(HMAC(SaltedPassword, "Client Key"))`,
    /// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    /// The salt should be random and unique per user (16 bytes or more);
    /// RFC 7677 §4 asks for at least 4096 iterations.
    pub fn derive(
        hash: ScramHash,
        password: &str,
        salt: &[u8],
        iterations: NonZeroU32,
    ) -> Result<Self, CredentialsError> {
        if salt.is_empty() {
            return Err(CredentialsError::EmptySalt);
        }
        let prepped = Zeroizing::new(saslprep_or_raw(password).into_owned());
        let salted = hash.hi(prepped.as_bytes(), salt, iterations.get());
        let client_key = hash.hmac(&salted, b"Client Key");
        let stored_key = hash.h(&client_key);
        let server_key = hash.hmac(&salted, b"Server Key");
        Ok(Self {
            hash,
            salt: salt.to_vec(),
            iterations,
            stored_key: Secret::new(stored_key.to_vec()),
            server_key: Secret::new(server_key.to_vec()),
        })
    }

    /// The hash these keys belong to.
    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// The salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The iteration count.
    pub fn iterations(&self) -> NonZeroU32 {
        self.iterations
    }

    /// `StoredKey`.
    pub fn stored_key(&self) -> &Secret<Vec<u8>> {
        &self.stored_key
    }

    /// `ServerKey`.
    pub fn server_key(&self) -> &Secret<Vec<u8>> {
        &self.server_key
    }
}

// ---------------------------------------------------------------------------
// Grammar (RFC 5802 §7)

type PResult<'a, T> = IResult<&'a [u8], T, ()>;

/// A `saslname` or attribute value is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

/// `value-char = value-safe-char / "="`: any UTF-8 byte but NUL and ",".
fn value(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|b| b != 0 && b != b',').parse(i)
}

/// `printable = %x21-2B / %x2D-7E` (the nonce alphabet).
pub(crate) fn is_printable(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b','
}

fn nonce(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(is_printable).parse(i)
}

fn base64_value(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while(|b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=').parse(i)
}

/// `extensions = attr-val *("," attr-val)`, each `ALPHA "=" value`;
/// skipped (RFC 5802 §5.1: unknown optional extensions are ignored).
fn extensions(i: &[u8]) -> PResult<'_, ()> {
    fold_many0(
        preceded(
            tag(&b","[..]),
            (
                take_while1(|b: u8| b.is_ascii_alphabetic()).map(|a: &[u8]| a.len()),
                tag(&b"="[..]),
                value,
            ),
        ),
        || (),
        |(), _| (),
    )
    .parse(i)
}

/// Decodes a `saslname` (`=2C` is ",", `=3D` is "="; any other "=" is
/// malformed) into UTF-8.
pub(crate) fn decode_saslname(raw: &[u8]) -> Result<String, Malformed> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' {
            match raw.get(i + 1..i + 3) {
                Some(b"2C") => out.push(b','),
                Some(b"3D") => out.push(b'='),
                _ => return Err(Malformed("bad escape in saslname")),
            }
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Malformed("saslname is not UTF-8"))
}

/// Escapes a name as a `saslname`.
pub(crate) fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// The channel binding flag of a GS2 header (RFC 5802 §7 `gs2-cbind-flag`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CbindFlag {
    /// `n`: the client does not support channel binding.
    No,
    /// `y`: the client supports it but thinks the server does not.
    Yes,
    /// `p=<name>`: the client requires channel binding.
    Required,
}

/// A parsed GS2 header (RFC 5802 §7, shared by OAUTHBEARER, RFC 7628 §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Gs2Header<'a> {
    pub(crate) flag: CbindFlag,
    pub(crate) authzid: Option<&'a [u8]>,
    /// The header as sent, with both commas.
    pub(crate) raw: &'a [u8],
}

/// `gs2-header = gs2-cbind-flag "," [ authzid ] ","`
pub(crate) fn gs2_header(i: &[u8]) -> PResult<'_, Gs2Header<'_>> {
    let cbname = take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let flag = alt((
        tag(&b"n"[..]).map(|_| CbindFlag::No),
        tag(&b"y"[..]).map(|_| CbindFlag::Yes),
        preceded(tag(&b"p="[..]), cbname).map(|_| CbindFlag::Required),
    ));
    let (rest, (raw, (flag, authzid))) = consumed((
        terminated(flag, tag(&b","[..])),
        terminated(opt(preceded(tag(&b"a="[..]), value)), tag(&b","[..])),
    ))
    .parse(i)?;
    Ok((rest, Gs2Header { flag, authzid, raw }))
}

/// A parsed `client-first-message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientFirst<'a> {
    pub(crate) gs2: Gs2Header<'a>,
    pub(crate) bare: &'a [u8],
    pub(crate) mandatory_ext: bool,
    pub(crate) username: &'a [u8],
    pub(crate) nonce: &'a [u8],
}

/// `client-first-message = gs2-header client-first-message-bare`;
/// `client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]`
pub(crate) fn client_first(i: &[u8]) -> Result<ClientFirst<'_>, Malformed> {
    let (rest, gs2) = gs2_header(i).map_err(|_| Malformed("bad GS2 header"))?;
    let bare_p = (
        opt(terminated(preceded(tag(&b"m="[..]), value), tag(&b","[..]))),
        preceded(tag(&b"n="[..]), value),
        preceded(tag(&b",r="[..]), nonce),
        extensions,
    );
    let (_, (bare, (mext, username, nonce, ()))) = all_consuming(consumed(bare_p))
        .parse(rest)
        .map_err(|_: nom::Err<()>| Malformed("bad client-first-message"))?;
    Ok(ClientFirst {
        gs2,
        bare,
        mandatory_ext: mext.is_some(),
        username,
        nonce,
    })
}

/// A parsed `server-first-message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ServerFirst<'a> {
    Ok {
        nonce: &'a [u8],
        salt: &'a [u8],
        iterations: &'a [u8],
        mandatory_ext: bool,
    },
    /// `server-error` sent early (not in the RFC grammar here, but sent by
    /// some servers).
    Error(&'a [u8]),
}

/// `server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]`
pub(crate) fn server_first(i: &[u8]) -> Result<ServerFirst<'_>, Malformed> {
    if let Some(e) = i.strip_prefix(b"e=") {
        return Ok(ServerFirst::Error(e));
    }
    let p = (
        opt(terminated(preceded(tag(&b"m="[..]), value), tag(&b","[..]))),
        preceded(tag(&b"r="[..]), nonce),
        preceded(tag(&b",s="[..]), base64_value),
        preceded(tag(&b",i="[..]), take_while1(|b: u8| b.is_ascii_digit())),
        extensions,
    );
    let (_, (mext, nonce, salt, iterations, ())) = all_consuming(p)
        .parse(i)
        .map_err(|_: nom::Err<()>| Malformed("bad server-first-message"))?;
    Ok(ServerFirst::Ok {
        nonce,
        salt,
        iterations,
        mandatory_ext: mext.is_some(),
    })
}

/// A parsed `client-final-message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientFinal<'a> {
    pub(crate) channel_binding: &'a [u8],
    pub(crate) nonce: &'a [u8],
    pub(crate) without_proof: &'a [u8],
    pub(crate) proof: &'a [u8],
}

/// `client-final-message = client-final-message-without-proof "," proof`;
/// `client-final-message-without-proof = channel-binding "," nonce ["," extensions]`
pub(crate) fn client_final(i: &[u8]) -> Result<ClientFinal<'_>, Malformed> {
    // The proof is the last attribute; extensions may precede it.
    let split = i
        .windows(3)
        .rposition(|w| w == b",p=")
        .ok_or(Malformed("client-final-message without proof"))?;
    let (without_proof, proof_part) = i.split_at(split);
    let proof = &proof_part[3..];
    let p = (
        preceded(tag(&b"c="[..]), base64_value),
        preceded(tag(&b",r="[..]), nonce),
        extensions,
    );
    let (_, (channel_binding, nonce, ())) = all_consuming(p)
        .parse(without_proof)
        .map_err(|_: nom::Err<()>| Malformed("bad client-final-message"))?;
    let (_, proof) = all_consuming(base64_value)
        .parse(proof)
        .map_err(|_: nom::Err<()>| Malformed("bad proof"))?;
    Ok(ClientFinal {
        channel_binding,
        nonce,
        without_proof,
        proof,
    })
}

/// A parsed `server-final-message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ServerFinal<'a> {
    Verifier(&'a [u8]),
    Error(&'a [u8]),
}

/// `server-final-message = (server-error / verifier) ["," extensions]`
pub(crate) fn server_final(i: &[u8]) -> Result<ServerFinal<'_>, Malformed> {
    let p = (
        alt((
            preceded(tag(&b"v="[..]), base64_value).map(ServerFinal::Verifier),
            preceded(tag(&b"e="[..]), value).map(ServerFinal::Error),
        )),
        extensions,
    );
    let (_, (f, ())) = all_consuming(p)
        .parse(i)
        .map_err(|_: nom::Err<()>| Malformed("bad server-final-message"))?;
    Ok(f)
}

/// Decodes base64 already checked for the alphabet.
pub(crate) fn b64(v: &[u8]) -> Result<Vec<u8>, Malformed> {
    STANDARD.decode(v).map_err(|_| Malformed("bad base64"))
}

/// Computes `ClientProof` and `ServerSignature` from the salted password
/// (RFC 5802 §3).
pub(crate) fn client_proof(
    hash: ScramHash,
    salted_password: &[u8],
    auth_message: &[u8],
) -> (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>) {
    let client_key = hash.hmac(salted_password, b"Client Key");
    let stored_key = hash.h(&client_key);
    let client_signature = hash.hmac(&stored_key, auth_message);
    let proof: Vec<u8> = client_key
        .iter()
        .zip(client_signature.iter())
        .map(|(a, b)| a ^ b)
        .collect();
    let server_key = hash.hmac(salted_password, b"Server Key");
    let server_signature = hash.hmac(&server_key, auth_message);
    (Zeroizing::new(proof), server_signature)
}

/// Parses a positive decimal iteration count.
pub(crate) fn parse_iterations(digits: &[u8]) -> Option<NonZeroU32> {
    let s = core::str::from_utf8(digits).ok()?;
    s.parse::<u32>().ok().and_then(NonZeroU32::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_rfc5802_section5() {
        let cf = client_first(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL").unwrap();
        assert_eq!(cf.gs2.flag, CbindFlag::No);
        assert_eq!(cf.gs2.raw, b"n,,");
        assert_eq!(cf.bare, b"n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(cf.username, b"user");
        let sf =
            server_first(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")
                .unwrap();
        assert!(matches!(
            sf,
            ServerFirst::Ok {
                iterations: b"4096",
                ..
            }
        ));
        let f = client_final(
            b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        )
        .unwrap();
        assert_eq!(f.channel_binding, b"biws");
        assert_eq!(f.proof, b"v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
        assert_eq!(
            server_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").unwrap(),
            ServerFinal::Verifier(b"rmF9pqV8S7suAoZWja4dJRkFsKQ=")
        );
    }

    #[test]
    fn grammar_variants() {
        let cf = client_first(b"y,a=ad=2Cmin,m=ext,n=u,r=abc,x=1,y=2").unwrap();
        assert_eq!(cf.gs2.flag, CbindFlag::Yes);
        assert_eq!(cf.gs2.authzid, Some(&b"ad=2Cmin"[..]));
        assert!(cf.mandatory_ext);
        let cf = client_first(b"p=tls-server-end-point,,n=u,r=abc").unwrap();
        assert_eq!(cf.gs2.flag, CbindFlag::Required);
        assert!(client_first(b"n,,n=u").is_err());
        assert!(client_first(b"n,,n=u,r=a,b").is_err());
        assert!(client_first(b"x,,n=u,r=a").is_err());
        assert!(client_first(b"n,,n=,r=a").is_err());
        assert!(client_final(b"c=biws,r=abc").is_err());
        assert!(client_final(b"c=biws,r=abc,e=1,p=AAAA").is_ok());
        assert_eq!(
            server_final(b"e=invalid-proof").unwrap(),
            ServerFinal::Error(b"invalid-proof")
        );
        assert_eq!(decode_saslname(b"a=2Cb=3Dc").unwrap(), "a,b=c");
        assert!(decode_saslname(b"a=2").is_err());
        assert!(decode_saslname(b"a=41").is_err());
        assert_eq!(encode_saslname("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(parse_iterations(b"0"), None);
        assert_eq!(parse_iterations(b"99999999999"), None);
    }

    #[test]
    fn derive_rfc5802_section5() {
        let c = ScramCredentials::derive(
            ScramHash::Sha1,
            "pencil",
            &b64(b"QSXCR+Q6sek8bf92").unwrap(),
            NonZeroU32::new(4096).unwrap(),
        )
        .unwrap();
        assert_eq!(c.stored_key().expose().len(), 20);
        assert!(
            ScramCredentials::new(
                ScramHash::Sha256,
                c.salt().to_vec(),
                c.iterations(),
                c.stored_key().clone(),
                c.server_key().clone()
            )
            .is_err()
        );
    }
}

//! The Sender Rewriting Scheme for forwarded mail (Shevek's SRS0, as
//! Postfix's postsrsd and Exim write it): a message that we forward to
//! another domain leaves with the envelope sender
//!
//! ```text
//! SRS0=HHHH=TT=orig-domain=orig-local@our-domain
//! ```
//!
//! so that the next hop's SPF check of the sender looks at our domain, and
//! a bounce comes back to us, where the address is turned back into
//! `orig-local@orig-domain` (only if `HHHH`, an HMAC-SHA-256 of the rest
//! under a secret kept in `DATA/srs.secret`, matches and `TT`, the day in
//! base32 modulo 1024, is at most [`MAX_AGE_DAYS`] old).

use std::io;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a rewritten address can be answered (days).
pub(crate) const MAX_AGE_DAYS: u64 = 21;

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The secret and the rewriting.
pub(crate) struct Srs {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Srs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Srs(<secret>)")
    }
}

fn timestamp(day: u64) -> String {
    let t = (day % 1024) as usize;
    [B32[t >> 5] as char, B32[t & 31] as char].iter().collect()
}

fn day_of(tt: &str) -> Option<u64> {
    let mut v = 0u64;
    let b = tt.as_bytes();
    if b.len() != 2 {
        return None;
    }
    for c in b {
        let i = B32.iter().position(|x| *x == c.to_ascii_lowercase())?;
        v = v * 32 + i as u64;
    }
    Some(v)
}

impl Srs {
    /// With a given secret (tests).
    #[cfg(test)]
    pub(crate) fn new(secret: Vec<u8>) -> Self {
        Srs { secret }
    }

    /// The secret of `data` (`srs.secret`), made on first use; the same
    /// secret must survive restarts, or bounces to older rewritten
    /// addresses are refused.
    pub(crate) fn open(data: &Path) -> io::Result<Self> {
        let path = data.join("srs.secret");
        match std::fs::read(&path) {
            Ok(s) if s.len() >= 16 => Ok(Srs { secret: s }),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: too short", path.display()),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let hex = crate::smtp_session::random_hex(32);
                crate::maildir::write_atomic(&path, hex.as_bytes())?;
                Ok(Srs {
                    secret: hex.into_bytes(),
                })
            }
            Err(e) => Err(e),
        }
    }

    fn hmac(&self, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(data);
        mac
    }

    /// HMAC-SHA-256 of `data` under the secret.
    pub(crate) fn mac(&self, data: &[u8]) -> [u8; 32] {
        self.hmac(data).finalize().into_bytes().into()
    }

    /// Whether `tag` is the start of [`Srs::mac`] of `data` (at least 16
    /// bytes), compared in constant time.
    pub(crate) fn verify_mac(&self, data: &[u8], tag: &[u8]) -> bool {
        tag.len() >= 16 && self.hmac(data).verify_truncated_left(tag).is_ok()
    }

    fn hash(&self, tt: &str, domain: &str, local: &str) -> String {
        let out = self.mac(
            format!("{tt}={domain}={local}")
                .to_ascii_lowercase()
                .as_bytes(),
        );
        // Four base32 digits: 20 bits.
        let v = (u32::from(out[0]) << 12) | (u32::from(out[1]) << 4) | (u32::from(out[2]) >> 4);
        (0..4)
            .rev()
            .map(|i| B32[((v >> (5 * i)) & 31) as usize] as char)
            .collect()
    }

    /// A MAC of `what` under the same secret (16 hex digits): the list
    /// confirmation tokens.
    pub(crate) fn token(&self, what: &str) -> String {
        crate::accounts::hex(&self.mac(what.as_bytes())[..8])
    }

    /// The envelope sender for forwarding `sender` from `our_domain` on
    /// `day` (days since 1970). The null sender stays null.
    pub(crate) fn forward(&self, sender: &str, our_domain: &str, day: u64) -> String {
        let Some((local, domain)) = sender.rsplit_once('@') else {
            return sender.to_string();
        };
        let tt = timestamp(day);
        let hh = self.hash(&tt, domain, local);
        format!("SRS0={hh}={tt}={domain}={local}@{our_domain}")
    }

    /// The original sender of an `SRS0=...` local part, if it is ours and
    /// not too old on `day`.
    pub(crate) fn reverse(&self, local_part: &str, day: u64) -> Option<String> {
        let rest = local_part
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("SRS0="))
            .map(|_| &local_part[5..])?;
        let mut it = rest.splitn(4, '=');
        let (hh, tt, domain, local) = (it.next()?, it.next()?, it.next()?, it.next()?);
        if domain.is_empty() || local.is_empty() {
            return None;
        }
        let then = day_of(tt)?;
        let age = (day % 1024 + 1024 - then) % 1024;
        if age > MAX_AGE_DAYS {
            return None;
        }
        let want = self.hash(tt, domain, local);
        let ok: bool = subtle_eq(want.as_bytes(), hh.to_ascii_lowercase().as_bytes());
        ok.then(|| format!("{local}@{domain}"))
    }
}

/// Constant-time comparison (the hash is a short MAC).
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    mailwire::sasl::Secret::new(a.to_vec()).ct_eq(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tampering() {
        let s = Srs::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let day = 20_000;
        let f = s.forward("Carol@B.test", "a.test", day);
        assert!(
            f.starts_with("SRS0=") && f.ends_with("=B.test=Carol@a.test"),
            "{f}"
        );
        let local = f.rsplit_once('@').unwrap().0;
        assert_eq!(s.reverse(local, day).as_deref(), Some("Carol@B.test"));
        assert_eq!(
            s.reverse(&local.to_ascii_uppercase(), day + 3).as_deref(),
            Some("CAROL@B.TEST"),
            "case-insensitive, days later"
        );
        assert_eq!(s.reverse(local, day + 22), None, "too old");
        let forged = local.replacen("=B.test=", "=evil.test=", 1);
        assert_eq!(s.reverse(&forged, day), None);
        let other = Srs::new(b"another secret, another hash....".to_vec());
        assert_eq!(other.reverse(local, day), None);
        for bad in [
            "SRS0=",
            "SRS0=x=y",
            "SRS0=aaaa=zz=b.test=",
            "srs1=a=b=c=d",
            "carol",
        ] {
            assert_eq!(s.reverse(bad, day), None, "{bad}");
        }
        assert_eq!(s.forward("", "a.test", day), "");
    }

    #[test]
    fn timestamp_wraps() {
        let s = Srs::new(vec![7; 32]);
        let f = s.forward("x@y.test", "a.test", 1023);
        let local = f.rsplit_once('@').unwrap().0;
        assert!(s.reverse(local, 1024 + 5).is_some(), "across the wrap");
        assert_eq!(day_of(&timestamp(1023)), Some(1023));
    }

    #[test]
    fn secret_kept_in_the_data_directory() {
        let dir = std::env::temp_dir().join(format!("mailwire-srs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = Srs::open(&dir).unwrap();
        let b = Srs::open(&dir).unwrap();
        let f = a.forward("x@y.test", "a.test", 5);
        assert!(b.reverse(f.rsplit_once('@').unwrap().0, 5).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! [`Mechanism`]: the SASL mechanism names and the choice among them.

use core::fmt;
use core::str::FromStr;

/// A SASL mechanism this crate implements, on both sides.
///
/// The names are those of the IANA "SASL Mechanisms" registry
/// (RFC 4422 §3.1 syntax: upper-case letters, digits, `-` and `_`).
/// The variants are declared best first, and [`Mechanism::PREFERENCE`]
/// lists them in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Mechanism {
    /// `SCRAM-SHA-256` (RFC 7677): salted challenge-response over SHA-256,
    /// mutual authentication, the server stores only derived keys.
    ScramSha256,
    /// `SCRAM-SHA-1` (RFC 5802).
    ScramSha1,
    /// `CRAM-MD5` (RFC 2195): HMAC-MD5 over a server challenge.
    CramMd5,
    /// `OAUTHBEARER` (RFC 7628): an OAuth 2.0 bearer token.
    OAuthBearer,
    /// `XOAUTH2`: Google's and Microsoft's pre-standard OAuth 2.0 bearer
    /// token mechanism.
    XOAuth2,
    /// `PLAIN` (RFC 4616): authzid, authcid and password in the clear
    /// (use only over TLS).
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login): user name and password in two
    /// steps, in the clear (use only over TLS).
    Login,
    /// `EXTERNAL` (RFC 4422 appendix A): the identity comes from outside
    /// SASL, e.g. a TLS client certificate.
    External,
}

impl Mechanism {
    /// Every mechanism, best first: SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5,
    /// OAUTHBEARER, XOAUTH2, PLAIN, LOGIN, EXTERNAL.
    pub const PREFERENCE: [Mechanism; 8] = [
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::CramMd5,
        Mechanism::OAuthBearer,
        Mechanism::XOAuth2,
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::External,
    ];

    /// The registered name, as sent in `AUTH`/`AUTHENTICATE` and listed in
    /// the capabilities.
    pub const fn name(self) -> &'static str {
        match self {
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::External => "EXTERNAL",
        }
    }

    /// Looks a name up, ignoring ASCII case (RFC 4422 §3.1 names are
    /// upper case, but SMTP and IMAP compare them case-insensitively).
    /// Returns `None` for a mechanism this crate does not implement,
    /// including the channel-binding `-PLUS` variants.
    pub fn from_name(name: &[u8]) -> Option<Mechanism> {
        Mechanism::PREFERENCE
            .into_iter()
            .find(|m| m.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// True when the mechanism sends a reusable secret (a password or a
    /// bearer token) readable by anyone who sees the exchange, so it must
    /// only run over a confidential channel (TLS): PLAIN, LOGIN, XOAUTH2,
    /// OAUTHBEARER.
    pub const fn sends_secret_in_clear(self) -> bool {
        matches!(
            self,
            Mechanism::Plain | Mechanism::Login | Mechanism::XOAuth2 | Mechanism::OAuthBearer
        )
    }

    /// True when the client speaks first, so the exchange can begin with an
    /// initial response (SMTP `AUTH <mech> <initial-response>`, RFC 4954
    /// §4; IMAP SASL-IR, RFC 4959). CRAM-MD5 and LOGIN start with a server
    /// challenge.
    pub const fn client_first(self) -> bool {
        !matches!(self, Mechanism::CramMd5 | Mechanism::Login)
    }

    /// True when the mechanism authenticates with a password (as opposed to
    /// a bearer token or an external identity).
    pub const fn uses_password(self) -> bool {
        matches!(
            self,
            Mechanism::ScramSha256
                | Mechanism::ScramSha1
                | Mechanism::CramMd5
                | Mechanism::Plain
                | Mechanism::Login
        )
    }

    /// True when the mechanism authenticates with an OAuth 2.0 bearer token.
    pub const fn uses_token(self) -> bool {
        matches!(self, Mechanism::XOAuth2 | Mechanism::OAuthBearer)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not one of the mechanisms this crate implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown or unsupported SASL mechanism")]
pub struct UnknownMechanism;

impl FromStr for Mechanism {
    type Err = UnknownMechanism;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mechanism::from_name(s.as_bytes()).ok_or(UnknownMechanism)
    }
}

/// Picks the best mechanism both sides support, in the order of
/// [`Mechanism::PREFERENCE`].
///
/// `server_offers` are the names from the EHLO `AUTH` keyword (RFC 4954 §3),
/// the IMAP `AUTH=` capabilities or the POP3 `SASL` capability (RFC 5034
/// §3), compared without regard to case; unknown names are ignored.
/// `client_supports` are the mechanisms the client is willing to use (for
/// instance only password mechanisms when it holds a password, and not
/// PLAIN/LOGIN before TLS: see [`Mechanism::sends_secret_in_clear`]).
///
/// ```
/// use mailwire_sasl::{choose, Mechanism};
/// let offered = ["PLAIN", "login", "CRAM-MD5", "X-UNKNOWN"];
/// let mine = [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5];
/// assert_eq!(choose(&offered, &mine), Some(Mechanism::CramMd5));
/// assert_eq!(choose(&["GSSAPI"], &mine), None);
/// ```
pub fn choose(server_offers: &[&str], client_supports: &[Mechanism]) -> Option<Mechanism> {
    Mechanism::PREFERENCE.into_iter().find(|m| {
        client_supports.contains(m)
            && server_offers
                .iter()
                .any(|o| o.as_bytes().eq_ignore_ascii_case(m.name().as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mechanism::PREFERENCE {
            assert_eq!(Mechanism::from_name(m.name().as_bytes()), Some(m));
            assert_eq!(m.name().to_ascii_lowercase().parse::<Mechanism>(), Ok(m));
            assert_eq!(m.to_string(), m.name());
        }
        assert_eq!(Mechanism::from_name(b"SCRAM-SHA-256-PLUS"), None);
        assert_eq!("GSSAPI".parse::<Mechanism>(), Err(UnknownMechanism));
    }

    #[test]
    fn preference_is_declaration_order() {
        let mut sorted = Mechanism::PREFERENCE;
        sorted.sort();
        assert_eq!(sorted, Mechanism::PREFERENCE);
    }

    #[test]
    fn choose_prefers_scram() {
        let all = Mechanism::PREFERENCE;
        let offered = ["LOGIN", "PLAIN", "SCRAM-SHA-1", "scram-sha-256"];
        assert_eq!(choose(&offered, &all), Some(Mechanism::ScramSha256));
        assert_eq!(
            choose(&offered, &[Mechanism::Login, Mechanism::ScramSha1]),
            Some(Mechanism::ScramSha1)
        );
        assert_eq!(choose(&["LOGIN", "PLAIN"], &all), Some(Mechanism::Plain));
        assert_eq!(choose(&[], &all), None);
        assert_eq!(choose(&offered, &[]), None);
    }
}

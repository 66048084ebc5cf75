//! TLS configuration with rustls: the server certificate (self-signed by
//! rcgen at start, or `--cert`/`--key` PEM files) and the client side used by
//! the queue runner: opportunistic STARTTLS by default (RFC 3207, RFC 7435:
//! the peer certificate is not verified, as MTAs do without DANE or
//! MTA-STS), or required with a verified certificate (`--tls-policy`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ServerConfig};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A self-signed certificate for `names`, made now.
pub(crate) fn self_signed(
    names: &[String],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let ck =
        rcgen::generate_simple_self_signed(names.to_vec()).map_err(|e| format!("rcgen: {e}"))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    Ok((vec![ck.cert.der().clone()], key))
}

/// Reads a PEM certificate chain and private key.
pub(crate) fn load_pem(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let open = |p: &Path| {
        File::open(p)
            .map(BufReader::new)
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let certs = rustls_pemfile::certs(&mut open(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no CERTIFICATE in the file", cert.display()));
    }
    let key = rustls_pemfile::private_key(&mut open(key)?)
        .map_err(|e| format!("{}: {e}", key.display()))?
        .ok_or_else(|| format!("{}: no PRIVATE KEY in the file", key.display()))?;
    Ok((certs, key))
}

/// The server's certificate and key, which can be replaced while the
/// server runs: rustls asks for them at every handshake, so a replacement
/// serves every connection (SMTP, POP3, IMAP, their STARTTLS, HTTPS) from
/// its next handshake on, and a connection already in TLS keeps the
/// certificate it began with.
#[derive(Debug)]
pub(crate) struct CertSlot(RwLock<Arc<CertifiedKey>>);

impl CertSlot {
    /// The slot holding `certs` and `key`; an error when the key does not
    /// load or is not the first certificate's.
    pub(crate) fn new(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, String> {
        Ok(CertSlot(RwLock::new(certified(certs, key)?)))
    }

    /// Puts `certs` and `key` in force for the handshakes from now on,
    /// checked as [`CertSlot::new`] checks them: on an error the ones in
    /// force stay.
    pub(crate) fn replace(
        &self,
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<(), String> {
        let fresh = certified(certs, key)?;
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// The certificate chain in force.
    #[cfg(test)]
    pub(crate) fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current().cert.clone()
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// `certs` and `key` as rustls signs with them, the key checked against
/// the first certificate's public key (a certificate renewed with a new
/// key whose key file is not yet written does not pass).
fn certified(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, String> {
    CertifiedKey::from_der(certs, key, &provider())
        .map(Arc::new)
        .map_err(|e| format!("certificate and key: {e}"))
}

/// The server side configuration, its certificate from `slot`.
pub(crate) fn server_config_with(slot: Arc<CertSlot>) -> Result<Arc<ServerConfig>, String> {
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(slot);
    Ok(Arc::new(cfg))
}

/// The server side configuration with a certificate that stays.
#[cfg(test)]
pub(crate) fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, String> {
    server_config_with(Arc::new(CertSlot::new(certs, key)?))
}

/// How the queue runner uses TLS towards a destination (`--tls-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum OutboundMode {
    /// STARTTLS when offered, any certificate, plain text otherwise (RFC
    /// 7435).
    #[default]
    Opportunistic,
    /// STARTTLS must be offered and the certificate must verify for the
    /// host name (the MX name, or the `--route` host): otherwise the
    /// attempt fails for the time being, is retried on the `--retry`
    /// schedule and bounced after `--expire` (as RFC 8461 §5 has it for an
    /// MTA-STS `enforce` policy).
    Require,
    /// An MTA-STS `testing` policy (RFC 8461 §5, not a `--tls-policy`
    /// value): STARTTLS when offered and the certificate checked as
    /// `Require` does, but a failure (no STARTTLS, a certificate not valid
    /// for the MX name) is only logged and the message goes anyway.
    Testing,
}

impl OutboundMode {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "opportunistic" | "may" => Some(OutboundMode::Opportunistic),
            "require" | "verify" => Some(OutboundMode::Require),
            _ => None,
        }
    }
}

/// The outbound TLS policy: a default and per-domain overrides, and the
/// certificates that `require` trusts.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutboundPolicy {
    pub(crate) default: OutboundMode,
    /// Recipient domain (lower case) to its mode.
    pub(crate) domains: BTreeMap<String, OutboundMode>,
    /// `--tls-ca FILE`: the CAs `require` trusts instead of the Mozilla
    /// root program (webpki-roots); also for MTA-STS policy hosts.
    pub(crate) ca: Option<PathBuf>,
    /// `--no-mta-sts`, `[tls] mta_sts = false`: do not look for MTA-STS
    /// policies (RFC 8461; [`crate::mta_sts`]).
    pub(crate) no_mta_sts: bool,
    /// `--mta-sts-port N` (for tests): the HTTPS port of policy hosts
    /// instead of 443.
    pub(crate) mta_sts_port: Option<u16>,
}

impl OutboundPolicy {
    /// Takes one `--tls-policy` value: `MODE` (the default) or
    /// `DOMAIN=MODE`, MODE being `opportunistic` or `require`.
    pub(crate) fn add(&mut self, v: &str) -> Result<(), String> {
        let bad = || format!("--tls-policy {v:?}: expected opportunistic, require or DOMAIN=MODE");
        match v.split_once('=') {
            Some((d, m)) if !d.is_empty() => {
                let m = OutboundMode::parse(m).ok_or_else(bad)?;
                self.domains.insert(d.to_ascii_lowercase(), m);
            }
            Some(_) => return Err(bad()),
            None => self.default = OutboundMode::parse(v).ok_or_else(bad)?,
        }
        Ok(())
    }

    /// Whether `domain` has its own `--tls-policy DOMAIN=MODE`, which wins
    /// over any MTA-STS policy of the domain.
    pub(crate) fn has_override(&self, domain: &str) -> bool {
        self.domains.contains_key(&domain.to_ascii_lowercase())
    }

    /// The mode for mail to `domain`.
    pub(crate) fn for_domain(&self, domain: &str) -> OutboundMode {
        self.domains
            .get(&domain.to_ascii_lowercase())
            .copied()
            .unwrap_or(self.default)
    }

    /// The rustls client configuration for `mode`.
    pub(crate) fn client_config(&self, mode: OutboundMode) -> Result<Arc<ClientConfig>, String> {
        use mailwire::blocking::Verification;
        let verification = match (mode, &self.ca) {
            (OutboundMode::Opportunistic, _) => return client_config(),
            (_, None) => Verification::WebPki,
            (_, Some(ca)) => {
                Verification::ca_file(ca).map_err(|e| format!("{}: {e}", ca.display()))?
            }
        };
        if mode == OutboundMode::Testing {
            return testing_config(verification);
        }
        mailwire::blocking::tls::client_config(&verification).map_err(|e| e.to_string())
    }
}

/// The configuration for [`OutboundMode::Testing`]: the certificate
/// verified as for `require`, a failure logged and then accepted.
fn testing_config(
    verification: mailwire::blocking::Verification,
) -> Result<Arc<ClientConfig>, String> {
    use mailwire::blocking::Verification;
    let roots = match verification {
        Verification::CustomCa(certs) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs {
                roots.add(c).map_err(|e| e.to_string())?;
            }
            roots
        }
        _ => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let inner =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| e.to_string())?;
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(LogOnFailure(inner)))
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Verifies as the inner verifier does; a certificate that fails is
/// logged and accepted (MTA-STS `testing`), the handshake signatures are
/// still checked.
#[derive(Debug)]
struct LogOnFailure(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for LogOnFailure {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if let Err(e) = self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            crate::driver::log(format!(
                "mta-sts testing: certificate of {}: {e}; delivering anyway",
                server_name.to_str()
            ));
        }
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The client side configuration of the queue runner: any server
/// certificate is accepted (opportunistic TLS between MTAs, RFC 7435), the
/// handshake signatures still checked (the facade's blocking TLS setup).
pub(crate) fn client_config() -> Result<Arc<ClientConfig>, String> {
    mailwire::blocking::tls::client_config(&mailwire::blocking::Verification::InsecureAcceptAny)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_config_builds() {
        let (certs, key) = self_signed(&["localhost".into()]).unwrap();
        server_config(certs, key).unwrap();
        client_config().unwrap();
    }

    #[test]
    fn tls_policy_values() {
        let mut p = OutboundPolicy::default();
        assert_eq!(p.for_domain("a.test"), OutboundMode::Opportunistic);
        p.add("require").unwrap();
        p.add("Legacy.TEST=opportunistic").unwrap();
        assert_eq!(p.for_domain("a.test"), OutboundMode::Require);
        assert_eq!(p.for_domain("legacy.test"), OutboundMode::Opportunistic);
        for bad in ["", "always", "=require", "a.test=", "a.test=sometimes"] {
            assert!(p.add(bad).is_err(), "{bad:?}");
        }
        p.client_config(OutboundMode::Require).unwrap();
        p.client_config(OutboundMode::Testing).unwrap();
        p.ca = Some(PathBuf::from("/nonexistent/ca.pem"));
        assert!(p.client_config(OutboundMode::Require).is_err());
        assert!(p.client_config(OutboundMode::Testing).is_err());
    }

    /// A replacement serves the next handshake; a key that is not the
    /// certificate's (a renewal half written) is refused and the
    /// certificate in force stays.
    #[test]
    fn cert_slot_replaces_and_refuses_a_mismatch() {
        let (a_certs, a_key) = self_signed(&["a.test".into()]).unwrap();
        let (b_certs, b_key) = self_signed(&["b.test".into()]).unwrap();
        let (c_certs, _) = self_signed(&["c.test".into()]).unwrap();
        let slot = Arc::new(CertSlot::new(a_certs.clone(), a_key.clone_key()).unwrap());
        assert!(CertSlot::new(c_certs.clone(), a_key.clone_key()).is_err());
        let cfg = server_config_with(slot.clone()).unwrap();
        assert_eq!(served(&cfg), a_certs[0]);
        let err = slot.replace(c_certs, b_key.clone_key()).unwrap_err();
        assert!(err.contains("certificate and key"), "{err}");
        assert_eq!(slot.chain(), a_certs);
        assert_eq!(served(&cfg), a_certs[0]);
        slot.replace(b_certs.clone(), b_key).unwrap();
        assert_eq!(served(&cfg), b_certs[0]);
    }

    /// The certificate a client receives from a server with `cfg`, over an
    /// in-memory handshake.
    fn served(cfg: &Arc<ServerConfig>) -> CertificateDer<'static> {
        let client = client_config().unwrap();
        let mut c = rustls::ClientConnection::new(client, "a.test".try_into().unwrap()).unwrap();
        let mut s = rustls::ServerConnection::new(cfg.clone()).unwrap();
        for _ in 0..10 {
            let mut buf = Vec::new();
            c.write_tls(&mut buf).unwrap();
            s.read_tls(&mut &buf[..]).unwrap();
            s.process_new_packets().unwrap();
            let mut buf = Vec::new();
            s.write_tls(&mut buf).unwrap();
            c.read_tls(&mut &buf[..]).unwrap();
            c.process_new_packets().unwrap();
            if let Some(chain) = c.peer_certificates() {
                return chain[0].clone().into_owned();
            }
        }
        panic!("no certificate received");
    }

    #[test]
    fn pem_files_load() {
        let ck = rcgen::generate_simple_self_signed(vec!["mx.test".into()]).unwrap();
        let dir =
            std::env::temp_dir().join(format!("mailserver-tls-{}", crate::maildir::queue_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.pem"), ck.cert.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), ck.key_pair.serialize_pem()).unwrap();
        let (certs, key) = load_pem(&dir.join("c.pem"), &dir.join("k.pem")).unwrap();
        assert_eq!(certs.len(), 1);
        server_config(certs, key).unwrap();
        assert!(load_pem(&dir.join("k.pem"), &dir.join("k.pem")).is_err());
        assert!(load_pem(&dir.join("c.pem"), &dir.join("c.pem")).is_err());
        assert!(load_pem(&dir.join("none"), &dir.join("k.pem")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! TLS configuration with rustls: the server certificate (self-signed by
//! rcgen at start, or `--cert`/`--key` PEM files) and the client side used by
//! the queue runner for opportunistic STARTTLS (RFC 3207, RFC 7435: the peer
//! certificate is not verified, as MTAs do without DANE or MTA-STS).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};

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

/// The server side configuration.
pub(crate) fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, String> {
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate: {e}"))?;
    Ok(Arc::new(cfg))
}

/// Accepts any server certificate: opportunistic TLS between MTAs.
#[derive(Debug)]
struct Opportunistic(Arc<CryptoProvider>);

impl ServerCertVerifier for Opportunistic {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client side configuration of the queue runner.
pub(crate) fn client_config() -> Result<Arc<ClientConfig>, String> {
    let p = provider();
    let cfg = ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Opportunistic(p)))
        .with_no_client_auth();
    Ok(Arc::new(cfg))
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

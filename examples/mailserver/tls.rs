//! TLS configuration with rustls: the server certificate (self-signed by
//! rcgen at start, or `--cert`/`--key` PEM files) and the client side used by
//! the queue runner for opportunistic STARTTLS (RFC 3207, RFC 7435: the peer
//! certificate is not verified, as MTAs do without DANE or MTA-STS).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
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

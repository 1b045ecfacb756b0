//! HTTPS for the imitation: a certificate and key from PEM files, or a throwaway CA and a
//! leaf certificate made on the spot (rcgen), so that the path every real user takes
//! (handshake, verification, keep-alive over TLS, a CONNECT tunnel) can be exercised on
//! loopback.
//!
//! Constraint: the imitation's plain-HTTP path is untouched; TLS is a separate branch of
//! the accept loop, and a made-up CA's private key never leaves this process.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The names a generated certificate is valid for: what a client on this machine dials.
pub const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot make a throwaway certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("--tls-cert {}: {why}", path.display())]
    Cert { path: PathBuf, why: String },
    #[error("--tls-key {}: {why}", path.display())]
    Key { path: PathBuf, why: String },
    #[error("the certificate and key do not make a TLS server: {0}")]
    Config(#[from] rustls::Error),
}

/// How the imitation serves HTTPS: the server's TLS settings, and the PEM of the CA that
/// signed its certificate when the imitation made that CA itself.
#[derive(Clone)]
pub struct MockTls {
    config: Arc<ServerConfig>,
    ca_pem: Option<String>,
}

impl fmt::Debug for MockTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockTls")
            .field("generated_ca", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl MockTls {
    /// A throwaway CA and a certificate it signs for `localhost`, `127.0.0.1` and `::1`.
    pub fn generate() -> Result<MockTls, TlsSetupError> {
        MockTls::generate_for(&LOOPBACK_NAMES)
    }

    /// A throwaway CA and a certificate it signs for `names` (host names or IP addresses).
    /// Tests use other names to check that a client refuses a certificate for another host.
    pub fn generate_for(names: &[&str]) -> Result<MockTls, TlsSetupError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        // A name of its own: two throwaway CAs with one name would look like one CA
        // whose signature is wrong, not like an unknown one.
        ca_params.distinguished_name.push(
            DnType::CommonName,
            format!("blockade mock throwaway CA {:016x}", rand::random::<u64>()),
        );
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut leaf_params = CertificateParams::new(names)?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "blockade mock");
        leaf_params.use_authority_key_identifier_extension = true;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate()?;
        let leaf = leaf_params.signed_by(&leaf_key, &ca)?;

        let key = PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let chain = vec![leaf.der().clone(), ca.der().clone()];
        Ok(MockTls {
            config: server_config(chain, key)?,
            ca_pem: Some(ca.pem()),
        })
    }

    /// The certificate chain (leaf first) and private key of two PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<MockTls, TlsSetupError> {
        let cert_error = |why: String| TlsSetupError::Cert {
            path: cert.to_owned(),
            why,
        };
        let text = std::fs::read(cert).map_err(|e| cert_error(format!("cannot read it: {e}")))?;
        let chain = CertificateDer::pem_slice_iter(&text)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| cert_error(format!("not valid PEM: {e}")))?;
        if chain.is_empty() {
            return Err(cert_error(
                "no certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        let key_error = |why: String| TlsSetupError::Key {
            path: key.to_owned(),
            why,
        };
        let text = std::fs::read(key).map_err(|e| key_error(format!("cannot read it: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(&text).map_err(|e| {
            key_error(format!(
                "no private key in PEM form (PKCS#8, PKCS#1 or SEC1): {e}"
            ))
        })?;
        Ok(MockTls {
            config: server_config(chain, key)?,
            ca_pem: None,
        })
    }

    /// The PEM of the CA that signed the certificate, when [`MockTls::generate`] made it:
    /// what a client must trust (`--ca-cert`, `SSL_CERT_FILE`).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.config))
    }
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // The client speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ca_is_pem_and_differs_each_time() {
        let one = MockTls::generate().unwrap();
        let two = MockTls::generate().unwrap();
        let pem = one.ca_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        assert_ne!(one.ca_pem(), two.ca_pem());
        assert_eq!(CertificateDer::pem_slice_iter(pem.as_bytes()).count(), 1);
    }

    #[test]
    fn pem_files_that_are_missing_or_not_pem_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let missing = dir.path().join("missing.pem");
        let error = MockTls::from_pem_files(&missing, &junk).unwrap_err();
        assert!(error.to_string().contains("missing.pem"), "{error}");
        let error = MockTls::from_pem_files(&junk, &junk).unwrap_err();
        assert!(error.to_string().contains("no certificate"), "{error}");
    }
}

//! The benchmark's certificate (made with rcgen at bench time) and the pinning verifier of the
//! handshake client.

use anyhow::{Context, Result};
use rcgen::{CertificateParams, DnType, IsCa, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

/// Writes `dir/cert.pem` and `dir/key.pem` (mode 0600): a self-signed ECDSA P-256 certificate
/// for `localhost` and `127.0.0.1`, basicConstraints CA:FALSE.
pub fn write(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])?;
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.is_ca = IsCa::ExplicitNoCa;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = params.self_signed(&key)?;
    let key_path = dir.join("key.pem");
    let _ = std::fs::remove_file(&key_path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_path)
        .and_then(|mut f| f.write_all(key.serialize_pem().as_bytes()))
        .with_context(|| format!("write {}", key_path.display()))?;
    let cert_path = dir.join("cert.pem");
    std::fs::write(&cert_path, cert.pem())
        .with_context(|| format!("write {}", cert_path.display()))?;
    println!("wrote {} and {}", cert_path.display(), key_path.display());
    Ok(())
}

/// Accepts exactly one server certificate (compared byte for byte) and verifies the handshake
/// signatures with it.
#[derive(Debug)]
pub struct Pinned {
    cert: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl Pinned {
    /// A verifier that accepts only `cert`.
    pub fn new(cert: CertificateDer<'static>, provider: Arc<CryptoProvider>) -> Pinned {
        Pinned { cert, provider }
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match end_entity.as_ref() == self.cert.as_ref() {
            true => Ok(ServerCertVerified::assertion()),
            false => Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

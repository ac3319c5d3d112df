//! TLS for ioman-net connections (feature `tls`, on in the `ioman` facade): rustls under a
//! [`Connection`], so a [`Protocol`](crate::Protocol) runs unchanged over TCP, Unix sockets
//! or TLS — the same bytes in, the same flow control, the same timeouts.
//!
//! - **Servers**: build a `rustls::ServerConfig` (or load one from PEM files with
//!   [`server_config`]: session tickets on, ALPN as given) and serve with
//!   [`Listener::serve_tls`](crate::Listener::serve_tls), or wrap any accepted connection with
//!   [`Connection::tls`]. The handshake must finish within
//!   [`ConnConfig::handshake_timeout`](crate::ConnConfig::handshake_timeout).
//! - **Clients**: [`Connection::tls_client`] with a `rustls::ClientConfig` (see
//!   [`client_config`]) and the server's name, on a socket from [`connect`](crate::connect).
//! - **In a protocol**: [`ProtoContext::alpn_protocol`](crate::ProtoContext::alpn_protocol),
//!   [`ProtoContext::server_name`](crate::ProtoContext::server_name) (SNI) and
//!   [`ProtoContext::tls`](crate::ProtoContext::tls) for the rest of the session.
//! - **Failures** end the connection with
//!   [`CloseReason::Tls`](crate::CloseReason::Tls) (carrying the rustls error) or
//!   [`CloseReason::HandshakeTimeout`](crate::CloseReason::HandshakeTimeout); a clean close
//!   sends `close_notify`.
//!
//! What rustls holds per connection is bounded: plaintext is encrypted 64 KiB at a time and
//! only once the previous ciphertext left (the rest waits in the connection's outbox, under
//! its watermarks and cap).
//!
//! ```
//! use ioman::net::tls;
//! // A missing file is a clear error, naming the file.
//! let err = tls::server_config("/nonexistent/cert.pem".as_ref(), "/nonexistent/key.pem".as_ref(), &[])
//!     .unwrap_err();
//! assert!(err.to_string().contains("/nonexistent/cert.pem"));
//! ```

pub use rustls;

use crate::Connection;
use crate::transport::tls::TlsStream;
use crate::transport::{Layer, Transport};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a certificate, key or CA file could not be turned into a TLS configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid PEM (a broken section, bad base64).
    #[error("{path} is not valid PEM: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file holds no certificate (PEM `CERTIFICATE` section).
    #[error("{path} holds no certificate (PEM \"BEGIN CERTIFICATE\")")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The file holds no private key (PKCS#8, PKCS#1/RSA or SEC1/EC PEM).
    #[error("{path} holds no private key (PEM \"BEGIN PRIVATE KEY\", RSA or EC)")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the result: a key that does not match the certificate, a key type it
    /// does not support, a CA certificate it cannot parse.
    #[error("rustls refused the configuration: {0}")]
    Rejected(#[from] rustls::Error),
    /// A server name that is neither a DNS name nor an IP address.
    #[error("invalid server name {0:?}")]
    BadServerName(String),
}

/// The crypto provider ioman uses: *ring* (it builds with only Rust and a C compiler).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(path: &Path, e: pem::Error) -> TlsConfigError {
    match e {
        pem::Error::Io(source) => TlsConfigError::Read { path: path.into(), source },
        other => TlsConfigError::Pem { path: path.into(), reason: other.to_string() },
    }
}

/// Reads every certificate of a PEM file, in order (a chain: the server's first).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    match certs.is_empty() {
        true => Err(TlsConfigError::NoCertificate { path: path.into() }),
        false => Ok(certs),
    }
}

/// Reads the first private key of a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsConfigError::NoKey { path: path.into() },
        other => pem_error(path, other),
    })
}

/// A server configuration from a PEM certificate chain and key: TLS 1.2 and 1.3, no client
/// certificates, session resumption on (stateless tickets, plus rustls's in-memory session
/// cache), and `alpn` offered in order of preference (e.g. `&[b"h2", b"http/1.1"]`; empty:
/// no ALPN).
pub fn server_config(
    cert: &Path,
    key: &Path,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let certs = load_certs(cert)?;
    let key = load_key(key)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client configuration that trusts the certificates of the PEM file `ca` (a private CA,
/// or a self-signed server), offering `alpn`. Session resumption is on (rustls's default
/// client session cache).
pub fn client_config(ca: &Path, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots.add(cert)?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A server name for [`Connection::tls_client`] (SNI, and what the certificate must name):
/// a DNS name or an IP address.
pub fn server_name(name: &str) -> Result<ServerName<'static>, TlsConfigError> {
    ServerName::try_from(name.to_owned()).map_err(|_| TlsConfigError::BadServerName(name.into()))
}

impl<P> Connection<P> {
    /// This connection, served over TLS: the socket carries a TLS session whose server side
    /// is `config`; the protocol sees plaintext. Fails only if rustls refuses the
    /// configuration.
    pub fn tls(self, config: Arc<ServerConfig>) -> Result<Connection<P>, crate::NetError> {
        let session = rustls::ServerConnection::new(config)?;
        Ok(self.over(Transport::layered(Layer::Tls(TlsStream::new(session.into())))))
    }

    /// This connection, as the client side of a TLS session with `server_name` (SNI, and the
    /// name its certificate must carry). Typically on a
    /// [`connecting`](Connection::connecting) connection: the handshake starts once the
    /// TCP connect completed; what the protocol writes meanwhile waits for it.
    pub fn tls_client(
        self,
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
    ) -> Result<Connection<P>, crate::NetError> {
        let session = rustls::ClientConnection::new(config, server_name)?;
        Ok(self.over(Transport::layered(Layer::Tls(TlsStream::new(session.into())))))
    }
}

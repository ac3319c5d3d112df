//! TLS test helpers: certificates made at test time with rcgen (never committed keys), written
//! as PEM files to a fresh temporary directory; rustls client configurations that trust them;
//! a blocking TLS client. Include with `#[path = "support/tls.rs"] mod tls;`.
#![allow(dead_code)]

use ioman::net::tls;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, StreamOwned};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A self-signed certificate and its key, as PEM files.
pub struct Certs {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory under the system's temporary directory.
pub fn temp_dir(what: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ioman-{what}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A certificate for `names` (DNS names or IP addresses).
pub fn certs(names: &[&str]) -> Certs {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names).expect("rcgen");
    let dir = temp_dir("certs");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("write cert");
    std::fs::write(&key, made.key_pair.serialize_pem()).expect("write key");
    Certs { dir, cert, key }
}

/// A client configuration that trusts `certs`, offering `alpn`.
pub fn client_config(certs: &Certs, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    tls::client_config(&certs.cert, alpn).expect("client config")
}

/// A server configuration for `certs` (as the examples' `--tls-cert`/`--tls-key` make it),
/// offering `alpn`.
pub fn server_config(certs: &Certs, alpn: &[&[u8]]) -> Arc<ServerConfig> {
    tls::server_config(&certs.cert, &certs.key, alpn).expect("server config")
}

/// A blocking TLS client of `addr` (10 s safety timeouts), handshake not yet done.
pub fn client(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    name: &str,
) -> StreamOwned<ClientConnection, TcpStream> {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    tcp.set_write_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    let conn = ClientConnection::new(config.clone(), name).expect("client session");
    StreamOwned::new(conn, tcp)
}

/// Everything a (plaintext) client gets until the server closes, by end of stream or by a
/// reset: what a client that does not speak TLS gets from a TLS server (at most an alert).
#[track_caller]
pub fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("expected the server to close, got {e} after {got:?}"),
        }
    }
}

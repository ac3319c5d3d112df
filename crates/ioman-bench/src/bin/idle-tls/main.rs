//! `idle-tls`: the TLS side of `cargo xtask bench --only tls`, run by the harness pinned to
//! the client CPU like every other load generator. It holds what the harness (which has no
//! TLS library) cannot do itself:
//!
//! - `idle-tls cert --dir DIR`: a fresh self-signed ECDSA P-256 certificate for `localhost`
//!   and `127.0.0.1` (basicConstraints CA:FALSE), as `DIR/cert.pem` and `DIR/key.pem`, made
//!   with rcgen at bench time (never committed).
//! - `idle-tls get --addr ADDR --ca CERT --path P --size N`: one HTTPS `GET` per server name
//!   (`localhost`, then `127.0.0.1`), verifying the certificate and that the body has `N`
//!   bytes; prints what was negotiated as one JSON line.
//! - `idle-tls idle --addr ADDR --pid PID --conns N --path P --size N [--ca CERT]`: memory per
//!   idle connection. Opens one warm-up connection, reads the server's RSS, opens `N` more,
//!   each doing one full TLS handshake (no resumption) and one keep-alive `GET` (plain HTTP
//!   without `--ca`), reads the RSS again and prints the growth over `N`.
//! - `idle-tls handshakes --addr ADDR --ca CERT --conns C --secs S --path P --size N`:
//!   new connections per second with a full handshake each. Keeps `C` connections in flight;
//!   each connects, does a full TLS handshake (the client keeps no sessions, so it never
//!   resumes: wrk does, see the `tls` section), sends `GET P` with `Connection: close`, reads
//!   and checks the response, sends `close_notify` and closes; then the next one starts.
//!   Counted over `S` seconds; the connections in flight then finish, uncounted (a client
//!   that left mid-handshake would cost the server a handshake timeout). `--max M` ends the
//!   counted part after `M` connections.
//!
//! Every mode is bounded in time (socket timeouts, an overall deadline) and prints one JSON
//! line on success.
#![forbid(unsafe_code)]

mod cert;
mod handshakes;
mod http;
mod idle;

use anyhow::{Context, Result, bail, ensure};
use ioman_bench::cli::Flags;
use ioman_net::tls;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const USAGE: &str = "usage: idle-tls cert|get|idle|handshakes --flag value ... (see the source)";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().context(USAGE)?;
    let known: &[&str] = match mode.as_str() {
        "cert" => &["dir"],
        "get" => &["addr", "ca", "path", "size"],
        "idle" => &["addr", "pid", "conns", "path", "size", "ca"],
        "handshakes" => &["addr", "ca", "conns", "secs", "path", "size", "max"],
        _ => bail!("unknown mode {mode:?}\n{USAGE}"),
    };
    let flags = Flags::parse(args, known)?;
    if mode == "cert" {
        let dir: PathBuf = flags.get("dir", PathBuf::new())?;
        ensure!(!dir.as_os_str().is_empty(), "--dir is required");
        return cert::write(&dir);
    }
    let addr: SocketAddr = flags.get("addr", SocketAddr::from(([127, 0, 0, 1], 0)))?;
    ensure!(addr.ip().is_loopback() && addr.port() != 0, "--addr must be a loopback address");
    let path: String = flags.get("path", "/".to_owned())?;
    let size: usize = flags.get("size", 0)?;
    let ca: PathBuf = flags.get("ca", PathBuf::new())?;
    let ca = (!ca.as_os_str().is_empty()).then_some(ca);
    let request = |close: bool| http::request(&path, close);
    match mode.as_str() {
        "get" => {
            let ca = ca.context("--ca is required")?;
            let line = http::get_checked(addr, &client_config(&ca)?, &request(true), size)?;
            println!("{line}");
        }
        "idle" => {
            let pid: u32 = flags.get("pid", 0)?;
            ensure!(pid != 0, "--pid is required");
            let conns: usize = flags.get("conns", 1000)?;
            let config = ca.as_deref().map(client_config).transpose()?;
            let line = idle::measure(addr, pid, conns, config, &request(false), size)?;
            println!("{line}");
        }
        _ => {
            let ca = ca.context("--ca is required")?;
            let spec = handshakes::Spec {
                addr,
                conns: flags.get("conns", 50)?,
                secs: flags.get("secs", 5.0)?,
                max: flags.get("max", 10_000_000)?,
                request: request(true),
                size,
            };
            let line = handshakes::run(&spec, pinned_config(&ca)?)?;
            println!("{line}");
        }
    }
    Ok(())
}

/// A client that trusts `ca` (ioman's own [`tls::client_config`]: full WebPKI verification),
/// offers ALPN `http/1.1` and keeps no sessions: every connection does a full handshake.
fn client_config(ca: &Path) -> Result<Arc<ClientConfig>> {
    let mut config = (*tls::client_config(ca, &[b"http/1.1"])?).clone();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Like [`client_config`], but the server's certificate is checked by comparing it with `ca`
/// byte for byte (a pin) instead of WebPKI path building; the handshake signature is still
/// verified. This keeps the one client CPU of the handshake figure spending its time on what
/// every TLS client must do. No ALPN, like wrk.
fn pinned_config(ca: &Path) -> Result<Arc<ClientConfig>> {
    let pin = tls::load_certs(ca)?.swap_remove(0);
    let verifier = Arc::new(cert::Pinned::new(pin, tls::provider()));
    let mut config = ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// A client session for `name`.
fn session(config: &Arc<ClientConfig>, name: &str) -> Result<ClientConnection> {
    let name = ServerName::try_from(name.to_owned()).context("server name")?;
    Ok(ClientConnection::new(config.clone(), name)?)
}

/// What a session negotiated, as JSON members (without braces).
fn negotiated(tls: &ClientConnection) -> String {
    let version = tls.protocol_version().map(|v| format!("{v:?}"));
    let suite = tls.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite()));
    let kx = tls.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name()));
    let alpn = tls.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
    let kind = tls.handshake_kind().map(|k| format!("{k:?}"));
    let s = |v: Option<String>| v.map_or("null".into(), |v| quote(&v));
    format!(
        "\"protocol\":{},\"suite\":{},\"kx\":{},\"alpn\":{},\"handshake\":{}",
        s(version),
        s(suite),
        s(kx),
        s(alpn),
        s(kind)
    )
}

/// `s` as a JSON string the harness's flat parser reads: quotes and backslashes escaped,
/// control characters replaced by spaces.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoted_strings() {
        assert_eq!(quote("TLSv1_3"), "\"TLSv1_3\"");
        assert_eq!(quote("a \"b\" \\ c\nd"), "\"a \\\"b\\\" \\\\ c d\"");
    }
}

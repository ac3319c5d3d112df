//! The `idle` mode: the server's resident memory per idle connection, each connection having
//! done one full TLS handshake (or none, without `--ca`) and one keep-alive request.

use super::http::{self, IO_TIMEOUT};
use anyhow::{Context, Result, ensure};
use ioman_bench::record::rss_bytes;
use rustls::{ClientConfig, StreamOwned};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One open connection, kept until the measurement is over.
enum Conn {
    /// The handshake is done and one request was answered.
    Tls(Box<StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// One request was answered.
    Plain(TcpStream),
}

impl Conn {
    /// Closes politely: `close_notify` first on TLS.
    fn close(self) {
        let tcp = match self {
            Conn::Tls(mut s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
                s.sock
            }
            Conn::Plain(tcp) => tcp,
        };
        let _ = tcp.shutdown(std::net::Shutdown::Both);
    }
}

/// Opens a connection and does one exchange on it.
fn open(
    addr: SocketAddr,
    config: Option<&Arc<ClientConfig>>,
    request: &[u8],
    size: usize,
) -> Result<Conn> {
    let mut tcp = http::connect(addr)?;
    let Some(config) = config else {
        tcp.write_all(request)?;
        http::read_response(&mut tcp, size)?;
        return Ok(Conn::Plain(tcp));
    };
    let mut s = StreamOwned::new(super::session(config, "localhost")?, tcp);
    s.write_all(request)?;
    s.flush()?;
    http::read_response(&mut s, size)?;
    ensure!(!s.conn.is_handshaking(), "handshake not finished after a response");
    Ok(Conn::Tls(Box::new(s)))
}

/// Measures; returns the JSON line.
pub fn measure(
    addr: SocketAddr,
    pid: u32,
    conns: usize,
    config: Option<Arc<ClientConfig>>,
    request: &[u8],
    size: usize,
) -> Result<String> {
    let pid = pid.to_string();
    let deadline = Instant::now() + IO_TIMEOUT * 12;
    // One connection first, so lazily built per-process state does not count per connection.
    let warm = open(addr, config.as_ref(), request, size).context("warm-up connection")?;
    let negotiated = match &warm {
        Conn::Tls(s) => super::negotiated(&s.conn),
        Conn::Plain(_) => "\"protocol\":null".into(),
    };
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_bytes(&pid)?;
    let mut open_conns = Vec::with_capacity(conns);
    for i in 0..conns {
        ensure!(Instant::now() < deadline, "only {i} connections within {:?}", IO_TIMEOUT * 12);
        let c = open(addr, config.as_ref(), request, size).with_context(|| format!("conn {i}"))?;
        open_conns.push(c);
    }
    std::thread::sleep(Duration::from_millis(500)); // let the server settle before reading
    let after = rss_bytes(&pid)?;
    let per_conn = after.saturating_sub(before) as f64 / conns as f64;
    open_conns.into_iter().chain([warm]).for_each(Conn::close);
    Ok(format!(
        "{{\"conns\":{conns},\"rss_before\":{before},\"rss_after\":{after},\
         \"per_conn\":{per_conn:.1},{negotiated}}}"
    ))
}

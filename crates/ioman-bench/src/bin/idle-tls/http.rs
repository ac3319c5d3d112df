//! The one HTTP exchange every mode does: `GET PATH`, answered `200` with a body of the
//! expected size (by `Content-Length`), and the checked `get` mode.

use anyhow::{Context, Result, ensure};
use rustls::{ClientConfig, StreamOwned};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Every blocking socket operation gives up after this long.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET path`, keep-alive or `Connection: close`.
pub fn request(path: &str, close: bool) -> Vec<u8> {
    let connection = if close { "close" } else { "keep-alive" };
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\r\n")
        .into_bytes()
}

/// Whether `got` holds one whole response: `None` while more is needed, else its length. An
/// error for anything but `200` with a `Content-Length` of `size`.
pub fn complete(got: &[u8], size: usize) -> Result<Option<usize>> {
    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
        ensure!(got.len() < 16 * 1024, "no end of the response head in {} bytes", got.len());
        return Ok(None);
    };
    let head = std::str::from_utf8(&got[..end]).context("response head is not UTF-8")?;
    let status = head.lines().next().unwrap_or_default();
    ensure!(status.starts_with("HTTP/1.1 200"), "got {status:?}");
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse::<usize>())
        .context("no Content-Length")?
        .context("bad Content-Length")?;
    ensure!(length == size, "body of {length} bytes, expected {size}");
    let total = end + 4 + length;
    Ok((got.len() >= total).then_some(total))
}

/// Reads one whole response from a blocking stream; the body is counted, not kept.
pub fn read_response(s: &mut impl Read, size: usize) -> Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut body_left: Option<usize> = None; // known once the head is in
    loop {
        let n = s.read(&mut buf).context("reading the response")?;
        ensure!(n > 0, "closed before the response ended");
        match &mut body_left {
            Some(left) => {
                ensure!(n <= *left, "{} bytes after the response", n - *left);
                *left -= n;
            }
            None => {
                head.extend_from_slice(&buf[..n]);
                match head.windows(4).position(|w| w == b"\r\n\r\n") {
                    Some(end) => {
                        complete(&head[..end + 4], size)?; // status and length
                        let body_in = head.len() - end - 4;
                        ensure!(body_in <= size, "{} bytes after the response", body_in - size);
                        body_left = Some(size - body_in);
                    }
                    None => {
                        complete(&head, size)?; // fails on an overlong head
                    }
                }
            }
        }
        if body_left == Some(0) {
            return Ok(());
        }
    }
}

/// A TCP connection with the blocking timeouts set.
pub fn connect(addr: SocketAddr) -> Result<TcpStream> {
    let tcp = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// The `get` mode: one checked exchange per server name, verifying the certificate for each;
/// returns what the first negotiated, as a JSON line.
pub fn get_checked(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    request: &[u8],
    size: usize,
) -> Result<String> {
    let mut first = None;
    for name in ["localhost", "127.0.0.1"] {
        let tls = super::session(config, name)?;
        let mut s = StreamOwned::new(tls, connect(addr)?);
        let exchange = s.write_all(request).map_err(anyhow::Error::from).and_then(|()| {
            s.flush()?;
            read_response(&mut s, size)
        });
        exchange.with_context(|| format!("GET over TLS with server name {name}"))?;
        first.get_or_insert_with(|| super::negotiated(&s.conn));
        s.conn.send_close_notify();
        let _ = s.flush();
    }
    Ok(format!("{{{},\"names\":2}}", first.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::complete;

    #[test]
    fn responses() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(complete(ok, 3).unwrap(), Some(ok.len()));
        assert_eq!(complete(&ok[..ok.len() - 1], 3).unwrap(), None);
        assert_eq!(complete(b"HTTP/1.1 200 OK\r\n", 3).unwrap(), None);
        assert!(complete(ok, 4).is_err());
        assert!(complete(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc", 3).is_err());
        assert!(complete(b"HTTP/1.1 200 OK\r\n\r\n", 0).is_err());
    }
}

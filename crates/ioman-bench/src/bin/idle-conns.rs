//! `idle-conns`: user-space memory per idle connection. Each echo server (ioman's `echo`
//! example, and the `echo-raw`, `echo-mio`, `echo-tokio` peers) is started in turn; this
//! process opens N connections to it (19,000 by default, 2,000 with `--quick`; the open-file
//! limit here is 20,000 per process), echoes one small message on each so every connection has
//! been used once, and then reads the server's RSS growth over N. Kernel socket buffers are not
//! in RSS: the figure is what the server's own code keeps per connection.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, bail};
use ioman_bench::record::{Record, quick_flag, rss_bytes};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server process that is killed when dropped, whatever happened.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin --listen 127.0.0.1:0` and waits for its `listening on ADDR` line.
fn start(bin: &Path) -> Result<(Server, String)> {
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("server stdout")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line.trim().rsplit(' ').next().unwrap_or_default().to_owned();
    if !line.contains("listening on") || !addr.starts_with("127.0.0.1:") {
        bail!("{}: unexpected first line {line:?}", bin.display());
    }
    Ok((server, addr))
}

/// Bytes of server RSS per connection, with `n` connections each used once.
fn measure(bin: &Path, n: usize) -> Result<f64> {
    let (server, addr) = start(bin)?;
    let pid = server.0.id().to_string();
    // One connection first, so lazily built per-loop state does not count per connection.
    let mut warm = TcpStream::connect(&addr)?;
    echo_once(&mut warm)?;
    std::thread::sleep(Duration::from_millis(100));
    let before = rss_bytes(&pid)?;
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let mut c = TcpStream::connect(&addr).with_context(|| format!("connection {i}"))?;
        echo_once(&mut c)?;
        conns.push(c);
    }
    std::thread::sleep(Duration::from_millis(200)); // let the server settle before reading
    let after = rss_bytes(&pid)?;
    drop(conns);
    Ok(after.saturating_sub(before) as f64 / n as f64)
}

/// Sends 16 bytes and reads them back (bounded by a read timeout).
fn echo_once(c: &mut TcpStream) -> Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    let msg = *b"idle-conns probe";
    c.write_all(&msg)?;
    let mut back = [0u8; 16];
    c.read_exact(&mut back)?;
    anyhow::ensure!(back == msg, "echo mismatch");
    Ok(())
}

fn main() -> Result<()> {
    let n = if quick_flag()? { 2_000 } else { 19_000 };
    let dir: PathBuf = std::env::current_exe()?.parent().context("exe dir")?.to_path_buf();
    let ioman = dir.join("examples").join("echo");
    anyhow::ensure!(ioman.exists(), "{} is not built", ioman.display());
    println!("idle connections: {n} per server, one 16-byte echo each");
    let ours = measure(&ioman, n)?;
    for peer in ["echo-raw", "echo-mio", "echo-tokio"] {
        let theirs = measure(&dir.join(peer), n)?;
        let record = Record {
            name: format!("idle connection memory ({n} conns)"),
            ioman: ours,
            peer: theirs,
            peer_name: peer.into(),
            unit: "bytes/conn",
            lower_is_better: true,
            runs: 1,
        };
        println!("{}", record.to_json());
    }
    Ok(())
}

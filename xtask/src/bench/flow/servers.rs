//! The four servers of the flow-control figures and what they need: httpd and nginx (with
//! `sendfile on`, as Debian ships it) serving the same files from `target/bench/www-flow`, kv
//! and redis-server (no persistence) holding one 10 MiB value; starting each fresh on a free
//! loopback port, preparing it (one checked request, or the SET) and checking afterwards that
//! it still answers. Kept apart from `flow.rs` so the figures there read as a table.

use crate::bench::Ctx;
use crate::bench::proc::{self, SERVER_CPU, Server};
use anyhow::{Context, Result, bail, ensure};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The file the HTTP attacks ask for.
pub const BIG_FILE: &str = "big.bin";
/// Its size: large enough that one response never fits in socket buffers.
pub const BIG_SIZE: usize = 64 << 20;
/// The file of the throughput figure.
pub const LARGE_FILE: &str = "large.bin";
/// Its size.
pub const LARGE_SIZE: usize = 16 << 20;
/// The small file of the before/after checks.
pub const SMALL_FILE: &str = "small.txt";
/// The key the RESP attacks ask for.
pub const BIG_KEY: &str = "big";
/// Its value's size.
pub const VALUE_SIZE: usize = 10 << 20;

/// Which protocol a server speaks, so the right preparation and checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// HTTP/1.1: httpd and nginx.
    Http,
    /// RESP2: kv and redis-server.
    Resp,
}

/// One server program.
#[derive(Debug, Clone)]
pub enum Program {
    /// ioman's `httpd` example.
    Httpd(PathBuf),
    /// nginx, one process, `sendfile on`.
    Nginx(PathBuf),
    /// ioman's `kv` example.
    Kv(PathBuf),
    /// redis-server, persistence off.
    Redis(PathBuf),
}

impl Program {
    /// The name in messages and records.
    pub fn name(&self) -> &'static str {
        match self {
            Program::Httpd(_) => "ioman httpd",
            Program::Nginx(_) => "nginx",
            Program::Kv(_) => "ioman kv",
            Program::Redis(_) => "redis-server",
        }
    }

    /// Whether this is ioman's side of its comparison.
    pub fn is_ioman(&self) -> bool {
        matches!(self, Program::Httpd(_) | Program::Kv(_))
    }

    /// The protocol it speaks.
    pub fn kind(&self) -> Kind {
        match self {
            Program::Httpd(_) | Program::Nginx(_) => Kind::Http,
            Program::Kv(_) | Program::Redis(_) => Kind::Resp,
        }
    }

    /// Starts a fresh process, pinned to the server CPU, serving `www` (HTTP) and logging to
    /// `target/bench/logs/flow-NAME.log`.
    pub fn start(&self, ctx: &Ctx, www: &Path) -> Result<Server> {
        let port = proc::free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let (cmd, log) = match self {
            Program::Httpd(bin) => {
                let mut cmd = proc::command(ctx.pin, SERVER_CPU, bin);
                cmd.args(["--listen", &listen]).arg("--root").arg(www);
                (cmd, "flow-httpd")
            }
            Program::Nginx(bin) => (nginx_command(ctx, bin, port, www)?, "flow-nginx"),
            Program::Kv(bin) => {
                let mut cmd = proc::command(ctx.pin, SERVER_CPU, bin);
                cmd.args(["--listen", &listen]);
                (cmd, "flow-kv")
            }
            Program::Redis(bin) => {
                let dir = ctx.out.join("redis");
                std::fs::create_dir_all(&dir)?;
                let mut cmd = proc::command(ctx.pin, SERVER_CPU, bin);
                cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
                    .args(["--appendonly", "no", "--daemonize", "no", "--dir"])
                    .arg(&dir);
                (cmd, "flow-redis-server")
            }
        };
        Server::start(self.name(), cmd, port, &ctx.log(log))
    }
}

/// Writes the served files under `target/bench/www-flow` (kept when already the right size)
/// and returns that directory.
pub fn files(ctx: &Ctx) -> Result<PathBuf> {
    let www = ctx.out.join("www-flow");
    std::fs::create_dir_all(&www).context("create target/bench/www-flow")?;
    for (name, size) in [(BIG_FILE, BIG_SIZE), (LARGE_FILE, LARGE_SIZE), (SMALL_FILE, 512)] {
        let path = www.join(name);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == size as u64) {
            continue;
        }
        std::fs::write(&path, pattern(size))
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(www)
}

/// `size` bytes of printable, non-repeating-looking content.
pub fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| if i % 64 == 63 { b'\n' } else { b'a' + (i % 61 % 26) as u8 }).collect()
}

/// nginx's config for these figures: one process, `sendfile on` and `tcp_nopush on` (as in
/// Debian's stock `nginx.conf`), access log off; written to `target/bench/nginx/flow.conf`.
fn nginx_command(ctx: &Ctx, nginx: &Path, port: u16, www: &Path) -> Result<std::process::Command> {
    let dir = ctx.out.join("nginx");
    std::fs::create_dir_all(dir.join("tmp")).context("create target/bench/nginx")?;
    let d = dir.display();
    let conf = format!(
        "# Written by `cargo xtask bench --only flow`; rewritten on every run.\n\
         daemon off;\n\
         master_process off;\n\
         worker_processes 1;\n\
         pid {d}/flow.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   default_type application/octet-stream;\n\
         \x20   sendfile on;\n\
         \x20   tcp_nopush on;\n\
         \x20   keepalive_requests 1000000;\n\
         \x20   client_body_temp_path {d}/tmp;\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{port};\n\
         \x20       root {www};\n\
         \x20   }}\n\
         }}\n",
        www = www.display(),
    );
    let path = dir.join("flow.conf");
    std::fs::write(&path, conf).context("write target/bench/nginx/flow.conf")?;
    let mut cmd = proc::command(ctx.pin, SERVER_CPU, nginx);
    cmd.arg("-p").arg(&dir).arg("-c").arg(&path).arg("-e").arg(dir.join("error.log"));
    Ok(cmd)
}

/// Gets a fresh server ready for an attack: HTTP answers the small file; RESP stores the
/// 10 MiB value under [`BIG_KEY`] and answers PING.
pub fn prepare(kind: Kind, addr: SocketAddr) -> Result<()> {
    match kind {
        Kind::Http => {
            http_get(addr, &format!("/{SMALL_FILE}"), 512).map(drop).context("GET /small.txt")
        }
        Kind::Resp => {
            let mut set =
                format!("*3\r\n$3\r\nSET\r\n${}\r\n{BIG_KEY}\r\n${VALUE_SIZE}\r\n", BIG_KEY.len())
                    .into_bytes();
            set.extend_from_slice(&pattern(VALUE_SIZE));
            set.extend_from_slice(b"\r\n");
            resp_exchange(addr, &set, b"+OK\r\n").context("SET of the 10 MiB value")?;
            alive(kind, addr)
        }
    }
}

/// Whether the server still answers a small request correctly.
pub fn alive(kind: Kind, addr: SocketAddr) -> Result<()> {
    match kind {
        Kind::Http => http_get(addr, &format!("/{SMALL_FILE}"), 512).map(drop),
        Kind::Resp => resp_exchange(addr, b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"),
    }
}

/// Sends `request` and insists on exactly `reply` (within 10 s).
fn resp_exchange(addr: SocketAddr, request: &[u8], reply: &[u8]) -> Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    s.write_all(request)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < reply.len() && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
    }
    ensure!(got == reply, "expected {:?}, got {:?}", as_text(reply), as_text(&got));
    Ok(())
}

fn as_text(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(80)]).into_owned()
}

/// One `GET path` with `Connection: close`, read to the end (within 20 s): it must answer 200
/// with a body of exactly `size` bytes. Returns how long it took.
pub fn http_get(addr: SocketAddr, path: &str, size: usize) -> Result<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let deadline = start + Duration::from_secs(20);
    let mut got = Vec::with_capacity(size + 512);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        if Instant::now() > deadline {
            bail!("GET {path}: no end of response within 20 s ({} bytes)", got.len());
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").context("no response head")?;
    let head = String::from_utf8_lossy(&got[..head_end]);
    ensure!(head.starts_with("HTTP/1.1 200"), "GET {path}: got {:?}", head.lines().next());
    let body = got.len() - head_end - 4;
    ensure!(body == size, "GET {path}: body of {body} bytes, expected {size}");
    Ok(start.elapsed())
}

//! The two servers of the TLS figures and what they share: the certificate, the served files,
//! starting each on a free loopback port (HTTPS, or plain HTTP for the reference figure) and the
//! checked `GET` through `idle-tls get`.

use crate::bench::proc::{self, CLIENT_CPU, SERVER_CPU, Server};
use crate::bench::{Ctx, nginx};
use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The small file: the http section's 512 bytes.
pub const SMALL_FILE: &str = "small.txt";
/// Its size.
pub const SMALL_SIZE: usize = 512;
/// The file of the bulk figure.
pub const BIG_FILE: &str = "big.bin";
/// Its size.
pub const BIG_SIZE: usize = 256 << 20;
/// Seconds a keep-alive connection may idle on both servers: the idle figure holds
/// thousands of them while it measures.
const IDLE_SECS: u32 = 600;

/// What every figure needs: the `idle-tls` binary, the certificate and the served files.
pub struct Setup {
    /// `target/release/idle-tls`.
    pub tool: PathBuf,
    /// The certificate (PEM), also the client's trust anchor.
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// `target/bench/www-tls`.
    pub www: PathBuf,
    /// A wrk script that resolves the address without wrk's probe connection (see
    /// [`NO_PROBE`]).
    pub wrk_script: PathBuf,
}

/// wrk's own `wrk.resolve` tests each address by opening a TCP connection and closing it at
/// once, before the run: a connection closed before its TLS handshake, which is no part of
/// the load (before ioman-net's commit "a TLS client gone mid-handshake is closed at once",
/// it also spun httpd's loop for the first 10 s of every run). This script resolves without
/// it; it defines no per-request function, so wrk still sends its one pre-built request
/// without running Lua per request.
const NO_PROBE: &str = "-- Written by `cargo xtask bench --only tls`: no probe connection.\n\
                        function wrk.resolve(host, service)\n\
                        \x20  wrk.addrs = wrk.lookup(host, service)\n\
                        end\n";

impl Setup {
    /// Makes a fresh certificate under `target/bench/tls` and the served files (kept when
    /// already the right size).
    pub fn new(ctx: &Ctx, tool: &Path) -> Result<Setup> {
        let dir = ctx.out.join("tls");
        let mut cmd = proc::command(false, CLIENT_CPU, tool);
        cmd.arg("cert").arg("--dir").arg(&dir);
        let out = proc::run_bounded(cmd, Duration::from_secs(30))?;
        ensure!(
            out.status.success(),
            "idle-tls cert failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let www = ctx.out.join("www-tls");
        std::fs::create_dir_all(&www).context("create target/bench/www-tls")?;
        for (name, size) in [(SMALL_FILE, SMALL_SIZE), (BIG_FILE, BIG_SIZE)] {
            let path = www.join(name);
            if std::fs::metadata(&path).is_ok_and(|m| m.len() == size as u64) {
                continue;
            }
            // The http section's content: `a`s, a newline every 64 bytes.
            let body: Vec<u8> =
                (0..size).map(|i| if i % 64 == 63 { b'\n' } else { b'a' }).collect();
            std::fs::write(&path, body).with_context(|| format!("write {}", path.display()))?;
        }
        let wrk_script = dir.join("no-probe.lua");
        std::fs::write(&wrk_script, NO_PROBE)
            .with_context(|| format!("write {}", wrk_script.display()))?;
        Ok(Setup {
            tool: tool.to_owned(),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            www,
            wrk_script,
        })
    }

    /// `idle-tls MODE ARGS` pinned to the client CPU, run to completion within `limit`; its
    /// last stdout line (JSON).
    pub fn client(&self, ctx: &Ctx, args: &[&str], limit: Duration) -> Result<String> {
        let mut cmd = proc::command(ctx.pin, CLIENT_CPU, &self.tool);
        cmd.args(args);
        let out = proc::run_bounded(cmd, limit)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success(),
            "idle-tls {} failed ({}): {}",
            args.first().copied().unwrap_or_default(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let last = stdout.lines().rev().find(|l| l.starts_with('{'));
        Ok(last.context("idle-tls printed no JSON line")?.to_owned())
    }

    /// One checked HTTPS `GET path` per certificate name: status 200, `size` body bytes, the
    /// certificate verified. Returns the JSON line describing what was negotiated.
    pub fn check(&self, ctx: &Ctx, server: &Server, path: &str, size: usize) -> Result<String> {
        let addr = server.addr.to_string();
        let cert = self.cert.to_string_lossy();
        let size = size.to_string();
        let args = ["get", "--addr", &addr, "--ca", &cert, "--path", path, "--size", &size];
        self.client(ctx, &args, Duration::from_secs(60))
            .with_context(|| format!("{}: checked GET {path}", server.name))
    }
}

/// One side of the comparison.
#[derive(Debug, Clone)]
pub enum Side {
    /// ioman's `httpd` example, one loop.
    Httpd(PathBuf),
    /// nginx, one process.
    Nginx(PathBuf),
}

impl Side {
    /// The name in messages and records.
    pub fn name(&self) -> &'static str {
        match self {
            Side::Httpd(_) => "ioman httpd",
            Side::Nginx(_) => "nginx",
        }
    }

    /// Whether this is ioman's side.
    pub fn is_ioman(&self) -> bool {
        matches!(self, Side::Httpd(_))
    }

    /// Starts a fresh server pinned to the server CPU, serving `www-tls` over HTTPS (`tls`)
    /// or plain HTTP, keeping idle connections for 10 minutes. `tls_log`: nginx also logs each
    /// request's TLS parameters there (ignored for httpd).
    pub fn start(
        &self,
        ctx: &Ctx,
        setup: &Setup,
        tls: bool,
        tls_log: Option<&Path>,
    ) -> Result<Server> {
        let port = proc::free_port()?;
        let kind = if tls { "https" } else { "http" };
        let (cmd, log) = match self {
            Side::Httpd(bin) => {
                let mut cmd = proc::command(ctx.pin, SERVER_CPU, bin);
                cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
                cmd.arg("--root").arg(&setup.www);
                cmd.args(["--idle-timeout", &IDLE_SECS.to_string()]);
                if tls {
                    cmd.arg("--tls-cert").arg(&setup.cert).arg("--tls-key").arg(&setup.key);
                }
                (cmd, format!("tls-httpd-{kind}"))
            }
            Side::Nginx(bin) => {
                let ssl = nginx::Ssl { cert: &setup.cert, key: &setup.key };
                let log = if tls_log.is_some() { "-log" } else { "" };
                let name = format!("tls-nginx-{kind}{log}");
                let settings = nginx::TlsSettings {
                    name: &name,
                    ssl: tls.then_some(&ssl),
                    keepalive_secs: IDLE_SECS,
                    tls_log,
                };
                let cmd = nginx::tls_command(ctx, bin, port, &setup.www, &settings)?;
                (cmd, name)
            }
        };
        Server::start(self.name(), cmd, port, &ctx.log(&log))
    }
}

/// Waits until `server` is idle: under 5% of a CPU over 200 ms (schedstat), at most `limit`.
/// Returns how long that took, or `None` if it was still busy at the limit (or its CPU time
/// cannot be read, then at once).
///
/// Why: both servers share the server CPU, so one still busy after its run (closing
/// connections, timing out handshakes its client abandoned) would slow the other's run down.
/// Before ioman-net's commit "a TLS client gone mid-handshake is closed at once", httpd spun
/// on every such connection until the 10 s handshake timeout; the harness notes any wait over
/// a second, so such a regression shows.
pub fn settle(server: &Server, limit: Duration) -> Option<Duration> {
    const WINDOW: Duration = Duration::from_millis(200);
    let start = Instant::now();
    loop {
        let before = server.cpu()?;
        std::thread::sleep(WINDOW);
        let used = server.cpu()?.saturating_sub(before);
        if used < WINDOW / 20 {
            return Some(start.elapsed().saturating_sub(WINDOW));
        }
        if start.elapsed() > limit {
            return None;
        }
    }
}

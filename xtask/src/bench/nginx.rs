//! The nginx peer for the HTTP comparison: a throwaway `nginx.conf` under `target/bench/nginx`
//! (foreground, 127.0.0.1 only, access log off, error log and pid file kept in that folder,
//! a fixed `return 200` location and a small static root) and the command that runs it; and
//! [`tls_command`], the same for the `tls` section (HTTPS, or plain HTTP for its reference).

use super::Ctx;
use super::proc::{self, SERVER_CPU};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;

/// The fixed response location, nginx's closest match to ioman's embedded welcome page.
pub const FIXED: &str = "/fixed";

/// Writes the config for `workers` workers (1: no master process at all) and returns the
/// command that starts nginx with it, pinned to `cpus`.
pub fn command(ctx: &Ctx, nginx: &Path, port: u16, www: &Path, workers: usize) -> Result<Command> {
    let dir = ctx.out.join("nginx");
    std::fs::create_dir_all(dir.join("tmp")).context("create target/bench/nginx")?;
    let d = dir.display();
    let master = if workers > 1 { "on" } else { "off" };
    let conf = format!(
        "# Written by `cargo xtask bench`; rewritten on every run.\n\
         daemon off;\n\
         master_process {master};\n\
         worker_processes {workers};\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   default_type text/plain;\n\
         \x20   keepalive_requests 1000000;\n\
         \x20   client_body_temp_path {d}/tmp;\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{port};\n\
         \x20       root {www};\n\
         \x20       location = {FIXED} {{ return 200 \"hello\\n\"; }}\n\
         \x20   }}\n\
         }}\n",
        www = www.display(),
    );
    let path = dir.join(format!("nginx-{workers}.conf"));
    std::fs::write(&path, conf).context("write nginx.conf")?;
    let cpus = if workers > 1 { "0,1" } else { SERVER_CPU };
    let mut cmd = proc::command(ctx.pin, cpus, nginx);
    cmd.arg("-p").arg(&dir).arg("-c").arg(&path).arg("-e").arg(dir.join("error.log"));
    Ok(cmd)
}

/// A certificate and its private key (PEM), for an `ssl` listener.
pub struct Ssl<'a> {
    /// The certificate chain.
    pub cert: &'a Path,
    /// Its key.
    pub key: &'a Path,
}

/// How [`tls_command`] configures nginx.
pub struct TlsSettings<'a> {
    /// Names the files: `target/bench/nginx/NAME.conf` and `NAME.pid`.
    pub name: &'a str,
    /// Listen with `ssl` and this certificate, `ssl_protocols TLSv1.2 TLSv1.3` and
    /// `ssl_session_tickets on` (the rest nginx's defaults: `ssl_buffer_size 16k`, no shared
    /// session cache, no kTLS); `None`: plain HTTP.
    pub ssl: Option<&'a Ssl<'a>>,
    /// `keepalive_timeout`, in seconds.
    pub keepalive_secs: u32,
    /// Log each request's TLS version, cipher, curve and `$ssl_session_reused` (`r` or `.`) to
    /// this file, one line each; `None`: no access log.
    pub tls_log: Option<&'a Path>,
}

/// The config of the `tls` section, in the style of [`command`]'s: one process (no master),
/// pinned to the server CPU, room for 8,192 connections (the idle-memory figure holds
/// thousands), serving `www`.
pub fn tls_command(
    ctx: &Ctx,
    nginx: &Path,
    port: u16,
    www: &Path,
    settings: &TlsSettings<'_>,
) -> Result<Command> {
    let dir = ctx.out.join("nginx");
    std::fs::create_dir_all(dir.join("tmp")).context("create target/bench/nginx")?;
    let d = dir.display();
    let name = settings.name;
    let (listen, ssl) = match settings.ssl {
        Some(s) => (
            " ssl",
            format!(
                "\x20       ssl_certificate {};\n\
                 \x20       ssl_certificate_key {};\n\
                 \x20       ssl_protocols TLSv1.2 TLSv1.3;\n\
                 \x20       ssl_session_tickets on;\n",
                s.cert.display(),
                s.key.display()
            ),
        ),
        None => ("", String::new()),
    };
    let log = match settings.tls_log {
        Some(path) => format!(
            "\x20   log_format tls '$ssl_protocol $ssl_cipher $ssl_curve $ssl_session_reused';\n\
             \x20   access_log {} tls;\n",
            path.display()
        ),
        None => "\x20   access_log off;\n".into(),
    };
    let conf = format!(
        "# Written by `cargo xtask bench --only tls`; rewritten on every run.\n\
         daemon off;\n\
         master_process off;\n\
         worker_processes 1;\n\
         worker_rlimit_nofile 20000;\n\
         pid {d}/{name}.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n\
         {log}\
         \x20   default_type text/plain;\n\
         \x20   keepalive_requests 1000000;\n\
         \x20   keepalive_timeout {keep}s;\n\
         \x20   client_body_temp_path {d}/tmp;\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{port}{listen};\n\
         \x20       root {www};\n\
         {ssl}\
         \x20   }}\n\
         }}\n",
        keep = settings.keepalive_secs,
        www = www.display(),
    );
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, conf).with_context(|| format!("write {}", path.display()))?;
    let mut cmd = proc::command(ctx.pin, SERVER_CPU, nginx);
    cmd.arg("-p").arg(&dir).arg("-c").arg(&path).arg("-e").arg(dir.join("error.log"));
    Ok(cmd)
}

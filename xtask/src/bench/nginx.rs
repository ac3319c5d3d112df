//! The nginx peer for the HTTP comparison: a throwaway `nginx.conf` under `target/bench/nginx`
//! (foreground, 127.0.0.1 only, access log off, error log and pid file kept in that folder,
//! a fixed `return 200` location and a small static root) and the command that runs it.

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

//! `proxy`: a TCP forwarder on ioman-net. Every client accepted on `--listen` is connected to
//! `--to`, and bytes flow both ways with backpressure and half-close (see `server.rs`).
//!
//! ```text
//! cargo run --example echo  -- --listen 127.0.0.1:7000 &
//! cargo run --example proxy -- --listen 127.0.0.1:7002 --to 127.0.0.1:7000
//! nc 127.0.0.1 7002
//! ```
//! SIGINT/SIGTERM: stop accepting, let open pairs drain for up to 5 s, exit 0.
#![forbid(unsafe_code)]

#[path = "../common/log.rs"]
mod log;

mod server;

use anyhow::{Context as _, Result};
use ioman::Manager;
use ioman::net::{Endpoint, Net};
use std::time::Duration;

fn main() -> Result<()> {
    log::init();
    let (listen, to) = parse_args(std::env::args().skip(1))?;
    let socket = ioman::net::listen(&listen, Default::default())
        .with_context(|| format!("listening on {listen}"))?;
    println!("proxy: listening on {} (forwarding to {to})", ioman::net::local_endpoint(&socket)?);
    let mut manager = Manager::with_state(Net::new(server::Upstream { to }))?;
    server::build(&mut manager, socket, server::config())?;
    ioman::net::shutdown::on_signals(&mut manager, Duration::from_secs(5))?;
    manager.run()?;
    Ok(())
}

/// `--listen ADDR` (default 127.0.0.1:7002), `--to ADDR` (required), `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(Endpoint, Endpoint)> {
    let mut listen = "127.0.0.1:7002".parse()?;
    let mut to = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().context("--listen needs an address")?.parse()?,
            "--to" => to = Some(args.next().context("--to needs an address")?.parse()?),
            "--help" | "-h" => {
                println!(
                    "usage: proxy [--listen ADDR] --to ADDR\n  \
                     --listen: where clients connect (default 127.0.0.1:7002)\n  \
                     --to: where each client is forwarded (HOST:PORT, [V6]:PORT or unix:PATH)"
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other:?}; try --help"),
        }
    }
    Ok((listen, to.context("--to ADDR is required; try --help")?))
}

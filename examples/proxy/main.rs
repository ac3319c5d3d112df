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
use clap::Parser;
use ioman::Manager;
use ioman::net::{Endpoint, Net};
use std::time::Duration;

fn main() -> Result<()> {
    log::init();
    let Args { listen, to } = Args::parse();
    let socket = ioman::net::listen(&listen, Default::default())
        .with_context(|| format!("listening on {listen}"))?;
    println!("proxy: listening on {} (forwarding to {to})", ioman::net::local_endpoint(&socket)?);
    let mut manager = Manager::with_state(Net::new(server::Upstream { to }))?;
    server::build(&mut manager, socket, server::config())?;
    ioman::net::shutdown::on_signals(&mut manager, Duration::from_secs(5))?;
    manager.run()?;
    Ok(())
}

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "proxy", version, about = "A TCP forwarder on ioman-net")]
struct Args {
    /// Where clients connect: HOST:PORT, [V6]:PORT or unix:PATH
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7002")]
    listen: Endpoint,
    /// Where each client is forwarded: HOST:PORT, [V6]:PORT or unix:PATH
    #[arg(long, value_name = "ADDR")]
    to: Endpoint,
}

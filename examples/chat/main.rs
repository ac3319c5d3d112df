//! `chat`: a line-based chat room on ioman-net. Every line a client sends goes to all the
//! others, prefixed with its nickname; `/nick NAME` renames, `/quit` leaves. Slow readers are
//! disconnected once 64 KiB wait for them (see `server.rs`).
//!
//! ```text
//! cargo run --example chat -- --listen 127.0.0.1:7001
//! nc 127.0.0.1 7001        # in two or more terminals
//! ```
//! SIGINT/SIGTERM: stop accepting, close the clients once their output is flushed, exit 0.
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
    let listen = parse_args(std::env::args().skip(1))?;
    let socket = ioman::net::listen(&listen, Default::default())
        .with_context(|| format!("listening on {listen}"))?;
    println!("chat: listening on {}", ioman::net::local_endpoint(&socket)?);
    let mut manager = Manager::with_state(Net::new(server::Room::default()))?;
    server::build(&mut manager, socket, server::config())?;
    ioman::net::shutdown::on_signals(&mut manager, Duration::from_secs(5))?;
    manager.run()?;
    Ok(())
}

/// `--listen ADDR` (default 127.0.0.1:7001) and `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Endpoint> {
    let mut listen = "127.0.0.1:7001".parse()?;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().context("--listen needs an address")?.parse()?,
            "--help" | "-h" => {
                println!(
                    "usage: chat [--listen ADDR]   (default 127.0.0.1:7001; unix:/path works)"
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other:?}; try --help"),
        }
    }
    Ok(listen)
}

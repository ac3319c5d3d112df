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
use clap::Parser;
use ioman::Manager;
use ioman::net::{Endpoint, Net};
use std::time::Duration;

fn main() -> Result<()> {
    log::init();
    let Args { listen } = Args::parse();
    let socket = ioman::net::listen(&listen, Default::default())
        .with_context(|| format!("listening on {listen}"))?;
    println!("chat: listening on {}", ioman::net::local_endpoint(&socket)?);
    let mut manager = Manager::with_state(Net::new(server::Room::default()))?;
    server::build(&mut manager, socket, server::config())?;
    ioman::net::shutdown::on_signals(&mut manager, Duration::from_secs(5))?;
    manager.run()?;
    Ok(())
}

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "chat", version, about = "A line-based chat room on ioman-net")]
struct Args {
    /// Where to listen: HOST:PORT, [V6]:PORT or unix:PATH
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7001")]
    listen: Endpoint,
}

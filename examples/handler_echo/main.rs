//! The echo server written directly against ioman-core's `Handler`, without ioman-net (compare
//! `examples/echo.rs`): every byte a client sends comes back. Run it with
//! `cargo run --example handler_echo` (default 127.0.0.1:7004) and try `nc 127.0.0.1 7004`.
//!
//! The user-written part is the two handlers in `server.rs`: `Acceptor` registers each new
//! connection (and pauses on a timer instead of spinning when out of fds), and `Echo` reads
//! what arrived and writes it back.
#![forbid(unsafe_code)]

#[path = "../common/log.rs"]
mod log;

mod server;

use anyhow::{Context as _, Result};
use clap::Parser;
use ioman::net::Endpoint;
use ioman::{Interest, Manager, Timeout};
use std::net::{SocketAddr, TcpListener};

fn main() -> Result<()> {
    log::init();
    let Args { listen: addr } = Args::parse();
    let listener = TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
    listener.set_nonblocking(true)?;
    println!("handler_echo: listening on {}", listener.local_addr()?);
    let mut manager: Manager = Manager::new()?;
    let key = manager.add(listener, Interest::READ, Timeout::Never, server::Acceptor::default())?;
    // SIGINT/SIGTERM: stop accepting, let connections finish for up to 5 s, exit 0.
    let signals = ioman::net::shutdown::signal_pipe()?;
    manager.add(signals, Interest::READ, Timeout::Never, server::Signals::new(key))?;
    manager.run()?;
    Ok(())
}

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "handler_echo", version, about = "A TCP echo server on ioman's raw Handler trait")]
struct Args {
    /// Where to listen: HOST:PORT or [V6]:PORT (TCP only)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7004", value_parser = tcp_addr)]
    listen: SocketAddr,
}

/// Parses a TCP address as `--listen` elsewhere does (a host name is resolved here, at
/// startup), refusing Unix paths.
fn tcp_addr(s: &str) -> Result<SocketAddr, String> {
    let endpoint = s.parse::<Endpoint>().map_err(|e| e.to_string())?;
    match endpoint.resolve_now().map_err(|e| e.to_string())?.swap_remove(0) {
        Endpoint::Tcp(addr) => Ok(addr),
        _ => Err("handler_echo listens on TCP only".to_owned()),
    }
}

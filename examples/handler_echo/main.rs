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
use ioman::{Interest, Manager, Timeout};
use std::net::TcpListener;

fn main() -> Result<()> {
    log::init();
    let addr = parse_listen(std::env::args().skip(1))?;
    let listener = TcpListener::bind(&addr).with_context(|| format!("binding {addr}"))?;
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

/// `--listen ADDR` (default 127.0.0.1:7004) and `--help`.
fn parse_listen(mut args: impl Iterator<Item = String>) -> Result<String> {
    let mut addr = "127.0.0.1:7004".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => addr = args.next().context("--listen needs an address")?,
            "--help" | "-h" => {
                println!("usage: handler_echo [--listen ADDR]   (default 127.0.0.1:7004)");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other:?}; try --help"),
        }
    }
    Ok(addr)
}

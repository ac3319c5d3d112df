//! `echo`: a TCP (or Unix socket) echo server on ioman-net — every byte a client sends comes
//! back. The whole protocol is the ten lines of `Echo`; listening, buffering, backpressure,
//! idle timeouts and graceful shutdown come from ioman-net. Compare `handler_echo.rs`, the
//! same server written against the raw `Handler` trait.
//!
//! ```text
//! cargo run --release --example echo -- --listen 127.0.0.1:7000 [--threads N]
//! nc 127.0.0.1 7000
//! ```
//! SIGINT/SIGTERM: stop accepting, let connections drain for up to 5 s, exit 0.
#![forbid(unsafe_code)]

#[path = "common/log.rs"]
mod log;

use anyhow::{Context as _, Result};
use ioman::net::{ConnConfig, Listener, Loops, Net, NetError, Outbox, ProtoContext, Protocol};
use ioman::{Key, Manager};
use rustix::fd::OwnedFd;
use std::time::Duration;

/// Sends every byte back, in order. No allocation per message: input is the loop's read
/// buffer and the reply goes through the loop's scratch outbox.
pub struct Echo;

impl Protocol for Echo {
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_>) -> usize {
        out.extend_from_slice(input);
        input.len()
    }
}

/// How long connections may drain after SIGINT/SIGTERM.
pub const GRACE: Duration = Duration::from_secs(5);

/// Registers an echo listener for `socket` (from [`ioman::net::listen`]) with `manager`.
pub fn build(
    manager: &mut Manager<Net<()>>,
    socket: OwnedFd,
    config: ConnConfig,
) -> Result<Key, NetError> {
    Listener::serve(config, || Echo).register(manager, socket)
}

fn main() -> Result<()> {
    log::init();
    let args = Args::parse(std::env::args().skip(1))?;
    if args.threads > 1 {
        let loops = Loops::spawn(args.threads, &args.listen, |_, socket| {
            let mut manager = Manager::new()?;
            build(&mut manager, socket, ConnConfig::default())?;
            Ok(manager)
        })?;
        println!("echo: listening on {} ({} loops)", loops.local_addr(), loops.len());
        return Ok(loops.run_until_signal(GRACE)?);
    }
    let socket = ioman::net::listen(&args.listen, Default::default())
        .with_context(|| format!("listening on {}", args.listen))?;
    println!("echo: listening on {}", ioman::net::local_endpoint(&socket)?);
    let mut manager = Manager::new()?;
    build(&mut manager, socket, ConnConfig::default())?;
    ioman::net::shutdown::on_signals(&mut manager, GRACE)?;
    manager.run()?;
    Ok(())
}

/// `--listen ADDR` (default 127.0.0.1:7000), `--threads N` (default 1), `--help`.
struct Args {
    listen: ioman::net::Endpoint,
    threads: usize,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args> {
        let mut parsed = Args { listen: "127.0.0.1:7000".parse()?, threads: 1 };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--listen" => {
                    parsed.listen = args.next().context("--listen needs an address")?.parse()?
                }
                "--threads" => {
                    parsed.threads = args.next().context("--threads needs a number")?.parse()?
                }
                "--help" | "-h" => {
                    println!(
                        "usage: echo [--listen ADDR] [--threads N]\n  \
                         ADDR: 127.0.0.1:7000 (default), [::1]:7000 or unix:/path/to.sock\n  \
                         N: event loops, one per thread, sharing the port (default 1)"
                    );
                    std::process::exit(0);
                }
                other => anyhow::bail!("unknown argument {other:?}; try --help"),
            }
        }
        Ok(parsed)
    }
}

//! `echo`: a TCP (or Unix socket) echo server on ioman-net — every byte a client sends comes
//! back. The whole protocol is the ten lines of `Echo`; listening, buffering, backpressure,
//! idle timeouts and graceful shutdown come from ioman-net. Compare `handler_echo.rs`, the
//! same server written against the raw `Handler` trait.
//!
//! ```text
//! cargo run --release --example echo -- --listen 127.0.0.1:7000 [--threads N]
//!                                       [--tls-cert cert.pem --tls-key key.pem]
//! nc 127.0.0.1 7000
//! openssl s_client -connect 127.0.0.1:7000 -servername localhost   # with --tls-cert
//! ```
//! With `--tls-cert` and `--tls-key` it echoes over TLS (no ALPN), on every loop.
//! SIGINT/SIGTERM: stop accepting, let connections drain for up to 5 s, exit 0.
#![forbid(unsafe_code)]

#[path = "common/log.rs"]
mod log;

#[path = "common/args.rs"]
pub(crate) mod args; // `tests/echo_example.rs` tests the shared TLS arguments through it

use anyhow::{Context as _, Result};
use clap::Parser;
use ioman::net::tls::rustls::ServerConfig;
use ioman::net::{
    ConnConfig, Endpoint, Listener, Loops, Net, NetError, Outbox, ProtoContext, Protocol,
};
use ioman::{Key, Manager};
use rustix::fd::OwnedFd;
use std::sync::Arc;
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

/// Registers an echo listener for `socket` (from [`ioman::net::listen`]) with `manager`;
/// with a TLS configuration, its connections are TLS.
pub fn build(
    manager: &mut Manager<Net<()>>,
    socket: OwnedFd,
    config: ConnConfig,
    tls: Option<Arc<ServerConfig>>,
) -> Result<Key, NetError> {
    let listener = match tls {
        Some(tls) => Listener::serve_tls(config, tls, || Echo),
        None => Listener::serve(config, || Echo),
    };
    listener.register(manager, socket)
}

fn main() -> Result<()> {
    log::init();
    let args = Args::parse();
    let tls = args.tls.server_config(&[])?;
    let with_tls = tls.is_some();
    if args.threads > 1 {
        let loops = Loops::spawn(args.threads, &args.listen, move |_, socket| {
            let mut manager = Manager::new()?;
            build(&mut manager, socket, ConnConfig::default(), tls.clone())?;
            Ok(manager)
        })?;
        let tls_note = if with_tls { ", TLS" } else { "" };
        println!("echo: listening on {} ({} loops{tls_note})", loops.local_addr(), loops.len());
        return Ok(loops.run_until_signal(GRACE)?);
    }
    let socket = ioman::net::listen(&args.listen, Default::default())
        .with_context(|| format!("listening on {}", args.listen))?;
    let endpoint = ioman::net::local_endpoint(&socket)?;
    let mut manager = Manager::new()?;
    build(&mut manager, socket, ConnConfig::default(), tls)?;
    println!("echo: listening on {endpoint}{}", if with_tls { " (TLS)" } else { "" });
    ioman::net::shutdown::on_signals(&mut manager, GRACE)?;
    manager.run()?;
    Ok(())
}

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "echo", version, about = "A TCP or Unix socket echo server on ioman-net")]
struct Args {
    /// Where to listen: HOST:PORT, [V6]:PORT or unix:PATH
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7000")]
    listen: Endpoint,
    /// Event loops to run, one per thread, sharing the port
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = args::at_least_one,
        allow_negative_numbers = true
    )]
    threads: usize,
    #[command(flatten)]
    tls: args::TlsArgs,
}

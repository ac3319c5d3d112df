//! `kv`: an in-memory key-value server speaking RESP2, so `redis-cli` and `redis-benchmark`
//! work against it: Redis 7.0's string, keyspace and expiry commands (GET, SET with all its
//! options, GETEX, MSET, INCRBYFLOAT, SCAN, RENAME, COPY, EXPIRE ... GT, EXPIRETIME, ...; the
//! full list is in README.md) and enough of HELLO/CLIENT/CONFIG/COMMAND/INFO/SELECT for
//! clients to start. Inline commands (with Redis's quoting rules) and pipelining work; replies
//! and errors are Redis's, byte for byte (`kv-diff` checks them against redis-server). One
//! loop, one store, like Redis.
//!
//! ```text
//! cargo run --release --example kv -- [--listen 127.0.0.1:6380] [--send-timeout SECS]
//!                                     [--tls-cert cert.pem --tls-key key.pem]
//! redis-cli -p 6380 set greeting hello
//! redis-cli --tls --cacert cert.pem -p 6380 ping     # with --tls-cert
//! ```
//! With `--tls-cert` and `--tls-key` it speaks RESP over TLS (no ALPN), as Redis's `tls-port`.
//! Memory per connection is bounded whatever a client pipelines (see `server.rs`); a client that
//! leaves its replies unread for `--send-timeout` seconds (default 60; 0 = never, for trusted
//! clients only) is dropped. Connections never time out while idle, as in Redis.
//!
//! SIGINT/SIGTERM: stop accepting, let connections drain for up to 5 s, exit 0.
#![forbid(unsafe_code)]

#[path = "../common/log.rs"]
mod log;

#[path = "../common/args.rs"]
mod args;
mod server;

use anyhow::{Context as _, Result};
use clap::Parser;
use ioman::net::Endpoint;
use std::time::Duration;

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "kv", version, about = "An in-memory key-value server speaking RESP2")]
struct Args {
    /// Where to listen: HOST:PORT, [V6]:PORT or unix:PATH
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6380")]
    listen: Endpoint,
    /// Seconds a client may leave its replies unread before it is dropped (0 = never)
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = args::Seconds(server::SEND_TIMEOUT),
        allow_negative_numbers = true
    )]
    send_timeout: args::Seconds,
    #[command(flatten)]
    tls: args::TlsArgs,
}

fn main() -> Result<()> {
    log::init();
    let args = Args::parse();
    let send_timeout = Some(args.send_timeout.0).filter(|t| !t.is_zero());
    let tls = args.tls.server_config(&[])?;
    let mode = if tls.is_some() { " (TLS)" } else { "" };
    let socket = ioman::net::listen(&args.listen, Default::default())
        .with_context(|| format!("listening on {}", args.listen))?;
    let endpoint = ioman::net::local_endpoint(&socket)?;
    let mut manager = server::manager(ioman::Config::default())?;
    server::build(&mut manager, socket, server::conn_config().send_timeout(send_timeout), tls)?;
    println!("kv: listening on {endpoint}{mode}");
    ioman::net::shutdown::on_signals(&mut manager, Duration::from_secs(5))?;
    manager.run()?;
    Ok(())
}

//! `memcached`: a memcached server speaking the text protocol (memcached's `protocol.txt`), so
//! memcached clients work against it: get/gets/gat/gats with many keys, set/add/replace/
//! append/prepend/cas with flags, expiry and `noreply`, delete, incr/decr, touch, flush_all,
//! version, verbosity, stats and quit, with memcached's replies and errors word for word. Items
//! live in memory up to `--memory-limit`, least recently used first out. One loop, one cache.
//!
//! ```text
//! cargo run --release --example memcached -- [--listen 127.0.0.1:11211] [--memory-limit MB]
//!                                            [--send-timeout SECS]
//! printf 'set greeting 0 0 5\r\nhello\r\nget greeting\r\n' | nc -q1 127.0.0.1 11211
//! ```
//! Memory per connection is bounded whatever a client pipelines (see `server.rs`); a client that
//! leaves its replies unread for `--send-timeout` seconds (default 60; 0 = never, for trusted
//! clients only) is dropped. Idle connections are kept, as memcached keeps them.
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
#[command(name = "memcached", version, about = "A memcached text-protocol server")]
struct Args {
    /// Where to listen: HOST:PORT, [V6]:PORT or unix:/path/to.sock
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:11211")]
    listen: Endpoint,
    /// Memory for items, in megabytes (keys, values and per-item overhead are counted); the
    /// least recently used items are evicted to stay under it
    #[arg(long, value_name = "MB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    memory_limit: u64,
    /// Seconds a client may leave its replies unread before it is dropped (0 = never)
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = args::Seconds(server::SEND_TIMEOUT),
        allow_negative_numbers = true
    )]
    send_timeout: args::Seconds,
}

fn main() -> Result<()> {
    log::init();
    let args = Args::parse();
    let send_timeout = Some(args.send_timeout.0).filter(|t| !t.is_zero());
    let limit =
        usize::try_from(args.memory_limit.saturating_mul(1024 * 1024)).context("--memory-limit")?;
    let socket = ioman::net::listen(&args.listen, Default::default())
        .with_context(|| format!("listening on {}", args.listen))?;
    let endpoint = ioman::net::local_endpoint(&socket)?;
    let mut manager = server::manager(ioman::Config::default(), limit)?;
    server::build(&mut manager, socket, server::conn_config().send_timeout(send_timeout))?;
    println!("memcached: listening on {endpoint} ({} MB for items)", args.memory_limit);
    ioman::net::shutdown::on_signals(&mut manager, Duration::from_secs(5))?;
    manager.run()?;
    Ok(())
}

//! `kv`: an in-memory key-value server speaking RESP2, so `redis-cli` and `redis-benchmark`
//! work against it: PING, ECHO, SET (EX/PX/NX/XX/KEEPTTL), GET, DEL, EXISTS, INCR/DECR/INCRBY/
//! DECRBY, MSET/MGET, EXPIRE/PEXPIRE/TTL/PTTL, DBSIZE, FLUSHALL, QUIT, and enough of
//! CONFIG/COMMAND/CLIENT/SELECT/HELLO for those clients to start. Inline commands and
//! pipelining work; errors use Redis's wording. One loop, one store, like Redis.
//!
//! ```text
//! cargo run --release --example kv -- [--listen 127.0.0.1:6380]
//! redis-cli -p 6380 set greeting hello
//! ```
//! SIGINT/SIGTERM: stop accepting, let connections drain for up to 5 s, exit 0.
#![forbid(unsafe_code)]

#[path = "../common/args.rs"]
mod args;
mod server;

use anyhow::{Context as _, Result};
use std::time::Duration;

const SPEC: args::Spec =
    args::Spec { name: "kv", listen: "127.0.0.1:6380", threads: false, options: &[] };

fn main() -> Result<()> {
    let args = args::Args::parse(&SPEC, std::env::args().skip(1))?;
    let socket = ioman::net::listen(&args.listen, Default::default())
        .with_context(|| format!("listening on {}", args.listen))?;
    let endpoint = ioman::net::local_endpoint(&socket)?;
    let mut manager = server::manager(ioman::Config::default())?;
    server::build(&mut manager, socket)?;
    println!("kv: listening on {endpoint}");
    ioman::net::shutdown::on_signals(&mut manager, Duration::from_secs(5))?;
    manager.run()?;
    Ok(())
}

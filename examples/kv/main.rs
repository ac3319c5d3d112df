//! `kv`: an in-memory key-value server speaking RESP2, so `redis-cli` and `redis-benchmark`
//! work against it: PING, ECHO, SET (EX/PX/NX/XX/KEEPTTL), GET, DEL, EXISTS, INCR/DECR/INCRBY/
//! DECRBY, MSET/MGET, EXPIRE/PEXPIRE/TTL/PTTL, DBSIZE, FLUSHALL, QUIT, and enough of
//! CONFIG/COMMAND/CLIENT/SELECT/HELLO for those clients to start. Inline commands and
//! pipelining work; errors use Redis's wording. One loop, one store, like Redis.
//!
//! ```text
//! cargo run --release --example kv -- [--listen 127.0.0.1:6380] [--send-timeout SECS]
//! redis-cli -p 6380 set greeting hello
//! ```
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
use std::time::Duration;

const SPEC: args::Spec = args::Spec {
    name: "kv",
    listen: "127.0.0.1:6380",
    threads: false,
    options: &[(
        "send-timeout",
        "SECS a client may leave its replies unread before it is dropped (default 60; 0 = never)",
    )],
};

fn main() -> Result<()> {
    log::init();
    let args = args::Args::parse(&SPEC, std::env::args().skip(1))?;
    let send_timeout = match args.get("send-timeout") {
        Some(s) => {
            let secs: f64 = s.parse().context("--send-timeout takes seconds")?;
            let timeout = Duration::try_from_secs_f64(secs).context("--send-timeout")?;
            Some(timeout).filter(|t| !t.is_zero())
        }
        None => Some(server::SEND_TIMEOUT),
    };
    let socket = ioman::net::listen(&args.listen, Default::default())
        .with_context(|| format!("listening on {}", args.listen))?;
    let endpoint = ioman::net::local_endpoint(&socket)?;
    let mut manager = server::manager(ioman::Config::default())?;
    server::build(&mut manager, socket, server::conn_config().send_timeout(send_timeout))?;
    println!("kv: listening on {endpoint}");
    ioman::net::shutdown::on_signals(&mut manager, Duration::from_secs(5))?;
    manager.run()?;
    Ok(())
}

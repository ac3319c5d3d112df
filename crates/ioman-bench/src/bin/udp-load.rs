//! `udp-load`: the UDP echo load generator's command line. Runs
//! [`ioman_bench::udp_load::run`], prints one human line and one JSON line, and exits non-zero
//! if any echo was wrong, reordered or lost.
#![forbid(unsafe_code)]

use anyhow::Result;
use ioman_bench::cli::Flags;
use ioman_bench::udp_load::{self, Config};
use std::net::SocketAddr;
use std::time::Duration;

const USAGE: &str = "usage: udp-load --addr 127.0.0.1:PORT [--conns 32] [--size 64] \
                     [--window 4] [--duration 5] [--warmup 1] [--max-messages 100000000]";

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn main() -> Result<()> {
    let known = ["addr", "conns", "size", "window", "duration", "warmup", "max-messages"];
    let flags = Flags::parse(std::env::args().skip(1), &known)
        .map_err(|e| anyhow::anyhow!("{e}\n{USAGE}"))?;
    let addr: String = flags.get("addr", String::new())?;
    if addr.is_empty() {
        anyhow::bail!("--addr is required\n{USAGE}");
    }
    let addr: SocketAddr = addr.parse().map_err(|e| anyhow::anyhow!("--addr {addr:?}: {e}"))?;
    let cfg = Config {
        addr,
        conns: flags.get("conns", 32)?,
        size: flags.get("size", 64)?,
        window: flags.get("window", 4)?,
        duration: secs(flags.get("duration", 5.0)?),
        warmup: secs(flags.get("warmup", 1.0)?),
        max_messages: flags.get("max-messages", 100_000_000)?,
    };
    let report = udp_load::run(&cfg)?;
    println!(
        "udp-load {} conns={} size={} window={}: {}",
        cfg.addr,
        cfg.conns,
        cfg.size,
        cfg.window,
        report.human()
    );
    println!("{}", report.json());
    if report.errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}

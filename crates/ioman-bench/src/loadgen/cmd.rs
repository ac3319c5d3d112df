//! The command line shared by the `loadgen` and `loadgen-epoll` binaries, so the two take
//! exactly the same flags and print exactly the same lines: one human line, one JSON line
//! (the one `cargo xtask bench` parses), and a non-zero exit if any connection failed.

use super::{Config, Report};
use crate::cli::Flags;
use anyhow::Result;
use std::net::SocketAddr;
use std::time::Duration;

const FLAGS: &str = "--addr 127.0.0.1:PORT [--conns 100] [--size 64] [--pipeline 1] \
                     [--duration 5] [--warmup 1] [--max-messages 100000000]";

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// Parses `args` (without the program name), runs `run` with them and prints its report
/// under the name `prog`. Exits the process with status 1 if any connection failed.
pub fn command_line(
    prog: &str,
    args: impl IntoIterator<Item = String>,
    run: fn(&Config) -> Result<Report>,
) -> Result<()> {
    let usage = format!("usage: {prog} {FLAGS}");
    let args: Vec<String> = args.into_iter().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{usage}");
        return Ok(());
    }
    let known = ["addr", "conns", "size", "pipeline", "duration", "warmup", "max-messages"];
    let flags = Flags::parse(args, &known).map_err(|e| anyhow::anyhow!("{e}\n{usage}"))?;
    let addr: String = flags.get("addr", String::new())?;
    if addr.is_empty() {
        anyhow::bail!("--addr is required\n{usage}");
    }
    let addr: SocketAddr = addr.parse().map_err(|e| anyhow::anyhow!("--addr {addr:?}: {e}"))?;
    let cfg = Config {
        addr,
        conns: flags.get("conns", 100)?,
        size: flags.get("size", 64)?,
        depth: flags.get("pipeline", 1)?,
        duration: secs(flags.get("duration", 5.0)?),
        warmup: secs(flags.get("warmup", 1.0)?),
        max_messages: flags.get("max-messages", 100_000_000)?,
    };
    let report = run(&cfg)?;
    println!(
        "{prog} {} conns={} size={} pipeline={}: {}",
        cfg.addr,
        cfg.conns,
        cfg.size,
        cfg.depth,
        report.human()
    );
    println!("{}", report.json());
    if report.errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn must_not_run(_: &Config) -> Result<Report> {
        anyhow::bail!("ran")
    }

    #[test]
    fn help_prints_usage_without_running() {
        for flag in ["--help", "-h"] {
            command_line("loadgen", [flag.to_owned()], must_not_run).unwrap();
        }
        let missing = command_line("loadgen", Vec::new(), must_not_run).unwrap_err();
        assert!(missing.to_string().contains("--addr is required"), "{missing}");
    }
}

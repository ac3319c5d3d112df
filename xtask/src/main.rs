//! `cargo xtask`: the project's automation as a plain workspace binary (no build scripts, no
//! shell): `cargo xtask ci` runs every check CI runs; `cargo xtask bench` runs the benchmarks.
#![forbid(unsafe_code)]

mod bench;
mod ci;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next();
    let rest: Vec<String> = args.collect();
    match cmd.as_deref() {
        Some("ci") => ci::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("help" | "--help" | "-h") | None => {
            println!("usage: cargo xtask <ci | bench [--quick]>");
            println!("  ci     fmt, clippy, tests, docs, examples: everything CI checks");
            println!("  bench  benchmarks side by side with their peers (see BENCHMARKS.md)");
            Ok(())
        }
        Some(other) => bail!("unknown xtask command {other:?}; try `cargo xtask help`"),
    }
}

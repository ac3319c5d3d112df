//! `cargo xtask bench`: placeholder until the benchmark harness lands.

use anyhow::{Result, bail};

pub fn run(_args: &[String]) -> Result<()> {
    bail!("cargo xtask bench is not built yet")
}

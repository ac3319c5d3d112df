//! `cargo xtask ci`: each check CI runs, in order, stopping at the first failure and naming it.

use anyhow::{Context, Result, bail};
use std::process::Command;
use std::time::Instant;

/// One check: a name and the cargo arguments (plus extra environment) that run it.
struct Step {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const STEPS: &[Step] = &[
    Step { name: "format", args: &["fmt", "--all", "--", "--check"], env: &[] },
    Step {
        name: "clippy",
        args: &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
        env: &[],
    },
    Step {
        // Alone, ioman-net builds without its `tls` feature (the workspace build has it on).
        name: "clippy ioman-net without tls",
        args: &["clippy", "-p", "ioman-net", "--lib", "--", "-D", "warnings"],
        env: &[],
    },
    Step { name: "build examples", args: &["build", "--workspace", "--examples"], env: &[] },
    Step {
        name: "tests",
        args: &["test", "--workspace", "--all-targets"],
        env: &[("PROPTEST_CASES", "4096")],
    },
    Step { name: "doc tests", args: &["test", "--workspace", "--doc"], env: &[] },
    Step {
        name: "docs",
        args: &["doc", "--workspace", "--no-deps"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
];

pub fn run(args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        bail!("`cargo xtask ci` takes no arguments (got {a:?})");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let total = Instant::now();
    for step in STEPS {
        let start = Instant::now();
        println!("==> xtask ci: {} (cargo {})", step.name, step.args.join(" "));
        let status = Command::new(&cargo)
            .args(step.args)
            .envs(step.env.iter().copied())
            .status()
            .with_context(|| format!("could not start cargo for step {:?}", step.name))?;
        if !status.success() {
            bail!("xtask ci: step {:?} failed ({status})", step.name);
        }
        println!("==> xtask ci: {} ok in {:.1?}", step.name, start.elapsed());
    }
    println!("==> xtask ci: all {} steps passed in {:.1?}", STEPS.len(), total.elapsed());
    Ok(())
}

//! `cargo xtask bench [--quick] [--rounds N] [--secs S] [--only SECTION,...]`: ioman side by
//! side with its peers.
//!
//! Builds the release binaries, then runs each comparison (echo, loadgen, http, resp,
//! dispatch, hooks, flow, memcached, tls, udp) with servers pinned to CPU 0 and clients to
//! CPU 1, alternating ioman and its peers round by round, and reports each figure as medians
//! and a ratio: a table on the terminal,
//! `target/bench/report.md` and `target/bench/report.json`. A missing tool or binary skips
//! only the comparison that needs it, with a note saying why and how to fix it; a comparison
//! that ran and failed (e.g. an echo that corrupted bytes) makes the command fail at the end,
//! after the reports are written. Every child process is stopped when its comparison ends.

mod dispatch;
mod echo;
mod flow;
mod hooks;
mod http;
mod json;
mod loadgen;
mod memcached;
mod messages;
mod nginx;
mod proc;
mod report;
mod resp;
mod tls;
mod tools;
mod udp;
mod wrk;

use anyhow::{Context, Result, bail};
use report::Record;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Everything a comparison needs: where things are, how long to run, what was found.
pub struct Ctx {
    /// The workspace root.
    pub root: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR`, or `target/` in the root).
    pub target: PathBuf,
    /// `target/bench`: configs, logs and the reports.
    pub out: PathBuf,
    /// `--quick`: 2 rounds of 1 s instead of 5 of 5 s.
    pub quick: bool,
    /// Rounds per comparison (A B A B ...).
    pub rounds: usize,
    /// Length of one measured run.
    pub run_time: Duration,
    /// Unmeasured warm-up before each run.
    pub warmup: Duration,
    /// Whether `taskset` exists, so servers and clients can be pinned.
    pub pin: bool,
    /// The figures so far.
    pub records: Vec<Record>,
    /// What was skipped and why.
    pub notes: Vec<String>,
    /// What ran and went wrong.
    pub failures: Vec<String>,
}

impl Ctx {
    /// `target/release/NAME`.
    pub fn release(&self, name: &str) -> PathBuf {
        self.target.join("release").join(name)
    }

    /// `target/release/examples/NAME`.
    pub fn example(&self, name: &str) -> PathBuf {
        self.target.join("release").join("examples").join(name)
    }

    /// A log file for one process under `target/bench/logs`.
    pub fn log(&self, name: &str) -> PathBuf {
        self.out.join("logs").join(format!("{name}.log"))
    }

    /// Records that something was skipped, and prints it now.
    pub fn skip(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        println!("    skipped: {msg}");
        self.notes.push(msg);
    }

    /// Records that something ran and failed, and prints it now.
    pub fn fail(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        println!("    FAILED: {msg}");
        self.failures.push(msg);
    }

    /// A binary that must exist for one side of a comparison, or a note that it does not.
    pub fn binary(&mut self, path: PathBuf, what: &str) -> Option<PathBuf> {
        if path.is_file() {
            return Some(path);
        }
        self.skip(format!("{what}: {} not built", self.rel(&path)));
        None
    }

    /// The servers of a comparison: ioman's `example` first (named "ioman"), then each of
    /// `peers` (release binaries), each only if built. Without ioman's side the peers still
    /// run, so their paths are exercised; the ratios are then `-`.
    pub fn sides(
        &mut self,
        section: &str,
        example: &str,
        peers: &[&'static str],
    ) -> Vec<(&'static str, PathBuf)> {
        let mut sides = Vec::new();
        match self.binary(self.example(example), &format!("{section}: ioman side")) {
            Some(p) => sides.push(("ioman", p)),
            None => self.skip(format!("{section}: peers still run; ratios are -")),
        }
        for &peer in peers {
            if let Some(p) = self.binary(self.release(peer), &format!("{section} peer")) {
                sides.push((peer, p));
            }
        }
        sides
    }

    /// `path` relative to the workspace root, for messages.
    pub fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }
}

const SECTIONS: &[&str] =
    &["echo", "loadgen", "http", "resp", "dispatch", "hooks", "flow", "memcached", "tls", "udp"];

fn usage() -> String {
    format!(
        "usage: cargo xtask bench [--quick] [--rounds N] [--secs S] [--only {}]",
        SECTIONS.join(",")
    )
}

/// Entry point for `cargo xtask bench`.
pub fn run(args: &[String]) -> Result<()> {
    let mut quick = false;
    // `--rounds N --secs S`: override the rounds and the length of a run (a smoke run that
    // proves a section works end to end: `--rounds 1 --secs 0.2`).
    let (mut rounds, mut secs) = (None, None);
    let mut only: Vec<String> = SECTIONS.iter().map(|s| s.to_string()).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--rounds" => {
                let n: usize = it.next().with_context(usage)?.parse().context("--rounds")?;
                rounds = Some(n.max(1));
            }
            "--secs" => {
                let s: f64 = it.next().with_context(usage)?.parse().context("--secs")?;
                secs = Some(Duration::try_from_secs_f64(s).context("--secs")?);
            }
            "--only" => {
                let list = it.next().with_context(usage)?;
                only = list.split(',').map(str::to_owned).collect();
                if let Some(bad) = only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    bail!("unknown section {bad:?}\n{}", usage());
                }
            }
            _ => bail!("unknown argument {a:?}\n{}", usage()),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().context("workspace root")?;
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => std::env::current_dir()?.join(t),
        None => root.join("target"),
    };
    let out = target.join("bench");
    std::fs::create_dir_all(out.join("logs")).context("create target/bench/logs")?;
    let mut ctx = Ctx {
        root: root.to_owned(),
        target,
        out,
        quick,
        rounds: if quick { 2 } else { 5 },
        run_time: Duration::from_secs(if quick { 1 } else { 5 }),
        warmup: Duration::from_millis(if quick { 300 } else { 1000 }),
        pin: false,
        records: Vec::new(),
        notes: Vec::new(),
        failures: Vec::new(),
    };
    if let Some(n) = rounds {
        ctx.rounds = n;
    }
    if let Some(d) = secs {
        ctx.run_time = d;
        ctx.warmup = ctx.warmup.min(d);
    }
    let start = Instant::now();
    build(&mut ctx)?;
    tools::check(&mut ctx);
    for section in SECTIONS.iter().filter(|s| only.iter().any(|o| o == *s)) {
        println!("==> bench: {section}");
        let r = match *section {
            "echo" => echo::run(&mut ctx),
            "loadgen" => loadgen::run(&mut ctx),
            "http" => http::run(&mut ctx),
            "resp" => resp::run(&mut ctx),
            "dispatch" => dispatch::run(&mut ctx),
            "flow" => flow::run(&mut ctx),
            "memcached" => memcached::run(&mut ctx),
            "tls" => tls::run(&mut ctx),
            "udp" => udp::run(&mut ctx),
            _ => hooks::run(&mut ctx),
        };
        if let Err(e) = r {
            ctx.fail(format!("{section}: {e:#}"));
        }
    }
    write_reports(&ctx, start.elapsed())?;
    if !ctx.failures.is_empty() {
        bail!("{} benchmark run(s) failed (see above and target/bench/logs)", ctx.failures.len());
    }
    Ok(())
}

/// Builds the benchmark crate's binaries (must work) and the root examples (may not exist
/// yet: whatever is missing afterwards is skipped by the comparison that needs it).
fn build(ctx: &mut Ctx) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let steps: [(&[&str], bool); 2] = [
        (&["build", "--release", "-p", "ioman-bench", "--bins"], true),
        (&["build", "--release", "--examples"], false),
    ];
    for (args, required) in steps {
        println!("==> bench: cargo {}", args.join(" "));
        let ok = Command::new(&cargo).args(args).current_dir(&ctx.root).status()?.success();
        if !ok && required {
            bail!("cargo {} failed", args.join(" "));
        } else if !ok {
            ctx.skip(format!("`cargo {}` failed: ioman sides use whatever built", args.join(" ")));
        }
    }
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split_once(':').map_or(l, |(_, v)| v).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpus} x {cpu}, Linux {}", kernel.trim())
}

fn write_reports(ctx: &Ctx, took: Duration) -> Result<()> {
    let table = report::table(&ctx.records);
    let mode = if ctx.quick { "--quick" } else { "full" };
    let pin = if ctx.pin { "servers on CPU 0, clients on CPU 1" } else { "NOT pinned" };
    let head = format!(
        "`cargo xtask bench` ({mode}): {} rounds of {:?} (+{:?} warm-up) per side, medians; \
         {pin}; {}; took {:.0?}.\n",
        ctx.rounds,
        ctx.run_time,
        ctx.warmup,
        machine(),
        took
    );
    println!("\n{head}\n{table}");
    let mut md = format!("# ioman benchmark report\n\n{head}\n{table}");
    let mut extra = |title: &str, items: &[String]| {
        if !items.is_empty() {
            println!("{title}:");
            md.push_str(&format!("\n## {title}\n\n"));
            for n in items {
                println!("  - {n}");
                md.push_str(&format!("- {n}\n"));
            }
        }
    };
    extra("Skipped", &ctx.notes);
    extra("Failed", &ctx.failures);
    let md_path = ctx.out.join("report.md");
    let json_path = ctx.out.join("report.json");
    std::fs::write(&md_path, md).context("write report.md")?;
    std::fs::write(&json_path, report::json(&ctx.records)).context("write report.json")?;
    println!("wrote {} and {}", ctx.rel(&md_path), ctx.rel(&json_path));
    Ok(())
}

//! Dispatch cost: what one dispatched event costs ioman (`pingpong-ioman`) against the plain
//! rustix loop (`pingpong-raw`), a hand-written mio loop (`pingpong-mio`) and calloop
//! (`pingpong-calloop`), on the same socketpair ping-pong workload (each reads and writes the
//! byte with the same rustix calls, so they differ only in their loops); and what one message
//! costs one level up, through two ioman-net `Connection`s (`pingpong-net`).
//!
//! Two shapes: one pair (every wait returns one event, so a figure is a whole turn) and 64
//! pairs (a wait returns up to 64 events). From the two, each loop's cost per turn on its own:
//! `(one − many) × 64 / 63`.
//!
//! Two measures. Instructions per event, counted by `valgrind --tool=callgrind` (repeatable
//! where wall time on this machine is not): each binary runs at two event counts and the
//! difference of the totals over the difference of the counts cancels startup and teardown.
//! And wall time per event of the loop alone (each binary times itself), pinned, median of
//! the rounds: noisier, but it works where valgrind cannot run the binary. Valgrind before
//! 3.21 (Debian 12 ships 3.19) does not know `epoll_pwait2` (syscall 441); ioman waits with
//! `epoll_pwait` for that reason, but should a binary still use it, that case is a skip.

use super::json::{self, num};
use super::proc::{self, SERVER_CPU};
use super::report::{Better, Record};
use super::{Ctx, tools};
use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The loops compared, ioman's first; `pingpong-net` is reported on its own row.
const LOOPS: [&str; 4] = ["pingpong-ioman", "pingpong-raw", "pingpong-mio", "pingpong-calloop"];

/// The two shapes: events in flight (pairs) per run.
const SHAPES: [usize; 2] = [1, 64];

/// Runs the dispatch comparison.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let bins: Vec<Option<PathBuf>> =
        LOOPS.iter().map(|name| ctx.binary(ctx.release(name), "dispatch")).collect();
    if bins.iter().all(Option::is_none) {
        return Ok(());
    }
    timing(ctx, &bins);
    if let Some(valgrind) = tools::need(ctx, "valgrind", "dispatch instructions") {
        let net = ctx.binary(ctx.release("pingpong-net"), "dispatch: ioman-net side");
        instructions(ctx, &valgrind, &bins, &net);
    }
    super::messages::run(ctx);
    Ok(())
}

/// `(events, pairs)` of one run.
type Shape = (u64, usize);

/// Wall time per event, one pair, every loop; ioman's figure against each peer's.
fn timing(ctx: &mut Ctx, bins: &[Option<PathBuf>]) {
    let n: u64 = if ctx.quick { 200_000 } else { 1_000_000 };
    let mut per_event = vec![Vec::new(); bins.len()];
    for round in 0..ctx.rounds {
        for (i, bin) in bins.iter().enumerate() {
            let Some(bin) = bin else { continue };
            let mut cmd = proc::command(ctx.pin, SERVER_CPU, bin);
            cmd.args(["--events", &n.to_string()]);
            let r = proc::run_bounded(cmd, Duration::from_secs(120)).and_then(|out| {
                ensure!(out.status.success(), "exit {}", out.status);
                num(&parse(&out.stdout, n)?, "ns").context("no \"ns\" field")
            });
            match r {
                Ok(ns) => {
                    let per = ns / n as f64;
                    println!("    round {round} {:<18} {per:.0} ns/event", file_name(bin));
                    per_event[i].push(per);
                }
                Err(e) => ctx.fail(format!("dispatch timing {}: {e:#}", ctx.rel(bin))),
            }
        }
    }
    for (i, peer) in LOOPS.iter().enumerate().skip(1) {
        let name = "dispatch wall time per event";
        let (mine, theirs) = (per_event[0].clone(), per_event[i].clone());
        ctx.records.push(Record::from_runs(name, peer, "ns/event", Better::Lower, mine, theirs));
    }
}

/// Instructions per event of every loop and of `pingpong-net`, in both shapes; a table with
/// one row per loop, and ioman's figures against each peer's as records.
fn instructions(ctx: &mut Ctx, valgrind: &Path, bins: &[Option<PathBuf>], net: &Option<PathBuf>) {
    let (n1, n2): (u64, u64) = if ctx.quick { (20_000, 40_000) } else { (20_000, 120_000) };
    if let Err(e) = std::fs::create_dir_all(ctx.out.join("callgrind")) {
        return ctx.fail(format!("dispatch instructions: {e}"));
    }
    let all: Vec<Option<PathBuf>> = bins.iter().cloned().chain([net.clone()]).collect();
    // figures[bin][shape]
    let mut figures = vec![[None; SHAPES.len()]; all.len()];
    for (b, bin) in all.iter().enumerate() {
        let Some(bin) = bin else { continue };
        for (s, &pairs) in SHAPES.iter().enumerate() {
            match per_event(ctx, valgrind, bin, (n1, pairs), (n2, pairs)) {
                Ok(Some(per)) => figures[b][s] = Some(per),
                Ok(None) => ctx.skip(format!(
                    "dispatch instructions {}: this valgrind cannot run the binary (it lacks a \
                     syscall the binary uses, e.g. epoll_pwait2 before valgrind 3.21)",
                    file_name(bin)
                )),
                Err(e) => ctx.fail(format!("dispatch instructions {}: {e:#}", ctx.rel(bin))),
            }
        }
    }
    println!("    instructions per event      1 pair   64 pairs   per turn");
    let names = LOOPS.iter().chain(["pingpong-net"].iter());
    for (name, f) in names.zip(&figures) {
        let cell = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        let turn = per_turn(f[0], f[1]);
        println!("    {name:<24} {:>9} {:>10} {:>10}", cell(f[0]), cell(f[1]), cell(turn));
    }
    let unit = "instr/event";
    for (i, peer) in LOOPS.iter().enumerate().skip(1) {
        for (s, pairs) in SHAPES.iter().enumerate() {
            let name = match pairs {
                1 => "dispatch instructions per event".to_owned(),
                p => format!("dispatch instructions per event ({p} per turn)"),
            };
            let (mine, theirs) = (runs(figures[0][s]), runs(figures[i][s]));
            ctx.records.push(Record::from_runs(name, peer, unit, Better::Lower, mine, theirs));
        }
        let (mine, theirs) =
            (per_turn(figures[0][0], figures[0][1]), per_turn(figures[i][0], figures[i][1]));
        let name = "dispatch instructions per turn (derived)";
        ctx.records.push(Record::from_runs(
            name,
            peer,
            "instr/turn",
            Better::Lower,
            runs(mine),
            runs(theirs),
        ));
    }
    for (s, pairs) in SHAPES.iter().enumerate() {
        let name = match pairs {
            1 => "connection (ioman-net) instructions per message".to_owned(),
            p => format!("connection (ioman-net) instructions per message ({p} per turn)"),
        };
        let (mine, theirs) = (runs(figures[LOOPS.len()][s]), runs(figures[1][s]));
        ctx.records.push(Record::from_runs(
            name,
            "pingpong-raw",
            unit,
            Better::Lower,
            mine,
            theirs,
        ));
    }
}

/// A turn's own cost from the figures per event with one event per turn and with 64.
fn per_turn(one: Option<f64>, many: Option<f64>) -> Option<f64> {
    Some((one? - many?) * 64.0 / 63.0)
}

fn runs(v: Option<f64>) -> Vec<f64> {
    v.into_iter().collect()
}

/// Instructions per event of `bin` between two runs; `None` when valgrind cannot run it.
fn per_event(ctx: &Ctx, valgrind: &Path, bin: &Path, a: Shape, b: Shape) -> Result<Option<f64>> {
    let Some(ia) = callgrind(ctx, valgrind, bin, a)? else { return Ok(None) };
    let Some(ib) = callgrind(ctx, valgrind, bin, b)? else { return Ok(None) };
    let per = (ib as f64 - ia as f64) / (b.0 - a.0) as f64;
    let fixed = ia as f64 - per * a.0 as f64;
    println!(
        "    {:<18} {} pair(s): {ia} instr @ {} events, {ib} @ {}: {per:.1} instr/event \
         (+{fixed:.0} fixed)",
        file_name(bin),
        a.1,
        a.0,
        b.0
    );
    Ok(Some(per))
}

/// One `BIN --events N` run's stdout JSON, checked to report `N` events.
fn parse(stdout: &[u8], n: u64) -> Result<json::Object> {
    let stdout = String::from_utf8_lossy(stdout);
    let line =
        stdout.lines().rev().find(|l| l.starts_with('{')).context("no JSON line on stdout")?;
    let obj = json::parse_object(line)?;
    let events = num(&obj, "events").context("no \"events\" field")?;
    ensure!(events == n as f64, "asked for {n} events, the binary reported {events}");
    Ok(obj)
}

fn file_name(bin: &Path) -> String {
    bin.file_name().map_or("bin".into(), |f| f.to_string_lossy().into_owned())
}

/// Total instructions (`Ir`) of one `BIN --events N --pairs P` run under callgrind; `None`
/// when this valgrind cannot run the binary because it lacks `epoll_pwait2`.
fn callgrind(ctx: &Ctx, valgrind: &Path, bin: &Path, (n, pairs): Shape) -> Result<Option<u64>> {
    let file = ctx.out.join("callgrind").join(format!("{}-{n}-{pairs}.out", file_name(bin)));
    let mut cmd = Command::new(valgrind);
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(bin)
        .args(["--events", &n.to_string(), "--pairs", &pairs.to_string()]);
    let out = proc::run_bounded(cmd, Duration::from_secs(600))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("unhandled amd64-linux syscall: 441") {
        return Ok(None);
    }
    ensure!(out.status.success(), "failed under callgrind ({}): {stderr}", out.status);
    parse(&out.stdout, n)?;
    let ir = collected(&stderr);
    ir.with_context(|| format!("no `Collected :` line in callgrind's output: {stderr}")).map(Some)
}

/// The total from callgrind's `==PID== Collected : 123456` summary line.
pub(super) fn collected(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|l| l.split_once("Collected :"))
        .and_then(|(_, n)| n.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::collected;

    #[test]
    fn callgrind_summary() {
        let s = "==1== Events    : Ir\n==1== Collected : 4242\n==1==\n==1== I   refs:  4,242\n";
        assert_eq!(collected(s), Some(4242));
        assert_eq!(collected("nothing"), None);
    }
}

//! Dispatch cost: what one dispatched event costs ioman (`pingpong-ioman`) against the plain
//! rustix loop (`pingpong-raw`), on the same socketpair ping-pong workload; and what one
//! message costs one level up, through two ioman-net `Connection`s (`pingpong-net`).
//!
//! Two figures. Instructions per event, counted by `valgrind --tool=callgrind` (repeatable
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

/// Runs the dispatch comparison.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let ioman = ctx.binary(ctx.release("pingpong-ioman"), "dispatch: ioman side");
    let raw = ctx.binary(ctx.release("pingpong-raw"), "dispatch: peer side");
    let bins = [ioman, raw];
    if bins.iter().all(Option::is_none) {
        return Ok(());
    }
    timing(ctx, &bins);
    if let Some(valgrind) = tools::need(ctx, "valgrind", "dispatch instructions") {
        instructions(ctx, &valgrind, &bins, "dispatch instructions per event")?;
        let net = ctx.binary(ctx.release("pingpong-net"), "dispatch: ioman-net side");
        let name = "connection (ioman-net) instructions per message";
        instructions(ctx, &valgrind, &[net, bins[1].clone()], name)?;
    }
    Ok(())
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

fn timing(ctx: &mut Ctx, bins: &[Option<PathBuf>; 2]) {
    let n: u64 = if ctx.quick { 200_000 } else { 1_000_000 };
    let mut per_event = [Vec::new(), Vec::new()];
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
                    println!("    round {round} {:<14} {per:.0} ns/event", file_name(bin));
                    per_event[i].push(per);
                }
                Err(e) => ctx.fail(format!("dispatch timing {}: {e:#}", ctx.rel(bin))),
            }
        }
    }
    let [mine, theirs] = per_event;
    let name = "dispatch wall time per event";
    ctx.records.push(Record::from_runs(
        name,
        "pingpong-raw",
        "ns/event",
        Better::Lower,
        mine,
        theirs,
    ));
}

/// Instructions per event of `bins[0]` against `bins[1]`, recorded as `name`.
fn instructions(
    ctx: &mut Ctx,
    valgrind: &Path,
    bins: &[Option<PathBuf>; 2],
    name: &str,
) -> Result<()> {
    let (n1, n2): (u64, u64) = if ctx.quick { (20_000, 40_000) } else { (100_000, 200_000) };
    std::fs::create_dir_all(ctx.out.join("callgrind"))?;
    let mut per_event = [Vec::new(), Vec::new()];
    for (i, bin) in bins.iter().enumerate() {
        let Some(bin) = bin else { continue };
        let counts = callgrind(ctx, valgrind, bin, n1).and_then(|a| match a {
            Some(a) => Ok(callgrind(ctx, valgrind, bin, n2)?.map(|b| (a, b))),
            None => Ok(None),
        });
        match counts {
            Ok(Some((a, b))) => {
                let per = (b as f64 - a as f64) / (n2 - n1) as f64;
                let fixed = a as f64 - per * n1 as f64;
                println!(
                    "    {:<14} {a} instr @ {n1} events, {b} @ {n2}: {per:.1} instr/event \
                     (+{fixed:.0} fixed)",
                    file_name(bin)
                );
                per_event[i].push(per);
            }
            Ok(None) => ctx.skip(format!(
                "dispatch instructions {}: this valgrind cannot run the binary (it lacks a \
                 syscall the binary uses, e.g. epoll_pwait2 before valgrind 3.21)",
                file_name(bin)
            )),
            Err(e) => ctx.fail(format!("dispatch instructions {}: {e:#}", ctx.rel(bin))),
        }
    }
    let [mine, theirs] = per_event;
    if !(mine.is_empty() && theirs.is_empty()) {
        ctx.records.push(Record::from_runs(
            name,
            "pingpong-raw",
            "instr/event",
            Better::Lower,
            mine,
            theirs,
        ));
    }
    Ok(())
}

fn file_name(bin: &Path) -> String {
    bin.file_name().map_or("bin".into(), |f| f.to_string_lossy().into_owned())
}

/// Total instructions (`Ir`) of one `BIN --events N` run under callgrind; `None` when this
/// valgrind cannot run the binary because it lacks `epoll_pwait2`.
fn callgrind(ctx: &Ctx, valgrind: &Path, bin: &Path, n: u64) -> Result<Option<u64>> {
    let file = ctx.out.join("callgrind").join(format!("{}-{n}.out", file_name(bin)));
    let mut cmd = Command::new(valgrind);
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(bin)
        .args(["--events", &n.to_string()]);
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
fn collected(stderr: &str) -> Option<u64> {
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

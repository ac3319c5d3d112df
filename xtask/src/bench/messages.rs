//! Per-message cost of a whole server, in instructions: ioman's `echo` example (a listener
//! and ioman-net `Connection`s) against `echo-raw` (the plain epoll loop), each run under
//! `valgrind --tool=callgrind` and driven by `loadgen` over one connection with one 64-byte
//! message in flight, for a fixed number of messages. Two counts, and the difference of the
//! totals over the difference of the counts: startup, the accept and teardown cancel, and
//! what is left is one message's read, echo and write through each server, repeatably.

use super::proc::{self, Server};
use super::report::{Better, Record};
use super::{Ctx, tools};
use anyhow::{Context, Result, ensure};
use std::path::Path;
use std::time::Duration;

/// Runs the comparison (a part of the dispatch section).
pub fn run(ctx: &mut Ctx) {
    let Some(valgrind) = tools::need(ctx, "valgrind", "echo instructions per message") else {
        return;
    };
    let Some(loadgen) = ctx.binary(ctx.release("loadgen"), "echo instructions") else { return };
    let sides = [("echo", ctx.example("echo")), ("echo-raw", ctx.release("echo-raw"))];
    let (n1, n2): (u64, u64) = if ctx.quick { (2_000, 6_000) } else { (5_000, 25_000) };
    let mut per = [Vec::new(), Vec::new()];
    for (i, (name, bin)) in sides.iter().enumerate() {
        let Some(bin) = ctx.binary(bin.clone(), "echo instructions") else { continue };
        let counts = total(ctx, &valgrind, &loadgen, &bin, name, n1)
            .and_then(|a| Ok((a, total(ctx, &valgrind, &loadgen, &bin, name, n2)?)));
        match counts {
            Ok((a, b)) => {
                let m = (b as f64 - a as f64) / (n2 - n1) as f64;
                println!(
                    "    {name:<10} {a} instr @ {n1} messages, {b} @ {n2}: {m:.1} instr/message"
                );
                per[i].push(m);
            }
            Err(e) => ctx.fail(format!("echo instructions {name}: {e:#}")),
        }
    }
    let [mine, theirs] = per;
    let name = "echo server instructions per message (1 conn, 64 B)";
    ctx.records.push(Record::from_runs(name, "echo-raw", "instr/msg", Better::Lower, mine, theirs));
}

/// The server's total instructions for `n` echoed messages (plus the fixed startup, accept
/// and teardown), from callgrind's summary in the server's log.
fn total(
    ctx: &Ctx,
    valgrind: &Path,
    loadgen: &Path,
    bin: &Path,
    name: &str,
    n: u64,
) -> Result<u64> {
    let port = proc::free_port()?;
    let out = ctx.out.join("callgrind").join(format!("{name}-{n}-messages.out"));
    std::fs::create_dir_all(ctx.out.join("callgrind"))?;
    let mut cmd = std::process::Command::new(valgrind);
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(bin)
        .args(["--listen", &format!("127.0.0.1:{port}")]);
    let log = ctx.log(&format!("callgrind-{name}-{n}"));
    let server = Server::start(name, cmd, port, &log)?;
    let mut client = std::process::Command::new(loadgen);
    client
        .args(["--addr", &server.addr.to_string(), "--conns", "1", "--size", "64"])
        .args(["--pipeline", "1", "--warmup", "0", "--duration", "300"])
        .args(["--max-messages", &n.to_string()]);
    let report = proc::run_bounded(client, Duration::from_secs(400))?;
    ensure!(report.status.success(), "loadgen failed: {}", String::from_utf8_lossy(&report.stderr));
    server.stop(Duration::from_secs(30))?;
    let text = std::fs::read_to_string(&log).with_context(|| format!("read {}", log.display()))?;
    super::dispatch::collected(&text)
        .with_context(|| format!("no `Collected :` line in {}", log.display()))
}

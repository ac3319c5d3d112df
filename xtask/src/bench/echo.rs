//! Echo comparison: ioman's `echo` example against `echo-raw` (the ceiling), `echo-mio` and
//! `echo-tokio`, driven by our verifying `loadgen`, at 100 connections / 64 B and
//! 1,000 connections / 4 KiB. Figures per point and peer: throughput, p99 round trip and the
//! server's CPU time per message (from schedstat; it stays meaningful when the single
//! client CPU, not the server, is the bottleneck).

use super::Ctx;
use super::json::{self, num};
use super::proc::{self, CLIENT_CPU, SERVER_CPU, Server};
use super::report::{Better, Record};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::Duration;

/// One load point: connections, message size, pipeline depth.
pub(super) struct Point {
    pub label: &'static str,
    pub conns: usize,
    pub size: usize,
    pub pipeline: usize,
}

const POINTS: &[Point] = &[
    Point { label: "100c/64B", conns: 100, size: 64, pipeline: 1 },
    Point { label: "1000c/4KiB", conns: 1000, size: 4096, pipeline: 1 },
];

const PEERS: &[&str] = &["echo-raw", "echo-mio", "echo-tokio"];

/// One loadgen run's figures.
#[derive(Default)]
struct Samples {
    rate: Vec<f64>,
    p99: Vec<f64>,
    cpu: Vec<f64>,
}

/// Runs the echo comparison.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let Some(loadgen) = ctx.binary(ctx.release("loadgen"), "echo") else { return Ok(()) };
    let sides = ctx.sides("echo", "echo", PEERS);
    for point in POINTS {
        println!("  echo {}: {} servers, {} rounds", point.label, sides.len(), ctx.rounds);
        let mut servers = Vec::new();
        for (name, path) in &sides {
            let port = proc::free_port()?;
            let mut cmd = proc::command(ctx.pin, SERVER_CPU, path);
            cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
            let log = ctx.log(&format!("echo-{name}-{}", point.conns));
            match Server::start(name, cmd, port, &log) {
                Ok(s) => servers.push(s),
                Err(e) => ctx.fail(format!("echo {}: {e:#}", point.label)),
            }
        }
        let mut samples: Vec<Samples> = servers.iter().map(|_| Samples::default()).collect();
        for round in 0..ctx.rounds {
            for (server, s) in servers.iter().zip(&mut samples) {
                match load(ctx, &loadgen, server, point) {
                    Ok(Measured { rate, p99, server_cpu: cpu, .. }) => {
                        println!(
                            "    round {round} {:<10} {rate:>10.0} msgs/s  p99 {p99:>8.1} us  \
                             {} ns CPU/msg",
                            server.name,
                            cpu.map_or("-".into(), |c| format!("{c:.0}"))
                        );
                        s.rate.push(rate);
                        s.p99.push(p99);
                        s.cpu.extend(cpu);
                    }
                    Err(e) => ctx.fail(format!("echo {} {}: {e:#}", point.label, server.name)),
                }
            }
        }
        let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
        drop(servers); // every server of this point stops here
        let ioman = names.iter().position(|n| n == "ioman");
        let empty = Samples::default();
        let mine = ioman.map_or(&empty, |i| &samples[i]);
        for (i, peer) in names.iter().enumerate().filter(|(i, _)| Some(*i) != ioman) {
            let theirs = &samples[i];
            let label = point.label;
            let rec = |what: &str, unit: &str, better, a: &Vec<f64>, b: &Vec<f64>| {
                Record::from_runs(
                    format!("echo {label} {what}"),
                    peer,
                    unit,
                    better,
                    a.clone(),
                    b.clone(),
                )
            };
            ctx.records.push(rec("throughput", "msgs/s", Better::Higher, &mine.rate, &theirs.rate));
            ctx.records.push(rec("p99", "us", Better::Lower, &mine.p99, &theirs.p99));
            ctx.records.push(rec("server CPU", "ns/msg", Better::Lower, &mine.cpu, &theirs.cpu));
        }
    }
    Ok(())
}

/// What one load-client run measured.
pub(super) struct Measured {
    /// Messages (or datagrams) per second in the measured window.
    pub rate: f64,
    /// 99th-percentile round trip, µs.
    pub p99: f64,
    /// The server's CPU ns per message, over the whole run.
    pub server_cpu: Option<f64>,
    /// The client's own CPU ns per message, user + system, over the whole run (when it
    /// reports it).
    pub client_cpu: Option<f64>,
}

/// One pinned loadgen run against `server`.
/// `loadgen` is any generator with loadgen's flags and JSON line (`loadgen-epoll` too).
pub(super) fn load(ctx: &Ctx, loadgen: &Path, server: &Server, p: &Point) -> Result<Measured> {
    let mut cmd = proc::command(ctx.pin, CLIENT_CPU, loadgen);
    cmd.args(["--addr", &server.addr.to_string()])
        .args(["--conns", &p.conns.to_string(), "--size", &p.size.to_string()])
        .args(["--pipeline", &p.pipeline.to_string()])
        .args(["--duration", &ctx.run_time.as_secs_f64().to_string()])
        .args(["--warmup", &ctx.warmup.as_secs_f64().to_string()])
        .args(["--max-messages", "200000000"]);
    measured(ctx, cmd, server, "loadgen")
}

/// Runs a load client (`cmd`, already given its flags) against `server` and reads its JSON
/// line. The client's errors, or a failed exit, fail the run. Shared by every client with
/// loadgen's JSON fields (`udp-load` too).
pub(super) fn measured(
    ctx: &Ctx,
    cmd: std::process::Command,
    server: &Server,
    who: &str,
) -> Result<Measured> {
    let cpu0 = server.cpu();
    let out = proc::run_bounded(cmd, ctx.warmup + ctx.run_time + Duration::from_secs(60))?;
    let cpu1 = server.cpu();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).with_context(|| {
        format!("{who} printed no JSON ({}): {}", out.status, String::from_utf8_lossy(&out.stderr))
    })?;
    let obj = json::parse_object(line)?;
    let errors = num(&obj, "errors").unwrap_or(f64::NAN);
    if !out.status.success() || errors != 0.0 {
        let human = stdout.lines().next().unwrap_or_default();
        bail!("{who} reported errors ({}): {human}", out.status);
    }
    let rate = num(&obj, "msgs_per_sec").context("msgs_per_sec")?;
    let p99 = num(&obj, "p99_us").context("p99_us")?;
    let all = num(&obj, "all_messages").unwrap_or(0.0);
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) if all > 0.0 => Some(b.saturating_sub(a).as_nanos() as f64 / all),
        _ => None,
    };
    let client = ["client_user_ns", "client_sys_ns"].map(|field| num(&obj, field));
    let client_cpu = match client {
        [Some(user), Some(system)] => Some(user + system),
        _ => None,
    };
    Ok(Measured { rate, p99, server_cpu: cpu, client_cpu })
}

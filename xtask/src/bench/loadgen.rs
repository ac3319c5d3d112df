//! Load generator comparison: `loadgen` (on ioman's own `Connector` and `Protocol`) against
//! `loadgen-epoll` (the first generator, plain rustix epoll), both driving the same servers
//! — `echo-raw` and ioman's `echo` example — at 100 connections / 64 B. A ratio near 1.0
//! for throughput and p99 means switching the measuring stick to ioman's client side
//! changed nothing in what it measures (issue 11). The two generators alternate within each
//! round, in alternating order, against one server process per target.

use super::Ctx;
use super::echo::{self, Point};
use super::proc::{self, SERVER_CPU, Server};
use super::report::{Better, Record};
use anyhow::Result;
use std::path::PathBuf;

const POINT: Point = Point { label: "100c/64B", conns: 100, size: 64, pipeline: 1 };

/// Runs the comparison.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let Some(ours) = ctx.binary(ctx.release("loadgen"), "loadgen") else { return Ok(()) };
    let Some(epoll) = ctx.binary(ctx.release("loadgen-epoll"), "loadgen") else { return Ok(()) };
    let mut targets: Vec<(&str, PathBuf)> = Vec::new();
    if let Some(p) = ctx.binary(ctx.release("echo-raw"), "loadgen: echo-raw target") {
        targets.push(("echo-raw", p));
    }
    if let Some(p) = ctx.binary(ctx.example("echo"), "loadgen: ioman echo target") {
        targets.push(("ioman echo", p));
    }
    for (name, path) in targets {
        println!(
            "  loadgen vs loadgen-epoll against {name} {}: {} rounds",
            POINT.label, ctx.rounds
        );
        let port = proc::free_port()?;
        let mut cmd = proc::command(ctx.pin, SERVER_CPU, &path);
        cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
        let log = ctx.log(&format!("loadgen-{}", name.replace(' ', "-")));
        let server = match Server::start(name, cmd, port, &log) {
            Ok(s) => s,
            Err(e) => {
                ctx.fail(format!("loadgen {name}: {e:#}"));
                continue;
            }
        };
        // [0]: loadgen (ioman), [1]: loadgen-epoll; each (rates, p99s).
        let mut samples: [(Vec<f64>, Vec<f64>); 2] = Default::default();
        for round in 0..ctx.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for side in order {
                let (generator, label) =
                    if side == 0 { (&ours, "loadgen") } else { (&epoll, "epoll") };
                match echo::load(ctx, generator, &server, &POINT) {
                    Ok((rate, p99, _)) => {
                        println!(
                            "    round {round} {label:<8} {rate:>10.0} msgs/s  p99 {p99:>8.1} us"
                        );
                        samples[side].0.push(rate);
                        samples[side].1.push(p99);
                    }
                    Err(e) => ctx.fail(format!("loadgen {name} {label}: {e:#}")),
                }
            }
        }
        drop(server);
        let [(our_rate, our_p99), (epoll_rate, epoll_p99)] = samples;
        let what =
            |figure: &str| format!("loadgen (ioman Connector) vs {name} {} {figure}", POINT.label);
        let peer = "loadgen-epoll";
        ctx.records.push(Record::from_runs(
            what("throughput"),
            peer,
            "msgs/s",
            Better::Higher,
            our_rate,
            epoll_rate,
        ));
        ctx.records.push(Record::from_runs(
            what("p99"),
            peer,
            "us",
            Better::Lower,
            our_p99,
            epoll_p99,
        ));
    }
    Ok(())
}

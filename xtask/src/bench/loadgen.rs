//! Load generator comparison: `loadgen` (on ioman's own `Connector` and `Protocol`) against
//! `loadgen-epoll` (the first generator, plain rustix epoll), both driving the same servers
//! — `echo-raw` and ioman's `echo` example — at 100 connections / 64 B. A ratio near 1.0
//! for throughput and p99 means switching the measuring stick to ioman's client side
//! changed nothing in what it measures (issue 11). Each generator also reports its own CPU
//! time per message (user + system), the steadier figure. Three runs per round, in rotating
//! order, against one server process per target: loadgen, loadgen-epoll, and loadgen-epoll
//! again as a control, whose ratio to the first shows the noise of the sitting.

use super::Ctx;
use super::echo::{self, Point};
use super::proc::{self, SERVER_CPU, Server};
use super::report::{Better, Record};
use anyhow::Result;
use std::path::PathBuf;

/// One side's runs.
#[derive(Default)]
struct Samples {
    rate: Vec<f64>,
    p99: Vec<f64>,
    client_cpu: Vec<f64>,
}

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
        // Side 0: loadgen (ioman); 1: loadgen-epoll; 2: loadgen-epoll again, the control
        // that shows how far two runs of the very same generator differ in this sitting.
        let mut samples: [Samples; 3] = Default::default();
        for round in 0..ctx.rounds {
            for k in 0..3 {
                let side = (round + k) % 3;
                let (generator, label) = match side {
                    0 => (&ours, "loadgen"),
                    1 => (&epoll, "epoll"),
                    _ => (&epoll, "epoll #2"),
                };
                match echo::load(ctx, generator, &server, &POINT) {
                    Ok(m) => {
                        let client = m.client_cpu.map_or("-".into(), |c| format!("{c:.0}"));
                        println!(
                            "    round {round} {label:<8} {:>10.0} msgs/s  p99 {:>8.1} us  \
                             client {client} ns CPU/msg",
                            m.rate, m.p99
                        );
                        samples[side].rate.push(m.rate);
                        samples[side].p99.push(m.p99);
                        samples[side].client_cpu.extend(m.client_cpu);
                    }
                    Err(e) => ctx.fail(format!("loadgen {name} {label}: {e:#}")),
                }
            }
        }
        drop(server);
        let [ours_s, epoll_s, control] = samples;
        let what =
            |figure: &str| format!("loadgen (ioman Connector) vs {name} {} {figure}", POINT.label);
        let peer = "loadgen-epoll";
        let records = [
            Record::from_runs(
                what("throughput"),
                peer,
                "msgs/s",
                Better::Higher,
                ours_s.rate,
                epoll_s.rate.clone(),
            ),
            Record::from_runs(
                what("p99"),
                peer,
                "us",
                Better::Lower,
                ours_s.p99,
                epoll_s.p99.clone(),
            ),
            Record::from_runs(
                what("client CPU/msg"),
                peer,
                "ns",
                Better::Lower,
                ours_s.client_cpu,
                epoll_s.client_cpu.clone(),
            ),
            Record::from_runs(
                format!("control: loadgen-epoll vs itself, {name} {} throughput", POINT.label),
                peer,
                "msgs/s",
                Better::Higher,
                control.rate,
                epoll_s.rate,
            ),
            Record::from_runs(
                format!("control: loadgen-epoll vs itself, {name} {} client CPU/msg", POINT.label),
                peer,
                "ns",
                Better::Lower,
                control.client_cpu,
                epoll_s.client_cpu,
            ),
        ];
        ctx.records.extend(records);
    }
    Ok(())
}

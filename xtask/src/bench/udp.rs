//! UDP echo comparison (`--only udp`): ioman's `udp_echo` example (`recvmmsg`/`sendmmsg`
//! batches) against `udp-echo-raw` (one `recvfrom` and one `sendto` per datagram, the issue's
//! baseline) and `udp-echo-tokio` (tokio's `UdpSocket`, `current_thread`), driven by the
//! verifying `udp-load`: 32 client sockets with 4 datagrams in flight each (16 x 3 at
//! 1400 B), so what can queue anywhere fits the default socket buffers and nothing is lost by
//! design; a lost or wrong echo fails the run. Servers on CPU 0, the client on CPU 1. Figures per size and peer: datagrams per
//! second, p99 round trip, and the server's CPU time per datagram (schedstat; meaningful also
//! when the single client CPU is the limit).

use super::Ctx;
use super::proc::{self, CLIENT_CPU, SERVER_CPU, Server};
use super::report::{Better, Record};
use anyhow::{Context, Result};
use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

struct Point {
    label: &'static str,
    size: usize,
    /// Client sockets, and datagrams in flight on each: together they bound what can queue
    /// in the server's receive buffer (the default 208 KiB, charged by the kernel at about
    /// 1 KiB per small datagram and 3 KiB per 1400-byte one), so no run loses a datagram.
    conns: usize,
    window: usize,
}

const POINTS: &[Point] = &[
    Point { label: "64B", size: 64, conns: 32, window: 4 },
    Point { label: "1400B", size: 1400, conns: 16, window: 3 },
];

const PEERS: &[&str] = &["udp-echo-raw", "udp-echo-tokio"];

#[derive(Default)]
struct Samples {
    rate: Vec<f64>,
    p99: Vec<f64>,
    cpu: Vec<f64>,
}

/// Runs the UDP comparison.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let Some(client) = ctx.binary(ctx.release("udp-load"), "udp") else { return Ok(()) };
    let sides = ctx.sides("udp", "udp_echo", PEERS);
    for point in POINTS {
        println!("  udp echo {}: {} servers, {} rounds", point.label, sides.len(), ctx.rounds);
        let mut servers = Vec::new();
        for (name, path) in &sides {
            let port = free_udp_port()?;
            let mut cmd = proc::command(ctx.pin, SERVER_CPU, path);
            cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
            let log = ctx.log(&format!("udp-{name}-{}", point.size));
            match Server::start_with(name, cmd, port, &log, udp_answers) {
                Ok(s) => servers.push(s),
                Err(e) => ctx.fail(format!("udp {}: {e:#}", point.label)),
            }
        }
        let mut samples: Vec<Samples> = servers.iter().map(|_| Samples::default()).collect();
        for round in 0..ctx.rounds {
            for (server, s) in servers.iter().zip(&mut samples) {
                match load(ctx, &client, server, point) {
                    Ok(super::echo::Measured { rate, p99, server_cpu: cpu, .. }) => {
                        println!(
                            "    round {round} {:<14} {rate:>10.0} datagrams/s  p99 {p99:>8.1} us  \
                             {} ns CPU/datagram",
                            server.name,
                            cpu.map_or("-".into(), |c| format!("{c:.0}"))
                        );
                        s.rate.push(rate);
                        s.p99.push(p99);
                        s.cpu.extend(cpu);
                    }
                    Err(e) => ctx.fail(format!("udp {} {}: {e:#}", point.label, server.name)),
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
            let label = format!("udp echo {}x{} {}", point.conns, point.window, point.label);
            let rec = |what: &str, unit: &str, better, a: &Vec<f64>, b: &Vec<f64>| {
                Record::from_runs(
                    format!("{label} {what}"),
                    peer,
                    unit,
                    better,
                    a.clone(),
                    b.clone(),
                )
            };
            ctx.records.push(rec(
                "throughput",
                "datagrams/s",
                Better::Higher,
                &mine.rate,
                &theirs.rate,
            ));
            ctx.records.push(rec("p99", "us", Better::Lower, &mine.p99, &theirs.p99));
            ctx.records.push(rec(
                "server CPU",
                "ns/datagram",
                Better::Lower,
                &mine.cpu,
                &theirs.cpu,
            ));
        }
    }
    Ok(())
}

/// A loopback UDP port that was free a moment ago.
fn free_udp_port() -> Result<u16> {
    let s = UdpSocket::bind("127.0.0.1:0").context("bind udp 127.0.0.1:0")?;
    Ok(s.local_addr()?.port())
}

/// Whether the server at `port` echoes a probe datagram (within 200 ms).
fn udp_answers(port: u16) -> bool {
    let probe = || -> std::io::Result<bool> {
        let s = UdpSocket::bind("127.0.0.1:0")?;
        s.connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_millis(200)))?;
        s.send(b"probe")?;
        let mut buf = [0u8; 16];
        Ok(s.recv(&mut buf)? == 5 && &buf[..5] == b"probe")
    };
    probe().unwrap_or(false)
}

/// One pinned run (rates in datagrams).
fn load(ctx: &Ctx, client: &Path, server: &Server, p: &Point) -> Result<super::echo::Measured> {
    let mut cmd = proc::command(ctx.pin, CLIENT_CPU, client);
    cmd.args(["--addr", &server.addr.to_string()])
        .args(["--conns", &p.conns.to_string(), "--window", &p.window.to_string()])
        .args(["--size", &p.size.to_string()])
        .args(["--duration", &ctx.run_time.as_secs_f64().to_string()])
        .args(["--warmup", &ctx.warmup.as_secs_f64().to_string()])
        .args(["--max-messages", "200000000"]);
    super::echo::measured(ctx, cmd, server, "udp-load")
}

//! Flow control (`--only flow`): what a few bytes of hostile or careless input cost a server,
//! httpd against nginx (`sendfile on`) and kv against redis-server, and how fast httpd serves a
//! large file. Before ioman-net coupled input to output room, 3.4 KB of pipelined
//! `GET /big-file` took httpd to 952 MiB, and 400 bytes of pipelined GETs of a 10 MiB key took
//! kv to 419 MiB; these figures keep that from coming back.
//!
//! Memory figures (peak RSS growth in MiB, lower is better), each measured on a fresh server
//! process per side and round (see `flow/memory.rs`), by the `flow-attack` client on the client
//! CPU, which then closes everything; afterwards the server must still answer a small request:
//! - 20 clients each send 100 pipelined `GET /big.bin` (64 MiB file) in one write and read
//!   slowly (16 KiB per 50 ms) for the hold time; then the same with clients that never read;
//! - 1,000 clients each send one `GET /big.bin` and never read;
//! - 4 clients each send 18 pipelined RESP `GET big` (396 bytes; a 10 MiB value) and never read;
//! - one client sends `MGET` naming `big` 12 times (a 120 MiB reply, under kv's 128 MiB reply
//!   cap, so kv serves it) and never reads;
//! - one client sends `MGET` naming `big` 150 times (a 1.5 GiB reply: kv refuses it, Redis builds
//!   it). More names would only grow Redis further; 150 keeps it far below this machine's
//!   memory, and the client also cuts any attack short when a server passes 3 GiB.
//!
//! Then large-file throughput (`flow/throughput.rs`). Rounds alternate A B A B; the memory
//! figures take at most 3 rounds (they vary little and each costs a server start), held for
//! 3 s (1 s with `--quick`).

mod memory;
mod servers;
mod throughput;

use super::report::{Better, Record};
use super::{Ctx, tools};
use anyhow::{Context, Result};
use memory::{Attack, Sample};
use servers::{BIG_FILE, BIG_KEY, Kind, Program};
use std::path::Path;
use std::time::Duration;

/// One memory figure: who sends what, and how they read.
struct Figure {
    label: String,
    kind: Kind,
    conns: usize,
    payload: Vec<u8>,
    /// Bytes each connection reads per 50 ms tick (0: never).
    read_bytes: usize,
}

/// The memory figures, in the order they run.
fn figures() -> Vec<Figure> {
    let get = format!("GET /{BIG_FILE} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes();
    let mget = |n: usize| {
        let args: Vec<&str> = std::iter::once("MGET").chain([BIG_KEY].repeat(n)).collect();
        resp(&args)
    };
    let slow = 16 * 1024;
    vec![
        Figure::new(
            "20 slow readers x 100 pipelined GET of a 64 MiB file",
            20,
            get.repeat(100),
            slow,
        ),
        Figure::new("20 non-readers x 100 pipelined GET of a 64 MiB file", 20, get.repeat(100), 0),
        Figure::new("1000 non-readers x 1 GET of a 64 MiB file", 1000, get, 0),
        Figure::new(
            "4 non-readers x 18 pipelined GET of a 10 MiB value",
            4,
            resp(&["GET", BIG_KEY]).repeat(18),
            0,
        ),
        Figure::new("1 non-reader, MGET of a 10 MiB value x12 (120 MiB reply)", 1, mget(12), 0),
        Figure::new("1 non-reader, MGET of a 10 MiB value x150 (1.5 GiB reply)", 1, mget(150), 0),
    ]
}

impl Figure {
    /// A figure named after `what` and the payload's size; RESP when the payload is.
    fn new(what: &str, conns: usize, payload: Vec<u8>, read_bytes: usize) -> Figure {
        let kind = if payload.starts_with(b"*") { Kind::Resp } else { Kind::Http };
        let label = format!("flow {what} ({} B/conn): peak RSS growth", payload.len());
        Figure { label, kind, conns, payload, read_bytes }
    }
}

/// One RESP command as a multibulk array.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    out.into_bytes()
}

/// Runs the flow-control comparison.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let Some(client) = ctx.binary(ctx.release("flow-attack"), "flow: client") else {
        return Ok(());
    };
    let httpd = ctx.binary(ctx.example("httpd"), "flow: httpd side").map(Program::Httpd);
    let nginx = tools::need(ctx, "nginx", "flow: httpd's peer").map(Program::Nginx);
    let kv = ctx.binary(ctx.example("kv"), "flow: kv side").map(Program::Kv);
    let redis = tools::need(ctx, "redis-server", "flow: kv's peer").map(Program::Redis);
    let http_sides: Vec<Program> = [httpd, nginx].into_iter().flatten().collect();
    let resp_sides: Vec<Program> = [kv, redis].into_iter().flatten().collect();
    let www = servers::files(ctx)?;
    let payloads = ctx.out.join("flow");
    std::fs::create_dir_all(&payloads).context("create target/bench/flow")?;
    let hold = Duration::from_secs(if ctx.quick { 1 } else { 3 });
    for (n, fig) in figures().iter().enumerate() {
        let sides = if fig.kind == Kind::Http { &http_sides } else { &resp_sides };
        if sides.is_empty() {
            continue;
        }
        let path = payloads.join(format!("attack-{n}.bin"));
        std::fs::write(&path, &fig.payload).with_context(|| format!("write {}", path.display()))?;
        let attack = Attack { conns: fig.conns, payload: path, read_bytes: fig.read_bytes, hold };
        memory_figure(ctx, &client, &www, fig, sides, &attack);
    }
    if http_sides.is_empty() {
        return Ok(());
    }
    let Some(wrk) = tools::need(ctx, "wrk", "flow large file") else { return Ok(()) };
    throughput::run(ctx, &wrk, &www, &http_sides)
}

/// Measures one memory figure on every side, A B A B, and records it.
fn memory_figure(
    ctx: &mut Ctx,
    client: &Path,
    www: &Path,
    fig: &Figure,
    sides: &[Program],
    attack: &Attack,
) {
    let peer = if fig.kind == Kind::Http { "nginx" } else { "redis-server" };
    let mut growth = [Vec::new(), Vec::new()];
    println!("    {}", fig.label);
    for round in 0..ctx.rounds.min(3) {
        for p in sides {
            match one(ctx, client, www, p, attack) {
                Ok(s) => {
                    let o = &s.outcome;
                    println!(
                        "    round {round} {:<12} +{:>8.2} MiB (RSS {:.1} -> peak {:.1} MiB{}; \
                         {} conns, read {:.1} MiB, {} closed by the server)",
                        p.name(),
                        s.growth_mib(),
                        s.before_kib as f64 / 1024.0,
                        s.peak_kib as f64 / 1024.0,
                        if s.exact { "" } else { ", polled" },
                        o.connected,
                        o.read as f64 / (1024.0 * 1024.0),
                        o.closed
                    );
                    if o.capped {
                        ctx.skip(format!(
                            "{}: {} passed the {} MiB safety cap and the attack was cut short; \
                             its figure is a lower bound",
                            fig.label,
                            p.name(),
                            memory::CAP_MIB
                        ));
                    }
                    growth[usize::from(!p.is_ioman())].push(s.growth_mib());
                }
                Err(e) => ctx.fail(format!("{} {}: {e:#}", fig.label, p.name())),
            }
        }
    }
    let [mine, theirs] = growth;
    ctx.records.push(Record::from_runs(&fig.label, peer, "MiB", Better::Lower, mine, theirs));
}

/// One measurement on a fresh server, which stops when this returns.
fn one(ctx: &Ctx, client: &Path, www: &Path, p: &Program, attack: &Attack) -> Result<Sample> {
    let server = p.start(ctx, www)?;
    servers::prepare(p.kind(), server.addr).context("preparing")?;
    let alive = || servers::alive(p.kind(), server.addr).context("the small request after it");
    memory::measure(ctx, client, &server, attack, alive)
}

#[cfg(test)]
mod tests {
    use super::{Kind, figures, resp};

    #[test]
    fn attacks_are_small() {
        assert_eq!(resp(&["GET", "big"]), b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
        let figs = figures();
        assert_eq!(figs[0].payload.len(), 4200);
        assert_eq!(figs[3].payload.len(), 396);
        assert!(figs[5].payload.starts_with(b"*151\r\n$4\r\nMGET\r\n$3\r\nbig\r\n"));
        assert!(figs.iter().all(|f| f.payload.len() < 8192 && f.label.starts_with("flow ")));
        let kinds: Vec<Kind> = figs.iter().map(|f| f.kind).collect();
        assert_eq!(kinds[..3], [Kind::Http; 3]);
        assert_eq!(kinds[3..], [Kind::Resp; 3]);
    }
}

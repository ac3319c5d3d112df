//! memcached comparison (`--only memcached`): ioman's `memcached` example against Debian's
//! `memcached -t 1` (one worker thread; its listener and maintenance threads share the same
//! pinned CPU), both with `--memory-limit`/`-m` 1024 MB, driven by our verifying `mc-load`
//! (`memcslap` has no get/set mix and no pipelining). Each side first answers one exact
//! set/get/delete exchange, so a figure never hides errors; `mc-load` checks every reply byte.
//!
//! Figures:
//! - throughput per core: the server on CPU 0, `mc-load` on CPU 1, 50 connections, 90% get /
//!   10% set over 10,000 preloaded keys of 64 bytes with 100-byte values (uniform), in three
//!   shapes: one operation in flight per connection (`-P 1`, a client that waits for each
//!   reply), 16 (`-P 16`, a pipelining client: each operation its own command, a new one sent
//!   as each reply arrives), and batches of 16 where the batch's gets go as one multi-key `get`
//!   (how clients batch reads; memcached sends each `get` command's reply with its own
//!   `sendmsg`, so the multi-get is its fast path). Operations per second (a key read or an item
//!   stored) and the server's CPU time per operation (schedstat, meaningful also when the one
//!   client CPU is the limit). Servers live for all rounds of a shape and are preloaded once,
//!   so the CPU figure covers the mixed load alone.
//! - memory per item: a fresh server per side and round (at most 3), `VmRSS` before and after
//!   `mc-load --mode fill` stores 200,000 items (`key:%08d`, 100-byte values), after checking
//!   with `stats` that all of them are there and none was evicted, and once memcached's hash
//!   table has finished growing (see [`hash_settled`]); (after - before) / items.

use super::json::{self, num};
use super::proc::{self, CLIENT_CPU, SERVER_CPU, Server};
use super::report::{Better, Record};
use super::{Ctx, tools};
use anyhow::{Context, Result, bail, ensure};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The peer's name in records.
const PEER: &str = "memcached -t 1";
/// The Debian package of the peer.
const APT: &str = "apt-get install -y memcached";
/// Memory limit of both servers, in MB: far above what the figures store.
const LIMIT_MB: u32 = 1024;
/// Connections of the throughput figures.
const CONNS: usize = 50;
/// Keys of the throughput figures, their size and the values' size.
const KEYS: u32 = 10_000;
const KEY_SIZE: usize = 64;
const VALUE_SIZE: usize = 100;
/// Percentage of gets in the mix.
const GET_PERCENT: u32 = 90;
/// Items stored by the memory figure (and with `--quick`).
const ITEMS: u32 = 200_000;
const QUICK_ITEMS: u32 = 50_000;

const CHECK: &[u8] = b"set bench:check 7 0 5\r\nhello\r\nget bench:check\r\ndelete bench:check\r\n";
const CHECK_REPLY: &[u8] = b"STORED\r\nVALUE bench:check 7 5\r\nhello\r\nEND\r\nDELETED\r\n";

/// One server program.
enum Program {
    /// ioman's `memcached` example.
    Ioman(PathBuf),
    /// Debian's memcached.
    Memcached(PathBuf),
}

impl Program {
    fn name(&self) -> &'static str {
        match self {
            Program::Ioman(_) => "ioman memcached",
            Program::Memcached(_) => PEER,
        }
    }

    /// Index of this side's samples: 0 ioman, 1 the peer.
    fn side(&self) -> usize {
        usize::from(matches!(self, Program::Memcached(_)))
    }

    /// Starts a fresh process on a free loopback port, pinned to the server CPU, and checks it.
    fn start(&self, ctx: &Ctx, tag: &str) -> Result<Server> {
        let port = proc::free_port()?;
        let (cmd, log) = match self {
            Program::Ioman(bin) => {
                let mut cmd = proc::command(ctx.pin, SERVER_CPU, bin);
                cmd.args(["--listen", &format!("127.0.0.1:{port}")])
                    .args(["--memory-limit", &LIMIT_MB.to_string()]);
                (cmd, format!("memcached-ioman-{tag}"))
            }
            Program::Memcached(bin) => {
                let mut cmd = proc::command(ctx.pin, SERVER_CPU, bin);
                cmd.args(["-p", &port.to_string(), "-l", "127.0.0.1", "-U", "0", "-t", "1"])
                    .args(["-m", &LIMIT_MB.to_string(), "-c", "4096"]);
                if is_root() {
                    cmd.args(["-u", "root"]); // memcached refuses to run as root without it
                }
                (cmd, format!("memcached-peer-{tag}"))
            }
        };
        let server = Server::start(self.name(), cmd, port, &ctx.log(&log))?;
        exchange(server.addr).with_context(|| format!("{} failed the check", self.name()))?;
        Ok(server)
    }
}

/// Whether this process runs as root (memcached then needs `-u`).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .is_some_and(|ids| ids.split_whitespace().take(2).any(|id| id == "0"))
}

/// Runs the memcached comparison.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let Some(client) = ctx.binary(ctx.release("mc-load"), "memcached: client") else {
        return Ok(());
    };
    let ioman = ctx.binary(ctx.example("memcached"), "memcached: ioman side").map(Program::Ioman);
    let peer = tools::find("memcached").map(Program::Memcached);
    if peer.is_none() {
        ctx.skip(format!("memcached: the peer is not installed (`{APT}`); ratios are -"));
    }
    let sides: Vec<Program> = [ioman, peer].into_iter().flatten().collect();
    if sides.is_empty() {
        return Ok(());
    }
    for shape in SHAPES {
        throughput(ctx, &client, &sides, shape);
    }
    memory(ctx, &client, &sides);
    Ok(())
}

/// How each connection of a throughput figure keeps operations in flight.
struct Shape {
    /// In the figure's name.
    label: &'static str,
    /// In log file names.
    tag: &'static str,
    /// Operations in flight per connection.
    pipeline: usize,
    /// Whether they go out as one batch, the gets as one multi-key `get`.
    batch: bool,
}

const SHAPES: &[Shape] = &[
    Shape { label: "-P 1", tag: "p1", pipeline: 1, batch: false },
    Shape { label: "-P 16", tag: "p16", pipeline: 16, batch: false },
    Shape { label: "batches of 16 (gets as one multi-get)", tag: "b16", pipeline: 16, batch: true },
];

/// The throughput figures of one shape, A B A B.
fn throughput(ctx: &mut Ctx, client: &Path, sides: &[Program], shape: &Shape) {
    let mix = format!("get/set {GET_PERCENT}/{}", 100 - GET_PERCENT);
    let label =
        format!("memcached {CONNS}c {} {mix} {KEY_SIZE}B keys {VALUE_SIZE}B values", shape.label);
    println!("  {label}: {} servers, {} rounds", sides.len(), ctx.rounds);
    let mut servers: Vec<(&Program, Server)> = Vec::new();
    for p in sides {
        let started = p.start(ctx, shape.tag).and_then(|s| {
            preload(ctx, client, s.addr)?;
            Ok(s)
        });
        match started {
            Ok(s) => servers.push((p, s)),
            Err(e) => ctx.fail(format!("{label} {}: {e:#}", p.name())),
        }
    }
    let mut rps = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    for round in 0..ctx.rounds {
        for (p, server) in &servers {
            match load(ctx, client, server, shape) {
                Ok((rate, p99, ns)) => {
                    println!(
                        "    round {round} {:<4} {:<16} {rate:>10.0} ops/s  \
                         p99 {p99:>8.1} us  {} ns CPU/op",
                        shape.tag,
                        p.name(),
                        ns.map_or("-".into(), |c| format!("{c:.0}"))
                    );
                    rps[p.side()].push(rate);
                    cpu[p.side()].extend(ns);
                }
                Err(e) => ctx.fail(format!("{label} {}: {e:#}", p.name())),
            }
        }
    }
    drop(servers); // both servers stop here, on every path
    let [ri, rp] = rps;
    let [ci, cp] = cpu;
    ctx.records.push(Record::from_runs(&label, PEER, "ops/s", Better::Higher, ri, rp));
    let name = format!("{label} server CPU");
    ctx.records.push(Record::from_runs(name, PEER, "ns/op", Better::Lower, ci, cp));
}

/// Stores the throughput figures' keys once (checked by `mc-load`).
fn preload(ctx: &Ctx, client: &Path, addr: SocketAddr) -> Result<()> {
    let mut cmd = proc::command(ctx.pin, CLIENT_CPU, client);
    cmd.args(["--mode", "fill", "--addr", &addr.to_string()])
        .args(["--keys", &KEYS.to_string(), "--key-size", &KEY_SIZE.to_string()])
        .args(["--value-size", &VALUE_SIZE.to_string(), "--fill-secs", "60"]);
    let obj = client_json(proc::run_bounded(cmd, Duration::from_secs(90))?)?;
    ensure!(num(&obj, "stored") == Some(f64::from(KEYS)), "preload stored too few items");
    Ok(())
}

/// One pinned mixed-load run: (operations/s, p99 µs per command, server CPU ns per operation).
fn load(
    ctx: &Ctx,
    client: &Path,
    server: &Server,
    shape: &Shape,
) -> Result<(f64, f64, Option<f64>)> {
    let mut cmd = proc::command(ctx.pin, CLIENT_CPU, client);
    cmd.args(["--mode", "load", "--preload", "0", "--addr", &server.addr.to_string()])
        .args(["--keys", &KEYS.to_string(), "--key-size", &KEY_SIZE.to_string()])
        .args(["--value-size", &VALUE_SIZE.to_string()])
        .args(["--conns", &CONNS.to_string(), "--pipeline", &shape.pipeline.to_string()])
        .args(["--batch", if shape.batch { "1" } else { "0" }])
        .args(["--get-percent", &GET_PERCENT.to_string()])
        .args(["--duration", &ctx.run_time.as_secs_f64().to_string()])
        .args(["--warmup", &ctx.warmup.as_secs_f64().to_string()])
        .args(["--max-requests", "200000000"]);
    let cpu0 = server.cpu();
    let out = proc::run_bounded(cmd, ctx.warmup + ctx.run_time + Duration::from_secs(60))?;
    let cpu1 = server.cpu();
    let obj = client_json(out)?;
    let rate = num(&obj, "rps").context("rps")?;
    let p99 = num(&obj, "p99_us").context("p99_us")?;
    let all = num(&obj, "all_requests").unwrap_or(0.0);
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) if all > 0.0 => Some(b.saturating_sub(a).as_nanos() as f64 / all),
        _ => None,
    };
    Ok((rate, p99, cpu))
}

/// `mc-load`'s JSON line, when it succeeded and reported no errors.
fn client_json(out: std::process::Output) -> Result<json::Object> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let human = stdout.lines().next().unwrap_or_default();
    ensure!(
        out.status.success(),
        "mc-load failed ({}): {human} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or_default()
    );
    let line =
        stdout.lines().rev().find(|l| l.starts_with('{')).context("mc-load printed no JSON")?;
    let obj = json::parse_object(line)?;
    if let Some(errors) = num(&obj, "errors") {
        ensure!(errors == 0.0, "mc-load reported errors: {human}");
    }
    Ok(obj)
}

/// The memory figure: bytes of resident memory per stored item, fresh servers, A B A B.
fn memory(ctx: &mut Ctx, client: &Path, sides: &[Program]) {
    let items = if ctx.quick { QUICK_ITEMS } else { ITEMS };
    let label =
        format!("memcached memory per item ({items} items, 12 B keys, {VALUE_SIZE} B values)");
    println!("  {label}");
    let mut per_item = [Vec::new(), Vec::new()];
    for round in 0..ctx.rounds.min(3) {
        for p in sides {
            match memory_once(ctx, client, p, items) {
                Ok((before, after)) => {
                    let bytes = after.saturating_sub(before) as f64 * 1024.0 / f64::from(items);
                    println!(
                        "    round {round} {:<16} RSS {:.1} -> {:.1} MiB: {bytes:.1} B/item",
                        p.name(),
                        before as f64 / 1024.0,
                        after as f64 / 1024.0
                    );
                    per_item[p.side()].push(bytes);
                }
                Err(e) => ctx.fail(format!("{label} {}: {e:#}", p.name())),
            }
        }
    }
    let [mine, theirs] = per_item;
    ctx.records.push(Record::from_runs(label, PEER, "bytes/item", Better::Lower, mine, theirs));
}

/// One fresh server filled with `items` items: its `VmRSS` in KiB before and after.
fn memory_once(ctx: &Ctx, client: &Path, p: &Program, items: u32) -> Result<(u64, u64)> {
    let server = p.start(ctx, "mem")?;
    std::thread::sleep(Duration::from_millis(200)); // let start-up settle
    let before = vm_rss_kib(server.pid())?;
    let mut cmd = proc::command(ctx.pin, CLIENT_CPU, client);
    cmd.args(["--mode", "fill", "--addr", &server.addr.to_string()])
        .args(["--keys", &items.to_string(), "--key-size", "0"])
        .args(["--value-size", &VALUE_SIZE.to_string(), "--fill-secs", "120"]);
    let obj = client_json(proc::run_bounded(cmd, Duration::from_secs(150))?)?;
    ensure!(num(&obj, "stored") == Some(f64::from(items)), "fill stored too few items");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = stats(server.addr)?;
        let stat = |k: &str| stats.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        ensure!(
            stat("curr_items") == Some(&items.to_string()),
            "stats curr_items is {:?}, not {items}",
            stat("curr_items")
        );
        ensure!(stat("evictions") == Some("0"), "stats evictions is {:?}", stat("evictions"));
        if hash_settled(&stats, items) {
            break;
        }
        ensure!(Instant::now() < deadline, "memcached's hash table still growing after 10 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200)); // let freed memory go back
    let after = vm_rss_kib(server.pid())?;
    Ok((before, after))
}

/// Whether a server's hash table has reached its size for `items`. memcached doubles its table
/// on a background thread once the items pass 1.5 per bucket, up to a second or so later (the
/// thread first pauses the others): until `hash_power_level` covers them and
/// `hash_is_expanding` is 0, its RSS is not final. ioman's index grows inline (no such stats).
fn hash_settled(stats: &[(String, String)], items: u32) -> bool {
    let stat = |k: &str| stats.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(power) = stat("hash_power_level").and_then(|p| p.parse::<u32>().ok()) else {
        return true;
    };
    let buckets = 1u64.checked_shl(power).unwrap_or(u64::MAX);
    stat("hash_is_expanding") == Some("0") && u64::from(items) * 2 <= buckets * 3
}

/// `VmRSS` of `pid` in KiB.
fn vm_rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
}

/// Sends `request` and reads until the reply ends with `end` (at most 3 s and 64 KiB).
fn ask(addr: SocketAddr, request: &[u8], end: &[u8]) -> Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    s.write_all(request)?;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(end) && got.len() < 64 * 1024 {
        ensure!(Instant::now() < deadline, "no complete reply in 3 s: {:?}", show(&got));
        match s.read(&mut buf) {
            Ok(0) => bail!("connection closed after {:?}", show(&got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Sends [`CHECK`] and insists on exactly [`CHECK_REPLY`].
fn exchange(addr: SocketAddr) -> Result<()> {
    let got = ask(addr, CHECK, b"DELETED\r\n")?;
    ensure!(got == CHECK_REPLY, "sent {:?}, got {:?}", show(CHECK), show(&got));
    Ok(())
}

/// The `stats` command's `STAT name value` lines.
fn stats(addr: SocketAddr) -> Result<Vec<(String, String)>> {
    parse_stats(&ask(addr, b"stats\r\n", b"END\r\n")?)
}

fn parse_stats(reply: &[u8]) -> Result<Vec<(String, String)>> {
    let text = std::str::from_utf8(reply).context("stats reply is not UTF-8")?;
    let mut out = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty() && *l != "END") {
        let mut f = line.splitn(3, ' ');
        match (f.next(), f.next(), f.next()) {
            (Some("STAT"), Some(name), Some(value)) => out.push((name.into(), value.into())),
            _ => bail!("unexpected stats line {line:?}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{hash_settled, parse_stats};

    #[test]
    fn stats_lines() {
        let s = parse_stats(b"STAT pid 12\r\nSTAT version 1.6.18\r\nSTAT curr_items 3\r\nEND\r\n")
            .unwrap();
        assert_eq!(s[2], ("curr_items".into(), "3".into()));
        assert!(parse_stats(b"ERROR\r\n").is_err());
    }

    #[test]
    fn hash_growth() {
        let stats = |power: &str, expanding: &str| {
            let text = format!(
                "STAT hash_power_level {power}\r\nSTAT hash_is_expanding {expanding}\r\nEND\r\n"
            );
            parse_stats(text.as_bytes()).unwrap()
        };
        assert!(!hash_settled(&stats("17", "0"), 200_000)); // 196,608 items at most
        assert!(!hash_settled(&stats("18", "1"), 200_000));
        assert!(hash_settled(&stats("18", "0"), 200_000));
        assert!(hash_settled(&[], 200_000)); // ioman: no such stats
    }
}

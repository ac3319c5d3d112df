//! RESP comparison: ioman's `kv` example against `redis-server` (persistence off) under
//! `redis-benchmark -t ping,set,get -c 50 --csv`, without and with `-P 16`. Each side first
//! answers one exact PING / SET / GET / inline PING exchange, so a figure never hides errors.

use super::proc::{self, CLIENT_CPU, SERVER_CPU, Server};
use super::report::{Better, Record};
use super::{Ctx, tools};
use anyhow::{Result, ensure};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

const REQUEST: &[u8] = b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$9\r\nbench:key\r\n$5\r\nhello\r\n\
    *2\r\n$3\r\nGET\r\n$9\r\nbench:key\r\nPING\r\n";
const REPLY: &[u8] = b"+PONG\r\n+OK\r\n$5\r\nhello\r\n+PONG\r\n";

/// Runs the RESP comparison.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let Some(bench) = tools::need(ctx, "redis-benchmark", "resp") else { return Ok(()) };
    let kv = ctx.binary(ctx.example("kv"), "resp: ioman side");
    let redis = tools::need(ctx, "redis-server", "resp: peer side");
    let mut sides: Vec<Server> = Vec::new();
    if let Some(kv) = kv {
        let port = proc::free_port()?;
        let mut cmd = proc::command(ctx.pin, SERVER_CPU, &kv);
        cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
        match Server::start("ioman kv", cmd, port, &ctx.log("kv")) {
            Ok(s) => sides.push(s),
            Err(e) => ctx.fail(format!("resp: {e:#}")),
        }
    }
    if let Some(redis) = redis {
        let dir = ctx.out.join("redis");
        std::fs::create_dir_all(&dir)?;
        let port = proc::free_port()?;
        let mut cmd = proc::command(ctx.pin, SERVER_CPU, &redis);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--daemonize", "no", "--dir"])
            .arg(&dir);
        match Server::start("redis-server", cmd, port, &ctx.log("redis-server")) {
            Ok(s) => sides.push(s),
            Err(e) => ctx.fail(format!("resp: {e:#}")),
        }
    }
    let mut checked = Vec::new();
    for s in sides {
        match exchange(s.addr) {
            Ok(()) => checked.push(s),
            Err(e) => ctx.fail(format!("resp: {} failed the PING/SET/GET check: {e:#}", s.name)),
        }
    }
    if checked.is_empty() {
        return Ok(());
    }
    for pipeline in [1u32, 16] {
        let n: u64 = match (ctx.quick, pipeline) {
            (true, 1) => 50_000,
            (true, _) => 500_000,
            (false, 1) => 300_000,
            (false, _) => 3_000_000,
        };
        // test name -> side index -> samples
        let mut rps: BTreeMap<String, [Vec<f64>; 2]> = BTreeMap::new();
        for round in 0..ctx.rounds {
            for s in &checked {
                let side = usize::from(s.name == "redis-server");
                match bench_run(ctx, &bench, s.addr, pipeline, n) {
                    Ok(rows) => {
                        let shown: Vec<String> =
                            rows.iter().map(|(t, r)| format!("{t} {r:.0}")).collect();
                        println!(
                            "    round {round} -P {pipeline} {:<12} {}",
                            s.name,
                            shown.join("  ")
                        );
                        for (test, r) in rows {
                            rps.entry(test).or_default()[side].push(r);
                        }
                    }
                    Err(e) => ctx.fail(format!("resp -P {pipeline} {}: {e:#}", s.name)),
                }
            }
        }
        for (test, [mine, theirs]) in rps {
            let name = format!("resp {test} -P {pipeline}");
            ctx.records.push(Record::from_runs(
                name,
                "redis-server",
                "req/s",
                Better::Higher,
                mine,
                theirs,
            ));
        }
    }
    Ok(()) // `checked` drops here: both servers stop
}

/// Sends [`REQUEST`] and insists on exactly [`REPLY`].
fn exchange(addr: SocketAddr) -> Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    s.write_all(REQUEST)?;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < REPLY.len() && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    ensure!(
        got == REPLY,
        "sent {:?}, got {:?}",
        String::from_utf8_lossy(REQUEST),
        String::from_utf8_lossy(&got)
    );
    Ok(())
}

/// One pinned `redis-benchmark --csv` run: (test name, requests per second) per row.
fn bench_run(
    ctx: &Ctx,
    bench: &Path,
    addr: SocketAddr,
    pipeline: u32,
    n: u64,
) -> Result<Vec<(String, f64)>> {
    let mut cmd = proc::command(ctx.pin, CLIENT_CPU, bench);
    cmd.args(["-h", "127.0.0.1", "-p", &addr.port().to_string(), "-t", "ping,set,get"]).args([
        "-c",
        "50",
        "-n",
        &n.to_string(),
        "-P",
        &pipeline.to_string(),
        "--csv",
    ]);
    let out = proc::run_bounded(cmd, Duration::from_secs(if ctx.quick { 90 } else { 300 }))?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "redis-benchmark failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = parse_csv(&text);
    ensure!(!rows.is_empty(), "no CSV rows in redis-benchmark output: {text:?}");
    Ok(rows)
}

/// Rows of `"TEST","rps",...` (the header row is skipped).
fn parse_csv(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(',').map(|f| f.trim().trim_matches('"'));
            let test = f.next()?;
            let rps = f.next()?.parse().ok()?;
            Some((test.to_owned(), rps))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_csv;

    #[test]
    fn csv_rows() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\"\n\"PING_INLINE\",\"104166.67\",\"0.263\"\n\
                    \"SET\",\"99009.90\",\"0.3\"\n";
        let rows = parse_csv(text);
        assert_eq!(rows, vec![("PING_INLINE".into(), 104166.67), ("SET".into(), 99009.90)]);
    }
}

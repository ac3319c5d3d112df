//! HTTP comparison: ioman's `httpd` example against nginx (one loop vs one worker, and two
//! vs two when httpd takes `--threads 2`), under `wrk -t1 -c100 --latency`. Figures: the same
//! small static file from both, and ioman's embedded page at `/` against nginx's fixed
//! `return 200`. Each side is checked with one plain GET before it is measured.

use super::proc::{self, SERVER_CPU, Server};
use super::report::{Better, Record};
use super::{Ctx, nginx, tools, wrk};
use anyhow::{Context, Result, ensure};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

const STATIC_FILE: &str = "small.txt";
const STATIC_SIZE: usize = 512;

/// One figure: which path each side serves.
struct Target {
    label: &'static str,
    ioman_path: &'static str,
    nginx_path: &'static str,
}

const TARGETS: &[Target] = &[
    Target { label: "static 512B", ioman_path: "/small.txt", nginx_path: "/small.txt" },
    Target {
        label: "hello (/index.html vs return 200)",
        ioman_path: "/",
        nginx_path: nginx::FIXED,
    },
];

/// Runs the HTTP comparison.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let Some(wrk) = tools::need(ctx, "wrk", "http") else { return Ok(()) };
    let httpd = ctx.binary(ctx.example("httpd"), "http: ioman side");
    let nginx = tools::need(ctx, "nginx", "http: peer side");
    if httpd.is_none() && nginx.is_none() {
        return Ok(());
    }
    let www = ctx.out.join("www");
    std::fs::create_dir_all(&www)?;
    let body: String = (0..STATIC_SIZE).map(|i| if i % 64 == 63 { '\n' } else { 'a' }).collect();
    std::fs::write(www.join(STATIC_FILE), body)?;
    // ioman's `/` is this file (served from its cache), nginx's is a fixed `return 200`.
    std::fs::write(www.join("index.html"), "hello\n")?;

    for workers in [1usize, 2] {
        if workers > 1 && httpd.is_none() {
            ctx.skip("http 2 loops vs 2 workers: needs ioman's httpd example");
            continue;
        }
        let mut ioman = None;
        if let Some(h) = &httpd {
            let port = proc::free_port()?;
            let cpus = if workers > 1 { "0,1" } else { SERVER_CPU };
            let mut cmd = proc::command(ctx.pin, cpus, h);
            cmd.args(["--listen", &format!("127.0.0.1:{port}")]).arg("--root").arg(&www);
            if workers > 1 {
                cmd.args(["--threads", &workers.to_string()]);
            }
            match Server::start("ioman httpd", cmd, port, &ctx.log(&format!("httpd-{workers}"))) {
                Ok(s) => ioman = Some(s),
                Err(e) if workers > 1 => {
                    ctx.skip(format!("http 2 loops: httpd did not start with --threads 2 ({e:#})"))
                }
                Err(e) => ctx.fail(format!("http: {e:#}")),
            }
        }
        if workers > 1 && ioman.is_none() {
            continue; // without ioman's 2-loop side there is nothing to compare
        }
        let mut peer = None;
        if let Some(n) = &nginx {
            let port = proc::free_port()?;
            let cmd = nginx::command(ctx, n, port, &www, workers)?;
            match Server::start("nginx", cmd, port, &ctx.log(&format!("nginx-{workers}"))) {
                Ok(s) => peer = Some(s),
                Err(e) => ctx.fail(format!("http: {e:#}")),
            }
        }
        let targets = if workers > 1 { &TARGETS[..1] } else { TARGETS };
        for t in targets {
            let label = if workers > 1 {
                format!("{} 2 loops/workers", t.label)
            } else {
                t.label.to_owned()
            };
            compare(ctx, &wrk, &label, t, ioman.as_ref(), peer.as_ref(), workers);
        }
    } // servers stop here, on every path
    Ok(())
}

/// Measures one figure on both sides, A B A B.
fn compare(
    ctx: &mut Ctx,
    wrk: &Path,
    label: &str,
    t: &Target,
    ioman: Option<&Server>,
    peer: Option<&Server>,
    workers: usize,
) {
    let mut sides: Vec<(&Server, &str)> = Vec::new();
    for (server, path) in [(ioman, t.ioman_path), (peer, t.nginx_path)] {
        let Some(s) = server else { continue };
        match get_ok(s.addr, path) {
            Ok(()) => sides.push((s, path)),
            Err(e) => ctx.fail(format!("http {label}: {} GET {path}: {e:#}", s.name)),
        }
    }
    let mut rps = [Vec::new(), Vec::new()];
    let mut p99 = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    for round in 0..ctx.rounds {
        for (server, path) in &sides {
            let i = usize::from(server.name == "nginx");
            match wrk_run(ctx, wrk, server, path) {
                Ok(r) => {
                    println!(
                        "    round {round} {label} {:<12} {:>10.0} req/s  p99 {:>8.1} us",
                        server.name, r.rps, r.p99_us
                    );
                    rps[i].push(r.rps);
                    p99[i].push(r.p99_us);
                    cpu[i].extend(r.cpu_ns);
                }
                Err(e) => ctx.fail(format!("http {label} {}: {e:#}", server.name)),
            }
        }
    }
    let [ri, rp] = rps;
    let [pi, pp] = p99;
    let [ci, cp] = cpu;
    ctx.records.push(Record::from_runs(
        format!("http {label}"),
        "nginx",
        "req/s",
        Better::Higher,
        ri,
        rp,
    ));
    ctx.records.push(Record::from_runs(
        format!("http {label} p99"),
        "nginx",
        "us",
        Better::Lower,
        pi,
        pp,
    ));
    if workers == 1 {
        let name = format!("http {label} server CPU");
        ctx.records.push(Record::from_runs(name, "nginx", "ns/req", Better::Lower, ci, cp));
    }
}

/// One plain `GET` that must answer 200.
fn get_ok(addr: SocketAddr, path: &str) -> Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        let m = s.read(&mut buf[n..])?;
        ensure!(m > 0, "connection closed after {n} bytes");
        n += m;
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    ensure!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "got {head:?}");
    Ok(())
}

struct WrkResult {
    rps: f64,
    p99_us: f64,
    cpu_ns: Option<f64>,
}

/// One pinned `wrk` run (always on the client CPU, also when the server has both CPUs).
fn wrk_run(ctx: &Ctx, wrk: &Path, server: &Server, path: &str) -> Result<WrkResult> {
    let run = wrk::run(ctx, wrk, server, &["-c100", "--latency"], path)?;
    let text = &run.text;
    let rps: f64 =
        wrk::field(text, "Requests/sec:").context("no Requests/sec in wrk output")?.parse()?;
    let p99_us = wrk::latency_us(wrk::field(text, "99%").context("no 99% latency in wrk output")?)?;
    let requests = wrk::requests(text).unwrap_or(0.0);
    let cpu_ns = run.cpu.filter(|_| requests > 0.0).map(|cpu| cpu.as_nanos() as f64 / requests);
    Ok(WrkResult { rps, p99_us, cpu_ns })
}

//! The throughput figures of the TLS comparison, on one HTTPS server per side kept for all of
//! them: keep-alive requests, new connections (wrk's resumed handshakes, then full ones from
//! `idle-tls handshakes`) and bulk transfer. Each figure warms each side up once (unmeasured),
//! then runs A B A B; the server's CPU time per request, connection or MiB comes from
//! schedstat over each run, and stays meaningful when the one client CPU is the bottleneck.
//! Before every run both servers must be idle (see [`servers::settle`]), and wrk runs with a
//! script that skips its probe connection (see [`Setup::wrk_script`]).
//!
//! Before the figures, a throwaway nginx that logs `$ssl_protocol $ssl_cipher $ssl_curve
//! $ssl_session_reused` serves one second of `wrk -c4 -H "Connection: close"`: what wrk
//! negotiates, and whether it resumes sessions, is read from that log and named in the figure.

use super::servers::{self, BIG_FILE, BIG_SIZE, SMALL_FILE, SMALL_SIZE, Setup, Side};
use crate::bench::json::{self, num};
use crate::bench::proc::{self, CLIENT_CPU, Server};
use crate::bench::report::{Better, Record};
use crate::bench::{Ctx, wrk};
use anyhow::{Context, Result, bail, ensure};
use std::path::Path;
use std::time::Duration;

const MIB: f64 = 1024.0 * 1024.0;
/// Connections in flight for the request and handshake figures.
const CONNS: &str = "50";

/// How one figure loads a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// `wrk -c50` on the small file over keep-alive connections.
    KeepAlive,
    /// `wrk -c50 -H "Connection: close"`: a new connection per request, as wrk makes them.
    CloseWrk,
    /// `idle-tls handshakes`: a new connection and a full handshake per request.
    CloseFull,
    /// `wrk -c1` on the big file.
    Bulk,
}

impl Load {
    /// The figure's name, its unit and the unit of the server's CPU time per unit of work.
    fn names(self, resumption: &str) -> (String, &'static str, &'static str) {
        match self {
            Load::KeepAlive => (format!("tls keep-alive 512B, -c{CONNS}"), "req/s", "ns/req"),
            Load::CloseWrk => (
                format!("tls new connection per request, wrk -c{CONNS} ({resumption})"),
                "conns/s",
                "us/conn",
            ),
            Load::CloseFull => (
                format!("tls new connection per request, full handshake, -c{CONNS}"),
                "conns/s",
                "us/conn",
            ),
            Load::Bulk => ("tls bulk 256 MiB file, wrk -c1".into(), "MiB/s", "us/MiB"),
        }
    }
}

/// One measured run.
struct Sample {
    /// Requests, connections or MiB per second.
    rate: f64,
    /// wrk's 99th percentile latency, when it reports one.
    p99_us: Option<f64>,
    /// The server's CPU time per unit (ns per request, us per connection or MiB).
    cpu: Option<f64>,
}

/// Runs every throughput figure.
pub fn run(ctx: &mut Ctx, setup: &Setup, sides: &[Side], wrk: &Path) -> Result<()> {
    let resumption = match sides.iter().find(|s| !s.is_ioman()) {
        Some(nginx) => match wrk_check(ctx, setup, nginx, wrk) {
            Ok(kind) => kind,
            Err(e) => {
                ctx.fail(format!("tls: the wrk negotiation check: {e:#}"));
                "wrk"
            }
        },
        None => "wrk",
    };
    let servers = start(ctx, setup, sides);
    for load in [Load::KeepAlive, Load::CloseWrk, Load::CloseFull, Load::Bulk] {
        figure(ctx, setup, &servers, Some(wrk), load, resumption);
    }
    Ok(()) // the servers stop here
}

/// Without wrk, only the full-handshake figure (its client is ours).
pub fn handshakes_only(ctx: &mut Ctx, setup: &Setup, sides: &[Side]) -> Result<()> {
    let servers = start(ctx, setup, sides);
    figure(ctx, setup, &servers, None, Load::CloseFull, "wrk");
    Ok(())
}

/// Starts one HTTPS server per side and checks it (both files); a side that fails is left out.
fn start(ctx: &mut Ctx, setup: &Setup, sides: &[Side]) -> Vec<(Server, bool)> {
    let mut servers = Vec::new();
    for side in sides {
        let started = side.start(ctx, setup, true, None).and_then(|s| {
            let small = setup.check(ctx, &s, &format!("/{SMALL_FILE}"), SMALL_SIZE)?;
            setup.check(ctx, &s, &format!("/{BIG_FILE}"), BIG_SIZE)?; // also warms the page cache
            println!("    {} answers HTTPS, with our client: {small}", side.name());
            Ok(s)
        });
        match started {
            Ok(s) => servers.push((s, side.is_ioman())),
            Err(e) => ctx.fail(format!("tls: {}: {e:#}", side.name())),
        }
    }
    servers
}

/// Measures one figure on every server, A B A B, and records it.
fn figure(
    ctx: &mut Ctx,
    setup: &Setup,
    servers: &[(Server, bool)],
    wrk: Option<&Path>,
    load: Load,
    resumption: &str,
) {
    let (label, unit, cpu_unit) = load.names(resumption);
    println!("    {label}");
    let warmup = ctx.warmup.max(Duration::from_secs(1));
    let mut waited = vec![Duration::ZERO; servers.len()];
    for (server, _) in servers {
        idle_first(ctx, servers, &label, &mut waited);
        if let Err(e) = measure(ctx, setup, wrk, server, load, warmup) {
            ctx.fail(format!("{label} {} (warm-up): {e:#}", server.name));
        }
    }
    let mut rate = [Vec::new(), Vec::new()];
    let mut p99 = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    for round in 0..ctx.rounds {
        for (server, ioman) in servers {
            let i = usize::from(!*ioman);
            idle_first(ctx, servers, &label, &mut waited);
            match measure(ctx, setup, wrk, server, load, ctx.run_time) {
                Ok(s) => {
                    println!(
                        "    round {round} {:<12} {:>10.0} {unit}  p99 {:>8} us  server CPU \
                         {:>8.1} {cpu_unit}",
                        server.name,
                        s.rate,
                        s.p99_us.map_or("-".into(), |p| format!("{p:.0}")),
                        s.cpu.unwrap_or(f64::NAN)
                    );
                    rate[i].push(s.rate);
                    p99[i].extend(s.p99_us);
                    cpu[i].extend(s.cpu);
                }
                Err(e) => ctx.fail(format!("{label} {}: {e:#}", server.name)),
            }
        }
    }
    for ((server, _), waited) in servers.iter().zip(waited) {
        if waited > Duration::from_secs(1) {
            let note = format!(
                "{label}: {} kept using a CPU with no load for up to {waited:.1?} after a run \
                 (a regression: e.g. spinning on connections their client left mid-handshake); \
                 each run waited for it to go idle",
                server.name
            );
            println!("    note: {note}");
            ctx.notes.push(note);
        }
    }
    let [ri, rp] = rate;
    ctx.records.push(Record::from_runs(&label, "nginx", unit, Better::Higher, ri, rp));
    let [pi, pp] = p99;
    if !pi.is_empty() || !pp.is_empty() {
        let name = format!("{label} p99");
        ctx.records.push(Record::from_runs(name, "nginx", "us", Better::Lower, pi, pp));
    }
    let [ci, cp] = cpu;
    let name = format!("{label} server CPU");
    ctx.records.push(Record::from_runs(name, "nginx", cpu_unit, Better::Lower, ci, cp));
}

/// Waits for every server to go idle before a run (see [`servers::settle`]: they share the
/// server CPU, so one that spins would slow the other down), keeping each one's longest wait;
/// a server still busy after 15 s is a failure (and the run goes ahead).
fn idle_first(ctx: &mut Ctx, servers: &[(Server, bool)], label: &str, longest: &mut [Duration]) {
    for ((server, _), longest) in servers.iter().zip(longest) {
        match servers::settle(server, Duration::from_secs(15)) {
            Some(waited) => *longest = (*longest).max(waited),
            None => {
                ctx.fail(format!("{label} {}: still busy after 15 s without load", server.name))
            }
        }
    }
}

/// One run of `load` against `server` for `time`.
fn measure(
    ctx: &Ctx,
    setup: &Setup,
    wrk: Option<&Path>,
    server: &Server,
    load: Load,
    time: Duration,
) -> Result<Sample> {
    let secs = time.as_secs().max(1);
    let (small, big) = (format!("/{SMALL_FILE}"), format!("/{BIG_FILE}"));
    let (args, path): (&[&str], &str) = match load {
        Load::KeepAlive => (&["-c", CONNS, "--latency"], &small),
        Load::CloseWrk => (&["-c", CONNS, "--latency", "-H", "Connection: close"], &small),
        Load::Bulk => (&["-c1", "--timeout", "60s"], &big),
        Load::CloseFull => return handshakes(ctx, setup, server, secs),
    };
    let wrk = wrk.context("wrk is needed")?;
    let run = wrk_run(ctx, (wrk, &setup.wrk_script), server, args, path, secs)?;
    let text = &run.text;
    let cpu_ns = run.cpu.map(|c| c.as_nanos() as f64);
    if load == Load::Bulk {
        let per_sec =
            wrk::field(text, "Transfer/sec:").and_then(bytes).context("no Transfer/sec")?;
        let read = total_read(text).context("no byte count in wrk output")?;
        ensure!(read > 0.0, "nothing read");
        let cpu = cpu_ns.map(|ns| ns / 1e3 / (read / MIB));
        return Ok(Sample { rate: per_sec / MIB, p99_us: None, cpu });
    }
    let rate: f64 =
        wrk::field(text, "Requests/sec:").context("no Requests/sec in wrk output")?.parse()?;
    let p99 = wrk::field(text, "99%").context("no 99% latency in wrk output")?;
    let requests = wrk::requests(text).filter(|n| *n > 0.0).context("no request completed")?;
    let per = if load == Load::KeepAlive { 1.0 } else { 1e3 }; // ns per request, us per conn
    let cpu = cpu_ns.map(|ns| ns / per / requests);
    Ok(Sample { rate, p99_us: Some(wrk::latency_us(p99)?), cpu })
}

/// `idle-tls handshakes` for `secs`: full handshakes per second, server CPU us per connection.
fn handshakes(ctx: &Ctx, setup: &Setup, server: &Server, secs: u64) -> Result<Sample> {
    let (addr, cert) = (server.addr.to_string(), setup.cert.to_string_lossy());
    let (path, size, secs_s) = (format!("/{SMALL_FILE}"), SMALL_SIZE.to_string(), secs.to_string());
    let args = [
        "handshakes",
        "--addr",
        &addr,
        "--ca",
        &cert,
        "--conns",
        CONNS,
        "--secs",
        &secs_s,
        "--path",
        &path,
        "--size",
        &size,
    ];
    let cpu0 = server.cpu();
    let line = setup.client(ctx, &args, Duration::from_secs(secs + 60))?;
    let cpu1 = server.cpu();
    let obj = json::parse_object(&line).with_context(|| format!("idle-tls printed {line}"))?;
    let done = num(&obj, "done").context("no \"done\"")?;
    let resumed = num(&obj, "resumed").unwrap_or(f64::NAN);
    let errors = num(&obj, "errors").unwrap_or(f64::NAN);
    ensure!(resumed == 0.0, "{resumed} handshakes resumed: {line}");
    ensure!(errors <= 10.0 + done / 100.0, "{errors} failed connections: {line}");
    let cpu = cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a).as_nanos() as f64 / 1e3 / done);
    Ok(Sample { rate: num(&obj, "per_sec").context("no \"per_sec\"")?, p99_us: None, cpu })
}

/// `wrk -t1 -d<secs>s -s no-probe.lua ARGS https://SERVER<path>` on the client CPU (the
/// script keeps wrk from opening a probe connection first, see [`Setup::wrk_script`]), with
/// the server's CPU time over the run. A failed run, answers other than 2xx/3xx, or more than
/// a few socket errors are errors.
fn wrk_run(
    ctx: &Ctx,
    (wrk, script): (&Path, &Path),
    server: &Server,
    args: &[&str],
    path: &str,
    secs: u64,
) -> Result<wrk::Run> {
    let mut cmd = proc::command(ctx.pin, CLIENT_CPU, wrk);
    cmd.args(["-t1", &format!("-d{secs}s")]).arg("-s").arg(script).args(args);
    cmd.arg(format!("https://{}{path}", server.addr));
    let cpu0 = server.cpu();
    let out = proc::run_bounded(cmd, Duration::from_secs(secs + 60))?;
    let cpu1 = server.cpu();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "wrk failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(n) = wrk::field(&text, "Non-2xx or 3xx responses:") {
        bail!("{n} responses were not 2xx/3xx");
    }
    let errors = socket_errors(&text);
    let requests = wrk::requests(&text).unwrap_or(0.0);
    ensure!(errors <= 10.0 + requests / 100.0, "{errors} socket errors in {requests} requests");
    let cpu = cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a));
    Ok(wrk::Run { text, cpu })
}

/// The sum of wrk's `Socket errors: connect 0, read 0, write 0, timeout 0` (0 when absent).
fn socket_errors(text: &str) -> f64 {
    wrk::field(text, "Socket errors:").map_or(0.0, |e| {
        e.split(',').filter_map(|p| p.split_whitespace().nth(1)?.parse::<f64>().ok()).sum()
    })
}

/// A wrk byte count such as `865.34MB` (powers of 1024), in bytes.
fn bytes(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, scale) = [("GB", 3), ("MB", 2), ("KB", 1), ("B", 0)]
        .iter()
        .find_map(|(suffix, p)| s.strip_suffix(suffix).map(|n| (n, 1024f64.powi(*p))))?;
    Some(num.trim().parse::<f64>().ok()? * scale)
}

/// The bytes of `N requests in 5.00s, 1.21GB read`.
fn total_read(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains(" requests in "))?;
    bytes(line.rsplit_once(", ")?.1.strip_suffix(" read")?)
}

/// What wrk negotiates with nginx and whether it resumes sessions, from one second of `wrk
/// -c4 -H "Connection: close"` against an nginx that logs both. Returns the word for the
/// figure's name: `resumed`, `full handshakes` or `mixed`.
fn wrk_check(ctx: &Ctx, setup: &Setup, nginx: &Side, wrk: &Path) -> Result<&'static str> {
    let log = ctx.out.join("tls").join("wrk-check.log");
    let _ = std::fs::remove_file(&log);
    {
        let server = nginx.start(ctx, setup, true, Some(&log))?;
        let args = ["-c4", "-H", "Connection: close"];
        let path = format!("/{SMALL_FILE}");
        wrk_run(ctx, (wrk, &setup.wrk_script), &server, &args, &path, 1)?;
    } // nginx stops here; its access log is written unbuffered
    let text = std::fs::read_to_string(&log).with_context(|| format!("read {}", log.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    ensure!(!lines.is_empty(), "nginx logged no request in {}", log.display());
    let resumed = lines.iter().filter(|l| l.ends_with(" r")).count();
    let mut seen: Vec<&str> =
        lines.iter().map(|l| l.rsplit_once(' ').map_or(*l, |(params, _)| params)).collect();
    seen.sort_unstable();
    seen.dedup();
    println!(
        "    wrk against nginx, one second of Connection: close: {} connections, {resumed} \
         resumed a session; negotiated: {}",
        lines.len(),
        seen.join(" / ")
    );
    let share = resumed as f64 / lines.len() as f64;
    Ok(if share >= 0.9 {
        "resumed"
    } else if share <= 0.1 {
        "full handshakes"
    } else {
        "mixed"
    })
}

#[cfg(test)]
mod tests {
    use super::{bytes, socket_errors, total_read};
    use crate::bench::wrk::latency_us;

    #[test]
    fn wrk_fields() {
        assert_eq!(bytes("512.00B"), Some(512.0));
        assert_eq!(bytes("1.50KB"), Some(1536.0));
        assert_eq!(bytes(" 2.00MB"), Some(2.0 * 1024.0 * 1024.0));
        assert_eq!(bytes("1.00GB"), Some(1024f64.powi(3)));
        assert_eq!(bytes("3TB"), None);
        let text = "  12 requests in 5.00s, 3.00GB read\n  Socket errors: connect 0, read 2, \
                    write 0, timeout 1\nRequests/sec: 2.40\nTransfer/sec: 614.40MB\n";
        assert_eq!(total_read(text), Some(3.0 * 1024f64.powi(3)));
        assert_eq!(socket_errors(text), 3.0);
        assert_eq!(socket_errors("Requests/sec: 1\n"), 0.0);
        assert_eq!(latency_us("1.50ms").unwrap(), 1500.0);
        assert!(latency_us("3h").is_err());
    }
}

//! Large-file throughput: httpd (file bodies sent with `sendfile`) against nginx with
//! `sendfile on`, both serving the same 16 MiB file to `wrk -t1 -c4`, A B A B. Figures: body
//! bytes per second (MiB/s) and the server's CPU time per MiB sent (from schedstat; it stays
//! meaningful when the client, which copies every byte, is the bottleneck). Each side first
//! serves the whole file once to a checking client, which also warms the page cache.

use super::servers::{self, LARGE_FILE, LARGE_SIZE, Program};
use crate::bench::Ctx;
use crate::bench::proc::Server;
use crate::bench::report::{Better, Record};
use crate::bench::wrk;
use anyhow::{Context, Result, bail, ensure};
use std::path::Path;

const MIB: f64 = 1024.0 * 1024.0;

/// Runs the comparison with whichever sides exist.
pub fn run(ctx: &mut Ctx, wrk: &Path, www: &Path, sides: &[Program]) -> Result<()> {
    let mut servers: Vec<(Server, bool)> = Vec::new();
    for p in sides {
        let started = p.start(ctx, www).and_then(|s| {
            let took = servers::http_get(s.addr, &format!("/{LARGE_FILE}"), LARGE_SIZE)?;
            println!("    {} served the 16 MiB file to a checking client in {took:.1?}", p.name());
            Ok(s)
        });
        match started {
            Ok(s) => servers.push((s, p.is_ioman())),
            Err(e) => ctx.fail(format!("flow large file: {}: {e:#}", p.name())),
        }
    }
    let label = "flow large file 16 MiB, wrk -c4";
    let mut rate = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    for round in 0..ctx.rounds {
        for (server, ioman) in &servers {
            let i = usize::from(!*ioman);
            match wrk_run(ctx, wrk, server) {
                Ok((mib_s, us_per_mib)) => {
                    println!(
                        "    round {round} large file {:<12} {mib_s:>9.0} MiB/s  server CPU \
                         {:>7.1} us/MiB",
                        server.name,
                        us_per_mib.unwrap_or(f64::NAN)
                    );
                    rate[i].push(mib_s);
                    cpu[i].extend(us_per_mib);
                }
                Err(e) => ctx.fail(format!("{label} {}: {e:#}", server.name)),
            }
        }
    }
    let [ri, rp] = rate;
    let [ci, cp] = cpu;
    ctx.records.push(Record::from_runs(label, "nginx", "MiB/s", Better::Higher, ri, rp));
    let name = "flow large file 16 MiB server CPU";
    ctx.records.push(Record::from_runs(name, "nginx", "us/MiB", Better::Lower, ci, cp));
    Ok(()) // both servers stop here
}

/// One pinned `wrk` run: body MiB per second and server CPU microseconds per MiB.
fn wrk_run(ctx: &Ctx, wrk: &Path, server: &Server) -> Result<(f64, Option<f64>)> {
    let path = format!("/{LARGE_FILE}");
    let run = wrk::run(ctx, wrk, server, &["-c4", "--timeout", "10s"], &path)?;
    let (rps, requests) = parse_wrk(&run.text)?;
    let mib = requests * LARGE_SIZE as f64 / MIB;
    let cpu = run.cpu.filter(|_| mib > 0.0).map(|cpu| cpu.as_nanos() as f64 / 1e3 / mib);
    Ok((rps * LARGE_SIZE as f64 / MIB, cpu))
}

/// `Requests/sec` and the number of completed requests from wrk's output; an error for
/// non-2xx answers or socket errors other than the in-flight requests cut at the end.
fn parse_wrk(text: &str) -> Result<(f64, f64)> {
    if let Some(n) = wrk::field(text, "Non-2xx or 3xx responses:") {
        bail!("{n} responses were not 2xx/3xx");
    }
    if let Some(errors) = wrk::field(text, "Socket errors:")
        && errors.split(',').any(|e| e.contains("timeout") && !e.trim().ends_with(" 0"))
    {
        bail!("socket errors: {errors}");
    }
    let rps: f64 =
        wrk::field(text, "Requests/sec:").context("no Requests/sec in wrk output")?.parse()?;
    let requests = wrk::requests(text).context("no request count in wrk output")?;
    ensure!(requests > 0.0, "wrk completed no request");
    Ok((rps, requests))
}

#[cfg(test)]
mod tests {
    use super::parse_wrk;

    #[test]
    fn wrk_output() {
        let ok = "Running 5s test @ http://127.0.0.1:1/large.bin\n  1 threads and 4 connections\n\
                  \x20 1234 requests in 5.00s, 19.28GB read\nRequests/sec:    246.80\n\
                  Transfer/sec:      3.86GB\n";
        assert_eq!(parse_wrk(ok).unwrap(), (246.8, 1234.0));
        let cut = format!("{ok}  Socket errors: connect 0, read 4, write 0, timeout 0\n");
        assert!(parse_wrk(&cut).is_ok());
        let late = format!("{ok}  Socket errors: connect 0, read 0, write 0, timeout 3\n");
        assert!(parse_wrk(&late).is_err());
        assert!(parse_wrk(&format!("{ok}  Non-2xx or 3xx responses: 7\n")).is_err());
    }
}

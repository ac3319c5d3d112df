//! Memory per idle connection: `idle-tls idle` opens thousands of connections to a fresh
//! server (4,000; 1,000 with `--quick`), each doing a full TLS handshake and one keep-alive
//! `GET` of the small file, and reports the server's RSS growth over their number; then the
//! same over plain HTTP, for reference. Kernel socket buffers are not in RSS, so the figure is
//! what the server's own code (and its TLS library) keeps per connection. Rounds alternate
//! A B A B, at most 3 (each costs a server start and thousands of handshakes).

use super::servers::{SMALL_FILE, SMALL_SIZE, Setup, Side};
use crate::bench::Ctx;
use crate::bench::json::{self, num};
use crate::bench::proc::Server;
use crate::bench::report::{Better, Record};
use anyhow::{Context, Result};
use std::time::Duration;

const MIB: f64 = 1024.0 * 1024.0;

/// Measures both figures (TLS, then plain) on every side.
pub fn run(ctx: &mut Ctx, setup: &Setup, sides: &[Side]) -> Result<()> {
    let conns = if ctx.quick { 1_000 } else { 4_000 };
    for tls in [true, false] {
        let label = match tls {
            true => format!("tls idle connection memory ({conns} conns, one GET each)"),
            false => format!("tls reference: idle connection memory without TLS ({conns} conns)"),
        };
        println!("    {label}");
        let mut per_conn = [Vec::new(), Vec::new()];
        for round in 0..ctx.rounds.min(3) {
            for side in sides {
                let measured = side
                    .start(ctx, setup, tls, None)
                    .and_then(|server| one(ctx, setup, &server, tls, conns));
                match measured {
                    Ok((bytes, [before, after])) => {
                        println!(
                            "    round {round} {:<12} {bytes:>9.0} bytes/conn  (RSS {:.1} -> \
                             {:.1} MiB)",
                            side.name(),
                            before / MIB,
                            after / MIB
                        );
                        per_conn[usize::from(!side.is_ioman())].push(bytes);
                    }
                    Err(e) => ctx.fail(format!("{label} {}: {e:#}", side.name())),
                }
            }
        }
        let [mine, theirs] = per_conn;
        let record = Record::from_runs(label, "nginx", "bytes/conn", Better::Lower, mine, theirs);
        ctx.records.push(record);
    }
    Ok(())
}

/// One measurement on a fresh server (stopped when this returns): bytes per connection, and
/// the server's RSS before and after opening the connections.
fn one(
    ctx: &Ctx,
    setup: &Setup,
    server: &Server,
    tls: bool,
    conns: usize,
) -> Result<(f64, [f64; 2])> {
    let (addr, pid) = (server.addr.to_string(), server.pid().to_string());
    let (path, size, n) = (format!("/{SMALL_FILE}"), SMALL_SIZE.to_string(), conns.to_string());
    let cert = setup.cert.to_string_lossy();
    let mut args = vec![
        "idle", "--addr", &addr, "--pid", &pid, "--conns", &n, "--path", &path, "--size", &size,
    ];
    if tls {
        args.extend(["--ca", &cert]);
    }
    let line = setup.client(ctx, &args, Duration::from_secs(300))?;
    let obj = json::parse_object(&line).with_context(|| format!("idle-tls printed {line}"))?;
    let field = |k: &str| num(&obj, k).with_context(|| format!("no {k:?} in {line}"));
    Ok((field("per_conn")?, [field("rss_before")?, field("rss_after")?]))
}

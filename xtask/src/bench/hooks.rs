//! Hooks for the figures measured by binaries that ioman's side provides: timers
//! (`target/release/ioman-bench-timers`) and idle connections (`target/release/idle-conns`),
//! built by the same `cargo build --release -p ioman-bench --bins` when they live there.
//! Each binary is run (with `--quick` in quick mode), bounded in time; every stdout line
//! that starts with `{` is one flat JSON record for the report:
//!
//! `{"name":"timer reset","ioman":3.1,"peer":45.0,"peer_name":"BinaryHeap","unit":"ns/op",
//! "better":"lower","runs":5}` (`ioman`/`peer` may be `null`; `ratio` is computed here).
//!
//! Other lines are shown as they are; a missing binary is skipped with a note.

use super::Ctx;
use super::json::{self, Value, num, str};
use super::proc;
use super::report::{Better, Record};
use anyhow::{Context, Result, bail, ensure};
use std::process::Command;
use std::time::Duration;

const HOOKS: &[(&str, &str)] =
    &[("ioman-bench-timers", "timers"), ("idle-conns", "idle connections")];

/// Runs every hook binary that exists.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    for (bin, what) in HOOKS {
        let Some(path) = ctx.binary(ctx.release(bin), &format!("{what} (hook)")) else { continue };
        let mut cmd = Command::new(&path);
        if ctx.quick {
            cmd.arg("--quick");
        }
        let limit = Duration::from_secs(if ctx.quick { 300 } else { 1200 });
        let result = proc::run_bounded(cmd, limit).and_then(|out| {
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            ensure!(
                out.status.success(),
                "{bin} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            let mut found = 0;
            for line in stdout.lines() {
                if line.starts_with('{') {
                    ctx.records.push(record(line).with_context(|| format!("{bin}: {line}"))?);
                    found += 1;
                } else {
                    println!("    {bin}: {line}");
                }
            }
            ensure!(found > 0, "{bin} printed no JSON record");
            Ok(())
        });
        if let Err(e) = result {
            ctx.fail(format!("{what}: {e:#}"));
        }
    }
    Ok(())
}

/// One hook line as a [`Record`].
fn record(line: &str) -> Result<Record> {
    let obj = json::parse_object(line)?;
    let name = str(&obj, "name").context("\"name\" (a string) is required")?;
    let unit = str(&obj, "unit").context("\"unit\" (a string) is required")?;
    let better = match str(&obj, "better") {
        Some("higher") => Better::Higher,
        Some("lower") => Better::Lower,
        other => bail!("\"better\" must be \"higher\" or \"lower\", got {other:?}"),
    };
    let side = |k: &str| match obj.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Num(n)) => Ok(Some(*n)),
        Some(v) => bail!("\"{k}\" must be a number or null, got {v:?}"),
    };
    let (ioman, peer) = (side("ioman")?, side("peer")?);
    let runs = num(&obj, "runs").unwrap_or(1.0).max(1.0) as usize;
    Ok(Record {
        name: name.to_owned(),
        ioman,
        peer,
        peer_name: str(&obj, "peer_name").unwrap_or("-").to_owned(),
        unit: unit.to_owned(),
        better,
        runs,
        ioman_runs: ioman.into_iter().collect(),
        peer_runs: peer.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::record;

    #[test]
    fn hook_lines() {
        let r = record(concat!(
            r#"{"name":"timer reset","ioman":3.0,"peer":6.0,"peer_name":"BinaryHeap","#,
            r#""unit":"ns/op","better":"lower","runs":5}"#
        ))
        .unwrap();
        assert_eq!(r.ratio(), Some(0.5));
        assert_eq!(r.runs, 5);
        let r =
            record(r#"{"name":"idle","ioman":200,"peer":null,"unit":"B/conn","better":"lower"}"#)
                .unwrap();
        assert_eq!((r.peer, r.ratio(), r.peer_name.as_str()), (None, None, "-"));
        assert!(record(r#"{"name":"x","unit":"u"}"#).is_err());
        assert!(record(r#"{"name":"x","unit":"u","better":"lower","ioman":"3"}"#).is_err());
    }
}

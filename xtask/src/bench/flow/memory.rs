//! One peak-memory measurement: a server's resident set before an attack, its peak during
//! the attack, and the attack itself, run by the pinned `flow-attack` client.
//!
//! The peak is `VmHWM` from `/proc/PID/status`, which is the process's lifetime peak; so the
//! harness starts a fresh server for every measurement and, after preparing it (the kv SET of a
//! 10 MiB value briefly needs twice that), resets the mark to the current RSS by writing `5` to
//! `/proc/PID/clear_refs`. Where that write is refused, the client's own polling of `VmRSS`
//! (every tick) is the peak instead, which can miss a short spike.

use crate::bench::Ctx;
use crate::bench::json::{self, Value, num};
use crate::bench::proc::{self, CLIENT_CPU, Server};
use anyhow::{Context, Result, ensure};
use std::path::Path;
use std::time::Duration;

/// The attack one figure makes.
pub struct Attack {
    /// Connections, each opened and written once.
    pub conns: usize,
    /// The file holding the bytes each connection sends, in one write.
    pub payload: std::path::PathBuf,
    /// Bytes each connection reads per tick (0: never reads).
    pub read_bytes: usize,
    /// How long the connections are held open.
    pub hold: Duration,
}

/// The client's report.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Connections opened and written.
    pub connected: usize,
    /// Bytes read by all connections together.
    pub read: u64,
    /// Connections the server closed during the hold.
    pub closed: usize,
    /// The highest `VmRSS` the client saw, in KiB.
    pub polled_kib: u64,
    /// Whether the server passed the safety cap and the attack was cut short.
    pub capped: bool,
}

/// One measurement's result.
pub struct Sample {
    /// `VmRSS` before the attack, in KiB.
    pub before_kib: u64,
    /// The peak during it, in KiB.
    pub peak_kib: u64,
    /// Whether the peak is the kernel's `VmHWM` (true) or the client's polling (false).
    pub exact: bool,
    /// What the client saw.
    pub outcome: Outcome,
}

impl Sample {
    /// Peak growth in MiB.
    pub fn growth_mib(&self) -> f64 {
        self.peak_kib.saturating_sub(self.before_kib) as f64 / 1024.0
    }
}

/// The server's memory the client stops at: far below this machine's 24 GiB.
pub const CAP_MIB: u64 = 3072;

/// Measures `server`'s peak RSS growth under `attack`. `after` runs once the client has
/// closed its connections and before the peak is read: a small request that the server answers
/// only after finishing whatever the attack started (Redis builds a whole MGET reply before it
/// reads anything else), so that work counts too.
pub fn measure(
    ctx: &Ctx,
    client: &Path,
    server: &Server,
    attack: &Attack,
    after: impl FnOnce() -> Result<()>,
) -> Result<Sample> {
    let pid = server.pid();
    std::thread::sleep(Duration::from_millis(100)); // let the preparation settle
    let before_kib = status_kib(pid, "VmRSS")?;
    let exact = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let mut cmd = proc::command(ctx.pin, CLIENT_CPU, client);
    cmd.arg("--addr")
        .arg(server.addr.to_string())
        .args(["--conns", &attack.conns.to_string()])
        .arg("--payload")
        .arg(&attack.payload)
        .args(["--hold-ms", &attack.hold.as_millis().to_string()])
        .args(["--read-bytes", &attack.read_bytes.to_string()])
        .args(["--pid", &pid.to_string(), "--cap-mib", &CAP_MIB.to_string()]);
    let out = proc::run_bounded(cmd, attack.hold + Duration::from_secs(60))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "flow-attack failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let line =
        stdout.lines().find(|l| l.starts_with('{')).context("flow-attack printed no JSON")?;
    let outcome = parse_outcome(line).with_context(|| format!("flow-attack: {line}"))?;
    ensure!(outcome.connected == attack.conns, "only {} connected", outcome.connected);
    after()?;
    let hwm = if exact { status_kib(pid, "VmHWM")? } else { 0 };
    let peak_kib = hwm.max(outcome.polled_kib).max(before_kib);
    Ok(Sample { before_kib, peak_kib, exact, outcome })
}

/// One `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    let kib = line.split_whitespace().nth(1).with_context(|| format!("{field} value"))?;
    Ok(kib.parse()?)
}

/// The client's JSON line.
fn parse_outcome(line: &str) -> Result<Outcome> {
    let obj = json::parse_object(line)?;
    let field = |k: &str| num(&obj, k).with_context(|| format!("\"{k}\" (a number) is required"));
    Ok(Outcome {
        connected: field("connected")? as usize,
        read: field("read")? as u64,
        closed: field("closed")? as usize,
        polled_kib: field("peak_rss_kib")? as u64,
        capped: obj.get("capped") == Some(&Value::Bool(true)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_lines() {
        let o = parse_outcome(
            r#"{"connected":20,"read":1048576,"closed":1,"peak_rss_kib":9000,"capped":true}"#,
        )
        .unwrap();
        assert_eq!(
            (o.connected, o.read, o.closed, o.polled_kib, o.capped),
            (20, 1 << 20, 1, 9000, true)
        );
        assert!(parse_outcome(r#"{"connected":1}"#).is_err());
        let s = Sample { before_kib: 2048, peak_kib: 3072, exact: true, outcome: o };
        assert_eq!(s.growth_mib(), 1.0);
    }

    #[test]
    fn own_status() {
        let pid = std::process::id();
        assert!(status_kib(pid, "VmRSS").unwrap() > 0);
        assert!(status_kib(pid, "VmHWM").unwrap() > 0);
        assert!(status_kib(pid, "VmNope").is_err());
    }
}

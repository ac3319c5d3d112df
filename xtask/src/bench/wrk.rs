//! One pinned `wrk` run against a server, shared by the `http` and `flow` sections: its output,
//! the server's CPU time during the run, and the fields both sections read from the output.

use super::Ctx;
use super::proc::{self, CLIENT_CPU, Server};
use anyhow::{Result, bail, ensure};
use std::path::Path;
use std::time::Duration;

/// What one run printed, and the server's CPU time (schedstat) during it.
pub struct Run {
    /// wrk's standard output.
    pub text: String,
    /// The server's CPU time over the run, if schedstat could be read.
    pub cpu: Option<Duration>,
}

/// Runs `wrk -t1 -d<run time> ARGS http://SERVER<path>` on the client CPU. A failed run, or
/// any answer that was not 2xx or 3xx, is an error.
pub fn run(ctx: &Ctx, wrk: &Path, server: &Server, args: &[&str], path: &str) -> Result<Run> {
    let secs = ctx.run_time.as_secs().max(1);
    let mut cmd = proc::command(ctx.pin, CLIENT_CPU, wrk);
    cmd.args(["-t1", &format!("-d{secs}s")]).args(args);
    cmd.arg(format!("http://{}{path}", server.addr));
    let cpu0 = server.cpu();
    let out = proc::run_bounded(cmd, Duration::from_secs(secs + 30))?;
    let cpu1 = server.cpu();
    ensure!(
        out.status.success(),
        "wrk failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Some(n) = field(&text, "Non-2xx or 3xx responses:") {
        bail!("{n} responses were not 2xx/3xx");
    }
    let cpu = cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a));
    Ok(Run { text, cpu })
}

/// The value after `prefix` on the first line (trimmed) that starts with it.
pub fn field<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).map(str::trim)
}

/// The number of completed requests (`N requests in ...`).
pub fn requests(text: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// A wrk latency such as `812.00us`, `1.23ms` or `2.00s`, in microseconds.
pub fn latency_us(s: &str) -> Result<f64> {
    let (num, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e6)
    } else {
        bail!("unknown latency {s:?}");
    };
    Ok(num.trim().parse::<f64>()? * scale)
}

#[cfg(test)]
mod tests {
    use super::latency_us;

    #[test]
    fn wrk_latencies() {
        assert_eq!(latency_us("812.00us").unwrap(), 812.0);
        assert_eq!(latency_us("1.50ms").unwrap(), 1500.0);
        assert_eq!(latency_us("2.00s").unwrap(), 2e6);
        assert!(latency_us("3h").is_err());
    }
}

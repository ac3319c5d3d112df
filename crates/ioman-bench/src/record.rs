//! The flat JSON records the `ioman-bench-timers` and `idle-conns` binaries print for
//! `cargo xtask bench` (one object per line: name, ioman, peer, peer_name, unit, better, runs),
//! and the process-memory reading both need.

use anyhow::{Context, Result};

/// One figure: ioman's value against a peer's, in one unit.
#[derive(Debug, Clone)]
pub struct Record {
    /// What was measured.
    pub name: String,
    /// ioman's value (median of the runs).
    pub ioman: f64,
    /// The peer's value (median of the runs).
    pub peer: f64,
    /// Who the peer is.
    pub peer_name: String,
    /// The unit of both values.
    pub unit: &'static str,
    /// Whether a lower value is better.
    pub lower_is_better: bool,
    /// How many runs the medians are taken over.
    pub runs: usize,
}

impl Record {
    /// The record as one line of flat JSON.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"name\":{:?},\"ioman\":{:.2},\"peer\":{:.2},\"peer_name\":{:?},\"unit\":{:?},\
             \"better\":\"{}\",\"runs\":{}}}",
            self.name,
            self.ioman,
            self.peer,
            self.peer_name,
            self.unit,
            if self.lower_is_better { "lower" } else { "higher" },
            self.runs
        )
    }
}

/// The median of some samples (the upper one of an even count); 0 for none.
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

/// Resident set size of process `pid` (`"self"` for this one), in bytes, from
/// `/proc/PID/status`.
pub fn rss_bytes(pid: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line in /proc/PID/status")?;
    let kb: u64 = line.split_whitespace().nth(1).context("VmRSS value")?.parse()?;
    Ok(kb * 1024)
}

/// Whether `--quick` is among the arguments (the only flag these binaries take).
pub fn quick_flag() -> Result<bool> {
    let mut quick = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            other => anyhow::bail!("unknown argument {other:?}; the only flag is --quick"),
        }
    }
    Ok(quick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_flat_json() {
        let r = Record {
            name: "timer reset".into(),
            ioman: 3.14659,
            peer: 45.0,
            peer_name: "BinaryHeap".into(),
            unit: "ns/op",
            lower_is_better: true,
            runs: 5,
        };
        assert_eq!(
            r.to_json(),
            "{\"name\":\"timer reset\",\"ioman\":3.15,\"peer\":45.00,\"peer_name\":\"BinaryHeap\",\
             \"unit\":\"ns/op\",\"better\":\"lower\",\"runs\":5}"
        );
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert!(rss_bytes("self").unwrap() > 0);
    }
}

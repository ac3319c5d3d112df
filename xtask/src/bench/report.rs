//! The benchmark's results: one [`Record`] per figure (ioman's median, the peer's median,
//! their ratio), rendered as the terminal/markdown table and as `report.json`.

use super::json::{number, quote};
use std::fmt::Write as _;

/// Which direction is good for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Throughput-like: more is better.
    Higher,
    /// Cost-like (latency, instructions, bytes): less is better.
    Lower,
}

impl Better {
    /// `"higher"` or `"lower"`, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Better::Higher => "higher",
            Better::Lower => "lower",
        }
    }
}

/// One figure: ioman against one peer, each the median of its runs.
#[derive(Debug, Clone)]
pub struct Record {
    /// What was measured, e.g. `echo 100c/64B msgs/s`.
    pub name: String,
    /// ioman's median (None: ioman's side did not run).
    pub ioman: Option<f64>,
    /// The peer's median (None: the peer did not run).
    pub peer: Option<f64>,
    /// Who the peer is.
    pub peer_name: String,
    /// Unit of both values.
    pub unit: String,
    /// Which direction is good.
    pub better: Better,
    /// Rounds per side (the number of samples behind each median).
    pub runs: usize,
    /// ioman's samples, in run order.
    pub ioman_runs: Vec<f64>,
    /// The peer's samples, in run order.
    pub peer_runs: Vec<f64>,
}

/// The median of `v` (mean of the middle two for even lengths); None when empty.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    Some(if s.len() % 2 == 1 { s[m] } else { (s[m - 1] + s[m]) / 2.0 })
}

impl Record {
    /// A record from both sides' samples.
    pub fn from_runs(
        name: impl Into<String>,
        peer_name: &str,
        unit: &str,
        better: Better,
        ioman_runs: Vec<f64>,
        peer_runs: Vec<f64>,
    ) -> Record {
        Record {
            name: name.into(),
            ioman: median(&ioman_runs),
            peer: median(&peer_runs),
            peer_name: peer_name.into(),
            unit: unit.into(),
            better,
            runs: ioman_runs.len().max(peer_runs.len()),
            ioman_runs,
            peer_runs,
        }
    }

    /// ioman / peer, when both ran.
    pub fn ratio(&self) -> Option<f64> {
        match (self.ioman, self.peer) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b),
            _ => None,
        }
    }

    /// This record as one JSON object.
    pub fn json(&self) -> String {
        let list = |v: &[f64]| v.iter().map(|x| number(Some(*x))).collect::<Vec<_>>().join(",");
        format!(
            "{{\"name\":{},\"ioman\":{},\"peer\":{},\"peer_name\":{},\"ratio\":{},\"unit\":{},\
             \"better\":{},\"runs\":{},\"samples\":{{\"ioman\":[{}],\"peer\":[{}]}}}}",
            quote(&self.name),
            number(self.ioman),
            number(self.peer),
            quote(&self.peer_name),
            number(self.ratio()),
            quote(&self.unit),
            quote(self.better.as_str()),
            self.runs,
            list(&self.ioman_runs),
            list(&self.peer_runs),
        )
    }
}

/// A value for the table: 3 significant figures, `-` when absent.
fn fmt(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The results as a markdown table (also what the terminal shows).
pub fn table(records: &[Record]) -> String {
    let mut out = String::from(
        "| figure | ioman | peer | peer value | ratio ioman/peer | unit | better | runs |\n\
         |---|---:|---|---:|---:|---|---|---:|\n",
    );
    for r in records {
        let ratio = r.ratio().map_or("-".into(), |x| format!("{x:.3}x"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            fmt(r.ioman),
            r.peer_name,
            fmt(r.peer),
            ratio,
            r.unit,
            r.better.as_str(),
            r.runs
        );
    }
    out
}

/// All records as the `report.json` array.
pub fn json(records: &[Record]) -> String {
    let items: Vec<String> = records.iter().map(|r| format!("  {}", r.json())).collect();
    format!("[\n{}\n]\n", items.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::json::parse_object;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn records_render_and_ratio() {
        let r = Record::from_runs("x", "peer", "u", Better::Higher, vec![2.0, 4.0], vec![2.0]);
        assert_eq!(r.ratio(), Some(1.5));
        assert!(table(std::slice::from_ref(&r)).contains("| x | 3.00 | peer | 2.00 | 1.500x |"));
        let one = Record::from_runs("y", "p", "u", Better::Lower, vec![], vec![1.0]);
        assert_eq!(one.ratio(), None);
        let text = json(&[r, one]);
        assert!(text.starts_with("[\n  {\"name\":\"x\""), "{text}");
        let first = text.lines().nth(1).unwrap().trim().trim_end_matches(',');
        // Nested "samples" are not for our flat parser; everything before them is.
        let flat = format!("{}}}", first.split(",\"samples\"").next().unwrap());
        assert!(parse_object(&flat).is_ok(), "{flat}");
    }
}

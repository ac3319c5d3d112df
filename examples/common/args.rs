//! Command-line pieces the example servers share, for their `clap` derive parsers: the value
//! parser behind `--threads N`, and [`Seconds`] for options that take a duration. Each server
//! declares its whole command line in its own `main.rs` (the default `--listen` address
//! differs); `--help`, `--version` and the error messages come from clap. Included by the
//! examples with `#[path = "../common/args.rs"] mod args;`.

#![allow(dead_code, reason = "each example uses only some of these")]

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Parses a count that must be at least 1, such as `--threads N`.
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A duration given in seconds on the command line: fractions allowed, never negative,
/// infinite or NaN. Displays as seconds, so it can serve as a `default_value_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl FromStr for Seconds {
    type Err = String;

    fn from_str(s: &str) -> Result<Seconds, String> {
        let secs: f64 = s.parse().map_err(|_| "expected a number of seconds".to_owned())?;
        if !secs.is_finite() || secs < 0.0 {
            return Err("expected a finite, non-negative number of seconds".to_owned());
        }
        Duration::try_from_secs_f64(secs).map(Seconds).map_err(|_| "too many seconds".to_owned())
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_secs_f64().fmt(f)
    }
}

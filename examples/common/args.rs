//! Command-line pieces the example servers share, for their `clap` derive parsers: the value
//! parser behind `--threads N`, [`Seconds`] for options that take a duration, and [`TlsArgs`]
//! (`--tls-cert PATH --tls-key PATH`) for the servers that can serve TLS. Each server
//! declares its whole command line in its own `main.rs` (the default `--listen` address
//! differs); `--help`, `--version` and the error messages come from clap. Included by the
//! examples with `#[path = "../common/args.rs"] mod args;`.

#![allow(dead_code, reason = "each example uses only some of these")]

#[cfg(feature = "tls")]
use anyhow::Context as _;
#[cfg(feature = "tls")]
use ioman::net::tls::{self, rustls::ServerConfig};
use std::fmt;
#[cfg(feature = "tls")]
use std::path::PathBuf;
use std::str::FromStr;
#[cfg(feature = "tls")]
use std::sync::Arc;
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

/// `--tls-cert PATH --tls-key PATH`: serve TLS on `--listen` instead of plain text. Both or
/// neither (clap refuses one without the other). Flatten it into a parser with
/// `#[command(flatten)] tls: args::TlsArgs`.
#[cfg(feature = "tls")]
#[derive(clap::Args, Clone, Debug, Default)]
#[command(next_help_heading = "TLS")]
pub struct TlsArgs {
    /// Serve TLS with this certificate chain (PEM, the server's certificate first)
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, RSA or EC)
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[cfg(feature = "tls")]
impl TlsArgs {
    /// The server configuration to serve TLS with (`alpn`: the protocols offered, in order of
    /// preference; empty for none), or `None` without `--tls-cert`. A file that cannot be read,
    /// holds no certificate or key, or a key that does not match, is an error naming it.
    pub fn server_config(&self, alpn: &[&[u8]]) -> anyhow::Result<Option<Arc<ServerConfig>>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let config = tls::server_config(cert, key, alpn)
            // Its message already ends with its cause: keep it from being printed twice.
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| {
                format!("loading --tls-cert {} and --tls-key {}", cert.display(), key.display())
            })?;
        Ok(Some(config))
    }
}

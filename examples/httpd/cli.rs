//! The command line of `httpd`, apart from `main.rs` so that tests can parse command lines
//! (`#[path = "../examples/httpd/cli.rs"] mod cli;`) and check every value is validated with a
//! clear error rather than a panic.

#![allow(dead_code, reason = "shared by the example binary and its tests")]

#[path = "../common/args.rs"]
pub mod args;

use clap::Parser;
use ioman::net::Endpoint;
use std::path::PathBuf;
use std::time::Duration;

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "httpd", version, about = "An HTTP/1.1 static-file server on ioman")]
pub struct Args {
    /// Where to listen: HOST:PORT, [V6]:PORT or unix:PATH
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: Endpoint,
    /// Directory to serve [default: an embedded welcome page]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Seconds a connection may idle, and a request may take (more than 0)
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = args::Seconds(Duration::from_secs(10)),
        value_parser = idle_timeout,
        allow_negative_numbers = true
    )]
    pub idle_timeout: args::Seconds,
    /// Event loops to run, one per thread, sharing the port
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = args::at_least_one,
        allow_negative_numbers = true
    )]
    pub threads: usize,
    #[command(flatten)]
    pub tls: args::TlsArgs,
}

/// Parses `--idle-timeout`: finite seconds above zero. Zero is refused rather than taken as
/// "no timeout": the timeout also bounds how long a request may take to arrive and how long a
/// client may stop reading, and a server without those is open to the slowest clients; and as a
/// timeout, zero would close every connection before its request was read.
pub fn idle_timeout(s: &str) -> Result<args::Seconds, String> {
    let seconds: args::Seconds = s.parse()?;
    if seconds.0.is_zero() {
        return Err("must be more than 0 seconds".to_owned());
    }
    Ok(seconds)
}

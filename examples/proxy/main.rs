//! `proxy`: a TCP forwarder on ioman-net. Every client accepted on `--listen` is connected to
//! `--to`, and bytes flow both ways with backpressure and half-close (see `server.rs`). With
//! `--to-tls` it speaks TLS to `--to` (a TLS terminator in reverse: plain clients, TLS
//! upstream), trusting only the certificates of `--ca` and expecting one for `--to-sni`.
//!
//! ```text
//! cargo run --example echo  -- --listen 127.0.0.1:7000 &
//! cargo run --example proxy -- --listen 127.0.0.1:7002 --to 127.0.0.1:7000
//! nc 127.0.0.1 7002
//!
//! cargo run --example echo  -- --listen 127.0.0.1:7000 --tls-cert cert.pem --tls-key key.pem &
//! cargo run --example proxy -- --to 127.0.0.1:7000 --to-tls --ca cert.pem --to-sni localhost
//! ```
//! SIGINT/SIGTERM: stop accepting, let open pairs drain for up to 5 s, exit 0.
#![forbid(unsafe_code)]

#[path = "../common/log.rs"]
mod log;

mod server;

use anyhow::{Context as _, Result};
use clap::{CommandFactory, Parser};
use ioman::Manager;
use ioman::net::{Endpoint, Net, tls};
use std::path::PathBuf;
use std::time::Duration;

fn main() -> Result<()> {
    log::init();
    let args = Args::parse();
    let Target { endpoint: to, host } = args.to;
    let upstream = match args.to_tls {
        false => server::Upstream::plain(to),
        true => {
            let Some(sni) = args.to_sni.or(host) else {
                Args::command()
                    .error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "--to-tls needs --to-sni NAME when --to is not HOST:PORT with a host name",
                    )
                    .exit();
            };
            let ca = args.ca.expect("clap requires --ca with --to-tls");
            let config = tls::client_config(&ca, &[])
                .map_err(|e| anyhow::anyhow!("{e}")) // its message ends with its cause
                .with_context(|| format!("loading --ca {}", ca.display()))?;
            let name = tls::server_name(&sni).context("--to-sni")?;
            server::Upstream::tls(to, config, name)
        }
    };
    let socket = ioman::net::listen(&args.listen, Default::default())
        .with_context(|| format!("listening on {}", args.listen))?;
    let how = match &upstream.tls {
        Some(tls) => format!(" over TLS, expecting {}", tls.name.to_str()),
        None => String::new(),
    };
    println!(
        "proxy: listening on {} (forwarding to {}{how})",
        ioman::net::local_endpoint(&socket)?,
        upstream.to
    );
    let mut manager = Manager::with_state(Net::new(upstream))?;
    server::build(&mut manager, socket, server::config())?;
    ioman::net::shutdown::on_signals(&mut manager, Duration::from_secs(5))?;
    manager.run()?;
    Ok(())
}

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "proxy", version, about = "A TCP forwarder on ioman-net")]
struct Args {
    /// Where clients connect: HOST:PORT, [V6]:PORT or unix:PATH
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7002")]
    listen: Endpoint,
    /// Where each client is forwarded: HOST:PORT, [V6]:PORT or unix:PATH
    #[arg(long, value_name = "ADDR", value_parser = target)]
    to: Target,
    /// Speak TLS to --to (needs --ca)
    #[arg(long, requires = "ca")]
    to_tls: bool,
    /// The name to send as SNI and to expect in --to's certificate [default: the host of --to,
    /// if it is a name]
    #[arg(long, value_name = "NAME", requires = "to_tls")]
    to_sni: Option<String>,
    /// The CA (or self-signed) certificates to trust for --to-tls (PEM)
    #[arg(long, value_name = "PATH", requires = "to_tls")]
    ca: Option<PathBuf>,
}

/// `--to`: the address, and its host if that was a name (the default for `--to-sni`).
#[derive(Clone, Debug)]
struct Target {
    endpoint: Endpoint,
    host: Option<String>,
}

/// Parses `--to`, resolving a host name here, at startup (the loop never waits for a
/// resolver), and keeping the name for TLS's SNI.
fn target(s: &str) -> Result<Target, String> {
    let endpoint: Endpoint = s.parse().map_err(|e: ioman::net::NetError| e.to_string())?;
    let host = match &endpoint {
        Endpoint::Host { host, .. } => Some(host.clone()),
        _ => None,
    };
    let endpoint = endpoint.resolve_now().map_err(|e| e.to_string())?.swap_remove(0);
    Ok(Target { endpoint, host })
}

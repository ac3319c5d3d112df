//! `httpd`: an HTTP/1.1 static-file server on ioman — GET and HEAD, keep-alive and pipelining,
//! files of any size sent with `sendfile` (small ones cached), validators (`ETag`,
//! `Last-Modified`, 304) and single byte ranges (206/416), chunked request bodies decoded and
//! discarded, memory bounded per connection however much a client pipelines, limits on request
//! heads and bodies, an idle timeout that also evicts slowly trickling requests and clients that
//! stop reading, and no way out of the served root, whose paths are resolved afresh on every
//! request (a swapped `current -> release-N` link is seen at once). With no `--root`, it serves
//! an embedded welcome page, so it works with no files at all. With `--tls-cert` and
//! `--tls-key` it serves HTTPS instead (ALPN `http/1.1`).
//!
//! ```text
//! cargo run --release --example httpd -- [--listen 127.0.0.1:8080] [--root DIR]
//!                                        [--idle-timeout SECS] [--threads N]
//!                                        [--tls-cert cert.pem --tls-key key.pem]
//! curl -i http://127.0.0.1:8080/
//! curl -i --cacert cert.pem https://localhost:8080/    # with --tls-cert
//! ```
//! SIGINT/SIGTERM: stop accepting, let connections drain for up to 5 s, exit 0.
#![forbid(unsafe_code)]

#[path = "../common/log.rs"]
mod log;

mod cli;
mod server;

use anyhow::{Context as _, Result};
use clap::Parser;
use cli::Args;
use ioman::Manager;
use ioman::net::{Loops, Net, NetError};
use server::proto::site::Site;
use std::time::Duration;

const GRACE: Duration = Duration::from_secs(5);

fn main() -> Result<()> {
    log::init();
    let args = Args::parse();
    let idle = args.idle_timeout.0;
    let tls = args.tls.server_config(&[b"http/1.1"])?;
    let root = args.root;
    let what = match &root {
        Some(dir) => format!("serving {}", dir.display()),
        None => "serving the welcome page".to_owned(),
    };
    let what = if tls.is_some() { format!("HTTPS, {what}") } else { what };
    // Each loop builds its own Site (and file cache): loops share nothing at run time.
    let site = move || -> Result<Site, NetError> {
        let site = match &root {
            Some(dir) => {
                Site::with_root(dir).map_err(|source| NetError::Os { call: "--root", source })?
            }
            None => Site::welcome(),
        };
        Ok(site.with_cache(256 * 1024, 64 * 1024 * 1024))
    };
    if args.threads > 1 {
        let site = site.clone();
        let loops = Loops::spawn(args.threads, &args.listen, move |_, socket| {
            let mut manager = Manager::with_state(Net::new(site()?))?;
            server::build(&mut manager, socket, idle, tls.clone())?;
            Ok(manager)
        })?;
        println!("httpd: listening on {} ({what}, {} loops)", loops.local_addr(), loops.len());
        return Ok(loops.run_until_signal(GRACE)?);
    }
    let socket = ioman::net::listen(&args.listen, Default::default())
        .with_context(|| format!("listening on {}", args.listen))?;
    let mut manager = Manager::with_state(Net::new(site()?))?;
    server::build(&mut manager, socket.try_clone()?, idle, tls)?;
    println!("httpd: listening on {} ({what})", ioman::net::local_endpoint(&socket)?);
    drop(socket);
    ioman::net::shutdown::on_signals(&mut manager, GRACE)?;
    manager.run()?;
    Ok(())
}

//! TLS (`--only tls`): ioman's rustls under `httpd --tls-cert --tls-key` (one loop) against
//! nginx with OpenSSL (one worker, `ssl_protocols TLSv1.2 TLSv1.3`, `ssl_session_tickets on`,
//! the same certificate and key), both serving the same files from `target/bench/www-tls`.
//! The certificate is made at bench time by `idle-tls cert` (rcgen: ECDSA P-256, SAN
//! `localhost` and `127.0.0.1`, CA:FALSE) under `target/bench/tls`, never committed.
//!
//! Figures, each A B A B with the server on the server CPU and the client on the client CPU
//! (see `tls/load.rs` and `tls/idle.rs`):
//! 1. HTTPS keep-alive requests/s of the 512-byte file: `wrk -t1 -c50`, with p99 and the
//!    server's CPU time per request;
//! 2. new TLS connections per second, one request each (`Connection: close`), twice: with wrk,
//!    which resumes the session of each connection's predecessor (TLS 1.3 PSK: its `SSL_clear`
//!    keeps the session, and both servers send tickets; checked on every run from nginx's
//!    `$ssl_session_reused`), and with `idle-tls handshakes`, whose client keeps no sessions:
//!    a full handshake (ECDHE and the server's ECDSA signature) per connection;
//! 3. bulk throughput: a 256 MiB file to `wrk -c1`, MiB/s and server CPU per MiB;
//! 4. user-space memory per idle connection: `idle-tls idle` opens thousands of connections,
//!    each with a full handshake and one keep-alive request, and reads the server's RSS growth;
//!    the same without TLS for reference.
//!
//! Before anything is measured each server answers a checked HTTPS `GET` for both names of
//! the certificate (`idle-tls get`, full WebPKI verification). A missing tool skips what needs
//! it with a note; every server stops when its figure ends, on every path.

mod idle;
mod load;
mod servers;

use super::{Ctx, tools};
use anyhow::Result;
use servers::{Setup, Side};

/// Runs the TLS comparison.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let Some(tool) = ctx.binary(ctx.release("idle-tls"), "tls: certificate and TLS clients") else {
        return Ok(());
    };
    let httpd = ctx.binary(ctx.example("httpd"), "tls: ioman side").map(Side::Httpd);
    let nginx = tools::need(ctx, "nginx", "tls: peer side").map(Side::Nginx);
    let sides: Vec<Side> = [httpd, nginx].into_iter().flatten().collect();
    if sides.is_empty() {
        return Ok(());
    }
    let setup = Setup::new(ctx, &tool)?;
    match tools::need(ctx, "wrk", "tls: keep-alive, new-connection and bulk figures") {
        Some(wrk) => load::run(ctx, &setup, &sides, &wrk)?,
        None => load::handshakes_only(ctx, &setup, &sides)?,
    }
    idle::run(ctx, &setup, &sides)
}

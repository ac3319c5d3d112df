//! `udp_echo`: a UDP (or Unix datagram) echo server on ioman-net — every datagram comes back
//! to its sender. Datagrams are received with `recvmmsg` and answered with `sendmmsg`, a
//! batch per system call; the counters printed at exit say how many datagrams each call
//! carried.
//!
//! ```text
//! cargo run --release --example udp_echo -- [--listen 127.0.0.1:7003]... [--threads N]
//!                                           [--batch 32] [--max-datagram 65536]
//! nc -u 127.0.0.1 7003
//! ```
//! `--listen` may be given several times (UDP `HOST:PORT`, `[V6]:PORT`, or `unix:PATH` for a
//! Unix datagram socket); with `--threads N` each address is served by N loops sharing the
//! port (`SO_REUSEPORT`). SIGINT/SIGTERM: close the sockets, exit 0.
#![forbid(unsafe_code)]

#[path = "../common/log.rs"]
mod log;

#[path = "../common/args.rs"]
mod args;

mod server;

use anyhow::{Context as _, Result};
use clap::Parser;
use ioman::Manager;
use ioman::net::{DatagramConfig, Endpoint, Loops, Net, bind_datagram, datagram_local_addr};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn main() -> Result<()> {
    log::init();
    let args = Args::parse();
    let config = DatagramConfig::default().batch(args.batch).max_datagram(args.max_datagram);
    if args.threads > 1 {
        return run_loops(&args, config);
    }
    let mut manager: Manager<Net<()>> = Manager::new()?;
    for endpoint in &args.listen {
        let socket =
            bind_datagram(endpoint, false).with_context(|| format!("binding {endpoint}"))?;
        let local = datagram_local_addr(&socket)?;
        server::build(&mut manager, socket, config.clone())?;
        println!("udp_echo: listening on {local}");
    }
    ioman::net::shutdown::on_signals(&mut manager, Duration::ZERO)?;
    manager.run()?;
    let s = manager.state().stats();
    println!(
        "udp_echo: {} datagrams received in {} recvmmsg calls, {} sent in {} sendmmsg calls, \
         {} truncated, {} send errors",
        s.datagrams_received,
        s.datagram_recv_calls,
        s.datagrams_sent,
        s.datagram_send_calls,
        s.datagrams_truncated,
        s.datagram_send_errors
    );
    Ok(())
}

/// N loops per address, each with its own `SO_REUSEPORT` socket; all stop on the first
/// SIGINT/SIGTERM.
fn run_loops(args: &Args, config: DatagramConfig) -> Result<()> {
    let mut groups = Vec::new();
    for endpoint in &args.listen {
        let config = config.clone();
        let loops = Loops::spawn_datagram(args.threads, endpoint, move |_, socket| {
            let mut manager = Manager::new()?;
            server::build(&mut manager, socket, config.clone())?;
            Ok(manager)
        })
        .with_context(|| format!("binding {endpoint}"))?;
        println!("udp_echo: listening on {} ({} loops)", loops.local_addr(), loops.len());
        groups.push(loops);
    }
    let mut signals = UnixStream::from(ioman::net::shutdown::signal_pipe()?);
    signals.set_nonblocking(false)?;
    let _ = signals.read(&mut [0u8; 1]);
    for loops in &groups {
        loops.shutdown(Duration::ZERO);
    }
    for loops in groups {
        loops.join()?;
    }
    Ok(())
}

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "udp_echo", version, about = "A UDP or Unix datagram echo server on ioman-net")]
struct Args {
    /// Where to receive: HOST:PORT, [V6]:PORT or unix:PATH (repeat for several sockets)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7003")]
    listen: Vec<Endpoint>,
    /// Event loops per address, one per thread, sharing the port
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        value_parser = args::at_least_one,
        allow_negative_numbers = true
    )]
    threads: usize,
    /// Datagrams per recvmmsg/sendmmsg call
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = args::at_least_one)]
    batch: usize,
    /// The largest datagram received whole (larger ones are counted as truncated)
    #[arg(long, value_name = "BYTES", default_value_t = 65_536)]
    max_datagram: usize,
}

//! The echo server written directly against ioman-core's `Handler`, without ioman-net (compare
//! `examples/echo.rs`): every byte a client sends comes back. Run it with
//! `cargo run --example handler_echo` (default 127.0.0.1:7000) and try `nc 127.0.0.1 7000`.
//!
//! The user-written part is the two handlers: `Acceptor` registers each new connection, and
//! `Echo` reads what arrived and writes it back.
#![forbid(unsafe_code)]

use anyhow::{Context as _, Result};
use ioman::{Context, Handler, Interest, Manager, Timeout};
use rustix::fd::BorrowedFd;
use rustix::net::{SocketFlags, accept_with};
use std::net::TcpListener;
use std::time::Duration;

/// Accepts connections and hands each to an `Echo` with a 60 s idle timeout.
struct Acceptor;

impl Handler for Acceptor {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, ()>) {
        // Accept what is pending, up to a bound, so one busy listener cannot hog a turn.
        for _ in 0..64 {
            let Ok(conn) = accept_with(fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) else {
                return; // WouldBlock (nothing left) or a transient error: wait for the next event
            };
            let idle = Timeout::Idle(Duration::from_secs(60));
            let _ = cx.add(conn, Interest::READ, idle, Echo { buf: vec![0; 16 * 1024], len: 0 });
        }
    }
}

/// Echoes bytes back; while the peer is slow to read, stops reading and waits to write.
struct Echo {
    buf: Vec<u8>,
    len: usize, // bytes read but not yet written back
}

impl Handler for Echo {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, ()>) {
        match rustix::io::read(fd, &mut self.buf) {
            Ok(0) => cx.close(), // end of stream
            Ok(n) => {
                self.len = n;
                self.on_write(fd, cx);
            }
            Err(e) if e == rustix::io::Errno::AGAIN => {}
            Err(_) => cx.close(),
        }
    }

    fn on_write(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, ()>) {
        match rustix::net::send(fd, &self.buf[..self.len], rustix::net::SendFlags::NOSIGNAL) {
            Ok(n) => {
                self.buf.copy_within(n..self.len, 0);
                self.len -= n;
            }
            Err(e) if e == rustix::io::Errno::AGAIN => {}
            Err(_) => return cx.close(),
        }
        // Read again only once everything was written back: memory stays bounded.
        cx.set_interest(if self.len == 0 { Interest::READ } else { Interest::WRITE });
    }
}

fn main() -> Result<()> {
    let addr = parse_listen(std::env::args().skip(1))?;
    let listener = TcpListener::bind(&addr).with_context(|| format!("binding {addr}"))?;
    listener.set_nonblocking(true)?;
    println!("handler_echo: listening on {}", listener.local_addr()?);
    let mut manager: Manager = Manager::new()?;
    manager.add(listener, Interest::READ, Timeout::Never, Acceptor)?;
    manager.run()?;
    Ok(())
}

/// `--listen ADDR` (default 127.0.0.1:7000) and `--help`.
fn parse_listen(mut args: impl Iterator<Item = String>) -> Result<String> {
    let mut addr = "127.0.0.1:7000".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => addr = args.next().context("--listen needs an address")?,
            "--help" | "-h" => {
                println!("usage: handler_echo [--listen ADDR]   (default 127.0.0.1:7000)");
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other:?}; try --help"),
        }
    }
    Ok(addr)
}

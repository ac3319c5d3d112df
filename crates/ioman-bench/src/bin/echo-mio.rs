//! `echo-mio`: the same echo server as `echo-raw`, hand-written on mio 1.x the way a careful
//! mio user would. mio is edge-triggered, so each connection is registered once for
//! readable and writable; on an event it flushes parked output, then reads and writes until
//! a read comes back short of the 64 KiB buffer (for TCP a short read means the socket was
//! drained, and new data brings a new edge). That keeps it at one `read` and one `write` per
//! message, like the level-triggered loop, with no `EAGAIN` read and no re-registration.
//! `--listen ADDR` (default 127.0.0.1:0); SIGTERM ends it.
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use ioman_bench::server::{self, BUF_SIZE};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Read, Write};

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    buf: Box<[u8]>,
    /// Unwritten bytes `buf[start..end]` after a short write.
    start: usize,
    end: usize,
}

impl Conn {
    /// Handles one edge; returns false when the connection should be closed.
    fn drive(&mut self) -> bool {
        loop {
            if self.start < self.end {
                match self.stream.write(&self.buf[self.start..self.end]) {
                    Ok(n) => self.start += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return false,
                }
                if self.start < self.end {
                    return true; // the writable edge brings us back
                }
            }
            let n = match self.stream.read(&mut self.buf) {
                Ok(0) => return false,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            };
            (self.start, self.end) = (0, n);
            match self.stream.write(&self.buf[..n]) {
                Ok(w) => self.start = w,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                Err(_) => return false,
            }
            if self.start < self.end || n < self.buf.len() {
                return true;
            }
        }
    }
}

fn main() -> Result<()> {
    let fd = server::listen(server::listen_addr()?)?;
    server::announce(server::local_addr(&fd)?)?;
    let mut listener = TcpListener::from_std(std::net::TcpListener::from(fd));
    let mut poll = Poll::new().context("epoll_create1")?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("epoll_wait");
        }
        for ev in &events {
            if ev.token() == LISTENER {
                accept_all(&poll, &listener, &mut conns, &mut free)?;
                continue;
            }
            let i = ev.token().0;
            let Some(c) = conns[i].as_mut() else { continue };
            if !c.drive() {
                if let Some(mut c) = conns[i].take() {
                    poll.registry().deregister(&mut c.stream)?;
                }
                free.push(i);
            }
        }
    }
}

fn accept_all(
    poll: &Poll,
    listener: &TcpListener,
    conns: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
) -> Result<()> {
    loop {
        let mut stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::ConnectionAborted) => {
                continue;
            }
            Err(e) => {
                eprintln!("echo-mio: accept: {e}");
                return Ok(());
            }
        };
        stream.set_nodelay(true)?;
        let i = free.pop().unwrap_or_else(|| {
            conns.push(None);
            conns.len() - 1
        });
        let interest = Interest::READABLE | Interest::WRITABLE;
        poll.registry().register(&mut stream, Token(i), interest)?;
        conns[i] =
            Some(Conn { stream, buf: vec![0; BUF_SIZE].into_boxed_slice(), start: 0, end: 0 });
    }
}

//! `echo-raw`: the ceiling. A plain rustix epoll echo server with no framework:
//! level-triggered, one `read` then one `write` per readiness into a 64 KiB buffer per
//! connection; a short write parks the rest in that buffer and switches the connection's
//! interest from `EPOLLIN` to `EPOLLOUT` until it is flushed (so a slow reader is not fed
//! more). Single thread. `--listen ADDR` (default 127.0.0.1:0); SIGTERM ends it.
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use ioman_bench::server::{self, BUF_SIZE};
use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::fd::OwnedFd;
use rustix::io::{self, Errno};
use rustix::net::{self, SocketFlags};

/// The listener's token; connections use their slot index.
const LISTENER: u64 = u64::MAX;

struct Conn {
    fd: OwnedFd,
    buf: Box<[u8]>,
    /// Unwritten bytes `buf[start..end]` after a short write.
    start: usize,
    end: usize,
}

/// What a readiness event leaves the connection wanting next.
enum Next {
    Same,
    Read,
    Write,
    Close,
}

impl Conn {
    fn on_readable(&mut self) -> Next {
        let n = match io::read(&self.fd, &mut self.buf[..]) {
            Ok(0) => return Next::Close,
            Ok(n) => n,
            Err(Errno::AGAIN | Errno::INTR) => return Next::Same,
            Err(_) => return Next::Close,
        };
        self.start = 0;
        self.end = n;
        self.flush(Next::Same)
    }

    fn on_writable(&mut self) -> Next {
        self.flush(Next::Read)
    }

    /// Writes `buf[start..end]` once; `done` is what to ask for when it all went out.
    fn flush(&mut self, done: Next) -> Next {
        match io::write(&self.fd, &self.buf[self.start..self.end]) {
            Ok(n) => self.start += n,
            Err(Errno::AGAIN | Errno::INTR) => {}
            Err(_) => return Next::Close,
        }
        if self.start == self.end {
            done
        } else if matches!(done, Next::Read) {
            Next::Same // already waiting for EPOLLOUT
        } else {
            Next::Write
        }
    }
}

fn main() -> Result<()> {
    let listener = server::listen(server::listen_addr()?)?;
    server::announce(server::local_addr(&listener)?)?;
    let ep = epoll::create(CreateFlags::CLOEXEC).context("epoll_create1")?;
    epoll::add(&ep, &listener, EventData::new_u64(LISTENER), EventFlags::IN)?;
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Vec::with_capacity(1024);
    loop {
        events.clear();
        match epoll::wait(&ep, spare_capacity(&mut events), None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e).context("epoll_wait"),
        }
        for ev in &events {
            let (flags, token) = (ev.flags, ev.data.u64());
            if token == LISTENER {
                accept_all(&ep, &listener, &mut conns, &mut free)?;
                continue;
            }
            let i = token as usize;
            let Some(c) = conns[i].as_mut() else { continue };
            // Output parked after a short write goes first, whatever woke us (EPOLLOUT, or
            // ERR/HUP, which epoll always reports): the buffer still holds it.
            let next = if c.start < c.end {
                c.on_writable()
            } else if flags.intersects(EventFlags::IN | EventFlags::ERR | EventFlags::HUP) {
                c.on_readable()
            } else {
                Next::Same
            };
            let data = EventData::new_u64(token);
            let r = match next {
                Next::Same => Ok(()),
                Next::Read => epoll::modify(&ep, &c.fd, data, EventFlags::IN),
                Next::Write => epoll::modify(&ep, &c.fd, data, EventFlags::OUT),
                Next::Close => Err(Errno::CONNRESET),
            };
            if r.is_err() {
                conns[i] = None; // close(2) removes it from the epoll set
                free.push(i);
            }
        }
    }
}

fn accept_all(
    ep: &OwnedFd,
    listener: &OwnedFd,
    conns: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
) -> Result<()> {
    loop {
        let fd = match net::accept_with(listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
            Ok(fd) => fd,
            Err(Errno::AGAIN) => return Ok(()),
            Err(Errno::INTR | Errno::CONNABORTED) => continue,
            Err(e) => {
                eprintln!("echo-raw: accept: {e}");
                return Ok(());
            }
        };
        net::sockopt::set_tcp_nodelay(&fd, true)?;
        let i = free.pop().unwrap_or_else(|| {
            conns.push(None);
            conns.len() - 1
        });
        epoll::add(ep, &fd, EventData::new_u64(i as u64), EventFlags::IN)?;
        conns[i] = Some(Conn { fd, buf: vec![0; BUF_SIZE].into_boxed_slice(), start: 0, end: 0 });
    }
}

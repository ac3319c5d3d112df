//! `pingpong-mio`: the dispatch-cost workload of `pingpong-raw` on a hand-written mio 1.x
//! loop, the lowest-level Rust alternative to ioman that still abstracts epoll. Same
//! socketpairs, same one-byte ping-pong, same output (`{"events":N,"ns":T}`).
//!
//! The byte is read and written with rustix on the stream's fd, exactly as `pingpong-raw` and
//! ioman's handler do, so the peers differ only in their event loops. (Through `std`'s
//! `Read`/`Write`, each call also goes through std's and glibc's wrappers: 146 instructions
//! per event instead of about 100 on this workload, none of it mio's.)
//!
//! mio registers edge-triggered; every write makes the other end newly readable, and every
//! read drains the one byte, so each wait still reports exactly the events `pingpong-raw`'s
//! level-triggered loop sees.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, ensure};
use ioman_bench::pingpong;
use mio::net::UnixStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{ErrorKind, Write};
use std::time::Instant;

fn main() -> Result<()> {
    let args = pingpong::args()?;
    let target = args.events;
    let mut poll = Poll::new().context("epoll_create1")?;
    let mut ends = Vec::new();
    for (a, b) in pingpong::pairs(args.pairs)? {
        ends.push(UnixStream::from_std(std::os::unix::net::UnixStream::from(a)));
        ends.push(UnixStream::from_std(std::os::unix::net::UnixStream::from(b)));
    }
    for (i, end) in ends.iter_mut().enumerate() {
        poll.registry().register(end, Token(i), Interest::READABLE)?;
    }
    let start = Instant::now();
    for a in ends.iter().step_by(2) {
        (&*a).write_all(b"x").context("first write")?;
    }
    let mut events = Events::with_capacity(1024);
    let mut buf = [0u8; 64];
    let mut count = 0u64;
    while count < target {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("epoll_wait"),
        }
        for ev in &events {
            let end = &ends[ev.token().0];
            let n = rustix::io::read(end, &mut buf).context("read")?;
            ensure!(n == 1, "expected one byte, read {n}");
            count += 1;
            if count == target {
                break;
            }
            let written = rustix::io::write(end, &buf[..1]).context("write")?;
            ensure!(written == 1, "short write");
        }
    }
    let ns = start.elapsed().as_nanos();
    println!("{{\"events\":{count},\"ns\":{ns}}}");
    Ok(())
}

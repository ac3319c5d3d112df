//! `pingpong-raw`: the dispatch-cost workload for the plain rustix epoll loop, run under
//! `valgrind --tool=callgrind` by `cargo xtask bench` (instruction counts are repeatable where
//! wall time is not). `pingpong-mio`, `pingpong-ioman` and `pingpong-calloop` do exactly the
//! same through their loops.
//!
//! Workload: `--pairs P` non-blocking UNIX stream socketpairs, both ends registered
//! level-triggered for readable. One byte is written into end A of each pair. Each event: read
//! the byte (one `read` into a 64-byte buffer), count the event, and unless `--events N` are
//! done write one byte back on the same end (so the other end becomes readable). With one pair
//! every `epoll_wait` returns one event, so each event costs one wait, one read and one write;
//! with 64, a wait returns up to 64. Output: one line, `{"events":N,"ns":T}`, where T is the
//! wall time of the event loop alone (from the first write to the last event, setup excluded),
//! for the timing fallback when callgrind cannot run the binary.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, ensure};
use ioman_bench::pingpong;
use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::fd::OwnedFd;
use rustix::io::{self, Errno};
use std::time::Instant;

fn main() -> Result<()> {
    let args = pingpong::args()?;
    let target = args.events;
    let ends: Vec<OwnedFd> =
        pingpong::pairs(args.pairs)?.into_iter().flat_map(|(a, b)| [a, b]).collect();
    let ep = epoll::create(CreateFlags::CLOEXEC).context("epoll_create1")?;
    for (i, fd) in ends.iter().enumerate() {
        epoll::add(&ep, fd, EventData::new_u64(i as u64), EventFlags::IN)?;
    }
    let start = Instant::now();
    for a in ends.iter().step_by(2) {
        io::write(a, b"x").context("first write")?;
    }
    let mut events = Vec::with_capacity(1024);
    let mut buf = [0u8; 64];
    let mut count = 0u64;
    while count < target {
        events.clear();
        match epoll::wait(&ep, spare_capacity(&mut events), None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e).context("epoll_wait"),
        }
        for ev in &events {
            let fd = &ends[ev.data.u64() as usize];
            let n = io::read(fd, &mut buf).context("read")?;
            ensure!(n == 1, "expected one byte, read {n}");
            count += 1;
            if count == target {
                break;
            }
            io::write(fd, &buf[..1]).context("write")?;
        }
    }
    let ns = start.elapsed().as_nanos();
    println!("{{\"events\":{count},\"ns\":{ns}}}");
    Ok(())
}

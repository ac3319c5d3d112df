//! `pingpong-raw`: the dispatch-cost workload for the plain rustix epoll loop, run under
//! `valgrind --tool=callgrind` by `cargo xtask bench` (instruction counts are repeatable where
//! wall time is not). `pingpong-ioman` must do exactly the same through ioman.
//!
//! Workload: a non-blocking UNIX stream socketpair, both ends registered level-triggered for
//! readable. One byte is written into end A. Each event: read the byte (one `read` into a
//! 64-byte buffer), count the event, and unless `--events N` are done write one byte back on
//! the same end (so the other end becomes readable). Every `epoll_wait` returns one event, so
//! each event costs one wait, one read and one write. Output: one line,
//! `{"events":N,"ns":T}`, where T is the wall time of the event loop alone (from the first
//! write to the last event, setup excluded), for the timing fallback when callgrind cannot
//! run the binary.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, ensure};
use ioman_bench::pingpong;
use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::io::{self, Errno};
use std::time::Instant;

fn main() -> Result<()> {
    let target = pingpong::events()?;
    let (a, b) = pingpong::pair()?;
    let ends = [a, b];
    let ep = epoll::create(CreateFlags::CLOEXEC).context("epoll_create1")?;
    for (i, fd) in ends.iter().enumerate() {
        epoll::add(&ep, fd, EventData::new_u64(i as u64), EventFlags::IN)?;
    }
    let start = Instant::now();
    io::write(&ends[0], b"x").context("first write")?;
    let mut events = Vec::with_capacity(64);
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
            if count < target {
                io::write(fd, &buf[..1]).context("write")?;
            }
        }
    }
    let ns = start.elapsed().as_nanos();
    println!("{{\"events\":{count},\"ns\":{ns}}}");
    Ok(())
}

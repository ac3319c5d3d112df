//! `pingpong-ioman`: the dispatch-cost workload of `pingpong-raw`, through ioman-core. Same
//! socketpairs, same one-byte ping-pong, same output (`{"events":N,"ns":T}`), so that
//! `cargo xtask bench` can set them side by side: under callgrind (instructions per event)
//! and by wall time. The difference is what ioman's dispatch costs: the key lookup, taking the
//! handler out of its slot and putting it back, the virtual call, the panic guard, and per
//! turn the interest flush, the clock, the timer and wake checks.
#![forbid(unsafe_code)]

use anyhow::{Context as _, Result};
use ioman_bench::pingpong;
use ioman_core::{Context, Handler, Interest, Manager, Timeout};
use rustix::fd::BorrowedFd;
use std::time::Instant;

/// Loop-wide state: events so far and the target.
struct Count {
    events: u64,
    target: u64,
    error: Option<String>,
}

/// One end of a pair: reads the byte and sends it back. It keeps its read buffer, as the
/// other peers' loops keep theirs (zeroing 64 bytes per call is not the loop's cost).
struct Pong {
    buf: [u8; 64],
}

impl Handler<Count> for Pong {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Count>) {
        if cx.state().events >= cx.state().target {
            return; // done: the rest of this turn's events are not counted
        }
        let buf = &mut self.buf;
        match rustix::io::read(fd, &mut buf[..]) {
            Ok(1) => {}
            other => return fail(cx, format!("expected one byte, got {other:?}")),
        }
        let state = cx.state();
        state.events += 1;
        if state.events >= state.target {
            return cx.stop();
        }
        if let Err(e) = rustix::io::write(fd, &buf[..1]) {
            fail(cx, format!("write: {e}"));
        }
    }
}

fn fail(cx: &mut Context<'_, Count>, message: String) {
    cx.state().error = Some(message);
    cx.stop();
}

fn main() -> Result<()> {
    let args = pingpong::args()?;
    let mut manager: Manager<Count> =
        Manager::with_state(Count { events: 0, target: args.events, error: None })?;
    let mut firsts = Vec::new();
    for (a, b) in pingpong::pairs(args.pairs)? {
        firsts.push(a.try_clone().context("dup")?);
        manager.add(a, Interest::READ, Timeout::Never, Pong { buf: [0; 64] })?;
        manager.add(b, Interest::READ, Timeout::Never, Pong { buf: [0; 64] })?;
    }
    let start = Instant::now();
    for a in &firsts {
        rustix::io::write(a, b"x").context("first write")?;
    }
    manager.run()?;
    let ns = start.elapsed().as_nanos();
    let state = manager.state();
    if let Some(e) = &state.error {
        anyhow::bail!("{e}");
    }
    println!("{{\"events\":{},\"ns\":{ns}}}", state.events);
    Ok(())
}

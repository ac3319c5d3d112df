//! `pingpong-calloop`: the dispatch-cost workload of `pingpong-raw` on calloop 0.14, the
//! callback-based event loop of the Smithay ecosystem (the closest design to ioman's: sources
//! with callbacks and shared loop state). Same socketpairs, same one-byte ping-pong, same
//! output (`{"events":N,"ns":T}`).
//!
//! Each end is a level-triggered `Generic` source. calloop hands the fd out behind
//! `NoIoDrop`, whose `get_mut` is `unsafe`; the shared reference is all this needs, since the
//! byte is read and written with rustix on the fd, exactly as `pingpong-raw` and ioman's
//! handler do (so the peers differ only in their event loops).
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use calloop::generic::Generic;
use calloop::{EventLoop, Interest, LoopSignal, Mode, PostAction};
use ioman_bench::pingpong;
use std::os::unix::net::UnixStream;
use std::time::Instant;

/// Loop-wide state: events so far, the target, and how to stop.
struct Count {
    events: u64,
    target: u64,
    signal: LoopSignal,
    error: Option<String>,
}

fn main() -> Result<()> {
    let args = pingpong::args()?;
    let mut event_loop: EventLoop<Count> = EventLoop::try_new().context("calloop loop")?;
    let signal = event_loop.get_signal();
    let mut state = Count { events: 0, target: args.events, signal, error: None };
    let mut firsts = Vec::new();
    for (a, b) in pingpong::pairs(args.pairs)? {
        firsts.push(a.try_clone().context("dup")?);
        for end in [a, b] {
            let source = Generic::new(UnixStream::from(end), Interest::READ, Mode::Level);
            let mut buf = [0u8; 64]; // kept, as the other peers keep theirs
            event_loop
                .handle()
                .insert_source(source, move |_, end, state: &mut Count| {
                    pong(end, &mut buf, state);
                    Ok(PostAction::Continue)
                })
                .map_err(|e| anyhow::anyhow!("insert_source: {e}"))?;
        }
    }
    let start = Instant::now();
    for a in &firsts {
        rustix::io::write(a, b"x").context("first write")?;
    }
    event_loop.run(None, &mut state, |_| {}).context("calloop run")?;
    let ns = start.elapsed().as_nanos();
    if let Some(e) = &state.error {
        anyhow::bail!("{e}");
    }
    println!("{{\"events\":{},\"ns\":{ns}}}", state.events);
    Ok(())
}

/// One event: read the byte, count it, send it back (or stop at the target).
fn pong(end: &UnixStream, buf: &mut [u8; 64], state: &mut Count) {
    if state.events >= state.target {
        return;
    }
    match rustix::io::read(end, &mut buf[..]) {
        Ok(1) => {}
        other => return fail(state, format!("expected one byte, got {other:?}")),
    }
    state.events += 1;
    if state.events >= state.target {
        return state.signal.stop();
    }
    if let Err(e) = rustix::io::write(end, &buf[..1]) {
        fail(state, format!("write: {e}"));
    }
}

fn fail(state: &mut Count, message: String) {
    state.error = Some(message);
    state.signal.stop();
}

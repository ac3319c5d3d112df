//! `pingpong-net`: the one-byte socketpair ping-pong of `pingpong-ioman`, one level up: both
//! ends are ioman-net [`Connection`]s whose protocol answers every byte with one byte. Each
//! event is then one read, one `on_data`, one direct send, and the connection's bookkeeping
//! (kept input, watermarks, send timeout, drained hook, panic guard). Same output
//! (`{"events":N,"ns":T}`), so callgrind can count instructions per message at two event
//! counts, as `cargo xtask bench` does for the dispatch figures.
#![forbid(unsafe_code)]

use anyhow::{Context as _, Result};
use ioman_bench::pingpong;
use ioman_core::Manager;
use ioman_net::{ConnConfig, Connection, Net, Outbox, ProtoContext, Protocol};
use std::time::Instant;

/// Loop-wide state: messages so far and the target.
struct Count {
    events: u64,
    target: u64,
}

/// Answers each byte with one byte; stops the loop at the target.
struct Pong;

impl Protocol<Count> for Pong {
    fn on_data(
        &mut self,
        input: &[u8],
        out: &mut Outbox,
        cx: &mut ProtoContext<'_, Count>,
    ) -> usize {
        let count = cx.state();
        if count.events >= count.target {
            return input.len(); // done: the rest of this turn's messages are not counted
        }
        count.events += input.len() as u64;
        if count.events >= count.target {
            cx.context().stop();
        } else {
            out.extend_from_slice(input);
        }
        input.len()
    }
}

fn main() -> Result<()> {
    let args = pingpong::args()?;
    let mut manager = Manager::with_state(Net::new(Count { events: 0, target: args.events }))?;
    let config = std::sync::Arc::new(ConnConfig::default());
    let mut firsts = Vec::new();
    for (a, b) in pingpong::pairs(args.pairs)? {
        firsts.push(a.try_clone().context("dup")?);
        Connection::new(Pong, config.clone()).register_with(&mut manager, a)?;
        Connection::new(Pong, config.clone()).register_with(&mut manager, b)?;
    }
    let start = Instant::now();
    for a in &firsts {
        rustix::io::write(a, b"x").context("first write")?;
    }
    manager.run()?;
    let ns = start.elapsed().as_nanos();
    println!("{{\"events\":{},\"ns\":{ns}}}", manager.state().app().events);
    Ok(())
}

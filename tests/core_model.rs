//! Model-based property test: random sequences of add / close / set interest / set timeout /
//! write / advance clock / turn, run against the real manager (real pipes, manual clock) and a
//! plain model of what it must do. After every turn the calls the manager made must match the
//! model's: the same reads, and the same timeouts in the same (deadline) order.
//! Run with `PROPTEST_CASES=4096` in CI (`cargo xtask ci`).

mod support;

use ioman::{Config, Context, Error, Handler, Interest, Key, Manager, ManualClock, Timeout};
use proptest::prelude::*;
use rustix::fd::{BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};
use support::{drain, pipe};

#[derive(Clone, Debug)]
enum Op {
    Add(Option<u8>),
    Close(usize),
    SetRead(usize, bool),
    SetTimeout(usize, Option<u8>),
    Write(usize),
    Advance(u16),
    Turn,
}

fn op() -> impl Strategy<Value = Op> {
    let secs = proptest::option::of(1u8..5);
    prop_oneof![
        2 => secs.clone().prop_map(Op::Add),
        1 => (0usize..12).prop_map(Op::Close),
        1 => (0usize..12, any::<bool>()).prop_map(|(i, r)| Op::SetRead(i, r)),
        1 => (0usize..12, secs).prop_map(|(i, s)| Op::SetTimeout(i, s)),
        3 => (0usize..12).prop_map(Op::Write),
        2 => (0u16..3000).prop_map(Op::Advance),
        3 => Just(Op::Turn),
    ]
}

type Log = Vec<(usize, bool)>; // (registration index, true = read / false = timeout)

struct ModelProbe(usize);

impl Handler<Log> for ModelProbe {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Log>) {
        drain(fd);
        cx.state().push((self.0, true));
    }
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Log>) {
        cx.state().push((self.0, false)); // keeps the registration: re-armed for a full period
    }
}

/// The model of one registration.
struct Slot {
    key: Key,
    alive: bool,
    read: bool,
    idle: Option<Duration>,
    deadline: Option<Instant>,
    pending: bool,
    peer: OwnedFd,
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let mut m: Manager<Log> =
        Manager::with_config(Vec::new(), Config::default().clock(clock.clone())).unwrap();
    let mut slots: Vec<Slot> = Vec::new();
    let secs = |s: Option<u8>| s.map(|s| Duration::from_secs(s.into()));
    for op in ops {
        let now = clock.now();
        match op {
            Op::Add(s) => {
                let (r, w) = pipe();
                let idle = secs(s);
                let key = m.add(r, Interest::READ, idle.into(), ModelProbe(slots.len())).unwrap();
                let deadline = idle.map(|d| now + d);
                slots.push(Slot {
                    key,
                    alive: true,
                    read: true,
                    idle,
                    deadline,
                    pending: false,
                    peer: w,
                });
            }
            Op::Close(i) => {
                let Some(s) = slots.get_mut(i) else { continue };
                let r = m.close(s.key);
                prop_assert_eq!(r.is_ok(), s.alive);
                if let Err(e) = r {
                    prop_assert!(matches!(e, Error::UnknownKey(k) if k == s.key));
                }
                s.alive = false;
            }
            Op::SetRead(i, read) => {
                let Some(s) = slots.get_mut(i) else { continue };
                let r = m.set_interest(s.key, read.then_some(Interest::READ));
                prop_assert_eq!(r.is_ok(), s.alive);
                s.read = read;
            }
            Op::SetTimeout(i, t) => {
                let Some(s) = slots.get_mut(i) else { continue };
                let r = m.set_timeout(s.key, Timeout::from(secs(t)));
                prop_assert_eq!(r.is_ok(), s.alive);
                s.idle = secs(t);
                s.deadline = s.idle.map(|d| now + d);
            }
            Op::Write(i) => {
                let Some(s) = slots.get_mut(i) else { continue };
                if s.alive {
                    rustix::io::write(&s.peer, b"x").unwrap();
                    s.pending = true;
                }
            }
            Op::Advance(ms) => clock.advance(Duration::from_millis(ms.into())),
            Op::Turn => {
                m.state_mut().clear();
                m.turn(Some(Duration::ZERO)).unwrap();
                // Reads first (epoll order is free: compare sorted), each resetting the deadline.
                let mut reads = Vec::new();
                for (i, s) in slots.iter_mut().enumerate() {
                    if s.alive && s.read && s.pending {
                        reads.push(i);
                        s.pending = false;
                        s.deadline = s.idle.map(|d| now + d);
                    }
                }
                // Then timeouts, in deadline order (ties by key), each re-armed.
                let mut due: Vec<(Instant, Key, usize)> = slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.alive && s.deadline.is_some_and(|d| d <= now))
                    .map(|(i, s)| (s.deadline.unwrap(), s.key, i))
                    .collect();
                due.sort();
                for &(_, _, i) in &due {
                    slots[i].deadline = slots[i].idle.map(|d| now + d);
                }
                let log = m.state();
                let n_reads = log.iter().take_while(|(_, r)| *r).count();
                let mut got_reads: Vec<usize> = log[..n_reads].iter().map(|(i, _)| *i).collect();
                got_reads.sort();
                let got_timeouts: Vec<usize> = log[n_reads..].iter().map(|(i, _)| *i).collect();
                prop_assert_eq!(got_reads, reads, "reads");
                prop_assert!(log[n_reads..].iter().all(|(_, r)| !r), "reads before timeouts");
                let want: Vec<usize> = due.iter().map(|(_, _, i)| *i).collect();
                prop_assert_eq!(got_timeouts, want, "timeouts in deadline order");
            }
        }
        prop_assert_eq!(m.len(), slots.iter().filter(|s| s.alive).count());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn manager_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops)?;
    }
}

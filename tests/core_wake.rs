//! Waking a registration: `Context::wake` / `Manager::wake` lead to one `on_wake` per turn,
//! after that turn's I/O and timeouts; wakes coalesce; a wake from `on_wake` runs next turn
//! without the loop sleeping; dead keys are errors; other threads wake through a `Remote` job.

mod support;

use ioman::{Error, Interest, Manager, Timeout, Timer};
use std::time::Duration;
use support::*;

#[test]
fn wakes_coalesce_and_run_after_io_and_timeouts() {
    let (mut m, clock) = manual();
    let (b_fd, _b_peer) = socketpair();
    let b = m.add(b_fd, Interest::READ, Timeout::Never, Probe::new("b")).unwrap();
    m.state_mut().keys.insert("b", b);
    m.add_timer(Timer::once(Duration::from_secs(1)), Probe::new("t").on_timeout(|cx| cx.close()))
        .unwrap();
    let (a_fd, a_peer) = socketpair();
    let waker = Probe::new("a").on_read(|cx| {
        let b = cx.state().keys["b"];
        for _ in 0..3 {
            cx.wake(b).unwrap();
        }
    });
    m.add(a_fd, Interest::READ, Timeout::Never, waker).unwrap();
    send(&a_peer, b"go");
    clock.advance(Duration::from_secs(1));
    poll(&mut m);
    let log: Vec<_> = m.state().log.clone();
    assert_eq!(log, [("a", Call::Read), ("t", Call::Timeout), ("b", Call::Wake)]);
    assert_eq!(m.stats().wakes, 1);
}

#[test]
fn a_wake_from_on_wake_runs_next_turn_without_sleeping() {
    let mut m: Manager<World> = Manager::new().unwrap(); // real clock
    let rounds = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = std::rc::Rc::clone(&rounds);
    let again = Probe::new("w").on_wake(move |cx| {
        seen.set(seen.get() + 1);
        if seen.get() < 3 {
            let me = cx.key();
            cx.wake(me).unwrap();
        }
    });
    let k = m.add_timer(Timer::once(Duration::from_secs(3600)), again).unwrap();
    m.wake(k).unwrap();
    // Each turn runs one wake; with a wake pending, a turn with no time limit must not sleep.
    for expected in 1..=3 {
        m.turn(None).unwrap();
        assert_eq!(rounds.get(), expected);
    }
    assert_eq!(m.state().calls("w"), [Call::Wake; 3]);
}

#[test]
fn waking_a_dead_key_is_an_error_and_a_closed_one_is_skipped() {
    let (mut m, _clock) = manual();
    let (fd, _peer) = socketpair();
    let k = m.add(fd, Interest::READ, Timeout::Never, Probe::new("p")).unwrap();
    m.wake(k).unwrap();
    m.close(k).unwrap(); // woken, then closed before the wake ran
    poll(&mut m);
    assert!(m.state().log.is_empty());
    assert!(matches!(m.wake(k), Err(Error::UnknownKey(x)) if x == k));
}

#[test]
fn another_thread_wakes_through_a_remote_job() {
    let mut m: Manager<World> = Manager::new().unwrap();
    let k = m
        .add_timer(Timer::once(Duration::from_secs(3600)), Probe::new("w").on_wake(|cx| cx.stop()))
        .unwrap();
    let remote = m.remote();
    std::thread::spawn(move || remote.post(move |m| m.wake(k).unwrap()).unwrap()).join().unwrap();
    m.run().unwrap(); // the job wakes "w", whose on_wake stops the loop
    assert_eq!(m.state().calls("w"), [Call::Wake]);
}

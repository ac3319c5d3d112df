//! Timeouts with an injected clock: never early, in deadline order, reset by activity, kept or
//! changed by `Modify`, re-armed when the handler keeps the registration, standalone timers,
//! and a zero timeout that never starves I/O. Time moves only by `ManualClock::advance`.

mod support;

use ioman::{Interest, Manager, Modify, Timeout, Timer};
use std::time::Duration;
use support::*;

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn idle(d: Duration) -> Timeout {
    Timeout::Idle(d)
}

#[test]
fn fires_no_earlier_than_due_and_on_the_turn_it_is_due() {
    let (mut m, clock) = manual();
    let (fd, _peer) = socketpair();
    let k = m.add(fd, Interest::READ, idle(10 * S), Probe::new("p")).unwrap();
    clock.advance(10 * S - MS);
    poll(&mut m);
    assert!(m.state().log.is_empty());
    clock.advance(MS);
    poll(&mut m);
    assert_eq!(m.state().calls("p"), [Call::Timeout]);
    assert!(!m.contains(k), "the default on_timeout closes");
    assert_eq!(m.stats().timeouts_fired, 1);
}

#[test]
fn activity_pushes_the_deadline_back() {
    let (mut m, clock) = manual();
    let (fd, peer) = socketpair();
    m.add(fd, Interest::READ, idle(10 * S), Probe::new("p")).unwrap();
    clock.advance(5 * S);
    send(&peer, b"x");
    poll(&mut m); // read at t=5: deadline 15
    clock.advance(9 * S);
    poll(&mut m);
    assert_eq!(m.state().calls("p"), [Call::Read]);
    clock.advance(S);
    poll(&mut m);
    assert_eq!(m.state().calls("p"), [Call::Read, Call::Timeout]);
}

#[test]
fn due_timeouts_fire_in_deadline_order_after_io() {
    let (mut m, clock) = manual();
    let mut peers = Vec::new();
    for (name, secs) in [("three", 3), ("one", 1), ("two", 2)] {
        let (fd, peer) = socketpair();
        peers.push(peer);
        m.add(fd, Interest::READ, idle(secs * S), Probe::new(name)).unwrap();
    }
    // Make "three" active at t=0.5: its deadline becomes 3.5 (a lazily moved heap entry).
    clock.advance(S / 2);
    send(&peers[0], b"x");
    poll(&mut m);
    clock.advance(10 * S);
    poll(&mut m);
    let names: Vec<_> = m.state().log.iter().map(|(n, c)| (*n, *c)).collect();
    assert_eq!(
        names,
        [
            ("three", Call::Read),
            ("one", Call::Timeout),
            ("two", Call::Timeout),
            ("three", Call::Timeout)
        ]
    );
}

#[test]
fn modify_keeps_or_resets_the_timeout() {
    let (mut m, clock) = manual();
    let (a, _pa) = socketpair();
    let (b, _pb) = socketpair();
    let ka = m.add(a, Interest::READ, idle(10 * S), Probe::new("keep")).unwrap();
    let kb = m.add(b, Interest::READ, idle(10 * S), Probe::new("reset")).unwrap();
    clock.advance(6 * S);
    // The seed's "new timeout 0 = keep": leave it unset.
    m.modify(ka, Modify::new().interest(Interest::BOTH)).unwrap();
    m.modify(kb, Modify::new().timeout(idle(10 * S))).unwrap();
    m.set_interest(ka, Interest::READ).unwrap();
    clock.advance(4 * S);
    poll(&mut m);
    assert_eq!(m.state().calls("keep"), [Call::Timeout]);
    assert!(m.state().calls("reset").is_empty());
    clock.advance(6 * S);
    poll(&mut m);
    assert_eq!(m.state().calls("reset"), [Call::Timeout]);
}

#[test]
fn never_never_fires_and_can_disarm() {
    let (mut m, clock) = manual();
    let (a, _pa) = socketpair();
    let (b, _pb) = socketpair();
    m.add(a, Interest::READ, Timeout::Never, Probe::new("never")).unwrap();
    let kb = m.add(b, Interest::READ, idle(S), Probe::new("disarmed")).unwrap();
    m.set_timeout(kb, Timeout::Never).unwrap();
    clock.advance(Duration::from_secs(1_000_000));
    poll(&mut m);
    assert!(m.state().log.is_empty());
    assert_eq!(m.len(), 2);
}

#[test]
fn a_kept_registration_is_rearmed_for_a_full_period() {
    let (mut m, clock) = manual();
    let (fd, _peer) = socketpair();
    let probe = Probe::new("p").on_timeout(|_| {}); // keeps the registration
    m.add(fd, Interest::READ, idle(2 * S), probe).unwrap();
    for _ in 0..3 {
        clock.advance(2 * S);
        poll(&mut m);
    }
    assert_eq!(m.state().calls("p"), [Call::Timeout; 3]);
    clock.advance(S);
    poll(&mut m);
    assert_eq!(m.state().calls("p").len(), 3);
}

#[test]
fn standalone_timers_once_and_every() {
    let (mut m, clock) = manual();
    let once = m.add_timer(Timer::once(S), Probe::new("once").on_timeout(|_| {})).unwrap();
    m.add_timer(Timer::every(2 * S), Probe::new("every").on_timeout(|_| {})).unwrap();
    clock.advance(S);
    poll(&mut m);
    assert_eq!(m.state().calls("once"), [Call::Timeout]);
    assert!(m.contains(once), "kept by its handler, dormant");
    clock.advance(S); // t=2: first tick
    poll(&mut m);
    clock.advance(5 * S); // t=7: ticks 4 and 6 were missed: one firing, next at 8
    poll(&mut m);
    assert_eq!(m.state().calls("every").len(), 2);
    clock.advance(S - MS);
    poll(&mut m);
    assert_eq!(m.state().calls("every").len(), 2);
    clock.advance(MS);
    poll(&mut m);
    assert_eq!(m.state().calls("every").len(), 3);
    assert_eq!(m.state().calls("once"), [Call::Timeout], "a one-shot fires once");
    // A dormant one-shot can be re-armed.
    m.set_timeout(once, idle(S)).unwrap();
    clock.advance(S);
    poll(&mut m);
    assert_eq!(m.state().calls("once").len(), 2);
}

#[test]
fn a_zero_timeout_never_starves_io() {
    let (mut m, _clock) = manual();
    // A timer that re-arms itself with zero on every firing.
    let spinner = Probe::new("zero").on_timeout(|cx| cx.set_timeout(Timeout::Idle(Duration::ZERO)));
    m.add_timer(Timer::once(Duration::ZERO), spinner).unwrap();
    let (fd, peer) = socketpair();
    m.add(fd, Interest::READ, Timeout::Never, Probe::new("io")).unwrap();
    for i in 0..5 {
        send(&peer, b"x");
        poll(&mut m);
        assert_eq!(m.state().calls("io").len(), i + 1, "I/O is served every turn");
        assert_eq!(m.state().calls("zero").len(), i + 1, "the zero timer fires once per turn");
    }
}

#[test]
fn the_wait_ends_at_the_next_deadline_with_the_real_clock() {
    let mut m: Manager<World> = Manager::new().unwrap();
    m.add_timer(Timer::once(Duration::from_millis(20)), Probe::new("t")).unwrap();
    // No I/O and no limit: only the deadline can end this wait.
    m.turn(None).unwrap();
    while m.state().log.is_empty() {
        m.turn(None).unwrap(); // tolerate an early kernel wake-up; never an endless wait
    }
    assert_eq!(m.state().calls("t"), [Call::Timeout]);
    assert!(m.is_empty());
}

#[test]
fn resetting_a_deadline_does_not_grow_the_timer_heap() {
    // O(1) resets: 10k activities on one registration, then one timeout.
    let (mut m, clock) = manual();
    let (fd, peer) = socketpair();
    m.add(fd, Interest::READ, idle(10 * S), Probe::new("p")).unwrap();
    for _ in 0..10_000 {
        clock.advance(MS);
        send(&peer, b"x");
        poll(&mut m);
    }
    assert_eq!(m.state().calls("p").len(), 10_000);
    clock.advance(10 * S);
    poll(&mut m);
    assert_eq!(m.state().calls("p").last(), Some(&Call::Timeout));
}

#[test]
fn a_due_deadline_is_not_slept_past_with_a_manual_clock() {
    let (mut m, clock) = manual();
    m.add_timer(Timer::once(S), Probe::new("t")).unwrap();
    clock.advance(S);
    // An hour's limit: the due timer must fire now, not after a real hour.
    m.turn(Some(Duration::from_secs(3600))).unwrap();
    assert_eq!(m.state().calls("t"), [Call::Timeout]);
}

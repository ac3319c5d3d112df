//! API misuse yields typed errors, never a panic: stale keys, double close, fds epoll cannot
//! poll, timers where an fd is needed, a zero period, a remote whose manager is gone.

mod support;

use ioman::{Error, Interest, Manager, Modify, Timeout, Timer};
use std::time::Duration;
use support::*;

#[test]
fn stale_keys_and_double_close_are_errors() {
    let (mut m, _clock) = manual();
    let (fd, _peer) = socketpair();
    let k = m.add(fd, Interest::READ, Timeout::Never, Probe::new("p")).unwrap();
    m.close(k).unwrap();
    assert!(matches!(m.close(k), Err(Error::UnknownKey(x)) if x == k));
    assert!(matches!(m.set_interest(k, Interest::WRITE), Err(Error::UnknownKey(_))));
    assert!(matches!(m.set_timeout(k, Timeout::Never), Err(Error::UnknownKey(_))));
    assert!(matches!(m.modify(k, Modify::new()), Err(Error::UnknownKey(_))));
    assert!(m.handler(k).is_none());
    // The slot is reused with a new generation: the old key still names nothing.
    let k2 = m.add(pipe().0, Interest::READ, Timeout::Never, Probe::new("r")).unwrap();
    assert_ne!(k, k2);
    assert!(matches!(m.close(k), Err(Error::UnknownKey(_))));
    assert!(m.contains(k2));
}

#[test]
fn regular_files_are_refused_and_closed() {
    let (mut m, _clock) = manual();
    let file = std::fs::File::open("/proc/self/exe").unwrap();
    let r = m.add(file, Interest::READ, Timeout::Never, Probe::new("f"));
    assert!(matches!(r, Err(Error::NotPollable)), "{:?}", r.map(|_| ()));
    assert!(m.is_empty()); // that the fd was closed is checked in core_fd_lifecycle.rs
}

#[test]
fn timers_have_no_interest_and_need_a_period() {
    let (mut m, _clock) = manual();
    let t = m.add_timer(Timer::once(Duration::from_secs(1)), Probe::new("t")).unwrap();
    assert!(matches!(m.set_interest(t, Interest::READ), Err(Error::NotAnFd(x)) if x == t));
    let r = m.add_timer(Timer::every(Duration::ZERO), Probe::new("z"));
    assert!(matches!(r, Err(Error::ZeroPeriod)));
}

#[test]
fn absurd_durations_do_not_overflow() {
    let (mut m, clock) = manual();
    let (fd, _peer) = socketpair();
    let k = m.add(fd, Interest::READ, Timeout::Idle(Duration::MAX), Probe::new("p")).unwrap();
    m.add_timer(Timer::every(Duration::MAX), Probe::new("t")).unwrap();
    clock.advance(Duration::from_secs(u32::MAX.into()));
    poll(&mut m);
    assert!(m.state().log.is_empty() && m.contains(k));
}

#[test]
fn a_remote_outliving_its_manager_gets_an_error() {
    let m: Manager<World> = Manager::new().unwrap();
    let remote = m.remote();
    drop(m);
    assert!(matches!(remote.post(|_| {}), Err(Error::ManagerGone)));
}

//! A panicking handler loses only its own registration (calloop aborts the batch, `ae` the
//! process): its fd is closed, the panic is reported, and everyone else keeps being served.

mod support;

use ioman::{Interest, PanicReport, Timeout, Timer};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use support::*;

#[test]
fn a_panicking_handler_loses_only_its_own_registration() {
    let (mut m, _clock) = manual();
    let reports = Rc::new(RefCell::new(Vec::<PanicReport>::new()));
    let sink = Rc::clone(&reports);
    m.set_panic_hook(move |r| sink.borrow_mut().push(r.clone()));
    let (bad, bad_peer) = socketpair();
    let (good, good_peer) = socketpair();
    let kb = m
        .add(bad, Interest::READ, Timeout::Never, Probe::new("bad").on_read(|_| panic!("boom")))
        .unwrap();
    let kg = m.add(good, Interest::READ, Timeout::Never, Probe::new("good")).unwrap();
    send(&bad_peer, b"x");
    send(&good_peer, b"x");
    poll(&mut m);
    assert!(!m.contains(kb) && m.contains(kg));
    assert_eq!(m.state().calls("good"), [Call::Read], "the batch went on");
    assert_eq!(m.stats().panics_caught, 1);
    assert_eq!(*reports.borrow(), [PanicReport { key: Some(kb), message: "boom".into() }]);
    let r = rustix::io::read(&bad_peer, &mut [0u8; 1]);
    assert!(matches!(r, Ok(0) | Err(rustix::io::Errno::CONNRESET)), "fd closed: {r:?}");
    // The loop keeps serving.
    send(&good_peer, b"y");
    poll(&mut m);
    assert_eq!(m.state().calls("good"), [Call::Read, Call::Read]);
}

#[test]
fn panics_in_timeouts_and_jobs_are_contained_too() {
    let (mut m, clock) = manual();
    let t = m
        .add_timer(
            Timer::once(Duration::from_secs(1)),
            Probe::new("t").on_timeout(|_| panic!("tick")),
        )
        .unwrap();
    let u = m.add_timer(Timer::once(Duration::from_secs(1)), Probe::new("u")).unwrap();
    clock.advance(Duration::from_secs(1));
    poll(&mut m);
    assert!(!m.contains(t));
    assert_eq!(m.state().calls("u"), [Call::Timeout]);
    assert!(!m.contains(u));
    m.remote().post(|_| panic!("job")).unwrap();
    m.remote().post(|m| m.state_mut().log.push(("job2", Call::Read))).unwrap();
    poll(&mut m);
    assert_eq!(m.state().calls("job2"), [Call::Read]);
    assert_eq!(m.stats().panics_caught, 2);
}

//! `WorkPool`: blocking work off the loop. Results come back on the loop's thread, the queue
//! is bounded, a panicking job is an error value, a job that hangs stalls nothing, and dropping
//! the pool waits for nobody.

mod support;

use ioman::{Interest, Manager, Timeout, WorkError, WorkPool};
use std::sync::mpsc;
use std::time::Duration;
use support::{Probe, World, pipe};

/// Turns until `done` holds (at most 500 turns of at most 100 ms).
#[track_caller]
fn turn_until<S>(m: &mut Manager<S>, mut done: impl FnMut(&Manager<S>) -> bool) {
    for _ in 0..500 {
        if done(m) {
            return;
        }
        m.turn(Some(Duration::from_millis(100))).unwrap();
    }
    panic!("condition not reached");
}

#[test]
fn results_come_back_on_the_loop_thread() {
    let mut m: Manager<Vec<(u32, bool)>> = Manager::new().unwrap();
    let pool = WorkPool::new(2, 16).unwrap();
    let remote = m.remote();
    let loop_thread = std::thread::current().id();
    for i in 0..10u32 {
        let job_thread = move || (i * i, std::thread::current().id() != loop_thread);
        pool.submit(&remote, job_thread, move |r, m: &mut Manager<Vec<(u32, bool)>>| {
            let (square, off_loop) = r.unwrap();
            assert_eq!(std::thread::current().id(), loop_thread, "callback on the loop");
            m.state_mut().push((square, off_loop));
        })
        .unwrap();
    }
    turn_until(&mut m, |m| m.state().len() == 10);
    let mut got = m.state().clone();
    got.sort();
    assert_eq!(got, (0..10u32).map(|i| (i * i, true)).collect::<Vec<_>>());
}

#[test]
fn the_queue_is_bounded_and_a_panic_is_an_error_value() {
    let mut m: Manager<Vec<Result<u32, WorkError>>> = Manager::new().unwrap();
    let pool = WorkPool::new(1, 2).unwrap();
    let remote = m.remote();
    let (release, gate) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel::<()>();
    let store = |r, m: &mut Manager<Vec<Result<u32, WorkError>>>| m.state_mut().push(r);
    // The only thread blocks; then two jobs fill the queue; the third is refused.
    pool.submit(
        &remote,
        move || {
            started.send(()).unwrap();
            gate.recv().unwrap();
            1
        },
        store,
    )
    .unwrap();
    running.recv_timeout(Duration::from_secs(10)).unwrap();
    pool.submit(&remote, || 2, store).unwrap();
    pool.submit(&remote, || -> u32 { panic!("boom") }, store).unwrap();
    assert_eq!(pool.queued(), 2);
    assert_eq!(pool.submit(&remote, || 4, store), Err(WorkError::Full(2)));
    release.send(()).unwrap();
    turn_until(&mut m, |m| m.state().len() == 3);
    assert_eq!(m.state()[..2], [Ok(1), Ok(2)]);
    assert_eq!(m.state()[2], Err(WorkError::Panicked("boom".into())));
    // The thread survived its job's panic.
    pool.submit(&remote, || 5, store).unwrap();
    turn_until(&mut m, |m| m.state().len() == 4);
    assert_eq!(m.state()[3], Ok(5));
}

#[test]
fn a_job_that_hangs_stalls_neither_the_loop_nor_the_drop() {
    let (mut m, _) = support::manual();
    let pool = WorkPool::new(1, 4).unwrap();
    let remote = m.remote();
    let (_release, gate) = mpsc::channel::<()>();
    // A "resolver" that never answers while the test runs.
    pool.submit(
        &remote,
        move || gate.recv().is_ok(),
        |_, m: &mut Manager<World>| {
            m.state_mut().log.push(("resolver", support::Call::Wake));
        },
    )
    .unwrap();
    // The loop still serves its fds.
    let (r, w) = pipe();
    let key = m.add(r, Interest::READ, Timeout::Never, Probe::new("pipe")).unwrap();
    support::send(&w, b"x");
    m.turn(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(m.state().calls("pipe").len(), 1, "the pipe was served");
    let _ = m.close(key);
    drop(pool); // returns at once, the job still blocked
    assert!(m.state().calls("resolver").is_empty());
}

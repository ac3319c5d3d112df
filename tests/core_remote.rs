//! The cross-thread handle: posts from many threads all run, in order per thread, however the
//! wakes coalesce; stop works from another thread; `run` returns when nothing is left.

mod support;

use ioman::{Interest, Manager, Timeout};
use std::sync::{Arc, Barrier};
use support::*;

#[test]
fn every_post_runs_even_when_wakes_coalesce() {
    let mut m: Manager<Vec<(usize, usize)>> = Manager::new().unwrap();
    let threads = 4;
    let per = 1000;
    let barrier = Arc::new(Barrier::new(threads));
    let mut handles = Vec::new();
    for t in 0..threads {
        let remote = m.remote();
        let barrier = Arc::clone(&barrier);
        handles.push(std::thread::spawn(move || {
            barrier.wait();
            for i in 0..per {
                remote.post(move |m| m.state_mut().push((t, i))).unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    // All remotes are gone: run returns once the queue is empty and nothing is registered.
    m.run().unwrap();
    let got = m.state();
    assert_eq!(got.len(), threads * per);
    for t in 0..threads {
        let mine: Vec<usize> = got.iter().filter(|(x, _)| *x == t).map(|(_, i)| *i).collect();
        assert_eq!(mine, (0..per).collect::<Vec<_>>(), "thread {t}'s posts ran in order");
    }
    assert_eq!(m.stats().jobs_run, (threads * per) as u64);
}

#[test]
fn stop_from_another_thread_ends_run_with_registrations_left() {
    let mut m: Manager<World> = Manager::new().unwrap();
    let (fd, _peer) = socketpair();
    m.add(fd, Interest::READ, Timeout::Never, Probe::new("idle")).unwrap();
    let remote = m.remote();
    let t = std::thread::spawn(move || remote.stop().unwrap());
    m.run().unwrap();
    t.join().unwrap();
    assert_eq!(m.len(), 1);
}

#[test]
fn posted_jobs_can_register_fds() {
    let mut m: Manager<World> = Manager::new().unwrap();
    let remote = m.remote();
    let (fd, peer) = socketpair();
    send(&peer, b"hi");
    std::thread::spawn(move || {
        remote
            .post(move |m| {
                let probe = Probe::new("posted").on_read(|cx| cx.close());
                m.add(fd, Interest::READ, Timeout::Never, probe).unwrap();
            })
            .unwrap();
    })
    .join()
    .unwrap();
    m.run().unwrap(); // runs the job, then the read, then nothing is left
    assert_eq!(m.state().calls("posted"), [Call::Read]);
}

//! The fd-number-reuse regression (mio #219, redis #333/#4877, calloop #155): within one
//! epoll batch, a handler closes another registration and opens a new fd that gets the closed
//! one's number. The closed registration's pending event must be dropped, not delivered to the
//! newcomer. This file holds one test so no other test opens fds concurrently.

mod support;

use ioman::{Interest, Key, Timeout};
use rustix::fd::OwnedFd;
use support::*;

/// Registers an fd with exactly number `n`: opens pipes until one lands there.
fn open_with_number(n: i32) -> OwnedFd {
    let mut spare = Vec::new();
    for _ in 0..1000 {
        let (r, w) = pipe();
        if number(&r) == n {
            return r;
        }
        spare.push((r, w));
    }
    panic!("could not get fd number {n}");
}

#[test]
fn stale_event_never_reaches_a_new_owner_of_the_same_fd_number() {
    let (mut m, _clock) = manual();
    let (a, a_peer) = socketpair();
    let (b, b_peer) = socketpair();
    let numbers = [number(&a), number(&b)];

    // Whichever of A and B runs first closes the other and registers a newcomer "C" on the
    // other's fd number. The other's event is in the same batch, so it is now stale.
    let names = ["a", "b"];
    let mut keys = [Key::default(); 2];
    for (i, fd) in [a, b].into_iter().enumerate() {
        let other = 1 - i;
        let probe = Probe::new(names[i]).on_read(move |cx| {
            let other_key = cx.state().keys[names[other]];
            if !cx.contains(other_key) {
                return;
            }
            cx.close_key(other_key).expect("close the other");
            let newcomer = open_with_number(numbers[other]);
            let c = cx.add(newcomer, Interest::READ, Timeout::Never, Probe::new("c")).unwrap();
            cx.state().keys.insert("c", c);
        });
        keys[i] = m.add(fd, Interest::READ, Timeout::Never, probe).unwrap();
        m.state_mut().keys.insert(names[i], keys[i]);
    }
    send(&a_peer, b"x");
    send(&b_peer, b"y");

    assert_eq!(poll(&mut m), 2, "both events are in one batch");
    let w = m.state();
    assert_eq!(w.log.len(), 1, "exactly one of A/B ran: {:?}", w.log);
    assert!(w.calls("c").is_empty(), "the newcomer got the stale event: {:?}", w.log);
    assert_eq!(m.stats().stale_events, 1);
    let c = w.keys["c"];
    let closed = if w.log[0].0 == "a" { keys[1] } else { keys[0] };
    assert!(!m.contains(closed) && m.contains(c));
    assert_ne!(c, closed, "same fd number, different key");
    drop((a_peer, b_peer));
}

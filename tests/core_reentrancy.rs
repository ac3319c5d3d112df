//! The re-entrancy matrix (calloop #45, #109): from inside each of the four callbacks, a
//! handler adds a registration, modifies itself, modifies another, closes itself, and closes
//! another. No double borrow, no panic, and each change takes effect when `Context` says.

mod support;

use ioman::{Context, Interest, Manager, ManualClock, Modify, Timeout};
use rustix::fd::OwnedFd;
use std::time::Duration;
use support::*;

#[derive(Clone, Copy, Debug)]
enum Trigger {
    Read,
    Write,
    Timeout,
    Error,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Add,
    ModifySelf,
    ModifyOther,
    CloseSelf,
    CloseOther,
}

const TRIGGERS: [Trigger; 4] = [Trigger::Read, Trigger::Write, Trigger::Timeout, Trigger::Error];
const ACTIONS: [Action; 5] =
    [Action::Add, Action::ModifySelf, Action::ModifyOther, Action::CloseSelf, Action::CloseOther];

/// What the target's scripted callback does.
fn act(action: Action, cx: &mut Context<'_, World>) {
    let other = cx.state().keys["other"];
    match action {
        Action::Add => {
            let (r, w) = pipe();
            send(&w, b"new");
            cx.state().keep.push(w);
            let k = cx.add(r, Interest::READ, Timeout::Never, Probe::new("added")).unwrap();
            cx.state().keys.insert("added", k);
        }
        Action::ModifySelf => {
            // Pause and swap in a new handler that will log as "replaced".
            let me = cx.key();
            let change = Modify::new().interest(None).handler(Probe::new("replaced"));
            cx.modify(me, change).unwrap();
        }
        Action::ModifyOther => {
            // The other registration has data pending; pausing it must keep it silent.
            cx.modify(other, Modify::new().interest(None)).unwrap();
        }
        Action::CloseSelf => {
            cx.close();
            assert!(!cx.contains(cx.key()), "the key dies at once");
            cx.close(); // closing twice is harmless
        }
        Action::CloseOther => cx.close_key(other).unwrap(),
    }
}

/// Sets up a target triggered by `trigger` whose callback performs `action`, and an "other"
/// registration (readable) registered after it.
fn scenario(trigger: Trigger, action: Action) {
    let (mut m, clock): (Manager<World>, ManualClock) = manual();
    let (target_fd, target_peer): (OwnedFd, OwnedFd) = socketpair();
    let mut target_peer = Some(target_peer);
    let (other_fd, other_peer) = socketpair();
    let probe = Probe::new("target");
    let hook = move |cx: &mut Context<'_, World>| act(action, cx);
    let (probe, interest, timeout) = match trigger {
        Trigger::Read => (probe.on_read(hook), Some(Interest::READ), Timeout::Never),
        Trigger::Write => (probe.on_write(hook), Some(Interest::WRITE), Timeout::Never),
        Trigger::Timeout => (probe.on_timeout(hook), None, Timeout::Idle(Duration::from_secs(1))),
        Trigger::Error => (probe.on_error(hook), None, Timeout::Never),
    };
    let target = m.add(target_fd, interest, timeout, probe).unwrap();
    let other = m.add(other_fd, Interest::READ, Timeout::Never, Probe::new("other")).unwrap();
    m.state_mut().keys.extend([("target", target), ("other", other)]);
    match trigger {
        Trigger::Read => send(target_peer.as_ref().unwrap(), b"go"),
        Trigger::Write => {}
        Trigger::Timeout => clock.advance(Duration::from_secs(1)),
        Trigger::Error => drop(target_peer.take()),
    }
    let ctx = format!("{trigger:?} x {action:?}");

    // First turn: the target's callback runs (timeouts run after I/O, so with Timeout the
    // "other" registration's read ran first; with the others, epoll order decides).
    send(&other_peer, b"data");
    poll(&mut m);
    let w = m.state();
    let expected = match trigger {
        Trigger::Read => Call::Read,
        Trigger::Write => Call::Write,
        Trigger::Timeout => Call::Timeout,
        Trigger::Error => Call::Hangup,
    };
    assert_eq!(w.calls("target"), [expected], "{ctx}: {:?}", w.log);
    assert_eq!(m.stats().panics_caught, 0, "{ctx}");
    let other_alive = m.contains(other);
    let target_alive = m.contains(target);

    match action {
        Action::Add => {
            let added = m.state().keys["added"];
            assert!(m.state().calls("added").is_empty(), "{ctx}: added sees the next turn");
            poll(&mut m);
            assert_eq!(m.state().calls("added"), [Call::Read], "{ctx}");
            assert!(m.contains(added), "{ctx}");
        }
        Action::ModifySelf => {
            // Error is terminal: the registration is closed whatever the handler did.
            if matches!(trigger, Trigger::Error) {
                assert!(!target_alive, "{ctx}");
            } else {
                assert!(target_alive, "{ctx}");
                m.set_interest(target, Interest::READ).unwrap();
                send(target_peer.as_ref().unwrap(), b"again");
                poll(&mut m);
                assert_eq!(m.state().calls("replaced"), [Call::Read], "{ctx}: new handler");
                assert_eq!(m.state().calls("target"), [expected], "{ctx}: old one is gone");
            }
        }
        Action::ModifyOther => {
            // If "other" ran before the target in this batch it has read already; either way,
            // once paused it gets no further read.
            let reads_before = m.state().calls("other").len();
            send(&other_peer, b"more");
            poll(&mut m);
            assert_eq!(m.state().calls("other").len(), reads_before, "{ctx}: paused");
            assert!(other_alive);
        }
        Action::CloseSelf => {
            assert!(!target_alive, "{ctx}");
            assert!(matches!(m.close(target), Err(ioman::Error::UnknownKey(k)) if k == target));
        }
        Action::CloseOther => {
            assert!(!other_alive, "{ctx}");
            // The other's fd is closed: its peer reads end of stream (or a reset, since data
            // was left unread), never "would block" as an open peer would.
            let r = rustix::io::read(&other_peer, &mut [0u8; 8]);
            assert!(matches!(r, Ok(0) | Err(rustix::io::Errno::CONNRESET)), "{ctx}: {r:?}");
        }
    }
    assert_eq!(m.stats().panics_caught, 0, "{ctx}");
}

#[test]
fn every_action_from_every_callback() {
    for trigger in TRIGGERS {
        for action in ACTIONS {
            scenario(trigger, action);
        }
    }
}

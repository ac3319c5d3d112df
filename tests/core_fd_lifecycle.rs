//! Every fd handed to a manager is closed exactly once, on every path: explicit close, a
//! handler closing itself or another, terminal errors, panics, refused registrations, and
//! dropping the manager. Counted through /proc/self/fd, so this binary holds a single test (no
//! concurrent test opens fds behind its back). Also checks the close order: the handler is
//! dropped while its fd is still open.

mod support;

use ioman::{Context, Handler, Interest, Manager, Timeout};
use rustix::fd::{AsRawFd, BorrowedFd};
use std::cell::Cell;
use std::rc::Rc;
use support::*;

/// On drop, records whether its fd (by number) was still open: it must be, since the manager
/// drops the handler before closing the fd.
struct DropWitness {
    fd_number: i32,
    open_at_drop: Rc<Cell<Option<bool>>>,
    panic_on_read: bool,
}

impl Handler<World> for DropWitness {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, World>) {
        drain(fd);
        assert!(!self.panic_on_read, "witness told to panic");
        cx.close();
    }
}

impl Drop for DropWitness {
    fn drop(&mut self) {
        self.open_at_drop.set(Some(is_open(self.fd_number)));
    }
}

fn witness(m: &mut Manager<World>, panic_on_read: bool) -> (Rc<Cell<Option<bool>>>, i32) {
    let (fd, peer) = socketpair();
    let n = fd.as_raw_fd();
    let flag = Rc::new(Cell::new(None));
    let h = DropWitness { fd_number: n, open_at_drop: Rc::clone(&flag), panic_on_read };
    m.add(fd, Interest::READ, Timeout::Never, h).unwrap();
    send(&peer, b"x");
    m.state_mut().keep.push(peer);
    (flag, n)
}

#[track_caller]
fn assert_closed_after_drop(flag: &Cell<Option<bool>>, n: i32, path: &str) {
    assert_eq!(flag.get(), Some(true), "{path}: handler dropped while its fd was open");
    assert!(!is_open(n), "{path}: fd {n} closed afterwards");
}

#[test]
fn every_path_closes_each_fd_exactly_once() {
    // 1000 deliberate panics: keep their messages out of the test output.
    std::panic::set_hook(Box::new(|_| {}));
    let baseline = open_fds();
    {
        let (mut m, clock) = manual();
        let manager_fds = open_fds();
        for round in 0..1000 {
            // explicit close
            let (a, pa) = socketpair();
            let ka = m.add(a, Interest::READ, Timeout::Never, Probe::new("a")).unwrap();
            m.close(ka).unwrap();
            assert!(m.close(ka).is_err());
            // self close from a handler, and closing another from a handler
            let (b, pb) = socketpair();
            let (c, pc) = socketpair();
            let kc = m.add(c, Interest::READ, Timeout::Never, Probe::new("c")).unwrap();
            m.state_mut().keys.insert("c", kc);
            let closer = Probe::new("b").on_read(|cx| {
                let c = cx.state().keys["c"];
                let _ = cx.close_key(c);
                cx.close();
            });
            m.add(b, Interest::READ, Timeout::Never, closer).unwrap();
            send(&pb, b"x");
            // terminal error (hang-up)
            let (d, pd) = socketpair();
            m.add(d, None, Timeout::Never, Probe::new("d")).unwrap();
            drop(pd);
            // timeout (default closes)
            let (e, pe) = socketpair();
            m.add(
                e,
                Interest::READ,
                Timeout::Idle(std::time::Duration::from_secs(1)),
                Probe::new("e"),
            )
            .unwrap();
            // panic
            let (f, pf) = socketpair();
            m.add(f, Interest::READ, Timeout::Never, Probe::new("f").on_read(|_| panic!("round")))
                .unwrap();
            send(&pf, b"x");
            // refused
            let file = std::fs::File::open("/proc/self/exe").unwrap();
            assert!(m.add(file, Interest::READ, Timeout::Never, Probe::new("g")).is_err());
            clock.advance(std::time::Duration::from_secs(1));
            poll(&mut m);
            assert!(m.is_empty(), "round {round}: {:?}", m.stats());
            drop((pa, pb, pc, pe, pf));
            assert_eq!(open_fds(), manager_fds, "round {round}");
        }
        assert_eq!(m.stats().panics_caught, 1000);
        // order checks, one per path
        let (flag, n) = witness(&mut m, false); // self close
        poll(&mut m);
        assert_closed_after_drop(&flag, n, "self close");
        let (flag, n) = witness(&mut m, true); // panic
        poll(&mut m);
        assert_closed_after_drop(&flag, n, "panic");
        let (flag, n) = witness(&mut m, false); // manager close
        let k = m.stats().registrations;
        assert_eq!(k, 1);
        let key = *m.state().keys.get("c").unwrap();
        assert!(!m.contains(key));
        m.state_mut().keep.clear();
        // dropping the manager with registrations still live
        for _ in 0..1000 {
            let (x, px) = socketpair();
            m.add(x, Interest::READ, Timeout::Never, Probe::new("x")).unwrap();
            m.state_mut().keep.push(px);
        }
        drop(m);
        assert_closed_after_drop(&flag, n, "manager drop");
    }
    assert_eq!(open_fds(), baseline, "no fd leaked, none closed twice");
}

//! A manager whose registrations share one handler enum stores it directly: no box, no
//! virtual call. The same events, timeouts and closes work as with boxed handlers.

mod support;

use ioman::{Config, Context, Handler, Interest, Manager, ManualClock, Timeout, Unboxed};
use rustix::fd::BorrowedFd;
use std::time::Duration;
use support::{drain, send, socketpair};

enum Proto {
    Sink,
    Once,
}

impl Unboxed for Proto {}

impl Handler<Vec<&'static str>, Proto> for Proto {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Vec<&'static str>, Proto>) {
        drain(fd);
        match self {
            Proto::Sink => cx.state().push("sink read"),
            Proto::Once => {
                cx.state().push("once read");
                cx.replace_handler(Proto::Sink); // becomes a sink from now on
            }
        }
    }
    fn on_timeout(
        &mut self,
        _fd: Option<BorrowedFd<'_>>,
        cx: &mut Context<'_, Vec<&'static str>, Proto>,
    ) {
        cx.state().push("timeout");
        cx.close();
    }
}

#[test]
fn an_enum_of_protocols_needs_no_box() {
    let clock = ManualClock::new();
    let mut m: Manager<Vec<&'static str>, Proto> =
        Manager::with_config(Vec::new(), Config::default().clock(clock.clone())).unwrap();
    let (fd, peer) = socketpair();
    let k = m.add(fd, Interest::READ, Timeout::Idle(Duration::from_secs(5)), Proto::Once).unwrap();
    for _ in 0..2 {
        send(&peer, b"x");
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    assert!(matches!(m.handler(k), Some(Proto::Sink)));
    clock.advance(Duration::from_secs(5));
    m.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!(*m.state(), ["once read", "sink read", "timeout"]);
    assert!(m.is_empty());
}

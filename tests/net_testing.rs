//! What only the socket-free [`Harness`](ioman::net::testing::Harness) can show (the shared
//! contract runs on it and on sockets in `net_contract.rs`): a peer reset, a reader that takes
//! an exact number of bytes, addresses, reaching a protocol's state between turns, and a
//! protocol that never lets the loop get quiet.

#[path = "support/net.rs"]
mod net;

use ioman::net::testing::Harness;
use ioman::net::{CloseReason, ConnConfig, Connection, Endpoint, Outbox, ProtoContext, Protocol};
use net::{Log, Script};

#[test]
fn a_reset_ends_the_connection_with_an_error() {
    let mut h = Harness::with_state(Log::default());
    let c = h.connect(Script::echo(), ConnConfig::default());
    h.send(c, b"ping");
    assert_eq!(h.received(c), b"ping");
    h.reset(c);
    match h.close_reason(c) {
        Some(CloseReason::Error(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_slow_reader_gets_exactly_what_it_takes() {
    let mut h = Harness::with_state(Log::default());
    let config = ConnConfig::default().watermarks(1024, 4096);
    let c = h.connect(Script::echo(), config);
    h.stop_reading(c);
    let data = net::pattern(10_000, 1);
    for piece in data.chunks(1000) {
        h.send(c, piece);
    }
    // Echoed while below the high watermark: 5 pieces; the rest waits at the peer.
    assert_eq!(h.pending_output::<Script>(c), Some(5000), "reading stops at the high watermark");
    assert_eq!(h.unread(c), 5000);
    h.read_more(c, 100);
    assert_eq!(h.received(c), &data[..100]);
    h.resume_reading(c);
    assert_eq!(h.received(c), &data[100..]);
    assert_eq!(h.pending_output::<Script>(c), Some(0));
}

#[test]
fn greeting_and_addresses() {
    struct Who;
    impl Protocol for Who {
        fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_>) -> usize {
            let peer = cx.peer_addr().map(|e| e.to_string()).unwrap_or_default();
            let local = cx.local_addr().map(|e| e.to_string()).unwrap_or_default();
            out.extend_from_slice(format!("{peer} -> {local}\n").as_bytes());
            input.len()
        }
    }
    let mut h = Harness::new();
    let c = h.add(Connection::new(Who, ConnConfig::default()).with_output(b"hi\n"));
    assert_eq!(h.received(c), b"hi\n");
    h.send(c, b"?");
    assert_eq!(h.received(c), b" -> \n", "no addresses until the test sets them");
    let peer: Endpoint = "192.0.2.7:5000".parse().unwrap();
    let local: Endpoint = "127.0.0.1:80".parse().unwrap();
    h.set_addrs(c, Some(peer), Some(local));
    h.send(c, b"?");
    assert_eq!(h.received(c), b"192.0.2.7:5000 -> 127.0.0.1:80\n");
}

#[test]
fn protocol_state_is_reachable_between_turns() {
    struct Count(usize);
    impl Protocol for Count {
        fn on_data(&mut self, input: &[u8], _: &mut Outbox, _: &mut ProtoContext<'_>) -> usize {
            self.0 += input.len();
            input.len()
        }
    }
    let mut h = Harness::new();
    let c = h.connect(Count(0), ConnConfig::default());
    h.send(c, b"12345");
    assert_eq!(h.protocol::<Count>(c).map(|p| p.0), Some(5));
    h.protocol_mut::<Count>(c).unwrap().0 = 100;
    h.send(c, b"1");
    assert_eq!(h.protocol::<Count>(c).map(|p| p.0), Some(101));
    assert!(h.protocol::<Script>(c).is_none(), "another type is not there");
    h.finish(c);
    assert!(h.protocol::<Count>(c).is_none(), "closed");
}

#[test]
#[should_panic(expected = "did not get quiet")]
fn a_protocol_that_wakes_itself_forever_is_reported() {
    struct Restless;
    impl Protocol for Restless {
        fn on_data(&mut self, input: &[u8], _: &mut Outbox, cx: &mut ProtoContext<'_>) -> usize {
            let me = cx.key();
            let _ = cx.conn(me).wake();
            input.len()
        }
        fn on_wake(&mut self, _: &mut Outbox, cx: &mut ProtoContext<'_>) {
            let me = cx.key();
            let _ = cx.conn(me).wake();
        }
    }
    let mut h = Harness::new();
    let c = h.connect(Restless, ConnConfig::default());
    h.send(c, b"go");
}

//! The buffered connection on real sockets, driven turn by turn on the test thread: the
//! per-event read budget, watermarks, partial and vectored writes through a tiny send
//! buffer, half-close versus error, close-after-flush, the input cap and the memory an idle
//! connection keeps.

#[path = "support/net.rs"]
mod net;

use ioman::net::{ConnConfig, Connection, Net, Outbox, ProtoContext, Protocol};
use ioman::{Manager, Timeout};
use net::*;
use std::io::{ErrorKind, Write};
use std::sync::Arc;

type M = Manager<Net<Log>>;

fn manager() -> M {
    Manager::with_state(Net::new(Log::default())).expect("manager")
}

#[test]
fn read_budget_bounds_each_event_so_a_busy_peer_cannot_starve_another() {
    let mut m = manager();
    let cfg = ConnConfig::default().read_budget(1000);
    let (busy, mut busy_client) = unix_pair();
    let (quiet, mut quiet_client) = unix_pair();
    let busy_key =
        Connection::new(Script::sink(), cfg.clone()).register_with(&mut m, busy).unwrap();
    Connection::new(Script::sink(), cfg).register_with(&mut m, quiet).unwrap();
    send(&mut busy_client, &pattern(20_000, 0));
    send(&mut quiet_client, b"q");
    m.turn(Some(WAIT)).unwrap();
    let log = m.state().app();
    assert!(log.calls.iter().all(|&n| n <= 1000), "a read exceeded the budget: {:?}", log.calls);
    assert!(log.input.contains(&b'q'), "the quiet peer waited behind the busy one");
    assert!(log.input.len() <= 1001, "one event read {} bytes", log.input.len());
    turn_until(&mut m, 100, |m| m.state().app().input.len() == 20_001);
    assert!(m.contains(busy_key));
}

/// Echo with watermarks 4 KiB / 16 KiB and a tiny send buffer; the client writes but does not
/// read: the server must stop reading, holding a bounded backlog, and deliver it all later.
#[test]
fn watermarks_stop_reading_while_the_peer_is_not_consuming() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    tiny_send_buffer(&server);
    let cfg = ConnConfig::default().watermarks(4096, 16 * 1024).read_budget(4096);
    Connection::new(Script::echo(), cfg).register_with(&mut m, server).unwrap();
    client.set_nonblocking(true).unwrap();
    let data = pattern(4 * 1024 * 1024, 7);
    let mut sent = 0;
    let mut stalled = 0;
    // Write without reading until neither side makes progress (bounded by a turn count).
    for _ in 0..10_000 {
        let before = (sent, m.state().stats().bytes_read);
        match client.write(&data[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("write: {e}"),
        }
        m.turn(Some(std::time::Duration::ZERO)).unwrap();
        stalled = if (sent, m.state().stats().bytes_read) == before { stalled + 1 } else { 0 };
        if stalled == 20 {
            break;
        }
    }
    assert_eq!(stalled, 20, "reading never stopped");
    let stats = m.state().stats();
    let backlog = stats.bytes_read - stats.bytes_written;
    assert!(backlog <= 16 * 1024 + 4096, "server buffered {backlog} bytes for a stalled peer");
    assert!(sent < data.len(), "the kernel buffers should have filled first");
    // Now the client reads: everything comes back, in order.
    client.set_nonblocking(false).unwrap();
    let rest = data[sent..].to_vec();
    let echoed = exchange(&mut m, &mut client, &rest, data.len());
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "echoed bytes differ");
}

/// One request, a 1 MiB reply in several kinds of chunks (vectored sends), through a tiny
/// send buffer: many partial writes, one `on_drained` at the end.
#[test]
fn partial_and_vectored_writes_deliver_everything_in_order() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    tiny_send_buffer(&server);
    let shared: Arc<[u8]> = Arc::from(pattern(300_000, 3));
    let reply = {
        let shared = shared.clone();
        move |input: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_, Log>| {
            out.extend_from_slice(b"head:");
            out.push_shared(shared.clone());
            out.push_static(b"|static|");
            out.push_vec(pattern(700_000, 9));
            out.vec().extend_from_slice(b":tail");
            input.len()
        }
    };
    Connection::new(Script::new(reply), ConnConfig::default())
        .register_with(&mut m, server)
        .unwrap();
    let mut expected = b"head:".to_vec();
    expected.extend_from_slice(&shared);
    expected.extend_from_slice(b"|static|");
    expected.extend_from_slice(&pattern(700_000, 9));
    expected.extend_from_slice(b":tail");
    let got = exchange(&mut m, &mut client, b"go", expected.len());
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "reply corrupted");
    m.turn(Some(std::time::Duration::ZERO)).unwrap();
    assert_eq!(m.state().app().count("drained"), 1);
}

#[test]
fn half_close_is_end_of_stream_and_the_server_can_still_answer() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    let script = Script::sink().farewell(b"bye");
    Connection::new(script, ConnConfig::default()).register_with(&mut m, server).unwrap();
    send(&mut client, b"last words");
    client.shutdown(std::net::Shutdown::Write).unwrap();
    turn_until(&mut m, 50, |m| m.is_empty() || m.state().app().count("close:done") == 1);
    assert_eq!(read_n(&mut client, 3), b"bye");
    assert_eof(&mut client);
    let log = m.state().app();
    assert_eq!(log.input, b"last words");
    assert_eq!(log.count("eof"), 1);
    assert_eq!(log.count("close:done"), 1, "events: {:?}", log.events);
}

#[test]
fn a_reset_is_an_error_not_an_end_of_stream() {
    let mut m = manager();
    let (server, client) = tcp_pair();
    Connection::new(Script::sink(), ConnConfig::default()).register_with(&mut m, server).unwrap();
    rustix::net::sockopt::set_socket_linger(&client, Some(std::time::Duration::ZERO)).unwrap();
    drop(client); // SO_LINGER 0: RST instead of FIN
    turn_until(&mut m, 50, |m| m.state().connections() == 0);
    let log = m.state().app();
    assert_eq!(log.count("eof"), 0, "a reset was reported as end of stream");
    assert_eq!(log.count("close:error:ConnectionReset"), 1, "events: {:?}", log.events);
}

#[test]
fn close_after_flush_sends_everything_then_closes() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    tiny_send_buffer(&server);
    let big = pattern(512 * 1024, 1);
    let body = big.clone();
    let script = Script::new(move |input, out, cx| {
        out.extend_from_slice(&body);
        cx.close_after_flush();
        input.len()
    });
    Connection::new(script, ConnConfig::default()).register_with(&mut m, server).unwrap();
    let got = exchange(&mut m, &mut client, b"x", big.len());
    assert!(got == big, "got {} of {} bytes", got.len(), big.len());
    turn_until(&mut m, 50, |m| m.state().connections() == 0);
    assert_eof(&mut client);
    assert_eq!(m.state().app().count("close:closed"), 1);
}

#[test]
fn unconsumed_input_beyond_the_cap_closes_the_connection() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    let script = Script::new(|_, _, _| 0); // never consumes: a message that never completes
    Connection::new(script, ConnConfig::default().max_input(1000))
        .register_with(&mut m, server)
        .unwrap();
    send(&mut client, &pattern(2000, 0));
    turn_until(&mut m, 50, |m| m.state().connections() == 0);
    assert_eq!(m.state().app().count("close:too-large"), 1);
    assert_eof(&mut client);
}

#[test]
fn partial_messages_are_offered_again_with_the_next_bytes() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    // Consumes whole lines only.
    let lines = Script::new(|input, out, cx| {
        let end = input.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        cx.state().input.extend_from_slice(&input[..end]);
        out.extend_from_slice(&input[..end]);
        end
    });
    Connection::new(lines, ConnConfig::default()).register_with(&mut m, server).unwrap();
    m.turn(Some(WAIT)).unwrap(); // `on_open`
    for piece in [&b"hel"[..], b"lo\nwor", b"ld", b"\n"] {
        send(&mut client, piece);
        m.turn(Some(WAIT)).unwrap();
    }
    assert_eq!(read_n(&mut client, 12), b"hello\nworld\n");
    // "hel", "hello\nwor", then "wor" again at once (a call that consumed something may have
    // stopped by choice), which consumes nothing: no further offer until new bytes, "world",
    // "world\n".
    assert_eq!(m.state().app().calls, [3, 9, 3, 5, 6]);
}

#[test]
fn outgoing_connect_failure_is_reported() {
    let mut m = manager();
    // Bound but not listening: connecting is refused (and no other test can take the port).
    let (_held, port) = refused_addr();
    let fd = ioman::net::connect(&port.into()).unwrap();
    Connection::connecting(Script::sink(), ConnConfig::default())
        .register_with(&mut m, fd)
        .unwrap();
    turn_until(&mut m, 50, |m| m.state().connections() == 0);
    let log = m.state().app();
    assert_eq!(log.count("close:connect:ConnectionRefused"), 1, "events: {:?}", log.events);
}

#[test]
fn outgoing_connect_holds_output_until_connected() {
    let mut m = manager();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = ioman::net::connect(&listener.local_addr().unwrap().into()).unwrap();
    let conn = Connection::connecting(Script::sink(), ConnConfig::default()).with_output(b"hello");
    conn.register_with(&mut m, fd).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    turn_until(&mut m, 50, |m| m.state().stats().bytes_written == 5);
    assert_eq!(read_n(&mut peer, 5), b"hello");
    peer.write_all(b"hi").unwrap();
    turn_until(&mut m, 50, |m| m.state().app().input == b"hi");
}

/// A protocol that pauses its input and half-closes, whose peer then sends more and closes:
/// the kernel reports a hang-up while unread data remains; that data must still arrive.
#[test]
fn hangup_while_paused_still_delivers_the_unread_input() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    let script = Script::new(|input, _, cx| {
        cx.state().input.extend_from_slice(input);
        cx.pause_reading();
        cx.shutdown_write();
        input.len()
    });
    Connection::new(script, ConnConfig::default()).register_with(&mut m, server).unwrap();
    send(&mut client, b"first ");
    turn_until(&mut m, 50, |m| m.state().app().input == b"first ");
    assert_eof(&mut client); // our shutdown_write arrived
    send(&mut client, b"and the rest");
    drop(client);
    turn_until(&mut m, 50, |m| m.state().connections() == 0);
    assert_eq!(m.state().app().input, b"first and the rest");
}

#[test]
fn an_idle_connection_keeps_no_buffer() {
    struct Echo;
    impl Protocol for Echo {
        fn on_data(&mut self, i: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_>) -> usize {
            out.extend_from_slice(i);
            i.len()
        }
    }
    // The handler is all a connection owns besides the core's slot: no inline buffers (the
    // outbox carries its limits and O(1) counters, the rest is pointers and flags).
    let size = std::mem::size_of::<Connection<Echo>>();
    assert!(size <= 128, "Connection<Echo> is {size} bytes");
    let conn = Connection::new(Echo, ConnConfig::default());
    assert_eq!(conn.pending_output(), 0);
    let _ = Timeout::Never;
}

#[test]
fn idle_timeout_comes_from_the_core_clock_and_activity_resets_it() {
    let clock = ioman::ManualClock::new();
    let config = ioman::Config::default().clock(clock.clone());
    let mut m: M = Manager::with_config(Net::new(Log::default()), config).unwrap();
    let (server, mut client) = unix_pair();
    let second = std::time::Duration::from_secs(1);
    let cfg = ConnConfig::default().idle(Timeout::Idle(10 * second));
    Connection::new(Script::echo(), cfg).register_with(&mut m, server).unwrap();
    clock.advance(9 * second);
    m.turn(Some(std::time::Duration::ZERO)).unwrap();
    send(&mut client, b"still here");
    m.turn(Some(WAIT)).unwrap(); // activity: the deadline moves to now + 10 s
    assert_eq!(read_n(&mut client, 10), b"still here");
    clock.advance(9 * second);
    m.turn(Some(std::time::Duration::ZERO)).unwrap();
    assert_eq!(m.state().app().count("idle"), 0, "fired early");
    clock.advance(second);
    m.turn(Some(std::time::Duration::ZERO)).unwrap();
    assert_eq!(m.state().app().count("idle"), 1);
    assert_eq!(m.state().connections(), 0);
    assert_eof(&mut client);
}

#[test]
fn peers_reach_each_other_by_key_and_dead_keys_are_gone() {
    let mut m = manager();
    let (a, mut a_client) = unix_pair();
    let (b, mut b_client) = unix_pair();
    // `a` forwards what it reads to the connection named in the log, then wakes it.
    let relay = Script::new(|input, out, cx| {
        let target = cx.state().keys[0];
        match cx.conn(target).send(input).and_then(|_| cx.conn(target).wake()) {
            Ok(()) => out.extend_from_slice(b"ok;"),
            Err(ioman::net::NetError::Gone(_)) => out.extend_from_slice(b"gone;"),
            Err(e) => panic!("{e}"),
        }
        input.len()
    });
    Connection::new(relay, ConnConfig::default()).register_with(&mut m, a).unwrap();
    let b_key =
        Connection::new(Script::sink(), ConnConfig::default()).register_with(&mut m, b).unwrap();
    m.state_mut().app_mut().keys.push(b_key);
    send(&mut a_client, b"for b");
    turn_until(&mut m, 50, |m| m.state().app().count("wake") == 1);
    assert_eq!(read_n(&mut a_client, 3), b"ok;");
    assert_eq!(read_n(&mut b_client, 5), b"for b");
    // b leaves; a's next relay finds the key dead.
    drop(b_client);
    turn_until(&mut m, 50, |m| !m.state().is_connection(b_key));
    send(&mut a_client, b"again");
    turn_until(&mut m, 50, |m| m.state().stats().bytes_written >= 3 + 5 + 5);
    assert_eq!(read_n(&mut a_client, 5), b"gone;");
}

#[test]
fn a_protocol_sees_its_peer_and_local_addresses() {
    let mut m = manager();
    let (server, mut client) = tcp_pair();
    let record = Script::new(|input, out, cx| {
        let (peer, local) = (cx.peer_addr(), cx.local_addr());
        out.extend_from_slice(format!("{peer:?} {local:?}").as_bytes());
        input.len()
    });
    Connection::new(record, ConnConfig::default()).register_with(&mut m, server).unwrap();
    send(&mut client, b"?");
    m.turn(Some(WAIT)).unwrap();
    let mut got = vec![0u8; 256];
    let n = std::io::Read::read(&mut client, &mut got).unwrap();
    let expected = format!(
        "{:?} {:?}",
        Some(ioman::net::Endpoint::Tcp(client.local_addr().unwrap())),
        Some(ioman::net::Endpoint::Tcp(client.peer_addr().unwrap()))
    );
    assert_eq!(String::from_utf8_lossy(&got[..n]), expected);
}

/// A protocol that arms its own timer on every input (`"s"`: 5 s, `"c"`: cancel) and logs
/// each firing.
fn timed() -> Script {
    Script::new(|input, _, cx| {
        match input {
            b"c" => cx.cancel_timer(),
            _ => cx.set_timer(std::time::Duration::from_secs(5)).unwrap(),
        }
        input.len()
    })
}

#[test]
fn a_connection_timer_fires_once_moves_when_reset_and_goes_with_its_connection() {
    use std::time::Duration;
    let clock = ioman::ManualClock::new();
    let config = ioman::Config::default().clock(clock.clone());
    let mut m: M = Manager::with_config(Net::new(Log::default()), config).unwrap();
    let idle = ConnConfig::default().idle(Timeout::Idle(Duration::from_secs(7)));
    let turn = |m: &mut M| {
        for _ in 0..2 {
            m.turn(Some(Duration::ZERO)).unwrap();
        }
    };
    let timers = |m: &M| m.state().app().count("timer");
    let advance = |m: &mut M, secs| {
        clock.advance(Duration::from_secs(secs));
        turn(m);
    };

    // Fires once, at its deadline; firing is not activity; it goes with its connection.
    let (server, mut client) = unix_pair();
    Connection::new(timed(), idle.clone()).register_with(&mut m, server).unwrap();
    send(&mut client, b"s"); // t=0: timer due at 5, idle at 7
    turn(&mut m);
    advance(&mut m, 4);
    assert_eq!(timers(&m), 0, "fired early");
    advance(&mut m, 1);
    assert_eq!(timers(&m), 1);
    advance(&mut m, 1);
    assert_eq!((timers(&m), m.len()), (1, 2), "fired twice, or the connection went early");
    advance(&mut m, 1); // t=7: idle counted from the input, not from the firing
    assert_eq!(m.state().app().count("idle"), 1);
    assert_eq!(m.len(), 0, "the timer outlived its connection");

    // Re-arming moves it; cancelling stops it.
    let (server, mut client) = unix_pair();
    Connection::new(timed(), idle).register_with(&mut m, server).unwrap();
    send(&mut client, b"s"); // due at +5
    turn(&mut m);
    advance(&mut m, 4);
    send(&mut client, b"s"); // moved: due at +9
    turn(&mut m);
    advance(&mut m, 4);
    assert_eq!(timers(&m), 1, "fired at its old deadline");
    advance(&mut m, 1);
    assert_eq!(timers(&m), 2);
    send(&mut client, b"s");
    turn(&mut m);
    send(&mut client, b"c");
    turn(&mut m);
    advance(&mut m, 6);
    assert_eq!(timers(&m), 2, "a cancelled timer fired");
}

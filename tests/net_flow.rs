//! Flow control at the connection seam: the coupling between what a connection reads and what
//! its protocol must write. One test (or a few) per shape that broke the promise of bounded
//! memory and no lost data: stranded input, pause/resume deadlock, unbounded output per call,
//! responses larger than the cap, peers that never read, a paused side missing its peer's FIN,
//! fan-out without backpressure, and a panicking protocol that skipped its cleanup.
//! Real sockets, small socket buffers, the manual clock for every timeout.

#[path = "support/net.rs"]
mod net;

use ioman::net::{ConnConfig, Connection, Net, Outbox, ProtoContext, Protocol};
use ioman::{Config, Key, Manager, ManualClock, Timeout};
use net::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

type M = Manager<Net<Log>>;

fn manager() -> M {
    Manager::with_state(Net::new(Log::default())).expect("manager")
}

/// A manager whose time moves only when the returned clock is advanced.
fn manual() -> (M, ManualClock) {
    let clock = ManualClock::new();
    let config = Config::default().clock(clock.clone());
    (Manager::with_config(Net::new(Log::default()), config).expect("manager"), clock)
}

/// Handles (echoes) at most one `\n`-terminated line per call, as a protocol bounding its work
/// per call would.
fn one_line_per_call() -> Script {
    Script::new(|input, out, cx| match input.iter().position(|&b| b == b'\n') {
        Some(end) => {
            cx.state().input.extend_from_slice(&input[..=end]);
            out.extend_from_slice(&input[..=end]);
            end + 1
        }
        None => 0,
    })
}

/// Reads from `client` on a thread until `n` bytes arrived; hands the socket back open (a
/// closed client would end the connection under test).
fn reader(mut client: UnixStream, n: usize) -> thread::JoinHandle<(Vec<u8>, UnixStream)> {
    thread::spawn(move || (read_n(&mut client, n), client))
}

/// Turns (without sleeping longer than 10 ms per turn) until `thread` finished.
#[track_caller]
fn turn_while_running<T>(m: &mut M, thread: &thread::JoinHandle<T>) {
    for _ in 0..100_000 {
        if thread.is_finished() {
            return;
        }
        m.turn(Some(Duration::from_millis(10))).expect("turn");
    }
    panic!("the client thread did not finish");
}

// 1. Input left unconsumed is offered again by the connection, not only when bytes arrive.

#[test]
fn pipelined_lines_are_all_answered_by_a_one_message_per_call_protocol() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    Connection::new(one_line_per_call(), ConnConfig::default())
        .register_with(&mut m, server)
        .unwrap();
    send(&mut client, b"a\nb\nc\n");
    m.turn(Some(WAIT)).unwrap(); // one readiness event, and nothing more from the client
    assert_eq!(read_n(&mut client, 6), b"a\nb\nc\n");
}

#[test]
fn a_long_pipeline_is_answered_over_several_turns_without_new_bytes() {
    let mut m = manager();
    let (server, client) = unix_pair();
    Connection::new(one_line_per_call(), ConnConfig::default())
        .register_with(&mut m, server)
        .unwrap();
    let lines: Vec<u8> = (0..1000).flat_map(|i| format!("line {i}\n").into_bytes()).collect();
    (&client).write_all(&lines).unwrap();
    let read = reader(client, lines.len());
    turn_while_running(&mut m, &read);
    assert!(read.join().unwrap().0 == lines, "answers differ from the pipelined lines");
    // Fairness: at most 64 offers per callback; the rest came from self-wakes, turn by turn
    // (without the bound, one event would have answered all 1000).
    assert!(m.stats().wakes >= 1000 / 80, "wakes: {}", m.stats().wakes);
}

// 2. Pausing until the reply drained cannot deadlock, whatever path the reply took.

/// Answers one line, then pauses reading until that answer has been sent.
struct Sequential;

impl Protocol<Log> for Sequential {
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, Log>) -> usize {
        let Some(end) = input.iter().position(|&b| b == b'\n') else { return 0 };
        out.extend_from_slice(b"ok ");
        out.extend_from_slice(&input[..=end]);
        cx.pause_reading();
        end + 1
    }

    fn on_drained(&mut self, _: &mut Outbox, cx: &mut ProtoContext<'_, Log>) {
        cx.resume_reading();
    }
}

#[test]
fn pause_until_drained_then_resume_serves_a_strictly_sequential_client() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    Connection::new(Sequential, ConnConfig::default()).register_with(&mut m, server).unwrap();
    for i in 0..5 {
        send(&mut client, format!("{i}\n").as_bytes()); // the reply goes straight to the socket
        m.turn(Some(WAIT)).unwrap();
        assert_eq!(read_line(&mut client), format!("ok {i}\n"));
    }
    // And pipelined: the pause holds the second line until the first answer is out.
    send(&mut client, b"x\ny\n");
    m.turn(Some(WAIT)).unwrap();
    assert_eq!(read_n(&mut client, 10), b"ok x\nok y\n");
}

// 3. Output per call is bounded by the cap, however much a protocol tries to write.

#[test]
fn an_amplifying_protocol_is_cut_at_the_cap_before_it_allocates_more() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    tiny_send_buffer(&server);
    let cap = 4 << 20;
    // Every input byte asks for 1 MiB of output, and the protocol ignores its room.
    let amplifier = Script::new(move |input, out, cx| {
        let chunk = vec![b'x'; 1 << 20];
        for _ in input {
            out.extend_from_slice(&chunk);
        }
        let held = out.held();
        cx.state().calls.push(held);
        input.len()
    });
    let config = ConnConfig::default().max_output(cap);
    Connection::new(amplifier, config).register_with(&mut m, server).unwrap();
    send(&mut client, &[b'?'; 7000]); // 7 KB asking for 7 GB
    turn_until(&mut m, 50, |m| m.state().connections() == 0);
    let log = m.state().app();
    assert!(log.calls.iter().all(|&held| held <= cap), "held {:?} past the cap", log.calls);
    assert_eq!(log.count("close:overflow"), 1, "events: {:?}", log.events);
    assert_eq!(m.state().stats().overflowed, 1);
}

#[test]
fn a_protocol_that_checks_its_room_serves_any_amount_with_bounded_output() {
    let mut m = manager();
    let (server, client) = unix_pair();
    tiny_send_buffer(&server);
    let piece = Arc::<[u8]>::from(pattern(256 * 1024, 3));
    let body = piece.clone();
    // One 256 KiB reply per input byte; stops at its room, as a pipelined server should.
    let polite = Script::new(move |input, out, cx| {
        let pending = out.len();
        cx.state().calls.push(pending);
        let mut used = 0;
        while used < input.len() && out.has_room() {
            out.push_shared(body.clone());
            used += 1;
        }
        used
    });
    Connection::new(polite, ConnConfig::default()).register_with(&mut m, server).unwrap();
    (&client).write_all(&[b'?'; 64]).unwrap();
    let read = reader(client, 64 * piece.len());
    turn_while_running(&mut m, &read);
    let (got, _client) = read.join().unwrap();
    assert!(got.chunks(piece.len()).all(|c| *c == *piece), "replies corrupted");
    let log = m.state().app();
    assert!(log.calls.iter().all(|&pending| pending < 64 * 1024), "offered above the mark");
    assert!(log.calls.len() >= 8, "all 64 replies came from one call: {:?}", log.calls);
    assert_eq!(m.state().connections(), 1);
}

// 4. Responses larger than the cap are streamed whole, from a file, with bounded memory.

/// A temporary file holding `bytes`, already unlinked.
fn temp_file(bytes: &[u8]) -> std::fs::File {
    let path = std::env::temp_dir().join(format!(
        "ioman-flow-{}-{:?}",
        std::process::id(),
        thread::current().id()
    ));
    std::fs::write(&path, bytes).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

#[test]
fn a_file_larger_than_the_cap_is_sent_whole_to_a_slow_reader() {
    let mut m = manager();
    let (server, client) = unix_pair();
    tiny_send_buffer(&server);
    let content = pattern(16 << 20, 9);
    let file = Arc::new(temp_file(&content));
    let len = content.len() as u64;
    let serve = Script::new(move |input, out, _| {
        out.extend_from_slice(b"<");
        out.push_file(file.clone(), 0, len);
        out.extend_from_slice(b">");
        input.len()
    });
    let config = ConnConfig::default().max_output(1 << 20); // 16 times smaller than the file
    Connection::new(serve, config).register_with(&mut m, server).unwrap();
    (&client).write_all(b"GET").unwrap();
    let read = thread::spawn(move || {
        let mut client = client;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096]; // a slow reader: small reads
        while got.len() < content.len() + 2 {
            let n = client.read(&mut buf).unwrap();
            assert!(n > 0, "end of stream after {} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
        }
        (got, content, client)
    });
    turn_while_running(&mut m, &read);
    let (got, content, _client) = read.join().unwrap();
    assert_eq!(&got[..1], b"<");
    assert!(got[1..got.len() - 1] == content[..], "file body differs");
    assert_eq!(&got[got.len() - 1..], b">");
    assert_eq!(m.state().connections(), 1);
}

#[test]
fn a_file_shorter_than_promised_ends_the_connection_with_an_error() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    let file = Arc::new(temp_file(&pattern(1000, 1)));
    let serve = Script::new(move |input, out, _| {
        out.push_file(file.clone(), 0, 5000); // the file shrank after its length was sent
        input.len()
    });
    Connection::new(serve, ConnConfig::default()).register_with(&mut m, server).unwrap();
    send(&mut client, b"GET");
    turn_until(&mut m, 50, |m| m.state().connections() == 0);
    assert_eq!(read_to_end(&mut client).len(), 1000);
    let log = m.state().app();
    assert_eq!(log.count("close:error:UnexpectedEof"), 1, "events: {:?}", log.events);
}

// 5. A peer that never reads is evicted by the send timeout; one that reads is not.

const IDLE: Duration = Duration::from_secs(10);

/// Answers any input with 4 MiB, then closes after flushing.
fn big_reply_then_close() -> Script {
    Script::new(|input, out, cx| {
        out.push_vec(pattern(4 << 20, 5));
        cx.close_after_flush();
        input.len()
    })
}

#[test]
fn close_after_flush_to_a_peer_that_never_reads_ends_at_the_send_timeout() {
    let (mut m, clock) = manual();
    let (server, mut client) = unix_pair();
    tiny_send_buffer(&server);
    let config = ConnConfig::default().idle(Timeout::Idle(IDLE));
    Connection::new(big_reply_then_close(), config).register_with(&mut m, server).unwrap();
    send(&mut client, b"GET");
    for _ in 0..5 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    clock.advance(IDLE - Duration::from_millis(1));
    m.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!(m.state().connections(), 1, "closed before the send timeout");
    clock.advance(Duration::from_millis(2));
    m.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!(m.state().connections(), 0);
    let log = m.state().app();
    assert_eq!(log.count("close:send-timeout"), 1, "events: {:?}", log.events);
    assert_eq!(m.state().stats().send_timeouts, 1);
}

#[test]
fn the_send_timeout_counts_from_the_last_progress_not_from_the_reply() {
    let (mut m, clock) = manual();
    let (server, mut client) = unix_pair();
    tiny_send_buffer(&server);
    let config = ConnConfig::default()
        .idle(Timeout::Idle(Duration::from_secs(3600)))
        .send_timeout(Some(IDLE));
    Connection::new(big_reply_then_close(), config).register_with(&mut m, server).unwrap();
    send(&mut client, b"GET");
    m.turn(Some(Duration::ZERO)).unwrap();
    let mut got = 0;
    let mut buf = vec![0u8; 256 * 1024];
    // A slow reader: takes a piece every 0.6 send timeouts, so it is never stalled that long.
    while m.state().connections() == 1 {
        clock.advance(IDLE * 6 / 10);
        got += client.read(&mut buf).unwrap();
        m.turn(Some(Duration::ZERO)).unwrap();
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    got += read_to_end(&mut client).len();
    assert_eq!(got, 4 << 20);
    assert_eq!(m.state().app().count("close:closed"), 1, "events: {:?}", m.state().app().events);
}

// 6. A paused side sees its peer's end of stream, and does not spin on it.

#[test]
fn a_paused_connection_learns_of_its_peers_fin_and_keeps_the_data_before_it() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    let script = Script::new(|input, _, cx| {
        let finished = cx.peer_finished();
        cx.state().input.extend_from_slice(input);
        cx.state().calls.push(usize::from(finished));
        cx.pause_reading();
        input.len()
    });
    let key = Connection::new(script, ConnConfig::default()).register_with(&mut m, server).unwrap();
    send(&mut client, b"first ");
    turn_until(&mut m, 50, |m| m.state().app().input == b"first ");
    send(&mut client, b"then more");
    client.shutdown(std::net::Shutdown::Write).unwrap();
    turn_until(&mut m, 50, |m| m.state().stats().bytes_read == 15);
    // The FIN was seen while paused: the data before it is held here, and nothing spins.
    let events = m.stats().events_dispatched;
    for _ in 0..20 {
        m.turn(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(m.stats().events_dispatched, events, "a paused, finished peer spun the loop");
    // Resumed (by a wake from elsewhere), the protocol gets the data, then the end of stream.
    m.state_mut().app_mut().keys.push(key);
    resume(&mut m, key);
    turn_until(&mut m, 50, |m| m.state().app().count("eof") == 1);
    assert_eq!(m.state().app().input, b"first then more");
}

/// Wakes `key` from outside (a zero timer sending a `Peer` wake); the `Script`'s `on_wake`
/// resumes its reading.
fn resume(m: &mut M, key: Key) {
    struct Resume(Key);
    impl ioman::Handler<Net<Log>> for Resume {
        fn on_timeout(
            &mut self,
            _: Option<rustix::fd::BorrowedFd<'_>>,
            cx: &mut ioman::Context<'_, Net<Log>>,
        ) {
            let _ = ioman::net::Peer::new(cx, self.0).wake();
            cx.close();
        }
    }
    m.add_timer(ioman::Timer::once(Duration::ZERO), Resume(key)).unwrap();
}

// 7. Fan-out: a fast sender is slowed to its readers' pace instead of disconnecting them.

/// The hub: what connection 0 sends is broadcast to every other connection in `Log::keys`;
/// a reader backed up to its high watermark makes the sender wait for it.
fn hub() -> Script {
    Script::new(|input, _, cx| {
        let me = cx.key();
        let readers: Vec<Key> = cx.state().keys.iter().copied().filter(|&k| k != me).collect();
        let mut used = 0;
        while let Some(end) = input[used..].iter().position(|&b| b == b'\n') {
            let line: Arc<[u8]> = Arc::from(&input[used..used + end + 1]);
            used += end + 1;
            for &reader in &readers {
                if let Ok(pending) = cx.conn(reader).send_shared(line.clone()) {
                    if pending >= 64 * 1024 {
                        let _ = cx.wait_for(reader);
                    }
                }
            }
            if cx.is_waiting() {
                break;
            }
        }
        used
    })
}

#[test]
fn a_fast_broadcaster_waits_for_a_slow_reader_instead_of_overflowing_it() {
    let mut m = manager();
    let (sender, sender_client) = unix_pair();
    let (slow, slow_client) = unix_pair();
    let (fast, fast_client) = unix_pair();
    tiny_send_buffer(&slow);
    let config = ConnConfig::default().max_output(256 * 1024); // a small cap: overflow is easy
    let s = Connection::new(hub(), config.clone()).register_with(&mut m, sender).unwrap();
    let a = Connection::new(Script::sink(), config.clone()).register_with(&mut m, slow).unwrap();
    let b = Connection::new(Script::sink(), config).register_with(&mut m, fast).unwrap();
    m.state_mut().app_mut().keys = vec![s, a, b];
    let lines: Vec<u8> =
        (0..20_000).flat_map(|i| format!("message {i:08}\n").into_bytes()).collect();
    let total = lines.len();
    // The writer keeps its socket open (a Unix socket closed by its peer is a hang-up, which
    // ends the connection with whatever it had not processed yet).
    let writer =
        thread::spawn(move || (&sender_client).write_all(&lines).map(|()| (lines, sender_client)));
    let fast_reader = reader(fast_client, total);
    // The slow reader reads nothing yet: the sender must stall, nobody is disconnected.
    for _ in 0..200 {
        m.turn(Some(Duration::from_millis(1))).unwrap();
    }
    assert!(m.state().stats().bytes_read < total as u64, "the sender was never slowed");
    assert_eq!(m.state().connections(), 3, "events: {:?}", m.state().app().events);
    let slow_reader = reader(slow_client, total);
    turn_while_running(&mut m, &slow_reader);
    turn_while_running(&mut m, &fast_reader);
    let (lines, _sender_client) = writer.join().unwrap().unwrap();
    assert!(slow_reader.join().unwrap().0 == lines, "the slow reader lost or reordered lines");
    assert!(fast_reader.join().unwrap().0 == lines, "the fast reader lost or reordered lines");
    assert_eq!(m.state().stats().overflowed, 0);
}

// 8. A panicking protocol still ends in on_close, and the counters stay right.

#[test]
fn a_panic_in_a_hook_ends_in_on_close_and_keeps_the_counters_right() {
    let mut m = manager();
    let (server, mut client) = unix_pair();
    let (other, mut other_client) = unix_pair();
    let boom = Script::new(|input, _, _| {
        assert!(input != b"boom", "the protocol panics");
        input.len()
    });
    Connection::new(boom, ConnConfig::default()).register_with(&mut m, server).unwrap();
    Connection::new(Script::echo(), ConnConfig::default()).register_with(&mut m, other).unwrap();
    send(&mut client, b"boom");
    turn_until(&mut m, 50, |m| m.state().connections() == 1);
    let log = m.state().app();
    assert_eq!(log.count("close:panicked"), 1, "events: {:?}", log.events);
    let stats = m.state().stats();
    assert_eq!((stats.opened, stats.closed, stats.panicked), (2, 1, 1));
    assert_eq!(m.stats().panics_caught, 1, "the manager no longer saw the panic");
    assert_eq!(read_to_end(&mut client), b"", "the panicking connection was not closed");
    // The loop goes on serving the others.
    send(&mut other_client, b"still here");
    m.turn(Some(WAIT)).unwrap();
    assert_eq!(read_n(&mut other_client, 10), b"still here");
}

// 4b. The pull hook: a large body produced piece by piece as the output drains.

/// Streams `total` bytes of a pattern in `piece`-sized chunks: one on the request, the next
/// each time the output drained; records the most output ever held.
struct Stream {
    left: usize,
    piece: usize,
    max_held: usize,
}

impl Stream {
    fn next(&mut self, out: &mut Outbox) {
        let n = self.piece.min(self.left);
        if n > 0 {
            out.push_vec(pattern(n, (self.left % 251) as u8));
            self.left -= n;
        }
        self.max_held = self.max_held.max(out.held());
    }
}

impl Protocol<Log> for Stream {
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_, Log>) -> usize {
        self.next(out);
        input.len()
    }

    fn on_drained(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, Log>) {
        self.next(out);
        let held = self.max_held;
        cx.state().calls.push(held);
    }
}

#[test]
fn a_body_produced_in_on_drained_streams_any_size_in_one_pieces_memory() {
    let mut m = manager();
    let (server, client) = unix_pair();
    tiny_send_buffer(&server);
    let (total, piece) = (32 << 20, 64 << 10);
    let stream = Stream { left: total, piece, max_held: 0 };
    let config = ConnConfig::default().max_output(256 << 10); // 128 times less than the body
    Connection::new(stream, config).register_with(&mut m, server).unwrap();
    (&client).write_all(b"GET").unwrap();
    let read = reader(client, total);
    turn_while_running(&mut m, &read);
    let (got, _client) = read.join().unwrap();
    let mut expected = Vec::with_capacity(total);
    let mut left = total;
    while left > 0 {
        let n = piece.min(left);
        expected.extend_from_slice(&pattern(n, (left % 251) as u8));
        left -= n;
    }
    assert!(got == expected, "the streamed body differs");
    let log = m.state().app();
    let most = log.calls.iter().copied().max().unwrap_or(0);
    assert!(most <= 2 * piece, "held up to {most} bytes for {piece}-byte pieces");
    assert_eq!(m.state().stats().overflowed, 0);
}

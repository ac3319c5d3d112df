//! The connection contract, run twice: on real sockets (a Unix socket pair per connection,
//! a loop with a manual clock) and on ioman-net's socket-free
//! [`Harness`](ioman::net::testing::Harness). Each test is written once against
//! [`drivers::Driver`]; a difference between the two is a harness bug (or a contract that
//! depends on the kernel, which would be a connection bug).

#[path = "support/net.rs"]
mod net;

#[path = "support/drivers.rs"]
mod drivers;

use drivers::{Driver, Harnessed, Sockets, events};
use ioman::Timeout;
use ioman::net::framing::{Decoder, Lines};
use ioman::net::{ConnConfig, ProtoContext};
use net::{Log, Script};
use std::time::Duration;

/// Runs a contract test on both drivers.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod on_sockets {
            $(#[test] fn $name() { super::$name(&mut super::Sockets::new()) })*
        }
        mod on_harness {
            $(#[test] fn $name() { super::$name(&mut super::Harnessed::new()) })*
        }
    };
}

contract!(
    pieces_reassemble,
    pipelined_replies_wait_for_room,
    end_of_stream_after_input,
    close_after_flush_sends_everything,
    send_timeout_evicts_a_peer_that_never_reads,
    idle_timeout_closes,
    timer_fires_on_the_manual_clock,
    oversized_message_is_refused,
    panicking_hook_still_closes,
    peer_mail_and_wait_for,
    greeting_goes_first,
);

const SECOND: Duration = Duration::from_secs(1);

/// Uppercases each line; closes after `quit` (once everything was sent).
fn upper() -> Script {
    Script::new(|input, out, cx| {
        let lines = Lines::new(1024);
        let mut used = 0;
        while let Ok(Some((line, n))) = lines.decode(&input[used..]) {
            used += n;
            if line == b"quit" {
                cx.close_after_flush();
                break;
            }
            out.extend_from_slice(&line.to_ascii_uppercase());
            out.extend_from_slice(b"\n");
        }
        used
    })
}

/// Answers each line with `size` bytes of its first byte, only while the outbox has room.
fn bulky(size: usize) -> Script {
    Script::new(move |input, out, _| {
        let mut used = 0;
        while out.has_room() {
            let Some(end) = input[used..].iter().position(|&b| b == b'\n') else { break };
            out.extend_from_slice(&vec![input[used]; size]);
            used += end + 1;
        }
        used
    })
}

fn config() -> ConnConfig {
    ConnConfig::default().idle(Timeout::Idle(Duration::from_secs(30)))
}

#[track_caller]
fn assert_closed(d: &mut dyn Driver, key: ioman::Key, reason: &str) {
    assert!(!d.is_open(key), "still open");
    let events = events(d, key);
    assert_eq!(events.last().map(String::as_str), Some(&*format!("close:{reason}")), "{events:?}");
}

fn pieces_reassemble(d: &mut dyn Driver) {
    let c = d.open(upper(), config());
    for piece in [&b"he"[..], b"llo\nwor", b"ld", b"\n"] {
        d.send(c, piece);
    }
    assert_eq!(d.received(c), b"HELLO\nWORLD\n");
    assert!(d.is_open(c));
}

fn pipelined_replies_wait_for_room(d: &mut dyn Driver) {
    // 64 requests asking for 64 KiB each: 4 MiB of replies against 256 KiB watermarks.
    let config = config().watermarks(64 * 1024, 256 * 1024);
    let c = d.open(bulky(64 * 1024), config);
    d.stop_reading(c);
    let requests: Vec<u8> = (0..64u8).flat_map(|i| [b'A' + (i % 26), b'\n']).collect();
    d.send(c, &requests);
    assert!(d.is_open(c), "the connection must wait, not fail");
    d.resume_reading(c);
    let got = d.received(c);
    assert_eq!(got.len(), 64 * 64 * 1024, "every reply, once");
    for (i, reply) in got.chunks(64 * 1024).enumerate() {
        assert!(reply.iter().all(|&b| b == b'A' + (i as u8 % 26)), "reply {i} in order");
    }
}

fn end_of_stream_after_input(d: &mut dyn Driver) {
    let c = d.open(upper().farewell(b"bye\n"), config());
    d.send(c, b"one\ntwo\npart");
    d.finish(c);
    assert_eq!(d.received(c), b"ONE\nTWO\nbye\n", "the partial line is dropped at the end");
    assert!(d.output_shut(c), "the farewell is followed by end of stream");
    assert_eq!(events(d, c), ["open", "drained", "eof", "drained", "close:done"]);
}

fn close_after_flush_sends_everything(d: &mut dyn Driver) {
    let c = d.open(upper(), config());
    d.send(c, b"a\nb\nquit\nignored\n");
    assert_eq!(d.received(c), b"A\nB\n");
    assert_closed(d, c, "closed");
}

fn send_timeout_evicts_a_peer_that_never_reads(d: &mut dyn Driver) {
    let config = config().send_timeout(Some(5 * SECOND));
    // 8 MiB: more than any socket pair's buffers hold, less than the output cap.
    let c = d.open(bulky(1 << 20), config.max_output(16 << 20).watermarks(1 << 20, 12 << 20));
    d.stop_reading(c);
    d.send(c, b"a\nb\nc\nd\ne\nf\ng\nh\n");
    d.advance(4 * SECOND);
    assert!(d.is_open(c));
    d.advance(2 * SECOND);
    assert_closed(d, c, "send-timeout");
}

fn idle_timeout_closes(d: &mut dyn Driver) {
    let c = d.open(upper(), config());
    d.advance(20 * SECOND);
    d.send(c, b"x\n"); // activity restarts the idle time
    d.advance(20 * SECOND);
    assert!(d.is_open(c));
    d.advance(11 * SECOND);
    assert_closed(d, c, "closed");
    assert!(events(d, c).contains(&"idle".to_string()));
}

fn timer_fires_on_the_manual_clock(d: &mut dyn Driver) {
    let c = d.open(
        Script::new(|input, _, cx| {
            cx.set_timer(Duration::from_secs(3)).expect("timer");
            input.len()
        }),
        config(),
    );
    d.send(c, b"arm");
    d.advance(2 * SECOND);
    assert!(!events(d, c).contains(&"timer".to_string()));
    d.advance(SECOND);
    assert!(events(d, c).contains(&"timer".to_string()));
}

fn oversized_message_is_refused(d: &mut dyn Driver) {
    // Consumes only whole lines; a line longer than max_input can never be consumed.
    let c = d.open(upper(), config().max_input(4096));
    d.send(c, &[b'x'; 1000]);
    assert!(d.is_open(c), "a partial message is kept");
    d.send(c, &[b'x'; 8000]);
    assert_closed(d, c, "too-large");
}

fn panicking_hook_still_closes(d: &mut dyn Driver) {
    let c = d.open(
        Script::new(|input, _, _| {
            assert!(!input.starts_with(b"boom"), "boom");
            input.len()
        }),
        config(),
    );
    d.send(c, b"fine");
    d.send(c, b"boom");
    assert_closed(d, c, "panicked");
}

/// A relay: what reaches connection A is sent to connection `keys[1]` (B); A waits for B when
/// B's backlog passes 64 KiB, so a B that does not read slows A instead of growing.
fn peer_mail_and_wait_for(d: &mut dyn Driver) {
    fn relay(input: &[u8], cx: &mut ProtoContext<'_, Log>) -> usize {
        let target = cx.state().keys[1];
        if cx.conn(target).pending() > 64 * 1024 {
            cx.wait_for(target).expect("B is open");
            return 0;
        }
        let take = input.len().min(16 * 1024);
        cx.conn(target).send(&input[..take]).expect("B is open");
        take
    }
    let config = config().watermarks(32 * 1024, 128 * 1024);
    let a = d.open(Script::new(|input, _, cx| relay(input, cx)), config.clone());
    let b = d.open(Script::sink(), config);
    d.log().keys = vec![a, b];
    d.stop_reading(b);
    let data = net::pattern(4 << 20, 7);
    d.send(a, &data[..1 << 20]);
    let waits = d.log().calls.len();
    assert!(d.is_open(a) && d.is_open(b));
    d.resume_reading(b);
    d.send(a, &data[1 << 20..]);
    assert!(d.log().calls.len() > waits);
    assert_eq!(d.received(b), data, "everything relayed, in order");
}

fn greeting_goes_first(d: &mut dyn Driver) {
    let c = d.open(upper().greeting(b"hello, peer\n"), config());
    assert_eq!(d.received(c), b"hello, peer\n", "sent before any input");
    d.send(c, b"x\n");
    assert_eq!(d.received(c), b"X\n");
    assert_eq!(events(d, c)[..2], ["open", "drained"]);
}

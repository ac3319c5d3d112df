//! The `memcached` protocol byte by byte through ioman-net's socket-free
//! [`Harness`](ioman::net::testing::Harness): the real `Memcached` connections on a real loop,
//! with the test as the client — every split point of a pipelined script gives the same bytes,
//! a client that stops reading holds the server to its output cap while its replies wait,
//! an oversized block is refused and swallowed without being stored, and `quit` closes.

#[path = "../examples/memcached/server.rs"]
#[allow(dead_code)] // the protocol is used here; the listener and timer by memcached_example.rs
mod server;

use ioman::net::CloseReason;
use ioman::net::testing::Harness;
use server::proto::clock::Clock;
use server::proto::store::Cache;
use server::{Db, Memcached};

fn harness() -> Harness<Db> {
    let mut h =
        Harness::with_state(Db { cache: Cache::new(0, Clock::system(std::time::Instant::now())) });
    let epoch = h.now();
    h.state().cache = Cache::new(64 << 20, Clock::system(epoch));
    h
}

const SCRIPT: &[u8] = b"set a 5 0 3\r\nabc\r\nget a b\r\nappend a 0 0 2 noreply\r\nde\r\n\
incr n 1\r\nset n 0 0 2\r\n41\r\nincr n 1\r\ngets a\r\ndelete a\r\ndelete a\r\n\
add b 1 0 1\r\nx\r\nadd b 1 0 1\r\ny\r\ntouch b 100\r\nget b n\r\nbogus\r\nversion\r\n";

const EXPECTED: &str = "STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\nNOT_FOUND\r\nSTORED\r\n42\r\n";

#[test]
fn every_split_of_a_pipelined_script_gives_the_same_replies() {
    let whole = {
        let mut h = harness();
        let c = h.connect(Memcached::default(), server::conn_config());
        h.send(c, SCRIPT);
        h.received_string(c)
    };
    assert!(whole.starts_with(EXPECTED), "{whole}");
    assert!(whole.contains("VALUE a 5 5 "), "append: {whole}");
    assert!(
        whole.contains("DELETED\r\nNOT_FOUND\r\nSTORED\r\nNOT_STORED\r\nTOUCHED\r\n"),
        "{whole}"
    );
    assert!(whole.ends_with("ERROR\r\nVERSION 1.6.0-ioman\r\n"), "{whole}");
    for split in 1..SCRIPT.len() {
        let mut h = harness();
        let c = h.connect(Memcached::default(), server::conn_config());
        h.send(c, &SCRIPT[..split]);
        h.send(c, &SCRIPT[split..]);
        assert_eq!(h.received_string(c), whole, "split at {split}");
    }
}

#[test]
fn a_client_that_stops_reading_holds_the_server_to_its_cap() {
    let mut h = harness();
    let c = h.connect(Memcached::default(), server::conn_config());
    let value = vec![b'v'; 512 * 1024];
    let mut set = b"set big 0 0 524288\r\n".to_vec();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    h.send(c, &set);
    assert_eq!(h.received(c), b"STORED\r\n");
    h.stop_reading(c);
    h.send(c, &b"get big\r\n".repeat(200)); // 100 MiB of replies asked for
    let held = h.pending_output::<Memcached>(c).unwrap();
    assert!(held <= 2 * 512 * 1024 + 64 * 1024, "the server holds {held} bytes");
    assert!(h.unread(c) > 0 || held > 0);
    let mut replies = 0;
    let mut got = Vec::new();
    for _ in 0..100_000 {
        if replies == 200 {
            break;
        }
        h.read_more(c, 256 * 1024);
        got.extend(h.received(c));
        let reply_len = "VALUE big 0 524288\r\n".len() + value.len() + "\r\nEND\r\n".len();
        while got.len() >= reply_len {
            assert!(got.starts_with(b"VALUE big 0 524288\r\n"));
            assert!(got[..reply_len].ends_with(b"\r\nEND\r\n"));
            got.drain(..reply_len);
            replies += 1;
        }
        let held = h.pending_output::<Memcached>(c).unwrap();
        assert!(held <= 2 * 512 * 1024 + 64 * 1024, "the server holds {held} bytes");
    }
    assert_eq!(replies, 200);
}

#[test]
fn an_oversized_block_is_refused_and_swallowed() {
    let mut h = harness();
    let c = h.connect(Memcached::default(), server::conn_config());
    let size = 2 << 20;
    h.send(c, format!("set huge 0 0 {size}\r\n").as_bytes());
    assert_eq!(h.received_string(c), "SERVER_ERROR object too large for cache\r\n");
    for _ in 0..size / 65536 {
        h.send(c, &[b'z'; 65536]);
    }
    h.send(c, b"\r\nget huge\r\n");
    assert_eq!(h.received_string(c), "END\r\n", "nothing stored, the block swallowed");
    assert!(h.is_open(c));
}

#[test]
fn quit_closes_and_noreply_is_silent() {
    let mut h = harness();
    let c = h.connect(Memcached::default(), server::conn_config());
    h.send(c, b"set k 0 0 1 noreply\r\n1\r\nincr k 5 noreply\r\ndelete x noreply\r\n");
    assert_eq!(h.received(c), b"");
    h.send(c, b"get k\r\nquit\r\nget k\r\n");
    assert_eq!(h.received_string(c), "VALUE k 0 1\r\n6\r\nEND\r\n");
    assert!(matches!(h.close_reason(c), Some(CloseReason::Closed)));
}

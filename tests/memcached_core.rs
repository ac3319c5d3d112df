//! Tests for the sans-IO core of the `memcached` example (`examples/memcached/`), byte for
//! byte: every command's replies and errors in memcached's words, `noreply`, CAS semantics,
//! incr/decr wraparound and flooring, expiry with explicit instants (never a sleep), LRU
//! eviction under a small memory limit, refused data blocks swallowed as they arrive, an
//! over-long line, splits at every byte boundary of a pipelined request, and the flow-control
//! rules: pipelined `get`s stop at the outbox's room mark and resume from the unconsumed
//! input, and large values are replied to by sharing the stored buffer.

#[path = "../examples/memcached/proto.rs"]
mod proto;

use ioman::net::Outbox;
use proptest::prelude::*;
use proto::clock::{Clock, Deadline, MAX_RELATIVE};
use proto::commands::{Env, MAX_LINE, Progress, Session};
use proto::store::{
    Cache, ITEM_OVERHEAD, MAX_ITEM, MAX_KEY, Mode, Outcome, SHARE_MIN, SHARED_OVERHEAD, Value,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The Unix time of the test clock's epoch.
const EPOCH_UNIX: u64 = 1_700_000_000;

const END: &str = "END\r\n";
const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format\r\n";

/// A cache, a session and a manual clock.
struct Harness {
    cache: Cache,
    session: Session,
    epoch: Instant,
    now: Instant,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_limit(64 * 1024 * 1024)
    }

    fn with_limit(limit: usize) -> Harness {
        let epoch = Instant::now();
        let clock = Clock::new(epoch, Duration::from_secs(EPOCH_UNIX));
        Harness { cache: Cache::new(limit, clock), session: Session::new(), epoch, now: epoch }
    }

    /// Feeds `input` once; the replies and what the session did.
    fn feed(&mut self, input: &[u8]) -> (String, Progress) {
        let mut out = Outbox::new();
        let progress = self.session.on_bytes(&mut self.cache, &Env::at(self.now), input, &mut out);
        (String::from_utf8_lossy(&out.to_vec()).into_owned(), progress)
    }

    /// Runs `input`, which must be consumed whole and keep the connection open.
    #[track_caller]
    fn call(&mut self, input: &str) -> String {
        let (reply, progress) = self.feed(input.as_bytes());
        assert_eq!(progress, Progress { consumed: input.len(), close: false }, "{input:?}");
        reply
    }

    #[track_caller]
    fn expect(&mut self, input: &str, reply: &str) {
        assert_eq!(self.call(input), reply, "{input:?}");
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// The CAS unique `gets` reports for `key`.
    #[track_caller]
    fn cas_of(&mut self, key: &str) -> u64 {
        let reply = self.call(&format!("gets {key}\r\n"));
        let header = reply.lines().next().expect("a VALUE line");
        header.rsplit(' ').next().and_then(|n| n.parse().ok()).expect("a cas unique")
    }
}

/// `VALUE <key> <flags> <bytes>\r\n<data>\r\n`
fn value(key: &str, flags: u32, data: &str) -> String {
    format!("VALUE {key} {flags} {}\r\n{data}\r\n", data.len())
}

/// Feeds `input` in chunks ending at `cuts` (plus the end), keeping unconsumed bytes as the
/// connection does; returns the replies and whether the session asked to close.
fn run_split(input: &[u8], cuts: &[usize], limit: usize) -> (Vec<u8>, bool) {
    let mut h = Harness::with_limit(limit);
    let (mut pending, mut out, mut start) = (Vec::new(), Outbox::new(), 0);
    for end in cuts.iter().copied().chain([input.len()]) {
        let end = end.clamp(start, input.len());
        pending.extend_from_slice(&input[start..end]);
        start = end;
        let progress = h.session.on_bytes(&mut h.cache, &Env::at(h.now), &pending, &mut out);
        assert!(progress.consumed <= pending.len());
        pending.drain(..progress.consumed);
        if progress.close {
            return (out.to_vec(), true);
        }
    }
    (out.to_vec(), false)
}

/// Asserts that feeding `input` whole, byte by byte and cut once at every byte boundary gives
/// the same replies; returns them.
#[track_caller]
fn assert_split_invariant(input: &[u8]) -> String {
    let limit = 64 * 1024 * 1024;
    let whole = run_split(input, &[], limit);
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(run_split(input, &bytewise, limit), whole, "fed byte by byte");
    for cut in 1..input.len() {
        assert_eq!(run_split(input, &[cut], limit), whole, "cut at byte {cut}");
    }
    String::from_utf8_lossy(&whole.0).into_owned()
}

#[test]
fn set_then_get_and_gets_with_many_keys() {
    let mut h = Harness::new();
    h.expect("get nope\r\n", END);
    h.expect("set a 0 0 5\r\nhello\r\n", "STORED\r\n");
    h.expect("set b 4294967295 0 3\r\nb\r\n\r\n", "STORED\r\n");
    h.expect("set empty 7 0 0\r\n\r\n", "STORED\r\n");
    let both = format!(
        "{}{}{}{END}",
        value("a", 0, "hello"),
        value("b", 4294967295, "b\r\n"),
        value("empty", 7, "")
    );
    h.expect("get a nope b empty\r\n", &both);
    h.expect(
        "get  a   b  \r\n",
        &format!("{}{}{END}", value("a", 0, "hello"), value("b", 4294967295, "b\r\n")),
    );
    h.expect("get a\n", &format!("{}{END}", value("a", 0, "hello")));
    let cas = h.cas_of("a");
    assert_eq!(h.call("gets a\r\n"), format!("VALUE a 0 5 {cas}\r\nhello\r\n{END}"));
    h.expect("set a 1 0 2\r\nhi\r\n", "STORED\r\n");
    assert!(h.cas_of("a") > cas, "a store changes the cas unique");
    // A value exactly as binary as it comes.
    let (reply, _) = h.feed(b"set bin 0 0 4\r\n\0\r\n\xff\r\n");
    assert_eq!(reply, "STORED\r\n");
    assert_eq!(h.cache.get(b"bin", h.now).unwrap().value.bytes(), b"\0\r\n\xff");
}

#[test]
fn add_replace_append_prepend() {
    let mut h = Harness::new();
    h.expect("add k 5 0 1\r\na\r\n", "STORED\r\n");
    h.expect("add k 6 0 1\r\nb\r\n", "NOT_STORED\r\n");
    h.expect("replace nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    h.expect("replace k 7 100 2\r\nbc\r\n", "STORED\r\n");
    h.expect("append k 9 0 2\r\nde\r\n", "STORED\r\n");
    h.expect("prepend k 9 0 1\r\n_\r\n", "STORED\r\n");
    h.expect("get k\r\n", &format!("{}{END}", value("k", 7, "_bcde")));
    h.expect("append nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    h.expect("prepend nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    // append and prepend keep the expiry that replace set (100 s).
    h.advance(Duration::from_secs(100));
    h.expect("get k\r\n", END);
}

#[test]
fn cas_semantics() {
    let mut h = Harness::new();
    h.expect("cas k 0 0 1 1\r\na\r\n", "NOT_FOUND\r\n");
    h.expect("set k 0 0 1\r\na\r\n", "STORED\r\n");
    let cas = h.cas_of("k");
    h.expect(&format!("cas k 3 0 1 {}\r\nb\r\n", cas + 1), "EXISTS\r\n");
    h.expect(&format!("cas k 3 0 1 {cas}\r\nb\r\n"), "STORED\r\n");
    h.expect(&format!("cas k 3 0 1 {cas}\r\nc\r\n"), "EXISTS\r\n");
    h.expect("get k\r\n", &format!("{}{END}", value("k", 3, "b")));
    let cas = h.cas_of("k");
    h.expect("touch k 100\r\n", "TOUCHED\r\n");
    assert_eq!(h.cas_of("k"), cas, "touch keeps the cas unique");
    h.expect("incr k 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    h.expect("delete k\r\n", "DELETED\r\n");
    h.expect(&format!("cas k 0 0 1 {cas}\r\nd\r\n"), "NOT_FOUND\r\n");
    // A malformed cas unique is a bad line whose data is swallowed.
    h.expect("cas k 0 0 1 x\r\nd\r\n", BAD_FORMAT);
    h.expect("cas k 0 0 1\r\nd\r\n", BAD_FORMAT);
    let c = h.cache.counters;
    assert_eq!((c.cas_hits, c.cas_badval, c.cas_misses), (1, 2, 2));
}

#[test]
fn delete() {
    let mut h = Harness::new();
    h.call("set k 0 0 1\r\na\r\n");
    h.expect("delete k\r\n", "DELETED\r\n");
    h.expect("delete k\r\n", "NOT_FOUND\r\n");
    h.expect("delete\r\n", BAD_FORMAT);
    h.expect(&format!("delete {}\r\n", "k".repeat(MAX_KEY + 1)), BAD_FORMAT);
    // The obsolete hold time 0 is accepted; anything else after the key is refused.
    h.expect("delete k 0\r\n", "NOT_FOUND\r\n");
    h.expect("delete k 0 noreply\r\n", "");
    let usage = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
    h.expect("delete a b c d e\r\n", usage);
    h.expect("delete k 1\r\n", usage);
    h.expect("delete k 1 noreply\r\n", "");
}

#[test]
fn incr_and_decr() {
    let mut h = Harness::new();
    h.expect("incr n 1\r\n", "NOT_FOUND\r\n");
    h.expect("decr n 1\r\n", "NOT_FOUND\r\n");
    h.call("set n 5 0 2\r\n10\r\n");
    h.expect("incr n 5\r\n", "15\r\n");
    h.expect("decr n 6\r\n", "9\r\n");
    h.expect("get n\r\n", &format!("{}{END}", value("n", 5, "9")));
    h.expect("decr n 100\r\n", "0\r\n"); // floors at 0
    h.expect("decr n 1\r\n", "0\r\n");
    h.expect("incr n 18446744073709551615\r\n", "18446744073709551615\r\n");
    h.expect("incr n 1\r\n", "0\r\n"); // wraps around 2^64
    h.expect("incr n 18446744073709551615\r\n", "18446744073709551615\r\n");
    h.expect("incr n 3\r\n", "2\r\n");
    h.expect("incr n 18446744073709551616\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n");
    h.expect("incr n -1\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n");
    h.expect("incr n x\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n");
    h.expect("incr n\r\n", BAD_FORMAT);
    // Values read as memcached's strtoull reads them.
    for stored in ["  7", "7 ", "007", "+7"] {
        h.call(&format!("set s 0 0 {}\r\n{stored}\r\n", stored.len()));
        h.expect("incr s 1\r\n", "8\r\n");
    }
    for stored in ["", "abc", "1a", "-1", "+-1", "18446744073709551616"] {
        h.call(&format!("set s 0 0 {}\r\n{stored}\r\n", stored.len()));
        h.expect(
            "incr s 1\r\n",
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        );
    }
    // incr keeps flags and expiry.
    h.call("set t 42 10 1\r\n1\r\n");
    h.expect("incr t 1\r\n", "2\r\n");
    h.expect("get t\r\n", &format!("{}{END}", value("t", 42, "2")));
    h.advance(Duration::from_secs(10));
    h.expect("get t\r\n", END);
    let c = h.cache.counters;
    assert_eq!((c.incr_hits, c.incr_misses, c.decr_hits, c.decr_misses), (10, 1, 3, 1));
}

#[test]
fn touch_gat_and_gats() {
    let mut h = Harness::new();
    h.call("set k 3 10 1\r\na\r\n");
    h.expect("touch k 20\r\n", "TOUCHED\r\n");
    h.expect("touch nope 20\r\n", "NOT_FOUND\r\n");
    h.expect("touch k\r\n", BAD_FORMAT);
    h.expect("touch k soon\r\n", "CLIENT_ERROR invalid exptime argument\r\n");
    h.advance(Duration::from_secs(15));
    h.expect("get k\r\n", &format!("{}{END}", value("k", 3, "a")));
    h.expect("gat 100 k nope\r\n", &format!("{}{END}", value("k", 3, "a")));
    let cas = h.cas_of("k");
    h.expect("gats 0 k\r\n", &format!("VALUE k 3 1 {cas}\r\na\r\n{END}"));
    h.advance(Duration::from_secs(1000));
    h.expect("get k\r\n", &format!("{}{END}", value("k", 3, "a")));
    h.expect("gat -1 k\r\n", &format!("{}{END}", value("k", 3, "a")));
    h.expect("get k\r\n", END);
    h.expect("gat 10\r\n", BAD_FORMAT);
    h.expect("gat\r\n", BAD_FORMAT);
    h.expect("gat x k\r\n", "CLIENT_ERROR invalid exptime argument\r\n");
    let c = h.cache.counters;
    assert_eq!((c.cmd_touch, c.touch_hits, c.touch_misses), (7, 4, 2));
}

#[test]
fn expiry_follows_the_injected_clock() {
    let mut h = Harness::new();
    h.advance(Duration::from_millis(300)); // not on a second boundary
    h.call("set rel 0 2 1\r\na\r\n");
    h.call("set never 0 0 1\r\na\r\n");
    h.call(&format!("set abs 0 {} 1\r\na\r\n", EPOCH_UNIX + 5));
    h.call(&format!("set past 0 {} 1\r\na\r\n", EPOCH_UNIX - 1));
    h.call("set neg 0 -1 1\r\na\r\n");
    h.call(&format!("set month 0 {MAX_RELATIVE} 1\r\na\r\n"));
    h.expect("get past neg\r\n", END);
    // Never early: 2 s after the set, rounded up to the whole second (2.3 s -> 3 s).
    h.advance(Duration::from_millis(2000));
    h.expect("get rel\r\n", &format!("{}{END}", value("rel", 0, "a")));
    h.now = h.epoch + Duration::from_millis(2999);
    h.expect("get rel\r\n", &format!("{}{END}", value("rel", 0, "a")));
    h.now = h.epoch + Duration::from_secs(3);
    h.expect("get rel\r\n", END);
    h.now = h.epoch + Duration::from_millis(4999);
    h.expect("get abs\r\n", &format!("{}{END}", value("abs", 0, "a")));
    h.now = h.epoch + Duration::from_secs(5);
    h.expect("get abs never\r\n", &format!("{}{END}", value("never", 0, "a")));
    // 30 days is still relative.
    h.now = h.epoch + Duration::from_secs(MAX_RELATIVE as u64);
    h.expect("get month\r\n", &format!("{}{END}", value("month", 0, "a")));
    h.now += Duration::from_secs(1);
    h.expect("get month\r\n", END);
    h.expect("set k 0 x 1\r\na\r\n", BAD_FORMAT);
    h.expect("set k 0 4294967296 1\r\na\r\n", BAD_FORMAT);

    let clock = Clock::new(h.epoch, Duration::from_secs(EPOCH_UNIX));
    assert_eq!(clock.deadline(0, h.epoch), Deadline::Never);
    assert_eq!(clock.deadline(-5, h.epoch), Deadline::Past);
    assert_eq!(clock.deadline(1, h.epoch), Deadline::At(1));
    assert_eq!(clock.deadline(1, h.epoch + Duration::from_nanos(1)), Deadline::At(2));
    assert_eq!(clock.deadline(EPOCH_UNIX as i64 + 9, h.epoch), Deadline::At(9));
    assert_eq!(clock.deadline(EPOCH_UNIX as i64, h.epoch), Deadline::Past);
    assert_eq!(clock.unix_time(h.epoch + Duration::from_millis(1500)), EPOCH_UNIX + 1);
}

#[test]
fn the_reclaim_step_frees_expired_items_with_bounded_work() {
    let mut h = Harness::new();
    for i in 0..10 {
        h.call(&format!("set k{i} 0 {} 1\r\na\r\n", if i % 2 == 0 { 1 } else { 0 }));
    }
    h.advance(Duration::from_secs(1));
    assert_eq!(h.cache.reclaim(h.now, 4), 2, "4 slots looked at, 2 of them expired");
    assert_eq!(h.cache.len(), 8);
    assert_eq!(h.cache.reclaim(h.now, 4), 2);
    assert_eq!(h.cache.reclaim(h.now, 4), 1, "the last 2 slots, then the first 2 again");
    assert_eq!(h.cache.reclaim(h.now, 100), 0);
    assert_eq!((h.cache.len(), h.cache.counters.reclaimed), (5, 5));
    assert_eq!(h.cache.bytes(), 5 * Cache::charge(2, 1));
}

#[test]
fn flush_all_now_and_delayed() {
    let mut h = Harness::new();
    h.call("set a 0 0 1\r\na\r\nset b 0 0 1\r\nb\r\n");
    h.expect("flush_all\r\n", "OK\r\n");
    h.expect("get a b\r\n", END);
    assert_eq!((h.cache.len(), h.cache.bytes()), (0, 0));
    h.call("set a 0 0 1\r\na\r\n");
    h.expect("flush_all 10\r\n", "OK\r\n");
    h.advance(Duration::from_secs(5));
    h.call("set b 0 0 1\r\nb\r\n"); // also stored before the flush time: goes too
    h.expect("get a b\r\n", &format!("{}{}{END}", value("a", 0, "a"), value("b", 0, "b")));
    h.advance(Duration::from_secs(5));
    h.expect("get a b\r\n", END);
    h.call("set c 0 0 1\r\nc\r\n"); // after the flush time: stays
    h.advance(Duration::from_secs(100));
    h.expect("get c\r\n", &format!("{}{END}", value("c", 0, "c")));
    h.expect("flush_all noreply\r\n", "");
    h.expect("flush_all 0 noreply\r\n", "");
    h.expect("get c\r\n", END);
    h.expect("flush_all soon\r\n", "CLIENT_ERROR invalid exptime argument\r\n");
    h.expect("flush_all soon noreply\r\n", "");
    h.expect("flush_all -1\r\n", "OK\r\n");
    // A large cache is emptied at once too (its items are freed on another thread).
    for i in 0..100_000u32 {
        let key = format!("k{i}");
        h.cache.store(Mode::Set, key.as_bytes(), 0, Deadline::Never, b"v", h.now);
    }
    h.expect("flush_all\r\n", "OK\r\n");
    assert_eq!((h.cache.len(), h.cache.bytes()), (0, 0));
    let k1 = format!("STORED\r\n{}{END}", value("k1", 0, "a"));
    h.expect("set k1 0 0 1\r\na\r\nget k1 k2\r\n", &k1);
    assert_eq!(h.cache.counters.cmd_flush, 8);
}

#[test]
fn noreply_silences_every_reply_of_its_command() {
    let mut h = Harness::new();
    for input in [
        "set k 0 0 1 noreply\r\na\r\n",
        "add k 0 0 1 noreply\r\na\r\n",
        "replace k 0 0 1 noreply\r\nb\r\n",
        "append k 0 0 1 noreply\r\nc\r\n",
        "prepend k 0 0 1 noreply\r\nd\r\n",
        "cas k 0 0 1 1 noreply\r\ne\r\n",
        "cas k 0 0 1 noreply\r\ne\r\n", // the cas unique is missing: a swallowed bad line
        "set k 0 0 x noreply\r\n",      // a bad length: no data block follows
        "incr k 1 noreply\r\n",
        "incr nope 1 noreply\r\n",
        "decr k x noreply\r\n",
        "touch k 0 noreply\r\n",
        "touch k x noreply\r\n",
        "set big 0 0 2000000 noreply\r\n",
        "set k 0 0 1 noreply\r\nabc", // a bad data chunk
        "delete nope noreply\r\n",
        "verbosity 1 noreply\r\n",
        "verbosity noreply\r\n",
        "flush_all 0 noreply\r\n",
    ] {
        let (reply, _) = h.feed(input.as_bytes());
        if input.starts_with("set k 0 0 x") {
            assert_eq!(reply, BAD_FORMAT, "the length is unknown: memcached answers");
        } else {
            assert_eq!(reply, "", "{input:?}");
        }
        h.session = Session::new();
    }
    h.expect("set k 0 0 1 noreply\r\na\r\nget k\r\n", &format!("{}{END}", value("k", 0, "a")));
    h.expect("delete k noreply\r\nget k\r\n", END);
}

#[test]
fn version_verbosity_stats_and_unknown_commands() {
    let mut h = Harness::new();
    h.expect("version\r\n", "VERSION 1.6.0-ioman\r\n");
    h.expect("version foo bar\r\n", "VERSION 1.6.0-ioman\r\n");
    h.expect("verbosity 1\r\n", "OK\r\n");
    h.expect("verbosity\r\n", BAD_FORMAT);
    h.expect("verbosity foo bar my\r\n", BAD_FORMAT);
    h.expect("nope\r\n", "ERROR\r\n");
    h.expect("GET k\r\n", "ERROR\r\n"); // commands are case-sensitive
    h.expect("\r\n", BAD_FORMAT);
    h.expect("ab\n", BAD_FORMAT); // shorter than "xx\r\n", as memcached judges it
    h.expect("stats noreply\r\n", "ERROR\r\n");
    h.call("set a 0 0 1\r\na\r\nget a b\r\n");
    h.advance(Duration::from_secs(7));
    let stats = h.call("stats\r\n");
    assert!(stats.ends_with("\r\nEND\r\n"), "{stats}");
    let stat = |name: &str| {
        let prefix = format!("STAT {name} ");
        let line = stats.lines().find(|l| l.starts_with(&prefix));
        line.unwrap_or_else(|| panic!("no {name} in {stats}"))[prefix.len()..].to_owned()
    };
    assert_eq!(stat("pid"), std::process::id().to_string());
    assert_eq!(stat("uptime"), "7");
    assert_eq!(stat("time"), (EPOCH_UNIX + 7).to_string());
    assert_eq!(stat("version"), "1.6.0-ioman");
    for (name, value) in [
        ("curr_items", 1),
        ("total_items", 1),
        ("bytes", Cache::charge(1, 1)),
        ("cmd_get", 2),
        ("cmd_set", 1),
        ("get_hits", 1),
        ("get_misses", 1),
        ("evictions", 0),
        ("limit_maxbytes", 64 * 1024 * 1024),
        ("curr_connections", 0),
        ("total_connections", 0),
        ("threads", 0),
    ] {
        assert_eq!(stat(name), value.to_string(), "{name}");
    }
    let settings = h.call("stats settings\r\n");
    assert!(settings.contains("STAT item_size_max 1048576\r\n"), "{settings}");
    h.expect("stats reset\r\n", "RESET\r\n");
    assert_eq!(h.cache.counters, Default::default());
    h.expect("stats detail dump\r\n", "ERROR\r\n");
}

#[test]
fn stats_cachedump_and_cache_memlimit() {
    let mut h = Harness::new();
    h.call("set a 0 0 1\r\na\r\nset b 0 100 2\r\nbb\r\n");
    let b = format!("ITEM b [2 b; {} s]\r\n", EPOCH_UNIX + 100);
    h.expect("stats cachedump 1 0\r\n", &format!("{b}ITEM a [1 b; 0 s]\r\n{END}"));
    h.expect("stats cachedump 1 1\r\n", &format!("{b}{END}"));
    h.expect("stats cachedump 2 1\r\n", END);
    h.expect("stats cachedump 64 1\r\n", "CLIENT_ERROR Illegal slab id\r\n");
    h.expect("stats cachedump 1\r\n", "CLIENT_ERROR bad command line\r\n");
    h.expect("stats cachedump x 1\r\n", BAD_FORMAT);
    let small = "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n";
    h.expect("cache_memlimit 7\r\n", small);
    h.expect("cache_memlimit x\r\n", "ERROR\r\n");
    let bytes = "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n";
    h.expect("cache_memlimit 2000000000\r\n", bytes);
    h.expect("cache_memlimit 8 noreply\r\n", "");
    assert_eq!(h.cache.limit(), 8 << 20);
    h.expect("cache_memlimit 50\r\n", "OK\r\n");
    assert_eq!(h.cache.limit(), 50 << 20);

    // Under a lowered limit, the reclaim step evicts a bounded number of items per call.
    let mut h = Harness::new();
    for i in 0..10 {
        h.call(&format!("set k{i} 0 0 1\r\na\r\n"));
    }
    h.cache.set_limit(4 * Cache::charge(2, 1));
    assert_eq!(h.cache.reclaim(h.now, 3), 3);
    assert_eq!(h.cache.reclaim(h.now, 3), 3);
    assert_eq!(h.cache.reclaim(h.now, 3), 0, "under the limit again");
    let keys: Vec<Vec<u8>> = (6..10).rev().map(|i| format!("k{i}").into_bytes()).collect();
    assert_eq!(h.cache.keys_by_recency(), keys);
    assert_eq!(h.cache.counters.evictions, 6);
}

#[test]
fn quit_closes_and_nothing_after_it_runs() {
    let mut h = Harness::new();
    let first = "set a 0 0 1\r\na\r\nquit\r\n";
    let input = format!("{first}set b 0 0 1\r\nb\r\n");
    let (reply, progress) = h.feed(input.as_bytes());
    assert_eq!(reply, "STORED\r\n");
    assert_eq!(progress, Progress { consumed: input.len(), close: true });
    let (reply, progress) = h.feed(b"get a\r\n");
    assert_eq!((reply.as_str(), progress.close), ("", true));
    assert!(h.cache.get(b"b", h.now).is_none());
}

#[test]
fn bad_lines_and_keys() {
    let mut h = Harness::new();
    let long = "k".repeat(MAX_KEY + 1);
    let max = "k".repeat(MAX_KEY);
    // A bad key on a storage line: the data block is swallowed, the next command runs.
    h.expect(&format!("set {long} 0 0 1\r\na\r\nget {max}\r\n"), &format!("{BAD_FORMAT}{END}"));
    h.expect(&format!("set {max} 0 0 1\r\na\r\n"), "STORED\r\n");
    h.expect(&format!("get {max}\r\n"), &format!("{}{END}", value(&max, 0, "a")));
    h.expect("set k\x01 0 0 1\r\na\r\n", BAD_FORMAT);
    h.expect("set k -1 0 1\r\na\r\n", BAD_FORMAT);
    h.expect("set k 4294967296 0 1\r\na\r\n", BAD_FORMAT);
    // No length, or a negative one: nothing to swallow, the data is read as a command.
    h.expect("set k 0 0\r\n", BAD_FORMAT);
    h.expect("set k 0 0 -1\r\n", BAD_FORMAT);
    // A data block not followed by \r\n: its length and two bytes are swallowed, then the
    // rest is read as commands, as memcached does.
    let chunk = "CLIENT_ERROR bad data chunk\r\n";
    h.expect("set k 0 0 1\r\nabc\r\n", &format!("{chunk}{BAD_FORMAT}"));
    let version = "VERSION 1.6.0-ioman\r\n";
    h.expect("set k 0 0 1\r\nab\r\nversion\r\n", &format!("{chunk}{BAD_FORMAT}{version}"));
    // Keys of a retrieval: a bad one ends the reply with an error, and the line is skipped.
    let reply = format!("{}{BAD_FORMAT}", value(&max, 0, "a"));
    h.expect(
        &format!("get {max} {long} {max}\r\nget {max}\r\n"),
        &format!("{reply}{}{END}", value(&max, 0, "a")),
    );
    h.expect("get a\x7fb\r\n", BAD_FORMAT);
    h.expect("get\r\n", BAD_FORMAT);
    h.expect("gets   \r\n", BAD_FORMAT);
}

#[test]
fn an_oversized_item_is_refused_and_its_data_swallowed_as_it_arrives() {
    let mut h = Harness::new();
    h.call("set big 0 0 1\r\nb\r\n");
    let len = 2 * MAX_ITEM;
    let line = format!("set big 0 0 {len}\r\n");
    let (reply, progress) = h.feed(line.as_bytes());
    assert_eq!(reply, "SERVER_ERROR object too large for cache\r\n");
    assert_eq!(progress.consumed, line.len());
    // The data comes in pieces; every piece is consumed at once, nothing is kept.
    let piece = vec![b'x'; 64 * 1024];
    for _ in 0..len / piece.len() {
        let (reply, progress) = h.feed(&piece);
        assert_eq!((reply.as_str(), progress.consumed), ("", piece.len()));
    }
    h.expect("\r\nget big\r\n", END); // the failed set dropped the old value, as memcached's
    // The limit counts key and overhead: the largest value that fits, and one byte more.
    let fits = MAX_ITEM - ITEM_OVERHEAD - 1 - SHARED_OVERHEAD;
    assert_eq!(Cache::charge(1, fits), MAX_ITEM);
    let data = "v".repeat(fits);
    h.expect(&format!("set k 0 0 {fits}\r\n{data}\r\n"), "STORED\r\n");
    let (reply, _) = h.feed(format!("set k 0 0 {}\r\n{data}v\r\n", fits + 1).as_bytes());
    assert_eq!(reply, "SERVER_ERROR object too large for cache\r\n");
    assert_eq!(h.cache.counters.store_too_large, 2);
}

#[test]
fn an_over_long_line_is_refused_and_closes() {
    let mut h = Harness::new();
    let version = format!("version{}\r\n", " ".repeat(MAX_LINE - "version".len()));
    h.expect(&version, "VERSION 1.6.0-ioman\r\n"); // exactly the limit: fine
    let (reply, progress) = h.feed(format!("version{}", " ".repeat(MAX_LINE)).as_bytes());
    assert_eq!(reply, "CLIENT_ERROR request too long\r\n");
    assert!(progress.close);
    // A binary-protocol request (magic byte 0x80) closes the connection without a reply.
    let mut h = Harness::new();
    let noop = [0x80, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let (reply, progress) = h.feed(&[b"version\r\n".as_slice(), &noop].concat());
    assert_eq!(reply, "VERSION 1.6.0-ioman\r\n");
    assert!(progress.close);
    // Before the limit the line is simply incomplete.
    let mut h = Harness::new();
    let (reply, progress) = h.feed("x".repeat(MAX_LINE).as_bytes());
    assert_eq!((reply.as_str(), progress), ("", Progress { consumed: 0, close: false }));
}

#[test]
fn a_multiget_longer_than_a_line_is_answered_key_by_key() {
    let mut h = Harness::new();
    let keys: Vec<String> = (0..300).map(|i| format!("key-{i:016}")).collect();
    for key in keys.iter().step_by(3) {
        h.call(&format!("set {key} 0 0 {}\r\n{key}\r\n", key.len()));
    }
    let line = format!("get {}\r\n", keys.join(" "));
    assert!(line.len() > 2 * MAX_LINE);
    let expected: String = keys.iter().step_by(3).map(|k| value(k, 0, k)).collect();
    assert_eq!(h.call(&line), format!("{expected}{END}"));
    let gats = format!("gats 100 {}\r\n", keys.join(" "));
    assert!(h.call(&gats).ends_with(END));
    // Split anywhere, the answer is the same.
    let (whole, _) = run_split(line.as_bytes(), &[], 1 << 26);
    for cut in [1, 3, 4, 5, 100, MAX_LINE, MAX_LINE + 1, line.len() - 2, line.len() - 1] {
        assert_eq!(run_split(line.as_bytes(), &[cut], 1 << 26).0, whole, "cut at {cut}");
    }
    let bytewise: Vec<usize> = (1..line.len()).collect();
    assert_eq!(run_split(line.as_bytes(), &bytewise, 1 << 26).0, whole);
}

/// A pipeline touching every command and error path, ending with `quit`.
fn script() -> Vec<u8> {
    [
        "set a 1 0 3\r\nabc\r\n",
        "set n 0 100 2 noreply\r\n99\r\n",
        "get a n nope\r\n",
        "gets a\r\n",
        "add a 0 0 1\r\nx\r\n",
        "append a 0 0 2\r\nde\r\n",
        "prepend nope 0 0 1\r\nx\r\n",
        "cas a 0 0 1 99999\r\nz\r\n",
        "incr n 1\r\n",
        "decr n 1000\r\n",
        "touch a 10\r\n",
        "gat 0 a\r\n",
        "delete n\r\n",
        "set big 0 0 5000000\r\n",
        "xyz\r\n",
        "bogus\r\n",
        "set k 0 0 1\r\nabc\r\n",
        "\r\n",
        "verbosity 1\r\n",
        "flush_all noreply\r\n",
        "get a\n",
        "quit\r\n",
        "get a\r\n",
    ]
    .concat()
    .into_bytes()
}

#[test]
fn every_split_of_a_pipeline_gives_the_same_replies() {
    let replies = assert_split_invariant(&script());
    let get = format!("{}{}{END}", value("a", 1, "abc"), value("n", 0, "99"));
    assert!(replies.starts_with(&format!("STORED\r\n{get}")), "{replies}");
    // The 5 MB data block was not sent: the next 5 MB of input would be swallowed.
    assert!(replies.ends_with("SERVER_ERROR object too large for cache\r\n"), "{replies}");
    let mut input = script();
    let at = input.windows(7).position(|w| w == b"5000000").unwrap();
    input.splice(at..at + 7, *b"3");
    let replies = assert_split_invariant(&input);
    assert!(replies.ends_with(&format!("OK\r\n{END}")), "{replies}");
}

/// A store holding `key` = `data`, set through the session.
fn harness_with(key: &str, data: &[u8]) -> Harness {
    let mut h = Harness::new();
    let set = [format!("set {key} 0 0 {}\r\n", data.len()).as_bytes(), data, b"\r\n"].concat();
    assert_eq!(h.feed(&set), ("STORED\r\n".into(), Progress { consumed: set.len(), close: false }));
    h
}

/// How many holders the stored value of `key` has (1: only the cache).
#[track_caller]
fn holders(h: &mut Harness, key: &[u8]) -> usize {
    match h.cache.get(key, h.now).expect("the key exists").value {
        Value::Shared(v) => Arc::strong_count(v),
        Value::Inline(_) => 0,
    }
}

#[test]
fn pipelined_gets_stop_at_the_room_mark_and_resume_from_the_unconsumed_input() {
    const ROOM: usize = 64 * 1024;
    let data = vec![b'v'; 100 * 1024];
    let mut h = harness_with("big", &data);
    let reply =
        [b"VALUE big 0 102400\r\n".to_vec(), data.clone(), b"\r\nEND\r\n".to_vec()].concat();
    let get = b"get big\r\n";
    let input = [get.repeat(10), b"version\r\n".to_vec()].concat();
    let mut pending = &input[..];
    let (mut replies, mut consumed) = (Vec::new(), Vec::new());
    while !pending.is_empty() {
        // A fresh outbox each time: what the connection offers once the output drained.
        let mut out = Outbox::bounded(ROOM, usize::MAX);
        let progress = h.session.on_bytes(&mut h.cache, &Env::at(h.now), pending, &mut out);
        assert!(!progress.close && progress.consumed > 0);
        assert_eq!(
            holders(&mut h, b"big"),
            1 + usize::from(!out.is_empty() && consumed.len() < 10)
        );
        replies.extend(out.to_vec());
        consumed.push(progress.consumed);
        pending = &pending[progress.consumed..];
    }
    // Each reply passes the room mark; `get big` is taken up to the key, then the line end.
    let next = "\r\nget big".len();
    let expected = [vec!["get big".len()], vec![next; 9], vec!["\r\nversion\r\n".len()]].concat();
    assert_eq!(consumed, expected);
    assert_eq!(replies, [reply.repeat(10), b"VERSION 1.6.0-ioman\r\n".to_vec()].concat());

    // A call that starts without room runs nothing.
    let mut full = Outbox::bounded(ROOM, usize::MAX);
    full.extend_from_slice(&vec![b'x'; ROOM]);
    let progress = h.session.on_bytes(&mut h.cache, &Env::at(h.now), &input, &mut full);
    assert_eq!((progress, full.len()), (Progress { consumed: 0, close: false }, ROOM));

    // One get of the key many times stops after the value that passes the mark, mid-line.
    let many = format!("get{}\r\n", " big".repeat(100));
    let mut out = Outbox::bounded(ROOM, usize::MAX);
    let progress = h.session.on_bytes(&mut h.cache, &Env::at(h.now), many.as_bytes(), &mut out);
    assert_eq!(progress.consumed, "get big".len());
    assert_eq!(out.len(), "VALUE big 0 102400\r\n\r\n".len() + data.len());
    assert_eq!(holders(&mut h, b"big"), 2, "the value is shared, not copied");
}

#[test]
fn replies_share_large_values_and_copy_small_ones() {
    let big = vec![b'b'; SHARE_MIN + 1];
    let mut h = harness_with("big", &big);
    h.call(&format!("set edge 0 0 {SHARE_MIN}\r\n{}\r\n", "e".repeat(SHARE_MIN)));
    assert_eq!(holders(&mut h, b"big"), 1);
    assert_eq!(holders(&mut h, b"edge"), 0, "small values live inside the item");
    let mut out = Outbox::new();
    let input = b"get big edge big\r\ngets big\r\n";
    h.session.on_bytes(&mut h.cache, &Env::at(h.now), input, &mut out);
    assert_eq!(holders(&mut h, b"big"), 1 + 3);
    // A write replaces the buffer; the replies in flight keep the old bytes.
    h.call("append big 0 0 1\r\nc\r\n");
    assert_eq!(holders(&mut h, b"big"), 1);
    let sent = out.to_vec();
    assert_eq!(sent.windows(big.len()).filter(|w| *w == &big[..]).count(), 3);
    out.clear();
    let stored = h.cache.get(b"big", h.now).unwrap().value.bytes().to_vec();
    assert_eq!(stored, [&big[..], b"c"].concat());
}

#[test]
fn lru_eviction_under_a_small_memory_limit() {
    let item = Cache::charge(1, 100);
    let mut h = Harness::with_limit(3 * item + item / 2);
    let data = "d".repeat(100);
    for key in ["a", "b", "c"] {
        h.expect(&format!("set {key} 0 0 100\r\n{data}\r\n"), "STORED\r\n");
    }
    h.call("get a\r\n"); // a is now the most recently used
    h.expect(&format!("set d 0 0 100\r\n{data}\r\n"), "STORED\r\n");
    assert_eq!(h.call("get b\r\n"), END, "b was the least recently used");
    assert_eq!(h.cache.keys_by_recency(), [b"d".to_vec(), b"a".to_vec(), b"c".to_vec()]);
    assert_eq!((h.cache.counters.evictions, h.cache.len(), h.cache.bytes()), (1, 3, 3 * item));
    // An expired tail item is reclaimed, not counted as an eviction.
    h.call(&format!("set e 0 1 100\r\n{data}\r\n")); // evicts c
    h.call("get a d\r\n");
    h.advance(Duration::from_secs(1));
    h.call(&format!("set f 0 0 100\r\n{data}\r\n"));
    assert_eq!(h.cache.keys_by_recency(), [b"f".to_vec(), b"d".to_vec(), b"a".to_vec()]);
    assert_eq!((h.cache.counters.evictions, h.cache.counters.reclaimed), (2, 1));
    // An item larger than the whole limit cannot be stored.
    let huge = 4 * item;
    h.expect(&format!("set g 0 0 {huge}\r\n"), "SERVER_ERROR out of memory storing object\r\n");
    h.call(&format!("{}\r\n", "x".repeat(huge)));
    h.expect("get f\r\n", &format!("{}{END}", value("f", 0, &data)));
    assert_eq!(h.cache.counters.store_no_memory, 1);
}

#[test]
fn items_are_compact_and_accounted_exactly() {
    const { assert!(ITEM_OVERHEAD < 56, "memcached's item header is 56 bytes with its cas") };
    let mut h = Harness::new();
    let now = h.now;
    let c = &mut h.cache;
    for i in 0..10_000u32 {
        let key = format!("key:{i}");
        let stored = c.store(Mode::Set, key.as_bytes(), i, Deadline::Never, &i.to_le_bytes(), now);
        assert_eq!(stored, Outcome::Stored);
    }
    assert_eq!(c.bytes(), (0..10_000).map(|i| Cache::charge(format!("key:{i}").len(), 4)).sum());
    for i in (0..10_000u32).step_by(2) {
        assert!(c.delete(format!("key:{i}").as_bytes(), now));
    }
    for i in 0..10_000u32 {
        let hit = c
            .get(format!("key:{i}").as_bytes(), now)
            .map(|hit| (hit.flags, hit.value.bytes().to_vec()));
        assert_eq!(hit, (i % 2 == 1).then(|| (i, i.to_le_bytes().to_vec())), "key:{i}");
    }
    assert_eq!(c.len(), 5_000);
    for i in (1..10_000u32).step_by(2) {
        assert!(c.delete(format!("key:{i}").as_bytes(), now));
    }
    assert_eq!((c.len(), c.bytes()), (0, 0));
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_split_gives_the_same_replies(mut cuts in proptest::collection::vec(0usize..400, 0..16)) {
        let input = script();
        cuts.sort_unstable();
        let whole = run_split(&input, &[], 1 << 26);
        prop_assert_eq!(run_split(&input, &cuts, 1 << 26), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..400)) {
        let cuts: Vec<usize> = (1..input.len()).step_by(7).collect();
        let _ = run_split(&input, &cuts, 4096);
        for prefix in ["set k 0 0 5\r\n", "get ", "gat 1 ", "incr k ", "cas k 1 2 3 "] {
            let prefixed = [prefix.as_bytes(), &input].concat();
            let _ = run_split(&prefixed, &cuts, 4096);
        }
    }
}

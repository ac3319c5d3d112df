//! The expiry commands of the `kv` example, byte for byte as Redis 7.0 answers them (checked
//! side by side with redis-server by `kv-diff`): EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with
//! NX/XX/GT/LT, TTL/PTTL/EXPIRETIME/PEXPIRETIME, PERSIST, GETEX, SET ... KEEPTTL, and the
//! overflow checks; all on a manual clock with a fixed wall clock. Also the store's budget:
//! active expiry and the freeing of a flush do a bounded number of entries per call.

#[path = "support/kv.rs"]
mod kv;
#[path = "../examples/kv/proto.rs"]
mod proto;

use kv::{Kv, NULL, OK, UNIX_MS, bulk, int};
use proto::store::{Expiry, Store, Work};
use std::time::{Duration, Instant};

const NOT_AN_INTEGER: &str = "-ERR value is not an integer or out of range\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";

#[test]
fn expire_options_follow_redis() {
    let mut h = Kv::new();
    h.expect(&["SET", "k", "v"], OK);
    h.expect(&["EXPIRE", "k", "100", "XX"], &int(0));
    h.expect(&["EXPIRE", "k", "100", "GT"], &int(0)); // no expiry counts as infinite
    h.expect(&["EXPIRE", "k", "100", "LT"], &int(1));
    h.expect(&["TTL", "k"], &int(100));
    h.expect(&["EXPIRE", "k", "50", "gt"], &int(0));
    h.expect(&["EXPIRE", "k", "200", "GT"], &int(1));
    h.expect(&["EXPIRE", "k", "300", "LT"], &int(0));
    h.expect(&["EXPIRE", "k", "100", "NX"], &int(0));
    h.expect(&["EXPIRE", "k", "150", "XX", "LT"], &int(1));
    h.expect(&["TTL", "k"], &int(150));
    h.expect(&["PEXPIRE", "k", "150000", "GT"], &int(0)); // equal is not greater
    h.expect(&["EXPIRE", "missing", "10"], &int(0));
    let nx_and = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    h.expect(&["EXPIRE", "k", "10", "NX", "XX"], nx_and);
    h.expect(&["EXPIRE", "k", "10", "GT", "NX"], nx_and);
    h.expect(
        &["EXPIRE", "k", "10", "GT", "LT"],
        "-ERR GT and LT options at the same time are not compatible\r\n",
    );
    // Options are checked before the time.
    h.expect(&["EXPIRE", "k", "abc", "FOO"], "-ERR Unsupported option FOO\r\n");
    h.expect(&["EXPIRE", "k", "abc"], NOT_AN_INTEGER);
    h.expect(&["EXPIRE", "k"], "-ERR wrong number of arguments for 'expire' command\r\n");
    h.expect(&["TTL", "k"], &int(150));
}

#[test]
fn expire_times_overflow_as_in_redis() {
    let mut h = Kv::new();
    h.expect(&["SET", "k", "v"], OK);
    let invalid = |cmd: &str| format!("-ERR invalid expire time in '{cmd}' command\r\n");
    h.expect(&["EXPIRE", "k", "9223372036854775807"], &invalid("expire"));
    h.expect(&["EXPIRE", "k", "-9223372036854775808"], &invalid("expire"));
    h.expect(&["PEXPIRE", "k", "9223372036854775807"], &invalid("pexpire"));
    h.expect(&["EXPIREAT", "k", "9223372036854776"], &invalid("expireat"));
    // The largest absolute time that fits: kept exactly.
    h.expect(&["EXPIREAT", "k", "9223372036854775"], &int(1));
    h.expect(&["PEXPIRETIME", "k"], &int(9_223_372_036_854_775_000));
    h.expect(&["EXPIRETIME", "k"], &int(9_223_372_036_854_775));
    h.expect(&["PEXPIREAT", "k", "9223372036854775807"], &int(1));
    h.expect(&["PEXPIRETIME", "k"], &int(i64::MAX));
    h.expect(&["PERSIST", "k"], &int(1));
    h.expect(&["SET", "k", "v", "EX", "9223372036854775"], &invalid("set")); // + now overflows
    h.expect(&["SET", "k", "v", "EX", "9223372036854776"], &invalid("set"));
    h.expect(&["SET", "k", "v", "PX", "0"], &invalid("set"));
    h.expect(&["SET", "k", "v", "EXAT", "-1"], &invalid("set"));
    h.expect(&["SETEX", "k", "0", "v"], &invalid("setex"));
    h.expect(&["PSETEX", "k", "-1", "v"], &invalid("psetex"));
    h.expect(&["GET", "k"], &bulk("v"));
}

#[test]
fn absolute_times_round_trip_and_past_times_delete() {
    let mut h = Kv::new();
    let at = (UNIX_MS + 5000).to_string();
    h.expect(&["SET", "k", "v"], OK);
    h.expect(&["PEXPIREAT", "k", &at], &int(1));
    h.expect(&["PEXPIRETIME", "k"], &int(UNIX_MS + 5000));
    h.expect(&["EXPIRETIME", "k"], &int((UNIX_MS + 5000 + 500) / 1000));
    h.expect(&["TTL", "k"], &int(5));
    h.expect(&["PTTL", "k"], &int(5000));
    h.advance(Duration::from_millis(4999));
    h.expect(&["PTTL", "k"], &int(1));
    h.advance(Duration::from_millis(1));
    h.expect(&["GET", "k"], NULL);
    for (command, missing) in [("TTL", -2), ("PTTL", -2), ("EXPIRETIME", -2), ("PEXPIRETIME", -2)] {
        h.expect(&[command, "k"], &int(missing));
    }
    h.expect(&["SET", "k", "v"], OK);
    h.expect(&["EXPIRETIME", "k"], &int(-1));
    h.expect(&["PEXPIRETIME", "k"], &int(-1));
    // A time not in the future deletes at once, and replies 1.
    h.expect(&["EXPIREAT", "k", "1"], &int(1));
    h.expect(&["EXISTS", "k"], &int(0));
    h.expect(&["SET", "k", "v"], OK);
    h.expect(&["EXPIRE", "k", "0"], &int(1));
    h.expect(&["EXISTS", "k"], &int(0));
    h.expect(&["SET", "k", "v"], OK);
    h.expect(&["PEXPIRE", "k", "-5"], &int(1));
    h.expect(&["DBSIZE"], &int(0));
    // SET ... EXAT in the past: written, then gone.
    h.expect(&["SET", "k", "v", "EXAT", "1000"], OK);
    h.expect(&["GET", "k"], NULL);
}

#[test]
fn persist_and_keepttl() {
    let mut h = Kv::new();
    h.expect(&["PERSIST", "k"], &int(0));
    h.expect(&["SET", "k", "v"], OK);
    h.expect(&["PERSIST", "k"], &int(0));
    h.expect(&["SET", "k", "v", "EX", "100"], OK);
    h.expect(&["SET", "k", "w", "KEEPTTL"], OK);
    h.expect(&["TTL", "k"], &int(100));
    h.expect(&["SET", "k", "w", "KEEPTTL", "EX", "10"], SYNTAX);
    h.expect(&["SET", "k", "w", "PX", "10", "KEEPTTL"], SYNTAX);
    h.expect(&["PERSIST", "k"], &int(1));
    h.expect(&["TTL", "k"], &int(-1));
    h.expect(&["PERSIST", "k"], &int(0));
    h.expect(&["SET", "k", "v", "EX", "100"], OK);
    h.expect(&["SET", "k", "x"], OK);
    h.expect(&["TTL", "k"], &int(-1));
    h.expect(&["PERSIST", "k", "x"], "-ERR wrong number of arguments for 'persist' command\r\n");
}

#[test]
fn getex_reads_then_changes_the_expiry() {
    let mut h = Kv::new();
    h.expect(&["GETEX", "g", "EX", "-5"], NULL); // a missing key is nil before the time is read
    h.expect(&["SET", "g", "v"], OK);
    h.expect(&["GETEX", "g"], &bulk("v"));
    h.expect(&["TTL", "g"], &int(-1));
    h.expect(&["GETEX", "g", "EX", "100"], &bulk("v"));
    h.expect(&["TTL", "g"], &int(100));
    h.expect(&["GETEX", "g", "persist"], &bulk("v"));
    h.expect(&["TTL", "g"], &int(-1));
    h.expect(&["GETEX", "g", "PX", "5000"], &bulk("v"));
    h.expect(&["PTTL", "g"], &int(5000));
    let exat = (UNIX_MS / 1000 + 50).to_string();
    h.expect(&["GETEX", "g", "EXAT", &exat], &bulk("v"));
    h.expect(&["TTL", "g"], &int(50));
    let pxat = (UNIX_MS + 60_000).to_string();
    h.expect(&["GETEX", "g", "PXAT", &pxat], &bulk("v"));
    h.expect(&["TTL", "g"], &int(60));
    h.expect(&["GETEX", "g", "EX", "10", "EX", "20"], &bulk("v"));
    h.expect(&["TTL", "g"], &int(20));
    h.expect(&["GETEX", "g", "EX", "-5"], "-ERR invalid expire time in 'getex' command\r\n");
    h.expect(&["GETEX", "g", "EX", "abc"], NOT_AN_INTEGER);
    for bad in
        [&["EX", "10", "PX", "10"][..], &["PERSIST", "EX", "10"], &["EX"], &["KEEPTTL"], &["NX"]]
    {
        let args: Vec<&str> = ["GETEX", "g"].iter().chain(bad).copied().collect();
        h.expect(&args, SYNTAX);
    }
    h.expect(&["TTL", "g"], &int(20));
    h.expect(&["GETEX", "g", "EXAT", "1"], &bulk("v"));
    h.expect(&["GET", "g"], NULL);
    h.expect(&["GETEX"], "-ERR wrong number of arguments for 'getex' command\r\n");
}

#[test]
fn active_expiry_removes_at_most_its_budget_per_call() {
    let t0 = Instant::now();
    let at = t0 + Duration::from_secs(1);
    let mut store = Store::new();
    for i in 0..10_000 {
        store.set(format!("k{i}").as_bytes(), b"v", Expiry::At(at), t0);
    }
    store.set(b"later", b"v", Expiry::At(at + Duration::from_secs(1)), t0);
    assert_eq!(store.background(t0, 1000), Work::default(), "nothing is due yet");
    assert_eq!(store.next_wakeup(t0), Some(at));
    for call in 1..=10 {
        let work = store.background(at, 1000);
        assert_eq!(work, Work { expired: 1000, freed: 0, more: call < 10 }, "call {call}");
        assert_eq!(store.len(), 10_001 - 1000 * call);
    }
    assert_eq!(store.next_wakeup(at), Some(at + Duration::from_secs(1)));
    assert!(store.contains(b"later", at));
}

#[test]
fn a_flush_is_freed_piecewise() {
    let now = Instant::now();
    let mut store = Store::new();
    for i in 0..10_000 {
        let expiry =
            if i % 2 == 0 { Expiry::At(now + Duration::from_secs(60)) } else { Expiry::Persist };
        store.set(format!("k{i}").as_bytes(), b"value", expiry, now);
    }
    store.clear();
    // Gone for every command at once ...
    assert_eq!((store.len(), store.volatile_len(), store.bytes()), (0, 0, 0));
    assert!(!store.contains(b"k1", now));
    // ... freed later, a budget at a time: the map, the SCAN index and the expiry index.
    assert_eq!(store.garbage_len(), 10_000 + 10_000 + 5_000);
    assert_eq!(store.next_wakeup(now), Some(now));
    store.set(b"new", b"v", Expiry::Persist, now);
    let mut calls = 0;
    while store.has_garbage() {
        let before = store.garbage_len();
        let work = store.background(now, 1000);
        assert!(work.freed <= 1000 && before - store.garbage_len() == work.freed, "{work:?}");
        assert_eq!(work.more, store.has_garbage());
        calls += 1;
    }
    assert_eq!(calls, 25);
    assert_eq!(store.next_wakeup(now), None);
    assert!(store.contains(b"new", now));
}

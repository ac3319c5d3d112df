//! The keyspace and server commands of the `kv` example, byte for byte as Redis 7.0 answers
//! them (checked side by side with redis-server by `kv-diff`): TYPE, KEYS and Redis's glob,
//! SCAN (and its guarantee under inserts and deletes), RENAME/RENAMENX, COPY, RANDOMKEY,
//! UNLINK, TOUCH, FLUSHDB, SELECT, HELLO, CLIENT, INFO, CONFIG GET patterns, COMMAND DOCS.

#[path = "support/kv.rs"]
mod kv;
#[path = "../examples/kv/proto.rs"]
mod proto;

use kv::{Kv, NULL, OK, bulk, int};
use proto::glob::matches;
use proto::resp::Limits;
use proto::store::{Expiry, Store};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const SYNTAX: &str = "-ERR syntax error\r\n";

/// An array reply of bulk strings.
fn array(items: &[&str]) -> String {
    items.iter().fold(format!("*{}\r\n", items.len()), |out, item| out + &bulk(item))
}

/// The elements of an array-of-bulks reply, sorted.
fn sorted_keys(reply: &str) -> Vec<String> {
    let mut keys: Vec<String> = reply
        .split("\r\n")
        .skip(2)
        .step_by(2)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    keys.sort();
    keys
}

#[test]
fn glob_matches_like_redis_stringmatchlen() {
    let yes = |pattern: &[u8], string: &[u8]| {
        assert!(matches(pattern, string, false), "{pattern:?} {string:?}")
    };
    let no = |pattern: &[u8], string: &[u8]| {
        assert!(!matches(pattern, string, false), "{pattern:?} {string:?}")
    };
    no(b"*", b""); // as stringmatchlen (KEYS * and MATCH * skip the match altogether)
    yes(b"a*", b"a");
    yes(b"h?llo", b"hello");
    no(b"h?llo", b"hllo");
    yes(b"h*llo", b"heeeello");
    yes(b"h[ae]llo", b"hallo");
    no(b"h[ae]llo", b"hillo");
    yes(b"h[^e]llo", b"hallo");
    no(b"h[^e]llo", b"hello");
    yes(b"h[a-b]llo", b"hbllo");
    yes(b"h[b-a]llo", b"hallo"); // ends in either order
    yes(b"a\\*b", b"a*b");
    no(b"a\\*b", b"axb");
    yes(b"h[\\]]llo", b"h]llo");
    no(b"h[]]llo", b"h]llo"); // `]` right after `[` closes it
    no(b"h[el", b"hello"); // an unclosed class is closed at the end
    yes(b"h[el", b"he");
    yes(b"a[Z-", b"aZ");
    yes(b"a[^Z", b"a\xe9");
    // Ranges compare C's signed char: 0xe9 is below 0x01.
    no(b"a[\x01-z]", b"a\xe9");
    yes(b"a[\x80-z]", b"a\xe9");
    yes(b"a[z-\x80]", b"aZ");
    yes(b"[^a-z]*", b"\xe9t\xe9");
    yes(b"\\", b"\\");
    no(b"", b"a");
    yes(b"", b"");
    assert!(matches(b"SAV*", b"save", true) && !matches(b"SAV*", b"save", false));
    // An abusive pattern ends quickly (early exit on a failed `*`, nesting limit).
    let pattern = [&b"a*".repeat(2000)[..], b"b"].concat();
    let string = vec![b'a'; 5000];
    let started = Instant::now();
    no(&pattern, &string);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn type_keys_touch_unlink_dbsize() {
    let mut h = Kv::new();
    h.expect(&["TYPE", "k"], "+none\r\n");
    h.expect(&["MSET", "hello", "1", "hallo", "2", "hxllo", "3", "a*b", "4", "k", "5"], OK);
    h.expect(&["TYPE", "k"], "+string\r\n");
    assert_eq!(sorted_keys(&h.call(&["KEYS", "h[ae]llo"])), ["hallo", "hello"]);
    assert_eq!(sorted_keys(&h.call(&["KEYS", "*"])).len(), 5);
    h.expect(&["KEYS", "a\\*b"], &array(&["a*b"]));
    h.expect(&["KEYS", "nothing*"], "*0\r\n");
    h.expect(&["TOUCH", "k", "nope", "k"], &int(2));
    h.expect(&["UNLINK", "k", "nope", "hxllo"], &int(2));
    h.expect(&["DBSIZE"], &int(3));
    h.expect(&["SET", "gone", "v", "PX", "10"], OK);
    h.advance(Duration::from_millis(10));
    h.expect(&["KEYS", "gone"], "*0\r\n"); // skipped, as Redis, though not yet removed
    h.expect(&["TYPE", "gone"], "+none\r\n");
    h.expect(&["KEYS"], "-ERR wrong number of arguments for 'keys' command\r\n");
    h.expect(&["TOUCH"], "-ERR wrong number of arguments for 'touch' command\r\n");
}

#[test]
fn keys_and_scan_replies_are_bounded_by_max_reply() {
    let mut h = Kv::with_limits(Limits { max_reply: 1000, ..Limits::default() });
    for i in 0..100 {
        h.expect(&["SET", &format!("key:{i:04}"), "v"], OK);
    }
    let refused = h.call(&["KEYS", "*"]);
    assert!(refused.starts_with("-ERR reply too large: KEYS would send 1406 bytes"), "{refused}");
    assert_eq!(sorted_keys(&h.call(&["KEYS", "key:000*"])).len(), 10);
    assert!(h.call(&["SCAN", "0", "COUNT", "1000"]).starts_with("-ERR reply too large: SCAN"));
}

#[test]
fn scan_options_and_errors() {
    let mut h = Kv::new();
    h.expect(&["SCAN", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
    h.expect(&["MSET", "a1", "1", "a2", "2", "b1", "3"], OK);
    let reply = h.call(&["SCAN", "0", "MATCH", "a*", "COUNT", "100"]);
    assert_eq!(sorted_keys(reply.strip_prefix("*2\r\n$1\r\n0\r\n").unwrap()), ["a1", "a2"]);
    for (cursor, reply) in [
        ("abc", "-ERR invalid cursor\r\n"),
        (" 1", "-ERR invalid cursor\r\n"),
        ("+", "-ERR invalid cursor\r\n"),
        ("1x", "-ERR invalid cursor\r\n"),
        ("99999999999999999999999", "-ERR invalid cursor\r\n"),
    ] {
        h.expect(&["SCAN", cursor], reply);
    }
    h.expect(&["SCAN", "0", "COUNT", "0"], SYNTAX);
    h.expect(&["SCAN", "0", "COUNT", "x"], "-ERR value is not an integer or out of range\r\n");
    h.expect(&["SCAN", "0", "COUNT"], SYNTAX);
    h.expect(&["SCAN", "0", "BAD", "1"], SYNTAX);
    h.expect(&["SCAN", "abc", "BAD"], "-ERR invalid cursor\r\n"); // the cursor first
    // One call with a large COUNT sees everything; TYPE filters by type name.
    let all = h.call(&["SCAN", "", "COUNT", "100"]);
    assert!(all.starts_with("*2\r\n$1\r\n0\r\n*3\r\n"), "{all}");
    h.expect(&["SCAN", "0", "COUNT", "100", "TYPE", "list"], "*2\r\n$1\r\n0\r\n*0\r\n");
    let strings = h.call(&["SCAN", "0", "COUNT", "100", "TYPE", "STRING", "MATCH", "a?"]);
    assert_eq!(sorted_keys(strings.strip_prefix("*2\r\n$1\r\n0\r\n").unwrap()), ["a1", "a2"]);
}

/// Follows a SCAN with `count` through the store, calling `between` after each step.
fn full_scan(
    store: &mut Store,
    now: Instant,
    count: usize,
    mut between: impl FnMut(&mut Store, usize),
) -> Vec<Vec<u8>> {
    let (mut cursor, mut seen, mut step) = (0, Vec::new(), 0);
    loop {
        cursor = store.scan(cursor, count, now, |key| seen.push(key.to_vec()));
        step += 1;
        if cursor == 0 {
            return seen;
        }
        between(store, step);
    }
}

#[test]
fn scan_returns_every_key_present_throughout_whatever_changes_between_calls() {
    let now = Instant::now();
    let mut store = Store::new();
    let stable: BTreeSet<Vec<u8>> = (0..2000).map(|i| format!("stable:{i}").into_bytes()).collect();
    for key in &stable {
        store.set(key, b"v", Expiry::Persist, now);
    }
    for i in 0..500 {
        store.set(format!("doomed:{i}").as_bytes(), b"v", Expiry::Persist, now);
    }
    // Between calls: insert 20 keys, delete 5 of the doomed and 5 of the inserted ones.
    let seen = full_scan(&mut store, now, 25, |store, step| {
        for i in 0..20 {
            store.set(format!("new:{step}:{i}").as_bytes(), b"v", Expiry::Persist, now);
        }
        for i in 0..5 {
            store.remove(format!("doomed:{}", step * 5 + i).as_bytes(), now);
            store.remove(format!("new:{}:{i}", step.saturating_sub(1)).as_bytes(), now);
        }
    });
    let seen_set: BTreeSet<Vec<u8>> = seen.iter().cloned().collect();
    assert!(stable.is_subset(&seen_set), "a key present throughout was missed");
    assert_eq!(seen.len(), seen_set.len(), "no key is returned twice by this store");
    // A quiet keyspace is returned exactly.
    let quiet = full_scan(&mut store, now, 100, |_, _| {});
    assert_eq!(quiet.len(), store.len());
}

#[test]
fn scan_skips_and_removes_expired_keys() {
    let now = Instant::now();
    let mut store = Store::new();
    store.set(b"live", b"v", Expiry::Persist, now);
    store.set(b"dead", b"v", Expiry::At(now + Duration::from_millis(5)), now);
    let later = now + Duration::from_millis(5);
    let mut seen = Vec::new();
    assert_eq!(store.scan(0, 100, later, |key| seen.push(key.to_vec())), 0);
    assert_eq!(seen, [b"live".to_vec()]);
    assert_eq!(store.len(), 1);
}

#[test]
fn rename_renamenx_and_copy_keep_the_expiry() {
    let mut h = Kv::new();
    h.expect(&["RENAME", "nope", "x"], "-ERR no such key\r\n");
    h.expect(&["RENAMENX", "nope", "x"], "-ERR no such key\r\n");
    h.expect(&["SET", "a", "1", "EX", "100"], OK);
    h.expect(&["RENAME", "a", "a"], OK);
    h.expect(&["RENAMENX", "a", "a"], &int(0));
    h.expect(&["SET", "b", "2"], OK);
    h.expect(&["RENAMENX", "a", "b"], &int(0));
    h.expect(&["RENAME", "a", "b"], OK);
    h.expect(&["GET", "b"], &bulk("1"));
    h.expect(&["TTL", "b"], &int(100));
    h.expect(&["EXISTS", "a"], &int(0));
    h.expect(&["RENAMENX", "b", "c"], &int(1));
    h.expect(&["COPY", "c", "c"], "-ERR source and destination objects are the same\r\n");
    h.expect(&["COPY", "nope", "d"], &int(0));
    h.expect(&["COPY", "c", "d"], &int(1));
    h.expect(&["TTL", "d"], &int(100));
    h.expect(&["SET", "e", "x"], OK);
    h.expect(&["COPY", "c", "e"], &int(0));
    h.expect(&["COPY", "c", "e", "REPLACE"], &int(1));
    h.expect(&["GET", "e"], &bulk("1"));
    h.expect(&["COPY", "c", "f", "DB", "0", "REPLACE"], &int(1));
    h.expect(&["COPY", "c", "g", "DB", "1"], "-ERR DB index is out of range\r\n");
    h.expect(&["COPY", "c", "g", "DB", "x"], "-ERR value is not an integer or out of range\r\n");
    h.expect(
        &["COPY", "c", "g", "DB", "99999999999"],
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    );
    h.expect(&["COPY", "c", "g", "DB"], SYNTAX);
    h.expect(&["COPY", "c", "g", "FOO"], SYNTAX);
    h.expect(&["COPY", "c"], "-ERR wrong number of arguments for 'copy' command\r\n");
    // A copy is independent of its source.
    h.expect(&["APPEND", "c", "x"], &int(2));
    h.expect(&["GET", "d"], &bulk("1"));
}

#[test]
fn randomkey_flushdb_and_select() {
    let mut h = Kv::new();
    h.expect(&["RANDOMKEY"], NULL);
    h.expect(&["MSET", "a", "1", "b", "2"], OK);
    for _ in 0..20 {
        let key = h.call(&["RANDOMKEY"]);
        assert!(key == bulk("a") || key == bulk("b"), "{key}");
    }
    h.expect(&["SET", "c", "3", "PX", "1"], OK);
    h.expect(&["DEL", "a", "b"], &int(2));
    h.advance(Duration::from_millis(1));
    h.expect(&["RANDOMKEY"], NULL); // the expired key is drawn, removed, and not returned
    h.expect(&["DBSIZE"], &int(0));
    h.expect(&["SET", "a", "1"], OK);
    h.expect(&["FLUSHDB"], OK);
    h.expect(&["DBSIZE"], &int(0));
    h.expect(&["flushdb", "async"], OK);
    h.expect(&["FLUSHDB", "SYNC"], OK);
    h.expect(&["FLUSHDB", "now"], SYNTAX);
    h.expect(&["FLUSHDB", "SYNC", "ASYNC"], SYNTAX);
    h.expect(&["SELECT", "0"], OK);
    h.expect(&["SELECT", "15"], "-ERR DB index is out of range\r\n");
    h.expect(&["SELECT", "-1"], "-ERR DB index is out of range\r\n");
    h.expect(&["SELECT", "00"], "-ERR value is not an integer or out of range\r\n");
}

#[test]
fn hello_client_info_and_config() {
    let mut h = Kv::new();
    let id = h.call(&["CLIENT", "ID"]);
    assert!(id.starts_with(':'), "{id}");
    let hello = format!(
        "*14\r\n{}{}{}{}{}{}{}{}{}{}{}{}{}*0\r\n",
        bulk("server"),
        bulk("kv"),
        bulk("version"),
        bulk("7.0.0"),
        bulk("proto"),
        ":2\r\n",
        bulk("id"),
        id,
        bulk("mode"),
        bulk("standalone"),
        bulk("role"),
        bulk("master"),
        bulk("modules"),
    );
    h.expect(&["HELLO"], &hello);
    h.expect(&["HELLO", "2"], &hello);
    h.expect(&["HELLO", "3"], "-NOPROTO unsupported protocol version\r\n");
    h.expect(&["HELLO", "1"], "-NOPROTO unsupported protocol version\r\n");
    h.expect(&["HELLO", "x"], "-ERR Protocol version is not an integer or out of range\r\n");
    h.expect(&["HELLO", "2", "FOO"], "-ERR Syntax error in HELLO option 'FOO'\r\n");
    h.expect(&["HELLO", "2", "SETNAME"], "-ERR Syntax error in HELLO option 'SETNAME'\r\n");
    h.expect(
        &["HELLO", "2", "AUTH", "bob", "pw"],
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    h.expect(&["HELLO", "2", "AUTH", "default", "pw"], &hello);
    // SETNAME takes effect even when a later option is refused, as in Redis.
    h.expect(
        &["HELLO", "2", "SETNAME", "named", "BAD"],
        "-ERR Syntax error in HELLO option 'BAD'\r\n",
    );
    h.expect(&["CLIENT", "GETNAME"], &bulk("named"));
    h.expect(&["CLIENT", "SETNAME", ""], OK);
    h.expect(&["CLIENT", "GETNAME"], NULL);
    h.expect(&["CLIENT", "ID", "x"], "-ERR wrong number of arguments for 'client|id' command\r\n");
    h.expect(
        &["CLIENT", "GETNAME", "x"],
        "-ERR wrong number of arguments for 'client|getname' command\r\n",
    );
    h.expect(&["client", "nope"], "-ERR unknown subcommand 'nope'. Try CLIENT HELP.\r\n");

    h.expect(&["SET", "a", "1", "EX", "100"], OK);
    h.expect(&["SET", "b", "2"], OK);
    h.expect(&["INFO", "keyspace"], &bulk("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n"));
    h.expect(&["INFO", "nothing"], &bulk(""));
    let info = h.call(&["INFO"]);
    let sections: Vec<&str> = info.lines().filter(|line| line.starts_with('#')).collect();
    assert_eq!(sections, ["# Server", "# Clients", "# Memory", "# Keyspace"]);
    assert!(info.contains("\r\nredis_version:7.0.0\r\n") && info.contains("\r\n\r\n# Clients\r\n"));
    assert!(info.contains("\r\nused_memory:4\r\n"), "{info}"); // keys and values: a1b2
    let all = h.call(&["INFO", "all"]);
    assert_eq!(all.lines().filter(|line| line.starts_with('#')).collect::<Vec<_>>(), sections);
    let memory = h.call(&["INFO", "MEMORY"]);
    assert!(
        memory.starts_with("$") && memory.contains("\r\n# Memory\r\nused_memory:4\r\n"),
        "{memory}"
    );
    assert!(!memory.contains("# Server"));

    h.expect(
        &["CONFIG", "GET", "maxmemory*"],
        &array(&["maxmemory", "0", "maxmemory-policy", "noeviction"]),
    );
    h.expect(&["CONFIG", "GET", "SAV*", "save"], &array(&["save", ""]));
    h.expect(&["CONFIG", "GET", "Save", "sav*"], &array(&["Save", ""]));
    h.expect(&["CONFIG", "GET", "appendonl?", "zzz*"], &array(&["appendonly", "no"]));
    h.expect(&["CONFIG", "GET", "*max-bulk*"], &array(&["proto-max-bulk-len", "67108864"]));
}

//! A socket-free harness for the `kv` example's sans-IO core: a store, one session with a
//! fixed wall clock, and a manual `now`, so every reply (expiry times included) is exact.
//! Include it after `#[path = "../examples/kv/proto.rs"] mod proto;` in the test crate.

use std::time::{Duration, Instant};

use crate::proto::commands::{KvSession, Progress};
use crate::proto::resp::Limits;
use crate::proto::store::Store;
use ioman::net::Outbox;

/// The Unix time, in milliseconds, of the harness's start.
pub const UNIX_MS: i64 = 1_700_000_000_000;

/// `+OK\r\n`
pub const OK: &str = "+OK\r\n";
/// `$-1\r\n`
pub const NULL: &str = "$-1\r\n";

/// Encodes a command as a RESP array of bulk strings.
pub fn cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// A bulk string reply.
pub fn bulk(text: &str) -> String {
    format!("${}\r\n{text}\r\n", text.len())
}

/// An integer reply.
pub fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

/// A store, a session and a manual clock.
pub struct Kv {
    pub store: Store,
    pub session: KvSession,
    pub now: Instant,
}

impl Kv {
    pub fn new() -> Kv {
        Kv::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Kv {
        let now = Instant::now();
        Kv { store: Store::new(), session: KvSession::with_wall_clock(limits, now, UNIX_MS), now }
    }

    /// Runs one command, which must be consumed whole and keep the connection open.
    #[track_caller]
    pub fn call(&mut self, args: &[&str]) -> String {
        let input = cmd(args);
        let mut out = Outbox::new();
        let progress = self.session.on_bytes(&mut self.store, self.now, &input, &mut out);
        assert_eq!(progress, Progress { consumed: input.len(), close: false }, "{args:?}");
        String::from_utf8(out.to_vec()).expect("utf-8 replies in tests")
    }

    #[track_caller]
    pub fn expect(&mut self, args: &[&str], reply: &str) {
        assert_eq!(self.call(args), reply, "{args:?}");
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }
}

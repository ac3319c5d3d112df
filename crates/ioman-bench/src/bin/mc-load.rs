//! `mc-load`: the memcached text-protocol client of `cargo xtask bench --only memcached`. It
//! exists because `memcslap` (libmemcached-tools) has no get/set mix and no pipelining (one
//! blocking thread per connection, one test at a time), so it measures its own threads more
//! than the server.
//!
//! Keys are `key:%08d` (padded with `x` to `--key-size` bytes when that is larger), values are
//! `--value-size` bytes derived from the key's number, flags are the number modulo 1,000 and
//! items never expire: every `set` of a key stores the same item, so every reply is known
//! exactly and is compared byte for byte (`STORED`, or the whole `VALUE ... END` of a hit; a miss
//! is an error). Two modes, both loopback-only and bounded in count and time:
//!
//! - `--mode load` (default): stores keys `0..--keys` over one connection (unless `--preload 0`:
//!   a harness that filled the server once skips it, so the server's CPU time during the run
//!   belongs to the load alone), then opens `--conns` connections on one thread (one epoll
//!   instance, level-triggered), each keeping `--pipeline` operations in flight, chosen at
//!   random (a per-connection xorshift, uniform over the keys): `--get-percent` gets, the rest
//!   sets. Each operation is its own command, sent as soon as an earlier one is answered; with
//!   `--batch 1` a connection instead sends its whole window at once, the sets as commands and
//!   all the gets as one multi-key `get` (as clients batch reads), and waits for all of it.
//!   Runs `--warmup` seconds unmeasured, then `--duration` seconds or `--max-requests` measured
//!   operations, whichever ends first, and prints `{"rps":..,"requests":..,"all_requests":..,
//!   "gets":..,"sets":..,"errors":..,"p50_us":..,"p99_us":..}`: `requests` are operations (a
//!   key read or an item stored), `all_requests` counts the warm-up too (not the preload), the
//!   latencies are per command.
//! - `--mode fill`: stores keys `0..--keys` over one connection in pipelined batches, then reads
//!   back every 1,000th and prints `{"stored":N,"checked":M,"secs":S}`.
//!
//! Exits non-zero on any wrong reply.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, bail, ensure};
use ioman_bench::cli::Flags;
use ioman_bench::histogram::Histogram;
use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::io::{self as rio, Errno};
use rustix::time::Timespec;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: mc-load --addr 127.0.0.1:PORT [--mode load|fill] [--keys 10000] \
                     [--key-size 0] [--value-size 100] [--conns 50] [--pipeline 1] \
                     [--batch 0] [--get-percent 90] [--duration 5] [--warmup 1] \
                     [--max-requests 100000000] [--preload 1] [--fill-secs 120]";

/// The reply to a stored `set`.
const STORED: &[u8] = b"STORED\r\n";
/// The end of a retrieval reply.
const END: &[u8] = b"END\r\n";
/// Sets per batch when filling: one write of requests, then their replies.
const FILL_BATCH: usize = 256;
/// The longest single `epoll_wait`, so the time bounds are checked often.
const TICK: Duration = Duration::from_millis(20);
/// The read buffer shared by every connection.
const READ_BUF: usize = 64 * 1024;
/// The deepest pipeline accepted.
const MAX_DEPTH: usize = 1024;

/// The items of one run: key `i`'s name, value and flags, as every request and reply uses them.
#[derive(Debug, Clone)]
struct Items {
    keys: u32,
    key_size: usize,
    value_size: usize,
}

impl Items {
    fn key(&self, i: u32, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(format!("key:{i:08}").as_bytes());
        while out.len() - start < self.key_size {
            out.push(b'x');
        }
    }

    fn flags(i: u32) -> u32 {
        i % 1000
    }

    fn value(&self, i: u32, out: &mut Vec<u8>) {
        out.extend((0..self.value_size).map(|j| b'a' + ((i as usize + j) % 26) as u8));
    }

    /// `set KEY FLAGS 0 LEN\r\nVALUE\r\n`
    fn set_request(&self, i: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(b"set ");
        self.key(i, out);
        out.extend_from_slice(format!(" {} 0 {}\r\n", Items::flags(i), self.value_size).as_bytes());
        self.value(i, out);
        out.extend_from_slice(b"\r\n");
    }

    /// `get KEY\r\n`
    fn get_request(&self, i: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(b"get ");
        self.key(i, out);
        out.extend_from_slice(b"\r\n");
    }

    /// `VALUE KEY FLAGS LEN\r\nVALUE\r\n`: one hit of a reply.
    fn value_block(&self, i: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(b"VALUE ");
        self.key(i, out);
        out.extend_from_slice(format!(" {} {}\r\n", Items::flags(i), self.value_size).as_bytes());
        self.value(i, out);
        out.extend_from_slice(b"\r\n");
    }

    /// `VALUE KEY FLAGS LEN\r\nVALUE\r\nEND\r\n`
    fn get_reply(&self, i: u32, out: &mut Vec<u8>) {
        self.value_block(i, out);
        out.extend_from_slice(END);
    }
}

/// Every key's name, `set` request and hit, built once so the load loop only copies and
/// compares.
struct Table {
    key: Vec<Box<[u8]>>,
    set: Vec<Box<[u8]>>,
    block: Vec<Box<[u8]>>,
}

impl Table {
    fn new(items: &Items) -> Table {
        let build = |f: &dyn Fn(u32, &mut Vec<u8>)| -> Vec<Box<[u8]>> {
            (0..items.keys)
                .map(|i| {
                    let mut v = Vec::new();
                    f(i, &mut v);
                    v.into_boxed_slice()
                })
                .collect()
        };
        Table {
            key: build(&|i, v| items.key(i, v)),
            set: build(&|i, v| items.set_request(i, v)),
            block: build(&|i, v| items.value_block(i, v)),
        }
    }
}

/// What the mixed load runs.
#[derive(Debug, Clone)]
struct Load {
    addr: SocketAddr,
    conns: usize,
    /// Operations in flight per connection.
    depth: usize,
    /// Whether a connection sends its window as one batch, the window's gets as one multi-key
    /// `get`, and waits for all of it before the next.
    batch: bool,
    get_percent: u64,
    duration: Duration,
    warmup: Duration,
    max_requests: u64,
}

/// One command sent and not yet fully answered.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// A `get` (of the next `left` keys of the connection's key queue, then `END`) or a `set`.
    get: bool,
    /// For a `get`: hits still to come; for a `set`: its key.
    left: u32,
    at: Instant,
}

/// Progress on the oldest command: an operation completed (a key read or an item stored),
/// the command completed (since `at`), or both (a `set`).
#[derive(Debug, Clone, Copy)]
struct Done {
    get: bool,
    op: bool,
    command: bool,
    at: Instant,
}

/// One connection of the mixed load.
struct Conn {
    stream: TcpStream,
    rng: u64,
    out: Vec<u8>,
    out_pos: usize,
    pending: VecDeque<Pending>,
    /// The keys of the pending gets, in order.
    get_keys: VecDeque<u32>,
    /// Operations in flight.
    ops: usize,
    /// Bytes of the expected reply's current part already received and checked.
    matched: usize,
    wants_write: bool,
}

impl Conn {
    fn new(stream: TcpStream, id: usize, depth: usize) -> Conn {
        Conn {
            stream,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
            out: Vec::with_capacity(depth * 256),
            out_pos: 0,
            pending: VecDeque::with_capacity(depth),
            get_keys: VecDeque::with_capacity(depth),
            ops: 0,
            matched: 0,
            wants_write: false,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// One random operation: (get, key).
    fn pick(&mut self, load: &Load, keys: usize) -> (bool, u32) {
        let r = self.next();
        ((r & 0xffff_ffff) % 100 < load.get_percent, ((r >> 32) % keys as u64) as u32)
    }

    /// Tops the window up to `depth` operations (in batch mode: only once it is empty, then
    /// all at once) and writes what the socket takes.
    fn fill(&mut self, load: &Load, table: &Table, now: Instant) -> Result<(), String> {
        if !load.batch {
            while self.ops < load.depth {
                let (get, key) = self.pick(load, table.key.len());
                if get {
                    self.out.extend_from_slice(b"get ");
                    self.out.extend_from_slice(&table.key[key as usize]);
                    self.out.extend_from_slice(b"\r\n");
                    self.get_keys.push_back(key);
                } else {
                    self.out.extend_from_slice(&table.set[key as usize]);
                }
                let left = if get { 1 } else { key };
                self.pending.push_back(Pending { get, left, at: now });
                self.ops += 1;
            }
        } else if self.ops == 0 {
            let mut gets = 0;
            for _ in 0..load.depth {
                let (get, key) = self.pick(load, table.key.len());
                if get {
                    self.get_keys.push_back(key);
                    gets += 1;
                } else {
                    self.out.extend_from_slice(&table.set[key as usize]);
                    self.pending.push_back(Pending { get, left: key, at: now });
                }
            }
            if gets > 0 {
                self.out.extend_from_slice(b"get");
                for &key in &self.get_keys {
                    self.out.push(b' ');
                    self.out.extend_from_slice(&table.key[key as usize]);
                }
                self.out.extend_from_slice(b"\r\n");
                self.pending.push_back(Pending { get: true, left: gets, at: now });
            }
            self.ops = load.depth;
        }
        if self.out_pos < self.out.len() {
            match rio::write(&self.stream, &self.out[self.out_pos..]) {
                Ok(n) => self.out_pos += n,
                Err(Errno::AGAIN) => {}
                Err(e) => return Err(format!("write: {e}")),
            }
            if self.out_pos == self.out.len() {
                self.out.clear();
                self.out_pos = 0;
            }
        }
        self.wants_write = self.out_pos < self.out.len();
        Ok(())
    }

    /// Reads once and checks every byte against the pending commands' replies; `done` gets
    /// each completed operation.
    fn read(
        &mut self,
        buf: &mut [u8],
        table: &Table,
        mut done: impl FnMut(Done),
    ) -> Result<(), String> {
        let n = match rio::read(&self.stream, &mut *buf) {
            Ok(0) => return Err("the server closed the connection".into()),
            Ok(n) => n,
            Err(Errno::AGAIN) => return Ok(()),
            Err(e) => return Err(format!("read: {e}")),
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            let Some(front) = self.pending.front_mut() else {
                return Err(format!("unrequested bytes: {:?}", show(data)));
            };
            let (want, what): (&[u8], _) = match (front.get, front.left) {
                (false, key) => (STORED, format!("set of key #{key}")),
                (true, 0) => (END, "end of a get".to_owned()),
                (true, _) => {
                    let key = *self.get_keys.front().expect("a key per hit");
                    (&table.block[key as usize], format!("get of key #{key}"))
                }
            };
            let rest = &want[self.matched..];
            let take = rest.len().min(data.len());
            if data[..take] != rest[..take] {
                return Err(format!("{what}: expected {:?}, got {:?}", show(rest), show(data)));
            }
            self.matched += take;
            data = &data[take..];
            if self.matched < want.len() {
                continue;
            }
            self.matched = 0;
            let (get, at) = (front.get, front.at);
            if get && front.left > 0 {
                front.left -= 1;
                self.get_keys.pop_front();
                self.ops -= 1;
                done(Done { get, op: true, command: false, at });
                continue;
            }
            self.pending.pop_front();
            if !get {
                self.ops -= 1;
            }
            done(Done { get, op: !get, command: true, at });
        }
        Ok(())
    }
}

/// At most 120 bytes of `b`, for messages.
fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(120)]).into_owned()
}

fn timespec(d: Duration) -> Timespec {
    Timespec { tv_sec: d.as_secs() as _, tv_nsec: d.subsec_nanos() as _ }
}

fn interest(wants_write: bool) -> EventFlags {
    if wants_write { EventFlags::IN | EventFlags::OUT } else { EventFlags::IN }
}

/// What the mixed load measured.
#[derive(Debug, Default)]
struct Report {
    requests: u64,
    all_requests: u64,
    gets: u64,
    sets: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Report {
    fn rps(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.requests as f64 / s } else { 0.0 }
    }
}

/// Runs the mixed load on `load.conns` connections until the time or count bound.
fn run_load(load: &Load, table: &Table) -> Result<Report> {
    let ep = epoll::create(CreateFlags::CLOEXEC).context("epoll_create1")?;
    let connect_deadline = Instant::now() + Duration::from_secs(20);
    let mut conns: Vec<Option<Conn>> = Vec::with_capacity(load.conns);
    for id in 0..load.conns {
        let left = connect_deadline.saturating_duration_since(Instant::now());
        ensure!(!left.is_zero(), "connected only {id} of {} connections in 20 s", load.conns);
        let s = TcpStream::connect_timeout(&load.addr, left.min(Duration::from_secs(5)))
            .with_context(|| format!("connect #{id} to {}", load.addr))?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        conns.push(Some(Conn::new(s, id, load.depth)));
    }
    let mut report = Report::default();
    let mut hist = Histogram::default();
    let fail = |report: &mut Report, conns: &mut [Option<Conn>], i: usize, e: String| {
        report.errors += 1;
        report.first_error.get_or_insert_with(|| format!("connection {i}: {e}"));
        conns[i] = None; // closing the fd also removes it from the epoll set
    };
    let start = Instant::now();
    for i in 0..conns.len() {
        let c = conns[i].as_mut().expect("fresh");
        let r = c.fill(load, table, start);
        epoll::add(&ep, &c.stream, EventData::new_u64(i as u64), interest(c.wants_write))
            .context("epoll_ctl(ADD)")?;
        if let Err(e) = r {
            fail(&mut report, &mut conns, i, e);
        }
    }
    let mut alive = conns.iter().flatten().count();
    let warm_end = start + load.warmup;
    let end = warm_end + load.duration;
    let mut measuring = load.warmup.is_zero();
    let mut measure_start = start;
    let mut buf = vec![0u8; READ_BUF];
    let mut events = Vec::with_capacity(1024);
    loop {
        let now = Instant::now();
        if !measuring && now >= warm_end {
            measuring = true;
            hist.clear();
            (report.requests, report.gets, report.sets) = (0, 0, 0);
            measure_start = now;
        }
        if now >= end || report.requests >= load.max_requests || alive == 0 {
            break;
        }
        let next = if measuring { end } else { warm_end };
        let wait = timespec(next.saturating_duration_since(now).min(TICK));
        events.clear();
        match epoll::wait(&ep, spare_capacity(&mut events), Some(&wait)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e).context("epoll_wait"),
        }
        let now = Instant::now();
        for ev in &events {
            let (flags, i) = (ev.flags, ev.data.u64() as usize);
            let Some(c) = conns[i].as_mut() else { continue };
            let before = c.wants_write;
            let mut r = Ok(());
            if flags.intersects(EventFlags::IN | EventFlags::ERR | EventFlags::HUP) {
                r = c.read(&mut buf, table, |d| {
                    report.all_requests += u64::from(d.op);
                    if !measuring {
                        return;
                    }
                    if d.op {
                        report.requests += 1;
                        *(if d.get { &mut report.gets } else { &mut report.sets }) += 1;
                    }
                    if d.command {
                        hist.record(now.saturating_duration_since(d.at));
                    }
                });
            }
            if r.is_ok() {
                r = c.fill(load, table, now);
            }
            if r.is_ok() && c.wants_write != before {
                epoll::modify(
                    &ep,
                    &c.stream,
                    EventData::new_u64(i as u64),
                    interest(c.wants_write),
                )
                .context("epoll_ctl(MOD)")?;
            }
            if let Err(e) = r {
                fail(&mut report, &mut conns, i, e);
                alive -= 1;
            }
        }
    }
    if measuring {
        report.elapsed = measure_start.elapsed();
    } else {
        report.requests = 0;
    }
    report.p50 = hist.quantile(0.50);
    report.p99 = hist.quantile(0.99);
    Ok(report)
}

/// Reads exactly `want` from a blocking `stream` and checks it, before `deadline`.
fn expect(stream: &mut TcpStream, want: &[u8], deadline: Instant, what: &str) -> Result<()> {
    let mut got = vec![0u8; want.len()];
    let mut at = 0;
    while at < want.len() {
        ensure!(Instant::now() < deadline, "{what}: out of time");
        match stream.read(&mut got[at..]) {
            Ok(0) => bail!("{what}: the server closed the connection"),
            Ok(n) => {
                ensure!(
                    got[at..at + n] == want[at..at + n],
                    "{what}: expected {:?}, got {:?}",
                    show(&want[at..]),
                    show(&got[at..at + n])
                );
                at += n;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context(what.to_owned()),
        }
    }
    Ok(())
}

/// Stores keys `0..items.keys` over one connection in pipelined batches, then reads back every
/// 1,000th key; (stored, checked).
fn fill(addr: SocketAddr, items: &Items, limit: Duration) -> Result<(u32, u32)> {
    let deadline = Instant::now() + limit;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connect to {addr}"))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut out = Vec::new();
    let mut want = Vec::new();
    let mut first = 0u32;
    while first < items.keys {
        ensure!(Instant::now() < deadline, "filling: only {first} items stored in {limit:?}");
        let last = (first + FILL_BATCH as u32).min(items.keys);
        out.clear();
        for i in first..last {
            items.set_request(i, &mut out);
        }
        s.write_all(&out).context("filling: write")?;
        want.clear();
        want.extend(std::iter::repeat_n(STORED, (last - first) as usize).flatten());
        expect(&mut s, &want, deadline, &format!("filling keys {first}..{last}"))?;
        first = last;
    }
    let mut checked = 0;
    for i in (0..items.keys).step_by(1000) {
        out.clear();
        items.get_request(i, &mut out);
        s.write_all(&out).context("checking: write")?;
        want.clear();
        items.get_reply(i, &mut want);
        expect(&mut s, &want, deadline, &format!("reading back key #{i}"))?;
        checked += 1;
    }
    Ok((items.keys, checked))
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn main() -> Result<()> {
    let known = [
        "addr",
        "mode",
        "keys",
        "key-size",
        "value-size",
        "conns",
        "pipeline",
        "batch",
        "get-percent",
        "duration",
        "warmup",
        "max-requests",
        "preload",
        "fill-secs",
    ];
    let flags = Flags::parse(std::env::args().skip(1), &known)
        .map_err(|e| anyhow::anyhow!("{e}\n{USAGE}"))?;
    let addr: String = flags.get("addr", String::new())?;
    ensure!(!addr.is_empty(), "--addr is required\n{USAGE}");
    let addr: SocketAddr = addr.parse().map_err(|e| anyhow::anyhow!("--addr {addr:?}: {e}"))?;
    ensure!(addr.ip().is_loopback() && addr.port() != 0, "--addr must be a loopback address");
    let items = Items {
        keys: flags.get("keys", 10_000)?,
        key_size: flags.get("key-size", 0)?,
        value_size: flags.get("value-size", 100)?,
    };
    ensure!(items.keys > 0 && items.keys <= 100_000_000, "--keys must be 1..=100000000");
    ensure!(items.key_size <= 250, "--key-size must be at most 250 (memcached's limit)");
    ensure!(items.value_size <= 512 * 1024, "--value-size must be at most 512 KiB");
    let fill_limit = secs(flags.get("fill-secs", 120.0)?);
    let mode: String = flags.get("mode", "load".to_owned())?;
    match mode.as_str() {
        "fill" => {
            let t = Instant::now();
            let (stored, checked) = fill(addr, &items, fill_limit)?;
            let took = t.elapsed().as_secs_f64();
            println!(
                "mc-load fill {addr}: {stored} items stored, {checked} read back in {took:.2} s"
            );
            println!("{{\"stored\":{stored},\"checked\":{checked},\"secs\":{took:.3}}}");
        }
        "load" => {
            let load = Load {
                addr,
                conns: flags.get("conns", 50)?,
                depth: flags.get("pipeline", 1)?,
                batch: flags.get("batch", 0u8)? != 0,
                get_percent: flags.get("get-percent", 90)?,
                duration: secs(flags.get("duration", 5.0)?),
                warmup: secs(flags.get("warmup", 1.0)?),
                max_requests: flags.get("max-requests", 100_000_000)?,
            };
            ensure!((1..=10_000).contains(&load.conns), "--conns must be 1..=10000");
            ensure!((1..=MAX_DEPTH).contains(&load.depth), "--pipeline must be 1..={MAX_DEPTH}");
            ensure!(load.get_percent <= 100, "--get-percent must be 0..=100");
            ensure!(load.duration > Duration::ZERO, "--duration must be positive");
            if flags.get("preload", 1u8)? != 0 {
                fill(addr, &items, fill_limit).context("preloading")?;
            }
            let table = Table::new(&items);
            let r = run_load(&load, &table)?;
            let mut human = format!(
                "mc-load {addr} conns={} pipeline={}{} get%={}: {} operations ({} get, {} set) \
                 in {:.2?}: {:.0} ops/s, p50 {:.1?}, p99 {:.1?}, {} errors",
                load.conns,
                load.depth,
                if load.batch { " (batched)" } else { "" },
                load.get_percent,
                r.requests,
                r.gets,
                r.sets,
                r.elapsed,
                r.rps(),
                r.p50,
                r.p99,
                r.errors
            );
            if let Some(e) = &r.first_error {
                human.push_str(&format!(" (first: {e})"));
            }
            println!("{human}");
            println!(
                "{{\"rps\":{:.1},\"requests\":{},\"all_requests\":{},\"gets\":{},\"sets\":{},\
                 \"errors\":{},\"p50_us\":{:.1},\"p99_us\":{:.1}}}",
                r.rps(),
                r.requests,
                r.all_requests,
                r.gets,
                r.sets,
                r.errors,
                r.p50.as_nanos() as f64 / 1e3,
                r.p99.as_nanos() as f64 / 1e3
            );
            if r.errors > 0 {
                std::process::exit(1);
            }
        }
        other => bail!("--mode {other:?}: expected load or fill\n{USAGE}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies() {
        let items = Items { keys: 10, key_size: 16, value_size: 5 };
        let mut v = Vec::new();
        items.set_request(7, &mut v);
        assert_eq!(v, b"set key:00000007xxxx 7 0 5\r\nhijkl\r\n");
        v.clear();
        items.get_request(7, &mut v);
        assert_eq!(v, b"get key:00000007xxxx\r\n");
        v.clear();
        items.get_reply(7, &mut v);
        assert_eq!(v, b"VALUE key:00000007xxxx 7 5\r\nhijkl\r\nEND\r\n");
        let natural = Items { keys: 10, key_size: 0, value_size: 1 };
        v.clear();
        natural.key(3, &mut v);
        assert_eq!(v, b"key:00000003");
    }

    /// A fake server on a thread: answers `set` with `STORED` and `get` with the item stored,
    /// or with a wrong value when `lie` is set; replies go out one byte at a time every so
    /// often, so replies split across reads are exercised. Serves connections until dropped.
    fn fake(lie: bool) -> SocketAddr {
        use std::collections::HashMap;
        use std::io::{BufRead, BufReader};
        use std::sync::{Arc, Mutex};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let store: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        std::thread::spawn(move || {
            for (n, s) in l.incoming().flatten().enumerate() {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut w = s.try_clone().unwrap();
                    let mut r = BufReader::new(s);
                    let mut line = String::new();
                    while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                        let f: Vec<&str> = line.split_whitespace().collect();
                        let mut reply = Vec::new();
                        if f[0] == "set" {
                            let mut data = vec![0; f[4].parse::<usize>().unwrap() + 2];
                            r.read_exact(&mut data).unwrap();
                            let item = format!("VALUE {} {} {}\r\n", f[1], f[2], f[4]);
                            let mut item = item.into_bytes();
                            item.extend_from_slice(&data);
                            store.lock().unwrap().insert(f[1].to_owned(), item);
                            reply.extend_from_slice(STORED);
                        } else {
                            for key in &f[1..] {
                                let store = store.lock().unwrap();
                                let Some(item) = store.get(*key) else { continue };
                                reply.extend_from_slice(item);
                                if lie {
                                    let at = reply.len() - 3;
                                    reply[at] ^= 1;
                                }
                            }
                            reply.extend_from_slice(END);
                        }
                        let split = if n % 2 == 1 { 1 } else { reply.len() };
                        for chunk in reply.chunks(split) {
                            if w.write_all(chunk).is_err() {
                                return;
                            }
                        }
                        line.clear();
                    }
                });
            }
        });
        addr
    }

    fn quick_load(addr: SocketAddr, batch: bool) -> Load {
        Load {
            addr,
            conns: 3,
            depth: 4,
            batch,
            get_percent: 50,
            duration: Duration::from_millis(300),
            warmup: Duration::ZERO,
            max_requests: 2_000,
        }
    }

    #[test]
    fn fills_and_loads_a_correct_server() {
        let addr = fake(false);
        let items = Items { keys: 300, key_size: 64, value_size: 100 };
        assert_eq!(fill(addr, &items, Duration::from_secs(20)).unwrap(), (300, 1));
        for batch in [false, true] {
            let r = run_load(&quick_load(addr, batch), &Table::new(&items)).unwrap();
            assert_eq!(r.errors, 0, "{:?}", r.first_error);
            assert!(r.requests > 0 && r.gets > 0 && r.sets > 0, "{r:?}");
        }
    }

    #[test]
    fn catches_a_wrong_value() {
        let addr = fake(true);
        let items = Items { keys: 300, key_size: 0, value_size: 10 };
        let err = fill(addr, &items, Duration::from_secs(20)).unwrap_err();
        assert!(format!("{err:#}").contains("reading back key #0"), "{err:#}");
        for batch in [false, true] {
            let r = run_load(&quick_load(addr, batch), &Table::new(&items)).unwrap();
            assert_eq!(r.errors, 3, "{r:?}");
            assert!(r.first_error.as_deref().unwrap_or("").contains("get of key #"), "{r:?}");
        }
    }
}

//! `kv-diff`: the `kv` example in lockstep with a real `redis-server`. Sends the same seeded
//! random commands (every command kv supports, with edge arguments, errors and now and then an
//! inline command) to both, one at a time, and compares the replies byte for byte, except
//! where they differ by design (see [`commands::Compare`]): KEYS order, SCAN cursors (a full scan is
//! followed on each side and the key sets compared), RANDOMKEY's choice, TTLs read on two
//! clocks, INFO (only its keyspace counts), HELLO's server/version/id, CLIENT ID, CONFIG GET's
//! order. Prints every difference (up to `--show`) and a summary; exits non-zero on any.
//!
//! Not part of CI (it needs redis-server): run it by hand, e.g.
//! ```text
//! cargo build --example kv && cargo run -p ioman-bench --bin kv-diff -- \
//!     --kv-bin target/debug/examples/kv --count 60000 --seed 1
//! ```
//! It starts `redis-server --save '' --appendonly no` and the kv binary on free loopback ports
//! (or uses `--redis ADDR` / `--kv ADDR` already running), and stops what it started. Bounded:
//! `--count` commands, each answered within 10 s.
#![forbid(unsafe_code)]

mod commands;
mod resp;

use anyhow::{Context, Result, bail};
use commands::{Compare, Gen};
use ioman_bench::cli::Flags;
use resp::{Client, Reply};
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: kv-diff [--count 60000] [--seed 1] [--show 20] \
                     [--redis ADDR | --redis-bin redis-server] [--kv ADDR | --kv-bin PATH]";

/// A server this tool started, killed when dropped.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `program args` and waits until `addr` accepts connections.
fn start(program: &str, args: &[&str], addr: &str) -> Result<Started> {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let started = Started(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Client::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!("{program} did not listen on {addr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(started)
}

/// Shows bytes as an escaped string.
fn show(bytes: &[u8]) -> String {
    let text = bytes.escape_ascii().to_string();
    match text.char_indices().nth(400) {
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], bytes.len()),
        None => text,
    }
}

/// Whether every argument can go in an inline command as it is.
fn inline_safe(args: &[Vec<u8>]) -> bool {
    args.iter().all(|arg| {
        !arg.is_empty()
            && arg.len() < 100
            && arg.iter().all(|b| b.is_ascii_graphic() && !b"\"'\\".contains(b))
    })
}

/// Follows a SCAN from its first reply to cursor 0; the union of the keys.
fn scan_all(client: &mut Client, args: &[Vec<u8>], first: &Reply) -> Result<BTreeSet<Vec<u8>>> {
    let mut keys = BTreeSet::new();
    let mut reply = first.clone();
    for _ in 0..100_000 {
        let Reply::Array(Some(items)) = &reply else { bail!("SCAN reply {reply:?}") };
        let [Reply::Bulk(Some(cursor)), Reply::Array(Some(found))] = &items[..] else {
            bail!("SCAN reply {reply:?}")
        };
        for key in found {
            if let Reply::Bulk(Some(key)) = key {
                keys.insert(key.clone());
            }
        }
        if cursor == b"0" {
            return Ok(keys);
        }
        let mut next = args.to_vec();
        next[1] = cursor.clone();
        reply = client.call(&next, false)?.1;
    }
    bail!("SCAN did not end")
}

/// The keyspace counts of an INFO reply (`keys=N,expires=M`), if any.
fn info_counts(reply: &Reply) -> Option<String> {
    let Reply::Bulk(Some(text)) = reply else { return Some(format!("{reply:?}")) };
    let text = String::from_utf8_lossy(text);
    let line = text.lines().find(|line| line.starts_with("db0:"))?;
    Some(line.split(",avg_ttl").next().unwrap_or(line).to_owned())
}

/// HELLO's reply with the fields that differ by design masked.
fn mask_hello(reply: &Reply) -> Reply {
    let Reply::Array(Some(items)) = reply else { return reply.clone() };
    let mut items = items.clone();
    for i in (0..items.len().saturating_sub(1)).step_by(2) {
        if let Reply::Bulk(Some(field)) = &items[i]
            && [&b"server"[..], b"version", b"id"].contains(&&field[..])
        {
            items[i + 1] = Reply::Simple(b"masked".to_vec());
        }
    }
    Reply::Array(Some(items))
}

/// Field/value pairs, sorted.
fn pairs(reply: &Reply) -> Reply {
    let Reply::Array(Some(items)) = reply else { return reply.clone() };
    let mut chunks: Vec<_> = items.chunks(2).map(<[Reply]>::to_vec).collect();
    chunks.sort();
    Reply::Array(Some(chunks.concat()))
}

/// Whether the replies agree, following SCANs on both connections.
fn agree(
    compare: Compare,
    args: &[Vec<u8>],
    (kv_raw, kv): (&[u8], &Reply),
    (redis_raw, redis): (&[u8], &Reply),
    clients: (&mut Client, &mut Client),
) -> Result<bool> {
    if matches!(kv, Reply::Error(_)) || matches!(redis, Reply::Error(_)) {
        return Ok(kv_raw == redis_raw);
    }
    Ok(match compare {
        Compare::Exact => kv_raw == redis_raw,
        Compare::Sorted => {
            let sorted = |reply: &Reply| match reply {
                Reply::Array(Some(items)) => {
                    let mut items = items.clone();
                    items.sort();
                    Reply::Array(Some(items))
                }
                other => other.clone(),
            };
            sorted(kv) == sorted(redis)
        }
        Compare::Near(slack) => match (kv, redis) {
            (Reply::Integer(a), Reply::Integer(b)) if *a >= 0 && *b >= 0 => (a - b).abs() <= slack,
            _ => kv_raw == redis_raw,
        },
        Compare::NilOrNot => match (kv, redis) {
            (Reply::Bulk(a), Reply::Bulk(b)) => a.is_some() == b.is_some(),
            _ => false,
        },
        Compare::ScanAll => scan_all(clients.0, args, kv)? == scan_all(clients.1, args, redis)?,
        Compare::Info => info_counts(kv) == info_counts(redis),
        Compare::Hello => mask_hello(kv) == mask_hello(redis),
        Compare::AnyInteger => matches!((kv, redis), (Reply::Integer(_), Reply::Integer(_))),
        Compare::Pairs => pairs(kv) == pairs(redis),
        Compare::Float => kv_raw == redis_raw || near_floats(kv, redis),
    })
}

/// Whether Redis's float reply is one only a `long double` holds (beyond an `f64`'s range,
/// where kv answers that the value is not a valid float).
fn long_double_only(kv: &Reply, redis: &Reply) -> bool {
    let Reply::Bulk(Some(text)) = redis else { return false };
    let beyond = std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .is_some_and(|value| {
            value.is_infinite() || (value == 0.0 && text.iter().any(|b| (b'1'..=b'9').contains(b)))
        });
    beyond && *kv == Reply::Error(b"ERR value is not a valid float".to_vec())
}

/// Whether two bulk replies are floats within a relative 1e-13 of each other.
fn near_floats(kv: &Reply, redis: &Reply) -> bool {
    let float = |reply: &Reply| match reply {
        Reply::Bulk(Some(text)) => std::str::from_utf8(text).ok()?.parse::<f64>().ok(),
        _ => None,
    };
    match (float(kv), float(redis)) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-13 * a.abs().max(b.abs()),
        _ => false,
    }
}

fn main() -> Result<()> {
    let flags = Flags::parse(
        std::env::args().skip(1),
        &["count", "seed", "show", "redis", "redis-bin", "kv", "kv-bin"],
    )
    .context(USAGE)?;
    let count: u64 = flags.get("count", 60_000)?;
    let seed: u64 = flags.get("seed", 1)?;
    let show_max: usize = flags.get("show", 20)?;
    let mut started = Vec::new();
    let redis_addr = match flags.get("redis", String::new())? {
        addr if !addr.is_empty() => addr,
        _ => {
            let port = free_port()?.to_string();
            let program: String = flags.get("redis-bin", "redis-server".to_owned())?;
            let args = ["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
            let addr = format!("127.0.0.1:{port}");
            started.push(start(&program, &args, &addr)?);
            addr
        }
    };
    let kv_addr = match flags.get("kv", String::new())? {
        addr if !addr.is_empty() => addr,
        _ => {
            let program: String = flags.get("kv-bin", "target/debug/examples/kv".to_owned())?;
            let addr = format!("127.0.0.1:{}", free_port()?);
            started.push(start(&program, &["--listen", &addr], &addr)?);
            addr
        }
    };
    let (mut kv, mut redis) = (Client::connect(&kv_addr)?, Client::connect(&redis_addr)?);
    for client in [&mut kv, &mut redis] {
        client.call(&[b"FLUSHALL".to_vec()], false)?;
    }
    let mut source = Gen::new(seed);
    let mut per_command: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (mut differences, mut inline_sent, mut resynced) = (0u64, 0u64, 0u64);
    let began = Instant::now();
    for n in 0..count {
        let (args, compare) = source.command();
        let inline = inline_safe(&args) && source.rng().chance(10);
        if matches!(compare, Compare::Info) || args[0].eq_ignore_ascii_case(b"dbsize") {
            // Redis keeps a key SET with a past EXAT until its expire cycle, kv drops it at
            // once: a SCAN (which expires what it meets, in both) makes the counts comparable.
            let scan = [b"SCAN".to_vec(), b"0".to_vec(), b"COUNT".to_vec(), b"1000".to_vec()];
            for client in [&mut kv, &mut redis] {
                let first = client.call(&scan, false)?.1;
                scan_all(client, &scan, &first)?;
            }
        }
        inline_sent += u64::from(inline);
        let kv_reply =
            kv.call(&args, inline).with_context(|| format!("kv, command {n}: {args:?}"))?;
        let redis_reply =
            redis.call(&args, inline).with_context(|| format!("redis, command {n}"))?;
        let same = agree(
            compare,
            &args,
            (&kv_reply.0, &kv_reply.1),
            (&redis_reply.0, &redis_reply.1),
            (&mut kv, &mut redis),
        )?;
        let long_double =
            compare == Compare::Float && long_double_only(&kv_reply.1, &redis_reply.1);
        let same = same || long_double;
        if same && compare == Compare::Float && kv_reply.0 != redis_reply.0 {
            // Resynchronise: later commands must see the same bytes on both servers.
            if let Reply::Bulk(Some(value)) = &redis_reply.1 {
                let set = [b"SET".to_vec(), args[1].clone(), value.clone(), b"KEEPTTL".to_vec()];
                kv.call(&set, false)?;
                resynced += 1;
            }
        }
        let entry =
            per_command.entry(String::from_utf8_lossy(&args[0]).to_uppercase()).or_default();
        entry.0 += 1;
        if !same {
            entry.1 += 1;
            differences += 1;
            if differences <= show_max as u64 {
                let line: Vec<String> = args.iter().map(|arg| show(arg)).collect();
                println!("#{n} {}{}", line.join(" "), if inline { " (inline)" } else { "" });
                println!("  kv:    {}", show(&kv_reply.0));
                println!("  redis: {}", show(&redis_reply.0));
            }
        }
    }
    println!(
        "kv-diff: seed {seed}, {count} commands ({inline_sent} inline) in {:.1} s, {differences} \
         differences ({resynced} INCRBYFLOAT results within 1e-13 or beyond an f64 resynchronised)",
        began.elapsed().as_secs_f64()
    );
    for (command, (sent, differ)) in &per_command {
        println!("  {command:<12} {sent:>6} sent {differ:>5} differ");
    }
    drop(started);
    if differences > 0 {
        bail!("{differences} differences");
    }
    Ok(())
}

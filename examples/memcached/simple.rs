//! The commands of one line and one reply: `delete`, `incr`/`decr`, `touch`, `flush_all`,
//! `version`, `verbosity`, `stats` (with `settings`, `reset` and `cachedump`),
//! `cache_memlimit`, and `ERROR` for a command memcached does not know. None of them has a data
//! block or more than one reply line per item, so they need no state across calls.

use super::commands::Env;
use super::request::{self, BAD_FORMAT, Line, parse_i32, parse_u32, parse_u64};
use super::stats::{self, VERSION};
use super::store::{Cache, Delta, format_u64};
use ioman::net::Outbox;
use ioman::net::framing::Lines;
use std::time::Instant;

/// Runs the command of `tokens` (none of storage, retrieval or `quit`), appending its reply.
pub fn run(cache: &mut Cache, env: &Env, tokens: &Line<'_>, out: &mut Outbox) {
    let noreply = tokens.noreply();
    match tokens.get(0) {
        b"delete" | b"incr" | b"decr" | b"touch" => keyed(cache, env.now, tokens, out),
        b"flush_all" => flush_all(cache, env.now, tokens, out),
        b"stats" => stats(cache, env, tokens, out),
        b"version" => {
            let v = out.vec();
            v.extend_from_slice(b"VERSION ");
            v.extend_from_slice(VERSION.as_bytes());
            v.extend_from_slice(b"\r\n");
        }
        b"verbosity" => {
            let ok = parse_u32(tokens.get(1)).is_some();
            reply(out, noreply, if ok { "OK" } else { BAD_FORMAT });
        }
        b"cache_memlimit" => {
            let text = match parse_u32(tokens.get(1)) {
                None => "ERROR",
                Some(..8) => "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m",
                Some(1_000_000_001..) => {
                    "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes"
                }
                Some(mb) => {
                    cache.set_limit((mb as usize).saturating_mul(1024 * 1024));
                    "OK"
                }
            };
            reply(out, noreply, text);
        }
        _ => reply(out, false, "ERROR"),
    }
}

/// `flush_all [delay] [noreply]`: everything now, or everything stored before the delay ends
/// (relative seconds, or a Unix time beyond 30 days).
fn flush_all(cache: &mut Cache, now: Instant, tokens: &Line<'_>, out: &mut Outbox) {
    cache.counters.cmd_flush += 1;
    let noreply = tokens.noreply();
    let delay = match tokens.len() == 1 + usize::from(noreply) {
        true => Some(0),
        false => parse_i32(tokens.get(1)),
    };
    let Some(delay) = delay else {
        return reply(out, noreply, "CLIENT_ERROR invalid exptime argument");
    };
    let deadline = cache.clock().deadline(delay.max(0).into(), now);
    cache.flush(deadline, now);
    reply(out, noreply, "OK");
}

/// `stats`, `stats settings`, `stats reset`, `stats cachedump <class> <limit>`; `ERROR` for
/// other groups (memcached's `items`, `slabs`, ... describe its slab allocator).
fn stats(cache: &mut Cache, env: &Env, tokens: &Line<'_>, out: &mut Outbox) {
    match tokens.get(1) {
        b"" => stats::write_stats(out.vec(), cache, &env.conns, env.now),
        b"settings" => stats::write_settings(out.vec(), cache, &env.conns),
        b"reset" => {
            cache.counters = Default::default();
            reply(out, false, "RESET");
        }
        b"cachedump" => match (parse_u32(tokens.get(2)), parse_u32(tokens.get(3))) {
            _ if tokens.len() < 4 => reply(out, false, "CLIENT_ERROR bad command line"),
            (Some(class), Some(_)) if class >= 64 => {
                reply(out, false, "CLIENT_ERROR Illegal slab id");
            }
            (Some(class), Some(limit)) => stats::write_cachedump(out.vec(), cache, class, limit),
            _ => reply(out, false, BAD_FORMAT),
        },
        _ => reply(out, false, "ERROR"),
    }
}

/// `delete <key> [noreply]`, `incr|decr <key> <delta> [noreply]`, `touch <key> <exptime>
/// [noreply]`.
fn keyed(cache: &mut Cache, now: Instant, tokens: &Line<'_>, out: &mut Outbox) {
    let command = tokens.get(0);
    let key = tokens.get(1);
    let noreply = tokens.noreply();
    if tokens.len() < if command == b"delete" { 2 } else { 3 } {
        return reply(out, false, BAD_FORMAT);
    }
    if !request::valid_key(key) {
        return reply(out, noreply, BAD_FORMAT);
    }
    let text = match command {
        b"delete" if !delete_args_ok(tokens) => DELETE_USAGE,
        b"delete" => {
            let deleted = cache.delete(key, now);
            let c = &mut cache.counters;
            match deleted {
                true => (c.delete_hits += 1, "DELETED").1,
                false => (c.delete_misses += 1, "NOT_FOUND").1,
            }
        }
        b"touch" => {
            cache.counters.cmd_touch += 1;
            let Some(exptime) = parse_i32(tokens.get(2)) else {
                return reply(out, noreply, "CLIENT_ERROR invalid exptime argument");
            };
            let deadline = cache.clock().deadline(exptime.into(), now);
            let touched = cache.touch(key, deadline, now);
            let c = &mut cache.counters;
            match touched {
                true => (c.touch_hits += 1, "TOUCHED").1,
                false => (c.touch_misses += 1, "NOT_FOUND").1,
            }
        }
        _ => {
            let Some(delta) = parse_u64(tokens.get(2)) else {
                return reply(out, noreply, "CLIENT_ERROR invalid numeric delta argument");
            };
            let incr = command == b"incr";
            let result = cache.add_delta(key, incr, delta, now);
            let c = &mut cache.counters;
            let (hits, misses) = match incr {
                true => (&mut c.incr_hits, &mut c.incr_misses),
                false => (&mut c.decr_hits, &mut c.decr_misses),
            };
            match result {
                Delta::Value(value) => {
                    *hits += 1;
                    if !noreply {
                        let v = out.vec();
                        v.extend_from_slice(format_u64(value, &mut [0; 20]));
                        v.extend_from_slice(b"\r\n");
                    }
                    return;
                }
                Delta::NotFound => (*misses += 1, "NOT_FOUND").1,
                Delta::NonNumeric => "CLIENT_ERROR cannot increment or decrement non-numeric value",
            }
        }
    };
    reply(out, noreply, text);
}

/// memcached's answer to `delete` with arguments it does not take.
const DELETE_USAGE: &str = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";

/// Whether `delete <key> ...` has only what memcached 1.6 accepts after the key: nothing,
/// `noreply`, or the obsolete hold time `0` (with or without `noreply`).
fn delete_args_ok(tokens: &Line<'_>) -> bool {
    matches!(
        (tokens.len(), tokens.get(2), tokens.get(3)),
        (..=2, _, _) | (3, b"0" | b"noreply", _) | (4, b"0", b"noreply")
    )
}

/// Appends `text` and `\r\n`, unless `noreply`.
pub fn reply(out: &mut Outbox, noreply: bool, text: &str) {
    if !noreply {
        Lines::encode(text.as_bytes(), out);
    }
}

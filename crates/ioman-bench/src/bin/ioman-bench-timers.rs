//! `ioman-bench-timers`: what ioman's timers cost with a million of them, against the usual
//! alternative, a `BinaryHeap` timer queue with lazy deletion (the deadline of each timer kept
//! in a `Vec`; a heap entry whose deadline no longer matches is skipped when popped).
//!
//! Four operations, each in ns per operation, median of several runs: arm (a new timer),
//! reset to a later deadline (what an idle timeout does on every event), cancel, and expiry
//! (popping a due timer and calling its handler). Plus memory per timer: RSS growth over the
//! count, each side measured in a fresh child process (this binary re-run with
//! `--memory-child ioman|heap N`), since a process that freed memory reuses it.
//! ioman is driven through its public API with a manual clock, so its figures include the
//! slotmap, the handler box (a zero-sized handler allocates nothing) and dispatch.
#![forbid(unsafe_code)]

use anyhow::Result;
use ioman_bench::record::{Record, median, quick_flag, rss_bytes};
use ioman_core::{Config, Context, Handler, Key, Manager, ManualClock, Timeout, Timer};
use rustix::fd::BorrowedFd;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A timer handler that only counts.
struct Count;
impl Handler<u64> for Count {
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, u64>) {
        *cx.state() += 1;
    }
}

/// Nanoseconds per operation of `f` over `n` operations.
fn per_op(n: usize, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as f64 / n as f64
}

/// Spreads deadlines over 1..=60 s, deterministically.
fn secs(i: usize) -> Duration {
    Duration::from_millis(1000 + (i as u64 * 7919) % 59_000)
}

/// One ioman run: [arm, reset, cancel, expire] ns/op.
fn ioman_run(n: usize) -> Result<[f64; 4]> {
    let clock = ManualClock::new();
    let mut m: Manager<u64> = Manager::with_config(0, Config::default().clock(clock.clone()))?;
    let mut keys: Vec<Key> = Vec::with_capacity(n);
    let arm = per_op(n, || {
        for i in 0..n {
            keys.push(m.add_timer(Timer::once(secs(i)), Count).expect("add_timer"));
        }
    });
    let reset = per_op(n, || {
        for (i, k) in keys.iter().enumerate() {
            m.set_timeout(*k, Timeout::Idle(secs(i) + Duration::from_secs(60))).expect("reset");
        }
    });
    let cancelled = n / 2;
    let cancel = per_op(cancelled, || {
        for k in keys.iter().step_by(2) {
            m.close(*k).expect("close");
        }
    });
    clock.advance(Duration::from_secs(3600));
    let due = n - cancelled;
    let expire = per_op(due, || {
        m.turn(Some(Duration::ZERO)).expect("turn");
    });
    anyhow::ensure!(*m.state() == due as u64, "fired {} of {due}", m.state());
    Ok([arm, reset, cancel, expire])
}

/// One run of the `BinaryHeap` peer, the same operations.
fn heap_run(n: usize) -> Result<[f64; 4]> {
    let base = Instant::now();
    let mut heap: BinaryHeap<Reverse<(Instant, u32)>> = BinaryHeap::new();
    let mut deadline: Vec<Option<Instant>> = Vec::new();
    let arm = per_op(n, || {
        for i in 0..n {
            let at = base + secs(i);
            heap.push(Reverse((at, i as u32)));
            deadline.push(Some(at));
        }
    });
    let reset = per_op(n, || {
        for (i, d) in deadline.iter_mut().enumerate() {
            let at = base + secs(i) + Duration::from_secs(60);
            *d = Some(at);
            heap.push(Reverse((at, i as u32)));
        }
    });
    let cancelled = n / 2;
    let cancel = per_op(cancelled, || {
        for d in deadline.iter_mut().step_by(2) {
            *d = None;
        }
    });
    let now = base + Duration::from_secs(3600);
    let mut fired = 0u64;
    let due = n - cancelled;
    let expire = per_op(due, || {
        while let Some(&Reverse((at, id))) = heap.peek() {
            if at > now {
                break;
            }
            heap.pop();
            if deadline[id as usize] == Some(at) {
                deadline[id as usize] = None;
                fired += black_box(1);
            }
        }
    });
    anyhow::ensure!(fired == due as u64, "heap fired {fired} of {due}");
    Ok([arm, reset, cancel, expire])
}

/// In a fresh process: RSS growth per timer after arming `n` timers on one side.
fn memory_child(side: &str, n: usize) -> Result<()> {
    let rss0 = rss_bytes("self")?;
    let kept: Box<dyn std::any::Any> = match side {
        "ioman" => {
            let mut m: Manager<u64> = Manager::new()?;
            for i in 0..n {
                m.add_timer(Timer::once(secs(i)), Count)?;
            }
            Box::new(m)
        }
        _ => {
            let base = Instant::now();
            let mut heap: BinaryHeap<Reverse<(Instant, u32)>> = BinaryHeap::new();
            let mut deadline: Vec<Option<Instant>> = Vec::new();
            for i in 0..n {
                heap.push(Reverse((base + secs(i), i as u32)));
                deadline.push(Some(base + secs(i)));
            }
            Box::new((heap, deadline))
        }
    };
    let bytes = rss_bytes("self")?.saturating_sub(rss0) as f64 / n as f64;
    println!("{bytes}");
    drop(black_box(kept));
    Ok(())
}

/// Runs `memory_child` in a new process of this binary.
fn memory(side: &str, n: usize) -> Result<f64> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["--memory-child", side, &n.to_string()])
        .output()?;
    anyhow::ensure!(out.status.success(), "memory child failed: {out:?}");
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, side, n] = args.as_slice() {
        if flag == "--memory-child" {
            return memory_child(side, n.parse()?);
        }
    }
    let quick = quick_flag()?;
    let (n, runs) = if quick { (100_000, 3) } else { (1_000_000, 5) };
    println!("timers: {n} timers, {runs} runs each, alternating ioman and BinaryHeap");
    let mut ioman = vec![Vec::new(); 5];
    let mut heap = vec![Vec::new(); 5];
    for _ in 0..runs {
        let ops = ioman_run(n)?;
        for (i, v) in ops.into_iter().chain([memory("ioman", n)?]).enumerate() {
            ioman[i].push(v);
        }
        let ops = heap_run(n)?;
        for (i, v) in ops.into_iter().chain([memory("heap", n)?]).enumerate() {
            heap[i].push(v);
        }
    }
    let names =
        ["timer arm", "timer reset (later)", "timer cancel", "timer expiry", "timer memory"];
    for (i, name) in names.iter().enumerate() {
        let record = Record {
            name: format!("{name} ({n} timers)"),
            ioman: median(ioman[i].clone()),
            peer: median(heap[i].clone()),
            peer_name: "BinaryHeap (lazy deletion)".into(),
            unit: if i == 4 { "bytes/timer" } else { "ns/op" },
            lower_is_better: true,
            runs,
        };
        println!("{}", record.to_json());
    }
    Ok(())
}

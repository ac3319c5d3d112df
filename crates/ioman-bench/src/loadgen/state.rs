//! The loop-wide state of one load-generator run ([`Run`], the `S` of its
//! `Manager<Net<Run>>`) and the core timer that bounds it in time ([`Bounds`]).
//!
//! Every connection's protocol reaches the same [`Run`] through its context, so the
//! histogram, the counters, the phase and the limits live in one place and are updated with
//! plain field increments: nothing is shared between threads, nothing is locked.

use super::{Config, Report};
use crate::histogram::Histogram;
use crate::pattern::Pattern;
use ioman_core::{Context, Handler, Timeout};
use ioman_net::Net;
use rustix::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// What the connections of one run share.
pub(crate) struct Run {
    /// The bytes of every message.
    pub pattern: Pattern,
    /// The counts and the latency histogram.
    pub tally: Tally,
    conns: usize,
    connected: usize,
    alive: usize,
    warmup: Duration,
    duration: Duration,
    /// Why the run could not happen (connections not made in time), for `Err`.
    pub setup_failure: Option<String>,
}

/// Counts, the histogram and the phase: what every completed message updates.
pub(crate) struct Tally {
    hist: Histogram,
    messages: u64,
    all_messages: u64,
    errors: u64,
    first_error: Option<String>,
    measure_start: Option<Instant>,
    max_messages: u64,
    done: bool,
}

impl Tally {
    /// One message came back whole after `rtt`: counted always, measured after the warm-up;
    /// the run is done once `max_messages` were measured.
    #[inline]
    pub fn record(&mut self, rtt: Duration) {
        self.all_messages += 1;
        if self.measure_start.is_some() {
            self.messages += 1;
            self.hist.record(rtt);
            if self.messages >= self.max_messages {
                self.done = true;
            }
        }
    }

    /// Connection `id` failed: it counts once as an error, the first failure is kept.
    pub fn fail(&mut self, id: u64, why: impl std::fmt::Display) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| format!("connection {id}: {why}"));
    }

    /// The warm-up is over: from now on, messages are measured.
    fn start_measuring(&mut self, now: Instant) {
        self.hist.clear();
        self.messages = 0;
        self.measure_start = Some(now);
    }
}

impl Run {
    pub fn new(cfg: &Config) -> Run {
        Run {
            pattern: Pattern::new(cfg.size),
            tally: Tally {
                hist: Histogram::default(),
                messages: 0,
                all_messages: 0,
                errors: 0,
                first_error: None,
                measure_start: None,
                max_messages: cfg.max_messages,
                done: false,
            },
            conns: cfg.conns,
            connected: 0,
            alive: 0,
            warmup: cfg.warmup,
            duration: cfg.duration,
            setup_failure: None,
        }
    }

    /// Whether the run is over: time is up, enough messages were measured, every connection
    /// failed, or setup failed.
    pub fn is_done(&self) -> bool {
        self.tally.done
    }

    /// A connection is established. When it is the last one, the clock starts: this returns
    /// the timer for the caller to add — the warm-up's end, or, without a warm-up, the
    /// measured window's, which starts now. Connections that came up earlier already run,
    /// unmeasured, like the warm-up.
    pub fn connected(&mut self) -> Option<(Duration, Bounds)> {
        self.connected += 1;
        self.alive += 1;
        if self.connected < self.conns {
            return None;
        }
        Some(if self.warmup.is_zero() {
            self.tally.start_measuring(Instant::now());
            (self.duration, Bounds::Measuring)
        } else {
            (self.warmup, Bounds::WarmUp)
        })
    }

    /// The run cannot go on: it ends, and `run` reports `why` as an error.
    pub fn setup_failed(&mut self, why: String) {
        self.setup_failure.get_or_insert(why);
        self.tally.done = true;
    }

    /// An established connection ended; when none is left, the run is over.
    pub fn lost(&mut self) {
        self.alive = self.alive.saturating_sub(1);
        if self.alive == 0 && self.connected == self.conns {
            self.tally.done = true;
        }
    }

    /// What was measured, with the window ending `now`.
    pub fn report(&self, now: Instant) -> Report {
        let t = &self.tally;
        Report {
            messages: t.messages,
            all_messages: t.all_messages,
            elapsed: t.measure_start.map_or(Duration::ZERO, |s| now.saturating_duration_since(s)),
            errors: t.errors,
            first_error: t.first_error.clone(),
            p50: t.hist.quantile(0.50),
            p99: t.hist.quantile(0.99),
            cpu: crate::cpu::CpuTimes::own(),
        }
    }
}

/// The run's clock: a standalone core timer whose state is the phase it ends.
pub(crate) enum Bounds {
    /// Fires once the connect budget is spent: a run not fully connected by then fails.
    Connecting,
    /// Fires when the warm-up ends; re-arms itself for the measured window.
    WarmUp,
    /// Fires when the measured window ends.
    Measuring,
}

impl Handler<Net<Run>> for Bounds {
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<Run>>) {
        let run = cx.state().app_mut();
        match self {
            Bounds::Connecting => {
                if run.connected < run.conns && !run.tally.done {
                    let (n, of) = (run.connected, run.conns);
                    run.setup_failed(format!("connected only {n} of {of} connections in time"));
                }
                cx.close();
            }
            Bounds::WarmUp => {
                run.tally.start_measuring(Instant::now());
                let window = run.duration;
                *self = Bounds::Measuring;
                cx.set_timeout(Timeout::Idle(window));
            }
            Bounds::Measuring => {
                run.tally.done = true;
                cx.close();
            }
        }
    }
}

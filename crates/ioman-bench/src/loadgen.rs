//! The echo load generator as a library function, so the `loadgen` binary, `cargo xtask
//! bench` and the correctness tests run exactly the same code.
//!
//! It is written on ioman's own client side, so that the heaviest load the project has also
//! exercises it: one [`Manager`] with a [`Net`] loop state, one [`Connector`] per connection
//! (one round, [`Retry::once`](ioman_net::Retry::once)), and an [`EchoClient`]
//! [`Protocol`](ioman_net::Protocol) per connection that keeps `depth` messages in flight,
//! checks every echoed byte against the [`Pattern`](crate::pattern::Pattern) and records
//! each round trip in the loop-wide [`Histogram`](crate::histogram::Histogram). The run is
//! bounded twice: by time (a core timer ends the warm-up, then the measured window) and by
//! count (`max_messages` measured messages), and it also ends early if every connection
//! failed.
//!
//! The first generator, on plain rustix epoll, stays as [`loadgen_epoll`](crate::loadgen_epoll)
//! (binary `loadgen-epoll`), so the two can be compared (`cargo xtask bench --only loadgen`).

mod cmd;
mod conn;
mod state;

pub use cmd::command_line;
pub use conn::{ConnError, EchoClient};

use crate::cpu::CpuTimes;
use crate::pattern::MAX_DEPTH;
use anyhow::{Context, Result, anyhow, ensure};
use ioman_core::{Manager, Timeout, Timer};
use ioman_net::{ConnConfig, ConnectReport, Connector, Endpoint, Net};
use state::{Bounds, Run};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long connection setup may take in total before the run is abandoned.
const CONNECT_BUDGET: Duration = Duration::from_secs(20);
/// How long one connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The read buffer shared by every connection (one read per readiness event at most this).
const READ_BUF: usize = 64 * 1024;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The echo server; must be a loopback address.
    pub addr: SocketAddr,
    /// Number of connections.
    pub conns: usize,
    /// Bytes per message.
    pub size: usize,
    /// Messages kept in flight per connection (1..=250).
    pub depth: usize,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Unmeasured time first, so connections and caches settle.
    pub warmup: Duration,
    /// Stop once this many messages were measured.
    pub max_messages: u64,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Messages completed in the measured window.
    pub messages: u64,
    /// Messages completed in total, warm-up included (for CPU-per-message figures).
    pub all_messages: u64,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Connections that failed (corrupt echo, early close, i/o error).
    pub errors: u64,
    /// The first failure, for the human-readable line.
    pub first_error: Option<String>,
    /// Median round trip.
    pub p50: Duration,
    /// 99th-percentile round trip.
    pub p99: Duration,
    /// The generator's own CPU time at the end of the run (warm-up and connecting included).
    pub cpu: Option<CpuTimes>,
}

impl Report {
    /// Measured messages per second.
    pub fn msgs_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.messages as f64 / secs } else { 0.0 }
    }

    /// The generator's own CPU nanoseconds per message (user, system), over the whole run.
    pub fn cpu_per_message(&self) -> Option<(f64, f64)> {
        let cpu = self.cpu?;
        let n = self.all_messages as f64;
        (n > 0.0).then(|| (cpu.user.as_nanos() as f64 / n, cpu.system.as_nanos() as f64 / n))
    }

    /// The one-line JSON summary the harness parses.
    pub fn json(&self) -> String {
        let (user, system) = self.cpu_per_message().unwrap_or((f64::NAN, f64::NAN));
        format!(
            "{{\"msgs_per_sec\":{:.1},\"p50_us\":{:.1},\"p99_us\":{:.1},\"errors\":{},\
             \"messages\":{},\"all_messages\":{},\"client_user_ns\":{},\"client_sys_ns\":{}}}",
            self.msgs_per_sec(),
            self.p50.as_nanos() as f64 / 1e3,
            self.p99.as_nanos() as f64 / 1e3,
            self.errors,
            self.messages,
            self.all_messages,
            json_number(user),
            json_number(system),
        )
    }

    /// The one-line human summary.
    pub fn human(&self) -> String {
        let mut s = format!(
            "{} msgs in {:.2?}: {:.0} msgs/s, p50 {:.1?}, p99 {:.1?}, {} errors",
            self.messages,
            self.elapsed,
            self.msgs_per_sec(),
            self.p50,
            self.p99,
            self.errors
        );
        if let Some(e) = &self.first_error {
            s.push_str(&format!(" (first: {e})"));
        }
        s
    }
}

/// Refuses what no run should do: a non-loopback target, nothing to send, a pipeline deeper
/// than the pattern can police, no measured time. Shared with
/// [`loadgen_epoll`](crate::loadgen_epoll).
pub(crate) fn check(cfg: &Config) -> Result<()> {
    ensure!(cfg.addr.ip().is_loopback(), "loadgen only targets loopback, not {}", cfg.addr);
    ensure!(cfg.conns > 0 && cfg.size > 0, "need at least one connection and one byte");
    ensure!((1..=MAX_DEPTH).contains(&cfg.depth), "pipeline depth must be 1..={MAX_DEPTH}");
    ensure!(cfg.duration > Duration::ZERO, "duration must be positive");
    Ok(())
}

/// The connection settings of one run: flow control sized from the in-flight window.
///
/// A connection never has more than `depth × size` bytes queued (a message is queued only
/// when an earlier one came back whole), so with the high watermark above that, reading is
/// never paused by our own pipelining — pausing it could deadlock against a server that
/// stops reading while its replies are not read. The output cap is the same window (plus
/// the default cap's slack), so memory stays bounded by the configuration. No idle timeout:
/// the run's own time bound ends everything.
fn conn_config(cfg: &Config) -> ConnConfig {
    let window = cfg.depth.saturating_mul(cfg.size);
    let high = window.saturating_add(1);
    ConnConfig::default()
        .idle(Timeout::Never)
        .connect_timeout(CONNECT_TIMEOUT)
        .watermarks(high, high)
        .max_output(high.max(ConnConfig::default().high_water()).saturating_mul(2))
}

/// Runs the load described by `cfg` against an echo server and reports what it measured.
///
/// Verification failures are not an `Err`: they are counted in [`Report::errors`] (the
/// connection is closed, the others go on). `Err` means the run could not happen at all
/// (bad configuration, a connection that could not be made).
pub fn run(cfg: &Config) -> Result<Report> {
    check(cfg)?;
    let run = Run::new(cfg);
    let mut manager: Manager<Net<Run>> =
        Manager::with_state(Net::with_read_buffer(run, READ_BUF)).context("event loop")?;
    let config = Arc::new(conn_config(cfg));
    // Connect failures come from the connectors' reports (also those that fail before a
    // connection exists, such as a refused socket()).
    let refused: Rc<RefCell<Option<String>>> = Rc::default();
    for id in 0..cfg.conns as u64 {
        let (depth, refused) = (cfg.depth, refused.clone());
        let addr = cfg.addr;
        Connector::new(vec![Endpoint::Tcp(cfg.addr)], config.clone(), move || {
            EchoClient::new(id, depth)
        })
        .on_report(move |report| {
            if let ConnectReport::Failed { error, .. } = report {
                refused
                    .borrow_mut()
                    .get_or_insert_with(|| format!("connect #{id} to {addr}: {error}"));
            }
        })
        .start(&mut manager)
        .with_context(|| format!("connect #{id} to {}", cfg.addr))?;
    }
    manager.add_timer(Timer::once(CONNECT_BUDGET), Bounds::Connecting).context("timer")?;

    while !manager.state().app().is_done() {
        if let Some(e) = refused.borrow_mut().take() {
            return Err(anyhow!(e));
        }
        manager.turn(None).context("event loop turn")?;
    }
    if let Some(e) = refused.borrow_mut().take() {
        return Err(anyhow!(e));
    }
    let run = manager.state_mut().app_mut();
    if let Some(e) = run.setup_failure.take() {
        return Err(anyhow!(e));
    }
    Ok(run.report(Instant::now()))
}

/// A number for the JSON line: `null` when it is not finite (JSON has no NaN).
fn json_number(x: f64) -> String {
    if x.is_finite() { format!("{x:.1}") } else { "null".to_owned() }
}

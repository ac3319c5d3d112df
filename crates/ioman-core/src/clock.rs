//! [`Clock`]: where the manager reads "now". The real monotonic clock by default; a
//! [`ManualClock`] in tests, so that timeouts are tested by advancing time, not by sleeping.

use crate::timer_queue::{NEVER, Tick};
use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The manager's source of time.
///
/// During a turn the manager reads it at most once, when the turn first needs the time (after
/// `epoll_wait` returned); every deadline set during that turn counts from that reading
/// ([`Context::now`](crate::Context::now)). Calls made outside a turn (e.g.
/// [`Manager::add`](crate::Manager::add)) read it afresh.
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<ManualClock>,
}

impl Clock {
    /// The system's monotonic clock ([`Instant::now`]).
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        match &self.manual {
            None => Instant::now(),
            Some(m) => m.now(),
        }
    }

    /// Whether time only moves when a test says so. The manager then does not shorten its
    /// waits for timer deadlines (sleeping would not bring them closer): drive it with
    /// `turn(Some(Duration::ZERO))` after [`ManualClock::advance`].
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }
}

impl From<ManualClock> for Clock {
    fn from(m: ManualClock) -> Clock {
        Clock { manual: Some(m) }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::system()"),
            Some(m) => write!(f, "Clock::manual({:?})", m.elapsed()),
        }
    }
}

/// A clock that stands still until [`advance`](ManualClock::advance)d. Clones share one time,
/// so a test keeps a clone and moves the manager's time forward.
///
/// ```
/// use ioman::ManualClock;
/// use std::time::Duration;
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now() - t0, Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<Inner>,
}

struct Inner {
    base: Instant,
    offset_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock that starts at the current real time and then stands still.
    pub fn new() -> ManualClock {
        ManualClock {
            inner: Arc::new(Inner { base: Instant::now(), offset_nanos: AtomicU64::new(0) }),
        }
    }

    /// The clock's current time.
    pub fn now(&self) -> Instant {
        self.inner.base + self.elapsed()
    }

    /// Moves time forward by `by` (saturating after about 584 years).
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_add(nanos)));
    }

    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.inner.offset_nanos.load(Ordering::SeqCst))
    }
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManualClock(+{:?})", self.elapsed())
    }
}

/// The manager's view of time during a turn: "now" is read from the [`Clock`] the first time a
/// turn needs it (a deadline set or checked, [`Context::now`](crate::Context::now)) and reused
/// for the rest of the turn; outside a turn every reading is fresh. A turn that sets and checks
/// no deadline never reads the clock.
///
/// "Now" is kept as a [`Tick`] (nanoseconds since the manager was created), which is what
/// deadlines are made of. With the system clock a reading is `CLOCK_MONOTONIC` (the clock of
/// [`Instant`]) straight into nanoseconds; going through `Instant` and `Duration` cost about
/// 100 instructions more per reading (callgrind, an `echo` message per turn), most of it in
/// std's checked `Timespec` subtraction. An `Instant` is made only when one is asked for.
pub(crate) struct TurnTime {
    pub(crate) clock: Clock,
    /// The manager's creation, as an `Instant`...
    base: Instant,
    /// ...and as `CLOCK_MONOTONIC` nanoseconds (the system clock's ticks count from it).
    base_nanos: u64,
    now_tick: Cell<Tick>,
    read: Cell<bool>,
    in_turn: bool,
}

impl TurnTime {
    pub(crate) fn new(clock: Clock) -> TurnTime {
        let (base, base_nanos) = (clock.now(), monotonic_nanos());
        TurnTime {
            clock,
            base,
            base_nanos,
            now_tick: Cell::new(0),
            read: Cell::new(false),
            in_turn: false,
        }
    }

    /// "Now" as a tick: the turn's reading, or a fresh one outside a turn.
    #[inline]
    pub(crate) fn now_tick(&self) -> Tick {
        if self.in_turn && self.read.get() {
            return self.now_tick.get();
        }
        let now = self.read_tick();
        self.now_tick.set(now);
        self.read.set(self.in_turn);
        now
    }

    /// A fresh reading of the clock, as a tick.
    pub(crate) fn read_tick(&self) -> Tick {
        match &self.clock.manual {
            None => monotonic_nanos().saturating_sub(self.base_nanos),
            Some(m) => self.tick(m.now()),
        }
    }

    /// `d` after "now", as a tick ([`NEVER`] if beyond what a tick holds).
    pub(crate) fn after(&self, d: Duration) -> Tick {
        self.now_tick().saturating_add(nanos(d))
    }

    /// An instant as a tick (instants before the manager existed count as its start).
    pub(crate) fn tick(&self, t: Instant) -> Tick {
        u64::try_from(t.saturating_duration_since(self.base).as_nanos()).unwrap_or(NEVER)
    }

    /// The turn's "now" (or a fresh reading outside a turn) as an `Instant`.
    pub(crate) fn now(&self) -> Instant {
        let tick = self.now_tick();
        self.base.checked_add(Duration::from_nanos(tick)).unwrap_or(self.base)
    }

    /// A turn's dispatch starts: the next `now` is read afresh and then kept.
    pub(crate) fn begin_turn(&mut self) {
        self.in_turn = true;
        self.read.set(false);
    }

    pub(crate) fn end_turn(&mut self) {
        self.in_turn = false;
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds (the clock `Instant` reads on Linux).
fn monotonic_nanos() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let nsec = u64::try_from(t.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// A duration in nanoseconds, saturating at [`NEVER`] (584 years).
pub(crate) fn nanos(d: Duration) -> Tick {
    u64::try_from(d.as_nanos()).unwrap_or(NEVER)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The system clock's ticks are CLOCK_MONOTONIC read by rustix, not `Instant::now`: both
    // must be one clock, or deadlines and `Context::now` would drift from user `Instant`s.
    #[test]
    fn system_ticks_follow_instant() {
        let time = TurnTime::new(Clock::system());
        std::thread::sleep(Duration::from_millis(20));
        let before = Instant::now();
        let now = time.now();
        let after = Instant::now();
        // The base pair was read back to back (`Instant`, then rustix), so a tick can only be
        // behind by that gap; a second of slack is for a stalled test machine, not drift.
        assert!(now <= after, "{now:?} after {after:?}");
        assert!(now + Duration::from_secs(1) >= before, "{now:?} long before {before:?}");
        assert!(time.read_tick() >= 20_000_000, "20 ms passed since the base");
    }

    #[test]
    fn manual_ticks_are_offsets() {
        let clock = ManualClock::new();
        let time = TurnTime::new(clock.clone().into());
        assert_eq!(time.read_tick(), 0);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(time.read_tick(), 1_500_000_000);
        assert_eq!(time.now(), clock.now());
    }
}

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
/// It also converts between `Instant`s and the timer queue's [`Tick`]s (nanoseconds since the
/// manager was created).
pub(crate) struct TurnTime {
    pub(crate) clock: Clock,
    base: Instant,
    now: Cell<Instant>,
    /// `now` as a tick, computed with it.
    now_tick: Cell<Tick>,
    read: Cell<bool>,
    in_turn: bool,
}

impl TurnTime {
    pub(crate) fn new(clock: Clock) -> TurnTime {
        let base = clock.now();
        let (now, now_tick) = (Cell::new(base), Cell::new(0));
        TurnTime { clock, base, now, now_tick, read: Cell::new(false), in_turn: false }
    }

    /// "Now" as a tick.
    pub(crate) fn now_tick(&self) -> Tick {
        self.now();
        self.now_tick.get()
    }

    /// `d` after "now", as a tick ([`NEVER`] if beyond what a tick holds).
    pub(crate) fn after(&self, d: Duration) -> Tick {
        self.now_tick().saturating_add(nanos(d))
    }

    /// An instant as a tick (instants before the manager existed count as its start).
    pub(crate) fn tick(&self, t: Instant) -> Tick {
        u64::try_from(t.saturating_duration_since(self.base).as_nanos()).unwrap_or(NEVER)
    }

    /// The turn's "now" (or a fresh reading outside a turn).
    pub(crate) fn now(&self) -> Instant {
        if self.in_turn && self.read.get() {
            return self.now.get();
        }
        let now = self.clock.now();
        self.now.set(now);
        self.now_tick.set(self.tick(now));
        self.read.set(self.in_turn);
        now
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

/// A duration in nanoseconds, saturating at [`NEVER`] (584 years).
pub(crate) fn nanos(d: Duration) -> Tick {
    u64::try_from(d.as_nanos()).unwrap_or(NEVER)
}

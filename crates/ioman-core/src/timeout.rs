//! [`Timeout`] (a registration's idle timeout) and [`Timer`] (a standalone timer's schedule).
//! The seed's integer convention ("≤ 0: never", "0: keep") becomes explicit values here and
//! in [`Modify`](crate::Modify).

use crate::Error;
use std::time::Duration;

/// How long a registration may stay idle before its handler's `on_timeout` runs.
///
/// The deadline is *last activity + duration*, where activity is a dispatched `on_read` or
/// `on_write`, or setting the timeout itself. `Never` replaces the seed's "timeout ≤ 0".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Timeout {
    /// No timeout: `on_timeout` never runs for idleness.
    #[default]
    Never,
    /// Call `on_timeout` after this much time without activity. `Duration::ZERO` fires on the
    /// next turn, after that turn's I/O has been dispatched; it is never re-armed by itself.
    Idle(Duration),
}

impl Timeout {
    /// The idle duration, if any.
    pub fn duration(self) -> Option<Duration> {
        match self {
            Timeout::Never => None,
            Timeout::Idle(d) => Some(d),
        }
    }
}

impl From<Duration> for Timeout {
    fn from(d: Duration) -> Timeout {
        Timeout::Idle(d)
    }
}

impl From<Option<Duration>> for Timeout {
    fn from(d: Option<Duration>) -> Timeout {
        d.map_or(Timeout::Never, Timeout::Idle)
    }
}

/// When a standalone timer (a registration without an fd) fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    pub(crate) first: Duration,
    pub(crate) period: Option<Duration>,
}

impl Timer {
    /// Fire once, `after` from now. The registration stays (dormant) after firing unless the
    /// handler closes it; the default `on_timeout` does.
    pub fn once(after: Duration) -> Timer {
        Timer { first: after, period: None }
    }

    /// Fire every `period`, first one `period` from now. Ticks are scheduled from the previous
    /// deadline, not from when the handler ran, so they do not drift; ticks missed while the
    /// loop was busy are skipped, not fired in a burst.
    pub fn every(period: Duration) -> Timer {
        Timer { first: period, period: Some(period) }
    }

    /// The same schedule, with the first firing `after` from now.
    pub fn starting_after(self, after: Duration) -> Timer {
        Timer { first: after, ..self }
    }

    /// A zero period would fire on every turn and keep the loop from ever sleeping.
    pub(crate) fn validate(self) -> Result<Timer, Error> {
        match self.period {
            Some(p) if p.is_zero() => Err(Error::ZeroPeriod),
            _ => Ok(self),
        }
    }
}

//! Time as the memcached protocol sees it, without reading a clock: the cache is created with
//! an epoch (an `Instant` and the Unix time at that instant) and every operation is given
//! `now`, so tests pass explicit instants and the server passes the event loop's time.
//!
//! An expiration time from a client is relative seconds when it is at most 30 days, an
//! absolute Unix time beyond that, "never" when 0 and "already expired" when negative (as
//! protocol.txt says). It is kept as whole seconds since the epoch, rounded *up*: an item never
//! expires early, and at most one second late (memcached keeps whole seconds too, rounded the
//! other way: its items may expire up to a second early). An item stores it as a `u32`
//! [stamp](Clock::stamp), good for 136 years.

use std::time::{Duration, Instant, SystemTime};

/// The longest expiration time taken as relative seconds: 30 days.
pub const MAX_RELATIVE: i64 = 60 * 60 * 24 * 30;

/// When something given an expiration time expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// Never (expiration time 0).
    Never,
    /// At this many whole seconds after the epoch (never 0).
    At(u32),
    /// Already (a negative time, or an absolute time in the past).
    Past,
}

/// The mapping between the loop's `Instant`s, seconds since the epoch, and Unix time.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
    epoch_unix: Duration,
}

impl Clock {
    /// A clock whose epoch `epoch` was Unix time `epoch_unix` (since 1970-01-01).
    pub fn new(epoch: Instant, epoch_unix: Duration) -> Clock {
        Clock { epoch, epoch_unix }
    }

    /// A clock whose epoch `epoch` is now, by the system's wall clock.
    pub fn system(epoch: Instant) -> Clock {
        let unix = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        Clock::new(epoch, unix)
    }

    /// Time since the epoch (zero before it).
    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.epoch)
    }

    /// Whole seconds since the epoch (the `uptime` statistic).
    pub fn uptime(&self, now: Instant) -> u64 {
        self.elapsed(now).as_secs()
    }

    /// The Unix time at `now`, in whole seconds (the `time` statistic).
    pub fn unix_time(&self, now: Instant) -> u64 {
        (self.epoch_unix + self.elapsed(now)).as_secs()
    }

    /// When something given expiration time `exptime` at `now` expires.
    pub fn deadline(&self, exptime: i64, now: Instant) -> Deadline {
        let at = match exptime {
            0 => return Deadline::Never,
            ..0 => return Deadline::Past,
            1..=MAX_RELATIVE => self.elapsed(now) + Duration::from_secs(exptime.unsigned_abs()),
            _ => {
                let at = Duration::from_secs(exptime.unsigned_abs());
                match at.checked_sub(self.epoch_unix) {
                    Some(at) if at > self.elapsed(now) => at,
                    _ => return Deadline::Past,
                }
            }
        };
        let secs = at.as_secs() + u64::from(at.subsec_nanos() > 0);
        Deadline::At(u32::try_from(secs).unwrap_or(u32::MAX))
    }

    /// A deadline as an item stores it: 0 for never, 1 for already, else one more than its
    /// seconds since the epoch.
    pub fn stamp(deadline: Deadline) -> u32 {
        match deadline {
            Deadline::Never => 0,
            Deadline::Past => 1,
            Deadline::At(secs) => secs.saturating_add(1),
        }
    }

    /// Whether a [stamp](Self::stamp) has passed at `now`.
    pub fn is_due(&self, stamp: u32, now: Instant) -> bool {
        match stamp {
            0 => false,
            1 => true,
            _ => self.elapsed(now) >= Duration::from_secs(u64::from(stamp - 1)),
        }
    }

    /// The Unix time of a [stamp](Self::stamp), in whole seconds (0 for never).
    pub fn unix_of(&self, stamp: u32) -> u64 {
        match stamp.checked_sub(1) {
            None => 0,
            Some(secs) => self.epoch_unix.as_secs() + u64::from(secs),
        }
    }

    /// When a [stamp](Self::stamp) passes (`None`: never; the epoch for "already").
    pub fn expires_at(&self, stamp: u32) -> Option<Instant> {
        let secs = u64::from(stamp.checked_sub(1)?);
        self.epoch.checked_add(Duration::from_secs(secs))
    }
}

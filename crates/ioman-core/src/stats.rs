//! [`Stats`]: counters the manager keeps as plain integer increments, for users and tests to
//! read. Keeping them costs an add per event, nothing more.

/// What a manager has done since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live registrations (fds and timers) right now.
    pub registrations: usize,
    /// Completed turns (one `epoll_wait` each).
    pub turns: u64,
    /// Events delivered to a live registration.
    pub events_dispatched: u64,
    /// Events dropped because their registration was closed earlier in the same batch.
    pub stale_events: u64,
    /// `on_timeout` calls (idle timeouts and timers).
    pub timeouts_fired: u64,
    /// `on_wake` calls.
    pub wakes: u64,
    /// Handler or job panics caught; each cost only its own registration.
    pub panics_caught: u64,
    /// Closures posted through a [`Remote`](crate::Remote) that have run.
    pub jobs_run: u64,
}

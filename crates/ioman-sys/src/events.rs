//! [`Events`]: the buffer one [`Epoll::wait`](crate::Epoll::wait) fills. It is allocated once
//! and reused, so waiting allocates nothing.

use crate::Readiness;
use rustix::event::epoll;

/// A reusable buffer of `(token, readiness)` pairs reported by one wait.
pub struct Events {
    pub(crate) list: Vec<epoll::Event>,
}

impl Events {
    /// A buffer that can take up to `capacity` events per wait (at least 1).
    pub fn with_capacity(capacity: usize) -> Events {
        Events { list: Vec::with_capacity(capacity.max(1)) }
    }

    /// How many events the last wait reported.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the last wait reported nothing.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// How many events one wait can report.
    pub fn capacity(&self) -> usize {
        self.list.capacity()
    }

    /// The `i`-th event: its token (the `u64` given at registration) and readiness.
    pub fn get(&self, i: usize) -> Option<(u64, Readiness)> {
        self.list.get(i).map(pair)
    }

    /// Iterates over the events of the last wait (over the slice itself: no index checks).
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = (u64, Readiness)> + '_ {
        self.list.iter().map(pair)
    }
}

/// One event as `(token, readiness)`.
#[inline]
fn pair(e: &epoll::Event) -> (u64, Readiness) {
    let flags = e.flags;
    (e.data.u64(), Readiness::from_epoll(flags))
}

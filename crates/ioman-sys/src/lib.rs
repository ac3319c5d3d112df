//! `ioman-sys`: the thin, safe layer between ioman and the kernel.
//!
//! Everything here is a direct, documented wrapper over one Linux facility, written over
//! [`rustix`] so that no crate of ioman contains `unsafe` code:
//!
//! - [`Epoll`]: an epoll instance (`epoll_create1(EPOLL_CLOEXEC)`, `epoll_ctl`, `epoll_pwait`);
//! - [`Events`]: the reusable buffer that [`Epoll::wait`] fills;
//! - [`Interest`]: what a registration wants to hear about (never empty);
//! - [`Readiness`]: what the kernel reported for one fd;
//! - [`Waker`]: an `eventfd(2)` that wakes an epoll wait from any thread.
//!
//! Nothing protocol- or manager-specific lives here; `ioman-core` builds the manager on top.
//! Wait timeouts are rounded *up* to whole milliseconds: a wake-up is never early and a
//! sub-millisecond deadline never becomes a busy zero-timeout poll. (`epoll_pwait2` would give
//! nanoseconds, but needs Linux 5.11 and is not understood by valgrind 3.19, which the
//! benchmarks use to count instructions.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod epoll;
mod events;
mod interest;
mod readiness;
mod waker;

pub use epoll::Epoll;
pub use events::Events;
pub use interest::Interest;
pub use readiness::Readiness;
pub use waker::Waker;

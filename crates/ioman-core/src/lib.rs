//! `ioman-core`: the manager. One [`Manager`] owns every file descriptor a program registers,
//! waits on them with epoll and calls the right reaction of each registration's [`Handler`]:
//! `on_read`, `on_write`, `on_timeout`, `on_error`. The rest of the program never stores an fd,
//! never forgets to close one and never manages a timeout by hand.
//!
//! # From the seed's `IO_manager` to ioman
//! | seed (C++) | ioman |
//! |---|---|
//! | `IO_manager` singleton | [`Manager`], an owned value (one per thread if you like) |
//! | `interest_map` keyed by raw fd | a `SlotMap` keyed by [`Key`] (index + generation) |
//! | `add_interest_to_new_fd(fd, timeout, read, write, timeout, error)` | [`Manager::add`]`(fd, interest, timeout, handler)` |
//! | the four callbacks | the four methods of [`Handler`] |
//! | timeout `<= 0`: wait forever | [`Timeout::Never`] |
//! | `modify_interest_to_fd(fd, new_timeout, ...)` | [`Manager::modify`]`(key, Modify::new()...)` |
//! | new timeout `0`: keep the old one | leave [`Modify::timeout`] unset |
//! | `Close_fd(fd)` | [`Manager::close`]`(key)` or [`Context::close`] |
//!
//! # Guarantees
//! - An fd handed to the manager is closed exactly once: by [`Manager::close`], by the handler
//!   closing itself, after a terminal error or a panic, or when the manager is dropped. Close is
//!   always `EPOLL_CTL_DEL`, drop the handler, close the fd, in that order.
//! - An event whose registration was closed earlier in the same batch is dropped (and counted in
//!   [`Stats::stale_events`]), even if a new registration got the same fd number.
//! - Handlers may add, modify and close any registration, themselves included, while being
//!   called; [`Context`] documents when each change takes effect.
//! - Resetting an idle timeout is an O(1) store; timeouts fire in deadline order, never early,
//!   within one turn of being due.
//! - A panicking handler loses its own registration; the others keep being served.
//! - Hang-ups and errors go to `on_error` and then close the registration: they can never make
//!   the loop spin.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod context;
mod dispatch;
mod error;
mod handler;
mod key;
mod manager;
mod modify;
mod registry;
mod remote;
mod stats;
mod timeout;
mod timer_queue;
mod work;

pub use clock::{Clock, ManualClock};
pub use context::Context;
pub use error::{Error, Result};
pub use handler::{Boxed, Failure, Handler, IntoHandler, Unboxed};
pub use ioman_sys::{Interest, Readiness};
pub use key::Key;
pub use manager::{Config, Manager, PanicReport};
pub use modify::Modify;
pub use remote::Remote;
pub use stats::Stats;
pub use timeout::{Timeout, Timer};
pub use work::{WorkError, WorkPool};

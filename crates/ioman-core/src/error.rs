//! [`Error`]: everything a manager operation can refuse. Bad input is an error value, never a
//! panic.

use crate::Key;
use std::io;

/// Why a [`Manager`](crate::Manager) or [`Context`](crate::Context) operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key names no live registration: it was closed (perhaps twice), or came from another
    /// manager.
    #[error("no live registration has key {0:?} (already closed, or from another manager)")]
    UnknownKey(Key),
    /// epoll already watches this fd (`EEXIST`).
    #[error("the file descriptor is already registered with this manager")]
    AlreadyRegistered,
    /// epoll cannot watch this kind of fd (`EPERM`: a regular file or a directory).
    #[error(
        "the file descriptor cannot be polled (regular files and directories are always ready)"
    )]
    NotPollable,
    /// The operation needs an fd, but the key names a standalone timer.
    #[error("registration {0:?} is a timer and has no file descriptor")]
    NotAnFd(Key),
    /// A periodic timer with a zero period would keep the loop from ever sleeping.
    #[error("a periodic timer needs a non-zero period")]
    ZeroPeriod,
    /// The manager this remote handle belonged to has been dropped.
    #[error("the manager behind this remote handle is gone")]
    ManagerGone,
    /// The operating system refused a call.
    #[error("{call} failed")]
    Os {
        /// The system call that failed.
        call: &'static str,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
}

/// A `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn os(call: &'static str) -> impl FnOnce(rustix::io::Errno) -> Error {
        move |e| Error::Os { call, source: e.into() }
    }
}

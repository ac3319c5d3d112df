//! [`NetError`]: everything the networking layer can refuse. Bad input (an unparsable address,
//! a key that names no connection) is an error value, never a panic.

use ioman_core::Key;
use std::io;

/// Why an `ioman-net` operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The text is not an address this crate can listen on or connect to.
    #[error("invalid address {input:?}: {reason}")]
    BadAddress {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The operating system refused a call.
    #[error("{call} failed")]
    Os {
        /// The system call (and its subject, where useful).
        call: &'static str,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// The manager refused an operation (see [`ioman_core::Error`]).
    #[error(transparent)]
    Core(#[from] ioman_core::Error),
    /// The key names no live [`Connection`](crate::Connection) of this manager (it closed, or
    /// it is some other kind of registration).
    #[error("no live connection has key {0:?}")]
    Gone(Key),
    /// rustls refused a configuration or a session (see [`tls`](crate::tls)).
    #[cfg(feature = "tls")]
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// A loop thread of [`Loops`](crate::Loops) panicked.
    #[error("loop thread {0} panicked")]
    LoopPanicked(usize),
}

impl NetError {
    /// An [`Os`](NetError::Os) error maker for `map_err`.
    pub(crate) fn os(call: &'static str) -> impl FnOnce(rustix::io::Errno) -> NetError {
        move |e| NetError::Os { call, source: e.into() }
    }
}

//! [`Readiness`]: what the kernel reported for one fd in one wait, in words rather than bits.

use rustix::event::epoll::EventFlags;
use std::fmt;

/// The conditions epoll reported for one registration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Readiness(EventFlags);

impl Readiness {
    /// Wraps raw epoll flags.
    pub const fn from_epoll(flags: EventFlags) -> Readiness {
        Readiness(flags)
    }

    /// No condition at all.
    pub const fn empty() -> Readiness {
        Readiness(EventFlags::empty())
    }

    /// Data, end of stream or a connection can be read without blocking (`EPOLLIN`).
    pub fn is_readable(self) -> bool {
        self.0.contains(EventFlags::IN)
    }

    /// A write would not block (`EPOLLOUT`).
    pub fn is_writable(self) -> bool {
        self.0.contains(EventFlags::OUT)
    }

    /// The peer shut down its writing side: reads will reach end of stream (`EPOLLRDHUP`).
    pub fn is_read_closed(self) -> bool {
        self.0.contains(EventFlags::RDHUP)
    }

    /// Both directions are closed: the peer hung up (`EPOLLHUP`). Persistent.
    pub fn is_hup(self) -> bool {
        self.0.contains(EventFlags::HUP)
    }

    /// An error is pending on the fd (`EPOLLERR`).
    pub fn is_error(self) -> bool {
        self.0.contains(EventFlags::ERR)
    }

    /// Urgent (out-of-band) data is available (`EPOLLPRI`).
    pub fn is_priority(self) -> bool {
        self.0.contains(EventFlags::PRI)
    }

    /// The raw epoll flags.
    pub fn epoll_flags(self) -> EventFlags {
        self.0
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (self.is_readable(), "READABLE"),
            (self.is_writable(), "WRITABLE"),
            (self.is_read_closed(), "READ_CLOSED"),
            (self.is_hup(), "HUP"),
            (self.is_error(), "ERROR"),
            (self.is_priority(), "PRIORITY"),
        ];
        let mut list = f.debug_set();
        for (_, name) in names.iter().filter(|(on, _)| *on) {
            list.entry(&format_args!("{name}"));
        }
        list.finish()
    }
}

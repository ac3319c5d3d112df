//! [`Interest`]: the readiness a registration asks for. It cannot be empty, so "no interest" is
//! spelled `Option<Interest>::None` by the layers above, never as a zero bit set.

use rustix::event::epoll::EventFlags;
use std::fmt;
use std::ops::BitOr;

/// What a registration wants to be told about: readable, writable, or both.
///
/// Error and hang-up conditions are always reported by the kernel and need no interest.
/// Registrations are level-triggered: an fd that stays readable is reported on every wait
/// until it is drained or the interest is removed.
///
/// ```
/// use ioman_sys::Interest;
/// let both = Interest::READ | Interest::WRITE;
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both.remove(Interest::WRITE), Some(Interest::READ));
/// assert_eq!(Interest::READ.remove(Interest::READ), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(u8);

const R: u8 = 1;
const W: u8 = 2;

impl Interest {
    /// Readable: data (or end of stream, or a pending connection) can be read.
    pub const READ: Interest = Interest(R);
    /// Writable: a write would not block.
    pub const WRITE: Interest = Interest(W);
    /// Both readable and writable.
    pub const BOTH: Interest = Interest(R | W);

    /// Whether readability is wanted.
    pub const fn is_readable(self) -> bool {
        self.0 & R != 0
    }

    /// Whether writability is wanted.
    pub const fn is_writable(self) -> bool {
        self.0 & W != 0
    }

    /// The union of both interests.
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// This interest without `other`; `None` when nothing is left.
    pub const fn remove(self, other: Interest) -> Option<Interest> {
        match self.0 & !other.0 {
            0 => None,
            bits => Some(Interest(bits)),
        }
    }

    /// The epoll flags for this interest: level-triggered, with `EPOLLRDHUP` alongside reads so
    /// that a peer's half-close is visible.
    pub fn to_epoll(interest: Option<Interest>) -> EventFlags {
        let mut flags = EventFlags::empty();
        if let Some(i) = interest {
            if i.is_readable() {
                flags |= EventFlags::IN | EventFlags::RDHUP;
            }
            if i.is_writable() {
                flags |= EventFlags::OUT;
            }
        }
        flags
    }
}

impl BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        self.add(rhs)
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READ | WRITE"),
            (true, false) => f.write_str("READ"),
            _ => f.write_str("WRITE"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoll_flags_follow_interest() {
        assert_eq!(Interest::to_epoll(None), EventFlags::empty());
        assert!(
            Interest::to_epoll(Some(Interest::READ)).contains(EventFlags::IN | EventFlags::RDHUP)
        );
        assert!(!Interest::to_epoll(Some(Interest::READ)).contains(EventFlags::OUT));
        assert_eq!(Interest::to_epoll(Some(Interest::WRITE)), EventFlags::OUT);
    }

    #[test]
    fn remove_never_yields_empty() {
        assert_eq!(Interest::BOTH.remove(Interest::READ), Some(Interest::WRITE));
        assert_eq!(Interest::WRITE.remove(Interest::BOTH), None);
        assert_eq!(format!("{:?}", Interest::BOTH), "READ | WRITE");
    }
}

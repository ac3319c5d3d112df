//! [`Interest`]: the readiness a registration asks for. It cannot be empty, so "no interest" is
//! spelled `Option<Interest>::None` by the layers above, never as a zero bit set.

use rustix::event::epoll::EventFlags;
use std::fmt;
use std::num::NonZeroU8;
use std::ops::BitOr;

/// What a registration wants to be told about: readable, writable, or both; or, for a
/// registration that has stopped reading, only that its peer shut down its sending side
/// ([`READ_CLOSED`](Interest::READ_CLOSED)).
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
pub struct Interest(NonZeroU8);

const R: u8 = 1;
const W: u8 = 2;
const C: u8 = 4;

/// An interest from its bits; `bits` must not be zero (a compile-time error in the constants).
const fn bits(bits: u8) -> Interest {
    match NonZeroU8::new(bits) {
        Some(b) => Interest(b),
        None => panic!("an interest is never empty"),
    }
}

/// [`Interest::triggers`] for each combination of bits (index 0: no interest).
const TRIGGERS: [EventFlags; 8] = {
    let mut table = [EventFlags::empty(); 8];
    let mut i = 0;
    while i < 8 {
        let mut f = 0;
        if i as u8 & R != 0 {
            f |= EventFlags::IN.bits();
        }
        if i as u8 & W != 0 {
            f |= EventFlags::OUT.bits();
        }
        if i as u8 & C != 0 {
            f |= EventFlags::RDHUP.bits();
        }
        table[i] = EventFlags::from_bits_retain(f);
        i += 1;
    }
    table
};

impl Interest {
    /// Readable: data (or end of stream, or a pending connection) can be read.
    pub const READ: Interest = bits(R);
    /// Writable: a write would not block.
    pub const WRITE: Interest = bits(W);
    /// Both readable and writable.
    pub const BOTH: Interest = bits(R | W);
    /// Only the peer's half-close (`EPOLLRDHUP` without `EPOLLIN`): for a connection that has
    /// paused reading (backpressure) but must still learn that its peer finished sending. It
    /// is reported as readable, since a read would now reach end of stream after the data
    /// still buffered. Level-triggered like everything else: drop it once seen.
    pub const READ_CLOSED: Interest = bits(C);

    /// Whether readability is wanted.
    pub const fn is_readable(self) -> bool {
        self.0.get() & R != 0
    }

    /// Whether writability is wanted.
    pub const fn is_writable(self) -> bool {
        self.0.get() & W != 0
    }

    /// Whether the peer's half-close is wanted on its own ([`READ_CLOSED`](Self::READ_CLOSED));
    /// [`READ`](Self::READ) includes it anyway.
    pub const fn is_read_closed(self) -> bool {
        self.0.get() & C != 0
    }

    /// Whether `ready` is a reason to read for this interest: readable with
    /// [`READ`](Self::READ), or the peer's half-close with [`READ_CLOSED`](Self::READ_CLOSED).
    #[inline]
    pub fn wants_read(self, ready: crate::Readiness) -> bool {
        (self.is_readable() && ready.is_readable())
            || (self.is_read_closed() && ready.is_read_closed())
    }

    /// The union of both interests.
    pub const fn add(self, other: Interest) -> Interest {
        bits(self.0.get() | other.0.get())
    }

    /// This interest without `other`; `None` when nothing is left.
    pub const fn remove(self, other: Interest) -> Option<Interest> {
        match NonZeroU8::new(self.0.get() & !other.0.get()) {
            Some(b) => Some(Interest(b)),
            None => None,
        }
    }

    /// The readiness flags that call for a callback under `interest`: `EPOLLIN` for
    /// [`READ`](Self::READ), `EPOLLOUT` for [`WRITE`](Self::WRITE), `EPOLLRDHUP` for
    /// [`READ_CLOSED`](Self::READ_CLOSED); nothing for `None`. An event whose flags meet none
    /// of them (and carry no error or hang-up) calls nothing. One table lookup: the
    /// dispatcher asks this for every event.
    #[inline]
    pub fn triggers(interest: Option<Interest>) -> EventFlags {
        TRIGGERS[usize::from(interest.map_or(0, |i| i.0.get()) & (R | W | C))]
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
            if i.is_read_closed() {
                flags |= EventFlags::RDHUP;
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
        let names = [(R, "READ"), (W, "WRITE"), (C, "READ_CLOSED")];
        let mut first = true;
        for (bit, name) in names {
            if self.0.get() & bit != 0 {
                f.write_str(if first { "" } else { " | " })?;
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
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
        let closed = Interest::WRITE | Interest::READ_CLOSED;
        assert_eq!(Interest::to_epoll(Some(closed)), EventFlags::OUT | EventFlags::RDHUP);
    }

    #[test]
    fn read_closed_alone_reads_only_on_half_close() {
        use crate::Readiness;
        let fin = Readiness::from_epoll(EventFlags::IN | EventFlags::RDHUP);
        let data = Readiness::from_epoll(EventFlags::IN);
        assert!(Interest::READ_CLOSED.wants_read(fin));
        assert!(!Interest::READ_CLOSED.wants_read(data));
        assert!(Interest::READ.wants_read(data));
        assert_eq!(format!("{:?}", Interest::WRITE | Interest::READ_CLOSED), "WRITE | READ_CLOSED");
    }

    #[test]
    fn triggers_follow_interest() {
        use EventFlags as F;
        assert_eq!(Interest::triggers(None), F::empty());
        assert_eq!(Interest::triggers(Some(Interest::READ)), F::IN);
        assert_eq!(Interest::triggers(Some(Interest::BOTH)), F::IN | F::OUT);
        let closed = Interest::WRITE | Interest::READ_CLOSED;
        assert_eq!(Interest::triggers(Some(closed)), F::OUT | F::RDHUP);
        assert_eq!(std::mem::size_of::<Option<Interest>>(), 1);
    }

    #[test]
    fn remove_never_yields_empty() {
        assert_eq!(Interest::BOTH.remove(Interest::READ), Some(Interest::WRITE));
        assert_eq!(Interest::WRITE.remove(Interest::BOTH), None);
        assert_eq!(format!("{:?}", Interest::BOTH), "READ | WRITE");
    }
}

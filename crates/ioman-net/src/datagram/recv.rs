//! Receiving a batch: `recvmmsg` through nix's safe wrapper (rustix 1.1 has `sendmmsg` but no
//! `recvmmsg`). Each datagram lands in its own slot of the loop's receive buffer; what comes
//! back per datagram is its real size (asked with `MSG_TRUNC`, so a datagram longer than its
//! slot is known as such), whether it was cut, and its sender.

use crate::DatagramAddr;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::io::Errno;
use std::io::IoSliceMut;

/// One datagram of a batch, in slot `index` of the buffer.
pub(crate) struct Received {
    /// Its size as sent (larger than the slot if it was truncated).
    pub(crate) size: usize,
    pub(crate) truncated: bool,
    pub(crate) from: DatagramAddr,
}

/// The `mmsghdr`s and address slots of one socket (a few KiB, not the data buffer).
pub(crate) struct Receiver {
    headers: MultiHeaders<SockaddrStorage>,
    batch: usize,
    /// Unix senders' addresses vary in length, and the kernel shortens each header's
    /// `msg_namelen` to the address it wrote, which nix does not reset: a Unix socket gets
    /// fresh headers for every call, or a long path after a short one would be cut.
    fresh: bool,
}

impl Receiver {
    pub(crate) fn new(batch: usize, unix: bool) -> Receiver {
        Receiver { headers: MultiHeaders::preallocate(batch, None), batch, fresh: unix }
    }

    /// Receives up to `want` (at most the batch) datagrams into consecutive `slot`-byte
    /// slots of `buf`, appending what arrived to `into`. `Ok(n)`: `n` datagrams (0 never:
    /// an empty socket is `Err(AGAIN)`).
    pub(crate) fn receive(
        &mut self,
        fd: BorrowedFd<'_>,
        buf: &mut [u8],
        slot: usize,
        want: usize,
        into: &mut Vec<Received>,
    ) -> Result<usize, Errno> {
        if self.fresh {
            self.headers = MultiHeaders::preallocate(self.batch, None);
        }
        let want = want.min(self.batch).min(buf.len() / slot);
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
            buf.chunks_mut(slot).take(want).map(|s| [IoSliceMut::new(s)]).collect();
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC;
        let results = recvmmsg(fd.as_raw_fd(), &mut self.headers, iovs.iter_mut(), flags, None)
            .map_err(|e| Errno::from_raw_os_error(e as i32))?;
        let before = into.len();
        for msg in results {
            into.push(Received {
                size: msg.bytes,
                truncated: msg.flags.contains(MsgFlags::MSG_TRUNC) || msg.bytes > slot,
                from: DatagramAddr::from_storage(msg.address.as_ref()),
            });
        }
        Ok(into.len() - before)
    }
}

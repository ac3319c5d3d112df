//! Receiving a batch: `recvmmsg` through nix's safe wrapper (rustix 1.1 has `sendmmsg` but no
//! `recvmmsg`). Each datagram lands in its own slot of the loop's receive buffer; what comes
//! back per datagram is its real size (asked with `MSG_TRUNC`, so a datagram longer than its
//! slot is known as such), whether it was cut, and its sender.

use crate::DatagramAddr;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, UnixAddr, recvmmsg};
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
pub(crate) enum Receiver {
    /// UDP: every sender's address has the socket family's one length, so the headers are
    /// reused from call to call.
    Ip(MultiHeaders<SockaddrStorage>, usize),
    /// Unix: nix's `SockaddrStorage` cannot carry a Unix address's length, so these use
    /// `UnixAddr`. Senders' addresses vary in length and the kernel shortens each header's
    /// `msg_namelen` to the address it wrote, which nix does not reset: fresh headers for
    /// every call, or a long path after a short one would be cut.
    Unix(usize),
}

impl Receiver {
    pub(crate) fn new(batch: usize, unix: bool) -> Receiver {
        if unix {
            Receiver::Unix(batch)
        } else {
            Receiver::Ip(MultiHeaders::preallocate(batch, None), batch)
        }
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
        let batch = match self {
            Receiver::Ip(_, batch) | Receiver::Unix(batch) => *batch,
        };
        let want = want.min(batch).min(buf.len() / slot);
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
            buf.chunks_mut(slot).take(want).map(|s| [IoSliceMut::new(s)]).collect();
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC;
        let fd = fd.as_raw_fd();
        let errno = |e: nix::errno::Errno| Errno::from_raw_os_error(e as i32);
        let before = into.len();
        let mut push = |bytes: usize, flags: MsgFlags, from: DatagramAddr| {
            into.push(Received {
                size: bytes,
                truncated: flags.contains(MsgFlags::MSG_TRUNC) || bytes > slot,
                from,
            })
        };
        match self {
            Receiver::Ip(headers, _) => {
                for msg in recvmmsg(fd, headers, iovs.iter_mut(), flags, None).map_err(errno)? {
                    push(msg.bytes, msg.flags, DatagramAddr::from_storage(msg.address.as_ref()));
                }
            }
            Receiver::Unix(_) => {
                let mut headers = MultiHeaders::<UnixAddr>::preallocate(batch, None);
                for msg in
                    recvmmsg(fd, &mut headers, iovs.iter_mut(), flags, None).map_err(errno)?
                {
                    push(msg.bytes, msg.flags, DatagramAddr::from_unix(msg.address.as_ref()));
                }
            }
        }
        Ok(into.len() - before)
    }
}

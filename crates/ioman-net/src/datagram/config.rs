//! [`DatagramConfig`]: the knobs of a datagram socket. Each bounds something: datagrams per
//! system call, datagrams per readiness event, bytes of one datagram, bytes and datagrams
//! queued for sending.

use std::time::Duration;

/// How a [`DatagramSocket`](crate::DatagramSocket) receives, queues and sends.
///
/// # Memory
/// Receiving needs `batch × max_datagram` bytes of buffer (`recvmmsg` fills one slot per
/// datagram). That buffer belongs to the loop ([`Net`](crate::Net)), not to each socket: it
/// is allocated on the first receive and shared by every datagram socket of the loop (grown to
/// the largest configuration among them). With the defaults it is 32 × 64 KiB = 2 MiB of
/// address space, of which only the pages datagrams actually filled become resident (the
/// buffer is zero-allocated, so small datagrams touch the first page of each slot only).
/// Lower `max_datagram` for a protocol whose datagrams are small (DNS: 512 or 1232; QUIC:
/// 1500): larger ones are then reported as truncated. The send queue holds at most
/// `max_queue_bytes` (plus one datagram's bookkeeping per entry, at most
/// `max_queue_datagrams` of them).
///
/// ```
/// use ioman::net::DatagramConfig;
/// let cfg = DatagramConfig::default().batch(16).max_datagram(1500).queue(64 * 1024, 256);
/// assert_eq!(cfg.receive_buffer(), 16 * 1500);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatagramConfig {
    pub(crate) batch: usize,
    pub(crate) read_budget: usize,
    pub(crate) send_budget: usize,
    pub(crate) max_datagram: usize,
    pub(crate) max_queue_bytes: usize,
    pub(crate) max_queue_datagrams: usize,
    pub(crate) high_water: usize,
    pub(crate) low_water: usize,
    pub(crate) retry: Duration,
}

impl Default for DatagramConfig {
    /// Batches of 32 datagrams per system call; at most 64 datagrams received and 256 sent per
    /// readiness event; datagrams up to 64 KiB (every UDP datagram: 65,507 bytes of IPv4
    /// payload); a send queue of at most 1 MiB and 4096 datagrams; reading pauses above
    /// 256 KiB queued and resumes at 64 KiB; a Unix destination that is full is retried after
    /// 5 ms.
    fn default() -> DatagramConfig {
        DatagramConfig {
            batch: 32,
            read_budget: 64,
            send_budget: 256,
            max_datagram: 64 * 1024,
            max_queue_bytes: 1024 * 1024,
            max_queue_datagrams: 4096,
            high_water: 256 * 1024,
            low_water: 64 * 1024,
            retry: Duration::from_millis(5),
        }
    }
}

impl DatagramConfig {
    /// Datagrams per `recvmmsg`/`sendmmsg` call (1 to 1024; default 32).
    pub fn batch(mut self, n: usize) -> DatagramConfig {
        self.batch = n.clamp(1, 1024);
        self
    }

    /// The most datagrams received per readiness event (at least 1; default 64). A socket
    /// that floods gets no more than this per turn; level-triggered epoll reports it again
    /// in the next turn, after the other registrations were served.
    pub fn read_budget(mut self, n: usize) -> DatagramConfig {
        self.read_budget = n.max(1);
        self
    }

    /// The most datagrams sent per readiness event (at least 1; default 256); the rest waits
    /// for the next writable event.
    pub fn send_budget(mut self, n: usize) -> DatagramConfig {
        self.send_budget = n.max(1);
        self
    }

    /// The largest datagram received whole (16 bytes to 16 MiB; default 64 KiB). A longer one
    /// is cut by the kernel: it is reported to
    /// [`Datagram::on_truncated`](crate::Datagram::on_truncated), never delivered as if whole.
    pub fn max_datagram(mut self, bytes: usize) -> DatagramConfig {
        self.max_datagram = bytes.clamp(16, 16 << 20);
        self
    }

    /// The send queue's cap: at most `bytes` and `datagrams` queued (at least 1 each).
    /// Watermarks that no longer fit are lowered to a quarter and a sixteenth of `bytes`.
    pub fn queue(mut self, bytes: usize, datagrams: usize) -> DatagramConfig {
        self.max_queue_bytes = bytes.max(1);
        self.max_queue_datagrams = datagrams.max(1);
        if self.high_water > self.max_queue_bytes {
            self.high_water = self.max_queue_bytes / 4;
            self.low_water = self.max_queue_bytes / 16;
        }
        self
    }

    /// Reading pauses while more than `high` bytes are queued for sending, and resumes once
    /// the queue is down to `low` (`low` is clamped to at most `high`; `high` to the cap).
    pub fn watermarks(mut self, low: usize, high: usize) -> DatagramConfig {
        self.high_water = high.min(self.max_queue_bytes);
        self.low_water = low.min(self.high_water);
        self
    }

    /// How long to wait before sending again to a Unix datagram socket whose queue was full
    /// (`EAGAIN`; epoll cannot tell when an unconnected destination has room). At least 1 ms.
    pub fn retry_after(mut self, after: Duration) -> DatagramConfig {
        self.retry = after.max(Duration::from_millis(1));
        self
    }

    /// The receive buffer this configuration needs: `batch × max_datagram` bytes.
    pub fn receive_buffer(&self) -> usize {
        self.batch * self.max_datagram
    }

    /// The high watermark of the send queue, in bytes.
    pub fn high_water(&self) -> usize {
        self.high_water
    }
}

//! [`EchoClient`]: one load-generator connection as an ioman [`Protocol`]. It keeps `depth`
//! messages in flight (queued in the outbox when connected, one more each time one comes
//! back whole), checks every echoed byte against the [`Pattern`](crate::pattern::Pattern),
//! and records each round trip in the run's histogram.
//!
//! A connection never allocates after it is built: messages are copied from the shared
//! pattern into the outbox, and send times live in a ring of `depth` slots.

use super::state::Run;
use ioman_core::Timer;
use ioman_net::{CloseReason, Outbox, ProtoContext, Protocol};
use std::time::Instant;

/// Why a connection stopped counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnError {
    /// An echoed byte differed from the byte sent at that position.
    Corrupt {
        /// Message sequence number on this connection.
        seq: u64,
        /// Offset of the first wrong byte inside that message.
        offset: usize,
        /// The byte expected there.
        want: u8,
        /// The byte received.
        got: u8,
    },
    /// The server sent back more bytes than were sent to it.
    TooMuch,
    /// The server closed the connection while messages were in flight.
    Eof,
    /// The connection ended otherwise (a reset, an i/o error, a hang-up), as ioman told it.
    Closed(String),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Corrupt { seq, offset, want, got } => {
                write!(f, "message {seq} byte {offset}: sent {want:#04x}, echoed {got:#04x}")
            }
            ConnError::TooMuch => f.write_str("server echoed more bytes than were sent"),
            ConnError::Eof => f.write_str("server closed the connection"),
            ConnError::Closed(why) => write!(f, "connection ended: {why}"),
        }
    }
}

/// One client connection and its progress (see the module docs).
///
/// Sequence numbers: messages `0..queued` were handed to the outbox, message `received` is
/// the one being echoed, `received_off` of its bytes already checked. Send times are
/// stamped when a message is queued (the connection writes it when the hook returns), so a
/// round trip includes any wait in our own outbox.
#[derive(Debug)]
pub struct EchoClient {
    id: u64,
    depth: u64,
    queued: u64,
    received: u64,
    received_off: usize,
    sent_at: Vec<Instant>,
    connected: bool,
    failed: bool,
}

impl EchoClient {
    /// Connection `id` (which picks its pattern offset), with `depth` messages in flight.
    pub fn new(id: u64, depth: usize) -> EchoClient {
        EchoClient {
            id,
            depth: depth.max(1) as u64,
            queued: 0,
            received: 0,
            received_off: 0,
            sent_at: vec![Instant::now(); depth.max(1)],
            connected: false,
            failed: false,
        }
    }

    /// Counts this connection as failed (once) and closes it.
    fn fail(&mut self, why: ConnError, cx: &mut ProtoContext<'_, Run>) {
        if !self.failed {
            self.failed = true;
            cx.state().tally.fail(self.id, why);
        }
        cx.close();
    }

    /// Checks `input` (everything received and not yet checked) and queues one new message
    /// per message completed.
    fn check(&mut self, input: &[u8], out: &mut Outbox, run: &mut Run) -> Result<(), ConnError> {
        let size = run.pattern.size();
        let in_flight = (self.queued - self.received) * size as u64 - self.received_off as u64;
        if input.len() as u64 > in_flight {
            return Err(ConnError::TooMuch);
        }
        let now = Instant::now();
        let mut rest = input;
        while !rest.is_empty() {
            let want = &run.pattern.message(self.id, self.received)[self.received_off..];
            let take = want.len().min(rest.len());
            if rest[..take] != want[..take] {
                let i = (0..take).find(|&i| rest[i] != want[i]).unwrap_or(0);
                return Err(ConnError::Corrupt {
                    seq: self.received,
                    offset: self.received_off + i,
                    want: want[i],
                    got: rest[i],
                });
            }
            rest = &rest[take..];
            self.received_off += take;
            if self.received_off == size {
                let slot = (self.received % self.depth) as usize;
                run.tally.record(now.saturating_duration_since(self.sent_at[slot]));
                self.received += 1;
                self.received_off = 0;
                self.queue(out, run, now); // reuses the slot just freed
            }
        }
        Ok(())
    }

    /// Queues the next message and stamps its send time.
    fn queue(&mut self, out: &mut Outbox, run: &Run, now: Instant) {
        out.extend_from_slice(run.pattern.message(self.id, self.queued));
        self.sent_at[(self.queued % self.depth) as usize] = now;
        self.queued += 1;
    }
}

impl Protocol<Run> for EchoClient {
    /// Fills the pipeline and tells the run one more connection is up.
    fn on_connected(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, Run>) {
        self.connected = true;
        let now = Instant::now();
        let run = cx.state();
        while self.queued < self.depth {
            self.queue(out, run, now);
        }
        if let Some((after, bounds)) = run.connected() {
            if let Err(e) = cx.context().add_timer(Timer::once(after), bounds) {
                cx.state().setup_failed(format!("run timer: {e}"));
            }
        }
    }

    fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, Run>) -> usize {
        if self.failed {
            return input.len();
        }
        if let Err(e) = self.check(input, out, cx.state()) {
            self.fail(e, cx);
        }
        input.len()
    }

    /// The server closed its side with messages in flight (there always are some).
    fn on_eof(&mut self, _out: &mut Outbox, cx: &mut ProtoContext<'_, Run>) {
        self.fail(ConnError::Eof, cx);
    }

    /// Any other end (a reset, an error, a hang-up) also counts as this connection's failure.
    fn on_close(&mut self, reason: &CloseReason, cx: &mut ProtoContext<'_, Run>) {
        if !self.connected {
            return; // a failed connect: the connector reports it, and the run fails
        }
        if !self.failed {
            self.failed = true;
            cx.state().tally.fail(self.id, ConnError::Closed(format!("{reason:?}")));
        }
        cx.state().lost();
    }
}

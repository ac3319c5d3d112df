//! [`DatagramContext`]: what a [`Datagram`](crate::Datagram) hook can do besides queueing
//! datagrams — reach the application state, pause or resume receiving, close its socket, read
//! its counters. It wraps the manager's [`Context`], which stays available for anything else.

use crate::{DatagramAddr, DatagramStats, Net};
use ioman_core::{Context, Key};
use std::time::Instant;

/// What the protocol asked of its socket during a hook, applied when the hook returns.
#[derive(Default)]
pub(crate) struct Control {
    pub(crate) paused: bool,
    pub(crate) close: bool,
}

/// The handle every [`Datagram`](crate::Datagram) hook gets.
pub struct DatagramContext<'a, S: 'static = ()> {
    pub(crate) cx: Context<'a, Net<S>>,
    pub(crate) control: &'a mut Control,
    pub(crate) stats: &'a DatagramStats,
    pub(crate) peer: Option<&'a DatagramAddr>,
}

impl<'a, S: 'static> DatagramContext<'a, S> {
    /// This socket's key in the manager.
    pub fn key(&self) -> Key {
        self.cx.key()
    }

    /// The application state of the loop.
    pub fn state(&mut self) -> &mut S {
        self.cx.state().app_mut()
    }

    /// The loop-wide state (counters, connections).
    pub fn net(&mut self) -> &mut Net<S> {
        self.cx.state()
    }

    /// This turn's time (the manager's clock: a `ManualClock` in tests).
    pub fn now(&self) -> Instant {
        self.cx.now()
    }

    /// This socket's counters, up to the datagram being handled.
    pub fn stats(&self) -> DatagramStats {
        *self.stats
    }

    /// The peer of a connected socket (see [`connect_datagram`](crate::connect_datagram)).
    pub fn peer(&self) -> Option<&DatagramAddr> {
        self.peer
    }

    /// Stops receiving when this hook returns (the kernel queues what arrives, up to its
    /// receive buffer, then drops). Datagrams already received in this batch are still
    /// delivered. Resume from a later hook: `on_room`, `on_send_error`, or `on_wake` (wake the
    /// socket's key from another registration or through a `Remote` job).
    pub fn pause_reading(&mut self) {
        self.control.paused = true;
    }

    /// Receives again (unless the send queue is over its high watermark).
    pub fn resume_reading(&mut self) {
        self.control.paused = false;
    }

    /// Whether the protocol paused receiving.
    pub fn is_reading_paused(&self) -> bool {
        self.control.paused
    }

    /// Closes the socket when this hook returns, after one last attempt to send what is
    /// queued; [`on_close`](crate::Datagram::on_close) runs then. No further datagram of this
    /// batch is delivered.
    pub fn close(&mut self) {
        self.control.close = true;
    }

    /// Whether the protocol asked to close.
    pub fn is_closing(&self) -> bool {
        self.control.close
    }

    /// The manager's context, for anything else (registering, waking, timers).
    pub fn context(&mut self) -> &mut Context<'a, Net<S>> {
        &mut self.cx
    }
}

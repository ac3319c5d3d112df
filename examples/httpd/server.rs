//! The `httpd` server: the sans-IO HTTP core ([`proto`]) wired to an ioman-net
//! [`Connection`](ioman::net::Connection) through the [`Protocol`] trait. Kept apart from
//! `main.rs` so that `tests/httpd_example.rs` can run the very same server in-process.
//!
//! Memory: responses go into the connection's [`Outbox`], file bodies as file regions sent with
//! `sendfile` (never read into memory), and the session stops answering pipelined requests at
//! the outbox's room mark (the connection's high watermark); the connection offers the rest
//! again once the output drained. So a client pipelining any number of requests for any file
//! costs the server about one watermark of memory, plus one cached file at most.
//!
//! Timeouts: a connection idle for `idle` with nothing to send is closed (with a 408 if a
//! request was half sent). A connection whose pending output makes no progress for `idle`
//! (a client that stops reading) is closed by ioman-net's send timeout, which defaults to the
//! idle timeout. Because activity resets the idle timer, a client trickling a request byte by
//! byte would never be idle; so a request that arrives in pieces also gets a hard deadline of
//! `idle` from its first byte, kept by the connection's own timer (`ProtoContext::set_timer`).
//! Requests that arrive whole (the common case) arm no timer, and neither do complete
//! requests left waiting for output room.
//!
//! HTTPS: with a TLS configuration (ALPN `http/1.1`, see `main.rs`), [`build`] serves the same
//! protocol with [`Listener::serve_tls`]; file bodies are then read and encrypted a piece at a
//! time under the same watermarks and cap instead of `sendfile`d, and a TLS handshake must
//! finish within ioman-net's handshake timeout (10 s).

#[path = "proto.rs"]
pub mod proto;

use ioman::net::tls::rustls::ServerConfig;
use ioman::net::{ConnConfig, Listener, Net, NetError, Outbox, ProtoContext, Protocol};
use ioman::{Key, Manager, Timeout};
use proto::http::HttpSession;
use proto::site::Site;
use rustix::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most unconsumed input a connection keeps: the request head limit plus room to spare.
const MAX_INPUT: usize = 64 * 1024;

/// One HTTP connection.
pub struct Http {
    session: HttpSession,
    idle: Duration,
    /// When the request now partly received started (its deadline timer is armed).
    partial: Option<Instant>,
}

impl Http {
    /// A connection's protocol, with `idle` as both its idle timeout and its request deadline.
    pub fn new(idle: Duration) -> Http {
        Http { session: HttpSession::new(), idle, partial: None }
    }

    /// Answers 408 and closes if the partial request is past its deadline.
    fn enforce_deadline(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, Site>) {
        if let Some(started) = self.partial {
            if cx.now() >= started + self.idle && self.session.on_idle_timeout(cx.state(), out) {
                cx.close_after_flush();
            }
        }
    }

    /// Cancels the request-deadline timer, if one is armed.
    fn disarm(&mut self, cx: &mut ProtoContext<'_, Site>) {
        if self.partial.take().is_some() {
            cx.cancel_timer();
        }
    }
}

impl Protocol<Site> for Http {
    fn on_data(
        &mut self,
        input: &[u8],
        out: &mut Outbox,
        cx: &mut ProtoContext<'_, Site>,
    ) -> usize {
        let now = cx.now();
        let site = cx.state();
        site.enter_turn(now);
        let progress = self.session.on_bytes(site, input, out);
        if progress.close {
            cx.close_after_flush();
            self.disarm(cx);
        } else if !self.session.has_partial_request() {
            self.disarm(cx);
        } else if self.partial.is_none() {
            if cx.set_timer(self.idle).is_ok() {
                self.partial = Some(cx.now());
            }
        } else {
            self.enforce_deadline(out, cx);
        }
        progress.consumed
    }

    fn on_timer(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, Site>) {
        self.enforce_deadline(out, cx);
    }

    /// Runs only with no output pending (a stalled send is the send timeout's business).
    fn on_idle(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, Site>) {
        self.session.on_idle_timeout(cx.state(), out);
        cx.close_after_flush();
    }
}

/// The connection settings of the server: the idle timeout (also the send timeout) and the
/// input cap; the watermarks and the output cap are ioman-net's defaults.
pub fn conn_config(idle: Duration) -> ConnConfig {
    ConnConfig::default().idle(Timeout::Idle(idle)).max_input(MAX_INPUT)
}

/// Serves the manager's [`Site`] on `socket` (from [`ioman::net::listen`]): HTTPS with a TLS
/// configuration, else plain HTTP.
pub fn build(
    manager: &mut Manager<Net<Site>>,
    socket: OwnedFd,
    idle: Duration,
    tls: Option<Arc<ServerConfig>>,
) -> Result<Key, NetError> {
    let make = move || Http::new(idle);
    let listener = match tls {
        Some(tls) => Listener::serve_tls(conn_config(idle), tls, make),
        None => Listener::serve(conn_config(idle), make),
    };
    listener.register(manager, socket)
}

//! The TCP forwarder: each accepted client gets its own upstream connection, and bytes flow
//! both ways. Every piece of transport policy is ioman-net's; this file only pairs the two
//! sides:
//! - the upstream socket is connected without blocking ([`Connection::connecting`]: write
//!   readiness, then `SO_ERROR`); what the client sends meanwhile waits in its mailbox;
//! - backpressure: a side stops reading while more than the high watermark waits for its
//!   partner ([`ProtoContext::wait_for`]), and reads again once the partner drained;
//! - half-close: end of stream from one side becomes `shutdown(SHUT_WR)` on the other, after
//!   everything before it was sent; a pair whose both directions finished closes by itself;
//! - when one side closes for good (error, reset, idle), the other is closed after a flush;
//! - a partner that takes nothing for [`SEND_TIMEOUT`] is closed (and so is the pair), so a
//!   stalled upstream or a vanished client cannot hold a pair, its fds and its buffers for
//!   the whole idle timeout. A side whose reading waits still sees its peer's end of stream;
//! - with [`Upstream::tls`] set, the upstream side is a TLS client
//!   ([`Connection::tls_client`]): the handshake starts once the connect completed and must
//!   finish within the handshake timeout (10 s, counted from then on the connect too); what
//!   the client sent meanwhile waits. A certificate the configuration does not trust (or that
//!   does not name the server) ends the pair like a refused connect.
//!
//! This file is shared by `main.rs` and the tests (`#[path]`), so it holds no `main`.

use ioman::net::tls::rustls::ClientConfig;
use ioman::net::tls::rustls::pki_types::ServerName;
use ioman::net::{CloseReason, ConnConfig, Connection, Endpoint, Listener, Net, NetError, Peer};
use ioman::net::{Outbox, ProtoContext, Protocol};
use ioman::{Context, Key, Manager, Modify, Timeout};
use rustix::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

/// The loop-wide state: where to forward to, and how.
pub struct Upstream {
    /// The address every client is forwarded to.
    pub to: Endpoint,
    /// Speak TLS to `to` (else plain bytes).
    pub tls: Option<UpstreamTls>,
}

/// How the proxy originates TLS to its upstream.
pub struct UpstreamTls {
    /// The client configuration: the roots it trusts (`--ca`), ALPN (none), resumption.
    pub config: Arc<ClientConfig>,
    /// The name sent as SNI, which the upstream's certificate must carry (`--to-sni`).
    pub name: ServerName<'static>,
}

impl Upstream {
    /// Forwards plain bytes to `to`.
    pub fn plain(to: Endpoint) -> Upstream {
        Upstream { to, tls: None }
    }

    /// Forwards to `to` over TLS, expecting a certificate for `name` that `config` trusts.
    pub fn tls(to: Endpoint, config: Arc<ClientConfig>, name: ServerName<'static>) -> Upstream {
        Upstream { to, tls: Some(UpstreamTls { config, name }) }
    }
}

/// How long a side may hold output its peer takes none of.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection settings the proxy uses: 5 min idle per side, [`SEND_TIMEOUT`] without
/// progress, 64 KiB high watermark. The output cap stays at the default 8 MiB: when a side
/// hangs up while paused, what the kernel still buffered for it (up to its receive buffer, a
/// few MiB) is handed over in one go.
pub fn config() -> ConnConfig {
    ConnConfig::default()
        .idle(Timeout::Idle(Duration::from_secs(300)))
        .send_timeout(Some(SEND_TIMEOUT))
        .watermarks(16 * 1024, 64 * 1024)
}

/// Registers the proxy listener for `socket` with `manager`.
pub fn build(
    manager: &mut Manager<Net<Upstream>>,
    socket: OwnedFd,
    config: ConnConfig,
) -> Result<Key, NetError> {
    let config = Arc::new(config);
    Listener::new(move |client, cx: &mut Context<'_, Net<Upstream>>| {
        if let Err(e) = pair(client, cx, &config) {
            eprintln!("proxy: cannot forward to {}: {e}", cx.state().app().to);
        }
    })
    .register(manager, socket)
}

/// Starts the upstream connection and registers both sides, each knowing the other's key.
fn pair(
    client: OwnedFd,
    cx: &mut Context<'_, Net<Upstream>>,
    config: &Arc<ConnConfig>,
) -> Result<(), NetError> {
    let upstream = ioman::net::connect(&cx.state().app().to)?;
    let high = config.high_water();
    let up =
        Connection::connecting(Side { peer: None, high }, config.clone()).register(cx, upstream)?;
    let down =
        match Connection::new(Side { peer: Some(up), high }, config.clone()).register(cx, client) {
            Ok(down) => down,
            Err(e) => {
                let _ = Peer::new(cx, up).close();
                return Err(e);
            }
        };
    // The upstream side was registered first, so it learns its partner now, before it runs.
    // Only this one starts a TLS session (the placeholder above never runs, so it needs none).
    let side = Connection::connecting(Side { peer: Some(down), high }, config.clone());
    let side = match &cx.state().app().tls {
        Some(tls) => side.tls_client(tls.config.clone(), tls.name.clone()),
        None => Ok(side),
    };
    let swapped = side.and_then(|side| Ok(cx.modify(up, Modify::new().handler(side))?));
    if swapped.is_err() {
        let _ = Peer::new(cx, down).close();
        let _ = Peer::new(cx, up).close();
    }
    swapped
}

/// One side of a forwarded pair: what it reads goes to `peer`.
pub struct Side {
    peer: Option<Key>,
    /// Stop reading while this much waits for the peer.
    high: usize,
}

impl Protocol<Upstream> for Side {
    fn on_data(
        &mut self,
        input: &[u8],
        _: &mut Outbox,
        cx: &mut ProtoContext<'_, Upstream>,
    ) -> usize {
        let Some(peer) = self.peer else {
            cx.close();
            return input.len();
        };
        match cx.conn(peer).send(input) {
            Ok(pending) if pending >= self.high => {
                let _ = cx.wait_for(peer); // read again once the partner drained
            }
            Ok(_) => {}
            Err(_) => cx.close(),
        }
        input.len()
    }

    fn on_eof(&mut self, _: &mut Outbox, cx: &mut ProtoContext<'_, Upstream>) {
        // Forward the half-close; keep sending the other direction.
        if let Some(peer) = self.peer {
            if cx.conn(peer).shutdown_write().is_err() {
                cx.close();
            }
        }
    }

    fn on_close(&mut self, reason: &CloseReason, cx: &mut ProtoContext<'_, Upstream>) {
        match reason {
            CloseReason::ConnectFailed(e) => {
                eprintln!("proxy: connecting to {} failed: {e}", cx.state().to);
            }
            // Only the upstream side speaks TLS: its certificate, or its handshake, failed.
            CloseReason::Tls(e) => eprintln!("proxy: TLS with {} failed: {e}", cx.state().to),
            _ => {}
        }
        // After `Done` the partner finishes by itself (both half-closes were forwarded);
        // otherwise (reset, idle, connect failure...) it goes once its output is flushed.
        if let (Some(peer), false) = (self.peer, matches!(reason, CloseReason::Done)) {
            let _ = cx.conn(peer).close_after_flush();
        }
    }
}

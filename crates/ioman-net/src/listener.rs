//! [`Listener`]: the accept side of a server, itself an ioman [`Handler`]. Each readiness event
//! accepts a bounded batch (`accept4` with `NONBLOCK | CLOEXEC`), sets `TCP_NODELAY` if asked
//! and hands each socket to a factory, which registers it (usually as a
//! [`Connection`](crate::Connection)).
//!
//! # Out of file descriptors
//! `EMFILE` and friends leave the pending connection in the backlog, so a naive loop spins at
//! 100% CPU. Instead the listener (1) frees its reserve fd, accepts and closes pending
//! connections so those clients get a prompt close rather than a hang, and re-opens the
//! reserve; (2) pauses accepting (interest `None`) and sets its own timeout to the backoff;
//! (3) counts it in [`NetStats::fd_exhausted`](crate::NetStats) /
//! [`shed`](crate::NetStats::shed), logs it through `tracing` and reports it to the hook of
//! [`Listener::on_report`], if any. When the
//! timeout fires it accepts again. Any other accept failure pauses the same way.

use crate::{ConnConfig, Connection, Endpoint, ListenConfig, Net, NetError, Protocol};
use ioman_core::{Context, Failure, Handler, Interest, Key, Manager, Timeout};
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{SocketAddrAny, SocketFlags, accept_with, acceptfrom_with};
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// What a listener reports through [`Listener::on_report`].
#[derive(Debug)]
#[non_exhaustive]
pub enum AcceptReport {
    /// Out of file descriptors (or kernel memory): `shed` pending connections were accepted
    /// and closed, and accepting pauses for `pause`.
    Exhausted {
        /// The error `accept` returned.
        error: io::Error,
        /// Pending connections closed at once with the reserve fd.
        shed: usize,
        /// How long accepting pauses.
        pause: Duration,
    },
    /// `accept` failed otherwise; accepting pauses for `pause`.
    Failed {
        /// The error.
        error: io::Error,
        /// How long accepting pauses.
        pause: Duration,
    },
    /// Accepting resumed after a pause.
    Resumed,
}

type SocketFn<S> = dyn FnMut(OwnedFd, &mut Context<'_, Net<S>>);
type WithPeerFn<S> = dyn FnMut(OwnedFd, Endpoint, &mut Context<'_, Net<S>>);

/// What a listener hands each accepted socket to.
enum Factory<S: 'static> {
    Socket(Box<SocketFn<S>>),
    /// Also gets the peer's address, from `accept` itself (no `getpeername`).
    WithPeer(Box<WithPeerFn<S>>),
}
type Reporter = Box<dyn FnMut(&AcceptReport)>;

/// Accepts connections on a listening socket and hands each to a factory.
///
/// ```
/// use ioman::Manager;
/// use ioman::net::{ConnConfig, Listener, Net, Outbox, ProtoContext, Protocol, listen};
///
/// struct Echo;
/// impl Protocol for Echo {
///     fn on_data(&mut self, input: &[u8], out: &mut Outbox, _: &mut ProtoContext<'_>) -> usize {
///         out.extend_from_slice(input);
///         input.len()
///     }
/// }
///
/// let mut manager: Manager<Net<()>> = Manager::new()?;
/// let socket = listen(&"127.0.0.1:0".parse()?, Default::default())?;
/// Listener::serve(ConnConfig::default(), || Echo).register(&mut manager, socket)?;
/// assert_eq!(manager.state().listeners().len(), 1);
/// # Ok::<(), ioman::net::NetError>(())
/// ```
pub struct Listener<S: 'static> {
    factory: Factory<S>,
    config: ListenConfig,
    /// An fd kept open to be freed when the process runs out (see the module docs).
    reserve: Option<OwnedFd>,
    paused: bool,
    report: Option<Reporter>,
}

impl<S: 'static> Listener<S> {
    /// A listener whose `factory` gets each accepted socket (non-blocking, close-on-exec) and
    /// registers it; dropping the socket instead closes the connection.
    pub fn new(factory: impl FnMut(OwnedFd, &mut Context<'_, Net<S>>) + 'static) -> Listener<S> {
        Listener::with_factory(Factory::Socket(Box::new(factory)))
    }

    /// A listener whose `factory` also gets each connection's peer address, as `accept`
    /// reported it (an unnamed Unix client is an empty path): to log it, to refuse some
    /// peers before a connection exists, to give it to the protocol. (Inside a protocol,
    /// [`ProtoContext::peer_addr`](crate::ProtoContext::peer_addr) asks the kernel instead.)
    pub fn with_peer(
        factory: impl FnMut(OwnedFd, Endpoint, &mut Context<'_, Net<S>>) + 'static,
    ) -> Listener<S> {
        Listener::with_factory(Factory::WithPeer(Box::new(factory)))
    }

    fn with_factory(factory: Factory<S>) -> Listener<S> {
        Listener {
            factory,
            config: ListenConfig::default(),
            reserve: None,
            paused: false,
            report: None,
        }
    }

    /// A listener that serves each connection with `make()`'s protocol in a
    /// [`Connection`] configured by `config`.
    pub fn serve<P: Protocol<S>>(
        config: ConnConfig,
        mut make: impl FnMut() -> P + 'static,
    ) -> Self {
        let config = Arc::new(config);
        Listener::new(move |socket, cx| {
            // Registration fails only if epoll refuses (memory): the socket is closed then.
            let _ = Connection::new(make(), Arc::clone(&config)).register(cx, socket);
        })
    }

    /// A listener that serves each connection over TLS (`tls`'s server side) with `make()`'s
    /// protocol in a [`Connection`] configured by `config` (see [`crate::tls`]).
    #[cfg(feature = "tls")]
    pub fn serve_tls<P: Protocol<S>>(
        config: ConnConfig,
        tls: Arc<rustls::ServerConfig>,
        mut make: impl FnMut() -> P + 'static,
    ) -> Self {
        let config = Arc::new(config);
        Listener::new(move |socket, cx| {
            // A session fails only for a configuration rustls refuses: the socket closes.
            if let Ok(conn) = Connection::new(make(), Arc::clone(&config)).tls(tls.clone()) {
                let _ = conn.register(cx, socket);
            }
        })
    }

    /// Sets the accept configuration.
    pub fn config(mut self, config: ListenConfig) -> Listener<S> {
        self.config = config;
        self
    }

    /// Also reports pauses and resumptions to `hook` (they are always logged through
    /// `tracing`, and counted in [`NetStats`](crate::NetStats)).
    pub fn on_report(mut self, hook: impl FnMut(&AcceptReport) + 'static) -> Listener<S> {
        self.report = Some(Box::new(hook));
        self
    }

    /// Registers the listening socket (see [`listen`](crate::listen)) with this listener;
    /// graceful [`shutdown`](crate::shutdown) will close it.
    pub fn register(
        mut self,
        manager: &mut Manager<Net<S>>,
        socket: OwnedFd,
    ) -> Result<Key, NetError> {
        self.reserve = open_reserve();
        let key = manager.add(socket, Interest::READ, Timeout::Never, self)?;
        manager.state_mut().listeners.push(key);
        Ok(key)
    }

    /// As [`register`](Self::register), from inside a callback.
    pub fn register_in(
        mut self,
        cx: &mut Context<'_, Net<S>>,
        socket: OwnedFd,
    ) -> Result<Key, NetError> {
        self.reserve = open_reserve();
        let key = cx.add(socket, Interest::READ, Timeout::Never, self)?;
        cx.state().listeners.push(key);
        Ok(key)
    }

    fn report(&mut self, key: Key, report: AcceptReport) {
        match &report {
            AcceptReport::Exhausted { error, shed, pause } => {
                tracing::warn!(listener = ?key, %error, shed, ?pause, "out of file descriptors: accepting paused");
            }
            AcceptReport::Failed { error, pause } => {
                tracing::warn!(listener = ?key, %error, ?pause, "accept failed: accepting paused");
            }
            AcceptReport::Resumed => tracing::info!(listener = ?key, "accepting resumed"),
        }
        if let Some(hook) = &mut self.report {
            hook(&report);
        }
    }

    /// Stops accepting for the backoff; the listener's own timeout resumes it.
    fn pause(&mut self, cx: &mut Context<'_, Net<S>>) -> Duration {
        self.paused = true;
        cx.set_interest(None);
        cx.set_timeout(Timeout::Idle(self.config.backoff));
        self.config.backoff
    }

    /// Out of fds: free the reserve, accept-and-close what is pending, re-open the reserve.
    fn shed(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>) -> usize {
        let mut shed = 0;
        if self.reserve.take().is_some() {
            for _ in 0..self.config.batch {
                cx.state().stats.accept_calls += 1;
                match accept_with(fd, SocketFlags::CLOEXEC) {
                    Ok(conn) => {
                        drop(conn);
                        shed += 1;
                    }
                    Err(Errno::INTR | Errno::CONNABORTED) => {}
                    Err(_) => break,
                }
            }
            self.reserve = open_reserve();
        }
        cx.state().stats.shed += shed as u64;
        shed
    }
}

impl<S: 'static> Handler<Net<S>> for Listener<S> {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Net<S>>) {
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        for _ in 0..self.config.batch {
            cx.state().stats.accept_calls += 1;
            let accepted = match &self.factory {
                Factory::Socket(_) => accept_with(fd, flags).map(|s| (s, None)),
                Factory::WithPeer(_) => acceptfrom_with(fd, flags).map(|(s, a)| (s, Some(a))),
            };
            match accepted {
                Ok((socket, addr)) => {
                    cx.state().stats.accepted += 1;
                    if self.config.nodelay {
                        // Fails harmlessly on Unix sockets.
                        let _ = rustix::net::sockopt::set_tcp_nodelay(&socket, true);
                    }
                    match &mut self.factory {
                        Factory::Socket(f) => f(socket, cx),
                        Factory::WithPeer(f) => f(socket, peer_of(addr.flatten()), cx),
                    }
                }
                Err(Errno::AGAIN) => return,
                Err(Errno::INTR | Errno::CONNABORTED) => {}
                Err(e @ (Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)) => {
                    cx.state().stats.fd_exhausted += 1;
                    let shed = self.shed(fd, cx);
                    let pause = self.pause(cx);
                    return self.report(
                        cx.key(),
                        AcceptReport::Exhausted { error: e.into(), shed, pause },
                    );
                }
                Err(e) => {
                    cx.state().stats.accept_errors += 1;
                    let pause = self.pause(cx);
                    return self.report(cx.key(), AcceptReport::Failed { error: e.into(), pause });
                }
            }
        }
    }

    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        // Overrides the default (close): the only timeout a listener sets is its backoff.
        if self.paused {
            self.paused = false;
            if self.reserve.is_none() {
                self.reserve = open_reserve();
            }
            cx.set_interest(Interest::READ);
            cx.set_timeout(Timeout::Never);
            self.report(cx.key(), AcceptReport::Resumed);
        }
    }

    fn on_error(&mut self, _fd: BorrowedFd<'_>, failure: Failure, cx: &mut Context<'_, Net<S>>) {
        let key = cx.key();
        cx.state().listeners.retain(|&k| k != key);
        tracing::error!(listener = ?key, ?failure, "listener closed");
    }
}

/// The peer address `accept` reported; an unnamed Unix client has none (an empty path).
fn peer_of(addr: Option<SocketAddrAny>) -> Endpoint {
    addr.and_then(|a| crate::endpoint::endpoint_of(a, "accept").ok())
        .unwrap_or_else(|| Endpoint::Unix(Default::default()))
}

/// The reserve fd: `/dev/null`, close-on-exec. `None` if even that cannot be opened.
fn open_reserve() -> Option<OwnedFd> {
    use rustix::fs::{Mode, OFlags, open};
    open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()
}

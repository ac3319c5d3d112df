//! [`Connector`]: outgoing connections with everything around them — a connect timeout, a
//! fallback across addresses, retries with exponential backoff and jitter, and, for a
//! persistent link, reconnecting after the connection drops. Each attempt is a
//! [`Connection::connecting`] whose protocol is the application's, wrapped so that the
//! connector hears when it connects and when it ends; the connector itself is a detached
//! registration whose timeout is its retry timer.

use crate::{CloseReason, ConnConfig, Connection, Endpoint, Net, NetError, Outbox};
use crate::{ProtoContext, Protocol};
use ioman_core::{Context, Handler, Key, Manager, Timeout, WorkError, WorkPool};
use rustix::fd::BorrowedFd;
use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// When a [`Connector`] tries again.
///
/// Delays grow from `first`, doubling per failed round (every address tried once) up to
/// `max`, each scaled by a random factor in [0.5, 1] (jitter, so many clients of one server do
/// not retry in step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    first: Duration,
    max: Duration,
    rounds: Option<u32>,
    reconnect: bool,
}

impl Retry {
    /// One round: every address once, then give up.
    pub fn once() -> Retry {
        Retry { first: Duration::ZERO, max: Duration::ZERO, rounds: Some(1), reconnect: false }
    }

    /// Rounds without end, the first retry after `first`, delays doubling up to `max`.
    pub fn backoff(first: Duration, max: Duration) -> Retry {
        Retry { first, max: max.max(first), rounds: None, reconnect: false }
    }

    /// At most `rounds` rounds (at least 1).
    pub fn rounds(mut self, rounds: u32) -> Retry {
        self.rounds = Some(rounds.max(1));
        self
    }

    /// A persistent link: after an established connection ends, connect again (after the
    /// first delay), with the same retries.
    pub fn reconnect(mut self, on: bool) -> Retry {
        self.reconnect = on;
        self
    }

    /// The delay after `failed` consecutive failed rounds, with `jitter` in [0, 1).
    fn delay(&self, failed: u32, jitter: f64) -> Duration {
        let doubling = 2f64.powi(failed.saturating_sub(1).min(30) as i32);
        let base = self.first.mul_f64(doubling).min(self.max);
        let ms = base.mul_f64(0.5 + jitter / 2.0).as_millis();
        Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)) // whole ms, as reported
    }
}

/// What a [`Connector`] reports, to [`Connector::on_report`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectReport<'a> {
    /// An attempt starts, to this address.
    Attempt {
        /// The address.
        to: &'a Endpoint,
    },
    /// The connection is established (its protocol's `on_connected` ran).
    Connected {
        /// The connection.
        key: Key,
        /// Where to.
        to: &'a Endpoint,
    },
    /// An attempt failed (refused, unreachable, timed out).
    Failed {
        /// Where to.
        to: &'a Endpoint,
        /// Why.
        error: &'a io::Error,
    },
    /// An established connection ended.
    Lost {
        /// The connection.
        key: Key,
        /// Why.
        reason: &'a CloseReason,
    },
    /// A host name is being looked up, off the loop (see [`Connector::resolve_with`]).
    Resolving {
        /// The name and port.
        to: &'a Endpoint,
    },
    /// The next round starts after this delay.
    Retrying {
        /// The delay.
        after: Duration,
    },
    /// No more attempts: the connector has closed itself.
    GaveUp,
}

/// The report hook, shared by a connector and its attempts.
#[derive(Clone, Default)]
struct Reports(Rc<RefCell<Option<ReportHook>>>);

type ReportHook = Box<dyn FnMut(&ConnectReport<'_>)>;

/// Starts the lookup of a name for the connector with this key (built by `start`, where the
/// loop's state type is known).
type Lookup = Box<dyn Fn(&str, u16, Key) -> Result<(), WorkError>>;

impl Reports {
    fn send(&self, report: ConnectReport<'_>) {
        if let Some(f) = self.0.borrow_mut().as_mut() {
            f(&report);
        }
    }
}

/// What the wrapped protocol tells its connector.
enum Event {
    Connected,
    Failed,
    Lost,
}

/// State shared by a connector and the protocol wrapper of its current attempt.
struct Shared {
    connector: Key,
    events: Vec<Event>,
    reports: Reports,
    to: Endpoint,
}

/// Outgoing connections to one service, kept up as asked (see the module docs).
///
/// ```
/// use ioman::Manager;
/// use ioman::net::{ConnConfig, Connector, Net, Outbox, ProtoContext, Protocol, Retry};
/// use std::time::Duration;
///
/// /// Says hello once connected, then prints what comes back.
/// struct Client;
/// impl Protocol for Client {
///     fn on_connected(&mut self, out: &mut Outbox, _: &mut ProtoContext<'_>) {
///         out.extend_from_slice(b"hello\n");
///     }
///     fn on_data(&mut self, input: &[u8], _: &mut Outbox, _: &mut ProtoContext<'_>) -> usize {
///         input.len()
///     }
/// }
///
/// let mut manager: Manager<Net<()>> = Manager::new()?;
/// let retry = Retry::backoff(Duration::from_millis(100), Duration::from_secs(30)).reconnect(true);
/// let config = ConnConfig::default().connect_timeout(Duration::from_secs(3));
/// Connector::new(vec!["127.0.0.1:7000".parse()?], config, || Client)
///     .retry(retry)
///     .start(&mut manager)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connector<P, F> {
    targets: Vec<Endpoint>,
    next: usize,
    config: Arc<ConnConfig>,
    make: F,
    retry: Retry,
    failed_rounds: u32,
    shared: Option<Rc<RefCell<Shared>>>,
    reports: Reports,
    jitter: u64,
    /// Where names are looked up ([`resolve_with`](Self::resolve_with)).
    pool: Option<Arc<WorkPool>>,
    lookup: Option<Lookup>,
    /// The addresses of the current target's name still to try this round.
    resolved: std::collections::VecDeque<Endpoint>,
    /// A lookup's answer, delivered by its callback before it wakes the connector.
    answer: Option<io::Result<Vec<std::net::SocketAddr>>>,
    resolving: bool,
    nodelay: bool,
    _protocol: std::marker::PhantomData<fn() -> P>,
}

impl<P: 'static, F: FnMut() -> P + 'static> Connector<P, F> {
    /// A connector to `targets` (tried in order each round, e.g. from [`resolve`](crate::resolve)),
    /// each connection set up by `config` (its connect timeout included) and served by
    /// `make()`'s protocol. By default one round ([`Retry::once`]).
    pub fn new(targets: Vec<Endpoint>, config: impl Into<Arc<ConnConfig>>, make: F) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos() as u64 | 1);
        Connector {
            targets,
            next: 0,
            config: config.into(),
            make,
            retry: Retry::once(),
            failed_rounds: 0,
            shared: None,
            reports: Reports::default(),
            jitter: seed,
            pool: None,
            lookup: None,
            resolved: std::collections::VecDeque::new(),
            answer: None,
            resolving: false,
            nodelay: true,
            _protocol: std::marker::PhantomData,
        }
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Looks host names ([`Endpoint::Host`]) up on `pool`'s threads, so that a slow or hung
    /// resolver never stalls the loop; the answer comes back as a callback and the addresses
    /// are tried in [`interleave`](crate::interleave)d order, each a full attempt, before the
    /// next target. A name is looked up again each round (and after a persistent link drops),
    /// so a changed DNS answer is followed. Without a pool, a connector with a name in its
    /// targets is refused by [`start`](Self::start).
    pub fn resolve_with(mut self, pool: Arc<WorkPool>) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Whether TCP connections get `TCP_NODELAY` (default on, as accepted ones do with
    /// [`ListenConfig::nodelay`](crate::ListenConfig::nodelay)): small requests go out at
    /// once instead of waiting for the peer's acknowledgement (Nagle), which with a pipeline
    /// of small messages and delayed ACKs costs tens of milliseconds per round trip.
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// Calls `hook` with every attempt, connection, failure, loss, retry and the final
    /// give-up (e.g. to log them).
    pub fn on_report(self, hook: impl FnMut(&ConnectReport<'_>) + 'static) -> Self {
        *self.reports.0.borrow_mut() = Some(Box::new(hook));
        self
    }

    /// Registers the connector (a detached registration: closing its key stops the retries;
    /// a connection already made stays) and starts the first attempt in the next turn.
    pub fn start<S: 'static>(self, manager: &mut Manager<Net<S>>) -> Result<Key, NetError>
    where
        P: Protocol<S>,
        F: 'static,
    {
        if self.targets.is_empty() {
            let input = String::new();
            return Err(NetError::BadAddress { input, reason: "no address to connect to" });
        }
        let mut this = self;
        let names = this.targets.iter().find(|t| matches!(t, Endpoint::Host { .. }));
        match (names, this.pool.clone()) {
            (Some(name), None) => {
                let (input, reason) = (name.to_string(), "a host name needs resolve_with(pool)");
                return Err(NetError::BadAddress { input, reason });
            }
            (_, Some(pool)) => {
                let remote = manager.remote();
                this.lookup = Some(Box::new(move |host, port, key| {
                    crate::resolve(&pool, &remote, host, port, move |answer, m| {
                        let c = m.handler_mut(key).and_then(|h| h.downcast_mut::<Self>());
                        if let Some(c) = c {
                            c.answer = Some(answer);
                            let _ = m.wake(key);
                        }
                    })
                }));
            }
            (None, None) => {}
        }
        let key = manager.add_detached(None, Timeout::Never, this);
        manager.wake(key)?;
        Ok(key)
    }

    /// A jitter factor in [0, 1) (xorshift: no need for a real random source here).
    fn jitter(&mut self) -> f64 {
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        (self.jitter >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Starts an attempt to the next address (or the lookup of the next name).
    fn attempt<S: 'static>(&mut self, cx: &mut Context<'_, Net<S>>)
    where
        P: Protocol<S>,
    {
        let target = &self.targets[self.next % self.targets.len()];
        let to = match target {
            Endpoint::Host { host, port } => match self.resolved.pop_front() {
                Some(addr) => addr,
                None => return self.look_up(host.clone(), *port, cx),
            },
            other => other.clone(),
        };
        let shared = Rc::new(RefCell::new(Shared {
            connector: cx.key(),
            events: Vec::new(),
            reports: self.reports.clone(),
            to: to.clone(),
        }));
        self.reports.send(ConnectReport::Attempt { to: &to });
        let proto = Supervised { inner: (self.make)(), shared: shared.clone(), connected: false };
        let started = crate::connect(&to).and_then(|socket| {
            if self.nodelay && matches!(to, Endpoint::Tcp(_)) {
                // Best effort, as for accepted sockets: a failure only costs latency.
                let _ = rustix::net::sockopt::set_tcp_nodelay(&socket, true);
            }
            Connection::connecting(proto, self.config.clone()).register(cx, socket)
        });
        if let Err(e) = started {
            let error = match e {
                NetError::Os { source, .. } => source,
                other => io::Error::other(other.to_string()),
            };
            self.reports.send(ConnectReport::Failed { to: &to, error: &error });
            shared.borrow_mut().events.push(Event::Failed);
            let _ = cx.wake(cx.key());
        }
        self.shared = Some(shared);
    }

    /// Asks the pool for the addresses of `host`; the answer wakes the connector.
    fn look_up<S: 'static>(&mut self, host: String, port: u16, cx: &mut Context<'_, Net<S>>)
    where
        P: Protocol<S>,
    {
        let to = Endpoint::Host { host: host.clone(), port };
        self.reports.send(ConnectReport::Resolving { to: &to });
        let started = match &self.lookup {
            Some(lookup) => lookup(&host, port, cx.key()).map_err(io::Error::other),
            None => Err(io::Error::other("no resolver")), // refused by `start`
        };
        match started {
            Ok(()) => self.resolving = true,
            Err(error) => {
                self.reports.send(ConnectReport::Failed { to: &to, error: &error });
                self.after_failure(cx);
            }
        }
    }

    /// A lookup's answer: try its addresses, or count the name as a failed target.
    fn on_answer<S: 'static>(
        &mut self,
        answer: io::Result<Vec<std::net::SocketAddr>>,
        cx: &mut Context<'_, Net<S>>,
    ) where
        P: Protocol<S>,
    {
        self.resolving = false;
        match answer {
            Ok(addrs) => {
                self.resolved = addrs.into_iter().map(Endpoint::Tcp).collect();
                self.attempt(cx);
            }
            Err(error) => {
                let to = self.targets[self.next % self.targets.len()].clone();
                self.reports.send(ConnectReport::Failed { to: &to, error: &error });
                self.after_failure(cx);
            }
        }
    }

    /// After an attempt failed: the next address, or the next round after a delay, or stop.
    fn after_failure<S: 'static>(&mut self, cx: &mut Context<'_, Net<S>>)
    where
        P: Protocol<S>,
    {
        if !self.resolved.is_empty() {
            return self.attempt(cx); // the next address of this name
        }
        self.next += 1;
        if self.next % self.targets.len() != 0 {
            return self.attempt(cx); // the next address of this round, at once
        }
        self.failed_rounds += 1;
        if self.retry.rounds.is_some_and(|n| self.failed_rounds >= n) {
            return self.give_up(cx);
        }
        let jitter = self.jitter();
        self.schedule(cx, self.retry.delay(self.failed_rounds, jitter));
    }

    fn schedule<S>(&mut self, cx: &mut Context<'_, Net<S>>, after: Duration) {
        self.reports.send(ConnectReport::Retrying { after });
        cx.set_timeout(Timeout::Idle(after));
    }

    fn give_up<S>(&mut self, cx: &mut Context<'_, Net<S>>) {
        self.reports.send(ConnectReport::GaveUp);
        cx.close();
    }
}

impl<S: 'static, P: Protocol<S> + 'static, F: FnMut() -> P + 'static> Handler<Net<S>>
    for Connector<P, F>
{
    /// The start, a lookup's answer, or news from the current attempt.
    fn on_wake(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        if let Some(answer) = self.answer.take() {
            return self.on_answer(answer, cx);
        }
        let Some(shared) = self.shared.clone() else {
            if !self.resolving {
                self.attempt(cx);
            }
            return;
        };
        let events = std::mem::take(&mut shared.borrow_mut().events);
        for event in events {
            match event {
                Event::Connected => {
                    self.failed_rounds = 0;
                    self.next = 0;
                    self.resolved.clear(); // names are looked up again on a reconnect
                }
                Event::Failed => self.after_failure(cx),
                Event::Lost if self.retry.reconnect => {
                    let jitter = self.jitter();
                    self.schedule(cx, self.retry.delay(1, jitter));
                }
                Event::Lost => cx.close(),
            }
        }
    }

    /// The retry timer.
    fn on_timeout(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        cx.set_timeout(Timeout::Never);
        self.attempt(cx);
    }
}

/// The application's protocol, as the connector runs it: every hook forwarded, and the
/// connector told when the connection is established and when it ends.
struct Supervised<P> {
    inner: P,
    shared: Rc<RefCell<Shared>>,
    connected: bool,
}

impl<P> Supervised<P> {
    fn tell<S>(&self, cx: &mut ProtoContext<'_, S>, event: Event) {
        let connector = {
            let mut shared = self.shared.borrow_mut();
            shared.events.push(event);
            shared.connector
        };
        let _ = cx.context().wake(connector);
    }
}

impl<S: 'static, P: Protocol<S>> Protocol<S> for Supervised<P> {
    fn on_open(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        self.inner.on_open(out, cx);
    }
    fn on_connected(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        self.connected = true;
        let key = cx.key();
        let (reports, to) = {
            let shared = self.shared.borrow();
            (shared.reports.clone(), shared.to.clone())
        };
        reports.send(ConnectReport::Connected { key, to: &to });
        self.tell(cx, Event::Connected);
        self.inner.on_connected(out, cx);
    }
    fn on_data(&mut self, input: &[u8], out: &mut Outbox, cx: &mut ProtoContext<'_, S>) -> usize {
        self.inner.on_data(input, out, cx)
    }
    fn on_eof(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        self.inner.on_eof(out, cx);
    }
    fn on_drained(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        self.inner.on_drained(out, cx);
    }
    fn on_wake(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        self.inner.on_wake(out, cx);
    }
    fn on_timer(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        self.inner.on_timer(out, cx);
    }
    fn on_idle(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        self.inner.on_idle(out, cx);
    }
    fn on_shutdown(&mut self, out: &mut Outbox, cx: &mut ProtoContext<'_, S>) {
        self.inner.on_shutdown(out, cx);
    }
    fn on_close(&mut self, reason: &CloseReason, cx: &mut ProtoContext<'_, S>) {
        self.inner.on_close(reason, cx);
        let key = cx.key();
        let (reports, to) = {
            let shared = self.shared.borrow();
            (shared.reports.clone(), shared.to.clone())
        };
        let event = match (self.connected, reason) {
            (true, _) => {
                reports.send(ConnectReport::Lost { key, reason });
                Event::Lost
            }
            (false, CloseReason::ConnectFailed(error)) => {
                reports.send(ConnectReport::Failed { to: &to, error });
                Event::Failed
            }
            (false, other) => {
                let error = io::Error::other(format!("{other:?}"));
                reports.send(ConnectReport::Failed { to: &to, error: &error });
                Event::Failed
            }
        };
        self.tell(cx, event);
    }
}

//! [`Connector`]: outgoing connections with everything around them — a connect timeout, a
//! fallback across addresses, retries with exponential backoff and jitter, and, for a
//! persistent link, reconnecting after the connection drops. Each attempt is a
//! [`Connection::connecting`] whose protocol is the application's, wrapped so that the
//! connector hears when it connects and when it ends; the connector itself is a detached
//! registration whose timeout is its retry timer.

use crate::{CloseReason, ConnConfig, Connection, Endpoint, Net, NetError, Outbox};
use crate::{ProtoContext, Protocol};
use ioman_core::{Context, Handler, Key, Manager, Timeout};
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
    _protocol: std::marker::PhantomData<fn() -> P>,
}

impl<P, F: FnMut() -> P> Connector<P, F> {
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
            _protocol: std::marker::PhantomData,
        }
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
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
        let key = manager.add_detached(None, Timeout::Never, self);
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

    /// Starts an attempt to the next address.
    fn attempt<S: 'static>(&mut self, cx: &mut Context<'_, Net<S>>)
    where
        P: Protocol<S>,
    {
        let to = self.targets[self.next % self.targets.len()].clone();
        let shared = Rc::new(RefCell::new(Shared {
            connector: cx.key(),
            events: Vec::new(),
            reports: self.reports.clone(),
            to: to.clone(),
        }));
        self.reports.send(ConnectReport::Attempt { to: &to });
        let proto = Supervised { inner: (self.make)(), shared: shared.clone(), connected: false };
        let started = crate::connect(&to).and_then(|socket| {
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

    /// After an attempt failed: the next address, or the next round after a delay, or stop.
    fn after_failure<S: 'static>(&mut self, cx: &mut Context<'_, Net<S>>)
    where
        P: Protocol<S>,
    {
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

impl<S: 'static, P: Protocol<S>, F: FnMut() -> P + 'static> Handler<Net<S>> for Connector<P, F> {
    /// The start, or news from the current attempt.
    fn on_wake(&mut self, _fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, Net<S>>) {
        let Some(shared) = self.shared.clone() else {
            return self.attempt(cx);
        };
        let events = std::mem::take(&mut shared.borrow_mut().events);
        for event in events {
            match event {
                Event::Connected => {
                    self.failed_rounds = 0;
                    self.next = 0;
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

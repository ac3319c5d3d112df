//! [`Handler`]: the four reactions the seed passed as callbacks (read, write, timeout, error),
//! as one trait a protocol implements. Also [`Boxed`], the default way registrations of
//! different handler types share one manager, and [`Unboxed`], the opt-out for programs whose
//! handlers are one enum.

use crate::Context;
use rustix::fd::BorrowedFd;
use std::any::Any;
use std::io;

/// Why `on_error` is called. Both are terminal: when `on_error` returns, the manager closes the
/// registration (if the handler has not already), because a hung-up or failed fd stays "ready"
/// forever and would otherwise spin the loop. The one exception is a socket error that reading
/// `SO_ERROR` cleared, which a handler may declare transient with
/// [`Context::keep_after_error`] (a datagram socket's ICMP report).
#[derive(Debug)]
pub enum Failure {
    /// `EPOLLHUP` with nothing left to read: the peer is gone in both directions (or a pipe's
    /// write end closed after its data was read).
    Hangup,
    /// `EPOLLERR`: an error is pending. For sockets it is the `SO_ERROR` value (already
    /// cleared); `None` where the fd has no such notion (e.g. a pipe whose reader closed).
    Error(Option<io::Error>),
}

/// The reactions of one registration. Every method has a default, so a handler implements only
/// what it uses.
///
/// `S` is the loop-wide state every callback can reach through [`Context::state`]; `R` is the
/// manager's handler storage type, [`Boxed<S>`] unless you chose otherwise (see [`Unboxed`]).
///
/// # When the methods run
/// For each event of a turn, in the order epoll reported them:
/// - `EPOLLERR` → `on_error` with [`Failure::Error`], then the registration is closed;
/// - readable (including end of stream) and interested in reading → `on_read`;
/// - then, if still open, writable and interested in writing → `on_write`;
/// - then, if still open and hung up with nothing readable → `on_error` with
///   [`Failure::Hangup`], then the registration is closed.
///
/// After all events, every registration whose deadline has passed gets `on_timeout`, in
/// deadline order; then every registration woken during the turn gets `on_wake`, once. An event for a registration closed earlier in the same batch is dropped.
/// A registration that has paused reading (no `READ` interest) when its peer hangs up gets
/// `on_error` at once: a hang-up cannot wait, since epoll would report it on every turn.
///
/// # Why a `Context`, not a returned action
/// calloop's callbacks return a `PostAction` that the loop applies afterwards. A handler here
/// often needs several effects at once (write, change its interest, reset its timeout, register
/// a new connection, close another) and needs their results immediately: the `Key` of what it
/// added, an error if epoll refused. A returned action would have to become a list, with its
/// results reported a turn late. So callbacks act through the [`Context`]; aliasing is still
/// impossible because the handler being called is out of its slot (see ARCHITECTURE.md), and
/// each operation's timing is documented on [`Context`].
///
/// # Example
/// ```
/// use ioman::{Context, Handler};
/// use rustix::fd::BorrowedFd;
///
/// /// Counts the bytes a peer sends, and closes at end of stream.
/// struct Counter(usize);
///
/// impl Handler<u64> for Counter {
///     fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, u64>) {
///         let mut buf = [0u8; 4096];
///         match rustix::io::read(fd, &mut buf) {
///             Ok(0) | Err(_) => cx.close(),
///             Ok(n) => {
///                 self.0 += n;
///                 *cx.state() += n as u64; // loop-wide total
///             }
///         }
///     }
/// }
/// ```
pub trait Handler<S = (), R = Boxed<S>> {
    /// The fd is readable (or at end of stream, or has a connection to accept).
    ///
    /// Registrations are level-triggered: if you leave data unread you are called again next
    /// turn. The default drops the read interest so that a handler without `on_read` cannot
    /// make the loop spin.
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, S, R>) {
        let _ = fd;
        cx.remove_interest(crate::Interest::READ);
    }

    /// The fd is writable. The default drops the write interest (see `on_read`).
    fn on_write(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, S, R>) {
        let _ = fd;
        cx.remove_interest(crate::Interest::WRITE);
    }

    /// The idle timeout passed (for an fd registration), or the timer is due (`fd` is `None`
    /// for standalone timers). The default closes the registration.
    ///
    /// If the handler neither closes nor sets a new timeout, an idle timeout is re-armed for
    /// another full period from now; a one-shot timer stays registered but dormant.
    fn on_timeout(&mut self, fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, S, R>) {
        let _ = fd;
        cx.close();
    }

    /// Another part of the program asked this registration to run: [`Context::wake`] from a
    /// handler, or [`Manager::wake`](crate::Manager::wake) (e.g. from a job a
    /// [`Remote`](crate::Remote) posted). Wakes coalesce: however many arrive before it runs,
    /// `on_wake` runs once. `fd` is `None` for standalone timers. The default does nothing.
    fn on_wake(&mut self, fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, S, R>) {
        let _ = (fd, cx);
    }

    /// The fd hung up or failed. The registration is closed after this returns (unless the
    /// handler called [`Context::keep_after_error`] for a cleared socket error); the default
    /// does nothing more. The fd is still open during the call: a
    /// handler that had paused reading (and so was not told the fd was readable) can read what
    /// the peer sent before hanging up.
    fn on_error(&mut self, fd: BorrowedFd<'_>, failure: Failure, cx: &mut Context<'_, S, R>) {
        let _ = (fd, failure, cx);
    }
}

/// The default handler storage: any `Handler<S>` behind a box, so registrations with different
/// handler types share one [`Manager<S>`](crate::Manager). Created for you by
/// [`IntoHandler`]: pass the handler itself to `add`.
pub struct Boxed<S: 'static = ()>(Box<dyn AnyHandler<S>>);

/// A boxed handler that can also be seen as [`Any`], so its concrete type can be recovered
/// ([`Boxed::downcast_ref`]). Implemented for every `'static` handler.
trait AnyHandler<S: 'static>: Handler<S, Boxed<S>> + Any {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<S: 'static, T: Handler<S, Boxed<S>> + 'static> AnyHandler<S> for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl<S: 'static> Boxed<S> {
    /// Boxes a handler.
    pub fn new(handler: impl Handler<S, Boxed<S>> + 'static) -> Boxed<S> {
        Boxed(Box::new(handler))
    }

    /// The handler, if it is a `T` (e.g. to inspect a registration's state between turns,
    /// through [`Manager::handler`](crate::Manager::handler)).
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }

    /// The handler, mutably, if it is a `T`.
    pub fn downcast_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.0.as_any_mut().downcast_mut()
    }
}

impl<S: 'static> Handler<S, Boxed<S>> for Boxed<S> {
    fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, S, Boxed<S>>) {
        self.0.on_read(fd, cx)
    }
    fn on_write(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, S, Boxed<S>>) {
        self.0.on_write(fd, cx)
    }
    fn on_timeout(&mut self, fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, S, Boxed<S>>) {
        self.0.on_timeout(fd, cx)
    }
    fn on_wake(&mut self, fd: Option<BorrowedFd<'_>>, cx: &mut Context<'_, S, Boxed<S>>) {
        self.0.on_wake(fd, cx)
    }
    fn on_error(
        &mut self,
        fd: BorrowedFd<'_>,
        failure: Failure,
        cx: &mut Context<'_, S, Boxed<S>>,
    ) {
        self.0.on_error(fd, failure, cx)
    }
}

/// Converts what you pass to `add` into the manager's storage type `R`: any handler into
/// [`Boxed<S>`], or an [`Unboxed`] type into itself.
pub trait IntoHandler<S, R> {
    /// Performs the conversion.
    fn into_handler(self) -> R;
}

impl<S: 'static, T: Handler<S, Boxed<S>> + 'static> IntoHandler<S, Boxed<S>> for T {
    fn into_handler(self) -> Boxed<S> {
        Boxed(Box::new(self))
    }
}

/// Marks a handler type that a manager stores directly, without a box or a virtual call:
/// typically an enum of a program's protocols, used as `Manager<S, MyEnum>`.
///
/// ```
/// use ioman::{Context, Handler, Manager, Unboxed};
/// use rustix::fd::BorrowedFd;
///
/// enum Proto { Ping, Pong }
/// impl Unboxed for Proto {}
/// impl Handler<(), Proto> for Proto {
///     fn on_read(&mut self, _fd: BorrowedFd<'_>, cx: &mut Context<'_, (), Proto>) {
///         match self { Proto::Ping | Proto::Pong => cx.close() }
///     }
/// }
/// let manager: Manager<(), Proto> = Manager::new().unwrap();
/// assert!(manager.is_empty());
/// ```
pub trait Unboxed {}

impl<S, R: Handler<S, R> + Unboxed> IntoHandler<S, R> for R {
    fn into_handler(self) -> R {
        self
    }
}

//! [`Manager`]: the seed's `IO_manager` as an owned value. It owns every registered fd, waits
//! on them with epoll, and calls each registration's [`Handler`]; one [`turn`](Manager::turn)
//! is one wait plus the dispatch of what it returned.

use crate::dispatch;
use crate::key::WAKER_TOKEN;
use crate::registry::Registry;
use crate::remote::{Job, Shared};
use crate::{Boxed, Clock, Error, Handler, Interest, IntoHandler, Key, Modify, Remote, Result};
use crate::{Stats, Timeout, Timer};
use ioman_sys::{Epoll, Events, Waker};
use rustix::fd::{AsFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How a [`Manager`] is built.
#[derive(Clone, Debug)]
pub struct Config {
    clock: Clock,
    event_capacity: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config { clock: Clock::system(), event_capacity: 1024 }
    }
}

impl Config {
    /// The clock deadlines are measured with (default: [`Clock::system`]).
    pub fn clock(mut self, clock: impl Into<Clock>) -> Config {
        self.clock = clock.into();
        self
    }

    /// The most events one wait reports (default 1024); more stay queued in the kernel for
    /// the next turn.
    pub fn event_capacity(mut self, n: usize) -> Config {
        self.event_capacity = n.max(1);
        self
    }
}

/// A caught handler (or posted job) panic, as handed to
/// [`Manager::set_panic_hook`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanicReport {
    /// The registration that panicked and was closed (`None` for a posted job).
    pub key: Option<Key>,
    /// The panic message.
    pub message: String,
}

/// Owns file descriptors and timers, waits on them, and calls their handlers.
///
/// `S` is loop-wide state every handler reaches through [`Context::state`](crate::Context);
/// `R` is how handlers are stored: [`Boxed<S>`] (any handler type, one box each) unless the
/// program uses one [`Unboxed`](crate::Unboxed) type for all of them.
///
/// # Example: a pipe, a handler, one turn
/// ```
/// use ioman::{Context, Handler, Interest, Manager, Timeout};
/// use rustix::fd::BorrowedFd;
/// use std::time::Duration;
///
/// struct Printer;
/// impl Handler<Vec<u8>> for Printer {
///     fn on_read(&mut self, fd: BorrowedFd<'_>, cx: &mut Context<'_, Vec<u8>>) {
///         let mut buf = [0u8; 64];
///         match rustix::io::read(fd, &mut buf) {
///             Ok(0) | Err(_) => cx.close(),
///             Ok(n) => cx.state().extend_from_slice(&buf[..n]),
///         }
///     }
/// }
///
/// let mut manager: Manager<Vec<u8>> = Manager::new()?;
/// let (reader, writer) = rustix::pipe::pipe()?;
/// manager.add(reader, Interest::READ, Timeout::Never, Printer)?;
/// rustix::io::write(&writer, b"hello")?;
/// manager.turn(Some(Duration::from_secs(5)))?;
/// assert_eq!(manager.state(), b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Manager<S = (), R = Boxed<S>> {
    reg: Registry<R>,
    state: S,
    events: Events,
    shared: Arc<Shared<S, R>>,
    due: Vec<Key>,
    /// The wakes being dispatched this turn (swapped with the registry's queue).
    waking: Vec<Key>,
    jobs: Vec<Job<S, R>>,
}

impl<S: Default, R: Handler<S, R>> Manager<S, R> {
    /// A manager with default state and the system clock.
    pub fn new() -> Result<Manager<S, R>> {
        Manager::with_config(S::default(), Config::default())
    }
}

impl<S, R: Handler<S, R>> Manager<S, R> {
    /// A manager holding `state`, reachable from every handler.
    pub fn with_state(state: S) -> Result<Manager<S, R>> {
        Manager::with_config(state, Config::default())
    }

    /// A manager with explicit configuration (e.g. a [`ManualClock`](crate::ManualClock)).
    pub fn with_config(state: S, config: Config) -> Result<Manager<S, R>> {
        let epoll = Epoll::new().map_err(Error::os("epoll_create1"))?;
        let waker = Waker::new().map_err(Error::os("eventfd"))?;
        epoll
            .add(waker.as_fd(), WAKER_TOKEN, Some(Interest::READ))
            .map_err(Error::os("epoll_ctl(ADD)"))?;
        let shared = Shared {
            waker,
            jobs: Mutex::new(Vec::new()),
            notified: AtomicBool::new(false),
            gone: AtomicBool::new(false),
        };
        Ok(Manager {
            reg: Registry::new(epoll, config.clock),
            state,
            events: Events::with_capacity(config.event_capacity),
            shared: Arc::new(shared),
            due: Vec::new(),
            waking: Vec::new(),
            jobs: Vec::new(),
        })
    }

    /// Takes ownership of `fd` and watches it: the seed's `add_interest_to_new_fd`.
    ///
    /// `interest` says which of `on_read`/`on_write` the handler wants (`None`: only errors and
    /// hang-ups); `timeout` is the idle timeout, counted from now. On error the fd is closed
    /// (it was handed over): [`Error::NotPollable`] for regular files and directories,
    /// [`Error::AlreadyRegistered`] if epoll already watches it.
    pub fn add(
        &mut self,
        fd: impl Into<OwnedFd>,
        interest: impl Into<Option<Interest>>,
        timeout: Timeout,
        handler: impl IntoHandler<S, R>,
    ) -> Result<Key> {
        self.reg.add_fd(fd.into(), interest.into(), timeout, handler.into_handler())
    }

    /// Adds a *detached* registration: one with no fd, which otherwise behaves like an fd
    /// registration whose fd never becomes ready. It has an interest (recorded and visible
    /// through [`Context::interest`](crate::Context::interest), never told to epoll), an idle
    /// timeout (`on_timeout` with `fd == None`), and it runs when woken (`on_wake` with
    /// `fd == None`).
    ///
    /// This is what an in-memory transport needs: whoever produces its "readiness" wakes it.
    /// ioman-net's socket-free test harness registers its connections this way.
    pub fn add_detached(
        &mut self,
        interest: impl Into<Option<Interest>>,
        timeout: Timeout,
        handler: impl IntoHandler<S, R>,
    ) -> Key {
        self.reg.add_detached(interest.into(), timeout, handler.into_handler())
    }

    /// Adds a standalone timer: a registration with no fd whose handler gets `on_timeout`
    /// (with `fd == None`) on the timer's schedule.
    pub fn add_timer(&mut self, timer: Timer, handler: impl IntoHandler<S, R>) -> Result<Key> {
        self.reg.add_timer(timer, handler.into_handler())
    }

    /// Changes a registration's interest, timeout and/or handler; what `change` leaves unset
    /// is kept: the seed's `modify_interest_to_fd`.
    pub fn modify(&mut self, key: Key, change: Modify<S, R>) -> Result<()> {
        if let Some(h) = crate::context::apply(&mut self.reg, key, change)? {
            if let Some(parts) = &mut self.reg.entry(key)?.parts {
                parts.handler = h;
            }
        }
        Ok(())
    }

    /// Sets a registration's interest (`None` pauses it).
    pub fn set_interest(&mut self, key: Key, interest: impl Into<Option<Interest>>) -> Result<()> {
        self.reg.set_interest(key, interest.into())
    }

    /// Sets a registration's timeout, counted from now.
    pub fn set_timeout(&mut self, key: Key, timeout: Timeout) -> Result<()> {
        self.reg.set_timeout(key, timeout)
    }

    /// Removes the fd from epoll, drops its handler and closes the fd, in that order: the
    /// seed's `Close_fd`. A second close of the same key is [`Error::UnknownKey`].
    pub fn close(&mut self, key: Key) -> Result<()> {
        self.reg.close(key)
    }

    /// Asks for `key`'s `on_wake`, in the next turn (the turn does not sleep). From another
    /// thread: `remote.post(move |m| { let _ = m.wake(key); })`.
    pub fn wake(&mut self, key: Key) -> Result<()> {
        self.reg.wake(key)
    }

    /// A registration's current interest (`None`: paused, a timer, or no such key).
    pub fn interest(&self, key: Key) -> Option<Interest> {
        self.reg.slots.get(key).and_then(|e| e.interest)
    }

    /// Whether a wake is pending: the next [`turn`](Self::turn) will call `on_wake` (and will
    /// not sleep). Lets a driver turn "until quiet".
    pub fn wakes_pending(&self) -> bool {
        !self.reg.woken.is_empty()
    }

    /// Whether `key` names a live registration.
    pub fn contains(&self, key: Key) -> bool {
        self.reg.slots.contains_key(key)
    }

    /// The number of live registrations (fds and timers).
    pub fn len(&self) -> usize {
        self.reg.slots.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.reg.slots.is_empty()
    }

    /// A registration's handler, for inspection between turns.
    pub fn handler(&self, key: Key) -> Option<&R> {
        self.reg.slots.get(key).and_then(|e| e.parts.as_ref()).map(|p| &p.handler)
    }

    /// A registration's handler, mutably, between turns.
    pub fn handler_mut(&mut self, key: Key) -> Option<&mut R> {
        self.reg.slots.get_mut(key).and_then(|e| e.parts.as_mut()).map(|p| &mut p.handler)
    }

    /// The loop-wide state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The loop-wide state, mutably.
    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
    }

    /// The current time by the manager's clock.
    pub fn now(&self) -> Instant {
        self.reg.time.clock.now()
    }

    /// The manager's counters.
    pub fn stats(&self) -> Stats {
        Stats { registrations: self.reg.slots.len(), ..self.reg.stats }
    }

    /// A handle for other threads (see [`Remote`]).
    pub fn remote(&self) -> Remote<S, R> {
        Remote { shared: Arc::clone(&self.shared) }
    }

    /// Called with each caught panic (after Rust's own panic hook printed it).
    pub fn set_panic_hook(&mut self, hook: impl FnMut(&PanicReport) + 'static) {
        self.reg.panic_hook = Some(Box::new(hook));
    }

    /// One turn: tell epoll of changed interests, wait (at most `timeout`, and never past the
    /// next deadline), dispatch every event, fire every due timeout in deadline order, call
    /// `on_wake` for every woken registration, then run posted jobs. Returns the number of
    /// events the wait reported.
    ///
    /// "Now" is read at most once per turn, when the turn first needs it (see
    /// [`Context::now`](crate::Context::now)). A zero timeout still polls I/O first: timeouts
    /// never starve I/O.
    pub fn turn(&mut self, timeout: Option<Duration>) -> Result<usize> {
        self.reg.flush_interest();
        let wait = self.reg.wait_timeout(timeout);
        let n = self.reg.epoll.wait(&mut self.events, wait).map_err(Error::os("epoll_pwait"))?;
        self.reg.time.begin_turn();
        let mut woken = false;
        for (token, ready) in self.events.iter() {
            if token == WAKER_TOKEN {
                woken = true;
            } else {
                dispatch::event(&mut self.reg, &mut self.state, Key::from_token(token), ready);
            }
        }
        if self.reg.timers.next().is_some() {
            self.fire_timeouts();
            self.reg.compact_timers();
        }
        self.run_wakes();
        self.reg.time.end_turn();
        self.reg.stats.turns += 1;
        if woken {
            self.run_jobs()?;
        }
        Ok(n)
    }

    /// Turns until [`stop`](Self::stop) is called (from a handler, a job or a [`Remote`]), or
    /// until nothing is left to wait for: no registration and no `Remote` alive.
    ///
    /// With a manual clock, waits are not shortened for deadlines still to come (sleeping would
    /// not bring them closer); drive such a manager with [`turn`](Self::turn) instead.
    pub fn run(&mut self) -> Result<()> {
        loop {
            if std::mem::take(&mut self.reg.stop) {
                return Ok(());
            }
            // Nothing registered, no Remote that could post, nothing posted: nothing to wait for.
            if self.is_empty()
                && Arc::strong_count(&self.shared) == 1
                && !self.shared.notified.load(Ordering::Acquire)
            {
                return Ok(());
            }
            self.turn(None)?;
        }
    }

    fn fire_timeouts(&mut self) {
        let Some(first) = self.reg.timers.next() else { return };
        let now = self.reg.time.now_tick();
        if first > now {
            return;
        }
        let reg = &mut self.reg;
        while let Some(popped) =
            reg.timers.pop_due(now, |k| reg.slots.get_mut(k).map(|e| &mut e.deadline))
        {
            if let crate::timer_queue::Popped::Due(key) = popped {
                self.due.push(key);
            }
        }
        for i in 0..self.due.len() {
            dispatch::timeout(&mut self.reg, &mut self.state, self.due[i]);
        }
        self.due.clear();
    }

    /// Calls `on_wake` for every registration woken before this point of the turn; wakes
    /// requested meanwhile wait for the next turn (which then does not sleep).
    fn run_wakes(&mut self) {
        if self.reg.woken.is_empty() {
            return;
        }
        std::mem::swap(&mut self.waking, &mut self.reg.woken);
        for i in 0..self.waking.len() {
            dispatch::wake(&mut self.reg, &mut self.state, self.waking[i]);
        }
        self.waking.clear();
    }

    fn run_jobs(&mut self) -> Result<()> {
        self.shared.waker.drain().map_err(Error::os("read(eventfd)"))?;
        self.shared.notified.store(false, Ordering::Release);
        let mut jobs = std::mem::take(&mut self.jobs);
        std::mem::swap(
            &mut jobs,
            &mut self.shared.jobs.lock().unwrap_or_else(PoisonError::into_inner),
        );
        for job in jobs.drain(..) {
            self.reg.stats.jobs_run += 1;
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| job(self))) {
                self.reg.stats.panics_caught += 1;
                dispatch::report_panic(&mut self.reg, None, payload);
            }
        }
        self.jobs = jobs;
        Ok(())
    }
}

impl<S, R> Manager<S, R> {
    /// Makes [`run`](Self::run) return after the current turn.
    pub fn stop(&mut self) {
        self.reg.stop = true;
    }
}

impl<S, R> Drop for Manager<S, R> {
    fn drop(&mut self) {
        self.shared.gone.store(true, Ordering::Release);
    }
}

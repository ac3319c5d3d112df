//! [`Remote`]: the manager's only door to other threads. A cloneable, `Send` handle that posts
//! closures into the loop and wakes it through an eventfd.
//!
//! Wakes coalesce: however many closures are posted before the loop looks, it is woken once,
//! drains the eventfd once, and then runs *every* queued closure, in posting order.

use crate::{Error, Manager, Result};
use ioman_sys::Waker;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

pub(crate) type Job<S, R> = Box<dyn FnOnce(&mut Manager<S, R>) + Send>;

pub(crate) struct Shared<S, R> {
    pub(crate) waker: Waker,
    pub(crate) jobs: Mutex<Vec<Job<S, R>>>,
    /// Set when a wake is pending, so a burst of posts costs one eventfd write.
    pub(crate) notified: AtomicBool,
    /// Set when the manager is dropped: posting then fails instead of queueing forever.
    pub(crate) gone: AtomicBool,
}

/// A handle to a [`Manager`] usable from any thread: post work into the loop, or stop it.
///
/// ```
/// use ioman::Manager;
/// let mut manager: Manager<u32> = Manager::new().unwrap();
/// let remote = manager.remote();
/// std::thread::spawn(move || {
///     remote.post(|m| *m.state_mut() += 1).unwrap();
///     remote.stop().unwrap();
/// });
/// manager.run().unwrap();
/// assert_eq!(*manager.state(), 1);
/// ```
pub struct Remote<S, R> {
    pub(crate) shared: Arc<Shared<S, R>>,
}

impl<S, R> Clone for Remote<S, R> {
    fn clone(&self) -> Self {
        Remote { shared: Arc::clone(&self.shared) }
    }
}

impl<S, R> Remote<S, R> {
    /// Queues `job` to run on the loop's thread, with the whole manager, at the end of the
    /// loop's next turn; wakes the loop if it is waiting.
    pub fn post(&self, job: impl FnOnce(&mut Manager<S, R>) + Send + 'static) -> Result<()> {
        if self.shared.gone.load(Ordering::Acquire) {
            return Err(Error::ManagerGone);
        }
        self.shared.jobs.lock().unwrap_or_else(PoisonError::into_inner).push(Box::new(job));
        if !self.shared.notified.swap(true, Ordering::AcqRel) {
            self.shared.waker.wake().map_err(Error::os("write(eventfd)"))?;
        }
        Ok(())
    }

    /// Asks the loop to stop: [`Manager::run`] returns after the turn that runs this request.
    pub fn stop(&self) -> Result<()> {
        self.post(|m| m.stop())
    }
}

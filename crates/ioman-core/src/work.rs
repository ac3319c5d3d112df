//! [`WorkPool`]: blocking work off the loop — libuv's `uv_queue_work`. A closure runs on one of
//! a few helper threads; its result comes back to the loop's thread as a callback with the
//! whole [`Manager`], posted through a [`Remote`]. So a slow name lookup, a file read or a
//! compression never stalls a turn.
//!
//! Bounded by construction: a fixed number of threads and a queue of fixed length; a job that
//! does not fit is refused ([`WorkError::Full`]), never queued without limit. A job that
//! panics is reported to its callback as [`WorkError::Panicked`], and its thread lives on.

use crate::{Manager, Remote};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

type Job = Box<dyn FnOnce() + Send>;

/// Why a job's result did not come, or could not be queued.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkError {
    /// The queue is full: the job was not accepted (its callback is not called).
    #[error("the work queue is full ({0} jobs wait)")]
    Full(usize),
    /// The pool is shutting down: the job was not accepted.
    #[error("the work pool is shut down")]
    ShutDown,
    /// The job panicked, with this message.
    #[error("the job panicked: {0}")]
    Panicked(String),
}

struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
    cap: usize,
    closed: AtomicBool,
}

/// A fixed set of helper threads with a bounded queue (see the module docs).
///
/// ```
/// use ioman::{Manager, WorkPool};
/// use std::time::Duration;
///
/// let mut manager: Manager<Vec<u64>> = Manager::new()?;
/// let pool = WorkPool::new(2, 64)?;
/// let remote = manager.remote();
/// // A slow computation on a helper thread; its result lands in the loop's state.
/// pool.submit(&remote, || (1..=20u64).product::<u64>(), |result, m| {
///     m.state_mut().push(result.expect("no panic"));
/// })?;
/// while manager.state().is_empty() {
///     manager.turn(Some(Duration::from_secs(5)))?;
/// }
/// assert_eq!(manager.state()[0], 2_432_902_008_176_640_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WorkPool {
    queue: Arc<Queue>,
}

impl WorkPool {
    /// Starts `threads` helper threads (at least one) sharing a queue of at most `queue` waiting
    /// jobs.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<WorkPool> {
        let queue = Arc::new(Queue {
            jobs: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            cap: queue.max(1),
            closed: AtomicBool::new(false),
        });
        for i in 0..threads.max(1) {
            let q = Arc::clone(&queue);
            std::thread::Builder::new().name(format!("ioman-work-{i}")).spawn(move || work(&q))?;
        }
        Ok(WorkPool { queue })
    }

    /// Runs `job` on a helper thread, then `done` on the loop's thread (at the end of a turn)
    /// with its result, or with [`WorkError::Panicked`]. Refused with [`WorkError::Full`] when
    /// the queue is full. If the manager is gone by then, the result is dropped.
    pub fn submit<T, S, R>(
        &self,
        remote: &Remote<S, R>,
        job: impl FnOnce() -> T + Send + 'static,
        done: impl FnOnce(Result<T, WorkError>, &mut Manager<S, R>) + Send + 'static,
    ) -> Result<(), WorkError>
    where
        T: Send + 'static,
        S: 'static,
        R: 'static,
    {
        let remote = remote.clone();
        self.push(Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(job)).map_err(|payload| {
                let message =
                    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
                        (Some(s), _) => (*s).to_owned(),
                        (_, Some(s)) => s.clone(),
                        _ => "non-string panic payload".to_owned(),
                    };
                WorkError::Panicked(message)
            });
            let _ = remote.post(move |m| done(result, m));
        }))
    }

    /// Jobs accepted and not yet started.
    pub fn queued(&self) -> usize {
        self.queue.jobs.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn push(&self, job: Job) -> Result<(), WorkError> {
        if self.queue.closed.load(Ordering::Acquire) {
            return Err(WorkError::ShutDown);
        }
        let mut jobs = self.queue.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if jobs.len() >= self.queue.cap {
            return Err(WorkError::Full(jobs.len()));
        }
        jobs.push_back(job);
        drop(jobs);
        self.queue.ready.notify_one();
        Ok(())
    }
}

impl Drop for WorkPool {
    /// Jobs not yet started are dropped (their callbacks never run); running ones finish, and
    /// their threads then end. Nothing waits here: a job stuck in a slow call cannot hold up
    /// the loop that drops the pool.
    fn drop(&mut self) {
        self.queue.closed.store(true, Ordering::Release);
        self.queue.jobs.lock().unwrap_or_else(PoisonError::into_inner).clear();
        self.queue.ready.notify_all();
    }
}

/// A helper thread: run jobs until the pool is dropped.
fn work(queue: &Queue) {
    loop {
        let job = {
            let mut jobs = queue.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if queue.closed.load(Ordering::Acquire) {
                    return;
                }
                if let Some(job) = jobs.pop_front() {
                    break job;
                }
                jobs = queue.ready.wait(jobs).unwrap_or_else(PoisonError::into_inner);
            }
        };
        job(); // catches its own panics
    }
}

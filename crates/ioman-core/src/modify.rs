//! [`Modify`]: the seed's `modify_interest_to_fd` as a value. Each part is either given or
//! kept, which replaces the seed's "timeout 0 means keep the old one".

use crate::{Interest, IntoHandler, Timeout};
use std::marker::PhantomData;

/// A change to an existing registration: any of interest, timeout and handler; what is not set
/// is kept.
///
/// ```
/// use ioman::{Interest, Modify, Timeout};
/// use std::time::Duration;
/// let m: Modify<()> = Modify::new()
///     .interest(Interest::READ | Interest::WRITE)
///     .timeout(Timeout::Idle(Duration::from_secs(30)));
/// # let _ = m;
/// ```
pub struct Modify<S, R = crate::Boxed<S>> {
    pub(crate) interest: Option<Option<Interest>>,
    pub(crate) timeout: Option<Timeout>,
    pub(crate) handler: Option<R>,
    state: PhantomData<fn(&mut S)>,
}

impl<S, R> Modify<S, R> {
    /// A change that keeps everything.
    pub fn new() -> Modify<S, R> {
        Modify { interest: None, timeout: None, handler: None, state: PhantomData }
    }

    /// Sets the interest; `None` pauses the registration (only errors and hang-ups are
    /// reported).
    pub fn interest(mut self, interest: impl Into<Option<Interest>>) -> Modify<S, R> {
        self.interest = Some(interest.into());
        self
    }

    /// Sets the timeout; the new deadline counts from now.
    pub fn timeout(mut self, timeout: Timeout) -> Modify<S, R> {
        self.timeout = Some(timeout);
        self
    }

    /// Replaces the handler. The old one is dropped (after its current callback returns, if
    /// it is the one being called).
    pub fn handler(mut self, handler: impl IntoHandler<S, R>) -> Modify<S, R> {
        self.handler = Some(handler.into_handler());
        self
    }
}

impl<S, R> Default for Modify<S, R> {
    fn default() -> Modify<S, R> {
        Modify::new()
    }
}

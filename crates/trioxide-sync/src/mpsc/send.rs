//! The waiting half of a bounded send, shared by [`mpsc`](crate::mpsc) and
//! [`mpmc`](crate::mpmc): both channels' `Send` futures hold a [`WaitingSend`] and differ
//! only in the channel they push into.
//!
//! The protocol is `mpsc`'s rule 2 (the waiter-list side of "register, then re-check"):
//!
//! 1. Try the push. If the ring is full and this future is not registered yet, register
//!    in the channel's send `WaitList`, then try once more: a pop that freed a slot
//!    before the registration is seen by the retry; one after it wakes this future.
//! 2. Still full: keep the value and return `Pending`.
//! 3. On completion (sent, or closed) leave the list. A future dropped while registered
//!    leaves it too and, if it had been woken, passes the wake-up on to the next sender,
//!    so a cancelled send never strands a free slot.

use super::{PushError, SendError};
use crate::waiters::WaitList;
use std::task::{Context, Poll};

/// A value on its way into a bounded channel, and this sender's place in the channel's
/// send waiter list while it waits.
pub(crate) struct WaitingSend<T> {
    value: Option<T>,
    key: Option<usize>,
}

impl<T> WaitingSend<T> {
    /// A send of `value`, not registered anywhere yet.
    pub(crate) fn new(value: T) -> Self {
        Self {
            value: Some(value),
            key: None,
        }
    }

    /// One poll (rules 1–3): `push` is the channel's push, `waiters` its send waiters.
    #[inline]
    pub(crate) fn poll(
        &mut self,
        mut push: impl FnMut(T) -> Result<(), PushError<T>>,
        waiters: &WaitList,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<T>>> {
        let mut value = self.value.take().expect("Send polled after completion");
        let mut registered = false;
        loop {
            let res = match push(value) {
                Ok(()) => Ok(()),
                Err(PushError::Closed(v)) => Err(SendError(v)),
                Err(PushError::Full(v)) if !registered => {
                    // Register, then try once more (rule 1).
                    waiters.register(&mut self.key, cx.waker());
                    registered = true;
                    value = v;
                    continue;
                }
                Err(PushError::Full(v)) => {
                    self.value = Some(v);
                    return Poll::Pending;
                }
            };
            if let Some(key) = self.key.take() {
                // Done: we used the room we were woken for (or the channel is closed,
                // which wakes everyone anyway).
                waiters.remove(key);
            }
            return Poll::Ready(res);
        }
    }

    /// The future is being dropped: leave `waiters`, passing on a wake-up (rule 3).
    pub(crate) fn cancel(&mut self, waiters: &WaitList) {
        if let Some(key) = self.key.take() {
            waiters.remove_and_pass_on(key);
        }
    }
}

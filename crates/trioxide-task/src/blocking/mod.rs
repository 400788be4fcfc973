//! The blocking pool: a growable set of OS threads that run blocking closures
//! ([`BlockingPool::spawn_blocking`]) so they never stall an executor thread.
//!
//! # Algorithm
//! This is tokio's blocking pool (`runtime/blocking/pool.rs`): closures become ordinary
//! tasks, threads start on demand and retire when idle. The hand-off queue is a
//! crossbeam-channel MPMC channel instead of tokio's mutex-protected `VecDeque` plus
//! condvar, and the pool's bookkeeping is one counter, `surplus`:
//!
//! - `task.rs`: each closure is a task whose future ([`BlockingTask`](task::BlockingTask))
//!   calls the closure on its first poll, outside the coop budget; its scheduler hands
//!   the task's `Notified` to the pool and removes it from the pool's `OwnedTasks` when it
//!   completes. The task core therefore provides the `JoinHandle`, cancellation before the
//!   start, and panic capture (`JoinError::Panicked`) for free.
//! - `pool.rs`: `surplus` = (threads waiting on the channel) − (jobs in the channel),
//!   kept under the pool mutex. A spawn pushes its job and decrements it; a negative
//!   surplus means no waiting thread is left for this job, so a thread is started if fewer
//!   than `max_threads` are alive — otherwise the job waits for a busy thread. A worker
//!   that *receives* a job changes both terms by one (no update needed); one that finishes
//!   a job and waits again increments it. A worker whose wait times out (`keep_alive`)
//!   re-checks the channel *under the mutex* before retiring, so a job pushed concurrently
//!   is either taken by that check or its spawner, locking later, sees the worker gone and
//!   starts another thread: no job is ever left without a thread.
//! - Shutdown closes the channel (idle workers wake and exit), cancels every task not yet
//!   started through `OwnedTasks::close_and_drain`, and waits on a condvar, up to a
//!   timeout, for the thread count to reach zero.
//!
//! # Loom
//! crossbeam-channel is not loom-aware, so under `cfg(trioxide_loom)` the channel below is
//! a loom `Mutex<VecDeque>`. Loom has no clock either: there, a worker's keep-alive wait is
//! a single `yield_now` — "the keep-alive elapsed" happens at whatever point the model
//! picks — which lets loom explore a spawn racing the retire path. The shutdown wait has no
//! deadline under loom (it waits for the threads to exit).

mod pool;
mod task;

pub use pool::BlockingPool;

use std::time::Duration;

/// How a [`BlockingPool`] sizes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingConfig {
    /// The most threads alive at once; beyond it, work queues up. Default 512; 0 is
    /// treated as 1.
    pub max_threads: usize,
    /// How long an idle thread waits for work before it exits. Default 10 s.
    pub keep_alive: Duration,
    /// The name of every pool thread. Default `"trioxide-blocking"`.
    pub thread_name: String,
}

impl Default for BlockingConfig {
    fn default() -> Self {
        BlockingConfig {
            max_threads: 512,
            keep_alive: Duration::from_secs(10),
            thread_name: String::from("trioxide-blocking"),
        }
    }
}

/// What a worker's wait on the hand-off channel gave.
pub(crate) enum Pop {
    /// A task to run.
    Task(crate::task::Notified),
    /// The keep-alive passed with no work.
    Timeout,
    /// The pool shut down (the sending half is gone) and the channel is empty.
    Closed,
}

/// The hand-off channel: a crossbeam MPMC channel (std build). One `Sender`, owned by the
/// pool state; every worker receives through the pool's shared `Receiver`.
#[cfg(not(trioxide_loom))]
mod channel {
    use super::Pop;
    use crate::task::Notified;
    use crossbeam_channel::RecvTimeoutError;
    use std::time::Duration;

    /// The sending half; dropping it closes the channel.
    pub(crate) struct Sender(crossbeam_channel::Sender<Notified>);
    /// The receiving half, shared by all workers.
    pub(crate) struct Receiver(crossbeam_channel::Receiver<Notified>);

    pub(crate) fn channel() -> (Sender, Receiver) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (Sender(tx), Receiver(rx))
    }

    impl Sender {
        /// Queues `task`. The pool keeps the `Receiver` alive while a `Sender` exists, so
        /// this cannot fail; if it ever did, the task is dropped (its owned-list entry is
        /// cancelled by shutdown).
        pub(crate) fn push(&self, task: Notified) {
            let _ = self.0.send(task);
        }
    }

    impl Receiver {
        /// Waits up to `keep_alive` for a task.
        pub(crate) fn pop_timeout(&self, keep_alive: Duration) -> Pop {
            match self.0.recv_timeout(keep_alive) {
                Ok(task) => Pop::Task(task),
                Err(RecvTimeoutError::Timeout) => Pop::Timeout,
                Err(RecvTimeoutError::Disconnected) => Pop::Closed,
            }
        }

        /// Takes a task if one is queued.
        pub(crate) fn try_pop(&self) -> Option<Notified> {
            // Empty or disconnected: nothing to take either way.
            self.0.try_recv().ok()
        }
    }
}

/// The hand-off channel under loom: a `Mutex<VecDeque>` with a closed flag, and a
/// keep-alive wait that is one `yield_now` (loom has no clock; see the module docs).
#[cfg(trioxide_loom)]
mod channel {
    use super::Pop;
    use crate::loom::sync::{Arc, Mutex};
    use crate::task::Notified;
    use std::collections::VecDeque;
    use std::time::Duration;

    struct Chan {
        queue: VecDeque<Notified>,
        closed: bool,
    }

    /// The sending half; dropping it closes the channel.
    pub(crate) struct Sender(Arc<Mutex<Chan>>);
    /// The receiving half, shared by all workers.
    pub(crate) struct Receiver(Arc<Mutex<Chan>>);

    pub(crate) fn channel() -> (Sender, Receiver) {
        let chan = Arc::new(Mutex::new(Chan {
            queue: VecDeque::new(),
            closed: false,
        }));
        (Sender(chan.clone()), Receiver(chan))
    }

    impl Sender {
        /// Queues `task`.
        pub(crate) fn push(&self, task: Notified) {
            self.0.lock().unwrap().queue.push_back(task);
        }
    }

    impl Drop for Sender {
        fn drop(&mut self) {
            self.0.lock().unwrap().closed = true;
        }
    }

    impl Receiver {
        /// Takes a task, or yields once and tries again before reporting a timeout.
        pub(crate) fn pop_timeout(&self, _keep_alive: Duration) -> Pop {
            if let Some(pop) = self.poll() {
                return pop;
            }
            crate::loom::thread::yield_now();
            self.poll().unwrap_or(Pop::Timeout)
        }

        fn poll(&self) -> Option<Pop> {
            let mut chan = self.0.lock().unwrap();
            match chan.queue.pop_front() {
                Some(task) => Some(Pop::Task(task)),
                None if chan.closed => Some(Pop::Closed),
                None => None,
            }
        }

        /// Takes a task if one is queued.
        pub(crate) fn try_pop(&self) -> Option<Notified> {
            self.0.lock().unwrap().queue.pop_front()
        }
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::channel::channel;
    use super::*;
    use crate::task::{Notified, Schedule, Task, new_task};

    /// A scheduler that owns nothing: the test runs the task by hand.
    struct Manual;
    impl Schedule for Manual {
        fn schedule(&self, task: Notified) {
            drop(task);
        }
        fn release(&self, _task: &Task) -> Option<Task> {
            None
        }
    }

    #[test]
    fn defaults_match_the_issue() {
        let config = BlockingConfig::default();
        assert_eq!(config.max_threads, 512);
        assert_eq!(config.keep_alive, Duration::from_secs(10));
        assert_eq!(config.thread_name, "trioxide-blocking");
    }

    #[test]
    fn channel_hands_off_times_out_and_closes() {
        let (tx, rx) = channel();
        let (task, notified, handle) = new_task(async { 7 }, Manual);
        assert!(rx.try_pop().is_none());
        assert!(matches!(
            rx.pop_timeout(Duration::from_millis(1)),
            Pop::Timeout
        ));
        tx.push(notified);
        match rx.pop_timeout(Duration::from_secs(5)) {
            Pop::Task(notified) => notified.run(),
            _ => panic!("the queued task must come out"),
        }
        assert!(handle.is_finished());
        drop(tx);
        assert!(matches!(
            rx.pop_timeout(Duration::from_secs(5)),
            Pop::Closed
        ));
        drop((task, handle));
    }
}

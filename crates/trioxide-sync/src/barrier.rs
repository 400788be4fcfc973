//! `Barrier`: `n` tasks wait until all `n` have arrived, then all proceed; one of them is
//! told it is the leader — tokio's `sync::Barrier` (and `asyncio.Barrier`'s basic use).
//!
//! The algorithm: a mutex guards the arrival count, a generation number and a
//! [`Waiters`] list. The `n`-th arrival resets the count, bumps the generation and wakes
//! everyone; the others wait until the generation differs from the one they arrived in.
//! The barrier is reusable: each generation is one round.

use crate::lock;
use crate::loom::sync::Mutex;
use crate::waiters::{Waiters, wake_all};
use std::fmt;
use std::task::Poll;

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this task was the one whose arrival released the round (one per round).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

struct State {
    arrived: usize,
    generation: u64,
    waiters: Waiters,
}

/// A reusable barrier for `n` tasks.
pub struct Barrier {
    n: usize,
    state: Mutex<State>,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .field("arrived", &st.arrived)
            .finish()
    }
}

/// Removes a waiter's registration when its `wait` future goes.
struct Registration<'a> {
    barrier: &'a Barrier,
    key: Option<usize>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.barrier.state).waiters.remove(key);
        }
    }
}

impl Barrier {
    /// A barrier releasing every `n` arrivals (`n == 0` behaves as `1`).
    pub fn new(n: usize) -> Self {
        Self {
            n: n.max(1),
            state: Mutex::new(State {
                arrived: 0,
                generation: 0,
                waiters: Waiters::new(),
            }),
        }
    }

    /// Arrives and waits for the round's other tasks.
    ///
    /// Not cancel-safe: the arrival counts as soon as the future is first polled, even if
    /// it is dropped before the round completes.
    pub async fn wait(&self) -> BarrierWaitResult {
        let generation = {
            let mut st = lock(&self.state);
            st.arrived += 1;
            if st.arrived == self.n {
                st.arrived = 0;
                st.generation += 1;
                let mut wakers = Vec::new();
                st.waiters.notify_all(&mut wakers);
                drop(st);
                wake_all(wakers);
                return BarrierWaitResult(true);
            }
            st.generation
        };
        let mut reg = Registration {
            barrier: self,
            key: None,
        };
        std::future::poll_fn(|cx| {
            let mut st = lock(&self.state);
            if st.generation != generation {
                if let Some(key) = reg.key.take() {
                    st.waiters.remove(key);
                }
                return Poll::Ready(());
            }
            st.waiters.register(&mut reg.key, cx.waker(), ());
            Poll::Pending
        })
        .await;
        BarrierWaitResult(false)
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use crate::blocking::block_on;
    use std::sync::Arc;

    #[test]
    fn one_leader_per_round() {
        let b = Arc::new(Barrier::new(3));
        for _round in 0..3 {
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let b = b.clone();
                    std::thread::spawn(move || block_on(b.wait()).is_leader())
                })
                .collect();
            let leaders = threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .filter(|&l| l)
                .count();
            assert_eq!(leaders, 1);
        }
        assert!(block_on(Barrier::new(0).wait()).is_leader());
    }
}

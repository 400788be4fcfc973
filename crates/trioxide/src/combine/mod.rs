//! The asyncio combinators: run several futures or tasks at once and pick results out of
//! them — `asyncio.gather`, `asyncio.wait`, `asyncio.as_completed` and a `select`.
//!
//! | asyncio | trioxide |
//! |---|---|
//! | `await gather(a, b, c)` | [`join!`](crate::join)`(a, b, c)` → a tuple, in argument order |
//! | `await gather(*aws)` | [`join_all`]`(iter)` → a `Vec`, in input order |
//! | `gather(..)` raising the first exception | [`try_join!`](crate::try_join), [`try_join_all`]: the first `Err` drops the rest |
//! | `gather(.., return_exceptions=True)` | [`join_all`] of futures returning `Result`: every result, nothing cancelled |
//! | `wait(tasks, return_when=FIRST_COMPLETED, timeout=t)` | [`wait`]`(handles, `[`Wait::FirstCompleted`]`, Some(t))` → `(done, pending)` |
//! | `FIRST_EXCEPTION`, `ALL_COMPLETED` | [`Wait::FirstError`], [`Wait::AllCompleted`] |
//! | `for t in as_completed(tasks)` | [`as_completed`]`(handles)`, a `Stream` (and `.next().await`) |
//! | `wait_for` on the first of several | [`select!`](crate::select), [`race`], [`race_all`] |
//!
//! ```
//! use std::time::Duration;
//! use trioxide::{Wait, time::sleep};
//!
//! trioxide::run(async {
//!     // gather: all results, in order.
//!     let (a, b) = trioxide::join!(async { 1 }, async { "two" });
//!     assert_eq!((a, b), (1, "two"));
//!
//!     // wait(FIRST_COMPLETED): the first task done, the others still running.
//!     let tasks: Vec<_> = (1..=3u64)
//!         .map(|i| trioxide::spawn(async move {
//!             sleep(Duration::from_millis(15 * i)).await;
//!             i
//!         }))
//!         .collect();
//!     let (done, pending) = trioxide::wait(tasks, Wait::FirstCompleted, None).await;
//!     assert_eq!(done.len(), 1);
//!
//!     // as_completed: the rest, in the order they finish.
//!     let mut rest = trioxide::as_completed(pending);
//!     while let Some(result) = rest.next().await {
//!         println!("finished: {}", result.unwrap());
//!     }
//! });
//! ```
//!
//! # Where the semantics come from
//! `join!`, `try_join!` and `select!` follow the shape of `futures::join!` / `tokio::join!`
//! and `tokio::select!` (biased and randomly-started forms); `join_all`, `race_all`,
//! `wait` and `as_completed` poll their children through per-child wakers that push the
//! child's index onto a shared ready list, the scheme of `futures::stream::FuturesUnordered`
//! (simplified: one `Mutex`ed list instead of an intrusive MPSC queue). A wake costs a
//! lock and a push, and a poll of the parent touches only the children that woke, so
//! 10,000 children cost O(woken) per wake rather than O(n). `wait` and `as_completed`
//! follow CPython's `asyncio/tasks.py` (`_wait`, `as_completed`), mapped onto handles.
//!
//! # Cancellation
//! Dropping a future cancels it (Rust's rule), so every combinator that stops early —
//! `try_join!` / `try_join_all` on the first `Err`, the losers of `select!`, `race`,
//! `race_all` — *drops* the futures it no longer needs, which cancels them. Dropping a
//! [`JoinHandle`](crate::JoinHandle) only *detaches* its task, so [`wait`] and
//! [`as_completed`], which own handles, never cancel tasks: `wait` hands the unfinished
//! ones back as `pending` (asyncio does not cancel them either), and dropping a `wait`
//! future or an [`AsCompleted`] stream drops the handles it holds, detaching those tasks;
//! call [`JoinHandle::cancel`](crate::JoinHandle::cancel) to stop them.
//!
//! # Fairness
//! Each combinator's docs say in which order it polls. In short: `join!` and `join_all`
//! poll only the children that were woken, each at most once per poll of the combinator,
//! in declaration / input order; `select!` starts at a random branch unless `biased;`;
//! `race` starts at a random side; `race_all`, `wait` and `as_completed` poll children in
//! the order they were woken.

mod as_completed;
mod join;
mod race;
mod select;
mod wait;

pub use as_completed::{AsCompleted, as_completed};
pub use join::{JoinAll, TryJoinAll, join_all, try_join_all};
pub use race::{RaceAll, race, race_all};
pub use wait::{Finished, Wait, wait};

// The ready list needs `std`'s `Arc` (a `Waker` is built from `Arc<impl Wake>`), so this
// module uses `std::sync` directly rather than the loom shim; it holds no unsafe code and
// its only shared state is one `Mutex`.
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

/// A fixed set of children, each with its own waker; waking child `i` puts `i` on a
/// shared ready list (once, until the parent takes it) and wakes the parent's waker when
/// the list was empty — if it was not, the parent has been woken already and has not yet
/// taken the list.
pub(crate) struct ReadySet {
    shared: Arc<Shared>,
    wakers: Vec<Waker>,
}

struct Shared {
    state: Mutex<ReadyState>,
}

struct ReadyState {
    /// `queued[i]`: `i` is on `list` (so a second wake does not push it twice).
    queued: Vec<bool>,
    /// The children woken since the parent last took the list, in wake order.
    list: Vec<usize>,
    /// The parent's waker, from its latest poll.
    parent: Option<Waker>,
}

struct ChildWaker {
    shared: Arc<Shared>,
    index: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ReadyState> {
        // A panic while holding this lock leaves the list consistent (every update is a
        // push or a swap), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let parent = {
            let mut state = self.shared.lock();
            if state.queued[self.index] {
                return;
            }
            state.queued[self.index] = true;
            state.list.push(self.index);
            if state.list.len() > 1 {
                return;
            }
            state.parent.clone()
        };
        // Woken outside the lock: the parent's wake may run arbitrary scheduler code.
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

impl ReadySet {
    /// `n` children, all of them initially on the ready list (in index order), since
    /// every child must be polled once.
    pub(crate) fn new(n: usize) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(ReadyState {
                queued: vec![true; n],
                list: (0..n).collect(),
                parent: None,
            }),
        });
        let wakers = (0..n)
            .map(|index| {
                Waker::from(Arc::new(ChildWaker {
                    shared: shared.clone(),
                    index,
                }))
            })
            .collect();
        ReadySet { shared, wakers }
    }

    /// Records `cx`'s waker as the parent's and moves the woken children's indices onto
    /// the end of `into`, in wake order. A child woken after this call (also while the
    /// parent polls it) is put on the list again and wakes the parent.
    pub(crate) fn take_woken(&self, cx: &Context<'_>, into: &mut VecDeque<usize>) {
        let mut state = self.shared.lock();
        let old = match &state.parent {
            Some(w) if w.will_wake(cx.waker()) => None,
            _ => state.parent.replace(cx.waker().clone()),
        };
        let ReadyState { queued, list, .. } = &mut *state;
        for &i in list.iter() {
            queued[i] = false;
        }
        into.extend(list.drain(..));
        drop(state);
        // Dropped outside the lock: dropping a waker may run scheduler code.
        drop(old);
    }

    /// The waker to poll child `i` with.
    pub(crate) fn waker(&self, i: usize) -> &Waker {
        &self.wakers[i]
    }
}

/// A set of `Unpin` futures polled through a [`ReadySet`]; hands out each output with its
/// child's index, in completion order. The engine of `join_all`, `race_all`, `wait` and
/// `as_completed`.
pub(crate) struct Children<F> {
    slots: Vec<Option<F>>,
    ready: ReadySet,
    /// Woken children taken from the ready list and not polled yet.
    local: VecDeque<usize>,
    live: usize,
}

impl<F> Children<F> {
    /// How many children have not finished.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// How many children there were at the start.
    pub(crate) fn total(&self) -> usize {
        self.slots.len()
    }

    /// The child at `i`, if it has not finished.
    pub(crate) fn get(&self, i: usize) -> Option<&F> {
        self.slots[i].as_ref()
    }

    /// Drops every remaining child.
    pub(crate) fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.live = 0;
    }

    /// The children that have not finished, in input order.
    pub(crate) fn into_remaining(self) -> Vec<F> {
        self.slots.into_iter().flatten().collect()
    }
}

impl<F: Future + Unpin> Children<F> {
    pub(crate) fn new(futures: impl IntoIterator<Item = F>) -> Self {
        let slots: Vec<Option<F>> = futures.into_iter().map(Some).collect();
        let live = slots.len();
        Children {
            ready: ReadySet::new(slots.len()),
            slots,
            local: VecDeque::new(),
            live,
        }
    }

    /// Polls woken children until one finishes: `Ready(Some((index, output)))`, the
    /// finished child dropped. `Ready(None)` when none is left. Takes the ready list at
    /// most once per call, so a child that wakes itself while polled is polled again on
    /// the next call, not in a loop inside this one.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(usize, F::Output)>> {
        if self.live == 0 {
            return Poll::Ready(None);
        }
        let mut took = false;
        loop {
            let Some(i) = self.local.pop_front() else {
                if took {
                    return Poll::Pending;
                }
                took = true;
                self.ready.take_woken(cx, &mut self.local);
                continue;
            };
            // A stale wake of a child that already finished: nothing to poll.
            let Some(child) = self.slots[i].as_mut() else {
                continue;
            };
            let mut child_cx = Context::from_waker(self.ready.waker(i));
            if let Poll::Ready(out) = Pin::new(child).poll(&mut child_cx) {
                self.slots[i] = None;
                self.live -= 1;
                return Poll::Ready(Some((i, out)));
            }
        }
    }

    /// Polls child `i` once if it is still live (used to sweep up children that have
    /// finished without waking us yet).
    pub(crate) fn poll_one(&mut self, i: usize) -> Option<F::Output> {
        let child = self.slots[i].as_mut()?;
        let mut child_cx = Context::from_waker(self.ready.waker(i));
        match Pin::new(child).poll(&mut child_cx) {
            Poll::Ready(out) => {
                self.slots[i] = None;
                self.live -= 1;
                Some(out)
            }
            Poll::Pending => None,
        }
    }
}

/// Support code for the `join!`, `try_join!` and `select!` macros; not public API.
#[doc(hidden)]
pub mod __private {
    pub use std::future::{Future, IntoFuture, poll_fn};
    pub use std::option::Option::{self, None, Some};
    pub use std::pin::pin;
    pub use std::result::Result;
    pub use std::task::{Context, Poll};
    pub use std::{panic, unreachable};

    use super::ReadySet;
    use std::cell::Cell;
    use std::collections::VecDeque;
    use std::hash::{BuildHasher, RandomState};
    use std::pin::Pin;

    /// Runs `drop_losers` as a cancellation (the losers' `on_cancel` guards hand their
    /// cleanups over instead of discarding them); returns those cleanups joined, for the
    /// combinator to await before it returns.
    pub fn cancel_losers(drop_losers: impl FnOnce()) -> Option<trioxide_task::cancel::Cleanup> {
        let cleanups = trioxide_task::cancel::collect_cleanups(drop_losers);
        (!cleanups.is_empty()).then(|| trioxide_task::cancel::join_cleanups(cleanups))
    }

    /// Polls the future in `slot`, a combinator's branch kept in an `Option` so that it
    /// can be dropped in place as a cancellation; an emptied slot is never ready.
    pub fn poll_slot<F: Future>(
        slot: Pin<&mut Option<F>>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        slot.as_pin_mut().map_or(Poll::Pending, |f| f.poll(cx))
    }

    /// For a combinator that holds its result while the losers' cleanup runs: `None` if
    /// nothing is held, else the cleanup's progress and, once it finished, the result.
    pub(crate) fn poll_held<T>(
        held: &mut Option<(T, trioxide_task::cancel::Cleanup)>,
        cx: &mut Context<'_>,
    ) -> Option<Poll<T>> {
        let (_, cleanup) = held.as_mut()?;
        if cleanup.as_mut().poll(cx).is_pending() {
            return Some(Poll::Pending);
        }
        held.take().map(|(out, _)| Poll::Ready(out))
    }

    /// The per-branch wake tracking of `join!` / `try_join!`.
    pub struct JoinState {
        ready: ReadySet,
        scratch: VecDeque<usize>,
        woken: Vec<bool>,
    }

    impl JoinState {
        /// State for `n` branches, all woken.
        pub fn new(n: usize) -> Self {
            JoinState {
                ready: ReadySet::new(n),
                scratch: VecDeque::new(),
                woken: vec![false; n],
            }
        }

        /// Takes the ready list at the start of a poll.
        pub fn begin(&mut self, cx: &Context<'_>) {
            self.ready.take_woken(cx, &mut self.scratch);
            for i in self.scratch.drain(..) {
                self.woken[i] = true;
            }
        }

        /// Whether branch `i` was woken since it was last polled (and clears it).
        pub fn take(&mut self, i: usize) -> bool {
            std::mem::replace(&mut self.woken[i], false)
        }

        /// A context whose waker marks branch `i`.
        pub fn context(&self, i: usize) -> Context<'_> {
            Context::from_waker(self.ready.waker(i))
        }
    }

    /// The `k`-th of `n` branches counting round from `start` (a function, so that
    /// `% 1` in a one-branch `select!` does not trip lints in the caller's crate).
    pub fn nth_from(start: usize, k: usize, n: usize) -> usize {
        (start + k) % n
    }

    thread_local! {
        static RNG: Cell<u64> = Cell::new(RandomState::new().hash_one(0u64) | 1);
    }

    /// A pseudo-random number below `n` (xorshift64*, seeded per thread from std's
    /// `RandomState`); `n` must be non-zero.
    pub fn random_below(n: usize) -> usize {
        RNG.with(|rng| {
            let mut x = rng.get();
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            rng.set(x);
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
        })
    }
}

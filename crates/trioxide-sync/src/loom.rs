//! The loom shim: every atomic, lock, `UnsafeCell` and thread this crate uses comes from
//! here. Under `--cfg trioxide_loom` they are loom's model-checked versions, so loom tests
//! exercise the real code; otherwise they are `std`'s, at no cost.

#![allow(unused_imports, dead_code)]

#[cfg(not(trioxide_loom))]
pub(crate) mod sync {
    pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

    /// Atomics (std).
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

#[cfg(trioxide_loom)]
pub(crate) mod sync {
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

    /// Atomics (loom).
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

/// The second half of a store-buffering handshake whose first half is a `SeqCst` RMW:
/// runs `load` (an atomic load at the ordering it is given) so that it is ordered after
/// that RMW in the single total order of `SeqCst` operations.
///
/// Without loom this is a `SeqCst` load, which costs nothing extra (a plain `mov` on x86,
/// `ldar` on Arm): the RMW before it already drained the store buffer. The other side of
/// the handshake keeps its `SeqCst` fence between its store and its re-check. Why that
/// suffices (C++20 [atomics.order] p4, with `C` the RMW and `L` this load on one thread,
/// `W` the flag store, `F` the fence and `R` the re-check's load on the other): if `L`
/// misses `W` then `L` precedes `F` in the total order `S`; if `R` misses `C` then `F`
/// precedes `C`; and `C` precedes `L` (both `SeqCst`, in program order) — a cycle, so at
/// least one side sees the other (crossbeam-channel's `SyncWaker` relies on the same).
///
/// loom treats `SeqCst` loads as acquire loads (so it would report this handshake as a
/// lost wake-up it cannot lose); under loom the helper is a `SeqCst` fence and a relaxed
/// load, the stronger form, which the models check. The protocol around it is the same.
#[inline(always)]
pub(crate) fn load_after_seqcst_rmw<T>(load: impl FnOnce(sync::atomic::Ordering) -> T) -> T {
    use sync::atomic::Ordering::{Relaxed, SeqCst};
    if cfg!(trioxide_loom) {
        sync::atomic::fence(SeqCst);
        load(Relaxed)
    } else {
        load(SeqCst)
    }
}

#[cfg(not(trioxide_loom))]
pub(crate) mod thread {
    pub(crate) use std::thread::{JoinHandle, Thread, current, park, spawn, yield_now};
}

#[cfg(trioxide_loom)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{JoinHandle, Thread, current, park, spawn, yield_now};
}

/// `UnsafeCell` with loom's closure-based access API, so the same code compiles under both.
pub(crate) mod cell {
    #[cfg(trioxide_loom)]
    pub(crate) use loom::cell::UnsafeCell;

    /// A std `UnsafeCell` with loom's `with` / `with_mut` interface.
    #[cfg(not(trioxide_loom))]
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(trioxide_loom))]
    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }

        /// Runs `f` with a shared raw pointer to the contents.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` with a mutable raw pointer to the contents.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

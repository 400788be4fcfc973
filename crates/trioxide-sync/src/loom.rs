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

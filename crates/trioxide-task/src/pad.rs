//! `CachePadded`: keeps a value on cache lines of its own, so that atomics written by one
//! thread do not slow down unrelated atomics that other threads write (false sharing).
//!
//! 128 bytes, not 64: x86's adjacent-line prefetcher pulls lines in pairs, and some ARM
//! cores have 128-byte lines (crossbeam and tokio pad the same way).

use std::ops::{Deref, DerefMut};

/// `T` aligned (and so sized) to a multiple of 128 bytes.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> Deref for CachePadded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for CachePadded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::CachePadded;

    #[test]
    fn neighbours_never_share_a_line() {
        let pair = [CachePadded(0u8), CachePadded(1u8)];
        let a = &pair[0] as *const _ as usize;
        let b = &pair[1] as *const _ as usize;
        assert_eq!(b - a, 128);
        assert_eq!(a % 128, 0);
    }
}

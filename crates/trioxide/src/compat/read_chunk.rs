//! How much of a caller's uninitialised read buffer an adapter zero-fills and offers.
//!
//! hyper and tokio hand over uninitialised memory to read into, and a futures-io reader
//! needs it initialised, so each read through [`HyperIo`](super::HyperIo) or
//! [`TokioIo`](super::TokioIo) pays a `memset` of what it offers — also when the read
//! finds nothing yet. Offering 64 KiB for a 100-byte request made that `memset` a visible
//! share of a keep-alive HTTP server's time; the chunk therefore starts small, doubles
//! after a read that filled it, and shrinks back after one that used under a quarter.

/// The most bytes one read zero-fills: bounds the cost of initialising a large buffer
/// offered for a small read.
pub(crate) const MAX_READ_CHUNK: usize = 64 * 1024;
/// The fewest bytes one read offers (the size of a small request with its headers).
pub(crate) const MIN_READ_CHUNK: usize = 4 * 1024;

/// The chunk to offer after a read of `read` bytes into a chunk of `chunk`.
pub(crate) fn next_read_chunk(chunk: usize, read: usize) -> usize {
    if read == chunk {
        (chunk * 2).min(MAX_READ_CHUNK)
    } else if read < chunk / 4 {
        (chunk / 2).max(MIN_READ_CHUNK)
    } else {
        chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_chunk_grows_with_full_reads_and_shrinks_with_small_ones() {
        let mut chunk = MIN_READ_CHUNK;
        chunk = next_read_chunk(chunk, chunk);
        assert_eq!(chunk, 2 * MIN_READ_CHUNK, "a full read doubles it");
        for _ in 0..10 {
            chunk = next_read_chunk(chunk, chunk);
        }
        assert_eq!(chunk, MAX_READ_CHUNK, "capped");
        assert_eq!(
            next_read_chunk(chunk, chunk / 2),
            chunk,
            "a half read keeps it"
        );
        for _ in 0..10 {
            chunk = next_read_chunk(chunk, 10);
        }
        assert_eq!(chunk, MIN_READ_CHUNK, "small reads bring it back down");
    }
}

//! [`BufReader`]: buffering for any [`AsyncRead`], so that it implements [`AsyncBufRead`];
//! and [`AsyncBufReadExt`]: `read_until`, `read_line` and `lines` on every
//! [`AsyncBufRead`] (the futures / tokio names and semantics).

use super::{AsyncBufRead, AsyncRead, AsyncWrite};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The buffer size of [`BufReader::new`] (std's and tokio's default).
const DEFAULT_CAPACITY: usize = 8 * 1024;

/// Adds a buffer to a reader: small reads are served from it, and it makes the reader an
/// [`AsyncBufRead`] (for [`read_line`](AsyncBufReadExt::read_line) and
/// [`lines`](AsyncBufReadExt::lines)). Writes pass straight through when the inner type
/// is also a writer, so one `BufReader` can wrap a whole connection.
///
/// ```
/// use trioxide::io::{AsyncBufReadExt, BufReader};
///
/// trioxide::run(async {
///     let mut reader = BufReader::new(&b"first\r\nsecond\nlast"[..]);
///     let mut line = String::new();
///     reader.read_line(&mut line).await.unwrap();
///     assert_eq!(line, "first\r\n"); // with its line ending, as in asyncio
///     let rest: Vec<String> = {
///         let mut lines = reader.lines();
///         let mut v = Vec::new();
///         while let Some(l) = lines.next_line().await.unwrap() {
///             v.push(l);
///         }
///         v
///     };
///     assert_eq!(rest, ["second", "last"]); // without
/// });
/// ```
#[derive(Debug)]
pub struct BufReader<R> {
    inner: R,
    buf: Box<[u8]>,
    /// Bytes `pos..filled` of `buf` are read from `inner` and not yet consumed.
    pos: usize,
    filled: usize,
}

impl<R> BufReader<R> {
    /// Wraps `inner` with an 8 KiB buffer.
    pub fn new(inner: R) -> Self {
        Self::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// Wraps `inner` with a buffer of `capacity` bytes (at least 1).
    pub fn with_capacity(capacity: usize, inner: R) -> Self {
        BufReader {
            inner,
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            pos: 0,
            filled: 0,
        }
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The wrapped reader, mutably. Reading from it directly skips what is buffered.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The bytes read ahead and not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// The buffer's size.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Unwraps the reader. Buffered bytes are lost: take them with
    /// [`buffer`](Self::buffer) first.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BufReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Nothing buffered and a read at least as large as the buffer: skip the copy.
        if this.pos == this.filled && out.len() >= this.buf.len() {
            return Pin::new(&mut this.inner).poll_read(cx, out);
        }
        let available = ready!(Pin::new(&mut *this).poll_fill_buf(cx))?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        Pin::new(this).consume(n);
        Poll::Ready(Ok(n))
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for BufReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos == this.filled {
            let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.buf))?;
            this.pos = 0;
            this.filled = n.min(this.buf.len());
        }
        Poll::Ready(Ok(&this.buf[this.pos..this.filled]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = (this.pos + amt).min(this.filled);
    }
}

impl<R: AsyncWrite + Unpin> AsyncWrite for BufReader<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// `async` helpers for every [`AsyncBufRead`] (wrap a plain reader in a [`BufReader`]).
#[allow(async_fn_in_trait)]
pub trait AsyncBufReadExt: AsyncBufRead + Unpin {
    /// Appends bytes to `out` up to and including the first `byte`, or up to end of
    /// stream; returns how many were appended (`0`: end of stream). Cancel-safe in that
    /// what was read before a cancellation is already in `out`.
    async fn read_until(&mut self, byte: u8, out: &mut Vec<u8>) -> io::Result<usize> {
        let start = out.len();
        poll_fn(|cx| poll_read_until(Pin::new(&mut *self), cx, byte, out, start)).await
    }

    /// Appends one line to `out`, with its line ending (`"\n"` or `"\r\n"`; none for a
    /// last line without one, as asyncio's `readline`); returns its length in bytes,
    /// `0` at end of stream. A line that is not UTF-8 fails with `InvalidData` and leaves
    /// `out` unchanged (its bytes are consumed). Not cancel-safe: a cancelled call loses
    /// the part of the line it had read.
    async fn read_line(&mut self, out: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        let n = self.read_until(b'\n', &mut bytes).await?;
        let line =
            String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        out.push_str(&line);
        Ok(n)
    }

    /// The lines of the stream, without their line endings.
    fn lines(self) -> Lines<Self>
    where
        Self: Sized,
    {
        Lines {
            reader: self,
            line: Vec::new(),
        }
    }
}

impl<R: AsyncBufRead + Unpin + ?Sized> AsyncBufReadExt for R {}

/// One step of `read_until`: moves what is buffered into `out`, up to `byte`.
fn poll_read_until<R: AsyncBufRead + ?Sized>(
    mut reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    byte: u8,
    out: &mut Vec<u8>,
    start: usize,
) -> Poll<io::Result<usize>> {
    loop {
        let available = ready!(reader.as_mut().poll_fill_buf(cx))?;
        if available.is_empty() {
            return Poll::Ready(Ok(out.len() - start));
        }
        let (taken, found) = match available.iter().position(|&b| b == byte) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        out.extend_from_slice(&available[..taken]);
        reader.as_mut().consume(taken);
        if found {
            return Poll::Ready(Ok(out.len() - start));
        }
    }
}

/// The lines of an [`AsyncBufRead`] ([`AsyncBufReadExt::lines`]): each without its
/// `"\n"` or `"\r\n"`. Also a [`Stream`](futures_core::Stream) of `io::Result<String>`.
/// Cancel-safe: a line read in part before a cancellation is kept for the next call.
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    /// The current line so far.
    line: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    /// The next line; `Ok(None)` at end of stream. A line that is not UTF-8 fails with
    /// `InvalidData` (the line is skipped).
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        poll_fn(|cx| self.poll_next_line(cx)).await
    }

    /// The reader back (with what it buffered).
    pub fn into_inner(self) -> R {
        self.reader
    }

    fn poll_next_line(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<String>>> {
        let start = self.line.len();
        let n = ready!(poll_read_until(
            Pin::new(&mut self.reader),
            cx,
            b'\n',
            &mut self.line,
            start,
        ))?;
        if n == 0 && self.line.is_empty() {
            return Poll::Ready(Ok(None));
        }
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        Poll::Ready(
            String::from_utf8(line)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        )
    }
}

impl<R: AsyncBufRead + Unpin> futures_core::Stream for Lines<R> {
    type Item = io::Result<String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_line(cx).map(Result::transpose)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::AsyncReadExt;

    /// Serves `data` at most `chunk` bytes per read, and is not ready every other poll
    /// (waking itself), so that lines and reads straddle reads and polls.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        chunk: usize,
        ready: bool,
        reads: usize,
    }

    fn trickle(data: &[u8], chunk: usize) -> Trickle {
        Trickle {
            data: data.to_vec(),
            at: 0,
            chunk,
            ready: false,
            reads: 0,
        }
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            out: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            self.ready = !self.ready;
            if !self.ready {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.reads += 1;
            let n = self.chunk.min(out.len()).min(self.data.len() - self.at);
            let at = self.at;
            out[..n].copy_from_slice(&self.data[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(n))
        }
    }

    fn lines_of(reader: impl AsyncBufRead + Unpin) -> Vec<io::Result<String>> {
        crate::run(async move {
            let mut lines = reader.lines();
            let mut out = Vec::new();
            loop {
                match lines.next_line().await {
                    Ok(Some(l)) => out.push(Ok(l)),
                    Ok(None) => return out,
                    Err(e) => out.push(Err(e)),
                }
            }
        })
    }

    #[test]
    fn lines_split_on_newlines_across_reads_and_strip_endings() {
        for chunk in [1, 2, 3, 7, 64] {
            for capacity in [1, 4, 8192] {
                let reader = BufReader::with_capacity(
                    capacity,
                    trickle(b"alpha\r\nbeta\n\ngamma\r\n\rdelta", chunk),
                );
                let got: Vec<String> = lines_of(reader).into_iter().map(Result::unwrap).collect();
                assert_eq!(
                    got,
                    ["alpha", "beta", "", "gamma", "\rdelta"],
                    "chunk {chunk}, capacity {capacity}"
                );
            }
        }
        assert!(lines_of(BufReader::new(trickle(b"", 4))).is_empty());
    }

    #[test]
    fn read_line_keeps_the_ending_and_reports_zero_at_the_end() {
        crate::run(async {
            let mut r = BufReader::with_capacity(3, trickle(b"one\ntwo", 2));
            let mut s = String::new();
            assert_eq!(r.read_line(&mut s).await.unwrap(), 4);
            assert_eq!(s, "one\n");
            assert_eq!(r.read_line(&mut s).await.unwrap(), 3);
            assert_eq!(s, "one\ntwo", "appended, like std");
            assert_eq!(r.read_line(&mut s).await.unwrap(), 0);
        });
    }

    #[test]
    fn a_line_that_is_not_utf8_is_an_invalid_data_error_and_reading_goes_on() {
        crate::run(async {
            let mut r = BufReader::new(trickle(b"ok\n\xff\xfe\nafter\n", 5));
            let mut s = String::new();
            r.read_line(&mut s).await.unwrap();
            let err = r.read_line(&mut s).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert_eq!(s, "ok\n", "unchanged by the bad line");
            r.read_line(&mut s).await.unwrap();
            assert_eq!(s, "ok\nafter\n");
        });
        let got = lines_of(BufReader::new(trickle(b"a\n\xc3\nb", 2)));
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_deref().unwrap(), "a");
        assert_eq!(
            got[1].as_ref().unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(got[2].as_deref().unwrap(), "b");
    }

    #[test]
    fn read_until_stops_after_the_byte_or_at_the_end() {
        crate::run(async {
            let mut r = BufReader::with_capacity(2, trickle(b"a,bc,,d", 3));
            let mut v = Vec::new();
            assert_eq!(r.read_until(b',', &mut v).await.unwrap(), 2);
            assert_eq!(r.read_until(b',', &mut v).await.unwrap(), 3);
            assert_eq!(r.read_until(b',', &mut v).await.unwrap(), 1);
            assert_eq!(r.read_until(b',', &mut v).await.unwrap(), 1);
            assert_eq!(r.read_until(b',', &mut v).await.unwrap(), 0);
            assert_eq!(v, b"a,bc,,d");
        });
    }

    #[test]
    fn reads_mix_with_lines_and_large_reads_skip_the_buffer() {
        crate::run(async {
            let data: Vec<u8> = b"head\n"
                .iter()
                .copied()
                .chain((0..100u8).cycle().take(50_000))
                .collect();
            let mut r = BufReader::with_capacity(16, trickle(&data, 4096));
            let mut head = String::new();
            r.read_line(&mut head).await.unwrap();
            assert_eq!(head, "head\n");
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest, data[5..], "nothing lost or duplicated");
            // With the buffer empty, reads of 8 KiB went straight to the inner reader
            // (4 KiB each), not through 16-byte refills.
            assert!(r.get_ref().reads < 50, "{} inner reads", r.get_ref().reads);
        });
    }

    #[test]
    fn lines_is_a_stream() {
        use futures_core::Stream;
        let mut lines = std::pin::pin!(BufReader::new(trickle(b"x\ny", 1)).lines());
        let got = crate::run(async move {
            let mut v = Vec::new();
            while let Some(l) = std::future::poll_fn(|cx| lines.as_mut().poll_next(cx)).await {
                v.push(l.unwrap());
            }
            v
        });
        assert_eq!(got, ["x", "y"]);
    }
}

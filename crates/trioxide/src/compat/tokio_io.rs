//! tokio's `AsyncRead` / `AsyncWrite` for trioxide, so code written against `tokio::io`
//! (codecs, `tokio::io::copy`, `AsyncReadExt::read_exact`, ...) runs on trioxide. Only
//! tokio's traits are used; no tokio runtime is started.
//!
//! - Directly on [`TcpStream`](crate::net::TcpStream) and
//!   [`UnixStream`](crate::net::UnixStream) (and on `&` of each, so a reader and a writer
//!   can share one stream): a read goes straight into tokio's uninitialised `ReadBuf`.
//! - [`TokioIo`] over any futures-io stream (a `BufReader`, a user's own type).
//!
//! With both `futures-io`'s and tokio's extension traits in scope, method calls such as
//! `stream.read(..)` are ambiguous; import one `AsyncReadExt` per module.
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use trioxide::compat::TokioIo;
//!
//! trioxide::run(async {
//!     let (a, b) = trioxide::net::UnixStream::pair().unwrap();
//!     let (mut a, mut b) = (TokioIo::new(a), TokioIo::new(b));
//!     a.write_all(b"hello").await.unwrap();
//!     let mut buf = [0; 5];
//!     b.read_exact(&mut buf).await.unwrap();
//!     assert_eq!(&buf, b"hello");
//! });
//! ```

use super::read_chunk::{MIN_READ_CHUNK, next_read_chunk};
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::ReadBuf;

/// A futures-io stream seen through tokio's I/O traits.
#[derive(Debug)]
pub struct TokioIo<S> {
    inner: S,
    /// Bytes the next read zero-fills and offers at most, beyond what the caller's
    /// buffer already has initialised (`super::read_chunk`).
    read_chunk: usize,
}

impl<S> TokioIo<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> TokioIo<S> {
        TokioIo {
            inner,
            read_chunk: MIN_READ_CHUNK,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> tokio::io::AsyncRead for TokioIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Bytes already initialised past the filled part cost nothing to offer.
        let initialised = buf.initialized().len() - buf.filled().len();
        let len = buf.remaining().min(this.read_chunk.max(initialised));
        let dst = buf.initialize_unfilled_to(len);
        match Pin::new(&mut this.inner).poll_read(cx, dst) {
            Poll::Ready(Ok(n)) => {
                if len == this.read_chunk {
                    this.read_chunk = next_read_chunk(len, n);
                }
                // `advance` checks `n` against the initialised part and panics past it.
                buf.advance(n.min(len));
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> tokio::io::AsyncWrite for TokioIo<S> {
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

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    /// trioxide's sockets write vectors with one `writev`.
    fn is_write_vectored(&self) -> bool {
        true
    }
}

/// tokio's `AsyncRead` / `AsyncWrite` directly on a trioxide stream type with the
/// stream's `poll_read_uninit` (a `recv` straight into the unfilled part of the
/// `ReadBuf`, no zero-filling) and its futures-io writes.
macro_rules! impl_tokio_io {
    ($ty:ty) => {
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: the stream's `recv` only writes into these bytes (never reads
                // them or de-initialises them); below only the bytes written are counted.
                let dst = unsafe { buf.unfilled_mut() };
                let len = dst.len();
                let n = match self.poll_read_uninit(cx, dst) {
                    Poll::Ready(Ok(n)) => n.min(len),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                };
                // SAFETY: the read initialised the first `n` bytes of the unfilled part.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }

        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_close(self, cx)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            /// trioxide's sockets write vectors with one `sendmsg`.
            fn is_write_vectored(&self) -> bool {
                true
            }
        }
    };
}

impl_tokio_io!(crate::net::TcpStream);
impl_tokio_io!(&crate::net::TcpStream);
impl_tokio_io!(crate::net::UnixStream);
impl_tokio_io!(&crate::net::UnixStream);

//! hyper 1.x on trioxide: hyper's `rt::Read` / `rt::Write` on trioxide's `TcpStream` and
//! `UnixStream` themselves (reading straight into hyper's buffer) and, for any other
//! futures-io stream (a TLS stream, say), through [`HyperIo`]; [`TrioxideExecutor`] (hyper's `rt::Executor`: spawns on the
//! current trioxide runtime, as HTTP/2 needs for its stream tasks) and [`TrioxideTimer`]
//! (hyper's `rt::Timer` on trioxide's timer wheel, for `header_read_timeout`, keep-alive
//! pings and the like).
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Empty, Full};
//! use trioxide::compat::TrioxideTimer;
//! use trioxide::net::{TcpListener, TcpStream};
//!
//! trioxide::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = trioxide::spawn(async move {
//!         let (conn, _) = listener.accept().await.unwrap();
//!         let service = hyper::service::service_fn(|_req| async {
//!             Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from("hi"))))
//!         });
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(TrioxideTimer::new())
//!             .serve_connection(conn, service)
//!             .await
//!             .unwrap();
//!     });
//!     let stream = TcpStream::connect(addr).await.unwrap();
//!     let (mut sender, conn) = hyper::client::conn::http1::handshake(stream)
//!         .await
//!         .unwrap();
//!     let conn = trioxide::spawn(conn);
//!     let req = hyper::Request::get("/").body(Empty::<Bytes>::new()).unwrap();
//!     let res = sender.send_request(req).await.unwrap();
//!     let body = res.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(&body[..], b"hi");
//!     drop(sender);
//!     conn.await.unwrap().unwrap();
//!     server.await.unwrap();
//! });
//! ```

use super::read_chunk::{MIN_READ_CHUNK, next_read_chunk};
use crate::runtime::Handle;
use crate::time::{Instant, Sleep};
use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::{self, ReadBufCursor};
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Any futures-io stream (a TLS stream over a trioxide socket, say) as a hyper 1.x
/// transport: implements `hyper::rt::Read` and `hyper::rt::Write`. trioxide's own
/// `TcpStream` and `UnixStream` implement both themselves and need no wrapper (and read
/// without the zero-fill this wrapper must do).
#[derive(Debug)]
pub struct HyperIo<S> {
    inner: S,
    /// Bytes the next read offers (`super::read_chunk`).
    read_chunk: usize,
}

impl<S> HyperIo<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> HyperIo<S> {
        HyperIo {
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

impl<S: AsyncRead + Unpin> rt::Read for HyperIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let len = buf.remaining().min(this.read_chunk);
        let dst = buf.initialize_unfilled_to(len);
        let n = match Pin::new(&mut this.inner).poll_read(cx, dst) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        if len == this.read_chunk {
            this.read_chunk = next_read_chunk(len, n);
        }
        debug_assert!(
            n <= len,
            "a reader returned more bytes than it was given room for"
        );
        // SAFETY: `initialize_unfilled_to(len)` initialised the first `len` unfilled bytes
        // and the read filled `n <= len` of them, so `n` more bytes are initialised.
        unsafe { buf.advance(n.min(len)) };
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> rt::Write for HyperIo<S> {
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

    /// trioxide's sockets write vectors with one `writev`; other futures-io streams fall
    /// back to futures-io's default (the first non-empty slice), which is correct too.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

/// hyper's `rt::Read` / `rt::Write` directly on trioxide's streams, without [`HyperIo`]:
/// a read goes straight into hyper's uninitialised buffer (`recv` only writes it), where
/// the futures-io path of `HyperIo` must zero-fill what it offers first — a `memset` of
/// the offered chunk per read, including every read that finds nothing yet.
macro_rules! impl_hyper_io {
    ($ty:ty) => {
        impl rt::Read for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                mut buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: the stream only writes into these bytes (never reads them or
                // marks them uninitialised); `advance` below counts only the ones written.
                let dst = unsafe { buf.as_mut() };
                let len = dst.len();
                let n = match self.get_mut().poll_read_uninit(cx, dst) {
                    Poll::Ready(Ok(n)) => n.min(len),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                };
                // SAFETY: the read initialised the first `n` bytes of the unfilled part.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
        }

        impl rt::Write for $ty {
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

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write_vectored(self, cx, bufs)
            }
        }
    };
}

impl_hyper_io!(crate::net::TcpStream);
impl_hyper_io!(crate::net::UnixStream);

/// hyper's `rt::Executor` on trioxide: each future hyper hands over (an HTTP/2 stream,
/// a client connection's background task) becomes a detached trioxide task.
///
/// [`TrioxideExecutor::new`] spawns on whichever runtime is current when hyper spawns
/// (hyper spawns from inside the connection future, so that is the connection's runtime);
/// [`TrioxideExecutor::with_handle`] pins one runtime, so the executor also works from
/// outside it.
#[derive(Debug, Clone, Default)]
pub struct TrioxideExecutor {
    handle: Option<Handle>,
}

impl TrioxideExecutor {
    /// An executor that spawns on the current runtime.
    pub fn new() -> TrioxideExecutor {
        TrioxideExecutor { handle: None }
    }

    /// An executor that spawns on the runtime of `handle`.
    pub fn with_handle(handle: Handle) -> TrioxideExecutor {
        TrioxideExecutor {
            handle: Some(handle),
        }
    }
}

impl<F> rt::Executor<F> for TrioxideExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        // Detached: hyper tracks completion through its own channels.
        drop(match &self.handle {
            Some(handle) => handle.spawn(future),
            None => crate::spawn(future),
        });
    }
}

/// hyper's `rt::Timer` on trioxide's timer wheel (1 ms resolution, never early). Its
/// sleeps are armed on the runtime that first polls them, so one timer serves any runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrioxideTimer {
    _private: (),
}

impl TrioxideTimer {
    /// A timer for hyper's builders (`.timer(TrioxideTimer::new())`).
    pub fn new() -> TrioxideTimer {
        TrioxideTimer { _private: () }
    }
}

impl rt::Timer for TrioxideTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(TrioxideSleep(crate::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(TrioxideSleep(crate::time::sleep_until(Instant::from_std(
            deadline,
        ))))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn rt::Sleep>>, new_deadline: std::time::Instant) {
        match sleep.as_mut().downcast_mut_pin::<TrioxideSleep>() {
            Some(mut ours) => ours.0.reset(Instant::from_std(new_deadline)),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// The sleep future [`TrioxideTimer`] hands to hyper: a trioxide [`Sleep`].
#[derive(Debug)]
pub struct TrioxideSleep(Sleep);

impl Future for TrioxideSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl rt::Sleep for TrioxideSleep {}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::{Read, Timer, Write};

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn adapters_are_send_and_sync() {
        assert_send_sync::<HyperIo<crate::net::TcpStream>>();
        assert_send_sync::<TrioxideExecutor>();
        assert_send_sync::<TrioxideSleep>();
    }

    #[test]
    fn reads_and_writes_go_through_hyper_traits() {
        crate::run(async {
            let (a, b) = crate::net::UnixStream::pair().unwrap();
            let mut a = HyperIo::new(a);
            let mut b = HyperIo::new(b);
            let n = std::future::poll_fn(|cx| Pin::new(&mut a).poll_write(cx, b"ping"))
                .await
                .unwrap();
            assert_eq!(n, 4);
            let mut storage = [std::mem::MaybeUninit::<u8>::uninit(); 16];
            let mut buf = hyper::rt::ReadBuf::uninit(&mut storage);
            std::future::poll_fn(|cx| Pin::new(&mut b).poll_read(cx, buf.unfilled()))
                .await
                .unwrap();
            assert_eq!(buf.filled(), b"ping");
        });
    }

    #[test]
    fn timer_sleeps_and_resets_on_the_wheel() {
        crate::run(async {
            let timer = TrioxideTimer::new();
            let start = std::time::Instant::now();
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            timer.reset(
                &mut sleep,
                std::time::Instant::now() + Duration::from_millis(20),
            );
            assert!(sleep.as_mut().downcast_mut_pin::<TrioxideSleep>().is_some());
            sleep.await;
            let waited = start.elapsed();
            assert!(
                waited >= Duration::from_millis(20),
                "woke early: {waited:?}"
            );
            assert!(waited < Duration::from_secs(60), "reset was ignored");
        });
    }
}

//! [`CompletionIo`]: hyper 1.x's `rt::Read` / `rt::Write` for a [`TcpStream`] through
//! io_uring's completion-based operations (owned buffers), where the stream's own hyper
//! traits are readiness-based (a `recv` / `send` system call each, once the socket is
//! ready).
//!
//! A read that finds nothing buffered submits an `IORING_OP_RECV` into a buffer the
//! adapter owns and waits for its completion; a write copies hyper's bytes into a second
//! owned buffer, submits an `IORING_OP_SEND` and reports them written at once; a flush
//! waits until the kernel has taken them. The submissions of every connection a worker
//! serves in one tick reach the kernel in that tick's single `io_uring_enter`, instead of
//! two system calls per request and connection. The cost: one copy of each message
//! (small for HTTP heads) and a second wake-up of the connection's task per response
//! (the send's completion).
//!
//! Errors of a send that was already reported written come back from the next write,
//! flush or shutdown, as from any buffered writer. The peer's end of stream is reported
//! only once what was written has been flushed (hyper flushes every message): hyper takes
//! an end of stream read while a response is still being flushed for a broken message,
//! which readiness-based I/O, whose flush is immediate, never shows it. Dropping the
//! adapter with operations in flight cancels them; their buffers stay with the driver until the kernel is done
//! (see `trioxide_reactor::uring::Op`). On epoll the adapter simply uses the stream's own
//! readiness-based traits, so one server works on both backends.

use super::read_chunk::{MAX_READ_CHUNK, MIN_READ_CHUNK};
use crate::net::TcpStream;
use hyper::rt::{self, ReadBufCursor};
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use trioxide_reactor::uring::{BufResult, Op};

/// The most bytes one write copies into the send buffer (a larger write is taken in
/// parts, as a short write).
const MAX_SEND_CHUNK: usize = 256 * 1024;

/// The error for a stream whose reactor stopped offering io_uring operations after the
/// adapter began using them (a runtime never changes backend, so this is not expected).
fn left_io_uring() -> io::Error {
    io::Error::other("CompletionIo: the stream's runtime no longer runs io_uring")
}

/// A `TcpStream` as a hyper transport on io_uring's completion-based receive and send.
/// See the module docs; on epoll it behaves exactly as the stream itself.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use trioxide::compat::CompletionIo;
/// use trioxide::net::TcpListener;
///
/// async fn serve(listener: TcpListener) -> std::io::Result<()> {
///     loop {
///         let (conn, _) = listener.accept().await?;
///         trioxide::spawn(async move {
///             let service = hyper::service::service_fn(|_req| async {
///                 Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
///                     Bytes::from("hello"),
///                 )))
///             });
///             let _ = hyper::server::conn::http1::Builder::new()
///                 .serve_connection(CompletionIo::new(conn), service)
///                 .await;
///         });
///     }
/// }
/// ```
#[derive(Debug)]
pub struct CompletionIo {
    /// The receive in flight, if any. (Dropping the adapter cancels both ops keeping
    /// the socket open until their CQEs: see `Drop`.)
    recv: Option<Op<BufResult>>,
    /// The send in flight, if any: what hyper wrote and `poll_flush` waits for.
    send: Option<Op<BufResult>>,
    /// Received bytes hyper has not taken yet are `received[taken..]`; once all are
    /// taken, the buffer the next receive reuses.
    received: Vec<u8>,
    taken: usize,
    /// The buffer the next send reuses.
    spare: Vec<u8>,
    /// No data is expected yet (the last receive came back short, or a response went
    /// out since): the next receive waits for data before trying (a hint only).
    expect_idle: bool,
    /// A receive returned the end of stream (reported once `unflushed` is false).
    eof: bool,
    /// Bytes were written that no `poll_flush` has reported flushed yet.
    unflushed: bool,
    /// The read that holds back the end of stream until then.
    eof_reader: Option<std::task::Waker>,
    /// The error of a send that completed while a read waited for it.
    send_error: Option<io::Error>,
    /// Whether the stream's runtime runs io_uring; known at the first poll.
    on_uring: Option<bool>,
    stream: TcpStream,
}

impl Drop for CompletionIo {
    fn drop(&mut self) {
        // An op's SQE may still wait in a worker's submission queue: the socket must not
        // close (and its number go to a new socket) before the kernel is done with it.
        let stream = &self.stream;
        for op in [self.recv.as_mut(), self.send.as_mut()]
            .into_iter()
            .flatten()
        {
            op.cancel_keeping(&|| stream.keep_open());
        }
    }
}

impl CompletionIo {
    /// Wraps `stream`.
    pub fn new(stream: TcpStream) -> CompletionIo {
        CompletionIo {
            recv: None,
            send: None,
            received: Vec::new(),
            taken: 0,
            spare: Vec::new(),
            expect_idle: false,
            eof: false,
            unflushed: false,
            eof_reader: None,
            send_error: None,
            on_uring: None,
            stream,
        }
    }

    /// The wrapped stream (for its addresses and options; reading or writing it
    /// directly would interleave with the adapter's buffered bytes).
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    fn on_uring(&mut self) -> bool {
        *self
            .on_uring
            .get_or_insert_with(|| self.stream.uring_available())
    }

    /// Gives hyper what is buffered, or starts and polls a receive until something is.
    fn poll_read_uring(
        &mut self,
        cx: &mut Context<'_>,
        mut cursor: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if self.eof {
                // The peer closed. With readiness-based I/O a response is in the kernel,
                // and its flush done, before the peer can answer it by closing; here
                // hyper may still wait for the flush, and it takes an end of stream read
                // meanwhile for a broken message. So the end of stream waits until hyper
                // has seen its writes flushed (a send's error goes to the next write or
                // flush); `poll_flush` wakes this read then.
                if let Err(e) = ready!(self.poll_send_done(cx)) {
                    self.send_error = Some(e);
                }
                if self.unflushed {
                    self.eof_reader = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                return Poll::Ready(Ok(()));
            }
            let buffered = &self.received[self.taken..];
            if !buffered.is_empty() {
                let n = buffered.len().min(cursor.remaining());
                cursor.put_slice(&buffered[..n]);
                self.taken += n;
                return Poll::Ready(Ok(()));
            }
            if let Some(op) = &mut self.recv {
                let (res, buf) = ready!(Pin::new(op).poll(cx));
                self.recv = None;
                let offered = buf.capacity();
                self.received = buf;
                self.taken = 0;
                match res {
                    Ok(0) => {
                        self.eof = true;
                        continue;
                    }
                    Ok(n) => {
                        self.expect_idle = n < offered;
                        if n == offered && offered < MAX_READ_CHUNK {
                            // A full read: offer twice as much next time.
                            let more = (offered * 2).min(MAX_READ_CHUNK);
                            self.received.reserve_exact(more - n);
                        }
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
                continue;
            }
            if cursor.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let mut buf = std::mem::take(&mut self.received);
            buf.clear();
            buf.reserve_exact(MIN_READ_CHUNK);
            self.taken = 0;
            match self.stream.submit_recv(buf, self.expect_idle) {
                Ok(op) => self.recv = Some(op),
                Err(_) => {
                    return Poll::Ready(Err(left_io_uring()));
                }
            }
        }
    }

    /// Waits for the send in flight, resubmitting the rest after a short send.
    fn poll_send_done(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.send_error.take() {
            return Poll::Ready(Err(e));
        }
        while let Some(op) = &mut self.send {
            let (res, mut buf) = ready!(Pin::new(op).poll(cx));
            self.send = None;
            let done = match res {
                Ok(n) if n >= buf.len() => Ok(()),
                Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    // The kernel took part (its buffer filled): send the rest.
                    buf.drain(..n);
                    match self.stream.submit_send(buf) {
                        Ok(op) => self.send = Some(op),
                        Err(mut buf) => {
                            // Keep the buffer for reuse, as after any other failed send.
                            buf.clear();
                            self.spare = buf;
                            return Poll::Ready(Err(left_io_uring()));
                        }
                    }
                    continue;
                }
                Err(e) => Err(e),
            };
            // Done with this buffer, either way: the next write reuses it.
            buf.clear();
            self.spare = buf;
            done?;
        }
        Poll::Ready(Ok(()))
    }

    /// Waits for the send in flight; once it is done, nothing written is unflushed, and
    /// a read holding back the end of stream is woken.
    fn poll_flush_uring(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let done = ready!(self.poll_send_done(cx));
        if done.is_ok() {
            self.unflushed = false;
            if let Some(reader) = self.eof_reader.take() {
                reader.wake();
            }
        }
        Poll::Ready(done)
    }

    /// Copies up to `MAX_SEND_CHUNK` bytes of `bufs` into the send buffer and submits
    /// it, once the previous send is done.
    fn poll_write_uring(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_send_done(cx))?;
        let mut buf = std::mem::take(&mut self.spare);
        buf.clear();
        for slice in bufs {
            let room = MAX_SEND_CHUNK - buf.len();
            if room == 0 {
                break;
            }
            buf.extend_from_slice(&slice[..slice.len().min(room)]);
        }
        if buf.is_empty() {
            self.spare = buf;
            return Poll::Ready(Ok(0));
        }
        let n = buf.len();
        match self.stream.submit_send(buf) {
            Ok(op) => {
                self.send = Some(op);
                self.unflushed = true;
                // A response went out: the next request takes a while.
                self.expect_idle = true;
                Poll::Ready(Ok(n))
            }
            Err(_) => Poll::Ready(Err(left_io_uring())),
        }
    }
}

impl rt::Read for CompletionIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.on_uring() {
            this.poll_read_uring(cx, buf)
        } else {
            rt::Read::poll_read(Pin::new(&mut this.stream), cx, buf)
        }
    }
}

impl rt::Write for CompletionIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.on_uring() {
            this.poll_write_uring(cx, &[IoSlice::new(buf)])
        } else {
            rt::Write::poll_write(Pin::new(&mut this.stream), cx, buf)
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.on_uring() {
            this.poll_flush_uring(cx)
        } else {
            rt::Write::poll_flush(Pin::new(&mut this.stream), cx)
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.on_uring() {
            ready!(this.poll_flush_uring(cx))?;
        }
        rt::Write::poll_shutdown(Pin::new(&mut this.stream), cx)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.on_uring() {
            this.poll_write_uring(cx, bufs)
        } else {
            rt::Write::poll_write_vectored(Pin::new(&mut this.stream), cx, bufs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Io, Runtime};
    use hyper::rt::{Read, Write};

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_adapter_is_send_and_sync() {
        assert_send_sync::<CompletionIo>();
    }

    /// Raw bytes through the adapter both ways, on both backends: a small message, a
    /// 1 MiB one (several receives, the buffer growing; possibly short sends), and the
    /// end of stream after the peer's shutdown.
    #[test]
    fn bytes_round_trip_and_the_end_of_stream_is_seen_on_both_backends() {
        for io in [Io::Epoll, Io::IoUring] {
            let rt = match Runtime::builder().io(io).build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("skipping {io:?}: {e}");
                    continue;
                }
            };
            rt.block_on(async move {
                let listener = crate::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let connect = crate::spawn(async move { TcpStream::connect(addr).await });
                let (server, _) = listener.accept().await.unwrap();
                let client = connect.await.unwrap().unwrap();
                let (mut a, mut b) = (CompletionIo::new(server), CompletionIo::new(client));
                let big: Vec<u8> = (0..1 << 20).map(|i| (i * 7 % 251) as u8).collect();
                let sent = big.clone();
                let writer = crate::spawn(async move {
                    for msg in [&b"ping"[..], &sent[..]] {
                        let mut at = 0;
                        while at < msg.len() {
                            at += std::future::poll_fn(|cx| {
                                Pin::new(&mut a).poll_write(cx, &msg[at..])
                            })
                            .await
                            .unwrap();
                        }
                    }
                    std::future::poll_fn(|cx| Pin::new(&mut a).poll_shutdown(cx))
                        .await
                        .unwrap();
                    a
                });
                let mut got = Vec::new();
                loop {
                    let mut storage = [std::mem::MaybeUninit::<u8>::uninit(); 7000];
                    let mut buf = hyper::rt::ReadBuf::uninit(&mut storage);
                    std::future::poll_fn(|cx| Pin::new(&mut b).poll_read(cx, buf.unfilled()))
                        .await
                        .unwrap();
                    if buf.filled().is_empty() {
                        break;
                    }
                    got.extend_from_slice(buf.filled());
                }
                drop(writer.await.unwrap());
                assert_eq!(&got[..4], b"ping", "{io:?}");
                assert!(got[4..] == big[..], "{io:?}: the large message differs");
            });
        }
    }
}

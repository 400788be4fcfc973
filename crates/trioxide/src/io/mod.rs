//! I/O traits: the executor-neutral futures-io traits, re-exported, plus extension
//! traits with the `async fn` conveniences (`read`, `read_exact`, `write_all`, ...) so
//! no extra crate is needed, and a [`BufReader`] with line reading
//! ([`AsyncBufReadExt::read_line`], [`lines`](AsyncBufReadExt::lines): asyncio's
//! `StreamReader.readline()` and `async for line in reader`).

mod buf_reader;

pub use buf_reader::{AsyncBufReadExt, BufReader, Lines};
pub use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

use std::future::poll_fn;
use std::io;
use std::pin::Pin;

/// `async` reading helpers for every [`AsyncRead`].
#[allow(async_fn_in_trait)]
pub trait AsyncReadExt: AsyncRead + Unpin {
    /// Reads some bytes into `buf`; `Ok(0)` means end of stream. Cancel-safe.
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| Pin::new(&mut *self).poll_read(cx, buf)).await
    }

    /// Fills `buf` completely, or fails with `UnexpectedEof`. Not cancel-safe: bytes read
    /// before a cancellation are lost.
    async fn read_exact(&mut self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.read(buf).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stream ended early",
                ));
            }
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// Reads until end of stream, appending to `out`; returns the bytes read.
    async fn read_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let start = out.len();
        let mut chunk = [0u8; 8192];
        loop {
            let n = self.read(&mut chunk).await?;
            if n == 0 {
                return Ok(out.len() - start);
            }
            out.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads until end of stream as UTF-8, appending to `out`.
    async fn read_to_string(&mut self, out: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        let n = self.read_to_end(&mut bytes).await?;
        let text =
            String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        out.push_str(&text);
        Ok(n)
    }
}

impl<R: AsyncRead + Unpin + ?Sized> AsyncReadExt for R {}

/// `async` writing helpers for every [`AsyncWrite`].
#[allow(async_fn_in_trait)]
pub trait AsyncWriteExt: AsyncWrite + Unpin {
    /// Writes some of `buf`, returning how much. Cancel-safe.
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| Pin::new(&mut *self).poll_write(cx, buf)).await
    }

    /// Writes all of `buf`. Not cancel-safe: a cancellation may leave part of it written.
    async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the stream accepted no bytes",
                ));
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Flushes buffered data.
    async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Flushes and closes the writing half.
    async fn close(&mut self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_close(cx)).await
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> AsyncWriteExt for W {}

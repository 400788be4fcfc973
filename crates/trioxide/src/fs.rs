//! Files: `trioxide::fs::{File, OpenOptions, read, write, read_to_string, metadata,
//! remove_file, rename, create_dir_all}`.
//!
//! On io_uring, `File::read_at` / `write_at` go through the ring with owned buffers
//! (the kernel reads and writes them directly; a dropped future leaves the buffer with
//! the driver until the kernel is done). Everything else — and everything under epoll,
//! where regular files are always "ready" — runs on the blocking pool, as
//! `tokio::fs` does. Same API and tests on both backends.

use crate::runtime::Handle;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Runs a blocking file operation on the runtime's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let handle = Handle::try_current()
        .map_err(|e| io::Error::other(format!("trioxide::fs needs a runtime: {e}")))?;
    match handle.spawn_blocking(f).await {
        Ok(result) => result,
        Err(err) => Err(io::Error::other(format!(
            "file operation did not finish: {err}"
        ))),
    }
}

/// Reads a whole file.
///
/// ```
/// trioxide::run(async {
///     let path = trioxide::fs::temp_path("doc-read.txt");
///     trioxide::fs::write(&path, b"contents").await.unwrap();
///     assert_eq!(trioxide::fs::read(&path).await.unwrap(), b"contents");
///     trioxide::fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::read(path)).await
}

/// Reads a whole file as UTF-8.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::read_to_string(path)).await
}

/// Writes `contents` to a file, creating or truncating it.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (path, contents) = (path.as_ref().to_owned(), contents.as_ref().to_owned());
    blocking(move || std::fs::write(path, contents)).await
}

/// A file's metadata.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::metadata(path)).await
}

/// Removes a file.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::remove_file(path)).await
}

/// Renames a file or directory.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    blocking(move || std::fs::rename(from, to)).await
}

/// Creates a directory and all its missing parents.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    blocking(move || std::fs::create_dir_all(path)).await
}

/// Options for opening a file (`std::fs::OpenOptions`, async).
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// All options off.
    pub fn new() -> Self {
        OpenOptions(std::fs::OpenOptions::new())
    }
    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.0.read(on);
        self
    }
    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.0.write(on);
        self
    }
    /// Append to the end.
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.0.append(on);
        self
    }
    /// Truncate on open.
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.0.truncate(on);
        self
    }
    /// Create if missing.
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.0.create(on);
        self
    }
    /// Create, failing if it exists.
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.0.create_new(on);
        self
    }
    /// Opens `path` with these options.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (opts, path) = (self.0.clone(), path.as_ref().to_owned());
        let std = blocking(move || opts.open(&path)).await?;
        Ok(File { std: Arc::new(std) })
    }
}

/// An open file. Positional reads and writes take owned buffers (the io_uring model);
/// `read_to_end` / `write_all` conveniences are built on them.
#[derive(Debug, Clone)]
pub struct File {
    std: Arc<std::fs::File>,
}

impl File {
    /// Opens a file for reading.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Creates (or truncates) a file for writing.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    fn uring(&self) -> Option<trioxide_reactor::uring::UringOps> {
        Handle::try_current().ok()?.reactor().uring_ops().cloned()
    }

    /// Reads up to `buf.capacity()` bytes at `offset` into `buf` (its length becomes the
    /// byte count; 0 at end of file) and gives the buffer back.
    pub async fn read_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<usize>, Vec<u8>) {
        if let Some(ops) = self.uring() {
            return ops
                .read_at(self.std.as_raw_fd(), buf, offset)
                .keeping_open(&self.std)
                .await;
        }
        let std = self.std.clone();
        let outcome = blocking(move || {
            use std::os::unix::fs::FileExt;
            let mut buf = buf;
            let cap = buf.capacity().max(1);
            buf.resize(cap, 0);
            let n = std.read_at(&mut buf, offset);
            buf.truncate(*n.as_ref().unwrap_or(&0));
            Ok((n, buf))
        })
        .await;
        match outcome {
            Ok(pair) => pair,
            Err(e) => (Err(e), Vec::new()),
        }
    }

    /// Writes all of `buf` at `offset` and gives the buffer back.
    pub async fn write_all_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<()>, Vec<u8>) {
        if let Some(ops) = self.uring() {
            let mut done = 0usize;
            let mut buf = buf;
            while done < buf.len() {
                let rest = buf.split_off(done);
                let (res, rest) = ops
                    .write_at(self.std.as_raw_fd(), rest, offset + done as u64)
                    .keeping_open(&self.std)
                    .await;
                buf.extend_from_slice(&rest);
                match res {
                    Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                    Ok(n) => done += n,
                    Err(e) => return (Err(e), buf),
                }
            }
            return (Ok(()), buf);
        }
        let std = self.std.clone();
        let outcome = blocking(move || {
            use std::os::unix::fs::FileExt;
            let res = std.write_all_at(&buf, offset);
            Ok((res, buf))
        })
        .await;
        match outcome {
            Ok(pair) => pair,
            Err(e) => (Err(e), Vec::new()),
        }
    }

    /// Reads from `offset` to the end of the file.
    pub async fn read_to_end_at(&self, mut offset: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            let (n, back) = self.read_at(buf, offset).await;
            let n = n?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&back[..n]);
            offset += n as u64;
            buf = back;
            buf.clear();
        }
    }

    /// Flushes data and metadata to the device.
    pub async fn sync_all(&self) -> io::Result<()> {
        let std = self.std.clone();
        blocking(move || std.sync_all()).await
    }

    /// The file's metadata.
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        let std = self.std.clone();
        blocking(move || std.metadata()).await
    }

    /// Truncates or extends the file to `len` bytes.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        let std = self.std.clone();
        blocking(move || std.set_len(len)).await
    }
}

/// A path under the system temporary directory unique to this process, for tests and
/// examples.
#[doc(hidden)]
pub fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("trioxide-{}-{name}", std::process::id()))
}

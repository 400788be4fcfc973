//! The `tokio-io` feature end to end: trioxide's TCP and Unix streams driven through
//! `tokio::io::{AsyncReadExt, AsyncWriteExt}` (and `tokio::io::copy`) on trioxide
//! runtimes of every flavor, with no tokio runtime in the process.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use trioxide::compat::TokioIo;
use trioxide::net::{TcpListener, TcpStream, UnixStream};
use trioxide::runtime::{Flavor, Io, Runtime};

fn each_flavor(body: impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) {
    for flavor in [
        Flavor::CurrentThread,
        Flavor::WorkStealing,
        Flavor::ThreadPerCore,
    ] {
        let rt = Runtime::builder()
            .flavor(flavor)
            .io(Io::Epoll)
            .build()
            .unwrap();
        rt.block_on(body());
    }
}

#[test]
fn tcp_echo_through_tokio_traits() {
    each_flavor(|| {
        Box::pin(async {
            assert!(
                tokio::runtime::Handle::try_current().is_err(),
                "no tokio runtime is involved"
            );
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = trioxide::spawn(async move {
                let (conn, _) = listener.accept().await.unwrap();
                let (mut reader, mut writer) = tokio::io::split(TokioIo::new(conn));
                // Echo everything back until the client shuts its side down.
                let copied = tokio::io::copy(&mut reader, &mut writer).await.unwrap();
                writer.shutdown().await.unwrap();
                copied
            });
            let mut client = TokioIo::new(TcpStream::connect(addr).await.unwrap());
            let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            client.write_all(&payload).await.unwrap();
            client.write_u32(0xdead_beef).await.unwrap();
            client.shutdown().await.unwrap();
            let mut echoed = vec![0; payload.len()];
            client.read_exact(&mut echoed).await.unwrap();
            assert!(echoed == payload, "the echo differs");
            assert_eq!(client.read_u32().await.unwrap(), 0xdead_beef);
            let mut rest = Vec::new();
            assert_eq!(
                client.read_to_end(&mut rest).await.unwrap(),
                0,
                "EOF after the echo"
            );
            assert_eq!(server.await.unwrap(), payload.len() as u64 + 4);
        })
    });
}

#[test]
fn unix_lines_through_tokio_buf_reader() {
    each_flavor(|| {
        Box::pin(async {
            let (a, b) = UnixStream::pair().unwrap();
            let mut a = TokioIo::new(a);
            a.write_all(b"first line\nsecond line\n").await.unwrap();
            drop(a);
            let mut lines = BufReader::new(TokioIo::new(b)).lines();
            assert_eq!(
                lines.next_line().await.unwrap().as_deref(),
                Some("first line")
            );
            assert_eq!(
                lines.next_line().await.unwrap().as_deref(),
                Some("second line")
            );
            assert_eq!(lines.next_line().await.unwrap(), None);
        })
    });
}

/// The streams themselves implement tokio's traits (no `TokioIo`), on both backends: an
/// echo through `tokio::io::copy` over `&TcpStream` halves, reads into uninitialised
/// spare capacity (`read_buf`), and lines from a Unix stream through tokio's `BufReader`.
#[test]
fn streams_implement_tokio_traits_directly() {
    for io in [Io::Epoll, Io::IoUring] {
        for flavor in [
            Flavor::CurrentThread,
            Flavor::WorkStealing,
            Flavor::ThreadPerCore,
        ] {
            let rt = match Runtime::builder().flavor(flavor).io(io).build() {
                Ok(rt) => rt,
                Err(e)
                    if !std::env::var_os("TRIOXIDE_TEST_REQUIRE_IO_URING")
                        .is_some_and(|v| v != "0" && !v.is_empty()) =>
                {
                    eprintln!("skipping {io:?}: {e}");
                    continue;
                }
                Err(e) => panic!("TRIOXIDE_TEST_REQUIRE_IO_URING is set: {e}"),
            };
            rt.block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let server = trioxide::spawn(async move {
                    let (conn, _) = listener.accept().await.unwrap();
                    let (mut reader, mut writer) = (&conn, &conn);
                    let copied = tokio::io::copy(&mut reader, &mut writer).await.unwrap();
                    // (`TcpStream::shutdown(how)`, the inherent method, would win over
                    // the trait's.)
                    AsyncWriteExt::shutdown(&mut writer).await.unwrap();
                    copied
                });
                let client = std::sync::Arc::new(TcpStream::connect(addr).await.unwrap());
                let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
                // Written by a task of its own while this one reads the echo back.
                let (writer_end, sent) = (client.clone(), payload.clone());
                let writer = trioxide::spawn(async move {
                    let mut w = &*writer_end;
                    w.write_all(&sent).await.unwrap();
                    AsyncWriteExt::shutdown(&mut w).await.unwrap();
                });
                let mut client = &*client;
                let mut echoed = Vec::with_capacity(payload.len());
                while echoed.len() < payload.len() {
                    // `read_buf` offers the vector's uninitialised spare capacity.
                    let n = client.read_buf(&mut echoed).await.unwrap();
                    assert!(n > 0, "EOF before the whole echo");
                }
                assert!(echoed == payload, "the echo differs");
                assert_eq!(client.read(&mut [0u8; 8]).await.unwrap(), 0, "EOF after it");
                writer.await.unwrap();
                assert_eq!(server.await.unwrap(), payload.len() as u64);

                let (a, b) = UnixStream::pair().unwrap();
                let writer = trioxide::spawn(async move {
                    let mut a = a;
                    a.write_all(b"first\nsecond\n").await.unwrap();
                });
                let mut lines = BufReader::new(&b).lines();
                assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("first"));
                assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("second"));
                writer.await.unwrap();
                assert_eq!(
                    lines.next_line().await.unwrap(),
                    None,
                    "EOF once `a` closed"
                );
            });
        }
    }
}

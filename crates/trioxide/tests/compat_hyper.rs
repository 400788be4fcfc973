//! The `hyper` feature end to end: hyper's HTTP/1 and HTTP/2 servers and clients on
//! trioxide streams (TCP and Unix), trioxide's executor and timer, on every flavor, with
//! no tokio runtime in the process (handlers check `tokio::runtime::Handle::try_current`).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::time::Duration;
use trioxide::compat::{CompletionIo, HyperIo, TrioxideExecutor, TrioxideTimer};
use trioxide::net::{TcpListener, TcpStream, UnixStream};
use trioxide::runtime::{Flavor, Io, Runtime};

const FLAVORS: [Flavor; 3] = [
    Flavor::CurrentThread,
    Flavor::WorkStealing,
    Flavor::ThreadPerCore,
];

/// The handler: echoes the path and reports whether a tokio runtime is visible.
async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let tokio_here = tokio::runtime::Handle::try_current().is_ok();
    // Awaiting a trioxide timer inside the handler works too.
    trioxide::time::sleep(Duration::from_millis(1)).await;
    let body = format!(
        "{} {:?} tokio={tokio_here}",
        req.uri().path(),
        req.version()
    );
    Ok(Response::new(Full::new(Bytes::from(body))))
}

async fn get_body<B>(sender: &mut hyper::client::conn::http1::SendRequest<B>, path: &str) -> String
where
    B: hyper::body::Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    sender.ready().await.unwrap(); // the previous response is fully read
    let req = Request::get(path).body(B::from(Bytes::new())).unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[test]
fn http1_server_and_client_over_tcp_on_every_flavor() {
    for flavor in FLAVORS {
        let rt = Runtime::builder()
            .flavor(flavor)
            .io(Io::Epoll)
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = trioxide::spawn(async move {
                let (conn, _) = listener.accept().await.unwrap();
                hyper::server::conn::http1::Builder::new()
                    .timer(TrioxideTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    // hyper's traits on the stream itself; the client goes through HyperIo.
                    .serve_connection(conn, hyper::service::service_fn(hello))
                    .await
                    .unwrap();
            });
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake::<_, Full<Bytes>>(HyperIo::new(stream))
                    .await
                    .unwrap();
            let conn = trioxide::spawn(conn);
            // Several requests on one keep-alive connection.
            for name in ["/Alice", "/Bob", "/Carol"] {
                let body = get_body(&mut sender, name).await;
                assert_eq!(body, format!("{name} HTTP/1.1 tokio=false"), "{flavor:?}");
            }
            drop(sender);
            conn.await.unwrap().unwrap();
            server.await.unwrap();
        });
    }
}

#[test]
fn http2_server_and_client_with_concurrent_streams_on_every_flavor() {
    for flavor in FLAVORS {
        let rt = Runtime::builder()
            .flavor(flavor)
            .io(Io::Epoll)
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = trioxide::spawn(async move {
                let (conn, _) = listener.accept().await.unwrap();
                hyper::server::conn::http2::Builder::new(TrioxideExecutor::new())
                    .timer(TrioxideTimer::new())
                    .keep_alive_interval(Duration::from_secs(30))
                    .serve_connection(conn, hyper::service::service_fn(hello))
                    .await
                    .unwrap();
            });
            let stream = TcpStream::connect(addr).await.unwrap();
            let (sender, conn) = hyper::client::conn::http2::Builder::new(TrioxideExecutor::new())
                .timer(TrioxideTimer::new())
                .handshake::<_, Empty<Bytes>>(stream)
                .await
                .unwrap();
            let conn = trioxide::spawn(conn);
            // 50 requests in flight at once, multiplexed on one connection.
            let requests: Vec<_> = (0..50)
                .map(|i| {
                    let mut sender = sender.clone();
                    trioxide::spawn(async move {
                        let req = Request::get(format!("http://x/n{i}"))
                            .body(Empty::new())
                            .unwrap();
                        let res = sender.send_request(req).await.unwrap();
                        let body = res.into_body().collect().await.unwrap().to_bytes();
                        (i, String::from_utf8(body.to_vec()).unwrap())
                    })
                })
                .collect();
            for request in requests {
                let (i, body) = request.await.unwrap();
                assert_eq!(body, format!("/n{i} HTTP/2.0 tokio=false"), "{flavor:?}");
            }
            drop(sender);
            conn.await.unwrap().unwrap();
            server.await.unwrap();
        });
    }
}

#[test]
fn http1_over_a_unix_stream_on_io_uring_when_available() {
    let rt = match Runtime::builder().io(Io::IoUring).build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("skipping the io_uring run: {err}");
            Runtime::builder().io(Io::Epoll).build().unwrap()
        }
    };
    rt.block_on(async {
        let (server_side, client_side) = UnixStream::pair().unwrap();
        let server = trioxide::spawn(async move {
            hyper::server::conn::http1::Builder::new()
                .serve_connection(server_side, hyper::service::service_fn(hello))
                .await
                .unwrap();
        });
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(HyperIo::new(client_side))
                .await
                .unwrap();
        let conn = trioxide::spawn(conn);
        assert_eq!(
            get_body(&mut sender, "/unix").await,
            "/unix HTTP/1.1 tokio=false"
        );
        drop(sender);
        conn.await.unwrap().unwrap();
        server.await.unwrap();
    });
}

#[test]
fn header_read_timeout_closes_a_silent_connection() {
    let rt = Runtime::builder().io(Io::Epoll).build().unwrap();
    rt.block_on(async {
        let (server_side, client_side) = UnixStream::pair().unwrap();
        let served = trioxide::spawn(async move {
            hyper::server::conn::http1::Builder::new()
                .timer(TrioxideTimer::new())
                .header_read_timeout(Duration::from_millis(200))
                .serve_connection(HyperIo::new(server_side), hyper::service::service_fn(hello))
                .await
        });
        // Half a request head, then silence: the timer must end the connection.
        use trioxide::io::AsyncWriteExt;
        let mut client_side = client_side;
        client_side
            .write_all(b"GET / HTTP/1.1\r\nhost:")
            .await
            .unwrap();
        let result = trioxide::fail_after(Duration::from_secs(10), served).await;
        let result = result.expect("the header read timeout fired").unwrap();
        let err = result.expect_err("a timed-out connection ends with an error");
        assert!(err.is_timeout(), "{err}");
    });
}

/// Echoes the request body.
async fn echo_body(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req.into_body().collect().await.unwrap().to_bytes();
    Ok(Response::new(Full::new(body)))
}

/// 8 MiB up and back on one connection, with hyper's traits on trioxide's `TcpStream`
/// itself on both sides: reads into hyper's uninitialised buffer land whole, in order.
#[test]
fn a_large_body_round_trips_through_the_streams_own_hyper_traits_on_both_backends() {
    for io in [Io::Epoll, Io::IoUring] {
        let rt = match Runtime::builder().io(io).build() {
            Ok(rt) => rt,
            Err(err) => {
                eprintln!("skipping {io:?}: {err}");
                continue;
            }
        };
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = trioxide::spawn(async move {
                let (conn, _) = listener.accept().await.unwrap();
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(conn, hyper::service::service_fn(echo_body))
                    .await
                    .unwrap();
            });
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake::<_, Full<Bytes>>(stream)
                    .await
                    .unwrap();
            let conn = trioxide::spawn(conn);
            let sent: Vec<u8> = (0..8 << 20)
                .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect();
            let req = Request::post("/")
                .body(Full::new(Bytes::from(sent.clone())))
                .unwrap();
            let res = sender.send_request(req).await.unwrap();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), sent.len(), "{io:?}");
            assert!(body[..] == sent[..], "{io:?}: the echoed body differs");
            drop(sender);
            conn.await.unwrap().unwrap();
            server.await.unwrap();
        });
    }
}

/// `CompletionIo` on both ends, on every flavor and both backends (on epoll it is the
/// stream's own readiness path): keep-alive requests, an 8 MiB body up and back (many
/// receives, the buffer growing, sends the kernel may take in parts), and 100 connections
/// at once, each with requests of its own.
#[test]
fn completion_io_serves_and_requests_on_every_flavor_and_backend() {
    for flavor in FLAVORS {
        for io in [Io::Epoll, Io::IoUring] {
            let rt = match Runtime::builder().flavor(flavor).io(io).build() {
                Ok(rt) => rt,
                Err(err) => {
                    eprintln!("skipping {flavor:?} on {io:?}: {err}");
                    continue;
                }
            };
            rt.block_on(completion_io_round_trips(format!("{flavor:?} on {io:?}")));
        }
    }
}

async fn completion_io_round_trips(what: String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    const CONNECTIONS: usize = 100;
    let server_what = what.clone();
    let server = trioxide::spawn(async move {
        let mut conns = Vec::new();
        // One connection for the large body, then the concurrent ones.
        for _ in 0..=CONNECTIONS {
            let (conn, _) = listener.accept().await.unwrap();
            let what = server_what.clone();
            conns.push(trioxide::spawn(async move {
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        CompletionIo::new(conn),
                        hyper::service::service_fn(|req: Request<Incoming>| async move {
                            if req.method() == hyper::Method::POST {
                                echo_body(req).await
                            } else {
                                hello(req).await
                            }
                        }),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{what}: the server's connection failed: {e:?}"));
            }));
        }
        for conn in conns {
            conn.await.unwrap();
        }
    });
    let client = |stream: TcpStream| {
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(CompletionIo::new(stream))
    };
    let (mut sender, conn) = client(TcpStream::connect(addr).await.unwrap())
        .await
        .unwrap();
    let conn = trioxide::spawn(conn);
    for name in ["/Alice", "/Bob"] {
        let body = get_body(&mut sender, name).await;
        assert_eq!(body, format!("{name} HTTP/1.1 tokio=false"), "{what}");
    }
    let sent: Vec<u8> = (0..8 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    sender.ready().await.unwrap();
    let req = Request::post("/")
        .body(Full::new(Bytes::from(sent.clone())))
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(body[..] == sent[..], "{what}: the echoed body differs");
    drop(sender);
    conn.await.unwrap().unwrap();

    let mut clients = Vec::new();
    for i in 0..CONNECTIONS {
        let stream = TcpStream::connect(addr).await.unwrap();
        let what = what.clone();
        clients.push(trioxide::spawn(async move {
            let (mut sender, conn) = client(stream).await.unwrap();
            let conn = trioxide::spawn(conn);
            for round in 0..3 {
                let path = format!("/c{i}r{round}");
                let body = get_body(&mut sender, &path).await;
                assert_eq!(body, format!("{path} HTTP/1.1 tokio=false"), "{what}");
            }
            drop(sender);
            conn.await.unwrap().unwrap();
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    server.await.unwrap();
}

//! A `TcpStream` dropped inside `block_on` must close the connection even when the runtime
//! then goes idle: the peer sees end-of-file. Found by the stress suite's echo scenario (the
//! server child waited forever for its clients' FINs on io_uring: the poll's cancellation
//! waited in the submission queue for a `wait` that never came, and the pending poll kept
//! the socket open). The reactor now submits cancellations at once.

use std::io::Read;
use std::time::Duration;
use trioxide::net::TcpStream;

/// Bound for the peer to see end-of-file (generous for a loaded machine).
const WITHIN: Duration = Duration::from_secs(10);

/// Whether the peer saw end-of-file within [`WITHIN`] (`true` where the config cannot run).
fn peer_sees_eof_after_drop_then_idle(
    flavor: trioxide::runtime::Flavor,
    io: trioxide::runtime::Io,
) -> bool {
    let Some(rt) = trioxide_tests::try_runtime(flavor, io) else {
        return true;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rt.block_on(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        drop(stream);
    });
    // The runtime is alive but idle now: nothing drives it.
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(WITHIN)).unwrap();
    let mut buf = [0u8; 1];
    let start = std::time::Instant::now();
    let eof = loop {
        match peer.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted && start.elapsed() < WITHIN => {}
            Ok(n) => break n == 0,
            Err(_) => break false, // the read timed out: no FIN
        }
    };
    drop(rt);
    eof
}

#[test]
fn dropped_stream_closes_while_idle_on_every_config() {
    let stuck: Vec<&str> = trioxide_tests::CONFIGS
        .iter()
        .filter(|&&(_, flavor, io)| !peer_sees_eof_after_drop_then_idle(flavor, io))
        .map(|&(name, _, _)| name)
        .collect();
    assert!(
        stuck.is_empty(),
        "no FIN within {WITHIN:?} of dropping the stream on {stuck:?}"
    );
}

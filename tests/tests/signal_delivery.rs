//! Unix signals end to end, on every flavor and I/O backend: each of several listeners
//! (each in its own task, each with its own registration) gets a delivery, the `Stream`
//! side yields once per delivery, and `ctrl_c` resolves on `SIGINT`. The process signals
//! itself with `kill(getpid(), ..)` only after the listeners exist, so the signals'
//! default actions (termination) never run.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use trioxide::signal::{SignalKind, signal};
use trioxide_tests::rt_test;

/// Generous: the test machine is loaded.
const WITHIN: Duration = Duration::from_secs(10);

fn raise(sig: i32) {
    // SAFETY: `kill` on our own pid with a signal we have a handler for.
    let rc = unsafe { libc::kill(libc::getpid(), sig) };
    assert_eq!(rc, 0, "kill failed");
}

rt_test! {
    async fn every_listener_gets_the_signal() {
        const LISTENERS: usize = 3;
        let mut ready = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..LISTENERS {
            let (tx, rx) = trioxide::sync::oneshot::channel();
            ready.push(rx);
            tasks.push(trioxide::spawn(async move {
                let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
                tx.send(()).unwrap();
                trioxide::fail_after(WITHIN, usr2.recv()).await.is_ok()
            }));
        }
        for rx in ready {
            rx.await.unwrap();
        }
        raise(libc::SIGUSR2);
        for task in tasks {
            assert!(task.await.unwrap(), "a listener missed SIGUSR2");
        }
    }
}

rt_test! {
    async fn the_stream_yields_once_per_delivery() {
        let mut hup = signal(SignalKind::hangup()).unwrap();
        for round in 0..3 {
            raise(libc::SIGHUP);
            let next = std::future::poll_fn(|cx| {
                futures_core::Stream::poll_next(Pin::new(&mut hup), cx)
            });
            let item = trioxide::fail_after(WITHIN, next).await;
            assert_eq!(item, Ok(Some(())), "round {round}");
        }
    }
}

rt_test! {
    async fn ctrl_c_resolves_on_sigint() {
        let mut ctrl_c = std::pin::pin!(trioxide::signal::ctrl_c());
        // The first poll installs the handler; only then is SIGINT safe to send.
        std::future::poll_fn(|cx| {
            assert!(ctrl_c.as_mut().poll(cx).is_pending(), "no Ctrl-C was sent yet");
            Poll::Ready(())
        })
        .await;
        raise(libc::SIGINT);
        let got = trioxide::fail_after(WITHIN, ctrl_c).await;
        assert!(matches!(got, Ok(Ok(()))), "ctrl_c did not resolve: {got:?}");
    }
}

#[test]
fn forbidden_signals_are_refused_with_a_message() {
    let err = SignalKind::from_raw(libc::SIGKILL).unwrap_err();
    assert!(err.to_string().contains("cannot be listened for"), "{err}");
}

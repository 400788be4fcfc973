//! Compile-time guarantees: handles, guards and futures are `Send`/`Sync` where a
//! multi-threaded executor needs them, so they can be held across `.await` in spawned
//! tasks.

use std::sync::Arc;
use trioxide_sync::*;

fn send<T: Send>(_: &T) {}
fn send_sync<T: Send + Sync>(_: &T) {}

#[test]
fn handles_are_send_and_sync() {
    send_sync(&Queue::<String>::new(0));
    send_sync(&LifoQueue::<String>::new(0));
    send_sync(&PriorityQueue::<String>::new(0));
    let (tx, rx) = mpsc::channel::<String>(1);
    send_sync(&tx);
    send(&rx);
    let (tx, rx) = mpmc::unbounded::<String>();
    send_sync(&tx);
    send_sync(&rx);
    let (tx, rx) = oneshot::channel::<String>();
    send(&tx);
    send(&rx);
    let (tx, rx) = broadcast::channel::<String>(1);
    send_sync(&tx);
    send(&rx);
    let (tx, rx) = watch::channel(String::new());
    send_sync(&tx);
    send(&rx);
    send_sync(&Notify::new());
    send_sync(&Semaphore::new(1));
    send_sync(&Mutex::new(String::new()));
    send_sync(&RwLock::new(String::new()));
    send_sync(&Event::new());
    send_sync(&Barrier::new(1));
    send_sync(&Condition::new());
}

#[test]
fn futures_are_send() {
    let q = Queue::<String>::new(0);
    send(&q.put(String::new()));
    send(&q.get());
    send(&q.join());
    let (tx, mut rx) = mpsc::channel::<String>(1);
    send(&tx.send(String::new()));
    send(&rx.recv());
    let (tx, rx) = mpmc::channel::<String>(1);
    send(&tx.send(String::new()));
    send(&rx.recv());
    let n = Notify::new();
    send(&n.notified());
    let s = Arc::new(Semaphore::new(1));
    send(&s.acquire());
    send(&s.clone().acquire_owned());
    let m = Arc::new(Mutex::new(0));
    send(&m.lock());
    send(&m.clone().lock_owned());
    let l = RwLock::new(0);
    send(&l.read());
    send(&l.write());
    let e = Event::new();
    send(&e.wait());
    let b = Barrier::new(1);
    send(&b.wait());
    let (_btx, mut brx) = broadcast::channel::<String>(1);
    send(&brx.recv());
    let (_wtx, mut wrx) = watch::channel(0);
    send(&wrx.changed());
    let c = Condition::new();
    let mm = Mutex::new(0);
    let g = mm.try_lock().unwrap();
    send(&c.wait(g));
}

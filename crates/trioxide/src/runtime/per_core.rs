//! `Flavor::ThreadPerCore`: N independent current-thread executors, each with its own
//! reactor and timers, optionally pinned to a CPU (glommio / monoio's model), behind the
//! same `Runtime` / `Handle` API as the other flavors.
//!
//! On a core thread, `spawn` and `spawn_local` stay on that core; `Handle::spawn_on`
//! sends a task to another core (through that core's remote queue and unpark handle).
//! From outside the cores (the thread that calls `block_on`), `spawn` spreads tasks over
//! the cores round-robin. Each core runs `block_on(stop)`; stopping the runtime resolves
//! `stop` and the core drops its tasks on its own thread.

use super::context::{self, Handle, SpawnTarget};
use super::park::ReactorPark;
use super::{BuildError, Builder, IoBackend};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use trioxide_reactor::timers::Timers;
use trioxide_sync::oneshot;
use trioxide_task::{BlockingPool, Spawner};

/// The running cores of a thread-per-core runtime.
pub(crate) struct Cores {
    pub(crate) spawners: Arc<[Spawner]>,
    /// Each core's reactor and timers (for metrics).
    pub(crate) drivers: Vec<(Arc<trioxide_reactor::Reactor>, Arc<Timers>)>,
    threads: Vec<CoreThread>,
}

struct CoreThread {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What a core reports once its executor exists: its spawner, reactor and timers.
type Ready = Result<(Spawner, Arc<trioxide_reactor::Reactor>, Arc<Timers>), BuildError>;

/// Starts `n` cores; each builds its own reactor, timers and executor on its thread.
pub(crate) fn start(
    builder: &Builder,
    n: usize,
    backend: IoBackend,
    blocking: &BlockingPool,
    hooks: &Option<Arc<crate::debug::hooks::RuntimeHooks>>,
    metrics: &Arc<crate::metrics::Sources>,
) -> Result<Cores, BuildError> {
    let mut threads = Vec::with_capacity(n);
    let mut spawners = Vec::with_capacity(n);
    let mut drivers = Vec::with_capacity(n);
    let mut list_senders = Vec::with_capacity(n);
    for index in 0..n {
        let (ready_tx, ready_rx) = mpsc::channel::<Ready>();
        let (list_tx, list_rx) = mpsc::channel::<Arc<[Spawner]>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let blocking = blocking.clone();
        let hooks = hooks.clone();
        let metrics = metrics.clone();
        let user = builder.hooks.clone();
        let (debug, grace, pin) = (builder.debug, builder.cancel_grace, builder.pin_threads);
        let spawned = std::thread::Builder::new()
            .name(format!("{}-core-{index}", builder.thread_name))
            .spawn(move || {
                if pin {
                    super::affinity::pin_current_thread(index);
                }
                user.thread_started();
                struct Stopping(super::UserHooks);
                impl Drop for Stopping {
                    fn drop(&mut self) {
                        self.0.thread_stopping();
                    }
                }
                let _stopping = Stopping(user);
                // Only this thread waits on (and so submits to) its ring: an owned ring,
                // whose completions never cost this thread an interrupt (see
                // `UringDriver::new_owned`). Others' operations are pushed for it.
                let reactor = match super::builder::new_owned_reactor(backend) {
                    Ok(r) => r,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                // A first turn on this thread tells the driver which thread drives it
                // (io_uring: whose own submissions may wait for its next turn, and who
                // submits its cancellations at once); it also submits the ring's wake-up
                // poll, queued at setup.
                let _ = reactor.turn(Some(std::time::Duration::ZERO));
                let timers = Timers::new();
                let park = ReactorPark::new(reactor.clone(), timers.clone(), None);
                let executor = super::local_executor(park, &hooks);
                let parts = (executor.spawner(), reactor.clone(), timers.clone());
                if ready_tx.send(Ok(parts)).is_err() {
                    return;
                }
                let Ok(cores) = list_rx.recv() else { return };
                let handle = Handle {
                    shared: Arc::new(context::Shared {
                        spawn: std::sync::OnceLock::from(SpawnTarget::Local(executor.spawner())),
                        blocking,
                        reactor: reactor.clone(),
                        timers,
                        backend,
                        flavor: super::Flavor::ThreadPerCore,
                        debug,
                        hooks,
                        metrics,
                        cancel_grace: grace,
                        cores: Some(cores),
                        worker_io: None,
                    }),
                };
                let context = context::enter_runtime(&handle);
                let _ = executor.block_on(stop_rx);
                drop(executor); // cancels this core's tasks, here, inside the context
                drop(context);
                reactor.shutdown();
            });
        let thread = spawned.map_err(|source| BuildError::Io {
            what: "core threads",
            source,
        })?;
        match ready_rx.recv() {
            Ok(Ok((spawner, reactor, timers))) => {
                spawners.push(spawner);
                drivers.push((reactor, timers));
            }
            Ok(Err(err)) => return Err(err),
            Err(_) => {
                return Err(BuildError::Io {
                    what: "core threads",
                    source: std::io::Error::other("a core thread exited during start-up"),
                });
            }
        }
        list_senders.push(list_tx);
        threads.push(CoreThread {
            stop: Some(stop_tx),
            thread: Some(thread),
        });
    }
    let spawners: Arc<[Spawner]> = spawners.into();
    for tx in list_senders {
        let _ = tx.send(spawners.clone());
    }
    Ok(Cores {
        spawners,
        drivers,
        threads,
    })
}

impl Cores {
    /// Stops every core and waits until `deadline` for them; `true` if all stopped.
    pub(crate) fn shutdown(&mut self, deadline: Option<Instant>) -> bool {
        for core in &mut self.threads {
            drop(core.stop.take()); // resolves the core's `block_on(stop)`
        }
        let mut all = true;
        for core in &mut self.threads {
            let Some(thread) = core.thread.take() else {
                continue;
            };
            while !thread.is_finished() && deadline.is_none_or(|d| Instant::now() < d) {
                std::thread::sleep(Duration::from_millis(1));
            }
            if thread.is_finished() {
                let _ = thread.join();
            } else {
                all = false; // a core is stuck in a blocking task: leave it detached
            }
        }
        all
    }
}

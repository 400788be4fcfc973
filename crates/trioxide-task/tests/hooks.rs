//! `TaskHooks` through both schedulers: every spawn, poll and release is seen, polls are
//! timed, an unread panic is reported exactly once, shutdown names the pending tasks,
//! every task completes once, and a kept `TaskProbe` follows the task's state.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use trioxide_task::{
    LocalExecutor, TaskHooks, TaskId, TaskProbe, TaskState, ThreadPark, WorkStealing,
    WorkStealingConfig, yield_now,
};

/// Records every hook call.
#[derive(Default)]
struct Recorder {
    spawned: Mutex<Vec<TaskId>>,
    before: Mutex<Vec<TaskId>>,
    after: Mutex<Vec<(TaskId, Duration)>>,
    panics: Mutex<Vec<(TaskId, String)>>,
    shutdown: Mutex<Vec<Vec<TaskId>>>,
    released: Mutex<Vec<TaskId>>,
    completed: Mutex<Vec<TaskId>>,
}

impl TaskHooks for Recorder {
    fn on_spawn(&self, task: &TaskProbe) {
        self.spawned.lock().unwrap().push(task.id());
    }
    fn on_complete(&self, id: TaskId) {
        self.completed.lock().unwrap().push(id);
    }
    fn before_poll(&self, id: TaskId) {
        self.before.lock().unwrap().push(id);
    }
    fn after_poll(&self, id: TaskId, elapsed: Duration) {
        self.after.lock().unwrap().push((id, elapsed));
    }
    fn on_unretrieved_panic(&self, id: TaskId, message: &str) {
        self.panics.lock().unwrap().push((id, message.to_string()));
    }
    fn on_shutdown(&self, pending: &[TaskId]) {
        self.shutdown.lock().unwrap().push(pending.to_vec());
    }
    fn on_release(&self, id: TaskId) {
        self.released.lock().unwrap().push(id);
    }
}

#[test]
fn local_executor_calls_every_hook() {
    let rec = Arc::new(Recorder::default());
    let ex = LocalExecutor::with_hooks(ThreadPark::new(), rec.clone());
    let twice = ex.spawn(async {
        yield_now().await;
        1
    });
    let slow = ex.spawn(async { std::thread::sleep(Duration::from_millis(20)) });
    let seen = ex.spawn(async { panic!("seen") });
    let unread = ex.spawn(async { panic!("unread") });
    let unread_id = unread.id();
    drop(unread);
    let (twice_id, slow_id) = (twice.id(), slow.id());
    ex.block_on(async {
        assert_eq!(twice.await.unwrap(), 1);
        slow.await.unwrap();
        assert!(seen.await.unwrap_err().is_panic());
    });
    let pending = ex.spawn(std::future::pending::<()>());
    let pending_id = pending.id();
    drop(pending);
    drop(ex);

    assert_eq!(rec.spawned.lock().unwrap().len(), 5);
    let before = rec.before.lock().unwrap().clone();
    assert_eq!(before.iter().filter(|&&id| id == twice_id).count(), 2);
    let after = rec.after.lock().unwrap().clone();
    assert_eq!(
        before.len(),
        after.len(),
        "every poll is announced and timed"
    );
    let slow_poll = after.iter().find(|(id, _)| *id == slow_id).unwrap();
    assert!(slow_poll.1 >= Duration::from_millis(20), "{slow_poll:?}");
    assert_eq!(
        *rec.panics.lock().unwrap(),
        vec![(unread_id, "unread".to_string())]
    );
    assert_eq!(*rec.shutdown.lock().unwrap(), vec![vec![pending_id]]);
    let mut released = rec.released.lock().unwrap().clone();
    let mut spawned = rec.spawned.lock().unwrap().clone();
    let mut completed = rec.completed.lock().unwrap().clone();
    released.sort();
    spawned.sort();
    completed.sort();
    assert_eq!(released, spawned, "every task is released once");
    assert_eq!(completed, spawned, "every task completes once");
}

/// Keeps a probe of every task (dropping it at completion) and records what the probe
/// said at each poll.
#[derive(Default)]
struct Prober {
    probes: Mutex<Vec<TaskProbe>>,
    seen_in_poll: Mutex<Vec<TaskState>>,
}

impl TaskHooks for Prober {
    fn on_spawn(&self, task: &TaskProbe) {
        assert_eq!(task.state(), TaskState::Scheduled);
        self.probes.lock().unwrap().push(task.clone());
    }
    fn before_poll(&self, id: TaskId) {
        let probes = self.probes.lock().unwrap();
        let probe = probes.iter().find(|p| p.id() == id).unwrap();
        self.seen_in_poll.lock().unwrap().push(probe.state());
    }
    fn on_complete(&self, id: TaskId) {
        let mut probes = self.probes.lock().unwrap();
        let at = probes.iter().position(|p| p.id() == id).unwrap();
        // The result is published right after this hook.
        assert_ne!(probes[at].state(), TaskState::Complete);
        probes.swap_remove(at);
    }
}

#[test]
fn a_probe_reads_the_live_state_and_is_dropped_at_completion() {
    let prober = Arc::new(Prober::default());
    let ex = LocalExecutor::with_hooks(ThreadPark::new(), prober.clone());
    let waiting = ex.spawn(async move {
        yield_now().await;
        std::future::pending::<()>().await;
    });
    assert_eq!(ex.run_until_stalled(), 2);
    let probe = prober.probes.lock().unwrap()[0].clone();
    assert_eq!(probe.state(), TaskState::Idle);
    waiting.cancel();
    assert_eq!(probe.state(), TaskState::Cancelling);
    ex.run_until_stalled();
    assert_eq!(probe.state(), TaskState::Complete);
    assert!(
        prober.probes.lock().unwrap().is_empty(),
        "dropped at completion"
    );
    assert_eq!(
        *prober.seen_in_poll.lock().unwrap(),
        vec![TaskState::Running; 2],
        "each poll sees its task running (dropping the cancelled future is no poll)"
    );
    drop(probe);
    drop(waiting);
    drop(ex);
}

#[test]
fn work_stealing_calls_the_hooks_too() {
    let rec = Arc::new(Recorder::default());
    let pool = WorkStealing::new(
        WorkStealingConfig {
            workers: 2,
            hooks: Some(rec.clone()),
            ..Default::default()
        },
        Box::new(ThreadPark::new()),
    )
    .unwrap();
    let ok = pool.spawn(async { 3 });
    let ok_id = ok.id();
    let unread = pool.spawn(async { panic!("unread") });
    let unread_id = unread.id();
    drop(unread);
    let watch = pool.spawn(std::future::pending::<()>());
    let pending_id = watch.id();
    assert_eq!(LocalExecutor::new().block_on(ok).unwrap(), 3);
    // Released means it also left the owned list, so shutdown cannot list it.
    while !{
        let released = rec.released.lock().unwrap();
        released.contains(&unread_id) && released.contains(&ok_id)
    } {
        std::thread::yield_now();
    }
    drop(watch);
    drop(pool);
    assert_eq!(rec.spawned.lock().unwrap().len(), 3);
    assert_eq!(rec.panics.lock().unwrap().len(), 1);
    assert_eq!(*rec.shutdown.lock().unwrap(), vec![vec![pending_id]]);
    assert_eq!(rec.released.lock().unwrap().len(), 3);
    assert_eq!(rec.completed.lock().unwrap().len(), 3);
}

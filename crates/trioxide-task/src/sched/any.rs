//! [`SpawnerRef`]: a borrowed spawner of either scheduler, as one concrete type with a
//! generic `spawn`. Code that receives its scheduler at run time (a scope handed its
//! runtime's spawner through a trait object) can start a task through it without boxing
//! the future: the future goes straight into the task cell.

use super::local::Spawner;
use super::steal::StealSpawner;
use crate::JoinHandle;
use std::future::Future;

/// A borrowed [`Spawner`] (current-thread executor) or [`StealSpawner`] (work-stealing
/// pool).
///
/// ```
/// use trioxide_task::{LocalExecutor, SpawnerRef};
///
/// let ex = LocalExecutor::new();
/// let spawner = ex.spawner();
/// let handle = SpawnerRef::from(&spawner).spawn(async { 6 * 7 });
/// assert_eq!(ex.block_on(handle).unwrap(), 42);
/// ```
#[derive(Clone, Copy, Debug)]
pub enum SpawnerRef<'a> {
    /// A current-thread executor's spawner.
    Local(&'a Spawner),
    /// A work-stealing pool's spawner.
    Steal(&'a StealSpawner),
}

impl SpawnerRef<'_> {
    /// Spawns `future` on the scheduler behind this reference (see [`Spawner::spawn`] and
    /// [`StealSpawner::spawn`]).
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        match self {
            SpawnerRef::Local(spawner) => spawner.spawn(future),
            SpawnerRef::Steal(spawner) => spawner.spawn(future),
        }
    }
}

impl<'a> From<&'a Spawner> for SpawnerRef<'a> {
    fn from(spawner: &'a Spawner) -> Self {
        SpawnerRef::Local(spawner)
    }
}

impl<'a> From<&'a StealSpawner> for SpawnerRef<'a> {
    fn from(spawner: &'a StealSpawner) -> Self {
        SpawnerRef::Steal(spawner)
    }
}

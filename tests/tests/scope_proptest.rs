//! Property test: random trees of scopes (depth up to 3, fan-out up to 4) whose leaves
//! sleep, succeed, fail, panic, or hang until cancelled, some with `on_cancel` cleanup.
//! Invariants: every scope returns only after all its children (no leaf runs after the
//! root scope returned); the root fails iff some leaf failed; each leaf that was cut off
//! ran its `on_cancel` cleanup exactly once, and no leaf that finished ran it.

use proptest::prelude::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use trioxide::runtime::{Flavor, Runtime};

#[derive(Debug, Clone)]
enum Leaf {
    Sleep(u8),
    Succeed,
    Fail,
    Panic,
    Hang,
}

#[derive(Debug, Clone)]
enum Tree {
    Leaf(Leaf, bool), // the bool: has an `on_cancel` guard
    Scope(Vec<Tree>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = (
        prop_oneof![
            4 => (0u8..4).prop_map(Leaf::Sleep),
            2 => Just(Leaf::Succeed),
            1 => Just(Leaf::Fail),
            1 => Just(Leaf::Panic),
            1 => Just(Leaf::Hang),
        ],
        any::<bool>(),
    )
        .prop_map(|(l, g)| Tree::Leaf(l, g));
    leaf.prop_recursive(3, 40, 4, |inner| {
        proptest::collection::vec(inner, 1..=4).prop_map(Tree::Scope)
    })
}

#[derive(Default)]
struct LeafState {
    started: AtomicBool,
    finished: AtomicBool,
    cleaned: AtomicUsize,
    guarded: AtomicBool,
}

#[derive(Default)]
struct Record {
    leaves: std::sync::Mutex<Vec<Arc<LeafState>>>,
    failed: AtomicUsize,
    ran_after_root: AtomicBool,
    root_done: AtomicBool,
}

#[derive(Debug)]
struct LeafError;
impl std::fmt::Display for LeafError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("leaf failed")
    }
}
impl std::error::Error for LeafError {}

type BoxFut = Pin<Box<dyn Future<Output = Result<(), trioxide::scope::BoxError>> + Send>>;

fn run_tree(tree: Tree, record: Arc<Record>) -> BoxFut {
    Box::pin(async move {
        match tree {
            Tree::Leaf(kind, guarded) => {
                let state = Arc::new(LeafState::default());
                state.guarded.store(guarded, Ordering::SeqCst);
                record.leaves.lock().unwrap().push(state.clone());
                state.started.store(true, Ordering::SeqCst);
                let _guard = guarded.then(|| {
                    let s = state.clone();
                    trioxide::on_cancel(async move {
                        s.cleaned.fetch_add(1, Ordering::SeqCst);
                    })
                });
                match kind {
                    Leaf::Sleep(ms) => {
                        trioxide::time::sleep(Duration::from_millis(ms.into())).await
                    }
                    Leaf::Succeed => {}
                    Leaf::Fail => {
                        record.failed.fetch_add(1, Ordering::SeqCst);
                        state.finished.store(true, Ordering::SeqCst);
                        return Err(Box::new(LeafError) as trioxide::scope::BoxError);
                    }
                    Leaf::Panic => {
                        record.failed.fetch_add(1, Ordering::SeqCst);
                        state.finished.store(true, Ordering::SeqCst);
                        panic!("leaf panic");
                    }
                    Leaf::Hang => std::future::pending::<()>().await,
                }
                if record.root_done.load(Ordering::SeqCst) {
                    record.ran_after_root.store(true, Ordering::SeqCst);
                }
                state.finished.store(true, Ordering::SeqCst);
                Ok(())
            }
            Tree::Scope(children) => {
                let result = trioxide::scope(|s| async move {
                    for child in children {
                        s.spawn_fallible(run_tree(child, record.clone()));
                    }
                })
                .await;
                result.map_err(|e| Box::new(e) as trioxide::scope::BoxError)
            }
        }
    })
}

fn has_hang(tree: &Tree) -> bool {
    match tree {
        Tree::Leaf(Leaf::Hang, _) => true,
        Tree::Leaf(..) => false,
        Tree::Scope(c) => c.iter().any(has_hang),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn scope_trees_keep_their_invariants(tree in tree()) {
        let rt = Runtime::builder().flavor(Flavor::CurrentThread).build().unwrap();
        let record = Arc::new(Record::default());
        let hangs = has_hang(&tree);
        let r = record.clone();
        let outcome = rt.block_on(async move {
            // A hanging leaf with no failing sibling would hang the tree: cut it off.
            let root = run_tree(Tree::Scope(vec![tree]), r.clone());
            let out = trioxide::time::timeout(Duration::from_millis(50), root).await;
            r.root_done.store(true, Ordering::SeqCst);
            trioxide::time::sleep(Duration::from_millis(10)).await; // would a leaf run now?
            out
        });
        let failed = record.failed.load(Ordering::SeqCst);
        match outcome {
            Ok(Ok(())) => prop_assert_eq!(failed, 0, "the root succeeded, so no leaf failed"),
            Ok(Err(_)) => prop_assert!(failed > 0, "the root failed only because a leaf did"),
            Err(_) => prop_assert!(hangs, "only a tree with a hanging leaf times out"),
        }
        prop_assert!(!record.ran_after_root.load(Ordering::SeqCst), "a leaf ran after the root returned");
        for leaf in record.leaves.lock().unwrap().iter() {
            let cut_off = leaf.started.load(Ordering::SeqCst) && !leaf.finished.load(Ordering::SeqCst);
            let cleaned = leaf.cleaned.load(Ordering::SeqCst);
            if leaf.guarded.load(Ordering::SeqCst) && cut_off {
                prop_assert_eq!(cleaned, 1, "a cancelled leaf's cleanup ran exactly once");
            } else {
                prop_assert_eq!(cleaned, 0, "no cleanup for a leaf that finished");
            }
        }
    }
}

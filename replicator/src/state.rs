//! The generic State Replicator: a keyed store of state items and the
//! ordered fan-out of every change to every registered listener.
//!
//! This is the Rust counterpart of the C++ templates the Asterisk SCF design
//! mentions. It is generic over the component's item type (anything
//! [`Keyed`]) and listener type (anything implementing [`Listener`]; in a
//! deployment, a proxy to a standby replica's
//! `<Type>StateReplicatorListener`). The Ice servant that exposes it as a
//! `<Type>StateReplicator` is thin glue over [`StateReplicator`].
//!
//! Guarantees:
//! - set and remove are applied to the store in the order the calls arrive
//!   (callers serialise through one lock);
//! - every listener receives every change made after it registered, in the
//!   order the changes were applied, each listener through its own task
//!   and queue, so a slow or dead listener never delays the component's
//!   calls or the other listeners;
//! - when a listener lags, consecutive changes of one kind waiting in its
//!   queue are merged into one push (one `set` with all the items, one
//!   `remove` with all the keys), keeping their order;
//! - a listener whose push fails, or whose queue reaches its bound
//!   ([`Config::queue_bound`] changes), is dropped with a log line; it can
//!   register again and catch up with `get_all`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::mpsc;

/// An item that carries its own identity.
///
/// Internally keyed items return a member; externally keyed designs use an
/// entry type holding the key beside the item. A design that expresses a
/// removal as an item subtype says so through [`Keyed::is_removal`].
pub trait Keyed: Clone + Send + Sync + 'static {
    /// The key type.
    type Key: Clone + Eq + std::hash::Hash + Send + Sync + std::fmt::Debug + 'static;

    /// The item's key.
    fn key(&self) -> Self::Key;

    /// Whether this item marks the removal of the item with its key.
    fn is_removal(&self) -> bool {
        false
    }
}

/// Why a push to a listener failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("push to listener failed: {reason}")]
pub struct PushError {
    /// What went wrong (connection refused, timeout, ...).
    pub reason: String,
}

/// A receiver of state changes (a standby replica, through its proxy).
pub trait Listener<I: Keyed>: Send + Sync + 'static {
    /// Items were added or updated (or, for removal subtypes, removed).
    fn items_set(&self, items: &[I]) -> impl Future<Output = Result<(), PushError>> + Send;

    /// The items with these keys were removed.
    fn items_removed(&self, keys: &[I::Key]) -> impl Future<Output = Result<(), PushError>> + Send;

    /// A stable name for log lines and for `remove_listener` (for a proxy:
    /// its stringified identity and endpoints).
    fn describe(&self) -> String;
}

/// Settings of a replicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The most changes waiting for one listener before it is dropped.
    pub queue_bound: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            queue_bound: 100_000,
        }
    }
}

/// One change, shared by every listener queue it was sent to.
enum Change<I: Keyed> {
    Set(Arc<[I]>),
    Removed(Arc<[I::Key]>),
}

impl<I: Keyed> Clone for Change<I> {
    fn clone(&self) -> Self {
        match self {
            Self::Set(a) => Self::Set(Arc::clone(a)),
            Self::Removed(a) => Self::Removed(Arc::clone(a)),
        }
    }
}

struct ListenerEntry<I: Keyed> {
    id: u64,
    name: String,
    queue: mpsc::Sender<Change<I>>,
}

struct Inner<I: Keyed> {
    /// Items by key, plus each key's position so `get_all` keeps the
    /// order items were first set in.
    items: HashMap<I::Key, (u64, I)>,
    next_order: u64,
    listeners: Vec<ListenerEntry<I>>,
    next_listener: u64,
}

/// The generic State Replicator. Cheap to clone; clones share state.
pub struct StateReplicator<I: Keyed> {
    inner: Arc<Mutex<Inner<I>>>,
    config: Config,
}

impl<I: Keyed> Clone for StateReplicator<I> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            config: self.config,
        }
    }
}

impl<I: Keyed> Default for StateReplicator<I> {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

fn lock<I: Keyed>(m: &Mutex<Inner<I>>) -> MutexGuard<'_, Inner<I>> {
    // A panic while holding the lock cannot leave the store half-written
    // (every update is a plain insert or remove), so a poisoned lock is
    // still safe to use.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<I: Keyed> std::fmt::Debug for StateReplicator<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateReplicator")
            .field("items", &self.len())
            .field("listeners", &self.listener_count())
            .finish()
    }
}

impl<I: Keyed> StateReplicator<I> {
    /// An empty replicator.
    #[must_use]
    pub fn new(config: Config) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                items: HashMap::new(),
                next_order: 0,
                listeners: Vec::new(),
                next_listener: 0,
            })),
            config,
        }
    }

    /// Registers a listener: it receives every change applied from now on.
    /// Must be called within a tokio runtime (the listener's pushes run on
    /// their own task). Registering a listener with the same
    /// [`Listener::describe`] again replaces the old registration.
    pub fn add_listener<L: Listener<I>>(&self, listener: L) {
        let name = listener.describe();
        let (tx, rx) = mpsc::channel(self.config.queue_bound.max(1));
        let id = {
            let mut inner = lock(&self.inner);
            inner.listeners.retain(|l| l.name != name);
            let id = inner.next_listener;
            inner.next_listener += 1;
            inner.listeners.push(ListenerEntry {
                id,
                name: name.clone(),
                queue: tx,
            });
            id
        };
        tracing::info!(listener = %name, "state replicator listener added");
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(push_loop(listener, rx, weak, id, name));
    }

    /// Unregisters the listener with this description; returns whether
    /// there was one. Changes already queued for it are still delivered.
    pub fn remove_listener(&self, description: &str) -> bool {
        let mut inner = lock(&self.inner);
        let before = inner.listeners.len();
        inner.listeners.retain(|l| l.name != description);
        let removed = inner.listeners.len() != before;
        if removed {
            tracing::info!(listener = %description, "state replicator listener removed");
        }
        removed
    }

    /// The number of registered listeners.
    #[must_use]
    pub fn listener_count(&self) -> usize {
        lock(&self.inner).listeners.len()
    }

    /// Adds or updates items (an item that [`Keyed::is_removal`] removes
    /// its key) and queues the change for every listener.
    pub fn set_items(&self, items: Vec<I>) {
        if items.is_empty() {
            return;
        }
        let mut inner = lock(&self.inner);
        for item in &items {
            let key = item.key();
            if item.is_removal() {
                inner.items.remove(&key);
            } else if let Some(slot) = inner.items.get_mut(&key) {
                slot.1 = item.clone();
            } else {
                let order = inner.next_order;
                inner.next_order += 1;
                inner.items.insert(key, (order, item.clone()));
            }
        }
        let change = Change::Set(Arc::from(items));
        Self::fan_out(&mut inner, change);
    }

    /// Removes the items with these keys and queues the change for every
    /// listener (keys that were not there are passed on all the same).
    pub fn remove_items(&self, keys: Vec<I::Key>) {
        if keys.is_empty() {
            return;
        }
        let mut inner = lock(&self.inner);
        for key in &keys {
            inner.items.remove(key);
        }
        Self::fan_out(&mut inner, Change::Removed(Arc::from(keys)));
    }

    fn fan_out(inner: &mut Inner<I>, change: Change<I>) {
        inner.listeners.retain(|l| match l.queue.try_send(change.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(listener = %l.name, "state replicator listener dropped: it is too far behind (queue full)");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    /// The items with these keys that exist, in the order of `keys`.
    #[must_use]
    pub fn get_items(&self, keys: &[I::Key]) -> Vec<I> {
        let inner = lock(&self.inner);
        keys.iter()
            .filter_map(|k| inner.items.get(k).map(|(_, i)| i.clone()))
            .collect()
    }

    /// Every item, in the order items were first set.
    #[must_use]
    pub fn get_all(&self) -> Vec<I> {
        let inner = lock(&self.inner);
        let mut all: Vec<&(u64, I)> = inner.items.values().collect();
        all.sort_unstable_by_key(|(order, _)| *order);
        all.into_iter().map(|(_, i)| i.clone()).collect()
    }

    /// The number of items stored.
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.inner).items.len()
    }

    /// Whether the store is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Appends to `first` the changes of the same kind already waiting in
/// `rx` (`same` gives back a change's contents, or the change itself when
/// it is of the other kind, which is left in `carry`). `None` when nothing
/// was waiting, so a lone change is sent without a copy.
fn merge_queued<I: Keyed, T: Clone>(
    first: &[T],
    rx: &mut mpsc::Receiver<Change<I>>,
    carry: &mut Option<Change<I>>,
    same: impl Fn(Change<I>) -> Result<Arc<[T]>, Change<I>>,
) -> Option<Vec<T>> {
    let mut merged: Option<Vec<T>> = None;
    while let Ok(next) = rx.try_recv() {
        match same(next) {
            Ok(more) => merged
                .get_or_insert_with(|| first.to_vec())
                .extend_from_slice(&more),
            Err(other) => {
                *carry = Some(other);
                break;
            }
        }
    }
    merged
}

/// Delivers one listener's queue in order, merging consecutive changes of
/// one kind that are already waiting; drops the listener on failure.
async fn push_loop<I: Keyed, L: Listener<I>>(
    listener: L,
    mut rx: mpsc::Receiver<Change<I>>,
    replicator: Weak<Mutex<Inner<I>>>,
    id: u64,
    name: String,
) {
    let mut carry: Option<Change<I>> = None;
    loop {
        let first = match carry.take() {
            Some(c) => c,
            None => match rx.recv().await {
                Some(c) => c,
                None => return,
            },
        };
        // Merge what is already queued behind `first` while it is the same kind.
        let result = match first {
            Change::Set(items) => {
                let merged = merge_queued(&items, &mut rx, &mut carry, |c| match c {
                    Change::Set(more) => Ok(more),
                    other => Err(other),
                });
                listener
                    .items_set(merged.as_deref().unwrap_or(&items))
                    .await
            }
            Change::Removed(keys) => {
                let merged = merge_queued(&keys, &mut rx, &mut carry, |c| match c {
                    Change::Removed(more) => Ok(more),
                    other => Err(other),
                });
                listener
                    .items_removed(merged.as_deref().unwrap_or(&keys))
                    .await
            }
        };
        if let Err(e) = result {
            tracing::warn!(listener = %name, error = %e, "state replicator listener dropped: push failed");
            if let Some(inner) = replicator.upgrade() {
                lock(&inner).listeners.retain(|l| l.id != id);
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::Notify;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Item {
        key: String,
        value: i32,
        removal: bool,
    }

    impl Keyed for Item {
        type Key = String;
        fn key(&self) -> String {
            self.key.clone()
        }
        fn is_removal(&self) -> bool {
            self.removal
        }
    }

    fn item(k: &str, v: i32) -> Item {
        Item {
            key: k.into(),
            value: v,
            removal: false,
        }
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Seen {
        Set(Vec<Item>),
        Removed(Vec<String>),
    }

    /// A listener that records its pushes; it can be made to fail or to
    /// stall until released.
    #[derive(Clone)]
    struct Recorder {
        name: String,
        seen: Arc<Mutex<Vec<Seen>>>,
        fail: bool,
        gate: Option<Arc<Notify>>,
    }

    impl Recorder {
        fn new(name: &str) -> Self {
            Self {
                name: name.into(),
                seen: Arc::default(),
                fail: false,
                gate: None,
            }
        }
        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().map(|s| s.clone()).unwrap_or_default()
        }
        /// The state obtained by applying every push in order.
        fn state(&self) -> Vec<(String, i32)> {
            let mut m = std::collections::BTreeMap::new();
            for s in self.seen() {
                match s {
                    Seen::Set(items) => {
                        for i in items {
                            if i.removal {
                                m.remove(&i.key);
                            } else {
                                m.insert(i.key, i.value);
                            }
                        }
                    }
                    Seen::Removed(keys) => {
                        for k in keys {
                            m.remove(&k);
                        }
                    }
                }
            }
            m.into_iter().collect()
        }
    }

    impl Listener<Item> for Recorder {
        async fn items_set(&self, items: &[Item]) -> Result<(), PushError> {
            if let Some(g) = &self.gate {
                g.notified().await;
            }
            if self.fail {
                return Err(PushError {
                    reason: "refused".into(),
                });
            }
            if let Ok(mut s) = self.seen.lock() {
                s.push(Seen::Set(items.to_vec()));
            }
            Ok(())
        }
        async fn items_removed(&self, keys: &[String]) -> Result<(), PushError> {
            if self.fail {
                return Err(PushError {
                    reason: "refused".into(),
                });
            }
            if let Ok(mut s) = self.seen.lock() {
                s.push(Seen::Removed(keys.to_vec()));
            }
            Ok(())
        }
        fn describe(&self) -> String {
            self.name.clone()
        }
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    #[tokio::test]
    async fn store_answers_get_and_get_all_in_first_set_order() {
        let r = StateReplicator::<Item>::default();
        r.set_items(vec![item("b", 1), item("a", 2)]);
        r.set_items(vec![item("b", 3), item("c", 4)]);
        r.remove_items(vec!["a".into(), "zz".into()]);
        assert_eq!(r.get_all(), vec![item("b", 3), item("c", 4)]);
        assert_eq!(
            r.get_items(&["c".into(), "a".into(), "b".into()]),
            vec![item("c", 4), item("b", 3)]
        );
        r.set_items(vec![Item {
            key: "b".into(),
            value: 0,
            removal: true,
        }]);
        assert_eq!(r.get_all(), vec![item("c", 4)]);
    }

    #[tokio::test]
    async fn every_listener_sees_every_change_in_order() {
        let r = StateReplicator::<Item>::default();
        let l1 = Recorder::new("l1");
        let l2 = Recorder::new("l2");
        r.add_listener(l1.clone());
        r.add_listener(l2.clone());
        for i in 0..200 {
            r.set_items(vec![item(&format!("k{}", i % 17), i)]);
            if i % 5 == 0 {
                r.remove_items(vec![format!("k{}", i % 17)]);
            }
        }
        settle().await;
        let want: Vec<(String, i32)> = {
            let mut v: Vec<(String, i32)> =
                r.get_all().into_iter().map(|i| (i.key, i.value)).collect();
            v.sort();
            v
        };
        assert_eq!(l1.state(), want);
        assert_eq!(l2.state(), want);
        // Order within the flattened stream is the order of the calls.
        let flat: Vec<i32> = l1
            .seen()
            .into_iter()
            .flat_map(|s| match s {
                Seen::Set(items) => items.into_iter().map(|i| i.value).collect(),
                Seen::Removed(_) => vec![],
            })
            .collect();
        assert_eq!(flat, (0..200).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_lagging_listener_gets_merged_batches_and_does_not_block_the_caller() {
        let r = StateReplicator::<Item>::default();
        let gate = Arc::new(Notify::new());
        let mut slow = Recorder::new("slow");
        slow.gate = Some(Arc::clone(&gate));
        r.add_listener(slow.clone());
        let fast = Recorder::new("fast");
        r.add_listener(fast.clone());
        // The first push stalls in the slow listener; the calls still return.
        r.set_items(vec![item("k", 0)]);
        settle().await;
        for i in 1..100 {
            r.set_items(vec![item("k", i)]);
        }
        settle().await;
        assert_eq!(fast.state(), vec![("k".to_owned(), 99)]);
        assert!(slow.seen().is_empty());
        gate.notify_one();
        settle().await;
        gate.notify_one();
        settle().await;
        // One push for the first change, then one merged push for the other 99.
        let seen = slow.seen();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(slow.state(), vec![("k".to_owned(), 99)]);
    }

    #[tokio::test]
    async fn a_failing_listener_is_dropped_and_the_others_go_on() {
        let r = StateReplicator::<Item>::default();
        let mut bad = Recorder::new("bad");
        bad.fail = true;
        let good = Recorder::new("good");
        r.add_listener(bad);
        r.add_listener(good.clone());
        r.set_items(vec![item("a", 1)]);
        settle().await;
        assert_eq!(r.listener_count(), 1);
        r.set_items(vec![item("b", 2)]);
        settle().await;
        assert_eq!(good.state(), vec![("a".to_owned(), 1), ("b".to_owned(), 2)]);
    }

    #[tokio::test]
    async fn a_listener_too_far_behind_is_dropped_at_the_bound() {
        let r = StateReplicator::<Item>::new(Config { queue_bound: 10 });
        let gate = Arc::new(Notify::new());
        let mut stuck = Recorder::new("stuck");
        stuck.gate = Some(gate);
        r.add_listener(stuck);
        settle().await;
        for i in 0..50 {
            r.set_items(vec![item("k", i)]);
        }
        assert_eq!(r.listener_count(), 0);
    }

    #[tokio::test]
    async fn remove_listener_and_re_register() {
        let r = StateReplicator::<Item>::default();
        let l = Recorder::new("l");
        r.add_listener(l.clone());
        r.add_listener(l.clone());
        assert_eq!(r.listener_count(), 1);
        assert!(r.remove_listener("l"));
        assert!(!r.remove_listener("l"));
        r.set_items(vec![item("a", 1)]);
        settle().await;
        assert!(l.seen().is_empty());
    }
}

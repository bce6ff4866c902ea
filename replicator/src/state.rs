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
//!
//! Followers: a listener that [`Listener::follows`] (a standby replicator,
//! see [`crate::group`]) is pushed like any other, and a change's
//! [`Commit`] resolves only once every follower registered when the change
//! was made has applied it, or was dropped.
//!
//! Durability: a replicator made with [`StateReplicator::with_store`]
//! keeps its items in a database ([`crate::durable`]) as well. A change is
//! applied to memory and queued to the listeners at once (in call order,
//! under the lock), and written to the database in the same order;
//! [`StateReplicator::set_items`] and [`StateReplicator::remove_items`]
//! return a [`Commit`] that resolves once the change is stored as the sync
//! policy says, and the servant answers its caller only then. A listener
//! may thus receive a change before it is durable: if the replicator dies
//! before that, the change's caller is told it failed, and the listener,
//! which registers again with the restarted replicator, replaces its state
//! with the replicator's (see [`crate::member`]). A change the store
//! refuses (its journal is full, or the database failed) is neither
//! applied nor pushed, and its caller gets the error.
//!
//! A change is encoded once for all the listeners that encode it alike: a
//! listener that names its [`Form`] (for an Ice proxy: its encoding and
//! class format) is handed the bytes the first listener of that form
//! encoded ([`Listener::encode`], [`Listener::push_encoded`]), kept with
//! the change while any queue holds it. A merged batch is a listener's own
//! and goes through [`Listener::items_set`] / [`Listener::items_removed`].

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot, watch};

use crate::durable::{Durable, Op, StoreError};

/// A change as a listener sends it (for an Ice proxy: the body of the
/// request's parameter encapsulation), shared by every listener of one
/// [`Form`].
pub type Encoded = bytes::Bytes;

/// How a listener encodes its pushes. Listeners whose forms are equal
/// must encode a change into the same bytes: each change is then encoded
/// once per form. For an Ice proxy it is made of the encoding version and
/// the class format of the listener's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Form(pub u64);

/// The kind of a push, for [`Listener::push_encoded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushKind {
    /// Items were set ([`Listener::items_set`]).
    Set,
    /// Items were removed ([`Listener::items_removed`]).
    Removed,
}

/// A push to encode, for [`Listener::encode`].
#[derive(Debug)]
pub enum Push<'a, I: Keyed> {
    /// These items were set.
    Set(&'a [I]),
    /// The items with these keys were removed.
    Removed(&'a [I::Key]),
}

impl<I: Keyed> Push<'_, I> {
    /// The kind of this push.
    #[must_use]
    pub fn kind(&self) -> PushKind {
        match self {
            Self::Set(_) => PushKind::Set,
            Self::Removed(_) => PushKind::Removed,
        }
    }
}

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

    /// Whether this listener is a standby replicator following this one
    /// (see [`crate::group`]): it is not among the registrations standby
    /// replicators take over ([`StateReplicator::registrations`]), and a
    /// change is acknowledged only once every follower applied it (or was
    /// dropped for failing). Default `false`.
    fn follows(&self) -> bool {
        false
    }

    /// The form this listener encodes its pushes in, when it can be handed
    /// a change another listener of the same form encoded: a change not
    /// merged with others then goes through [`Listener::encode`] (once per
    /// form) and [`Listener::push_encoded`]. `None` (the default): every
    /// push goes through `items_set` / `items_removed`.
    fn form(&self) -> Option<Form> {
        None
    }

    /// Encodes `push` in this listener's form. Called only when
    /// [`Listener::form`] is `Some`; the default encodes nothing.
    fn encode(&self, push: Push<'_, I>) -> Encoded {
        let _ = push;
        Encoded::new()
    }

    /// Sends a push of `kind` whose parameters [`Listener::encode`] wrote,
    /// possibly for another listener of the same form. Called only when
    /// [`Listener::form`] is `Some`; the default fails.
    fn push_encoded(
        &self,
        kind: PushKind,
        encoded: Encoded,
    ) -> impl Future<Output = Result<(), PushError>> + Send {
        let _ = (kind, encoded);
        std::future::ready(Err(PushError {
            reason: "this listener takes no encoded pushes".into(),
        }))
    }
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

/// The contents of one change and its encodings, filled as listeners of
/// each form first need them.
struct Batch<T> {
    data: Vec<T>,
    /// The change's position in the replicator's sequence of changes.
    seq: u64,
    encoded: Mutex<Vec<(Form, Encoded)>>,
}

impl<T> Batch<T> {
    fn new(data: Vec<T>, seq: u64) -> Arc<Self> {
        Arc::new(Self {
            data,
            seq,
            encoded: Mutex::new(Vec::new()),
        })
    }

    /// This change in `form`, encoded by `encode` unless a listener of
    /// that form already did. Encoding holds the lock, so a listener of
    /// the same form waits for the bytes rather than encoding them too.
    fn encoded(&self, form: Form, encode: impl FnOnce(&[T]) -> Encoded) -> Encoded {
        // A panic while encoding leaves no entry behind: still usable.
        let mut cache = self
            .encoded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, bytes)) = cache.iter().find(|(f, _)| *f == form) {
            return bytes.clone();
        }
        let bytes = encode(&self.data);
        cache.push((form, bytes.clone()));
        bytes
    }
}

/// One change, shared by every listener queue it was sent to.
enum Change<I: Keyed> {
    Set(Arc<Batch<I>>),
    Removed(Arc<Batch<I::Key>>),
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
    /// For a follower: the position of the last change it applied.
    applied: Option<watch::Receiver<u64>>,
    queue: mpsc::Sender<Change<I>>,
}

struct Inner<I: Keyed> {
    /// Items by key, plus each key's position so `get_all` keeps the
    /// order items were first set in.
    items: HashMap<I::Key, (u64, I)>,
    /// The keys by position, for [`StateReplicator::page`].
    by_order: BTreeMap<u64, I::Key>,
    next_order: u64,
    listeners: Vec<ListenerEntry<I>>,
    next_listener: u64,
    /// The descriptions of the replicated listeners, told on each change.
    registrations: watch::Sender<Vec<String>>,
    /// The position of the next change.
    next_seq: u64,
}

impl<I: Keyed> Inner<I> {
    /// Tells [`StateReplicator::registrations`] watchers of the listeners
    /// registered now, if they changed.
    fn publish(&self) {
        let names: Vec<String> = self
            .listeners
            .iter()
            .filter(|l| l.applied.is_none())
            .map(|l| l.name.clone())
            .collect();
        self.registrations.send_if_modified(|v| {
            if *v == names {
                false
            } else {
                *v = names;
                true
            }
        });
    }

    fn remove(&mut self, key: &I::Key) {
        if let Some((order, _)) = self.items.remove(key) {
            self.by_order.remove(&order);
        }
    }
}

/// The generic State Replicator. Cheap to clone; clones share state.
pub struct StateReplicator<I: Keyed> {
    inner: Arc<Mutex<Inner<I>>>,
    config: Config,
    /// Where changes are stored, when durable.
    durable: Option<Arc<Durable<I>>>,
}

impl<I: Keyed> Clone for StateReplicator<I> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            config: self.config,
            durable: self.durable.clone(),
        }
    }
}

/// A change being stored: resolves once it is stored as the replicator's
/// sync policy says (at once for a memory-only replicator), or with the
/// reason it was not. Its caller must be told of the change only then.
#[derive(Debug)]
#[must_use = "a change may be acknowledged only once its commit resolved"]
pub struct Commit(CommitState);

enum CommitState {
    Done(Option<Result<(), StoreError>>),
    Waiting(oneshot::Receiver<Result<(), StoreError>>),
    /// Stored, then applied by the followers.
    Chained(Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>),
}

impl std::fmt::Debug for CommitState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Done(r) => f.debug_tuple("Done").field(r).finish(),
            Self::Waiting(_) => f.write_str("Waiting"),
            Self::Chained(_) => f.write_str("Chained"),
        }
    }
}

impl Commit {
    fn done(result: Result<(), StoreError>) -> Self {
        Self(CommitState::Done(Some(result)))
    }
}

impl Future for Commit {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            CommitState::Done(r) => Poll::Ready(r.take().unwrap_or(Ok(()))),
            CommitState::Waiting(rx) => Pin::new(rx).poll(cx).map(|r| {
                r.unwrap_or_else(|_| {
                    Err(StoreError::Write {
                        reason: "the journal stopped before answering".into(),
                    })
                })
            }),
            CommitState::Chained(f) => f.as_mut().poll(cx),
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
    /// An empty replicator, in memory only.
    #[must_use]
    pub fn new(config: Config) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                items: HashMap::new(),
                by_order: BTreeMap::new(),
                next_order: 0,
                listeners: Vec::new(),
                next_listener: 0,
                registrations: watch::Sender::new(Vec::new()),
                next_seq: 1,
            })),
            config,
            durable: None,
        }
    }

    /// A durable replicator: holds the items `durable` read from its
    /// database, and stores every change there before its [`Commit`]
    /// resolves.
    #[must_use]
    pub fn with_store(config: Config, durable: Durable<I>) -> Self {
        let loaded = durable.take_loaded();
        let next_order = loaded.iter().map(|(o, _)| o + 1).max().unwrap_or(0);
        let by_order = loaded.iter().map(|(o, i)| (*o, i.key())).collect();
        let items = loaded
            .into_iter()
            .map(|(order, item)| (item.key(), (order, item)))
            .collect();
        Self {
            inner: Arc::new(Mutex::new(Inner {
                items,
                by_order,
                next_order,
                listeners: Vec::new(),
                next_listener: 0,
                registrations: watch::Sender::new(Vec::new()),
                next_seq: 1,
            })),
            config,
            durable: Some(Arc::new(durable)),
        }
    }

    /// Whether changes are stored in a database.
    #[must_use]
    pub fn is_durable(&self) -> bool {
        self.durable.is_some()
    }

    /// The records `items` (set, in this order) write, with the positions
    /// new keys will get.
    fn set_ops(inner: &Inner<I>, durable: &Durable<I>, items: &[I]) -> Vec<Op> {
        let mut next = inner.next_order;
        let mut pending: HashMap<I::Key, Option<u64>> = HashMap::new();
        let mut ops = Vec::with_capacity(items.len());
        for item in items {
            let key = item.key();
            let bytes = durable.codec.encode_key(&key);
            if item.is_removal() {
                pending.insert(key, None);
                ops.push(Op::Delete(bytes));
                continue;
            }
            let known = match pending.get(&key) {
                Some(p) => *p,
                None => inner.items.get(&key).map(|(o, _)| *o),
            };
            let order = known.unwrap_or_else(|| {
                next += 1;
                next - 1
            });
            pending.insert(key, Some(order));
            let mut value = order.to_be_bytes().to_vec();
            value.extend_from_slice(&durable.codec.encode_item(item));
            ops.push(Op::Put(bytes, value));
        }
        ops
    }

    /// Queues `ops` to the journal, when durable.
    fn submit(&self, ops: impl FnOnce(&Durable<I>) -> Vec<Op>) -> Result<Commit, StoreError> {
        match &self.durable {
            None => Ok(Commit::done(Ok(()))),
            Some(d) => d
                .journal
                .submit(ops(d))
                .map(|rx| Commit(CommitState::Waiting(rx))),
        }
    }

    /// Registers a listener: it receives every change applied from now on.
    /// Must be called within a tokio runtime (the listener's pushes run on
    /// their own task). Registering a listener with the same
    /// [`Listener::describe`] again replaces the old registration.
    pub fn add_listener<L: Listener<I>>(&self, listener: L) {
        let name = listener.describe();
        let (applied_tx, applied) = if listener.follows() {
            let (tx, rx) = watch::channel(0);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let (tx, rx) = mpsc::channel(self.config.queue_bound.max(1));
        let id = {
            let mut inner = lock(&self.inner);
            inner.listeners.retain(|l| l.name != name);
            let id = inner.next_listener;
            inner.next_listener += 1;
            inner.listeners.push(ListenerEntry {
                id,
                name: name.clone(),
                applied,
                queue: tx,
            });
            inner.publish();
            id
        };
        tracing::info!(listener = %name, "state replicator listener added");
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(push_loop(listener, rx, weak, id, name, applied_tx));
    }

    /// Unregisters the listener with this description; returns whether
    /// there was one. Changes already queued for it are still delivered.
    pub fn remove_listener(&self, description: &str) -> bool {
        let mut inner = lock(&self.inner);
        let before = inner.listeners.len();
        inner.listeners.retain(|l| l.name != description);
        let removed = inner.listeners.len() != before;
        inner.publish();
        if removed {
            tracing::info!(listener = %description, "state replicator listener removed");
        }
        removed
    }

    /// The descriptions of the registered listeners that standby
    /// replicators take over (all but followers, [`Listener::follows`]), now and after
    /// each change (a registration, a removal, a listener dropped).
    #[must_use]
    pub fn registrations(&self) -> watch::Receiver<Vec<String>> {
        lock(&self.inner).registrations.subscribe()
    }

    /// Whether a listener with this description is registered.
    #[must_use]
    pub fn is_registered(&self, description: &str) -> bool {
        lock(&self.inner)
            .listeners
            .iter()
            .any(|l| l.name == description)
    }

    /// The number of registered listeners.
    #[must_use]
    pub fn listener_count(&self) -> usize {
        lock(&self.inner).listeners.len()
    }

    /// Adds or updates items (an item that [`Keyed::is_removal`] removes
    /// its key), queues the change for every listener and, when durable,
    /// for the database. The caller may be told of the change once the
    /// returned [`Commit`] resolved `Ok`; when the store refuses the change
    /// at once, it is neither applied nor pushed.
    pub fn set_items(&self, items: Vec<I>) -> Commit {
        if items.is_empty() {
            return Commit::done(Ok(()));
        }
        let mut inner = lock(&self.inner);
        let commit = match self.submit(|d| Self::set_ops(&inner, d, &items)) {
            Ok(c) => c,
            Err(e) => return Commit::done(Err(e)),
        };
        for item in &items {
            let key = item.key();
            if item.is_removal() {
                inner.remove(&key);
            } else if let Some(slot) = inner.items.get_mut(&key) {
                slot.1 = item.clone();
            } else {
                let order = inner.next_order;
                inner.next_order += 1;
                inner.by_order.insert(order, key.clone());
                inner.items.insert(key, (order, item.clone()));
            }
        }
        let seq = Self::next_seq(&mut inner);
        Self::fan_out(&mut inner, Change::Set(Batch::new(items, seq)));
        Self::with_followers(&inner, commit, seq)
    }

    /// Removes the items with these keys and queues the change for every
    /// listener (keys that were not there are passed on all the same) and,
    /// when durable, for the database; see [`StateReplicator::set_items`].
    pub fn remove_items(&self, keys: Vec<I::Key>) -> Commit {
        if keys.is_empty() {
            return Commit::done(Ok(()));
        }
        let mut inner = lock(&self.inner);
        let commit = match self.submit(|d| {
            keys.iter()
                .map(|k| Op::Delete(d.codec.encode_key(k)))
                .collect()
        }) {
            Ok(c) => c,
            Err(e) => return Commit::done(Err(e)),
        };
        for key in &keys {
            inner.remove(key);
        }
        let seq = Self::next_seq(&mut inner);
        Self::fan_out(&mut inner, Change::Removed(Batch::new(keys, seq)));
        Self::with_followers(&inner, commit, seq)
    }

    fn next_seq(inner: &mut Inner<I>) -> u64 {
        let seq = inner.next_seq;
        inner.next_seq += 1;
        seq
    }

    /// `commit`, and then every follower registered now having applied
    /// change `seq` (or having been dropped).
    fn with_followers(inner: &Inner<I>, commit: Commit, seq: u64) -> Commit {
        let followers: Vec<watch::Receiver<u64>> = inner
            .listeners
            .iter()
            .filter_map(|l| l.applied.clone())
            .collect();
        if followers.is_empty() {
            return commit;
        }
        Commit(CommitState::Chained(Box::pin(async move {
            commit.await?;
            for mut applied in followers {
                // An error: the follower was dropped; nothing to wait for.
                let _ = applied.wait_for(|a| *a >= seq).await;
            }
            Ok(())
        })))
    }

    fn fan_out(inner: &mut Inner<I>, change: Change<I>) {
        let before = inner.listeners.len();
        inner.listeners.retain(|l| match l.queue.try_send(change.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(listener = %l.name, "state replicator listener dropped: it is too far behind (queue full)");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        if inner.listeners.len() != before {
            inner.publish();
        }
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

    /// At most `max` items (at least one) in the order items were first
    /// set, starting after position `after` (`None`: from the first), with
    /// the position to continue after when more follow. Reading a whole
    /// store page by page while it changes gives every item that was
    /// there throughout, each with its value at some time during the read;
    /// a reader that also receives the pushes of the changes made
    /// meanwhile (a joining listener) ends up with the current state.
    #[must_use]
    pub fn page(&self, after: Option<u64>, max: usize) -> (Vec<I>, Option<u64>) {
        use std::ops::Bound;
        let inner = lock(&self.inner);
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut orders = inner.by_order.range((start, Bound::Unbounded));
        let mut page = Vec::new();
        let mut last = None;
        for (order, key) in orders.by_ref().take(max.max(1)) {
            if let Some((_, item)) = inner.items.get(key) {
                page.push(item.clone());
            }
            last = Some(*order);
        }
        let next = if orders.next().is_some() { last } else { None };
        (page, next)
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
/// The most items (or keys) one merged push holds, so that a lagging
/// listener's pushes stay well below `Ice.MessageSizeMax`.
pub const MERGE_MAX: usize = 1000;

fn merge_queued<I: Keyed, T: Clone>(
    first: &[T],
    rx: &mut mpsc::Receiver<Change<I>>,
    carry: &mut Option<Change<I>>,
    last: &mut u64,
    same: impl Fn(Change<I>) -> Result<Arc<Batch<T>>, Change<I>>,
) -> Option<Vec<T>> {
    let mut merged: Option<Vec<T>> = None;
    while merged.as_ref().map_or(first.len(), Vec::len) < MERGE_MAX {
        let Ok(next) = rx.try_recv() else {
            break;
        };
        match same(next) {
            Ok(more) => {
                *last = more.seq;
                merged
                    .get_or_insert_with(|| first.to_vec())
                    .extend_from_slice(&more.data);
            }
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
    applied: Option<watch::Sender<u64>>,
) {
    let form = listener.form();
    let mut carry: Option<Change<I>> = None;
    loop {
        let first = match carry.take() {
            Some(c) => c,
            None => match rx.recv().await {
                Some(c) => c,
                None => return,
            },
        };
        // Merge what is already queued behind `first` while it is the same
        // kind; a change left alone goes out in its shared encoding.
        let mut last = match &first {
            Change::Set(b) => b.seq,
            Change::Removed(b) => b.seq,
        };
        let result = match first {
            Change::Set(items) => {
                let merged =
                    merge_queued(&items.data, &mut rx, &mut carry, &mut last, |c| match c {
                        Change::Set(more) => Ok(more),
                        other => Err(other),
                    });
                match (merged, form) {
                    (Some(all), _) => listener.items_set(&all).await,
                    (None, Some(form)) => {
                        let bytes = items.encoded(form, |i| listener.encode(Push::Set(i)));
                        drop(items);
                        listener.push_encoded(PushKind::Set, bytes).await
                    }
                    (None, None) => listener.items_set(&items.data).await,
                }
            }
            Change::Removed(keys) => {
                let merged =
                    merge_queued(&keys.data, &mut rx, &mut carry, &mut last, |c| match c {
                        Change::Removed(more) => Ok(more),
                        other => Err(other),
                    });
                match (merged, form) {
                    (Some(all), _) => listener.items_removed(&all).await,
                    (None, Some(form)) => {
                        let bytes = keys.encoded(form, |k| listener.encode(Push::Removed(k)));
                        drop(keys);
                        listener.push_encoded(PushKind::Removed, bytes).await
                    }
                    (None, None) => listener.items_removed(&keys.data).await,
                }
            }
        };
        if let Err(e) = result {
            tracing::warn!(listener = %name, error = %e, "state replicator listener dropped: push failed");
            if let Some(inner) = replicator.upgrade() {
                let mut inner = lock(&inner);
                inner.listeners.retain(|l| l.id != id);
                inner.publish();
            }
            return;
        }
        if let Some(a) = &applied {
            a.send_replace(last);
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
        /// When set, the listener takes shared encodings in this form.
        form: Option<u64>,
        /// Encodings made, shared by the recorders of a test.
        encodes: Arc<std::sync::atomic::AtomicUsize>,
        /// The encoded pushes received.
        bytes: Arc<Mutex<Vec<(PushKind, Encoded)>>>,
    }

    impl Recorder {
        fn new(name: &str) -> Self {
            Self {
                name: name.into(),
                seen: Arc::default(),
                fail: false,
                gate: None,
                form: None,
                encodes: Arc::default(),
                bytes: Arc::default(),
            }
        }
        /// A recorder taking shared encodings in `form`, counting the
        /// encodings it makes in `encodes`.
        fn encoding(name: &str, form: u64, encodes: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
            let mut r = Self::new(name);
            r.form = Some(form);
            r.encodes = Arc::clone(encodes);
            r
        }
        /// What this recorder's form makes of a push.
        fn encoding_of(form: Option<u64>, push: &Push<'_, Item>) -> Encoded {
            Encoded::from(format!("{form:?} {push:?}"))
        }
        fn bytes(&self) -> Vec<(PushKind, Encoded)> {
            self.bytes.lock().map(|b| b.clone()).unwrap_or_default()
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
        fn form(&self) -> Option<Form> {
            self.form.map(Form)
        }
        fn encode(&self, push: Push<'_, Item>) -> Encoded {
            self.encodes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Self::encoding_of(self.form, &push)
        }
        async fn push_encoded(&self, kind: PushKind, encoded: Encoded) -> Result<(), PushError> {
            if let Some(g) = &self.gate {
                g.notified().await;
            }
            if self.fail {
                return Err(PushError {
                    reason: "refused".into(),
                });
            }
            if let Ok(mut b) = self.bytes.lock() {
                b.push((kind, encoded));
            }
            Ok(())
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
        r.set_items(vec![item("b", 1), item("a", 2)])
            .await
            .expect("stored");
        r.set_items(vec![item("b", 3), item("c", 4)])
            .await
            .expect("stored");
        r.remove_items(vec!["a".into(), "zz".into()])
            .await
            .expect("stored");
        assert_eq!(r.get_all(), vec![item("b", 3), item("c", 4)]);
        assert_eq!(
            r.get_items(&["c".into(), "a".into(), "b".into()]),
            vec![item("c", 4), item("b", 3)]
        );
        r.set_items(vec![Item {
            key: "b".into(),
            value: 0,
            removal: true,
        }])
        .await
        .expect("stored");
        assert_eq!(r.get_all(), vec![item("c", 4)]);
    }

    #[tokio::test]
    async fn pages_cover_the_store_in_first_set_order() {
        let r = StateReplicator::<Item>::default();
        for i in 0..10 {
            r.set_items(vec![item(&format!("k{i}"), i)])
                .await
                .expect("stored");
        }
        r.remove_items(vec!["k3".into()]).await.expect("stored");
        let (p1, next) = r.page(None, 4);
        assert_eq!(
            p1.iter().map(|i| i.value).collect::<Vec<_>>(),
            vec![0, 1, 2, 4]
        );
        // A change between two pages: an update keeps its position, a new
        // key comes last.
        r.set_items(vec![item("k0", 100), item("new", 11)])
            .await
            .expect("stored");
        let (p2, next) = r.page(next, 4);
        assert_eq!(
            p2.iter().map(|i| i.value).collect::<Vec<_>>(),
            vec![5, 6, 7, 8]
        );
        let (p3, next) = r.page(next, 4);
        assert_eq!(p3.iter().map(|i| i.value).collect::<Vec<_>>(), vec![9, 11]);
        assert_eq!(next, None);
        assert_eq!(r.page(None, 0).0.len(), 1, "a page holds at least one item");
        assert_eq!(
            StateReplicator::<Item>::default().page(None, 5),
            (vec![], None)
        );
    }

    #[tokio::test]
    async fn every_listener_sees_every_change_in_order() {
        let r = StateReplicator::<Item>::default();
        let l1 = Recorder::new("l1");
        let l2 = Recorder::new("l2");
        r.add_listener(l1.clone());
        r.add_listener(l2.clone());
        for i in 0..200 {
            r.set_items(vec![item(&format!("k{}", i % 17), i)])
                .await
                .expect("stored");
            if i % 5 == 0 {
                r.remove_items(vec![format!("k{}", i % 17)])
                    .await
                    .expect("stored");
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
        r.set_items(vec![item("k", 0)]).await.expect("stored");
        settle().await;
        for i in 1..100 {
            r.set_items(vec![item("k", i)]).await.expect("stored");
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
        r.set_items(vec![item("a", 1)]).await.expect("stored");
        settle().await;
        assert_eq!(r.listener_count(), 1);
        r.set_items(vec![item("b", 2)]).await.expect("stored");
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
            r.set_items(vec![item("k", i)]).await.expect("stored");
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
        r.set_items(vec![item("a", 1)]).await.expect("stored");
        settle().await;
        assert!(l.seen().is_empty());
    }
    #[tokio::test]
    async fn a_change_is_encoded_once_per_form_and_every_listener_gets_its_bytes() {
        let r = StateReplicator::<Item>::default();
        let encodes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let a: Vec<Recorder> = (0..3)
            .map(|i| Recorder::encoding(&format!("a{i}"), 10, &encodes))
            .collect();
        let b: Vec<Recorder> = (0..2)
            .map(|i| Recorder::encoding(&format!("b{i}"), 11, &encodes))
            .collect();
        let plain = Recorder::new("plain");
        for l in a.iter().chain(&b).chain([&plain]) {
            r.add_listener(l.clone());
        }
        // One change at a time, each delivered before the next: no merging.
        let changes = 20;
        for i in 0..changes {
            r.set_items(vec![item(&format!("k{i}"), i)])
                .await
                .expect("stored");
            settle().await;
            if i % 4 == 0 {
                r.remove_items(vec![format!("k{i}")]).await.expect("stored");
                settle().await;
            }
        }
        let pushes = 20 + 5;
        // Each change encoded once for form 10 and once for form 11.
        assert_eq!(
            encodes.load(std::sync::atomic::Ordering::SeqCst),
            2 * pushes
        );
        // Each listener got, in order, exactly what its own form makes of
        // each change.
        let want = |form: u64| -> Vec<(PushKind, Encoded)> {
            let mut v = Vec::new();
            for i in 0..changes {
                let items = [item(&format!("k{i}"), i)];
                let push = Push::Set(&items);
                v.push((push.kind(), Recorder::encoding_of(Some(form), &push)));
                if i % 4 == 0 {
                    let keys = [format!("k{i}")];
                    let push = Push::<Item>::Removed(&keys);
                    v.push((push.kind(), Recorder::encoding_of(Some(form), &push)));
                }
            }
            v
        };
        for l in &a {
            assert_eq!(l.bytes(), want(10), "{}", l.name);
            assert!(l.seen().is_empty());
        }
        for l in &b {
            assert_eq!(l.bytes(), want(11), "{}", l.name);
        }
        // A listener without a form encodes its own pushes, as before.
        assert!(plain.bytes().is_empty());
        assert_eq!(plain.seen().len(), pushes);
        let mut want_state: Vec<(String, i32)> =
            r.get_all().into_iter().map(|i| (i.key, i.value)).collect();
        want_state.sort();
        assert_eq!(plain.state(), want_state);
    }

    #[tokio::test]
    async fn a_lagging_listener_with_a_form_sends_its_merged_batch_itself() {
        let r = StateReplicator::<Item>::default();
        let encodes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let gate = Arc::new(Notify::new());
        let mut slow = Recorder::encoding("slow", 10, &encodes);
        slow.gate = Some(Arc::clone(&gate));
        let fast = Recorder::encoding("fast", 10, &encodes);
        r.add_listener(slow.clone());
        r.add_listener(fast.clone());
        r.set_items(vec![item("k", 0)]).await.expect("stored");
        settle().await;
        for i in 1..50 {
            r.set_items(vec![item("k", i)]).await.expect("stored");
            settle().await;
        }
        r.remove_items(vec!["k".into()]).await.expect("stored");
        settle().await;
        // The fast listener took every change in the shared encoding.
        assert_eq!(fast.bytes().len(), 51);
        assert_eq!(encodes.load(std::sync::atomic::Ordering::SeqCst), 51);
        // The slow one: its first push (shared), then the 49 sets waiting
        // merged into one `items_set`, then the removal (shared again).
        for _ in 0..3 {
            gate.notify_one();
            settle().await;
        }
        let shared = slow.bytes();
        assert_eq!(
            shared.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![PushKind::Set, PushKind::Removed]
        );
        assert_eq!(shared[0], fast.bytes()[0]);
        assert_eq!(shared[1], fast.bytes()[50]);
        let merged: Vec<i32> = (1..50).collect();
        assert_eq!(
            slow.seen(),
            vec![Seen::Set(merged.iter().map(|i| item("k", *i)).collect())]
        );
    }

    #[tokio::test]
    async fn a_failing_encoded_push_drops_the_listener() {
        let r = StateReplicator::<Item>::default();
        let encodes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut bad = Recorder::encoding("bad", 10, &encodes);
        bad.fail = true;
        let good = Recorder::encoding("good", 10, &encodes);
        r.add_listener(bad);
        r.add_listener(good.clone());
        r.set_items(vec![item("a", 1)]).await.expect("stored");
        settle().await;
        assert_eq!(r.listener_count(), 1);
        r.set_items(vec![item("b", 2)]).await.expect("stored");
        settle().await;
        assert_eq!(good.bytes().len(), 2);
        assert_eq!(encodes.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}

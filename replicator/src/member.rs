//! A replica-group member: the component-side store of replicated state and
//! the standby/active lifecycle around it.
//!
//! Every member starts in standby (unless standalone): it registers its
//! listener with the State Replicator and catches up with `get_all`; pushes
//! keep its store current. `activate()` stops listening, catches up once
//! more so that no change the replicator acknowledged is missing, and from
//! then on the member's own changes are applied locally and sent to the
//! replicator. `standby()` is the reverse. A standalone member is active
//! from the start and has no replicator.
//!
//! How the member reaches its replicator is left to a [`ReplicatorClient`]
//! (in a deployment: the generated proxy of `<Type>StateReplicator` plus
//! this member's listener proxy); the Ice servants for `Replica` and the
//! listener interface call into [`Member`].
//!
//! # When the replicator cannot be reached
//!
//! A change of the active member ([`Member::set`], [`Member::remove`]) is
//! sent to the replicator first and applied to the member's own store only
//! once the replicator acknowledged it. When the call fails (replicator
//! down, restarting, unreachable, or refusing to store the change), the
//! change is *refused and not applied*: the caller gets
//! [`MemberError::Replicator`] and the member's state is as if the call
//! had never been made. So the active member never holds a change whose
//! caller was told it failed, and a failover never loses a change whose
//! caller was told it succeeded. The first failure is logged at warning
//! level, the first success after failures at info level.
//!
//! A call whose reply is lost may still have reached the replicator (and
//! its listeners) although its caller saw a failure; the restore below
//! puts the replicator and the standby members back in line with the
//! active member.
//!
//! # After a replicator restart
//!
//! [`Member::supervise`] watches the member's link to its replicator (for
//! Ice: the connection, see [`crate::link`]). When the link is lost it logs
//! a warning and reconnects with a bounded back-off; once the replicator
//! answers again it logs at info level and restores what the new
//! replicator instance may lack, with no operator:
//! - the active member reads the replicator's keys, removes those it does
//!   not hold, and re-pushes its whole state in batches of
//!   [`REPUSH_BATCH`] items, holding its changes meanwhile so none is
//!   re-ordered;
//! - a standby member registers its listener again and catches up with
//!   `get_all` (pushes that arrive meanwhile are replayed over it).
//!
//! Until the active member has re-pushed, a standby that re-registered to
//! an empty (memory-only) replicator holds less than the active member;
//! the re-push then reaches it as ordinary pushes.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{watch, Mutex as AsyncMutex};

use crate::state::Keyed;

/// A failure talking to the State Replicator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state replicator call `{operation}` failed: {reason}")]
pub struct ReplicatorError {
    /// The operation that failed.
    pub operation: &'static str,
    /// Why.
    pub reason: String,
}

/// How a member talks to its State Replicator.
pub trait ReplicatorClient<I: Keyed>: Send + Sync + 'static {
    /// `set...`: add or update items.
    fn set_items(&self, items: Vec<I>) -> impl Future<Output = Result<(), ReplicatorError>> + Send;
    /// `remove...`: remove by key.
    fn remove_items(
        &self,
        keys: Vec<I::Key>,
    ) -> impl Future<Output = Result<(), ReplicatorError>> + Send;
    /// `getAll...`: every item.
    fn get_all(&self) -> impl Future<Output = Result<Vec<I>, ReplicatorError>> + Send;
    /// Registers this member's listener.
    fn add_listener(&self) -> impl Future<Output = Result<(), ReplicatorError>> + Send;
    /// Unregisters this member's listener.
    fn remove_listener(&self) -> impl Future<Output = Result<(), ReplicatorError>> + Send;
}

/// A member's view of the connection to its replicator, for
/// [`Member::supervise`]: a session is one connection; when it is lost, a
/// replicator instance that answers on a new one may have lost the
/// registrations and (unless durable) the state the old one had.
pub trait ReplicatorLink: Send + Sync + 'static {
    /// One connection to the replicator.
    type Session: Send + 'static;

    /// Reaches the replicator (connecting if needed) and returns the
    /// connection in use.
    fn connect(&self) -> impl Future<Output = Result<Self::Session, ReplicatorError>> + Send;

    /// Resolves, with the reason, once `session` is closed or lost.
    fn lost(session: Self::Session) -> impl Future<Output = String> + Send;
}

/// Reads the replicator's whole state another way than `get_all` (in
/// pages, see [`crate::paged`]); `Ok(None)` when the replicator does not
/// offer it, and `get_all` is used.
pub type FetchAll<I> = Arc<
    dyn Fn() -> std::pin::Pin<
            Box<dyn Future<Output = Result<Option<Vec<I>>, ReplicatorError>> + Send>,
        > + Send
        + Sync,
>;

/// The most items the active member sends in one `set` call when it
/// re-pushes its state to a restarted replicator.
pub const REPUSH_BATCH: usize = 1000;

/// The longest pause between two reconnection attempts of
/// [`Member::supervise`] (the first comes after 50 ms, then doubling).
pub const RECONNECT_MAX_PAUSE: Duration = Duration::from_millis(500);

/// The role of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Listening to the replicator; not serving.
    Standby,
    /// Serving and pushing its changes.
    Active,
}

/// What a change made by the component returns when the member is not
/// active.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemberError {
    /// The member is on standby and may not change state.
    #[error("this replica is on standby")]
    NotActive,
    /// The replicator could not be reached.
    #[error(transparent)]
    Replicator(#[from] ReplicatorError),
}

/// The most changes of the active member sent in one call.
pub const BATCH_CHANGES: usize = 256;

/// A change of the active member on its way to the replicator.
enum Outgoing<I: Keyed> {
    Set(Vec<I>),
    Remove(Vec<I::Key>),
}

impl<I: Keyed> Outgoing<I> {
    fn same_kind(&self, other: &Self) -> bool {
        matches!(
            (self, other),
            (Self::Set(_), Self::Set(_)) | (Self::Remove(_), Self::Remove(_))
        )
    }
}

/// A change waiting to be sent, with its caller's answer.
struct Waiting<I: Keyed> {
    change: Outgoing<I>,
    done: tokio::sync::oneshot::Sender<Result<(), MemberError>>,
}

/// The active member's changes waiting for the call in flight.
struct Outbox<I: Keyed> {
    queue: std::collections::VecDeque<Waiting<I>>,
    /// Whether a task is sending (the queue drains on its own).
    sending: bool,
}

impl<I: Keyed> Default for Outbox<I> {
    fn default() -> Self {
        Self {
            queue: std::collections::VecDeque::new(),
            sending: false,
        }
    }
}

/// A push received while the member catches up, replayed over the snapshot.
enum Pushed<I: Keyed> {
    Set(Vec<I>),
    Removed(Vec<I::Key>),
}

struct Store<I: Keyed> {
    items: HashMap<I::Key, I>,
    role: Role,
    /// `Some` while catching up: pushes wait here, to be applied over the
    /// `get_all` snapshot in arrival order.
    buffer: Option<Vec<Pushed<I>>>,
}

/// One member of a replica group, generic over the component's state item.
pub struct Member<I: Keyed, C: ReplicatorClient<I>> {
    store: Arc<Mutex<Store<I>>>,
    /// `None` for a standalone member.
    client: Option<Arc<C>>,
    /// Serialises role changes and the component's own changes, so a change
    /// is never half-sent while the role flips.
    transition: Arc<AsyncMutex<()>>,
    /// Tells [`Member::role_changes`] watchers of each new role.
    roles: Arc<watch::Sender<Role>>,
    /// Whether the last call to the replicator failed (for the log lines
    /// of loss and recovery).
    unreachable: Arc<AtomicBool>,
    /// How the whole state is read, when not with `get_all`.
    fetch: Arc<Mutex<Option<FetchAll<I>>>>,
    /// The active member's changes waiting to be sent.
    outbox: Arc<Mutex<Outbox<I>>>,
}

impl<I: Keyed, C: ReplicatorClient<I>> Clone for Member<I, C> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            client: self.client.clone(),
            transition: Arc::clone(&self.transition),
            roles: Arc::clone(&self.roles),
            unreachable: Arc::clone(&self.unreachable),
            fetch: Arc::clone(&self.fetch),
            outbox: Arc::clone(&self.outbox),
        }
    }
}

impl<I: Keyed, C: ReplicatorClient<I>> std::fmt::Debug for Member<I, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("role", &self.role())
            .field("items", &self.len())
            .finish()
    }
}

fn lock<I: Keyed>(m: &Mutex<Store<I>>) -> MutexGuard<'_, Store<I>> {
    // Each update is a plain insert/remove/replace: a poisoned lock holds
    // a consistent store.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<I: Keyed, C: ReplicatorClient<I>> Member<I, C> {
    /// A member of a replica group, in standby: registers its listener and
    /// catches up with the replicator.
    ///
    /// # Errors
    /// When the replicator cannot be reached: a member with a missing or
    /// unreachable replicator fails at start-up rather than hanging.
    pub async fn start_standby(client: C) -> Result<Self, ReplicatorError> {
        let member = Self::new_standby(client);
        member.join().await?;
        Ok(member)
    }

    /// A member in standby that has not registered yet: serve its listener
    /// first, then call [`Member::join`].
    #[must_use]
    pub fn new_standby(client: C) -> Self {
        Self {
            store: Arc::new(Mutex::new(Store {
                items: HashMap::new(),
                role: Role::Standby,
                buffer: None,
            })),
            client: Some(Arc::new(client)),
            transition: Arc::new(AsyncMutex::new(())),
            roles: Arc::new(watch::Sender::new(Role::Standby)),
            unreachable: Arc::default(),
            fetch: Arc::default(),
            outbox: Arc::default(),
        }
    }

    /// Reads the whole state with `fetch` from now on (in pages, say)
    /// instead of `get_all`, which stays the fallback when `fetch` answers
    /// `Ok(None)`. Used to catch up, to activate and to restore.
    pub fn set_fetch_all(&self, fetch: FetchAll<I>) {
        *self
            .fetch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fetch);
    }

    /// The replicator's whole state, through the fetch of
    /// [`Member::set_fetch_all`] if any, else `get_all`.
    async fn fetch_all(&self, c: &C) -> Result<Vec<I>, ReplicatorError> {
        let fetch = self
            .fetch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(f) = fetch {
            if let Some(all) = f().await? {
                return Ok(all);
            }
        }
        c.get_all().await
    }

    /// Registers the listener and catches up (pushes that arrive meanwhile
    /// are replayed over the snapshot, so none is lost).
    ///
    /// # Errors
    /// When the replicator cannot be reached.
    pub async fn join(&self) -> Result<(), ReplicatorError> {
        let Some(c) = &self.client else {
            return Ok(());
        };
        lock(&self.store).buffer = Some(Vec::new());
        let result = async {
            c.add_listener().await?;
            self.fetch_all(c).await
        }
        .await;
        let mut s = lock(&self.store);
        let buffered = s.buffer.take().unwrap_or_default();
        let all = result?;
        s.items = all
            .into_iter()
            .filter(|i| !i.is_removal())
            .map(|i| (i.key(), i))
            .collect();
        for p in buffered {
            match p {
                Pushed::Set(items) => apply_set(&mut s.items, &items),
                Pushed::Removed(keys) => {
                    for k in &keys {
                        s.items.remove(k);
                    }
                }
            }
        }
        Ok(())
    }

    /// A standalone member: active at once, with no replicator.
    #[must_use]
    pub fn standalone() -> Self {
        Self {
            store: Arc::new(Mutex::new(Store {
                items: HashMap::new(),
                role: Role::Active,
                buffer: None,
            })),
            client: None,
            transition: Arc::new(AsyncMutex::new(())),
            roles: Arc::new(watch::Sender::new(Role::Active)),
            unreachable: Arc::default(),
            fetch: Arc::default(),
            outbox: Arc::default(),
        }
    }

    /// Whether this member runs without a replicator.
    #[must_use]
    pub fn is_standalone(&self) -> bool {
        self.client.is_none()
    }

    /// The member's role now.
    #[must_use]
    pub fn role(&self) -> Role {
        lock(&self.store).role
    }

    /// Whether the member is active.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.role() == Role::Active
    }

    /// A receiver that sees the member's role now and each change of it,
    /// for what must follow the role (say, registering the service with a
    /// locator only while active).
    #[must_use]
    pub fn role_changes(&self) -> watch::Receiver<Role> {
        self.roles.subscribe()
    }

    fn set_role(&self, role: Role) {
        lock(&self.store).role = role;
        self.roles.send_replace(role);
    }

    fn replace_all(&self, items: Vec<I>) {
        let mut s = lock(&self.store);
        s.items = items
            .into_iter()
            .filter(|i| !i.is_removal())
            .map(|i| (i.key(), i))
            .collect();
    }

    /// Makes this member the active one: stops listening, catches up with
    /// the replicator, and serves. Returns `Ok(false)` if it was already
    /// active.
    ///
    /// # Errors
    /// When the replicator cannot be reached; the member then stays in
    /// standby.
    pub async fn activate(&self) -> Result<bool, ReplicatorError> {
        let _guard = self.transition.lock().await;
        if self.is_active() {
            return Ok(false);
        }
        if let Some(c) = &self.client {
            // Stop the pushes first, then read the whole state: everything
            // acknowledged before this point is in the answer.
            if let Err(e) = c.remove_listener().await {
                tracing::warn!(error = %e, "could not unregister from the state replicator; going on");
            }
            let all = self.fetch_all(c).await?;
            self.replace_all(all);
        }
        self.set_role(Role::Active);
        Ok(true)
    }

    /// Puts this member on standby: it stops serving and listens to the
    /// replicator again. Returns `Ok(false)` if it already was.
    ///
    /// # Errors
    /// When the replicator cannot be reached.
    pub async fn standby(&self) -> Result<bool, ReplicatorError> {
        let _guard = self.transition.lock().await;
        if !self.is_active() {
            return Ok(false);
        }
        self.set_role(Role::Standby);
        self.join().await?;
        Ok(true)
    }

    /// A change made by the active component: sent to the replicator and,
    /// once it acknowledged, applied locally (see the module docs).
    ///
    /// Changes made while an earlier one is on its way to the replicator
    /// wait, in order, and then go out together: consecutive sets in one
    /// `set` call, consecutive removals in one `remove` call (at most
    /// [`BATCH_CHANGES`] changes a call), each applied and answered once
    /// its call is acknowledged. So concurrent changes share one round
    /// trip and one durable commit of the replicator, and are applied in
    /// the order they were made.
    ///
    /// # Errors
    /// [`MemberError::NotActive`] on standby; the replicator's error if it
    /// could not be told, the change then not applied.
    pub async fn set(&self, items: Vec<I>) -> Result<(), MemberError> {
        self.change(Outgoing::Set(items)).await
    }

    /// A removal made by the active component: sent to the replicator
    /// and, once it acknowledged, applied locally (grouped with concurrent
    /// changes as [`Member::set`] says).
    ///
    /// # Errors
    /// As [`Member::set`].
    pub async fn remove(&self, keys: Vec<I::Key>) -> Result<(), MemberError> {
        self.change(Outgoing::Remove(keys)).await
    }

    async fn change(&self, change: Outgoing<I>) -> Result<(), MemberError> {
        if self.client.is_none() {
            let _guard = self.transition.lock().await;
            if self.role() != Role::Active {
                return Err(MemberError::NotActive);
            }
            apply(&mut lock(&self.store).items, &change);
            return Ok(());
        }
        let (done, answer) = tokio::sync::oneshot::channel();
        let lead = {
            let mut o = self
                .outbox
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            o.queue.push_back(Waiting { change, done });
            !std::mem::replace(&mut o.sending, true)
        };
        if lead {
            // On a task of its own: a caller that goes away does not stop
            // the changes queued behind its own.
            tokio::spawn(self.clone().send_queued());
        }
        answer
            .await
            .unwrap_or(Err(MemberError::Replicator(ReplicatorError {
                operation: "set",
                reason: "the change was dropped before it was sent".into(),
            })))
    }

    /// Sends what waits in the outbox, in order, until it is empty.
    async fn send_queued(self) {
        loop {
            let batch: Vec<Waiting<I>> = {
                let mut o = self
                    .outbox
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if o.queue.is_empty() {
                    o.sending = false;
                    return;
                }
                let n = o.queue.len().min(BATCH_CHANGES);
                o.queue.drain(..n).collect()
            };
            let _guard = self.transition.lock().await;
            let active = self.role() == Role::Active;
            let mut rest = batch.into_iter().peekable();
            while let Some(first) = rest.next() {
                if !active {
                    let _ = first.done.send(Err(MemberError::NotActive));
                    continue;
                }
                // The run of consecutive changes of the first one's kind.
                let mut run = vec![first];
                while let Some(next) = rest.next_if(|w| w.change.same_kind(&run[0].change)) {
                    run.push(next);
                }
                self.send_run(run).await;
            }
        }
    }

    /// Sends a run of changes of one kind in one call; applies and answers
    /// each once acknowledged, or answers each with the failure.
    async fn send_run(&self, run: Vec<Waiting<I>>) {
        let Some(c) = &self.client else {
            return;
        };
        let sent = match &run[0].change {
            Outgoing::Set(_) => {
                let items = run
                    .iter()
                    .flat_map(|w| match &w.change {
                        Outgoing::Set(items) => items.clone(),
                        Outgoing::Remove(_) => Vec::new(),
                    })
                    .collect();
                c.set_items(items).await
            }
            Outgoing::Remove(_) => {
                let keys = run
                    .iter()
                    .flat_map(|w| match &w.change {
                        Outgoing::Remove(keys) => keys.clone(),
                        Outgoing::Set(_) => Vec::new(),
                    })
                    .collect();
                c.remove_items(keys).await
            }
        };
        self.note_call(&sent);
        match sent {
            Ok(()) => {
                let mut s = lock(&self.store);
                for w in &run {
                    apply(&mut s.items, &w.change);
                }
                drop(s);
                for w in run {
                    let _ = w.done.send(Ok(()));
                }
            }
            Err(e) => {
                for w in run {
                    let _ = w.done.send(Err(MemberError::Replicator(e.clone())));
                }
            }
        }
    }

    /// Logs the first failed call to the replicator (warning) and the first
    /// success after failures (info).
    fn note_call<T>(&self, result: &Result<T, ReplicatorError>) {
        match result {
            Err(e) => {
                if !self.unreachable.swap(true, Ordering::SeqCst) {
                    tracing::warn!(error = %e, "state replicator unreachable: changes are refused (not applied) until it answers again");
                }
            }
            Ok(_) => {
                if self.unreachable.swap(false, Ordering::SeqCst) {
                    tracing::info!("state replicator reachable again: changes are accepted");
                }
            }
        }
    }

    /// Watches `link` on a task of its own and, each time the connection
    /// to the replicator is lost and then answers again, restores what the
    /// replicator instance may lack ([`Member::restore`]). Logs the loss
    /// (warning) and the recovery (info). Must be called within a tokio
    /// runtime; stops when the returned handle is aborted. A standalone
    /// member has nothing to watch: the task ends at once.
    pub fn supervise<L: ReplicatorLink>(&self, link: L) -> tokio::task::JoinHandle<()> {
        let member = self.clone();
        tokio::spawn(async move {
            if member.is_standalone() {
                return;
            }
            let mut session = match link.connect().await {
                Ok(s) => Some(s),
                Err(e) => {
                    member.link_lost(&e.to_string());
                    None
                }
            };
            loop {
                if let Some(s) = session.take() {
                    let reason = L::lost(s).await;
                    member.link_lost(&reason);
                }
                let mut pause = Duration::from_millis(50);
                session = loop {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RECONNECT_MAX_PAUSE);
                    let s = match link.connect().await {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::debug!(error = %e, "state replicator still unreachable");
                            continue;
                        }
                    };
                    match member.restore().await {
                        Ok(what) => {
                            member.unreachable.store(false, Ordering::SeqCst);
                            tracing::info!(restored = %what, "state replicator reachable again");
                            break Some(s);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "state replicator answers but could not be restored; retrying");
                        }
                    }
                };
            }
        })
    }

    fn link_lost(&self, reason: &str) {
        self.unreachable.store(true, Ordering::SeqCst);
        tracing::warn!(reason = %reason, "connection to the state replicator lost; reconnecting");
    }

    /// Puts a replicator that may have restarted back in line with this
    /// member: the active member removes the keys it does not hold and
    /// re-pushes its state; a standby member registers again and catches
    /// up. Returns what was done, for the log. Holds the member's changes
    /// and role changes meanwhile.
    ///
    /// # Errors
    /// When the replicator cannot be reached.
    pub async fn restore(&self) -> Result<String, ReplicatorError> {
        let _guard = self.transition.lock().await;
        let Some(c) = &self.client else {
            return Ok("nothing (standalone)".to_owned());
        };
        if self.role() != Role::Active {
            self.join().await?;
            return Ok(format!(
                "listener registered again, caught up with {} items",
                self.len()
            ));
        }
        let ours: Vec<I> = lock(&self.store).items.values().cloned().collect();
        let held: HashSet<I::Key> = ours.iter().map(Keyed::key).collect();
        let extra: Vec<I::Key> = self
            .fetch_all(c)
            .await?
            .iter()
            .map(Keyed::key)
            .filter(|k| !held.contains(k))
            .collect();
        let removed = extra.len();
        if !extra.is_empty() {
            c.remove_items(extra).await?;
        }
        for batch in ours.chunks(REPUSH_BATCH) {
            c.set_items(batch.to_vec()).await?;
        }
        Ok(format!(
            "re-pushed {} items, removed {removed} the active member does not hold",
            ours.len()
        ))
    }

    /// A push from the replicator (the listener servant calls this).
    /// Ignored while active: the active member is the source of changes.
    pub fn pushed_set(&self, items: &[I]) {
        let mut s = lock(&self.store);
        if s.role == Role::Active {
            return;
        }
        if let Some(b) = &mut s.buffer {
            b.push(Pushed::Set(items.to_vec()));
            return;
        }
        apply_set(&mut s.items, items);
    }

    /// A removal pushed by the replicator.
    pub fn pushed_removed(&self, keys: &[I::Key]) {
        let mut s = lock(&self.store);
        if s.role == Role::Active {
            return;
        }
        if let Some(b) = &mut s.buffer {
            b.push(Pushed::Removed(keys.to_vec()));
            return;
        }
        for k in keys {
            s.items.remove(k);
        }
    }

    /// The item with this key, if any.
    #[must_use]
    pub fn get(&self, key: &I::Key) -> Option<I> {
        lock(&self.store).items.get(key).cloned()
    }

    /// A copy of every item.
    #[must_use]
    pub fn snapshot(&self) -> Vec<I> {
        lock(&self.store).items.values().cloned().collect()
    }

    /// The number of items held.
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.store).items.len()
    }

    /// Whether no item is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn apply<I: Keyed>(items: &mut HashMap<I::Key, I>, change: &Outgoing<I>) {
    match change {
        Outgoing::Set(set) => apply_set(items, set),
        Outgoing::Remove(keys) => {
            for k in keys {
                items.remove(k);
            }
        }
    }
}

fn apply_set<I: Keyed>(items: &mut HashMap<I::Key, I>, set: &[I]) {
    for i in set {
        if i.is_removal() {
            items.remove(&i.key());
        } else {
            items.insert(i.key(), i.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Listener, PushError, StateReplicator};

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Item(String, i32);

    impl Keyed for Item {
        type Key = String;
        fn key(&self) -> String {
            self.0.clone()
        }
    }

    /// A client wired straight to an in-process replicator; the member's
    /// listener pushes into the member through a late-bound slot.
    #[derive(Clone)]
    struct Direct {
        /// The replicator instance now answering (swapped to simulate a
        /// restart).
        replicator: Arc<Mutex<StateReplicator<Item>>>,
        name: String,
        target: Arc<Mutex<Option<Member<Item, Direct>>>>,
        down: Arc<std::sync::atomic::AtomicBool>,
    }

    struct Push {
        name: String,
        target: Arc<Mutex<Option<Member<Item, Direct>>>>,
    }

    impl Listener<Item> for Push {
        async fn items_set(&self, items: &[Item]) -> Result<(), PushError> {
            let m = self.target.lock().ok().and_then(|t| t.clone());
            if let Some(m) = m {
                m.pushed_set(items);
            }
            Ok(())
        }
        async fn items_removed(&self, keys: &[String]) -> Result<(), PushError> {
            let m = self.target.lock().ok().and_then(|t| t.clone());
            if let Some(m) = m {
                m.pushed_removed(keys);
            }
            Ok(())
        }
        fn describe(&self) -> String {
            self.name.clone()
        }
    }

    impl Direct {
        fn r(&self) -> StateReplicator<Item> {
            self.replicator.lock().expect("replicator").clone()
        }
        fn check(&self, operation: &'static str) -> Result<(), ReplicatorError> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                Err(ReplicatorError {
                    operation,
                    reason: "connection refused".into(),
                })
            } else {
                Ok(())
            }
        }
    }

    impl ReplicatorClient<Item> for Direct {
        async fn set_items(&self, items: Vec<Item>) -> Result<(), ReplicatorError> {
            self.check("set")?;
            self.r().set_items(items).await.expect("stored");
            Ok(())
        }
        async fn remove_items(&self, keys: Vec<String>) -> Result<(), ReplicatorError> {
            self.check("remove")?;
            self.r().remove_items(keys).await.expect("stored");
            Ok(())
        }
        async fn get_all(&self) -> Result<Vec<Item>, ReplicatorError> {
            self.check("getAll")?;
            Ok(self.r().get_all())
        }
        async fn add_listener(&self) -> Result<(), ReplicatorError> {
            self.check("addListener")?;
            self.r().add_listener(Push {
                name: self.name.clone(),
                target: Arc::clone(&self.target),
            });
            Ok(())
        }
        async fn remove_listener(&self) -> Result<(), ReplicatorError> {
            self.check("removeListener")?;
            self.r().remove_listener(&self.name);
            Ok(())
        }
    }

    async fn member(r: &StateReplicator<Item>, name: &str) -> Member<Item, Direct> {
        member_of(&Arc::new(Mutex::new(r.clone())), &Arc::default(), name).await
    }

    /// A member of whichever replicator `r` holds, down while `down` is set.
    async fn member_of(
        r: &Arc<Mutex<StateReplicator<Item>>>,
        down: &Arc<std::sync::atomic::AtomicBool>,
        name: &str,
    ) -> Member<Item, Direct> {
        let client = Direct {
            replicator: Arc::clone(r),
            name: name.into(),
            target: Arc::default(),
            down: Arc::clone(down),
        };
        let slot = Arc::clone(&client.target);
        let m = Member::start_standby(client)
            .await
            .expect("replicator reachable");
        *slot.lock().expect("slot") = Some(m.clone());
        m
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    fn sorted(mut v: Vec<Item>) -> Vec<Item> {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[tokio::test]
    async fn standby_follows_active_and_takes_over_with_the_whole_state() {
        let r = StateReplicator::<Item>::default();
        let a = member(&r, "a").await;
        let b = member(&r, "b").await;
        assert!(!a.is_active() && !b.is_active());
        assert_eq!(
            a.set(vec![Item("x".into(), 1)]).await,
            Err(MemberError::NotActive)
        );
        assert_eq!(a.activate().await, Ok(true));
        assert_eq!(a.activate().await, Ok(false));
        for i in 0..100 {
            a.set(vec![Item(format!("k{}", i % 10), i)])
                .await
                .expect("set");
        }
        a.remove(vec!["k3".into()]).await.expect("remove");
        settle().await;
        assert_eq!(sorted(b.snapshot()), sorted(a.snapshot()));
        // Failover: b takes over with everything the replicator acknowledged.
        drop(a);
        assert_eq!(b.activate().await, Ok(true));
        assert_eq!(sorted(b.snapshot()), sorted(r.get_all()));
        assert_eq!(b.len(), 9);
    }

    #[tokio::test]
    async fn a_late_joiner_catches_up_and_standby_reregisters() {
        let r = StateReplicator::<Item>::default();
        let a = member(&r, "a").await;
        a.activate().await.expect("activate");
        a.set(vec![Item("x".into(), 1), Item("y".into(), 2)])
            .await
            .expect("set");
        let late = member(&r, "late").await;
        assert_eq!(sorted(late.snapshot()), sorted(a.snapshot()));
        assert_eq!(a.standby().await, Ok(true));
        assert!(!a.is_active());
        assert_eq!(r.listener_count(), 2);
    }

    #[tokio::test]
    async fn role_changes_are_told_to_watchers() {
        let r = StateReplicator::<Item>::default();
        let a = member(&r, "a").await;
        let mut roles = a.role_changes();
        assert_eq!(*roles.borrow_and_update(), Role::Standby);
        a.activate().await.expect("activate");
        roles.changed().await.expect("told of activate");
        assert_eq!(*roles.borrow_and_update(), Role::Active);
        a.standby().await.expect("standby");
        roles.changed().await.expect("told of standby");
        assert_eq!(*roles.borrow_and_update(), Role::Standby);
        // Nothing changed: nothing told.
        assert_eq!(a.standby().await, Ok(false));
        assert!(!roles.has_changed().expect("sender alive"));
    }

    #[tokio::test]
    async fn an_unreachable_replicator_fails_start_up() {
        let client = Direct {
            replicator: Arc::default(),
            name: "n".into(),
            target: Arc::default(),
            down: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        };
        let err = Member::start_standby(client).await.err();
        assert_eq!(err.map(|e| e.operation), Some("addListener"));
    }

    #[tokio::test]
    async fn standalone_is_active_with_no_replicator() {
        let m: Member<Item, Direct> = Member::standalone();
        assert!(m.is_active() && m.is_standalone());
        m.set(vec![Item("a".into(), 1)]).await.expect("set");
        assert_eq!(m.get(&"a".to_owned()), Some(Item("a".into(), 1)));
    }

    #[tokio::test]
    async fn a_change_the_replicator_refuses_is_not_applied() {
        let r = Arc::new(Mutex::new(StateReplicator::<Item>::default()));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let a = member_of(&r, &down, "a").await;
        a.activate().await.expect("activate");
        a.set(vec![Item("x".into(), 1)]).await.expect("set");
        down.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = a.set(vec![Item("x".into(), 2), Item("y".into(), 3)]).await;
        assert!(matches!(err, Err(MemberError::Replicator(_))), "{err:?}");
        let err = a.remove(vec!["x".into()]).await;
        assert!(matches!(err, Err(MemberError::Replicator(_))), "{err:?}");
        // Neither refused change reached the member's own state.
        assert_eq!(a.snapshot(), vec![Item("x".into(), 1)]);
        down.store(false, std::sync::atomic::Ordering::SeqCst);
        a.set(vec![Item("y".into(), 4)]).await.expect("set");
        let r = r.lock().expect("r").clone();
        assert_eq!(sorted(a.snapshot()), sorted(r.get_all()));
    }

    /// A link whose sessions end when `generation` moves on (a replicator
    /// restart), and that cannot connect while `down` is set.
    struct Restarts {
        generation: watch::Sender<u64>,
        down: Arc<std::sync::atomic::AtomicBool>,
    }

    impl ReplicatorLink for Restarts {
        type Session = watch::Receiver<u64>;
        async fn connect(&self) -> Result<Self::Session, ReplicatorError> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(ReplicatorError {
                    operation: "connect",
                    reason: "refused".into(),
                });
            }
            let mut rx = self.generation.subscribe();
            rx.borrow_and_update();
            Ok(rx)
        }
        async fn lost(mut session: Self::Session) -> String {
            let _ = session.changed().await;
            "restarted".into()
        }
    }

    #[tokio::test]
    async fn after_a_replicator_restart_the_active_re_pushes_and_standbys_re_register() {
        let r = Arc::new(Mutex::new(StateReplicator::<Item>::default()));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let a = member_of(&r, &down, "a").await;
        let b = member_of(&r, &down, "b").await;
        a.activate().await.expect("activate");
        for i in 0..2500 {
            a.set(vec![Item(format!("k{i}"), i)]).await.expect("set");
        }
        let (generation, _) = watch::channel(0);
        let generation = Arc::new(generation);
        let link = |g: &Arc<watch::Sender<u64>>| Restarts {
            generation: (**g).clone(),
            down: Arc::clone(&down),
        };
        let ta = a.supervise(link(&generation));
        let tb = b.supervise(link(&generation));
        settle().await;
        // The replicator dies: changes are refused; it comes back empty.
        down.store(true, std::sync::atomic::Ordering::SeqCst);
        generation.send_modify(|g| *g += 1);
        assert!(a.set(vec![Item("lost".into(), 0)]).await.is_err());
        let fresh = StateReplicator::<Item>::default();
        // The new instance holds a key the active never acknowledged.
        fresh
            .set_items(vec![Item("stray".into(), 9)])
            .await
            .expect("stored");
        *r.lock().expect("r") = fresh.clone();
        down.store(false, std::sync::atomic::Ordering::SeqCst);
        for _ in 0..200 {
            if fresh.len() == 2500 && fresh.listener_count() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        a.set(vec![Item("after".into(), 1)]).await.expect("set");
        settle().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(fresh.listener_count(), 1, "the standby registered again");
        assert_eq!(sorted(fresh.get_all()), sorted(a.snapshot()));
        assert_eq!(sorted(b.snapshot()), sorted(a.snapshot()));
        assert_eq!(a.len(), 2501);
        ta.abort();
        tb.abort();
    }

    /// A client whose replicator pushes a change between `addListener` and
    /// the `getAll` snapshot, which is older than that push.
    struct Racy {
        target: Arc<Mutex<Option<Member<Item, Racy>>>>,
    }

    impl ReplicatorClient<Item> for Racy {
        async fn set_items(&self, _: Vec<Item>) -> Result<(), ReplicatorError> {
            Ok(())
        }
        async fn remove_items(&self, _: Vec<String>) -> Result<(), ReplicatorError> {
            Ok(())
        }
        async fn get_all(&self) -> Result<Vec<Item>, ReplicatorError> {
            Ok(vec![Item("a".into(), 1), Item("b".into(), 1)])
        }
        async fn add_listener(&self) -> Result<(), ReplicatorError> {
            let m = self.target.lock().ok().and_then(|t| t.clone());
            if let Some(m) = m {
                m.pushed_set(&[Item("a".into(), 2)]);
                m.pushed_removed(&["b".into()]);
            }
            Ok(())
        }
        async fn remove_listener(&self) -> Result<(), ReplicatorError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn pushes_during_catch_up_are_replayed_over_the_snapshot() {
        let target = Arc::default();
        let m = Member::new_standby(Racy {
            target: Arc::clone(&target),
        });
        *target.lock().expect("slot") = Some(m.clone());
        m.join().await.expect("join");
        assert_eq!(m.snapshot(), vec![Item("a".into(), 2)]);
        // Once caught up, pushes apply directly.
        m.pushed_set(&[Item("c".into(), 3)]);
        assert_eq!(m.get(&"c".to_owned()), Some(Item("c".into(), 3)));
    }

    /// A client whose `set`/`remove` take a while and are recorded.
    #[derive(Default)]
    struct Recording {
        calls: Arc<Mutex<Vec<String>>>,
    }

    impl ReplicatorClient<Item> for Recording {
        async fn set_items(&self, items: Vec<Item>) -> Result<(), ReplicatorError> {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let call = items
                .iter()
                .map(|i| format!("{}={}", i.0, i.1))
                .collect::<Vec<_>>();
            self.calls
                .lock()
                .expect("calls")
                .push(format!("set {}", call.join(",")));
            Ok(())
        }
        async fn remove_items(&self, keys: Vec<String>) -> Result<(), ReplicatorError> {
            tokio::time::sleep(Duration::from_millis(30)).await;
            self.calls
                .lock()
                .expect("calls")
                .push(format!("remove {}", keys.join(",")));
            Ok(())
        }
        async fn get_all(&self) -> Result<Vec<Item>, ReplicatorError> {
            Ok(Vec::new())
        }
        async fn add_listener(&self) -> Result<(), ReplicatorError> {
            Ok(())
        }
        async fn remove_listener(&self) -> Result<(), ReplicatorError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn changes_made_during_a_call_go_out_together_in_order() {
        let client = Recording::default();
        let calls = Arc::clone(&client.calls);
        let m = Member::start_standby(client).await.expect("join");
        m.activate().await.expect("activate");
        let first = {
            let m = m.clone();
            tokio::spawn(async move { m.set(vec![Item("x".into(), 0)]).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        // Made while the first is in flight, in this order.
        let (a, b, c, d, e) = tokio::join!(
            m.set(vec![Item("a".into(), 1)]),
            m.set(vec![Item("a".into(), 2), Item("b".into(), 2)]),
            m.remove(vec!["b".into()]),
            m.remove(vec!["x".into()]),
            m.set(vec![Item("a".into(), 3)]),
        );
        first.await.expect("task").expect("first");
        for r in [a, b, c, d, e] {
            r.expect("acknowledged");
        }
        assert_eq!(
            *calls.lock().expect("calls"),
            vec![
                "set x=0".to_owned(),
                "set a=1,a=2,b=2".to_owned(),
                "remove b,x".to_owned(),
                "set a=3".to_owned(),
            ]
        );
        assert_eq!(m.snapshot(), vec![Item("a".into(), 3)]);
    }
}

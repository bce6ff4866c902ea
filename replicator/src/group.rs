//! Redundant replicators: several State Replicator processes form a
//! replica group of their own, one active and the others on standby,
//! after the same pattern as the components they serve.
//!
//! A standby replicator *follows* the active one: for each component it
//! registers a follower with the active replicator (operation [`FOLLOW`]
//! on facet [`FACET`] of the component's replicator identity), which then
//! pushes it every change in order, as it pushes the component's standby
//! members; the follower applies each push to its own store (durable when
//! configured) before answering, and the active replicator acknowledges a
//! change to the component only once every follower has applied it (a
//! follower that fails a push, or takes longer than [`PUSH_TIMEOUT`], is
//! dropped and no longer waited for). So a standby replicator that was
//! following when the active one died holds every acknowledged change. It
//! catches up in pages (see [`crate::paged`]), replaying over them the
//! pushes received meanwhile.
//! The active replicator also tells its followers which listeners (standby
//! members) are registered, whenever that changes; so a standby replicator
//! that takes over pushes to the same standby members at once, without
//! them registering again (a ZeroC component does not).
//!
//! A standby replicator does not listen on the replicators' client
//! endpoints: components (and the followers themselves) reach whichever
//! replicator is active through the same proxy, listing every replicator's
//! endpoints, through a moving address, or through the locator, where only
//! the active replicator registers. Promotion ([`Group::activate`]) stops
//! following, registers the listeners the active one had, and serves.
//!
//! A follower that was still catching up, or had been dropped, when the
//! active replicator died may lack changes; a Rust active member restores
//! them, as it re-pushes its state to the replicator it reaches next (see
//! [`crate::member`]).
//!
//! The follower protocol, which would read in Slice (`ItemSeq` and
//! `KeySeq` being the component's):
//!
//! ```text
//! // facet "group" of each replicator identity, on the active replicator
//! ["amd"] Ice::StringSeq follow(string follower);   // returns the listeners
//! void unfollow(string follower);
//! idempotent bool following(string follower);       // still registered?
//! // the follower, on the standby replicator's management adapter
//! void followSet(ItemSeq items);
//! void followRemoved(KeySeq keys);
//! void followListeners(Ice::StringSeq listeners);
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ice_proto::adapter::{Current, DispatchError, DispatchResult, Servant};
use ice_proto::codegen::{Decode, Encode, Format, Registry};
use ice_proto::communicator::Communicator;
use ice_proto::connection::BoxFuture;
use ice_proto::protocol::{Encapsulation, OperationMode};
use ice_proto::proxy::{ObjectPrx, Outcome};
use ice_proto::RuntimeError;

use crate::member::{ReplicatorError, ReplicatorLink, RECONNECT_MAX_PAUSE};
use crate::state::{Keyed, Listener, PushError, StateReplicator};

/// The facet of a replicator identity that serves followers.
pub const FACET: &str = "group";
/// Registers a follower; returns the registered listeners.
pub const FOLLOW: &str = "follow";
/// Unregisters a follower.
pub const UNFOLLOW: &str = "unfollow";
/// Whether a follower is registered (a follower dropped for failing a push
/// learns so and registers again).
pub const FOLLOWING: &str = "following";
/// A follower's operation receiving set items.
pub const SET: &str = "followSet";
/// A follower's operation receiving removed keys.
pub const REMOVED: &str = "followRemoved";
/// A follower's operation receiving the registered listeners.
pub const LISTENERS: &str = "followListeners";

/// How long one push to a follower may take before it is dropped: the
/// longest a hung standby replicator holds the active one's
/// acknowledgements, once (a dropped follower registers again).
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a promotion waits for the previous active replicator to
/// release its followers (it is usually gone).
pub const LEAVE_LIMIT: Duration = Duration::from_millis(300);

/// The most items one catch-up write holds.
const CATCH_UP_BATCH: usize = 1000;

/// What the group needs of one component's generated glue.
pub struct Glue<I: Keyed, S, L> {
    /// The component, for log lines.
    pub component: &'static str,
    /// The glue's `Item::to_seq`.
    pub to_seq: fn(&[I]) -> S,
    /// The glue's `Item::from_seq`.
    pub from_seq: fn(S) -> Vec<I>,
    /// The generated `ice_registry()`.
    pub registry: Arc<Registry>,
    /// The glue's `ListenerProxy::new`: a registered listener from its proxy.
    pub listener: fn(ObjectPrx) -> L,
}

impl<I: Keyed, S, L> Clone for Glue<I, S, L> {
    fn clone(&self) -> Self {
        Self {
            component: self.component,
            to_seq: self.to_seq,
            from_seq: self.from_seq,
            registry: Arc::clone(&self.registry),
            listener: self.listener,
        }
    }
}

fn invoke_error(operation: &'static str) -> impl Fn(RuntimeError) -> ReplicatorError {
    move |e| ReplicatorError {
        operation,
        reason: e.to_string(),
    }
}

/// Calls `operation` on `prx` with `params`, returning the results.
async fn call(
    prx: &ObjectPrx,
    operation: &'static str,
    mode: OperationMode,
    params: Encapsulation,
) -> Result<Encapsulation, RuntimeError> {
    match prx.ice_invoke(operation, mode, params, None).await? {
        Outcome::Ok(results) => Ok(results),
        Outcome::UserException(_) => Err(RuntimeError::UnknownUserException(
            "undeclared user exception".into(),
        )),
    }
}

// ---------------------------------------------------------------- active

/// The active replicator's pushes to one follower.
struct FollowerPush<I: Keyed, S, L> {
    prx: ObjectPrx,
    name: String,
    glue: Glue<I, S, L>,
}

impl<I, S, L> Listener<I> for FollowerPush<I, S, L>
where
    I: Keyed,
    I::Key: Encode,
    S: Encode + Send + Sync + 'static,
    L: Send + Sync + 'static,
{
    async fn items_set(&self, items: &[I]) -> Result<(), PushError> {
        let params = ice_proto::adapter::encapsulate(self.prx.encoding(), Format::Sliced, |out| {
            out.write(&(self.glue.to_seq)(items));
            out.write_pending_classes();
        });
        call(&self.prx, SET, OperationMode::Normal, params)
            .await
            .map(drop)
            .map_err(|e| PushError {
                reason: e.to_string(),
            })
    }

    async fn items_removed(&self, keys: &[I::Key]) -> Result<(), PushError> {
        let params = self.prx.params(|out| out.write(&keys.to_vec()));
        call(&self.prx, REMOVED, OperationMode::Normal, params)
            .await
            .map(drop)
            .map_err(|e| PushError {
                reason: e.to_string(),
            })
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn follows(&self) -> bool {
        true
    }
}

/// Facet [`FACET`] of a replicator identity on the active replicator:
/// registers followers and keeps them told of the registered listeners.
pub struct LeaderServant<I: Keyed, S, L> {
    core: StateReplicator<I>,
    glue: Glue<I, S, L>,
    communicator: Communicator,
}

impl<I: Keyed, S, L> std::fmt::Debug for LeaderServant<I, S, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderServant")
            .field("component", &self.glue.component)
            .finish_non_exhaustive()
    }
}

impl<I, S, L> LeaderServant<I, S, L>
where
    I: Keyed,
    I::Key: Encode,
    S: Encode + Send + Sync + 'static,
    L: Send + Sync + 'static,
{
    /// The facet over `core`, ready for an adapter's `add_facet`.
    #[must_use]
    pub fn servant(
        core: StateReplicator<I>,
        glue: Glue<I, S, L>,
        communicator: Communicator,
    ) -> Arc<dyn Servant> {
        Arc::new(Self {
            core,
            glue,
            communicator,
        })
    }

    fn follower(&self, params: &Encapsulation) -> Result<(ObjectPrx, String), DispatchError> {
        let mut input = Current::params_stream(params)?;
        let text: String = input.read()?;
        input.end_encapsulation()?;
        let prx = match self.communicator.string_to_proxy(&text) {
            Ok(Some(p)) => p,
            _ => {
                return Err(DispatchError::UnknownException(format!(
                    "`{text}` is not a follower proxy"
                )))
            }
        };
        let name = format!("follower {}", self.communicator.proxy_to_string(&prx));
        Ok((prx, name))
    }

    fn follow(&self, current: &Current, params: &Encapsulation) -> DispatchResult {
        let (prx, name) = self.follower(params)?;
        let prx = prx.ice_invocation_timeout(Some(PUSH_TIMEOUT));
        let mut registrations = self.core.registrations();
        let now = registrations.borrow_and_update().clone();
        self.core.add_listener(FollowerPush {
            prx: prx.clone(),
            name: name.clone(),
            glue: self.glue.clone(),
        });
        tracing::info!(component = self.glue.component, follower = %name, "standby replicator following");
        // Tell the follower of each change of the registered listeners
        // while it is registered.
        let core = self.core.clone();
        tokio::spawn(async move {
            while registrations.changed().await.is_ok() {
                let names = registrations.borrow_and_update().clone();
                let params = prx.params(|out| out.write(&names));
                if let Err(e) = call(&prx, LISTENERS, OperationMode::Normal, params).await {
                    tracing::warn!(follower = %name, error = %e, "standby replicator dropped: could not tell it the listeners");
                    core.remove_listener(&name);
                    return;
                }
            }
        });
        Ok(current.results(|out| out.write(&now)))
    }
}

impl<I, S, L> Servant for LeaderServant<I, S, L>
where
    I: Keyed,
    I::Key: Encode,
    S: Encode + Send + Sync + 'static,
    L: Send + Sync + 'static,
{
    fn type_ids(&self) -> &[&str] {
        &["::AsteriskSCF::System::StateReplication::V1::ReplicatorGroup"]
    }

    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async move {
            match current.operation.as_str() {
                FOLLOW => self.follow(current, &params),
                UNFOLLOW => {
                    let (_, name) = self.follower(&params)?;
                    self.core.remove_listener(&name);
                    Ok(current.results(|_| {}))
                }
                FOLLOWING => {
                    let (_, name) = self.follower(&params)?;
                    let registered = self.core.is_registered(&name);
                    Ok(current.results(|out| out.write(&registered)))
                }
                _ => Err(DispatchError::OperationNotExist),
            }
        })
    }
}

// ---------------------------------------------------------------- standby

/// A push received while the follower catches up.
enum Pending<I: Keyed> {
    Set(Vec<I>),
    Removed(Vec<I::Key>),
}

/// One component's follower on a standby replicator: applies the active
/// replicator's pushes to its own store, and keeps the listeners the
/// active one has registered.
pub struct Follower<I: Keyed, S, L> {
    core: StateReplicator<I>,
    glue: Glue<I, S, L>,
    /// `Some` while catching up: pushes wait here.
    pending: Mutex<Option<Vec<Pending<I>>>>,
    /// The listeners the active replicator has registered.
    listeners: Mutex<Vec<String>>,
    /// This follower's proxy, as the active replicator calls it.
    me: Mutex<String>,
}

impl<I: Keyed, S, L> std::fmt::Debug for Follower<I, S, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("component", &self.glue.component)
            .finish_non_exhaustive()
    }
}

fn guard<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each update is a plain replace or push: a poisoned lock is usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<I, S, L> Follower<I, S, L>
where
    I: Keyed,
    I::Key: Decode + Encode,
    S: Decode + Encode + Send + Sync + 'static,
    L: Listener<I>,
{
    /// A follower writing into `core`.
    #[must_use]
    pub fn new(core: StateReplicator<I>, glue: Glue<I, S, L>) -> Arc<Self> {
        Arc::new(Self {
            core,
            glue,
            pending: Mutex::new(None),
            listeners: Mutex::new(Vec::new()),
            me: Mutex::new(String::new()),
        })
    }

    /// Sets the proxy the active replicator reaches this follower at.
    pub fn set_proxy(&self, proxy: String) {
        *guard(&self.me) = proxy;
    }

    /// Applies a push, or keeps it while catching up.
    async fn apply(&self, push: Pending<I>) -> Result<(), DispatchError> {
        let commit = {
            let mut pending = guard(&self.pending);
            if let Some(p) = pending.as_mut() {
                p.push(push);
                return Ok(());
            }
            // Applied in arrival order (the store applies at the call).
            match push {
                Pending::Set(items) => self.core.set_items(items),
                Pending::Removed(keys) => self.core.remove_items(keys),
            }
        };
        commit
            .await
            .map_err(|e| DispatchError::UnknownException(e.to_string()))
    }

    /// Registers with the active replicator at `active` and catches up:
    /// afterwards this store equals the active one's, and follows it.
    ///
    /// # Errors
    /// When the active replicator cannot be reached or the store fails.
    pub async fn join(&self, active: &ObjectPrx) -> Result<usize, ReplicatorError> {
        *guard(&self.pending) = Some(Vec::new());
        let result = self.catch_up(active).await;
        // Replay what arrived meanwhile, in order, then apply directly.
        loop {
            let batch = {
                let mut pending = guard(&self.pending);
                match pending.as_mut() {
                    Some(p) if !p.is_empty() && result.is_ok() => std::mem::take(p),
                    _ => {
                        *pending = None;
                        break;
                    }
                }
            };
            for push in batch {
                let commit = match push {
                    Pending::Set(items) => self.core.set_items(items),
                    Pending::Removed(keys) => self.core.remove_items(keys),
                };
                commit.await.map_err(store_error)?;
            }
        }
        result
    }

    async fn catch_up(&self, active: &ObjectPrx) -> Result<usize, ReplicatorError> {
        let group = active.clone().ice_facet(FACET);
        let me = guard(&self.me).clone();
        let params = group.params(|out| out.write(&me));
        let results = call(&group, FOLLOW, OperationMode::Normal, params)
            .await
            .map_err(invoke_error(FOLLOW))?;
        let mut input = group
            .results_input(&results, Arc::clone(&self.glue.registry))
            .map_err(|e| invoke_error(FOLLOW)(e.into()))?;
        let names: Vec<String> = input.read().map_err(|e| invoke_error(FOLLOW)(e.into()))?;
        *guard(&self.listeners) = names;
        let all =
            crate::paged::fetch_all(active, self.glue.from_seq, Arc::clone(&self.glue.registry))
                .await?
                .ok_or_else(|| ReplicatorError {
                    operation: crate::paged::OPERATION,
                    reason: "the active replicator serves no pages".into(),
                })?;
        let keep: std::collections::HashSet<I::Key> = all.iter().map(Keyed::key).collect();
        let extra: Vec<I::Key> = self
            .core
            .get_all()
            .iter()
            .map(Keyed::key)
            .filter(|k| !keep.contains(k))
            .collect();
        self.core.remove_items(extra).await.map_err(store_error)?;
        let count = all.len();
        let mut rest = all;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(CATCH_UP_BATCH));
            self.core.set_items(rest).await.map_err(store_error)?;
            rest = tail;
        }
        Ok(count)
    }

    /// Resolves once the active replicator at `active` no longer has this
    /// follower registered (it dropped it for a failed push) or cannot be
    /// asked; checked every [`crate::link::PING_INTERVAL`].
    async fn dropped(&self, active: &ObjectPrx) -> String {
        let group = active.clone().ice_facet(FACET);
        loop {
            tokio::time::sleep(crate::link::PING_INTERVAL).await;
            let me = guard(&self.me).clone();
            let params = group.params(|out| out.write(&me));
            let registered = match call(&group, FOLLOWING, OperationMode::Idempotent, params).await
            {
                Ok(results) => group
                    .results_input(&results, Arc::clone(&self.glue.registry))
                    .and_then(|mut input| input.read::<bool>())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match registered {
                Ok(true) => {}
                Ok(false) => return "the active replicator dropped this follower".into(),
                Err(e) => return format!("cannot ask the active replicator: {e}"),
            }
        }
    }

    /// Stops following `active` (when it can be reached).
    pub async fn leave(&self, active: &ObjectPrx) {
        let group = active.clone().ice_facet(FACET);
        let me = guard(&self.me).clone();
        let params = group.params(|out| out.write(&me));
        if let Err(e) = call(&group, UNFOLLOW, OperationMode::Normal, params).await {
            tracing::debug!(error = %e, "could not stop following the previous active replicator");
        }
    }

    /// Registers with this replicator's store the listeners the active
    /// replicator had: from now on it pushes to them. Returns how many.
    pub fn take_over_listeners(&self, communicator: &Communicator) -> usize {
        let names = guard(&self.listeners).clone();
        let mut n = 0;
        for name in names {
            match communicator.string_to_proxy(&name) {
                Ok(Some(prx)) => {
                    self.core.add_listener((self.glue.listener)(prx));
                    n += 1;
                }
                _ => tracing::warn!(listener = %name, "not a proxy; listener not taken over"),
            }
        }
        n
    }

    /// The follower servant, ready for an adapter.
    #[must_use]
    pub fn servant(self: &Arc<Self>) -> Arc<dyn Servant> {
        Arc::new(FollowerServant(Arc::clone(self)))
    }

    /// Follows the active replicator at `active` on a task of its own:
    /// joins, and joins again whenever the connection is lost, until the
    /// returned handle is aborted (on promotion).
    pub fn follow(self: &Arc<Self>, active: ObjectPrx) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(50);
            let mut told = false;
            loop {
                let session = match active.connect().await {
                    Ok(s) => s,
                    Err(e) => {
                        if !told {
                            tracing::info!(component = me.glue.component, error = %e, "no active replicator reachable yet; retrying");
                            told = true;
                        }
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(RECONNECT_MAX_PAUSE);
                        continue;
                    }
                };
                match me.join(&active).await {
                    Ok(n) => {
                        told = false;
                        pause = Duration::from_millis(50);
                        tracing::info!(
                            component = me.glue.component,
                            items = n,
                            "following the active replicator"
                        );
                        let reason = tokio::select! {
                            reason = ObjectPrx::lost(session) => reason,
                            reason = me.dropped(&active) => reason,
                        };
                        tracing::warn!(component = me.glue.component, reason = %reason, "lost the active replicator; following again once one answers");
                    }
                    Err(e) => {
                        tracing::warn!(component = me.glue.component, error = %e, "could not follow the active replicator; retrying");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(RECONNECT_MAX_PAUSE);
                    }
                }
            }
        })
    }
}

fn store_error(e: crate::durable::StoreError) -> ReplicatorError {
    ReplicatorError {
        operation: "store",
        reason: e.to_string(),
    }
}

/// The Ice servant of a [`Follower`].
struct FollowerServant<I: Keyed, S, L>(Arc<Follower<I, S, L>>);

impl<I, S, L> Servant for FollowerServant<I, S, L>
where
    I: Keyed,
    I::Key: Decode + Encode,
    S: Decode + Encode + Send + Sync + 'static,
    L: Listener<I>,
{
    fn type_ids(&self) -> &[&str] {
        &["::AsteriskSCF::System::StateReplication::V1::ReplicatorFollower"]
    }

    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async move {
            let f = &self.0;
            match current.operation.as_str() {
                SET => {
                    let mut input = current.params_input(&params, Arc::clone(&f.glue.registry))?;
                    let seq: S = input.read()?;
                    input.read_pending_classes()?;
                    input.end_encapsulation()?;
                    f.apply(Pending::Set((f.glue.from_seq)(seq))).await?;
                }
                REMOVED => {
                    let mut input = current.params_input(&params, Arc::clone(&f.glue.registry))?;
                    let keys: Vec<I::Key> = input.read()?;
                    input.end_encapsulation()?;
                    f.apply(Pending::Removed(keys)).await?;
                }
                LISTENERS => {
                    let mut input = Current::params_stream(&params)?;
                    let names: Vec<String> = input.read()?;
                    input.end_encapsulation()?;
                    *guard(&f.listeners) = names;
                }
                _ => return Err(DispatchError::OperationNotExist),
            }
            Ok(current.results(|_| {}))
        })
    }
}

// ---------------------------------------------------------------- the group

/// A component's follower, whatever its item type, as [`Group`] drives it.
pub trait Follows: Send + Sync + 'static {
    /// See [`Follower::follow`].
    fn start(&self, active: ObjectPrx) -> tokio::task::JoinHandle<()>;
    /// See [`Follower::take_over_listeners`].
    fn take_over(&self, communicator: &Communicator) -> usize;
    /// See [`Follower::leave`].
    fn leave_active(&self, active: ObjectPrx) -> BoxFuture<'_, ()>;
}

impl<I, S, L> Follows for Arc<Follower<I, S, L>>
where
    I: Keyed,
    I::Key: Decode + Encode,
    S: Decode + Encode + Send + Sync + 'static,
    L: Listener<I>,
{
    fn start(&self, active: ObjectPrx) -> tokio::task::JoinHandle<()> {
        self.follow(active)
    }

    fn take_over(&self, communicator: &Communicator) -> usize {
        self.take_over_listeners(communicator)
    }

    fn leave_active(&self, active: ObjectPrx) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.leave(&active).await })
    }
}

/// Starts serving the replicators' clients (creates, fills and activates
/// their adapter); called on promotion.
pub type Serve = Arc<
    dyn Fn() -> BoxFuture<'static, Result<ice_proto::adapter::ObjectAdapter, String>> + Send + Sync,
>;

struct GroupState {
    /// The client adapter while active.
    adapter: Option<ice_proto::adapter::ObjectAdapter>,
    /// The follow tasks while on standby.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// A replicator process as a member of the replicators' replica group:
/// on standby it follows the active replicator; [`Group::activate`] makes
/// it the active one.
#[derive(Clone)]
pub struct Group {
    /// Each component's follower with the proxy of the active replicator
    /// of that component.
    followers: Arc<Vec<(Box<dyn Follows>, ObjectPrx)>>,
    serve: Serve,
    communicator: Communicator,
    state: Arc<tokio::sync::Mutex<GroupState>>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("components", &self.followers.len())
            .finish_non_exhaustive()
    }
}

impl Group {
    /// A member on standby, following the active replicator of each
    /// component (`followers`: a follower and the proxy of the active
    /// replicator of its component); `serve` starts serving clients.
    #[must_use]
    pub fn start_standby(
        followers: Vec<(Box<dyn Follows>, ObjectPrx)>,
        serve: Serve,
        communicator: Communicator,
    ) -> Self {
        let tasks = followers
            .iter()
            .map(|(f, active)| f.start(active.clone()))
            .collect();
        Self {
            followers: Arc::new(followers),
            serve,
            communicator,
            state: Arc::new(tokio::sync::Mutex::new(GroupState {
                adapter: None,
                tasks,
            })),
        }
    }

    /// Whether this replicator is the active one.
    pub async fn is_active(&self) -> bool {
        self.state.lock().await.adapter.is_some()
    }

    /// Makes this replicator the active one: stops following, pushes to
    /// the listeners the previous active one had, and serves the clients.
    /// Returns `Ok(false)` when it already was.
    ///
    /// # Errors
    /// When the clients cannot be served (the endpoints cannot be bound,
    /// the locator refuses the registration); it then follows again.
    pub async fn activate(&self) -> Result<bool, String> {
        let started = std::time::Instant::now();
        let mut state = self.state.lock().await;
        if state.adapter.is_some() {
            return Ok(false);
        }
        for t in state.tasks.drain(..) {
            t.abort();
        }
        // A previous active one still answering stops pushing here; one
        // that does not answer at once is not waited for.
        let leave = async {
            for (f, active) in self.followers.iter() {
                f.leave_active(active.clone()).await;
            }
        };
        let _ = tokio::time::timeout(LEAVE_LIMIT, leave).await;
        let listeners: usize = self
            .followers
            .iter()
            .map(|(f, _)| f.take_over(&self.communicator))
            .sum();
        match (self.serve)().await {
            Ok(adapter) => {
                state.adapter = Some(adapter);
                tracing::info!(
                    listeners,
                    elapsed_ms = started.elapsed().as_millis(),
                    "replicator activated: serving, and pushing to the listeners the previous active replicator had"
                );
                Ok(true)
            }
            Err(e) => {
                state.tasks = self.start_following();
                Err(e)
            }
        }
    }

    /// Puts this replicator on standby: it stops serving clients (their
    /// connections close, so they reach the next active one) and follows
    /// the active replicator. Returns `Ok(false)` when it already was.
    pub async fn standby(&self) -> bool {
        let mut state = self.state.lock().await;
        let Some(adapter) = state.adapter.take() else {
            return false;
        };
        adapter.destroy().await;
        state.tasks = self.start_following();
        tracing::info!("replicator on standby, following the active one");
        true
    }

    fn start_following(&self) -> Vec<tokio::task::JoinHandle<()>> {
        self.followers
            .iter()
            .map(|(f, active)| f.start(active.clone()))
            .collect()
    }

    /// The `Replica` servant of this group member, ready for the
    /// management adapter.
    #[must_use]
    pub fn replica(&self) -> Arc<dyn Servant> {
        component::ReplicaServant::new(self.clone())
    }
}

use crate::generated::asterisk_scf::system::component::v1 as component;

impl component::Replica for Group {
    async fn is_active(&self, _current: &Current) -> Result<bool, DispatchError> {
        Ok(Group::is_active(self).await)
    }

    async fn activate(&self, _current: &Current) -> Result<bool, DispatchError> {
        match Group::activate(self).await {
            Ok(_) => Ok(true),
            Err(e) => {
                tracing::error!(error = %e, "activation failed; staying on standby");
                Ok(false)
            }
        }
    }

    async fn standby(&self, _current: &Current) -> Result<(), DispatchError> {
        Group::standby(self).await;
        Ok(())
    }

    async fn add_listener(
        &self,
        _listener: Option<component::ReplicaListenerPrx>,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        Ok(())
    }

    async fn remove_listener(
        &self,
        _listener: Option<component::ReplicaListenerPrx>,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        Ok(())
    }
}

//! The example component ChannelServiceX over Ice: the generated Slice
//! mapping glued to the generic core.
//!
//! - [`StateItem`]: a `ChannelServiceXStateItem` class instance, [`Keyed`]
//!   by its `key` member;
//! - [`ListenerProxy`]: a `ChannelServiceXStateReplicatorListener` proxy as a
//!   [`Listener`] of the generic replicator (described by its stringified
//!   proxy, as ZeroC's replicator tells listeners apart);
//! - [`ReplicatorServant`]: the `ChannelServiceXStateReplicator` servant over
//!   [`StateReplicator`];
//! - [`IceReplicatorClient`]: a member's [`ReplicatorClient`] over the
//!   replicator proxy and the member's own listener proxy;
//! - [`MemberListener`], [`ReplicaServant`], [`ChannelServiceServant`]: the
//!   servants of a replica-group member.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ice_proto::adapter::{Current, DispatchError};
use ice_proto::codegen::{ClassRef, ProxyData};
use ice_proto::communicator::Communicator;
use ice_proto::proxy::ObjectPrx;

use crate::member::{Member, MemberError, ReplicatorClient, ReplicatorError};
use crate::state::{Keyed, Listener, PushError, StateReplicator};

/// The generated mapping of `ReplicaIf.ice`, `ChannelServiceXIf.ice` and
/// `ChannelServiceXStateReplicationIf.ice`.
#[allow(missing_docs, clippy::all)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/scf.rs"));
}

pub use generated::asterisk_scf::channel_service_x::v1 as cx;
pub use generated::asterisk_scf::system::component::v1 as component;

/// How long a push to one listener may take before the listener is dropped.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A replicated state item: a `ChannelServiceXStateItem` (or subclass)
/// instance, keyed by its `key` member.
#[derive(Debug, Clone, PartialEq)]
pub struct StateItem(pub ClassRef);

impl StateItem {
    /// Wraps a class value.
    pub fn new<V: ice_proto::codegen::Value>(value: V) -> Self {
        Self(ClassRef::new(value))
    }

    /// The items of a Slice sequence (null elements are skipped).
    #[must_use]
    pub fn from_seq(seq: cx::ChannelServiceXStateItemSeq) -> Vec<Self> {
        seq.into_iter().flatten().map(Self).collect()
    }

    /// A Slice sequence of these items.
    #[must_use]
    pub fn to_seq(items: &[Self]) -> cx::ChannelServiceXStateItemSeq {
        items.iter().map(|i| Some(i.0.clone())).collect()
    }

    /// The item as a channel, if it is one.
    #[must_use]
    pub fn channel(&self) -> Option<&cx::ChannelServiceXChannelStateItem> {
        self.0.downcast_ref::<cx::ChannelServiceXChannelStateItem>()
    }
}

impl Keyed for StateItem {
    type Key = String;

    fn key(&self) -> String {
        self.0
            .downcast_ref::<cx::ChannelServiceXStateItem>()
            .map(|i| i.key.clone())
            .unwrap_or_default()
    }
}

/// A listener proxy as a listener of the generic replicator.
#[derive(Debug, Clone)]
pub struct ListenerProxy {
    prx: cx::ChannelServiceXStateReplicatorListenerPrx,
    name: String,
}

impl ListenerProxy {
    /// The listener at `proxy`; pushes time out after [`PUSH_TIMEOUT`].
    #[must_use]
    pub fn new(proxy: ObjectPrx) -> Self {
        let name = proxy.communicator().proxy_to_string(&proxy);
        let proxy = proxy.ice_invocation_timeout(Some(PUSH_TIMEOUT));
        Self {
            prx: cx::ChannelServiceXStateReplicatorListenerPrx::unchecked_cast(proxy),
            name,
        }
    }
}

fn push_error(e: &ice_proto::RuntimeError) -> PushError {
    PushError {
        reason: e.to_string(),
    }
}

impl Listener<StateItem> for ListenerProxy {
    async fn items_set(&self, items: &[StateItem]) -> Result<(), PushError> {
        self.prx
            .state_items_set(&StateItem::to_seq(items), None)
            .await
            .map_err(|e| push_error(&e))
    }

    async fn items_removed(&self, keys: &[String]) -> Result<(), PushError> {
        self.prx
            .state_items_removed(&keys.to_vec(), None)
            .await
            .map_err(|e| push_error(&e))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// The `ChannelServiceXStateReplicator` servant over the generic core.
#[derive(Debug, Clone)]
pub struct ReplicatorServant {
    core: StateReplicator<StateItem>,
    communicator: Communicator,
}

impl std::fmt::Debug for StateReplicator<StateItem> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateReplicator")
            .field("items", &self.len())
            .field("listeners", &self.listener_count())
            .finish()
    }
}

impl ReplicatorServant {
    /// A servant over `core`; listener proxies are made with `communicator`.
    #[must_use]
    pub fn new(core: StateReplicator<StateItem>, communicator: Communicator) -> Self {
        Self { core, communicator }
    }

    /// The generic core.
    #[must_use]
    pub fn core(&self) -> &StateReplicator<StateItem> {
        &self.core
    }
}

impl cx::ChannelServiceXStateReplicator for ReplicatorServant {
    async fn add_listener(
        &self,
        listener: Option<ProxyData>,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        if let Some(data) = listener {
            let l = ListenerProxy::new(self.communicator.proxy(data));
            tracing::info!(listener = %l.name, "listener added");
            self.core.add_listener(l);
        }
        Ok(())
    }

    async fn remove_listener(
        &self,
        listener: Option<ProxyData>,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        if let Some(data) = listener {
            let name = self
                .communicator
                .proxy_to_string(&self.communicator.proxy(data));
            if self.core.remove_listener(&name) {
                tracing::info!(listener = %name, "listener removed");
            }
        }
        Ok(())
    }

    async fn set_state_items(
        &self,
        items: cx::ChannelServiceXStateItemSeq,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        self.core.set_items(StateItem::from_seq(items));
        Ok(())
    }

    async fn remove_state_items(
        &self,
        keys: cx::ChannelServiceXStateItemKeySeq,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        self.core.remove_items(keys);
        Ok(())
    }

    async fn get_state_items(
        &self,
        keys: cx::ChannelServiceXStateItemKeySeq,
        _current: &Current,
    ) -> Result<cx::ChannelServiceXStateItemSeq, DispatchError> {
        Ok(StateItem::to_seq(&self.core.get_items(&keys)))
    }

    async fn get_all_state_items(
        &self,
        _current: &Current,
    ) -> Result<cx::ChannelServiceXStateItemSeq, DispatchError> {
        Ok(StateItem::to_seq(&self.core.get_all()))
    }
}

/// A member's link to its replicator: the replicator proxy and the
/// member's own listener proxy.
#[derive(Debug, Clone)]
pub struct IceReplicatorClient {
    replicator: cx::ChannelServiceXStateReplicatorPrx,
    listener: Option<ProxyData>,
}

impl IceReplicatorClient {
    /// A client of the replicator at `replicator`, registering `listener`.
    #[must_use]
    pub fn new(replicator: ObjectPrx, listener: &ObjectPrx) -> Self {
        Self {
            replicator: cx::ChannelServiceXStateReplicatorPrx::unchecked_cast(replicator),
            listener: Some(listener.data().clone()),
        }
    }
}

fn rep_error(operation: &'static str, e: &ice_proto::RuntimeError) -> ReplicatorError {
    ReplicatorError {
        operation,
        reason: e.to_string(),
    }
}

impl ReplicatorClient<StateItem> for IceReplicatorClient {
    async fn set_items(&self, items: Vec<StateItem>) -> Result<(), ReplicatorError> {
        self.replicator
            .set_state_items(&StateItem::to_seq(&items), None)
            .await
            .map_err(|e| rep_error("setStateItems", &e))
    }

    async fn remove_items(&self, keys: Vec<String>) -> Result<(), ReplicatorError> {
        self.replicator
            .remove_state_items(&keys, None)
            .await
            .map_err(|e| rep_error("removeStateItems", &e))
    }

    async fn get_all(&self) -> Result<Vec<StateItem>, ReplicatorError> {
        self.replicator
            .get_all_state_items(None)
            .await
            .map(StateItem::from_seq)
            .map_err(|e| rep_error("getAllStateItems", &e))
    }

    async fn add_listener(&self) -> Result<(), ReplicatorError> {
        self.replicator
            .add_listener(&self.listener, None)
            .await
            .map_err(|e| rep_error("addListener", &e))
    }

    async fn remove_listener(&self) -> Result<(), ReplicatorError> {
        self.replicator
            .remove_listener(&self.listener, None)
            .await
            .map_err(|e| rep_error("removeListener", &e))
    }
}

/// A ChannelServiceX replica-group member over Ice.
pub type ChannelMember = Member<StateItem, IceReplicatorClient>;

/// A late-bound slot for the member: the listener servant must serve before
/// the member registers it.
pub type MemberSlot = Arc<Mutex<Option<ChannelMember>>>;

fn slot_get(slot: &MemberSlot) -> Option<ChannelMember> {
    slot.lock().ok().and_then(|m| m.clone())
}

/// The member's `ChannelServiceXStateReplicatorListener` servant.
#[derive(Debug, Clone, Default)]
pub struct MemberListener {
    /// The member pushes go to.
    pub slot: MemberSlot,
}

impl std::fmt::Debug for ChannelMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("role", &self.role())
            .field("items", &self.len())
            .finish()
    }
}

impl cx::ChannelServiceXStateReplicatorListener for MemberListener {
    async fn state_items_set(
        &self,
        items: cx::ChannelServiceXStateItemSeq,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        if let Some(m) = slot_get(&self.slot) {
            m.pushed_set(&StateItem::from_seq(items));
        }
        Ok(())
    }

    async fn state_items_removed(
        &self,
        keys: cx::ChannelServiceXStateItemKeySeq,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        if let Some(m) = slot_get(&self.slot) {
            m.pushed_removed(&keys);
        }
        Ok(())
    }
}

/// The member's `Replica` servant; tells registered `ReplicaListener`s.
#[derive(Debug, Clone)]
pub struct ReplicaServant {
    member: ChannelMember,
    communicator: Communicator,
    /// This servant's own proxy, passed to listeners as `source`.
    pub self_proxy: Arc<Mutex<Option<ProxyData>>>,
    listeners: Arc<Mutex<Vec<ProxyData>>>,
}

impl ReplicaServant {
    /// A servant for `member`.
    #[must_use]
    pub fn new(member: ChannelMember, communicator: Communicator) -> Self {
        Self {
            member,
            communicator,
            self_proxy: Arc::default(),
            listeners: Arc::default(),
        }
    }

    fn notify(&self, activated: bool) {
        let listeners = self.listeners.lock().map(|l| l.clone()).unwrap_or_default();
        let source = self.self_proxy.lock().ok().and_then(|s| s.clone());
        for l in listeners {
            let prx = component::ReplicaListenerPrx::unchecked_cast(
                self.communicator
                    .proxy(l)
                    .ice_invocation_timeout(Some(PUSH_TIMEOUT)),
            );
            let source = source.clone();
            tokio::spawn(async move {
                let r = if activated {
                    prx.activated(&source, None).await
                } else {
                    prx.on_standby(&source, None).await
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, "ReplicaListener could not be told");
                }
            });
        }
    }
}

impl component::Replica for ReplicaServant {
    async fn is_active(&self, _current: &Current) -> Result<bool, DispatchError> {
        Ok(self.member.is_active())
    }

    async fn activate(&self, _current: &Current) -> Result<bool, DispatchError> {
        match self.member.activate().await {
            Ok(changed) => {
                tracing::info!(items = self.member.len(), "activated");
                if changed {
                    self.notify(true);
                }
                Ok(true)
            }
            Err(e) => {
                tracing::error!(error = %e, "activation failed; staying on standby");
                Ok(false)
            }
        }
    }

    async fn standby(&self, _current: &Current) -> Result<(), DispatchError> {
        match self.member.standby().await {
            Ok(changed) => {
                tracing::info!("on standby");
                if changed {
                    self.notify(false);
                }
                Ok(())
            }
            Err(e) => Err(DispatchError::UnknownException(e.to_string())),
        }
    }

    async fn add_listener(
        &self,
        listener: Option<ProxyData>,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        if let (Some(l), Ok(mut ls)) = (listener, self.listeners.lock()) {
            if !ls.contains(&l) {
                ls.push(l);
            }
        }
        Ok(())
    }

    async fn remove_listener(
        &self,
        listener: Option<ProxyData>,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        if let (Some(l), Ok(mut ls)) = (listener, self.listeners.lock()) {
            ls.retain(|x| *x != l);
        }
        Ok(())
    }
}

/// The `ChannelService` servant: serves while the member is active.
#[derive(Debug, Clone)]
pub struct ChannelServiceServant {
    member: ChannelMember,
}

impl ChannelServiceServant {
    /// A servant for `member`.
    #[must_use]
    pub fn new(member: ChannelMember) -> Self {
        Self { member }
    }
}

fn not_active(current: &Current) -> DispatchError {
    current.user_exception(&cx::NotActive {})
}

fn not_found(current: &Current, id: &str) -> DispatchError {
    current.user_exception(&cx::ChannelNotFound {
        channel_id: id.to_owned(),
    })
}

fn member_error(current: &Current, e: MemberError) -> DispatchError {
    match e {
        MemberError::NotActive => not_active(current),
        other => DispatchError::UnknownException(other.to_string()),
    }
}

impl ChannelServiceServant {
    fn channel(
        &self,
        current: &Current,
        id: &str,
    ) -> Result<cx::ChannelServiceXChannelStateItem, DispatchError> {
        if !self.member.is_active() {
            return Err(not_active(current));
        }
        self.member
            .get(&id.to_owned())
            .and_then(|i| i.channel().cloned())
            .ok_or_else(|| not_found(current, id))
    }
}

impl cx::ChannelService for ChannelServiceServant {
    async fn create_channel(
        &self,
        channel_id: String,
        endpoint: String,
        current: &Current,
    ) -> Result<(), DispatchError> {
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let item = cx::ChannelServiceXChannelStateItem {
            base: cx::ChannelServiceXStateItem {
                key: channel_id.clone(),
            },
            channel_id,
            endpoint,
            state: cx::ChannelState::Idle,
            created_at,
        };
        self.member
            .set(vec![StateItem::new(item)])
            .await
            .map_err(|e| member_error(current, e))
    }

    async fn set_channel_state(
        &self,
        channel_id: String,
        state: cx::ChannelState,
        current: &Current,
    ) -> Result<(), DispatchError> {
        let mut item = self.channel(current, &channel_id)?;
        item.state = state;
        self.member
            .set(vec![StateItem::new(item)])
            .await
            .map_err(|e| member_error(current, e))
    }

    async fn destroy_channel(
        &self,
        channel_id: String,
        current: &Current,
    ) -> Result<(), DispatchError> {
        self.channel(current, &channel_id)?;
        self.member
            .remove(vec![channel_id])
            .await
            .map_err(|e| member_error(current, e))
    }

    async fn get_channel(
        &self,
        channel_id: String,
        current: &Current,
    ) -> Result<Option<ClassRef>, DispatchError> {
        let item = self.channel(current, &channel_id)?;
        Ok(Some(ClassRef::new(item)))
    }

    async fn list_channels(&self, current: &Current) -> Result<cx::ChannelIdSeq, DispatchError> {
        if !self.member.is_active() {
            return Err(not_active(current));
        }
        let mut ids: Vec<String> = self
            .member
            .snapshot()
            .iter()
            .filter_map(|i| i.channel().map(|c| c.channel_id.clone()))
            .collect();
        ids.sort();
        Ok(ids)
    }
}

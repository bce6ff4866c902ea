//! The `Replica` servant (`AsteriskSCF::System::Component::V1::Replica`)
//! over any replica-group member: `activate`/`standby` drive the member's
//! lifecycle, and registered `ReplicaListener`s are told of each change.
//! The member's own Ice glue (its items, listener and replicator client)
//! comes from the generated State Replicator glue of its component.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ice_proto::adapter::{Current, DispatchError};
use ice_proto::codegen::ProxyData;
use ice_proto::communicator::Communicator;

use crate::generated::asterisk_scf::system::component::v1 as component;
use crate::member::{Member, ReplicatorClient};
use crate::state::Keyed;

/// How long telling one `ReplicaListener` may take.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// A member's `Replica` servant; tells registered `ReplicaListener`s.
pub struct ReplicaServant<I: Keyed, C: ReplicatorClient<I>> {
    member: Member<I, C>,
    communicator: Communicator,
    /// This servant's own proxy, passed to listeners as `source`.
    pub self_proxy: Arc<Mutex<Option<ProxyData>>>,
    listeners: Arc<Mutex<Vec<ProxyData>>>,
}

impl<I: Keyed, C: ReplicatorClient<I>> Clone for ReplicaServant<I, C> {
    fn clone(&self) -> Self {
        Self {
            member: self.member.clone(),
            communicator: self.communicator.clone(),
            self_proxy: Arc::clone(&self.self_proxy),
            listeners: Arc::clone(&self.listeners),
        }
    }
}

impl<I: Keyed, C: ReplicatorClient<I>> std::fmt::Debug for ReplicaServant<I, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaServant")
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

impl<I: Keyed, C: ReplicatorClient<I>> ReplicaServant<I, C> {
    /// A servant for `member`.
    #[must_use]
    pub fn new(member: Member<I, C>, communicator: Communicator) -> Self {
        Self {
            member,
            communicator,
            self_proxy: Arc::default(),
            listeners: Arc::default(),
        }
    }

    /// This servant, ready for an object adapter.
    #[must_use]
    pub fn into_dispatcher(self) -> Arc<component::ReplicaServant<Self>> {
        component::ReplicaServant::new(self)
    }

    /// Edits the registered listeners with `listener`'s proxy (nothing
    /// happens for a null proxy).
    fn edit_listeners(
        &self,
        listener: Option<component::ReplicaListenerPrx>,
        edit: impl FnOnce(&mut Vec<ProxyData>, ProxyData),
    ) {
        if let (Some(l), Ok(mut ls)) = (listener, self.listeners.lock()) {
            edit(&mut ls, l.ice_object().data().clone());
        }
    }

    fn notify(&self, activated: bool) {
        let listeners = self.listeners.lock().map(|l| l.clone()).unwrap_or_default();
        let source = self
            .self_proxy
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .map(|d| component::ReplicaPrx::unchecked_cast(self.communicator.proxy(d)));
        for l in listeners {
            let prx = component::ReplicaListenerPrx::unchecked_cast(
                self.communicator
                    .proxy(l)
                    .ice_invocation_timeout(Some(NOTIFY_TIMEOUT)),
            );
            let source = source.clone();
            tokio::spawn(async move {
                let r = if activated {
                    prx.activated(source.as_ref()).await
                } else {
                    prx.on_standby(source.as_ref()).await
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, "ReplicaListener could not be told");
                }
            });
        }
    }
}

impl<I: Keyed, C: ReplicatorClient<I>> component::Replica for ReplicaServant<I, C> {
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
        listener: Option<component::ReplicaListenerPrx>,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        self.edit_listeners(listener, |ls, l| {
            if !ls.contains(&l) {
                ls.push(l);
            }
        });
        Ok(())
    }

    async fn remove_listener(
        &self,
        listener: Option<component::ReplicaListenerPrx>,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        self.edit_listeners(listener, |ls, l| ls.retain(|x| *x != l));
        Ok(())
    }
}

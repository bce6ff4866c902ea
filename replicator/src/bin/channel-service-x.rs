//! `channel-service-x`: the example component ChannelServiceX as a member
//! of a replica group.
//!
//! Adapters (endpoints from properties, default `tcp -h 127.0.0.1 -p 0`):
//! `ChannelServiceX` serves `ChannelService` (identity `ChannelService`;
//! `NotActive` while on standby), `ChannelServiceXManagement` the `Replica`
//! (identity `ChannelServiceXReplica`), `ChannelServiceXListener` the
//! member's state listener (identity `ChannelServiceXListener`).
//! Properties: `ChannelServiceX.StateReplicatorName` (stringified proxy of
//! the replicator, or a well-known name such as
//! `ChannelServiceXStateReplicator` resolved through `Ice.Default.Locator`;
//! required unless standalone; a wrong, unresolvable or unreachable one
//! fails start-up with an error naming the property),
//! `ChannelServiceX.Standalone` (default 0: alone and active with 1).
//!
//! With `ChannelServiceX.AdapterId` (and `Ice.Default.Locator`), the
//! service adapter's endpoints are registered with the locator only while
//! the member is active: registered on activation, unregistered on standby
//! and at shutdown, never touched by a member that has not been active. So
//! a client resolving the service through the locator reaches the active
//! member, never a standby answering `NotActive`. Two layouts (see
//! `deploy/README.md`): members run by IceGrid nodes each have their own
//! adapter id in a replica group (`ChannelServiceX.ReplicaGroupId`), whose
//! only registered member is the active one; members run by another
//! manager (Pacemaker) register dynamically, where IceGrid accepts no
//! replica group, so they share one adapter id and the registry entry
//! follows the active member as the shared address does.
//!
//! When the replicator cannot be reached, the active member refuses
//! changes (the caller gets an `Ice::UnknownException` saying so, and the
//! change is not applied); the loss and the recovery are logged. A member
//! watches its connection to the replicator: after a replicator restart,
//! the active member re-pushes its state and a standby registers again and
//! catches up, with no operator (see `replicator::member`).
//!
//! Prints `READY <service proxy> <management proxy>` (tab-separated) and
//! runs until SIGINT/SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{Endpoint, Identity, ProxyData};
use ice_proto::locator::{register_adapter, Locator};
use replicator::channel_x::{
    component, cx, glue, ChannelMember, ChannelServiceServant, IceReplicatorClient, MemberListener,
    ReplicaServant,
};
use replicator::cli;
use replicator::{paged, Member};

/// The ChannelServiceX component, a replica-group member.
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    after_help = "Ice properties: --Ice.Config=FILE, --ChannelServiceX.StateReplicatorName=PROXY, \
--ChannelServiceX.Standalone=1, --<Adapter>.Endpoints=..."
)]
struct Args {}

const DEFAULTS: &[(&str, &str)] = &[
    ("ChannelServiceX.Endpoints", "tcp -h 127.0.0.1 -p 0"),
    (
        "ChannelServiceXManagement.Endpoints",
        "tcp -h 127.0.0.1 -p 0",
    ),
    ("ChannelServiceXListener.Endpoints", "tcp -h 127.0.0.1 -p 0"),
];

const REPLICATOR_PROPERTY: &str = "ChannelServiceX.StateReplicatorName";

/// The service adapter's registration with the locator, done here rather
/// than by the adapter so that it follows the member's role.
#[derive(Debug, Clone)]
struct ServiceRegistration {
    adapter_id: String,
    replica_group_id: String,
    locator: Arc<Locator>,
    endpoints: Vec<Endpoint>,
    communicator: Communicator,
}

impl ServiceRegistration {
    /// Registers the endpoints (`active`) or unregisters them.
    async fn set(&self, active: bool) -> Result<(), String> {
        let proxy = active.then(|| {
            let mut data = ProxyData::new("dummy");
            data.encoding = self.communicator.default_encoding();
            data.endpoints = self.endpoints.clone();
            data
        });
        let call = register_adapter(
            &self.communicator,
            &self.locator,
            &self.adapter_id,
            &self.replica_group_id,
            proxy.as_ref(),
        );
        match tokio::time::timeout(Duration::from_secs(5), call).await {
            Ok(Ok(())) => {
                tracing::info!(adapter_id = %self.adapter_id, registered = active, "service adapter registration updated");
                Ok(())
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the locator registry did not answer in time".to_owned()),
        }
    }

    /// Keeps the registration in step with the member's role.
    async fn follow(self, member: ChannelMember) {
        // Unknown at first: a member that never was active leaves the entry
        // (another member's) alone.
        let mut registered: Option<bool> = None;
        let mut roles = member.role_changes();
        loop {
            let active = member.is_active();
            if registered.map_or(active, |r| r != active) {
                match self.set(active).await {
                    Ok(()) => registered = Some(active),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not update the service adapter registration; retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                }
            }
            // Wait for the next role change (the member outlives this task).
            if roles.changed().await.is_err() {
                return;
            }
        }
    }
}

fn identity(name: &str) -> Identity {
    Identity {
        name: name.to_owned(),
        category: String::new(),
    }
}

async fn run() -> Result<(), String> {
    let (mut props, rest) = cli::properties_from_args(std::env::args().skip(1).collect(), DEFAULTS)
        .map_err(|e| e.to_string())?;
    let _args = Args::parse_from(std::iter::once("channel-service-x".to_owned()).chain(rest));
    let standalone = props.get_property_as_int_with_default("ChannelServiceX.Standalone", 0) > 0;
    let replicator_name = props.get_property(REPLICATOR_PROPERTY).map(str::to_owned);
    // The service adapter's ids are taken out of the adapter's hands (see
    // ServiceRegistration).
    let service_ids = props
        .get_property("ChannelServiceX.AdapterId")
        .filter(|id| !id.is_empty())
        .map(|id| {
            (
                id.to_owned(),
                props
                    .get_property("ChannelServiceX.ReplicaGroupId")
                    .unwrap_or_default()
                    .to_owned(),
            )
        });
    if service_ids.is_some() {
        props.set_property("ChannelServiceX.AdapterId", "");
        props.set_property("ChannelServiceX.ReplicaGroupId", "");
    }
    let communicator = Communicator::new(props);
    let adapter = |name: &'static str| {
        let c = communicator.clone();
        async move {
            c.create_object_adapter(name)
                .await
                .map_err(|e| format!("cannot create adapter {name}: {e}"))
        }
    };
    let service = adapter("ChannelServiceX").await?;
    let management = adapter("ChannelServiceXManagement").await?;

    let member: ChannelMember = if standalone {
        tracing::info!("standalone: active, no state replicator");
        Member::standalone()
    } else {
        let name = replicator_name
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| {
                format!("{REPLICATOR_PROPERTY} is not set (or set ChannelServiceX.Standalone=1)")
            })?;
        let replicator = match communicator.string_to_proxy(&name) {
            Ok(Some(p)) => p.ice_invocation_timeout(Some(Duration::from_secs(5))),
            _ => {
                return Err(format!(
                    "{REPLICATOR_PROPERTY}: `{name}` is not a valid proxy"
                ))
            }
        };
        if replicator.is_indirect() && replicator.locator().is_none() {
            return Err(format!(
                "{REPLICATOR_PROPERTY}: `{name}` must be resolved through a locator, \
                 but Ice.Default.Locator is not set"
            ));
        }
        let listener_adapter = adapter("ChannelServiceXListener").await?;
        let listener = MemberListener::default();
        let slot = Arc::clone(&listener.slot);
        let listener_prx = listener_adapter.add(
            cx::ChannelServiceXStateReplicatorListenerServant::new(listener),
            identity("ChannelServiceXListener"),
        );
        listener_adapter.activate();
        let member =
            Member::new_standby(IceReplicatorClient::new(replicator.clone(), &listener_prx));
        if let Ok(mut s) = slot.lock() {
            *s = Some(member.clone());
        }
        // Catch up in pages where the replicator serves them: a state
        // larger than Ice.MessageSizeMax still fits.
        member.set_fetch_all(paged::fetcher(
            replicator.clone(),
            glue::Item::from_seq,
            replicator::generated::ice_registry(),
        ));
        // Unreachable fails fast; a large state may take its time (each
        // call has its own invocation timeout).
        let reachable = tokio::time::timeout(Duration::from_secs(8), replicator.ice_ping()).await;
        let joined = match reachable {
            Ok(Ok(())) => Ok(member.join().await),
            Ok(Err(e)) => Ok(Err(replicator::ReplicatorError {
                operation: "ice_ping",
                reason: e.to_string(),
            })),
            Err(elapsed) => Err(elapsed),
        };
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(format!(
                    "{REPLICATOR_PROPERTY}: replicator `{name}` unreachable: {e}"
                ))
            }
            Err(_) => {
                return Err(format!(
                    "{REPLICATOR_PROPERTY}: replicator `{name}` did not answer in time"
                ))
            }
        }
        tracing::info!(
            items = member.len(),
            "on standby, listening to the replicator"
        );
        // Restores a restarted replicator (active) or re-registers with it
        // (standby); see `replicator::member`.
        member.supervise(replicator);
        member
    };

    let service_prx = service.add(
        cx::ChannelServiceServant::new(ChannelServiceServant::new(member.clone())),
        identity("ChannelService"),
    );
    let replica = ReplicaServant::new(member.clone(), communicator.clone());
    let self_proxy = Arc::clone(&replica.self_proxy);
    let replica_prx = management.add(
        component::ReplicaServant::new(replica),
        identity("ChannelServiceXReplica"),
    );
    if let Ok(mut s) = self_proxy.lock() {
        *s = Some(replica_prx.data().clone());
    }
    for adapter in [&service, &management] {
        adapter.activate_and_register().await.map_err(|e| {
            format!(
                "cannot register adapter {} with the locator: {e}",
                adapter.name()
            )
        })?;
    }
    let registration = match service_ids {
        Some((adapter_id, replica_group_id)) => {
            let locator = communicator.default_locator().ok_or_else(|| {
                "ChannelServiceX.AdapterId is set but Ice.Default.Locator is not".to_owned()
            })?;
            let registration = ServiceRegistration {
                adapter_id,
                replica_group_id,
                locator,
                endpoints: service.published_endpoints().to_vec(),
                communicator: communicator.clone(),
            };
            if member.is_active() {
                registration
                    .set(true)
                    .await
                    .map_err(|e| format!("cannot register adapter ChannelServiceX: {e}"))?;
            }
            tokio::spawn(registration.clone().follow(member.clone()));
            Some(registration)
        }
        None => None,
    };
    println!(
        "READY\t{}\t{}",
        communicator.proxy_to_string(&service_prx),
        communicator.proxy_to_string(&replica_prx)
    );
    tokio::select! {
        () = cli::shutdown_signal() => tracing::info!("signal received, shutting down"),
        () = communicator.wait_for_shutdown() => {}
    }
    if let Some(r) = registration.filter(|_| member.is_active()) {
        if let Err(e) = r.set(false).await {
            tracing::warn!(error = %e, "could not unregister the service adapter");
        }
    }
    communicator.destroy().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    cli::init_logging();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("channel-service-x: error: {e}");
            ExitCode::from(1)
        }
    }
}

//! `scf-replicator`: the State Replicator server of the project's
//! components: ChannelServiceX, and on the same adapter the two variants'
//! replicators (identities `SessionServiceYStateReplicator` and
//! `BridgeServiceZStateReplicator`), all generated glue over the generic
//! core.
//!
//! With no arguments it serves on loopback with embedded defaults: adapter
//! `ChannelServiceXReplicator` at `tcp -h 127.0.0.1 -p 4061`, identity
//! `ChannelServiceXStateReplicator`. Ice-style `--Ice.Config=FILE` and
//! `--Name=value` arguments override them. With
//! `ChannelServiceXReplicator.AdapterId` and `Ice.Default.Locator` the
//! adapter registers its endpoints with the locator (IceGrid) before
//! serving, and the proxy it prints is indirect (`id@AdapterId`). Prints
//! `READY <proxy>` once it serves and runs until SIGINT/SIGTERM.
//!
//! Durable state: with `ChannelServiceXReplicator.DataDir=DIR` (an
//! existing, writable directory) the replicators keep their items in
//! `DIR/replicator.redb` (one table per component) and a restart serves
//! exactly the changes acknowledged before; without it they keep them in
//! memory only, and say so at start-up. `ChannelServiceXReplicator.Sync`
//! chooses when a change is acknowledged: `group` (default: synced to disk
//! first, concurrent changes sharing one sync), `call` (each call synced on
//! its own) or `none` (written without a sync; a crash may lose up to a
//! second of changes). A directory or database that cannot be used fails
//! start-up with the reason (exit 1); a change that cannot be stored fails
//! its call, and the process then stops (exit 1) with the reason, so that
//! a restart serves only what is stored.
//!
//! Redundant replicators: with `ReplicatorManagement.Endpoints` set, the
//! process is a member of the replicators' own replica group (see
//! `replicator::group`). It serves `Replica` (identity
//! `ReplicatorReplica`) on that management adapter and starts on standby:
//! it does not listen on `ChannelServiceXReplicator.Endpoints`, and follows
//! the active replicator named by `ChannelServiceXReplicator.StateReplicatorName`
//! (a proxy listing every replicator's endpoints, a moving address, or a
//! name resolved through the locator), keeping its own store (durable with
//! a DataDir) equal to the active one's and the list of listeners the
//! active one pushes to. `activate()` makes it serve the clients and push
//! to those listeners; `standby()` stops serving and follows again. Prints
//! `READY <client proxy> <management proxy>` once on standby. Without
//! `ReplicatorManagement.Endpoints` it is active alone from the start, as
//! before.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use ice_proto::adapter::ObjectAdapter;
use ice_proto::communicator::Communicator;
use ice_proto::encoding::Identity;
use ice_proto::proxy::ObjectPrx;
use replicator::channel_x::{cx, ReplicatorServant};
use replicator::cli;
use replicator::codec::IceCodec;
use replicator::durable::{DataDir, StoreError, SyncPolicy};
use replicator::{bridge_z, channel_x, group, paged, session_y, Config, Keyed, StateReplicator};

/// The ChannelServiceX State Replicator server.
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    after_help = "Ice properties: --Ice.Config=FILE, --ChannelServiceXReplicator.Endpoints=..., \
--ChannelServiceXReplicator.DataDir=DIR (durable state; unset: memory only), \
--ChannelServiceXReplicator.Sync=group|call|none (default group), \
--Replicator.Identity=NAME (default ChannelServiceXStateReplicator), \
--ReplicatorManagement.Endpoints=... (a member of a replicator group: starts on standby, serves Replica \
as ReplicatorReplica), --ChannelServiceXReplicator.StateReplicatorName=PROXY (the group's active replicator)"
)]
struct Args {}

/// Embedded defaults.
const DEFAULTS: &[(&str, &str)] = &[
    (
        "ChannelServiceXReplicator.Endpoints",
        "tcp -h 127.0.0.1 -p 4061",
    ),
    ("Replicator.Identity", "ChannelServiceXStateReplicator"),
];

/// The adapter whose properties configure the replicators.
const ADAPTER: &str = "ChannelServiceXReplicator";

/// Where the replicators keep their state.
struct Storage {
    dir: Option<DataDir>,
    policy: SyncPolicy,
}

impl Storage {
    /// From `<ADAPTER>.DataDir` and `<ADAPTER>.Sync`.
    fn from_properties(props: &ice_proto::properties::Properties) -> Result<Self, StoreError> {
        let policy = SyncPolicy::parse(
            props
                .get_property(&format!("{ADAPTER}.Sync"))
                .unwrap_or("group"),
        )
        .map_err(|e| StoreError::Config {
            reason: format!("{ADAPTER}.Sync: {e}"),
        })?;
        let dir = match props
            .get_property(&format!("{ADAPTER}.DataDir"))
            .filter(|d| !d.trim().is_empty())
        {
            Some(d) => {
                let dir = DataDir::open(std::path::Path::new(d.trim()))?;
                tracing::info!(file = %dir.path().display(), ?policy, "durable state");
                Some(dir)
            }
            None => {
                tracing::info!(
                    "{ADAPTER}.DataDir is not set: state is kept in memory only and lost when this process stops"
                );
                None
            }
        };
        Ok(Self { dir, policy })
    }

    /// The replicator of one component, loaded from its table when durable.
    fn replicator<I: Keyed, S>(
        &self,
        table: &str,
        to_seq: fn(&[I]) -> S,
        from_seq: fn(S) -> Vec<I>,
    ) -> Result<StateReplicator<I>, StoreError>
    where
        I::Key: ice_proto::codegen::Encode,
        S: ice_proto::codegen::Encode + ice_proto::codegen::Decode + 'static,
    {
        let Some(dir) = &self.dir else {
            return Ok(StateReplicator::default());
        };
        let codec = IceCodec::new(to_seq, from_seq, replicator::generated::ice_registry());
        let durable = dir.load(table, Arc::new(codec), self.policy)?;
        let r = StateReplicator::with_store(Config::default(), durable);
        tracing::info!(table, items = r.len(), "state loaded");
        Ok(r)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    cli::init_logging();
    let (props, rest) =
        match cli::properties_from_args(std::env::args().skip(1).collect(), DEFAULTS) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("scf-replicator: {e}");
                return ExitCode::from(1);
            }
        };
    let _args = Args::parse_from(std::iter::once("scf-replicator".to_owned()).chain(rest));
    let identity = props
        .get_property("Replicator.Identity")
        .unwrap_or("ChannelServiceXStateReplicator")
        .to_owned();
    let storage = match Storage::from_properties(&props) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scf-replicator: {e}");
            return ExitCode::from(1);
        }
    };
    let stores = (|| {
        Ok::<_, StoreError>((
            storage.replicator(
                "ChannelServiceX",
                channel_x::glue::Item::to_seq,
                channel_x::glue::Item::from_seq,
            )?,
            storage.replicator(
                "SessionServiceY",
                session_y::glue::Item::to_seq,
                session_y::glue::Item::from_seq,
            )?,
            storage.replicator(
                "BridgeServiceZ",
                bridge_z::glue::Item::to_seq,
                bridge_z::glue::Item::from_seq,
            )?,
        ))
    })();
    let (channel_core, session_core, bridge_core) = match stores {
        Ok(s) => s,
        Err(e) => {
            eprintln!("scf-replicator: {e}");
            return ExitCode::from(1);
        }
    };
    let communicator = Communicator::new(props.clone());
    let cores = Cores {
        channel: channel_core,
        session: session_core,
        bridge: bridge_core,
        identity,
        communicator: communicator.clone(),
    };
    let management = props
        .get_property(&format!("{MANAGEMENT}.Endpoints"))
        .filter(|e| !e.trim().is_empty())
        .is_some();
    // Held until shutdown: dropping the adapter does not stop it, but the
    // group keeps its own.
    let mut _served = None;
    let mut _group = None;
    if management {
        match standby_member(&props, &cores).await {
            Ok((group, replica_prx, client_proxy)) => {
                println!(
                    "READY\t{client_proxy}\t{}",
                    communicator.proxy_to_string(&replica_prx)
                );
                tracing::info!(management = %communicator.proxy_to_string(&replica_prx), "on standby in a replicator group");
                _group = Some(group);
            }
            Err(e) => {
                eprintln!("scf-replicator: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        match cores.serve().await {
            Ok((adapter, proxy)) => {
                println!("READY\t{}", communicator.proxy_to_string(&proxy));
                tracing::info!(proxy = %communicator.proxy_to_string(&proxy), "serving");
                _served = Some(adapter);
            }
            Err(e) => {
                eprintln!("scf-replicator: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let store_failed = async {
        match &storage.dir {
            Some(d) => d.failure().await,
            None => std::future::pending().await,
        }
    };
    let mut status = ExitCode::SUCCESS;
    tokio::select! {
        () = cli::shutdown_signal() => tracing::info!("signal received, shutting down"),
        () = communicator.wait_for_shutdown() => {}
        e = store_failed => {
            // What is in memory may no longer match the store: stop, so that
            // a restart serves what is stored and the members restore the rest.
            tracing::error!(error = %e, "the state store failed; stopping");
            eprintln!("scf-replicator: the state store failed: {e}");
            status = ExitCode::from(1);
        }
    }
    communicator.destroy().await;
    status
}

/// The adapter of the replicators' group membership.
const MANAGEMENT: &str = "ReplicatorManagement";

/// The replicators' cores, and how they are served.
#[derive(Clone)]
struct Cores {
    channel: StateReplicator<channel_x::glue::Item>,
    session: StateReplicator<session_y::glue::Item>,
    bridge: StateReplicator<bridge_z::glue::Item>,
    /// The ChannelServiceX replicator's identity.
    identity: String,
    communicator: Communicator,
}

fn identity(name: &str) -> Identity {
    Identity {
        name: name.to_owned(),
        category: String::new(),
    }
}

/// A component's glue, as the group needs it.
macro_rules! glue {
    ($module:ident, $component:literal) => {
        group::Glue {
            component: $component,
            to_seq: $module::glue::Item::to_seq,
            from_seq: $module::glue::Item::from_seq,
            registry: replicator::generated::ice_registry(),
            listener: $module::glue::ListenerProxy::new,
        }
    };
}

impl Cores {
    /// Creates the client adapter with every replicator (and their
    /// `paged` and `group` facets), activates it and registers it with
    /// the locator if configured.
    async fn serve(&self) -> Result<(ObjectAdapter, ObjectPrx), String> {
        let communicator = &self.communicator;
        let adapter = communicator
            .create_object_adapter(ADAPTER)
            .await
            .map_err(|e| format!("cannot create adapter {ADAPTER}: {e}"))?;
        // Each replicator also serves its state in pages, on facet `paged`
        // of its identity (see `replicator::paged`), and its followers on
        // facet `group` (see `replicator::group`).
        let channel_id = identity(&self.identity);
        adapter.add_facet(
            paged::servant(self.channel.clone(), channel_x::glue::Item::to_seq),
            channel_id.clone(),
            paged::FACET,
        );
        adapter.add_facet(
            group::LeaderServant::servant(
                self.channel.clone(),
                glue!(channel_x, "ChannelServiceX"),
                communicator.clone(),
            ),
            channel_id.clone(),
            group::FACET,
        );
        let servant = ReplicatorServant::new(self.channel.clone(), communicator.clone());
        let proxy = adapter.add(
            cx::ChannelServiceXStateReplicatorServant::new(servant),
            channel_id,
        );
        adapter.add_facet(
            paged::servant(self.session.clone(), session_y::glue::Item::to_seq),
            identity(SESSION_ID),
            paged::FACET,
        );
        adapter.add_facet(
            group::LeaderServant::servant(
                self.session.clone(),
                glue!(session_y, "SessionServiceY"),
                communicator.clone(),
            ),
            identity(SESSION_ID),
            group::FACET,
        );
        adapter.add(
            session_y::glue::ReplicatorServant::new(self.session.clone(), communicator.clone())
                .into_dispatcher(),
            identity(SESSION_ID),
        );
        adapter.add_facet(
            paged::servant(self.bridge.clone(), bridge_z::glue::Item::to_seq),
            identity(BRIDGE_ID),
            paged::FACET,
        );
        adapter.add_facet(
            group::LeaderServant::servant(
                self.bridge.clone(),
                glue!(bridge_z, "BridgeServiceZ"),
                communicator.clone(),
            ),
            identity(BRIDGE_ID),
            group::FACET,
        );
        adapter.add(
            bridge_z::glue::ReplicatorServant::new(self.bridge.clone(), communicator.clone())
                .into_dispatcher(),
            identity(BRIDGE_ID),
        );
        if let Err(e) = adapter.activate_and_register().await {
            adapter.destroy().await;
            return Err(format!(
                "cannot register adapter {ADAPTER} with the locator: {e}"
            ));
        }
        Ok((adapter, proxy))
    }
}

const SESSION_ID: &str = "SessionServiceYStateReplicator";
const BRIDGE_ID: &str = "BridgeServiceZStateReplicator";

/// Serves `Replica` on the management adapter and follows the active
/// replicator named by `<ADAPTER>.StateReplicatorName`, on standby.
/// Returns the group, the `Replica` proxy and the proxy clients use.
async fn standby_member(
    props: &ice_proto::properties::Properties,
    cores: &Cores,
) -> Result<(group::Group, ObjectPrx, String), String> {
    let communicator = &cores.communicator;
    let name_property = format!("{ADAPTER}.StateReplicatorName");
    let name = props
        .get_property(&name_property)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            format!(
                "{MANAGEMENT}.Endpoints is set, so {name_property} must name the active replicator"
            )
        })?;
    let active = match communicator.string_to_proxy(name.trim()) {
        Ok(Some(p)) => p.ice_invocation_timeout(Some(std::time::Duration::from_secs(5))),
        _ => return Err(format!("{name_property}: `{name}` is not a valid proxy")),
    };
    let management = communicator
        .create_object_adapter(MANAGEMENT)
        .await
        .map_err(|e| format!("cannot create adapter {MANAGEMENT}: {e}"))?;
    let of = |id: &str| active.clone().ice_identity(identity(id));
    let channel = group::Follower::new(cores.channel.clone(), glue!(channel_x, "ChannelServiceX"));
    let session = group::Follower::new(cores.session.clone(), glue!(session_y, "SessionServiceY"));
    let bridge = group::Follower::new(cores.bridge.clone(), glue!(bridge_z, "BridgeServiceZ"));
    let mut followers: Vec<(Box<dyn group::Follows>, ObjectPrx)> = Vec::new();
    let prx = management.add(channel.servant(), identity("ChannelServiceXFollower"));
    channel.set_proxy(communicator.proxy_to_string(&prx));
    followers.push((Box::new(channel), of(&cores.identity)));
    let prx = management.add(session.servant(), identity("SessionServiceYFollower"));
    session.set_proxy(communicator.proxy_to_string(&prx));
    followers.push((Box::new(session), of(SESSION_ID)));
    let prx = management.add(bridge.servant(), identity("BridgeServiceZFollower"));
    bridge.set_proxy(communicator.proxy_to_string(&prx));
    followers.push((Box::new(bridge), of(BRIDGE_ID)));
    let serving = cores.clone();
    let serve: group::Serve = Arc::new(move || {
        let cores = serving.clone();
        Box::pin(async move { cores.serve().await.map(|(adapter, _)| adapter) })
    });
    let client_proxy = format!(
        "{}:{}",
        cores.identity,
        props
            .get_property(&format!("{ADAPTER}.Endpoints"))
            .unwrap_or_default()
    );
    let group = group::Group::start_standby(followers, serve, communicator.clone());
    let replica_prx = management.add(group.replica(), identity("ReplicatorReplica"));
    management
        .activate_and_register()
        .await
        .map_err(|e| format!("cannot register adapter {MANAGEMENT} with the locator: {e}"))?;
    Ok((group, replica_prx, client_proxy))
}

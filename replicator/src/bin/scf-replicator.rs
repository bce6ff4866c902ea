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

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use ice_proto::communicator::Communicator;
use ice_proto::encoding::Identity;
use replicator::channel_x::{cx, ReplicatorServant};
use replicator::cli;
use replicator::codec::IceCodec;
use replicator::durable::{DataDir, StoreError, SyncPolicy};
use replicator::{bridge_z, channel_x, paged, session_y, Config, Keyed, StateReplicator};

/// The ChannelServiceX State Replicator server.
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    after_help = "Ice properties: --Ice.Config=FILE, --ChannelServiceXReplicator.Endpoints=..., \
--ChannelServiceXReplicator.DataDir=DIR (durable state; unset: memory only), \
--ChannelServiceXReplicator.Sync=group|call|none (default group), \
--Replicator.Identity=NAME (default ChannelServiceXStateReplicator)"
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
    let communicator = Communicator::new(props);
    let adapter = match communicator
        .create_object_adapter("ChannelServiceXReplicator")
        .await
    {
        Ok(a) => a,
        Err(e) => {
            eprintln!("scf-replicator: cannot create adapter ChannelServiceXReplicator: {e}");
            return ExitCode::from(1);
        }
    };
    // Each replicator also serves its state in pages, on facet `paged`
    // of its identity (see `replicator::paged`).
    let channel_id = Identity {
        name: identity,
        category: String::new(),
    };
    adapter.add_facet(
        paged::servant(channel_core.clone(), channel_x::glue::Item::to_seq),
        channel_id.clone(),
        paged::FACET,
    );
    let servant = ReplicatorServant::new(channel_core, communicator.clone());
    let proxy = adapter.add(
        cx::ChannelServiceXStateReplicatorServant::new(servant),
        channel_id,
    );
    let identity = |name: &str| Identity {
        name: name.to_owned(),
        category: String::new(),
    };
    adapter.add_facet(
        paged::servant(session_core.clone(), session_y::glue::Item::to_seq),
        identity("SessionServiceYStateReplicator"),
        paged::FACET,
    );
    adapter.add(
        session_y::glue::ReplicatorServant::new(session_core, communicator.clone())
            .into_dispatcher(),
        identity("SessionServiceYStateReplicator"),
    );
    adapter.add_facet(
        paged::servant(bridge_core.clone(), bridge_z::glue::Item::to_seq),
        identity("BridgeServiceZStateReplicator"),
        paged::FACET,
    );
    adapter.add(
        bridge_z::glue::ReplicatorServant::new(bridge_core, communicator.clone()).into_dispatcher(),
        identity("BridgeServiceZStateReplicator"),
    );
    if let Err(e) = adapter.activate_and_register().await {
        eprintln!(
            "scf-replicator: cannot register adapter ChannelServiceXReplicator with the locator: {e}"
        );
        return ExitCode::from(1);
    }
    println!("READY\t{}", communicator.proxy_to_string(&proxy));
    tracing::info!(proxy = %communicator.proxy_to_string(&proxy), "serving");
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

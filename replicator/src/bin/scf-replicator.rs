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

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use ice_proto::communicator::Communicator;
use ice_proto::encoding::Identity;
use replicator::channel_x::{cx, ReplicatorServant};
use replicator::cli;
use replicator::{bridge_z, session_y, StateReplicator};

/// The ChannelServiceX State Replicator server.
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    after_help = "Ice properties: --Ice.Config=FILE, --ChannelServiceXReplicator.Endpoints=..., \
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
    let servant = ReplicatorServant::new(StateReplicator::default(), communicator.clone());
    let proxy = adapter.add(
        Arc::new(cx::ChannelServiceXStateReplicatorServant(Arc::new(servant))),
        Identity {
            name: identity,
            category: String::new(),
        },
    );
    let identity = |name: &str| Identity {
        name: name.to_owned(),
        category: String::new(),
    };
    adapter.add(
        session_y::glue::ReplicatorServant::new(StateReplicator::default(), communicator.clone())
            .into_dispatcher(),
        identity("SessionServiceYStateReplicator"),
    );
    adapter.add(
        bridge_z::glue::ReplicatorServant::new(StateReplicator::default(), communicator.clone())
            .into_dispatcher(),
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
    tokio::select! {
        () = cli::shutdown_signal() => tracing::info!("signal received, shutting down"),
        () = communicator.wait_for_shutdown() => {}
    }
    communicator.destroy().await;
    ExitCode::SUCCESS
}

//! A replica group in one process: a State Replicator, two members of the
//! SessionServiceY component (its Slice and the glue slice2rs generates
//! from it are in this crate), one active and one standby; the active one
//! changes state, the standby follows, then they swap roles as a cluster
//! manager's `activate()` / `standby()` calls would make them.
//!
//! ```text
//! cargo run -p replicator --example replica_group
//! ```

use std::time::Duration;

use ice_proto::communicator::Communicator;
use ice_proto::encoding::Identity;
use ice_proto::properties::Properties;
use replicator::session_y::{glue, Sessions};
use replicator::StateReplicator;

fn id(name: &str) -> Identity {
    Identity {
        name: name.into(),
        category: String::new(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let communicator = Communicator::new(Properties::new());

    // The State Replicator: keeps the group's state, forwards each change.
    let adapter = communicator
        .create_object_adapter_with_endpoints("Replicator", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let store = StateReplicator::default();
    let servant = glue::ReplicatorServant::new(store.clone(), communicator.clone());
    let replicator = adapter.add(
        servant.into_dispatcher(),
        id("SessionServiceYStateReplicator"),
    );
    adapter.activate();

    // Two members start on standby: each registers its listener and
    // catches up with what the replicator holds.
    let listeners = communicator
        .create_object_adapter_with_endpoints("Listeners", "tcp -h 127.0.0.1 -p 0")
        .await?;
    listeners.activate();
    let a = Sessions::join(replicator.clone(), &listeners, id("a")).await?;
    let b = Sessions::join(replicator, &listeners, id("b")).await?;

    // A becomes active; each change is acknowledged by the replicator
    // before A applies it, and reaches B.
    a.member().activate().await?;
    a.start("s1", "alice", "bob").await?;
    a.start("s2", "carol", "dave").await?;
    a.answer("s1").await?;
    a.end("s2").await?;
    wait_until("B has A's state", || b.sessions() == a.sessions()).await?;
    println!("replicator holds {} item(s)", store.len());
    println!("standby B: {:?}", b.sessions());

    // Failover: A steps down, B takes over with the same state.
    a.member().standby().await?;
    b.member().activate().await?;
    b.start("s3", "erin", "frank").await?;
    wait_until("A follows B", || a.sessions() == b.sessions()).await?;
    println!("active B: {:?}", b.sessions().keys().collect::<Vec<_>>());

    communicator.destroy().await;
    Ok(())
}

/// Polls `done` for up to 5 s.
async fn wait_until(what: &str, done: impl Fn() -> bool) -> Result<(), String> {
    for _ in 0..500 {
        if done() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!("timed out waiting for {what}"))
}

//! The replicator is lost and restarted under writes, as processes: the
//! real `scf-replicator` (memory only) is SIGKILLed while a ZeroC Python
//! client keeps creating channels through the active `channel-service-x`,
//! then started again on the same port. Checks that the active member
//! refused (and did not apply) the changes made while the replicator was
//! away, restored the new replicator on its own, that the standby member
//! re-registered, and that the active member, the replicator and the
//! standby all hold exactly the acknowledged changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use interop_tests::peers::{Peer, CTL_ACTIVE};
use support::client::{listed_numbers, Client};
use support::{ctl, spawn_component, spawn_replicator, LOOPBACK_REPLICATOR};

const PREFIX: &str = "c";

/// The port of a proxy's `-p` option.
fn port_of(proxy: &str) -> u16 {
    let words: Vec<&str> = proxy.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "-p")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or_else(|| panic!("no port in {proxy}"))
}

/// The numbers of the channels the member at `service` lists.
fn held(service: &str) -> BTreeSet<u64> {
    listed_numbers(service, PREFIX, &[])
}

#[test]
fn a_replicator_restart_is_restored_by_the_members_with_exactly_the_acknowledged_changes() {
    let mut replicator = spawn_replicator(&[LOOPBACK_REPLICATOR.to_owned()]);
    let proxy = replicator.proxy(0).to_owned();
    let port = port_of(&proxy);
    let a = spawn_component("rust-active", &proxy, &[]);
    let b = spawn_component("rust-standby", &proxy, &[]);
    assert_eq!(ctl("activate", a.proxy(1), &[]), Some(CTL_ACTIVE));

    let mut client = Client::start(None, a.proxy(0), PREFIX, &[]);
    client.wait_acks(50, Duration::from_secs(30));

    // Lost: every change is refused, and none is applied by the active.
    replicator.kill();
    client.wait_retry(Duration::from_secs(20));
    client.wait_retry(Duration::from_secs(20));
    let refused = *client.retried.last().unwrap();
    let during = held(a.proxy(0));
    assert!(
        !during.contains(&refused),
        "the active member applied channel {refused}, whose caller was told it failed"
    );
    let acked: BTreeSet<u64> = client.acked.iter().copied().collect();
    assert_eq!(during, acked, "the active holds exactly the acknowledged");

    // Back on the same port, empty: the members restore it on their own.
    let restarted_at = Instant::now();
    let endpoints = format!("--ChannelServiceXReplicator.Endpoints=tcp -h 127.0.0.1 -p {port}");
    let _replicator = spawn_replicator(&[endpoints]);
    client.wait_acks(50, Duration::from_secs(30));
    eprintln!(
        "changes accepted again {:?} after the replicator restarted ({} calls refused meanwhile)",
        restarted_at.elapsed(),
        client.retries
    );
    let last = client.stop();
    let acked: BTreeSet<u64> = client.acked.iter().copied().collect();
    assert_eq!(
        acked,
        (1..=last).collect(),
        "every channel acknowledged once"
    );

    // The standby registered again on its own (its log says so).
    assert!(
        b.stderr().contains("listener registered again"),
        "the standby did not register again: {}",
        b.stderr()
    );
    assert!(
        a.stderr()
            .contains("connection to the state replicator lost")
            && a.stderr().contains("state replicator reachable again"),
        "the active member logged the loss and the recovery: {}",
        a.stderr()
    );

    // A late member catches up from the replicator alone: its state is the
    // replicator's.
    let late = spawn_component("rust-late", &proxy, &[]);
    let active = held(a.proxy(0));
    assert_eq!(active, acked, "active member");
    // Pushes are asynchronous: give the standby a moment, then fail over.
    std::thread::sleep(Duration::from_millis(500));
    drop(a);
    assert_eq!(ctl("activate", b.proxy(1), &[]), Some(CTL_ACTIVE));
    assert_eq!(held(b.proxy(0)), acked, "standby member after failover");
    assert_eq!(ctl("activate", late.proxy(1), &[]), Some(CTL_ACTIVE));
    assert_eq!(
        held(late.proxy(0)),
        acked,
        "replicator (through a late member)"
    );
    drop::<Peer>(late);
}

//! Redundant replicators, as processes: two `scf-replicator` form a
//! replica group (the second durable), one active and one following it on
//! standby; the components reach the active one through a proxy that
//! lists both replicators' endpoints (a standby replicator does not
//! listen, as a moving address would not point at it). The group: an
//! active Rust `channel-service-x`, a Rust standby member and a ZeroC C++
//! standby member speaking encoding 1.0 (a mixed-version group). A ZeroC
//! Python client keeps creating channels through the active member; the
//! active replicator is SIGKILLed mid-stream and the standby replicator
//! promoted with `replica-ctl`, as a cluster manager would.
//!
//! Checks: the active member's calls never block longer than the client's
//! 1 s invocation timeout (every failure is a fast refusal); every
//! acknowledged channel, and nothing else, is then held by the active
//! member, by the new active replicator (read through a member that joins
//! after the switch), by the C++ standby (which never registers again:
//! the new replicator pushes to it because it took over the old one's
//! listeners) and by the Rust standby after a member failover. Prints the
//! replicator failover time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use interop_tests::golden::Encoding;
use interop_tests::peers::{bins, is_change, replay, with_encoding, Peer, CTL_ACTIVE};
use support::client::{listed_numbers, Client};
use support::{ctl, free_service_port, spawn_component, spawn_replicator, Scratch};

const PREFIX: &str = "p";
const LONG: Duration = Duration::from_secs(60);

/// Two different free ports for the replicators' client address.
fn two_ports() -> (u16, u16) {
    let pa = free_service_port();
    loop {
        let pb = free_service_port();
        if pb != pa {
            return (pa, pb);
        }
    }
}

fn loopback(port: u16) -> String {
    format!("tcp -h 127.0.0.1 -p {port}")
}

/// A replicator of the group, on standby, serving clients on `port` once
/// active; `group` is the proxy of whichever replicator is active.
fn group_replicator(port: u16, group: &str, extra: &[String]) -> Peer {
    let mut args = vec![
        format!("--ChannelServiceXReplicator.Endpoints={}", loopback(port)),
        format!("--ChannelServiceXReplicator.StateReplicatorName={group}"),
        "--ReplicatorManagement.Endpoints=tcp -h 127.0.0.1 -p 0".to_owned(),
    ];
    args.extend_from_slice(extra);
    spawn_replicator(&args)
}

/// Waits until `peer`'s log holds `text` `times` times.
fn wait_log(peer: &Peer, text: &str, times: usize, limit: Duration) {
    let start = Instant::now();
    while peer.stderr().matches(text).count() < times {
        assert!(
            start.elapsed() < limit,
            "{}: no `{text}` ({times}x) in its log: {}",
            peer.name(),
            peer.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The channel numbers in a C++ component's dump.
fn cpp_held(peer: &mut Peer) -> BTreeSet<u64> {
    peer.dump()
        .unwrap()
        .iter()
        .filter_map(|l| l.strip_prefix("ITEM "))
        .map(|l| {
            let key = l.split(' ').next().unwrap();
            key.strip_prefix(PREFIX).unwrap().parse().unwrap()
        })
        .collect()
}

fn held(service: &str) -> BTreeSet<u64> {
    listed_numbers(service, PREFIX, &[])
}

#[test]
fn a_standby_replicator_takes_over_with_every_acknowledged_change_and_the_listeners() {
    let scratch = Scratch::new("replicator-pair");
    let (pa, pb) = two_ports();
    let group = format!(
        "ChannelServiceXStateReplicator:{}:{}",
        loopback(pa),
        loopback(pb)
    );
    let mut first = group_replicator(pa, &group, &[]);
    let second = group_replicator(
        pb,
        &group,
        &[format!(
            "--ChannelServiceXReplicator.DataDir={}",
            scratch.path.display()
        )],
    );
    assert_eq!(ctl("activate", first.proxy(1), &[]), Some(CTL_ACTIVE));
    assert_eq!(ctl("status", second.proxy(1), &[]), Some(3), "on standby");
    // One follower per component served.
    wait_log(&second, "following the active replicator", 3, LONG);

    let a = spawn_component("rust-active", &group, &[]);
    let b = spawn_component("rust-standby", &group, &[]);
    let mut c = Peer::spawn(
        "cpp-standby-1.0",
        &bins().component,
        &with_encoding(
            Encoding::V1_0,
            vec![format!("--ChannelServiceX.StateReplicatorName={group}")],
        ),
    )
    .unwrap();
    assert_eq!(ctl("activate", a.proxy(1), &[]), Some(CTL_ACTIVE));

    let mut client = Client::start(None, a.proxy(0), PREFIX, &[]);
    client.wait_acks(150, LONG);

    // The active replicator dies mid-stream; the cluster manager notices
    // and promotes the standby one.
    first.kill();
    let killed = Instant::now();
    client.wait_retry(Duration::from_secs(20));
    let detected = killed.elapsed();
    let promoted = Instant::now();
    assert_eq!(ctl("activate", second.proxy(1), &[]), Some(CTL_ACTIVE));
    let activated = promoted.elapsed();
    let acks_before = client.acked.len();
    client.wait_acks(1, Duration::from_secs(20));
    let first_ack = promoted.elapsed();
    eprintln!(
        "replicator failover: promoted {detected:?} after the kill; activate answered in \
         {activated:?}; first acknowledged change {first_ack:?} after the promotion; {} calls \
         refused meanwhile",
        client.retries
    );
    assert_eq!(acks_before + 1, client.acked.len());
    client.wait_acks(150, LONG);
    let last = client.stop();
    let acked: BTreeSet<u64> = client.acked.iter().copied().collect();
    assert_eq!(
        acked,
        (1..=last).collect(),
        "every channel acknowledged once"
    );
    assert!(
        !client_timeouts(&client),
        "a call of the active member blocked until the client's 1 s timeout"
    );

    // The new active replicator pushes to the standby members the old one
    // had; the Rust one also registered again on its own.
    wait_log(&second, "replicator activated", 1, LONG);
    assert!(
        a.stderr().contains("state replicator reachable again"),
        "the active member restored the new replicator: {}",
        a.stderr()
    );
    assert_eq!(held(a.proxy(0)), acked, "active member");
    let late = spawn_component("rust-late", &group, &[]);
    // Pushes are asynchronous: let them land.
    let start = Instant::now();
    let mut cpp = cpp_held(&mut c);
    while cpp != acked && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
        cpp = cpp_held(&mut c);
    }
    assert_eq!(cpp, acked, "C++ standby member (encoding 1.0)");

    drop(a);
    assert_eq!(ctl("activate", b.proxy(1), &[]), Some(CTL_ACTIVE));
    assert_eq!(
        held(b.proxy(0)),
        acked,
        "Rust standby member after failover"
    );
    drop(b);
    assert_eq!(ctl("activate", late.proxy(1), &[]), Some(CTL_ACTIVE));
    assert_eq!(
        held(late.proxy(0)),
        acked,
        "the new active replicator (through a member that joined after the switch)"
    );
}

/// Whether any failed call of the client timed out (rather than being
/// refused at once).
fn client_timeouts(client: &Client) -> bool {
    client.retry_reasons.iter().any(|r| r.contains("Timeout"))
}

/// A ZeroC C++ active component (which re-pushes nothing to a new
/// replicator): everything the killed replicator acknowledged is in the
/// standby replicator, because a change is acknowledged only once the
/// follower applied it. The replicator is killed the moment the last
/// change is acknowledged.
#[test]
fn a_standby_replicator_holds_every_change_the_active_one_acknowledged() {
    let scratch = Scratch::new("replicator-pair-cpp");
    let (pa, pb) = two_ports();
    let group = format!(
        "ChannelServiceXStateReplicator:{}:{}",
        loopback(pa),
        loopback(pb)
    );
    let mut first = group_replicator(pa, &group, &[]);
    let second = group_replicator(
        pb,
        &group,
        &[format!(
            "--ChannelServiceXReplicator.DataDir={}",
            scratch.path.display()
        )],
    );
    assert_eq!(ctl("activate", first.proxy(1), &[]), Some(CTL_ACTIVE));
    wait_log(&second, "following the active replicator", 3, LONG);
    let mut active = Peer::spawn(
        "cpp-active",
        &bins().component,
        &[format!("--ChannelServiceX.StateReplicatorName={group}")],
    )
    .unwrap();
    assert_eq!(ctl("activate", active.proxy(1), &[]), Some(CTL_ACTIVE));
    let (lines, done) = active.command("changes 400", "DONE", LONG).unwrap();
    first.kill();
    assert!(done.starts_with("DONE"), "{done}");
    let changes: Vec<String> = lines.into_iter().filter(|l| is_change(l)).collect();
    assert!(changes.len() >= 400, "{} change lines", changes.len());

    assert_eq!(ctl("activate", second.proxy(1), &[]), Some(CTL_ACTIVE));
    let late = spawn_component("rust-late", &group, &[]);
    drop(active);
    assert_eq!(ctl("activate", late.proxy(1), &[]), Some(CTL_ACTIVE));
    assert_eq!(
        support::client_dump(late.proxy(0), &[]),
        replay(&changes).unwrap(),
        "the promoted replicator holds exactly the acknowledged changes"
    );
}

/// A standby replicator that hangs (SIGSTOP) is dropped by the active one
/// after a push times out, so the active member's changes go on; once it
/// runs again (SIGCONT) it learns it was dropped, follows again and
/// catches up, and taking over later it holds every acknowledged change.
#[test]
fn a_hung_standby_replicator_is_dropped_then_follows_again() {
    let (pa, pb) = two_ports();
    let group = format!(
        "ChannelServiceXStateReplicator:{}:{}",
        loopback(pa),
        loopback(pb)
    );
    let mut first = group_replicator(pa, &group, &[]);
    let second = group_replicator(pb, &group, &[]);
    assert_eq!(ctl("activate", first.proxy(1), &[]), Some(CTL_ACTIVE));
    wait_log(&second, "following the active replicator", 3, LONG);
    let a = spawn_component("rust-active", &group, &[]);
    assert_eq!(ctl("activate", a.proxy(1), &[]), Some(CTL_ACTIVE));
    let mut client = Client::start(None, a.proxy(0), PREFIX, &[]);
    client.wait_acks(50, LONG);

    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &second.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    // Changes go on once the active replicator dropped the hung follower.
    client.wait_acks(100, LONG);
    signal("-CONT");
    wait_log(
        &second,
        "the active replicator dropped this follower",
        1,
        LONG,
    );
    wait_log(&second, "following the active replicator", 4, LONG);
    client.wait_acks(50, LONG);
    let last = client.stop();
    let acked: BTreeSet<u64> = client.acked.iter().copied().collect();
    assert_eq!(
        acked,
        (1..=last).collect(),
        "every channel acknowledged once"
    );

    first.kill();
    assert_eq!(
        ctl("activate", second.proxy(1), &[]),
        Some(CTL_ACTIVE),
        "{}",
        second.stderr()
    );
    let late = spawn_component("rust-late", &group, &[]);
    drop(a);
    assert_eq!(ctl("activate", late.proxy(1), &[]), Some(CTL_ACTIVE));
    assert_eq!(
        held(late.proxy(0)),
        acked,
        "the standby replicator, dropped and following again, took over with every change"
    );
}

//! Interop of the Rust replicator, component and `replica-ctl` with the
//! ZeroC Ice C++ peers (`tests/peers`) and the Python management scripts,
//! in encodings 1.1 and 1.0.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use interop_tests::golden::Encoding;
use interop_tests::peers::{
    self, bins, channel_client, encoding_args, is_change, replica_ctl, with_encoding as with_enc,
    Peer, CLIENT_NOT_ACTIVE, CTL_ACTIVE, CTL_STANDBY, CTL_UNREACHABLE,
};
use support::{COMPONENT, LOOPBACK_REPLICATOR};

const LONG: Duration = Duration::from_secs(60);

fn rust_replicator(enc: Encoding) -> Peer {
    support::spawn_replicator(&with_enc(enc, vec![LOOPBACK_REPLICATOR.to_owned()]))
}

fn rust_component(name: &str, replicator: &str, enc: Encoding) -> Peer {
    support::spawn_component(name, replicator, &encoding_args(enc))
}

fn cpp_component(name: &str, replicator: &str, enc: Encoding) -> Peer {
    let args = with_enc(
        enc,
        vec![format!(
            "--ChannelServiceX.StateReplicatorName={replicator}"
        )],
    );
    Peer::spawn(name, &bins().component, &args).unwrap()
}

fn cpp_listener(name: &str, replicator: &str, enc: Encoding) -> Peer {
    let args = with_enc(
        enc,
        vec![format!("--Listener.StateReplicatorName={replicator}")],
    );
    Peer::spawn(name, &bins().listener, &args).unwrap()
}

fn py_ctl(command: &str, proxy: &str, enc: Encoding) -> Option<i32> {
    let out = replica_ctl(command, proxy, &encoding_args(enc)).unwrap();
    eprintln!(
        "replica_ctl.py {command}: {:?} {:?}",
        out.code,
        out.stderr.trim()
    );
    out.code
}

fn rust_ctl(command: &str, proxy: &str, enc: Encoding) -> Option<i32> {
    support::ctl(command, proxy, &encoding_args(enc))
}

/// `channel_client.py dump` of a member's service: ITEM lines before END.
fn client_dump(service: &str, enc: Encoding) -> Vec<String> {
    support::client_dump(service, &encoding_args(enc))
}

/// Runs `changes n` on a C++ component and returns its change lines.
fn cpp_changes(peer: &mut Peer, n: usize) -> Vec<String> {
    let (lines, done) = peer.command(&format!("changes {n}"), "DONE", LONG).unwrap();
    assert!(done.starts_with("DONE"), "{done}");
    lines.into_iter().filter(|l| is_change(l)).collect()
}

fn changes_from(peer: &mut Peer, n: usize) -> Vec<String> {
    peer.changes(n, LONG).unwrap()
}

/// The store a stream of SET/REMOVED lines leads to, as dump lines.
fn replay(lines: &[String]) -> Vec<String> {
    peers::replay(lines).unwrap()
}

/// A C++ active component pushes through the Rust replicator to a C++
/// standby listener and a Rust standby member; both see every change in
/// order. `replica_ctl.py` drives the Rust member, `replica-ctl` the C++ one.
fn cpp_active_through_rust_replicator(enc: Encoding) {
    let started = Instant::now();
    let replicator = rust_replicator(enc);
    let rproxy = replicator.proxy(0).to_owned();
    let mut active = cpp_component("cpp-active", &rproxy, enc);
    let mut listener = cpp_listener("cpp-listener", &rproxy, enc);
    let standby = rust_component("rust-standby", &rproxy, enc);

    // replica-ctl (Rust) drives the C++ component's Replica.
    assert_eq!(rust_ctl("status", active.proxy(1), enc), Some(CTL_STANDBY));
    assert_eq!(rust_ctl("activate", active.proxy(1), enc), Some(CTL_ACTIVE));
    assert_eq!(rust_ctl("status", active.proxy(1), enc), Some(CTL_ACTIVE));

    let changes = cpp_changes(&mut active, 600);
    assert!(changes.len() >= 600, "{}", changes.len());
    assert!(changes.iter().any(|l| l.starts_with("REMOVED ")));
    // The C++ listener received every change, in order.
    assert_eq!(changes_from(&mut listener, changes.len()), changes);
    let want = active.dump().unwrap();
    assert_eq!(replay(&changes), want);

    // replica_ctl.py (ZeroC Python) drives the Rust member.
    assert_eq!(py_ctl("status", standby.proxy(1), enc), Some(CTL_STANDBY));
    let out = channel_client(standby.proxy(0), &["list"], &encoding_args(enc)).unwrap();
    assert_eq!(out.code, Some(CLIENT_NOT_ACTIVE), "{out:?}");
    assert_eq!(py_ctl("activate", standby.proxy(1), enc), Some(CTL_ACTIVE));
    assert_eq!(py_ctl("status", standby.proxy(1), enc), Some(CTL_ACTIVE));
    assert_eq!(client_dump(standby.proxy(0), enc), want);
    assert_eq!(py_ctl("standby", standby.proxy(1), enc), Some(0));
    assert_eq!(py_ctl("status", standby.proxy(1), enc), Some(CTL_STANDBY));

    assert_eq!(rust_ctl("standby", active.proxy(1), enc), Some(0));
    assert_eq!(rust_ctl("status", active.proxy(1), enc), Some(CTL_STANDBY));
    let encs = listener.encodings().unwrap();
    let wanted = match enc {
        Encoding::V1_0 => "1.0",
        Encoding::V1_1 => "1.1",
    };
    assert!(
        encs.iter().any(|e| e.contains(wanted)),
        "listener saw encodings {encs:?}"
    );
    eprintln!(
        "{enc:?}: {} changes through the Rust replicator in {:?}",
        changes.len(),
        started.elapsed()
    );
}

#[test]
fn cpp_active_through_rust_replicator_encoding_1_1() {
    cpp_active_through_rust_replicator(Encoding::V1_1);
}

#[test]
fn cpp_active_through_rust_replicator_encoding_1_0() {
    cpp_active_through_rust_replicator(Encoding::V1_0);
}

/// A Rust active member pushes through the C++ replicator peer to a Rust
/// standby and a C++ listener.
fn rust_active_through_cpp_replicator(enc: Encoding) {
    let replicator = Peer::spawn(
        "cpp-replicator",
        &bins().replicator,
        &with_enc(enc, Vec::new()),
    )
    .unwrap();
    let rproxy = replicator.proxy(0).to_owned();
    let a = rust_component("rust-a", &rproxy, enc);
    let b = rust_component("rust-b", &rproxy, enc);
    let mut listener = cpp_listener("cpp-listener", &rproxy, enc);
    assert_eq!(rust_ctl("activate", a.proxy(1), enc), Some(CTL_ACTIVE));
    let ext = encoding_args(enc);
    let mut expected = 0;
    for i in 0..20 {
        let id = format!("ch{i:02}");
        let out = channel_client(a.proxy(0), &["create", &id, &format!("sip:{id}")], &ext).unwrap();
        assert_eq!(out.code, Some(0), "{out:?}");
        expected += 1;
        if i % 3 == 0 {
            let out = channel_client(a.proxy(0), &["state", &id, "Up"], &ext).unwrap();
            assert_eq!(out.code, Some(0), "{out:?}");
            expected += 1;
        }
        if i % 5 == 0 {
            let out = channel_client(a.proxy(0), &["destroy", &id], &ext).unwrap();
            assert_eq!(out.code, Some(0), "{out:?}");
            expected += 1;
        }
    }
    let seen = changes_from(&mut listener, expected);
    let want = client_dump(a.proxy(0), enc);
    assert_eq!(replay(&seen), want);
    assert_eq!(want.len(), 16);
    assert_eq!(rust_ctl("activate", b.proxy(1), enc), Some(CTL_ACTIVE));
    assert_eq!(client_dump(b.proxy(0), enc), want);
}

#[test]
fn rust_active_through_cpp_replicator_encoding_1_1() {
    rust_active_through_cpp_replicator(Encoding::V1_1);
}

#[test]
fn rust_active_through_cpp_replicator_encoding_1_0() {
    rust_active_through_cpp_replicator(Encoding::V1_0);
}

#[test]
fn standalone_runs_alone_and_a_wrong_replicator_fails_fast() {
    let alone = Peer::spawn(
        "rust-standalone",
        Path::new(COMPONENT),
        &["--ChannelServiceX.Standalone=1".to_owned()],
    )
    .unwrap();
    assert_eq!(
        rust_ctl("status", alone.proxy(1), Encoding::V1_1),
        Some(CTL_ACTIVE)
    );
    let out = channel_client(alone.proxy(0), &["create", "c1", "sip:x"], &[]).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        client_dump(alone.proxy(0), Encoding::V1_1).len(),
        1,
        "standalone keeps its own state"
    );

    let started = Instant::now();
    let out = Command::new(COMPONENT)
        .arg("--ChannelServiceX.StateReplicatorName=Nobody:tcp -h 127.0.0.1 -p 1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ChannelServiceX.StateReplicatorName"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let out = Command::new(COMPONENT).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ChannelServiceX.StateReplicatorName"),
        "{stderr}"
    );

    assert_eq!(
        rust_ctl(
            "status",
            "ChannelServiceXReplica:tcp -h 127.0.0.1 -p 1",
            Encoding::V1_1
        ),
        Some(CTL_UNREACHABLE)
    );
}

/// End-to-end failover: the C++ active makes 10,000 changes through the
/// Rust replicator, is killed with SIGKILL mid-stream, and the Rust standby
/// is activated with `replica-ctl`. Every change the replicator
/// acknowledged (printed by the active) is in the new active's state; the
/// only other difference allowed is the one call in flight at the kill
/// (acknowledged by the replicator but not yet printed: at most two keys).
fn failover_after_sigkill_mid_stream(enc: Encoding) {
    let replicator = rust_replicator(enc);
    let rproxy = replicator.proxy(0).to_owned();
    let mut active = cpp_component("cpp-active", &rproxy, enc);
    let standby = rust_component("rust-standby", &rproxy, enc);
    assert_eq!(rust_ctl("activate", active.proxy(1), enc), Some(CTL_ACTIVE));
    active.send("changes 10000").unwrap();
    let mut acked = Vec::new();
    while acked.len() < 4000 {
        let line = active.read_line(LONG).unwrap();
        assert!(!line.starts_with("DONE"), "finished before the kill");
        if is_change(&line) {
            acked.push(line);
        }
    }
    active.kill();
    // Lines the active printed before it died are acknowledged changes too.
    while let Ok(line) = active.read_line(Duration::from_millis(300)) {
        if is_change(&line) {
            acked.push(line);
        }
    }
    assert!(acked.len() < 10_000, "the kill came after the end");
    assert_eq!(
        rust_ctl("status", active.proxy(1), enc),
        Some(CTL_UNREACHABLE)
    );
    let t0 = Instant::now();
    assert_eq!(
        rust_ctl("activate", standby.proxy(1), enc),
        Some(CTL_ACTIVE)
    );
    let out = channel_client(standby.proxy(0), &["first-served"], &encoding_args(enc)).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    eprintln!(
        "failover after {} acknowledged changes: {:?} from activate call to first served request",
        acked.len(),
        t0.elapsed()
    );
    let got: BTreeMap<String, String> = client_dump(standby.proxy(0), enc)
        .into_iter()
        .map(|l| (l.split(' ').nth(1).unwrap_or_default().to_owned(), l))
        .collect();
    let want: BTreeMap<String, String> = replay(&acked)
        .into_iter()
        .map(|l| (l.split(' ').nth(1).unwrap_or_default().to_owned(), l))
        .collect();
    let keys: std::collections::BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    let differing: Vec<&&String> = keys
        .iter()
        .filter(|k| got.get(**k) != want.get(**k))
        .collect();
    eprintln!("keys differing from the printed changes: {differing:?}");
    assert!(
        differing.len() <= 2,
        "state differs from the acknowledged changes on {differing:?}"
    );
    assert!(got.len() > 10, "{}", got.len());
}

/// A killed listener is dropped while the others go on receiving, and a
/// listener that stops answering does not slow the active component's
/// acknowledgements: 300 changes with a paused listener finish in under
/// 3 s (the C++ replicator peer would wait up to 5 s on each push).
fn dead_and_paused_listeners_do_not_hold_up_the_others(enc: Encoding) {
    let replicator = rust_replicator(enc);
    let rproxy = replicator.proxy(0).to_owned();
    let mut active = cpp_component("cpp-active", &rproxy, enc);
    let mut doomed = cpp_listener("doomed", &rproxy, enc);
    let mut paused = cpp_listener("paused", &rproxy, enc);
    let mut witness = cpp_listener("witness", &rproxy, enc);
    assert_eq!(rust_ctl("activate", active.proxy(1), enc), Some(CTL_ACTIVE));
    let first = cpp_changes(&mut active, 100);
    assert_eq!(changes_from(&mut doomed, first.len()), first);
    doomed.kill();
    paused.send("pause").unwrap();
    let t0 = Instant::now();
    let second = cpp_changes(&mut active, 300);
    let took = t0.elapsed();
    eprintln!("300 changes with one dead and one paused listener: {took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let mut all = first.clone();
    all.extend(second);
    assert_eq!(changes_from(&mut witness, all.len()), all);
    // The paused listener gets what it had, then (after resume) whatever
    // its queue delivered before its stuck push timed out and it was
    // dropped: always a prefix of the changes, in order.
    paused.send("resume").unwrap();
    let mut got = Vec::new();
    while let Ok(line) = paused.read_line(Duration::from_secs(7)) {
        if is_change(&line) {
            got.push(line);
        }
        if got.len() == all.len() {
            break;
        }
    }
    assert!(got.len() >= first.len(), "{}", got.len());
    assert_eq!(got[..], all[..got.len()]);
}

#[test]
fn dead_and_paused_listeners_do_not_hold_up_the_others_encoding_1_1() {
    dead_and_paused_listeners_do_not_hold_up_the_others(Encoding::V1_1);
}

#[test]
fn dead_and_paused_listeners_do_not_hold_up_the_others_encoding_1_0() {
    dead_and_paused_listeners_do_not_hold_up_the_others(Encoding::V1_0);
}

/// `ReplicaListener`s registered by ZeroC Python (`replica_watch.py`) with a
/// Rust member's `Replica` are told of `activate` and `standby` (driven by
/// `replica-ctl`), with the member's `Replica` proxy as `source`; a
/// repeated `activate` (no change) tells nobody.
fn replica_listeners_are_told(enc: Encoding) {
    let replicator = rust_replicator(enc);
    let member = rust_component("rust-member", replicator.proxy(0), enc);
    let script = interop_tests::peers::peers_dir().join("replica_watch.py");
    let mut args = vec![
        script.display().to_string(),
        member.proxy(1).to_owned(),
        "--Watch.Events=2".to_owned(),
    ];
    args.extend(encoding_args(enc));
    let mut watch = Peer::spawn(
        "replica-watch",
        Path::new(interop_tests::peers::PYTHON),
        &args,
    )
    .unwrap();
    assert_eq!(rust_ctl("activate", member.proxy(1), enc), Some(CTL_ACTIVE));
    assert_eq!(
        watch.read_line(LONG).unwrap(),
        "ACTIVATED ChannelServiceXReplica"
    );
    assert_eq!(rust_ctl("activate", member.proxy(1), enc), Some(CTL_ACTIVE));
    assert_eq!(rust_ctl("standby", member.proxy(1), enc), Some(0));
    assert_eq!(
        watch.read_line(LONG).unwrap(),
        "STANDBY ChannelServiceXReplica"
    );
    assert_eq!(
        watch.wait_exit(LONG).unwrap(),
        Some(0),
        "{}",
        watch.stderr()
    );
}

#[test]
fn replica_listeners_are_told_encoding_1_1() {
    replica_listeners_are_told(Encoding::V1_1);
}

#[test]
fn replica_listeners_are_told_encoding_1_0() {
    replica_listeners_are_told(Encoding::V1_0);
}

#[test]
fn failover_after_sigkill_mid_stream_encoding_1_1() {
    failover_after_sigkill_mid_stream(Encoding::V1_1);
}

#[test]
fn failover_after_sigkill_mid_stream_encoding_1_0() {
    failover_after_sigkill_mid_stream(Encoding::V1_0);
}

//! Self-test of the ZeroC Ice peers of `tests/peers/` among themselves, in
//! encodings 1.1 and 1.0: a C++ replicator, a C++ active component, two C++
//! standby components and two C++ listeners; 1,200 changes; a listener
//! killed mid-stream; the active killed with SIGKILL and a standby activated
//! through the Python `replica_ctl.py`; the new active's state read back
//! through the Python `channel_client.py`. Also: a late joiner catching up,
//! dumps on SIGTERM and end of stdin, a Python `ReplicaListener` told of
//! activation and standby, `Standalone=1`, fail-fast start-up on a wrong
//! `StateReplicatorName`, `replica_ctl.py` exit codes, an active killed with
//! SIGKILL in the middle of 10,000 self-driven changes, and `activate()`
//! refused when the replicator is gone.
//!
//! These peers stand in for the Rust side until it exists: every later
//! interop test swaps a Rust program in for one of them.

// Test code: helpers fail the test on a peer that does not start or answer.
#![allow(clippy::panic, clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use interop_tests::golden::Encoding;
use interop_tests::peers::{
    self, bins, channel_client, encoding_args, is_change, replica_ctl, with_encoding as with_enc,
    Peer, CLIENT_NOT_ACTIVE, CLIENT_NOT_FOUND, CTL_ACTIVE, CTL_ERROR, CTL_STANDBY, CTL_UNREACHABLE,
};
use pretty_assertions::assert_eq;

const LONG: Duration = Duration::from_secs(60);

fn replicator(enc: Encoding) -> Peer {
    Peer::spawn("replicator", &bins().replicator, &with_enc(enc, vec![])).unwrap()
}

fn component(name: &str, replicator: &str, enc: Encoding) -> Peer {
    let args = with_enc(
        enc,
        vec![
            format!("--ChannelServiceX.StateReplicatorName={replicator}"),
            "--Driver.DumpOnExit=1".to_string(),
        ],
    );
    Peer::spawn(name, &bins().component, &args).unwrap()
}

fn listener(name: &str, replicator: &str, enc: Encoding) -> Peer {
    let args = with_enc(
        enc,
        vec![format!("--Listener.StateReplicatorName={replicator}")],
    );
    Peer::spawn(name, &bins().listener, &args).unwrap()
}

fn ctl(command: &str, proxy: &str, enc: Encoding) -> (Option<i32>, String) {
    let out = replica_ctl(command, proxy, &encoding_args(enc)).unwrap();
    eprintln!(
        "replica_ctl {command}: {:?} {:?} {:?} in {:?}",
        out.code,
        out.stdout.trim(),
        out.stderr.trim(),
        out.elapsed
    );
    (out.code, out.stdout.trim().to_string())
}

/// The store a stream of SET/REMOVED lines leads to, as dump lines.
fn replay(lines: &[String]) -> Vec<String> {
    peers::replay(lines).unwrap()
}

/// The last field of a SET line (`createdAt`).
fn created_at(line: &str) -> &str {
    line.rsplit(' ').next().unwrap_or_default()
}

/// Reads a listener's change lines until it has `n`.
fn changes_from(peer: &mut Peer, n: usize) -> Vec<String> {
    peer.changes(n, LONG).unwrap()
}

fn replication_and_failover(enc: Encoding) {
    let started = Instant::now();
    let enc_args = encoding_args(enc);
    let mut repl = replicator(enc);
    let repl_prx = repl.proxy(0).to_string();
    assert!(
        repl_prx.contains(&format!("-e {}", enc.as_str())),
        "{repl_prx}"
    );

    let mut a = component("component-a", &repl_prx, enc);
    let mut b = component("component-b", &repl_prx, enc);
    let mut c = component("component-c", &repl_prx, enc);
    let mut doomed = listener("listener-doomed", &repl_prx, enc);
    let mut witness = listener("listener-witness", &repl_prx, enc);
    let (_, l) = repl.command("listeners", "LISTENERS", LONG).unwrap();
    assert_eq!(l, "LISTENERS 5");

    // Every member starts on standby.
    for m in [&a, &b, &c] {
        assert_eq!(
            ctl("status", m.proxy(1), enc),
            (Some(CTL_STANDBY), "standby".into())
        );
    }
    let out = channel_client(b.proxy(0), &["list"], &enc_args).unwrap();
    assert_eq!(out.code, Some(CLIENT_NOT_ACTIVE), "{out:?}");
    assert_eq!(out.stdout.trim(), "NOTACTIVE");

    // Activate A: it unregisters its listener.
    assert_eq!(
        ctl("activate", a.proxy(1), enc),
        (Some(CTL_ACTIVE), "active".into())
    );
    assert_eq!(
        ctl("status", a.proxy(1), enc),
        (Some(CTL_ACTIVE), "active".into())
    );
    let (_, l) = repl.command("listeners", "LISTENERS", LONG).unwrap();
    assert_eq!(l, "LISTENERS 4");

    // 1,200 changes; the doomed listener is killed after 300 of them.
    a.send("changes 1200").unwrap();
    let mut a_changes = Vec::new();
    let mut killed = false;
    let done = loop {
        let line = a.read_line(LONG).unwrap();
        if line.starts_with("DONE") || line.starts_with("ERROR") {
            break line;
        }
        assert!(is_change(&line), "{line:?}");
        a_changes.push(line);
        if a_changes.len() == 300 && !killed {
            // Make sure it is mid-stream: it has received some changes.
            let first = changes_from(&mut doomed, 10);
            assert_eq!(first, a_changes[..10].to_vec());
            doomed.kill();
            killed = true;
        }
    };
    assert_eq!(done, "DONE 1200 1200");
    assert!(killed);
    let sets = a_changes.iter().filter(|l| l.starts_with("SET ")).count();
    let removals = a_changes.len() - sets;
    assert!(
        sets > 900 && removals > 100,
        "{sets} sets, {removals} removals"
    );

    // The replicator dropped the dead listener, and only it.
    let (_, dropped) = repl
        .read_until(LONG, "DROPPED", |l| l.starts_with("DROPPED"))
        .unwrap();
    assert!(dropped.contains("ChannelServiceXListener"), "{dropped}");
    let (_, l) = repl.command("listeners", "LISTENERS", LONG).unwrap();
    assert_eq!(l, "LISTENERS 3");

    // The witness listener got every change, in order.
    let seen = changes_from(&mut witness, a_changes.len());
    assert_eq!(seen, a_changes);

    // Standbys, replicator and witness agree with the active's store, which
    // is what the changes lead to.
    let a_dump = a.dump().unwrap();
    assert!(a_dump.len() > 50, "{} items", a_dump.len());
    assert_eq!(replay(&a_changes), a_dump);
    assert_eq!(b.dump().unwrap(), a_dump);
    assert_eq!(c.dump().unwrap(), a_dump);
    assert_eq!(repl.dump().unwrap(), a_dump);
    assert_eq!(witness.dump().unwrap(), a_dump);

    // The active serves ChannelService to the Python client, the standbys don't.
    let out = channel_client(a.proxy(0), &["dump"], &enc_args).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(peers::lines_before_end(&out.stdout), a_dump);
    let out = channel_client(c.proxy(0), &["get", "ch0"], &enc_args).unwrap();
    assert_eq!(out.code, Some(CLIENT_NOT_ACTIVE), "{out:?}");

    // Failover: SIGKILL the active, activate B.
    a.kill();
    assert_eq!(ctl("status", a.proxy(1), enc).0, Some(CTL_UNREACHABLE));
    assert_eq!(ctl("status", b.proxy(1), enc).0, Some(CTL_STANDBY));
    let t0 = Instant::now();
    assert_eq!(
        ctl("activate", b.proxy(1), enc),
        (Some(CTL_ACTIVE), "active".into())
    );
    let out = channel_client(b.proxy(0), &["first-served"], &enc_args).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    eprintln!(
        "encoding {enc}: failover {:?} from activate call to first served request",
        t0.elapsed()
    );
    assert_eq!(ctl("status", b.proxy(1), enc).0, Some(CTL_ACTIVE));
    assert_eq!(ctl("status", c.proxy(1), enc).0, Some(CTL_STANDBY));

    // The new active serves the whole state through ChannelService.
    let out = channel_client(b.proxy(0), &["dump"], &enc_args).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(peers::lines_before_end(&out.stdout), a_dump);
    let out = channel_client(c.proxy(0), &["list"], &enc_args).unwrap();
    assert_eq!(out.code, Some(CLIENT_NOT_ACTIVE), "{out:?}");

    // Service calls on the new active replicate to the remaining standby.
    for args in [
        vec!["create", "py1", "sip:py1@example"],
        vec!["state", "py1", "Held"],
        vec!["create", "py2", "sip:py2@example"],
        vec!["destroy", "py2"],
    ] {
        let out = channel_client(b.proxy(0), &args, &enc_args).unwrap();
        assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
    }
    let out = channel_client(b.proxy(0), &["destroy", "nosuch"], &enc_args).unwrap();
    assert_eq!(out.code, Some(CLIENT_NOT_FOUND), "{out:?}");
    let out = channel_client(b.proxy(0), &["get", "py1"], &enc_args).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.starts_with("ITEM py1 py1 sip:py1@example Held "),
        "{}",
        out.stdout
    );
    b.send("changes 100").unwrap();
    let (b_changes, done) = b
        .read_until(LONG, "DONE", |l| {
            l.starts_with("DONE") || l.starts_with("ERROR")
        })
        .unwrap();
    assert_eq!(done, "DONE 100 100");
    assert!(b_changes.len() >= 100, "{}", b_changes.len());
    let b_dump = b.dump().unwrap();
    assert_ne!(b_dump, a_dump);
    assert_eq!(c.dump().unwrap(), b_dump);
    assert_eq!(repl.dump().unwrap(), b_dump);
    // The witness saw the four Python-driven changes, then B's, in order.
    let seen = changes_from(&mut witness, 4 + b_changes.len());
    assert_eq!(
        seen[..5].to_vec(),
        vec![
            format!("SET py1 py1 sip:py1@example Idle {}", created_at(&seen[0])),
            format!("SET py1 py1 sip:py1@example Held {}", created_at(&seen[0])),
            format!("SET py2 py2 sip:py2@example Idle {}", created_at(&seen[2])),
            "REMOVED py2".to_string(),
            seen[4].clone(),
        ]
    );
    assert_eq!(seen[4..].to_vec(), b_changes);
    let mut all = a_changes.clone();
    all.extend(seen);
    assert_eq!(replay(&all), b_dump);
    assert_eq!(witness.dump().unwrap(), b_dump);

    // Standby again: B rejoins as a listener and catches up.
    assert_eq!(
        ctl("standby", b.proxy(1), enc),
        (Some(CTL_ACTIVE), "standby".into())
    );
    assert_eq!(ctl("status", b.proxy(1), enc).0, Some(CTL_STANDBY));
    let out = channel_client(b.proxy(0), &["list"], &enc_args).unwrap();
    assert_eq!(out.code, Some(CLIENT_NOT_ACTIVE), "{out:?}");
    let (_, l) = repl.command("listeners", "LISTENERS", LONG).unwrap();
    assert_eq!(l, "LISTENERS 3");
    // Every request each peer dispatched was in the encoding under test.
    let want = vec![enc.as_str().to_string()];
    assert_eq!(repl.encodings().unwrap(), want, "replicator");
    assert_eq!(witness.encodings().unwrap(), want, "witness listener");
    for m in [&mut b, &mut c] {
        assert_eq!(m.encodings().unwrap(), want, "{}", m.name());
    }
    eprintln!("encoding {enc}: self-test ran {:?}", started.elapsed());
}

#[test]
fn replication_and_failover_encoding_1_1() {
    replication_and_failover(Encoding::V1_1);
}

#[test]
fn replication_and_failover_encoding_1_0() {
    replication_and_failover(Encoding::V1_0);
}

#[test]
fn late_listener_catches_up_and_sigterm_dumps() {
    let enc = Encoding::V1_1;
    let repl = replicator(enc);
    let mut a = component("component-a", repl.proxy(0), enc);
    // A Python ReplicaListener is told of activation and standby.
    let mut watch = Peer::spawn(
        "replica-watch",
        Path::new(peers::PYTHON),
        &[
            peers::peers_dir()
                .join("replica_watch.py")
                .display()
                .to_string(),
            a.proxy(1).to_string(),
            "--Watch.Events=2".to_string(),
        ],
    )
    .unwrap();
    assert_eq!(ctl("activate", a.proxy(1), enc).0, Some(CTL_ACTIVE));
    assert_eq!(
        watch.read_line(LONG).unwrap(),
        "ACTIVATED ChannelServiceXReplica"
    );
    // Activating twice is harmless (and tells nobody).
    assert_eq!(ctl("activate", a.proxy(1), enc).0, Some(CTL_ACTIVE));
    a.send("changes 150").unwrap();
    let (_, done) = a
        .read_until(LONG, "DONE", |l| l.starts_with("DONE"))
        .unwrap();
    assert_eq!(done, "DONE 150 150");
    let a_dump = a.dump().unwrap();
    // A member started after the changes catches up through getAllStateItems.
    let mut late = component("component-late", repl.proxy(0), enc);
    assert_eq!(late.dump().unwrap(), a_dump);
    // SIGTERM makes it print its dump (Driver.DumpOnExit) and exit 0.
    late.terminate().unwrap();
    let (items, _) = late.read_until(LONG, "END", |l| l == "END").unwrap();
    assert_eq!(items, a_dump);
    assert_eq!(late.wait_exit(LONG).unwrap(), Some(0));
    // So does the end of its stdin.
    let mut other = component("component-other", repl.proxy(0), enc);
    other.close_stdin();
    let (items, _) = other.read_until(LONG, "END", |l| l == "END").unwrap();
    assert_eq!(items, a_dump);
    assert_eq!(other.wait_exit(LONG).unwrap(), Some(0));
    // A stands by: the watcher hears it, and A listens again.
    assert_eq!(ctl("standby", a.proxy(1), enc).0, Some(CTL_ACTIVE));
    assert_eq!(
        watch.read_line(LONG).unwrap(),
        "STANDBY ChannelServiceXReplica"
    );
    assert_eq!(watch.wait_exit(LONG).unwrap(), Some(0));
    assert_eq!(ctl("status", a.proxy(1), enc).0, Some(CTL_STANDBY));
    assert_eq!(a.dump().unwrap(), a_dump);
}

#[test]
fn standalone_and_fail_fast() {
    let bins = bins();
    // Standalone: active at once, no replicator.
    let mut alone = Peer::spawn(
        "standalone",
        &bins.component,
        &["--ChannelServiceX.Standalone=1".to_string()],
    )
    .unwrap();
    assert_eq!(
        ctl("status", alone.proxy(1), Encoding::V1_1).0,
        Some(CTL_ACTIVE)
    );
    let out = channel_client(alone.proxy(0), &["create", "x", "sip:x"], &[]).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    let (_, status) = alone.command("status", "", LONG).unwrap();
    assert_eq!(status, "ACTIVE");
    assert_eq!(alone.dump().unwrap().len(), 1);

    // A replicator nobody listens on: start-up fails fast, naming the property.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let mut wrong = Peer::start(
        "wrong-replicator",
        &bins.component,
        &[format!(
            "--ChannelServiceX.StateReplicatorName=ChannelServiceXStateReplicator:tcp -h 127.0.0.1 -p {port}"
        )],
    )
    .unwrap();
    assert_eq!(wrong.wait_exit(Duration::from_secs(15)).unwrap(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        wrong
            .stderr()
            .contains("ChannelServiceX.StateReplicatorName"),
        "{}",
        wrong.stderr()
    );
    // No property at all: fails too, naming it.
    let mut none = Peer::start("no-replicator", &bins.component, &[]).unwrap();
    assert_eq!(none.wait_exit(Duration::from_secs(15)).unwrap(), Some(1));
    assert!(none
        .stderr()
        .contains("ChannelServiceX.StateReplicatorName"));

    // replica_ctl: unreachable and usage errors.
    let out = replica_ctl(
        "status",
        &format!("ChannelServiceXReplica:tcp -h 127.0.0.1 -p {port}"),
        &[],
    )
    .unwrap();
    assert_eq!(out.code, Some(CTL_UNREACHABLE), "{out:?}");
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
    let out = replica_ctl("frobnicate", alone.proxy(1), &[]).unwrap();
    assert_eq!(out.code, Some(CTL_ERROR), "{out:?}");
    let out = replica_ctl("status", "not a proxy ::", &[]).unwrap();
    assert_eq!(out.code, Some(CTL_ERROR), "{out:?}");
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_change() {
    let enc = Encoding::V1_1;
    let enc_args = encoding_args(enc);
    let repl = replicator(enc);
    // A drives 10,000 changes by itself once activated (Driver.Changes).
    let mut a = Peer::spawn(
        "component-a",
        &bins().component,
        &[
            format!("--ChannelServiceX.StateReplicatorName={}", repl.proxy(0)),
            "--Driver.Changes=10000".to_string(),
        ],
    )
    .unwrap();
    let mut b = component("component-b", repl.proxy(0), enc);
    assert_eq!(ctl("activate", a.proxy(1), enc).0, Some(CTL_ACTIVE));
    // Each printed line is a change the replicator acknowledged.
    let mut acked = Vec::new();
    while acked.len() < 1000 {
        let line = a.read_line(LONG).unwrap();
        assert!(is_change(&line), "{line:?}");
        acked.push(line);
    }
    a.kill();
    // Lines already printed before the kill are acknowledged too.
    while let Ok(line) = a.read_line(Duration::from_millis(200)) {
        if is_change(&line) {
            acked.push(line);
        }
    }
    assert!(acked.len() < 10000, "A finished before it was killed");

    let t0 = Instant::now();
    assert_eq!(ctl("activate", b.proxy(1), enc).0, Some(CTL_ACTIVE));
    let out = channel_client(b.proxy(0), &["first-served"], &enc_args).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    eprintln!(
        "SIGKILL after {} acknowledged changes: failover {:?} from activate call to first served request",
        acked.len(),
        t0.elapsed()
    );
    let out = channel_client(b.proxy(0), &["dump"], &enc_args).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    let served = peers::lines_before_end(&out.stdout);
    assert_eq!(b.dump().unwrap(), served);
    // The new active has every acknowledged change. At most the one change
    // in flight at the kill (acknowledged by the replicator, its answer lost
    // with A; at most two items) may be there too, and nothing else.
    let expected = replay(&acked);
    let differing = expected
        .iter()
        .filter(|l| !served.contains(l))
        .chain(served.iter().filter(|l| !expected.contains(l)))
        .count();
    eprintln!("{differing} dump lines differ from the acknowledged changes' replay");
    assert!(
        differing <= 4,
        "{differing} lines differ between the acknowledged changes and the new active's state:\n{expected:#?}\n{served:#?}"
    );
}

#[test]
fn activate_without_replicator_is_refused() {
    let enc = Encoding::V1_0;
    let mut repl = replicator(enc);
    let m = component("component", repl.proxy(0), enc);
    // standby on a standby member is harmless.
    assert_eq!(
        ctl("standby", m.proxy(1), enc),
        (Some(CTL_ACTIVE), "standby".into())
    );
    repl.kill();
    // It cannot catch up, so it refuses and stays on standby.
    let out = replica_ctl("activate", m.proxy(1), &encoding_args(enc)).unwrap();
    assert_eq!(out.code, Some(CTL_ERROR), "{out:?}");
    assert!(out.stderr.contains("activate() returned false"), "{out:?}");
    assert_eq!(ctl("status", m.proxy(1), enc).0, Some(CTL_STANDBY));
}

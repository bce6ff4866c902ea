//! Durable state of the real `scf-replicator` process
//! (`ChannelServiceXReplicator.DataDir`): 10,000 changes from Rust clients
//! of the replicator (the generated proxy, several connections so that
//! group commit has something to group), the replicator SIGKILLed at a
//! random point and restarted on the same port with the same directory;
//! what it serves then is every acknowledged change and nothing else but
//! the calls in flight at the kill (their callers saw a failure, so their
//! outcome was unknown to them). A `channel-service-x` standby registered
//! before the kill re-registers on its own and converges. The same with a
//! ZeroC C++ active component making up to 10,000 changes, the restarted
//! replicator's state read by a ZeroC C++ listener. And the data
//! directory's failures: missing, a file, a corrupt database, a bad sync
//! policy, each a clear error at start-up.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ice_proto::communicator::Communicator;
use ice_proto::properties::Properties;
use interop_tests::peers::{Peer, CTL_ACTIVE};
use replicator::channel_x::{cx, glue, StateItem};
use replicator::Keyed;
use support::client::listed_numbers;
use support::{
    ctl, run_bounded, spawn_component, spawn_replicator, Scratch, LOOPBACK_REPLICATOR, REPLICATOR,
};

const CHANGES: usize = 10_000;
const WRITERS: usize = 8;

fn port_of(proxy: &str) -> u16 {
    let words: Vec<&str> = proxy.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "-p")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or_else(|| panic!("no port in {proxy}"))
}

fn replicator_args(dir: &Scratch, port: u16, sync: &str) -> Vec<String> {
    vec![
        format!("--ChannelServiceXReplicator.Endpoints=tcp -h 127.0.0.1 -p {port}"),
        format!("--ChannelServiceXReplicator.DataDir={}", dir.path.display()),
        format!("--ChannelServiceXReplicator.Sync={sync}"),
    ]
}

/// A channel item whose id is `c<n>`.
fn channel(n: u64) -> StateItem {
    let id = format!("c{n}");
    StateItem::new(cx::ChannelServiceXChannelStateItem {
        base: cx::ChannelServiceXStateItem { key: id.clone() },
        channel_id: id.clone(),
        endpoint: format!("sip:{id}@example"),
        state: cx::ChannelState::Up,
        created_at: i64::try_from(n).unwrap(),
    })
}

/// A proxy to the replicator on a communicator (so a connection) of its own.
fn replicator_proxy(proxy: &str) -> cx::ChannelServiceXStateReplicatorPrx {
    let mut props = Properties::new();
    props.set_property("Ice.RetryIntervals", "-1");
    let comm = Communicator::new(props);
    let prx = comm
        .string_to_proxy(proxy)
        .unwrap()
        .unwrap()
        .ice_invocation_timeout(Some(Duration::from_secs(5)));
    cx::ChannelServiceXStateReplicatorPrx::unchecked_cast(prx)
}

/// The channel numbers the replicator at `proxy` holds (read in pages).
async fn replicator_numbers(proxy: &str) -> BTreeSet<u64> {
    let prx = replicator_proxy(proxy);
    let all = replicator::paged::fetch_all(
        prx.ice_object(),
        glue::Item::from_seq,
        replicator::generated::ice_registry(),
    )
    .await
    .unwrap()
    .expect("the replicator serves pages");
    all.iter().map(|i| i.key()[1..].parse().unwrap()).collect()
}

/// A number in `lo..hi` that differs from run to run.
fn random_in(lo: usize, hi: usize) -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    lo + usize::try_from(nanos).unwrap() % (hi - lo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_a_sigkill_and_standbys_converge() {
    let dir = Scratch::new("durable-replicator");
    let mut replicator = spawn_replicator(&replicator_args(&dir, 0, "group"));
    let proxy = replicator.proxy(0).to_owned();
    let port = port_of(&proxy);
    let standby = spawn_component("rust-standby", &proxy, &[]);

    let kill_at = random_in(CHANGES / 10, CHANGES * 9 / 10);
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let in_flight = Arc::new(Mutex::new(BTreeSet::new()));
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let prx = replicator_proxy(&proxy);
        let (acked, in_flight, next) = (acked.clone(), in_flight.clone(), next.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= CHANGES as u64 {
                    return;
                }
                in_flight.lock().unwrap().insert(n);
                let seq = glue::Item::to_seq(&[channel(n)]);
                let r = prx.set_state_items(&seq).await;
                in_flight.lock().unwrap().remove(&n);
                match r {
                    Ok(()) => {
                        acked.lock().unwrap().insert(n);
                    }
                    Err(_) => {
                        // The replicator is gone: this one may or may not
                        // have been stored.
                        in_flight.lock().unwrap().insert(n);
                        return;
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    while acked.lock().unwrap().len() < kill_at {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} changes acknowledged",
            acked.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    replicator.kill();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let unknown = in_flight.lock().unwrap().clone();
    eprintln!(
        "killed after {} acknowledged changes ({:?}); {} in flight",
        acked.len(),
        started.elapsed(),
        unknown.len()
    );
    assert!(unknown.len() <= WRITERS);

    let _replicator = spawn_replicator(&replicator_args(&dir, port, "group"));
    let held = replicator_numbers(&proxy).await;
    let lost: Vec<&u64> = acked.difference(&held).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged but lost, the first {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    let extra: Vec<&u64> = held
        .difference(&acked)
        .filter(|n| !unknown.contains(n))
        .collect();
    assert!(extra.is_empty(), "stored but never sent: {extra:?}");

    // The standby registered again with the restarted replicator on its
    // own (its log says so), and serves exactly the replicator's state
    // once active.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !standby.stderr().contains("listener registered again") {
        assert!(
            Instant::now() < deadline,
            "the standby did not register again: {}",
            standby.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let activated = tokio::task::block_in_place(|| ctl("activate", standby.proxy(1), &[]));
    assert_eq!(activated, Some(CTL_ACTIVE));
    let numbers = tokio::task::block_in_place(|| listed_numbers(standby.proxy(0), "c", &[]));
    assert_eq!(numbers, held, "the standby converged");
}

/// Runs `scf-replicator` with `args`, expecting it to fail at start-up;
/// returns what it printed on stderr.
fn start_up_error(args: &[String]) -> String {
    let out = run_bounded(Command::new(REPLICATOR).args(args), Duration::from_secs(20));
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(!out.stdout.contains("READY"), "{out:?}");
    assert!(!out.stderr.contains("panicked"), "{out:?}");
    out.stderr
}

#[test]
fn unusable_data_directories_fail_start_up_with_the_reason() {
    let dir = Scratch::new("durable-bad");
    let missing = dir.path.join("missing");
    let e = start_up_error(&[format!(
        "--ChannelServiceXReplicator.DataDir={}",
        missing.display()
    )]);
    assert!(e.contains("data directory") && e.contains("missing"), "{e}");

    let file = dir.path.join("file");
    std::fs::write(&file, b"x").unwrap();
    let e = start_up_error(&[format!(
        "--ChannelServiceXReplicator.DataDir={}",
        file.display()
    )]);
    assert!(e.contains("not a directory"), "{e}");

    let corrupt = Scratch::new("durable-corrupt");
    std::fs::write(
        corrupt.path.join(replicator::durable::DATABASE_FILE),
        vec![0xa5_u8; 64 * 1024],
    )
    .unwrap();
    let e = start_up_error(&[format!(
        "--ChannelServiceXReplicator.DataDir={}",
        corrupt.path.display()
    )]);
    assert!(
        e.contains("database") && e.contains("replicator.redb"),
        "{e}"
    );

    let ok = Scratch::new("durable-policy");
    let e = start_up_error(&[
        format!("--ChannelServiceXReplicator.DataDir={}", ok.path.display()),
        "--ChannelServiceXReplicator.Sync=sometimes".to_owned(),
    ]);
    assert!(e.contains("ChannelServiceXReplicator.Sync"), "{e}");
}

/// The number of changes the ZeroC C++ component is asked to make (one at
/// a time, each synced before the next: a few hundred a second here); the
/// replicator is killed between 10% and 90% of them.
fn cpp_changes() -> usize {
    std::env::var("DURABLE_CPP_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

#[test]
fn a_zeroc_cpp_components_acknowledged_changes_survive_a_sigkill() {
    use interop_tests::peers::{bins, is_change, replay};
    let changes = cpp_changes();
    let dir = Scratch::new("durable-cpp");
    let mut replicator = spawn_replicator(&replicator_args(&dir, 0, "group"));
    let proxy = replicator.proxy(0).to_owned();
    let port = port_of(&proxy);
    let mut component = Peer::spawn(
        "cpp-active",
        &bins().component,
        &[format!("--ChannelServiceX.StateReplicatorName={proxy}")],
    )
    .unwrap();
    assert_eq!(ctl("activate", component.proxy(1), &[]), Some(CTL_ACTIVE));

    // Every change line is printed once the replicator acknowledged it.
    let kill_at = random_in(changes / 10, changes * 9 / 10);
    component.send(&format!("changes {changes}")).unwrap();
    let mut acked = Vec::new();
    let mut killed = false;
    let last = loop {
        let line = component.read_line(Duration::from_secs(30)).unwrap();
        if is_change(&line) {
            acked.push(line);
            if !killed && acked.len() >= kill_at {
                replicator.kill();
                killed = true;
            }
        } else if line.starts_with("DONE") || line.starts_with("ERROR") {
            break line;
        }
    };
    assert!(killed && last.starts_with("ERROR"), "{last}");
    eprintln!(
        "replicator killed after {} acknowledged change lines",
        acked.len()
    );
    // ZeroC's component applies a change before sending it: its store may
    // hold the one change in flight at the kill.
    let with_in_flight = component.dump().unwrap();
    let acknowledged = replay(&acked).unwrap();

    let _replicator = spawn_replicator(&replicator_args(&dir, port, "group"));
    let mut listener = Peer::spawn(
        "cpp-listener",
        &bins().listener,
        &[
            format!("--Listener.StateReplicatorName={proxy}"),
            "--Listener.CatchUp=1".to_owned(),
        ],
    )
    .unwrap();
    let served = listener.dump().unwrap();
    assert!(
        served == acknowledged || served == with_in_flight,
        "the restarted replicator serves neither the acknowledged state nor it with the \
         change in flight: {} items served, {} acknowledged",
        served.len(),
        acknowledged.len()
    );
}

/// A tmpfs of `size` mounted on a new directory under `dir` (`ro` when
/// asked), unmounted on drop; `None` where mounting is not allowed.
struct Mount(std::path::PathBuf);

impl Mount {
    fn new(dir: &Scratch, name: &str, options: &str) -> Option<Mount> {
        let path = dir.path.join(name);
        std::fs::create_dir_all(&path).unwrap();
        let out = run_bounded(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", options, "tmpfs"])
                .arg(&path),
            Duration::from_secs(10),
        );
        (out.code == Some(0)).then_some(Mount(path))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_or_full_data_directory_is_an_error_never_a_silent_loss() {
    let dir = Scratch::new("durable-mounts");
    let Some(ro) = Mount::new(&dir, "ro", "ro,size=1m") else {
        eprintln!("skipped: mounting a tmpfs is not allowed here");
        return;
    };
    let e = tokio::task::block_in_place(|| {
        start_up_error(&[format!(
            "--ChannelServiceXReplicator.DataDir={}",
            ro.0.display()
        )])
    });
    assert!(e.contains("not writable"), "{e}");

    // Room for the database and a few large items, then no more.
    let full = Mount::new(&dir, "full", "size=3m").unwrap();
    let mut replicator = tokio::task::block_in_place(|| {
        spawn_replicator(&[
            LOOPBACK_REPLICATOR.to_owned(),
            format!("--ChannelServiceXReplicator.DataDir={}", full.0.display()),
        ])
    });
    let prx = replicator_proxy(replicator.proxy(0));
    let big = "x".repeat(100 * 1024);
    let mut acked = 0;
    let failure = loop {
        assert!(acked < 200, "3 MB took {acked} items of 100 KB");
        let acked_n = u64::try_from(acked).unwrap();
        let id = format!("c{acked_n}");
        let item = StateItem::new(cx::ChannelServiceXChannelStateItem {
            base: cx::ChannelServiceXStateItem { key: id.clone() },
            channel_id: id,
            endpoint: big.clone(),
            state: cx::ChannelState::Up,
            created_at: 0,
        });
        match prx.set_state_items(&glue::Item::to_seq(&[item])).await {
            Ok(()) => acked += 1,
            Err(e) => break e.to_string(),
        }
    };
    assert!(failure.contains("change not stored"), "{failure}");
    // The replicator stops rather than serving a change it did not store.
    let code = tokio::task::block_in_place(|| replicator.wait_exit(Duration::from_secs(20)));
    assert_eq!(code.ok().flatten(), Some(1), "{}", replicator.stderr());
    assert!(
        replicator.stderr().contains("the state store failed"),
        "{}",
        replicator.stderr()
    );
    eprintln!("{acked} items stored before the disk was full: {failure}");
    // Started again on the full disk: it serves exactly what it stored
    // (or, if it cannot open its database there, says so and exits).
    let args = vec![
        LOOPBACK_REPLICATOR.to_owned(),
        format!("--ChannelServiceXReplicator.DataDir={}", full.0.display()),
    ];
    let again = tokio::task::block_in_place(|| {
        Peer::spawn("rust-replicator", Path::new(REPLICATOR), &args)
    });
    match again {
        Ok(r) => {
            let held = replicator_numbers(r.proxy(0)).await;
            let want: BTreeSet<u64> = (0..u64::try_from(acked).unwrap()).collect();
            assert_eq!(
                held, want,
                "the restarted replicator serves what it acknowledged"
            );
        }
        Err(e) => assert!(e.to_string().contains("database"), "{e}"),
    }
}

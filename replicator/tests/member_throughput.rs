//! A measurement, not a check (ignored by default; `scripts/bench-replicator.sh`
//! runs it with release binaries): changes per second through an active
//! `channel-service-x` under THREADS concurrent ZeroC Python clients (each
//! on a connection of its own), with 1, 4 and 16 standby members as the
//! replicator's listeners, the replicator in memory and durable under each
//! sync policy. The active member sends the changes made while a call is
//! in flight together, so concurrent changes share one durable commit.
//!
//! Environment: `MEMBER_BENCH_BIN` (directory holding `scf-replicator` and
//! `channel-service-x`; default: this build's), `MEMBER_BENCH_THREADS`
//! (default 16), `MEMBER_BENCH_SECONDS` (default 3), `MEMBER_BENCH_LISTENERS`
//! (default `1,4,16`), `MEMBER_BENCH_POLICIES` (default `memory,group,call,none`).
//! Prints `member <policy> listeners <n> changes/s <x>` lines and the ratios.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use interop_tests::peers::{Peer, CTL_ACTIVE, PYTHON};
use support::{run_bounded, Scratch, COMPONENT, REPLICATOR};

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn program(name: &str, built: &str) -> PathBuf {
    match std::env::var_os("MEMBER_BENCH_BIN") {
        Some(dir) => Path::new(&dir).join(name),
        None => PathBuf::from(built),
    }
}

/// Changes/s through an active member with `listeners` standby members.
fn measure(policy: &str, listeners: usize, threads: usize, seconds: f64, dir: &Scratch) -> f64 {
    let mut args = vec![support::LOOPBACK_REPLICATOR.to_owned()];
    if policy != "memory" {
        let data = dir.path.join(format!("{policy}-{listeners}"));
        std::fs::create_dir_all(&data).unwrap();
        args.push(format!(
            "--ChannelServiceXReplicator.DataDir={}",
            data.display()
        ));
        args.push(format!("--ChannelServiceXReplicator.Sync={policy}"));
    }
    let replicator =
        Peer::spawn("replicator", &program("scf-replicator", REPLICATOR), &args).unwrap();
    let proxy = replicator.proxy(0).to_owned();
    let member = |name: &str| {
        Peer::spawn(
            name,
            &program("channel-service-x", COMPONENT),
            &[format!("--ChannelServiceX.StateReplicatorName={proxy}")],
        )
        .unwrap()
    };
    let active = member("active");
    let _standbys: Vec<Peer> = (0..listeners)
        .map(|i| member(&format!("standby-{i}")))
        .collect();
    assert_eq!(
        support::ctl("activate", active.proxy(1), &[]),
        Some(CTL_ACTIVE)
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/member_load.py");
    let out = run_bounded(
        Command::new(PYTHON).arg(script).args([
            active.proxy(0),
            "c",
            &threads.to_string(),
            &seconds.to_string(),
        ]),
        Duration::from_secs_f64(seconds + 60.0),
    );
    assert_eq!(out.code, Some(0), "load: {} {}", out.stdout, out.stderr);
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    let calls: f64 = words[1].parse().unwrap();
    let elapsed: f64 = words[2].parse().unwrap();
    calls / elapsed
}

#[test]
#[ignore = "a measurement: run with --ignored (scripts/bench-replicator.sh does)"]
fn changes_per_second_through_an_active_member() {
    let threads: usize = var("MEMBER_BENCH_THREADS", "16").parse().unwrap();
    let seconds: f64 = var("MEMBER_BENCH_SECONDS", "3").parse().unwrap();
    let listeners: Vec<usize> = var("MEMBER_BENCH_LISTENERS", "1,4,16")
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    let policies = var("MEMBER_BENCH_POLICIES", "memory,group,call,none");
    let dir = Scratch::new("member-throughput");
    println!("member: {threads} concurrent clients of the active member, {seconds} s each");
    for n in &listeners {
        let mut memory = None;
        for policy in policies.split(',') {
            let rate = measure(policy, *n, threads, seconds, &dir);
            let ratio = memory.map_or(String::new(), |m: f64| {
                format!(" ({:.2}x memory)", rate / m)
            });
            if policy == "memory" {
                memory = Some(rate);
            }
            println!("member {policy:<6} listeners {n:>2} changes/s {rate:>8.0}{ratio}");
        }
    }
}

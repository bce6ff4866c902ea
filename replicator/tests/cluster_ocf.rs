//! The OCF resource agent `replicator/ocf/scf-replica` against a real
//! `channel-service-x` and `scf-replicator` on loopback: Debian's
//! `ocf-tester` (package `resource-agents`) through its whole sequence,
//! the monitor codes (7 stopped, 0 standby, 8 active) across start,
//! promote, demote and stop twice, the meta-data as OCF XML, and
//! validate-all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use interop_tests::peers::{
    channel_client, run_bounded_with_input, Peer, CLIENT_NOT_ACTIVE, CTL_ACTIVE, CTL_STANDBY,
    PYTHON,
};
use std::collections::BTreeSet;
use support::ocf::{
    agent_path, kill_pid, Agent, MemberGuard, OCF_ERR_CONFIGURED, OCF_ERR_GENERIC,
    OCF_ERR_INSTALLED, OCF_NOT_RUNNING, OCF_RUNNING_MASTER, OCF_SUCCESS,
};

use support::client::{listed_numbers, Client};
use support::{
    find_program, run_bounded, Scratch, COMPONENT, CTL, LOOPBACK_REPLICATOR, REPLICATOR,
};

fn ocf_tester() -> PathBuf {
    find_program(
        "ocf-tester",
        &["/usr/sbin/ocf-tester", "/usr/bin/ocf-tester"],
    )
    .unwrap_or_else(|| {
        panic!(
            "ocf-tester not found: install Debian's resource-agents package \
                 (scripts/install-ice.sh does: apt-get install resource-agents)"
        )
    })
}

fn replicator() -> (Peer, String) {
    let peer = support::spawn_replicator(&[LOOPBACK_REPLICATOR.to_owned()]);
    let proxy = peer.ready()[0].clone();
    (peer, proxy)
}

fn agent(instance: &str, scratch: &Scratch, replicator: &str) -> Agent {
    Agent::new(instance, &scratch.path.join("state"), COMPONENT, CTL)
        .with("replicator", replicator)
        .with("ctl_timeout", "2000")
}

fn ctl_status(proxy: &str) -> Option<i32> {
    support::ctl("status", proxy, &[])
}

#[test]
fn ocf_tester_runs_the_whole_sequence_without_error() {
    let tester = ocf_tester();
    let (_replicator, rep) = replicator();
    let scratch = Scratch::new("scf-ocf-tester");
    let agent = agent("scf-tester", &scratch, &rep);
    let _guard = MemberGuard {
        agents: vec![agent.clone()],
    };
    // Installed by the documented command (scripts/install-ocf.sh) under a
    // scratch OCF root: ocf-tester runs `meta-data` as user nobody, who
    // must reach the agent whatever the permissions of the checkout.
    std::fs::set_permissions(&scratch.path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ocf_root = scratch.path.join("ocf");
    let install = run_bounded(
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-ocf.sh"))
            .env("OCF_ROOT", &ocf_root),
        Duration::from_secs(20),
    );
    assert_eq!(install.code, Some(0), "install-ocf.sh: {}", install.stderr);
    let installed = ocf_root.join("resource.d/asterisk-scf/scf-replica");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(agent_path()).unwrap()
    );
    assert_eq!(
        std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let mut cmd = Command::new(&tester);
    cmd.arg("-v")
        .args(["-n", &agent.instance])
        .args(agent.tester_args())
        .arg(&installed);
    let ran = run_bounded(&mut cmd, Duration::from_secs(120));
    eprintln!(
        "ocf-tester: exit {:?} in {:?}\n{}\n{}",
        ran.code, ran.elapsed, ran.stdout, ran.stderr
    );
    assert_eq!(
        ran.code,
        Some(0),
        "ocf-tester failed:\n{}\n{}\nmember log:\n{}",
        ran.stdout,
        ran.stderr,
        agent.member_log()
    );
    let out = format!("{}{}", ran.stdout, ran.stderr);
    assert!(out.contains("passed all tests"), "{out}");
    assert!(!out.contains("Tests failed"), "{out}");
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("* rc=")).collect();
    assert!(errors.is_empty(), "ocf-tester reported errors: {errors:?}");
    // The whole sequence ran: the promotable part included.
    for step in [
        "Testing: start",
        "Testing: promote",
        "Testing: demote",
        "Promoting resource",
        "Testing: promotion of promoted resource",
        "Testing: demotion of demoted resource",
        "Restarting resource",
        "Testing: starting a started resource",
        "Testing: stopping a stopped resource",
    ] {
        assert!(
            out.contains(step),
            "ocf-tester did not run {step:?}:\n{out}"
        );
    }
    assert!(
        !out.contains("does not support the demote") && !out.contains("partially supports"),
        "{out}"
    );
    // The member really ran and changed roles under ocf-tester.
    let log = agent.member_log();
    assert!(log.matches("activated").count() >= 3, "{log}");
    assert!(agent.member_pid().is_none(), "the member was left running");
}

#[test]
fn monitor_answers_7_0_8_across_start_promote_demote_stop_twice() {
    let (_replicator, rep) = replicator();
    let scratch = Scratch::new("scf-ocf-monitor");
    let agent = agent("scf-monitor", &scratch, &rep);
    let _guard = MemberGuard {
        agents: vec![agent.clone()],
    };
    // What a member on standby answers: standby to replica-ctl, NotActive
    // to a client of its service.
    let on_standby = |service: &str, replica: &str| {
        assert_eq!(ctl_status(replica), Some(CTL_STANDBY));
        let out = channel_client(service, &["list"], &[]).unwrap();
        assert_eq!(out.code, Some(CLIENT_NOT_ACTIVE), "{out:?}");
    };
    assert_eq!(agent.code("monitor"), OCF_NOT_RUNNING);
    for round in 0..2 {
        agent.expect_code("start", OCF_SUCCESS);
        assert_eq!(agent.code("monitor"), OCF_SUCCESS, "round {round}");
        let fields = agent.ready_fields();
        assert_eq!(fields.len(), 2, "READY line: {fields:?}");
        let (service, replica) = (&fields[0], &fields[1]);
        on_standby(service, replica);

        assert_eq!(agent.code("promote"), OCF_SUCCESS);
        assert_eq!(agent.code("monitor"), OCF_RUNNING_MASTER, "round {round}");
        assert_eq!(ctl_status(replica), Some(CTL_ACTIVE));
        let id = format!("round{round}");
        let created = channel_client(service, &["create", &id, "sip:x@example"], &[]).unwrap();
        assert_eq!(created.code, Some(0), "{created:?}");
        assert_eq!(agent.code("promote"), OCF_SUCCESS, "promote is idempotent");

        assert_eq!(agent.code("demote"), OCF_SUCCESS);
        assert_eq!(agent.code("monitor"), OCF_SUCCESS, "round {round}");
        on_standby(service, replica);

        assert_eq!(agent.code("stop"), OCF_SUCCESS);
        assert_eq!(agent.code("monitor"), OCF_NOT_RUNNING, "round {round}");
        assert_eq!(agent.code("stop"), OCF_SUCCESS, "stop is idempotent");
        assert_eq!(agent.code("promote"), OCF_NOT_RUNNING);
    }
    // A member killed behind the agent's back is seen as stopped, and the
    // state it pushed is in the replicator for the next start.
    assert_eq!(agent.code("start"), OCF_SUCCESS);
    assert_eq!(agent.code("promote"), OCF_SUCCESS);
    let fields = agent.ready_fields();
    let dump = channel_client(&fields[0], &["list"], &[]).unwrap();
    assert_eq!(dump.stdout.trim(), "round0\nround1\nEND", "{dump:?}");
    kill_pid(agent.member_pid().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(agent.code("monitor"), OCF_NOT_RUNNING);
    assert_eq!(agent.code("stop"), OCF_SUCCESS);
}

/// Parses the meta-data with Python's XML parser and prints what the test
/// checks: the DOCTYPE, one line per parameter, one per action.
const META_CHECK: &str = r#"
import sys
from xml.dom import minidom
doc = minidom.parseString(sys.stdin.read())
print("DOCTYPE", doc.doctype.name if doc.doctype else "", doc.doctype.systemId if doc.doctype else "")
root = doc.documentElement
print("ROOT", root.tagName, root.getAttribute("name"))
for p in root.getElementsByTagName("parameter"):
    def text(tag):
        nodes = p.getElementsByTagName(tag)
        return "".join(n.toxml() for n in nodes[0].childNodes).strip() if nodes else ""
    content = p.getElementsByTagName("content")
    kind = content[0].getAttribute("type") if content else ""
    print("PARAM", p.getAttribute("name"), kind, "long" if text("longdesc") else "-", "short" if text("shortdesc") else "-")
for a in root.getElementsByTagName("action"):
    print("ACTION", a.getAttribute("name"), a.getAttribute("timeout") or "-", a.getAttribute("interval") or "-", a.getAttribute("role") or "-")
"#;

#[test]
fn meta_data_is_valid_ocf_xml_with_a_timeout_on_every_action() {
    let scratch = Scratch::new("scf-ocf-meta");
    let agent = Agent::new(
        "scf-meta",
        &scratch.path,
        "/nonexistent/member",
        "/nonexistent/ctl",
    );
    let ran = agent.run("meta-data");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let xml = ran.stdout;
    assert!(
        xml.contains(r#"<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">"#),
        "{xml}"
    );

    // Valid against the DTD that resource-agents ships, when xmllint is here.
    let dtd_dir = Path::new("/usr/share/resource-agents");
    if let (Some(xmllint), true) = (
        find_program("xmllint", &["/usr/bin/xmllint"]),
        dtd_dir.join("ra-api-1.dtd").is_file(),
    ) {
        let out = run_bounded_with_input(
            Command::new(xmllint)
                .args(["--noout", "--valid", "-"])
                .current_dir(dtd_dir),
            Some(&xml),
            Duration::from_secs(20),
        )
        .unwrap();
        assert_eq!(out.code, Some(0), "xmllint --valid: {}", out.stderr);
    } else {
        eprintln!("xmllint or ra-api-1.dtd missing: DTD validation left to ocf-tester");
    }

    let out = run_bounded_with_input(
        Command::new(PYTHON).args(["-c", META_CHECK]),
        Some(&xml),
        Duration::from_secs(20),
    )
    .unwrap();
    let report = out.stdout;
    assert_eq!(out.code, Some(0), "not well-formed XML: {}", out.stderr);
    eprintln!("{report}");
    assert!(
        report.contains("DOCTYPE resource-agent ra-api-1.dtd"),
        "{report}"
    );
    assert!(
        report.contains("ROOT resource-agent scf-replica"),
        "{report}"
    );

    let params: Vec<Vec<&str>> = report
        .lines()
        .filter(|l| l.starts_with("PARAM "))
        .map(|l| l.split(' ').collect())
        .collect();
    for p in &params {
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(
            ["string", "integer", "boolean", "time"].contains(&p[2]),
            "{p:?}"
        );
        assert_eq!((p[3], p[4]), ("long", "short"), "undescribed: {p:?}");
    }
    let names: Vec<&str> = params.iter().map(|p| p[1]).collect();
    for wanted in [
        "binary",
        "ctl",
        "config",
        "adapter",
        "replicator",
        "management_proxy",
        "extra_args",
        "state_dir",
        "pidfile",
        "ctl_timeout",
    ] {
        assert!(
            names.contains(&wanted),
            "parameter {wanted} missing: {names:?}"
        );
    }

    let actions: Vec<Vec<&str>> = report
        .lines()
        .filter(|l| l.starts_with("ACTION "))
        .map(|l| l.split(' ').collect())
        .collect();
    for a in &actions {
        assert_ne!(a[2], "-", "action without timeout: {a:?}");
        assert!(a[2].trim_end_matches('s').parse::<u32>().is_ok(), "{a:?}");
    }
    let action_names: Vec<&str> = actions.iter().map(|a| a[1]).collect();
    for wanted in [
        "start",
        "stop",
        "promote",
        "demote",
        "monitor",
        "notify",
        "meta-data",
        "validate-all",
    ] {
        assert!(
            action_names.contains(&wanted),
            "action {wanted} missing: {action_names:?}"
        );
    }
    // One monitor per role, with different intervals (Pacemaker needs that).
    let monitors: Vec<&Vec<&str>> = actions.iter().filter(|a| a[1] == "monitor").collect();
    assert_eq!(monitors.len(), 2, "{monitors:?}");
    assert_ne!(monitors[0][3], monitors[1][3]);
    assert_ne!(monitors[0][4], monitors[1][4]);
}

#[test]
fn validate_all_rejects_bad_parameters() {
    let scratch = Scratch::new("scf-ocf-validate");
    let good = Agent::new("scf-validate", &scratch.path, COMPONENT, CTL)
        .with("replicator", "R:tcp -h 127.0.0.1 -p 1");
    assert_eq!(good.code("validate-all"), OCF_SUCCESS);
    for (param, value, code) in [
        ("binary", "/nonexistent/member", OCF_ERR_INSTALLED),
        ("ctl", "/nonexistent/ctl", OCF_ERR_INSTALLED),
        ("ctl_timeout", "soon", OCF_ERR_CONFIGURED),
        ("replicator", "", OCF_ERR_CONFIGURED),
        ("extra_args", "'unclosed", OCF_ERR_CONFIGURED),
        ("config", "/nonexistent/ice.cfg", OCF_ERR_INSTALLED),
    ] {
        assert_eq!(
            good.clone().with(param, value).code("validate-all"),
            code,
            "{param}={value:?}"
        );
    }
    // Probing a stopped resource whose programs are missing answers 7.
    assert_eq!(
        good.with("binary", "/nonexistent/member").code("monitor"),
        OCF_NOT_RUNNING
    );
}

#[test]
fn promotion_scores_tell_pacemaker_which_member_to_promote() {
    let (_replicator, rep) = replicator();
    let scratch = Scratch::new("scf-ocf-score");
    // A stand-in for Pacemaker's crm_attribute that records its calls.
    let sbin = scratch.path.join("sbin");
    std::fs::create_dir_all(&sbin).unwrap();
    let calls = scratch.path.join("calls");
    let shim = sbin.join("crm_attribute");
    std::fs::write(
        &shim,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", calls.display()),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        sbin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let agent = agent("scf-score", &scratch, &rep)
        .with_env("PATH", &path)
        .with_env("HA_SBIN_DIR", &sbin.display().to_string())
        .with_env("OCF_RESKEY_crm_feature_set", "3.16.2");
    let _guard = MemberGuard {
        agents: vec![agent.clone()],
    };
    let calls_now = || std::fs::read_to_string(&calls).unwrap_or_default();

    assert_eq!(agent.code("start"), OCF_SUCCESS);
    assert_eq!(agent.code("monitor"), OCF_SUCCESS);
    assert!(
        calls_now().lines().last() == Some("-p -v 10"),
        "{}",
        calls_now()
    );
    assert_eq!(agent.code("promote"), OCF_SUCCESS);
    assert_eq!(agent.code("monitor"), OCF_RUNNING_MASTER);
    assert!(
        calls_now().lines().last() == Some("-p -v 100"),
        "{}",
        calls_now()
    );
    assert_eq!(agent.code("demote"), OCF_SUCCESS);
    assert_eq!(agent.code("stop"), OCF_SUCCESS);
    assert_eq!(calls_now().lines().last(), Some("-p -D"), "{}", calls_now());
    // Monitoring a stopped member leaves the score alone.
    let before = calls_now();
    assert_eq!(agent.code("monitor"), OCF_NOT_RUNNING);
    assert_eq!(calls_now(), before);
}

#[test]
fn start_fails_cleanly_when_the_member_cannot_start() {
    let scratch = Scratch::new("scf-ocf-fail");
    // Nothing listens on port 1: the member fails start-up naming the property.
    let agent = agent(
        "scf-fail",
        &scratch,
        "ChannelServiceXStateReplicator:tcp -h 127.0.0.1 -p 1",
    );
    let _guard = MemberGuard {
        agents: vec![agent.clone()],
    };
    let ran = agent.run("start");
    eprintln!("start: {:?} {}", ran.code, ran.stderr);
    assert_eq!(ran.code, Some(OCF_ERR_GENERIC));
    assert!(
        ran.stderr.contains("the member exited at start-up")
            && ran.stderr.contains("StateReplicatorName"),
        "{}",
        ran.stderr
    );
    assert_eq!(agent.code("monitor"), OCF_NOT_RUNNING);
    assert_eq!(agent.code("stop"), OCF_SUCCESS);
}

/// The same agent runs a redundant replicator pair: both replicators are
/// configured with one client address (a moving address on one host:
/// only the active replicator binds it), started on standby by the agent,
/// one promoted. A ZeroC Python client writes through the active member;
/// the active replicator is SIGKILLed, the agent's monitor sees it
/// stopped, and promoting the standby replicator through the agent
/// restores the service: every acknowledged channel is held by the active
/// member and, after a member failover, by the standby one. The killed
/// replicator, started again, follows the new active one.
#[test]
fn the_agent_runs_a_replicator_pair_and_fails_over_to_the_standby_replicator() {
    let scratch = Scratch::new("scf-ocf-replicators");
    let port = support::free_service_port();
    let address = format!("tcp -h 127.0.0.1 -p {port}");
    let group = format!("ChannelServiceXStateReplicator:{address}");
    let replicator_agent = |name: &str| {
        Agent::new(name, &scratch.path.join(name), REPLICATOR, CTL)
            .with("adapter", "ChannelServiceXReplicator")
            .with("replicator", &group)
            .with(
                "extra_args",
                &format!(
                    "--ChannelServiceXReplicator.Endpoints='{address}' \
                     --ReplicatorManagement.Endpoints='tcp -h 127.0.0.1 -p 0'"
                ),
            )
            .with("ctl_timeout", "2000")
    };
    let (r1, r2) = (replicator_agent("scf-rep-1"), replicator_agent("scf-rep-2"));
    let _guard = MemberGuard {
        agents: vec![r1.clone(), r2.clone()],
    };
    for r in [&r1, &r2] {
        r.expect_code("start", OCF_SUCCESS);
        assert_eq!(r.code("monitor"), OCF_SUCCESS, "{} on standby", r.instance);
    }
    assert_eq!(r1.code("promote"), OCF_SUCCESS);
    assert_eq!(r1.code("monitor"), OCF_RUNNING_MASTER);
    assert_eq!(r2.code("monitor"), OCF_SUCCESS);

    let a = support::spawn_component("rust-active", &group, &[]);
    let b = support::spawn_component("rust-standby", &group, &[]);
    assert_eq!(support::ctl("activate", a.proxy(1), &[]), Some(CTL_ACTIVE));
    let mut client = Client::start(None, a.proxy(0), "r", &[]);
    client.wait_acks(60, Duration::from_secs(60));

    kill_pid(r1.member_pid().unwrap());
    let killed = std::time::Instant::now();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(r1.code("monitor"), OCF_NOT_RUNNING);
    assert_eq!(r2.code("promote"), OCF_SUCCESS);
    assert_eq!(r2.code("monitor"), OCF_RUNNING_MASTER);
    client.wait_acks(1, Duration::from_secs(20));
    eprintln!(
        "replicator failover through the agent: first acknowledged change {:?} after the kill",
        killed.elapsed()
    );
    client.wait_acks(60, Duration::from_secs(60));
    let last = client.stop();
    let acked: BTreeSet<u64> = client.acked.iter().copied().collect();
    assert_eq!(
        acked,
        (1..=last).collect(),
        "every channel acknowledged once"
    );
    assert_eq!(listed_numbers(a.proxy(0), "r", &[]), acked, "active member");
    drop(a);
    assert_eq!(support::ctl("activate", b.proxy(1), &[]), Some(CTL_ACTIVE));
    assert_eq!(
        listed_numbers(b.proxy(0), "r", &[]),
        acked,
        "standby member after failover"
    );

    // The killed replicator comes back on standby, following the new one.
    assert_eq!(r1.code("stop"), OCF_SUCCESS);
    r1.expect_code("start", OCF_SUCCESS);
    assert_eq!(r1.code("monitor"), OCF_SUCCESS);
    let start = std::time::Instant::now();
    while r1
        .member_log()
        .matches("following the active replicator")
        .count()
        < 3
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the restarted replicator does not follow: {}",
            r1.member_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for r in [&r1, &r2] {
        assert_eq!(r.code("stop"), OCF_SUCCESS);
    }
}

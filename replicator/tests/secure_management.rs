//! The split-brain guard: a replica group on `ssl` (replicator, member
//! service, listener and management adapters), the management adapter
//! requiring a client certificate (`IceSSL.VerifyPeer=2`, the default) and
//! trusting only the cluster manager's
//! (`IceSSL.TrustOnly.Server.ChannelServiceXManagement`). A ZeroC Python
//! `replica_ctl.py` with another certificate, or with none, cannot
//! `activate()` the standby member (its connection is refused and the
//! member logs who was refused); the same script and the Rust
//! `replica-ctl` with the manager's certificate can. Certificates are made
//! by the test (rcgen).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use interop_tests::certs::TestPki;
use interop_tests::peers::{replica_ctl, CTL_ACTIVE, CTL_STANDBY};
use support::Scratch;

/// Every adapter of a member, and the replicator, on ssl.
fn ssl_endpoints(adapters: &[&str]) -> Vec<String> {
    adapters
        .iter()
        .map(|a| format!("--{a}.Endpoints=ssl -h 127.0.0.1 -p 0"))
        .collect()
}

#[test]
fn only_the_cluster_manager_drives_a_member_over_ssl() {
    let scratch = Scratch::new("secure-management");
    let pki = TestPki::new(&scratch.path).unwrap();
    for name in ["member", "manager", "intruder"] {
        pki.issue(name, name).unwrap();
    }
    let member_ssl = pki.args(Some("member"));

    let mut replicator_args = ssl_endpoints(&["ChannelServiceXReplicator"]);
    replicator_args.extend(member_ssl.clone());
    let replicator = support::spawn_replicator(&replicator_args);
    let rproxy = replicator.proxy(0).to_owned();
    assert!(rproxy.contains(":ssl "), "replicator proxy {rproxy}");

    let mut member_args = ssl_endpoints(&[
        "ChannelServiceX",
        "ChannelServiceXManagement",
        "ChannelServiceXListener",
    ]);
    member_args.extend(member_ssl);
    member_args.push(
        "--IceSSL.TrustOnly.Server.ChannelServiceXManagement=CN=manager, O=Ice Tests".to_owned(),
    );
    let member = support::spawn_component("standby", &rproxy, &member_args);
    let management = member.proxy(1).to_owned();
    assert!(
        management.contains(":ssl "),
        "management proxy {management}"
    );

    let py = |command: &str, cert: Option<&str>| {
        let mut extra = pki.args(cert);
        extra.push("--Ice.RetryIntervals=-1".to_owned());
        let out = replica_ctl(command, &management, &extra).unwrap();
        eprintln!(
            "replica_ctl.py {command} as {cert:?}: {:?} {} {}",
            out.code,
            out.stdout.trim(),
            out.stderr.trim()
        );
        out.code
    };

    // The member starts on standby; the intruder and a client without a
    // certificate cannot change that, nor even ask.
    assert_eq!(py("status", Some("manager")), Some(CTL_STANDBY));
    assert_ne!(py("activate", Some("intruder")), Some(CTL_ACTIVE));
    assert_ne!(py("activate", None), Some(CTL_ACTIVE));
    assert_ne!(py("status", Some("intruder")), Some(CTL_STANDBY));
    let mut intruder_args = pki.args(Some("intruder"));
    intruder_args.push("--Ice.RetryIntervals=-1".to_owned());
    assert_ne!(
        support::ctl("activate", &management, &intruder_args),
        Some(CTL_ACTIVE)
    );
    assert_eq!(py("status", Some("manager")), Some(CTL_STANDBY));
    // The member said whom it refused.
    let log = member.stderr();
    assert!(
        log.contains("incoming connection refused") && log.contains("CN=intruder"),
        "no refusal naming the intruder in the member's log:\n{log}"
    );

    // The cluster manager's certificate drives it: ZeroC Python, then the
    // Rust replica-ctl.
    assert_eq!(py("activate", Some("manager")), Some(CTL_ACTIVE));
    assert_eq!(py("status", Some("manager")), Some(CTL_ACTIVE));
    let manager_args = pki.args(Some("manager"));
    assert_eq!(support::ctl("standby", &management, &manager_args), Some(0));
    assert_eq!(
        support::ctl("status", &management, &manager_args),
        Some(CTL_STANDBY)
    );
    assert_eq!(
        support::ctl("activate", &management, &manager_args),
        Some(CTL_ACTIVE)
    );
}

/// A SIGKILL failover with the whole replica group on ssl: two Rust
/// members behind the Rust replicator, channels made on the active one by
/// the ZeroC Python client (with a certificate), the active killed, the
/// standby activated by the manager; it serves the same state.
#[test]
fn sigkill_failover_with_the_replica_group_on_ssl() {
    use interop_tests::peers::{channel_client, lines_before_end};
    let scratch = Scratch::new("secure-failover");
    let pki = TestPki::new(&scratch.path).unwrap();
    for name in ["member", "manager", "client"] {
        pki.issue(name, name).unwrap();
    }
    let member_ssl = pki.args(Some("member"));
    let mut replicator_args = ssl_endpoints(&["ChannelServiceXReplicator"]);
    replicator_args.extend(member_ssl.clone());
    let replicator = support::spawn_replicator(&replicator_args);
    let rproxy = replicator.proxy(0).to_owned();
    let mut member_args = ssl_endpoints(&[
        "ChannelServiceX",
        "ChannelServiceXManagement",
        "ChannelServiceXListener",
    ]);
    member_args.extend(member_ssl);
    member_args.push("--IceSSL.TrustOnly.Server.ChannelServiceXManagement=CN=manager".to_owned());
    let mut active = support::spawn_component("active", &rproxy, &member_args);
    let standby = support::spawn_component("standby", &rproxy, &member_args);
    let manager = pki.args(Some("manager"));
    assert_eq!(
        support::ctl("activate", active.proxy(1), &manager),
        Some(CTL_ACTIVE)
    );
    let client = pki.args(Some("client"));
    for i in 0..8 {
        let id = format!("ch{i:02}");
        let out = channel_client(
            active.proxy(0),
            &["create", &id, &format!("sip:{id}")],
            &client,
        )
        .unwrap();
        assert_eq!(out.code, Some(0), "{out:?}");
    }
    let dump = |proxy: &str| {
        let out = channel_client(proxy, &["dump"], &client).unwrap();
        assert_eq!(out.code, Some(0), "dump failed: {}", out.stderr);
        lines_before_end(&out.stdout)
    };
    let before = dump(active.proxy(0));
    assert_eq!(before.len(), 8, "{before:?}");
    active.kill();
    assert_eq!(
        support::ctl("activate", standby.proxy(1), &manager),
        Some(CTL_ACTIVE)
    );
    assert_eq!(dump(standby.proxy(0)), before);
}

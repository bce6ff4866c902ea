//! Two-node failover in network namespaces, as a cluster manager runs it.
//!
//! The test makes three namespaces of its own (names suffixed with its pid):
//! a hub with a bridge (10.77.0.254, where the State Replicator and the
//! client run) and two nodes, each on a veth to the bridge with its own
//! management address (10.77.0.1, 10.77.0.2). The shared service address
//! 10.77.0.100 starts on node 1. Each node runs `channel-service-x` through
//! the OCF agent: its service adapter listens on 0.0.0.0 and publishes the
//! shared address, its management and listener adapters sit on the node's
//! own address. The agent promotes node 1; a ZeroC Python client creates
//! channels through the shared address in a loop; node 1's member is killed
//! with SIGKILL; in the order Pacemaker follows with the constraints of
//! `deploy/pacemaker/pcs-commands.sh`, the address leaves node 1 (`ip addr
//! del`), the agent stops node 1's instance and promotes node 2, and the
//! address starts on node 2 (`ip addr add` and a gratuitous ARP, as IPaddr2
//! does); the client carries on, and every channel it saw acknowledged is in node 2's
//! state. Every namespace (and with it every veth and the bridge) is
//! deleted on drop, also when the test fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use interop_tests::peers::{lines_before_end, Peer, ScriptOutput, PYTHON};
use support::client::Client;
use support::ocf::{
    kill_pid, Agent, MemberGuard, OCF_NOT_RUNNING, OCF_RUNNING_MASTER, OCF_SUCCESS,
};
use support::{find_program, run_bounded, Scratch, COMPONENT, CTL, REPLICATOR};

const HUB_ADDR: &str = "10.77.0.254";
const SHARED_ADDR: &str = "10.77.0.100";
const SERVICE_PORT: u16 = 4070;
const MANAGEMENT_PORT: u16 = 4071;
const REPLICATOR_PORT: u16 = 4061;

fn ip(args: &[&str]) -> ScriptOutput {
    run_bounded(Command::new("ip").args(args), Duration::from_secs(10))
}

fn ip_ok(args: &[&str]) {
    let ran = ip(args);
    assert_eq!(ran.code, Some(0), "ip {}: {}", args.join(" "), ran.stderr);
}

/// The namespaces a test made; dropping deletes them all (the veths and the
/// bridge inside go with them).
#[derive(Debug)]
struct Namespaces {
    hub: String,
    nodes: [String; 2],
    made: Vec<String>,
}

impl Namespaces {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut ns = Namespaces {
            hub: format!("scf-hub-{tag}"),
            nodes: [format!("scf-node1-{tag}"), format!("scf-node2-{tag}")],
            made: Vec::new(),
        };
        for name in [ns.hub.clone(), ns.nodes[0].clone(), ns.nodes[1].clone()] {
            // A leftover of a killed run with the same pid goes first.
            let _ = ip(&["netns", "del", &name]);
            let ran = ip(&["netns", "add", &name]);
            if ran.code != Some(0) {
                panic!(
                    "cannot create network namespace {name} (`ip netns add` exit {:?}: {}). \
                     This test needs the rights to make network namespaces (root, or \
                     CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2.",
                    ran.code,
                    ran.stderr.trim()
                );
            }
            ns.made.push(name);
        }
        ns
    }

    fn node(&self, i: usize) -> &str {
        &self.nodes[i]
    }

    /// `ip -n NS args...`
    fn ip(&self, ns: &str, args: &[&str]) {
        let mut all = vec!["-n", ns];
        all.extend_from_slice(args);
        ip_ok(&all);
    }

    /// The hub's bridge and a veth per node with the node's own address.
    fn wire(&self) {
        let hub = self.hub.as_str();
        self.ip(hub, &["link", "set", "lo", "up"]);
        self.ip(hub, &["link", "add", "br0", "type", "bridge"]);
        self.ip(
            hub,
            &["addr", "add", &format!("{HUB_ADDR}/24"), "dev", "br0"],
        );
        self.ip(hub, &["link", "set", "br0", "up"]);
        for i in 0..2 {
            let node = self.node(i);
            let port = format!("v{}", i + 1);
            self.ip(
                hub,
                &[
                    "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", node,
                ],
            );
            self.ip(hub, &["link", "set", &port, "master", "br0"]);
            self.ip(hub, &["link", "set", &port, "up"]);
            self.ip(node, &["link", "set", "lo", "up"]);
            self.ip(node, &["link", "set", "eth0", "up"]);
            self.ip(
                node,
                &[
                    "addr",
                    "add",
                    &format!("{}/24", node_addr(i)),
                    "dev",
                    "eth0",
                ],
            );
        }
    }

    /// The MAC address of `eth0` in node `i`.
    fn node_mac(&self, i: usize) -> String {
        let ran = ip(&["-n", self.node(i), "-o", "link", "show", "eth0"]);
        ran.stdout
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    }

    /// The hub's neighbour entry for the shared address.
    fn hub_neighbour(&self) -> String {
        ip(&["-n", &self.hub, "neigh", "show", SHARED_ADDR])
            .stdout
            .trim()
            .to_owned()
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.made {
            let ran = ip(&["netns", "del", name]);
            if ran.code != Some(0) {
                eprintln!("could not delete namespace {name}: {}", ran.stderr.trim());
            }
        }
    }
}

fn node_addr(i: usize) -> String {
    format!("10.77.0.{}", i + 1)
}

fn arping() -> PathBuf {
    find_program("arping", &["/usr/sbin/arping", "/usr/bin/arping"]).unwrap_or_else(|| {
        panic!(
            "arping not found: install iputils-arping (scripts/install-ice.sh does) to send the \
             gratuitous ARP that moves the shared address"
        )
    })
}

/// `channel_client.py PROXY dump` run in the hub: the ITEM lines.
fn dump(hub: &str, proxy: &str) -> Vec<String> {
    let script = interop_tests::peers::channel_client_script();
    let ran = run_bounded(
        Command::new("ip")
            .args(["netns", "exec", hub, PYTHON])
            .arg(script)
            .args([proxy, "dump"]),
        Duration::from_secs(60),
    );
    assert_eq!(ran.code, Some(0), "dump: {}", ran.stderr);
    lines_before_end(&ran.stdout)
}

fn node_agent(ns: &Namespaces, i: usize, scratch: &Scratch, replicator: &str) -> Agent {
    let addr = node_addr(i);
    let extra = format!(
        "--ChannelServiceX.Endpoints='tcp -h 0.0.0.0 -p {SERVICE_PORT}' \
         --ChannelServiceX.PublishedEndpoints='tcp -h {SHARED_ADDR} -p {SERVICE_PORT}' \
         --ChannelServiceXManagement.Endpoints='tcp -h {addr} -p {MANAGEMENT_PORT}' \
         --ChannelServiceXListener.Endpoints='tcp -h {addr} -p 0'"
    );
    Agent::new(
        &format!("scf-node{}", i + 1),
        &scratch.path.join(format!("node{}", i + 1)),
        COMPONENT,
        CTL,
    )
    .with("replicator", replicator)
    .with(
        "management_proxy",
        &format!("ChannelServiceXReplica -t:tcp -h {addr} -p {MANAGEMENT_PORT}"),
    )
    .with("extra_args", &extra)
    .with("ctl_timeout", "2000")
    .in_netns(ns.node(i))
}

#[test]
fn failover_between_two_namespaces_moves_the_shared_address_and_keeps_the_state() {
    let arping = arping();
    // Dropped last: the processes below are killed before their namespaces go.
    let ns = Namespaces::new();
    ns.wire();
    let scratch = Scratch::new("scf-netns");

    let replicator = Peer::spawn(
        "scf-replicator",
        Path::new("ip"),
        &[
            "netns".to_owned(),
            "exec".to_owned(),
            ns.hub.clone(),
            REPLICATOR.to_owned(),
            format!("--ChannelServiceXReplicator.Endpoints=tcp -h {HUB_ADDR} -p {REPLICATOR_PORT}"),
        ],
    )
    .unwrap();
    let rep = replicator.proxy(0).to_owned();
    assert!(rep.contains(HUB_ADDR), "{rep}");

    let agents = [
        node_agent(&ns, 0, &scratch, &rep),
        node_agent(&ns, 1, &scratch, &rep),
    ];
    let _members = MemberGuard {
        agents: agents.to_vec(),
    };
    for a in &agents {
        assert_eq!(a.code("monitor"), OCF_NOT_RUNNING);
        a.expect_code("start", OCF_SUCCESS);
        assert_eq!(a.code("monitor"), OCF_SUCCESS);
    }
    // The member publishes the shared address, whichever node it runs on.
    let service = agents[0].ready_fields()[0].clone();
    assert!(
        service.contains(&format!("-h {SHARED_ADDR} -p {SERVICE_PORT}")),
        "{service}"
    );
    assert_eq!(agents[1].ready_fields()[0], service);

    // Node 1 gets the shared address and is promoted.
    let shared = format!("{SHARED_ADDR}/24");
    ns.ip(ns.node(0), &["addr", "add", &shared, "dev", "eth0"]);
    agents[0].expect_code("promote", OCF_SUCCESS);
    assert_eq!(agents[0].code("monitor"), OCF_RUNNING_MASTER);
    assert_eq!(agents[1].code("monitor"), OCF_SUCCESS);

    let mut client = Client::start(Some(&ns.hub), &service, "ch", &[]);
    client.wait_acks(30, Duration::from_secs(30));
    let before_mac = ns.hub_neighbour();
    assert!(before_mac.contains(&ns.node_mac(0)), "{before_mac}");

    // Node 1 fails: its member is killed.
    let killed_at = Instant::now();
    kill_pid(agents[0].member_pid().unwrap());
    let acked_before_kill = client.acked.len();
    assert_eq!(agents[0].code("monitor"), OCF_NOT_RUNNING);

    // What the cluster manager does next, in the order of
    // deploy/pacemaker/pcs-commands.sh: the address leaves node 1 (IPaddr2
    // stop), node 1's instance is stopped, node 2 is promoted, and the
    // address starts on node 2 (IPaddr2 start: add, gratuitous ARP).
    ns.ip(ns.node(0), &["addr", "del", &shared, "dev", "eth0"]);
    assert_eq!(agents[0].code("stop"), OCF_SUCCESS);
    agents[1].expect_code("promote", OCF_SUCCESS);
    assert_eq!(agents[1].code("monitor"), OCF_RUNNING_MASTER);
    ns.ip(ns.node(1), &["addr", "add", &shared, "dev", "eth0"]);
    let promoted_at = Instant::now();
    let garp = run_bounded(
        Command::new("ip")
            .args(["netns", "exec", ns.node(1)])
            .arg(&arping)
            .args(["-U", "-c", "1", "-I", "eth0", SHARED_ADDR]),
        Duration::from_secs(10),
    );
    eprintln!("arping -U: {:?} {}", garp.code, garp.stderr.trim());
    assert_eq!(garp.code, Some(0), "arping: {}", garp.stderr);

    // The client carries on through the same address, now node 2's.
    client.wait_acks(30, Duration::from_secs(40));
    let after_mac = ns.hub_neighbour();
    assert!(
        after_mac.contains(&ns.node_mac(1)),
        "the hub still reaches the shared address at node 1's MAC: {after_mac}"
    );
    let last_attempted = client.stop();
    eprintln!(
        "failover: {} channels acknowledged before the kill, {} in all, {} retries; \
         kill to address on node 2 {:?}; longest time between two acknowledgements {:?}",
        acked_before_kill,
        client.acked.len(),
        client.retries,
        promoted_at - killed_at,
        client.longest_gap()
    );
    assert!(
        client.retries > 0,
        "the client never saw the failover (no retried call)"
    );

    // The replicated state is whole: every acknowledged channel, with what
    // was sent, and nothing the client did not attempt.
    let items = dump(&ns.hub, &service);
    let ids: BTreeSet<u64> = items
        .iter()
        .map(|l| {
            let key = l.split(' ').nth(1).unwrap();
            key.strip_prefix("ch").unwrap().parse::<u64>().unwrap()
        })
        .collect();
    client.assert_kept(&ids, last_attempted);
    for l in &items {
        let fields: Vec<&str> = l.split(' ').collect();
        assert_eq!(fields.len(), 6, "{l}");
        assert_eq!(fields[3], format!("sip:{}@example", fields[1]), "{l}");
    }

    // Node 2 stays the active member.
    assert_eq!(agents[1].code("monitor"), OCF_RUNNING_MASTER);
    for a in &agents {
        assert_eq!(a.code("stop"), OCF_SUCCESS);
        assert_eq!(a.code("monitor"), OCF_NOT_RUNNING);
    }
    drop(client);
    drop(replicator);
}

#[test]
fn namespaces_are_deleted_on_drop() {
    let ns = Namespaces::new();
    let names = ns.made.clone();
    let listed = ip(&["netns", "list"]).stdout;
    for n in &names {
        assert!(listed.contains(n.as_str()), "{n} not made: {listed}");
    }
    // Dropping during a panic (a failed test) cleans up too.
    let caught = std::panic::catch_unwind(move || {
        let _ns = ns;
        panic!("a failing test");
    });
    assert!(caught.is_err());
    let listed = ip(&["netns", "list"]).stdout;
    for n in &names {
        assert!(!listed.contains(n.as_str()), "{n} left behind: {listed}");
    }
}

//! The IceGrid deployment of `deploy/icegrid/` against a real
//! `icegridregistry` (dynamic registration) on loopback: the well-known
//! objects are added by ZeroC's `icegridadmin` from
//! `objects.icegridadmin`, `scf-replicator` and two `channel-service-x`
//! members run with the committed configuration files (addresses
//! overridden for loopback), the members through the OCF agent. A ZeroC
//! Python client calls the well-known `ChannelService` by name, through
//! the locator, before and after a failover (SIGKILL of the active member,
//! the other promoted through the agent), and every acknowledged change is
//! in the new active member's state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use interop_tests::icegrid::Registry;
use interop_tests::peers::channel_client;
use support::client::{listed_numbers, Client};
use support::grid::{admin as icegridadmin, admin_try, Node};
use support::ocf::{kill_pid, Agent, MemberGuard, OCF_RUNNING_MASTER, OCF_SUCCESS};
use support::{free_port, kill_program, Scratch, COMPONENT, CTL, LOOPBACK_REPLICATOR};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/icegrid")
}

fn member_agent(i: usize, scratch: &Scratch, registry: &Registry, port: u16) -> Agent {
    let locator = registry.locator();
    let management = free_port();
    let extra = format!(
        "--Ice.Default.Locator='{locator}' \
         --ChannelServiceX.Endpoints='tcp -h 127.0.0.1 -p {port}' \
         --ChannelServiceX.PublishedEndpoints='tcp -h 127.0.0.1 -p {port}' \
         --ChannelServiceXManagement.Endpoints='tcp -h 127.0.0.1 -p {management}' \
         --ChannelServiceXListener.Endpoints='tcp -h 127.0.0.1 -p 0'"
    );
    let config = deploy_dir().join(format!("node{}.cfg", i + 1));
    Agent::new(
        &format!("scf-grid{}", i + 1),
        &scratch.path.join(format!("node{}", i + 1)),
        COMPONENT,
        CTL,
    )
    .with("config", &config.display().to_string())
    .with("extra_args", &extra)
    .with(
        "management_proxy",
        &format!("ChannelServiceXReplica:tcp -h 127.0.0.1 -p {management}"),
    )
    .with("ctl_timeout", "2000")
}

/// What the registry holds for adapter `ChannelServiceX`, polled (the
/// member updates its registration right after its role changes) until
/// `done` says so or 5 s have passed.
fn registered(registry: &Registry, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let start = Instant::now();
    loop {
        let held = registry
            .adapter_proxies("ChannelServiceX")
            .unwrap_or_default();
        if done(&held) || start.elapsed() > Duration::from_secs(5) {
            return held;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A client looping on `createChannel` through the well-known name.
fn grid_client(registry: &Registry) -> Client {
    Client::start(None, "ChannelService", "grid", &[registry.locator_arg()])
}

#[test]
fn a_zeroc_client_reaches_the_active_member_by_well_known_name_across_a_failover() {
    let registry = Registry::start_with("ScfGrid", &[]).unwrap();
    let objects = std::fs::read_to_string(deploy_dir().join("objects.icegridadmin")).unwrap();
    icegridadmin(&registry, &objects);
    let described = icegridadmin(&registry, "object describe ChannelService\n");
    assert!(
        described.contains("ChannelService -t -e 1.1 @ ChannelServiceX"),
        "{described}"
    );

    // The deployment's configuration, on loopback and with its data
    // directory in the test's scratch space.
    let scratch = Scratch::new("scf-icegrid");
    let data = scratch.path.join("replicator-data");
    std::fs::create_dir_all(&data).unwrap();
    let replicator = support::spawn_replicator(&[
        format!(
            "--Ice.Config={}",
            deploy_dir().join("replicator.cfg").display()
        ),
        registry.locator_arg(),
        LOOPBACK_REPLICATOR.to_owned(),
        format!("--ChannelServiceXReplicator.DataDir={}", data.display()),
    ]);
    assert!(
        replicator.proxy(0).ends_with("@ ChannelServiceXReplicator"),
        "{}",
        replicator.proxy(0)
    );

    let ports = [free_port(), free_port()];
    let agents = [
        member_agent(0, &scratch, &registry, ports[0]),
        member_agent(1, &scratch, &registry, ports[1]),
    ];
    let _members = MemberGuard {
        agents: agents.to_vec(),
    };
    for a in &agents {
        a.expect_code("start", OCF_SUCCESS);
    }
    // Both on standby: neither is registered, so a client by name gets no
    // endpoint at all (never a standby's NotActive).
    assert!(
        registry
            .adapter_proxies("ChannelServiceX")
            .map_or(true, |p| p.iter().all(String::is_empty)),
        "a standby registered its service adapter"
    );
    let locator = [registry.locator_arg()];
    let nobody = channel_client("ChannelService", &["list"], &locator).unwrap();
    assert_ne!(nobody.code, Some(0), "{nobody:?}");
    assert!(!nobody.stdout.contains("NOTACTIVE"), "{nobody:?}");

    // Node 1 promoted: the name leads to it.
    agents[0].expect_code("promote", OCF_SUCCESS);
    let held = registered(&registry, |held| {
        held.iter().any(|p| p.contains(&format!("-p {}", ports[0])))
    });
    assert!(
        held.iter().any(|p| p.contains(&format!("-p {}", ports[0]))),
        "registry holds {held:?}"
    );
    let mut client = grid_client(&registry);
    client.wait_acks(20, Duration::from_secs(30));

    // Node 1 dies; node 2 is promoted through the agent and registers.
    let killed_at = Instant::now();
    kill_pid(agents[0].member_pid().unwrap());
    agents[1].expect_code("promote", OCF_SUCCESS);
    assert_eq!(agents[1].code("monitor"), OCF_RUNNING_MASTER);
    client.wait_acks(20, Duration::from_secs(40));
    let last = client.stop();
    eprintln!(
        "failover through IceGrid: {} acknowledged, {} retries, {:?} from the kill to 20 more",
        client.acked.len(),
        client.retries,
        killed_at.elapsed()
    );
    let held = registered(&registry, |held| {
        held.iter().any(|p| p.contains(&format!("-p {}", ports[1])))
    });
    assert!(
        held.iter().any(|p| p.contains(&format!("-p {}", ports[1])))
            && !held.iter().any(|p| p.contains(&format!("-p {}", ports[0]))),
        "registry holds {held:?}"
    );

    // A fresh client by name reads node 2's state: every acknowledged
    // channel is there.
    client.assert_kept(&listed_numbers("ChannelService", "grid", &locator), last);

    // Stopping the active member unregisters it.
    assert_eq!(agents[1].code("stop"), OCF_SUCCESS);
    assert!(
        registry
            .adapter_proxies("ChannelServiceX")
            .map_or(true, |p| p.iter().all(String::is_empty)),
        "the stopped member is still registered"
    );
    assert_eq!(agents[0].code("stop"), OCF_SUCCESS);
}

/// Kills (SIGKILL) the servers the nodes started, whatever happens.
#[derive(Default)]
struct ServerGuard(Vec<u32>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        for pid in &self.0 {
            kill_program(*pid, &["channel-service", "scf-replicator"]);
        }
    }
}

/// `icegridadmin -e "server pid ID"`, polled until the server runs.
fn server_pid(registry: &Registry, id: &str) -> u32 {
    let start = Instant::now();
    loop {
        let out = admin_try(registry, &format!("server pid {id}"));
        if let Ok(pid) = out.stdout.trim().parse() {
            return pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "server {id} did not start: {} {}",
            out.stdout,
            out.stderr
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `replica-ctl COMMAND PROXY` with the registry as locator; its exit code.
fn ctl(command: &str, proxy: &str, registry: &Registry) -> Option<i32> {
    support::ctl(
        command,
        proxy,
        &[registry.locator_arg(), "--Ctl.Timeout=2000".to_owned()],
    )
}

#[test]
fn icegrid_nodes_run_the_descriptor_and_a_client_follows_the_active_member() {
    let registry = Registry::start_with("ScfGrid", &[]).unwrap();
    let scratch = Scratch::new("scf-icegrid-nodes");
    // Dropped after the nodes (which stop their servers first).
    let mut servers = ServerGuard::default();
    let _nodes: Vec<Node> = ["hub", "node1", "node2"]
        .iter()
        .map(|n| {
            Node::start(
                n,
                &registry,
                &scratch.path,
                &[
                    "--IceGrid.Node.Trace.Activator=1",
                    "--IceGrid.Node.Trace.Adapter=1",
                ],
            )
        })
        .collect();
    let bindir = Path::new(COMPONENT).parent().unwrap().display().to_string();
    let ports = [free_port(), free_port(), free_port()];
    let descriptor = deploy_dir().join("channel-service-x.xml");
    icegridadmin(
        &registry,
        &format!(
            "application add \"{}\" bindir=\"{bindir}\" hub-address=127.0.0.1 \
             node1-address=127.0.0.1 node2-address=127.0.0.1 replicator-port={} \
             node1-management-port={} node2-management-port={}\n",
            descriptor.display(),
            ports[0],
            ports[1],
            ports[2]
        ),
    );
    for id in [
        "ScfReplicator",
        "ChannelServiceX-node1",
        "ChannelServiceX-node2",
    ] {
        servers.0.push(server_pid(&registry, id));
    }
    let replica = |node: &str| format!("ChannelServiceXReplica@ChannelServiceXManagement-{node}");

    // Both members come up on standby, found through the locator.
    let start = Instant::now();
    for node in ["node1", "node2"] {
        while ctl("status", &replica(node), &registry) != Some(3) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{node} never reported standby"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let locator = [registry.locator_arg()];
    let nobody = channel_client("ChannelService", &["list"], &locator).unwrap();
    assert_ne!(nobody.code, Some(0), "{nobody:?}");
    assert!(!nobody.stdout.contains("NOTACTIVE"), "{nobody:?}");

    assert_eq!(ctl("activate", &replica("node1"), &registry), Some(0));
    let mut client = grid_client(&registry);
    client.wait_acks(20, Duration::from_secs(30));

    // The active member dies; its node marks it inactive; node 2 is
    // activated through its management adapter, found by adapter id.
    let killed_at = Instant::now();
    kill_pid(servers.0[1]);
    assert_eq!(ctl("activate", &replica("node2"), &registry), Some(0));
    client.wait_acks(20, Duration::from_secs(40));
    let last = client.stop();
    eprintln!(
        "failover under IceGrid nodes: {} acknowledged, {} retries, {:?} from the kill to 20 more",
        client.acked.len(),
        client.retries,
        killed_at.elapsed()
    );

    client.assert_kept(&listed_numbers("ChannelService", "grid", &locator), last);
    // Node 1's member is restarted by its node (activation "always"), on
    // standby.
    let start = Instant::now();
    let restarted = loop {
        let pid = server_pid(&registry, "ChannelServiceX-node1");
        if pid != servers.0[1] {
            break pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "node1's member was not restarted"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    servers.0.push(restarted);
    while ctl("status", &replica("node1"), &registry) != Some(3) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "node1's member did not come back on standby"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let group = registry
        .adapter_proxies("ChannelServiceXGroup")
        .unwrap_or_default();
    eprintln!("ChannelServiceXGroup: {group:?}");
    assert_eq!(
        group.iter().filter(|p| !p.is_empty()).count(),
        1,
        "only the active member is in the group: {group:?}"
    );
}

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

mod cluster_support;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cluster_support::{
    find_program, kill_pid, Agent, MemberGuard, Scratch, OCF_RUNNING_MASTER, OCF_SUCCESS,
};
use interop_tests::icegrid::Registry;
use interop_tests::peers::{channel_client, Peer, PYTHON};

const REPLICATOR: &str = env!("CARGO_BIN_EXE_scf-replicator");
const COMPONENT: &str = env!("CARGO_BIN_EXE_channel-service-x");
const CTL: &str = env!("CARGO_BIN_EXE_replica-ctl");

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/icegrid")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `icegridadmin` against `registry` with `commands` on its stdin;
/// returns its output.
fn icegridadmin(registry: &Registry, commands: &str) -> String {
    let tool = find_program("icegridadmin", &["/usr/bin/icegridadmin"]).unwrap_or_else(|| {
        panic!("icegridadmin not found: install zeroc-ice-utils (scripts/install-ice.sh does)")
    });
    let mut child = Command::new(tool)
        .arg(registry.locator_arg())
        .args(["-u", "test", "-p", "test"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && !text.contains("error"),
        "icegridadmin failed: {text}"
    );
    text
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
struct Client {
    peer: Peer,
    acked: Vec<u64>,
    retries: usize,
}

impl Client {
    fn start(registry: &Registry) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster_client.py");
        let args = vec![
            script.display().to_string(),
            "ChannelService".to_owned(),
            "grid".to_owned(),
            registry.locator_arg(),
            "--Client.Pause=5".to_owned(),
        ];
        Client {
            peer: Peer::start("cluster_client.py", Path::new(PYTHON), &args).unwrap(),
            acked: Vec::new(),
            retries: 0,
        }
    }

    fn take(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("ACK ") {
            self.acked
                .push(rest.split(' ').next().unwrap().parse().unwrap());
        } else if line.starts_with("RETRY ") {
            self.retries += 1;
        }
        assert!(!line.starts_with("GAVEUP"), "client gave up: {line}");
    }

    fn wait_acks(&mut self, n: usize, limit: Duration) {
        let start = Instant::now();
        let want = self.acked.len() + n;
        while self.acked.len() < want {
            let line = self
                .peer
                .read_line(limit.saturating_sub(start.elapsed()))
                .unwrap_or_else(|e| panic!("client: {e} (acknowledged {:?})", self.acked.last()));
            self.take(&line);
        }
    }

    fn stop(&mut self) -> u64 {
        self.peer.send("stop").unwrap();
        loop {
            let line = self.peer.read_line(Duration::from_secs(20)).unwrap();
            if let Some(n) = line.strip_prefix("DONE ") {
                return n.parse().unwrap();
            }
            self.take(&line);
        }
    }
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

    let replicator = Peer::spawn(
        "scf-replicator",
        Path::new(REPLICATOR),
        &[
            format!(
                "--Ice.Config={}",
                deploy_dir().join("replicator.cfg").display()
            ),
            registry.locator_arg(),
            "--ChannelServiceXReplicator.Endpoints=tcp -h 127.0.0.1 -p 0".to_owned(),
        ],
    )
    .unwrap();
    assert!(
        replicator.proxy(0).ends_with("@ ChannelServiceXReplicator"),
        "{}",
        replicator.proxy(0)
    );

    let scratch = Scratch::new("scf-icegrid");
    let ports = [free_port(), free_port()];
    let agents = [
        member_agent(0, &scratch, &registry, ports[0]),
        member_agent(1, &scratch, &registry, ports[1]),
    ];
    let _members = MemberGuard {
        agents: agents.to_vec(),
    };
    for a in &agents {
        assert_eq!(a.code("start"), OCF_SUCCESS, "{}", a.member_log());
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
    assert_eq!(
        agents[0].code("promote"),
        OCF_SUCCESS,
        "{}",
        agents[0].member_log()
    );
    let held = registered(&registry, |held| {
        held.iter().any(|p| p.contains(&format!("-p {}", ports[0])))
    });
    assert!(
        held.iter().any(|p| p.contains(&format!("-p {}", ports[0]))),
        "registry holds {held:?}"
    );
    let mut client = Client::start(&registry);
    client.wait_acks(20, Duration::from_secs(30));

    // Node 1 dies; node 2 is promoted through the agent and registers.
    let killed_at = Instant::now();
    kill_pid(agents[0].member_pid().unwrap());
    assert_eq!(
        agents[1].code("promote"),
        OCF_SUCCESS,
        "{}",
        agents[1].member_log()
    );
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
    let dump = channel_client("ChannelService", &["list"], &locator).unwrap();
    assert_eq!(dump.code, Some(0), "{dump:?}");
    let ids: BTreeSet<u64> = dump
        .stdout
        .lines()
        .take_while(|l| *l != "END")
        .map(|l| l.strip_prefix("grid").unwrap().parse().unwrap())
        .collect();
    let acked: BTreeSet<u64> = client.acked.iter().copied().collect();
    let lost: Vec<&u64> = acked.difference(&ids).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(ids.iter().all(|n| *n >= 1 && *n <= last), "{ids:?}");

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

/// An `icegridnode` of the test, stopped (SIGTERM, then SIGKILL) on drop
/// together with the servers it started.
struct Node {
    name: String,
    child: std::process::Child,
}

impl Node {
    fn start(name: &str, registry: &Registry, scratch: &Scratch) -> Node {
        let tool = find_program("icegridnode", &["/usr/bin/icegridnode"]).unwrap_or_else(|| {
            panic!("icegridnode not found: install zeroc-icegrid (scripts/install-ice.sh does)")
        });
        let data = scratch.path.join(name);
        let output = scratch.path.join(format!("{name}-out"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&output).unwrap();
        let log = std::fs::File::create(scratch.path.join(format!("{name}.log"))).unwrap();
        let child = Command::new(tool)
            .arg(registry.locator_arg())
            .arg(format!("--IceGrid.Node.Name={name}"))
            .arg("--IceGrid.Node.Endpoints=tcp -h 127.0.0.1")
            .arg(format!("--IceGrid.Node.Data={}", data.display()))
            .arg(format!("--IceGrid.Node.Output={}", output.display()))
            .arg("--IceGrid.Node.Trace.Activator=1")
            .arg("--IceGrid.Node.Trace.Adapter=1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Node {
            name: name.to_owned(),
            child,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("icegridnode {} ignored SIGTERM", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills (SIGKILL) the servers the nodes started, whatever happens.
#[derive(Default)]
struct ServerGuard(Vec<u32>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        for pid in &self.0 {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.contains("channel-service") || cmdline.contains("scf-replicator") {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// `icegridadmin -e "server pid ID"`, polled until the server runs.
fn server_pid(registry: &Registry, id: &str) -> u32 {
    let start = Instant::now();
    loop {
        let tool = find_program("icegridadmin", &["/usr/bin/icegridadmin"]).unwrap();
        let out = cluster_support::run_bounded(
            Command::new(tool).arg(registry.locator_arg()).args([
                "-u",
                "test",
                "-p",
                "test",
                "-e",
                &format!("server pid {id}"),
            ]),
            Duration::from_secs(10),
        );
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
    let out = cluster_support::run_bounded(
        Command::new(CTL)
            .args([command, proxy])
            .arg(registry.locator_arg())
            .arg("--Ctl.Timeout=2000"),
        Duration::from_secs(10),
    );
    eprintln!(
        "replica-ctl {command} {proxy}: {:?} {}",
        out.code,
        out.stderr.trim()
    );
    out.code
}

#[test]
fn icegrid_nodes_run_the_descriptor_and_a_client_follows_the_active_member() {
    let registry = Registry::start_with("ScfGrid", &[]).unwrap();
    let scratch = Scratch::new("scf-icegrid-nodes");
    // Dropped after the nodes (which stop their servers first).
    let mut servers = ServerGuard::default();
    let _nodes: Vec<Node> = ["hub", "node1", "node2"]
        .iter()
        .map(|n| Node::start(n, &registry, &scratch))
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
    let mut client = Client::start(&registry);
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

    let dump = channel_client("ChannelService", &["list"], &locator).unwrap();
    assert_eq!(dump.code, Some(0), "{dump:?}");
    let ids: BTreeSet<u64> = dump
        .stdout
        .lines()
        .take_while(|l| *l != "END")
        .map(|l| l.strip_prefix("grid").unwrap().parse().unwrap())
        .collect();
    let acked: BTreeSet<u64> = client.acked.iter().copied().collect();
    let lost: Vec<&u64> = acked.difference(&ids).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(ids.iter().all(|n| *n >= 1 && *n <= last), "{ids:?}");
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

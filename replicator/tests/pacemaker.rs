//! Under a real Pacemaker: Debian's `corosync` and `pacemaker` started by
//! the test as a one-node cluster on loopback, the agent
//! (`replicator/ocf/scf-replica`, installed by `scripts/install-ocf.sh`)
//! running a replicator pair and a member pair as two promotable clones
//! (two instances each on the one node, one promoted), the members ordered
//! after the replicator's promotion (optionally: a replicator failover
//! must not stop the members). Both replicators share one client
//! address (only the promoted one binds it: a moving address on one host).
//!
//! A ZeroC Python client writes through the active member; the active
//! replicator is SIGKILLed and Pacemaker alone recovers (its monitor sees
//! the loss; with `migration-threshold=1` it promotes the standby
//! replicator, which followed); then the active member is SIGKILLed and
//! Pacemaker promotes the standby member. Cleaned up, the killed replicator
//! starts again on standby and follows the promoted one. Every acknowledged channel,
//! and nothing else, is held by the member active at the end. Prints how
//! long each recovery took, as the client saw it.
//!
//! The cluster's daemons are machine-wide (`/var/lib/pacemaker`): the test
//! erases the cluster configuration when it starts and when it ends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use interop_tests::peers::CTL_ACTIVE;
use support::client::{listed_numbers, Client};
use support::{free_service_port, run_bounded, Scratch, COMPONENT, CTL, REPLICATOR};

const PREFIX: &str = "m";

/// Where Pacemaker's agents keep their state (`HA_RSCTMP`).
const RSCTMP: &str = "/run/resource-agents";

fn program(name: &str) -> PathBuf {
    support::find_program(name, &[&format!("/usr/sbin/{name}")]).unwrap_or_else(|| {
        panic!(
            "{name} not found: install Debian's pacemaker, corosync and pacemaker-cli-utils \
             (scripts/install-ice.sh does)"
        )
    })
}

fn run(cmd: &mut Command) -> String {
    let out = run_bounded(cmd, Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "{cmd:?}: {} {}", out.stdout, out.stderr);
    out.stdout
}

/// corosync and pacemakerd, stopped (and the configuration erased) on drop.
struct Cluster {
    corosync: Child,
    pacemaker: Child,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let conf = dir.join("corosync.conf");
        std::fs::write(
            &conf,
            format!(
                "totem {{\n version: 2\n cluster_name: scftest\n crypto_cipher: none\n crypto_hash: none\n}}\n\
                 logging {{\n to_stderr: no\n to_logfile: yes\n logfile: {}\n to_syslog: no\n}}\n\
                 quorum {{\n provider: corosync_votequorum\n}}\n\
                 nodelist {{\n node {{\n  name: node1\n  nodeid: 1\n  ring0_addr: 127.0.0.1\n }}\n}}\n",
                dir.join("corosync.log").display()
            ),
        )
        .unwrap();
        let corosync = Command::new(program("corosync"))
            .args(["-f", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !run_bounded(
            Command::new(program("corosync-quorumtool")).arg("-s"),
            Duration::from_secs(10),
        )
        .stdout
        .contains("Quorate:          Yes")
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "corosync is not quorate"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let pacemaker = Command::new(program("pacemakerd"))
            .arg("-f")
            .env("PCMK_logfile", dir.join("pacemaker.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let cluster = Cluster {
            corosync,
            pacemaker,
        };
        let start = Instant::now();
        loop {
            let out = run_bounded(
                Command::new(program("crm_mon")).arg("-1"),
                Duration::from_secs(10),
            );
            if out.stdout.contains("Current DC: node1") && out.stdout.contains("Online: [ node1 ]")
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "pacemaker did not come up: {} {}",
                out.stdout,
                out.stderr
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        run(Command::new(program("cibadmin")).args(["--erase", "--force"]));
        for (name, value) in [
            ("stonith-enabled", "false"),
            ("no-quorum-policy", "ignore"),
            ("cluster-recheck-interval", "5s"),
        ] {
            run(Command::new(program("crm_attribute")).args([
                "--type",
                "crm_config",
                "--name",
                name,
                "--update",
                value,
            ]));
        }
        cluster
    }

    fn create(&self, scope: &str, xml: &str) {
        run(Command::new(program("cibadmin")).args([
            "--create",
            "--scope",
            scope,
            "--xml-text",
            xml,
        ]));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Pacemaker stops every resource, then the configuration goes.
        let _ = run_bounded(
            Command::new(program("crm_attribute")).args([
                "--type",
                "crm_config",
                "--name",
                "stop-all-resources",
                "--update",
                "true",
            ]),
            Duration::from_secs(20),
        );
        let all = || {
            instances("scf-rep")
                .into_iter()
                .chain(instances("scf-member"))
        };
        let start = Instant::now();
        while all().any(|i| i.pid().is_some()) && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(200));
        }
        // Whatever still runs (the test failed half-way) is killed.
        for i in all() {
            if let Some(pid) = i.pid() {
                support::kill_program(pid, &["scf-replicator", "channel-service"]);
            }
        }
        let _ = run_bounded(
            Command::new(program("cibadmin")).args(["--erase", "--force"]),
            Duration::from_secs(20),
        );
        for child in [&mut self.pacemaker, &mut self.corosync] {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let start = Instant::now();
            while child.try_wait().ok().flatten().is_none()
                && start.elapsed() < Duration::from_secs(30)
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One clone instance as the agent left it in its state directory.
#[derive(Debug)]
struct Instance {
    dir: PathBuf,
}

impl Instance {
    fn ready(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("ready"))
            .ok()
            .and_then(|s| s.lines().find_map(interop_tests::peers::parse_ready))
            .unwrap_or_default()
    }

    fn pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.dir.join("member.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // A zombie (not reaped yet) is not running.
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        (!status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')))
        .then_some(pid)
    }

    fn active(&self) -> bool {
        let ready = self.ready();
        self.pid().is_some()
            && ready.len() == 2
            && support::ctl("status", &ready[1], &[]) == Some(CTL_ACTIVE)
    }
}

/// The instances of clone `resource` (their state directories).
fn instances(resource: &str) -> Vec<Instance> {
    let prefix = format!("scf-replica-{resource}_");
    std::fs::read_dir(RSCTMP)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| Instance { dir: e.path() })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until one instance of `resource` runs active, and returns it.
fn wait_active(resource: &str, limit: Duration) -> Instance {
    let start = Instant::now();
    loop {
        if let Some(i) = instances(resource).into_iter().find(Instance::active) {
            return i;
        }
        assert!(
            start.elapsed() < limit,
            "no active {resource}: {}",
            run_bounded(
                Command::new(program("crm_mon")).arg("-1"),
                Duration::from_secs(10)
            )
            .stdout
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn nvpairs(id: &str, pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| {
            format!(
                r#"<nvpair id="{id}-{n}" name="{n}" value="{}"/>"#,
                v.replace('&', "&amp;")
                    .replace('"', "&quot;")
                    .replace('<', "&lt;")
            )
        })
        .collect()
}

/// A promotable, globally unique clone of the agent with two instances on
/// the one node.
fn clone(id: &str, params: &[(&str, &str)]) -> String {
    let meta = nvpairs(
        &format!("{id}-meta"),
        &[
            ("promotable", "true"),
            ("promoted-max", "1"),
            ("clone-max", "2"),
            ("clone-node-max", "2"),
            ("globally-unique", "true"),
            // A failed instance is not started again on the node (until a
            // cleanup): the other instance, which followed, is promoted.
            ("migration-threshold", "1"),
        ],
    );
    let attrs = nvpairs(&format!("{id}-attrs"), params);
    format!(
        r#"<clone id="{id}-clone"><meta_attributes id="{id}-meta">{meta}</meta_attributes>
<primitive id="{id}" class="ocf" provider="asterisk-scf" type="scf-replica">
<instance_attributes id="{id}-attrs">{attrs}</instance_attributes>
<operations>
<op id="{id}-start" name="start" interval="0" timeout="30s"/>
<op id="{id}-stop" name="stop" interval="0" timeout="30s"/>
<op id="{id}-promote" name="promote" interval="0" timeout="20s"/>
<op id="{id}-demote" name="demote" interval="0" timeout="20s"/>
<op id="{id}-mon-p" name="monitor" interval="1s" timeout="20s" role="Promoted"/>
<op id="{id}-mon-u" name="monitor" interval="2s" timeout="20s" role="Unpromoted"/>
</operations></primitive></clone>"#
    )
}

#[test]
fn pacemaker_fails_over_the_replicator_and_the_member_with_every_acknowledged_change() {
    let scratch = Scratch::new("scf-pacemaker");
    let install = run_bounded(
        &mut Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-ocf.sh")),
        Duration::from_secs(20),
    );
    assert_eq!(install.code, Some(0), "install-ocf.sh: {}", install.stderr);
    for old in instances("scf-rep")
        .into_iter()
        .chain(instances("scf-member"))
    {
        let _ = std::fs::remove_dir_all(&old.dir);
    }
    let cluster = Cluster::start(&scratch.path);
    let address = format!("tcp -h 127.0.0.1 -p {}", free_service_port());
    let group = format!("ChannelServiceXStateReplicator:{address}");
    let extra = format!(
        "--ChannelServiceXReplicator.Endpoints='{address}' \
         --ReplicatorManagement.Endpoints='tcp -h 127.0.0.1 -p 0'"
    );
    cluster.create(
        "resources",
        &clone(
            "scf-rep",
            &[
                ("binary", REPLICATOR),
                ("ctl", CTL),
                ("adapter", "ChannelServiceXReplicator"),
                ("replicator", &group),
                ("extra_args", &extra),
                ("ctl_timeout", "2000"),
            ],
        ),
    );
    cluster.create(
        "resources",
        &clone(
            "scf-member",
            &[
                ("binary", COMPONENT),
                ("ctl", CTL),
                ("replicator", &group),
                ("ctl_timeout", "2000"),
            ],
        ),
    );
    cluster.create(
        "constraints",
        r#"<rsc_order id="members-after-replicator" first="scf-rep-clone" first-action="promote" then="scf-member-clone" then-action="start" kind="Optional"/>"#,
    );
    let replicator = wait_active("scf-rep", Duration::from_secs(120));
    let member = wait_active("scf-member", Duration::from_secs(120));
    eprintln!("promoted by pacemaker: {replicator:?}, {member:?}");

    let mut client = Client::start(
        None,
        &member.ready()[0],
        PREFIX,
        &["--Client.GiveUp=60000".to_owned()],
    );
    client.wait_acks(50, Duration::from_secs(60));

    // The active replicator dies: Pacemaker recovers on its own.
    support::kill_program(replicator.pid().unwrap(), &["scf-replicator"]);
    let killed = Instant::now();
    client.wait_acks(1, Duration::from_secs(90));
    let replicator_recovery = killed.elapsed();
    client.wait_acks(50, Duration::from_secs(60));
    let killed_replicator = replicator.dir.clone();
    let replicator = wait_active("scf-rep", Duration::from_secs(60));
    assert_ne!(
        replicator.dir, killed_replicator,
        "pacemaker promoted the standby replicator"
    );
    eprintln!(
        "replicator failover by pacemaker: changes acknowledged again {replicator_recovery:?} \
         after the kill; active now {replicator:?}"
    );
    let last = client.stop();
    let acked: BTreeSet<u64> = client.acked.iter().copied().collect();
    assert_eq!(
        acked,
        (1..=last).collect(),
        "every channel acknowledged once"
    );
    assert_eq!(
        listed_numbers(&member.ready()[0], PREFIX, &[]),
        acked,
        "active member"
    );

    // The active member dies: Pacemaker promotes a member, which holds
    // exactly the acknowledged channels.
    let killed_member = member.dir.clone();
    support::kill_program(member.pid().unwrap(), &["channel-service"]);
    let killed = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let member = wait_active("scf-member", Duration::from_secs(90));
    assert_ne!(
        member.dir, killed_member,
        "pacemaker promoted the standby member"
    );
    eprintln!(
        "member failover by pacemaker: {:?} after the kill, active now {member:?}",
        killed.elapsed()
    );
    assert_eq!(
        listed_numbers(&member.ready()[0], PREFIX, &[]),
        acked,
        "the member pacemaker promoted"
    );

    // Cleaned up, the killed replicator starts again, on standby,
    // following the promoted one.
    let restarted = Instance {
        dir: killed_replicator,
    };
    let log = || std::fs::read_to_string(restarted.dir.join("member.log")).unwrap_or_default();
    // The agent appends each run's log: only what follows counts.
    let before = log().len();
    run(Command::new(program("crm_resource")).args(["--cleanup", "--resource", "scf-rep-clone"]));
    let start = Instant::now();
    let following = || {
        log()
            .get(before..)
            .is_some_and(|new| new.matches("following the active replicator").count() >= 3)
    };
    while !following() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the restarted replicator does not follow"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!restarted.active(), "restarted on standby");
    drop(cluster);
}

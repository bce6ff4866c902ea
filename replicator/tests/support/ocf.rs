//! The OCF agent (`replicator/ocf/scf-replica`) run as Pacemaker runs it
//! (OCF environment, one action per call, a wall-clock bound), and a guard
//! that kills the member an agent started when a test ends early.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use interop_tests::peers::ScriptOutput;

use super::run_bounded;

/// OCF return codes (OCF resource agent API).
pub const OCF_SUCCESS: i32 = 0;
/// The action failed.
pub const OCF_ERR_GENERIC: i32 = 1;
/// The agent's parameters are wrong.
pub const OCF_ERR_CONFIGURED: i32 = 6;
/// A program the agent needs is missing.
pub const OCF_ERR_INSTALLED: i32 = 5;
/// The resource is stopped.
pub const OCF_NOT_RUNNING: i32 = 7;
/// The resource runs promoted (the active member).
pub const OCF_RUNNING_MASTER: i32 = 8;

/// `replicator/ocf/scf-replica`.
pub fn agent_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ocf/scf-replica")
}

/// The OCF agent configured for one resource instance, optionally run
/// inside a network namespace (`ip netns exec NS`).
#[derive(Debug, Clone)]
pub struct Agent {
    /// The resource instance name (`OCF_RESOURCE_INSTANCE`).
    pub instance: String,
    /// `OCF_RESKEY_<name>` parameters.
    pub params: Vec<(String, String)>,
    /// The network namespace to run in, if any.
    pub netns: Option<String>,
    /// The state directory (parameter `state_dir`).
    pub state_dir: PathBuf,
    /// More environment variables for the agent.
    pub env: Vec<(String, String)>,
}

/// How long one agent action may take before the test gives up on it.
pub const ACTION_LIMIT: Duration = Duration::from_secs(40);

impl Agent {
    /// An agent for `instance` whose state lives in `state_dir`, with the
    /// member and management programs built by this workspace.
    pub fn new(instance: &str, state_dir: &Path, binary: &str, ctl: &str) -> Self {
        Agent {
            instance: instance.to_owned(),
            params: vec![
                ("binary".to_owned(), binary.to_owned()),
                ("ctl".to_owned(), ctl.to_owned()),
                ("state_dir".to_owned(), state_dir.display().to_string()),
            ],
            netns: None,
            state_dir: state_dir.to_path_buf(),
            env: Vec::new(),
        }
    }

    /// Adds (or replaces) a parameter.
    #[must_use]
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets an environment variable for the agent.
    #[must_use]
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs the agent in network namespace `ns`.
    #[must_use]
    pub fn in_netns(mut self, ns: &str) -> Self {
        self.netns = Some(ns.to_owned());
        self
    }

    /// The `-o name=value` arguments of `ocf-tester`.
    pub fn tester_args(&self) -> Vec<OsString> {
        self.params
            .iter()
            .flat_map(|(n, v)| [OsString::from("-o"), OsString::from(format!("{n}={v}"))])
            .collect()
    }

    /// Runs one action as Pacemaker would (OCF environment variables, a
    /// 20 s `CRM_meta_timeout`), bounded by [`ACTION_LIMIT`].
    pub fn run(&self, action: &str) -> ScriptOutput {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(agent_path());
                c
            }
            None => Command::new(agent_path()),
        };
        cmd.arg(action)
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RA_VERSION_MAJOR", "1")
            .env("OCF_RA_VERSION_MINOR", "0")
            .env("OCF_RESOURCE_INSTANCE", &self.instance)
            .env("OCF_RESOURCE_TYPE", "scf-replica")
            .env("OCF_RESKEY_CRM_meta_timeout", "20000")
            .env(
                "OCF_RESKEY_CRM_meta_interval",
                if action == "monitor" { "10000" } else { "0" },
            );
        for (n, v) in &self.params {
            cmd.env(format!("OCF_RESKEY_{n}"), v);
        }
        for (n, v) in &self.env {
            cmd.env(n, v);
        }
        run_bounded(&mut cmd, ACTION_LIMIT)
    }

    /// Runs `action` and returns its exit code (`-1` when it was killed),
    /// logging what it printed.
    pub fn code(&self, action: &str) -> i32 {
        let ran = self.run(action);
        eprintln!(
            "[{}] {action}: {:?} in {:?} {}",
            self.instance,
            ran.code,
            ran.elapsed,
            ran.stderr.trim()
        );
        ran.code.unwrap_or(-1)
    }

    /// Runs `action` and asserts it returned `code`, with the member's
    /// log in the message when it did not.
    pub fn expect_code(&self, action: &str, code: i32) {
        assert_eq!(
            self.code(action),
            code,
            "{action} on {}: member log:\n{}",
            self.instance,
            self.member_log()
        );
    }

    /// The pid of the member this agent started (from its pid file).
    pub fn member_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.state_dir.join("member.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// The fields of the member's READY line (service proxy, Replica proxy).
    pub fn ready_fields(&self) -> Vec<String> {
        std::fs::read_to_string(self.state_dir.join("ready"))
            .ok()
            .and_then(|s| s.lines().find_map(interop_tests::peers::parse_ready))
            .unwrap_or_default()
    }

    /// The member's log (its stderr).
    pub fn member_log(&self) -> String {
        std::fs::read_to_string(self.state_dir.join("member.log")).unwrap_or_default()
    }
}

/// Kills (SIGKILL) the member `pid` if it still runs and still is a
/// member or a replicator (a recycled pid is left alone).
pub fn kill_pid(pid: u32) {
    super::kill_program(pid, &["channel-service", "scf-replicator"]);
}

/// Kills whatever member the agents started when dropped (a test that
/// fails half-way leaves no process behind).
#[derive(Debug, Default)]
pub struct MemberGuard {
    /// The agents whose members to kill.
    pub agents: Vec<Agent>,
}

impl Drop for MemberGuard {
    fn drop(&mut self) {
        for a in &self.agents {
            if let Some(pid) = a.member_pid() {
                kill_pid(pid);
            }
        }
    }
}

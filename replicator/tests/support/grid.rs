//! ZeroC's IceGrid tools as the tests run them against an
//! `interop_tests::icegrid::Registry`: `icegridadmin` (as user `test`) and
//! `icegridnode`, stopped with the servers it started when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use interop_tests::icegrid::Registry;
use interop_tests::peers::{run_bounded_with_input, ScriptOutput};

use super::find_program;

/// How long one `icegridadmin` run may take.
const ADMIN_LIMIT: Duration = Duration::from_secs(30);

fn tool(name: &str, package: &str) -> PathBuf {
    find_program(name, &[&format!("/usr/bin/{name}")]).unwrap_or_else(|| {
        panic!("{name} not found: install {package} (scripts/install-ice.sh does)")
    })
}

fn admin_command(registry: &Registry) -> Command {
    let mut cmd = Command::new(tool("icegridadmin", "zeroc-ice-utils"));
    cmd.arg(registry.locator_arg())
        .args(["-u", "test", "-p", "test"]);
    cmd
}

/// `icegridadmin -e COMMAND` against `registry`, whatever it answers.
pub fn admin_try(registry: &Registry, command: &str) -> ScriptOutput {
    run_bounded_with_input(
        admin_command(registry).args(["-e", command]),
        None,
        ADMIN_LIMIT,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `icegridadmin` against `registry` with `commands` on its stdin; asserts
/// it succeeded and returns what it printed.
pub fn admin(registry: &Registry, commands: &str) -> String {
    let out = run_bounded_with_input(&mut admin_command(registry), Some(commands), ADMIN_LIMIT)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        out.code == Some(0) && !text.contains("error"),
        "icegridadmin failed: {text}"
    );
    text
}

/// An `icegridnode` of the test, stopped (SIGTERM, then SIGKILL) on drop
/// together with the servers it started.
pub struct Node {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Node {
    /// Starts node `name` of `registry`, its data, output and log under
    /// `dir`, with `traces` (`--IceGrid.Node.Trace.X=1` arguments).
    pub fn start(name: &str, registry: &Registry, dir: &Path, traces: &[&str]) -> Node {
        let data = dir.join(name);
        let output = dir.join(format!("{name}-out"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&output).unwrap();
        let log_path = dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(tool("icegridnode", "zeroc-icegrid"))
            .arg(registry.locator_arg())
            .arg(format!("--IceGrid.Node.Name={name}"))
            .arg("--IceGrid.Node.Endpoints=tcp -h 127.0.0.1")
            .arg(format!("--IceGrid.Node.Data={}", data.display()))
            .arg(format!("--IceGrid.Node.Output={}", output.display()))
            .args(traces)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Node {
            name: name.to_owned(),
            child,
            log: log_path,
        }
    }

    /// What the node printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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

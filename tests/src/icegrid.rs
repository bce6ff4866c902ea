//! A real IceGrid registry for tests: [`Registry::start`] runs ZeroC's
//! `icegridregistry` (package `zeroc-icegrid`) on loopback with a fresh
//! LMDB directory and dynamic registration, waits until it serves, and
//! kills it (and removes its directory) when dropped.
//!
//! The registry is started with these properties (see
//! [`Registry::properties`]):
//!
//! - `IceGrid.InstanceName=<instance>` (the locator is `<instance>/Locator`),
//! - `IceGrid.Registry.Client.Endpoints=tcp -h 127.0.0.1 -p <free port>`,
//! - `IceGrid.Registry.Server.Endpoints=tcp -h 127.0.0.1`,
//! - `IceGrid.Registry.Internal.Endpoints=tcp -h 127.0.0.1`,
//! - `IceGrid.Registry.LMDB.Path=<temp dir>`, `IceGrid.Registry.LMDB.MapSize=16`,
//! - `IceGrid.Registry.DynamicRegistration=1` (adapters register without a
//!   deployment),
//! - `IceGrid.Registry.AdminPermissionsVerifier=<instance>/NullPermissionsVerifier`
//!   (any user and password may open an admin session),
//! - `IceGrid.Registry.Discovery.Enabled=0` (no multicast).
//!
//! Well-known objects are added and removed through the registry's
//! `IceGrid::Admin` interface, by a short ZeroC Python script
//! ([`Registry::add_object`]); the `icegridadmin` tool is not needed.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::peers::PYTHON;

/// The registry binary.
pub const ICEGRIDREGISTRY: &str = "icegridregistry";

/// How long [`Registry::start`] waits for the registry to serve.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long an admin script may run.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(20);

/// What went wrong starting or driving a registry.
#[derive(Debug)]
#[non_exhaustive]
pub enum IceGridError {
    /// A process or file could not be started, read or written.
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// The registry exited or did not serve in time.
    NotReady {
        /// What happened.
        reason: String,
        /// The registry's log.
        log: String,
    },
    /// An admin script failed.
    Admin {
        /// The command.
        what: String,
        /// Its stderr.
        stderr: String,
    },
}

impl fmt::Display for IceGridError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IceGridError::Io { what, source } => write!(
                f,
                "{what}: {source} (is zeroc-icegrid installed? run scripts/install-ice.sh)"
            ),
            IceGridError::NotReady { reason, log } => {
                write!(f, "icegridregistry {reason}; its log:\n{log}")
            }
            IceGridError::Admin { what, stderr } => write!(f, "{what} failed:\n{stderr}"),
        }
    }
}

impl std::error::Error for IceGridError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IceGridError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A `Result` with an [`IceGridError`].
pub type Result<T> = std::result::Result<T, IceGridError>;

fn io_err(what: impl fmt::Display) -> impl FnOnce(io::Error) -> IceGridError {
    let what = what.to_string();
    move |source| IceGridError::Io { what, source }
}

/// A running `icegridregistry`, killed on drop.
#[derive(Debug)]
pub struct Registry {
    child: Option<Child>,
    dir: PathBuf,
    instance: String,
    port: u16,
}

/// A free loopback port (bound and released; the registry binds it next).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io_err("binding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io_err("reading a bound port"))?
        .port();
    Ok(port)
}

/// A new empty directory under the system's temp dir.
fn fresh_dir() -> Result<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "icegrid-test-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    fs::create_dir_all(dir.join("db")).map_err(io_err(format!("creating {}", dir.display())))?;
    Ok(dir)
}

/// Whether an Ice server answers on `port`: it sends a validate-connection
/// message (magic `IceP`, type 3) as soon as it accepts.
fn ice_serves(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut header = [0u8; 14];
    stream.read_exact(&mut header).is_ok() && &header[..4] == b"IceP" && header[8] == 3
}

impl Registry {
    /// Starts a registry with instance name `TestGrid`.
    ///
    /// # Errors
    /// When `icegridregistry` cannot be started or does not serve within
    /// [`START_TIMEOUT`].
    pub fn start() -> Result<Self> {
        Self::start_with("TestGrid", &[])
    }

    /// Starts a registry with `instance` as its instance name and `extra`
    /// properties (`--Name=value`) after the defaults.
    ///
    /// # Errors
    /// As [`Registry::start`].
    pub fn start_with(instance: &str, extra: &[&str]) -> Result<Self> {
        let mut last = None;
        // A port picked free may be taken before the registry binds it: retry.
        for _ in 0..3 {
            match Self::try_start(instance, extra) {
                Ok(r) => return Ok(r),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| IceGridError::NotReady {
            reason: "never started".into(),
            log: String::new(),
        }))
    }

    fn try_start(instance: &str, extra: &[&str]) -> Result<Self> {
        let dir = fresh_dir()?;
        let port = free_port()?;
        let log_path = dir.join("registry.log");
        let log = fs::File::create(&log_path).map_err(io_err("creating the registry log"))?;
        let log2 = log
            .try_clone()
            .map_err(io_err("cloning the registry log"))?;
        let child = Command::new(ICEGRIDREGISTRY)
            .args(Self::properties(instance, port, &dir.join("db")))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(io_err(format!("starting {ICEGRIDREGISTRY}")))?;
        let mut registry = Registry {
            child: Some(child),
            dir,
            instance: instance.to_owned(),
            port,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = registry.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(IceGridError::NotReady {
                        reason: format!("exited with {status}"),
                        log: registry.log(),
                    });
                }
            }
            if ice_serves(port) {
                return Ok(registry);
            }
            if Instant::now() > deadline {
                return Err(IceGridError::NotReady {
                    reason: format!("did not serve on port {port} within {START_TIMEOUT:?}"),
                    log: registry.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The command-line properties a registry is started with.
    #[must_use]
    pub fn properties(instance: &str, port: u16, db: &Path) -> Vec<String> {
        vec![
            format!("--IceGrid.InstanceName={instance}"),
            format!("--IceGrid.Registry.Client.Endpoints=tcp -h 127.0.0.1 -p {port}"),
            "--IceGrid.Registry.Server.Endpoints=tcp -h 127.0.0.1".into(),
            "--IceGrid.Registry.Internal.Endpoints=tcp -h 127.0.0.1".into(),
            format!("--IceGrid.Registry.LMDB.Path={}", db.display()),
            "--IceGrid.Registry.LMDB.MapSize=16".into(),
            "--IceGrid.Registry.DynamicRegistration=1".into(),
            format!(
                "--IceGrid.Registry.AdminPermissionsVerifier={instance}/NullPermissionsVerifier"
            ),
            "--IceGrid.Registry.Discovery.Enabled=0".into(),
        ]
    }

    /// The instance name.
    #[must_use]
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The client port (where the locator listens).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The stringified locator proxy: `<instance>/Locator:tcp -h 127.0.0.1 -p <port>`.
    #[must_use]
    pub fn locator(&self) -> String {
        format!(
            "{}/Locator:tcp -h 127.0.0.1 -p {}",
            self.instance, self.port
        )
    }

    /// `--Ice.Default.Locator=<locator>`, for a peer's command line.
    #[must_use]
    pub fn locator_arg(&self) -> String {
        format!("--Ice.Default.Locator={}", self.locator())
    }

    /// What the registry has printed so far.
    #[must_use]
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// Runs an admin script: Python code using `admin` (an
    /// `IceGrid::AdminPrx` of an open admin session), `communicator`,
    /// `Ice`, `IceGrid` and `args` (the strings after the script).
    fn admin(&self, what: &str, body: &str, args: &[&str]) -> Result<String> {
        let script = format!(
            "import sys, Ice, IceGrid\n\
             args = sys.argv[1:]\n\
             with Ice.initialize(['admin', '--Ice.Default.Locator={locator}']) as communicator:\n\
             \x20   registry = IceGrid.RegistryPrx.checkedCast(communicator.stringToProxy('{instance}/Registry'))\n\
             \x20   session = registry.createAdminSession('test', 'test')\n\
             \x20   admin = session.getAdmin()\n\
             \x20   try:\n\
             {body}\n\
             \x20   finally:\n\
             \x20       session.destroy()\n",
            locator = self.locator(),
            instance = self.instance,
            body = body
                .lines()
                .map(|l| format!("        {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let mut child = Command::new(PYTHON)
            .arg("-c")
            .arg(&script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_err(format!("running {PYTHON} for {what}")))?;
        let deadline = Instant::now() + ADMIN_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(IceGridError::Admin {
                        what: what.to_owned(),
                        stderr: format!("timed out after {ADMIN_TIMEOUT:?}"),
                    });
                }
            }
        }
        let output = child
            .wait_with_output()
            .map_err(io_err(format!("waiting for {what}")))?;
        if !output.status.success() {
            return Err(IceGridError::Admin {
                what: what.to_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Adds a well-known object: `proxy` (for example `tester@MyAdapter`)
    /// of Slice type `type_id` (`IceGrid::Admin::addObjectWithType`).
    ///
    /// # Errors
    /// When the admin session or the call fails (for example, the
    /// identity is already registered).
    pub fn add_object(&self, proxy: &str, type_id: &str) -> Result<()> {
        self.admin(
            &format!("adding well-known object {proxy}"),
            "admin.addObjectWithType(communicator.stringToProxy(args[0]), args[1])",
            &[proxy, type_id],
        )
        .map(drop)
    }

    /// Replaces the proxy of an existing well-known object
    /// (`IceGrid::Admin::updateObject`).
    ///
    /// # Errors
    /// As [`Registry::add_object`].
    pub fn update_object(&self, proxy: &str) -> Result<()> {
        self.admin(
            &format!("updating well-known object {proxy}"),
            "admin.updateObject(communicator.stringToProxy(args[0]))",
            &[proxy],
        )
        .map(drop)
    }

    /// Removes the well-known object with stringified identity `identity`
    /// (`IceGrid::Admin::removeObject`).
    ///
    /// # Errors
    /// As [`Registry::add_object`].
    pub fn remove_object(&self, identity: &str) -> Result<()> {
        self.admin(
            &format!("removing well-known object {identity}"),
            "admin.removeObject(Ice.stringToIdentity(args[0]))",
            &[identity],
        )
        .map(drop)
    }

    /// The stringified proxy the registry holds for adapter `id`
    /// (`IceGrid::Admin::getAdapterInfo`), one line per replica; empty
    /// when the adapter is registered without endpoints.
    ///
    /// # Errors
    /// As [`Registry::add_object`]; also when the adapter is unknown.
    pub fn adapter_proxies(&self, id: &str) -> Result<Vec<String>> {
        let out = self.admin(
            &format!("reading adapter {id}"),
            "for info in admin.getAdapterInfo(args[0]):\n    print(communicator.proxyToString(info.proxy) if info.proxy else '')",
            &[id],
        )?;
        Ok(out.lines().map(str::to_owned).collect())
    }

    /// Kills the registry and removes its directory.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

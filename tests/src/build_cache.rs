//! Builds cached per source version and shared between test processes: a
//! build script runs once per hash of its sources, into a scratch folder
//! moved into place under a lock folder, so that parallel test binaries
//! wait for one build instead of racing (a lock whose builder died is taken
//! over once stale).

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// How long a build lock may be held before it is presumed stale (its
/// builder crashed).
const STALE_LOCK: Duration = Duration::from_secs(15 * 60);
const POLL: Duration = Duration::from_millis(500);

/// What went wrong hashing the sources, waiting for the lock or building.
#[derive(Debug)]
#[non_exhaustive]
pub enum CacheError {
    /// A file or folder could not be read, written or run.
    Io {
        /// The file, folder or script.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The build script failed.
    Build {
        /// Exit status, when there was one.
        status: Option<i32>,
        /// The tail of what the script printed on stderr.
        stderr: String,
    },
    /// Another process held the build lock for too long.
    LockTimeout {
        /// The lock folder.
        path: PathBuf,
    },
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            CacheError::Build { status, stderr } => {
                write!(f, "the build failed (exit {status:?}):\n{stderr}")
            }
            CacheError::LockTimeout { path } => write!(
                f,
                "timed out waiting for another build (lock {})",
                path.display()
            ),
        }
    }
}

impl std::error::Error for CacheError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CacheError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// FNV-1a, 64 bits: a hash that stays the same across Rust versions.
pub fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The FNV-1a hash of the files `names` under `dir`: each one's name,
/// length (8 bytes, little-endian) and content, in order.
pub fn sources_hash<'n>(
    dir: &Path,
    names: impl IntoIterator<Item = &'n str>,
) -> Result<u64, CacheError> {
    let mut hash = 0xcbf2_9ce4_8422_2325;
    for name in names {
        let path = dir.join(name);
        let content = fs::read(&path).map_err(io_err(&path))?;
        hash = fnv1a(hash, name.as_bytes());
        hash = fnv1a(hash, &(content.len() as u64).to_le_bytes());
        hash = fnv1a(hash, &content);
    }
    Ok(hash)
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn lock_is_stale(lock: &Path) -> bool {
    fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE_LOCK)
}

/// Returns `root/<hash as 16 hex digits>`, first running `sh script
/// <scratch>` there unless `complete` already holds for it.
///
/// The build runs under the lock folder `root/<hash>.lock` into the scratch
/// folder `root/<hash>.tmp-<pid>`, which replaces the result folder only
/// when the script succeeds; other processes wait for the lock (up to the
/// stale age and a minute more).
pub fn build_locked(
    root: &Path,
    hash: u64,
    script: &Path,
    complete: impl Fn(&Path) -> bool,
) -> Result<PathBuf, CacheError> {
    fs::create_dir_all(root).map_err(io_err(root))?;
    let key = format!("{hash:016x}");
    let dir = root.join(&key);
    let lock = root.join(format!("{key}.lock"));
    let deadline = SystemTime::now() + STALE_LOCK + Duration::from_secs(60);
    loop {
        if complete(&dir) {
            return Ok(dir);
        }
        match fs::create_dir(&lock) {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if lock_is_stale(&lock) {
                    // Its builder died: take over.
                    let _ = fs::remove_dir(&lock);
                    continue;
                }
                if SystemTime::now() > deadline {
                    return Err(CacheError::LockTimeout { path: lock });
                }
                std::thread::sleep(POLL);
            }
            Err(e) => return Err(io_err(&lock)(e)),
        }
    }
    // We hold the lock: build into a scratch folder, then move it into place.
    let result = (|| {
        if complete(&dir) {
            return Ok(dir.clone());
        }
        let scratch = root.join(format!("{key}.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        let out = Command::new("sh")
            .arg(script)
            .arg(&scratch)
            .output()
            .map_err(io_err(script))?;
        if !out.status.success() {
            let _ = fs::remove_dir_all(&scratch);
            return Err(CacheError::Build {
                status: out.status.code(),
                stderr: tail(&String::from_utf8_lossy(&out.stderr), 40),
            });
        }
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&scratch, &dir).map_err(io_err(&dir))?;
        Ok(dir.clone())
    })();
    let _ = fs::remove_dir(&lock);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_root(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("build-cache-{name}-{}", std::process::id()))
    }

    #[test]
    fn fnv1a_tells_bytes_apart_and_hash_covers_names_and_contents() {
        let basis = 0xcbf2_9ce4_8422_2325;
        assert_ne!(fnv1a(basis, b"a"), fnv1a(basis, b"b"));
        let root = scratch_root("hash");
        let _ = fs::remove_dir_all(&root);
        assert!(fs::create_dir_all(&root).is_ok());
        assert!(fs::write(root.join("x"), b"1").is_ok());
        assert!(fs::write(root.join("y"), b"1").is_ok());
        let x = sources_hash(&root, ["x"]).ok();
        assert!(x.is_some());
        assert_eq!(x, sources_hash(&root, ["x"]).ok());
        assert_ne!(x, sources_hash(&root, ["y"]).ok());
        assert!(fs::write(root.join("x"), b"2").is_ok());
        assert_ne!(x, sources_hash(&root, ["x"]).ok());
        assert!(matches!(
            sources_hash(&root, ["missing"]),
            Err(CacheError::Io { .. })
        ));
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn builds_once_and_reports_a_failing_script() {
        let root = scratch_root("build");
        let _ = fs::remove_dir_all(&root);
        assert!(fs::create_dir_all(&root).is_ok());
        let script = root.join("build.sh");
        assert!(fs::write(
            &script,
            "mkdir -p \"$1\" && echo run >> \"$1/../runs\" && touch \"$1/bin\"\n"
        )
        .is_ok());
        let complete = |dir: &Path| dir.join("bin").is_file();
        let first = build_locked(&root, 7, &script, complete);
        assert_eq!(first.as_ref().ok(), Some(&root.join("0000000000000007")));
        let second = build_locked(&root, 7, &script, complete);
        assert_eq!(first.ok(), second.ok());
        assert_eq!(
            fs::read_to_string(root.join("runs")).ok().as_deref(),
            Some("run\n")
        );
        assert!(!root.join("0000000000000007.lock").exists());

        let failing = root.join("fail.sh");
        assert!(fs::write(&failing, "echo broken >&2; exit 3\n").is_ok());
        let failed = build_locked(&root, 8, &failing, complete);
        assert!(
            matches!(
                &failed,
                Err(CacheError::Build { status: Some(3), stderr }) if stderr == "broken"
            ),
            "{failed:?}"
        );
        assert!(!root.join("0000000000000008").exists());
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}

//! Durable state for a replicator: each replicator's items kept in an
//! embedded, crash-safe database, so that a replicator restarted with the
//! same data directory serves exactly the changes it acknowledged.
//!
//! The database is [redb](https://docs.rs/redb): one file
//! (`<DataDir>/replicator.redb`) per replicator adapter, one table per
//! replicator (named by its identity), written only by this process. redb
//! is pure Rust, transactional (copy-on-write B-trees, checksummed pages,
//! a commit is atomic), needs no server and no C library, and its commit
//! either syncs (`Durability::Immediate`) or not (`Durability::None`),
//! which is exactly the choice the sync policies make.
//!
//! A record is the item's key (as its [`ItemCodec`] encodes it) mapped to
//! the item's position in first-set order (8 bytes, big-endian) followed
//! by the encoded item. The core writes records through a journal: one
//! writer thread per replicator takes every change in the order the core
//! applied them, commits them in transactions as [`SyncPolicy`] says, and
//! answers each change once its transaction committed. The core
//! acknowledges a `set`/`remove` only then.
//!
//! Failures: a directory that is missing, not a directory, or not
//! writable, and a database file that is not a redb file or fails its
//! integrity check, are errors when the replicator opens its store (the
//! program says which and exits). A transaction that cannot be committed
//! (disk full, I/O error) fails every change it held, and the journal then
//! refuses every later change with the same error; [`DataDir::failure`]
//! tells the program, which stops (`scf-replicator` exits with status 1
//! and the reason): the replicator's memory may already hold the changes
//! that failed, so it must not go on serving them. Restarted, it serves
//! what is stored, and its members restore the rest (see
//! [`crate::member`]). Nothing in this module panics on the contents of
//! the file.

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use crate::state::Keyed;

/// The file a data directory holds.
pub const DATABASE_FILE: &str = "replicator.redb";

/// The most changes one journal holds between being applied and being
/// committed; a change beyond that is refused ([`StoreError::Busy`]).
pub const JOURNAL_BOUND: usize = 65_536;

/// When changes are synced to disk before they are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Every call is its own transaction, synced before its answer.
    Call,
    /// Group commit (the default): every change waiting when a transaction
    /// starts goes into it (at most [`GROUP_MAX`] changes), one sync for
    /// them all, each answered once it is synced. A change waits at most
    /// for the transaction in progress and its own.
    Group,
    /// Changes are acknowledged once written to the database without a
    /// sync; a synced transaction follows at most every
    /// [`UNSYNCED_INTERVAL`]. A crash of the process or the host may lose
    /// the changes of that interval.
    None,
}

/// The most changes in one group-committed transaction.
pub const GROUP_MAX: usize = 4096;

/// Under [`SyncPolicy::None`], the longest time between two synced
/// transactions while changes come in.
pub const UNSYNCED_INTERVAL: Duration = Duration::from_secs(1);

impl SyncPolicy {
    /// The policy named by a property value: `call`, `group` or `none`
    /// (case-insensitive).
    ///
    /// # Errors
    /// Any other value.
    pub fn parse(value: &str) -> Result<Self, StoreError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "call" => Ok(Self::Call),
            "group" | "" => Ok(Self::Group),
            "none" => Ok(Self::None),
            _ => Err(StoreError::Config {
                reason: format!("unknown sync policy `{value}` (call, group or none)"),
            }),
        }
    }
}

/// Why the durable store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A setting is wrong.
    #[error("{reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The data directory cannot be used.
    #[error("data directory {path}: {reason}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The database file cannot be opened or read.
    #[error("database {path}: {reason}")]
    Database {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A stored record cannot be decoded.
    #[error("database {path}, table {table}: a stored item cannot be decoded: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The replicator's table.
        table: String,
        /// Why.
        reason: String,
    },
    /// A change could not be committed (or an earlier one could not, and
    /// the store refuses changes since).
    #[error("change not stored: {reason}")]
    Write {
        /// Why.
        reason: String,
    },
    /// Too many changes wait to be committed.
    #[error("change not stored: {JOURNAL_BOUND} changes already wait to be committed")]
    Busy,
}

/// Turns items and keys into the bytes a store keeps, and back. For Ice
/// items: the encoding of a one-item sequence (see `IceCodec` in the
/// components' modules).
pub trait ItemCodec<I: Keyed>: Send + Sync + 'static {
    /// The bytes of one item.
    fn encode_item(&self, item: &I) -> Vec<u8>;

    /// The item these bytes hold.
    ///
    /// # Errors
    /// A description of what is wrong with the bytes.
    fn decode_item(&self, bytes: &[u8]) -> Result<I, String>;

    /// The bytes of a key: equal keys give equal bytes, different keys
    /// different bytes.
    fn encode_key(&self, key: &I::Key) -> Vec<u8>;
}

/// One change to a table.
#[derive(Debug)]
pub(crate) enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// Every change of one call, and where to answer.
struct Request {
    ops: Vec<Op>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// A stored record: key bytes and value bytes.
type Record = (Vec<u8>, Vec<u8>);

/// An opened data directory: the database shared by the replicators of
/// one adapter.
#[derive(Clone)]
pub struct DataDir {
    path: PathBuf,
    db: Arc<Database>,
    /// The first failure of any journal of this directory.
    failure: Arc<tokio::sync::watch::Sender<Option<StoreError>>>,
}

impl std::fmt::Debug for DataDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataDir").field("path", &self.path).finish()
    }
}

fn db_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Database {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

impl DataDir {
    /// Opens (creating the database file if needed) the data directory at
    /// `dir`, which must exist and be writable. Checks the file's
    /// integrity when it was not closed cleanly.
    ///
    /// # Errors
    /// [`StoreError::Directory`] or [`StoreError::Database`], saying why.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let dir_error = |reason: String| StoreError::Directory {
            path: dir.to_owned(),
            reason,
        };
        let meta = std::fs::metadata(dir).map_err(|e| dir_error(e.to_string()))?;
        if !meta.is_dir() {
            return Err(dir_error("not a directory".into()));
        }
        // Writable? Ask the file system, not the permission bits (root
        // ignores them, a read-only mount does not).
        let probe = dir.join(".replicator-write-test");
        std::fs::write(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| dir_error(format!("not writable: {e}")))?;
        let path = dir.join(DATABASE_FILE);
        let db = Database::builder()
            .set_check_integrity_on_open(true)
            .create(&path)
            .map_err(|e| db_error(&path, e))?;
        Ok(Self {
            path,
            db: Arc::new(db),
            failure: Arc::new(tokio::sync::watch::Sender::new(None)),
        })
    }

    /// Resolves with the first error a journal of this directory met
    /// committing changes (the store refuses changes from then on; the
    /// program should stop, see the module docs).
    pub async fn failure(&self) -> StoreError {
        let mut rx = self.failure.subscribe();
        let failed = rx
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|e| e.clone());
        match failed {
            Some(e) => e,
            // The sender lives as long as `self`: not reached.
            None => std::future::pending().await,
        }
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The records of `table` (key and value), in no particular order.
    fn records(&self, table: &str) -> Result<Vec<Record>, StoreError> {
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(table);
        let tx = self.db.begin_read().map_err(|e| db_error(&self.path, e))?;
        let t = match tx.open_table(def) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_error(&self.path, e)),
        };
        let mut out = Vec::new();
        for r in t.iter().map_err(|e| db_error(&self.path, e))? {
            let (k, v) = r.map_err(|e| db_error(&self.path, e))?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Reads the items of `table` (in first-set order, with the next free
    /// position) and starts its journal.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the table cannot be read,
    /// [`StoreError::Corrupt`] when a record cannot be decoded.
    pub fn load<I: Keyed>(
        &self,
        table: &str,
        codec: Arc<dyn ItemCodec<I>>,
        policy: SyncPolicy,
    ) -> Result<Durable<I>, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.path.clone(),
            table: table.to_owned(),
            reason,
        };
        let mut items = Vec::new();
        for (_, value) in self.records(table)? {
            let Some((order, bytes)) = value.split_first_chunk::<8>() else {
                return Err(corrupt(format!("a record of {} bytes", value.len())));
            };
            let item = codec.decode_item(bytes).map_err(corrupt)?;
            items.push((u64::from_be_bytes(*order), item));
        }
        items.sort_unstable_by_key(|(order, _)| *order);
        let journal = Journal::start(self.clone(), table.to_owned(), policy);
        Ok(Durable {
            codec,
            journal,
            loaded: Mutex::new(Some(items)),
        })
    }
}

/// What a durable replicator holds: its codec, its journal, and the items
/// read at start-up (taken once by the core).
pub struct Durable<I: Keyed> {
    pub(crate) codec: Arc<dyn ItemCodec<I>>,
    pub(crate) journal: Journal,
    loaded: Mutex<Option<Vec<(u64, I)>>>,
}

impl<I: Keyed> std::fmt::Debug for Durable<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable")
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

impl<I: Keyed> Durable<I> {
    /// The items read at start-up with their positions (empty the second
    /// time).
    pub(crate) fn take_loaded(&self) -> Vec<(u64, I)> {
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    }
}

/// The writer of one table: changes go in, in order; each is answered
/// once committed as the policy says.
#[derive(Debug)]
pub(crate) struct Journal {
    queue: std_mpsc::SyncSender<Request>,
}

impl Journal {
    fn start(dir: DataDir, table: String, policy: SyncPolicy) -> Self {
        let (tx, rx) = std_mpsc::sync_channel(JOURNAL_BOUND);
        let name = format!("journal-{table}");
        let spawned = std::thread::Builder::new()
            .name(name)
            .spawn(move || write_loop(&dir, &table, policy, &rx));
        if let Err(e) = spawned {
            // Without its thread the queue's receiver is gone: every
            // change is refused with a write error.
            tracing::error!(error = %e, "cannot start the journal thread");
        }
        Self { queue: tx }
    }

    /// Queues `ops`; the receiver answers once they are committed.
    pub(crate) fn submit(
        &self,
        ops: Vec<Op>,
    ) -> Result<oneshot::Receiver<Result<(), StoreError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        match self.queue.try_send(Request { ops, reply }) {
            Ok(()) => Ok(rx),
            Err(std_mpsc::TrySendError::Full(_)) => Err(StoreError::Busy),
            Err(std_mpsc::TrySendError::Disconnected(_)) => Err(StoreError::Write {
                reason: "the journal has stopped".into(),
            }),
        }
    }
}

/// Commits `requests` in one transaction.
fn commit(
    dir: &DataDir,
    table: &str,
    requests: &[Request],
    durability: Durability,
) -> Result<(), StoreError> {
    let write = |e: &dyn std::fmt::Display| StoreError::Write {
        reason: e.to_string(),
    };
    let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(table);
    let mut tx = dir.db.begin_write().map_err(|e| write(&e))?;
    tx.set_durability(durability).map_err(|e| write(&e))?;
    {
        let mut t = tx.open_table(def).map_err(|e| write(&e))?;
        for op in requests.iter().flat_map(|r| &r.ops) {
            match op {
                Op::Put(k, v) => {
                    t.insert(k.as_slice(), v.as_slice())
                        .map_err(|e| write(&e))?;
                }
                Op::Delete(k) => {
                    t.remove(k.as_slice()).map_err(|e| write(&e))?;
                }
            }
        }
    }
    tx.commit().map_err(|e| write(&e))
}

fn write_loop(dir: &DataDir, table: &str, policy: SyncPolicy, rx: &std_mpsc::Receiver<Request>) {
    let mut failed: Option<StoreError> = None;
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    loop {
        let first = if unsynced {
            // Under `None`: sync once the interval is over, even when idle.
            let wait = UNSYNCED_INTERVAL.saturating_sub(last_sync.elapsed());
            match rx.recv_timeout(wait) {
                Ok(r) => Some(r),
                Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(r) => Some(r),
                Err(_) => break,
            }
        };
        let mut batch: Vec<Request> = first.into_iter().collect();
        if policy != SyncPolicy::Call {
            while batch.len() < GROUP_MAX {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
        }
        let sync_now = policy != SyncPolicy::None || last_sync.elapsed() >= UNSYNCED_INTERVAL;
        let result = match &failed {
            Some(e) => Err(e.clone()),
            None => {
                let durability = if sync_now {
                    Durability::Immediate
                } else {
                    Durability::None
                };
                let r = commit(dir, table, &batch, durability);
                if let Err(e) = &r {
                    tracing::error!(table, error = %e, "the replicator's store failed: changes are refused until it is restarted");
                    failed = Some(e.clone());
                    dir.failure.send_if_modified(|f| {
                        let first = f.is_none();
                        if first {
                            *f = Some(e.clone());
                        }
                        first
                    });
                } else if sync_now {
                    last_sync = Instant::now();
                    unsynced = false;
                } else {
                    unsynced = true;
                }
                r
            }
        };
        for r in batch {
            // A caller that went away needs no answer.
            let _ = r.reply.send(result.clone());
        }
    }
    if unsynced && failed.is_none() {
        if let Err(e) = commit(dir, table, &[], Durability::Immediate) {
            tracing::warn!(table, error = %e, "last sync of the replicator's store failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Item(String, String);

    impl Keyed for Item {
        type Key = String;
        fn key(&self) -> String {
            self.0.clone()
        }
    }

    struct Plain;

    impl ItemCodec<Item> for Plain {
        fn encode_item(&self, item: &Item) -> Vec<u8> {
            format!("{}={}", item.0, item.1).into_bytes()
        }
        fn decode_item(&self, bytes: &[u8]) -> Result<Item, String> {
            let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
            let (k, v) = text.split_once('=').ok_or("no `=`")?;
            Ok(Item(k.into(), v.into()))
        }
        fn encode_key(&self, key: &String) -> Vec<u8> {
            key.clone().into_bytes()
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("durable-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch");
        dir
    }

    #[test]
    fn policies_parse_and_unknown_ones_are_refused() {
        assert_eq!(SyncPolicy::parse("Call"), Ok(SyncPolicy::Call));
        assert_eq!(SyncPolicy::parse(" group "), Ok(SyncPolicy::Group));
        assert_eq!(SyncPolicy::parse("none"), Ok(SyncPolicy::None));
        assert!(matches!(
            SyncPolicy::parse("sometimes"),
            Err(StoreError::Config { .. })
        ));
    }

    #[test]
    fn a_missing_directory_or_a_file_is_refused_with_its_reason() {
        let dir = scratch("missing");
        let missing = dir.join("nope");
        let e = DataDir::open(&missing).err();
        assert!(matches!(e, Some(StoreError::Directory { .. })), "{e:?}");
        let file = dir.join("file");
        std::fs::write(&file, b"x").expect("write");
        let e = DataDir::open(&file).err();
        assert!(
            matches!(&e, Some(StoreError::Directory { reason, .. }) if reason == "not a directory"),
            "{e:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused() {
        let dir = scratch("garbage");
        std::fs::write(dir.join(DATABASE_FILE), vec![0x5a_u8; 10_000]).expect("write");
        let e = DataDir::open(&dir).err();
        assert!(matches!(e, Some(StoreError::Database { .. })), "{e:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Opens `dir`, waiting for the journal threads of an earlier opening
    /// (which hold the database until they have ended) to let it go.
    fn reopen(dir: &Path) -> DataDir {
        for _ in 0..250 {
            match DataDir::open(dir) {
                Ok(d) => return d,
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        DataDir::open(dir).expect("open")
    }

    #[tokio::test]
    async fn committed_records_are_read_back_in_order_and_bad_ones_are_reported() {
        let dir = scratch("records");
        for policy in [SyncPolicy::Call, SyncPolicy::Group, SyncPolicy::None] {
            let table = format!("{policy:?}");
            {
                let data = reopen(&dir);
                let d = data
                    .load::<Item>(&table, Arc::new(Plain), policy)
                    .expect("load");
                assert!(d.take_loaded().is_empty());
                let put = |order: u64, k: &str, v: &str| {
                    let mut value = order.to_be_bytes().to_vec();
                    value.extend_from_slice(format!("{k}={v}").as_bytes());
                    Op::Put(k.as_bytes().to_vec(), value)
                };
                let mut waits = Vec::new();
                for (i, k) in ["b", "a", "c"].iter().enumerate() {
                    let order = u64::try_from(i).expect("small");
                    waits.push(d.journal.submit(vec![put(order, k, "1")]).expect("submit"));
                }
                waits.push(
                    d.journal
                        .submit(vec![Op::Delete(b"a".to_vec()), put(0, "b", "2")])
                        .expect("submit"),
                );
                for w in waits {
                    assert_eq!(w.await, Ok(Ok(())));
                }
            }
            // Dropping the journal's sender ends its thread after a last
            // sync, which frees the database.
            let data = reopen(&dir);
            let d = data
                .load::<Item>(&table, Arc::new(Plain), policy)
                .expect("load");
            let items: Vec<Item> = d.take_loaded().into_iter().map(|(_, i)| i).collect();
            assert_eq!(
                items,
                vec![Item("b".into(), "2".into()), Item("c".into(), "1".into())],
                "{policy:?}"
            );
        }
        // A record the codec cannot read is reported, not skipped.
        {
            let data = reopen(&dir);
            let d = data
                .load::<Item>("bad", Arc::new(Plain), SyncPolicy::Call)
                .expect("load");
            let mut value = 0_u64.to_be_bytes().to_vec();
            value.extend_from_slice(b"no equals sign");
            let w = d
                .journal
                .submit(vec![Op::Put(b"k".to_vec(), value)])
                .expect("submit");
            assert_eq!(w.await, Ok(Ok(())));
            drop(d);
            drop(data);
        }
        let result = reopen(&dir).load::<Item>("bad", Arc::new(Plain), SyncPolicy::Call);
        let e = result.err();
        assert!(matches!(e, Some(StoreError::Corrupt { .. })), "{e:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

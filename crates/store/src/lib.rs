//! Embedded, crash-safe storage for Tributary on redb: DynamoDB items, stream shards and their
//! records, control-plane documents and checkpoints.
//!
//! Every write goes through one writer thread that groups concurrent requests into a single
//! durable transaction (group commit). A job sees the transaction and the in-memory catalog;
//! the item change and its stream record are written by the same job, so a change is never
//! visible without its record. Readers use redb read transactions and never block the writer.
//! After each commit the writer wakes whoever waits on the shards that received records.

mod catalog;
mod engine;
mod fjall_engine;
mod memory;
mod redb_engine;
mod wal;

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use redb::Database;
use tokio::sync::{mpsc, oneshot, watch};
use tributary_model::attr::Item;
use tributary_model::codec::{decode_item, encode_item, DecodeError};
use tributary_model::stream::{StreamRecord, StreamViewType};
use tributary_model::{AwsError, Clock};

use engine::{Engine, Reads, Snapshot, Space, View, Writes};
use redb_engine::RedbEngine;
use wal::Syncer;

pub use catalog::{
    Catalog, CowMap, IndexMeta, KeyAttr, KeySchema, Projection, ShardMeta, StreamMeta, TableMeta,
};

/// redb's page cache over the file. redb's default (1 GiB) made the server's memory grow with
/// the data up to that size; the operating system's page cache already holds the file, so a
/// miss costs a `pread` from memory. 64 MiB keeps the upper B-tree levels of a large table and
/// a working set of leaves (GetItem and PutItem measured alike at 64 MiB and 1 GiB with 10k
/// items; `bench/README.md`).
const FILE_CACHE_BYTES: usize = 64 << 20;

/// redb's page cache over the in-memory storage, which is memory already: a cache there only
/// holds a second copy of the pages (RSS 1.4 GiB against 0.6 GiB after 1.1M PutItems at 1 GiB,
/// the same throughput, and a lower p99). What remains is redb's write buffer.
const MEMORY_CACHE_BYTES: usize = 8 << 20;

/// How many jobs one group commit takes at most.
const MAX_GROUP: usize = 512;

/// Storage failures. Handlers turn these into `InternalServerError`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database failed (I/O, corruption, ...).
    #[error("storage engine: {0}")]
    Db(String),
    /// A stored value could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The writer is gone (the server is shutting down).
    #[error("store is closed")]
    Closed,
    /// The job panicked: a defect, answered as `InternalServerError` to its request alone.
    #[error("a write panicked: {0}")]
    Panicked(String),
    /// The store failed (see [`Health`]) and is not serving until it is reopened.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for AwsError {
    fn from(e: StoreError) -> AwsError {
        tracing::error!(error = %e, "store failure");
        AwsError::internal("Internal server error")
    }
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.to_string()) }
        }
    )*};
}
db_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::SetDurabilityError,
    redb::StorageError,
    redb::CommitError
);

impl From<DecodeError> for StoreError {
    fn from(e: DecodeError) -> Self {
        StoreError::Corrupt(e.0)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// One caller's write. The writer runs it inside a group's transaction, perhaps more than
/// once: when another job of the group panics, the transaction is dropped and the group runs
/// again without that job. It is told the outcome once, after the commit.
trait Job: Send {
    fn run(&mut self, tx: &mut Tx<'_>);
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
}

/// [`Store::write`]'s job: the caller's closure, its last result, and where to send it.
struct WriteJob<F, T> {
    f: F,
    out: Option<Result<T, AwsError>>,
    reply: oneshot::Sender<Result<T, AwsError>>,
}

impl<F, T> Job for WriteJob<F, T>
where
    F: Fn(&mut Tx<'_>) -> Result<T, AwsError> + Send,
    T: Send,
{
    fn run(&mut self, tx: &mut Tx<'_>) {
        self.out = Some((self.f)(tx));
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let res = match (committed, self.out) {
            (Ok(()), Some(out)) => out,
            (Ok(()), None) => Err(AwsError::internal("Internal server error")),
            (Err(e), _) => Err(e.into()),
        };
        let _ = self.reply.send(res);
    }
}

/// Which engine a durable store runs on (see `engine.rs`; `bench/README.md` has why the
/// default is the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// redb, a copy-on-write B-tree, with the store's own write-ahead log in front.
    #[default]
    Redb,
    /// fjall, an LSM tree with its own journal.
    Fjall,
}

impl std::str::FromStr for EngineKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "redb" => Ok(EngineKind::Redb),
            "fjall" => Ok(EngineKind::Fjall),
            other => Err(format!("unknown store engine {other:?} (redb or fjall)")),
        }
    }
}

/// The embedded store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// Whether the store is serving. An I/O error (a full disk) fails the store: redb refuses
/// every later transaction until the database is reopened. The writer then reopens it, retrying
/// until it succeeds, and the store is healthy again; what was acknowledged before is intact,
/// and nothing of the failed commit is visible. A store that cannot be reopened (an in-memory
/// one, whose pages are gone with the failed instance, or a file that is no longer a database)
/// is `Fatal`, and the server should exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    Failed(String),
    Fatal(String),
}

/// Opens the engine: at start, and again after a failure.
type Opener = Box<dyn Fn() -> Result<Box<dyn Engine>, StoreError> + Send>;

/// Why a database file did not open: worth retrying (the file is still held, or the disk is
/// still full: `Db`) or not (`Unavailable`: it is not a database any more).
fn open_error(e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen
        | redb::DatabaseError::Storage(
            redb::StorageError::Io(_) | redb::StorageError::PreviousIo,
        ) => StoreError::Db(e.to_string()),
        other => StoreError::Unavailable(format!("the database file cannot be opened: {other}")),
    }
}

/// The database file at `path`, created if missing, as redb's file backend.
fn file_backend(path: &Path) -> Result<redb::backends::FileBackend, StoreError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StoreError::Db(e.to_string()))?;
    redb::backends::FileBackend::new(file).map_err(open_error)
}

/// How long the writer waits before each attempt to reopen a failed store. Each attempt must
/// also commit a probe, so a store whose disk is still full stays failed.
const REOPEN_EVERY: std::time::Duration = std::time::Duration::from_millis(1000);

struct Inner {
    /// What readers see: the last durable state, and its catalog.
    published: Publisher,
    jobs: Mutex<Option<mpsc::Sender<Box<dyn Job>>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    clock: Arc<dyn Clock>,
}

/// Where durable state is shown: the writer (in memory) or the syncer (on disk) swaps a new
/// read snapshot and catalog in once a commit is durable, and only then tells its jobs and
/// wakes the shards' readers. Readers never wait and never see state that is not durable yet.
#[derive(Clone)]
struct Publisher {
    /// A snapshot of the last durable commit; `None` while the store is failed.
    view: Arc<arc_swap::ArcSwapOption<Snapshot>>,
    /// The catalog as of the same commit. The writer keeps its own working copy.
    catalog: Arc<ArcSwap<Catalog>>,
    health: watch::Sender<Health>,
    watchers: Arc<Watchers>,
}

/// A commit on its way to being durable: what to show and whom to tell.
struct Acked {
    jobs: Vec<Box<dyn Job>>,
    view: View,
    catalog: Arc<Catalog>,
    touched: HashMap<u64, u128>,
    catalog_changed: bool,
}

impl Publisher {
    /// Shows a commit that is durable (or tells its jobs why it never will be).
    fn durable(&self, a: Acked, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                // The data first, then the catalog that names it.
                self.view.store(Some(a.view));
                self.catalog.store(a.catalog);
                for job in a.jobs {
                    job.finish(Ok(()));
                }
                for (iid, seq) in a.touched {
                    let tx = self.watchers.shard(iid);
                    tx.send_modify(|v| *v = (*v).max(seq));
                }
                if a.catalog_changed {
                    self.watchers.catalog.send_modify(|v| *v += 1);
                }
            }
            Err(why) => {
                self.fail(&why);
                for job in a.jobs {
                    job.finish(Err(StoreError::Db(why.clone())));
                }
            }
        }
    }

    /// Marks the store failed (unless it is already) and hides its state from readers.
    fn fail(&self, why: &str) {
        self.view.store(None);
        self.health.send_if_modified(|h| {
            if *h == Health::Ok {
                *h = Health::Failed(why.to_owned());
                true
            } else {
                false
            }
        });
    }
}

impl Inner {
    /// Stops taking jobs, lets the writer commit what it has, and waits for it.
    fn close(&self) {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}

/// Wake-ups for readers: per shard the highest committed sequence number, plus a catalog
/// version that moves whenever streams or shards change.
#[derive(Default)]
struct Watchers {
    shards: Mutex<HashMap<u64, watch::Sender<u128>>>,
    catalog: watch::Sender<u64>,
}

impl Watchers {
    fn shard(&self, iid: u64) -> watch::Sender<u128> {
        let mut map = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(iid)
            .or_insert_with(|| watch::channel(0).0)
            .clone()
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`, or in memory when `dir` is `None`, on the
    /// default engine.
    pub fn open(dir: Option<&Path>, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        Store::open_on(dir, EngineKind::default(), clock)
    }

    /// Opens (or creates) the store in `dir` on `engine`, or in memory when `dir` is `None`
    /// (always redb: fjall has no in-memory mode).
    pub fn open_on(
        dir: Option<&Path>,
        engine: EngineKind,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, StoreError> {
        // A data directory keeps the engine it was made with.
        let engine = match dir {
            Some(d) if d.join("tributary.redb").exists() => EngineKind::Redb,
            Some(d) if d.join("fjall").exists() => EngineKind::Fjall,
            _ => engine,
        };
        let opener: Opener = match (dir, engine) {
            (Some(dir), EngineKind::Redb) => {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(e.to_string()))?;
                let path = dir.join("tributary.redb");
                let log = dir.join("wal");
                Box::new(move || {
                    let fence = Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let backend = file_backend(&path)?;
                    let db = Database::builder()
                        .set_cache_size(FILE_CACHE_BYTES)
                        .create_with_backend(wal::Fenced::new(backend, fence.clone()))
                        .map_err(open_error)?;
                    let log = wal::FsDir::open(log.clone()).map_err(|e| {
                        StoreError::Db(format!("the write-ahead log cannot be opened: {e}"))
                    })?;
                    let engine = RedbEngine::new(db, Some(Arc::new(log)), Some(fence))?;
                    Ok(Box::new(engine) as Box<dyn Engine>)
                })
            }
            (Some(dir), EngineKind::Fjall) => {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(e.to_string()))?;
                let path = dir.join("fjall");
                Box::new(move || {
                    let engine = fjall_engine::FjallEngine::open(&path)?;
                    Ok(Box::new(engine) as Box<dyn Engine>)
                })
            }
            (None, _) => {
                let opened = std::sync::atomic::AtomicBool::new(false);
                Box::new(move || {
                    if opened.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        return Err(StoreError::Unavailable(
                            "an in-memory store cannot be reopened: its data is gone".into(),
                        ));
                    }
                    let db = Database::builder()
                        .set_cache_size(MEMORY_CACHE_BYTES)
                        .create_with_backend(memory::SegmentedMemory::default())?;
                    Ok(Box::new(RedbEngine::new(db, None, None)?) as Box<dyn Engine>)
                })
            }
        };
        Store::open_with(opener, clock)
    }

    /// Opens the store on whatever `opener` opens (tests put a fault-injecting backend there).
    fn open_with(opener: Opener, clock: Arc<dyn Clock>) -> Result<Store, StoreError> {
        let (health, _) = watch::channel(Health::Ok);
        let published = Publisher {
            view: Arc::new(arc_swap::ArcSwapOption::empty()),
            catalog: Arc::new(ArcSwap::from_pointee(Catalog::default())),
            health,
            watchers: Arc::new(Watchers::default()),
        };
        let (open, catalog) = Open::start(opener()?, &published)?;
        published.catalog.store(Arc::new(catalog));
        let (jobs, rx) = mpsc::channel::<Box<dyn Job>>(4096);
        let writer = {
            let writer = Writer {
                opener,
                published: published.clone(),
                clock: clock.clone(),
            };
            std::thread::Builder::new()
                .name("store-writer".into())
                .spawn(move || writer.run(rx, open))
                .map_err(|e| StoreError::Db(e.to_string()))?
        };
        Ok(Store {
            inner: Arc::new(Inner {
                published,
                jobs: Mutex::new(Some(jobs)),
                writer: Mutex::new(Some(writer)),
                clock,
            }),
        })
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Whether the store is serving now.
    pub fn health(&self) -> Health {
        self.inner.published.health.borrow().clone()
    }

    /// Resolves when the store has failed for good (it could not be reopened), with why.
    pub async fn fatal(&self) -> String {
        let mut rx = self.inner.published.health.subscribe();
        loop {
            if let Health::Fatal(why) = &*rx.borrow_and_update() {
                return why.clone();
            }
            if rx.changed().await.is_err() {
                // The writer is gone: the store was closed.
                std::future::pending::<()>().await;
            }
        }
    }

    /// A snapshot of the last durable commit.
    fn view(&self) -> Result<View, StoreError> {
        self.inner.published.view.load_full().ok_or_else(|| {
            StoreError::Unavailable(match &*self.inner.published.health.borrow() {
                Health::Failed(why) | Health::Fatal(why) => why.clone(),
                Health::Ok => "the store is reopening".to_owned(),
            })
        })
    }

    /// Runs `f` inside the next group commit and returns its result once that commit is
    /// durable. A job that returns `Err` must not have written anything.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AwsError>
    where
        T: Send + 'static,
        F: Fn(&mut Tx<'_>) -> Result<T, AwsError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(WriteJob {
            f,
            out: None,
            reply,
        });
        let sender = self
            .inner
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let sender = sender.ok_or_else(|| AwsError::from(StoreError::Closed))?;
        sender
            .send(job)
            .await
            .map_err(|_| AwsError::from(StoreError::Closed))?;
        rx.await.map_err(|_| AwsError::from(StoreError::Closed))?
    }

    /// A consistent snapshot of the control-plane state as of the last durable commit. It
    /// holds no lock: keep it as long as needed, take another at any time.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner.published.catalog.load_full()
    }

    /// Reads one item.
    pub fn get_item(&self, table_id: u64, key: &[u8]) -> Result<Option<Item>, StoreError> {
        let view = self.view()?;
        let mut item = None;
        view.get(Space::Items, &item_key(table_id, key), &mut |v| {
            item = Some(decode_item(v))
        })?;
        Ok(item.transpose()?)
    }

    /// Reads up to `limit` entries of a table or index in key order (or reverse order), between
    /// two bounds on the encoded key that follows the table's or index's id. Returns the
    /// encoded keys (without the id) and the items.
    pub fn range(
        &self,
        space: KeySpace,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Item)>, StoreError> {
        let view = self.view()?;
        let (space, id) = match space {
            KeySpace::Table(id) => (Space::Items, id),
            KeySpace::Index(id) => (Space::Indexes, id),
        };
        // Bounds are taken inside this id's key space; unbounded ends stay inside it too.
        let lo = match lower {
            Bound::Included(k) => Bound::Included(item_key(id, k)),
            Bound::Excluded(k) => Bound::Excluded(item_key(id, k)),
            Bound::Unbounded => Bound::Included(id.to_be_bytes().to_vec()),
        };
        let hi = match upper {
            Bound::Included(k) => Bound::Included(item_key(id, k)),
            Bound::Excluded(k) => Bound::Excluded(item_key(id, k)),
            Bound::Unbounded => Bound::Excluded((id + 1).to_be_bytes().to_vec()),
        };
        let mut out = Vec::new();
        view.scan(
            space,
            as_slice_bound(&lo),
            as_slice_bound(&hi),
            reverse,
            &mut |k, v| {
                out.push((k[8..].to_vec(), decode_item(v)?));
                Ok(out.len() < limit)
            },
        )?;
        Ok(out)
    }

    /// Reads one value of a key-value space.
    pub fn kv_get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let view = self.view()?;
        let mut out = None;
        view.get(Space::Kv, &kv_key(space, key), &mut |v| {
            out = Some(v.to_vec())
        })?;
        Ok(out)
    }

    /// Reads up to `limit` entries of a key-value space in key order (or reverse order),
    /// between two bounds on the key within the space. Returns keys without the space prefix.
    pub fn kv_range(
        &self,
        space: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<KvEntry>, StoreError> {
        let view = self.view()?;
        kv_scan(&**view, space, lower, upper, reverse, limit)
    }

    /// Reads up to `limit` records of shard `iid` with sequence numbers ≥ `from_seq`, in order,
    /// stopping after the record that brings their sizes (`size_bytes`) to `max_bytes`: a read
    /// of huge items holds a budget's worth, not `limit` of them. At least one record is read.
    pub fn read_records(
        &self,
        iid: u64,
        from_seq: u128,
        limit: usize,
        max_bytes: u64,
    ) -> Result<Vec<StreamRecord>, StoreError> {
        let view = self.view()?;
        let start = record_key(iid, from_seq);
        let end = record_key(iid, u128::MAX);
        let mut out = Vec::new();
        let mut bytes = 0u64;
        view.scan(
            Space::Records,
            Bound::Included(&start),
            Bound::Included(&end),
            false,
            &mut |_, v| {
                let r = tributary_model::codec::decode_record(v)?;
                bytes += r.size_bytes;
                out.push(r);
                Ok(out.len() < limit && bytes < max_bytes)
            },
        )?;
        Ok(out)
    }

    pub fn last_sequence(&self, iid: u64) -> Result<Option<u128>, StoreError> {
        let view = self.view()?;
        let start = record_key(iid, 0);
        let end = record_key(iid, u128::MAX);
        let mut last = None;
        view.scan(
            Space::Records,
            Bound::Included(&start),
            Bound::Included(&end),
            true,
            &mut |k, _| {
                last = Some(seq_of_record_key(k));
                Ok(false)
            },
        )?;
        Ok(last)
    }

    /// Watches the highest committed sequence number of shard `iid`.
    pub fn watch_shard(&self, iid: u64) -> watch::Receiver<u128> {
        self.inner.published.watchers.shard(iid).subscribe()
    }

    /// Watches a counter that moves whenever streams or shards change.
    pub fn watch_catalog(&self) -> watch::Receiver<u64> {
        self.inner.published.watchers.catalog.subscribe()
    }

    /// Reads a blob (e.g. function code) by id.
    pub fn get_blob(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let view = self.view()?;
        let mut out = None;
        view.get(Space::Blobs, id.as_bytes(), &mut |v| out = Some(v.to_vec()))?;
        Ok(out)
    }

    /// Commits what is queued and stops the writer; later writes fail. Blocks briefly.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Waits until every job sent before this call is committed.
    pub async fn flush(&self) -> Result<(), AwsError> {
        self.write(|_| Ok(())).await
    }
}

/// One item change for [`Tx::commit_change`].
pub struct ItemChange<'a> {
    pub table: &'a str,
    /// The table's id, as the caller resolved it.
    pub table_id: u64,
    /// The item's encoded key.
    pub key: &'a [u8],
    /// The item's key attributes (the stream record's `Keys`).
    pub keys: &'a Item,
    pub old: Option<&'a Item>,
    pub new: Option<&'a Item>,
    pub cause: ChangeCause,
}

/// Why an item changed, as its stream record tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeCause {
    /// A request.
    Request,
    /// The TTL sweeper deleted an expired item (the record names the service as the user).
    TtlExpiry,
}

/// Which ordered key space a range read walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpace {
    Table(u64),
    Index(u64),
}

/// The key of an index entry (after the index id): index keys, then the table keys, so entries
/// with equal index keys stay distinct and ordered. `None` for an item the index skips
/// (sparse: a missing or mistyped index key).
pub fn index_entry_key(index: &IndexMeta, table_keys: &KeySchema, item: &Item) -> Option<Vec<u8>> {
    let mut k = Vec::new();
    for a in std::iter::once(&index.key_schema.hash)
        .chain(index.key_schema.range.as_ref())
        .chain(std::iter::once(&table_keys.hash))
        .chain(table_keys.range.as_ref())
    {
        let v = item.get(&a.name)?;
        if v.type_name() != a.ty {
            return None;
        }
        tributary_model::keyenc::encode_key_attr(v, &mut k);
    }
    Some(k)
}

/// The write side, as a job sees it: the open transaction and the in-memory catalog.
pub struct Tx<'a> {
    catalog: &'a mut Catalog,
    /// The engine's write transaction.
    w: &'a mut dyn Writes,
    now_ms: i64,
    touched: &'a mut HashMap<u64, u128>,
    catalog_changed: &'a mut bool,
    /// Tables whose counters changed in this group; persisted once before the commit.
    dirty_tables: HashSet<String>,
    failed: &'a mut Option<StoreError>,
    /// Set when a job leaves key ranges for the writer to clear ([`Tx::discard`]).
    garbage: &'a mut bool,
}

impl Tx<'_> {
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    pub fn catalog(&self) -> &Catalog {
        self.catalog
    }

    pub fn next_id(&mut self) -> u64 {
        self.catalog.next_id += 1;
        self.catalog.next_id
    }

    fn put(&mut self, space: Space, key: &[u8], value: &[u8]) -> Result<(), AwsError> {
        self.w
            .put(space, key, value)
            .map_err(|e| fail(self.failed, e))
    }

    fn remove(&mut self, space: Space, key: &[u8]) -> Result<bool, AwsError> {
        self.w.remove(space, key).map_err(|e| fail(self.failed, e))
    }

    /// Visits entries of `space` in key order inside this transaction (see [`Reads::scan`]).
    fn scan(
        &mut self,
        space: Space,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        visit: engine::Visit<'_>,
    ) -> Result<(), AwsError> {
        self.w
            .scan(space, lower, upper, false, visit)
            .map_err(|e| fail(self.failed, e))
    }

    pub fn get_item(&mut self, table_id: u64, key: &[u8]) -> Result<Option<Item>, AwsError> {
        let k = item_key(table_id, key);
        let mut item = None;
        let got = self
            .w
            .get(Space::Items, &k, &mut |v| item = Some(decode_item(v)));
        got.map_err(|e| fail(self.failed, e))?;
        item.transpose().map_err(|e| fail(self.failed, e))
    }

    /// Changes one item: the only way an item is written, so an item change never goes without
    /// its stream record. The item and its indexes change and, if the table has a stream, the
    /// record goes to the shard that owns the key, all in this job's transaction. A change
    /// that changes nothing writes nothing and produces no record, as DynamoDB Streams records
    /// only real changes.
    pub fn commit_change(&mut self, c: ItemChange<'_>) -> Result<(), AwsError> {
        if c.old == c.new {
            return Ok(());
        }
        self.set_item(c.table, c.table_id, c.key, c.old, c.new)?;
        let ttl = c.cause == ChangeCause::TtlExpiry;
        self.append_stream_record(c.table, c.keys, c.old, c.new, ttl)
    }

    /// Writes (or with `None` deletes) an item, keeping the table's counters.
    pub(crate) fn set_item(
        &mut self,
        table: &str,
        table_id: u64,
        key: &[u8],
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> Result<(), AwsError> {
        let k = item_key(table_id, key);
        match new {
            Some(item) => self.put(Space::Items, &k, &encode_item(item))?,
            None => {
                self.remove(Space::Items, &k)?;
            }
        }
        self.maintain_indexes(table, key, old, new)?;
        let size = |i: Option<&Item>| i.map_or(0, |i| tributary_model::size::item_size(i) as i64);
        let d_count = new.is_some() as i64 - old.is_some() as i64;
        let d_size = size(new) - size(old);
        if let Some(t) = self.catalog.tables.get_mut(table) {
            t.item_count += d_count;
            t.size_bytes += d_size;
            // The counters are written once per group commit, not once per item.
            self.dirty_tables.insert(table.to_owned());
        }
        Ok(())
    }

    /// Keeps every secondary index of `table` in step with one change of the item at `key`
    /// (an index still being backfilled only once the backfill has passed the item).
    fn maintain_indexes(
        &mut self,
        table: &str,
        key: &[u8],
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> Result<(), AwsError> {
        let Some(t) = self.catalog.tables.get(table) else {
            return Ok(());
        };
        if t.indexes.is_empty() {
            return Ok(());
        }
        let (indexes, keys) = (t.indexes.clone(), t.key_schema.clone());
        let mut deltas = Vec::with_capacity(indexes.len());
        for index in &indexes {
            let (mut d_count, mut d_size) = (0i64, 0i64);
            if !index.covers(key) {
                deltas.push((0, 0));
                continue;
            }
            if let Some(o) = old {
                if let (Some(k), Some(p)) =
                    (index_entry_key(index, &keys, o), index.project(&keys, o))
                {
                    self.remove(Space::Indexes, &item_key(index.id, &k))?;
                    d_count -= 1;
                    d_size -= tributary_model::size::item_size(&p) as i64;
                }
            }
            if let Some(n) = new {
                if let Some(p) = self.put_index_entry(index, &keys, n)? {
                    d_count += 1;
                    d_size += tributary_model::size::item_size(&p) as i64;
                }
            }
            deltas.push((d_count, d_size));
        }
        // The caller persists the table (with these counters) after the item write.
        if let Some(t) = self.catalog.tables.get_mut(table) {
            for (ix, (c, s)) in t.indexes.iter_mut().zip(deltas) {
                ix.item_count += c;
                ix.size_bytes += s;
            }
        }
        Ok(())
    }

    /// Writes an item's entry into one index; returns the projected entry, or `None` when the
    /// index skips the item.
    fn put_index_entry(
        &mut self,
        index: &IndexMeta,
        keys: &KeySchema,
        item: &Item,
    ) -> Result<Option<Item>, AwsError> {
        let (Some(k), Some(projected)) = (
            index_entry_key(index, keys, item),
            index.project(keys, item),
        ) else {
            return Ok(None);
        };
        self.put(
            Space::Indexes,
            &item_key(index.id, &k),
            &encode_item(&projected),
        )?;
        Ok(Some(projected))
    }

    /// Indexes up to `limit` more of the table's items into `index`, from its backfill cursor
    /// on, and moves the cursor past them (to `None` when every item is indexed). One call is
    /// one bounded piece of work, so a large table is backfilled over many jobs while other
    /// writes go on in between.
    pub fn backfill_index(
        &mut self,
        table: &TableMeta,
        index: &mut IndexMeta,
        limit: usize,
    ) -> Result<(), AwsError> {
        let Some(next) = index.backfill.clone() else {
            return Ok(());
        };
        let start = item_key(table.id, &next);
        let end = (table.id + 1).to_be_bytes();
        let mut items: Vec<(Vec<u8>, Item)> = Vec::new();
        let mut more = false;
        self.scan(
            Space::Items,
            Bound::Included(&start),
            Bound::Excluded(&end),
            &mut |k, v| {
                if items.len() == limit {
                    more = true;
                    return Ok(false);
                }
                items.push((k[8..].to_vec(), decode_item(v)?));
                Ok(true)
            },
        )?;
        for (_, item) in &items {
            if let Some(p) = self.put_index_entry(index, &table.key_schema, item)? {
                index.item_count += 1;
                index.size_bytes += tributary_model::size::item_size(&p) as i64;
            }
        }
        index.backfill = match items.last() {
            // The smallest key after the last one indexed.
            Some((last, _)) if more => Some([last.as_slice(), &[0]].concat()),
            _ => None,
        };
        Ok(())
    }

    /// One bounded step of the backfill of index `index_id` of `table`, as the catalog has
    /// them; returns whether the index is complete. A table or index that is gone is done.
    pub fn backfill_step(
        &mut self,
        table: &str,
        index_id: u64,
        limit: usize,
    ) -> Result<bool, AwsError> {
        let Some(t) = self.catalog.tables.get(table).cloned() else {
            return Ok(true);
        };
        let Some(pos) = t.indexes.iter().position(|i| i.id == index_id) else {
            return Ok(true);
        };
        let mut ix = t.indexes[pos].clone();
        self.backfill_index(&t, &mut ix, limit)?;
        let done = !ix.backfilling();
        if let Some(t) = self.catalog.tables.get_mut(table) {
            t.indexes[pos] = ix;
        }
        self.dirty_tables.insert(table.to_owned());
        Ok(done)
    }

    /// Removes every entry of an index (the index must be gone from its table already: its
    /// entries are cleared in the background, see [`Tx::discard`]).
    pub fn drop_index(&mut self, index_id: u64) -> Result<(), AwsError> {
        self.discard(
            GarbageSpace::Indexes,
            &index_id.to_be_bytes(),
            &(index_id + 1).to_be_bytes(),
        )
    }

    /// Leaves the entries of `space` in `start..end`, which nothing refers to any more (a
    /// deleted table's items, a dropped index's entries; ids are never reused), for the writer
    /// to remove a bounded step at a time between groups, so no job holds the writer for the
    /// size of a table. The range is recorded in the same transaction, so a restart resumes it.
    fn discard(&mut self, space: GarbageSpace, start: &[u8], end: &[u8]) -> Result<(), AwsError> {
        let key = garbage_key(space, start);
        self.put(Space::Meta, key.as_bytes(), end)?;
        *self.garbage = true;
        Ok(())
    }

    /// Appends the stream record for a change of one item, if the table's stream is enabled.
    pub(crate) fn append_stream_record(
        &mut self,
        table: &str,
        keys: &Item,
        old: Option<&Item>,
        new: Option<&Item>,
        ttl_delete: bool,
    ) -> Result<(), AwsError> {
        let Some(stream_arn) = self
            .catalog
            .tables
            .get(table)
            .and_then(|t| t.stream_arn.clone())
        else {
            return Ok(());
        };
        let Some(stream) = self.catalog.streams.get(&stream_arn) else {
            return Ok(());
        };
        let hash = self.key_hash_of(table, keys);
        let Some(shard) = stream.open_shard_for(hash) else {
            return Ok(());
        };
        let iid = shard.iid;
        let view_type = stream.view_type;
        self.catalog.next_seq += 1;
        let seq = self.catalog.next_seq;
        let mut rec = StreamRecord::describe(
            uuid::Uuid::new_v4().simple().to_string(),
            seq,
            self.now_ms,
            view_type,
            keys.clone(),
            old,
            new,
        );
        rec.ttl_delete = ttl_delete;
        let bytes = tributary_model::codec::encode_record(&rec);
        self.put(Space::Records, &record_key(iid, seq), &bytes)?;
        self.touched.insert(iid, seq);
        Ok(())
    }

    /// Creates a table (with its stream, if any) in the catalog.
    pub fn put_table(&mut self, table: TableMeta) -> Result<(), AwsError> {
        self.persist_table(&table)?;
        self.catalog.tables.insert(table.name.clone(), table);
        *self.catalog_changed = true;
        Ok(())
    }

    fn persist_table(&mut self, table: &TableMeta) -> Result<(), AwsError> {
        let bytes = serde_json::to_vec(table).map_err(|e| fail(self.failed, e))?;
        let key = format!("table/{}", table.name);
        self.put(Space::Meta, key.as_bytes(), &bytes)
    }

    /// Where an item's key falls in the shard hash space.
    fn key_hash_of(&self, table: &str, keys: &Item) -> u64 {
        let mut enc = Vec::new();
        if let Some(t) = self.catalog.tables.get(table) {
            for k in std::iter::once(&t.key_schema.hash).chain(t.key_schema.range.as_ref()) {
                if let Some(v) = keys.get(&k.name) {
                    tributary_model::keyenc::encode_key_attr(v, &mut enc);
                }
            }
        }
        tributary_model::keyenc::key_hash(&enc)
    }

    fn new_shard(&mut self, parent: Option<String>, hash_lo: u64, hash_hi: u64) -> ShardMeta {
        ShardMeta {
            shard_id: new_shard_id(self.now_ms),
            iid: self.next_id(),
            parent_shard_id: parent,
            start_seq: self.catalog.next_seq + 1,
            end_seq: None,
            created_ms: self.now_ms,
            hash_lo,
            hash_hi,
            closed_ms: None,
            trimmed_to: None,
        }
    }

    /// Creates a new enabled stream for `table` with `shard_count` open shards splitting the
    /// key-hash space evenly, and returns it.
    pub fn create_stream(
        &mut self,
        table: &TableMeta,
        arn: String,
        label: String,
        view_type: StreamViewType,
        shard_count: u32,
    ) -> Result<StreamMeta, AwsError> {
        let n = shard_count.max(1) as u128;
        let span = (u64::MAX as u128 + 1) / n;
        let mut shards = Vec::new();
        for i in 0..n {
            let lo = (i * span) as u64;
            let hi = if i + 1 == n {
                u64::MAX
            } else {
                ((i + 1) * span - 1) as u64
            };
            shards.push(self.new_shard(None, lo, hi));
        }
        let stream = StreamMeta {
            arn,
            label,
            table_name: table.name.clone(),
            table_id: table.id,
            view_type,
            enabled: true,
            created_ms: self.now_ms,
            key_schema: table.key_schema.clone(),
            shards,
            disabled_ms: None,
        };
        self.put_stream(stream.clone())?;
        Ok(stream)
    }

    /// Closes every open shard of an enabled stream and opens its children: one per shard
    /// (roll-over), or two splitting its key-hash slice (`split`). Returns the new shards.
    pub fn roll_shards(&mut self, arn: &str, split: bool) -> Result<Vec<ShardMeta>, AwsError> {
        let Some(mut stream) = self.catalog.streams.get(arn).cloned() else {
            return Ok(Vec::new());
        };
        if !stream.enabled {
            return Ok(Vec::new());
        }
        let last = self.catalog.next_seq;
        let mut children = Vec::new();
        for shard in stream.shards.iter_mut().filter(|s| s.end_seq.is_none()) {
            shard.end_seq = Some(last.max(shard.start_seq.saturating_sub(1)));
            shard.closed_ms = Some(self.now_ms);
            self.touched.entry(shard.iid).or_insert(0);
            let parent = Some(shard.shard_id.clone());
            if split && shard.hash_lo < shard.hash_hi {
                let mid = shard.hash_lo + (shard.hash_hi - shard.hash_lo) / 2;
                children.push(self.new_shard(parent.clone(), shard.hash_lo, mid));
                children.push(self.new_shard(parent, mid + 1, shard.hash_hi));
            } else {
                children.push(self.new_shard(parent, shard.hash_lo, shard.hash_hi));
            }
        }
        stream.shards.extend(children.iter().cloned());
        self.put_stream(stream)?;
        Ok(children)
    }

    /// Retention: removes up to `budget` stream records that arrived before `cutoff_ms`, oldest
    /// first in each shard, and remembers each shard's trim point. Returns how many records
    /// were removed (less than `budget` once nothing is left to trim).
    pub fn trim_records(&mut self, cutoff_ms: i64, budget: usize) -> Result<usize, AwsError> {
        let mut removed = 0;
        let arns: Vec<String> = self.catalog.streams.keys().cloned().collect();
        for arn in arns {
            let Some(mut stream) = self.catalog.streams.get(&arn).cloned() else {
                continue;
            };
            let mut changed = false;
            for shard in &mut stream.shards {
                if removed >= budget {
                    break;
                }
                let mut doomed = Vec::new();
                let lo = record_key(shard.iid, 0);
                let hi = record_key(shard.iid, u128::MAX);
                self.scan(
                    Space::Records,
                    Bound::Included(&lo),
                    Bound::Included(&hi),
                    &mut |k, v| {
                        let rec = tributary_model::codec::decode_record(v)?;
                        if rec.arrival_ms >= cutoff_ms || removed + doomed.len() >= budget {
                            return Ok(false);
                        }
                        doomed.push((k.to_vec(), rec.sequence));
                        Ok(true)
                    },
                )?;
                for (k, seq) in &doomed {
                    self.remove(Space::Records, k)?;
                    shard.trimmed_to = Some(shard.trimmed_to.map_or(*seq, |t| t.max(*seq)));
                    changed = true;
                }
                removed += doomed.len();
            }
            if changed {
                self.put_stream(stream)?;
            }
        }
        Ok(removed)
    }

    /// Disables a stream: closes its open shards; records stay readable.
    pub fn disable_stream(&mut self, arn: &str) -> Result<(), AwsError> {
        let Some(mut stream) = self.catalog.streams.get(arn).cloned() else {
            return Ok(());
        };
        stream.enabled = false;
        stream.disabled_ms = Some(self.now_ms);
        let last = self.catalog.next_seq;
        for shard in stream.shards.iter_mut().filter(|s| s.end_seq.is_none()) {
            // An empty closed shard ends just before it starts.
            shard.end_seq = Some(last.max(shard.start_seq.saturating_sub(1)));
            shard.closed_ms = Some(self.now_ms);
            self.touched.entry(shard.iid).or_insert(0);
        }
        self.put_stream(stream)
    }

    pub fn put_stream(&mut self, stream: StreamMeta) -> Result<(), AwsError> {
        let bytes = serde_json::to_vec(&stream).map_err(|e| fail(self.failed, e))?;
        let key = format!("stream/{}", stream.arn);
        self.put(Space::Meta, key.as_bytes(), &bytes)?;
        self.catalog.streams.insert(stream.arn.clone(), stream);
        *self.catalog_changed = true;
        Ok(())
    }

    /// Deletes a table and all its items. Its stream must have been disabled first.
    pub fn delete_table(&mut self, name: &str) -> Result<Option<TableMeta>, AwsError> {
        let Some(table) = self.catalog.tables.remove(name) else {
            return Ok(None);
        };
        for index in &table.indexes {
            self.drop_index(index.id)?;
        }
        let key = format!("table/{name}");
        self.remove(Space::Meta, key.as_bytes())?;
        self.discard(
            GarbageSpace::Items,
            &table.id.to_be_bytes(),
            &(table.id + 1).to_be_bytes(),
        )?;
        *self.catalog_changed = true;
        Ok(Some(table))
    }

    /// Stores an opaque document (function, mapping, checkpoint, ...).
    pub fn put_doc(
        &mut self,
        kind: &str,
        id: &str,
        doc: serde_json::Value,
    ) -> Result<(), AwsError> {
        let bytes = serde_json::to_vec(&doc).map_err(|e| fail(self.failed, e))?;
        let key = format!("doc/{kind}/{id}");
        self.put(Space::Meta, key.as_bytes(), &bytes)?;
        self.catalog
            .docs
            .insert((kind.to_owned(), id.to_owned()), doc);
        Ok(())
    }

    pub fn delete_doc(&mut self, kind: &str, id: &str) -> Result<(), AwsError> {
        let key = format!("doc/{kind}/{id}");
        self.remove(Space::Meta, key.as_bytes())?;
        self.catalog.docs.remove(&(kind.to_owned(), id.to_owned()));
        Ok(())
    }

    /// Reads one value of a key-value space inside this transaction.
    pub fn kv_get(&mut self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>, AwsError> {
        let mut out = None;
        let got = self.w.get(Space::Kv, &kv_key(space, key), &mut |v| {
            out = Some(v.to_vec())
        });
        got.map_err(|e| fail(self.failed, e))?;
        Ok(out)
    }

    /// Writes one value of a key-value space (`space` must not contain a NUL byte).
    pub fn kv_put(&mut self, space: &str, key: &[u8], value: &[u8]) -> Result<(), AwsError> {
        self.put(Space::Kv, &kv_key(space, key), value)
    }

    /// Removes one key; answers whether it was there.
    pub fn kv_delete(&mut self, space: &str, key: &[u8]) -> Result<bool, AwsError> {
        self.remove(Space::Kv, &kv_key(space, key))
    }

    /// Reads up to `limit` entries of a key-value space in key order inside this transaction,
    /// between two bounds on the key within the space (keys come back without the prefix).
    pub fn kv_range(
        &mut self,
        space: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<KvEntry>, AwsError> {
        kv_scan(&*self.w, space, lower, upper, false, limit).map_err(|e| fail(self.failed, e))
    }

    /// Removes every key of a space between two bounds; answers how many were removed.
    /// Deletes the entries of `space` from `lower` (included) to `upper` (excluded) in the
    /// background, a bounded step at a time (see [`Tx::discard`]): for ranges nothing reads any
    /// more, such as a deleted queue's messages, or a purged queue's below the seq its readers
    /// now start from.
    pub fn kv_discard(&mut self, space: &str, lower: &[u8], upper: &[u8]) -> Result<(), AwsError> {
        if lower >= upper {
            return Ok(());
        }
        self.discard(
            GarbageSpace::Kv,
            &kv_key(space, lower),
            &kv_key(space, upper),
        )
    }

    pub fn kv_delete_range(
        &mut self,
        space: &str,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Result<usize, AwsError> {
        let (lo, hi) = kv_bounds(space, lower, upper);
        let mut keys = Vec::new();
        self.scan(
            Space::Kv,
            as_slice_bound(&lo),
            as_slice_bound(&hi),
            &mut |k, _| {
                keys.push(k.to_vec());
                Ok(true)
            },
        )?;
        for k in &keys {
            self.remove(Space::Kv, k)?;
        }
        Ok(keys.len())
    }

    pub fn put_blob(&mut self, id: &str, bytes: &[u8]) -> Result<(), AwsError> {
        self.put(Space::Blobs, id.as_bytes(), bytes)
    }

    pub fn delete_blob(&mut self, id: &str) -> Result<(), AwsError> {
        self.remove(Space::Blobs, id.as_bytes())?;
        Ok(())
    }
}

/// A key (without its space) and its value.
pub type KvEntry = (Vec<u8>, Vec<u8>);

/// The stored key of `key` in key-value space `space`.
fn kv_key(space: &str, key: &[u8]) -> Vec<u8> {
    debug_assert!(
        !space.as_bytes().contains(&0),
        "kv space names carry no NUL"
    );
    let mut k = Vec::with_capacity(space.len() + 1 + key.len());
    k.extend_from_slice(space.as_bytes());
    k.push(0);
    k.extend_from_slice(key);
    k
}

/// Bounds inside one key-value space; unbounded ends stay inside the space.
fn kv_bounds(
    space: &str,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lo = match lower {
        Bound::Included(k) => Bound::Included(kv_key(space, k)),
        Bound::Excluded(k) => Bound::Excluded(kv_key(space, k)),
        Bound::Unbounded => Bound::Included(kv_key(space, &[])),
    };
    let hi = match upper {
        Bound::Included(k) => Bound::Included(kv_key(space, k)),
        Bound::Excluded(k) => Bound::Excluded(kv_key(space, k)),
        Bound::Unbounded => {
            let mut end = space.as_bytes().to_vec();
            end.push(1);
            Bound::Excluded(end)
        }
    };
    (lo, hi)
}

/// Up to `limit` entries of a key-value space between two bounds on the key within the space,
/// in key order (or reverse order); keys come back without the space prefix.
fn kv_scan(
    reads: &dyn Reads,
    space: &str,
    lower: Bound<&[u8]>,
    upper: Bound<&[u8]>,
    reverse: bool,
    limit: usize,
) -> Result<Vec<KvEntry>, StoreError> {
    let (lo, hi) = kv_bounds(space, lower, upper);
    let prefix = space.len() + 1;
    let mut out = Vec::new();
    reads.scan(
        Space::Kv,
        as_slice_bound(&lo),
        as_slice_bound(&hi),
        reverse,
        &mut |k, v| {
            out.push((k[prefix..].to_vec(), v.to_vec()));
            Ok(out.len() < limit)
        },
    )?;
    Ok(out)
}

/// Remembers a storage failure; the whole group commit is then rolled back.
fn fail(failed: &mut Option<StoreError>, e: impl Into<StoreError>) -> AwsError {
    let e = e.into();
    tracing::error!(error = %e, "write failed; rolling back the group");
    *failed = Some(e);
    AwsError::internal("Internal server error")
}

/// `shardId-` + 20 digits + `-` + 8 hex, as AWS formats shard ids.
fn new_shard_id(now_ms: i64) -> String {
    format!(
        "shardId-{:020}-{:08x}",
        now_ms.max(0),
        rand::random::<u32>()
    )
}

fn as_slice_bound(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn item_key(table_id: u64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + key.len());
    k.extend_from_slice(&table_id.to_be_bytes());
    k.extend_from_slice(key);
    k
}

fn record_key(iid: u64, seq: u128) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&iid.to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn seq_of_record_key(k: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(&k[8..24]);
    u128::from_be_bytes(b)
}

fn load_catalog(reads: &dyn Reads) -> Result<Catalog, StoreError> {
    let mut cat = Catalog {
        next_seq: tributary_model::stream::SEQUENCE_BASE,
        ..Default::default()
    };
    reads.scan(
        Space::Meta,
        Bound::Unbounded,
        Bound::Unbounded,
        false,
        &mut |key, bytes| {
            let key = redb_engine::text(key)?;
            if let Some(name) = key.strip_prefix("table/") {
                cat.tables
                    .insert(name.to_owned(), serde_json::from_slice(bytes)?);
            } else if let Some(arn) = key.strip_prefix("stream/") {
                cat.streams
                    .insert(arn.to_owned(), serde_json::from_slice(bytes)?);
            } else if let Some(rest) = key.strip_prefix("doc/") {
                let (kind, id) = rest
                    .split_once('/')
                    .ok_or_else(|| StoreError::Corrupt(key.into()))?;
                cat.docs.insert(
                    (kind.to_owned(), id.to_owned()),
                    serde_json::from_slice(bytes)?,
                );
            } else if key == "counters" {
                let (id, seq): (u64, String) = serde_json::from_slice(bytes)?;
                cat.next_id = id;
                cat.next_seq = seq
                    .parse()
                    .map_err(|_| StoreError::Corrupt("counters".into()))?;
            }
            Ok(true)
        },
    )?;
    Ok(cat)
}

/// Where a discarded key range lies.
#[derive(Clone, Copy)]
enum GarbageSpace {
    Items,
    Indexes,
    Kv,
}

impl GarbageSpace {
    fn name(self) -> &'static str {
        match self {
            GarbageSpace::Items => "items",
            GarbageSpace::Indexes => "indexes",
            GarbageSpace::Kv => "kv",
        }
    }

    fn space(self) -> Space {
        match self {
            GarbageSpace::Items => Space::Items,
            GarbageSpace::Indexes => Space::Indexes,
            GarbageSpace::Kv => Space::Kv,
        }
    }
}

/// `garbage/<space>/<hex of the range start>` in META; the value is the range's end.
const GARBAGE_PREFIX: &str = "garbage/";
/// The first META key after every garbage key (`0` follows `/`).
const GARBAGE_END: &str = "garbage0";

/// Entries one garbage step removes: a few milliseconds of the writer.
const GARBAGE_STEP: usize = 2000;

fn garbage_key(space: GarbageSpace, start: &[u8]) -> String {
    format!("{GARBAGE_PREFIX}{}/{}", space.name(), hex::encode(start))
}

/// The first discarded range left, if any: its META key and its end.
fn first_garbage(reads: &dyn Reads) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let mut first = None;
    reads.scan(
        Space::Meta,
        Bound::Included(GARBAGE_PREFIX.as_bytes()),
        Bound::Excluded(GARBAGE_END.as_bytes()),
        false,
        &mut |k, v| {
            first = Some((redb_engine::text(k)?.to_owned(), v.to_vec()));
            Ok(false)
        },
    )?;
    Ok(first)
}

/// Removes up to [`GARBAGE_STEP`] entries of the first discarded range in `w`; returns
/// whether any garbage is left.
fn garbage_step(w: &mut dyn Writes) -> Result<bool, StoreError> {
    let Some((key, end)) = first_garbage(&*w)? else {
        return Ok(false);
    };
    let rest = &key[GARBAGE_PREFIX.len()..];
    let parsed = rest.split_once('/').and_then(|(space, start)| {
        let space = match space {
            "items" => GarbageSpace::Items,
            "indexes" => GarbageSpace::Indexes,
            "kv" => GarbageSpace::Kv,
            _ => return None,
        };
        Some((space, hex::decode(start).ok()?))
    });
    w.remove(Space::Meta, key.as_bytes())?;
    if let Some((space, start)) = parsed {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        w.scan(
            space.space(),
            Bound::Included(&start),
            Bound::Excluded(&end),
            false,
            &mut |k, _| {
                keys.push(k.to_vec());
                Ok(keys.len() <= GARBAGE_STEP)
            },
        )?;
        for k in keys.iter().take(GARBAGE_STEP) {
            w.remove(space.space(), k)?;
        }
        if let Some(next) = keys.get(GARBAGE_STEP) {
            w.put(Space::Meta, garbage_key(space, next).as_bytes(), &end)?;
        }
    } else {
        tracing::warn!(key, "dropping a garbage entry this version does not know");
    }
    Ok(first_garbage(&*w)?.is_some())
}

/// How much log the writer lets pile up before it makes redb durable (a checkpoint) and the
/// segments before it can go: what a restart replays at most. One segment's worth, so a
/// segment rarely grows past the blocks reserved for it.
const CHECKPOINT_BYTES: usize = 8 << 20;

/// How long after a commit the writer makes redb durable at the latest. A checkpoint writes
/// every page the commits since the last one changed and syncs redb on the writer thread, so
/// the writer pauses for it: often and short is better than rare and long (PutItem p99 at
/// `-c16`: 4 ms at 100 ms, 16 ms at 1 s, 22 ms at 10 s; throughput the same or better).
const CHECKPOINT_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// The writer's open engine and, for a durable store, its log.
struct Open {
    engine: Box<dyn Engine>,
    wal: Option<Wal>,
}

/// The durable store's log, as the writer drives it.
struct Wal {
    syncer: Syncer<Acked>,
    /// Whether the engine makes checkpoints after which old segments go.
    checkpoints: bool,
    /// Bytes sent since the last checkpoint, and when the first of them was.
    since_checkpoint: usize,
    pending_since: Option<std::time::Instant>,
}

impl Open {
    /// Readies an opened engine: its log and syncer, and the first published snapshot.
    /// Returns the catalog as the engine has it.
    fn start(
        mut engine: Box<dyn Engine>,
        published: &Publisher,
    ) -> Result<(Open, Catalog), StoreError> {
        let wal = match engine.log()? {
            Some(log) => {
                let to = published.clone();
                let syncer = Syncer::spawn(log.dir, log.file, log.next, move |acked, outcome| {
                    to.durable(acked, outcome)
                })?;
                Some(Wal {
                    syncer,
                    checkpoints: log.checkpoints,
                    since_checkpoint: 0,
                    pending_since: None,
                })
            }
            None => None,
        };
        let view = engine.view()?;
        let catalog = load_catalog(&**view)?;
        published.view.store(Some(view));
        Ok((Open { engine, wal }, catalog))
    }

    /// Sends a commit on to be shown once durable: at once in memory, after the log's sync on
    /// disk (on the syncer if `more_waiting` or it is busy, else here). `record` is what the
    /// log must hold.
    fn commit(
        &mut self,
        record: Vec<u8>,
        published: &Publisher,
        more_waiting: bool,
        acked: impl FnOnce(View) -> Acked,
    ) -> Result<(), StoreError> {
        let acked = acked(self.engine.view()?);
        match &mut self.wal {
            None => published.durable(acked, Ok(())),
            Some(w) => {
                if w.checkpoints {
                    w.since_checkpoint += record.len();
                    w.pending_since.get_or_insert_with(std::time::Instant::now);
                }
                if more_waiting || !w.syncer.idle() {
                    // Sync on the syncer while the next group executes.
                    w.syncer.commit(record, acked);
                } else {
                    // Nothing to overlap the sync with: spare the hand-off.
                    w.syncer.sync_now(record, acked);
                }
            }
        }
        Ok(())
    }

    /// When the next checkpoint is due, if anything waits for one.
    fn checkpoint_due(&self) -> Option<std::time::Instant> {
        let w = self.wal.as_ref()?;
        let since = w.pending_since?;
        if w.since_checkpoint >= CHECKPOINT_BYTES {
            return Some(since);
        }
        Some(since + CHECKPOINT_AFTER)
    }

    /// Makes the engine durable up to the last record sent, so the log before it can go.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        let Some(w) = &mut self.wal else {
            return Ok(());
        };
        if w.pending_since.is_none() {
            // Nothing since the last one: the engine is durable up to the last record
            // already, and the current segment is the one that checkpoint started.
            return Ok(());
        }
        // Only what the log holds may become durable in the engine: a commit whose sync is
        // still to come could yet fail, and its requests be told so.
        if !w.syncer.synced() {
            return Err(StoreError::Db("the write-ahead log failed".into()));
        }
        if let Some(lsn) = self.engine.checkpoint()? {
            w.syncer.checkpoint(lsn);
        }
        w.since_checkpoint = 0;
        w.pending_since = None;
        Ok(())
    }

    /// Whether discarded ranges are left to clear (a restart resumes them).
    fn has_garbage(&self) -> bool {
        let view = self.engine.view();
        view.and_then(|v| first_garbage(&**v))
            .is_ok_and(|g| g.is_some())
    }

    /// Whether the log failed to take a commit (the store must be reopened).
    fn log_failed(&self) -> bool {
        self.wal.as_ref().is_some_and(|w| w.syncer.failed())
    }

    /// Lets the syncer finish (every sent commit is told its outcome), then closes.
    fn close(self) {
        // Dropping the syncer waits for it.
        drop(self.wal);
    }

    /// Closes after a failure: the engine is fenced first, so what it holds beyond its last
    /// durable state is dropped instead of persisted; the log brings back what it synced.
    fn close_failed(self) {
        self.engine.fence();
        self.close();
    }
}

/// The writer thread's state.
struct Writer {
    opener: Opener,
    published: Publisher,
    clock: Arc<dyn Clock>,
}

impl Writer {
    fn run(self, mut rx: mpsc::Receiver<Box<dyn Job>>, open: Open) {
        // Only for waiting on the next job with a deadline (the next checkpoint).
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                self.published
                    .health
                    .send_replace(Health::Fatal(format!("the store writer cannot start: {e}")));
                return;
            }
        };
        // Discarded ranges left to clear (a restart resumes them), and groups since the last
        // garbage step: under constant load a step still runs every few groups.
        let mut garbage = open.has_garbage();
        let mut open = Some(open);
        let mut groups_since_step = 0u32;
        // The writer's own copy: jobs of a group see each other's changes in it; readers see
        // it only once it is durable.
        let mut working: Catalog = (**self.published.catalog.load()).clone();
        let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
        loop {
            if open.as_ref().is_some_and(Open::log_failed) {
                self.fail(&mut open, "the write-ahead log cannot be written".into());
            }
            let Some(o) = open.as_mut() else {
                // Failed: answer what arrives for a while, then try to reopen.
                let why = match &*self.published.health.borrow() {
                    Health::Failed(w) | Health::Fatal(w) => w.clone(),
                    Health::Ok => String::new(),
                };
                let deadline = std::time::Instant::now() + REOPEN_EVERY;
                while std::time::Instant::now() < deadline {
                    match rx.try_recv() {
                        Ok(job) => job.finish(Err(StoreError::Unavailable(why.clone()))),
                        Err(mpsc::error::TryRecvError::Empty) => {
                            std::thread::sleep(std::time::Duration::from_millis(10));
                        }
                        Err(mpsc::error::TryRecvError::Disconnected) => return,
                    }
                }
                if let Some((o, catalog)) = self.reopen() {
                    working = catalog;
                    garbage = o.has_garbage();
                    open = Some(o);
                }
                continue;
            };
            // Idle: clear garbage a step at a time, and make redb durable when it is due,
            // until a job arrives.
            let first = loop {
                match rx.try_recv() {
                    Ok(job) => break Ok(Some(job)),
                    Err(mpsc::error::TryRecvError::Disconnected) => break Ok(None),
                    Err(mpsc::error::TryRecvError::Empty) if garbage => {
                        match self.garbage_step(o, &working) {
                            Ok(more) => garbage = more,
                            // Left for a later group to retry, not in a loop here.
                            Err(_) => break Ok(rt.block_on(rx.recv())),
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => match o.checkpoint_due() {
                        None => break Ok(rt.block_on(rx.recv())),
                        Some(due) => {
                            let due = tokio::time::Instant::from_std(due);
                            let next = rt
                                .block_on(async { tokio::time::timeout_at(due, rx.recv()).await });
                            match next {
                                Ok(job) => break Ok(job),
                                Err(_) => {
                                    if let Err(e) = o.checkpoint() {
                                        break Err(e);
                                    }
                                }
                            }
                        }
                    },
                }
            };
            let first = match first {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "a checkpoint failed; reopening the store");
                    self.fail(&mut open, e.to_string());
                    continue;
                }
            };
            group.push(first);
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            let result =
                self.run_group(o, &mut working, &mut group, &mut garbage, || !rx.is_empty());
            if let Err(e) = result {
                // Nothing of the group is durable: forget its catalog changes too.
                working = (**self.published.catalog.load()).clone();
                for job in group.drain(..) {
                    job.finish(Err(StoreError::Db(e.to_string())));
                }
                if matches!(e, StoreError::Db(_)) {
                    // The engine refused: redb takes nothing more until it is reopened.
                    tracing::error!(error = %e, "the store failed; reopening it");
                    self.fail(&mut open, e.to_string());
                    continue;
                }
            }
            let Some(o) = open.as_mut() else {
                continue;
            };
            if o.checkpoint_due()
                .is_some_and(|due| due <= std::time::Instant::now())
            {
                if let Err(e) = o.checkpoint() {
                    tracing::error!(error = %e, "a checkpoint failed; reopening the store");
                    self.fail(&mut open, e.to_string());
                    continue;
                }
            }
            groups_since_step += 1;
            if garbage && groups_since_step >= 16 {
                groups_since_step = 0;
                if let Ok(more) = self.garbage_step(o, &working) {
                    garbage = more;
                }
            }
        }
        if let Some(mut o) = open {
            match o.checkpoint() {
                Ok(()) => o.close(),
                Err(e) => {
                    // redb must not persist, on close, commits the log may not hold: it keeps
                    // its last durable commit, and the next open replays the log from there.
                    tracing::warn!(error = %e, "the last checkpoint failed; the log has the commits");
                    o.close_failed();
                }
            }
        }
        tracing::debug!("store writer stopped");
    }

    /// Runs a group, retrying it without any job that panics, and commits it. On success the
    /// jobs are on their way to be told (after the sync); on failure they are still in `group`.
    /// `waiting` says whether more jobs are queued (the next group, to overlap the sync with).
    fn run_group(
        &self,
        o: &mut Open,
        working: &mut Catalog,
        group: &mut Vec<Box<dyn Job>>,
        garbage: &mut bool,
        waiting: impl Fn() -> bool,
    ) -> Result<(), StoreError> {
        loop {
            // A snapshot to go back to (the maps are persistent: this copies no entries).
            let before = working.clone();
            let mut touched = HashMap::new();
            let mut catalog_changed = false;
            let mut discarded = false;
            let mut ran = Ran::Done(Ok(()));
            let committed = o.engine.write(&mut |w| {
                ran = run_jobs(
                    w,
                    working,
                    &self.clock,
                    group,
                    &mut touched,
                    &mut catalog_changed,
                    &mut discarded,
                );
                matches!(ran, Ran::Done(Ok(())))
            });
            let record = match committed {
                Ok(record) => record,
                Err(e) => {
                    *working = before;
                    return Err(e);
                }
            };
            match (ran, record) {
                (Ran::Done(Ok(())), Some(record)) => {
                    let jobs = std::mem::take(group);
                    let catalog = Arc::new(working.clone());
                    let mut jobs = Some(jobs);
                    let res = o.commit(record, &self.published, waiting(), |view| Acked {
                        jobs: jobs.take().unwrap_or_default(),
                        view,
                        catalog,
                        touched,
                        catalog_changed,
                    });
                    if let Err(e) = res {
                        // The jobs were never handed on: they are told here.
                        *group = jobs.unwrap_or_default();
                        *working = before;
                        return Err(e);
                    }
                    *group = Vec::with_capacity(MAX_GROUP);
                    *garbage |= discarded;
                    return Ok(());
                }
                (Ran::Done(Ok(())), None) => {
                    *working = before;
                    return Err(StoreError::Db("the engine rolled the group back".into()));
                }
                (Ran::Done(Err(e)), _) => {
                    *working = before;
                    return Err(e);
                }
                (Ran::Panicked(i, message), _) => {
                    // The group's transaction is gone with everything the jobs wrote; run
                    // it again without the job that panicked.
                    *working = before;
                    let job = group.remove(i);
                    tracing::error!(%message, "a store write panicked; its request fails, the rest of its group is retried");
                    job.finish(Err(StoreError::Panicked(message)));
                    if group.is_empty() {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// One garbage step in a commit of its own; returns whether garbage is left to clear. A
    /// failure is left for the next group, which meets it again and fails the store if it is
    /// the disk.
    fn garbage_step(&self, o: &mut Open, working: &Catalog) -> Result<bool, StoreError> {
        let res = (|| {
            let mut more = Err(StoreError::Closed);
            let record = o.engine.write(&mut |w| {
                more = garbage_step(w);
                more.is_ok()
            })?;
            let more = more?;
            let record =
                record.ok_or_else(|| StoreError::Db("the garbage step rolled back".into()))?;
            let catalog = Arc::new(working.clone());
            // Nobody waits for it: never on the writer's time.
            o.commit(record, &self.published, true, |view| Acked {
                jobs: Vec::new(),
                view,
                catalog,
                touched: HashMap::new(),
                catalog_changed: false,
            })?;
            Ok(more)
        })();
        if let Err(e) = &res {
            tracing::warn!(error = %e, "clearing discarded entries failed; will retry");
        }
        res
    }

    /// Stops using the open store after a failure: the syncer finishes (each commit it holds
    /// learns its outcome), readers see nothing, and health says why.
    fn fail(&self, open: &mut Option<Open>, why: String) {
        if let Some(o) = open.take() {
            o.close_failed();
        }
        self.published.fail(&why);
    }

    /// Opens the failed database again, with its catalog as the file has it. `None` if it cannot
    /// be opened yet (readers still hold the failed instance, or the disk is still full); a store
    /// that can never be reopened is marked [`Health::Fatal`].
    fn reopen(&self) -> Option<(Open, Catalog)> {
        if matches!(&*self.published.health.borrow(), Health::Fatal(_)) {
            return None;
        }
        let opened = (self.opener)().and_then(|mut engine| {
            // A write must go through again before the store says it serves.
            engine.probe(self.clock.now_millis().to_string().as_bytes())?;
            // What the last durable commit and the log left.
            Open::start(engine, &self.published)
        });
        match opened {
            Ok((o, catalog)) => {
                self.published.catalog.store(Arc::new(catalog.clone()));
                self.published.health.send_replace(Health::Ok);
                self.published.watchers.catalog.send_modify(|v| *v += 1);
                tracing::info!("the store is serving again");
                Some((o, catalog))
            }
            Err(StoreError::Unavailable(why)) => {
                tracing::error!(%why, "the store cannot be reopened");
                self.published.health.send_replace(Health::Fatal(why));
                None
            }
            Err(e) => {
                // Readers must not see the half-opened instance.
                self.published.view.store(None);
                tracing::debug!(error = %e, "the store is not reopened yet");
                None
            }
        }
    }
}

/// How running a group went.
enum Ran {
    /// Every job ran; whether the group may commit.
    Done(Result<(), StoreError>),
    /// The job at this index panicked (with this message); nothing was committed.
    Panicked(usize, String),
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// Runs every job of `group` in the engine's write transaction `w`. The jobs stay in `group`,
/// to be told the outcome.
fn run_jobs(
    w: &mut dyn Writes,
    cat: &mut Catalog,
    clock: &Arc<dyn Clock>,
    group: &mut [Box<dyn Job>],
    touched: &mut HashMap<u64, u128>,
    catalog_changed: &mut bool,
    garbage: &mut bool,
) -> Ran {
    let mut failed: Option<StoreError> = None;
    let before_counters = (cat.next_id, cat.next_seq);
    let mut tx = Tx {
        catalog: cat,
        w,
        now_ms: clock.now_millis(),
        touched,
        catalog_changed,
        dirty_tables: HashSet::new(),
        failed: &mut failed,
        garbage,
    };
    for (i, job) in group.iter_mut().enumerate() {
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(&mut tx)));
        if let Err(payload) = ran {
            // Dropping the transaction unwritten rolls back every job before this one.
            return Ran::Panicked(i, panic_message(payload.as_ref()));
        }
    }
    for name in std::mem::take(&mut tx.dirty_tables) {
        if let Some(t) = tx.catalog.tables.get(&name).cloned() {
            // A failure is recorded in `failed` and rolls the group back.
            let _ = tx.persist_table(&t);
        }
    }
    if (tx.catalog.next_id, tx.catalog.next_seq) != before_counters {
        let counters = (tx.catalog.next_id, tx.catalog.next_seq.to_string());
        match serde_json::to_vec(&counters) {
            Ok(bytes) => {
                // A failure is recorded in `failed` and rolls the group back.
                let _ = tx.put(Space::Meta, b"counters", &bytes);
            }
            Err(e) => {
                fail(tx.failed, e);
            }
        }
    }
    drop(tx);
    match failed {
        Some(e) => Ran::Done(Err(e)),
        None => Ran::Done(Ok(())),
    }
}

#[cfg(test)]
mod tests;

//! The storage-engine seam: what the store needs of the ordered key-value engine under it.
//!
//! The store keeps its data in six ordered key spaces ([`Space`]). A job reads and writes them
//! through [`Writes`] inside one write transaction of the engine; readers use a [`Reads`]
//! snapshot that the store publishes once a commit is durable. Durability is the store's
//! business: an engine commits without syncing and hands the store the bytes its log must hold
//! ([`Engine::write`]), or syncs its own journal when the store's syncer asks ([`Engine::log`]).
//!
//! Two engines sit behind it: redb, a copy-on-write B-tree, with the store's own write-ahead
//! log in front ([`crate::redb_engine`]), and fjall, an LSM tree with its own journal
//! ([`crate::fjall_engine`]). `bench/README.md` has the numbers that chose between them.

use std::ops::Bound;
use std::sync::Arc;

use crate::wal::{LogDir, LogFile};
use crate::StoreError;

/// One of the store's ordered key spaces. Keys of `Meta` and `Blobs` are text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Space {
    Meta = 0,
    Items = 1,
    Records = 2,
    Blobs = 3,
    Indexes = 4,
    Kv = 5,
}

impl Space {
    pub(crate) const ALL: [Space; 6] = [
        Space::Meta,
        Space::Items,
        Space::Records,
        Space::Blobs,
        Space::Indexes,
        Space::Kv,
    ];

    pub(crate) fn from_u8(b: u8) -> Option<Space> {
        Space::ALL.get(b as usize).copied()
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Space::Meta => "meta",
            Space::Items => "items",
            Space::Records => "records",
            Space::Blobs => "blobs",
            Space::Indexes => "indexes",
            Space::Kv => "kv",
        }
    }
}

/// Called with each entry of a scan, in order; returns whether to go on.
pub(crate) type Visit<'a> = &'a mut dyn FnMut(&[u8], &[u8]) -> Result<bool, StoreError>;

/// Reading a state of the store: a published snapshot, or a write transaction's own state.
pub(crate) trait Reads {
    /// Calls `f` with the value at `key`, if any; returns whether there was one.
    fn get(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError>;

    /// Visits the entries between two bounds in key order (or reverse order) until `visit`
    /// says stop.
    fn scan(
        &self,
        space: Space,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        visit: Visit<'_>,
    ) -> Result<(), StoreError>;
}

/// A write transaction: reads see its own writes.
pub(crate) trait Writes: Reads {
    fn put(&mut self, space: Space, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key`; returns whether it was there.
    fn remove(&mut self, space: Space, key: &[u8]) -> Result<bool, StoreError>;
}

/// A snapshot readers share across threads.
pub(crate) struct Snapshot(pub(crate) Box<dyn Reads + Send + Sync>);

impl std::ops::Deref for Snapshot {
    type Target = dyn Reads + Send + Sync;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

pub(crate) type View = Arc<Snapshot>;

/// Where a durable engine's commits are made durable: the directory of segments the store's
/// syncer appends to, the open segment, and the number of the next record. An engine with a
/// journal of its own gives a "log" whose sync is the journal's.
pub(crate) struct Log {
    pub(crate) dir: Arc<dyn LogDir>,
    pub(crate) file: Box<dyn LogFile>,
    pub(crate) next: u64,
    /// Whether the engine makes checkpoints ([`Engine::checkpoint`]) after which the log's
    /// older segments can go; an engine with its own journal makes none.
    pub(crate) checkpoints: bool,
}

/// An open storage engine, driven by the store's writer thread.
pub(crate) trait Engine: Send {
    /// Runs `f` in one write transaction and commits it if `f` returns true (else rolls back).
    /// A commit is visible to the next write transaction at once, and to [`Engine::view`]
    /// snapshots taken after it, but is not durable: on commit this returns the bytes the
    /// log must hold before it is (empty for an engine whose journal has it already).
    fn write(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Writes) -> bool,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// A snapshot of the last commit.
    fn view(&self) -> Result<View, StoreError>;

    /// Makes every commit durable in the engine itself, so the log records before it can go;
    /// returns the number of the last record it covers. `None`: the engine has no
    /// checkpoints (it is in memory, or its journal is its own).
    fn checkpoint(&mut self) -> Result<Option<u64>, StoreError>;

    /// Writes a probe and makes it durable: after a failure, whether the engine takes writes
    /// again.
    fn probe(&mut self, value: &[u8]) -> Result<(), StoreError>;

    /// Takes the log the store's syncer makes commits durable through; `None` in memory.
    fn log(&mut self) -> Result<Option<Log>, StoreError>;

    /// Cuts the engine off its files before it is closed after a failure, so nothing it holds
    /// beyond its last durable state reaches them.
    fn fence(&self);
}

/// Visits the entries of a double-ended iterator of key-value results between the bounds.
pub(crate) fn visit_all<K, V, E, I>(
    iter: I,
    reverse: bool,
    visit: Visit<'_>,
) -> Result<(), StoreError>
where
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
    StoreError: From<E>,
    I: DoubleEndedIterator<Item = Result<(K, V), E>>,
{
    let mut step = |entry: Result<(K, V), E>| -> Result<bool, StoreError> {
        let (k, v) = entry?;
        visit(k.as_ref(), v.as_ref())
    };
    if reverse {
        for entry in iter.rev() {
            if !step(entry)? {
                break;
            }
        }
    } else {
        for entry in iter {
            if !step(entry)? {
                break;
            }
        }
    }
    Ok(())
}

/// Whether two bounds leave nothing between them (engines may panic on such a range).
pub(crate) fn empty_range(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    match (lower, upper) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    }
}

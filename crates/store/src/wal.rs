//! The write-ahead log in front of redb, and the thread that makes it durable.
//!
//! A durable store commits each group to redb without syncing it (`Durability::None`) and
//! writes the group's changes, as one record, to the log. The syncer thread appends the records
//! of every group that is ready, syncs the log once for all of them, and only then are the
//! group's writes acknowledged and shown to readers. Meanwhile the writer goes on with the next
//! group against the state the last one left: execution and sync overlap (pipelined group
//! commit), and one `fdatasync` covers as many groups as arrived while the last one ran.
//!
//! Every so often the writer makes redb durable itself (a checkpoint): the commit records the
//! number of the last record it covers, and the segments before it are deleted. On open, the
//! records after the checkpoint are applied again, up to the first one that is torn or whose
//! checksum fails: that one, and anything after it, was never acknowledged.
//!
//! A record: `len: u32` (of what follows the checksum), `crc32: u32` (of the same bytes),
//! `lsn: u64`, then operations: `1 space klen:u32 key vlen:u32 value` (put) or
//! `2 space klen:u32 key` (remove). Integers are little-endian.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use redb::{Database, ReadableDatabase};

pub(crate) use crate::engine::Space;
use crate::redb_engine::{bytes_table, text, text_table, META};
use crate::StoreError;

const PUT: u8 = 1;
const REMOVE: u8 = 2;
/// `len`, `crc32` and `lsn`.
const HEADER: usize = 16;

/// The META key of the number of the last record a redb commit reflects.
pub(crate) const LSN_KEY: &str = "wal_lsn";

/// One commit's record, as its jobs write it.
pub(crate) struct Record {
    buf: Vec<u8>,
}

impl Record {
    pub(crate) fn new() -> Record {
        Record {
            buf: vec![0; HEADER],
        }
    }

    /// Forgets what was written (the group runs again, or was rolled back).
    pub(crate) fn clear(&mut self) {
        self.buf.truncate(HEADER);
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.buf.len() == HEADER
    }

    pub(crate) fn put(&mut self, space: Space, key: &[u8], value: &[u8]) {
        self.buf.push(PUT);
        self.buf.push(space as u8);
        self.bytes(key);
        self.bytes(value);
    }

    pub(crate) fn remove(&mut self, space: Space, key: &[u8]) {
        self.buf.push(REMOVE);
        self.buf.push(space as u8);
        self.bytes(key);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(b);
    }

    /// The finished record, numbered `lsn`; `self` starts empty again.
    pub(crate) fn seal(&mut self, lsn: u64) -> Vec<u8> {
        let mut out = std::mem::replace(&mut self.buf, Vec::with_capacity(4096));
        self.buf.resize(HEADER, 0);
        out[8..16].copy_from_slice(&lsn.to_le_bytes());
        let len = (out.len() - 8) as u32;
        let crc = crc32fast::hash(&out[8..]);
        out[0..4].copy_from_slice(&len.to_le_bytes());
        out[4..8].copy_from_slice(&crc.to_le_bytes());
        out
    }
}

/// One segment of the log, open for appending.
pub(crate) trait LogFile: Send {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    fn sync(&mut self) -> std::io::Result<()>;
    /// Cuts the segment back to `len` bytes (what was synced before a failed append).
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
}

/// The directory of the log's segments, each named by the number of its first record.
pub(crate) trait LogDir: Send + Sync {
    /// The segments, oldest first.
    fn segments(&self) -> std::io::Result<Vec<u64>>;
    fn read(&self, first: u64) -> std::io::Result<Vec<u8>>;
    /// Creates an empty segment, durably (the directory is synced too).
    fn create(&self, first: u64) -> std::io::Result<Box<dyn LogFile>>;
    fn remove(&self, first: u64) -> std::io::Result<()>;
}

/// The log in a directory of the file system.
///
/// Segments are written in place over bytes that are already on disk: a new segment is a
/// spare one renamed (a segment the last checkpoint made obsolete) or, when there is none,
/// a file whose blocks are reserved. A sync then writes only the data, never the file's size, which on ext4 is
/// a second write per sync. A recycled segment still holds older records after the new ones;
/// they are numbered below the segment's first record, so replay passes over them (and a new
/// record torn over them fails its checksum).
pub(crate) struct FsDir {
    path: PathBuf,
}

/// How large a segment is made up front; one that fills up grows as an ordinary file.
const SEGMENT_BYTES: u64 = 8 << 20;
/// How many obsolete segments are kept to be written over.
const SPARES: usize = 2;

impl FsDir {
    pub(crate) fn open(path: PathBuf) -> std::io::Result<FsDir> {
        std::fs::create_dir_all(&path)?;
        Ok(FsDir { path })
    }

    fn file(&self, first: u64) -> PathBuf {
        self.path.join(format!("{first:020}.log"))
    }

    fn spares(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.path)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "spare") {
                out.push(path);
            }
        }
        Ok(out)
    }

    fn sync_dir(&self) -> std::io::Result<()> {
        std::fs::File::open(&self.path)?.sync_all()
    }
}

struct FsFile {
    file: std::fs::File,
    /// Where the next record goes.
    at: u64,
}

impl LogFile for FsFile {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.write_all_at(bytes, self.at)?;
        self.at += bytes.len() as u64;
        Ok(())
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)?;
        self.at = len;
        self.file.sync_data()
    }
}

impl LogDir for FsDir {
    fn segments(&self) -> std::io::Result<Vec<u64>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.path)? {
            let name = entry?.file_name();
            let Some(first) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse().ok())
            else {
                continue;
            };
            out.push(first);
        }
        out.sort_unstable();
        Ok(out)
    }

    fn read(&self, first: u64) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.file(first))
    }

    fn create(&self, first: u64) -> std::io::Result<Box<dyn LogFile>> {
        let path = self.file(first);
        if let Some(spare) = self.spares()?.pop() {
            std::fs::rename(&spare, &path)?;
            self.sync_dir()?;
            let file = std::fs::OpenOptions::new().write(true).open(&path)?;
            return Ok(Box::new(FsFile { file, at: 0 }));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
        // Reserved, not written: instant, and on ext4 almost as cheap to sync into as
        // written blocks. Where the file system cannot reserve, the segment just grows.
        if let Err(e) =
            rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, SEGMENT_BYTES)
        {
            tracing::debug!(error = %e, "cannot reserve a log segment");
        }
        file.sync_all()?;
        self.sync_dir()?;
        Ok(Box::new(FsFile { file, at: 0 }))
    }

    fn remove(&self, first: u64) -> std::io::Result<()> {
        let path = self.file(first);
        if self.spares()?.len() < SPARES {
            return std::fs::rename(&path, path.with_extension("spare"));
        }
        std::fs::remove_file(path)
    }
}

/// One operation of a record.
enum Op<'a> {
    Put(Space, &'a [u8], &'a [u8]),
    Remove(Space, &'a [u8]),
}

/// The records of `bytes` in order, up to the first that is torn or corrupt.
fn records(bytes: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let header = bytes.get(at..at + 8)?;
        let len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(header[4..8].try_into().ok()?);
        let body = bytes.get(at + 8..at + 8 + len)?;
        if len < 8 || crc32fast::hash(body) != crc {
            return None;
        }
        at += 8 + len;
        let lsn = u64::from_le_bytes(body[0..8].try_into().ok()?);
        Some((lsn, &body[8..]))
    })
}

/// Where the readable records of `bytes` end.
#[cfg(test)]
pub(crate) fn records_end(bytes: &[u8]) -> usize {
    records(bytes).map(|(_, body)| 16 + body.len()).sum()
}

/// The operations of a record's body; `None` for one this version cannot read.
fn ops(mut body: &[u8]) -> Option<Vec<Op<'_>>> {
    fn take<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?) as usize;
        let out = b.get(4..4 + len)?;
        *b = &b[4 + len..];
        Some(out)
    }
    let mut out = Vec::new();
    while let [kind, space, rest @ ..] = body {
        let space = Space::from_u8(*space)?;
        body = rest;
        let key = take(&mut body)?;
        out.push(match *kind {
            PUT => Op::Put(space, key, take(&mut body)?),
            REMOVE => Op::Remove(space, key),
            _ => return None,
        });
    }
    body.is_empty().then_some(out)
}

/// The number of the last record redb's state reflects.
pub(crate) fn applied_lsn(db: &Database) -> Result<u64, StoreError> {
    let rtx = db.begin_read()?;
    let meta = rtx.open_table(META)?;
    let lsn = meta.get(LSN_KEY)?.map(|v| {
        let mut b = [0u8; 8];
        let v = v.value();
        b[..v.len().min(8)].copy_from_slice(&v[..v.len().min(8)]);
        u64::from_le_bytes(b)
    });
    Ok(lsn.unwrap_or(0))
}

/// Applies the records of the log after redb's last durable commit, makes the result durable,
/// removes every segment and returns the number of the last record, after which the next
/// segment starts.
pub(crate) fn replay(db: &Database, dir: &dyn LogDir) -> Result<u64, StoreError> {
    let io = |e: std::io::Error| StoreError::Db(format!("the write-ahead log: {e}"));
    let base = applied_lsn(db)?;
    let mut last = base;
    let segments = dir.segments().map_err(io)?;
    let wtx = db.begin_write()?;
    let mut applied = 0usize;
    'segments: for &first in &segments {
        let bytes = dir.read(first).map_err(io)?;
        for (lsn, body) in records(&bytes) {
            if lsn <= last {
                continue;
            }
            if lsn != last + 1 {
                tracing::warn!(
                    lsn,
                    last,
                    "the write-ahead log skips records; stopping there"
                );
                break 'segments;
            }
            let Some(ops) = ops(body) else {
                tracing::warn!(lsn, "a write-ahead log record this version cannot read");
                break 'segments;
            };
            for op in ops {
                apply(&wtx, op)?;
            }
            last = lsn;
            applied += 1;
        }
    }
    wtx.open_table(META)?
        .insert(LSN_KEY, last.to_le_bytes().as_slice())?;
    wtx.commit()?;
    if applied > 0 {
        tracing::info!(
            records = applied,
            from = base + 1,
            to = last,
            "replayed the write-ahead log"
        );
    }
    for first in segments {
        dir.remove(first).map_err(io)?;
    }
    Ok(last)
}

fn apply(wtx: &redb::WriteTransaction, op: Op<'_>) -> Result<(), StoreError> {
    match op {
        Op::Put(s @ (Space::Meta | Space::Blobs), k, v) => {
            wtx.open_table(text_table(s))?.insert(text(k)?, v)?;
        }
        Op::Remove(s @ (Space::Meta | Space::Blobs), k) => {
            wtx.open_table(text_table(s))?.remove(text(k)?)?;
        }
        Op::Put(s, k, v) => {
            wtx.open_table(bytes_table(s))?.insert(k, v)?;
        }
        Op::Remove(s, k) => {
            wtx.open_table(bytes_table(s))?.remove(k)?;
        }
    }
    Ok(())
}

/// A storage backend that can be cut off: once fenced, it refuses every write. A store whose
/// log failed fences its database before closing it, because redb persists its newest state
/// when a database closes, and that state holds commits the log never took; fenced, the file
/// keeps its last durable commit, and the log replays from there. (Tests put one with their own
/// error below it, as a disk that fills up.)
#[derive(Debug)]
pub(crate) struct Fenced<B> {
    inner: B,
    fence: Arc<AtomicBool>,
    refusal: fn() -> std::io::Error,
}

fn closed_after_failure() -> std::io::Error {
    std::io::Error::other("the database was closed after a failure")
}

impl<B> Fenced<B> {
    pub(crate) fn new(inner: B, fence: Arc<AtomicBool>) -> Fenced<B> {
        Fenced::refusing(inner, fence, closed_after_failure)
    }

    /// Refuses writes with `refusal` while `fence` is set.
    pub(crate) fn refusing(
        inner: B,
        fence: Arc<AtomicBool>,
        refusal: fn() -> std::io::Error,
    ) -> Fenced<B> {
        Fenced {
            inner,
            fence,
            refusal,
        }
    }

    fn check(&self) -> std::io::Result<()> {
        if self.fence.load(Ordering::Acquire) {
            return Err((self.refusal)());
        }
        Ok(())
    }
}

impl<B: redb::StorageBackend> redb::StorageBackend for Fenced<B> {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.check()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.check()?;
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.check()?;
        self.inner.write(offset, data)
    }
    fn close(&self) -> std::io::Result<()> {
        self.inner.close()
    }
    fn try_lock_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }
    fn lock_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.inner.lock_range(start, end)
    }
    fn lock_shared_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.inner.lock_shared_range(start, end)
    }
    fn unlock_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.inner.unlock_range(start, end)
    }
    fn query_lock_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// What the writer hands the syncer.
enum Msg<T> {
    /// A sealed record, and what to do once it is durable.
    Commit(Vec<u8>, T),
    /// redb is durable up to this record: start a new segment, remove the older ones.
    Checkpoint(u64),
    /// Sync everything sent so far, then answer whether the log holds all of it.
    Barrier(mpsc::SyncSender<bool>),
}

/// The syncer thread: it appends records and syncs them, and tells each commit its outcome, in
/// order. After a failed append or sync every later commit fails too: the writer then stops
/// it and reopens the store.
///
/// When nothing is queued for the syncer, the writer may sync a commit itself
/// ([`Syncer::sync_now`]) instead of waking the thread: with nothing else ready to execute
/// there is nothing to overlap the sync with, and the hand-off would cost a wake-up per
/// request (the group-commit leader of PostgreSQL and RocksDB, with the writer as the leader).
pub(crate) struct Syncer<T: Send + 'static> {
    tx: Option<mpsc::Sender<Msg<T>>>,
    handle: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Shared<T>>,
}

/// What the syncer thread and the writer share.
struct Shared<T> {
    state: std::sync::Mutex<SyncState<T>>,
    /// Messages sent to the thread that it has not finished: the writer syncs inline only at 0,
    /// so commits are still told in order.
    queued: std::sync::atomic::AtomicUsize,
    failed: AtomicBool,
}

/// The most bytes the syncer writes before one sync; more waits for the next.
const MAX_BATCH_BYTES: usize = 8 << 20;

impl<T: Send + 'static> Syncer<T> {
    /// Starts the syncer on the segment `file` (whose first record is `first`); `done` is
    /// called once per commit, in order, after its sync (or with the error that failed it).
    pub(crate) fn spawn(
        dir: Arc<dyn LogDir>,
        file: Box<dyn LogFile>,
        first: u64,
        done: impl FnMut(T, Result<(), String>) + Send + 'static,
    ) -> Result<Syncer<T>, StoreError> {
        let (tx, rx) = mpsc::channel::<Msg<T>>();
        let shared = Arc::new(Shared {
            state: std::sync::Mutex::new(SyncState {
                dir,
                file,
                segments: vec![first],
                len: 0,
                failed: None,
                done: Box::new(done),
            }),
            queued: std::sync::atomic::AtomicUsize::new(0),
            failed: AtomicBool::new(false),
        });
        let thread = shared.clone();
        let handle = std::thread::Builder::new()
            .name("store-syncer".into())
            .spawn(move || {
                let shared = thread;
                let mut batch: Vec<(Vec<u8>, T)> = Vec::new();
                while let Ok(first) = rx.recv() {
                    let mut state = shared.lock();
                    let mut taken = 0usize;
                    let mut next = Some(first);
                    while let Some(msg) = next.take() {
                        taken += 1;
                        match msg {
                            Msg::Commit(bytes, then) => {
                                let size: usize = batch.iter().map(|(b, _)| b.len()).sum();
                                batch.push((bytes, then));
                                if size < MAX_BATCH_BYTES {
                                    next = rx.try_recv().ok();
                                }
                            }
                            Msg::Checkpoint(lsn) => {
                                state.flush(&mut batch, &shared.failed);
                                state.rotate(lsn);
                                next = rx.try_recv().ok();
                            }
                            Msg::Barrier(reply) => {
                                state.flush(&mut batch, &shared.failed);
                                let _ = reply.send(state.failed.is_none());
                                next = rx.try_recv().ok();
                            }
                        }
                    }
                    state.flush(&mut batch, &shared.failed);
                    drop(state);
                    shared.queued.fetch_sub(taken, Ordering::AcqRel);
                }
            })
            .map_err(|e| StoreError::Db(e.to_string()))?;
        Ok(Syncer {
            tx: Some(tx),
            handle: Some(handle),
            shared,
        })
    }

    /// Whether an append or sync failed: nothing sent from now on becomes durable.
    pub(crate) fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// Whether the thread has nothing left to do: a commit synced now comes after every
    /// commit sent before it.
    pub(crate) fn idle(&self) -> bool {
        self.shared.queued.load(Ordering::Acquire) == 0
    }

    fn send(&self, msg: Msg<T>) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        if tx.send(msg).is_err() {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub(crate) fn commit(&self, bytes: Vec<u8>, then: T) {
        // The thread lives as long as the sender.
        self.send(Msg::Commit(bytes, then));
    }

    /// Appends and syncs a commit on the calling thread, and tells it. Only when
    /// [`Syncer::idle`]: otherwise it could be told before a commit sent earlier.
    pub(crate) fn sync_now(&self, bytes: Vec<u8>, then: T) {
        debug_assert!(self.idle());
        let mut state = self.shared.lock();
        state.flush(&mut vec![(bytes, then)], &self.shared.failed);
    }

    /// Waits until everything sent so far is synced; `false` if the log failed to take it.
    pub(crate) fn synced(&self) -> bool {
        let (reply, answer) = mpsc::sync_channel(1);
        if !self.send(Msg::Barrier(reply)) {
            return false;
        }
        answer.recv().unwrap_or(false)
    }

    pub(crate) fn checkpoint(&self, lsn: u64) {
        self.send(Msg::Checkpoint(lsn));
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, SyncState<T>> {
        // A panic in `done` leaves nothing half-done that the next flush would trip over.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Dropping the syncer lets it finish what it was sent, and waits for it.
impl<T: Send + 'static> Drop for Syncer<T> {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

struct SyncState<T> {
    dir: Arc<dyn LogDir>,
    file: Box<dyn LogFile>,
    /// The segments not yet removed, oldest first; the last one is `file`.
    segments: Vec<u64>,
    /// The bytes of `file` that are synced.
    len: u64,
    failed: Option<String>,
    /// Tells a commit its outcome.
    done: Box<dyn FnMut(T, Result<(), String>) + Send>,
}

impl<T> SyncState<T> {
    /// Appends and syncs the batch, then tells each commit.
    fn flush(&mut self, batch: &mut Vec<(Vec<u8>, T)>, flag: &AtomicBool) {
        if batch.is_empty() {
            return;
        }
        if self.failed.is_none() {
            let mut written = 0u64;
            let res = batch
                .iter()
                .try_for_each(|(bytes, _)| {
                    self.file.append(bytes)?;
                    written += bytes.len() as u64;
                    Ok(())
                })
                .and_then(|()| self.file.sync());
            match res {
                Ok(()) => self.len += written,
                Err(e) => {
                    let why = e.to_string();
                    tracing::error!(error = %why, "writing the write-ahead log failed");
                    flag.store(true, Ordering::Release);
                    // What was not synced must not come back at the next open.
                    if let Err(e) = self.file.truncate(self.len) {
                        tracing::warn!(error = %e, "cutting the write-ahead log back failed");
                    }
                    self.failed = Some(why);
                }
            }
        }
        for (_, then) in batch.drain(..) {
            match &self.failed {
                None => (self.done)(then, Ok(())),
                Some(why) => (self.done)(then, Err(why.clone())),
            }
        }
    }

    /// Starts a new segment after record `lsn` and removes the older ones, which redb now
    /// holds durably. If the new segment cannot be made, the records go on to the current one.
    fn rotate(&mut self, lsn: u64) {
        if self.failed.is_some() {
            return;
        }
        match self.dir.create(lsn + 1) {
            Ok(file) => {
                self.file = file;
                self.len = 0;
                let old = std::mem::replace(&mut self.segments, vec![lsn + 1]);
                for first in old.into_iter().filter(|&f| f != lsn + 1) {
                    if let Err(e) = self.dir.remove(first) {
                        tracing::warn!(error = %e, first, "removing an old log segment failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "starting a new log segment failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_stop_at_a_torn_or_corrupt_one() {
        let mut r = Record::new();
        r.put(Space::Items, b"k", b"v");
        r.remove(Space::Meta, b"m");
        let a = r.seal(7);
        assert!(r.is_empty());
        r.put(Space::Kv, b"x", b"");
        let b = r.seal(8);
        let mut log = [a.clone(), b.clone()].concat();
        let got: Vec<u64> = records(&log).map(|(lsn, _)| lsn).collect();
        assert_eq!(got, [7, 8]);
        let (_, body) = records(&log).next().unwrap();
        let ops = ops(body).unwrap();
        assert!(matches!(ops[0], Op::Put(Space::Items, b"k", b"v")));
        assert!(matches!(ops[1], Op::Remove(Space::Meta, b"m")));
        // Torn: the second record is cut short.
        log.truncate(a.len() + b.len() - 1);
        assert_eq!(records(&log).count(), 1);
        // Corrupt: a flipped bit in the first record's body hides both.
        let mut bad = [a, b].concat();
        bad[HEADER + 3] ^= 1;
        assert_eq!(records(&bad).count(), 0);
    }
}

//! redb behind the engine seam: a copy-on-write B-tree, in a file with the store's own
//! write-ahead log in front of it, or in memory.
//!
//! On disk each commit is made at `Durability::None` and every change also goes to the
//! commit's log record ([`Record`]), so redb never holds a change the log would not bring back;
//! a checkpoint makes redb durable and records the number of the last record it covers.

use std::cell::RefCell;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};

use crate::engine::{empty_range, Engine, Log, Reads, Snapshot, Space, View, Visit, Writes};
use crate::wal::{self, LogDir, Record};
use crate::StoreError;

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs");
pub(crate) const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
pub(crate) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");
/// Secondary index entries: index id ++ index keys ++ table keys → projected item.
pub(crate) const INDEXES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("indexes");
/// Ordered bytes of other services (queue messages, log events, ...), keyed by
/// `<space>\0<key>`.
pub(crate) const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

/// The table of a byte-keyed space.
pub(crate) fn bytes_table(s: Space) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    match s {
        Space::Items => ITEMS,
        Space::Records => RECORDS,
        Space::Indexes => INDEXES,
        _ => KV,
    }
}

/// The table of a text-keyed space.
pub(crate) fn text_table(s: Space) -> TableDefinition<'static, &'static str, &'static [u8]> {
    if s == Space::Meta {
        META
    } else {
        BLOBS
    }
}

pub(crate) fn text(k: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(k).map_err(|_| StoreError::Corrupt("a text key is not UTF-8".into()))
}

fn text_bound(b: Bound<&[u8]>) -> Result<Bound<&str>, StoreError> {
    Ok(match b {
        Bound::Included(k) => Bound::Included(text(k)?),
        Bound::Excluded(k) => Bound::Excluded(text(k)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

/// Walks a redb range, forward or backward, handing `visit` each entry as bytes.
macro_rules! walk {
    ($range:expr, $reverse:expr, $visit:expr) => {{
        let range = $range;
        if $reverse {
            for entry in range.rev() {
                let (k, v) = entry?;
                let key = k.value();
                if !($visit)(AsRef::<[u8]>::as_ref(&key), v.value())? {
                    break;
                }
            }
        } else {
            for entry in range {
                let (k, v) = entry?;
                let key = k.value();
                if !($visit)(AsRef::<[u8]>::as_ref(&key), v.value())? {
                    break;
                }
            }
        }
    }};
}

/// The six tables of one transaction, read-only (a snapshot) or writable.
struct Tables<S, B> {
    text: [S; 2],
    bytes: [B; 4],
}

fn text_slot(s: Space) -> Option<usize> {
    match s {
        Space::Meta => Some(0),
        Space::Blobs => Some(1),
        _ => None,
    }
}

fn bytes_slot(s: Space) -> usize {
    match s {
        Space::Items => 0,
        Space::Records => 1,
        Space::Indexes => 2,
        _ => 3,
    }
}

impl<S, B> Reads for Tables<S, B>
where
    S: ReadableTable<&'static str, &'static [u8]>,
    B: ReadableTable<&'static [u8], &'static [u8]>,
{
    fn get(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError> {
        let value = match text_slot(space) {
            Some(i) => self.text[i].get(text(key)?)?,
            None => self.bytes[bytes_slot(space)].get(key)?,
        };
        match value {
            Some(v) => {
                f(v.value());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn scan(
        &self,
        space: Space,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        visit: Visit<'_>,
    ) -> Result<(), StoreError> {
        if empty_range(lower, upper) {
            return Ok(());
        }
        match text_slot(space) {
            Some(i) => {
                let bounds = (text_bound(lower)?, text_bound(upper)?);
                walk!(self.text[i].range::<&str>(bounds)?, reverse, visit)
            }
            None => {
                let t = &self.bytes[bytes_slot(space)];
                walk!(t.range::<&[u8]>((lower, upper))?, reverse, visit)
            }
        }
        Ok(())
    }
}

type WriteTables<'t> = Tables<
    redb::Table<'t, &'static str, &'static [u8]>,
    redb::Table<'t, &'static [u8], &'static [u8]>,
>;

/// A write transaction's tables; every change also goes to the commit's log record.
struct RedbWrites<'t> {
    tables: WriteTables<'t>,
    log: Option<&'t RefCell<Record>>,
}

impl<'t> RedbWrites<'t> {
    fn open(
        wtx: &'t WriteTransaction,
        log: Option<&'t RefCell<Record>>,
    ) -> Result<Self, StoreError> {
        Ok(RedbWrites {
            tables: Tables {
                text: [wtx.open_table(META)?, wtx.open_table(BLOBS)?],
                bytes: [
                    wtx.open_table(ITEMS)?,
                    wtx.open_table(RECORDS)?,
                    wtx.open_table(INDEXES)?,
                    wtx.open_table(KV)?,
                ],
            },
            log,
        })
    }
}

impl Reads for RedbWrites<'_> {
    fn get(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool, StoreError> {
        self.tables.get(space, key, f)
    }

    fn scan(
        &self,
        space: Space,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        visit: Visit<'_>,
    ) -> Result<(), StoreError> {
        self.tables.scan(space, lower, upper, reverse, visit)
    }
}

impl Writes for RedbWrites<'_> {
    fn put(&mut self, space: Space, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        match text_slot(space) {
            Some(i) => {
                self.tables.text[i].insert(text(key)?, value)?;
            }
            None => {
                self.tables.bytes[bytes_slot(space)].insert(key, value)?;
            }
        }
        if let Some(log) = self.log {
            log.borrow_mut().put(space, key, value);
        }
        Ok(())
    }

    fn remove(&mut self, space: Space, key: &[u8]) -> Result<bool, StoreError> {
        let had = match text_slot(space) {
            Some(i) => self.tables.text[i].remove(text(key)?)?.is_some(),
            None => self.tables.bytes[bytes_slot(space)].remove(key)?.is_some(),
        };
        if let Some(log) = self.log {
            log.borrow_mut().remove(space, key);
        }
        Ok(had)
    }
}

/// The durable store's log, as the engine fills it.
struct RedbLog {
    dir: Arc<dyn LogDir>,
    /// The record the running transaction writes.
    record: RefCell<Record>,
    /// The number of the last record sealed.
    lsn: u64,
}

/// redb, durable behind the store's log when `log` is set, else in memory (every commit is
/// final at once).
pub(crate) struct RedbEngine {
    db: Database,
    log: Option<RedbLog>,
    /// Set to cut the database off its file before it is closed after a failure (see
    /// [`wal::Fenced`]); a durable store's backend must be behind one.
    fence: Option<Arc<AtomicBool>>,
}

impl RedbEngine {
    /// Readies an opened database: its tables, and on disk the log's records since its last
    /// durable commit (replayed and made durable; the log starts again after them).
    pub(crate) fn new(
        db: Database,
        log: Option<Arc<dyn LogDir>>,
        fence: Option<Arc<AtomicBool>>,
    ) -> Result<RedbEngine, StoreError> {
        let tx = db.begin_write()?;
        tx.open_table(META)?;
        tx.open_table(ITEMS)?;
        tx.open_table(RECORDS)?;
        tx.open_table(BLOBS)?;
        tx.open_table(INDEXES)?;
        tx.open_table(KV)?;
        tx.commit()?;
        let log = match log {
            Some(dir) => {
                let lsn = wal::replay(&db, dir.as_ref())?;
                Some(RedbLog {
                    dir,
                    record: RefCell::new(Record::new()),
                    lsn,
                })
            }
            None => None,
        };
        Ok(RedbEngine { db, log, fence })
    }
}

impl Engine for RedbEngine {
    fn write(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Writes) -> bool,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut wtx = self.db.begin_write()?;
        if let Some(l) = &self.log {
            wtx.set_durability(Durability::None)?;
            l.record.borrow_mut().clear();
            // Which record this state reflects, should redb persist it on its own (on close).
            wtx.open_table(META)?
                .insert(wal::LSN_KEY, (l.lsn + 1).to_le_bytes().as_slice())?;
        }
        let commit = {
            let mut w = RedbWrites::open(&wtx, self.log.as_ref().map(|l| &l.record))?;
            f(&mut w)
        };
        if !commit {
            let _ = wtx.abort();
            return Ok(None);
        }
        wtx.commit()?;
        Ok(Some(match &mut self.log {
            None => Vec::new(),
            Some(l) => {
                l.lsn += 1;
                l.record.borrow_mut().seal(l.lsn)
            }
        }))
    }

    fn view(&self) -> Result<View, StoreError> {
        let rtx = self.db.begin_read()?;
        let tables = Tables {
            text: [rtx.open_table(META)?, rtx.open_table(BLOBS)?],
            bytes: [
                rtx.open_table(ITEMS)?,
                rtx.open_table(RECORDS)?,
                rtx.open_table(INDEXES)?,
                rtx.open_table(KV)?,
            ],
        };
        // A published read snapshot: the read transaction's tables, opened once.
        Ok(Arc::new(Snapshot(Box::new(tables))))
    }

    fn checkpoint(&mut self) -> Result<Option<u64>, StoreError> {
        let Some(l) = &self.log else {
            return Ok(None);
        };
        let wtx = self.db.begin_write()?;
        wtx.open_table(META)?
            .insert(wal::LSN_KEY, l.lsn.to_le_bytes().as_slice())?;
        wtx.commit()?;
        Ok(Some(l.lsn))
    }

    fn probe(&mut self, value: &[u8]) -> Result<(), StoreError> {
        let probe = self.db.begin_write()?;
        probe.open_table(META)?.insert("probe", value)?;
        probe.commit()?;
        Ok(())
    }

    fn log(&mut self) -> Result<Option<Log>, StoreError> {
        let Some(l) = &self.log else {
            return Ok(None);
        };
        let file = l
            .dir
            .create(l.lsn + 1)
            .map_err(|e| StoreError::Db(format!("the write-ahead log cannot be written: {e}")))?;
        Ok(Some(Log {
            dir: l.dir.clone(),
            file,
            next: l.lsn + 1,
            checkpoints: true,
        }))
    }

    fn fence(&self) {
        if let Some(f) = &self.fence {
            f.store(true, Ordering::Release);
        }
    }
}

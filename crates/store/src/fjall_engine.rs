//! fjall behind the engine seam: an LSM tree (one partition per [`Space`]) with a journal of
//! its own, so the store writes no log of its own in front of it. A commit goes to fjall's
//! journal buffer; the store's syncer makes it durable with `persist(SyncData)`, one sync for
//! every commit that is ready, exactly as it syncs its own log in front of redb.
//!
//! What fjall does not give that redb with the store's log does: a fence. fjall flushes its
//! journal when it is dropped, so after a failed sync the commits the syncer could not confirm
//! (whose requests were told `InternalServerError`) may still reach the disk and come back
//! when the store reopens.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use fjall::{PersistMode, TxKeyspace, TxPartitionHandle};

use crate::engine::{
    empty_range, visit_all, Engine, Log, Reads, Snapshot, Space, View, Visit, Writes,
};
use crate::wal::{LogDir, LogFile};
use crate::StoreError;

/// fjall's block cache: what redb's page cache over the file is.
const CACHE_BYTES: u64 = 64 << 20;

/// The memtables' total before fjall flushes them to a segment.
const WRITE_BUFFER_BYTES: u64 = 64 << 20;

impl From<fjall::Error> for StoreError {
    fn from(e: fjall::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

impl From<fjall::LsmError> for StoreError {
    fn from(e: fjall::LsmError) -> Self {
        StoreError::Db(e.to_string())
    }
}

pub(crate) struct FjallEngine {
    keyspace: TxKeyspace,
    parts: Arc<[TxPartitionHandle; 6]>,
}

impl FjallEngine {
    pub(crate) fn open(path: &Path) -> Result<FjallEngine, StoreError> {
        let keyspace = fjall::Config::new(path)
            // The store's syncer persists the journal; nothing else does.
            .manual_journal_persist(true)
            .fsync_ms(None)
            .cache_size(CACHE_BYTES)
            .max_write_buffer_size(WRITE_BUFFER_BYTES)
            .open_transactional()?;
        let mut parts = Vec::with_capacity(6);
        for space in Space::ALL {
            parts.push(
                keyspace.open_partition(space.name(), fjall::PartitionCreateOptions::default())?,
            );
        }
        let parts: [TxPartitionHandle; 6] = parts
            .try_into()
            .map_err(|_| StoreError::Db("fjall partitions".into()))?;
        Ok(FjallEngine {
            keyspace,
            parts: Arc::new(parts),
        })
    }
}

/// A write transaction over the six partitions.
struct FjallWrites<'a, 't> {
    tx: &'a mut fjall::WriteTransaction<'t>,
    parts: &'a [TxPartitionHandle; 6],
}

/// `Reads` over a fjall transaction in field `$tx` (a write or a read transaction: the same
/// calls).
macro_rules! fjall_reads {
    ($ty:ty, $tx:ident) => {
        impl Reads for $ty {
            fn get(
                &self,
                space: Space,
                key: &[u8],
                f: &mut dyn FnMut(&[u8]),
            ) -> Result<bool, StoreError> {
                match self.$tx.get(&self.parts[space as usize], key)? {
                    Some(v) => {
                        f(&v);
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
                let part = &self.parts[space as usize];
                let iter = self.$tx.range::<&[u8], _>(part, (lower, upper));
                visit_all(iter, reverse, visit)
            }
        }
    };
}

fjall_reads!(FjallWrites<'_, '_>, tx);

impl Writes for FjallWrites<'_, '_> {
    fn put(&mut self, space: Space, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tx.insert(&self.parts[space as usize], key, value);
        Ok(())
    }

    fn remove(&mut self, space: Space, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.tx.take(&self.parts[space as usize], key)?.is_some())
    }
}

/// A published snapshot.
struct FjallView {
    rtx: fjall::ReadTransaction,
    parts: Arc<[TxPartitionHandle; 6]>,
}

fjall_reads!(FjallView, rtx);

impl Engine for FjallEngine {
    fn write(
        &mut self,
        f: &mut dyn FnMut(&mut dyn Writes) -> bool,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut tx = self.keyspace.write_tx();
        let commit = f(&mut FjallWrites {
            tx: &mut tx,
            parts: &self.parts,
        });
        if !commit {
            tx.rollback();
            return Ok(None);
        }
        tx.commit()?;
        // The journal holds the commit already: the syncer only has to persist it.
        Ok(Some(Vec::new()))
    }

    fn view(&self) -> Result<View, StoreError> {
        Ok(Arc::new(Snapshot(Box::new(FjallView {
            rtx: self.keyspace.read_tx(),
            parts: self.parts.clone(),
        }))))
    }

    fn checkpoint(&mut self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    fn probe(&mut self, value: &[u8]) -> Result<(), StoreError> {
        let mut tx = self.keyspace.write_tx();
        tx.insert(&self.parts[Space::Meta as usize], "probe", value);
        tx.commit()?;
        self.keyspace.persist(PersistMode::SyncData)?;
        Ok(())
    }

    fn log(&mut self) -> Result<Option<Log>, StoreError> {
        let journal = Journal(self.keyspace.clone());
        Ok(Some(Log {
            dir: Arc::new(journal.clone()),
            file: Box::new(journal),
            next: 1,
            checkpoints: false,
        }))
    }

    fn fence(&self) {}
}

/// fjall's journal, as the store's syncer drives its log: appending is already done (by the
/// commit), syncing persists the journal.
#[derive(Clone)]
struct Journal(TxKeyspace);

impl LogFile for Journal {
    fn append(&mut self, _bytes: &[u8]) -> std::io::Result<()> {
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.0
            .persist(PersistMode::SyncData)
            .map_err(std::io::Error::other)
    }

    fn truncate(&mut self, _len: u64) -> std::io::Result<()> {
        Ok(())
    }
}

/// The journal has no segments of the store's: there is nothing to replay, rotate or remove.
impl LogDir for Journal {
    fn segments(&self) -> std::io::Result<Vec<u64>> {
        Ok(Vec::new())
    }

    fn read(&self, _first: u64) -> std::io::Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn create(&self, _first: u64) -> std::io::Result<Box<dyn LogFile>> {
        Ok(Box::new(self.clone()))
    }

    fn remove(&self, _first: u64) -> std::io::Result<()> {
        Ok(())
    }
}

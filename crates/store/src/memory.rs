//! The in-memory storage for `--in-memory`: redb's pages in fixed-size segments.
//!
//! redb's own `InMemoryBackend` keeps the database in one `Vec<u8>`. Growing it reallocates and
//! copies the whole database under the backend's write lock, so once the data reaches a few
//! hundred megabytes every growth stalls all readers and the writer for hundreds of
//! milliseconds (PutItem p99 of 512 ms measured in issue 16). Here the bytes live in segments
//! of [`SEGMENT`] bytes, each an anonymous memory map: growing maps new segments and never
//! moves a byte already written. The kernel hands out a mapped page, zeroed, only when it is
//! first touched, so a growth costs a system call whatever its size (redb doubles the database
//! as it grows; zeroing a gigabyte up front, as an allocator would, stalled commits by as long
//! again), and memory follows what redb really writes.

use std::io;
use std::sync::{PoisonError, RwLock};

use memmap2::MmapMut;
use redb::StorageBackend;

/// Bytes per segment (of address space: only touched pages take memory). A page read or
/// written may span two segments.
const SEGMENT: usize = 64 << 20;

#[derive(Default)]
pub struct SegmentedMemory {
    inner: RwLock<Segments>,
}

#[derive(Default)]
struct Segments {
    len: u64,
    segments: Vec<Segment>,
}

struct Segment {
    map: MmapMut,
    /// Bytes past this were never written, so they are still the kernel's zeros.
    written: usize,
}

impl std::fmt::Debug for SegmentedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("SegmentedMemory")
            .field("len", &s.len)
            .field("segments", &s.segments.len())
            .finish()
    }
}

fn out_of_range() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "offset out of range")
}

/// A zeroed segment, none of it in memory until written.
fn zeroed() -> io::Result<Segment> {
    Ok(Segment {
        map: MmapMut::map_anon(SEGMENT)?,
        written: 0,
    })
}

/// The `(segment, offset within it, bytes in this segment)` pieces of `len` bytes at `offset`
/// of a storage of `total` bytes, or an error if they reach past its end.
fn pieces(
    total: u64,
    offset: u64,
    len: usize,
) -> io::Result<impl Iterator<Item = (usize, usize, usize)>> {
    let end = offset
        .checked_add(len as u64)
        .filter(|end| *end <= total)
        .ok_or_else(out_of_range)?;
    let mut at = offset;
    Ok(std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let seg = usize::try_from(at / SEGMENT as u64).ok()?;
        let within = (at % SEGMENT as u64) as usize;
        let n = (SEGMENT - within).min((end - at) as usize);
        at += n as u64;
        Some((seg, within, n))
    }))
}

impl StorageBackend for SegmentedMemory {
    fn len(&self) -> io::Result<u64> {
        Ok(self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let s = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let mut done = 0;
        for (seg, within, n) in pieces(s.len, offset, out.len())? {
            out[done..done + n].copy_from_slice(&s.segments[seg].map[within..within + n]);
            done += n;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let needed = usize::try_from(len.div_ceil(SEGMENT as u64)).map_err(|_| out_of_range())?;
        if len < s.len {
            // Bytes past the new end must read as zero if the storage grows again: zero what
            // was written there (touching the rest would only bring it into memory).
            s.segments.truncate(needed);
            let tail = (len % SEGMENT as u64) as usize;
            if tail > 0 {
                if let Some(last) = s.segments.last_mut() {
                    if last.written > tail {
                        last.map[tail..last.written].fill(0);
                        last.written = tail;
                    }
                }
            }
        }
        while s.segments.len() < needed {
            s.segments.push(zeroed()?);
        }
        s.len = len;
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut s = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let mut done = 0;
        for (seg, within, n) in pieces(s.len, offset, data.len())? {
            let segment = &mut s.segments[seg];
            segment.map[within..within + n].copy_from_slice(&data[done..done + n]);
            segment.written = segment.written.max(within + n);
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_across_segments_and_zeroes_what_it_regrows() {
        let m = SegmentedMemory::default();
        m.set_len(3 * SEGMENT as u64 - 7).unwrap();
        let data: Vec<u8> = (0..100u8).collect();
        let at = SEGMENT as u64 - 40;
        m.write(at, &data).unwrap();
        let mut back = vec![0u8; 100];
        m.read(at, &mut back).unwrap();
        assert_eq!(back, data);

        // Past the end is an error, not a panic.
        let mut buf = [0u8; 16];
        assert!(m.read(3 * SEGMENT as u64 - 10, &mut buf).is_err());
        assert!(m.write(u64::MAX - 2, &buf).is_err());

        // Shrinking into the written bytes and growing again reads zeros there.
        m.set_len(at + 10).unwrap();
        assert_eq!(m.len().unwrap(), at + 10);
        m.set_len(2 * SEGMENT as u64).unwrap();
        let mut back = vec![1u8; 100];
        m.read(at, &mut back).unwrap();
        assert_eq!(&back[..10], &data[..10]);
        assert!(back[10..].iter().all(|b| *b == 0));
    }

    #[test]
    fn a_database_lives_in_it() {
        const T: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("t");
        let db = redb::Database::builder()
            .create_with_backend(SegmentedMemory::default())
            .unwrap();
        let value = vec![7u8; 10_000];
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(T).unwrap();
            for i in 0..2_000u64 {
                t.insert(i, value.as_slice()).unwrap();
            }
        }
        tx.commit().unwrap();
        let r = redb::ReadableDatabase::begin_read(&db).unwrap();
        let t = r.open_table(T).unwrap();
        assert_eq!(t.get(1_999).unwrap().unwrap().value(), value.as_slice());
        assert_eq!(redb::ReadableTableMetadata::len(&t).unwrap(), 2_000);
    }
}

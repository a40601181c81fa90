//! The durable store's write pattern on two engines, single-threaded, so only the engine's cost
//! is measured (no HTTP, no pipelining):
//!
//! - `redb-wal`: what `tributary-store` does: redb commits at `Durability::None`, each group's
//!   changes appended to a log segment with reserved blocks and `fdatasync`ed, and redb made
//!   durable every 100 ms (a checkpoint);
//! - `fjall`: an LSM tree; each group one atomic batch, then `persist(SyncData)` of its journal.
//!
//! Per write: one item (16-byte random key, 230-byte value), one stream record (24-byte key in
//! sequence, 300 bytes) and the counters (one 16-byte value, overwritten), as PutItem on a table
//! with a stream writes them. Groups of `G` writes commit together.
//!
//! ```text
//! cargo run --release -- ENGINE DIR WRITES GROUP
//! ```
//! prints: engine, writes, group, writes/s, CPU µs per write, commit p50/p99 µs, bytes on disk
//! per write (after closing).

use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::RngCore as _;

const ITEMS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("items");
const RECORDS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("records");
const META: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");

/// One write of the workload.
struct Write {
    item_key: [u8; 16],
    item: Vec<u8>,
    record_key: [u8; 24],
    record: Vec<u8>,
}

fn writes(n: usize) -> impl Iterator<Item = Write> {
    let mut rng = rand::rng();
    (0..n).map(move |i| {
        let mut item_key = [0u8; 16];
        rng.fill_bytes(&mut item_key);
        let mut item = vec![0u8; 230];
        rng.fill_bytes(&mut item);
        let mut record_key = [0u8; 24];
        record_key[8..].copy_from_slice(&(i as u128).to_be_bytes());
        let mut record = vec![0u8; 300];
        rng.fill_bytes(&mut record);
        Write {
            item_key,
            item,
            record_key,
            record,
        }
    })
}

trait Engine {
    fn commit(&mut self, group: &[Write], counters: &[u8]);
    fn close(self: Box<Self>);
}

struct RedbWal {
    db: redb::Database,
    log: std::fs::File,
    at: u64,
    last_checkpoint: Instant,
}

impl RedbWal {
    fn open(dir: &Path) -> RedbWal {
        let db = redb::Database::builder()
            .set_cache_size(64 << 20)
            .create(dir.join("db.redb"))
            .unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(dir.join("wal.log"))
            .unwrap();
        reserve(&log, 8 << 20);
        RedbWal {
            db,
            log,
            at: 0,
            last_checkpoint: Instant::now(),
        }
    }
}

fn reserve(f: &std::fs::File, len: u64) {
    // Writing zeros where fallocate is not at hand keeps the comparison honest: the point is a
    // sync that does not change the file's size.
    let mut f = f;
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..len / zeros.len() as u64 {
        f.write_all(&zeros).unwrap();
    }
    f.sync_all().unwrap();
}

impl Engine for RedbWal {
    fn commit(&mut self, group: &[Write], counters: &[u8]) {
        let mut rec = Vec::with_capacity(group.len() * 600);
        let mut wtx = self.db.begin_write().unwrap();
        wtx.set_durability(redb::Durability::None).unwrap();
        {
            let mut items = wtx.open_table(ITEMS).unwrap();
            let mut records = wtx.open_table(RECORDS).unwrap();
            let mut meta = wtx.open_table(META).unwrap();
            for w in group {
                items
                    .insert(w.item_key.as_slice(), w.item.as_slice())
                    .unwrap();
                records
                    .insert(w.record_key.as_slice(), w.record.as_slice())
                    .unwrap();
                for b in [&w.item_key[..], &w.item, &w.record_key, &w.record] {
                    rec.extend_from_slice(&(b.len() as u32).to_le_bytes());
                    rec.extend_from_slice(b);
                }
            }
            meta.insert("counters", counters).unwrap();
            rec.extend_from_slice(counters);
        }
        wtx.commit().unwrap();
        // The segment wraps around: the cost of a sync into written blocks is what is measured.
        if self.at + rec.len() as u64 > 8 << 20 {
            self.at = 0;
        }
        self.log.write_all_at(&rec, self.at).unwrap();
        self.at += rec.len() as u64;
        self.log.sync_data().unwrap();
        if self.last_checkpoint.elapsed() >= Duration::from_millis(100) {
            let wtx = self.db.begin_write().unwrap();
            wtx.open_table(META)
                .unwrap()
                .insert("lsn", counters)
                .unwrap();
            wtx.commit().unwrap();
            self.last_checkpoint = Instant::now();
        }
    }

    fn close(self: Box<Self>) {
        let wtx = self.db.begin_write().unwrap();
        wtx.open_table(META)
            .unwrap()
            .insert("lsn", &[][..])
            .unwrap();
        wtx.commit().unwrap();
    }
}

struct Fjall {
    keyspace: fjall::Keyspace,
    items: fjall::PartitionHandle,
    records: fjall::PartitionHandle,
    meta: fjall::PartitionHandle,
}

impl Fjall {
    fn open(dir: &Path) -> Fjall {
        let keyspace = fjall::Config::new(dir.join("fjall")).open().unwrap();
        let opts = fjall::PartitionCreateOptions::default;
        Fjall {
            items: keyspace.open_partition("items", opts()).unwrap(),
            records: keyspace.open_partition("records", opts()).unwrap(),
            meta: keyspace.open_partition("meta", opts()).unwrap(),
            keyspace,
        }
    }
}

impl Engine for Fjall {
    fn commit(&mut self, group: &[Write], counters: &[u8]) {
        let mut batch = self.keyspace.batch();
        for w in group {
            batch.insert(&self.items, w.item_key, w.item.as_slice());
            batch.insert(&self.records, w.record_key, w.record.as_slice());
        }
        batch.insert(&self.meta, "counters", counters);
        batch.commit().unwrap();
        self.keyspace.persist(fjall::PersistMode::SyncData).unwrap();
    }

    fn close(self: Box<Self>) {
        self.keyspace.persist(fjall::PersistMode::SyncAll).unwrap();
    }
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn du(path: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            du(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// How a redb file's bytes are used: `engines redb-stats FILE` (a copy: it is opened for
/// writing).
fn redb_stats(file: &Path) {
    let db = redb::Database::open(file).unwrap();
    let wtx = db.begin_write().unwrap();
    let st = wtx.stats().unwrap();
    let len = std::fs::metadata(file).unwrap().len();
    println!(
        "file {len} bytes; stored {} (leaf data), metadata {}, fragmented {}; {} leaf and {} branch pages of {} bytes; tree height {}",
        st.stored_bytes(),
        st.metadata_bytes(),
        st.fragmented_bytes(),
        st.leaf_pages(),
        st.branch_pages(),
        st.page_size(),
        st.tree_height(),
    );
    wtx.abort().unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, cmd, file] = args.as_slice() {
        if cmd == "redb-stats" {
            return redb_stats(Path::new(file));
        }
    }
    let [_, engine, dir, n, group] = args.as_slice() else {
        eprintln!("usage: engines redb-wal|fjall DIR WRITES GROUP");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let n: usize = n.parse().unwrap();
    let group: usize = group.parse().unwrap();
    let mut e: Box<dyn Engine> = match engine.as_str() {
        "redb-wal" => Box::new(RedbWal::open(&dir)),
        "fjall" => Box::new(Fjall::open(&dir)),
        other => panic!("unknown engine {other}"),
    };
    let all: Vec<Write> = writes(n).collect();
    let mut lat = Vec::with_capacity(n / group + 1);
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    for (i, chunk) in all.chunks(group).enumerate() {
        let t = Instant::now();
        e.commit(chunk, &(i as u128).to_le_bytes());
        lat.push(t.elapsed());
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    e.close();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)].as_micros();
    println!(
        "| {engine} | {n} | {group} | {:.0} | {:.1} | {} / {} | {:.0} |",
        n as f64 / wall,
        cpu * 1e6 / n as f64,
        p(0.5),
        p(0.99),
        du(&dir) as f64 / n as f64,
    );
}

use super::*;
use redb_engine::{ITEMS, META};
use std::ops::Bound;
use tributary_model::attr::AttributeValue;
use tributary_model::SystemClock;

fn table(name: &str, id: u64) -> TableMeta {
    TableMeta {
        name: name.into(),
        id,
        arn: format!("arn:aws:dynamodb:us-east-1:000000000000:table/{name}"),
        table_id_uuid: "u".into(),
        key_schema: KeySchema {
            hash: KeyAttr {
                name: "pk".into(),
                ty: "S".into(),
            },
            range: None,
        },
        attribute_definitions: vec![],
        billing_mode: "PAY_PER_REQUEST".into(),
        read_capacity: 0,
        write_capacity: 0,
        created_ms: 0,
        stream_arn: None,
        latest_stream_arn: None,
        latest_stream_label: None,
        item_count: 0,
        size_bytes: 0,
        indexes: vec![],
        ttl_attribute: None,
        tags: Default::default(),
        extra: Default::default(),
    }
}

fn item(pk: &str) -> Item {
    [("pk".to_string(), AttributeValue::S(pk.into()))]
        .into_iter()
        .collect()
}

/// A keys-only global index (id 2) on the string attribute `color`.
fn color_index(backfill: Option<Vec<u8>>) -> IndexMeta {
    IndexMeta {
        name: "byColor".into(),
        id: 2,
        global: true,
        key_schema: KeySchema {
            hash: KeyAttr {
                name: "color".into(),
                ty: "S".into(),
            },
            range: None,
        },
        projection: Projection::KeysOnly,
        read_capacity: 0,
        write_capacity: 0,
        item_count: 0,
        size_bytes: 0,
        backfill,
    }
}

/// A store on each engine behind the seam: redb in memory (where these tests ran before the
/// seam), fjall in a fresh directory (it has no in-memory mode). The directory goes with it.
fn each_engine() -> Vec<(Store, Option<tempfile::TempDir>)> {
    let redb = Store::open(None, SystemClock::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fjall = Store::open_on(Some(dir.path()), EngineKind::Fjall, SystemClock::new()).unwrap();
    vec![(redb, None), (fjall, Some(dir))]
}

#[tokio::test]
async fn item_and_record_commit_together_and_survive_reopen() {
    for engine in [EngineKind::Redb, EngineKind::Fjall] {
        let dir = tempfile::tempdir().unwrap();
        let clock = SystemClock::new();
        let iid;
        {
            let store = Store::open_on(Some(dir.path()), engine, clock.clone()).unwrap();
            let stream = store
                .write(|tx| {
                    let id = tx.next_id();
                    let t = table("T", id);
                    tx.put_table(t.clone())?;
                    let s = tx.create_stream(
                        &t,
                        "arn:s".into(),
                        "label".into(),
                        StreamViewType::NewImage,
                        1,
                    )?;
                    let mut t = t;
                    t.stream_arn = Some(s.arn.clone());
                    tx.put_table(t)?;
                    Ok(s)
                })
                .await
                .unwrap();
            iid = stream.shards[0].iid;
            let mut watch = store.watch_shard(iid);
            for i in 0..10 {
                store
                    .write(move |tx| {
                        let it = item(&format!("k{i}"));
                        let id = tx.catalog().tables.get("T").unwrap().id;
                        tx.set_item("T", id, format!("k{i}").as_bytes(), None, Some(&it))?;
                        tx.append_stream_record("T", &it, None, Some(&it), false)
                    })
                    .await
                    .unwrap();
            }
            watch.changed().await.unwrap();
            assert!(*watch.borrow() > 0);
            store.close();
        }
        let store = Store::open(Some(dir.path()), clock.clone()).unwrap();
        let recs = store.read_records(iid, 0, 100, u64::MAX).unwrap();
        assert_eq!(recs.len(), 10);
        assert!(recs.windows(2).all(|w| w[0].sequence < w[1].sequence));
        assert_eq!(store.catalog().tables.get("T").unwrap().item_count, 10);
        let id = store.catalog().tables.get("T").unwrap().id;
        assert_eq!(
            store
                .range(
                    KeySpace::Table(id),
                    Bound::Unbounded,
                    Bound::Unbounded,
                    false,
                    100
                )
                .unwrap()
                .len(),
            10
        );
        assert_eq!(store.last_sequence(iid).unwrap(), Some(recs[9].sequence));
        // Sequence numbers keep increasing after a reopen.
        let next = store.write(|tx| Ok(tx.catalog().next_seq)).await.unwrap();
        assert_eq!(next, recs[9].sequence);
    }
}

#[tokio::test]
async fn failed_job_returns_its_error_and_others_commit() {
    for (store, _dir) in each_engine() {
        let a = store.write(|tx| tx.put_doc("fn", "a", serde_json::json!({"x": 1})));
        let b = store.write(|_| -> Result<(), AwsError> { Err(AwsError::validation("nope")) });
        let (a, b) = tokio::join!(a, b);
        assert!(a.is_ok());
        assert_eq!(b.unwrap_err().message, "nope");
        assert_eq!(
            store.catalog().doc("fn", "a"),
            Some(&serde_json::json!({"x": 1}))
        );
    }
}

#[tokio::test]
async fn indexes_follow_item_changes_and_skip_items_without_their_keys() {
    for (store, _dir) in each_engine() {
        let mut t = table("T", 1);
        let index = color_index(None);
        t.indexes.push(index.clone());
        store
            .write(move |tx| tx.put_table(t.clone()))
            .await
            .unwrap();
        let put = |pk: &'static str, color: Option<&'static str>| {
            let store = store.clone();
            async move {
                store
                    .write(move |tx| {
                        let mut it = item(pk);
                        if let Some(c) = color {
                            it.insert("color".into(), AttributeValue::S(c.into()));
                            it.insert("other".into(), AttributeValue::N("1".into()));
                        }
                        let old = tx.get_item(1, pk.as_bytes())?;
                        tx.set_item("T", 1, pk.as_bytes(), old.as_ref(), Some(&it))
                    })
                    .await
                    .unwrap()
            }
        };
        put("a", Some("red")).await;
        put("b", Some("blue")).await;
        put("c", None).await; // sparse: not in the index
        let all = |store: &Store| {
            store
                .range(
                    KeySpace::Index(2),
                    Bound::Unbounded,
                    Bound::Unbounded,
                    false,
                    100,
                )
                .unwrap()
                .into_iter()
                .map(|(_, i)| (i["pk"].clone(), i["color"].clone(), i.contains_key("other")))
                .collect::<Vec<_>>()
        };
        let s = |v: &str| AttributeValue::S(v.into());
        assert_eq!(
            all(&store),
            vec![(s("b"), s("blue"), false), (s("a"), s("red"), false)]
        );
        put("a", Some("green")).await; // re-keyed: the old entry goes
        assert_eq!(
            all(&store),
            vec![(s("b"), s("blue"), false), (s("a"), s("green"), false)]
        );
        store
            .write(|tx| {
                let old = tx.get_item(1, b"b")?;
                tx.set_item("T", 1, b"b", old.as_ref(), None)
            })
            .await
            .unwrap();
        assert_eq!(all(&store), vec![(s("a"), s("green"), false)]);
        assert_eq!(
            store.catalog().tables.get("T").unwrap().indexes[0].item_count,
            1
        );
    }
}

#[tokio::test]
async fn kv_spaces_are_ordered_and_isolated() {
    for (store, _dir) in each_engine() {
        store
            .write(|tx| {
                for k in [b"b".as_slice(), b"a", b"c"] {
                    tx.kv_put("q1", k, k)?;
                }
                tx.kv_put("q", b"z", b"other space")?;
                tx.kv_put("q10", b"a", b"other space")?;
                Ok(())
            })
            .await
            .unwrap();
        let all = store
            .kv_range("q1", Bound::Unbounded, Bound::Unbounded, false, 10)
            .unwrap();
        let keys: Vec<&[u8]> = all.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, [b"a".as_slice(), b"b", b"c"]);
        let rev = store
            .kv_range("q1", Bound::Excluded(b"a"), Bound::Unbounded, true, 1)
            .unwrap();
        assert_eq!(rev, vec![(b"c".to_vec(), b"c".to_vec())]);
        assert_eq!(
            store.kv_get("q", b"z").unwrap().as_deref(),
            Some(&b"other space"[..])
        );
        let removed = store
            .write(|tx| {
                assert!(tx.kv_delete("q1", b"b")?);
                assert!(!tx.kv_delete("q1", b"b")?);
                tx.kv_delete_range("q1", Bound::Unbounded, Bound::Unbounded)
            })
            .await
            .unwrap();
        assert_eq!(removed, 2);
        assert!(store
            .kv_range("q1", Bound::Unbounded, Bound::Unbounded, false, 10)
            .unwrap()
            .is_empty());
        assert_eq!(
            store.kv_get("q10", b"a").unwrap().as_deref(),
            Some(&b"other space"[..])
        );
    }
}

/// A job that panics fails its own request; the other jobs of its group are run again without
/// it and commit, nothing the panicking job wrote is kept, and the writer goes on serving.
#[tokio::test]
async fn a_panicking_job_fails_alone_and_the_writer_goes_on() {
    for (store, _dir) in each_engine() {
        // Keep the writer busy so the next jobs queue up and run as one group.
        let busy = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(|_tx| {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        Ok(())
                    })
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let runs: Arc<Vec<std::sync::atomic::AtomicUsize>> =
            Arc::new((0..6).map(|_| Default::default()).collect());
        let mut writes = Vec::new();
        for i in 0..6u8 {
            let store = store.clone();
            let runs = runs.clone();
            writes.push(tokio::spawn(async move {
                store
                    .write(move |tx| {
                        runs[usize::from(i)].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tx.kv_put("t", &[i], b"written")?;
                        if i == 3 {
                            panic!("job {i} is broken");
                        }
                        Ok(i)
                    })
                    .await
            }));
            // Queue them in order.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        busy.await.unwrap().unwrap();
        for (i, w) in writes.into_iter().enumerate() {
            let got = w.await.unwrap();
            if i == 3 {
                let e = got.unwrap_err();
                assert_eq!((e.code, e.status), ("InternalServerError", 500));
            } else {
                assert_eq!(got.unwrap(), i as u8);
            }
        }
        for i in 0..6u8 {
            let v = store.kv_get("t", &[i]).unwrap();
            assert_eq!(v.is_some(), i != 3, "key {i}");
        }
        // One group: the jobs before the broken one ran in the dropped attempt and again, the
        // broken one once, the jobs after it only in the retry.
        let counts: Vec<usize> = runs
            .iter()
            .map(|r| r.load(std::sync::atomic::Ordering::SeqCst))
            .collect();
        assert_eq!(counts, [2, 2, 2, 1, 1, 1]);
        // Still serving.
        store
            .write(|tx| tx.kv_put("t", b"after", b"x"))
            .await
            .unwrap();
        assert!(store.kv_get("t", b"after").unwrap().is_some());
    }
}

/// The write-ahead log on a directory whose writes fail while `full` is set.
struct FullDir {
    inner: crate::wal::FsDir,
    full: Arc<std::sync::atomic::AtomicBool>,
}

struct FullFile {
    inner: Box<dyn crate::wal::LogFile>,
    full: Arc<std::sync::atomic::AtomicBool>,
}

fn no_space_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::StorageFull,
        "No space left on device (injected)",
    )
}

fn no_space(full: &std::sync::atomic::AtomicBool) -> std::io::Result<()> {
    if full.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(no_space_error());
    }
    Ok(())
}

impl crate::wal::LogFile for FullFile {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        no_space(&self.full)?;
        self.inner.append(bytes)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        no_space(&self.full)?;
        self.inner.sync()
    }
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.inner.truncate(len)
    }
}

impl crate::wal::LogDir for FullDir {
    fn segments(&self) -> std::io::Result<Vec<u64>> {
        self.inner.segments()
    }
    fn read(&self, first: u64) -> std::io::Result<Vec<u8>> {
        self.inner.read(first)
    }
    fn create(&self, first: u64) -> std::io::Result<Box<dyn crate::wal::LogFile>> {
        no_space(&self.full)?;
        Ok(Box::new(FullFile {
            inner: self.inner.create(first)?,
            full: self.full.clone(),
        }))
    }
    fn remove(&self, first: u64) -> std::io::Result<()> {
        self.inner.remove(first)
    }
}

/// Opens the database file at `path` on a disk that is full while `full` is set.
fn full_disk_opener(path: std::path::PathBuf, full: Arc<std::sync::atomic::AtomicBool>) -> Opener {
    fenced_opener(path, full, Arc::default())
}

/// The latest fence a [`fenced_opener`] made: setting it cuts the open database off its file,
/// as a crash would (nothing redb has not made durable reaches the file).
type FenceSlot = Arc<Mutex<Option<Arc<std::sync::atomic::AtomicBool>>>>;

fn fenced_opener(
    path: std::path::PathBuf,
    full: Arc<std::sync::atomic::AtomicBool>,
    fences: FenceSlot,
) -> Opener {
    Box::new(move || {
        // A disk that fills up while `full` is set, below the store's own fence.
        let backend =
            crate::wal::Fenced::refusing(file_backend(&path)?, full.clone(), no_space_error);
        let fence = Arc::new(std::sync::atomic::AtomicBool::new(false));
        *fences.lock().unwrap() = Some(fence.clone());
        let db = redb::Database::builder()
            .create_with_backend(crate::wal::Fenced::new(backend, fence.clone()))
            .map_err(open_error)?;
        let log = crate::wal::FsDir::open(path.with_file_name("wal"))
            .map_err(|e| StoreError::Db(e.to_string()))?;
        let log = Arc::new(FullDir {
            inner: log,
            full: full.clone(),
        });
        Ok(Box::new(RedbEngine::new(db, Some(log), Some(fence))?) as Box<dyn Engine>)
    })
}

/// A full disk fails the store: the write that met it answers InternalServerError, health
/// says why, later requests fail cleanly, and once there is room the store reopens by itself
/// with every acknowledged write and nothing of the failed one.
#[tokio::test]
async fn a_full_disk_fails_the_store_until_it_has_room_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tributary.redb");
    let full = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opener = full_disk_opener(path.clone(), full.clone());
    let store = Store::open_with(opener, SystemClock::new()).unwrap();
    store.write(|tx| tx.kv_put("t", b"a", b"1")).await.unwrap();
    assert_eq!(store.health(), Health::Ok);

    full.store(true, std::sync::atomic::Ordering::SeqCst);
    let e = store
        .write(|tx| tx.kv_put("t", b"b", b"2"))
        .await
        .unwrap_err();
    assert_eq!((e.code, e.status), ("InternalServerError", 500));
    match store.health() {
        Health::Failed(why) => assert!(why.contains("No space left on device"), "{why}"),
        other => panic!("expected a failed store, got {other:?}"),
    }
    let e = store
        .write(|tx| tx.kv_put("t", b"c", b"3"))
        .await
        .unwrap_err();
    assert_eq!(e.code, "InternalServerError");
    assert!(matches!(
        store.kv_get("t", b"a"),
        Err(StoreError::Unavailable(_))
    ));

    full.store(false, std::sync::atomic::Ordering::SeqCst);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.health() != Health::Ok {
        assert!(
            std::time::Instant::now() < deadline,
            "the store did not reopen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    store.write(|tx| tx.kv_put("t", b"d", b"4")).await.unwrap();
    let present = |k: &[u8]| store.kv_get("t", k).unwrap().is_some();
    assert!(present(b"a") && present(b"d"));
    assert!(!present(b"b") && !present(b"c"));
    drop(store);

    // Everything acknowledged is on disk.
    let store = Store::open(Some(dir.path()), SystemClock::new()).unwrap();
    let present = |k: &[u8]| store.kv_get("t", k).unwrap().is_some();
    assert!(present(b"a") && present(b"d") && !present(b"b"));
}

/// A store that cannot be reopened (an in-memory one, whose pages went with the failed
/// instance) is fatal: `fatal()` resolves, so the server can exit non-zero.
#[tokio::test]
async fn a_store_that_cannot_be_reopened_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let full = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opens = std::sync::atomic::AtomicUsize::new(0);
    let first = full_disk_opener(path, full.clone());
    let opener: Opener = Box::new(move || {
        if opens.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
            return Err(StoreError::Unavailable("its data is gone".into()));
        }
        first()
    });
    let store = Store::open_with(opener, SystemClock::new()).unwrap();
    full.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(store.write(|tx| tx.kv_put("t", b"a", b"1")).await.is_err());
    let why = tokio::time::timeout(std::time::Duration::from_secs(10), store.fatal())
        .await
        .expect("the store did not become fatal");
    assert_eq!(why, "its data is gone");
    assert!(matches!(store.health(), Health::Fatal(_)));
    let e = store
        .write(|tx| tx.kv_put("t", b"b", b"2"))
        .await
        .unwrap_err();
    assert_eq!(e.code, "InternalServerError");
}

/// A backfill in steps, with writes between the steps before and after its cursor, ends with
/// exactly the index a full build of the final items gives.
#[tokio::test]
async fn a_backfill_in_steps_ends_with_the_index_of_the_final_items() {
    for (store, _dir) in each_engine() {
        let color_item = |pk: &str, color: &str| -> Item {
            let mut i = item(pk);
            i.insert("color".into(), AttributeValue::S(color.into()));
            i
        };
        store
            .write(move |tx| {
                tx.put_table(table("T", 1))?;
                for n in 0..25 {
                    let i = color_item(&format!("k{n:02}"), "red");
                    tx.set_item("T", 1, format!("k{n:02}").as_bytes(), None, Some(&i))?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let index = color_index(Some(Vec::new()));
        store
            .write(move |tx| {
                let mut t = tx.catalog().tables.get("T").cloned().unwrap();
                let mut ix = index.clone();
                tx.backfill_index(&t, &mut ix, 10)?;
                assert_eq!(ix.backfill.as_deref(), Some(b"k09\0".as_slice()));
                t.indexes.push(ix);
                tx.put_table(t)
            })
            .await
            .unwrap();
        // Writes between steps: one the backfill has passed, one it has not, and a delete ahead.
        let set = |pk: &'static str, color: Option<&'static str>| {
            let store = store.clone();
            async move {
                store
                    .write(move |tx| {
                        let old = tx.get_item(1, pk.as_bytes())?;
                        let new = color.map(|c| color_item(pk, c));
                        tx.set_item("T", 1, pk.as_bytes(), old.as_ref(), new.as_ref())
                    })
                    .await
                    .unwrap();
            }
        };
        set("k03", Some("blue")).await;
        set("k15", Some("blue")).await;
        set("k20", None).await;
        loop {
            let done = store
                .write(|tx| tx.backfill_step("T", 2, 10))
                .await
                .unwrap();
            if done {
                break;
            }
        }
        let t = store.catalog().tables.get("T").cloned().unwrap();
        let ix = &t.indexes[0];
        assert!(!ix.backfilling());
        assert_eq!(ix.item_count, 24);
        let entries = store
            .range(
                KeySpace::Index(2),
                Bound::Unbounded,
                Bound::Unbounded,
                false,
                100,
            )
            .unwrap();
        let blue = entries
            .iter()
            .filter(|(_, i)| i.get("color") == Some(&AttributeValue::S("blue".into())))
            .count();
        assert_eq!((entries.len(), blue), (24, 2));
    }
}

/// A deleted table's items are cleared by the writer in steps once the delete is committed,
/// also after a restart in the middle.
#[tokio::test]
async fn a_deleted_tables_items_are_cleared_in_steps_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2 * GARBAGE_STEP + 5;
    {
        let store = Store::open(Some(dir.path()), SystemClock::new()).unwrap();
        store
            .write(move |tx| {
                tx.put_table(table("T", 7))?;
                for i in 0..n {
                    let pk = format!("k{i:05}");
                    tx.set_item("T", 7, pk.as_bytes(), None, Some(&item(&pk)))?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let all = |s: &Store| {
            s.range(
                KeySpace::Table(7),
                Bound::Unbounded,
                Bound::Unbounded,
                false,
                usize::MAX,
            )
            .unwrap()
            .len()
        };
        assert_eq!(all(&store), n);
        // The delete and a write in the same group: the writer clears after the group.
        store
            .write(|tx| tx.delete_table("T").map(|_| ()))
            .await
            .unwrap();
        assert!(store.catalog().tables.get("T").is_none());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while all(&store) > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "items left: {}",
                all(&store)
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(first_garbage(&**store.view().unwrap()).unwrap().is_none());
    }
    // A range left at a restart is resumed: written straight into the file, as a crash right
    // after the delete's commit would leave it.
    {
        let db = redb::Database::create(dir.path().join("tributary.redb")).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut items = w.open_table(ITEMS).unwrap();
            for i in 0..10u8 {
                items
                    .insert(item_key(9, &[i]).as_slice(), b"{}".as_slice())
                    .unwrap();
            }
            let mut meta = w.open_table(META).unwrap();
            let key = garbage_key(GarbageSpace::Items, &9u64.to_be_bytes());
            meta.insert(key.as_str(), 10u64.to_be_bytes().as_slice())
                .unwrap();
        }
        w.commit().unwrap();
    }
    let store = Store::open(Some(dir.path()), SystemClock::new()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left = store
            .range(
                KeySpace::Table(9),
                Bound::Unbounded,
                Bound::Unbounded,
                false,
                100,
            )
            .unwrap();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "items left: {}",
            left.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// A table is in the catalog readers see only once the commit that created it is durable:
/// not while its group runs, and never if the commit fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_is_visible_only_once_its_commit_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tributary.redb");
    let full = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opener = full_disk_opener(path, full.clone());
    let store = Store::open_with(opener, SystemClock::new()).unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let started_tx = std::sync::Mutex::new(started_tx);
    let create = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(move |tx| {
                    tx.put_table(table("T", 1))?;
                    let _ = started_tx.lock().unwrap().send(());
                    // The job is done with the table; its commit has not happened yet.
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    Ok(())
                })
                .await
        })
    };
    tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
        .await
        .unwrap();
    assert!(store.catalog().tables.get("T").is_none());
    create.await.unwrap().unwrap();
    assert!(store.catalog().tables.get("T").is_some());

    // A create whose commit fails never shows.
    full.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(store.write(|tx| tx.put_table(table("U", 2))).await.is_err());
    assert!(store.catalog().tables.get("U").is_none());
}

/// A crash after acknowledged writes: redb never made them durable (the database is cut off
/// its file, as a killed process leaves it), so they come back from the write-ahead log, in
/// order, with their stream records; a torn record at the log's end is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_come_back_from_the_log_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tributary.redb");
    let fences = FenceSlot::default();
    let no = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let store = Store::open_with(
        fenced_opener(path.clone(), no.clone(), fences.clone()),
        SystemClock::new(),
    )
    .unwrap();
    let stream = store
        .write(|tx| {
            let mut t = table("T", tx.next_id());
            tx.put_table(t.clone())?;
            let s =
                tx.create_stream(&t, "arn:s".into(), "l".into(), StreamViewType::NewImage, 1)?;
            t.stream_arn = Some(s.arn.clone());
            tx.put_table(t)?;
            Ok(s)
        })
        .await
        .unwrap();
    let iid = stream.shards[0].iid;
    // 27 MiB of values first: past the checkpoint size three times, so segments are rotated
    // and written over again, and what follows lands in a recycled one.
    let big = vec![7u8; 300 << 10];
    for i in 0..90u32 {
        let big = big.clone();
        store
            .write(move |tx| tx.kv_put("big", &i.to_be_bytes(), &big))
            .await
            .unwrap();
    }
    let wal = dir.path().join("wal");
    let files = std::fs::read_dir(&wal).unwrap().count();
    let spares = std::fs::read_dir(&wal)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "spare")
        })
        .count();
    assert!(
        files <= 3 && spares <= 2,
        "{files} log files, {spares} spare"
    );
    // Concurrent writes, so groups are pipelined: each is synced while the next executes.
    let writes: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |tx| {
                        let it = item(&format!("k{i:03}"));
                        let id = tx.catalog().tables.get("T").unwrap().id;
                        tx.set_item("T", id, format!("k{i:03}").as_bytes(), None, Some(&it))?;
                        tx.append_stream_record("T", &it, None, Some(&it), false)
                    })
                    .await
            })
        })
        .collect();
    for w in writes {
        w.await.unwrap().unwrap();
    }
    // The crash: nothing more reaches redb's file, so what it has is its last durable commit.
    let fence = fences.lock().unwrap().take().unwrap();
    fence.store(true, std::sync::atomic::Ordering::SeqCst);
    drop(store);
    // A record torn in the middle of its write.
    let seg = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max()
        .expect("a log segment");
    {
        use std::os::unix::fs::FileExt;
        let bytes = std::fs::read(&seg).unwrap();
        let end = crate::wal::records_end(&bytes);
        assert!(end > 0, "the log holds the writes");
        let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
        f.write_all_at(&[200, 0, 0, 0, 1, 2, 3, 4, 5, 6], end as u64)
            .unwrap();
    }

    let store = Store::open(Some(dir.path()), SystemClock::new()).unwrap();
    let recs = store.read_records(iid, 0, 1000, u64::MAX).unwrap();
    assert_eq!(recs.len(), 200);
    assert!(recs.windows(2).all(|w| w[0].sequence < w[1].sequence));
    let t = store.catalog().tables.get("T").unwrap().clone();
    assert_eq!(t.item_count, 200);
    let items = store
        .range(
            KeySpace::Table(t.id),
            Bound::Unbounded,
            Bound::Unbounded,
            false,
            1000,
        )
        .unwrap();
    assert_eq!(items.len(), 200);
    for i in 0..90u32 {
        assert_eq!(
            store.kv_get("big", &i.to_be_bytes()).unwrap(),
            Some(big.clone())
        );
    }
    // And the reopened store goes on after the last record.
    let next = store.write(|tx| Ok(tx.catalog().next_seq)).await.unwrap();
    assert_eq!(next, recs[199].sequence);
}

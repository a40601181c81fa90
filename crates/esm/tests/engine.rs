//! The engine against in-memory fakes of its seams: delivery order, checkpoints after
//! success, retries on function errors, and no busy loop while a shard is idle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tributary_esm::*;
use tributary_model::attr::{AttributeValue, Item};
use tributary_model::stream::{StreamRecord, StreamViewType, SEQUENCE_BASE};

const ARN: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/L";
const SHARD: &str = "shardId-00000000000000000001-00000001";
const START: u128 = SEQUENCE_BASE + 1;

struct FakeSource {
    records: Mutex<Vec<StreamRecord>>,
    last: watch::Sender<u128>,
    reads: AtomicUsize,
    /// The most bytes (`size_bytes`) one read returned.
    most_read_bytes: AtomicUsize,
    /// How many more `latest_sequence` calls fail (a throttled source), and how many answered.
    latest_failures: AtomicUsize,
    latest_answers: AtomicUsize,
}

impl FakeSource {
    fn new() -> Arc<Self> {
        Arc::new(FakeSource {
            records: Mutex::new(Vec::new()),
            last: watch::channel(0).0,
            reads: AtomicUsize::new(0),
            most_read_bytes: AtomicUsize::new(0),
            latest_failures: AtomicUsize::new(0),
            latest_answers: AtomicUsize::new(0),
        })
    }

    /// A record whose new image carries `bytes` of payload.
    fn put_big(&self, key: &str, bytes: usize) {
        let mut recs = self.records.lock().unwrap();
        let seq = START + recs.len() as u128;
        let keys: Item = [("pk".to_string(), AttributeValue::S(key.into()))]
            .into_iter()
            .collect();
        let mut new = keys.clone();
        new.insert("blob".into(), AttributeValue::S("x".repeat(bytes)));
        recs.push(StreamRecord::describe(
            format!("{seq}"),
            seq,
            0,
            StreamViewType::NewImage,
            keys,
            None,
            Some(&new),
        ));
        self.last.send_replace(seq);
    }

    fn put(&self, key: &str) {
        let mut recs = self.records.lock().unwrap();
        let seq = START + recs.len() as u128;
        let keys: Item = [("pk".to_string(), AttributeValue::S(key.into()))]
            .into_iter()
            .collect();
        recs.push(StreamRecord::describe(
            format!("{seq}"),
            seq,
            0,
            StreamViewType::KeysOnly,
            keys.clone(),
            None,
            Some(&keys),
        ));
        self.last.send_replace(seq);
    }
}

#[async_trait]
impl StreamSource for FakeSource {
    async fn shards(&self, _: &str) -> Result<Vec<ShardInfo>, SourceError> {
        Ok(vec![ShardInfo {
            shard_id: SHARD.into(),
            parent_shard_id: None,
            start_seq: START,
            end_seq: None,
        }])
    }
    async fn read(
        &self,
        _: &str,
        _: &str,
        from: u128,
        limit: usize,
        max_bytes: u64,
    ) -> Result<Vec<StreamRecord>, SourceError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let recs = self.records.lock().unwrap();
        let mut out = Vec::new();
        let mut bytes = 0u64;
        for r in recs.iter().filter(|r| r.sequence >= from) {
            if out.len() >= limit || bytes >= max_bytes {
                break;
            }
            bytes += r.size_bytes;
            out.push(r.clone());
        }
        self.most_read_bytes
            .fetch_max(bytes as usize, Ordering::SeqCst);
        Ok(out)
    }
    async fn latest_sequence(&self, _: &str, _: &str) -> Result<Option<u128>, SourceError> {
        let failing = self
            .latest_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(SourceError::Failed("throttled".into()));
        }
        let latest = self.records.lock().unwrap().last().map(|r| r.sequence);
        self.latest_answers.fetch_add(1, Ordering::SeqCst);
        Ok(latest)
    }
    async fn wait_for_records(&self, _: &str, _: &str, from: u128) {
        let mut rx = self.last.subscribe();
        if *rx.borrow_and_update() >= from {
            return;
        }
        let _ = rx.changed().await;
    }
    async fn wait_for_shards(&self, _: &str, _: u64) -> u64 {
        std::future::pending().await
    }
    fn shards_version(&self) -> u64 {
        0
    }
}

/// Records every batch's keys; fails while `failures` is positive.
#[derive(Default)]
struct FakeInvoker {
    batches: Mutex<Vec<Vec<String>>>,
    failures: AtomicUsize,
}

#[async_trait]
impl Invoker for FakeInvoker {
    async fn invoke(&self, _: &str, payload: Vec<u8>) -> Result<InvokeOutcome, InvokeError> {
        let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let keys = v["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["dynamodb"]["Keys"]["pk"]["S"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        self.batches.lock().unwrap().push(keys);
        let failing = self.failures.load(Ordering::SeqCst) > 0;
        if failing {
            self.failures.fetch_sub(1, Ordering::SeqCst);
        }
        let poisoned = self
            .batches
            .lock()
            .unwrap()
            .last()
            .is_some_and(|b| b.iter().any(|k| k.starts_with("poison")));
        Ok(InvokeOutcome {
            payload: b"null".to_vec(),
            function_error: (failing || poisoned).then(|| "Unhandled".into()),
            ..Default::default()
        })
    }
}

#[derive(Default)]
struct FakeCheckpoints(Mutex<HashMap<String, Checkpoint>>);

#[async_trait]
impl CheckpointStore for FakeCheckpoints {
    fn get(&self, uuid: &str, shard: &str) -> Option<Checkpoint> {
        self.0
            .lock()
            .unwrap()
            .get(&format!("{uuid}/{shard}"))
            .copied()
    }
    async fn put(&self, uuid: &str, shard: &str, cp: Checkpoint) -> Result<(), String> {
        self.0.lock().unwrap().insert(format!("{uuid}/{shard}"), cp);
        Ok(())
    }
}

fn config(batch_size: usize) -> MappingConfig {
    MappingConfig {
        uuid: "u".into(),
        function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        stream_arn: ARN.into(),
        region: "us-east-1".into(),
        batch_size,
        max_batching_window_ms: 0,
        starting_position: StartingPosition::TrimHorizon,
        max_retry_attempts: -1,
        max_record_age_ms: -1,
        stream_retention_ms: 24 * 3600 * 1000,
        bisect_on_error: false,
        report_batch_item_failures: false,
        parallelization_factor: 1,
        tumbling_window_ms: 0,
        filters: Arc::new(filter::FilterSet::default()),
        on_failure: None,
    }
}

/// Discarded batches, as the on-failure destination received them.
#[derive(Default)]
struct FakeDestination(Mutex<Vec<serde_json::Value>>);

#[async_trait]
impl FailureDestination for FakeDestination {
    async fn deliver(
        &self,
        _: &str,
        _: &str,
        _: &str,
        record: &str,
        _: &[u8],
    ) -> Result<(), String> {
        self.0
            .lock()
            .unwrap()
            .push(serde_json::from_str(record).unwrap());
        Ok(())
    }
}

fn deps(
    source: Arc<dyn StreamSource>,
    invoker: Arc<dyn Invoker>,
    checkpoints: Arc<dyn CheckpointStore>,
    destinations: Arc<FakeDestination>,
) -> Deps {
    Deps {
        source,
        invoker,
        checkpoints,
        destinations,
        clock: running_clock(),
    }
}

/// A manual clock that runs 20 times faster than real time, so the engine's backoffs (which
/// wait on it) pass quickly.
fn running_clock() -> Arc<tributary_model::ManualClock> {
    let clock = tributary_model::ManualClock::new(1_000);
    let ticking = Arc::downgrade(&clock);
    tokio::spawn(async move {
        while let Some(c) = ticking.upgrade() {
            c.advance_millis(20);
            drop(c);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    clock
}

async fn eventually(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("condition not reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_shard_does_not_spin_and_wakes_on_new_records() {
    let source = FakeSource::new();
    let invoker = Arc::new(FakeInvoker::default());
    let checkpoints = Arc::new(FakeCheckpoints::default());
    let engine = Engine::new(deps(
        source.clone(),
        invoker.clone(),
        checkpoints.clone(),
        Arc::default(),
    ));
    engine.start(config(10)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        source.reads.load(Ordering::SeqCst) <= 2,
        "idle worker kept reading"
    );
    source.put("a");
    source.put("b");
    eventually(|| invoker.batches.lock().unwrap().concat() == ["a", "b"]).await;
    eventually(|| checkpoints.get("u", SHARD).map(|c| c.seq) == Some(START + 1)).await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_batch_is_retried_before_the_checkpoint_moves() {
    let source = FakeSource::new();
    for k in ["a", "b", "c"] {
        source.put(k);
    }
    let invoker = Arc::new(FakeInvoker::default());
    invoker.failures.store(2, Ordering::SeqCst);
    let checkpoints = Arc::new(FakeCheckpoints::default());
    let engine = Engine::new(deps(
        source.clone(),
        invoker.clone(),
        checkpoints.clone(),
        Arc::default(),
    ));
    engine.start(config(2)).await;
    eventually(|| invoker.batches.lock().unwrap().len() == 4).await;
    let batches = invoker.batches.lock().unwrap().clone();
    assert_eq!(
        batches,
        vec![vec!["a", "b"], vec!["a", "b"], vec!["a", "b"], vec!["c"]]
    );
    eventually(|| checkpoints.get("u", SHARD).map(|c| c.seq) == Some(START + 2)).await;
    engine.shutdown().await;
}

/// A closed shard whose end lies beyond its last record (sequence numbers are shared across a
/// stream's shards) is finished once read, not waited on forever in a busy loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_shard_with_a_far_end_finishes_without_spinning() {
    struct Closed(FakeSource);
    #[async_trait]
    impl StreamSource for Closed {
        async fn shards(&self, _: &str) -> Result<Vec<ShardInfo>, SourceError> {
            Ok(vec![ShardInfo {
                shard_id: SHARD.into(),
                parent_shard_id: None,
                start_seq: START,
                end_seq: Some(START + 1000),
            }])
        }
        async fn read(
            &self,
            a: &str,
            s: &str,
            from: u128,
            limit: usize,
            max_bytes: u64,
        ) -> Result<Vec<StreamRecord>, SourceError> {
            self.0.read(a, s, from, limit, max_bytes).await
        }
        async fn latest_sequence(&self, a: &str, s: &str) -> Result<Option<u128>, SourceError> {
            self.0.latest_sequence(a, s).await
        }
        async fn wait_for_records(&self, _: &str, _: &str, _: u128) {}
        async fn wait_for_shards(&self, _: &str, _: u64) -> u64 {
            std::future::pending().await
        }
        fn shards_version(&self) -> u64 {
            0
        }
    }
    let inner = FakeSource::new();
    inner.put("a");
    let source = Arc::new(Closed(Arc::try_unwrap(inner).ok().unwrap()));
    let invoker = Arc::new(FakeInvoker::default());
    let checkpoints = Arc::new(FakeCheckpoints::default());
    let engine = Engine::new(deps(
        source.clone(),
        invoker.clone(),
        checkpoints.clone(),
        Arc::default(),
    ));
    engine.start(config(10)).await;
    eventually(|| checkpoints.get("u", SHARD).is_some_and(|c| c.shard_done)).await;
    assert_eq!(invoker.batches.lock().unwrap().concat(), ["a"]);
    let reads = source.0.reads.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        source.0.reads.load(Ordering::SeqCst),
        reads,
        "a finished shard is not read again"
    );
    engine.shutdown().await;
}

/// A poison record in a batch of 10 with bisect: halves are retried until the record is
/// isolated; the other nine are delivered, in order, and only the poison is discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bisect_isolates_a_poison_record() {
    let source = FakeSource::new();
    let keys: Vec<String> = (0..10)
        .map(|i| {
            if i == 6 {
                "poison".into()
            } else {
                format!("k{i}")
            }
        })
        .collect();
    for k in &keys {
        source.put(k);
    }
    let invoker = Arc::new(FakeInvoker::default());
    let checkpoints = Arc::new(FakeCheckpoints::default());
    let dest = Arc::new(FakeDestination::default());
    let engine = Engine::new(deps(
        source.clone(),
        invoker.clone(),
        checkpoints.clone(),
        dest.clone(),
    ));
    let mut cfg = config(10);
    cfg.bisect_on_error = true;
    cfg.max_retry_attempts = 1;
    cfg.on_failure = Some("arn:aws:sqs:us-east-1:000000000000:dlq".into());
    engine.start(cfg).await;
    eventually(|| checkpoints.get("u", SHARD).map(|c| c.seq) == Some(START + 9)).await;
    let batches = invoker.batches.lock().unwrap().clone();
    let delivered: Vec<String> = batches
        .iter()
        .filter(|b| !b.iter().any(|k| k == "poison"))
        .flatten()
        .cloned()
        .collect();
    let expected: Vec<String> = keys.iter().filter(|k| *k != "poison").cloned().collect();
    assert_eq!(
        delivered, expected,
        "the nine good records, once each, in order"
    );
    // Isolated, then retried once (MaximumRetryAttempts 1) before being discarded.
    let alone = batches
        .iter()
        .filter(|b| b == &&vec!["poison".to_string()])
        .count();
    assert_eq!(alone, 2, "{batches:?}");
    let reports = dest.0.lock().unwrap().clone();
    assert_eq!(reports.len(), 1);
    let info = &reports[0]["DDBStreamBatchInfo"];
    assert_eq!(info["batchSize"], 1);
    assert_eq!(info["startSequenceNumber"], (START + 6).to_string());
    assert_eq!(
        reports[0]["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(reports[0]["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(reports[0]["responseContext"]["functionError"], "Unhandled");
    engine.shutdown().await;
}

/// With ParallelizationFactor 4 every record is delivered exactly once and the checkpoint
/// covers everything once all lanes are done. (Per-key order is checked end to end.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_lanes_deliver_everything_once() {
    let source = FakeSource::new();
    for round in 0..5 {
        for key in 0..8 {
            source.put(&format!("key{key}-{round}"));
        }
    }
    let invoker = Arc::new(FakeInvoker::default());
    let checkpoints = Arc::new(FakeCheckpoints::default());
    let engine = Engine::new(deps(
        source.clone(),
        invoker.clone(),
        checkpoints.clone(),
        Arc::default(),
    ));
    let mut cfg = config(3);
    cfg.parallelization_factor = 4;
    engine.start(cfg).await;
    eventually(|| checkpoints.get("u", SHARD).map(|c| c.seq) == Some(START + 39)).await;
    let batches = invoker.batches.lock().unwrap().clone();
    assert!(batches.iter().all(|b| b.len() <= 3));
    let all: Vec<String> = batches.concat();
    assert_eq!(all.len(), 40, "each record once");
    for key in 0..8 {
        let rounds: Vec<&String> = all
            .iter()
            .filter(|k| k.starts_with(&format!("key{key}-")))
            .collect();
        assert_eq!(rounds.len(), 5);
    }
    engine.shutdown().await;
}

/// Records every invoke's payload size and record count.
#[derive(Default)]
struct SizingInvoker(Mutex<Vec<(usize, usize)>>);

#[async_trait]
impl Invoker for SizingInvoker {
    async fn invoke(&self, _: &str, payload: Vec<u8>) -> Result<InvokeOutcome, InvokeError> {
        let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let n = v["Records"].as_array().unwrap().len();
        self.0.lock().unwrap().push((payload.len(), n));
        Ok(InvokeOutcome {
            payload: b"null".to_vec(),
            ..Default::default()
        })
    }
}

/// Huge items with the largest BatchSize: a read holds about one invoke's payload per lane
/// (6 MB), not up to 10 000 records of 350 KB, and every invoke stays under the 6 MB payload
/// limit while every record is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_huge_items_are_bounded_by_bytes() {
    const MB: usize = 1024 * 1024;
    let source = FakeSource::new();
    for i in 0..100 {
        source.put_big(&format!("k{i}"), 350 * 1024);
    }
    let invoker = Arc::new(SizingInvoker::default());
    let checkpoints = Arc::new(FakeCheckpoints::default());
    let engine = Engine::new(deps(
        source.clone(),
        invoker.clone(),
        checkpoints.clone(),
        Arc::default(),
    ));
    let mut cfg = config(10_000);
    cfg.parallelization_factor = 2;
    engine.start(cfg).await;
    for _ in 0..3000 {
        if checkpoints.get("u", SHARD).map(|c| c.seq) == Some(START + 99) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        checkpoints.get("u", SHARD).map(|c| c.seq),
        Some(START + 99),
        "every record delivered"
    );
    let calls = invoker.0.lock().unwrap().clone();
    assert_eq!(
        calls.iter().map(|c| c.1).sum::<usize>(),
        100,
        "each record once"
    );
    assert!(
        calls.iter().all(|c| c.0 <= 6 * MB),
        "an invoke over 6 MB: {:?}",
        calls.iter().map(|c| c.0).max()
    );
    // 2 lanes of 6 MB, plus the one record that crosses the budget; the 100 records are
    // 35 MB, which an unbounded read of up to 10 000 records would hold at once.
    let most = source.most_read_bytes.load(Ordering::SeqCst);
    assert!(most <= 12 * MB + 351 * 1024, "one read held {most} bytes");
    assert!(
        source.reads.load(Ordering::SeqCst) >= 3,
        "the shard was read in several parts"
    );
    engine.shutdown().await;
}

/// LATEST starts after the newest record even when the source fails to say which that is at
/// first: the worker asks again instead of starting at TRIM_HORIZON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_is_asked_again_not_turned_into_trim_horizon() {
    let source = FakeSource::new();
    for k in ["old1", "old2", "old3"] {
        source.put(k);
    }
    source.latest_failures.store(2, Ordering::SeqCst);
    let invoker = Arc::new(FakeInvoker::default());
    let checkpoints = Arc::new(FakeCheckpoints::default());
    let engine = Engine::new(deps(
        source.clone(),
        invoker.clone(),
        checkpoints.clone(),
        Arc::default(),
    ));
    let mut cfg = config(10);
    cfg.starting_position = StartingPosition::Latest;
    engine.start(cfg).await;
    // Counted once answered, so the next record comes after the position it gave.
    eventually(|| source.latest_answers.load(Ordering::SeqCst) == 1).await;
    assert_eq!(
        source.latest_failures.load(Ordering::SeqCst),
        0,
        "LATEST was asked again after both failures"
    );
    source.put("new1");
    eventually(|| checkpoints.get("u", SHARD).map(|c| c.seq) == Some(START + 3)).await;
    let delivered: Vec<String> = invoker.batches.lock().unwrap().concat();
    assert_eq!(delivered, ["new1"]);
    engine.shutdown().await;
}

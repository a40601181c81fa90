//! Supervisors (one per mapping) and shard workers (one per shard being read).
//!
//! A shard worker is a reader plus `ParallelizationFactor` lanes. The reader reads records in
//! order, drops the ones no filter matches, and routes the rest by item key to a lane, so the
//! records of one item always meet the same lane and stay in order. Each lane forms batches
//! (size, batching window, 6 MB payload), invokes the function and applies the failure rules
//! (retries, record age, bisect, partial batch responses, on-failure destination). A tracker
//! of unfinished sequence numbers gives the checkpoint: everything below the lowest unfinished
//! record, written in the background one checkpoint at a time.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tributary_model::clock::iso_millis;
use tributary_model::stream::StreamRecord;

use crate::seams::{Checkpoint, InvokeError, InvokeOutcome, ShardInfo, SourceError};
use crate::{Counters, Deps, MappingConfig, MappingStatus, ShardStatus, StartingPosition};

type StatusMap = Arc<Mutex<HashMap<String, MappingStatus>>>;

/// What the engine shares with every supervisor and worker.
#[derive(Clone)]
pub(crate) struct Shared {
    pub status: StatusMap,
    pub progress: Arc<Notify>,
}

/// The synchronous invoke payload limit (6 MB).
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// Tumbling-window state larger than this ends the window early.
const MAX_WINDOW_STATE: usize = 1024 * 1024;
/// First retry delay after a failed invocation; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Delay between tries of a checkpoint write.
const SHORT_RETRY: Duration = Duration::from_millis(100);
/// Tries of one checkpoint write before it is left to a later one (or a restart).
const CHECKPOINT_ATTEMPTS: u32 = 20;
/// Records read at once when the batch size is small.
const MIN_READ: usize = 100;

/// Follows the stream's shards: starts a worker for every unfinished shard whose parent is
/// finished, and picks up new shards as soon as the source reports them.
pub(crate) async fn supervise(
    cfg: MappingConfig,
    deps: Deps,
    shared: Shared,
    cancel: CancellationToken,
) {
    let cfg = Arc::new(cfg);
    let (done_tx, mut done_rx) = mpsc::channel::<String>(64);
    let mut workers: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    tracing::debug!(uuid = %cfg.uuid, "mapping supervisor started");
    loop {
        let version = deps.source.shards_version();
        let shards = match deps.source.shards(&cfg.stream_arn).await {
            Ok(s) => s,
            Err(SourceError::StreamGone(_)) => Vec::new(),
            Err(e) => {
                tracing::warn!(uuid = %cfg.uuid, error = %e, "listing shards failed");
                Vec::new()
            }
        };
        workers.retain(|_, h| !h.is_finished());
        let ids: HashSet<&str> = shards.iter().map(|s| s.shard_id.as_str()).collect();
        let is_done = |id: &str| {
            deps.checkpoints
                .get(&cfg.uuid, id)
                .is_some_and(|c| c.shard_done)
        };
        for shard in &shards {
            if workers.contains_key(&shard.shard_id) || is_done(&shard.shard_id) {
                continue;
            }
            let parent_done = match &shard.parent_shard_id {
                None => true,
                Some(p) => !ids.contains(p.as_str()) || is_done(p),
            };
            if !parent_done {
                continue;
            }
            let worker = Arc::new(ShardWorker {
                cfg: cfg.clone(),
                deps: deps.clone(),
                shared: shared.clone(),
                shard: shard.clone(),
                cancel: cancel.clone(),
            });
            let done_tx = done_tx.clone();
            let id = shard.shard_id.clone();
            workers.insert(
                id.clone(),
                tokio::spawn(async move {
                    worker.run().await;
                    let _ = done_tx.send(id).await;
                }),
            );
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = deps.source.wait_for_shards(&cfg.stream_arn, version) => {}
            Some(_) = done_rx.recv() => {}
        }
    }
    for (_, h) in workers {
        let _ = h.await;
    }
    tracing::debug!(uuid = %cfg.uuid, "mapping supervisor stopped");
}

/// A record ready for delivery: its Lambda-event JSON rendered once.
#[derive(Clone)]
struct Prepared {
    seq: u128,
    arrival_ms: i64,
    json: Arc<Vec<u8>>,
}

/// Which records of a shard are read but not yet finished.
#[derive(Default)]
struct TrackState {
    unfinished: BTreeSet<u128>,
    /// The last sequence number read (and routed or filtered out).
    read_upto: Option<u128>,
}

impl TrackState {
    /// Everything at or below this is finished.
    fn processed(&self) -> Option<u128> {
        match self.unfinished.first() {
            Some(&lowest) => lowest.checked_sub(1),
            None => self.read_upto,
        }
    }
}

struct Tracker {
    state: Mutex<TrackState>,
    /// Moves on every change; each waiter has its own receiver, so no wake-up is lost to
    /// another waiter.
    changed: tokio::sync::watch::Sender<u64>,
}

impl Tracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, TrackState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish(&self, seqs: impl IntoIterator<Item = u128>) {
        {
            let mut st = self.lock();
            for s in seqs {
                st.unfinished.remove(&s);
            }
        }
        self.changed.send_modify(|v| *v += 1);
    }
}

enum LaneMsg {
    Records(Vec<Prepared>),
    /// The shard is finished: close any open tumbling window.
    ShardEnd,
}

struct ShardWorker {
    cfg: Arc<MappingConfig>,
    deps: Deps,
    shared: Shared,
    shard: ShardInfo,
    cancel: CancellationToken,
}

impl ShardWorker {
    async fn run(self: Arc<Self>) {
        let shard_id = self.shard.shard_id.clone();
        let saved = self.deps.checkpoints.get(&self.cfg.uuid, &shard_id);
        let next = match saved {
            Some(cp) => cp.seq + 1,
            // Positions are "the next sequence number wanted"; every record of a shard has a
            // sequence number ≥ its StartingSequenceNumber, so reading starts there.
            None => match self.cfg.starting_position {
                StartingPosition::TrimHorizon => self.shard.start_seq,
                StartingPosition::Latest => match self.latest().await {
                    Some(next) => next,
                    None => return,
                },
            },
        };
        tracing::debug!(uuid = %self.cfg.uuid, shard = %shard_id, next, "shard worker started");
        let tracker = Arc::new(Tracker {
            state: Mutex::new(TrackState {
                unfinished: BTreeSet::new(),
                read_upto: next.checked_sub(1),
            }),
            changed: tokio::sync::watch::Sender::new(0),
        });
        self.update_shard(|s| {
            s.checkpoint_seq = saved.map(|c| c.seq);
            s.processed_seq = next.checked_sub(1);
        });

        let lanes_n = self.cfg.parallelization_factor.clamp(1, 10);
        let mut lanes = Vec::with_capacity(lanes_n);
        let mut lane_tasks = Vec::with_capacity(lanes_n);
        for _ in 0..lanes_n {
            let (tx, rx) = mpsc::channel::<LaneMsg>(4);
            lanes.push(tx);
            let lane = Lane {
                w: self.clone(),
                tracker: tracker.clone(),
                rx,
                buf: VecDeque::new(),
                window: None,
                shard_ended: false,
            };
            lane_tasks.push(tokio::spawn(lane.run()));
        }
        let stop_checkpointer = CancellationToken::new();
        let checkpointer = tokio::spawn(self.clone().checkpointer(
            tracker.clone(),
            saved.map(|c| c.seq),
            stop_checkpointer.clone(),
        ));

        let finished = self.read_loop(next, &tracker, &lanes).await;
        if finished {
            for tx in &lanes {
                let _ = tx.send(LaneMsg::ShardEnd).await;
            }
            // Every routed record must be finished before the shard is.
            let mut changed = tracker.changed.subscribe();
            loop {
                changed.borrow_and_update();
                if tracker.lock().unfinished.is_empty() {
                    break;
                }
                tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => break,
                    _ = changed.changed() => {}
                }
            }
        }
        drop(lanes);
        for t in lane_tasks {
            let _ = t.await;
        }
        stop_checkpointer.cancel();
        let _ = checkpointer.await;
        if finished && !self.cancel.is_cancelled() && tracker.lock().unfinished.is_empty() {
            let seq = tracker.lock().processed().unwrap_or(0);
            let cp = Checkpoint {
                seq,
                shard_done: true,
            };
            for _ in 0..CHECKPOINT_ATTEMPTS {
                if self.save(cp).await {
                    self.update_shard(|s| {
                        s.done = true;
                        s.checkpoint_seq = Some(seq);
                    });
                    break;
                }
                if !self.sleep(SHORT_RETRY).await {
                    break;
                }
            }
        }
        tracing::debug!(uuid = %self.cfg.uuid, shard = %shard_id, "shard worker stopped");
    }

    /// Where LATEST starts: just after the shard's newest record (at its start when it has
    /// none). A source that cannot say is asked again with backoff; guessing would start at
    /// TRIM_HORIZON and deliver the whole shard's history. `None` when cancelled or the
    /// stream is gone.
    async fn latest(&self) -> Option<u128> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self
                .deps
                .source
                .latest_sequence(&self.cfg.stream_arn, &self.shard.shard_id)
                .await
            {
                Ok(Some(s)) => return Some(s + 1),
                Ok(None) => return Some(self.shard.start_seq),
                Err(SourceError::StreamGone(_)) => return None,
                Err(e) => {
                    tracing::warn!(uuid = %self.cfg.uuid, error = %e, "finding the shard's latest record failed");
                    if !self.sleep(backoff).await {
                        return None;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Reads the shard in order and routes records to lanes. True once the shard is closed and
    /// everything in it was read; false when cancelled.
    async fn read_loop(
        &self,
        mut next: u128,
        tracker: &Tracker,
        lanes: &[mpsc::Sender<LaneMsg>],
    ) -> bool {
        let shard_id = &self.shard.shard_id;
        // Enough for a full batch in every lane, by count and by bytes: an invoke carries at
        // most 6 MB, so a read of huge items holds a payload per lane, not `limit` of them.
        let limit = (self.cfg.batch_size * lanes.len()).clamp(MIN_READ, 10_000);
        let max_bytes = (MAX_PAYLOAD * lanes.len()) as u64;
        loop {
            if self.cancel.is_cancelled() {
                return false;
            }
            let Some(records) = self.read(next, limit, max_bytes).await else {
                return false;
            };
            if records.is_empty() {
                if self.shard_finished(next).await {
                    return true;
                }
                tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => return false,
                    _ = self.deps.source.wait_for_records(&self.cfg.stream_arn, shard_id, next) => {}
                }
                continue;
            }
            let mut routed: Vec<Vec<Prepared>> = vec![Vec::new(); lanes.len()];
            let mut filtered = 0u64;
            let polled = records.len() as u64;
            for r in &records {
                next = r.sequence + 1;
                let mut json = Vec::with_capacity(r.size_bytes as usize * 2 + 400);
                r.write_lambda_json(&self.cfg.region, &self.cfg.stream_arn, &mut json);
                if !self.cfg.filters.is_empty() {
                    let keep = serde_json::from_slice::<Value>(&json)
                        .map(|v| self.cfg.filters.matches(&v))
                        .unwrap_or(false);
                    if !keep {
                        filtered += 1;
                        continue;
                    }
                }
                let lane = if lanes.len() == 1 {
                    0
                } else {
                    lane_of(r, lanes.len())
                };
                routed[lane].push(Prepared {
                    seq: r.sequence,
                    arrival_ms: r.arrival_ms,
                    json: Arc::new(json),
                });
            }
            {
                let mut st = tracker.lock();
                for p in routed.iter().flatten() {
                    st.unfinished.insert(p.seq);
                }
                st.read_upto = Some(next - 1);
            }
            tracker.changed.send_modify(|v| *v += 1);
            self.count(|c| {
                c.polled_events += polled;
                c.filtered_out_events += filtered;
            });
            for (lane, batch) in lanes.iter().zip(routed) {
                if batch.is_empty() {
                    continue;
                }
                tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => return false,
                    r = lane.send(LaneMsg::Records(batch)) => if r.is_err() { return false; },
                }
            }
        }
    }

    /// Writes checkpoints behind the lanes, one at a time, whenever the finished prefix grows.
    async fn checkpointer(
        self: Arc<Self>,
        tracker: Arc<Tracker>,
        mut saved: Option<u128>,
        stop: CancellationToken,
    ) {
        let mut changed = tracker.changed.subscribe();
        loop {
            changed.borrow_and_update();
            let processed = tracker.lock().processed();
            self.update_shard(|s| s.processed_seq = processed);
            self.shared.progress.notify_waiters();
            if let Some(p) = processed.filter(|p| saved.is_none_or(|s| *p > s)) {
                let cp = Checkpoint {
                    seq: p,
                    shard_done: false,
                };
                let mut ok = false;
                for attempt in 0..CHECKPOINT_ATTEMPTS {
                    if self.save(cp).await {
                        ok = true;
                        break;
                    }
                    tracing::warn!(uuid = %self.cfg.uuid, attempt, "checkpoint failed");
                    self.deps.clock.sleep(SHORT_RETRY).await;
                }
                if ok {
                    saved = Some(p);
                    self.update_shard(|s| s.checkpoint_seq = Some(p));
                }
                // Progress made while saving is picked up at once.
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => {
                    // A last look: what finished while stopping is kept.
                    let processed = tracker.lock().processed();
                    if let Some(p) = processed.filter(|p| saved.is_none_or(|s| *p > s)) {
                        let cp = Checkpoint { seq: p, shard_done: false };
                        if self.save(cp).await {
                            self.update_shard(|s| s.checkpoint_seq = Some(p));
                        }
                    }
                    return;
                }
                _ = changed.changed() => {}
            }
        }
    }

    async fn read(&self, from: u128, limit: usize, max_bytes: u64) -> Option<Vec<StreamRecord>> {
        loop {
            match self
                .deps
                .source
                .read(
                    &self.cfg.stream_arn,
                    &self.shard.shard_id,
                    from,
                    limit,
                    max_bytes,
                )
                .await
            {
                Ok(r) => return Some(r),
                Err(e) => {
                    tracing::warn!(uuid = %self.cfg.uuid, error = %e, "reading shard failed");
                    if !self.sleep(MAX_BACKOFF).await {
                        return None;
                    }
                }
            }
        }
    }

    /// Whether the shard is closed and holds nothing at or after `next`. Sequence numbers are
    /// shared by all shards of a stream, so a closed shard's end can lie far beyond its last
    /// record: the test is an empty read made after the shard was seen closed (a record
    /// committed before the close is then visible).
    async fn shard_finished(&self, next: u128) -> bool {
        let closed = match self.deps.source.shards(&self.cfg.stream_arn).await {
            Ok(shards) => match shards.iter().find(|s| s.shard_id == self.shard.shard_id) {
                Some(s) => s.end_seq.is_some(),
                None => return true, // trimmed away: nothing left to read
            },
            Err(SourceError::StreamGone(_)) => return true,
            Err(_) => false,
        };
        closed && self.read(next, 1, 1).await.is_some_and(|r| r.is_empty())
    }

    async fn save(&self, cp: Checkpoint) -> bool {
        match self
            .deps
            .checkpoints
            .put(&self.cfg.uuid, &self.shard.shard_id, cp)
            .await
        {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(uuid = %self.cfg.uuid, error = %e, "checkpoint failed");
                false
            }
        }
    }

    fn with_status(&self, f: impl FnOnce(&mut MappingStatus)) {
        let mut map = self.shared.status.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(self.cfg.uuid.clone()).or_default());
    }

    fn update_shard(&self, f: impl FnOnce(&mut ShardStatus)) {
        self.with_status(|m| f(m.shards.entry(self.shard.shard_id.clone()).or_default()));
    }

    fn count(&self, f: impl FnOnce(&mut Counters)) {
        self.with_status(|m| f(&mut m.counters));
    }

    fn set_result(&self, r: &str) {
        self.with_status(|m| m.last_processing_result = Some(r.to_owned()));
    }

    /// Sleeps for `d` on the server clock (less when it is moved by hand); false when
    /// cancelled first.
    async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => false,
            _ = self.deps.clock.sleep(d) => true,
        }
    }

    /// Waits until the server clock reaches `until_ms` (it may be moved by hand), a lane
    /// message arrives, or cancellation. Returns the message, if one came.
    async fn wait_clock_or_msg(&self, until_ms: i64, rx: &mut mpsc::Receiver<LaneMsg>) -> Waited {
        // The deadline first: records that keep arriving must not hold a window open.
        if self.deps.clock.now_millis() >= until_ms {
            return Waited::Time;
        }
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Waited::Cancelled,
            m = rx.recv() => match m {
                Some(m) => Waited::Msg(m),
                None => Waited::Closed,
            },
            _ = self.deps.clock.sleep_until(until_ms) => Waited::Time,
        }
    }
}

enum Waited {
    Time,
    Msg(LaneMsg),
    Closed,
    Cancelled,
}

/// The lane of a record: a hash of its item key, so one item's records share a lane.
fn lane_of(r: &StreamRecord, lanes: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (name, value) in &r.keys {
        name.hash(&mut h);
        serde_json::to_string(value)
            .unwrap_or_default()
            .hash(&mut h);
    }
    (h.finish() % lanes as u64) as usize
}

/// An open tumbling window of a lane.
struct Window {
    start_ms: i64,
    end_ms: i64,
    state: Value,
    /// Records delivered in this window; finished (checkpointed) by the final invoke.
    seqs: Vec<u128>,
}

/// Why a set of records is being reported to the on-failure destination.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

/// Records being retried together: a batch, or a part of one after a bisect or a partial
/// failure.
struct Sub {
    records: Vec<Prepared>,
    /// Failed invocations counted toward MaximumRetryAttempts.
    attempts: i64,
    /// Invocations that included these records.
    invokes: u64,
}

/// How an invocation that reached the function ended.
enum Response {
    Success(Option<Value>),
    /// Checkpoint before the record at this index and retry from it.
    PartialFailure(usize),
    /// The whole batch failed; `Some("Unhandled")` for a function error, `None` for a
    /// response that reports failure without one (bad partial response, missing state).
    Failed(Option<String>),
}

struct Lane {
    w: Arc<ShardWorker>,
    tracker: Arc<Tracker>,
    rx: mpsc::Receiver<LaneMsg>,
    buf: VecDeque<Prepared>,
    window: Option<Window>,
    shard_ended: bool,
}

impl Lane {
    fn tumbling(&self) -> bool {
        self.w.cfg.tumbling_window_ms > 0
    }

    fn accept(&mut self, m: LaneMsg) {
        match m {
            LaneMsg::Records(r) => self.buf.extend(r),
            LaneMsg::ShardEnd => self.shard_ended = true,
        }
    }

    async fn run(mut self) {
        loop {
            // Wait for records (or, with an open tumbling window, for its end).
            if self.buf.is_empty() {
                if self.shard_ended {
                    if self.window.is_some() && !self.final_invoke(false).await {
                        return;
                    }
                    self.shard_ended = false;
                }
                let got = match self.window.as_ref().map(|w| w.end_ms) {
                    Some(end) => self.w.wait_clock_or_msg(end, &mut self.rx).await,
                    None => tokio::select! {
                        biased;
                        _ = self.w.cancel.cancelled() => Waited::Cancelled,
                        m = self.rx.recv() => m.map_or(Waited::Closed, Waited::Msg),
                    },
                };
                match got {
                    Waited::Msg(m) => self.accept(m),
                    Waited::Time => {
                        if !self.final_invoke(false).await {
                            return;
                        }
                    }
                    Waited::Closed | Waited::Cancelled => return,
                }
                continue;
            }
            // A record of a later window closes the open one first.
            if let (Some(w), Some(first)) = (&self.window, self.buf.front()) {
                if first.arrival_ms >= w.end_ms {
                    if !self.final_invoke(false).await {
                        return;
                    }
                    continue;
                }
            }
            let Some(batch) = self.next_batch().await else {
                return;
            };
            if batch.is_empty() {
                continue;
            }
            if !self.process(batch).await {
                return;
            }
        }
    }

    /// Takes the next batch from the buffer, waiting out the batching window when one is set.
    /// `None` when cancelled.
    async fn next_batch(&mut self) -> Option<Vec<Prepared>> {
        let cfg = self.w.cfg.clone();
        let window_of = |ms: i64| ms - ms.rem_euclid(cfg.tumbling_window_ms.max(1));
        let first_window = self.buf.front().map(|p| window_of(p.arrival_ms));
        let mut batch: Vec<Prepared> = Vec::new();
        let mut bytes = 64; // `{"Records":[]}` and the window fields, roughly
        let deadline = self.w.deps.clock.now_millis() + cfg.max_batching_window_ms.max(0);
        loop {
            while let Some(p) = self.buf.front() {
                if batch.len() >= cfg.batch_size {
                    return Some(batch);
                }
                if self.tumbling() && Some(window_of(p.arrival_ms)) != first_window {
                    return Some(batch);
                }
                if !batch.is_empty() && bytes + p.json.len() + 1 > MAX_PAYLOAD {
                    return Some(batch);
                }
                bytes += p.json.len() + 1;
                batch.push(self.buf.pop_front()?);
            }
            if batch.len() >= cfg.batch_size || cfg.max_batching_window_ms <= 0 {
                return Some(batch);
            }
            match self.w.wait_clock_or_msg(deadline, &mut self.rx).await {
                Waited::Msg(m) => self.accept(m),
                Waited::Time | Waited::Closed => return Some(batch),
                Waited::Cancelled => return None,
            }
            if self.shard_ended {
                // Flush now; the shard has nothing more.
                while let Some(p) = self.buf.front() {
                    if batch.len() >= cfg.batch_size
                        || (self.tumbling() && Some(window_of(p.arrival_ms)) != first_window)
                        || bytes + p.json.len() + 1 > MAX_PAYLOAD
                    {
                        break;
                    }
                    bytes += p.json.len() + 1;
                    batch.push(self.buf.pop_front()?);
                }
                return Some(batch);
            }
        }
    }

    /// Delivers one batch under the failure rules; false when cancelled.
    async fn process(&mut self, batch: Vec<Prepared>) -> bool {
        let w = self.w.clone();
        let cfg = w.cfg.clone();
        if self.tumbling() && self.window.is_none() {
            let tw = cfg.tumbling_window_ms;
            let start = batch[0].arrival_ms - batch[0].arrival_ms.rem_euclid(tw);
            self.window = Some(Window {
                start_ms: start,
                end_ms: start + tw,
                state: json!({}),
                seqs: Vec::new(),
            });
        }
        let mut queue: VecDeque<Sub> = VecDeque::from([Sub {
            records: batch,
            attempts: 0,
            invokes: 0,
        }]);
        let mut backoff = FIRST_BACKOFF;
        while let Some(mut sub) = queue.pop_front() {
            loop {
                // Records past MaximumRecordAgeInSeconds (or the stream's retention, with -1)
                // are dropped before any invocation.
                let max_age = match cfg.max_record_age_ms {
                    a if a < 0 => cfg.stream_retention_ms,
                    a => a.min(cfg.stream_retention_ms),
                };
                if max_age > 0 {
                    let now = w.deps.clock.now_millis();
                    let fresh = sub
                        .records
                        .iter()
                        .position(|p| now - p.arrival_ms <= max_age)
                        .unwrap_or(sub.records.len());
                    if fresh > 0 {
                        let expired: Vec<Prepared> = sub.records.drain(..fresh).collect();
                        if !self
                            .discard(
                                &expired,
                                Condition::RecordAgeExceeded,
                                sub.invokes.max(1),
                                None,
                            )
                            .await
                        {
                            return false;
                        }
                    }
                }
                if sub.records.is_empty() {
                    break;
                }
                let payload = self.event(&sub.records, false, false);
                w.update_shard(|s| s.in_flight += 1);
                let age =
                    w.deps.clock.now_millis() - sub.records.last().map_or(0, |p| p.arrival_ms);
                w.update_shard(|s| s.iterator_age_ms = Some(age));
                w.count(|c| c.iterator_age_ms = Some(age));
                let allowed = w
                    .deps
                    .invoker
                    .may_read(&cfg.function_arn, &cfg.stream_arn)
                    .await;
                let outcome = match allowed {
                    Err(reason) => Err(InvokeError::AccessDenied(reason)),
                    Ok(()) => tokio::select! {
                        biased;
                        _ = w.cancel.cancelled() => {
                            w.update_shard(|s| s.in_flight = s.in_flight.saturating_sub(1));
                            return false;
                        }
                        o = w.deps.invoker.invoke(&cfg.function_arn, payload) => o,
                    },
                };
                w.update_shard(|s| s.in_flight = s.in_flight.saturating_sub(1));
                let n = sub.records.len() as u64;
                match outcome {
                    Ok(out) => {
                        sub.invokes += 1;
                        w.count(|c| {
                            c.invocations += 1;
                            c.invoked_events += n;
                        });
                        match self.interpret(&out, &sub.records) {
                            Response::Success(state) => {
                                w.set_result("OK");
                                w.update_shard(|s| {
                                    s.retries = 0;
                                    s.last_error = None;
                                });
                                self.succeeded(&sub.records, state).await;
                                backoff = FIRST_BACKOFF;
                                break;
                            }
                            Response::PartialFailure(idx) => {
                                w.count(|c| c.failed_invoke_events += n);
                                let done: Vec<Prepared> = sub.records.drain(..idx).collect();
                                self.succeeded(&done, None).await;
                                sub.attempts += 1;
                                w.set_result("PROBLEM: Function call failed");
                                w.update_shard(|s| {
                                    s.retries += 1;
                                    s.last_error = Some("partial batch failure".into());
                                });
                                if self.exhausted(&sub) {
                                    if !self
                                        .discard(
                                            &sub.records,
                                            Condition::RetryAttemptsExhausted,
                                            sub.invokes,
                                            Some((&out, None)),
                                        )
                                        .await
                                    {
                                        return false;
                                    }
                                    break;
                                }
                            }
                            Response::Failed(function_error) => {
                                w.count(|c| {
                                    c.errors += 1;
                                    c.failed_invoke_events += n;
                                });
                                w.set_result("PROBLEM: Function call failed");
                                w.update_shard(|s| {
                                    s.retries += 1;
                                    s.last_error = Some(
                                        String::from_utf8_lossy(&out.payload)
                                            .chars()
                                            .take(512)
                                            .collect(),
                                    );
                                });
                                if cfg.bisect_on_error
                                    && function_error.is_some()
                                    && sub.records.len() > 1
                                {
                                    // Splitting does not consume the retry quota; each half
                                    // counts its own invocations (retries + 1 when reported).
                                    let second = sub.records.split_off(sub.records.len() / 2);
                                    queue.push_front(Sub {
                                        records: second,
                                        attempts: 0,
                                        invokes: 0,
                                    });
                                    queue.push_front(Sub {
                                        records: std::mem::take(&mut sub.records),
                                        attempts: 0,
                                        invokes: 0,
                                    });
                                    break;
                                }
                                sub.attempts += 1;
                                if self.exhausted(&sub) {
                                    if !self
                                        .discard(
                                            &sub.records,
                                            Condition::RetryAttemptsExhausted,
                                            sub.invokes,
                                            Some((&out, function_error.as_deref())),
                                        )
                                        .await
                                    {
                                        return false;
                                    }
                                    break;
                                }
                            }
                        }
                    }
                    Err(InvokeError::Throttled) => {
                        w.count(|c| c.throttles += 1);
                        w.set_result("PROBLEM: Function call throttled");
                        w.update_shard(|s| {
                            s.retries += 1;
                            s.last_error = Some("Rate Exceeded.".into());
                        });
                    }
                    Err(InvokeError::NotFound(arn)) => {
                        w.set_result(&format!(
                            "PROBLEM: Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException)"
                        ));
                        w.update_shard(|s| {
                            s.last_error = Some(format!("Function not found: {arn}"))
                        });
                    }
                    Err(InvokeError::Service(e)) => {
                        tracing::debug!(uuid = %cfg.uuid, error = %e, "invoke not executed; retrying");
                        w.set_result("PROBLEM: Lambda internal error. Please contact Lambda customer support.");
                        w.update_shard(|s| s.last_error = Some(e));
                    }
                    Err(InvokeError::AccessDenied(reason)) => {
                        // Nothing was invoked: the batch waits, whole, until the role may read
                        // the stream again. Moving the server clock retries at once.
                        w.set_result(&format!("PROBLEM: {reason}"));
                        w.update_shard(|s| {
                            s.retries += 1;
                            s.last_error = Some(reason);
                        });
                        if !w.sleep(jitter(backoff)).await {
                            return false;
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
                if !w.sleep(jitter(backoff)).await {
                    return false;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        w.update_shard(|s| s.retries = 0);
        true
    }

    fn exhausted(&self, sub: &Sub) -> bool {
        let max = self.w.cfg.max_retry_attempts;
        max >= 0 && sub.attempts > max
    }

    /// Records that were handled: finished now, or at the final invoke of their window.
    async fn succeeded(&mut self, records: &[Prepared], state: Option<Value>) {
        if let Some(w) = self.window.as_mut() {
            w.seqs.extend(records.iter().map(|p| p.seq));
            if let Some(state) = state {
                w.state = state;
            }
            let too_big = serde_json::to_vec(&w.state).map_or(0, |v| v.len()) > MAX_WINDOW_STATE;
            if too_big {
                let _ = self.final_invoke(true).await;
            }
        } else {
            self.tracker.finish(records.iter().map(|p| p.seq));
        }
    }

    /// Reads the function's answer under the mapping's response rules.
    fn interpret(&self, out: &InvokeOutcome, records: &[Prepared]) -> Response {
        if out.function_error.is_some() {
            return Response::Failed(out.function_error.clone());
        }
        let cfg = &self.w.cfg;
        if !cfg.report_batch_item_failures && !self.tumbling() {
            return Response::Success(None);
        }
        let body: Value = serde_json::from_slice(&out.payload).unwrap_or(Value::Null);
        let mut state = None;
        if self.tumbling() {
            match body.get("state") {
                Some(s) if s.is_object() => state = Some(s.clone()),
                _ => return Response::Failed(None),
            }
        }
        if !cfg.report_batch_item_failures {
            return Response::Success(state);
        }
        let failures = match &body {
            Value::Object(m) => match m.get("batchItemFailures") {
                None | Some(Value::Null) => return Response::Success(state),
                Some(Value::Array(a)) => a.clone(),
                Some(_) => return Response::Failed(None),
            },
            // null, [], "" and other non-objects count as complete success.
            _ => return Response::Success(state),
        };
        if failures.is_empty() {
            return Response::Success(state);
        }
        let mut lowest: Option<usize> = None;
        for f in &failures {
            let id = match f.get("itemIdentifier") {
                Some(Value::String(s)) if !s.is_empty() => s,
                _ => return Response::Failed(None),
            };
            let Ok(seq) = id.parse::<u128>() else {
                return Response::Failed(None);
            };
            match records.iter().position(|p| p.seq == seq) {
                Some(i) => lowest = Some(lowest.map_or(i, |l: usize| l.min(i))),
                None => return Response::Failed(None),
            }
        }
        match lowest {
            Some(i) => Response::PartialFailure(i),
            None => Response::Success(state),
        }
    }

    /// The event for `records`: `{"Records": [...]}`, plus the window fields with tumbling
    /// windows.
    fn event(&self, records: &[Prepared], is_final: bool, terminated_early: bool) -> Vec<u8> {
        let cfg = &self.w.cfg;
        let mut payload =
            Vec::with_capacity(records.iter().map(|p| p.json.len() + 1).sum::<usize>() + 400);
        payload.extend_from_slice(b"{\"Records\":[");
        for (i, p) in records.iter().enumerate() {
            if i > 0 {
                payload.push(b',');
            }
            payload.extend_from_slice(&p.json);
        }
        payload.push(b']');
        if let Some(w) = &self.window {
            let extra = json!({
                "window": {"start": iso_seconds(w.start_ms), "end": iso_seconds(w.end_ms)},
                "state": w.state,
                "shardId": self.w.shard.shard_id,
                "eventSourceARN": cfg.stream_arn,
                "isFinalInvokeForWindow": is_final,
                "isWindowTerminatedEarly": terminated_early,
            });
            if let Value::Object(m) = extra {
                for (k, v) in m {
                    payload.push(b',');
                    payload.extend_from_slice(
                        serde_json::to_string(&k).unwrap_or_default().as_bytes(),
                    );
                    payload.push(b':');
                    payload.extend_from_slice(
                        serde_json::to_string(&v).unwrap_or_default().as_bytes(),
                    );
                }
            }
        }
        payload.push(b'}');
        payload
    }

    /// Ends the open tumbling window with its final invoke (no records, the final state);
    /// retried until it succeeds. Then the window's records are finished. False when cancelled.
    async fn final_invoke(&mut self, terminated_early: bool) -> bool {
        let w = self.w.clone();
        let mut backoff = FIRST_BACKOFF;
        loop {
            if self.window.is_none() {
                return true;
            }
            let payload = self.event(&[], true, terminated_early);
            let outcome = tokio::select! {
                biased;
                _ = w.cancel.cancelled() => return false,
                o = w.deps.invoker.invoke(&w.cfg.function_arn, payload) => o,
            };
            match outcome {
                Ok(out) if out.function_error.is_none() => {
                    w.count(|c| c.invocations += 1);
                    w.set_result("OK");
                    if let Some(win) = self.window.take() {
                        self.tracker.finish(win.seqs);
                    }
                    return true;
                }
                Ok(_) => {
                    w.count(|c| {
                        c.invocations += 1;
                        c.errors += 1;
                    });
                    w.set_result("PROBLEM: Function call failed");
                }
                Err(InvokeError::Throttled) => w.count(|c| c.throttles += 1),
                Err(_) => {}
            }
            if !w.sleep(jitter(backoff)).await {
                return false;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Skips records whose retries or age ran out: they are reported to the on-failure
    /// destination, if any, and finished so the shard moves on. The checkpoint passes them
    /// only once their invocation record is delivered: while the destination refuses, the
    /// shard waits and delivery is retried with backoff, until the records pass the stream's
    /// retention (then they are gone from the stream anyway). False when cancelled first.
    async fn discard(
        &mut self,
        records: &[Prepared],
        condition: Condition,
        invokes: u64,
        response: Option<(&InvokeOutcome, Option<&str>)>,
    ) -> bool {
        if records.is_empty() {
            return true;
        }
        let w = self.w.clone();
        let cfg = &w.cfg;
        let n = records.len() as u64;
        tracing::warn!(uuid = %cfg.uuid, shard = %w.shard.shard_id, records = n,
            condition = condition_name(condition), "discarding records");
        let Some(dest) = &cfg.on_failure else {
            w.count(|c| c.dropped_events += n);
            self.tracker.finish(records.iter().map(|p| p.seq));
            return true;
        };
        {
            let now = w.deps.clock.now_millis();
            let first = &records[0];
            let last = &records[records.len() - 1];
            // Built in AWS's key order: requestContext, responseContext, version, timestamp,
            // DDBStreamBatchInfo.
            let mut parts: Vec<(&str, Value)> = vec![(
                "requestContext",
                json!({
                    "requestId": response
                        .map(|(o, _)| o.request_id.clone())
                        .filter(|r| !r.is_empty())
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    "functionArn": cfg.function_arn,
                    "condition": condition_name(condition),
                    "approximateInvokeCount": invokes.max(1),
                }),
            )];
            if condition == Condition::RetryAttemptsExhausted {
                if let Some((out, function_error)) = response {
                    parts.push((
                        "responseContext",
                        json!({
                            "statusCode": 200,
                            "executedVersion": if out.executed_version.is_empty() { "$LATEST" } else { &out.executed_version },
                            "functionError": function_error,
                        }),
                    ));
                }
            }
            parts.push(("version", json!("1.0")));
            parts.push(("timestamp", json!(iso_millis(now))));
            parts.push((
                "DDBStreamBatchInfo",
                json!({
                    "shardId": w.shard.shard_id,
                    "startSequenceNumber": first.seq.to_string(),
                    "endSequenceNumber": last.seq.to_string(),
                    "approximateArrivalOfFirstRecord": iso_seconds(first.arrival_ms),
                    "approximateArrivalOfLastRecord": iso_seconds(last.arrival_ms),
                    "batchSize": records.len(),
                    "streamArn": cfg.stream_arn,
                }),
            ));
            let record = ordered_object(&parts);
            let event = self.event(records, false, false);
            let mut backoff = FIRST_BACKOFF;
            loop {
                let outcome = tokio::select! {
                    biased;
                    _ = w.cancel.cancelled() => return false,
                    r = w.deps.destinations.deliver(dest, &cfg.uuid, &w.shard.shard_id, &record, &event) => r,
                };
                match outcome {
                    Ok(()) => {
                        w.count(|c| c.destination_delivered_events += n);
                        w.update_shard(|s| s.last_error = None);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(uuid = %cfg.uuid, destination = %dest, error = %e,
                            "on-failure delivery failed");
                        w.count(|c| c.destination_delivery_failures += 1);
                        w.set_result("PROBLEM: Destination delivery failed");
                        w.update_shard(|s| {
                            s.last_error = Some(format!(
                                "on-failure destination {dest} did not take the invocation record: {e}"
                            ))
                        });
                        let now = w.deps.clock.now_millis();
                        if now - first.arrival_ms > cfg.stream_retention_ms {
                            tracing::warn!(uuid = %cfg.uuid, destination = %dest,
                                "records passed the stream's retention before their invocation record was delivered");
                            w.count(|c| c.dropped_events += n);
                            break;
                        }
                        if !w.sleep(jitter(backoff)).await {
                            return false;
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
        self.tracker.finish(records.iter().map(|p| p.seq));
        true
    }
}

/// A JSON object with its keys in the given order (serde_json's map would sort them).
fn ordered_object(parts: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in parts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).unwrap_or_default());
        out.push(':');
        out.push_str(&serde_json::to_string(v).unwrap_or_default());
    }
    out.push('}');
    out
}

fn condition_name(c: Condition) -> &'static str {
    match c {
        Condition::RetryAttemptsExhausted => "RetryAttemptsExhausted",
        Condition::RecordAgeExceeded => "RecordAgeExceeded",
    }
}

/// `2019-11-14T00:13:19Z`: seconds precision, as DDBStreamBatchInfo and windows carry times.
fn iso_seconds(ms: i64) -> String {
    let s = iso_millis(ms - ms.rem_euclid(1000));
    match s.strip_suffix(".000Z") {
        Some(base) => format!("{base}Z"),
        None => s,
    }
}

/// Full jitter on the upper half: between d/2 and d.
fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    half + Duration::from_micros(rand::random::<u64>() % (half.as_micros() as u64 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_seconds_drops_millis() {
        assert_eq!(iso_seconds(1_573_690_399_717), "2019-11-14T00:13:19Z");
        assert_eq!(iso_seconds(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn processed_is_below_the_lowest_unfinished() {
        let mut st = TrackState {
            unfinished: BTreeSet::new(),
            read_upto: Some(10),
        };
        assert_eq!(st.processed(), Some(10));
        st.unfinished.extend([7, 9]);
        assert_eq!(st.processed(), Some(6));
        st.unfinished.remove(&7);
        assert_eq!(st.processed(), Some(8));
    }
}

//! Supervisors (one per mapping) and shard workers (one per shard being read).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tributary_model::stream::StreamRecord;

use crate::seams::{Checkpoint, InvokeError, ShardInfo, SourceError};
use crate::{Deps, MappingConfig, MappingStatus, StartingPosition};

type StatusMap = Arc<Mutex<HashMap<String, MappingStatus>>>;

/// Follows the stream's shards: starts a worker for every unfinished shard whose parent is
/// finished, and picks up new shards as soon as the source reports them.
pub(crate) async fn supervise(
    cfg: MappingConfig,
    deps: Deps,
    status: StatusMap,
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
            let worker = ShardWorker {
                cfg: cfg.clone(),
                deps: deps.clone(),
                status: status.clone(),
                shard: shard.clone(),
                cancel: cancel.clone(),
            };
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

struct ShardWorker {
    cfg: Arc<MappingConfig>,
    deps: Deps,
    status: StatusMap,
    shard: ShardInfo,
    cancel: CancellationToken,
}

/// First retry delay after a failed invocation; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Tries of one checkpoint write before it is left to a later one (or a restart).
const CHECKPOINT_ATTEMPTS: u32 = 20;

impl ShardWorker {
    async fn run(self) {
        let mut pending = None;
        self.run_until_stopped(&mut pending).await;
        // Whatever the reason for stopping, the last checkpoint is made durable first.
        if let Some(h) = pending.take() {
            let _ = h.await;
        }
    }

    /// Starts writing a checkpoint in the background once the previous one is durable: the next
    /// batch is read and invoked while this one commits, and checkpoints stay in order.
    async fn checkpoint_behind(&self, pending: &mut Option<JoinHandle<()>>, cp: Checkpoint) {
        if let Some(h) = pending.take() {
            let _ = h.await;
        }
        let store = self.deps.checkpoints.clone();
        let (uuid, shard) = (self.cfg.uuid.clone(), self.shard.shard_id.clone());
        *pending = Some(tokio::spawn(async move {
            for attempt in 0..CHECKPOINT_ATTEMPTS {
                match store.put(&uuid, &shard, cp).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(%uuid, %shard, attempt, error = %e, "checkpoint failed");
                        tokio::time::sleep(FIRST_BACKOFF).await;
                    }
                }
            }
            // The batch will be delivered again after a restart: at least once, never lost.
            tracing::error!(%uuid, %shard, "giving up on a checkpoint");
        }));
    }

    async fn run_until_stopped(&self, pending: &mut Option<JoinHandle<()>>) {
        let shard_id = self.shard.shard_id.clone();
        let mut next = match self.deps.checkpoints.get(&self.cfg.uuid, &shard_id) {
            Some(cp) => cp.seq + 1,
            // Positions are "the next sequence number wanted"; every record of a shard has a
            // sequence number ≥ its StartingSequenceNumber, so reading starts there.
            None => match self.cfg.starting_position {
                StartingPosition::TrimHorizon => self.shard.start_seq,
                StartingPosition::Latest => {
                    match self
                        .deps
                        .source
                        .latest_sequence(&self.cfg.stream_arn, &shard_id)
                        .await
                    {
                        Ok(Some(s)) => s + 1,
                        _ => self.shard.start_seq,
                    }
                }
            },
        };
        tracing::debug!(uuid = %self.cfg.uuid, shard = %shard_id, next, "shard worker started");
        loop {
            if self.cancel.is_cancelled() {
                return;
            }
            let batch = match self.next_batch(next).await {
                Some(b) => b,
                None => return,
            };
            if batch.is_empty() {
                if self.shard_finished(next).await {
                    if let Some(h) = pending.take() {
                        let _ = h.await;
                    }
                    let cp = Checkpoint {
                        seq: next.saturating_sub(1),
                        shard_done: true,
                    };
                    if self.save(cp).await {
                        return;
                    }
                    continue;
                }
                tokio::select! {
                biased;
                        _ = self.cancel.cancelled() => return,
                        _ = self.deps.source.wait_for_records(&self.cfg.stream_arn, &shard_id, next) => {}
                    }
                continue;
            }
            let last = batch.last().map(|r| r.sequence).unwrap_or(next);
            if !self.deliver(&batch).await {
                return; // cancelled
            }
            // The batch is finished (delivered, or discarded once retries ran out).
            self.checkpoint_behind(
                pending,
                Checkpoint {
                    seq: last,
                    shard_done: false,
                },
            )
            .await;
            next = last + 1;
        }
    }

    /// Reads the next batch: up to BatchSize records, waiting out the batching window when one
    /// is set. `None` when cancelled.
    async fn next_batch(&self, from: u128) -> Option<Vec<StreamRecord>> {
        let mut batch = self.read(from, self.cfg.batch_size).await?;
        if batch.is_empty() || self.cfg.max_batching_window_ms <= 0 {
            return Some(batch);
        }
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(self.cfg.max_batching_window_ms as u64);
        while batch.len() < self.cfg.batch_size {
            let after = batch.last().map(|r| r.sequence + 1).unwrap_or(from);
            tokio::select! {
            biased;
                _ = self.cancel.cancelled() => return None,
                _ = tokio::time::sleep_until(deadline) => break,
                _ = self.deps.source.wait_for_records(&self.cfg.stream_arn, &self.shard.shard_id, after) => {}
            }
            let more = self.read(after, self.cfg.batch_size - batch.len()).await?;
            batch.extend(more);
        }
        Some(batch)
    }

    async fn read(&self, from: u128, limit: usize) -> Option<Vec<StreamRecord>> {
        loop {
            match self
                .deps
                .source
                .read(&self.cfg.stream_arn, &self.shard.shard_id, from, limit)
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

    /// Whether the shard is closed and `next` is past its end.
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
        closed && self.read(next, 1).await.is_some_and(|r| r.is_empty())
    }

    /// Invokes the function with the batch until it succeeds or retries run out.
    /// Returns false if cancelled before the batch was finished.
    async fn deliver(&self, batch: &[StreamRecord]) -> bool {
        // The event is written straight into bytes: no intermediate JSON values.
        let mut payload =
            Vec::with_capacity(batch.iter().map(|r| r.size_bytes as usize * 2 + 400).sum());
        payload.extend_from_slice(b"{\"Records\":[");
        for (i, r) in batch.iter().enumerate() {
            if i > 0 {
                payload.push(b',');
            }
            r.write_lambda_json(&self.cfg.region, &self.cfg.stream_arn, &mut payload);
        }
        payload.extend_from_slice(b"]}");
        let mut failures: i64 = 0;
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self
                .deps
                .invoker
                .invoke(&self.cfg.function_arn, payload.clone())
                .await
            {
                Ok(out) if out.function_error.is_none() => {
                    self.set_result("OK");
                    return true;
                }
                Ok(_) => {
                    failures += 1;
                    self.set_result("PROBLEM: Function call failed");
                    if self.cfg.max_retry_attempts >= 0 && failures > self.cfg.max_retry_attempts {
                        tracing::warn!(uuid = %self.cfg.uuid, records = batch.len(), "retries exhausted; discarding batch");
                        return true;
                    }
                }
                Err(InvokeError::NotFound(arn)) => {
                    self.set_result(&format!(
                        "PROBLEM: Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException)"
                    ));
                }
                Err(e) => {
                    tracing::debug!(uuid = %self.cfg.uuid, error = %e, "invoke not executed; retrying");
                }
            }
            if !self.sleep(jitter(backoff)).await {
                return false;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
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

    fn set_result(&self, r: &str) {
        let mut map = self.status.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(self.cfg.uuid.clone())
            .or_default()
            .last_processing_result = Some(r.to_owned());
    }

    /// Sleeps unless cancelled first; false when cancelled.
    async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }
}

/// Full jitter on the upper half: between d/2 and d.
fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    half + Duration::from_micros(rand::random::<u64>() % (half.as_micros() as u64 + 1))
}

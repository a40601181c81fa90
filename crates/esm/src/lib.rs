//! The event source mapping engine: for each enabled mapping a supervisor that follows the
//! stream's shards (parents before children), and for each shard a worker that reads records,
//! batches them, invokes the function synchronously, retries on failure and checkpoints after
//! success. The engine sees only the traits of [`seams`], never a concrete backend.

pub mod filter;
pub mod seams;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use seams::{
    Checkpoint, CheckpointStore, FailureDestination, InvokeError, InvokeOutcome, Invoker,
    ShardInfo, SourceError, StreamSource,
};
use tributary_model::Clock;

/// Where a mapping starts in a shard it has no checkpoint for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
}

/// What the engine needs to know about one mapping.
#[derive(Debug, Clone)]
pub struct MappingConfig {
    pub uuid: String,
    /// The function as the mapping names it (may carry a qualifier).
    pub function_arn: String,
    pub stream_arn: String,
    pub region: String,
    pub batch_size: usize,
    pub max_batching_window_ms: i64,
    pub starting_position: StartingPosition,
    /// -1 = retry until the record expires.
    pub max_retry_attempts: i64,
    /// Records older than this (by stream arrival, server clock) are discarded; -1 = never
    /// (until the stream's retention trims them).
    pub max_record_age_ms: i64,
    /// The stream's retention: records older than this are gone whatever the mapping says.
    pub stream_retention_ms: i64,
    /// Split a batch that failed with a function error in two and retry the halves.
    pub bisect_on_error: bool,
    /// `FunctionResponseTypes: ["ReportBatchItemFailures"]`.
    pub report_batch_item_failures: bool,
    /// Concurrent batches per shard (1..10), routed by item key.
    pub parallelization_factor: usize,
    /// Tumbling window length; 0 = off.
    pub tumbling_window_ms: i64,
    /// Records that match no filter are skipped (empty = deliver everything).
    pub filters: Arc<filter::FilterSet>,
    /// Where discarded batches are reported.
    pub on_failure: Option<String>,
}

/// What a mapping has done, for `LastProcessingResult`, the shards view, drains and metrics.
#[derive(Debug, Clone, Default)]
pub struct MappingStatus {
    pub last_processing_result: Option<String>,
    pub shards: std::collections::BTreeMap<String, ShardStatus>,
    pub counters: Counters,
}

/// One shard as a mapping sees it.
#[derive(Debug, Clone, Default)]
pub struct ShardStatus {
    /// Every record up to this sequence number is delivered, filtered out or discarded.
    pub processed_seq: Option<u128>,
    /// The last durable checkpoint.
    pub checkpoint_seq: Option<u128>,
    /// The shard is closed and finished.
    pub done: bool,
    /// Batches being invoked now.
    pub in_flight: usize,
    /// Failed invocations of the current batch (function errors and throttles).
    pub retries: u64,
    pub last_error: Option<String>,
    /// Age of the last record of the last batch handed to the function, ms (IteratorAge).
    pub iterator_age_ms: Option<i64>,
}

/// Cumulative counts with the meanings of AWS's Lambda metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub invocations: u64,
    pub errors: u64,
    pub throttles: u64,
    pub polled_events: u64,
    pub filtered_out_events: u64,
    pub invoked_events: u64,
    pub failed_invoke_events: u64,
    /// Records discarded and lost: no destination, or their failure record could not be
    /// delivered before the stream's retention passed (DroppedEventCount).
    pub dropped_events: u64,
    pub destination_delivered_events: u64,
    /// Refused tries to deliver a failure record (DestinationDeliveryFailures).
    pub destination_delivery_failures: u64,
    /// IteratorAge of the last batch, ms.
    pub iterator_age_ms: Option<i64>,
}

/// The shared parts every supervisor and worker uses.
#[derive(Clone)]
pub struct Deps {
    pub source: Arc<dyn StreamSource>,
    pub invoker: Arc<dyn Invoker>,
    pub checkpoints: Arc<dyn CheckpointStore>,
    pub destinations: Arc<dyn FailureDestination>,
    /// The server clock: batching windows, tumbling windows and record age follow it, and
    /// every delay of the engine (backoff, retries) waits on it.
    pub clock: Arc<dyn Clock>,
}

struct Running {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// Runs every enabled mapping.
pub struct Engine {
    deps: Deps,
    running: Mutex<HashMap<String, Running>>,
    status: Arc<Mutex<HashMap<String, MappingStatus>>>,
    /// Notified whenever a mapping makes progress (drains wait on it).
    progress: Arc<tokio::sync::Notify>,
    shutdown: CancellationToken,
}

impl Engine {
    pub fn new(deps: Deps) -> Arc<Engine> {
        Arc::new(Engine {
            deps,
            running: Mutex::new(HashMap::new()),
            status: Arc::new(Mutex::new(HashMap::new())),
            progress: Arc::new(tokio::sync::Notify::new()),
            shutdown: CancellationToken::new(),
        })
    }

    /// Starts (or restarts with a new configuration) the supervisor of a mapping.
    pub async fn start(&self, cfg: MappingConfig) {
        self.stop(&cfg.uuid).await;
        let cancel = self.shutdown.child_token();
        let uuid = cfg.uuid.clone();
        let task = tokio::spawn(worker::supervise(
            cfg,
            self.deps.clone(),
            worker::Shared {
                status: self.status.clone(),
                progress: self.progress.clone(),
            },
            cancel.clone(),
        ));
        self.lock_running().insert(uuid, Running { cancel, task });
    }

    /// Stops a mapping's supervisor and workers and waits for them; checkpoints stay.
    pub async fn stop(&self, uuid: &str) {
        let running = self.lock_running().remove(uuid);
        if let Some(r) = running {
            r.cancel.cancel();
            let _ = r.task.await;
        }
    }

    /// Forgets a deleted mapping's status.
    pub fn forget(&self, uuid: &str) {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uuid);
    }

    pub fn status(&self, uuid: &str) -> MappingStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(uuid)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the mapping's supervisor is running.
    pub fn is_running(&self, uuid: &str) -> bool {
        self.lock_running().contains_key(uuid)
    }

    /// Waits until `check` holds for the mapping's status, re-checking whenever any mapping makes
    /// progress; false after `timeout`.
    pub async fn wait_until(
        &self,
        uuid: &str,
        timeout: std::time::Duration,
        check: impl Fn(&MappingStatus) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if check(&self.status(uuid)) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&self.status(uuid));
            }
        }
    }

    /// Stops every mapping and waits for in-flight invocations to finish or be abandoned.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        let all: Vec<Running> = self.lock_running().drain().map(|(_, r)| r).collect();
        for r in all {
            let _ = r.task.await;
        }
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

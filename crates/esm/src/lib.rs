//! The event source mapping engine: for each enabled mapping a supervisor that follows the
//! stream's shards (parents before children), and for each shard a worker that reads records,
//! batches them, invokes the function synchronously, retries on failure and checkpoints after
//! success. The engine sees only the traits of [`seams`], never a concrete backend.

pub mod seams;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use seams::{
    Checkpoint, CheckpointStore, InvokeError, InvokeOutcome, Invoker, ShardInfo, SourceError,
    StreamSource,
};

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
}

/// The last outcome of a mapping, as `LastProcessingResult` reports it.
#[derive(Debug, Clone, Default)]
pub struct MappingStatus {
    pub last_processing_result: Option<String>,
}

/// The shared parts every supervisor and worker uses.
#[derive(Clone)]
pub struct Deps {
    pub source: Arc<dyn StreamSource>,
    pub invoker: Arc<dyn Invoker>,
    pub checkpoints: Arc<dyn CheckpointStore>,
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
    shutdown: CancellationToken,
}

impl Engine {
    pub fn new(deps: Deps) -> Arc<Engine> {
        Arc::new(Engine {
            deps,
            running: Mutex::new(HashMap::new()),
            status: Arc::new(Mutex::new(HashMap::new())),
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
            self.status.clone(),
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

//! The embedded implementations of the ESM engine's seams: the store as `StreamSource` and
//! `CheckpointStore`, the local function host as `Invoker`.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use serde_json::json;
use tributary_esm::{
    Checkpoint, CheckpointStore, FailureDestination, InvokeError, InvokeOutcome, Invoker,
    ShardInfo, SourceError, StreamSource,
};
use tributary_model::stream::StreamRecord;
use tributary_store::{ShardMeta, Store};

use crate::mappings::CHECKPOINT_KIND;
use crate::Lambda;

/// Reads streams straight from the store; waits are woken by commits, never by polling.
pub struct StoreSource {
    pub store: Store,
}

impl StoreSource {
    fn shard(&self, arn: &str, shard_id: &str) -> Result<ShardMeta, SourceError> {
        let cat = self.store.catalog();
        let stream = cat
            .streams
            .get(arn)
            .ok_or_else(|| SourceError::StreamGone(arn.to_owned()))?;
        stream
            .shard(shard_id)
            .cloned()
            .ok_or_else(|| SourceError::Failed(format!("shard {shard_id} not found")))
    }
}

#[async_trait]
impl StreamSource for StoreSource {
    async fn shards(&self, stream_arn: &str) -> Result<Vec<ShardInfo>, SourceError> {
        let cat = self.store.catalog();
        let stream = cat
            .streams
            .get(stream_arn)
            .ok_or_else(|| SourceError::StreamGone(stream_arn.to_owned()))?;
        Ok(stream
            .shards
            .iter()
            .map(|s| ShardInfo {
                shard_id: s.shard_id.clone(),
                parent_shard_id: s.parent_shard_id.clone(),
                start_seq: s.start_seq,
                end_seq: s.end_seq,
            })
            .collect())
    }

    async fn read(
        &self,
        stream_arn: &str,
        shard_id: &str,
        from_seq: u128,
        limit: usize,
        max_bytes: u64,
    ) -> Result<Vec<StreamRecord>, SourceError> {
        let shard = self.shard(stream_arn, shard_id)?;
        let mut recs = self
            .store
            .read_records(shard.iid, from_seq, limit, max_bytes)
            .map_err(|e| SourceError::Failed(e.to_string()))?;
        if let Some(end) = shard.end_seq {
            recs.retain(|r| r.sequence <= end);
        }
        Ok(recs)
    }

    async fn latest_sequence(
        &self,
        stream_arn: &str,
        shard_id: &str,
    ) -> Result<Option<u128>, SourceError> {
        let shard = self.shard(stream_arn, shard_id)?;
        self.store
            .last_sequence(shard.iid)
            .map_err(|e| SourceError::Failed(e.to_string()))
    }

    async fn wait_for_records(&self, stream_arn: &str, shard_id: &str, from_seq: u128) {
        let Ok(shard) = self.shard(stream_arn, shard_id) else {
            return;
        };
        if shard.end_seq.is_some() {
            return;
        }
        let mut rx = self.store.watch_shard(shard.iid);
        if *rx.borrow_and_update() >= from_seq {
            return;
        }
        // Re-check after subscribing: a commit between the caller's read and the subscription
        // has already moved the watched value (the writer publishes after every commit).
        let _ = rx.changed().await;
    }

    async fn wait_for_shards(&self, _stream_arn: &str, since: u64) -> u64 {
        let mut rx = self.store.watch_catalog();
        loop {
            let v = *rx.borrow_and_update();
            if v != since {
                return v;
            }
            if rx.changed().await.is_err() {
                // The store is closing; nothing will change any more.
                std::future::pending::<()>().await;
            }
        }
    }

    fn shards_version(&self) -> u64 {
        *self.store.watch_catalog().borrow()
    }
}

/// Checkpoints as store documents `ckpt/<uuid>/<shardId>`.
pub struct StoreCheckpoints {
    pub store: Store,
}

#[async_trait]
impl CheckpointStore for StoreCheckpoints {
    fn get(&self, uuid: &str, shard_id: &str) -> Option<Checkpoint> {
        let cat = self.store.catalog();
        let v = cat.doc(CHECKPOINT_KIND, &format!("{uuid}/{shard_id}"))?;
        Some(Checkpoint {
            seq: v.get("seq")?.as_str()?.parse().ok()?,
            shard_done: v.get("done").and_then(|d| d.as_bool()).unwrap_or(false),
        })
    }

    async fn put(&self, uuid: &str, shard_id: &str, cp: Checkpoint) -> Result<(), String> {
        let id = format!("{uuid}/{shard_id}");
        let uuid = uuid.to_owned();
        self.store
            .write(move |tx| {
                // A mapping deleted meanwhile must not get its checkpoints back.
                if tx.catalog().doc(crate::mappings::ESM_KIND, &uuid).is_none() {
                    return Ok(());
                }
                tx.put_doc(
                    CHECKPOINT_KIND,
                    &id,
                    json!({"seq": cp.seq.to_string(), "done": cp.shard_done}),
                )
            })
            .await
            .map_err(|e| e.to_string())
    }
}

/// Invokes local functions through the app (resolving the mapping's function reference).
pub struct LocalInvoker {
    pub app: Weak<Lambda>,
}

#[async_trait]
impl Invoker for LocalInvoker {
    async fn invoke(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
    ) -> Result<InvokeOutcome, InvokeError> {
        let app: Arc<Lambda> = self
            .app
            .upgrade()
            .ok_or_else(|| InvokeError::Service("shutting down".into()))?;
        // Any qualifier (version, alias) resolves as Invoke resolves it; a throttle stays
        // distinguishable so the mapping can treat it as AWS does (spec §3.2).
        let out = crate::invoke_for_mapping(&app, function_arn, payload)
            .await
            .map_err(|e| match e.code {
                "TooManyRequestsException" => InvokeError::Throttled,
                "ResourceNotFoundException" => InvokeError::NotFound(function_arn.to_owned()),
                _ => InvokeError::Service(e.message),
            })?;
        Ok(InvokeOutcome {
            payload: out.payload.to_vec(),
            function_error: out.function_error,
            request_id: out.request_id,
            executed_version: out.executed_version,
        })
    }

    /// The mapping reads its stream as its function's execution role.
    async fn may_read(&self, function_arn: &str, source_arn: &str) -> Result<(), String> {
        let Some(app) = self.app.upgrade() else {
            return Ok(());
        };
        let name = tributary_model::arn::parse_function_ref(function_arn)
            .map_or_else(|| function_arn.to_owned(), |r| r.name.to_owned());
        crate::roles::may_read(&app, &name, source_arn)
    }
}

/// On-failure destinations: the server's own SQS queues, SNS topics and S3 buckets.
pub struct LocalDestinations {
    pub app: Weak<Lambda>,
}

#[async_trait]
impl FailureDestination for LocalDestinations {
    async fn deliver(
        &self,
        destination_arn: &str,
        mapping_uuid: &str,
        shard_id: &str,
        record: &str,
        event: &[u8],
    ) -> Result<(), String> {
        let app: Arc<Lambda> = self
            .app
            .upgrade()
            .ok_or_else(|| "shutting down".to_owned())?;
        crate::mappings::deliver_failure(
            &app,
            destination_arn,
            mapping_uuid,
            shard_id,
            record,
            event,
        )
        .await
        .map_err(|e| format!("{}: {}", e.code, e.message))
    }
}

//! The traits the engine depends on. Embedded mode implements them on the store and the local
//! function host; remote mode on the DynamoDB Streams and Lambda APIs.

use async_trait::async_trait;
use tributary_model::stream::StreamRecord;

/// One shard of a stream, with its lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub shard_id: String,
    pub parent_shard_id: Option<String>,
    pub start_seq: u128,
    /// Set when the shard is closed: no record after this sequence number will appear.
    pub end_seq: Option<u128>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The stream no longer exists (nothing left to read).
    #[error("stream not found: {0}")]
    StreamGone(String),
    /// A transient failure; the worker retries.
    #[error("reading the stream failed: {0}")]
    Failed(String),
}

/// Reads a DynamoDB stream.
#[async_trait]
pub trait StreamSource: Send + Sync + 'static {
    /// The stream's shards, parents listed before their children.
    async fn shards(&self, stream_arn: &str) -> Result<Vec<ShardInfo>, SourceError>;

    /// Up to `limit` records of the shard with sequence numbers ≥ `from_seq`, in order, and
    /// no more once their sizes (`size_bytes`) reach `max_bytes` (at least one record).
    async fn read(
        &self,
        stream_arn: &str,
        shard_id: &str,
        from_seq: u128,
        limit: usize,
        max_bytes: u64,
    ) -> Result<Vec<StreamRecord>, SourceError>;

    /// The newest sequence number in the shard, if it holds any record.
    async fn latest_sequence(
        &self,
        stream_arn: &str,
        shard_id: &str,
    ) -> Result<Option<u128>, SourceError>;

    /// Returns once the shard may hold a record with a sequence number ≥ `from_seq`, or was
    /// closed. May return early (spuriously); callers re-check.
    async fn wait_for_records(&self, stream_arn: &str, shard_id: &str, from_seq: u128);

    /// Returns once the set of shards may have changed since `since` (a version number the
    /// source hands out); returns the new version.
    async fn wait_for_shards(&self, stream_arn: &str, since: u64) -> u64;

    /// The current version of the shard set.
    fn shards_version(&self) -> u64;
}

/// The result of a synchronous invocation that reached the function.
#[derive(Debug, Clone, Default)]
pub struct InvokeOutcome {
    pub payload: Vec<u8>,
    /// `Some("Unhandled")` when the function failed.
    pub function_error: Option<String>,
    /// The invocation's request id (the failure record's `requestContext.requestId`).
    pub request_id: String,
    /// The version that ran (`$LATEST` or a number).
    pub executed_version: String,
}

/// An invocation that did not run the function.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeError {
    #[error("Function not found: {0}")]
    NotFound(String),
    #[error("Rate exceeded")]
    Throttled,
    #[error("{0}")]
    Service(String),
    /// The mapping may not read its event source: its function's execution role lacks the
    /// permission (the text says which). Retried with backoff until the permission is back.
    #[error("{0}")]
    AccessDenied(String),
}

/// Invokes a function synchronously.
#[async_trait]
pub trait Invoker: Send + Sync + 'static {
    async fn invoke(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
    ) -> Result<InvokeOutcome, InvokeError>;

    /// Whether the function's mapping may read `source_arn` (its execution role's permission),
    /// asked before every batch; `Err` holds why not. Allowed unless an implementation says
    /// otherwise.
    async fn may_read(&self, _function_arn: &str, _source_arn: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Where discarded batches are reported: the mapping's on-failure destination (an SQS queue,
/// an SNS topic or an S3 bucket).
#[async_trait]
pub trait FailureDestination: Send + Sync + 'static {
    /// Delivers one invocation record (spec §4, a JSON object as text, keys in AWS's order) to
    /// `destination_arn`. `event` is the original Lambda event of the reported records, which
    /// only the S3 destination carries.
    async fn deliver(
        &self,
        destination_arn: &str,
        mapping_uuid: &str,
        shard_id: &str,
        record: &str,
        event: &[u8],
    ) -> Result<(), String>;
}

/// How far a mapping got in one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Every record up to and including this sequence number is finished.
    pub seq: u128,
    /// The shard is closed and everything in it is finished.
    pub shard_done: bool,
}

/// Durable per-mapping, per-shard positions.
#[async_trait]
pub trait CheckpointStore: Send + Sync + 'static {
    fn get(&self, uuid: &str, shard_id: &str) -> Option<Checkpoint>;
    async fn put(&self, uuid: &str, shard_id: &str, cp: Checkpoint) -> Result<(), String>;
}

//! CloudWatch Logs (JSON 1.1, `Logs_20140328.*`): where functions' output lands, kept in the
//! store, and the API subset the AWS CLI and SDKs use to read it (`describe-log-groups`,
//! `describe-log-streams`, `get-log-events`, `filter-log-events`, `aws logs tail`) and to write
//! their own events (`PutLogEvents`).
//!
//! Layout in the store's ordered key-value space (`G` is the group name followed by a NUL byte;
//! group names never contain one):
//!
//! | space | key | value |
//! |---|---|---|
//! | [`GROUPS`] | group name | [`GroupMeta`] (JSON) |
//! | [`STREAMS`] | `G` + escaped stream name | [`StreamMeta`] (JSON) |
//! | [`EVENTS`] | `G` + stream id + timestamp + seq | ingestion time + message |
//! | [`BY_TIME`] | `G` + timestamp + stream id + seq | ingestion time + message |
//!
//! `EVENTS` gives each stream its events in time order (GetLogEvents); `BY_TIME` interleaves a
//! group's streams by time (FilterLogEvents) and lets retention cut a group's old events with
//! one range. Stream ids are never reused, so a deleted stream's events can never reappear
//! under a new stream of the same name.
//!
//! Function output arrives through [`LogWriter`]: batches are queued without waiting and a
//! writer task stores everything queued in one job of the store's group commit, so logging never
//! adds a commit per line and never delays Invoke.

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tributary_shapes::generated::logs as model;
use tributary_shapes::validate::{validate_object, Options};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;
use tributary_functions::{LogBatch, LogWriter};
use tributary_model::AwsError;
use tributary_store::{Store, Tx};

use serde::de::DeserializeOwned;
use tributary_service::json::typed;

/// CloudWatch Logs: the Logs API over log groups, streams and events in the store, and the
/// sink function output is written to ([`CloudWatchLogs::writer`]).
pub struct CloudWatchLogs {
    pub(crate) store: Store,
    pub(crate) logs: Logs,
    /// Signalled when the server clock is moved by hand: retention is applied at once.
    pub(crate) time_moved: Arc<tokio::sync::Notify>,
    /// Cancelled at shutdown.
    pub(crate) background: CancellationToken,
}

impl CloudWatchLogs {
    pub fn new(
        cfg: &tributary_service::Config,
        store: Store,
        time_moved: Arc<tokio::sync::Notify>,
        background: CancellationToken,
    ) -> CloudWatchLogs {
        CloudWatchLogs {
            logs: Logs::new(store.clone(), cfg),
            store,
            time_moved,
            background,
        }
    }

    /// Where the function host sends function output.
    pub fn writer(&self) -> Arc<dyn LogWriter> {
        Arc::clone(&self.logs.shared) as Arc<dyn LogWriter>
    }

    /// Stores whatever function output is queued (at shutdown, before the store's last flush).
    pub async fn flush(&self) {
        self.logs.flush().await;
    }
}

#[async_trait::async_trait]
impl tributary_service::Service for CloudWatchLogs {
    async fn call(&self, req: tributary_service::Request) -> Response {
        let target = req
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let Some(op) = target.strip_prefix("Logs_20140328.") else {
            return error_response(&AwsError::new(
                "UnknownOperationException",
                400,
                format!("Unknown operation: {target}"),
            ));
        };
        match tributary_service::json::parse_body(&req.body) {
            Ok(body) => respond(self, op, body, &req.body).await,
            Err(e) => error_response(&e),
        }
    }
}

/// Group name → [`GroupMeta`].
const GROUPS: &str = "logs/groups";
/// Group prefix + escaped stream name → [`StreamMeta`].
const STREAMS: &str = "logs/streams";
/// Group prefix + stream id + timestamp + seq → event.
const EVENTS: &str = "logs/events";
/// Group prefix + timestamp + stream id + seq → event.
const BY_TIME: &str = "logs/by-time";
/// Group prefix + stream id → group name: a deleted stream whose events and time-index entries
/// are still being removed, a chunk per job (see [`clear_dead_streams`]).
const DEAD_STREAMS: &str = "logs/dead-streams";

const JSON11: &str = "application/x-amz-json-1.1";
const DAY_MS: i64 = 86_400_000;
/// The `retentionInDays` values CloudWatch Logs accepts.
const RETENTION_DAYS: [i64; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// A page of events holds at most this many bytes (messages plus [`EVENT_OVERHEAD`] each)...
const MAX_PAGE_BYTES: usize = 1_048_576;
const EVENT_OVERHEAD: usize = 26;
/// ... and at most this many events.
const MAX_EVENTS: i64 = 10_000;
/// FilterLogEvents looks at no more than this many events per call, then answers with a
/// `nextToken` (a page may be empty, as on AWS).
const FILTER_SCAN_BUDGET: usize = 100_000;
/// Entries read from the store at a time when walking a range.
const CHUNK: usize = 1000;
/// PutLogEvents refuses events further in the future, or older, than these.
const TOO_NEW_MS: i64 = 2 * 3_600_000;
const TOO_OLD_MS: i64 = 14 * DAY_MS;
/// One PutLogEvents batch may span at most this long.
const MAX_SPAN_MS: i64 = DAY_MS;
/// Function output waiting for the writer task is bounded; beyond it, batches are dropped
/// (with a warning) rather than growing memory without limit while the store is stuck.
const MAX_QUEUED_BYTES: usize = 64 << 20;
/// How often the retention sweeper runs when the clock is not moved by hand.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------------------------
// stored shapes and keys

/// What the store keeps about a log group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupMeta {
    /// Where the group's keys live (see [`GroupKeys`]); `None` for groups stored before ids.
    #[serde(default)]
    id: Option<u64>,
    creation_time: i64,
    /// The group's own retention policy; `None` falls back to the server default.
    #[serde(default)]
    retention_days: Option<u32>,
    /// The id the next new stream gets; ids are never reused.
    next_stream_id: u64,
    /// Message bytes of the events kept (reported as `storedBytes`).
    stored_bytes: u64,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    log_group_class: String,
    #[serde(default)]
    kms_key_id: Option<String>,
}

impl GroupMeta {
    /// A new group, with a fresh id from the store's counter.
    fn new(tx: &mut Tx<'_>) -> GroupMeta {
        GroupMeta {
            id: Some(tx.next_id()),
            creation_time: tx.now_ms(),
            retention_days: None,
            next_stream_id: 1,
            stored_bytes: 0,
            tags: BTreeMap::new(),
            log_group_class: "STANDARD".into(),
            kms_key_id: None,
        }
    }
}

/// What the store keeps about a log stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamMeta {
    name: String,
    id: u64,
    creation_time: i64,
    first_event: Option<i64>,
    last_event: Option<i64>,
    last_ingestion: Option<i64>,
    /// The seq of the next event; orders events with equal timestamps.
    next_seq: u64,
    /// PutLogEvents calls so far (the `uploadSequenceToken`).
    uploads: u64,
}

/// Where a group's streams, events and time index live in [`STREAMS`], [`EVENTS`],
/// [`BY_TIME`] and [`DEAD_STREAMS`]: every key of the group starts with `prefix`, and `end` is
/// the first key after them all.
///
/// A group created by this version is keyed by its id, `00 <id>`, which is never reused, so a
/// deleted group's keys can be left for the store to remove in the background (and a new group
/// of the same name starts empty at once). Groups stored before ids were given are keyed by
/// their name, `<name> 00`; names never contain NUL, so the two layouts never share a key.
#[derive(Debug, Clone)]
struct GroupKeys {
    prefix: Vec<u8>,
    end: Vec<u8>,
}

impl GroupKeys {
    fn of(name: &str, meta: &GroupMeta) -> GroupKeys {
        match meta.id {
            Some(id) => {
                let at = |id: u64| {
                    let mut k = Vec::with_capacity(48);
                    k.push(0);
                    k.extend_from_slice(&id.to_be_bytes());
                    k
                };
                // Ids come from the store's counter, far from u64::MAX.
                GroupKeys {
                    prefix: at(id),
                    end: at(id.saturating_add(1)),
                }
            }
            None => {
                let mut prefix = Vec::with_capacity(name.len() + 40);
                prefix.extend_from_slice(name.as_bytes());
                prefix.push(0);
                let mut end = name.as_bytes().to_vec();
                end.push(1);
                GroupKeys { prefix, end }
            }
        }
    }

    /// A new key in the group: the prefix, then room for the rest.
    fn key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 32);
        k.extend_from_slice(&self.prefix);
        k
    }
}

/// A stream name as key bytes that sort like the name: NUL becomes `00 FF`, and `00 01` ends
/// the name, so no name's key is a prefix of another's.
fn escaped(name: &str, out: &mut Vec<u8>) {
    for &b in name.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

fn stream_key(group: &GroupKeys, stream: &str) -> Vec<u8> {
    let mut k = group.key();
    escaped(stream, &mut k);
    k.extend_from_slice(&[0, 1]);
    k
}

/// Timestamps as big-endian bytes with the sign bit flipped, so byte order is time order.
fn ts_bytes(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

fn ts_from(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    (u64::from_be_bytes(a) ^ (1 << 63)) as i64
}

fn u64_from(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// A position in one stream, between events: `(timestamp, seq)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pos {
    ts: i64,
    seq: u64,
}

fn event_key(group: &GroupKeys, id: u64, pos: Pos) -> Vec<u8> {
    let mut k = group.key();
    k.extend_from_slice(&id.to_be_bytes());
    k.extend_from_slice(&ts_bytes(pos.ts));
    k.extend_from_slice(&pos.seq.to_be_bytes());
    k
}

fn time_key(group: &GroupKeys, ts: i64, id: u64, seq: u64) -> Vec<u8> {
    let mut k = group.key();
    k.extend_from_slice(&ts_bytes(ts));
    k.extend_from_slice(&id.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The end of one stream's events: the first key of the next id.
fn stream_events_end(group: &GroupKeys, id: u64) -> Vec<u8> {
    let mut k = group.key();
    match id.checked_add(1) {
        Some(next) => k.extend_from_slice(&next.to_be_bytes()),
        None => k = group.end.clone(),
    }
    k
}

/// An event as stored: ingestion time, then the message.
fn event_value(ingestion: i64, message: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + message.len());
    v.extend_from_slice(&ingestion.to_be_bytes());
    v.extend_from_slice(message.as_bytes());
    v
}

/// One stored event, decoded.
#[derive(Debug, Clone)]
struct Event {
    stream_id: u64,
    pos: Pos,
    ingestion: i64,
    message: String,
}

impl Event {
    /// From an [`EVENTS`] entry (key without the space, starting with the group prefix).
    fn from_stream_entry(prefix_len: usize, key: &[u8], value: &[u8]) -> Option<Event> {
        let k = key.get(prefix_len..prefix_len + 24)?;
        Some(Event {
            stream_id: u64_from(&k[..8]),
            pos: Pos {
                ts: ts_from(&k[8..16]),
                seq: u64_from(&k[16..24]),
            },
            ingestion: i64::from_be_bytes(value.get(..8)?.try_into().ok()?),
            message: String::from_utf8_lossy(&value[8..]).into_owned(),
        })
    }

    /// From a [`BY_TIME`] entry.
    fn from_time_entry(prefix_len: usize, key: &[u8], value: &[u8]) -> Option<Event> {
        let k = key.get(prefix_len..prefix_len + 24)?;
        Some(Event {
            stream_id: u64_from(&k[8..16]),
            pos: Pos {
                ts: ts_from(&k[..8]),
                seq: u64_from(&k[16..24]),
            },
            ingestion: i64::from_be_bytes(value.get(..8)?.try_into().ok()?),
            message: String::from_utf8_lossy(&value[8..]).into_owned(),
        })
    }

    /// What the event costs in a page.
    fn page_bytes(&self) -> usize {
        self.message.len() + EVENT_OVERHEAD
    }

    /// A 56-digit id, unique within the group and stable across calls (`aws logs tail`
    /// de-duplicates by it).
    fn event_id(&self) -> String {
        format!(
            "{:020}{:018}{:018}",
            self.pos.ts.max(0),
            self.stream_id % 10u64.pow(18),
            self.pos.seq % 10u64.pow(18)
        )
    }
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, AwsError> {
    serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(error = %e, "corrupt log metadata");
        AwsError::internal("Internal server error")
    })
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn load_group_tx(tx: &mut Tx<'_>, group: &str) -> Result<Option<GroupMeta>, AwsError> {
    tx.kv_get(GROUPS, group.as_bytes())?
        .map(|b| decode(&b))
        .transpose()
}

fn load_stream_tx(
    tx: &mut Tx<'_>,
    group: &GroupKeys,
    stream: &str,
) -> Result<Option<StreamMeta>, AwsError> {
    tx.kv_get(STREAMS, &stream_key(group, stream))?
        .map(|b| decode(&b))
        .transpose()
}

fn put_group(tx: &mut Tx<'_>, group: &str, meta: &GroupMeta) -> Result<(), AwsError> {
    tx.kv_put(GROUPS, group.as_bytes(), &encode(meta))
}

fn put_stream(tx: &mut Tx<'_>, group: &GroupKeys, meta: &StreamMeta) -> Result<(), AwsError> {
    tx.kv_put(STREAMS, &stream_key(group, &meta.name), &encode(meta))
}

/// Appends events (already in order) to a stream inside a write job.
fn append_events<'m>(
    tx: &mut Tx<'_>,
    keys: &GroupKeys,
    group: &mut GroupMeta,
    stream: &mut StreamMeta,
    events: impl Iterator<Item = (i64, &'m str)>,
) -> Result<(), AwsError> {
    let now = tx.now_ms();
    for (ts, message) in events {
        let pos = Pos {
            ts,
            seq: stream.next_seq,
        };
        stream.next_seq += 1;
        let value = event_value(now, message);
        tx.kv_put(EVENTS, &event_key(keys, stream.id, pos), &value)?;
        tx.kv_put(BY_TIME, &time_key(keys, ts, stream.id, pos.seq), &value)?;
        group.stored_bytes += message.len() as u64;
        stream.first_event = Some(stream.first_event.map_or(ts, |f| f.min(ts)));
        stream.last_event = Some(stream.last_event.map_or(ts, |l| l.max(ts)));
        stream.last_ingestion = Some(now);
    }
    Ok(())
}

/// Stores function output: groups and streams are created on first output, as Lambda does.
fn store_batches(tx: &mut Tx<'_>, batches: &[LogBatch]) -> Result<(), AwsError> {
    let now = tx.now_ms();
    let mut groups: HashMap<String, (GroupKeys, GroupMeta)> = HashMap::new();
    let mut streams: HashMap<(String, String), StreamMeta> = HashMap::new();
    for batch in batches {
        let (keys, group) = match groups.entry(batch.group.clone()) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let meta = match load_group_tx(tx, &batch.group)? {
                    Some(meta) => meta,
                    None => GroupMeta::new(tx),
                };
                e.insert((GroupKeys::of(&batch.group, &meta), meta))
            }
        };
        let stream = match streams.entry((batch.group.clone(), batch.stream.clone())) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let meta = match load_stream_tx(tx, keys, &batch.stream)? {
                    Some(m) => m,
                    None => {
                        let id = group.next_stream_id;
                        group.next_stream_id += 1;
                        StreamMeta {
                            name: batch.stream.clone(),
                            id,
                            creation_time: now,
                            first_event: None,
                            last_event: None,
                            last_ingestion: None,
                            next_seq: 0,
                            uploads: 0,
                        }
                    }
                };
                e.insert(meta)
            }
        };
        let events = batch
            .events
            .iter()
            .map(|e| (e.timestamp_ms, e.message.as_str()));
        append_events(tx, keys, group, stream, events)?;
    }
    for ((group, _), meta) in &streams {
        put_stream(tx, &groups[group].0, meta)?;
    }
    for (name, (_, meta)) in &groups {
        put_group(tx, name, meta)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// the service: function output in, retention out

/// Function output waiting for the writer task.
#[derive(Default)]
struct Queue {
    batches: Vec<LogBatch>,
    bytes: usize,
    dropped: u64,
}

struct Shared {
    store: Store,
    region: String,
    account_id: String,
    /// `--log-retention-days`: applies to groups without a retention policy of their own.
    default_retention_days: Option<u32>,
    queue: Mutex<Queue>,
    wake: tokio::sync::Notify,
    /// Woken when a stream is deleted, so the sweeper clears its events soon.
    cleanup: tokio::sync::Notify,
}

impl LogWriter for Shared {
    fn write(&self, batch: LogBatch) {
        let bytes: usize = batch.events.iter().map(|e| e.message.len()).sum();
        {
            let mut q = lock(&self.queue);
            if q.bytes + bytes > MAX_QUEUED_BYTES {
                q.dropped += 1;
                if q.dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped = q.dropped,
                        "function log queue full; dropping log events"
                    );
                }
                return;
            }
            q.bytes += bytes;
            q.batches.push(batch);
        }
        self.wake.notify_one();
    }
}

impl Shared {
    fn take(&self) -> Vec<LogBatch> {
        let mut q = lock(&self.queue);
        q.bytes = 0;
        std::mem::take(&mut q.batches)
    }

    async fn persist(&self, batches: Vec<LogBatch>) {
        if batches.is_empty() {
            return;
        }
        if let Err(e) = self
            .store
            .write(move |tx| store_batches(tx, &batches))
            .await
        {
            tracing::warn!(error = %e, "could not store function logs");
        }
    }

    /// The oldest timestamp a group keeps at `now`, if its events expire.
    fn cutoff(&self, meta: &GroupMeta, now: i64) -> Option<i64> {
        meta.retention_days
            .or(self.default_retention_days)
            .map(|days| now.saturating_sub(i64::from(days).saturating_mul(DAY_MS)))
    }

    fn group_arn(&self, group: &str) -> String {
        format!(
            "arn:aws:logs:{}:{}:log-group:{group}",
            self.region, self.account_id
        )
    }
}

/// CloudWatch Logs state shared by the API, the function host's writer and the sweeper.
pub struct Logs {
    shared: Arc<Shared>,
}

impl Logs {
    fn new(store: Store, cfg: &tributary_service::Config) -> Logs {
        Logs {
            shared: Arc::new(Shared {
                store,
                region: cfg.region.clone(),
                account_id: cfg.account_id.clone(),
                default_retention_days: cfg.log_retention_days,
                queue: Mutex::new(Queue::default()),
                wake: tokio::sync::Notify::new(),
                cleanup: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Stores whatever function output is queued (at shutdown, before the store's last flush).
    pub async fn flush(&self) {
        let batches = self.shared.take();
        self.shared.persist(batches).await;
    }
}

/// Sends the function host's output here, and starts the writer task and the retention sweeper
/// (both stop when `app.background` is cancelled).
pub fn start(app: &Arc<CloudWatchLogs>) {
    let shared = Arc::clone(&app.logs.shared);
    tokio::spawn(run_writer(Arc::clone(&shared), app.background.clone()));
    tokio::spawn(run_sweeper(Arc::clone(app), app.background.clone()));
}

/// Stores queued function output, one group-commit job per round; whatever arrives while a job
/// commits goes into the next one.
async fn run_writer(shared: Arc<Shared>, cancel: CancellationToken) {
    loop {
        let batches = shared.take();
        if batches.is_empty() {
            tokio::select! {
                _ = shared.wake.notified() => continue,
                _ = cancel.cancelled() => return,
            }
        }
        shared.persist(batches).await;
    }
}

/// Deletes events older than their group's retention, by the server clock: every
/// [`SWEEP_EVERY`], and whenever the clock is moved by hand; and what deleted streams left,
/// soon after each deletion.
async fn run_sweeper(app: Arc<CloudWatchLogs>, cancel: CancellationToken) {
    loop {
        // Registered before the sweep, so a clock move during it is not missed.
        let moved = app.time_moved.notified();
        tokio::pin!(moved);
        moved.as_mut().enable();
        if let Err(e) = sweep(&app.logs.shared).await {
            tracing::warn!(error = %e, "log retention sweep failed");
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = &mut moved => {}
            _ = app.logs.shared.cleanup.notified() => {}
        }
    }
}

/// One retention pass over every group, after clearing what deleted streams left.
async fn sweep(shared: &Arc<Shared>) -> Result<(), AwsError> {
    clear_dead_streams(shared).await?;
    let now = shared.store.clock().now_millis();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let lower = match &after {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        let groups = shared
            .store
            .kv_range(GROUPS, lower, Bound::Unbounded, false, CHUNK)?;
        let Some((last, _)) = groups.last() else {
            return Ok(());
        };
        after = Some(last.clone());
        for (key, value) in &groups {
            let meta: GroupMeta = decode(value)?;
            let Some(cutoff) = shared.cutoff(&meta, now) else {
                continue;
            };
            let group = String::from_utf8_lossy(key).into_owned();
            let keys = GroupKeys::of(&group, &meta);
            expire_group(shared, &group, &keys, cutoff).await?;
        }
    }
}

/// Subtracts `freed` bytes from the group named `name`, if it is still the group whose keys
/// are `keys` (not deleted, nor deleted and created again).
fn release_bytes(
    tx: &mut Tx<'_>,
    name: &str,
    keys: &GroupKeys,
    freed: u64,
) -> Result<(), AwsError> {
    if let Some(mut meta) = load_group_tx(tx, name)? {
        if GroupKeys::of(name, &meta).prefix == keys.prefix {
            meta.stored_bytes = meta.stored_bytes.saturating_sub(freed);
            put_group(tx, name, &meta)?;
        }
    }
    Ok(())
}

/// Deletes a group's events with timestamps before `cutoff`, a chunk per job.
async fn expire_group(
    shared: &Arc<Shared>,
    group: &str,
    keys: &GroupKeys,
    cutoff: i64,
) -> Result<(), AwsError> {
    let mut upper = keys.key();
    upper.extend_from_slice(&ts_bytes(cutoff));
    loop {
        let old = shared.store.kv_range(
            BY_TIME,
            Bound::Included(&keys.prefix),
            Bound::Excluded(&upper),
            false,
            CHUNK,
        )?;
        if old.is_empty() {
            return Ok(());
        }
        let events: Vec<Event> = old
            .iter()
            .filter_map(|(k, v)| Event::from_time_entry(keys.prefix.len(), k, v))
            .collect();
        let done = old.len() < CHUNK;
        let (group, keys) = (group.to_string(), keys.clone());
        shared
            .store
            .write(move |tx| {
                let mut freed = 0u64;
                for e in &events {
                    tx.kv_delete(BY_TIME, &time_key(&keys, e.pos.ts, e.stream_id, e.pos.seq))?;
                    if tx.kv_delete(EVENTS, &event_key(&keys, e.stream_id, e.pos))? {
                        freed += e.message.len() as u64;
                    }
                }
                release_bytes(tx, &group, &keys, freed)
            })
            .await?;
        if done {
            return Ok(());
        }
    }
}

/// The [`DEAD_STREAMS`] key of stream `id` of a group; its value is the group's name.
fn dead_stream_key(group: &GroupKeys, id: u64) -> Vec<u8> {
    let mut k = group.key();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Removes what deleted streams left behind (their events, and the entries of their events
/// in the group's time index), a chunk of [`CHUNK`] events per job so that no job holds the
/// writer for the size of a stream; then the stream's marker. The markers are stored by the
/// deletion itself, so a restart resumes where this stopped.
async fn clear_dead_streams(shared: &Arc<Shared>) -> Result<(), AwsError> {
    let mut after: Option<Vec<u8>> = None;
    loop {
        let lower = match &after {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        let dead = shared
            .store
            .kv_range(DEAD_STREAMS, lower, Bound::Unbounded, false, 1)?;
        let Some((marker, name)) = dead.into_iter().next() else {
            return Ok(());
        };
        after = Some(marker.clone());
        let Some(split) = marker.len().checked_sub(8) else {
            continue;
        };
        let (prefix, id) = marker.split_at(split);
        let id = u64_from(id);
        let name = String::from_utf8_lossy(&name).into_owned();
        // Only the prefix is needed to name the stream's keys (`end` would matter only for
        // the stream id u64::MAX, which is never given).
        let keys = GroupKeys {
            prefix: prefix.to_vec(),
            end: Vec::new(),
        };
        let end = stream_events_end(&keys, id);
        loop {
            let chunk = shared.store.kv_range(
                EVENTS,
                Bound::Included(&marker),
                Bound::Excluded(&end),
                false,
                CHUNK,
            )?;
            let done = chunk.len() < CHUNK;
            let events: Vec<(Pos, u64)> = chunk
                .iter()
                .filter_map(|(k, v)| Event::from_stream_entry(prefix.len(), k, v))
                .map(|e| (e.pos, e.message.len() as u64))
                .collect();
            let (name, keys, marker) = (name.clone(), keys.clone(), marker.clone());
            shared
                .store
                .write(move |tx| {
                    let mut freed = 0;
                    for (pos, bytes) in &events {
                        tx.kv_delete(BY_TIME, &time_key(&keys, pos.ts, id, pos.seq))?;
                        if tx.kv_delete(EVENTS, &event_key(&keys, id, *pos))? {
                            freed += bytes;
                        }
                    }
                    release_bytes(tx, &name, &keys, freed)?;
                    if done {
                        tx.kv_delete(DEAD_STREAMS, &marker)?;
                    }
                    Ok(())
                })
                .await?;
            if done {
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// filter patterns

/// A filter pattern of terms, as CloudWatch Logs matches unstructured events: terms and
/// `"quoted phrases"` must all occur (case-sensitive), `-term` must not, and `?term` starts an
/// alternative, so `?ERROR ?WARN` matches either and `?ERROR db ?WARN disk` matches
/// (ERROR and db) or (WARN and disk). An empty pattern matches everything.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TermPattern {
    alternatives: Vec<TermGroup>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct TermGroup {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl TermGroup {
    fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    fn matches(&self, message: &str) -> bool {
        self.include.iter().all(|t| message.contains(t.as_str()))
            && !self.exclude.iter().any(|t| message.contains(t.as_str()))
    }
}

impl TermPattern {
    /// Parses a pattern; the error is the message of the `InvalidParameterException`.
    pub(crate) fn parse(pattern: &str) -> Result<TermPattern, String> {
        let trimmed = pattern.trim();
        match trimmed.chars().next() {
            Some('{') | Some('[') | Some('%') => {
                return Err(format!(
                    "Invalid filter pattern '{pattern}': only terms, \"quoted phrases\", ?alternatives \
                     and -exclusions are supported (JSON, space-delimited and regex patterns are not)"
                ));
            }
            _ => {}
        }
        let mut out = TermPattern::default();
        let mut current = TermGroup::default();
        let mut chars = trimmed.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let Some(&first) = chars.peek() else { break };
            let op = match first {
                '?' | '-' => {
                    chars.next();
                    Some(first)
                }
                _ => None,
            };
            let mut term = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some(escaped) => term.push(escaped),
                            None => break,
                        },
                        other => term.push(other),
                    }
                }
                if !closed {
                    return Err(format!(
                        "Invalid filter pattern '{pattern}': a quoted phrase is not closed"
                    ));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    term.push(c);
                    chars.next();
                }
                if term.is_empty() {
                    return Err(format!(
                        "Invalid filter pattern '{pattern}': '{}' must be followed by a term",
                        op.unwrap_or(' ')
                    ));
                }
            }
            match op {
                Some('?') => {
                    if !current.is_empty() {
                        out.alternatives.push(std::mem::take(&mut current));
                    }
                    current.include.push(term);
                }
                Some(_) => current.exclude.push(term),
                None => current.include.push(term),
            }
        }
        if !current.is_empty() {
            out.alternatives.push(current);
        }
        Ok(out)
    }

    pub(crate) fn matches(&self, message: &str) -> bool {
        self.alternatives.is_empty() || self.alternatives.iter().any(|g| g.matches(message))
    }
}

// ---------------------------------------------------------------------------------------------
// the wire

/// Answers one `Logs_20140328.<op>` request (its object, and the bytes it was read from) in the
/// JSON 1.1 envelope.
async fn respond(
    app: &CloudWatchLogs,
    op: &str,
    body: Map<String, Value>,
    bytes: &[u8],
) -> Response {
    match dispatch(app, op, body, bytes).await {
        Ok(v) => json11(StatusCode::OK, v),
        Err(e) => error_response(&e),
    }
}

/// The JSON 1.1 error envelope.
fn error_response(e: &AwsError) -> Response {
    tracing::debug!(code = e.code, message = %e.message, "request failed");
    // Not a member of this service's model: SDKs know ServiceUnavailableException.
    let (code, message) = match e.code {
        "InternalServerError" => (
            "ServiceUnavailableException",
            "The service cannot complete the request.".to_string(),
        ),
        code => (code, e.message.clone()),
    };
    let body = json!({"__type": code, "message": message});
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    json11(status, Some(serde_json::to_vec(&body).unwrap_or_default()))
}

/// A JSON 1.1 response; operations without output answer with an empty body, as AWS does.
fn json11(status: StatusCode, body: Option<Vec<u8>>) -> Response {
    let mut r = Response::new(Body::from(body.unwrap_or_default()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(JSON11));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-amzn-requestid", id);
    }
    r
}

/// The body of an operation's answer: its generated output structure, written as JSON straight
/// from the struct (in model member order, with no intermediate `Value` copy of the events).
fn body<T: Serialize>(out: &T) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(out).unwrap_or_default())
}

/// The operation's generated input, read from the validated request object. The object is read
/// plainly first; only a failure is read again by `json::typed` to learn the path of the member
/// of the wrong type, which is then named as the hand-written readers named it: the top-level
/// member, or the member of a `logEvents` entry.
fn input<T: DeserializeOwned>(body: &Map<String, Value>) -> Result<T, AwsError> {
    T::deserialize(body).or_else(|_| {
        typed(body).map_err(|mut e: AwsError| {
            let path = e
                .message
                .strip_prefix("Unexpected value type in payload for member ")
                .unwrap_or_default()
                .to_string();
            let top = path.split(['.', '[']).next().unwrap_or_default();
            let member = match path.split_once("].") {
                Some((_, field)) if top == "logEvents" => field,
                _ => top,
            };
            e.message = format!("Unexpected value type in payload for member {member}");
            e
        })
    })
}

/// PutLogEvents' input, moved out of the request object: its messages (up to 1 MiB) are taken
/// from the parsed body, not copied. Only a failure (a member of the wrong type) reads the
/// request bytes again, for [`input`] to name the member.
fn moved_input<T: DeserializeOwned>(body: Map<String, Value>, bytes: &[u8]) -> Result<T, AwsError> {
    T::deserialize(Value::Object(body))
        .or_else(|_| input(&tributary_service::json::parse_body(bytes)?))
}

async fn dispatch(
    app: &CloudWatchLogs,
    op: &str,
    object: Map<String, Value>,
    bytes: &[u8],
) -> Result<Option<Vec<u8>>, AwsError> {
    let raw = &object;
    // The model's constraints first. CloudWatch Logs words violations as every Coral service
    // does but answers them as `InvalidParameterException` (see test_logs.py).
    if let Some(o) = model::Operation::from_name(op) {
        validate_object(&model::SERVICE, o.def(), raw, &Options::default())
            .map_err(|v| AwsError::new("InvalidParameterException", 400, v.message()))?;
    }
    let out = match op {
        "CreateLogGroup" => create_log_group(app, input(raw)?).await?,
        "DeleteLogGroup" => delete_log_group(app, input(raw)?).await?,
        "DescribeLogGroups" => body(&describe_log_groups(app, input(raw)?)?),
        "CreateLogStream" => create_log_stream(app, input(raw)?).await?,
        "DeleteLogStream" => delete_log_stream(app, input(raw)?).await?,
        "DescribeLogStreams" => body(&describe_log_streams(app, input(raw)?)?),
        "PutLogEvents" => body(&put_log_events(app, moved_input(object, bytes)?).await?),
        "GetLogEvents" => body(&get_log_events(app, input(raw)?)?),
        "FilterLogEvents" => body(&filter_log_events(app, input(raw)?)?),
        "PutRetentionPolicy" => put_retention_policy(app, retention_input(raw)?).await?,
        "DeleteRetentionPolicy" => {
            let input: types::DeleteRetentionPolicyRequest = input(raw)?;
            update_group(app, group_name(input.log_group_name)?, |meta| {
                meta.retention_days = None
            })
            .await?
        }
        "TagLogGroup" => {
            let input: types::TagLogGroupRequest = input(raw)?;
            let group = group_name(input.log_group_name)?;
            tag(app, group, check_tags(input.tags, "tags")?).await?
        }
        "UntagLogGroup" => {
            let input: types::UntagLogGroupRequest = input(raw)?;
            untag(app, group_name(input.log_group_name)?, input.tags).await?
        }
        "ListTagsLogGroup" => {
            let input: types::ListTagsLogGroupRequest = input(raw)?;
            let tags = list_tags(app, &group_name(input.log_group_name)?)?;
            body(&types::ListTagsLogGroupResponse { tags: Some(tags) })
        }
        "TagResource" => {
            let input: types::TagResourceRequest = input(raw)?;
            let group = group_of_arn(&input.resource_arn)?;
            tag(app, group, check_tags(input.tags, "tags")?).await?
        }
        "UntagResource" => {
            let input: types::UntagResourceRequest = input(raw)?;
            untag(app, group_of_arn(&input.resource_arn)?, input.tag_keys).await?
        }
        "ListTagsForResource" => {
            let input: types::ListTagsForResourceRequest = input(raw)?;
            let tags = list_tags(app, &group_of_arn(&input.resource_arn)?)?;
            body(&types::ListTagsForResourceResponse { tags: Some(tags) })
        }
        _ => {
            return Err(AwsError::new(
                "UnknownOperationException",
                400,
                format!("Unknown operation: Logs_20140328.{op}"),
            ))
        }
    };
    Ok(out)
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterException", 400, message)
}

/// `1 validation error detected: …` as CloudWatch Logs sends it (an InvalidParameterException).
fn constraint(value: &Value, field: &str, rule: &str) -> AwsError {
    let mut e = tributary_service::json::constraint(value, field, rule);
    e.code = "InvalidParameterException";
    e
}

fn group_not_found() -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        400,
        "The specified log group does not exist.",
    )
}

fn stream_not_found() -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        400,
        "The specified log stream does not exist.",
    )
}

fn bad_token() -> AwsError {
    invalid("The specified nextToken is invalid.")
}

fn check_length(v: &str, field: &str, min: usize, max: usize) -> Result<(), AwsError> {
    let n = v.chars().count();
    if n < min {
        return Err(constraint(
            &Value::String(v.into()),
            field,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(constraint(
            &Value::String(v.into()),
            field,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn check_group_name(v: &str, field: &str) -> Result<(), AwsError> {
    check_length(v, field, 1, 512)?;
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'))
    {
        return Err(constraint(
            &Value::String(v.into()),
            field,
            r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+",
        ));
    }
    Ok(())
}

fn check_stream_name(v: &str, field: &str) -> Result<(), AwsError> {
    check_length(v, field, 1, 512)?;
    if v.contains([':', '*']) {
        return Err(constraint(
            &Value::String(v.into()),
            field,
            "Member must satisfy regular expression pattern: [^:*]*",
        ));
    }
    Ok(())
}

/// `logGroupName` of a generated input, checked.
fn group_name(name: String) -> Result<String, AwsError> {
    check_group_name(&name, "logGroupName")?;
    Ok(name)
}

/// The log group named by an ARN (`arn:aws:logs:<region>:<account>:log-group:<name>[:*]`).
fn group_of_arn(arn: &str) -> Result<String, AwsError> {
    let name = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":log-group:"))
        .map(|(_, name)| name.strip_suffix(":*").unwrap_or(name))
        .filter(|name| !name.is_empty())
        .ok_or_else(|| invalid(format!("Invalid ARN: {arn}")))?;
    check_group_name(name, "logGroupIdentifier")?;
    Ok(name.to_string())
}

/// `logGroupName` or `logGroupIdentifier` (a name or an ARN) of a generated input: exactly one.
fn group_of(name: Option<String>, identifier: Option<String>) -> Result<String, AwsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(name), None) => {
            check_group_name(&name, "logGroupName")?;
            Ok(name)
        }
        (None, Some(id)) if id.starts_with("arn:") => group_of_arn(&id),
        (None, Some(id)) => {
            check_group_name(&id, "logGroupIdentifier")?;
            Ok(id)
        }
        (None, None) => Err(invalid(
            "Either logGroupName or logGroupIdentifier must be specified.",
        )),
    }
}

/// `limit` of the generated input: the handlers' own check of the range, as AWS words it.
fn check_limit(limit: Option<i32>, max: i64, default: i64) -> Result<usize, AwsError> {
    match limit.map(i64::from) {
        None => Ok(default as usize),
        Some(n) => {
            if n < 1 {
                return Err(constraint(
                    &Value::String(n.to_string()),
                    "limit",
                    "Member must have value greater than or equal to 1",
                ));
            }
            if n > max {
                return Err(constraint(
                    &Value::String(n.to_string()),
                    "limit",
                    &format!("Member must have value less than or equal to {max}"),
                ));
            }
            Ok(n as usize)
        }
    }
}

/// The checks of a tag map of the generated input (`tags` of CreateLogGroup and the tagging
/// operations).
fn check_tags(
    tags: BTreeMap<String, String>,
    key: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    if tags.is_empty() || tags.len() > 50 {
        let shown: Map<String, Value> = tags
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Err(constraint(
            &Value::Object(shown),
            key,
            "Member must have length less than or equal to 50, Member must have length greater than or equal to 1",
        ));
    }
    for (k, v) in &tags {
        check_length(k, "tags.key", 1, 128)?;
        check_length(v, "tags.value", 0, 256)?;
    }
    Ok(tags)
}

/// A time of a generated input: never before the epoch.
fn check_time(t: Option<i64>, key: &str) -> Result<Option<i64>, AwsError> {
    match t {
        Some(t) if t < 0 => Err(constraint(
            &Value::String(t.to_string()),
            key,
            "Member must have value greater than or equal to 0",
        )),
        other => Ok(other),
    }
}

/// Page tokens of the describe operations: the hex of the last key returned.
fn hex_token(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex_token(token: &str) -> Result<Vec<u8>, AwsError> {
    if !token.len().is_multiple_of(2) {
        return Err(bad_token());
    }
    (0..token.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(token.get(i..i + 2).ok_or_else(bad_token)?, 16)
                .map_err(|_| bad_token())
        })
        .collect()
}

impl CloudWatchLogs {
    fn log_group(&self, group: &str) -> Result<Option<GroupMeta>, AwsError> {
        self.store
            .kv_get(GROUPS, group.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    fn log_stream(&self, group: &GroupKeys, stream: &str) -> Result<Option<StreamMeta>, AwsError> {
        self.store
            .kv_get(STREAMS, &stream_key(group, stream))?
            .map(|b| decode(&b))
            .transpose()
    }

    /// Every stream of a group whose name starts with `prefix`, in name order.
    fn log_streams(
        &self,
        group: &GroupKeys,
        prefix: &str,
    ) -> Result<Vec<(Vec<u8>, StreamMeta)>, AwsError> {
        let mut lower = group.key();
        escaped(prefix, &mut lower);
        let upper = prefix_end(&lower).unwrap_or_else(|| group.end.clone());
        let mut out = Vec::new();
        let mut from = Bound::Included(lower);
        loop {
            let chunk = self.store.kv_range(
                STREAMS,
                as_ref_bound(&from),
                Bound::Excluded(&upper),
                false,
                CHUNK,
            )?;
            let done = chunk.len() < CHUNK;
            for (k, v) in chunk {
                let meta: StreamMeta = decode(&v)?;
                from = Bound::Excluded(k.clone());
                out.push((k, meta));
            }
            if done {
                return Ok(out);
            }
        }
    }

    fn logs_now(&self) -> i64 {
        self.store.clock().now_millis()
    }
}

fn as_ref_bound(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The smallest key greater than every key starting with `prefix` (None: no such key).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// log groups

async fn create_log_group(
    app: &CloudWatchLogs,
    input: types::CreateLogGroupRequest,
) -> Result<Option<Vec<u8>>, AwsError> {
    // `deletionProtectionEnabled` is not kept: groups here can always be deleted.
    let name = input.log_group_name;
    check_group_name(&name, "logGroupName")?;
    let class = input
        .log_group_class
        .unwrap_or_else(|| "STANDARD".to_string());
    if !matches!(
        class.as_str(),
        "STANDARD" | "INFREQUENT_ACCESS" | "DELIVERY" | "ESSENTIALS"
    ) {
        return Err(constraint(
            &Value::String(class),
            "logGroupClass",
            "Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY, ESSENTIALS]",
        ));
    }
    let kms = input.kms_key_id;
    let tags = match input.tags {
        Some(tags) => check_tags(tags, "tags")?,
        None => BTreeMap::new(),
    };
    app.store
        .write(move |tx| {
            if tx.kv_get(GROUPS, name.as_bytes())?.is_some() {
                return Err(AwsError::new(
                    "ResourceAlreadyExistsException",
                    400,
                    "The specified log group already exists",
                ));
            }
            let mut meta = GroupMeta::new(tx);
            meta.log_group_class = class.clone();
            meta.kms_key_id = kms.clone();
            meta.tags = tags.clone();
            put_group(tx, &name, &meta)
        })
        .await?;
    Ok(None)
}

async fn delete_log_group(
    app: &CloudWatchLogs,
    input: types::DeleteLogGroupRequest,
) -> Result<Option<Vec<u8>>, AwsError> {
    let name = input.log_group_name;
    check_group_name(&name, "logGroupName")?;
    app.store
        .write(move |tx| {
            let meta = load_group_tx(tx, &name)?.ok_or_else(group_not_found)?;
            tx.kv_delete(GROUPS, name.as_bytes())?;
            // Nothing reads the group's keys once its entry is gone (a group created again
            // with this name gets a new id), so the store removes them in the background.
            let keys = GroupKeys::of(&name, &meta);
            for space in [STREAMS, EVENTS, BY_TIME, DEAD_STREAMS] {
                tx.kv_discard(space, &keys.prefix, &keys.end)?;
            }
            Ok(())
        })
        .await?;
    Ok(None)
}

/// A log group as DescribeLogGroups shows it; `brief` (a `logGroupNamePattern` search) shows
/// only the name, creation time and ARN, as AWS does.
fn log_group(app: &CloudWatchLogs, name: String, meta: GroupMeta, brief: bool) -> types::LogGroup {
    let arn = app.logs.shared.group_arn(&name);
    let mut g = types::LogGroup {
        arn: Some(format!("{arn}:*")),
        log_group_name: Some(name),
        creation_time: Some(meta.creation_time),
        ..Default::default()
    };
    if !brief {
        g.retention_in_days = meta
            .retention_days
            .or(app.logs.shared.default_retention_days)
            .map(|d| d as i32);
        g.metric_filter_count = Some(0);
        g.stored_bytes = Some(meta.stored_bytes as i64);
        g.kms_key_id = meta.kms_key_id;
        g.log_group_class = Some(meta.log_group_class);
        g.log_group_arn = Some(arn);
    }
    // Left out (None): dataProtectionStatus, inheritedProperties, deletionProtectionEnabled,
    // bearerTokenAuthenticationEnabled, retentionPolicyName: none of these is kept here.
    g
}

fn describe_log_groups(
    app: &CloudWatchLogs,
    input: types::DescribeLogGroupsRequest,
) -> Result<types::DescribeLogGroupsResponse, AwsError> {
    // accountIdentifiers and includeLinkedAccounts: one account here, nothing linked.
    let prefix = input.log_group_name_prefix.as_deref();
    let pattern = input.log_group_name_pattern.as_deref();
    if prefix.is_some() && pattern.is_some() {
        return Err(invalid(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    if let Some(p) = prefix {
        check_group_name(p, "logGroupNamePrefix")?;
    }
    if let Some(p) = pattern.filter(|p| !p.is_empty()) {
        check_group_name(p, "logGroupNamePattern")?;
    }
    let class = input.log_group_class.as_deref();
    let limit = check_limit(input.limit, 50, 50)?;
    let identifiers: Option<Vec<String>> = match input.log_group_identifiers {
        None => None,
        Some(ids) => Some(
            ids.into_iter()
                .map(|id| {
                    if id.starts_with("arn:") {
                        group_of_arn(&id)
                    } else {
                        Ok(id)
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let token = input
        .next_token
        .as_deref()
        .map(from_hex_token)
        .transpose()?;

    let lower_key = prefix.map(|p| p.as_bytes().to_vec()).unwrap_or_default();
    let upper_key = prefix.and_then(|p| prefix_end(p.as_bytes()));
    let mut from = match token {
        Some(t) => Bound::Excluded(t),
        None => Bound::Included(lower_key),
    };
    let wanted = |name: &str, meta: &GroupMeta| {
        pattern.is_none_or(|p| name.contains(p))
            && identifiers
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|i| i == name))
            && class.is_none_or(|c| c == meta.log_group_class)
    };
    let mut groups = Vec::new();
    let mut last_key = None;
    let mut next_token = None;
    'scan: loop {
        let upper = match &upper_key {
            Some(u) => Bound::Excluded(u.as_slice()),
            None => Bound::Unbounded,
        };
        let chunk = app
            .store
            .kv_range(GROUPS, as_ref_bound(&from), upper, false, CHUNK)?;
        let done = chunk.len() < CHUNK;
        for (k, v) in chunk {
            if groups.len() == limit {
                next_token = last_key.as_deref().map(hex_token);
                break 'scan;
            }
            let name = String::from_utf8_lossy(&k).into_owned();
            let meta: GroupMeta = decode(&v)?;
            if wanted(&name, &meta) {
                groups.push(log_group(app, name, meta, pattern.is_some()));
                last_key = Some(k.clone());
            }
            from = Bound::Excluded(k);
        }
        if done {
            break;
        }
    }
    Ok(types::DescribeLogGroupsResponse {
        log_groups: Some(groups),
        next_token,
    })
}

/// PutRetentionPolicy's input. A `retentionInDays` beyond the generated `i32` is refused as
/// any other value outside the set, as before the input was typed (not as a type error).
fn retention_input(raw: &Map<String, Value>) -> Result<types::PutRetentionPolicyRequest, AwsError> {
    if let Some(days) = raw.get("retentionInDays").and_then(Value::as_i64) {
        if i32::try_from(days).is_err() {
            return Err(retention_not_in_set(days));
        }
    }
    input(raw)
}

fn retention_not_in_set(days: i64) -> AwsError {
    let set: Vec<String> = RETENTION_DAYS.iter().map(|d| d.to_string()).collect();
    constraint(
        &Value::String(days.to_string()),
        "retentionInDays",
        &format!("Member must satisfy enum value set: [{}]", set.join(", ")),
    )
}

async fn put_retention_policy(
    app: &CloudWatchLogs,
    input: types::PutRetentionPolicyRequest,
) -> Result<Option<Vec<u8>>, AwsError> {
    let name = group_name(input.log_group_name)?;
    let days = i64::from(input.retention_in_days);
    if !RETENTION_DAYS.contains(&days) {
        return Err(retention_not_in_set(days));
    }
    let days = days as u32;
    update_group(app, name, move |meta| meta.retention_days = Some(days)).await
}

async fn update_group(
    app: &CloudWatchLogs,
    name: String,
    change: impl Fn(&mut GroupMeta) + Send + 'static,
) -> Result<Option<Vec<u8>>, AwsError> {
    app.store
        .write(move |tx| {
            let mut meta = load_group_tx(tx, &name)?.ok_or_else(group_not_found)?;
            change(&mut meta);
            put_group(tx, &name, &meta)
        })
        .await?;
    Ok(None)
}

async fn tag(
    app: &CloudWatchLogs,
    group: String,
    tags: BTreeMap<String, String>,
) -> Result<Option<Vec<u8>>, AwsError> {
    update_group(app, group, move |meta| meta.tags.extend(tags.clone())).await
}

async fn untag(
    app: &CloudWatchLogs,
    group: String,
    keys: Vec<String>,
) -> Result<Option<Vec<u8>>, AwsError> {
    update_group(app, group, move |meta| {
        for k in &keys {
            meta.tags.remove(k);
        }
    })
    .await
}

fn list_tags(app: &CloudWatchLogs, group: &str) -> Result<BTreeMap<String, String>, AwsError> {
    Ok(app.log_group(group)?.ok_or_else(group_not_found)?.tags)
}

// ---------------------------------------------------------------------------------------------
// log streams

async fn create_log_stream(
    app: &CloudWatchLogs,
    input: types::CreateLogStreamRequest,
) -> Result<Option<Vec<u8>>, AwsError> {
    let (group, stream) = (input.log_group_name, input.log_stream_name);
    check_group_name(&group, "logGroupName")?;
    check_stream_name(&stream, "logStreamName")?;
    app.store
        .write(move |tx| {
            let mut meta = load_group_tx(tx, &group)?.ok_or_else(group_not_found)?;
            let keys = GroupKeys::of(&group, &meta);
            if load_stream_tx(tx, &keys, &stream)?.is_some() {
                return Err(AwsError::new(
                    "ResourceAlreadyExistsException",
                    400,
                    "The specified log stream already exists",
                ));
            }
            let s = StreamMeta {
                name: stream.clone(),
                id: meta.next_stream_id,
                creation_time: tx.now_ms(),
                first_event: None,
                last_event: None,
                last_ingestion: None,
                next_seq: 0,
                uploads: 0,
            };
            meta.next_stream_id += 1;
            put_stream(tx, &keys, &s)?;
            put_group(tx, &group, &meta)
        })
        .await?;
    Ok(None)
}

async fn delete_log_stream(
    app: &CloudWatchLogs,
    input: types::DeleteLogStreamRequest,
) -> Result<Option<Vec<u8>>, AwsError> {
    let (group, stream) = (input.log_group_name, input.log_stream_name);
    check_group_name(&group, "logGroupName")?;
    check_stream_name(&stream, "logStreamName")?;
    app.store
        .write(move |tx| {
            let g = load_group_tx(tx, &group)?.ok_or_else(group_not_found)?;
            let keys = GroupKeys::of(&group, &g);
            let s = load_stream_tx(tx, &keys, &stream)?.ok_or_else(stream_not_found)?;
            // The stream is gone for every reader from here on: readers skip events whose
            // stream id no longer exists. Its events go in the background, a chunk per job.
            tx.kv_delete(STREAMS, &stream_key(&keys, &stream))?;
            tx.kv_put(
                DEAD_STREAMS,
                &dead_stream_key(&keys, s.id),
                group.as_bytes(),
            )
        })
        .await?;
    app.logs.shared.cleanup.notify_one();
    Ok(None)
}

fn log_stream(app: &CloudWatchLogs, group: &str, s: &StreamMeta) -> types::LogStream {
    types::LogStream {
        log_stream_name: Some(s.name.clone()),
        creation_time: Some(s.creation_time),
        first_event_timestamp: s.first_event,
        last_event_timestamp: s.last_event,
        last_ingestion_time: s.last_ingestion,
        upload_sequence_token: Some(sequence_token(s)),
        arn: Some(format!(
            "{}:log-stream:{}",
            app.logs.shared.group_arn(group),
            s.name
        )),
        // Always zero for streams since 2019.
        stored_bytes: Some(0),
    }
}

/// The 56-digit `uploadSequenceToken` (ignored by PutLogEvents since 2023, still reported).
fn sequence_token(s: &StreamMeta) -> String {
    format!("{:028}{:028}", s.id, s.uploads + 1)
}

fn describe_log_streams(
    app: &CloudWatchLogs,
    input: types::DescribeLogStreamsRequest,
) -> Result<types::DescribeLogStreamsResponse, AwsError> {
    let group = group_of(input.log_group_name, input.log_group_identifier)?;
    let prefix = input.log_stream_name_prefix.as_deref();
    if let Some(p) = prefix {
        check_stream_name(p, "logStreamNamePrefix")?;
    }
    let by_time = match input.order_by.as_deref() {
        None | Some("LogStreamName") => false,
        Some("LastEventTime") => true,
        Some(other) => {
            return Err(constraint(
                &Value::String(other.into()),
                "orderBy",
                "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
            ))
        }
    };
    if by_time && prefix.is_some() {
        return Err(invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let descending = input.descending.unwrap_or(false);
    let limit = check_limit(input.limit, 50, 50)?;
    let token = input
        .next_token
        .as_deref()
        .map(from_hex_token)
        .transpose()?;
    let g = app.log_group(&group)?.ok_or_else(group_not_found)?;
    // Sort keys: the stream key, preceded by the last event time when ordering by it.
    let mut streams: Vec<(Vec<u8>, StreamMeta)> = app
        .log_streams(&GroupKeys::of(&group, &g), prefix.unwrap_or(""))?
        .into_iter()
        .map(|(key, meta)| {
            let sort = if by_time {
                let mut k = ts_bytes(meta.last_event.unwrap_or(0)).to_vec();
                k.extend_from_slice(&key);
                k
            } else {
                key
            };
            (sort, meta)
        })
        .collect();
    streams.sort_by(|a, b| a.0.cmp(&b.0));
    if descending {
        streams.reverse();
    }
    let start = match &token {
        None => 0,
        Some(t) => streams
            .iter()
            .position(|(k, _)| if descending { k < t } else { k > t })
            .unwrap_or(streams.len()),
    };
    let page: Vec<&(Vec<u8>, StreamMeta)> = streams.iter().skip(start).take(limit).collect();
    let next_token = if start + page.len() < streams.len() {
        page.last().map(|(k, _)| hex_token(k))
    } else {
        None
    };
    Ok(types::DescribeLogStreamsResponse {
        log_streams: Some(
            page.iter()
                .map(|(_, s)| log_stream(app, &group, s))
                .collect(),
        ),
        next_token,
    })
}

// ---------------------------------------------------------------------------------------------
// events

async fn put_log_events(
    app: &CloudWatchLogs,
    input: types::PutLogEventsRequest,
) -> Result<types::PutLogEventsResponse, AwsError> {
    // `sequenceToken` is ignored, as on AWS since 2023; `entity` is not kept.
    let (group, stream) = (input.log_group_name, input.log_stream_name);
    check_group_name(&group, "logGroupName")?;
    check_stream_name(&stream, "logStreamName")?;
    // The events are moved, never copied, from the input into the store job.
    let events = input.log_events;
    if events.is_empty() || events.len() > MAX_EVENTS as usize {
        let rule = if events.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 10000"
        };
        let shown = if events.is_empty() { "[]" } else { "[…]" };
        return Err(constraint(&Value::String(shown.into()), "logEvents", rule));
    }
    let mut size = 0usize;
    for (i, e) in events.iter().enumerate() {
        let field = |name: &str| format!("logEvents.{}.member.{name}", i + 1);
        if e.timestamp < 0 {
            return Err(constraint(
                &Value::String(e.timestamp.to_string()),
                &field("timestamp"),
                "Member must have value greater than or equal to 0",
            ));
        }
        if e.message.is_empty() {
            return Err(constraint(
                &Value::String(String::new()),
                &field("message"),
                "Member must have length greater than or equal to 1",
            ));
        }
        size += e.message.len() + EVENT_OVERHEAD;
    }
    if events.windows(2).any(|w| w[1].timestamp < w[0].timestamp) {
        return Err(invalid(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    if size > MAX_PAGE_BYTES {
        return Err(invalid(format!(
            "Upload too large: {size} bytes exceeds limit of {MAX_PAGE_BYTES}"
        )));
    }
    let now = app.logs_now();
    let valid = |ts: &i64| *ts >= now - TOO_OLD_MS && *ts <= now + TOO_NEW_MS;
    let span = events.iter().map(|e| e.timestamp).filter(valid);
    if let (Some(first), Some(last)) = (span.clone().min(), span.max()) {
        if last - first > MAX_SPAN_MS {
            return Err(invalid(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
            ));
        }
    }
    let default_retention = app.logs.shared.default_retention_days;
    let (token, rejected) = app
        .store
        .write(move |tx| {
            let mut g = load_group_tx(tx, &group)?.ok_or_else(group_not_found)?;
            let keys = GroupKeys::of(&group, &g);
            let mut s = load_stream_tx(tx, &keys, &stream)?.ok_or_else(stream_not_found)?;
            let now = tx.now_ms();
            let expired_before = g
                .retention_days
                .or(default_retention)
                .map(|d| now - i64::from(d) * DAY_MS);
            let mut rejected = types::RejectedLogEventsInfo::default();
            let mut accepted = Vec::with_capacity(events.len());
            for (i, e) in events.iter().enumerate() {
                // At most 10,000 events: the index fits.
                let index = Some(i as i32);
                let ts = e.timestamp;
                if ts > now + TOO_NEW_MS {
                    rejected.too_new_log_event_start_index =
                        rejected.too_new_log_event_start_index.or(index);
                } else if ts < now - TOO_OLD_MS {
                    rejected.too_old_log_event_end_index = index;
                } else if expired_before.is_some_and(|cut| ts < cut) {
                    rejected.expired_log_event_end_index = index;
                } else {
                    accepted.push((ts, e.message.as_str()));
                }
            }
            append_events(tx, &keys, &mut g, &mut s, accepted.into_iter())?;
            s.uploads += 1;
            put_stream(tx, &keys, &s)?;
            put_group(tx, &group, &g)?;
            Ok((sequence_token(&s), rejected))
        })
        .await?;
    Ok(types::PutLogEventsResponse {
        next_sequence_token: Some(token),
        rejected_log_events_info: (rejected != types::RejectedLogEventsInfo::default())
            .then_some(rejected),
        // No entity is ever sent back as rejected: entities are not kept.
        rejected_entity_info: None,
    })
}

/// GetLogEvents' page tokens: `f/` or `b/` and 56 digits naming a position between events of
/// one stream (timestamp, seq) plus the stream's id.
fn position_token(forward: bool, pos: Pos, stream_id: u64) -> String {
    let dir = if forward { 'f' } else { 'b' };
    format!(
        "{dir}/{:020}{:020}{:016}",
        pos.ts.max(0),
        pos.seq,
        stream_id % 10u64.pow(16)
    )
}

fn parse_position_token(token: &str, stream_id: u64) -> Result<(bool, Pos), AwsError> {
    let (forward, digits) = match token.split_at_checked(2) {
        Some(("f/", d)) => (true, d),
        Some(("b/", d)) => (false, d),
        _ => return Err(bad_token()),
    };
    if digits.len() != 56 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_token());
    }
    let ts: i64 = digits[..20].parse().map_err(|_| bad_token())?;
    let seq: u64 = digits[20..40].parse().map_err(|_| bad_token())?;
    let id: u64 = digits[40..].parse().map_err(|_| bad_token())?;
    if id != stream_id % 10u64.pow(16) {
        return Err(bad_token());
    }
    Ok((forward, Pos { ts, seq }))
}

fn get_log_events(
    app: &CloudWatchLogs,
    input: types::GetLogEventsRequest,
) -> Result<types::GetLogEventsResponse, AwsError> {
    // `unmask`: no data protection policies here, nothing is ever masked.
    let group = group_of(input.log_group_name, input.log_group_identifier)?;
    let stream = input.log_stream_name;
    check_stream_name(&stream, "logStreamName")?;
    let start_time = check_time(input.start_time, "startTime")?;
    let end_time = check_time(input.end_time, "endTime")?;
    let limit = check_limit(input.limit, MAX_EVENTS, MAX_EVENTS)?;
    let from_head = input.start_from_head.unwrap_or(false);
    let token = input.next_token.as_deref();
    let g = app.log_group(&group)?.ok_or_else(group_not_found)?;
    let keys = GroupKeys::of(&group, &g);
    let s = app
        .log_stream(&keys, &stream)?
        .ok_or_else(stream_not_found)?;
    let (forward, given) = match token {
        Some(t) => {
            let (forward, pos) = parse_position_token(t, s.id)?;
            (forward, Some(pos))
        }
        None => (from_head, None),
    };

    // The window: [startTime, endTime), never before what retention keeps.
    let oldest = app.logs.shared.cutoff(&g, app.logs_now());
    let lo = Pos {
        ts: start_time.unwrap_or(0).max(oldest.unwrap_or(i64::MIN)),
        seq: 0,
    };
    let hi = end_time.map(|ts| Pos { ts, seq: 0 });
    let (lower, upper) = match given {
        Some(p) if forward => (p.max(lo), hi),
        Some(p) => (lo, Some(hi.map_or(p, |h| h.min(p)))),
        None => (lo, hi),
    };
    let prefix_len = keys.prefix.len();
    let lower_key = event_key(&keys, s.id, lower);
    let upper_key = match upper {
        Some(p) => event_key(&keys, s.id, p),
        None => stream_events_end(&keys, s.id),
    };
    let mut events: Vec<Event> = if lower_key < upper_key {
        app.store
            .kv_range(
                EVENTS,
                Bound::Included(&lower_key),
                Bound::Excluded(&upper_key),
                !forward,
                limit,
            )?
            .iter()
            .filter_map(|(k, v)| Event::from_stream_entry(prefix_len, k, v))
            .collect()
    } else {
        Vec::new()
    };
    // The page's size limit, counted from where the reading started.
    let mut bytes = 0;
    let keep = events
        .iter()
        .take_while(|e| {
            bytes += e.page_bytes();
            bytes <= MAX_PAGE_BYTES
        })
        .count()
        .max(events.len().min(1));
    events.truncate(keep);
    if !forward {
        events.reverse();
    }
    let (next_forward, next_backward) = match (events.first(), events.last()) {
        (Some(first), Some(last)) => (
            Pos {
                ts: last.pos.ts,
                seq: last.pos.seq + 1,
            },
            first.pos,
        ),
        // Nothing here: both tokens stay where this call looked, so a token passed in comes
        // back unchanged (the end of the stream in that direction).
        _ => {
            let at = given.unwrap_or(lo);
            (at, at)
        }
    };
    Ok(types::GetLogEventsResponse {
        // The messages move from the events read into the answer.
        events: Some(
            events
                .into_iter()
                .map(|e| types::OutputLogEvent {
                    timestamp: Some(e.pos.ts),
                    message: Some(e.message),
                    ingestion_time: Some(e.ingestion),
                })
                .collect(),
        ),
        next_forward_token: Some(position_token(true, next_forward, s.id)),
        next_backward_token: Some(position_token(false, next_backward, s.id)),
    })
}

/// FilterLogEvents' `nextToken`: direction and the group time-index key to continue after.
fn filter_token(forward: bool, key: &[u8]) -> String {
    format!("{}{}", if forward { 'f' } else { 'b' }, hex_token(key))
}

fn filter_log_events(
    app: &CloudWatchLogs,
    input: types::FilterLogEventsRequest,
) -> Result<types::FilterLogEventsResponse, AwsError> {
    // `interleaved` is deprecated and always true on AWS; `unmask`: nothing is ever masked.
    let group = group_of(input.log_group_name, input.log_group_identifier)?;
    let names = match input.log_stream_names {
        None => None,
        Some(names) => {
            if names.is_empty() || names.len() > 100 {
                return Err(constraint(
                    &Value::String("[…]".into()),
                    "logStreamNames",
                    "Member must have length less than or equal to 100, Member must have length greater than or equal to 1",
                ));
            }
            for n in &names {
                check_stream_name(n, "logStreamNames.member")?;
            }
            Some(names)
        }
    };
    let prefix = input.log_stream_name_prefix.as_deref();
    if let Some(p) = prefix {
        check_stream_name(p, "logStreamNamePrefix")?;
    }
    if names.is_some() && prefix.is_some() {
        return Err(invalid(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ));
    }
    let start_time = check_time(input.start_time, "startTime")?;
    let end_time = check_time(input.end_time, "endTime")?;
    let pattern = input.filter_pattern.as_deref().unwrap_or("");
    check_length(pattern, "filterPattern", 0, 1024)?;
    let pattern = TermPattern::parse(pattern).map_err(invalid)?;
    let limit = check_limit(input.limit, MAX_EVENTS, MAX_EVENTS)?;
    let token = input.next_token.as_deref();
    let from_head = input.start_from_head.unwrap_or(true);
    if !from_head && token.is_none() && start_time.is_some_and(|t| t < 1_704_067_200_000) {
        return Err(invalid(
            "Setting startFromHead to false is supported only when startTime is on or after Jan 1, 2024 00:00:00 UTC.",
        ));
    }
    let g = app.log_group(&group)?.ok_or_else(group_not_found)?;

    // The streams searched, by id.
    let keys = GroupKeys::of(&group, &g);
    let streams: HashMap<u64, String> = app
        .log_streams(&keys, prefix.unwrap_or(""))?
        .into_iter()
        .filter(|(_, s)| names.as_ref().is_none_or(|n| n.contains(&s.name)))
        .map(|(_, s)| (s.id, s.name))
        .collect();

    let prefix_key = keys.prefix.clone();
    let oldest = app.logs.shared.cutoff(&g, app.logs_now());
    let lo_ts = start_time.unwrap_or(0).max(oldest.unwrap_or(i64::MIN));
    let mut lower = prefix_key.clone();
    lower.extend_from_slice(&ts_bytes(lo_ts));
    // endTime is inclusive here (unlike GetLogEvents).
    let upper = match end_time.and_then(|t| t.checked_add(1)) {
        Some(t) => {
            let mut k = prefix_key.clone();
            k.extend_from_slice(&ts_bytes(t));
            k
        }
        None => keys.end.clone(),
    };
    let (forward, mut lower, mut upper) = match token {
        None => (from_head, Bound::Included(lower), Bound::Excluded(upper)),
        Some(t) => {
            let (dir, hex) = t.split_at_checked(1).ok_or_else(bad_token)?;
            let key = from_hex_token(hex)?;
            if !key.starts_with(&prefix_key) {
                return Err(bad_token());
            }
            match dir {
                "f" => (
                    true,
                    Bound::Excluded(key.max(lower)),
                    Bound::Excluded(upper),
                ),
                "b" => (
                    false,
                    Bound::Included(lower),
                    Bound::Excluded(key.min(upper)),
                ),
                _ => return Err(bad_token()),
            }
        }
    };

    let mut events = Vec::new();
    let mut bytes = 0;
    let mut scanned = 0;
    let mut resume: Option<Vec<u8>> = None;
    'scan: loop {
        let chunk = app.store.kv_range(
            BY_TIME,
            as_ref_bound(&lower),
            as_ref_bound(&upper),
            !forward,
            CHUNK,
        )?;
        let done = chunk.len() < CHUNK;
        for (k, v) in chunk {
            if events.len() >= limit || scanned >= FILTER_SCAN_BUDGET {
                break 'scan;
            }
            scanned += 1;
            let Some(e) = Event::from_time_entry(prefix_key.len(), &k, &v) else {
                continue;
            };
            let stream_name = streams.get(&e.stream_id);
            if let Some(name) = stream_name.filter(|_| pattern.matches(&e.message)) {
                if bytes + e.page_bytes() > MAX_PAGE_BYTES && !events.is_empty() {
                    break 'scan;
                }
                bytes += e.page_bytes();
                let event_id = e.event_id();
                events.push(types::FilteredLogEvent {
                    log_stream_name: Some(name.clone()),
                    timestamp: Some(e.pos.ts),
                    // Moved from the event read, not copied.
                    message: Some(e.message),
                    ingestion_time: Some(e.ingestion),
                    event_id: Some(event_id),
                });
            }
            resume = Some(k.clone());
            if forward {
                lower = Bound::Excluded(k);
            } else {
                upper = Bound::Excluded(k);
            }
        }
        if done {
            resume = None;
            break;
        }
    }
    Ok(types::FilterLogEventsResponse {
        events: Some(events),
        // Deprecated: AWS answers an empty list.
        searched_log_streams: Some(Vec::new()),
        next_token: resume.map(|k| filter_token(forward, &k)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, message: &str) -> bool {
        TermPattern::parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn empty_patterns_match_everything() {
        assert!(m("", "anything"));
        assert!(m("   ", "anything"));
        assert!(m("\"\"", "anything"));
    }

    #[test]
    fn all_terms_must_occur_case_sensitively() {
        assert!(m("ERROR", "[ERROR] boom"));
        assert!(!m("ERROR", "[error] boom"));
        assert!(m("ERROR boom", "[ERROR] boom"));
        assert!(!m("ERROR bang", "[ERROR] boom"));
        assert!(m("boom ERROR", "[ERROR] boom"), "order does not matter");
    }

    #[test]
    fn quoted_phrases_match_exactly() {
        assert!(m("\"INTERNAL SERVER ERROR\"", "500 INTERNAL SERVER ERROR"));
        assert!(!m("\"SERVER INTERNAL\"", "500 INTERNAL SERVER ERROR"));
        assert!(m("\"a \\\"b\\\"\"", "x a \"b\" y"));
        assert!(m(
            "\"RequestId: 1\" Duration",
            "REPORT RequestId: 1\tDuration: 2 ms"
        ));
    }

    #[test]
    fn question_marks_make_alternatives() {
        assert!(m("?ERROR ?WARN", "WARN disk"));
        assert!(m("?ERROR ?WARN", "ERROR disk"));
        assert!(!m("?ERROR ?WARN", "INFO disk"));
        // Term groups: (ERROR and db) or (WARN and disk).
        assert!(m("?ERROR db ?WARN disk", "ERROR db"));
        assert!(m("?ERROR db ?WARN disk", "WARN disk"));
        assert!(!m("?ERROR db ?WARN disk", "ERROR disk"));
        assert!(m("?\"not found\" ?timeout", "a timeout"));
    }

    #[test]
    fn minus_excludes() {
        assert!(m("ERROR -retry", "ERROR fatal"));
        assert!(!m("ERROR -retry", "ERROR will retry"));
        assert!(m("-DEBUG", "INFO x"));
        assert!(!m("-DEBUG", "DEBUG x"));
        assert!(!m("-\"will retry\"", "ERROR will retry"));
    }

    #[test]
    fn unsupported_and_broken_patterns_are_refused() {
        assert!(TermPattern::parse("{ $.level = \"ERROR\" }").is_err());
        assert!(TermPattern::parse("[ip, user]").is_err());
        assert!(TermPattern::parse("%ERR.R%").is_err());
        assert!(TermPattern::parse("\"unterminated").is_err());
        assert!(TermPattern::parse("ERROR ?").is_err());
    }

    #[test]
    fn keys_sort_like_names_and_times() {
        let meta = |id| GroupMeta {
            id,
            creation_time: 0,
            retention_days: None,
            next_stream_id: 1,
            stored_bytes: 0,
            tags: BTreeMap::new(),
            log_group_class: "STANDARD".into(),
            kms_key_id: None,
        };
        let g = GroupKeys::of("g", &meta(Some(7)));
        let a = stream_key(&g, "a");
        let a0 = stream_key(&g, "a\0");
        let ab = stream_key(&g, "ab");
        assert!(a < a0 && a0 < ab);
        assert!(ts_bytes(-1) < ts_bytes(0) && ts_bytes(0) < ts_bytes(1));
        assert_eq!(ts_from(&ts_bytes(-5)), -5);
        assert_eq!(ts_from(&ts_bytes(1_700_000_000_000)), 1_700_000_000_000);
        // A group's keys stay below the next group's, in both layouts, and the two layouts
        // never overlap (names start with a printable byte, ids with NUL).
        let next = GroupKeys::of("g", &meta(Some(8)));
        assert!(g.end <= next.prefix);
        assert!(time_key(&g, i64::MAX, u64::MAX, u64::MAX) < g.end);
        let (old, old0) = (
            GroupKeys::of("g", &meta(None)),
            GroupKeys::of("g0", &meta(None)),
        );
        assert!(old.end < old0.prefix);
        assert!(time_key(&old, i64::MAX, u64::MAX, u64::MAX) < old.end);
        assert!(next.end < old.prefix);
    }

    #[test]
    fn position_tokens_round_trip() {
        let pos = Pos {
            ts: 1_700_000_000_123,
            seq: 42,
        };
        let t = position_token(true, pos, 7);
        assert_eq!(t.len(), 58);
        assert!(t.starts_with("f/"));
        assert_eq!(parse_position_token(&t, 7).unwrap(), (true, pos));
        let b = position_token(false, pos, 7);
        assert_eq!(parse_position_token(&b, 7).unwrap(), (false, pos));
        assert!(
            parse_position_token(&t, 8).is_err(),
            "another stream's token"
        );
        assert!(parse_position_token("f/123", 7).is_err());
        assert!(parse_position_token("x/", 7).is_err());
    }

    #[test]
    fn event_ids_have_56_digits() {
        let e = Event {
            stream_id: 3,
            pos: Pos {
                ts: 1_700_000_000_000,
                seq: 9,
            },
            ingestion: 0,
            message: String::new(),
        };
        let id = e.event_id();
        assert_eq!(id.len(), 56);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
    }
}

#[cfg(test)]
mod wire_tests;

//! DynamoDB Streams (JSON 1.0, `DynamoDBStreams_20120810.*`): ListStreams, DescribeStream,
//! GetShardIterator, GetRecords over the store's shards.

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tributary_model::arn::parse_stream_arn;
use tributary_model::clock::epoch_seconds;
use tributary_model::stream::StreamRecord;
use tributary_model::AwsError;
use tributary_store::{ShardMeta, StreamMeta};

use tributary_dynamodb::{key_schema_to_json, unknown_operation};
use tributary_shapes::generated::dynamodbstreams as model;
use tributary_shapes::validate::{validate_object, MapStyle, Options};

use std::sync::Arc;
use tributary_service::json::{check_range, constraint, Req};

use tributary_service::{Config, Request, Response};
use tributary_store::Store;

/// DynamoDB Streams: the store's shards, read through signed iterators; and the upkeep that
/// rolls shards over and trims records past retention.
pub struct Streams {
    pub(crate) cfg: Arc<Config>,
    pub(crate) store: Store,
    /// Signs shard iterators, so a client cannot forge one.
    pub(crate) iterator_secret: [u8; 32],
    /// Signalled when the server clock is moved by hand.
    pub(crate) time_moved: Arc<tokio::sync::Notify>,
}

impl Streams {
    pub fn new(cfg: Arc<Config>, store: Store, time_moved: Arc<tokio::sync::Notify>) -> Streams {
        Streams {
            cfg,
            store,
            iterator_secret: rand::random(),
            time_moved,
        }
    }

    /// Starts the shard roll-over and retention upkeep; it stops when `cancel` is cancelled.
    pub fn start(self: &Arc<Self>, cancel: tokio_util::sync::CancellationToken) {
        tokio::spawn(run_maintenance(self.clone(), cancel));
    }
}

#[async_trait::async_trait]
impl tributary_service::Service for Streams {
    async fn call(&self, req: Request) -> Response {
        tributary_service::json::serve_json10(
            &req,
            "DynamoDBStreams_20120810",
            |op, body| async move { dispatch(self, op, &body).await },
        )
        .await
    }
}

/// Iterators expire this long after they were issued.
const ITERATOR_TTL_MS: i64 = 15 * 60 * 1000;
/// GetRecords returns at most this many bytes of records.
const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// Where the Streams validator differs from a plain reading of its model.
const VALIDATION: Options<'static> = Options {
    map_style: MapStyle::PerEntry,
    skip: &[],
    name_or_arn: &[],
    // AWS prints these enums in an order of its own (a Java hash set).
    enum_text: &[(
        "ShardIteratorType",
        "[AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
    )],
    max_errors: 10,
};

async fn dispatch(app: &Streams, op: &str, body: &Map<String, Value>) -> Result<Value, AwsError> {
    // The model's constraints first, as AWS's request validator runs before any handler.
    if let Some(o) = model::Operation::from_name(op) {
        validate_object(&model::SERVICE, o.def(), body, &VALIDATION)
            .map_err(|v| AwsError::validation(v.message()))?;
    }
    let req = Req(body);
    match op {
        "ListStreams" => list_streams(app, req),
        "DescribeStream" => describe_stream(app, req),
        "GetShardIterator" => get_shard_iterator(app, req),
        "GetRecords" => get_records(app, req),
        _ => Err(unknown_operation(op)),
    }
}

fn stream_arn_param<'a>(req: &Req<'a>) -> Result<&'a str, AwsError> {
    let arn = req.str_req("StreamArn", "streamArn")?;
    if arn.len() < 37 || arn.len() > 1024 || parse_stream_arn(arn).is_none() {
        return Err(AwsError::validation(format!("Invalid StreamArn: {arn}")));
    }
    Ok(arn)
}

fn stream_not_found(arn: &str) -> AwsError {
    AwsError::ddb_not_found(format!(
        "Requested resource not found: Stream: {arn} not found"
    ))
}

/// Records that arrived before this instant (server clock) are past retention.
fn retention_cutoff(app: &Streams) -> i64 {
    app.store.clock().now_millis() - app.cfg.stream_retention_ms
}

/// A stream that still exists: disabled streams vanish once their retention has passed.
fn lookup_stream(app: &Streams, arn: &str) -> Result<StreamMeta, AwsError> {
    let cutoff = retention_cutoff(app);
    app.store
        .catalog()
        .streams
        .get(arn)
        .filter(|s| !s.expired(cutoff))
        .cloned()
        .ok_or_else(|| stream_not_found(arn))
}

fn shard_not_found(shard_id: &str) -> AwsError {
    AwsError::ddb_not_found(format!(
        "Requested resource not found: Shard does not exist: {shard_id}"
    ))
}

/// A shard of `stream` that has not been trimmed away entirely.
fn lookup_shard<'a>(
    app: &Streams,
    stream: &'a StreamMeta,
    shard_id: &str,
) -> Result<&'a ShardMeta, AwsError> {
    stream
        .shard(shard_id)
        .filter(|s| !s.expired(retention_cutoff(app)))
        .ok_or_else(|| shard_not_found(shard_id))
}

fn trimmed() -> AwsError {
    AwsError::new(
        "TrimmedDataAccessException",
        400,
        "The data you are trying to access has been trimmed.",
    )
}

/// Whether a position in a shard points into trimmed data: records at or after it were
/// removed (below the shard's trim point) or have passed retention and are about to be.
/// `first` is the first record at or after the position, when the caller has read it.
fn is_trimmed(app: &Streams, shard: &ShardMeta, from: u128, first: Option<&StreamRecord>) -> bool {
    shard.trimmed_to.is_some_and(|t| from <= t)
        || first.is_some_and(|r| {
            r.arrival_ms < retention_cutoff(app) && shard.end_seq.is_none_or(|e| r.sequence <= e)
        })
}

/// The oldest untrimmed position of a shard (TRIM_HORIZON): past the trim point and past
/// records retention has expired but the trimmer has not removed yet.
fn trim_horizon(app: &Streams, shard: &ShardMeta) -> Result<u128, AwsError> {
    let mut from = shard
        .trimmed_to
        .map_or(shard.start_seq, |t| (t + 1).max(shard.start_seq));
    let cutoff = retention_cutoff(app);
    loop {
        let page = app.store.read_records(shard.iid, from, 1000)?;
        let Some(pos) = page.iter().position(|r| r.arrival_ms >= cutoff) else {
            match page.last() {
                Some(last) if page.len() == 1000 => {
                    from = last.sequence + 1;
                    continue;
                }
                Some(last) => return Ok(last.sequence + 1),
                None => return Ok(from),
            }
        };
        return Ok(page[pos].sequence);
    }
}

fn list_streams(app: &Streams, req: Req<'_>) -> Result<Value, AwsError> {
    let limit = req.int_opt("Limit")?.unwrap_or(100);
    check_range(limit, 1, 100, "limit")?;
    let table = req.str_opt("TableName")?;
    let start = req.str_opt("ExclusiveStartStreamArn")?;
    if let Some(s) = start {
        if parse_stream_arn(s).is_none() {
            return Err(AwsError::validation(format!(
                "Invalid ExclusiveStartStreamArn: {s}"
            )));
        }
    }
    let cutoff = retention_cutoff(app);
    let cat = app.store.catalog();
    let mut all: Vec<&StreamMeta> = cat
        .streams
        .values()
        .filter(|s| table.is_none_or(|t| s.table_name == t))
        .filter(|s| !s.expired(cutoff))
        .collect();
    all.sort_by(|a, b| (&a.table_name, &a.label).cmp(&(&b.table_name, &b.label)));
    let begin = match start {
        Some(s) => all
            .iter()
            .position(|x| x.arn == s)
            .map_or(all.len(), |i| i + 1),
        None => 0,
    };
    let rest = &all[begin.min(all.len())..];
    let page: Vec<Value> = rest
        .iter()
        .take(limit as usize)
        .map(|s| json!({"StreamArn": s.arn, "TableName": s.table_name, "StreamLabel": s.label}))
        .collect();
    let mut out = json!({ "Streams": page });
    if rest.len() > limit as usize {
        out["LastEvaluatedStreamArn"] = json!(rest[limit as usize - 1].arn);
    }
    Ok(out)
}

fn shard_json(s: &ShardMeta) -> Value {
    let mut range = Map::new();
    range.insert(
        "StartingSequenceNumber".into(),
        json!(s.start_seq.to_string()),
    );
    if let Some(end) = s.end_seq {
        range.insert("EndingSequenceNumber".into(), json!(end.to_string()));
    }
    let mut v = json!({ "ShardId": s.shard_id, "SequenceNumberRange": range });
    if let Some(p) = &s.parent_shard_id {
        v["ParentShardId"] = json!(p);
    }
    v
}

fn describe_stream(app: &Streams, req: Req<'_>) -> Result<Value, AwsError> {
    let arn = stream_arn_param(&req)?;
    let limit = req.int_opt("Limit")?.unwrap_or(100);
    check_range(limit, 1, 100, "limit")?;
    let start = req.str_opt("ExclusiveStartShardId")?;
    if let Some(s) = start {
        check_shard_id_len(s, "exclusiveStartShardId")?;
    }
    let parent = shard_filter(&req)?;
    let stream = lookup_stream(app, arn)?;
    let cutoff = retention_cutoff(app);
    let mut shards: Vec<&ShardMeta> = stream
        .shards
        .iter()
        .filter(|s| !s.expired(cutoff))
        .filter(|s| parent.is_none_or(|p| s.parent_shard_id.as_deref() == Some(p)))
        .collect();
    shards.sort_by(|a, b| a.shard_id.cmp(&b.shard_id));
    let begin = match start {
        Some(s) => shards
            .iter()
            .position(|x| x.shard_id.as_str() > s)
            .unwrap_or(shards.len()),
        None => 0,
    };
    let rest = &shards[begin..];
    let page: Vec<Value> = rest
        .iter()
        .take(limit as usize)
        .map(|s| shard_json(s))
        .collect();
    let status = if stream.enabled {
        "ENABLED"
    } else {
        "DISABLED"
    };
    let mut d = json!({
        "StreamArn": stream.arn,
        "StreamLabel": stream.label,
        "StreamStatus": status,
        "StreamViewType": stream.view_type.as_str(),
        "CreationRequestDateTime": epoch_seconds(stream.created_ms),
        "TableName": stream.table_name,
        "KeySchema": key_schema_to_json(&stream.key_schema),
        "Shards": page,
    });
    if rest.len() > limit as usize {
        d["LastEvaluatedShardId"] = json!(rest[limit as usize - 1].shard_id);
    }
    Ok(json!({ "StreamDescription": d }))
}

fn check_shard_id_len(id: &str, field: &str) -> Result<(), AwsError> {
    if id.len() < 28 || id.len() > 65 {
        return Err(constraint(
            &Value::String(id.into()),
            field,
            if id.len() < 28 {
                "Member must have length greater than or equal to 28"
            } else {
                "Member must have length less than or equal to 65"
            },
        ));
    }
    Ok(())
}

/// `ShardFilter {"Type": "CHILD_SHARDS", "ShardId": parent}`: the parent whose children to list.
fn shard_filter<'a>(req: &Req<'a>) -> Result<Option<&'a str>, AwsError> {
    let Some(filter) = req.0.get("ShardFilter") else {
        return Ok(None);
    };
    if filter.is_null() {
        return Ok(None);
    }
    let obj = filter.as_object().ok_or_else(|| {
        AwsError::serialization("Unexpected value type in payload: ShardFilter must be an object")
    })?;
    let inner = Req(obj);
    let ty = inner.str_opt("Type")?;
    match ty {
        Some("CHILD_SHARDS") => {}
        Some(other) => {
            return Err(constraint(
                &Value::String(other.into()),
                "shardFilter.type",
                "Member must satisfy enum value set: [CHILD_SHARDS]",
            ))
        }
        None => {
            return Err(AwsError::validation(
                "1 validation error detected: Value null at 'shardFilter.type' failed to satisfy constraint: Member must not be null",
            ))
        }
    }
    let shard_id = inner.str_opt("ShardId")?.ok_or_else(|| {
        AwsError::validation(
            "1 validation error detected: Value null at 'shardFilter.shardId' failed to satisfy constraint: Member must not be null",
        )
    })?;
    check_shard_id_len(shard_id, "shardFilter.shardId")?;
    Ok(Some(shard_id))
}

/// Where an iterator points: the next record to return has a sequence number ≥ `from`.
struct IteratorPos {
    stream_arn: String,
    shard_id: String,
    from: u128,
    issued_ms: i64,
}

fn mac(secret: &[u8; 32], payload: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(payload.as_bytes());
    let d = h.finalize();
    d[..12].iter().map(|b| format!("{b:02x}")).collect()
}

fn encode_iterator(app: &Streams, p: &IteratorPos) -> String {
    let payload = format!("{}|{}|{}", p.shard_id, p.from, p.issued_ms);
    let tag = mac(&app.iterator_secret, &format!("{}|{payload}", p.stream_arn));
    format!(
        "{}|1|{}",
        p.stream_arn,
        B64.encode(format!("{payload}|{tag}"))
    )
}

fn decode_iterator(app: &Streams, it: &str) -> Option<IteratorPos> {
    let (rest, b64) = it.rsplit_once('|')?;
    let stream_arn = rest.strip_suffix("|1")?;
    let raw = String::from_utf8(B64.decode(b64).ok()?).ok()?;
    let mut parts = raw.split('|');
    let shard_id = parts.next()?;
    let from = parts.next()?;
    let issued = parts.next()?;
    let tag = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let payload = format!("{shard_id}|{from}|{issued}");
    if mac(&app.iterator_secret, &format!("{stream_arn}|{payload}")) != tag {
        return None;
    }
    Some(IteratorPos {
        stream_arn: stream_arn.to_owned(),
        shard_id: shard_id.to_owned(),
        from: from.parse().ok()?,
        issued_ms: issued.parse().ok()?,
    })
}

fn get_shard_iterator(app: &Streams, req: Req<'_>) -> Result<Value, AwsError> {
    let arn = stream_arn_param(&req)?;
    let shard_id = req.str_req("ShardId", "shardId")?;
    let ty = req.str_req("ShardIteratorType", "shardIteratorType")?;
    let seq = req.str_opt("SequenceNumber")?;
    let needs_seq = match ty {
        "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER" => true,
        "TRIM_HORIZON" | "LATEST" => false,
        other => {
            return Err(constraint(
                &Value::String(other.into()),
                "shardIteratorType",
                "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
            ))
        }
    };
    if needs_seq && seq.is_none() {
        return Err(AwsError::validation(format!(
            "Must provide a sequence number for iterator type {ty}"
        )));
    }
    if !needs_seq && seq.is_some() {
        return Err(AwsError::validation(format!(
            "Cannot provide a sequence number for iterator type {ty}"
        )));
    }
    let seq_num = match seq {
        Some(s) => {
            if s.len() < 21 || s.len() > 40 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(AwsError::validation(format!("Invalid SequenceNumber: {s}")));
            }
            Some(
                s.parse::<u128>()
                    .map_err(|_| AwsError::validation(format!("Invalid SequenceNumber: {s}")))?,
            )
        }
        None => None,
    };
    check_shard_id_len(shard_id, "shardId")?;
    let stream = lookup_stream(app, arn)?;
    let shard = lookup_shard(app, &stream, shard_id)?;
    let from = match (ty, seq_num) {
        ("TRIM_HORIZON", _) => trim_horizon(app, shard)?,
        ("LATEST", _) => match shard.end_seq {
            Some(end) => end + 1,
            None => app
                .store
                .last_sequence(shard.iid)?
                .map_or(shard.start_seq, |s| s + 1),
        },
        ("AT_SEQUENCE_NUMBER", Some(s)) => s,
        (_, Some(s)) => s + 1,
        _ => 0,
    };
    if seq_num.is_some()
        && is_trimmed(
            app,
            shard,
            from,
            app.store.read_records(shard.iid, from, 1)?.first(),
        )
    {
        return Err(trimmed());
    }
    let pos = IteratorPos {
        stream_arn: arn.to_owned(),
        shard_id: shard_id.to_owned(),
        from,
        issued_ms: app.store.clock().now_millis(),
    };
    Ok(json!({ "ShardIterator": encode_iterator(app, &pos) }))
}

fn get_records(app: &Streams, req: Req<'_>) -> Result<Value, AwsError> {
    let it = req.str_req("ShardIterator", "shardIterator")?;
    let limit = req.int_opt("Limit")?.unwrap_or(1000);
    check_range(limit, 1, 1000, "limit")?;
    if it.is_empty() || it.len() > 2048 {
        return Err(AwsError::validation("Invalid ShardIterator"));
    }
    let pos =
        decode_iterator(app, it).ok_or_else(|| AwsError::validation("Invalid ShardIterator"))?;
    if app.store.clock().now_millis() - pos.issued_ms > ITERATOR_TTL_MS {
        return Err(AwsError::new(
            "ExpiredIteratorException",
            400,
            "The provided iterator exceeds the maximum age allowed.",
        ));
    }
    let stream = lookup_stream(app, &pos.stream_arn)?;
    let shard = stream
        .shard(&pos.shard_id)
        .ok_or_else(|| shard_not_found(&pos.shard_id))?;
    let records = app
        .store
        .read_records(shard.iid, pos.from, limit as usize)?;
    if is_trimmed(app, shard, pos.from, records.first()) {
        return Err(trimmed());
    }
    let mut out = Vec::with_capacity(records.len());
    let mut bytes = 0u64;
    let mut next = pos.from;
    for r in &records {
        if !out.is_empty() && bytes + r.size_bytes > MAX_RESPONSE_BYTES {
            break;
        }
        if shard.end_seq.is_some_and(|end| r.sequence > end) {
            break;
        }
        bytes += r.size_bytes;
        next = r.sequence + 1;
        out.push(r.to_streams_json(&app.cfg.region));
    }
    let mut resp = json!({ "Records": out });
    // A closed shard read to its end hands out no further iterator.
    let finished = shard
        .end_seq
        .is_some_and(|end| next > end || records.is_empty());
    if !finished {
        let np = IteratorPos {
            stream_arn: pos.stream_arn.clone(),
            shard_id: pos.shard_id.clone(),
            from: next,
            issued_ms: app.store.clock().now_millis(),
        };
        resp["NextShardIterator"] = json!(encode_iterator(app, &np));
    }
    Ok(resp)
}

/// `POST /_tributary/streams/rollover {"StreamArn": ..., "split": bool}`: closes the stream's
/// open shards now, each followed by one child (or two, splitting its keys, with `split`).
pub async fn rollover_endpoint(
    app: &Streams,
    body: &[u8],
) -> Result<axum::response::Response, AwsError> {
    let req = tributary_service::json::parse_body(body)?;
    let r = Req(&req);
    let arn = stream_arn_param(&r)?.to_owned();
    let split = r.bool_opt("split")?.unwrap_or(false);
    let stream = lookup_stream(app, &arn)?;
    if !stream.enabled {
        return Err(AwsError::validation(format!(
            "Stream {arn} is disabled; only an enabled stream's shards can roll over"
        )));
    }
    let children = app
        .store
        .write(move |tx| tx.roll_shards(&arn, split))
        .await?;
    let shards: Vec<Value> = children.iter().map(shard_json).collect();
    Ok(tributary_service::json::rest_ok(
        200,
        &json!({ "Shards": shards }),
    ))
}

/// How often (real time) the retention trimmer looks for expired records when the clock has
/// not been moved.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Records removed per write transaction, so trimming never holds up writers for long.
const TRIM_BUDGET: usize = 5000;

/// Time-driven stream upkeep under the server clock: rolls shards over once they have been
/// open for the configured time (as DynamoDB does about every four hours) and trims records
/// past retention. Woken early whenever the clock is moved.
async fn run_maintenance(
    app: std::sync::Arc<Streams>,
    cancel: tokio_util::sync::CancellationToken,
) {
    let mut last_trim = tokio::time::Instant::now();
    loop {
        let moved = tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => false,
            _ = app.time_moved.notified() => true,
        };
        roll_due_shards(&app).await;
        if moved || last_trim.elapsed() >= TRIM_EVERY {
            last_trim = tokio::time::Instant::now();
            trim_expired(&app).await;
        }
    }
}

async fn roll_due_shards(app: &Streams) {
    let now = app.store.clock().now_millis();
    let due: Vec<String> = app
        .store
        .catalog()
        .streams
        .values()
        .filter(|s| s.enabled)
        .filter(|s| {
            s.open_shards()
                .any(|sh| now - sh.created_ms >= app.cfg.shard_rollover_ms)
        })
        .map(|s| s.arn.clone())
        .collect();
    for arn in due {
        if let Err(e) = app.store.write(move |tx| tx.roll_shards(&arn, false)).await {
            tracing::warn!(error = %e, "shard roll-over failed");
        }
    }
}

/// Removes records past retention. Looks at each shard's oldest record first, so an idle
/// server never opens a write transaction for nothing.
async fn trim_expired(app: &Streams) {
    let cutoff = retention_cutoff(app);
    let shards: Vec<u64> = app
        .store
        .catalog()
        .streams
        .values()
        .flat_map(|s| s.shards.iter().map(|sh| sh.iid))
        .collect();
    let due = shards.into_iter().any(|iid| {
        app.store
            .read_records(iid, 0, 1)
            .ok()
            .and_then(|r| r.first().map(|r| r.arrival_ms < cutoff))
            .unwrap_or(false)
    });
    if !due {
        return;
    }
    loop {
        match app
            .store
            .write(move |tx| tx.trim_records(cutoff, TRIM_BUDGET))
            .await
        {
            Ok(n) if n >= TRIM_BUDGET => continue,
            Ok(n) => {
                tracing::debug!(removed = n, "stream records trimmed");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "stream trimming failed");
                return;
            }
        }
    }
}

//! DynamoDB Streams (JSON 1.0, `DynamoDBStreams_20120810.*`): ListStreams, DescribeStream,
//! GetShardIterator, GetRecords over the store's shards.

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;


use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tributary_model::arn::parse_stream_arn;
use tributary_model::attr::{item_into_wire, wire_item_json};
use tributary_model::stream::StreamRecord;
use tributary_model::AwsError;
use tributary_store::{KeySchema, ShardMeta, StreamMeta};

use tributary_dynamodb::unknown_operation;
use tributary_shapes::generated::dynamodbstreams as model;
use tributary_shapes::types::{from_object, Timestamp};
use tributary_shapes::validate::{validate_object, MapStyle, Options};

use std::sync::Arc;
use tributary_service::json::{check_range, constraint, output, Req};

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
/// The largest (and default) `Limit` of ListStreams and DescribeStream. The model only sets
/// the minimum (1); the maximum is checked here.
const PAGE_LIMIT: i64 = 100;
/// The largest (and default) `Limit` of GetRecords.
const RECORDS_LIMIT: i64 = 1000;

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
    let Some(o) = model::Operation::from_name(op) else {
        return Err(unknown_operation(op));
    };
    // The model's constraints first, as AWS's request validator runs before any handler.
    validate_object(&model::SERVICE, o.def(), body, &VALIDATION)
        .map_err(|v| AwsError::validation(v.message()))?;
    use model::Operation as O;
    match o {
        O::ListStreams => Ok(output(&list_streams(app, input(body, PAGE_LIMIT)?)?)),
        O::DescribeStream => {
            let input = input(body, PAGE_LIMIT)?;
            // serde also reads a structure from a JSON array; a ShardFilter must be an object.
            if body
                .get("ShardFilter")
                .is_some_and(|f| !f.is_null() && !f.is_object())
            {
                return Err(shard_filter_not_an_object());
            }
            Ok(output(&describe_stream(app, input)?))
        }
        O::GetShardIterator => Ok(output(&get_shard_iterator(
            app,
            shard_iterator_input(body)?,
        )?)),
        O::GetRecords => Ok(get_records(app, input(body, RECORDS_LIMIT)?)?.into_json()),
    }
}

/// The operation's generated input, read from the validated request object: plainly first
/// (the hot path), and only a failure again through `from_object`, which names the member of
/// the wrong type. `max_limit` is the operation's largest `Limit` (see [`type_error`]).
fn input<T: DeserializeOwned>(body: &Map<String, Value>, max_limit: i64) -> Result<T, AwsError> {
    T::deserialize(body)
        .or_else(|_| from_object(body).map_err(|e| type_error(body, &e.path, max_limit)))
}

/// GetShardIterator's input. Its `Timestamp` (for `AT_TIMESTAMP`, which this server refuses
/// below) is never read, so a wrong-typed one is no error: the input is read again without it.
/// Only that failure copies the (small) request.
fn shard_iterator_input(
    body: &Map<String, Value>,
) -> Result<types::GetShardIteratorInput, AwsError> {
    // GetShardIterator has no `Limit`: no largest one to pass.
    types::GetShardIteratorInput::deserialize(body).or_else(|_| {
        if body.contains_key("Timestamp") {
            let mut without = body.clone();
            without.remove("Timestamp");
            input(&without, 0)
        } else {
            input(body, 0)
        }
    })
}

/// The `SerializationException` for the member at `path` (serde's path: `Limit`,
/// `ShardFilter.Type`), worded as these handlers always have.
fn type_error(body: &Map<String, Value>, path: &str, max_limit: i64) -> AwsError {
    match path {
        // A whole number too large for the model's integer (the validator has refused those
        // below 1) fails the range check, as any other too-large `Limit`.
        "Limit" => {
            if let Some(Err(e)) = body
                .get("Limit")
                .and_then(Value::as_i64)
                .map(|n| check_range(n, 1, max_limit, "limit"))
            {
                return e;
            }
        }
        // Not an object (serde reads a structure from an array too, failing inside it).
        _ if path.starts_with("ShardFilter")
            && body.get("ShardFilter").is_some_and(|f| !f.is_object()) =>
        {
            return shard_filter_not_an_object()
        }
        _ => {}
    }
    // A member of a nested structure is named by itself (`Type`, not `ShardFilter.Type`).
    let member = path.rsplit('.').next().unwrap_or(path);
    AwsError::serialization(format!(
        "Unexpected value type in payload for member {member}"
    ))
}

fn shard_filter_not_an_object() -> AwsError {
    AwsError::serialization("Unexpected value type in payload: ShardFilter must be an object")
}

/// A stream ARN given to DescribeStream, GetShardIterator or the rollover endpoint must name a
/// stream (the length is checked again for the endpoint, which has no validator).
fn check_stream_arn(arn: &str) -> Result<(), AwsError> {
    if arn.len() < 37 || arn.len() > 1024 || parse_stream_arn(arn).is_none() {
        return Err(AwsError::validation(format!("Invalid StreamArn: {arn}")));
    }
    Ok(())
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
        let page = app
            .store
            .read_records(shard.iid, from, 1000, MAX_RESPONSE_BYTES)?;
        let Some(pos) = page.iter().position(|r| r.arrival_ms >= cutoff) else {
            match page.last() {
                Some(last) => {
                    from = last.sequence + 1;
                    continue;
                }
                None => return Ok(from),
            }
        };
        return Ok(page[pos].sequence);
    }
}

/// `Limit` as given (the validator has checked its minimum), or the default, which is also
/// the largest.
fn limit(given: Option<i32>, max: i64) -> Result<usize, AwsError> {
    let limit = given.map_or(max, i64::from);
    check_range(limit, 1, max, "limit")?;
    Ok(limit as usize)
}

fn list_streams(
    app: &Streams,
    input: types::ListStreamsInput,
) -> Result<types::ListStreamsOutput, AwsError> {
    let limit = limit(input.limit, PAGE_LIMIT)?;
    let table = input.table_name.as_deref();
    let start = input.exclusive_start_stream_arn.as_deref();
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
    let streams = rest
        .iter()
        .take(limit)
        .map(|s| types::Stream {
            stream_arn: Some(s.arn.clone()),
            table_name: Some(s.table_name.clone()),
            stream_label: Some(s.label.clone()),
        })
        .collect();
    Ok(types::ListStreamsOutput {
        streams: Some(streams),
        last_evaluated_stream_arn: (rest.len() > limit).then(|| rest[limit - 1].arn.clone()),
    })
}

fn shard(s: &ShardMeta) -> types::Shard {
    types::Shard {
        shard_id: Some(s.shard_id.clone()),
        sequence_number_range: Some(types::SequenceNumberRange {
            starting_sequence_number: Some(s.start_seq.to_string()),
            ending_sequence_number: s.end_seq.map(|end| end.to_string()),
        }),
        parent_shard_id: s.parent_shard_id.clone(),
    }
}

/// The table's key schema, as DescribeStream reports it.
fn key_schema(ks: &KeySchema) -> Vec<types::KeySchemaElement> {
    let element = |name: &str, key_type: &str| types::KeySchemaElement {
        attribute_name: name.to_owned(),
        key_type: key_type.to_owned(),
    };
    std::iter::once(element(&ks.hash.name, "HASH"))
        .chain(ks.range.as_ref().map(|r| element(&r.name, "RANGE")))
        .collect()
}

fn describe_stream(
    app: &Streams,
    input: types::DescribeStreamInput,
) -> Result<types::DescribeStreamOutput, AwsError> {
    let arn = input.stream_arn.as_str();
    check_stream_arn(arn)?;
    let limit = limit(input.limit, PAGE_LIMIT)?;
    let start = input.exclusive_start_shard_id.as_deref();
    if let Some(s) = start {
        check_shard_id_len(s, "exclusiveStartShardId")?;
    }
    let parent = shard_filter(input.shard_filter.as_ref())?;
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
    let page = rest.iter().take(limit).map(|s| shard(s)).collect();
    let last_evaluated_shard_id = (rest.len() > limit).then(|| rest[limit - 1].shard_id.clone());
    let status = if stream.enabled {
        "ENABLED"
    } else {
        "DISABLED"
    };
    Ok(types::DescribeStreamOutput {
        stream_description: Some(types::StreamDescription {
            key_schema: Some(key_schema(&stream.key_schema)),
            stream_arn: Some(stream.arn),
            stream_label: Some(stream.label),
            stream_status: Some(status.to_owned()),
            stream_view_type: Some(stream.view_type.as_str().to_owned()),
            creation_request_date_time: Some(Timestamp::from_millis(stream.created_ms)),
            table_name: Some(stream.table_name),
            shards: Some(page),
            last_evaluated_shard_id,
        }),
    })
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
fn shard_filter(filter: Option<&types::ShardFilter>) -> Result<Option<&str>, AwsError> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    match filter.r#type.as_deref() {
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
    let shard_id = filter.shard_id.as_deref().ok_or_else(|| {
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

fn get_shard_iterator(
    app: &Streams,
    input: types::GetShardIteratorInput,
) -> Result<types::GetShardIteratorOutput, AwsError> {
    // `input.timestamp` is left unread: it belongs to `AT_TIMESTAMP`, refused below.
    check_stream_arn(&input.stream_arn)?;
    let shard_id = input.shard_id.as_str();
    let ty = input.shard_iterator_type.as_str();
    let seq = input.sequence_number.as_deref();
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
    let stream = lookup_stream(app, &input.stream_arn)?;
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
            app.store.read_records(shard.iid, from, 1, 1)?.first(),
        )
    {
        return Err(trimmed());
    }
    let pos = IteratorPos {
        stream_arn: input.stream_arn,
        shard_id: input.shard_id,
        from,
        issued_ms: app.store.clock().now_millis(),
    };
    Ok(types::GetShardIteratorOutput {
        shard_iterator: Some(encode_iterator(app, &pos)),
    })
}

fn get_records(
    app: &Streams,
    input: types::GetRecordsInput,
) -> Result<types::GetRecordsOutput, AwsError> {
    let it = input.shard_iterator.as_str();
    let limit = limit(input.limit, RECORDS_LIMIT)?;
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
    // One record past the response's 1 MB at most: the rest would be thrown away.
    let records = app
        .store
        .read_records(shard.iid, pos.from, limit, MAX_RESPONSE_BYTES)?;
    if is_trimmed(app, shard, pos.from, records.first()) {
        return Err(trimmed());
    }
    let read_none = records.is_empty();
    let mut out = Vec::with_capacity(records.len());
    let mut bytes = 0u64;
    let mut next = pos.from;
    for r in records {
        if !out.is_empty() && bytes + r.size_bytes > MAX_RESPONSE_BYTES {
            break;
        }
        if shard.end_seq.is_some_and(|end| r.sequence > end) {
            break;
        }
        bytes += r.size_bytes;
        next = r.sequence + 1;
        out.push(record(r, &app.cfg.region));
    }
    // A closed shard read to its end hands out no further iterator.
    let finished = shard.end_seq.is_some_and(|end| next > end || read_none);
    let next_shard_iterator = (!finished).then(|| {
        encode_iterator(
            app,
            &IteratorPos {
                issued_ms: app.store.clock().now_millis(),
                from: next,
                ..pos
            },
        )
    });
    Ok(types::GetRecordsOutput {
        records: Some(out),
        next_shard_iterator,
    })
}

/// A stored record as GetRecords returns it, its images moved out of it (the same members as
/// `StreamRecord::to_streams_json`).
fn record(r: StreamRecord, region: &str) -> types::Record {
    types::Record {
        event_id: Some(r.event_id),
        event_name: Some(r.event_name.as_str().to_owned()),
        event_version: Some("1.1".to_owned()),
        event_source: Some("aws:dynamodb".to_owned()),
        aws_region: Some(region.to_owned()),
        dynamodb: Some(types::StreamRecord {
            // Rounded down to the second.
            approximate_creation_date_time: Some(Timestamp::from_millis(
                r.arrival_ms.div_euclid(1000) * 1000,
            )),
            keys: Some(item_into_wire(r.keys)),
            new_image: r.new_image.map(item_into_wire),
            old_image: r.old_image.map(item_into_wire),
            sequence_number: Some(r.sequence.to_string()),
            size_bytes: Some(r.size_bytes as i64),
            stream_view_type: Some(r.view_type.as_str().to_owned()),
        }),
        // A TTL expiry's deletion names the service that made it.
        user_identity: r.ttl_delete.then(|| types::Identity {
            principal_id: Some("dynamodb.amazonaws.com".to_owned()),
            r#type: Some("Service".to_owned()),
        }),
    }
}

impl types::GetRecordsOutput {
    /// The answer as JSON. `json::output` would serialize every image again (a second copy of
    /// each record's items), so the images are moved into the body instead.
    fn into_json(mut self) -> Value {
        let records = self
            .records
            .take()
            .map(|rs| Value::Array(rs.into_iter().map(record_json).collect()));
        let mut v = output(&self);
        if let (Value::Object(m), Some(records)) = (&mut v, records) {
            m.insert("Records".to_owned(), records);
        }
        v
    }
}

fn record_json(mut r: types::Record) -> Value {
    let images = r.dynamodb.as_mut().map(|d| {
        [
            ("Keys", d.keys.take()),
            ("NewImage", d.new_image.take()),
            ("OldImage", d.old_image.take()),
        ]
    });
    let mut v = output(&r);
    if let (Some(images), Some(Value::Object(d))) = (images, v.get_mut("dynamodb")) {
        for (name, image) in images {
            if let Some(image) = image {
                d.insert(name.to_owned(), wire_item_json(image));
            }
        }
    }
    v
}

/// `POST /_tributary/streams/rollover {"StreamArn": ..., "split": bool}`: closes the stream's
/// open shards now, each followed by one child (or two, splitting its keys, with `split`).
/// Not an AWS operation: its request is read by hand; its shards are the model's `Shard`s.
pub async fn rollover_endpoint(
    app: &Streams,
    body: &[u8],
) -> Result<axum::response::Response, AwsError> {
    let req = tributary_service::json::parse_body(body)?;
    let r = Req(&req);
    let arn = r.str_req("StreamArn", "streamArn")?.to_owned();
    check_stream_arn(&arn)?;
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
    let shards: Vec<types::Shard> = children.iter().map(shard).collect();
    Ok(tributary_service::json::rest_ok(
        200,
        &json!({ "Shards": output(&shards) }),
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
            .read_records(iid, 0, 1, 1)
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

#[cfg(test)]
mod tests;

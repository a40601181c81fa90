//! DynamoDB Streams (JSON 1.0, `DynamoDBStreams_20120810.*`): ListStreams, DescribeStream,
//! GetShardIterator, GetRecords over the store's shards.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tributary_model::arn::parse_stream_arn;
use tributary_model::clock::epoch_seconds;
use tributary_model::AwsError;
use tributary_store::{ShardMeta, StreamMeta};

use crate::dynamodb::{key_schema_to_json, unknown_operation};
use crate::protocol::{check_range, constraint, Req};
use crate::App;

/// Iterators expire this long after they were issued.
const ITERATOR_TTL_MS: i64 = 15 * 60 * 1000;
/// GetRecords returns at most this many bytes of records.
const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

pub async fn dispatch(app: &App, op: &str, body: &Map<String, Value>) -> Result<Value, AwsError> {
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

fn lookup_stream(app: &App, arn: &str) -> Result<StreamMeta, AwsError> {
    app.store
        .catalog()
        .streams
        .get(arn)
        .cloned()
        .ok_or_else(|| stream_not_found(arn))
}

fn list_streams(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
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
    let cat = app.store.catalog();
    let mut all: Vec<&StreamMeta> = cat
        .streams
        .values()
        .filter(|s| table.is_none_or(|t| s.table_name == t))
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

fn describe_stream(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let arn = stream_arn_param(&req)?;
    let limit = req.int_opt("Limit")?.unwrap_or(100);
    check_range(limit, 1, 100, "limit")?;
    let start = req.str_opt("ExclusiveStartShardId")?;
    let stream = lookup_stream(app, arn)?;
    let mut shards: Vec<&ShardMeta> = stream.shards.iter().collect();
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

fn encode_iterator(app: &App, p: &IteratorPos) -> String {
    let payload = format!("{}|{}|{}", p.shard_id, p.from, p.issued_ms);
    let tag = mac(&app.iterator_secret, &format!("{}|{payload}", p.stream_arn));
    format!(
        "{}|1|{}",
        p.stream_arn,
        B64.encode(format!("{payload}|{tag}"))
    )
}

fn decode_iterator(app: &App, it: &str) -> Option<IteratorPos> {
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

fn get_shard_iterator(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
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
    let stream = lookup_stream(app, arn)?;
    let shard = stream.shard(shard_id).ok_or_else(|| {
        AwsError::ddb_not_found(format!(
            "Requested resource not found: Shard does not exist: {shard_id}"
        ))
    })?;
    let from = match (ty, seq_num) {
        ("TRIM_HORIZON", _) => 0,
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
    let pos = IteratorPos {
        stream_arn: arn.to_owned(),
        shard_id: shard_id.to_owned(),
        from,
        issued_ms: app.store.clock().now_millis(),
    };
    Ok(json!({ "ShardIterator": encode_iterator(app, &pos) }))
}

fn get_records(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
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
    let shard = stream.shard(&pos.shard_id).ok_or_else(|| {
        AwsError::ddb_not_found(format!(
            "Requested resource not found: Shard does not exist: {}",
            pos.shard_id
        ))
    })?;
    let records = app
        .store
        .read_records(shard.iid, pos.from, limit as usize)?;
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
    app: &App,
    body: &[u8],
) -> Result<axum::response::Response, AwsError> {
    let req = crate::protocol::parse_body(body)?;
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
    Ok(crate::protocol::rest_ok(200, &json!({ "Shards": shards })))
}

/// Rolls shards over once they have been open for the configured time (by the server clock),
/// as DynamoDB does about every four hours.
pub async fn run_rollover(app: std::sync::Arc<App>, cancel: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = app.time_moved.notified() => {}
        }
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
}

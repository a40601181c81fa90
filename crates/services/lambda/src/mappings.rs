//! Event source mappings (REST-JSON, `/2015-03-31/event-source-mappings`): the control plane.
//! Mappings are stored as documents; enabled ones run in the ESM engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tributary_esm::filter::{validate_filter_criteria, FilterSet};
use tributary_esm::{MappingConfig, StartingPosition};
use tributary_model::arn::{esm_arn, parse_function_ref, parse_stream_arn};
use tributary_model::AwsError;

use crate::types::{
    CreateEventSourceMappingRequest, DeleteEventSourceMappingRequest, DestinationConfig,
    EventSourceMappingConfiguration, EventSourceMappingMetricsConfig, FilterCriteria,
    GetEventSourceMappingRequest, ListEventSourceMappingsRequest, ListEventSourceMappingsResponse,
    OnFailure, UpdateEventSourceMappingRequest,
};
use crate::Lambda;
use crate::{function_arn_of, int32, FunctionDoc};
use tributary_service::json::{check_range, constraint, lambda_err, output, rest_ok};
use tributary_shapes::types::Timestamp;

pub const ESM_KIND: &str = "esm";
pub const CHECKPOINT_KIND: &str = "ckpt";

/// A mapping as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MappingDoc {
    pub uuid: String,
    /// The function reference echoed as `FunctionArn` (qualified when the caller qualified it).
    pub function_arn: String,
    pub function_name: String,
    pub event_source_arn: String,
    pub batch_size: i64,
    pub max_batching_window: i64,
    pub parallelization_factor: i64,
    pub starting_position: String,
    pub max_retry_attempts: i64,
    pub max_record_age: i64,
    pub bisect: bool,
    pub on_failure: Option<String>,
    pub function_response_types: Vec<String>,
    pub filter_criteria: Option<Value>,
    pub tumbling_window: i64,
    pub metrics_config: Option<Value>,
    pub enabled: bool,
    pub last_modified_ms: i64,
}

impl MappingDoc {
    fn load(app: &Lambda, uuid: &str) -> Option<MappingDoc> {
        let cat = app.store.catalog();
        cat.doc(ESM_KIND, uuid)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    pub fn all(app: &Lambda) -> Vec<MappingDoc> {
        let cat = app.store.catalog();
        cat.docs_of(ESM_KIND)
            .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
            .collect()
    }

    fn render(&self, app: &Lambda, state: &str) -> EventSourceMappingConfiguration {
        let last = app
            .engine
            .status(&self.uuid)
            .last_processing_result
            .unwrap_or_else(|| "No records processed".to_owned());
        // The stored criteria and metrics are the request's, as validated when stored.
        EventSourceMappingConfiguration {
            uuid: Some(self.uuid.clone()),
            starting_position: Some(self.starting_position.clone()),
            batch_size: Some(int32(self.batch_size)),
            maximum_batching_window_in_seconds: Some(int32(self.max_batching_window)),
            parallelization_factor: Some(int32(self.parallelization_factor)),
            event_source_arn: Some(self.event_source_arn.clone()),
            filter_criteria: stored(self.filter_criteria.as_ref()),
            metrics_config: stored(self.metrics_config.as_ref()),
            function_arn: Some(self.function_arn.clone()),
            last_modified: Some(Timestamp::from_millis(self.last_modified_ms)),
            last_processing_result: Some(last),
            state: Some(state.to_owned()),
            state_transition_reason: Some("User action".to_owned()),
            // `OnFailure` is always shown, `{}` when unset (streams have no `OnSuccess`).
            destination_config: Some(DestinationConfig {
                on_success: None,
                on_failure: Some(OnFailure {
                    destination: self.on_failure.clone(),
                }),
            }),
            maximum_record_age_in_seconds: Some(int32(self.max_record_age)),
            bisect_batch_on_function_error: Some(self.bisect),
            maximum_retry_attempts: Some(int32(self.max_retry_attempts)),
            tumbling_window_in_seconds: Some(int32(self.tumbling_window)),
            function_response_types: Some(self.function_response_types.clone()),
            event_source_mapping_arn: Some(esm_arn(
                &app.cfg.region,
                &app.cfg.account_id,
                &self.uuid,
            )),
            // DynamoDB streams only: no timestamps to start at, KMS keys, logging or scaling
            // configs, Kafka, MQ, DocumentDB or self-managed sources, no provisioned pollers.
            ..Default::default()
        }
    }

    fn steady_state(&self) -> &'static str {
        if self.enabled {
            "Enabled"
        } else {
            "Disabled"
        }
    }

    pub fn engine_config(&self, app: &Lambda) -> MappingConfig {
        MappingConfig {
            uuid: self.uuid.clone(),
            function_arn: self.function_arn.clone(),
            stream_arn: self.event_source_arn.clone(),
            region: app.cfg.region.clone(),
            batch_size: self.batch_size as usize,
            max_batching_window_ms: self.max_batching_window * 1000,
            starting_position: if self.starting_position == "LATEST" {
                StartingPosition::Latest
            } else {
                StartingPosition::TrimHorizon
            },
            max_retry_attempts: self.max_retry_attempts,
            max_record_age_ms: if self.max_record_age < 0 {
                -1
            } else {
                self.max_record_age * 1000
            },
            stream_retention_ms: app.cfg.stream_retention_ms,
            bisect_on_error: self.bisect,
            report_batch_item_failures: self
                .function_response_types
                .iter()
                .any(|t| t == "ReportBatchItemFailures"),
            parallelization_factor: self.parallelization_factor.clamp(1, 10) as usize,
            tumbling_window_ms: self.tumbling_window.max(0) * 1000,
            // Stored criteria passed validation when they were stored.
            filters: Arc::new(
                FilterSet::from_criteria(self.filter_criteria.as_ref()).unwrap_or_default(),
            ),
            on_failure: self.on_failure.clone(),
        }
    }
}

/// A stored member (the request's, as validated when it was stored) as its generated type.
fn stored<T: serde::de::DeserializeOwned>(v: Option<&Value>) -> Option<T> {
    v.and_then(|v| T::deserialize(v).ok())
}

/// Dispatches a `/2015-03-31/event-source-mappings...` request. `segments` is the whole path;
/// `raw_query` the undecoded query string.
pub(crate) async fn dispatch(
    app: &Lambda,
    method: &http::Method,
    segments: &[String],
    raw_query: &str,
    body: Bytes,
) -> Result<axum::response::Response, AwsError> {
    use http::Method;
    let query = tributary_service::parse_query(raw_query);
    let input = crate::model_check::check(
        method.as_str(),
        segments,
        &query,
        raw_query,
        &http::HeaderMap::new(),
        &body,
    )?;
    let rest = &segments[2..];
    let answer = |status: u16, out: &EventSourceMappingConfiguration| rest_ok(status, &output(out));
    Ok(match (method, rest) {
        (&Method::POST, []) => answer(202, &create(app, input.read()?).await?),
        (&Method::GET, []) => rest_ok(200, &output(&list(app, input.read()?, &query)?)),
        (&Method::GET, [_]) => {
            let req: GetEventSourceMappingRequest = input.read()?;
            let doc = find(app, &req.uuid)?;
            answer(200, &doc.render(app, doc.steady_state()))
        }
        (&Method::PUT, [_]) => answer(202, &update(app, input.read()?, input.raw()).await?),
        (&Method::DELETE, [_]) => answer(202, &delete(app, input.read()?).await?),
        _ => return Err(crate::unknown_rest_operation(method, rest)),
    })
}

/// `GET /_tributary/event-source-mappings/{UUID}/shards`: each shard's checkpoint, lag,
/// in-flight batches, retries and last error, as the engine sees them now.
pub fn shards_view(app: &Lambda, uuid: &str) -> Result<Value, AwsError> {
    let doc = find(app, uuid)?;
    let status = app.engine.status(uuid);
    let now = app.store.clock().now_millis();
    let cat = app.store.catalog();
    let stream = cat.streams.get(&doc.event_source_arn);
    let mut shards = Vec::new();
    for shard in stream.map(|s| s.shards.as_slice()).unwrap_or_default() {
        let st = status
            .shards
            .get(&shard.shard_id)
            .cloned()
            .unwrap_or_default();
        let checkpoint = app.engine_checkpoint(uuid, &shard.shard_id);
        let last = app.store.last_sequence(shard.iid).ok().flatten();
        let processed = st.processed_seq.or(checkpoint.map(|c| c.seq));
        // Lag: how long the oldest record not yet processed has been waiting.
        let lag_ms = match (last, processed) {
            (Some(l), p) if p.is_none_or(|p| p < l) => app
                .store
                .read_records(shard.iid, p.map_or(0, |p| p + 1), 1, 1)
                .ok()
                .and_then(|r| r.first().map(|r| (now - r.arrival_ms).max(0)))
                .unwrap_or(0),
            _ => 0,
        };
        shards.push(json!({
            "ShardId": shard.shard_id,
            "ParentShardId": shard.parent_shard_id,
            "Closed": shard.end_seq.is_some(),
            "Checkpoint": checkpoint.map(|c| c.seq.to_string()),
            "Finished": checkpoint.is_some_and(|c| c.shard_done) || st.done,
            "ProcessedSequenceNumber": processed.map(|p| p.to_string()),
            "LatestSequenceNumber": last.map(|l| l.to_string()),
            "LagMillis": lag_ms,
            "IteratorAgeMillis": st.iterator_age_ms,
            "InFlightBatches": st.in_flight,
            "RetryCount": st.retries,
            "LastError": st.last_error,
        }));
    }
    Ok(json!({
        "UUID": uuid,
        "State": doc.steady_state(),
        "LastProcessingResult": status.last_processing_result.as_deref().unwrap_or("No records processed"),
        "Shards": shards,
    }))
}

/// `POST /_tributary/event-source-mappings/{UUID}/drain[?timeout=seconds]`: waits until every
/// record committed before the call has been delivered, filtered out or discarded by the
/// mapping, or until the timeout (default 30 s); reports which.
pub async fn drain(
    app: &Lambda,
    uuid: &str,
    query: &BTreeMap<String, String>,
) -> Result<Value, AwsError> {
    let doc = find(app, uuid)?;
    let timeout = match query.get("timeout") {
        Some(t) => t
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t >= 0.0 && *t <= 3600.0)
            .ok_or_else(|| AwsError::validation("timeout must be a number of seconds (0..3600)"))?,
        None => 30.0,
    };
    // The targets: the newest record of every shard at the time of the call.
    let targets: Vec<(String, u128)> = {
        let cat = app.store.catalog();
        cat.streams
            .get(&doc.event_source_arn)
            .map(|s| {
                s.shards
                    .iter()
                    .filter_map(|sh| {
                        app.store
                            .last_sequence(sh.iid)
                            .ok()
                            .flatten()
                            .map(|l| (sh.shard_id.clone(), l))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let started = std::time::Instant::now();
    let app2 = app;
    let uuid2 = uuid.to_owned();
    let reached = |st: &tributary_esm::MappingStatus| {
        targets.iter().all(|(shard, target)| {
            let cp = app2.engine_checkpoint(&uuid2, shard);
            let live = st.shards.get(shard);
            cp.is_some_and(|c| c.shard_done || c.seq >= *target)
                || live.is_some_and(|s| s.done || s.processed_seq.is_some_and(|p| p >= *target))
        })
    };
    let drained = app
        .engine
        .wait_until(uuid, std::time::Duration::from_secs_f64(timeout), reached)
        .await;
    let mut view = shards_view(app, uuid)?;
    view["Drained"] = json!(drained);
    view["WaitedMillis"] = json!(started.elapsed().as_millis() as u64);
    Ok(view)
}

/// Reports a discarded batch to an on-failure destination (SQS queue, SNS topic or S3 bucket)
/// with AWS's invocation record; S3 objects also carry the original event as `payload`.
pub async fn deliver_failure(
    app: &Lambda,
    destination: &str,
    mapping_uuid: &str,
    shard_id: &str,
    record: &str,
    event: &[u8],
) -> Result<(), AwsError> {
    let service = destination.split(':').nth(2).unwrap_or_default();
    let body = record.to_owned();
    match service {
        "sqs" => {
            if tributary_service::peers::is_fifo(destination) {
                return Err(AwsError::validation(
                    "FIFO queues are not supported as on-failure destinations",
                ));
            }
            app.queues
                .send(
                    destination,
                    tributary_service::peers::QueueMessage {
                        body,
                        ..Default::default()
                    },
                )
                .await?;
        }
        "sns" => {
            if tributary_service::peers::is_fifo(destination) {
                return Err(AwsError::validation(
                    "FIFO topics are not supported as on-failure destinations",
                ));
            }
            app.topics.publish(destination, body, None).await?;
        }
        "s3" => {
            // The S3 record also carries the original event, as an escaped JSON string.
            let payload = serde_json::to_string(&String::from_utf8_lossy(event))
                .map_err(|e| AwsError::internal(e.to_string()))?;
            let with_payload = format!(
                "{},\"payload\":{payload}}}",
                record.strip_suffix('}').unwrap_or(record)
            );
            let now = app.store.clock().now_millis();
            let t = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
            let key = format!(
                "aws/lambda/{mapping_uuid}/{shard_id}/{}/{}-{}",
                t.format("%Y/%m/%d"),
                t.format("%Y-%m-%dT%H.%M.%S"),
                uuid::Uuid::new_v4()
            );
            app.objects
                .put(
                    destination,
                    &key,
                    with_payload.into_bytes(),
                    "application/json",
                )
                .await?;
        }
        _ => {
            return Err(AwsError::validation(format!(
                "unsupported on-failure destination: {destination}"
            )))
        }
    }
    Ok(())
}

fn not_found() -> AwsError {
    lambda_err::not_found("The resource you requested does not exist.")
}

fn find(app: &Lambda, uuid: &str) -> Result<MappingDoc, AwsError> {
    if uuid.len() != 36 {
        return Err(not_found());
    }
    MappingDoc::load(app, uuid).ok_or_else(not_found)
}

/// Resolves `FunctionName` to (function name, the ARN echoed back).
fn resolve_function(app: &Lambda, given: &str) -> Result<(String, String), AwsError> {
    let bad = || {
        constraint(
            &Value::String(given.into()),
            "functionName",
            // The model's current pattern (the generic validator quotes the same one).
            &format!(
                "Member must satisfy regular expression pattern: {}",
                crate::model_check::model_pattern("FunctionName")
            ),
        )
    };
    if given.is_empty() || given.len() > 256 {
        return Err(bad());
    }
    let r = parse_function_ref(given).ok_or_else(bad)?;
    let foreign = r
        .account
        .as_deref()
        .is_some_and(|a| a != app.cfg.account_id)
        || r.region.as_deref().is_some_and(|g| g != app.cfg.region);
    // The function, and the version or alias a qualifier names, must exist.
    let exists = !foreign
        && FunctionDoc::load(app, &r.name).is_some()
        && crate::resolve(app, given, None).is_ok();
    if !exists {
        return Err(lambda_err::invalid_parameter("Function does not exist"));
    }
    let mut arn = function_arn_of(app, &r.name);
    if let Some(q) = &r.qualifier {
        arn = format!("{arn}:{q}");
    }
    Ok((r.name, arn))
}

/// The members create and update share, as either request gives them.
struct KnobInput {
    batch_size: Option<i32>,
    maximum_batching_window_in_seconds: Option<i32>,
    parallelization_factor: Option<i32>,
    maximum_retry_attempts: Option<i32>,
    maximum_record_age_in_seconds: Option<i32>,
    tumbling_window_in_seconds: Option<i32>,
    bisect_batch_on_function_error: Option<bool>,
    destination_config: Option<DestinationConfig>,
    function_response_types: Option<Vec<String>>,
    filter_criteria: Option<FilterCriteria>,
    metrics_config: Option<EventSourceMappingMetricsConfig>,
    enabled: Option<bool>,
}

macro_rules! knob_input {
    ($req:expr) => {
        KnobInput {
            batch_size: $req.batch_size,
            maximum_batching_window_in_seconds: $req.maximum_batching_window_in_seconds,
            parallelization_factor: $req.parallelization_factor,
            maximum_retry_attempts: $req.maximum_retry_attempts,
            maximum_record_age_in_seconds: $req.maximum_record_age_in_seconds,
            tumbling_window_in_seconds: $req.tumbling_window_in_seconds,
            bisect_batch_on_function_error: $req.bisect_batch_on_function_error,
            destination_config: $req.destination_config.take(),
            function_response_types: $req.function_response_types.take(),
            filter_criteria: $req.filter_criteria.take(),
            metrics_config: $req.metrics_config.take(),
            enabled: $req.enabled,
        }
    };
}

/// The numeric knobs shared by create and update, validated with AWS's messages.
struct Knobs {
    batch_size: Option<i64>,
    window: Option<i64>,
    parallelization: Option<i64>,
    retries: Option<i64>,
    record_age: Option<i64>,
    tumbling: Option<i64>,
    bisect: Option<bool>,
    on_failure: Option<Option<String>>,
    response_types: Option<Vec<String>>,
    filter_criteria: Option<Option<Value>>,
    metrics_config: Option<Option<Value>>,
    enabled: Option<bool>,
}

fn knobs(req: KnobInput) -> Result<Knobs, AwsError> {
    let range =
        |v: Option<i32>, field: &str, min: i64, max: i64| -> Result<Option<i64>, AwsError> {
            let v = v.map(i64::from);
            if let Some(v) = v {
                check_range(v, min, max, field)?;
            }
            Ok(v)
        };
    let batch_size = range(req.batch_size, "batchSize", 1, 10000)?;
    let window = range(
        req.maximum_batching_window_in_seconds,
        "maximumBatchingWindowInSeconds",
        0,
        300,
    )?;
    let parallelization = range(req.parallelization_factor, "parallelizationFactor", 1, 10)?;
    let retries = range(
        req.maximum_retry_attempts,
        "maximumRetryAttempts",
        -1,
        10000,
    )?;
    let record_age = range(
        req.maximum_record_age_in_seconds,
        "maximumRecordAgeInSeconds",
        -1,
        604800,
    )?;
    if let Some(a) = record_age {
        if (0..60).contains(&a) {
            return Err(lambda_err::invalid_parameter(
                "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)",
            ));
        }
    }
    let tumbling = range(
        req.tumbling_window_in_seconds,
        "tumblingWindowInSeconds",
        0,
        900,
    )?;
    let bisect = req.bisect_batch_on_function_error;
    let on_failure = match &req.destination_config {
        Some(dc) => {
            if dc.on_success.is_some() {
                return Err(lambda_err::invalid_parameter(
                    "Unsupported DestinationConfig parameter for given event source mapping type.",
                ));
            }
            match &dc.on_failure {
                Some(of) => {
                    let d = of.destination.as_deref().unwrap_or("");
                    if d.is_empty() {
                        Some(None)
                    } else {
                        validate_destination(d)?;
                        Some(Some(d.to_owned()))
                    }
                }
                None => Some(None),
            }
        }
        None => None,
    };
    let response_types = match req.function_response_types {
        Some(a) => {
            for s in &a {
                if s != "ReportBatchItemFailures" {
                    return Err(constraint(
                        &Value::String(s.clone()),
                        "functionResponseTypes",
                        "Member must satisfy enum value set: [ReportBatchItemFailures]",
                    ));
                }
            }
            if a.len() > 1 {
                return Err(constraint(
                    &json!(a),
                    "functionResponseTypes",
                    "Member must have length less than or equal to 1",
                ));
            }
            Some(a)
        }
        None => None,
    };
    let filter_criteria = match &req.filter_criteria {
        Some(fc) => {
            let patterns = validate_filter_criteria(&output(fc)).map_err(|e| {
                if e.code() == "ValidationException" {
                    AwsError::validation(e.to_string())
                } else {
                    lambda_err::invalid_parameter(e.to_string())
                }
            })?;
            if patterns.is_empty() {
                Some(None)
            } else {
                let filters: Vec<Value> =
                    patterns.iter().map(|p| json!({ "Pattern": p })).collect();
                Some(Some(json!({ "Filters": filters })))
            }
        }
        None => None,
    };
    let metrics_config = match req.metrics_config {
        Some(mc) => {
            let metrics = mc.metrics.unwrap_or_default();
            for s in &metrics {
                if !matches!(s.as_str(), "EventCount" | "ErrorCount" | "KafkaMetrics") {
                    return Err(constraint(
                        &Value::String(s.clone()),
                        "metricsConfig.metrics",
                        "Member must satisfy enum value set: [EventCount, ErrorCount, KafkaMetrics]",
                    ));
                }
            }
            Some(Some(json!({ "Metrics": metrics })))
        }
        None => None,
    };
    Ok(Knobs {
        batch_size,
        window,
        parallelization,
        retries,
        record_age,
        tumbling,
        bisect,
        on_failure,
        response_types,
        filter_criteria,
        metrics_config,
        enabled: req.enabled,
    })
}

fn validate_destination(d: &str) -> Result<(), AwsError> {
    let ok = d.len() <= 350
        && (d.starts_with("arn:aws:sqs:")
            || d.starts_with("arn:aws:sns:")
            || d.starts_with("arn:aws:s3:::"));
    if !ok {
        return Err(lambda_err::invalid_parameter(format!(
            "The destination ARN {d} is invalid. Supported destinations for stream event sources are SQS queues, SNS topics and S3 buckets."
        )));
    }
    Ok(())
}

async fn create(
    app: &Lambda,
    mut req: CreateEventSourceMappingRequest,
) -> Result<EventSourceMappingConfiguration, AwsError> {
    // FunctionName is required: the validator has refused a request without it.
    let function_name = std::mem::take(&mut req.function_name);
    let knobs = knobs(knob_input!(req))?;
    let Some(source) = req.event_source_arn.take() else {
        return Err(lambda_err::invalid_parameter("Unrecognized event source."));
    };
    if parse_stream_arn(&source).is_none() {
        let recognised_other = [
            "arn:aws:kinesis:",
            "arn:aws:sqs:",
            "arn:aws:kafka:",
            "arn:aws:mq:",
            "arn:aws:rds:",
            "arn:aws:docdb",
        ]
        .iter()
        .any(|p| source.starts_with(p));
        return Err(lambda_err::invalid_parameter(if recognised_other {
            "This server supports DynamoDB stream event sources only.".to_owned()
        } else {
            "Unrecognized event source.".to_owned()
        }));
    }
    let position = match req.starting_position.as_deref() {
        None => {
            return Err(lambda_err::invalid_parameter(
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.",
            ))
        }
        Some(p @ ("TRIM_HORIZON" | "LATEST")) => p.to_owned(),
        Some("AT_TIMESTAMP") => {
            return Err(lambda_err::invalid_parameter(format!(
                "Unsupported starting position for arn type: {source}"
            )))
        }
        Some(other) => {
            return Err(constraint(
                &Value::String(other.into()),
                "startingPosition",
                "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
            ))
        }
    };
    let (fname, farn) = resolve_function(app, &function_name)?;
    if !app.store.catalog().streams.contains_key(&source) {
        return Err(lambda_err::invalid_parameter(format!(
            "Stream not found: {source}"
        )));
    }
    if let Some(f) = FunctionDoc::load(app, &fname) {
        crate::roles::check_stream_access(app, &f.role, &source)?;
        if let Some(d) = knobs.on_failure.as_ref().and_then(|d| d.as_deref()) {
            crate::roles::check_destination(app, &f.role, d)?;
        }
    }
    let doc = MappingDoc {
        uuid: uuid::Uuid::new_v4().to_string(),
        function_arn: farn,
        function_name: fname,
        event_source_arn: source,
        batch_size: knobs.batch_size.unwrap_or(100),
        max_batching_window: knobs.window.unwrap_or(0),
        parallelization_factor: knobs.parallelization.unwrap_or(1),
        starting_position: position,
        max_retry_attempts: knobs.retries.unwrap_or(-1),
        max_record_age: knobs.record_age.unwrap_or(-1),
        bisect: knobs.bisect.unwrap_or(false),
        on_failure: knobs.on_failure.flatten(),
        function_response_types: knobs.response_types.unwrap_or_default(),
        filter_criteria: knobs.filter_criteria.flatten(),
        tumbling_window: knobs.tumbling.unwrap_or(0),
        metrics_config: knobs.metrics_config.flatten(),
        enabled: knobs.enabled.unwrap_or(true),
        last_modified_ms: app.store.clock().now_millis(),
    };
    let stored = doc.clone();
    let shown_name = function_name.clone();
    let store = app.store.clone();
    let tags = crate::tags::parse_tags(req.tags.take())?.unwrap_or_default();
    let esm_arn = esm_arn(&app.cfg.region, &app.cfg.account_id, &doc.uuid);
    app.store
        .write(move |tx| {
            crate::tags::put_tags_tx(tx, &esm_arn, &tags)?;
            for (_, v) in tx.catalog().docs_of(ESM_KIND) {
                let same_stream = v.get("event_source_arn").and_then(Value::as_str) == Some(&stored.event_source_arn);
                let same_fn = v.get("function_arn").and_then(Value::as_str) == Some(&stored.function_arn);
                if same_stream && same_fn {
                    let uuid = v.get("uuid").and_then(Value::as_str).unwrap_or_default();
                    return Err(lambda_err::conflict(format!(
                        "The event source arn (\" {} \") and function (\" {} \") provided mapping already exists. Please update or delete the existing mapping with UUID {uuid}",
                        stored.event_source_arn, shown_name
                    )));
                }
            }
            // LATEST means "after what the stream holds now": pin that position at creation so
            // nothing written after CreateEventSourceMapping returns is missed.
            if stored.starting_position == "LATEST" {
                let stream = tx.catalog().streams.get(&stored.event_source_arn).cloned();
                for shard in stream.iter().flat_map(|s| s.shards.iter()) {
                    let last = store.last_sequence(shard.iid)?.unwrap_or(shard.start_seq.saturating_sub(1));
                    let id = format!("{}/{}", stored.uuid, shard.shard_id);
                    tx.put_doc(CHECKPOINT_KIND, &id, json!({"seq": last.to_string(), "done": false}))?;
                }
            }
            let v = serde_json::to_value(&stored).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(ESM_KIND, &stored.uuid, v)
        })
        .await?;
    if doc.enabled {
        app.engine.start(doc.engine_config(app)).await;
    }
    Ok(doc.render(app, "Creating"))
}

/// ListEventSourceMappings. `MaxItems` is read from the query string: a value that is not a number
/// is not in the typed request, and AWS's message quotes it.
fn list(
    app: &Lambda,
    req: ListEventSourceMappingsRequest,
    query: &BTreeMap<String, String>,
) -> Result<ListEventSourceMappingsResponse, AwsError> {
    let max = tributary_service::json::max_items(query, 100)?;
    let source = req.event_source_arn.as_ref();
    let function = req.function_name.as_ref().map(|f| {
        parse_function_ref(f)
            .map(|r| r.name)
            .unwrap_or_else(|| f.clone())
    });
    let marker = req.marker.as_ref();
    let mut all: Vec<MappingDoc> = MappingDoc::all(app)
        .into_iter()
        .filter(|m| source.is_none_or(|s| &m.event_source_arn == s))
        .filter(|m| function.as_ref().is_none_or(|f| &m.function_name == f))
        .filter(|m| marker.is_none_or(|k| &m.uuid > k))
        .collect();
    all.sort_by(|a, b| a.uuid.cmp(&b.uuid));
    let more = all.len() > max;
    let page: Vec<EventSourceMappingConfiguration> = all
        .iter()
        .take(max)
        .map(|m| m.render(app, m.steady_state()))
        .collect();
    Ok(ListEventSourceMappingsResponse {
        next_marker: more.then(|| all[max - 1].uuid.clone()),
        event_source_mappings: Some(page),
    })
}

/// UpdateEventSourceMapping; `raw` is the request object, for the create-only members the
/// update's structure does not have.
async fn update(
    app: &Lambda,
    mut req: UpdateEventSourceMappingRequest,
    raw: &Map<String, Value>,
) -> Result<EventSourceMappingConfiguration, AwsError> {
    let mut doc = find(app, &req.uuid)?;
    for forbidden in [
        "EventSourceArn",
        "StartingPosition",
        "StartingPositionTimestamp",
    ] {
        if raw.get(forbidden).is_some_and(|v| !v.is_null()) {
            return Err(AwsError::serialization(format!(
                "Unknown member {forbidden} for UpdateEventSourceMapping"
            )));
        }
    }
    let k = knobs(knob_input!(req))?;
    if let Some(f) = &req.function_name {
        let (fname, farn) = resolve_function(app, f)?;
        doc.function_name = fname;
        doc.function_arn = farn;
    }
    let was_enabled = doc.enabled;
    if let Some(v) = k.batch_size {
        doc.batch_size = v;
    }
    if let Some(v) = k.window {
        doc.max_batching_window = v;
    }
    if let Some(v) = k.parallelization {
        doc.parallelization_factor = v;
    }
    if let Some(v) = k.retries {
        doc.max_retry_attempts = v;
    }
    if let Some(v) = k.record_age {
        doc.max_record_age = v;
    }
    if let Some(v) = k.tumbling {
        doc.tumbling_window = v;
    }
    if let Some(v) = k.bisect {
        doc.bisect = v;
    }
    if let Some(v) = k.on_failure {
        doc.on_failure = v;
    }
    if let Some(v) = k.response_types {
        doc.function_response_types = v;
    }
    if let Some(v) = k.filter_criteria {
        doc.filter_criteria = v;
    }
    if let Some(v) = k.metrics_config {
        doc.metrics_config = v;
    }
    if let Some(v) = k.enabled {
        doc.enabled = v;
    }
    if let Some(f) = FunctionDoc::load(app, &doc.function_name) {
        crate::roles::check_stream_access(app, &f.role, &doc.event_source_arn)?;
        if let Some(d) = doc.on_failure.as_deref() {
            crate::roles::check_destination(app, &f.role, d)?;
        }
    }
    doc.last_modified_ms = app.store.clock().now_millis();
    let stored = serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
    let id = doc.uuid.clone();
    app.store
        .write(move |tx| {
            if tx.catalog().doc(ESM_KIND, &id).is_none() {
                return Err(not_found());
            }
            tx.put_doc(ESM_KIND, &id, stored.clone())
        })
        .await?;
    let state = match (was_enabled, doc.enabled) {
        (true, false) => "Disabling",
        (false, true) => "Enabling",
        (true, true) => "Updating",
        (false, false) => "Disabled",
    };
    if doc.enabled {
        app.engine.start(doc.engine_config(app)).await;
    } else {
        app.engine.stop(&doc.uuid).await;
    }
    Ok(doc.render(app, state))
}

async fn delete(
    app: &Lambda,
    req: DeleteEventSourceMappingRequest,
) -> Result<EventSourceMappingConfiguration, AwsError> {
    let doc = find(app, &req.uuid)?;
    app.engine.stop(&doc.uuid).await;
    let rendered = doc.render(app, "Deleting");
    let id = doc.uuid.clone();
    let (region, account) = (app.cfg.region.clone(), app.cfg.account_id.clone());
    app.store
        .write(move |tx| {
            let prefix = format!("{id}/");
            let checkpoints: Vec<String> = tx
                .catalog()
                .docs_of(CHECKPOINT_KIND)
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, _)| k.to_owned())
                .collect();
            for c in checkpoints {
                tx.delete_doc(CHECKPOINT_KIND, &c)?;
            }
            let arn = esm_arn(&region, &account, &id);
            if tx.catalog().doc(crate::tags::TAGS_KIND, &arn).is_some() {
                tx.delete_doc(crate::tags::TAGS_KIND, &arn)?;
            }
            tx.delete_doc(ESM_KIND, &id)
        })
        .await?;
    app.engine.forget(&doc.uuid);
    Ok(rendered)
}

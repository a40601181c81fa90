//! `GET /_tributary/status` and `GET /_tributary/metrics/series`: the picture `tributary
//! status` prints and the dashboard draws — tables, streams and their shards, functions with
//! their invocation counts, mappings with their state, last result, per-shard checkpoint and
//! lag, IteratorAge and recent failures — plus per-minute IteratorAge and invocation series.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use tributary_model::clock::iso_millis;

use super::store::{minute_of, MetricId, Statistic, MINUTE_MS};
use crate::App;
use tributary_lambda::mappings::MappingDoc;
use tributary_lambda::{FunctionDoc, FUNCTION_KIND};

/// How many minutes the series endpoint answers when not told.
const DEFAULT_SERIES_MINUTES: i64 = 30;
/// The most minutes it answers.
const MAX_SERIES_MINUTES: i64 = 24 * 60;

fn all_functions(app: &App) -> Vec<FunctionDoc> {
    let cat = app.store.catalog();
    cat.docs_of(FUNCTION_KIND)
        .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
        .collect()
}

/// The whole picture, as JSON (PascalCase members, like the AWS APIs).
pub fn status(app: &App) -> Value {
    app.sample_metrics();
    let now = app.store.clock().now_millis();

    let (tables, streams, table_of_stream) = {
        let cat = app.store.catalog();
        let tables: Vec<Value> = cat
            .tables
            .values()
            .map(|t| {
                json!({
                    "TableName": t.name,
                    "ItemCount": t.item_count,
                    "SizeBytes": t.size_bytes,
                    "StreamArn": t.stream_arn,
                    "Created": iso_millis(t.created_ms),
                })
            })
            .collect();
        let table_of_stream: BTreeMap<String, String> = cat
            .streams
            .values()
            .map(|s| (s.arn.clone(), s.table_name.clone()))
            .collect();
        let streams: Vec<Value> = cat
            .streams
            .values()
            .map(|s| {
                let open = s.shards.iter().filter(|sh| sh.end_seq.is_none()).count();
                json!({
                    "StreamArn": s.arn,
                    "TableName": s.table_name,
                    "StreamLabel": s.label,
                    "StreamViewType": format!("{:?}", s.view_type),
                    "Enabled": s.enabled,
                    "OpenShards": open,
                    "ClosedShards": s.shards.len() - open,
                    "Shards": s.shards.iter().map(|sh| json!({
                        "ShardId": sh.shard_id,
                        "ParentShardId": sh.parent_shard_id,
                        "Open": sh.end_seq.is_none(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        (tables, streams, table_of_stream)
    };

    let totals = app.metrics.function_totals();
    let functions: Vec<Value> = all_functions(app)
        .iter()
        .map(|f| {
            let t = totals.get(&f.name).cloned().unwrap_or_default();
            let config = f.configuration(&app.lambda);
            let avg = (t.duration.count > 0).then(|| t.duration.sum / t.duration.count as f64);
            json!({
                "FunctionName": f.name,
                "Runtime": f.runtime,
                "State": config.get("State").cloned().unwrap_or(Value::Null),
                "ReservedConcurrency": f.reserved_concurrency,
                "Invocations": t.invocations,
                "Errors": t.errors,
                "Throttles": t.throttles,
                "Running": t.in_flight,
                "AverageDurationMillis": avg,
                "LastInvocation": t.last_invocation_ms.map(iso_millis),
            })
        })
        .collect();

    let mappings: Vec<Value> = MappingDoc::all(&app.lambda)
        .iter()
        .map(|doc| {
            let st = app.lambda.engine().status(&doc.uuid);
            let (failures, dropped) = app.metrics.mapping_notes(&doc.uuid);
            let view = tributary_lambda::mappings::shards_view(&app.lambda, &doc.uuid).unwrap_or(Value::Null);
            let c = st.counters;
            let max_lag = view
                .get("Shards")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.get("LagMillis").and_then(Value::as_i64))
                        .max()
                        .unwrap_or(0)
                })
                .unwrap_or(0);
            json!({
                "UUID": doc.uuid,
                "FunctionName": doc.function_name,
                "FunctionArn": doc.function_arn,
                "EventSourceArn": doc.event_source_arn,
                "TableName": table_of_stream.get(&doc.event_source_arn),
                "State": if doc.enabled { "Enabled" } else { "Disabled" },
                "LastProcessingResult": st.last_processing_result.as_deref().unwrap_or("No records processed"),
                "BatchSize": doc.batch_size,
                "EventCountMetrics": super::event_counts_enabled(doc),
                "IteratorAgeMillis": c.iterator_age_ms,
                "MaxLagMillis": max_lag,
                "Counters": {
                    "Invocations": c.invocations,
                    "FunctionErrors": c.errors,
                    "Throttles": c.throttles,
                    "PolledEvents": c.polled_events,
                    "FilteredOutEvents": c.filtered_out_events,
                    "InvokedEvents": c.invoked_events,
                    "FailedInvokeEvents": c.failed_invoke_events,
                    "DroppedEvents": dropped,
                    "OnFailureDestinationDeliveredEvents": c.destination_delivered_events,
                    "DestinationDeliveryFailures": c.destination_delivery_failures,
                },
                "Shards": view.get("Shards").cloned().unwrap_or(json!([])),
                "RecentFailures": failures.iter().rev().map(|n| json!({
                    "Time": iso_millis(n.time),
                    "ShardId": n.shard_id,
                    "Kind": n.kind,
                    "Message": n.message,
                    "Count": n.count,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();

    json!({
        "Server": {
            "Version": env!("CARGO_PKG_VERSION"),
            "Endpoint": app.cfg.endpoint_url,
            "Region": app.cfg.region,
            "AccountId": app.cfg.account_id,
            "Now": iso_millis(now),
            "MetricsRetentionMinutes": app.metrics.with_store(|s| s.retention_ms() / MINUTE_MS),
        },
        "Tables": tables,
        "Streams": streams,
        "Functions": functions,
        "EventSourceMappings": mappings,
        "Iam": iam_json(app),
    })
}

/// The `--iam` mode and the latest denials (newest first), as `tributary status` shows them.
fn iam_json(app: &App) -> Value {
    let denials = app.guard.denials();
    let recent: Vec<Value> = denials
        .iter()
        .rev()
        .take(10)
        .map(|d| {
            json!({
                "Time": iso_millis(d.time),
                "Principal": d.principal,
                "Action": d.action,
                "Resource": d.resource,
                "Error": d.error,
                "Reason": d.reason,
                "Enforced": d.enforced,
            })
        })
        .collect();
    json!({"Mode": app.guard.mode().as_str(), "DenialCount": denials.len(), "RecentDenials": recent})
}

/// Per-minute series for the dashboard's charts: for every mapping (or the one named by
/// `uuid`), IteratorAge maximum and average, and its function's invocations and errors, for
/// the last `minutes` minutes (current minute included); `null` where nothing was published.
pub fn series(app: &App, query: &BTreeMap<String, String>) -> Value {
    app.sample_metrics();
    let minutes = query
        .get("minutes")
        .and_then(|m| m.parse::<i64>().ok())
        .unwrap_or(DEFAULT_SERIES_MINUTES)
        .clamp(1, MAX_SERIES_MINUTES);
    let now = app.store.clock().now_millis();
    let end = minute_of(now) + MINUTE_MS;
    let start = end - minutes * MINUTE_MS;
    let wanted = query.get("uuid");
    let docs: Vec<MappingDoc> = MappingDoc::all(&app.lambda)
        .into_iter()
        .filter(|d| wanted.is_none_or(|u| *u == d.uuid))
        .collect();
    let column = |id: &MetricId, stat: Statistic| -> Vec<Value> {
        let points = app
            .metrics
            .with_store(|s| s.statistics(id, start, end, MINUTE_MS))
            .map(|(_, p)| p)
            .unwrap_or_default();
        let by_minute: BTreeMap<i64, f64> = points
            .iter()
            .filter_map(|(t, st)| st.get(&stat).map(|v| (*t, v)))
            .collect();
        (0..minutes)
            .map(|i| {
                by_minute
                    .get(&(start + i * MINUTE_MS))
                    .map_or(Value::Null, |v| json!(v))
            })
            .collect()
    };
    let mappings: Vec<Value> = docs
        .iter()
        .map(|d| {
            let age = MetricId::new("IteratorAge", &[("EventSourceMappingUUID", &d.uuid)]);
            let invocations = MetricId::new("Invocations", &[("FunctionName", &d.function_name)]);
            let errors = MetricId::new("Errors", &[("FunctionName", &d.function_name)]);
            json!({
                "UUID": d.uuid,
                "FunctionName": d.function_name,
                "IteratorAgeMaximum": column(&age, Statistic::Maximum),
                "IteratorAgeAverage": column(&age, Statistic::Average),
                "Invocations": column(&invocations, Statistic::Sum),
                "Errors": column(&errors, Statistic::Sum),
            })
        })
        .collect();
    json!({
        "Start": iso_millis(start),
        "PeriodSeconds": 60,
        "Timestamps": (0..minutes).map(|i| iso_millis(start + i * MINUTE_MS)).collect::<Vec<_>>(),
        "EventSourceMappings": mappings,
    })
}

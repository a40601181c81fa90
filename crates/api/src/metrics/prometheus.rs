//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4). Names are
//! `tributary_<thing>_<unit>`; labels are only `function`, `uuid` (a mapping) and `shard`
//! where the shard is the point — never table, item or stream names.
//!
//! Written by hand rather than with `prometheus-client`: that crate encodes OpenMetrics (its
//! `# EOF` and counter naming differ from the classic format asked for here), and most values
//! are read from the engine and the store at scrape time rather than kept in a registry.

use std::fmt::Write;

use serde_json::Value;

use super::{FunctionTotals, Histogram};
use crate::App;
use tributary_lambda::mappings::MappingDoc;

/// The content type of the classic text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A text exposition being written: one `# HELP`/`# TYPE` header per family, then its samples.
#[derive(Default)]
struct Exposition {
    out: String,
}

fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(val));
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&number(v));
        self.out.push('\n');
    }

    /// A family with one sample per label set.
    fn gauge_family<'a>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Vec<(&'a str, &'a str)>, f64)>,
    ) {
        self.family(name, kind, help);
        for (labels, v) in samples {
            self.sample(name, &labels, v);
        }
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let mut cumulative = 0u64;
        for (i, bound) in h.bounds.iter().enumerate() {
            cumulative += h.counts[i];
            let le = number(*bound);
            let mut l = labels.to_vec();
            l.push(("le", &le));
            self.sample(&format!("{name}_bucket"), &l, cumulative as f64);
        }
        let mut l = labels.to_vec();
        l.push(("le", "+Inf"));
        self.sample(&format!("{name}_bucket"), &l, h.count as f64);
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.sample(&format!("{name}_count"), labels, h.count as f64);
    }
}

fn mapping_labels(doc: &MappingDoc) -> Vec<(&'static str, &str)> {
    vec![("function", &doc.function_name), ("uuid", &doc.uuid)]
}

/// The whole exposition, read at scrape time.
pub fn render(app: &App) -> String {
    app.sample_metrics();
    let mut e = Exposition::default();
    e.gauge_family(
        "tributary_build_info",
        "gauge",
        "The running version of tributary.",
        [(vec![("version", env!("CARGO_PKG_VERSION"))], 1.0)],
    );

    // The server's own health.
    let (requests, latency) = app.metrics.request_totals();
    e.family(
        "tributary_http_requests_total",
        "counter",
        "API requests, by service and operation.",
    );
    for ((service, op), t) in &requests {
        let l = [("service", *service), ("operation", op.as_str())];
        e.sample("tributary_http_requests_total", &l, t.requests as f64);
    }
    e.family(
        "tributary_http_request_errors_total",
        "counter",
        "API requests answered with an error, by service, operation and status class (4xx, 5xx).",
    );
    for ((service, op), t) in &requests {
        for (class, n) in [("4xx", t.client_errors), ("5xx", t.server_errors)] {
            if n > 0 {
                let l = [
                    ("service", *service),
                    ("operation", op.as_str()),
                    ("status", class),
                ];
                e.sample("tributary_http_request_errors_total", &l, n as f64);
            }
        }
    }
    e.family(
        "tributary_http_request_duration_seconds",
        "histogram",
        "Time to answer API requests, by service (long polls and synchronous invocations included).",
    );
    for (service, h) in &latency {
        e.histogram(
            "tributary_http_request_duration_seconds",
            &[("service", service)],
            h,
        );
    }

    // Tables and streams.
    let (tables, streams, open, closed) = {
        let cat = app.store.catalog();
        let mut open = 0usize;
        let mut closed = 0usize;
        let mut live_streams = 0usize;
        for s in cat.streams.values() {
            if s.enabled {
                live_streams += 1;
            }
            for sh in &s.shards {
                if sh.end_seq.is_some() {
                    closed += 1;
                } else {
                    open += 1;
                }
            }
        }
        (cat.tables.len(), live_streams, open, closed)
    };
    e.gauge_family(
        "tributary_tables",
        "gauge",
        "DynamoDB tables.",
        [(vec![], tables as f64)],
    );
    e.gauge_family(
        "tributary_streams",
        "gauge",
        "Enabled DynamoDB streams.",
        [(vec![], streams as f64)],
    );
    e.gauge_family(
        "tributary_stream_open_shards",
        "gauge",
        "Open stream shards (receiving records).",
        [(vec![], open as f64)],
    );
    e.gauge_family(
        "tributary_stream_closed_shards",
        "gauge",
        "Closed stream shards still readable.",
        [(vec![], closed as f64)],
    );

    // Functions.
    let functions = app.metrics.function_totals();
    let fns: Vec<(&String, &FunctionTotals)> = functions.iter().collect();
    let per_fn = |f: fn(&FunctionTotals) -> f64| -> Vec<(Vec<(&str, &str)>, f64)> {
        fns.iter()
            .map(|(name, t)| (vec![("function", name.as_str())], f(t)))
            .collect()
    };
    e.gauge_family(
        "tributary_lambda_invocations_total",
        "counter",
        "Invocations that ran function code (Lambda's Invocations).",
        per_fn(|t| t.invocations as f64),
    );
    e.gauge_family(
        "tributary_lambda_errors_total",
        "counter",
        "Invocations that ended in a function error (Lambda's Errors).",
        per_fn(|t| t.errors as f64),
    );
    e.gauge_family(
        "tributary_lambda_throttles_total",
        "counter",
        "Invocation requests refused by a concurrency limit (Lambda's Throttles).",
        per_fn(|t| t.throttles as f64),
    );
    e.gauge_family(
        "tributary_lambda_concurrent_executions",
        "gauge",
        "Invocations running now.",
        per_fn(|t| t.in_flight as f64),
    );
    e.family(
        "tributary_lambda_duration_milliseconds",
        "histogram",
        "Handler run time (Lambda's Duration).",
    );
    for (name, t) in &fns {
        e.histogram(
            "tributary_lambda_duration_milliseconds",
            &[("function", name.as_str())],
            &t.duration,
        );
    }

    // Event source mappings.
    let docs = MappingDoc::all(&app.lambda);
    let mut rows = Vec::new();
    for doc in &docs {
        let status = app.lambda.engine().status(&doc.uuid);
        let (_, dropped) = app.metrics.mapping_notes(&doc.uuid);
        let shards = tributary_lambda::mappings::shards_view(&app.lambda, &doc.uuid)
            .ok()
            .and_then(|v| v.get("Shards").cloned())
            .and_then(|v| match v {
                Value::Array(a) => Some(a),
                _ => None,
            })
            .unwrap_or_default();
        rows.push((doc, status, dropped, shards));
    }
    type Pick = fn(&MappingDoc, &tributary_esm::MappingStatus, u64) -> Option<f64>;
    let families: [(&str, &str, &str, Pick); 13] = [
        (
            "tributary_esm_enabled",
            "gauge",
            "1 while the mapping is enabled.",
            |doc, _, _| Some(if doc.enabled { 1.0 } else { 0.0 }),
        ),
        (
            "tributary_esm_polled_events_total",
            "counter",
            "Records read from the stream (PolledEventCount).",
            |_, s, _| Some(s.counters.polled_events as f64),
        ),
        (
            "tributary_esm_filtered_out_events_total",
            "counter",
            "Records dropped by FilterCriteria (FilteredOutEventCount).",
            |_, s, _| Some(s.counters.filtered_out_events as f64),
        ),
        (
            "tributary_esm_invoked_events_total",
            "counter",
            "Records sent to the function, retries included (InvokedEventCount).",
            |_, s, _| Some(s.counters.invoked_events as f64),
        ),
        (
            "tributary_esm_failed_invoke_events_total",
            "counter",
            "Records whose invocation failed (FailedInvokeEventCount).",
            |_, s, _| Some(s.counters.failed_invoke_events as f64),
        ),
        (
            "tributary_esm_dropped_events_total",
            "counter",
            "Records discarded and not delivered to a destination (DroppedEventCount).",
            |_, _, d| Some(d as f64),
        ),
        (
            "tributary_esm_destination_delivered_events_total",
            "counter",
            "Records reported to the on-failure destination (OnFailureDestinationDeliveredEventCount).",
            |_, s, _| Some(s.counters.destination_delivered_events as f64),
        ),
        (
            "tributary_esm_destination_delivery_failures_total",
            "counter",
            "Refused tries to deliver a failure record to its destination (DestinationDeliveryFailures).",
            |_, s, _| Some(s.counters.destination_delivery_failures as f64),
        ),
        (
            "tributary_esm_invocations_total",
            "counter",
            "Batches the mapping invoked the function with.",
            |_, s, _| Some(s.counters.invocations as f64),
        ),
        (
            "tributary_esm_function_errors_total",
            "counter",
            "Batches that failed with a function error.",
            |_, s, _| Some(s.counters.errors as f64),
        ),
        (
            "tributary_esm_throttles_total",
            "counter",
            "Batches the function throttled.",
            |_, s, _| Some(s.counters.throttles as f64),
        ),
        (
            "tributary_esm_iterator_age_milliseconds",
            "gauge",
            "Age of the last record of the last batch sent to the function (IteratorAge).",
            |_, s, _| s.counters.iterator_age_ms.map(|a| a as f64),
        ),
        (
            "tributary_esm_shards",
            "gauge",
            "Shards the mapping knows of.",
            |_, s, _| Some(s.shards.len() as f64),
        ),
    ];
    for (name, kind, help, pick) in families {
        e.family(name, kind, help);
        for (doc, status, dropped, _) in &rows {
            if let Some(v) = pick(doc, status, *dropped) {
                e.sample(name, &mapping_labels(doc), v);
            }
        }
    }
    let shard_families: [(&str, &str, &str); 4] = [
        (
            "tributary_esm_shard_lag_milliseconds",
            "LagMillis",
            "How long the oldest record the mapping has not finished has waited, per unfinished shard.",
        ),
        (
            "tributary_esm_shard_iterator_age_milliseconds",
            "IteratorAgeMillis",
            "IteratorAge of the shard's last batch.",
        ),
        (
            "tributary_esm_shard_in_flight_batches",
            "InFlightBatches",
            "Batches of the shard being invoked now.",
        ),
        (
            "tributary_esm_shard_retries",
            "RetryCount",
            "Failed attempts at the shard's current batch.",
        ),
    ];
    for (name, key, help) in shard_families {
        e.family(name, "gauge", help);
        for (doc, _, _, shards) in &rows {
            for sh in shards {
                if sh.get("Finished").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                let (Some(id), Some(v)) = (
                    sh.get("ShardId").and_then(Value::as_str),
                    sh.get(key).and_then(Value::as_f64),
                ) else {
                    continue;
                };
                let mut l = mapping_labels(doc);
                l.push(("shard", id));
                e.sample(name, &l, v);
            }
        }
    }
    e.gauge_family(
        "tributary_cloudwatch_metrics",
        "gauge",
        "CloudWatch metrics (name + dimensions) held in memory for GetMetricStatistics.",
        [(vec![], app.metrics.series_count() as f64)],
    );
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_classic_text_format() {
        let mut e = Exposition::default();
        e.family("x_total", "counter", "A help\nline with \\.");
        e.sample("x_total", &[("function", "a\"b\\c\nd")], 3.0);
        e.sample("x_total", &[], 0.5);
        let mut h = Histogram::new(&[1.0, 10.0]);
        h.observe(2.0);
        e.histogram("d", &[("function", "f")], &h);
        assert_eq!(
            e.out,
            "# HELP x_total A help\\nline with \\\\.\n# TYPE x_total counter\n\
             x_total{function=\"a\\\"b\\\\c\\nd\"} 3\nx_total 0.5\n\
             d_bucket{function=\"f\",le=\"1\"} 0\nd_bucket{function=\"f\",le=\"10\"} 1\n\
             d_bucket{function=\"f\",le=\"+Inf\"} 1\nd_sum{function=\"f\"} 2\nd_count{function=\"f\"} 1\n"
        );
    }
}

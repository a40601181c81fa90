//! What the pipeline did, in numbers (the registry; the sampler and the views live with the
//! server): Lambda's CloudWatch metrics (namespace `AWS/Lambda`,
//! one-minute buckets on the server clock, kept for `--metrics-retention`), the server's own
//! counters for `/metrics`, and the shared picture behind `GET /_tributary/status`, the
//! dashboard and `tributary status`.
//!
//! Function metrics (`Invocations`, `Errors`, `Throttles`, `Duration`, `ConcurrentExecutions`)
//! are recorded by every invocation as it ends. Event source mapping metrics come from the
//! engine's cumulative counters, which a sampler reads every second (five times a second while
//! something moves), right after every invocation starts, before the server clock is moved by
//! hand and before every read, and turns into per-minute deltas. `IteratorAge` is the age the
//! engine noted for the newest batch of each shard at each sample: exact while batches are
//! slower than the sampler, the newest of each burst otherwise.

pub mod store;

const X_AMZ_TARGET: http::HeaderName = http::HeaderName::from_static("x-amz-target");

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use tributary_esm::{Counters, Engine};
use tributary_functions::{HostError, InvokeResult};

pub use store::{MetricId, MetricStore, Statistic, Stats, Unit};

/// The namespace every metric here belongs to.
pub const NAMESPACE: &str = "AWS/Lambda";
/// How often the sampler reads the engine while nothing moves, and while something does.
pub const IDLE_TICK: Duration = Duration::from_secs(1);
pub const BUSY_TICK: Duration = Duration::from_millis(200);
/// The shortest gap between samples asked for by invocations: under load one sample covers
/// many batches (their IteratorAge is then known by the last of each shard only).
pub const KICK_GAP: Duration = Duration::from_millis(25);
/// Failure notes kept per mapping for the dashboard and `status`.
const FAILURE_NOTES: usize = 20;
/// Distinct (service, operation) request counters kept; the rest are counted as `other`, so
/// clients sending made-up targets cannot grow the exposition without bound.
const MAX_REQUEST_LABELS: usize = 400;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Upper bounds (ms) of the `/metrics` duration histograms.
const DURATION_BOUNDS_MS: &[f64] = &[
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 900000.0,
];
/// Upper bounds (s) of the request latency histogram.
const REQUEST_BOUNDS_S: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A cumulative Prometheus histogram with fixed bounds.
#[derive(Debug, Clone)]
pub struct Histogram {
    pub bounds: &'static [f64],
    /// Per bound (not cumulative); the last slot counts values above every bound.
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, v: f64) {
        let i = self.bounds.partition_point(|b| *b < v);
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
    }
}

/// Per function, since the server started (for `/metrics` and `status`).
#[derive(Debug, Clone)]
pub struct FunctionTotals {
    pub invocations: u64,
    pub errors: u64,
    pub throttles: u64,
    pub in_flight: u64,
    pub duration: Histogram,
    pub last_invocation_ms: Option<i64>,
}

impl Default for FunctionTotals {
    fn default() -> Self {
        FunctionTotals {
            invocations: 0,
            errors: 0,
            throttles: 0,
            in_flight: 0,
            duration: Histogram::new(DURATION_BOUNDS_MS),
            last_invocation_ms: None,
        }
    }
}

/// Requests of one operation.
#[derive(Debug, Clone, Default)]
pub struct RequestTotals {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
}

/// Requests per (service, operation).
pub type RequestCounts = BTreeMap<(&'static str, String), RequestTotals>;

/// Something that went wrong in a mapping, as the sampler saw it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailureNote {
    /// Server clock, epoch ms, of the last time it was seen.
    pub time: i64,
    pub shard_id: Option<String>,
    /// `FunctionError`, `Throttled`, `Discarded`, `DestinationDelivered`,
    /// `DestinationDeliveryFailed`, or `Error` (the function could not be invoked).
    pub kind: &'static str,
    pub message: String,
    /// How many times in a row it was seen.
    pub count: u64,
}

/// What the sampler saw of a mapping last time.
#[derive(Debug, Default)]
struct MappingSeen {
    counters: Counters,
    shard_ages: HashMap<String, i64>,
    shard_errors: HashMap<String, (Option<String>, u64)>,
    /// The cumulative `DroppedEventCount` published so far (see [`App::sample_metrics`]).
    dropped_published: u64,
    failures: VecDeque<FailureNote>,
}

impl MappingSeen {
    fn note(&mut self, note: FailureNote) {
        if let Some(last) = self.failures.back_mut() {
            if last.shard_id == note.shard_id
                && last.kind == note.kind
                && last.message == note.message
            {
                last.time = note.time;
                last.count += note.count;
                return;
            }
        }
        if self.failures.len() == FAILURE_NOTES {
            self.failures.pop_front();
        }
        self.failures.push_back(note);
    }
}

#[derive(Debug, Default)]
struct Sampler {
    mappings: HashMap<String, MappingSeen>,
    last_prune_ms: i64,
}

/// The server's metrics: the CloudWatch store plus what `/metrics` reports.
pub struct Metrics {
    store: Mutex<MetricStore>,
    functions: Mutex<BTreeMap<String, FunctionTotals>>,
    requests: Mutex<RequestCounts>,
    request_latency: Mutex<BTreeMap<&'static str, Histogram>>,
    sampler: Mutex<Sampler>,
    /// Rung by every invocation: an event source mapping has just noted a batch's
    /// IteratorAge, and the sampler should look before the next batch overwrites it.
    /// Wakes the sampler early (an invocation started).
    pub kick: tokio::sync::Notify,
}

impl Metrics {
    pub fn new(retention_ms: i64) -> Metrics {
        Metrics {
            store: Mutex::new(MetricStore::new(retention_ms)),
            functions: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(BTreeMap::new()),
            request_latency: Mutex::new(BTreeMap::new()),
            sampler: Mutex::new(Sampler::default()),
            kick: tokio::sync::Notify::new(),
        }
    }

    /// Runs `f` on the metric store (CloudWatch reads).
    pub fn with_store<R>(&self, f: impl FnOnce(&MetricStore) -> R) -> R {
        f(&lock(&self.store))
    }

    fn put_all(&self, puts: Vec<(MetricId, Unit, i64, f64)>) {
        if puts.is_empty() {
            return;
        }
        let mut store = lock(&self.store);
        for (id, unit, at, v) in puts {
            store.put(id, unit, at, v);
        }
    }

    /// Counts one request to the API (`/metrics`: requests and errors per operation, latency
    /// per service).
    pub fn count_request(&self, label: RequestLabel, status: u16, elapsed: Duration) {
        {
            let mut reqs = lock(&self.requests);
            let mut key = (label.service, label.operation);
            if !reqs.contains_key(&key) && reqs.len() >= MAX_REQUEST_LABELS {
                key.1 = "other".to_owned();
            }
            let t = reqs.entry(key).or_default();
            t.requests += 1;
            match status {
                400..=499 => t.client_errors += 1,
                500.. => t.server_errors += 1,
                _ => {}
            }
        }
        lock(&self.request_latency)
            .entry(label.service)
            .or_insert_with(|| Histogram::new(REQUEST_BOUNDS_S))
            .observe(elapsed.as_secs_f64());
    }

    /// Starts an invocation of `function` as `invoked_arn` names it, running `version`; the
    /// returned guard records it when finished (or drops it if the invocation is abandoned).
    pub fn invocation(
        &self,
        function: &str,
        invoked_arn: &str,
        version: &str,
        now_ms: i64,
    ) -> Invocation<'_> {
        self.kick.notify_one();
        let in_flight = {
            let mut fns = lock(&self.functions);
            let t = fns.entry(function.to_owned()).or_default();
            t.in_flight += 1;
            t.in_flight
        };
        Invocation {
            metrics: self,
            dims: function_dimensions(function, invoked_arn, Some(version)),
            function: function.to_owned(),
            started_ms: now_ms,
            in_flight,
        }
    }

    pub fn function_totals(&self) -> BTreeMap<String, FunctionTotals> {
        lock(&self.functions).clone()
    }

    pub fn request_totals(&self) -> (RequestCounts, BTreeMap<&'static str, Histogram>) {
        (
            lock(&self.requests).clone(),
            lock(&self.request_latency).clone(),
        )
    }

    /// The failure notes and published drop count of a mapping.
    pub fn mapping_notes(&self, uuid: &str) -> (Vec<FailureNote>, u64) {
        lock(&self.sampler)
            .mappings
            .get(uuid)
            .map(|m| (m.failures.iter().cloned().collect(), m.dropped_published))
            .unwrap_or_default()
    }

    pub fn series_count(&self) -> usize {
        lock(&self.store).len()
    }

    fn account_in_flight(&self) -> u64 {
        lock(&self.functions).values().map(|t| t.in_flight).sum()
    }
}

/// The dimension sets a function metric is published under, as Lambda does: the Region
/// aggregate (none), `FunctionName`, `FunctionName`+`Resource` when the function was invoked
/// through a qualifier, and `+ExecutedVersion` when that qualifier is an alias.
fn function_dimensions(
    function: &str,
    invoked_arn: &str,
    executed_version: Option<&str>,
) -> Vec<Vec<(String, String)>> {
    let own = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        v.sort();
        v
    };
    let mut sets = vec![own(&[]), own(&[("FunctionName", function)])];
    let qualifier = tributary_model::arn::parse_function_ref(invoked_arn).and_then(|r| r.qualifier);
    if let Some(q) = qualifier {
        let resource = format!("{function}:{q}");
        sets.push(own(&[("FunctionName", function), ("Resource", &resource)]));
        let is_alias = q != "$LATEST" && !q.bytes().all(|b| b.is_ascii_digit());
        if let (true, Some(v)) = (is_alias, executed_version) {
            sets.push(own(&[
                ("FunctionName", function),
                ("Resource", &resource),
                ("ExecutedVersion", v),
            ]));
        }
    }
    sets
}

fn puts_for(
    puts: &mut Vec<(MetricId, Unit, i64, f64)>,
    dims: &[Vec<(String, String)>],
    name: &str,
    unit: Unit,
    at: i64,
    value: f64,
) {
    for d in dims {
        puts.push((
            MetricId {
                name: name.to_owned(),
                dimensions: d.clone(),
            },
            unit,
            at,
            value,
        ));
    }
}

/// An invocation in progress; see [`Metrics::invocation`].
pub struct Invocation<'a> {
    metrics: &'a Metrics,
    function: String,
    dims: Vec<Vec<(String, String)>>,
    started_ms: i64,
    /// The function's concurrent executions when this one started (itself included).
    in_flight: u64,
}

impl Invocation<'_> {
    /// Records how the invocation ended. As on Lambda: a throttle is only a `Throttles`; an
    /// invocation that ran is an `Invocations` with its `Errors` (0 or 1), `Duration` and
    /// `ConcurrentExecutions`, timestamped at its start. Host failures (nothing ran, nothing
    /// throttled) are not Lambda metrics.
    pub fn finish(self, result: &Result<InvokeResult, HostError>) {
        let at = self.started_ms;
        let mut puts = Vec::new();
        let account_in_flight = self.metrics.account_in_flight();
        {
            let mut fns = lock(&self.metrics.functions);
            let t = fns.entry(self.function.clone()).or_default();
            match result {
                Ok(out) => {
                    let error = out.function_error.is_some();
                    t.invocations += 1;
                    t.errors += u64::from(error);
                    t.duration.observe(out.duration_ms);
                    t.last_invocation_ms = Some(at);
                    puts_for(&mut puts, &self.dims, "Invocations", Unit::Count, at, 1.0);
                    let e = if error { 1.0 } else { 0.0 };
                    puts_for(&mut puts, &self.dims, "Errors", Unit::Count, at, e);
                    puts_for(
                        &mut puts,
                        &self.dims,
                        "Duration",
                        Unit::Milliseconds,
                        at,
                        out.duration_ms,
                    );
                    // The Region aggregate counts every function's executions.
                    let (region, function) = self.dims.split_at(1);
                    let conc = self.in_flight as f64;
                    puts_for(
                        &mut puts,
                        function,
                        "ConcurrentExecutions",
                        Unit::Count,
                        at,
                        conc,
                    );
                    puts_for(
                        &mut puts,
                        region,
                        "ConcurrentExecutions",
                        Unit::Count,
                        at,
                        account_in_flight as f64,
                    );
                }
                Err(HostError::Throttled(_)) => {
                    t.throttles += 1;
                    puts_for(&mut puts, &self.dims, "Throttles", Unit::Count, at, 1.0);
                }
                Err(_) => {}
            }
        }
        self.metrics.put_all(puts);
        // `Drop` gives the concurrency slot back.
    }
}

impl Drop for Invocation<'_> {
    fn drop(&mut self) {
        let mut fns = lock(&self.metrics.functions);
        if let Some(t) = fns.get_mut(&self.function) {
            t.in_flight = t.in_flight.saturating_sub(1);
        }
    }
}

/// What `/metrics` counts a request as: its service and operation. Operations are API
/// operation names (`PutItem`) or, for REST paths, the path with its identifiers replaced by
/// `{}` — never a resource name, so the label set stays small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLabel {
    pub service: &'static str,
    pub operation: String,
}

/// Path segments kept as they are in a REST operation label; any other segment is an
/// identifier (function name, UUID, ...).
const PATH_WORDS: &[&str] = &[
    "2015-03-31",
    "2016-08-19",
    "2017-03-31",
    "2017-10-31",
    "2018-10-31",
    "2019-09-25",
    "2019-09-30",
    "2020-04-22",
    "2020-06-30",
    "2021-10-31",
    "functions",
    "invocations",
    "invoke-async",
    "configuration",
    "code",
    "versions",
    "aliases",
    "policy",
    "concurrency",
    "provisioned-concurrency",
    "event-invoke-config",
    "event-source-mappings",
    "account-settings",
    "tags",
    "url",
    "layers",
    "_tributary",
    "health",
    "clock",
    "advance",
    "streams",
    "rollover",
    "drain",
    "shards",
    "status",
    "dashboard",
    "metrics",
    "series",
    "service",
    "operation",
    "GraniteServiceVersion20100801",
];

fn operation_word(s: &str) -> Option<&str> {
    (!s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(s)
}

impl RequestLabel {
    /// The label of a request, from its target, signing service or path.
    pub fn of(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> RequestLabel {
        let header = |name: http::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(target) = header(X_AMZ_TARGET) {
            let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
            let service = match prefix {
                "DynamoDB_20120810" => "dynamodb",
                "DynamoDBStreams_20120810" => "dynamodbstreams",
                "Logs_20140328" => "logs",
                "AmazonSQS" => "sqs",
                "GraniteServiceVersion20100801" => "cloudwatch",
                _ => "unknown",
            };
            let operation = operation_word(op).unwrap_or("invalid").to_owned();
            return RequestLabel { service, operation };
        }
        let path = uri.path();
        if let Some(op) = path.strip_prefix("/service/GraniteServiceVersion20100801/operation/") {
            return RequestLabel {
                service: "cloudwatch",
                operation: operation_word(op).unwrap_or("invalid").to_owned(),
            };
        }
        let auth = header(http::header::AUTHORIZATION).unwrap_or("");
        let signed_for = auth
            .split("Credential=")
            .nth(1)
            .and_then(|c| c.split([',', ' ']).next())
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or("");
        let query_service = match signed_for {
            "sqs" => Some("sqs"),
            "sns" => Some("sns"),
            "monitoring" => Some("cloudwatch"),
            "s3" => {
                return RequestLabel {
                    service: "s3",
                    operation: method.as_str().to_owned(),
                }
            }
            _ => None,
        };
        if let Some(service) = query_service {
            let action = |q: &str| {
                q.split('&')
                    .find_map(|p| p.strip_prefix("Action="))
                    .and_then(operation_word)
                    .map(str::to_owned)
            };
            let operation = uri
                .query()
                .and_then(action)
                .or_else(|| std::str::from_utf8(body).ok().and_then(action))
                .unwrap_or_else(|| "invalid".to_owned());
            return RequestLabel { service, operation };
        }
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let first = segments.clone().next().unwrap_or("");
        let service = match first {
            "_tributary" => "tributary",
            "metrics" => "tributary",
            "" => "unknown",
            _ if PATH_WORDS.contains(&first) => "lambda",
            _ => "unknown",
        };
        let mut op = method.as_str().to_owned();
        op.push(' ');
        if service == "unknown" {
            op.push_str("/{}");
        } else {
            for s in segments.by_ref() {
                op.push('/');
                op.push_str(if PATH_WORDS.contains(&s) { s } else { "{}" });
            }
        }
        RequestLabel {
            service,
            operation: op,
        }
    }
}

/// What the sampler needs to know of an event source mapping.
#[derive(Debug, Clone)]
pub struct SampledMapping {
    pub uuid: String,
    pub function_name: String,
    pub function_arn: String,
    pub enabled: bool,
    /// `MetricsConfig {"Metrics": ["EventCount"]}`: the event count metrics are published.
    pub event_counts: bool,
}

impl Metrics {
    /// Reads the engine's counters and turns what changed since the last sample into metrics;
    /// true when anything moved. Safe to call at any time (the sampler task, before the clock
    /// is moved, before reads): samples are taken one at a time.
    pub fn sample(&self, now: i64, docs: &[SampledMapping], engine: &Engine) -> bool {
        let mut sampler = lock(&self.sampler);
        let mut puts: Vec<(MetricId, Unit, i64, f64)> = Vec::new();
        let mut moved = false;
        let mut live: HashSet<&str> = HashSet::new();
        for doc in docs {
            live.insert(doc.uuid.as_str());
            let status = engine.status(&doc.uuid);
            let seen = sampler.mappings.entry(doc.uuid.clone()).or_default();
            let (old, new) = (seen.counters, status.counters);
            // Counters only grow; a smaller value means the engine started counting afresh.
            let delta = |f: fn(&Counters) -> u64| {
                let (o, n) = (f(&old), f(&new));
                if n >= o {
                    n - o
                } else {
                    n
                }
            };
            let polled = delta(|c| c.polled_events);
            let filtered = delta(|c| c.filtered_out_events);
            let invoked = delta(|c| c.invoked_events);
            let failed = delta(|c| c.failed_invoke_events);
            let delivered = delta(|c| c.destination_delivered_events);
            let delivery_failures = delta(|c| c.destination_delivery_failures);
            let attempts = delta(|c| c.invocations) + delta(|c| c.throttles);
            // Records discarded with no destination, or whose failure record could not be
            // delivered before the stream's retention passed (the engine counts only those).
            let dropped = delta(|c| c.dropped_events);
            seen.dropped_published += dropped;
            let dropped_at = now;
            seen.counters = new;

            let fn_dims = function_dimensions(&doc.function_name, &doc.function_arn, None);
            let esm_dims = vec![vec![(
                "EventSourceMappingUUID".to_owned(),
                doc.uuid.clone(),
            )]];
            // IteratorAge: each shard's newest batch since the last sample.
            let mut ages = Vec::new();
            for (shard, s) in &status.shards {
                if let Some(age) = s.iterator_age_ms {
                    if seen.shard_ages.insert(shard.clone(), age) != Some(age) {
                        ages.push(age);
                    }
                }
            }
            if ages.is_empty() && attempts > 0 {
                ages.extend(new.iterator_age_ms);
            }
            for age in &ages {
                let v = *age.max(&0) as f64;
                puts_for(
                    &mut puts,
                    &fn_dims,
                    "IteratorAge",
                    Unit::Milliseconds,
                    now,
                    v,
                );
                puts_for(
                    &mut puts,
                    &esm_dims,
                    "IteratorAge",
                    Unit::Milliseconds,
                    now,
                    v,
                );
            }
            if delivery_failures > 0 {
                let v = delivery_failures as f64;
                puts_for(
                    &mut puts,
                    &fn_dims,
                    "DestinationDeliveryFailures",
                    Unit::Count,
                    now,
                    v,
                );
            }
            if doc.enabled && doc.event_counts {
                let mut count = |name: &str, v: u64, always: bool| {
                    if v > 0 || always {
                        puts_for(&mut puts, &esm_dims, name, Unit::Count, now, v as f64);
                    }
                };
                // Lambda publishes PolledEventCount also for empty polls, and
                // FilteredOutEventCount (0 when everything matched) whenever it polled records.
                count("PolledEventCount", polled, true);
                count("FilteredOutEventCount", filtered, polled > 0);
                count("InvokedEventCount", invoked, false);
                count("FailedInvokeEventCount", failed, false);
                count("OnFailureDestinationDeliveredEventCount", delivered, false);
                if dropped > 0 {
                    let v = dropped as f64;
                    puts_for(
                        &mut puts,
                        &esm_dims,
                        "DroppedEventCount",
                        Unit::Count,
                        dropped_at,
                        v,
                    );
                }
            }

            // Failure notes for the dashboard and `status`.
            for (shard, s) in &status.shards {
                let prev = seen
                    .shard_errors
                    .insert(shard.clone(), (s.last_error.clone(), s.retries));
                let Some(err) = &s.last_error else { continue };
                let again = match &prev {
                    Some((Some(e), r)) => e != err || s.retries > *r,
                    _ => true,
                };
                if again {
                    let kind = if err == "Rate Exceeded." {
                        "Throttled"
                    } else if status
                        .last_processing_result
                        .as_deref()
                        .is_some_and(|r| r.contains("Function call failed"))
                    {
                        "FunctionError"
                    } else {
                        "Error"
                    };
                    seen.note(FailureNote {
                        time: now,
                        shard_id: Some(shard.clone()),
                        kind,
                        message: err.clone(),
                        count: 1,
                    });
                }
            }
            let discarded = delta(|c| c.dropped_events);
            if discarded > 0 {
                seen.note(FailureNote {
                    time: now,
                    shard_id: None,
                    kind: "Discarded",
                    message: format!(
                        "{discarded} record(s) discarded: retries exhausted or record too old"
                    ),
                    count: 1,
                });
            }
            if delivered > 0 {
                seen.note(FailureNote {
                    time: now,
                    shard_id: None,
                    kind: "DestinationDelivered",
                    message: format!(
                        "{delivered} record(s) reported to the on-failure destination"
                    ),
                    count: 1,
                });
            }
            if delivery_failures > 0 {
                seen.note(FailureNote {
                    time: now,
                    shard_id: None,
                    kind: "DestinationDeliveryFailed",
                    message: format!(
                        "{delivery_failures} failure record(s) could not be delivered"
                    ),
                    count: 1,
                });
            }
            moved |= polled + invoked + failed + discarded + attempts > 0
                || status.shards.values().any(|s| s.in_flight > 0);
        }
        sampler
            .mappings
            .retain(|uuid, _| live.contains(uuid.as_str()));

        // A long invocation keeps showing in ConcurrentExecutions in every minute it spans.
        let running: Vec<(String, u64)> = lock(&self.functions)
            .iter()
            .filter(|(_, t)| t.in_flight > 0)
            .map(|(f, t)| (f.clone(), t.in_flight))
            .collect();
        let total: u64 = running.iter().map(|(_, n)| n).sum();
        for (f, n) in &running {
            puts.push((
                MetricId::new("ConcurrentExecutions", &[("FunctionName", f)]),
                Unit::Count,
                now,
                *n as f64,
            ));
        }
        if total > 0 {
            puts.push((
                MetricId::new("ConcurrentExecutions", &[]),
                Unit::Count,
                now,
                total as f64,
            ));
            moved = true;
        }
        let prune = now - sampler.last_prune_ms >= store::MINUTE_MS || now < sampler.last_prune_ms;
        if prune {
            sampler.last_prune_ms = now;
        }
        // The store lock is taken while the sampler lock is held, never the other way round.
        {
            let mut store = lock(&self.store);
            for (id, unit, at, v) in puts {
                store.put(id, unit, at, v);
            }
            if prune {
                store.prune(now);
            }
        }
        drop(sampler);
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(method: Method, uri: &str, headers: &[(&str, &str)], body: &str) -> RequestLabel {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        RequestLabel::of(
            &method,
            &uri.parse().unwrap(),
            &h,
            &Bytes::from(body.to_owned()),
        )
    }

    #[test]
    fn request_labels_never_carry_resource_names() {
        let l = label(
            Method::POST,
            "/",
            &[("x-amz-target", "DynamoDB_20120810.PutItem")],
            "",
        );
        assert_eq!((l.service, l.operation.as_str()), ("dynamodb", "PutItem"));
        let l = label(
            Method::POST,
            "/2015-03-31/functions/my-fn/invocations",
            &[],
            "",
        );
        assert_eq!(
            (l.service, l.operation.as_str()),
            ("lambda", "POST /2015-03-31/functions/{}/invocations")
        );
        let l = label(
            Method::GET,
            "/_tributary/event-source-mappings/0b5e/shards",
            &[],
            "",
        );
        assert_eq!(
            (l.service, l.operation.as_str()),
            (
                "tributary",
                "GET /_tributary/event-source-mappings/{}/shards"
            )
        );
        let auth = "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=x";
        let l = label(
            Method::POST,
            "/",
            &[("authorization", auth)],
            "Action=ListMetrics&Version=2010-08-01",
        );
        assert_eq!(
            (l.service, l.operation.as_str()),
            ("cloudwatch", "ListMetrics")
        );
        let l = label(
            Method::POST,
            "/",
            &[("x-amz-target", "DynamoDB_20120810.Put Item<script>")],
            "",
        );
        assert_eq!(l.operation, "invalid");
    }

    #[test]
    fn function_metrics_carry_lambdas_dimension_sets() {
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
        let sets = function_dimensions("f", arn, Some("$LATEST"));
        assert_eq!(sets.len(), 2);
        assert!(sets[0].is_empty());
        let sets = function_dimensions("f", &format!("{arn}:live"), Some("3"));
        let names: Vec<Vec<&str>> = sets
            .iter()
            .map(|s| s.iter().map(|(k, _)| k.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            vec![
                vec![],
                vec!["FunctionName"],
                vec!["FunctionName", "Resource"],
                vec!["ExecutedVersion", "FunctionName", "Resource"]
            ]
        );
        assert_eq!(sets[2][1].1, "f:live");
        // A version qualifier has a Resource but no ExecutedVersion.
        assert_eq!(
            function_dimensions("f", &format!("{arn}:2"), Some("2")).len(),
            3
        );
    }

    #[test]
    fn histograms_count_values_under_their_bound() {
        let mut h = Histogram::new(&[1.0, 10.0]);
        for v in [0.5, 1.0, 5.0, 50.0] {
            h.observe(v);
        }
        assert_eq!(h.counts, vec![2, 1, 1]);
        assert_eq!((h.count, h.sum), (4, 56.5));
    }
}

//! Amazon CloudWatch's read side for Lambda's metrics: GetMetricStatistics, GetMetricData (with
//! `MetricStat` queries) and ListMetrics over the namespace `AWS/Lambda`, at one-minute
//! resolution, on the server clock. Three protocols reach the same operations: Smithy RPC v2
//! CBOR (`POST /service/GraniteServiceVersion20100801/operation/<Op>`, what the newest SDKs
//! prefer), JSON 1.0 (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`, what boto3 and the
//! AWS CLI send) and the query protocol (`Action=<Op>`, XML answers) older SDKs use. The
//! service is "query compatible": JSON and CBOR errors also carry their query code in
//! `x-amzn-query-error`.

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

mod input;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use tributary_shapes::generated::cloudwatch as model;
use tributary_shapes::validate::{validate_object, Options};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Response, StatusCode, Uri};
use serde_json::{json, Map, Value};
use tributary_model::AwsError;

use tributary_metrics::store::{MetricId, Statistic, Stats, MINUTE_MS};
use tributary_metrics::{Metrics, NAMESPACE as LAMBDA_NAMESPACE};
use tributary_service::json::{output, JSON10};
use tributary_service::query::{self, Params, Xml};
use tributary_shapes::types::Timestamp;
use tributary_shapes::xml::ToXml;
use tributary_store::Store;

/// Brings the metrics up to date before they are read (the server's sampler).
pub type Refresh = Box<dyn Fn() + Send + Sync>;

/// Amazon CloudWatch metrics, in its query, JSON and RPC v2 CBOR protocols, over the metrics
/// registry.
pub struct CloudWatch {
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    refresh: Refresh,
}

impl CloudWatch {
    pub fn new(store: Store, metrics: Arc<Metrics>, refresh: Refresh) -> CloudWatch {
        CloudWatch {
            store,
            metrics,
            refresh,
        }
    }

    fn sample_metrics(&self) {
        (self.refresh)();
    }
}

#[async_trait::async_trait]
impl tributary_service::Service for CloudWatch {
    async fn call(&self, req: tributary_service::Request) -> Response<Body> {
        let target = req
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if let Some(op) = target.strip_prefix("GraniteServiceVersion20100801.") {
            return handle_json(self, op, &req.body).await;
        }
        if req.route.protocol == tributary_service::Protocol::RpcV2Cbor {
            let op = req.uri.path().rsplit('/').next().unwrap_or_default();
            return handle_cbor(self, op, &req.body).await;
        }
        handle_signed(self, &req.uri, &req.body).await
    }
}

/// The query protocol's XML namespace.
const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// Datapoints one GetMetricStatistics call may ask for.
const MAX_STATISTICS_DATAPOINTS: i64 = 1440;
/// GetMetricData's default `MaxDatapoints`.
const DEFAULT_MAX_DATAPOINTS: usize = 100_800;
/// Queries in one GetMetricData call.
const MAX_QUERIES: usize = 500;
/// Metrics per ListMetrics page.
const LIST_PAGE: usize = 500;
/// Dimensions a metric may have.
const MAX_DIMENSIONS: usize = 30;
const BASIC_STATISTICS: &str = "[SampleCount, Average, Sum, Minimum, Maximum]";
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

// ------------------------------------------------------------------------------------------
// errors: `code` is the query protocol's code; the JSON protocol names the modeled shape.

fn invalid(msg: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterValue", 400, msg)
}

fn missing(name: &str) -> AwsError {
    AwsError::new(
        "MissingParameter",
        400,
        format!("The parameter {name} is required."),
    )
}

fn combination(msg: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterCombination", 400, msg)
}

/// GetMetricData reports bad input as `ValidationError`.
fn validation(msg: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", 400, msg)
}

fn json_type(code: &str) -> &str {
    match code {
        "InvalidParameterValue" => "InvalidParameterValueException",
        "MissingParameter" => "MissingRequiredParameterException",
        "InvalidParameterCombination" => "InvalidParameterCombinationException",
        "InternalServiceError" | "InternalServerError" => "InternalServiceFault",
        other => other,
    }
}

fn query_code(code: &str) -> &str {
    match code {
        "InternalServerError" => "InternalServiceError",
        "UnknownOperationException" => "InvalidAction",
        "SerializationException" => "InvalidParameterValue",
        other => other,
    }
}

fn json_error(e: &AwsError) -> Response<Body> {
    let ty = match e.code {
        "UnknownOperationException" | "SerializationException" => {
            format!("com.amazon.coral.service#{}", e.code)
        }
        code => format!("com.amazonaws.cloudwatch#{}", json_type(code)),
    };
    let mut r = json_response(&json!({"__type": ty, "message": e.message}));
    *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let fault = if e.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", query_code(e.code))) {
        r.headers_mut().insert("x-amzn-query-error", v);
    }
    r
}

fn json_response(v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(serde_json::to_vec(v).unwrap_or_default()));
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(JSON10));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-amzn-requestid", id);
    }
    r
}

// ------------------------------------------------------------------------------------------
// the protocols

/// A JSON-protocol request (`X-Amz-Target: GraniteServiceVersion20100801.<op>`).
pub async fn handle_json(app: &CloudWatch, op: &str, body: &[u8]) -> Response<Body> {
    let req = match tributary_service::json::parse_body(body) {
        Ok(r) => r,
        Err(e) => return json_error(&e),
    };
    // The model's required members first, worded as CloudWatch's query heritage words them
    // (`The parameter Namespace is required.`); its other rules have their own messages.
    if let Some(o) = model::Operation::from_name(op) {
        if let Err(v) = validate_object(&model::SERVICE, o.def(), &req, &Options::default()) {
            if let Some(member) = v.missing_top_level() {
                return json_error(&missing(member));
            }
        }
    }
    match dispatch(app, op, req) {
        Ok(answer) => json_response(&answer.json()),
        Err(e) => {
            tracing::debug!(op, code = e.code, message = %e.message, "cloudwatch request failed");
            json_error(&e)
        }
    }
}

/// The path of a Smithy RPC v2 CBOR request, before the operation name.
pub const CBOR_PATH: &str = "/service/GraniteServiceVersion20100801/operation/";

/// A request signed for `monitoring` without an `X-Amz-Target`: RPC v2 CBOR when it is posted
/// to an operation path, else the query protocol.
pub async fn handle_signed(app: &CloudWatch, uri: &Uri, body: &Bytes) -> Response<Body> {
    match uri.path().strip_prefix(CBOR_PATH) {
        Some(op) => handle_cbor(app, op, body).await,
        None => handle_query(app, uri, body).await,
    }
}

/// A Smithy RPC v2 CBOR request for `op`.
pub async fn handle_cbor(app: &CloudWatch, op: &str, body: &[u8]) -> Response<Body> {
    let result = parse_cbor_body(body).and_then(|req| dispatch(app, op, req));
    let (status, doc) = match result {
        Ok(answer) => (200, answer.json()),
        Err(e) => {
            tracing::debug!(op, code = e.code, message = %e.message, "cloudwatch request failed");
            let ty = match e.code {
                "UnknownOperationException" | "SerializationException" => {
                    format!("com.amazon.coral.service#{}", e.code)
                }
                code => format!("com.amazonaws.cloudwatch#{}", json_type(code)),
            };
            let mut r = cbor_response(e.status, &json!({"__type": ty, "message": e.message}));
            let fault = if e.status >= 500 {
                "Receiver"
            } else {
                "Sender"
            };
            if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", query_code(e.code))) {
                r.headers_mut().insert("x-amzn-query-error", v);
            }
            return r;
        }
    };
    cbor_response(status, &doc)
}

fn cbor_response(status: u16, doc: &Value) -> Response<Body> {
    let mut bytes = Vec::new();
    if let Err(e) = ciborium::into_writer(&json_to_cbor(doc, false), &mut bytes) {
        tracing::warn!(error = %e, "encoding a CBOR answer failed");
    }
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/cbor"));
    h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-amzn-requestid", id);
    }
    r
}

/// Deepest CBOR nesting a request may have (arrays, maps and tags). CloudWatch's deepest input
/// (`MetricDataQueries[].MetricStat.Metric.Dimensions[]`) is about seven; ciborium's own default
/// (256) would let decoding, conversion and drop recurse far deeper than needed.
const MAX_CBOR_DEPTH: usize = 32;

/// A Smithy RPC v2 CBOR request body as the JSON document the operations read.
fn parse_cbor_body(body: &[u8]) -> Result<Map<String, Value>, AwsError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match ciborium::de::from_reader_with_recursion_limit::<ciborium::Value, _>(body, MAX_CBOR_DEPTH)
    {
        Ok(v) => match cbor_to_json(v) {
            Value::Object(m) => Ok(m),
            _ => Err(AwsError::serialization("Expected a CBOR map")),
        },
        Err(e) => Err(AwsError::serialization(format!("Malformed CBOR body: {e}"))),
    }
}

/// A decoded CBOR request as the JSON document the operations read: timestamps (tag 1) become
/// epoch seconds, byte strings base64 (no operation here takes any).
fn cbor_to_json(v: ciborium::Value) -> Value {
    use ciborium::Value as C;
    match v {
        C::Null => Value::Null,
        C::Bool(b) => Value::Bool(b),
        C::Integer(i) => {
            let n = i128::from(i);
            i64::try_from(n)
                .map(Value::from)
                .unwrap_or_else(|_| json!(n as f64))
        }
        C::Float(f) => json!(f),
        C::Text(s) => Value::String(s),
        C::Bytes(b) => {
            use base64::Engine;
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        C::Tag(_, inner) => cbor_to_json(*inner),
        C::Array(a) => Value::Array(a.into_iter().map(cbor_to_json).collect()),
        C::Map(entries) => Value::Object(
            entries
                .into_iter()
                .filter_map(|(k, v)| match k {
                    C::Text(k) => Some((k, cbor_to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// A result document as CBOR: `Timestamp` members and `Timestamps` items become tag-1 epoch
/// seconds, as the protocol requires.
fn json_to_cbor(v: &Value, timestamp: bool) -> ciborium::Value {
    use ciborium::Value as C;
    match v {
        Value::Null => C::Null,
        Value::Bool(b) => C::Bool(*b),
        Value::Number(n) if timestamp => C::Tag(1, Box::new(C::Float(n.as_f64().unwrap_or(0.0)))),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) if !n.is_f64() => C::Integer(i.into()),
            (_, Some(f)) => C::Float(f),
            _ => C::Null,
        },
        Value::String(s) => C::Text(s.clone()),
        Value::Array(a) => C::Array(a.iter().map(|x| json_to_cbor(x, timestamp)).collect()),
        Value::Object(m) => C::Map(
            m.iter()
                .map(|(k, x)| {
                    let ts = k == "Timestamp" || k == "Timestamps";
                    (C::Text(k.clone()), json_to_cbor(x, ts))
                })
                .collect(),
        ),
    }
}

/// A query-protocol request (`Action=<op>&Version=2010-08-01&...`).
pub async fn handle_query(app: &CloudWatch, uri: &Uri, body: &Bytes) -> Response<Body> {
    let params = Params::parse(uri, body);
    let Some(action) = params.get("Action").map(str::to_owned) else {
        return query::error(XMLNS, 400, "MissingAction", "Missing Action", false);
    };
    let req = query_to_json(&params);
    match dispatch(app, &action, req) {
        Ok(answer) => query::ok(&action, XMLNS, Some(&answer.xml())),
        Err(e) => {
            tracing::debug!(action, code = e.code, message = %e.message, "cloudwatch request failed");
            let message = match e.code {
                "UnknownOperationException" => {
                    format!("The action {action} is not valid for this web service.")
                }
                _ => e.message.clone(),
            };
            query::error(XMLNS, e.status, query_code(e.code), &message, false)
        }
    }
}

/// The query protocol's dotted parameters (`Dimensions.member.1.Name=...`) as the JSON
/// protocol's document: `member` lists become arrays, numbers stay strings ([`input::read`]
/// reads them as the model's types).
fn query_to_json(params: &Params) -> Map<String, Value> {
    #[derive(Default)]
    struct Node {
        value: Option<String>,
        children: BTreeMap<String, Node>,
    }
    fn into_json(node: Node) -> Value {
        if node.children.is_empty() {
            return Value::String(node.value.unwrap_or_default());
        }
        let mut children = node.children;
        if children.len() == 1 {
            if let Some(members) = children.remove("member") {
                let mut items: Vec<(u32, Node)> = members
                    .children
                    .into_iter()
                    .filter_map(|(i, n)| Some((i.parse().ok()?, n)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                return Value::Array(items.into_iter().map(|(_, n)| into_json(n)).collect());
            }
        }
        Value::Object(
            children
                .into_iter()
                .map(|(k, n)| (k, into_json(n)))
                .collect(),
        )
    }
    let mut root = Node::default();
    for (k, v) in &params.0 {
        if k == "Action" || k == "Version" || !tributary_service::query::is_member_path(k) {
            continue;
        }
        let mut node = &mut root;
        for seg in k.split('.') {
            node = node.children.entry(seg.to_owned()).or_default();
        }
        node.value = Some(v.clone());
    }
    match into_json(root) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// An operation's answer, as its generated output structure; each protocol renders it.
enum Answer {
    Statistics(types::GetMetricStatisticsOutput),
    Data(types::GetMetricDataOutput),
    Metrics(types::ListMetricsOutput),
}

impl Answer {
    /// The document the JSON and CBOR protocols encode.
    fn json(&self) -> Value {
        match self {
            Answer::Statistics(o) => output(o),
            Answer::Data(o) => output(o),
            Answer::Metrics(o) => output(o),
        }
    }

    /// The query protocol's result element's content: members in model order, lists as
    /// `<member>` elements, the `ExtendedStatistics` map as `<entry><key/><value/></entry>`,
    /// timestamps in ISO 8601 with milliseconds.
    fn xml(&self) -> String {
        let mut x = Xml::new();
        match self {
            Answer::Statistics(o) => o.write_xml(&mut x),
            Answer::Data(o) => o.write_xml(&mut x),
            Answer::Metrics(o) => o.write_xml(&mut x),
        }
        x.into_string()
    }
}

// ------------------------------------------------------------------------------------------
// request members: read by `input`, checked here

/// Epoch seconds or ISO 8601 (with or without a zone: UTC), to epoch milliseconds.
fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(f) = s.parse::<f64>() {
        return f.is_finite().then(|| (f * 1000.0).round() as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

/// A metric's dimensions, checked against the model's limits, sorted by name.
fn dimensions(dims: &[types::Dimension], param: &str) -> Result<Vec<(String, String)>, AwsError> {
    if dims.len() > MAX_DIMENSIONS {
        return Err(invalid(format!(
            "The collection {param} must not contain more than {MAX_DIMENSIONS} items."
        )));
    }
    let mut out = Vec::with_capacity(dims.len());
    for (i, d) in dims.iter().enumerate() {
        if d.name.len() > 255 || d.value.len() > 1024 {
            return Err(invalid(format!(
                "The parameter {param}.member.{} is longer than allowed.",
                i + 1
            )));
        }
        out.push((d.name.clone(), d.value.clone()));
    }
    out.sort();
    let distinct: HashSet<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
    if distinct.len() != out.len() {
        return Err(combination(format!(
            "No metric may have more than one dimension of the same name in {param}."
        )));
    }
    Ok(out)
}

fn check_unit(unit: Option<&str>, param: &str) -> Result<(), AwsError> {
    match unit {
        Some(u) if !UNITS.contains(&u) => Err(invalid(format!(
            "The parameter {param} must be a value in the set [ {} ].",
            UNITS.join(", ")
        ))),
        _ => Ok(()),
    }
}

fn check_period(period: i64, param: &str) -> Result<(), AwsError> {
    if period < 1 {
        return Err(invalid(format!(
            "The parameter {param} must be greater than 0."
        )));
    }
    if period % 60 != 0 && ![1, 5, 10, 20, 30].contains(&period) {
        return Err(invalid(format!(
            "The parameter {param} must be a multiple of 60."
        )));
    }
    Ok(())
}

/// CloudWatch rounds a start time down: to the period's division of a minute for periods
/// under a minute, else to the minute (start less than 15 days ago), five minutes (less than
/// 63 days) or the hour.
fn round_start(start_ms: i64, period_s: i64, now_ms: i64) -> i64 {
    let day = 86_400_000;
    let unit = if period_s < 60 {
        period_s * 1000
    } else if now_ms - start_ms < 15 * day {
        MINUTE_MS
    } else if now_ms - start_ms < 63 * day {
        5 * MINUTE_MS
    } else {
        60 * MINUTE_MS
    };
    start_ms - start_ms.rem_euclid(unit)
}

/// `1,441`: AWS writes datapoint counts with thousands separators.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn not_a_basic_statistic(n: usize) -> AwsError {
    invalid(format!(
        "The parameter Statistics.member.{n} must be a value in the set {BASIC_STATISTICS}."
    ))
}

fn not_a_percentile(n: usize) -> AwsError {
    invalid(format!(
        "The parameter ExtendedStatistics.member.{n} must be a percentile between p0.0 and p100."
    ))
}

/// The query at `query` (`MetricDataQueries.member.1`) has both or neither of `MetricStat` and
/// `Expression`, or a `MetricStat` that is not a structure.
fn not_exactly_one(query: &str) -> AwsError {
    validation(format!(
        "Exactly one element of the MetricStat and Expression members must be set in {query}."
    ))
}

// ------------------------------------------------------------------------------------------
// operations

/// Runs `op` on its request's document (see [`input`]): read as the operation's generated
/// input, then checked and answered by its handler.
fn dispatch(app: &CloudWatch, op: &str, req: Map<String, Value>) -> Result<Answer, AwsError> {
    // Reads see everything the engine did up to now.
    app.sample_metrics();
    use model::Operation as O;
    match model::Operation::from_name(op) {
        Some(o @ O::GetMetricStatistics) => Ok(Answer::Statistics(get_metric_statistics(
            app,
            input::read(o, req)?,
        )?)),
        Some(o @ O::GetMetricData) => Ok(Answer::Data(get_metric_data(app, input::read(o, req)?)?)),
        Some(o @ O::ListMetrics) => Ok(Answer::Metrics(list_metrics(app, input::read(o, req)?)?)),
        _ => Err(AwsError::new(
            "UnknownOperationException",
            400,
            format!("Unknown operation: {op}"),
        )),
    }
}

/// The statistics of the metric over the request's window, with the window's rounded start.
fn lookup(
    app: &CloudWatch,
    namespace: &str,
    id: &MetricId,
    start_ms: i64,
    end_ms: i64,
    period_s: i64,
    unit: Option<&str>,
) -> Vec<(i64, Stats, &'static str)> {
    if namespace != LAMBDA_NAMESPACE {
        return Vec::new();
    }
    let found = app
        .metrics
        .with_store(|s| s.statistics(id, start_ms, end_ms, period_s * 1000));
    match found {
        Some((u, points)) if unit.is_none_or(|want| want == u.as_str()) => points
            .into_iter()
            .map(|(t, s)| (t, s, u.as_str()))
            .collect(),
        _ => Vec::new(),
    }
}

fn get_metric_statistics(
    app: &CloudWatch,
    input: types::GetMetricStatisticsInput,
) -> Result<types::GetMetricStatisticsOutput, AwsError> {
    let dims = dimensions(
        input.dimensions.as_deref().unwrap_or_default(),
        "Dimensions",
    )?;
    let unit = input.unit.as_deref();
    check_unit(unit, "Unit")?;
    let statistics = input.statistics.unwrap_or_default();
    let extended = input.extended_statistics.unwrap_or_default();
    if statistics.is_empty() == extended.is_empty() {
        return Err(combination(
            "Must specify either Statistics or ExtendedStatistics, but not both.",
        ));
    }
    let mut basic = Vec::new();
    for (i, s) in statistics.iter().enumerate() {
        basic.push(Statistic::basic(s).ok_or_else(|| not_a_basic_statistic(i + 1))?);
    }
    let mut percentiles = Vec::new();
    for (i, s) in extended.into_iter().enumerate() {
        let stat = Statistic::percentile(&s).ok_or_else(|| not_a_percentile(i + 1))?;
        percentiles.push((s, stat));
    }
    let period = i64::from(input.period);
    check_period(period, "Period")?;
    let (start, end) = (input.start_time.millis(), input.end_time.millis());
    if start >= end {
        return Err(invalid(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let now = app.store.clock().now_millis();
    let start = round_start(start, period, now);
    let requested = (end - start + period * 1000 - 1) / (period * 1000);
    if requested > MAX_STATISTICS_DATAPOINTS {
        return Err(combination(format!(
            "You have requested up to {} datapoints, which exceeds the limit of {}. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
            thousands(requested),
            thousands(MAX_STATISTICS_DATAPOINTS)
        )));
    }
    let id = MetricId {
        name: input.metric_name,
        dimensions: dims,
    };
    let datapoints = lookup(app, &input.namespace, &id, start, end, period, unit)
        .into_iter()
        .map(|(t, stats, unit)| datapoint(t, |s| stats.get(s), unit, &basic, &percentiles))
        .collect();
    Ok(types::GetMetricStatisticsOutput {
        label: Some(id.name),
        datapoints: Some(datapoints),
    })
}

/// One period's datapoint with the statistics asked for (`stats` computes one): `basic` ones
/// as members, `percentiles` (by the names they were asked by) in `ExtendedStatistics`.
fn datapoint(
    t: i64,
    stats: impl Fn(&Statistic) -> Option<f64>,
    unit: &str,
    basic: &[Statistic],
    percentiles: &[(String, Statistic)],
) -> types::Datapoint {
    let get = |want: Statistic| basic.contains(&want).then(|| stats(&want)).flatten();
    types::Datapoint {
        timestamp: Some(Timestamp::from_millis(t)),
        sample_count: get(Statistic::SampleCount),
        average: get(Statistic::Average),
        sum: get(Statistic::Sum),
        minimum: get(Statistic::Minimum),
        maximum: get(Statistic::Maximum),
        unit: Some(unit.to_owned()),
        extended_statistics: (!percentiles.is_empty()).then(|| {
            percentiles
                .iter()
                .filter_map(|(n, s)| stats(s).map(|v| (n.clone(), v)))
                .collect()
        }),
    }
}

/// A GetMetricData `NextToken`: where the next page starts in the flattened datapoints of
/// the same request.
fn data_token(offset: usize, start: i64, end: i64) -> String {
    format!("{offset:x}.{start:x}.{end:x}")
}

fn parse_data_token(token: &str, start: i64, end: i64) -> Option<usize> {
    let mut parts = token.split('.');
    let offset = usize::from_str_radix(parts.next()?, 16).ok()?;
    let s = i64::from_str_radix(parts.next()?, 16).ok()?;
    let e = i64::from_str_radix(parts.next()?, 16).ok()?;
    (parts.next().is_none() && s == start && e == end).then_some(offset)
}

fn get_metric_data(
    app: &CloudWatch,
    input: types::GetMetricDataInput,
) -> Result<types::GetMetricDataOutput, AwsError> {
    let queries = &input.metric_data_queries;
    if queries.len() > MAX_QUERIES {
        return Err(validation(format!(
            "The collection MetricDataQueries must not contain more than {MAX_QUERIES} items."
        )));
    }
    let (start, end) = (input.start_time.millis(), input.end_time.millis());
    if start >= end {
        return Err(validation(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let descending = match input.scan_by.as_deref() {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'scanBy' failed to satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]"
            )))
        }
    };
    let max_points = match input.max_datapoints {
        None => DEFAULT_MAX_DATAPOINTS,
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(_) => {
            return Err(validation(
                "The parameter MaxDatapoints must be greater than 0.",
            ))
        }
    };
    let now = app.store.clock().now_millis();

    // Check every query before computing any.
    struct Query<'a> {
        id: &'a str,
        label: &'a str,
        namespace: &'a str,
        metric: MetricId,
        period: i64,
        stat: Statistic,
        unit: Option<&'a str>,
        return_data: bool,
    }
    let mut parsed = Vec::with_capacity(queries.len());
    let mut ids = HashSet::new();
    for (i, q) in queries.iter().enumerate() {
        let n = i + 1;
        let id = q.id.as_str();
        let valid_id = id.len() <= 255
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_id {
            return Err(validation(format!(
                "The value {id} for parameter MetricDataQueries.member.{n}.Id is invalid: it must start with a lowercase letter and contain only letters, numbers and underscores."
            )));
        }
        if !ids.insert(id) {
            return Err(validation(
                "The values for parameter id in MetricDataQueries are not unique.",
            ));
        }
        let stat = match (&q.metric_stat, &q.expression) {
            (Some(s), None) => s,
            (None, Some(_)) => {
                return Err(validation(format!(
                    "Error in expression '{id}': metric math and Metrics Insights expressions are not supported by this server; query metrics with MetricStat."
                )))
            }
            _ => return Err(not_exactly_one(&format!("MetricDataQueries.member.{n}"))),
        };
        // `input::read` requires both names (its quirks).
        let metric = &stat.metric;
        let namespace = metric.namespace.as_deref().unwrap_or_default();
        let name = metric.metric_name.as_deref().unwrap_or_default();
        let dims = dimensions(
            metric.dimensions.as_deref().unwrap_or_default(),
            &format!("MetricDataQueries.member.{n}.MetricStat.Metric.Dimensions"),
        )
        .map_err(|e| validation(e.message))?;
        let period = i64::from(stat.period);
        check_period(
            period,
            &format!("MetricDataQueries.member.{n}.MetricStat.Period"),
        )
        .map_err(|e| validation(e.message))?;
        let stat_name = stat.stat.as_str();
        let statistic = Statistic::parse(stat_name).ok_or_else(|| {
            validation(format!(
                "The value {stat_name} for parameter MetricDataQueries.member.{n}.MetricStat.Stat is not a valid statistic."
            ))
        })?;
        let unit = stat.unit.as_deref();
        check_unit(
            unit,
            &format!("MetricDataQueries.member.{n}.MetricStat.Unit"),
        )
        .map_err(|e| validation(e.message))?;
        parsed.push(Query {
            id,
            label: q.label.as_deref().unwrap_or(name),
            namespace,
            metric: MetricId {
                name: name.to_owned(),
                dimensions: dims,
            },
            period,
            stat: statistic,
            unit,
            return_data: q.return_data.unwrap_or(true),
        });
    }
    let offset = match input.next_token.as_deref() {
        None => 0,
        Some(t) => parse_data_token(t, start, end).ok_or_else(|| {
            AwsError::new(
                "InvalidNextToken",
                400,
                "The service cannot process the request because the NextToken is invalid.",
            )
        })?,
    };

    let mut results = Vec::new();
    let mut position = 0usize;
    let mut truncated = false;
    for q in parsed.iter().filter(|q| q.return_data) {
        let start = round_start(start, q.period, now);
        let mut points: Vec<(i64, f64)> =
            lookup(app, q.namespace, &q.metric, start, end, q.period, q.unit)
                .into_iter()
                .filter_map(|(t, s, _)| s.get(&q.stat).map(|v| (t, v)))
                .collect();
        if descending {
            points.reverse();
        }
        // This page holds the datapoints at flattened positions [offset, offset + max).
        let first = offset.saturating_sub(position).min(points.len());
        let room = (offset + max_points).saturating_sub(position.max(offset));
        let (timestamps, values): (Vec<Timestamp>, Vec<f64>) = points
            .iter()
            .skip(first)
            .take(room)
            .map(|&(t, v)| (Timestamp::from_millis(t), v))
            .unzip();
        let complete = first + values.len() == points.len();
        truncated |= !complete;
        position += points.len();
        results.push(types::MetricDataResult {
            id: Some(q.id.to_owned()),
            label: Some(q.label.to_owned()),
            timestamps: Some(timestamps),
            values: Some(values),
            status_code: Some(if complete { "Complete" } else { "PartialData" }.to_owned()),
            messages: Some(Vec::new()),
        });
    }
    Ok(types::GetMetricDataOutput {
        metric_data_results: Some(results),
        next_token: truncated.then(|| data_token(offset + max_points, start, end)),
        messages: Some(Vec::new()),
    })
}

fn list_metrics(
    app: &CloudWatch,
    input: types::ListMetricsInput,
) -> Result<types::ListMetricsOutput, AwsError> {
    let name = input.metric_name.as_deref();
    let filters = input.dimensions.unwrap_or_default();
    if filters.len() > 10 {
        return Err(invalid(
            "The collection Dimensions must not contain more than 10 items.",
        ));
    }
    let recent = match input.recently_active.as_deref() {
        None => false,
        Some("PT3H") => true,
        Some(other) => {
            return Err(invalid(format!(
                "The parameter RecentlyActive must be a value in the set [ PT3H ], not {other}."
            )))
        }
    };
    let start = match input.next_token.as_deref() {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| invalid("The parameter NextToken is invalid."))?,
    };
    if input
        .namespace
        .as_deref()
        .is_some_and(|n| n != LAMBDA_NAMESPACE)
    {
        return Ok(types::ListMetricsOutput {
            metrics: Some(Vec::new()),
            // Nothing matched: no next page.
            next_token: None,
            owning_accounts: None,
        });
    }
    let now = app.store.clock().now_millis();
    let matching: Vec<types::Metric> = app.metrics.with_store(|s| {
        s.metrics()
            .filter(|(id, _)| name.is_none_or(|n| n == id.name))
            .filter(|(id, _)| {
                filters.iter().all(|f| {
                    id.dimensions
                        .iter()
                        .any(|(dk, dv)| *dk == f.name && f.value.as_ref().is_none_or(|v| v == dv))
                })
            })
            .filter(|(_, last)| !recent || now - last <= 3 * 60 * MINUTE_MS)
            .map(|(id, _)| types::Metric {
                namespace: Some(LAMBDA_NAMESPACE.to_owned()),
                metric_name: Some(id.name.clone()),
                dimensions: Some(
                    id.dimensions
                        .iter()
                        .map(|(k, v)| types::Dimension {
                            name: k.clone(),
                            value: v.clone(),
                        })
                        .collect(),
                ),
            })
            .collect()
    });
    let found = matching.len();
    if start > found {
        return Err(invalid("The parameter NextToken is invalid."));
    }
    Ok(types::ListMetricsOutput {
        metrics: Some(matching.into_iter().skip(start).take(LIST_PAGE).collect()),
        next_token: (start + LIST_PAGE < found).then(|| (start + LIST_PAGE).to_string()),
        // `IncludeLinkedAccounts` is never honoured: no accounts to name.
        owning_accounts: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_become_the_json_document() {
        let uri: Uri = "/".parse().unwrap();
        let body = Bytes::from_static(
            b"Action=GetMetricData&Version=2010-08-01&StartTime=2024-01-01T00%3A00%3A00Z\
              &MetricDataQueries.member.1.Id=a\
              &MetricDataQueries.member.1.MetricStat.Metric.Namespace=AWS%2FLambda\
              &MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name=FunctionName\
              &MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value=f\
              &MetricDataQueries.member.1.MetricStat.Period=60\
              &Statistics.member.2=Sum&Statistics.member.1=Maximum",
        );
        let j = Value::Object(query_to_json(&Params::parse(&uri, &body)));
        assert_eq!(
            j,
            json!({
                "StartTime": "2024-01-01T00:00:00Z",
                "Statistics": ["Maximum", "Sum"],
                "MetricDataQueries": [{
                    "Id": "a",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/Lambda",
                            "Dimensions": [{"Name": "FunctionName", "Value": "f"}]
                        },
                        "Period": "60"
                    }
                }]
            })
        );
    }

    #[test]
    fn renders_query_xml_in_model_order_with_members_entries_and_iso_times() {
        let answer = Answer::Statistics(types::GetMetricStatisticsOutput {
            label: Some("Duration".into()),
            datapoints: Some(vec![types::Datapoint {
                timestamp: Some(Timestamp::from_millis(1_704_067_200_000)),
                sum: Some(12_345_678.0),
                maximum: Some(3.0),
                unit: Some("Milliseconds".into()),
                extended_statistics: Some([("p99".to_owned(), 2.5)].into()),
                ..types::Datapoint::default() // no SampleCount, Average or Minimum asked for
            }]),
        });
        assert_eq!(
            answer.xml(),
            "<Label>Duration</Label><Datapoints><member>\
             <Timestamp>2024-01-01T00:00:00.000Z</Timestamp><Sum>1.2345678E7</Sum><Maximum>3.0</Maximum>\
             <Unit>Milliseconds</Unit>\
             <ExtendedStatistics><entry><key>p99</key><value>2.5</value></entry></ExtendedStatistics>\
             </member></Datapoints>"
        );
        // JSON (and CBOR) carry the same members, timestamps as epoch seconds.
        assert_eq!(
            answer.json(),
            json!({
                "Label": "Duration",
                "Datapoints": [{"Timestamp": 1704067200.0, "Sum": 12_345_678.0, "Maximum": 3.0,
                                "Unit": "Milliseconds", "ExtendedStatistics": {"p99": 2.5}}],
            })
        );
    }

    #[test]
    fn start_times_round_like_cloudwatch() {
        let now = 1_704_067_200_000 + 30 * 86_400_000;
        let t = now - 3_600_000 + 34_000; // 12:32:34-like: not on a minute
        assert_eq!(round_start(t, 60, now), t - 34_000);
        assert_eq!(round_start(t + 3_000, 10, now), t - 4_000); // :37 -> :30
        let old = now - 20 * 86_400_000 + 2 * 60_000 + 34_000;
        assert_eq!(round_start(old, 300, now) % (5 * 60_000), 0);
    }

    #[test]
    fn parses_both_timestamp_forms() {
        assert_eq!(parse_time("2024-01-01T00:00:00Z"), Some(1_704_067_200_000));
        assert_eq!(
            parse_time("2024-01-01T01:00:00+01:00"),
            Some(1_704_067_200_000)
        );
        assert_eq!(parse_time("2024-01-01T00:00:00.5"), Some(1_704_067_200_500));
        assert_eq!(parse_time("1704067200.25"), Some(1_704_067_200_250));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn cbor_timestamps_are_tagged_both_ways() {
        let doc = json!({"Label": "X", "Datapoints": [{"Timestamp": 1704067200.0, "Sum": 2.0}],
                         "Timestamps": [1704067260.0], "Count": 3});
        let mut bytes = Vec::new();
        ciborium::into_writer(&json_to_cbor(&doc, false), &mut bytes).unwrap();
        let back: ciborium::Value = ciborium::from_reader(bytes.as_slice()).unwrap();
        let text = format!("{back:?}");
        assert!(text.contains("Tag(1, Float(1704067200.0))"), "{text}");
        assert!(text.contains("Tag(1, Float(1704067260.0))"), "{text}");
        assert_eq!(cbor_to_json(back), doc);
    }

    #[test]
    fn counts_are_written_like_aws() {
        assert_eq!(thousands(1441), "1,441");
        assert_eq!(thousands(16666), "16,666");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn data_tokens_belong_to_their_window() {
        let t = data_token(700, 10, 20);
        assert_eq!(parse_data_token(&t, 10, 20), Some(700));
        assert_eq!(parse_data_token(&t, 10, 21), None);
        assert_eq!(parse_data_token("garbage", 10, 20), None);
    }

    fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(s, f)
                .expect("spawn a test thread")
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// A CBOR map `{"a": [[[...[1]...]]]}` with `depth` levels in all.
    fn nested_cbor(depth: usize) -> Vec<u8> {
        let mut bytes = vec![0xa1, 0x61, b'a']; // map of one entry, key "a"
        bytes.extend(std::iter::repeat_n(0x81, depth - 1)); // arrays of one element
        bytes.push(0x01);
        bytes
    }

    #[test]
    fn cbor_nesting_is_bounded() {
        on_small_stack(|| {
            let req = parse_cbor_body(&nested_cbor(MAX_CBOR_DEPTH)).unwrap();
            assert!(req["a"].is_array());
            for depth in [MAX_CBOR_DEPTH + 1, 100_000] {
                let e = parse_cbor_body(&nested_cbor(depth)).unwrap_err();
                assert_eq!((e.code, e.status), ("SerializationException", 400));
                assert!(
                    e.message.contains("RecursionLimitExceeded"),
                    "{}",
                    e.message
                );
            }
            // Tags nest too.
            let mut tags = vec![0xa1, 0x61, b'a'];
            tags.extend(std::iter::repeat_n(0xc1, 100_000)); // tag 1 (epoch time)
            tags.push(0x01);
            assert!(parse_cbor_body(&tags).is_err());
        });
    }

    #[test]
    fn query_parameter_names_with_too_many_segments_are_ignored() {
        on_small_stack(|| {
            let deep = vec!["a"; 100_000].join(".");
            let body = bytes::Bytes::from(format!(
                "Action=ListMetrics&Namespace=N&{deep}=1&MetricName=M"
            ));
            let params = Params::parse(&"/".parse().unwrap(), &body);
            let req = query_to_json(&params);
            assert_eq!(req.get("Namespace"), Some(&json!("N")));
            assert_eq!(req.get("MetricName"), Some(&json!("M")));
            assert!(!req.contains_key("a"));
        });
    }

    fn cloudwatch() -> CloudWatch {
        let clock = tributary_model::ManualClock::new(1_700_000_000_000);
        let store = Store::open(None, clock).unwrap();
        CloudWatch::new(store, Arc::new(Metrics::new(86_400_000)), Box::new(|| {}))
    }

    fn answer(app: &CloudWatch, op: &str, doc: Value) -> Result<Value, (&'static str, String)> {
        let Value::Object(m) = doc else {
            panic!("not an object")
        };
        dispatch(app, op, m)
            .map(|a| a.json())
            .map_err(|e| (e.code, e.message))
    }

    fn with(mut doc: Value, path: &[&str], v: Value) -> Value {
        let mut at = &mut doc;
        for p in &path[..path.len() - 1] {
            at = match p.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*p],
            };
        }
        let last = path[path.len() - 1];
        if v.is_null() {
            at.as_object_mut().unwrap().remove(last);
        } else {
            at[last] = v;
        }
        doc
    }

    /// Each protocol's loosely typed document is read with CloudWatch's own words for a member
    /// of the wrong type or a missing one.
    #[test]
    fn inputs_are_read_with_cloudwatchs_messages() {
        let app = cloudwatch();
        let t = 1_700_000_000;
        let gms = json!({"Namespace": "AWS/Lambda", "MetricName": "Invocations",
            "StartTime": t - 3600, "EndTime": t, "Period": 60, "Statistics": ["Sum"]});
        let query = json!({"Id": "a", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda",
            "MetricName": "Invocations", "Dimensions": [{"Name": "FunctionName", "Value": "f"}]},
            "Period": 60, "Stat": "Sum"}});
        let gmd = json!({"MetricDataQueries": [query], "StartTime": t - 3600, "EndTime": t});
        let q = |path: &[&str], v: Value| {
            let mut p = vec!["MetricDataQueries", "0"];
            p.extend_from_slice(path);
            with(gmd.clone(), &p, v)
        };
        let ipv = "InvalidParameterValue";
        let missing = "MissingParameter";
        let ve = "ValidationError";
        let gone = Value::Null;
        let cases: Vec<(&str, Value, &str, String)> = vec![
            ("GetMetricStatistics", with(gms.clone(), &["Namespace"], gone.clone()), missing, "The parameter Namespace is required.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Namespace"], json!("")), missing, "The parameter Namespace is required.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["MetricName"], json!(5)), ipv, "The parameter MetricName must be a string.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["StartTime"], gone.clone()), missing, "The parameter StartTime is required.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["EndTime"], json!("soon")), ipv, "The parameter EndTime must be a valid timestamp.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Period"], gone.clone()), missing, "The parameter Period is required.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Period"], json!(1.5)), ipv, "The parameter Period must be an integer.".into()),
            // Beyond the model's 32 bits: no integer of its type, in either direction or form.
            ("GetMetricStatistics", with(gms.clone(), &["Period"], json!(-5_000_000_000_i64)), ipv, "The parameter Period must be an integer.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Period"], json!(5_000_000_000_i64)), ipv, "The parameter Period must be an integer.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Period"], json!("5000000000")), ipv, "The parameter Period must be an integer.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Period"], json!(i32::MAX)), ipv, "The parameter Period must be a multiple of 60.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Period"], json!(i32::MIN)), ipv, "The parameter Period must be greater than 0.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Dimensions"], json!("x")), ipv, "The parameter Dimensions must be a list.".into()),
            // serde would read a structure from an array; CloudWatch does not.
            ("GetMetricStatistics", with(gms.clone(), &["Dimensions"], json!([["a", "b"]])), ipv, "The parameter Dimensions.member.1 is invalid.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Dimensions"], json!([{"Name": 5, "Value": "v"}])), missing, "The parameter Dimensions.member.1.Name is required.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Dimensions"], json!([{"Name": "n"}])), missing, "The parameter Dimensions.member.1.Value is required.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Unit"], json!(5)), ipv, "The parameter Unit must be a string.".into()),
            ("GetMetricStatistics", with(gms.clone(), &["Statistics"], json!(["Sum", 5])), ipv, format!("The parameter Statistics.member.2 must be a value in the set {BASIC_STATISTICS}.")),
            ("GetMetricStatistics", with(with(gms.clone(), &["Statistics"], gone.clone()), &["ExtendedStatistics"], json!([5])), ipv, "The parameter ExtendedStatistics.member.1 must be a percentile between p0.0 and p100.".into()),
            ("GetMetricData", with(gmd.clone(), &["MetricDataQueries"], gone.clone()), missing, "The parameter MetricDataQueries is required.".into()),
            ("GetMetricData", with(gmd.clone(), &["MetricDataQueries"], json!({})), ipv, "The parameter MetricDataQueries must be a list.".into()),
            ("GetMetricData", with(gmd.clone(), &["MetricDataQueries"], json!([5])), ve, "The parameter MetricDataQueries.member.1 is invalid.".into()),
            ("GetMetricData", with(gmd.clone(), &["ScanBy"], json!(5)), ipv, "The parameter ScanBy must be a string.".into()),
            ("GetMetricData", with(gmd.clone(), &["MaxDatapoints"], json!("many")), ipv, "The parameter MaxDatapoints must be an integer.".into()),
            ("GetMetricData", with(gmd.clone(), &["MaxDatapoints"], json!(50_000_000_000_i64)), ipv, "The parameter MaxDatapoints must be an integer.".into()),
            ("GetMetricData", with(gmd.clone(), &["MaxDatapoints"], json!("-50000000000")), ipv, "The parameter MaxDatapoints must be an integer.".into()),
            ("GetMetricData", with(gmd.clone(), &["MaxDatapoints"], json!(i32::MIN)), ve, "The parameter MaxDatapoints must be greater than 0.".into()),
            ("GetMetricData", with(gmd.clone(), &["NextToken"], json!(5)), ipv, "The parameter NextToken must be a string.".into()),
            ("GetMetricData", q(&["Id"], gone.clone()), missing, "The parameter MetricDataQueries.member.1.Id is required.".into()),
            ("GetMetricData", q(&["Id"], json!(5)), ipv, "The parameter Id must be a string.".into()),
            ("GetMetricData", q(&["Expression"], json!(5)), ipv, "The parameter Expression must be a string.".into()),
            ("GetMetricData", q(&["MetricStat"], json!("x")), ve, "Exactly one element of the MetricStat and Expression members must be set in MetricDataQueries.member.1.".into()),
            ("GetMetricData", q(&["MetricStat", "Metric"], json!([])), missing, "The parameter MetricDataQueries.member.1.MetricStat.Metric is required.".into()),
            ("GetMetricData", q(&["MetricStat", "Metric", "Namespace"], json!(5)), missing, "The parameter MetricDataQueries.member.1.MetricStat.Metric.Namespace is required.".into()),
            ("GetMetricData", q(&["MetricStat", "Metric", "Dimensions"], json!(5)), ipv, "The parameter Dimensions must be a list.".into()),
            ("GetMetricData", q(&["MetricStat", "Metric", "Dimensions"], json!([{"Value": "v"}])), ve, "The parameter MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name is required.".into()),
            ("GetMetricData", q(&["MetricStat", "Period"], gone.clone()), missing, "The parameter MetricDataQueries.member.1.MetricStat.Period is required.".into()),
            ("GetMetricData", q(&["MetricStat", "Period"], json!("x")), ipv, "The parameter Period must be an integer.".into()),
            ("GetMetricData", q(&["MetricStat", "Period"], json!(5_000_000_000_i64)), ipv, "The parameter Period must be an integer.".into()),
            ("GetMetricData", q(&["MetricStat", "Period"], json!("-5000000000")), ipv, "The parameter Period must be an integer.".into()),
            ("GetMetricData", q(&["MetricStat", "Period"], json!(i32::MAX)), ve, "The parameter MetricDataQueries.member.1.MetricStat.Period must be a multiple of 60.".into()),
            ("GetMetricData", q(&["MetricStat", "Stat"], gone.clone()), ve, "The value  for parameter MetricDataQueries.member.1.MetricStat.Stat is not a valid statistic.".into()),
            ("GetMetricData", q(&["MetricStat", "Stat"], json!(5)), ipv, "The parameter Stat must be a string.".into()),
            ("GetMetricData", q(&["MetricStat", "Unit"], json!(5)), ipv, "The parameter Unit must be a string.".into()),
            ("GetMetricData", q(&["Label"], json!(5)), ipv, "The parameter Label must be a string.".into()),
            ("GetMetricData", q(&["ReturnData"], json!("yes")), ipv, "The parameter ReturnData must be a boolean.".into()),
            ("ListMetrics", json!({"Namespace": 5}), ipv, "The parameter Namespace must be a string.".into()),
            ("ListMetrics", json!({"Dimensions": [5]}), ipv, "The parameter Dimensions.member.1 is invalid.".into()),
            ("ListMetrics", json!({"Dimensions": [{"Name": 5}]}), missing, "The parameter Dimensions.member.1.Name is required.".into()),
            ("ListMetrics", json!({"Dimensions": [{"Name": "n", "Value": 5}]}), ipv, "The parameter Value must be a string.".into()),
            ("ListMetrics", json!({"RecentlyActive": 5}), ipv, "The parameter RecentlyActive must be a string.".into()),
            ("PutMetricData", json!({}), "UnknownOperationException", "Unknown operation: PutMetricData".into()),
        ];
        for (op, doc, code, message) in cases {
            assert_eq!(
                answer(&app, op, doc.clone()),
                Err((code, message)),
                "{op} {doc}"
            );
        }
    }

    /// The query protocol's strings (and the same strings in JSON or CBOR) are numbers,
    /// booleans and timestamps where the model says so; members this server does not read are
    /// not looked at.
    #[test]
    fn loosely_typed_members_are_read() {
        let app = cloudwatch();
        let ok = |op: &str, doc: Value| {
            answer(&app, op, doc.clone()).unwrap_or_else(|e| panic!("{op} {doc}: {e:?}"))
        };
        let gms = ok(
            "GetMetricStatistics",
            json!({"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                "StartTime": "2023-11-14T21:13:20", "EndTime": "2023-11-14T22:13:20Z",
                "Period": " 60 ", "Statistics": ["Sum"]}),
        );
        assert_eq!(gms, json!({"Label": "Invocations", "Datapoints": []}));
        let gmd = ok(
            "GetMetricData",
            json!({"MetricDataQueries": [
                    {"Id": "a", "Label": "A", "ReturnData": "true", "AccountId": 5, "Period": "x",
                     "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors"},
                                    "Period": "300", "Stat": "p99"}},
                    {"Id": "b", "ReturnData": false,
                     "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors"},
                                    "Period": 60, "Stat": "Sum"}}],
                "StartTime": "1699996400.5", "EndTime": 1_700_000_000,
                "MaxDatapoints": i32::MAX, "ScanBy": "TimestampAscending",
                "LabelOptions": 5}),
        );
        assert_eq!(
            gmd,
            json!({"MetricDataResults": [{"Id": "a", "Label": "A", "Timestamps": [],
                "Values": [], "StatusCode": "Complete", "Messages": []}], "Messages": []})
        );
        let listed = ok(
            "ListMetrics",
            json!({"Dimensions": [{"Name": "FunctionName"}], "RecentlyActive": "PT3H",
                "IncludeLinkedAccounts": "sometimes", "OwningAccount": 5}),
        );
        assert_eq!(listed, json!({"Metrics": []}));
    }

    #[test]
    fn datapoints_carry_the_statistics_asked_for() {
        let stats = |s: &Statistic| match s {
            Statistic::Sum => Some(6.0),
            Statistic::SampleCount => Some(3.0),
            Statistic::Maximum => Some(4.0),
            Statistic::Percentile(p) if *p > 50.0 => Some(3.5),
            _ => None,
        };
        let dp = datapoint(
            1_704_067_200_000,
            stats,
            "Count",
            &[Statistic::Sum, Statistic::Maximum],
            &[
                ("p99".to_owned(), Statistic::Percentile(99.0)),
                ("p10".to_owned(), Statistic::Percentile(10.0)),
            ],
        );
        assert_eq!(
            output(&dp),
            json!({"Timestamp": 1_704_067_200.0, "Sum": 6.0, "Maximum": 4.0, "Unit": "Count",
                "ExtendedStatistics": {"p99": 3.5}})
        );
        let dp = datapoint(0, stats, "Count", &[Statistic::SampleCount], &[]);
        assert_eq!(
            output(&dp),
            json!({"Timestamp": 0.0, "SampleCount": 3.0, "Unit": "Count"})
        );
    }
}

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
use tributary_service::json::JSON10;
use tributary_service::query::{self, Params, Xml};
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
    match dispatch(app, op, &req) {
        Ok(v) => json_response(&v),
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
    let result = parse_cbor_body(body).and_then(|req| dispatch(app, op, &req));
    let (status, doc) = match result {
        Ok(v) => (200, v),
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
    match dispatch(app, &action, &req) {
        Ok(v) => {
            let mut x = Xml::new();
            if let Value::Object(m) = &v {
                xml_members(&mut x, m);
            }
            query::ok(&action, XMLNS, Some(&x.into_string()))
        }
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
/// protocol's document: `member` lists become arrays, numbers stay strings (the operations
/// accept both).
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

/// Renders a result document as the query protocol's XML: lists as `<member>` elements, the
/// `ExtendedStatistics` map as `<entry><key/><value/></entry>`, timestamps in ISO 8601.
fn xml_members(x: &mut Xml, obj: &Map<String, Value>) {
    fn scalar(key: &str, v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Number(n) if key == "Timestamp" || key == "Timestamps" => n
                .as_f64()
                .map(|s| iso_seconds((s * 1000.0).round() as i64))
                .unwrap_or_default(),
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() => format!("{f:?}"),
                _ => n.to_string(),
            },
            other => other.to_string(),
        }
    }
    for (k, v) in obj {
        match v {
            Value::Null => {}
            Value::Object(m) if k == "ExtendedStatistics" => {
                x.open(k);
                for (name, val) in m {
                    x.open("entry")
                        .elem("key", name)
                        .elem("value", &scalar(name, val))
                        .close("entry");
                }
                x.close(k);
            }
            Value::Object(m) => {
                x.open(k);
                xml_members(x, m);
                x.close(k);
            }
            Value::Array(items) => {
                x.open(k);
                for item in items {
                    match item {
                        Value::Object(m) => {
                            x.open("member");
                            xml_members(x, m);
                            x.close("member");
                        }
                        other => {
                            x.elem("member", &scalar(k, other));
                        }
                    }
                }
                x.close(k);
            }
            other => {
                x.elem(k, &scalar(k, other));
            }
        }
    }
}

fn iso_seconds(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

// ------------------------------------------------------------------------------------------
// request members

struct Req<'a>(&'a Map<String, Value>);

impl<'a> Req<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>, AwsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(format!("The parameter {key} must be a string."))),
        }
    }

    fn required(&self, key: &str) -> Result<&'a str, AwsError> {
        self.string(key)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing(key))
    }

    fn int(&self, key: &str) -> Result<Option<i64>, AwsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| invalid(format!("The parameter {key} must be an integer."))),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| invalid(format!("The parameter {key} must be an integer."))),
            Some(_) => Err(invalid(format!("The parameter {key} must be an integer."))),
        }
    }

    /// Epoch seconds (JSON) or ISO 8601 (query), to epoch milliseconds.
    fn timestamp(&self, key: &str) -> Result<Option<i64>, AwsError> {
        let bad = || invalid(format!("The parameter {key} must be a valid timestamp."));
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|f| f.is_finite())
                .map(|f| Some((f * 1000.0).round() as i64))
                .ok_or_else(bad),
            Some(Value::String(s)) => parse_time(s).map(Some).ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    }

    fn list(&self, key: &str) -> Result<&'a [Value], AwsError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(invalid(format!("The parameter {key} must be a list."))),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, AwsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            Some(_) => Err(invalid(format!("The parameter {key} must be a boolean."))),
        }
    }
}

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

/// `[{Name, Value}]` (a metric's dimensions), checked against the model's limits.
fn dimensions(list: &[Value], param: &str) -> Result<Vec<(String, String)>, AwsError> {
    if list.len() > MAX_DIMENSIONS {
        return Err(invalid(format!(
            "The collection {param} must not contain more than {MAX_DIMENSIONS} items."
        )));
    }
    let mut dims = Vec::with_capacity(list.len());
    for (i, d) in list.iter().enumerate() {
        let Value::Object(d) = d else {
            return Err(invalid(format!(
                "The parameter {param}.member.{} is invalid.",
                i + 1
            )));
        };
        let d = Req(d);
        let name = d
            .required("Name")
            .map_err(|_| missing(&format!("{param}.member.{}.Name", i + 1)))?;
        let value = d
            .required("Value")
            .map_err(|_| missing(&format!("{param}.member.{}.Value", i + 1)))?;
        if name.len() > 255 || value.len() > 1024 {
            return Err(invalid(format!(
                "The parameter {param}.member.{} is longer than allowed.",
                i + 1
            )));
        }
        dims.push((name.to_owned(), value.to_owned()));
    }
    dims.sort();
    let distinct: HashSet<&str> = dims.iter().map(|(k, _)| k.as_str()).collect();
    if distinct.len() != dims.len() {
        return Err(combination(format!(
            "No metric may have more than one dimension of the same name in {param}."
        )));
    }
    Ok(dims)
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

fn seconds(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

// ------------------------------------------------------------------------------------------
// operations

fn dispatch(app: &CloudWatch, op: &str, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let req = Req(req);
    // Reads see everything the engine did up to now.
    app.sample_metrics();
    match op {
        "GetMetricStatistics" => get_metric_statistics(app, &req),
        "GetMetricData" => get_metric_data(app, &req),
        "ListMetrics" => list_metrics(app, &req),
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

fn get_metric_statistics(app: &CloudWatch, req: &Req<'_>) -> Result<Value, AwsError> {
    let namespace = req.required("Namespace")?;
    let name = req.required("MetricName")?;
    let start = req
        .timestamp("StartTime")?
        .ok_or_else(|| missing("StartTime"))?;
    let end = req
        .timestamp("EndTime")?
        .ok_or_else(|| missing("EndTime"))?;
    let period = req.int("Period")?.ok_or_else(|| missing("Period"))?;
    let dims = dimensions(req.list("Dimensions")?, "Dimensions")?;
    let unit = req.string("Unit")?;
    check_unit(unit, "Unit")?;
    let statistics = req.list("Statistics")?;
    let extended = req.list("ExtendedStatistics")?;
    if statistics.is_empty() == extended.is_empty() {
        return Err(combination(
            "Must specify either Statistics or ExtendedStatistics, but not both.",
        ));
    }
    let mut basic = Vec::new();
    for (i, s) in statistics.iter().enumerate() {
        let stat = s.as_str().and_then(Statistic::basic).ok_or_else(|| {
            invalid(format!(
                "The parameter Statistics.member.{} must be a value in the set {BASIC_STATISTICS}.",
                i + 1
            ))
        })?;
        basic.push((s.as_str().unwrap_or_default().to_owned(), stat));
    }
    let mut percentiles = Vec::new();
    for (i, s) in extended.iter().enumerate() {
        let stat = s.as_str().and_then(Statistic::percentile).ok_or_else(|| {
            invalid(format!(
                "The parameter ExtendedStatistics.member.{} must be a percentile between p0.0 and p100.",
                i + 1
            ))
        })?;
        percentiles.push((s.as_str().unwrap_or_default().to_owned(), stat));
    }
    check_period(period, "Period")?;
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
        name: name.to_owned(),
        dimensions: dims,
    };
    let datapoints: Vec<Value> = lookup(app, namespace, &id, start, end, period, unit)
        .into_iter()
        .map(|(t, stats, unit)| {
            let mut dp = Map::new();
            dp.insert("Timestamp".into(), seconds(t));
            for (name, stat) in &basic {
                if let Some(v) = stats.get(stat) {
                    dp.insert(name.clone(), json!(v));
                }
            }
            if !percentiles.is_empty() {
                let ext: Map<String, Value> = percentiles
                    .iter()
                    .filter_map(|(n, s)| stats.get(s).map(|v| (n.clone(), json!(v))))
                    .collect();
                dp.insert("ExtendedStatistics".into(), Value::Object(ext));
            }
            dp.insert("Unit".into(), json!(unit));
            Value::Object(dp)
        })
        .collect();
    Ok(json!({"Label": name, "Datapoints": datapoints}))
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

fn get_metric_data(app: &CloudWatch, req: &Req<'_>) -> Result<Value, AwsError> {
    let queries = req.list("MetricDataQueries")?;
    if req.get("MetricDataQueries").is_none() {
        return Err(missing("MetricDataQueries"));
    }
    if queries.len() > MAX_QUERIES {
        return Err(validation(format!(
            "The collection MetricDataQueries must not contain more than {MAX_QUERIES} items."
        )));
    }
    let start = req
        .timestamp("StartTime")?
        .ok_or_else(|| missing("StartTime"))?;
    let end = req
        .timestamp("EndTime")?
        .ok_or_else(|| missing("EndTime"))?;
    if start >= end {
        return Err(validation(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let descending = match req.string("ScanBy")? {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'scanBy' failed to satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]"
            )))
        }
    };
    let max_points = match req.int("MaxDatapoints")? {
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
        label: String,
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
        let Value::Object(q) = q else {
            return Err(validation(format!(
                "The parameter MetricDataQueries.member.{n} is invalid."
            )));
        };
        let q = Req(q);
        let id = q
            .string("Id")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing(&format!("MetricDataQueries.member.{n}.Id")))?;
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
        let stat = q.get("MetricStat");
        let expression = q.string("Expression")?;
        let stat = match (stat, expression) {
            (Some(Value::Object(s)), None) => Req(s),
            (None, Some(_)) => {
                return Err(validation(format!(
                    "Error in expression '{id}': metric math and Metrics Insights expressions are not supported by this server; query metrics with MetricStat."
                )))
            }
            _ => {
                return Err(validation(format!(
                    "Exactly one element of the MetricStat and Expression members must be set in MetricDataQueries.member.{n}."
                )))
            }
        };
        let Some(Value::Object(metric)) = stat.get("Metric") else {
            return Err(missing(&format!(
                "MetricDataQueries.member.{n}.MetricStat.Metric"
            )));
        };
        let metric = Req(metric);
        let namespace = metric.required("Namespace").map_err(|_| {
            missing(&format!(
                "MetricDataQueries.member.{n}.MetricStat.Metric.Namespace"
            ))
        })?;
        let name = metric.required("MetricName").map_err(|_| {
            missing(&format!(
                "MetricDataQueries.member.{n}.MetricStat.Metric.MetricName"
            ))
        })?;
        let dims = dimensions(
            metric.list("Dimensions")?,
            &format!("MetricDataQueries.member.{n}.MetricStat.Metric.Dimensions"),
        )
        .map_err(|e| validation(e.message))?;
        let period = stat
            .int("Period")?
            .ok_or_else(|| missing(&format!("MetricDataQueries.member.{n}.MetricStat.Period")))?;
        check_period(
            period,
            &format!("MetricDataQueries.member.{n}.MetricStat.Period"),
        )
        .map_err(|e| validation(e.message))?;
        let stat_name = stat.string("Stat")?.unwrap_or("");
        let statistic = Statistic::parse(stat_name).ok_or_else(|| {
            validation(format!(
                "The value {stat_name} for parameter MetricDataQueries.member.{n}.MetricStat.Stat is not a valid statistic."
            ))
        })?;
        let unit = stat.string("Unit")?;
        check_unit(
            unit,
            &format!("MetricDataQueries.member.{n}.MetricStat.Unit"),
        )
        .map_err(|e| validation(e.message))?;
        parsed.push(Query {
            id,
            label: q.string("Label")?.unwrap_or(name).to_owned(),
            namespace,
            metric: MetricId {
                name: name.to_owned(),
                dimensions: dims,
            },
            period,
            stat: statistic,
            unit,
            return_data: q.bool("ReturnData")?.unwrap_or(true),
        });
    }
    let offset = match req.string("NextToken")? {
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
        let page: Vec<(i64, f64)> = points.iter().skip(first).take(room).copied().collect();
        let complete = first + page.len() == points.len();
        truncated |= !complete;
        position += points.len();
        results.push(json!({
            "Id": q.id,
            "Label": q.label,
            "Timestamps": page.iter().map(|(t, _)| seconds(*t)).collect::<Vec<_>>(),
            "Values": page.iter().map(|(_, v)| json!(v)).collect::<Vec<_>>(),
            "StatusCode": if complete { "Complete" } else { "PartialData" },
            "Messages": [],
        }));
    }
    let mut out = json!({"MetricDataResults": results, "Messages": []});
    if truncated {
        out["NextToken"] = json!(data_token(offset + max_points, start, end));
    }
    Ok(out)
}

fn list_metrics(app: &CloudWatch, req: &Req<'_>) -> Result<Value, AwsError> {
    let namespace = req.string("Namespace")?;
    let name = req.string("MetricName")?;
    let filters = req.list("Dimensions")?;
    if filters.len() > 10 {
        return Err(invalid(
            "The collection Dimensions must not contain more than 10 items.",
        ));
    }
    let mut wanted = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let Value::Object(f) = f else {
            return Err(invalid(format!(
                "The parameter Dimensions.member.{} is invalid.",
                i + 1
            )));
        };
        let f = Req(f);
        let n = f
            .required("Name")
            .map_err(|_| missing(&format!("Dimensions.member.{}.Name", i + 1)))?;
        wanted.push((n.to_owned(), f.string("Value")?.map(str::to_owned)));
    }
    let recent = match req.string("RecentlyActive")? {
        None => false,
        Some("PT3H") => true,
        Some(other) => {
            return Err(invalid(format!(
                "The parameter RecentlyActive must be a value in the set [ PT3H ], not {other}."
            )))
        }
    };
    let start = match req.string("NextToken")? {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| invalid("The parameter NextToken is invalid."))?,
    };
    if namespace.is_some_and(|n| n != LAMBDA_NAMESPACE) {
        return Ok(json!({"Metrics": []}));
    }
    let now = app.store.clock().now_millis();
    let matching: Vec<Value> = app.metrics.with_store(|s| {
        s.metrics()
            .filter(|(id, _)| name.is_none_or(|n| n == id.name))
            .filter(|(id, _)| {
                wanted.iter().all(|(k, v)| {
                    id.dimensions
                        .iter()
                        .any(|(dk, dv)| dk == k && v.as_ref().is_none_or(|v| v == dv))
                })
            })
            .filter(|(_, last)| !recent || now - last <= 3 * 60 * MINUTE_MS)
            .map(|(id, _)| {
                json!({
                    "Namespace": LAMBDA_NAMESPACE,
                    "MetricName": id.name,
                    "Dimensions": id.dimensions.iter().map(|(k, v)| json!({"Name": k, "Value": v})).collect::<Vec<_>>(),
                })
            })
            .collect()
    });
    if start > matching.len() {
        return Err(invalid("The parameter NextToken is invalid."));
    }
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(LIST_PAGE)
        .cloned()
        .collect();
    let mut out = json!({"Metrics": page});
    if start + LIST_PAGE < matching.len() {
        out["NextToken"] = json!((start + LIST_PAGE).to_string());
    }
    Ok(out)
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
    fn renders_query_xml_with_members_entries_and_iso_times() {
        let v = json!({
            "Label": "Duration",
            "Datapoints": [{"Timestamp": 1704067200.0, "Maximum": 3.0, "Unit": "Milliseconds",
                            "ExtendedStatistics": {"p99": 2.5}}],
        });
        let mut x = Xml::new();
        xml_members(&mut x, v.as_object().unwrap());
        assert_eq!(
            x.into_string(),
            "<Datapoints><member><ExtendedStatistics><entry><key>p99</key><value>2.5</value></entry></ExtendedStatistics>\
             <Maximum>3.0</Maximum><Timestamp>2024-01-01T00:00:00.000Z</Timestamp><Unit>Milliseconds</Unit></member></Datapoints>\
             <Label>Duration</Label>"
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
}

//! Amazon SQS on the shared endpoint: the JSON protocol current SDKs speak
//! (`X-Amz-Target: AmazonSQS.<Op>`) and the query protocol older ones use (`Action=<Op>`, XML
//! responses), both over the same operations. Queues are store documents, messages live in the
//! store's key-value space (see [`messages`]), and time (delays, visibility, retention) reads
//! the server clock.
//!
//! Other parts of the server (SNS subscriptions, event source mapping on-failure destinations)
//! send through [`send_to_queue_arn`].

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

mod messages;
mod queues;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use tributary_shapes::generated::sqs as model;
use tributary_shapes::validate::{validate_object, Options};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, Uri};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tributary_model::AwsError;

pub use messages::{md5_hex, md5_of_attributes, MessageAttributeValue, Waiters};
use messages::{Outgoing, Received};
use queues::{QueueDoc, DELETED_KIND, QUEUE_KIND};

use tributary_service::json::JSON10;
use tributary_service::query::{self, Params, Xml};
use tributary_service::Config;
use tributary_store::Store;

/// Amazon SQS, in both of its protocols: its queues and messages live in the store; long
/// polls wait on [`Waiters`] and on the server clock.
pub struct Sqs {
    pub(crate) cfg: Arc<Config>,
    pub(crate) store: Store,
    pub(crate) sqs_waiters: Waiters,
    /// Signalled when the server clock is moved by hand.
    pub(crate) time_moved: Arc<tokio::sync::Notify>,
    /// Cancelled at shutdown: long polls answer at once.
    pub(crate) background: tokio_util::sync::CancellationToken,
}

impl Sqs {
    pub fn new(
        cfg: Arc<Config>,
        store: Store,
        time_moved: Arc<tokio::sync::Notify>,
        background: tokio_util::sync::CancellationToken,
    ) -> Sqs {
        Sqs {
            cfg,
            store,
            sqs_waiters: Waiters::default(),
            time_moved,
            background,
        }
    }
}

impl Sqs {
    /// The queue's access policy (its `Policy` attribute), for IAM checks; `None` when it has
    /// none.
    pub fn queue_policy(&self, arn: &str) -> Option<String> {
        let name = queues::name_from_arn(&self.cfg, arn)?;
        let q = queues::lookup(self, name)?;
        q.attrs.get("Policy").filter(|p| !p.is_empty()).cloned()
    }
}

#[async_trait::async_trait]
impl tributary_service::peers::Queues for Sqs {
    fn exists(&self, arn: &str) -> bool {
        queue_exists_by_arn(self, arn)
    }

    async fn send(&self, arn: &str, message: Delivery) -> Result<String, AwsError> {
        deliver(self, arn, message).await
    }

    fn policy(&self, arn: &str) -> Option<String> {
        self.queue_policy(arn)
    }
}

#[async_trait::async_trait]
impl tributary_service::Service for Sqs {
    async fn call(&self, req: tributary_service::Request) -> Response<Body> {
        if req.route.protocol == tributary_service::Protocol::Query {
            return handle_query(self, &req.uri, &req.headers, &req.body).await;
        }
        let target = req
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        match target.strip_prefix("AmazonSQS.") {
            Some(op) => handle_json(self, op, &req.headers, &req.body).await,
            None => json_error(&AwsError::new(
                "UnknownOperationException",
                400,
                format!("Unknown operation: {target}"),
            )),
        }
    }
}

/// The query protocol's XML namespace.
const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";
/// Entries per batch request.
const MAX_BATCH: usize = 10;
/// Message attributes per message.
const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// The whole payload of a SendMessageBatch.
const MAX_BATCH_BYTES: usize = 1_048_576;

// ------------------------------------------------------------------------------------------
// errors

/// `QueueDoesNotExist` (query code `AWS.SimpleQueueService.NonExistentQueue`).
pub(crate) fn queue_not_found() -> AwsError {
    AwsError::new(
        "QueueDoesNotExist",
        400,
        "The specified queue does not exist.",
    )
}

/// The generic `InvalidParameterValue` (JSON type `InvalidParameterValueException`).
pub(crate) fn invalid_param(msg: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterValueException", 400, msg)
}

/// `MissingParameter` (JSON type `MissingRequiredParameterException`).
fn missing_param(name: &str) -> AwsError {
    AwsError::new(
        "MissingRequiredParameterException",
        400,
        format!("The request must contain the parameter {name}."),
    )
}

fn unsupported(op: &str) -> AwsError {
    AwsError::new(
        "UnsupportedOperation",
        400,
        format!("{op} is not supported by this server."),
    )
}

/// The legacy query-protocol code of an error: what the query protocol puts in `<Code>`, what
/// the JSON protocol puts in `x-amzn-query-error`, and what batch results report.
fn query_code(code: &str) -> &str {
    match code {
        "QueueDoesNotExist" => "AWS.SimpleQueueService.NonExistentQueue",
        "QueueNameExists" => "QueueAlreadyExists",
        "QueueDeletedRecently" => "AWS.SimpleQueueService.QueueDeletedRecently",
        "PurgeQueueInProgress" => "AWS.SimpleQueueService.PurgeQueueInProgress",
        "TooManyEntriesInBatchRequest" => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "EmptyBatchRequest" => "AWS.SimpleQueueService.EmptyBatchRequest",
        "BatchEntryIdsNotDistinct" => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "BatchRequestTooLong" => "AWS.SimpleQueueService.BatchRequestTooLong",
        "InvalidBatchEntryId" => "AWS.SimpleQueueService.InvalidBatchEntryId",
        "MessageNotInflight" => "AWS.SimpleQueueService.MessageNotInflight",
        "UnsupportedOperation" => "AWS.SimpleQueueService.UnsupportedOperation",
        "InvalidParameterValueException" | "SerializationException" | "ValidationException" => {
            "InvalidParameterValue"
        }
        "MissingRequiredParameterException" => "MissingParameter",
        "UnknownOperationException" => "InvalidAction",
        "InternalServerError" => "InternalError",
        other => other,
    }
}

/// The JSON protocol's error type name of an error.
fn json_code(code: &str) -> &str {
    match code {
        "InternalServerError" => "InternalError",
        other => other,
    }
}

fn json_error(e: &AwsError) -> Response<Body> {
    let body = json!({
        "__type": format!("com.amazonaws.sqs#{}", json_code(e.code)),
        "message": e.message,
    });
    let mut r = json_ok(&body);
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

fn json_ok(v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(serde_json::to_vec(v).unwrap_or_default()));
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(JSON10));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-amzn-requestid", id);
    }
    r
}

fn query_error(e: &AwsError) -> Response<Body> {
    let message = match e.code {
        // The query protocol words this one as it always has.
        "QueueDoesNotExist" => "The specified queue does not exist for this wsdl version.",
        _ => e.message.as_str(),
    };
    query::error(NAMESPACE, e.status, query_code(e.code), message, true)
}

// ------------------------------------------------------------------------------------------
// the two protocols

/// Where the client reached us, for queue URLs: the `Host` it addressed (with the endpoint's
/// scheme when it is the endpoint's host), else the configured endpoint.
fn base_url(app: &Sqs, headers: &HeaderMap) -> String {
    let endpoint = app.cfg.endpoint_url.trim_end_matches('/');
    let Some(host) = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty())
    else {
        return endpoint.to_owned();
    };
    let (scheme, authority) = endpoint.split_once("://").unwrap_or(("http", endpoint));
    if authority == host {
        return endpoint.to_owned();
    }
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "http" || *p == "https")
        .unwrap_or(if scheme == "https" { "https" } else { "http" });
    format!("{scheme}://{host}")
}

/// A JSON-protocol request (`X-Amz-Target: AmazonSQS.<op>`).
pub async fn handle_json(app: &Sqs, op: &str, headers: &HeaderMap, body: &[u8]) -> Response<Body> {
    let req = match tributary_service::json::parse_body(body) {
        Ok(r) => r,
        Err(e) => return json_error(&e),
    };
    // The model's required members first. SQS keeps its query-protocol wording: a missing
    // member is `MissingParameter` (`The request must contain the parameter QueueUrl.`); its
    // other rules (attribute names, ranges) have messages of their own in the handlers.
    if let Some(o) = model::Operation::from_name(op) {
        if let Err(v) = validate_object(&model::SERVICE, o.def(), &req, &Options::default()) {
            if let Some(member) = v.missing_top_level() {
                return json_error(&missing_param(member));
            }
        }
    }
    let base = base_url(app, headers);
    match dispatch(app, &base, op, &req).await {
        Ok(v) => json_ok(&v),
        Err(e) => {
            tracing::debug!(op, code = e.code, message = %e.message, "sqs request failed");
            json_error(&e)
        }
    }
}

/// Operations whose query response has no `<...Result>` element.
const NO_RESULT: &[&str] = &[
    "DeleteQueue",
    "SetQueueAttributes",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "PurgeQueue",
    "TagQueue",
    "UntagQueue",
    "AddPermission",
    "RemovePermission",
];

/// A query-protocol request (`Action=<op>` in the form body or URL). The queue may also be
/// named by the request path (`POST /<account>/<name>`), as older SDKs send it.
pub async fn handle_query(
    app: &Sqs,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response<Body> {
    let params = Params::parse(uri, body);
    let Some(action) = params.get("Action").map(str::to_owned) else {
        return query::error(NAMESPACE, 400, "MissingAction", "Missing Action", true);
    };
    let mut req = params.to_json(
        &[
            ("Attribute", "Name", "Value"),
            ("Tag", "Key", "Value"),
            ("MessageAttribute", "Name", "Value"),
            ("MessageSystemAttribute", "Name", "Value"),
        ],
        &query_rename,
    );
    req.remove("Action");
    req.remove("Version");
    let path = uri.path().trim_matches('/');
    if !req.contains_key("QueueUrl") && !path.is_empty() {
        req.insert("QueueUrl".into(), Value::String(format!("/{path}")));
    }
    let base = base_url(app, headers);
    match dispatch(app, &base, &action, &req).await {
        Ok(v) => {
            if NO_RESULT.contains(&action.as_str()) {
                query::ok(&action, NAMESPACE, None)
            } else {
                let mut x = Xml::new();
                if let Value::Object(m) = &v {
                    xml_members(&mut x, &action, m);
                }
                query::ok(&action, NAMESPACE, Some(&x.into_string()))
            }
        }
        Err(e) => {
            tracing::debug!(action, code = e.code, message = %e.message, "sqs request failed");
            query_error(&e)
        }
    }
}

/// Query member names → the JSON protocol's names of the same members.
fn query_rename(name: &str) -> Option<&'static str> {
    Some(match name {
        "Attribute" => "Attributes",
        "AttributeName" => "AttributeNames",
        "MessageSystemAttributeName" => "MessageSystemAttributeNames",
        "MessageAttributeName" => "MessageAttributeNames",
        "MessageAttribute" => "MessageAttributes",
        "MessageSystemAttribute" => "MessageSystemAttributes",
        "Tag" => "Tags",
        "TagKey" => "TagKeys",
        "SendMessageBatchRequestEntry"
        | "DeleteMessageBatchRequestEntry"
        | "ChangeMessageVisibilityBatchRequestEntry" => "Entries",
        "StringListValue" => "StringListValues",
        "BinaryListValue" => "BinaryListValues",
        _ => return None,
    })
}

/// Renders a JSON-protocol result as the query protocol's XML: maps and lists are flattened
/// under their singular member names, as the 2012-11-05 query model has them.
fn xml_members(x: &mut Xml, op: &str, obj: &Map<String, Value>) {
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("Attributes", Value::Object(m)) => {
                for (name, val) in m {
                    x.open("Attribute")
                        .elem("Name", name)
                        .elem("Value", &scalar(val))
                        .close("Attribute");
                }
            }
            ("Tags", Value::Object(m)) => {
                for (name, val) in m {
                    x.open("Tag")
                        .elem("Key", name)
                        .elem("Value", &scalar(val))
                        .close("Tag");
                }
            }
            ("MessageAttributes", Value::Object(m)) => {
                for (name, val) in m {
                    x.open("MessageAttribute").elem("Name", name).open("Value");
                    if let Value::Object(inner) = val {
                        xml_members(x, op, inner);
                    }
                    x.close("Value").close("MessageAttribute");
                }
            }
            ("QueueUrls" | "queueUrls", Value::Array(a)) => {
                for u in a {
                    x.elem("QueueUrl", &scalar(u));
                }
            }
            ("Messages" | "Successful" | "Failed", Value::Array(a)) => {
                let tag = match k.as_str() {
                    "Messages" => "Message".to_owned(),
                    "Failed" => "BatchResultErrorEntry".to_owned(),
                    _ => format!("{op}ResultEntry"),
                };
                for item in a {
                    x.open(&tag);
                    if let Value::Object(inner) = item {
                        xml_members(x, op, inner);
                    }
                    x.close(&tag);
                }
            }
            (_, Value::Object(inner)) => {
                x.open(k);
                xml_members(x, op, inner);
                x.close(k);
            }
            (_, Value::Array(a)) => {
                for item in a {
                    x.elem(k, &scalar(item));
                }
            }
            (_, Value::Null) => {}
            (_, v) => {
                x.elem(k, &scalar(v));
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

// ------------------------------------------------------------------------------------------
// request members (JSON values, or the strings the query protocol gives)

fn str_param<'a>(req: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, AwsError> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid_param(format!(
            "Value for parameter {key} is invalid. Reason: Must be a string."
        ))),
    }
}

fn int_param(req: &Map<String, Value>, key: &str) -> Result<Option<i64>, AwsError> {
    let bad = |shown: &str| {
        invalid_param(format!(
            "Value {shown} for parameter {key} is invalid. Reason: Must be an integer."
        ))
    };
    match req.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(&n.to_string())),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(s)),
        Some(other) => Err(bad(&other.to_string())),
    }
}

fn list_param(req: &Map<String, Value>, key: &str) -> Result<Vec<String>, AwsError> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid_param(format!("Value for parameter {key} is invalid.")))
            })
            .collect(),
        Some(_) => Err(invalid_param(format!(
            "Value for parameter {key} is invalid."
        ))),
    }
}

fn map_param(req: &Map<String, Value>, key: &str) -> Result<BTreeMap<String, String>, AwsError> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                _ => Err(invalid_param(format!(
                    "Value for parameter {key} is invalid."
                ))),
            })
            .collect(),
        Some(_) => Err(invalid_param(format!(
            "Value for parameter {key} is invalid."
        ))),
    }
}

fn entries_param<'a>(
    req: &'a Map<String, Value>,
    entry_name: &str,
) -> Result<Vec<&'a Map<String, Value>>, AwsError> {
    let entries: Vec<&Map<String, Value>> = match req.get("Entries") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        Some(_) => return Err(invalid_param("Value for parameter Entries is invalid.")),
    };
    if entries.is_empty() {
        return Err(AwsError::new(
            "EmptyBatchRequest",
            400,
            format!("There should be at least one {entry_name} in the request."),
        ));
    }
    if entries.len() > MAX_BATCH {
        return Err(AwsError::new(
            "TooManyEntriesInBatchRequest",
            400,
            format!(
                "Maximum number of entries per request are {MAX_BATCH}. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    for e in &entries {
        let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
        let valid = !id.is_empty()
            && id.len() <= 80
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(AwsError::new(
                "InvalidBatchEntryId",
                400,
                "A batch entry id can only contain alphanumeric characters, hyphens and \
                 underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(AwsError::new(
                "BatchEntryIdsNotDistinct",
                400,
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(entries)
}

fn entry_id(e: &Map<String, Value>) -> String {
    e.get("Id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn batch_failure(id: String, e: &AwsError) -> Value {
    json!({
        "Id": id,
        "SenderFault": e.status < 500,
        "Code": query_code(e.code),
        "Message": e.message,
    })
}

/// The queue a request's `QueueUrl` names.
fn queue_from_req(app: &Sqs, req: &Map<String, Value>) -> Result<QueueDoc, AwsError> {
    let url = str_param(req, "QueueUrl")?.ok_or_else(|| missing_param("QueueUrl"))?;
    let name = queues::name_from_url(url, &app.cfg.account_id)?;
    queues::lookup(app, &name).ok_or_else(queue_not_found)
}

// ------------------------------------------------------------------------------------------
// operations

async fn dispatch(
    app: &Sqs,
    base: &str,
    op: &str,
    req: &Map<String, Value>,
) -> Result<Value, AwsError> {
    match op {
        "CreateQueue" => create_queue(app, base, req).await,
        "GetQueueUrl" => get_queue_url(app, base, req),
        "GetQueueAttributes" => get_queue_attributes(app, req),
        "SetQueueAttributes" => set_queue_attributes(app, req).await,
        "ListQueues" => list_queues(app, base, req),
        "DeleteQueue" => delete_queue(app, req).await,
        "PurgeQueue" => purge_queue(app, req).await,
        "SendMessage" => send_message(app, req).await,
        "SendMessageBatch" => send_message_batch(app, req).await,
        "ReceiveMessage" => receive_message(app, req).await,
        "DeleteMessage" => delete_message(app, req).await,
        "DeleteMessageBatch" => delete_message_batch(app, req).await,
        "ChangeMessageVisibility" => change_message_visibility(app, req).await,
        "ChangeMessageVisibilityBatch" => change_message_visibility_batch(app, req).await,
        "TagQueue" => tag_queue(app, req, true).await,
        "UntagQueue" => tag_queue(app, req, false).await,
        "ListQueueTags" => list_queue_tags(app, req),
        "ListDeadLetterSourceQueues" => list_dead_letter_source_queues(app, base, req),
        "AddPermission"
        | "RemovePermission"
        | "StartMessageMoveTask"
        | "CancelMessageMoveTask"
        | "ListMessageMoveTasks" => Err(unsupported(op)),
        _ => Err(AwsError::new(
            "UnknownOperationException",
            400,
            format!("The action {op} is not valid for this endpoint."),
        )),
    }
}

async fn create_queue(app: &Sqs, base: &str, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let name = str_param(req, "QueueName")?
        .ok_or_else(|| missing_param("QueueName"))?
        .to_owned();
    let given = map_param(req, "Attributes")?;
    let mut tags = map_param(req, "tags")?;
    tags.extend(map_param(req, "Tags")?);
    let fifo = given
        .get("FifoQueue")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    queues::validate_name(&name, fifo)?;
    let attrs = {
        let cat = app.store.catalog();
        queues::validate_attrs(&app.cfg, &cat, &given, fifo, true)?
    };
    let url = queues::url(base, &app.cfg.account_id, &name);
    let stored_name = name.clone();
    app.store
        .write(move |tx| {
            let now = tx.now_ms();
            if let Some(existing) = queues::lookup_in(tx.catalog(), &stored_name) {
                let same_type = existing.fifo() == fifo;
                let diff = if same_type {
                    queues::first_difference(&existing.attrs, &attrs, fifo)
                } else {
                    Some("FifoQueue".to_owned())
                };
                if let Some(attr) = diff {
                    return Err(AwsError::new(
                        "QueueNameExists",
                        400,
                        format!(
                            "A queue already exists with the same name and a different value for \
                             attribute {attr}"
                        ),
                    ));
                }
                return Ok(());
            }
            let deleted_ms = tx
                .catalog()
                .doc(DELETED_KIND, &stored_name)
                .and_then(|d| d.get("deleted_ms"))
                .and_then(Value::as_i64);
            if deleted_ms.is_some_and(|d| now < d + queues::REUSE_DELAY_MS) {
                return Err(AwsError::new(
                    "QueueDeletedRecently",
                    400,
                    "You must wait 60 seconds after deleting a queue before you can create \
                     another with the same name.",
                ));
            }
            let doc = QueueDoc {
                name: stored_name.clone(),
                id: tx.next_id(),
                created_ms: now,
                modified_ms: now,
                attrs: queues::initial_attrs(&attrs, fifo),
                tags: tags.clone(),
                last_purge_ms: None,
                purged_below: 0,
            };
            let value =
                serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(QUEUE_KIND, &stored_name, value)?;
            if deleted_ms.is_some() {
                tx.delete_doc(DELETED_KIND, &stored_name)?;
            }
            Ok(())
        })
        .await?;
    Ok(json!({ "QueueUrl": url }))
}

fn get_queue_url(app: &Sqs, base: &str, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let name = str_param(req, "QueueName")?.ok_or_else(|| missing_param("QueueName"))?;
    if let Some(owner) = str_param(req, "QueueOwnerAWSAccountId")? {
        if owner != app.cfg.account_id {
            return Err(queue_not_found());
        }
    }
    queues::lookup(app, name).ok_or_else(queue_not_found)?;
    Ok(json!({ "QueueUrl": queues::url(base, &app.cfg.account_id, name) }))
}

/// Every attribute GetQueueAttributes can show for `q`.
fn all_attributes(app: &Sqs, q: &QueueDoc) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = q.attrs.clone();
    let (visible, in_flight, delayed) = messages::counts(app, q)?;
    out.insert("QueueArn".into(), queues::arn(&app.cfg, &q.name));
    out.insert("ApproximateNumberOfMessages".into(), visible.to_string());
    out.insert(
        "ApproximateNumberOfMessagesNotVisible".into(),
        in_flight.to_string(),
    );
    out.insert(
        "ApproximateNumberOfMessagesDelayed".into(),
        delayed.to_string(),
    );
    out.insert(
        "CreatedTimestamp".into(),
        (q.created_ms.div_euclid(1000)).to_string(),
    );
    out.insert(
        "LastModifiedTimestamp".into(),
        (q.modified_ms.div_euclid(1000)).to_string(),
    );
    Ok(out)
}

fn get_queue_attributes(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let names = list_param(req, "AttributeNames")?;
    for n in &names {
        if !queues::ATTRIBUTE_NAMES.contains(&n.as_str()) {
            return Err(AwsError::new(
                "InvalidAttributeName",
                400,
                format!("Unknown Attribute {n}."),
            ));
        }
    }
    if names.is_empty() {
        return Ok(json!({}));
    }
    let all = all_attributes(app, &q)?;
    let picked: Map<String, Value> = if names.iter().any(|n| n == "All") {
        all.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect()
    } else {
        names
            .iter()
            .filter_map(|n| all.get(n).map(|v| (n.clone(), Value::String(v.clone()))))
            .collect()
    };
    if picked.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Attributes": picked }))
}

async fn set_queue_attributes(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let given = map_param(req, "Attributes")?;
    let changes = {
        let cat = app.store.catalog();
        queues::validate_attrs(&app.cfg, &cat, &given, q.fifo(), false)?
    };
    app.store
        .write(move |tx| {
            let mut doc = queues::lookup_in(tx.catalog(), &q.name)
                .filter(|d| d.id == q.id)
                .ok_or_else(queue_not_found)?;
            queues::apply(&mut doc.attrs, &changes);
            doc.modified_ms = tx.now_ms();
            let value =
                serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(QUEUE_KIND, &doc.name, value)
        })
        .await?;
    Ok(json!({}))
}

/// Pages of names: `NextToken` is the last name of the previous page, URL-safe base64.
fn page(
    names: Vec<String>,
    req: &Map<String, Value>,
) -> Result<(Vec<String>, Option<String>), AwsError> {
    let max = int_param(req, "MaxResults")?;
    if let Some(m) = max {
        if !(1..=1000).contains(&m) {
            return Err(invalid_param(format!(
                "Value {m} for parameter MaxResults is invalid. Reason: MaxResults must be an \
                 integer between 1 and 1000."
            )));
        }
    }
    let after = match str_param(req, "NextToken")? {
        Some(t) if !t.is_empty() => Some(
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid_param("Invalid NextToken value."))?,
        ),
        _ => None,
    };
    let limit = max.unwrap_or(1000) as usize;
    let rest: Vec<String> = names
        .into_iter()
        .filter(|n| after.as_ref().is_none_or(|a| n > a))
        .collect();
    let more = rest.len() > limit;
    let page: Vec<String> = rest.into_iter().take(limit).collect();
    let token = (more && max.is_some())
        .then(|| page.last().map(|l| URL_SAFE_NO_PAD.encode(l)))
        .flatten();
    Ok((page, token))
}

fn list_queues(app: &Sqs, base: &str, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let prefix = str_param(req, "QueueNamePrefix")?.unwrap_or_default();
    let mut names: Vec<String> = queues::all(app)
        .into_iter()
        .map(|q| q.name)
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    let (page, token) = page(names, req)?;
    let mut out = Map::new();
    if !page.is_empty() {
        let urls: Vec<Value> = page
            .iter()
            .map(|n| Value::String(queues::url(base, &app.cfg.account_id, n)))
            .collect();
        out.insert("QueueUrls".into(), Value::Array(urls));
    }
    if let Some(t) = token {
        out.insert("NextToken".into(), Value::String(t));
    }
    Ok(Value::Object(out))
}

async fn delete_queue(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let (name, id) = (q.name.clone(), q.id);
    app.store
        .write(move |tx| {
            let now = tx.now_ms();
            if queues::lookup_in(tx.catalog(), &name).is_none_or(|d| d.id != id) {
                return Err(queue_not_found());
            }
            messages::clear(tx, id, true)?;
            tx.delete_doc(QUEUE_KIND, &name)?;
            tx.put_doc(DELETED_KIND, &name, json!({ "deleted_ms": now }))
        })
        .await?;
    app.sqs_waiters.forget(q.id);
    Ok(json!({}))
}

async fn purge_queue(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    app.store
        .write(move |tx| {
            let now = tx.now_ms();
            let mut doc = queues::lookup_in(tx.catalog(), &q.name)
                .filter(|d| d.id == q.id)
                .ok_or_else(queue_not_found)?;
            if doc
                .last_purge_ms
                .is_some_and(|t| now < t + queues::PURGE_INTERVAL_MS)
            {
                return Err(AwsError::new(
                    "PurgeQueueInProgress",
                    403,
                    format!(
                        "Only one PurgeQueue operation on {} is allowed every 60 seconds.",
                        doc.name
                    ),
                ));
            }
            // Every message sent so far has a lower seq than this: readers start at it now, and
            // the store clears what is below it in the background.
            doc.purged_below = tx.next_id();
            messages::discard_below(tx, doc.id, doc.purged_below)?;
            doc.last_purge_ms = Some(now);
            let value =
                serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(QUEUE_KIND, &doc.name, value)
        })
        .await?;
    Ok(json!({}))
}

/// Message attributes as SendMessage takes them, validated as SQS validates them.
fn parse_message_attributes(
    v: Option<&Value>,
) -> Result<BTreeMap<String, MessageAttributeValue>, AwsError> {
    let m = match v {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(invalid_param(
                "Value for parameter MessageAttributes is invalid.",
            ))
        }
    };
    if m.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(invalid_param(format!(
            "Number of message attributes [{}] exceeds the allowed maximum \
             [{MAX_MESSAGE_ATTRIBUTES}].",
            m.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (name, value) in m {
        let valid_name = !name.is_empty()
            && name.len() <= 256
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid_name {
            return Err(invalid_param(format!(
                "Message (user) attribute name '{name}' is invalid. Names can contain \
                 alphanumeric characters, hyphens, underscores and periods."
            )));
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("aws.") || lower.starts_with("amazon.") {
            return Err(invalid_param(format!(
                "Message (user) attribute name '{name}' is reserved for use by Amazon SQS."
            )));
        }
        let value = value.as_object().ok_or_else(|| {
            invalid_param(format!(
                "Message (user) attribute '{name}' must contain a non-empty message attribute type."
            ))
        })?;
        let data_type = value
            .get("DataType")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                invalid_param(format!(
                    "Message (user) attribute '{name}' must contain a non-empty message attribute \
                     type."
                ))
            })?;
        let base = data_type.split('.').next().unwrap_or_default();
        let attr = match base {
            "String" | "Number" => {
                let s = value
                    .get("StringValue")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        invalid_param(format!(
                            "Message (user) attribute '{name}' must contain a non-empty value of \
                             type '{base}'."
                        ))
                    })?;
                if base == "Number" && s.trim().parse::<f64>().is_err() {
                    return Err(invalid_param(format!(
                        "Can't cast the value of message (user) attribute '{name}' to a number."
                    )));
                }
                MessageAttributeValue::string(data_type, s)
            }
            "Binary" => {
                let b = value
                    .get("BinaryValue")
                    .and_then(Value::as_str)
                    .and_then(|s| STANDARD.decode(s.trim()).ok())
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| {
                        invalid_param(format!(
                            "Message (user) attribute '{name}' must contain a non-empty value of \
                             type 'Binary'."
                        ))
                    })?;
                MessageAttributeValue {
                    data_type: data_type.to_owned(),
                    string_value: None,
                    binary_value: Some(b),
                }
            }
            _ => {
                return Err(invalid_param(format!(
                    "The type of message (user) attribute '{name}' is invalid. You must use only \
                     the following supported type prefixes: Binary, Number, String."
                )))
            }
        };
        out.insert(name.clone(), attr);
    }
    Ok(out)
}

/// The `AWSTraceHeader` system attribute, the only one a sender may set.
fn parse_system_attributes(v: Option<&Value>) -> Result<Option<String>, AwsError> {
    let m = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(invalid_param(
                "Value for parameter MessageSystemAttributes is invalid.",
            ))
        }
    };
    let mut trace = None;
    for (name, value) in m {
        if name != "AWSTraceHeader" {
            return Err(invalid_param(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        let s = value
            .get("StringValue")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .filter(|_| value.get("DataType").and_then(Value::as_str) == Some("String"))
            .ok_or_else(|| {
                invalid_param(
                    "Message (system) attribute 'AWSTraceHeader' must contain a non-empty value \
                     of type 'String'.",
                )
            })?;
        trace = Some(s.to_owned());
    }
    Ok(trace)
}

/// Characters SQS accepts in a message body (XML 1.0's).
fn check_body_chars(body: &str) -> Result<(), AwsError> {
    let bad = body.chars().find(|&c| {
        let u = c as u32;
        !(u == 0x9
            || u == 0xA
            || u == 0xD
            || (0x20..=0xD7FF).contains(&u)
            || (0xE000..=0xFFFD).contains(&u)
            || (0x10000..=0x10FFFF).contains(&u))
    });
    match bad {
        None => Ok(()),
        Some(c) => Err(AwsError::new(
            "InvalidMessageContents",
            400,
            format!(
                "Invalid binary character '#x{:X}' was found in the message body, the set of \
                 allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | \
                 #x10000 to #x10FFFF",
                c as u32
            ),
        )),
    }
}

/// MessageGroupId and MessageDeduplicationId: 1–128 alphanumeric or punctuation characters.
fn check_token(value: &str, param: &str) -> Result<(), AwsError> {
    let ok = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid_param(format!(
            "Value {value} for parameter {param} is invalid. Reason: {param} can only include \
             alphanumeric and punctuation characters. 1 to 128 in length."
        )))
    }
}

/// Validates one message of SendMessage or one SendMessageBatch entry for queue `q`.
fn prepare(app: &Sqs, q: &QueueDoc, e: &Map<String, Value>) -> Result<Outgoing, AwsError> {
    let body = str_param(e, "MessageBody")?
        .filter(|b| !b.is_empty())
        .ok_or_else(|| missing_param("MessageBody"))?;
    check_body_chars(body)?;
    let attrs = parse_message_attributes(e.get("MessageAttributes"))?;
    let trace_header = parse_system_attributes(e.get("MessageSystemAttributes"))?;
    let size = messages::message_size(body, &attrs);
    if size > q.max_message_size() {
        return Err(invalid_param(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
            q.max_message_size()
        )));
    }
    let delay = int_param(e, "DelaySeconds")?;
    if let Some(d) = delay {
        if q.fifo() && d != 0 {
            return Err(invalid_param(format!(
                "Value {d} for parameter DelaySeconds is invalid. Reason: The request include \
                 parameter that is not valid for this queue type."
            )));
        }
        if !(0..=900).contains(&d) {
            return Err(invalid_param(format!(
                "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= \
                 0 and <= 900."
            )));
        }
    }
    let group_id = str_param(e, "MessageGroupId")?.map(str::to_owned);
    let mut dedup_id = str_param(e, "MessageDeduplicationId")?.map(str::to_owned);
    if let Some(g) = &group_id {
        check_token(g, "MessageGroupId")?;
    }
    if let Some(d) = &dedup_id {
        check_token(d, "MessageDeduplicationId")?;
    }
    if q.fifo() {
        if group_id.is_none() {
            return Err(missing_param("MessageGroupId"));
        }
        if dedup_id.is_none() {
            if !q.content_based_dedup() {
                return Err(invalid_param(
                    "The queue should either have ContentBasedDeduplication enabled or \
                     MessageDeduplicationId provided explicitly",
                ));
            }
            let digest = Sha256::digest(body.as_bytes());
            dedup_id = Some(digest.iter().map(|b| format!("{b:02x}")).collect());
        }
    } else if let Some(d) = &dedup_id {
        return Err(invalid_param(format!(
            "Value {d} for parameter MessageDeduplicationId is invalid. Reason: The request \
             includes a parameter that is not valid for this queue type."
        )));
    }
    Ok(Outgoing {
        body: body.to_owned(),
        attrs,
        trace_header,
        delay_s: delay.unwrap_or_else(|| q.delay_s()),
        group_id,
        dedup_id,
        sender_id: app.cfg.account_id.clone(),
        dlq_source_arn: None,
    })
}

fn sent_json(s: &messages::Sent) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("MD5OfMessageBody".into(), s.md5_body.clone().into());
    if let Some(a) = &s.md5_attrs {
        m.insert("MD5OfMessageAttributes".into(), a.clone().into());
    }
    if let Some(a) = &s.md5_system {
        m.insert("MD5OfMessageSystemAttributes".into(), a.clone().into());
    }
    m.insert("MessageId".into(), s.message_id.clone().into());
    if let Some(seq) = &s.sequence {
        m.insert("SequenceNumber".into(), seq.clone().into());
    }
    m
}

async fn send_message(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let out = prepare(app, &q, req)?;
    let sent = messages::enqueue(app, &q, vec![out]).await?;
    let s = sent
        .first()
        .ok_or_else(|| AwsError::internal("message not enqueued"))?;
    Ok(Value::Object(sent_json(s)))
}

async fn send_message_batch(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let entries = entries_param(req, "SendMessageBatchRequestEntry")?;
    let total: usize = entries
        .iter()
        .map(|e| {
            let body = e
                .get("MessageBody")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let attrs = parse_message_attributes(e.get("MessageAttributes")).unwrap_or_default();
            messages::message_size(body, &attrs)
        })
        .sum();
    if total > MAX_BATCH_BYTES {
        return Err(AwsError::new(
            "BatchRequestTooLong",
            400,
            format!(
                "Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent \
                 {total} bytes."
            ),
        ));
    }
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut outgoing = Vec::new();
    for e in entries {
        match prepare(app, &q, e) {
            Ok(o) => {
                ids.push(entry_id(e));
                outgoing.push(o);
            }
            Err(err) => failed.push(batch_failure(entry_id(e), &err)),
        }
    }
    let sent = messages::enqueue(app, &q, outgoing).await?;
    let successful: Vec<Value> = ids
        .into_iter()
        .zip(sent.iter())
        .map(|(id, s)| {
            let mut m = Map::new();
            m.insert("Id".into(), id.into());
            m.extend(sent_json(s));
            Value::Object(m)
        })
        .collect();
    Ok(json!({ "Successful": successful, "Failed": failed }))
}

/// System attribute names a receive asked for (`All` expands), from both the deprecated
/// `AttributeNames` and `MessageSystemAttributeNames`.
fn requested_system_attributes(req: &Map<String, Value>) -> Result<Vec<String>, AwsError> {
    let mut names = list_param(req, "AttributeNames")?;
    names.extend(list_param(req, "MessageSystemAttributeNames")?);
    Ok(names)
}

fn render_message(q: &QueueDoc, r: &Received, system: &[String], wanted_attrs: &[String]) -> Value {
    let m = &r.msg;
    let mut out = Map::new();
    out.insert("MessageId".into(), m.id.clone().into());
    out.insert("ReceiptHandle".into(), r.receipt_handle.clone().into());
    out.insert("MD5OfBody".into(), md5_hex(m.body.as_bytes()).into());
    out.insert("Body".into(), m.body.clone().into());
    if !system.is_empty() {
        let all = system.iter().any(|n| n == "All");
        let want = |n: &str| all || system.iter().any(|s| s == n);
        let mut attrs = Map::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(v) = value.filter(|_| want(name)) {
                attrs.insert(name.to_owned(), Value::String(v));
            }
        };
        put("SenderId", Some(m.sender_id.clone()));
        put("SentTimestamp", Some(m.sent_ms.to_string()));
        put("ApproximateReceiveCount", Some(m.receive_count.to_string()));
        put(
            "ApproximateFirstReceiveTimestamp",
            m.first_receive_ms.map(|t| t.to_string()),
        );
        put("MessageGroupId", m.group_id.clone());
        if q.fifo() {
            put("MessageDeduplicationId", m.dedup_id.clone());
            put("SequenceNumber", m.sequence.clone());
        }
        put("AWSTraceHeader", m.trace_header.clone());
        put("DeadLetterQueueSourceArn", m.dlq_source_arn.clone());
        if !attrs.is_empty() {
            out.insert("Attributes".into(), Value::Object(attrs));
        }
    }
    let selected: BTreeMap<String, MessageAttributeValue> = m
        .attrs
        .iter()
        .filter(|(name, _)| {
            wanted_attrs.iter().any(|w| {
                w == "All"
                    || w == ".*"
                    || w == *name
                    || w.strip_suffix(".*")
                        .is_some_and(|p| name.starts_with(&format!("{p}.")))
            })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(md5) = md5_of_attributes(&selected) {
        out.insert("MD5OfMessageAttributes".into(), md5.into());
        let attrs: Map<String, Value> = selected
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        out.insert("MessageAttributes".into(), Value::Object(attrs));
    }
    Value::Object(out)
}

async fn receive_message(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let max = int_param(req, "MaxNumberOfMessages")?.unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(invalid_param(format!(
            "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 \
             and 10, if provided."
        )));
    }
    let visibility = int_param(req, "VisibilityTimeout")?;
    if let Some(v) = visibility {
        if !(0..=43_200).contains(&v) {
            return Err(invalid_param(format!(
                "Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and \
                 <= 43200, if provided."
            )));
        }
    }
    let wait = int_param(req, "WaitTimeSeconds")?.unwrap_or_else(|| q.wait_s());
    if !(0..=20).contains(&wait) {
        return Err(invalid_param(format!(
            "Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= \
             20, if provided."
        )));
    }
    let system = requested_system_attributes(req)?;
    let wanted_attrs = list_param(req, "MessageAttributeNames")?;
    let received = messages::receive(app, &q.name, max as usize, visibility, wait).await?;
    let msgs: Vec<Value> = received
        .iter()
        .map(|r| render_message(&q, r, &system, &wanted_attrs))
        .collect();
    Ok(json!({ "Messages": msgs }))
}

async fn delete_message(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let handle = str_param(req, "ReceiptHandle")?
        .filter(|h| !h.is_empty())
        .ok_or_else(|| missing_param("ReceiptHandle"))?;
    let mut results = messages::delete(app, &q, vec![handle.to_owned()]).await?;
    results.pop().unwrap_or(Ok(()))?;
    Ok(json!({}))
}

async fn delete_message_batch(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let entries = entries_param(req, "DeleteMessageBatchRequestEntry")?;
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut handles = Vec::new();
    for e in entries {
        match str_param(e, "ReceiptHandle") {
            Ok(Some(h)) if !h.is_empty() => {
                ids.push(entry_id(e));
                handles.push(h.to_owned());
            }
            Ok(_) => failed.push(batch_failure(entry_id(e), &missing_param("ReceiptHandle"))),
            Err(err) => failed.push(batch_failure(entry_id(e), &err)),
        }
    }
    let results = messages::delete(app, &q, handles).await?;
    Ok(batch_outcome(ids, results, failed))
}

/// The answer of DeleteMessageBatch / ChangeMessageVisibilityBatch: per entry id, the result of
/// the store operation, after the entries that already failed validation.
fn batch_outcome(
    ids: Vec<String>,
    results: Vec<Result<(), AwsError>>,
    mut failed: Vec<Value>,
) -> Value {
    let mut successful = Vec::new();
    for (id, r) in ids.into_iter().zip(results) {
        match r {
            Ok(()) => successful.push(json!({ "Id": id })),
            Err(err) => failed.push(batch_failure(id, &err)),
        }
    }
    json!({ "Successful": successful, "Failed": failed })
}

fn visibility_timeout(e: &Map<String, Value>) -> Result<i64, AwsError> {
    let v = int_param(e, "VisibilityTimeout")?.ok_or_else(|| missing_param("VisibilityTimeout"))?;
    if !(0..=43_200).contains(&v) {
        return Err(invalid_param(format!(
            "Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and \
             43200, if provided."
        )));
    }
    Ok(v)
}

async fn change_message_visibility(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let handle = str_param(req, "ReceiptHandle")?
        .filter(|h| !h.is_empty())
        .ok_or_else(|| missing_param("ReceiptHandle"))?;
    let vt = visibility_timeout(req)?;
    let mut results = messages::change_visibility(app, &q, vec![(handle.to_owned(), vt)]).await?;
    results.pop().unwrap_or(Ok(()))?;
    Ok(json!({}))
}

async fn change_message_visibility_batch(
    app: &Sqs,
    req: &Map<String, Value>,
) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let entries = entries_param(req, "ChangeMessageVisibilityBatchRequestEntry")?;
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut changes = Vec::new();
    for e in entries {
        let parsed = str_param(e, "ReceiptHandle").and_then(|h| {
            let h = h
                .filter(|h| !h.is_empty())
                .ok_or_else(|| missing_param("ReceiptHandle"))?;
            Ok((h.to_owned(), visibility_timeout(e)?))
        });
        match parsed {
            Ok(c) => {
                ids.push(entry_id(e));
                changes.push(c);
            }
            Err(err) => failed.push(batch_failure(entry_id(e), &err)),
        }
    }
    let results = messages::change_visibility(app, &q, changes).await?;
    Ok(batch_outcome(ids, results, failed))
}

async fn tag_queue(app: &Sqs, req: &Map<String, Value>, add: bool) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let tags = map_param(req, "Tags")?;
    let keys = list_param(req, "TagKeys")?;
    app.store
        .write(move |tx| {
            let mut doc = queues::lookup_in(tx.catalog(), &q.name)
                .filter(|d| d.id == q.id)
                .ok_or_else(queue_not_found)?;
            if add {
                doc.tags.extend(tags.clone());
            } else {
                for k in &keys {
                    doc.tags.remove(k);
                }
            }
            let value =
                serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(QUEUE_KIND, &doc.name, value)
        })
        .await?;
    Ok(json!({}))
}

fn list_queue_tags(app: &Sqs, req: &Map<String, Value>) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    Ok(json!({ "Tags": q.tags }))
}

fn list_dead_letter_source_queues(
    app: &Sqs,
    base: &str,
    req: &Map<String, Value>,
) -> Result<Value, AwsError> {
    let q = queue_from_req(app, req)?;
    let arn = queues::arn(&app.cfg, &q.name);
    let mut names: Vec<String> = queues::all(app)
        .into_iter()
        .filter(|s| s.dead_letter_target().as_deref() == Some(arn.as_str()))
        .map(|s| s.name)
        .collect();
    names.sort();
    let (page, token) = page(names, req)?;
    let urls: Vec<Value> = page
        .iter()
        .map(|n| Value::String(queues::url(base, &app.cfg.account_id, n)))
        .collect();
    let mut out = json!({ "queueUrls": urls });
    if let Some(t) = token {
        out["NextToken"] = Value::String(t);
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// the internal API: SNS deliveries and event source mapping destinations

/// Whether `arn` names an existing queue of this server.
pub fn queue_exists_by_arn(app: &Sqs, arn: &str) -> bool {
    queues::name_from_arn(&app.cfg, arn).is_some_and(|n| queues::lookup(app, n).is_some())
}

pub use tributary_service::peers::{is_fifo, QueueMessage as Delivery};

/// Sends `body` (with message `attributes`) to the queue `queue_arn`, validated as SendMessage
/// validates it; returns the message id. Fails with `QueueDoesNotExist` for an unknown queue
/// and, for a FIFO queue, with `MissingParameter` (no message group).
pub async fn send_to_queue_arn(
    app: &Sqs,
    queue_arn: &str,
    body: String,
    attributes: BTreeMap<String, MessageAttributeValue>,
) -> Result<String, AwsError> {
    deliver(
        app,
        queue_arn,
        Delivery {
            body,
            attributes,
            ..Delivery::default()
        },
    )
    .await
}

/// Sends a [`Delivery`] to the queue `queue_arn`; returns the message id.
pub async fn deliver(app: &Sqs, queue_arn: &str, d: Delivery) -> Result<String, AwsError> {
    let q = queues::name_from_arn(&app.cfg, queue_arn)
        .and_then(|n| queues::lookup(app, n))
        .ok_or_else(queue_not_found)?;
    let mut req = Map::new();
    req.insert("MessageBody".into(), Value::String(d.body));
    if !d.attributes.is_empty() {
        let attrs: Map<String, Value> = d
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        req.insert("MessageAttributes".into(), Value::Object(attrs));
    }
    if let Some(g) = d.group_id {
        req.insert("MessageGroupId".into(), Value::String(g));
    }
    if let Some(dd) = d.dedup_id {
        req.insert("MessageDeduplicationId".into(), Value::String(dd));
    }
    let out = prepare(app, &q, &req)?;
    let sent = messages::enqueue(app, &q, vec![out]).await?;
    sent.into_iter()
        .next()
        .map(|s| s.message_id)
        .ok_or_else(|| AwsError::internal("message not enqueued"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_codes_follow_the_legacy_names() {
        assert_eq!(
            query_code("QueueDoesNotExist"),
            "AWS.SimpleQueueService.NonExistentQueue"
        );
        assert_eq!(query_code("QueueNameExists"), "QueueAlreadyExists");
        assert_eq!(
            query_code("InvalidParameterValueException"),
            "InvalidParameterValue"
        );
        assert_eq!(
            query_code("ReceiptHandleIsInvalid"),
            "ReceiptHandleIsInvalid"
        );
    }

    #[test]
    fn renders_query_xml_flattened() {
        let v = json!({
            "Messages": [{
                "MessageId": "m1",
                "Body": "a<b",
                "Attributes": {"SenderId": "1"},
                "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}
            }]
        });
        let mut x = Xml::new();
        xml_members(&mut x, "ReceiveMessage", v.as_object().unwrap());
        let xml = x.into_string();
        assert!(
            xml.starts_with("<Message>") && xml.ends_with("</Message>"),
            "{xml}"
        );
        for part in [
            "<Attribute><Name>SenderId</Name><Value>1</Value></Attribute>",
            "<Body>a&lt;b</Body>",
            "<MessageId>m1</MessageId>",
            "<MessageAttribute><Name>k</Name><Value>",
            "<DataType>String</DataType>",
            "<StringValue>v</StringValue>",
        ] {
            assert!(xml.contains(part), "{part} missing from {xml}");
        }
        let batch = json!({"Successful": [{"Id": "a"}], "Failed": []});
        let mut x = Xml::new();
        xml_members(&mut x, "DeleteMessageBatch", batch.as_object().unwrap());
        assert_eq!(
            x.into_string(),
            "<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>"
        );
    }

    #[test]
    fn message_attribute_validation() {
        let ok = json!({"n": {"DataType": "Number", "StringValue": "1.5"}});
        assert!(parse_message_attributes(Some(&ok)).is_ok());
        let empty = json!({"ErrorDetails": {"DataType": "String", "StringValue": ""}});
        assert_eq!(
            parse_message_attributes(Some(&empty)).unwrap_err().message,
            "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type \
             'String'."
        );
        let bad_type = json!({"x": {"DataType": "Date", "StringValue": "today"}});
        assert!(parse_message_attributes(Some(&bad_type)).is_err());
    }

    #[test]
    fn body_characters() {
        assert!(check_body_chars("ok\t\n\r ✓ 😀").is_ok());
        let e = check_body_chars("bad\u{1}").unwrap_err();
        assert_eq!(e.code, "InvalidMessageContents");
    }

    #[test]
    fn fifo_arns() {
        assert!(is_fifo("arn:aws:sqs:us-east-1:000000000000:jobs.fifo"));
        assert!(!is_fifo("arn:aws:sqs:us-east-1:000000000000:jobs"));
    }
}

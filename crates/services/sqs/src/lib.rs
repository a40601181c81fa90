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
use tributary_shapes::types::{from_object, Blob};
use tributary_shapes::validate::{validate_object, Options};
use tributary_shapes::{Kind, Shape};

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

use tributary_service::json::{output, JSON10};
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
    match dispatch(app, &base, op, req).await {
        Ok(v) => json_ok(&v.unwrap_or_else(|| json!({}))),
        Err(e) => {
            tracing::debug!(op, code = e.code, message = %e.message, "sqs request failed");
            json_error(&e)
        }
    }
}

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
        &|name| query_rename(&action, name),
    );
    req.remove("Action");
    req.remove("Version");
    let path = uri.path().trim_matches('/');
    if !req.contains_key("QueueUrl") && !path.is_empty() {
        req.insert("QueueUrl".into(), Value::String(format!("/{path}")));
    }
    let base = base_url(app, headers);
    match dispatch(app, &base, &action, req).await {
        // An operation without an output shape has no `<...Result>` element.
        Ok(None) => query::ok(&action, NAMESPACE, None),
        Ok(Some(v)) => {
            let mut x = Xml::new();
            if let Value::Object(m) = &v {
                xml_members(&mut x, &action, m);
            }
            query::ok(&action, NAMESPACE, Some(&x.into_string()))
        }
        Err(e) => {
            tracing::debug!(action, code = e.code, message = %e.message, "sqs request failed");
            query_error(&e)
        }
    }
}

/// Query member names of operation `op` → the JSON protocol's names of the same members.
fn query_rename(op: &str, name: &str) -> Option<&'static str> {
    Some(match name {
        "Attribute" => "Attributes",
        "AttributeName" => "AttributeNames",
        "MessageSystemAttributeName" => "MessageSystemAttributeNames",
        "MessageAttributeName" => "MessageAttributeNames",
        "MessageAttribute" => "MessageAttributes",
        "MessageSystemAttribute" => "MessageSystemAttributes",
        // CreateQueue's member is `tags`; TagQueue's `Tags`.
        "Tag" if op == "CreateQueue" => "tags",
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
// typed inputs

/// Reads SQS's lenient forms as the model's types, in place, along the input `shape`: numbers
/// sent as strings (every value of the query form is one, and the JSON form takes them too),
/// numbers and booleans as the text values of a map (`Attributes`, `Tags`), and binary values
/// with blanks around their base64. A binary value that is not base64 reads as absent, so the
/// message attribute checks answer it in SQS's words.
fn coerce(shape: &Shape, v: &mut Value) {
    match (shape.kind, v) {
        (Kind::Integer | Kind::Long, v @ Value::String(_)) => {
            if let Some(n) = v.as_str().and_then(|s| s.trim().parse::<i64>().ok()) {
                *v = n.into();
            }
        }
        (Kind::Blob, v @ Value::String(_)) => {
            let text = v.as_str().unwrap_or_default().trim();
            *v = match STANDARD.decode(text) {
                Ok(_) => Value::String(text.to_owned()),
                Err(_) => Value::Null,
            };
        }
        (Kind::Structure, Value::Object(m)) => coerce_members(shape, m),
        (Kind::List, Value::Array(items)) => {
            if let Some(el) = shape.member {
                for item in items {
                    coerce(model::SERVICE.shape(el), item);
                }
            }
        }
        (Kind::Map, Value::Object(m)) => {
            let Some(value) = shape.value.map(|id| model::SERVICE.shape(id)) else {
                return;
            };
            for item in m.values_mut() {
                match item {
                    Value::Number(_) | Value::Bool(_) if value.kind == Kind::String => {
                        *item = Value::String(item.to_string());
                    }
                    _ => coerce(value, item),
                }
            }
        }
        _ => {}
    }
}

fn coerce_members(shape: &Shape, m: &mut Map<String, Value>) {
    for member in shape.members {
        if let Some(v) = m.get_mut(member.name) {
            coerce(model::SERVICE.shape(member.shape), v);
        }
    }
}

/// Required members a handler cannot tell from empty ones once the input is typed. The JSON
/// form's validator refuses their absence; the query form is not run through it (its other
/// violations are the handlers' to answer), so its absence is `MissingParameter` here.
const PRESENCE_CHECKED: &[&str] = &["QueueUrl", "QueueName", "VisibilityTimeout"];

/// The operation's generated input type, read from its (coerced) request object. A member of
/// the wrong type is SQS's `InvalidParameterValue`, naming the member.
fn input<T: serde::de::DeserializeOwned>(
    op: model::Operation,
    req: &Map<String, Value>,
) -> Result<T, AwsError> {
    let absent = op.input().and_then(|shape| {
        shape.members.iter().find(|m| {
            m.required
                && PRESENCE_CHECKED.contains(&m.name)
                && req.get(m.name).is_none_or(Value::is_null)
        })
    });
    if let Some(m) = absent {
        return Err(missing_param(m.name));
    }
    from_object(req)
        .map_err(|e| invalid_param(format!("Value for parameter {} is invalid.", e.path)))
}

/// The checks every batch request passes before its entries are looked at: 1 to 10 entries,
/// with distinct, well-formed ids. `entry_name` is the entry's query name, as the messages
/// give it.
fn check_entries<'a>(
    ids: impl ExactSizeIterator<Item = &'a str>,
    entry_name: &str,
) -> Result<(), AwsError> {
    let n = ids.len();
    if n == 0 {
        return Err(AwsError::new(
            "EmptyBatchRequest",
            400,
            format!("There should be at least one {entry_name} in the request."),
        ));
    }
    if n > MAX_BATCH {
        return Err(AwsError::new(
            "TooManyEntriesInBatchRequest",
            400,
            format!("Maximum number of entries per request are {MAX_BATCH}. You have sent {n}."),
        ));
    }
    let mut seen = HashSet::new();
    for id in ids {
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
    Ok(())
}

fn batch_failure(id: String, e: &AwsError) -> types::BatchResultErrorEntry {
    types::BatchResultErrorEntry {
        id,
        sender_fault: e.status < 500,
        code: query_code(e.code).to_owned(),
        message: Some(e.message.clone()),
    }
}

/// The queue a request's `QueueUrl` names.
fn queue(app: &Sqs, url: &str) -> Result<QueueDoc, AwsError> {
    let name = queues::name_from_url(url, &app.cfg.account_id)?;
    queues::lookup(app, &name).ok_or_else(queue_not_found)
}

// ------------------------------------------------------------------------------------------
// operations

/// Serves operation `name` on its typed input. The answer is the operation's output structure
/// in its JSON form, which the query protocol renders as XML; `None` for an operation the
/// model gives no output.
async fn dispatch(
    app: &Sqs,
    base: &str,
    name: &str,
    mut req: Map<String, Value>,
) -> Result<Option<Value>, AwsError> {
    use model::Operation as O;
    let Some(op) = O::from_name(name) else {
        return Err(AwsError::new(
            "UnknownOperationException",
            400,
            format!("The action {name} is not valid for this endpoint."),
        ));
    };
    if let Some(shape) = op.input() {
        coerce_members(shape, &mut req);
    }
    let req = &req;
    Ok(match op {
        O::CreateQueue => Some(output(&create_queue(app, base, input(op, req)?).await?)),
        O::GetQueueUrl => Some(output(&get_queue_url(app, base, input(op, req)?)?)),
        O::GetQueueAttributes => Some(output(&get_queue_attributes(app, input(op, req)?)?)),
        O::SetQueueAttributes => {
            set_queue_attributes(app, input(op, req)?).await?;
            None
        }
        O::ListQueues => Some(output(&list_queues(app, base, input(op, req)?)?)),
        O::DeleteQueue => {
            delete_queue(app, input(op, req)?).await?;
            None
        }
        O::PurgeQueue => {
            purge_queue(app, input(op, req)?).await?;
            None
        }
        O::SendMessage => Some(output(&send_message(app, input(op, req)?).await?)),
        O::SendMessageBatch => Some(output(&send_message_batch(app, input(op, req)?).await?)),
        O::ReceiveMessage => Some(output(&receive_message(app, input(op, req)?).await?)),
        O::DeleteMessage => {
            delete_message(app, input(op, req)?).await?;
            None
        }
        O::DeleteMessageBatch => Some(output(&delete_message_batch(app, input(op, req)?).await?)),
        O::ChangeMessageVisibility => {
            change_message_visibility(app, input(op, req)?).await?;
            None
        }
        O::ChangeMessageVisibilityBatch => Some(output(
            &change_message_visibility_batch(app, input(op, req)?).await?,
        )),
        O::TagQueue => {
            tag_queue(app, input(op, req)?).await?;
            None
        }
        O::UntagQueue => {
            untag_queue(app, input(op, req)?).await?;
            None
        }
        O::ListQueueTags => Some(output(&list_queue_tags(app, input(op, req)?)?)),
        O::ListDeadLetterSourceQueues => Some(output(&list_dead_letter_source_queues(
            app,
            base,
            input(op, req)?,
        )?)),
        O::AddPermission
        | O::RemovePermission
        | O::StartMessageMoveTask
        | O::CancelMessageMoveTask
        | O::ListMessageMoveTasks => return Err(unsupported(name)),
    })
}

async fn create_queue(
    app: &Sqs,
    base: &str,
    input: types::CreateQueueRequest,
) -> Result<types::CreateQueueResult, AwsError> {
    let name = input.queue_name;
    let given = input.attributes.unwrap_or_default();
    let tags = input.tags.unwrap_or_default();
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
    Ok(types::CreateQueueResult {
        queue_url: Some(url),
    })
}

fn get_queue_url(
    app: &Sqs,
    base: &str,
    input: types::GetQueueUrlRequest,
) -> Result<types::GetQueueUrlResult, AwsError> {
    let name = input.queue_name.as_str();
    if let Some(owner) = &input.queue_owner_aws_account_id {
        if *owner != app.cfg.account_id {
            return Err(queue_not_found());
        }
    }
    queues::lookup(app, name).ok_or_else(queue_not_found)?;
    Ok(types::GetQueueUrlResult {
        queue_url: Some(queues::url(base, &app.cfg.account_id, name)),
    })
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

fn get_queue_attributes(
    app: &Sqs,
    input: types::GetQueueAttributesRequest,
) -> Result<types::GetQueueAttributesResult, AwsError> {
    let q = queue(app, &input.queue_url)?;
    let names = input.attribute_names.unwrap_or_default();
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
        return Ok(types::GetQueueAttributesResult::default());
    }
    let mut all = all_attributes(app, &q)?;
    let picked: BTreeMap<String, String> = if names.iter().any(|n| n == "All") {
        all
    } else {
        names
            .into_iter()
            .filter_map(|n| all.remove(&n).map(|v| (n, v)))
            .collect()
    };
    Ok(types::GetQueueAttributesResult {
        attributes: (!picked.is_empty()).then_some(picked),
    })
}

async fn set_queue_attributes(
    app: &Sqs,
    input: types::SetQueueAttributesRequest,
) -> Result<(), AwsError> {
    let q = queue(app, &input.queue_url)?;
    let changes = {
        let cat = app.store.catalog();
        queues::validate_attrs(&app.cfg, &cat, &input.attributes, q.fifo(), false)?
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
        .await
}

/// Pages of names: `NextToken` is the last name of the previous page, URL-safe base64.
fn page(
    names: Vec<String>,
    max: Option<i32>,
    next_token: Option<&str>,
) -> Result<(Vec<String>, Option<String>), AwsError> {
    if let Some(m) = max {
        if !(1..=1000).contains(&m) {
            return Err(invalid_param(format!(
                "Value {m} for parameter MaxResults is invalid. Reason: MaxResults must be an \
                 integer between 1 and 1000."
            )));
        }
    }
    let after = match next_token {
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

fn list_queues(
    app: &Sqs,
    base: &str,
    input: types::ListQueuesRequest,
) -> Result<types::ListQueuesResult, AwsError> {
    let prefix = input.queue_name_prefix.unwrap_or_default();
    let mut names: Vec<String> = queues::all(app)
        .into_iter()
        .map(|q| q.name)
        .filter(|n| n.starts_with(&prefix))
        .collect();
    names.sort();
    let (page, token) = page(names, input.max_results, input.next_token.as_deref())?;
    let urls: Vec<String> = page
        .iter()
        .map(|n| queues::url(base, &app.cfg.account_id, n))
        .collect();
    Ok(types::ListQueuesResult {
        queue_urls: (!urls.is_empty()).then_some(urls),
        next_token: token,
    })
}

async fn delete_queue(app: &Sqs, input: types::DeleteQueueRequest) -> Result<(), AwsError> {
    let q = queue(app, &input.queue_url)?;
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
    Ok(())
}

async fn purge_queue(app: &Sqs, input: types::PurgeQueueRequest) -> Result<(), AwsError> {
    let q = queue(app, &input.queue_url)?;
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
        .await
}

impl From<MessageAttributeValue> for types::MessageAttributeValue {
    fn from(v: MessageAttributeValue) -> Self {
        let binary = v.is_binary();
        types::MessageAttributeValue {
            binary_value: binary.then(|| Blob(v.binary_value.unwrap_or_default())),
            string_value: (!binary).then(|| v.string_value.unwrap_or_default()),
            data_type: v.data_type,
            ..Default::default()
        }
    }
}

/// Message attributes as SendMessage takes them, validated as SQS validates them.
fn parse_message_attributes(
    given: Option<&BTreeMap<String, types::MessageAttributeValue>>,
) -> Result<BTreeMap<String, MessageAttributeValue>, AwsError> {
    let Some(m) = given else {
        return Ok(BTreeMap::new());
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
        let data_type = value.data_type.as_str();
        if data_type.is_empty() {
            return Err(invalid_param(format!(
                "Message (user) attribute '{name}' must contain a non-empty message attribute \
                 type."
            )));
        }
        let base = data_type.split('.').next().unwrap_or_default();
        let attr = match base {
            "String" | "Number" => {
                let s = value
                    .string_value
                    .as_deref()
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
                    .binary_value
                    .as_ref()
                    .filter(|b| !b.0.is_empty())
                    .ok_or_else(|| {
                        invalid_param(format!(
                            "Message (user) attribute '{name}' must contain a non-empty value of \
                             type 'Binary'."
                        ))
                    })?;
                MessageAttributeValue {
                    data_type: data_type.to_owned(),
                    string_value: None,
                    binary_value: Some(b.0.clone()),
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
fn parse_system_attributes(
    given: Option<&BTreeMap<String, types::MessageSystemAttributeValue>>,
) -> Result<Option<String>, AwsError> {
    let mut trace = None;
    for (name, value) in given.into_iter().flatten() {
        if name != "AWSTraceHeader" {
            return Err(invalid_param(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        let s = value
            .string_value
            .as_deref()
            .filter(|s| !s.is_empty())
            .filter(|_| value.data_type == "String")
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

/// Validates one message of SendMessage (or one SendMessageBatch entry, read as one) for queue
/// `q`.
fn prepare(app: &Sqs, q: &QueueDoc, m: types::SendMessageRequest) -> Result<Outgoing, AwsError> {
    let body = m.message_body;
    if body.is_empty() {
        return Err(missing_param("MessageBody"));
    }
    check_body_chars(&body)?;
    let attrs = parse_message_attributes(m.message_attributes.as_ref())?;
    let trace_header = parse_system_attributes(m.message_system_attributes.as_ref())?;
    let size = messages::message_size(&body, &attrs);
    if size > q.max_message_size() {
        return Err(invalid_param(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
            q.max_message_size()
        )));
    }
    let delay = m.delay_seconds.map(i64::from);
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
    let group_id = m.message_group_id;
    let mut dedup_id = m.message_deduplication_id;
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
        body,
        attrs,
        trace_header,
        delay_s: delay.unwrap_or_else(|| q.delay_s()),
        group_id,
        dedup_id,
        sender_id: app.cfg.account_id.clone(),
        dlq_source_arn: None,
    })
}

/// A SendMessageBatch entry: its id, and its message as SendMessage takes one.
fn batch_message(e: types::SendMessageBatchRequestEntry) -> (String, types::SendMessageRequest) {
    let message = types::SendMessageRequest {
        queue_url: String::new(),
        message_body: e.message_body,
        delay_seconds: e.delay_seconds,
        message_attributes: e.message_attributes,
        message_system_attributes: e.message_system_attributes,
        message_deduplication_id: e.message_deduplication_id,
        message_group_id: e.message_group_id,
    };
    (e.id, message)
}

async fn send_message(
    app: &Sqs,
    input: types::SendMessageRequest,
) -> Result<types::SendMessageResult, AwsError> {
    let q = queue(app, &input.queue_url)?;
    let out = prepare(app, &q, input)?;
    let sent = messages::enqueue(app, &q, vec![out]).await?;
    let s = sent
        .into_iter()
        .next()
        .ok_or_else(|| AwsError::internal("message not enqueued"))?;
    Ok(types::SendMessageResult {
        md5_of_message_body: Some(s.md5_body),
        md5_of_message_attributes: s.md5_attrs,
        md5_of_message_system_attributes: s.md5_system,
        message_id: Some(s.message_id),
        sequence_number: s.sequence,
    })
}

async fn send_message_batch(
    app: &Sqs,
    input: types::SendMessageBatchRequest,
) -> Result<types::SendMessageBatchResult, AwsError> {
    let q = queue(app, &input.queue_url)?;
    check_entries(
        input.entries.iter().map(|e| e.id.as_str()),
        "SendMessageBatchRequestEntry",
    )?;
    let total: usize = input
        .entries
        .iter()
        .map(|e| {
            let attrs = parse_message_attributes(e.message_attributes.as_ref()).unwrap_or_default();
            messages::message_size(&e.message_body, &attrs)
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
    for (id, message) in input.entries.into_iter().map(batch_message) {
        match prepare(app, &q, message) {
            Ok(o) => {
                ids.push(id);
                outgoing.push(o);
            }
            Err(err) => failed.push(batch_failure(id, &err)),
        }
    }
    let sent = messages::enqueue(app, &q, outgoing).await?;
    let successful = ids
        .into_iter()
        .zip(sent)
        .map(|(id, s)| types::SendMessageBatchResultEntry {
            id,
            message_id: s.message_id,
            md5_of_message_body: s.md5_body,
            md5_of_message_attributes: s.md5_attrs,
            md5_of_message_system_attributes: s.md5_system,
            sequence_number: s.sequence,
        })
        .collect();
    Ok(types::SendMessageBatchResult { successful, failed })
}

fn render_message(
    q: &QueueDoc,
    r: &Received,
    system: &[String],
    wanted_attrs: &[String],
) -> types::Message {
    let m = &r.msg;
    let mut attrs = BTreeMap::new();
    if !system.is_empty() {
        let all = system.iter().any(|n| n == "All");
        let want = |n: &str| all || system.iter().any(|s| s == n);
        let mut put = |name: &str, value: Option<String>| {
            if let Some(v) = value.filter(|_| want(name)) {
                attrs.insert(name.to_owned(), v);
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
    let md5_of_message_attributes = md5_of_attributes(&selected);
    types::Message {
        message_id: Some(m.id.clone()),
        receipt_handle: Some(r.receipt_handle.clone()),
        md5_of_body: Some(md5_hex(m.body.as_bytes())),
        body: Some(m.body.clone()),
        attributes: (!attrs.is_empty()).then_some(attrs),
        message_attributes: md5_of_message_attributes
            .is_some()
            .then(|| selected.into_iter().map(|(k, v)| (k, v.into())).collect()),
        md5_of_message_attributes,
    }
}

async fn receive_message(
    app: &Sqs,
    input: types::ReceiveMessageRequest,
) -> Result<types::ReceiveMessageResult, AwsError> {
    let q = queue(app, &input.queue_url)?;
    let max = input.max_number_of_messages.map_or(1, i64::from);
    if !(1..=10).contains(&max) {
        return Err(invalid_param(format!(
            "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 \
             and 10, if provided."
        )));
    }
    let visibility = input.visibility_timeout.map(i64::from);
    if let Some(v) = visibility {
        if !(0..=43_200).contains(&v) {
            return Err(invalid_param(format!(
                "Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and \
                 <= 43200, if provided."
            )));
        }
    }
    let wait = input
        .wait_time_seconds
        .map_or_else(|| q.wait_s(), i64::from);
    if !(0..=20).contains(&wait) {
        return Err(invalid_param(format!(
            "Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= \
             20, if provided."
        )));
    }
    // System attribute names (`All` expands), from both the deprecated `AttributeNames` and
    // `MessageSystemAttributeNames`.
    let mut system = input.attribute_names.unwrap_or_default();
    system.extend(input.message_system_attribute_names.unwrap_or_default());
    let wanted_attrs = input.message_attribute_names.unwrap_or_default();
    let received = messages::receive(app, &q.name, max as usize, visibility, wait).await?;
    let msgs = received
        .iter()
        .map(|r| render_message(&q, r, &system, &wanted_attrs))
        .collect();
    Ok(types::ReceiveMessageResult {
        messages: Some(msgs),
    })
}

async fn delete_message(app: &Sqs, input: types::DeleteMessageRequest) -> Result<(), AwsError> {
    let q = queue(app, &input.queue_url)?;
    let handle = input.receipt_handle;
    if handle.is_empty() {
        return Err(missing_param("ReceiptHandle"));
    }
    let mut results = messages::delete(app, &q, vec![handle]).await?;
    results.pop().unwrap_or(Ok(()))
}

async fn delete_message_batch(
    app: &Sqs,
    input: types::DeleteMessageBatchRequest,
) -> Result<types::DeleteMessageBatchResult, AwsError> {
    let q = queue(app, &input.queue_url)?;
    check_entries(
        input.entries.iter().map(|e| e.id.as_str()),
        "DeleteMessageBatchRequestEntry",
    )?;
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut handles = Vec::new();
    for e in input.entries {
        if e.receipt_handle.is_empty() {
            failed.push(batch_failure(e.id, &missing_param("ReceiptHandle")));
        } else {
            ids.push(e.id);
            handles.push(e.receipt_handle);
        }
    }
    let results = messages::delete(app, &q, handles).await?;
    let (ok, failed) = batch_outcome(ids, results, failed);
    Ok(types::DeleteMessageBatchResult {
        successful: ok
            .into_iter()
            .map(|id| types::DeleteMessageBatchResultEntry { id })
            .collect(),
        failed,
    })
}

/// The outcome of DeleteMessageBatch / ChangeMessageVisibilityBatch: the ids of the entries the
/// store operation took, and the failures, after the entries that already failed validation.
fn batch_outcome(
    ids: Vec<String>,
    results: Vec<Result<(), AwsError>>,
    mut failed: Vec<types::BatchResultErrorEntry>,
) -> (Vec<String>, Vec<types::BatchResultErrorEntry>) {
    let mut successful = Vec::new();
    for (id, r) in ids.into_iter().zip(results) {
        match r {
            Ok(()) => successful.push(id),
            Err(err) => failed.push(batch_failure(id, &err)),
        }
    }
    (successful, failed)
}

fn visibility_timeout(v: Option<i32>) -> Result<i64, AwsError> {
    let v = v
        .map(i64::from)
        .ok_or_else(|| missing_param("VisibilityTimeout"))?;
    if !(0..=43_200).contains(&v) {
        return Err(invalid_param(format!(
            "Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and \
             43200, if provided."
        )));
    }
    Ok(v)
}

async fn change_message_visibility(
    app: &Sqs,
    input: types::ChangeMessageVisibilityRequest,
) -> Result<(), AwsError> {
    let q = queue(app, &input.queue_url)?;
    let handle = input.receipt_handle;
    if handle.is_empty() {
        return Err(missing_param("ReceiptHandle"));
    }
    let vt = visibility_timeout(Some(input.visibility_timeout))?;
    let mut results = messages::change_visibility(app, &q, vec![(handle, vt)]).await?;
    results.pop().unwrap_or(Ok(()))
}

async fn change_message_visibility_batch(
    app: &Sqs,
    input: types::ChangeMessageVisibilityBatchRequest,
) -> Result<types::ChangeMessageVisibilityBatchResult, AwsError> {
    let q = queue(app, &input.queue_url)?;
    check_entries(
        input.entries.iter().map(|e| e.id.as_str()),
        "ChangeMessageVisibilityBatchRequestEntry",
    )?;
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut changes = Vec::new();
    for e in input.entries {
        let parsed = if e.receipt_handle.is_empty() {
            Err(missing_param("ReceiptHandle"))
        } else {
            visibility_timeout(e.visibility_timeout)
        };
        match parsed {
            Ok(vt) => {
                ids.push(e.id);
                changes.push((e.receipt_handle, vt));
            }
            Err(err) => failed.push(batch_failure(e.id, &err)),
        }
    }
    let results = messages::change_visibility(app, &q, changes).await?;
    let (ok, failed) = batch_outcome(ids, results, failed);
    Ok(types::ChangeMessageVisibilityBatchResult {
        successful: ok
            .into_iter()
            .map(|id| types::ChangeMessageVisibilityBatchResultEntry { id })
            .collect(),
        failed,
    })
}

async fn tag_queue(app: &Sqs, input: types::TagQueueRequest) -> Result<(), AwsError> {
    let tags = input.tags;
    change_tags(app, &input.queue_url, move |t| t.extend(tags.clone())).await
}

async fn untag_queue(app: &Sqs, input: types::UntagQueueRequest) -> Result<(), AwsError> {
    let keys = input.tag_keys;
    change_tags(app, &input.queue_url, move |t| {
        for k in &keys {
            t.remove(k);
        }
    })
    .await
}

/// Applies `edit` to the tags of the queue `url` names.
async fn change_tags(
    app: &Sqs,
    url: &str,
    edit: impl Fn(&mut BTreeMap<String, String>) + Send + 'static,
) -> Result<(), AwsError> {
    let q = queue(app, url)?;
    app.store
        .write(move |tx| {
            let mut doc = queues::lookup_in(tx.catalog(), &q.name)
                .filter(|d| d.id == q.id)
                .ok_or_else(queue_not_found)?;
            edit(&mut doc.tags);
            let value =
                serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(QUEUE_KIND, &doc.name, value)
        })
        .await
}

fn list_queue_tags(
    app: &Sqs,
    input: types::ListQueueTagsRequest,
) -> Result<types::ListQueueTagsResult, AwsError> {
    let q = queue(app, &input.queue_url)?;
    Ok(types::ListQueueTagsResult { tags: Some(q.tags) })
}

fn list_dead_letter_source_queues(
    app: &Sqs,
    base: &str,
    input: types::ListDeadLetterSourceQueuesRequest,
) -> Result<types::ListDeadLetterSourceQueuesResult, AwsError> {
    let q = queue(app, &input.queue_url)?;
    let arn = queues::arn(&app.cfg, &q.name);
    let mut names: Vec<String> = queues::all(app)
        .into_iter()
        .filter(|s| s.dead_letter_target().as_deref() == Some(arn.as_str()))
        .map(|s| s.name)
        .collect();
    names.sort();
    let (page, token) = page(names, input.max_results, input.next_token.as_deref())?;
    Ok(types::ListDeadLetterSourceQueuesResult {
        queue_urls: page
            .iter()
            .map(|n| queues::url(base, &app.cfg.account_id, n))
            .collect(),
        next_token: token,
    })
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
    let message = types::SendMessageRequest {
        message_body: d.body,
        message_attributes: (!d.attributes.is_empty()).then(|| {
            d.attributes
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect()
        }),
        message_group_id: d.group_id,
        message_deduplication_id: d.dedup_id,
        // The queue is `q`; a delivery sets no delay or system attributes.
        ..Default::default()
    };
    let out = prepare(app, &q, message)?;
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

    /// Message attributes as a request's JSON gives them.
    fn attributes(v: Value) -> BTreeMap<String, types::MessageAttributeValue> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn message_attribute_validation() {
        let ok = attributes(json!({"n": {"DataType": "Number", "StringValue": "1.5"}}));
        assert!(parse_message_attributes(Some(&ok)).is_ok());
        let empty = attributes(json!({"ErrorDetails": {"DataType": "String", "StringValue": ""}}));
        assert_eq!(
            parse_message_attributes(Some(&empty)).unwrap_err().message,
            "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type \
             'String'."
        );
        let bad_type = attributes(json!({"x": {"DataType": "Date", "StringValue": "today"}}));
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

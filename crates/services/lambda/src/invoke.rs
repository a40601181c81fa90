//! Invoke: `RequestResponse`, `Event` (queued, retried twice on function errors like Lambda's
//! asynchronous invocation) and `DryRun`; payload and client-context limits; throttles.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};
use tributary_functions::{HostError, InvokeRequest, InvokeResult};
use tributary_model::AwsError;

use super::{resolve, FunctionDoc, Target};
use crate::Lambda;
use tributary_service::json::{constraint, lambda_err};

/// Largest request payload of a synchronous invocation.
const MAX_SYNC_PAYLOAD: usize = 6_291_456;
/// Largest request payload of an asynchronous (`Event`) invocation.
const MAX_ASYNC_PAYLOAD: usize = 1_048_576;
/// Largest `X-Amz-Client-Context` (base64 text).
const MAX_CLIENT_CONTEXT: usize = 3583;
/// Lambda retries a failed asynchronous invocation twice: one minute, then two minutes later.
const ASYNC_RETRY_DELAYS_MS: [i64; 2] = [60_000, 120_000];
/// How long a throttled (or otherwise not executed) asynchronous event is kept retrying.
const MAX_EVENT_AGE_MS: i64 = 6 * 3600 * 1000;
/// First and largest wait between attempts of an event that could not run.
const EVENT_BACKOFF_FIRST_MS: i64 = 1000;
const EVENT_BACKOFF_MAX_MS: i64 = 300_000;
/// `Retry-After` of a throttled invocation, in seconds.
const RETRY_AFTER_SECS: &str = "1";

/// The function-side error of an invocation that did not run: the AWS error to answer.
fn host_error(e: HostError) -> AwsError {
    match e {
        HostError::Throttled(reason) => {
            AwsError::new("TooManyRequestsException", 429, "Rate Exceeded.")
                .with_extra("Reason", json!(reason.as_str()))
        }
        other => lambda_err::service(other.to_string()),
    }
}

/// Adds `Retry-After` to a throttle's error response.
pub fn error_response(e: &AwsError) -> axum::response::Response {
    let mut r = tributary_service::json::rest_error(e);
    if e.code == "TooManyRequestsException" {
        r.headers_mut().insert(
            "retry-after",
            http::HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    r
}

/// The version an invocation of `target` runs (an alias may route it to an additional
/// version) and the configuration it runs with (the previous one while an update settles).
fn choose(app: &Lambda, target: &Target) -> Result<FunctionDoc, AwsError> {
    let doc = match &target.alias {
        Some(alias) => {
            let version = alias.pick_version();
            if version == target.doc.version {
                target.doc.clone()
            } else if version == "$LATEST" {
                target.function.clone()
            } else {
                FunctionDoc::load_version(app, &target.function.name, version).ok_or_else(|| {
                    lambda_err::not_found(format!(
                        "Function not found: {}:{version}",
                        target.function.arn(app)
                    ))
                })?
            }
        }
        None => target.doc.clone(),
    };
    app.state.runnable(&doc)
}

impl Lambda {
    /// Invokes a function version synchronously (Invoke and event source mappings).
    pub async fn invoke_function(
        &self,
        doc: &FunctionDoc,
        invoked_arn: String,
        payload: Bytes,
        client_context: Option<String>,
        want_log_tail: bool,
    ) -> Result<InvokeResult, AwsError> {
        let spec = self.function_spec(doc).await?;
        let now = self.store.clock().now_millis();
        let metrics = self
            .metrics
            .invocation(&doc.name, &invoked_arn, &doc.version, now);
        let result = self
            .host
            .invoke(
                spec,
                InvokeRequest {
                    payload,
                    invoked_arn,
                    client_context,
                    want_log_tail,
                },
            )
            .await;
        metrics.finish(&result);
        result.map_err(host_error)
    }
}

/// Invokes the function an event source mapping names (any qualifier) synchronously. Errors
/// are AWS's: `TooManyRequestsException` for a throttle, `ResourceNotFoundException`,
/// `ResourceConflictException` while the function is not ready, `ServiceException`.
pub async fn invoke_for_mapping(
    app: &Lambda,
    function_arn: &str,
    payload: Vec<u8>,
) -> Result<InvokeResult, AwsError> {
    let target = resolve(app, function_arn, None)?;
    let doc = choose(app, &target)?;
    app.invoke_function(&doc, function_arn.to_owned(), payload.into(), None, false)
        .await
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn too_large(limit: usize) -> AwsError {
    AwsError::new(
        "RequestTooLargeException",
        413,
        format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
    )
}

fn bad_content(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidRequestContentException", 400, message)
}

/// `POST /2015-03-31/functions/{name}/invocations`.
pub async fn invoke(
    app: &Lambda,
    name: &str,
    query: &BTreeMap<String, String>,
    headers: &http::HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, AwsError> {
    let invocation_type =
        header(headers, "x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".into());
    let log_type = header(headers, "x-amz-log-type").unwrap_or_else(|| "None".into());
    if !matches!(
        invocation_type.as_str(),
        "RequestResponse" | "Event" | "DryRun"
    ) {
        return Err(constraint(
            &Value::String(invocation_type),
            "invocationType",
            "Member must satisfy enum value set: [RequestResponse, Event, DryRun]",
        ));
    }
    if !matches!(log_type.as_str(), "None" | "Tail") {
        return Err(constraint(
            &Value::String(log_type),
            "logType",
            "Member must satisfy enum value set: [None, Tail]",
        ));
    }
    let target = resolve(app, name, query.get("Qualifier").map(String::as_str))?;
    let limit = if invocation_type == "Event" {
        MAX_ASYNC_PAYLOAD
    } else {
        MAX_SYNC_PAYLOAD
    };
    if body.len() > limit {
        return Err(too_large(limit));
    }
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
            return Err(bad_content(format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            )));
        }
        body
    };
    let client_context = match header(headers, "x-amz-client-context") {
        Some(b64) if b64.len() > MAX_CLIENT_CONTEXT => {
            return Err(bad_content(format!(
                "Client context must be smaller than {MAX_CLIENT_CONTEXT} bytes."
            )))
        }
        Some(b64) => Some(
            B64.decode(b64.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|s| serde_json::from_str::<Value>(s).is_ok_and(|v| v.is_object()))
                .ok_or_else(|| {
                    bad_content("Client context must be a valid Base64-encoded JSON object.")
                })?,
        ),
        None => None,
    };
    let invoked_arn = target.shown_arn(app);
    let empty = |status: http::StatusCode| {
        let mut r = axum::response::Response::new(axum::body::Body::empty());
        *r.status_mut() = status;
        r
    };
    let mut resp = match invocation_type.as_str() {
        "DryRun" => {
            choose(app, &target)?;
            empty(http::StatusCode::NO_CONTENT)
        }
        "Event" => {
            let doc = choose(app, &target)?;
            // Lambda passes the client context to synchronous invocations only.
            let qualifier = target.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
            enqueue(app, doc, invoked_arn, payload, qualifier).await?;
            empty(http::StatusCode::ACCEPTED)
        }
        _ => {
            let doc = choose(app, &target)?;
            let out = app
                .invoke_function(
                    &doc,
                    invoked_arn,
                    payload,
                    client_context,
                    log_type == "Tail",
                )
                .await?;
            let mut r = axum::response::Response::new(axum::body::Body::from(out.payload));
            let h = r.headers_mut();
            h.insert(
                "content-type",
                http::HeaderValue::from_static("application/json"),
            );
            if let Some(fe) = out.function_error {
                if let Ok(v) = http::HeaderValue::from_str(&fe) {
                    h.insert("x-amz-function-error", v);
                }
            }
            if let Some(tail) = out.log_tail {
                if let Ok(v) = http::HeaderValue::from_str(&B64.encode(tail.as_bytes())) {
                    h.insert("x-amz-log-result", v);
                }
            }
            if let Ok(v) = http::HeaderValue::from_str(&out.executed_version) {
                h.insert("x-amz-executed-version", v);
            }
            // As on AWS, the response's request id is the invocation's.
            if let Ok(v) = http::HeaderValue::from_str(&out.request_id) {
                h.insert("x-amzn-requestid", v);
            }
            r
        }
    };
    if !resp.headers().contains_key("x-amzn-requestid") {
        if let Ok(id) = http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            resp.headers_mut().insert("x-amzn-requestid", id);
        }
    }
    Ok(resp)
}

/// Where queued asynchronous events are kept until their outcome is known, so a restart runs
/// them (as Lambda's own event queue does); keyed by the time queued and a fresh id. The
/// progress (small, rewritten before each wait) and the payload (up to 1 MB, written once and
/// read for each attempt, so a waiting event holds no payload in memory) are kept apart.
const EVENT_SPACE: &str = "lambda/events";
const EVENT_PAYLOADS: &str = "lambda/event-payloads";
/// At most this many events wait at once; more are refused as throttled.
const MAX_QUEUED_EVENTS: usize = 100_000;

/// One queued asynchronous event, as stored: what to invoke, and how far it got.
#[derive(serde::Serialize, serde::Deserialize)]
struct QueuedEvent {
    name: String,
    version: String,
    qualifier: String,
    invoked_arn: String,
    queued_at: i64,
    /// Function errors so far (each retried after one, then two minutes).
    failures: usize,
    attempts: usize,
    /// The next wait after an attempt that could not run.
    backoff: i64,
    last_request_id: String,
    /// When the next attempt is due (server clock).
    due_ms: i64,
}

/// Queues an asynchronous invocation of the version `doc` names. The event is stored before
/// the caller is answered, and runs in the background: a function error is retried (after one
/// and two minutes on the server clock; at most the event invoke config's
/// `MaximumRetryAttempts`, default 2), an invocation that could not run (throttled, not ready,
/// host trouble) is retried with backoff until the event is `MaximumEventAgeInSeconds` old
/// (default six hours). Each attempt runs the version as it is then (`$LATEST` may have been
/// updated meanwhile); an event of a deleted function is dropped. The outcome goes to the
/// config's `OnSuccess` / `OnFailure` destination as an invocation record, and a discarded
/// event also to the function's dead-letter queue. A restart resumes every stored event.
async fn enqueue(
    app: &Lambda,
    doc: FunctionDoc,
    invoked_arn: String,
    payload: Bytes,
    qualifier: String,
) -> Result<(), AwsError> {
    use std::sync::atomic::Ordering;
    let Some(app) = app.me.upgrade() else {
        return Err(lambda_err::service("The service is stopping."));
    };
    if app.queued_events.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED_EVENTS {
        app.queued_events.fetch_sub(1, Ordering::SeqCst);
        // Answered with `Retry-After`, as every throttle is (`error_response`).
        return Err(AwsError::new(
            "TooManyRequestsException",
            429,
            "Rate Exceeded.",
        ));
    }
    let now = app.store.clock().now_millis();
    let ev = QueuedEvent {
        name: doc.name,
        version: doc.version,
        qualifier,
        invoked_arn,
        queued_at: now,
        failures: 0,
        attempts: 0,
        backoff: EVENT_BACKOFF_FIRST_MS,
        last_request_id: uuid::Uuid::new_v4().to_string(),
        due_ms: now,
    };
    let mut key = (now.max(0) as u64).to_be_bytes().to_vec();
    key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    let stored = match serde_json::to_vec(&ev) {
        Ok(progress) => {
            let key = key.clone();
            app.store
                .write(move |tx| {
                    tx.kv_put(EVENT_PAYLOADS, &key, &payload)?;
                    tx.kv_put(EVENT_SPACE, &key, &progress)
                })
                .await
        }
        Err(e) => Err(lambda_err::service(e.to_string())),
    };
    if let Err(e) = stored {
        app.queued_events.fetch_sub(1, Ordering::SeqCst);
        return Err(e);
    }
    tokio::spawn(run_event(app, key, ev));
    Ok(())
}

/// Starts every event a previous run left queued.
pub(crate) fn resume_events(app: &Lambda) {
    use std::sync::atomic::Ordering;
    let Some(app) = app.me.upgrade() else {
        return;
    };
    let mut from: Option<Vec<u8>> = None;
    loop {
        let lower = match &from {
            Some(k) => std::ops::Bound::Excluded(k.as_slice()),
            None => std::ops::Bound::Unbounded,
        };
        let chunk =
            match app
                .store
                .kv_range(EVENT_SPACE, lower, std::ops::Bound::Unbounded, false, 1000)
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "reading the queued asynchronous events failed");
                    return;
                }
            };
        let Some((last, _)) = chunk.last() else {
            return;
        };
        from = Some(last.clone());
        for (key, value) in chunk {
            let ev: QueuedEvent = match serde_json::from_slice(&value) {
                Ok(ev) => ev,
                Err(e) => {
                    tracing::warn!(error = %e, "skipping an unreadable queued event");
                    continue;
                }
            };
            app.queued_events.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(run_event(app.clone(), key, ev));
        }
    }
}

/// Saves how far an event got (its payload is stored already).
async fn save_progress(app: &Lambda, key: &[u8], ev: &QueuedEvent) -> Result<(), AwsError> {
    let bytes = serde_json::to_vec(ev).map_err(|e| lambda_err::service(e.to_string()))?;
    let key = key.to_vec();
    app.store
        .write(move |tx| tx.kv_put(EVENT_SPACE, &key, &bytes))
        .await
}

/// Forgets an event whose outcome is known.
async fn finish_event(app: &Lambda, key: &[u8]) {
    use std::sync::atomic::Ordering;
    let key = key.to_vec();
    if let Err(e) = app
        .store
        .write(move |tx| {
            tx.kv_delete(EVENT_PAYLOADS, &key)?;
            tx.kv_delete(EVENT_SPACE, &key).map(|_| ())
        })
        .await
    {
        // It runs again after a restart: at least once, as on AWS.
        tracing::warn!(error = %e.message, "forgetting a finished asynchronous event failed");
    }
    app.queued_events.fetch_sub(1, Ordering::SeqCst);
}

/// Runs one queued event to its outcome (see [`enqueue`]), saving its progress before each
/// wait, and forgets it once the outcome is known. Boxed: an outcome may queue an event for
/// another function (a destination), whose run is this same future.
fn run_event(
    app: Arc<Lambda>,
    key: Vec<u8>,
    ev: QueuedEvent,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(run_event_to_end(app, key, ev))
}

async fn run_event_to_end(app: Arc<Lambda>, key: Vec<u8>, mut ev: QueuedEvent) {
    let clock = Arc::clone(app.store.clock());
    if !sleep_on_server_clock(&app, ev.due_ms).await {
        return;
    }
    loop {
        let payload = match app.store.kv_get(EVENT_PAYLOADS, &key) {
            Ok(Some(p)) => Bytes::from(p),
            Ok(None) => {
                tracing::warn!(function = %ev.name, "a queued event's payload is missing; discarded");
                finish_event(&app, &key).await;
                return;
            }
            Err(e) => {
                // Tried again after the backoff, as an attempt that could not run.
                tracing::warn!(function = %ev.name, error = %e, "reading a queued event's payload failed");
                let wait = ev.backoff;
                ev.backoff = (ev.backoff * 2).min(EVENT_BACKOFF_MAX_MS);
                if !sleep_on_server_clock(&app, clock.now_millis() + wait).await {
                    return;
                }
                continue;
            }
        };
        let current = if ev.version == "$LATEST" {
            FunctionDoc::load(&app, &ev.name)
        } else {
            FunctionDoc::load_version(&app, &ev.name, &ev.version)
        };
        let Some(current) = current else {
            tracing::info!(function = %ev.name, "function deleted; asynchronous event discarded");
            finish_event(&app, &key).await;
            return;
        };
        let config = crate::invoke_config::load(&app, &ev.name, &ev.qualifier).unwrap_or_default();
        let max_retries = config.maximum_retry_attempts.unwrap_or(2).max(0) as usize;
        let max_age_ms = config
            .maximum_event_age_secs
            .map_or(MAX_EVENT_AGE_MS, |s| s * 1000);
        let outcome = Outcome {
            app: &app,
            doc: &current,
            config: &config,
            payload: &payload,
        };
        // A retry is due a fixed time after its attempt started: counted from the start,
        // a clock moved while the failed attempt was still reporting its error counts too
        // (the function's runtime is negligible against the minutes between attempts).
        let started_ms = clock.now_millis();
        let attempt = match app.state.runnable(&current) {
            Ok(doc) => {
                app.invoke_function(&doc, ev.invoked_arn.clone(), payload.clone(), None, false)
                    .await
            }
            Err(e) => Err(e),
        };
        let wait_ms = match attempt {
            Ok(out) if out.function_error.is_none() => {
                ev.attempts += 1;
                outcome
                    .success(&out.request_id, ev.attempts, &out.payload)
                    .await;
                finish_event(&app, &key).await;
                return;
            }
            Ok(out) => {
                ev.attempts += 1;
                ev.last_request_id = out.request_id.clone();
                let delay = ASYNC_RETRY_DELAYS_MS.get(ev.failures).copied();
                let too_old = delay.is_some_and(|d| started_ms + d - ev.queued_at > max_age_ms);
                match delay {
                    Some(d) if ev.failures < max_retries && !too_old => {
                        ev.failures += 1;
                        d
                    }
                    _ => {
                        let condition = if too_old && ev.failures < max_retries {
                            "EventAgeExceeded"
                        } else {
                            "RetriesExhausted"
                        };
                        outcome
                            .failure(
                                &out.request_id,
                                condition,
                                ev.attempts,
                                out.function_error.as_deref(),
                                &out.payload,
                                "200",
                            )
                            .await;
                        finish_event(&app, &key).await;
                        return;
                    }
                }
            }
            Err(e) => {
                if clock.now_millis() - ev.queued_at > max_age_ms {
                    tracing::warn!(function = %ev.name, error = %e, "asynchronous event expired unprocessed");
                    outcome
                        .failure(
                            &ev.last_request_id,
                            "EventAgeExceeded",
                            ev.attempts,
                            None,
                            e.message.as_bytes(),
                            "429",
                        )
                        .await;
                    finish_event(&app, &key).await;
                    return;
                }
                let delay = ev.backoff;
                ev.backoff = (ev.backoff * 2).min(EVENT_BACKOFF_MAX_MS);
                delay
            }
        };
        ev.due_ms = started_ms + wait_ms;
        if let Err(e) = save_progress(&app, &key, &ev).await {
            // The stored copy is older: after a restart the event retries sooner than due.
            tracing::warn!(function = %ev.name, error = %e.message, "saving an asynchronous event's progress failed");
        }
        if !sleep_on_server_clock(&app, ev.due_ms).await {
            return;
        }
    }
}

/// Where the outcome of an asynchronous event goes.
struct Outcome<'a> {
    app: &'a Lambda,
    doc: &'a FunctionDoc,
    config: &'a crate::invoke_config::InvokeConfig,
    payload: &'a [u8],
}

impl Outcome<'_> {
    fn function_arn(&self) -> String {
        format!(
            "{}:{}",
            crate::function_arn_of(self.app, &self.doc.name),
            self.doc.version
        )
    }

    async fn success(&self, request_id: &str, attempts: usize, response: &[u8]) {
        let Some(dest) = &self.config.on_success else {
            return;
        };
        let arn = self.function_arn();
        let record = crate::invoke_config::Record {
            now_ms: self.app.store.clock().now_millis(),
            request_id,
            function_arn: &arn,
            condition: "Success",
            attempts,
            request: self.payload,
            executed_version: &self.doc.version,
            function_error: None,
            response,
        }
        .to_json();
        deliver(self.app, &self.doc.name, dest, record).await;
    }

    async fn failure(
        &self,
        request_id: &str,
        condition: &str,
        attempts: usize,
        function_error: Option<&str>,
        response: &[u8],
        status: &str,
    ) {
        if let Some(dest) = &self.config.on_failure {
            let arn = self.function_arn();
            let record = crate::invoke_config::Record {
                now_ms: self.app.store.clock().now_millis(),
                request_id,
                function_arn: &arn,
                condition,
                attempts,
                request: self.payload,
                executed_version: &self.doc.version,
                function_error,
                response: if function_error.is_some() {
                    response
                } else {
                    b""
                },
            }
            .to_json();
            deliver(self.app, &self.doc.name, dest, record).await;
        }
        let message = if function_error.is_some() {
            error_message(response)
        } else {
            String::from_utf8_lossy(response).into_owned()
        };
        dead_letter(
            self.app,
            self.doc,
            self.payload,
            request_id,
            status,
            &message,
        )
        .await;
    }
}

/// Sends an invocation record to a destination: a queue, a topic, or a function (invoked
/// asynchronously with the record as its event).
async fn deliver(app: &Lambda, function: &str, dest: &str, record: Value) {
    let body = record.to_string();
    let sent = match dest.split(':').nth(2) {
        Some("sqs") => app
            .queues
            .send(
                dest,
                tributary_service::peers::QueueMessage {
                    body,
                    ..Default::default()
                },
            )
            .await
            .map(|_| ()),
        Some("sns") => app.topics.publish(dest, body, None).await.map(|_| ()),
        Some("lambda") => match crate::resolve(app, dest, None) {
            Ok(target) => {
                let qualifier = target.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
                let arn = target.shown_arn(app);
                enqueue(app, target.doc, arn, Bytes::from(body), qualifier).await
            }
            Err(e) => Err(e),
        },
        _ => Err(AwsError::new(
            "InvalidParameterValueException",
            400,
            "unsupported destination",
        )),
    };
    match sent {
        Ok(()) => tracing::debug!(function, destination = dest, "invocation record delivered"),
        Err(e) => {
            tracing::warn!(function, destination = dest, error = %e.message, "the destination refused the invocation record")
        }
    }
}

/// The `errorMessage` of a function error's payload.
fn error_message(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// Sends a discarded asynchronous event to the function's dead-letter queue or topic, as
/// Lambda does: the event as the body, with `RequestID`, `ErrorCode` and `ErrorMessage`
/// attributes. `error_code` is the HTTP status of the
/// last attempt: 200 for a function error, 429 for an event that expired throttled.
async fn dead_letter(
    app: &Lambda,
    doc: &FunctionDoc,
    payload: &[u8],
    request_id: &str,
    error_code: &str,
    error_message: &str,
) {
    let Some(target) = &doc.dead_letter_target else {
        tracing::info!(function = %doc.name, request_id, "asynchronous invocation failed after 3 attempts; event discarded");
        return;
    };
    let body = String::from_utf8_lossy(payload).into_owned();
    use tributary_service::peers::{MessageAttributeValue, QueueMessage};
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert(
        "RequestID".into(),
        MessageAttributeValue::string("String", request_id),
    );
    attributes.insert(
        "ErrorCode".into(),
        MessageAttributeValue::string("Number", error_code),
    );
    if !error_message.is_empty() {
        attributes.insert(
            "ErrorMessage".into(),
            MessageAttributeValue::string("String", error_message),
        );
    }
    let sent = if target.split(':').nth(2) == Some("sqs") {
        app.queues
            .send(
                target,
                QueueMessage {
                    body,
                    attributes,
                    ..QueueMessage::default()
                },
            )
            .await
    } else {
        app.topics
            .publish_with_attributes(target, body, attributes)
            .await
    };
    match sent {
        Ok(_) => {
            tracing::info!(function = %doc.name, request_id, target, "asynchronous event sent to the dead-letter queue")
        }
        Err(e) => {
            tracing::warn!(function = %doc.name, request_id, target, error = %e.message, "the dead-letter queue refused the event; discarded")
        }
    }
}

/// Waits until the server clock reaches `due_ms` (real time passing, or the clock being moved
/// by `POST /_tributary/clock/advance`). False when the server is shutting down.
async fn sleep_on_server_clock(app: &Lambda, due_ms: i64) -> bool {
    tokio::select! {
        _ = app.background.cancelled() => false,
        _ = app.store.clock().sleep_until(due_ms) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_carry_their_reason_and_retry_after() {
        let e = host_error(HostError::Throttled(
            tributary_functions::ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded,
        ));
        assert_eq!(
            (e.code, e.status, e.message.as_str()),
            ("TooManyRequestsException", 429, "Rate Exceeded.")
        );
        assert_eq!(
            e.extra,
            vec![(
                "Reason",
                json!("ReservedFunctionConcurrentInvocationLimitExceeded")
            )]
        );
        let r = error_response(&e);
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "1");
    }

    #[test]
    fn payload_limits_name_the_operation() {
        assert_eq!(
            too_large(MAX_SYNC_PAYLOAD).message,
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
        );
    }
}

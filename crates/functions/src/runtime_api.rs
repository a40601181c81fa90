//! The Lambda Runtime API (2018-06-01) as served to one execution environment.
//!
//! The invoker and the HTTP handlers meet in [`RuntimeApi`]: the invoker *arms* a reply slot
//! with the request id and a oneshot, then queues a [`Job`]; `GET …/next` hands the job to the
//! runtime; `POST …/{id}/response|error` fire the oneshot. `POST /runtime/init/error` fires the
//! armed slot, or is kept for the first invocation when none is armed yet.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};
use tributary_model::Clock;

use crate::output::EnvOutput;

/// Largest response a runtime may post (6 MiB plus the 100 bytes of tolerance AWS allows).
pub const MAX_PAYLOAD_BYTES: usize = 6_291_556;

const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

/// One event waiting for the runtime's `GET …/next`.
pub(crate) struct Job {
    pub request_id: String,
    pub payload: Bytes,
    pub invoked_arn: String,
    pub client_context: Option<String>,
    pub trace_id: String,
    /// Fired when the runtime has taken the event.
    pub dispatched: oneshot::Sender<Dispatch>,
}

/// When the runtime took the event (its timeout starts there).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dispatch {
    pub at: Instant,
}

/// How the runtime answered an invocation.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `POST …/response`: the function result.
    Response(Bytes),
    /// `POST …/error`: the error document (normalized to JSON).
    Error(Bytes),
    /// `POST /runtime/init/error`: the environment failed to initialize.
    InitError(Bytes),
    /// The posted response was larger than [`MAX_PAYLOAD_BYTES`].
    TooLarge,
}

#[derive(Default)]
struct Slot {
    request_id: Option<String>,
    reply: Option<oneshot::Sender<Outcome>>,
    /// The runtime took an event with `/next` and has not answered it yet.
    in_flight: bool,
    /// An init error that arrived while no invocation was armed.
    init_error: Option<Bytes>,
}

/// State shared between one environment's Runtime API handlers and its invoker.
pub(crate) struct RuntimeApi {
    jobs: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    slot: Mutex<Slot>,
    clock: Arc<dyn Clock>,
    timeout_ms: i64,
    output: Arc<EnvOutput>,
    /// When the runtime first asked for an event: the end of its init phase.
    init_done: OnceLock<Instant>,
    first_next_seen: AtomicBool,
}

fn lock(m: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RuntimeApi {
    pub(crate) fn new(
        jobs: mpsc::Receiver<Job>,
        clock: Arc<dyn Clock>,
        timeout_ms: i64,
        output: Arc<EnvOutput>,
    ) -> Arc<Self> {
        Arc::new(RuntimeApi {
            jobs: tokio::sync::Mutex::new(jobs),
            slot: Mutex::new(Slot::default()),
            clock,
            timeout_ms,
            output,
            init_done: OnceLock::new(),
            first_next_seen: AtomicBool::new(false),
        })
    }

    /// Prepares for the invocation `request_id`; its answer will arrive on `reply`. A pending
    /// init error answers at once.
    pub(crate) fn arm(&self, request_id: &str, reply: oneshot::Sender<Outcome>) {
        let mut slot = lock(&self.slot);
        if let Some(body) = slot.init_error.take() {
            let _ = reply.send(Outcome::InitError(body));
            return;
        }
        slot.request_id = Some(request_id.to_string());
        slot.reply = Some(reply);
        slot.in_flight = false;
    }

    /// Forgets the current invocation; later posts for it get `InvalidRequestID`.
    pub(crate) fn disarm(&self) {
        let mut slot = lock(&self.slot);
        slot.request_id = None;
        slot.reply = None;
        slot.in_flight = false;
    }

    /// When the runtime finished initializing (its first `/next`), if it has.
    pub(crate) fn init_done(&self) -> Option<Instant> {
        self.init_done.get().copied()
    }

    /// The router for this environment's listener.
    pub(crate) fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .fallback(not_found)
            .with_state(Arc::clone(self))
    }
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

async fn not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "NotFound", "Not found")
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> Response {
    if lock(&api.slot).in_flight {
        return api_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "State transition from Ready to InvocationNext failed: the current invocation has not been answered",
        );
    }
    let job = {
        let mut jobs = api.jobs.lock().await;
        jobs.recv().await
    };
    let Some(job) = job else {
        // The environment is going away; a runtime should exit on 500.
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.ShuttingDown",
            "the environment is shutting down",
        );
    };
    if !api.first_next_seen.swap(true, Ordering::AcqRel) {
        // Put whatever the runtime printed during init before START.
        api.output.flush();
        let _ = api.init_done.set(Instant::now());
    }
    api.output.platform(crate::output::Platform::Start {
        request_id: &job.request_id,
    });
    let deadline_ms = api.clock.now_millis() + api.timeout_ms;
    {
        let mut slot = lock(&api.slot);
        if slot.request_id.as_deref() == Some(job.request_id.as_str()) && slot.reply.is_some() {
            slot.in_flight = true;
        }
    }
    let _ = job.dispatched.send(Dispatch { at: Instant::now() });

    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            if !value.is_empty() {
                headers.insert(name, v);
            }
        }
    };
    put("lambda-runtime-aws-request-id", &job.request_id);
    put("lambda-runtime-deadline-ms", &deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &job.invoked_arn);
    put("lambda-runtime-trace-id", &job.trace_id);
    if let Some(cc) = &job.client_context {
        put("lambda-runtime-client-context", cc);
    }
    (StatusCode::OK, headers, job.payload).into_response()
}

/// Reads a body, keeping at most `limit` bytes; the rest is read and dropped so the connection
/// stays usable. Returns `(body, too_large)`, or `None` if the body could not be read.
async fn read_limited(body: Body, limit: usize) -> Option<(Bytes, bool)> {
    let mut body = body;
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.ok()?.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > limit {
            first = None;
            rest = None;
            continue;
        }
        match (&mut first, &mut rest) {
            (None, None) => first = Some(data),
            (Some(f), None) => {
                let mut joined = BytesMut::with_capacity(f.len() + data.len());
                joined.extend_from_slice(f);
                joined.extend_from_slice(&data);
                first = None;
                rest = Some(joined);
            }
            (_, Some(r)) => r.extend_from_slice(&data),
        }
    }
    if total > limit {
        return Some((Bytes::new(), true));
    }
    let bytes = match (first, rest) {
        (Some(f), _) => f,
        (None, Some(r)) => r.freeze(),
        (None, None) => Bytes::new(),
    };
    Some((bytes, false))
}

/// Takes the reply sender of invocation `id`, or the API error to answer with.
/// Why a post for an invocation was refused.
enum Refusal {
    /// Not the current invocation's id.
    UnknownId,
    /// The current invocation was already answered.
    AlreadyAnswered,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::UnknownId => api_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestID",
                "Invalid request ID",
            ),
            Refusal::AlreadyAnswered => api_error(
                StatusCode::FORBIDDEN,
                "InvalidStateTransition",
                "State transition failed: the invocation has already been answered",
            ),
        }
    }
}

/// Takes the reply sender of invocation `id`.
fn take_reply(api: &RuntimeApi, id: &str) -> Result<oneshot::Sender<Outcome>, Refusal> {
    let mut slot = lock(&api.slot);
    if slot.request_id.as_deref() != Some(id) {
        return Err(Refusal::UnknownId);
    }
    let reply = slot.reply.take().ok_or(Refusal::AlreadyAnswered)?;
    slot.in_flight = false;
    Ok(reply)
}

/// What both answer endpoints do first: read the body (within the payload limit) and claim
/// the waiting invocation's reply slot; on a refusal, the response to send instead.
async fn body_and_reply(
    api: &RuntimeApi,
    id: &str,
    body: Body,
) -> Result<(Bytes, oneshot::Sender<Outcome>), Response> {
    let Some((bytes, too_large)) = read_limited(body, MAX_PAYLOAD_BYTES).await else {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "could not read the request body",
        ));
    };
    let reply = take_reply(api, id).map_err(|refusal| refusal.into_response())?;
    if too_large {
        let _ = reply.send(Outcome::TooLarge);
        return Err(api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "Exceeded maximum allowed payload size (6291556 bytes).",
        ));
    }
    Ok((bytes, reply))
}

async fn response(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let (bytes, reply) = match body_and_reply(&api, &id, body).await {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let _ = reply.send(Outcome::Response(bytes));
    accepted()
}

/// Makes the error document the invoker will see: the runtime's JSON object as posted, or one
/// built from the `Lambda-Runtime-Function-Error-Type` header and the body text.
fn error_document(headers: &HeaderMap, body: Bytes) -> Bytes {
    let header_type = headers
        .get(ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(mut doc)) => {
            if doc.contains_key("errorType") || header_type.is_none() {
                return body;
            }
            doc.insert("errorType".into(), header_type.unwrap_or_default().into());
            Bytes::from(serde_json::Value::Object(doc).to_string())
        }
        _ => {
            let doc = serde_json::json!({
                "errorMessage": String::from_utf8_lossy(&body),
                "errorType": header_type.unwrap_or("Runtime.Unknown"),
            });
            Bytes::from(doc.to_string())
        }
    }
}

async fn invocation_error(
    State(api): State<Arc<RuntimeApi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (bytes, reply) = match body_and_reply(&api, &id, body).await {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let _ = reply.send(Outcome::Error(error_document(&headers, bytes)));
    accepted()
}

async fn init_error(
    State(api): State<Arc<RuntimeApi>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some((bytes, _)) = read_limited(body, MAX_PAYLOAD_BYTES).await else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "could not read the request body",
        );
    };
    let doc = error_document(&headers, bytes);
    let mut slot = lock(&api.slot);
    match slot.reply.take() {
        Some(reply) => {
            slot.in_flight = false;
            let _ = reply.send(Outcome::InitError(doc));
        }
        None => slot.init_error = Some(doc),
    }
    accepted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents() {
        let mut headers = HeaderMap::new();
        let posted = Bytes::from_static(br#"{"errorMessage":"boom","errorType":"ValueError"}"#);
        assert_eq!(error_document(&headers, posted.clone()), posted);

        let built = error_document(&headers, Bytes::from_static(b"plain text"));
        let v: serde_json::Value = serde_json::from_slice(&built).unwrap();
        assert_eq!(v["errorType"], "Runtime.Unknown");
        assert_eq!(v["errorMessage"], "plain text");

        headers.insert(
            ERROR_TYPE_HEADER,
            HeaderValue::from_static("Function.Custom"),
        );
        let built = error_document(&headers, Bytes::from_static(br#"{"errorMessage":"x"}"#));
        let v: serde_json::Value = serde_json::from_slice(&built).unwrap();
        assert_eq!(v["errorType"], "Function.Custom");
        assert_eq!(v["errorMessage"], "x");
    }
}

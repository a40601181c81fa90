//! The seam between the gateway and the services. The gateway authenticates a request, works
//! out which service and protocol it is for, and hands it over as a [`Request`]; a service
//! answers it through the one [`Service`] trait. Services never see the gateway, and the
//! gateway knows services only through this trait.

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

pub use axum::body::Body;

pub mod envelope;
pub mod iam;
pub mod json;
pub mod names;
pub mod peers;
pub mod query;

use std::path::PathBuf;

/// The wire protocol of a request, as the gateway detected it. It decides how errors the
/// gateway itself raises are rendered, and lets a service skip detecting it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `X-Amz-Target` with `application/x-amz-json-1.0` (DynamoDB, Streams, SQS, CloudWatch).
    AwsJson10,
    /// `X-Amz-Target` with `application/x-amz-json-1.1` (CloudWatch Logs).
    AwsJson11,
    /// Operations bound to paths and methods, JSON bodies (Lambda).
    RestJson,
    /// `Action=...` form parameters, XML answers (SNS, SQS's query protocol, IAM, STS, ...).
    Query,
    /// Paths and methods, XML bodies (S3).
    RestXml,
    /// Smithy RPC v2 CBOR (`/service/<name>/operation/<op>`, newer CloudWatch clients).
    RpcV2Cbor,
    /// Tributary's own endpoints (`/_tributary/...`, `/metrics`): not AWS, not signed.
    Admin,
}

/// Where the gateway sends a request: the service's signing name (`dynamodb`, `lambda`,
/// `s3`, `monitoring`, ...) and its protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub service: String,
    pub protocol: Protocol,
}

/// Who sent a request, once the gateway has authenticated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The access key the request was signed with.
    pub access_key: String,
    /// The account the credentials belong to.
    pub account_id: String,
    /// The session token of temporary credentials, if the request carried one.
    pub session_token: Option<String>,
    /// The identity's ARN when the key belongs to an IAM user or a role session; `None` for
    /// the account's own keys (the account root).
    pub arn: Option<String>,
}

/// One authenticated request, its body read whole.
#[derive(Debug)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub route: Route,
    /// `None` for admin endpoints and, under `--auth none`, for unsigned requests.
    pub caller: Option<Caller>,
}

pub type Response = http::Response<Body>;

/// Server-wide settings, decided by the binary.
#[derive(Debug, Clone)]
pub struct Config {
    pub region: String,
    pub account_id: String,
    /// The URL clients (and functions) reach this server at.
    pub endpoint_url: String,
    /// Scratch space: unpacked code, runtimes, function logs.
    pub work_dir: PathBuf,
    /// Open shards of a new stream.
    pub stream_shards: u32,
    /// How long a shard stays open before it rolls over to a child, in milliseconds.
    pub shard_rollover_ms: i64,
    /// Retention of log groups without a policy of their own; `None` keeps events forever.
    pub log_retention_days: Option<u32>,
    /// How long stream records stay readable, in milliseconds (DynamoDB: 24 hours).
    pub stream_retention_ms: i64,
    /// How long CloudWatch metrics are kept (one-minute buckets), in milliseconds.
    pub metrics_retention_ms: i64,
}

/// What the gateway calls. Errors are answers too: a service renders its own in its
/// protocol's envelope.
#[async_trait::async_trait]
pub trait Service: Send + Sync + 'static {
    async fn call(&self, req: Request) -> Response;
}

/// Decodes `%XX` escapes (malformed ones are kept as written); the result is UTF-8, lossily.
/// Paths and query strings of every protocol are decoded with it.
pub fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pairs of a URL query string or form body, decoded (`+` is a space); a repeated name
/// keeps its last value.
pub fn parse_query(q: &str) -> std::collections::BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

/// A fresh request id (a random UUID, as AWS's). Drawn from the thread's seeded generator, not
/// the OS: an id per request must not cost a `getrandom` system call.
pub fn request_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

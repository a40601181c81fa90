//! Amazon S3 on the shared endpoint (REST-XML): buckets and their configuration (policy,
//! tags, default encryption, Block Public Access, ownership controls, versioning), objects and
//! their versions, listings and multipart uploads — what the ESM on-failure S3 destination
//! writes, what SAM and CloudFormation set up, and what users read back with `aws s3`,
//! `aws s3api` or boto3.
//!
//! Requests arrive here when they are signed for service `s3`. The bucket comes from the
//! `Host` header (virtual-host style, `<bucket>.s3.<anything>` or `<bucket>.<endpoint host>`)
//! or from the first path segment (path style). The method, the presence of a key and the
//! query's subresources pick the operation; errors are S3's `<Error>` documents with AWS's
//! codes, messages and statuses. Storage layout: see [`storage`].
//!
//! S3 is the documented exception to the model validator the other services run first
//! (`tributary_shapes::validate`). S3 never answers `1 validation error detected: ...`: a bad
//! value has an error of its own, checked where the value is read, as S3 does
//! (`InvalidStorageClass` for `x-amz-storage-class`, `InvalidArgument` naming the header for an
//! encryption or checksum algorithm, `InvalidBucketName`, `KeyTooLongError`, `MalformedXML` for
//! a configuration document missing a required element). Its model's constraints are few
//! (4 patterns, 8 lengths) and its required members are URI labels and the routing headers,
//! which pick the operation before any member is read.

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

mod buckets;
mod checksum;
mod chunked;
mod config;
mod input;
mod list;
mod multipart;
mod objects;
mod storage;
mod versions;
mod xml;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use rand::Rng as _;
use serde_json::Value;
use tributary_model::AwsError;
use tributary_shapes::types::Timestamp;

use tributary_service::Config;
use tributary_store::Store;

type App = S3;

/// Amazon S3: its state is the buckets and objects in the store.
pub struct S3 {
    pub(crate) cfg: Arc<Config>,
    pub(crate) store: Store,
}

impl S3 {
    pub fn new(cfg: Arc<Config>, store: Store) -> S3 {
        S3 { cfg, store }
    }

    /// Whether a bucket (by name or ARN) exists: the on-failure S3 destination's check.
    pub fn bucket_exists(&self, name_or_arn: &str) -> bool {
        buckets::bucket_exists(self, name_or_arn)
    }

    /// The policy of a bucket (by name or ARN), as PutBucketPolicy stored it: the resource
    /// policy an authorizer evaluates for requests on the bucket and its objects.
    pub fn bucket_policy(&self, bucket: &str) -> Option<String> {
        storage::BucketDoc::get(&self.store.catalog(), buckets::bucket_name(bucket))
            .and_then(|b| b.policy)
    }
}

#[async_trait::async_trait]
impl tributary_service::peers::Objects for S3 {
    fn bucket_exists(&self, bucket: &str) -> bool {
        buckets::bucket_exists(self, bucket)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), AwsError> {
        put_object_internal(self, bucket, key, body, content_type).await
    }

    fn get(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<Vec<u8>, AwsError> {
        objects::get_object_internal(self, bucket, key, version)
    }
}

#[async_trait::async_trait]
impl tributary_service::Service for S3 {
    async fn call(&self, req: tributary_service::Request) -> Response {
        let caller = match &req.caller {
            Some(c) => c
                .arn
                .clone()
                .unwrap_or_else(|| format!("arn:aws:iam::{}:root", c.account_id)),
            None => format!("arn:aws:iam::{}:root", self.cfg.account_id),
        };
        handle(self, &req.method, &req.uri, &req.headers, &req.body, caller).await
    }
}

pub use objects::put_object_internal;

/// The largest object Tributary stores (one PUT, one part, or a completed multipart upload).
/// AWS allows 5 GiB per PUT and 5 TiB per object; a local emulator keeps objects in its
/// embedded store and in memory while serving them, so it stops far earlier.
pub const MAX_OBJECT_BYTES: u64 = 64 * 1024 * 1024;

/// Query parameters naming S3 features this endpoint does not implement. A request carrying
/// one gets `NotImplemented` instead of being mistaken for a plain object or bucket request.
const UNSUPPORTED_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metadataConfiguration",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "renameObject",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "session",
    "torrent",
    "website",
];

/// One S3 request, parsed.
pub(crate) struct Request<'a> {
    pub app: &'a App,
    pub method: &'a Method,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub query: BTreeMap<String, String>,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    /// The region of the request's SigV4 credential scope: the "endpoint" a bucket is
    /// created through.
    pub region: String,
    /// The ARN of the identity that signed the request (the account root for its own keys),
    /// as S3 names it in `AccessDenied` messages.
    pub caller: String,
}

impl Request<'_> {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
    }

    pub fn has_query(&self, name: &str) -> bool {
        self.query.contains_key(name)
    }

    pub fn bucket(&self) -> &str {
        self.bucket.as_deref().unwrap_or_default()
    }

    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or_default()
    }
}

/// Serves one request signed for `s3`.
async fn handle(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    caller: String,
) -> Response {
    let (bucket, key) = bucket_and_key(app, uri, headers);
    let req = Request {
        app,
        method,
        bucket,
        key,
        query: tributary_service::parse_query(uri.query().unwrap_or("")),
        headers,
        body: body.clone(),
        region: signing_region(headers, uri).unwrap_or_else(|| app.cfg.region.clone()),
        caller,
    };
    let request_id = request_id();
    let mut resp = match dispatch(&req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(code = e.code, message = %e.message, "s3 request failed");
            error_response(&e, method == Method::HEAD, &request_id)
        }
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&host_id()) {
        h.insert("x-amz-id-2", v);
    }
    h.insert("server", HeaderValue::from_static("AmazonS3"));
    resp
}

async fn dispatch(req: &Request<'_>) -> Result<Response, AwsError> {
    if let Some(sub) = UNSUPPORTED_SUBRESOURCES
        .iter()
        .find(|s| req.query.contains_key(**s))
    {
        return Err(not_implemented(&format!("the ?{sub} subresource")));
    }
    if req.key.is_some() {
        // The bucket configuration subresources also name object operations
        // (GetObjectTagging, UpdateObjectEncryption, ...), which are not served.
        if let Some(sub) = config::SUBRESOURCES
            .iter()
            .chain(&["versions"])
            .find(|s| req.query.contains_key(**s))
        {
            return Err(not_implemented(&format!(
                "the ?{sub} subresource of objects"
            )));
        }
    } else if req.bucket.is_some() {
        if let Some(r) = config::dispatch(req).await {
            return r;
        }
    }
    let m = req.method;
    match (&req.bucket, &req.key) {
        (None, _) if m == Method::GET => buckets::list(req),
        (None, _) => Err(method_not_allowed(m, "SERVICE")),
        (Some(_), None) => match *m {
            Method::GET if req.has_query("versions") => versions::list(req),
            _ if req.has_query("versions") => Err(method_not_allowed(m, "BUCKET")),
            Method::PUT if req.has_query("location") => {
                Err(not_implemented("changing this bucket configuration"))
            }
            Method::PUT => buckets::create(req).await,
            Method::HEAD => buckets::head(req),
            Method::DELETE => buckets::delete(req).await,
            Method::GET if req.has_query("location") => buckets::location(req),
            Method::GET if req.has_query("uploads") => multipart::list_uploads(req),
            Method::GET if req.query.get("list-type").is_some_and(|v| v == "2") => {
                list::list_v2(req)
            }
            Method::GET => list::list_v1(req),
            Method::POST if req.has_query("delete") => objects::delete_many(req).await,
            _ => Err(method_not_allowed(m, "BUCKET")),
        },
        (Some(_), Some(_)) => match *m {
            Method::PUT if req.has_query("uploadId") => multipart::upload_part(req).await,
            Method::PUT if req.headers.contains_key("x-amz-copy-source") => {
                objects::copy(req).await
            }
            Method::PUT => objects::put(req).await,
            Method::GET if req.has_query("uploadId") => multipart::list_parts(req),
            Method::GET | Method::HEAD => objects::get(req).await,
            Method::DELETE if req.has_query("uploadId") => multipart::abort(req).await,
            Method::DELETE => objects::delete(req).await,
            Method::POST if req.has_query("uploads") => multipart::create(req).await,
            Method::POST if req.has_query("uploadId") => multipart::complete(req).await,
            _ => Err(method_not_allowed(m, "OBJECT")),
        },
    }
}

/// The bucket and key a request addresses, virtual-host style first.
fn bucket_and_key(app: &App, uri: &Uri, headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()));
    let endpoint_host = app
        .cfg
        .endpoint_url
        .parse::<Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_default();
    let path = uri.path().strip_prefix('/').unwrap_or(uri.path());
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    if let Some(bucket) = host.and_then(|h| virtual_host_bucket(&h, &endpoint_host)) {
        return (
            Some(bucket),
            non_empty(tributary_service::percent_decode(path)),
        );
    }
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    (
        non_empty(tributary_service::percent_decode(bucket)),
        non_empty(tributary_service::percent_decode(key)),
    )
}

/// The bucket named by a virtual-host style `Host`: `<bucket>.s3.<anything>`, or
/// `<bucket>.<endpoint host>` where the endpoint host is `localhost` or the server's own host
/// name. IP addresses and bare service hosts (`s3.localhost`) are path style.
fn virtual_host_bucket(host: &str, endpoint_host: &str) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default().to_owned()
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host.as_str(), |(h, _)| h)
            .to_owned()
    };
    if name.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    if let Some(i) = name.find(".s3.") {
        return (i > 0).then(|| name[..i].to_owned());
    }
    let endpoint_host = endpoint_host.trim_matches(['[', ']']).to_ascii_lowercase();
    let mut suffixes = vec!["localhost".to_owned()];
    if !endpoint_host.is_empty() && endpoint_host.parse::<std::net::IpAddr>().is_err() {
        suffixes.push(endpoint_host);
    }
    suffixes.iter().find_map(|suffix| {
        let bucket = name.strip_suffix(suffix.as_str())?.strip_suffix('.')?;
        let service_host = bucket == "s3" || bucket.starts_with("s3.") || bucket.is_empty();
        (!service_host).then(|| bucket.to_owned())
    })
}

/// The region of the SigV4 credential scope (`Credential=AKID/date/<region>/s3/aws4_request`),
/// from the `Authorization` header or a presigned URL.
fn signing_region(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let from_credential = |cred: &str| -> Option<String> {
        let region = cred.split('/').nth(2)?;
        (!region.is_empty()).then(|| region.to_owned())
    };
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let cred = auth.split("Credential=").nth(1)?;
        return from_credential(cred.split([',', ' ']).next()?);
    }
    let query = tributary_service::parse_query(uri.query()?);
    from_credential(query.get("X-Amz-Credential")?)
}

/// S3 request ids: 16 upper-case letters and digits.
fn request_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The `x-amz-id-2` companion id: opaque base64.
fn host_id() -> String {
    let bytes: [u8; 48] = rand::random();
    checksum::b64(&bytes)
}

/// Renders an error as S3 does: an `<Error>` document, or only the status for HEAD requests
/// (HEAD responses carry no body). Extras named in lower case (`x-amz-delete-marker`, ...)
/// are response headers; the others (always capitalised in S3's documents) are elements.
fn error_response(e: &AwsError, head: bool, request_id: &str) -> Response {
    let (code, message) = match e.code {
        "InternalServerError" => (
            "InternalError",
            "We encountered an internal error. Please try again.".to_owned(),
        ),
        code => (code, e.message.clone()),
    };
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let text = |value: &Value| match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let is_header = |name: &str| name.starts_with(|c: char| c.is_ascii_lowercase());
    let mut r = if head {
        Response::new(Body::empty())
    } else {
        // S3's `<Error>` has no namespace, and no shape in the model.
        let mut x = tributary_shapes::xml::Xml::new();
        x.open("Error").elem("Code", code).elem("Message", &message);
        for (name, value) in e.extra.iter().filter(|(n, _)| !is_header(n)) {
            x.elem(name, &text(value));
        }
        x.elem("RequestId", request_id)
            .elem("HostId", &host_id())
            .close("Error");
        xml_response(xml::finish(x))
    };
    *r.status_mut() = status;
    for (name, value) in e.extra.iter().filter(|(n, _)| is_header(n)) {
        set_header(&mut r, name, &text(value));
    }
    r
}

/// A 200 response carrying an XML document.
fn xml_response(body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/xml"));
    r
}

/// A response without a body.
fn empty_response(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// Sets a header whose value came from a client or the store; values that cannot be a header
/// are skipped rather than failing the response.
fn set_header(r: &mut Response, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_bytes(value.as_bytes()),
    ) {
        r.headers_mut().insert(n, v);
    }
}

/// A time as S3's documents show it, `2009-10-12T17:50:30.000Z`: second precision, as S3
/// stores times.
fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms.div_euclid(1000) * 1000)
}

/// `Wed, 12 Oct 2009 17:50:00 GMT`: timestamps in headers.
fn http_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

// ---- errors, worded and numbered as S3 answers them -------------------------------------

fn extra(e: AwsError, name: &'static str, value: impl Into<String>) -> AwsError {
    e.with_extra(name, Value::String(value.into()))
}

fn no_such_bucket(bucket: &str) -> AwsError {
    extra(
        AwsError::new("NoSuchBucket", 404, "The specified bucket does not exist"),
        "BucketName",
        bucket,
    )
}

fn no_such_key(key: &str) -> AwsError {
    extra(
        AwsError::new("NoSuchKey", 404, "The specified key does not exist."),
        "Key",
        key,
    )
}

fn invalid_argument(message: &str, name: &str, value: &str) -> AwsError {
    let e = AwsError::new("InvalidArgument", 400, message);
    extra(extra(e, "ArgumentName", name), "ArgumentValue", value)
}

fn invalid_request(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidRequest", 400, message)
}

fn not_implemented(what: &str) -> AwsError {
    AwsError::new(
        "NotImplemented",
        501,
        format!("A header you provided implies functionality that is not implemented: Tributary does not implement {what}"),
    )
}

fn method_not_allowed(method: &Method, resource: &str) -> AwsError {
    let e = AwsError::new(
        "MethodNotAllowed",
        405,
        "The specified method is not allowed against this resource.",
    );
    extra(
        extra(e, "Method", method.as_str()),
        "ResourceType",
        resource,
    )
}

fn precondition_failed(condition: &str) -> AwsError {
    extra(
        AwsError::new(
            "PreconditionFailed",
            412,
            "At least one of the pre-conditions you specified did not hold",
        ),
        "Condition",
        condition,
    )
}

fn entity_too_large(size: u64) -> AwsError {
    let e = AwsError::new(
        "EntityTooLarge",
        400,
        "Your proposed upload exceeds the maximum allowed size",
    );
    extra(
        extra(e, "ProposedSize", size.to_string()),
        "MaxSizeAllowed",
        MAX_OBJECT_BYTES.to_string(),
    )
}

fn incomplete_body() -> AwsError {
    AwsError::new(
        "IncompleteBody",
        400,
        "The request body terminated unexpectedly",
    )
}

/// Which version of an object a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Addressed {
    /// No `versionId`: the latest version.
    Latest,
    /// `versionId=<id>`; `None` is the `null` version.
    Version(Option<String>),
}

/// The `versionId` of an object request; `InvalidArgument` for one that cannot be a version
/// id (S3 answers `NoSuchVersion` only for well-formed ids it does not have).
fn addressed_version(version_id: Option<&str>) -> Result<Addressed, AwsError> {
    match version_id {
        None => Ok(Addressed::Latest),
        Some("") => Err(invalid_argument(
            "Version id cannot be the empty string",
            "versionId",
            "",
        )),
        Some(v) if !versions::well_formed(v) => Err(invalid_argument(
            "Invalid version id specified",
            "versionId",
            v,
        )),
        Some(v) => Ok(Addressed::Version(
            versions::stored_id(v).map(str::to_owned),
        )),
    }
}

fn no_such_version(key: &str, version: Option<&str>) -> AwsError {
    let e = AwsError::new(
        "NoSuchVersion",
        404,
        "The specified version does not exist.",
    );
    extra(
        extra(e, "Key", key),
        "VersionId",
        versions::shown_id(version),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_virtual_host_buckets() {
        let v = |h: &str| virtual_host_bucket(h, "tributary.test");
        assert_eq!(v("logs.localhost:4566").as_deref(), Some("logs"));
        assert_eq!(
            v("my.dotted.bucket.localhost").as_deref(),
            Some("my.dotted.bucket")
        );
        assert_eq!(v("logs.s3.localhost:4566").as_deref(), Some("logs"));
        assert_eq!(
            v("logs.s3.us-east-1.amazonaws.com").as_deref(),
            Some("logs")
        );
        assert_eq!(v("Logs.Tributary.Test:80").as_deref(), Some("logs"));
        assert_eq!(v("localhost:4566"), None);
        assert_eq!(v("s3.localhost:4566"), None);
        assert_eq!(v("s3.us-east-1.localhost"), None);
        assert_eq!(v("127.0.0.1:4566"), None);
        assert_eq!(v("[::1]:4566"), None);
        assert_eq!(v("example.com"), None);
        assert_eq!(v("s3.amazonaws.com"), None);
    }

    #[test]
    fn reads_the_signing_region() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=test/20240101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=x",
            ),
        );
        let uri: Uri = "/b/k".parse().unwrap();
        assert_eq!(signing_region(&h, &uri).as_deref(), Some("eu-west-1"));
        let uri: Uri = "/b/k?X-Amz-Credential=test%2F20240101%2Fus-west-2%2Fs3%2Faws4_request"
            .parse()
            .unwrap();
        assert_eq!(
            signing_region(&HeaderMap::new(), &uri).as_deref(),
            Some("us-west-2")
        );
    }

    #[test]
    fn request_ids_look_like_s3s() {
        let id = request_id();
        assert_eq!(id.len(), 16);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(
            timestamp(1_700_000_000_123).iso_millis(),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(
            http_date(1_700_000_000_123),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
    }
}

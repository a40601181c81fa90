//! Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects and
//! CopyObject, each addressing object versions when the bucket is versioned (see
//! [`versions`](super::versions)), plus what uploads share with UploadPart: `aws-chunked`
//! bodies, `Content-MD5`, additional checksums, server-side encryption headers and the stored
//! representation headers.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use tributary_model::AwsError;
use tributary_shapes::generated::s3::Operation;
use tributary_shapes::types::Timestamp;
use tributary_store::Store;

use super::buckets::{self, bucket_name};
use super::checksum::{self, Algorithm, Checksum};
use super::config::SSE_ALGORITHMS;
use super::input::sent;
use super::storage::{self, BucketDoc, DeleteMarker, ObjectMeta, Segment, Sse};
use super::versions::{self, Deleted, Found, KeyVersions};
use super::{
    addressed_version, chunked, empty_response, entity_too_large, extra, http_date,
    incomplete_body, invalid_argument, invalid_request, method_not_allowed, no_such_bucket,
    no_such_key, no_such_version, not_implemented, precondition_failed, set_header, timestamp,
    types, xml, xml_response, Addressed, Request, MAX_OBJECT_BYTES,
};
use crate::S3 as App;

/// `x-amz-storage-class` values S3 accepts.
const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
    "FSX_OPENZFS",
];

/// Storage classes whose objects must be restored before they can be read.
const ARCHIVED: &[&str] = &["GLACIER", "DEEP_ARCHIVE"];

const MAX_KEY_BYTES: usize = 1024;
const MAX_METADATA_BYTES: usize = 2048;
const MAX_DELETE_KEYS: usize = 1000;

/// How many times a GET re-reads an object that was replaced while being read.
const READ_ATTEMPTS: usize = 5;

/// Stores an object on behalf of another service (the ESM's on-failure S3 destination):
/// the same write as PutObject, without the HTTP parts. Takes a bucket name or ARN.
/// Reads a whole object (a version of it, with `version`) as another service does (Lambda
/// code from `S3Bucket`/`S3Key`): `NoSuchBucket`, `NoSuchKey` or `NoSuchVersion` when it is
/// not there.
pub fn get_object_internal(
    app: &App,
    bucket_arn_or_name: &str,
    key: &str,
    version: Option<&str>,
) -> Result<Vec<u8>, AwsError> {
    let bucket = bucket_name(bucket_arn_or_name).to_owned();
    buckets::require(app, &bucket)?;
    for _ in 0..READ_ATTEMPTS {
        let meta = match version {
            None => {
                storage::read_meta(&app.store, &bucket, key)?.ok_or_else(|| no_such_key(key))?
            }
            Some(v) => match versions::find(&app.store, &bucket, key, Some(v))? {
                Found::Object(m) => *m,
                _ => return Err(no_such_version(key, Some(v))),
            },
        };
        if let Some(bytes) = storage::read_data(&app.store, &meta.segments, 0, meta.size)? {
            return Ok(bytes);
        }
    }
    Err(AwsError::internal(
        "the object kept changing while it was read",
    ))
}

pub async fn put_object_internal(
    app: &App,
    bucket_arn_or_name: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<(), AwsError> {
    let bucket = bucket_name(bucket_arn_or_name).to_owned();
    check_key(key)?;
    if body.len() as u64 > MAX_OBJECT_BYTES {
        return Err(entity_too_large(body.len() as u64));
    }
    let meta = ObjectMeta {
        size: body.len() as u64,
        etag: checksum::hex(&checksum::md5(&body)),
        modified_ms: 0,
        content_type: content_type.to_owned(),
        headers: BTreeMap::new(),
        metadata: BTreeMap::new(),
        storage_class: "STANDARD".to_owned(),
        checksum: Some(Checksum::full(Algorithm::Crc64Nvme, &body)),
        segments: Vec::new(),
        parts: None,
        version_id: None,
        sse: None,
    };
    commit(
        &app.store,
        bucket,
        key.to_owned(),
        meta,
        body,
        WriteCondition::default(),
        None,
    )
    .await
    .map(|_| ())
}

// ---- receiving bodies ----------------------------------------------------------------------

/// An upload's bytes after decoding and integrity checks.
pub(super) struct Received {
    pub data: Vec<u8>,
    pub md5: [u8; 16],
    /// The checksum the client sent, verified.
    pub checksum: Option<Checksum>,
}

/// Decodes and verifies an upload body (PutObject, UploadPart).
pub(super) fn receive(req: &Request<'_>) -> Result<Received, AwsError> {
    let content_sha256 = req.header("x-amz-content-sha256");
    let encoding = req.header("content-encoding");
    let (data, trailers) = if chunked::is_chunked(content_sha256.as_deref(), encoding.as_deref()) {
        let decoded = chunked::decode(&req.body).map_err(|_| incomplete_body())?;
        if let Some(declared) = req.header("x-amz-decoded-content-length") {
            let declared: u64 = declared.parse().map_err(|_| incomplete_body())?;
            if declared > MAX_OBJECT_BYTES {
                return Err(entity_too_large(declared));
            }
            if declared != decoded.data.len() as u64 {
                return Err(incomplete_body());
            }
        }
        (decoded.data, decoded.trailers)
    } else {
        if req.body.len() as u64 > MAX_OBJECT_BYTES {
            return Err(entity_too_large(req.body.len() as u64));
        }
        if let Some(expected) = content_sha256.as_deref().filter(|v| is_sha256_hex(v)) {
            let actual = checksum::hex(&Algorithm::Sha256.digest(&req.body));
            if !actual.eq_ignore_ascii_case(expected) {
                let e = AwsError::new(
                    "XAmzContentSHA256Mismatch",
                    400,
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                );
                return Err(extra(
                    extra(e, "ClientComputedContentSHA256", expected),
                    "S3ComputedContentSHA256",
                    actual,
                ));
            }
        }
        (req.body.to_vec(), Vec::new())
    };
    if data.len() as u64 > MAX_OBJECT_BYTES {
        return Err(entity_too_large(data.len() as u64));
    }
    let md5 = checksum::md5(&data);
    check_content_md5(req, &md5)?;
    let checksum = verify_checksum(req, &data, &trailers)?;
    Ok(Received {
        data,
        md5,
        checksum,
    })
}

fn is_sha256_hex(v: &str) -> bool {
    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `Content-MD5`: `InvalidDigest` when it is not base64 of 16 bytes, `BadDigest` when it does
/// not match the body.
fn check_content_md5(req: &Request<'_>, md5: &[u8; 16]) -> Result<(), AwsError> {
    let Some(value) = req.header("content-md5") else {
        return Ok(());
    };
    let Some(expected) = checksum::decode_content_md5(&value) else {
        return Err(extra(
            AwsError::new(
                "InvalidDigest",
                400,
                "The Content-MD5 you specified was invalid.",
            ),
            "Content-MD5",
            value,
        ));
    };
    if &expected != md5 {
        let e = AwsError::new(
            "BadDigest",
            400,
            "The Content-MD5 you specified did not match what we received.",
        );
        return Err(extra(
            extra(e, "ExpectedDigest", checksum::hex(&expected)),
            "CalculatedDigest",
            checksum::b64(md5),
        ));
    }
    Ok(())
}

/// The additional checksum of an upload, from its `x-amz-checksum-*` header or trailer, checked
/// against the bytes received.
fn verify_checksum(
    req: &Request<'_>,
    data: &[u8],
    trailers: &[(String, String)],
) -> Result<Option<Checksum>, AwsError> {
    let mut found: Vec<(Algorithm, String)> = Algorithm::ALL
        .into_iter()
        .filter_map(|a| req.header(a.header()).map(|v| (a, v)))
        .collect();
    for (name, value) in trailers {
        if let Some(a) = Algorithm::ALL.into_iter().find(|a| a.header() == name) {
            found.push((a, value.clone()));
        }
    }
    if let Some(trailer) = req.header("x-amz-trailer") {
        let trailer = trailer.to_ascii_lowercase();
        if trailer.starts_with("x-amz-checksum-") && !trailers.iter().any(|(n, _)| *n == trailer) {
            return Err(incomplete_body());
        }
    }
    if found.len() > 1 {
        return Err(invalid_request(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        ));
    }
    if let Some(sdk) = req.header("x-amz-sdk-checksum-algorithm") {
        if Algorithm::parse(&sdk).is_none() {
            return Err(unsupported_algorithm());
        }
        if found.is_empty() {
            return Err(invalid_request("x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found."));
        }
    }
    let Some((algorithm, value)) = found.pop() else {
        return Ok(None);
    };
    if !algorithm.well_formed(&value) {
        return Err(invalid_request(format!(
            "Value for {} header is invalid.",
            algorithm.header()
        )));
    }
    let actual = Checksum::full(algorithm, data);
    if actual.value != value.trim() {
        return Err(AwsError::new(
            "BadDigest",
            400,
            format!(
                "The {} you specified did not match the calculated checksum.",
                algorithm.name()
            ),
        ));
    }
    Ok(Some(actual))
}

pub(super) fn unsupported_algorithm() -> AwsError {
    invalid_request("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
}

/// `KeyTooLongError` for keys over 1024 bytes.
pub(super) fn check_key(key: &str) -> Result<(), AwsError> {
    if key.len() > MAX_KEY_BYTES {
        let e = AwsError::new("KeyTooLongError", 400, "Your key is too long");
        return Err(extra(
            extra(e, "Size", key.len().to_string()),
            "MaxSizeAllowed",
            MAX_KEY_BYTES.to_string(),
        ));
    }
    Ok(())
}

/// What an upload says about the object besides its bytes: the members PutObject,
/// CreateMultipartUpload and CopyObject (with `REPLACE`) share, borrowed from the operation's
/// input ([`upload!`]).
pub(super) struct Upload<'a> {
    pub content_type: Option<&'a str>,
    /// The representation headers stored with the object and returned on GET and HEAD, by
    /// their header names.
    pub stored: [(&'static str, Option<&'a str>); 6],
    pub metadata: Option<&'a BTreeMap<String, String>>,
    pub storage_class: Option<&'a str>,
    pub sse: Option<&'a str>,
    pub kms_key_id: Option<&'a str>,
    pub bucket_key: Option<bool>,
}

/// The [`Upload`] of an operation's input.
macro_rules! upload {
    ($input:expr) => {{
        let i = &$input;
        $crate::objects::Upload {
            content_type: i.content_type.as_deref(),
            stored: [
                ("cache-control", i.cache_control.as_deref()),
                ("content-disposition", i.content_disposition.as_deref()),
                ("content-encoding", i.content_encoding.as_deref()),
                ("content-language", i.content_language.as_deref()),
                ("expires", i.expires.as_deref()),
                (
                    "x-amz-website-redirect-location",
                    i.website_redirect_location.as_deref(),
                ),
            ],
            metadata: i.metadata.as_ref(),
            storage_class: i.storage_class.as_deref(),
            sse: i.server_side_encryption.as_deref(),
            kms_key_id: i.ssekms_key_id.as_deref(),
            bucket_key: i.bucket_key_enabled,
        }
    }};
}
pub(super) use upload;

/// What an upload stores about the object besides its bytes.
pub(super) struct Attrs {
    pub content_type: String,
    pub headers: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub storage_class: String,
}

/// Reads the content type, representation headers, user metadata and storage class of an
/// upload (PutObject, CreateMultipartUpload, CopyObject with `REPLACE`).
pub(super) fn attrs(u: &Upload<'_>) -> Result<Attrs, AwsError> {
    let content_type = u
        .content_type
        .filter(|v| !v.is_empty())
        .unwrap_or("binary/octet-stream")
        .to_owned();
    let mut headers = BTreeMap::new();
    for (name, value) in u.stored {
        let Some(mut value) = value.map(str::to_owned) else {
            continue;
        };
        if name == "content-encoding" {
            // `aws-chunked` describes this request's framing, not the object.
            value = value
                .split(',')
                .map(str::trim)
                .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                .collect::<Vec<_>>()
                .join(",");
            if value.is_empty() {
                continue;
            }
        }
        headers.insert(name.to_owned(), value);
    }
    let metadata = u.metadata.cloned().unwrap_or_default();
    let size: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_METADATA_BYTES {
        let e = AwsError::new(
            "MetadataTooLarge",
            400,
            "Your metadata headers exceed the maximum allowed metadata size.",
        );
        return Err(extra(
            extra(e, "Size", size.to_string()),
            "MaxSizeAllowed",
            MAX_METADATA_BYTES.to_string(),
        ));
    }
    Ok(Attrs {
        content_type,
        headers,
        metadata,
        storage_class: storage_class(u.storage_class)?,
    })
}

/// The server-side encryption an upload asks for (`x-amz-server-side-encryption` and its KMS
/// companions); `None` leaves it to the bucket's default encryption.
pub(super) fn requested_sse(u: &Upload<'_>) -> Result<Option<Sse>, AwsError> {
    let key = u.kms_key_id.filter(|k| !k.is_empty()).map(str::to_owned);
    let kms_needed = |key: &str| {
        invalid_argument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id",
            key,
        )
    };
    let Some(algorithm) = u.sse else {
        return match key {
            Some(k) => Err(kms_needed(&k)),
            None => Ok(None),
        };
    };
    if !SSE_ALGORITHMS.contains(&algorithm) {
        return Err(invalid_argument(
            "The encryption method specified is not supported",
            "x-amz-server-side-encryption",
            algorithm,
        ));
    }
    let sse = Sse {
        algorithm: algorithm.to_owned(),
        kms_key_id: key,
        bucket_key: u.bucket_key.unwrap_or(false),
    };
    if !sse.is_kms() {
        if let Some(k) = &sse.kms_key_id {
            return Err(kms_needed(k));
        }
    }
    Ok(Some(sse))
}

/// The encryption headers of an answer about an object stored with `sse` (`None`: SSE-S3).
pub(super) fn sse_headers(r: &mut Response, sse: Option<&Sse>) {
    let Some(sse) = sse.filter(|s| s.is_kms()) else {
        set_header(r, "x-amz-server-side-encryption", "AES256");
        return;
    };
    set_header(r, "x-amz-server-side-encryption", &sse.algorithm);
    if let Some(k) = &sse.kms_key_id {
        set_header(r, "x-amz-server-side-encryption-aws-kms-key-id", k);
    }
    if sse.bucket_key {
        set_header(r, "x-amz-server-side-encryption-bucket-key-enabled", "true");
    }
}

fn storage_class(requested: Option<&str>) -> Result<String, AwsError> {
    match requested {
        None => Ok("STANDARD".to_owned()),
        Some(c) if STORAGE_CLASSES.contains(&c) => Ok(c.to_owned()),
        Some(c) => Err(extra(
            AwsError::new(
                "InvalidStorageClass",
                400,
                "The storage class you specified is not valid",
            ),
            "StorageClassRequested",
            c,
        )),
    }
}

// ---- writing -------------------------------------------------------------------------------

/// Conditional writes: `If-None-Match: *` (only create) and `If-Match: <etag>` (only replace
/// that version).
#[derive(Default)]
pub(super) struct WriteCondition {
    if_none_match: bool,
    if_match: Option<String>,
}

impl WriteCondition {
    /// From an upload's `If-None-Match` and `If-Match`.
    pub fn new(
        if_none_match: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<WriteCondition, AwsError> {
        let if_none_match = match if_none_match {
            None => false,
            Some("*") => true,
            Some(_) => return Err(not_implemented("If-None-Match values other than *")),
        };
        Ok(WriteCondition {
            if_none_match,
            if_match: if_match.map(str::to_owned),
        })
    }

    fn check(&self, existing: Option<&ObjectMeta>, key: &str) -> Result<(), AwsError> {
        if self.if_none_match && existing.is_some() {
            return Err(precondition_failed("If-None-Match"));
        }
        if let Some(tags) = &self.if_match {
            let current = existing.ok_or_else(|| no_such_key(key))?;
            if !etag_matches(tags, &current.etag) {
                return Err(precondition_failed("If-Match"));
            }
        }
        Ok(())
    }
}

/// Writes an object in one transaction: its bytes, and its metadata as the key's latest
/// version (the version it replaces is kept or released as the bucket's versioning says).
/// Fills in the segments, the modification time, the version id and the encryption: `sse`,
/// or the bucket's default when the request named none.
pub(super) async fn commit(
    store: &Store,
    bucket: String,
    key: String,
    meta: ObjectMeta,
    data: Vec<u8>,
    condition: WriteCondition,
    sse: Option<Sse>,
) -> Result<ObjectMeta, AwsError> {
    store
        .write(move |tx| {
            let mut b =
                BucketDoc::get(tx.catalog(), &bucket).ok_or_else(|| no_such_bucket(&bucket))?;
            let mut kv = KeyVersions::load(tx, &bucket, &key)?;
            condition.check(kv.current.as_ref(), &key)?;
            let id = storage::new_data_id();
            storage::write_data(tx, &id, &data)?;
            let mut meta = meta.clone();
            meta.segments = vec![Segment {
                data: id,
                size: data.len() as u64,
            }];
            meta.modified_ms = tx.now_ms();
            meta.sse = Some(sse.clone().unwrap_or_else(|| b.default_sse()));
            let meta = kv.put(b.versioning, meta);
            kv.store(tx, &mut b)?;
            Ok(meta)
        })
        .await
}

/// The headers answering a write: ETag, encryption, the checksum and the new version's id.
pub(super) fn write_headers(r: &mut Response, meta: &ObjectMeta) {
    set_header(r, "etag", &format!("\"{}\"", meta.etag));
    sse_headers(r, meta.sse.as_ref());
    if let Some(c) = &meta.checksum {
        set_header(r, c.algorithm.header(), &c.value);
        set_header(r, "x-amz-checksum-type", c.kind.name());
    }
    if let Some(v) = &meta.version_id {
        set_header(r, "x-amz-version-id", v);
    }
}

/// PutObject.
pub(super) async fn put(req: &Request<'_>) -> Result<Response, AwsError> {
    let input: types::PutObjectRequest = req.input(Operation::PutObject)?;
    check_key(&input.key)?;
    buckets::require(req.app, &input.bucket)?;
    let upload = upload!(input);
    let attrs = attrs(&upload)?;
    let sse = requested_sse(&upload)?;
    let condition = WriteCondition::new(input.if_none_match.as_deref(), input.if_match.as_deref())?;
    let got = receive(req)?;
    let checksum = got
        .checksum
        .unwrap_or_else(|| Checksum::full(Algorithm::Crc64Nvme, &got.data));
    let meta = ObjectMeta {
        size: got.data.len() as u64,
        etag: checksum::hex(&got.md5),
        modified_ms: 0,
        content_type: attrs.content_type,
        headers: attrs.headers,
        metadata: attrs.metadata,
        storage_class: attrs.storage_class,
        checksum: Some(checksum),
        segments: Vec::new(),
        parts: None,
        version_id: None,
        sse: None,
    };
    let meta = commit(
        &req.app.store,
        input.bucket,
        input.key,
        meta,
        got.data,
        condition,
        sse,
    )
    .await?;
    let mut r = empty_response(StatusCode::OK);
    write_headers(&mut r, &meta);
    Ok(r)
}

// ---- reading -------------------------------------------------------------------------------

/// Whether a request's entity-tag list (`"a", "b"`, `*`) names `etag`.
fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/").trim_matches('"') == etag)
}

/// The outcome of conditional request headers.
#[derive(Debug, PartialEq, Eq)]
enum Precondition {
    Proceed,
    NotModified,
    Failed(&'static str),
}

/// A request's conditions on the object it reads: GetObject's and HeadObject's `If-*`
/// headers, or CopyObject's `x-amz-copy-source-if-*`. Dates that did not parse are absent
/// (ignored, as HTTP says).
struct Conditions<'a> {
    if_match: Option<&'a str>,
    if_unmodified_since: Option<Timestamp>,
    if_none_match: Option<&'a str>,
    if_modified_since: Option<Timestamp>,
    /// The four header names, in that order, as `PreconditionFailed` names the one that failed.
    names: [&'static str; 4],
}

/// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since` (in
/// that order, as S3 does: a true If-Match overrides a false If-Unmodified-Since, a false
/// If-None-Match overrides If-Modified-Since).
fn preconditions(c: &Conditions<'_>, etag: &str, modified_ms: i64) -> Precondition {
    let [if_match, if_unmodified, _, _] = c.names;
    let modified = modified_ms.div_euclid(1000);
    let seconds = |t: Timestamp| t.millis().div_euclid(1000);
    match c.if_match {
        Some(tags) if !etag_matches(tags, etag) => return Precondition::Failed(if_match),
        Some(_) => {}
        None => {
            if c.if_unmodified_since
                .is_some_and(|since| modified > seconds(since))
            {
                return Precondition::Failed(if_unmodified);
            }
        }
    }
    match c.if_none_match {
        Some(tags) if etag_matches(tags, etag) => Precondition::NotModified,
        Some(_) => Precondition::Proceed,
        None => {
            if c.if_modified_since
                .is_some_and(|since| modified <= seconds(since))
            {
                Precondition::NotModified
            } else {
                Precondition::Proceed
            }
        }
    }
}

/// A `Range` header: `bytes=a-b`, `bytes=a-` or `bytes=-n`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum ByteRange {
    From(u64, Option<u64>),
    Suffix(u64),
}

/// Parses a single byte range. Anything else (several ranges, other units, garbage) is
/// ignored and the whole object served, as S3 does.
fn parse_range(v: &str) -> Option<ByteRange> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    match (a.trim(), b.trim()) {
        ("", n) => Some(ByteRange::Suffix(n.parse().ok()?)),
        (a, "") => Some(ByteRange::From(a.parse().ok()?, None)),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then_some(ByteRange::From(a, Some(b)))
        }
    }
}

/// The bytes `start..end` a range selects, or `None` when it cannot be satisfied.
fn resolve_range(r: ByteRange, size: u64) -> Option<(u64, u64)> {
    match r {
        ByteRange::From(a, last) if a < size => Some((a, last.map_or(size, |b| (b + 1).min(size)))),
        ByteRange::From(..) => None,
        ByteRange::Suffix(n) if n > 0 && size > 0 => Some((size - n.min(size), size)),
        ByteRange::Suffix(_) => None,
    }
}

/// What part of an object a GET returns.
struct Selection {
    start: u64,
    end: u64,
    /// `Some` for a 206 answer.
    partial: bool,
}

/// What GetObject and HeadObject (members of the same names) ask of an object.
struct Read<'a> {
    conditions: Conditions<'a>,
    range: Option<&'a str>,
    /// `partNumber`, as sent.
    part_number: Option<(Option<i32>, &'a str)>,
    version_id: Option<&'a str>,
    checksum_mode: bool,
    /// The `response-*` overrides of the stored representation headers, by header name.
    overrides: [(&'static str, Option<String>); 6],
}

/// The [`Read`] of a GetObject or HeadObject input and its unparsed values.
macro_rules! read_of {
    ($input:expr, $unparsed:expr) => {{
        let (i, unparsed) = (&$input, &$unparsed);
        Read {
            conditions: Conditions {
                if_match: i.if_match.as_deref(),
                if_unmodified_since: i.if_unmodified_since,
                if_none_match: i.if_none_match.as_deref(),
                if_modified_since: i.if_modified_since,
                names: [
                    "If-Match",
                    "If-Unmodified-Since",
                    "If-None-Match",
                    "If-Modified-Since",
                ],
            },
            range: i.range.as_deref(),
            part_number: sent(unparsed, "PartNumber")
                .map(|text| (None, text))
                .or_else(|| i.part_number.map(|n| (Some(n), ""))),
            version_id: i.version_id.as_deref(),
            checksum_mode: i
                .checksum_mode
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED")),
            overrides: [
                ("content-type", i.response_content_type.clone()),
                ("cache-control", i.response_cache_control.clone()),
                (
                    "content-disposition",
                    i.response_content_disposition.clone(),
                ),
                ("content-encoding", i.response_content_encoding.clone()),
                ("content-language", i.response_content_language.clone()),
                ("expires", i.response_expires.map(|t| http_date(t.millis()))),
            ],
        }
    }};
}

fn select(read: &Read<'_>, meta: &ObjectMeta) -> Result<Selection, AwsError> {
    let whole = Selection {
        start: 0,
        end: meta.size,
        partial: false,
    };
    let range = read.range;
    if let Some((number, text)) = read.part_number {
        if range.is_some() {
            return Err(invalid_request(
                "Cannot specify both Range header and partNumber query parameter",
            ));
        }
        let n: usize = match number {
            Some(n) if (1..=10000).contains(&n) => n as usize,
            _ => {
                let shown = number.map_or_else(|| text.to_owned(), |n| n.to_string());
                return Err(invalid_argument(
                    "Part number must be an integer between 1 and 10000, inclusive",
                    "partNumber",
                    &shown,
                ));
            }
        };
        let sizes = meta.parts.clone().unwrap_or_else(|| vec![meta.size]);
        let Some(size) = sizes.get(n - 1) else {
            let e = AwsError::new(
                "InvalidPartNumber",
                416,
                "The requested partnumber is not satisfiable",
            );
            return Err(extra(
                extra(e, "PartNumberRequested", n.to_string()),
                "ActualPartCount",
                sizes.len().to_string(),
            ));
        };
        let start: u64 = sizes[..n - 1].iter().sum();
        return Ok(Selection {
            start,
            end: start + size,
            partial: meta.size > 0,
        });
    }
    let Some(range) = range else {
        return Ok(whole);
    };
    let Some(parsed) = parse_range(range) else {
        return Ok(whole);
    };
    match resolve_range(parsed, meta.size) {
        Some((start, end)) => Ok(Selection {
            start,
            end,
            partial: true,
        }),
        None => {
            let e = AwsError::new(
                "InvalidRange",
                416,
                "The requested range is not satisfiable",
            );
            Err(extra(
                extra(e, "RangeRequested", range),
                "ActualObjectSize",
                meta.size.to_string(),
            ))
        }
    }
}

/// The headers describing an object on GET and HEAD; `response-*` query parameters override
/// the stored representation headers. The checksum is only sent for the whole object (a
/// client would check it against a partial body); the version id only when the bucket is
/// versioned (enabled or suspended).
fn object_headers(
    r: &mut Response,
    read: &Read<'_>,
    meta: &ObjectMeta,
    whole: bool,
    versioned: bool,
) {
    let [(_, content_type), overrides @ ..] = &read.overrides;
    set_header(
        r,
        "content-type",
        content_type.as_deref().unwrap_or(&meta.content_type),
    );
    set_header(r, "etag", &format!("\"{}\"", meta.etag));
    set_header(r, "last-modified", &http_date(meta.modified_ms));
    set_header(r, "accept-ranges", "bytes");
    sse_headers(r, meta.sse.as_ref());
    if versioned {
        set_header(
            r,
            "x-amz-version-id",
            versions::shown_id(meta.version_id.as_deref()),
        );
    }
    for (name, value) in &meta.headers {
        set_header(r, name, value);
    }
    for (name, value) in overrides {
        if let Some(v) = value {
            set_header(r, name, v);
        }
    }
    for (name, value) in &meta.metadata {
        set_header(r, &format!("x-amz-meta-{name}"), value);
    }
    if meta.storage_class != "STANDARD" {
        set_header(r, "x-amz-storage-class", &meta.storage_class);
    }
    if let (true, true, Some(c)) = (whole, read.checksum_mode, &meta.checksum) {
        set_header(r, c.algorithm.header(), &c.value);
        set_header(r, "x-amz-checksum-type", c.kind.name());
    }
    if let (Some(parts), true) = (&meta.parts, read.part_number.is_some()) {
        set_header(r, "x-amz-mp-parts-count", &parts.len().to_string());
    }
}

/// The headers S3 adds to an answer about a delete marker.
fn marker_headers(e: AwsError, d: &DeleteMarker) -> AwsError {
    let e = extra(e, "x-amz-delete-marker", "true");
    let e = extra(
        e,
        "x-amz-version-id",
        versions::shown_id(d.version_id.as_deref()),
    );
    extra(e, "last-modified", http_date(d.modified_ms))
}

/// The object version a GET or HEAD reads: the latest (`NoSuchKey` when there is none, with
/// the delete marker's headers when one is the latest version), or the one named
/// (`NoSuchVersion`, or `MethodNotAllowed` for a delete marker).
fn version_to_read(
    req: &Request<'_>,
    addressed: &Addressed,
    versioned: bool,
) -> Result<ObjectMeta, AwsError> {
    let (store, bucket, key) = (&req.app.store, req.bucket(), req.key());
    match addressed {
        Addressed::Latest => match storage::read_meta(store, bucket, key)? {
            Some(m) => Ok(m),
            None => Err(match versioned {
                true => match versions::latest_marker(store, bucket, key)? {
                    Some(d) => marker_headers(no_such_key(key), &d),
                    None => no_such_key(key),
                },
                false => no_such_key(key),
            }),
        },
        Addressed::Version(v) => match versions::find(store, bucket, key, v.as_deref())? {
            Found::Object(m) => Ok(*m),
            Found::DeleteMarker(d) => Err(marker_headers(
                method_not_allowed(req.method, "DeleteMarker"),
                &d,
            )),
            Found::Nothing => Err(no_such_version(key, v.as_deref())),
        },
    }
}

/// GetObject and HeadObject.
pub(super) async fn get(req: &Request<'_>) -> Result<Response, AwsError> {
    let head = req.method == Method::HEAD;
    let (get, head_input, unparsed);
    let read = if head {
        (head_input, unparsed) =
            req.input_and_unparsed::<types::HeadObjectRequest>(Operation::HeadObject)?;
        read_of!(head_input, unparsed)
    } else {
        (get, unparsed) =
            req.input_and_unparsed::<types::GetObjectRequest>(Operation::GetObject)?;
        read_of!(get, unparsed)
    };
    let (bucket, key) = (req.bucket(), req.key());
    let versioned = buckets::require(req.app, bucket)?.versioning.is_some();
    let addressed = addressed_version(read.version_id)?;
    for _ in 0..READ_ATTEMPTS {
        let meta = version_to_read(req, &addressed, versioned)?;
        match preconditions(&read.conditions, &meta.etag, meta.modified_ms) {
            Precondition::Failed(c) => return Err(precondition_failed(c)),
            Precondition::NotModified => {
                let mut r = empty_response(StatusCode::NOT_MODIFIED);
                set_header(&mut r, "etag", &format!("\"{}\"", meta.etag));
                set_header(&mut r, "last-modified", &http_date(meta.modified_ms));
                return Ok(r);
            }
            Precondition::Proceed => {}
        }
        if !head && ARCHIVED.contains(&meta.storage_class.as_str()) {
            return Err(extra(
                AwsError::new(
                    "InvalidObjectState",
                    403,
                    "The operation is not valid for the object's storage class",
                ),
                "StorageClass",
                meta.storage_class.clone(),
            ));
        }
        let sel = select(&read, &meta)?;
        let body = if head {
            Vec::new()
        } else {
            match storage::read_data(&req.app.store, &meta.segments, sel.start, sel.end)? {
                Some(bytes) => bytes,
                None => continue,
            }
        };
        let mut r = Response::new(Body::from(body));
        object_headers(&mut r, &read, &meta, !sel.partial, versioned);
        set_header(&mut r, "content-length", &(sel.end - sel.start).to_string());
        if sel.partial {
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            set_header(
                &mut r,
                "content-range",
                &format!("bytes {}-{}/{}", sel.start, sel.end - 1, meta.size),
            );
        }
        return Ok(r);
    }
    tracing::warn!(bucket, key, "object kept changing while being read");
    Err(AwsError::internal("object kept changing while being read"))
}

// ---- deleting ------------------------------------------------------------------------------

/// DeleteObject: 204 whether or not the key existed. In a versioned bucket it makes a
/// delete marker, or with a `versionId` removes that version for good; the answer's headers
/// say which.
pub(super) async fn delete(req: &Request<'_>) -> Result<Response, AwsError> {
    let input: types::DeleteObjectRequest = req.input(Operation::DeleteObject)?;
    buckets::require(req.app, &input.bucket)?;
    let addressed = addressed_version(input.version_id.as_deref())?;
    let deleted =
        delete_targets(&req.app.store, input.bucket, vec![(input.key, addressed)]).await?;
    let mut r = empty_response(StatusCode::NO_CONTENT);
    if let Some(Some(d)) = deleted.first() {
        if let Some(v) = &d.version_id {
            set_header(&mut r, "x-amz-version-id", v);
        }
        if d.delete_marker {
            set_header(&mut r, "x-amz-delete-marker", "true");
        }
    }
    Ok(r)
}

/// Deletes keys (or versions of keys) of a bucket in one transaction; for each target, what
/// was done (`None`: the version named does not exist).
async fn delete_targets(
    store: &Store,
    bucket: String,
    targets: Vec<(String, Addressed)>,
) -> Result<Vec<Option<Deleted>>, AwsError> {
    store
        .write(move |tx| {
            let mut b =
                BucketDoc::get(tx.catalog(), &bucket).ok_or_else(|| no_such_bucket(&bucket))?;
            let now = tx.now_ms();
            let mut out = Vec::with_capacity(targets.len());
            for (key, addressed) in &targets {
                let mut kv = KeyVersions::load(tx, &bucket, key)?;
                let done = match addressed {
                    Addressed::Latest => Some(kv.delete_latest(b.versioning, now)),
                    Addressed::Version(v) => kv.delete_version(v.as_deref()),
                };
                kv.store(tx, &mut b)?;
                out.push(done);
            }
            Ok(out)
        })
        .await
}

/// DeleteObjects (`POST /<bucket>?delete`): up to 1000 keys, each optionally with a
/// `VersionId`; `Quiet` leaves the deleted ones out of the answer.
pub(super) async fn delete_many(req: &Request<'_>) -> Result<Response, AwsError> {
    buckets::require(req.app, req.bucket())?;
    let has_checksum = Algorithm::ALL
        .iter()
        .any(|a| req.headers.contains_key(a.header()));
    if !req.headers.contains_key("content-md5") && !has_checksum {
        return Err(invalid_request(
            "Missing required header for this request: Content-MD5",
        ));
    }
    check_content_md5(req, &checksum::md5(&req.body))?;
    verify_checksum(req, &req.body, &[])?;
    let delete: types::Delete = req.document(Operation::DeleteObjects, &req.body)?;
    let quiet = delete.quiet.unwrap_or(false);
    let targets: Vec<(String, Option<String>)> = delete
        .objects
        .into_iter()
        .map(|o| (o.key, o.version_id))
        .collect();
    if targets.is_empty() || targets.len() > MAX_DELETE_KEYS {
        return Err(xml::malformed());
    }
    // A version id that cannot be one is reported per key; the others are deleted.
    let deletable: Vec<(String, Addressed)> = targets
        .iter()
        .filter_map(|(k, v)| match v.as_deref() {
            None => Some((k.clone(), Addressed::Latest)),
            Some(v) if versions::well_formed(v) => Some((
                k.clone(),
                Addressed::Version(versions::stored_id(v).map(str::to_owned)),
            )),
            Some(_) => None,
        })
        .collect();
    let mut done = delete_targets(&req.app.store, req.bucket().to_owned(), deletable)
        .await?
        .into_iter();
    let (mut deleted, mut errors) = (Vec::new(), Vec::new());
    for (key, version) in targets {
        match version {
            Some(v) if !versions::well_formed(&v) => errors.push(types::Error {
                key: Some(key),
                version_id: Some(v),
                code: Some("NoSuchVersion".to_owned()),
                message: Some("The specified version does not exist.".to_owned()),
            }),
            version => {
                let d = done.next().flatten().filter(|d| d.delete_marker);
                if quiet {
                    continue;
                }
                deleted.push(types::DeletedObject {
                    key: Some(key),
                    version_id: version,
                    delete_marker: d.as_ref().map(|_| true),
                    delete_marker_version_id: d
                        .map(|d| versions::shown_id(d.version_id.as_deref()).to_owned()),
                });
            }
        }
    }
    let out = types::DeleteObjectsOutput {
        deleted: (!deleted.is_empty()).then_some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        request_charged: None,
    };
    Ok(xml_response(xml::document("DeleteResult", &out)))
}

// ---- copying -------------------------------------------------------------------------------

/// The bucket, key and version of `x-amz-copy-source` (`bucket/key` or `/bucket/key`,
/// URL-encoded, optionally `?versionId=`).
fn copy_source(value: &str) -> Result<(String, String, Addressed), AwsError> {
    let bad = || {
        invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            "x-amz-copy-source",
            value,
        )
    };
    let (path, version) = match value.split_once('?') {
        Some((p, q)) => (
            p,
            tributary_service::parse_query(q).get("versionId").cloned(),
        ),
        None => (value, None),
    };
    let addressed = match version {
        None => Addressed::Latest,
        Some(v) if versions::well_formed(&v) => {
            Addressed::Version(versions::stored_id(&v).map(str::to_owned))
        }
        Some(v) => {
            return Err(invalid_argument(
                "Invalid version id specified",
                "x-amz-copy-source",
                &v,
            ))
        }
    };
    let path = tributary_service::percent_decode(path.strip_prefix('/').unwrap_or(path));
    match path.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => {
            Ok((b.to_owned(), k.to_owned(), addressed))
        }
        _ => Err(bad()),
    }
}

/// The copy source's metadata: the latest version or the one named.
fn copy_source_meta(
    store: &Store,
    bucket: &str,
    key: &str,
    addressed: &Addressed,
) -> Result<ObjectMeta, AwsError> {
    match addressed {
        Addressed::Latest => storage::read_meta(store, bucket, key)?.ok_or_else(|| no_such_key(key)),
        Addressed::Version(v) => match versions::find(store, bucket, key, v.as_deref())? {
            Found::Object(m) => Ok(*m),
            Found::DeleteMarker(_) => Err(invalid_request(
                "The source of a copy request may not specifically refer to a delete marker by version id.",
            )),
            Found::Nothing => Err(no_such_version(key, v.as_deref())),
        },
    }
}

/// CopyObject: a new single-part object with the source's bytes; metadata copied
/// (`x-amz-metadata-directive: COPY`, the default) or taken from the request (`REPLACE`).
pub(super) async fn copy(req: &Request<'_>) -> Result<Response, AwsError> {
    let input: types::CopyObjectRequest = req.input(Operation::CopyObject)?;
    let upload = upload!(input);
    let (dst_bucket, dst_key) = (input.bucket.clone(), input.key.clone());
    check_key(&dst_key)?;
    let (src_bucket, src_key, src_version) = copy_source(&input.copy_source)?;
    buckets::require(req.app, &dst_bucket)?;
    let src_versioned = buckets::require(req.app, &src_bucket)?.versioning.is_some();
    let sse = requested_sse(&upload)?;
    let directive = input.metadata_directive.as_deref().unwrap_or("COPY");
    if directive != "COPY" && directive != "REPLACE" {
        return Err(invalid_argument(
            "Unknown metadata directive.",
            "x-amz-metadata-directive",
            directive,
        ));
    }
    let requested_algorithm = match &input.checksum_algorithm {
        Some(a) => Some(Algorithm::parse(a).ok_or_else(unsupported_algorithm)?),
        None => None,
    };
    let mut source = None;
    for _ in 0..READ_ATTEMPTS {
        let meta = copy_source_meta(&req.app.store, &src_bucket, &src_key, &src_version)?;
        if let Some(bytes) = storage::read_data(&req.app.store, &meta.segments, 0, meta.size)? {
            source = Some((meta, bytes));
            break;
        }
    }
    let (src, data) =
        source.ok_or_else(|| AwsError::internal("copy source kept changing while being read"))?;
    let conditions = Conditions {
        if_match: input.copy_source_if_match.as_deref(),
        if_unmodified_since: input.copy_source_if_unmodified_since,
        if_none_match: input.copy_source_if_none_match.as_deref(),
        if_modified_since: input.copy_source_if_modified_since,
        names: [
            "x-amz-copy-source-if-match",
            "x-amz-copy-source-if-unmodified-since",
            "x-amz-copy-source-if-none-match",
            "x-amz-copy-source-if-modified-since",
        ],
    };
    let names = conditions.names;
    match preconditions(&conditions, &src.etag, src.modified_ms) {
        Precondition::Proceed => {}
        Precondition::Failed(c) => return Err(precondition_failed(c)),
        Precondition::NotModified if conditions.if_none_match.is_some() => {
            return Err(precondition_failed(names[2]))
        }
        Precondition::NotModified => return Err(precondition_failed(names[3])),
    }
    let same = src_bucket == dst_bucket && src_key == dst_key;
    let changes_something = directive == "REPLACE"
        || input.storage_class.is_some()
        || input.website_redirect_location.is_some()
        || input.server_side_encryption.is_some();
    if same && src_version == Addressed::Latest && !changes_something {
        return Err(invalid_request("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."));
    }
    let attrs = if directive == "REPLACE" {
        attrs(&upload)?
    } else {
        Attrs {
            content_type: src.content_type.clone(),
            headers: src.headers.clone(),
            metadata: src.metadata.clone(),
            storage_class: storage_class(upload.storage_class)?,
        }
    };
    let algorithm = requested_algorithm
        .or(src.checksum.as_ref().map(|c| c.algorithm))
        .unwrap_or(Algorithm::Crc64Nvme);
    let meta = ObjectMeta {
        size: data.len() as u64,
        etag: checksum::hex(&checksum::md5(&data)),
        modified_ms: 0,
        content_type: attrs.content_type,
        headers: attrs.headers,
        metadata: attrs.metadata,
        storage_class: attrs.storage_class,
        checksum: Some(Checksum::full(algorithm, &data)),
        segments: Vec::new(),
        parts: None,
        version_id: None,
        sse: None,
    };
    let meta = commit(
        &req.app.store,
        dst_bucket,
        dst_key,
        meta,
        data,
        WriteCondition::default(),
        sse,
    )
    .await?;
    let found = meta
        .checksum
        .as_ref()
        .map(|c| (c.algorithm, c.value.as_str()));
    let checksum = |a| checksum::member_value(found, a);
    let result = types::CopyObjectResult {
        e_tag: Some(format!("\"{}\"", meta.etag)),
        last_modified: Some(timestamp(meta.modified_ms)),
        checksum_type: meta.checksum.as_ref().map(|c| c.kind.name().to_owned()),
        checksum_crc32: checksum(Algorithm::Crc32),
        checksum_crc32_c: checksum(Algorithm::Crc32c),
        checksum_crc64_nvme: checksum(Algorithm::Crc64Nvme),
        checksum_sha1: checksum(Algorithm::Sha1),
        checksum_sha256: checksum(Algorithm::Sha256),
        ..Default::default()
    };
    let out = types::CopyObjectOutput {
        version_id: meta.version_id.clone(),
        copy_source_version_id: src_versioned
            .then(|| versions::shown_id(src.version_id.as_deref()).to_owned()),
        copy_object_result: Some(result),
        // The encryption headers are written from the object's `Sse`, as for every object
        // answer; lifecycle expiration and SSE-C are not implemented.
        ..Default::default()
    };
    let mut r = xml_response(xml::document(
        "CopyObjectResult",
        &out.copy_object_result.unwrap_or_default(),
    ));
    sse_headers(&mut r, meta.sse.as_ref());
    if let Some(v) = &out.version_id {
        set_header(&mut r, "x-amz-version-id", v);
    }
    if let Some(v) = &out.copy_source_version_id {
        set_header(&mut r, "x-amz-copy-source-version-id", v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_ranges() {
        assert_eq!(parse_range("bytes=0-9"), Some(ByteRange::From(0, Some(9))));
        assert_eq!(parse_range("bytes=5-"), Some(ByteRange::From(5, None)));
        assert_eq!(parse_range("bytes=-3"), Some(ByteRange::Suffix(3)));
        assert_eq!(parse_range("bytes=9-5"), None);
        assert_eq!(parse_range("bytes=0-1,4-5"), None);
        assert_eq!(parse_range("items=0-1"), None);
        assert_eq!(parse_range("bytes=x-1"), None);
        let size = 10;
        assert_eq!(
            resolve_range(ByteRange::From(0, Some(3)), size),
            Some((0, 4))
        );
        assert_eq!(
            resolve_range(ByteRange::From(8, Some(100)), size),
            Some((8, 10))
        );
        assert_eq!(resolve_range(ByteRange::From(10, None), size), None);
        assert_eq!(resolve_range(ByteRange::Suffix(3), size), Some((7, 10)));
        assert_eq!(resolve_range(ByteRange::Suffix(30), size), Some((0, 10)));
        assert_eq!(resolve_range(ByteRange::Suffix(0), size), None);
        assert_eq!(resolve_range(ByteRange::Suffix(1), 0), None);
    }

    #[test]
    fn evaluates_preconditions_in_s3_order() {
        let names = ["im", "ius", "inm", "ims"];
        let t = 1_700_000_000_000;
        let eval = |h: &[(&str, &str)]| {
            let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
            let date = |n: &str| {
                get(n).map(|d| {
                    let d = chrono::DateTime::parse_from_rfc2822(d).unwrap();
                    Timestamp::from_millis(d.timestamp_millis())
                })
            };
            let c = Conditions {
                if_match: get("im"),
                if_unmodified_since: date("ius"),
                if_none_match: get("inm"),
                if_modified_since: date("ims"),
                names,
            };
            preconditions(&c, "abc", t)
        };
        let before = "Mon, 13 Nov 2023 00:00:00 GMT";
        let after = "Wed, 15 Nov 2023 00:00:00 GMT";
        assert_eq!(eval(&[]), Precondition::Proceed);
        assert_eq!(eval(&[("im", "\"abc\"")]), Precondition::Proceed);
        assert_eq!(eval(&[("im", "\"xyz\"")]), Precondition::Failed("im"));
        assert_eq!(eval(&[("ius", before)]), Precondition::Failed("ius"));
        assert_eq!(eval(&[("im", "*"), ("ius", before)]), Precondition::Proceed);
        assert_eq!(eval(&[("inm", "\"abc\"")]), Precondition::NotModified);
        assert_eq!(
            eval(&[("inm", "\"x\", \"abc\"")]),
            Precondition::NotModified
        );
        assert_eq!(eval(&[("ims", after)]), Precondition::NotModified);
        assert_eq!(eval(&[("ims", before)]), Precondition::Proceed);
        assert_eq!(
            eval(&[("inm", "\"x\""), ("ims", after)]),
            Precondition::Proceed
        );
    }

    #[test]
    fn parses_copy_sources() {
        assert_eq!(
            copy_source("src/a%20b/c.txt").unwrap(),
            ("src".to_owned(), "a b/c.txt".to_owned(), Addressed::Latest)
        );
        assert_eq!(
            copy_source("/src/k?versionId=null").unwrap(),
            ("src".to_owned(), "k".to_owned(), Addressed::Version(None))
        );
        let id = versions::new_version_id();
        assert_eq!(
            copy_source(&format!("src/k?versionId={id}")).unwrap().2,
            Addressed::Version(Some(id))
        );
        assert_eq!(copy_source("src").unwrap_err().code, "InvalidArgument");
        assert_eq!(
            copy_source("src/k?versionId=v1").unwrap_err().code,
            "InvalidArgument"
        );
    }
}

//! Bucket configuration subresources: the bucket policy (`?policy`, `?policyStatus`), tags
//! (`?tagging`), default encryption (`?encryption`), Block Public Access
//! (`?publicAccessBlock`), ownership controls (`?ownershipControls`) and the versioning state
//! (`?versioning`). Each lives in the bucket's document (see [`storage`](super::storage)),
//! so it persists with the bucket and goes with it. Tributary stores and reports these
//! settings; of Block Public Access it applies only `BlockPublicPolicy` (PutBucketPolicy
//! refuses a public policy), and it does not evaluate the bucket policy on requests.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tributary_model::AwsError;
use tributary_shapes::generated::s3::Operation;

use super::storage::{BucketDoc, BucketEncryption, PublicAccessBlock, Sse, Versioning};
use super::{
    buckets, empty_response, extra, invalid_argument, method_not_allowed, no_such_bucket,
    not_implemented, objects, set_header, types, xml, xml_response, Request,
};

/// The subresources this module serves, on a bucket (never on an object).
pub(super) const SUBRESOURCES: &[&str] = &[
    "encryption",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "tagging",
    "versioning",
];

/// Serves a bucket configuration request, or `None` when the request names none of
/// [`SUBRESOURCES`].
pub(super) async fn dispatch(req: &Request<'_>) -> Option<Result<Response, AwsError>> {
    let sub = *SUBRESOURCES.iter().find(|s| req.has_query(s))?;
    let m = req.method;
    Some(match (sub, m.clone()) {
        ("policy", Method::GET) => get_policy(req),
        ("policy", Method::PUT) => put_policy(req).await,
        ("policy", Method::DELETE) => update(req, |b| b.policy = None).await,
        ("policyStatus", Method::GET) => get_policy_status(req),
        ("tagging", Method::GET) => get_tagging(req),
        ("tagging", Method::PUT) => put_tagging(req).await,
        ("tagging", Method::DELETE) => update(req, |b| b.tags = None).await,
        ("encryption", Method::GET) => get_encryption(req),
        ("encryption", Method::PUT) => put_encryption(req).await,
        ("encryption", Method::DELETE) => update(req, |b| b.encryption = None).await,
        ("publicAccessBlock", Method::GET) => get_public_access_block(req),
        ("publicAccessBlock", Method::PUT) => put_public_access_block(req).await,
        ("publicAccessBlock", Method::DELETE) => {
            update(req, |b| b.public_access_block = None).await
        }
        ("ownershipControls", Method::GET) => get_ownership(req),
        ("ownershipControls", Method::PUT) => put_ownership(req).await,
        ("ownershipControls", Method::DELETE) => update(req, |b| b.ownership = None).await,
        ("versioning", Method::GET) => get_versioning(req),
        ("versioning", Method::PUT) => put_versioning(req).await,
        _ => Err(method_not_allowed(m, "BUCKET")),
    })
}

/// Changes a bucket's document in one write; answers 204 (what every Delete* answers).
async fn update(
    req: &Request<'_>,
    change: impl Fn(&mut BucketDoc) + Send + 'static,
) -> Result<Response, AwsError> {
    write(req, change).await?;
    Ok(empty_response(StatusCode::NO_CONTENT))
}

async fn write(
    req: &Request<'_>,
    change: impl Fn(&mut BucketDoc) + Send + 'static,
) -> Result<(), AwsError> {
    let name = req.bucket().to_owned();
    req.app
        .store
        .write(move |tx| {
            let mut b = BucketDoc::get(tx.catalog(), &name).ok_or_else(|| no_such_bucket(&name))?;
            change(&mut b);
            b.put(tx)
        })
        .await
}

/// The XML body of a Put*, decoded and checked against `Content-MD5` and any additional
/// checksum like an upload, as the operation's payload structure.
fn document<T: serde::de::DeserializeOwned>(
    req: &Request<'_>,
    op: Operation,
) -> Result<T, AwsError> {
    let body = objects::receive(req)?.data;
    req.document(op, &body)
}

fn not_found(code: &'static str, message: &str, bucket: &str) -> AwsError {
    extra(AwsError::new(code, 404, message), "BucketName", bucket)
}

// ---- bucket policy ----------------------------------------------------------------------

fn malformed_policy(message: &str) -> AwsError {
    AwsError::new("MalformedPolicy", 400, message)
}

/// The members a policy statement may give as one string or a list of strings.
fn strings<'a>(v: &'a Value, what: &str) -> Result<Vec<&'a str>, AwsError> {
    let bad = || malformed_policy(&format!("Invalid value for {what}"));
    match v {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) => items.iter().map(|i| i.as_str().ok_or_else(bad)).collect(),
        _ => Err(bad()),
    }
}

/// The states a glob (`*` any run, `?` any one character) can be in after reading `s`:
/// positions in `pattern`. The glob matches `s` when the end of the pattern is among them,
/// and matches some string starting with `s` when there is any.
fn glob_states(pattern: &[u8], s: &[u8]) -> Vec<usize> {
    let close = |mut states: Vec<usize>| {
        let mut i = 0;
        while i < states.len() {
            let p = states[i];
            if pattern.get(p) == Some(&b'*') && !states.contains(&(p + 1)) {
                states.push(p + 1);
            }
            i += 1;
        }
        states
    };
    let mut states = close(vec![0]);
    for &c in s {
        let mut next = Vec::new();
        for &p in &states {
            match pattern.get(p) {
                Some(b'*') => next.push(p),
                Some(&pc) if pc == b'?' || pc == c => next.push(p + 1),
                _ => {}
            }
        }
        next.sort_unstable();
        next.dedup();
        states = close(next);
        if states.is_empty() {
            break;
        }
    }
    states
}

/// Whether a policy resource names this bucket or objects in it: an S3 ARN whose (possibly
/// wildcarded) resource part can match `<bucket>` or `<bucket>/<key>`.
fn resource_in_bucket(resource: &str, bucket: &str) -> bool {
    let mut parts = resource.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("s3"), Some(""), Some(""), Some(rest)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    if partition.is_empty() {
        return false;
    }
    let p = rest.as_bytes();
    glob_states(p, bucket.as_bytes()).contains(&p.len())
        || !glob_states(p, format!("{bucket}/").as_bytes()).is_empty()
}

/// Checks a bucket policy the way PutBucketPolicy does, with S3's messages.
fn validate_policy(bucket: &str, text: &[u8]) -> Result<(), AwsError> {
    if text.first() != Some(&b'{') {
        return Err(malformed_policy(
            "Policies must be valid JSON and the first byte must be '{'",
        ));
    }
    let doc: Value = serde_json::from_slice(text)
        .map_err(|_| malformed_policy("This policy contains invalid Json"))?;
    let Value::Object(doc) = doc else {
        return Err(malformed_policy("This policy contains invalid Json"));
    };
    if let Some(v) = doc.get("Version") {
        if !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17")) {
            return Err(malformed_policy(
                "The policy must contain a valid version string",
            ));
        }
    }
    let statements: Vec<&Value> = match doc.get("Statement") {
        None => return Err(malformed_policy("Missing required field Statement")),
        Some(Value::Array(s)) => s.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        Some(_) => return Err(malformed_policy("This policy contains invalid Json")),
    };
    if statements.is_empty() {
        return Err(malformed_policy(
            "Could not parse the policy: Statement is empty!",
        ));
    }
    for st in statements {
        let Value::Object(st) = st else {
            return Err(malformed_policy("This policy contains invalid Json"));
        };
        match st.get("Effect").map(|e| e.as_str()) {
            None => return Err(malformed_policy("Missing required field Effect")),
            Some(Some("Allow" | "Deny")) => {}
            Some(e) => {
                return Err(malformed_policy(&format!(
                    "Invalid effect: {}",
                    e.unwrap_or_default()
                )))
            }
        }
        let principal = match (st.get("Principal"), st.get("NotPrincipal")) {
            (Some(p), None) | (None, Some(p)) => p,
            (None, None) => return Err(malformed_policy("Missing required field Principal")),
            (Some(_), Some(_)) => return Err(malformed_policy("Invalid principal in policy")),
        };
        let principal_ok = match principal {
            Value::String(s) => s == "*",
            Value::Object(m) => {
                !m.is_empty()
                    && m.iter().all(|(k, v)| {
                        matches!(
                            k.as_str(),
                            "AWS" | "Service" | "Federated" | "CanonicalUser"
                        ) && strings(v, "Principal").is_ok_and(|ids| !ids.is_empty())
                    })
            }
            _ => false,
        };
        if !principal_ok {
            return Err(malformed_policy("Invalid principal in policy"));
        }
        let actions = match (st.get("Action"), st.get("NotAction")) {
            (Some(a), None) | (None, Some(a)) => strings(a, "Action")?,
            _ => return Err(malformed_policy("Missing required field Action")),
        };
        if actions.is_empty()
            || !actions.iter().all(|a| {
                *a == "*"
                    || a.split_once(':').is_some_and(|(svc, name)| {
                        svc.eq_ignore_ascii_case("s3") && !name.is_empty()
                    })
            })
        {
            return Err(malformed_policy("Policy has invalid action"));
        }
        let resources = match (st.get("Resource"), st.get("NotResource")) {
            (Some(r), None) | (None, Some(r)) => strings(r, "Resource")?,
            _ => return Err(malformed_policy("Missing required field Resource")),
        };
        if resources.is_empty() || !resources.iter().all(|r| resource_in_bucket(r, bucket)) {
            return Err(malformed_policy("Policy has invalid resource"));
        }
    }
    Ok(())
}

/// Condition keys that tie a statement to fixed callers or sources; with a fixed value they
/// keep a statement for everyone (`Principal: "*"`) from being public (S3's "The meaning of
/// public").
const RESTRICTING_KEYS: &[&str] = &[
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceip",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:userid",
    "s3:dataaccesspointaccount",
    "s3:dataaccesspointarn",
];

/// Whether a (validated) bucket policy is public: some `Allow` statement grants to anyone
/// (a wildcard principal, or `NotPrincipal`) without a condition on a restricting key with
/// fixed values.
fn is_public(policy: &Value) -> bool {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(s)) => s.iter().collect(),
        Some(s) => vec![s],
        None => Vec::new(),
    };
    let fixed = |v: &Value| {
        strings(v, "Condition").is_ok_and(|vals| {
            !vals.is_empty()
                && vals
                    .iter()
                    .all(|s| !s.contains(['*', '?']) && !s.contains("${"))
        })
    };
    statements.iter().any(|st| {
        let anyone = st.get("NotPrincipal").is_some()
            || match st.get("Principal") {
                Some(Value::String(s)) => s == "*",
                Some(Value::Object(m)) => m.values().any(|v| {
                    strings(v, "Principal").is_ok_and(|ids| ids.iter().any(|i| i.contains('*')))
                }),
                _ => false,
            };
        let restricted = st
            .get("Condition")
            .and_then(Value::as_object)
            .is_some_and(|ops| {
                ops.iter().any(|(op, keys)| {
                    !op.contains("Not")
                        && op != "Null"
                        && keys.as_object().is_some_and(|keys| {
                            keys.iter().any(|(k, v)| {
                                RESTRICTING_KEYS.contains(&k.to_ascii_lowercase().as_str())
                                    && fixed(v)
                            })
                        })
                })
            });
        st.get("Effect").and_then(Value::as_str) == Some("Allow") && anyone && !restricted
    })
}

/// PutBucketPolicy: 204 once the policy validates; a public policy is refused while the
/// bucket's `BlockPublicPolicy` is on.
async fn put_policy(req: &Request<'_>) -> Result<Response, AwsError> {
    let b = buckets::require(req.app, req.bucket())?;
    let body = objects::receive(req)?.data;
    validate_policy(req.bucket(), &body)?;
    let blocked = b.public_access_block.is_some_and(|p| p.block_public_policy);
    if blocked && serde_json::from_slice(&body).is_ok_and(|p: Value| is_public(&p)) {
        return Err(AwsError::new(
            "AccessDenied",
            403,
            format!(
                "User: {} is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::{}\" because public policies are blocked by the BlockPublicPolicy block public access setting.",
                req.caller,
                req.bucket()
            ),
        ));
    }
    let text = String::from_utf8(body)
        .map_err(|_| malformed_policy("This policy contains invalid Json"))?;
    update(req, move |b| b.policy = Some(text.clone())).await
}

/// GetBucketPolicy: the policy text as it was put.
fn get_policy(req: &Request<'_>) -> Result<Response, AwsError> {
    let b = buckets::require(req.app, req.bucket())?;
    let policy = b.policy.ok_or_else(|| {
        not_found(
            "NoSuchBucketPolicy",
            "The bucket policy does not exist",
            req.bucket(),
        )
    })?;
    let mut r = Response::new(policy.into());
    set_header(&mut r, "content-type", "application/json");
    Ok(r)
}

/// GetBucketPolicyStatus: whether the policy makes the bucket public.
fn get_policy_status(req: &Request<'_>) -> Result<Response, AwsError> {
    let b = buckets::require(req.app, req.bucket())?;
    let policy = b.policy.ok_or_else(|| {
        not_found(
            "NoSuchBucketPolicy",
            "The bucket policy does not exist",
            req.bucket(),
        )
    })?;
    let public = serde_json::from_str(&policy).is_ok_and(|p: Value| is_public(&p));
    let out = types::PolicyStatus {
        is_public: Some(public),
    };
    Ok(xml_response(xml::document("PolicyStatus", &out)))
}

// ---- tags -------------------------------------------------------------------------------

/// The most tags a bucket takes.
const MAX_BUCKET_TAGS: usize = 50;

fn invalid_tag(message: &str) -> AwsError {
    AwsError::new("InvalidTag", 400, message)
}

/// Whether a tag key or value has an allowed length (in UTF-16 code units, as S3 counts) and
/// only the characters tags allow: letters, digits, spaces and `+ - = . _ : / @`.
fn tag_text_ok(text: &str, min: usize, max: usize) -> bool {
    let len: usize = text.chars().map(char::len_utf16).sum();
    (min..=max).contains(&len)
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c))
}

/// The tag set of a PutBucketTagging body, validated.
fn parse_tags(doc: types::Tagging) -> Result<Vec<(String, String)>, AwsError> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for types::Tag { key, value } in doc.tag_set {
        if !tag_text_ok(&key, 1, 128) {
            return Err(extra(
                invalid_tag("The TagKey you have provided is invalid"),
                "TagKey",
                key,
            ));
        }
        if !tag_text_ok(&value, 0, 256) {
            return Err(extra(
                invalid_tag("The TagValue you have provided is invalid"),
                "TagValue",
                value,
            ));
        }
        if tags.iter().any(|(k, _)| *k == key) {
            return Err(extra(
                invalid_tag("Cannot provide multiple Tags with the same key"),
                "TagKey",
                key,
            ));
        }
        tags.push((key, value));
    }
    if tags.len() > MAX_BUCKET_TAGS {
        return Err(invalid_tag("Bucket tags cannot be greater than 50"));
    }
    Ok(tags)
}

/// PutBucketTagging: replaces the whole tag set (an empty one removes it); 204.
async fn put_tagging(req: &Request<'_>) -> Result<Response, AwsError> {
    buckets::require(req.app, req.bucket())?;
    let tags = parse_tags(document(req, Operation::PutBucketTagging)?)?;
    update(req, move |b| {
        b.tags = (!tags.is_empty()).then_some(tags.clone())
    })
    .await
}

fn get_tagging(req: &Request<'_>) -> Result<Response, AwsError> {
    let b = buckets::require(req.app, req.bucket())?;
    let tags = b
        .tags
        .ok_or_else(|| not_found("NoSuchTagSet", "The TagSet does not exist", req.bucket()))?;
    let out = types::GetBucketTaggingOutput {
        tag_set: tags
            .into_iter()
            .map(|(key, value)| types::Tag { key, value })
            .collect(),
    };
    Ok(xml_response(xml::document("Tagging", &out)))
}

// ---- default encryption -----------------------------------------------------------------

/// The server-side encryption algorithms a bucket default (or a PutObject) may name.
pub(super) const SSE_ALGORITHMS: &[&str] = &["AES256", "aws:kms", "aws:kms:dsse"];

fn parse_encryption(
    doc: types::ServerSideEncryptionConfiguration,
) -> Result<BucketEncryption, AwsError> {
    let Ok([rule]) = <[_; 1]>::try_from(doc.rules) else {
        return Err(xml::malformed());
    };
    let mut sse = Sse::s3();
    let (by_default, blocked_types) = (
        rule.apply_server_side_encryption_by_default,
        rule.blocked_encryption_types,
    );
    if by_default.is_none() && blocked_types.is_none() {
        return Err(xml::malformed());
    }
    if let Some(d) = by_default {
        let algorithm = d.sse_algorithm.trim();
        if !SSE_ALGORITHMS.contains(&algorithm) {
            return Err(xml::malformed());
        }
        sse.algorithm = algorithm.to_owned();
        if let Some(key) = d.kms_master_key_id {
            if !sse.is_kms() {
                return Err(extra(
                    AwsError::new(
                        "InvalidArgument",
                        400,
                        "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
                    ),
                    "ArgumentName",
                    "ApplyServerSideEncryptionByDefault",
                ));
            }
            sse.kms_key_id = Some(key.trim().to_owned()).filter(|k| !k.is_empty());
        }
    }
    if let Some(b) = rule.bucket_key_enabled {
        sse.bucket_key = b;
    }
    let mut blocked = Vec::new();
    for t in blocked_types
        .and_then(|b| b.encryption_type)
        .unwrap_or_default()
    {
        let t = t.trim();
        if !matches!(t, "NONE" | "SSE-C") {
            return Err(xml::malformed());
        }
        blocked.push(t.to_owned());
    }
    Ok(BucketEncryption {
        default: sse,
        blocked,
    })
}

/// PutBucketEncryption: 200.
async fn put_encryption(req: &Request<'_>) -> Result<Response, AwsError> {
    buckets::require(req.app, req.bucket())?;
    let enc = parse_encryption(document(req, Operation::PutBucketEncryption)?)?;
    write(req, move |b| b.encryption = Some(enc.clone())).await?;
    Ok(empty_response(StatusCode::OK))
}

/// GetBucketEncryption: the configured rule, or SSE-S3, which every bucket has had by default
/// since January 2023 (so there is no "not configured" answer any more).
fn get_encryption(req: &Request<'_>) -> Result<Response, AwsError> {
    let b = buckets::require(req.app, req.bucket())?;
    let enc = b.encryption.unwrap_or(BucketEncryption {
        default: Sse::s3(),
        blocked: Vec::new(),
    });
    let out = types::ServerSideEncryptionConfiguration {
        rules: vec![types::ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(types::ServerSideEncryptionByDefault {
                sse_algorithm: enc.default.algorithm,
                kms_master_key_id: enc.default.kms_key_id,
            }),
            bucket_key_enabled: Some(enc.default.bucket_key),
            blocked_encryption_types: (!enc.blocked.is_empty()).then_some(
                types::BlockedEncryptionTypes {
                    encryption_type: Some(enc.blocked),
                },
            ),
        }],
    };
    Ok(xml_response(xml::document(
        "ServerSideEncryptionConfiguration",
        &out,
    )))
}

// ---- Block Public Access ----------------------------------------------------------------

/// PutPublicAccessBlock: settings left out are `false`; 200.
async fn put_public_access_block(req: &Request<'_>) -> Result<Response, AwsError> {
    buckets::require(req.app, req.bucket())?;
    let doc: types::PublicAccessBlockConfiguration =
        document(req, Operation::PutPublicAccessBlock)?;
    let pab = PublicAccessBlock {
        block_public_acls: doc.block_public_acls.unwrap_or(false),
        ignore_public_acls: doc.ignore_public_acls.unwrap_or(false),
        block_public_policy: doc.block_public_policy.unwrap_or(false),
        restrict_public_buckets: doc.restrict_public_buckets.unwrap_or(false),
    };
    write(req, move |b| b.public_access_block = Some(pab)).await?;
    Ok(empty_response(StatusCode::OK))
}

fn get_public_access_block(req: &Request<'_>) -> Result<Response, AwsError> {
    let b = buckets::require(req.app, req.bucket())?;
    let p = b.public_access_block.ok_or_else(|| {
        not_found(
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
            req.bucket(),
        )
    })?;
    let out = types::PublicAccessBlockConfiguration {
        block_public_acls: Some(p.block_public_acls),
        ignore_public_acls: Some(p.ignore_public_acls),
        block_public_policy: Some(p.block_public_policy),
        restrict_public_buckets: Some(p.restrict_public_buckets),
    };
    Ok(xml_response(xml::document(
        "PublicAccessBlockConfiguration",
        &out,
    )))
}

// ---- ownership controls -----------------------------------------------------------------

/// The `ObjectOwnership` settings S3 knows.
pub(super) const OBJECT_OWNERSHIP: &[&str] = &[
    "BucketOwnerPreferred",
    "ObjectWriter",
    "BucketOwnerEnforced",
];

/// PutBucketOwnershipControls: exactly one rule; 200.
async fn put_ownership(req: &Request<'_>) -> Result<Response, AwsError> {
    buckets::require(req.app, req.bucket())?;
    let doc: types::OwnershipControls = document(req, Operation::PutBucketOwnershipControls)?;
    let Ok([rule]) = <[_; 1]>::try_from(doc.rules) else {
        return Err(xml::malformed());
    };
    let ownership = rule.object_ownership.trim().to_owned();
    if !OBJECT_OWNERSHIP.contains(&ownership.as_str()) {
        return Err(xml::malformed());
    }
    write(req, move |b| b.ownership = Some(ownership.clone())).await?;
    Ok(empty_response(StatusCode::OK))
}

fn get_ownership(req: &Request<'_>) -> Result<Response, AwsError> {
    let b = buckets::require(req.app, req.bucket())?;
    let o = b.ownership.ok_or_else(|| {
        not_found(
            "OwnershipControlsNotFoundError",
            "The bucket ownership controls were not found",
            req.bucket(),
        )
    })?;
    let out = types::OwnershipControls {
        rules: vec![types::OwnershipControlsRule {
            object_ownership: o,
        }],
    };
    Ok(xml_response(xml::document("OwnershipControls", &out)))
}

// ---- versioning -------------------------------------------------------------------------

/// PutBucketVersioning: `Enabled` or `Suspended` (a bucket never goes back to unversioned);
/// 200. MFA delete cannot be turned on here: it needs a hardware or virtual MFA device.
async fn put_versioning(req: &Request<'_>) -> Result<Response, AwsError> {
    buckets::require(req.app, req.bucket())?;
    let doc: types::VersioningConfiguration = document(req, Operation::PutBucketVersioning)?;
    let status = match doc.status.as_deref().map(str::trim) {
        None => None,
        Some("Enabled") => Some(Versioning::Enabled),
        Some("Suspended") => Some(Versioning::Suspended),
        Some(_) => return Err(xml::malformed()),
    };
    let mfa = match doc.mfa_delete.as_deref().map(str::trim) {
        None => None,
        Some("Disabled") => Some("Disabled".to_owned()),
        Some("Enabled") => return Err(not_implemented("MFA delete (MfaDelete Enabled)")),
        Some(_) => return Err(xml::malformed()),
    };
    write(req, move |b| {
        if status.is_some() {
            b.versioning = status;
        }
        if mfa.is_some() {
            b.mfa_delete = mfa.clone();
        }
    })
    .await?;
    Ok(empty_response(StatusCode::OK))
}

/// GetBucketVersioning: empty for a bucket whose versioning was never configured.
fn get_versioning(req: &Request<'_>) -> Result<Response, AwsError> {
    let b = buckets::require(req.app, req.bucket())?;
    let out = types::GetBucketVersioningOutput {
        status: b.versioning.map(|v| v.name().to_owned()),
        mfa_delete: b.mfa_delete,
    };
    Ok(xml_response(xml::document("VersioningConfiguration", &out)))
}

/// `x-amz-object-ownership` on CreateBucket: the ownership controls the bucket starts with.
pub(super) fn requested_ownership(requested: Option<&str>) -> Result<String, AwsError> {
    match requested {
        None => Ok("BucketOwnerEnforced".to_owned()),
        Some(o) if OBJECT_OWNERSHIP.contains(&o) => Ok(o.to_owned()),
        Some(o) => Err(invalid_argument(
            "Invalid x-amz-object-ownership header",
            "x-amz-object-ownership",
            o,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(statement: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
    }

    fn policy_error(bucket: &str, text: &str) -> String {
        validate_policy(bucket, text.as_bytes())
            .map(|_| "ok".to_owned())
            .unwrap_or_else(|e| format!("{} {}", e.code, e.message))
    }

    #[test]
    fn validates_bucket_policies() {
        let ok = policy(
            r#"{"Effect":"Allow","Principal":{"Service":"serverlessrepo.amazonaws.com"},
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}"#,
        );
        assert_eq!(policy_error("logs", &ok), "ok");
        let deny = policy(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:*",
                "Resource":["arn:aws:s3:::logs","arn:aws:s3:::logs/*"],
                "Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
        );
        assert_eq!(policy_error("logs", &deny), "ok");
        let wild = policy(
            r#"{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::000000000000:root"]},
                "Action":["s3:Get*"],"Resource":"arn:aws:s3:::lo?s*"}"#,
        );
        assert_eq!(policy_error("logs", &wild), "ok");
        for (text, want) in [
            (
                " {}".to_owned(),
                "MalformedPolicy Policies must be valid JSON and the first byte must be '{'",
            ),
            (
                "not json".to_owned(),
                "MalformedPolicy Policies must be valid JSON and the first byte must be '{'",
            ),
            (
                "{nope".to_owned(),
                "MalformedPolicy This policy contains invalid Json",
            ),
            (
                r#"{"Version":"2012-10-17"}"#.to_owned(),
                "MalformedPolicy Missing required field Statement",
            ),
            (
                r#"{"Statement":[]}"#.to_owned(),
                "MalformedPolicy Could not parse the policy: Statement is empty!",
            ),
            (
                r#"{"Version":"2020-01-01","Statement":[]}"#.to_owned(),
                "MalformedPolicy The policy must contain a valid version string",
            ),
            (
                policy(
                    r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}"#,
                ),
                "MalformedPolicy Policy has invalid resource",
            ),
            (
                policy(
                    r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::logsx/*"}"#,
                ),
                "MalformedPolicy Policy has invalid resource",
            ),
            (
                policy(
                    r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}"#,
                ),
                "MalformedPolicy Policy has invalid resource",
            ),
            (
                policy(
                    r#"{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances","Resource":"arn:aws:s3:::logs"}"#,
                ),
                "MalformedPolicy Policy has invalid action",
            ),
            (
                policy(r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::logs"}"#),
                "MalformedPolicy Missing required field Principal",
            ),
            (
                policy(
                    r#"{"Effect":"Maybe","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::logs"}"#,
                ),
                "MalformedPolicy Invalid effect: Maybe",
            ),
        ] {
            assert_eq!(policy_error("logs", &text), want, "{text}");
        }
    }

    #[test]
    fn tells_public_policies() {
        let public = |st: &str| is_public(&serde_json::from_str(&policy(st)).unwrap());
        let r = r#""Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*""#;
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{r}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"*"}},{r}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","NotPrincipal":{{"AWS":"arn:aws:iam::1:root"}},{r}}}"#
        )));
        assert!(!public(&format!(
            r#"{{"Effect":"Deny","Principal":"*",{r}}}"#
        )));
        assert!(!public(&format!(
            r#"{{"Effect":"Allow","Principal":{{"Service":"serverlessrepo.amazonaws.com"}},{r}}}"#
        )));
        assert!(!public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{r},"Condition":{{"StringEquals":{{"aws:SourceAccount":"000000000000"}}}}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{r},"Condition":{{"StringLike":{{"aws:SourceArn":"arn:aws:*"}}}}}}"#
        )));
        assert!(public(&format!(
            r#"{{"Effect":"Allow","Principal":"*",{r},"Condition":{{"StringNotEquals":{{"aws:SourceAccount":"1"}}}}}}"#
        )));
    }

    #[test]
    fn globs_match_buckets_and_their_objects() {
        assert!(resource_in_bucket("arn:aws:s3:::logs", "logs"));
        assert!(resource_in_bucket("arn:aws:s3:::logs/a/b", "logs"));
        assert!(resource_in_bucket("arn:aws:s3:::l*", "logs"));
        assert!(resource_in_bucket("arn:aws:s3:::*/x", "logs"));
        assert!(resource_in_bucket("arn:aws-cn:s3:::logs", "logs"));
        assert!(!resource_in_bucket("arn:aws:s3:::log", "logs"));
        assert!(!resource_in_bucket("arn:aws:s3:::logs2/*", "logs"));
        assert!(!resource_in_bucket("arn:aws:s3:us-east-1::logs", "logs"));
        assert!(!resource_in_bucket("logs", "logs"));
    }

    #[test]
    fn validates_tags() {
        let doc = |tags: &[(&str, &str)]| {
            let inner: String = tags
                .iter()
                .map(|(k, v)| format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"))
                .collect();
            let text = format!("<Tagging><TagSet>{inner}</TagSet></Tagging>");
            crate::input::document(Operation::PutBucketTagging, text.as_bytes()).unwrap()
        };
        assert_eq!(
            parse_tags(doc(&[("env", "prod"), ("team", "a b:c/d@e")])).unwrap(),
            [
                ("env".to_owned(), "prod".to_owned()),
                ("team".to_owned(), "a b:c/d@e".to_owned())
            ]
        );
        let err = |tags: &[(&str, &str)]| {
            let e = parse_tags(doc(tags)).unwrap_err();
            format!("{} {}", e.code, e.message)
        };
        assert_eq!(
            err(&[("a", "1"), ("a", "2")]),
            "InvalidTag Cannot provide multiple Tags with the same key"
        );
        let long_key = "k".repeat(129);
        assert_eq!(
            err(&[(&long_key, "v")]),
            "InvalidTag The TagKey you have provided is invalid"
        );
        assert_eq!(
            err(&[("", "v")]),
            "InvalidTag The TagKey you have provided is invalid"
        );
        let long_value = "v".repeat(257);
        assert_eq!(
            err(&[("k", &long_value)]),
            "InvalidTag The TagValue you have provided is invalid"
        );
        assert_eq!(
            err(&[("k!", "v")]),
            "InvalidTag The TagKey you have provided is invalid"
        );
        let many: Vec<(String, String)> =
            (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            err(&many),
            "InvalidTag Bucket tags cannot be greater than 50"
        );
        assert!(parse_tags(doc(&many[..50])).is_ok());
        assert!(parse_tags(doc(&[("k", &"v".repeat(256))])).is_ok());
    }

    #[test]
    fn parses_encryption_rules() {
        let parse = |rule: &str| {
            let text = format!(
                "<ServerSideEncryptionConfiguration>{rule}</ServerSideEncryptionConfiguration>"
            );
            parse_encryption(crate::input::document(
                Operation::PutBucketEncryption,
                text.as_bytes(),
            )?)
        };
        let kms = parse(
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>\
             <KMSMasterKeyID>alias/k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>\
             <BucketKeyEnabled>true</BucketKeyEnabled></Rule>",
        )
        .unwrap();
        assert_eq!(kms.default.algorithm, "aws:kms");
        assert_eq!(kms.default.kms_key_id.as_deref(), Some("alias/k"));
        assert!(kms.default.bucket_key);
        let e = parse(
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
             <KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule>",
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidArgument");
        for bad in [
            "",
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES512</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>",
            "<Rule/><Rule/>",
        ] {
            assert_eq!(parse(bad).unwrap_err().code, "MalformedXML", "{bad}");
        }
    }
}

//! Authentication: every AWS request carries a SigV4 (or, for S3, SigV2) signature. Under
//! `open` any key and secret are accepted but the signature must be well formed; under
//! `verify` it is checked against the known credentials; under `none` unsigned requests
//! pass too.

use std::time::SystemTime;

use bytes::Bytes;
use http::request::Parts;
use tributary_service::{Caller, Protocol, Route};
use tributary_sigv4::{
    decode_chunked, parse, sha256_hex, verify, verify_v2, AuthError, ChunkVerifier, Family,
    PayloadHash, RequestParts, Signed,
};

use crate::envelope::GatewayError;

/// How requests are authenticated (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// A well-formed signature is required; any access key and secret are accepted. The
    /// default on a loopback address.
    Open,
    /// The signature is checked against known credentials. The default elsewhere.
    Verify,
    /// Unsigned requests are accepted too.
    None,
}

/// The secret and account of an access key, and who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal {
    pub secret: String,
    pub account_id: String,
    /// The identity's ARN (an IAM user, a role session); `None` for the account's own keys.
    pub arn: Option<String>,
    /// Set for temporary credentials (STS).
    pub session: Option<SessionKey>,
}

/// What makes temporary credentials temporary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    /// The session token requests must carry (`X-Amz-Security-Token`).
    pub token: String,
    /// When the credentials expire, epoch milliseconds on the server clock.
    pub expires_at_ms: i64,
}

/// Who the server knows: `--credentials`, the `test`/`test` convention, and later the keys
/// IAM and STS create.
pub trait Credentials: Send + Sync + 'static {
    fn lookup(&self, access_key: &str) -> Option<Principal>;
}

/// The error family of a route, which decides AWS's codes and texts.
pub fn family(route: &Route) -> Family {
    match route.protocol {
        _ if route.service == "dynamodb" => Family::DynamoDb,
        // SQS's JSON protocol is "query compatible": its errors keep the query codes.
        _ if route.service == "sqs" => Family::Query,
        Protocol::RestJson | Protocol::Admin => Family::RestJson,
        Protocol::Query => Family::Query,
        Protocol::RestXml => Family::S3,
        Protocol::AwsJson10 | Protocol::AwsJson11 | Protocol::RpcV2Cbor => Family::Json,
    }
}

fn refusal(route: &Route, e: &AuthError) -> GatewayError {
    let (code, status, message) = e.aws(family(route));
    GatewayError::new(code, status, message)
}

/// The bucket a virtual-hosted S3 request names (SigV2 signs `/bucket/key` either way).
fn virtual_bucket(host: &str) -> Option<&str> {
    let name = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    if name.starts_with('[') || name.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    if let Some(i) = name.find(".s3.") {
        return (i > 0).then(|| &name[..i]);
    }
    let bucket = name.strip_suffix(".localhost")?;
    (bucket != "s3" && !bucket.starts_with("s3.") && !bucket.is_empty()).then_some(bucket)
}

/// Authenticates a request; answers who sent it (`None` for an unsigned request under
/// `--auth none`). `now_ms` is the server clock, against which temporary credentials expire.
pub fn authenticate(
    mode: AuthMode,
    credentials: &dyn Credentials,
    default_account: &str,
    now_ms: i64,
    route: &Route,
    parts: &Parts,
    body: &Bytes,
) -> Result<Option<Caller>, GatewayError> {
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
    };
    let signed = match parse(&req) {
        Ok(Some(s)) => s,
        Ok(None) if mode == AuthMode::None => return Ok(None),
        Ok(None) => return Err(refusal(route, &AuthError::MissingAuthentication)),
        Err(e) if mode == AuthMode::None => {
            tracing::debug!(error = %e, "ignoring a malformed signature under --auth none");
            return Ok(None);
        }
        Err(e) => return Err(refusal(route, &e)),
    };
    let principal = credentials.lookup(signed.access_key());
    let caller = Caller {
        access_key: signed.access_key().to_owned(),
        account_id: principal
            .as_ref()
            .map_or_else(|| default_account.to_owned(), |p| p.account_id.clone()),
        session_token: signed.security_token().map(str::to_owned),
        arn: principal.as_ref().and_then(|p| p.arn.clone()),
    };
    // A known session names its expiry whatever the mode: expired credentials are refused
    // even where signatures are not checked.
    if let Some(session) = principal.as_ref().and_then(|p| p.session.as_ref()) {
        if now_ms >= session.expires_at_ms {
            return Err(refusal(route, &AuthError::ExpiredToken));
        }
        if mode == AuthMode::Verify && caller.session_token.as_deref() != Some(&session.token) {
            return Err(refusal(route, &AuthError::InvalidSessionToken));
        }
    }
    if mode != AuthMode::Verify {
        return Ok(Some(caller));
    }
    let principal = principal.ok_or_else(|| {
        refusal(
            route,
            &AuthError::UnknownAccessKey {
                access_key: caller.access_key.clone(),
            },
        )
    })?;
    let now = SystemTime::now();
    match &signed {
        Signed::V4(auth) => {
            verify(&req, auth, &principal.secret, || sha256_hex(body), now)
                .map_err(|e| refusal(route, &e))?;
            if let PayloadHash::Streaming(s) = &auth.payload {
                if s.chunks_signed() {
                    let mut chunks = ChunkVerifier::new(auth, &principal.secret);
                    decode_chunked(body, Some(&mut chunks)).map_err(|e| refusal(route, &e))?;
                }
            }
        }
        Signed::V2(auth) => {
            if route.protocol != Protocol::RestXml {
                return Err(refusal(route, &AuthError::MissingAuthentication));
            }
            let host = parts
                .headers
                .get("host")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            verify_v2(&req, auth, &principal.secret, virtual_bucket(&host), now)
                .map_err(|e| refusal(route, &e))?;
        }
    }
    Ok(Some(caller))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_buckets() {
        assert_eq!(virtual_bucket("b.localhost:4566"), Some("b"));
        assert_eq!(virtual_bucket("b.s3.localhost.localstack.cloud"), Some("b"));
        assert_eq!(virtual_bucket("s3.localhost"), None);
        assert_eq!(virtual_bucket("127.0.0.1:4566"), None);
        assert_eq!(virtual_bucket("localhost:4566"), None);
    }
}

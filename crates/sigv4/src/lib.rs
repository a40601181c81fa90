//! Verifies AWS Signature Version 4 as AWS does, in every form our clients send: the
//! `Authorization` header, presigned URLs, and `aws-chunked` bodies with per-chunk and
//! trailer signatures; parses SigV2 far enough to name its access key and verifies it for
//! S3. Also signs (header form), for our own clients and tests. Pure: no I/O, no clock (the
//! caller passes the time), no key store (the caller resolves the secret of
//! [`Authorization::access_key`]).
//!
//! A gateway calls [`parse`]; `None` is an anonymous request ([`AuthError::MissingAuthentication`]
//! where the operation needs a signature). For [`Signed::V4`] it resolves the secret of the
//! access key ([`AuthError::UnknownAccessKey`] if there is none) and calls [`verify`]; for
//! a `STREAMING-*` payload it then decodes the body with [`decode_chunked`] and a
//! [`ChunkVerifier`]. For [`Signed::V2`] (S3 only) it calls [`verify_v2`]. Any refusal is
//! rendered with [`AuthError::aws`] in the [`Family`] of the service.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use tributary_sigv4::{parse, sha256_hex, sign, verify, RequestParts, Signed, SigningParams};
//!
//! let now = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 20150830T123600Z
//! let params = SigningParams {
//!     access_key: "AKIDEXAMPLE",
//!     secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
//!     region: "us-east-1",
//!     service: "service",
//! };
//! let mut headers = vec![("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")];
//! let unsigned = RequestParts { method: "GET", path: "/", query: "a=1", headers: &headers };
//! let authorization = sign(&unsigned, &params, &sha256_hex(b""));
//! headers.push(("authorization", &authorization));
//! let parts = RequestParts { method: "GET", path: "/", query: "a=1", headers: &headers };
//!
//! let Some(Signed::V4(auth)) = parse(&parts)? else { panic!("signed") };
//! assert_eq!(auth.access_key, "AKIDEXAMPLE");
//! verify(&parts, &auth, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", || sha256_hex(b""), now)?;
//! # Ok::<(), tributary_sigv4::AuthError>(())
//! ```

mod canonical;
mod chunked;
mod error;
mod parse;
mod sigv2;
mod time;

use std::time::SystemTime;

pub use canonical::{sha256_hex, PathStyle};
pub use chunked::{decode_chunked, ChunkVerifier, DecodedBody};
pub use error::{AuthError, ExpiresProblem, Family, Kind};
pub use parse::{parse, MAX_EXPIRES_SECS};
pub use sigv2::verify_v2;
pub use time::format_amz_date;

/// How far a header-signed request's time may be from the server's, each way (and how far
/// in the future a presigned URL may start): 15 minutes, as AWS allows.
pub const MAX_SKEW_SECS: u64 = 15 * 60;

/// What the request carries, borrowed from the HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, as sent (`GET`).
    pub method: &'a str,
    /// The path as on the wire, still percent-encoded (`/my%20key`).
    pub path: &'a str,
    /// The raw query string without `?`, still percent-encoded (`""` when there is none).
    pub query: &'a str,
    /// Every header, in the order received, repeated names included; names in any case.
    /// Over HTTP/2, pass the authority as `host` (a `:authority` entry is also understood).
    pub headers: &'a [(&'a str, &'a str)],
}

/// The signature a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// Signature Version 4, header or presigned; check it with [`verify`].
    V4(Authorization),
    /// Signature Version 2 (still sent by boto3 for some presigned S3 URLs); check it with
    /// [`verify_v2`].
    V2(SigV2),
}

impl Signed {
    /// The access key the request claims.
    pub fn access_key(&self) -> &str {
        match self {
            Signed::V4(a) => &a.access_key,
            Signed::V2(a) => &a.access_key,
        }
    }

    /// The session token of temporary credentials (`X-Amz-Security-Token`), if any.
    pub fn security_token(&self) -> Option<&str> {
        match self {
            Signed::V4(a) => a.security_token.as_deref(),
            Signed::V2(a) => a.security_token.as_deref(),
        }
    }
}

/// A parsed SigV4 signature: who claims to sign, for what scope, over which headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Header or presigned.
    pub kind: Kind,
    /// The access key of the credential.
    pub access_key: String,
    /// The credential scope's date, `yyyymmdd`.
    pub date: String,
    /// The credential scope's region.
    pub region: String,
    /// The credential scope's service (`s3`, `dynamodb`, `lambda`, ...).
    pub service: String,
    /// The signed header names, lowercased and sorted.
    pub signed_headers: Vec<String>,
    /// The signature sent (hex).
    pub signature: String,
    /// The request time as signed, `yyyymmddThhmmssZ`.
    pub amz_date: String,
    /// The request time, Unix seconds.
    pub time: u64,
    /// Presigned URLs: the validity in seconds from [`Authorization::time`] (`X-Amz-Expires`).
    pub expires: Option<u64>,
    /// The session token of temporary credentials (`X-Amz-Security-Token`), for the caller
    /// to check; it is part of what is signed when it is a signed header or a query
    /// parameter.
    pub security_token: Option<String>,
    /// What the canonical request uses as the payload hash.
    pub payload: PayloadHash,
    /// How the canonical URI is formed; chosen from the service, for the caller to override.
    pub path_style: PathStyle,
}

/// The payload hash a request signs (the last line of its canonical request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHash {
    /// `UNSIGNED-PAYLOAD`: the body is not signed (presigned S3 URLs, or declared).
    Unsigned,
    /// An `aws-chunked` body (`x-amz-content-sha256: STREAMING-...`).
    Streaming(Streaming),
    /// A hex SHA-256 declared in `x-amz-content-sha256`; the body must hash to it.
    Declared(String),
    /// No `x-amz-content-sha256`: the SHA-256 of the body.
    Body,
}

/// The `aws-chunked` variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every chunk signed, chained from the seed.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    SignedWithTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned chunks with a trailer (checksums).
    UnsignedWithTrailer,
}

impl Streaming {
    /// The `x-amz-content-sha256` value, which is also the payload hash signed.
    pub fn as_str(self) -> &'static str {
        match self {
            Streaming::Signed => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Streaming::SignedWithTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            Streaming::UnsignedWithTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        }
    }

    /// Whether the chunks carry signatures.
    pub fn chunks_signed(self) -> bool {
        self != Streaming::UnsignedWithTrailer
    }
}

/// A parsed SigV2 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV2 {
    /// `Authorization: AWS AKID:sig` or the `AWSAccessKeyId`/`Signature`/`Expires` query.
    pub kind: Kind,
    /// The access key.
    pub access_key: String,
    /// The base64 HMAC-SHA1 signature.
    pub signature: String,
    /// Presigned: the expiry, Unix seconds (`Expires`).
    pub expires: Option<u64>,
    /// The session token, if any.
    pub security_token: Option<String>,
}

/// Checks a SigV4 signature parsed by [`parse`] against the request, with the secret of
/// its access key, at time `now`. `body_sha256` gives the hex SHA-256 of the body; it is
/// called only when the payload hash needs it (not for `UNSIGNED-PAYLOAD` or streaming
/// bodies, whose chunks the caller checks with [`ChunkVerifier`] or [`decode_chunked`]).
///
/// Checks, in order: the time (15 minutes of skew for headers; the `X-Amz-Expires` window
/// for presigned URLs), the signature, then the body against a declared
/// `x-amz-content-sha256`.
pub fn verify(
    parts: &RequestParts<'_>,
    auth: &Authorization,
    secret: &str,
    body_sha256: impl FnOnce() -> String,
    now: SystemTime,
) -> Result<(), AuthError> {
    check_time(auth, time::unix(now))?;
    let mut body_sha256 = Some(body_sha256);
    let payload: String = match &auth.payload {
        PayloadHash::Unsigned => "UNSIGNED-PAYLOAD".to_owned(),
        PayloadHash::Streaming(s) => s.as_str().to_owned(),
        PayloadHash::Declared(h) => h.clone(),
        PayloadHash::Body => body_sha256.take().map(|f| f()).unwrap_or_default(),
    };
    let key = canonical::signing_key(secret, &auth.date, &auth.region, &auth.service);
    let mut first = None;
    let mut ok = false;
    for (plus_is_space, excluded) in query_readings(parts.query, auth.kind) {
        let query = canonical::canonical_query(parts.query, plus_is_space, excluded);
        let (canonical_request, string_to_sign) = signing_strings(parts, auth, &payload, &query);
        ok = canonical::signatures_match(
            &canonical::hmac(&key, string_to_sign.as_bytes()),
            &auth.signature,
        );
        if ok {
            break;
        }
        first.get_or_insert((canonical_request, string_to_sign));
    }
    if !ok {
        let (canonical_request, string_to_sign) = first.unwrap_or_default();
        return Err(AuthError::SignatureMismatch {
            canonical_request,
            string_to_sign,
        });
    }
    if let (PayloadHash::Declared(declared), Some(f)) = (&auth.payload, body_sha256) {
        let computed = f();
        if !declared.eq_ignore_ascii_case(&computed) {
            return Err(AuthError::ContentSha256Mismatch {
                declared: declared.clone(),
                computed,
            });
        }
    }
    Ok(())
}

fn check_time(auth: &Authorization, now: u64) -> Result<(), AuthError> {
    let t = auth.time;
    match auth.expires {
        None => {
            if t.saturating_add(MAX_SKEW_SECS) < now || t > now.saturating_add(MAX_SKEW_SECS) {
                return Err(AuthError::RequestTimeSkewed {
                    amz_date: auth.amz_date.clone(),
                    now,
                    future: t > now,
                });
            }
        }
        Some(expires) => {
            if t > now.saturating_add(MAX_SKEW_SECS) {
                return Err(AuthError::PresignedNotYetValid {
                    amz_date: auth.amz_date.clone(),
                    now,
                });
            }
            if now > t.saturating_add(expires) {
                return Err(AuthError::PresignedExpired {
                    amz_date: auth.amz_date.clone(),
                    now,
                });
            }
        }
    }
    Ok(())
}

/// The readings of a query string a client may have signed, most likely first: whether a
/// raw `+` is a space, and which keys were not signed.
///
/// - A raw `+` is a space to form decoders (the AWS SDKs) and a plus to others; a client
///   that writes its query itself may have meant either.
/// - Presigned URLs never sign `X-Amz-Signature`; some (the SDKs' "session token after
///   signing" mode, used by IoT and the AWS test suite) do not sign
///   `X-Amz-Security-Token` either. The caller checks the token itself.
fn query_readings(query: &str, kind: Kind) -> Vec<(bool, &'static [&'static str])> {
    const HEADER: &[&str] = &[];
    const PRESIGNED: &[&str] = &["X-Amz-Signature"];
    const TOKEN_AFTER: &[&str] = &["X-Amz-Signature", "X-Amz-Security-Token"];
    let excluded = if kind == Kind::Presigned {
        PRESIGNED
    } else {
        HEADER
    };
    let mut readings = vec![(true, excluded)];
    if query.contains('+') {
        readings.push((false, excluded));
    }
    if kind == Kind::Presigned && query.contains("X-Amz-Security-Token=") {
        readings.push((true, TOKEN_AFTER));
    }
    readings
}

/// The canonical request and string to sign of a request under `auth`, given its
/// canonical query.
fn signing_strings(
    parts: &RequestParts<'_>,
    auth: &Authorization,
    payload: &str,
    query: &str,
) -> (String, String) {
    let canonical_request = canonical::canonical_request(
        parts.method,
        &canonical::canonical_uri(parts.path, auth.path_style),
        query,
        &canonical::canonical_headers(parts.headers, &auth.signed_headers),
        &auth.signed_headers,
        payload,
    );
    let scope = canonical::scope(&auth.date, &auth.region, &auth.service);
    let string_to_sign = canonical::string_to_sign(&auth.amz_date, &scope, &canonical_request);
    (canonical_request, string_to_sign)
}

/// Who signs, for [`sign`].
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key.
    pub access_key: &'a str,
    /// Its secret.
    pub secret: &'a str,
    /// The region of the scope.
    pub region: &'a str,
    /// The service of the scope (`s3` signs the path as sent).
    pub service: &'a str,
}

/// Headers SDKs leave unsigned because proxies change them.
const UNSIGNED_HEADERS: [&str; 5] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "expect",
    "transfer-encoding",
];

/// Signs a request in the header form and returns the `Authorization` header value. Every
/// header of `parts` is signed except those proxies rewrite (`user-agent`, `expect`,
/// `transfer-encoding`, `x-amzn-trace-id`); `parts` must already carry `host` and
/// `x-amz-date` (see [`format_amz_date`]), which gives the signing time, and any
/// `x-amz-security-token` or `x-amz-content-sha256`. `payload_sha256` is the hex SHA-256 of
/// the body, or `UNSIGNED-PAYLOAD` / a `STREAMING-...` value.
pub fn sign(parts: &RequestParts<'_>, params: &SigningParams<'_>, payload_sha256: &str) -> String {
    let amz_date = parse::header(parts, "x-amz-date")
        .unwrap_or_default()
        .trim();
    let date = amz_date.get(..8).unwrap_or_default();
    let signed = canonical::normalize_signed_headers(
        parts
            .headers
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !UNSIGNED_HEADERS.iter().any(|u| n.eq_ignore_ascii_case(u))),
    );
    let canonical_request = canonical::canonical_request(
        parts.method,
        &canonical::canonical_uri(parts.path, PathStyle::for_service(params.service)),
        &canonical::canonical_query(parts.query, true, &[]),
        &canonical::canonical_headers(parts.headers, &signed),
        &signed,
        payload_sha256,
    );
    let scope = canonical::scope(date, params.region, params.service);
    let string_to_sign = canonical::string_to_sign(amz_date, &scope, &canonical_request);
    let key = canonical::signing_key(params.secret, date, params.region, params.service);
    let signature = hex::encode(canonical::hmac(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        params.access_key,
        signed.join(";")
    )
}

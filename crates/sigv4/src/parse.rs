//! Finds and parses the signature a request carries: a SigV4 `Authorization` header, SigV4
//! presigned query parameters, or SigV2 (either form). Parsing checks the form only; the
//! signature itself is checked by [`crate::verify`].

use crate::canonical::{decode_query_part, normalize_signed_headers, PathStyle};
use crate::error::{AuthError, ExpiresProblem, Kind};
use crate::time::{format_amz_date, parse_amz_date, parse_http_date};
use crate::{Authorization, PayloadHash, RequestParts, SigV2, Signed, Streaming};

/// The longest validity of a presigned URL: a week.
pub const MAX_EXPIRES_SECS: u64 = 604_800;

/// The first value of a header, by case-insensitive name.
pub(crate) fn header<'a>(parts: &RequestParts<'a>, name: &str) -> Option<&'a str> {
    parts
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// The query parameters that carry signatures, decoded (first occurrence wins, as AWS
/// reads them).
#[derive(Default)]
struct AuthParams {
    algorithm: Option<String>,
    credential: Option<String>,
    signature: Option<String>,
    date: Option<String>,
    signed_headers: Option<String>,
    expires: Option<String>,
    security_token: Option<String>,
    content_sha256: Option<String>,
    v2_access_key: Option<String>,
    v2_signature: Option<String>,
    v2_expires: Option<String>,
}

impl AuthParams {
    fn from_query(query: &str) -> AuthParams {
        let mut p = AuthParams::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match k {
                "X-Amz-Algorithm" => &mut p.algorithm,
                "X-Amz-Credential" => &mut p.credential,
                "X-Amz-Signature" => &mut p.signature,
                "X-Amz-Date" => &mut p.date,
                "X-Amz-SignedHeaders" => &mut p.signed_headers,
                "X-Amz-Expires" => &mut p.expires,
                "X-Amz-Security-Token" => &mut p.security_token,
                "X-Amz-Content-Sha256" => &mut p.content_sha256,
                "AWSAccessKeyId" => &mut p.v2_access_key,
                "Signature" => &mut p.v2_signature,
                "Expires" => &mut p.v2_expires,
                _ => continue,
            };
            if slot.is_none() {
                // A SigV2 signature is base64: a raw `+` in it is a plus, never a space.
                let plus_is_space = k != "Signature";
                let decoded = decode_query_part(v, plus_is_space);
                *slot = Some(String::from_utf8_lossy(&decoded).into_owned());
            }
        }
        p
    }

    fn has_v4(&self) -> bool {
        self.algorithm.is_some() || self.credential.is_some() || self.signature.is_some()
    }

    fn has_v2(&self) -> bool {
        self.v2_access_key.is_some()
    }
}

/// Finds the signature of a request. `Ok(None)`: the request is anonymous (no
/// `Authorization` header, no signing query parameters).
pub fn parse(parts: &RequestParts<'_>) -> Result<Option<Signed>, AuthError> {
    let auth_header = header(parts, "authorization");
    let params = AuthParams::from_query(parts.query);
    let mechanisms = usize::from(auth_header.is_some())
        + usize::from(params.has_v4())
        + usize::from(params.has_v2());
    if mechanisms > 1 {
        return Err(AuthError::MultipleAuthMechanisms);
    }
    if let Some(value) = auth_header {
        return parse_header(parts, value).map(Some);
    }
    if params.has_v4() {
        return parse_presigned(parts, params).map(|a| Some(Signed::V4(a)));
    }
    if params.has_v2() {
        return parse_v2_presigned(params).map(|a| Some(Signed::V2(a)));
    }
    Ok(None)
}

fn parse_header(parts: &RequestParts<'_>, value: &str) -> Result<Signed, AuthError> {
    let value = value.trim();
    let (algorithm, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if algorithm == "AWS" {
        return parse_v2_header(parts, rest.trim()).map(Signed::V2);
    }
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(AuthError::UnsupportedAlgorithm {
            kind: Kind::Header,
            algorithm: algorithm.to_owned(),
        });
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for param in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = param.split_once('=') else {
            return Err(AuthError::NotKeyValue {
                pair: param.to_owned(),
                header: value.to_owned(),
            });
        };
        // A repeated parameter: the last one counts, as AWS reads it.
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let date_header = header(parts, "x-amz-date").or_else(|| header(parts, "date"));
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Credential");
    }
    if signature.is_none() {
        missing.push("Signature");
    }
    if signed_headers.is_none() {
        missing.push("SignedHeaders");
    }
    if date_header.is_none() {
        missing.push("Date");
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some(date)) =
        (credential, signed_headers, signature, date_header)
    else {
        return Err(AuthError::MissingParameters {
            kind: Kind::Header,
            missing,
        });
    };
    let date = date.trim();
    // `X-Amz-Date` is always the basic format; a `Date` header may be an HTTP date, which
    // signs as its basic-format equivalent.
    let (amz_date, time) = match parse_amz_date(date) {
        Some(t) => (date.to_owned(), t),
        None => match parse_http_date(date) {
            Some(t) if header(parts, "x-amz-date").is_none() => (format_amz_date(t), t),
            _ => {
                return Err(AuthError::InvalidDate {
                    kind: Kind::Header,
                    value: date.to_owned(),
                })
            }
        },
    };
    let security_token = header(parts, "x-amz-security-token").map(|t| t.trim().to_owned());
    build(
        parts,
        Kind::Header,
        credential,
        signed_headers,
        signature,
        amz_date,
        time,
        None,
        security_token,
        None,
    )
    .map(Signed::V4)
}

fn parse_presigned(parts: &RequestParts<'_>, p: AuthParams) -> Result<Authorization, AuthError> {
    if let Some(algorithm) = p.algorithm.as_deref() {
        if algorithm != "AWS4-HMAC-SHA256" {
            return Err(AuthError::UnsupportedAlgorithm {
                kind: Kind::Presigned,
                algorithm: algorithm.to_owned(),
            });
        }
    }
    let mut missing = Vec::new();
    for (name, value) in [
        ("X-Amz-Algorithm", &p.algorithm),
        ("X-Amz-Credential", &p.credential),
        ("X-Amz-Signature", &p.signature),
        ("X-Amz-Date", &p.date),
        ("X-Amz-SignedHeaders", &p.signed_headers),
    ] {
        if value.is_none() {
            missing.push(name);
        }
    }
    let (Some(credential), Some(signature), Some(date), Some(signed_headers)) =
        (&p.credential, &p.signature, &p.date, &p.signed_headers)
    else {
        return Err(AuthError::MissingParameters {
            kind: Kind::Presigned,
            missing,
        });
    };
    let time = parse_amz_date(date).ok_or_else(|| AuthError::InvalidDate {
        kind: Kind::Presigned,
        value: date.clone(),
    })?;
    let expires = p.expires.as_deref().map(parse_expires).transpose()?;
    let security_token = p
        .security_token
        .clone()
        .or_else(|| header(parts, "x-amz-security-token").map(|t| t.trim().to_owned()));
    let auth = build(
        parts,
        Kind::Presigned,
        credential,
        signed_headers,
        signature,
        date.clone(),
        time,
        expires,
        security_token,
        p.content_sha256.as_deref(),
    )?;
    // S3 requires an expiry on presigned URLs; other services fall back to the clock-skew
    // window when there is none.
    if auth.service == "s3" && auth.expires.is_none() {
        return Err(AuthError::MissingParameters {
            kind: Kind::Presigned,
            missing: vec!["X-Amz-Expires"],
        });
    }
    Ok(auth)
}

fn parse_expires(value: &str) -> Result<u64, AuthError> {
    let err = |problem| AuthError::InvalidExpires {
        value: value.to_owned(),
        problem,
    };
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(ExpiresProblem::NotANumber));
    }
    if value.starts_with('-') || digits.bytes().all(|b| b == b'0') {
        return Err(err(ExpiresProblem::NotPositive));
    }
    match digits.parse::<u64>() {
        Ok(n) if n <= MAX_EXPIRES_SECS => Ok(n),
        _ => Err(err(ExpiresProblem::TooLarge)),
    }
}

/// Checks the credential, date and signed headers common to both forms and builds the
/// [`Authorization`].
#[allow(clippy::too_many_arguments)]
fn build(
    parts: &RequestParts<'_>,
    kind: Kind,
    credential: &str,
    signed_headers: &str,
    signature: &str,
    amz_date: String,
    time: u64,
    expires: Option<u64>,
    security_token: Option<String>,
    query_content_sha256: Option<&str>,
) -> Result<Authorization, AuthError> {
    let malformed = || AuthError::MalformedCredential {
        kind,
        credential: credential.to_owned(),
    };
    let fields: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, terminator] = fields.as_slice() else {
        return Err(malformed());
    };
    if access_key.is_empty() || region.is_empty() || service.is_empty() {
        return Err(malformed());
    }
    if *terminator != "aws4_request" {
        return Err(AuthError::InvalidTerminator {
            kind,
            terminator: (*terminator).to_owned(),
        });
    }
    if amz_date.get(..8) != Some(*date) {
        return Err(AuthError::ScopeDateMismatch {
            kind,
            scope_date: (*date).to_owned(),
            amz_date,
        });
    }
    let signed_headers = normalize_signed_headers(signed_headers.split(';'));
    if !signed_headers
        .iter()
        .any(|h| h == "host" || h == ":authority")
    {
        return Err(AuthError::HostNotSigned { kind });
    }
    let is_s3 = PathStyle::for_service(service) == PathStyle::AsSent;
    let declared = header(parts, "x-amz-content-sha256")
        .map(str::trim)
        .or(query_content_sha256);
    let payload = match declared {
        Some(value) => classify_payload(value)?,
        None if is_s3 && kind == Kind::Header => return Err(AuthError::MissingContentSha256),
        None if is_s3 => PayloadHash::Unsigned,
        None => PayloadHash::Body,
    };
    Ok(Authorization {
        kind,
        access_key: (*access_key).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers,
        signature: signature.to_owned(),
        amz_date,
        time,
        expires,
        security_token,
        payload,
        path_style: PathStyle::for_service(service),
    })
}

/// What an `x-amz-content-sha256` value means.
fn classify_payload(value: &str) -> Result<PayloadHash, AuthError> {
    Ok(match value {
        "UNSIGNED-PAYLOAD" => PayloadHash::Unsigned,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => PayloadHash::Streaming(Streaming::Signed),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
            PayloadHash::Streaming(Streaming::SignedWithTrailer)
        }
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => {
            PayloadHash::Streaming(Streaming::UnsignedWithTrailer)
        }
        v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            PayloadHash::Declared(v.to_owned())
        }
        v => {
            return Err(AuthError::InvalidContentSha256 {
                value: v.to_owned(),
            })
        }
    })
}

fn parse_v2_header(parts: &RequestParts<'_>, rest: &str) -> Result<SigV2, AuthError> {
    let (access_key, signature) = rest.split_once(':').ok_or(AuthError::MalformedV2Header)?;
    if access_key.is_empty() || signature.is_empty() {
        return Err(AuthError::MalformedV2Header);
    }
    let security_token = header(parts, "x-amz-security-token").map(|t| t.trim().to_owned());
    Ok(SigV2 {
        kind: Kind::Header,
        access_key: access_key.to_owned(),
        signature: signature.to_owned(),
        expires: None,
        security_token,
    })
}

fn parse_v2_presigned(p: AuthParams) -> Result<SigV2, AuthError> {
    let (Some(access_key), Some(signature), Some(expires)) =
        (p.v2_access_key, p.v2_signature, p.v2_expires)
    else {
        return Err(AuthError::MissingV2Parameters);
    };
    let expires = expires
        .parse::<u64>()
        .map_err(|_| AuthError::InvalidExpires {
            value: expires.clone(),
            problem: ExpiresProblem::NotANumber,
        })?;
    Ok(SigV2 {
        kind: Kind::Presigned,
        access_key,
        signature,
        expires: Some(expires),
        security_token: p.security_token,
    })
}

//! Signature Version 2 for S3 (`Authorization: AWS AKID:sig`, or the `AWSAccessKeyId`,
//! `Signature` and `Expires` query of presigned URLs, which boto3 still makes): a base64
//! HMAC-SHA1 over S3's string to sign (botocore `HmacV1Auth`).

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::canonical::decode_query_part;
use crate::error::{AuthError, Kind};
use crate::parse::header;
use crate::time::{parse_amz_date, parse_http_date, unix};
use crate::{RequestParts, SigV2, MAX_SKEW_SECS};

/// The query parameters S3 signs as sub-resources (botocore `HmacV1Auth.QSAOfInterest`).
const SUBRESOURCES: [&str; 37] = [
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "retention",
    "legal-hold",
];

/// S3's SigV2 string to sign: method, `Content-MD5`, `Content-Type`, the date (`Expires`
/// for presigned URLs; empty when `x-amz-date` is sent), the `x-amz-*` headers, then the
/// resource: `/bucket` for virtual-hosted requests, the path as sent, and the signed
/// sub-resources of the query.
pub(crate) fn string_to_sign(
    parts: &RequestParts<'_>,
    auth: &SigV2,
    bucket: Option<&str>,
    bucket_only_slash: bool,
) -> String {
    let std_header = |name| header(parts, name).map(str::trim).unwrap_or_default();
    let date = match auth.expires {
        Some(expires) => expires.to_string(),
        None if header(parts, "x-amz-date").is_some() => String::new(),
        None => std_header("date").to_owned(),
    };
    let mut s = format!(
        "{}\n{}\n{}\n{date}\n",
        parts.method,
        std_header("content-md5"),
        std_header("content-type")
    );
    let mut amz: Vec<(String, Vec<&str>)> = Vec::new();
    for (name, value) in parts.headers {
        let name = name.to_ascii_lowercase();
        if !name.starts_with("x-amz-") {
            continue;
        }
        match amz.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value.trim()),
            None => amz.push((name, vec![value.trim()])),
        }
    }
    amz.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, values) in amz {
        s.push_str(&name);
        s.push(':');
        s.push_str(&values.join(","));
        s.push('\n');
    }
    if let Some(bucket) = bucket {
        s.push('/');
        s.push_str(bucket);
    }
    s.push_str(if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    });
    // A path-style request that names only a bucket signs it as `/bucket/` (S3's
    // CanonicalizedResource; botocore's `auth_path`).
    if bucket.is_none()
        && bucket_only_slash
        && parts.path.len() > 1
        && !parts.path[1..].contains('/')
    {
        s.push('/');
    }
    let mut sub: Vec<(&str, Option<String>)> = parts
        .query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = match pair.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (pair, None),
            };
            SUBRESOURCES.contains(&k).then(|| {
                let v =
                    v.map(|v| String::from_utf8_lossy(&decode_query_part(v, false)).into_owned());
                (k, v)
            })
        })
        .collect();
    sub.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (k, v)) in sub.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

/// Checks an S3 SigV2 signature parsed by [`crate::parse`] with the secret of its access
/// key, at time `now`. `bucket` is the bucket named by the host of a virtual-hosted-style
/// request (SigV2 signs `/bucket/key` either way); `None` for path-style requests.
pub fn verify_v2(
    parts: &RequestParts<'_>,
    auth: &SigV2,
    secret: &str,
    bucket: Option<&str>,
    now: SystemTime,
) -> Result<(), AuthError> {
    let now = unix(now);
    match auth.expires {
        Some(expires) if now > expires => {
            return Err(AuthError::PresignedExpired {
                amz_date: expires.to_string(),
                now,
            })
        }
        Some(_) => {}
        None => {
            let date = header(parts, "x-amz-date")
                .or_else(|| header(parts, "date"))
                .ok_or_else(|| AuthError::MissingParameters {
                    kind: Kind::Header,
                    missing: vec!["Date"],
                })?
                .trim();
            let t = parse_http_date(date)
                .or_else(|| parse_amz_date(date))
                .ok_or_else(|| AuthError::InvalidDate {
                    kind: Kind::Header,
                    value: date.to_owned(),
                })?;
            if t.saturating_add(MAX_SKEW_SECS) < now || t > now.saturating_add(MAX_SKEW_SECS) {
                return Err(AuthError::RequestTimeSkewed {
                    amz_date: crate::format_amz_date(t),
                    now,
                    future: t > now,
                });
            }
        }
    }
    // Some proxies turn the `+` of a base64 signature in a query into a space.
    let provided = STANDARD
        .decode(auth.signature.replace(' ', "+"))
        .unwrap_or_default();
    let matches = |string_to_sign: &str| {
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.as_bytes()) else {
            return false; // HMAC takes keys of any length
        };
        mac.update(string_to_sign.as_bytes());
        mac.verify_slice(&provided).is_ok()
    };
    // S3's form first; then the bare `/bucket` some clients sign.
    let string_to_sign = string_to_sign(parts, auth, bucket, true);
    if matches(&string_to_sign) || matches(&self::string_to_sign(parts, auth, bucket, false)) {
        return Ok(());
    }
    Err(AuthError::SignatureMismatch {
        canonical_request: String::new(),
        string_to_sign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, Signed};
    use std::time::{Duration, UNIX_EPOCH};

    // The examples of the S3 developer guide, "Signing and authenticating REST requests"
    // (SigV2), with its example key.
    const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn v2(parts: &RequestParts<'_>) -> SigV2 {
        match parse(parts) {
            Ok(Some(Signed::V2(a))) => a,
            other => panic!("{other:?}"),
        }
    }

    fn sign(s: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(s.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn the_documented_object_get_verifies() {
        // "Object GET" of the S3 guide: virtual-hosted bucket johnsmith.
        assert_eq!(
            sign("GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg"),
            "bWq2s1WEIj+Ydj0vQ697zp+IXMU="
        );
        let headers = [
            ("Host", "johnsmith.s3.amazonaws.com"),
            ("Date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            (
                "Authorization",
                "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
            ),
        ];
        let parts = RequestParts {
            method: "GET",
            path: "/photos/puppy.jpg",
            query: "",
            headers: &headers,
        };
        let a = v2(&parts);
        assert_eq!(a.access_key, KEY);
        // RFC 1123 dates with a numeric zone, as the guide writes them.
        let t = 1_175_024_202;
        verify_v2(&parts, &a, SECRET, Some("johnsmith"), at(t)).unwrap();
        assert!(matches!(
            verify_v2(&parts, &a, "wrong", Some("johnsmith"), at(t)),
            Err(AuthError::SignatureMismatch { .. })
        ));
        assert!(matches!(
            verify_v2(&parts, &a, SECRET, None, at(t)),
            Err(AuthError::SignatureMismatch { .. })
        ));
        assert!(matches!(
            verify_v2(&parts, &a, SECRET, Some("johnsmith"), at(t + 3600)),
            Err(AuthError::RequestTimeSkewed { future: false, .. })
        ));
    }

    #[test]
    fn signs_amz_headers_and_subresources() {
        let headers = [
            ("Host", "s3.amazonaws.com"),
            ("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"),
            ("Content-Type", "text/plain"),
            ("Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="),
            ("X-Amz-Meta-ReviewedBy", "joe@example.com"),
            ("x-amz-meta-reviewedby", "jane@example.com"),
            ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:x"),
        ];
        let parts = RequestParts {
            method: "PUT",
            path: "/bucket/a%20key",
            query: "uploadId=abc%2B&partNumber=2&x-id=UploadPart&acl",
            headers: &headers,
        };
        let a = v2(&parts);
        assert_eq!(
            string_to_sign(&parts, &a, None, true),
            "PUT\n4gJE4saaMU4BqNR0kLY+lw==\ntext/plain\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\nx-amz-meta-reviewedby:joe@example.com,jane@example.com\n/bucket/a%20key?acl&partNumber=2&uploadId=abc+"
        );
    }

    #[test]
    fn presigned_urls_sign_expires_and_expire() {
        // "Query string request authentication" of the S3 guide.
        let expires = 1_175_139_620u64;
        let sig = sign(&format!("GET\n\n\n{expires}\n/johnsmith/photos/puppy.jpg"));
        assert_eq!(sig, "NpgCjnDzrM+WFzoENXmpNDUsSn8=");
        let query = format!(
            "AWSAccessKeyId={KEY}&Expires={expires}&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
        );
        let headers = [("Host", "johnsmith.s3.amazonaws.com")];
        let parts = RequestParts {
            method: "GET",
            path: "/photos/puppy.jpg",
            query: &query,
            headers: &headers,
        };
        let a = v2(&parts);
        assert_eq!(a.expires, Some(expires));
        assert_eq!(a.signature, sig);
        verify_v2(&parts, &a, SECRET, Some("johnsmith"), at(expires - 10)).unwrap();
        assert!(matches!(
            verify_v2(&parts, &a, SECRET, Some("johnsmith"), at(expires + 1)),
            Err(AuthError::PresignedExpired { .. })
        ));
        let missing = RequestParts {
            query: "AWSAccessKeyId=AKID&Expires=1",
            ..parts
        };
        assert_eq!(parse(&missing), Err(AuthError::MissingV2Parameters));
    }
}

#[cfg(test)]
mod bucket_resource_tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::{parse, Signed};

    /// botocore signs a path-style bucket request (`PUT /bkt`, CreateBucket) as `/bkt/`.
    #[test]
    fn a_bucket_only_path_signs_with_a_trailing_slash() {
        let date = "Tue, 01 Dec 2026 22:21:56 GMT";
        let headers = [
            ("host", "127.0.0.1:35557"),
            ("date", date),
            ("authorization", "AWS test:ABRpS0f6yF9V/b6BMw68SlraCiY="),
        ];
        let parts = RequestParts {
            method: "PUT",
            path: "/bkt",
            query: "",
            headers: &headers,
        };
        let Ok(Some(Signed::V2(auth))) = parse(&parts) else {
            panic!("a SigV2 header")
        };
        let now = UNIX_EPOCH + Duration::from_secs(parse_http_date(date).unwrap());
        assert_eq!(verify_v2(&parts, &auth, "test", None, now), Ok(()));
        assert!(verify_v2(&parts, &auth, "nope", None, now).is_err());
    }
}

//! Requests signed by the AWS SDK's own signer (the `aws-sigv4` crate, as the Rust SDK
//! configures it for S3 and for every other service) verify, in the header and presigned
//! forms, with and without a session token, over odd paths and query strings; changing one
//! byte of any signed part makes them fail.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use tributary_sigv4::{
    parse, sha256_hex, verify, AuthError, Authorization, Kind, PayloadHash, RequestParts, Signed,
};

const KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=odd//chars";

/// 2024-02-29T23:59:30Z: a leap day, 30 s before midnight.
fn signing_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_709_251_170)
}

/// A request as it goes on the wire.
#[derive(Clone, Debug)]
struct Wire {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Wire {
    fn verify_with(&self, secret: &str, now: SystemTime) -> Result<Authorization, AuthError> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let parts = RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
        };
        let Some(Signed::V4(auth)) = parse(&parts)? else {
            panic!("no SigV4 in {self:?}")
        };
        verify(&parts, &auth, secret, || sha256_hex(&self.body), now)?;
        Ok(auth)
    }

    fn verify(&self) -> Result<Authorization, AuthError> {
        self.verify_with(SECRET, signing_time() + Duration::from_secs(60))
    }
}

#[derive(Clone, Copy)]
struct Options {
    s3: bool,
    presigned: bool,
    token: bool,
    unsigned_payload: bool,
}

/// Signs a request with the SDK's signer, configured as the Rust SDK does per service,
/// and returns it as it would go on the wire.
fn sdk_sign(method: &str, path_and_query: &str, body: &[u8], o: Options) -> Wire {
    let service = if o.s3 { "s3" } else { "dynamodb" };
    let host = if o.s3 {
        "bucket.s3.us-west-2.amazonaws.com"
    } else {
        "dynamodb.us-west-2.amazonaws.com"
    };
    let identity =
        Credentials::new(KEY, SECRET, o.token.then(|| TOKEN.to_owned()), None, "test").into();
    let mut settings = SigningSettings::default();
    if o.s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        if !o.presigned {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
    }
    if o.presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(900));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-west-2")
        .name(service)
        .time(signing_time())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host.into()),
        ("content-type".into(), "application/x-amz-json-1.0".into()),
        ("x-amz-meta-note".into(), "  two   spaces  ".into()),
    ];
    if !o.s3 {
        headers.push(("x-amz-target".into(), "DynamoDB_20120810.GetItem".into()));
    }
    let signable_body = if o.unsigned_payload || (o.s3 && o.presigned) {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(body)
    };
    let uri = format!("https://{host}{path_and_query}");
    let signable = SignableRequest::new(
        method,
        Cow::Owned(uri.clone()),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        signable_body,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method(method).uri(&uri);
    for (n, v) in &headers {
        request = request.header(n, v);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    Wire {
        method: method.to_owned(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or_default().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect(),
        body: body.to_vec(),
    }
}

/// Paths as clients put them on the wire (already encoded once): spaces, an encoded
/// slash, plus, equals, UTF-8, dot and empty segments.
const PATHS: [&str; 9] = [
    "/",
    "/a%20b/c",
    "/key%2Fwith%2Fslash",
    "/a+b",
    "/x%3Dy=z",
    "/%C3%BCn%C3%AFcode/%E1%88%B4",
    "/tilde~/-_.!*'()",
    "/double//slash/./dot/../end",
    "/trailing/",
];

/// Query strings with odd characters: repeated and unsorted keys, keys without values,
/// encoded reserved characters, raw `+`, UTF-8, unreserved characters.
const QUERIES: [&str; 9] = [
    "",
    "b=2&a=1&a=0",
    "flag&x=",
    "key=a%20b&k2=a+b",
    "k=%2B%3D%26%2F%3F",
    "prefix=photos/2024&delimiter=/",
    "u=%E1%88%B4&list-type=2",
    "x=~-._&Y=%7E",
    "uploads",
];

fn all_options() -> Vec<Options> {
    let mut v = Vec::new();
    for s3 in [false, true] {
        for presigned in [false, true] {
            for token in [false, true] {
                v.push(Options {
                    s3,
                    presigned,
                    token,
                    unsigned_payload: false,
                });
            }
        }
    }
    v
}

fn target(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

#[test]
fn sdk_signatures_verify_for_every_form_path_and_query() {
    let mut checked = 0;
    for o in all_options() {
        for path in PATHS {
            for query in QUERIES {
                for body in [&b""[..], br#"{"TableName":"t"}"#] {
                    let wire = sdk_sign("POST", &target(path, query), body, o);
                    let auth = wire.verify().unwrap_or_else(|e| {
                        panic!(
                            "{path}?{query} s3={} presigned={}: {e:#?}\n{wire:#?}",
                            o.s3, o.presigned
                        )
                    });
                    assert_eq!(auth.access_key, KEY);
                    assert_eq!(auth.region, "us-west-2");
                    assert_eq!(
                        auth.kind,
                        if o.presigned {
                            Kind::Presigned
                        } else {
                            Kind::Header
                        }
                    );
                    assert_eq!(auth.security_token.as_deref(), o.token.then_some(TOKEN));
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 8 * PATHS.len() * QUERIES.len() * 2);
}

#[test]
fn s3_declares_the_payload_and_presigned_s3_urls_leave_it_unsigned() {
    let header = sdk_sign(
        "PUT",
        "/k",
        b"data",
        Options {
            s3: true,
            presigned: false,
            token: false,
            unsigned_payload: false,
        },
    );
    assert_eq!(
        header.verify().unwrap().payload,
        PayloadHash::Declared(sha256_hex(b"data"))
    );
    let unsigned = sdk_sign(
        "PUT",
        "/k",
        b"data",
        Options {
            s3: true,
            presigned: false,
            token: false,
            unsigned_payload: true,
        },
    );
    assert_eq!(unsigned.verify().unwrap().payload, PayloadHash::Unsigned);
    let presigned = sdk_sign(
        "GET",
        "/k",
        b"",
        Options {
            s3: true,
            presigned: true,
            token: true,
            unsigned_payload: false,
        },
    );
    assert_eq!(presigned.verify().unwrap().payload, PayloadHash::Unsigned);
    let json = sdk_sign(
        "POST",
        "/",
        b"{}",
        Options {
            s3: false,
            presigned: false,
            token: false,
            unsigned_payload: false,
        },
    );
    assert_eq!(json.verify().unwrap().payload, PayloadHash::Body);

    // A body other than the declared one: the signature holds, the hash does not.
    let mut changed = header.clone();
    changed.body = b"datA".to_vec();
    assert!(matches!(
        changed.verify(),
        Err(AuthError::ContentSha256Mismatch { .. })
    ));
    // An unsigned payload may be anything.
    let mut changed = unsigned.clone();
    changed.body = b"anything".to_vec();
    changed.verify().unwrap();
}

/// Flips one byte of `s` at `i` into another character of the same kind.
fn flip(s: &str, i: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[i] = match b[i] {
        b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => b[i] + 1,
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        b'/' => b'-',
        _ => b'x',
    };
    String::from_utf8(b).unwrap()
}

#[test]
fn one_changed_byte_in_any_signed_part_fails() {
    let mismatch = |r: Result<Authorization, AuthError>, what: String| match r {
        Err(AuthError::SignatureMismatch { .. }) => {}
        other => panic!("{what}: {other:?}"),
    };
    for o in all_options() {
        let wire = sdk_sign(
            "POST",
            "/a%20b/c?key=a%20b&k2=v",
            br#"{"TableName":"t"}"#,
            o,
        );
        let auth = wire.verify().unwrap();
        let tag = |w: &str| {
            format!(
                "s3={} presigned={} token={}: {w}",
                o.s3, o.presigned, o.token
            )
        };

        mismatch(
            wire.verify_with("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz", signing_time()),
            tag("secret"),
        );

        let mut w = wire.clone();
        w.method = "PUT".into();
        mismatch(w.verify(), tag("method"));

        for i in 1..wire.path.len() {
            let mut w = wire.clone();
            w.path = flip(&wire.path, i);
            mismatch(w.verify(), tag(&format!("path byte {i}: {}", w.path)));
        }

        // Every byte of the query outside the signature itself (whose change is a
        // mismatch too, tested below) and outside the credential (a changed credential
        // names another key, region or date: a different, also refused, error).
        let signature_at = wire.query.find("X-Amz-Signature=");
        for i in 0..wire.query.len() {
            let in_credential = wire.query[..i].rfind('&').map_or(0, |s| s + 1);
            if wire.query[in_credential..].starts_with("X-Amz-Credential=")
                || wire.query[in_credential..].starts_with("X-Amz-Date=")
                || wire.query[in_credential..].starts_with("X-Amz-Expires=")
                || wire.query[in_credential..].starts_with("X-Amz-Algorithm=")
                || wire.query[in_credential..].starts_with("X-Amz-SignedHeaders=")
            {
                continue;
            }
            let mut w = wire.clone();
            w.query = flip(&wire.query, i);
            match w.verify() {
                Err(AuthError::SignatureMismatch { .. }) => {}
                // Changing the name of the signature parameter removes the signature.
                Err(AuthError::MissingParameters { .. })
                    if signature_at.is_some_and(|s| i >= s && i < s + 16) => {}
                other => panic!(
                    "{}: {other:?}",
                    tag(&format!("query byte {i}: {}", w.query))
                ),
            }
        }

        for (i, (name, value)) in wire.headers.iter().enumerate() {
            if !auth.signed_headers.contains(name) || name == "x-amz-date" {
                continue;
            }
            let at = value.rfind(|c: char| c.is_ascii_alphanumeric()).unwrap();
            let mut w = wire.clone();
            w.headers[i].1 = flip(value, at);
            match w.verify() {
                Err(AuthError::SignatureMismatch { .. }) => {}
                other => panic!(
                    "{}: {other:?}",
                    tag(&format!("header {name}: {}", w.headers[i].1))
                ),
            }
        }

        let mut w = wire.clone();
        w.body[3] ^= 1;
        match w.verify() {
            Err(AuthError::SignatureMismatch { .. } | AuthError::ContentSha256Mismatch { .. }) => {}
            // Presigned S3 URLs do not sign the body.
            Ok(_) if o.s3 && o.presigned => {}
            other => panic!("{}: {other:?}", tag("body")),
        }
    }
}

#[test]
fn sdk_requests_are_refused_outside_their_time_window() {
    let t = signing_time();
    let header = sdk_sign(
        "GET",
        "/",
        b"",
        Options {
            s3: false,
            presigned: false,
            token: false,
            unsigned_payload: false,
        },
    );
    header
        .verify_with(SECRET, t + Duration::from_secs(900))
        .unwrap();
    header
        .verify_with(SECRET, t - Duration::from_secs(900))
        .unwrap();
    match header.verify_with(SECRET, t + Duration::from_secs(1800)) {
        Err(e @ AuthError::RequestTimeSkewed { future: false, .. }) => {
            let (code, status, message) = e.aws(tributary_sigv4::Family::DynamoDb);
            assert_eq!((code, status), ("InvalidSignatureException", 400));
            assert_eq!(
                message,
                "Signature expired: 20240229T235930Z is now earlier than 20240301T001430Z (20240301T002930Z - 15 min.)"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        header.verify_with(SECRET, t - Duration::from_secs(901)),
        Err(AuthError::RequestTimeSkewed { future: true, .. })
    ));

    let presigned = sdk_sign(
        "GET",
        "/k",
        b"",
        Options {
            s3: true,
            presigned: true,
            token: false,
            unsigned_payload: false,
        },
    );
    assert_eq!(presigned.verify().unwrap().expires, Some(900));
    presigned
        .verify_with(SECRET, t + Duration::from_secs(900))
        .unwrap();
    match presigned.verify_with(SECRET, t + Duration::from_secs(901)) {
        Err(e @ AuthError::PresignedExpired { .. }) => {
            assert_eq!(
                e.aws(tributary_sigv4::Family::S3),
                ("AccessDenied", 403, "Request has expired".to_owned())
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        presigned.verify_with(SECRET, t - Duration::from_secs(901)),
        Err(AuthError::PresignedNotYetValid { .. })
    ));
}

//! Malformed, anonymous and hostile requests: each is refused with the variant that names
//! what is wrong, which renders as AWS's code, status and text per family; and no input,
//! however garbled, makes the crate panic.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use tributary_sigv4::{
    decode_chunked, parse, verify, AuthError, ExpiresProblem, Family, Kind, RequestParts, Signed,
};

const DATE: &str = "20150830T123600Z";
const CRED: &str = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

fn parse_with(
    auth: &str,
    extra: &[(&str, &str)],
    query: &str,
) -> Result<Option<Signed>, AuthError> {
    let mut headers = vec![
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", DATE),
        ("Authorization", auth),
    ];
    headers.extend_from_slice(extra);
    parse(&RequestParts {
        method: "GET",
        path: "/",
        query,
        headers: &headers,
    })
}

fn header_err(auth: &str) -> AuthError {
    parse_with(auth, &[], "").unwrap_err()
}

#[test]
fn an_anonymous_request_has_no_signature() {
    let headers = [("Host", "example.amazonaws.com")];
    let parts = RequestParts {
        method: "GET",
        path: "/",
        query: "a=1&Signature=x",
        headers: &headers,
    };
    assert_eq!(parse(&parts), Ok(None));
}

#[test]
fn malformed_authorization_headers_say_what_is_missing() {
    assert_eq!(
        header_err("AWS4-HMAC-SHA256"),
        AuthError::MissingParameters {
            kind: Kind::Header,
            missing: vec!["Credential", "Signature", "SignedHeaders"]
        }
    );
    let e = header_err(&format!("AWS4-HMAC-SHA256 Credential={CRED}"));
    assert_eq!(
        e.aws(Family::DynamoDb),
        (
            "IncompleteSignatureException",
            400,
            "Authorization header requires 'Signature' parameter. Authorization header requires \
             'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256"
                .to_owned()
        )
    );
    assert_eq!(e.aws(Family::Query).0, "IncompleteSignature");
    let (code, status, message) = e.aws(Family::S3);
    assert_eq!((code, status), ("AuthorizationHeaderMalformed", 400));
    assert!(
        message.starts_with("The authorization header is malformed; "),
        "{message}"
    );

    // No date at all.
    let headers = [
        ("Host", "h"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=x",
        ),
    ];
    let e = parse(&RequestParts {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
    })
    .unwrap_err();
    assert_eq!(
        e,
        AuthError::MissingParameters {
            kind: Kind::Header,
            missing: vec!["Date"]
        }
    );
    assert_eq!(e.aws(Family::S3).0, "AccessDenied");
    assert!(e
        .aws(Family::Json)
        .2
        .contains("'X-Amz-Date' or a 'Date' header"));

    assert!(matches!(
        header_err(&format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host, Signature")),
        AuthError::NotKeyValue { pair, .. } if pair == "Signature"
    ));
    assert!(matches!(
        header_err(&format!("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/aws4_request, SignedHeaders=host, Signature={SIG}")),
        AuthError::MalformedCredential { kind: Kind::Header, .. }
    ));
    let e = header_err(&format!("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws5_request, SignedHeaders=host, Signature={SIG}"));
    assert_eq!(
        e,
        AuthError::InvalidTerminator {
            kind: Kind::Header,
            terminator: "aws5_request".into()
        }
    );
    assert_eq!(
        e.aws(Family::Query).2,
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    );
    let e = header_err(&format!("AWS4-HMAC-SHA256 Credential=AKID/20150831/us-east-1/service/aws4_request, SignedHeaders=host, Signature={SIG}"));
    assert!(matches!(e, AuthError::ScopeDateMismatch { .. }));
    assert_eq!(
        e.aws(Family::DynamoDb).2,
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'."
    );
    let e = header_err(&format!(
        "AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=x-amz-date, Signature={SIG}"
    ));
    assert_eq!(e, AuthError::HostNotSigned { kind: Kind::Header });
    assert_eq!(
        e.aws(Family::RestJson),
        (
            "InvalidSignatureException",
            403,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned()
        )
    );

    for scheme in [
        "Bearer abc",
        "AWS4-ECDSA-P256-SHA256 Credential=x",
        "aws4-hmac-sha256 Credential=x",
    ] {
        assert!(
            matches!(
                header_err(scheme),
                AuthError::UnsupportedAlgorithm {
                    kind: Kind::Header,
                    ..
                }
            ),
            "{scheme}"
        );
    }
    assert_eq!(
        header_err("Bearer abc").aws(Family::S3).2,
        "Unsupported Authorization Type"
    );
    assert_eq!(header_err("AWS AKIDONLY"), AuthError::MalformedV2Header);
}

#[test]
fn bad_dates_are_malformed() {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host;x-amz-date, Signature={SIG}"
    );
    for date in [
        "2015-08-30T12:36:00Z",
        "20150830T123600",
        "20150832T123600Z",
        "",
    ] {
        let headers = [
            ("Host", "h"),
            ("X-Amz-Date", date),
            ("Authorization", auth.as_str()),
        ];
        let e = parse(&RequestParts {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
        })
        .unwrap_err();
        assert_eq!(
            e,
            AuthError::InvalidDate {
                kind: Kind::Header,
                value: date.to_owned()
            }
        );
        assert_eq!(e.aws(Family::Json).0, "IncompleteSignatureException");
    }
    // A Date header in the HTTP format stands in for X-Amz-Date.
    let headers = [
        ("Host", "h"),
        ("Date", "Sun, 30 Aug 2015 12:36:00 GMT"),
        ("Authorization", auth.as_str()),
    ];
    let Ok(Some(Signed::V4(a))) = parse(&RequestParts {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
    }) else {
        panic!()
    };
    assert_eq!(a.amz_date, DATE);
}

#[test]
fn s3_needs_a_valid_content_sha256() {
    let auth = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=x";
    let e = parse_with(auth, &[], "").unwrap_err();
    assert_eq!(e, AuthError::MissingContentSha256);
    assert_eq!(
        e.aws(Family::S3),
        (
            "InvalidRequest",
            400,
            "Missing required header for this request: x-amz-content-sha256".to_owned()
        )
    );
    let e = parse_with(auth, &[("x-amz-content-sha256", "STREAMING-ANYTHING")], "").unwrap_err();
    assert!(matches!(e, AuthError::InvalidContentSha256 { .. }));
    assert_eq!(e.aws(Family::S3).0, "InvalidArgument");
    assert!(parse_with(auth, &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], "").is_ok());
}

#[test]
fn presigned_parameters_are_checked() {
    let q = |extra: &str| {
        format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={DATE}&X-Amz-SignedHeaders=host&X-Amz-Signature={SIG}{extra}")
    };
    let presigned = |query: &str| {
        let headers = [("Host", "bucket.s3.amazonaws.com")];
        parse(&RequestParts {
            method: "GET",
            path: "/k",
            query,
            headers: &headers,
        })
    };
    let Ok(Some(Signed::V4(a))) = presigned(&q("&X-Amz-Expires=604800&X-Amz-Security-Token=t%2Bk"))
    else {
        panic!()
    };
    assert_eq!(
        (a.kind, a.expires, a.security_token.as_deref()),
        (Kind::Presigned, Some(604_800), Some("t+k"))
    );

    for (expires, problem) in [
        ("0", ExpiresProblem::NotPositive),
        ("-1", ExpiresProblem::NotPositive),
        ("604801", ExpiresProblem::TooLarge),
        ("99999999999999999999999", ExpiresProblem::TooLarge),
        ("abc", ExpiresProblem::NotANumber),
        ("", ExpiresProblem::NotANumber),
    ] {
        let e = presigned(&q(&format!("&X-Amz-Expires={expires}"))).unwrap_err();
        assert_eq!(
            e,
            AuthError::InvalidExpires {
                value: expires.to_owned(),
                problem
            }
        );
        assert_eq!(e.aws(Family::S3).0, "AuthorizationQueryParametersError");
    }
    assert_eq!(
        presigned(&q("")).unwrap_err().aws(Family::S3),
        (
            "AuthorizationQueryParametersError",
            400,
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.".to_owned()
        )
    );
    let e = presigned("X-Amz-Signature=abc").unwrap_err();
    assert!(matches!(
        e,
        AuthError::MissingParameters {
            kind: Kind::Presigned,
            ..
        }
    ));
    assert!(e
        .aws(Family::Json)
        .2
        .ends_with("Re-examine the query-string parameters."));
    assert!(matches!(
        presigned(&q("&X-Amz-Expires=60").replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"))
            .unwrap_err(),
        AuthError::UnsupportedAlgorithm {
            kind: Kind::Presigned,
            ..
        }
    ));

    // Both a header and a presigned query.
    let e = parse_with(
        "AWS4-HMAC-SHA256 Credential=x",
        &[],
        &q("&X-Amz-Expires=60"),
    )
    .unwrap_err();
    assert_eq!(e, AuthError::MultipleAuthMechanisms);
    assert_eq!(e.aws(Family::S3).0, "InvalidArgument");
}

/// Every variant, for rendering checks.
fn every_error() -> Vec<AuthError> {
    vec![
        AuthError::MissingAuthentication,
        AuthError::MissingParameters {
            kind: Kind::Header,
            missing: vec!["Signature"],
        },
        AuthError::MissingParameters {
            kind: Kind::Presigned,
            missing: vec!["X-Amz-Date"],
        },
        AuthError::NotKeyValue {
            pair: "a".into(),
            header: "h".into(),
        },
        AuthError::MalformedCredential {
            kind: Kind::Header,
            credential: "c".into(),
        },
        AuthError::MalformedCredential {
            kind: Kind::Presigned,
            credential: "c".into(),
        },
        AuthError::InvalidTerminator {
            kind: Kind::Header,
            terminator: "t".into(),
        },
        AuthError::InvalidDate {
            kind: Kind::Header,
            value: "d".into(),
        },
        AuthError::InvalidDate {
            kind: Kind::Presigned,
            value: "d".into(),
        },
        AuthError::ScopeDateMismatch {
            kind: Kind::Header,
            scope_date: "20150831".into(),
            amz_date: DATE.into(),
        },
        AuthError::ScopeDateMismatch {
            kind: Kind::Presigned,
            scope_date: "20150831".into(),
            amz_date: "é".into(),
        },
        AuthError::HostNotSigned {
            kind: Kind::Presigned,
        },
        AuthError::UnsupportedAlgorithm {
            kind: Kind::Presigned,
            algorithm: "x".into(),
        },
        AuthError::MultipleAuthMechanisms,
        AuthError::InvalidExpires {
            value: "0".into(),
            problem: ExpiresProblem::NotPositive,
        },
        AuthError::MissingV2Parameters,
        AuthError::MalformedV2Header,
        AuthError::SignatureMismatch {
            canonical_request: String::new(),
            string_to_sign: String::new(),
        },
        AuthError::UnknownAccessKey {
            access_key: "AKID".into(),
        },
        AuthError::RequestTimeSkewed {
            amz_date: DATE.into(),
            now: 0,
            future: false,
        },
        AuthError::RequestTimeSkewed {
            amz_date: DATE.into(),
            now: u64::MAX,
            future: true,
        },
        AuthError::PresignedExpired {
            amz_date: DATE.into(),
            now: 1,
        },
        AuthError::PresignedNotYetValid {
            amz_date: DATE.into(),
            now: 1,
        },
        AuthError::InvalidContentSha256 { value: "x".into() },
        AuthError::MissingContentSha256,
        AuthError::ContentSha256Mismatch {
            declared: "a".into(),
            computed: "b".into(),
        },
        AuthError::ChunkSignatureMismatch,
        AuthError::MalformedChunkedBody,
    ]
}

#[test]
fn every_error_renders_in_every_family() {
    for e in every_error() {
        for f in [
            Family::DynamoDb,
            Family::Json,
            Family::RestJson,
            Family::Query,
            Family::S3,
        ] {
            let (code, status, message) = e.aws(f);
            assert!(!code.is_empty() && !message.is_empty(), "{e:?} {f:?}");
            assert!(status == 400 || status == 403, "{e:?} {f:?}");
            if f == Family::RestJson {
                assert_eq!(status, 403, "{e:?}: REST-JSON auth failures are 403s");
            }
        }
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn the_main_refusals_use_aws_texts() {
    let missing = AuthError::MissingAuthentication;
    assert_eq!(
        missing.aws(Family::DynamoDb),
        (
            "MissingAuthenticationTokenException",
            400,
            "Request is missing Authentication Token".into()
        )
    );
    assert_eq!(
        missing.aws(Family::Query),
        (
            "MissingAuthenticationToken",
            403,
            "Missing Authentication Token".into()
        )
    );
    assert_eq!(
        missing.aws(Family::S3),
        ("AccessDenied", 403, "Access Denied".into())
    );

    let mismatch = AuthError::SignatureMismatch {
        canonical_request: String::new(),
        string_to_sign: String::new(),
    };
    let aws = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
    assert_eq!(
        mismatch.aws(Family::DynamoDb),
        ("InvalidSignatureException", 400, aws.into())
    );
    assert_eq!(
        mismatch.aws(Family::RestJson),
        ("InvalidSignatureException", 403, aws.into())
    );
    assert_eq!(
        mismatch.aws(Family::Query),
        ("SignatureDoesNotMatch", 403, aws.into())
    );
    assert_eq!(
        mismatch.aws(Family::S3),
        ("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method.".into())
    );

    let unknown = AuthError::UnknownAccessKey {
        access_key: "AKID".into(),
    };
    assert_eq!(
        unknown.aws(Family::DynamoDb),
        (
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.".into()
        )
    );
    assert_eq!(
        unknown.aws(Family::Query),
        (
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.".into()
        )
    );
    assert_eq!(
        unknown.aws(Family::S3),
        (
            "InvalidAccessKeyId",
            403,
            "The AWS Access Key Id you provided does not exist in our records.".into()
        )
    );

    let skew = AuthError::RequestTimeSkewed {
        amz_date: "20190101T000000Z".into(),
        now: 1_546_302_600,
        future: false,
    };
    assert_eq!(
        skew.aws(Family::Json),
        ("InvalidSignatureException", 400, "Signature expired: 20190101T000000Z is now earlier than 20190101T001500Z (20190101T003000Z - 15 min.)".into())
    );
    assert_eq!(skew.aws(Family::Query).0, "SignatureDoesNotMatch");
    assert_eq!(skew.aws(Family::S3).0, "RequestTimeTooSkewed");
    let early = AuthError::RequestTimeSkewed {
        amz_date: "20190101T004600Z".into(),
        now: 1_546_302_600,
        future: true,
    };
    assert_eq!(
        early.aws(Family::DynamoDb).2,
        "Signature not yet current: 20190101T004600Z is still later than 20190101T004500Z (20190101T003000Z + 15 min.)"
    );

    let body = AuthError::ContentSha256Mismatch {
        declared: "a".into(),
        computed: "b".into(),
    };
    assert_eq!(
        body.aws(Family::S3),
        (
            "XAmzContentSHA256Mismatch",
            400,
            "The provided 'x-amz-content-sha256' header does not match what was computed.".into()
        )
    );
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        "AWS4-HMAC-SHA256 [ -~]{0,120}",
        "AWS4-HMAC-SHA256 Credential=[ -~]{0,40}, SignedHeaders=[a-z;:-]{0,30}, Signature=[0-9a-f]{0,70}",
        "AWS [ -~]{0,40}",
        "[0-9TZ]{0,20}",
    ]
}

proptest! {
    #[test]
    fn garbage_never_panics(
        method in "[A-Za-z]{0,8}",
        path in any::<String>(),
        query in prop_oneof![any::<String>(), "([A-Za-z-]{1,20}=[ -~%+]{0,30}&?){0,6}", "X-Amz-[A-Za-z]{0,15}=[ -~]{0,40}(&X-Amz-[A-Za-z]{0,15}=[ -~]{0,40}){0,7}"],
        names in prop::collection::vec(prop_oneof![
            Just("authorization".to_owned()), Just("x-amz-date".to_owned()), Just("host".to_owned()),
            Just("date".to_owned()), Just("x-amz-content-sha256".to_owned()), Just("x-amz-security-token".to_owned()),
            any::<String>(),
        ], 0..6),
        values in prop::collection::vec(header_value(), 6),
        secret in any::<String>(),
        now in any::<u64>(),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let headers: Vec<(&str, &str)> = names.iter().zip(&values).map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let parts = RequestParts { method: &method, path: &path, query: &query, headers: &headers };
        let now = UNIX_EPOCH + Duration::from_secs(now % (1 << 40));
        if let Ok(Some(signed)) = parse(&parts) {
            let _ = signed.access_key();
            match signed {
                Signed::V4(auth) => {
                    if let Err(e) = verify(&parts, &auth, &secret, || tributary_sigv4::sha256_hex(&body), now) {
                        let _ = e.aws(Family::S3);
                    }
                    let mut v = tributary_sigv4::ChunkVerifier::new(&auth, &secret);
                    let _ = decode_chunked(&body, Some(&mut v));
                }
                Signed::V2(auth) => {
                    let _ = tributary_sigv4::verify_v2(&parts, &auth, &secret, Some("b"), now);
                }
            }
        }
        let _ = decode_chunked(&body, None);
    }
}

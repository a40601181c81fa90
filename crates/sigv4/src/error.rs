//! Why a request's signature is refused, and how AWS words each refusal for each family of
//! services: the gateway renders `err.aws(family)` as its error response.
//!
//! The texts are AWS's own where they could be checked against responses quoted in SDK
//! issues and other emulators (marked "seen"); the rest keep the closest documented wording
//! and are marked "unconfirmed".

use crate::time::format_amz_date;

/// The family of protocols a service speaks, which decides the codes, statuses and texts of
/// authentication errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// DynamoDB and DynamoDB Streams (awsJson1.0), whose missing-token text differs.
    DynamoDb,
    /// The other awsJson services (SQS's JSON protocol, CloudWatch, Kinesis, ...).
    Json,
    /// REST-JSON services (Lambda): JSON codes with 403 statuses.
    RestJson,
    /// awsQuery services (SNS, SQS's query protocol, STS, CloudWatch's query protocol).
    Query,
    /// S3 (REST-XML), with its own codes.
    S3,
}

/// Where the signature travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The `Authorization` header.
    Header,
    /// A presigned URL: `X-Amz-Algorithm`, `X-Amz-Signature`, ... in the query string.
    Presigned,
}

/// What is wrong with `X-Amz-Expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiresProblem {
    /// Not a decimal number.
    NotANumber,
    /// Zero or negative.
    NotPositive,
    /// More than a week (604800 seconds).
    TooLarge,
}

/// A refused signature. Each variant says what the request did wrong; [`AuthError::aws`]
/// gives AWS's code, status and message for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.aws(Family::Json).2)]
pub enum AuthError {
    /// The request carries no signature at all (`parse` returned `None`) and the operation
    /// needs one. Built by the caller.
    MissingAuthentication,
    /// The signature lacks some of its parts: `Credential`, `Signature`, `SignedHeaders` or
    /// a date (header form, names as listed), or some `X-Amz-*` parameters (presigned form).
    MissingParameters {
        /// Where the signature was looked for.
        kind: Kind,
        /// The missing parts, in AWS's order (`"Date"` stands for a missing date header).
        missing: Vec<&'static str>,
    },
    /// An `Authorization` parameter without `=`.
    NotKeyValue {
        /// The offending parameter.
        pair: String,
        /// The whole header value.
        header: String,
    },
    /// The credential is not `AKID/yyyymmdd/region/service/aws4_request`.
    MalformedCredential {
        /// Where the signature was found.
        kind: Kind,
        /// The credential as sent.
        credential: String,
    },
    /// The credential scope ends with something other than `aws4_request`.
    InvalidTerminator {
        /// Where the signature was found.
        kind: Kind,
        /// The terminator sent.
        terminator: String,
    },
    /// `X-Amz-Date` (or `Date`) is not a `yyyymmddThhmmssZ` time.
    InvalidDate {
        /// Where the signature was found.
        kind: Kind,
        /// The date as sent.
        value: String,
    },
    /// The credential scope's date is not the date of `X-Amz-Date`.
    ScopeDateMismatch {
        /// Where the signature was found.
        kind: Kind,
        /// The `yyyymmdd` of the credential scope.
        scope_date: String,
        /// The request time, `yyyymmddThhmmssZ`.
        amz_date: String,
    },
    /// `host` is not among the signed headers.
    HostNotSigned {
        /// Where the signature was found.
        kind: Kind,
    },
    /// A scheme or algorithm other than `AWS4-HMAC-SHA256` (and SigV2), e.g. SigV4a's
    /// `AWS4-ECDSA-P256-SHA256` or `Bearer`.
    UnsupportedAlgorithm {
        /// Where the signature was found.
        kind: Kind,
        /// The algorithm named.
        algorithm: String,
    },
    /// More than one of an `Authorization` header, SigV4 query parameters and SigV2 query
    /// parameters.
    MultipleAuthMechanisms,
    /// `X-Amz-Expires` is not a number of seconds in `1..=604800`.
    InvalidExpires {
        /// The value sent.
        value: String,
        /// What is wrong with it.
        problem: ExpiresProblem,
    },
    /// A SigV2 presigned URL without all of `AWSAccessKeyId`, `Signature` and `Expires`.
    MissingV2Parameters,
    /// A SigV2 `Authorization` header that is not `AWS AKID:signature`.
    MalformedV2Header,
    /// The signature does not match the request: a wrong secret, or a request changed after
    /// signing, or a client canonicalizing differently.
    SignatureMismatch {
        /// The canonical request we signed (S3 echoes it in its error; useful in logs).
        canonical_request: String,
        /// The string to sign we computed.
        string_to_sign: String,
    },
    /// The access key is not known. Built by the caller, which owns the keys.
    UnknownAccessKey {
        /// The access key sent.
        access_key: String,
    },
    /// Temporary credentials (an STS session) past their expiry on the server clock. Built by
    /// the caller, which owns the sessions.
    ExpiredToken,
    /// Temporary credentials used without their session token, or with another one. Built by
    /// the caller.
    InvalidSessionToken,
    /// A header-signed request dated more than 15 minutes from the server's clock.
    RequestTimeSkewed {
        /// The request time as signed, `yyyymmddThhmmssZ`.
        amz_date: String,
        /// The server time, Unix seconds.
        now: u64,
        /// Whether the request is in the future (else in the past).
        future: bool,
    },
    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires` (or, SigV2, after
    /// `Expires`).
    PresignedExpired {
        /// The request time as signed (SigV4) or the `Expires` epoch seconds (SigV2).
        amz_date: String,
        /// The server time, Unix seconds.
        now: u64,
    },
    /// A presigned URL dated more than 15 minutes in the future.
    PresignedNotYetValid {
        /// The request time as signed.
        amz_date: String,
        /// The server time, Unix seconds.
        now: u64,
    },
    /// `x-amz-content-sha256` is neither a known keyword nor a hex SHA-256.
    InvalidContentSha256 {
        /// The value sent.
        value: String,
    },
    /// A header-signed S3 request without `x-amz-content-sha256`.
    MissingContentSha256,
    /// The body does not hash to the `x-amz-content-sha256` the request signed.
    ContentSha256Mismatch {
        /// The hash the request declared.
        declared: String,
        /// The hash of the body received.
        computed: String,
    },
    /// An `aws-chunked` chunk (or trailer) signature does not match its data, or is missing.
    ChunkSignatureMismatch,
    /// An `aws-chunked` body whose framing is broken.
    MalformedChunkedBody,
}

const MISMATCH: &str = "The request signature we calculated does not match the signature you \
provided. Check your AWS Secret Access Key and signing method. Consult the service \
documentation for details.";
const S3_MISMATCH: &str = "The request signature we calculated does not match the signature you \
provided. Check your key and signing method.";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
const EXPIRED: &str = "The security token included in the request is expired";
const S3_MALFORMED_CREDENTIAL: &str =
    "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
const S3_QUERY_REQUIRED: &str = "Query-string authentication version 4 requires the \
X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
X-Amz-Expires parameters.";
const ONE_MECHANISM: &str = "Only one auth mechanism allowed; only the X-Amz-Algorithm query \
parameter, Signature query string parameter or the Authorization header should be specified";
const CONTENT_SHA256_VALUES: &str = "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, \
STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, \
STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, \
STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.";

/// The code and status of a malformed signature outside S3 (`IncompleteSignature`).
fn incomplete(family: Family) -> (&'static str, u16) {
    match family {
        Family::DynamoDb | Family::Json => ("IncompleteSignatureException", 400),
        // Unconfirmed: REST-JSON services answer auth failures with 403.
        Family::RestJson => ("IncompleteSignatureException", 403),
        Family::Query => ("IncompleteSignature", 400),
        Family::S3 => ("AuthorizationHeaderMalformed", 400),
    }
}

/// The code and status of a signature that does not verify.
fn invalid_signature(family: Family) -> (&'static str, u16) {
    match family {
        // Seen: DynamoDB's InvalidSignatureException is a 400, Lambda's a 403.
        Family::DynamoDb | Family::Json => ("InvalidSignatureException", 400),
        Family::RestJson => ("InvalidSignatureException", 403),
        // Seen: SQS, SNS and STS answer SignatureDoesNotMatch with 403.
        Family::Query | Family::S3 => ("SignatureDoesNotMatch", 403),
    }
}

/// The S3 code of a malformed signature, which depends on where the signature was.
fn s3_malformed(kind: Kind) -> &'static str {
    match kind {
        Kind::Header => "AuthorizationHeaderMalformed",
        Kind::Presigned => "AuthorizationQueryParametersError",
    }
}

/// `Signature expired: ... (... - 15 min.)` / `Signature not yet current: ...`, as AWS
/// words a request outside the clock-skew window (seen in SDK issues, e.g. SQS, SNS, STS,
/// DynamoDB).
fn skew_message(amz_date: &str, now: u64, future: bool) -> String {
    let skew = crate::MAX_SKEW_SECS;
    if future {
        format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now.saturating_add(skew)),
            format_amz_date(now)
        )
    } else {
        format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format_amz_date(now.saturating_sub(skew)),
            format_amz_date(now)
        )
    }
}

impl AuthError {
    /// AWS's `(code, HTTP status, message)` for this error in a family of services.
    pub fn aws(&self, family: Family) -> (&'static str, u16, String) {
        let s3 = family == Family::S3;
        let with = |(code, status): (&'static str, u16), message: String| (code, status, message);
        match self {
            AuthError::MissingAuthentication => match family {
                // Seen (DynamoDB, and the message of query services' MissingAuthenticationToken).
                Family::DynamoDb => (
                    "MissingAuthenticationTokenException",
                    400,
                    "Request is missing Authentication Token".to_owned(),
                ),
                Family::Json => (
                    "MissingAuthenticationTokenException",
                    400,
                    "Missing Authentication Token".to_owned(),
                ),
                Family::RestJson => (
                    "MissingAuthenticationTokenException",
                    403,
                    "Missing Authentication Token".to_owned(),
                ),
                Family::Query => (
                    "MissingAuthenticationToken",
                    403,
                    "Missing Authentication Token".to_owned(),
                ),
                Family::S3 => ("AccessDenied", 403, "Access Denied".to_owned()),
            },
            AuthError::MissingParameters { kind, missing } => {
                if s3 {
                    return match kind {
                        Kind::Presigned => (
                            "AuthorizationQueryParametersError",
                            400,
                            S3_QUERY_REQUIRED.to_owned(),
                        ),
                        // Seen: S3's answer to a signature without a usable date.
                        Kind::Header if missing.as_slice() == ["Date"] => (
                            "AccessDenied",
                            403,
                            "AWS authentication requires a valid Date or x-amz-date header"
                                .to_owned(),
                        ),
                        // Unconfirmed wording.
                        Kind::Header => (
                            "AuthorizationHeaderMalformed",
                            400,
                            "The authorization header is malformed; the authorization header \
                             requires three components: Credential, SignedHeaders, and Signature."
                                .to_owned(),
                        ),
                    };
                }
                let message = match kind {
                    Kind::Header => {
                        let mut parts: Vec<String> = missing
                            .iter()
                            .map(|p| match *p {
                                "Date" => "Authorization header requires existence of either a \
                                           'X-Amz-Date' or a 'Date' header."
                                    .to_owned(),
                                p => format!("Authorization header requires '{p}' parameter."),
                            })
                            .collect();
                        parts.push("Authorization=AWS4-HMAC-SHA256".to_owned());
                        parts.join(" ")
                    }
                    Kind::Presigned => {
                        let mut parts: Vec<String> = missing
                            .iter()
                            .map(|p| format!("AWS query-string parameters must include '{p}'."))
                            .collect();
                        parts.push("Re-examine the query-string parameters.".to_owned());
                        parts.join(" ")
                    }
                };
                with(incomplete(family), message)
            }
            AuthError::NotKeyValue { pair, header } => {
                if s3 {
                    // Unconfirmed wording.
                    return (
                        "AuthorizationHeaderMalformed",
                        400,
                        format!(
                            "The authorization header is malformed; the authorization \
                             component \"{pair}\" is malformed."
                        ),
                    );
                }
                with(
                    incomplete(family),
                    format!(
                        "'{pair}' not a valid key=value pair (missing equal-sign) in \
                         Authorization header: '{header}'"
                    ),
                )
            }
            AuthError::MalformedCredential { kind, credential } => {
                if s3 {
                    let message = match kind {
                        Kind::Header => {
                            format!("The authorization header is malformed; {S3_MALFORMED_CREDENTIAL}")
                        }
                        Kind::Presigned => format!(
                            "Error parsing the X-Amz-Credential parameter; {S3_MALFORMED_CREDENTIAL}"
                        ),
                    };
                    return (s3_malformed(*kind), 400, message);
                }
                with(
                    incomplete(family),
                    format!(
                        "Credential must have exactly 5 slash-delimited elements, e.g. \
                         keyid/date/region/service/term, got '{credential}'"
                    ),
                )
            }
            AuthError::InvalidTerminator { kind, terminator } => {
                if s3 {
                    return AuthError::MalformedCredential {
                        kind: *kind,
                        credential: terminator.clone(),
                    }
                    .aws(family);
                }
                with(
                    invalid_signature(family),
                    format!(
                        "Credential should be scoped with a valid terminator: 'aws4_request', \
                         not '{terminator}'."
                    ),
                )
            }
            AuthError::InvalidDate { kind, value } => match (family, kind) {
                (Family::S3, Kind::Header) => (
                    "AccessDenied",
                    403,
                    "AWS authentication requires a valid Date or x-amz-date header".to_owned(),
                ),
                (Family::S3, Kind::Presigned) => (
                    "AuthorizationQueryParametersError",
                    400,
                    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
                        .to_owned(),
                ),
                _ => with(
                    incomplete(family),
                    format!(
                        "Date must be in ISO-8601 'basic format'. Got '{value}'. See \
                         http://en.wikipedia.org/wiki/ISO_8601"
                    ),
                ),
            },
            AuthError::ScopeDateMismatch {
                kind,
                scope_date,
                amz_date,
            } => {
                let date = amz_date.get(..8).unwrap_or(amz_date);
                match (family, kind) {
                    (Family::S3, Kind::Header) => (
                        "AuthorizationHeaderMalformed",
                        400,
                        "The authorization header is malformed; Invalid credential date. Date \
                         is not the same as X-Amz-Date."
                            .to_owned(),
                    ),
                    // Unconfirmed wording.
                    (Family::S3, Kind::Presigned) => (
                        "AuthorizationQueryParametersError",
                        400,
                        format!(
                            "Invalid credential date \"{scope_date}\". This date is not the same \
                             as X-Amz-Date: \"{date}\"."
                        ),
                    ),
                    _ => with(
                        invalid_signature(family),
                        format!(
                            "Date in Credential scope does not match YYYYMMDD from ISO-8601 \
                             version of date from HTTP: '{scope_date}' != '{date}', from \
                             '{amz_date}'."
                        ),
                    ),
                }
            }
            AuthError::HostNotSigned { kind } => {
                if s3 {
                    // Unconfirmed wording.
                    return (
                        s3_malformed(*kind),
                        400,
                        "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
                    );
                }
                with(
                    invalid_signature(family),
                    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
                        .to_owned(),
                )
            }
            AuthError::UnsupportedAlgorithm { kind, algorithm } => match (family, kind) {
                (Family::S3, Kind::Header) => (
                    "InvalidArgument",
                    400,
                    "Unsupported Authorization Type".to_owned(),
                ),
                (Family::S3, Kind::Presigned) => (
                    "AuthorizationQueryParametersError",
                    400,
                    "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256\""
                        .to_owned(),
                ),
                _ => with(
                    incomplete(family),
                    format!(
                        "Unsupported AWS 'algorithm': '{algorithm}' (only AWS4-HMAC-SHA256 for now)."
                    ),
                ),
            },
            AuthError::MultipleAuthMechanisms => {
                if s3 {
                    return ("InvalidArgument", 400, ONE_MECHANISM.to_owned());
                }
                with(incomplete(family), ONE_MECHANISM.to_owned())
            }
            AuthError::InvalidExpires { problem, .. } => {
                let message = match problem {
                    ExpiresProblem::NotANumber => "X-Amz-Expires should be a number",
                    ExpiresProblem::NotPositive => "X-Amz-Expires must be non-negative",
                    ExpiresProblem::TooLarge => {
                        "X-Amz-Expires must be less than a week (in seconds); that is, the given \
                         X-Amz-Expires must be less than 604800 seconds"
                    }
                };
                if s3 {
                    return ("AuthorizationQueryParametersError", 400, message.to_owned());
                }
                with(incomplete(family), message.to_owned())
            }
            AuthError::MissingV2Parameters => {
                let message = "Query-string authentication requires the Signature, Expires and \
                               AWSAccessKeyId parameters";
                if s3 {
                    return ("AccessDenied", 403, message.to_owned());
                }
                with(incomplete(family), message.to_owned())
            }
            AuthError::MalformedV2Header => {
                let message = "AWS authorization header is invalid.  Expected \
                               AwsAccessKeyId:signature";
                if s3 {
                    return ("InvalidArgument", 400, message.to_owned());
                }
                with(incomplete(family), message.to_owned())
            }
            AuthError::SignatureMismatch { .. } | AuthError::ChunkSignatureMismatch => {
                if s3 {
                    return ("SignatureDoesNotMatch", 403, S3_MISMATCH.to_owned());
                }
                with(invalid_signature(family), MISMATCH.to_owned())
            }
            // STS and IAM answer `ExpiredToken` with 403 (seen: aws-sdk-java-v2#1649, an IAM
            // ErrorResponse in cfn-sphere#55); the JSON services `ExpiredTokenException`
            // (Lambda with 403); S3 its own text, with 400.
            AuthError::ExpiredToken => match family {
                Family::DynamoDb | Family::Json => ("ExpiredTokenException", 400, EXPIRED.to_owned()),
                Family::RestJson => ("ExpiredTokenException", 403, EXPIRED.to_owned()),
                Family::Query => ("ExpiredToken", 403, EXPIRED.to_owned()),
                Family::S3 => ("ExpiredToken", 400, "The provided token has expired.".to_owned()),
            },
            AuthError::InvalidSessionToken => match family {
                Family::DynamoDb | Family::Json => {
                    ("UnrecognizedClientException", 400, INVALID_TOKEN.to_owned())
                }
                Family::RestJson => ("UnrecognizedClientException", 403, INVALID_TOKEN.to_owned()),
                Family::Query => ("InvalidClientTokenId", 403, INVALID_TOKEN.to_owned()),
                Family::S3 => (
                    "InvalidToken",
                    400,
                    "The provided token is malformed or otherwise invalid.".to_owned(),
                ),
            },
            AuthError::UnknownAccessKey { .. } => match family {
                // Seen: DynamoDB (400) and Lambda (403) answer UnrecognizedClientException.
                Family::DynamoDb | Family::Json => {
                    ("UnrecognizedClientException", 400, INVALID_TOKEN.to_owned())
                }
                Family::RestJson => ("UnrecognizedClientException", 403, INVALID_TOKEN.to_owned()),
                Family::Query => ("InvalidClientTokenId", 403, INVALID_TOKEN.to_owned()),
                Family::S3 => (
                    "InvalidAccessKeyId",
                    403,
                    "The AWS Access Key Id you provided does not exist in our records.".to_owned(),
                ),
            },
            AuthError::RequestTimeSkewed {
                amz_date,
                now,
                future,
            } => {
                if s3 {
                    return (
                        "RequestTimeTooSkewed",
                        403,
                        "The difference between the request time and the current time is too \
                         large."
                            .to_owned(),
                    );
                }
                with(
                    invalid_signature(family),
                    skew_message(amz_date, *now, *future),
                )
            }
            AuthError::PresignedExpired { .. } => match family {
                // Seen: S3's answer to an expired presigned URL (with Expires and ServerTime
                // elements the gateway may add).
                Family::S3 => ("AccessDenied", 403, "Request has expired".to_owned()),
                // Unconfirmed for presigned requests to query services.
                Family::Query => ("RequestExpired", 400, "Request has expired.".to_owned()),
                _ => with(invalid_signature(family), "Request has expired.".to_owned()),
            },
            AuthError::PresignedNotYetValid { amz_date, now } => {
                if s3 {
                    // Unconfirmed wording.
                    return ("AccessDenied", 403, "Request is not valid yet".to_owned());
                }
                with(invalid_signature(family), skew_message(amz_date, *now, true))
            }
            AuthError::InvalidContentSha256 { .. } => {
                if s3 {
                    return ("InvalidArgument", 400, CONTENT_SHA256_VALUES.to_owned());
                }
                with(incomplete(family), CONTENT_SHA256_VALUES.to_owned())
            }
            AuthError::MissingContentSha256 => {
                let message = "Missing required header for this request: x-amz-content-sha256";
                if s3 {
                    return ("InvalidRequest", 400, message.to_owned());
                }
                with(incomplete(family), message.to_owned())
            }
            AuthError::ContentSha256Mismatch { .. } => {
                if s3 {
                    return (
                        "XAmzContentSHA256Mismatch",
                        400,
                        "The provided 'x-amz-content-sha256' header does not match what was \
                         computed."
                            .to_owned(),
                    );
                }
                with(invalid_signature(family), MISMATCH.to_owned())
            }
            AuthError::MalformedChunkedBody => {
                // Unconfirmed wording.
                let message = "The request body terminated unexpectedly";
                if s3 {
                    return ("IncompleteBody", 400, message.to_owned());
                }
                with(incomplete(family), message.to_owned())
            }
        }
    }
}

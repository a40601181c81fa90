//! Header names the request path looks up on every request, parsed once: a lookup by `&str`
//! parses and hashes the name again each time.

use http::HeaderName;

pub use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN, REFERER};

pub const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
pub const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
pub const X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");
pub const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
pub const X_AMZ_CRC32: HeaderName = HeaderName::from_static("x-amz-crc32");
pub const X_AMZN_REQUESTID: HeaderName = HeaderName::from_static("x-amzn-requestid");
pub const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

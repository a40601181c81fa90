//! The query protocol's parameters (SQS, SNS, IAM, STS, CloudWatch, CloudFormation): a URL
//! query and a form body, decoded and turned into member lists, entries and the JSON shape.
//! No panic and no deep recursion, whatever the names. The input's first line is the URL's
//! query string, the rest the body.
#![no_main]

use axum::body::Bytes;
use libfuzzer_sys::fuzz_target;
use tributary_service::query::Params;

fuzz_target!(|data: &[u8]| {
    let cut = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (query, body) = (&data[..cut], data.get(cut + 1..).unwrap_or_default());
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    let Ok(uri) = format!("/?{query}").parse::<axum::http::Uri>() else {
        return;
    };
    let params = Params::parse(&uri, &Bytes::copy_from_slice(body));
    let _ = params.list("Attribute");
    let _ = params.entries("Attribute");
    let _ = params.to_json(&[("Attributes", "Name", "Value")], &|_| None);
});

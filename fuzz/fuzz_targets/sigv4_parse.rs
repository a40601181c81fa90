//! Finding a request's signature (SigV4 and SigV2, header or query) in arbitrary headers and
//! query strings: errors are fine, panics are not. Lines are `name: value` headers; a line
//! starting with `?` is the query string.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_sigv4::{parse, RequestParts};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut query = "";
    let mut headers = Vec::new();
    for line in text.lines() {
        if let Some(q) = line.strip_prefix('?') {
            query = q;
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k, v.trim_start()));
        }
    }
    let parts = RequestParts {
        method: "POST",
        path: "/",
        query,
        headers: &headers,
    };
    let _ = parse(&parts);
});

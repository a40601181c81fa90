//! The canonical request and string to sign of SigV4: URI, query string and header
//! canonicalization, and the HMAC-SHA256 key derivation. Everything here is pure and total:
//! any input yields some canonical form (a garbled request then simply fails to match).

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// Everything but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`) is encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The same, keeping the `/` that separates path segments.
const PATH: &AsciiSet = &STRICT.remove(b'/');

/// How the canonical URI is derived from the path as sent on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStyle {
    /// Every service but S3: remove `.`/`..` segments and empty segments, then URI-encode
    /// the (already encoded) path once more, so `%3D` on the wire signs as `%253D`
    /// (botocore `SigV4Auth._normalize_url_path`, the CRT's `use_double_uri_encode`).
    Normalized,
    /// Encoded once more like [`PathStyle::Normalized`], without removing dot or empty
    /// segments (the AWS test suite's `normalize: false` cases).
    Unnormalized,
    /// S3: the path exactly as sent, no normalization of `//` or `.` (botocore
    /// `S3SigV4Auth`).
    AsSent,
}

impl PathStyle {
    /// The style the named signing service uses: S3's variants sign the path as sent.
    pub fn for_service(service: &str) -> PathStyle {
        match service {
            "s3" | "s3express" | "s3-object-lambda" | "s3-outposts" => PathStyle::AsSent,
            _ => PathStyle::Normalized,
        }
    }
}

/// The canonical URI of a raw (percent-encoded) path.
pub(crate) fn canonical_uri(path: &str, style: PathStyle) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    match style {
        PathStyle::AsSent => path.to_owned(),
        PathStyle::Unnormalized => percent_encode(path.as_bytes(), PATH).to_string(),
        PathStyle::Normalized => {
            percent_encode(remove_dot_segments(path).as_bytes(), PATH).to_string()
        }
    }
}

/// RFC 3986 section 5.2.4 as botocore applies it: `.` and empty segments go, `..` removes
/// the segment before it (never above the root), a leading and a trailing `/` stay.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut s = String::with_capacity(path.len());
    if path.starts_with('/') {
        s.push('/');
    }
    s.push_str(&out.join("/"));
    if path.ends_with('/') && !out.is_empty() {
        s.push('/');
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// The canonical query string of a raw query: each key and value decoded, then encoded
/// with the unreserved set, sorted by key then value, `k=v` joined by `&`; a key without
/// `=` has an empty value. `plus_is_space` decodes a raw `+` as a space (form encoding, as
/// the AWS SDKs parse it) rather than as a literal plus. The `excluded` keys (decoded) are
/// left out: `X-Amz-Signature` of presigned URLs, which cannot sign itself.
pub(crate) fn canonical_query(raw: &str, plus_is_space: bool, excluded: &[&str]) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode_query_part(k, plus_is_space);
        if excluded.iter().any(|e| e.as_bytes() == k.as_slice()) {
            continue;
        }
        let v = decode_query_part(v, plus_is_space);
        pairs.push((
            percent_encode(&k, STRICT).to_string(),
            percent_encode(&v, STRICT).to_string(),
        ));
    }
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Percent-decodes one query key or value; an invalid `%` escape stays literal.
pub(crate) fn decode_query_part(s: &str, plus_is_space: bool) -> Vec<u8> {
    if plus_is_space && s.contains('+') {
        percent_decode(s.replace('+', " ").as_bytes()).collect()
    } else {
        percent_decode(s.as_bytes()).collect()
    }
}

/// A header value as signed: trimmed, every run of whitespace (including the line breaks
/// of an obsolete folded header) made one space, like botocore's `' '.join(v.split())`.
fn trim_all(value: &str, out: &mut String) {
    let mut first = true;
    for word in value.split_ascii_whitespace() {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

/// The canonical headers block: `name:value\n` for each signed header, in the order of
/// `signed` (which the caller sorts), the values of repeated headers joined by `,` in the
/// order they were sent. A signed header the request lacks signs as `name:` (the
/// signature then fails, as it should).
pub(crate) fn canonical_headers(headers: &[(&str, &str)], signed: &[String]) -> String {
    let mut out = String::new();
    for name in signed {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !first {
                out.push(',');
            }
            trim_all(value, &mut out);
            first = false;
        }
        // HTTP/2 carries the host as `:authority`; sign it as `host` when there is no
        // `host` header.
        if first && name == "host" {
            if let Some((_, value)) = headers.iter().find(|(n, _)| *n == ":authority") {
                trim_all(value, &mut out);
            }
        }
        out.push('\n');
    }
    out
}

/// The lowercased header names to sign, sorted and without duplicates.
pub(crate) fn normalize_signed_headers<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = names
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The canonical request, from its parts already canonicalized.
pub(crate) fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    headers: &str,
    signed: &[String],
    payload_hash: &str,
) -> String {
    let mut s = String::with_capacity(
        method.len() + uri.len() + query.len() + headers.len() + payload_hash.len() + 128,
    );
    for part in [method, "\n", uri, "\n", query, "\n", headers, "\n"] {
        s.push_str(part);
    }
    s.push_str(&signed.join(";"));
    s.push('\n');
    s.push_str(payload_hash);
    s
}

/// The credential scope: `yyyymmdd/region/service/aws4_request`.
pub(crate) fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The string to sign of a request.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request")`.
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{secret}");
    let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// The lowercase hex SHA-256 of `data`, the form SigV4 uses for payload hashes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Compares a computed signature with the one the client sent without leaking, through
/// timing, how many leading characters match.
pub(crate) fn signatures_match(computed: &[u8; 32], provided: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = hex::encode(computed);
    // The length is not secret (it is always 64); only the content is compared in
    // constant time. Uppercase hex is not what any SDK sends, and AWS rejects it too.
    expected.len() == provided.len() && bool::from(expected.as_bytes().ct_eq(provided.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_s3_paths_are_normalized_and_encoded_again() {
        let n = |p| canonical_uri(p, PathStyle::Normalized);
        assert_eq!(n(""), "/");
        assert_eq!(n("/"), "/");
        assert_eq!(n("//example//"), "/example/");
        assert_eq!(n("/./example/../x/."), "/x");
        assert_eq!(n("/example/.."), "/");
        assert_eq!(n("/../.."), "/");
        assert_eq!(n("/a%20b/c%2Fd"), "/a%2520b/c%252Fd");
        assert_eq!(n("/a+b=c"), "/a%2Bb%3Dc");
        assert_eq!(n("/%E1%88%B4"), "/%25E1%2588%25B4");
        assert_eq!(n("/ሴ"), "/%E1%88%B4");
        assert_eq!(n("/~user/-_."), "/~user/-_.");
        assert_eq!(canonical_uri("//a/./b", PathStyle::Unnormalized), "//a/./b");
    }

    #[test]
    fn s3_paths_are_used_as_sent() {
        let s = |p| canonical_uri(p, PathStyle::AsSent);
        assert_eq!(
            s("//bucket/./a%20b/../c%2Fd+%3D"),
            "//bucket/./a%20b/../c%2Fd+%3D"
        );
        assert_eq!(s(""), "/");
    }

    #[test]
    fn query_strings_are_decoded_encoded_and_sorted() {
        let q = |raw| canonical_query(raw, true, &[]);
        assert_eq!(q(""), "");
        assert_eq!(q("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(
            q("Param2=value2&Param1=value1"),
            "Param1=value1&Param2=value2"
        );
        // Sorted by the encoded key: uppercase before lowercase.
        assert_eq!(q("a=1&B=2"), "B=2&a=1");
        assert_eq!(q("flag&x="), "flag=&x=");
        assert_eq!(q("k=a+b%20c%2Bd"), "k=a%20b%20c%2Bd");
        assert_eq!(canonical_query("k=a+b", false, &[]), "k=a%2Bb");
        assert_eq!(q("k=%7e%41*"), "k=~A%2A");
        assert_eq!(q("k=%zz%"), "k=%25zz%25");
        assert_eq!(q("u=%E1%88%B4&e=a=b"), "e=a%3Db&u=%E1%88%B4");
        assert_eq!(q("&&a=1&"), "a=1");
        assert_eq!(
            canonical_query(
                "X-Amz-Signature=abc&X-Amz-Date=1",
                true,
                &["X-Amz-Signature"]
            ),
            "X-Amz-Date=1"
        );
    }

    #[test]
    fn headers_are_trimmed_collapsed_and_joined() {
        let headers = [
            ("Host", "example.com"),
            ("My-Header", "  a   b  "),
            ("my-header", "c\n   d"),
            ("Other", "ignored"),
        ];
        let signed = normalize_signed_headers(["my-header", "Host", "host"].into_iter());
        assert_eq!(signed, ["host", "my-header"]);
        assert_eq!(
            canonical_headers(&headers, &signed),
            "host:example.com\nmy-header:a b,c d\n"
        );
        let h2 = [(":authority", "example.com")];
        assert_eq!(canonical_headers(&h2, &signed[..1]), "host:example.com\n");
    }

    #[test]
    fn signature_comparison_needs_the_exact_hex() {
        let sig = [0xabu8; 32];
        assert!(signatures_match(&sig, &"ab".repeat(32)));
        assert!(!signatures_match(&sig, &"AB".repeat(32)));
        assert!(!signatures_match(&sig, &"ab".repeat(31)));
        assert!(!signatures_match(&sig, ""));
    }
}

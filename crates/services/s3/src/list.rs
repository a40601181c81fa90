//! ListObjectsV2 and ListObjects (v1): a range scan over a bucket's keys that rolls keys
//! sharing a prefix up to the delimiter into common prefixes, skipping past each rolled-up
//! prefix with one seek instead of reading its keys.

use std::ops::Bound;

use axum::response::Response;
use tributary_model::AwsError;
use tributary_shapes::generated::s3::Operation;

use super::storage::{self, ObjectMeta};
use super::{buckets, checksum, invalid_argument, timestamp, types, xml, xml_response, Request};

/// Entries read from the store per scan step.
const SCAN_BATCH: usize = 1000;
/// The most keys one page returns, whatever `max-keys` asks for.
const PAGE_LIMIT: usize = 1000;

/// One listed entry.
enum Entry {
    Object(String, Box<ObjectMeta>),
    Prefix(String),
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Entry::Object(k, _) | Entry::Prefix(k) => k,
        }
    }
}

/// Where a scan starts.
enum Start {
    /// After this key (exclusive); common prefixes that sort at or before it are skipped too.
    After(String),
    /// At this key bound (inclusive): the first key after a rolled-up common prefix.
    At(Vec<u8>),
}

struct Page {
    entries: Vec<Entry>,
    truncated: bool,
}

/// The smallest byte string greater than every string starting with `s`.
pub(super) fn prefix_end(s: &[u8]) -> Option<Vec<u8>> {
    let mut v = s.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xff {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

fn scan(
    req: &Request<'_>,
    prefix: &str,
    delimiter: Option<&str>,
    start: Option<Start>,
    max: usize,
) -> Result<Page, AwsError> {
    if max == 0 {
        return Ok(Page {
            entries: Vec::new(),
            truncated: false,
        });
    }
    let bucket = req.bucket();
    let store = &req.app.store;
    let key_of = |k: &str| storage::object_key(bucket, k);
    let upper = match prefix_end(prefix.as_bytes()) {
        Some(end) => {
            let mut u = storage::object_key(bucket, "");
            u.extend(end);
            u
        }
        None => storage::bucket_end(bucket),
    };
    let marker = match &start {
        Some(Start::After(m)) => Some(m.clone()),
        _ => None,
    };
    let mut lower: (Vec<u8>, bool) = (key_of(prefix), true);
    match &start {
        Some(Start::After(m)) if m.as_str() >= prefix => lower = (key_of(m), false),
        Some(Start::At(b)) => {
            let mut k = storage::object_key(bucket, "");
            k.extend(b);
            if k > lower.0 {
                lower = (k, true);
            }
        }
        _ => {}
    }
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        let lo = if lower.1 {
            Bound::Included(lower.0.as_slice())
        } else {
            Bound::Excluded(lower.0.as_slice())
        };
        let batch = store.kv_range(
            storage::OBJECTS,
            lo,
            Bound::Excluded(upper.as_slice()),
            false,
            SCAN_BATCH,
        )?;
        let exhausted = batch.len() < SCAN_BATCH;
        let mut seek: Option<Vec<u8>> = None;
        for (k, v) in &batch {
            let (key, meta) = storage::listed(bucket, k, v)?;
            let rolled = delimiter.and_then(|d| {
                let rest = key.get(prefix.len()..).unwrap_or_default();
                rest.find(d)
                    .map(|i| key[..prefix.len() + i + d.len()].to_owned())
            });
            let entry = match rolled {
                Some(cp) => {
                    // Every key under this common prefix is skipped with one seek.
                    seek = Some(match prefix_end(cp.as_bytes()) {
                        Some(end) => {
                            let mut s = storage::object_key(bucket, "");
                            s.extend(end);
                            s
                        }
                        None => upper.clone(),
                    });
                    if marker.as_deref().is_some_and(|m| cp.as_str() <= m) {
                        break;
                    }
                    Entry::Prefix(cp)
                }
                None => Entry::Object(key, Box::new(meta)),
            };
            if entries.len() == max {
                return Ok(Page {
                    entries,
                    truncated: true,
                });
            }
            entries.push(entry);
            if seek.is_some() {
                break;
            }
            lower = (k.clone(), false);
        }
        match seek {
            Some(s) => lower = (s, true),
            None if exhausted => break,
            None => {}
        }
    }
    Ok(Page {
        entries,
        truncated: false,
    })
}

/// Percent-encodes a key as S3 does for `encoding-type=url` (what botocore's `unquote_plus`
/// reverses): unreserved characters and `/` stay, a space becomes `+`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The parameters every listing shares (both ListObjects versions and ListObjectVersions).
pub(super) struct Common {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// The most entries this page returns.
    pub max_keys: usize,
    /// `max-keys` as the answer repeats it.
    pub max_keys_shown: i64,
    /// `encoding-type=url`.
    pub url: bool,
}

/// The members every listing's input has (ListObjects, ListObjectsV2, ListObjectVersions),
/// borrowed from it ([`listing!`]).
pub(super) struct Listing<'a> {
    pub prefix: Option<&'a str>,
    pub delimiter: Option<&'a str>,
    pub max_keys: Option<i32>,
    /// `max-keys` as sent, when it is no 32-bit integer.
    pub max_keys_sent: Option<&'a str>,
    pub encoding_type: Option<&'a str>,
}

/// The [`Listing`] of a listing's input and its unparsed values.
macro_rules! listing {
    ($input:expr, $unparsed:expr) => {{
        let i = &$input;
        $crate::list::Listing {
            prefix: i.prefix.as_deref(),
            delimiter: i.delimiter.as_deref(),
            max_keys: i.max_keys,
            max_keys_sent: $crate::input::sent(&$unparsed, "MaxKeys"),
            encoding_type: i.encoding_type.as_deref(),
        }
    }};
}
pub(super) use listing;

pub(super) fn common(req: &Request<'_>, l: &Listing<'_>) -> Result<Common, AwsError> {
    buckets::require(req.app, req.bucket())?;
    let url = match l.encoding_type {
        None => false,
        Some(e) if e.eq_ignore_ascii_case("url") => true,
        Some(e) => {
            return Err(invalid_argument(
                "Invalid Encoding Method specified in Request",
                "encoding-type",
                e,
            ))
        }
    };
    let max_keys_shown = match (l.max_keys, l.max_keys_sent) {
        (_, Some(text)) => {
            return Err(invalid_argument(
                "Provided max-keys not an integer or within integer range",
                "max-keys",
                text,
            ))
        }
        (None, None) => PAGE_LIMIT as i64,
        (Some(n), None) if n >= 0 => i64::from(n),
        (Some(n), None) => {
            return Err(invalid_argument(
                "Argument maxKeys must be an integer between 0 and 2147483647",
                "maxKeys",
                &n.to_string(),
            ))
        }
    };
    Ok(Common {
        prefix: l.prefix.unwrap_or_default().to_owned(),
        delimiter: l.delimiter.filter(|d| !d.is_empty()).map(str::to_owned),
        max_keys: (max_keys_shown as usize).min(PAGE_LIMIT),
        max_keys_shown,
        url,
    })
}

/// A listed object as ListObjects (both versions) shows it.
fn object(c: &Common, key: &str, meta: &ObjectMeta, owner: Option<&types::Owner>) -> types::Object {
    types::Object {
        key: Some(enc(c, key)),
        last_modified: Some(timestamp(meta.modified_ms)),
        e_tag: Some(format!("\"{}\"", meta.etag)),
        checksum_algorithm: meta
            .checksum
            .as_ref()
            .map(|ck| vec![ck.algorithm.name().to_owned()]),
        checksum_type: meta.checksum.as_ref().map(|ck| ck.kind.name().to_owned()),
        size: Some(meta.size as i64),
        storage_class: Some(meta.storage_class.clone()),
        owner: owner.cloned(),
        // Only asked for with `x-amz-optional-object-attributes`, for archived objects.
        restore_status: None,
    }
}

pub(super) fn enc(c: &Common, s: &str) -> String {
    if c.url {
        url_encode(s)
    } else {
        s.to_owned()
    }
}

/// A page's objects and common prefixes, as the listings' `Contents` and `CommonPrefixes`
/// (left out when there are none).
fn entries(
    c: &Common,
    page: &Page,
    owner: Option<&types::Owner>,
) -> (Option<Vec<types::Object>>, Option<Vec<types::CommonPrefix>>) {
    let objects: Vec<types::Object> = page
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Object(k, m) => Some(object(c, k, m, owner)),
            Entry::Prefix(_) => None,
        })
        .collect();
    let prefixes: Vec<types::CommonPrefix> = page
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Prefix(p) => Some(common_prefix(c, p)),
            Entry::Object(..) => None,
        })
        .collect();
    (
        (!objects.is_empty()).then_some(objects),
        (!prefixes.is_empty()).then_some(prefixes),
    )
}

pub(super) fn common_prefix(c: &Common, p: &str) -> types::CommonPrefix {
    types::CommonPrefix {
        prefix: Some(enc(c, p)),
    }
}

/// ListObjectsV2 (`GET /<bucket>?list-type=2`).
pub(super) fn list_v2(req: &Request<'_>) -> Result<Response, AwsError> {
    let (input, unparsed): (types::ListObjectsV2Request, _) =
        req.input_and_unparsed(Operation::ListObjectsV2)?;
    let c = common(req, &listing!(input, unparsed))?;
    let token = input.continuation_token.as_ref();
    let start_after = input.start_after.as_ref().filter(|s| !s.is_empty());
    let start = match token {
        Some(t) => Some(decode_token(t)?),
        None => start_after.map(|s| Start::After(s.clone())),
    };
    let page = scan(req, &c.prefix, c.delimiter.as_deref(), start, c.max_keys)?;
    let owner = input
        .fetch_owner
        .unwrap_or(false)
        .then(|| buckets::owner(&req.app.cfg.account_id));
    let (contents, common_prefixes) = entries(&c, &page, owner.as_ref());
    let out = types::ListObjectsV2Output {
        is_truncated: Some(page.truncated),
        contents,
        name: Some(req.bucket().to_owned()),
        prefix: Some(enc(&c, &c.prefix)),
        delimiter: c.delimiter.as_deref().map(|d| enc(&c, d)),
        max_keys: Some(c.max_keys_shown as i32),
        common_prefixes,
        encoding_type: c.url.then(|| "url".to_owned()),
        key_count: Some(page.entries.len() as i32),
        continuation_token: token.cloned(),
        next_continuation_token: page
            .entries
            .last()
            .filter(|_| page.truncated)
            .map(encode_token),
        start_after: start_after.map(|s| enc(&c, s)),
        request_charged: None,
    };
    Ok(xml_response(xml::document("ListBucketResult", &out)))
}

/// ListObjects, the original version (`marker` / `NextMarker`; owners always shown).
pub(super) fn list_v1(req: &Request<'_>) -> Result<Response, AwsError> {
    let (input, unparsed): (types::ListObjectsRequest, _) =
        req.input_and_unparsed(Operation::ListObjects)?;
    let c = common(req, &listing!(input, unparsed))?;
    let marker = input.marker.clone().unwrap_or_default();
    let start = (!marker.is_empty()).then(|| Start::After(marker.clone()));
    let page = scan(req, &c.prefix, c.delimiter.as_deref(), start, c.max_keys)?;
    let owner = buckets::owner(&req.app.cfg.account_id);
    let (contents, common_prefixes) = entries(&c, &page, Some(&owner));
    // S3 sends NextMarker only with a delimiter; without one the last key is the marker.
    let next_marker = match (page.truncated, &c.delimiter, page.entries.last()) {
        (true, Some(_), Some(last)) => Some(enc(&c, last.name())),
        _ => None,
    };
    let out = types::ListObjectsOutput {
        is_truncated: Some(page.truncated),
        marker: Some(enc(&c, &marker)),
        next_marker,
        contents,
        name: Some(req.bucket().to_owned()),
        prefix: Some(enc(&c, &c.prefix)),
        delimiter: c.delimiter.as_deref().map(|d| enc(&c, d)),
        max_keys: Some(c.max_keys_shown as i32),
        common_prefixes,
        encoding_type: c.url.then(|| "url".to_owned()),
        request_charged: None,
    };
    Ok(xml_response(xml::document("ListBucketResult", &out)))
}

/// Continuation tokens are opaque to clients: base64 of `K<last key>` or `P<last common
/// prefix>`, so the next page resumes after the key, or after everything under the prefix.
fn encode_token(last: &Entry) -> String {
    let raw = match last {
        Entry::Object(k, _) => format!("K{k}"),
        Entry::Prefix(p) => format!("P{p}"),
    };
    checksum::b64(raw.as_bytes())
}

fn decode_token(t: &str) -> Result<Start, AwsError> {
    let bad = || {
        invalid_argument(
            "The continuation token provided is incorrect",
            "continuation-token",
            t,
        )
    };
    let raw = checksum::from_b64(t)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    match raw.split_at_checked(1) {
        Some(("K", k)) => Ok(Start::After(k.to_owned())),
        Some(("P", p)) => Ok(Start::At(prefix_end(p.as_bytes()).ok_or_else(bad)?)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_bounds_every_extension() {
        assert_eq!(prefix_end(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn url_encodes_like_s3() {
        assert_eq!(url_encode("a b/c+d%é"), "a+b/c%2Bd%25%C3%A9");
        assert_eq!(url_encode("photos/2024"), "photos/2024");
    }

    #[test]
    fn tokens_round_trip() {
        let t = encode_token(&Entry::Prefix("logs/".into()));
        assert!(matches!(decode_token(&t), Ok(Start::At(b)) if b == b"logs0"));
        assert!(decode_token("!!").is_err());
        assert!(decode_token(&checksum::b64(b"Xabc")).is_err());
    }
}

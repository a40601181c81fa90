//! A REST request (REST-JSON: Lambda; REST-XML: S3) read as its operation's input shape: each
//! member from where the model's `location` puts it.
//!
//! - `uri`: the URI label of that name (`{Bucket}`, `{Key+}`), already percent-decoded;
//! - `querystring`: the query parameter (a list member repeats its key: `tagKeys=a&tagKeys=b`);
//! - `header`: the header (a list member is comma-separated); timestamps in headers are
//!   RFC 7231 dates (`Mon, 12 Oct 2009 17:50:00 GMT`), in the query ISO 8601;
//! - `headers`: every header that starts with the member's prefix (`x-amz-meta-`), a map keyed
//!   by the rest of the name;
//! - the body: for REST-XML the operation's `payload` member, an XML document read by the
//!   model's XML names ([`xml_value`]); a blob payload (an object's bytes) is not read here.
//!
//! Values become the JSON form the generated structures deserialize: numbers and booleans
//! typed, timestamps as epoch seconds. A value that is not of its member's type is not put in
//! the object; it is answered as [`Unparsed`], for the service to refuse in its own words (S3:
//! `Provided max-keys not an integer or within integer range`) or to ignore (S3 ignores an
//! `If-Modified-Since` that is not a date, as HTTP says).

use serde_json::{Map, Number, Value};

use crate::xml::Element;
use crate::{Kind, Location, Service, Shape};

/// The parts of a request its located members come from.
pub struct Parts<'a> {
    /// URI label values, percent-decoded, by label name.
    pub labels: &'a [(String, String)],
    /// Query parameters, percent-decoded, in request order (a key may repeat).
    pub query: &'a [(String, String)],
    pub headers: &'a http::HeaderMap,
}

/// A located value that is not of its member's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unparsed {
    /// The member (`MaxKeys`).
    pub member: &'static str,
    /// Its name on the wire (`max-keys`).
    pub wire: &'static str,
    pub location: Location,
    pub kind: Kind,
    /// The text as sent.
    pub text: String,
}

/// Puts every located member of `input` that the request sends into `obj`, typed; answers the
/// values that are not of their member's type, in member order.
pub fn read_located(
    service: &Service,
    input: &Shape,
    parts: &Parts<'_>,
    obj: &mut Map<String, Value>,
) -> Vec<Unparsed> {
    let mut unparsed = Vec::new();
    for m in input.members {
        let wire = m.location_name.unwrap_or(m.name);
        let shape = service.shape(m.shape);
        let mut bad = |text: &str, kind: Kind| -> Option<Value> {
            unparsed.push(Unparsed {
                member: m.name,
                wire,
                location: m.location,
                kind,
                text: text.to_owned(),
            });
            None
        };
        let value = match m.location {
            Location::Uri => parts
                .labels
                .iter()
                .find(|(l, _)| l == wire)
                .and_then(|(_, v)| typed(shape, v, m.location).or_else(|| bad(v, shape.kind))),
            Location::Querystring if shape.kind == Kind::List => {
                let el = shape.member.map(|id| service.shape(id));
                let values: Vec<Value> = parts
                    .query
                    .iter()
                    .filter(|(k, _)| k == wire)
                    .filter_map(|(_, v)| match el {
                        Some(el) => typed(el, v, m.location).or_else(|| bad(v, el.kind)),
                        None => None,
                    })
                    .collect();
                (!values.is_empty()).then_some(Value::Array(values))
            }
            Location::Querystring => parts
                .query
                .iter()
                .rev()
                .find(|(k, _)| k == wire)
                .and_then(|(_, v)| typed(shape, v, m.location).or_else(|| bad(v, shape.kind))),
            Location::Header => header_text(parts.headers, wire).and_then(|text| {
                if shape.kind == Kind::List {
                    let el = service.shape(shape.member?);
                    let items = text
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| typed(el, s, m.location).or_else(|| bad(s, el.kind)))
                        .collect::<Option<Vec<Value>>>()?;
                    Some(Value::Array(items))
                } else {
                    typed(shape, &text, m.location).or_else(|| bad(&text, shape.kind))
                }
            }),
            Location::Headers => {
                let prefix = wire.to_ascii_lowercase();
                let mut map = Map::new();
                for name in parts.headers.keys() {
                    if let Some(rest) = name.as_str().strip_prefix(prefix.as_str()) {
                        let text = header_text(parts.headers, name.as_str()).unwrap_or_default();
                        map.insert(rest.to_owned(), Value::String(text));
                    }
                }
                (!map.is_empty()).then_some(Value::Object(map))
            }
            Location::Body | Location::StatusCode => None,
        };
        if let Some(v) = value {
            obj.insert(m.name.to_owned(), v);
        }
    }
    unparsed
}

/// A header's value as text: trimmed, and several of the same name joined with `,` as HTTP
/// reads them.
fn header_text(headers: &http::HeaderMap, name: &str) -> Option<String> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let mut text = String::from_utf8_lossy(first.as_bytes()).trim().to_owned();
    for v in values {
        text.push(',');
        text.push_str(String::from_utf8_lossy(v.as_bytes()).trim());
    }
    Some(text)
}

/// A located value as the JSON of its shape's type, or `None` when it is not of that type.
/// Strings (and blobs, which the structures read as base64) stay text.
pub fn typed(shape: &Shape, text: &str, location: Location) -> Option<Value> {
    match shape.kind {
        Kind::Integer => text
            .trim()
            .parse::<i32>()
            .ok()
            .map(|n| Value::Number(n.into())),
        Kind::Long => text
            .trim()
            .parse::<i64>()
            .ok()
            .map(|n| Value::Number(n.into())),
        Kind::Float | Kind::Double => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number),
        // As Java's `Boolean.parseBoolean` reads them, but strictly: anything else is no boolean.
        Kind::Boolean => match text.trim() {
            t if t.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
            t if t.eq_ignore_ascii_case("false") => Some(Value::Bool(false)),
            _ => None,
        },
        Kind::Timestamp => timestamp(text.trim(), location)
            .map(|ms| Number::from_f64(ms as f64 / 1000.0).map_or(Value::Null, Value::Number)),
        _ => Some(Value::String(text.to_owned())),
    }
}

/// Epoch milliseconds of a timestamp as REST protocols send it: an HTTP date in headers, ISO
/// 8601 elsewhere; either form, or epoch seconds, is read wherever it comes.
fn timestamp(text: &str, location: Location) -> Option<i64> {
    let http_date = || {
        chrono::DateTime::parse_from_rfc2822(text)
            .ok()
            .map(|t| t.timestamp_millis())
    };
    let iso = || crate::types::Timestamp::parse_iso(text).map(|t| t.millis());
    let epoch = || {
        text.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && f.abs() < 1e14)
            .map(|f| (f * 1000.0).round() as i64)
    };
    match location {
        Location::Header => http_date().or_else(iso).or_else(epoch),
        _ => iso().or_else(http_date).or_else(epoch),
    }
}

/// Where an XML document does not fit its shape: the path of the element (`Part[2].PartNumber`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XmlMismatch {
    pub path: String,
}

/// Structures nested deeper than this are not read (the request documents nest a few levels;
/// the bound only guards against a recursive shape).
const MAX_SHAPE_DEPTH: usize = 16;

/// An XML element read as `shape`: structure members by their XML names (the member's
/// `locationName`, else its name), lists wrapped (`<TagSet><Tag>…</Tag></TagSet>`, elements
/// named by the list's member name or `member`) or flattened (the member's elements repeated
/// in place: `<Part>…</Part><Part>…</Part>`), maps as `<entry><key/><value/></entry>`. Elements
/// the shape does not name are ignored. A scalar that is not of its type, and a required member
/// that is missing, is a mismatch: the document does not validate against the model's schema.
pub fn xml_value(service: &Service, shape: &Shape, el: &Element) -> Result<Value, XmlMismatch> {
    Walk { service }.value(shape, el, el.name.as_str(), 0)
}

struct Walk<'a> {
    service: &'a Service,
}

impl Walk<'_> {
    fn value(
        &self,
        shape: &Shape,
        el: &Element,
        path: &str,
        depth: usize,
    ) -> Result<Value, XmlMismatch> {
        let mismatch = || XmlMismatch {
            path: path.to_owned(),
        };
        if depth > MAX_SHAPE_DEPTH {
            return Err(mismatch());
        }
        match shape.kind {
            Kind::Structure => {
                let mut obj = Map::new();
                for m in shape.members {
                    let name = m.location_name.unwrap_or(m.name);
                    let member_shape = self.service.shape(m.shape);
                    let at = if path.is_empty() {
                        m.name.to_owned()
                    } else {
                        format!("{path}.{}", m.name)
                    };
                    let missing = || match m.required {
                        true => Err(XmlMismatch { path: at.clone() }),
                        false => Ok(()),
                    };
                    let v = if member_shape.flattened {
                        let items: Vec<&Element> = el.children_named(name).collect();
                        if items.is_empty() {
                            missing()?;
                            continue;
                        }
                        self.items(member_shape, &items, &at, depth)?
                    } else {
                        match el.child(name) {
                            Some(child) => self.value(member_shape, child, &at, depth + 1)?,
                            None => {
                                missing()?;
                                continue;
                            }
                        }
                    };
                    obj.insert(m.name.to_owned(), v);
                }
                Ok(Value::Object(obj))
            }
            Kind::List | Kind::Map => {
                let wrapper = match shape.kind {
                    Kind::List => shape.member_name.unwrap_or("member"),
                    _ => "entry",
                };
                let items: Vec<&Element> = el.children_named(wrapper).collect();
                self.items(shape, &items, path, depth)
            }
            _ => scalar(shape, &el.text).ok_or_else(mismatch),
        }
    }

    /// A list's elements, or a map's entries.
    fn items(
        &self,
        shape: &Shape,
        items: &[&Element],
        path: &str,
        depth: usize,
    ) -> Result<Value, XmlMismatch> {
        match shape.kind {
            Kind::List => {
                let Some(el_shape) = shape.member.map(|id| self.service.shape(id)) else {
                    return Ok(Value::Array(Vec::new()));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.value(el_shape, item, &format!("{path}[{i}]"), depth + 1)?);
                }
                Ok(Value::Array(out))
            }
            Kind::Map => {
                let (Some(key_id), Some(value_id)) = (shape.key, shape.value) else {
                    return Ok(Value::Object(Map::new()));
                };
                let (key_name, value_name) = (
                    shape.key_name.unwrap_or("key"),
                    shape.value_name.unwrap_or("value"),
                );
                let mut out = Map::new();
                for entry in items {
                    let Some(k) = entry.child(key_name) else {
                        continue;
                    };
                    let key = scalar(self.service.shape(key_id), &k.text)
                        .and_then(|k| k.as_str().map(str::to_owned))
                        .ok_or_else(|| XmlMismatch {
                            path: path.to_owned(),
                        })?;
                    let at = format!("{path}.{key}");
                    let v = match entry.child(value_name) {
                        Some(v) => self.value(self.service.shape(value_id), v, &at, depth + 1)?,
                        None => Value::Null,
                    };
                    out.insert(key, v);
                }
                Ok(Value::Object(out))
            }
            // A flattened scalar is not something a model writes; read the first.
            _ => match items.first() {
                Some(el) => self.value(shape, el, path, depth + 1),
                None => Ok(Value::Null),
            },
        }
    }
}

/// An XML text as its scalar shape's JSON value (XML carries timestamps as ISO 8601 and blobs
/// as base64, which the structures read as they are).
fn scalar(shape: &Shape, text: &str) -> Option<Value> {
    match shape.kind {
        Kind::String | Kind::Blob => Some(Value::String(text.to_owned())),
        Kind::Boolean => match text.trim() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => typed(shape, text, Location::Body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::s3::SERVICE;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    fn input(op: &str) -> &'static Shape {
        SERVICE.shape(SERVICE.operation(op).unwrap().input.unwrap())
    }

    #[test]
    fn located_members_are_typed_by_their_shapes() {
        let labels = vec![
            ("Bucket".to_owned(), "b".to_owned()),
            ("Key".to_owned(), "a/b c".to_owned()),
        ];
        let query = vec![
            ("partNumber".to_owned(), "3".to_owned()),
            ("versionId".to_owned(), "v1".to_owned()),
        ];
        let h = headers(&[
            ("if-modified-since", "Mon, 12 Oct 2009 17:50:00 GMT"),
            ("x-amz-checksum-mode", "ENABLED"),
            ("range", "bytes=0-1"),
            ("x-amz-meta-color", " blue "),
            ("x-amz-meta-size", "L"),
        ]);
        let parts = Parts {
            labels: &labels,
            query: &query,
            headers: &h,
        };
        let mut obj = Map::new();
        let bad = read_located(&SERVICE, input("GetObject"), &parts, &mut obj);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(obj["Bucket"], "b");
        assert_eq!(obj["Key"], "a/b c");
        assert_eq!(obj["PartNumber"], 3);
        assert_eq!(obj["VersionId"], "v1");
        assert_eq!(obj["IfModifiedSince"], 1_255_369_800.0);
        assert_eq!(obj["ChecksumMode"], "ENABLED");
        assert_eq!(obj["Range"], "bytes=0-1");
        // PutObject's metadata map; GetObject has none.
        assert!(!obj.contains_key("Metadata"));
        let mut obj = Map::new();
        read_located(&SERVICE, input("PutObject"), &parts, &mut obj);
        assert_eq!(
            obj["Metadata"],
            serde_json::json!({"color": "blue", "size": "L"})
        );
    }

    #[test]
    fn values_not_of_their_type_are_answered_apart() {
        let query = vec![
            ("max-keys".to_owned(), "abc".to_owned()),
            ("max-keys".to_owned(), "3000000000".to_owned()),
        ];
        let labels = vec![("Bucket".to_owned(), "b".to_owned())];
        let h = headers(&[]);
        let parts = Parts {
            labels: &labels,
            query: &query,
            headers: &h,
        };
        let mut obj = Map::new();
        let bad = read_located(&SERVICE, input("ListObjectsV2"), &parts, &mut obj);
        // The last of a repeated key counts; a 32-bit member holds no 3000000000.
        assert_eq!(
            bad,
            vec![Unparsed {
                member: "MaxKeys",
                wire: "max-keys",
                location: Location::Querystring,
                kind: Kind::Integer,
                text: "3000000000".into(),
            }]
        );
        assert!(!obj.contains_key("MaxKeys"));
        let h = headers(&[("if-modified-since", "yesterday")]);
        let parts = Parts {
            labels: &labels,
            query: &[],
            headers: &h,
        };
        let mut obj = Map::new();
        let bad = read_located(&SERVICE, input("HeadObject"), &parts, &mut obj);
        assert_eq!(bad[0].member, "IfModifiedSince");
        assert!(!obj.contains_key("IfModifiedSince"));
    }

    fn doc(op: &str, text: &str) -> Result<Value, XmlMismatch> {
        let shape = input(op);
        let payload = shape
            .members
            .iter()
            .find(|m| m.location == Location::Body)
            .unwrap();
        let el = crate::xml::parse(text.as_bytes()).unwrap();
        xml_value(&SERVICE, SERVICE.shape(payload.shape), &el)
    }

    #[test]
    fn documents_are_read_by_their_xml_names() {
        let v = doc(
            "CompleteMultipartUpload",
            "<CompleteMultipartUpload><Part><ETag>\"a\"</ETag><PartNumber>1</PartNumber></Part>\
             <Part><PartNumber> 2 </PartNumber><Unknown/></Part></CompleteMultipartUpload>",
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Parts": [{"ETag": "\"a\"", "PartNumber": 1}, {"PartNumber": 2}]})
        );
        let v = doc(
            "PutBucketTagging",
            "<Tagging><TagSet><Tag><Key>k</Key><Value></Value></Tag><Tag><Key>j</Key>\
             <Value>v</Value></Tag></TagSet></Tagging>",
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"TagSet": [{"Key": "k", "Value": ""}, {"Key": "j", "Value": "v"}]})
        );
        // A tag's value is required.
        let e = doc(
            "PutBucketTagging",
            "<Tagging><TagSet><Tag><Key>j</Key></Tag></TagSet></Tagging>",
        )
        .unwrap_err();
        assert_eq!(e.path, "Tagging.TagSet[0].Value");
        // XML booleans are `true` and `false`.
        assert!(doc(
            "DeleteObjects",
            "<Delete><Object><Key>a</Key></Object><Quiet>TRUE</Quiet></Delete>"
        )
        .is_err());
        let v = doc(
            "DeleteObjects",
            "<Delete><Object><Key> a </Key></Object><Quiet>true</Quiet></Delete>",
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Objects": [{"Key": " a "}], "Quiet": true})
        );
        let e = doc(
            "CompleteMultipartUpload",
            "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>",
        )
        .unwrap_err();
        assert_eq!(e.path, "CompleteMultipartUpload.Parts[0].PartNumber");
    }
}

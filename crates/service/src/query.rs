//! The AWS query protocol shared by SQS (older SDKs) and SNS: `Action=...&Version=...` form
//! parameters in (POST body or URL query string), XML documents out, and the XML error envelope
//! `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Response, StatusCode, Uri};

/// The request parameters of a query-protocol call: the URL query string and the form body,
/// decoded. Keys keep their dotted member paths (`Attribute.1.Name`).
#[derive(Debug, Default, Clone)]
pub struct Params(pub BTreeMap<String, String>);

impl Params {
    /// Parameters from the URL query string plus an `application/x-www-form-urlencoded` body;
    /// body values win over URL values of the same name.
    pub fn parse(uri: &Uri, body: &Bytes) -> Params {
        let mut map = crate::parse_query(uri.query().unwrap_or(""));
        if let Ok(text) = std::str::from_utf8(body) {
            map.extend(crate::parse_query(text.trim()));
        }
        Params(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The values of a flattened or `member` list: `prefix.1`, `prefix.2`, ... in index order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let mut items: Vec<(u32, &String)> = self
            .0
            .iter()
            .filter_map(|(k, v)| {
                let idx = k.strip_prefix(prefix)?.strip_prefix('.')?;
                Some((idx.parse().ok()?, v))
            })
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, v)| v.clone()).collect()
    }

    /// The sub-parameters of each entry of a structure list: for `prefix.N.Field=v`, one
    /// `Params {Field: v}` per index N, in index order.
    pub fn entries(&self, prefix: &str) -> Vec<Params> {
        let mut by_index: BTreeMap<u32, Params> = BTreeMap::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let Some((idx, field)) = rest.split_once('.') else {
                continue;
            };
            let Ok(idx) = idx.parse::<u32>() else {
                continue;
            };
            by_index
                .entry(idx)
                .or_default()
                .0
                .insert(field.to_owned(), v.clone());
        }
        by_index.into_values().collect()
    }

    /// Converts the parameters into the JSON shape the same operation has in a JSON protocol:
    /// indexed members become arrays, or objects when their name is in `maps` (whose entries
    /// carry the given key and value member names), and names are renamed by `rename`.
    pub fn to_json(
        &self,
        maps: &[(&str, &str, &str)],
        rename: &dyn Fn(&str) -> Option<&'static str>,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut root = Node::default();
        for (k, v) in self.0.iter().filter(|(k, _)| is_member_path(k)) {
            root.insert(k.split('.'), v);
        }
        match root.into_json(maps, rename) {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        }
    }
}

/// Most dot-separated segments a parameter name may have to be read as a member path. The
/// deepest inputs of the query-protocol services we serve are about nine segments
/// (`MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name`); a longer name is
/// no parameter of any operation and is ignored like other unknown parameters, so the trees
/// built from names (and the recursion over them) stay shallow whatever a client sends.
pub const MAX_MEMBER_PATH_SEGMENTS: usize = 16;

/// Whether `name` is short enough to be a member path (see [`MAX_MEMBER_PATH_SEGMENTS`]).
pub fn is_member_path(name: &str) -> bool {
    name.split('.').nth(MAX_MEMBER_PATH_SEGMENTS).is_none()
}

/// A tree of dotted parameter names.
#[derive(Default)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert<'a>(&mut self, mut path: impl Iterator<Item = &'a str>, v: &str) {
        match path.next() {
            Some(seg) => self
                .children
                .entry(seg.to_owned())
                .or_default()
                .insert(path, v),
            None => self.value = Some(v.to_owned()),
        }
    }

    fn is_indexed(&self) -> bool {
        !self.children.is_empty() && self.children.keys().all(|k| k.parse::<u32>().is_ok())
    }

    fn into_json(
        self,
        maps: &[(&str, &str, &str)],
        rename: &dyn Fn(&str) -> Option<&'static str>,
    ) -> serde_json::Value {
        use serde_json::Value;
        if self.children.is_empty() {
            return Value::String(self.value.unwrap_or_default());
        }
        let mut out = serde_json::Map::new();
        for (name, child) in self.children {
            let key = rename(&name).map(str::to_owned).unwrap_or(name.clone());
            let value = if child.is_indexed() {
                let mut entries: Vec<(u32, Node)> = child
                    .children
                    .into_iter()
                    .filter_map(|(i, n)| Some((i.parse().ok()?, n)))
                    .collect();
                entries.sort_by_key(|(i, _)| *i);
                match maps.iter().find(|(m, _, _)| *m == name) {
                    Some((_, key_name, value_name)) => {
                        let mut obj = serde_json::Map::new();
                        for (_, mut entry) in entries {
                            let Some(k) = entry.children.remove(*key_name).and_then(|n| n.value)
                            else {
                                continue;
                            };
                            let v = entry
                                .children
                                .remove(*value_name)
                                .map(|n| n.into_json(maps, rename))
                                .unwrap_or(Value::Null);
                            obj.insert(k, v);
                        }
                        Value::Object(obj)
                    }
                    None => Value::Array(
                        entries
                            .into_iter()
                            .map(|(_, n)| n.into_json(maps, rename))
                            .collect(),
                    ),
                }
            } else {
                child.into_json(maps, rename)
            };
            out.insert(key, value);
        }
        Value::Object(out)
    }
}

pub use tributary_shapes::xml::{escape, Xml};

use crate::request_id;

fn xml_response(status: u16, body: String, request_id: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("text/xml"));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", id);
    }
    r
}

/// `<{Action}Response xmlns=ns><{Action}Result>result</{Action}Result><ResponseMetadata>...`;
/// actions without output (`result` = `None`) have no Result element.
pub fn ok(action: &str, namespace: &str, result: Option<&str>) -> Response<Body> {
    let id = request_id();
    let mut x = Xml::new();
    x.raw("<?xml version=\"1.0\"?>");
    x.raw(&format!(
        "<{action}Response xmlns=\"{}\">",
        escape(namespace)
    ));
    if let Some(result) = result {
        x.open(&format!("{action}Result"))
            .raw(result)
            .close(&format!("{action}Result"));
    }
    x.open("ResponseMetadata")
        .elem("RequestId", &id)
        .close("ResponseMetadata");
    x.close(&format!("{action}Response"));
    xml_response(200, x.into_string(), &id)
}

/// The query-protocol error envelope. `Type` is `Sender` for client errors, `Receiver` for
/// server errors; with `detail`, the `Error` element ends with an empty `<Detail/>` (SQS has
/// it, SNS does not).
pub fn error(
    namespace: &str,
    status: u16,
    code: &str,
    message: &str,
    detail: bool,
) -> Response<Body> {
    let id = request_id();
    let mut x = Xml::new();
    x.raw("<?xml version=\"1.0\"?>");
    x.raw(&format!("<ErrorResponse xmlns=\"{}\">", escape(namespace)));
    x.open("Error")
        .elem("Type", if status >= 500 { "Receiver" } else { "Sender" })
        .elem("Code", code)
        .elem("Message", message);
    if detail {
        x.raw("<Detail/>");
    }
    x.close("Error");
    x.elem("RequestId", &id);
    x.close("ErrorResponse");
    xml_response(status, x.into_string(), &id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn parses_form_body_and_url() {
        let uri: Uri = "/q?Action=ListQueues&Version=2012-11-05".parse().unwrap();
        let body = Bytes::from_static(b"QueueNamePrefix=a%2Bb+c&Action=GetQueueUrl");
        let p = Params::parse(&uri, &body);
        assert_eq!(p.get("Action"), Some("GetQueueUrl"));
        assert_eq!(p.get("QueueNamePrefix"), Some("a+b c"));
        assert_eq!(p.get("Version"), Some("2012-11-05"));
    }

    #[test]
    fn lists_and_entries_follow_their_indexes() {
        let p = params(&[
            ("AttributeName.10", "c"),
            ("AttributeName.2", "b"),
            ("AttributeName.1", "a"),
            ("Entry.2.Id", "y"),
            ("Entry.1.Id", "x"),
            ("Entry.1.Body", "hello"),
        ]);
        assert_eq!(p.list("AttributeName"), vec!["a", "b", "c"]);
        let e = p.entries("Entry");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].get("Id"), Some("x"));
        assert_eq!(e[0].get("Body"), Some("hello"));
        assert_eq!(e[1].get("Id"), Some("y"));
    }

    #[test]
    fn converts_to_the_json_shape() {
        let p = params(&[
            ("Action", "SendMessageBatch"),
            ("Entry.1.Id", "a"),
            ("Entry.1.MessageAttribute.1.Name", "color"),
            ("Entry.1.MessageAttribute.1.Value.DataType", "String"),
            ("Entry.1.MessageAttribute.1.Value.StringValue", "red"),
            ("Entry.2.Id", "b"),
            ("AttributeName.1", "All"),
        ]);
        let rename = |n: &str| match n {
            "Entry" => Some("Entries"),
            "MessageAttribute" => Some("MessageAttributes"),
            "AttributeName" => Some("AttributeNames"),
            _ => None,
        };
        let j = p.to_json(&[("MessageAttribute", "Name", "Value")], &rename);
        assert_eq!(
            serde_json::Value::Object(j),
            serde_json::json!({
                "Action": "SendMessageBatch",
                "AttributeNames": ["All"],
                "Entries": [
                    {"Id": "a", "MessageAttributes": {"color": {"DataType": "String", "StringValue": "red"}}},
                    {"Id": "b"}
                ]
            })
        );
    }

    #[test]
    fn escapes_markup_and_carriage_returns() {
        assert_eq!(
            escape("a<b>&\"c'\r\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#xD;\n"
        );
    }

    #[test]
    fn names_with_too_many_segments_are_ignored() {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(s, || {
                    let longest = vec!["a"; MAX_MEMBER_PATH_SEGMENTS].join(".");
                    let deep = vec!["b"; 100_000].join(".");
                    let p = params(&[("QueueUrl", "q"), (&longest, "1"), (&deep, "2")]);
                    let j = p.to_json(&[], &|_| None);
                    assert_eq!(j["QueueUrl"], "q");
                    let mut node = &j["a"];
                    for _ in 1..MAX_MEMBER_PATH_SEGMENTS {
                        node = &node["a"];
                    }
                    assert_eq!(node, "1");
                    assert!(!j.contains_key("b"));
                })
                .expect("spawn a test thread")
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        });
    }
}

//! Test plumbing shared by the IAM and STS integration tests: query-protocol requests built
//! from form pairs, answers parsed as XML, and every success checked against the model's
//! output shape (element names, `member` lists, required members, scalar forms) and every
//! error against the query error envelope.

#![allow(dead_code)]

use bytes::Bytes;
use quick_xml::events::Event;
use tributary_service::{Caller, Protocol, Request, Route, Service};
use tributary_shapes::{Kind, Shape};

/// An element: its local name, its text, its children.
#[derive(Debug, Default, Clone)]
pub struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The node at a `/`-separated path below this one.
    pub fn at(&self, path: &str) -> Option<&Node> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .try_fold(self, |n, seg| n.child(seg))
    }

    /// The text at a path; panics with the document when it is missing.
    pub fn text(&self, path: &str) -> &str {
        match self.at(path) {
            Some(n) => &n.text,
            None => panic!("no {path} in {self:#?}"),
        }
    }

    pub fn opt(&self, path: &str) -> Option<&str> {
        self.at(path).map(|n| n.text.as_str())
    }

    /// The `member` children of the list at `path` (empty when the list is absent).
    pub fn members(&self, path: &str) -> Vec<&Node> {
        self.at(path)
            .map(|n| n.children.iter().filter(|c| c.name == "member").collect())
            .unwrap_or_default()
    }
}

pub fn parse_xml(text: &str) -> Node {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(Node {
                name: e.local_name().into_inner().to_owned(),
                ..Node::default()
            }),
            Event::Empty(e) => {
                let n = Node {
                    name: e.local_name().into_inner().to_owned(),
                    ..Node::default()
                };
                match stack.last_mut() {
                    Some(p) => p.children.push(n),
                    None => root = Some(n),
                }
            }
            Event::End(_) => {
                let n = stack.pop().expect("balanced XML");
                match stack.last_mut() {
                    Some(p) => p.children.push(n),
                    None => root = Some(n),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let s = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .map(str::to_owned)
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s.expect("known entity"));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    root.expect("a root element")
}

/// `a=b&c=d`, percent-encoded as a form body.
pub fn form(pairs: &[(&str, &str)]) -> Bytes {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    Bytes::from(body.join("&"))
}

pub fn caller(access_key: &str, account: &str) -> Caller {
    Caller {
        access_key: access_key.to_owned(),
        account_id: account.to_owned(),
        session_token: None,
        arn: None,
    }
}

/// The `test` key of the default account, as the gateway hands it over.
pub fn default_caller() -> Caller {
    caller("test", "000000000000")
}

pub fn request(service: &str, caller: Option<Caller>, pairs: &[(&str, &str)]) -> Request {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    Request {
        method: http::Method::POST,
        uri: "/".parse().expect("a uri"),
        headers,
        body: form(pairs),
        route: Route {
            service: service.to_owned(),
            protocol: Protocol::Query,
        },
        caller,
    }
}

/// A response: its status and its parsed body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub doc: Node,
    pub action: String,
}

impl Answer {
    /// The `<ActionResult>` element.
    pub fn result(&self) -> &Node {
        let name = format!("{}Result", self.action);
        self.doc
            .child(&name)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
    }

    /// Text below the result element.
    pub fn text(&self, path: &str) -> &str {
        self.result().text(path)
    }

    pub fn code(&self) -> &str {
        self.doc.text("Error/Code")
    }

    pub fn message(&self) -> &str {
        self.doc.text("Error/Message")
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.status, 200, "{}", self.body);
        self
    }

    #[track_caller]
    pub fn error(&self, status: u16, code: &str, message: &str) {
        assert_eq!(
            (self.status, self.code(), self.message()),
            (status, code, message),
            "{}",
            self.body
        );
    }

    #[track_caller]
    pub fn error_code(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
    }
}

/// Calls a service and checks the envelope of its answer against the model.
pub async fn call(
    svc: &dyn Service,
    model: &tributary_shapes::Service,
    service: &str,
    caller: Option<Caller>,
    pairs: &[(&str, &str)],
) -> Answer {
    call_allowing(svc, model, service, caller, pairs, &[]).await
}

/// [`call`], accepting that the `(shape, member)` pairs in `absent` may be missing although
/// the model marks them required (AWS leaves the user name out of the account root's keys).
pub async fn call_allowing(
    svc: &dyn Service,
    model: &tributary_shapes::Service,
    service: &str,
    caller: Option<Caller>,
    pairs: &[(&str, &str)],
    absent: &[(&str, &str)],
) -> Answer {
    let action = pairs
        .iter()
        .find(|(k, _)| *k == "Action")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let resp = svc.call(request(service, caller, pairs)).await;
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/xml")
    );
    let bytes = axum_body(resp).await;
    let body = String::from_utf8(bytes).expect("utf-8 body");
    let doc = parse_xml(&body);
    let namespace = format!(
        "https://{}.amazonaws.com/doc/{}/",
        service, model.api_version
    );
    assert!(body.contains(&format!("xmlns=\"{namespace}\"")), "{body}");
    if status == 200 {
        assert_eq!(doc.name, format!("{action}Response"), "{body}");
        assert!(!doc.text("ResponseMetadata/RequestId").is_empty());
        let op = model.operation(&action).expect("a model operation");
        match (op.output, doc.child(&format!("{action}Result"))) {
            (Some(shape), Some(result)) => {
                check_shape(model, model.shape(shape), result, &action, absent)
            }
            (Some(shape), None) => assert!(
                model.shape(shape).members.iter().all(|m| !m.required),
                "{action} answered without a result: {body}"
            ),
            (None, Some(_)) => panic!("{action} has no output but answered one: {body}"),
            (None, None) => {}
        }
    } else {
        assert_eq!(doc.name, "ErrorResponse", "{body}");
        let ty = doc.text("Error/Type");
        assert_eq!(ty, if status >= 500 { "Receiver" } else { "Sender" });
        assert!(!doc.text("Error/Code").is_empty());
        doc.text("Error/Message");
        assert!(!doc.text("RequestId").is_empty());
    }
    Answer {
        status,
        body,
        doc,
        action,
    }
}

async fn axum_body(resp: tributary_service::Response) -> Vec<u8> {
    use http_body_util::BodyExt as _;
    resp.into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes()
        .to_vec()
}

/// Checks that `node` is an instance of the structure `shape`: every child a member (by its
/// wire name), every required member present, lists made of `member` elements, scalars in
/// the forms the query protocol uses.
pub fn check_shape(
    model: &tributary_shapes::Service,
    shape: &Shape,
    node: &Node,
    path: &str,
    absent: &[(&str, &str)],
) {
    for c in &node.children {
        let m = shape
            .members
            .iter()
            .find(|m| m.location_name.unwrap_or(m.name) == c.name)
            .unwrap_or_else(|| panic!("{path}: {} is not a member of {}", c.name, shape.name));
        check_value(
            model,
            model.shape(m.shape),
            c,
            &format!("{path}/{}", c.name),
            absent,
        );
    }
    // The account root is a `User` without a path or a name (AWS's GetUser for the root).
    let root = shape.name == "User" && node.opt("Arn").is_some_and(|a| a.ends_with(":root"));
    for m in shape.members.iter().filter(|m| m.required) {
        let wire = m.location_name.unwrap_or(m.name);
        if absent.contains(&(shape.name, m.name)) || (root && matches!(m.name, "Path" | "UserName"))
        {
            continue;
        }
        assert!(
            node.child(wire).is_some(),
            "{path}: required member {wire} of {} is missing",
            shape.name
        );
    }
}

fn check_value(
    model: &tributary_shapes::Service,
    shape: &Shape,
    node: &Node,
    path: &str,
    absent: &[(&str, &str)],
) {
    match shape.kind {
        Kind::Structure => check_shape(model, shape, node, path, absent),
        Kind::List => {
            let el = model.shape(shape.member.expect("a list element"));
            for c in &node.children {
                assert_eq!(c.name, "member", "{path}: list element {}", c.name);
                check_value(model, el, c, &format!("{path}/member"), absent);
            }
        }
        Kind::Map => {}
        kind => {
            assert!(node.children.is_empty(), "{path}: a scalar with children");
            let t = node.text.as_str();
            match kind {
                Kind::Boolean => assert!(t == "true" || t == "false", "{path}: {t}"),
                Kind::Integer | Kind::Long => {
                    assert!(t.parse::<i64>().is_ok(), "{path}: {t}")
                }
                Kind::Timestamp => assert!(
                    chrono_like_iso(t),
                    "{path}: {t} is not an ISO 8601 timestamp"
                ),
                _ => {}
            }
        }
    }
}

/// `2019-12-18T20:16:25Z` or with a fraction.
fn chrono_like_iso(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && t.ends_with('Z')
}

/// Decodes a URL-encoded policy document as botocore does (`unquote`).
pub fn url_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .expect("utf-8")
        .into_owned()
}

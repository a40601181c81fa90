//! The types the generated tables are made of: a service, its operations, and its shapes with
//! the constraints AWS's validator enforces. Every table is a `static`; nothing is built at run
//! time except each pattern's compiled regex, on first use.

use std::sync::OnceLock;

/// Index of a shape in its service's `shapes` table.
pub type ShapeId = u16;

/// One AWS service as its model describes it.
#[derive(Debug)]
pub struct Service {
    /// The model's directory name (`dynamodb`, `lambda`, ...).
    pub name: &'static str,
    pub api_version: &'static str,
    /// `json`, `rest-json`, `rest-xml`, `query` or `smithy-rpc-v2-cbor`.
    pub protocol: &'static str,
    /// The `X-Amz-Target` prefix of JSON protocols (`DynamoDB_20120810`).
    pub target_prefix: Option<&'static str>,
    pub shapes: &'static [Shape],
    /// In the order of the generated `Operation` enum (sorted by name).
    pub operations: &'static [OperationDef],
}

impl Service {
    pub fn shape(&self, id: ShapeId) -> &'static Shape {
        &self.shapes[usize::from(id)]
    }

    /// A shape by its model name (only shapes reachable from an operation are in the table).
    pub fn shape_named(&self, name: &str) -> Option<&'static Shape> {
        // The table is sorted by name.
        self.shapes
            .binary_search_by(|s| s.name.cmp(name))
            .ok()
            .map(|i| &self.shapes[i])
    }

    pub fn operation(&self, name: &str) -> Option<&'static OperationDef> {
        self.operations
            .binary_search_by(|o| o.name.cmp(name))
            .ok()
            .map(|i| &self.operations[i])
    }

    /// The operation a REST request is bound to: its method matches and its `request_uri`
    /// template matches the path (and the literal query keys the template names, as S3's
    /// `?acl`). Of several matches, the one with the most literal characters wins, as AWS's
    /// routers prefer `/functions/{F}/aliases` over `/functions/{F}`.
    pub fn match_rest(
        &self,
        method: &str,
        path: &str,
        query_keys: &[&str],
    ) -> Option<(&'static OperationDef, Labels)> {
        let mut best: Option<(usize, &'static OperationDef, Labels)> = None;
        for op in self.operations {
            if !op.method.eq_ignore_ascii_case(method) {
                continue;
            }
            let Some((labels, literal)) = match_template(op.request_uri, path, query_keys) else {
                continue;
            };
            if best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
                best = Some((literal, op, labels));
            }
        }
        best.map(|(_, op, labels)| (op, labels))
    }
}

/// URI label values of a matched REST route: `(label, value)`, in template order.
pub type Labels = Vec<(String, String)>;

/// Matches `path` against a template such as `/2015-03-31/functions/{FunctionName}/aliases` or
/// S3's `/{Bucket}/{Key+}?uploads`. Returns the label values and the number of literal
/// characters matched.
fn match_template(template: &str, path: &str, query_keys: &[&str]) -> Option<(Labels, usize)> {
    let (tpath, tquery) = template.split_once('?').unwrap_or((template, ""));
    let mut literal = 0;
    for part in tquery.split('&').filter(|p| !p.is_empty()) {
        let key = part.split_once('=').map_or(part, |(k, _)| k);
        if !query_keys.contains(&key) {
            return None;
        }
        literal += part.len();
    }
    let tsegs: Vec<&str> = tpath.split('/').filter(|s| !s.is_empty()).collect();
    let psegs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut labels = Vec::new();
    let mut i = 0;
    for (n, t) in tsegs.iter().enumerate() {
        if let Some(label) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            if let Some(greedy) = label.strip_suffix('+') {
                if i >= psegs.len() || n + 1 != tsegs.len() {
                    return None;
                }
                labels.push((greedy.to_owned(), psegs[i..].join("/")));
                i = psegs.len();
                continue;
            }
            let seg = psegs.get(i)?;
            labels.push((label.to_owned(), (*seg).to_owned()));
        } else {
            if psegs.get(i) != Some(t) {
                return None;
            }
            literal += t.len() + 1;
        }
        i += 1;
    }
    (i == psegs.len()).then_some((labels, literal))
}

/// One operation.
#[derive(Debug)]
pub struct OperationDef {
    pub name: &'static str,
    /// HTTP binding (REST protocols route by it; JSON protocols always `POST /`).
    pub method: &'static str,
    pub request_uri: &'static str,
    pub input: Option<ShapeId>,
    pub output: Option<ShapeId>,
}

impl OperationDef {
    /// The members of the operation's output, in model order (empty when it has none).
    pub fn output_members(&self, service: &Service) -> &'static [Member] {
        self.output.map_or(&[], |id| service.shape(id).members)
    }

    pub fn input_members(&self, service: &Service) -> &'static [Member] {
        self.input.map_or(&[], |id| service.shape(id).members)
    }
}

/// The type of a shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Float,
    Double,
    Boolean,
    Blob,
    Timestamp,
}

/// Where a REST member travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Body,
    Uri,
    Querystring,
    Header,
    /// A prefix of header names (`x-amz-meta-`), a map.
    Headers,
    StatusCode,
}

/// A numeric bound as written in the model: compared as `f64`, printed as the model wrote it
/// (`1.0` for doubles, `255` for lengths), as AWS's messages do.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub value: f64,
    pub text: &'static str,
}

/// A Java regular expression of the model, compiled on first use. `None` from
/// [`Pattern::regex`] means it does not compile here (the generated file lists those).
#[derive(Debug)]
pub struct Pattern {
    pub source: &'static str,
    compiled: OnceLock<Option<fancy_regex::Regex>>,
}

impl Pattern {
    pub const fn new(source: &'static str) -> Pattern {
        Pattern {
            source,
            compiled: OnceLock::new(),
        }
    }

    /// The pattern anchored at both ends: Java's `String.matches` is a full match.
    pub fn regex(&self) -> Option<&fancy_regex::Regex> {
        self.compiled
            .get_or_init(|| fancy_regex::Regex::new(&format!("^(?:{})$", self.source)).ok())
            .as_ref()
    }

    /// Whether `s` matches the whole pattern; a pattern that does not compile accepts everything.
    pub fn full_match(&self, s: &str) -> bool {
        match self.regex() {
            // A match that runs out of backtracking budget is not a violation we can prove.
            Some(re) => re.is_match(s).unwrap_or(true),
            None => true,
        }
    }
}

/// A shape and its constraints.
#[derive(Debug)]
pub struct Shape {
    pub name: &'static str,
    pub kind: Kind,
    /// Length (strings, blobs, lists, maps) or value (numbers).
    pub min: Option<Bound>,
    pub max: Option<Bound>,
    pub pattern: Option<Pattern>,
    pub enum_values: &'static [&'static str],
    /// Structures: members in model order.
    pub members: &'static [Member],
    /// Lists: the element shape.
    pub member: Option<ShapeId>,
    /// Maps: key and value shapes.
    pub key: Option<ShapeId>,
    pub value: Option<ShapeId>,
    /// Lists and maps: serialized without a wrapper (query `Name.1`, XML repeated elements)
    /// instead of `Name.member.1` / `Name.entry.1`.
    pub flattened: bool,
    /// Lists: the element's wire name (`member` when `None`). Maps: the key's and the value's
    /// (`key` and `value` when `None`).
    pub member_name: Option<&'static str>,
    pub key_name: Option<&'static str>,
    pub value_name: Option<&'static str>,
    /// The model marks it sensitive: AWS leaves its value out of messages.
    pub sensitive: bool,
    pub union: bool,
    /// It, or a shape below it, has a constraint: the validator skips shapes without one.
    pub constrained: bool,
}

impl Shape {
    pub fn member(&self, name: &str) -> Option<&'static Member> {
        self.members.iter().find(|m| m.name == name)
    }
}

/// A structure member.
#[derive(Debug)]
pub struct Member {
    pub name: &'static str,
    pub shape: ShapeId,
    pub required: bool,
    pub location: Location,
    /// The wire name for header, query and URI members (and XML names).
    pub location_name: Option<&'static str>,
}

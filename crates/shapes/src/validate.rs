//! Checks a request (as JSON) against an operation's input shape and reports the violations the
//! way AWS's request validator does:
//!
//! ```text
//! 1 validation error detected: Value '<v>' at '<path>' failed to satisfy constraint: <rule>
//! 2 validation errors detected: <part>; <part>
//! ```
//!
//! Conventions, taken from dynalite (`validations/index.js`, which reproduces DynamoDB's output)
//! and from messages recorded against AWS (see `/work/shared/spec/aws-semantics.md`):
//!
//! * paths are member names with the first letter lower-cased, nested with `.`
//!   (`sSESpecification.kMSMasterKeyId`); list elements are `<list>.<1-based index>.member`,
//!   map values (DynamoDB style) `<map>.<key>.member`;
//! * a missing (or JSON `null`) required member is `Value null at '<path>' ... Member must not be
//!   null` (the value unquoted); other values are quoted: strings as written, numbers as the
//!   JSON wrote them, lists as `[a, b]`, maps as `{k=v}`, structures as
//!   `Shape(member=v, ...)` with the members that were sent (AWS prints Java's `toString` of
//!   the parsed object, e.g. `[KeySchemaElement(attributeName=a, keyType=HASH), ...]`);
//!   sensitive shapes print no value (`Value at '<path>'`), as Lambda does for environment
//!   variables;
//! * one part per failed rule: a value can fail several (`Value '' at 'tableName'` fails the
//!   minimum length and the pattern), at most 10 parts are reported (dynalite stops at 10);
//! * parts follow model member order, within a member: not null, length, pattern, enum, range.
//!   AWS's own order comes from a Java hash set and is not stable across shapes (recordings show
//!   `attributeType` before `attributeName`, and pattern before length for `backupName` but
//!   after it for `tableName`); model order is the documented, deterministic choice.
//!
//! Values of the wrong JSON type are left alone: the handlers answer those with a
//! `SerializationException`, which AWS sends before it validates.

use serde_json::{Map, Value};

use crate::model::{Kind, OperationDef, Service, Shape, ShapeId};

/// How constraints on map entries are reported. The services disagree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MapStyle {
    /// DynamoDB: each value is validated at `<map>.<key>.member`.
    #[default]
    PerEntry,
    /// Lambda: one part at the map's path listing every constraint of the value (or key) shape:
    /// `Map value must satisfy constraint: [Member must have value less than or equal to 1.0,
    /// Member must have value greater than or equal to 0.0, Member must not be null]`.
    Bracketed,
}

/// Per-service adjustments where AWS's behaviour differs from a plain reading of the model.
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    pub map_style: MapStyle,
    /// `(structure, member)` pairs the generic rules skip because the service checks them by
    /// hand with its own message (each caller says why next to the list).
    pub skip: &'a [(&'a str, &'a str)],
    /// `(shape, alternative)`: a string of `shape` that is not an ARN (does not start with
    /// `arn:`) is checked against `alternative` instead. DynamoDB types every `TableName` as
    /// `TableArn` (1..1024) yet checks a plain name as `TableName` (3..255, `[a-zA-Z0-9_.-]+`).
    pub name_or_arn: &'a [(&'a str, &'a str)],
    /// `(shape, text)`: the enum list AWS really prints for a shape, where recordings show an
    /// order other than the model's (AWS prints a Java hash set).
    pub enum_text: &'a [(&'a str, &'a str)],
    /// At most this many parts are reported.
    pub max_errors: usize,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            map_style: MapStyle::PerEntry,
            skip: &[],
            name_or_arn: &[],
            enum_text: &[],
            max_errors: 10,
        }
    }
}

/// The violations found, each a `Value ... at '...' failed to satisfy constraint: ...` part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violations {
    pub parts: Vec<String>,
    /// The same violations, for services that word some of them their own way.
    pub items: Vec<Violation>,
}

/// One violated rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The AWS path (`keySchema.1.member.keyType`).
    pub path: String,
    /// The member's model name (`KeyType`); for map entries the map member's.
    pub member: &'static str,
    pub rule: Rule,
}

/// Which kind of rule was broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    NotNull,
    Length,
    Pattern,
    Enum,
    Range,
    MapKeys,
    MapValue,
}

impl Violations {
    /// The first required member that is missing at the top level, by its model name (query-
    /// compatible services answer `MissingParameter` for it).
    pub fn missing_top_level(&self) -> Option<&'static str> {
        self.items
            .iter()
            .find(|v| v.rule == Rule::NotNull && !v.path.contains('.'))
            .map(|v| v.member)
    }
}

impl Violations {
    /// The whole message: `N validation error(s) detected: <parts joined by "; ">`.
    pub fn message(&self) -> String {
        let n = self.parts.len();
        let s = if n == 1 { "" } else { "s" };
        format!(
            "{n} validation error{s} detected: {}",
            self.parts.join("; ")
        )
    }
}

impl std::fmt::Display for Violations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Violations {}

/// Validates an operation's input. An operation without input accepts anything.
pub fn validate(
    service: &Service,
    op: &OperationDef,
    input: &Value,
    opts: &Options<'_>,
) -> Result<(), Violations> {
    match op.input {
        Some(id) => validate_shape(service, id, input, opts),
        None => Ok(()),
    }
}

/// Validates a JSON request body (an object) as an operation's input.
pub fn validate_object(
    service: &Service,
    op: &OperationDef,
    input: &Map<String, Value>,
    opts: &Options<'_>,
) -> Result<(), Violations> {
    let Some(id) = op.input else { return Ok(()) };
    let mut w = Walker {
        service,
        opts,
        parts: Vec::new(),
        items: Vec::new(),
        member: "",
    };
    w.structure(service.shape(id), input, "");
    if w.parts.is_empty() {
        Ok(())
    } else {
        Err(Violations {
            parts: w.parts,
            items: w.items,
        })
    }
}

/// Validates `value` as the top-level structure `shape` (paths start at its members).
pub fn validate_shape(
    service: &Service,
    shape: ShapeId,
    value: &Value,
    opts: &Options<'_>,
) -> Result<(), Violations> {
    let mut w = Walker {
        service,
        opts,
        parts: Vec::new(),
        items: Vec::new(),
        member: "",
    };
    let empty = Map::new();
    let obj = value.as_object().unwrap_or(&empty);
    w.structure(service.shape(shape), obj, "");
    if w.parts.is_empty() {
        Ok(())
    } else {
        Err(Violations {
            parts: w.parts,
            items: w.items,
        })
    }
}

/// `TableName` → `tableName`, `SSESpecification` → `sSESpecification`.
pub fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

struct Walker<'a> {
    service: &'a Service,
    opts: &'a Options<'a>,
    parts: Vec<String>,
    items: Vec<Violation>,
    /// The structure member being checked (for [`Violation::member`]).
    member: &'static str,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Length as Java counts it (UTF-16 units) for strings.
fn str_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Decoded length of a base64 blob (JSON protocols send blobs base64-encoded).
fn blob_len(s: &str) -> usize {
    let t = s.trim_end_matches('=');
    t.len() * 3 / 4
}

impl<'a> Walker<'a> {
    fn full(&self) -> bool {
        self.parts.len() >= self.opts.max_errors
    }

    fn push(&mut self, shown: Option<String>, path: &str, rule: &str) {
        if self.full() {
            return;
        }
        let kind = if rule.starts_with("Map keys") {
            Rule::MapKeys
        } else if rule.starts_with("Map value") {
            Rule::MapValue
        } else if rule.ends_with("must not be null") {
            Rule::NotNull
        } else if rule.contains("have length") {
            Rule::Length
        } else if rule.contains("regular expression") {
            Rule::Pattern
        } else if rule.contains("enum value set") {
            Rule::Enum
        } else {
            Rule::Range
        };
        self.items.push(Violation {
            path: path.to_owned(),
            member: self.member,
            rule: kind,
        });
        let part = match shown {
            Some(v) => format!("Value {v} at '{path}' failed to satisfy constraint: {rule}"),
            None => format!("Value at '{path}' failed to satisfy constraint: {rule}"),
        };
        self.parts.push(part);
    }

    fn skipped(&self, structure: &str, member: &str) -> bool {
        self.opts
            .skip
            .iter()
            .any(|(s, m)| *s == structure && *m == member)
    }

    fn structure(&mut self, shape: &Shape, obj: &Map<String, Value>, prefix: &str) {
        for m in shape.members {
            if self.full() {
                return;
            }
            if self.skipped(shape.name, m.name) {
                continue;
            }
            let given = obj.get(m.name).filter(|v| !v.is_null());
            // Most members are absent or unconstrained: nothing to check, no path to build.
            match given {
                None if !m.required => continue,
                Some(v) if !self.effective(m.shape, v).constrained => continue,
                _ => {}
            }
            let path = join(prefix, &lower_first(m.name));
            let outer = std::mem::replace(&mut self.member, m.name);
            match given {
                None => self.push(Some("null".into()), &path, "Member must not be null"),
                Some(v) => self.value(m.shape, v, &path),
            }
            self.member = outer;
        }
    }

    /// The shape a value is checked against (see [`Options::name_or_arn`]).
    fn effective(&self, id: ShapeId, v: &Value) -> &'static Shape {
        self.effective_shape(self.service.shape(id), v)
    }

    fn shown(&self, shape: &Shape, v: &Value) -> Option<String> {
        if shape.sensitive {
            return None;
        }
        Some(format!("'{}'", self.render(shape, v)))
    }

    /// The value as AWS prints it inside the quotes (Java `toString` of the parsed object).
    fn render(&self, shape: &Shape, v: &Value) -> String {
        match v {
            Value::Null => "null".into(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(a) => {
                let el = shape.member.map(|id| self.service.shape(id));
                let items: Vec<String> = a
                    .iter()
                    .map(|x| match el {
                        Some(el) => self.render(el, x),
                        None => plain(x),
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
            Value::Object(o) => match shape.kind {
                Kind::Structure => {
                    let fields: Vec<String> = shape
                        .members
                        .iter()
                        .filter_map(|m| {
                            let x = o.get(m.name)?;
                            let ms = self.service.shape(m.shape);
                            Some(format!("{}={}", lower_first(m.name), self.render(ms, x)))
                        })
                        .collect();
                    format!("{}({})", shape.name, fields.join(", "))
                }
                _ => {
                    let val = shape.value.map(|id| self.service.shape(id));
                    let entries: Vec<String> = o
                        .iter()
                        .map(|(k, x)| match val {
                            Some(val) => format!("{k}={}", self.render(val, x)),
                            None => format!("{k}={}", plain(x)),
                        })
                        .collect();
                    format!("{{{}}}", entries.join(", "))
                }
            },
        }
    }

    fn value(&mut self, id: ShapeId, v: &Value, path: &str) {
        let shape = self.effective(id, v);
        if !shape.constrained {
            return;
        }
        match (shape.kind, v) {
            (Kind::String, Value::String(s)) => self.scalar_rules(shape, v, Some(str_len(s)), path),
            (Kind::Blob, Value::String(s)) => self.scalar_rules(shape, v, Some(blob_len(s)), path),
            (Kind::Integer | Kind::Long | Kind::Float | Kind::Double, Value::Number(_)) => {
                self.scalar_rules(shape, v, None, path)
            }
            (Kind::List, Value::Array(items)) => {
                self.length_rules(shape, v, items.len(), path);
                if let Some(el) = shape.member {
                    for (i, x) in items.iter().enumerate() {
                        if !x.is_null() {
                            self.value(el, x, &format!("{path}.{}.member", i + 1));
                        }
                    }
                }
            }
            (Kind::Map, Value::Object(m)) => {
                self.length_rules(shape, v, m.len(), path);
                self.map_entries(shape, v, m, path);
            }
            (Kind::Structure, Value::Object(m)) => self.structure(shape, m, path),
            // Booleans, timestamps and wrongly typed values have no constraints to check here.
            _ => {}
        }
    }

    fn length_rules(&mut self, shape: &Shape, v: &Value, len: usize, path: &str) {
        let len = len as f64;
        if let Some(min) = shape.min {
            if len < min.value {
                let rule = format!(
                    "Member must have length greater than or equal to {}",
                    min.text
                );
                self.push(self.shown(shape, v), path, &rule);
            }
        }
        if let Some(max) = shape.max {
            if len > max.value {
                let rule = format!("Member must have length less than or equal to {}", max.text);
                self.push(self.shown(shape, v), path, &rule);
            }
        }
    }

    /// Strings, blobs (with their length) and numbers (without).
    fn scalar_rules(&mut self, shape: &Shape, v: &Value, len: Option<usize>, path: &str) {
        for rule in self.failed_rules(shape, v, len) {
            self.push(self.shown(shape, v), path, &rule);
        }
    }

    /// The rules a scalar breaks, in report order.
    fn failed_rules(&self, shape: &Shape, v: &Value, len: Option<usize>) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(len) = len {
            let len = len as f64;
            if let Some(min) = shape.min.filter(|b| len < b.value) {
                out.push(format!(
                    "Member must have length greater than or equal to {}",
                    min.text
                ));
            }
            if let Some(max) = shape.max.filter(|b| len > b.value) {
                out.push(format!(
                    "Member must have length less than or equal to {}",
                    max.text
                ));
            }
        }
        if let (Some(p), Value::String(s)) = (&shape.pattern, v) {
            if !p.full_match(s) {
                out.push(format!(
                    "Member must satisfy regular expression pattern: {}",
                    p.source
                ));
            }
        }
        if let Value::String(s) = v {
            if !shape.enum_values.is_empty() && !shape.enum_values.contains(&s.as_str()) {
                out.push(format!(
                    "Member must satisfy enum value set: {}",
                    self.enum_list(shape)
                ));
            }
        }
        if let Value::Number(n) = v {
            if let Some(x) = n.as_f64() {
                if let Some(min) = shape.min.filter(|b| x < b.value) {
                    out.push(format!(
                        "Member must have value greater than or equal to {}",
                        min.text
                    ));
                }
                if let Some(max) = shape.max.filter(|b| x > b.value) {
                    out.push(format!(
                        "Member must have value less than or equal to {}",
                        max.text
                    ));
                }
            }
        }
        out
    }

    fn enum_list(&self, shape: &Shape) -> String {
        match self.opts.enum_text.iter().find(|(n, _)| *n == shape.name) {
            Some((_, text)) => (*text).to_owned(),
            None => format!("[{}]", shape.enum_values.join(", ")),
        }
    }

    /// Every constraint of a scalar shape, as Lambda lists them for map keys and values.
    fn all_rules(&self, shape: &Shape) -> String {
        let mut r = Vec::new();
        let length = matches!(shape.kind, Kind::String | Kind::Blob);
        if let Some(max) = shape.max {
            let what = if length { "length" } else { "value" };
            r.push(format!(
                "Member must have {what} less than or equal to {}",
                max.text
            ));
        }
        if let Some(min) = shape.min {
            let what = if length { "length" } else { "value" };
            r.push(format!(
                "Member must have {what} greater than or equal to {}",
                min.text
            ));
        }
        if let Some(p) = &shape.pattern {
            r.push(format!(
                "Member must satisfy regular expression pattern: {}",
                p.source
            ));
        }
        if !shape.enum_values.is_empty() {
            r.push(format!(
                "Member must satisfy enum value set: {}",
                self.enum_list(shape)
            ));
        }
        r.push("Member must not be null".into());
        format!("[{}]", r.join(", "))
    }

    fn map_entries(&mut self, shape: &Shape, v: &Value, m: &Map<String, Value>, path: &str) {
        let key_shape = shape.key.map(|id| self.service.shape(id));
        if let Some(ks) = key_shape {
            let bad = m.keys().any(|k| {
                let kv = Value::String(k.clone());
                let ks = self.effective_shape(ks, &kv);
                !self.failed_rules(ks, &kv, Some(str_len(k))).is_empty()
            });
            if bad {
                let rule = format!("Map keys must satisfy constraint: {}", self.all_rules(ks));
                self.push(self.shown(shape, v), path, &rule);
            }
        }
        let Some(val_id) = shape.value else { return };
        let val_shape = self.service.shape(val_id);
        if val_shape.kind == Kind::List {
            // DynamoDB's BatchWriteItem: `Map value must satisfy constraint: [Member must have
            // length less than or equal to 25, Member must have length greater than or equal
            // to 1]` at the map's path, then the elements one by one.
            let bad = m.values().any(|x| {
                x.as_array().is_some_and(|a| {
                    let n = a.len() as f64;
                    val_shape.min.is_some_and(|b| n < b.value)
                        || val_shape.max.is_some_and(|b| n > b.value)
                })
            });
            if bad {
                let mut r = Vec::new();
                if let Some(max) = val_shape.max {
                    r.push(format!(
                        "Member must have length less than or equal to {}",
                        max.text
                    ));
                }
                if let Some(min) = val_shape.min {
                    r.push(format!(
                        "Member must have length greater than or equal to {}",
                        min.text
                    ));
                }
                let rule = format!("Map value must satisfy constraint: [{}]", r.join(", "));
                self.push(self.shown(shape, v), path, &rule);
            }
            if let Some(el) = val_shape.member {
                for (k, x) in m {
                    for (i, e) in x.as_array().into_iter().flatten().enumerate() {
                        if !e.is_null() {
                            self.value(el, e, &format!("{path}.{k}.member.{}.member", i + 1));
                        }
                    }
                }
            }
            return;
        }
        let scalar = !matches!(val_shape.kind, Kind::Structure | Kind::List | Kind::Map);
        if self.opts.map_style == MapStyle::Bracketed && scalar {
            let bad = m.values().any(|x| {
                x.is_null() || {
                    let len = match x {
                        Value::String(s) if val_shape.kind == Kind::Blob => Some(blob_len(s)),
                        Value::String(s) => Some(str_len(s)),
                        _ => None,
                    };
                    !self.failed_rules(val_shape, x, len).is_empty()
                }
            });
            if bad {
                let rule = format!(
                    "Map value must satisfy constraint: {}",
                    self.all_rules(val_shape)
                );
                self.push(self.shown(shape, v), path, &rule);
            }
            return;
        }
        for (k, x) in m {
            if !x.is_null() {
                self.value(val_id, x, &format!("{path}.{k}.member"));
            }
        }
    }

    fn effective_shape(&self, shape: &'static Shape, v: &Value) -> &'static Shape {
        if let Value::String(s) = v {
            if !s.starts_with("arn:") {
                if let Some((_, alt)) = self.opts.name_or_arn.iter().find(|(n, _)| *n == shape.name)
                {
                    if let Some(alt) = self.service.shape_named(alt) {
                        return alt;
                    }
                }
            }
        }
        shape
    }
}

/// A value rendered without a shape (unknown list element or map value types).
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::{dynamodb, lambda, logs};
    use serde_json::json;

    fn ddb(op: &str, input: Value) -> Result<(), Violations> {
        let op = dynamodb::Operation::from_name(op).unwrap();
        let opts = Options {
            name_or_arn: &[("TableArn", "TableName")],
            ..Options::default()
        };
        validate(&dynamodb::SERVICE, op.def(), &input, &opts)
    }

    #[test]
    fn missing_required_member() {
        let e = ddb("DescribeTable", json!({})).unwrap_err();
        assert_eq!(
            e.message(),
            "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn empty_table_name_fails_length_and_pattern() {
        // Recorded on AWS: describe_table_empty_name.
        let e = ddb("DescribeTable", json!({"TableName": ""})).unwrap_err();
        assert_eq!(
            e.message(),
            "2 validation errors detected: Value '' at 'tableName' failed to satisfy constraint: \
             Member must have length greater than or equal to 3; Value '' at 'tableName' failed to \
             satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        );
    }

    #[test]
    fn a_table_arn_is_checked_as_an_arn() {
        assert!(ddb(
            "DescribeTable",
            json!({"TableName": "arn:aws:dynamodb:us-east-1:000000000000:table/t"})
        )
        .is_ok());
        let long = format!("arn:{}", "x".repeat(1100));
        let e = ddb("DescribeTable", json!({ "TableName": long })).unwrap_err();
        assert!(
            e.message()
                .ends_with("Member must have length less than or equal to 1024"),
            "{e}"
        );
    }

    #[test]
    fn nested_list_paths_and_enums() {
        let e = ddb(
            "CreateTable",
            json!({
                "TableName": "abc",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "X"}],
                "KeySchema": [{}],
                "BillingMode": "PAY_PER_REQUEST",
            }),
        )
        .unwrap_err();
        assert_eq!(
            e.parts,
            vec![
                "Value 'X' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [S, N, B]",
                "Value null at 'keySchema.1.member.attributeName' failed to satisfy constraint: Member must not be null",
                "Value null at 'keySchema.1.member.keyType' failed to satisfy constraint: Member must not be null",
            ]
        );
    }

    #[test]
    fn lists_render_as_java_does() {
        // AWS prints the parsed list: `[KeySchemaElement(attributeName=a, keyType=HASH), ...]`
        // (recorded for CreateTable with three key elements; today's model has no maximum).
        let opts = Options::default();
        let w = Walker {
            service: &dynamodb::SERVICE,
            opts: &opts,
            parts: Vec::new(),
            items: Vec::new(),
            member: "",
        };
        let ks = dynamodb::SERVICE.shape_named("KeySchema").unwrap();
        let v = json!([{"AttributeName": "a", "KeyType": "HASH"}, {"KeyType": "RANGE", "AttributeName": "b"}]);
        assert_eq!(
            w.render(ks, &v),
            "[KeySchemaElement(attributeName=a, keyType=HASH), KeySchemaElement(attributeName=b, keyType=RANGE)]"
        );
        let e = ddb(
            "CreateTable",
            json!({"TableName": "abc", "AttributeDefinitions": [], "KeySchema": []}),
        )
        .unwrap_err();
        assert_eq!(
            e.parts,
            vec!["Value '[]' at 'keySchema' failed to satisfy constraint: Member must have length greater than or equal to 1"]
        );
    }

    #[test]
    fn numbers_and_map_values() {
        let e = ddb(
            "Scan",
            json!({"TableName": "abc", "Limit": 0, "Segment": -1, "TotalSegments": 1}),
        )
        .unwrap_err();
        assert_eq!(
            e.parts,
            vec![
                "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
                "Value '-1' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0",
            ]
        );
        let e = ddb("BatchGetItem", json!({"RequestItems": {"abc": {}}})).unwrap_err();
        assert_eq!(
            e.parts,
            vec!["Value null at 'requestItems.abc.member.keys' failed to satisfy constraint: Member must not be null"]
        );
    }

    #[test]
    fn at_most_ten_parts() {
        let defs: Vec<Value> = (0..12).map(|_| json!({})).collect();
        let e = ddb(
            "CreateTable",
            json!({"TableName": "abc", "AttributeDefinitions": defs, "KeySchema": []}),
        )
        .unwrap_err();
        assert_eq!(e.parts.len(), 10);
        assert!(e.message().starts_with("10 validation errors detected: "));
    }

    #[test]
    fn lambda_map_values_are_bracketed() {
        let op = lambda::Operation::from_name("CreateAlias").unwrap();
        let opts = Options {
            map_style: MapStyle::Bracketed,
            ..Options::default()
        };
        let input = json!({
            "FunctionName": "f", "Name": "x", "FunctionVersion": "1",
            "RoutingConfig": {"AdditionalVersionWeights": {"2": 2.0}}
        });
        let e = validate(&lambda::SERVICE, op.def(), &input, &opts).unwrap_err();
        assert_eq!(
            e.message(),
            "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"
        );
    }

    #[test]
    fn look_ahead_patterns_work() {
        let op = lambda::Operation::from_name("CreateAlias").unwrap();
        let input = json!({"FunctionName": "f", "Name": "123", "FunctionVersion": "1"});
        let e = validate(&lambda::SERVICE, op.def(), &input, &Options::default()).unwrap_err();
        assert_eq!(
            e.parts,
            vec!["Value '123' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"]
        );
    }

    #[test]
    fn every_pattern_compiles_or_is_listed() {
        use crate::generated::*;
        for s in [
            &cloudformation::SERVICE,
            &cloudwatch::SERVICE,
            &dynamodb::SERVICE,
            &dynamodbstreams::SERVICE,
            &iam::SERVICE,
            &lambda::SERVICE,
            &logs::SERVICE,
            &s3::SERVICE,
            &sns::SERVICE,
            &sqs::SERVICE,
            &sts::SERVICE,
        ] {
            for shape in s.shapes {
                if let Some(p) = &shape.pattern {
                    assert!(
                        p.regex().is_some(),
                        "{}: {} does not compile",
                        s.name,
                        p.source
                    );
                }
            }
        }
    }

    #[test]
    fn logs_pattern_message() {
        let op = logs::Operation::from_name("CreateLogGroup").unwrap();
        let e = validate(
            &logs::SERVICE,
            op.def(),
            &json!({"logGroupName": "bad name!"}),
            &Options::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.message(),
            r"1 validation error detected: Value 'bad name!' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+"
        );
    }

    #[test]
    fn rest_routes_match_templates() {
        let (op, labels) = lambda::SERVICE
            .match_rest("GET", "/2015-03-31/functions/my-fn/aliases/live", &[])
            .unwrap();
        assert_eq!(op.name, "GetAlias");
        assert_eq!(
            labels,
            vec![
                ("FunctionName".to_owned(), "my-fn".to_owned()),
                ("Name".to_owned(), "live".to_owned())
            ]
        );
        let (op, _) = lambda::SERVICE
            .match_rest("GET", "/2015-03-31/functions/my-fn", &[])
            .unwrap();
        assert_eq!(op.name, "GetFunction");
        let (op, labels) = crate::generated::s3::SERVICE
            .match_rest("POST", "/b/a/b/c", &["uploads"])
            .unwrap();
        assert_eq!(op.name, "CreateMultipartUpload");
        assert_eq!(labels[1], ("Key".to_owned(), "a/b/c".to_owned()));
    }
}

//! Reading template text: JSON or YAML into an ordered tree, with YAML's short-form tags
//! turned into their long forms (`!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` →
//! `{"Fn::GetAtt": ["A", "B"]}`, `!Sub ...` → `{"Fn::Sub": ...}`).
//!
//! The tree keeps the order of mapping keys (serde_json's `Value` sorts them), so the
//! sections of a template come back in the order the author wrote them. Nesting is capped
//! ([`MAX_DEPTH`]) so that no later recursive pass over a template can exhaust the stack.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::{Result, TemplateError};

/// Deepest nesting accepted in a template (serde_json's own limit is 128).
pub(crate) const MAX_DEPTH: usize = 128;

/// A parsed template value, mapping keys in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The value as serde_json's `Value` (keys sorted from here on).
    pub(crate) fn into_value(self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Number(n) => Value::Number(n),
            Node::String(s) => Value::String(s),
            Node::Seq(items) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Node::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k, v.into_value());
                }
                Value::Object(map)
            }
        }
    }
}

/// Parses a template body: JSON when it starts with `{`, YAML otherwise (as CloudFormation
/// decides).
pub(crate) fn parse_text(text: &str) -> Result<Node> {
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with('{') {
        parse_json(trimmed)
    } else {
        parse_yaml(text)
    }
}

fn parse_json(text: &str) -> Result<Node> {
    serde_json::from_str::<Node>(text).map_err(|e| {
        // CloudFormation's own wording, double space included.
        TemplateError::format(format!(
            "JSON not well-formed. (line {},  column {})",
            e.line(),
            e.column()
        ))
    })
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> std::result::Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Node, E> {
        Ok(Node::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Node, E> {
        Ok(Number::from_f64(v).map_or(Node::Null, Node::Number))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Node, E> {
        Ok(Node::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("duplicate key {key}")));
            }
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

// ------------------------------------------------------------------------------------------
// YAML

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

fn yaml_error(msg: &str, line: usize, col: usize) -> TemplateError {
    if msg.is_empty() {
        TemplateError::format(format!("YAML not well-formed. (line {line}, column {col})"))
    } else {
        TemplateError::format(format!(
            "YAML not well-formed. {msg} (line {line}, column {col})"
        ))
    }
}

fn at(span: &Span) -> (usize, usize) {
    (span.start.line(), span.start.col() + 1)
}

/// A container being built: its tag (short-form function, if any) and its children.
enum Frame {
    Seq {
        tag: Option<ShortTag>,
        items: Vec<Node>,
    },
    Map {
        tag: Option<ShortTag>,
        entries: Vec<(String, Node)>,
        /// The key waiting for its value.
        key: Option<String>,
    },
}

/// A CloudFormation short-form tag (`!Ref`, `!Sub` ...), as the long-form key it stands for.
#[derive(Debug, Clone, PartialEq)]
enum ShortTag {
    /// `!Ref` → `Ref`, `!Condition` → `Condition`, `!GetAtt` → `Fn::GetAtt` ...
    Function(&'static str),
    /// `!!str`, `!!int` ... from the YAML core schema.
    Core(String),
}

/// The short-form tags CloudFormation knows, with the key each stands for.
const SHORT_FORMS: &[(&str, &str)] = &[
    ("Ref", "Ref"),
    ("Condition", "Condition"),
    ("GetAtt", "Fn::GetAtt"),
    ("Sub", "Fn::Sub"),
    ("Join", "Fn::Join"),
    ("Select", "Fn::Select"),
    ("Split", "Fn::Split"),
    ("If", "Fn::If"),
    ("Equals", "Fn::Equals"),
    ("And", "Fn::And"),
    ("Or", "Fn::Or"),
    ("Not", "Fn::Not"),
    ("GetAZs", "Fn::GetAZs"),
    ("Base64", "Fn::Base64"),
    ("Cidr", "Fn::Cidr"),
    ("FindInMap", "Fn::FindInMap"),
    ("ImportValue", "Fn::ImportValue"),
    ("Transform", "Fn::Transform"),
    ("Length", "Fn::Length"),
    ("ToJsonString", "Fn::ToJsonString"),
];

fn short_tag(tag: &Tag, span: &Span) -> Result<ShortTag> {
    if tag.is_yaml_core_schema() {
        return Ok(ShortTag::Core(tag.suffix.clone()));
    }
    if tag.handle == "!" {
        if let Some((_, key)) = SHORT_FORMS.iter().find(|(name, _)| *name == tag.suffix) {
            return Ok(ShortTag::Function(key));
        }
    }
    let (line, col) = at(span);
    Err(yaml_error(&format!("Unknown tag {tag}."), line, col))
}

/// Wraps a tagged node in its long form.
fn apply_tag(tag: Option<ShortTag>, node: Node, span: &Span) -> Result<Node> {
    let Some(tag) = tag else { return Ok(node) };
    match tag {
        ShortTag::Function("Fn::GetAtt") => {
            // `!GetAtt Resource.Attribute`: split at the first dot, as CloudFormation does.
            let node = match node {
                Node::String(s) => match s.split_once('.') {
                    Some((res, attr)) => Node::Seq(vec![
                        Node::String(res.to_owned()),
                        Node::String(attr.to_owned()),
                    ]),
                    None => Node::String(s),
                },
                other => other,
            };
            Ok(Node::Map(vec![("Fn::GetAtt".to_owned(), node)]))
        }
        ShortTag::Function(key) => Ok(Node::Map(vec![(key.to_owned(), node)])),
        ShortTag::Core(kind) => {
            let (line, col) = at(span);
            match (kind.as_str(), node) {
                ("str", Node::String(s)) => Ok(Node::String(s)),
                ("str", Node::Number(n)) => Ok(Node::String(n.to_string())),
                ("str", Node::Bool(b)) => Ok(Node::String(b.to_string())),
                ("str", Node::Null) => Ok(Node::String(String::new())),
                ("map", n @ Node::Map(_)) | ("seq", n @ Node::Seq(_)) => Ok(n),
                ("int" | "float", Node::String(s)) => match plain_scalar(&s) {
                    n @ Node::Number(_) => Ok(n),
                    _ => Err(yaml_error(&format!("Invalid !!{kind} {s}."), line, col)),
                },
                ("bool", Node::String(s)) => match plain_scalar(&s) {
                    n @ Node::Bool(_) => Ok(n),
                    _ => Err(yaml_error(&format!("Invalid !!bool {s}."), line, col)),
                },
                ("null", Node::String(s)) if plain_scalar(&s) == Node::Null => Ok(Node::Null),
                ("binary", n @ Node::String(_)) => Ok(n),
                (k, _) => Err(yaml_error(&format!("Unsupported tag !!{k}."), line, col)),
            }
        }
    }
}

/// The YAML 1.2 core schema for an untagged plain scalar. A number with a leading zero
/// (`0123`, an account id written bare) stays a string rather than losing its zero.
fn plain_scalar(s: &str) -> Node {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "true" | "True" | "TRUE" => return Node::Bool(true),
        "false" | "False" | "FALSE" => return Node::Bool(false),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let is_int = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if is_int {
        if digits.len() > 1 && digits.starts_with('0') {
            return Node::String(s.to_owned());
        }
        let unsigned = s.strip_prefix('+').unwrap_or(s);
        if let Ok(i) = unsigned.parse::<i64>() {
            return Node::Number(i.into());
        }
        if let Ok(u) = unsigned.parse::<u64>() {
            return Node::Number(u.into());
        }
        return Node::String(s.to_owned());
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return Node::Number(i.into());
            }
        }
        return Node::String(s.to_owned());
    }
    if let Some(oct) = s.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            if let Ok(i) = i64::from_str_radix(oct, 8) {
                return Node::Number(i.into());
            }
        }
        return Node::String(s.to_owned());
    }
    if is_yaml_float(s) {
        if let Ok(f) = s.parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                return Node::Number(n);
            }
        }
    }
    Node::String(s.to_owned())
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float (the
/// infinities and NaN stay strings: JSON cannot hold them).
fn is_yaml_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s).as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if int_digits > 1 && b.first() == Some(&b'0') {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

/// The nesting of the value being built: a tagged container is wrapped in its function's
/// map, one level more.
fn depth(stack: &[Frame]) -> usize {
    stack
        .iter()
        .map(|f| match f {
            Frame::Seq {
                tag: Some(ShortTag::Function(_)),
                ..
            }
            | Frame::Map {
                tag: Some(ShortTag::Function(_)),
                ..
            } => 2,
            _ => 1,
        })
        .sum()
}

fn parse_yaml(text: &str) -> Result<Node> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let m = e.marker();
            yaml_error("", m.line(), m.col() + 1)
        })?;
        let (line, col) = at(&span);
        let finished: Option<Node> = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(yaml_error("A template holds one YAML document.", line, col));
                }
                None
            }
            Event::Alias(_) => {
                return Err(TemplateError::format(
                    "YAML aliases are not allowed in CloudFormation templates",
                ));
            }
            Event::Scalar(value, style, _anchor, tag) => {
                let tag = tag.map(|t| short_tag(&t, &span)).transpose()?;
                let node = match (&tag, style) {
                    // A core-schema tag (`!!str 0123`) types the text as written.
                    (Some(ShortTag::Core(_)), _) => Node::String(value.into_owned()),
                    (_, ScalarStyle::Plain) => match plain_scalar(&value) {
                        // A tagged empty plain scalar (`!Ref` alone) is the empty string.
                        Node::Null if tag.is_some() => Node::String(String::new()),
                        n => n,
                    },
                    _ => Node::String(value.into_owned()),
                };
                Some(apply_tag(tag, node, &span)?)
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if depth(&stack) >= MAX_DEPTH => {
                return Err(yaml_error(
                    &format!("Nesting deeper than {MAX_DEPTH} levels."),
                    line,
                    col,
                ));
            }
            Event::SequenceStart(_, tag) => {
                let tag = tag.map(|t| short_tag(&t, &span)).transpose()?;
                stack.push(Frame::Seq {
                    tag,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(_, tag) => {
                let tag = tag.map(|t| short_tag(&t, &span)).transpose()?;
                stack.push(Frame::Map {
                    tag,
                    entries: Vec::new(),
                    key: None,
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { tag, items }) => Some(apply_tag(tag, Node::Seq(items), &span)?),
                Some(Frame::Map {
                    tag,
                    entries,
                    key: None,
                }) => Some(apply_tag(tag, Node::Map(entries), &span)?),
                Some(Frame::Map { key: Some(_), .. }) | None => {
                    return Err(yaml_error("", line, col));
                }
            },
        };
        let Some(node) = finished else { continue };
        match stack.last_mut() {
            None => {
                if root.is_some() {
                    return Err(yaml_error("", line, col));
                }
                root = Some(node);
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    let k = match node {
                        Node::String(s) => s,
                        Node::Number(n) => n.to_string(),
                        Node::Bool(b) => b.to_string(),
                        Node::Null => String::new(),
                        Node::Seq(_) | Node::Map(_) => {
                            return Err(yaml_error("A mapping key must be a scalar.", line, col));
                        }
                    };
                    if entries.iter().any(|(existing, _)| *existing == k) {
                        return Err(yaml_error(&format!("Duplicate key {k}."), line, col));
                    }
                    *key = Some(k);
                }
                Some(k) => entries.push((k, node)),
            },
        }
    }
    if !stack.is_empty() {
        return Err(yaml_error("", 0, 0));
    }
    Ok(root.unwrap_or(Node::Null))
}

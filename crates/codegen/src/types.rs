//! The typed request and response surface of one service: a Rust struct for every structure
//! shape reachable from an operation, with serde for the JSON protocols (and for the query
//! protocols' inputs, which `tributary_shapes::query` reads into the same JSON form), and for
//! query-protocol services an XML writer that follows the model's wire names.
//!
//! Conventions of the generated code (the runtime it leans on is `tributary_shapes::types`):
//! - a required member is a plain field and an optional one an `Option`; a missing or `null`
//!   required member deserializes to its default, because the model validator, which runs on
//!   the same input, has already answered AWS's "Member must not be null" for it;
//! - strings and enums are `String`, `integer` is `i32`, `long` is `i64`, `float` and `double`
//!   are `f64`, timestamps are `Timestamp` (milliseconds), blobs `Blob`, maps `BTreeMap`;
//! - a structure that contains itself is boxed where the cycle closes;
//! - members bound to the URI, the query string or headers are read like body members (the
//!   REST services put them into the input object before validating it) and are never written
//!   into a JSON body: the handler sets them as headers;
//! - shapes the service decodes by hand (DynamoDB's `AttributeValue`, with its own errors) stay
//!   `serde_json::Value`, and a member holding one is only ever serialized: the handler decodes
//!   it from the request object itself, borrowed, so an item is never copied to be read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

/// Shapes carried as raw JSON, per service module, and why: the service decodes them itself.
const OPAQUE: &[(&str, &str, &str)] = &[
    (
        "dynamodb",
        "AttributeValue",
        "item values are decoded by `tributary_model` with DynamoDB's own error texts",
    ),
    (
        "dynamodbstreams",
        "AttributeValue",
        "record images are rendered by `tributary_model` from the stored item",
    ),
];

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "yield", "abstract", "become", "do", "final", "macro", "override", "priv", "typeof",
    "unsized", "virtual", "try", "gen",
];

/// `SSESpecification` → `sse_specification`, `KMSMasterKeyId` → `kms_master_key_id`.
pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn field_ident(member: &str) -> String {
    let s = snake(member);
    match s.as_str() {
        "self" | "super" | "crate" | "Self" => format!("{s}_"),
        _ if KEYWORDS.contains(&s.as_str()) => format!("r#{s}"),
        _ => s,
    }
}

/// The struct name of a structure shape.
fn type_ident(shape: &str) -> String {
    let mut c = shape.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

struct Ctx<'a> {
    module: &'a str,
    protocol: &'a str,
    shapes: &'a Map<String, Value>,
    order: &'a BTreeMap<String, Vec<String>>,
    opaque: BTreeSet<&'a str>,
    /// Structure → structures it holds directly (not through a list or map).
    direct: BTreeMap<&'a str, BTreeSet<&'a str>>,
}

impl<'a> Ctx<'a> {
    fn shape(&self, name: &str) -> Result<&'a Value> {
        self.shapes
            .get(name)
            .with_context(|| format!("shape {name} is not defined"))
    }

    fn kind(&self, name: &str) -> Result<&'a str> {
        Ok(self.shape(name)?["type"].as_str().unwrap_or(""))
    }

    fn is_struct(&self, name: &str) -> bool {
        !self.opaque.contains(name)
            && self.shapes.get(name).and_then(|s| s["type"].as_str()) == Some("structure")
    }

    /// Whether `to` reaches `from` through direct structure members (a cycle to box).
    fn cycles_back(&self, from: &str, to: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![to];
        while let Some(n) = stack.pop() {
            if n == from {
                return true;
            }
            if !seen.insert(n) {
                continue;
            }
            if let Some(next) = self.direct.get(n) {
                stack.extend(next.iter().copied());
            }
        }
        false
    }

    /// The Rust type of a value of shape `name`.
    fn rust_type(&self, name: &str) -> Result<String> {
        if self.opaque.contains(name) {
            return Ok("::serde_json::Value".into());
        }
        let shape = self.shape(name)?;
        Ok(match self.kind(name)? {
            "structure" => type_ident(name),
            "list" => {
                let m = super::shape_ref(shape, "member")
                    .with_context(|| format!("list {name} has no member"))?;
                format!("::std::vec::Vec<{}>", self.rust_type(m)?)
            }
            "map" => {
                let v = super::shape_ref(shape, "value")
                    .with_context(|| format!("map {name} has no value"))?;
                format!(
                    "::std::collections::BTreeMap<::std::string::String, {}>",
                    self.rust_type(v)?
                )
            }
            "string" => "::std::string::String".into(),
            "integer" => "i32".into(),
            "long" => "i64".into(),
            "float" | "double" => "f64".into(),
            "boolean" => "bool".into(),
            "blob" => "::tributary_shapes::types::Blob".into(),
            "timestamp" => "::tributary_shapes::types::Timestamp".into(),
            other => bail!("shape {name} has unknown type {other:?}"),
        })
    }
}

/// The generated `types.rs` of one service.
pub fn generate(
    module: &str,
    rel: &str,
    model: &Value,
    order: &BTreeMap<String, Vec<String>>,
    reach: &BTreeSet<&str>,
) -> Result<String> {
    let shapes = super::obj(&model["shapes"], "shapes")?;
    let protocol = model["metadata"]["protocol"].as_str().unwrap_or("");
    let opaque: BTreeSet<&str> = OPAQUE
        .iter()
        .filter(|(m, _, _)| *m == module)
        .map(|(_, s, _)| *s)
        .collect();
    let mut ctx = Ctx {
        module,
        protocol,
        shapes,
        order,
        opaque,
        direct: BTreeMap::new(),
    };
    let structs: Vec<&str> = reach.iter().copied().filter(|n| ctx.is_struct(n)).collect();
    let mut direct: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for n in &structs {
        let set = direct.entry(n).or_default();
        if let Some(ms) = shapes[*n].get("members").and_then(Value::as_object) {
            for m in ms.values() {
                if let Some(t) = m["shape"].as_str() {
                    if ctx.is_struct(t) {
                        set.insert(t);
                    }
                }
            }
        }
    }
    ctx.direct = direct;

    let mut names = BTreeSet::new();
    for n in &structs {
        if !names.insert(type_ident(n)) {
            bail!("two structures are both named {}", type_ident(n));
        }
    }
    let query = matches!(protocol, "query" | "smithy-rpc-v2-cbor" | "rest-xml");

    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! Generated by `cargo run -p tributary-codegen` from `{rel}`. Do not edit: change the\n\
         //! model or the generator and regenerate.\n//!\n\
         //! One struct per structure shape reachable from an operation ({} here), with serde for\n\
         //! the JSON form{}.",
        structs.len(),
        if query {
            " and `ToXml` for the XML answers"
        } else {
            ""
        }
    );
    for (m, s, why) in OPAQUE {
        if *m == module {
            let _ = writeln!(
                out,
                "//!\n//! `{s}` stays `serde_json::Value`: {why}. Members holding one are written, never\n\
                 //! read: handlers decode them from the request object."
            );
        }
    }
    out.push_str(
        "\n#![allow(clippy::all, clippy::pedantic, dead_code, non_snake_case)]\n\n\
         use ::tributary_shapes::types::null_default;\n",
    );
    if query {
        out.push_str("use ::tributary_shapes::xml::{ToXml, Xml};\n");
    }
    out.push('\n');
    for n in &structs {
        out.push_str(&structure(&ctx, n, query)?);
    }
    Ok(out)
}

struct Field {
    ident: String,
    member: String,
    ty: String,
    required: bool,
    body: bool,
    shape: String,
    /// The XML element name (`locationName`, else the member name).
    xml_name: String,
    /// REST-XML: the member is flattened (S3 marks members, not list shapes).
    flattened: bool,
    /// REST-XML: written as an attribute of the enclosing element (`xsi:type`).
    attribute: bool,
}

fn fields(ctx: &Ctx<'_>, name: &str) -> Result<Vec<Field>> {
    let shape = ctx.shape(name)?;
    let Some(ms) = shape.get("members").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let required: BTreeSet<&str> = shape
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let names: Vec<&String> = match ctx.order.get(name) {
        Some(o) => o.iter().collect(),
        None => ms.keys().collect(),
    };
    let mut idents = BTreeSet::new();
    let mut out = Vec::new();
    for mname in names {
        let m = &ms[mname.as_str()];
        let target = m["shape"]
            .as_str()
            .with_context(|| format!("{name}.{mname} has no shape"))?;
        let mut ty = ctx.rust_type(target)?;
        if ctx.is_struct(target) && ctx.cycles_back(name, target) {
            ty = format!("::std::boxed::Box<{ty}>");
        }
        let ident = field_ident(mname);
        if !idents.insert(ident.clone()) {
            bail!("{name}: two members are both `{ident}`");
        }
        out.push(Field {
            ident,
            member: mname.clone(),
            ty,
            required: required.contains(mname.as_str()),
            body: m.get("location").is_none()
                && !shape.get("payload").is_some_and(|p| p == mname.as_str()),
            shape: target.to_owned(),
            xml_name: m
                .get("locationName")
                .and_then(Value::as_str)
                .unwrap_or(mname)
                .to_owned(),
            flattened: m.get("flattened").and_then(Value::as_bool) == Some(true),
            attribute: m.get("xmlAttribute").and_then(Value::as_bool) == Some(true),
        });
    }
    Ok(out)
}

fn structure(ctx: &Ctx<'_>, name: &str, query: bool) -> Result<String> {
    let fs = fields(ctx, name)?;
    let ty = type_ident(name);
    let mut s = String::new();
    let _ = writeln!(s, "/// The `{name}` shape.");
    s.push_str(
        "#[derive(Clone, Debug, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]\n\
         #[serde(default)]\n",
    );
    let _ = writeln!(s, "pub struct {ty} {{");
    for f in &fs {
        let mut attrs = vec![format!("rename = {:?}", f.member)];
        if f.ty.contains("::serde_json::Value") {
            // An opaque value (an item, a key): written into answers, never read, so a
            // request's items are decoded once, borrowed, from the request object.
            attrs.push("skip_deserializing".into());
        }
        if !f.body {
            // Bound to the URI, query string, headers or the payload: read from the input
            // object, never written into a JSON body.
            attrs.push("skip_serializing".into());
        }
        if f.required {
            if !f.ty.contains("::serde_json::Value") {
                attrs.push("deserialize_with = \"null_default\"".into());
            }
            let _ = writeln!(s, "    #[serde({})]", attrs.join(", "));
            let _ = writeln!(s, "    pub {}: {},", f.ident, f.ty);
        } else {
            if f.body {
                attrs.push("skip_serializing_if = \"::std::option::Option::is_none\"".into());
            }
            let _ = writeln!(s, "    #[serde({})]", attrs.join(", "));
            let _ = writeln!(s, "    pub {}: ::std::option::Option<{}>,", f.ident, f.ty);
        }
    }
    s.push_str("}\n\n");
    if query {
        s.push_str(&to_xml(ctx, name, &ty, &fs)?);
    }
    Ok(s)
}

/// How a value of `shape` is written inside an element: the expression (given `v`, a
/// reference) that writes it with `x`.
fn xml_value(ctx: &Ctx<'_>, shape: &str, v: &str, elem: &str, flat: bool) -> Result<String> {
    let sh = ctx.shape(shape)?;
    Ok(match ctx.kind(shape)? {
        "list" => {
            let m = super::shape_ref(sh, "member").unwrap_or("");
            let flattened = flat || sh.get("flattened").and_then(Value::as_bool) == Some(true);
            let child = sh["member"]
                .get("locationName")
                .and_then(Value::as_str)
                .unwrap_or(if flattened { elem } else { "member" });
            let inner = xml_value(ctx, m, "e", child, false)?;
            if flattened {
                format!("for e in {v} {{ {inner} }}")
            } else {
                format!("x.open({elem:?}); for e in {v} {{ {inner} }} x.close({elem:?});")
            }
        }
        "map" => {
            let val = super::shape_ref(sh, "value").unwrap_or("");
            let flattened = flat || sh.get("flattened").and_then(Value::as_bool) == Some(true);
            let name_of = |k: &str, d: &str| {
                sh[k]
                    .get("locationName")
                    .and_then(Value::as_str)
                    .unwrap_or(d)
                    .to_owned()
            };
            let (kn, vn) = (name_of("key", "key"), name_of("value", "value"));
            let inner = xml_value(ctx, val, "val", &vn, false)?;
            let entry =
                format!("x.open(\"entry\"); x.elem({kn:?}, k); {inner} x.close(\"entry\");");
            if flattened {
                format!(
                    "for (k, val) in {v} {{ {} }}",
                    entry.replace("\"entry\"", &format!("{elem:?}"))
                )
            } else {
                format!("x.open({elem:?}); for (k, val) in {v} {{ {entry} }} x.close({elem:?});")
            }
        }
        "structure" if !ctx.opaque.contains(shape) => {
            if has_attributes(ctx, shape) {
                format!("x.open_with({elem:?}, &{v}.xml_attributes()); {v}.write_xml(x); x.close({elem:?});")
            } else {
                format!("x.open({elem:?}); {v}.write_xml(x); x.close({elem:?});")
            }
        }
        "string" => format!("x.elem({elem:?}, {v});"),
        "timestamp" => format!("x.timestamp({elem:?}, *{v});"),
        "blob" => format!("x.elem({elem:?}, &{v}.to_base64());"),
        "double" | "float" => format!("x.double({elem:?}, *{v});"),
        "integer" | "long" | "boolean" => format!("x.elem({elem:?}, &{v}.to_string());"),
        other => bail!("{}: no XML form for {shape} ({other})", ctx.module),
    })
}

/// Whether a structure's element carries attributes: a namespace of its own with a prefix
/// (S3's `Grantee`, `xmlns:xsi`), or members written as attributes (`xsi:type`).
fn has_attributes(ctx: &Ctx<'_>, shape: &str) -> bool {
    let Ok(sh) = ctx.shape(shape) else {
        return false;
    };
    sh.get("xmlNamespace")
        .and_then(|n| n.get("prefix"))
        .is_some()
        || sh
            .get("members")
            .and_then(Value::as_object)
            .is_some_and(|ms| {
                ms.values()
                    .any(|m| m.get("xmlAttribute").and_then(Value::as_bool) == Some(true))
            })
}

fn to_xml(ctx: &Ctx<'_>, name: &str, ty: &str, fs: &[Field]) -> Result<String> {
    let mut s = String::new();
    let _ = writeln!(s, "impl ToXml for {ty} {{");
    if has_attributes(ctx, name) {
        s.push_str("    fn xml_attributes(&self) -> ::std::vec::Vec<(&'static str, ::std::string::String)> {\n        let mut a = ::std::vec::Vec::new();\n");
        let sh = ctx.shape(name)?;
        if let Some(ns) = sh.get("xmlNamespace") {
            if let (Some(p), Some(u)) = (ns["prefix"].as_str(), ns["uri"].as_str()) {
                let _ = writeln!(
                    s,
                    "        a.push(({:?}, {u:?}.to_owned()));",
                    format!("xmlns:{p}")
                );
            }
        }
        for f in fs.iter().filter(|f| f.attribute) {
            if f.required {
                let _ = writeln!(
                    s,
                    "        a.push(({:?}, self.{}.to_string()));",
                    f.xml_name, f.ident
                );
            } else {
                let _ = writeln!(
                    s,
                    "        if let ::std::option::Option::Some(v) = &self.{} {{ a.push(({:?}, v.to_string())); }}",
                    f.ident, f.xml_name
                );
            }
        }
        s.push_str("        a\n    }\n");
    }
    if fs.iter().all(|f| !f.body || f.attribute) {
        s.push_str("    fn write_xml(&self, _x: &mut Xml) {}\n}\n\n");
        return Ok(s);
    }
    s.push_str("    fn write_xml(&self, x: &mut Xml) {\n");
    for f in fs.iter().filter(|f| f.body && !f.attribute) {
        // A boxed structure writes through the box (method calls dereference it).
        let write = xml_value(ctx, &f.shape, "v", &f.xml_name, f.flattened)?;
        if f.required {
            let _ = writeln!(s, "        {{ let v = &self.{}; {write} }}", f.ident);
        } else {
            let _ = writeln!(
                s,
                "        if let ::std::option::Option::Some(v) = &self.{} {{ {write} }}",
                f.ident
            );
        }
    }
    s.push_str("    }\n}\n\n");
    let _ = ctx.protocol;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn snake_case_of_aws_member_names() {
        assert_eq!(snake("SSESpecification"), "sse_specification");
        assert_eq!(snake("KMSMasterKeyId"), "kms_master_key_id");
        assert_eq!(snake("TableName"), "table_name");
        assert_eq!(snake("ARN"), "arn");
        assert_eq!(snake("IPv6Address"), "i_pv6_address");
        assert_eq!(snake("S3Bucket"), "s3_bucket");
        assert_eq!(snake("NS"), "ns");
        assert_eq!(snake("BOOL"), "bool");
    }
}

//! Writes `crates/shapes/src/generated/` from the AWS service models in `data/models/`:
//! per service an `Operation` enum and static tables of the shapes reachable from its
//! operations, with every constraint AWS's validator enforces.
//!
//! ```text
//! cargo run -p tributary-codegen            # regenerate
//! cargo run -p tributary-codegen -- --check # exit 1, naming the files, if the output is stale
//! ```
//!
//! The output is deterministic (sorted, no timestamps) so the check can compare bytes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

/// The services and API versions Tributary serves or will serve: (module, model directory,
/// API version).
const SERVICES: &[(&str, &str, &str)] = &[
    ("cloudformation", "cloudformation", "2010-05-15"),
    ("cloudwatch", "cloudwatch", "2010-08-01"),
    ("dynamodb", "dynamodb", "2012-08-10"),
    ("dynamodbstreams", "dynamodbstreams", "2012-08-10"),
    ("iam", "iam", "2010-05-08"),
    ("lambda", "lambda", "2015-03-31"),
    ("logs", "logs", "2014-03-28"),
    ("s3", "s3", "2006-03-01"),
    ("sns", "sns", "2010-03-31"),
    ("sqs", "sqs", "2012-11-05"),
    ("sts", "sts", "2011-06-15"),
];

mod types;

/// The crate folder under `crates/services/` of a service module.
fn service_dir(module: &str) -> &str {
    match module {
        "dynamodbstreams" => "dynamodb-streams",
        m => m,
    }
}

fn main() -> ExitCode {
    let check = std::env::args().skip(1).any(|a| a == "--check");
    match run(check) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tributary-codegen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // crates/codegen -> the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Generates every file; writes them, or with `check` compares them. Returns whether the
/// committed output is current (always true when writing).
fn run(check: bool) -> Result<bool> {
    let root = root();
    let out_dir = root.join("crates/shapes/src/generated");
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    // The typed surface, one `types.rs` in each service's crate (paths from the root).
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    for (module, dir, version) in SERVICES {
        let rel = format!("data/models/{dir}/{version}/service-2.json");
        let text =
            std::fs::read_to_string(root.join(&rel)).with_context(|| format!("reading {rel}"))?;
        let model: Value = serde_json::from_str(&text).with_context(|| format!("parsing {rel}"))?;
        let order = order::member_order(&text).with_context(|| format!("parsing {rel}"))?;
        let reach = reachable(&model).with_context(|| format!("reading {rel}"))?;
        let code = generate(module, &rel, &model, &order, &reach)
            .with_context(|| format!("generating from {rel}"))?;
        files.insert(format!("{module}.rs"), code);
        let code = types::generate(module, &rel, &model, &order, &reach)
            .with_context(|| format!("generating types from {rel}"))?;
        typed.insert(
            format!("crates/services/{}/src/types.rs", service_dir(module)),
            code,
        );
    }
    files.insert("mod.rs".into(), mod_rs());

    if !check {
        std::fs::create_dir_all(&out_dir)?;
        for (name, code) in &files {
            std::fs::write(out_dir.join(name), code).with_context(|| format!("writing {name}"))?;
        }
        remove_stale(&out_dir, &files, false)?;
        for (rel, code) in &typed {
            std::fs::write(root.join(rel), code).with_context(|| format!("writing {rel}"))?;
        }
        eprintln!(
            "tributary-codegen: wrote {} files to crates/shapes/src/generated/ and {} types.rs",
            files.len(),
            typed.len()
        );
        return Ok(true);
    }
    let mut stale = Vec::new();
    for (name, code) in &files {
        let path = out_dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(code.as_str()) {
            stale.push(format!("crates/shapes/src/generated/{name}"));
        }
    }
    stale.extend(remove_stale(&out_dir, &files, true)?);
    for (rel, code) in &typed {
        if std::fs::read_to_string(root.join(rel)).ok().as_deref() != Some(code.as_str()) {
            stale.push(rel.clone());
        }
    }
    if stale.is_empty() {
        return Ok(true);
    }
    eprintln!("tributary-codegen: generated code differs from the committed files (run `cargo run -p tributary-codegen`):");
    for f in &stale {
        eprintln!("  {f}");
    }
    Ok(false)
}

/// Files in the output directory the generator no longer writes: removed, or (dry) named.
fn remove_stale(dir: &Path, files: &BTreeMap<String, String>, dry: bool) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(stale);
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".rs") && !files.contains_key(&name) {
            if dry {
                stale.push(format!(
                    "crates/shapes/src/generated/{name} (no longer generated)"
                ));
            } else {
                std::fs::remove_file(entry.path())?;
            }
        }
    }
    Ok(stale)
}

fn mod_rs() -> String {
    let mut s = String::from(
        "//! Generated by `cargo run -p tributary-codegen` from `data/models/`. Do not edit.\n\n",
    );
    for (module, _, _) in SERVICES {
        let _ = writeln!(s, "pub mod {module};");
    }
    s
}

fn obj<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .with_context(|| format!("{what} is not an object"))
}

fn shape_ref<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.get("shape")?.as_str()
}

/// Every shape reachable from an operation's input or output.
fn reachable(model: &Value) -> Result<BTreeSet<&str>> {
    let ops = obj(&model["operations"], "operations")?;
    let shapes = obj(&model["shapes"], "shapes")?;
    let mut reach: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&str> = VecDeque::new();
    for op in ops.values() {
        for io in ["input", "output"] {
            if let Some(s) = shape_ref(op, io) {
                queue.push_back(s);
            }
        }
    }
    while let Some(name) = queue.pop_front() {
        if !reach.insert(name) {
            continue;
        }
        let shape = shapes
            .get(name)
            .with_context(|| format!("shape {name} is not defined"))?;
        if let Some(members) = shape.get("members").and_then(Value::as_object) {
            for m in members.values() {
                if let Some(s) = m.get("shape").and_then(Value::as_str) {
                    queue.push_back(s);
                }
            }
        }
        for k in ["member", "key", "value"] {
            if let Some(s) = shape_ref(shape, k) {
                queue.push_back(s);
            }
        }
    }
    Ok(reach)
}

fn generate(
    module: &str,
    rel: &str,
    model: &Value,
    order: &BTreeMap<String, Vec<String>>,
    reach: &BTreeSet<&str>,
) -> Result<String> {
    let meta = obj(&model["metadata"], "metadata")?;
    let protocol = meta.get("protocol").and_then(Value::as_str).unwrap_or("");
    let api_version = meta.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let target_prefix = meta.get("targetPrefix").and_then(Value::as_str);
    let ops = obj(&model["operations"], "operations")?;
    let shapes = obj(&model["shapes"], "shapes")?;
    let ids: BTreeMap<&str, usize> = reach.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    if ids.len() > usize::from(u16::MAX) {
        bail!("too many shapes for a u16 id");
    }

    let constrained = constrained_shapes(reach, shapes);
    let mut out = String::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut shape_rows = String::new();
    for name in reach {
        let shape = &shapes[*name];
        let c = constrained.contains(name);
        shape_rows.push_str(&shape_row(
            name,
            shape,
            order.get(*name),
            c,
            &ids,
            &mut skipped,
        )?);
    }

    let _ = writeln!(
        out,
        "//! Generated by `cargo run -p tributary-codegen` from `{rel}`. Do not edit: change the\n\
         //! model or the generator and regenerate.\n//!\n\
         //! {} operations, {} shapes (those reachable from an operation's input or output).",
        ops.len(),
        reach.len()
    );
    if skipped.is_empty() {
        out.push_str("//!\n//! Every model pattern compiles.\n");
    } else {
        out.push_str(
            "//!\n//! Patterns that do not compile as Rust regexes and are not checked:\n",
        );
        for (shape, pattern) in &skipped {
            let _ = writeln!(out, "//! - `{shape}`: `{}`", pattern.replace('`', "'"));
        }
    }
    out.push_str(
        "\n#[allow(unused_imports)]\nuse crate::model::{Bound, Kind, Location, Member, OperationDef, Pattern, Service, Shape};\n\n",
    );

    // The operation enum, sorted by name.
    let names: Vec<&String> = ops.keys().collect();
    out.push_str("/// The operations of the service, sorted by name.\n");
    out.push_str("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum Operation {\n");
    for n in &names {
        check_ident(n)?;
        let _ = writeln!(out, "    {n},");
    }
    out.push_str("}\n\n");
    out.push_str("impl Operation {\n    pub const ALL: &'static [Operation] = &[\n");
    for n in &names {
        let _ = writeln!(out, "        Operation::{n},");
    }
    out.push_str("    ];\n\n");
    out.push_str(
        "    /// The operation of that exact name (`X-Amz-Target` suffix, query `Action`).\n\
         \x20   pub fn from_name(name: &str) -> Option<Operation> {\n\
         \x20       OPERATIONS\n\
         \x20           .binary_search_by(|o| o.name.cmp(name))\n\
         \x20           .ok()\n\
         \x20           .map(|i| Operation::ALL[i])\n\
         \x20   }\n\n\
         \x20   pub fn name(self) -> &'static str {\n\
         \x20       OPERATIONS[self as usize].name\n\
         \x20   }\n\n\
         \x20   pub fn def(self) -> &'static OperationDef {\n\
         \x20       &OPERATIONS[self as usize]\n\
         \x20   }\n\n\
         \x20   /// The HTTP method of the operation's binding (REST protocols route by it).\n\
         \x20   pub fn method(self) -> &'static str {\n\
         \x20       OPERATIONS[self as usize].method\n\
         \x20   }\n\n\
         \x20   /// The binding's URI template, e.g. `/2015-03-31/functions/{FunctionName}`.\n\
         \x20   pub fn request_uri(self) -> &'static str {\n\
         \x20       OPERATIONS[self as usize].request_uri\n\
         \x20   }\n\n\
         \x20   pub fn input(self) -> Option<&'static Shape> {\n\
         \x20       OPERATIONS[self as usize].input.map(|id| SERVICE.shape(id))\n\
         \x20   }\n\n\
         \x20   /// The output members (names and shapes), in model order.\n\
         \x20   pub fn output_members(self) -> &'static [Member] {\n\
         \x20       OPERATIONS[self as usize].output_members(&SERVICE)\n\
         \x20   }\n\
         }\n\n",
    );

    let _ = writeln!(
        out,
        "pub static SERVICE: Service = Service {{\n    name: {module:?},\n    api_version: {api_version:?},\n    protocol: {protocol:?},\n    target_prefix: {},\n    shapes: &SHAPES,\n    operations: &OPERATIONS,\n}};\n",
        opt_str(target_prefix)
    );

    let _ = writeln!(
        out,
        "static OPERATIONS: [OperationDef; {}] = [",
        names.len()
    );
    for n in &names {
        let op = &ops[n.as_str()];
        let http = op.get("http");
        let method = http
            .and_then(|h| h.get("method"))
            .and_then(Value::as_str)
            .unwrap_or("POST");
        let uri = http
            .and_then(|h| h.get("requestUri"))
            .and_then(Value::as_str)
            .unwrap_or("/");
        let io = |k: &str| -> String {
            shape_ref(op, k)
                .and_then(|s| ids.get(s))
                .map_or("None".into(), |i| format!("Some({i})"))
        };
        let _ = writeln!(
            out,
            "    OperationDef {{ name: {n:?}, method: {method:?}, request_uri: {uri:?}, input: {}, output: {} }},",
            io("input"),
            io("output")
        );
    }
    out.push_str("];\n\n");

    let _ = writeln!(out, "static SHAPES: [Shape; {}] = [", reach.len());
    out.push_str(&shape_rows);
    out.push_str("];\n");
    Ok(out)
}

/// The shapes that carry a constraint themselves or somewhere below them (a required member,
/// a bound, a pattern, an enum). The validator does not descend into the others, so a large
/// item of attribute values costs nothing to validate.
fn constrained_shapes<'a>(
    reach: &BTreeSet<&'a str>,
    shapes: &'a Map<String, Value>,
) -> BTreeSet<&'a str> {
    let own = |s: &Value| {
        ["min", "max", "pattern", "enum"]
            .iter()
            .any(|k| s.get(*k).is_some())
            || s.get("required")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
    };
    let children = |s: &'a Value| -> Vec<&'a str> {
        let mut c: Vec<&str> = s
            .get("members")
            .and_then(Value::as_object)
            .map(|m| {
                m.values()
                    .filter_map(|m| m.get("shape").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        c.extend(
            ["member", "key", "value"]
                .iter()
                .filter_map(|k| shape_ref(s, k)),
        );
        c
    };
    let mut set: BTreeSet<&str> = reach.iter().copied().filter(|n| own(&shapes[*n])).collect();
    // Grow to a fixpoint: shapes are recursive (DynamoDB's AttributeValue).
    loop {
        let before = set.len();
        for n in reach {
            if !set.contains(n) && children(&shapes[*n]).iter().any(|c| set.contains(c)) {
                set.insert(n);
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

fn check_ident(n: &str) -> Result<()> {
    let ok = n.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        bail!("operation name {n:?} is not a Rust identifier");
    }
    Ok(())
}

fn opt_str(s: Option<&str>) -> String {
    s.map_or("None".into(), |s| format!("Some({s:?})"))
}

fn bound(shape: &Value, key: &str) -> Option<String> {
    let n = shape.get(key)?.as_number()?;
    let v = n.as_f64()?;
    Some(format!(
        "Some(Bound {{ value: {v:?}, text: {:?} }})",
        n.to_string()
    ))
}

fn shape_row(
    name: &str,
    shape: &Value,
    member_order: Option<&Vec<String>>,
    constrained: bool,
    ids: &BTreeMap<&str, usize>,
    skipped: &mut Vec<(String, String)>,
) -> Result<String> {
    let ty = shape.get("type").and_then(Value::as_str).unwrap_or("");
    let kind = match ty {
        "structure" => "Structure",
        "list" => "List",
        "map" => "Map",
        "string" => "String",
        "integer" => "Integer",
        "long" => "Long",
        "float" => "Float",
        "double" => "Double",
        "boolean" => "Boolean",
        "blob" => "Blob",
        "timestamp" => "Timestamp",
        other => bail!("shape {name} has unknown type {other:?}"),
    };
    let pattern = match shape.get("pattern").and_then(Value::as_str) {
        Some(p) if fancy_regex::Regex::new(&format!("^(?:{p})$")).is_ok() => {
            format!("Some(Pattern::new({p:?}))")
        }
        Some(p) => {
            skipped.push((name.to_owned(), p.to_owned()));
            "None".into()
        }
        None => "None".into(),
    };
    let enums: Vec<String> = shape
        .get("enum")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| format!("{s:?}"))
                .collect()
        })
        .unwrap_or_default();
    let id_of = |k: &str| -> Result<String> {
        Ok(match shape_ref(shape, k) {
            Some(s) => format!(
                "Some({})",
                ids.get(s).with_context(|| format!("{s} has no id"))?
            ),
            None => "None".into(),
        })
    };
    let mut members = String::new();
    if let Some(ms) = shape.get("members").and_then(Value::as_object) {
        let required: BTreeSet<&str> = shape
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let names: Vec<&String> = match member_order {
            Some(o) => o.iter().collect(),
            None => ms.keys().collect(),
        };
        for mname in names {
            let m = ms
                .get(mname)
                .with_context(|| format!("{name}.{mname}: member order out of step"))?;
            let target = m.get("shape").and_then(Value::as_str).unwrap_or("");
            let id = ids
                .get(target)
                .with_context(|| format!("{name}.{mname}: {target} has no id"))?;
            let location = match m.get("location").and_then(Value::as_str) {
                None => "Body",
                Some("uri") => "Uri",
                Some("querystring") => "Querystring",
                Some("header") => "Header",
                Some("headers") => "Headers",
                Some("statusCode") => "StatusCode",
                Some(other) => bail!("{name}.{mname}: unknown location {other:?}"),
            };
            let _ = write!(
                members,
                "Member {{ name: {mname:?}, shape: {id}, required: {}, location: Location::{location}, location_name: {} }}, ",
                required.contains(mname.as_str()),
                opt_str(m.get("locationName").and_then(Value::as_str))
            );
        }
    }
    let flag = |k: &str| shape.get(k).and_then(Value::as_bool).unwrap_or(false);
    let wire_name = |k: &str| {
        opt_str(
            shape
                .get(k)
                .and_then(|r| r.get("locationName"))
                .and_then(Value::as_str),
        )
    };
    Ok(format!(
        "    Shape {{ name: {name:?}, kind: Kind::{kind}, min: {}, max: {}, pattern: {pattern}, enum_values: &[{}], members: &[{}], member: {}, key: {}, value: {}, flattened: {}, member_name: {}, key_name: {}, value_name: {}, sensitive: {}, union: {}, constrained: {constrained} }},\n",
        bound(shape, "min").unwrap_or_else(|| "None".into()),
        bound(shape, "max").unwrap_or_else(|| "None".into()),
        enums.join(", "),
        members.trim_end_matches([',', ' ']),
        id_of("member")?,
        id_of("key")?,
        id_of("value")?,
        flag("flattened"),
        wire_name("member"),
        wire_name("key"),
        wire_name("value"),
        flag("sensitive"),
        flag("union"),
    ))
}

/// The member order of every structure, as the model file writes it. `serde_json::Map` sorts its
/// keys (the `preserve_order` feature would change every crate's maps through feature
/// unification), so the order comes from this small order-keeping parse.
mod order {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// A JSON value that keeps object key order; scalars are dropped.
    pub enum J {
        Other,
        Arr,
        Obj(Vec<(String, J)>),
    }

    impl<'de> Deserialize<'de> for J {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = J;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("JSON")
                }
                fn visit_bool<E>(self, _: bool) -> Result<J, E> {
                    Ok(J::Other)
                }
                fn visit_i64<E>(self, _: i64) -> Result<J, E> {
                    Ok(J::Other)
                }
                fn visit_u64<E>(self, _: u64) -> Result<J, E> {
                    Ok(J::Other)
                }
                fn visit_f64<E>(self, _: f64) -> Result<J, E> {
                    Ok(J::Other)
                }
                fn visit_str<E>(self, _: &str) -> Result<J, E> {
                    Ok(J::Other)
                }
                fn visit_unit<E>(self) -> Result<J, E> {
                    Ok(J::Other)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                    while a.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(J::Arr)
                }
                fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                    let mut v = Vec::new();
                    while let Some(k) = a.next_key::<String>()? {
                        if k == "documentation" {
                            a.next_value::<IgnoredAny>()?;
                            continue;
                        }
                        v.push((k, a.next_value()?));
                    }
                    Ok(J::Obj(v))
                }
            }
            d.deserialize_any(V)
        }
    }

    fn get<'a>(j: &'a J, key: &str) -> Option<&'a J> {
        match j {
            J::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Shape name → member names in file order.
    pub fn member_order(text: &str) -> serde_json::Result<BTreeMap<String, Vec<String>>> {
        let j: J = serde_json::from_str(text)?;
        let mut out = BTreeMap::new();
        if let Some(J::Obj(shapes)) = get(&j, "shapes") {
            for (name, shape) in shapes {
                if let Some(J::Obj(members)) = get(shape, "members") {
                    out.insert(
                        name.clone(),
                        members.iter().map(|(k, _)| k.clone()).collect(),
                    );
                }
            }
        }
        Ok(out)
    }
}

//! The SAM transform, `AWS::Serverless-2016-10-31`, built in: `AWS::Serverless::Function`,
//! `AWS::Serverless::SimpleTable` and `AWS::Serverless::LayerVersion` become plain
//! CloudFormation resources with the logical ids SAM generates (`<Function>Role`,
//! `<Function><Event>`, `<Function>Version<hash>`, `<Function>Alias<Name>`,
//! `<Layer><hash>` ...), so a stack's resources read as they would on AWS.
//!
//! The behaviour follows the SAM specification and `aws-sam-translator`
//! (`samtranslator/model/sam_resources.py`, `model/eventsources/pull.py`, `model/iam.py`,
//! `model/role_utils/role_constructor.py`, `plugins/globals/globals.py`,
//! `translator/logical_id_generator.py`); error texts are the translator's, gathered into
//! its `Invalid Serverless Application Specification document. Number of errors found: N.`
//! message. What this server cannot serve (event sources other than DynamoDB streams, APIs,
//! state machines ...) fails with a message that says so.

mod function;
mod hash;
mod policies;

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::context::Pseudo;
use crate::error::{Result, TemplateError};
use crate::intrinsics::{intrinsic_call, parse_sub, SubPart};
use crate::params::Params;
use crate::template::{is_alphanumeric, Resource, RetentionPolicy, Template, SAM_TRANSFORM};

pub use policies::template_names as policy_template_names;

/// The key of the `Code` (or layer `Content`) object the transform writes for a local
/// `CodeUri`/`ContentUri` when the caller has no [`SamContext::local_code`] hook: the
/// deployer replaces `{"Tributary::LocalPath": "<path>"}` with the real code.
pub const LOCAL_PATH_KEY: &str = "Tributary::LocalPath";

/// A local code location met by the transform (`CodeUri: ./src`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalArtifact<'a> {
    /// The SAM resource's logical id.
    pub logical_id: &'a str,
    /// `CodeUri` (a function) or `ContentUri` (a layer).
    pub property: &'a str,
    /// The path as written (`.` when the function gave no code location).
    pub path: &'a str,
}

/// Turns a local artifact into the `Code`/`Content` object of the generated resource, or
/// explains why it cannot.
pub type LocalCode<'a> = &'a dyn Fn(&LocalArtifact) -> std::result::Result<Value, String>;

/// Turns an AWS managed policy name into its ARN (for names the built-in table lacks).
pub type ManagedPolicyLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn local_path_marker(a: &LocalArtifact) -> std::result::Result<Value, String> {
    Ok(json!({ LOCAL_PATH_KEY: a.path }))
}

fn no_managed_lookup(_: &str) -> Option<String> {
    None
}

/// What the transform needs to know of the stack.
#[derive(Clone)]
pub struct SamContext<'a> {
    /// The stack's pseudo parameters (SAM resolves a few values before hashing them).
    pub pseudo: Pseudo,
    /// The stack's parameter values.
    pub params: Params,
    /// How a local `CodeUri`/`ContentUri` becomes code; by default the
    /// `{"Tributary::LocalPath": path}` marker ([`LOCAL_PATH_KEY`]).
    pub local_code: LocalCode<'a>,
    /// Managed policy names beyond the built-in table.
    pub managed_policy_arn: ManagedPolicyLookup<'a>,
}

impl std::fmt::Debug for SamContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamContext")
            .field("pseudo", &self.pseudo)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl SamContext<'static> {
    /// A context that leaves local code locations as markers and knows the built-in
    /// managed policy names.
    pub fn new(pseudo: Pseudo, params: Params) -> Self {
        Self {
            pseudo,
            params,
            local_code: &local_path_marker,
            managed_policy_arn: &no_managed_lookup,
        }
    }
}

impl<'a> SamContext<'a> {
    /// The same context with a hook for local code locations.
    pub fn with_local_code<'b>(self, local_code: LocalCode<'b>) -> SamContext<'b>
    where
        'a: 'b,
    {
        SamContext { local_code, ..self }
    }

    /// The same context with a lookup for managed policy names.
    pub fn with_managed_policies<'b>(self, lookup: ManagedPolicyLookup<'b>) -> SamContext<'b>
    where
        'a: 'b,
    {
        SamContext {
            managed_policy_arn: lookup,
            ..self
        }
    }

    fn partition(&self) -> &str {
        &self.pseudo.partition
    }

    /// SAM's `resolve_parameter_refs`: `Ref`s to parameters and pseudo parameters, and
    /// their `${...}` in `Fn::Sub` strings, replaced by their values; all else kept.
    fn resolve_param_refs(&self, v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                if let Some((name, arg)) = intrinsic_call(m, false) {
                    if name == "Ref" {
                        if let Some(p) = arg.as_str().and_then(|p| self.param(p)) {
                            return p;
                        }
                    }
                    if name == "Fn::Sub" {
                        let resolved = match arg {
                            Value::String(s) => Value::String(self.sub_params(s, None)),
                            Value::Array(a) if a.len() == 2 => match (&a[0], &a[1]) {
                                (Value::String(s), Value::Object(vars)) => json!([
                                    self.sub_params(s, Some(vars)),
                                    self.resolve_param_refs(&a[1])
                                ]),
                                _ => arg.clone(),
                            },
                            _ => arg.clone(),
                        };
                        return json!({ "Fn::Sub": resolved });
                    }
                }
                Value::Object(
                    m.iter()
                        .map(|(k, v)| (k.clone(), self.resolve_param_refs(v)))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(|v| self.resolve_param_refs(v)).collect()),
            other => other.clone(),
        }
    }

    fn param(&self, name: &str) -> Option<Value> {
        self.pseudo
            .get(name)
            .or_else(|| self.params.get(name).cloned())
    }

    fn sub_params(&self, s: &str, vars: Option<&Map<String, Value>>) -> String {
        let Ok(parts) = parse_sub(s) else {
            return s.to_owned();
        };
        let mut out = String::new();
        for part in parts {
            match part {
                SubPart::Literal(l) => out.push_str(&l.replace("${", "${!")),
                SubPart::Var(name) => {
                    let shadowed = vars.is_some_and(|v| v.contains_key(&name));
                    match self.param(&name) {
                        Some(Value::String(value)) if !shadowed => {
                            out.push_str(&value.replace("${", "${!"))
                        }
                        _ => out.push_str(&format!("${{{name}}}")),
                    }
                }
            }
        }
        out
    }
}

/// `Resource with id [X] is invalid. <message>`.
pub(crate) fn invalid(id: &str, message: impl std::fmt::Display) -> String {
    format!("Resource with id [{id}] is invalid. {message}")
}

/// `Event with id [X] is invalid. <message>`.
pub(crate) fn event_invalid(id: &str, message: impl std::fmt::Display) -> String {
    format!("Event with id [{id}] is invalid. {message}")
}

/// Whether a value is an intrinsic function call.
pub(crate) fn is_intrinsic(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| intrinsic_call(m, false).is_some())
}

/// The resource attributes SAM passes from a SAM resource to every resource it generates.
#[derive(Debug, Clone, Default)]
pub(crate) struct Passthrough {
    pub condition: Option<String>,
    pub deletion_policy: Option<RetentionPolicy>,
    pub update_replace_policy: Option<RetentionPolicy>,
}

impl Passthrough {
    fn of(r: &Resource) -> Self {
        Self {
            condition: r.condition.clone(),
            deletion_policy: r.deletion_policy,
            update_replace_policy: r.update_replace_policy,
        }
    }

    pub(crate) fn resource(&self, type_: &str, properties: Map<String, Value>) -> Resource {
        let mut r = Resource::new(type_, Value::Object(properties));
        r.condition = self.condition.clone();
        r.deletion_policy = self.deletion_policy;
        r.update_replace_policy = self.update_replace_policy;
        r
    }
}

/// A SAM resource being translated, with what it produced.
pub(crate) struct Translation {
    /// Generated resources, in the order SAM emits them.
    pub resources: Vec<(String, Resource)>,
    /// References SAM resolves in the rest of the template: `Function.Alias`,
    /// `Function.Version`, and a layer's old logical id.
    pub renames: Vec<(String, String)>,
}

/// Runs the SAM transform when the template asks for it (otherwise returns it unchanged):
/// SAM resources become CloudFormation resources, `Globals` is applied and removed, and
/// references to generated ids (`!Ref MyFunction.Alias`, a layer's new id) are rewritten.
pub fn transform(template: &Template, ctx: &SamContext) -> Result<Template> {
    if !template.has_sam_transform() {
        return Ok(template.clone());
    }
    let mut errors: Vec<String> = Vec::new();
    let globals = match Globals::parse(template.globals.as_ref()) {
        Ok(g) => g,
        Err(e) => return Err(document_error(vec![e])),
    };
    let mut out = template.clone();
    out.globals = None;
    out.transform.retain(|t| t != SAM_TRANSFORM);
    out.resources = IndexMap::new();

    // Plain resources stay where they are; SAM resources are replaced by what they
    // generate, appended functions first (the translator's order).
    for (id, r) in &template.resources {
        if !r.type_.starts_with("AWS::Serverless::") {
            out.resources.insert(id.clone(), r.clone());
        }
    }
    let mut sam: Vec<(&String, &Resource)> = template
        .resources
        .iter()
        .filter(|(_, r)| r.type_.starts_with("AWS::Serverless::"))
        .collect();
    sam.sort_by_key(|(_, r)| r.type_ != "AWS::Serverless::Function");

    let mut renames: HashMap<String, String> = HashMap::new();
    for (id, r) in sam {
        let result = match r.type_.as_str() {
            "AWS::Serverless::Function" => {
                let props = globals.apply("Function", &r.properties);
                function::translate(id, r, &props, ctx)
            }
            "AWS::Serverless::SimpleTable" => {
                let props = globals.apply("SimpleTable", &r.properties);
                simple_table(id, r, &props)
            }
            "AWS::Serverless::LayerVersion" => layer_version(id, r, ctx),
            other => Err(vec![invalid(
                id,
                format!(
                    "Resource type {other} is not supported by this server yet: the SAM resources it can deploy are AWS::Serverless::Function, AWS::Serverless::SimpleTable and AWS::Serverless::LayerVersion."
                ),
            )]),
        };
        match result {
            Ok(t) => {
                for (new_id, res) in t.resources {
                    if out.resources.contains_key(&new_id)
                        || (new_id != *id && template.resources.contains_key(&new_id))
                    {
                        errors.push(format!(
                            "Transforming resource with id [{id}] attempts to create a new resource with id [{new_id}] and type \"{}\". A resource with that id already exists within this template. Please use a different id for that resource.",
                            res.type_
                        ));
                        continue;
                    }
                    out.resources.insert(new_id, res);
                }
                renames.extend(t.renames);
            }
            Err(es) => errors.extend(es),
        }
    }
    if !errors.is_empty() {
        return Err(document_error(errors));
    }
    rewrite_template(&mut out, &renames);
    Ok(out)
}

/// The translator's summary of every error found.
fn document_error(mut errors: Vec<String>) -> TemplateError {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.clone()));
    TemplateError::Transform(format!(
        "Invalid Serverless Application Specification document. Number of errors found: {}. {}",
        errors.len(),
        errors.join(" ")
    ))
}

// ------------------------------------------------------------------------------------------
// Globals

/// The properties each resource type takes from `Globals` (SAM's
/// `plugins/globals/globals.py`, current list).
const GLOBAL_PROPERTIES: &[(&str, &[&str])] = &[
    (
        "Function",
        &[
            "Architectures",
            "AssumeRolePolicyDocument",
            "AutoPublishAlias",
            "AutoPublishAliasAllProperties",
            "CodeSigningConfigArn",
            "CodeUri",
            "DeadLetterQueue",
            "DeploymentPreference",
            "Description",
            "Environment",
            "EphemeralStorage",
            "EventInvokeConfig",
            "FileSystemConfigs",
            "FunctionUrlConfig",
            "Handler",
            "KmsKeyArn",
            "Layers",
            "LoggingConfig",
            "MemorySize",
            "PermissionsBoundary",
            "PropagateTags",
            "ProvisionedConcurrencyConfig",
            "RecursiveLoop",
            "ReservedConcurrentExecutions",
            "RolePath",
            "Runtime",
            "RuntimeManagementConfig",
            "SnapStart",
            "SourceKMSKeyArn",
            "Tags",
            "Timeout",
            "Tracing",
            "VpcConfig",
        ],
    ),
    ("SimpleTable", &["SSESpecification"]),
    ("Api", &[]),
    ("HttpApi", &[]),
    ("StateMachine", &[]),
    ("CapacityProvider", &[]),
];

/// The `Globals` section, by resource kind.
struct Globals {
    sections: Map<String, Value>,
}

fn python_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

impl Globals {
    fn parse(v: Option<&Value>) -> std::result::Result<Self, String> {
        let Some(v) = v else {
            return Ok(Self {
                sections: Map::new(),
            });
        };
        let Some(sections) = v.as_object() else {
            return Err("'Globals' section is invalid. Globals must be a map.".to_owned());
        };
        let kinds: Vec<&str> = GLOBAL_PROPERTIES.iter().map(|(k, _)| *k).collect();
        for (kind, props) in sections {
            let Some((_, allowed)) = GLOBAL_PROPERTIES.iter().find(|(k, _)| k == kind) else {
                return Err(format!(
                    "'Globals' section is invalid. '{kind}' is not supported. Must be one of the following values - {}",
                    python_list(&kinds)
                ));
            };
            let Some(props) = props.as_object() else {
                return Err(format!(
                    "'Globals' section is invalid. Value of '{kind}' must be a dictionary."
                ));
            };
            for name in props.keys() {
                if !allowed.contains(&name.as_str()) {
                    return Err(format!(
                        "'Globals' section is invalid. '{name}' is not a supported property of '{kind}'. Must be one of the following values - {}",
                        python_list(allowed)
                    ));
                }
            }
        }
        Ok(Self {
            sections: sections.clone(),
        })
    }

    /// The resource's properties with the globals of its kind merged in: the resource wins
    /// for scalars, maps merge key by key, lists are the global entries then the resource's.
    fn apply(&self, kind: &str, properties: &Value) -> Value {
        match self.sections.get(kind) {
            Some(global) => merge(global, properties),
            None => properties.clone(),
        }
    }
}

fn merge(global: &Value, local: &Value) -> Value {
    match (global, local) {
        (Value::Object(g), Value::Object(l)) if !is_intrinsic(global) && !is_intrinsic(local) => {
            let mut out = g.clone();
            for (k, lv) in l {
                let merged = match g.get(k) {
                    Some(gv) => merge(gv, lv),
                    None => lv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(g), Value::Array(l)) => {
            Value::Array(g.iter().chain(l.iter()).cloned().collect())
        }
        (_, local) => local.clone(),
    }
}

// ------------------------------------------------------------------------------------------
// Shared pieces

/// Checks a SAM resource's property names against those its type knows.
pub(crate) fn check_properties(
    id: &str,
    type_: &str,
    props: &Map<String, Value>,
    known: &[&str],
) -> std::result::Result<(), String> {
    for name in props.keys() {
        if !known.contains(&name.as_str()) {
            return Err(invalid(
                id,
                format!("property {name} not defined for resource of type {type_}"),
            ));
        }
    }
    Ok(())
}

/// SAM's tags: a map becomes `[{Key, Value}]`.
pub(crate) fn tag_list(tags: &Map<String, Value>) -> Vec<Value> {
    tags.iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect()
}

/// `CodeUri`/`ContentUri` as a Lambda code location: an `s3://bucket/key[?versionId=v]`
/// URI, a `{Bucket, Key, Version}` map, or a local path for the caller to package.
pub(crate) fn code_location(
    id: &str,
    property: &str,
    uri: &Value,
    ctx: &SamContext,
    prefix: &str,
) -> std::result::Result<Value, String> {
    let key = |k: &str| format!("{prefix}{k}");
    match uri {
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix("s3://") {
                let (path, query) = match rest.split_once('?') {
                    Some((p, q)) => (p, Some(q)),
                    None => (rest, None),
                };
                let Some((bucket, object)) = path
                    .split_once('/')
                    .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                else {
                    return Err(invalid(
                        id,
                        format!("'{property}' is not a valid S3 Uri of the form 's3://bucket/key' with optional versionId query parameter."),
                    ));
                };
                let mut loc = Map::new();
                loc.insert(key("S3Bucket"), json!(bucket));
                loc.insert(key("S3Key"), json!(object));
                if let Some(version) = query
                    .into_iter()
                    .flat_map(|q| q.split('&'))
                    .find_map(|kv| kv.strip_prefix("versionId="))
                {
                    loc.insert(key("S3ObjectVersion"), json!(version));
                }
                return Ok(Value::Object(loc));
            }
            let artifact = LocalArtifact {
                logical_id: id,
                property,
                path: s,
            };
            (ctx.local_code)(&artifact).map_err(|e| invalid(id, e))
        }
        Value::Object(m) if !is_intrinsic(uri) => {
            let (Some(bucket), Some(object)) = (m.get("Bucket"), m.get("Key")) else {
                return Err(invalid(
                    id,
                    format!("'{property}' requires Bucket and Key properties to be specified."),
                ));
            };
            let mut loc = Map::new();
            loc.insert(key("S3Bucket"), bucket.clone());
            loc.insert(key("S3Key"), object.clone());
            if let Some(v) = m.get("Version") {
                loc.insert(key("S3ObjectVersion"), v.clone());
            }
            Ok(Value::Object(loc))
        }
        _ => Err(invalid(
            id,
            format!("'{property}' requires Bucket and Key properties to be specified."),
        )),
    }
}

// ------------------------------------------------------------------------------------------
// AWS::Serverless::SimpleTable

fn simple_table(
    id: &str,
    r: &Resource,
    props: &Value,
) -> std::result::Result<Translation, Vec<String>> {
    const KNOWN: &[&str] = &[
        "PointInTimeRecoverySpecification",
        "PrimaryKey",
        "ProvisionedThroughput",
        "TableName",
        "Tags",
        "SSESpecification",
    ];
    let empty = Map::new();
    let p = props.as_object().unwrap_or(&empty);
    check_properties(id, "AWS::Serverless::SimpleTable", p, KNOWN).map_err(|e| vec![e])?;
    let primary = match p.get("PrimaryKey") {
        None => json!({ "AttributeName": "id", "AttributeType": "S" }),
        Some(Value::Object(pk)) => {
            let Some(name) = pk.get("Name").filter(|v| !v.is_null()) else {
                return Err(vec![invalid(id, "Property 'PrimaryKey.Name' is required.")]);
            };
            let type_ = match pk.get("Type").and_then(Value::as_str) {
                Some("String") => "S",
                Some("Number") => "N",
                Some("Binary") => "B",
                Some(other) => {
                    return Err(vec![invalid(id, format!("Invalid 'Type' \"{other}\"."))])
                }
                None => return Err(vec![invalid(id, "Property 'PrimaryKey.Type' is required.")]),
            };
            json!({ "AttributeName": name, "AttributeType": type_ })
        }
        Some(_) => {
            return Err(vec![invalid(
                id,
                "Type of property 'PrimaryKey' is invalid.",
            )])
        }
    };
    let mut t = Map::new();
    t.insert("AttributeDefinitions".into(), json!([primary]));
    t.insert(
        "KeySchema".into(),
        json!([{ "AttributeName": primary["AttributeName"], "KeyType": "HASH" }]),
    );
    match p.get("ProvisionedThroughput") {
        Some(pt) => {
            t.insert("ProvisionedThroughput".into(), pt.clone());
        }
        None => {
            t.insert("BillingMode".into(), json!("PAY_PER_REQUEST"));
        }
    }
    for key in [
        "PointInTimeRecoverySpecification",
        "SSESpecification",
        "TableName",
    ] {
        if let Some(v) = p.get(key) {
            t.insert(key.into(), v.clone());
        }
    }
    if let Some(tags) = p.get("Tags") {
        let Some(tags) = tags.as_object() else {
            return Err(vec![invalid(id, "Property 'Tags' should be a map.")]);
        };
        if !tags.is_empty() {
            t.insert("Tags".into(), Value::Array(tag_list(tags)));
        }
    }
    let mut table = r.clone();
    table.type_ = "AWS::DynamoDB::Table".into();
    table.properties = Value::Object(t);
    Ok(Translation {
        resources: vec![(id.to_owned(), table)],
        renames: Vec::new(),
    })
}

// ------------------------------------------------------------------------------------------
// AWS::Serverless::LayerVersion

fn layer_version(
    id: &str,
    r: &Resource,
    ctx: &SamContext,
) -> std::result::Result<Translation, Vec<String>> {
    const KNOWN: &[&str] = &[
        "LayerName",
        "Description",
        "ContentUri",
        "CompatibleArchitectures",
        "CompatibleRuntimes",
        "LicenseInfo",
        "RetentionPolicy",
    ];
    let empty = Map::new();
    let mut p = r.properties.as_object().unwrap_or(&empty).clone();
    check_properties(id, "AWS::Serverless::LayerVersion", &p, KNOWN).map_err(|e| vec![e])?;
    let Some(content_uri) = p.get("ContentUri").cloned() else {
        return Err(vec![invalid(id, "Missing required property 'ContentUri'.")]);
    };
    // SAM resolves these parameter references before it hashes.
    for key in ["LayerName", "LicenseInfo", "Description", "RetentionPolicy"] {
        if let Some(v) = p.get(key) {
            let resolved = ctx.resolve_param_refs(v);
            p.insert(key.into(), resolved);
        }
    }
    let retention = match p.get("RetentionPolicy") {
        None => None,
        Some(v) if is_intrinsic(v) => {
            return Err(vec![invalid(
                id,
                "'RetentionPolicy' does not accept intrinsic functions, please use one of the following options: ['Retain', 'Delete']",
            )])
        }
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "retain" => Some(RetentionPolicy::Retain),
            "delete" => Some(RetentionPolicy::Delete),
            _ => {
                return Err(vec![invalid(
                    id,
                    "'RetentionPolicy' must be one of the following options: ['Retain', 'Delete'].",
                )])
            }
        },
        Some(_) => {
            return Err(vec![invalid(
                id,
                "Invalid 'RetentionPolicy' type, please use one of the following options: ['Retain', 'Delete']",
            )])
        }
    };
    if let Some(Value::Array(archs)) = p.get("CompatibleArchitectures") {
        if archs
            .iter()
            .any(|a| !is_intrinsic(a) && a != "x86_64" && a != "arm64")
        {
            return Err(vec![invalid(
                id,
                "CompatibleArchitectures needs to be a list of 'x86_64' or 'arm64'",
            )]);
        }
    }

    // The id changes with the definition, so that an update publishes a new version while
    // the old one is retained: SAM hashes the resource as it stands, less the attributes
    // that do not define the layer.
    let mut hashed = Map::new();
    hashed.insert("Type".into(), json!(r.type_));
    if !r.depends_on.is_empty() {
        hashed.insert("DependsOn".into(), json!(r.depends_on));
    }
    if let Some(c) = &r.condition {
        hashed.insert("Condition".into(), json!(c));
    }
    if let Some(u) = &r.update_policy {
        hashed.insert("UpdatePolicy".into(), u.clone());
    }
    hashed.insert("Properties".into(), Value::Object(p.clone()));
    let new_id = hash::logical_id(id, &json!({ id: hashed }), None);

    let mut layer = Map::new();
    layer.insert(
        "LayerName".into(),
        p.get("LayerName").cloned().unwrap_or_else(|| json!(id)),
    );
    if let Some(d) = p.get("Description") {
        layer.insert("Description".into(), d.clone());
    }
    let content =
        code_location(&new_id, "ContentUri", &content_uri, ctx, "").map_err(|e| vec![e])?;
    layer.insert("Content".into(), content);
    for key in [
        "CompatibleArchitectures",
        "CompatibleRuntimes",
        "LicenseInfo",
    ] {
        if let Some(v) = p.get(key) {
            layer.insert(key.into(), v.clone());
        }
    }
    let mut res = r.clone();
    res.type_ = "AWS::Lambda::LayerVersion".into();
    res.properties = Value::Object(layer);
    res.deletion_policy = retention
        .or(r.deletion_policy)
        .or(Some(RetentionPolicy::Retain));
    Ok(Translation {
        resources: vec![(new_id.clone(), res)],
        renames: vec![(id.to_owned(), new_id)],
    })
}

// ------------------------------------------------------------------------------------------
// References to generated ids

fn rewrite_template(t: &mut Template, renames: &HashMap<String, String>) {
    if renames.is_empty() {
        return;
    }
    for r in t.resources.values_mut() {
        r.properties = rewrite(&r.properties, renames);
        if let Some(m) = &r.metadata {
            r.metadata = Some(rewrite(m, renames));
        }
        for d in &mut r.depends_on {
            if let Some(new) = renames.get(d.as_str()) {
                *d = new.clone();
            }
        }
    }
    for o in t.outputs.values_mut() {
        o.value = rewrite(&o.value, renames);
        if let Some(e) = &o.export_name {
            o.export_name = Some(rewrite(e, renames));
        }
    }
}

/// Rewrites `Ref`, `Fn::GetAtt` and `Fn::Sub` references to renamed ids
/// (`MyFunction.Alias` → `MyFunctionAliaslive`, `MyLayer` → `MyLayer1a2b3c4d5e`).
fn rewrite(v: &Value, renames: &HashMap<String, String>) -> Value {
    match v {
        Value::Object(m) => {
            if let Some((name, arg)) = intrinsic_call(m, false) {
                match (name, arg) {
                    ("Ref", Value::String(target)) => {
                        if let Some(new) = renames.get(target) {
                            return json!({ "Ref": new });
                        }
                    }
                    ("Fn::GetAtt", Value::Array(a)) => {
                        if let Some(Value::String(target)) = a.first() {
                            if let Some(new) = renames.get(target) {
                                let mut a = a.clone();
                                a[0] = json!(new);
                                return json!({ "Fn::GetAtt": a });
                            }
                        }
                    }
                    ("Fn::Sub", Value::String(s)) => {
                        return json!({ "Fn::Sub": rewrite_sub(s, renames) });
                    }
                    ("Fn::Sub", Value::Array(a)) if a.len() == 2 => {
                        if let Value::String(s) = &a[0] {
                            return json!({ "Fn::Sub": [rewrite_sub(s, renames), rewrite(&a[1], renames)] });
                        }
                    }
                    _ => {}
                }
            }
            Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), rewrite(v, renames)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| rewrite(v, renames)).collect()),
        other => other.clone(),
    }
}

fn rewrite_sub(s: &str, renames: &HashMap<String, String>) -> String {
    let Ok(parts) = parse_sub(s) else {
        return s.to_owned();
    };
    let mut out = String::new();
    for part in parts {
        match part {
            SubPart::Literal(l) => out.push_str(&l.replace("${", "${!")),
            SubPart::Var(name) => {
                let renamed = renames.get(&name).cloned().or_else(|| {
                    name.split_once('.')
                        .and_then(|(id, attr)| renames.get(id).map(|new| format!("{new}.{attr}")))
                });
                out.push_str(&format!("${{{}}}", renamed.unwrap_or(name)));
            }
        }
    }
    out
}

/// Whether a generated logical id is acceptable to CloudFormation.
pub(crate) fn valid_logical_id(id: &str) -> bool {
    is_alphanumeric(id)
}

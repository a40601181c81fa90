//! The template document: its sections, read from JSON or YAML and checked for the
//! structure CloudFormation requires (what `ValidateTemplate` answers before it looks at
//! any parameter value).
//!
//! Sections keep the order they were written in ([`IndexMap`]); values inside them are
//! serde_json `Value`s with intrinsic functions in their long form (`{"Fn::Sub": ...}`),
//! whichever syntax the author used.

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::error::{Result, TemplateError};
use crate::node::{parse_text, Node};

/// The transform that turns a SAM template into plain CloudFormation.
pub const SAM_TRANSFORM: &str = "AWS::Serverless-2016-10-31";

/// The only template format version CloudFormation has.
pub const FORMAT_VERSION: &str = "2010-09-09";

const TOP_LEVEL: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
    "Hooks",
    "Globals",
];

const RESOURCE_ATTRIBUTES: &[&str] = &[
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "Metadata",
    "CreationPolicy",
    "UpdatePolicy",
    "Version",
];

const PARAMETER_ATTRIBUTES: &[&str] = &[
    "Type",
    "Default",
    "AllowedValues",
    "AllowedPattern",
    "MinLength",
    "MaxLength",
    "MinValue",
    "MaxValue",
    "NoEcho",
    "Description",
    "ConstraintDescription",
];

const OUTPUT_ATTRIBUTES: &[&str] = &["Value", "Description", "Export", "Condition"];

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    /// `AWSTemplateFormatVersion`, when given (always `2010-09-09`).
    pub format_version: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// The top-level `Metadata` section.
    pub metadata: Option<Value>,
    /// The transforms (macros) to run, in order; `AWS::Serverless-2016-10-31` for SAM.
    pub transform: Vec<String>,
    /// `Parameters`, by name.
    pub parameters: IndexMap<String, ParameterDecl>,
    /// `Rules`, kept as written (not evaluated).
    pub rules: Option<Value>,
    /// `Mappings`: map name → top-level key → second-level key → value.
    pub mappings: IndexMap<String, Value>,
    /// `Conditions`: name → condition expression.
    pub conditions: IndexMap<String, Value>,
    /// `Resources`, by logical id, in template order.
    pub resources: IndexMap<String, Resource>,
    /// `Outputs`, by logical id.
    pub outputs: IndexMap<String, Output>,
    /// SAM's `Globals` section (only with the SAM transform).
    pub globals: Option<Value>,
    /// `Hooks`, kept as written.
    pub hooks: Option<Value>,
}

/// One entry of `Resources`.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `Type`, e.g. `AWS::DynamoDB::Table`.
    pub type_: String,
    /// `Properties` (an object; empty when the template gave none).
    pub properties: Value,
    /// `DependsOn`, explicit dependencies.
    pub depends_on: Vec<String>,
    /// `Condition`: the resource exists only when this condition holds.
    pub condition: Option<String>,
    /// `DeletionPolicy`.
    pub deletion_policy: Option<RetentionPolicy>,
    /// `UpdateReplacePolicy`.
    pub update_replace_policy: Option<RetentionPolicy>,
    /// The resource's `Metadata`.
    pub metadata: Option<Value>,
    /// `CreationPolicy`, kept as written.
    pub creation_policy: Option<Value>,
    /// `UpdatePolicy`, kept as written.
    pub update_policy: Option<Value>,
}

impl Resource {
    /// A resource of `type_` with these properties and no attributes.
    pub fn new(type_: impl Into<String>, properties: Value) -> Self {
        Self {
            type_: type_.into(),
            properties,
            depends_on: Vec::new(),
            condition: None,
            deletion_policy: None,
            update_replace_policy: None,
            metadata: None,
            creation_policy: None,
            update_policy: None,
        }
    }

    /// One property, if present.
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.properties.get(name)
    }

    /// What happens to the physical resource when it leaves the stack (default `Delete`).
    pub fn effective_deletion_policy(&self) -> RetentionPolicy {
        self.deletion_policy.unwrap_or(RetentionPolicy::Delete)
    }

    /// What happens to the old physical resource when an update replaces it (default
    /// `Delete`).
    pub fn effective_update_replace_policy(&self) -> RetentionPolicy {
        self.update_replace_policy
            .unwrap_or(RetentionPolicy::Delete)
    }

    /// The resource as it stands in a template.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("Type".into(), Value::String(self.type_.clone()));
        if self.properties.as_object().is_some_and(|p| !p.is_empty()) {
            m.insert("Properties".into(), self.properties.clone());
        }
        match self.depends_on.as_slice() {
            [] => {}
            [one] => {
                m.insert("DependsOn".into(), Value::String(one.clone()));
            }
            many => {
                m.insert("DependsOn".into(), json!(many));
            }
        }
        if let Some(c) = &self.condition {
            m.insert("Condition".into(), Value::String(c.clone()));
        }
        if let Some(p) = self.deletion_policy {
            m.insert("DeletionPolicy".into(), Value::String(p.as_str().into()));
        }
        if let Some(p) = self.update_replace_policy {
            m.insert(
                "UpdateReplacePolicy".into(),
                Value::String(p.as_str().into()),
            );
        }
        for (key, v) in [
            ("Metadata", &self.metadata),
            ("CreationPolicy", &self.creation_policy),
            ("UpdatePolicy", &self.update_policy),
        ] {
            if let Some(v) = v {
                m.insert(key.into(), v.clone());
            }
        }
        Value::Object(m)
    }
}

/// `DeletionPolicy` / `UpdateReplacePolicy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetentionPolicy {
    /// Delete the physical resource (the default).
    Delete,
    /// Keep the physical resource; the stack forgets it.
    Retain,
    /// Retain, except when the operation that created the resource is rolled back: then
    /// delete it.
    RetainExceptOnCreate,
    /// Snapshot, then delete (for types that support snapshots).
    Snapshot,
}

impl RetentionPolicy {
    /// Parses the attribute's text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Delete" => Self::Delete,
            "Retain" => Self::Retain,
            "RetainExceptOnCreate" => Self::RetainExceptOnCreate,
            "Snapshot" => Self::Snapshot,
            _ => return None,
        })
    }

    /// The attribute's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "Delete",
            Self::Retain => "Retain",
            Self::RetainExceptOnCreate => "RetainExceptOnCreate",
            Self::Snapshot => "Snapshot",
        }
    }
}

/// One entry of `Parameters`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterDecl {
    /// `Type` as written (`String`, `List<Number>`, `AWS::SSM::Parameter::Value<String>` ...).
    pub type_: String,
    /// What the type means.
    pub kind: ParameterKind,
    /// `Default`, as text (CloudFormation parameter values are strings).
    pub default: Option<String>,
    /// `AllowedValues`.
    pub allowed_values: Option<Vec<String>>,
    /// `AllowedPattern`, a Java regular expression the whole value must match.
    pub allowed_pattern: Option<String>,
    /// `MinLength`.
    pub min_length: Option<u64>,
    /// `MaxLength`.
    pub max_length: Option<u64>,
    /// `MinValue`.
    pub min_value: Option<f64>,
    /// `MaxValue`.
    pub max_value: Option<f64>,
    /// `NoEcho`: the value is masked (`****`) wherever CloudFormation shows it.
    pub no_echo: bool,
    /// `Description`.
    pub description: Option<String>,
    /// `ConstraintDescription`: the text shown when a constraint fails.
    pub constraint_description: Option<String>,
}

/// The meaning of a parameter's `Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterKind {
    /// `String`.
    String,
    /// `Number`: validated as a number; `Ref` still gives the string.
    Number,
    /// `List<Number>`.
    NumberList,
    /// `CommaDelimitedList`.
    CommaDelimitedList,
    /// An AWS-specific type such as `AWS::EC2::KeyPair::KeyName` (a string; existence is not
    /// checked here).
    AwsSpecific(String),
    /// `List<AWS::EC2::Subnet::Id>` and the like.
    AwsSpecificList(String),
    /// `AWS::SSM::Parameter::Name`: the name of a parameter (the value is the name itself).
    SsmName,
    /// `AWS::SSM::Parameter::Value<T>`: the value is a parameter name, resolved through the
    /// parameter store; the inner type says how to read what the store holds.
    SsmValue(Box<ParameterKind>),
}

impl ParameterKind {
    /// Reads a `Type` text.
    pub fn parse(type_: &str) -> Option<Self> {
        Some(match type_ {
            "String" => Self::String,
            "Number" => Self::Number,
            "List<Number>" => Self::NumberList,
            "CommaDelimitedList" => Self::CommaDelimitedList,
            "AWS::SSM::Parameter::Name" => Self::SsmName,
            t => {
                if let Some(inner) = t
                    .strip_prefix("AWS::SSM::Parameter::Value<")
                    .and_then(|r| r.strip_suffix('>'))
                {
                    let inner = match inner {
                        "List<String>" => Self::CommaDelimitedList,
                        other => Self::parse(other)?,
                    };
                    if matches!(inner, Self::SsmValue(_) | Self::SsmName) {
                        return None;
                    }
                    return Some(Self::SsmValue(Box::new(inner)));
                }
                if let Some(inner) = t.strip_prefix("List<").and_then(|r| r.strip_suffix('>')) {
                    if is_aws_specific(inner) {
                        return Some(Self::AwsSpecificList(inner.to_owned()));
                    }
                    return None;
                }
                if is_aws_specific(t) {
                    return Some(Self::AwsSpecific(t.to_owned()));
                }
                return None;
            }
        })
    }

    /// Whether `Ref` of such a parameter gives a list.
    pub fn is_list(&self) -> bool {
        match self {
            Self::NumberList | Self::CommaDelimitedList | Self::AwsSpecificList(_) => true,
            Self::SsmValue(inner) => inner.is_list(),
            _ => false,
        }
    }
}

/// The AWS-specific parameter types CloudFormation accepts (`AWS::EC2::...::Id` and the
/// like). Their values are plain strings here: nothing checks that the thing exists.
fn is_aws_specific(t: &str) -> bool {
    const TYPES: &[&str] = &[
        "AWS::EC2::AvailabilityZone::Name",
        "AWS::EC2::Image::Id",
        "AWS::EC2::Instance::Id",
        "AWS::EC2::KeyPair::KeyName",
        "AWS::EC2::SecurityGroup::GroupName",
        "AWS::EC2::SecurityGroup::Id",
        "AWS::EC2::Subnet::Id",
        "AWS::EC2::Volume::Id",
        "AWS::EC2::VPC::Id",
        "AWS::Route53::HostedZone::Id",
    ];
    TYPES.contains(&t)
}

/// One entry of `Outputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// `Value`.
    pub value: Value,
    /// `Description`.
    pub description: Option<Value>,
    /// `Export.Name`.
    pub export_name: Option<Value>,
    /// `Condition`.
    pub condition: Option<String>,
}

/// Whether a logical id or parameter name is alphanumeric, as CloudFormation requires.
pub(crate) fn is_alphanumeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn as_map(node: Node) -> Option<Vec<(String, Node)>> {
    match node {
        Node::Map(m) => Some(m),
        _ => None,
    }
}

/// A scalar as CloudFormation's text (numbers and booleans as written).
fn scalar_text(node: &Node) -> Option<String> {
    match node {
        Node::String(s) => Some(s.clone()),
        Node::Number(n) => Some(n.to_string()),
        Node::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(node: &Node) -> Option<f64> {
    match node {
        Node::Number(n) => n.as_f64(),
        Node::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Template {
    /// Parses a template body (JSON or YAML, detected as CloudFormation does) and checks its
    /// structure. References between sections are checked by [`crate::validate`], after any
    /// transform has run.
    pub fn parse(text: &str) -> Result<Self> {
        let root = parse_text(text)?;
        Self::from_node(root)
    }

    /// Builds a template from a JSON value (for example a transform's output).
    pub fn from_value(value: &Value) -> Result<Self> {
        Self::from_node(node_from_value(value))
    }

    fn from_node(root: Node) -> Result<Self> {
        let Some(top) = as_map(root) else {
            return Err(TemplateError::format("unsupported structure."));
        };
        let unknown: Vec<String> = top
            .iter()
            .filter(|(k, _)| !TOP_LEVEL.contains(&k.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        if !unknown.is_empty() {
            return Err(TemplateError::format(format!(
                "Invalid template property or properties [{}]",
                unknown.join(", ")
            )));
        }
        let mut t = Template::default();
        let mut resources_seen = false;
        for (key, node) in top {
            match key.as_str() {
                "AWSTemplateFormatVersion" => {
                    let v = scalar_text(&node).unwrap_or_default();
                    if v != FORMAT_VERSION {
                        return Err(TemplateError::format(format!(
                            "Unsupported template version {v}; the only valid AWSTemplateFormatVersion is {FORMAT_VERSION}"
                        )));
                    }
                    t.format_version = Some(v);
                }
                "Description" => match node {
                    Node::String(s) => t.description = Some(s),
                    _ => {
                        return Err(TemplateError::format(
                            "Every Description member must be a string.",
                        ))
                    }
                },
                "Metadata" => t.metadata = Some(node.into_value()),
                "Rules" => t.rules = Some(node.into_value()),
                "Hooks" => t.hooks = Some(node.into_value()),
                "Globals" => t.globals = Some(node.into_value()),
                "Transform" => t.transform = parse_transform(node)?,
                "Parameters" => t.parameters = parse_parameters(node)?,
                "Mappings" => t.mappings = parse_mappings(node)?,
                "Conditions" => {
                    let Some(entries) = as_map(node) else {
                        return Err(TemplateError::format(
                            "Every Conditions member must be an object.",
                        ));
                    };
                    for (name, cond) in entries {
                        t.conditions.insert(name, cond.into_value());
                    }
                }
                "Resources" => {
                    resources_seen = true;
                    t.resources = parse_resources(node)?;
                }
                "Outputs" => t.outputs = parse_outputs(node)?,
                _ => {}
            }
        }
        if !resources_seen || t.resources.is_empty() {
            return Err(TemplateError::format(
                "At least one Resources member must be defined.",
            ));
        }
        if t.globals.is_some() && !t.has_sam_transform() {
            return Err(TemplateError::format(
                "Invalid template property or properties [Globals]",
            ));
        }
        Ok(t)
    }

    /// Whether the template asks for the SAM transform.
    pub fn has_sam_transform(&self) -> bool {
        self.transform.iter().any(|t| t == SAM_TRANSFORM)
    }

    /// The template as a JSON document (the "processed" template after a transform).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(v) = &self.format_version {
            m.insert("AWSTemplateFormatVersion".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.description {
            m.insert("Description".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.metadata {
            m.insert("Metadata".into(), v.clone());
        }
        match self.transform.as_slice() {
            [] => {}
            [one] => {
                m.insert("Transform".into(), Value::String(one.clone()));
            }
            many => {
                m.insert("Transform".into(), json!(many));
            }
        }
        if !self.parameters.is_empty() {
            let mut p = Map::new();
            for (name, decl) in &self.parameters {
                p.insert(name.clone(), decl.to_json());
            }
            m.insert("Parameters".into(), Value::Object(p));
        }
        if let Some(v) = &self.rules {
            m.insert("Rules".into(), v.clone());
        }
        if !self.mappings.is_empty() {
            let maps: Map<String, Value> = self
                .mappings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            m.insert("Mappings".into(), Value::Object(maps));
        }
        if !self.conditions.is_empty() {
            let conds: Map<String, Value> = self
                .conditions
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            m.insert("Conditions".into(), Value::Object(conds));
        }
        if let Some(v) = &self.globals {
            m.insert("Globals".into(), v.clone());
        }
        if let Some(v) = &self.hooks {
            m.insert("Hooks".into(), v.clone());
        }
        let resources: Map<String, Value> = self
            .resources
            .iter()
            .map(|(k, r)| (k.clone(), r.to_json()))
            .collect();
        m.insert("Resources".into(), Value::Object(resources));
        if !self.outputs.is_empty() {
            let mut o = Map::new();
            for (name, out) in &self.outputs {
                let mut e = Map::new();
                e.insert("Value".into(), out.value.clone());
                if let Some(d) = &out.description {
                    e.insert("Description".into(), d.clone());
                }
                if let Some(n) = &out.export_name {
                    e.insert("Export".into(), json!({ "Name": n }));
                }
                if let Some(c) = &out.condition {
                    e.insert("Condition".into(), Value::String(c.clone()));
                }
                o.insert(name.clone(), Value::Object(e));
            }
            m.insert("Outputs".into(), Value::Object(o));
        }
        Value::Object(m)
    }
}

impl ParameterDecl {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("Type".into(), Value::String(self.type_.clone()));
        if let Some(d) = &self.default {
            m.insert("Default".into(), Value::String(d.clone()));
        }
        if let Some(a) = &self.allowed_values {
            m.insert("AllowedValues".into(), json!(a));
        }
        if let Some(p) = &self.allowed_pattern {
            m.insert("AllowedPattern".into(), Value::String(p.clone()));
        }
        if let Some(v) = self.min_length {
            m.insert("MinLength".into(), json!(v));
        }
        if let Some(v) = self.max_length {
            m.insert("MaxLength".into(), json!(v));
        }
        if let Some(v) = self.min_value {
            m.insert("MinValue".into(), json!(v));
        }
        if let Some(v) = self.max_value {
            m.insert("MaxValue".into(), json!(v));
        }
        if self.no_echo {
            m.insert("NoEcho".into(), Value::Bool(true));
        }
        if let Some(d) = &self.description {
            m.insert("Description".into(), Value::String(d.clone()));
        }
        if let Some(d) = &self.constraint_description {
            m.insert("ConstraintDescription".into(), Value::String(d.clone()));
        }
        Value::Object(m)
    }
}

/// Converts a JSON value to the ordered tree (keys in serde_json's order).
fn node_from_value(v: &Value) -> Node {
    match v {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => Node::Number(n.clone()),
        Value::String(s) => Node::String(s.clone()),
        Value::Array(a) => Node::Seq(a.iter().map(node_from_value).collect()),
        Value::Object(o) => Node::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), node_from_value(v)))
                .collect(),
        ),
    }
}

fn parse_transform(node: Node) -> Result<Vec<String>> {
    let items = match node {
        Node::String(s) => vec![Node::String(s)],
        Node::Seq(items) => items,
        Node::Map(_) => vec![node],
        _ => {
            return Err(TemplateError::format(
                "The value of the Transform section must be a string or a list of strings.",
            ))
        }
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Node::String(s) => out.push(s),
            Node::Map(entries) => {
                // `{Name: AWS::Include, Parameters: ...}`: macros with parameters.
                let name = entries
                    .iter()
                    .find(|(k, _)| k == "Name")
                    .and_then(|(_, v)| scalar_text(v))
                    .unwrap_or_default();
                return Err(TemplateError::format(format!(
                    "Transform {name} with parameters is not supported by this server; only {SAM_TRANSFORM} is"
                )));
            }
            _ => {
                return Err(TemplateError::format(
                    "The value of the Transform section must be a string or a list of strings.",
                ))
            }
        }
    }
    Ok(out)
}

fn parse_parameters(node: Node) -> Result<IndexMap<String, ParameterDecl>> {
    let Some(entries) = as_map(node) else {
        return Err(TemplateError::format(
            "Every Parameters member must be an object.",
        ));
    };
    let mut out = IndexMap::new();
    for (name, decl) in entries {
        if !is_alphanumeric(&name) {
            return Err(TemplateError::format(format!(
                "Parameter name {name} is non alphanumeric."
            )));
        }
        let Some(attrs) = as_map(decl) else {
            return Err(TemplateError::format(format!(
                "Every Parameters object must contain a Type member. Parameter {name} has none."
            )));
        };
        if let Some((bad, _)) = attrs
            .iter()
            .find(|(k, _)| !PARAMETER_ATTRIBUTES.contains(&k.as_str()))
        {
            return Err(TemplateError::format(format!(
                "Invalid template parameter property '{bad}'"
            )));
        }
        let get = |key: &str| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let Some(type_) = get("Type").and_then(scalar_text) else {
            return Err(TemplateError::format(
                "Every Parameters object must contain a Type member.",
            ));
        };
        let Some(kind) = ParameterKind::parse(&type_) else {
            return Err(TemplateError::format(format!(
                "Unrecognized parameter type: {type_}"
            )));
        };
        let default = match get("Default") {
            None => None,
            Some(Node::Seq(items)) => Some(
                items
                    .iter()
                    .filter_map(scalar_text)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Some(n) => match scalar_text(n) {
                Some(s) => Some(s),
                None => {
                    return Err(TemplateError::format(format!(
                        "Default member of parameter {name} must be a string"
                    )))
                }
            },
        };
        let allowed_values = match get("AllowedValues") {
            None => None,
            Some(Node::Seq(items)) => {
                let mut vals = Vec::new();
                for i in items {
                    match scalar_text(i) {
                        Some(s) => vals.push(s),
                        None => {
                            return Err(TemplateError::format(format!(
                                "Every AllowedValues member of parameter {name} must be a string"
                            )))
                        }
                    }
                }
                Some(vals)
            }
            Some(_) => {
                return Err(TemplateError::format(format!(
                    "AllowedValues of parameter {name} must be a list"
                )))
            }
        };
        let length = |key: &str| -> Result<Option<u64>> {
            match get(key) {
                None => Ok(None),
                Some(n) => match number(n) {
                    Some(f) if f >= 0.0 && f.fract() == 0.0 => Ok(Some(f as u64)),
                    _ => Err(TemplateError::format(format!(
                        "{key} of parameter {name} must be a non-negative integer"
                    ))),
                },
            }
        };
        let bound = |key: &str| -> Result<Option<f64>> {
            match get(key) {
                None => Ok(None),
                Some(n) => match number(n) {
                    Some(f) => Ok(Some(f)),
                    None => Err(TemplateError::format(format!(
                        "{key} of parameter {name} must be a number"
                    ))),
                },
            }
        };
        let no_echo = match get("NoEcho") {
            None => false,
            Some(Node::Bool(b)) => *b,
            Some(Node::String(s)) => s.eq_ignore_ascii_case("true"),
            Some(_) => false,
        };
        let decl = ParameterDecl {
            type_,
            kind,
            default,
            allowed_values,
            allowed_pattern: get("AllowedPattern").and_then(scalar_text),
            min_length: length("MinLength")?,
            max_length: length("MaxLength")?,
            min_value: bound("MinValue")?,
            max_value: bound("MaxValue")?,
            no_echo,
            description: get("Description").and_then(scalar_text),
            constraint_description: get("ConstraintDescription").and_then(scalar_text),
        };
        out.insert(name, decl);
    }
    Ok(out)
}

fn parse_mappings(node: Node) -> Result<IndexMap<String, Value>> {
    let Some(maps) = as_map(node) else {
        return Err(TemplateError::format(
            "Every Mappings member must be an object.",
        ));
    };
    let mut out = IndexMap::new();
    for (name, map) in maps {
        let Some(top) = as_map(map) else {
            return Err(TemplateError::format(format!(
                "Every Mappings member {name} must be a map"
            )));
        };
        for (_, second) in &top {
            let Node::Map(leaves) = second else {
                return Err(TemplateError::format(format!(
                    "Every Mappings member {name} must be a map"
                )));
            };
            for (_, leaf) in leaves {
                let ok = match leaf {
                    Node::String(_) | Node::Number(_) | Node::Bool(_) => true,
                    Node::Seq(items) => items.iter().all(|i| scalar_text(i).is_some()),
                    _ => false,
                };
                if !ok {
                    return Err(TemplateError::format(
                        "Every Mappings attribute must be a String or a List.",
                    ));
                }
            }
        }
        out.insert(name, Node::Map(top).into_value());
    }
    Ok(out)
}

fn parse_resources(node: Node) -> Result<IndexMap<String, Resource>> {
    let Some(entries) = as_map(node) else {
        return Err(TemplateError::format(
            "At least one Resources member must be defined.",
        ));
    };
    let mut out = IndexMap::new();
    for (id, node) in entries {
        if !is_alphanumeric(&id) {
            return Err(TemplateError::format(format!(
                "Resource name {id} is non alphanumeric."
            )));
        }
        let Some(attrs) = as_map(node) else {
            return Err(TemplateError::format(format!(
                "[/Resources/{id}] Every Resources object must contain a Type member."
            )));
        };
        out.insert(id.clone(), parse_resource(&id, attrs)?);
    }
    Ok(out)
}

fn parse_resource(id: &str, attrs: Vec<(String, Node)>) -> Result<Resource> {
    if let Some((bad, _)) = attrs
        .iter()
        .find(|(k, _)| !RESOURCE_ATTRIBUTES.contains(&k.as_str()))
    {
        return Err(TemplateError::format(format!(
            "Invalid template resource property '{bad}'"
        )));
    }
    let mut type_ = None;
    let mut r = Resource::new("", Value::Object(Map::new()));
    for (key, node) in attrs {
        match key.as_str() {
            "Type" => match node {
                Node::String(s) if !s.is_empty() => type_ = Some(s),
                _ => {
                    return Err(TemplateError::format(format!(
                        "[/Resources/{id}/Type] Every Resources object must contain a Type member."
                    )))
                }
            },
            "Properties" => match node {
                Node::Map(_) => r.properties = node.into_value(),
                Node::Null => {}
                _ => {
                    return Err(TemplateError::format(format!(
                        "[/Resources/{id}/Properties] Every Properties member must be an object."
                    )))
                }
            },
            "DependsOn" => {
                r.depends_on = match node {
                    Node::String(s) => vec![s],
                    Node::Seq(items) => {
                        let mut deps = Vec::new();
                        for i in items {
                            match i {
                                Node::String(s) => deps.push(s),
                                _ => return Err(depends_on_error(id)),
                            }
                        }
                        deps
                    }
                    _ => return Err(depends_on_error(id)),
                }
            }
            "Condition" => match node {
                Node::String(s) => r.condition = Some(s),
                _ => {
                    return Err(TemplateError::format(format!(
                        "[/Resources/{id}/Condition] Condition must be a string naming a condition."
                    )))
                }
            },
            "DeletionPolicy" | "UpdateReplacePolicy" => {
                let text = scalar_text(&node).unwrap_or_default();
                let Some(policy) = RetentionPolicy::parse(&text) else {
                    return Err(TemplateError::format(format!(
                        "Unrecognized {key} {text} for resource {id}"
                    )));
                };
                if key == "DeletionPolicy" {
                    r.deletion_policy = Some(policy);
                } else {
                    r.update_replace_policy = Some(policy);
                }
            }
            "Metadata" => r.metadata = Some(node.into_value()),
            "CreationPolicy" => r.creation_policy = Some(node.into_value()),
            "UpdatePolicy" => r.update_policy = Some(node.into_value()),
            _ => {}
        }
    }
    let Some(type_) = type_ else {
        return Err(TemplateError::format(format!(
            "[/Resources/{id}] Every Resources object must contain a Type member."
        )));
    };
    r.type_ = type_;
    Ok(r)
}

fn depends_on_error(id: &str) -> TemplateError {
    TemplateError::format(format!(
        "[/Resources/{id}/DependsOn] DependsOn must be a string or a list of strings."
    ))
}

fn parse_outputs(node: Node) -> Result<IndexMap<String, Output>> {
    let Some(entries) = as_map(node) else {
        return Err(TemplateError::format(
            "Every Outputs member must be an object.",
        ));
    };
    let mut out = IndexMap::new();
    for (name, node) in entries {
        if !is_alphanumeric(&name) {
            return Err(TemplateError::format(format!(
                "Output name {name} is non alphanumeric."
            )));
        }
        let Some(attrs) = as_map(node) else {
            return Err(TemplateError::format(
                "Every Outputs member must contain a Value object",
            ));
        };
        if let Some((bad, _)) = attrs
            .iter()
            .find(|(k, _)| !OUTPUT_ATTRIBUTES.contains(&k.as_str()))
        {
            return Err(TemplateError::format(format!(
                "Invalid template output property '{bad}'"
            )));
        }
        let mut value = None;
        let mut o = Output {
            value: Value::Null,
            description: None,
            export_name: None,
            condition: None,
        };
        for (key, node) in attrs {
            match key.as_str() {
                "Value" => value = Some(node.into_value()),
                "Description" => o.description = Some(node.into_value()),
                "Condition" => o.condition = scalar_text(&node),
                "Export" => {
                    let name_node = as_map(node)
                        .and_then(|m| m.into_iter().find(|(k, _)| k == "Name").map(|(_, v)| v));
                    match name_node {
                        Some(n) => o.export_name = Some(n.into_value()),
                        None => {
                            return Err(TemplateError::format(format!(
                                "Output {name} is malformed. The Export member must contain a Name member."
                            )))
                        }
                    }
                }
                _ => {}
            }
        }
        match value {
            Some(Value::Null) | None => {
                return Err(TemplateError::format(
                    "Every Outputs member must contain a Value object",
                ))
            }
            Some(v) => o.value = v,
        }
        out.insert(name, o);
    }
    Ok(out)
}

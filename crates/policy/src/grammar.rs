//! The policy grammar: checks a JSON document the way IAM does before it stores one, and turns
//! it into the typed statements the evaluator reads.
//!
//! The checks run in the order IAM appears to run them (a document with several faults reports
//! the first): JSON and element types ("Syntax errors in policy."), principals against the
//! document kind, "legacy parsing" (exact `Effect` case, date values), duplicate `Sid`s, missing
//! actions, missing resources, resource formats, action vendors, principal values. The order
//! and most texts follow IAM's answers as recorded by moto's `moto/iam/policy_validation.py`,
//! an emulator tested against IAM; each message below names where its text was found.

use serde_json::{Map, Value};

use crate::condition::{Condition, Operator};
use crate::PolicyError;
use crate::PolicyKind;

/// The texts of IAM's `MalformedPolicyDocument` errors (and, for resource policies, of the
/// services' own `MalformedPolicy` errors) that [`crate::Policy::parse`] returns.
pub mod messages {
    /// Invalid JSON, an unknown element, an element of the wrong type, an unknown `Version`,
    /// both `Action` and `NotAction`, an unknown condition operator.
    /// Source: IAM's answer quoted in aws-cloudformation/cfn-lint#2021 and boto/boto3#180;
    /// moto `policy_validation.py` (`_validate_syntax`).
    pub const SYNTAX: &str = "Syntax errors in policy.";
    /// A trust (assume-role) policy that is not JSON. Source: IAM's CreateRole answer quoted in
    /// AWSCookbook/Security#2 and aws-samples/aws-microservices-deploy-options#118.
    pub const INVALID_JSON: &str = "This policy contains invalid Json";
    /// An identity policy with `Principal` or `NotPrincipal`. Source: IAM's answer quoted in
    /// hashicorp/terraform-provider-aws#10419 and hashicorp/terraform#13449. (IAM's console
    /// says "Has prohibited field Principal" for the same fault; repost.aws knowledge-center
    /// "iam-principal-policy".)
    pub const PRINCIPAL_IN_IDENTITY: &str = "Policy document should not specify a principal.";
    /// A resource policy statement without `Principal`/`NotPrincipal`. Source: S3's
    /// `MalformedPolicy` text, quoted in humanmade/S3-Uploads#191 and jschneier/django-storages#876.
    pub const MISSING_PRINCIPAL: &str = "Missing required field Principal";
    /// A trust policy statement without `Principal`/`NotPrincipal`. Source: IAM's CreateRole
    /// answer quoted in terraform-aws-modules/terraform-aws-iam#47.
    pub const TRUST_WITHOUT_PRINCIPAL: &str = "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!";
    /// `Effect` not spelled exactly `Allow`/`Deny`, or a date condition value that is not a
    /// date. Source: IAM's answer quoted in aws-samples/torchserve-eks#3; which faults produce
    /// it: moto `policy_validation.py` (`_perform_first_legacy_parsing`).
    pub const LEGACY_PARSING: &str = "The policy failed legacy parsing";
    /// Two statements with the same `Sid`. Source: moto `policy_validation.py`
    /// (`_validate_sid_uniqueness`); not found in an AWS page or issue.
    pub const DUPLICATE_SID: &str = "Statement IDs (SID) in a single policy must be unique.";
    /// No `Action`/`NotAction`, or an empty list. Source: IAM's answer quoted in aws/aws-cdk#7615.
    pub const MISSING_ACTIONS: &str = "Policy statement must contain actions.";
    /// No `Resource`/`NotResource` (identity and resource policies), or an empty list. Source:
    /// IAM's answer quoted in trussworks/terraform-aws-s3-anti-virus#22 and #28.
    pub const MISSING_RESOURCES: &str = "Policy statement must contain resources.";
    /// A trust policy with `Resource`. Source: IAM's CreateRole answer quoted in
    /// kubernetes-sigs/external-dns#3085 and hashicorp/terraform#34231.
    pub const TRUST_RESOURCE: &str = "Has prohibited field Resource";
    /// A trust policy with `NotResource`. Not found in AWS's texts: the `Resource` message
    /// with the element's name, by analogy.
    pub const TRUST_NOT_RESOURCE: &str = "Has prohibited field NotResource";
    /// An action (or condition key) without a `vendor:` prefix. Source: moto
    /// `policy_validation.py` (`_validate_action_prefix`), which records IAM's text.
    pub const NO_VENDOR: &str =
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
    /// An action with more than one colon. Source: IAM's answer quoted in garnaat/kappa#111.
    pub const TWO_COLONS: &str = "Actions/Condition can contain only one colon.";
    /// IAM's answer to CreatePolicy with a document that has no `Version` or `2008-10-17`.
    /// [`crate::Policy::parse`] accepts such documents (inline policies and resource policies
    /// do); a caller that stores managed policies checks [`crate::Policy::version`] and answers
    /// this. Source: Meteor-Community-Packages/Meteor-CollectionFS#630; moto `_validate_version`.
    pub const VERSION_TOO_OLD: &str = "Policy document must be version 2012-10-17 or greater.";

    /// `Vendor <vendor> is not valid`: a vendor prefix with characters other than letters,
    /// digits, `-` and `.`. Source: moto `policy_validation.py` (`_validate_action_prefix`).
    pub fn invalid_vendor(vendor: &str) -> String {
        format!("Vendor {vendor} is not valid")
    }

    /// A resource that is neither `*` nor colon-separated. Source: moto `policy_validation.py`
    /// (`_validate_resource_format`), which records IAM's text.
    pub fn resource_not_arn(resource: &str) -> String {
        format!("Resource {resource} must be in ARN format or \"*\".")
    }

    /// A principal value IAM does not accept. Source: IAM's answers quoted in
    /// aws-actions/configure-aws-credentials#332 and databrickslabs/ucx#2269
    /// (`Invalid principal in policy: "AWS":"arn:aws:iam::…:role/…"`).
    pub fn invalid_principal(kind: &str, value: &str) -> String {
        format!("Invalid principal in policy: \"{kind}\":\"{value}\"")
    }
}

/// The two policy language versions (IAM user guide, "IAM JSON policy elements: Version").
pub(crate) const VERSION_2012: &str = "2012-10-17";
pub(crate) const VERSION_2008: &str = "2008-10-17";

/// What a statement does when it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// `Action` (the listed patterns) or `NotAction` (everything else); the same shape serves
/// `Resource`/`NotResource`.
#[derive(Debug, Clone)]
pub(crate) struct Patterns {
    pub negated: bool,
    pub values: Vec<String>,
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PrincipalSet {
    pub negated: bool,
    /// `"Principal": "*"`: everyone, signed or not.
    pub everyone: bool,
    pub aws: Vec<String>,
    pub service: Vec<String>,
    pub federated: Vec<String>,
    pub canonical_user: Vec<String>,
}

/// One checked statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Patterns,
    /// `None` for a trust policy, which names no resource (the role is the resource).
    pub resources: Option<Patterns>,
    /// `None` for an identity policy.
    pub principals: Option<PrincipalSet>,
    pub conditions: Vec<Condition>,
}

/// One checked document.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub version: Option<String>,
    pub statements: Vec<Statement>,
}

impl Document {
    /// Policy variables are substituted only in `2012-10-17` documents; a document without
    /// `Version` is a `2008-10-17` one (IAM user guide, "IAM JSON policy elements: Version").
    pub fn substitutes_variables(&self) -> bool {
        self.version.as_deref() == Some(VERSION_2012)
    }
}

const TOP_LEVEL: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn err(message: impl Into<String>) -> PolicyError {
    PolicyError(message.into())
}

fn syntax() -> PolicyError {
    err(messages::SYNTAX)
}

/// Parses and checks a document; the JSON value is returned too, for `Policy::document`.
pub(crate) fn parse(text: &str, kind: PolicyKind) -> Result<(Value, Document), PolicyError> {
    let value: Value = serde_json::from_str(text).map_err(|_| match kind {
        PolicyKind::Trust => err(messages::INVALID_JSON),
        PolicyKind::Identity | PolicyKind::Resource => syntax(),
    })?;
    let document = check(&value, kind)?;
    Ok((value, document))
}

/// The raw statements after the syntax pass: each one an object whose elements all have the
/// right JSON types.
struct RawStatement<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> RawStatement<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name)
    }

    fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
}

fn check(value: &Value, kind: PolicyKind) -> Result<Document, PolicyError> {
    // 1. Syntax: shapes and types of every element.
    let top = value.as_object().ok_or_else(syntax)?;
    if top.keys().any(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(syntax());
    }
    let version = match top.get("Version") {
        None => None,
        Some(Value::String(v)) if v == VERSION_2012 || v == VERSION_2008 => Some(v.clone()),
        Some(_) => return Err(syntax()),
    };
    if let Some(id) = top.get("Id") {
        if !id.is_string() {
            return Err(syntax());
        }
    }
    let raw: Vec<RawStatement<'_>> = match top.get("Statement") {
        Some(Value::Object(map)) => vec![RawStatement { map }],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| item.as_object().map(|map| RawStatement { map }))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(syntax)?,
        _ => return Err(syntax()),
    };
    for statement in &raw {
        check_statement_syntax(statement)?;
    }

    // 2. Principals against the kind of document.
    if kind == PolicyKind::Identity
        && raw
            .iter()
            .any(|s| s.has("Principal") || s.has("NotPrincipal"))
    {
        return Err(err(messages::PRINCIPAL_IN_IDENTITY));
    }

    // 3. Legacy parsing: the exact spelling of Effect, and date values that parse.
    for statement in &raw {
        let exact = matches!(statement.get("Effect"), Some(Value::String(e)) if e == "Allow" || e == "Deny");
        if !exact {
            return Err(err(messages::LEGACY_PARSING));
        }
        if let Some(Value::Object(block)) = statement.get("Condition") {
            for (operator, entries) in block {
                let Some(op) = Operator::parse(operator) else {
                    continue;
                };
                if !op.is_date() {
                    continue;
                }
                for value in entries.as_object().into_iter().flat_map(|m| m.values()) {
                    for v in scalar_list(value).unwrap_or_default() {
                        if crate::condition::parse_date(&v).is_none() {
                            return Err(err(messages::LEGACY_PARSING));
                        }
                    }
                }
            }
        }
    }

    // 4. Statement IDs are unique within a document (an empty Sid is no ID).
    let mut seen = std::collections::HashSet::new();
    for statement in &raw {
        if let Some(Value::String(sid)) = statement.get("Sid") {
            if !sid.is_empty() && !seen.insert(sid.as_str()) {
                return Err(err(messages::DUPLICATE_SID));
            }
        }
    }

    // 5. Every statement has actions.
    for statement in &raw {
        let actions = statement
            .get("Action")
            .or_else(|| statement.get("NotAction"));
        if actions.is_none_or(is_empty_list) {
            return Err(err(messages::MISSING_ACTIONS));
        }
    }

    // 6. Resources: required, except in a trust policy, where they are prohibited.
    for statement in &raw {
        match kind {
            PolicyKind::Trust => {
                if statement.has("Resource") {
                    return Err(err(messages::TRUST_RESOURCE));
                }
                if statement.has("NotResource") {
                    return Err(err(messages::TRUST_NOT_RESOURCE));
                }
            }
            PolicyKind::Identity | PolicyKind::Resource => {
                let resources = statement
                    .get("Resource")
                    .or_else(|| statement.get("NotResource"));
                if resources.is_none_or(is_empty_list) {
                    return Err(err(messages::MISSING_RESOURCES));
                }
            }
        }
    }

    // 7. Resource formats: `*` or something with a colon (an ARN, possibly with variables).
    for statement in &raw {
        for name in ["Resource", "NotResource"] {
            for resource in strings(statement.get(name)) {
                if resource != "*" && !resource.contains(':') {
                    return Err(err(messages::resource_not_arn(&resource)));
                }
            }
        }
    }

    // 8. Action vendors, then condition keys (which IAM's message names too).
    for statement in &raw {
        for name in ["Action", "NotAction"] {
            for action in strings(statement.get(name)) {
                check_action(&action)?;
            }
        }
        if let Some(Value::Object(block)) = statement.get("Condition") {
            for entries in block.values() {
                for key in entries.as_object().into_iter().flat_map(|m| m.keys()) {
                    if !key.contains(':') {
                        return Err(err(messages::NO_VENDOR));
                    }
                }
            }
        }
    }

    // 9. Principals: required in resource and trust policies, and each value well formed.
    let mut statements = Vec::with_capacity(raw.len());
    for statement in &raw {
        let principals = match kind {
            PolicyKind::Identity => None,
            PolicyKind::Resource | PolicyKind::Trust => Some(principal_set(statement, kind)?),
        };
        statements.push(typed_statement(statement, kind, principals)?);
    }

    Ok(Document {
        version,
        statements,
    })
}

fn is_empty_list(value: &Value) -> bool {
    matches!(value, Value::Array(items) if items.is_empty())
}

/// A string or a list of strings, as `Action`, `Resource` and principal values are; anything
/// else is a syntax error.
fn string_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// The strings of an element already checked by the syntax pass.
fn strings(value: Option<&Value>) -> Vec<String> {
    value.and_then(string_list).unwrap_or_default()
}

/// A condition value: a string, number or boolean, or a list of them. IAM's own examples write
/// booleans and numbers bare (`"aws:SecureTransport": false`); they compare as their text.
pub(crate) fn scalar_list(value: &Value) -> Option<Vec<String>> {
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

fn check_statement_syntax(statement: &RawStatement<'_>) -> Result<(), PolicyError> {
    if statement
        .map
        .keys()
        .any(|k| !STATEMENT_ELEMENTS.contains(&k.as_str()))
    {
        return Err(syntax());
    }
    for (a, b) in [
        ("Action", "NotAction"),
        ("Resource", "NotResource"),
        ("Principal", "NotPrincipal"),
    ] {
        if statement.has(a) && statement.has(b) {
            return Err(syntax());
        }
    }
    // Effect must exist and name Allow or Deny in some case; the exact case is a legacy check.
    match statement.get("Effect") {
        Some(Value::String(e))
            if e.eq_ignore_ascii_case("allow") || e.eq_ignore_ascii_case("deny") => {}
        _ => return Err(syntax()),
    }
    for name in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(value) = statement.get(name) {
            string_list(value).ok_or_else(syntax)?;
        }
    }
    if let Some(sid) = statement.get("Sid") {
        if !sid.is_string() {
            return Err(syntax());
        }
    }
    for name in ["Principal", "NotPrincipal"] {
        match statement.get(name) {
            None => {}
            Some(Value::String(_)) => {}
            Some(Value::Object(map)) => {
                for value in map.values() {
                    string_list(value).ok_or_else(syntax)?;
                }
            }
            Some(_) => return Err(syntax()),
        }
    }
    if let Some(condition) = statement.get("Condition") {
        let block = condition.as_object().ok_or_else(syntax)?;
        for (operator, entries) in block {
            let entries = entries.as_object().ok_or_else(syntax)?;
            for value in entries.values() {
                scalar_list(value).ok_or_else(syntax)?;
            }
            // An unknown operator is tolerated only with nothing under it (moto
            // `_validate_condition_syntax`).
            if Operator::parse(operator).is_none() && !entries.is_empty() {
                return Err(syntax());
            }
        }
    }
    Ok(())
}

fn check_action(action: &str) -> Result<(), PolicyError> {
    if action == "*" {
        return Ok(());
    }
    let mut parts = action.split(':');
    let vendor = parts.next().unwrap_or_default();
    match (parts.next(), parts.next()) {
        (None, _) => Err(err(messages::NO_VENDOR)),
        (Some(_), Some(_)) => Err(err(messages::TWO_COLONS)),
        (Some(_), None) => {
            let valid = vendor == "*"
                || vendor
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if valid {
                Ok(())
            } else {
                Err(err(messages::invalid_vendor(vendor)))
            }
        }
    }
}

/// Whether an `AWS` principal value is one IAM accepts: `*`, an account ID, or the ARN of an
/// account root, user, role, role session or federated user (IAM user guide, "AWS JSON policy
/// elements: Principal").
fn valid_aws_principal(value: &str) -> bool {
    if value == "*" || is_account_id(value) {
        return true;
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    if arn != "arn" || partition.is_empty() || !region.is_empty() || !is_account_id(account) {
        return false;
    }
    match service {
        "iam" => {
            resource == "root"
                || ["user/", "role/", "federated-user/"]
                    .iter()
                    .any(|p| resource.len() > p.len() && resource.starts_with(p))
        }
        "sts" => ["assumed-role/", "federated-user/"]
            .iter()
            .any(|p| resource.len() > p.len() && resource.starts_with(p)),
        _ => false,
    }
}

/// A 12-digit AWS account ID.
pub(crate) fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

fn principal_set(
    statement: &RawStatement<'_>,
    kind: PolicyKind,
) -> Result<PrincipalSet, PolicyError> {
    let missing = || match kind {
        PolicyKind::Trust => err(messages::TRUST_WITHOUT_PRINCIPAL),
        PolicyKind::Identity | PolicyKind::Resource => err(messages::MISSING_PRINCIPAL),
    };
    let (negated, value) = match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(v), _) => (false, v),
        (None, Some(v)) => (true, v),
        (None, None) => return Err(missing()),
    };
    let mut set = PrincipalSet {
        negated,
        ..PrincipalSet::default()
    };
    match value {
        Value::String(s) if s == "*" => set.everyone = true,
        // IAM names a bare-string principal "STAR" (`AssumeRolepolicy contained an invalid
        // principal: "STAR":"*".`, quoted in aws/aws-cdk#5732).
        Value::String(s) => return Err(err(messages::invalid_principal("STAR", s))),
        Value::Object(map) => {
            if map.is_empty() {
                return Err(missing());
            }
            for (kind_name, values) in map {
                let values = string_list(values).ok_or_else(syntax)?;
                if values.is_empty() {
                    return Err(missing());
                }
                for v in &values {
                    let valid = match kind_name.as_str() {
                        "AWS" => valid_aws_principal(v),
                        "Service" | "Federated" | "CanonicalUser" => !v.is_empty(),
                        _ => false,
                    };
                    if !valid {
                        return Err(err(messages::invalid_principal(kind_name, v)));
                    }
                }
                let target = match kind_name.as_str() {
                    "AWS" => &mut set.aws,
                    "Service" => &mut set.service,
                    "Federated" => &mut set.federated,
                    _ => &mut set.canonical_user,
                };
                target.extend(values);
            }
        }
        _ => return Err(syntax()),
    }
    Ok(set)
}

fn patterns(statement: &RawStatement<'_>, positive: &str, negative: &str) -> Option<Patterns> {
    if let Some(v) = statement.get(positive) {
        return Some(Patterns {
            negated: false,
            values: strings(Some(v)),
        });
    }
    statement.get(negative).map(|v| Patterns {
        negated: true,
        values: strings(Some(v)),
    })
}

fn typed_statement(
    statement: &RawStatement<'_>,
    kind: PolicyKind,
    principals: Option<PrincipalSet>,
) -> Result<Statement, PolicyError> {
    let effect = match statement.get("Effect") {
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        _ => Effect::Allow,
    };
    let actions =
        patterns(statement, "Action", "NotAction").ok_or_else(|| err(messages::MISSING_ACTIONS))?;
    let resources = match kind {
        PolicyKind::Trust => None,
        PolicyKind::Identity | PolicyKind::Resource => Some(
            patterns(statement, "Resource", "NotResource")
                .ok_or_else(|| err(messages::MISSING_RESOURCES))?,
        ),
    };
    let mut conditions = Vec::new();
    if let Some(Value::Object(block)) = statement.get("Condition") {
        for (operator, entries) in block {
            let Some(op) = Operator::parse(operator) else {
                continue; // an unknown operator with nothing under it
            };
            for (key, values) in entries.as_object().into_iter().flatten() {
                let values = scalar_list(values).ok_or_else(syntax)?;
                conditions.push(Condition::new(op.clone(), key, values));
            }
        }
    }
    Ok(Statement {
        sid: match statement.get("Sid") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        },
        effect,
        actions,
        resources,
        principals,
        conditions,
    })
}

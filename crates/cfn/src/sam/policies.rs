//! A function's `Policies`: AWS managed policy names (turned into ARNs), policy documents
//! and SAM's policy templates (`DynamoDBCrudPolicy: {TableName: !Ref Table}` ...), as the
//! SAM translator reads them (`model/resource_policies.py`, `model/role_utils`).

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::intrinsics::intrinsic_call;

/// One entry of `Policies`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PolicyEntry {
    /// A managed policy: a name, an ARN, or an intrinsic giving one.
    Managed(Value),
    /// A policy document (`{Statement: ...}`), possibly inside `Fn::If`.
    Document(Value),
    /// A policy template with its parameter values.
    Template(String, Value),
}

/// The policy templates this server ships, from `data/policy_templates.json`.
fn templates() -> &'static Map<String, Value> {
    static TEMPLATES: OnceLock<Map<String, Value>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let text = include_str!("../../data/policy_templates.json");
        serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("Templates").and_then(Value::as_object).cloned())
            .unwrap_or_default()
    })
}

/// The names of the shipped policy templates.
pub fn template_names() -> Vec<&'static str> {
    templates().keys().map(String::as_str).collect()
}

fn is_no_value(v: &Value) -> bool {
    v.as_object()
        .and_then(|m| intrinsic_call(m, false))
        .is_some_and(|(name, arg)| name == "Ref" && arg == "AWS::NoValue")
}

/// Classifies one entry; `None` when SAM would call it "not valid".
pub(crate) fn classify(entry: &Value) -> Option<PolicyEntry> {
    match entry {
        Value::String(_) => Some(PolicyEntry::Managed(entry.clone())),
        Value::Object(m) => {
            if let Some((name, arg)) = intrinsic_call(m, false) {
                if name == "Fn::If" {
                    // The branches decide: names are managed policies, maps documents.
                    let branches: Vec<&Value> = arg
                        .as_array()
                        .map(|a| a.iter().skip(1).filter(|b| !is_no_value(b)).collect())
                        .unwrap_or_default();
                    return match branches.first() {
                        Some(Value::Object(b)) if intrinsic_call(b, false).is_none() => {
                            Some(PolicyEntry::Document(entry.clone()))
                        }
                        Some(_) => Some(PolicyEntry::Managed(entry.clone())),
                        None => None,
                    };
                }
                return Some(PolicyEntry::Managed(entry.clone()));
            }
            if m.len() == 1 {
                if let Some((name, params)) = m.iter().next() {
                    if templates().contains_key(name) || looks_like_template(name, params) {
                        return Some(PolicyEntry::Template(name.clone(), params.clone()));
                    }
                }
            }
            if m.contains_key("Statement") {
                return Some(PolicyEntry::Document(entry.clone()));
            }
            None
        }
        _ => None,
    }
}

/// A one-key map `SomethingPolicy: {...}`: a policy template, maybe one not shipped here.
fn looks_like_template(name: &str, params: &Value) -> bool {
    name.ends_with("Policy") && params.is_object()
}

/// Expands a policy template into its policy document (`{"Statement": [...]}`, no
/// `Version`, as SAM writes it). The error is SAM's text.
pub(crate) fn expand_template(name: &str, params: &Value) -> Result<Value, String> {
    let Some(template) = templates().get(name) else {
        let mut known = template_names();
        known.sort_unstable();
        return Err(format!(
            "Policy template '{name}' is not supported by this server yet. The supported policy templates are: {}.",
            known.join(", ")
        ));
    };
    let Some(values) = params.as_object() else {
        return Err(format!(
            "The template parameters of policy template '{name}' should be a map"
        ));
    };
    let wanted: Vec<&str> = template
        .get("Parameters")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|p| !values.contains_key(**p))
        .map(|p| format!("'{p}'"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "Following required parameters of template '{name}' don't have values: [{}]",
            missing.join(", ")
        ));
    }
    let statement = template.get("Statement").cloned().unwrap_or(Value::Null);
    Ok(json!({ "Statement": substitute(&statement, values) }))
}

/// Replaces each `{"Ref": Parameter}` of a template with the value given for it.
fn substitute(v: &Value, values: &Map<String, Value>) -> Value {
    match v {
        Value::Object(m) => {
            if let Some(("Ref", Value::String(p))) = intrinsic_call(m, false) {
                if let Some(given) = values.get(p) {
                    return given.clone();
                }
            }
            Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), substitute(v, values)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, values)).collect()),
        other => other.clone(),
    }
}

/// AWS managed policies SAM's bundled map knows, with their paths (from IAM's managed
/// policy reference; the same names the IAM service ships under `data/managed/`).
const MANAGED: &[(&str, &str)] = &[
    ("AWSLambdaBasicExecutionRole", "service-role/"),
    ("AWSLambdaDynamoDBExecutionRole", "service-role/"),
    ("AWSLambdaKinesisExecutionRole", "service-role/"),
    ("AWSLambdaSQSQueueExecutionRole", "service-role/"),
    ("AWSLambdaMSKExecutionRole", "service-role/"),
    ("AWSLambdaVPCAccessExecutionRole", "service-role/"),
    ("AWSLambdaRole", "service-role/"),
    ("AWSLambdaInvocation-DynamoDB", ""),
    ("AWSLambdaExecute", ""),
    ("AWSLambda_FullAccess", ""),
    ("AWSLambda_ReadOnlyAccess", ""),
    ("AWSXrayWriteOnlyAccess", ""),
    ("AWSXRayDaemonWriteAccess", ""),
    ("AdministratorAccess", ""),
    ("AmazonDynamoDBFullAccess", ""),
    ("AmazonDynamoDBReadOnlyAccess", ""),
    ("AmazonS3FullAccess", ""),
    ("AmazonS3ReadOnlyAccess", ""),
    ("AmazonSNSFullAccess", ""),
    ("AmazonSNSReadOnlyAccess", ""),
    ("AmazonSQSFullAccess", ""),
    ("AmazonSQSReadOnlyAccess", ""),
    ("AmazonSSMReadOnlyAccess", ""),
    ("CloudWatchFullAccess", ""),
    ("CloudWatchLogsFullAccess", ""),
    ("CloudWatchLogsReadOnlyAccess", ""),
    ("CloudWatchLambdaInsightsExecutionRolePolicy", ""),
    ("ReadOnlyAccess", ""),
];

/// `arn:<partition>:iam::aws:policy/<path><name>`.
pub(crate) fn aws_managed_arn(partition: &str, path_and_name: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/{path_and_name}")
}

/// A managed policy name as SAM turns it into an ARN: the caller's lookup first, then the
/// bundled names; an ARN or an unknown name stays as it is.
pub(crate) fn managed_arn(
    name: &str,
    partition: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> String {
    if let Some(arn) = lookup(name) {
        return arn;
    }
    if let Some((n, path)) = MANAGED.iter().find(|(n, _)| *n == name) {
        return aws_managed_arn(partition, &format!("{path}{n}"));
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ten_templates_are_shipped() {
        let names = template_names();
        for t in [
            "DynamoDBCrudPolicy",
            "DynamoDBReadPolicy",
            "DynamoDBWritePolicy",
            "DynamoDBStreamReadPolicy",
            "SQSSendMessagePolicy",
            "SQSPollerPolicy",
            "SNSPublishMessagePolicy",
            "S3ReadPolicy",
            "S3CrudPolicy",
            "LambdaInvokePolicy",
        ] {
            assert!(names.contains(&t), "{t}");
        }
    }

    #[test]
    fn a_template_expands_with_its_parameters() {
        let doc = expand_template(
            "SQSSendMessagePolicy",
            &json!({"QueueName": {"Fn::GetAtt": ["Q", "QueueName"]}}),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"Statement": [{
                "Effect": "Allow",
                "Action": ["sqs:SendMessage*"],
                "Resource": {"Fn::Sub": [
                    "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}",
                    {"queueName": {"Fn::GetAtt": ["Q", "QueueName"]}}
                ]}
            }]})
        );
        assert_eq!(
            expand_template("DynamoDBStreamReadPolicy", &json!({"TableName": "t"})).unwrap_err(),
            "Following required parameters of template 'DynamoDBStreamReadPolicy' don't have values: ['StreamName']"
        );
    }

    #[test]
    fn managed_names_become_arns() {
        let none = |_: &str| None;
        assert_eq!(
            managed_arn("AWSLambdaDynamoDBExecutionRole", "aws", &none),
            "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
        );
        assert_eq!(
            managed_arn("AmazonS3ReadOnlyAccess", "aws-cn", &none),
            "arn:aws-cn:iam::aws:policy/AmazonS3ReadOnlyAccess"
        );
        assert_eq!(
            managed_arn("arn:aws:iam::1:policy/x", "aws", &none),
            "arn:aws:iam::1:policy/x"
        );
        assert_eq!(managed_arn("MyOwn", "aws", &none), "MyOwn");
    }
}

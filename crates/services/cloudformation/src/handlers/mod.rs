//! Resource handlers: for each resource type this server serves, how a stack creates,
//! updates and deletes one, what `Ref` and `Fn::GetAtt` give, and which property changes
//! replace it (as CloudFormation's resource reference documents per property).
//!
//! A handler only makes API calls ([`Cx`]); it keeps no state of its own, so whatever it
//! creates is exactly what a client would have created with the same calls.

mod custom;
mod dynamodb;
mod iam;
mod lambda;
mod logs;
mod s3;
mod sns;
mod sqs;

use serde_json::{Map, Value};
use tributary_cfn::Replacement;

pub use crate::calls::{ApiError, Calls};
pub use custom::Responses;

/// What a stack operation tells a handler about itself.
pub struct Cx<'a> {
    pub calls: &'a Calls,
    pub region: &'a str,
    pub account_id: &'a str,
    pub stack_name: &'a str,
    pub stack_id: &'a str,
    /// The stack's tags, which CloudFormation propagates to the resources that take tags.
    pub stack_tags: &'a [(String, String)],
    /// The type of the resource being handled.
    pub resource_type: &'a str,
    /// Where custom resources' functions send their responses.
    pub endpoint: &'a str,
    pub responses: &'a Responses,
}

impl Cx<'_> {
    /// A physical name as CloudFormation makes them: `<stack>-<logical id>-<13 random>`,
    /// shortened to `max` characters (the stack name and logical id give way first).
    pub fn physical_name(&self, logical_id: &str, max: usize) -> String {
        generated_name(self.stack_name, logical_id, max)
    }

    /// The tags CloudFormation adds to every resource it creates that takes tags, with the
    /// stack's tags and then the resource's own `Tags` (which win over a stack tag of the same
    /// key).
    pub fn aws_tags(&self, logical_id: &str, props: &Value) -> Vec<(String, String)> {
        let mut all = vec![
            (
                "aws:cloudformation:stack-name".to_owned(),
                self.stack_name.to_owned(),
            ),
            (
                "aws:cloudformation:stack-id".to_owned(),
                self.stack_id.to_owned(),
            ),
            (
                "aws:cloudformation:logical-id".to_owned(),
                logical_id.to_owned(),
            ),
        ];
        merge_tags(&mut all, self.resource_tags(props));
        all
    }

    /// The stack's tags, then the resource's own `Tags`, one value per key.
    pub fn resource_tags(&self, props: &Value) -> Vec<(String, String)> {
        let mut all = self.stack_tags.to_vec();
        merge_tags(&mut all, tags(props, "Tags"));
        all
    }
}

/// Adds `more` to `tags`, a key already there taking the new value.
fn merge_tags(tags: &mut Vec<(String, String)>, more: Vec<(String, String)>) {
    for (k, v) in more {
        match tags.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => tags.push((k, v)),
        }
    }
}

/// `<stack>-<logical id>-<suffix>` within `max` characters.
pub fn generated_name(stack: &str, logical_id: &str, max: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let suffix: String = (0..13)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    let room = max.saturating_sub(suffix.len() + 2);
    let (mut s, mut l) = (stack.len(), logical_id.len());
    while s + l > room {
        if s >= l && s > 0 {
            s -= 1;
        } else if l > 0 {
            l -= 1;
        } else {
            break;
        }
    }
    let stack: String = stack.chars().take(s).collect();
    let logical: String = logical_id.chars().take(l).collect();
    format!("{stack}-{logical}-{suffix}")
}

/// A resource as created: its physical id, what `Ref` gives, and its attributes.
#[derive(Debug, Clone, Default)]
pub struct Created {
    pub physical_id: String,
    pub ref_value: Option<Value>,
    pub attributes: Map<String, Value>,
}

impl Created {
    pub fn new(physical_id: impl Into<String>) -> Created {
        Created {
            physical_id: physical_id.into(),
            ..Created::default()
        }
    }

    pub fn with_ref(mut self, v: impl Into<String>) -> Created {
        self.ref_value = Some(Value::String(v.into()));
        self
    }

    pub fn attr(mut self, name: &str, v: impl Into<Value>) -> Created {
        self.attributes.insert(name.to_owned(), v.into());
        self
    }
}

/// A resource that exists: what a handler updates or deletes.
pub struct Current<'a> {
    pub logical_id: &'a str,
    pub physical_id: &'a str,
    /// The properties it was created (or last updated) with.
    pub properties: &'a Value,
    pub attributes: &'a Map<String, Value>,
}

/// Why a handler failed: CloudFormation's resource status reason.
#[derive(Debug, Clone)]
pub struct Failure(pub String);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        let handler_code = match e.code.as_str() {
            "ResourceInUseException"
            | "ResourceConflictException"
            | "EntityAlreadyExists"
            | "QueueAlreadyExists"
            | "BucketAlreadyExists"
            | "BucketAlreadyOwnedByYou"
            | "ResourceAlreadyExistsException" => "AlreadyExists",
            "ResourceNotFoundException"
            | "NoSuchEntity"
            | "NotFound"
            | "NoSuchBucket"
            | "AWS.SimpleQueueService.NonExistentQueue"
            | "QueueDoesNotExist" => "NotFound",
            "AccessDenied" | "AccessDeniedException" => "AccessDenied",
            "ThrottlingException" | "Throttling" => "Throttling",
            _ if e.status >= 500 => "ServiceInternalError",
            _ => "InvalidRequest",
        };
        Failure(format!(
            "Resource handler returned message: \"{e}\" (RequestToken: {}, HandlerErrorCode: {handler_code})",
            uuid::Uuid::new_v4()
        ))
    }
}

impl Failure {
    /// A property the resource type's schema refuses.
    pub fn property(message: impl std::fmt::Display) -> Failure {
        Failure(format!(
            "Properties validation failed for resource: {message}"
        ))
    }
}

pub type HandlerResult<T> = Result<T, Failure>;

/// One resource type.
#[async_trait::async_trait]
pub trait Handler: Send + Sync {
    /// Whether changing the top-level property replaces the resource.
    fn replacement(&self, property: &str) -> Replacement;

    /// Properties that name the resource: a resource given a name cannot be replaced (the
    /// new one would need the same name).
    fn name_property(&self) -> Option<&'static str> {
        None
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created>;

    /// Updates in place: only properties [`Handler::replacement`] calls `Never` (or
    /// `Conditional`) changed.
    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created>;

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()>;
}

/// The handler of a resource type, if this server serves it.
pub fn handler(type_: &str) -> Option<&'static dyn Handler> {
    Some(match type_ {
        "AWS::DynamoDB::Table" => &dynamodb::Table,
        "AWS::DynamoDB::GlobalTable" => &dynamodb::GlobalTable,
        "AWS::Lambda::Function" => &lambda::Function,
        "AWS::Lambda::Version" => &lambda::Version,
        "AWS::Lambda::Alias" => &lambda::Alias,
        "AWS::Lambda::EventSourceMapping" => &lambda::EventSourceMapping,
        "AWS::Lambda::Permission" => &lambda::Permission,
        "AWS::Lambda::EventInvokeConfig" => &lambda::EventInvokeConfig,
        "AWS::Lambda::LayerVersion" => &lambda::LayerVersion,
        "AWS::IAM::Role" => &iam::Role,
        "AWS::IAM::Policy" => &iam::Policy,
        "AWS::IAM::ManagedPolicy" => &iam::ManagedPolicy,
        "AWS::IAM::InstanceProfile" => &iam::InstanceProfile,
        "AWS::SQS::Queue" => &sqs::Queue,
        "AWS::SQS::QueuePolicy" => &sqs::QueuePolicy,
        "AWS::SNS::Topic" => &sns::Topic,
        "AWS::SNS::Subscription" => &sns::Subscription,
        "AWS::SNS::TopicPolicy" => &sns::TopicPolicy,
        "AWS::S3::Bucket" => &s3::Bucket,
        "AWS::S3::BucketPolicy" => &s3::BucketPolicy,
        "AWS::Logs::LogGroup" => &logs::LogGroup,
        "AWS::CloudFormation::WaitConditionHandle" => &NoOp,
        "AWS::CDK::Metadata" => &NoOp,
        "AWS::CloudFormation::CustomResource" => &custom::Custom,
        t if t.starts_with("Custom::") => &custom::Custom,
        _ => return None,
    })
}

/// Resources that exist only in the stack (`AWS::CDK::Metadata`, wait condition handles).
struct NoOp;

#[async_trait::async_trait]
impl Handler for NoOp {
    fn replacement(&self, _: &str) -> Replacement {
        Replacement::Never
    }
    async fn create(&self, cx: &Cx<'_>, logical_id: &str, _: &Value) -> HandlerResult<Created> {
        let id = cx.physical_name(logical_id, 128);
        Ok(Created::new(id.clone()).with_ref(id))
    }
    async fn update(&self, _: &Cx<'_>, c: &Current<'_>, _: &Value) -> HandlerResult<Created> {
        Ok(Created::new(c.physical_id).with_ref(c.physical_id))
    }
    async fn delete(&self, _: &Cx<'_>, _: &Current<'_>) -> HandlerResult<()> {
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------
// property helpers: CloudFormation takes `"5"` for 5 and `"true"` for true.

/// A property as a string (numbers and booleans as their text).
pub fn string(props: &Value, key: &str) -> Option<String> {
    match props.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A property as an integer.
pub fn int(props: &Value, key: &str) -> HandlerResult<Option<i64>> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_int(v).map(Some).ok_or_else(|| {
            Failure::property(format!(
                "#/{key}: expected type: Integer, found: {}",
                kind(v)
            ))
        }),
    }
}

pub fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A property as a boolean.
pub fn boolean(props: &Value, key: &str) -> HandlerResult<Option<bool>> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_bool(v).map(Some).ok_or_else(|| {
            Failure::property(format!(
                "#/{key}: expected type: Boolean, found: {}",
                kind(v)
            ))
        }),
    }
}

pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "JSONArray",
        Value::Object(_) => "JSONObject",
    }
}

/// A required string property.
pub fn required(props: &Value, key: &str) -> HandlerResult<String> {
    string(props, key)
        .ok_or_else(|| Failure::property(format!("#: required key [{key}] not found")))
}

/// `Tags` as `[{Key, Value}]` pairs.
pub fn tags(props: &Value, key: &str) -> Vec<(String, String)> {
    props
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| Some((string(t, "Key")?, string(t, "Value")?)))
                .collect()
        })
        .unwrap_or_default()
}

/// How an update changes a resource's `Tags`: the keys it no longer has and the tags to set.
pub struct TagUpdate {
    pub removed: Vec<String>,
    pub set: Vec<(String, String)>,
}

/// The change of `Tags` between two property sets; `None` when they are the same.
pub fn tag_update(old: &Value, new: &Value) -> Option<TagUpdate> {
    if old.get("Tags") == new.get("Tags") {
        return None;
    }
    let set = tags(new, "Tags");
    let removed = tags(old, "Tags")
        .into_iter()
        .filter(|(k, _)| !set.iter().any(|(n, _)| n == k))
        .map(|(k, _)| k)
        .collect();
    Some(TagUpdate { removed, set })
}

/// Tags as a JSON object (`{key: value}`), as Lambda, SQS and Logs take them.
pub fn tag_object(tags: &[(String, String)]) -> Value {
    Value::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// A policy document as the JSON text the APIs take (templates give an object or a string).
pub fn document(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Converts the values that CloudFormation writes as strings into what an API shape wants,
/// following `shape`: `i` integer, `b` boolean, anything else kept. Applied to top-level
/// keys only.
pub fn coerce(props: &Value, shape: &[(&str, char)]) -> HandlerResult<Map<String, Value>> {
    let mut out = props.as_object().cloned().unwrap_or_default();
    for (key, t) in shape {
        let Some(v) = out.get(*key) else { continue };
        let fixed = match t {
            'i' => Value::from(as_int(v).ok_or_else(|| {
                Failure::property(format!(
                    "#/{key}: expected type: Integer, found: {}",
                    kind(v)
                ))
            })?),
            'b' => Value::from(as_bool(v).ok_or_else(|| {
                Failure::property(format!(
                    "#/{key}: expected type: Boolean, found: {}",
                    kind(v)
                ))
            })?),
            _ => continue,
        };
        out.insert((*key).to_owned(), fixed);
    }
    Ok(out)
}

/// Percent-encodes one path segment.
pub fn segment(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(s, SET).to_string()
}

/// Whether a deletion failed only because the resource is already gone (a delete succeeds
/// then, as CloudFormation's does).
pub fn gone(e: &ApiError) -> bool {
    e.status == 404
        || matches!(
            e.code.as_str(),
            "ResourceNotFoundException"
                | "NoSuchEntity"
                | "NotFound"
                | "NoSuchBucket"
                | "AWS.SimpleQueueService.NonExistentQueue"
                | "QueueDoesNotExist"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_fit() {
        let n = generated_name("my-stack", "Table", 255);
        assert!(n.starts_with("my-stack-Table-"), "{n}");
        assert_eq!(n.len(), "my-stack-Table-".len() + 13);
        let long = generated_name(&"s".repeat(100), &"L".repeat(100), 64);
        assert_eq!(long.len(), 64, "{long}");
    }

    #[test]
    fn coerces_strings() {
        let p = serde_json::json!({"BatchSize": "10", "Enabled": "false", "X": "y"});
        let m = coerce(&p, &[("BatchSize", 'i'), ("Enabled", 'b')]).unwrap();
        assert_eq!(m["BatchSize"], 10);
        assert_eq!(m["Enabled"], false);
        assert_eq!(m["X"], "y");
        assert!(coerce(
            &serde_json::json!({"BatchSize": "x"}),
            &[("BatchSize", 'i')]
        )
        .is_err());
    }
}

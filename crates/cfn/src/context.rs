//! What a stack operation evaluates a template against: the pseudo parameters, the
//! resolved parameter values, the exports of other stacks, and (through [`Resolver`]) the
//! physical ids and attributes of resources already created.

use serde_json::Value;

use crate::params::Params;

/// The pseudo parameters (`AWS::Region`, `AWS::AccountId` ...) of one stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Pseudo {
    /// `AWS::Region`.
    pub region: String,
    /// `AWS::AccountId`.
    pub account_id: String,
    /// `AWS::StackName`.
    pub stack_name: String,
    /// `AWS::StackId`: `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>`.
    pub stack_id: String,
    /// `AWS::Partition`: `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    /// `AWS::URLSuffix`: `amazonaws.com` (`amazonaws.com.cn` in China).
    pub url_suffix: String,
    /// `AWS::NotificationARNs`.
    pub notification_arns: Vec<String>,
    /// What `Fn::GetAZs` answers for this region.
    pub availability_zones: Vec<String>,
}

impl Pseudo {
    /// The pseudo parameters of a stack; partition, URL suffix and availability zones follow
    /// from the region.
    pub fn new(
        region: impl Into<String>,
        account_id: impl Into<String>,
        stack_name: impl Into<String>,
        stack_id: impl Into<String>,
    ) -> Self {
        let region = region.into();
        let partition = partition_of(&region).to_owned();
        let url_suffix = if partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        }
        .to_owned();
        let availability_zones = availability_zones(&region);
        Self {
            region,
            account_id: account_id.into(),
            stack_name: stack_name.into(),
            stack_id: stack_id.into(),
            partition,
            url_suffix,
            notification_arns: Vec::new(),
            availability_zones,
        }
    }

    /// The value of a pseudo parameter; `None` for `AWS::NoValue` and unknown names.
    pub fn get(&self, name: &str) -> Option<Value> {
        Some(Value::String(match name {
            "AWS::Region" => self.region.clone(),
            "AWS::AccountId" => self.account_id.clone(),
            "AWS::StackName" => self.stack_name.clone(),
            "AWS::StackId" => self.stack_id.clone(),
            "AWS::Partition" => self.partition.clone(),
            "AWS::URLSuffix" => self.url_suffix.clone(),
            "AWS::NotificationARNs" => {
                return Some(Value::Array(
                    self.notification_arns
                        .iter()
                        .cloned()
                        .map(Value::String)
                        .collect(),
                ))
            }
            _ => return None,
        }))
    }
}

/// The pseudo parameters every template may use (besides `AWS::NoValue`).
pub const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// The partition a region belongs to.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The zones `Fn::GetAZs` lists for a region: `<region>a`, `b` and `c` (every region has at
/// least three).
pub fn availability_zones(region: &str) -> Vec<String> {
    ["a", "b", "c"]
        .iter()
        .map(|z| format!("{region}{z}"))
        .collect()
}

/// Looks an export of another stack up by name (`Fn::ImportValue`).
pub type Imports<'a> = &'a dyn Fn(&str) -> Option<String>;

fn no_imports(_: &str) -> Option<String> {
    None
}

/// Everything a template is evaluated against in one stack operation.
#[derive(Clone)]
pub struct Context<'a> {
    /// The stack's pseudo parameters.
    pub pseudo: Pseudo,
    /// The parameter values, from [`crate::resolve_parameters`].
    pub params: Params,
    /// The exports of the account's other stacks.
    pub imports: Imports<'a>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("pseudo", &self.pseudo)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl<'a> Context<'a> {
    /// A context without exports from other stacks.
    pub fn new(pseudo: Pseudo, params: Params) -> Context<'static> {
        Context {
            pseudo,
            params,
            imports: &no_imports,
        }
    }

    /// The same context, reading exports through `imports`.
    pub fn with_imports<'b>(self, imports: Imports<'b>) -> Context<'b> {
        Context {
            pseudo: self.pseudo,
            params: self.params,
            imports,
        }
    }
}

/// Answers `Ref` and `Fn::GetAtt` of resources already created: the resource handlers know
/// physical ids and attributes, the template engine does not.
pub trait Resolver {
    /// What `Ref` of the resource gives (its physical id, for most types); `None` when the
    /// resource has not been created.
    fn ref_value(&self, logical_id: &str) -> Option<Value>;

    /// The attribute of the resource; `None` when the type has no such attribute.
    fn get_att(&self, logical_id: &str, attribute: &str) -> Option<Value>;
}

/// A resolver that knows no resource: for values that must not depend on any.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResources;

impl Resolver for NoResources {
    fn ref_value(&self, _: &str) -> Option<Value> {
        None
    }
    fn get_att(&self, _: &str, _: &str) -> Option<Value> {
        None
    }
}

impl<F, G> Resolver for (F, G)
where
    F: Fn(&str) -> Option<Value>,
    G: Fn(&str, &str) -> Option<Value>,
{
    fn ref_value(&self, logical_id: &str) -> Option<Value> {
        (self.0)(logical_id)
    }
    fn get_att(&self, logical_id: &str, attribute: &str) -> Option<Value> {
        (self.1)(logical_id, attribute)
    }
}

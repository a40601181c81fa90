//! IAM policy documents and AWS's policy evaluation logic.
//!
//! A [`Policy`] is parsed once ([`Policy::parse`]), with the grammar IAM checks before it
//! stores a document: a failure is the text of IAM's `MalformedPolicyDocument` error
//! ([`messages`]). A request ([`Request`]) is then evaluated against the caller's
//! identity-based policies and the resource's policy ([`evaluate`]): an explicit deny wins
//! over any allow, and without an allow the request is implicitly denied.
//!
//! The crate knows no service and no store: IAM, STS, the gateway and Lambda's execution-role
//! checks all call it with what they hold. In particular the caller fills the request context
//! ([`Request::context`]) with the global keys it knows (`aws:SourceArn`, `aws:SourceAccount`,
//! `aws:RequestedRegion`, `aws:CurrentTime`, `aws:EpochTime`, `aws:SecureTransport`, ...) and
//! the service keys of the operation (`dynamodb:LeadingKeys`, `dynamodb:Attributes`, ...);
//! [`context_for`] fills the ones that follow from the principal. [`actions`] maps an
//! operation to the IAM action it needs and the ARNs of the resources it touches.
//!
//! The account root is not implicitly allowed anything here: a caller that wants AWS's
//! "the root user has full access" shortcut takes it before calling [`evaluate`].

use std::collections::HashMap;

pub mod actions;
mod condition;
mod grammar;
mod matching;

pub use grammar::messages;

use grammar::{Document, Effect, PrincipalSet, Statement};
use matching::Context;

/// Which grammar a document follows: identity policies have no `Principal`, resource
/// policies (queue, topic, function) and trust policies (a role's assume-role policy) need one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user, group or role: no `Principal`; `Resource` required.
    Identity,
    /// Attached to a resource (queue, topic, function, bucket, table): `Principal` and
    /// `Resource` required.
    Resource,
    /// A role's trust policy: `Principal` required, `Resource` prohibited.
    Trust,
}

/// Why a document is not a valid policy: the message IAM's `MalformedPolicyDocument` carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// A parsed, grammar-checked policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    doc: std::sync::Arc<serde_json::Value>,
    kind: PolicyKind,
    parsed: std::sync::Arc<Document>,
}

impl Policy {
    /// Parses and checks a policy document.
    ///
    /// The error is the first fault IAM would report, in IAM's words; see [`messages`] for
    /// each text and where it was found.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let (doc, parsed) = grammar::parse(text, kind)?;
        Ok(Policy {
            doc: std::sync::Arc::new(doc),
            kind,
            parsed: std::sync::Arc::new(parsed),
        })
    }

    /// The grammar the document was checked against.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The document as parsed.
    pub fn document(&self) -> &serde_json::Value {
        &self.doc
    }

    /// The document's `Version` (`2012-10-17` or `2008-10-17`), `None` when it has none (then
    /// it is read as `2008-10-17`: policy variables are literal text).
    pub fn version(&self) -> Option<&str> {
        self.parsed.version.as_deref()
    }

    /// Whether this trust policy lets an AWS service assume the role: some `Allow` statement
    /// names the service (or everyone) and an action matching `sts:AssumeRole`, and no `Deny`
    /// statement without conditions takes that back. Conditions of the allowing statement are
    /// not evaluated, since the check happens when a role is configured (Lambda's CreateFunction
    /// checking its execution role), before any request exists.
    pub fn allows_service_principal(&self, service: &str) -> bool {
        let principal = Principal {
            arn: service.to_owned(),
            account: String::new(),
            kind: PrincipalKind::Service(service.to_owned()),
        };
        let applies = |s: &Statement| {
            action_matches(s, "sts:AssumeRole")
                && s.principals
                    .as_ref()
                    .is_some_and(|set| principal_match(set, &principal) != PrincipalMatch::None)
        };
        let statements = &self.parsed.statements;
        statements
            .iter()
            .any(|s| s.effect == Effect::Allow && applies(s))
            && !statements
                .iter()
                .any(|s| s.effect == Effect::Deny && s.conditions.is_empty() && applies(s))
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
    AssumedRole {
        /// The role's ARN, with its path.
        role_arn: String,
    },
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
    /// What kind of caller this is.
    pub kind: PrincipalKind,
}

/// One request to decide: who, which action (`dynamodb:PutItem`), on which resource ARN, and
/// the values of its condition keys. Key names are matched case-insensitively; a key may have
/// several values (`dynamodb:Attributes`).
///
/// The caller fills `context`: the global keys (`aws:SourceArn`, `aws:SourceAccount`,
/// `aws:RequestedRegion`, `aws:CurrentTime` as ISO 8601, `aws:EpochTime`, `aws:username`, ...;
/// [`context_for`] gives the principal's) and the operation's service keys. A key left out is
/// absent, which is what AWS does when a request lacks it. `aws:ResourceAccount`, when present,
/// names the resource's account for the cross-account rule (otherwise it is read from the
/// resource ARN, and an ARN without an account, like an S3 bucket's, counts as the caller's).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// The IAM action, `service:Action`.
    pub action: &'a str,
    /// The resource ARN (`*` for actions without a resource).
    pub resource: &'a str,
    /// Condition keys and their values.
    pub context: &'a HashMap<String, Vec<String>>,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Some statement allows the request and none denies it.
    Allow,
    /// A statement denies the request explicitly.
    ExplicitDeny,
    /// No statement allows the request.
    ImplicitDeny,
}

/// Where a deciding statement came from, as AWS's AccessDenied texts name it.
pub const IDENTITY_BASED: &str = "identity-based policy";
/// Where a deciding statement came from, as AWS's AccessDenied texts name it.
pub const RESOURCE_BASED: &str = "resource-based policy";

/// A decision and what made it, for error messages and denial records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Allowed, explicitly denied or implicitly denied.
    pub decision: Decision,
    /// Where the deciding statement came from: "identity-based policy" or "resource-based
    /// policy", as AWS's AccessDenied texts name them. For an implicit deny, the kind of policy
    /// whose allow was missing when only one kind was (a cross-account request its identity
    /// policies allow but the resource's policy does not, or the reverse); otherwise `None`.
    pub source: Option<&'static str>,
    /// The deciding statement's `Sid`, if it has one.
    pub sid: Option<String>,
}

/// How a statement's principals matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrincipalMatch {
    None,
    /// Through the account (`"AWS": "111122223333"` or `arn:aws:iam::111122223333:root`): the
    /// account delegates to its own identity policies.
    Account,
    /// By the caller's own ARN, its role, a service name or a wildcard.
    Direct,
}

fn principal_match(set: &PrincipalSet, principal: &Principal) -> PrincipalMatch {
    let positive = positive_principal_match(set, principal);
    if set.negated {
        // NotPrincipal: the statement applies to everyone not listed.
        if positive == PrincipalMatch::None {
            PrincipalMatch::Direct
        } else {
            PrincipalMatch::None
        }
    } else {
        positive
    }
}

fn positive_principal_match(set: &PrincipalSet, principal: &Principal) -> PrincipalMatch {
    if set.everyone {
        return PrincipalMatch::Direct;
    }
    if let PrincipalKind::Service(name) = &principal.kind {
        let named =
            set.service.iter().any(|s| s == name) || set.federated.iter().any(|f| f == name);
        return if named {
            PrincipalMatch::Direct
        } else {
            PrincipalMatch::None
        };
    }
    let mut best = PrincipalMatch::None;
    for value in &set.aws {
        if value == "*" || *value == principal.arn {
            return PrincipalMatch::Direct;
        }
        if let PrincipalKind::AssumedRole { role_arn } = &principal.kind {
            if value == role_arn {
                return PrincipalMatch::Direct;
            }
        }
        let account = if grammar::is_account_id(value) {
            Some(value.as_str())
        } else {
            value
                .strip_prefix("arn:")
                .and_then(|rest| rest.split_once(":iam::"))
                .and_then(|(_, rest)| rest.strip_suffix(":root"))
        };
        if account.is_some_and(|a| !a.is_empty() && a == principal.account) {
            // The root user is itself the account: naming the account names it directly.
            if principal.kind == PrincipalKind::Root {
                return PrincipalMatch::Direct;
            }
            best = PrincipalMatch::Account;
        }
    }
    // A federated principal (a SAML or OIDC provider) is named by its provider ARN.
    if best == PrincipalMatch::None && set.federated.contains(&principal.arn) {
        return PrincipalMatch::Direct;
    }
    best
}

fn action_matches(statement: &Statement, action: &str) -> bool {
    let segments = |p: &String| vec![matching::Segment::Pattern(p.clone())];
    let hit = statement
        .actions
        .values
        .iter()
        .any(|p| matching::like(&segments(p), action, true));
    hit != statement.actions.negated
}

fn resource_matches(
    statement: &Statement,
    resource: &str,
    ctx: &Context<'_>,
    substitute: bool,
) -> bool {
    let Some(patterns) = &statement.resources else {
        return true; // a trust policy's statements are about the role they are attached to
    };
    let hit = patterns.values.iter().any(|p| {
        matching::expand(p, ctx, substitute)
            .is_some_and(|segments| matching::arn_like(&segments, resource))
    });
    hit != patterns.negated
}

/// Whether a statement applies to the request, and how its principals matched.
fn applies(
    statement: &Statement,
    document: &Document,
    request: &Request<'_>,
    ctx: &Context<'_>,
) -> PrincipalMatch {
    let substitute = document.substitutes_variables();
    let principal = match &statement.principals {
        None => PrincipalMatch::Direct,
        Some(set) => principal_match(set, request.principal),
    };
    if principal == PrincipalMatch::None
        || !action_matches(statement, request.action)
        || !resource_matches(statement, request.resource, ctx, substitute)
        || !statement
            .conditions
            .iter()
            .all(|c| c.holds(ctx, substitute))
    {
        return PrincipalMatch::None;
    }
    principal
}

/// The first statement of `effect` in `policies` that applies, with how it matched.
fn first_applying<'p>(
    policies: &[&'p Policy],
    effect: Effect,
    request: &Request<'_>,
    ctx: &Context<'_>,
) -> Option<(&'p Statement, PrincipalMatch)> {
    policies.iter().find_map(|policy| {
        policy
            .parsed
            .statements
            .iter()
            .filter(|s| s.effect == effect)
            .find_map(|s| match applies(s, &policy.parsed, request, ctx) {
                PrincipalMatch::None => None,
                m => Some((s, m)),
            })
    })
}

/// The account that owns the resource, when known: `aws:ResourceAccount` from the context, or
/// the account field of the resource ARN.
fn resource_account<'a>(request: &'a Request<'_>, ctx: &'a Context<'_>) -> Option<&'a str> {
    if let Some([account]) = ctx.get("aws:resourceaccount") {
        return Some(account.as_str());
    }
    let parts: Vec<&str> = request.resource.splitn(6, ':').collect();
    match parts.get(4) {
        Some(account) if parts.first() == Some(&"arn") && !account.is_empty() => Some(account),
        _ => None,
    }
}

/// Evaluates a request against the caller's identity-based policies and the resource's
/// policy, following AWS's policy evaluation logic (IAM user guide, "Policy evaluation logic",
/// "Policy evaluation for requests within a single account", "Cross-account policy evaluation
/// logic"):
///
/// 1. A `Deny` statement that applies, in any of the policies, denies explicitly.
/// 2. Within one account, an `Allow` from the identity-based policies or from the resource's
///    policy allows. A resource policy that names the caller's *account* (its ID or its root
///    ARN) rather than the caller delegates to the account: it allows only together with an
///    identity-based allow.
/// 3. Across accounts, both the caller's identity-based policies and the resource's policy
///    must allow.
/// 4. Otherwise the request is implicitly denied.
///
/// Statements of a resource or trust policy apply only to the principals they name
/// (`Principal`) or do not name (`NotPrincipal`); a statement of an identity-based policy
/// applies to its holder. Identity policies of a service principal are not consulted: a
/// service is allowed by the resource's policy alone.
pub fn evaluate(
    request: &Request<'_>,
    identity: &[&Policy],
    resource: Option<&Policy>,
) -> Evaluation {
    let ctx: Context<'_> = request
        .context
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.as_slice()))
        .collect();
    let resource_policies: Vec<&Policy> = resource.into_iter().collect();
    let found = |statement: &Statement, decision: Decision, source: &'static str| Evaluation {
        decision,
        source: Some(source),
        sid: statement.sid.clone(),
    };

    if let Some((s, _)) = first_applying(identity, Effect::Deny, request, &ctx) {
        return found(s, Decision::ExplicitDeny, IDENTITY_BASED);
    }
    if let Some((s, _)) = first_applying(&resource_policies, Effect::Deny, request, &ctx) {
        return found(s, Decision::ExplicitDeny, RESOURCE_BASED);
    }

    let identity_allow = first_applying(identity, Effect::Allow, request, &ctx).map(|(s, _)| s);
    let resource_allow = first_applying(&resource_policies, Effect::Allow, request, &ctx);
    let caller = &request.principal.account;
    let same_account =
        caller.is_empty() || resource_account(request, &ctx).is_none_or(|a| a == caller);

    if same_account {
        if let Some(s) = identity_allow {
            return found(s, Decision::Allow, IDENTITY_BASED);
        }
        match resource_allow {
            Some((s, PrincipalMatch::Direct)) => return found(s, Decision::Allow, RESOURCE_BASED),
            Some((_, _)) => {
                return Evaluation {
                    decision: Decision::ImplicitDeny,
                    source: Some(IDENTITY_BASED),
                    sid: None,
                }
            }
            None => {}
        }
    } else {
        match (identity_allow, resource_allow) {
            (Some(s), Some(_)) => return found(s, Decision::Allow, IDENTITY_BASED),
            (Some(_), None) => {
                return Evaluation {
                    decision: Decision::ImplicitDeny,
                    source: Some(RESOURCE_BASED),
                    sid: None,
                }
            }
            (None, Some(_)) => {
                return Evaluation {
                    decision: Decision::ImplicitDeny,
                    source: Some(IDENTITY_BASED),
                    sid: None,
                }
            }
            (None, None) => {}
        }
    }
    Evaluation {
        decision: Decision::ImplicitDeny,
        source: None,
        sid: None,
    }
}

/// The reason AWS appends to an AccessDenied message (IAM user guide, "Troubleshoot access
/// denied error messages"): `with an explicit deny in an identity-based policy`, `with an
/// explicit deny in a resource-based policy`, or `because no identity-based policy allows the
/// dynamodb:PutItem action` (`resource-based` when that was the missing allow). Empty for an
/// allowed request.
pub fn explain(request: &Request<'_>, evaluation: &Evaluation) -> String {
    match evaluation.decision {
        Decision::Allow => String::new(),
        Decision::ExplicitDeny => {
            let source = evaluation.source.unwrap_or(IDENTITY_BASED);
            let article = if source.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("with an explicit deny in {article} {source}")
        }
        Decision::ImplicitDeny => format!(
            "because no {} allows the {} action",
            evaluation.source.unwrap_or(IDENTITY_BASED),
            request.action
        ),
    }
}

/// The whole AccessDenied message, in the format the IAM user guide gives ("Troubleshoot
/// access denied error messages"): `User: <arn> is not authorized to perform: <action> on
/// resource: <resource> <reason>`; the resource is left out for `*`.
pub fn access_denied_message(request: &Request<'_>, evaluation: &Evaluation) -> String {
    let on = if request.resource.is_empty() || request.resource == "*" {
        String::new()
    } else {
        format!(" on resource: {}", request.resource)
    };
    format!(
        "User: {} is not authorized to perform: {}{} {}",
        request.principal.arn,
        request.action,
        on,
        explain(request, evaluation)
    )
}

/// The request-context keys that follow from the principal alone (IAM user guide, "AWS global
/// condition context keys"):
/// - `aws:PrincipalArn`: the caller's ARN; for a role session, the role's ARN;
/// - `aws:PrincipalAccount`: the caller's account;
/// - `aws:PrincipalType`: `Account` (root), `User` or `AssumedRole`;
/// - `aws:username`: a user's name (users only);
/// - `aws:userid`: the account ID for the root user. A user's or role's unique ID (`AIDA...`,
///   `AROA...:session`) is not derivable from an ARN; the caller that holds it adds it;
/// - `aws:PrincipalServiceName`: the service, for a service principal.
///
/// The caller adds the request's own keys to the map it gets.
pub fn context_for(principal: &Principal) -> HashMap<String, Vec<String>> {
    let mut ctx = HashMap::new();
    let mut put = |k: &str, v: &str| {
        ctx.insert(k.to_owned(), vec![v.to_owned()]);
    };
    if !principal.account.is_empty() {
        put("aws:PrincipalAccount", &principal.account);
    }
    match &principal.kind {
        PrincipalKind::Root => {
            put("aws:PrincipalArn", &principal.arn);
            put("aws:PrincipalType", "Account");
            put("aws:userid", &principal.account);
        }
        PrincipalKind::User => {
            put("aws:PrincipalArn", &principal.arn);
            put("aws:PrincipalType", "User");
            if let Some(name) = principal
                .arn
                .rsplit('/')
                .next()
                .filter(|n| !n.contains(':'))
            {
                put("aws:username", name);
            }
        }
        PrincipalKind::AssumedRole { role_arn } => {
            put("aws:PrincipalArn", role_arn);
            put("aws:PrincipalType", "AssumedRole");
        }
        PrincipalKind::Service(name) => {
            put("aws:PrincipalServiceName", name);
        }
    }
    ctx
}

#[cfg(test)]
mod tests;

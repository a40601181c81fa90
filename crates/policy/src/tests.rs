//! Table tests from AWS's documented policy examples, grammar tests for each message, and
//! properties of the evaluation (an explicit deny wins, an added allow never denies, no
//! document that parses makes evaluation panic).

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

const ACCOUNT: &str = "123456789012";
const OTHER: &str = "210987654321";

fn user(name: &str, account: &str) -> Principal {
    Principal {
        arn: format!("arn:aws:iam::{account}:user/{name}"),
        account: account.to_owned(),
        kind: PrincipalKind::User,
    }
}

fn session(role: &str, account: &str) -> Principal {
    Principal {
        arn: format!("arn:aws:sts::{account}:assumed-role/{role}/s1"),
        account: account.to_owned(),
        kind: PrincipalKind::AssumedRole {
            role_arn: format!("arn:aws:iam::{account}:role/{role}"),
        },
    }
}

fn service(name: &str) -> Principal {
    Principal {
        arn: name.to_owned(),
        account: String::new(),
        kind: PrincipalKind::Service(name.to_owned()),
    }
}

fn policy(text: &str, kind: PolicyKind) -> Policy {
    match Policy::parse(text, kind) {
        Ok(p) => p,
        Err(e) => panic!("{e}: {text}"),
    }
}

fn identity(text: &str) -> Policy {
    policy(text, PolicyKind::Identity)
}

fn ctx(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
        .collect()
}

fn decide(
    principal: &Principal,
    action: &str,
    resource: &str,
    context: &HashMap<String, Vec<String>>,
    identity: &[&Policy],
    resource_policy: Option<&Policy>,
) -> Evaluation {
    let request = Request {
        principal,
        action,
        resource,
        context,
    };
    evaluate(&request, identity, resource_policy)
}

fn parse_error(text: &str, kind: PolicyKind) -> String {
    match Policy::parse(text, kind) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.0,
    }
}

// ---------------------------------------------------------------------------------------
// Grammar: one test per message.

#[test]
fn grammar_messages() {
    use PolicyKind::*;
    let stmt = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#);
    let cases: Vec<(String, PolicyKind, String)> = vec![
        ("{not json".into(), Identity, messages::SYNTAX.into()),
        ("{not json".into(), Trust, messages::INVALID_JSON.into()),
        ("[]".into(), Identity, messages::SYNTAX.into()),
        (r#"{"Version":"2019-08-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#.into(), Identity, messages::SYNTAX.into()),
        (r#"{"Version":"2012-10-17","Statement":[]}"#.into(), Identity, messages::SYNTAX.into()),
        (r#"{"Version":"2012-10-17"}"#.into(), Identity, messages::SYNTAX.into()),
        (r#"{"Version":"2012-10-17","Statement":"x"}"#.into(), Identity, messages::SYNTAX.into()),
        (r#"{"Version":"2012-10-17","Extra":1,"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#.into(), Identity, messages::SYNTAX.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Foo":1}"#), Identity, messages::SYNTAX.into()),
        (stmt(r#"{"Action":"s3:*","Resource":"*"}"#), Identity, messages::SYNTAX.into()),
        (stmt(r#"{"Effect":"Permit","Action":"s3:*","Resource":"*"}"#), Identity, messages::SYNTAX.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}"#), Identity, messages::SYNTAX.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*"}"#), Identity, messages::SYNTAX.into()),
        (stmt(r#"{"Effect":"Allow","Action":{"a":1},"Resource":"*"}"#), Identity, messages::SYNTAX.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}"#), Identity, messages::SYNTAX.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":"a"}}"#), Identity, messages::SYNTAX.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:username":{"a":1}}}}"#), Identity, messages::SYNTAX.into()),
        (stmt(r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}"#), Identity, messages::PRINCIPAL_IN_IDENTITY.into()),
        (stmt(r#"{"Effect":"Allow","NotPrincipal":{"AWS":"123456789012"},"Action":"s3:*","Resource":"*"}"#), Identity, messages::PRINCIPAL_IN_IDENTITY.into()),
        (stmt(r#"{"Effect":"allow","Action":"s3:*","Resource":"*"}"#), Identity, messages::LEGACY_PARSING.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"yesterday"}}}"#), Identity, messages::LEGACY_PARSING.into()),
        (stmt(r#"{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"}"#), Identity, messages::DUPLICATE_SID.into()),
        (stmt(r#"{"Effect":"Allow","Resource":"*"}"#), Identity, messages::MISSING_ACTIONS.into()),
        (stmt(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#), Identity, messages::MISSING_ACTIONS.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*"}"#), Identity, messages::MISSING_RESOURCES.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":[]}"#), Identity, messages::MISSING_RESOURCES.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":"my-bucket"}"#), Identity, messages::resource_not_arn("my-bucket")),
        (stmt(r#"{"Effect":"Allow","Action":"GetObject","Resource":"*"}"#), Identity, messages::NO_VENDOR.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3:Get:Object","Resource":"*"}"#), Identity, messages::TWO_COLONS.into()),
        (stmt(r#"{"Effect":"Allow","Action":"s3 x:GetObject","Resource":"*"}"#), Identity, messages::invalid_vendor("s3 x")),
        (stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"username":"a"}}}"#), Identity, messages::NO_VENDOR.into()),
        (stmt(r#"{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}"#), Resource, messages::MISSING_PRINCIPAL.into()),
        (stmt(r#"{"Effect":"Allow","Principal":{},"Action":"sqs:SendMessage","Resource":"*"}"#), Resource, messages::MISSING_PRINCIPAL.into()),
        (stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#), Trust, messages::TRUST_WITHOUT_PRINCIPAL.into()),
        (stmt(r#"{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}"#), Trust, messages::TRUST_RESOURCE.into()),
        (stmt(r#"{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","NotResource":"*"}"#), Trust, messages::TRUST_NOT_RESOURCE.into()),
        (stmt(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::12345678910:role/Orchestration_Role"},"Action":"sts:AssumeRole"}"#), Trust, messages::invalid_principal("AWS", "arn:aws:iam::12345678910:role/Orchestration_Role")),
        (stmt(r#"{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}"#), Trust, messages::invalid_principal("AWS", "bob")),
        (stmt(r#"{"Effect":"Allow","Principal":{"Group":"x"},"Action":"sts:AssumeRole"}"#), Trust, messages::invalid_principal("Group", "x")),
    ];
    for (text, kind, want) in cases {
        assert_eq!(parse_error(&text, kind), want, "{text}");
    }
}

#[test]
fn grammar_accepts_what_iam_accepts() {
    let ok = [
        // No Version (read as 2008-10-17), a single statement object, `*` action.
        (
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            PolicyKind::Identity,
        ),
        (
            r#"{"Version":"2008-10-17","Id":"x","Statement":[{"Sid":"","Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:iam::*:user/*"},{"Sid":"","Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            PolicyKind::Identity,
        ),
        // Bare booleans and numbers as condition values; an unknown operator with nothing under it.
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"s3:max-keys":10},"Whatever":{}}}}"#,
            PolicyKind::Identity,
        ),
        // OIDC condition keys have dots, slashes and colons before the key.
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:o/r:*"}}}}"#,
            PolicyKind::Trust,
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:q"}}"#,
            PolicyKind::Resource,
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:root","arn:aws:iam::123456789012:role/r","arn:aws:sts::123456789012:assumed-role/r/s","*"]},"Action":"sts:AssumeRole"}}"#,
            PolicyKind::Trust,
        ),
    ];
    for (text, kind) in ok {
        if let Err(e) = Policy::parse(text, kind) {
            panic!("{e}: {text}");
        }
    }
    let p = identity(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
    assert_eq!(p.version(), None);
    assert_eq!(p.kind(), PolicyKind::Identity);
    assert!(p.document().get("Statement").is_some());
}

// ---------------------------------------------------------------------------------------
// Evaluation logic.

/// IAM user guide, "The difference between explicit and implicit denies": AllowGetList allows
/// iam:Get*/List*, DenyReports denies *Report* whatever else allows it.
#[test]
fn explicit_and_implicit_denies() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"AllowGetList","Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"},
            {"Sid":"DenyReports","Effect":"Deny","Action":"iam:*Report","Resource":"*"}]}"#,
    );
    let admin = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    );
    let u = user("mateojackson", ACCOUNT);
    let c = HashMap::new();
    let e = decide(&u, "iam:GetUser", "*", &c, &[&p], None);
    assert_eq!(
        (e.decision, e.source, e.sid.as_deref()),
        (Decision::Allow, Some(IDENTITY_BASED), Some("AllowGetList"))
    );
    // Action names are case-insensitive.
    assert_eq!(
        decide(&u, "IAM:getuser", "*", &c, &[&p], None).decision,
        Decision::Allow
    );
    let e = decide(&u, "iam:GetCredentialReport", "*", &c, &[&p, &admin], None);
    assert_eq!(
        (e.decision, e.sid.as_deref()),
        (Decision::ExplicitDeny, Some("DenyReports"))
    );
    let e = decide(&u, "iam:CreatePolicy", "*", &c, &[&p], None);
    assert_eq!(
        (e.decision, e.source, e.sid),
        (Decision::ImplicitDeny, None, None)
    );
}

/// IAM user guide, "IAM JSON policy elements: NotAction": deny everything outside IAM.
#[test]
fn not_action_and_not_resource() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Deny","NotAction":"iam:*","Resource":"*"},
            {"Effect":"Deny","Action":"iam:*","NotResource":["arn:aws:iam::*:user/${aws:username}","arn:aws:iam::*:user/${aws:username}/*"]}]}"#,
    );
    let u = user("Bob", ACCOUNT);
    let c = context_for(&u);
    let me = format!("arn:aws:iam::{ACCOUNT}:user/Bob");
    let other = format!("arn:aws:iam::{ACCOUNT}:user/Alice");
    assert_eq!(
        decide(&u, "iam:GetUser", &me, &c, &[&p], None).decision,
        Decision::Allow
    );
    assert_eq!(
        decide(&u, "iam:GetUser", &other, &c, &[&p], None).decision,
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&u, "s3:GetObject", "arn:aws:s3:::b/k", &c, &[&p], None).decision,
        Decision::ExplicitDeny
    );
}

/// Resource ARNs are case-sensitive, and `*` does not cross ARN components.
#[test]
fn resources_match_by_component_and_case() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:*:123456789012:table/Books*"}}"#,
    );
    let u = user("u", ACCOUNT);
    let c = HashMap::new();
    let arn = |t: &str| format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{t}");
    assert_eq!(
        decide(&u, "dynamodb:PutItem", &arn("Books"), &c, &[&p], None).decision,
        Decision::Allow
    );
    assert_eq!(
        decide(
            &u,
            "dynamodb:PutItem",
            &arn("Books/index/ByAuthor"),
            &c,
            &[&p],
            None
        )
        .decision,
        Decision::Allow
    );
    assert_eq!(
        decide(&u, "dynamodb:PutItem", &arn("books"), &c, &[&p], None).decision,
        Decision::ImplicitDeny
    );
    let other = format!("arn:aws:dynamodb:us-east-1:{OTHER}:table/Books");
    assert_eq!(
        decide(&u, "dynamodb:PutItem", &other, &c, &[&p], None).decision,
        Decision::ImplicitDeny
    );
}

/// DynamoDB developer guide, "Using IAM policy conditions for fine-grained access control":
/// items whose partition key is the caller's ID, only the listed attributes.
#[test]
fn dynamodb_leading_keys() {
    let p = identity(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowAccessToOnlyItemsMatchingUserID","Effect":"Allow",
            "Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query","dynamodb:PutItem","dynamodb:UpdateItem","dynamodb:DeleteItem","dynamodb:BatchWriteItem"],
            "Resource":["arn:aws:dynamodb:us-west-2:123456789012:table/GameScores"],
            "Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["${www.amazon.com:user_id}"],
                "dynamodb:Attributes":["UserId","GameTitle","Wins","Losses","TopScore","TopScoreDateTime"]},
                "StringEqualsIfExists":{"dynamodb:Select":"SPECIFIC_ATTRIBUTES"}}}]}"#,
    );
    let u = session("GameRole", ACCOUNT);
    let table = "arn:aws:dynamodb:us-west-2:123456789012:table/GameScores";
    let run = |pairs: &[(&str, &[&str])]| {
        decide(&u, "dynamodb:GetItem", table, &ctx(pairs), &[&p], None).decision
    };
    let id: &[&str] = &["amzn1.account.AF"];
    assert_eq!(
        run(&[("www.amazon.com:user_id", id), ("dynamodb:LeadingKeys", id)]),
        Decision::Allow
    );
    assert_eq!(
        run(&[
            ("www.amazon.com:user_id", id),
            ("dynamodb:LeadingKeys", id),
            ("dynamodb:Attributes", &["UserId", "Wins"]),
            ("dynamodb:Select", &["SPECIFIC_ATTRIBUTES"])
        ]),
        Decision::Allow
    );
    assert_eq!(
        run(&[
            ("www.amazon.com:user_id", id),
            ("dynamodb:LeadingKeys", &["someone-else"])
        ]),
        Decision::ImplicitDeny
    );
    assert_eq!(
        run(&[
            ("www.amazon.com:user_id", id),
            ("dynamodb:LeadingKeys", id),
            ("dynamodb:Attributes", &["UserId", "Secret"])
        ]),
        Decision::ImplicitDeny
    );
    assert_eq!(
        run(&[
            ("www.amazon.com:user_id", id),
            ("dynamodb:LeadingKeys", id),
            ("dynamodb:Select", &["ALL_ATTRIBUTES"])
        ]),
        Decision::ImplicitDeny
    );
    // Without the identity key, the variable matches nothing: only an empty key set passes
    // ForAllValues.
    assert_eq!(run(&[("dynamodb:LeadingKeys", id)]), Decision::ImplicitDeny);
}

/// Lambda developer guide, "Viewing resource-based IAM policies in Lambda": S3 may invoke the
/// function for one bucket of one account. Condition keys are case-insensitive (`AWS:SourceArn`).
#[test]
fn lambda_resource_policy_for_a_service() {
    let p = policy(
        r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"lambda-allow-s3-my-function","Effect":"Allow",
            "Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction",
            "Resource":"arn:aws:lambda:us-east-2:123456789012:function:my-function",
            "Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::amzn-s3-demo-bucket"}}}]}"#,
        PolicyKind::Resource,
    );
    let s3 = service("s3.amazonaws.com");
    let f = "arn:aws:lambda:us-east-2:123456789012:function:my-function";
    let good = ctx(&[
        ("aws:SourceAccount", &[ACCOUNT]),
        ("aws:SourceArn", &["arn:aws:s3:::amzn-s3-demo-bucket"]),
    ]);
    let e = decide(&s3, "lambda:InvokeFunction", f, &good, &[], Some(&p));
    assert_eq!(
        (e.decision, e.source, e.sid.as_deref()),
        (
            Decision::Allow,
            Some(RESOURCE_BASED),
            Some("lambda-allow-s3-my-function")
        )
    );
    let bad = ctx(&[
        ("aws:SourceAccount", &[ACCOUNT]),
        ("aws:SourceArn", &["arn:aws:s3:::other-bucket"]),
    ]);
    assert_eq!(
        decide(&s3, "lambda:InvokeFunction", f, &bad, &[], Some(&p)).decision,
        Decision::ImplicitDeny
    );
    let sns = service("sns.amazonaws.com");
    assert_eq!(
        decide(&sns, "lambda:InvokeFunction", f, &good, &[], Some(&p)).decision,
        Decision::ImplicitDeny
    );
    // A qualified ARN (a version) is another resource.
    assert_eq!(
        decide(
            &s3,
            "lambda:InvokeFunction",
            &format!("{f}:1"),
            &good,
            &[],
            Some(&p)
        )
        .decision,
        Decision::ImplicitDeny
    );
}

/// Lambda developer guide, "Granting function access to other accounts" and IAM user guide,
/// "Cross-account policy evaluation logic": the resource policy names the other account, and
/// its caller also needs an identity-based allow.
#[test]
fn cross_account_needs_both() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"xaccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},
            "Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-2:123456789012:function:my-function"}]}"#,
        PolicyKind::Resource,
    );
    let allow = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:Invoke*","Resource":"*"}}"#,
    );
    let f = "arn:aws:lambda:us-east-2:123456789012:function:my-function";
    let them = user("dev", OTHER);
    let c = HashMap::new();
    assert_eq!(
        decide(&them, "lambda:InvokeFunction", f, &c, &[&allow], Some(&p)).decision,
        Decision::Allow
    );
    let e = decide(&them, "lambda:InvokeFunction", f, &c, &[], Some(&p));
    assert_eq!(
        (e.decision, e.source),
        (Decision::ImplicitDeny, Some(IDENTITY_BASED))
    );
    let e = decide(&them, "lambda:InvokeFunction", f, &c, &[&allow], None);
    assert_eq!(
        (e.decision, e.source),
        (Decision::ImplicitDeny, Some(RESOURCE_BASED))
    );
    let req = Request {
        principal: &them,
        action: "lambda:InvokeFunction",
        resource: f,
        context: &c,
    };
    assert_eq!(
        explain(&req, &e),
        "because no resource-based policy allows the lambda:InvokeFunction action"
    );
    // A third account is named by nobody.
    let stranger = user("x", "999999999999");
    assert_eq!(
        decide(
            &stranger,
            "lambda:InvokeFunction",
            f,
            &c,
            &[&allow],
            Some(&p)
        )
        .decision,
        Decision::ImplicitDeny
    );
    // aws:ResourceAccount overrides an ARN without an account (S3).
    let bucket_policy = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:user/dev"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
        PolicyKind::Resource,
    );
    let owned = ctx(&[("aws:ResourceAccount", &[ACCOUNT])]);
    assert_eq!(
        decide(
            &them,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            &owned,
            &[],
            Some(&bucket_policy)
        )
        .decision,
        Decision::ImplicitDeny
    );
    assert_eq!(decide(&them, "s3:GetObject", "arn:aws:s3:::b/k", &owned, &[&allow, &identity(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#)], Some(&bucket_policy)).decision, Decision::Allow);
}

/// IAM user guide, "Policy evaluation for requests within a single account": either policy
/// allows. A trust policy that names the account delegates to identity policies; one that
/// names the user or role allows by itself.
#[test]
fn same_account_and_trust_policies() {
    let trust_account = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}}"#,
        PolicyKind::Trust,
    );
    let trust_user = policy(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"Bob","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/Bob"},"Action":"sts:AssumeRole"}}"#,
        PolicyKind::Trust,
    );
    let may_assume = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/*"}}"#,
    );
    let bob = user("Bob", ACCOUNT);
    let role = "arn:aws:iam::123456789012:role/Admin";
    let c = HashMap::new();
    assert_eq!(
        decide(&bob, "sts:AssumeRole", role, &c, &[], Some(&trust_account)).decision,
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &bob,
            "sts:AssumeRole",
            role,
            &c,
            &[&may_assume],
            Some(&trust_account)
        )
        .decision,
        Decision::Allow
    );
    let e = decide(&bob, "sts:AssumeRole", role, &c, &[], Some(&trust_user));
    assert_eq!(
        (e.decision, e.source, e.sid.as_deref()),
        (Decision::Allow, Some(RESOURCE_BASED), Some("Bob"))
    );
    // A role named as principal matches the role's sessions.
    let queue_policy = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/Worker"},"Action":"sqs:ReceiveMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:jobs"}}"#,
        PolicyKind::Resource,
    );
    let q = "arn:aws:sqs:us-east-1:123456789012:jobs";
    assert_eq!(
        decide(
            &session("Worker", ACCOUNT),
            "sqs:ReceiveMessage",
            q,
            &c,
            &[],
            Some(&queue_policy)
        )
        .decision,
        Decision::Allow
    );
    assert_eq!(
        decide(
            &session("Other", ACCOUNT),
            "sqs:ReceiveMessage",
            q,
            &c,
            &[],
            Some(&queue_policy)
        )
        .decision,
        Decision::ImplicitDeny
    );
    // A deny in the resource policy wins over an identity allow.
    let deny_all = policy(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"NoOne","Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*"}}"#,
        PolicyKind::Resource,
    );
    let sqs_all = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}"#,
    );
    let e = decide(&bob, "sqs:SendMessage", q, &c, &[&sqs_all], Some(&deny_all));
    assert_eq!(
        (e.decision, e.source, e.sid.as_deref()),
        (Decision::ExplicitDeny, Some(RESOURCE_BASED), Some("NoOne"))
    );
    let req = Request {
        principal: &bob,
        action: "sqs:SendMessage",
        resource: q,
        context: &c,
    };
    assert_eq!(
        explain(&req, &e),
        "with an explicit deny in a resource-based policy"
    );
}

/// SNS developer guide, "Subscribing an Amazon SQS queue to an Amazon SNS topic": the queue
/// allows the topic's service principal when aws:SourceArn is the topic.
#[test]
fn sqs_queue_policy_for_sns() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage",
            "Resource":"arn:aws:sqs:us-east-2:123456789012:MyQueue","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-2:123456789012:MyTopic"}}}]}"#,
        PolicyKind::Resource,
    );
    let q = "arn:aws:sqs:us-east-2:123456789012:MyQueue";
    let sns = service("sns.amazonaws.com");
    let topic = ctx(&[(
        "aws:SourceArn",
        &["arn:aws:sns:us-east-2:123456789012:MyTopic"],
    )]);
    assert_eq!(
        decide(&sns, "sqs:SendMessage", q, &topic, &[], Some(&p)).decision,
        Decision::Allow
    );
    let other = ctx(&[(
        "aws:SourceArn",
        &["arn:aws:sns:us-east-2:123456789012:Other"],
    )]);
    assert_eq!(
        decide(&sns, "sqs:SendMessage", q, &other, &[], Some(&p)).decision,
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&sns, "sqs:SendMessage", q, &HashMap::new(), &[], Some(&p)).decision,
        Decision::ImplicitDeny
    );
}

/// IAM user guide, "IAM JSON policy elements: Condition operators": one example per family.
#[test]
fn condition_operator_examples() {
    let u = user("Bob", ACCOUNT);
    let check = |doc: &str, action: &str, resource: &str, pairs: &[(&str, &[&str])]| {
        decide(&u, action, resource, &ctx(pairs), &[&identity(doc)], None).decision
    };
    use Decision::*;
    // String: s3:prefix under the user's home (policy variables).
    let home = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}}}"#;
    let b = "arn:aws:s3:::amzn-s3-demo-bucket";
    assert_eq!(
        check(
            home,
            "s3:ListBucket",
            b,
            &[
                ("aws:username", &["Bob"]),
                ("s3:prefix", &["home/Bob/photos"])
            ]
        ),
        Allow
    );
    assert_eq!(
        check(
            home,
            "s3:ListBucket",
            b,
            &[("aws:username", &["Bob"]), ("s3:prefix", &["home/Alice/"])]
        ),
        ImplicitDeny
    );
    assert_eq!(
        check(
            home,
            "s3:ListBucket",
            b,
            &[("aws:username", &["Bob"]), ("s3:prefix", &[""])]
        ),
        Allow
    );
    // StringEqualsIgnoreCase / StringNotEquals on an absent key (true).
    let tag = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::123456789012:user/*","Condition":{"StringEqualsIgnoreCase":{"aws:PrincipalTag/job-category":"IAMUser-Admin"}}}}"#;
    let me = "arn:aws:iam::123456789012:user/Bob";
    assert_eq!(
        check(
            tag,
            "iam:CreateAccessKey",
            me,
            &[("aws:PrincipalTag/job-category", &["iamuser-admin"])]
        ),
        Allow
    );
    assert_eq!(check(tag, "iam:CreateAccessKey", me, &[]), ImplicitDeny);
    let not_eq = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"ops"}}}}"#;
    assert_eq!(
        check(not_eq, "s3:GetObject", "arn:aws:s3:::b/k", &[]),
        Allow
    );
    assert_eq!(
        check(
            not_eq,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            &[("aws:PrincipalTag/team", &["ops"])]
        ),
        ImplicitDeny
    );
    // Numeric: s3:max-keys at most 10.
    let keys = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"}}}}"#;
    assert_eq!(
        check(keys, "s3:ListBucket", b, &[("s3:max-keys", &["10"])]),
        Allow
    );
    assert_eq!(
        check(keys, "s3:ListBucket", b, &[("s3:max-keys", &["11"])]),
        ImplicitDeny
    );
    assert_eq!(
        check(keys, "s3:ListBucket", b, &[("s3:max-keys", &["ten"])]),
        ImplicitDeny
    );
    // Date: a window of aws:CurrentTime, ISO 8601 or epoch seconds.
    let window = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}}}}"#;
    assert_eq!(
        check(
            window,
            "iam:GetUser",
            "*",
            &[("aws:CurrentTime", &["2020-05-01T12:00:00Z"])]
        ),
        Allow
    );
    assert_eq!(
        check(
            window,
            "iam:GetUser",
            "*",
            &[("aws:CurrentTime", &["1588334400"])]
        ),
        Allow
    );
    assert_eq!(
        check(
            window,
            "iam:GetUser",
            "*",
            &[("aws:CurrentTime", &["2020-07-01T00:00:00Z"])]
        ),
        ImplicitDeny
    );
    let epoch = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"DateLessThanEquals":{"aws:EpochTime":"1588334400"}}}}"#;
    assert_eq!(
        check(
            epoch,
            "iam:GetUser",
            "*",
            &[("aws:EpochTime", &["1588334400"])]
        ),
        Allow
    );
    // Bool: deny requests that do not use TLS.
    let tls = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"TLS","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    assert_eq!(
        check(
            tls,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            &[("aws:SecureTransport", &["false"])]
        ),
        ExplicitDeny
    );
    assert_eq!(
        check(
            tls,
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            &[("aws:SecureTransport", &["true"])]
        ),
        Allow
    );
    // IpAddress / NotIpAddress.
    let ip = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}}}"#;
    assert_eq!(
        check(
            ip,
            "s3:GetObject",
            "*",
            &[("aws:SourceIp", &["203.0.113.9"])]
        ),
        ImplicitDeny
    );
    assert_eq!(
        check(
            ip,
            "s3:GetObject",
            "*",
            &[("aws:SourceIp", &["198.51.100.1"])]
        ),
        ExplicitDeny
    );
    // Null: deny when temporary credentials' issue time is absent... and allow when present.
    let null = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"false"}}}}"#;
    assert_eq!(
        check(
            null,
            "ec2:RunInstances",
            "*",
            &[("aws:TokenIssueTime", &["2020-01-01T00:00:00Z"])]
        ),
        Allow
    );
    assert_eq!(check(null, "ec2:RunInstances", "*", &[]), ImplicitDeny);
    // ...IfExists: true when absent, the operator when present.
    let ife = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*","Condition":{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}}}"#;
    assert_eq!(check(ife, "ec2:RunInstances", "*", &[]), Allow);
    assert_eq!(
        check(
            ife,
            "ec2:RunInstances",
            "*",
            &[("ec2:InstanceType", &["t2.micro"])]
        ),
        Allow
    );
    assert_eq!(
        check(
            ife,
            "ec2:RunInstances",
            "*",
            &[("ec2:InstanceType", &["p4d.24xlarge"])]
        ),
        ImplicitDeny
    );
    // ArnNotLike on an absent key is true.
    let arn_not = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*","Condition":{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:blocked"}}}}"#;
    assert_eq!(check(arn_not, "sqs:SendMessage", "*", &[]), Allow);
    assert_eq!(
        check(
            arn_not,
            "sqs:SendMessage",
            "*",
            &[("aws:SourceArn", &["arn:aws:sns:us-east-1:1:blocked"])]
        ),
        ImplicitDeny
    );
    // BinaryEquals compares the base64 text.
    let bin = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"BinaryEquals":{"s3:key":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}}}"#;
    assert_eq!(
        check(
            bin,
            "s3:GetObject",
            "*",
            &[("s3:key", &["QmluYXJ5VmFsdWVJbkJhc2U2NA=="])]
        ),
        Allow
    );
    // Several keys AND, several values OR.
    let and_or = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"],"aws:PrincipalAccount":"123456789012"}}}}"#;
    assert_eq!(
        check(
            and_or,
            "s3:GetObject",
            "*",
            &[
                ("aws:RequestedRegion", &["eu-west-1"]),
                ("aws:PrincipalAccount", &[ACCOUNT])
            ]
        ),
        Allow
    );
    assert_eq!(
        check(
            and_or,
            "s3:GetObject",
            "*",
            &[("aws:RequestedRegion", &["eu-west-1"])]
        ),
        ImplicitDeny
    );
}

/// IAM user guide, "Set operators for multivalued context keys" and "Examples of condition
/// policies": ForAllValues is true for an absent key, ForAnyValue false.
#[test]
fn set_operators() {
    let u = user("Bob", ACCOUNT);
    let check = |doc: &str, pairs: &[(&str, &[&str])]| {
        decide(
            &u,
            "ec2:CreateTags",
            "*",
            &ctx(pairs),
            &[&identity(doc)],
            None,
        )
        .decision
    };
    use Decision::*;
    let all = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}}"#;
    assert_eq!(check(all, &[("aws:TagKeys", &["environment"])]), Allow);
    assert_eq!(
        check(all, &[("aws:TagKeys", &["environment", "cost-center"])]),
        Allow
    );
    assert_eq!(
        check(all, &[("aws:TagKeys", &["environment", "owner"])]),
        ImplicitDeny
    );
    assert_eq!(check(all, &[]), Allow);
    let any = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}}"#;
    assert_eq!(
        check(any, &[("aws:TagKeys", &["owner", "environment"])]),
        Allow
    );
    assert_eq!(check(any, &[("aws:TagKeys", &["owner"])]), ImplicitDeny);
    assert_eq!(check(any, &[]), ImplicitDeny);
    // The documented guard: ForAllValues with a Null check so an absent key does not pass.
    let guarded = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["key1*"]},"Null":{"aws:TagKeys":"false"}}}}"#;
    assert_eq!(
        check(guarded, &[("aws:TagKeys", &["key1a", "key1b"])]),
        Allow
    );
    assert_eq!(check(guarded, &[]), ImplicitDeny);
    // ForAnyValue with a negated operator: some value outside the list.
    let any_not = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["environment"]}}}}"#;
    assert_eq!(
        check(any_not, &[("aws:TagKeys", &["environment", "owner"])]),
        ExplicitDeny
    );
    assert_eq!(
        check(any_not, &[("aws:TagKeys", &["environment"])]),
        ImplicitDeny
    );
}

/// IAM user guide, "IAM policy elements: Variables and tags": variables only in 2012-10-17
/// documents; `${*}`, `${?}`, `${$}` are the characters themselves.
#[test]
fn policy_variables() {
    let u = user("Bob", ACCOUNT);
    let c = context_for(&u);
    let doc = |version: &str| {
        identity(&format!(
            r#"{{"Version":"{version}","Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${{aws:username}}/*"}}}}"#
        ))
    };
    let (new, old) = (doc("2012-10-17"), doc("2008-10-17"));
    assert_eq!(
        decide(
            &u,
            "s3:GetObject",
            "arn:aws:s3:::b/Bob/x",
            &c,
            &[&new],
            None
        )
        .decision,
        Decision::Allow
    );
    assert_eq!(
        decide(
            &u,
            "s3:GetObject",
            "arn:aws:s3:::b/Alice/x",
            &c,
            &[&new],
            None
        )
        .decision,
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &u,
            "s3:GetObject",
            "arn:aws:s3:::b/Bob/x",
            &c,
            &[&old],
            None
        )
        .decision,
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &u,
            "s3:GetObject",
            "arn:aws:s3:::b/${aws:username}/x",
            &c,
            &[&old],
            None
        )
        .decision,
        Decision::Allow
    );
    // An absent key makes the resource match nothing.
    let none = HashMap::new();
    assert_eq!(
        decide(
            &u,
            "s3:GetObject",
            "arn:aws:s3:::b/Bob/x",
            &none,
            &[&new],
            None
        )
        .decision,
        Decision::ImplicitDeny
    );
    let star = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${*}"}}"#,
    );
    assert_eq!(
        decide(
            &u,
            "s3:GetObject",
            "arn:aws:s3:::b/*",
            &none,
            &[&star],
            None
        )
        .decision,
        Decision::Allow
    );
    assert_eq!(
        decide(
            &u,
            "s3:GetObject",
            "arn:aws:s3:::b/x",
            &none,
            &[&star],
            None
        )
        .decision,
        Decision::ImplicitDeny
    );
    // In condition values too, with the principal's ARN.
    let cond = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*","Condition":{"StringEquals":{"sqs:tag/owner":"${aws:PrincipalArn}"}}}}"#,
    );
    let mut tagged = c.clone();
    tagged.insert("sqs:tag/owner".into(), vec![u.arn.clone()]);
    assert_eq!(
        decide(&u, "sqs:SendMessage", "*", &tagged, &[&cond], None).decision,
        Decision::Allow
    );
}

#[test]
fn explain_texts() {
    let u = user("mateojackson", ACCOUNT);
    let c = HashMap::new();
    let req = Request {
        principal: &u,
        action: "codecommit:ListRepositories",
        resource: "*",
        context: &c,
    };
    let implicit = evaluate(&req, &[], None);
    assert_eq!(
        explain(&req, &implicit),
        "because no identity-based policy allows the codecommit:ListRepositories action"
    );
    assert_eq!(
        access_denied_message(&req, &implicit),
        "User: arn:aws:iam::123456789012:user/mateojackson is not authorized to perform: codecommit:ListRepositories because no identity-based policy allows the codecommit:ListRepositories action"
    );
    let deny = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#,
    );
    let explicit = evaluate(&req, &[&deny], None);
    assert_eq!(
        explain(&req, &explicit),
        "with an explicit deny in an identity-based policy"
    );
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/Books";
    let put = Request {
        principal: &u,
        action: "dynamodb:PutItem",
        resource: table,
        context: &c,
    };
    assert_eq!(
        access_denied_message(&put, &evaluate(&put, &[&deny], None)),
        format!("User: {} is not authorized to perform: dynamodb:PutItem on resource: {table} with an explicit deny in an identity-based policy", u.arn)
    );
}

#[test]
fn service_principals_in_trust_policies() {
    let trust = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com","edgelambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#,
        PolicyKind::Trust,
    );
    assert!(trust.allows_service_principal("lambda.amazonaws.com"));
    assert!(!trust.allows_service_principal("ec2.amazonaws.com"));
    let denied = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:*"},{"Effect":"Deny","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        PolicyKind::Trust,
    );
    assert!(!denied.allows_service_principal("lambda.amazonaws.com"));
    assert!(denied.allows_service_principal("ec2.amazonaws.com"));
    let e = decide(
        &service("lambda.amazonaws.com"),
        "sts:AssumeRole",
        "arn:aws:iam::123456789012:role/exec",
        &HashMap::new(),
        &[],
        Some(&trust),
    );
    assert_eq!(e.decision, Decision::Allow);
}

#[test]
fn not_principal() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::123456789012:user/Bob","arn:aws:iam::123456789012:root"]},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}}"#,
        PolicyKind::Resource,
    );
    let all = identity(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    );
    let c = HashMap::new();
    assert_eq!(
        decide(
            &user("Bob", ACCOUNT),
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            &c,
            &[&all],
            Some(&p)
        )
        .decision,
        Decision::Allow
    );
    assert_eq!(
        decide(
            &user("Eve", OTHER),
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            &c,
            &[&all],
            Some(&p)
        )
        .decision,
        Decision::ExplicitDeny
    );
}

#[test]
fn context_from_principals() {
    let bob = context_for(&user("Bob", ACCOUNT));
    assert_eq!(bob.get("aws:username"), Some(&vec!["Bob".to_owned()]));
    assert_eq!(
        bob.get("aws:PrincipalAccount"),
        Some(&vec![ACCOUNT.to_owned()])
    );
    assert_eq!(bob.get("aws:PrincipalType"), Some(&vec!["User".to_owned()]));
    let s = context_for(&session("Worker", ACCOUNT));
    assert_eq!(
        s.get("aws:PrincipalArn"),
        Some(&vec![format!("arn:aws:iam::{ACCOUNT}:role/Worker")])
    );
    assert_eq!(s.get("aws:username"), None);
    let root = context_for(&Principal {
        arn: format!("arn:aws:iam::{ACCOUNT}:root"),
        account: ACCOUNT.into(),
        kind: PrincipalKind::Root,
    });
    assert_eq!(root.get("aws:userid"), Some(&vec![ACCOUNT.to_owned()]));
    let svc = context_for(&service("lambda.amazonaws.com"));
    assert_eq!(
        svc.get("aws:PrincipalServiceName"),
        Some(&vec!["lambda.amazonaws.com".to_owned()])
    );
}

// ---------------------------------------------------------------------------------------
// Properties.

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        Just("s3:*".to_owned()),
        Just("s3:Get*".to_owned()),
        Just("dynamodb:PutItem".to_owned()),
        Just("sqs:?endMessage".to_owned()),
        "[a-z0-9]{1,4}:[A-Za-z*?]{1,6}",
    ]
}

fn resource_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        Just("arn:aws:s3:::b/*".to_owned()),
        Just("arn:aws:dynamodb:*:*:table/${aws:username}".to_owned()),
        Just("arn:aws:sqs:us-east-1:123456789012:*".to_owned()),
        "arn:aws:[a-z0-9*]{1,3}:[a-z0-9*-]{0,3}:[0-9*]{0,3}:[a-z/*?]{0,6}",
    ]
}

fn condition() -> impl Strategy<Value = String> {
    let op = prop_oneof![
        Just("StringEquals"),
        Just("StringNotLike"),
        Just("ForAllValues:StringLike"),
        Just("ForAnyValue:StringEquals"),
        Just("NumericLessThan"),
        Just("DateGreaterThanIfExists"),
        Just("Bool"),
        Just("IpAddress"),
        Just("Null"),
        Just("ArnLike"),
    ];
    let key = prop_oneof![
        Just("aws:username"),
        Just("s3:prefix"),
        Just("aws:SourceIp"),
        Just("aws:TagKeys")
    ];
    let value = prop_oneof![
        Just("Bob".to_owned()),
        Just("true".to_owned()),
        Just("10".to_owned()),
        Just("2020-01-01T00:00:00Z".to_owned()),
        Just("10.0.0.0/8".to_owned()),
        Just("${aws:username}*".to_owned()),
        "[a-z0-9*?]{0,5}",
    ];
    (op, key, value).prop_map(|(op, key, value)| {
        if op.starts_with("Date") && !value.contains('-') {
            return String::new();
        }
        format!(r#","Condition":{{"{op}":{{"{key}":"{value}"}}}}"#)
    })
}

fn statement(effect: &'static str) -> impl Strategy<Value = String> {
    (
        pattern(),
        resource_pattern(),
        proptest::option::of(condition()),
        any::<bool>(),
    )
        .prop_map(move |(action, resource, condition, not)| {
            let action_key = if not { "NotAction" } else { "Action" };
            format!(
                r#"{{"Effect":"{effect}","{action_key}":"{action}","Resource":"{resource}"{}}}"#,
                condition.unwrap_or_default()
            )
        })
}

fn doc(statements: Vec<String>) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

fn request_parts() -> impl Strategy<Value = (String, String, Vec<(String, String)>)> {
    let action = prop_oneof![
        Just("s3:GetObject".to_owned()),
        Just("dynamodb:PutItem".to_owned()),
        Just("sqs:SendMessage".to_owned()),
        "[a-z0-9]{1,4}:[A-Za-z]{1,6}",
    ];
    let resource = prop_oneof![
        Just("arn:aws:s3:::b/k".to_owned()),
        Just("arn:aws:dynamodb:us-east-1:123456789012:table/Bob".to_owned()),
        Just("arn:aws:sqs:us-east-1:123456789012:q".to_owned()),
        "arn:aws:[a-z0-9]{1,3}:[a-z0-9-]{0,3}:[0-9]{0,3}:[a-z/]{0,6}",
    ];
    let pairs = proptest::collection::vec(
        (
            prop_oneof![
                Just("aws:username".to_owned()),
                Just("s3:prefix".to_owned()),
                Just("aws:SourceIp".to_owned()),
                Just("aws:TagKeys".to_owned())
            ],
            prop_oneof![
                Just("Bob".to_owned()),
                Just("10.1.2.3".to_owned()),
                Just("5".to_owned()),
                "[a-z0-9*]{0,5}"
            ],
        ),
        0..4,
    );
    (action, resource, pairs)
}

fn context_of(pairs: &[(String, String)]) -> HashMap<String, Vec<String>> {
    let mut c: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        c.entry(k.clone()).or_default().push(v.clone());
    }
    c
}

proptest! {
    // More cases than the default: about a fifth of the arbitrary documents parse.
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// An explicit deny that covers the request wins, whatever else is attached, identity or
    /// resource side.
    #[test]
    fn explicit_deny_always_wins(
        allows in proptest::collection::vec(statement("Allow"), 1..4),
        (action, resource, pairs) in request_parts(),
        deny_in_resource in any::<bool>(),
    ) {
        let u = user("Bob", ACCOUNT);
        let c = context_of(&pairs);
        let allow = identity(&doc(allows.clone()));
        let grant_all = policy(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#, PolicyKind::Resource);
        let e = if deny_in_resource {
            let deny = policy(r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}"#, PolicyKind::Resource);
            decide(&u, &action, &resource, &c, &[&allow], Some(&deny))
        } else {
            let deny = identity(r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#);
            decide(&u, &action, &resource, &c, &[&allow, &deny], Some(&grant_all))
        };
        prop_assert_eq!(e.decision, Decision::ExplicitDeny);
    }

    /// Adding an Allow statement (to an attached policy, or as a new one) never turns an
    /// allowed request into a denied one.
    #[test]
    fn adding_an_allow_never_denies(
        mut statements in proptest::collection::vec(prop_oneof![statement("Allow"), statement("Deny")], 1..5),
        extra in statement("Allow"),
        (action, resource, pairs) in request_parts(),
    ) {
        let u = user("Bob", ACCOUNT);
        let c = context_of(&pairs);
        let before = identity(&doc(statements.clone()));
        let was = decide(&u, &action, &resource, &c, &[&before], None).decision;
        statements.push(extra.clone());
        let after = identity(&doc(statements));
        let beside = identity(&doc(vec![extra]));
        let now = decide(&u, &action, &resource, &c, &[&after], None).decision;
        let with_second = decide(&u, &action, &resource, &c, &[&before, &beside], None).decision;
        if was == Decision::Allow {
            prop_assert_eq!(now, Decision::Allow);
            prop_assert_eq!(with_second, Decision::Allow);
        }
    }

    /// No JSON document that parses, of any kind, makes evaluation panic.
    #[test]
    fn evaluation_never_panics(
        value in arbitrary_json(),
        (action, resource, pairs) in request_parts(),
    ) {
        let text = value.to_string();
        let c = context_of(&pairs);
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
            if let Ok(p) = Policy::parse(&text, kind) {
                for principal in [user("Bob", ACCOUNT), session("R", OTHER), service("s3.amazonaws.com")] {
                    let request = Request { principal: &principal, action: &action, resource: &resource, context: &c };
                    let e = match kind {
                        PolicyKind::Identity => evaluate(&request, &[&p], None),
                        _ => evaluate(&request, &[], Some(&p)),
                    };
                    let _ = explain(&request, &e);
                }
                let _ = p.allows_service_principal("lambda.amazonaws.com");
            }
        }
    }
}

proptest! {
    /// Resource and trust documents built from valid pieces (so they do parse) with random
    /// principals evaluate without panicking, and explain themselves.
    #[test]
    fn resource_documents_evaluate(
        statements in proptest::collection::vec(prop_oneof![statement("Allow"), statement("Deny")], 1..4),
        principal in prop_oneof![
            Just(r#""*""#.to_owned()),
            Just(r#"{"AWS":"*"}"#.to_owned()),
            Just(r#"{"AWS":"123456789012"}"#.to_owned()),
            Just(r#"{"AWS":["arn:aws:iam::210987654321:root","arn:aws:iam::123456789012:user/Bob"]}"#.to_owned()),
            Just(r#"{"Service":"s3.amazonaws.com"}"#.to_owned()),
        ],
        not in any::<bool>(),
        (action, resource, pairs) in request_parts(),
    ) {
        let key = if not { "NotPrincipal" } else { "Principal" };
        let with_principal: Vec<String> = statements
            .iter()
            .map(|s| s.replacen('{', &format!(r#"{{"{key}":{principal},"#), 1))
            .collect();
        let text = doc(with_principal);
        let p = Policy::parse(&text, PolicyKind::Resource);
        prop_assert!(p.is_ok(), "{:?}: {}", p.err(), text);
        let c = context_of(&pairs);
        if let Ok(p) = p {
            for who in [user("Bob", ACCOUNT), session("R", OTHER), service("s3.amazonaws.com")] {
                let request = Request { principal: &who, action: &action, resource: &resource, context: &c };
                let e = evaluate(&request, &[], Some(&p));
                prop_assert_eq!(explain(&request, &e).is_empty(), e.decision == Decision::Allow);
            }
        }
    }
}

/// JSON shaped like a policy, each element usually of the right type but with random text in
/// it (patterns, ARNs with variables, principals, operators, condition values), sometimes of a
/// wrong type or with an extra element; a good share of them parse as some kind of policy.
fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    let text = || {
        prop_oneof![
            Just("*".to_owned()),
            Just("s3:*".to_owned()),
            Just("s3:Get?bject".to_owned()),
            Just("arn:aws:s3:::b/${aws:username}/*".to_owned()),
            Just("arn:aws:sqs:*:123456789012:${".to_owned()),
            Just("arn:aws:s3:::${aws:username, 'x'}${*}${?}${$}".to_owned()),
            Just("123456789012".to_owned()),
            Just("arn:aws:iam::123456789012:root".to_owned()),
            Just("2020-01-01T00:00:00Z".to_owned()),
            Just("10.0.0.0/8".to_owned()),
            "[a-z0-9]{1,4}:[ -~]{0,8}",
            "arn:[ -~]{0,16}",
            "\\PC{0,6}",
        ]
    };
    let scalar = prop_oneof![
        8 => text().prop_map(Value::String),
        2 => any::<bool>().prop_map(Value::Bool),
        2 => any::<i32>().prop_map(Value::from),
        1 => Just(Value::Null),
    ];
    let list = |s: BoxedStrategy<Value>| {
        prop_oneof![
            s.clone(),
            proptest::collection::vec(s, 0..3).prop_map(Value::Array),
        ]
    };
    let strings = list(text().prop_map(Value::String).boxed());
    let action = prop_oneof![
        6 => prop_oneof![Just("*"), Just("s3:*"), Just("s3:Get?bject"), Just("sts:AssumeRole"), Just("dynamodb:*Item")]
            .prop_map(|a| Value::String(a.to_owned())),
        1 => text().prop_map(Value::String),
    ];
    let actions = prop_oneof![
        3 => action.clone(),
        1 => proptest::collection::vec(action, 0..3).prop_map(Value::Array),
    ];
    let resource = prop_oneof![
        6 => prop_oneof![
            Just("*"),
            Just("arn:aws:s3:::b/${aws:username}/*"),
            Just("arn:aws:sqs:*:123456789012:${"),
            Just("arn:aws:s3:::${aws:username, 'x'}${*}${?}${$}"),
            Just("arn:aws:dynamodb:us-east-1:123456789012:table/*"),
        ]
        .prop_map(|a| Value::String(a.to_owned())),
        1 => text().prop_map(Value::String),
    ];
    let resources = prop_oneof![
        3 => resource.clone(),
        1 => proptest::collection::vec(resource, 0..3).prop_map(Value::Array),
    ];
    let values = list(scalar.boxed());
    let operator = prop_oneof![
        Just("StringEquals".to_owned()),
        Just("StringNotLikeIfExists".to_owned()),
        Just("ForAllValues:StringLike".to_owned()),
        Just("ForAnyValue:ArnNotEquals".to_owned()),
        Just("NumericGreaterThan".to_owned()),
        Just("DateLessThanEquals".to_owned()),
        Just("BoolIfExists".to_owned()),
        Just("NotIpAddress".to_owned()),
        Just("BinaryEquals".to_owned()),
        Just("Null".to_owned()),
        "[A-Za-z:]{1,12}",
    ]
    .boxed();
    let key = prop_oneof![
        3 => Just("aws:username".to_owned()),
        3 => Just("AWS:SourceArn".to_owned()),
        3 => Just("aws:SourceIp".to_owned()),
        1 => Just("aws:CurrentTime".to_owned()),
        1 => "[a-z]{0,3}:?[ -~]{0,6}",
    ];
    let condition = proptest::collection::btree_map(
        operator,
        proptest::collection::btree_map(key, values, 0..3),
        0..3,
    )
    .prop_map(|m| json!(m));
    let principal = prop_oneof![
        Just(json!("*")),
        Just(json!({"AWS": ["123456789012", "arn:aws:iam::123456789012:user/Bob"]})),
        Just(json!({"Service": "s3.amazonaws.com"})),
        strings.clone().prop_map(|v| json!({ "AWS": v })),
        strings.clone().prop_map(|v| json!({ "Service": v })),
        strings
            .clone()
            .prop_map(|v| json!({ "Federated": v, "AWS": "*" })),
        text().prop_map(Value::String),
    ];
    let effect = prop_oneof![
        8 => Just(json!("Allow")),
        8 => Just(json!("Deny")),
        1 => Just(json!("allow")),
        1 => text().prop_map(Value::String),
    ];
    let statement = (
        effect,
        proptest::option::weighted(0.95, actions),
        any::<bool>(),
        proptest::option::weighted(0.7, resources),
        any::<bool>(),
        proptest::option::weighted(0.6, principal),
        any::<bool>(),
        proptest::option::weighted(0.5, condition),
        proptest::option::weighted(0.2, text()),
    )
        .prop_map(
            |(
                effect,
                action,
                not_action,
                resource,
                not_resource,
                principal,
                not_principal,
                condition,
                sid,
            )| {
                let mut m = serde_json::Map::new();
                m.insert("Effect".into(), effect);
                let name =
                    |not: bool, a: &str, b: &str| if not { b.to_owned() } else { a.to_owned() };
                if let Some(a) = action {
                    m.insert(name(not_action, "Action", "NotAction"), a);
                }
                if let Some(r) = resource {
                    m.insert(name(not_resource, "Resource", "NotResource"), r);
                }
                if let Some(p) = principal {
                    m.insert(name(not_principal, "Principal", "NotPrincipal"), p);
                }
                if let Some(c) = condition {
                    m.insert("Condition".into(), c);
                }
                if let Some(s) = sid {
                    m.insert("Sid".into(), Value::String(s));
                }
                Value::Object(m)
            },
        );
    let version = prop_oneof![
        2 => Just(None),
        6 => Just(Some(json!("2012-10-17"))),
        2 => Just(Some(json!("2008-10-17"))),
        1 => text().prop_map(|t| Some(Value::String(t))),
    ];
    let statements = prop_oneof![
        statement.clone(),
        proptest::collection::vec(statement, 0..3).prop_map(Value::Array),
    ];
    (
        version,
        statements,
        proptest::option::weighted(0.05, text()),
    )
        .prop_map(|(version, statements, extra)| {
            let mut m = serde_json::Map::new();
            if let Some(v) = version {
                m.insert("Version".into(), v);
            }
            m.insert("Statement".into(), statements);
            if let Some(e) = extra {
                m.insert(e, Value::Null);
            }
            Value::Object(m)
        })
}

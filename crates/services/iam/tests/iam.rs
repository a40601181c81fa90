//! IAM through `Service::call`, as the gateway calls it: real query-protocol requests against
//! an in-memory store (and an on-disk one for the restart test), answers checked against the
//! model's output shapes by `common::call`.

mod common;

use std::sync::Arc;

use common::{call, call_allowing, caller, default_caller, url_decode, Answer};
use tributary_iam::{Directory, Iam, IamConfig, KeyStatus};
use tributary_model::ManualClock;
use tributary_policy::{Principal, PrincipalKind};
use tributary_service::Caller;
use tributary_shapes::generated::iam::SERVICE;
use tributary_store::Store;

const T0: i64 = 1_700_000_000_000;
const ACCOUNT: &str = "000000000000";

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}"#;
const POLICY_2: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}"#;

struct H {
    iam: Iam,
    clock: Arc<ManualClock>,
    store: Store,
}

fn harness() -> H {
    let clock = ManualClock::new(T0);
    let store = Store::open(None, clock.clone()).expect("an in-memory store");
    H {
        iam: Iam::new(store.clone(), clock.clone(), IamConfig::default()),
        clock,
        store,
    }
}

impl H {
    async fn call(&self, pairs: &[(&str, &str)]) -> Answer {
        call(&self.iam, &SERVICE, "iam", Some(default_caller()), pairs).await
    }

    async fn call_as(&self, who: Option<Caller>, pairs: &[(&str, &str)]) -> Answer {
        call(&self.iam, &SERVICE, "iam", who, pairs).await
    }

    async fn create_role(&self, name: &str, path: &str) -> Answer {
        let a = self
            .call(&[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", name),
                ("Path", path),
                ("AssumeRolePolicyDocument", TRUST),
            ])
            .await;
        a.ok();
        a
    }

    async fn create_policy(&self, name: &str) -> String {
        let a = self
            .call(&[
                ("Action", "CreatePolicy"),
                ("PolicyName", name),
                ("PolicyDocument", POLICY),
                ("Description", "reads items"),
            ])
            .await;
        a.ok();
        a.text("Policy/Arn").to_owned()
    }

    fn directory(&self) -> Directory {
        self.iam.directory()
    }
}

fn is_id(s: &str, prefix: &str, len: usize) -> bool {
    s.len() == prefix.len() + len
        && s.starts_with(prefix)
        && s[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[tokio::test]
async fn roles_are_created_read_updated_and_deleted() {
    let h = harness();
    let a = h.create_role("Lambda-Exec", "/service/").await;
    let arn = a.text("Role/Arn").to_owned();
    assert_eq!(arn, "arn:aws:iam::000000000000:role/service/Lambda-Exec");
    assert!(is_id(a.text("Role/RoleId"), "AROA", 17), "{}", a.body);
    assert_eq!(a.text("Role/Path"), "/service/");
    assert_eq!(a.text("Role/CreateDate"), "2023-11-14T22:13:20Z");
    assert_eq!(url_decode(a.text("Role/AssumeRolePolicyDocument")), TRUST);
    assert!(a
        .text("Role/AssumeRolePolicyDocument")
        .starts_with("%7B%22Version%22"));

    // Names are not distinguished by case.
    let g = h
        .call(&[("Action", "GetRole"), ("RoleName", "lambda-exec")])
        .await;
    g.ok();
    assert_eq!(g.text("Role/RoleName"), "Lambda-Exec");
    assert_eq!(g.text("Role/MaxSessionDuration"), "3600");
    assert!(g.result().at("Role/RoleLastUsed").is_some());

    h.call(&[
        ("Action", "CreateRole"),
        ("RoleName", "LAMBDA-EXEC"),
        ("AssumeRolePolicyDocument", TRUST),
    ])
    .await
    .error(
        409,
        "EntityAlreadyExists",
        "Role with name LAMBDA-EXEC already exists.",
    );

    h.call(&[("Action", "GetRole"), ("RoleName", "nope")])
        .await
        .error(
            404,
            "NoSuchEntity",
            "The role with name nope cannot be found.",
        );

    h.call(&[
        ("Action", "UpdateRole"),
        ("RoleName", "Lambda-Exec"),
        ("MaxSessionDuration", "7200"),
        ("Description", "runs functions"),
    ])
    .await
    .ok();
    let g = h
        .call(&[("Action", "GetRole"), ("RoleName", "Lambda-Exec")])
        .await;
    assert_eq!(g.text("Role/MaxSessionDuration"), "7200");
    assert_eq!(g.text("Role/Description"), "runs functions");

    let u = h
        .call(&[
            ("Action", "UpdateRoleDescription"),
            ("RoleName", "Lambda-Exec"),
            ("Description", "still runs functions"),
        ])
        .await;
    u.ok();
    assert_eq!(u.text("Role/Description"), "still runs functions");

    h.call(&[
        ("Action", "UpdateRole"),
        ("RoleName", "Lambda-Exec"),
        ("MaxSessionDuration", "60"),
    ])
    .await
    .error(
        400,
        "ValidationError",
        "1 validation error detected: Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600",
    );

    let trust2 = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
    h.call(&[
        ("Action", "UpdateAssumeRolePolicy"),
        ("RoleName", "Lambda-Exec"),
        ("PolicyDocument", trust2),
    ])
    .await
    .ok();
    let g = h
        .call(&[("Action", "GetRole"), ("RoleName", "Lambda-Exec")])
        .await;
    assert_eq!(url_decode(g.text("Role/AssumeRolePolicyDocument")), trust2);
    assert_eq!(
        h.directory().role_by_arn(&arn).unwrap().trust_document,
        trust2
    );

    h.call(&[
        ("Action", "UpdateAssumeRolePolicy"),
        ("RoleName", "Lambda-Exec"),
        ("PolicyDocument", "{not json"),
    ])
    .await
    .error_code(400, "MalformedPolicyDocument");
    h.call(&[
        ("Action", "UpdateAssumeRolePolicy"),
        ("RoleName", "ghost"),
        ("PolicyDocument", TRUST),
    ])
    .await
    .error(
        404,
        "NoSuchEntity",
        "The role with name ghost cannot be found.",
    );

    h.call(&[("Action", "DeleteRole"), ("RoleName", "Lambda-Exec")])
        .await
        .ok();
    h.call(&[("Action", "GetRole"), ("RoleName", "Lambda-Exec")])
        .await
        .error_code(404, "NoSuchEntity");
    h.call(&[("Action", "DeleteRole"), ("RoleName", "Lambda-Exec")])
        .await
        .error(
            404,
            "NoSuchEntity",
            "The role with name Lambda-Exec cannot be found.",
        );
    assert!(h.directory().role_by_arn(&arn).is_none());
}

#[tokio::test]
async fn create_role_checks_its_input() {
    let h = harness();
    h.call(&[
        ("Action", "CreateRole"),
        ("RoleName", "bad name"),
        ("AssumeRolePolicyDocument", TRUST),
    ])
    .await
    .error(
        400,
        "ValidationError",
        r"1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+",
    );
    h.call(&[("Action", "CreateRole"), ("RoleName", "r")])
        .await
        .error(
            400,
            "ValidationError",
            "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null",
        );
    h.call(&[
        ("Action", "CreateRole"),
        ("RoleName", "r"),
        ("AssumeRolePolicyDocument", "not a policy"),
    ])
    .await
    .error_code(400, "MalformedPolicyDocument");
    h.call(&[
        ("Action", "CreateRole"),
        ("RoleName", "r"),
        ("Path", "no-slashes"),
        ("AssumeRolePolicyDocument", TRUST),
    ])
    .await
    .error_code(400, "ValidationError");
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Principal":{{"Service":"lambda.amazonaws.com"}},"Action":"sts:AssumeRole"}}]}}"#,
        "x".repeat(2100)
    );
    h.call(&[
        ("Action", "CreateRole"),
        ("RoleName", "r"),
        ("AssumeRolePolicyDocument", &big),
    ])
    .await
    .error(
        409,
        "LimitExceeded",
        "Cannot exceed quota for ACLSizePerRole: 2048",
    );
    let b = h
        .call(&[
            ("Action", "CreateRole"),
            ("RoleName", "bounded"),
            ("AssumeRolePolicyDocument", TRUST),
            (
                "PermissionsBoundary",
                "arn:aws:iam::aws:policy/AmazonSQSFullAccess",
            ),
        ])
        .await;
    b.ok();
    let g = h
        .call(&[("Action", "GetRole"), ("RoleName", "bounded")])
        .await;
    assert_eq!(
        g.text("Role/PermissionsBoundary/PermissionsBoundaryArn"),
        "arn:aws:iam::aws:policy/AmazonSQSFullAccess"
    );
    assert_eq!(
        g.text("Role/PermissionsBoundary/PermissionsBoundaryType"),
        "Policy"
    );
    // Nothing was half-created.
    h.call(&[("Action", "GetRole"), ("RoleName", "r")])
        .await
        .error_code(404, "NoSuchEntity");
}

#[tokio::test]
async fn each_document_is_checked_against_its_own_grammar() {
    let h = harness();
    // An identity policy (no Principal, a Resource) is no trust policy.
    h.call(&[
        ("Action", "CreateRole"),
        ("RoleName", "r"),
        ("AssumeRolePolicyDocument", POLICY),
    ])
    .await
    .error_code(400, "MalformedPolicyDocument");
    h.create_role("r", "/").await;
    // And a trust policy is no identity policy.
    h.call(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "r"),
        ("PolicyName", "p"),
        ("PolicyDocument", TRUST),
    ])
    .await
    .error_code(400, "MalformedPolicyDocument");
    h.call(&[
        ("Action", "CreatePolicy"),
        ("PolicyName", "p"),
        ("PolicyDocument", TRUST),
    ])
    .await
    .error_code(400, "MalformedPolicyDocument");
    h.call(&[
        ("Action", "UpdateAssumeRolePolicy"),
        ("RoleName", "r"),
        ("PolicyDocument", POLICY),
    ])
    .await
    .error_code(400, "MalformedPolicyDocument");
}

#[tokio::test]
async fn list_roles_pages_and_filters_by_path() {
    let h = harness();
    for (name, path) in [
        ("alpha", "/"),
        ("Bravo", "/svc/"),
        ("charlie", "/"),
        ("delta", "/svc/inner/"),
        ("echo", "/"),
    ] {
        h.create_role(name, path).await;
    }
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut pairs = vec![("Action", "ListRoles"), ("MaxItems", "2")];
        if let Some(m) = &marker {
            pairs.push(("Marker", m.as_str()));
        }
        let a = h.call(&pairs).await;
        a.ok();
        pages += 1;
        let roles = a.result().members("Roles");
        assert!(roles.len() <= 2);
        names.extend(roles.iter().map(|r| r.text("RoleName").to_owned()));
        if a.text("IsTruncated") == "true" {
            marker = Some(a.text("Marker").to_owned());
        } else {
            assert!(a.result().at("Marker").is_none());
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, vec!["alpha", "Bravo", "charlie", "delta", "echo"]);

    let a = h
        .call(&[("Action", "ListRoles"), ("PathPrefix", "/svc/")])
        .await;
    let names: Vec<&str> = a
        .result()
        .members("Roles")
        .iter()
        .map(|r| r.text("RoleName"))
        .collect();
    assert_eq!(names, vec!["Bravo", "delta"]);
    assert_eq!(a.text("IsTruncated"), "false");

    h.call(&[("Action", "ListRoles"), ("MaxItems", "0")])
        .await
        .error_code(400, "ValidationError");
}

#[tokio::test]
async fn role_tags() {
    let h = harness();
    h.create_role("tagged", "/").await;
    h.call(&[
        ("Action", "TagRole"),
        ("RoleName", "tagged"),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "streams"),
        ("Tags.member.2.Key", "env"),
        ("Tags.member.2.Value", "dev"),
    ])
    .await
    .ok();
    let a = h
        .call(&[("Action", "ListRoleTags"), ("RoleName", "tagged")])
        .await;
    let tags: Vec<(&str, &str)> = a
        .result()
        .members("Tags")
        .iter()
        .map(|t| (t.text("Key"), t.text("Value")))
        .collect();
    assert_eq!(tags, vec![("env", "dev"), ("team", "streams")]);
    let g = h
        .call(&[("Action", "GetRole"), ("RoleName", "tagged")])
        .await;
    assert_eq!(g.result().members("Role/Tags").len(), 2);

    h.call(&[
        ("Action", "UntagRole"),
        ("RoleName", "tagged"),
        ("TagKeys.member.1", "TEAM"),
    ])
    .await
    .ok();
    let a = h
        .call(&[("Action", "ListRoleTags"), ("RoleName", "tagged")])
        .await;
    assert_eq!(a.result().members("Tags").len(), 1);

    h.call(&[
        ("Action", "TagRole"),
        ("RoleName", "tagged"),
        ("Tags.member.1.Key", "a"),
        ("Tags.member.1.Value", "1"),
        ("Tags.member.2.Key", "A"),
        ("Tags.member.2.Value", "2"),
    ])
    .await
    .error(
        400,
        "InvalidInput",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    );

    let keys: Vec<(String, String)> = (1..=50)
        .map(|i| (format!("Tags.member.{i}.Key"), format!("k{i}")))
        .collect();
    let values: Vec<(String, String)> = (1..=50)
        .map(|i| (format!("Tags.member.{i}.Value"), "v".to_owned()))
        .collect();
    let mut pairs: Vec<(&str, &str)> = vec![("Action", "TagRole"), ("RoleName", "tagged")];
    for ((k, kv), (v, vv)) in keys.iter().zip(values.iter()) {
        pairs.push((k, kv));
        pairs.push((v, vv));
    }
    h.call(&pairs).await.error(
        409,
        "LimitExceeded",
        "Cannot exceed quota for TagsPerRole: 50",
    );
    h.call(&[
        ("Action", "TagRole"),
        ("RoleName", "ghost"),
        ("Tags.member.1.Key", "a"),
        ("Tags.member.1.Value", "1"),
    ])
    .await
    .error_code(404, "NoSuchEntity");
}

#[tokio::test]
async fn inline_policies_of_roles_and_users() {
    let h = harness();
    h.create_role("r", "/").await;
    h.call(&[("Action", "CreateUser"), ("UserName", "u")])
        .await
        .ok();
    for (put, get, list, del, entity, name, noun) in [
        (
            "PutRolePolicy",
            "GetRolePolicy",
            "ListRolePolicies",
            "DeleteRolePolicy",
            "RoleName",
            "r",
            "role",
        ),
        (
            "PutUserPolicy",
            "GetUserPolicy",
            "ListUserPolicies",
            "DeleteUserPolicy",
            "UserName",
            "u",
            "user",
        ),
    ] {
        for p in ["read", "write"] {
            h.call(&[
                ("Action", put),
                (entity, name),
                ("PolicyName", p),
                ("PolicyDocument", POLICY_2),
            ])
            .await
            .ok();
        }
        let g = h
            .call(&[("Action", get), (entity, name), ("PolicyName", "read")])
            .await;
        g.ok();
        assert_eq!(g.text(entity), name);
        assert_eq!(g.text("PolicyName"), "read");
        assert!(g.text("PolicyDocument").contains("%20"), "{}", g.body);
        assert_eq!(url_decode(g.text("PolicyDocument")), POLICY_2);

        let l = h
            .call(&[("Action", list), (entity, name), ("MaxItems", "1")])
            .await;
        assert_eq!(l.result().members("PolicyNames")[0].text, "read");
        assert_eq!(l.text("IsTruncated"), "true");
        let marker = l.text("Marker").to_owned();
        let l = h
            .call(&[("Action", list), (entity, name), ("Marker", &marker)])
            .await;
        assert_eq!(l.result().members("PolicyNames")[0].text, "write");
        assert_eq!(l.text("IsTruncated"), "false");

        h.call(&[("Action", get), (entity, name), ("PolicyName", "nope")])
            .await
            .error(
                404,
                "NoSuchEntity",
                &format!("The {noun} policy with name nope cannot be found."),
            );
        h.call(&[
            ("Action", put),
            (entity, name),
            ("PolicyName", "bad"),
            ("PolicyDocument", "[1,"),
        ])
        .await
        .error_code(400, "MalformedPolicyDocument");
        h.call(&[
            ("Action", put),
            (entity, "ghost"),
            ("PolicyName", "p"),
            ("PolicyDocument", POLICY),
        ])
        .await
        .error(
            404,
            "NoSuchEntity",
            &format!("The {noun} with name ghost cannot be found."),
        );
        h.call(&[("Action", del), (entity, name), ("PolicyName", "read")])
            .await
            .ok();
        h.call(&[("Action", del), (entity, name), ("PolicyName", "read")])
            .await
            .error(
                404,
                "NoSuchEntity",
                &format!("The {noun} policy with name read cannot be found."),
            );
    }

    // A role's inline policies add up to at most 10240 characters.
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"s3:*","Resource":"*"}}]}}"#,
        "x".repeat(6000)
    );
    h.call(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "r"),
        ("PolicyName", "big1"),
        ("PolicyDocument", &big),
    ])
    .await
    .ok();
    h.call(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "r"),
        ("PolicyName", "big2"),
        ("PolicyDocument", &big),
    ])
    .await
    .error(
        409,
        "LimitExceeded",
        "Maximum policy size of 10240 bytes exceeded for role r",
    );

    h.call(&[("Action", "DeleteRole"), ("RoleName", "r")])
        .await
        .error(
            409,
            "DeleteConflict",
            "Cannot delete entity, must delete policies first.",
        );
}

#[tokio::test]
async fn customer_managed_policies_and_their_versions() {
    let h = harness();
    let arn = h.create_policy("ReadItems").await;
    assert_eq!(arn, "arn:aws:iam::000000000000:policy/ReadItems");
    let g = h
        .call(&[("Action", "GetPolicy"), ("PolicyArn", &arn)])
        .await;
    g.ok();
    assert!(is_id(g.text("Policy/PolicyId"), "ANPA", 17));
    assert_eq!(g.text("Policy/DefaultVersionId"), "v1");
    assert_eq!(g.text("Policy/AttachmentCount"), "0");
    assert_eq!(g.text("Policy/IsAttachable"), "true");
    assert_eq!(g.text("Policy/Description"), "reads items");

    h.call(&[
        ("Action", "CreatePolicy"),
        ("PolicyName", "readitems"),
        ("PolicyDocument", POLICY),
    ])
    .await
    .error(
        409,
        "EntityAlreadyExists",
        "A policy called readitems already exists. Duplicate names are not allowed.",
    );
    h.call(&[
        ("Action", "GetPolicy"),
        ("PolicyArn", "arn:aws:iam::000000000000:policy/Nope"),
    ])
    .await
    .error(
        404,
        "NoSuchEntity",
        "Policy arn:aws:iam::000000000000:policy/Nope was not found.",
    );
    h.call(&[
        ("Action", "GetPolicy"),
        ("PolicyArn", "not-an-arn-at-all-really"),
    ])
    .await
    .error(
        400,
        "InvalidInput",
        "ARN not-an-arn-at-all-really is not valid.",
    );

    h.clock.advance_millis(60_000);
    let v = h
        .call(&[
            ("Action", "CreatePolicyVersion"),
            ("PolicyArn", &arn),
            ("PolicyDocument", POLICY_2),
            ("SetAsDefault", "true"),
        ])
        .await;
    v.ok();
    assert_eq!(v.text("PolicyVersion/VersionId"), "v2");
    assert_eq!(v.text("PolicyVersion/IsDefaultVersion"), "true");
    assert!(v.result().at("PolicyVersion/Document").is_none());
    let g = h
        .call(&[("Action", "GetPolicy"), ("PolicyArn", &arn)])
        .await;
    assert_eq!(g.text("Policy/DefaultVersionId"), "v2");
    assert_eq!(g.text("Policy/UpdateDate"), "2023-11-14T22:14:20Z");
    assert_eq!(g.text("Policy/CreateDate"), "2023-11-14T22:13:20Z");

    let gv = h
        .call(&[
            ("Action", "GetPolicyVersion"),
            ("PolicyArn", &arn),
            ("VersionId", "v1"),
        ])
        .await;
    gv.ok();
    assert_eq!(url_decode(gv.text("PolicyVersion/Document")), POLICY);
    assert_eq!(gv.text("PolicyVersion/IsDefaultVersion"), "false");
    h.call(&[
        ("Action", "GetPolicyVersion"),
        ("PolicyArn", &arn),
        ("VersionId", "v9"),
    ])
    .await
    .error(
        404,
        "NoSuchEntity",
        &format!("Policy {arn} version v9 does not exist or is not attachable."),
    );

    for _ in 0..3 {
        h.call(&[
            ("Action", "CreatePolicyVersion"),
            ("PolicyArn", &arn),
            ("PolicyDocument", POLICY),
        ])
        .await
        .ok();
    }
    h.call(&[("Action", "CreatePolicyVersion"), ("PolicyArn", &arn), ("PolicyDocument", POLICY)])
        .await
        .error(
            409,
            "LimitExceeded",
            "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
        );
    let l = h
        .call(&[("Action", "ListPolicyVersions"), ("PolicyArn", &arn)])
        .await;
    let ids: Vec<&str> = l
        .result()
        .members("Versions")
        .iter()
        .map(|v| v.text("VersionId"))
        .collect();
    assert_eq!(ids, vec!["v5", "v4", "v3", "v2", "v1"]);

    h.call(&[
        ("Action", "SetDefaultPolicyVersion"),
        ("PolicyArn", &arn),
        ("VersionId", "v4"),
    ])
    .await
    .ok();
    h.call(&[
        ("Action", "SetDefaultPolicyVersion"),
        ("PolicyArn", &arn),
        ("VersionId", "v7"),
    ])
    .await
    .error_code(404, "NoSuchEntity");
    h.call(&[
        ("Action", "DeletePolicyVersion"),
        ("PolicyArn", &arn),
        ("VersionId", "v4"),
    ])
    .await
    .error(
        409,
        "DeleteConflict",
        "Cannot delete the default version of a policy.",
    );
    h.call(&[("Action", "DeletePolicy"), ("PolicyArn", &arn)])
        .await
        .error(
            409,
            "DeleteConflict",
            "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
        );
    for v in ["v1", "v2", "v3", "v5"] {
        h.call(&[
            ("Action", "DeletePolicyVersion"),
            ("PolicyArn", &arn),
            ("VersionId", v),
        ])
        .await
        .ok();
    }
    // A new version keeps counting up.
    let v = h
        .call(&[
            ("Action", "CreatePolicyVersion"),
            ("PolicyArn", &arn),
            ("PolicyDocument", POLICY),
        ])
        .await;
    assert_eq!(v.text("PolicyVersion/VersionId"), "v6");
    h.call(&[
        ("Action", "DeletePolicyVersion"),
        ("PolicyArn", &arn),
        ("VersionId", "v6"),
    ])
    .await
    .ok();
    h.call(&[("Action", "DeletePolicy"), ("PolicyArn", &arn)])
        .await
        .ok();
    h.call(&[("Action", "GetPolicy"), ("PolicyArn", &arn)])
        .await
        .error_code(404, "NoSuchEntity");

    h.call(&[
        ("Action", "CreatePolicy"),
        ("PolicyName", "bad"),
        ("PolicyDocument", "{"),
    ])
    .await
    .error_code(400, "MalformedPolicyDocument");
}

#[tokio::test]
async fn attachments_are_counted_listed_and_block_deletes() {
    let h = harness();
    let local = h.create_policy("ReadItems").await;
    let aws = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole";
    h.create_role("fn-role", "/").await;
    h.call(&[
        ("Action", "CreateUser"),
        ("UserName", "alice"),
        ("Path", "/people/"),
    ])
    .await
    .ok();
    for arn in [local.as_str(), aws] {
        h.call(&[
            ("Action", "AttachRolePolicy"),
            ("RoleName", "fn-role"),
            ("PolicyArn", arn),
        ])
        .await
        .ok();
    }
    // Attaching twice is harmless.
    h.call(&[
        ("Action", "AttachRolePolicy"),
        ("RoleName", "fn-role"),
        ("PolicyArn", aws),
    ])
    .await
    .ok();
    h.call(&[
        ("Action", "AttachUserPolicy"),
        ("UserName", "alice"),
        ("PolicyArn", &local),
    ])
    .await
    .ok();

    let l = h
        .call(&[
            ("Action", "ListAttachedRolePolicies"),
            ("RoleName", "fn-role"),
        ])
        .await;
    let attached: Vec<(&str, &str)> = l
        .result()
        .members("AttachedPolicies")
        .iter()
        .map(|m| (m.text("PolicyName"), m.text("PolicyArn")))
        .collect();
    assert_eq!(
        attached,
        vec![
            ("ReadItems", local.as_str()),
            ("AWSLambdaDynamoDBExecutionRole", aws)
        ]
    );
    let l = h
        .call(&[
            ("Action", "ListAttachedRolePolicies"),
            ("RoleName", "fn-role"),
            ("PathPrefix", "/service-role/"),
        ])
        .await;
    assert_eq!(l.result().members("AttachedPolicies").len(), 1);
    let l = h
        .call(&[
            ("Action", "ListAttachedUserPolicies"),
            ("UserName", "alice"),
        ])
        .await;
    assert_eq!(l.result().members("AttachedPolicies").len(), 1);

    let g = h
        .call(&[("Action", "GetPolicy"), ("PolicyArn", &local)])
        .await;
    assert_eq!(g.text("Policy/AttachmentCount"), "2");
    let g = h.call(&[("Action", "GetPolicy"), ("PolicyArn", aws)]).await;
    assert_eq!(g.text("Policy/AttachmentCount"), "1");

    let e = h
        .call(&[("Action", "ListEntitiesForPolicy"), ("PolicyArn", &local)])
        .await;
    e.ok();
    assert_eq!(
        e.result().members("PolicyRoles")[0].text("RoleName"),
        "fn-role"
    );
    assert!(is_id(
        e.result().members("PolicyRoles")[0].text("RoleId"),
        "AROA",
        17
    ));
    assert_eq!(
        e.result().members("PolicyUsers")[0].text("UserName"),
        "alice"
    );
    assert!(e.result().members("PolicyGroups").is_empty());
    let e = h
        .call(&[
            ("Action", "ListEntitiesForPolicy"),
            ("PolicyArn", &local),
            ("EntityFilter", "Role"),
        ])
        .await;
    assert!(e.result().members("PolicyUsers").is_empty());
    assert_eq!(e.result().members("PolicyRoles").len(), 1);
    let e = h
        .call(&[
            ("Action", "ListEntitiesForPolicy"),
            ("PolicyArn", &local),
            ("PathPrefix", "/people/"),
        ])
        .await;
    assert!(e.result().members("PolicyRoles").is_empty());
    assert_eq!(e.result().members("PolicyUsers").len(), 1);

    h.call(&[("Action", "DeletePolicy"), ("PolicyArn", &local)])
        .await
        .error(
            409,
            "DeleteConflict",
            "Cannot delete a policy attached to entities.",
        );
    h.call(&[("Action", "DeleteRole"), ("RoleName", "fn-role")])
        .await
        .error(
            409,
            "DeleteConflict",
            "Cannot delete entity, must detach all policies first.",
        );
    h.call(&[("Action", "DeleteUser"), ("UserName", "alice")])
        .await
        .error(
            409,
            "DeleteConflict",
            "Cannot delete entity, must detach all policies first.",
        );

    let missing = "arn:aws:iam::aws:policy/NoSuchPolicy";
    h.call(&[
        ("Action", "AttachRolePolicy"),
        ("RoleName", "fn-role"),
        ("PolicyArn", missing),
    ])
    .await
    .error(
        404,
        "NoSuchEntity",
        &format!("Policy {missing} does not exist or is not attachable."),
    );
    h.call(&[
        ("Action", "AttachRolePolicy"),
        ("RoleName", "ghost"),
        ("PolicyArn", aws),
    ])
    .await
    .error(
        404,
        "NoSuchEntity",
        "The role with name ghost cannot be found.",
    );
    h.call(&[
        ("Action", "AttachRolePolicy"),
        ("RoleName", "fn-role"),
        ("PolicyArn", "AdministratorAccess-ish"),
    ])
    .await
    .error(
        400,
        "InvalidInput",
        "ARN AdministratorAccess-ish is not valid.",
    );

    for arn in [local.as_str(), aws] {
        h.call(&[
            ("Action", "DetachRolePolicy"),
            ("RoleName", "fn-role"),
            ("PolicyArn", arn),
        ])
        .await
        .ok();
    }
    h.call(&[
        ("Action", "DetachRolePolicy"),
        ("RoleName", "fn-role"),
        ("PolicyArn", aws),
    ])
    .await
    .error(404, "NoSuchEntity", &format!("Policy {aws} was not found."));
    h.call(&[
        ("Action", "DetachUserPolicy"),
        ("UserName", "alice"),
        ("PolicyArn", &local),
    ])
    .await
    .ok();
    let g = h
        .call(&[("Action", "GetPolicy"), ("PolicyArn", &local)])
        .await;
    assert_eq!(g.text("Policy/AttachmentCount"), "0");
    h.call(&[("Action", "DeleteRole"), ("RoleName", "fn-role")])
        .await
        .ok();
    h.call(&[("Action", "DeletePolicy"), ("PolicyArn", &local)])
        .await
        .ok();

    // Ten managed policies at most per role.
    h.create_role("many", "/").await;
    for i in 0..10 {
        let arn = h.create_policy(&format!("p{i}")).await;
        h.call(&[
            ("Action", "AttachRolePolicy"),
            ("RoleName", "many"),
            ("PolicyArn", &arn),
        ])
        .await
        .ok();
    }
    h.call(&[
        ("Action", "AttachRolePolicy"),
        ("RoleName", "many"),
        ("PolicyArn", aws),
    ])
    .await
    .error(
        409,
        "LimitExceeded",
        "Cannot exceed quota for PoliciesPerRole: 10",
    );
}

#[tokio::test]
async fn aws_managed_policies_are_listed_attachable_and_read_only() {
    let h = harness();
    let l = h
        .call(&[
            ("Action", "ListPolicies"),
            ("Scope", "AWS"),
            ("MaxItems", "1000"),
        ])
        .await;
    l.ok();
    let arns: Vec<&str> = l
        .result()
        .members("Policies")
        .iter()
        .map(|p| p.text("Arn"))
        .collect();
    for expected in [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
        "arn:aws:iam::aws:policy/AWSLambdaInvocation-DynamoDB",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
        "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess",
        "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess",
        "arn:aws:iam::aws:policy/AmazonSQSFullAccess",
        "arn:aws:iam::aws:policy/AmazonSNSFullAccess",
        "arn:aws:iam::aws:policy/AmazonS3FullAccess",
        "arn:aws:iam::aws:policy/CloudWatchLogsFullAccess",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ] {
        assert!(arns.contains(&expected), "{expected} missing from {arns:?}");
    }
    assert_eq!(arns.len(), 13);

    let local = h.create_policy("Mine").await;
    let l = h
        .call(&[("Action", "ListPolicies"), ("Scope", "Local")])
        .await;
    let arns: Vec<&str> = l
        .result()
        .members("Policies")
        .iter()
        .map(|p| p.text("Arn"))
        .collect();
    assert_eq!(arns, vec![local.as_str()]);
    let l = h.call(&[("Action", "ListPolicies")]).await;
    assert_eq!(l.result().members("Policies").len(), 14);
    let l = h
        .call(&[("Action", "ListPolicies"), ("PathPrefix", "/service-role/")])
        .await;
    assert_eq!(l.result().members("Policies").len(), 5);
    let l = h
        .call(&[("Action", "ListPolicies"), ("MaxItems", "5")])
        .await;
    assert_eq!(l.text("IsTruncated"), "true");
    let l = h
        .call(&[("Action", "ListPolicies"), ("Scope", "Everything")])
        .await;
    l.error(
        400,
        "ValidationError",
        "1 validation error detected: Value 'Everything' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]",
    );

    h.create_role("r", "/").await;
    let basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    h.call(&[
        ("Action", "AttachRolePolicy"),
        ("RoleName", "r"),
        ("PolicyArn", basic),
    ])
    .await
    .ok();
    let l = h
        .call(&[
            ("Action", "ListPolicies"),
            ("OnlyAttached", "true"),
            ("Scope", "AWS"),
        ])
        .await;
    let attached = l.result().members("Policies");
    assert_eq!(attached.len(), 1);
    assert_eq!(
        attached[0].text("PolicyName"),
        "AWSLambdaBasicExecutionRole"
    );
    assert_eq!(attached[0].text("Path"), "/service-role/");
    assert_eq!(attached[0].text("AttachmentCount"), "1");

    let g = h
        .call(&[("Action", "GetPolicy"), ("PolicyArn", basic)])
        .await;
    g.ok();
    assert_eq!(g.text("Policy/DefaultVersionId"), "v1");
    assert_eq!(g.text("Policy/CreateDate"), "2015-04-09T15:03:00Z");
    assert_eq!(
        g.text("Policy/Description"),
        "Provides write permissions to CloudWatch Logs."
    );
    let v = h
        .call(&[
            ("Action", "GetPolicyVersion"),
            ("PolicyArn", basic),
            ("VersionId", "v1"),
        ])
        .await;
    v.ok();
    let doc: serde_json::Value =
        serde_json::from_str(&url_decode(v.text("PolicyVersion/Document"))).expect("json");
    assert_eq!(
        doc["Statement"][0]["Action"],
        serde_json::json!([
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents"
        ])
    );
    let v = h
        .call(&[("Action", "ListPolicyVersions"), ("PolicyArn", basic)])
        .await;
    assert_eq!(v.result().members("Versions").len(), 1);

    let kinesis = "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole";
    let g = h
        .call(&[("Action", "GetPolicy"), ("PolicyArn", kinesis)])
        .await;
    assert_eq!(g.text("Policy/DefaultVersionId"), "v2");
    h.call(&[
        ("Action", "GetPolicyVersion"),
        ("PolicyArn", kinesis),
        ("VersionId", "v1"),
    ])
    .await
    .error_code(404, "NoSuchEntity");

    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    h.call(&[("Action", "DeletePolicy"), ("PolicyArn", admin)]).await.error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::000000000000:root is not authorized to perform: iam:DeletePolicy on resource: policy arn:aws:iam::aws:policy/AdministratorAccess because no resource-based policy allows the iam:DeletePolicy action",
    );
    h.call(&[
        ("Action", "CreatePolicyVersion"),
        ("PolicyArn", admin),
        ("PolicyDocument", POLICY),
    ])
    .await
    .error_code(403, "AccessDenied");
    h.call(&[
        ("Action", "SetDefaultPolicyVersion"),
        ("PolicyArn", admin),
        ("VersionId", "v1"),
    ])
    .await
    .error_code(403, "AccessDenied");
    h.call(&[
        ("Action", "DeletePolicyVersion"),
        ("PolicyArn", admin),
        ("VersionId", "v1"),
    ])
    .await
    .error_code(403, "AccessDenied");
}

#[tokio::test]
async fn users_and_their_access_keys() {
    let h = harness();
    let c = h
        .call(&[
            ("Action", "CreateUser"),
            ("UserName", "alice"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "data"),
        ])
        .await;
    c.ok();
    let user_arn = c.text("User/Arn").to_owned();
    assert_eq!(user_arn, "arn:aws:iam::000000000000:user/alice");
    assert!(is_id(c.text("User/UserId"), "AIDA", 17));
    assert_eq!(c.result().members("User/Tags").len(), 1);
    h.call(&[("Action", "CreateUser"), ("UserName", "ALICE")])
        .await
        .error(
            409,
            "EntityAlreadyExists",
            "User with name ALICE already exists.",
        );
    h.call(&[("Action", "GetUser"), ("UserName", "bob")])
        .await
        .error(
            404,
            "NoSuchEntity",
            "The user with name bob cannot be found.",
        );

    let k = h
        .call(&[("Action", "CreateAccessKey"), ("UserName", "alice")])
        .await;
    k.ok();
    let key_id = k.text("AccessKey/AccessKeyId").to_owned();
    let secret = k.text("AccessKey/SecretAccessKey").to_owned();
    assert!(is_id(&key_id, "AKIA", 16), "{key_id}");
    assert_eq!(secret.len(), 40);
    assert_eq!(k.text("AccessKey/Status"), "Active");
    assert_eq!(k.text("AccessKey/UserName"), "alice");

    // The gateway sees the key at once.
    let info = h.directory().access_key(&key_id).expect("the new key");
    assert_eq!(info.secret, secret);
    assert_eq!(info.account, ACCOUNT);
    assert_eq!(info.user_arn, user_arn);
    assert_eq!(info.user_name.as_deref(), Some("alice"));
    assert_eq!(info.status, KeyStatus::Active);
    assert_eq!(info.principal().kind, PrincipalKind::User);

    // Signed with alice's key, GetUser without a name is alice.
    let as_alice = Some(caller(&key_id, ACCOUNT));
    let me = h.call_as(as_alice.clone(), &[("Action", "GetUser")]).await;
    me.ok();
    assert_eq!(me.text("User/UserName"), "alice");
    assert_eq!(me.result().members("User/Tags").len(), 1);
    // Any other key is the account root.
    let root = h.call(&[("Action", "GetUser")]).await;
    root.ok();
    assert_eq!(root.text("User/Arn"), "arn:aws:iam::000000000000:root");
    assert_eq!(root.text("User/UserId"), ACCOUNT);
    let session = Some(Caller {
        access_key: "ASIAEXAMPLEEXAMPLE00".into(),
        account_id: ACCOUNT.into(),
        session_token: Some("token".into()),
        arn: None,
    });
    h.call_as(session, &[("Action", "GetUser")]).await.error(
        400,
        "ValidationError",
        "Must specify userName when calling with non-User credentials",
    );

    let k2 = h
        .call_as(as_alice.clone(), &[("Action", "CreateAccessKey")])
        .await;
    k2.ok();
    assert_eq!(k2.text("AccessKey/UserName"), "alice");
    let key2 = k2.text("AccessKey/AccessKeyId").to_owned();
    h.call(&[("Action", "CreateAccessKey"), ("UserName", "alice")])
        .await
        .error(
            409,
            "LimitExceeded",
            "Cannot exceed quota for AccessKeysPerUser: 2",
        );
    let l = h
        .call(&[("Action", "ListAccessKeys"), ("UserName", "alice")])
        .await;
    l.ok();
    let mut ids: Vec<&str> = l
        .result()
        .members("AccessKeyMetadata")
        .iter()
        .map(|m| m.text("AccessKeyId"))
        .collect();
    ids.sort();
    let mut want = vec![key_id.as_str(), key2.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert!(l.result().members("AccessKeyMetadata")[0]
        .opt("SecretAccessKey")
        .is_none());

    h.call(&[
        ("Action", "UpdateAccessKey"),
        ("UserName", "alice"),
        ("AccessKeyId", &key2),
        ("Status", "Inactive"),
    ])
    .await
    .ok();
    assert_eq!(
        h.directory().access_key(&key2).unwrap().status,
        KeyStatus::Inactive
    );
    h.call(&[
        ("Action", "UpdateAccessKey"),
        ("UserName", "alice"),
        ("AccessKeyId", &key2),
        ("Status", "Sleepy"),
    ])
    .await
    .error_code(400, "ValidationError");
    h.call(&[
        ("Action", "UpdateAccessKey"),
        ("AccessKeyId", &key2),
        ("Status", "Active"),
    ])
    .await
    .error(
        404,
        "NoSuchEntity",
        &format!("The Access Key with id {key2} cannot be found."),
    );

    let lu = h
        .call(&[("Action", "GetAccessKeyLastUsed"), ("AccessKeyId", &key_id)])
        .await;
    lu.ok();
    assert_eq!(lu.text("UserName"), "alice");
    assert_eq!(lu.text("AccessKeyLastUsed/ServiceName"), "N/A");

    h.call(&[("Action", "DeleteUser"), ("UserName", "alice")])
        .await
        .error(
            409,
            "DeleteConflict",
            "Cannot delete entity, must delete access keys first.",
        );

    // A rename moves the user's ARN and keeps its keys.
    h.call(&[
        ("Action", "UpdateUser"),
        ("UserName", "alice"),
        ("NewUserName", "alicia"),
        ("NewPath", "/eng/"),
    ])
    .await
    .ok();
    h.call(&[("Action", "GetUser"), ("UserName", "alice")])
        .await
        .error_code(404, "NoSuchEntity");
    let info = h
        .directory()
        .access_key(&key_id)
        .expect("the key survives the rename");
    assert_eq!(info.user_arn, "arn:aws:iam::000000000000:user/eng/alicia");
    let me = h.call_as(as_alice, &[("Action", "GetUser")]).await;
    assert_eq!(me.text("User/UserName"), "alicia");
    h.call(&[("Action", "CreateUser"), ("UserName", "bob")])
        .await
        .ok();
    h.call(&[
        ("Action", "UpdateUser"),
        ("UserName", "bob"),
        ("NewUserName", "Alicia"),
    ])
    .await
    .error(
        409,
        "EntityAlreadyExists",
        "User with name Alicia already exists.",
    );

    let l = h.call(&[("Action", "ListUsers")]).await;
    let names: Vec<&str> = l
        .result()
        .members("Users")
        .iter()
        .map(|u| u.text("UserName"))
        .collect();
    assert_eq!(names, vec!["alicia", "bob"]);
    let l = h
        .call(&[("Action", "ListUsers"), ("PathPrefix", "/eng/")])
        .await;
    assert_eq!(l.result().members("Users").len(), 1);

    h.call(&[
        ("Action", "TagUser"),
        ("UserName", "bob"),
        ("Tags.member.1.Key", "k"),
        ("Tags.member.1.Value", "v"),
    ])
    .await
    .ok();
    let t = h
        .call(&[("Action", "ListUserTags"), ("UserName", "bob")])
        .await;
    assert_eq!(t.result().members("Tags")[0].text("Key"), "k");
    h.call(&[
        ("Action", "UntagUser"),
        ("UserName", "bob"),
        ("TagKeys.member.1", "k"),
    ])
    .await
    .ok();
    let t = h
        .call(&[("Action", "ListUserTags"), ("UserName", "bob")])
        .await;
    assert!(t.result().members("Tags").is_empty());

    for k in [&key_id, &key2] {
        h.call(&[
            ("Action", "DeleteAccessKey"),
            ("UserName", "alicia"),
            ("AccessKeyId", k),
        ])
        .await
        .ok();
    }
    assert!(h.directory().access_key(&key_id).is_none());
    h.call(&[
        ("Action", "DeleteAccessKey"),
        ("UserName", "alicia"),
        ("AccessKeyId", &key_id),
    ])
    .await
    .error_code(404, "NoSuchEntity");
    h.call(&[
        ("Action", "PutUserPolicy"),
        ("UserName", "alicia"),
        ("PolicyName", "p"),
        ("PolicyDocument", POLICY),
    ])
    .await
    .ok();
    h.call(&[("Action", "DeleteUser"), ("UserName", "alicia")])
        .await
        .error(
            409,
            "DeleteConflict",
            "Cannot delete entity, must delete policies first.",
        );
    h.call(&[
        ("Action", "DeleteUserPolicy"),
        ("UserName", "alicia"),
        ("PolicyName", "p"),
    ])
    .await
    .ok();
    h.call(&[("Action", "DeleteUser"), ("UserName", "alicia")])
        .await
        .ok();
}

#[tokio::test]
async fn root_access_keys() {
    let h = harness();
    // The root's keys belong to no user: AWS leaves `UserName` out.
    let absent = &[("AccessKey", "UserName")];
    let k = call_allowing(
        &h.iam,
        &SERVICE,
        "iam",
        Some(default_caller()),
        &[("Action", "CreateAccessKey")],
        absent,
    )
    .await;
    k.ok();
    assert!(k.result().at("AccessKey/UserName").is_none());
    let id = k.text("AccessKey/AccessKeyId").to_owned();
    let info = h.directory().access_key(&id).unwrap();
    assert_eq!(info.user_arn, "arn:aws:iam::000000000000:root");
    assert_eq!(info.principal().kind, PrincipalKind::Root);
    let l = h.call(&[("Action", "ListAccessKeys")]).await;
    assert_eq!(l.result().members("AccessKeyMetadata").len(), 1);
    h.call(&[("Action", "DeleteAccessKey"), ("AccessKeyId", &id)])
        .await
        .ok();
}

#[tokio::test]
async fn instance_profiles() {
    let h = harness();
    h.create_role("ec2-role", "/").await;
    h.create_role("other", "/").await;
    let c = h
        .call(&[
            ("Action", "CreateInstanceProfile"),
            ("InstanceProfileName", "web"),
            ("Path", "/app/"),
        ])
        .await;
    c.ok();
    assert_eq!(
        c.text("InstanceProfile/Arn"),
        "arn:aws:iam::000000000000:instance-profile/app/web"
    );
    assert!(is_id(
        c.text("InstanceProfile/InstanceProfileId"),
        "AIPA",
        17
    ));
    assert!(c.result().members("InstanceProfile/Roles").is_empty());
    h.call(&[
        ("Action", "CreateInstanceProfile"),
        ("InstanceProfileName", "web"),
    ])
    .await
    .error(
        409,
        "EntityAlreadyExists",
        "Instance Profile web already exists.",
    );
    h.call(&[
        ("Action", "GetInstanceProfile"),
        ("InstanceProfileName", "nope"),
    ])
    .await
    .error(
        404,
        "NoSuchEntity",
        "Instance Profile nope cannot be found.",
    );

    h.call(&[
        ("Action", "AddRoleToInstanceProfile"),
        ("InstanceProfileName", "web"),
        ("RoleName", "ec2-role"),
    ])
    .await
    .ok();
    h.call(&[
        ("Action", "AddRoleToInstanceProfile"),
        ("InstanceProfileName", "web"),
        ("RoleName", "other"),
    ])
    .await
    .error(
        409,
        "LimitExceeded",
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
    );
    h.call(&[
        ("Action", "AddRoleToInstanceProfile"),
        ("InstanceProfileName", "web"),
        ("RoleName", "ghost"),
    ])
    .await
    .error_code(404, "NoSuchEntity");
    let g = h
        .call(&[
            ("Action", "GetInstanceProfile"),
            ("InstanceProfileName", "web"),
        ])
        .await;
    let roles = g.result().members("InstanceProfile/Roles");
    assert_eq!(roles[0].text("RoleName"), "ec2-role");
    assert_eq!(url_decode(roles[0].text("AssumeRolePolicyDocument")), TRUST);

    let l = h
        .call(&[
            ("Action", "ListInstanceProfilesForRole"),
            ("RoleName", "ec2-role"),
        ])
        .await;
    assert_eq!(
        l.result().members("InstanceProfiles")[0].text("InstanceProfileName"),
        "web"
    );
    let l = h
        .call(&[
            ("Action", "ListInstanceProfilesForRole"),
            ("RoleName", "other"),
        ])
        .await;
    assert!(l.result().members("InstanceProfiles").is_empty());
    h.call(&[
        ("Action", "ListInstanceProfilesForRole"),
        ("RoleName", "ghost"),
    ])
    .await
    .error_code(404, "NoSuchEntity");
    let l = h
        .call(&[("Action", "ListInstanceProfiles"), ("PathPrefix", "/app/")])
        .await;
    assert_eq!(l.result().members("InstanceProfiles").len(), 1);

    h.call(&[("Action", "DeleteRole"), ("RoleName", "ec2-role")])
        .await
        .error(
            409,
            "DeleteConflict",
            "Cannot delete entity, must remove roles from instance profile first.",
        );
    h.call(&[
        ("Action", "DeleteInstanceProfile"),
        ("InstanceProfileName", "web"),
    ])
    .await
    .error(
        409,
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
    );
    h.call(&[
        ("Action", "RemoveRoleFromInstanceProfile"),
        ("InstanceProfileName", "web"),
        ("RoleName", "other"),
    ])
    .await
    .error(
        404,
        "NoSuchEntity",
        "The role with name other cannot be found.",
    );
    h.call(&[
        ("Action", "RemoveRoleFromInstanceProfile"),
        ("InstanceProfileName", "web"),
        ("RoleName", "ec2-role"),
    ])
    .await
    .ok();
    h.call(&[
        ("Action", "DeleteInstanceProfile"),
        ("InstanceProfileName", "web"),
    ])
    .await
    .ok();
    h.call(&[("Action", "DeleteRole"), ("RoleName", "ec2-role")])
        .await
        .ok();
}

#[tokio::test]
async fn protocol_errors() {
    let h = harness();
    h.call(&[("Action", "FlyToTheMoon")]).await.error(
        400,
        "InvalidAction",
        "Could not find operation FlyToTheMoon for version 2010-05-08",
    );
    h.call(&[("Version", "2010-05-08")])
        .await
        .error(400, "MissingAction", "Missing Action");
    // (Groups were the example here until they were served.)
    h.call(&[("Action", "ListSAMLProviders")])
        .await
        .error_code(501, "NotImplemented");
    h.call(&[("Action", "ListRoles"), ("MaxItems", "many")])
        .await
        .error_code(400, "ValidationError");
    h.call(&[("Action", "ListRoles"), ("Marker", "not base64!")])
        .await
        .error_code(400, "InvalidInput");
}

#[tokio::test]
async fn accounts_are_separate() {
    let h = harness();
    let other = Some(caller("AKIAOTHEROTHEROTHER1", "111111111111"));
    let a = h
        .call_as(
            other.clone(),
            &[
                ("Action", "CreateRole"),
                ("RoleName", "r"),
                ("AssumeRolePolicyDocument", TRUST),
            ],
        )
        .await;
    a.ok();
    assert_eq!(a.text("Role/Arn"), "arn:aws:iam::111111111111:role/r");
    h.call(&[("Action", "GetRole"), ("RoleName", "r")])
        .await
        .error_code(404, "NoSuchEntity");
    // Unsigned requests act in the configured default account.
    h.call_as(
        None,
        &[
            ("Action", "CreateRole"),
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", TRUST),
        ],
    )
    .await
    .ok();
    let d = h.directory();
    assert_eq!(
        d.role_by_arn("arn:aws:iam::111111111111:role/r")
            .unwrap()
            .account,
        "111111111111"
    );
    assert!(d.role_by_arn("arn:aws:iam::000000000000:role/r").is_some());
    assert!(d
        .role_by_arn("arn:aws:iam::000000000000:role/wrong/path/r")
        .is_none());
}

#[tokio::test]
async fn the_directory_gives_a_principals_policies() {
    let h = harness();
    h.create_role("worker", "/jobs/").await;
    let local = h.create_policy("ReadItems").await;
    h.call(&[
        ("Action", "AttachRolePolicy"),
        ("RoleName", "worker"),
        ("PolicyArn", &local),
    ])
    .await
    .ok();
    h.call(&[
        ("Action", "AttachRolePolicy"),
        ("RoleName", "worker"),
        (
            "PolicyArn",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        ),
    ])
    .await
    .ok();
    h.call(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "worker"),
        ("PolicyName", "inline"),
        ("PolicyDocument", POLICY_2),
    ])
    .await
    .ok();
    let d = h.directory();
    let role = d
        .role_by_arn("arn:aws:iam::000000000000:role/jobs/worker")
        .expect("the role");
    assert_eq!(role.name, "worker");
    assert_eq!(role.max_session_secs, 3600);
    assert!(role.trust.is_some());
    let session = Principal {
        arn: "arn:aws:sts::000000000000:assumed-role/worker/s1".into(),
        account: ACCOUNT.into(),
        kind: PrincipalKind::AssumedRole {
            role_arn: role.arn.clone(),
        },
    };
    let policies = d.policies_of(&session);
    assert_eq!(policies.len(), 3);
    let texts: Vec<String> = policies.iter().map(|p| p.document().to_string()).collect();
    assert!(
        texts.iter().any(|t| t.contains("logs:PutLogEvents")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.contains("dynamodb:GetItem")));
    assert!(texts.iter().any(|t| t.contains("sqs:*")));

    // A new default version is what the directory answers from then on.
    h.call(&[
        ("Action", "CreatePolicyVersion"),
        ("PolicyArn", &local),
        ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#),
        ("SetAsDefault", "true"),
    ])
    .await
    .ok();
    let texts: Vec<String> = d
        .policies_of(&session)
        .iter()
        .map(|p| p.document().to_string())
        .collect();
    assert!(texts.iter().any(|t| t.contains("Deny")));
    assert!(!texts.iter().any(|t| t.contains("dynamodb:GetItem")));

    h.call(&[("Action", "CreateUser"), ("UserName", "u")])
        .await
        .ok();
    h.call(&[
        ("Action", "PutUserPolicy"),
        ("UserName", "u"),
        ("PolicyName", "p"),
        ("PolicyDocument", POLICY),
    ])
    .await
    .ok();
    let user = d.user(ACCOUNT, "U").expect("the user, by any case");
    assert_eq!(d.user_by_arn(&user.arn), Some(user.clone()));
    let p = Principal {
        arn: user.arn.clone(),
        account: ACCOUNT.into(),
        kind: PrincipalKind::User,
    };
    assert_eq!(d.policies_of(&p).len(), 1);
    let root = Principal {
        arn: "arn:aws:iam::000000000000:root".into(),
        account: ACCOUNT.into(),
        kind: PrincipalKind::Root,
    };
    assert!(d.policies_of(&root).is_empty());
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clock = ManualClock::new(T0);
    let (key_id, secret) = {
        let store = Store::open(Some(dir.path()), clock.clone()).expect("a store");
        let iam = Iam::new(store.clone(), clock.clone(), IamConfig::default());
        let c = |pairs: &'static [(&'static str, &'static str)]| {
            let iam = &iam;
            async move { call(iam, &SERVICE, "iam", Some(default_caller()), pairs).await }
        };
        c(&[
            ("Action", "CreateRole"),
            ("RoleName", "kept"),
            ("AssumeRolePolicyDocument", TRUST),
        ])
        .await
        .ok();
        c(&[
            ("Action", "AttachRolePolicy"),
            ("RoleName", "kept"),
            ("PolicyArn", "arn:aws:iam::aws:policy/AmazonSQSFullAccess"),
        ])
        .await
        .ok();
        c(&[("Action", "CreateUser"), ("UserName", "u")]).await.ok();
        let k = c(&[("Action", "CreateAccessKey"), ("UserName", "u")]).await;
        k.ok();
        c(&[
            ("Action", "CreatePolicy"),
            ("PolicyName", "P"),
            ("PolicyDocument", POLICY),
        ])
        .await
        .ok();
        let out = (
            k.text("AccessKey/AccessKeyId").to_owned(),
            k.text("AccessKey/SecretAccessKey").to_owned(),
        );
        store.close();
        out
    };
    let store = Store::open(Some(dir.path()), clock.clone()).expect("the store again");
    let iam = Iam::new(store, clock.clone(), IamConfig::default());
    let g = call(
        &iam,
        &SERVICE,
        "iam",
        Some(default_caller()),
        &[("Action", "GetRole"), ("RoleName", "kept")],
    )
    .await;
    g.ok();
    assert_eq!(g.text("Role/CreateDate"), "2023-11-14T22:13:20Z");
    let l = call(
        &iam,
        &SERVICE,
        "iam",
        Some(default_caller()),
        &[("Action", "ListAttachedRolePolicies"), ("RoleName", "kept")],
    )
    .await;
    assert_eq!(
        l.result().members("AttachedPolicies")[0].text("PolicyName"),
        "AmazonSQSFullAccess"
    );
    let info = iam
        .directory()
        .access_key(&key_id)
        .expect("the key after a restart");
    assert_eq!(info.secret, secret);
    let g = call(
        &iam,
        &SERVICE,
        "iam",
        Some(default_caller()),
        &[
            ("Action", "GetPolicy"),
            ("PolicyArn", "arn:aws:iam::000000000000:policy/P"),
        ],
    )
    .await;
    g.ok();
}

#[tokio::test]
async fn times_come_from_the_server_clock() {
    let h = harness();
    h.clock.advance_millis(86_400_000);
    let a = h.create_role("later", "/").await;
    assert_eq!(a.text("Role/CreateDate"), "2023-11-15T22:13:20Z");
    let _ = &h.store;
}

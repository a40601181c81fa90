//! STS through `Service::call`, with IAM beside it as the binary wires them: real query
//! requests against an in-memory store (an on-disk one for the restart test), a manual clock
//! for expiry, and every answer checked against the model by the shared test plumbing.
//!
//! Tests that need the trust policy to *allow* an AssumeRole are ignored until the real
//! evaluator lands in crates/policy (today's placeholder denies everything); every test that
//! expects a denial or an error holds for both.

#[path = "../../iam/tests/common/mod.rs"]
mod common;

use std::sync::Arc;

use common::{call, caller, default_caller, Answer};
use tributary_iam::{Iam, IamConfig};
use tributary_model::ManualClock;
use tributary_policy::PrincipalKind;
use tributary_service::Caller;
use tributary_shapes::generated::{iam, sts};
use tributary_store::Store;
use tributary_sts::{SessionError, Sts, StsConfig};

const T0: i64 = 1_700_000_000_000;
const ACCOUNT: &str = "000000000000";

const TRUST_ROOT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
const TRUST_LAMBDA: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

struct H {
    iam: Iam,
    sts: Sts,
    clock: Arc<ManualClock>,
}

fn build(store: Store, clock: Arc<ManualClock>) -> H {
    let iam = Iam::new(store.clone(), clock.clone(), IamConfig::default());
    let sts = Sts::new(
        store,
        clock.clone(),
        Arc::new(iam.directory()),
        StsConfig::default(),
    );
    H { iam, sts, clock }
}

fn harness() -> H {
    let clock = ManualClock::new(T0);
    build(Store::open(None, clock.clone()).expect("a store"), clock)
}

impl H {
    async fn sts(&self, who: Option<Caller>, pairs: &[(&str, &str)]) -> Answer {
        call(&self.sts, &sts::SERVICE, "sts", who, pairs).await
    }

    async fn iam(&self, pairs: &[(&str, &str)]) -> Answer {
        let a = call(
            &self.iam,
            &iam::SERVICE,
            "iam",
            Some(default_caller()),
            pairs,
        )
        .await;
        a.ok();
        a
    }

    async fn role(&self, name: &str, trust: &str) -> String {
        let a = self
            .iam(&[
                ("Action", "CreateRole"),
                ("RoleName", name),
                ("AssumeRolePolicyDocument", trust),
            ])
            .await;
        a.text("Role/Arn").to_owned()
    }

    /// A user with an access key: (key id, user id, user ARN).
    async fn user_with_key(&self, name: &str) -> (String, String, String) {
        let u = self
            .iam(&[("Action", "CreateUser"), ("UserName", name)])
            .await;
        let k = self
            .iam(&[("Action", "CreateAccessKey"), ("UserName", name)])
            .await;
        (
            k.text("AccessKey/AccessKeyId").to_owned(),
            u.text("User/UserId").to_owned(),
            u.text("User/Arn").to_owned(),
        )
    }
}

/// The credentials of an answer, as the caller of the next request.
fn session_caller(a: &Answer, account: &str) -> Caller {
    Caller {
        access_key: a.text("Credentials/AccessKeyId").to_owned(),
        account_id: account.to_owned(),
        session_token: Some(a.text("Credentials/SessionToken").to_owned()),
        arn: None,
    }
}

#[tokio::test]
async fn caller_identity_of_the_default_keys_is_the_account_root() {
    let h = harness();
    let a = h
        .sts(Some(default_caller()), &[("Action", "GetCallerIdentity")])
        .await;
    a.ok();
    assert_eq!(a.text("Arn"), "arn:aws:iam::000000000000:root");
    assert_eq!(a.text("UserId"), ACCOUNT);
    assert_eq!(a.text("Account"), ACCOUNT);
    // Any key this server did not issue is its account's root (`--auth open`).
    let a = h
        .sts(
            Some(caller("AKIAWHATEVERWHATEVER", "123456789012")),
            &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        )
        .await;
    assert_eq!(a.text("Arn"), "arn:aws:iam::123456789012:root");
    // Unsigned (`--auth none`): the default account.
    let a = h.sts(None, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(a.text("Account"), ACCOUNT);
}

#[tokio::test]
async fn caller_identity_of_a_users_key_is_the_user() {
    let h = harness();
    let (key, user_id, arn) = h.user_with_key("alice").await;
    let a = h
        .sts(
            Some(caller(&key, ACCOUNT)),
            &[("Action", "GetCallerIdentity")],
        )
        .await;
    a.ok();
    assert_eq!(a.text("Arn"), arn);
    assert_eq!(a.text("UserId"), user_id);
    assert!(user_id.starts_with("AIDA"));
    let info = h
        .sts(
            None,
            &[("Action", "GetAccessKeyInfo"), ("AccessKeyId", &key)],
        )
        .await;
    assert_eq!(info.text("Account"), ACCOUNT);
}

#[tokio::test]
async fn session_tokens_act_as_their_creator_and_expire() {
    let h = harness();
    let (key, user_id, arn) = h.user_with_key("alice").await;
    let t = h
        .sts(
            Some(caller(&key, ACCOUNT)),
            &[("Action", "GetSessionToken")],
        )
        .await;
    t.ok();
    let id = t.text("Credentials/AccessKeyId");
    assert!(id.starts_with("ASIA") && id.len() == 20, "{id}");
    assert_eq!(t.text("Credentials/SecretAccessKey").len(), 40);
    assert!(t.text("Credentials/SessionToken").len() > 100);
    // 43200 seconds by default.
    assert_eq!(t.text("Credentials/Expiration"), "2023-11-15T10:13:20Z");
    let session = session_caller(&t, ACCOUNT);
    let me = h
        .sts(Some(session.clone()), &[("Action", "GetCallerIdentity")])
        .await;
    me.ok();
    assert_eq!(
        (me.text("Arn"), me.text("UserId")),
        (arn.as_str(), user_id.as_str())
    );

    // The gateway's view.
    let sessions = h.sts.sessions();
    let info = sessions
        .check(&session.access_key, session.session_token.as_deref())
        .expect("a live session");
    assert_eq!(info.principal.kind, PrincipalKind::User);
    assert_eq!(info.principal.arn, arn);
    assert_eq!(info.expires_at_ms, T0 + 43_200_000);
    assert_eq!(
        sessions
            .check(&session.access_key, Some("another token"))
            .unwrap_err(),
        SessionError::TokenMismatch
    );
    assert_eq!(
        sessions.check(&session.access_key, None).unwrap_err(),
        SessionError::TokenMismatch
    );
    assert_eq!(
        sessions
            .check("ASIANOSUCHKEY0000000", Some("x"))
            .unwrap_err(),
        SessionError::Unknown
    );
    let known = h
        .sts
        .keys()
        .lookup(&session.access_key)
        .expect("a known key");
    assert!(known.session.is_some() && known.active);

    // Not with session credentials.
    h.sts(Some(session.clone()), &[("Action", "GetSessionToken")])
        .await
        .error(
            403,
            "AccessDenied",
            "Cannot call GetSessionToken with session credentials",
        );
    // A wrong token is refused.
    let forged = Caller {
        session_token: Some("forged".into()),
        arn: None,
        ..session.clone()
    };
    h.sts(Some(forged), &[("Action", "GetCallerIdentity")])
        .await
        .error(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );

    h.clock.advance_millis(43_200_000 - 1);
    h.sts(Some(session.clone()), &[("Action", "GetCallerIdentity")])
        .await
        .ok();
    h.clock.advance_millis(1);
    h.sts(Some(session.clone()), &[("Action", "GetCallerIdentity")])
        .await
        .error(
            403,
            "ExpiredToken",
            "The security token included in the request is expired",
        );
    let e = sessions
        .check(&session.access_key, session.session_token.as_deref())
        .unwrap_err();
    assert_eq!(e, SessionError::Expired);
    assert_eq!(
        (e.aws().code, e.aws().status, e.aws().message),
        (
            "ExpiredToken",
            403,
            tributary_sts::EXPIRED_TOKEN_MESSAGE.to_owned()
        )
    );
    // Still known as expired (not unknown) for a while after.
    assert!(sessions.session(&session.access_key).is_some());
}

#[tokio::test]
async fn get_session_token_durations() {
    let h = harness();
    let (key, _, _) = h.user_with_key("u").await;
    let user = Some(caller(&key, ACCOUNT));
    let t = h
        .sts(
            user.clone(),
            &[("Action", "GetSessionToken"), ("DurationSeconds", "900")],
        )
        .await;
    assert_eq!(t.text("Credentials/Expiration"), "2023-11-14T22:28:20Z");
    h.sts(user.clone(), &[("Action", "GetSessionToken"), ("DurationSeconds", "899")])
        .await
        .error(
            400,
            "ValidationError",
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
        );
    h.sts(user, &[("Action", "GetSessionToken"), ("DurationSeconds", "129601")])
        .await
        .error(
            400,
            "ValidationError",
            "1 validation error detected: Value '129601' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600",
        );
    // The root's sessions last an hour at most.
    let t = h
        .sts(
            Some(default_caller()),
            &[("Action", "GetSessionToken"), ("DurationSeconds", "7200")],
        )
        .await;
    t.ok();
    assert_eq!(t.text("Credentials/Expiration"), "2023-11-14T23:13:20Z");
    let me = h
        .sts(
            Some(session_caller(&t, ACCOUNT)),
            &[("Action", "GetCallerIdentity")],
        )
        .await;
    assert_eq!(me.text("Arn"), "arn:aws:iam::000000000000:root");
}

#[tokio::test]
async fn assume_role_refuses_missing_roles_and_untrusted_callers() {
    let h = harness();
    let missing = "arn:aws:iam::000000000000:role/nope";
    h.sts(
        Some(default_caller()),
        &[("Action", "AssumeRole"), ("RoleArn", missing), ("RoleSessionName", "s1")],
    )
    .await
    .error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::000000000000:root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::000000000000:role/nope",
    );
    let (key, _, user_arn) = h.user_with_key("bob").await;
    h.sts(
        Some(caller(&key, ACCOUNT)),
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", missing),
            ("RoleSessionName", "s1"),
        ],
    )
    .await
    .error(
        403,
        "AccessDenied",
        &format!(
            "User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {missing}"
        ),
    );
    // A role only Lambda may assume.
    let arn = h.role("fn-role", TRUST_LAMBDA).await;
    h.sts(
        Some(default_caller()),
        &[("Action", "AssumeRole"), ("RoleArn", &arn), ("RoleSessionName", "s1")],
    )
    .await
    .error(
        403,
        "AccessDenied",
        &format!("User: arn:aws:iam::000000000000:root is not authorized to perform: sts:AssumeRole on resource: {arn}"),
    );
}

#[tokio::test]
async fn identity_policies_alone_never_let_a_caller_assume_a_role() {
    let h = harness();
    let (key, _, user_arn) = h.user_with_key("admin").await;
    h.iam(&[
        ("Action", "AttachUserPolicy"),
        ("UserName", "admin"),
        ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
    ])
    .await;
    let arn = h.role("lambda-only", TRUST_LAMBDA).await;
    h.sts(
        Some(caller(&key, ACCOUNT)),
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &arn),
            ("RoleSessionName", "s1"),
        ],
    )
    .await
    .error(
        403,
        "AccessDenied",
        &format!(
            "User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {arn}"
        ),
    );
    // A trust policy that names the account leaves it to the user's own policies: without
    // one allowing sts:AssumeRole, the user is refused.
    let (plain, _, _) = h.user_with_key("plain").await;
    let delegated = h.role("delegated", TRUST_ROOT).await;
    h.sts(
        Some(caller(&plain, ACCOUNT)),
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &delegated),
            ("RoleSessionName", "s1"),
        ],
    )
    .await
    .error_code(403, "AccessDenied");
}

#[tokio::test]
async fn trust_policies_naming_a_user_or_delegating_to_the_account() {
    let h = harness();
    let (key, _, user_arn) = h.user_with_key("dev").await;
    let who = Some(caller(&key, ACCOUNT));
    // Named directly: no identity policy needed.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let direct = h.role("direct", &trust).await;
    let a = h
        .sts(
            who.clone(),
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &direct),
                ("RoleSessionName", "s1"),
            ],
        )
        .await;
    a.ok();
    // Named through the account: allowed once the user's own policy allows sts:AssumeRole.
    let delegated = h.role("delegated", TRUST_ROOT).await;
    h.sts(
        who.clone(),
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &delegated),
            ("RoleSessionName", "s1"),
        ],
    )
    .await
    .error_code(403, "AccessDenied");
    h.iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", "dev"),
        ("PolicyName", "assume"),
        ("PolicyDocument", &format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{delegated}"}}]}}"#)),
    ])
    .await;
    h.sts(
        who,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &delegated),
            ("RoleSessionName", "s1"),
        ],
    )
    .await
    .ok();
}

#[tokio::test]
async fn assume_role_checks_its_input() {
    let h = harness();
    let arn = h.role("r", TRUST_ROOT).await;
    let who = Some(default_caller());
    h.sts(who.clone(), &[("Action", "AssumeRole"), ("RoleArn", &arn), ("RoleSessionName", "x")])
        .await
        .error(
            400,
            "ValidationError",
            "1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
        );
    h.sts(who.clone(), &[("Action", "AssumeRole"), ("RoleArn", &arn), ("RoleSessionName", "bad name")])
        .await
        .error(
            400,
            "ValidationError",
            r"1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*",
        );
    h.sts(
        who.clone(),
        &[("Action", "AssumeRole"), ("RoleArn", &arn), ("RoleSessionName", "s1"), ("DurationSeconds", "600")],
    )
    .await
    .error(
        400,
        "ValidationError",
        "1 validation error detected: Value '600' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
    );
    h.sts(who.clone(), &[("Action", "AssumeRole"), ("RoleSessionName", "s1")])
        .await
        .error(
            400,
            "ValidationError",
            "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
        );
    h.sts(
        who,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &arn),
            ("RoleSessionName", "s1"),
            ("Policy", "{oops"),
        ],
    )
    .await
    .error_code(400, "MalformedPolicyDocument");
}

#[tokio::test]
async fn assume_role_hands_out_role_credentials() {
    let h = harness();
    let arn = h.role("Deployer", TRUST_ROOT).await;
    let role_id = h
        .iam(&[("Action", "GetRole"), ("RoleName", "Deployer")])
        .await
        .text("Role/RoleId")
        .to_owned();
    let a = h
        .sts(
            Some(default_caller()),
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &arn),
                ("RoleSessionName", "deploy-1"),
                ("Tags.member.1.Key", "project"),
                ("Tags.member.1.Value", "streams"),
            ],
        )
        .await;
    a.ok();
    assert!(a.text("Credentials/AccessKeyId").starts_with("ASIA"));
    assert_eq!(a.text("Credentials/Expiration"), "2023-11-14T23:13:20Z");
    assert_eq!(
        a.text("AssumedRoleUser/Arn"),
        "arn:aws:sts::000000000000:assumed-role/Deployer/deploy-1"
    );
    assert_eq!(
        a.text("AssumedRoleUser/AssumedRoleId"),
        format!("{role_id}:deploy-1")
    );
    assert!(a.text("PackedPolicySize").parse::<u32>().unwrap() >= 1);

    let session = session_caller(&a, ACCOUNT);
    let me = h
        .sts(Some(session.clone()), &[("Action", "GetCallerIdentity")])
        .await;
    me.ok();
    assert_eq!(
        me.text("Arn"),
        "arn:aws:sts::000000000000:assumed-role/Deployer/deploy-1"
    );
    assert_eq!(me.text("UserId"), format!("{role_id}:deploy-1"));

    let info = h
        .sts
        .sessions()
        .check(&session.access_key, session.session_token.as_deref())
        .unwrap();
    assert_eq!(info.role_arn.as_deref(), Some(arn.as_str()));
    assert_eq!(
        info.tags,
        vec![("project".to_owned(), "streams".to_owned())]
    );
    assert_eq!(
        info.principal.kind,
        PrincipalKind::AssumedRole {
            role_arn: arn.clone()
        }
    );

    // Longer than the role allows.
    h.sts(
        Some(default_caller()),
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &arn),
            ("RoleSessionName", "s2"),
            ("DurationSeconds", "7200"),
        ],
    )
    .await
    .error(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );

    // The session ends on the server clock.
    h.clock.advance_millis(3_600_000);
    h.sts(Some(session), &[("Action", "GetCallerIdentity")])
        .await
        .error(
            403,
            "ExpiredToken",
            "The security token included in the request is expired",
        );
}

#[tokio::test]
async fn assume_role_honours_the_external_id_condition() {
    let h = harness();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"s3cret"}}}]}"#;
    let arn = h.role("partner", trust).await;
    h.sts(
        Some(default_caller()),
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &arn),
            ("RoleSessionName", "s1"),
        ],
    )
    .await
    .error_code(403, "AccessDenied");
    h.sts(
        Some(default_caller()),
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &arn),
            ("RoleSessionName", "s1"),
            ("ExternalId", "s3cret"),
        ],
    )
    .await
    .ok();
}

#[tokio::test]
async fn role_chaining_is_limited_to_an_hour() {
    let h = harness();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
    let first = h.role("first", trust).await;
    let second = h.role("second", trust).await;
    h.iam(&[
        ("Action", "UpdateRole"),
        ("RoleName", "second"),
        ("MaxSessionDuration", "7200"),
    ])
    .await;
    h.iam(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "first"),
        ("PolicyName", "chain"),
        ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#),
    ])
    .await;
    let a = h
        .sts(
            Some(default_caller()),
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &first),
                ("RoleSessionName", "s1"),
            ],
        )
        .await;
    a.ok();
    let session = Some(session_caller(&a, ACCOUNT));
    h.sts(
        session.clone(),
        &[("Action", "AssumeRole"), ("RoleArn", &second), ("RoleSessionName", "s2"), ("DurationSeconds", "7200")],
    )
    .await
    .error(
        400,
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
    );
    let b = h
        .sts(
            session,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &second),
                ("RoleSessionName", "s2"),
            ],
        )
        .await;
    b.ok();
    assert_eq!(
        b.text("AssumedRoleUser/Arn"),
        "arn:aws:sts::000000000000:assumed-role/second/s2"
    );
}

#[tokio::test]
async fn services_get_role_credentials_their_trust_allows() {
    let h = harness();
    let arn = h.role("fn-role", TRUST_LAMBDA).await;
    let c = h
        .sts
        .assume_role_for_service("lambda.amazonaws.com", &arn, "my-function", 900)
        .await
        .expect("lambda may assume its role");
    assert!(c.access_key_id.starts_with("ASIA"));
    assert_eq!(c.expiration_ms, T0 + 900_000);
    let info = h
        .sts
        .sessions()
        .check(&c.access_key_id, Some(&c.session_token))
        .expect("a live session");
    assert_eq!(
        info.principal.arn,
        "arn:aws:sts::000000000000:assumed-role/fn-role/my-function"
    );
    let me = h
        .sts(
            Some(Caller {
                access_key: c.access_key_id.clone(),
                account_id: ACCOUNT.into(),
                session_token: Some(c.session_token.clone()),
                arn: None,
            }),
            &[("Action", "GetCallerIdentity")],
        )
        .await;
    assert_eq!(
        me.text("Arn"),
        "arn:aws:sts::000000000000:assumed-role/fn-role/my-function"
    );
}

#[tokio::test]
async fn services_are_refused_roles_that_do_not_trust_them() {
    let h = harness();
    let arn = h.role("ec2-only", TRUST_EC2).await;
    let e = h
        .sts
        .assume_role_for_service("lambda.amazonaws.com", &arn, "fn1", 900)
        .await
        .unwrap_err();
    assert_eq!((e.code, e.status), ("AccessDenied", 403));
    assert_eq!(
        e.message,
        format!(
            "lambda.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: {arn}"
        )
    );
    let e = h
        .sts
        .assume_role_for_service(
            "lambda.amazonaws.com",
            "arn:aws:iam::000000000000:role/none",
            "fn1",
            900,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "AccessDenied");
    let lambda_role = h.role("fn-role", TRUST_LAMBDA).await;
    let e = h
        .sts
        .assume_role_for_service("lambda.amazonaws.com", &lambda_role, "bad name", 900)
        .await
        .unwrap_err();
    assert_eq!(e.code, "ValidationError");
    let e = h
        .sts
        .assume_role_for_service("lambda.amazonaws.com", &lambda_role, "fn1", 7200)
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    );
}

#[tokio::test]
async fn keys_cover_iam_keys_and_their_status() {
    let h = harness();
    let (key, _, arn) = h.user_with_key("carol").await;
    let k = h.sts.keys().lookup(&key).expect("the IAM key");
    assert!(k.active && k.session.is_none());
    assert_eq!(k.principal.arn, arn);
    h.iam(&[
        ("Action", "UpdateAccessKey"),
        ("UserName", "carol"),
        ("AccessKeyId", &key),
        ("Status", "Inactive"),
    ])
    .await;
    assert!(!h.sts.keys().lookup(&key).unwrap().active);
    assert!(h.sts.keys().lookup("test").is_none());
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clock = ManualClock::new(T0);
    let session = {
        let store = Store::open(Some(dir.path()), clock.clone()).expect("a store");
        let h = build(store.clone(), clock.clone());
        let t = h
            .sts(Some(default_caller()), &[("Action", "GetSessionToken")])
            .await;
        t.ok();
        let s = session_caller(&t, ACCOUNT);
        store.close();
        s
    };
    let store = Store::open(Some(dir.path()), clock.clone()).expect("the store again");
    let h = build(store, clock.clone());
    h.sts
        .sessions()
        .check(&session.access_key, session.session_token.as_deref())
        .expect("the session after a restart");
    let me = h
        .sts(Some(session.clone()), &[("Action", "GetCallerIdentity")])
        .await;
    assert_eq!(me.text("Arn"), "arn:aws:iam::000000000000:root");
    clock.advance_millis(3_600_000);
    h.sts(Some(session), &[("Action", "GetCallerIdentity")])
        .await
        .error_code(403, "ExpiredToken");
}

#[tokio::test]
async fn long_expired_sessions_are_pruned() {
    let h = harness();
    let old = h
        .sts(
            Some(default_caller()),
            &[("Action", "GetSessionToken"), ("DurationSeconds", "900")],
        )
        .await;
    let old_key = old.text("Credentials/AccessKeyId").to_owned();
    h.clock.advance_millis(2 * 24 * 3_600_000);
    h.sts(Some(default_caller()), &[("Action", "GetSessionToken")])
        .await
        .ok();
    assert!(h.sts.sessions().session(&old_key).is_none());
}

#[tokio::test]
async fn protocol_errors() {
    let h = harness();
    h.sts(Some(default_caller()), &[("Action", "BecomeRoot")])
        .await
        .error(
            400,
            "InvalidAction",
            "Could not find operation BecomeRoot for version 2011-06-15",
        );
    h.sts(
        Some(default_caller()),
        &[("Action", "GetFederationToken"), ("Name", "fed")],
    )
    .await
    .error_code(501, "NotImplemented");
    h.sts(Some(default_caller()), &[])
        .await
        .error(400, "MissingAction", "Missing Action");
}

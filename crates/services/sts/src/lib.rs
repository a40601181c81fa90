//! AWS Security Token Service on the shared endpoint (query protocol, XML answers):
//! GetCallerIdentity, AssumeRole, GetSessionToken and GetAccessKeyInfo, plus the lookups the
//! gateway needs to accept the temporary credentials STS hands out ([`Sessions`], [`Keys`]) and
//! a way for the server to mint role credentials for a service such as Lambda without an HTTP
//! call ([`Sts::assume_role_for_service`]).
//!
//! STS knows IAM only through the narrow [`IamView`] trait (implemented for
//! [`tributary_iam::Directory`]): the roles, users' keys and policies it reads. Sessions live
//! in the store, so they survive a restart, and expire on the server clock.
//!
//! Who calls: a request's access key is, in this order, a session's (`ASIA…`), an IAM user's
//! or root key IAM issued, or (any other key, as `--auth open` accepts) the account root.

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use tributary_iam::wire::{self, random_id, random_secret};
use tributary_iam::{AccessKeyInfo, Directory, KeyStatus, RoleInfo};
use tributary_model::{AwsError, Clock};
use tributary_policy::{evaluate, Decision, Policy, PolicyKind, Principal, PrincipalKind};
use tributary_service::query::{self, Params};
use tributary_service::{Caller, Request, Response, Service};
use tributary_shapes::generated::sts as shapes;
use tributary_shapes::types::Timestamp;
use tributary_store::Store;

mod sessions;

pub use sessions::{
    expired_token, invalid_token, Credentials, SessionError, SessionInfo, Sessions,
    EXPIRED_TOKEN_MESSAGE, INVALID_TOKEN_MESSAGE,
};
use sessions::{SessionDoc, SessionKind};

/// STS's XML namespace.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// What STS needs from IAM.
pub trait IamView: Send + Sync + 'static {
    /// An access key IAM issued.
    fn access_key(&self, id: &str) -> Option<AccessKeyInfo>;
    /// The role an ARN names.
    fn role_by_arn(&self, arn: &str) -> Option<RoleInfo>;
    /// A principal's identity-based policies.
    fn policies_of(&self, principal: &Principal) -> Vec<Policy>;
}

impl IamView for Directory {
    fn access_key(&self, id: &str) -> Option<AccessKeyInfo> {
        Directory::access_key(self, id)
    }

    fn role_by_arn(&self, arn: &str) -> Option<RoleInfo> {
        Directory::role_by_arn(self, arn)
    }

    fn policies_of(&self, principal: &Principal) -> Vec<Policy> {
        Directory::policies_of(self, principal)
    }
}

/// How STS is set up.
#[derive(Debug, Clone)]
pub struct StsConfig {
    /// The account of unsigned requests.
    pub default_account: String,
}

impl Default for StsConfig {
    fn default() -> Self {
        StsConfig {
            default_account: tributary_iam::DEFAULT_ACCOUNT.to_owned(),
        }
    }
}

/// Default and bounds of session lengths, in seconds.
const ASSUME_ROLE_DEFAULT_SECS: i64 = 3600;
const SESSION_TOKEN_DEFAULT_SECS: i64 = 43_200;
/// The account root's GetSessionToken sessions last an hour at most.
const ROOT_SESSION_MAX_SECS: i64 = 3600;
/// A role session assuming another role (role chaining) gets an hour at most.
const CHAINED_MAX_SECS: i64 = 3600;
/// The packed size of session policies and tags that makes 100% of `PackedPolicySize`.
const PACKED_LIMIT_BYTES: usize = 2048;

/// The STS service.
pub struct Sts {
    store: Store,
    clock: Arc<dyn Clock>,
    iam: Arc<dyn IamView>,
    cfg: StsConfig,
}

/// The caller of a request, resolved.
struct Identity {
    principal: Principal,
    user_id: String,
    /// The session, when the caller used temporary credentials.
    session: Option<SessionDoc>,
}

impl Sts {
    /// STS over `store`, reading roles and keys from `iam`, time from `clock`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, iam: Arc<dyn IamView>, cfg: StsConfig) -> Sts {
        Sts {
            store,
            clock,
            iam,
            cfg,
        }
    }

    /// The session lookups for the gateway.
    pub fn sessions(&self) -> Sessions {
        Sessions::new(self.store.clone(), self.clock.clone())
    }

    /// One lookup over every key the server issued (sessions and IAM keys), for the
    /// gateway's signature check.
    pub fn keys(&self) -> Keys {
        Keys {
            sessions: self.sessions(),
            iam: self.iam.clone(),
        }
    }

    /// Mints credentials for a role on behalf of an AWS service (Lambda running a function
    /// with its execution role): no caller is checked, but the role's trust policy must allow
    /// `service` (`lambda.amazonaws.com`) to `sts:AssumeRole`. The session is stored and
    /// expires like any other; `duration_secs` must lie within 900 and the role's
    /// MaxSessionDuration.
    pub async fn assume_role_for_service(
        &self,
        service: &str,
        role_arn: &str,
        session_name: &str,
        duration_secs: u32,
    ) -> Result<Credentials, AwsError> {
        let name_ok = (2..=64).contains(&session_name.len())
            && session_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if !name_ok {
            return Err(wire::validation(format!(
                r"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
            )));
        }
        let principal = Principal {
            arn: service.to_owned(),
            account: String::new(),
            kind: PrincipalKind::Service(service.to_owned()),
        };
        let denied = || {
            access_denied(format!(
                "{service} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            ))
        };
        let role = self.iam.role_by_arn(role_arn).ok_or_else(denied)?;
        let duration = i64::from(duration_secs);
        check_duration(duration, &role, false)?;
        let mut context = HashMap::new();
        context.insert(
            "sts:RoleSessionName".to_owned(),
            vec![session_name.to_owned()],
        );
        if !trusts(&role, &principal, &[], &context) {
            return Err(denied());
        }
        let doc = self.role_session(
            &role,
            session_name,
            duration,
            Vec::new(),
            Vec::new(),
            None,
            None,
        );
        self.save(doc).await.map(|d| Credentials::from(&d))
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Who sent a request.
    fn identity(&self, caller: Option<&Caller>) -> Result<Identity, AwsError> {
        let Some(caller) = caller else {
            return Ok(root(&self.cfg.default_account));
        };
        if let Some(s) = self.sessions().doc(&caller.access_key) {
            if caller.session_token.as_deref() != Some(s.token.as_str()) {
                return Err(invalid_token());
            }
            if self.now() >= s.expires_ms {
                return Err(expired_token());
            }
            return Ok(Identity {
                principal: s.principal(),
                user_id: s.user_id.clone(),
                session: Some(s),
            });
        }
        if let Some(k) = self.iam.access_key(&caller.access_key) {
            let principal = k.principal();
            return Ok(Identity {
                user_id: k.user_id.clone().unwrap_or_else(|| k.account.clone()),
                principal,
                session: None,
            });
        }
        Ok(root(&caller.account_id))
    }

    #[allow(clippy::too_many_arguments)]
    fn role_session(
        &self,
        role: &RoleInfo,
        session_name: &str,
        duration_secs: i64,
        tags: Vec<(String, String)>,
        transitive_tag_keys: Vec<String>,
        session_policy: Option<String>,
        source_identity: Option<String>,
    ) -> SessionDoc {
        let now = self.now();
        SessionDoc {
            access_key_id: random_id("ASIA", 16),
            secret: random_secret(),
            token: session_token(),
            account: role.account.clone(),
            created_ms: now,
            expires_ms: now + duration_secs * 1000,
            kind: SessionKind::AssumedRole,
            arn: format!(
                "arn:aws:sts::{}:assumed-role/{}/{session_name}",
                role.account, role.name
            ),
            user_id: format!("{}:{session_name}", role.role_id),
            role_arn: Some(role.arn.clone()),
            session_name: Some(session_name.to_owned()),
            tags,
            transitive_tag_keys,
            session_policy,
            source_identity,
        }
    }

    async fn save(&self, doc: SessionDoc) -> Result<SessionDoc, AwsError> {
        let now = self.now();
        self.store
            .write(move |tx| {
                sessions::put(tx, &doc, now)?;
                Ok(doc.clone())
            })
            .await
    }

    async fn dispatch(
        &self,
        op: shapes::Operation,
        caller: Option<&Caller>,
        input: &Map<String, Value>,
    ) -> Reply {
        use shapes::Operation as O;
        match op {
            O::GetCallerIdentity => Ok(wire::result(&self.get_caller_identity(caller)?)),
            O::AssumeRole => Ok(wire::result(
                &self.assume_role(caller, wire::typed(input)?).await?,
            )),
            O::GetSessionToken => Ok(wire::result(
                &self.get_session_token(caller, wire::typed(input)?).await?,
            )),
            O::GetAccessKeyInfo => Ok(wire::result(
                &self.get_access_key_info(caller, wire::typed(input)?)?,
            )),
            other => Err(AwsError::new(
                "NotImplemented",
                501,
                format!(
                    "The STS operation {} is not served by this Tributary server",
                    other.def().name
                ),
            )),
        }
    }

    fn get_caller_identity(
        &self,
        caller: Option<&Caller>,
    ) -> Result<types::GetCallerIdentityResponse, AwsError> {
        let id = self.identity(caller)?;
        Ok(types::GetCallerIdentityResponse {
            user_id: Some(id.user_id),
            account: Some(id.principal.account),
            arn: Some(id.principal.arn),
        })
    }

    fn get_access_key_info(
        &self,
        caller: Option<&Caller>,
        input: types::GetAccessKeyInfoRequest,
    ) -> Result<types::GetAccessKeyInfoResponse, AwsError> {
        let key = input.access_key_id.as_str();
        let account = match (self.sessions().doc(key), self.iam.access_key(key)) {
            (Some(s), _) => s.account,
            (None, Some(k)) => k.account,
            // A key this server never issued belongs to whoever uses it: under `--auth open`
            // any key is the caller's account root.
            (None, None) => caller.map_or_else(
                || self.cfg.default_account.clone(),
                |c| c.account_id.clone(),
            ),
        };
        Ok(types::GetAccessKeyInfoResponse {
            account: Some(account),
        })
    }

    async fn assume_role(
        &self,
        caller: Option<&Caller>,
        input: types::AssumeRoleRequest,
    ) -> Result<types::AssumeRoleResponse, AwsError> {
        let id = self.identity(caller)?;
        let role_arn = input.role_arn.as_str();
        let session_name = input.role_session_name.as_str();
        let duration = input
            .duration_seconds
            .map_or(ASSUME_ROLE_DEFAULT_SECS, i64::from);
        let tags: Vec<(String, String)> = input
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        let transitive = input.transitive_tag_keys.unwrap_or_default();
        let session_policy = input.policy;
        if let Some(p) = &session_policy {
            Policy::parse(p, PolicyKind::Identity)
                .map_err(|e| AwsError::new("MalformedPolicyDocument", 400, e.0))?;
        }
        let packed = tags.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            + session_policy
                .as_deref()
                .map_or(0, |p| p.chars().filter(|c| !c.is_whitespace()).count());
        let packed_percent = packed.saturating_mul(100).div_ceil(PACKED_LIMIT_BYTES);
        if packed_percent > 100 {
            return Err(AwsError::new(
                "PackedPolicyTooLarge",
                400,
                format!(
                    "Packed policy consumes {packed_percent}% of allotted space, please use smaller policy."
                ),
            ));
        }
        let denied = || {
            access_denied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                id.principal.arn
            ))
        };
        let role = self.iam.role_by_arn(role_arn).ok_or_else(denied)?;
        let mut context: HashMap<String, Vec<String>> = HashMap::new();
        context.insert(
            "aws:PrincipalArn".into(),
            vec![principal_arn(&id.principal)],
        );
        context.insert(
            "aws:PrincipalAccount".into(),
            vec![id.principal.account.clone()],
        );
        context.insert("sts:RoleSessionName".into(), vec![session_name.to_owned()]);
        if let Some(e) = &input.external_id {
            context.insert("sts:ExternalId".into(), vec![e.clone()]);
        }
        if let Some(s) = &input.source_identity {
            context.insert("sts:SourceIdentity".into(), vec![s.clone()]);
        }
        for (k, v) in &tags {
            context.insert(format!("aws:RequestTag/{k}"), vec![v.clone()]);
        }
        if !tags.is_empty() {
            context.insert(
                "aws:TagKeys".into(),
                tags.iter().map(|(k, _)| k.clone()).collect(),
            );
        }
        let identity_policies = match id.principal.kind {
            // The root may do anything in its own account; policies do not govern it.
            PrincipalKind::Root => allow_all().into_iter().collect(),
            _ => self.iam.policies_of(&id.principal),
        };
        if !trusts(&role, &id.principal, &identity_policies, &context) {
            return Err(denied());
        }
        let chained = matches!(id.principal.kind, PrincipalKind::AssumedRole { .. });
        check_duration(duration, &role, chained)?;
        let has_packed = !tags.is_empty() || session_policy.is_some();
        let source_identity = input.source_identity;
        let doc = self.role_session(
            &role,
            session_name,
            duration,
            tags,
            transitive,
            session_policy,
            source_identity.clone(),
        );
        let doc = self.save(doc).await?;
        Ok(types::AssumeRoleResponse {
            credentials: Some(credentials(&doc)),
            assumed_role_user: Some(types::AssumedRoleUser {
                assumed_role_id: doc.user_id.clone(),
                arn: doc.arn.clone(),
            }),
            // The percentage is a whole number, at most 100 (checked above).
            packed_policy_size: has_packed.then(|| packed_percent.max(1) as i32),
            source_identity,
            // The token-size members answer the newer `MinimumSessionTokenSize` request
            // member, which is not honoured.
            ..Default::default()
        })
    }

    async fn get_session_token(
        &self,
        caller: Option<&Caller>,
        input: types::GetSessionTokenRequest,
    ) -> Result<types::GetSessionTokenResponse, AwsError> {
        let id = self.identity(caller)?;
        if id.session.is_some() {
            return Err(access_denied(
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        let mut duration = input
            .duration_seconds
            .map_or(SESSION_TOKEN_DEFAULT_SECS, i64::from);
        let kind = match id.principal.kind {
            PrincipalKind::User => SessionKind::User,
            _ => {
                duration = duration.min(ROOT_SESSION_MAX_SECS);
                SessionKind::Root
            }
        };
        let now = self.now();
        let doc = SessionDoc {
            access_key_id: random_id("ASIA", 16),
            secret: random_secret(),
            token: session_token(),
            account: id.principal.account.clone(),
            created_ms: now,
            expires_ms: now + duration * 1000,
            kind,
            arn: id.principal.arn.clone(),
            user_id: id.user_id,
            role_arn: None,
            session_name: None,
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            session_policy: None,
            source_identity: None,
        };
        let doc = self.save(doc).await?;
        Ok(types::GetSessionTokenResponse {
            credentials: Some(credentials(&doc)),
            ..Default::default()
        })
    }
}

type Reply = Result<Option<String>, AwsError>;

fn root(account: &str) -> Identity {
    Identity {
        principal: Principal {
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.to_owned(),
            kind: PrincipalKind::Root,
        },
        user_id: account.to_owned(),
        session: None,
    }
}

/// `aws:PrincipalArn`: for a role session, the role's ARN.
fn principal_arn(p: &Principal) -> String {
    match &p.kind {
        PrincipalKind::AssumedRole { role_arn } => role_arn.clone(),
        _ => p.arn.clone(),
    }
}

fn access_denied(message: impl Into<String>) -> AwsError {
    AwsError::new("AccessDenied", 403, message)
}

/// `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`: what the account root
/// may do in its own account.
fn allow_all() -> Option<Policy> {
    Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Identity,
    )
    .ok()
}

/// Whether `principal` may assume the role: the request must be allowed by the caller's
/// identity policies and the trust policy together (no explicit deny; across accounts both
/// must allow), *and* the trust policy itself must name the caller, directly or through its
/// account. The second rule is what makes roles special: within one account an identity
/// policy alone allows most requests, but no identity policy lets anyone assume a role whose
/// trust policy does not name them (an administrator cannot assume a Lambda-only role).
fn trusts(
    role: &RoleInfo,
    principal: &Principal,
    identity: &[Policy],
    context: &HashMap<String, Vec<String>>,
) -> bool {
    let Some(trust) = &role.trust else {
        return false;
    };
    let request = tributary_policy::Request {
        principal,
        action: "sts:AssumeRole",
        resource: &role.arn,
        context,
    };
    let identity: Vec<&Policy> = identity.iter().collect();
    if evaluate(&request, &identity, Some(trust)).decision != Decision::Allow {
        return false;
    }
    // The trust policy alone: it allows when it names the caller directly; when it names the
    // caller's account (or another account's caller) the allow it lacks is an identity-based
    // one, which the evaluation above supplied.
    let alone = evaluate(&request, &[], Some(trust));
    alone.decision == Decision::Allow
        || (alone.decision == Decision::ImplicitDeny
            && alone.source == Some("identity-based policy"))
}

fn check_duration(duration: i64, role: &RoleInfo, chained: bool) -> Result<(), AwsError> {
    if duration > i64::from(role.max_session_secs) {
        return Err(wire::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    if chained && duration > CHAINED_MAX_SECS {
        return Err(wire::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if duration < 900 {
        return Err(wire::validation(format!(
            "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        )));
    }
    Ok(())
}

/// An opaque session token: 120 random bytes, base64 (AWS's are a few hundred characters).
fn session_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 120];
    rand::fill(&mut bytes[..]);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn credentials(s: &SessionDoc) -> types::Credentials {
    types::Credentials {
        access_key_id: s.access_key_id.clone(),
        secret_access_key: s.secret.clone(),
        session_token: s.token.clone(),
        expiration: Timestamp::from_millis(s.expires_ms),
    }
}

#[async_trait::async_trait]
impl Service for Sts {
    async fn call(&self, req: Request) -> Response {
        let params = Params::parse(&req.uri, &req.body);
        let (action, op, input) = match wire::operation(
            &shapes::SERVICE,
            "2011-06-15",
            &params,
            shapes::Operation::from_name,
            |o| o.def(),
        ) {
            Ok(read) => read,
            Err(e) => return render_error(&e),
        };
        let def_output = op.def().output.is_some();
        match self.dispatch(op, req.caller.as_ref(), &input).await {
            // An operation whose model has an output shape answers with its `<...Result>`
            // element even when that is empty (UpdateRole): SDKs look for it.
            Ok(result) => {
                let result = result.or_else(|| def_output.then(String::new));
                query::ok(&action, NAMESPACE, result.as_deref())
            }
            Err(e) => {
                tracing::debug!(action, code = e.code, message = %e.message, "sts request failed");
                render_error(&e)
            }
        }
    }
}

fn render_error(e: &AwsError) -> Response {
    query::error(NAMESPACE, e.status, e.code, &e.message, false)
}

/// Every access key the server issued: sessions first, then IAM's keys. What the gateway's
/// credential lookup needs. Cheap to clone.
#[derive(Clone)]
pub struct Keys {
    sessions: Sessions,
    iam: Arc<dyn IamView>,
}

/// An access key the server issued.
#[derive(Debug, Clone)]
pub struct KnownKey {
    pub secret: String,
    pub account: String,
    pub principal: Principal,
    /// For temporary credentials: the token requests must carry, and the expiry (check both
    /// with [`Sessions::check`]).
    pub session: Option<SessionInfo>,
    /// `false` for an IAM key set `Inactive`: it must not authenticate.
    pub active: bool,
}

impl Keys {
    pub fn lookup(&self, access_key: &str) -> Option<KnownKey> {
        if let Some(s) = self.sessions.session(access_key) {
            return Some(KnownKey {
                secret: s.secret.clone(),
                account: s.account.clone(),
                principal: s.principal.clone(),
                session: Some(s),
                active: true,
            });
        }
        let k = self.iam.access_key(access_key)?;
        Some(KnownKey {
            principal: k.principal(),
            secret: k.secret,
            account: k.account,
            session: None,
            active: k.status == KeyStatus::Active,
        })
    }
}

#[async_trait::async_trait]
impl tributary_service::iam::RoleSessions for Sts {
    async fn assume_for_service(
        &self,
        service: &str,
        role_arn: &str,
        session_name: &str,
        duration_secs: u32,
    ) -> Result<tributary_service::iam::TemporaryCredentials, AwsError> {
        let c = self
            .assume_role_for_service(service, role_arn, session_name, duration_secs)
            .await?;
        Ok(tributary_service::iam::TemporaryCredentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expires_at_ms: c.expiration_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_written_from_the_generated_struct_in_model_order() {
        let doc = SessionDoc {
            access_key_id: "ASIAEXAMPLE".into(),
            secret: "s<e>cret".into(),
            token: "tok".into(),
            account: "000000000000".into(),
            created_ms: 0,
            expires_ms: 1_573_690_429_717,
            kind: SessionKind::AssumedRole,
            arn: "arn:aws:sts::000000000000:assumed-role/r/s".into(),
            user_id: "AROAEXAMPLE:s".into(),
            role_arn: None,
            session_name: None,
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            session_policy: None,
            source_identity: None,
        };
        let out = types::AssumeRoleResponse {
            credentials: Some(credentials(&doc)),
            assumed_role_user: Some(types::AssumedRoleUser {
                assumed_role_id: doc.user_id.clone(),
                arn: doc.arn.clone(),
            }),
            packed_policy_size: Some(3),
            ..Default::default()
        };
        assert_eq!(
            wire::result(&out).unwrap(),
            "<Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId>\
             <SecretAccessKey>s&lt;e&gt;cret</SecretAccessKey><SessionToken>tok</SessionToken>\
             <Expiration>2019-11-14T00:13:49Z</Expiration></Credentials>\
             <AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId>\
             <Arn>arn:aws:sts::000000000000:assumed-role/r/s</Arn></AssumedRoleUser>\
             <PackedPolicySize>3</PackedPolicySize>"
        );
    }

    #[test]
    fn a_typed_input_reads_the_validated_query_object() {
        let input = serde_json::json!({
            "RoleArn": "arn:aws:iam::000000000000:role/r",
            "RoleSessionName": "s",
            "DurationSeconds": 900,
            "Tags": [{"Key": "k", "Value": "v"}],
        });
        let typed: types::AssumeRoleRequest = wire::typed(input.as_object().unwrap()).unwrap();
        assert_eq!(typed.role_session_name, "s");
        assert_eq!(typed.duration_seconds, Some(900));
        assert_eq!(typed.tags.unwrap()[0].value, "v");
        assert_eq!(typed.policy, None);
    }
}

//! Temporary credentials: the session documents STS keeps in the store, and the lookups the
//! gateway makes with a request's access key and session token.
//!
//! A session is stored under its access key id (`ASIA…`) and answers for itself until it
//! expires on the server clock; it is kept a day longer so a late request still hears
//! `ExpiredToken` rather than that the key is unknown, then pruned by later writes.

use serde::{Deserialize, Serialize};
use tributary_model::{AwsError, Clock};
use tributary_policy::{Policy, PolicyKind, Principal, PrincipalKind};
use tributary_store::{Store, Tx};

pub const SESSION_KIND: &str = "sts-session";

/// How long an expired session is kept so it can still be told apart from an unknown key.
const KEEP_EXPIRED_MS: i64 = 24 * 3600 * 1000;
/// Expired sessions removed per write, so pruning never makes one write long.
const PRUNE_BATCH: usize = 64;

/// AWS's text for a request signed with expired temporary credentials.
pub const EXPIRED_TOKEN_MESSAGE: &str = "The security token included in the request is expired";
/// AWS's text for a session token that does not belong to the access key.
pub const INVALID_TOKEN_MESSAGE: &str = "The security token included in the request is invalid.";

/// The error for expired temporary credentials in the query protocol's family (IAM, STS, SQS,
/// SNS answer `ExpiredToken` with HTTP 403). Other protocol families spell the code their
/// own way (`ExpiredTokenException` for the JSON ones); the message is the same.
pub fn expired_token() -> AwsError {
    AwsError::new("ExpiredToken", 403, EXPIRED_TOKEN_MESSAGE)
}

/// The error for a session token that is not the access key's.
pub fn invalid_token() -> AwsError {
    AwsError::new("InvalidClientTokenId", 403, INVALID_TOKEN_MESSAGE)
}

/// What kind of principal a session acts as.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SessionKind {
    /// GetSessionToken by the account root.
    Root,
    /// GetSessionToken by an IAM user.
    User,
    /// AssumeRole (by a caller or for a service).
    AssumedRole,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionDoc {
    pub access_key_id: String,
    pub secret: String,
    pub token: String,
    /// The account the session acts in (the role's, for a role session).
    pub account: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub kind: SessionKind,
    /// The principal's ARN: the user's or root's, or `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    /// What GetCallerIdentity answers as `UserId`: the account id, `AIDA…`, or `AROA…:<session>`.
    pub user_id: String,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub session_name: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    /// The inline session policy AssumeRole was given, as sent.
    #[serde(default)]
    pub session_policy: Option<String>,
    #[serde(default)]
    pub source_identity: Option<String>,
}

impl SessionDoc {
    pub fn principal(&self) -> Principal {
        Principal {
            arn: self.arn.clone(),
            account: self.account.clone(),
            kind: match (self.kind, &self.role_arn) {
                (SessionKind::AssumedRole, Some(role_arn)) => PrincipalKind::AssumedRole {
                    role_arn: role_arn.clone(),
                },
                (SessionKind::User, _) => PrincipalKind::User,
                _ => PrincipalKind::Root,
            },
        }
    }

    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            access_key_id: self.access_key_id.clone(),
            secret: self.secret.clone(),
            session_token: self.token.clone(),
            account: self.account.clone(),
            expires_at_ms: self.expires_ms,
            principal: self.principal(),
            user_id: self.user_id.clone(),
            role_arn: self.role_arn.clone(),
            session_name: self.session_name.clone(),
            tags: self.tags.clone(),
            session_policy: self
                .session_policy
                .as_deref()
                .and_then(|p| Policy::parse(p, PolicyKind::Identity).ok()),
        }
    }
}

/// A session as the gateway and policy checks see it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// `ASIA…`.
    pub access_key_id: String,
    pub secret: String,
    pub session_token: String,
    /// The account requests made with the session act in.
    pub account: String,
    /// When the credentials stop working, on the server clock.
    pub expires_at_ms: i64,
    /// Who requests made with the session act as.
    pub principal: Principal,
    /// What GetCallerIdentity answers as `UserId`.
    pub user_id: String,
    /// The role of a role session.
    pub role_arn: Option<String>,
    pub session_name: Option<String>,
    /// Session tags (`aws:PrincipalTag/...` for policy checks).
    pub tags: Vec<(String, String)>,
    /// The inline session policy, which limits what the role's policies allow (kept for the
    /// policy checks; STS does not apply it itself).
    pub session_policy: Option<Policy>,
}

/// Temporary credentials, as AssumeRole and GetSessionToken hand them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Expiry on the server clock.
    pub expiration_ms: i64,
}

impl From<&SessionDoc> for Credentials {
    fn from(s: &SessionDoc) -> Credentials {
        Credentials {
            access_key_id: s.access_key_id.clone(),
            secret_access_key: s.secret.clone(),
            session_token: s.token.clone(),
            expiration_ms: s.expires_ms,
        }
    }
}

/// Why a request's temporary credentials are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// No session has this access key.
    Unknown,
    /// The request's session token is missing or not the session's.
    TokenMismatch,
    /// The session has expired on the server clock.
    Expired,
}

impl SessionError {
    /// The error in the query protocol's family (`InvalidClientTokenId` / `ExpiredToken`).
    pub fn aws(self) -> AwsError {
        match self {
            SessionError::Expired => expired_token(),
            SessionError::Unknown | SessionError::TokenMismatch => invalid_token(),
        }
    }
}

/// The gateway's view of the sessions: synchronous reads of the last committed snapshot.
/// Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    clock: std::sync::Arc<dyn Clock>,
}

impl Sessions {
    pub fn new(store: Store, clock: std::sync::Arc<dyn Clock>) -> Sessions {
        Sessions { store, clock }
    }

    pub(crate) fn doc(&self, access_key: &str) -> Option<SessionDoc> {
        let v = self.store.catalog().doc(SESSION_KIND, access_key)?.clone();
        serde_json::from_value(v).ok()
    }

    /// The session of an access key, expired or not (see [`SessionInfo::expires_at_ms`]).
    pub fn session(&self, access_key: &str) -> Option<SessionInfo> {
        self.doc(access_key).map(|d| d.info())
    }

    /// Checks temporary credentials as a request presents them: the key must be a session's,
    /// the token its token, and the session not expired on the server clock.
    pub fn check(
        &self,
        access_key: &str,
        session_token: Option<&str>,
    ) -> Result<SessionInfo, SessionError> {
        let doc = self.doc(access_key).ok_or(SessionError::Unknown)?;
        if session_token != Some(doc.token.as_str()) {
            return Err(SessionError::TokenMismatch);
        }
        if self.clock.now_millis() >= doc.expires_ms {
            return Err(SessionError::Expired);
        }
        Ok(doc.info())
    }
}

/// Stores a new session, pruning long-expired ones in the same transaction.
pub(crate) fn put(tx: &mut Tx<'_>, doc: &SessionDoc, now_ms: i64) -> Result<(), AwsError> {
    let stale: Vec<String> = tx
        .catalog()
        .docs_of(SESSION_KIND)
        .filter(|(_, v)| {
            v.get("expires_ms")
                .and_then(serde_json::Value::as_i64)
                .is_some_and(|e| e + KEEP_EXPIRED_MS < now_ms)
        })
        .map(|(id, _)| id.to_owned())
        .take(PRUNE_BATCH)
        .collect();
    for id in stale {
        tx.delete_doc(SESSION_KIND, &id)?;
    }
    let value = serde_json::to_value(doc).map_err(|e| AwsError::internal(e.to_string()))?;
    tx.put_doc(SESSION_KIND, &doc.access_key_id, value)
}

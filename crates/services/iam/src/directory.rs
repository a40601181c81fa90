//! [`Directory`]: IAM's read side for the rest of the server. The gateway looks up the secret
//! of an access key, STS looks up roles and their trust policies, and policy checks ask for a
//! principal's policies. Every call reads the store's last committed snapshot without a lock,
//! so a key, role or policy is visible the moment the request that made it is answered, and
//! there is no cache to invalidate.

use tributary_policy::{Policy, PolicyKind, Principal, PrincipalKind};
use tributary_service::Caller;
use tributary_store::{Catalog, Store};

pub use crate::model::KeyStatus;
use crate::model::{
    entity_id, load, parse_arn, root_arn, Entity, KeyDoc, RoleDoc, UserDoc, KEY_KIND, ROLE_KIND,
    USER_KIND,
};
use crate::policies;

/// What the server knows about an access key IAM issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyInfo {
    pub access_key_id: String,
    pub secret: String,
    pub account: String,
    /// The owning user; `None` for a key of the account root.
    pub user_name: Option<String>,
    /// The owning user's `AIDA…` id.
    pub user_id: Option<String>,
    /// The owner's ARN: the user's, or the account root's.
    pub user_arn: String,
    /// An `Inactive` key must not authenticate requests.
    pub status: KeyStatus,
}

impl AccessKeyInfo {
    /// The principal requests signed with this key act as.
    pub fn principal(&self) -> Principal {
        Principal {
            arn: self.user_arn.clone(),
            account: self.account.clone(),
            kind: if self.user_name.is_some() {
                PrincipalKind::User
            } else {
                PrincipalKind::Root
            },
        }
    }
}

/// A role, as STS and Lambda need it.
#[derive(Debug, Clone)]
pub struct RoleInfo {
    pub arn: String,
    pub name: String,
    pub path: String,
    /// `AROA…`.
    pub role_id: String,
    pub account: String,
    /// The parsed trust policy; `None` if the stored document no longer parses (the role can
    /// then not be assumed).
    pub trust: Option<Policy>,
    /// The trust policy as the client sent it.
    pub trust_document: String,
    /// The role's MaxSessionDuration.
    pub max_session_secs: u32,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub arn: String,
    pub name: String,
    pub path: String,
    /// `AIDA…`.
    pub user_id: String,
    pub account: String,
}

/// Moves on every IAM change that succeeded (a role, a policy, an attachment, a key ...), so
/// decisions can be cached until it moves.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) fn changed() {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::Release);
}

/// The current IAM generation (see [`Directory::generation`]).
fn generation() -> u64 {
    GENERATION.load(std::sync::atomic::Ordering::Acquire)
}

/// The lookup handle. Cheap to clone.
#[derive(Clone)]
pub struct Directory {
    store: Store,
}

impl Directory {
    pub fn new(store: Store) -> Directory {
        Directory { store }
    }

    /// A number that moves whenever IAM's roles, users, keys or policies change: a decision
    /// made at one generation holds until it moves.
    pub fn generation(&self) -> u64 {
        generation()
    }

    /// An access key IAM created (CreateAccessKey), whatever its status.
    pub fn access_key(&self, id: &str) -> Option<AccessKeyInfo> {
        let catalog = self.store.catalog();
        let key: KeyDoc = load(&catalog, KEY_KIND, id)?;
        let user: Option<UserDoc> = match &key.user {
            Some(name) => Some(load(&catalog, USER_KIND, &entity_id(&key.account, name))?),
            None => None,
        };
        Some(AccessKeyInfo {
            access_key_id: key.id,
            secret: key.secret,
            user_arn: user
                .as_ref()
                .map_or_else(|| root_arn(&key.account), |u| u.arn.clone()),
            user_name: user.as_ref().map(|u| u.name.clone()),
            user_id: user.map(|u| u.user_id),
            account: key.account,
            status: key.status,
        })
    }

    /// The role an ARN names (`arn:aws:iam::<account>:role/<path><name>`); the name matches
    /// without regard to case, the path exactly.
    pub fn role_by_arn(&self, arn: &str) -> Option<RoleInfo> {
        let p = parse_arn(arn).filter(|p| p.kind == "role")?;
        self.role(p.account, p.name).filter(|r| r.path == p.path)
    }

    /// A role by account and name.
    pub fn role(&self, account: &str, name: &str) -> Option<RoleInfo> {
        let r: RoleDoc = load(&self.store.catalog(), ROLE_KIND, &entity_id(account, name))?;
        let trust = match Policy::parse(&r.trust_policy, PolicyKind::Trust) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(role = %r.arn, error = %e, "stored trust policy does not parse");
                None
            }
        };
        Some(RoleInfo {
            trust,
            trust_document: r.trust_policy,
            max_session_secs: u32::try_from(r.max_session_secs).unwrap_or(3600),
            arn: r.arn,
            name: r.name,
            path: r.path,
            role_id: r.role_id,
            account: r.account,
        })
    }

    /// A user by account and name.
    pub fn user(&self, account: &str, name: &str) -> Option<UserInfo> {
        let u: UserDoc = load(&self.store.catalog(), USER_KIND, &entity_id(account, name))?;
        Some(UserInfo {
            arn: u.arn,
            name: u.name,
            path: u.path,
            user_id: u.user_id,
            account: u.account,
        })
    }

    /// The user an ARN names.
    pub fn user_by_arn(&self, arn: &str) -> Option<UserInfo> {
        let p = parse_arn(arn).filter(|p| p.kind == "user")?;
        self.user(p.account, p.name).filter(|u| u.path == p.path)
    }

    /// The identity-based policies of a user or of the role behind a role session: its inline
    /// policies and the default versions of its attached managed policies. The account root
    /// and service principals have none (the root is not governed by policies); an unknown
    /// principal has none either.
    pub fn policies_of(&self, principal: &Principal) -> Vec<Policy> {
        let catalog = self.store.catalog();
        let documents = match &principal.kind {
            PrincipalKind::User => parse_arn(&principal.arn)
                .filter(|p| p.kind == "user")
                .and_then(|p| load::<UserDoc>(&catalog, USER_KIND, &entity_id(p.account, p.name)))
                .map(|u| {
                    // A user's own policies, then those of the groups it belongs to.
                    let mut docs = documents_of(&catalog, &u);
                    for g in crate::groups::of_user(&catalog, &u.account, &u.name) {
                        docs.extend(documents_of(&catalog, &g));
                    }
                    docs
                }),
            PrincipalKind::AssumedRole { role_arn } => parse_arn(role_arn)
                .filter(|p| p.kind == "role")
                .and_then(|p| load::<RoleDoc>(&catalog, ROLE_KIND, &entity_id(p.account, p.name)))
                .map(|r| documents_of(&catalog, &r)),
            PrincipalKind::Root | PrincipalKind::Service(_) => None,
        };
        documents
            .unwrap_or_default()
            .iter()
            .filter_map(|d| match parsed(d) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(principal = %principal.arn, error = %e, "stored policy does not parse");
                    None
                }
            })
            .collect()
    }
}

/// Identity policies parsed once per distinct document: the checks run per request and per
/// mapping batch, and a document's text never changes what it parses to. Bounded: past
/// `PARSED_KEPT` documents the cache starts over.
fn parsed(document: &str) -> Result<Policy, tributary_policy::PolicyError> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    const PARSED_KEPT: usize = 4096;
    static CACHE: LazyLock<Mutex<HashMap<String, Policy>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    if let Some(p) = CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(document)
    {
        return Ok(p.clone());
    }
    let policy = Policy::parse(document, PolicyKind::Identity)?;
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= PARSED_KEPT {
        cache.clear();
    }
    cache.insert(document.to_owned(), policy.clone());
    Ok(policy)
}

fn documents_of<E: Entity>(catalog: &Catalog, e: &E) -> Vec<String> {
    let mut docs: Vec<String> = e.inline().values().cloned().collect();
    docs.extend(policies::attached_documents(
        catalog,
        e.account(),
        e.attached(),
    ));
    docs
}

/// The ARN of whoever sent a request, for AccessDenied texts: the user of an IAM key, else
/// the account root.
pub(crate) fn caller_arn(catalog: &Catalog, caller: Option<&Caller>, account: &str) -> String {
    caller
        .and_then(|c| load::<KeyDoc>(catalog, KEY_KIND, &c.access_key))
        .and_then(|k| k.user.map(|u| (k.account, u)))
        .and_then(|(a, u)| load::<UserDoc>(catalog, USER_KIND, &entity_id(&a, &u)))
        .map_or_else(|| root_arn(account), |u| u.arn)
}

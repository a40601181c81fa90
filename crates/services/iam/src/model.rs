//! IAM's state as it lives in the store: one document per role, user, customer managed policy,
//! access key and instance profile.
//!
//! Names are unique per account regardless of case, as IAM's are, so documents are keyed by
//! `<account>/<lower-cased name>` (access keys by their id, which is global). A role or user
//! document holds its inline policies and the ARNs of its attached managed policies: the
//! attachments are the source of truth, and a policy's `AttachmentCount` and
//! `ListEntitiesForPolicy` are derived from them, so they can never drift apart.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tributary_model::AwsError;
use tributary_store::{Catalog, Store};

pub const ROLE_KIND: &str = "iam-role";
pub const USER_KIND: &str = "iam-user";
pub const POLICY_KIND: &str = "iam-policy";
pub const KEY_KIND: &str = "iam-access-key";
pub const PROFILE_KIND: &str = "iam-instance-profile";
pub const GROUP_KIND: &str = "iam-group";

/// The id of a named entity's document.
pub fn entity_id(account: &str, name: &str) -> String {
    format!("{account}/{}", name.to_lowercase())
}

/// `arn:aws:iam::<account>:<kind>/<path without its leading slash><name>`.
pub fn arn(account: &str, kind: &str, path: &str, name: &str) -> String {
    format!(
        "arn:aws:iam::{account}:{kind}/{}{name}",
        path.strip_prefix('/').unwrap_or(path)
    )
}

/// The account root's ARN.
pub fn root_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// An IAM ARN taken apart: `arn:aws:iam::<account>:<kind>/<path...>/<name>` gives the
/// account, the kind, the path (`/` or `/a/b/`) and the name.
pub struct ParsedArn<'a> {
    pub account: &'a str,
    pub kind: &'a str,
    pub path: String,
    pub name: &'a str,
}

pub fn parse_arn(arn: &str) -> Option<ParsedArn<'_>> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let (kind, path_and_name) = resource.split_once('/')?;
    let (path, name) = match path_and_name.rsplit_once('/') {
        Some((p, n)) => (format!("/{p}/"), n),
        None => ("/".to_owned(), path_and_name),
    };
    if name.is_empty() || kind.is_empty() {
        return None;
    }
    Some(ParsedArn {
        account,
        kind,
        path,
        name,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Applies `new` tags over `tags`: a key already there (compared without case, as IAM does)
/// gets the new value.
pub fn merge_tags(tags: &mut Vec<Tag>, new: Vec<Tag>) {
    for t in new {
        match tags.iter_mut().find(|o| o.key.eq_ignore_ascii_case(&t.key)) {
            Some(o) => *o = t,
            None => tags.push(t),
        }
    }
}

pub fn remove_tags(tags: &mut Vec<Tag>, keys: &[&str]) {
    tags.retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleDoc {
    pub account: String,
    pub name: String,
    pub path: String,
    pub role_id: String,
    pub arn: String,
    pub create_ms: i64,
    /// The trust policy exactly as the client sent it.
    pub trust_policy: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_secs: i64,
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Inline policies: name → document as sent.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    /// ARNs of attached managed policies, in the order they were attached.
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDoc {
    pub account: String,
    pub name: String,
    pub path: String,
    pub user_id: String,
    pub arn: String,
    pub create_ms: i64,
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
}

/// An IAM group: its policies apply to its members.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupDoc {
    pub account: String,
    pub name: String,
    pub path: String,
    pub group_id: String,
    pub arn: String,
    pub create_ms: i64,
    /// Member user names, in the order they were added.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyDoc {
    pub account: String,
    pub name: String,
    pub path: String,
    pub policy_id: String,
    pub arn: String,
    pub create_ms: i64,
    #[serde(default)]
    pub description: Option<String>,
    pub default_version: String,
    /// The number the next version gets (`v<n>`); versions are never renumbered.
    pub next_version: u32,
    pub versions: Vec<VersionDoc>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl PolicyDoc {
    /// IAM's `UpdateDate`: the creation of the newest version (of the policy itself while it
    /// has one version).
    pub fn update_ms(&self) -> i64 {
        self.versions
            .iter()
            .map(|v| v.create_ms)
            .max()
            .unwrap_or(self.create_ms)
            .max(self.create_ms)
    }

    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionDoc {
    pub id: String,
    pub document: String,
    pub create_ms: i64,
}

/// `Active` or `Inactive`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyDoc {
    pub id: String,
    pub secret: String,
    pub account: String,
    /// The owning user's name; `None` for the account root's own keys.
    pub user: Option<String>,
    pub status: KeyStatus,
    pub create_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileDoc {
    pub account: String,
    pub name: String,
    pub path: String,
    pub profile_id: String,
    pub arn: String,
    pub create_ms: i64,
    /// Names of the roles in the profile (IAM allows one).
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// What roles and users have in common: inline policies, attached managed policies, tags.
pub trait Entity: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    const KIND: &'static str;
    /// `role` or `user`, as IAM's messages say it.
    const NOUN: &'static str;
    /// Aggregate size of the inline policies (IAM's quota, characters without white space).
    const INLINE_SIZE_LIMIT: usize;
    /// The quota on attached managed policies, and its name in `LimitExceeded` texts.
    const ATTACHED_LIMIT: (usize, &'static str);
    fn not_found(name: &str) -> AwsError;
    /// `The role policy with name X cannot be found.`
    fn inline_not_found(policy: &str) -> AwsError {
        crate::error::no_such_entity(format!(
            "The {} policy with name {policy} cannot be found.",
            Self::NOUN
        ))
    }
    fn name(&self) -> &str;
    fn account(&self) -> &str;
    fn inline(&self) -> &BTreeMap<String, String>;
    fn inline_mut(&mut self) -> &mut BTreeMap<String, String>;
    fn attached(&self) -> &[String];
    fn attached_mut(&mut self) -> &mut Vec<String>;
}

macro_rules! entity {
    ($t:ty, $kind:expr, $noun:literal, $size:expr, $limit:expr, $quota:literal, $nf:path) => {
        impl Entity for $t {
            const KIND: &'static str = $kind;
            const NOUN: &'static str = $noun;
            const INLINE_SIZE_LIMIT: usize = $size;
            const ATTACHED_LIMIT: (usize, &'static str) = ($limit, $quota);
            fn not_found(name: &str) -> AwsError {
                $nf(name)
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn account(&self) -> &str {
                &self.account
            }
            fn inline(&self) -> &BTreeMap<String, String> {
                &self.inline
            }
            fn inline_mut(&mut self) -> &mut BTreeMap<String, String> {
                &mut self.inline
            }
            fn attached(&self) -> &[String] {
                &self.attached
            }
            fn attached_mut(&mut self) -> &mut Vec<String> {
                &mut self.attached
            }
        }
    };
}

entity!(
    RoleDoc,
    ROLE_KIND,
    "role",
    10_240,
    10,
    "PoliciesPerRole",
    crate::error::role_not_found
);
entity!(
    UserDoc,
    USER_KIND,
    "user",
    2_048,
    10,
    "PoliciesPerUser",
    crate::error::user_not_found
);

/// Reads one document of a kind.
pub fn load<T: DeserializeOwned>(catalog: &Catalog, kind: &str, id: &str) -> Option<T> {
    let v = catalog.doc(kind, id)?;
    match serde_json::from_value(v.clone()) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(kind, id, error = %e, "unreadable iam document");
            None
        }
    }
}

/// Every document of a kind that belongs to `account`.
pub fn load_all<T: DeserializeOwned>(catalog: &Catalog, kind: &str, account: &str) -> Vec<T> {
    let prefix = format!("{account}/");
    catalog
        .docs_of(kind)
        .filter(|(id, _)| id.starts_with(&prefix))
        .filter_map(|(id, v)| match serde_json::from_value(v.clone()) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(kind, id, error = %e, "unreadable iam document");
                None
            }
        })
        .collect()
}

pub fn to_doc(t: &impl Serialize) -> Result<serde_json::Value, AwsError> {
    serde_json::to_value(t).map_err(|e| AwsError::internal(e.to_string()))
}

/// Policy size as IAM counts it against its quotas: characters other than white space.
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// Loads a role or user inside a write, lets `f` change it (seeing the catalog as of this
/// transaction for cross-checks), and stores it again. `f` failing writes nothing.
pub async fn modify<E, T, F>(store: &Store, account: &str, name: &str, f: F) -> Result<T, AwsError>
where
    E: Entity,
    T: Send + 'static,
    F: Fn(&mut E, &Catalog) -> Result<T, AwsError> + Send + 'static,
{
    let id = entity_id(account, name);
    let name = name.to_owned();
    store
        .write(move |tx| {
            let mut e: E = load(tx.catalog(), E::KIND, &id).ok_or_else(|| E::not_found(&name))?;
            let out = f(&mut e, tx.catalog())?;
            tx.put_doc(E::KIND, &id, to_doc(&e)?)?;
            Ok(out)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip() {
        let a = arn("123456789012", "role", "/a/b/", "R");
        assert_eq!(a, "arn:aws:iam::123456789012:role/a/b/R");
        let p = parse_arn(&a).unwrap();
        assert_eq!(
            (p.account, p.kind, p.path.as_str(), p.name),
            ("123456789012", "role", "/a/b/", "R")
        );
        let a = arn("aws", "policy", "/", "AdministratorAccess");
        assert_eq!(a, "arn:aws:iam::aws:policy/AdministratorAccess");
        let p = parse_arn(&a).unwrap();
        assert_eq!(p.path, "/");
        assert!(parse_arn("arn:aws:iam::1:role/").is_none());
        assert!(parse_arn("arn:aws:s3:::b").is_none());
    }

    #[test]
    fn tags_merge_without_case() {
        let mut t = vec![Tag {
            key: "Team".into(),
            value: "a".into(),
        }];
        merge_tags(
            &mut t,
            vec![
                Tag {
                    key: "team".into(),
                    value: "b".into(),
                },
                Tag {
                    key: "x".into(),
                    value: "".into(),
                },
            ],
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].value, "b");
        remove_tags(&mut t, &["TEAM"]);
        assert_eq!(
            t,
            vec![Tag {
                key: "x".into(),
                value: "".into()
            }]
        );
    }
}
entity!(
    GroupDoc,
    GROUP_KIND,
    "group",
    5_120,
    10,
    "PoliciesPerGroup",
    crate::error::group_not_found
);

//! IAM's documents as the model's output structures: timestamps from the stored milliseconds,
//! policy documents URL-encoded (as IAM answers them).

use tributary_shapes::types::Timestamp;

use crate::managed::AwsPolicy;
use crate::model::{GroupDoc, PolicyDoc, ProfileDoc, RoleDoc, Tag, UserDoc, VersionDoc};
use crate::types;
use crate::wire::url_encode;

impl From<&Tag> for types::Tag {
    fn from(t: &Tag) -> types::Tag {
        types::Tag {
            key: t.key.clone(),
            value: t.value.clone(),
        }
    }
}

pub fn tags(tags: &[Tag]) -> Vec<types::Tag> {
    tags.iter().map(types::Tag::from).collect()
}

/// An entity's tags where the answer shows them: not in lists, and not at all while there
/// are none.
fn shown_tags(t: &[Tag], detail: Detail) -> Option<Vec<types::Tag>> {
    (detail != Detail::Listed && !t.is_empty()).then(|| tags(t))
}

fn boundary(arn: Option<&str>) -> Option<types::AttachedPermissionsBoundary> {
    arn.map(|arn| types::AttachedPermissionsBoundary {
        permissions_boundary_type: Some("Policy".to_owned()),
        permissions_boundary_arn: Some(arn.to_owned()),
    })
}

/// How much of a role or user an answer shows: `GetRole` shows tags and `RoleLastUsed`,
/// `ListRoles` neither.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Listed,
    /// What Create* answers: the tags given, nothing about use.
    Created,
    Full,
}

pub fn role(r: &RoleDoc, detail: Detail) -> types::Role {
    types::Role {
        path: r.path.clone(),
        role_name: r.name.clone(),
        role_id: r.role_id.clone(),
        arn: r.arn.clone(),
        create_date: Timestamp::from_millis(r.create_ms),
        assume_role_policy_document: Some(url_encode(&r.trust_policy)),
        description: r.description.clone(),
        max_session_duration: i32::try_from(r.max_session_secs).ok(),
        permissions_boundary: boundary(r.permissions_boundary.as_deref()),
        tags: shown_tags(&r.tags, detail),
        // No request made with role credentials is recorded, so the role was never used.
        role_last_used: (detail == Detail::Full).then(types::RoleLastUsed::default),
        // Sign-in sessions and role templates are not kept.
        max_signin_session_duration: None,
        source_role_template: None,
    }
}

pub fn user(u: &UserDoc, detail: Detail) -> types::User {
    types::User {
        path: u.path.clone(),
        user_name: u.name.clone(),
        user_id: u.user_id.clone(),
        arn: u.arn.clone(),
        create_date: Timestamp::from_millis(u.create_ms),
        // Users have no passwords here.
        password_last_used: None,
        permissions_boundary: boundary(u.permissions_boundary.as_deref()),
        tags: shown_tags(&u.tags, detail),
    }
}

pub fn group(g: &GroupDoc) -> types::Group {
    types::Group {
        path: g.path.clone(),
        group_name: g.name.clone(),
        group_id: g.group_id.clone(),
        arn: g.arn.clone(),
        create_date: Timestamp::from_millis(g.create_ms),
    }
}

/// A managed policy of either kind, as `GetPolicy` and `ListPolicies` show it.
pub enum PolicyView<'a> {
    Aws(&'static AwsPolicy),
    Local(&'a PolicyDoc),
}

impl PolicyView<'_> {
    pub fn arn(&self) -> &str {
        match self {
            PolicyView::Aws(p) => &p.arn,
            PolicyView::Local(p) => &p.arn,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            PolicyView::Aws(p) => &p.name,
            PolicyView::Local(p) => &p.name,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            PolicyView::Aws(p) => &p.path,
            PolicyView::Local(p) => &p.path,
        }
    }
}

pub fn policy(p: &PolicyView<'_>, attachments: usize, detail: Detail) -> types::Policy {
    let (id, version, description, create, update, tag_list) = match p {
        PolicyView::Aws(a) => (
            a.policy_id.as_str(),
            a.version.as_str(),
            Some(a.description.as_str()),
            a.create_ms,
            a.update_ms,
            &[][..],
        ),
        PolicyView::Local(l) => (
            l.policy_id.as_str(),
            l.default_version.as_str(),
            l.description.as_deref(),
            l.create_ms,
            l.update_ms(),
            l.tags.as_slice(),
        ),
    };
    types::Policy {
        policy_name: Some(p.name().to_owned()),
        policy_id: Some(id.to_owned()),
        arn: Some(p.arn().to_owned()),
        path: Some(p.path().to_owned()),
        default_version_id: Some(version.to_owned()),
        attachment_count: Some(i32::try_from(attachments).unwrap_or(i32::MAX)),
        // No policy is used as a permissions boundary here (boundaries are kept, not enforced).
        permissions_boundary_usage_count: Some(0),
        is_attachable: Some(true),
        description: description
            .filter(|_| detail != Detail::Listed)
            .map(str::to_owned),
        create_date: Some(Timestamp::from_millis(create)),
        update_date: Some(Timestamp::from_millis(update)),
        tags: shown_tags(tag_list, detail),
    }
}

/// A `PolicyVersion`; `document` is `None` where the answer leaves it out (ListPolicyVersions,
/// CreatePolicyVersion).
pub fn version(
    id: &str,
    document: Option<&str>,
    is_default: bool,
    create_ms: i64,
) -> types::PolicyVersion {
    types::PolicyVersion {
        document: document.map(url_encode),
        version_id: Some(id.to_owned()),
        is_default_version: Some(is_default),
        create_date: Some(Timestamp::from_millis(create_ms)),
    }
}

pub fn local_version(p: &PolicyDoc, v: &VersionDoc, with_document: bool) -> types::PolicyVersion {
    version(
        &v.id,
        with_document.then_some(v.document.as_str()),
        v.id == p.default_version,
        v.create_ms,
    )
}

/// An `InstanceProfile`, with its roles as they are now.
pub fn profile(p: &ProfileDoc, roles: &[RoleDoc], with_tags: bool) -> types::InstanceProfile {
    types::InstanceProfile {
        path: p.path.clone(),
        instance_profile_name: p.name.clone(),
        instance_profile_id: p.profile_id.clone(),
        arn: p.arn.clone(),
        create_date: Timestamp::from_millis(p.create_ms),
        roles: roles.iter().map(|r| role(r, Detail::Listed)).collect(),
        tags: (with_tags && !p.tags.is_empty()).then(|| tags(&p.tags)),
    }
}

/// The XML of an answer about the account root, which has no path and no user name: AWS
/// leaves out the `Path` and `UserName` members the model marks required, which the generated
/// structures always write (empty here). IAM's names and paths are never empty otherwise.
pub fn without_empty(xml: Option<String>, members: &[&str]) -> Option<String> {
    xml.map(|mut x| {
        for m in members {
            x = x.replace(&format!("<{m}></{m}>"), "");
        }
        x
    })
}

//! IAM's XML shapes, with the model's member names: lists are `<member>` elements, timestamps
//! ISO 8601 in seconds, policy documents URL-encoded.

use tributary_service::query::Xml;

use crate::managed::AwsPolicy;
use crate::model::{PolicyDoc, ProfileDoc, RoleDoc, Tag, UserDoc, VersionDoc};
use crate::wire::{iso, url_encode};

pub fn tags(x: &mut Xml, tags: &[Tag]) {
    x.open("Tags");
    for t in tags {
        x.open("member")
            .elem("Key", &t.key)
            .elem("Value", &t.value)
            .close("member");
    }
    x.close("Tags");
}

fn boundary(x: &mut Xml, arn: Option<&str>) {
    if let Some(arn) = arn {
        x.open("PermissionsBoundary")
            .elem("PermissionsBoundaryType", "Policy")
            .elem("PermissionsBoundaryArn", arn)
            .close("PermissionsBoundary");
    }
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

/// The members of a `Role` (without the enclosing element).
pub fn role(x: &mut Xml, r: &RoleDoc, detail: Detail) {
    x.elem("Path", &r.path)
        .elem("RoleName", &r.name)
        .elem("RoleId", &r.role_id)
        .elem("Arn", &r.arn)
        .elem("CreateDate", &iso(r.create_ms))
        .elem("AssumeRolePolicyDocument", &url_encode(&r.trust_policy));
    if let Some(d) = &r.description {
        x.elem("Description", d);
    }
    x.elem("MaxSessionDuration", &r.max_session_secs.to_string());
    boundary(x, r.permissions_boundary.as_deref());
    if detail != Detail::Listed && !r.tags.is_empty() {
        tags(x, &r.tags);
    }
    if detail == Detail::Full {
        // No request made with role credentials is recorded, so the role was never used.
        x.raw("<RoleLastUsed/>");
    }
}

pub fn role_element(x: &mut Xml, tag: &str, r: &RoleDoc, detail: Detail) {
    x.open(tag);
    role(x, r, detail);
    x.close(tag);
}

pub fn user(x: &mut Xml, u: &UserDoc, detail: Detail) {
    x.elem("Path", &u.path)
        .elem("UserName", &u.name)
        .elem("UserId", &u.user_id)
        .elem("Arn", &u.arn)
        .elem("CreateDate", &iso(u.create_ms));
    boundary(x, u.permissions_boundary.as_deref());
    if detail != Detail::Listed && !u.tags.is_empty() {
        tags(x, &u.tags);
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

pub fn policy(x: &mut Xml, p: &PolicyView<'_>, attachments: usize, detail: Detail) {
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
    x.elem("PolicyName", p.name())
        .elem("PolicyId", id)
        .elem("Arn", p.arn())
        .elem("Path", p.path())
        .elem("DefaultVersionId", version)
        .elem("AttachmentCount", &attachments.to_string())
        .elem("PermissionsBoundaryUsageCount", "0")
        .elem("IsAttachable", "true");
    if detail != Detail::Listed {
        if let Some(d) = description {
            x.elem("Description", d);
        }
    }
    x.elem("CreateDate", &iso(create))
        .elem("UpdateDate", &iso(update));
    if detail != Detail::Listed && !tag_list.is_empty() {
        tags(x, tag_list);
    }
}

/// A `PolicyVersion`; `document` is `None` where the answer leaves it out (ListPolicyVersions,
/// CreatePolicyVersion).
pub fn version(x: &mut Xml, id: &str, document: Option<&str>, is_default: bool, create_ms: i64) {
    if let Some(d) = document {
        x.elem("Document", &url_encode(d));
    }
    x.elem("VersionId", id)
        .elem(
            "IsDefaultVersion",
            if is_default { "true" } else { "false" },
        )
        .elem("CreateDate", &iso(create_ms));
}

pub fn local_version(x: &mut Xml, p: &PolicyDoc, v: &VersionDoc, with_document: bool) {
    version(
        x,
        &v.id,
        with_document.then_some(v.document.as_str()),
        v.id == p.default_version,
        v.create_ms,
    );
}

/// An `InstanceProfile`, with its roles as they are now.
pub fn profile(x: &mut Xml, p: &ProfileDoc, roles: &[RoleDoc], with_tags: bool) {
    x.elem("Path", &p.path)
        .elem("InstanceProfileName", &p.name)
        .elem("InstanceProfileId", &p.profile_id)
        .elem("Arn", &p.arn)
        .elem("CreateDate", &iso(p.create_ms));
    x.open("Roles");
    for r in roles {
        role_element(x, "member", r, Detail::Listed);
    }
    x.close("Roles");
    if with_tags && !p.tags.is_empty() {
        tags(x, &p.tags);
    }
}

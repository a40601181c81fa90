//! Roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription, DeleteRole,
//! UpdateAssumeRolePolicy and the role tag operations. Also the tag input and quota rules
//! users share.

use std::collections::BTreeMap;

use tributary_model::AwsError;
use tributary_policy::{Policy, PolicyKind};
use tributary_service::query::Xml;
use tributary_store::Store;

use crate::error::{
    already_exists, delete_conflict, invalid_input, limit_exceeded, malformed_policy,
    role_not_found,
};
use crate::model::{
    self, entity_id, load, load_all, merge_tags, policy_size, remove_tags, to_doc, ProfileDoc,
    RoleDoc, Tag, PROFILE_KIND, ROLE_KIND,
};
use crate::render::{self, Detail};
use crate::wire::{paginate, random_id, truncation, Input};
use crate::{Ctx, Reply};

/// Largest trust policy IAM stores (its `ACLSizePerRole` quota, white space not counted).
const TRUST_POLICY_LIMIT: usize = 2048;
/// Tags per role or user.
const TAG_LIMIT: usize = 50;
/// MaxSessionDuration when CreateRole gives none.
pub const DEFAULT_MAX_SESSION_SECS: i64 = 3600;

/// The `Tags` of a request; a key given twice (without regard to case) is refused as IAM
/// refuses it.
pub(crate) fn tags_in(input: Input<'_>, member: &str) -> Result<Vec<Tag>, AwsError> {
    let mut out: Vec<Tag> = Vec::new();
    for t in input.structs(member) {
        let key = t.str("Key").unwrap_or_default().to_owned();
        if out.iter().any(|o| o.key.eq_ignore_ascii_case(&key)) {
            return Err(invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
        out.push(Tag {
            key,
            value: t.str("Value").unwrap_or_default().to_owned(),
        });
    }
    Ok(out)
}

/// Adds tags to an entity's, within the quota (`TagsPerRole`, `TagsPerUser`, ...).
pub(crate) fn add_tags(tags: &mut Vec<Tag>, new: Vec<Tag>, quota: &str) -> Result<(), AwsError> {
    let mut merged = tags.clone();
    merge_tags(&mut merged, new);
    if merged.len() > TAG_LIMIT {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for {quota}: {TAG_LIMIT}"
        )));
    }
    *tags = merged;
    Ok(())
}

/// A page of tags (ListRoleTags, ListUserTags), in key order.
pub(crate) fn tags_page(tags: &[Tag], input: Input<'_>) -> Reply {
    let page = paginate(
        tags.to_vec(),
        |t| t.key.to_lowercase(),
        input.str("Marker"),
        input.int("MaxItems"),
    )?;
    let mut x = Xml::new();
    render::tags(&mut x, &page.items);
    truncation(&mut x, page.next_marker.as_deref());
    Ok(Some(x.into_string()))
}

/// A trust policy IAM accepts: the trust grammar, within the size quota.
fn check_trust(document: &str) -> Result<(), AwsError> {
    Policy::parse(document, PolicyKind::Trust).map_err(|e| malformed_policy(e.0))?;
    if policy_size(document) > TRUST_POLICY_LIMIT {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_LIMIT}"
        )));
    }
    Ok(())
}

pub async fn create(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("RoleName")?;
    let trust = input.required("AssumeRolePolicyDocument")?;
    check_trust(trust)?;
    let path = input.str("Path").unwrap_or("/");
    let role = RoleDoc {
        account: ctx.account.clone(),
        name: name.to_owned(),
        path: path.to_owned(),
        role_id: random_id("AROA", 17),
        arn: model::arn(&ctx.account, "role", path, name),
        create_ms: ctx.now,
        trust_policy: trust.to_owned(),
        description: input.str("Description").map(str::to_owned),
        max_session_secs: input
            .int("MaxSessionDuration")
            .unwrap_or(DEFAULT_MAX_SESSION_SECS),
        permissions_boundary: input.str("PermissionsBoundary").map(str::to_owned),
        tags: tags_in(input, "Tags")?,
        inline: BTreeMap::new(),
        attached: Vec::new(),
    };
    let id = entity_id(&ctx.account, name);
    let role = store
        .write(move |tx| {
            if tx.catalog().doc(ROLE_KIND, &id).is_some() {
                return Err(already_exists(format!(
                    "Role with name {} already exists.",
                    role.name
                )));
            }
            tx.put_doc(ROLE_KIND, &id, to_doc(&role)?)?;
            Ok(role.clone())
        })
        .await?;
    let mut x = Xml::new();
    render::role_element(&mut x, "Role", &role, Detail::Created);
    Ok(Some(x.into_string()))
}

pub(crate) fn find(store: &Store, account: &str, name: &str) -> Result<RoleDoc, AwsError> {
    load(&store.catalog(), ROLE_KIND, &entity_id(account, name)).ok_or_else(|| role_not_found(name))
}

pub fn get(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let role = find(store, &ctx.account, input.required("RoleName")?)?;
    let mut x = Xml::new();
    render::role_element(&mut x, "Role", &role, Detail::Full);
    Ok(Some(x.into_string()))
}

pub fn list(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let prefix = input.str("PathPrefix").unwrap_or("/");
    let roles: Vec<RoleDoc> = load_all::<RoleDoc>(&store.catalog(), ROLE_KIND, &ctx.account)
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .collect();
    let page = paginate(
        roles,
        |r| r.name.to_lowercase(),
        input.str("Marker"),
        input.int("MaxItems"),
    )?;
    let mut x = Xml::new();
    x.open("Roles");
    for r in &page.items {
        render::role_element(&mut x, "member", r, Detail::Listed);
    }
    x.close("Roles");
    truncation(&mut x, page.next_marker.as_deref());
    Ok(Some(x.into_string()))
}

/// UpdateRole (`description_only` false: no output) and UpdateRoleDescription (answers with
/// the role).
pub async fn update(store: &Store, ctx: &Ctx, input: Input<'_>, description_only: bool) -> Reply {
    let name = input.required("RoleName")?;
    let description = if description_only {
        Some(input.required("Description")?.to_owned())
    } else {
        input.str("Description").map(str::to_owned)
    };
    let max = if description_only {
        None
    } else {
        input.int("MaxSessionDuration")
    };
    let role = model::modify(store, &ctx.account, name, move |r: &mut RoleDoc, _| {
        if let Some(d) = &description {
            r.description = Some(d.clone());
        }
        if let Some(m) = max {
            r.max_session_secs = m;
        }
        Ok(r.clone())
    })
    .await?;
    if !description_only {
        return Ok(None);
    }
    let mut x = Xml::new();
    render::role_element(&mut x, "Role", &role, Detail::Full);
    Ok(Some(x.into_string()))
}

pub async fn update_trust(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("RoleName")?;
    let trust = input.required("PolicyDocument")?.to_owned();
    // The role is looked up first: a missing role is NoSuchEntity whatever the document.
    find(store, &ctx.account, name)?;
    check_trust(&trust)?;
    model::modify(store, &ctx.account, name, move |r: &mut RoleDoc, _| {
        r.trust_policy = trust.clone();
        Ok(())
    })
    .await?;
    Ok(None)
}

pub async fn delete(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("RoleName")?.to_owned();
    let account = ctx.account.clone();
    store
        .write(move |tx| {
            let id = entity_id(&account, &name);
            let role: RoleDoc =
                load(tx.catalog(), ROLE_KIND, &id).ok_or_else(|| role_not_found(&name))?;
            let in_profile = load_all::<ProfileDoc>(tx.catalog(), PROFILE_KIND, &account)
                .iter()
                .any(|p| p.roles.iter().any(|r| r.eq_ignore_ascii_case(&role.name)));
            if in_profile {
                return Err(delete_conflict(
                    "Cannot delete entity, must remove roles from instance profile first.",
                ));
            }
            if !role.attached.is_empty() {
                return Err(delete_conflict(
                    "Cannot delete entity, must detach all policies first.",
                ));
            }
            if !role.inline.is_empty() {
                return Err(delete_conflict(
                    "Cannot delete entity, must delete policies first.",
                ));
            }
            tx.delete_doc(ROLE_KIND, &id)
        })
        .await?;
    Ok(None)
}

pub async fn tag(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("RoleName")?;
    let tags = tags_in(input, "Tags")?;
    model::modify(store, &ctx.account, name, move |r: &mut RoleDoc, _| {
        add_tags(&mut r.tags, tags.clone(), "TagsPerRole")
    })
    .await?;
    Ok(None)
}

pub async fn untag(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("RoleName")?;
    let keys: Vec<String> = input
        .strings("TagKeys")
        .into_iter()
        .map(str::to_owned)
        .collect();
    model::modify(store, &ctx.account, name, move |r: &mut RoleDoc, _| {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        remove_tags(&mut r.tags, &keys);
        Ok(())
    })
    .await?;
    Ok(None)
}

pub fn list_tags(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let role = find(store, &ctx.account, input.required("RoleName")?)?;
    tags_page(&role.tags, input)
}

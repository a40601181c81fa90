//! Roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription, DeleteRole,
//! UpdateAssumeRolePolicy and the role tag operations. Also the tag input and quota rules
//! users share.

use std::collections::BTreeMap;

use tributary_model::AwsError;
use tributary_policy::{Policy, PolicyKind};
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
use crate::wire::{paginate, random_id, Page};
use crate::{types, Ctx};

/// Largest trust policy IAM stores (its `ACLSizePerRole` quota, white space not counted).
const TRUST_POLICY_LIMIT: usize = 2048;
/// Tags per role or user.
const TAG_LIMIT: usize = 50;
/// MaxSessionDuration when CreateRole gives none.
pub const DEFAULT_MAX_SESSION_SECS: i64 = 3600;

/// The `Tags` of a request; a key given twice (without regard to case) is refused as IAM
/// refuses it.
pub(crate) fn tags_in(tags: Option<Vec<types::Tag>>) -> Result<Vec<Tag>, AwsError> {
    let mut out: Vec<Tag> = Vec::new();
    for t in tags.unwrap_or_default() {
        if out.iter().any(|o| o.key.eq_ignore_ascii_case(&t.key)) {
            return Err(invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
        out.push(Tag {
            key: t.key,
            value: t.value,
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
pub(crate) fn tags_page(
    tags: &[Tag],
    marker: Option<&str>,
    max_items: Option<i32>,
) -> Result<Page<Tag>, AwsError> {
    paginate(tags.to_vec(), |t| t.key.to_lowercase(), marker, max_items)
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

pub async fn create(
    store: &Store,
    ctx: &Ctx,
    input: types::CreateRoleRequest,
) -> Result<types::CreateRoleResponse, AwsError> {
    check_trust(&input.assume_role_policy_document)?;
    let path = input.path.as_deref().unwrap_or("/");
    let role = RoleDoc {
        account: ctx.account.clone(),
        arn: model::arn(&ctx.account, "role", path, &input.role_name),
        name: input.role_name,
        path: path.to_owned(),
        role_id: random_id("AROA", 17),
        create_ms: ctx.now,
        trust_policy: input.assume_role_policy_document,
        description: input.description,
        max_session_secs: input
            .max_session_duration
            .map_or(DEFAULT_MAX_SESSION_SECS, i64::from),
        permissions_boundary: input.permissions_boundary,
        tags: tags_in(input.tags)?,
        inline: BTreeMap::new(),
        attached: Vec::new(),
    };
    let id = entity_id(&ctx.account, &role.name);
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
    Ok(types::CreateRoleResponse {
        role: render::role(&role, Detail::Created),
    })
}

pub(crate) fn find(store: &Store, account: &str, name: &str) -> Result<RoleDoc, AwsError> {
    load(&store.catalog(), ROLE_KIND, &entity_id(account, name)).ok_or_else(|| role_not_found(name))
}

pub fn get(
    store: &Store,
    ctx: &Ctx,
    input: types::GetRoleRequest,
) -> Result<types::GetRoleResponse, AwsError> {
    let role = find(store, &ctx.account, &input.role_name)?;
    Ok(types::GetRoleResponse {
        role: render::role(&role, Detail::Full),
    })
}

pub fn list(
    store: &Store,
    ctx: &Ctx,
    input: types::ListRolesRequest,
) -> Result<types::ListRolesResponse, AwsError> {
    let prefix = input.path_prefix.as_deref().unwrap_or("/");
    let roles: Vec<RoleDoc> = load_all::<RoleDoc>(&store.catalog(), ROLE_KIND, &ctx.account)
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .collect();
    let page = paginate(
        roles,
        |r| r.name.to_lowercase(),
        input.marker.as_deref(),
        input.max_items,
    )?;
    Ok(types::ListRolesResponse {
        roles: page
            .items
            .iter()
            .map(|r| render::role(r, Detail::Listed))
            .collect(),
        is_truncated: page.is_truncated(),
        marker: page.next_marker,
    })
}

/// UpdateRole (an empty answer) and UpdateRoleDescription (which answers with the role):
/// sets the description and, given one, the maximum session duration.
async fn modify_role(
    store: &Store,
    ctx: &Ctx,
    name: &str,
    description: Option<String>,
    max: Option<i64>,
) -> Result<RoleDoc, AwsError> {
    model::modify(store, &ctx.account, name, move |r: &mut RoleDoc, _| {
        if let Some(d) = &description {
            r.description = Some(d.clone());
        }
        if let Some(m) = max {
            r.max_session_secs = m;
        }
        Ok(r.clone())
    })
    .await
}

pub async fn update(
    store: &Store,
    ctx: &Ctx,
    input: types::UpdateRoleRequest,
) -> Result<types::UpdateRoleResponse, AwsError> {
    let max = input.max_session_duration.map(i64::from);
    modify_role(store, ctx, &input.role_name, input.description, max).await?;
    Ok(types::UpdateRoleResponse {})
}

pub async fn update_description(
    store: &Store,
    ctx: &Ctx,
    input: types::UpdateRoleDescriptionRequest,
) -> Result<types::UpdateRoleDescriptionResponse, AwsError> {
    let role = modify_role(store, ctx, &input.role_name, Some(input.description), None).await?;
    Ok(types::UpdateRoleDescriptionResponse {
        role: Some(render::role(&role, Detail::Full)),
    })
}

pub async fn update_trust(
    store: &Store,
    ctx: &Ctx,
    input: types::UpdateAssumeRolePolicyRequest,
) -> Result<(), AwsError> {
    let name = &input.role_name;
    let trust = input.policy_document;
    // The role is looked up first: a missing role is NoSuchEntity whatever the document.
    find(store, &ctx.account, name)?;
    check_trust(&trust)?;
    model::modify(store, &ctx.account, name, move |r: &mut RoleDoc, _| {
        r.trust_policy = trust.clone();
        Ok(())
    })
    .await
}

pub async fn delete(
    store: &Store,
    ctx: &Ctx,
    input: types::DeleteRoleRequest,
) -> Result<(), AwsError> {
    let name = input.role_name;
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
        .await
}

pub async fn tag(store: &Store, ctx: &Ctx, input: types::TagRoleRequest) -> Result<(), AwsError> {
    let tags = tags_in(Some(input.tags))?;
    model::modify(
        store,
        &ctx.account,
        &input.role_name,
        move |r: &mut RoleDoc, _| add_tags(&mut r.tags, tags.clone(), "TagsPerRole"),
    )
    .await
}

pub async fn untag(
    store: &Store,
    ctx: &Ctx,
    input: types::UntagRoleRequest,
) -> Result<(), AwsError> {
    let keys = input.tag_keys;
    model::modify(
        store,
        &ctx.account,
        &input.role_name,
        move |r: &mut RoleDoc, _| {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            remove_tags(&mut r.tags, &keys);
            Ok(())
        },
    )
    .await
}

pub fn list_tags(
    store: &Store,
    ctx: &Ctx,
    input: types::ListRoleTagsRequest,
) -> Result<types::ListRoleTagsResponse, AwsError> {
    let role = find(store, &ctx.account, &input.role_name)?;
    let page = tags_page(&role.tags, input.marker.as_deref(), input.max_items)?;
    Ok(types::ListRoleTagsResponse {
        tags: render::tags(&page.items),
        is_truncated: page.is_truncated(),
        marker: page.next_marker,
    })
}

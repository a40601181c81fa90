//! Instance profiles (what CloudFormation's `AWS::IAM::InstanceProfile` creates): Create, Get,
//! List, Delete, AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile and
//! ListInstanceProfilesForRole. A profile holds at most one role, by name; its answers show
//! the role as it is now.

use tributary_model::AwsError;
use tributary_store::{Catalog, Store};

use crate::error::{
    already_exists, delete_conflict, limit_exceeded, profile_not_found, role_not_found,
};
use crate::model::{
    self, entity_id, load, load_all, to_doc, ProfileDoc, RoleDoc, PROFILE_KIND, ROLE_KIND,
};
use crate::render;
use crate::roles::tags_in;
use crate::wire::{paginate, random_id, Page};
use crate::{types, Ctx};

/// Roles per instance profile (IAM's `InstanceSessionsPerInstanceProfile` quota).
const ROLE_LIMIT: usize = 1;

fn roles_of(catalog: &Catalog, p: &ProfileDoc) -> Vec<RoleDoc> {
    p.roles
        .iter()
        .filter_map(|r| load(catalog, ROLE_KIND, &entity_id(&p.account, r)))
        .collect()
}

/// A profile as Create and Get answer it: with its tags.
fn one(catalog: &Catalog, p: &ProfileDoc) -> types::InstanceProfile {
    render::profile(p, &roles_of(catalog, p), true)
}

/// A page of profiles in name order, as the lists answer them: without tags.
fn page_of(
    catalog: &Catalog,
    profiles: Vec<ProfileDoc>,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> Result<Page<types::InstanceProfile>, AwsError> {
    let page = paginate(profiles, |p| p.name.to_lowercase(), marker, max_items)?;
    Ok(Page {
        items: page
            .items
            .iter()
            .map(|p| render::profile(p, &roles_of(catalog, p), false))
            .collect(),
        next_marker: page.next_marker,
    })
}

pub async fn create(
    store: &Store,
    ctx: &Ctx,
    input: types::CreateInstanceProfileRequest,
) -> Result<types::CreateInstanceProfileResponse, AwsError> {
    let path = input.path.as_deref().unwrap_or("/");
    let profile = ProfileDoc {
        account: ctx.account.clone(),
        arn: model::arn(
            &ctx.account,
            "instance-profile",
            path,
            &input.instance_profile_name,
        ),
        name: input.instance_profile_name,
        path: path.to_owned(),
        profile_id: random_id("AIPA", 17),
        create_ms: ctx.now,
        roles: Vec::new(),
        tags: tags_in(input.tags)?,
    };
    let id = entity_id(&ctx.account, &profile.name);
    let profile = store
        .write(move |tx| {
            if tx.catalog().doc(PROFILE_KIND, &id).is_some() {
                return Err(already_exists(format!(
                    "Instance Profile {} already exists.",
                    profile.name
                )));
            }
            tx.put_doc(PROFILE_KIND, &id, to_doc(&profile)?)?;
            Ok(profile.clone())
        })
        .await?;
    Ok(types::CreateInstanceProfileResponse {
        instance_profile: one(&store.catalog(), &profile),
    })
}

pub fn get(
    store: &Store,
    ctx: &Ctx,
    input: types::GetInstanceProfileRequest,
) -> Result<types::GetInstanceProfileResponse, AwsError> {
    let name = input.instance_profile_name.as_str();
    let catalog = store.catalog();
    let p: ProfileDoc = load(&catalog, PROFILE_KIND, &entity_id(&ctx.account, name))
        .ok_or_else(|| profile_not_found(name))?;
    Ok(types::GetInstanceProfileResponse {
        instance_profile: one(&catalog, &p),
    })
}

pub fn list(
    store: &Store,
    ctx: &Ctx,
    input: types::ListInstanceProfilesRequest,
) -> Result<types::ListInstanceProfilesResponse, AwsError> {
    let prefix = input.path_prefix.as_deref().unwrap_or("/");
    let catalog = store.catalog();
    let profiles = load_all::<ProfileDoc>(&catalog, PROFILE_KIND, &ctx.account)
        .into_iter()
        .filter(|p| p.path.starts_with(prefix))
        .collect();
    let page = page_of(&catalog, profiles, input.marker.as_deref(), input.max_items)?;
    Ok(types::ListInstanceProfilesResponse {
        is_truncated: page.is_truncated(),
        instance_profiles: page.items,
        marker: page.next_marker,
    })
}

pub fn list_for_role(
    store: &Store,
    ctx: &Ctx,
    input: types::ListInstanceProfilesForRoleRequest,
) -> Result<types::ListInstanceProfilesForRoleResponse, AwsError> {
    let role = input.role_name.as_str();
    let catalog = store.catalog();
    if catalog
        .doc(ROLE_KIND, &entity_id(&ctx.account, role))
        .is_none()
    {
        return Err(role_not_found(role));
    }
    let profiles = load_all::<ProfileDoc>(&catalog, PROFILE_KIND, &ctx.account)
        .into_iter()
        .filter(|p| p.roles.iter().any(|r| r.eq_ignore_ascii_case(role)))
        .collect();
    let page = page_of(&catalog, profiles, input.marker.as_deref(), input.max_items)?;
    Ok(types::ListInstanceProfilesForRoleResponse {
        is_truncated: page.is_truncated(),
        instance_profiles: page.items,
        marker: page.next_marker,
    })
}

/// Changes a profile inside a write; `f` sees the catalog for checks on the role.
async fn modify<F>(store: &Store, ctx: &Ctx, name: &str, f: F) -> Result<(), AwsError>
where
    F: Fn(&mut ProfileDoc, &Catalog) -> Result<(), AwsError> + Send + 'static,
{
    let id = entity_id(&ctx.account, name);
    let name = name.to_owned();
    store
        .write(move |tx| {
            let mut p: ProfileDoc =
                load(tx.catalog(), PROFILE_KIND, &id).ok_or_else(|| profile_not_found(&name))?;
            f(&mut p, tx.catalog())?;
            tx.put_doc(PROFILE_KIND, &id, to_doc(&p)?)
        })
        .await
}

pub async fn add_role(
    store: &Store,
    ctx: &Ctx,
    input: types::AddRoleToInstanceProfileRequest,
) -> Result<(), AwsError> {
    let role = input.role_name;
    modify(
        store,
        ctx,
        &input.instance_profile_name,
        move |p, catalog| {
            let r: RoleDoc = load(catalog, ROLE_KIND, &entity_id(&p.account, &role))
                .ok_or_else(|| role_not_found(&role))?;
            if p.roles.len() >= ROLE_LIMIT {
                return Err(limit_exceeded(format!(
                    "Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLE_LIMIT}"
                )));
            }
            p.roles.push(r.name);
            Ok(())
        },
    )
    .await
}

pub async fn remove_role(
    store: &Store,
    ctx: &Ctx,
    input: types::RemoveRoleFromInstanceProfileRequest,
) -> Result<(), AwsError> {
    let role = input.role_name;
    modify(store, ctx, &input.instance_profile_name, move |p, _| {
        let before = p.roles.len();
        p.roles.retain(|r| !r.eq_ignore_ascii_case(&role));
        if p.roles.len() == before {
            return Err(role_not_found(&role));
        }
        Ok(())
    })
    .await
}

pub async fn delete(
    store: &Store,
    ctx: &Ctx,
    input: types::DeleteInstanceProfileRequest,
) -> Result<(), AwsError> {
    let name = input.instance_profile_name;
    let id = entity_id(&ctx.account, &name);
    store
        .write(move |tx| {
            let p: ProfileDoc =
                load(tx.catalog(), PROFILE_KIND, &id).ok_or_else(|| profile_not_found(&name))?;
            if !p.roles.is_empty() {
                return Err(delete_conflict(
                    "Cannot delete entity, must remove roles from instance profile first.",
                ));
            }
            tx.delete_doc(PROFILE_KIND, &id)
        })
        .await
}

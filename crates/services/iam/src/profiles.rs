//! Instance profiles (what CloudFormation's `AWS::IAM::InstanceProfile` creates): Create, Get,
//! List, Delete, AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile and
//! ListInstanceProfilesForRole. A profile holds at most one role, by name; its answers show
//! the role as it is now.

use tributary_model::AwsError;
use tributary_service::query::Xml;
use tributary_store::{Catalog, Store};

use crate::error::{
    already_exists, delete_conflict, limit_exceeded, profile_not_found, role_not_found,
};
use crate::model::{
    self, entity_id, load, load_all, to_doc, ProfileDoc, RoleDoc, PROFILE_KIND, ROLE_KIND,
};
use crate::render;
use crate::roles::tags_in;
use crate::wire::{paginate, random_id, truncation, Input};
use crate::{Ctx, Reply};

/// Roles per instance profile (IAM's `InstanceSessionsPerInstanceProfile` quota).
const ROLE_LIMIT: usize = 1;

fn roles_of(catalog: &Catalog, p: &ProfileDoc) -> Vec<RoleDoc> {
    p.roles
        .iter()
        .filter_map(|r| load(catalog, ROLE_KIND, &entity_id(&p.account, r)))
        .collect()
}

fn render_one(catalog: &Catalog, p: &ProfileDoc) -> String {
    let mut x = Xml::new();
    x.open("InstanceProfile");
    render::profile(&mut x, p, &roles_of(catalog, p), true);
    x.close("InstanceProfile");
    x.into_string()
}

fn render_page(catalog: &Catalog, profiles: Vec<ProfileDoc>, input: Input<'_>) -> Reply {
    let page = paginate(
        profiles,
        |p| p.name.to_lowercase(),
        input.str("Marker"),
        input.int("MaxItems"),
    )?;
    let mut x = Xml::new();
    x.open("InstanceProfiles");
    for p in &page.items {
        x.open("member");
        render::profile(&mut x, p, &roles_of(catalog, p), false);
        x.close("member");
    }
    x.close("InstanceProfiles");
    truncation(&mut x, page.next_marker.as_deref());
    Ok(Some(x.into_string()))
}

pub async fn create(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("InstanceProfileName")?;
    let path = input.str("Path").unwrap_or("/");
    let profile = ProfileDoc {
        account: ctx.account.clone(),
        name: name.to_owned(),
        path: path.to_owned(),
        profile_id: random_id("AIPA", 17),
        arn: model::arn(&ctx.account, "instance-profile", path, name),
        create_ms: ctx.now,
        roles: Vec::new(),
        tags: tags_in(input, "Tags")?,
    };
    let id = entity_id(&ctx.account, name);
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
    Ok(Some(render_one(&store.catalog(), &profile)))
}

pub fn get(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("InstanceProfileName")?;
    let catalog = store.catalog();
    let p: ProfileDoc = load(&catalog, PROFILE_KIND, &entity_id(&ctx.account, name))
        .ok_or_else(|| profile_not_found(name))?;
    Ok(Some(render_one(&catalog, &p)))
}

pub fn list(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let prefix = input.str("PathPrefix").unwrap_or("/");
    let catalog = store.catalog();
    let profiles = load_all::<ProfileDoc>(&catalog, PROFILE_KIND, &ctx.account)
        .into_iter()
        .filter(|p| p.path.starts_with(prefix))
        .collect();
    render_page(&catalog, profiles, input)
}

pub fn list_for_role(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let role = input.required("RoleName")?;
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
    render_page(&catalog, profiles, input)
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

pub async fn add_role(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("InstanceProfileName")?;
    let role = input.required("RoleName")?.to_owned();
    modify(store, ctx, name, move |p, catalog| {
        let r: RoleDoc = load(catalog, ROLE_KIND, &entity_id(&p.account, &role))
            .ok_or_else(|| role_not_found(&role))?;
        if p.roles.len() >= ROLE_LIMIT {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLE_LIMIT}"
            )));
        }
        p.roles.push(r.name);
        Ok(())
    })
    .await?;
    Ok(None)
}

pub async fn remove_role(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("InstanceProfileName")?;
    let role = input.required("RoleName")?.to_owned();
    modify(store, ctx, name, move |p, _| {
        let before = p.roles.len();
        p.roles.retain(|r| !r.eq_ignore_ascii_case(&role));
        if p.roles.len() == before {
            return Err(role_not_found(&role));
        }
        Ok(())
    })
    .await?;
    Ok(None)
}

pub async fn delete(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("InstanceProfileName")?.to_owned();
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
        .await?;
    Ok(None)
}

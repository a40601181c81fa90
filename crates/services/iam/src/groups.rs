//! Groups: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup, AddUserToGroup,
//! RemoveUserFromGroup, ListGroupsForUser. A group's inline and attached policies (the generic
//! operations in `inline` and `policies`) apply to its members.

use std::collections::BTreeMap;

use tributary_model::AwsError;
use tributary_store::{Catalog, Store};

use crate::error::{already_exists, delete_conflict, group_not_found};
use crate::model::{self, entity_id, load, load_all, to_doc, GroupDoc, UserDoc, GROUP_KIND};
use crate::render::{self, Detail};
use crate::wire::{paginate, random_id, Page};
use crate::{types, users, Ctx};

fn find(store: &Store, account: &str, name: &str) -> Result<GroupDoc, AwsError> {
    load(&store.catalog(), GROUP_KIND, &entity_id(account, name))
        .ok_or_else(|| group_not_found(name))
}

/// The groups a user belongs to.
pub(crate) fn of_user(catalog: &Catalog, account: &str, user: &str) -> Vec<GroupDoc> {
    load_all::<GroupDoc>(catalog, GROUP_KIND, account)
        .into_iter()
        .filter(|g| g.members.iter().any(|m| m.eq_ignore_ascii_case(user)))
        .collect()
}

pub async fn create(
    store: &Store,
    ctx: &Ctx,
    input: types::CreateGroupRequest,
) -> Result<types::CreateGroupResponse, AwsError> {
    let name = input.group_name.as_str();
    let path = input.path.as_deref().unwrap_or("/");
    let group = GroupDoc {
        account: ctx.account.clone(),
        name: name.to_owned(),
        path: path.to_owned(),
        group_id: random_id("AGPA", 17),
        arn: model::arn(&ctx.account, "group", path, name),
        create_ms: ctx.now,
        members: Vec::new(),
        inline: BTreeMap::new(),
        attached: Vec::new(),
    };
    let id = entity_id(&ctx.account, name);
    let group = store
        .write(move |tx| {
            if tx.catalog().doc(GROUP_KIND, &id).is_some() {
                return Err(already_exists(format!(
                    "Group with name {} already exists.",
                    group.name
                )));
            }
            tx.put_doc(GROUP_KIND, &id, to_doc(&group)?)?;
            Ok(group.clone())
        })
        .await?;
    Ok(types::CreateGroupResponse {
        group: render::group(&group),
    })
}

pub fn get(
    store: &Store,
    ctx: &Ctx,
    input: types::GetGroupRequest,
) -> Result<types::GetGroupResponse, AwsError> {
    let g = find(store, &ctx.account, &input.group_name)?;
    let catalog = store.catalog();
    let members: Vec<UserDoc> = g
        .members
        .iter()
        .filter_map(|m| load::<UserDoc>(&catalog, model::USER_KIND, &entity_id(&ctx.account, m)))
        .collect();
    let page = paginate(
        members,
        |u| u.name.to_lowercase(),
        input.marker.as_deref(),
        input.max_items,
    )?;
    Ok(types::GetGroupResponse {
        group: render::group(&g),
        users: page
            .items
            .iter()
            .map(|u| render::user(u, Detail::Listed))
            .collect(),
        is_truncated: page.is_truncated(),
        marker: page.next_marker,
    })
}

/// A page of groups in name order, as ListGroups and ListGroupsForUser answer them.
fn page_of_groups(
    groups: Vec<GroupDoc>,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> Result<Page<types::Group>, AwsError> {
    let page = paginate(groups, |g| g.name.to_lowercase(), marker, max_items)?;
    Ok(Page {
        items: page.items.iter().map(render::group).collect(),
        next_marker: page.next_marker,
    })
}

pub fn list(
    store: &Store,
    ctx: &Ctx,
    input: types::ListGroupsRequest,
) -> Result<types::ListGroupsResponse, AwsError> {
    let prefix = input.path_prefix.as_deref().unwrap_or("/");
    let groups: Vec<GroupDoc> = load_all::<GroupDoc>(&store.catalog(), GROUP_KIND, &ctx.account)
        .into_iter()
        .filter(|g| g.path.starts_with(prefix))
        .collect();
    let page = page_of_groups(groups, input.marker.as_deref(), input.max_items)?;
    Ok(types::ListGroupsResponse {
        is_truncated: page.is_truncated(),
        groups: page.items,
        marker: page.next_marker,
    })
}

pub fn list_for_user(
    store: &Store,
    ctx: &Ctx,
    input: types::ListGroupsForUserRequest,
) -> Result<types::ListGroupsForUserResponse, AwsError> {
    let user = users::find(store, &ctx.account, &input.user_name)?;
    let page = page_of_groups(
        of_user(&store.catalog(), &ctx.account, &user.name),
        input.marker.as_deref(),
        input.max_items,
    )?;
    Ok(types::ListGroupsForUserResponse {
        is_truncated: page.is_truncated(),
        groups: page.items,
        marker: page.next_marker,
    })
}

pub async fn update(
    store: &Store,
    ctx: &Ctx,
    input: types::UpdateGroupRequest,
) -> Result<(), AwsError> {
    let name = input.group_name;
    let mut g = find(store, &ctx.account, &name)?;
    let new_name = input.new_group_name;
    if let Some(p) = input.new_path {
        g.path = p;
    }
    let account = ctx.account.clone();
    store
        .write(move |tx| {
            let mut g = g.clone();
            let old_id = entity_id(&account, &name);
            if let Some(n) = &new_name {
                let new_id = entity_id(&account, n);
                if new_id != old_id && tx.catalog().doc(GROUP_KIND, &new_id).is_some() {
                    return Err(already_exists(format!(
                        "Group with name {n} already exists."
                    )));
                }
                g.name = n.clone();
            }
            g.arn = model::arn(&account, "group", &g.path, &g.name);
            tx.delete_doc(GROUP_KIND, &old_id)?;
            tx.put_doc(GROUP_KIND, &entity_id(&account, &g.name), to_doc(&g)?)
        })
        .await
}

pub async fn delete(
    store: &Store,
    ctx: &Ctx,
    input: types::DeleteGroupRequest,
) -> Result<(), AwsError> {
    let g = find(store, &ctx.account, &input.group_name)?;
    if !g.members.is_empty() {
        return Err(delete_conflict(
            "Cannot delete entity, must remove users from group first.",
        ));
    }
    if !g.inline.is_empty() {
        return Err(delete_conflict(
            "Cannot delete entity, must delete policies first.",
        ));
    }
    if !g.attached.is_empty() {
        return Err(delete_conflict(
            "Cannot delete entity, must detach all policies first.",
        ));
    }
    let id = entity_id(&ctx.account, &g.name);
    store.write(move |tx| tx.delete_doc(GROUP_KIND, &id)).await
}

/// AddUserToGroup (`add`) and RemoveUserFromGroup, which have the same members.
pub async fn membership(
    store: &Store,
    ctx: &Ctx,
    group: &str,
    user: &str,
    add: bool,
) -> Result<(), AwsError> {
    let mut g = find(store, &ctx.account, group)?;
    let user = users::find(store, &ctx.account, user)?;
    let present = g
        .members
        .iter()
        .position(|m| m.eq_ignore_ascii_case(&user.name));
    match (add, present) {
        (true, None) => g.members.push(user.name.clone()),
        (true, Some(_)) => return Ok(()),
        (false, Some(i)) => {
            g.members.remove(i);
        }
        (false, None) => {
            return Err(crate::error::no_such_entity(format!(
                "The user with name {} cannot be found.",
                user.name
            )))
        }
    }
    let id = entity_id(&ctx.account, &g.name);
    store
        .write(move |tx| tx.put_doc(GROUP_KIND, &id, to_doc(&g)?))
        .await
}

//! Groups: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup, AddUserToGroup,
//! RemoveUserFromGroup, ListGroupsForUser. A group's inline and attached policies (the generic
//! operations in `inline` and `policies`) apply to its members.

use std::collections::BTreeMap;

use tributary_service::query::Xml;
use tributary_store::{Catalog, Store};

use crate::error::{already_exists, delete_conflict, group_not_found};
use crate::model::{self, entity_id, load, load_all, to_doc, GroupDoc, UserDoc, GROUP_KIND};
use crate::render::{self, Detail};
use crate::wire::{iso, paginate, random_id, truncation, Input};
use crate::{users, Ctx, Reply};

fn find(store: &Store, account: &str, name: &str) -> Result<GroupDoc, tributary_model::AwsError> {
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

fn render_group(x: &mut Xml, g: &GroupDoc) {
    x.elem("Path", &g.path)
        .elem("GroupName", &g.name)
        .elem("GroupId", &g.group_id)
        .elem("Arn", &g.arn)
        .elem("CreateDate", &iso(g.create_ms));
}

pub async fn create(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("GroupName")?;
    let path = input.str("Path").unwrap_or("/");
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
    let mut x = Xml::new();
    x.open("Group");
    render_group(&mut x, &group);
    x.close("Group");
    Ok(Some(x.into_string()))
}

pub fn get(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let g = find(store, &ctx.account, input.required("GroupName")?)?;
    let catalog = store.catalog();
    let members: Vec<UserDoc> = g
        .members
        .iter()
        .filter_map(|m| load::<UserDoc>(&catalog, model::USER_KIND, &entity_id(&ctx.account, m)))
        .collect();
    let page = paginate(
        members,
        |u| u.name.to_lowercase(),
        input.str("Marker"),
        input.int("MaxItems"),
    )?;
    let mut x = Xml::new();
    x.open("Group");
    render_group(&mut x, &g);
    x.close("Group");
    x.open("Users");
    for u in &page.items {
        x.open("member");
        render::user(&mut x, u, Detail::Listed);
        x.close("member");
    }
    x.close("Users");
    truncation(&mut x, page.next_marker.as_deref());
    Ok(Some(x.into_string()))
}

fn page_of_groups(groups: Vec<GroupDoc>, input: Input<'_>) -> Reply {
    let page = paginate(
        groups,
        |g| g.name.to_lowercase(),
        input.str("Marker"),
        input.int("MaxItems"),
    )?;
    let mut x = Xml::new();
    x.open("Groups");
    for g in &page.items {
        x.open("member");
        render_group(&mut x, g);
        x.close("member");
    }
    x.close("Groups");
    truncation(&mut x, page.next_marker.as_deref());
    Ok(Some(x.into_string()))
}

pub fn list(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let prefix = input.str("PathPrefix").unwrap_or("/");
    let groups: Vec<GroupDoc> = load_all::<GroupDoc>(&store.catalog(), GROUP_KIND, &ctx.account)
        .into_iter()
        .filter(|g| g.path.starts_with(prefix))
        .collect();
    page_of_groups(groups, input)
}

pub fn list_for_user(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let user = users::find(store, &ctx.account, input.required("UserName")?)?;
    page_of_groups(of_user(&store.catalog(), &ctx.account, &user.name), input)
}

pub async fn update(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("GroupName")?.to_owned();
    let mut g = find(store, &ctx.account, &name)?;
    let new_name = input.str("NewGroupName").map(str::to_owned);
    if let Some(p) = input.str("NewPath") {
        g.path = p.to_owned();
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
        .await?;
    Ok(None)
}

pub async fn delete(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let g = find(store, &ctx.account, input.required("GroupName")?)?;
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
    store
        .write(move |tx| tx.delete_doc(GROUP_KIND, &id))
        .await?;
    Ok(None)
}

/// AddUserToGroup (`add`) and RemoveUserFromGroup.
pub async fn membership(store: &Store, ctx: &Ctx, input: Input<'_>, add: bool) -> Reply {
    let mut g = find(store, &ctx.account, input.required("GroupName")?)?;
    let user = users::find(store, &ctx.account, input.required("UserName")?)?;
    let present = g
        .members
        .iter()
        .position(|m| m.eq_ignore_ascii_case(&user.name));
    match (add, present) {
        (true, None) => g.members.push(user.name.clone()),
        (true, Some(_)) => return Ok(None),
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
        .await?;
    Ok(None)
}

//! Users and access keys: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, the user tag
//! operations, and CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
//! GetAccessKeyLastUsed.
//!
//! Operations that take an optional `UserName` act on the caller when it is left out: the
//! user whose access key signed the request, or the account root for any other key.

use std::collections::BTreeMap;

use tributary_model::AwsError;
use tributary_service::query::Xml;
use tributary_store::Store;

use crate::error::{
    already_exists, delete_conflict, key_not_found, limit_exceeded, user_not_found,
};
use crate::model::{
    self, entity_id, load, load_all, remove_tags, root_arn, to_doc, KeyDoc, KeyStatus, UserDoc,
    KEY_KIND, USER_KIND,
};
use crate::render::{self, Detail};
use crate::roles::{add_tags, tags_in, tags_page};
use crate::wire::{iso, paginate, random_id, random_secret, truncation, validation, Input};
use crate::{Ctx, Reply};

/// Access keys a user (or the root) may have.
const KEY_LIMIT: usize = 2;

pub(crate) fn find(store: &Store, account: &str, name: &str) -> Result<UserDoc, AwsError> {
    load(&store.catalog(), USER_KIND, &entity_id(account, name)).ok_or_else(|| user_not_found(name))
}

/// Who an operation without `UserName` acts on.
enum Subject {
    User(Box<UserDoc>),
    Root,
}

fn subject(store: &Store, ctx: &Ctx, input: Input<'_>) -> Result<Subject, AwsError> {
    if let Some(name) = input.str("UserName") {
        return find(store, &ctx.account, name).map(|u| Subject::User(Box::new(u)));
    }
    let Some(caller) = &ctx.caller else {
        return Ok(Subject::Root);
    };
    let catalog = store.catalog();
    if let Some(key) = load::<KeyDoc>(&catalog, KEY_KIND, &caller.access_key) {
        return match key.user {
            Some(user) => find(store, &key.account, &user).map(|u| Subject::User(Box::new(u))),
            None => Ok(Subject::Root),
        };
    }
    if caller.session_token.is_some() {
        return Err(validation(
            "Must specify userName when calling with non-User credentials",
        ));
    }
    Ok(Subject::Root)
}

pub async fn create(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("UserName")?;
    let path = input.str("Path").unwrap_or("/");
    let user = UserDoc {
        account: ctx.account.clone(),
        name: name.to_owned(),
        path: path.to_owned(),
        user_id: random_id("AIDA", 17),
        arn: model::arn(&ctx.account, "user", path, name),
        create_ms: ctx.now,
        permissions_boundary: input.str("PermissionsBoundary").map(str::to_owned),
        tags: tags_in(input, "Tags")?,
        inline: BTreeMap::new(),
        attached: Vec::new(),
    };
    let id = entity_id(&ctx.account, name);
    let user = store
        .write(move |tx| {
            if tx.catalog().doc(USER_KIND, &id).is_some() {
                return Err(already_exists(format!(
                    "User with name {} already exists.",
                    user.name
                )));
            }
            tx.put_doc(USER_KIND, &id, to_doc(&user)?)?;
            Ok(user.clone())
        })
        .await?;
    let mut x = Xml::new();
    x.open("User");
    render::user(&mut x, &user, Detail::Created);
    x.close("User");
    Ok(Some(x.into_string()))
}

pub fn get(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let mut x = Xml::new();
    x.open("User");
    match subject(store, ctx, input)? {
        Subject::User(u) => render::user(&mut x, &u, Detail::Full),
        Subject::Root => {
            // The account root: its id is the account id. Accounts here have no creation
            // date, so the epoch stands in.
            x.elem("UserId", &ctx.account)
                .elem("Arn", &root_arn(&ctx.account))
                .elem("CreateDate", &iso(0));
        }
    }
    x.close("User");
    Ok(Some(x.into_string()))
}

pub fn list(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let prefix = input.str("PathPrefix").unwrap_or("/");
    let users: Vec<UserDoc> = load_all::<UserDoc>(&store.catalog(), USER_KIND, &ctx.account)
        .into_iter()
        .filter(|u| u.path.starts_with(prefix))
        .collect();
    let page = paginate(
        users,
        |u| u.name.to_lowercase(),
        input.str("Marker"),
        input.int("MaxItems"),
    )?;
    let mut x = Xml::new();
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

fn keys_of(catalog: &tributary_store::Catalog, account: &str, user: Option<&str>) -> Vec<KeyDoc> {
    catalog
        .docs_of(KEY_KIND)
        .filter_map(|(_, v)| serde_json::from_value::<KeyDoc>(v.clone()).ok())
        .filter(|k| {
            k.account == account
                && match (&k.user, user) {
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    (None, None) => true,
                    _ => false,
                }
        })
        .collect()
}

pub async fn delete(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("UserName")?.to_owned();
    let account = ctx.account.clone();
    store
        .write(move |tx| {
            let id = entity_id(&account, &name);
            let user: UserDoc =
                load(tx.catalog(), USER_KIND, &id).ok_or_else(|| user_not_found(&name))?;
            if !user.attached.is_empty() {
                return Err(delete_conflict(
                    "Cannot delete entity, must detach all policies first.",
                ));
            }
            if !user.inline.is_empty() {
                return Err(delete_conflict(
                    "Cannot delete entity, must delete policies first.",
                ));
            }
            if !keys_of(tx.catalog(), &account, Some(&user.name)).is_empty() {
                return Err(delete_conflict(
                    "Cannot delete entity, must delete access keys first.",
                ));
            }
            if !crate::groups::of_user(tx.catalog(), &account, &user.name).is_empty() {
                return Err(delete_conflict(
                    "Cannot delete entity, must remove users from group first.",
                ));
            }
            tx.delete_doc(USER_KIND, &id)
        })
        .await?;
    Ok(None)
}

/// UpdateUser: a new name and/or path. The user's ARN follows; its access keys, policies and
/// tags stay with it.
pub async fn update(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("UserName")?.to_owned();
    let new_name = input.str("NewUserName").map(str::to_owned);
    let new_path = input.str("NewPath").map(str::to_owned);
    let account = ctx.account.clone();
    store
        .write(move |tx| {
            let old_id = entity_id(&account, &name);
            let mut user: UserDoc =
                load(tx.catalog(), USER_KIND, &old_id).ok_or_else(|| user_not_found(&name))?;
            let old_name = user.name.clone();
            if let Some(n) = &new_name {
                let new_id = entity_id(&account, n);
                if new_id != old_id && tx.catalog().doc(USER_KIND, &new_id).is_some() {
                    return Err(already_exists(format!(
                        "User with name {n} already exists."
                    )));
                }
                user.name = n.clone();
            }
            if let Some(p) = &new_path {
                user.path = p.clone();
            }
            user.arn = model::arn(&account, "user", &user.path, &user.name);
            let keys = keys_of(tx.catalog(), &account, Some(&old_name));
            tx.delete_doc(USER_KIND, &old_id)?;
            tx.put_doc(USER_KIND, &entity_id(&account, &user.name), to_doc(&user)?)?;
            for mut k in keys {
                k.user = Some(user.name.clone());
                tx.put_doc(KEY_KIND, &k.id, to_doc(&k)?)?;
            }
            Ok(())
        })
        .await?;
    Ok(None)
}

pub async fn tag(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("UserName")?;
    let tags = tags_in(input, "Tags")?;
    model::modify(store, &ctx.account, name, move |u: &mut UserDoc, _| {
        add_tags(&mut u.tags, tags.clone(), "TagsPerUser")
    })
    .await?;
    Ok(None)
}

pub async fn untag(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required("UserName")?;
    let keys: Vec<String> = input
        .strings("TagKeys")
        .into_iter()
        .map(str::to_owned)
        .collect();
    model::modify(store, &ctx.account, name, move |u: &mut UserDoc, _| {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        remove_tags(&mut u.tags, &keys);
        Ok(())
    })
    .await?;
    Ok(None)
}

pub fn list_tags(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let user = find(store, &ctx.account, input.required("UserName")?)?;
    tags_page(&user.tags, input)
}

fn key_metadata(x: &mut Xml, k: &KeyDoc) {
    if let Some(u) = &k.user {
        x.elem("UserName", u);
    }
    x.elem("AccessKeyId", &k.id)
        .elem("Status", k.status.as_str())
        .elem("CreateDate", &iso(k.create_ms));
}

pub async fn create_key(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let user = match subject(store, ctx, input)? {
        Subject::User(u) => Some(u.name),
        Subject::Root => None,
    };
    let key = KeyDoc {
        id: random_id("AKIA", 16),
        secret: random_secret(),
        account: ctx.account.clone(),
        user,
        status: KeyStatus::Active,
        create_ms: ctx.now,
    };
    let key = store
        .write(move |tx| {
            if let Some(u) = &key.user {
                if tx
                    .catalog()
                    .doc(USER_KIND, &entity_id(&key.account, u))
                    .is_none()
                {
                    return Err(user_not_found(u));
                }
            }
            if keys_of(tx.catalog(), &key.account, key.user.as_deref()).len() >= KEY_LIMIT {
                return Err(limit_exceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {KEY_LIMIT}"
                )));
            }
            tx.put_doc(KEY_KIND, &key.id, to_doc(&key)?)?;
            Ok(key.clone())
        })
        .await?;
    let mut x = Xml::new();
    x.open("AccessKey");
    if let Some(u) = &key.user {
        x.elem("UserName", u);
    }
    x.elem("AccessKeyId", &key.id)
        .elem("Status", key.status.as_str())
        .elem("SecretAccessKey", &key.secret)
        .elem("CreateDate", &iso(key.create_ms));
    x.close("AccessKey");
    Ok(Some(x.into_string()))
}

pub fn list_keys(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let user = match subject(store, ctx, input)? {
        Subject::User(u) => Some(u.name),
        Subject::Root => None,
    };
    let keys = keys_of(&store.catalog(), &ctx.account, user.as_deref());
    let page = paginate(
        keys,
        |k| k.id.clone(),
        input.str("Marker"),
        input.int("MaxItems"),
    )?;
    let mut x = Xml::new();
    x.open("AccessKeyMetadata");
    for k in &page.items {
        x.open("member");
        key_metadata(&mut x, k);
        x.close("member");
    }
    x.close("AccessKeyMetadata");
    truncation(&mut x, page.next_marker.as_deref());
    Ok(Some(x.into_string()))
}

/// The key `AccessKeyId` names, which must belong to the operation's subject.
fn owned_key(store: &Store, ctx: &Ctx, input: Input<'_>) -> Result<KeyDoc, AwsError> {
    let id = input.required("AccessKeyId")?;
    let user = match subject(store, ctx, input)? {
        Subject::User(u) => Some(u.name),
        Subject::Root => None,
    };
    load::<KeyDoc>(&store.catalog(), KEY_KIND, id)
        .filter(|k| {
            k.account == ctx.account
                && match (&k.user, &user) {
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    (None, None) => true,
                    _ => false,
                }
        })
        .ok_or_else(|| key_not_found(id))
}

pub async fn update_key(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let key = owned_key(store, ctx, input)?;
    let status = match input.required("Status")? {
        "Active" => KeyStatus::Active,
        "Inactive" => KeyStatus::Inactive,
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
            )))
        }
    };
    store
        .write(move |tx| {
            let mut k: KeyDoc =
                load(tx.catalog(), KEY_KIND, &key.id).ok_or_else(|| key_not_found(&key.id))?;
            k.status = status;
            tx.put_doc(KEY_KIND, &k.id, to_doc(&k)?)
        })
        .await?;
    Ok(None)
}

pub async fn delete_key(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let key = owned_key(store, ctx, input)?;
    store
        .write(move |tx| {
            if tx.catalog().doc(KEY_KIND, &key.id).is_none() {
                return Err(key_not_found(&key.id));
            }
            tx.delete_doc(KEY_KIND, &key.id)
        })
        .await?;
    Ok(None)
}

/// The key's owner and its last use. Requests are not recorded per key, so every key shows
/// AWS's answer for a key never used: `N/A` for the service and region, no date.
pub fn key_last_used(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let id = input.required("AccessKeyId")?;
    let key = load::<KeyDoc>(&store.catalog(), KEY_KIND, id)
        .filter(|k| k.account == ctx.account)
        .ok_or_else(|| key_not_found(id))?;
    let mut x = Xml::new();
    x.elem("UserName", key.user.as_deref().unwrap_or("root"));
    x.open("AccessKeyLastUsed")
        .elem("ServiceName", "N/A")
        .elem("Region", "N/A")
        .close("AccessKeyLastUsed");
    Ok(Some(x.into_string()))
}

//! Users and access keys: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, the user tag
//! operations, and CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
//! GetAccessKeyLastUsed.
//!
//! Operations that take an optional `UserName` act on the caller when it is left out: the
//! user whose access key signed the request, or the account root for any other key.

use std::collections::BTreeMap;

use tributary_model::AwsError;
use tributary_shapes::types::Timestamp;
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
use crate::wire::{paginate, random_id, random_secret, validation};
use crate::{types, Ctx};

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

/// The subject of an operation whose `UserName` is `user_name`.
fn subject(store: &Store, ctx: &Ctx, user_name: Option<&str>) -> Result<Subject, AwsError> {
    if let Some(name) = user_name {
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

pub async fn create(
    store: &Store,
    ctx: &Ctx,
    input: types::CreateUserRequest,
) -> Result<types::CreateUserResponse, AwsError> {
    let path = input.path.as_deref().unwrap_or("/");
    let user = UserDoc {
        account: ctx.account.clone(),
        arn: model::arn(&ctx.account, "user", path, &input.user_name),
        name: input.user_name,
        path: path.to_owned(),
        user_id: random_id("AIDA", 17),
        create_ms: ctx.now,
        permissions_boundary: input.permissions_boundary,
        tags: tags_in(input.tags)?,
        inline: BTreeMap::new(),
        attached: Vec::new(),
    };
    let id = entity_id(&ctx.account, &user.name);
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
    Ok(types::CreateUserResponse {
        user: Some(render::user(&user, Detail::Created)),
    })
}

/// GetUser. The account root has no `Path` and no `UserName` (they are left empty here, and
/// out of the answer: see [`render::without_empty`]).
pub fn get(
    store: &Store,
    ctx: &Ctx,
    input: types::GetUserRequest,
) -> Result<types::GetUserResponse, AwsError> {
    let user = match subject(store, ctx, input.user_name.as_deref())? {
        Subject::User(u) => render::user(&u, Detail::Full),
        // The account root: its id is the account id. Accounts here have no creation date,
        // so the epoch stands in.
        Subject::Root => types::User {
            user_id: ctx.account.clone(),
            arn: root_arn(&ctx.account),
            create_date: Timestamp::from_millis(0),
            ..Default::default()
        },
    };
    Ok(types::GetUserResponse { user })
}

pub fn list(
    store: &Store,
    ctx: &Ctx,
    input: types::ListUsersRequest,
) -> Result<types::ListUsersResponse, AwsError> {
    let prefix = input.path_prefix.as_deref().unwrap_or("/");
    let users: Vec<UserDoc> = load_all::<UserDoc>(&store.catalog(), USER_KIND, &ctx.account)
        .into_iter()
        .filter(|u| u.path.starts_with(prefix))
        .collect();
    let page = paginate(
        users,
        |u| u.name.to_lowercase(),
        input.marker.as_deref(),
        input.max_items,
    )?;
    Ok(types::ListUsersResponse {
        users: page
            .items
            .iter()
            .map(|u| render::user(u, Detail::Listed))
            .collect(),
        is_truncated: page.is_truncated(),
        marker: page.next_marker,
    })
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

pub async fn delete(
    store: &Store,
    ctx: &Ctx,
    input: types::DeleteUserRequest,
) -> Result<(), AwsError> {
    let name = input.user_name;
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
        .await
}

/// UpdateUser: a new name and/or path. The user's ARN follows; its access keys, policies and
/// tags stay with it.
pub async fn update(
    store: &Store,
    ctx: &Ctx,
    input: types::UpdateUserRequest,
) -> Result<(), AwsError> {
    let name = input.user_name;
    let new_name = input.new_user_name;
    let new_path = input.new_path;
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
        .await
}

pub async fn tag(store: &Store, ctx: &Ctx, input: types::TagUserRequest) -> Result<(), AwsError> {
    let tags = tags_in(Some(input.tags))?;
    model::modify(
        store,
        &ctx.account,
        &input.user_name,
        move |u: &mut UserDoc, _| add_tags(&mut u.tags, tags.clone(), "TagsPerUser"),
    )
    .await
}

pub async fn untag(
    store: &Store,
    ctx: &Ctx,
    input: types::UntagUserRequest,
) -> Result<(), AwsError> {
    let keys = input.tag_keys;
    model::modify(
        store,
        &ctx.account,
        &input.user_name,
        move |u: &mut UserDoc, _| {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            remove_tags(&mut u.tags, &keys);
            Ok(())
        },
    )
    .await
}

pub fn list_tags(
    store: &Store,
    ctx: &Ctx,
    input: types::ListUserTagsRequest,
) -> Result<types::ListUserTagsResponse, AwsError> {
    let user = find(store, &ctx.account, &input.user_name)?;
    let page = tags_page(&user.tags, input.marker.as_deref(), input.max_items)?;
    Ok(types::ListUserTagsResponse {
        tags: render::tags(&page.items),
        is_truncated: page.is_truncated(),
        marker: page.next_marker,
    })
}

fn key_metadata(k: &KeyDoc) -> types::AccessKeyMetadata {
    types::AccessKeyMetadata {
        user_name: k.user.clone(),
        access_key_id: Some(k.id.clone()),
        status: Some(k.status.as_str().to_owned()),
        create_date: Some(Timestamp::from_millis(k.create_ms)),
    }
}

/// CreateAccessKey. A key of the account root has no `UserName` (it is left empty here, and
/// out of the answer: see [`render::without_empty`]).
pub async fn create_key(
    store: &Store,
    ctx: &Ctx,
    input: types::CreateAccessKeyRequest,
) -> Result<types::CreateAccessKeyResponse, AwsError> {
    let user = match subject(store, ctx, input.user_name.as_deref())? {
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
    Ok(types::CreateAccessKeyResponse {
        access_key: types::AccessKey {
            user_name: key.user.unwrap_or_default(),
            access_key_id: key.id,
            status: key.status.as_str().to_owned(),
            secret_access_key: key.secret,
            create_date: Some(Timestamp::from_millis(key.create_ms)),
        },
    })
}

pub fn list_keys(
    store: &Store,
    ctx: &Ctx,
    input: types::ListAccessKeysRequest,
) -> Result<types::ListAccessKeysResponse, AwsError> {
    let user = match subject(store, ctx, input.user_name.as_deref())? {
        Subject::User(u) => Some(u.name),
        Subject::Root => None,
    };
    let keys = keys_of(&store.catalog(), &ctx.account, user.as_deref());
    let page = paginate(
        keys,
        |k| k.id.clone(),
        input.marker.as_deref(),
        input.max_items,
    )?;
    Ok(types::ListAccessKeysResponse {
        access_key_metadata: page.items.iter().map(key_metadata).collect(),
        is_truncated: page.is_truncated(),
        marker: page.next_marker,
    })
}

/// The key `id` names, which must belong to the subject the request's `UserName` gives.
fn owned_key(
    store: &Store,
    ctx: &Ctx,
    id: &str,
    user_name: Option<&str>,
) -> Result<KeyDoc, AwsError> {
    let user = match subject(store, ctx, user_name)? {
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

pub async fn update_key(
    store: &Store,
    ctx: &Ctx,
    input: types::UpdateAccessKeyRequest,
) -> Result<(), AwsError> {
    let key = owned_key(store, ctx, &input.access_key_id, input.user_name.as_deref())?;
    let status = match input.status.as_str() {
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
        .await
}

pub async fn delete_key(
    store: &Store,
    ctx: &Ctx,
    input: types::DeleteAccessKeyRequest,
) -> Result<(), AwsError> {
    let key = owned_key(store, ctx, &input.access_key_id, input.user_name.as_deref())?;
    store
        .write(move |tx| {
            if tx.catalog().doc(KEY_KIND, &key.id).is_none() {
                return Err(key_not_found(&key.id));
            }
            tx.delete_doc(KEY_KIND, &key.id)
        })
        .await
}

/// The key's owner and its last use. Requests are not recorded per key, so every key shows
/// AWS's answer for a key never used: `N/A` for the service and region, no date.
pub fn key_last_used(
    store: &Store,
    ctx: &Ctx,
    input: types::GetAccessKeyLastUsedRequest,
) -> Result<types::GetAccessKeyLastUsedResponse, AwsError> {
    let id = input.access_key_id.as_str();
    let key = load::<KeyDoc>(&store.catalog(), KEY_KIND, id)
        .filter(|k| k.account == ctx.account)
        .ok_or_else(|| key_not_found(id))?;
    Ok(types::GetAccessKeyLastUsedResponse {
        user_name: Some(key.user.unwrap_or_else(|| "root".to_owned())),
        access_key_last_used: Some(types::AccessKeyLastUsed {
            last_used_date: None,
            service_name: "N/A".to_owned(),
            region: "N/A".to_owned(),
        }),
    })
}

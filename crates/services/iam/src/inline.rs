//! Inline policies of roles, users and groups: Put, Get, List and Delete Role/User/Group
//! Policy. A policy is kept as the client sent it and answered URL-encoded.
//!
//! The handlers are shared by the three kinds of entity; each takes the members its
//! operations have in common (the entity's name first), read from the operation's typed input
//! by the dispatcher.

use tributary_model::AwsError;
use tributary_policy::{Policy, PolicyKind};
use tributary_store::Store;

use crate::error::{limit_exceeded, malformed_policy};
use crate::model::{self, entity_id, load, policy_size, Entity};
use crate::wire::{paginate, url_encode, Page};
use crate::Ctx;

fn find<E: Entity>(store: &Store, account: &str, name: &str) -> Result<E, AwsError> {
    load(&store.catalog(), E::KIND, &entity_id(account, name)).ok_or_else(|| E::not_found(name))
}

pub async fn put<E: Entity>(
    store: &Store,
    ctx: &Ctx,
    name: &str,
    policy_name: String,
    document: String,
) -> Result<(), AwsError> {
    find::<E>(store, &ctx.account, name)?;
    Policy::parse(&document, PolicyKind::Identity).map_err(|e| malformed_policy(e.0))?;
    model::modify(store, &ctx.account, name, move |e: &mut E, _| {
        let others: usize = e
            .inline()
            .iter()
            .filter(|(n, _)| **n != policy_name)
            .map(|(_, d)| policy_size(d))
            .sum();
        if others + policy_size(&document) > E::INLINE_SIZE_LIMIT {
            return Err(limit_exceeded(format!(
                "Maximum policy size of {} bytes exceeded for {} {}",
                E::INLINE_SIZE_LIMIT,
                E::NOUN,
                e.name()
            )));
        }
        e.inline_mut().insert(policy_name.clone(), document.clone());
        Ok(())
    })
    .await
}

/// The entity's name (as it was created) and the policy's document, URL-encoded.
pub fn get<E: Entity>(
    store: &Store,
    ctx: &Ctx,
    name: &str,
    policy_name: &str,
) -> Result<(String, String), AwsError> {
    let e: E = find(store, &ctx.account, name)?;
    let document = e
        .inline()
        .get(policy_name)
        .ok_or_else(|| E::inline_not_found(policy_name))?;
    Ok((e.name().to_owned(), url_encode(document)))
}

/// A page of the entity's policy names, in order.
pub fn list<E: Entity>(
    store: &Store,
    ctx: &Ctx,
    name: &str,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> Result<Page<String>, AwsError> {
    let e: E = find(store, &ctx.account, name)?;
    let names: Vec<String> = e.inline().keys().cloned().collect();
    paginate(names, String::clone, marker, max_items)
}

pub async fn delete<E: Entity>(
    store: &Store,
    ctx: &Ctx,
    name: &str,
    policy_name: String,
) -> Result<(), AwsError> {
    model::modify(store, &ctx.account, name, move |e: &mut E, _| {
        e.inline_mut()
            .remove(&policy_name)
            .map(|_| ())
            .ok_or_else(|| E::inline_not_found(&policy_name))
    })
    .await
}

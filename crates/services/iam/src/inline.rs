//! Inline policies of roles and users: Put, Get, List and Delete Role/User Policy. A policy is
//! kept as the client sent it and answered URL-encoded.

use tributary_policy::{Policy, PolicyKind};
use tributary_service::query::Xml;
use tributary_store::Store;

use crate::error::{limit_exceeded, malformed_policy};
use crate::model::{self, entity_id, load, policy_size, Entity};
use crate::wire::{paginate, truncation, url_encode, Input};
use crate::{Ctx, Reply};

fn find<E: Entity>(
    store: &Store,
    account: &str,
    name: &str,
) -> Result<E, tributary_model::AwsError> {
    load(&store.catalog(), E::KIND, &entity_id(account, name)).ok_or_else(|| E::not_found(name))
}

pub async fn put<E: Entity>(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required(E::NAME_MEMBER)?;
    let policy_name = input.required("PolicyName")?.to_owned();
    let document = input.required("PolicyDocument")?.to_owned();
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
    .await?;
    Ok(None)
}

pub fn get<E: Entity>(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let e: E = find(store, &ctx.account, input.required(E::NAME_MEMBER)?)?;
    let policy_name = input.required("PolicyName")?;
    let document = e
        .inline()
        .get(policy_name)
        .ok_or_else(|| E::inline_not_found(policy_name))?;
    let mut x = Xml::new();
    x.elem(E::NAME_MEMBER, e.name())
        .elem("PolicyName", policy_name)
        .elem("PolicyDocument", &url_encode(document));
    Ok(Some(x.into_string()))
}

pub fn list<E: Entity>(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let e: E = find(store, &ctx.account, input.required(E::NAME_MEMBER)?)?;
    let names: Vec<String> = e.inline().keys().cloned().collect();
    let page = paginate(
        names,
        String::clone,
        input.str("Marker"),
        input.int("MaxItems"),
    )?;
    let mut x = Xml::new();
    x.open("PolicyNames");
    for n in &page.items {
        x.elem("member", n);
    }
    x.close("PolicyNames");
    truncation(&mut x, page.next_marker.as_deref());
    Ok(Some(x.into_string()))
}

pub async fn delete<E: Entity>(store: &Store, ctx: &Ctx, input: Input<'_>) -> Reply {
    let name = input.required(E::NAME_MEMBER)?;
    let policy_name = input.required("PolicyName")?.to_owned();
    model::modify(store, &ctx.account, name, move |e: &mut E, _| {
        e.inline_mut()
            .remove(&policy_name)
            .map(|_| ())
            .ok_or_else(|| E::inline_not_found(&policy_name))
    })
    .await?;
    Ok(None)
}

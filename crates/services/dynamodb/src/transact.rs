//! TransactWriteItems and TransactGetItems: all-or-nothing writes with conditions, checked and
//! applied inside one store job, with `ClientRequestToken` idempotency.

use std::collections::HashSet;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tributary_model::attr::{item_from_json, Item};
use tributary_model::AwsError;
use tributary_store::TableMeta;

use super::exprs::{Exprs, Texts};
use super::keys::{
    capacity_mode, check_put_item, check_updated_item, commit_change, key_from_json, key_of_item,
    lookup, per_table, read_units, table_id_in, write_units, CapacityMode,
};
use super::{invalid, raw, raw_in, table_name_of};
use crate::{types, DynamoDb};
use tributary_model::attr::item_into_wire;
use tributary_service::json::constraint;

const MAX_ITEMS: usize = 100;
/// How long a `ClientRequestToken` makes a repeated request a no-op.
const TOKEN_TTL_MS: i64 = 10 * 60 * 1000;

/// `ClientRequestToken`s of successful TransactWriteItems calls, kept durably for
/// [`TOKEN_TTL_MS`] in two key-value spaces: token → (digest, first seen), and
/// (first seen, token) → () so expired tokens are found in time order and removed a few at a
/// time by later calls.
mod tokens {
    use std::ops::Bound;

    use tributary_model::AwsError;
    use tributary_store::Tx;

    use super::TOKEN_TTL_MS;

    const BY_TOKEN: &str = "dynamodb-txn-tokens";
    const BY_TIME: &str = "dynamodb-txn-token-times";
    /// Expired tokens removed per recorded one: bounded work that outpaces creation.
    const PURGE: usize = 8;

    /// The digest of the request that first used `token`, while it is still remembered.
    pub(super) fn lookup(tx: &mut Tx<'_>, token: &str) -> Result<Option<[u8; 32]>, AwsError> {
        let Some(v) = tx.kv_get(BY_TOKEN, token.as_bytes())? else {
            return Ok(None);
        };
        let (Ok(digest), Ok(at)) = (
            <[u8; 32]>::try_from(v.get(..32).unwrap_or_default()),
            <[u8; 8]>::try_from(v.get(32..40).unwrap_or_default()),
        ) else {
            return Ok(None);
        };
        let live = tx.now_ms() - i64::from_be_bytes(at) < TOKEN_TTL_MS;
        Ok(live.then_some(digest))
    }

    /// Remembers `token` for the request with `digest`, and forgets a few expired ones.
    pub(super) fn record(tx: &mut Tx<'_>, token: &str, digest: &[u8; 32]) -> Result<(), AwsError> {
        let now = tx.now_ms();
        let cutoff = (now - TOKEN_TTL_MS).max(0) as u64;
        let expired = tx.kv_range(
            BY_TIME,
            Bound::Unbounded,
            Bound::Excluded(&cutoff.to_be_bytes()),
            PURGE,
        )?;
        for (k, _) in expired {
            tx.kv_delete(BY_TIME, &k)?;
            if let Some(t) = k.get(8..) {
                tx.kv_delete(BY_TOKEN, t)?;
            }
        }
        let mut value = digest.to_vec();
        value.extend_from_slice(&now.to_be_bytes());
        tx.kv_put(BY_TOKEN, token.as_bytes(), &value)?;
        let mut by_time = (now.max(0) as u64).to_be_bytes().to_vec();
        by_time.extend_from_slice(token.as_bytes());
        tx.kv_put(BY_TIME, &by_time, &[])
    }
}

enum Kind {
    ConditionCheck,
    Put(Item),
    Delete,
    Update,
}

struct Op {
    table: TableMeta,
    /// The table as the request named it (a name or an ARN): what ConsumedCapacity reports.
    shown: String,
    key: Vec<u8>,
    keys: Item,
    kind: Kind,
    exprs: Exprs,
    return_old: bool,
}

/// `TransactItems` has 1..100 entries (the model validator checks it first).
fn check_transact_items(n: usize) -> Result<(), AwsError> {
    if n == 0 || n > MAX_ITEMS {
        let rule = if n == 0 {
            "Member must have length greater than or equal to 1".to_owned()
        } else {
            format!("Member must have length less than or equal to {MAX_ITEMS}")
        };
        return Err(constraint(
            &Value::String(format!("{n} items")),
            "transactItems",
            &rule,
        ));
    }
    Ok(())
}

/// The one action of a `TransactWriteItem`.
enum Action<'a> {
    Check(&'a types::ConditionCheck),
    Put(&'a types::Put),
    Delete(&'a types::Delete),
    Update(&'a types::Update),
}

/// One action of a TransactWriteItems: `item` typed, `raw` its request object (for the item,
/// the key and the attribute values).
fn parse_op(
    app: &DynamoDb,
    item: &types::TransactWriteItem,
    raw: Option<&Value>,
) -> Result<Op, AwsError> {
    let action = match (&item.condition_check, &item.put, &item.delete, &item.update) {
        (Some(c), None, None, None) => Action::Check(c),
        (None, Some(p), None, None) => Action::Put(p),
        (None, None, Some(d), None) => Action::Delete(d),
        (None, None, None, Some(u)) => Action::Update(u),
        _ => {
            return Err(AwsError::validation(
                "TransactItems can only contain one of Check, Put, Update or Delete",
            ))
        }
    };
    let (which, table_name, on_failure) = match action {
        Action::Check(c) => (
            "ConditionCheck",
            &c.table_name,
            &c.return_values_on_condition_check_failure,
        ),
        Action::Put(p) => (
            "Put",
            &p.table_name,
            &p.return_values_on_condition_check_failure,
        ),
        Action::Delete(d) => (
            "Delete",
            &d.table_name,
            &d.return_values_on_condition_check_failure,
        ),
        Action::Update(u) => (
            "Update",
            &u.table_name,
            &u.return_values_on_condition_check_failure,
        ),
    };
    let body = raw_in(raw, which);
    let name = table_name_of(table_name)?;
    let t = lookup(app, name)?;
    let return_old = match on_failure.as_deref() {
        None | Some("NONE") => false,
        Some("ALL_OLD") => true,
        Some(other) => {
            return Err(constraint(
                &Value::String(other.into()),
                "returnValuesOnConditionCheckFailure",
                "Member must satisfy enum value set: [ALL_OLD, NONE]",
            ))
        }
    };
    let values = raw_in(body, "ExpressionAttributeValues");
    let condition = |condition: Option<&str>, names| {
        Exprs::parse(
            Texts {
                condition,
                names,
                values,
                ..Texts::default()
            },
            None,
        )
    };
    let (kind, exprs, key, keys) = match action {
        Action::Check(c) => {
            let (key, keys) = key_from_json(&t, raw_in(body, "Key"))?;
            let exprs = condition(
                Some(&c.condition_expression),
                c.expression_attribute_names.as_ref(),
            )?;
            (Kind::ConditionCheck, exprs, key, keys)
        }
        Action::Put(p) => {
            let item = raw_in(body, "Item")
                .ok_or_else(|| constraint(&Value::Null, "item", "Member must not be null"))?;
            let item = item_from_json(item)?;
            let (key, keys) = key_of_item(&t, &item)?;
            check_put_item(&t, &item)?;
            let exprs = condition(
                p.condition_expression.as_deref(),
                p.expression_attribute_names.as_ref(),
            )?;
            (Kind::Put(item), exprs, key, keys)
        }
        Action::Delete(d) => {
            let (key, keys) = key_from_json(&t, raw_in(body, "Key"))?;
            let exprs = condition(
                d.condition_expression.as_deref(),
                d.expression_attribute_names.as_ref(),
            )?;
            (Kind::Delete, exprs, key, keys)
        }
        Action::Update(u) => {
            let (key, keys) = key_from_json(&t, raw_in(body, "Key"))?;
            let exprs = Exprs::parse(
                Texts {
                    update: Some(&u.update_expression),
                    condition: u.condition_expression.as_deref(),
                    names: u.expression_attribute_names.as_ref(),
                    values,
                    ..Texts::default()
                },
                None,
            )?;
            for top in exprs.top_level_targets() {
                if keys.contains_key(&top) {
                    return Err(invalid(format!(
                        "Cannot update attribute {top}. This attribute is part of the key"
                    )));
                }
            }
            (Kind::Update, exprs, key, keys)
        }
    };
    Ok(Op {
        table: t,
        shown: name.to_owned(),
        key,
        keys,
        kind,
        exprs,
        return_old,
    })
}

/// What makes two requests with one client token "the same": the transaction itself, not
/// what the caller asks to have reported back.
fn digest(body: &Map<String, Value>) -> [u8; 32] {
    Sha256::digest(serde_json::to_vec(&body.get("TransactItems")).unwrap_or_default()).into()
}

pub(super) async fn transact_write_items(
    app: &DynamoDb,
    input: types::TransactWriteItemsInput,
    body: &Map<String, Value>,
) -> Result<types::TransactWriteItemsOutput, AwsError> {
    let items = &input.transact_items;
    check_transact_items(items.len())?;
    let mode = capacity_mode(input.return_consumed_capacity.as_deref())?;
    let token = input.client_request_token;
    if let Some(t) = &token {
        if t.is_empty() || t.len() > 36 {
            return Err(constraint(
                &Value::String(t.clone()),
                "clientRequestToken",
                "Member must have length less than or equal to 36",
            ));
        }
    }
    let mut ops = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    let raw_items = raw(body, "TransactItems").and_then(Value::as_array);
    for (i, item) in items.iter().enumerate() {
        let op = parse_op(app, item, raw_items.and_then(|a| a.get(i)))?;
        if !seen.insert((op.table.id, op.key.clone())) {
            return Err(AwsError::validation(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
        ops.push(op);
    }
    let units: Vec<(String, f64)> = ops
        .iter()
        .map(|o| {
            let bytes = match &o.kind {
                Kind::Put(i) => tributary_model::size::item_size(i),
                _ => 0,
            };
            // Transactional writes cost twice the units of plain writes.
            (o.shown.clone(), 2.0 * write_units(bytes))
        })
        .collect();
    let capacity = |mode| per_table(mode, &units, false);
    let token = token.map(|t| (t, digest(body)));
    app.store
        .write(move |tx| {
            // The token is checked and recorded in the same transaction as the writes, so
            // concurrent calls with one token apply it once, and a failed commit records nothing.
            if let Some((t, d)) = &token {
                match tokens::lookup(tx, t)? {
                    Some(prev) if prev == *d => return Ok(()),
                    Some(_) => return Err(AwsError::new(
                        "IdempotentParameterMismatchException",
                        400,
                        "The request uses the same client token as a previous, but non-identical request. Do not reuse a client token with different requests, unless the requests are identical.",
                    )),
                    None => {}
                }
            }
            // Every condition is checked before anything is written.
            let mut reasons = Vec::with_capacity(ops.len());
            let mut olds = Vec::with_capacity(ops.len());
            let mut failed = false;
            for op in &ops {
                let table_id = table_id_in(tx, &op.table)?;
                let old = tx.get_item(table_id, &op.key)?;
                match op.exprs.check(old.as_ref()) {
                    Ok(()) => reasons.push(json!({"Code": "None"})),
                    Err(_) => {
                        failed = true;
                        let mut r = json!({"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"});
                        if let (true, Some(o)) = (op.return_old, &old) {
                            r["Item"] = json!(o);
                        }
                        reasons.push(r);
                    }
                }
                olds.push(old);
            }
            // Compute every new item before writing any: an action that fails at run time
            // (a type mismatch, an item grown too large) cancels the whole transaction.
            let mut news = Vec::with_capacity(ops.len());
            if !failed {
                for (i, (op, old)) in ops.iter().zip(&olds).enumerate() {
                    let new = match &op.kind {
                        Kind::ConditionCheck => Ok(None),
                        Kind::Put(item) => Ok(Some(Some(item.clone()))),
                        Kind::Delete => Ok(Some(None)),
                        Kind::Update => {
                            let mut new = old.clone().unwrap_or_else(|| op.keys.clone());
                            op.exprs
                                .apply(&mut new, old.is_some())
                                .and_then(|()| check_updated_item(&op.table, &new))
                                .map(|()| Some(Some(new)))
                        }
                    };
                    match new {
                        Ok(n) => news.push(n),
                        Err(e) => {
                            failed = true;
                            reasons[i] = json!({"Code": "ValidationError", "Message": e.message});
                            break;
                        }
                    }
                }
            }
            if failed {
                let codes: Vec<&str> =
                    reasons.iter().map(|r| r["Code"].as_str().unwrap_or("None")).collect();
                return Err(AwsError::new(
                    "TransactionCanceledException",
                    400,
                    format!(
                        "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                        codes.join(", ")
                    ),
                )
                .with_extra("CancellationReasons", Value::Array(reasons)));
            }
            for ((op, old), new) in ops.iter().zip(olds).zip(news) {
                if let Some(new) = new {
                    commit_change(tx, &op.table.name, &op.key, &op.keys, old.as_ref(), new.as_ref())?;
                }
            }
            if let Some((t, d)) = &token {
                tokens::record(tx, t, d)?;
            }
            Ok(())
        })
        .await?;
    Ok(types::TransactWriteItemsOutput {
        consumed_capacity: (mode != CapacityMode::None).then(|| capacity(mode)),
        // Item collection metrics (`ReturnItemCollectionMetrics`) are not reported.
        item_collection_metrics: None,
    })
}

pub(super) fn transact_get_items(
    app: &DynamoDb,
    input: types::TransactGetItemsInput,
    body: &Map<String, Value>,
) -> Result<types::TransactGetItemsOutput, AwsError> {
    let items = &input.transact_items;
    check_transact_items(items.len())?;
    let mode = capacity_mode(input.return_consumed_capacity.as_deref())?;
    let raw_items = raw(body, "TransactItems").and_then(Value::as_array);
    let mut gets = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let get = &item.get;
        let raw_get = raw_in(raw_items.and_then(|a| a.get(i)), "Get");
        let name = table_name_of(&get.table_name)?;
        let t = lookup(app, name)?;
        let (key, _) = key_from_json(&t, raw_in(raw_get, "Key"))?;
        if !seen.insert((t.id, key.clone())) {
            return Err(AwsError::validation(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
        let exprs = Exprs::parse(
            Texts {
                projection: get.projection_expression.as_deref(),
                names: get.expression_attribute_names.as_ref(),
                values: raw_in(raw_get, "ExpressionAttributeValues"),
                ..Texts::default()
            },
            None,
        )?;
        gets.push((t, name, key, exprs));
    }
    let mut responses = Vec::with_capacity(gets.len());
    let mut units: Vec<(String, f64)> = Vec::new();
    for (t, shown, key, exprs) in gets {
        let item = app.store.get_item(t.id, &key)?;
        let size = item.as_ref().map_or(0, tributary_model::size::item_size);
        units.push((shown.to_owned(), 2.0 * read_units(size, true)));
        responses.push(types::ItemResponse {
            item: item.map(|i| item_into_wire(exprs.project(i))),
        });
    }
    Ok(types::TransactGetItemsOutput {
        responses: Some(responses),
        consumed_capacity: (mode != CapacityMode::None).then(|| per_table(mode, &units, true)),
    })
}

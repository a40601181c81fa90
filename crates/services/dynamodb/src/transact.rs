//! TransactWriteItems and TransactGetItems: all-or-nothing writes with conditions, checked and
//! applied inside one store job, with `ClientRequestToken` idempotency.

use std::collections::HashSet;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tributary_model::attr::{item_from_json, Item};
use tributary_model::AwsError;
use tributary_store::TableMeta;

use super::exprs::Exprs;
use super::invalid;
use super::keys::{
    capacity_mode, check_put_item, check_updated_item, commit_change, key_from_json, key_of_item,
    lookup, per_table, read_units, table_id_in, write_units, CapacityMode,
};
use crate::DynamoDb;
use tributary_service::json::{constraint, Req};

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

fn expect_obj<'a>(v: &'a Value) -> Result<Req<'a>, AwsError> {
    v.as_object()
        .map(Req)
        .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))
}

fn transact_items<'a>(req: &Req<'a>) -> Result<&'a Vec<Value>, AwsError> {
    let items = req
        .array_opt("TransactItems")?
        .ok_or_else(|| constraint(&Value::Null, "transactItems", "Member must not be null"))?;
    if items.is_empty() || items.len() > MAX_ITEMS {
        let rule = if items.is_empty() {
            "Member must have length greater than or equal to 1".to_owned()
        } else {
            format!("Member must have length less than or equal to {MAX_ITEMS}")
        };
        return Err(constraint(
            &Value::String(format!("{} items", items.len())),
            "transactItems",
            &rule,
        ));
    }
    Ok(items)
}

fn parse_op(app: &DynamoDb, v: &Value) -> Result<Op, AwsError> {
    let r = expect_obj(v)?;
    let present: Vec<&str> = ["ConditionCheck", "Put", "Delete", "Update"]
        .into_iter()
        .filter(|k| r.get(k).is_some())
        .collect();
    let [which] = present.as_slice() else {
        return Err(AwsError::validation(
            "TransactItems can only contain one of Check, Put, Update or Delete",
        ));
    };
    let body = expect_obj(r.get(which).unwrap_or(&Value::Null))?;
    let name = super::table_name(&body)?;
    let t = lookup(app, name)?;
    let return_old = match body.str_opt("ReturnValuesOnConditionCheckFailure")? {
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
    let (kind, exprs, key, keys) = match *which {
        "ConditionCheck" => {
            if body.get("ConditionExpression").is_none() {
                return Err(constraint(
                    &Value::Null,
                    "conditionExpression",
                    "Member must not be null",
                ));
            }
            let (key, keys) = key_from_json(&t, body.get("Key"))?;
            (Kind::ConditionCheck, Exprs::for_write(&body)?, key, keys)
        }
        "Put" => {
            let item = body
                .get("Item")
                .ok_or_else(|| constraint(&Value::Null, "item", "Member must not be null"))?;
            let item = item_from_json(item)?;
            let (key, keys) = key_of_item(&t, &item)?;
            check_put_item(&t, &item)?;
            (Kind::Put(item), Exprs::for_write(&body)?, key, keys)
        }
        "Delete" => {
            let (key, keys) = key_from_json(&t, body.get("Key"))?;
            (Kind::Delete, Exprs::for_write(&body)?, key, keys)
        }
        _ => {
            if body.get("UpdateExpression").is_none() {
                return Err(constraint(
                    &Value::Null,
                    "updateExpression",
                    "Member must not be null",
                ));
            }
            let (key, keys) = key_from_json(&t, body.get("Key"))?;
            let exprs = Exprs::for_update(&body)?;
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
    req: Req<'_>,
    body: &Map<String, Value>,
) -> Result<Value, AwsError> {
    let items = transact_items(&req)?;
    let mode = capacity_mode(&req)?;
    let token = req.str_opt("ClientRequestToken")?.map(str::to_owned);
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
    for v in items {
        let op = parse_op(app, v)?;
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
    let mut out = json!({});
    if mode != CapacityMode::None {
        out["ConsumedCapacity"] = Value::Array(capacity(mode));
    }
    Ok(out)
}

pub(super) fn transact_get_items(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let items = transact_items(&req)?;
    let mode = capacity_mode(&req)?;
    let mut gets = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    for v in items {
        let r = expect_obj(v)?;
        let get = r.obj_opt("Get")?.ok_or_else(|| {
            constraint(
                &Value::Null,
                "transactItems.member.get",
                "Member must not be null",
            )
        })?;
        let get = Req(get);
        let name = super::table_name(&get)?;
        let t = lookup(app, name)?;
        let (key, _) = key_from_json(&t, get.get("Key"))?;
        if !seen.insert((t.id, key.clone())) {
            return Err(AwsError::validation(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
        gets.push((t, name, key, Exprs::for_get(&get)?));
    }
    let mut responses = Vec::with_capacity(gets.len());
    let mut units: Vec<(String, f64)> = Vec::new();
    for (t, shown, key, exprs) in gets {
        let item = app.store.get_item(t.id, &key)?;
        let size = item.as_ref().map_or(0, tributary_model::size::item_size);
        units.push((shown.to_owned(), 2.0 * read_units(size, true)));
        responses.push(match item {
            Some(i) => json!({ "Item": exprs.project(i) }),
            None => json!({}),
        });
    }
    let mut out = json!({ "Responses": responses });
    if mode != CapacityMode::None {
        out["ConsumedCapacity"] = Value::Array(per_table(mode, &units, true));
    }
    Ok(out)
}

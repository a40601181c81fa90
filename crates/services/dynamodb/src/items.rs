//! The single-item API: PutItem, GetItem, UpdateItem, DeleteItem; and Scan.

use serde_json::{json, Map, Value};
use tributary_model::attr::{item_from_json, Item};
use tributary_model::AwsError;
use tributary_store::TableMeta;

use super::exprs::Exprs;
use super::keys::{
    capacity_mode, check_put_item, check_updated_item, commit_change, consumed, index_write_units,
    key_from_json, key_of_item, lookup, read_consumed, read_units, table_id_in, write_consumed,
    write_units, CapacityMode,
};
use super::{invalid, table_name};
use crate::DynamoDb;
use tributary_service::json::{constraint, Req};

fn return_values<'a>(req: &Req<'a>, allowed: &[&str]) -> Result<&'a str, AwsError> {
    // Values outside the enum never get here (the model validator answers them); a member of
    // the enum this operation does not take is AWS's own message.
    let rv = req.str_opt("ReturnValues")?.unwrap_or("NONE");
    if !allowed.contains(&rv) {
        return Err(AwsError::validation("Return values set to invalid value"));
    }
    Ok(rv)
}

/// `ReturnValuesOnConditionCheckFailure`: whether a failed condition returns the item.
fn return_old_on_failure(req: &Req<'_>) -> Result<bool, AwsError> {
    // The model validator has already rejected values outside [ALL_OLD, NONE].
    Ok(req.str_opt("ReturnValuesOnConditionCheckFailure")? == Some("ALL_OLD"))
}

pub(super) fn conditional_check_failed(old: Option<&Item>, return_old: bool) -> AwsError {
    let e = AwsError::new(
        "ConditionalCheckFailedException",
        400,
        "The conditional request failed",
    );
    match old {
        Some(item) if return_old => e.with_extra("Item", json!(item)),
        _ => e,
    }
}

fn reject_legacy(req: &Req<'_>, members: &[&str]) -> Result<(), AwsError> {
    for m in members {
        if req.get(m).is_some() {
            return Err(AwsError::validation(format!(
                "The legacy parameter {m} is not supported by this server; use expressions"
            )));
        }
    }
    Ok(())
}

/// The `ConsumedCapacity` of a write of `old` → `new`: the larger item, plus index writes.
/// `shown` is the table as the request named it (a name or an ARN), which is what AWS reports.
fn write_capacity(
    mode: CapacityMode,
    t: &TableMeta,
    shown: &str,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Option<Value> {
    if mode == CapacityMode::None {
        return None;
    }
    let size = |i: Option<&Item>| i.map_or(0, tributary_model::size::item_size);
    let units = write_units(size(old).max(size(new)));
    write_consumed(mode, shown, units, &index_write_units(t, old, new))
}

fn with_write_capacity(mut out: Value, capacity: Option<Value>) -> Value {
    if let Some(c) = capacity {
        out["ConsumedCapacity"] = c;
    }
    out
}

fn with_capacity(mut out: Value, mode: CapacityMode, table: &str, units: f64, read: bool) -> Value {
    if let Some(c) = consumed(mode, table, units, read) {
        out["ConsumedCapacity"] = c;
    }
    out
}

pub(super) async fn put_item(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?;
    let t = lookup(app, name)?;
    let item_json = req
        .get("Item")
        .ok_or_else(|| constraint(&Value::Null, "item", "Member must not be null"))?;
    let item = item_from_json(item_json)?;
    let rv = return_values(&req, &["NONE", "ALL_OLD"])?;
    let mode = capacity_mode(&req)?;
    reject_legacy(&req, &["Expected", "ConditionalOperator"])?;
    let exprs = Exprs::for_write(&req)?;
    let return_old = return_old_on_failure(&req)?;
    let (key, keys) = key_of_item(&t, &item)?;
    check_put_item(&t, &item)?;
    let table = t.clone();
    let shown = name.to_owned();
    let (old, capacity) = app
        .store
        .write(move |tx| {
            let table_id = table_id_in(tx, &table)?;
            let old = tx.get_item(table_id, &key)?;
            exprs
                .check(old.as_ref())
                .map_err(|_| conditional_check_failed(old.as_ref(), return_old))?;
            commit_change(tx, &table.name, &key, &keys, old.as_ref(), Some(&item))?;
            let capacity = write_capacity(mode, &table, &shown, old.as_ref(), Some(&item));
            Ok((old, capacity))
        })
        .await?;
    let mut out = json!({});
    if rv == "ALL_OLD" {
        if let Some(o) = old {
            out["Attributes"] = json!(o);
        }
    }
    Ok(with_write_capacity(out, capacity))
}

pub(super) fn get_item(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?;
    let t = lookup(app, name)?;
    reject_legacy(&req, &["AttributesToGet"])?;
    let consistent = req.bool_opt("ConsistentRead")?.unwrap_or(false);
    let mode = capacity_mode(&req)?;
    let exprs = Exprs::for_get(&req)?;
    let (key, _) = key_from_json(&t, req.get("Key"))?;
    let item = app.store.get_item(t.id, &key)?;
    let size = item.as_ref().map_or(0, tributary_model::size::item_size);
    let out = match item {
        Some(i) => json!({ "Item": exprs.project(i) }),
        None => json!({}),
    };
    Ok(with_capacity(
        out,
        mode,
        name,
        read_units(size, consistent),
        true,
    ))
}

pub(super) async fn delete_item(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?;
    let t = lookup(app, name)?;
    let rv = return_values(&req, &["NONE", "ALL_OLD"])?;
    let mode = capacity_mode(&req)?;
    reject_legacy(&req, &["Expected", "ConditionalOperator"])?;
    let exprs = Exprs::for_write(&req)?;
    let return_old = return_old_on_failure(&req)?;
    let (key, keys) = key_from_json(&t, req.get("Key"))?;
    let table = t.clone();
    let shown = name.to_owned();
    let (old, capacity) = app
        .store
        .write(move |tx| {
            let table_id = table_id_in(tx, &table)?;
            let old = tx.get_item(table_id, &key)?;
            exprs
                .check(old.as_ref())
                .map_err(|_| conditional_check_failed(old.as_ref(), return_old))?;
            commit_change(tx, &table.name, &key, &keys, old.as_ref(), None)?;
            let capacity = write_capacity(mode, &table, &shown, old.as_ref(), None);
            Ok((old, capacity))
        })
        .await?;
    let mut out = json!({});
    if rv == "ALL_OLD" {
        if let Some(o) = old {
            out["Attributes"] = json!(o);
        }
    }
    Ok(with_write_capacity(out, capacity))
}

pub(super) async fn update_item(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?;
    let t = lookup(app, name)?;
    let rv = return_values(
        &req,
        &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
    )?
    .to_owned();
    let mode = capacity_mode(&req)?;
    reject_legacy(
        &req,
        &["Expected", "ConditionalOperator", "AttributeUpdates"],
    )?;
    let exprs = Exprs::for_update(&req)?;
    let return_old = return_old_on_failure(&req)?;
    let (key, keys) = key_from_json(&t, req.get("Key"))?;
    for top in exprs.top_level_targets() {
        if keys.contains_key(&top) {
            return Err(invalid(format!(
                "Cannot update attribute {top}. This attribute is part of the key"
            )));
        }
    }
    let table = t.clone();
    let shown = name.to_owned();
    let rv_job = rv.clone();
    let (old, new, updated, capacity) = app
        .store
        .write(move |tx| {
            let rv = &rv_job;
            let table_id = table_id_in(tx, &table)?;
            let old = tx.get_item(table_id, &key)?;
            exprs
                .check(old.as_ref())
                .map_err(|_| conditional_check_failed(old.as_ref(), return_old))?;
            let mut new = old.clone().unwrap_or_else(|| keys.clone());
            exprs.apply(&mut new, old.is_some())?;
            check_updated_item(&table, &new)?;
            // An update of a missing item that only removes things creates nothing.
            let creates_nothing = old.is_none() && exprs.has_update() && new == keys;
            if !creates_nothing {
                commit_change(tx, &table.name, &key, &keys, old.as_ref(), Some(&new))?;
            }
            let new = (!creates_nothing).then_some(new);
            let capacity = write_capacity(mode, &table, &shown, old.as_ref(), new.as_ref());
            let updated = match rv.as_str() {
                "UPDATED_OLD" => old.as_ref().map(|o| exprs.updated_part(o)),
                "UPDATED_NEW" => new.as_ref().map(|n| exprs.updated_part(n)),
                _ => None,
            };
            Ok((old, new, updated, capacity))
        })
        .await?;
    let attrs = match rv.as_str() {
        "ALL_OLD" => old,
        "ALL_NEW" => new,
        _ => updated,
    };
    let out = match attrs {
        Some(a) if !a.is_empty() => json!({ "Attributes": a }),
        _ => json!({}),
    };
    Ok(with_write_capacity(out, capacity))
}

/// Scan: the whole table (or index) in key order, with Limit, pagination, parallel segments,
/// a filter and a projection, within DynamoDB's 1 MB page.
pub(super) fn scan(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?;
    let t = lookup(app, name)?;
    reject_legacy(
        &req,
        &["ScanFilter", "AttributesToGet", "ConditionalOperator"],
    )?;
    let mode = capacity_mode(&req)?;
    let consistent = req.bool_opt("ConsistentRead")?.unwrap_or(false);
    let exprs = Exprs::for_scan(&req)?;
    // Limit >= 1, 0 <= Segment <= 999999, 1 <= TotalSegments <= 1000000: the model validator.
    let limit = req.int_opt("Limit")?;
    let segment = req.int_opt("Segment")?;
    let total_segments = req.int_opt("TotalSegments")?;
    let segments = match (segment, total_segments) {
        (None, None) => None,
        (Some(s), Some(n)) => {
            if s >= n {
                return Err(AwsError::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {n}"
                )));
            }
            Some((s as u64, n as u64))
        }
        (Some(_), None) => {
            return Err(AwsError::validation(
                "The TotalSegments parameter is required but was not present in the request when parameter Segment is present",
            ))
        }
        (None, Some(_)) => {
            return Err(AwsError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ))
        }
    };
    let index = req.str_opt("IndexName")?;
    let select = super::query::parse_select(&req, exprs.has_projection(), index.is_some())?;
    let source = super::query::Source::resolve(&t, index, consistent)?;
    let start = match req.get("ExclusiveStartKey") {
        Some(v) => Some(source.start_key(&t, v)?),
        None => None,
    };
    let page = source.read_page(
        app,
        &t,
        super::query::Bounds::all(start),
        false,
        limit.map(|l| l as usize),
        |item| segments.is_none_or(|(s, n)| super::query::segment_of(item, &t) % n == s),
    )?;
    let mut out = Map::new();
    let mut items = Vec::new();
    let mut count = 0;
    for item in page.items {
        if exprs.keep(&item) {
            count += 1;
            if select.returns_items() {
                items.push(json!(select.project(&exprs, item)));
            }
        }
    }
    if select.returns_items() {
        out.insert("Items".into(), Value::Array(items));
    }
    out.insert("Count".into(), json!(count));
    out.insert("ScannedCount".into(), json!(page.scanned));
    if let Some(k) = page.last_key {
        out.insert("LastEvaluatedKey".into(), json!(k));
    }
    let mut out = Value::Object(out);
    if let Some(c) = read_consumed(
        mode,
        name,
        read_units(page.bytes, consistent),
        source.index(),
    ) {
        out["ConsumedCapacity"] = c;
    }
    Ok(out)
}

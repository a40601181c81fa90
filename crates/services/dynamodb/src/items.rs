//! The single-item API: PutItem, GetItem, UpdateItem, DeleteItem; and Scan.

use serde_json::{json, Map, Value};
use tributary_model::attr::{item_from_json, item_into_wire, Item};
use tributary_model::AwsError;
use tributary_store::{TableMeta, Tx};

use super::exprs::{Exprs, Texts};
use super::keys::{
    capacity_mode, check_put_item, check_updated_item, commit_change, consumed, index_write_units,
    key_from_json, key_of_item, lookup, read_consumed, read_units, table_id_in, write_consumed,
    write_units, CapacityMode,
};
use super::{invalid, raw, table_name_of};
use crate::{types, DynamoDb};
use tributary_service::json::constraint;

fn return_values(rv: Option<&str>, allowed: &[&'static str]) -> Result<&'static str, AwsError> {
    // Values outside the enum never get here (the model validator answers them); a member of
    // the enum this operation does not take is AWS's own message.
    let rv = rv.unwrap_or("NONE");
    allowed
        .iter()
        .copied()
        .find(|a| *a == rv)
        .ok_or_else(|| AwsError::validation("Return values set to invalid value"))
}

/// `ReturnValuesOnConditionCheckFailure`: whether a failed condition returns the item (the
/// model validator has already rejected values outside [ALL_OLD, NONE]).
fn return_old_on_failure(v: Option<&str>) -> bool {
    v == Some("ALL_OLD")
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

/// Refuses the legacy members the request sent: `(name, present)`.
pub(super) fn reject_legacy(members: &[(&str, bool)]) -> Result<(), AwsError> {
    match members.iter().find(|(_, present)| *present) {
        Some((m, _)) => Err(AwsError::validation(format!(
            "The legacy parameter {m} is not supported by this server; use expressions"
        ))),
        None => Ok(()),
    }
}

/// The `ConsumedCapacity` of a write of `old` → `new`: the larger item, plus index writes.
/// `shown` is the table as the request named it (a name or an ARN), which is what AWS reports.
fn write_capacity(
    mode: CapacityMode,
    t: &TableMeta,
    shown: &str,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Option<types::ConsumedCapacity> {
    if mode == CapacityMode::None {
        return None;
    }
    let size = |i: Option<&Item>| i.map_or(0, tributary_model::size::item_size);
    let units = write_units(size(old).max(size(new)));
    write_consumed(mode, shown, units, &index_write_units(t, old, new))
}

/// What PutItem, DeleteItem and UpdateItem ask alike, read in the order DynamoDB checks it: the
/// values to return, the capacity to report, the legacy members refused, the expressions, and
/// whether a failed condition returns the item.
struct WriteAsk {
    rv: &'static str,
    mode: CapacityMode,
    exprs: Exprs,
    return_old: bool,
}

impl WriteAsk {
    fn read(
        wanted: Option<&str>,
        allowed: &[&'static str],
        consumed_capacity: Option<&str>,
        legacy: &[(&str, bool)],
        texts: Texts<'_>,
        on_condition_check_failure: Option<&str>,
    ) -> Result<WriteAsk, AwsError> {
        let rv = return_values(wanted, allowed)?;
        let mode = capacity_mode(consumed_capacity)?;
        reject_legacy(legacy)?;
        let exprs = Exprs::parse(texts, None)?;
        Ok(WriteAsk {
            rv,
            mode,
            exprs,
            return_old: return_old_on_failure(on_condition_check_failure),
        })
    }
}

/// The item a write replaces, read in its transaction, once the write's condition holds on it.
fn checked_old(
    tx: &mut Tx<'_>,
    t: &TableMeta,
    key: &[u8],
    exprs: &Exprs,
    return_old: bool,
) -> Result<Option<Item>, AwsError> {
    let old = tx.get_item(table_id_in(tx, t)?, key)?;
    exprs
        .check(old.as_ref())
        .map_err(|_| conditional_check_failed(old.as_ref(), return_old))?;
    Ok(old)
}

pub(super) async fn put_item(
    app: &DynamoDb,
    input: types::PutItemInput,
    body: &Map<String, Value>,
) -> Result<types::PutItemOutput, AwsError> {
    let t = lookup(app, table_name_of(&input.table_name)?)?;
    let item_json = raw(body, "Item")
        .ok_or_else(|| constraint(&Value::Null, "item", "Member must not be null"))?;
    let item = item_from_json(item_json)?;
    let WriteAsk {
        rv,
        mode,
        exprs,
        return_old,
    } = WriteAsk::read(
        input.return_values.as_deref(),
        &["NONE", "ALL_OLD"],
        input.return_consumed_capacity.as_deref(),
        &[
            ("Expected", input.expected.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
        Texts {
            condition: input.condition_expression.as_deref(),
            names: input.expression_attribute_names.as_ref(),
            values: raw(body, "ExpressionAttributeValues"),
            ..Texts::default()
        },
        input.return_values_on_condition_check_failure.as_deref(),
    )?;
    let (key, keys) = key_of_item(&t, &item)?;
    check_put_item(&t, &item)?;
    let shown = input.table_name;
    let (old, capacity) = app
        .store
        .write(move |tx| {
            let old = checked_old(tx, &t, &key, &exprs, return_old)?;
            commit_change(tx, &t.name, &key, &keys, old.as_ref(), Some(&item))?;
            let capacity = write_capacity(mode, &t, &shown, old.as_ref(), Some(&item));
            Ok((old, capacity))
        })
        .await?;
    Ok(types::PutItemOutput {
        attributes: old.filter(|_| rv == "ALL_OLD").map(item_into_wire),
        consumed_capacity: capacity,
        // Item collection metrics (`ReturnItemCollectionMetrics`) are not reported.
        item_collection_metrics: None,
    })
}

pub(super) fn get_item(
    app: &DynamoDb,
    input: types::GetItemInput,
    body: &Map<String, Value>,
) -> Result<types::GetItemOutput, AwsError> {
    let name = table_name_of(&input.table_name)?;
    let t = lookup(app, name)?;
    reject_legacy(&[("AttributesToGet", input.attributes_to_get.is_some())])?;
    let consistent = input.consistent_read.unwrap_or(false);
    let mode = capacity_mode(input.return_consumed_capacity.as_deref())?;
    let exprs = Exprs::parse(
        Texts {
            projection: input.projection_expression.as_deref(),
            names: input.expression_attribute_names.as_ref(),
            values: raw(body, "ExpressionAttributeValues"),
            ..Texts::default()
        },
        None,
    )?;
    let (key, _) = key_from_json(&t, raw(body, "Key"))?;
    let item = app.store.get_item(t.id, &key)?;
    let size = item.as_ref().map_or(0, tributary_model::size::item_size);
    Ok(types::GetItemOutput {
        item: item.map(|i| item_into_wire(exprs.project(i))),
        consumed_capacity: consumed(mode, name, read_units(size, consistent), true),
    })
}

pub(super) async fn delete_item(
    app: &DynamoDb,
    input: types::DeleteItemInput,
    body: &Map<String, Value>,
) -> Result<types::DeleteItemOutput, AwsError> {
    let t = lookup(app, table_name_of(&input.table_name)?)?;
    let WriteAsk {
        rv,
        mode,
        exprs,
        return_old,
    } = WriteAsk::read(
        input.return_values.as_deref(),
        &["NONE", "ALL_OLD"],
        input.return_consumed_capacity.as_deref(),
        &[
            ("Expected", input.expected.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
        Texts {
            condition: input.condition_expression.as_deref(),
            names: input.expression_attribute_names.as_ref(),
            values: raw(body, "ExpressionAttributeValues"),
            ..Texts::default()
        },
        input.return_values_on_condition_check_failure.as_deref(),
    )?;
    let (key, keys) = key_from_json(&t, raw(body, "Key"))?;
    let shown = input.table_name;
    let (old, capacity) = app
        .store
        .write(move |tx| {
            let old = checked_old(tx, &t, &key, &exprs, return_old)?;
            commit_change(tx, &t.name, &key, &keys, old.as_ref(), None)?;
            let capacity = write_capacity(mode, &t, &shown, old.as_ref(), None);
            Ok((old, capacity))
        })
        .await?;
    Ok(types::DeleteItemOutput {
        attributes: old.filter(|_| rv == "ALL_OLD").map(item_into_wire),
        consumed_capacity: capacity,
        // Item collection metrics (`ReturnItemCollectionMetrics`) are not reported.
        item_collection_metrics: None,
    })
}

pub(super) async fn update_item(
    app: &DynamoDb,
    input: types::UpdateItemInput,
    body: &Map<String, Value>,
) -> Result<types::UpdateItemOutput, AwsError> {
    let t = lookup(app, table_name_of(&input.table_name)?)?;
    let WriteAsk {
        rv,
        mode,
        exprs,
        return_old,
    } = WriteAsk::read(
        input.return_values.as_deref(),
        &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
        input.return_consumed_capacity.as_deref(),
        &[
            ("Expected", input.expected.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
            ("AttributeUpdates", input.attribute_updates.is_some()),
        ],
        Texts {
            update: input.update_expression.as_deref(),
            condition: input.condition_expression.as_deref(),
            names: input.expression_attribute_names.as_ref(),
            values: raw(body, "ExpressionAttributeValues"),
            ..Texts::default()
        },
        input.return_values_on_condition_check_failure.as_deref(),
    )?;
    let (key, keys) = key_from_json(&t, raw(body, "Key"))?;
    for top in exprs.top_level_targets() {
        if keys.contains_key(&top) {
            return Err(invalid(format!(
                "Cannot update attribute {top}. This attribute is part of the key"
            )));
        }
    }
    let shown = input.table_name;
    let (old, new, updated, capacity) = app
        .store
        .write(move |tx| {
            let old = checked_old(tx, &t, &key, &exprs, return_old)?;
            let mut new = old.clone().unwrap_or_else(|| keys.clone());
            exprs.apply(&mut new, old.is_some())?;
            check_updated_item(&t, &new)?;
            // An update of a missing item that only removes things creates nothing.
            let creates_nothing = old.is_none() && exprs.has_update() && new == keys;
            if !creates_nothing {
                commit_change(tx, &t.name, &key, &keys, old.as_ref(), Some(&new))?;
            }
            let new = (!creates_nothing).then_some(new);
            let capacity = write_capacity(mode, &t, &shown, old.as_ref(), new.as_ref());
            let updated = match rv {
                "UPDATED_OLD" => old.as_ref().map(|o| exprs.updated_part(o)),
                "UPDATED_NEW" => new.as_ref().map(|n| exprs.updated_part(n)),
                _ => None,
            };
            Ok((old, new, updated, capacity))
        })
        .await?;
    let attributes = match rv {
        "ALL_OLD" => old,
        "ALL_NEW" => new,
        _ => updated,
    };
    Ok(types::UpdateItemOutput {
        attributes: attributes.filter(|a| !a.is_empty()).map(item_into_wire),
        consumed_capacity: capacity,
        // Item collection metrics (`ReturnItemCollectionMetrics`) are not reported.
        item_collection_metrics: None,
    })
}

/// Scan: the whole table (or index) in key order, with Limit, pagination, parallel segments,
/// a filter and a projection, within DynamoDB's 1 MB page.
pub(super) fn scan(
    app: &DynamoDb,
    input: types::ScanInput,
    body: &Map<String, Value>,
) -> Result<types::ScanOutput, AwsError> {
    let name = table_name_of(&input.table_name)?;
    let t = lookup(app, name)?;
    reject_legacy(&[
        ("ScanFilter", input.scan_filter.is_some()),
        ("AttributesToGet", input.attributes_to_get.is_some()),
        ("ConditionalOperator", input.conditional_operator.is_some()),
    ])?;
    let mode = capacity_mode(input.return_consumed_capacity.as_deref())?;
    let consistent = input.consistent_read.unwrap_or(false);
    let exprs = Exprs::parse(
        Texts {
            filter: input.filter_expression.as_deref(),
            projection: input.projection_expression.as_deref(),
            names: input.expression_attribute_names.as_ref(),
            values: raw(body, "ExpressionAttributeValues"),
            ..Texts::default()
        },
        None,
    )?;
    // Limit >= 1, 0 <= Segment <= 999999, 1 <= TotalSegments <= 1000000: the model validator.
    let segments = match (input.segment, input.total_segments) {
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
    let index = input.index_name.as_deref();
    let select = super::query::parse_select(
        input.select.as_deref(),
        exprs.has_projection(),
        index.is_some(),
    )?;
    let source = super::query::Source::resolve(&t, index, consistent)?;
    let start = match raw(body, "ExclusiveStartKey") {
        Some(v) => Some(source.start_key(&t, v)?),
        None => None,
    };
    let page = source.read_page(
        app,
        &t,
        super::query::Bounds::all(start),
        false,
        input.limit.map(|l| l as usize),
        |item| segments.is_none_or(|(s, n)| super::query::segment_of(item, &t) % n == s),
    )?;
    let mut items = Vec::new();
    let mut count = 0;
    for item in page.items {
        if exprs.keep(&item) {
            count += 1;
            if select.returns_items() {
                items.push(item_into_wire(select.project(&exprs, item)));
            }
        }
    }
    Ok(types::ScanOutput {
        items: select.returns_items().then_some(items),
        count: Some(count),
        scanned_count: Some(page.scanned as i32),
        last_evaluated_key: page.last_key.map(item_into_wire),
        consumed_capacity: read_consumed(
            mode,
            name,
            read_units(page.bytes, consistent),
            source.index(),
        ),
    })
}

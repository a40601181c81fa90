//! Helpers shared by the item operations: table lookup, key validation and encoding, item size,
//! writing a change with its stream record, and consumed capacity.

use std::collections::BTreeMap;

use serde_json::Value;
use tributary_model::attr::{item_from_json, AttributeValue, Item};
use tributary_model::{keyenc, AwsError};
use tributary_store::{ChangeCause, ItemChange, KeyAttr, TableMeta, Tx};

use super::invalid;
use crate::{types, DynamoDb};

pub(super) fn item_table_not_found() -> AwsError {
    AwsError::ddb_not_found("Requested resource not found")
}

/// The metadata of the table `given` (a name or a table ARN) names, or DynamoDB's item-level
/// not-found error.
pub(super) fn lookup(app: &DynamoDb, given: &str) -> Result<TableMeta, AwsError> {
    let name = super::resolve_table_name(app, given).ok_or_else(item_table_not_found)?;
    app.store
        .catalog()
        .tables
        .get(name)
        .cloned()
        .ok_or_else(item_table_not_found)
}

/// The table's key attributes, hash first.
pub(super) fn key_attrs(t: &TableMeta) -> impl Iterator<Item = &KeyAttr> {
    std::iter::once(&t.key_schema.hash).chain(t.key_schema.range.as_ref())
}

/// Validates the key attributes of a full item; returns (encoded key, key attributes).
pub(super) fn key_of_item(t: &TableMeta, item: &Item) -> Result<(Vec<u8>, Item), AwsError> {
    let mut keys = Item::new();
    let mut enc = Vec::new();
    for k in key_attrs(t) {
        let v = item
            .get(&k.name)
            .ok_or_else(|| invalid(format!("Missing the key {} in the item", k.name)))?;
        check_key_value(k, v, true)?;
        check_key_size(keys.is_empty(), v)?;
        keyenc::encode_key_attr(v, &mut enc);
        keys.insert(k.name.clone(), v.clone());
    }
    Ok((enc, keys))
}

pub(super) fn check_key_value(
    k: &KeyAttr,
    v: &AttributeValue,
    in_item: bool,
) -> Result<(), AwsError> {
    if v.type_name() != k.ty {
        return Err(if in_item {
            invalid(format!(
                "Type mismatch for key {} expected: {} actual: {}",
                k.name,
                k.ty,
                v.type_name()
            ))
        } else {
            AwsError::validation("The provided key element does not match the schema")
        });
    }
    let empty = match v {
        AttributeValue::S(s) => s.is_empty(),
        AttributeValue::B(b) => b.is_empty(),
        _ => false,
    };
    if empty {
        let what = if k.ty == "S" { "string" } else { "binary" };
        return Err(AwsError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {what} value. Key: {}",
            k.name
        )));
    }
    Ok(())
}

/// DynamoDB's key size limits: 2048 bytes for the partition key, 1024 for the sort key.
fn check_key_size(is_hash: bool, v: &AttributeValue) -> Result<(), AwsError> {
    let size = tributary_model::size::attr_size(v);
    if is_hash && size > 2048 {
        return Err(invalid(
            "Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ));
    }
    if !is_hash && size > 1024 {
        return Err(invalid(
            "Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ));
    }
    Ok(())
}

/// Validates a `Key` value: exactly the key attributes, of the right types.
pub(super) fn key_from_json(
    t: &TableMeta,
    key: Option<&Value>,
) -> Result<(Vec<u8>, Item), AwsError> {
    let key = key.ok_or_else(|| {
        tributary_service::json::constraint(&Value::Null, "key", "Member must not be null")
    })?;
    let key = item_from_json(key)?;
    let expected = 1 + t.key_schema.range.is_some() as usize;
    if key.len() != expected {
        return Err(AwsError::validation(
            "The provided key element does not match the schema",
        ));
    }
    let mut enc = Vec::new();
    for k in key_attrs(t) {
        let v = key.get(&k.name).ok_or_else(|| {
            AwsError::validation("The provided key element does not match the schema")
        })?;
        check_key_value(k, v, false)?;
        check_key_size(enc.is_empty(), v)?;
        keyenc::encode_key_attr(v, &mut enc);
    }
    Ok((enc, key))
}

/// A whole item written by a put: its size and its secondary index keys.
pub(super) fn check_put_item(t: &TableMeta, item: &Item) -> Result<(), AwsError> {
    if tributary_model::size::item_size(item) > tributary_model::size::MAX_ITEM_SIZE {
        return Err(AwsError::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    check_index_keys(t, item)
}

/// The item an update produced, checked as DynamoDB checks it (UpdateItem words the size
/// error differently from PutItem).
pub(super) fn check_updated_item(t: &TableMeta, item: &Item) -> Result<(), AwsError> {
    if tributary_model::size::item_size(item) > tributary_model::size::MAX_ITEM_SIZE {
        return Err(AwsError::validation(
            "Item size to update has exceeded the maximum allowed size",
        ));
    }
    check_index_keys(t, item)
}

/// A request's change of one item, with its stream record ([`Tx::commit_change`]).
pub(super) fn commit_change(
    tx: &mut Tx<'_>,
    table: &str,
    key: &[u8],
    keys: &Item,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<(), AwsError> {
    let id = tx
        .catalog()
        .tables
        .get(table)
        .map(|t| t.id)
        .ok_or_else(item_table_not_found)?;
    tx.commit_change(ItemChange {
        table,
        table_id: id,
        key,
        keys,
        old,
        new,
        cause: ChangeCause::Request,
    })
}

/// The table's id inside a write job, failing if the table went away (or was recreated)
/// since the request was validated.
pub(super) fn table_id_in(tx: &Tx<'_>, t: &TableMeta) -> Result<u64, AwsError> {
    match tx.catalog().tables.get(&t.name) {
        Some(now) if now.id == t.id => Ok(t.id),
        _ => Err(item_table_not_found()),
    }
}

/// `ReturnConsumedCapacity`: NONE, TOTAL or INDEXES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CapacityMode {
    None,
    Total,
    Indexes,
}

pub(super) fn capacity_mode(v: Option<&str>) -> Result<CapacityMode, AwsError> {
    match v {
        None | Some("NONE") => Ok(CapacityMode::None),
        Some("TOTAL") => Ok(CapacityMode::Total),
        Some("INDEXES") => Ok(CapacityMode::Indexes),
        Some(other) => Err(tributary_service::json::constraint(
            &Value::String(other.into()),
            "returnConsumedCapacity",
            "Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
        )),
    }
}

/// Write capacity units for writing an item of `bytes` (1 KB units, at least 1).
pub(super) fn write_units(bytes: usize) -> f64 {
    (bytes.div_ceil(1024)).max(1) as f64
}

/// Read capacity units for reading `bytes` (4 KB units, at least 1; halved when eventually
/// consistent).
pub(super) fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = (bytes.div_ceil(4096)).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

/// `units` read (`read`) or written, as a `Capacity`.
fn capacity(units: f64, read: bool) -> types::Capacity {
    types::Capacity {
        capacity_units: Some(units),
        read_capacity_units: read.then_some(units),
        write_capacity_units: (!read).then_some(units),
    }
}

/// The `ConsumedCapacity` for one table.
pub(super) fn consumed(
    mode: CapacityMode,
    table: &str,
    units: f64,
    read: bool,
) -> Option<types::ConsumedCapacity> {
    match mode {
        CapacityMode::None => None,
        CapacityMode::Total => Some(types::ConsumedCapacity {
            table_name: Some(table.to_owned()),
            capacity_units: Some(units),
            ..Default::default()
        }),
        CapacityMode::Indexes => {
            let c = capacity(units, read);
            Some(types::ConsumedCapacity {
                table_name: Some(table.to_owned()),
                capacity_units: Some(units),
                read_capacity_units: c.read_capacity_units,
                write_capacity_units: c.write_capacity_units,
                table: Some(c),
                ..Default::default()
            })
        }
    }
}

/// The `ConsumedCapacity` of a Query or Scan: with `INDEXES`, a read of a secondary index is
/// reported under the index (and the table's own share is zero).
pub(super) fn read_consumed(
    mode: CapacityMode,
    table: &str,
    units: f64,
    index: Option<&tributary_store::IndexMeta>,
) -> Option<types::ConsumedCapacity> {
    match (mode, index) {
        (CapacityMode::Indexes, Some(ix)) => {
            let shares = Some(BTreeMap::from([(ix.name.clone(), capacity(units, true))]));
            let (global, local) = if ix.global {
                (shares, None)
            } else {
                (None, shares)
            };
            Some(types::ConsumedCapacity {
                table_name: Some(table.to_owned()),
                capacity_units: Some(units),
                read_capacity_units: Some(units),
                table: Some(capacity(0.0, true)),
                global_secondary_indexes: global,
                local_secondary_indexes: local,
                ..Default::default()
            })
        }
        _ => consumed(mode, table, units, true),
    }
}

/// `ConsumedCapacity` list entries, one per table in first-seen order, summing the units.
pub(super) fn per_table(
    mode: CapacityMode,
    units: &[(String, f64)],
    read: bool,
) -> Vec<types::ConsumedCapacity> {
    let mut order: Vec<(&str, f64)> = Vec::new();
    for (t, u) in units {
        match order.iter_mut().find(|(n, _)| n == t) {
            Some((_, sum)) => *sum += u,
            None => order.push((t, *u)),
        }
    }
    order
        .into_iter()
        .filter_map(|(t, u)| consumed(mode, t, u, read))
        .collect()
}

/// Checks an item's values for the table's secondary index keys: a present index key must
/// have the index's type and must not be empty (the item is otherwise left out of the index).
pub(super) fn check_index_keys(t: &TableMeta, item: &Item) -> Result<(), AwsError> {
    for ix in t
        .indexes
        .iter()
        .filter(|i| !i.name.starts_with(super::tables::INTERNAL_INDEX_PREFIX))
    {
        for k in std::iter::once(&ix.key_schema.hash).chain(ix.key_schema.range.as_ref()) {
            let Some(v) = item.get(&k.name) else { continue };
            if v.type_name() != k.ty {
                return Err(invalid(format!(
                    "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                    k.name,
                    k.ty,
                    v.type_name(),
                    ix.name
                )));
            }
            let empty = match v {
                AttributeValue::S(s) => s.is_empty(),
                AttributeValue::B(b) => b.is_empty(),
                _ => false,
            };
            if empty {
                let what = if k.ty == "S" { "string" } else { "binary" };
                return Err(AwsError::validation(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {what} value. IndexName: {}, IndexKey: {}",
                    ix.name, k.name
                )));
            }
        }
    }
    Ok(())
}

/// Write units each secondary index consumes for an item change: the projected entry's size,
/// twice when the change moves the entry to another index key (a delete and a put).
pub(super) fn index_write_units(
    t: &TableMeta,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Vec<(String, bool, f64)> {
    let entry = |ix: &tributary_store::IndexMeta, item: Option<&Item>| {
        item.and_then(|i| {
            let key = tributary_store::index_entry_key(ix, &t.key_schema, i)?;
            Some((key, ix.project(&t.key_schema, i)?))
        })
    };
    let size = |p: &Item| write_units(tributary_model::size::item_size(p));
    t.indexes
        .iter()
        .filter(|ix| !ix.name.starts_with(super::tables::INTERNAL_INDEX_PREFIX))
        .filter_map(|ix| {
            let units = match (entry(ix, old), entry(ix, new)) {
                (None, None) => return None,
                (Some((_, o)), None) => size(&o),
                (None, Some((_, n))) => size(&n),
                (Some((ko, o)), Some((kn, n))) if ko == kn => {
                    if o == n {
                        return None;
                    }
                    size(&o).max(size(&n))
                }
                (Some((_, o)), Some((_, n))) => size(&o) + size(&n),
            };
            Some((ix.name.clone(), ix.global, units))
        })
        .collect()
}

/// `ConsumedCapacity` of a single-item write, with its index writes.
pub(super) fn write_consumed(
    mode: CapacityMode,
    table: &str,
    table_units: f64,
    indexes: &[(String, bool, f64)],
) -> Option<types::ConsumedCapacity> {
    let total = table_units + indexes.iter().map(|(_, _, u)| u).sum::<f64>();
    match mode {
        CapacityMode::None => None,
        CapacityMode::Total => consumed(mode, table, total, false),
        CapacityMode::Indexes => {
            let shares = |global: bool| {
                let m: BTreeMap<String, types::Capacity> = indexes
                    .iter()
                    .filter(|(_, g, _)| *g == global)
                    .map(|(n, _, u)| (n.clone(), capacity(*u, false)))
                    .collect();
                (!m.is_empty()).then_some(m)
            };
            Some(types::ConsumedCapacity {
                table_name: Some(table.to_owned()),
                capacity_units: Some(total),
                write_capacity_units: Some(total),
                table: Some(capacity(table_units, false)),
                global_secondary_indexes: shares(true),
                local_secondary_indexes: shares(false),
                ..Default::default()
            })
        }
    }
}

//! BatchWriteItem (up to 25 puts/deletes) and BatchGetItem (up to 100 keys).

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};
use tributary_model::attr::{item_from_json, Item};
use tributary_model::AwsError;
use tributary_store::TableMeta;

use super::exprs::{Exprs, Texts};
use super::keys::{
    capacity_mode, check_put_item, commit_change, key_from_json, key_of_item, lookup, per_table,
    read_units, table_id_in, write_units, CapacityMode,
};
use super::{raw, raw_in};
use crate::{types, DynamoDb};
use tributary_model::attr::item_into_wire;
use tributary_service::json::constraint;

const MAX_WRITES: usize = 25;
const MAX_READS: usize = 100;
/// BatchGetItem returns at most this much; the rest comes back as UnprocessedKeys.
const MAX_GET_BYTES: usize = 16 * 1024 * 1024;

enum WriteOp {
    Put(Item),
    Delete,
}

struct Write {
    table: TableMeta,
    /// The table as the request named it (a name or an ARN): what the response reports.
    shown: String,
    key: Vec<u8>,
    keys: Item,
    op: WriteOp,
}

fn check_request_items<T>(items: &BTreeMap<String, T>) -> Result<(), AwsError> {
    if items.is_empty() {
        return Err(constraint(
            &Value::String("{}".into()),
            "requestItems",
            "Member must have length greater than or equal to 1",
        ));
    }
    Ok(())
}

pub(super) async fn batch_write_item(
    app: &DynamoDb,
    input: types::BatchWriteItemInput,
    body: &Map<String, Value>,
) -> Result<types::BatchWriteItemOutput, AwsError> {
    let items = input.request_items;
    check_request_items(&items)?;
    let mode = capacity_mode(input.return_consumed_capacity.as_deref())?;
    let total: usize = items.values().map(Vec::len).sum();
    if total > MAX_WRITES {
        return Err(AwsError::validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }
    let raw_items = raw(body, "RequestItems");
    let mut writes = Vec::with_capacity(total);
    // One table may be named twice (by name and by ARN): duplicates are per table, not per entry.
    let mut seen = HashSet::new();
    for (name, requests) in &items {
        if requests.is_empty() {
            return Err(constraint(
                &Value::Array(vec![]),
                "requestItems",
                "Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
            ));
        }
        let t = lookup(app, name)?;
        let raw_requests = raw_in(raw_items, name);
        for (i, r) in requests.iter().enumerate() {
            let raw_request = raw_requests.and_then(|a| a.get(i));
            let w = match (&r.put_request, &r.delete_request) {
                (Some(_), None) => {
                    let item = raw_in(raw_in(raw_request, "PutRequest"), "Item")
                        .ok_or_else(|| constraint(&Value::Null, "item", "Member must not be null"))?;
                    let item = item_from_json(item)?;
                    let (key, keys) = key_of_item(&t, &item)?;
                    check_put_item(&t, &item)?;
                    Write { table: t.clone(), shown: name.clone(), key, keys, op: WriteOp::Put(item) }
                }
                (None, Some(_)) => {
                    let key = raw_in(raw_in(raw_request, "DeleteRequest"), "Key");
                    let (key, keys) = key_from_json(&t, key)?;
                    Write { table: t.clone(), shown: name.clone(), key, keys, op: WriteOp::Delete }
                }
                _ => {
                    return Err(AwsError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ))
                }
            };
            if !seen.insert((w.table.id, w.key.clone())) {
                return Err(AwsError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            writes.push(w);
        }
    }
    let sizes: Vec<(String, f64)> = writes
        .iter()
        .map(|w| {
            let bytes = match &w.op {
                WriteOp::Put(i) => tributary_model::size::item_size(i),
                WriteOp::Delete => 0,
            };
            (w.shown.clone(), write_units(bytes))
        })
        .collect();
    app.store
        .write(move |tx| {
            // Validate every table first so nothing is half-applied.
            for w in &writes {
                table_id_in(tx, &w.table)?;
            }
            for w in &writes {
                let old = tx.get_item(w.table.id, &w.key)?;
                let new = match &w.op {
                    WriteOp::Put(i) => Some(i),
                    WriteOp::Delete => None,
                };
                commit_change(tx, &w.table.name, &w.key, &w.keys, old.as_ref(), new)?;
            }
            Ok(())
        })
        .await?;
    Ok(types::BatchWriteItemOutput {
        // Every write is applied.
        unprocessed_items: Some(BTreeMap::new()),
        consumed_capacity: (mode != CapacityMode::None).then(|| per_table(mode, &sizes, false)),
        // Item collection metrics (`ReturnItemCollectionMetrics`) are not reported.
        item_collection_metrics: None,
    })
}

pub(super) fn batch_get_item(
    app: &DynamoDb,
    input: types::BatchGetItemInput,
    body: &Map<String, Value>,
) -> Result<types::BatchGetItemOutput, AwsError> {
    check_request_items(&input.request_items)?;
    let mode = capacity_mode(input.return_consumed_capacity.as_deref())?;
    let raw_items = raw(body, "RequestItems");
    let mut total = 0;
    struct TableReads<'a> {
        table: TableMeta,
        /// The table as the request named it: the key of its Responses and UnprocessedKeys.
        shown: String,
        /// Each key encoded, and as the request wrote it (for UnprocessedKeys).
        keys: Vec<(Vec<u8>, &'a Map<String, Value>)>,
        exprs: Exprs,
        /// The request's entry for the table, without its keys.
        spec: types::KeysAndAttributes,
    }
    let mut reads = Vec::new();
    let mut seen = HashSet::new();
    for (name, spec) in input.request_items {
        let raw_spec = raw_in(raw_items, &name);
        let keys = match raw_in(raw_spec, "Keys") {
            None => return Err(constraint(&Value::Null, "keys", "Member must not be null")),
            Some(Value::Array(keys)) => keys,
            Some(_) => {
                return Err(AwsError::serialization(
                    "Unexpected value type in payload for member Keys",
                ))
            }
        };
        if keys.is_empty() {
            return Err(constraint(
                &Value::Array(vec![]),
                "requestItems.member.keys",
                "Member must have length greater than or equal to 1",
            ));
        }
        total += keys.len();
        if total > MAX_READS {
            return Err(AwsError::validation(
                "Too many items requested for the BatchGetItem call",
            ));
        }
        let t = lookup(app, &name)?;
        let exprs = Exprs::parse(
            Texts {
                projection: spec.projection_expression.as_deref(),
                names: spec.expression_attribute_names.as_ref(),
                values: raw_in(raw_spec, "ExpressionAttributeValues"),
                ..Texts::default()
            },
            None,
        )?;
        let mut ks = Vec::with_capacity(keys.len());
        for k in keys {
            let (enc, _) = key_from_json(&t, Some(k))?;
            if !seen.insert((t.id, enc.clone())) {
                return Err(AwsError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            // `key_from_json` accepts only objects.
            if let Value::Object(k) = k {
                ks.push((enc, k));
            }
        }
        reads.push(TableReads {
            table: t,
            shown: name,
            keys: ks,
            exprs,
            spec,
        });
    }
    let mut responses = BTreeMap::new();
    let mut unprocessed = BTreeMap::new();
    let mut bytes = 0usize;
    let mut units = Vec::new();
    for r in reads {
        let consistent = r.spec.consistent_read.unwrap_or(false);
        let mut found = Vec::new();
        let mut left = Vec::new();
        for (enc, raw_key) in r.keys {
            if bytes >= MAX_GET_BYTES {
                left.push(raw_key.clone().into_iter().collect());
                continue;
            }
            if let Some(item) = app.store.get_item(r.table.id, &enc)? {
                let size = tributary_model::size::item_size(&item);
                bytes += size;
                units.push((r.shown.clone(), read_units(size, consistent)));
                found.push(item_into_wire(r.exprs.project(item)));
            }
        }
        if !left.is_empty() {
            let spec = types::KeysAndAttributes {
                keys: left,
                ..r.spec
            };
            unprocessed.insert(r.shown.clone(), spec);
        }
        responses.insert(r.shown, found);
    }
    Ok(types::BatchGetItemOutput {
        responses: Some(responses),
        unprocessed_keys: Some(unprocessed),
        consumed_capacity: (mode != CapacityMode::None).then(|| per_table(mode, &units, true)),
    })
}

//! BatchWriteItem (up to 25 puts/deletes) and BatchGetItem (up to 100 keys).

use std::collections::HashSet;

use serde_json::{json, Map, Value};
use tributary_model::attr::{item_from_json, Item};
use tributary_model::AwsError;
use tributary_store::TableMeta;

use super::exprs::Exprs;
use super::keys::{
    capacity_mode, check_put_item, commit_change, key_from_json, key_of_item, lookup, per_table,
    read_units, table_id_in, write_units, CapacityMode,
};
use crate::DynamoDb;
use tributary_service::json::{constraint, Req};

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

fn request_items<'a>(req: &Req<'a>) -> Result<&'a Map<String, Value>, AwsError> {
    let items = req
        .obj_opt("RequestItems")?
        .ok_or_else(|| constraint(&Value::Null, "requestItems", "Member must not be null"))?;
    if items.is_empty() {
        return Err(constraint(
            &Value::String("{}".into()),
            "requestItems",
            "Member must have length greater than or equal to 1",
        ));
    }
    Ok(items)
}

pub(super) async fn batch_write_item(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let items = request_items(&req)?;
    let mode = capacity_mode(&req)?;
    let total: usize = items
        .values()
        .map(|v| v.as_array().map_or(0, Vec::len))
        .sum();
    if total > MAX_WRITES {
        return Err(AwsError::validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }
    let mut writes = Vec::with_capacity(total);
    // One table may be named twice (by name and by ARN): duplicates are per table, not per entry.
    let mut seen = HashSet::new();
    for (name, requests) in items {
        let requests = requests
            .as_array()
            .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))?;
        if requests.is_empty() {
            return Err(constraint(
                &Value::Array(vec![]),
                "requestItems",
                "Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
            ));
        }
        let t = lookup(app, name)?;
        for r in requests {
            let r = Req(r
                .as_object()
                .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))?);
            let w = match (r.obj_opt("PutRequest")?, r.obj_opt("DeleteRequest")?) {
                (Some(p), None) => {
                    let item = Req(p)
                        .get("Item")
                        .ok_or_else(|| constraint(&Value::Null, "item", "Member must not be null"))?;
                    let item = item_from_json(item)?;
                    let (key, keys) = key_of_item(&t, &item)?;
                    check_put_item(&t, &item)?;
                    Write { table: t.clone(), shown: name.clone(), key, keys, op: WriteOp::Put(item) }
                }
                (None, Some(d)) => {
                    let (key, keys) = key_from_json(&t, Req(d).get("Key"))?;
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
    let mut out = json!({ "UnprocessedItems": {} });
    if mode != CapacityMode::None {
        out["ConsumedCapacity"] = Value::Array(per_table(mode, &sizes, false));
    }
    Ok(out)
}

pub(super) fn batch_get_item(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let items = request_items(&req)?;
    let mode = capacity_mode(&req)?;
    let mut total = 0;
    struct TableReads {
        table: TableMeta,
        /// The table as the request named it: the key of its Responses and UnprocessedKeys.
        shown: String,
        keys: Vec<(Vec<u8>, Value)>,
        exprs: Exprs,
        consistent: bool,
        raw: Map<String, Value>,
    }
    let mut reads = Vec::new();
    let mut seen = HashSet::new();
    for (name, spec) in items {
        let spec_obj = spec
            .as_object()
            .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))?;
        let spec = Req(spec_obj);
        let keys = spec
            .array_opt("Keys")?
            .ok_or_else(|| constraint(&Value::Null, "keys", "Member must not be null"))?;
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
        let t = lookup(app, name)?;
        let exprs = Exprs::for_get(&spec)?;
        let mut ks = Vec::new();
        for k in keys {
            let (enc, _) = key_from_json(&t, Some(k))?;
            if !seen.insert((t.id, enc.clone())) {
                return Err(AwsError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            ks.push((enc, k.clone()));
        }
        let consistent = spec.bool_opt("ConsistentRead")?.unwrap_or(false);
        reads.push(TableReads {
            table: t,
            shown: name.clone(),
            keys: ks,
            exprs,
            consistent,
            raw: spec_obj.clone(),
        });
    }
    let mut responses = Map::new();
    let mut unprocessed = Map::new();
    let mut bytes = 0usize;
    let mut units = Vec::new();
    for r in reads {
        let mut found = Vec::new();
        let mut left = Vec::new();
        for (enc, raw_key) in r.keys {
            if bytes >= MAX_GET_BYTES {
                left.push(raw_key);
                continue;
            }
            if let Some(item) = app.store.get_item(r.table.id, &enc)? {
                let size = tributary_model::size::item_size(&item);
                bytes += size;
                units.push((r.shown.clone(), read_units(size, r.consistent)));
                found.push(json!(r.exprs.project(item)));
            }
        }
        responses.insert(r.shown.clone(), Value::Array(found));
        if !left.is_empty() {
            let mut spec = r.raw.clone();
            spec.insert("Keys".into(), Value::Array(left));
            unprocessed.insert(r.shown.clone(), Value::Object(spec));
        }
    }
    let mut out = json!({ "Responses": responses, "UnprocessedKeys": unprocessed });
    if mode != CapacityMode::None {
        out["ConsumedCapacity"] = Value::Array(per_table(mode, &units, true));
    }
    Ok(out)
}

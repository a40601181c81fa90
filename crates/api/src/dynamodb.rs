//! DynamoDB (JSON 1.0, `DynamoDB_20120810.*`): tables and the item API.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use tributary_model::attr::{item_from_json, AttributeValue, Item};
use tributary_model::clock::{epoch_seconds, stream_label};
use tributary_model::stream::StreamViewType;
use tributary_model::{arn, keyenc, AwsError};
use tributary_store::{KeyAttr, KeySchema, StreamMeta, TableMeta, Tx};

use crate::protocol::{check_range, constraint, Req};
use crate::App;

pub async fn dispatch(app: &App, op: &str, body: &Map<String, Value>) -> Result<Value, AwsError> {
    let req = Req(body);
    match op {
        "CreateTable" => create_table(app, req).await,
        "DescribeTable" => describe_table(app, req),
        "ListTables" => list_tables(app, req),
        "DeleteTable" => delete_table(app, req).await,
        "UpdateTable" => update_table(app, req).await,
        "PutItem" => put_item(app, req).await,
        "GetItem" => get_item(app, req),
        "DeleteItem" => delete_item(app, req).await,
        "UpdateItem" => update_item(app, req).await,
        "Scan" => scan(app, req),
        _ => Err(unknown_operation(op)),
    }
}

pub fn unknown_operation(op: &str) -> AwsError {
    AwsError::new(
        "UnknownOperationException",
        400,
        format!("Unknown operation: {op}"),
    )
}

fn table_not_found(name: &str) -> AwsError {
    AwsError::ddb_not_found(format!(
        "Requested resource not found: Table: {name} not found"
    ))
}

fn item_table_not_found() -> AwsError {
    AwsError::ddb_not_found("Requested resource not found")
}

fn invalid(msg: impl AsRef<str>) -> AwsError {
    AwsError::validation(format!(
        "One or more parameter values were invalid: {}",
        msg.as_ref()
    ))
}

fn table_name<'a>(req: &Req<'a>) -> Result<&'a str, AwsError> {
    let name = req.str_req("TableName", "tableName")?;
    validate_table_name(name)?;
    Ok(name)
}

fn validate_table_name(name: &str) -> Result<(), AwsError> {
    let v = Value::String(name.to_owned());
    if name.len() < 3 {
        return Err(constraint(
            &v,
            "tableName",
            "Member must have length greater than or equal to 3",
        ));
    }
    if name.len() > 255 {
        return Err(constraint(
            &v,
            "tableName",
            "Member must have length less than or equal to 255",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err(constraint(
            &v,
            "tableName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- tables

async fn create_table(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?.to_owned();
    let key_schema_json = req
        .array_opt("KeySchema")?
        .ok_or_else(|| constraint(&Value::Null, "keySchema", "Member must not be null"))?;
    let defs_json = req.array_opt("AttributeDefinitions")?.ok_or_else(|| {
        constraint(
            &Value::Null,
            "attributeDefinitions",
            "Member must not be null",
        )
    })?;
    let mut defs = Vec::new();
    for d in defs_json {
        let d = Req(d
            .as_object()
            .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))?);
        let n = d.str_req("AttributeName", "attributeDefinitions.member.attributeName")?;
        let t = d.str_req("AttributeType", "attributeDefinitions.member.attributeType")?;
        if !matches!(t, "S" | "N" | "B") {
            return Err(constraint(
                &Value::String(t.into()),
                "attributeDefinitions.1.member.attributeType",
                "Member must satisfy enum value set: [B, N, S]",
            ));
        }
        defs.push(KeyAttr {
            name: n.to_owned(),
            ty: t.to_owned(),
        });
    }
    let key_schema = parse_key_schema(key_schema_json, &defs)?;
    let used = 1 + key_schema.range.is_some() as usize;
    let extra_indexes =
        req.get("GlobalSecondaryIndexes").is_some() || req.get("LocalSecondaryIndexes").is_some();
    if !extra_indexes && defs.len() != used {
        return Err(invalid("Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"));
    }
    if extra_indexes {
        return Err(AwsError::validation(
            "Secondary indexes are not supported by this server yet",
        ));
    }
    let billing_mode = req
        .str_opt("BillingMode")?
        .unwrap_or("PROVISIONED")
        .to_owned();
    let throughput = req.obj_opt("ProvisionedThroughput")?;
    let (rcu, wcu) = match billing_mode.as_str() {
        "PROVISIONED" => {
            let t = throughput.ok_or_else(|| invalid("ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"))?;
            let t = Req(t);
            let r = t.int_opt("ReadCapacityUnits")?.ok_or_else(|| {
                constraint(
                    &Value::Null,
                    "provisionedThroughput.readCapacityUnits",
                    "Member must not be null",
                )
            })?;
            let w = t.int_opt("WriteCapacityUnits")?.ok_or_else(|| {
                constraint(
                    &Value::Null,
                    "provisionedThroughput.writeCapacityUnits",
                    "Member must not be null",
                )
            })?;
            check_range(r, 1, i64::MAX, "provisionedThroughput.readCapacityUnits")?;
            check_range(w, 1, i64::MAX, "provisionedThroughput.writeCapacityUnits")?;
            (r, w)
        }
        "PAY_PER_REQUEST" => {
            if throughput.is_some() {
                return Err(invalid("Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"));
            }
            (0, 0)
        }
        other => {
            return Err(constraint(
                &Value::String(other.into()),
                "billingMode",
                "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
            ))
        }
    };
    let stream_spec = parse_stream_spec(&req)?;
    let mut extra = Map::new();
    if let Some(v) = req.get("DeletionProtectionEnabled") {
        extra.insert("DeletionProtectionEnabled".into(), v.clone());
    }
    let region = app.cfg.region.clone();
    let account = app.cfg.account_id.clone();
    let desc = app
        .store
        .write(move |tx| {
            if tx.catalog().tables.contains_key(&name) {
                return Err(AwsError::ddb_in_use(format!(
                    "Table already exists: {name}"
                )));
            }
            let id = tx.next_id();
            let mut table = TableMeta {
                arn: arn::table_arn(&region, &account, &name),
                name: name.clone(),
                id,
                table_id_uuid: uuid::Uuid::new_v4().to_string(),
                key_schema,
                attribute_definitions: defs,
                billing_mode,
                read_capacity: rcu,
                write_capacity: wcu,
                created_ms: tx.now_ms(),
                stream_arn: None,
                latest_stream_arn: None,
                latest_stream_label: None,
                item_count: 0,
                size_bytes: 0,
                extra,
            };
            if let Some(Some(view)) = stream_spec {
                enable_stream(tx, &mut table, view, &region, &account)?;
            }
            tx.put_table(table.clone())?;
            Ok(table)
        })
        .await?;
    let mut d = table_description(app, &desc);
    d["TableStatus"] = json!("CREATING");
    Ok(json!({ "TableDescription": d }))
}

fn parse_key_schema(ks: &[Value], defs: &[KeyAttr]) -> Result<KeySchema, AwsError> {
    if ks.is_empty() || ks.len() > 2 {
        let rule = if ks.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 2"
        };
        return Err(constraint(&Value::Array(ks.to_vec()), "keySchema", rule));
    }
    let mut hash = None;
    let mut range = None;
    for (i, k) in ks.iter().enumerate() {
        let k = Req(k
            .as_object()
            .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))?);
        let n = k.str_req("AttributeName", "keySchema.member.attributeName")?;
        let t = k.str_req("KeyType", "keySchema.member.keyType")?;
        let def = defs.iter().find(|d| d.name == n).cloned();
        let def = def.ok_or_else(|| {
            let keys: Vec<String> = ks
                .iter()
                .filter_map(|k| k.get("AttributeName").and_then(Value::as_str).map(str::to_owned))
                .collect();
            let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
            invalid(format!(
                "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                keys.join(", "),
                names.join(", ")
            ))
        })?;
        match (t, i) {
            ("HASH", 0) => hash = Some(def),
            ("RANGE", 1) => range = Some(def),
            ("HASH", _) => return Err(invalid("Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key")),
            ("RANGE", _) => return Err(invalid("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")),
            (other, _) => {
                return Err(constraint(
                    &Value::String(other.into()),
                    "keySchema.1.member.keyType",
                    "Member must satisfy enum value set: [HASH, RANGE]",
                ))
            }
        }
    }
    let hash = hash.ok_or_else(|| {
        invalid("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    })?;
    if range.as_ref().is_some_and(|r| r.name == hash.name) {
        return Err(invalid(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    Ok(KeySchema { hash, range })
}

/// `None`: no StreamSpecification; `Some(None)`: disabled; `Some(Some(view))`: enabled.
fn parse_stream_spec(req: &Req<'_>) -> Result<Option<Option<StreamViewType>>, AwsError> {
    let Some(spec) = req.obj_opt("StreamSpecification")? else {
        return Ok(None);
    };
    let spec = Req(spec);
    let enabled = spec.bool_opt("StreamEnabled")?.ok_or_else(|| {
        constraint(
            &Value::Null,
            "streamSpecification.streamEnabled",
            "Member must not be null",
        )
    })?;
    let view = spec.str_opt("StreamViewType")?;
    if !enabled {
        if view.is_some() {
            return Err(invalid(
                "Stream view type can not be specified when streams are disabled",
            ));
        }
        return Ok(Some(None));
    }
    let view =
        view.ok_or_else(|| invalid("Stream view type must be specified when streams are enabled"))?;
    let vt = StreamViewType::parse(view).ok_or_else(|| {
        constraint(
            &Value::String(view.into()),
            "streamSpecification.streamViewType",
            "Member must satisfy enum value set: [NEW_AND_OLD_IMAGES, NEW_IMAGE, OLD_IMAGE, KEYS_ONLY]",
        )
    })?;
    Ok(Some(Some(vt)))
}

fn enable_stream(
    tx: &mut Tx<'_>,
    table: &mut TableMeta,
    view: StreamViewType,
    region: &str,
    account: &str,
) -> Result<StreamMeta, AwsError> {
    if table.stream_arn.is_some() {
        return Err(AwsError::validation(format!(
            "Table already has an enabled stream: TableName: {}",
            table.name
        )));
    }
    // Labels are unique per table; bump by a millisecond if two streams would share one.
    let mut ms = tx.now_ms();
    let mut label = stream_label(ms);
    while table.latest_stream_label.as_deref() >= Some(label.as_str()) {
        ms += 1;
        label = stream_label(ms);
    }
    let arn = arn::stream_arn(region, account, &table.name, &label);
    let stream = tx.create_stream(table, arn.clone(), label.clone(), view)?;
    table.stream_arn = Some(arn.clone());
    table.latest_stream_arn = Some(arn);
    table.latest_stream_label = Some(label);
    Ok(stream)
}

fn key_schema_json(ks: &KeySchema) -> Value {
    let mut v = vec![json!({"AttributeName": ks.hash.name, "KeyType": "HASH"})];
    if let Some(r) = &ks.range {
        v.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
    }
    Value::Array(v)
}

pub(crate) fn key_schema_to_json(ks: &KeySchema) -> Value {
    key_schema_json(ks)
}

fn table_description(app: &App, t: &TableMeta) -> Value {
    let mut d = Map::new();
    d.insert(
        "AttributeDefinitions".into(),
        Value::Array(
            t.attribute_definitions
                .iter()
                .map(|a| json!({"AttributeName": a.name, "AttributeType": a.ty}))
                .collect(),
        ),
    );
    d.insert("TableName".into(), json!(t.name));
    d.insert("KeySchema".into(), key_schema_json(&t.key_schema));
    d.insert("TableStatus".into(), json!("ACTIVE"));
    d.insert(
        "CreationDateTime".into(),
        json!(epoch_seconds(t.created_ms)),
    );
    d.insert(
        "ProvisionedThroughput".into(),
        json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": t.read_capacity, "WriteCapacityUnits": t.write_capacity}),
    );
    d.insert("TableSizeBytes".into(), json!(t.size_bytes));
    d.insert("ItemCount".into(), json!(t.item_count));
    d.insert("TableArn".into(), json!(t.arn));
    d.insert("TableId".into(), json!(t.table_id_uuid));
    if t.billing_mode == "PAY_PER_REQUEST" {
        d.insert(
            "BillingModeSummary".into(),
            json!({"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": epoch_seconds(t.created_ms)}),
        );
    }
    if let Some(s) = t
        .stream_arn
        .as_ref()
        .and_then(|a| app.store.catalog().streams.get(a).cloned())
    {
        d.insert(
            "StreamSpecification".into(),
            json!({"StreamEnabled": true, "StreamViewType": s.view_type.as_str()}),
        );
    }
    if let (Some(a), Some(l)) = (&t.latest_stream_arn, &t.latest_stream_label) {
        d.insert("LatestStreamLabel".into(), json!(l));
        d.insert("LatestStreamArn".into(), json!(a));
    }
    d.insert(
        "DeletionProtectionEnabled".into(),
        t.extra
            .get("DeletionProtectionEnabled")
            .cloned()
            .unwrap_or(json!(false)),
    );
    Value::Object(d)
}

fn describe_table(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?;
    let t = app
        .store
        .catalog()
        .tables
        .get(name)
        .cloned()
        .ok_or_else(|| table_not_found(name))?;
    Ok(json!({ "Table": table_description(app, &t) }))
}

fn list_tables(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let limit = req.int_opt("Limit")?.unwrap_or(100);
    check_range(limit, 1, 100, "limit")?;
    let start = req.str_opt("ExclusiveStartTableName")?;
    let cat = app.store.catalog();
    let names: Vec<&String> = cat
        .tables
        .keys()
        .filter(|n| start.is_none_or(|s| n.as_str() > s))
        .take(limit as usize + 1)
        .collect();
    let more = names.len() > limit as usize;
    let page: Vec<&String> = names.into_iter().take(limit as usize).collect();
    let mut out = json!({ "TableNames": page });
    if more {
        out["LastEvaluatedTableName"] = json!(page.last());
    }
    Ok(out)
}

async fn delete_table(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?.to_owned();
    let snapshot = app.store.catalog().tables.get(&name).cloned();
    let snapshot = snapshot.ok_or_else(|| table_not_found(&name))?;
    let mut desc = table_description(app, &snapshot);
    app.store
        .write(move |tx| {
            let Some(t) = tx.catalog().tables.get(&name).cloned() else {
                return Err(table_not_found(&name));
            };
            if t.extra.get("DeletionProtectionEnabled") == Some(&json!(true)) {
                return Err(AwsError::validation(
                    "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
                ));
            }
            if let Some(s) = &t.stream_arn {
                tx.disable_stream(s)?;
            }
            tx.delete_table(&name)?;
            Ok(())
        })
        .await?;
    desc["TableStatus"] = json!("DELETING");
    Ok(json!({ "TableDescription": desc }))
}

async fn update_table(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?.to_owned();
    let spec = parse_stream_spec(&req)?;
    let region = app.cfg.region.clone();
    let account = app.cfg.account_id.clone();
    let billing = req.str_opt("BillingMode")?.map(str::to_owned);
    let t = app
        .store
        .write(move |tx| {
            let mut t = tx
                .catalog()
                .tables
                .get(&name)
                .cloned()
                .ok_or_else(|| table_not_found(&name))?;
            match spec {
                Some(Some(view)) => {
                    enable_stream(tx, &mut t, view, &region, &account)?;
                }
                Some(None) => {
                    let arn = t.stream_arn.take().ok_or_else(|| {
                        AwsError::validation(format!(
                            "Table already has no enabled stream: TableName: {name}"
                        ))
                    })?;
                    tx.disable_stream(&arn)?;
                }
                None => {}
            }
            if let Some(b) = billing {
                t.billing_mode = b;
            }
            tx.put_table(t.clone())?;
            Ok(t)
        })
        .await?;
    Ok(json!({ "TableDescription": table_description(app, &t) }))
}

// ---------------------------------------------------------------- items

/// The table's schema and id, or DynamoDB's item-level not-found error.
fn lookup(app: &App, name: &str) -> Result<TableMeta, AwsError> {
    app.store
        .catalog()
        .tables
        .get(name)
        .cloned()
        .ok_or_else(item_table_not_found)
}

/// Validates the key attributes of a full item and returns (encoded key, key item).
fn key_of_item(t: &TableMeta, item: &Item) -> Result<(Vec<u8>, Item), AwsError> {
    let mut keys = Item::new();
    let mut enc = Vec::new();
    for k in std::iter::once(&t.key_schema.hash).chain(t.key_schema.range.as_ref()) {
        let v = item
            .get(&k.name)
            .ok_or_else(|| invalid(format!("Missing the key {} in the item", k.name)))?;
        check_key_value(k, v, true)?;
        keyenc::encode_key_attr(v, &mut enc);
        keys.insert(k.name.clone(), v.clone());
    }
    Ok((enc, keys))
}

fn check_key_value(k: &KeyAttr, v: &AttributeValue, in_item: bool) -> Result<(), AwsError> {
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

/// Validates a `Key` parameter: exactly the key attributes, of the right types.
fn key_param(t: &TableMeta, req: &Req<'_>) -> Result<(Vec<u8>, Item), AwsError> {
    let key = req
        .get("Key")
        .ok_or_else(|| constraint(&Value::Null, "key", "Member must not be null"))?;
    let key = item_from_json(key)?;
    let expected = 1 + t.key_schema.range.is_some() as usize;
    if key.len() != expected {
        return Err(AwsError::validation(
            "The provided key element does not match the schema",
        ));
    }
    let mut enc = Vec::new();
    for k in std::iter::once(&t.key_schema.hash).chain(t.key_schema.range.as_ref()) {
        let v = key.get(&k.name).ok_or_else(|| {
            AwsError::validation("The provided key element does not match the schema")
        })?;
        check_key_value(k, v, false)?;
        keyenc::encode_key_attr(v, &mut enc);
    }
    Ok((enc, key))
}

fn reject_unsupported(req: &Req<'_>, members: &[&str]) -> Result<(), AwsError> {
    for m in members {
        if req.get(m).is_some() {
            return Err(AwsError::validation(format!(
                "{m} is not supported by this server yet"
            )));
        }
    }
    Ok(())
}

fn return_values<'a>(req: &Req<'a>, allowed: &[&str]) -> Result<&'a str, AwsError> {
    let rv = req.str_opt("ReturnValues")?.unwrap_or("NONE");
    if !allowed.contains(&rv) {
        if ["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"].contains(&rv) {
            return Err(AwsError::validation("Return values set to invalid value"));
        }
        return Err(constraint(
            &Value::String(rv.into()),
            "returnValues",
            "Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
        ));
    }
    Ok(rv)
}

/// Writes an item change and its stream record in the same transaction. A change that
/// changes nothing writes nothing and produces no record.
fn commit_change(
    tx: &mut Tx<'_>,
    table: &str,
    key: &[u8],
    keys: Item,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<(), AwsError> {
    if old == new {
        return Ok(());
    }
    let id = tx
        .catalog()
        .tables
        .get(table)
        .map(|t| t.id)
        .ok_or_else(item_table_not_found)?;
    tx.set_item(table, id, key, old, new)?;
    tx.append_stream_record(table, keys, old, new, false)
}

async fn put_item(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?.to_owned();
    let t = lookup(app, &name)?;
    let item_json = req
        .get("Item")
        .ok_or_else(|| constraint(&Value::Null, "item", "Member must not be null"))?;
    let item = item_from_json(item_json)?;
    let rv = return_values(&req, &["NONE", "ALL_OLD"])?.to_owned();
    reject_unsupported(&req, &["ConditionExpression", "Expected"])?;
    let (key, keys) = key_of_item(&t, &item)?;
    check_item_size(&item)?;
    let old = app
        .store
        .write(move |tx| {
            let table_id = tx
                .catalog()
                .tables
                .get(&name)
                .map(|t| t.id)
                .ok_or_else(item_table_not_found)?;
            if table_id != t.id {
                return Err(item_table_not_found());
            }
            let old = tx.get_item(table_id, &key)?;
            commit_change(tx, &name, &key, keys, old.as_ref(), Some(&item))?;
            Ok(old)
        })
        .await?;
    let mut out = json!({});
    if rv == "ALL_OLD" {
        if let Some(o) = old {
            out["Attributes"] = json!(o);
        }
    }
    Ok(out)
}

fn check_item_size(item: &Item) -> Result<(), AwsError> {
    if tributary_model::size::item_size(item) > 409_600 {
        return Err(AwsError::validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    Ok(())
}

fn get_item(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?;
    let t = lookup(app, name)?;
    reject_unsupported(&req, &["ProjectionExpression", "AttributesToGet"])?;
    req.bool_opt("ConsistentRead")?;
    let (key, _) = key_param(&t, &req)?;
    let item = app.store.get_item(t.id, &key)?;
    Ok(match item {
        Some(i) => json!({ "Item": i }),
        None => json!({}),
    })
}

async fn delete_item(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?.to_owned();
    let t = lookup(app, &name)?;
    let rv = return_values(&req, &["NONE", "ALL_OLD"])?.to_owned();
    reject_unsupported(&req, &["ConditionExpression", "Expected"])?;
    let (key, keys) = key_param(&t, &req)?;
    let old = app
        .store
        .write(move |tx| {
            let table_id = tx
                .catalog()
                .tables
                .get(&name)
                .map(|t| t.id)
                .ok_or_else(item_table_not_found)?;
            let old = tx.get_item(table_id, &key)?;
            commit_change(tx, &name, &key, keys, old.as_ref(), None)?;
            Ok(old)
        })
        .await?;
    let mut out = json!({});
    if rv == "ALL_OLD" {
        if let Some(o) = old {
            out["Attributes"] = json!(o);
        }
    }
    Ok(out)
}

async fn update_item(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?.to_owned();
    let t = lookup(app, &name)?;
    let rv = return_values(
        &req,
        &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
    )?
    .to_owned();
    reject_unsupported(
        &req,
        &["ConditionExpression", "Expected", "AttributeUpdates"],
    )?;
    let (key, keys) = key_param(&t, &req)?;
    let names: BTreeMap<String, String> = match req.obj_opt("ExpressionAttributeNames")? {
        Some(m) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_owned()))
                    .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))
            })
            .collect::<Result<_, _>>()?,
        None => BTreeMap::new(),
    };
    let values: BTreeMap<String, AttributeValue> = match req.get("ExpressionAttributeValues") {
        Some(v) => item_from_json(v)?.into_iter().collect(),
        None => BTreeMap::new(),
    };
    let actions = match req.str_opt("UpdateExpression")? {
        Some(expr) => {
            let mut usage = tributary_expr::Usage::default();
            let actions = tributary_expr::parse_update(expr, &names, &values, &mut usage)?;
            let unused_names: Vec<&String> =
                names.keys().filter(|k| !usage.names.contains(*k)).collect();
            if !unused_names.is_empty() {
                return Err(AwsError::validation(format!(
                    "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                    unused_names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            let unused_values: Vec<&String> = values
                .keys()
                .filter(|k| !usage.values.contains(*k))
                .collect();
            if !unused_values.is_empty() {
                return Err(AwsError::validation(format!(
                    "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                    unused_values.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            for a in &actions {
                if let Some(tributary_expr::PathElem::Attr(top)) = a.path.first() {
                    if keys.contains_key(top) {
                        return Err(invalid(format!(
                            "Cannot update attribute {top}. This attribute is part of the key"
                        )));
                    }
                }
            }
            actions
        }
        None => {
            if !names.is_empty() {
                return Err(AwsError::validation(
                    "ExpressionAttributeNames can only be specified when using expressions",
                ));
            }
            if !values.is_empty() {
                return Err(AwsError::validation(
                    "ExpressionAttributeValues can only be specified when using expressions",
                ));
            }
            Vec::new()
        }
    };
    let updated: Vec<String> = actions
        .iter()
        .filter_map(|a| match a.path.first() {
            Some(tributary_expr::PathElem::Attr(n)) => Some(n.clone()),
            _ => None,
        })
        .collect();
    let (old, new) = app
        .store
        .write(move |tx| {
            let table_id = tx
                .catalog()
                .tables
                .get(&name)
                .map(|t| t.id)
                .ok_or_else(item_table_not_found)?;
            let old = tx.get_item(table_id, &key)?;
            let mut new = old.clone().unwrap_or_else(|| keys.clone());
            tributary_expr::apply_set(&mut new, &actions)?;
            check_item_size(&new)?;
            commit_change(tx, &name, &key, keys, old.as_ref(), Some(&new))?;
            Ok((old, new))
        })
        .await?;
    let pick = |item: &Item| -> Item {
        item.iter()
            .filter(|(k, _)| updated.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let attrs = match rv.as_str() {
        "ALL_OLD" => old,
        "UPDATED_OLD" => old.as_ref().map(pick),
        "ALL_NEW" => Some(new),
        "UPDATED_NEW" => Some(pick(&new)),
        _ => None,
    };
    Ok(match attrs {
        Some(a) if !a.is_empty() => json!({ "Attributes": a }),
        _ => json!({}),
    })
}

/// A plain full-table Scan with `Limit` and pagination (filters come with the expression
/// language).
fn scan(app: &App, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?;
    let t = lookup(app, name)?;
    reject_unsupported(
        &req,
        &[
            "FilterExpression",
            "ProjectionExpression",
            "ScanFilter",
            "Segment",
            "TotalSegments",
            "IndexName",
        ],
    )?;
    let limit = req.int_opt("Limit")?;
    if let Some(l) = limit {
        check_range(l, 1, i64::MAX, "limit")?;
    }
    let after = match req.get("ExclusiveStartKey") {
        Some(v) => {
            let k = item_from_json(v)?;
            let (enc, _) = key_of_item(&t, &k)
                .map_err(|_| AwsError::validation("The provided starting key is invalid: The provided key element does not match the schema"))?;
            Some(enc)
        }
        None => None,
    };
    let select = req.str_opt("Select")?.unwrap_or("ALL_ATTRIBUTES");
    let max = limit.map_or(usize::MAX, |l| l as usize);
    let mut items = Vec::new();
    let mut bytes = 0usize;
    let mut last_key: Option<Vec<u8>> = after;
    let mut exhausted = false;
    while items.len() < max && bytes < 1_048_576 {
        let chunk = app
            .store
            .scan_items(t.id, last_key.as_deref(), 256.min(max - items.len()))?;
        if chunk.is_empty() {
            exhausted = true;
            break;
        }
        for (k, item) in chunk {
            bytes += tributary_model::size::item_size(&item);
            last_key = Some(k);
            items.push(item);
            if items.len() >= max || bytes >= 1_048_576 {
                break;
            }
        }
    }
    let mut out = Map::new();
    out.insert("Count".into(), json!(items.len()));
    out.insert("ScannedCount".into(), json!(items.len()));
    if select != "COUNT" {
        out.insert("Items".into(), json!(items));
    }
    if !exhausted && !items.is_empty() {
        // More may remain: hand back the key of the last item returned.
        if let Some(last) = items.last() {
            let (_, k) = key_of_item(&t, last)?;
            // A page that ended exactly at the table's end still reports a key, as DynamoDB does.
            out.insert("LastEvaluatedKey".into(), json!(k));
        }
    }
    Ok(Value::Object(out))
}

//! Table operations: create, describe, list, update, delete; secondary indexes, streams,
//! time to live, tags, limits and endpoints.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use tributary_model::arn;
use tributary_model::clock::{epoch_seconds, stream_label};
use tributary_model::stream::StreamViewType;
use tributary_model::AwsError;
use tributary_store::{IndexMeta, KeyAttr, KeySchema, Projection, StreamMeta, TableMeta, Tx};

use super::{invalid, resolve_table_name, table_name, table_not_found};
use crate::DynamoDb;
use tributary_service::json::{check_range, constraint, Req};

/// Names of internal indexes start with this and are never shown.
pub(super) const INTERNAL_INDEX_PREFIX: &str = "__";

/// Items a backfill indexes per store job: large enough to finish a small table within its
/// UpdateTable, small enough that one step holds the writer for a few milliseconds.
pub(super) const BACKFILL_STEP: usize = 1000;

fn expect_obj<'a>(v: &'a Value) -> Result<Req<'a>, AwsError> {
    v.as_object()
        .map(Req)
        .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))
}

fn attribute_definitions(req: &Req<'_>) -> Result<Vec<KeyAttr>, AwsError> {
    let defs_json = req.array_opt("AttributeDefinitions")?.ok_or_else(|| {
        constraint(
            &Value::Null,
            "attributeDefinitions",
            "Member must not be null",
        )
    })?;
    let mut defs: Vec<KeyAttr> = Vec::new();
    for d in defs_json {
        let d = expect_obj(d)?;
        let n = d.str_req("AttributeName", "attributeDefinitions.member.attributeName")?;
        let t = d.str_req("AttributeType", "attributeDefinitions.member.attributeType")?;
        if !matches!(t, "S" | "N" | "B") {
            return Err(constraint(
                &Value::String(t.into()),
                "attributeDefinitions.1.member.attributeType",
                "Member must satisfy enum value set: [B, N, S]",
            ));
        }
        if defs.iter().any(|x| x.name == n) {
            return Err(invalid(format!(
                "Duplicate AttributeName found in AttributeDefinitions: {n}"
            )));
        }
        defs.push(KeyAttr {
            name: n.to_owned(),
            ty: t.to_owned(),
        });
    }
    Ok(defs)
}

/// Parses a `KeySchema` list against the attribute definitions.
fn parse_key_schema(ks: &[Value], defs: &[KeyAttr], field: &str) -> Result<KeySchema, AwsError> {
    if ks.is_empty() || ks.len() > 2 {
        let rule = if ks.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 2"
        };
        return Err(constraint(&Value::Array(ks.to_vec()), field, rule));
    }
    let mut hash = None;
    let mut range = None;
    for (i, k) in ks.iter().enumerate() {
        let k = expect_obj(k)?;
        let n = k.str_req("AttributeName", &format!("{field}.member.attributeName"))?;
        let t = k.str_req("KeyType", &format!("{field}.member.keyType"))?;
        let def = defs.iter().find(|d| d.name == n).cloned().ok_or_else(|| {
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
            ("HASH", _) => {
                return Err(invalid(
                    "Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key",
                ))
            }
            ("RANGE", _) => {
                return Err(invalid(
                    "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
                ))
            }
            (other, _) => {
                return Err(constraint(
                    &Value::String(other.into()),
                    &format!("{field}.{}.member.keyType", i + 1),
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

fn parse_projection(v: Option<&Value>, index: &str) -> Result<Projection, AwsError> {
    let p = v.ok_or_else(|| {
        constraint(
            &Value::Null,
            "globalSecondaryIndexes.1.member.projection",
            "Member must not be null",
        )
    })?;
    let p = expect_obj(p)?;
    let ty = p.str_opt("ProjectionType")?;
    let non_key = p.array_opt("NonKeyAttributes")?;
    let attrs = || -> Vec<String> {
        non_key
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    match ty {
        Some("ALL") | Some("KEYS_ONLY") if non_key.is_some() => Err(invalid(format!(
            "ProjectionType is {}, but NonKeyAttributes is specified",
            ty.unwrap_or_default()
        ))),
        Some("ALL") => Ok(Projection::All),
        Some("KEYS_ONLY") => Ok(Projection::KeysOnly),
        Some("INCLUDE") => match non_key {
            Some(a) if !a.is_empty() => Ok(Projection::Include(attrs())),
            _ => Err(invalid(format!(
                "NonKeyAttributes must not be empty for index: {index} when ProjectionType is INCLUDE"
            ))),
        },
        None => Err(invalid(format!("Unknown ProjectionType: null for index: {index}"))),
        Some(other) => Err(constraint(
            &Value::String(other.into()),
            "projection.projectionType",
            "Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]",
        )),
    }
}

fn parse_throughput(
    v: Option<&Map<String, Value>>,
    field: &str,
) -> Result<Option<(i64, i64)>, AwsError> {
    let Some(t) = v else { return Ok(None) };
    let t = Req(t);
    let r = t.int_opt("ReadCapacityUnits")?.ok_or_else(|| {
        constraint(
            &Value::Null,
            &format!("{field}.readCapacityUnits"),
            "Member must not be null",
        )
    })?;
    let w = t.int_opt("WriteCapacityUnits")?.ok_or_else(|| {
        constraint(
            &Value::Null,
            &format!("{field}.writeCapacityUnits"),
            "Member must not be null",
        )
    })?;
    check_range(r, 1, i64::MAX, &format!("{field}.readCapacityUnits"))?;
    check_range(w, 1, i64::MAX, &format!("{field}.writeCapacityUnits"))?;
    Ok(Some((r, w)))
}

/// What on-demand tables and their indexes can instantly support before any pre-warming: AWS
/// reports these as their `WarmThroughput`.
const ON_DEMAND_WARM: (i64, i64) = (12_000, 4_000);

/// `extra` keys: the highest warm throughput the table, and each index, has reached (warm
/// throughput is raised by requests and by throughput changes, and never lowered).
const WARM: &str = "WarmThroughput";
const INDEX_WARM: &str = "IndexWarmThroughput";
/// `extra` key: when the table last switched to PAY_PER_REQUEST (server-clock ms).
const PAY_PER_REQUEST_SINCE: &str = "LastUpdateToPayPerRequestMs";
/// `extra` key: the provisioned throughput changes of the table (key `""`) and of each global
/// index (its name): `{"IncreasedMs", "DecreasedMs", "DecreaseDay", "Decreases"}`.
const THROUGHPUT_HISTORY: &str = "ProvisionedThroughputHistory";
const DAY_MS: i64 = 86_400_000;

/// Records a change of provisioned throughput from `old` to `new` at `now_ms`: what
/// `LastIncreaseDateTime`, `LastDecreaseDateTime` and `NumberOfDecreasesToday` report.
fn record_throughput_change(
    t: &mut TableMeta,
    key: &str,
    old: (i64, i64),
    new: (i64, i64),
    now_ms: i64,
) {
    let increased = new.0 > old.0 || new.1 > old.1;
    let decreased = new.0 < old.0 || new.1 < old.1;
    if !increased && !decreased {
        return;
    }
    let history = t
        .extra
        .entry(THROUGHPUT_HISTORY)
        .or_insert_with(|| json!({}));
    if !history.is_object() {
        *history = json!({});
    }
    let entry = &mut history[key];
    if !entry.is_object() {
        *entry = json!({});
    }
    if increased {
        entry["IncreasedMs"] = json!(now_ms);
    }
    if decreased {
        let today = now_ms.div_euclid(DAY_MS);
        let same_day = entry.get("DecreaseDay").and_then(Value::as_i64) == Some(today);
        let before = if same_day {
            entry.get("Decreases").and_then(Value::as_i64).unwrap_or(0)
        } else {
            0
        };
        entry["DecreasedMs"] = json!(now_ms);
        entry["DecreaseDay"] = json!(today);
        entry["Decreases"] = json!(before + 1);
    }
}

/// A `ProvisionedThroughputDescription` of the table (`key` `""`) or a global index.
fn throughput_json(t: &TableMeta, key: &str, rcu: i64, wcu: i64, now_ms: i64) -> Value {
    let h = t.extra.get(THROUGHPUT_HISTORY).and_then(|h| h.get(key));
    let field = |k: &str| h.and_then(|h| h.get(k)).and_then(Value::as_i64);
    let today = field("DecreaseDay") == Some(now_ms.div_euclid(DAY_MS));
    let decreases = if today {
        field("Decreases").unwrap_or(0)
    } else {
        0
    };
    let mut v = Map::new();
    if let Some(ms) = field("IncreasedMs") {
        v.insert("LastIncreaseDateTime".into(), json!(epoch_seconds(ms)));
    }
    if let Some(ms) = field("DecreasedMs") {
        v.insert("LastDecreaseDateTime".into(), json!(epoch_seconds(ms)));
    }
    v.insert("NumberOfDecreasesToday".into(), json!(decreases));
    v.insert("ReadCapacityUnits".into(), json!(rcu));
    v.insert("WriteCapacityUnits".into(), json!(wcu));
    Value::Object(v)
}

/// The read and write units per second a `WarmThroughput` request member asks for.
type WarmRequest = (Option<i64>, Option<i64>);

/// A `WarmThroughput` request member: the read and write units per second asked for.
fn parse_warm(
    v: Option<&Map<String, Value>>,
    field: &str,
) -> Result<Option<WarmRequest>, AwsError> {
    let Some(w) = v else { return Ok(None) };
    let w = Req(w);
    let read = w.int_opt("ReadUnitsPerSecond")?;
    let write = w.int_opt("WriteUnitsPerSecond")?;
    for (v, member) in [(read, "readUnitsPerSecond"), (write, "writeUnitsPerSecond")] {
        if let Some(v) = v {
            check_range(v, 1, i64::MAX, &format!("{field}.{member}"))?;
        }
    }
    Ok(Some((read, write)))
}

/// The warm throughput a table or index has without pre-warming: on-demand capacity, or its
/// provisioned units.
fn base_warm(billing_mode: &str, rcu: i64, wcu: i64) -> (i64, i64) {
    if billing_mode == "PAY_PER_REQUEST" {
        ON_DEMAND_WARM
    } else {
        (rcu, wcu)
    }
}

fn warm_of(v: Option<&Value>) -> (i64, i64) {
    let unit = |k: &str| {
        v.and_then(|v| v.get(k))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    (unit("ReadUnitsPerSecond"), unit("WriteUnitsPerSecond"))
}

fn warm_json((r, w): (i64, i64)) -> Value {
    json!({"ReadUnitsPerSecond": r, "WriteUnitsPerSecond": w})
}

/// The peak `stored` raised to `base` and to what was `requested`; never lower than before.
fn raised_warm(
    stored: Option<&Value>,
    base: (i64, i64),
    requested: Option<WarmRequest>,
) -> (i64, i64) {
    let (r, w) = warm_of(stored);
    let (qr, qw) = requested.unwrap_or_default();
    (
        r.max(base.0).max(qr.unwrap_or(0)),
        w.max(base.1).max(qw.unwrap_or(0)),
    )
}

/// The table's warm throughput now (its stored peak, at least its base).
fn table_warm(t: &TableMeta) -> (i64, i64) {
    raised_warm(
        t.extra.get(WARM),
        base_warm(&t.billing_mode, t.read_capacity, t.write_capacity),
        None,
    )
}

/// A global secondary index's warm throughput now.
fn index_warm(t: &TableMeta, ix: &IndexMeta) -> (i64, i64) {
    raised_warm(
        t.extra.get(INDEX_WARM).and_then(|m| m.get(&ix.name)),
        base_warm(&t.billing_mode, ix.read_capacity, ix.write_capacity),
        None,
    )
}

/// Records the table's and its global indexes' warm throughput after a change, raised by
/// `requested` (the table's) and `requested_ix` (per index). Returns the names of what changed:
/// `None` for the table itself, `Some(index)` for an index.
fn record_warm(
    t: &mut TableMeta,
    requested: Option<WarmRequest>,
    requested_ix: &BTreeMap<String, WarmRequest>,
) -> Vec<Option<String>> {
    let mut changed = Vec::new();
    let before = table_warm(t);
    let now = raised_warm(
        t.extra.get(WARM),
        base_warm(&t.billing_mode, t.read_capacity, t.write_capacity),
        requested,
    );
    if now != before {
        changed.push(None);
    }
    t.extra.insert(WARM.into(), warm_json(now));
    let mut per_index = Map::new();
    for ix in t
        .indexes
        .iter()
        .filter(|i| i.global && !i.name.starts_with(INTERNAL_INDEX_PREFIX))
    {
        let before = index_warm(t, ix);
        let now = raised_warm(
            t.extra.get(INDEX_WARM).and_then(|m| m.get(&ix.name)),
            base_warm(&t.billing_mode, ix.read_capacity, ix.write_capacity),
            requested_ix.get(&ix.name).copied(),
        );
        if now != before {
            changed.push(Some(ix.name.clone()));
        }
        per_index.insert(ix.name.clone(), warm_json(now));
    }
    t.extra.insert(INDEX_WARM.into(), Value::Object(per_index));
    changed
}

/// Parses one index definition of CreateTable or UpdateTable.
fn parse_index(
    v: &Value,
    global: bool,
    defs: &[KeyAttr],
    table_keys: &KeySchema,
    billing_mode: &str,
    id: u64,
) -> Result<IndexMeta, AwsError> {
    let r = expect_obj(v)?;
    let list = if global {
        "globalSecondaryIndexes"
    } else {
        "localSecondaryIndexes"
    };
    let name = r
        .str_req("IndexName", &format!("{list}.1.member.indexName"))?
        .to_owned();
    if name.len() < 3
        || name.len() > 255
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err(constraint(
            &Value::String(name.clone()),
            &format!("{list}.1.member.indexName"),
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    let ks = r.array_opt("KeySchema")?.ok_or_else(|| {
        constraint(
            &Value::Null,
            &format!("{list}.1.member.keySchema"),
            "Member must not be null",
        )
    })?;
    let key_schema = parse_key_schema(ks, defs, &format!("{list}.1.member.keySchema"))?;
    if !global {
        if table_keys.range.is_none() {
            return Err(invalid(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        if key_schema.hash.name != table_keys.hash.name {
            return Err(invalid(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {}, table hash key: {}",
                key_schema.hash.name, table_keys.hash.name
            )));
        }
        if key_schema.range.is_none() {
            return Err(invalid(format!(
                "Index KeySchema does not have a range key for index: {name}"
            )));
        }
    }
    let projection = parse_projection(r.get("Projection"), &name)?;
    let throughput =
        parse_throughput(r.obj_opt("ProvisionedThroughput")?, "provisionedThroughput")?;
    let (rcu, wcu) = match (global, billing_mode, throughput) {
        (true, "PROVISIONED", None) => {
            return Err(invalid(format!(
                "ProvisionedThroughput is not specified for index: {name}"
            )))
        }
        (true, "PAY_PER_REQUEST", Some(_)) => {
            return Err(invalid(format!(
                "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            )))
        }
        (_, _, Some(t)) => t,
        (_, _, None) => (0, 0),
    };
    Ok(IndexMeta {
        name,
        id,
        global,
        key_schema,
        projection,
        read_capacity: rcu,
        write_capacity: wcu,
        item_count: 0,
        size_bytes: 0,
        backfill: None,
    })
}

pub(super) async fn create_table(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let given = table_name(&req)?;
    // CreateTable takes a table ARN too; it must be one of this region and account.
    let name = resolve_table_name(app, given)
        .ok_or_else(|| AwsError::validation(format!("Invalid TableArn: {given}")))?
        .to_owned();
    let defs = attribute_definitions(&req)?;
    let ks = req
        .array_opt("KeySchema")?
        .ok_or_else(|| constraint(&Value::Null, "keySchema", "Member must not be null"))?;
    let key_schema = parse_key_schema(ks, &defs, "keySchema")?;
    let billing_mode = req
        .str_opt("BillingMode")?
        .unwrap_or("PROVISIONED")
        .to_owned();
    let throughput = parse_throughput(
        req.obj_opt("ProvisionedThroughput")?,
        "provisionedThroughput",
    )?;
    let (rcu, wcu) = match (billing_mode.as_str(), throughput) {
        ("PROVISIONED", Some(t)) => t,
        ("PROVISIONED", None) => {
            return Err(AwsError::validation("No provisioned throughput specified for the table"))
        }
        ("PAY_PER_REQUEST", None) => (0, 0),
        ("PAY_PER_REQUEST", Some(_)) => {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ))
        }
        (other, _) => {
            return Err(constraint(
                &Value::String(other.into()),
                "billingMode",
                "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
            ))
        }
    };
    let gsis = req
        .array_opt("GlobalSecondaryIndexes")?
        .cloned()
        .unwrap_or_default();
    let lsis = req
        .array_opt("LocalSecondaryIndexes")?
        .cloned()
        .unwrap_or_default();
    if gsis.len() > 20 {
        return Err(AwsError::new(
            "LimitExceededException",
            400,
            "Subscriber limit exceeded: The number of global secondary indexes exceeds the limit of 20",
        ));
    }
    if lsis.len() > 5 {
        return Err(invalid(
            "Number of LocalSecondaryIndexes exceeds per-table limit of 5",
        ));
    }
    let mut indexes = Vec::new();
    let mut index_warm_asked = BTreeMap::new();
    for (g, list) in [(true, &gsis), (false, &lsis)] {
        for v in list.iter() {
            // Ids are assigned in the write job; parse with a placeholder first.
            let ix = parse_index(v, g, &defs, &key_schema, &billing_mode, 0)?;
            if indexes.iter().any(|i: &IndexMeta| i.name == ix.name) {
                return Err(invalid(format!("Duplicate index name: {}", ix.name)));
            }
            if g {
                let asked = parse_warm(
                    expect_obj(v)?.obj_opt("WarmThroughput")?,
                    "globalSecondaryIndexes.1.member.warmThroughput",
                )?;
                if let Some(w) = asked {
                    index_warm_asked.insert(ix.name.clone(), w);
                }
            }
            indexes.push(ix);
        }
    }
    let warm_asked = parse_warm(req.obj_opt("WarmThroughput")?, "warmThroughput")?;
    let mut used: Vec<&str> = vec![key_schema.hash.name.as_str()];
    used.extend(key_schema.range.as_ref().map(|r| r.name.as_str()));
    for ix in &indexes {
        used.push(ix.key_schema.hash.name.as_str());
        used.extend(ix.key_schema.range.as_ref().map(|r| r.name.as_str()));
    }
    if defs.iter().any(|d| !used.contains(&d.name.as_str())) {
        return Err(invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let stream_spec = parse_stream_spec(&req)?;
    let deletion_protection = req.bool_opt("DeletionProtectionEnabled")?.unwrap_or(false);
    let tags = parse_tags(req.array_opt("Tags")?)?;
    let region = app.cfg.region.clone();
    let account = app.cfg.account_id.clone();
    let shards = app.cfg.stream_shards;
    let desc = app
        .store
        .write(move |tx| {
            if tx.catalog().tables.contains_key(&name) {
                return Err(AwsError::ddb_in_use(format!(
                    "Table already exists: {name}"
                )));
            }
            let id = tx.next_id();
            let mut indexes = indexes.clone();
            for ix in indexes.iter_mut() {
                ix.id = tx.next_id();
            }
            let mut extra = Map::new();
            extra.insert(
                "DeletionProtectionEnabled".into(),
                json!(deletion_protection),
            );
            let mut table = TableMeta {
                arn: arn::table_arn(&region, &account, &name),
                name: name.clone(),
                id,
                table_id_uuid: uuid::Uuid::new_v4().to_string(),
                key_schema: key_schema.clone(),
                attribute_definitions: defs.clone(),
                billing_mode: billing_mode.clone(),
                read_capacity: rcu,
                write_capacity: wcu,
                created_ms: tx.now_ms(),
                stream_arn: None,
                latest_stream_arn: None,
                latest_stream_label: None,
                item_count: 0,
                size_bytes: 0,
                indexes,
                ttl_attribute: None,
                tags: tags.clone(),
                extra,
            };
            if table.billing_mode == "PAY_PER_REQUEST" {
                table
                    .extra
                    .insert(PAY_PER_REQUEST_SINCE.into(), json!(table.created_ms));
            }
            record_warm(&mut table, warm_asked, &index_warm_asked);
            if let Some(Some(view)) = stream_spec {
                enable_stream(tx, &mut table, view, &region, &account, shards)?;
            }
            tx.put_table(table.clone())?;
            Ok(table)
        })
        .await?;
    let mut d = table_description(app, &desc);
    // The answer describes the table being created: it, its global indexes and their warm
    // throughput are CREATING (the table is usable at once; DescribeTable says ACTIVE).
    with_status(&mut d, "CREATING");
    // A new table has never switched to on-demand: AWS reports only the mode here, and the
    // time of the switch from the first DescribeTable on.
    if let Some(summary) = d
        .get_mut("BillingModeSummary")
        .and_then(Value::as_object_mut)
    {
        summary.remove("LastUpdateToPayPerRequestDateTime");
    }
    Ok(json!({ "TableDescription": d }))
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
        view.ok_or_else(|| invalid("StreamViewType is required when StreamEnabled is true"))?;
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
    shards: u32,
) -> Result<StreamMeta, AwsError> {
    if table.stream_arn.is_some() {
        return Err(AwsError::validation(format!(
            "Table already has an enabled stream: TableName: {}",
            table.name
        )));
    }
    // Labels are unique per table; move by a millisecond if two streams would share one.
    let mut ms = tx.now_ms();
    let mut label = stream_label(ms);
    while table.latest_stream_label.as_deref() >= Some(label.as_str()) {
        ms += 1;
        label = stream_label(ms);
    }
    let arn = arn::stream_arn(region, account, &table.name, &label);
    let stream = tx.create_stream(table, arn.clone(), label.clone(), view, shards)?;
    table.stream_arn = Some(arn.clone());
    table.latest_stream_arn = Some(arn);
    table.latest_stream_label = Some(label);
    Ok(stream)
}

pub fn key_schema_to_json(ks: &KeySchema) -> Value {
    let mut v = vec![json!({"AttributeName": ks.hash.name, "KeyType": "HASH"})];
    if let Some(r) = &ks.range {
        v.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
    }
    Value::Array(v)
}

fn projection_json(p: &Projection) -> Value {
    match p {
        Projection::All => json!({"ProjectionType": "ALL"}),
        Projection::KeysOnly => json!({"ProjectionType": "KEYS_ONLY"}),
        Projection::Include(a) => json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": a}),
    }
}

fn index_json(t: &TableMeta, ix: &IndexMeta, now_ms: i64) -> Value {
    let mut v = json!({
        "IndexName": ix.name,
        "KeySchema": key_schema_to_json(&ix.key_schema),
        "Projection": projection_json(&ix.projection),
        "IndexSizeBytes": ix.size_bytes,
        "ItemCount": ix.item_count,
        "IndexArn": format!("{}/index/{}", t.arn, ix.name),
    });
    if ix.global {
        // An index being filled is CREATING, Backfilling, until its last item is in.
        v["IndexStatus"] = json!(if ix.backfilling() {
            "CREATING"
        } else {
            "ACTIVE"
        });
        if ix.backfilling() {
            v["Backfilling"] = json!(true);
        }
        v["ProvisionedThroughput"] =
            throughput_json(t, &ix.name, ix.read_capacity, ix.write_capacity, now_ms);
        let mut warm = warm_json(index_warm(t, ix));
        warm["Status"] = v["IndexStatus"].clone();
        v["WarmThroughput"] = warm;
    }
    v
}

pub(super) fn table_description(app: &DynamoDb, t: &TableMeta) -> Value {
    let now_ms = tributary_model::Clock::now_millis(&*app.clock);
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
    d.insert("KeySchema".into(), key_schema_to_json(&t.key_schema));
    // The table is UPDATING while one of its indexes is being created.
    let creating = t
        .indexes
        .iter()
        .any(|i| i.backfilling() && !i.name.starts_with(INTERNAL_INDEX_PREFIX));
    d.insert(
        "TableStatus".into(),
        json!(if creating { "UPDATING" } else { "ACTIVE" }),
    );
    d.insert(
        "CreationDateTime".into(),
        json!(epoch_seconds(t.created_ms)),
    );
    d.insert(
        "ProvisionedThroughput".into(),
        throughput_json(t, "", t.read_capacity, t.write_capacity, now_ms),
    );
    d.insert("TableSizeBytes".into(), json!(t.size_bytes));
    d.insert("ItemCount".into(), json!(t.item_count));
    d.insert("TableArn".into(), json!(t.arn));
    d.insert("TableId".into(), json!(t.table_id_uuid));
    // Present once the table has been on-demand: the mode, and when it last switched to it.
    let since = t
        .extra
        .get(PAY_PER_REQUEST_SINCE)
        .and_then(Value::as_i64)
        .or((t.billing_mode == "PAY_PER_REQUEST").then_some(t.created_ms));
    if let Some(ms) = since {
        d.insert(
            "BillingModeSummary".into(),
            json!({"BillingMode": t.billing_mode, "LastUpdateToPayPerRequestDateTime": epoch_seconds(ms)}),
        );
    }
    let visible = |g: bool| -> Vec<Value> {
        t.indexes
            .iter()
            .filter(|i| i.global == g && !i.name.starts_with(INTERNAL_INDEX_PREFIX))
            .map(|i| index_json(t, i, now_ms))
            .collect()
    };
    let (gsis, lsis) = (visible(true), visible(false));
    if !gsis.is_empty() {
        d.insert("GlobalSecondaryIndexes".into(), Value::Array(gsis));
    }
    if !lsis.is_empty() {
        d.insert("LocalSecondaryIndexes".into(), Value::Array(lsis));
    }
    let stream = t
        .stream_arn
        .as_ref()
        .and_then(|a| app.store.catalog().streams.get(a).cloned());
    if let Some(s) = stream {
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
    let mut warm = warm_json(table_warm(t));
    warm["Status"] = json!("ACTIVE");
    d.insert("WarmThroughput".into(), warm);
    Value::Object(d)
}

/// Sets the status of a whole description: the table's, its global indexes' and their warm
/// throughput's.
fn with_status(d: &mut Value, status: &str) {
    d["TableStatus"] = json!(status);
    d["WarmThroughput"]["Status"] = json!(status);
    if let Some(gsis) = d
        .get_mut("GlobalSecondaryIndexes")
        .and_then(Value::as_array_mut)
    {
        for g in gsis {
            g["IndexStatus"] = json!(status);
            g["WarmThroughput"]["Status"] = json!(status);
        }
    }
}

/// The metadata of the table `given` (a name or a table ARN) names, or DescribeTable's
/// not-found error.
fn described(app: &DynamoDb, given: &str) -> Result<TableMeta, AwsError> {
    resolve_table_name(app, given)
        .and_then(|name| app.store.catalog().tables.get(name).cloned())
        .ok_or_else(|| table_not_found(given))
}

pub(super) fn describe_table(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let name = table_name(&req)?;
    let t = described(app, name)?;
    Ok(json!({ "Table": table_description(app, &t) }))
}

pub(super) fn list_tables(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
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

pub(super) async fn delete_table(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let snapshot = described(app, table_name(&req)?)?;
    let name = snapshot.name.clone();
    let mut desc = table_description(app, &snapshot);
    app.store
        .write(move |tx| {
            let Some(t) = tx.catalog().tables.get(&name).cloned() else {
                return Err(table_not_found(&name));
            };
            if t.extra.get("DeletionProtectionEnabled") == Some(&json!(true)) {
                return Err(AwsError::validation(format!(
                    "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first. Table: {name}"
                )));
            }
            if let Some(s) = &t.stream_arn {
                tx.disable_stream(s)?;
            }
            tx.delete_table(&name)?;
            Ok(())
        })
        .await?;
    with_status(&mut desc, "DELETING");
    Ok(json!({ "TableDescription": desc }))
}

/// What one UpdateTable request changes, parsed and validated before the write.
#[derive(Clone)]
enum IndexChange {
    Create(IndexMeta),
    Delete(String),
    /// New provisioned throughput, when the update sets one (it may only raise warm throughput).
    Update {
        name: String,
        throughput: Option<(i64, i64)>,
    },
}

/// What an UpdateTable changed, for its answer: the table after the change, whose warm
/// throughput rose (`None` = the table's), and the indexes created, updated and deleted.
struct TableUpdate {
    table: TableMeta,
    warmed: Vec<Option<String>>,
    created: Vec<String>,
    updated: Vec<String>,
    deleted: Vec<IndexMeta>,
}

pub(super) async fn update_table(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let current = described(app, table_name(&req)?)?;
    let name = current.name.clone();
    let spec = parse_stream_spec(&req)?;
    let warm_asked = parse_warm(req.obj_opt("WarmThroughput")?, "warmThroughput")?;
    let mut index_warm_asked = BTreeMap::new();
    let billing = req.str_opt("BillingMode")?.map(str::to_owned);
    if let Some(b) = &billing {
        if !matches!(b.as_str(), "PROVISIONED" | "PAY_PER_REQUEST") {
            return Err(constraint(
                &Value::String(b.clone()),
                "billingMode",
                "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
            ));
        }
    }
    let mode = billing
        .clone()
        .unwrap_or_else(|| current.billing_mode.clone());
    let throughput = parse_throughput(
        req.obj_opt("ProvisionedThroughput")?,
        "provisionedThroughput",
    )?;
    if mode == "PAY_PER_REQUEST" && throughput.is_some() {
        return Err(invalid(
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ));
    }
    if mode == "PROVISIONED" && current.billing_mode == "PAY_PER_REQUEST" && throughput.is_none() {
        return Err(AwsError::validation(
            "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
        ));
    }
    let protection = req.bool_opt("DeletionProtectionEnabled")?;
    let mut defs = current.attribute_definitions.clone();
    if req.get("AttributeDefinitions").is_some() {
        for d in attribute_definitions(&req)? {
            match defs.iter().find(|x| x.name == d.name) {
                Some(x) if x.ty != d.ty => {
                    return Err(invalid(format!(
                        "Cannot change the type of attribute {} from {} to {}",
                        d.name, x.ty, d.ty
                    )))
                }
                Some(_) => {}
                None => defs.push(d),
            }
        }
    }
    let mut changes = Vec::new();
    for u in req
        .array_opt("GlobalSecondaryIndexUpdates")?
        .into_iter()
        .flatten()
    {
        let u = expect_obj(u)?;
        if let Some(c) = u.get("Create") {
            let ix = parse_index(c, true, &defs, &current.key_schema, &mode, 0)?;
            if current.indexes.iter().any(|i| i.name == ix.name) {
                return Err(invalid(format!(
                    "Attempting to create an index which already exists: {}",
                    ix.name
                )));
            }
            let asked = parse_warm(
                expect_obj(c)?.obj_opt("WarmThroughput")?,
                "globalSecondaryIndexUpdates.1.member.create.warmThroughput",
            )?;
            if let Some(w) = asked {
                index_warm_asked.insert(ix.name.clone(), w);
            }
            changes.push(IndexChange::Create(ix));
        } else if let Some(d) = u.get("Delete") {
            let n = expect_obj(d)?.str_req("IndexName", "indexName")?.to_owned();
            if !current.indexes.iter().any(|i| i.global && i.name == n) {
                return Err(AwsError::ddb_not_found(format!(
                    "Requested resource not found: Index: {n} not found for table: {name}"
                )));
            }
            changes.push(IndexChange::Delete(n));
        } else if let Some(up) = u.get("Update") {
            let up = expect_obj(up)?;
            let n = up.str_req("IndexName", "indexName")?.to_owned();
            if !current.indexes.iter().any(|i| i.global && i.name == n) {
                return Err(AwsError::ddb_not_found(format!(
                    "Requested resource not found: Index: {n} not found for table: {name}"
                )));
            }
            let throughput = parse_throughput(
                up.obj_opt("ProvisionedThroughput")?,
                "provisionedThroughput",
            )?;
            let asked = parse_warm(
                up.obj_opt("WarmThroughput")?,
                "globalSecondaryIndexUpdates.1.member.update.warmThroughput",
            )?;
            if let Some(w) = asked {
                index_warm_asked.insert(n.clone(), w);
            }
            changes.push(IndexChange::Update {
                name: n,
                throughput,
            });
        } else {
            return Err(invalid(
                "One of GlobalSecondaryIndexUpdate.Create, Update or Delete must be specified",
            ));
        }
    }
    if spec.is_none()
        && billing.is_none()
        && throughput.is_none()
        && protection.is_none()
        && warm_asked.is_none()
        && changes.is_empty()
    {
        return Err(AwsError::validation(
            "1 validation error detected: The update contains no changes: at least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    let region = app.cfg.region.clone();
    let account = app.cfg.account_id.clone();
    let shards = app.cfg.stream_shards;
    let update = app
        .store
        .write(move |tx| {
            let mut t = tx
                .catalog()
                .tables
                .get(&name)
                .cloned()
                .ok_or_else(|| table_not_found(&name))?;
            let was_on_demand = t.billing_mode == "PAY_PER_REQUEST";
            let (mut created, mut updated, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
            match spec {
                Some(Some(view)) => {
                    enable_stream(tx, &mut t, view, &region, &account, shards)?;
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
            if let Some(b) = &billing {
                t.billing_mode = b.clone();
            }
            let now_ms = tx.now_ms();
            if let Some((r, w)) = throughput {
                // A change of billing mode is not a throughput increase or decrease.
                if was_on_demand == (t.billing_mode == "PAY_PER_REQUEST") {
                    let old = (t.read_capacity, t.write_capacity);
                    record_throughput_change(&mut t, "", old, (r, w), now_ms);
                }
                t.read_capacity = r;
                t.write_capacity = w;
            }
            if t.billing_mode == "PAY_PER_REQUEST" {
                t.read_capacity = 0;
                t.write_capacity = 0;
                if !was_on_demand {
                    t.extra
                        .insert(PAY_PER_REQUEST_SINCE.into(), json!(tx.now_ms()));
                }
            }
            if let Some(p) = protection {
                t.extra.insert("DeletionProtectionEnabled".into(), json!(p));
            }
            t.attribute_definitions = defs.clone();
            for c in changes.iter().cloned() {
                match c {
                    IndexChange::Create(mut ix) => {
                        ix.id = tx.next_id();
                        // A small table is indexed at once; a larger one in the background,
                        // a step at a time (`run_backfills`), the index CREATING meanwhile.
                        ix.backfill = Some(Vec::new());
                        tx.backfill_index(&t, &mut ix, BACKFILL_STEP)?;
                        created.push(ix.name.clone());
                        t.indexes.push(ix);
                    }
                    IndexChange::Delete(n) => {
                        if let Some(pos) = t.indexes.iter().position(|i| i.name == n) {
                            let ix = t.indexes.remove(pos);
                            tx.drop_index(ix.id)?;
                            for key in [INDEX_WARM, THROUGHPUT_HISTORY] {
                                if let Some(m) = t.extra.get_mut(key).and_then(Value::as_object_mut)
                                {
                                    m.remove(&ix.name);
                                }
                            }
                            deleted.push(ix);
                        }
                    }
                    IndexChange::Update { name, throughput } => {
                        let Some((rcu, wcu)) = throughput else {
                            continue;
                        };
                        let old = t.indexes.iter_mut().find(|i| i.name == name).map(|ix| {
                            let old = (ix.read_capacity, ix.write_capacity);
                            ix.read_capacity = rcu;
                            ix.write_capacity = wcu;
                            old
                        });
                        if let Some(old) = old {
                            record_throughput_change(&mut t, &name, old, (rcu, wcu), now_ms);
                            updated.push(name);
                        }
                    }
                }
            }
            let warmed = record_warm(&mut t, warm_asked, &index_warm_asked);
            tx.put_table(t.clone())?;
            Ok(TableUpdate {
                table: t,
                warmed,
                created,
                updated,
                deleted,
            })
        })
        .await?;
    app.backfill_wake.notify_one();
    Ok(json!({ "TableDescription": updating_description(app, &update) }))
}

/// UpdateTable's answer: the table `UPDATING` (it is usable at once, as after CreateTable's
/// `CREATING`), new indexes `CREATING`, updated ones `UPDATING`, deleted ones `DELETING`, and
/// the warm throughput being raised `UPDATING`.
fn updating_description(app: &DynamoDb, u: &TableUpdate) -> Value {
    let t = &u.table;
    let mut d = table_description(app, t);
    d["TableStatus"] = json!("UPDATING");
    if u.warmed.contains(&None) {
        d["WarmThroughput"]["Status"] = json!("UPDATING");
    }
    let mut gsis = d
        .get_mut("GlobalSecondaryIndexes")
        .map(Value::take)
        .and_then(|v| match v {
            Value::Array(a) => Some(a),
            _ => None,
        })
        .unwrap_or_default();
    for g in &mut gsis {
        let Some(n) = g
            .get("IndexName")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            continue;
        };
        if u.created.contains(&n) {
            g["IndexStatus"] = json!("CREATING");
            g["WarmThroughput"]["Status"] = json!("CREATING");
            continue;
        }
        if u.updated.contains(&n) {
            g["IndexStatus"] = json!("UPDATING");
        }
        if u.warmed.contains(&Some(n)) {
            g["WarmThroughput"]["Status"] = json!("UPDATING");
        }
    }
    for ix in &u.deleted {
        let mut g = index_json(t, ix, tributary_model::Clock::now_millis(&*app.clock));
        g["IndexStatus"] = json!("DELETING");
        g["WarmThroughput"]["Status"] = json!("DELETING");
        gsis.push(g);
    }
    if let Some(obj) = d.as_object_mut() {
        if gsis.is_empty() {
            obj.remove("GlobalSecondaryIndexes");
        } else {
            obj.insert("GlobalSecondaryIndexes".into(), Value::Array(gsis));
        }
    }
    d
}

// ---------------------------------------------------------------- time to live

pub(super) fn describe_time_to_live(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let t = described(app, table_name(&req)?)?;
    Ok(match t.ttl_attribute {
        Some(a) => {
            json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": a}})
        }
        None => json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}),
    })
}

pub(super) async fn update_time_to_live(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let given = table_name(&req)?;
    let spec = req.obj_opt("TimeToLiveSpecification")?.ok_or_else(|| {
        constraint(
            &Value::Null,
            "timeToLiveSpecification",
            "Member must not be null",
        )
    })?;
    let spec = Req(spec);
    let enabled = spec.bool_opt("Enabled")?.ok_or_else(|| {
        constraint(
            &Value::Null,
            "timeToLiveSpecification.enabled",
            "Member must not be null",
        )
    })?;
    let attr = spec
        .str_req("AttributeName", "timeToLiveSpecification.attributeName")?
        .to_owned();
    if attr.is_empty() || attr.len() > 255 {
        return Err(constraint(
            &Value::String(attr),
            "timeToLiveSpecification.attributeName",
            "Member must have length greater than or equal to 1",
        ));
    }
    let name = described(app, given)?.name;
    let attr2 = attr.clone();
    app.store
        .write(move |tx| {
            let mut t = tx.catalog().tables.get(&name).cloned().ok_or_else(|| table_not_found(&name))?;
            match (&t.ttl_attribute, enabled) {
                (Some(_), true) => {
                    return Err(AwsError::validation("TimeToLive is already enabled"))
                }
                (None, false) => {
                    return Err(AwsError::validation("TimeToLive is already disabled"))
                }
                (Some(current), false) if *current != attr2 => {
                    return Err(AwsError::validation(format!(
                        "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
                    )))
                }
                _ => {}
            }
            if enabled {
                // Expiry is found through an internal index ordered by the TTL attribute.
                let mut ix = IndexMeta {
                    name: format!("{INTERNAL_INDEX_PREFIX}ttl"),
                    id: tx.next_id(),
                    global: true,
                    key_schema: KeySchema { hash: KeyAttr { name: attr2.clone(), ty: "N".into() }, range: None },
                    projection: Projection::KeysOnly,
                    read_capacity: 0,
                    write_capacity: 0,
                    item_count: 0,
                    size_bytes: 0,
                    backfill: Some(Vec::new()),
                };
                tx.backfill_index(&t, &mut ix, BACKFILL_STEP)?;
                t.indexes.push(ix);
                t.ttl_attribute = Some(attr2.clone());
            } else {
                if let Some(pos) = t.indexes.iter().position(|i| i.name.starts_with(INTERNAL_INDEX_PREFIX)) {
                    let ix = t.indexes.remove(pos);
                    tx.drop_index(ix.id)?;
                }
                t.ttl_attribute = None;
            }
            tx.put_table(t)
        })
        .await?;
    app.ttl_changed();
    app.backfill_wake.notify_one();
    Ok(json!({"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attr}}))
}

// ---------------------------------------------------------------- tags

fn parse_tags(v: Option<&Vec<Value>>) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    for t in v.into_iter().flatten() {
        let t = expect_obj(t)?;
        // AWS words a tag without key or value by hand (recorded: Tags=[{}] and a value-only
        // tag give the Key message, a key-only tag the Value message); the generic validator
        // skips these members.
        let k = t
            .str_opt("Key")?
            .ok_or_else(|| AwsError::validation("The Tag Key provided is invalid, Key: null"))?;
        let v = t.str_opt("Value")?.ok_or_else(|| {
            AwsError::validation("The Tag Value provided is invalid, Value: null")
        })?;
        if k.is_empty() || k.len() > 128 {
            return Err(constraint(
                &Value::String(k.into()),
                "tags.1.member.key",
                "Member must have length less than or equal to 128",
            ));
        }
        if v.len() > 256 {
            return Err(constraint(
                &Value::String(v.into()),
                "tags.1.member.value",
                "Member must have length less than or equal to 256",
            ));
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    if out.len() > 50 {
        return Err(AwsError::validation(
            "Too many tags: a resource can have at most 50 tags",
        ));
    }
    Ok(out)
}

fn table_of_arn(app: &DynamoDb, arn: &str) -> Result<String, AwsError> {
    let not_found = || {
        AwsError::ddb_not_found(format!(
            "Requested resource not found: ResourcArn: {arn} not found"
        ))
    };
    let prefix = format!(
        "arn:aws:dynamodb:{}:{}:table/",
        app.cfg.region, app.cfg.account_id
    );
    let name = arn.strip_prefix(&prefix).filter(|n| !n.contains('/'));
    if arn.is_empty() || !arn.starts_with("arn:") {
        return Err(AwsError::validation(format!("Invalid TableArn: {arn}")));
    }
    let name = name.ok_or_else(not_found)?;
    if !app.store.catalog().tables.contains_key(name) {
        return Err(not_found());
    }
    Ok(name.to_owned())
}

pub(super) async fn tag_resource(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let arn = req.str_req("ResourceArn", "resourceArn")?;
    let tags =
        parse_tags(Some(req.array_opt("Tags")?.ok_or_else(|| {
            constraint(&Value::Null, "tags", "Member must not be null")
        })?))?;
    let name = table_of_arn(app, arn)?;
    app.store
        .write(move |tx| {
            let mut t = tx
                .catalog()
                .tables
                .get(&name)
                .cloned()
                .ok_or_else(|| table_not_found(&name))?;
            t.tags.extend(tags.clone());
            if t.tags.len() > 50 {
                return Err(AwsError::validation(
                    "Too many tags: a resource can have at most 50 tags",
                ));
            }
            tx.put_table(t)
        })
        .await?;
    Ok(json!({}))
}

pub(super) async fn untag_resource(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let arn = req.str_req("ResourceArn", "resourceArn")?;
    let keys: Vec<String> = req
        .array_opt("TagKeys")?
        .ok_or_else(|| constraint(&Value::Null, "tagKeys", "Member must not be null"))?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let name = table_of_arn(app, arn)?;
    app.store
        .write(move |tx| {
            let mut t = tx
                .catalog()
                .tables
                .get(&name)
                .cloned()
                .ok_or_else(|| table_not_found(&name))?;
            for k in &keys {
                t.tags.remove(k);
            }
            tx.put_table(t)
        })
        .await?;
    Ok(json!({}))
}

pub(super) fn list_tags_of_resource(app: &DynamoDb, req: Req<'_>) -> Result<Value, AwsError> {
    let arn = req.str_req("ResourceArn", "resourceArn")?;
    let name = table_of_arn(app, arn)?;
    let t = described(app, &name)?;
    let tags: Vec<Value> = t
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({ "Tags": tags }))
}

// ---------------------------------------------------------------- account

pub(super) fn describe_limits() -> Value {
    json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000,
    })
}

pub(super) fn describe_endpoints(app: &DynamoDb) -> Value {
    let address = app
        .cfg
        .endpoint_url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_owned();
    json!({ "Endpoints": [{ "Address": address, "CachePeriodInMinutes": 1440 }] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(billing_mode: &str, rcu: i64, wcu: i64) -> TableMeta {
        TableMeta {
            name: "t".into(),
            id: 1,
            arn: String::new(),
            table_id_uuid: String::new(),
            key_schema: KeySchema {
                hash: KeyAttr {
                    name: "pk".into(),
                    ty: "S".into(),
                },
                range: None,
            },
            attribute_definitions: vec![],
            billing_mode: billing_mode.into(),
            read_capacity: rcu,
            write_capacity: wcu,
            created_ms: 0,
            stream_arn: None,
            latest_stream_arn: None,
            latest_stream_label: None,
            item_count: 0,
            size_bytes: 0,
            indexes: vec![],
            ttl_attribute: None,
            tags: Default::default(),
            extra: Default::default(),
        }
    }

    #[test]
    fn warm_throughput_starts_at_the_base_and_is_never_lowered() {
        let mut t = table("PAY_PER_REQUEST", 0, 0);
        assert_eq!(table_warm(&t), ON_DEMAND_WARM);
        assert_eq!(
            record_warm(&mut t, Some((Some(20_000), Some(1))), &BTreeMap::new()),
            vec![None]
        );
        assert_eq!(table_warm(&t), (20_000, 4_000));
        assert!(record_warm(&mut t, Some((Some(5), None)), &BTreeMap::new()).is_empty());
        // Switching to a small provisioned throughput keeps what was reached.
        t.billing_mode = "PROVISIONED".into();
        (t.read_capacity, t.write_capacity) = (5, 5);
        record_warm(&mut t, None, &BTreeMap::new());
        assert_eq!(table_warm(&t), (20_000, 4_000));
        let p = table("PROVISIONED", 7, 3);
        assert_eq!(table_warm(&p), (7, 3));
    }

    #[test]
    fn throughput_history_counts_decreases_per_utc_day() {
        let mut t = table("PROVISIONED", 5, 5);
        let day = 20_000 * DAY_MS;
        let pt = |t: &TableMeta, now| throughput_json(t, "", 1, 1, now);
        assert_eq!(pt(&t, day)["NumberOfDecreasesToday"], 0);
        assert!(pt(&t, day).get("LastIncreaseDateTime").is_none());
        record_throughput_change(&mut t, "", (5, 5), (5, 5), day);
        assert!(
            t.extra.get(THROUGHPUT_HISTORY).is_none(),
            "no change, no history"
        );
        record_throughput_change(&mut t, "", (5, 5), (9, 5), day + 1);
        record_throughput_change(&mut t, "", (9, 5), (1, 5), day + 2);
        record_throughput_change(&mut t, "", (1, 5), (1, 2), day + 3);
        let v = pt(&t, day + 10);
        assert_eq!(v["NumberOfDecreasesToday"], 2);
        assert_eq!(v["LastIncreaseDateTime"], json!(epoch_seconds(day + 1)));
        assert_eq!(v["LastDecreaseDateTime"], json!(epoch_seconds(day + 3)));
        assert_eq!(pt(&t, day + DAY_MS)["NumberOfDecreasesToday"], 0);
        record_throughput_change(&mut t, "", (1, 2), (1, 1), day + DAY_MS);
        assert_eq!(pt(&t, day + DAY_MS)["NumberOfDecreasesToday"], 1);
    }
}

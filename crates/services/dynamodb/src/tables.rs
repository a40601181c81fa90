//! Table operations: create, describe, list, update, delete; secondary indexes, streams,
//! time to live, tags, limits and endpoints.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use tributary_model::arn;
use tributary_model::clock::stream_label;
use tributary_model::stream::StreamViewType;
use tributary_model::AwsError;
use tributary_service::json::{check_range, constraint, output};
use tributary_shapes::types::Timestamp;
use tributary_store::{IndexMeta, KeyAttr, KeySchema, Projection, StreamMeta, TableMeta, Tx};

use super::{invalid, raw, resolve_table_name, table_name_of, table_not_found};
use crate::{types, DynamoDb};

/// Names of internal indexes start with this and are never shown.
pub(super) const INTERNAL_INDEX_PREFIX: &str = "__";

/// Items a backfill indexes per store job: large enough to finish a small table within its
/// UpdateTable, small enough that one step holds the writer for a few milliseconds.
pub(super) const BACKFILL_STEP: usize = 1000;

fn attribute_definitions(
    defs_in: Vec<types::AttributeDefinition>,
) -> Result<Vec<KeyAttr>, AwsError> {
    let mut defs: Vec<KeyAttr> = Vec::with_capacity(defs_in.len());
    for d in defs_in {
        let (n, t) = (d.attribute_name, d.attribute_type);
        if !matches!(t.as_str(), "S" | "N" | "B") {
            return Err(constraint(
                &Value::String(t),
                "attributeDefinitions.1.member.attributeType",
                "Member must satisfy enum value set: [B, N, S]",
            ));
        }
        if defs.iter().any(|x| x.name == n) {
            return Err(invalid(format!(
                "Duplicate AttributeName found in AttributeDefinitions: {n}"
            )));
        }
        defs.push(KeyAttr { name: n, ty: t });
    }
    Ok(defs)
}

/// Parses a `KeySchema` list against the attribute definitions.
fn parse_key_schema(
    ks: &[types::KeySchemaElement],
    defs: &[KeyAttr],
    field: &str,
) -> Result<KeySchema, AwsError> {
    if ks.is_empty() || ks.len() > 2 {
        let rule = if ks.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 2"
        };
        return Err(constraint(&output(&ks), field, rule));
    }
    let mut hash = None;
    let mut range = None;
    for (i, k) in ks.iter().enumerate() {
        let n = &k.attribute_name;
        let def = defs.iter().find(|d| d.name == *n).cloned().ok_or_else(|| {
            let keys: Vec<&str> = ks.iter().map(|k| k.attribute_name.as_str()).collect();
            let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
            invalid(format!(
                "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                keys.join(", "),
                names.join(", ")
            ))
        })?;
        match (k.key_type.as_str(), i) {
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

fn parse_projection(p: &types::Projection, index: &str) -> Result<Projection, AwsError> {
    let ty = p.projection_type.as_deref();
    let non_key = p.non_key_attributes.as_ref();
    match ty {
        Some("ALL") | Some("KEYS_ONLY") if non_key.is_some() => Err(invalid(format!(
            "ProjectionType is {}, but NonKeyAttributes is specified",
            ty.unwrap_or_default()
        ))),
        Some("ALL") => Ok(Projection::All),
        Some("KEYS_ONLY") => Ok(Projection::KeysOnly),
        Some("INCLUDE") => match non_key {
            Some(a) if !a.is_empty() => Ok(Projection::Include(a.clone())),
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
    t: Option<&types::ProvisionedThroughput>,
    field: &str,
) -> Result<Option<(i64, i64)>, AwsError> {
    let Some(t) = t else { return Ok(None) };
    let (r, w) = (t.read_capacity_units, t.write_capacity_units);
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
fn throughput_description(
    t: &TableMeta,
    key: &str,
    rcu: i64,
    wcu: i64,
    now_ms: i64,
) -> types::ProvisionedThroughputDescription {
    let h = t.extra.get(THROUGHPUT_HISTORY).and_then(|h| h.get(key));
    let field = |k: &str| h.and_then(|h| h.get(k)).and_then(Value::as_i64);
    let today = field("DecreaseDay") == Some(now_ms.div_euclid(DAY_MS));
    let decreases = if today {
        field("Decreases").unwrap_or(0)
    } else {
        0
    };
    types::ProvisionedThroughputDescription {
        last_increase_date_time: field("IncreasedMs").map(Timestamp::from_millis),
        last_decrease_date_time: field("DecreasedMs").map(Timestamp::from_millis),
        number_of_decreases_today: Some(decreases),
        read_capacity_units: Some(rcu),
        write_capacity_units: Some(wcu),
    }
}

/// The read and write units per second a `WarmThroughput` request member asks for.
type WarmRequest = (Option<i64>, Option<i64>);

/// A `WarmThroughput` request member: the read and write units per second asked for.
fn parse_warm(
    w: Option<&types::WarmThroughput>,
    field: &str,
) -> Result<Option<WarmRequest>, AwsError> {
    let Some(w) = w else { return Ok(None) };
    let (read, write) = (w.read_units_per_second, w.write_units_per_second);
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

/// One index definition: a global or local index of CreateTable, or an index UpdateTable
/// creates.
struct IndexDef<'a> {
    name: &'a str,
    key_schema: &'a [types::KeySchemaElement],
    projection: &'a types::Projection,
    throughput: Option<&'a types::ProvisionedThroughput>,
    warm: Option<&'a types::WarmThroughput>,
}

impl<'a> From<&'a types::GlobalSecondaryIndex> for IndexDef<'a> {
    fn from(g: &'a types::GlobalSecondaryIndex) -> Self {
        IndexDef {
            name: &g.index_name,
            key_schema: &g.key_schema,
            projection: &g.projection,
            throughput: g.provisioned_throughput.as_ref(),
            warm: g.warm_throughput.as_ref(),
        }
    }
}

impl<'a> From<&'a types::LocalSecondaryIndex> for IndexDef<'a> {
    fn from(l: &'a types::LocalSecondaryIndex) -> Self {
        IndexDef {
            name: &l.index_name,
            key_schema: &l.key_schema,
            projection: &l.projection,
            throughput: None,
            warm: None,
        }
    }
}

impl<'a> From<&'a types::CreateGlobalSecondaryIndexAction> for IndexDef<'a> {
    fn from(c: &'a types::CreateGlobalSecondaryIndexAction) -> Self {
        IndexDef {
            name: &c.index_name,
            key_schema: &c.key_schema,
            projection: &c.projection,
            throughput: c.provisioned_throughput.as_ref(),
            warm: c.warm_throughput.as_ref(),
        }
    }
}

/// Parses one index definition of CreateTable or UpdateTable.
fn parse_index(
    def: &IndexDef<'_>,
    global: bool,
    defs: &[KeyAttr],
    table_keys: &KeySchema,
    billing_mode: &str,
    id: u64,
) -> Result<IndexMeta, AwsError> {
    let list = if global {
        "globalSecondaryIndexes"
    } else {
        "localSecondaryIndexes"
    };
    let name = def.name.to_owned();
    if name.len() < 3
        || name.len() > 255
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err(constraint(
            &Value::String(name),
            &format!("{list}.1.member.indexName"),
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    let key_schema = parse_key_schema(def.key_schema, defs, &format!("{list}.1.member.keySchema"))?;
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
    let projection = parse_projection(def.projection, &name)?;
    let throughput = parse_throughput(def.throughput, "provisionedThroughput")?;
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

pub(super) async fn create_table(
    app: &DynamoDb,
    input: types::CreateTableInput,
    body: &Map<String, Value>,
) -> Result<types::CreateTableOutput, AwsError> {
    let given = table_name_of(&input.table_name)?;
    // CreateTable takes a table ARN too; it must be one of this region and account.
    let name = resolve_table_name(app, given)
        .ok_or_else(|| AwsError::validation(format!("Invalid TableArn: {given}")))?
        .to_owned();
    let defs = attribute_definitions(input.attribute_definitions.ok_or_else(|| {
        constraint(
            &Value::Null,
            "attributeDefinitions",
            "Member must not be null",
        )
    })?)?;
    let ks = input
        .key_schema
        .as_deref()
        .ok_or_else(|| constraint(&Value::Null, "keySchema", "Member must not be null"))?;
    let key_schema = parse_key_schema(ks, &defs, "keySchema")?;
    let billing_mode = input.billing_mode.unwrap_or_else(|| "PROVISIONED".into());
    let throughput = parse_throughput(
        input.provisioned_throughput.as_ref(),
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
    let gsis = input.global_secondary_indexes.unwrap_or_default();
    let lsis = input.local_secondary_indexes.unwrap_or_default();
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
    let all = gsis.iter().map(|g| (true, IndexDef::from(g)));
    for (g, def) in all.chain(lsis.iter().map(|l| (false, IndexDef::from(l)))) {
        // Ids are assigned in the write job; parse with a placeholder first.
        let ix = parse_index(&def, g, &defs, &key_schema, &billing_mode, 0)?;
        if indexes.iter().any(|i: &IndexMeta| i.name == ix.name) {
            return Err(invalid(format!("Duplicate index name: {}", ix.name)));
        }
        if g {
            let asked = parse_warm(def.warm, "globalSecondaryIndexes.1.member.warmThroughput")?;
            if let Some(w) = asked {
                index_warm_asked.insert(ix.name.clone(), w);
            }
        }
        indexes.push(ix);
    }
    let warm_asked = parse_warm(input.warm_throughput.as_ref(), "warmThroughput")?;
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
    let stream_spec = parse_stream_spec(input.stream_specification.as_ref())?;
    let deletion_protection = input.deletion_protection_enabled.unwrap_or(false);
    let tags = parse_tags(input.tags.as_deref().unwrap_or_default(), raw(body, "Tags"))?;
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
    if let Some(summary) = &mut d.billing_mode_summary {
        summary.last_update_to_pay_per_request_date_time = None;
    }
    Ok(types::CreateTableOutput {
        table_description: Some(d),
    })
}

/// `None`: no StreamSpecification; `Some(None)`: disabled; `Some(Some(view))`: enabled.
fn parse_stream_spec(
    spec: Option<&types::StreamSpecification>,
) -> Result<Option<Option<StreamViewType>>, AwsError> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let view = spec.stream_view_type.as_deref();
    if !spec.stream_enabled {
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

/// A key schema as the model writes it, hash key first.
fn key_schema(ks: &KeySchema) -> Vec<types::KeySchemaElement> {
    let element = |a: &KeyAttr, key_type: &str| types::KeySchemaElement {
        attribute_name: a.name.clone(),
        key_type: key_type.to_owned(),
    };
    std::iter::once(element(&ks.hash, "HASH"))
        .chain(ks.range.as_ref().map(|r| element(r, "RANGE")))
        .collect()
}

fn projection(p: &Projection) -> types::Projection {
    let (ty, attrs) = match p {
        Projection::All => ("ALL", None),
        Projection::KeysOnly => ("KEYS_ONLY", None),
        Projection::Include(a) => ("INCLUDE", Some(a.clone())),
    };
    types::Projection {
        projection_type: Some(ty.into()),
        non_key_attributes: attrs,
    }
}

fn index_arn(t: &TableMeta, ix: &IndexMeta) -> String {
    format!("{}/index/{}", t.arn, ix.name)
}

fn gsi_description(
    t: &TableMeta,
    ix: &IndexMeta,
    now_ms: i64,
) -> types::GlobalSecondaryIndexDescription {
    // An index being filled is CREATING, Backfilling, until its last item is in.
    let status = if ix.backfilling() {
        "CREATING"
    } else {
        "ACTIVE"
    };
    let (read, write) = index_warm(t, ix);
    types::GlobalSecondaryIndexDescription {
        index_name: Some(ix.name.clone()),
        key_schema: Some(key_schema(&ix.key_schema)),
        projection: Some(projection(&ix.projection)),
        index_status: Some(status.into()),
        backfilling: ix.backfilling().then_some(true),
        provisioned_throughput: Some(throughput_description(
            t,
            &ix.name,
            ix.read_capacity,
            ix.write_capacity,
            now_ms,
        )),
        index_size_bytes: Some(ix.size_bytes),
        item_count: Some(ix.item_count),
        index_arn: Some(index_arn(t, ix)),
        warm_throughput: Some(types::GlobalSecondaryIndexWarmThroughputDescription {
            read_units_per_second: Some(read),
            write_units_per_second: Some(write),
            status: Some(status.into()),
        }),
        // On-demand maximum throughput is not supported.
        on_demand_throughput: None,
    }
}

fn lsi_description(t: &TableMeta, ix: &IndexMeta) -> types::LocalSecondaryIndexDescription {
    types::LocalSecondaryIndexDescription {
        index_name: Some(ix.name.clone()),
        key_schema: Some(key_schema(&ix.key_schema)),
        projection: Some(projection(&ix.projection)),
        index_size_bytes: Some(ix.size_bytes),
        item_count: Some(ix.item_count),
        index_arn: Some(index_arn(t, ix)),
    }
}

pub(super) fn table_description(app: &DynamoDb, t: &TableMeta) -> types::TableDescription {
    let now_ms = tributary_model::Clock::now_millis(&*app.clock);
    // The table is UPDATING while one of its indexes is being created.
    let creating = t
        .indexes
        .iter()
        .any(|i| i.backfilling() && !i.name.starts_with(INTERNAL_INDEX_PREFIX));
    // Present once the table has been on-demand: the mode, and when it last switched to it.
    let since = t
        .extra
        .get(PAY_PER_REQUEST_SINCE)
        .and_then(Value::as_i64)
        .or((t.billing_mode == "PAY_PER_REQUEST").then_some(t.created_ms));
    let visible = |g: bool| {
        t.indexes
            .iter()
            .filter(move |i| i.global == g && !i.name.starts_with(INTERNAL_INDEX_PREFIX))
    };
    let gsis: Vec<_> = visible(true)
        .map(|i| gsi_description(t, i, now_ms))
        .collect();
    let lsis: Vec<_> = visible(false).map(|i| lsi_description(t, i)).collect();
    let stream = t
        .stream_arn
        .as_ref()
        .and_then(|a| app.store.catalog().streams.get(a).map(|s| s.view_type));
    let latest = t
        .latest_stream_arn
        .as_ref()
        .zip(t.latest_stream_label.as_ref());
    let (read, write) = table_warm(t);
    types::TableDescription {
        attribute_definitions: Some(
            t.attribute_definitions
                .iter()
                .map(|a| types::AttributeDefinition {
                    attribute_name: a.name.clone(),
                    attribute_type: a.ty.clone(),
                })
                .collect(),
        ),
        table_name: Some(t.name.clone()),
        key_schema: Some(key_schema(&t.key_schema)),
        table_status: Some(if creating { "UPDATING" } else { "ACTIVE" }.into()),
        creation_date_time: Some(Timestamp::from_millis(t.created_ms)),
        provisioned_throughput: Some(throughput_description(
            t,
            "",
            t.read_capacity,
            t.write_capacity,
            now_ms,
        )),
        table_size_bytes: Some(t.size_bytes),
        item_count: Some(t.item_count),
        table_arn: Some(t.arn.clone()),
        table_id: Some(t.table_id_uuid.clone()),
        billing_mode_summary: since.map(|ms| types::BillingModeSummary {
            billing_mode: Some(t.billing_mode.clone()),
            last_update_to_pay_per_request_date_time: Some(Timestamp::from_millis(ms)),
        }),
        local_secondary_indexes: (!lsis.is_empty()).then_some(lsis),
        global_secondary_indexes: (!gsis.is_empty()).then_some(gsis),
        stream_specification: stream.map(|view| types::StreamSpecification {
            stream_enabled: true,
            stream_view_type: Some(view.as_str().into()),
        }),
        latest_stream_label: latest.map(|(_, l)| l.clone()),
        latest_stream_arn: latest.map(|(a, _)| a.clone()),
        deletion_protection_enabled: Some(
            t.extra
                .get("DeletionProtectionEnabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        warm_throughput: Some(types::TableWarmThroughputDescription {
            read_units_per_second: Some(read),
            write_units_per_second: Some(write),
            status: Some("ACTIVE".into()),
        }),
        // Not modelled here: global tables (replicas, witnesses, versions), encryption,
        // table classes, backups and restores, archival, on-demand maximum throughput,
        // vector indexes.
        ..Default::default()
    }
}

/// Sets the status of a whole description: the table's, its global indexes' and their warm
/// throughput's.
fn with_status(d: &mut types::TableDescription, status: &str) {
    d.table_status = Some(status.into());
    if let Some(w) = &mut d.warm_throughput {
        w.status = Some(status.into());
    }
    for g in d.global_secondary_indexes.iter_mut().flatten() {
        set_index_status(g, status);
    }
}

/// Sets a global index's status and its warm throughput's.
fn set_index_status(g: &mut types::GlobalSecondaryIndexDescription, status: &str) {
    g.index_status = Some(status.into());
    set_warm_status(g, status);
}

fn set_warm_status(g: &mut types::GlobalSecondaryIndexDescription, status: &str) {
    if let Some(w) = &mut g.warm_throughput {
        w.status = Some(status.into());
    }
}

/// The metadata of the table `given` (a name or a table ARN) names, or DescribeTable's
/// not-found error.
fn described(app: &DynamoDb, given: &str) -> Result<TableMeta, AwsError> {
    resolve_table_name(app, given)
        .and_then(|name| app.store.catalog().tables.get(name).cloned())
        .ok_or_else(|| table_not_found(given))
}

pub(super) fn describe_table(
    app: &DynamoDb,
    input: types::DescribeTableInput,
) -> Result<types::DescribeTableOutput, AwsError> {
    let t = described(app, table_name_of(&input.table_name)?)?;
    Ok(types::DescribeTableOutput {
        table: Some(table_description(app, &t)),
    })
}

pub(super) fn list_tables(
    app: &DynamoDb,
    input: types::ListTablesInput,
) -> Result<types::ListTablesOutput, AwsError> {
    let limit = input.limit.map_or(100, i64::from);
    check_range(limit, 1, 100, "limit")?;
    let start = input.exclusive_start_table_name.as_deref();
    let cat = app.store.catalog();
    let mut names: Vec<String> = cat
        .tables
        .keys()
        .filter(|n| start.is_none_or(|s| n.as_str() > s))
        .take(limit as usize + 1)
        .cloned()
        .collect();
    let more = names.len() > limit as usize;
    names.truncate(limit as usize);
    Ok(types::ListTablesOutput {
        last_evaluated_table_name: names.last().filter(|_| more).cloned(),
        table_names: Some(names),
    })
}

pub(super) async fn delete_table(
    app: &DynamoDb,
    input: types::DeleteTableInput,
) -> Result<types::DeleteTableOutput, AwsError> {
    let snapshot = described(app, table_name_of(&input.table_name)?)?;
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
    Ok(types::DeleteTableOutput {
        table_description: Some(desc),
    })
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

pub(super) async fn update_table(
    app: &DynamoDb,
    input: types::UpdateTableInput,
) -> Result<types::UpdateTableOutput, AwsError> {
    let current = described(app, table_name_of(&input.table_name)?)?;
    let name = current.name.clone();
    let spec = parse_stream_spec(input.stream_specification.as_ref())?;
    let warm_asked = parse_warm(input.warm_throughput.as_ref(), "warmThroughput")?;
    let mut index_warm_asked = BTreeMap::new();
    let billing = input.billing_mode;
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
        input.provisioned_throughput.as_ref(),
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
    let protection = input.deletion_protection_enabled;
    let mut defs = current.attribute_definitions.clone();
    if let Some(asked) = input.attribute_definitions {
        for d in attribute_definitions(asked)? {
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
    let not_found = |n: &str| {
        AwsError::ddb_not_found(format!(
            "Requested resource not found: Index: {n} not found for table: {name}"
        ))
    };
    let mut changes = Vec::new();
    for u in input.global_secondary_index_updates.iter().flatten() {
        if let Some(c) = &u.create {
            let def = IndexDef::from(c);
            let ix = parse_index(&def, true, &defs, &current.key_schema, &mode, 0)?;
            if current.indexes.iter().any(|i| i.name == ix.name) {
                return Err(invalid(format!(
                    "Attempting to create an index which already exists: {}",
                    ix.name
                )));
            }
            let asked = parse_warm(
                def.warm,
                "globalSecondaryIndexUpdates.1.member.create.warmThroughput",
            )?;
            if let Some(w) = asked {
                index_warm_asked.insert(ix.name.clone(), w);
            }
            changes.push(IndexChange::Create(ix));
        } else if let Some(d) = &u.delete {
            let n = d.index_name.clone();
            if !current.indexes.iter().any(|i| i.global && i.name == n) {
                return Err(not_found(&n));
            }
            changes.push(IndexChange::Delete(n));
        } else if let Some(up) = &u.update {
            let n = up.index_name.clone();
            if !current.indexes.iter().any(|i| i.global && i.name == n) {
                return Err(not_found(&n));
            }
            let throughput =
                parse_throughput(up.provisioned_throughput.as_ref(), "provisionedThroughput")?;
            let asked = parse_warm(
                up.warm_throughput.as_ref(),
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
    Ok(types::UpdateTableOutput {
        table_description: Some(updating_description(app, &update)),
    })
}

/// UpdateTable's answer: the table `UPDATING` (it is usable at once, as after CreateTable's
/// `CREATING`), new indexes `CREATING`, updated ones `UPDATING`, deleted ones `DELETING`, and
/// the warm throughput being raised `UPDATING`.
fn updating_description(app: &DynamoDb, u: &TableUpdate) -> types::TableDescription {
    let t = &u.table;
    let mut d = table_description(app, t);
    d.table_status = Some("UPDATING".into());
    if u.warmed.contains(&None) {
        if let Some(w) = &mut d.warm_throughput {
            w.status = Some("UPDATING".into());
        }
    }
    let mut gsis = d.global_secondary_indexes.take().unwrap_or_default();
    for g in &mut gsis {
        let Some(n) = g.index_name.clone() else {
            continue;
        };
        if u.created.contains(&n) {
            set_index_status(g, "CREATING");
            continue;
        }
        if u.updated.contains(&n) {
            g.index_status = Some("UPDATING".into());
        }
        if u.warmed.contains(&Some(n)) {
            set_warm_status(g, "UPDATING");
        }
    }
    for ix in &u.deleted {
        let mut g = gsi_description(t, ix, tributary_model::Clock::now_millis(&*app.clock));
        set_index_status(&mut g, "DELETING");
        gsis.push(g);
    }
    d.global_secondary_indexes = (!gsis.is_empty()).then_some(gsis);
    d
}

// ---------------------------------------------------------------- time to live

pub(super) fn describe_time_to_live(
    app: &DynamoDb,
    input: types::DescribeTimeToLiveInput,
) -> Result<types::DescribeTimeToLiveOutput, AwsError> {
    let t = described(app, table_name_of(&input.table_name)?)?;
    let status = if t.ttl_attribute.is_some() {
        "ENABLED"
    } else {
        "DISABLED"
    };
    Ok(types::DescribeTimeToLiveOutput {
        time_to_live_description: Some(types::TimeToLiveDescription {
            time_to_live_status: Some(status.into()),
            attribute_name: t.ttl_attribute,
        }),
    })
}

pub(super) async fn update_time_to_live(
    app: &DynamoDb,
    input: types::UpdateTimeToLiveInput,
) -> Result<types::UpdateTimeToLiveOutput, AwsError> {
    let given = table_name_of(&input.table_name)?;
    let types::TimeToLiveSpecification {
        enabled,
        attribute_name: attr,
    } = input.time_to_live_specification;
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
    Ok(types::UpdateTimeToLiveOutput {
        time_to_live_specification: Some(types::TimeToLiveSpecification {
            enabled,
            attribute_name: attr,
        }),
    })
}

// ---------------------------------------------------------------- tags

/// `tags`, with the request's `raw` list: `Tag`'s members are required in the model, so a
/// missing one reads as empty, yet AWS words a missing one by hand.
fn parse_tags(
    tags: &[types::Tag],
    raw: Option<&Value>,
) -> Result<BTreeMap<String, String>, AwsError> {
    let sent = |i: usize, member: &str| {
        raw.and_then(|r| r.get(i))
            .and_then(|t| t.get(member))
            .is_some_and(|v| !v.is_null())
    };
    let mut out = BTreeMap::new();
    for (i, t) in tags.iter().enumerate() {
        // AWS words a tag without key or value by hand (recorded: Tags=[{}] and a value-only
        // tag give the Key message, a key-only tag the Value message); the generic validator
        // skips these members.
        if !sent(i, "Key") {
            return Err(AwsError::validation(
                "The Tag Key provided is invalid, Key: null",
            ));
        }
        if !sent(i, "Value") {
            return Err(AwsError::validation(
                "The Tag Value provided is invalid, Value: null",
            ));
        }
        let (k, v) = (&t.key, &t.value);
        if k.is_empty() || k.len() > 128 {
            return Err(constraint(
                &Value::String(k.clone()),
                "tags.1.member.key",
                "Member must have length less than or equal to 128",
            ));
        }
        if v.len() > 256 {
            return Err(constraint(
                &Value::String(v.clone()),
                "tags.1.member.value",
                "Member must have length less than or equal to 256",
            ));
        }
        out.insert(k.clone(), v.clone());
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

pub(super) async fn tag_resource(
    app: &DynamoDb,
    input: types::TagResourceInput,
    body: &Map<String, Value>,
) -> Result<(), AwsError> {
    let arn = &input.resource_arn;
    let tags = parse_tags(&input.tags, raw(body, "Tags"))?;
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
        .await
}

pub(super) async fn untag_resource(
    app: &DynamoDb,
    input: types::UntagResourceInput,
) -> Result<(), AwsError> {
    let keys = input.tag_keys;
    let arn = &input.resource_arn;
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
        .await
}

pub(super) fn list_tags_of_resource(
    app: &DynamoDb,
    input: types::ListTagsOfResourceInput,
) -> Result<types::ListTagsOfResourceOutput, AwsError> {
    let name = table_of_arn(app, &input.resource_arn)?;
    let t = described(app, &name)?;
    Ok(types::ListTagsOfResourceOutput {
        tags: Some(
            t.tags
                .into_iter()
                .map(|(key, value)| types::Tag { key, value })
                .collect(),
        ),
        // Every tag fits one page.
        next_token: None,
    })
}

// ---------------------------------------------------------------- account

pub(super) fn describe_limits() -> types::DescribeLimitsOutput {
    types::DescribeLimitsOutput {
        account_max_read_capacity_units: Some(80000),
        account_max_write_capacity_units: Some(80000),
        table_max_read_capacity_units: Some(40000),
        table_max_write_capacity_units: Some(40000),
    }
}

pub(super) fn describe_endpoints(app: &DynamoDb) -> types::DescribeEndpointsResponse {
    let address = app
        .cfg
        .endpoint_url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_owned();
    types::DescribeEndpointsResponse {
        endpoints: vec![types::Endpoint {
            address,
            cache_period_in_minutes: 1440,
        }],
    }
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
        use tributary_model::clock::epoch_seconds;
        let mut t = table("PROVISIONED", 5, 5);
        let day = 20_000 * DAY_MS;
        let pt = |t: &TableMeta, now| output(&throughput_description(t, "", 1, 1, now));
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

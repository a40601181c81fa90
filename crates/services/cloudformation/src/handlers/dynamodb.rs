//! `AWS::DynamoDB::Table`: CreateTable with its streams, indexes, TTL and tags; updates
//! through UpdateTable, UpdateTimeToLive and the tagging calls. `Ref` is the table name;
//! `Arn` and `StreamArn` are its attributes.

use serde_json::{json, Map, Value};
use tributary_cfn::Replacement;

use super::*;

pub struct Table;

const TARGET: &str = "DynamoDB_20120810";

async fn call(cx: &Cx<'_>, op: &str, body: Value) -> Result<Value, ApiError> {
    cx.calls
        .json("dynamodb", "1.0", &format!("{TARGET}.{op}"), body)
        .await
}

fn throughput(v: &Value) -> HandlerResult<Option<Value>> {
    if v.is_null() {
        return Ok(None);
    }
    let c = coerce(
        v,
        &[("ReadCapacityUnits", 'i'), ("WriteCapacityUnits", 'i')],
    )?;
    Ok(Some(Value::Object(c)))
}

/// A GSI or LSI as CreateTable takes it (CloudFormation's extra keys dropped).
fn index(v: &Value, global: bool) -> HandlerResult<Value> {
    let mut out = Map::new();
    for key in ["IndexName", "KeySchema", "Projection"] {
        if let Some(x) = v.get(key) {
            out.insert(key.into(), x.clone());
        }
    }
    if global {
        if let Some(t) = throughput(v.get("ProvisionedThroughput").unwrap_or(&Value::Null))? {
            out.insert("ProvisionedThroughput".into(), t);
        }
        if let Some(t) = v.get("OnDemandThroughput") {
            out.insert("OnDemandThroughput".into(), t.clone());
        }
        if let Some(t) = v.get("WarmThroughput") {
            out.insert("WarmThroughput".into(), t.clone());
        }
    }
    Ok(Value::Object(out))
}

fn stream_spec(props: &Value) -> Option<String> {
    props
        .get("StreamSpecification")
        .and_then(|s| string(s, "StreamViewType"))
}

fn sse(props: &Value) -> HandlerResult<Option<Value>> {
    let Some(s) = props.get("SSESpecification") else {
        return Ok(None);
    };
    let mut out = Map::new();
    if let Some(e) = boolean(s, "SSEEnabled")? {
        out.insert("Enabled".into(), e.into());
    }
    for key in ["SSEType", "KMSMasterKeyId"] {
        if let Some(x) = s.get(key) {
            out.insert(key.into(), x.clone());
        }
    }
    Ok(Some(Value::Object(out)))
}

fn tag_list(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

async fn describe(cx: &Cx<'_>, name: &str) -> HandlerResult<Created> {
    let d = call(cx, "DescribeTable", json!({ "TableName": name })).await?;
    let t = &d["Table"];
    let mut c = Created::new(name).with_ref(name);
    if let Some(arn) = t.get("TableArn").and_then(Value::as_str) {
        c = c.attr("Arn", arn);
    }
    if let Some(s) = t.get("LatestStreamArn").and_then(Value::as_str) {
        c = c.attr("StreamArn", s);
    }
    Ok(c)
}

async fn set_ttl(cx: &Cx<'_>, name: &str, spec: &Value, was: Option<&Value>) -> HandlerResult<()> {
    let enabled = boolean(spec, "Enabled")?.unwrap_or(false);
    let attribute = string(spec, "AttributeName");
    let (attribute, enabled) = match (attribute, was) {
        (Some(a), _) => (a, enabled),
        // Turning TTL off names the attribute it was on.
        (None, Some(w)) => match string(w, "AttributeName") {
            Some(a) => (a, false),
            None => return Ok(()),
        },
        (None, None) => return Ok(()),
    };
    call(
        cx,
        "UpdateTimeToLive",
        json!({"TableName": name, "TimeToLiveSpecification": {"AttributeName": attribute, "Enabled": enabled}}),
    )
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Handler for Table {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "TableName" | "KeySchema" | "LocalSecondaryIndexes" | "ImportSourceSpecification" => {
                Replacement::Always
            }
            _ => Replacement::Never,
        }
    }

    fn name_property(&self) -> Option<&'static str> {
        Some("TableName")
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let name = string(props, "TableName").unwrap_or_else(|| cx.physical_name(logical_id, 255));
        let mut req = Map::new();
        req.insert("TableName".into(), name.clone().into());
        for key in [
            "AttributeDefinitions",
            "KeySchema",
            "BillingMode",
            "TableClass",
            "OnDemandThroughput",
            "WarmThroughput",
        ] {
            if let Some(v) = props.get(key) {
                req.insert(key.into(), v.clone());
            }
        }
        if let Some(d) = boolean(props, "DeletionProtectionEnabled")? {
            req.insert("DeletionProtectionEnabled".into(), d.into());
        }
        if let Some(t) = throughput(props.get("ProvisionedThroughput").unwrap_or(&Value::Null))? {
            req.insert("ProvisionedThroughput".into(), t);
        }
        for (key, global) in [
            ("GlobalSecondaryIndexes", true),
            ("LocalSecondaryIndexes", false),
        ] {
            if let Some(list) = props.get(key).and_then(Value::as_array) {
                let indexes = list
                    .iter()
                    .map(|i| index(i, global))
                    .collect::<HandlerResult<Vec<_>>>()?;
                req.insert(key.into(), Value::Array(indexes));
            }
        }
        if let Some(view) = stream_spec(props) {
            req.insert(
                "StreamSpecification".into(),
                json!({"StreamEnabled": true, "StreamViewType": view}),
            );
        }
        if let Some(s) = sse(props)? {
            req.insert("SSESpecification".into(), s);
        }
        let all_tags = cx.resource_tags(props);
        if !all_tags.is_empty() {
            req.insert("Tags".into(), tag_list(&all_tags));
        }
        call(cx, "CreateTable", Value::Object(req)).await?;
        if let Some(ttl) = props.get("TimeToLiveSpecification") {
            if let Err(e) = set_ttl(cx, &name, ttl, None).await {
                let _ = call(cx, "DeleteTable", json!({ "TableName": name })).await;
                return Err(e);
            }
        }
        describe(cx, &name).await
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let name = current.physical_id;
        let old = current.properties;
        let mut upd = Map::new();
        if old.get("BillingMode") != props.get("BillingMode") {
            upd.insert(
                "BillingMode".into(),
                props
                    .get("BillingMode")
                    .cloned()
                    .unwrap_or_else(|| "PROVISIONED".into()),
            );
        }
        if old.get("ProvisionedThroughput") != props.get("ProvisionedThroughput") {
            if let Some(t) = throughput(props.get("ProvisionedThroughput").unwrap_or(&Value::Null))?
            {
                upd.insert("ProvisionedThroughput".into(), t);
            }
        }
        for key in ["TableClass", "OnDemandThroughput", "WarmThroughput"] {
            if old.get(key) != props.get(key) {
                if let Some(v) = props.get(key) {
                    upd.insert(key.into(), v.clone());
                }
            }
        }
        if old.get("DeletionProtectionEnabled") != props.get("DeletionProtectionEnabled") {
            upd.insert(
                "DeletionProtectionEnabled".into(),
                boolean(props, "DeletionProtectionEnabled")?
                    .unwrap_or(false)
                    .into(),
            );
        }
        if old.get("SSESpecification") != props.get("SSESpecification") {
            if let Some(s) = sse(props)? {
                upd.insert("SSESpecification".into(), s);
            }
        }
        if !upd.is_empty() {
            upd.insert("TableName".into(), name.into());
            call(cx, "UpdateTable", Value::Object(upd)).await?;
        }
        // Streams: a new view type needs the old stream disabled first.
        let (was, now) = (stream_spec(old), stream_spec(props));
        if was != now {
            if was.is_some() {
                call(
                    cx,
                    "UpdateTable",
                    json!({"TableName": name, "StreamSpecification": {"StreamEnabled": false}}),
                )
                .await?;
            }
            if let Some(view) = now {
                call(cx, "UpdateTable", json!({"TableName": name, "StreamSpecification": {"StreamEnabled": true, "StreamViewType": view}})).await?;
            }
        }
        // Global secondary indexes: one change per UpdateTable, as DynamoDB requires.
        let gsis = |p: &Value| -> Vec<Value> {
            p.get("GlobalSecondaryIndexes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (old_gsis, new_gsis) = (gsis(old), gsis(props));
        let name_of = |i: &Value| string(i, "IndexName").unwrap_or_default();
        for o in &old_gsis {
            if !new_gsis.iter().any(|n| name_of(n) == name_of(o)) {
                call(cx, "UpdateTable", json!({"TableName": name, "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": name_of(o)}}]})).await?;
            }
        }
        for n in &new_gsis {
            match old_gsis.iter().find(|o| name_of(o) == name_of(n)) {
                None => {
                    call(cx, "UpdateTable", json!({
                        "TableName": name,
                        "AttributeDefinitions": props.get("AttributeDefinitions").cloned().unwrap_or(json!([])),
                        "GlobalSecondaryIndexUpdates": [{"Create": index(n, true)?}],
                    })).await?;
                }
                Some(o) if o.get("ProvisionedThroughput") != n.get("ProvisionedThroughput") => {
                    if let Some(t) =
                        throughput(n.get("ProvisionedThroughput").unwrap_or(&Value::Null))?
                    {
                        call(cx, "UpdateTable", json!({"TableName": name, "GlobalSecondaryIndexUpdates": [{"Update": {"IndexName": name_of(n), "ProvisionedThroughput": t}}]})).await?;
                    }
                }
                Some(o)
                    if o.get("KeySchema") != n.get("KeySchema")
                        || o.get("Projection") != n.get("Projection") =>
                {
                    return Err(Failure(format!(
                        "Cannot update GSI's properties other than Provisioned Throughput and Contributor Insights Specification. You can create a new GSI with a different name ({}).",
                        name_of(n)
                    )));
                }
                Some(_) => {}
            }
        }
        if old.get("TimeToLiveSpecification") != props.get("TimeToLiveSpecification") {
            let spec = props
                .get("TimeToLiveSpecification")
                .cloned()
                .unwrap_or(json!({"Enabled": false}));
            set_ttl(cx, name, &spec, old.get("TimeToLiveSpecification")).await?;
        }
        if let Some(t) = tag_update(old, props) {
            let arn = current.attributes.get("Arn").cloned().unwrap_or_default();
            if !t.removed.is_empty() {
                let body = json!({"ResourceArn": arn, "TagKeys": t.removed});
                call(cx, "UntagResource", body).await?;
            }
            if !t.set.is_empty() {
                let body = json!({"ResourceArn": arn, "Tags": tag_list(&t.set)});
                call(cx, "TagResource", body).await?;
            }
        }
        describe(cx, name).await
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        match call(
            cx,
            "DeleteTable",
            json!({ "TableName": current.physical_id }),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// `AWS::DynamoDB::GlobalTable` (what CDK's `TableV2` makes): a table with one replica, in the
/// stack's region. Its properties are translated to the table's and handled as one.
pub struct GlobalTable;

/// The `AWS::DynamoDB::Table` properties of a global table's one replica here.
fn as_table(cx: &Cx<'_>, props: &Value) -> HandlerResult<Value> {
    let replicas = props
        .get("Replicas")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let replica = match replicas.as_slice() {
        [one] if string(one, "Region").as_deref() == Some(cx.region) => one.clone(),
        [one] => {
            return Err(Failure(format!(
                "The replica in {} is not in the stack's region {}: this server serves one region",
                string(one, "Region").unwrap_or_default(),
                cx.region
            )))
        }
        _ => {
            return Err(Failure(format!(
                "A global table here has exactly one replica, in {}: this server serves one region",
                cx.region
            )))
        }
    };
    let mut out = Map::new();
    for key in [
        "TableName",
        "AttributeDefinitions",
        "KeySchema",
        "BillingMode",
        "LocalSecondaryIndexes",
        "StreamSpecification",
        "TimeToLiveSpecification",
        "WarmThroughput",
    ] {
        if let Some(v) = props.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    // Provisioned global tables set writes table-wide and reads per replica.
    let write = props
        .pointer("/WriteProvisionedThroughputSettings/WriteCapacityAutoScalingSettings/MinCapacity")
        .and_then(as_int);
    let read = replica
        .pointer("/ReadProvisionedThroughputSettings/ReadCapacityUnits")
        .and_then(as_int)
        .or_else(|| {
            replica
                .pointer("/ReadProvisionedThroughputSettings/ReadCapacityAutoScalingSettings/MinCapacity")
                .and_then(as_int)
        });
    if let (Some(r), Some(w)) = (read, write) {
        out.insert(
            "ProvisionedThroughput".into(),
            json!({"ReadCapacityUnits": r, "WriteCapacityUnits": w}),
        );
    }
    if let Some(gsis) = props
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_array)
    {
        let mut list = Vec::new();
        for g in gsis {
            let mut g = g.clone();
            if let (Some(w), Some(obj)) = (
                g.pointer("/WriteProvisionedThroughputSettings/WriteCapacityAutoScalingSettings/MinCapacity")
                    .and_then(as_int),
                g.as_object_mut(),
            ) {
                obj.insert(
                    "ProvisionedThroughput".into(),
                    json!({"ReadCapacityUnits": read.unwrap_or(w), "WriteCapacityUnits": w}),
                );
            }
            list.push(g);
        }
        out.insert("GlobalSecondaryIndexes".into(), Value::Array(list));
    }
    if let Some(sse) = props.get("SSESpecification") {
        out.insert("SSESpecification".into(), sse.clone());
    }
    for key in [
        "Tags",
        "DeletionProtectionEnabled",
        "TableClass",
        "PointInTimeRecoverySpecification",
    ] {
        if let Some(v) = replica.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

/// A global table's attributes: the table's, and its `TableId`.
async fn with_table_id(cx: &Cx<'_>, mut c: Created) -> HandlerResult<Created> {
    let d = call(cx, "DescribeTable", json!({ "TableName": c.physical_id })).await?;
    if let Some(id) = d["Table"].get("TableId").and_then(Value::as_str) {
        c = c.attr("TableId", id);
    }
    Ok(c)
}

#[async_trait::async_trait]
impl Handler for GlobalTable {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "TableName" | "KeySchema" | "LocalSecondaryIndexes" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    fn name_property(&self) -> Option<&'static str> {
        Some("TableName")
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let table = as_table(cx, props)?;
        let c = Table.create(cx, logical_id, &table).await?;
        with_table_id(cx, c).await
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let old = as_table(cx, current.properties)?;
        let new = as_table(cx, props)?;
        let c = Table
            .update(
                cx,
                &Current {
                    logical_id: current.logical_id,
                    physical_id: current.physical_id,
                    properties: &old,
                    attributes: current.attributes,
                },
                &new,
            )
            .await?;
        with_table_id(cx, c).await
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        Table.delete(cx, current).await
    }
}

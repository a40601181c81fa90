//! `AWS::Lambda::Function`, `Version`, `Alias`, `EventSourceMapping` and `Permission`, over
//! Lambda's REST API.
//!
//! A function's `Code` is `ZipFile` (the source text, which CloudFormation packs as
//! `index.<ext>`), `S3Bucket`/`S3Key` (which Lambda reads itself), or, for templates deployed
//! from a local folder, the
//! `Tributary::LocalPath` marker the SAM transform leaves, zipped here.

use base64::Engine as _;
use http::Method;
use serde_json::{json, Map, Value};
use tributary_cfn::Replacement;

use super::*;
use crate::code;

const FUNCTIONS: &str = "/2015-03-31/functions";

async fn rest(
    cx: &Cx<'_>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, ApiError> {
    cx.calls.rest_json("lambda", method, path, body).await
}

/// A function name or ARN as the paths take it, with the qualifier an ARN may carry.
fn name_and_qualifier(name: &str) -> (String, Option<String>) {
    if let Some(rest) = name.split_once(":function:").map(|(_, r)| r) {
        return match rest.split_once(':') {
            Some((n, q)) => (n.to_owned(), Some(q.to_owned())),
            None => (rest.to_owned(), None),
        };
    }
    match name.split_once(':') {
        Some((n, q)) if !n.contains(':') => (n.to_owned(), Some(q.to_owned())),
        _ => (name.to_owned(), None),
    }
}

fn function_path(name: &str) -> String {
    format!("{FUNCTIONS}/{}", segment(&name_and_qualifier(name).0))
}

/// The `Code` object of CreateFunction/UpdateFunctionCode from a template's `Code`.
fn code_of(props: &Value) -> HandlerResult<Map<String, Value>> {
    let Some(code) = props.get("Code") else {
        return Err(Failure::property("#: required key [Code] not found"));
    };
    let mut out = Map::new();
    if let Some(path) = code
        .get(tributary_cfn::sam::LOCAL_PATH_KEY)
        .and_then(Value::as_str)
    {
        let zip = code::package(path).map_err(Failure)?;
        out.insert(
            "ZipFile".into(),
            base64::engine::general_purpose::STANDARD.encode(zip).into(),
        );
        return Ok(out);
    }
    if let Some(source) = code.get("ZipFile").and_then(Value::as_str) {
        let runtime = string(props, "Runtime").unwrap_or_default();
        let zip = code::inline(source, &runtime).map_err(Failure)?;
        out.insert(
            "ZipFile".into(),
            base64::engine::general_purpose::STANDARD.encode(zip).into(),
        );
        return Ok(out);
    }
    // An S3 object (Lambda reads it) or an image, as given.
    for key in [
        "S3Bucket",
        "S3Key",
        "S3ObjectVersion",
        "ImageUri",
        "SourceKMSKeyArn",
    ] {
        if let Some(v) = string(code, key) {
            out.insert(key.into(), v.into());
        }
    }
    if out.is_empty() {
        return Err(Failure::property(
            "#/Code: Code must contain one of ZipFile, S3Bucket and S3Key, or ImageUri",
        ));
    }
    Ok(out)
}

/// The configuration keys CreateFunction and UpdateFunctionConfiguration share.
const CONFIG: &[&str] = &[
    "Role",
    "Handler",
    "Runtime",
    "Description",
    "Timeout",
    "MemorySize",
    "Environment",
    "Layers",
    "DeadLetterConfig",
    "TracingConfig",
    "EphemeralStorage",
    "LoggingConfig",
    "KMSKeyArn",
    "VpcConfig",
    "FileSystemConfigs",
    "ImageConfig",
    "SnapStart",
];

fn config(props: &Value) -> HandlerResult<Map<String, Value>> {
    let coerced = coerce(props, &[("Timeout", 'i'), ("MemorySize", 'i')])?;
    let mut out = Map::new();
    for key in CONFIG {
        if let Some(v) = coerced.get(*key) {
            out.insert((*key).to_owned(), v.clone());
        }
    }
    if let Some(e) = out.get_mut("EphemeralStorage") {
        *e = Value::Object(coerce(e, &[("Size", 'i')])?);
    }
    Ok(out)
}

/// Waits until the function is `Active` and its last update is done, as CloudFormation's
/// handler does before it calls the resource created (a new version or an alias of a
/// `Pending` function would be refused).
async fn stabilize(cx: &Cx<'_>, name: &str) -> HandlerResult<Value> {
    stabilize_version(cx, name, None).await
}

/// [`stabilize`] for one version of the function.
async fn stabilize_version(
    cx: &Cx<'_>,
    name: &str,
    qualifier: Option<&str>,
) -> HandlerResult<Value> {
    const POLL: std::time::Duration = std::time::Duration::from_millis(10);
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);
    let started = std::time::Instant::now();
    loop {
        let mut path = format!("{}/configuration", function_path(name));
        if let Some(q) = qualifier {
            path.push_str(&format!("?Qualifier={}", segment(q)));
        }
        let f = rest(cx, Method::GET, &path, None).await?;
        let state = f.get("State").and_then(Value::as_str).unwrap_or("Active");
        let update = f
            .get("LastUpdateStatus")
            .and_then(Value::as_str)
            .unwrap_or("Successful");
        if state == "Failed" || update == "Failed" {
            let reason = f
                .get("StateReason")
                .or_else(|| f.get("LastUpdateStatusReason"))
                .and_then(Value::as_str)
                .unwrap_or("the function failed to become active");
            return Err(Failure(format!(
                "Resource handler returned message: \"{reason}\" (HandlerErrorCode: NotStabilized)"
            )));
        }
        if state == "Active" && update == "Successful" {
            return Ok(f);
        }
        if started.elapsed() > PATIENCE {
            return Err(Failure(format!(
                "Resource handler returned message: \"The function {name} did not become active in {} s (State: {state}, LastUpdateStatus: {update})\" (HandlerErrorCode: NotStabilized)",
                PATIENCE.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn function_attrs(cx: &Cx<'_>, name: &str) -> HandlerResult<Created> {
    let f = stabilize(cx, name).await?;
    let arn = f
        .get("FunctionArn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(Created::new(name).with_ref(name).attr("Arn", arn))
}

async fn set_concurrency(cx: &Cx<'_>, name: &str, reserved: Option<i64>) -> HandlerResult<()> {
    let path = format!("/2017-10-31/functions/{}/concurrency", segment(name));
    match reserved {
        Some(n) => {
            rest(
                cx,
                Method::PUT,
                &path,
                Some(json!({"ReservedConcurrentExecutions": n})),
            )
            .await?
        }
        None => rest(cx, Method::DELETE, &path, None).await?,
    };
    Ok(())
}

pub struct Function;

#[async_trait::async_trait]
impl Handler for Function {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "FunctionName" | "PackageType" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    fn name_property(&self) -> Option<&'static str> {
        Some("FunctionName")
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let name =
            string(props, "FunctionName").unwrap_or_else(|| cx.physical_name(logical_id, 64));
        let mut req = config(props)?;
        req.insert("FunctionName".into(), name.clone().into());
        req.insert("Code".into(), Value::Object(code_of(props)?));
        for key in ["PackageType", "Architectures", "CodeSigningConfigArn"] {
            if let Some(v) = props.get(key) {
                req.insert(key.into(), v.clone());
            }
        }
        let all_tags = cx.aws_tags(logical_id, props);
        req.insert("Tags".into(), tag_object(&all_tags));
        rest(cx, Method::POST, FUNCTIONS, Some(Value::Object(req))).await?;
        if let Some(n) = int(props, "ReservedConcurrentExecutions")? {
            if let Err(e) = set_concurrency(cx, &name, Some(n)).await {
                let _ = rest(cx, Method::DELETE, &function_path(&name), None).await;
                return Err(e);
            }
        }
        function_attrs(cx, &name).await
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let name = current.physical_id;
        let old = current.properties;
        let (was, now) = (config(old)?, config(props)?);
        if was != now {
            let mut req = now.clone();
            // A property removed from the template goes back to Lambda's default.
            for (key, default) in [
                ("Description", json!("")),
                ("Timeout", json!(3)),
                ("MemorySize", json!(128)),
                ("Environment", json!({"Variables": {}})),
                ("Layers", json!([])),
            ] {
                if was.contains_key(key) && !now.contains_key(key) {
                    req.insert(key.into(), default);
                }
            }
            rest(
                cx,
                Method::PUT,
                &format!("{}/configuration", function_path(name)),
                Some(Value::Object(req)),
            )
            .await?;
            stabilize(cx, name).await?;
        }
        if old.get("Code") != props.get("Code")
            || old.get("Architectures") != props.get("Architectures")
        {
            let mut req = code_of(props)?;
            if let Some(a) = props.get("Architectures") {
                req.insert("Architectures".into(), a.clone());
            }
            rest(
                cx,
                Method::PUT,
                &format!("{}/code", function_path(name)),
                Some(Value::Object(req)),
            )
            .await?;
        }
        if old.get("ReservedConcurrentExecutions") != props.get("ReservedConcurrentExecutions") {
            set_concurrency(cx, name, int(props, "ReservedConcurrentExecutions")?).await?;
        }
        if old.get("Tags") != props.get("Tags") {
            let arn = current
                .attributes
                .get("Arn")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let path = format!("/2017-03-31/tags/{}", segment(arn));
            let t = tag_update(old, props).unwrap_or(TagUpdate {
                removed: Vec::new(),
                set: Vec::new(),
            });
            if !t.removed.is_empty() {
                let keys: Vec<String> = t
                    .removed
                    .iter()
                    .map(|k| format!("tagKeys={}", segment(k)))
                    .collect();
                rest(
                    cx,
                    Method::DELETE,
                    &format!("{path}?{}", keys.join("&")),
                    None,
                )
                .await?;
            }
            if !t.set.is_empty() {
                rest(
                    cx,
                    Method::POST,
                    &path,
                    Some(json!({"Tags": tag_object(&t.set)})),
                )
                .await?;
            }
        }
        function_attrs(cx, name).await
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        ignore_gone(
            rest(
                cx,
                Method::DELETE,
                &function_path(current.physical_id),
                None,
            )
            .await,
        )
    }
}

fn ignore_gone(r: Result<Value, ApiError>) -> HandlerResult<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if gone(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub struct Version;

#[async_trait::async_trait]
impl Handler for Version {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "ProvisionedConcurrencyConfig" | "RuntimePolicy" => Replacement::Never,
            _ => Replacement::Always,
        }
    }

    async fn create(&self, cx: &Cx<'_>, _: &str, props: &Value) -> HandlerResult<Created> {
        let function = required(props, "FunctionName")?;
        let mut req = Map::new();
        for key in ["Description", "CodeSha256"] {
            if let Some(v) = string(props, key) {
                req.insert(key.into(), v.into());
            }
        }
        let v = rest(
            cx,
            Method::POST,
            &format!("{}/versions", function_path(&function)),
            Some(Value::Object(req)),
        )
        .await?;
        let arn = v
            .get("FunctionArn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let number = v.get("Version").and_then(Value::as_str).unwrap_or_default();
        stabilize_version(cx, &function, Some(number)).await?;
        Ok(Created::new(arn)
            .with_ref(arn)
            .attr("Version", number)
            .attr("FunctionArn", arn))
    }

    async fn update(&self, _: &Cx<'_>, current: &Current<'_>, _: &Value) -> HandlerResult<Created> {
        let mut c = Created::new(current.physical_id).with_ref(current.physical_id);
        c.attributes = current.attributes.clone();
        Ok(c)
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        let (name, qualifier) = name_and_qualifier(current.physical_id);
        let path = match qualifier {
            Some(q) => format!("{FUNCTIONS}/{}?Qualifier={}", segment(&name), segment(&q)),
            None => return Ok(()),
        };
        ignore_gone(rest(cx, Method::DELETE, &path, None).await)
    }
}

pub struct Alias;

fn alias_body(props: &Value) -> Map<String, Value> {
    let mut req = Map::new();
    for key in ["FunctionVersion", "Description", "RoutingConfig"] {
        if let Some(v) = props.get(key) {
            req.insert(key.into(), v.clone());
        }
    }
    req
}

#[async_trait::async_trait]
impl Handler for Alias {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "FunctionName" | "Name" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    async fn create(&self, cx: &Cx<'_>, _: &str, props: &Value) -> HandlerResult<Created> {
        let function = required(props, "FunctionName")?;
        let mut req = alias_body(props);
        req.insert("Name".into(), required(props, "Name")?.into());
        let a = rest(
            cx,
            Method::POST,
            &format!("{}/aliases", function_path(&function)),
            Some(Value::Object(req)),
        )
        .await?;
        let arn = a
            .get("AliasArn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(Created::new(arn).with_ref(arn).attr("AliasArn", arn))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let function = required(props, "FunctionName")?;
        let name = required(props, "Name")?;
        let mut req = alias_body(props);
        if !req.contains_key("Description") {
            req.insert("Description".into(), "".into());
        }
        if !req.contains_key("RoutingConfig") {
            req.insert(
                "RoutingConfig".into(),
                json!({"AdditionalVersionWeights": {}}),
            );
        }
        rest(
            cx,
            Method::PUT,
            &format!("{}/aliases/{}", function_path(&function), segment(&name)),
            Some(Value::Object(req)),
        )
        .await?;
        Ok(Created::new(current.physical_id)
            .with_ref(current.physical_id)
            .attr("AliasArn", current.physical_id))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        let (function, alias) = name_and_qualifier(current.physical_id);
        let Some(alias) = alias else { return Ok(()) };
        ignore_gone(
            rest(
                cx,
                Method::DELETE,
                &format!(
                    "{FUNCTIONS}/{}/aliases/{}",
                    segment(&function),
                    segment(&alias)
                ),
                None,
            )
            .await,
        )
    }
}

pub struct EventSourceMapping;

/// What UpdateEventSourceMapping can change.
const MAPPING_UPDATABLE: &[&str] = &[
    "FunctionName",
    "Enabled",
    "BatchSize",
    "FilterCriteria",
    "MaximumBatchingWindowInSeconds",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
    "DocumentDBEventSourceConfig",
    "KMSKeyArn",
    "MetricsConfig",
    "ProvisionedPollerConfig",
];

const MAPPING_NUMBERS: &[(&str, char)] = &[
    ("BatchSize", 'i'),
    ("MaximumBatchingWindowInSeconds", 'i'),
    ("MaximumRecordAgeInSeconds", 'i'),
    ("MaximumRetryAttempts", 'i'),
    ("ParallelizationFactor", 'i'),
    ("TumblingWindowInSeconds", 'i'),
    ("Enabled", 'b'),
    ("BisectBatchOnFunctionError", 'b'),
];

fn mapping_attrs(m: &Value) -> Created {
    let id = m.get("UUID").and_then(Value::as_str).unwrap_or_default();
    let mut c = Created::new(id).with_ref(id).attr("Id", id);
    if let Some(arn) = m.get("EventSourceMappingArn").and_then(Value::as_str) {
        c = c.attr("EventSourceMappingArn", arn);
    }
    c
}

#[async_trait::async_trait]
impl Handler for EventSourceMapping {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "EventSourceArn"
            | "StartingPosition"
            | "StartingPositionTimestamp"
            | "Queues"
            | "Topics"
            | "SelfManagedEventSource"
            | "SourceAccessConfigurations"
            | "AmazonManagedKafkaEventSourceConfig"
            | "SelfManagedKafkaEventSourceConfig" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    async fn create(&self, cx: &Cx<'_>, _: &str, props: &Value) -> HandlerResult<Created> {
        let mut req = coerce(props, MAPPING_NUMBERS)?;
        req.remove("Tags");
        let tagged = tags(props, "Tags");
        if !tagged.is_empty() {
            req.insert("Tags".into(), tag_object(&tagged));
        }
        if let Some(t) = req.get("StartingPositionTimestamp").and_then(|v| match v {
            Value::String(s) => s.trim().parse::<f64>().ok(),
            other => other.as_f64(),
        }) {
            req.insert("StartingPositionTimestamp".into(), t.into());
        }
        let m = rest(
            cx,
            Method::POST,
            "/2015-03-31/event-source-mappings/",
            Some(Value::Object(req)),
        )
        .await?;
        Ok(mapping_attrs(&m))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let new = coerce(props, MAPPING_NUMBERS)?;
        let old = coerce(current.properties, MAPPING_NUMBERS)?;
        let mut req = Map::new();
        for key in MAPPING_UPDATABLE {
            match (old.get(*key), new.get(*key)) {
                (a, Some(b)) if a != Some(b) => {
                    req.insert((*key).to_owned(), b.clone());
                }
                // Removed from the template: back to the default.
                (Some(_), None) => {
                    let default = match *key {
                        "Enabled" => json!(true),
                        "BatchSize" => json!(100),
                        "MaximumBatchingWindowInSeconds" => json!(0),
                        "MaximumRecordAgeInSeconds" | "MaximumRetryAttempts" => json!(-1),
                        "BisectBatchOnFunctionError" => json!(false),
                        "ParallelizationFactor" => json!(1),
                        "TumblingWindowInSeconds" => json!(0),
                        "FunctionResponseTypes" => json!([]),
                        "FilterCriteria" => json!({"Filters": []}),
                        "DestinationConfig" => json!({"OnFailure": {}}),
                        _ => continue,
                    };
                    req.insert((*key).to_owned(), default);
                }
                _ => {}
            }
        }
        let path = format!(
            "/2015-03-31/event-source-mappings/{}",
            segment(current.physical_id)
        );
        let m = if req.is_empty() {
            rest(cx, Method::GET, &path, None).await?
        } else {
            rest(cx, Method::PUT, &path, Some(Value::Object(req))).await?
        };
        Ok(mapping_attrs(&m))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        ignore_gone(
            rest(
                cx,
                Method::DELETE,
                &format!(
                    "/2015-03-31/event-source-mappings/{}",
                    segment(current.physical_id)
                ),
                None,
            )
            .await,
        )
    }
}

pub struct Permission;

#[async_trait::async_trait]
impl Handler for Permission {
    fn replacement(&self, _: &str) -> Replacement {
        Replacement::Always
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let function = required(props, "FunctionName")?;
        let (name, qualifier) = name_and_qualifier(&function);
        let sid = cx.physical_name(logical_id, 100);
        let mut req = Map::new();
        req.insert("StatementId".into(), sid.clone().into());
        for key in [
            "Action",
            "Principal",
            "SourceArn",
            "SourceAccount",
            "EventSourceToken",
            "FunctionUrlAuthType",
            "PrincipalOrgID",
            "InvokedViaFunctionUrl",
        ] {
            if let Some(v) = props.get(key) {
                req.insert(key.into(), v.clone());
            }
        }
        let mut path = format!("{FUNCTIONS}/{}/policy", segment(&name));
        if let Some(q) = &qualifier {
            path.push_str(&format!("?Qualifier={}", segment(q)));
        }
        rest(cx, Method::POST, &path, Some(Value::Object(req))).await?;
        // The physical id names the function too, so the delete finds the statement.
        let physical = match qualifier {
            Some(q) => format!("{name}:{q}|{sid}"),
            None => format!("{name}|{sid}"),
        };
        Ok(Created::new(physical).with_ref(sid.clone()).attr("Id", sid))
    }

    async fn update(&self, _: &Cx<'_>, current: &Current<'_>, _: &Value) -> HandlerResult<Created> {
        let mut c = Created::new(current.physical_id);
        c.attributes = current.attributes.clone();
        c.ref_value = current.attributes.get("Id").cloned();
        Ok(c)
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        let Some((function, sid)) = current.physical_id.split_once('|') else {
            return Ok(());
        };
        let (name, qualifier) = name_and_qualifier(function);
        let mut path = format!("{FUNCTIONS}/{}/policy/{}", segment(&name), segment(sid));
        if let Some(q) = qualifier {
            path.push_str(&format!("?Qualifier={}", segment(&q)));
        }
        ignore_gone(rest(cx, Method::DELETE, &path, None).await)
    }
}

/// `AWS::Lambda::EventInvokeConfig` (what SAM's `EventInvokeConfig` makes).
pub struct EventInvokeConfig;

fn invoke_config_path(props: &Value) -> HandlerResult<String> {
    let function = required(props, "FunctionName")?;
    let qualifier = required(props, "Qualifier")?;
    Ok(format!(
        "/2019-09-25/functions/{}/event-invoke-config?Qualifier={}",
        segment(&name_and_qualifier(&function).0),
        segment(&qualifier)
    ))
}

fn invoke_config_body(props: &Value) -> HandlerResult<Value> {
    let mut req = coerce(
        props,
        &[
            ("MaximumRetryAttempts", 'i'),
            ("MaximumEventAgeInSeconds", 'i'),
        ],
    )?;
    req.remove("FunctionName");
    req.remove("Qualifier");
    Ok(Value::Object(req))
}

#[async_trait::async_trait]
impl Handler for EventInvokeConfig {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "FunctionName" | "Qualifier" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    async fn create(&self, cx: &Cx<'_>, _: &str, props: &Value) -> HandlerResult<Created> {
        let path = invoke_config_path(props)?;
        let out = rest(cx, Method::PUT, &path, Some(invoke_config_body(props)?)).await?;
        let id = out
            .get("FunctionArn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Created::new(id.clone()).with_ref(id))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let path = invoke_config_path(props)?;
        rest(cx, Method::PUT, &path, Some(invoke_config_body(props)?)).await?;
        Ok(Created::new(current.physical_id).with_ref(current.physical_id))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        ignore_gone(
            rest(
                cx,
                Method::DELETE,
                &invoke_config_path(current.properties)?,
                None,
            )
            .await,
        )
    }
}

/// `AWS::Lambda::LayerVersion` (what SAM's `LayerVersion` makes): immutable, so every change
/// publishes a new version.
pub struct LayerVersion;

#[async_trait::async_trait]
impl Handler for LayerVersion {
    fn replacement(&self, _: &str) -> Replacement {
        Replacement::Always
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let name = string(props, "LayerName").unwrap_or_else(|| cx.physical_name(logical_id, 64));
        let content = props
            .get("Content")
            .ok_or_else(|| Failure::property("#: required key [Content] not found"))?;
        // Packed as function code is (a folder, or an S3 object), never as inline source.
        let mut packed = code_of(&json!({ "Code": content, "Runtime": "provided" }))?;
        let mut req = Map::new();
        req.insert("Content".into(), Value::Object(std::mem::take(&mut packed)));
        for key in [
            "Description",
            "CompatibleRuntimes",
            "CompatibleArchitectures",
            "LicenseInfo",
        ] {
            if let Some(v) = props.get(key) {
                req.insert(key.into(), v.clone());
            }
        }
        let v = rest(
            cx,
            Method::POST,
            &format!("/2018-10-31/layers/{}/versions", segment(&name)),
            Some(Value::Object(req)),
        )
        .await?;
        let arn = v
            .get("LayerVersionArn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(Created::new(arn).with_ref(arn).attr("LayerVersionArn", arn))
    }

    async fn update(&self, _: &Cx<'_>, current: &Current<'_>, _: &Value) -> HandlerResult<Created> {
        let mut c = Created::new(current.physical_id).with_ref(current.physical_id);
        c.attributes = current.attributes.clone();
        Ok(c)
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        let Some(rest_of) = current.physical_id.split(":layer:").nth(1) else {
            return Ok(());
        };
        let Some((name, n)) = rest_of.rsplit_once(':') else {
            return Ok(());
        };
        ignore_gone(
            rest(
                cx,
                Method::DELETE,
                &format!(
                    "/2018-10-31/layers/{}/versions/{}",
                    segment(name),
                    segment(n)
                ),
                None,
            )
            .await,
        )
    }
}

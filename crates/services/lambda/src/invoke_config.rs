//! Event invoke configs (`/2019-09-25/functions/{name}/event-invoke-config`): per function
//! version or alias, how many times an asynchronous event is retried after a function error
//! (`MaximumRetryAttempts`, 0–2), how old it may get (`MaximumEventAgeInSeconds`, 60–21600),
//! and where its outcome goes (`DestinationConfig.OnSuccess` / `OnFailure`: an SQS queue, an
//! SNS topic or another function), as an invocation record in AWS's shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tributary_model::AwsError;
use tributary_service::json::{lambda_err, Req};

use crate::{function_arn, is_version_number, AliasDoc, FunctionDoc, Lambda};

/// The store's document kind; ids are `<function>:<qualifier>`.
pub const KIND: &str = "function-event-invoke-config";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InvokeConfig {
    #[serde(default)]
    pub maximum_retry_attempts: Option<i64>,
    #[serde(default)]
    pub maximum_event_age_secs: Option<i64>,
    #[serde(default)]
    pub on_success: Option<String>,
    #[serde(default)]
    pub on_failure: Option<String>,
    #[serde(default)]
    pub last_modified_ms: i64,
}

fn id(function: &str, qualifier: &str) -> String {
    format!("{function}:{qualifier}")
}

/// The config that applies to an asynchronous invocation of `function` through `qualifier`
/// (`$LATEST`, a version number or an alias name).
pub fn load(app: &Lambda, function: &str, qualifier: &str) -> Option<InvokeConfig> {
    app.store
        .catalog()
        .doc(KIND, &id(function, qualifier))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The qualifier a request names, checked to exist.
fn qualifier(
    app: &Lambda,
    name: &str,
    query: &BTreeMap<String, String>,
) -> Result<(FunctionDoc, String), AwsError> {
    let function = crate::resolve_function(app, name)?;
    let from_name = crate::parse_function_ref(name).and_then(|r| r.qualifier);
    let q = query
        .get("Qualifier")
        .cloned()
        .or(from_name)
        .unwrap_or_else(|| "$LATEST".into());
    let exists = q == "$LATEST"
        || (is_version_number(&q) && FunctionDoc::load_version(app, &function.name, &q).is_some())
        || (!is_version_number(&q) && AliasDoc::load(app, &function.name, &q).is_some());
    if !exists {
        return Err(lambda_err::not_found(format!(
            "Function not found: {}:{q}",
            function_arn(&app.cfg.region, &app.cfg.account_id, &function.name)
        )));
    }
    Ok((function, q))
}

fn check_destination(arn: &str) -> Result<(), AwsError> {
    let service = arn.split(':').nth(2).unwrap_or_default();
    if !arn.starts_with("arn:aws:") {
        return Err(lambda_err::invalid_parameter(format!(
            "The destination ARN {arn} is invalid."
        )));
    }
    match service {
        "sqs" | "sns" | "lambda" => Ok(()),
        "events" | "s3" => Err(lambda_err::invalid_parameter(format!(
            "The destination ARN {arn} is not supported by this server: use an SQS queue, an SNS topic or a function"
        ))),
        _ => Err(lambda_err::invalid_parameter(format!(
            "The destination ARN {arn} is invalid."
        ))),
    }
}

/// Applies the members of a Put (`replace`) or Update request to `cfg`.
fn apply(cfg: &mut InvokeConfig, req: &Req<'_>, replace: bool) -> Result<(), AwsError> {
    if replace {
        *cfg = InvokeConfig::default();
    }
    if let Some(n) = req.int_opt("MaximumRetryAttempts")? {
        tributary_service::json::check_range(n, 0, 2, "maximumRetryAttempts")?;
        cfg.maximum_retry_attempts = Some(n);
    }
    if let Some(n) = req.int_opt("MaximumEventAgeInSeconds")? {
        tributary_service::json::check_range(n, 60, 21600, "maximumEventAgeInSeconds")?;
        cfg.maximum_event_age_secs = Some(n);
    }
    if let Some(d) = req.obj_opt("DestinationConfig")? {
        let d = Req(d);
        for (key, slot) in [
            ("OnSuccess", &mut cfg.on_success),
            ("OnFailure", &mut cfg.on_failure),
        ] {
            if let Some(o) = d.obj_opt(key)? {
                let dest = Req(o).str_opt("Destination")?.unwrap_or_default();
                if dest.is_empty() {
                    *slot = None;
                } else {
                    check_destination(dest)?;
                    *slot = Some(dest.to_owned());
                }
            }
        }
    }
    Ok(())
}

fn render(app: &Lambda, function: &str, qualifier: &str, cfg: &InvokeConfig) -> Value {
    let dest = |d: &Option<String>| match d {
        Some(a) => json!({ "Destination": a }),
        None => json!({}),
    };
    let mut v = json!({
        "FunctionArn": format!("{}:{qualifier}", function_arn(&app.cfg.region, &app.cfg.account_id, function)),
        "LastModified": cfg.last_modified_ms as f64 / 1000.0,
        "DestinationConfig": {"OnSuccess": dest(&cfg.on_success), "OnFailure": dest(&cfg.on_failure)},
    });
    if let Some(n) = cfg.maximum_retry_attempts {
        v["MaximumRetryAttempts"] = json!(n);
    }
    if let Some(n) = cfg.maximum_event_age_secs {
        v["MaximumEventAgeInSeconds"] = json!(n);
    }
    v
}

fn missing(app: &Lambda, function: &str, qualifier: &str) -> AwsError {
    lambda_err::not_found(format!(
        "The function {}:{qualifier} doesn't have an EventInvokeConfig",
        function_arn(&app.cfg.region, &app.cfg.account_id, function)
    ))
}

/// PutFunctionEventInvokeConfig (`replace`) and UpdateFunctionEventInvokeConfig.
pub async fn put(
    app: &Lambda,
    name: &str,
    query: &BTreeMap<String, String>,
    req: Req<'_>,
    replace: bool,
) -> Result<Value, AwsError> {
    let (function, q) = qualifier(app, name, query)?;
    let key = id(&function.name, &q);
    let mut cfg = match load(app, &function.name, &q) {
        Some(c) => c,
        None if replace => InvokeConfig::default(),
        None => return Err(missing(app, &function.name, &q)),
    };
    apply(&mut cfg, &req, replace)?;
    // The execution role must be allowed to send to the destinations, as Lambda checks.
    for dest in [&cfg.on_success, &cfg.on_failure].into_iter().flatten() {
        crate::roles::check_destination(app, &function.role, dest)?;
    }
    cfg.last_modified_ms = app.store.clock().now_millis();
    let doc = serde_json::to_value(&cfg).unwrap_or_default();
    app.store
        .write(move |tx| tx.put_doc(KIND, &key, doc.clone()))
        .await?;
    Ok(render(app, &function.name, &q, &cfg))
}

pub fn get(app: &Lambda, name: &str, query: &BTreeMap<String, String>) -> Result<Value, AwsError> {
    let (function, q) = qualifier(app, name, query)?;
    let cfg = load(app, &function.name, &q).ok_or_else(|| missing(app, &function.name, &q))?;
    Ok(render(app, &function.name, &q, &cfg))
}

pub async fn delete(
    app: &Lambda,
    name: &str,
    query: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let (function, q) = qualifier(app, name, query)?;
    if load(app, &function.name, &q).is_none() {
        return Err(missing(app, &function.name, &q));
    }
    let key = id(&function.name, &q);
    app.store.write(move |tx| tx.delete_doc(KIND, &key)).await?;
    Ok(())
}

pub fn list(app: &Lambda, name: &str, query: &BTreeMap<String, String>) -> Result<Value, AwsError> {
    let function = crate::resolve_function(app, name)?;
    let prefix = format!("{}:", function.name);
    let cat = app.store.catalog();
    let mut all: Vec<Value> = cat
        .docs_of(KIND)
        .filter_map(|(id, v)| {
            let q = id.strip_prefix(&prefix)?;
            let cfg: InvokeConfig = serde_json::from_value(v.clone()).ok()?;
            Some(render(app, &function.name, q, &cfg))
        })
        .collect();
    all.sort_by(|a, b| a["FunctionArn"].as_str().cmp(&b["FunctionArn"].as_str()));
    let start: usize = query
        .get("Marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let max: usize = query
        .get("MaxItems")
        .and_then(|m| m.parse().ok())
        .filter(|m| (1..=50).contains(m))
        .unwrap_or(50);
    let page: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
    let mut out = json!({ "FunctionEventInvokeConfigs": page });
    if start + max < all.len() {
        out["NextMarker"] = json!((start + max).to_string());
    }
    Ok(out)
}

/// Deletes a function's configs with the function (or one qualifier's with its alias).
pub fn delete_all(tx: &mut tributary_store::Tx<'_>, function: &str) -> Result<(), AwsError> {
    let prefix = format!("{function}:");
    let ids: Vec<String> = tx
        .catalog()
        .docs_of(KIND)
        .filter(|(id, _)| id.starts_with(&prefix))
        .map(|(id, _)| id.to_owned())
        .collect();
    for id in ids {
        tx.delete_doc(KIND, &id)?;
    }
    Ok(())
}

/// The invocation record Lambda sends to a destination.
pub struct Record<'a> {
    pub now_ms: i64,
    pub request_id: &'a str,
    pub function_arn: &'a str,
    /// `Success`, `RetriesExhausted` or `EventAgeExceeded`.
    pub condition: &'a str,
    pub attempts: usize,
    pub request: &'a [u8],
    pub executed_version: &'a str,
    pub function_error: Option<&'a str>,
    pub response: &'a [u8],
}

impl Record<'_> {
    pub fn to_json(&self) -> Value {
        let parse = |b: &[u8]| {
            serde_json::from_slice::<Value>(b).unwrap_or_else(|_| json!(String::from_utf8_lossy(b)))
        };
        let mut response_context =
            json!({"statusCode": 200, "executedVersion": self.executed_version});
        if let Some(e) = self.function_error {
            response_context["functionError"] = json!(e);
        }
        let mut v = json!({
            "version": "1.0",
            "timestamp": tributary_model::clock::iso_millis(self.now_ms),
            "requestContext": {
                "requestId": self.request_id,
                "functionArn": self.function_arn,
                "condition": self.condition,
                "approximateInvokeCount": self.attempts,
            },
            "requestPayload": parse(self.request),
            "responseContext": response_context,
        });
        if !self.response.is_empty() {
            v["responsePayload"] = parse(self.response);
        }
        v
    }
}

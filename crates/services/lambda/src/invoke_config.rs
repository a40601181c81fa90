//! Event invoke configs (`/2019-09-25/functions/{name}/event-invoke-config`): per function
//! version or alias, how many times an asynchronous event is retried after a function error
//! (`MaximumRetryAttempts`, 0–2), how old it may get (`MaximumEventAgeInSeconds`, 60–21600),
//! and where its outcome goes (`DestinationConfig.OnSuccess` / `OnFailure`: an SQS queue, an
//! SNS topic or another function), as an invocation record in AWS's shape.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tributary_model::AwsError;
use tributary_service::json::lambda_err;
use tributary_shapes::types::Timestamp;

use crate::types::{
    DeleteFunctionEventInvokeConfigRequest, DestinationConfig, FunctionEventInvokeConfig,
    GetFunctionEventInvokeConfigRequest, ListFunctionEventInvokeConfigsRequest,
    ListFunctionEventInvokeConfigsResponse, OnFailure, OnSuccess,
};
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

/// The qualifier a request names (its `Qualifier`, else the one in the function name), checked
/// to exist.
fn qualifier(
    app: &Lambda,
    name: &str,
    qualifier: Option<String>,
) -> Result<(FunctionDoc, String), AwsError> {
    let function = crate::resolve_function(app, name)?;
    let from_name = crate::parse_function_ref(name).and_then(|r| r.qualifier);
    let q = qualifier.or(from_name).unwrap_or_else(|| "$LATEST".into());
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

/// The members of a Put or Update request.
pub(crate) struct Change {
    pub function_name: String,
    pub qualifier: Option<String>,
    pub maximum_retry_attempts: Option<i32>,
    pub maximum_event_age_in_seconds: Option<i32>,
    pub destination_config: Option<DestinationConfig>,
}

macro_rules! change_from {
    ($t:ty) => {
        impl From<$t> for Change {
            fn from(r: $t) -> Change {
                Change {
                    function_name: r.function_name,
                    qualifier: r.qualifier,
                    maximum_retry_attempts: r.maximum_retry_attempts,
                    maximum_event_age_in_seconds: r.maximum_event_age_in_seconds,
                    destination_config: r.destination_config,
                }
            }
        }
    };
}
change_from!(crate::types::PutFunctionEventInvokeConfigRequest);
change_from!(crate::types::UpdateFunctionEventInvokeConfigRequest);

/// Applies the members of a Put (`replace`) or Update request to `cfg`.
fn apply(cfg: &mut InvokeConfig, req: &Change, replace: bool) -> Result<(), AwsError> {
    if replace {
        *cfg = InvokeConfig::default();
    }
    if let Some(n) = req.maximum_retry_attempts.map(i64::from) {
        tributary_service::json::check_range(n, 0, 2, "maximumRetryAttempts")?;
        cfg.maximum_retry_attempts = Some(n);
    }
    if let Some(n) = req.maximum_event_age_in_seconds.map(i64::from) {
        tributary_service::json::check_range(n, 60, 21600, "maximumEventAgeInSeconds")?;
        cfg.maximum_event_age_secs = Some(n);
    }
    if let Some(d) = &req.destination_config {
        for (given, slot) in [
            (
                d.on_success.as_ref().map(|o| &o.destination),
                &mut cfg.on_success,
            ),
            (
                d.on_failure.as_ref().map(|o| &o.destination),
                &mut cfg.on_failure,
            ),
        ] {
            if let Some(dest) = given {
                let dest = dest.as_deref().unwrap_or_default();
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

fn render(
    app: &Lambda,
    function: &str,
    qualifier: &str,
    cfg: &InvokeConfig,
) -> FunctionEventInvokeConfig {
    FunctionEventInvokeConfig {
        last_modified: Some(Timestamp::from_millis(cfg.last_modified_ms)),
        function_arn: Some(format!(
            "{}:{qualifier}",
            function_arn(&app.cfg.region, &app.cfg.account_id, function)
        )),
        maximum_retry_attempts: cfg.maximum_retry_attempts.map(to_i32),
        maximum_event_age_in_seconds: cfg.maximum_event_age_secs.map(to_i32),
        // Both destinations are always shown, `{}` when unset.
        destination_config: Some(DestinationConfig {
            on_success: Some(OnSuccess {
                destination: cfg.on_success.clone(),
            }),
            on_failure: Some(OnFailure {
                destination: cfg.on_failure.clone(),
            }),
        }),
    }
}

/// A stored count (checked against its range when it was stored) as the model's integer.
fn to_i32(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn missing(app: &Lambda, function: &str, qualifier: &str) -> AwsError {
    lambda_err::not_found(format!(
        "The function {}:{qualifier} doesn't have an EventInvokeConfig",
        function_arn(&app.cfg.region, &app.cfg.account_id, function)
    ))
}

/// PutFunctionEventInvokeConfig (`replace`) and UpdateFunctionEventInvokeConfig.
pub(crate) async fn put(
    app: &Lambda,
    req: Change,
    replace: bool,
) -> Result<FunctionEventInvokeConfig, AwsError> {
    let (function, q) = qualifier(app, &req.function_name, req.qualifier.clone())?;
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

pub fn get(
    app: &Lambda,
    req: GetFunctionEventInvokeConfigRequest,
) -> Result<FunctionEventInvokeConfig, AwsError> {
    let (function, q) = qualifier(app, &req.function_name, req.qualifier)?;
    let cfg = load(app, &function.name, &q).ok_or_else(|| missing(app, &function.name, &q))?;
    Ok(render(app, &function.name, &q, &cfg))
}

pub async fn delete(
    app: &Lambda,
    req: DeleteFunctionEventInvokeConfigRequest,
) -> Result<(), AwsError> {
    let (function, q) = qualifier(app, &req.function_name, req.qualifier)?;
    if load(app, &function.name, &q).is_none() {
        return Err(missing(app, &function.name, &q));
    }
    let key = id(&function.name, &q);
    app.store.write(move |tx| tx.delete_doc(KIND, &key)).await?;
    Ok(())
}

pub fn list(
    app: &Lambda,
    req: ListFunctionEventInvokeConfigsRequest,
) -> Result<ListFunctionEventInvokeConfigsResponse, AwsError> {
    let function = crate::resolve_function(app, &req.function_name)?;
    let prefix = format!("{}:", function.name);
    let cat = app.store.catalog();
    let mut all: Vec<FunctionEventInvokeConfig> = cat
        .docs_of(KIND)
        .filter_map(|(id, v)| {
            let q = id.strip_prefix(&prefix)?;
            let cfg: InvokeConfig = serde_json::from_value(v.clone()).ok()?;
            Some(render(app, &function.name, q, &cfg))
        })
        .collect();
    drop(cat);
    all.sort_by(|a, b| a.function_arn.cmp(&b.function_arn));
    let start: usize = req
        .marker
        .as_deref()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    // A `MaxItems` out of 1..=50, or not a number (left out of the request), is the default.
    let max: usize = req
        .max_items
        .and_then(|m| usize::try_from(m).ok())
        .filter(|m| (1..=50).contains(m))
        .unwrap_or(50);
    let total = all.len();
    let page: Vec<FunctionEventInvokeConfig> = all.into_iter().skip(start).take(max).collect();
    Ok(ListFunctionEventInvokeConfigsResponse {
        function_event_invoke_configs: Some(page),
        next_marker: (start + max < total).then(|| (start + max).to_string()),
    })
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

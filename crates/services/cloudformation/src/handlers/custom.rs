//! Custom resources (`AWS::CloudFormation::CustomResource`, `Custom::*`) backed by a Lambda
//! function: CloudFormation invokes the `ServiceToken` function asynchronously with a
//! `Create`, `Update` or `Delete` request and waits for the function to PUT its outcome to the
//! request's `ResponseURL`, here an unsigned endpoint of this server
//! (`/_tributary/cloudformation/custom-resource/<token>`, what a presigned S3 URL is on AWS).
//!
//! As on AWS, every property reaches the function as a string, a response whose
//! `PhysicalResourceId` differs on update is a replacement (the old one gets its `Delete` in
//! the cleanup), and `Data` is what `Fn::GetAtt` reads.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use http::Method;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use tributary_cfn::Replacement;

use super::*;

/// How long CloudFormation waits for a response by default (`ServiceTimeout`, at most 3600 s).
const DEFAULT_TIMEOUT_SECS: u64 = 3600;

/// The requests waiting for their function's response, by the token in their URL.
#[derive(Default)]
pub struct Responses {
    waiting: Mutex<HashMap<String, oneshot::Sender<Value>>>,
}

impl Responses {
    fn wait(&self) -> (String, oneshot::Receiver<Value>) {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let (tx, rx) = oneshot::channel();
        self.lock().insert(token.clone(), tx);
        (token, rx)
    }

    fn forget(&self, token: &str) {
        self.lock().remove(token);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Value>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A function's response arrived; `false` when no request waits for the token (as S3
    /// answers a PUT to an expired presigned URL, the caller answers 403).
    pub fn deliver(&self, token: &str, body: &[u8]) -> Result<(), &'static str> {
        let Some(tx) = self.lock().remove(token) else {
            return Err("no custom resource request waits for this response");
        };
        let v: Value = serde_json::from_slice(body).map_err(|_| "the response is not JSON")?;
        let _ = tx.send(v);
        Ok(())
    }
}

/// Properties as the function receives them: scalars as strings, as CloudFormation sends them.
fn stringified(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Array(a) => Value::Array(a.iter().map(stringified).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), stringified(v))).collect())
        }
        other => other.clone(),
    }
}

pub struct Custom;

struct Request<'a> {
    kind: &'static str,
    logical_id: &'a str,
    resource_type: &'a str,
    physical_id: Option<&'a str>,
    props: &'a Value,
    old_props: Option<&'a Value>,
}

/// Sends one request and waits for the response; answers it when it says `SUCCESS`.
async fn request(cx: &Cx<'_>, r: Request<'_>) -> HandlerResult<Value> {
    let token = required(r.props, "ServiceToken")?;
    if !token.contains(":lambda:") {
        return Err(Failure(format!(
            "Custom resources backed by {token} are not supported by this server: the ServiceToken must be a Lambda function ARN"
        )));
    }
    let timeout = match super::int(r.props, "ServiceTimeout")? {
        Some(t) if (1..=3600).contains(&t) => t as u64,
        Some(t) => {
            return Err(Failure::property(format!(
                "#/ServiceTimeout: {t} is not in 1..3600"
            )))
        }
        None => DEFAULT_TIMEOUT_SECS,
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let (key, response) = cx.responses.wait();
    let mut event = json!({
        "RequestType": r.kind,
        "ServiceToken": token,
        "ResponseURL": format!("{}/_tributary/cloudformation/custom-resource/{key}", cx.endpoint.trim_end_matches('/')),
        "StackId": cx.stack_id,
        "RequestId": request_id,
        "LogicalResourceId": r.logical_id,
        "ResourceType": r.resource_type,
        "ResourceProperties": stringified(r.props),
    });
    if let Some(id) = r.physical_id {
        event["PhysicalResourceId"] = json!(id);
    }
    if let Some(old) = r.old_props {
        event["OldResourceProperties"] = stringified(old);
    }
    let (function, qualifier) = {
        let rest = token
            .split_once(":function:")
            .map_or(token.as_str(), |(_, r)| r);
        match rest.split_once(':') {
            Some((f, q)) => (f.to_owned(), Some(q.to_owned())),
            None => (rest.to_owned(), None),
        }
    };
    let mut path = format!("/2015-03-31/functions/{}/invocations", segment(&function));
    if let Some(q) = qualifier {
        path.push_str(&format!("?Qualifier={}", segment(&q)));
    }
    let invoked = cx
        .calls
        .rest_json_with(
            "lambda",
            Method::POST,
            &path,
            &[("x-amz-invocation-type", "Event".to_owned())],
            Some(event),
        )
        .await;
    if let Err(e) = invoked {
        cx.responses.forget(&key);
        return Err(e.into());
    }
    let answer = match tokio::time::timeout(Duration::from_secs(timeout), response).await {
        Ok(Ok(v)) => v,
        _ => {
            cx.responses.forget(&key);
            return Err(Failure(format!(
                "CloudFormation did not receive a response from your Custom Resource. Please check your logs for requestId [{request_id}]. If you are using the Python cfn-response module, you may need to update your Lambda function code so that CloudFormation can attach the updated version."
            )));
        }
    };
    match answer.get("Status").and_then(Value::as_str) {
        Some("SUCCESS") => Ok(answer),
        Some("FAILED") => Err(Failure(format!(
            "Received response status [FAILED] from custom resource. Message returned: {} (RequestId: {request_id})",
            answer.get("Reason").and_then(Value::as_str).unwrap_or("")
        ))),
        _ => Err(Failure(format!(
            "Invalid response object: The response Status must be SUCCESS or FAILED (RequestId: {request_id})"
        ))),
    }
}

fn created(answer: &Value, fallback: &str) -> Created {
    let id = answer
        .get("PhysicalResourceId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(fallback);
    let mut c = Created::new(id).with_ref(id);
    if let Some(Value::Object(data)) = answer.get("Data") {
        c.attributes = data.clone();
    } else {
        c.attributes = Map::new();
    }
    c
}

#[async_trait::async_trait]
impl Handler for Custom {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "ServiceToken" => Replacement::Always,
            // The function decides, by answering a new physical id.
            _ => Replacement::Conditional,
        }
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let answer = request(
            cx,
            Request {
                kind: "Create",
                logical_id,
                resource_type: cx.resource_type,
                physical_id: None,
                props,
                old_props: None,
            },
        )
        .await?;
        Ok(created(&answer, &cx.physical_name(logical_id, 128)))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let answer = request(
            cx,
            Request {
                kind: "Update",
                logical_id: current.logical_id,
                resource_type: cx.resource_type,
                physical_id: Some(current.physical_id),
                props,
                old_props: Some(current.properties),
            },
        )
        .await?;
        Ok(created(&answer, current.physical_id))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        request(
            cx,
            Request {
                kind: "Delete",
                logical_id: current.logical_id,
                resource_type: cx.resource_type,
                physical_id: Some(current.physical_id),
                props: current.properties,
                old_props: None,
            },
        )
        .await?;
        Ok(())
    }
}

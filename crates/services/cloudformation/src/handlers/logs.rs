//! `AWS::Logs::LogGroup`, over CloudWatch Logs' JSON 1.1 API.

use serde_json::{json, Value};
use tributary_cfn::Replacement;

use super::*;

async fn logs(cx: &Cx<'_>, op: &str, body: Value) -> Result<Value, ApiError> {
    cx.calls
        .json("logs", "1.1", &format!("Logs_20140328.{op}"), body)
        .await
}

pub struct LogGroup;

fn attrs(cx: &Cx<'_>, name: &str) -> Created {
    Created::new(name).with_ref(name).attr(
        "Arn",
        format!(
            "arn:aws:logs:{}:{}:log-group:{name}:*",
            cx.region, cx.account_id
        ),
    )
}

#[async_trait::async_trait]
impl Handler for LogGroup {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "LogGroupName" | "LogGroupClass" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    fn name_property(&self) -> Option<&'static str> {
        Some("LogGroupName")
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let name =
            string(props, "LogGroupName").unwrap_or_else(|| cx.physical_name(logical_id, 512));
        let mut req = json!({"logGroupName": name});
        let all_tags = cx.resource_tags(props);
        if !all_tags.is_empty() {
            req["tags"] = tag_object(&all_tags);
        }
        for (key, field) in [("KmsKeyId", "kmsKeyId"), ("LogGroupClass", "logGroupClass")] {
            if let Some(v) = string(props, key) {
                req[field] = v.into();
            }
        }
        logs(cx, "CreateLogGroup", req).await?;
        if let Some(days) = int(props, "RetentionInDays")? {
            if let Err(e) = logs(
                cx,
                "PutRetentionPolicy",
                json!({"logGroupName": name, "retentionInDays": days}),
            )
            .await
            {
                let _ = logs(cx, "DeleteLogGroup", json!({"logGroupName": name})).await;
                return Err(e.into());
            }
        }
        Ok(attrs(cx, &name))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let name = current.physical_id;
        let old = current.properties;
        if old.get("RetentionInDays") != props.get("RetentionInDays") {
            match int(props, "RetentionInDays")? {
                Some(days) => {
                    logs(
                        cx,
                        "PutRetentionPolicy",
                        json!({"logGroupName": name, "retentionInDays": days}),
                    )
                    .await?
                }
                None => logs(cx, "DeleteRetentionPolicy", json!({"logGroupName": name})).await?,
            };
        }
        if let Some(t) = tag_update(old, props) {
            if !t.removed.is_empty() {
                let body = json!({"logGroupName": name, "tags": t.removed});
                logs(cx, "UntagLogGroup", body).await?;
            }
            if !t.set.is_empty() {
                let body = json!({"logGroupName": name, "tags": tag_object(&t.set)});
                logs(cx, "TagLogGroup", body).await?;
            }
        }
        Ok(attrs(cx, name))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        match logs(
            cx,
            "DeleteLogGroup",
            json!({"logGroupName": current.physical_id}),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

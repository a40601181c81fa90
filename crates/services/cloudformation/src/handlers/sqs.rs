//! `AWS::SQS::Queue` and `AWS::SQS::QueuePolicy`, over SQS's JSON protocol.

use serde_json::{json, Map, Value};
use tributary_cfn::Replacement;

use super::*;

async fn sqs(cx: &Cx<'_>, op: &str, body: Value) -> Result<Value, ApiError> {
    cx.calls
        .json("sqs", "1.0", &format!("AmazonSQS.{op}"), body)
        .await
}

/// The queue attributes a template may set, with SQS's defaults (for a property removed
/// by an update).
const ATTRIBUTES: &[(&str, &str)] = &[
    ("DelaySeconds", "0"),
    ("MaximumMessageSize", "262144"),
    ("MessageRetentionPeriod", "345600"),
    ("ReceiveMessageWaitTimeSeconds", "0"),
    ("VisibilityTimeout", "30"),
    ("RedrivePolicy", ""),
    ("RedriveAllowPolicy", ""),
    ("KmsMasterKeyId", ""),
    ("KmsDataKeyReusePeriodSeconds", "300"),
    ("SqsManagedSseEnabled", "true"),
    ("ContentBasedDeduplication", "false"),
    ("DeduplicationScope", "queue"),
    ("FifoThroughputLimit", "perQueue"),
];

fn attributes(props: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, _) in ATTRIBUTES {
        let Some(v) = props.get(*key) else { continue };
        let text = match v {
            Value::Object(_) | Value::Array(_) => v.to_string(),
            _ => string(props, key).unwrap_or_default(),
        };
        out.insert((*key).to_owned(), text.into());
    }
    out
}

fn queue_attrs(url: &str, arn: &str) -> Created {
    let name = url.rsplit('/').next().unwrap_or_default();
    Created::new(url)
        .with_ref(url)
        .attr("Arn", arn)
        .attr("QueueName", name)
        .attr("QueueUrl", url)
}

pub struct Queue;

#[async_trait::async_trait]
impl Handler for Queue {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "QueueName" | "FifoQueue" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    fn name_property(&self) -> Option<&'static str> {
        Some("QueueName")
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let fifo = boolean(props, "FifoQueue")?.unwrap_or(false);
        let name = match string(props, "QueueName") {
            Some(n) => n,
            None if fifo => format!("{}.fifo", cx.physical_name(logical_id, 75)),
            None => cx.physical_name(logical_id, 80),
        };
        let mut attrs = attributes(props);
        if fifo {
            attrs.insert("FifoQueue".into(), "true".into());
        }
        let all_tags = cx.resource_tags(props);
        let mut req = json!({"QueueName": name, "Attributes": attrs});
        if !all_tags.is_empty() {
            req["tags"] = tag_object(&all_tags);
        }
        let r = sqs(cx, "CreateQueue", req).await?;
        let url = r
            .get("QueueUrl")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let a = sqs(
            cx,
            "GetQueueAttributes",
            json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
        )
        .await?;
        let arn = a["Attributes"]["QueueArn"].as_str().unwrap_or_default();
        Ok(queue_attrs(&url, arn))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let url = current.physical_id;
        let (was, now) = (attributes(current.properties), attributes(props));
        let mut set = Map::new();
        for (key, default) in ATTRIBUTES {
            match (was.get(*key), now.get(*key)) {
                (a, Some(b)) if a != Some(b) => {
                    set.insert((*key).to_owned(), b.clone());
                }
                (Some(_), None) => {
                    set.insert((*key).to_owned(), (*default).into());
                }
                _ => {}
            }
        }
        if !set.is_empty() {
            sqs(
                cx,
                "SetQueueAttributes",
                json!({"QueueUrl": url, "Attributes": set}),
            )
            .await?;
        }
        if let Some(t) = tag_update(current.properties, props) {
            if !t.removed.is_empty() {
                let body = json!({"QueueUrl": url, "TagKeys": t.removed});
                sqs(cx, "UntagQueue", body).await?;
            }
            if !t.set.is_empty() {
                let body = json!({"QueueUrl": url, "Tags": tag_object(&t.set)});
                sqs(cx, "TagQueue", body).await?;
            }
        }
        let arn = current
            .attributes
            .get("Arn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(queue_attrs(url, arn))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        match sqs(cx, "DeleteQueue", json!({"QueueUrl": current.physical_id})).await {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

pub struct QueuePolicy;

fn queues(props: &Value) -> Vec<String> {
    props
        .get("Queues")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn set_policy(cx: &Cx<'_>, url: &str, policy: &str) -> Result<Value, ApiError> {
    sqs(
        cx,
        "SetQueueAttributes",
        json!({"QueueUrl": url, "Attributes": {"Policy": policy}}),
    )
    .await
}

#[async_trait::async_trait]
impl Handler for QueuePolicy {
    fn replacement(&self, _: &str) -> Replacement {
        Replacement::Never
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let doc = props
            .get("PolicyDocument")
            .map(document)
            .ok_or_else(|| Failure::property("#: required key [PolicyDocument] not found"))?;
        for url in queues(props) {
            set_policy(cx, &url, &doc).await?;
        }
        let id = cx.physical_name(logical_id, 128);
        Ok(Created::new(id.clone()).with_ref(id.clone()).attr("Id", id))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let doc = props
            .get("PolicyDocument")
            .map(document)
            .unwrap_or_default();
        let now = queues(props);
        for url in queues(current.properties)
            .iter()
            .filter(|u| !now.contains(u))
        {
            let _ = set_policy(cx, url, "").await;
        }
        for url in &now {
            set_policy(cx, url, &doc).await?;
        }
        let mut c = Created::new(current.physical_id).with_ref(current.physical_id);
        c.attributes = current.attributes.clone();
        Ok(c)
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        for url in queues(current.properties) {
            match set_policy(cx, &url, "").await {
                Ok(_) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

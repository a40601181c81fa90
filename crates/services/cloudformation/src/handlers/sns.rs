//! `AWS::SNS::Topic`, `Subscription` and `TopicPolicy`, over SNS's query API.

use serde_json::Value;
use tributary_cfn::Replacement;

use super::*;
use crate::calls::xml_text;

const VERSION: &str = "2010-03-31";

type Pairs = Vec<(String, String)>;

async fn sns(cx: &Cx<'_>, action: &str, params: Pairs) -> Result<String, ApiError> {
    cx.calls.query("sns", VERSION, action, &params).await
}

fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_owned(), v.into())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => v.to_string(),
        other => other.to_string(),
    }
}

/// Topic attributes a template may set.
const TOPIC_ATTRIBUTES: &[&str] = &[
    "DisplayName",
    "KmsMasterKeyId",
    "ContentBasedDeduplication",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
    "DataProtectionPolicy",
    "FifoThroughputScope",
];

fn entries(attrs: &[(String, String)], prefix: &str) -> Pairs {
    attrs
        .iter()
        .enumerate()
        .flat_map(|(i, (k, v))| {
            [
                p(&format!("{prefix}.entry.{}.key", i + 1), k.clone()),
                p(&format!("{prefix}.entry.{}.value", i + 1), v.clone()),
            ]
        })
        .collect()
}

/// `Tags.member.N.Key/Value` parameters.
fn tag_members(tags: &[(String, String)]) -> Pairs {
    tags.iter()
        .enumerate()
        .flat_map(|(i, (k, v))| {
            [
                p(&format!("Tags.member.{}.Key", i + 1), k.clone()),
                p(&format!("Tags.member.{}.Value", i + 1), v.clone()),
            ]
        })
        .collect()
}

fn ignore_gone(r: Result<String, ApiError>) -> HandlerResult<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if gone(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub struct Topic;

fn topic_attrs(arn: &str) -> Created {
    let name = arn.rsplit(':').next().unwrap_or_default();
    Created::new(arn)
        .with_ref(arn)
        .attr("TopicArn", arn)
        .attr("TopicName", name)
}

/// Inline `Subscription` entries: `(protocol, endpoint)`.
fn inline_subscriptions(props: &Value) -> Vec<(String, String)> {
    props
        .get("Subscription")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| Some((string(s, "Protocol")?, string(s, "Endpoint")?)))
                .collect()
        })
        .unwrap_or_default()
}

async fn subscribe(
    cx: &Cx<'_>,
    topic: &str,
    protocol: &str,
    endpoint: &str,
    attrs: &[(String, String)],
) -> Result<String, ApiError> {
    let mut params = vec![
        p("TopicArn", topic),
        p("Protocol", protocol),
        p("Endpoint", endpoint),
        p("ReturnSubscriptionArn", "true"),
    ];
    params.extend(entries(attrs, "Attributes"));
    let x = sns(cx, "Subscribe", params).await?;
    Ok(xml_text(&x, "SubscriptionArn").unwrap_or_default())
}

#[async_trait::async_trait]
impl Handler for Topic {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "TopicName" | "FifoTopic" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    fn name_property(&self) -> Option<&'static str> {
        Some("TopicName")
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let fifo = boolean(props, "FifoTopic")?.unwrap_or(false);
        let name = match string(props, "TopicName") {
            Some(n) => n,
            None if fifo => format!("{}.fifo", cx.physical_name(logical_id, 251)),
            None => cx.physical_name(logical_id, 256),
        };
        let mut attrs: Vec<(String, String)> = TOPIC_ATTRIBUTES
            .iter()
            .filter_map(|k| Some(((*k).to_owned(), text(props.get(*k)?))))
            .collect();
        if fifo {
            attrs.push(("FifoTopic".into(), "true".into()));
        }
        let mut params = vec![p("Name", &name)];
        params.extend(entries(&attrs, "Attributes"));
        params.extend(tag_members(&cx.resource_tags(props)));
        let x = sns(cx, "CreateTopic", params).await?;
        let arn = xml_text(&x, "TopicArn").unwrap_or_default();
        for (protocol, endpoint) in inline_subscriptions(props) {
            if let Err(e) = subscribe(cx, &arn, &protocol, &endpoint, &[]).await {
                let _ = sns(cx, "DeleteTopic", vec![p("TopicArn", &arn)]).await;
                return Err(e.into());
            }
        }
        Ok(topic_attrs(&arn))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let arn = current.physical_id;
        let old = current.properties;
        for key in TOPIC_ATTRIBUTES {
            if old.get(*key) != props.get(*key) {
                let value = props.get(*key).map(text).unwrap_or_default();
                sns(
                    cx,
                    "SetTopicAttributes",
                    vec![
                        p("TopicArn", arn),
                        p("AttributeName", *key),
                        p("AttributeValue", value),
                    ],
                )
                .await?;
            }
        }
        let (was, now) = (inline_subscriptions(old), inline_subscriptions(props));
        if was != now {
            let list = sns(cx, "ListSubscriptionsByTopic", vec![p("TopicArn", arn)]).await?;
            let subs = crate::calls::xml_texts(&list, "SubscriptionArn");
            let protocols = crate::calls::xml_texts(&list, "Protocol");
            let endpoints = crate::calls::xml_texts(&list, "Endpoint");
            for ((sub, protocol), endpoint) in subs.iter().zip(&protocols).zip(&endpoints) {
                let key = (protocol.clone(), endpoint.clone());
                if was.contains(&key) && !now.contains(&key) {
                    ignore_gone(
                        sns(cx, "Unsubscribe", vec![p("SubscriptionArn", sub.clone())]).await,
                    )?;
                }
            }
            for (protocol, endpoint) in now.iter().filter(|s| !was.contains(s)) {
                subscribe(cx, arn, protocol, endpoint, &[]).await?;
            }
        }
        if let Some(t) = tag_update(old, props) {
            if !t.removed.is_empty() {
                let mut params = vec![p("ResourceArn", arn)];
                params.extend(
                    t.removed
                        .iter()
                        .enumerate()
                        .map(|(i, k)| p(&format!("TagKeys.member.{}", i + 1), k.clone())),
                );
                sns(cx, "UntagResource", params).await?;
            }
            if !t.set.is_empty() {
                let mut params = vec![p("ResourceArn", arn)];
                params.extend(tag_members(&t.set));
                sns(cx, "TagResource", params).await?;
            }
        }
        Ok(topic_attrs(arn))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        ignore_gone(sns(cx, "DeleteTopic", vec![p("TopicArn", current.physical_id)]).await)
    }
}

pub struct Subscription;

/// Subscription attributes a template may set.
const SUBSCRIPTION_ATTRIBUTES: &[&str] = &[
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "DeliveryPolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

fn subscription_attributes(props: &Value) -> Vec<(String, String)> {
    SUBSCRIPTION_ATTRIBUTES
        .iter()
        .filter_map(|k| Some(((*k).to_owned(), text(props.get(*k)?))))
        .collect()
}

#[async_trait::async_trait]
impl Handler for Subscription {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "TopicArn" | "Protocol" | "Endpoint" | "Region" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    async fn create(&self, cx: &Cx<'_>, _: &str, props: &Value) -> HandlerResult<Created> {
        let topic = required(props, "TopicArn")?;
        let protocol = required(props, "Protocol")?;
        let endpoint = string(props, "Endpoint").unwrap_or_default();
        let arn = subscribe(
            cx,
            &topic,
            &protocol,
            &endpoint,
            &subscription_attributes(props),
        )
        .await?;
        Ok(Created::new(arn.clone())
            .with_ref(arn.clone())
            .attr("Arn", arn))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let arn = current.physical_id;
        for key in SUBSCRIPTION_ATTRIBUTES {
            if current.properties.get(*key) != props.get(*key) {
                let value = props.get(*key).map(text).unwrap_or_default();
                sns(
                    cx,
                    "SetSubscriptionAttributes",
                    vec![
                        p("SubscriptionArn", arn),
                        p("AttributeName", *key),
                        p("AttributeValue", value),
                    ],
                )
                .await?;
            }
        }
        Ok(Created::new(arn).with_ref(arn).attr("Arn", arn))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        ignore_gone(
            sns(
                cx,
                "Unsubscribe",
                vec![p("SubscriptionArn", current.physical_id)],
            )
            .await,
        )
    }
}

pub struct TopicPolicy;

fn topics(props: &Value) -> Vec<String> {
    props
        .get("Topics")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The policy every topic starts with, which deleting a topic policy restores.
fn default_policy(cx: &Cx<'_>, topic: &str) -> String {
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": topic,
            "Condition": {"StringEquals": {"AWS:SourceOwner": cx.account_id}}
        }]
    })
    .to_string()
}

async fn set_policy(cx: &Cx<'_>, topic: &str, policy: &str) -> Result<String, ApiError> {
    sns(
        cx,
        "SetTopicAttributes",
        vec![
            p("TopicArn", topic),
            p("AttributeName", "Policy"),
            p("AttributeValue", policy),
        ],
    )
    .await
}

#[async_trait::async_trait]
impl Handler for TopicPolicy {
    fn replacement(&self, _: &str) -> Replacement {
        Replacement::Never
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let doc = props
            .get("PolicyDocument")
            .map(document)
            .ok_or_else(|| Failure::property("#: required key [PolicyDocument] not found"))?;
        for topic in topics(props) {
            set_policy(cx, &topic, &doc).await?;
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
        let now = topics(props);
        for topic in topics(current.properties)
            .iter()
            .filter(|t| !now.contains(t))
        {
            ignore_gone(set_policy(cx, topic, &default_policy(cx, topic)).await)?;
        }
        for topic in &now {
            set_policy(cx, topic, &doc).await?;
        }
        let mut c = Created::new(current.physical_id).with_ref(current.physical_id);
        c.attributes = current.attributes.clone();
        Ok(c)
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        for topic in topics(current.properties) {
            ignore_gone(set_policy(cx, &topic, &default_policy(cx, &topic)).await)?;
        }
        Ok(())
    }
}

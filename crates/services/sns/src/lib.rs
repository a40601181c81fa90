//! Amazon SNS on the shared endpoint (query protocol, XML): topics (standard and FIFO), `sqs`
//! subscriptions (confirmed at once), and Publish / PublishBatch, which deliver to every
//! subscribed queue before answering — the standard notification envelope, or the bare message
//! with its attributes when `RawMessageDelivery` is on.
//!
//! Event source mappings publish their on-failure records through [`publish_to_topic_arn`].

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{Response, Uri};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tributary_model::AwsError;

use tributary_service::peers::{
    self as sqs, MessageAttributeValue, QueueMessage as Delivery, Queues,
};
use tributary_service::query::{self, Params, Xml};
use tributary_service::Config;
use tributary_shapes::generated::sns as model;
use tributary_shapes::validate::{MapStyle, Options};
use tributary_shapes::xml::ToXml;
use tributary_shapes::{Kind, Shape};
use tributary_store::Store;

/// Amazon SNS: topics and subscriptions in the store; SQS subscriptions are delivered through
/// [`Queues`].
pub struct Sns {
    pub(crate) cfg: Arc<Config>,
    pub(crate) store: Store,
    pub(crate) queues: Arc<dyn Queues>,
}

impl Sns {
    pub fn new(cfg: Arc<Config>, store: Store, queues: Arc<dyn Queues>) -> Sns {
        Sns { cfg, store, queues }
    }
}

#[async_trait::async_trait]
impl tributary_service::Service for Sns {
    async fn call(&self, req: tributary_service::Request) -> Response<Body> {
        handle_query(self, &req.uri, &req.body).await
    }
}

impl Sns {
    /// The topic's access policy: its `Policy` attribute, or the default one AWS gives every
    /// topic (the owning account may do everything).
    pub fn topic_policy(&self, arn: &str) -> Option<String> {
        let t = lookup_topic(self, arn)?;
        Some(
            t.attrs
                .get("Policy")
                .cloned()
                .unwrap_or_else(|| default_policy(&self.cfg.account_id, &t.arn)),
        )
    }
}

#[async_trait::async_trait]
impl tributary_service::peers::Topics for Sns {
    fn exists(&self, arn: &str) -> bool {
        topic_exists_by_arn(self, arn)
    }

    async fn publish(
        &self,
        arn: &str,
        message: String,
        subject: Option<String>,
    ) -> Result<String, AwsError> {
        publish_to_topic_arn(self, arn, message, subject).await
    }

    async fn publish_with_attributes(
        &self,
        arn: &str,
        message: String,
        attributes: BTreeMap<String, MessageAttributeValue>,
    ) -> Result<String, AwsError> {
        let t = lookup_topic(self, arn).ok_or_else(topic_not_found)?;
        // Each value as a `StringValue`, the form event source mappings send.
        let attributes = attributes
            .into_iter()
            .map(|(name, v)| {
                let value = String::from_utf8_lossy(v.value_bytes()).into_owned();
                let v = types::MessageAttributeValue {
                    data_type: v.data_type,
                    string_value: Some(value),
                    binary_value: None,
                };
                (name, v)
            })
            .collect();
        let m = prepare(
            &t,
            types::PublishBatchRequestEntry {
                message,
                message_attributes: Some(attributes),
                // No entry id, subject, message structure, or FIFO ids.
                ..Default::default()
            },
        )?;
        let published = publish_all(self, &t, vec![m]).await?;
        published
            .into_iter()
            .next()
            .map(|p| p.message_id)
            .ok_or_else(|| AwsError::internal("message not published"))
    }

    fn policy(&self, arn: &str) -> Option<String> {
        self.topic_policy(arn)
    }
}

/// The query protocol's XML namespace.
const NAMESPACE: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
/// Document kind of a topic (id = topic name).
const TOPIC_KIND: &str = "sns-topic";
/// Document kind of a subscription (id = subscription ARN).
const SUB_KIND: &str = "sns-sub";
/// FIFO deduplication ids: key = topic name + NUL + deduplication id.
const DEDUP_SPACE: &str = "sns-dedup";
/// How long a FIFO deduplication id suppresses duplicates.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// A message with its attributes, and a whole PublishBatch.
const MAX_MESSAGE_BYTES: usize = 262_144;
/// Entries per PublishBatch.
const MAX_BATCH: usize = 10;
/// Items per page of ListTopics and ListSubscriptions(ByTopic).
const PAGE_SIZE: usize = 100;
/// Subscription protocols SNS knows; only `sqs` is delivered to here.
const PROTOCOLS: &[&str] = &[
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "sqs",
    "application",
    "lambda",
    "firehose",
];

// ------------------------------------------------------------------------------------------
// errors

/// `InvalidParameter` with AWS's `Invalid parameter: ...` wording.
fn invalid(what: impl std::fmt::Display) -> AwsError {
    AwsError::new(
        "InvalidParameter",
        400,
        format!("Invalid parameter: {what}"),
    )
}

fn value_invalid(msg: impl Into<String>) -> AwsError {
    AwsError::new("ParameterValueInvalid", 400, msg)
}

fn topic_not_found() -> AwsError {
    AwsError::new("NotFound", 404, "Topic does not exist")
}

fn subscription_not_found() -> AwsError {
    AwsError::new("NotFound", 404, "Subscription does not exist")
}

// ------------------------------------------------------------------------------------------
// stored state

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TopicDoc {
    name: String,
    arn: String,
    created_ms: i64,
    /// Settable attributes as given (DisplayName, Policy, FifoTopic, ...).
    attrs: BTreeMap<String, String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    /// FIFO sequence numbers handed out so far.
    #[serde(default)]
    sequence: u64,
}

impl TopicDoc {
    fn fifo(&self) -> bool {
        self.attrs.get("FifoTopic").is_some_and(|v| v == "true")
    }

    fn content_based_dedup(&self) -> bool {
        self.attrs
            .get("ContentBasedDeduplication")
            .is_some_and(|v| v == "true")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SubDoc {
    arn: String,
    topic_arn: String,
    protocol: String,
    endpoint: String,
    owner: String,
    attrs: BTreeMap<String, String>,
}

impl SubDoc {
    fn raw(&self) -> bool {
        self.attrs
            .get("RawMessageDelivery")
            .is_some_and(|v| v == "true")
    }

    fn dead_letter_queue(&self) -> Option<String> {
        let p: serde_json::Value = serde_json::from_str(self.attrs.get("RedrivePolicy")?).ok()?;
        Some(p.get("deadLetterTargetArn")?.as_str()?.to_owned())
    }
}

fn topic_arn(cfg: &Config, name: &str) -> String {
    format!("arn:aws:sns:{}:{}:{name}", cfg.region, cfg.account_id)
}

/// The topic name of an SNS topic ARN of this server's region and account.
fn topic_name_from_arn<'a>(cfg: &Config, arn: &'a str) -> Option<&'a str> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "sns", region, account, name]
            if partition.starts_with("aws")
                && *region == cfg.region
                && *account == cfg.account_id
                && !name.is_empty() =>
        {
            Some(name)
        }
        _ => None,
    }
}

/// Checks the shape of an ARN parameter as SNS does before looking it up.
fn check_arn_shape(param: &str, arn: &str) -> Result<(), AwsError> {
    let n = arn.split(':').count();
    if n < 6 {
        return Err(invalid(format!(
            "{param} Reason: An ARN must have at least 6 elements, not {n}"
        )));
    }
    Ok(())
}

fn lookup_topic(app: &Sns, arn: &str) -> Option<TopicDoc> {
    let name = topic_name_from_arn(&app.cfg, arn)?;
    serde_json::from_value(app.store.catalog().doc(TOPIC_KIND, name)?.clone()).ok()
}

/// The topic a `TopicArn` parameter (`param`) names: `InvalidParameter` for a malformed ARN,
/// `NotFound` for an unknown topic.
fn topic_param(app: &Sns, arn: &str, param: &str) -> Result<TopicDoc, AwsError> {
    check_arn_shape(param, arn)?;
    lookup_topic(app, arn).ok_or_else(topic_not_found)
}

fn subscriptions(app: &Sns) -> Vec<SubDoc> {
    app.store
        .catalog()
        .docs_of(SUB_KIND)
        .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
        .collect()
}

fn lookup_subscription(app: &Sns, arn: &str) -> Option<SubDoc> {
    serde_json::from_value(app.store.catalog().doc(SUB_KIND, arn)?.clone()).ok()
}

// ------------------------------------------------------------------------------------------
// the protocol

/// A query-protocol SNS request.
async fn handle_query(app: &Sns, uri: &Uri, body: &Bytes) -> Response<Body> {
    let p = Params::parse(uri, body);
    let Some(action) = p.get("Action").map(str::to_owned) else {
        return query::error(NAMESPACE, 400, "MissingAction", "Missing Action", false);
    };
    let Some(op) = model::Operation::from_name(&action) else {
        return failed(&action, &invalid_action(&action));
    };
    // The model's constraints first, as AWS's request validator runs before any handler.
    let input = match check_input(op, &p) {
        Ok(input) => input,
        Err(e) => {
            tracing::debug!(action, code = e.code, message = %e.message, "sns request refused");
            return query::error(NAMESPACE, e.status, e.code, &e.message, false);
        }
    };
    // The input holds its own copy of every parameter.
    drop(p);
    match dispatch(app, op, input).await {
        Ok(result) => query::ok(&action, NAMESPACE, result.as_deref()),
        Err(e) => failed(&action, &e),
    }
}

fn failed(action: &str, e: &AwsError) -> Response<Body> {
    tracing::debug!(action, code = e.code, message = %e.message, "sns request failed");
    query::error(NAMESPACE, e.status, e.code, &e.message, false)
}

/// An action SNS does not serve (unknown to the model, or not implemented here).
fn invalid_action(action: &str) -> AwsError {
    AwsError::new(
        "InvalidAction",
        400,
        format!("The action {action} is not valid for this web service."),
    )
}

/// The `<{Action}Result>` body, or `None` for an operation whose model has no output (no
/// Result element is written).
type Reply = Result<Option<String>, AwsError>;

/// Runs one operation on its model-read input: each handler takes the generated input type and
/// answers the generated output type, written in model member order.
async fn dispatch(app: &Sns, op: model::Operation, input: Map<String, Value>) -> Reply {
    use model::Operation as O;
    match op {
        O::CreateTopic => result(&create_topic(app, typed(input)?).await?),
        O::GetTopicAttributes => result(&get_topic_attributes(app, typed(input)?)?),
        O::SetTopicAttributes => done(set_topic_attributes(app, typed(input)?).await),
        O::DeleteTopic => done(delete_topic(app, typed(input)?).await),
        O::ListTopics => result(&list_topics(app, typed(input)?)?),
        O::Subscribe => result(&subscribe(app, typed(input)?).await?),
        O::ConfirmSubscription => result(&confirm_subscription(app, typed(input)?)?),
        O::Unsubscribe => done(unsubscribe(app, typed(input)?).await),
        O::ListSubscriptions => {
            let i: types::ListSubscriptionsInput = typed(input)?;
            let (subscriptions, next_token) = list_subscriptions(app, i.next_token, None)?;
            result(&types::ListSubscriptionsResponse {
                subscriptions: Some(subscriptions),
                next_token,
            })
        }
        O::ListSubscriptionsByTopic => {
            let i: types::ListSubscriptionsByTopicInput = typed(input)?;
            let t = topic_param(app, &i.topic_arn, "TopicArn")?;
            let (subscriptions, next_token) = list_subscriptions(app, i.next_token, Some(&t))?;
            result(&types::ListSubscriptionsByTopicResponse {
                subscriptions: Some(subscriptions),
                next_token,
            })
        }
        O::GetSubscriptionAttributes => result(&get_subscription_attributes(app, typed(input)?)?),
        O::SetSubscriptionAttributes => done(set_subscription_attributes(app, typed(input)?).await),
        O::Publish => result(&publish(app, typed(input)?).await?),
        O::PublishBatch => result(&publish_batch(app, typed(input)?).await?),
        O::TagResource => result(&tag_resource(app, typed(input)?).await?),
        O::UntagResource => result(&untag_resource(app, typed(input)?).await?),
        O::ListTagsForResource => result(&list_tags(app, typed(input)?)?),
        other => Err(invalid_action(other.name())),
    }
}

/// A generated output structure as the body of the `<...Result>` element.
fn result<T: ToXml>(output: &T) -> Reply {
    let mut x = Xml::new();
    output.write_xml(&mut x);
    Ok(Some(x.into_string()))
}

/// The answer of an operation without output.
fn done(r: Result<(), AwsError>) -> Reply {
    r.map(|()| None)
}

/// Where SNS's validator differs from a plain reading of its model.
const VALIDATION: Options<'static> = Options {
    map_style: MapStyle::PerEntry,
    // A message attribute without a type gets SNS's own words (`The message attribute 'a' must
    // contain non-empty message attribute type.`), from the Publish handler.
    skip: &[("MessageAttributeValue", "DataType")],
    name_or_arn: &[],
    enum_text: &[],
    max_errors: 10,
};

/// Reads the request as the model's input of `op` and checks it: a violation is
/// `ValidationError` with AWS's message (`1 validation error detected: Value null at 'name'
/// failed to satisfy constraint: Member must not be null`).
fn check_input(op: model::Operation, p: &Params) -> Result<Map<String, Value>, AwsError> {
    let def = op.def();
    let mut input =
        tributary_shapes::query::validated_input(&model::SERVICE, def, &p.0, &VALIDATION)
            .map_err(|m| AwsError::new("ValidationError", 400, m))?;
    if let Some(id) = def.input {
        for m in model::SERVICE.shape(id).members {
            if let Some(v) = input.get_mut(m.name) {
                settle(model::SERVICE.shape(m.shape), v);
            }
        }
    }
    Ok(input)
}

/// Turns what the query reader leaves that the generated types cannot hold into what SNS has
/// always read it as, so that [`typed`] does not fail on a request the validator let through:
/// - a map entry sent without its value (`Attributes.entry.1.key=k` alone) is an empty value
///   (an empty string, a message attribute with no members, which the handler refuses in its
///   own words);
/// - a list element with no value of its own (`TagKeys.member.1.x=k`) is not an element;
/// - a blob (`BinaryValue`) that is not base64 is read trimmed, and when that is no base64
///   either, as empty (the handler refuses an empty binary value).
///
/// The walk follows the value the reader built, which is no deeper than the (bounded) shape.
fn settle(shape: &Shape, v: &mut Value) {
    let shape_of = |id| model::SERVICE.shape(id);
    match (shape.kind, v) {
        (Kind::Structure, Value::Object(o)) => {
            for m in shape.members {
                if let Some(x) = o.get_mut(m.name) {
                    settle(shape_of(m.shape), x);
                }
            }
        }
        (Kind::List, Value::Array(items)) => {
            items.retain(|x| !x.is_null());
            if let Some(el) = shape.member {
                for x in items {
                    settle(shape_of(el), x);
                }
            }
        }
        (Kind::Map, Value::Object(o)) => {
            if let Some(val) = shape.value {
                let val = shape_of(val);
                for x in o.values_mut() {
                    if x.is_null() {
                        *x = match val.kind {
                            Kind::Structure | Kind::Map => Value::Object(Map::new()),
                            Kind::List => Value::Array(Vec::new()),
                            _ => Value::String(String::new()),
                        };
                    } else {
                        settle(val, x);
                    }
                }
            }
        }
        (Kind::Blob, Value::String(s)) if !is_base64(s.as_bytes()) => {
            let trimmed = s.trim();
            *s = if STANDARD.decode(trimmed).is_ok() {
                trimmed.to_owned()
            } else {
                String::new()
            };
        }
        _ => {}
    }
}

/// Whether `s` is padded base64 the standard engine decodes (`STANDARD.decode(s).is_ok()`),
/// checked without decoding: the alphabet, whole quantums, at most two `=` at the end, and no
/// bits set past the data in the last symbol.
fn is_base64(s: &[u8]) -> bool {
    fn sextet(b: u8) -> Option<u8> {
        match b {
            b'A'..=b'Z' => Some(b - b'A'),
            b'a'..=b'z' => Some(b - b'a' + 26),
            b'0'..=b'9' => Some(b - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    if !s.len().is_multiple_of(4) {
        return false;
    }
    let pad = s.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 2 {
        return false;
    }
    let data = &s[..s.len() - pad];
    if !data.iter().all(|&b| sextet(b).is_some()) {
        return false;
    }
    let last = data.last().and_then(|&b| sextet(b)).unwrap_or(0);
    match pad {
        1 => last & 0b11 == 0,
        2 => last & 0b1111 == 0,
        _ => true,
    }
}

/// The operation's generated input type, read from its checked and settled input (moving its
/// strings, not copying them). The query reader follows the model and [`settle`] leaves
/// nothing the types refuse, so this cannot normally fail; if it does, it is
/// `InvalidParameter`, naming the member.
fn typed<T: serde::de::DeserializeOwned>(input: Map<String, Value>) -> Result<T, AwsError> {
    serde_path_to_error::deserialize(Value::Object(input)).map_err(|e| invalid(e.path()))
}

/// A request's `Tags` (`Tags.member.N.Key/Value`) as a map; keys must be distinct.
fn tags_param(tags: Vec<types::Tag>) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    for types::Tag { key, value } in tags {
        if key.is_empty() || key.len() > 128 {
            return Err(invalid(
                "Tags Reason: Tag keys must be 1 to 128 characters long",
            ));
        }
        if out.insert(key, value).is_some() {
            return Err(invalid("Duplicated keys are not allowed."));
        }
    }
    Ok(out)
}

/// A page of `items` after the `NextToken` (the last ARN of the previous page).
fn page<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> &str,
    next_token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    items.sort_by(|a, b| key(a).cmp(key(b)));
    let after = match next_token.filter(|t| !t.is_empty()) {
        Some(t) => Some(
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid("NextToken"))?,
        ),
        None => None,
    };
    let rest: Vec<T> = items
        .into_iter()
        .filter(|i| after.as_deref().is_none_or(|a| key(i) > a))
        .collect();
    let more = rest.len() > PAGE_SIZE;
    let page: Vec<T> = rest.into_iter().take(PAGE_SIZE).collect();
    let token = more
        .then(|| page.last().map(|l| URL_SAFE_NO_PAD.encode(key(l))))
        .flatten();
    Ok((page, token))
}

// ------------------------------------------------------------------------------------------
// topics

/// Topic attributes a client may set, and whether they are FIFO-only.
const TOPIC_ATTRIBUTES: &[(&str, bool)] = &[
    ("DisplayName", false),
    ("Policy", false),
    ("DeliveryPolicy", false),
    ("KmsMasterKeyId", false),
    ("SignatureVersion", false),
    ("TracingConfig", false),
    ("DataProtectionPolicy", false),
    ("ArchivePolicy", true),
    ("ContentBasedDeduplication", true),
    ("FifoThroughputScope", true),
];

/// Validates one topic attribute and returns its stored value.
fn topic_attribute(name: &str, value: &str, fifo: bool) -> Result<String, AwsError> {
    let known = TOPIC_ATTRIBUTES.iter().find(|(n, _)| *n == name);
    match known {
        None => Err(invalid("AttributeName")),
        Some((_, true)) if !fifo => Err(invalid(format!(
            "Attributes Reason: {name} is only valid for FIFO topics"
        ))),
        Some(_) => match name {
            "SignatureVersion" if value != "1" && value != "2" => Err(invalid(
                "Attributes Reason: SignatureVersion must be 1 or 2",
            )),
            "ContentBasedDeduplication" => match value.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(value.to_ascii_lowercase()),
                _ => Err(invalid(format!(
                    "Attributes Reason: ContentBasedDeduplication: Invalid value [{value}]. Must \
                     be true or false."
                ))),
            },
            "FifoThroughputScope" if value != "Topic" && value != "MessageGroup" => Err(invalid(
                "Attributes Reason: FifoThroughputScope must be Topic or MessageGroup",
            )),
            "Policy" | "DeliveryPolicy" | "DataProtectionPolicy" | "ArchivePolicy"
                if !value.is_empty()
                    && serde_json::from_str::<serde_json::Value>(value).is_err() =>
            {
                Err(invalid(format!(
                    "Attributes Reason: {name}: failed to parse JSON."
                )))
            }
            _ => Ok(value.to_owned()),
        },
    }
}

fn valid_topic_name(stem: &str) -> bool {
    !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn create_topic(
    app: &Sns,
    i: types::CreateTopicInput,
) -> Result<types::CreateTopicResponse, AwsError> {
    let name = i.name;
    let mut given = i.attributes.unwrap_or_default();
    if let Some(dp) = i.data_protection_policy {
        given.insert("DataProtectionPolicy".into(), dp);
    }
    let tags = tags_param(i.tags.unwrap_or_default())?;
    let fifo = match given.remove("FifoTopic") {
        None => false,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(invalid(format!(
                    "Attributes Reason: FifoTopic: Invalid value [{v}]. Must be true or false."
                )))
            }
        },
    };
    if fifo {
        let ok = name.len() <= 256 && name.strip_suffix(".fifo").is_some_and(valid_topic_name);
        if !ok {
            return Err(invalid(
                "Fifo Topic names must end with .fifo and must be made up of only uppercase and \
                 lowercase ASCII letters, numbers, underscores, and hyphens, and must be between \
                 1 and 256 characters long.",
            ));
        }
    } else if name.len() > 256 || !valid_topic_name(&name) {
        return Err(invalid("Topic Name"));
    }
    let mut attrs = BTreeMap::new();
    for (k, v) in &given {
        attrs.insert(k.clone(), topic_attribute(k, v, fifo)?);
    }
    if fifo {
        attrs.insert("FifoTopic".into(), "true".into());
        attrs
            .entry("ContentBasedDeduplication".into())
            .or_insert_with(|| "false".into());
    }
    let arn = topic_arn(&app.cfg, &name);
    let doc_arn = arn.clone();
    app.store
        .write(move |tx| {
            if let Some(v) = tx.catalog().doc(TOPIC_KIND, &name) {
                let existing: TopicDoc = serde_json::from_value(v.clone())
                    .map_err(|e| AwsError::internal(e.to_string()))?;
                let differs = attrs.iter().any(|(k, v)| existing.attrs.get(k) != Some(v))
                    || existing.fifo() != fifo;
                if differs {
                    return Err(invalid(
                        "Attributes Reason: Topic already exists with different attributes",
                    ));
                }
                if !tags.is_empty() && tags != existing.tags {
                    return Err(invalid(
                        "Tags Reason: Topic already exists with different tags",
                    ));
                }
                return Ok(());
            }
            let doc = TopicDoc {
                name: name.clone(),
                arn: doc_arn.clone(),
                created_ms: tx.now_ms(),
                attrs: attrs.clone(),
                tags: tags.clone(),
                sequence: 0,
            };
            let value =
                serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(TOPIC_KIND, &name, value)
        })
        .await?;
    Ok(types::CreateTopicResponse {
        topic_arn: Some(arn),
    })
}

/// AWS's default topic access policy, members in AWS's order.
fn default_policy(account: &str, arn: &str) -> String {
    format!(
        concat!(
            r#"{{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{{"#,
            r#""Sid":"__default_statement_ID","Effect":"Allow","Principal":{{"AWS":"*"}},"#,
            r#""Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","#,
            r#""SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","#,
            r#""SNS:ListSubscriptionsByTopic","SNS:Publish"],"Resource":{},"#,
            r#""Condition":{{"StringEquals":{{"AWS:SourceOwner":{}}}}}}}]}}"#
        ),
        serde_json::Value::String(arn.to_owned()),
        serde_json::Value::String(account.to_owned()),
    )
}

const EFFECTIVE_DELIVERY_POLICY: &str = concat!(
    r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"#,
    r#""numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"#,
    r#""backoffFunction":"linear"},"disableSubscriptionOverrides":false,"#,
    r#""defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#
);

fn get_topic_attributes(
    app: &Sns,
    i: types::GetTopicAttributesInput,
) -> Result<types::GetTopicAttributesResponse, AwsError> {
    let t = topic_param(app, &i.topic_arn, "TopicArn")?;
    let subs = subscriptions(app)
        .into_iter()
        .filter(|s| s.topic_arn == t.arn)
        .count();
    let mut attrs = t.attrs.clone();
    attrs
        .entry("Policy".into())
        .or_insert_with(|| default_policy(&app.cfg.account_id, &t.arn));
    attrs
        .entry("DisplayName".into())
        .or_insert_with(String::new);
    attrs.insert(
        "EffectiveDeliveryPolicy".into(),
        EFFECTIVE_DELIVERY_POLICY.into(),
    );
    attrs.insert("Owner".into(), app.cfg.account_id.clone());
    attrs.insert("SubscriptionsConfirmed".into(), subs.to_string());
    attrs.insert("SubscriptionsDeleted".into(), "0".into());
    attrs.insert("SubscriptionsPending".into(), "0".into());
    attrs.insert("TopicArn".into(), t.arn.clone());
    Ok(types::GetTopicAttributesResponse {
        attributes: Some(attrs),
    })
}

async fn set_topic_attributes(
    app: &Sns,
    i: types::SetTopicAttributesInput,
) -> Result<(), AwsError> {
    let t = topic_param(app, &i.topic_arn, "TopicArn")?;
    let name = i.attribute_name;
    let value = topic_attribute(
        &name,
        i.attribute_value.as_deref().unwrap_or_default(),
        t.fifo(),
    )?;
    app.store
        .write(move |tx| {
            let mut doc: TopicDoc = tx
                .catalog()
                .doc(TOPIC_KIND, &t.name)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .ok_or_else(topic_not_found)?;
            if value.is_empty() && name != "DisplayName" {
                doc.attrs.remove(&name);
            } else {
                doc.attrs.insert(name.clone(), value.clone());
            }
            let v = serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(TOPIC_KIND, &doc.name, v)
        })
        .await
}

/// Deletes a topic and its subscriptions; deleting a topic that does not exist succeeds.
async fn delete_topic(app: &Sns, i: types::DeleteTopicInput) -> Result<(), AwsError> {
    let arn = i.topic_arn;
    check_arn_shape("TopicArn", &arn)?;
    let Some(name) = topic_name_from_arn(&app.cfg, &arn).map(str::to_owned) else {
        return Ok(());
    };
    let subs: Vec<String> = subscriptions(app)
        .into_iter()
        .filter(|s| s.topic_arn == arn)
        .map(|s| s.arn)
        .collect();
    app.store
        .write(move |tx| {
            if tx.catalog().doc(TOPIC_KIND, &name).is_some() {
                tx.delete_doc(TOPIC_KIND, &name)?;
            }
            for s in subs.clone() {
                tx.delete_doc(SUB_KIND, &s)?;
            }
            let lo = format!("{name}\0");
            let hi = format!("{name}\u{1}");
            tx.kv_delete_range(
                DEDUP_SPACE,
                Bound::Included(lo.as_bytes()),
                Bound::Excluded(hi.as_bytes()),
            )?;
            Ok(())
        })
        .await
}

fn list_topics(
    app: &Sns,
    i: types::ListTopicsInput,
) -> Result<types::ListTopicsResponse, AwsError> {
    let topics: Vec<TopicDoc> = app
        .store
        .catalog()
        .docs_of(TOPIC_KIND)
        .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
        .collect();
    let (page, next_token) = page(topics, |t| t.arn.as_str(), i.next_token.as_deref())?;
    Ok(types::ListTopicsResponse {
        topics: Some(
            page.into_iter()
                .map(|t| types::Topic {
                    topic_arn: Some(t.arn),
                })
                .collect(),
        ),
        next_token,
    })
}

// ------------------------------------------------------------------------------------------
// subscriptions

/// Validates one subscription attribute and returns its stored value.
fn subscription_attribute(name: &str, value: &str, on_subscribe: bool) -> Result<String, AwsError> {
    let reason = if on_subscribe {
        "Attributes Reason: "
    } else {
        ""
    };
    match name {
        "RawMessageDelivery" => match value.to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(value.to_ascii_lowercase()),
            _ => Err(invalid(format!(
                "{reason}RawMessageDelivery: Invalid value [{value}]. Must be true or false."
            ))),
        },
        "RedrivePolicy" => {
            if value.is_empty() {
                return Ok(String::new());
            }
            let p: serde_json::Value = serde_json::from_str(value).map_err(|e| {
                invalid(format!("{reason}RedrivePolicy: failed to parse JSON. {e}"))
            })?;
            let target = p
                .get("deadLetterTargetArn")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            let parts: Vec<&str> = target.split(':').collect();
            let well_formed = parts.len() == 6 && parts[0] == "arn" && parts[2] == "sqs";
            if !well_formed {
                return Err(invalid(format!(
                    "{reason}RedrivePolicy: deadLetterTargetArn is an invalid arn"
                )));
            }
            Ok(serde_json::json!({ "deadLetterTargetArn": target }).to_string())
        }
        "DeliveryPolicy" => {
            if !value.is_empty() && serde_json::from_str::<serde_json::Value>(value).is_err() {
                return Err(invalid(format!(
                    "{reason}DeliveryPolicy: failed to parse JSON."
                )));
            }
            Ok(value.to_owned())
        }
        "SubscriptionRoleArn" => Ok(value.to_owned()),
        "FilterPolicy" | "FilterPolicyScope" | "ReplayPolicy" => Err(invalid(format!(
            "{reason}{name} is not supported by this endpoint"
        ))),
        _ => Err(invalid("AttributeName")),
    }
}

/// `ReturnSubscriptionArn` is not read: `sqs` subscriptions are confirmed when they are made,
/// so the answer is always the subscription's ARN.
async fn subscribe(
    app: &Sns,
    i: types::SubscribeInput,
) -> Result<types::SubscribeResponse, AwsError> {
    let t = topic_param(app, &i.topic_arn, "TopicArn")?;
    let protocol = i.protocol;
    if !PROTOCOLS.contains(&protocol.as_str()) {
        return Err(invalid(format!(
            "Amazon SNS does not support this protocol string: {protocol}"
        )));
    }
    if protocol != "sqs" {
        return Err(invalid(format!(
            "Protocol Reason: only the sqs protocol is delivered to by this endpoint, not \
             {protocol}"
        )));
    }
    let endpoint = i.endpoint.unwrap_or_default();
    let parts: Vec<&str> = endpoint.split(':').collect();
    if !(parts.len() == 6 && parts[0] == "arn" && parts[2] == "sqs" && !parts[5].is_empty()) {
        return Err(invalid("SQS endpoint ARN"));
    }
    if sqs::is_fifo(&endpoint) && !t.fifo() {
        return Err(invalid(
            "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to \
             standard SNS topics",
        ));
    }
    let mut attrs = BTreeMap::new();
    for (k, v) in i.attributes.unwrap_or_default() {
        let v = subscription_attribute(&k, &v, true)?;
        if !v.is_empty() {
            attrs.insert(k, v);
        }
    }
    attrs
        .entry("RawMessageDelivery".into())
        .or_insert_with(|| "false".into());
    let owner = app.cfg.account_id.clone();
    let new_arn = format!("{}:{}", t.arn, uuid::Uuid::new_v4());
    let arn = app
        .store
        .write(move |tx| {
            let existing = tx
                .catalog()
                .docs_of(SUB_KIND)
                .filter_map(|(_, v)| serde_json::from_value::<SubDoc>(v.clone()).ok())
                .find(|s| s.topic_arn == t.arn && s.protocol == protocol && s.endpoint == endpoint);
            if let Some(s) = existing {
                if s.attrs != attrs {
                    return Err(invalid(
                        "Attributes Reason: Subscription already exists with different \
                         attributes",
                    ));
                }
                return Ok(s.arn);
            }
            let doc = SubDoc {
                arn: new_arn.clone(),
                topic_arn: t.arn.clone(),
                protocol: protocol.clone(),
                endpoint: endpoint.clone(),
                owner: owner.clone(),
                attrs: attrs.clone(),
            };
            let v = serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(SUB_KIND, &new_arn, v)?;
            Ok(new_arn.clone())
        })
        .await?;
    Ok(types::SubscribeResponse {
        subscription_arn: Some(arn),
    })
}

/// `sqs` subscriptions are confirmed when they are made, so no token is ever outstanding.
fn confirm_subscription(
    app: &Sns,
    i: types::ConfirmSubscriptionInput,
) -> Result<types::ConfirmSubscriptionResponse, AwsError> {
    topic_param(app, &i.topic_arn, "TopicArn")?;
    Err(invalid("Token"))
}

async fn unsubscribe(app: &Sns, i: types::UnsubscribeInput) -> Result<(), AwsError> {
    let arn = i.subscription_arn;
    check_arn_shape("SubscriptionArn", &arn)?;
    app.store
        .write(move |tx| {
            if tx.catalog().doc(SUB_KIND, &arn).is_some() {
                tx.delete_doc(SUB_KIND, &arn)?;
            }
            Ok(())
        })
        .await
}

/// A page of the subscriptions (of `topic`, or all) after `next_token`, and the next token.
fn list_subscriptions(
    app: &Sns,
    next_token: Option<String>,
    topic: Option<&TopicDoc>,
) -> Result<(Vec<types::Subscription>, Option<String>), AwsError> {
    let subs: Vec<SubDoc> = subscriptions(app)
        .into_iter()
        .filter(|s| topic.is_none_or(|t| s.topic_arn == t.arn))
        .collect();
    let (page, token) = page(subs, |s| s.arn.as_str(), next_token.as_deref())?;
    let page = page
        .into_iter()
        .map(|s| types::Subscription {
            subscription_arn: Some(s.arn),
            owner: Some(s.owner),
            protocol: Some(s.protocol),
            endpoint: Some(s.endpoint),
            topic_arn: Some(s.topic_arn),
        })
        .collect();
    Ok((page, token))
}

fn subscription_param(app: &Sns, arn: &str) -> Result<SubDoc, AwsError> {
    check_arn_shape("SubscriptionArn", arn)?;
    lookup_subscription(app, arn).ok_or_else(subscription_not_found)
}

fn get_subscription_attributes(
    app: &Sns,
    i: types::GetSubscriptionAttributesInput,
) -> Result<types::GetSubscriptionAttributesResponse, AwsError> {
    let s = subscription_param(app, &i.subscription_arn)?;
    let mut attrs = s.attrs.clone();
    attrs.insert("ConfirmationWasAuthenticated".into(), "true".into());
    attrs.insert("Endpoint".into(), s.endpoint.clone());
    attrs.insert("Owner".into(), s.owner.clone());
    attrs.insert("PendingConfirmation".into(), "false".into());
    attrs.insert("Protocol".into(), s.protocol.clone());
    attrs.insert("SubscriptionArn".into(), s.arn.clone());
    attrs.insert(
        "SubscriptionPrincipal".into(),
        format!("arn:aws:iam::{}:root", app.cfg.account_id),
    );
    attrs.insert("TopicArn".into(), s.topic_arn.clone());
    Ok(types::GetSubscriptionAttributesResponse {
        attributes: Some(attrs),
    })
}

async fn set_subscription_attributes(
    app: &Sns,
    i: types::SetSubscriptionAttributesInput,
) -> Result<(), AwsError> {
    let s = subscription_param(app, &i.subscription_arn)?;
    let name = i.attribute_name;
    let value = subscription_attribute(
        &name,
        i.attribute_value.as_deref().unwrap_or_default(),
        false,
    )?;
    app.store
        .write(move |tx| {
            let mut doc: SubDoc = tx
                .catalog()
                .doc(SUB_KIND, &s.arn)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .ok_or_else(subscription_not_found)?;
            if value.is_empty() {
                doc.attrs.remove(&name);
            } else {
                doc.attrs.insert(name.clone(), value.clone());
            }
            let v = serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(SUB_KIND, &doc.arn, v)
        })
        .await
}

// ------------------------------------------------------------------------------------------
// tags

/// The topic a tagging operation's `ResourceArn` names; an unknown one is `ResourceNotFound`.
fn tagged_topic(app: &Sns, arn: &str) -> Result<TopicDoc, AwsError> {
    topic_param(app, arn, "ResourceArn").map_err(|e| {
        if e.code == "NotFound" {
            AwsError::new("ResourceNotFound", 404, "Resource does not exist")
        } else {
            e
        }
    })
}

/// Applies `edit` to the tags of topic `t` in one commit.
async fn edit_tags(
    app: &Sns,
    t: TopicDoc,
    edit: impl Fn(&mut BTreeMap<String, String>) + Send + 'static,
) -> Result<(), AwsError> {
    app.store
        .write(move |tx| {
            let mut doc: TopicDoc = tx
                .catalog()
                .doc(TOPIC_KIND, &t.name)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .ok_or_else(topic_not_found)?;
            edit(&mut doc.tags);
            let v = serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
            tx.put_doc(TOPIC_KIND, &doc.name, v)
        })
        .await
}

async fn tag_resource(
    app: &Sns,
    i: types::TagResourceRequest,
) -> Result<types::TagResourceResponse, AwsError> {
    let t = tagged_topic(app, &i.resource_arn)?;
    let tags = tags_param(i.tags)?;
    edit_tags(app, t, move |doc| doc.extend(tags.clone())).await?;
    Ok(types::TagResourceResponse {})
}

async fn untag_resource(
    app: &Sns,
    i: types::UntagResourceRequest,
) -> Result<types::UntagResourceResponse, AwsError> {
    let t = tagged_topic(app, &i.resource_arn)?;
    let keys = i.tag_keys;
    edit_tags(app, t, move |doc| {
        for k in &keys {
            doc.remove(k);
        }
    })
    .await?;
    Ok(types::UntagResourceResponse {})
}

fn list_tags(
    app: &Sns,
    i: types::ListTagsForResourceRequest,
) -> Result<types::ListTagsForResourceResponse, AwsError> {
    let t = tagged_topic(app, &i.resource_arn)?;
    Ok(types::ListTagsForResourceResponse {
        tags: Some(
            t.tags
                .into_iter()
                .map(|(key, value)| types::Tag { key, value })
                .collect(),
        ),
    })
}

// ------------------------------------------------------------------------------------------
// publishing

/// One message to publish, validated.
struct Outgoing {
    /// With `MessageStructure=json`, what queue subscribers get (`sqs` or `default` entry).
    for_sqs: String,
    subject: Option<String>,
    attrs: BTreeMap<String, MessageAttributeValue>,
    group_id: Option<String>,
    dedup_id: Option<String>,
}

/// A message's attributes, validated.
type Attributes = BTreeMap<String, MessageAttributeValue>;

/// `MessageAttributes` (`MessageAttributes.entry.N.{Name, Value.DataType, Value.StringValue,
/// Value.BinaryValue}`), validated as SNS validates them, in name order.
fn message_attributes(
    given: Option<BTreeMap<String, types::MessageAttributeValue>>,
) -> Result<Attributes, AwsError> {
    let mut out = BTreeMap::new();
    for (name, v) in given.into_iter().flatten() {
        if name.is_empty() {
            return Err(value_invalid(
                "The message attribute name can not be empty.",
            ));
        }
        let data_type = v.data_type;
        if data_type.is_empty() {
            return Err(value_invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            )));
        }
        let string = v.string_value;
        let binary = v.binary_value;
        let base = data_type.split('.').next().unwrap_or_default();
        let value = match base {
            "String" | "Number" => {
                if string.is_none() && binary.is_some() {
                    return Err(value_invalid(format!(
                        "The message attribute '{name}' with type '{base}' must use field \
                         'String'."
                    )));
                }
                let s = string.filter(|s| !s.is_empty()).ok_or_else(|| {
                    value_invalid(format!(
                        "The message attribute '{name}' must contain non-empty message attribute \
                         value for message attribute type '{base}'."
                    ))
                })?;
                if base == "Number" && s.trim().parse::<f64>().is_err() {
                    return Err(value_invalid(format!(
                        "Could not cast message attribute '{name}' value to number."
                    )));
                }
                MessageAttributeValue::string(data_type, s)
            }
            "Binary" => {
                if binary.is_none() && string.is_some() {
                    return Err(value_invalid(format!(
                        "The message attribute '{name}' with type 'Binary' must use field \
                         'Binary'."
                    )));
                }
                // Base64 that does not decode was read as empty (see `settle`).
                let b = binary
                    .map(|b| b.0)
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| {
                        value_invalid(format!(
                            "The message attribute '{name}' must contain non-empty message \
                         attribute value for message attribute type 'Binary'."
                        ))
                    })?;
                MessageAttributeValue {
                    data_type,
                    string_value: None,
                    binary_value: Some(b),
                }
            }
            _ => {
                return Err(value_invalid(format!(
                    "The message attribute '{name}' has an invalid message attribute type, the \
                     set of supported type prefixes is Binary, Number, and String."
                )))
            }
        };
        out.insert(name, value);
    }
    if out.len() > 10 {
        return Err(value_invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            out.len()
        )));
    }
    Ok(out)
}

/// The size a message counts against the 256 KiB limit: the message and its attributes.
fn publish_size(message: &str, attrs: &Attributes) -> usize {
    message.len()
        + attrs
            .iter()
            .map(|(k, v)| {
                k.len()
                    + v.data_type.len()
                    + v.string_value.as_ref().map_or(0, String::len)
                    + v.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>()
}

/// Validates one message to publish to topic `t`: Publish's members, or one PublishBatch
/// entry's (its `Id` is not read).
fn prepare(t: &TopicDoc, mut m: types::PublishBatchRequestEntry) -> Result<Outgoing, AwsError> {
    let attrs = message_attributes(m.message_attributes.take());
    prepare_checked(t, m, attrs)
}

/// [`prepare`] with the message's attributes already read (`attrs`; its
/// `message_attributes` are not read again).
fn prepare_checked(
    t: &TopicDoc,
    m: types::PublishBatchRequestEntry,
    attrs: Result<Attributes, AwsError>,
) -> Result<Outgoing, AwsError> {
    let message = m.message;
    if message.is_empty() {
        return Err(invalid("Empty message"));
    }
    let attrs = attrs?;
    if publish_size(&message, &attrs) > MAX_MESSAGE_BYTES {
        return Err(invalid("Message too long"));
    }
    if let Some(s) = &m.subject {
        let ok = !s.is_empty()
            && s.chars().count() <= 100
            && s.chars().all(|c| !c.is_control())
            && !s.starts_with(char::is_whitespace);
        if !ok {
            return Err(invalid("Subject"));
        }
    }
    // With `MessageStructure=json`, what queue subscribers get; else the message itself.
    let structured = match m.message_structure.as_deref() {
        None => None,
        Some("json") => {
            let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&message)
                .map_err(|_| invalid("Message Structure - JSON message body failed to parse"))?;
            let default = v.get("default").and_then(serde_json::Value::as_str);
            let Some(default) = default else {
                return Err(invalid(
                    "Message Structure - No default entry in JSON message body",
                ));
            };
            Some(
                v.get("sqs")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(default)
                    .to_owned(),
            )
        }
        Some(other) => return Err(invalid(format!("MessageStructure Reason: {other}"))),
    };
    let group_id = m.message_group_id;
    let mut dedup_id = m.message_deduplication_id;
    for (param, v) in [
        ("MessageGroupId", &group_id),
        ("MessageDeduplicationId", &dedup_id),
    ] {
        if let Some(v) = v {
            if v.is_empty() || v.len() > 128 || !v.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(format!(
                    "{param} Reason: {param} can only include alphanumeric and punctuation \
                     characters. 1 to 128 in length."
                )));
            }
        }
    }
    if t.fifo() {
        if group_id.is_none() {
            return Err(invalid(
                "The MessageGroupId parameter is required for FIFO topics",
            ));
        }
        if dedup_id.is_none() {
            if !t.content_based_dedup() {
                return Err(invalid(
                    "The topic should either have ContentBasedDeduplication enabled or \
                     MessageDeduplicationId provided explicitly",
                ));
            }
            let digest = Sha256::digest(message.as_bytes());
            dedup_id = Some(digest.iter().map(|b| format!("{b:02x}")).collect());
        }
    } else if dedup_id.is_some() {
        return Err(invalid(
            "MessageDeduplicationId Reason: The request includes MessageDeduplicationId \
             parameter that is not valid for this topic type",
        ));
    }
    Ok(Outgoing {
        for_sqs: structured.unwrap_or(message),
        subject: m.subject,
        attrs,
        group_id,
        dedup_id,
    })
}

/// A published message: its id and, on FIFO topics, its sequence number.
struct Published {
    message_id: String,
    sequence: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct DedupEntry {
    message_id: String,
    sequence: Option<String>,
    expires_ms: i64,
}

/// Assigns message ids (and FIFO sequence numbers, suppressing FIFO duplicates), then delivers
/// to every `sqs` subscription of the topic. Returns, per message, whether it was new.
async fn publish_all(
    app: &Sns,
    t: &TopicDoc,
    msgs: Vec<Outgoing>,
) -> Result<Vec<Published>, AwsError> {
    let fifo = t.fifo();
    let keys: Vec<Option<String>> = msgs
        .iter()
        .map(|m| {
            m.dedup_id
                .as_ref()
                .filter(|_| fifo)
                .map(|d| format!("{}\0{d}", t.name))
        })
        .collect();
    let name = t.name.clone();
    // (id, sequence, is new) per message, decided in one commit.
    let ids: Vec<(String, Option<String>, bool)> = app
        .store
        .write(move |tx| {
            let now = tx.now_ms();
            let mut doc: TopicDoc = tx
                .catalog()
                .doc(TOPIC_KIND, &name)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .ok_or_else(topic_not_found)?;
            let mut out = Vec::with_capacity(keys.len());
            let mut writes = Vec::new();
            for k in keys.clone() {
                if let Some(k) = &k {
                    let prev = tx
                        .kv_get(DEDUP_SPACE, k.as_bytes())?
                        .and_then(|raw| serde_json::from_slice::<DedupEntry>(&raw).ok())
                        .filter(|d| d.expires_ms > now);
                    if let Some(d) = prev {
                        out.push((d.message_id, d.sequence, false));
                        continue;
                    }
                }
                let id = uuid::Uuid::new_v4().to_string();
                let seq = fifo.then(|| {
                    doc.sequence += 1;
                    format!(
                        "{:020}",
                        10_000_000_000_000_000_000u128 + u128::from(doc.sequence)
                    )
                });
                if let Some(k) = k {
                    writes.push((
                        k,
                        DedupEntry {
                            message_id: id.clone(),
                            sequence: seq.clone(),
                            expires_ms: now + DEDUP_WINDOW_MS,
                        },
                    ));
                }
                out.push((id, seq, true));
            }
            for (k, d) in writes {
                let bytes =
                    serde_json::to_vec(&d).map_err(|e| AwsError::internal(e.to_string()))?;
                tx.kv_put(DEDUP_SPACE, k.as_bytes(), &bytes)?;
            }
            if fifo {
                let v =
                    serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
                tx.put_doc(TOPIC_KIND, &doc.name, v)?;
            }
            Ok(out)
        })
        .await?;
    let subs: Vec<SubDoc> = subscriptions(app)
        .into_iter()
        .filter(|s| s.topic_arn == t.arn && s.protocol == "sqs")
        .collect();
    let timestamp = tributary_model::clock::iso_millis(app.store.clock().now_millis());
    let mut out = Vec::with_capacity(msgs.len());
    for (m, (id, seq, new)) in msgs.into_iter().zip(ids) {
        if new {
            for s in &subs {
                deliver(app, t, s, &m, &id, seq.as_deref(), &timestamp).await;
            }
        }
        out.push(Published {
            message_id: id,
            sequence: seq,
        });
    }
    Ok(out)
}

/// The standard SNS notification envelope, formatted as SNS formats it for queues.
fn envelope(
    app: &Sns,
    t: &TopicDoc,
    s: &SubDoc,
    m: &Outgoing,
    id: &str,
    seq: Option<&str>,
    timestamp: &str,
) -> String {
    let q = |v: &str| serde_json::Value::String(v.to_owned()).to_string();
    let endpoint = app.cfg.endpoint_url.trim_end_matches('/');
    let version = t
        .attrs
        .get("SignatureVersion")
        .cloned()
        .unwrap_or_else(|| "1".into());
    let mut fields: Vec<(&str, String)> = vec![("Type", q("Notification")), ("MessageId", q(id))];
    if let Some(seq) = seq {
        fields.push(("SequenceNumber", q(seq)));
    }
    fields.push(("TopicArn", q(&t.arn)));
    if let Some(subject) = &m.subject {
        fields.push(("Subject", q(subject)));
    }
    fields.push(("Message", q(&m.for_sqs)));
    fields.push(("Timestamp", q(timestamp)));
    // The signature cannot be AWS's (that needs AWS's private key); it is a digest of the
    // string AWS would sign, so it is stable and unique per notification.
    let mut to_sign = format!("Message\n{}\nMessageId\n{id}\n", m.for_sqs);
    if let Some(subject) = &m.subject {
        to_sign.push_str(&format!("Subject\n{subject}\n"));
    }
    to_sign.push_str(&format!(
        "Timestamp\n{timestamp}\nTopicArn\n{}\nType\nNotification\n",
        t.arn
    ));
    let signature = STANDARD.encode(Sha256::digest(to_sign.as_bytes()));
    fields.push(("SignatureVersion", q(&version)));
    fields.push(("Signature", q(&signature)));
    fields.push((
        "SigningCertURL",
        q(&format!(
            "{endpoint}/SimpleNotificationService-tributary.pem"
        )),
    ));
    fields.push((
        "UnsubscribeURL",
        q(&format!(
            "{endpoint}/?Action=Unsubscribe&SubscriptionArn={}",
            s.arn
        )),
    ));
    if !m.attrs.is_empty() {
        let attrs: Vec<String> = m
            .attrs
            .iter()
            .map(|(k, v)| {
                let value = match &v.binary_value {
                    Some(b) if v.data_type.starts_with("Binary") => STANDARD.encode(b),
                    _ => v.string_value.clone().unwrap_or_default(),
                };
                format!(
                    "    {} : {{\"Type\":{},\"Value\":{}}}",
                    q(k),
                    q(&v.data_type),
                    q(&value)
                )
            })
            .collect();
        fields.push((
            "MessageAttributes",
            format!("{{\n{}\n  }}", attrs.join(",\n")),
        ));
    }
    let body: Vec<String> = fields
        .into_iter()
        .map(|(k, v)| format!("  \"{k}\" : {v}"))
        .collect();
    format!("{{\n{}\n}}", body.join(",\n"))
}

/// Delivers one message to one `sqs` subscription; a failed delivery goes to the
/// subscription's dead-letter queue if it has one, else it is logged and dropped, as SNS drops
/// messages it cannot deliver.
async fn deliver(
    app: &Sns,
    t: &TopicDoc,
    s: &SubDoc,
    m: &Outgoing,
    id: &str,
    seq: Option<&str>,
    timestamp: &str,
) {
    let (body, attributes) = if s.raw() {
        (m.for_sqs.clone(), m.attrs.clone())
    } else {
        (envelope(app, t, s, m, id, seq, timestamp), BTreeMap::new())
    };
    let fifo_queue = sqs::is_fifo(&s.endpoint);
    let delivery = Delivery {
        body,
        attributes,
        group_id: m.group_id.clone().filter(|_| fifo_queue),
        dedup_id: m.dedup_id.clone().filter(|_| fifo_queue),
    };
    let Err(e) = app.queues.send(&s.endpoint, delivery.clone()).await else {
        return;
    };
    tracing::warn!(
        subscription = %s.arn, queue = %s.endpoint, code = e.code, message = %e.message,
        "sns delivery failed"
    );
    if let Some(dlq) = s.dead_letter_queue() {
        let fifo_dlq = sqs::is_fifo(&dlq);
        let retry = Delivery {
            group_id: delivery.group_id.filter(|_| fifo_dlq),
            dedup_id: delivery.dedup_id.filter(|_| fifo_dlq),
            ..delivery
        };
        if let Err(e) = app.queues.send(&dlq, retry).await {
            tracing::warn!(
                subscription = %s.arn, queue = %dlq, code = e.code, message = %e.message,
                "sns dead-letter delivery failed"
            );
        }
    }
}

/// Resolves Publish's target: `TopicArn`, or a topic given as `TargetArn`.
fn publish_target(app: &Sns, i: &types::PublishInput) -> Result<TopicDoc, AwsError> {
    if i.phone_number.is_some() {
        return Err(invalid(
            "PhoneNumber Reason: SMS delivery is not supported by this endpoint",
        ));
    }
    match (i.topic_arn.as_deref(), i.target_arn.as_deref()) {
        (Some(arn), _) => topic_param(app, arn, "TopicArn"),
        (None, Some(target)) => {
            check_arn_shape("TargetArn", target)?;
            if target.split(':').nth(2) == Some("sns") && !target.contains("endpoint/") {
                lookup_topic(app, target).ok_or_else(topic_not_found)
            } else {
                Err(invalid(
                    "TargetArn Reason: No endpoint found for the target arn specified",
                ))
            }
        }
        (None, None) => Err(invalid(
            "TopicArn or TargetArn Reason: no value for required parameter",
        )),
    }
}

async fn publish(app: &Sns, i: types::PublishInput) -> Result<types::PublishResponse, AwsError> {
    let t = publish_target(app, &i)?;
    // Publish's message members are a batch entry's.
    let m = prepare(
        &t,
        types::PublishBatchRequestEntry {
            // Publish has no entry id; `prepare` does not read it.
            id: String::new(),
            message: i.message,
            subject: i.subject,
            message_structure: i.message_structure,
            message_attributes: i.message_attributes,
            message_deduplication_id: i.message_deduplication_id,
            message_group_id: i.message_group_id,
        },
    )?;
    let published = publish_all(app, &t, vec![m]).await?;
    let first = published
        .into_iter()
        .next()
        .ok_or_else(|| AwsError::internal("message not published"))?;
    Ok(types::PublishResponse {
        message_id: Some(first.message_id),
        sequence_number: first.sequence,
    })
}

async fn publish_batch(
    app: &Sns,
    i: types::PublishBatchInput,
) -> Result<types::PublishBatchResponse, AwsError> {
    let t = topic_param(app, &i.topic_arn, "TopicArn")?;
    let entries = i.publish_batch_request_entries;
    if entries.is_empty() {
        return Err(AwsError::new(
            "EmptyBatchRequest",
            400,
            "The batch request doesn't contain any entries.",
        ));
    }
    if entries.len() > MAX_BATCH {
        return Err(AwsError::new(
            "TooManyEntriesInBatchRequest",
            400,
            "The batch request contains more entries than permissible.",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for e in &entries {
        let id = e.id.as_str();
        let valid = !id.is_empty()
            && id.len() <= 80
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(AwsError::new(
                "InvalidBatchEntryId",
                400,
                "The Id of a batch entry in a batch request doesn't abide by the specification.",
            ));
        }
        if !seen.insert(id) {
            return Err(AwsError::new(
                "BatchEntryIdsNotDistinct",
                400,
                "Two or more batch entries in the request have the same Id.",
            ));
        }
    }
    // Each entry with its attributes read once, for the total size and for the entry itself.
    let entries: Vec<_> = entries
        .into_iter()
        .map(|mut e| {
            let attrs = message_attributes(e.message_attributes.take());
            (e, attrs)
        })
        .collect();
    // An entry whose attributes are invalid counts its message only (it fails on its own).
    let total: usize = entries
        .iter()
        .map(|(e, attrs)| match attrs {
            Ok(a) => publish_size(&e.message, a),
            Err(_) => e.message.len(),
        })
        .sum();
    if total > MAX_MESSAGE_BYTES {
        return Err(AwsError::new(
            "BatchRequestTooLong",
            400,
            "The length of all the messages put together is more than the limit.",
        ));
    }
    let mut failed = Vec::new();
    let mut ids = Vec::new();
    let mut msgs = Vec::new();
    for (mut e, attrs) in entries {
        let id = std::mem::take(&mut e.id);
        match prepare_checked(&t, e, attrs) {
            Ok(m) => {
                ids.push(id);
                msgs.push(m);
            }
            Err(err) => failed.push(types::BatchResultErrorEntry {
                id,
                code: err.code.to_owned(),
                message: Some(err.message),
                sender_fault: err.status < 500,
            }),
        }
    }
    let published = publish_all(app, &t, msgs).await?;
    Ok(types::PublishBatchResponse {
        successful: Some(
            ids.into_iter()
                .zip(published)
                .map(|(id, pb)| types::PublishBatchResultEntry {
                    id: Some(id),
                    message_id: Some(pb.message_id),
                    sequence_number: pb.sequence,
                })
                .collect(),
        ),
        failed: Some(failed),
    })
}

// ------------------------------------------------------------------------------------------
// the internal API: event source mapping destinations

/// Whether `arn` names an existing topic of this server.
pub fn topic_exists_by_arn(app: &Sns, arn: &str) -> bool {
    lookup_topic(app, arn).is_some()
}

pub use tributary_service::peers::is_fifo;

/// Publishes `message` (with an optional `subject`) to the topic `topic_arn` as Publish does,
/// delivering to its subscriptions; returns the message id. Fails with `NotFound` for an
/// unknown topic and with `InvalidParameter` where Publish would (a FIFO topic needs a message
/// group, which this call has none of).
pub async fn publish_to_topic_arn(
    app: &Sns,
    topic_arn: &str,
    message: String,
    subject: Option<String>,
) -> Result<String, AwsError> {
    let t = lookup_topic(app, topic_arn).ok_or_else(topic_not_found)?;
    let m = prepare(
        &t,
        types::PublishBatchRequestEntry {
            message,
            subject,
            // No entry id, message structure, attributes, or FIFO ids.
            ..Default::default()
        },
    )?;
    let published = publish_all(app, &t, vec![m]).await?;
    published
        .into_iter()
        .next()
        .map(|p| p.message_id)
        .ok_or_else(|| AwsError::internal("message not published"))
}

#[cfg(test)]
mod wire_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_shapes() {
        let e = check_arn_shape("TopicArn", "nope").unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1"
        );
        assert!(check_arn_shape("TopicArn", "arn:aws:sns:us-east-1:000000000000:t").is_ok());
        assert!(is_fifo("arn:aws:sns:us-east-1:000000000000:t.fifo"));
        assert!(!is_fifo("arn:aws:sns:us-east-1:000000000000:t"));
    }

    #[test]
    fn default_policy_is_aws_shaped_json() {
        let arn = "arn:aws:sns:us-east-1:000000000000:t";
        let p = default_policy("000000000000", arn);
        assert!(p.starts_with(r#"{"Version":"2008-10-17","Id":"__default_policy_ID""#));
        let v: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v["Statement"][0]["Resource"], arn);
        assert_eq!(
            v["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceOwner"],
            "000000000000"
        );
        assert_eq!(v["Statement"][0]["Action"].as_array().unwrap().len(), 8);
    }

    #[test]
    fn message_attributes_are_validated() {
        let attr = |v: &str| {
            let mut m = BTreeMap::new();
            m.insert(
                "attr1".to_owned(),
                types::MessageAttributeValue {
                    data_type: "String".into(),
                    string_value: Some(v.into()),
                    binary_value: None,
                },
            );
            Some(m)
        };
        assert_eq!(
            message_attributes(attr("")).unwrap_err().message,
            "The message attribute 'attr1' must contain non-empty message attribute value for \
             message attribute type 'String'."
        );
        let a = message_attributes(attr("v")).unwrap();
        assert_eq!(a["attr1"].string_value.as_deref(), Some("v"));
    }
}

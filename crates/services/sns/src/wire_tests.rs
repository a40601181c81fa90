//! SNS through its query protocol, on an in-memory store with a recording queue peer: inputs
//! read as the generated types, answers written from the generated outputs in model order.

use std::sync::{Arc, Mutex};

use tributary_model::ManualClock;
use tributary_service::peers::{Queues, Topics};

use super::*;

const T: &str = "arn:aws:sns:us-east-1:000000000000:";
const Q: &str = "arn:aws:sqs:us-east-1:000000000000:";

/// Every message sent to a queue: (queue ARN, message).
#[derive(Default)]
struct Sent(Mutex<Vec<(String, Delivery)>>);

#[async_trait::async_trait]
impl Queues for Sent {
    fn exists(&self, _arn: &str) -> bool {
        true
    }

    async fn send(&self, arn: &str, m: Delivery) -> Result<String, AwsError> {
        self.0.lock().unwrap().push((arn.to_owned(), m));
        Ok("id".into())
    }
}

struct H {
    sns: Sns,
    sent: Arc<Sent>,
}

fn harness() -> H {
    let clock = ManualClock::new(1_700_000_000_000);
    let store = Store::open(None, clock).expect("a store");
    let cfg = Arc::new(Config {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        endpoint_url: "http://127.0.0.1:4566".into(),
        work_dir: std::env::temp_dir(),
        stream_shards: 1,
        shard_rollover_ms: 1,
        log_retention_days: None,
        stream_retention_ms: 1,
        metrics_retention_ms: 1,
    });
    let sent = Arc::new(Sent::default());
    H {
        sns: Sns::new(cfg, store, sent.clone()),
        sent,
    }
}

fn form(pairs: &[(&str, &str)]) -> Bytes {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    Bytes::from(body.join("&"))
}

impl H {
    /// The status and the body of one request, the request id removed.
    async fn call(&self, pairs: &[(&str, &str)]) -> (u16, String) {
        let uri: Uri = "/".parse().unwrap();
        let r = handle_query(&self.sns, &uri, &form(pairs)).await;
        let status = r.status().as_u16();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        let body = match body.find("<ResponseMetadata>") {
            Some(i) => body[..i].to_owned(),
            None => body,
        };
        (status, body)
    }

    /// The `<...Result>` element of a successful request.
    async fn ok(&self, pairs: &[(&str, &str)]) -> String {
        let (status, body) = self.call(pairs).await;
        assert_eq!(status, 200, "{body}");
        let start = body
            .find("Response xmlns=")
            .map_or(0, |i| i + body[i..].find('>').unwrap() + 1);
        body[start..].to_owned()
    }

    /// The status, code and message of a failed request.
    async fn err(&self, pairs: &[(&str, &str)]) -> (u16, String, String) {
        let (status, body) = self.call(pairs).await;
        let between = |a: &str, b: &str| {
            let i = body.find(a).unwrap_or_else(|| panic!("{body}")) + a.len();
            body[i..i + body[i..].find(b).unwrap()].to_owned()
        };
        (
            status,
            between("<Code>", "</Code>"),
            between("<Message>", "</Message>").replace("&apos;", "'"),
        )
    }

    fn sent(&self) -> Vec<(String, Delivery)> {
        std::mem::take(&mut *self.sent.0.lock().unwrap())
    }
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> &'a str {
    let i = s.find(a).unwrap_or_else(|| panic!("{a} in {s}")) + a.len();
    &s[i..i + s[i..].find(b).unwrap()]
}

#[tokio::test]
async fn topic_answers_are_the_generated_outputs() {
    let h = harness();
    let arn = format!("{T}t1");
    assert_eq!(
        h.ok(&[("Action", "CreateTopic"), ("Name", "t1")]).await,
        format!("<CreateTopicResult><TopicArn>{arn}</TopicArn></CreateTopicResult>")
    );
    let attrs = h
        .ok(&[("Action", "GetTopicAttributes"), ("TopicArn", &arn)])
        .await;
    assert!(
        attrs.starts_with(
            "<GetTopicAttributesResult><Attributes><entry><key>DisplayName</key><value></value>\
             </entry><entry><key>EffectiveDeliveryPolicy</key>"
        ),
        "{attrs}"
    );
    assert!(attrs.ends_with(&format!(
        "<entry><key>TopicArn</key><value>{arn}</value></entry></Attributes>\
         </GetTopicAttributesResult>"
    )));
    // No output in the model: no Result element.
    assert_eq!(
        h.ok(&[
            ("Action", "SetTopicAttributes"),
            ("TopicArn", &arn),
            ("AttributeName", "DisplayName"),
            ("AttributeValue", "D"),
        ])
        .await,
        "",
    );
    assert_eq!(
        h.ok(&[("Action", "ListTopics")]).await,
        format!(
            "<ListTopicsResult><Topics><member><TopicArn>{arn}</TopicArn></member></Topics>\
             </ListTopicsResult>"
        )
    );
    // An empty output in the model: an empty Result element.
    assert_eq!(
        h.ok(&[
            ("Action", "TagResource"),
            ("ResourceArn", &arn),
            ("Tags.member.1.Key", "b"),
            ("Tags.member.1.Value", "2"),
            ("Tags.member.2.Key", "a"),
            ("Tags.member.2.Value", "1"),
        ])
        .await,
        "<TagResourceResult></TagResourceResult>"
    );
    assert_eq!(
        h.ok(&[("Action", "ListTagsForResource"), ("ResourceArn", &arn)])
            .await,
        "<ListTagsForResourceResult><Tags><member><Key>a</Key><Value>1</Value></member>\
         <member><Key>b</Key><Value>2</Value></member></Tags></ListTagsForResourceResult>"
    );
    assert_eq!(
        h.ok(&[
            ("Action", "UntagResource"),
            ("ResourceArn", &arn),
            ("TagKeys.member.1", "a"),
            // An element without a value of its own is no element.
            ("TagKeys.member.2.x", "b"),
        ])
        .await,
        "<UntagResourceResult></UntagResourceResult>"
    );
    assert!(h
        .ok(&[("Action", "ListTagsForResource"), ("ResourceArn", &arn)])
        .await
        .contains("<Tags><member><Key>b</Key><Value>2</Value></member></Tags>"));
    assert_eq!(
        h.err(&[
            ("Action", "ListTagsForResource"),
            ("ResourceArn", &format!("{T}zz"))
        ])
        .await,
        (
            404,
            "ResourceNotFound".into(),
            "Resource does not exist".into()
        )
    );
    assert_eq!(
        h.ok(&[("Action", "DeleteTopic"), ("TopicArn", &arn)]).await,
        ""
    );
    assert_eq!(
        h.ok(&[("Action", "ListTopics")]).await,
        "<ListTopicsResult><Topics></Topics></ListTopicsResult>"
    );
}

#[tokio::test]
async fn subscription_answers_are_the_generated_outputs() {
    let h = harness();
    let topic = format!("{T}t1");
    let queue = format!("{Q}q1");
    h.ok(&[("Action", "CreateTopic"), ("Name", "t1")]).await;
    let sub = h
        .ok(&[
            ("Action", "Subscribe"),
            ("TopicArn", &topic),
            ("Protocol", "sqs"),
            ("Endpoint", &queue),
            ("ReturnSubscriptionArn", "true"),
        ])
        .await;
    let arn = between(&sub, "<SubscriptionArn>", "</SubscriptionArn>").to_owned();
    assert!(arn.starts_with(&format!("{topic}:")), "{arn}");
    let member = format!(
        "<member><SubscriptionArn>{arn}</SubscriptionArn><Owner>000000000000</Owner>\
         <Protocol>sqs</Protocol><Endpoint>{queue}</Endpoint><TopicArn>{topic}</TopicArn>\
         </member>"
    );
    assert_eq!(
        h.ok(&[("Action", "ListSubscriptions")]).await,
        format!("<ListSubscriptionsResult><Subscriptions>{member}</Subscriptions></ListSubscriptionsResult>")
    );
    assert_eq!(
        h.ok(&[("Action", "ListSubscriptionsByTopic"), ("TopicArn", &topic)])
            .await,
        format!(
            "<ListSubscriptionsByTopicResult><Subscriptions>{member}</Subscriptions>\
             </ListSubscriptionsByTopicResult>"
        )
    );
    let attrs = h
        .ok(&[
            ("Action", "GetSubscriptionAttributes"),
            ("SubscriptionArn", &arn),
        ])
        .await;
    assert!(
        attrs.starts_with(
            "<GetSubscriptionAttributesResult><Attributes><entry>\
             <key>ConfirmationWasAuthenticated</key><value>true</value></entry>"
        ),
        "{attrs}"
    );
    assert!(attrs.contains("<entry><key>RawMessageDelivery</key><value>false</value></entry>"));
    assert_eq!(
        h.ok(&[
            ("Action", "SetSubscriptionAttributes"),
            ("SubscriptionArn", &arn),
            ("AttributeName", "RawMessageDelivery"),
            ("AttributeValue", "true"),
        ])
        .await,
        ""
    );
    // An attribute sent without its value is read as empty.
    assert_eq!(
        h.err(&[
            ("Action", "Subscribe"),
            ("TopicArn", &topic),
            ("Protocol", "sqs"),
            ("Endpoint", &format!("{Q}q2")),
            ("Attributes.entry.1.key", "RawMessageDelivery"),
        ])
        .await,
        (
            400,
            "InvalidParameter".into(),
            "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value []. Must be \
             true or false."
                .into()
        )
    );
    assert_eq!(
        h.err(&[
            ("Action", "ConfirmSubscription"),
            ("TopicArn", &topic),
            ("Token", "t")
        ])
        .await,
        (
            400,
            "InvalidParameter".into(),
            "Invalid parameter: Token".into()
        )
    );
    assert_eq!(
        h.ok(&[("Action", "Unsubscribe"), ("SubscriptionArn", &arn)])
            .await,
        ""
    );
    assert_eq!(
        h.ok(&[("Action", "ListSubscriptions")]).await,
        "<ListSubscriptionsResult><Subscriptions></Subscriptions></ListSubscriptionsResult>"
    );
}

#[tokio::test]
async fn publish_answers_and_deliveries() {
    let h = harness();
    let topic = format!("{T}t1");
    let fifo = format!("{T}f.fifo");
    h.ok(&[("Action", "CreateTopic"), ("Name", "t1")]).await;
    h.ok(&[
        ("Action", "CreateTopic"),
        ("Name", "f.fifo"),
        ("Attributes.entry.1.key", "FifoTopic"),
        ("Attributes.entry.1.value", "true"),
        ("Attributes.entry.2.key", "ContentBasedDeduplication"),
        ("Attributes.entry.2.value", "true"),
    ])
    .await;
    for (t, q) in [(&topic, format!("{Q}raw")), (&fifo, format!("{Q}raw.fifo"))] {
        h.ok(&[
            ("Action", "Subscribe"),
            ("TopicArn", t),
            ("Protocol", "sqs"),
            ("Endpoint", &q),
            ("Attributes.entry.1.key", "RawMessageDelivery"),
            ("Attributes.entry.1.value", "true"),
        ])
        .await;
    }
    let r = h
        .ok(&[
            ("Action", "Publish"),
            ("TopicArn", &topic),
            ("Message", "hello"),
            ("MessageAttributes.entry.1.Name", "s"),
            ("MessageAttributes.entry.1.Value.DataType", "String"),
            ("MessageAttributes.entry.1.Value.StringValue", "v"),
            ("MessageAttributes.entry.2.Name", "b"),
            ("MessageAttributes.entry.2.Value.DataType", "Binary"),
            // Read trimmed, as ever.
            ("MessageAttributes.entry.2.Value.BinaryValue", " AgME "),
            ("MessageAttributes.entry.3.Name", "t"),
            ("MessageAttributes.entry.3.Value.DataType", "String"),
            ("MessageAttributes.entry.3.Value.StringValue", "str"),
            // Not base64, and not read for a String attribute.
            ("MessageAttributes.entry.3.Value.BinaryValue", "%%"),
        ])
        .await;
    assert!(r.starts_with("<PublishResult><MessageId>"), "{r}");
    assert!(r.ends_with("</MessageId></PublishResult>"), "{r}");
    let sent = h.sent();
    assert_eq!(sent.len(), 1);
    let (queue, m) = &sent[0];
    assert_eq!(queue, &format!("{Q}raw"));
    assert_eq!(m.body, "hello");
    assert_eq!(
        m.attributes["b"].binary_value.as_deref(),
        Some(&[2u8, 3, 4][..])
    );
    assert_eq!(m.attributes["t"].string_value.as_deref(), Some("str"));
    assert_eq!(
        h.err(&[
            ("Action", "Publish"),
            ("TopicArn", &topic),
            ("Message", "m"),
            ("MessageAttributes.entry.1.Name", "b"),
            ("MessageAttributes.entry.1.Value.DataType", "Binary"),
            ("MessageAttributes.entry.1.Value.BinaryValue", "%%"),
        ])
        .await,
        (
            400,
            "ParameterValueInvalid".into(),
            "The message attribute 'b' must contain non-empty message attribute value for \
             message attribute type 'Binary'."
                .into()
        )
    );
    // An attribute with a name only is one without a type.
    assert_eq!(
        h.err(&[
            ("Action", "Publish"),
            ("TopicArn", &topic),
            ("Message", "m"),
            ("MessageAttributes.entry.1.Name", "a"),
        ])
        .await
        .2,
        "The message attribute 'a' must contain non-empty message attribute type."
    );
    let r = h
        .ok(&[
            ("Action", "Publish"),
            ("TopicArn", &fifo),
            ("Message", "m"),
            ("MessageGroupId", "g"),
        ])
        .await;
    assert!(
        r.contains(
            "</MessageId><SequenceNumber>10000000000000000001</SequenceNumber></PublishResult>"
        ),
        "{r}"
    );
    let sent = h.sent();
    assert_eq!(sent[0].1.group_id.as_deref(), Some("g"));
    // The content-based id is the message's digest.
    assert_eq!(
        sent[0].1.dedup_id.as_deref(),
        Some("62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a")
    );

    let r = h
        .ok(&[
            ("Action", "PublishBatch"),
            ("TopicArn", &fifo),
            ("PublishBatchRequestEntries.member.1.Id", "one"),
            ("PublishBatchRequestEntries.member.1.Message", "first"),
            ("PublishBatchRequestEntries.member.1.MessageGroupId", "g"),
            ("PublishBatchRequestEntries.member.2.Id", "two"),
            ("PublishBatchRequestEntries.member.2.Message", "second"),
        ])
        .await;
    let ok = between(&r, "<Successful>", "</Successful>");
    assert!(ok.starts_with("<member><Id>one</Id><MessageId>"), "{ok}");
    assert!(
        ok.ends_with("</MessageId><SequenceNumber>10000000000000000002</SequenceNumber></member>"),
        "{ok}"
    );
    assert_eq!(
        between(&r, "<Failed>", "</Failed>"),
        "<member><Id>two</Id><Code>InvalidParameter</Code><Message>Invalid parameter: The \
         MessageGroupId parameter is required for FIFO topics</Message>\
         <SenderFault>true</SenderFault></member>"
    );
    assert_eq!(h.sent().len(), 1);
}

#[tokio::test]
async fn the_model_is_read_before_any_handler() {
    let h = harness();
    assert_eq!(
        h.err(&[]).await,
        (400, "MissingAction".into(), "Missing Action".into())
    );
    assert_eq!(
        h.err(&[("Action", "Nope")]).await,
        (
            400,
            "InvalidAction".into(),
            "The action Nope is not valid for this web service.".into()
        )
    );
    // An operation of the model that is not served is validated first.
    let (_, code, message) = h.err(&[("Action", "AddPermission")]).await;
    assert_eq!(code, "ValidationError");
    assert!(
        message.starts_with("4 validation errors detected: "),
        "{message}"
    );
    assert_eq!(
        h.err(&[
            ("Action", "AddPermission"),
            ("TopicArn", "a"),
            ("Label", "l"),
            ("AWSAccountId.member.1", "1"),
            ("ActionName.member.1", "Publish"),
        ])
        .await
        .1,
        "InvalidAction"
    );
    assert_eq!(
        h.err(&[
            ("Action", "CreateTopic"),
            ("Name", "t"),
            ("Tags.member.1.Key", "k")
        ])
        .await,
        (
            400,
            "ValidationError".into(),
            "1 validation error detected: Value null at 'tags.1.member.value' failed to \
             satisfy constraint: Member must not be null"
                .into()
        )
    );
}

/// Where reading the request as the model's input differs from the hand-written reading it
/// replaced.
#[tokio::test]
async fn message_attributes_are_read_as_the_models_map() {
    let h = harness();
    let topic = format!("{T}t1");
    h.ok(&[("Action", "CreateTopic"), ("Name", "t1")]).await;
    // An entry without a name is the attribute with the empty name, refused.
    assert_eq!(
        h.err(&[
            ("Action", "Publish"),
            ("TopicArn", &topic),
            ("Message", "m"),
            ("MessageAttributes.entry.1.Value.DataType", "String"),
            ("MessageAttributes.entry.1.Value.StringValue", "x"),
        ])
        .await
        .2,
        "The message attribute name can not be empty."
    );
    // Several bad attributes: the first by name is reported (it was the first sent).
    assert_eq!(
        h.err(&[
            ("Action", "Publish"),
            ("TopicArn", &topic),
            ("Message", "m"),
            ("MessageAttributes.entry.1.Name", "zeta"),
            ("MessageAttributes.entry.1.Value.DataType", "Number"),
            ("MessageAttributes.entry.1.Value.StringValue", "x"),
            ("MessageAttributes.entry.2.Name", "alpha"),
            ("MessageAttributes.entry.2.Value.DataType", "String"),
            ("MessageAttributes.entry.2.Value.StringValue", ""),
        ])
        .await
        .2,
        "The message attribute 'alpha' must contain non-empty message attribute value for \
         message attribute type 'String'."
    );
}

#[tokio::test]
async fn the_internal_api_publishes_as_publish_does() {
    let h = harness();
    let topic = format!("{T}t1");
    h.ok(&[("Action", "CreateTopic"), ("Name", "t1")]).await;
    h.ok(&[
        ("Action", "Subscribe"),
        ("TopicArn", &topic),
        ("Protocol", "sqs"),
        ("Endpoint", &format!("{Q}raw")),
        ("Attributes.entry.1.key", "RawMessageDelivery"),
        ("Attributes.entry.1.value", "true"),
    ])
    .await;
    let mut attrs = BTreeMap::new();
    attrs.insert("n".to_owned(), MessageAttributeValue::string("Number", "7"));
    h.sns
        .publish_with_attributes(&topic, "x".into(), attrs)
        .await
        .unwrap();
    let sent = h.sent();
    assert_eq!(sent[0].1.body, "x");
    assert_eq!(sent[0].1.attributes["n"].string_value.as_deref(), Some("7"));
    Topics::publish(&h.sns, &topic, "body".into(), Some("s".into()))
        .await
        .unwrap();
    assert_eq!(h.sent()[0].1.body, "body");
    let e = Topics::publish(&h.sns, &format!("{T}zz"), "b".into(), None)
        .await
        .unwrap_err();
    assert_eq!(e.code, "NotFound");
}

#[test]
fn base64_is_recognised_as_the_engine_decodes_it() {
    let alphabet = [b'A', b'Q', b'B', b'g', b'+', b'/', b'=', b' ', b'%'];
    let mut words: Vec<Vec<u8>> = vec![Vec::new()];
    for _ in 0..4 {
        let longer: Vec<Vec<u8>> = words
            .iter()
            .filter(|w| w.len() == words.last().map_or(0, Vec::len))
            .flat_map(|w| {
                alphabet.iter().map(move |&c| {
                    let mut w = w.clone();
                    w.push(c);
                    w
                })
            })
            .collect();
        words.extend(longer);
    }
    words.extend([
        b"AgMEBQ==".to_vec(),
        b"AgMEBR==".to_vec(),
        b"AgME=Q==".to_vec(),
    ]);
    for w in words {
        assert_eq!(
            is_base64(&w),
            STANDARD.decode(&w).is_ok(),
            "{:?}",
            String::from_utf8_lossy(&w)
        );
    }
}

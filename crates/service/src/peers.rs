//! What one service needs from another, as narrow traits the binary wires. A service holds an
//! `Arc<dyn Queues>` (say), never the other service's crate, so services form no import
//! circle and a backend can be swapped (a remote queue, a test double) without touching them.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tributary_model::AwsError;

/// The value of a message attribute, as SQS's SendMessage takes it and ReceiveMessage and
/// SNS's raw delivery return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttributeValue {
    /// `String`, `Number` or `Binary`, optionally with a custom suffix (`Number.int`).
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(default, with = "b64_opt", skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttributeValue {
    /// A `String` (or `Number`) attribute.
    pub fn string(data_type: impl Into<String>, value: impl Into<String>) -> Self {
        MessageAttributeValue {
            data_type: data_type.into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    pub fn is_binary(&self) -> bool {
        self.data_type.starts_with("Binary")
    }

    /// The bytes the value contributes to the message size and its MD5.
    pub fn value_bytes(&self) -> &[u8] {
        if self.is_binary() {
            self.binary_value.as_deref().unwrap_or_default()
        } else {
            self.string_value.as_deref().unwrap_or_default().as_bytes()
        }
    }

    /// The JSON form (`{"DataType", "StringValue" | "BinaryValue"}`), binary as base64.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if self.is_binary() {
            let b = self.binary_value.as_deref().unwrap_or_default();
            m.insert("BinaryValue".into(), STANDARD.encode(b).into());
        } else {
            let s = self.string_value.clone().unwrap_or_default();
            m.insert("StringValue".into(), s.into());
        }
        m.insert("DataType".into(), self.data_type.clone().into());
        serde_json::Value::Object(m)
    }
}

/// Binary attribute values persist as base64 strings.
mod b64_opt {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| STANDARD.decode(s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A message another service sends to a queue.
#[derive(Debug, Clone, Default)]
pub struct QueueMessage {
    pub body: String,
    pub attributes: BTreeMap<String, MessageAttributeValue>,
    /// Required for FIFO queues.
    pub group_id: Option<String>,
    /// For FIFO queues without content-based deduplication.
    pub dedup_id: Option<String>,
}

/// Whether a queue or topic ARN names a FIFO one (their names end in `.fifo`).
pub fn is_fifo(arn: &str) -> bool {
    arn.rsplit(':').next().is_some_and(|n| n.ends_with(".fifo"))
}

/// SQS, as SNS subscriptions and on-failure destinations use it.
#[async_trait::async_trait]
pub trait Queues: Send + Sync + 'static {
    /// Whether `arn` names an existing queue.
    fn exists(&self, arn: &str) -> bool;
    /// Sends a message, validated as SendMessage validates it; answers the message id.
    /// `QueueDoesNotExist` for an unknown queue.
    async fn send(&self, arn: &str, message: QueueMessage) -> Result<String, AwsError>;
    /// The queue's access policy, for IAM checks.
    fn policy(&self, _arn: &str) -> Option<String> {
        None
    }
}

/// SNS, as on-failure destinations use it.
#[async_trait::async_trait]
pub trait Topics: Send + Sync + 'static {
    fn exists(&self, arn: &str) -> bool;
    /// Publishes as Publish does, delivering to the subscriptions; answers the message id.
    async fn publish(
        &self,
        arn: &str,
        message: String,
        subject: Option<String>,
    ) -> Result<String, AwsError>;
    /// Publishes with message attributes (String and Number ones), as Publish with
    /// `MessageAttributes` does.
    async fn publish_with_attributes(
        &self,
        arn: &str,
        message: String,
        attributes: BTreeMap<String, MessageAttributeValue>,
    ) -> Result<String, AwsError>;
    /// The topic's access policy, for IAM checks.
    fn policy(&self, _arn: &str) -> Option<String> {
        None
    }
}

/// S3, as on-failure destinations and Lambda's code from S3 use it.
#[async_trait::async_trait]
pub trait Objects: Send + Sync + 'static {
    /// Whether a bucket (by name or ARN) exists.
    fn bucket_exists(&self, bucket: &str) -> bool;
    /// Stores an object as PutObject does.
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), AwsError>;
    /// Reads a whole object (or one version of it), as GetObject does; S3's error when it is
    /// not there.
    fn get(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<Vec<u8>, AwsError>;
}

//! Stream records: how a committed item change is described, stored and rendered — as a
//! DynamoDB Streams `Record` (GetRecords) and as a record of a Lambda event.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::attr::Item;
use crate::size::item_size;

/// What the stream shows of each change (`StreamViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamViewType {
    #[serde(rename = "KEYS_ONLY")]
    KeysOnly,
    #[serde(rename = "NEW_IMAGE")]
    NewImage,
    #[serde(rename = "OLD_IMAGE")]
    OldImage,
    #[serde(rename = "NEW_AND_OLD_IMAGES")]
    NewAndOldImages,
}

impl StreamViewType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "KEYS_ONLY" => Self::KeysOnly,
            "NEW_IMAGE" => Self::NewImage,
            "OLD_IMAGE" => Self::OldImage,
            "NEW_AND_OLD_IMAGES" => Self::NewAndOldImages,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeysOnly => "KEYS_ONLY",
            Self::NewImage => "NEW_IMAGE",
            Self::OldImage => "OLD_IMAGE",
            Self::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }

    fn shows_new(self) -> bool {
        matches!(self, Self::NewImage | Self::NewAndOldImages)
    }

    fn shows_old(self) -> bool {
        matches!(self, Self::OldImage | Self::NewAndOldImages)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventName {
    #[serde(rename = "INSERT")]
    Insert,
    #[serde(rename = "MODIFY")]
    Modify,
    #[serde(rename = "REMOVE")]
    Remove,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Insert => "INSERT",
            EventName::Modify => "MODIFY",
            EventName::Remove => "REMOVE",
        }
    }
}

/// One change of one item, as stored in a shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "id")]
    pub event_id: String,
    #[serde(rename = "ev")]
    pub event_name: EventName,
    /// Position in the stream; rendered as a decimal string of at least 21 digits.
    #[serde(rename = "sq")]
    pub sequence: u128,
    /// Arrival time in the stream (server clock), milliseconds.
    #[serde(rename = "t")]
    pub arrival_ms: i64,
    #[serde(rename = "k")]
    pub keys: Item,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub new_image: Option<Item>,
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub old_image: Option<Item>,
    #[serde(rename = "z")]
    pub size_bytes: u64,
    #[serde(rename = "vt")]
    pub view_type: StreamViewType,
    /// A TTL expiry made this change (the record then carries `userIdentity`).
    #[serde(rename = "ttl", default, skip_serializing_if = "std::ops::Not::not")]
    pub ttl_delete: bool,
}

/// The smallest sequence number; every number is `SEQUENCE_BASE + n` so it has 21+ digits.
pub const SEQUENCE_BASE: u128 = 100_000_000_000_000_000_000;

impl StreamRecord {
    /// Describes a change from `old` to `new` (either may be absent, not both), shaping the
    /// images per `view_type` and computing `SizeBytes` as DynamoDB does.
    pub fn describe(
        event_id: String,
        sequence: u128,
        arrival_ms: i64,
        view_type: StreamViewType,
        keys: Item,
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> StreamRecord {
        let event_name = match (old, new) {
            (None, _) => EventName::Insert,
            (Some(_), Some(_)) => EventName::Modify,
            (Some(_), None) => EventName::Remove,
        };
        let new_image = new.filter(|_| view_type.shows_new()).cloned();
        let old_image = old.filter(|_| view_type.shows_old()).cloned();
        let size_bytes = (item_size(&keys)
            + new_image.as_ref().map_or(0, item_size)
            + old_image.as_ref().map_or(0, item_size)) as u64;
        StreamRecord {
            event_id,
            event_name,
            sequence,
            arrival_ms,
            keys,
            new_image,
            old_image,
            size_bytes,
            view_type,
            ttl_delete: false,
        }
    }

    pub fn sequence_number(&self) -> String {
        self.sequence.to_string()
    }

    /// The record as DynamoDB Streams `GetRecords` returns it.
    pub fn to_streams_json(&self, region: &str) -> Value {
        serde_json::to_value(self.wire(region, None)).unwrap_or(Value::Null)
    }

    /// The record as it appears in a Lambda event (`eventSourceARN` added by Lambda).
    pub fn to_lambda_json(&self, region: &str, stream_arn: &str) -> Value {
        serde_json::to_value(self.wire(region, Some(stream_arn))).unwrap_or(Value::Null)
    }

    /// Appends the Lambda-event form of the record as JSON text to `out`, without building
    /// an intermediate JSON value (the delivery hot path).
    pub fn write_lambda_json(&self, region: &str, stream_arn: &str, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail, and every field serializes.
        let _ = serde_json::to_writer(out, &self.wire(region, Some(stream_arn)));
    }

    fn wire<'a>(&'a self, region: &'a str, stream_arn: Option<&'a str>) -> WireRecord<'a> {
        WireRecord {
            event_id: &self.event_id,
            event_name: self.event_name.as_str(),
            event_version: "1.1",
            event_source: "aws:dynamodb",
            aws_region: region,
            dynamodb: WireDynamodb {
                // Rounded down to the second, serialized as a float (AWS clients assert a float).
                approximate_creation: self.arrival_ms.div_euclid(1000) as f64,
                keys: &self.keys,
                new_image: self.new_image.as_ref(),
                old_image: self.old_image.as_ref(),
                sequence_number: self.sequence_number(),
                size_bytes: self.size_bytes,
                view_type: self.view_type.as_str(),
            },
            event_source_arn: stream_arn,
            // GetRecords spells the members with capitals; Lambda events in lower case.
            user_identity: self.ttl_delete.then_some(if stream_arn.is_some() {
                UserIdentity::Lambda {
                    kind: "Service",
                    principal_id: "dynamodb.amazonaws.com",
                }
            } else {
                UserIdentity::Streams {
                    kind: "Service",
                    principal_id: "dynamodb.amazonaws.com",
                }
            }),
        }
    }
}

/// The wire form of a record, borrowing from it.
#[derive(Serialize)]
struct WireRecord<'a> {
    #[serde(rename = "eventID")]
    event_id: &'a str,
    #[serde(rename = "eventName")]
    event_name: &'static str,
    #[serde(rename = "eventVersion")]
    event_version: &'static str,
    #[serde(rename = "eventSource")]
    event_source: &'static str,
    #[serde(rename = "awsRegion")]
    aws_region: &'a str,
    dynamodb: WireDynamodb<'a>,
    #[serde(rename = "eventSourceARN", skip_serializing_if = "Option::is_none")]
    event_source_arn: Option<&'a str>,
    #[serde(rename = "userIdentity", skip_serializing_if = "Option::is_none")]
    user_identity: Option<UserIdentity>,
}

#[derive(Serialize)]
struct WireDynamodb<'a> {
    #[serde(rename = "ApproximateCreationDateTime")]
    approximate_creation: f64,
    #[serde(rename = "Keys")]
    keys: &'a Item,
    #[serde(rename = "NewImage", skip_serializing_if = "Option::is_none")]
    new_image: Option<&'a Item>,
    #[serde(rename = "OldImage", skip_serializing_if = "Option::is_none")]
    old_image: Option<&'a Item>,
    #[serde(rename = "SequenceNumber")]
    sequence_number: String,
    #[serde(rename = "SizeBytes")]
    size_bytes: u64,
    #[serde(rename = "StreamViewType")]
    view_type: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum UserIdentity {
    Lambda {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(rename = "principalId")]
        principal_id: &'static str,
    },
    Streams {
        #[serde(rename = "Type")]
        kind: &'static str,
        #[serde(rename = "PrincipalId")]
        principal_id: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::AttributeValue;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn images_follow_view_type_and_size_is_summed() {
        // From the recorded AWS sample: KEYS_ONLY {Username:"Fred"} = 12 bytes.
        let keys = item(&[("Username", AttributeValue::S("Fred".into()))]);
        let r = StreamRecord::describe(
            "e".into(),
            SEQUENCE_BASE,
            0,
            StreamViewType::KeysOnly,
            keys.clone(),
            None,
            Some(&keys),
        );
        assert_eq!(r.size_bytes, 12);
        assert_eq!(r.event_name, EventName::Insert);
        assert!(r.new_image.is_none());

        let r = StreamRecord::describe(
            "e".into(),
            SEQUENCE_BASE,
            0,
            StreamViewType::NewImage,
            keys.clone(),
            Some(&keys),
            None,
        );
        assert_eq!(r.event_name, EventName::Remove);
        assert!(r.new_image.is_none() && r.old_image.is_none());
    }

    #[test]
    fn renders_wire_shapes() {
        let keys = item(&[("pk", AttributeValue::S("a".into()))]);
        let r = StreamRecord::describe(
            "abc".into(),
            SEQUENCE_BASE + 5,
            1_764_085_660_123,
            StreamViewType::NewAndOldImages,
            keys.clone(),
            None,
            Some(&keys),
        );
        let v = r.to_lambda_json("us-east-1", "arn:s");
        assert_eq!(v["eventSourceARN"], "arn:s");
        assert_eq!(v["eventVersion"], "1.1");
        assert_eq!(v["dynamodb"]["SequenceNumber"], "100000000000000000005");
        assert_eq!(
            v["dynamodb"]["ApproximateCreationDateTime"].as_f64(),
            Some(1_764_085_660.0)
        );
        assert!(v["dynamodb"]["ApproximateCreationDateTime"].is_f64());
        assert!(r
            .to_streams_json("us-east-1")
            .get("eventSourceARN")
            .is_none());
        let mut bytes = Vec::new();
        r.write_lambda_json("us-east-1", "arn:s", &mut bytes);
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), v);
    }

    #[test]
    fn ttl_deletions_carry_the_service_identity_in_each_spelling() {
        let keys = item(&[("pk", AttributeValue::S("a".into()))]);
        let mut r = StreamRecord::describe(
            "e".into(),
            SEQUENCE_BASE,
            0,
            StreamViewType::KeysOnly,
            keys.clone(),
            Some(&keys),
            None,
        );
        assert!(r.to_lambda_json("r", "a").get("userIdentity").is_none());
        r.ttl_delete = true;
        assert_eq!(
            r.to_lambda_json("r", "a")["userIdentity"],
            serde_json::json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})
        );
        assert_eq!(
            r.to_streams_json("r")["userIdentity"],
            serde_json::json!({"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"})
        );
    }
}

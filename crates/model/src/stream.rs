//! Stream records: how a committed item change is described, stored and rendered — as a
//! DynamoDB Streams `Record` (GetRecords) and as a record of a Lambda event.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

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

    fn dynamodb_json(&self) -> Value {
        let mut d = Map::new();
        // Rounded down to the second, serialized as a float (AWS clients assert a float).
        let secs = self.arrival_ms.div_euclid(1000) as f64;
        d.insert("ApproximateCreationDateTime".into(), json!(secs));
        d.insert("Keys".into(), json!(self.keys));
        if let Some(n) = &self.new_image {
            d.insert("NewImage".into(), json!(n));
        }
        if let Some(o) = &self.old_image {
            d.insert("OldImage".into(), json!(o));
        }
        d.insert("SequenceNumber".into(), json!(self.sequence_number()));
        d.insert("SizeBytes".into(), json!(self.size_bytes));
        d.insert("StreamViewType".into(), json!(self.view_type.as_str()));
        Value::Object(d)
    }

    /// The record as DynamoDB Streams `GetRecords` returns it.
    pub fn to_streams_json(&self, region: &str) -> Value {
        let mut r = self.common_json(region);
        if self.ttl_delete {
            r.insert(
                "userIdentity".into(),
                json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}),
            );
        }
        Value::Object(r)
    }

    /// The record as it appears in a Lambda event (`eventSourceARN` added by Lambda).
    pub fn to_lambda_json(&self, region: &str, stream_arn: &str) -> Value {
        let mut r = self.common_json(region);
        r.insert("eventSourceARN".into(), json!(stream_arn));
        if self.ttl_delete {
            r.insert(
                "userIdentity".into(),
                json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"}),
            );
        }
        Value::Object(r)
    }

    fn common_json(&self, region: &str) -> Map<String, Value> {
        let mut r = Map::new();
        r.insert("eventID".into(), json!(self.event_id));
        r.insert("eventName".into(), json!(self.event_name.as_str()));
        r.insert("eventVersion".into(), json!("1.1"));
        r.insert("eventSource".into(), json!("aws:dynamodb"));
        r.insert("awsRegion".into(), json!(region));
        r.insert("dynamodb".into(), self.dynamodb_json());
        r
    }
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
    }
}

//! The runtime of the generated structures (`crates/services/*/src/types.rs`): the timestamp
//! and blob types, and the deserializer that reads a missing or `null` required member as its
//! default (the model validator has already refused it).

use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// A point in time, in milliseconds since the Unix epoch (UTC).
///
/// In JSON it is epoch seconds with a fraction (`1573690429.717`), as AWS's JSON protocols send
/// it; it reads that, an integer, or an ISO 8601 / RFC 3339 string (the query protocols' form).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    pub fn epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// `2019-11-14T00:13:49.717Z`.
    pub fn iso_millis(self) -> String {
        self.format("%Y-%m-%dT%H:%M:%S%.3fZ")
    }

    /// `2019-11-14T00:13:49Z`.
    pub fn iso_seconds(self) -> String {
        self.format("%Y-%m-%dT%H:%M:%SZ")
    }

    fn format(self, f: &str) -> String {
        chrono::DateTime::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .format(f)
            .to_string()
    }

    /// An RFC 3339 date-time (`2019-11-14T00:13:49Z`, with or without a fraction or offset).
    pub fn parse_iso(s: &str) -> Option<Timestamp> {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| Timestamp(d.timestamp_millis()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.epoch_seconds())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a timestamp (epoch seconds or ISO 8601)")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                if !v.is_finite() || v.abs() > 1e14 {
                    return Err(E::custom("timestamp out of range"));
                }
                Ok(Timestamp((v * 1000.0).round() as i64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                v.checked_mul(1000)
                    .map(Timestamp)
                    .ok_or_else(|| E::custom("timestamp out of range"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map_err(|_| E::custom("timestamp out of range"))
                    .and_then(|v| self.visit_i64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                if let Ok(n) = v.parse::<f64>() {
                    return self.visit_f64(n);
                }
                Timestamp::parse_iso(v).ok_or_else(|| E::custom("not an ISO 8601 timestamp"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Binary data; base64 in JSON and XML.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Blob(pub Vec<u8>);

impl Blob {
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Blob {
    fn from(v: Vec<u8>) -> Blob {
        Blob(v)
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Blob, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("base64-encoded binary data")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Blob, E> {
                base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map(Blob)
                    .map_err(|_| E::custom("not valid base64"))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A required member: `null` or absent reads as the type's default. The model validator runs
/// on the same input and answers AWS's `Member must not be null` before a handler sees it.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// An operation's input read from the (already validated) request object. A member of the
/// wrong JSON type fails here, naming its path (`Tags[0].Key`), for the caller to answer with
/// its protocol's serialization error.
pub fn from_object<T: serde::de::DeserializeOwned>(
    input: &serde_json::Map<String, serde_json::Value>,
) -> Result<T, TypeError> {
    serde_path_to_error::deserialize(input).map_err(|e| TypeError {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// A member of the wrong type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeError {
    /// `Tags[0].Key`; `.` for the input itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A structure written as JSON (every output of the JSON protocols).
pub fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    // Serializing these types cannot fail: every map key is a string and no value refuses.
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_seconds_integers_and_iso_and_write_seconds() {
        let t: Timestamp = serde_json::from_str("1573690429.717").unwrap();
        assert_eq!(t, Timestamp(1_573_690_429_717));
        let t: Timestamp = serde_json::from_str("1573690429").unwrap();
        assert_eq!(t.millis(), 1_573_690_429_000);
        let t: Timestamp = serde_json::from_str("\"2019-11-14T00:13:49.717Z\"").unwrap();
        assert_eq!(t, Timestamp(1_573_690_429_717));
        assert_eq!(
            serde_json::to_string(&Timestamp(1_573_690_429_717)).unwrap(),
            "1573690429.717"
        );
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }

    #[test]
    fn blobs_are_base64() {
        let b: Blob = serde_json::from_str("\"aGk=\"").unwrap();
        assert_eq!(b.0, b"hi");
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"aGk=\"");
        assert!(serde_json::from_str::<Blob>("\"%%\"").is_err());
    }
}

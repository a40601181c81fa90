//! DynamoDB attribute values and items, with the wire JSON form (`{"S":"x"}`) in both
//! directions. Parsing validates as DynamoDB does and words errors as DynamoDB words them.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::AwsError;
use crate::number;

/// An item: attribute name → value. Ordered so output and hashing are deterministic.
pub type Item = BTreeMap<String, AttributeValue>;

/// One DynamoDB value. Numbers are kept as canonical decimal strings (see [`number`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    S(String),
    N(String),
    B(Vec<u8>),
    Ss(Vec<String>),
    Ns(Vec<String>),
    Bs(Vec<Vec<u8>>),
    M(BTreeMap<String, AttributeValue>),
    L(Vec<AttributeValue>),
    Null,
    Bool(bool),
}

impl AttributeValue {
    /// The type descriptor as it appears on the wire (`S`, `N`, `SS`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
            AttributeValue::M(_) => "M",
            AttributeValue::L(_) => "L",
            AttributeValue::Null => "NULL",
            AttributeValue::Bool(_) => "BOOL",
        }
    }

    /// Parses and validates one wire value.
    pub fn from_json(v: &Value) -> Result<AttributeValue, AwsError> {
        let obj = v.as_object().ok_or_else(|| {
            AwsError::serialization("Start of structure or map found where not expected")
        })?;
        let mut iter = obj.iter();
        let (ty, inner) = match (iter.next(), iter.next()) {
            (None, _) => {
                return Err(AwsError::validation(
                    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(AwsError::validation(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                ))
            }
            (Some(pair), None) => pair,
        };
        let parsed = match ty.as_str() {
            "S" => AttributeValue::S(expect_str(inner)?.to_owned()),
            "N" => AttributeValue::N(parse_number(expect_str(inner)?)?),
            "B" => AttributeValue::B(decode_blob(inner)?),
            "SS" => {
                let items = expect_array(inner)?
                    .iter()
                    .map(|x| expect_str(x).map(str::to_owned))
                    .collect::<Result<Vec<_>, _>>()?;
                if items.is_empty() {
                    return Err(invalid("An string set  may not be empty"));
                }
                check_duplicates(&items, |s| s.clone())?;
                let mut items = items;
                // Sets are unordered: keep one canonical order so equal sets compare equal.
                items.sort();
                AttributeValue::Ss(items)
            }
            "NS" => {
                let raw = expect_array(inner)?
                    .iter()
                    .map(|x| expect_str(x).map(str::to_owned))
                    .collect::<Result<Vec<_>, _>>()?;
                if raw.is_empty() {
                    return Err(invalid("An number set  may not be empty"));
                }
                let items = raw
                    .iter()
                    .map(|s| parse_number(s))
                    .collect::<Result<Vec<_>, _>>()?;
                // Duplicates are judged on the numeric value (1 and 1.0 are the same number).
                if has_duplicates(&items) {
                    return Err(invalid(format!(
                        "Input collection [{}] contains duplicates.",
                        raw.join(", ")
                    )));
                }
                let mut items = items;
                items.sort_by(|a, b| number::compare(a, b));
                AttributeValue::Ns(items)
            }
            "BS" => {
                let items = expect_array(inner)?
                    .iter()
                    .map(decode_blob)
                    .collect::<Result<Vec<_>, _>>()?;
                if items.is_empty() {
                    return Err(invalid("Binary sets should not be empty"));
                }
                check_duplicates(&items, |b| B64.encode(b))?;
                let mut items = items;
                items.sort();
                AttributeValue::Bs(items)
            }
            "M" => {
                let map = inner
                    .as_object()
                    .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))?;
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    out.insert(k.clone(), AttributeValue::from_json(v)?);
                }
                AttributeValue::M(out)
            }
            "L" => AttributeValue::L(
                expect_array(inner)?
                    .iter()
                    .map(AttributeValue::from_json)
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            "NULL" => match inner {
                Value::Bool(true) => AttributeValue::Null,
                Value::Bool(false) => {
                    return Err(invalid(
                        "Null attribute value types must have the value of true",
                    ))
                }
                _ => return Err(AwsError::serialization("Unexpected value type in payload")),
            },
            "BOOL" => match inner {
                Value::Bool(b) => AttributeValue::Bool(*b),
                _ => return Err(AwsError::serialization("Unexpected value type in payload")),
            },
            other => {
                return Err(AwsError::serialization(format!(
                    "Unknown AttributeValue type: {other}"
                )))
            }
        };
        Ok(parsed)
    }

    /// The wire JSON form.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Parses a wire map of attribute values (an item, a key, `ExpressionAttributeValues`).
pub fn item_from_json(v: &Value) -> Result<Item, AwsError> {
    let obj = v
        .as_object()
        .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))?;
    let mut item = Item::new();
    for (k, v) in obj {
        item.insert(k.clone(), AttributeValue::from_json(v)?);
    }
    Ok(item)
}

/// The wire JSON form of an item.
pub fn item_to_json(item: &Item) -> Value {
    serde_json::to_value(item).unwrap_or(Value::Null)
}

fn invalid(msg: impl AsRef<str>) -> AwsError {
    AwsError::validation(format!(
        "One or more parameter values were invalid: {}",
        msg.as_ref()
    ))
}

fn expect_str(v: &Value) -> Result<&str, AwsError> {
    v.as_str()
        .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))
}

fn expect_array(v: &Value) -> Result<&Vec<Value>, AwsError> {
    v.as_array()
        .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))
}

fn parse_number(s: &str) -> Result<String, AwsError> {
    number::canonicalize(s).map_err(|e| AwsError::validation(e.to_string()))
}

fn decode_blob(v: &Value) -> Result<Vec<u8>, AwsError> {
    let s = expect_str(v)?;
    B64.decode(s).map_err(|_| {
        AwsError::serialization(
            "Base64 encoded length is expected a multiple of 4 bytes but found: ".to_owned()
                + &s.len().to_string(),
        )
    })
}

fn check_duplicates<T, F: Fn(&T) -> String>(items: &[T], show: F) -> Result<(), AwsError> {
    let mut seen = std::collections::HashSet::new();
    for it in items {
        if !seen.insert(show(it)) {
            let all: Vec<String> = items.iter().map(&show).collect();
            return Err(invalid(format!(
                "Input collection [{}] contains duplicates.",
                all.join(", ")
            )));
        }
    }
    Ok(())
}

fn has_duplicates(canonical: &[String]) -> bool {
    let mut seen = std::collections::HashSet::new();
    canonical.iter().any(|n| !seen.insert(n.as_str()))
}

impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(1))?;
        match self {
            AttributeValue::S(s) => m.serialize_entry("S", s)?,
            AttributeValue::N(n) => m.serialize_entry("N", n)?,
            AttributeValue::B(b) => m.serialize_entry("B", &B64.encode(b))?,
            AttributeValue::Ss(v) => m.serialize_entry("SS", v)?,
            AttributeValue::Ns(v) => m.serialize_entry("NS", v)?,
            AttributeValue::Bs(v) => m.serialize_entry("BS", &Blobs(v))?,
            AttributeValue::M(v) => m.serialize_entry("M", v)?,
            AttributeValue::L(v) => m.serialize_entry("L", v)?,
            AttributeValue::Null => m.serialize_entry("NULL", &true)?,
            AttributeValue::Bool(b) => m.serialize_entry("BOOL", b)?,
        }
        m.end()
    }
}

struct Blobs<'a>(&'a [Vec<u8>]);

impl Serialize for Blobs<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(Some(self.0.len()))?;
        for b in self.0 {
            seq.serialize_element(&B64.encode(b))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for AttributeValue {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(de)?;
        AttributeValue::from_json(&v).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_every_type() {
        let v = json!({"M": {
            "s": {"S": "x"}, "n": {"N": "1"}, "b": {"B": "Zm9vYmFy"},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["Zm9v"]},
            "l": {"L": [{"NULL": true}, {"BOOL": false}]}
        }});
        let av = AttributeValue::from_json(&v).unwrap();
        assert_eq!(av.to_json(), v);
    }

    #[test]
    fn rejects_empty_and_ambiguous_values() {
        let e = AttributeValue::from_json(&json!({})).unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.starts_with("Supplied AttributeValue is empty"));
        let e = AttributeValue::from_json(&json!({"S": "a", "N": "1"})).unwrap_err();
        assert!(e.message.contains("more than one datatypes"));
    }

    #[test]
    fn equal_sets_compare_equal_whatever_their_order() {
        let a = AttributeValue::from_json(&json!({"SS": ["b", "a"]})).unwrap();
        let b = AttributeValue::from_json(&json!({"SS": ["a", "b"]})).unwrap();
        assert_eq!(a, b);
        let a = AttributeValue::from_json(&json!({"NS": ["10", "9", "1.0"]})).unwrap();
        assert_eq!(
            a,
            AttributeValue::Ns(vec!["1".into(), "9".into(), "10".into()])
        );
    }

    #[test]
    fn rejects_empty_and_duplicate_sets() {
        let e = AttributeValue::from_json(&json!({"SS": []})).unwrap_err();
        assert!(e.message.contains("may not be empty"));
        let e = AttributeValue::from_json(&json!({"SS": ["a", "a"]})).unwrap_err();
        assert!(e.message.contains("contains duplicates"));
    }
}

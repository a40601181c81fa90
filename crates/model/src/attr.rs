//! DynamoDB attribute values and items, with the wire JSON form (`{"S":"x"}`) in both
//! directions. Parsing validates as DynamoDB does and words errors as DynamoDB words them.
//!
//! Parsing is the only place a value's depth is checked, and it checks before it recurses, so
//! every value in the program is at most [`MAX_NESTING_LEVELS`] deep (or, read back from
//! storage, [`STORED_NESTING_LEVELS`]): the recursive functions over values (size, equality,
//! serialization, clone, drop) never meet a deeper one.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::AwsError;
use crate::number;

/// DynamoDB's nesting limit: a top-level attribute is level 1 and each map or list puts its
/// contents one level deeper, so at most 31 maps and lists may enclose one another (a 32nd is
/// refused even when empty). AWS's SDK integration tests put 31 nested maps and expect 32 to be
/// refused; emulators that captured AWS's answers agree.
pub const MAX_NESTING_LEVELS: usize = 32;

/// DynamoDB's answer (a `ValidationException`) to a value nested deeper than
/// [`MAX_NESTING_LEVELS`].
pub const NESTING_LIMIT_MESSAGE: &str =
    "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit";

/// The nesting accepted when values are read back with `Deserialize` (from storage): versions
/// before the limit was checked stored deeper items, and those stay readable. Nothing could
/// store deeper than this: serde_json refuses JSON nested more than 128 levels, and each map
/// takes two.
pub const STORED_NESTING_LEVELS: usize = 64;

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

    /// Parses and validates one wire value, with DynamoDB's nesting limit
    /// ([`MAX_NESTING_LEVELS`]).
    pub fn from_json(v: &Value) -> Result<AttributeValue, AwsError> {
        Self::parse(v, 1, MAX_NESTING_LEVELS)
    }

    /// Parses the value at nesting `level`; a map or list at `max_levels` would put its contents
    /// deeper than allowed, so it is refused before anything below it is looked at. Only maps
    /// and lists recurse, and with a small frame: everything else is [`AttributeValue::scalar`].
    fn parse(v: &Value, level: usize, max_levels: usize) -> Result<AttributeValue, AwsError> {
        let (ty, inner) = type_and_value(v)?;
        Ok(match ty {
            "M" => {
                let map = inner
                    .as_object()
                    .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))?;
                if level >= max_levels {
                    return Err(AwsError::validation(NESTING_LIMIT_MESSAGE));
                }
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    out.insert(k.clone(), AttributeValue::parse(v, level + 1, max_levels)?);
                }
                AttributeValue::M(out)
            }
            "L" => {
                let list = expect_array(inner)?;
                if level >= max_levels {
                    return Err(AwsError::validation(NESTING_LIMIT_MESSAGE));
                }
                let mut out = Vec::with_capacity(list.len());
                for v in list {
                    out.push(AttributeValue::parse(v, level + 1, max_levels)?);
                }
                AttributeValue::L(out)
            }
            _ => return AttributeValue::scalar(ty, inner),
        })
    }

    /// A value of a type other than `M` and `L`.
    #[inline(never)]
    fn scalar(ty: &str, inner: &Value) -> Result<AttributeValue, AwsError> {
        let parsed = match ty {
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

/// An item as the generated service types hold one: attribute name → wire `AttributeValue`
/// JSON.
pub type WireItem = BTreeMap<String, Value>;

/// A stored item in the generated types' form: its names moved, its values rendered once.
pub fn item_into_wire(item: Item) -> WireItem {
    // Inserted one by one: `collect` would buffer the entries in a `Vec` first.
    let mut a = WireItem::new();
    for (k, v) in item {
        a.insert(k, v.to_json());
    }
    a
}

/// A [`WireItem`] as the JSON object an answer carries, its values moved.
pub fn wire_item_json(a: WireItem) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in a {
        m.insert(k, v);
    }
    Value::Object(m)
}

/// The single `type: value` member of a wire value.
#[inline(never)]
fn type_and_value(v: &Value) -> Result<(&str, &Value), AwsError> {
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
    Ok((ty.as_str(), inner))
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

/// Reads values this program wrote (storage), allowing [`STORED_NESTING_LEVELS`]. The
/// intermediate `Value` is only as deep as the deserializer allows (serde_json: 128 levels).
impl<'de> Deserialize<'de> for AttributeValue {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(de)?;
        AttributeValue::parse(&v, 1, STORED_NESTING_LEVELS)
            .map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

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

    /// `wrappers` maps (or lists, alternating when `mixed`) around a string.
    fn nested(wrappers: usize, mixed: bool) -> Value {
        let mut v = json!({"S": "x"});
        for i in 0..wrappers {
            v = if mixed && i % 2 == 1 {
                json!({ "L": [v] })
            } else {
                json!({ "M": { "k": v } })
            };
        }
        v
    }

    /// Takes a value apart without recursing: dropping a 100,000-deep `Value` the normal way
    /// would overflow the stack of the test itself.
    fn dismantle(v: Value) {
        let mut pending = vec![v];
        while let Some(mut v) = pending.pop() {
            match &mut v {
                Value::Object(m) => pending.extend(std::mem::take(m).into_iter().map(|(_, x)| x)),
                Value::Array(a) => pending.append(a),
                _ => {}
            }
        }
    }

    fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(s, f)
                .expect("spawn a test thread")
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    #[test]
    fn nesting_is_limited_to_32_levels() {
        on_small_stack(|| {
            for mixed in [false, true] {
                let deepest = nested(MAX_NESTING_LEVELS - 1, mixed);
                let av = AttributeValue::from_json(&deepest).unwrap();
                // What the program then does with values: all of it fits the small stack.
                assert_eq!(av.to_json(), deepest);
                assert_eq!(av.clone(), av);
                assert!(crate::size::attr_size(&av) > 0);
                let bytes = serde_json::to_vec(&av).unwrap();
                assert_eq!(
                    serde_json::from_slice::<AttributeValue>(&bytes).unwrap(),
                    av
                );
                let e = AttributeValue::from_json(&nested(MAX_NESTING_LEVELS, mixed)).unwrap_err();
                assert_eq!(
                    (e.code, e.status, e.message.as_str()),
                    ("ValidationException", 400, NESTING_LIMIT_MESSAGE)
                );
            }
            // The 32nd map is refused even when empty; the 31st may be empty.
            let empty_at = |wrappers: usize| {
                let mut v = json!({"M": {}});
                for _ in 1..wrappers {
                    v = json!({ "M": { "k": v } });
                }
                AttributeValue::from_json(&v)
            };
            assert!(empty_at(31).is_ok());
            assert_eq!(empty_at(32).unwrap_err().message, NESTING_LIMIT_MESSAGE);
            // Items and keys go through the same check.
            let e = item_from_json(&json!({"a": nested(32, false)})).unwrap_err();
            assert_eq!(e.message, NESTING_LIMIT_MESSAGE);
        });
    }

    #[test]
    fn pathological_nesting_fails_without_recursing() {
        let deep = || {
            let mut v = json!({"S": "x"});
            for _ in 0..100_000 {
                let mut m = Map::new();
                m.insert("M".to_owned(), json!({}));
                m["M"]
                    .as_object_mut()
                    .expect("a map")
                    .insert("k".to_owned(), v);
                v = Value::Object(m);
            }
            v
        };
        on_small_stack(|| {
            let v = deep();
            let e = AttributeValue::from_json(&v).unwrap_err();
            assert_eq!(e.message, NESTING_LIMIT_MESSAGE);
            dismantle(v);
        });
        // serde_json stops at 128 levels before anything of ours sees the value. Its own
        // recursion to that depth needs more than 256 KiB in a debug build (objects cost most),
        // so this part runs on 1 MiB; the server's worker threads have 2 MiB.
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(|| {
                let text = format!(
                    "{}{{\"S\":\"x\"}}{}",
                    "{\"M\":{\"k\":".repeat(100_000),
                    "}}".repeat(100_000)
                );
                let e = serde_json::from_str::<AttributeValue>(&text).unwrap_err();
                assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
                let e = serde_json::from_str::<Item>(&format!("{{\"a\":{text}}}")).unwrap_err();
                assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
            })
            .expect("spawn a test thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
    }

    #[test]
    fn stored_values_deeper_than_the_limit_stay_readable() {
        let deeper = nested(40, true);
        let text = deeper.to_string();
        let av: AttributeValue = serde_json::from_str(&text).unwrap();
        assert_eq!(av.to_json(), deeper);
        assert!(AttributeValue::from_json(&deeper).is_err());
        // JSON text cannot get that deep (two JSON levels a map), other deserializers can.
        let deepest = nested(STORED_NESTING_LEVELS - 1, false);
        assert!(AttributeValue::deserialize(deepest).is_ok());
        let e = AttributeValue::deserialize(nested(STORED_NESTING_LEVELS, false)).unwrap_err();
        assert!(e.to_string().contains(NESTING_LIMIT_MESSAGE), "{e}");
    }
}

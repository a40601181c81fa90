//! A query-protocol request (IAM, STS, SNS, CloudFormation, SQS's old form) read as its
//! operation's input shape, so the validator checks it exactly as it checks a JSON body.
//!
//! A query request spells its input as dotted names:
//! - scalars: `RoleName=r`;
//! - lists: `TagKeys.member.2=k` (`TagKeys.2=k` when the list is flattened, and the element's
//!   own wire name in place of `member` when the model gives one);
//! - maps: `Attributes.entry.1.key=a` and `Attributes.entry.1.value=v` (`Attributes.1.key` when
//!   flattened, and the model's key and value names, such as SNS's `Name`/`Value`);
//! - structures: `Tags.member.1.Key=k`.
//!
//! [`input`] walks the operation's input shape and collects those names into the JSON object
//! the model describes (`{"RoleName": "r", "Tags": [{"Key": "k"}]}`), with numbers and booleans
//! typed. Parameters the shape does not name are ignored, as AWS ignores them. The walk follows
//! the (static) shape tree, never the client's names, so its depth does not depend on the
//! request.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use crate::validate::{lower_first, validate_object, Options};
use crate::{Kind, OperationDef, Service, Shape};

/// Structures nested deeper than this in an input shape are not read (no query input comes
/// close; the bound only guards against a recursive shape).
const MAX_SHAPE_DEPTH: usize = 8;

/// The input of `op` read from query parameters. The error is AWS's validation message for a
/// number or boolean that does not parse (`1 validation error detected: Value 'x' at
/// 'maxItems' failed to satisfy constraint: Member must be a number`); callers give it their
/// protocol's error code. The result still has to be validated.
pub fn input(
    service: &Service,
    op: &OperationDef,
    params: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    if let Some(id) = op.input {
        Reader { service, params }.structure(service.shape(id), "", 0, &mut out)?;
    }
    Ok(out)
}

/// [`input`], then checked against the model with `opts`: the request as the operation's
/// input, or AWS's validation message (the query services answer it as `ValidationError`).
pub fn validated_input(
    service: &Service,
    op: &OperationDef,
    params: &BTreeMap<String, String>,
    opts: &Options<'_>,
) -> Result<Map<String, Value>, String> {
    let out = input(service, op, params)?;
    validate_object(service, op, &out, opts).map_err(|v| v.message())?;
    Ok(out)
}

struct Reader<'a> {
    service: &'a Service,
    params: &'a BTreeMap<String, String>,
}

impl Reader<'_> {
    fn structure(
        &self,
        shape: &Shape,
        prefix: &str,
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<(), String> {
        if depth > MAX_SHAPE_DEPTH {
            return Ok(());
        }
        for m in shape.members {
            let wire = m.location_name.unwrap_or(m.name);
            let key = format!("{prefix}{wire}");
            if let Some(v) = self.value(self.service.shape(m.shape), &key, depth)? {
                out.insert(m.name.to_owned(), v);
            }
        }
        Ok(())
    }

    /// The value of one member at `key`, or `None` when the request does not send it.
    fn value(&self, shape: &Shape, key: &str, depth: usize) -> Result<Option<Value>, String> {
        match shape.kind {
            Kind::Structure => {
                let mut m = Map::new();
                self.structure(shape, &format!("{key}."), depth + 1, &mut m)?;
                Ok((!m.is_empty()).then_some(Value::Object(m)))
            }
            Kind::List => {
                let Some(el_id) = shape.member else {
                    return Ok(None);
                };
                let base = self.collection_base(shape, key, shape.member_name.unwrap_or("member"));
                let indexes = self.indexes(&base);
                if indexes.is_empty() {
                    // botocore sends an empty list as the bare name with an empty value.
                    return Ok(self
                        .params
                        .get(key)
                        .filter(|v| v.is_empty())
                        .map(|_| Value::Array(Vec::new())));
                }
                let el = self.service.shape(el_id);
                let mut items = Vec::with_capacity(indexes.len());
                for i in indexes {
                    let item = self.value(el, &format!("{base}{i}"), depth + 1)?;
                    // The element was sent (some parameter carries its index); a structure
                    // whose every parameter is unknown is an empty structure, not a null.
                    items.push(item.unwrap_or_else(|| match el.kind {
                        Kind::Structure => Value::Object(Map::new()),
                        _ => Value::Null,
                    }));
                }
                Ok(Some(Value::Array(items)))
            }
            Kind::Map => {
                let (Some(_), Some(value_id)) = (shape.key, shape.value) else {
                    return Ok(None);
                };
                let base = self.collection_base(shape, key, "entry");
                let indexes = self.indexes(&base);
                if indexes.is_empty() {
                    return Ok(None);
                }
                let (key_name, value_name) = (
                    shape.key_name.unwrap_or("key"),
                    shape.value_name.unwrap_or("value"),
                );
                let value_shape = self.service.shape(value_id);
                let mut m = Map::new();
                for i in indexes {
                    let entry = format!("{base}{i}.");
                    // The entry was sent (some parameter carries its index): one without its
                    // key has the empty key, which the service refuses as it refuses an empty
                    // name (SNS: `The message attribute name can not be empty.`).
                    let k = self
                        .params
                        .get(&format!("{entry}{key_name}"))
                        .cloned()
                        .unwrap_or_default();
                    let v = self.value(value_shape, &format!("{entry}{value_name}"), depth + 1)?;
                    m.insert(k, v.unwrap_or(Value::Null));
                }
                Ok(Some(Value::Object(m)))
            }
            _ => self
                .params
                .get(key)
                .map(|text| scalar(shape, text, key))
                .transpose(),
        }
    }

    /// The prefix every element of a list or map at `key` starts with, up to its index:
    /// `Tags.member.` (or `Tags.` when flattened).
    fn collection_base(&self, shape: &Shape, key: &str, wrapper: &str) -> String {
        if shape.flattened {
            format!("{key}.")
        } else {
            format!("{key}.{wrapper}.")
        }
    }

    /// The distinct `N` of `<base>N...` parameters, in numeric order.
    fn indexes(&self, base: &str) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .params
            .range(base.to_owned()..)
            .take_while(|(k, _)| k.starts_with(base))
            .filter_map(|(k, _)| k[base.len()..].split('.').next()?.parse().ok())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn scalar(shape: &Shape, text: &str, key: &str) -> Result<Value, String> {
    let not_a = |what: &str| {
        format!(
            "1 validation error detected: Value '{text}' at '{}' failed to satisfy constraint: Member must be {what}",
            member_path(key)
        )
    };
    match shape.kind {
        Kind::Integer | Kind::Long => text
            .trim()
            .parse::<i64>()
            .map(|n| Value::Number(n.into()))
            .map_err(|_| not_a("a number")),
        Kind::Float | Kind::Double => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| not_a("a number")),
        Kind::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(not_a("a boolean")),
        },
        _ => Ok(Value::String(text.to_owned())),
    }
}

/// AWS's path of a query member in a message: `Tags.member.1.Key` is `tags.1.member.key`.
fn member_path(key: &str) -> String {
    let mut segments = Vec::new();
    for seg in key.split('.').filter(|s| *s != "member") {
        if seg.parse::<u32>().is_ok() {
            segments.push(seg.to_owned());
            segments.push("member".to_owned());
        } else {
            segments.push(lower_first(seg));
        }
    }
    segments.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::{iam, sns};

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn lists_of_structures_and_scalars() {
        let op = iam::Operation::from_name("CreateRole").unwrap().def();
        let p = params(&[
            ("Action", "CreateRole"),
            ("RoleName", "r"),
            ("MaxSessionDuration", "3600"),
            ("Tags.member.2.Key", "b"),
            ("Tags.member.1.Key", "a"),
            ("Tags.member.1.Value", "1"),
        ]);
        let got = input(&iam::SERVICE, op, &p).unwrap();
        assert_eq!(
            Value::Object(got),
            serde_json::json!({
                "RoleName": "r",
                "MaxSessionDuration": 3600,
                "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b"}],
            })
        );
        // An element whose every parameter is unknown is still an element: an empty structure.
        let unknown = params(&[("RoleName", "r"), ("Tags.member.1.Colour", "blue")]);
        assert_eq!(
            Value::Object(input(&iam::SERVICE, op, &unknown).unwrap()),
            serde_json::json!({"RoleName": "r", "Tags": [{}]})
        );
        let bad = params(&[("RoleName", "r"), ("MaxSessionDuration", "an hour")]);
        assert_eq!(
            input(&iam::SERVICE, op, &bad).unwrap_err(),
            "1 validation error detected: Value 'an hour' at 'maxSessionDuration' failed to \
             satisfy constraint: Member must be a number"
        );
    }

    #[test]
    fn maps_with_the_models_key_and_value_names() {
        let op = sns::Operation::from_name("Publish").unwrap().def();
        let p = params(&[
            ("Message", "hi"),
            ("MessageAttributes.entry.1.Name", "color"),
            ("MessageAttributes.entry.1.Value.DataType", "String"),
            ("MessageAttributes.entry.1.Value.StringValue", "red"),
        ]);
        let got = input(&sns::SERVICE, op, &p).unwrap();
        assert_eq!(
            Value::Object(got),
            serde_json::json!({
                "Message": "hi",
                "MessageAttributes": {"color": {"DataType": "String", "StringValue": "red"}},
            })
        );
        let op = sns::Operation::from_name("CreateTopic").unwrap().def();
        let p = params(&[
            ("Name", "t"),
            ("Attributes.entry.1.key", "FifoTopic"),
            ("Attributes.entry.1.value", "true"),
            ("Tags.member.1.Key", "k"),
            ("Tags.member.1.Value", "v"),
        ]);
        let got = input(&sns::SERVICE, op, &p).unwrap();
        assert_eq!(
            Value::Object(got),
            serde_json::json!({
                "Name": "t",
                "Attributes": {"FifoTopic": "true"},
                "Tags": [{"Key": "k", "Value": "v"}],
            })
        );
    }

    #[test]
    fn an_empty_list_is_the_bare_name() {
        let op = iam::Operation::from_name("UntagRole").unwrap().def();
        let got = input(
            &iam::SERVICE,
            op,
            &params(&[("RoleName", "r"), ("TagKeys", "")]),
        );
        assert_eq!(
            Value::Object(got.unwrap()),
            serde_json::json!({"RoleName": "r", "TagKeys": []})
        );
    }
}

//! An operation's request read as its generated input, following the model.
//!
//! Every protocol reaches the operations as one loosely typed JSON document (CBOR decoded by
//! `parse_cbor_body`, with its timestamps as epoch seconds; query parameters nested by
//! `query_to_json`, with every scalar a string; JSON as sent, timestamps as epoch seconds).
//! [`read`] walks that document against the operation's input shape, member by member in model
//! order, and coerces each value by its shape's kind into the JSON the generated structures
//! deserialize: an integer (a number, or a string of one, within the model's width), a boolean
//! (`true`, or the string `"true"`), a timestamp (epoch seconds, or any form `parse_time`
//! reads), a string, a list, a structure. Then serde reads the generated input from it; the
//! handlers only check behaviour.
//!
//! A value that is not what the model says is refused as CloudWatch refuses it, in the words
//! of its query heritage:
//! - of the wrong type: `The parameter <member> must be an integer.` (`a string`, `a valid
//!   timestamp`, `a list`, `a boolean`), InvalidParameterValue, naming the member alone
//!   (`Period`, also inside `MetricDataQueries.member.1.MetricStat`);
//! - a required member absent (or `null`, or an empty string): `The parameter <path> is
//!   required.`, MissingParameter, naming its whole query path
//!   (`MetricDataQueries.member.1.MetricStat.Period`);
//! - a list element that should be a structure and is not: `The parameter <path>.member.<n> is
//!   invalid.`, InvalidParameterValue.
//!
//! GetMetricData answers that last one, and a queried metric's dimension without its name or
//! value, as ValidationError (as it answers its other dimension rules). Where CloudWatch reads
//! a member otherwise than its model says, [`QUIRKS`] says how.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tributary_model::AwsError;
use tributary_shapes::generated::cloudwatch as model;
use tributary_shapes::{Kind, Shape};

use super::{
    invalid, missing, not_a_basic_statistic, not_a_percentile, not_exactly_one, parse_time,
    validation,
};

/// `op`'s generated input `T`, read from the request's document (moved: nothing is copied).
pub(crate) fn read<T: DeserializeOwned>(
    op: model::Operation,
    mut doc: Map<String, Value>,
) -> Result<T, AwsError> {
    if let Some(id) = op.def().input {
        let walk = Walk {
            validation: op == model::Operation::GetMetricData,
        };
        walk.structure(model::SERVICE.shape(id), &mut doc, "", 0)?;
    }
    // The walk left every member the structure has in the form it reads; this fails only if
    // the generated types and the model disagree.
    T::deserialize(Value::Object(doc)).map_err(|e| AwsError::serialization(e.to_string()))
}

/// How CloudWatch reads a member otherwise than its model says.
#[derive(Clone, Copy)]
enum Quirk {
    /// Not read by this server: dropped unread, whatever its type (the handler's input has it
    /// `None`).
    Unread,
    /// Required whatever the model says; a value that is not of its type (or an empty string)
    /// is missing too.
    Required,
    /// Optional although the model requires it: absent reads as the type's default.
    Optional,
    /// A value that is not a structure is a query without exactly one of `MetricStat` and
    /// `Expression`.
    NotExactlyOne,
    /// A list element of the wrong type is refused as a bad value of the list is (`n` 1-based).
    Elements(fn(usize) -> AwsError),
}

/// `(structure, member, quirk)`.
static QUIRKS: &[(&str, &str, Quirk)] = &[
    // A query's own period is for math expressions, which are refused, and its account for
    // reading another account's metrics: metrics are this account's.
    ("MetricDataQuery", "Period", Quirk::Unread),
    ("MetricDataQuery", "AccountId", Quirk::Unread),
    // Labels are never formatted here (no `${...}` to fill in), so no time zone is read.
    ("GetMetricDataInput", "LabelOptions", Quirk::Unread),
    // Every metric is this account's: there are no linked accounts to include or name.
    ("ListMetricsInput", "IncludeLinkedAccounts", Quirk::Unread),
    ("ListMetricsInput", "OwningAccount", Quirk::Unread),
    // A MetricStat's metric needs both names (the model's `Metric`, which also describes
    // ListMetrics's answers, has them optional), and one that is not a string is missing.
    ("Metric", "Namespace", Quirk::Required),
    ("Metric", "MetricName", Quirk::Required),
    // A metric that is not a structure, and a dimension's name or value that is not a string,
    // are missing.
    ("MetricStat", "Metric", Quirk::Required),
    ("Dimension", "Name", Quirk::Required),
    ("Dimension", "Value", Quirk::Required),
    ("DimensionFilter", "Name", Quirk::Required),
    // No `Stat` is no statistic: the handler refuses the empty name as an unknown one.
    ("MetricStat", "Stat", Quirk::Optional),
    ("MetricDataQuery", "MetricStat", Quirk::NotExactlyOne),
    (
        "GetMetricStatisticsInput",
        "Statistics",
        Quirk::Elements(not_a_basic_statistic),
    ),
    (
        "GetMetricStatisticsInput",
        "ExtendedStatistics",
        Quirk::Elements(not_a_percentile),
    ),
];

fn quirk(structure: &str, member: &str) -> Option<Quirk> {
    QUIRKS
        .iter()
        .find(|(s, m, _)| *s == structure && *m == member)
        .map(|&(_, _, q)| q)
}

/// The largest timestamp (in epoch seconds, either sign) the generated `Timestamp` reads.
const MAX_TIMESTAMP_SECONDS: f64 = 1e14;

/// Structures nested deeper than this are not walked. The walk follows the model's shapes,
/// never the request's nesting; the bound only guards against a recursive shape, which no
/// served input has.
const MAX_DEPTH: usize = 16;

/// Why a value was not read.
enum Refusal {
    /// The value itself is not of its shape's kind: its container words the refusal.
    Mismatch,
    /// Something inside it is refused, already worded.
    Below(AwsError),
}

struct Walk {
    /// GetMetricData's wording (see the module's documentation).
    validation: bool,
}

impl Walk {
    /// Reads the members of `obj`, a structure of `shape` at query path `at` (`""` for the
    /// input itself), in model order.
    fn structure(
        &self,
        shape: &Shape,
        obj: &mut Map<String, Value>,
        at: &str,
        depth: usize,
    ) -> Result<(), AwsError> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        for m in shape.members {
            let quirk = quirk(shape.name, m.name);
            if matches!(quirk, Some(Quirk::Unread)) {
                obj.remove(m.name);
                continue;
            }
            let required = match quirk {
                Some(Quirk::Required) => true,
                Some(Quirk::Optional) => false,
                _ => m.required,
            };
            let path = if at.is_empty() {
                m.name.to_owned()
            } else {
                format!("{at}.{}", m.name)
            };
            let member_shape = model::SERVICE.shape(m.shape);
            // `null` is absent, as CloudWatch reads it.
            let Some(v) = obj.get_mut(m.name).filter(|v| !v.is_null()) else {
                if required {
                    return Err(self.missing(shape, &path));
                }
                continue;
            };
            match self.value(member_shape, v, &path, quirk, depth) {
                Ok(()) => {}
                Err(Refusal::Below(e)) => return Err(e),
                Err(Refusal::Mismatch) => {
                    return Err(match quirk {
                        Some(Quirk::Required) => self.missing(shape, &path),
                        Some(Quirk::NotExactlyOne) => not_exactly_one(at),
                        _ if member_shape.kind == Kind::Structure => self.malformed(&path),
                        _ => wrong_type(m.name, member_shape.kind),
                    })
                }
            }
            // CloudWatch reads an empty required string as an absent one (the model only
            // says required).
            if required && v.as_str() == Some("") {
                return Err(self.missing(shape, &path));
            }
        }
        Ok(())
    }

    /// Reads `v`, of `shape`, at query path `path`, coercing a scalar in place.
    fn value(
        &self,
        shape: &Shape,
        v: &mut Value,
        path: &str,
        quirk: Option<Quirk>,
        depth: usize,
    ) -> Result<(), Refusal> {
        match (shape.kind, v) {
            (Kind::Structure, Value::Object(obj)) => self
                .structure(shape, obj, path, depth + 1)
                .map_err(Refusal::Below),
            (Kind::List, Value::Array(items)) => {
                let Some(element) = shape.member.map(|id| model::SERVICE.shape(id)) else {
                    return Ok(());
                };
                for (i, item) in items.iter_mut().enumerate() {
                    let n = i + 1;
                    let at = format!("{path}.member.{n}");
                    match self.value(element, item, &at, None, depth + 1) {
                        Ok(()) => {}
                        Err(Refusal::Below(e)) => return Err(Refusal::Below(e)),
                        Err(Refusal::Mismatch) => {
                            return Err(Refusal::Below(match quirk {
                                Some(Quirk::Elements(refused)) => refused(n),
                                _ if element.kind == Kind::Structure => self.malformed(&at),
                                _ => wrong_type(&at, element.kind),
                            }))
                        }
                    }
                }
                Ok(())
            }
            // No served input has a map; its values are read as a list's elements are.
            (Kind::Map, Value::Object(entries)) => {
                let Some(of) = shape.value.map(|id| model::SERVICE.shape(id)) else {
                    return Ok(());
                };
                for (k, x) in entries.iter_mut() {
                    let at = format!("{path}.{k}");
                    match self.value(of, x, &at, None, depth + 1) {
                        Ok(()) => {}
                        Err(Refusal::Below(e)) => return Err(Refusal::Below(e)),
                        Err(Refusal::Mismatch) => {
                            return Err(Refusal::Below(wrong_type(&at, of.kind)))
                        }
                    }
                }
                Ok(())
            }
            (Kind::Structure | Kind::List | Kind::Map, _) => Err(Refusal::Mismatch),
            (kind, v) => {
                if coerce(kind, v) {
                    Ok(())
                } else {
                    Err(Refusal::Mismatch)
                }
            }
        }
    }

    /// A required member absent at `path`, in a structure of `owner`.
    fn missing(&self, owner: &Shape, path: &str) -> AwsError {
        let e = missing(path);
        // GetMetricData answers everything about a queried metric's dimensions as
        // ValidationError, its handler's dimension rules too.
        if self.validation && owner.name == "Dimension" {
            validation(e.message)
        } else {
            e
        }
    }

    /// A list element at `path` that should be a structure and is not.
    fn malformed(&self, path: &str) -> AwsError {
        let message = format!("The parameter {path} is invalid.");
        if self.validation {
            validation(message)
        } else {
            invalid(message)
        }
    }
}

/// A scalar of `kind` read in place into the JSON its generated type deserializes; `false`
/// when `v` is not one.
fn coerce(kind: Kind, v: &mut Value) -> bool {
    match kind {
        Kind::String | Kind::Blob => v.is_string(),
        Kind::Integer | Kind::Long => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            // The model's Integer is 32 bits: a number beyond it is not one, as AWS's Java
            // deserializer refuses it as it refuses `1.5`.
            match n.filter(|&n| kind == Kind::Long || i32::try_from(n).is_ok()) {
                Some(n) => {
                    *v = Value::from(n);
                    true
                }
                None => false,
            }
        }
        // No served input has one.
        Kind::Float | Kind::Double => match v {
            Value::Number(_) => true,
            Value::String(s) => match s.trim().parse::<f64>().ok().filter(|f| f.is_finite()) {
                Some(f) => {
                    *v = Value::from(f);
                    true
                }
                None => false,
            },
            _ => false,
        },
        Kind::Boolean => match v {
            Value::Bool(_) => true,
            Value::String(s) if s == "true" || s == "false" => {
                *v = Value::Bool(s == "true");
                true
            }
            _ => false,
        },
        Kind::Timestamp => {
            let seconds = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => parse_time(s).map(|ms| ms as f64 / 1000.0),
                _ => None,
            };
            match seconds.filter(|s| s.is_finite() && s.abs() <= MAX_TIMESTAMP_SECONDS) {
                Some(s) => {
                    if v.is_string() {
                        *v = Value::from(s);
                    }
                    true
                }
                None => false,
            }
        }
        Kind::Structure | Kind::List | Kind::Map => false,
    }
}

/// `The parameter <name> must be <what its kind is>.`
fn wrong_type(name: &str, kind: Kind) -> AwsError {
    let what = match kind {
        Kind::String | Kind::Blob => "a string",
        Kind::Integer | Kind::Long => "an integer",
        Kind::Float | Kind::Double => "a number",
        Kind::Boolean => "a boolean",
        Kind::Timestamp => "a valid timestamp",
        Kind::List => "a list",
        Kind::Map | Kind::Structure => "a structure",
    };
    invalid(format!("The parameter {name} must be {what}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    /// Every quirk names a member the model has: a renamed one would silently stop applying.
    #[test]
    fn quirks_name_members_of_the_model() {
        for (structure, member, _) in QUIRKS {
            let found = model::SERVICE
                .shape_named(structure)
                .and_then(|s| s.member(member));
            assert!(found.is_some(), "{structure}.{member}");
        }
    }

    /// The query protocol's document, every scalar a string, is the same input as JSON's.
    #[test]
    fn query_strings_read_as_the_models_types() {
        let query = doc(
            json!({"MetricDataQueries": [{"Id": "a", "ReturnData": "false",
                "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": "f"}]},
                    "Period": " 300 ", "Stat": "Sum"}}],
            "StartTime": "2024-01-01T00:00:00Z", "EndTime": "1704070800.5",
            "MaxDatapoints": "2147483647"}),
        );
        let json = doc(
            json!({"MetricDataQueries": [{"Id": "a", "ReturnData": false,
                "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                    "Dimensions": [{"Name": "FunctionName", "Value": "f"}]},
                    "Period": 300, "Stat": "Sum"}}],
            "StartTime": 1_704_067_200, "EndTime": 1_704_070_800.5,
            "MaxDatapoints": 2_147_483_647}),
        );
        let from_query: types::GetMetricDataInput =
            read(model::Operation::GetMetricData, query).unwrap();
        let from_json: types::GetMetricDataInput =
            read(model::Operation::GetMetricData, json).unwrap();
        assert_eq!(from_query, from_json);
        assert_eq!(from_query.start_time.millis(), 1_704_067_200_000);
        assert_eq!(from_query.end_time.millis(), 1_704_070_800_500);
        assert_eq!(from_query.max_datapoints, Some(i32::MAX));
        let stat = from_query.metric_data_queries[0]
            .metric_stat
            .as_ref()
            .unwrap();
        assert_eq!((stat.period, stat.stat.as_str()), (300, "Sum"));
        assert_eq!(from_query.metric_data_queries[0].return_data, Some(false));
    }

    #[test]
    fn integers_beyond_32_bits_and_timestamps_beyond_range_are_not_read() {
        let gms = |period: Value, start: Value| {
            doc(
                json!({"Namespace": "N", "MetricName": "M", "StartTime": start,
                "EndTime": 1_700_000_000, "Period": period, "Statistics": ["Sum"]}),
            )
        };
        let read_gms = |d| {
            read::<types::GetMetricStatisticsInput>(model::Operation::GetMetricStatistics, d)
                .map(|i| i.period)
                .map_err(|e| (e.code, e.message))
        };
        let not_an_integer = Err((
            "InvalidParameterValue",
            "The parameter Period must be an integer.".to_owned(),
        ));
        let t = json!(1_699_990_000);
        assert_eq!(read_gms(gms(json!(i32::MAX), t.clone())), Ok(i32::MAX));
        assert_eq!(read_gms(gms(json!(i32::MIN), t.clone())), Ok(i32::MIN));
        for beyond in [
            json!(i64::from(i32::MAX) + 1),
            json!(i64::from(i32::MIN) - 1),
            json!("5000000000"),
            json!(u64::MAX),
        ] {
            assert_eq!(read_gms(gms(beyond, t.clone())), not_an_integer);
        }
        let not_a_time = Err((
            "InvalidParameterValue",
            "The parameter StartTime must be a valid timestamp.".to_owned(),
        ));
        for beyond in [json!(1e15), json!("-1e15")] {
            assert_eq!(read_gms(gms(json!(60), beyond)), not_a_time);
        }
    }
}

//! Lambda (REST-JSON) requests checked against the model before any handler: the input is
//! assembled from the URI labels, query string, headers and JSON body as the model's
//! `location`s say, then validated with AWS's messages.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};
use tributary_model::AwsError;
use tributary_shapes::generated::lambda as model;
use tributary_shapes::validate::{validate_object, MapStyle, Options};
use tributary_shapes::{Kind, Location, Shape};

/// Where Lambda's validator differs from a plain reading of its model.
const VALIDATION: Options<'static> = Options {
    // `Map value must satisfy constraint: [...]` at the map (recorded for
    // routingConfig.additionalVersionWeights).
    map_style: MapStyle::Bracketed,
    skip: &[
        // A bad runtime is an InvalidParameterValueException `Value X at 'runtime' failed to
        // satisfy constraint: Member must satisfy enum value set: [...] or be a valid ARN`
        // (recorded on AWS): `lambda::check_runtime` words it.
        ("CreateFunctionRequest", "Runtime"),
        ("UpdateFunctionConfigurationRequest", "Runtime"),
        // Environment variable names: AWS prints the key rule without `Member must not be
        // null` and without the (sensitive) value; `lambda::environment` words it.
        ("Environment", "Variables"),
    ],
    name_or_arn: &[],
    // The order AWS prints (recorded; the model lists TRIM_HORIZON first).
    enum_text: &[(
        "EventSourcePosition",
        "[LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
    )],
    max_errors: 10,
};

/// The model's pattern for a shape, to quote in hand-written messages (the model changes it).
pub(crate) fn model_pattern(shape: &str) -> &'static str {
    model::SERVICE
        .shape_named(shape)
        .and_then(|s| s.pattern.as_ref())
        .map_or("", |p| p.source)
}

/// Validates a routed Lambda request. `path` is the full request path
/// (`/2015-03-31/functions/f/aliases`), percent-decoded per segment.
pub(crate) fn check(
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), AwsError> {
    let keys: Vec<&str> = query.keys().map(String::as_str).collect();
    let Some((op, labels)) = model::SERVICE.match_rest(method, path, &keys) else {
        return Ok(());
    };
    let Some(input_id) = op.input else {
        return Ok(());
    };
    let input = model::SERVICE.shape(input_id);
    let mut obj = Map::new();
    // An operation whose one body member is a blob (Invoke's Payload) sends it raw.
    let body_members: Vec<_> = input
        .members
        .iter()
        .filter(|m| m.location == Location::Body)
        .collect();
    let raw_payload =
        body_members.len() == 1 && model::SERVICE.shape(body_members[0].shape).kind == Kind::Blob;
    if !raw_payload && !body_members.is_empty() {
        // A body is parsed before it is validated: a malformed one is a SerializationException.
        obj = tributary_service::json::parse_body(body)?;
    }
    for m in input.members {
        let wire = m.location_name.unwrap_or(m.name);
        let text = match m.location {
            Location::Uri => labels
                .iter()
                .find(|(l, _)| l == wire)
                .map(|(_, v)| v.clone()),
            Location::Querystring => query.get(wire).cloned(),
            Location::Header => headers
                .get(wire)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            _ => None,
        };
        if let Some(t) = text {
            obj.insert(m.name.to_owned(), typed(model::SERVICE.shape(m.shape), t));
        }
    }
    validate_object(&model::SERVICE, op, &obj, &VALIDATION)
        .map_err(|v| AwsError::validation(v.message()))
}

/// A URI, query or header value as the JSON value of its shape's type; a value that does not
/// parse stays a string (the handlers reject it).
fn typed(shape: &Shape, text: String) -> Value {
    match shape.kind {
        Kind::Integer | Kind::Long => match text.parse::<i64>() {
            Ok(n) => Value::Number(n.into()),
            Err(_) => Value::String(text),
        },
        Kind::Float | Kind::Double => match text.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => Value::String(text),
        },
        Kind::Boolean => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        _ => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(method: &str, path: &str, query: &[(&str, &str)], body: &str) -> Result<(), String> {
        let q = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        check(method, path, &q, &http::HeaderMap::new(), body.as_bytes()).map_err(|e| e.message)
    }

    #[test]
    fn path_query_and_body_members_are_validated() {
        assert!(run("GET", "/2015-03-31/functions/my-fn", &[], "").is_ok());
        let e = run("GET", "/2015-03-31/functions/bad name", &[], "").unwrap_err();
        assert!(e.starts_with("1 validation error detected: Value 'bad name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:"), "{e}");
        let e = run("GET", "/2015-03-31/functions/", &[("MaxItems", "0")], "").unwrap_err();
        assert_eq!(e, "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1");
        let e = run(
            "PUT",
            "/2017-10-31/functions/f/concurrency",
            &[],
            r#"{"ReservedConcurrentExecutions": -1}"#,
        )
        .unwrap_err();
        assert_eq!(e, "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0");
    }

    #[test]
    fn invoke_payloads_are_not_members() {
        assert!(run(
            "POST",
            "/2015-03-31/functions/f/invocations",
            &[],
            r#"{"Qualifier": ""}"#
        )
        .is_ok());
    }

    #[test]
    fn starting_position_enum_in_aws_order() {
        let e = run(
            "POST",
            "/2015-03-31/event-source-mappings/",
            &[],
            r#"{"FunctionName": "f", "EventSourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x", "StartingPosition": "invalid"}"#,
        )
        .unwrap_err();
        assert_eq!(e, "1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]");
    }
}

//! Wire envelopes shared by the services: AWS JSON 1.0 (DynamoDB, Streams) and REST-JSON
//! (Lambda) responses and errors, plus typed accessors over a JSON request body that fail the way AWS fails.
//!
//! Every JSON 1.0 response (success or error) carries `x-amz-crc32`, the CRC32 (IEEE) of its
//! body bytes in decimal, as DynamoDB's do: the Go v1/v2 and Java v1 SDKs check it and retry or
//! fail when it is missing or wrong. The other JSON services (CloudWatch Logs, SQS, CloudWatch)
//! do not send it, so it lives here and not in a shared envelope.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};
use tributary_model::AwsError;

pub const JSON10: &str = "application/x-amz-json-1.0";

/// The `x-amz-crc32` value of a response body: CRC-32/ISO-HDLC, the IEEE polynomial zlib and
/// Go's `crc32.ChecksumIEEE` use (`crc32fast`: SIMD where the CPU has it, as every response
/// pays for it).
pub fn body_crc32(body: &[u8]) -> String {
    crc32fast::hash(body).to_string()
}

use crate::request_id;

/// A JSON 1.0 success response, with its `x-amz-crc32`.
pub fn json10_ok(v: &Value) -> Response<Body> {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let crc = body_crc32(&body);
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(JSON10));
    if let Ok(v) = HeaderValue::from_str(&crc) {
        h.insert(crate::names::X_AMZ_CRC32, v);
    }
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        h.insert(crate::names::X_AMZN_REQUESTID, id);
    }
    r
}

/// A JSON 1.0 error: `{"__type":"com.amazonaws.dynamodb.v20120810#Code","message":"..."}`,
/// with the `x-amz-crc32` of that body.
pub fn json10_error(e: &AwsError) -> Response<Body> {
    let mut body = Map::new();
    let ty = match e.code {
        "SerializationException" | "UnknownOperationException" => {
            format!("com.amazon.coral.service#{}", e.code)
        }
        // The request validator's exception is Coral's own (dynalite's tests, from AWS).
        "ValidationException" => "com.amazon.coral.validate#ValidationException".to_owned(),
        _ => format!("com.amazonaws.dynamodb.v20120810#{}", e.code),
    };
    body.insert("__type".into(), Value::String(ty));
    let key = if e.capital_message {
        "Message"
    } else {
        "message"
    };
    body.insert(key.into(), Value::String(e.message.clone()));
    for (k, v) in &e.extra {
        body.insert((*k).into(), v.clone());
    }
    let mut r = json10_ok(&Value::Object(body));
    *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    r
}

/// A REST-JSON success response with the given status.
pub fn rest_ok(status: u16, v: &Value) -> Response<Body> {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", id);
    }
    r
}

/// A REST-JSON (Lambda) error: status, `X-Amzn-ErrorType`, and a body whose member casing
/// follows each exception's model.
pub fn rest_error(e: &AwsError) -> Response<Body> {
    let mut body = Map::new();
    let type_member = match e.code {
        "ValidationException" => None,
        "ServiceException" => Some("Service"),
        _ => Some("User"),
    };
    if let Some(t) = type_member {
        body.insert("Type".into(), Value::String(t.into()));
    }
    let key = if e.capital_message {
        "Message"
    } else {
        "message"
    };
    body.insert(key.into(), Value::String(e.message.clone()));
    for (k, v) in &e.extra {
        body.insert((*k).into(), v.clone());
    }
    let mut r = rest_ok(e.status, &Value::Object(body));
    if let Ok(v) = HeaderValue::from_str(e.code) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

/// Lambda-style exceptions with their status and message casing.
pub mod lambda_err {
    use tributary_model::AwsError;

    pub fn invalid_parameter(msg: impl Into<String>) -> AwsError {
        AwsError::new("InvalidParameterValueException", 400, msg)
    }

    pub fn not_found(msg: impl Into<String>) -> AwsError {
        AwsError::new("ResourceNotFoundException", 404, msg).capital_message()
    }

    pub fn conflict(msg: impl Into<String>) -> AwsError {
        AwsError::new("ResourceConflictException", 409, msg)
    }

    pub fn in_use(msg: impl Into<String>) -> AwsError {
        AwsError::new("ResourceInUseException", 400, msg).capital_message()
    }

    pub fn service(msg: impl Into<String>) -> AwsError {
        AwsError::new("ServiceException", 500, msg).capital_message()
    }

    pub fn too_large(msg: impl Into<String>) -> AwsError {
        AwsError::new("RequestEntityTooLargeException", 413, msg)
    }

    /// A stale `RevisionId`.
    pub fn precondition_failed(msg: impl Into<String>) -> AwsError {
        AwsError::new("PreconditionFailedException", 412, msg)
    }
}

/// `1 validation error detected: Value <v> at '<field>' failed to satisfy constraint: <rule>`.
pub fn constraint(value: &Value, field: &str, rule: &str) -> AwsError {
    let shown = match value {
        Value::Null => "null".to_owned(),
        Value::String(s) => format!("'{s}'"),
        other => format!("'{other}'"),
    };
    AwsError::validation(format!(
        "1 validation error detected: Value {shown} at '{field}' failed to satisfy constraint: {rule}"
    ))
}

/// Parses a JSON object body; anything else is a `SerializationException`.
pub fn parse_body(body: &[u8]) -> Result<Map<String, Value>, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(AwsError::serialization(
            "Start of structure or map found where not expected",
        )),
        Err(_) => Err(AwsError::serialization("Malformed JSON in request body")),
    }
}

/// The operation's generated input type (`crates/services/*/src/types.rs`), read from its
/// request object once the model validator has passed it. A member of the wrong JSON type is
/// a `SerializationException` naming the member, as the accessors below answer it.
pub fn typed<T: serde::de::DeserializeOwned>(body: &Map<String, Value>) -> Result<T, AwsError> {
    tributary_shapes::types::from_object(body).map_err(|e| {
        AwsError::serialization(format!(
            "Unexpected value type in payload for member {}",
            e.path
        ))
    })
}

/// A generated output structure as a JSON body.
pub fn output<T: serde::Serialize>(out: &T) -> Value {
    tributary_shapes::types::to_json(out)
}

/// Typed access to request members.
pub struct Req<'a>(pub &'a Map<String, Value>);

impl<'a> Req<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn str_opt(&self, key: &str) -> Result<Option<&'a str>, AwsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(key)),
        }
    }

    /// A required string; missing is `Value null at '<field>' ... must not be null`.
    pub fn str_req(&self, key: &str, field: &str) -> Result<&'a str, AwsError> {
        self.str_opt(key)?
            .ok_or_else(|| constraint(&Value::Null, field, "Member must not be null"))
    }

    pub fn int_opt(&self, key: &str) -> Result<Option<i64>, AwsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| wrong_type(key)),
            Some(_) => Err(wrong_type(key)),
        }
    }

    pub fn bool_opt(&self, key: &str) -> Result<Option<bool>, AwsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(key)),
        }
    }

    pub fn obj_opt(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, AwsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(wrong_type(key)),
        }
    }

    pub fn array_opt(&self, key: &str) -> Result<Option<&'a Vec<Value>>, AwsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(wrong_type(key)),
        }
    }
}

fn wrong_type(key: &str) -> AwsError {
    AwsError::serialization(format!("Unexpected value type in payload for member {key}"))
}

/// Checks an integer range with the Lambda/DynamoDB validator's wording.
pub fn check_range(v: i64, min: i64, max: i64, field: &str) -> Result<(), AwsError> {
    if v < min {
        return Err(constraint(
            &Value::String(v.to_string()),
            field,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if v > max {
        return Err(constraint(
            &Value::String(v.to_string()),
            field,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// `MaxItems` of a Lambda list operation (1..10000), capped at what one page returns.
pub fn max_items(
    query: &std::collections::BTreeMap<String, String>,
    page: usize,
) -> Result<usize, AwsError> {
    match query.get("MaxItems") {
        Some(m) => {
            let n: i64 = m.parse().map_err(|_| {
                constraint(
                    &Value::String(m.clone()),
                    "maxItems",
                    "Member must be a number",
                )
            })?;
            check_range(n, 1, 10000, "maxItems")?;
            Ok((n as usize).min(page))
        }
        None => Ok(page),
    }
}

/// Serves one JSON 1.0 request whose target starts with `prefix`, through `dispatch`.
pub async fn serve_json10<'a, F, Fut>(
    req: &'a crate::Request,
    prefix: &str,
    dispatch: F,
) -> Response<Body>
where
    F: FnOnce(&'a str, Map<String, Value>) -> Fut,
    Fut: std::future::Future<Output = Result<Value, AwsError>>,
{
    let target = req
        .headers
        .get(crate::names::X_AMZ_TARGET)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(op) = target
        .strip_prefix(prefix)
        .and_then(|t| t.strip_prefix('.'))
    else {
        return json10_error(&AwsError::new(
            "UnknownOperationException",
            400,
            format!("Unknown operation: {target}"),
        ));
    };
    let body = match parse_body(&req.body) {
        Ok(b) => b,
        Err(e) => return json10_error(&e),
    };
    match dispatch(op, body).await {
        Ok(v) => json10_ok(&v),
        Err(e) => {
            tracing::debug!(code = e.code, message = %e.message, "request failed");
            json10_error(&e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde_json refuses input nested deeper than 128 levels while parsing, so a deep body is a
    /// SerializationException and nothing of ours ever recurses over it. serde_json's own
    /// recursion to that depth needs more than 256 KiB in a debug build (objects cost more than
    /// arrays), so this runs on 1 MiB; the server's worker threads have 2 MiB.
    #[test]
    fn deep_bodies_are_serialization_errors() {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(1024 * 1024)
                .spawn_scoped(s, || {
                    let nested = |depth: usize| {
                        format!(
                            r#"{{"a":{}1{}}}"#,
                            "[".repeat(depth - 1),
                            "]".repeat(depth - 1)
                        )
                    };
                    assert!(parse_body(nested(127).as_bytes()).is_ok());
                    for body in [
                        nested(128),
                        nested(100_000),
                        "[".repeat(100_000),
                        "{\"a\":".repeat(100_000),
                    ] {
                        let e = parse_body(body.as_bytes()).unwrap_err();
                        assert_eq!(
                            (e.code, e.status, e.message.as_str()),
                            (
                                "SerializationException",
                                400,
                                "Malformed JSON in request body"
                            )
                        );
                    }
                })
                .expect("spawn a test thread")
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        });
    }

    #[test]
    fn crc32_is_the_ieee_checksum_in_decimal() {
        // The check value of CRC-32/ISO-HDLC, and what DynamoDB sends for an empty object.
        assert_eq!(body_crc32(b"123456789"), "3421780262");
        assert_eq!(body_crc32(b"{}"), "2745614147");
    }

    #[tokio::test]
    async fn json10_responses_and_errors_carry_the_crc_of_their_body() {
        for r in [
            json10_ok(&serde_json::json!({"TableNames": ["a"]})),
            json10_error(&AwsError::validation("nope")),
        ] {
            let crc = r.headers()["x-amz-crc32"].to_str().unwrap().to_owned();
            let body = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(crc, body_crc32(&body));
        }
        assert!(rest_ok(200, &serde_json::json!({}))
            .headers()
            .get("x-amz-crc32")
            .is_none());
    }
}

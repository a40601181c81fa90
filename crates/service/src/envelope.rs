//! An error in the envelope of any request's protocol, for errors raised before a service
//! runs: by the gateway (refused origins and hosts, failed authentication, services not
//! served, bodies too large) and by the IAM check. Every SDK then shows one clean error
//! instead of a parse failure and retries.

use crate::{Protocol, Response, Route};
use axum::body::Body;
use http::{HeaderValue, StatusCode};

/// An error the gateway answers with: AWS's code, the HTTP status and the message.
#[derive(Debug, Clone)]
pub struct GatewayError {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
}

impl GatewayError {
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> GatewayError {
        GatewayError {
            code,
            status,
            message: message.into(),
        }
    }
}

/// The XML namespace of a query service's responses.
fn query_namespace(service: &str) -> String {
    match service {
        "sqs" => "http://queue.amazonaws.com/doc/2012-11-05/".into(),
        "sns" => "http://sns.amazonaws.com/doc/2010-03-31/".into(),
        "monitoring" => "http://monitoring.amazonaws.com/doc/2010-08-01/".into(),
        "iam" => "https://iam.amazonaws.com/doc/2010-05-08/".into(),
        "sts" => "https://sts.amazonaws.com/doc/2011-06-15/".into(),
        "cloudformation" => "http://cloudformation.amazonaws.com/doc/2010-05-15/".into(),
        other => format!("http://{other}.amazonaws.com/doc/"),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders `e` for a request routed to `route`.
pub fn render(route: &Route, e: &GatewayError) -> Response {
    let request_id = crate::request_id();
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let (content_type, body): (&'static str, Vec<u8>) = match route.protocol {
        Protocol::Query => {
            let kind = if e.status >= 500 {
                "Receiver"
            } else {
                "Sender"
            };
            let xml = format!(
                "<ErrorResponse xmlns=\"{}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                query_namespace(&route.service),
                escape(e.code),
                escape(&e.message),
            );
            ("text/xml", xml.into_bytes())
        }
        Protocol::RestXml => {
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>",
                escape(e.code),
                escape(&e.message),
            );
            ("application/xml", xml.into_bytes())
        }
        Protocol::RpcV2Cbor => {
            let value = ciborium::Value::Map(vec![
                (
                    ciborium::Value::Text("__type".into()),
                    ciborium::Value::Text(e.code.into()),
                ),
                (
                    ciborium::Value::Text("message".into()),
                    ciborium::Value::Text(e.message.clone()),
                ),
            ]);
            let mut out = Vec::new();
            // Writing into a Vec cannot fail.
            let _ = ciborium::into_writer(&value, &mut out);
            ("application/cbor", out)
        }
        Protocol::AwsJson10 | Protocol::AwsJson11 | Protocol::RestJson | Protocol::Admin => {
            let body = serde_json::json!({"__type": e.code, "message": e.message});
            let ct = match route.protocol {
                Protocol::AwsJson10 => "application/x-amz-json-1.0",
                Protocol::AwsJson11 => "application/x-amz-json-1.1",
                _ => "application/json",
            };
            (ct, serde_json::to_vec(&body).unwrap_or_default())
        }
    };
    let crc = (route.service == "dynamodb").then(|| crc32fast::hash(&body));
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        let name = if route.protocol == Protocol::RestXml {
            "x-amz-request-id"
        } else {
            "x-amzn-requestid"
        };
        h.insert(name, v);
    }
    if matches!(
        route.protocol,
        Protocol::AwsJson10 | Protocol::AwsJson11 | Protocol::RestJson
    ) {
        h.insert("x-amzn-errortype", HeaderValue::from_static(e.code));
    }
    if route.service == "sqs" && route.protocol == Protocol::AwsJson10 {
        // awsQueryCompatible: SDKs read the query error code from this header.
        let kind = if e.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        if let Ok(v) = HeaderValue::from_str(&format!("{};{kind}", e.code)) {
            h.insert("x-amzn-query-error", v);
        }
    }
    if route.protocol == Protocol::RpcV2Cbor {
        h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    }
    if let Some(crc) = crc {
        if let Ok(v) = HeaderValue::from_str(&crc.to_string()) {
            h.insert("x-amz-crc32", v);
        }
    }
    resp
}

impl From<&tributary_model::AwsError> for GatewayError {
    fn from(e: &tributary_model::AwsError) -> GatewayError {
        GatewayError::new(e.code, e.status, e.message.clone())
    }
}

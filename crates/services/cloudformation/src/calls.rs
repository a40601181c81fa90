//! How resource handlers reach the other services: as a client would, with requests in each
//! service's own protocol, through the same entry point as every request (so IAM checks the
//! stack's caller as it checks any client). The handlers never see another service's crate.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use http_body_util::BodyExt;
use serde_json::Value;
use tributary_service::{Caller, Protocol, Request, Route, Service};

/// The entry point internal requests go through; set once the server is wired. The server
/// holds CloudFormation, so what is connected must hold the server weakly.
#[derive(Default)]
pub struct Dispatch(OnceLock<Arc<dyn Service>>);

impl Dispatch {
    pub fn connect(&self, to: Arc<dyn Service>) {
        let _ = self.0.set(to);
    }

    fn get(&self) -> Option<Arc<dyn Service>> {
        self.0.get().cloned()
    }
}

/// A failed call, as CloudFormation reports a handler's failure.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub service: &'static str,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (Service: {}, Status Code: {}, Request ID: {})",
            self.message, self.service, self.status, self.request_id
        )
    }
}

/// One stack operation's client: who the calls are made as, and where they go.
#[derive(Clone)]
pub struct Calls {
    pub(crate) dispatch: Arc<Dispatch>,
    pub(crate) caller: Option<Caller>,
}

struct Raw {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Calls {
    async fn send(
        &self,
        service: &str,
        protocol: Protocol,
        method: Method,
        path_and_query: &str,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<Raw, ApiError> {
        let unavailable = |message: &str| ApiError {
            service: label(service),
            status: 503,
            code: "ServiceUnavailable".into(),
            message: message.into(),
            request_id: String::new(),
        };
        let Some(target) = self.dispatch.get() else {
            return Err(unavailable("the server is shutting down"));
        };
        let uri: Uri = path_and_query
            .parse()
            .map_err(|_| unavailable("an internal request had an invalid path"))?;
        let mut map = HeaderMap::new();
        map.insert("host", HeaderValue::from_static("127.0.0.1"));
        for (name, value) in headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                map.insert(*name, v);
            }
        }
        if let Ok(v) = HeaderValue::from_str(&body.len().to_string()) {
            map.insert("content-length", v);
        }
        let req = Request {
            method,
            uri,
            headers: map,
            body,
            route: Route {
                service: service.to_owned(),
                protocol,
            },
            caller: self.caller.clone(),
        };
        let resp = target.call(req).await;
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Ok(Raw {
            status,
            headers: parts.headers,
            body,
        })
    }

    /// A JSON 1.0/1.1 call (`X-Amz-Target`): DynamoDB, SQS, CloudWatch Logs.
    pub async fn json(
        &self,
        service: &str,
        version: &str,
        target: &str,
        body: Value,
    ) -> Result<Value, ApiError> {
        let protocol = if version == "1.1" {
            Protocol::AwsJson11
        } else {
            Protocol::AwsJson10
        };
        let raw = self
            .send(
                service,
                protocol,
                Method::POST,
                "/",
                &[
                    ("x-amz-target", target.to_owned()),
                    ("content-type", format!("application/x-amz-json-{version}")),
                ],
                Bytes::from(body.to_string()),
            )
            .await?;
        json_result(service, raw)
    }

    /// A REST-JSON call (Lambda).
    pub async fn rest_json(
        &self,
        service: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        self.rest_json_with(service, method, path, &[], body).await
    }

    /// [`Calls::rest_json`] with more headers.
    pub async fn rest_json_with(
        &self,
        service: &str,
        method: Method,
        path: &str,
        headers: &[(&'static str, String)],
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let mut all = vec![("content-type", "application/json".to_owned())];
        all.extend_from_slice(headers);
        let raw = self
            .send(service, Protocol::RestJson, method, path, &all, body)
            .await?;
        json_result(service, raw)
    }

    /// A query-protocol call (IAM, SNS); answers the response document.
    pub async fn query(
        &self,
        service: &str,
        version: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, ApiError> {
        let mut form = form_urlencoded(&[("Action", action), ("Version", version)]);
        for (k, v) in params {
            form.push('&');
            form.push_str(&form_urlencoded(&[(k.as_str(), v.as_str())]));
        }
        let raw = self
            .send(
                service,
                Protocol::Query,
                Method::POST,
                "/",
                &[(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
                )],
                Bytes::from(form),
            )
            .await?;
        xml_result(service, raw)
    }

    /// A REST-XML call (S3); answers the response body.
    pub async fn rest_xml(
        &self,
        service: &str,
        method: Method,
        path: &str,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<Bytes, ApiError> {
        let raw = self
            .send(service, Protocol::RestXml, method, path, headers, body)
            .await?;
        if raw.status < 300 {
            return Ok(raw.body);
        }
        Err(xml_error(service, raw))
    }
}

/// Query-protocol form parameters, percent-encoded as the SDKs encode them.
pub fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SET: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, SET),
                utf8_percent_encode(v, SET)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The service name CloudFormation quotes in a handler's failure.
fn label(service: &str) -> &'static str {
    match service {
        "dynamodb" => "DynamoDb",
        "lambda" => "Lambda",
        "iam" => "Iam",
        "sqs" => "Sqs",
        "sns" => "Sns",
        "s3" => "S3",
        "logs" => "CloudWatchLogs",
        _ => "AWS",
    }
}

fn request_id(headers: &HeaderMap) -> String {
    ["x-amzn-requestid", "x-amz-request-id"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .unwrap_or_default()
        .to_owned()
}

fn json_result(service: &str, raw: Raw) -> Result<Value, ApiError> {
    let v: Value = if raw.body.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&raw.body).unwrap_or(Value::Null)
    };
    if raw.status < 300 {
        return Ok(v);
    }
    let code = raw
        .headers
        .get("x-amzn-errortype")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| v.get("__type").and_then(Value::as_str).map(str::to_owned))
        .or_else(|| v.get("Type").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let code = code
        .split(':')
        .next()
        .unwrap_or_default()
        .rsplit('#')
        .next()
        .unwrap_or_default()
        .to_owned();
    let message = ["message", "Message", "errorMessage"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or(&code)
        .to_owned();
    Err(ApiError {
        service: label(service),
        status: raw.status,
        code,
        message,
        request_id: request_id(&raw.headers),
    })
}

fn xml_result(service: &str, raw: Raw) -> Result<String, ApiError> {
    if raw.status < 300 {
        return Ok(String::from_utf8_lossy(&raw.body).into_owned());
    }
    Err(xml_error(service, raw))
}

fn xml_error(service: &str, raw: Raw) -> ApiError {
    let text = String::from_utf8_lossy(&raw.body);
    let code = xml_text(&text, "Code").unwrap_or_default();
    ApiError {
        service: label(service),
        status: raw.status,
        message: xml_text(&text, "Message").unwrap_or_else(|| code.clone()),
        code,
        request_id: xml_text(&text, "RequestId").unwrap_or_else(|| request_id(&raw.headers)),
    }
}

/// The text of the first element named `tag` in an XML document, unescaped.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    xml_texts(xml, tag).into_iter().next()
}

/// The texts of every element named `tag`, in document order.
pub fn xml_texts(xml: &str, tag: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut inside = false;
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.local_name().into_inner() == tag => {
                inside = true;
                text.clear();
            }
            Ok(Event::End(e)) if inside && e.local_name().into_inner() == tag => {
                inside = false;
                out.push(std::mem::take(&mut text));
            }
            Ok(Event::Text(t)) if inside => text.push_str(&t.xml10_content()),
            Ok(Event::CData(t)) if inside => text.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) if inside => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .map(str::to_owned)
                };
                text.push_str(&resolved.unwrap_or_default());
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_xml_texts() {
        let x = "<R><A>1 &amp; 2</A><B><A>x</A></B></R>";
        assert_eq!(xml_texts(x, "A"), vec!["1 & 2", "x"]);
        assert_eq!(xml_text(x, "C"), None);
    }

    #[test]
    fn encodes_forms() {
        assert_eq!(form_urlencoded(&[("A b", "x/y=z")]), "A%20b=x%2Fy%3Dz");
    }
}

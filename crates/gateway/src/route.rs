//! Which service and protocol a request is for, decided from what the request carries: the
//! admin paths, `X-Amz-Target`, the CBOR operation path, the service its signature is scoped
//! to, or (unsigned) the shape of its path and body.

use http::{HeaderMap, HeaderName, Method, Uri};
use tributary_service::names;
use tributary_service::{percent_decode, Protocol, Route};

/// The services this server answers, by signing name.
pub const SERVED: &[&str] = &[
    "dynamodb",
    "lambda",
    "sqs",
    "sns",
    "s3",
    "logs",
    "monitoring",
    "iam",
    "sts",
    "cloudformation",
];

/// Services that speak the query protocol, so that even one we do not serve gets an XML
/// error its SDK can parse.
const QUERY_SERVICES: &[&str] = &[
    "sqs",
    "sns",
    "monitoring",
    "iam",
    "sts",
    "cloudformation",
    "ec2",
    "rds",
    "elasticache",
    "autoscaling",
    "elasticloadbalancing",
    "email",
    "ses",
    "redshift",
    "cloudsearch",
    "elasticbeanstalk",
    "sdb",
    "neptune",
    "docdb",
];

/// Services that speak REST-XML.
const REST_XML_SERVICES: &[&str] = &["s3", "route53", "cloudfront", "s3-control"];

/// Decides the route. `signing` is the service the signature is scoped to, if any.
pub fn classify(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    signing: Option<&str>,
) -> Route {
    let path = uri.path();
    if path == "/metrics" || path == "/_tributary" || path.starts_with("/_tributary/") {
        return route("tributary", Protocol::Admin);
    }
    if let Some(target) = header(headers, names::X_AMZ_TARGET) {
        let prefix = target.split('.').next().unwrap_or_default();
        let json11 =
            header(headers, names::CONTENT_TYPE).is_some_and(|c| c.contains("amz-json-1.1"));
        let known = match prefix {
            "DynamoDB_20120810" | "DynamoDBStreams_20120810" => Some(("dynamodb", false)),
            "Logs_20140328" => Some(("logs", true)),
            "AmazonSQS" => Some(("sqs", false)),
            "GraniteServiceVersion20100801" => Some(("monitoring", false)),
            _ => None,
        };
        return match known {
            Some((service, is11)) => route(
                service,
                if is11 {
                    Protocol::AwsJson11
                } else {
                    Protocol::AwsJson10
                },
            ),
            None => route(
                signing.unwrap_or(prefix),
                if json11 {
                    Protocol::AwsJson11
                } else {
                    Protocol::AwsJson10
                },
            ),
        };
    }
    if let Some(rest) = path.strip_prefix("/service/") {
        if rest.contains("/operation/") {
            let name = rest.split('/').next().unwrap_or_default();
            let service = if name == "GraniteServiceVersion20100801" {
                "monitoring"
            } else {
                signing.unwrap_or(name)
            };
            return route(service, Protocol::RpcV2Cbor);
        }
    }
    if let Some(service) = signing {
        let protocol = if REST_XML_SERVICES.contains(&service) {
            Protocol::RestXml
        } else if QUERY_SERVICES.contains(&service) {
            Protocol::Query
        } else if service == "dynamodb" {
            Protocol::AwsJson10
        } else {
            Protocol::RestJson
        };
        return route(service, protocol);
    }
    // Unsigned: recognise what we can by shape, so the refusal is at least readable.
    if is_lambda_path(path) {
        return route("lambda", Protocol::RestJson);
    }
    if method == Method::POST && form_action(headers, body) {
        return route(query_service_of(path, body), Protocol::Query);
    }
    if uri.query().is_some_and(|q| q.contains("Action=")) {
        return route("unknown", Protocol::Query);
    }
    if method == Method::POST && path == "/" {
        return route("unknown", Protocol::AwsJson10);
    }
    route("s3", Protocol::RestXml)
}

fn route(service: &str, protocol: Protocol) -> Route {
    Route {
        service: service.to_owned(),
        protocol,
    }
}

fn header(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Lambda's REST paths start with an API date: `/2015-03-31/functions`, `/2017-10-31/...`.
fn is_lambda_path(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() > 12
        && b[0] == b'/'
        && b[1..5].iter().all(u8::is_ascii_digit)
        && b[5] == b'-'
        && b[8] == b'-'
        && b[11] == b'/'
}

fn form_action(headers: &HeaderMap, body: &[u8]) -> bool {
    header(headers, names::CONTENT_TYPE)
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
        && body
            .split(|b| *b == b'&')
            .any(|p| p.starts_with(b"Action="))
}

/// An unsigned query request's service, told from its queue URL path or its parameters.
fn query_service_of(path: &str, body: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(body);
    let action = text
        .split('&')
        .find_map(|p| p.strip_prefix("Action="))
        .unwrap_or_default();
    if path.len() > 1
        || text.contains("QueueUrl=")
        || action.contains("Queue")
        || action.ends_with("Message")
        || action.ends_with("MessageBatch")
    {
        "sqs"
    } else if text.contains("TopicArn=")
        || action.contains("Topic")
        || action.contains("Subscri")
        || action == "Publish"
        || action == "PublishBatch"
    {
        "sns"
    } else if action.contains("Metric") || action.contains("Alarm") || action.contains("Dashboard")
    {
        "monitoring"
    } else {
        "unknown"
    }
}

/// The service a SigV4 signature is scoped to (`Credential=AKID/date/region/<service>/...`),
/// from the `Authorization` header or a presigned URL; SigV2 survives only in S3.
pub fn signing_service(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    fn from_credential(cred: &str) -> Option<String> {
        let service = cred.split('/').nth(3)?;
        (!service.is_empty()).then(|| service.to_ascii_lowercase())
    }
    if let Some(auth) = header(headers, names::AUTHORIZATION) {
        if auth.starts_with("AWS ") {
            return Some("s3".to_owned());
        }
        let cred = auth.split("Credential=").nth(1)?;
        return from_credential(cred.split([',', ' ']).next()?);
    }
    let query = uri.query()?;
    let mut v2 = (false, false);
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "X-Amz-Credential" => {
                let decoded = percent_decode(v);
                return from_credential(&decoded);
            }
            "AWSAccessKeyId" => v2.0 = true,
            "Signature" => v2.1 = true,
            _ => {}
        }
    }
    (v2.0 && v2.1).then(|| "s3".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_with(target: Option<&str>, path: &str, signing: Option<&str>) -> Route {
        let mut h = HeaderMap::new();
        if let Some(t) = target {
            h.insert("x-amz-target", t.parse().unwrap());
        }
        classify(&Method::POST, &path.parse().unwrap(), &h, b"", signing)
    }

    #[test]
    fn targets_name_json_services() {
        let r = classify_with(Some("DynamoDB_20120810.PutItem"), "/", Some("dynamodb"));
        assert_eq!(
            (r.service.as_str(), r.protocol),
            ("dynamodb", Protocol::AwsJson10)
        );
        let r = classify_with(Some("Logs_20140328.PutLogEvents"), "/", Some("logs"));
        assert_eq!(r.protocol, Protocol::AwsJson11);
        let r = classify_with(Some("Kinesis_20131202.PutRecord"), "/", Some("kinesis"));
        assert_eq!(r.service, "kinesis");
    }

    #[test]
    fn signing_scope_names_query_and_rest_services() {
        assert_eq!(
            classify_with(None, "/", Some("sts")).protocol,
            Protocol::Query
        );
        assert_eq!(
            classify_with(None, "/b/k", Some("s3")).protocol,
            Protocol::RestXml
        );
        assert_eq!(
            classify_with(None, "/2015-03-31/functions", Some("lambda")).protocol,
            Protocol::RestJson
        );
        assert_eq!(
            classify_with(None, "/_tributary/health", None).protocol,
            Protocol::Admin
        );
        assert_eq!(
            classify_with(None, "/2015-03-31/functions/f/invocations", None).service,
            "lambda"
        );
    }

    #[test]
    fn reads_the_signing_service() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            signing_service(&h, &"/".parse().unwrap()).as_deref(),
            Some("sts")
        );
        let uri: Uri = "/b/k?X-Amz-Credential=AK%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00"
            .parse()
            .unwrap();
        assert_eq!(
            signing_service(&HeaderMap::new(), &uri).as_deref(),
            Some("s3")
        );
    }
}

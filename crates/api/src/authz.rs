//! The IAM check of each request made by an IAM user or a role session (a function's calls
//! with its role's credentials): the operation maps to its IAM action and resource ARNs
//! (`tributary_policy::actions`), which the caller's policies must allow. The account's own
//! keys act as the root and are not checked, as on AWS.

use std::collections::HashMap;

use serde_json::Value;
use tributary_policy::actions;
use tributary_service::envelope::{render, GatewayError};
use tributary_service::iam::{access_denied, Guard};
use tributary_service::{Protocol, Request, Response};

/// The operation a request calls, by its protocol.
fn operation(req: &Request) -> Option<(String, Vars)> {
    let target = || {
        req.headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.rsplit_once('.'))
            .map(|(_, op)| op.to_owned())
    };
    match req.route.protocol {
        Protocol::AwsJson10 | Protocol::AwsJson11 => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            Some((target()?, Vars::Json(body)))
        }
        Protocol::Query => {
            let params = tributary_service::query::Params::parse(&req.uri, &req.body);
            let op = params.get("Action")?.to_owned();
            Some((op, Vars::Map(params.0.into_iter().collect())))
        }
        Protocol::RestJson | Protocol::RestXml => {
            let service = match req.route.service.as_str() {
                "lambda" => &tributary_shapes::generated::lambda::SERVICE,
                "s3" => &tributary_shapes::generated::s3::SERVICE,
                _ => return None,
            };
            let query = tributary_service::parse_query(req.uri.query().unwrap_or(""));
            let keys: Vec<&str> = query.keys().map(String::as_str).collect();
            let (op, labels) = service.match_rest(req.method.as_str(), req.uri.path(), &keys)?;
            let mut vars: HashMap<String, String> = labels
                .into_iter()
                .map(|(k, v)| (k, tributary_service::percent_decode(&v)))
                .collect();
            if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) {
                for (k, v) in body {
                    if let Value::String(s) = v {
                        vars.entry(k).or_insert(s);
                    }
                }
            }
            Some((op.name.to_owned(), Vars::Map(vars)))
        }
        Protocol::RpcV2Cbor => {
            let op = req.uri.path().rsplit('/').next()?.to_owned();
            Some((op, Vars::Map(HashMap::new())))
        }
        Protocol::Admin => None,
    }
}

/// Where a template's variables come from.
enum Vars {
    Json(Value),
    Map(HashMap<String, String>),
}

impl Vars {
    fn raw(&self, name: &str) -> Option<String> {
        match self {
            Vars::Json(v) => v.get(name).and_then(Value::as_str).map(str::to_owned),
            Vars::Map(m) => m.get(name).cloned(),
        }
    }

    /// A template variable: the input member of that name, or one derived as
    /// `data/actions.tsv` describes.
    fn get(&self, name: &str) -> Option<String> {
        let after = |s: String, sep: &str| s.rsplit(sep).next().map(str::to_owned);
        match name {
            // A table ARN passed as TableName; a stream's table and label from its ARN.
            "TableName" => self
                .raw("TableName")
                .map(|t| match t.split_once(":table/") {
                    Some((_, rest)) => rest.split('/').next().unwrap_or(rest).to_owned(),
                    None => t,
                }),
            "StreamLabel" => self
                .raw("StreamArn")
                .and_then(|a| a.rsplit_once("/stream/").map(|(_, l)| l.to_owned())),
            "QueueName" => self
                .raw("QueueName")
                .or_else(|| self.raw("QueueUrl").and_then(|u| after(u, "/"))),
            "FunctionName" => self.raw("FunctionName").map(|f| {
                // A name, a partial ARN or an ARN; the qualifier is not part of the name.
                match f.split_once(":function:") {
                    Some((_, rest)) => rest.split(':').next().unwrap_or(rest).to_owned(),
                    None => f.rsplit(':').next().unwrap_or(&f).to_owned(),
                }
            }),
            "logGroupName" => self.raw("logGroupName").or_else(|| {
                self.raw("logGroupIdentifier")
                    .map(|g| match g.split_once(":log-group:") {
                        Some((_, rest)) => rest.trim_end_matches(":*").to_owned(),
                        None => g,
                    })
            }),
            "TopicArn" => self.raw("TopicArn").or_else(|| self.raw("TargetArn")),
            _ => self.raw(name),
        }
    }
}

/// Checks one request against its caller's policies; the refusal, in the request's protocol,
/// under `--iam enforce` (under `warn` the would-be denial is recorded and the call goes on).
/// The resource-based policy of a resource ARN, where its service keeps one.
pub(crate) type ResourcePolicies<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(crate) fn check(
    guard: &Guard,
    region: &str,
    req: &Request,
    policies: ResourcePolicies<'_>,
) -> Option<Response> {
    refusal(guard, region, req, policies).err()
}

#[allow(clippy::result_large_err)] // the refusal is the answer, built once per denied request
fn refusal(
    guard: &Guard,
    region: &str,
    req: &Request,
    policies: ResourcePolicies<'_>,
) -> Result<(), Response> {
    let Some(caller) = req.caller.as_ref() else {
        return Ok(());
    };
    let Some(principal) = caller.arn.as_deref() else {
        return Ok(());
    };
    if guard.mode() == tributary_service::iam::IamMode::Off {
        return Ok(());
    }
    let Some((op, vars)) = operation(req) else {
        return Ok(());
    };
    let Some(def) = actions::lookup(&req.route.service, &op) else {
        return Ok(());
    };
    let Some(action) = def.action else {
        return Ok(());
    };
    let var = |name: &str| -> Option<String> {
        match name {
            "Partition" => Some("aws".to_owned()),
            "Region" => Some(region.to_owned()),
            "Account" => Some(caller.account_id.clone()),
            other => vars.get(other),
        }
    };
    let resources: Vec<String> = def
        .resources
        .iter()
        .filter_map(|t| actions::render(t, &var))
        .collect();
    let mut context: HashMap<String, Vec<String>> = HashMap::new();
    context.insert("aws:RequestedRegion".into(), vec![region.to_owned()]);
    let json = !matches!(req.route.protocol, Protocol::Query | Protocol::RestXml);
    for resource in &resources {
        let policy = policies(resource);
        if let Err(e) = guard.check(
            principal,
            action,
            resource,
            &context,
            policy.as_deref(),
            |m| access_denied(json, m),
        ) {
            return Err(render(&req.route, &GatewayError::from(&e)));
        }
    }
    Ok(())
}

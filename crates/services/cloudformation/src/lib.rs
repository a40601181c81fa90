//! AWS CloudFormation on the shared endpoint (query protocol, XML), over the template engine
//! in `tributary-cfn`.
//!
//! Served so far: `ValidateTemplate` and `GetTemplateSummary`, which read a template
//! (`TemplateBody`; JSON or YAML, the SAM transform expanded) and answer what AWS answers: its
//! parameters, description, declared transforms and the capabilities a stack of it needs, or
//! `ValidationError` with CloudFormation's `Template format error: ...`. Stack operations
//! (issue 15) answer `NotImplemented`, naming the operation, until the resource handlers land.

use std::collections::BTreeSet;

use tributary_cfn::{sam, validate, Params, Pseudo, Template};
use tributary_model::AwsError;
use tributary_service::query::{self, Params as QueryParams, Xml};
use tributary_service::{Request, Response, Service};

const NAMESPACE: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";
/// The largest `TemplateBody` CloudFormation takes (51,200 bytes).
const MAX_TEMPLATE_BODY: usize = 51_200;

/// Resource types whose creation needs `CAPABILITY_IAM` (or `CAPABILITY_NAMED_IAM` when they
/// are given a name), per CloudFormation's "Acknowledging IAM resources" list.
const IAM_TYPES: &[(&str, &str)] = &[
    ("AWS::IAM::AccessKey", ""),
    ("AWS::IAM::Group", "GroupName"),
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::IAM::Policy", ""),
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::IAM::User", "UserName"),
    ("AWS::IAM::UserToGroupAddition", ""),
];

/// The CloudFormation service.
pub struct CloudFormation {
    region: String,
    account_id: String,
}

impl CloudFormation {
    pub fn new(region: impl Into<String>, account_id: impl Into<String>) -> CloudFormation {
        CloudFormation {
            region: region.into(),
            account_id: account_id.into(),
        }
    }

    /// The template a request names, parsed and (for SAM) expanded, with the template as
    /// written for the answers that describe it.
    fn template(&self, p: &QueryParams) -> Result<(Template, Template), AwsError> {
        let body = match (p.get("TemplateBody"), p.get("TemplateURL")) {
            (Some(b), None) => b,
            (None, Some(_)) => {
                return Err(validation(
                    "TemplateURL is not supported by this server yet; pass the template as TemplateBody",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(validation(
                    "Specify exactly one of TemplateBody or TemplateURL",
                ))
            }
            (None, None) => {
                return Err(validation(
                    "Either Template URL or Template Body must be specified.",
                ))
            }
        };
        if body.len() > MAX_TEMPLATE_BODY {
            return Err(validation(format!(
                "1 validation error detected: Value '{}...' at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to {MAX_TEMPLATE_BODY}",
                body.chars().take(16).collect::<String>()
            )));
        }
        let written = Template::parse(body).map_err(|e| validation(e.to_string()))?;
        let expanded = if written.has_sam_transform() {
            let pseudo = Pseudo::new(&self.region, &self.account_id, "validation", "validation");
            sam::transform(&written, &sam::SamContext::new(pseudo, Params::default()))
                .map_err(|e| validation(e.to_string()))?
        } else {
            written.clone()
        };
        validate(&expanded).map_err(|e| validation(e.to_string()))?;
        Ok((written, expanded))
    }

    fn validate_template(&self, p: &QueryParams) -> Result<String, AwsError> {
        let (written, expanded) = self.template(p)?;
        let mut x = Xml::new();
        parameters(&mut x, &written, false);
        if let Some(d) = &written.description {
            x.elem("Description", d);
        }
        capabilities(&mut x, &expanded);
        transforms(&mut x, &written);
        Ok(x.into_string())
    }

    fn get_template_summary(&self, p: &QueryParams) -> Result<String, AwsError> {
        let (written, expanded) = self.template(p)?;
        let mut x = Xml::new();
        parameters(&mut x, &written, true);
        if let Some(d) = &written.description {
            x.elem("Description", d);
        }
        capabilities(&mut x, &expanded);
        let types: BTreeSet<&str> = expanded
            .resources
            .values()
            .map(|r| r.type_.as_str())
            .collect();
        x.open("ResourceTypes");
        for t in types {
            x.elem("member", t);
        }
        x.close("ResourceTypes");
        x.elem(
            "Version",
            written.format_version.as_deref().unwrap_or("2010-09-09"),
        );
        transforms(&mut x, &written);
        x.open("ResourceIdentifierSummaries")
            .close("ResourceIdentifierSummaries");
        Ok(x.into_string())
    }
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", 400, message)
}

/// `Parameters` as ValidateTemplate (`ParameterKey`) and GetTemplateSummary (its
/// `ParameterDeclarations`, with `ParameterType` and constraints) list them.
fn parameters(x: &mut Xml, t: &Template, summary: bool) {
    x.open("Parameters");
    for (name, p) in &t.parameters {
        x.open("member");
        x.elem("ParameterKey", name);
        if let Some(d) = &p.default {
            x.elem("DefaultValue", d);
        }
        x.elem("NoEcho", if p.no_echo { "true" } else { "false" });
        if let Some(d) = &p.description {
            x.elem("Description", d);
        }
        if summary {
            x.elem("ParameterType", &p.type_);
            if let Some(values) = &p.allowed_values {
                x.open("ParameterConstraints").open("AllowedValues");
                for v in values {
                    x.elem("member", v);
                }
                x.close("AllowedValues").close("ParameterConstraints");
            }
        }
        x.close("member");
    }
    x.close("Parameters");
}

/// `Capabilities` and `CapabilitiesReason`: IAM resources need `CAPABILITY_IAM`, named ones
/// `CAPABILITY_NAMED_IAM`.
fn capabilities(x: &mut Xml, expanded: &Template) {
    let mut needing: Vec<&str> = Vec::new();
    let mut named = false;
    for (id, r) in &expanded.resources {
        if let Some((_, name_prop)) = IAM_TYPES.iter().find(|(t, _)| *t == r.type_) {
            needing.push(id);
            named |= !name_prop.is_empty() && r.properties.get(*name_prop).is_some();
        }
    }
    if needing.is_empty() {
        return;
    }
    x.open("Capabilities")
        .elem(
            "member",
            if named {
                "CAPABILITY_NAMED_IAM"
            } else {
                "CAPABILITY_IAM"
            },
        )
        .close("Capabilities");
    x.elem(
        "CapabilitiesReason",
        &format!(
            "The following resource(s) require capabilities: [{}]",
            needing
                .iter()
                .map(|id| expanded.resources[*id].type_.as_str())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
}

fn transforms(x: &mut Xml, t: &Template) {
    if t.transform.is_empty() {
        return;
    }
    x.open("DeclaredTransforms");
    for tr in &t.transform {
        x.elem("member", tr);
    }
    x.close("DeclaredTransforms");
}

fn error(e: &AwsError) -> Response {
    query::error(NAMESPACE, e.status, e.code, &e.message, false)
}

#[async_trait::async_trait]
impl Service for CloudFormation {
    async fn call(&self, req: Request) -> Response {
        let p = QueryParams::parse(&req.uri, &req.body);
        let Some(action) = p.get("Action").map(str::to_owned) else {
            return error(&AwsError::new("MissingAction", 400, "Missing Action"));
        };
        let result = match action.as_str() {
            "ValidateTemplate" => self.validate_template(&p),
            "GetTemplateSummary" => self.get_template_summary(&p),
            "CreateStack" | "UpdateStack" | "DeleteStack" | "DescribeStacks" | "ListStacks"
            | "DescribeStackEvents" | "DescribeStackResource" | "DescribeStackResources"
            | "ListStackResources" | "GetTemplate" | "CreateChangeSet" | "DescribeChangeSet"
            | "ExecuteChangeSet" | "DeleteChangeSet" | "ListChangeSets" | "ListExports" => {
                Err(AwsError::new(
                    "NotImplemented",
                    501,
                    format!(
                        "The CloudFormation operation {action} is not served by this Tributary server yet"
                    ),
                ))
            }
            other => Err(AwsError::new(
                "InvalidAction",
                400,
                format!("Could not find operation {other} for version 2010-05-15"),
            )),
        };
        match result {
            Ok(xml) => query::ok(&action, NAMESPACE, Some(&xml)),
            Err(e) => {
                tracing::debug!(action, code = e.code, message = %e.message, "cloudformation request failed");
                error(&e)
            }
        }
    }
}

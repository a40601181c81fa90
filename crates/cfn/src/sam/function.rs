//! `AWS::Serverless::Function`: the Lambda function, its execution role `<Function>Role`,
//! `AutoPublishAlias`'s version and alias, `EventInvokeConfig`, and one
//! `AWS::Lambda::EventSourceMapping` `<Function><Event>` per DynamoDB event (SAM's
//! `SamFunction.to_cloudformation` and `eventsources/pull.py`).

use serde_json::{json, Map, Value};

use super::hash;
use super::policies::{self, PolicyEntry};
use super::{
    check_properties, code_location, event_invalid, invalid, is_intrinsic, tag_list,
    valid_logical_id, Passthrough, SamContext, Translation,
};
use crate::template::{Resource, RetentionPolicy};

const TYPE: &str = "AWS::Serverless::Function";

/// Generated resources with their logical ids, in the order SAM emits them.
type Generated = Vec<(String, Resource)>;

const KNOWN: &[&str] = &[
    "FunctionName",
    "Handler",
    "Runtime",
    "CodeUri",
    "ImageUri",
    "PackageType",
    "InlineCode",
    "DeadLetterQueue",
    "Description",
    "MemorySize",
    "Timeout",
    "VpcConfig",
    "Role",
    "AssumeRolePolicyDocument",
    "Policies",
    "RolePath",
    "PermissionsBoundary",
    "Environment",
    "Events",
    "Tags",
    "PropagateTags",
    "Tracing",
    "KmsKeyArn",
    "DeploymentPreference",
    "ReservedConcurrentExecutions",
    "Layers",
    "EventInvokeConfig",
    "EphemeralStorage",
    "AutoPublishAlias",
    "AutoPublishCodeSha256",
    "AutoPublishAliasAllProperties",
    "VersionDescription",
    "ProvisionedConcurrencyConfig",
    "FileSystemConfigs",
    "ImageConfig",
    "CodeSigningConfigArn",
    "Architectures",
    "SnapStart",
    "FunctionUrlConfig",
    "RuntimeManagementConfig",
    "LoggingConfig",
    "RecursiveLoop",
    "SourceKMSKeyArn",
];

/// Properties copied as they are onto the `AWS::Lambda::Function`.
const PASS_THROUGH: &[&str] = &[
    "FunctionName",
    "Handler",
    "Runtime",
    "Description",
    "MemorySize",
    "Timeout",
    "VpcConfig",
    "Environment",
    "KmsKeyArn",
    "ReservedConcurrentExecutions",
    "Layers",
    "FileSystemConfigs",
    "ImageConfig",
    "PackageType",
    "Architectures",
    "SnapStart",
    "EphemeralStorage",
    "CodeSigningConfigArn",
    "RuntimeManagementConfig",
    "LoggingConfig",
    "RecursiveLoop",
    "SourceKMSKeyArn",
];

/// The event source types SAM knows. Of these the server serves DynamoDB streams.
const SAM_EVENT_TYPES: &[&str] = &[
    "S3",
    "SNS",
    "Kinesis",
    "DynamoDB",
    "SQS",
    "Api",
    "Schedule",
    "ScheduleV2",
    "CloudWatchEvent",
    "EventBridgeRule",
    "CloudWatchLogs",
    "IoTRule",
    "AlexaSkill",
    "Cognito",
    "HttpApi",
    "MSK",
    "MQ",
    "SelfManagedKafka",
    "DocumentDB",
];

/// The properties of a DynamoDB event (SAM's `PullEventSource.property_types` and
/// `Stream`).
const DYNAMODB_EVENT: &[&str] = &[
    "Stream",
    "BatchSize",
    "StartingPosition",
    "StartingPositionTimestamp",
    "Enabled",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "BisectBatchOnFunctionError",
    "MaximumRecordAgeInSeconds",
    "DestinationConfig",
    "ParallelizationFactor",
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SecretsManagerKmsKeyId",
    "TumblingWindowInSeconds",
    "FunctionResponseTypes",
    "KafkaBootstrapServers",
    "FilterCriteria",
    "ConsumerGroupId",
    "ScalingConfig",
];

/// The event's properties copied onto the `AWS::Lambda::EventSourceMapping` (besides
/// `Stream`, which becomes `EventSourceArn`).
const MAPPING_PASS_THROUGH: &[&str] = &[
    "StartingPosition",
    "StartingPositionTimestamp",
    "BatchSize",
    "Enabled",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "BisectBatchOnFunctionError",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "TumblingWindowInSeconds",
    "FunctionResponseTypes",
    "FilterCriteria",
    "ScalingConfig",
];

/// `lambda:createdBy: SAM`, the tag SAM puts first on the function and its role.
const SAM_TAG_KEY: &str = "lambda:createdBy";

fn lambda_assume_role_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Action": ["sts:AssumeRole"],
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com"]}
        }]
    })
}

/// The execution role being assembled.
struct Role {
    managed: Vec<Value>,
    policies: Vec<Value>,
}

impl Role {
    fn add_managed(&mut self, arn: Value) {
        if !self.managed.contains(&arn) {
            self.managed.push(arn);
        }
    }

    /// Adds an inline policy unless the same document is there already.
    fn add_policy(&mut self, policy: Value) {
        let doc = policy.get("PolicyDocument");
        if !self
            .policies
            .iter()
            .any(|p| p == &policy || (doc.is_some() && p.get("PolicyDocument") == doc))
        {
            self.policies.push(policy);
        }
    }
}

fn is_int_like(v: &Value) -> bool {
    v.is_i64() || v.is_u64() || is_intrinsic(v)
}

fn is_bool_like(v: &Value) -> bool {
    v.is_boolean() || is_intrinsic(v)
}

pub(super) fn translate(
    id: &str,
    r: &Resource,
    props: &Value,
    ctx: &SamContext,
) -> Result<Translation, Vec<String>> {
    let empty = Map::new();
    let p = props.as_object().unwrap_or(&empty);
    check_properties(id, TYPE, p, KNOWN).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let passthrough = Passthrough::of(r);

    for unsupported in ["DeploymentPreference", "FunctionUrlConfig"] {
        if p.contains_key(unsupported) {
            errors.push(invalid(
                id,
                format!("{unsupported} is not supported by this server yet."),
            ));
        }
    }
    if p.get("AutoPublishAliasAllProperties")
        .is_some_and(|v| !v.is_boolean())
    {
        errors.push(invalid(
            id,
            "Type of property 'AutoPublishAliasAllProperties' is invalid.",
        ));
    }
    let tags = match p.get("Tags") {
        None => Map::new(),
        Some(Value::Object(t)) if !is_intrinsic(&Value::Object(t.clone())) => t.clone(),
        Some(_) => {
            errors.push(invalid(id, "Property 'Tags' should be a map."));
            Map::new()
        }
    };
    if tags.contains_key(SAM_TAG_KEY) {
        errors.push(invalid(
            id,
            format!("{SAM_TAG_KEY} is a reserved Tag key name and cannot be set on your resource. Please change the tag key in the input."),
        ));
    }
    let mut tag_values = vec![json!({ "Key": SAM_TAG_KEY, "Value": "SAM" })];
    tag_values.extend(tag_list(&tags));

    // DeadLetterQueue
    let dlq = match p.get("DeadLetterQueue") {
        None => None,
        Some(Value::Object(d)) => {
            let target = d.get("TargetArn").filter(|v| !v.is_null());
            match (d.get("Type").and_then(Value::as_str), target) {
                (Some(t @ ("SQS" | "SNS")), Some(arn)) => Some((t.to_owned(), arn.clone())),
                (Some(_), Some(_)) => {
                    errors.push(invalid(
                        id,
                        "'DeadLetterQueue' requires Type of ['SQS', 'SNS']",
                    ));
                    None
                }
                _ => {
                    errors.push(invalid(
                        id,
                        "'DeadLetterQueue' requires Type and TargetArn properties to be specified.",
                    ));
                    None
                }
            }
        }
        Some(_) => {
            errors.push(invalid(id, "Property 'DeadLetterQueue' should be a map."));
            None
        }
    };

    // Code
    let package_type = p
        .get("PackageType")
        .and_then(Value::as_str)
        .unwrap_or("Zip");
    let code = match package_type {
        "Zip" => {
            if let Some(inline) = p.get("InlineCode") {
                Some(json!({ "ZipFile": inline }))
            } else {
                // `sam deploy` and `aws cloudformation package` take a missing CodeUri as the
                // template's directory.
                let uri = p.get("CodeUri").cloned().unwrap_or_else(|| json!("."));
                match code_location(id, "CodeUri", &uri, ctx, "") {
                    Ok(c) => Some(c),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                }
            }
        }
        "Image" => match p.get("ImageUri") {
            Some(uri) => Some(json!({ "ImageUri": uri })),
            None => {
                errors.push(invalid(id, "'ImageUri' must be set."));
                None
            }
        },
        _ => {
            errors.push(invalid(id, "PackageType needs to be `Zip` or `Image`"));
            None
        }
    };
    if package_type == "Zip" && (p.get("Runtime").is_none() || p.get("Handler").is_none()) {
        errors.push(invalid(
            id,
            "Runtime and Handler needs to be present when PackageType is of type `Zip`",
        ));
    }
    if package_type == "Image"
        && ["Handler", "Runtime", "Layers"]
            .iter()
            .any(|k| p.contains_key(*k))
    {
        errors.push(invalid(
            id,
            "Runtime, Handler, Layers cannot be present when PackageType is of type `Image`",
        ));
    }

    // The function itself.
    let mut f = Map::new();
    for key in PASS_THROUGH {
        if let Some(v) = p.get(*key) {
            f.insert((*key).to_owned(), v.clone());
        }
    }
    if let Some(c) = &code {
        f.insert("Code".into(), c.clone());
    }
    if let Some(t) = p.get("Tracing") {
        f.insert("TracingConfig".into(), json!({ "Mode": t }));
    }
    if let Some((_, arn)) = &dlq {
        f.insert("DeadLetterConfig".into(), json!({ "TargetArn": arn }));
    }
    f.insert("Tags".into(), Value::Array(tag_values.clone()));

    // AutoPublishAlias: a version whose id changes with the code, and the alias.
    let mut version_alias: Option<(String, Resource, String, Resource, String)> = None;
    if p.contains_key("ProvisionedConcurrencyConfig") && !p.contains_key("AutoPublishAlias") {
        errors.push(invalid(
            id,
            "To set ProvisionedConcurrencyConfig AutoPublishALias must be defined on the function",
        ));
    }
    if let Some(alias) = p.get("AutoPublishAlias") {
        match ctx.resolve_param_refs(alias) {
            Value::String(name) if !name.is_empty() => {
                let code_sha = match p
                    .get("AutoPublishCodeSha256")
                    .map(|v| ctx.resolve_param_refs(v))
                {
                    None => None,
                    Some(Value::String(s)) => Some(s),
                    Some(_) => {
                        errors.push(invalid(id, "AutoPublishCodeSha256 must be a string"));
                        None
                    }
                };
                let all = p
                    .get("AutoPublishAliasAllProperties")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let hashed = if all {
                    Value::Object(f.clone())
                } else {
                    let mut d = match code.as_ref().map(|c| ctx.resolve_param_refs(c)) {
                        Some(Value::Object(m)) => m,
                        _ => Map::new(),
                    };
                    if let Some(Value::Object(env)) = p.get("Environment") {
                        d.extend(env.clone());
                    }
                    if let Some(m) = p.get("MemorySize") {
                        d.insert("MemorySize".into(), m.clone());
                    }
                    if let Some(snap) = p.get("SnapStart") {
                        if snap
                            .get("ApplyOn")
                            .and_then(Value::as_str)
                            .unwrap_or("None")
                            != "None"
                        {
                            d.insert("SnapStart".into(), snap.clone());
                        }
                    }
                    Value::Object(d)
                };
                let version_id =
                    hash::logical_id(&format!("{id}Version"), &hashed, code_sha.as_deref());
                let mut vp = Map::new();
                vp.insert("FunctionName".into(), json!({ "Ref": id }));
                if let Some(d) = p.get("VersionDescription") {
                    vp.insert("Description".into(), d.clone());
                }
                if let Some(rmc) = p.get("RuntimeManagementConfig") {
                    vp.insert("RuntimeManagementConfig".into(), rmc.clone());
                }
                let mut version = passthrough.resource("AWS::Lambda::Version", vp);
                version.deletion_policy = passthrough
                    .deletion_policy
                    .or(Some(RetentionPolicy::Retain));

                let alias_id = format!("{id}Alias{name}");
                if !valid_logical_id(&alias_id) {
                    errors.push(invalid(&alias_id, "Logical ids must be alphanumeric."));
                }
                let mut ap = Map::new();
                ap.insert("Name".into(), json!(name));
                ap.insert("FunctionName".into(), json!({ "Ref": id }));
                ap.insert(
                    "FunctionVersion".into(),
                    json!({ "Fn::GetAtt": [version_id, "Version"] }),
                );
                if let Some(pc) = p.get("ProvisionedConcurrencyConfig") {
                    ap.insert("ProvisionedConcurrencyConfig".into(), pc.clone());
                }
                let alias_res = passthrough.resource("AWS::Lambda::Alias", ap);
                version_alias = Some((version_id, version, alias_id, alias_res, name));
            }
            _ => errors.push(invalid(
                id,
                "'AutoPublishAlias' must be a string or a Ref to a template parameter",
            )),
        }
    }
    let alias_name = version_alias.as_ref().map(|v| v.4.clone());
    let alias_id = version_alias.as_ref().map(|v| v.2.clone());

    // EventInvokeConfig
    let mut event_invoke: Vec<(String, Resource)> = Vec::new();
    let mut event_invoke_policies: Vec<Value> = Vec::new();
    if let Some(eic) = p.get("EventInvokeConfig") {
        match event_invoke_config(
            id,
            eic,
            alias_name.as_deref(),
            alias_id.as_deref(),
            &passthrough,
            ctx,
        ) {
            Ok((resources, pols)) => {
                event_invoke = resources;
                event_invoke_policies = pols;
            }
            Err(e) => errors.push(e),
        }
    }

    // The execution role.
    let role_id = format!("{id}Role");
    let mut role = match p.get("Role") {
        Some(given) => {
            f.insert("Role".into(), given.clone());
            None
        }
        None => {
            f.insert("Role".into(), json!({ "Fn::GetAtt": [role_id, "Arn"] }));
            let mut role = Role {
                managed: vec![json!(policies::aws_managed_arn(
                    ctx.partition(),
                    "service-role/AWSLambdaBasicExecutionRole"
                ))],
                policies: Vec::new(),
            };
            if p.contains_key("Tracing") {
                role.add_managed(json!(policies::aws_managed_arn(
                    ctx.partition(),
                    "AWSXrayWriteOnlyAccess"
                )));
            }
            if p.contains_key("VpcConfig") {
                role.add_managed(json!(policies::aws_managed_arn(
                    ctx.partition(),
                    "service-role/AWSLambdaVPCAccessExecutionRole"
                )));
            }
            if let Some((kind, arn)) = &dlq {
                let action = if kind == "SQS" {
                    "sqs:SendMessage"
                } else {
                    "sns:Publish"
                };
                role.policies.push(json!({
                    "PolicyName": "DeadLetterQueuePolicy",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Action": action, "Resource": arn, "Effect": "Allow"}]
                    }
                }));
            }
            role.policies.extend(event_invoke_policies);
            if let Err(es) = add_user_policies(id, &role_id, p.get("Policies"), &mut role, ctx) {
                errors.extend(es);
            }
            Some(role)
        }
    };

    // Events, in SAM's order (by name).
    let mut mappings: Vec<(String, Resource)> = Vec::new();
    match p.get("Events") {
        None => {}
        Some(Value::Object(events)) if !is_intrinsic(p.get("Events").unwrap_or(&Value::Null)) => {
            let target = match &alias_id {
                Some(a) => json!({ "Ref": a }),
                None => json!({ "Ref": id }),
            };
            for (event_name, event) in events {
                match dynamodb_event(
                    id,
                    event_name,
                    event,
                    &target,
                    &passthrough,
                    role.as_mut(),
                    ctx.partition(),
                ) {
                    Ok(m) => mappings.push(m),
                    Err(e) => errors.push(e),
                }
            }
        }
        Some(_) => errors.push(invalid(id, "Type of property 'Events' is invalid.")),
    }

    if !errors.is_empty() {
        return Err(errors);
    }

    let mut function = r.clone();
    function.type_ = "AWS::Lambda::Function".into();
    function.properties = Value::Object(f);
    let mut resources = vec![(id.to_owned(), function)];
    let mut renames = Vec::new();
    if let Some((version_id, version, alias_id, alias, _)) = version_alias {
        renames.push((format!("{id}.Version"), version_id.clone()));
        renames.push((format!("{id}.Alias"), alias_id.clone()));
        resources.push((version_id, version));
        resources.push((alias_id, alias));
    }
    resources.extend(event_invoke);
    if let Some(role) = role {
        let mut rp = Map::new();
        rp.insert(
            "AssumeRolePolicyDocument".into(),
            p.get("AssumeRolePolicyDocument")
                .cloned()
                .unwrap_or_else(lambda_assume_role_policy),
        );
        rp.insert("ManagedPolicyArns".into(), Value::Array(role.managed));
        if !role.policies.is_empty() {
            rp.insert("Policies".into(), Value::Array(role.policies));
        }
        if let Some(path) = p.get("RolePath") {
            rp.insert("Path".into(), path.clone());
        }
        if let Some(pb) = p.get("PermissionsBoundary") {
            rp.insert("PermissionsBoundary".into(), pb.clone());
        }
        rp.insert("Tags".into(), Value::Array(tag_values));
        resources.push((role_id, passthrough.resource("AWS::IAM::Role", rp)));
    }
    resources.extend(mappings);
    Ok(Translation { resources, renames })
}

/// The `Policies` property onto the generated role: managed policy names become ARNs,
/// documents and policy templates inline policies `<Function>RolePolicy<index>`.
fn add_user_policies(
    id: &str,
    role_id: &str,
    policies: Option<&Value>,
    role: &mut Role,
    ctx: &SamContext,
) -> Result<(), Vec<String>> {
    let entries: Vec<Value> = match policies {
        None => return Ok(()),
        Some(Value::Array(a)) => a.clone(),
        Some(v @ (Value::String(_) | Value::Object(_))) => vec![v.clone()],
        Some(_) => return Err(vec![invalid(id, "Type of property 'Policies' is invalid.")]),
    };
    let mut errors = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let policy_name = format!("{role_id}Policy{index}");
        match policies::classify(entry) {
            Some(PolicyEntry::Managed(Value::String(name))) => {
                let arn = policies::managed_arn(&name, ctx.partition(), ctx.managed_policy_arn);
                role.add_managed(json!(arn));
            }
            Some(PolicyEntry::Managed(v)) => {
                let v = convert_if_branches(&v, &|b| match b {
                    Value::String(name) => json!(policies::managed_arn(
                        name,
                        ctx.partition(),
                        ctx.managed_policy_arn
                    )),
                    other => other.clone(),
                });
                role.add_managed(v);
            }
            Some(PolicyEntry::Document(doc)) => {
                let is_if = doc
                    .as_object()
                    .and_then(|m| crate::intrinsics::intrinsic_call(m, false))
                    .is_some_and(|(n, _)| n == "Fn::If");
                if is_if {
                    let wrapped = convert_if_branches(
                        &doc,
                        &|b| json!({ "PolicyName": policy_name, "PolicyDocument": b }),
                    );
                    role.policies.push(wrapped);
                } else {
                    role.policies
                        .push(json!({ "PolicyName": policy_name, "PolicyDocument": doc }));
                }
            }
            Some(PolicyEntry::Template(name, params)) => {
                match policies::expand_template(&name, &params) {
                    Ok(doc) => role
                        .policies
                        .push(json!({ "PolicyName": policy_name, "PolicyDocument": doc })),
                    Err(e) => errors.push(invalid(id, e)),
                }
            }
            None => errors.push(invalid(
                id,
                format!("Policy at index {index} in the 'Policies' property is not valid"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Applies `convert` to the branches of an `Fn::If` that are not `AWS::NoValue`.
fn convert_if_branches(v: &Value, convert: &dyn Fn(&Value) -> Value) -> Value {
    let Some(Value::Array(a)) = v.get("Fn::If") else {
        return v.clone();
    };
    let mut a = a.clone();
    for branch in a.iter_mut().skip(1) {
        let no_value = branch.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue");
        if !no_value {
            *branch = convert(branch);
        }
    }
    json!({ "Fn::If": a })
}

/// `EventInvokeConfig` → `AWS::Lambda::EventInvokeConfig` `<Function>EventInvokeConfig`,
/// with an SQS queue or SNS topic created for a destination given only by its type, and the
/// role policies that let the function reach each destination.
fn event_invoke_config(
    id: &str,
    eic: &Value,
    alias_name: Option<&str>,
    alias_id: Option<&str>,
    passthrough: &Passthrough,
    ctx: &SamContext,
) -> Result<(Generated, Vec<Value>), String> {
    let Some(config) = eic.as_object() else {
        return Err(invalid(id, "Property 'EventInvokeConfig' should be a map."));
    };
    let resolved = ctx.resolve_param_refs(eic);
    let logical_id = format!("{id}EventInvokeConfig");
    let mut resources = Vec::new();
    let mut policies = Vec::new();
    let mut props = Map::new();
    props.insert("FunctionName".into(), json!({ "Ref": id }));
    props.insert("Qualifier".into(), json!(alias_name.unwrap_or("$LATEST")));
    if let Some(dest) = config.get("DestinationConfig") {
        let Some(dest) = dest.as_object() else {
            return Err(invalid(
                id,
                "Property 'EventInvokeConfig.DestinationConfig' should be a map.",
            ));
        };
        let mut out = Map::new();
        for which in ["OnSuccess", "OnFailure"] {
            let Some(d) = dest.get(which) else { continue };
            let Some(d) = d.as_object() else {
                return Err(invalid(
                    id,
                    format!(
                        "Property 'EventInvokeConfig.DestinationConfig.{which}' should be a map."
                    ),
                ));
            };
            let kind = d.get("Type").and_then(Value::as_str).unwrap_or("None");
            if !["SQS", "SNS", "EventBridge", "Lambda"].contains(&kind) {
                return Err(invalid(
                    id,
                    format!(
                        "'Type: {kind}' must be one of ['SQS', 'SNS', 'EventBridge', 'Lambda']"
                    ),
                ));
            }
            let prefix = format!("{logical_id}{which}");
            let destination = match d.get("Destination") {
                Some(arn) => arn.clone(),
                None => match kind {
                    "SQS" => {
                        let queue_id = format!("{prefix}Queue");
                        resources.push((
                            queue_id.clone(),
                            passthrough.resource("AWS::SQS::Queue", Map::new()),
                        ));
                        json!({ "Fn::GetAtt": [queue_id, "Arn"] })
                    }
                    "SNS" => {
                        let topic_id = format!("{prefix}Topic");
                        resources.push((
                            topic_id.clone(),
                            passthrough.resource("AWS::SNS::Topic", Map::new()),
                        ));
                        json!({ "Ref": topic_id })
                    }
                    _ => {
                        return Err(invalid(
                            id,
                            "Destination is required if Type is not ['SQS', 'SNS']",
                        ))
                    }
                },
            };
            let (suffix, action) = match kind {
                "SQS" => ("SQSPolicy", "sqs:SendMessage"),
                "SNS" => ("SNSPolicy", "sns:publish"),
                "EventBridge" => ("EventBridgePolicy", "events:PutEvents"),
                _ => ("LambdaPolicy", "lambda:InvokeFunction"),
            };
            policies.push(json!({
                "PolicyName": format!("{prefix}{suffix}"),
                "PolicyDocument": {"Statement": [{"Action": action, "Effect": "Allow", "Resource": destination}]}
            }));
            out.insert(which.to_owned(), json!({ "Destination": destination }));
        }
        props.insert("DestinationConfig".into(), Value::Object(out));
    }
    for key in ["MaximumEventAgeInSeconds", "MaximumRetryAttempts"] {
        if let Some(v) = resolved.get(key) {
            props.insert(key.into(), v.clone());
        }
    }
    let mut r = passthrough.resource("AWS::Lambda::EventInvokeConfig", props);
    if let Some(a) = alias_id {
        r.depends_on = vec![a.to_owned()];
    }
    let mut all = vec![(logical_id, r)];
    all.extend(resources);
    Ok((all, policies))
}

/// One entry of `Events`: a DynamoDB stream becomes `AWS::Lambda::EventSourceMapping`
/// `<Function><Event>`, and the role gets `AWSLambdaDynamoDBExecutionRole` (and the policy
/// for an on-failure destination given with its `Type`).
fn dynamodb_event(
    id: &str,
    name: &str,
    event: &Value,
    target: &Value,
    passthrough: &Passthrough,
    role: Option<&mut Role>,
    partition: &str,
) -> Result<(String, Resource), String> {
    let mapping_id = format!("{id}{name}");
    let kind = event.get("Type").and_then(Value::as_str);
    let Some(kind) = kind.filter(|k| SAM_EVENT_TYPES.contains(k)) else {
        let shown = match event.get("Type") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "None".to_owned(),
        };
        return Err(invalid(
            id,
            event_invalid(
                name,
                format!("Resource dict has missing or invalid value for key Type. Event Type is: {shown}."),
            ),
        ));
    };
    if kind != "DynamoDB" {
        return Err(invalid(
            id,
            event_invalid(
                name,
                format!("Event type {kind} is not supported by this server yet: the only event source it can serve is DynamoDB (a DynamoDB stream)."),
            ),
        ));
    }
    if !valid_logical_id(&mapping_id) {
        return Err(invalid(&mapping_id, "Logical ids must be alphanumeric."));
    }
    let empty = Map::new();
    let props = match event.get("Properties") {
        None => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(invalid(
                &mapping_id,
                "Properties of a resource must be an object.",
            ));
        }
    };
    check_properties(&mapping_id, "DynamoDB", props, DYNAMODB_EVENT)?;
    for required in ["Stream", "StartingPosition"] {
        if props.get(required).is_none_or(Value::is_null) {
            return Err(invalid(
                &mapping_id,
                format!("Missing required property '{required}'."),
            ));
        }
    }
    for int in [
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "ParallelizationFactor",
        "TumblingWindowInSeconds",
    ] {
        if props.get(int).is_some_and(|v| !is_int_like(v)) {
            return Err(invalid(
                &mapping_id,
                format!("Type of property '{int}' is invalid."),
            ));
        }
    }
    if props.get("Enabled").is_some_and(|v| !v.is_boolean()) {
        return Err(invalid(
            &mapping_id,
            "Type of property 'Enabled' is invalid.",
        ));
    }
    if props
        .get("BisectBatchOnFunctionError")
        .is_some_and(|v| !is_bool_like(v))
    {
        return Err(invalid(
            &mapping_id,
            "Type of property 'BisectBatchOnFunctionError' is invalid.",
        ));
    }
    for list in [
        "FunctionResponseTypes",
        "Topics",
        "Queues",
        "SourceAccessConfigurations",
        "KafkaBootstrapServers",
    ] {
        if props
            .get(list)
            .is_some_and(|v| !v.is_array() && !is_intrinsic(v))
        {
            return Err(invalid(
                &mapping_id,
                format!("Type of property '{list}' is invalid."),
            ));
        }
    }
    for map in ["DestinationConfig", "FilterCriteria", "ScalingConfig"] {
        if props.get(map).is_some_and(|v| !v.is_object()) {
            return Err(invalid(
                &mapping_id,
                format!("Type of property '{map}' is invalid."),
            ));
        }
    }
    if props.contains_key("ConsumerGroupId") {
        return Err(invalid(
            id,
            event_invalid(
                &mapping_id,
                "Property ConsumerGroupId not defined for resource of type DynamoDB.",
            ),
        ));
    }
    if let Some(fc) = props.get("FilterCriteria") {
        if !is_intrinsic(fc) {
            let keys: Vec<&String> = fc
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            if !(keys.is_empty() || keys == ["Filters"]) {
                return Err(invalid(
                    id,
                    event_invalid(name, "FilterCriteria field has a wrong format"),
                ));
            }
        }
    }

    let mut m = Map::new();
    m.insert("FunctionName".into(), target.clone());
    if let Some(stream) = props.get("Stream") {
        m.insert("EventSourceArn".into(), stream.clone());
    }
    for key in MAPPING_PASS_THROUGH {
        if let Some(v) = props.get(*key) {
            m.insert((*key).to_owned(), v.clone());
        }
    }
    let mut destination_policy = None;
    if let Some(dc) = props.get("DestinationConfig") {
        let mut dc = dc.clone();
        let on_failure = dc.get_mut("OnFailure");
        let Some(Value::Object(on_failure)) = on_failure else {
            return Err(invalid(
                id,
                event_invalid(
                    &mapping_id,
                    "Property 'DestinationConfig.OnFailure' should be a map.",
                ),
            ));
        };
        // `Type` tells SAM which policy to attach; Lambda does not know it.
        if let Some(kind) = on_failure.remove("Type") {
            let destination = on_failure
                .get("Destination")
                .cloned()
                .unwrap_or(Value::Null);
            destination_policy = Some(match kind.as_str() {
                Some("SQS") => json!({
                    "PolicyName": format!("{mapping_id}SQSPolicy"),
                    "PolicyDocument": {"Statement": [{"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": destination}]}
                }),
                Some("SNS") => json!({
                    "PolicyName": format!("{mapping_id}SNSPolicy"),
                    "PolicyDocument": {"Statement": [{"Action": "sns:publish", "Effect": "Allow", "Resource": destination}]}
                }),
                _ => {
                    return Err(invalid(
                        id,
                        event_invalid(
                            &mapping_id,
                            "The only valid values for 'Type' are 'SQS' and 'SNS'",
                        ),
                    ))
                }
            });
        }
        m.insert("DestinationConfig".into(), dc);
    }
    if let Some(role) = role {
        role.add_managed(json!(policies::aws_managed_arn(
            partition,
            "service-role/AWSLambdaDynamoDBExecutionRole"
        )));
        if let Some(policy) = destination_policy {
            role.add_policy(policy);
        }
    }
    Ok((
        mapping_id,
        passthrough.resource("AWS::Lambda::EventSourceMapping", m),
    ))
}

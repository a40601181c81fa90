//! The engine around the intrinsics: template structure, parameters, plans, diffs and
//! outputs, on a CDK-style JSON template and small YAML ones.

use serde_json::{json, Value};
use tributary_cfn::{
    diff, outputs, plan, resolve_parameters, resolve_parameters_with, validate, Context,
    NoReplacementRules, Pseudo, Replacement, RetentionPolicy, Template,
};

fn pseudo() -> Pseudo {
    Pseudo::new(
        "us-east-1",
        "123456789012",
        "app",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/app/00000000-0000-0000-0000-000000000000",
    )
}

/// What `cdk synth` writes: long-form JSON functions, `Fn::GetAtt` arrays, `Fn::Join`,
/// `DependsOn` lists, conditions, an SSM-typed bootstrap parameter and `Rules`.
const CDK: &str = r#"{
  "Description": "cdk-style stack",
  "Parameters": {
    "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
    "BootstrapVersion": {
      "Type": "AWS::SSM::Parameter::Value<String>",
      "Default": "/cdk-bootstrap/hnb659fds/version",
      "Description": "Version of the CDK Bootstrap resources in this environment"
    }
  },
  "Conditions": {
    "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
    "CDKMetadataAvailable": {"Fn::Or": [
      {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
      {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}
    ]}
  },
  "Resources": {
    "ItemsTable5A3B9A1C": {
      "Type": "AWS::DynamoDB::Table",
      "Properties": {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"}
      },
      "UpdateReplacePolicy": "Retain",
      "DeletionPolicy": "Retain",
      "Metadata": {"aws:cdk:path": "AppStack/Items/Resource"}
    },
    "HandlerServiceRoleFCDC14AE": {
      "Type": "AWS::IAM::Role",
      "Properties": {
        "AssumeRolePolicyDocument": {
          "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}],
          "Version": "2012-10-17"
        },
        "ManagedPolicyArns": [
          {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]]}
        ]
      }
    },
    "HandlerServiceRoleDefaultPolicyCBD0CC91": {
      "Type": "AWS::IAM::Policy",
      "Properties": {
        "PolicyDocument": {
          "Statement": [{
            "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": ["ItemsTable5A3B9A1C", "StreamArn"]}
          }, {
            "Action": "dynamodb:ListStreams",
            "Effect": "Allow",
            "Resource": "*"
          }],
          "Version": "2012-10-17"
        },
        "PolicyName": "HandlerServiceRoleDefaultPolicyCBD0CC91",
        "Roles": [{"Ref": "HandlerServiceRoleFCDC14AE"}]
      }
    },
    "Handler886CB40B": {
      "Type": "AWS::Lambda::Function",
      "Properties": {
        "Code": {
          "S3Bucket": {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"},
          "S3Key": "3f2a.zip"
        },
        "Role": {"Fn::GetAtt": ["HandlerServiceRoleFCDC14AE", "Arn"]},
        "Environment": {"Variables": {"TABLE_NAME": {"Ref": "ItemsTable5A3B9A1C"}, "STAGE": {"Ref": "Stage"}}},
        "Handler": "index.handler",
        "Runtime": "nodejs20.x",
        "MemorySize": {"Fn::If": ["IsProd", 1024, {"Ref": "AWS::NoValue"}]}
      },
      "DependsOn": ["HandlerServiceRoleDefaultPolicyCBD0CC91", "HandlerServiceRoleFCDC14AE"]
    },
    "HandlerDynamoDBEventSourceAppStackItems4F1B9E2C": {
      "Type": "AWS::Lambda::EventSourceMapping",
      "Properties": {
        "FunctionName": {"Ref": "Handler886CB40B"},
        "EventSourceArn": {"Fn::GetAtt": ["ItemsTable5A3B9A1C", "StreamArn"]},
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 100
      }
    },
    "AlarmTopic": {"Type": "AWS::SNS::Topic", "Condition": "IsProd"},
    "CDKMetadata": {
      "Type": "AWS::CDK::Metadata",
      "Properties": {"Analytics": "v2:deflate64:H4sIAAAAAAAA"},
      "Metadata": {"aws:cdk:path": "AppStack/CDKMetadata/Default"},
      "Condition": "CDKMetadataAvailable"
    }
  },
  "Outputs": {
    "TableArn": {
      "Value": {"Fn::GetAtt": ["ItemsTable5A3B9A1C", "Arn"]},
      "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-TableArn"}}
    },
    "Topic": {"Condition": "IsProd", "Value": {"Ref": "AlarmTopic"}},
    "Zones": {"Value": {"Fn::GetAZs": ""}, "Description": {"Fn::Join": [" ", ["zones", "of", {"Ref": "AWS::Region"}]]}}
  },
  "Rules": {
    "CheckBootstrapVersion": {
      "Assertions": [{
        "Assert": {"Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}]},
        "AssertDescription": "CDK bootstrap stack version 6 required."
      }]
    }
  }
}"#;

fn ssm(name: &str) -> Option<String> {
    (name == "/cdk-bootstrap/hnb659fds/version").then(|| "21".to_owned())
}

fn cdk_plan(stage: &str) -> (Template, Context<'static>, tributary_cfn::Plan) {
    let t = Template::parse(CDK).unwrap();
    let params = resolve_parameters_with(&t, [("Stage", stage)], &ssm).unwrap();
    let ctx = Context::new(pseudo(), params);
    let p = plan(&t, &ctx).unwrap();
    (t, ctx, p)
}

fn resolver() -> impl tributary_cfn::Resolver {
    (
        |id: &str| Some(json!(format!("app-{id}-PHYS"))),
        |id: &str, attr: &str| Some(json!(format!("arn:{id}:{attr}"))),
    )
}

#[test]
fn a_cdk_template_plans_in_dependency_order() {
    let (t, ctx, p) = cdk_plan("dev");
    assert_eq!(t.description.as_deref(), Some("cdk-style stack"));
    assert!(t.rules.is_some());
    assert!(!p.conditions["IsProd"]);
    assert!(p.conditions["CDKMetadataAvailable"]);
    assert_eq!(p.excluded, ["AlarmTopic"]);
    let waves: Vec<Vec<&str>> = p
        .waves
        .iter()
        .map(|w| w.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        waves,
        vec![
            vec![
                "ItemsTable5A3B9A1C",
                "HandlerServiceRoleFCDC14AE",
                "CDKMetadata"
            ],
            vec!["HandlerServiceRoleDefaultPolicyCBD0CC91"],
            vec!["Handler886CB40B"],
            vec!["HandlerDynamoDBEventSourceAppStackItems4F1B9E2C"],
        ]
    );
    let table = p.get("ItemsTable5A3B9A1C").unwrap();
    assert_eq!(table.deletion_policy, RetentionPolicy::Retain);
    assert_eq!(table.update_replace_policy, RetentionPolicy::Retain);
    assert_eq!(
        p.get("Handler886CB40B").unwrap().dependencies,
        [
            "ItemsTable5A3B9A1C",
            "HandlerServiceRoleFCDC14AE",
            "HandlerServiceRoleDefaultPolicyCBD0CC91"
        ]
    );
    // Planned properties: parameters and conditions resolved, resources still symbolic.
    assert_eq!(
        p.get("Handler886CB40B").unwrap().properties,
        json!({
            "Code": {"S3Bucket": "cdk-hnb659fds-assets-123456789012-us-east-1", "S3Key": "3f2a.zip"},
            "Role": {"Fn::GetAtt": ["HandlerServiceRoleFCDC14AE", "Arn"]},
            "Environment": {"Variables": {"TABLE_NAME": {"Ref": "ItemsTable5A3B9A1C"}, "STAGE": "dev"}},
            "Handler": "index.handler",
            "Runtime": "nodejs20.x"
        })
    );
    let role = p
        .resolve_properties(&t, &ctx, "HandlerServiceRoleFCDC14AE", &resolver())
        .unwrap();
    assert_eq!(
        role["ManagedPolicyArns"],
        json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"])
    );
    let f = p
        .resolve_properties(&t, &ctx, "Handler886CB40B", &resolver())
        .unwrap();
    assert_eq!(
        f["Environment"]["Variables"]["TABLE_NAME"],
        json!("app-ItemsTable5A3B9A1C-PHYS")
    );
    assert_eq!(f["Role"], json!("arn:HandlerServiceRoleFCDC14AE:Arn"));
    assert!(f.get("MemorySize").is_none());

    let outs = outputs(&t, &p, &ctx, &resolver()).unwrap();
    assert_eq!(outs.len(), 2);
    assert_eq!(outs[0].key, "TableArn");
    assert_eq!(outs[0].value, "arn:ItemsTable5A3B9A1C:Arn");
    assert_eq!(outs[0].export_name.as_deref(), Some("app-TableArn"));
    assert_eq!(outs[1].value, "us-east-1a,us-east-1b,us-east-1c");
    assert_eq!(outs[1].description.as_deref(), Some("zones of us-east-1"));
    validate(&t).unwrap();
}

#[test]
fn an_update_is_a_diff_of_plans() {
    let (_, _, dev) = cdk_plan("dev");
    let (_, _, prod) = cdk_plan("prod");
    let changes = diff(&dev, &prod, &NoReplacementRules).unwrap();
    assert_eq!(changes.add, ["AlarmTopic"]);
    assert!(changes.remove.is_empty());
    let ids: Vec<&str> = changes
        .modify
        .iter()
        .map(|m| m.logical_id.as_str())
        .collect();
    assert_eq!(ids, ["Handler886CB40B"]);
    assert_eq!(changes.modify[0].properties, ["Environment", "MemorySize"]);
    assert_eq!(changes.modify[0].replacement, Replacement::Never);
    let back = diff(&prod, &dev, &NoReplacementRules).unwrap();
    assert_eq!(back.remove, ["AlarmTopic"]);
    assert!(diff(&dev, &dev, &NoReplacementRules).unwrap().is_empty());

    // A property whose change replaces the resource: the handlers' rules say which.
    let edited = CDK.replace(
        r#""KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],"#,
        r#""KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],"#,
    );
    let t = Template::parse(&edited).unwrap();
    let ctx = Context::new(pseudo(), resolve_parameters_with(&t, [], &ssm).unwrap());
    let new = plan(&t, &ctx).unwrap();
    let rules = |type_: &str, property: &str| match (type_, property) {
        ("AWS::DynamoDB::Table", "KeySchema") => Replacement::Always,
        ("AWS::DynamoDB::Table", "AttributeDefinitions") => Replacement::Conditional,
        _ => Replacement::Never,
    };
    let changes = diff(&dev, &new, &rules).unwrap();
    assert_eq!(changes.modify.len(), 1);
    assert_eq!(
        changes.modify[0].properties,
        ["AttributeDefinitions", "KeySchema"]
    );
    assert_eq!(changes.modify[0].replacement, Replacement::Always);
    assert_eq!(
        changes.dynamic,
        [
            "HandlerServiceRoleDefaultPolicyCBD0CC91",
            "Handler886CB40B",
            "HandlerDynamoDBEventSourceAppStackItems4F1B9E2C"
        ]
    );

    let retyped = CDK.replace(
        r#""Type": "AWS::SNS::Topic""#,
        r#""Type": "AWS::SQS::Queue""#,
    );
    let t = Template::parse(&retyped).unwrap();
    let ctx = Context::new(
        pseudo(),
        resolve_parameters_with(&t, [("Stage", "prod")], &ssm).unwrap(),
    );
    let new = plan(&t, &ctx).unwrap();
    assert_eq!(
        diff(&prod, &new, &NoReplacementRules).unwrap_err().to_string(),
        "Update of resource type is not permitted. The new template modifies resource type of the following resources: [AlarmTopic]"
    );
}

#[test]
fn ssm_parameter_types_resolve_through_the_store() {
    let t = Template::parse(CDK).unwrap();
    let p = resolve_parameters_with(&t, [], &ssm).unwrap();
    let bootstrap = p.param("BootstrapVersion").unwrap();
    assert_eq!(bootstrap.value, json!("21"));
    assert_eq!(bootstrap.text, "/cdk-bootstrap/hnb659fds/version");
    assert_eq!(
        resolve_parameters(&t, []).unwrap_err().to_string(),
        "Unable to fetch parameters [/cdk-bootstrap/hnb659fds/version] from parameter store for this account."
    );
}

#[test]
fn parameter_validation_messages() {
    let t = Template::parse(
        r#"
Parameters:
  Name: {Type: String, MinLength: 2, MaxLength: 5, AllowedPattern: '[a-z]+'}
  Size: {Type: Number, MinValue: 1, MaxValue: 10, Default: 5}
  Env: {Type: String, AllowedValues: [dev, prod], Default: dev}
  Secret: {Type: String, NoEcho: true, Default: hunter2}
  Zones: {Type: CommaDelimitedList, Default: 'a, b'}
  Ports: {Type: List<Number>, Default: '80,443'}
  Vpc: {Type: AWS::EC2::VPC::Id, Default: vpc-1}
  Db: {Type: String, Default: ok, AllowedPattern: '[a-z]+', ConstraintDescription: must be lower case letters}
Resources:
  Q: {Type: AWS::SQS::Queue}
"#,
    )
    .unwrap();
    let err = |pairs: &[(&str, &str)]| {
        resolve_parameters(&t, pairs.iter().copied())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(err(&[]), "Parameters: [Name] must have values");
    assert_eq!(
        err(&[("Name", "abc"), ("Nope", "1"), ("Other", "2")]),
        "Parameters: [Nope, Other] do not exist in the template"
    );
    assert_eq!(
        err(&[("Name", "a")]),
        "Parameter 'Name' must contain at least 2 characters"
    );
    assert_eq!(
        err(&[("Name", "abcdef")]),
        "Parameter 'Name' must contain at most 5 characters"
    );
    assert_eq!(
        err(&[("Name", "AB1")]),
        "Parameter 'Name' must match pattern [a-z]+"
    );
    assert_eq!(
        err(&[("Name", "abc"), ("Size", "x")]),
        "Parameter 'Size' must be a number"
    );
    assert_eq!(
        err(&[("Name", "abc"), ("Size", "0")]),
        "Parameter 'Size' must be a number not less than 1"
    );
    assert_eq!(
        err(&[("Name", "abc"), ("Size", "10.5")]),
        "Parameter 'Size' must be a number not greater than 10"
    );
    assert_eq!(
        err(&[("Name", "abc"), ("Env", "test")]),
        "Parameter 'Env' must be one of AllowedValues"
    );
    assert_eq!(
        err(&[("Name", "abc"), ("Ports", "80,http")]),
        "Parameter 'Ports' must be a list of numbers"
    );
    assert_eq!(
        err(&[("Name", "abc"), ("Db", "NO")]),
        "Parameter 'Db' failed to satisfy constraint: must be lower case letters"
    );

    let p = resolve_parameters(&t, [("Name", "abc")]).unwrap();
    assert_eq!(p.get("Size"), Some(&json!("5")));
    assert_eq!(p.get("Zones"), Some(&json!(["a", "b"])));
    assert_eq!(p.get("Ports"), Some(&json!(["80", "443"])));
    assert_eq!(p.get("Vpc"), Some(&json!("vpc-1")));
    assert_eq!(p.param("Secret").unwrap().shown(), "****");
    assert_eq!(p.param("Env").unwrap().shown(), "dev");
    let names: Vec<&str> = p.iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        ["Name", "Size", "Env", "Secret", "Zones", "Ports", "Vpc", "Db"]
    );
}

#[test]
fn template_format_errors() {
    let cases: &[(&str, &str)] = &[
        ("Foo: 1\nResources:\n  Q: {Type: AWS::SQS::Queue}\n", "Template format error: Invalid template property or properties [Foo]"),
        ("Description: x\n", "Template format error: At least one Resources member must be defined."),
        ("Resources: {}\n", "Template format error: At least one Resources member must be defined."),
        ("Resources:\n  Q: {Properties: {}}\n", "Template format error: [/Resources/Q] Every Resources object must contain a Type member."),
        ("Resources:\n  Q: {Type: AWS::SQS::Queue, Propertes: {}}\n", "Template format error: Invalid template resource property 'Propertes'"),
        ("Resources:\n  my-queue: {Type: AWS::SQS::Queue}\n", "Template format error: Resource name my-queue is non alphanumeric."),
        ("Resources:\n  Q: {Type: AWS::SQS::Queue, DeletionPolicy: Keep}\n", "Template format error: Unrecognized DeletionPolicy Keep for resource Q"),
        ("Resources:\n  Q: {Type: AWS::SQS::Queue}\nOutputs:\n  O: {Description: x}\n", "Template format error: Every Outputs member must contain a Value object"),
        ("Parameters:\n  P: {Default: x}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n", "Template format error: Every Parameters object must contain a Type member."),
        ("Parameters:\n  P: {Type: Text}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n", "Template format error: Unrecognized parameter type: Text"),
        ("Parameters:\n  P: {Type: String, Defualt: x}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n", "Template format error: Invalid template parameter property 'Defualt'"),
        ("Globals: {}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n", "Template format error: Invalid template property or properties [Globals]"),
        ("AWSTemplateFormatVersion: '2011-01-01'\nResources:\n  Q: {Type: AWS::SQS::Queue}\n", "Template format error: Unsupported template version 2011-01-01; the only valid AWSTemplateFormatVersion is 2010-09-09"),
        ("just a string", "Template format error: unsupported structure."),
        ("{\"Resources\": {\"Q\": {\"Type\": \"AWS::SQS::Queue\",}}}", "Template format error: JSON not well-formed. (line 1,  column 48)"),
        ("Resources:\n  Q: {Type: [\n", "Template format error: YAML not well-formed. (line 3, column 1)"),
        ("Resources:\n  Q: &q {Type: AWS::SQS::Queue}\n  R: *q\n", "Template format error: YAML aliases are not allowed in CloudFormation templates"),
        ("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {Name: !Reff x}\n", "Template format error: YAML not well-formed. Unknown tag !Reff. (line 4, column 24)"),
        ("Resources:\n  Q: {Type: AWS::SQS::Queue}\n  Q: {Type: AWS::SQS::Queue}\n", "Template format error: YAML not well-formed. Duplicate key Q. (line 3, column 3)"),
    ];
    for (text, expected) in cases {
        assert_eq!(
            Template::parse(text).unwrap_err().to_string(),
            *expected,
            "{text}"
        );
    }
}

#[test]
fn yaml_scalars_and_tags() {
    let t = Template::parse(
        r#"
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      Int: 42
      Float: 1.5
      Bool: true
      Null: ~
      Account: 012345678901
      Quoted: '42'
      Str: !!str 42
      Hex: 0x1F
      Inf: .inf
      Block: |
        line one
        line two
      Cond: !Condition Never
"#,
    )
    .unwrap();
    let p = &t.resources["Q"].properties;
    assert_eq!(p["Int"], json!(42));
    assert_eq!(p["Float"], json!(1.5));
    assert_eq!(p["Bool"], json!(true));
    assert_eq!(p["Null"], Value::Null);
    assert_eq!(p["Account"], json!("012345678901"));
    assert_eq!(p["Quoted"], json!("42"));
    assert_eq!(p["Str"], json!("42"));
    assert_eq!(p["Hex"], json!(31));
    assert_eq!(p["Inf"], json!(".inf"));
    assert_eq!(p["Block"], json!("line one\nline two\n"));
    assert_eq!(p["Cond"], json!({"Condition": "Never"}));
    // Sections keep their order through a round trip.
    let again = Template::from_value(&t.to_json()).unwrap();
    assert_eq!(again.resources["Q"].properties, t.resources["Q"].properties);
}

#[test]
fn plan_errors() {
    let err = |text: &str| {
        let t = Template::parse(text).unwrap();
        let ctx = Context::new(pseudo(), resolve_parameters(&t, []).unwrap());
        plan(&t, &ctx).unwrap_err().to_string()
    };
    assert_eq!(
        err("Resources:\n  A: {Type: T::A, Properties: {X: !Ref B}}\n  B: {Type: T::B, Properties: {X: !GetAtt A.Arn}}\n  C: {Type: T::C, DependsOn: A}\n"),
        "Circular dependency between resources: [A, B]"
    );
    assert_eq!(
        err("Resources:\n  A: {Type: T::A, DependsOn: [A]}\n"),
        "Circular dependency between resources: [A]"
    );
    assert_eq!(
        err("Resources:\n  A: {Type: T::A, DependsOn: [Ghost], Properties: {X: !Ref Nope, Y: !Sub '${Other}'}}\n"),
        "Template format error: Unresolved resource dependencies [Nope, Other, Ghost] in the Resources block of the template"
    );
    assert_eq!(
        err("Conditions:\n  No: !Equals [a, b]\nResources:\n  A: {Type: T::A, Condition: No}\n  B: {Type: T::B, Properties: {X: !Ref A}}\n"),
        "Template format error: Unresolved resource dependencies [A] in the Resources block of the template"
    );
    assert_eq!(
        err("Resources:\n  A: {Type: T::A}\nOutputs:\n  O: {Value: !Ref Missing}\n"),
        "Template format error: Unresolved resource dependencies [Missing] in the Outputs block of the template"
    );
    assert_eq!(
        err("Resources:\n  A: {Type: T::A, Condition: Undefined}\n"),
        "Template format error: Unresolved dependencies [Undefined]. Cannot reference undefined conditions in the Resources block of the template"
    );
}

#[test]
fn validation_needs_no_parameter_values() {
    let ok = Template::parse(
        r#"
Parameters:
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  A: {Type: T::A, Condition: IsProd}
  B:
    Type: T::B
    Properties:
      X: !If [IsProd, !Ref A, !Ref AWS::NoValue]
      Y: !FindInMap [M, !Ref Env, k]
Mappings:
  M:
    prod: {k: v}
"#,
    )
    .unwrap();
    validate(&ok).unwrap();
    let bad = Template::parse(
        "Conditions:\n  C: !Equals [a, a]\nResources:\n  B:\n    Type: T::B\n    Properties: {X: !If [C, ok, !Ref Ghost]}\n",
    )
    .unwrap();
    assert_eq!(
        validate(&bad).unwrap_err().to_string(),
        "Template format error: Unresolved resource dependencies [Ghost] in the Resources block of the template"
    );
}

#[test]
fn deep_nesting_is_refused_not_crashed() {
    let deep_yaml = format!(
        "Resources:\n  Q:\n    Type: T\n    Properties:\n      X: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(Template::parse(&deep_yaml).is_err());
    let deep_json = format!(
        "{{\"Resources\": {{\"Q\": {{\"Type\": \"T\", \"Properties\": {{\"X\": {}{}}}}}}}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(Template::parse(&deep_json).is_err());
    let nested_fns = format!(
        "Resources:\n  Q:\n    Type: T\n    Properties:\n      X: {}a{}\n",
        "!Base64 [".repeat(50),
        "]".repeat(50)
    );
    let _ = Template::parse(&nested_fns);
}

/// The deepest nesting the parser accepts still evaluates on a thread with a small stack.
#[test]
fn the_deepest_accepted_nesting_evaluates_on_a_small_stack() {
    let depth = 48;
    let mut v = json!("x");
    for i in 0..depth {
        v = match i % 4 {
            0 => json!({"Fn::Base64": v}),
            1 => json!({"Fn::If": ["C", v, {"Ref": "AWS::NoValue"}]}),
            2 => json!({"Fn::Join": ["", [v]]}),
            _ => json!({"Fn::Select": [0, [v]]}),
        };
    }
    let text = json!({
        "Conditions": {"C": {"Fn::Equals": ["a", "a"]}},
        "Resources": {"R": {"Type": "T::R", "Properties": {"V": v}}}
    })
    .to_string();
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let t = Template::parse(&text).map_err(|e| e.to_string())?;
            validate(&t).map_err(|e| e.to_string())?;
            let ctx = Context::new(
                pseudo(),
                resolve_parameters(&t, []).map_err(|e| e.to_string())?,
            );
            let p = plan(&t, &ctx).map_err(|e| e.to_string())?;
            let props = p
                .resolve_properties(&t, &ctx, "R", &tributary_cfn::NoResources)
                .map_err(|e| e.to_string())?;
            let sam = tributary_cfn::sam::transform(
                &t,
                &tributary_cfn::sam::SamContext::new(pseudo(), Default::default()),
            )
            .map_err(|e| e.to_string())?;
            Ok::<_, String>((props, sam.resources.len()))
        })
        .unwrap();
    let (props, _) = handle.join().unwrap().unwrap();
    assert!(props["V"].is_string());
}

/// What an update compares: everything static resolved, references to resources kept.
#[test]
fn planned_properties_keep_resource_references_symbolic() {
    let t = Template::parse(
        r#"
Parameters:
  P: {Type: String, Default: val}
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  R:
    Type: T::R
    Properties:
      A: !Sub '${Table.Arn}/${P}/${AWS::Region}'
      B: !Sub ['${X}-${P}', {X: !Ref Table}]
      C: !Join [',', [!Ref P, !GetAtt Table.Arn]]
      D: !Select [0, [!Ref P, !Ref Table]]
      E: {'Fn::Base64': !Ref Table}
"#,
    )
    .unwrap();
    let ctx = Context::new(pseudo(), resolve_parameters(&t, []).unwrap());
    let p = plan(&t, &ctx).unwrap();
    assert_eq!(
        p.get("R").unwrap().properties,
        json!({
            "A": {"Fn::Sub": "${Table.Arn}/val/us-east-1"},
            "B": {"Fn::Sub": ["${X}-val", {"X": {"Ref": "Table"}}]},
            "C": {"Fn::Join": [",", ["val", {"Fn::GetAtt": ["Table", "Arn"]}]]},
            "D": "val",
            "E": {"Fn::Base64": {"Ref": "Table"}}
        })
    );
    assert_eq!(p.get("R").unwrap().dependencies, ["Table"]);
}

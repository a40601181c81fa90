//! The SAM transform: the DynamoDB guide's template, and each feature of
//! `AWS::Serverless::Function`, `SimpleTable` and `LayerVersion`.

use serde_json::{json, Value};
use tributary_cfn::sam::{self, SamContext, LOCAL_PATH_KEY};
use tributary_cfn::{plan, resolve_parameters, validate, Context, Pseudo, Template};

fn pseudo() -> Pseudo {
    Pseudo::new(
        "us-east-1",
        "123456789012",
        "app",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/app/00000000-0000-0000-0000-000000000000",
    )
}

/// Parses and transforms with the parameters' defaults.
fn transformed(text: &str) -> Result<Template, String> {
    let t = Template::parse(text).map_err(|e| e.to_string())?;
    let params = resolve_parameters(&t, []).map_err(|e| e.to_string())?;
    sam::transform(&t, &SamContext::new(pseudo(), params)).map_err(|e| e.to_string())
}

fn props<'t>(t: &'t Template, id: &str) -> &'t Value {
    &t.resources
        .get(id)
        .unwrap_or_else(|| {
            panic!(
                "no resource {id}; have {:?}",
                t.resources.keys().collect::<Vec<_>>()
            )
        })
        .properties
}

/// The DynamoDB guide's SAM template ("AWS SAM template for a DynamoDB application", Lambda
/// developer guide), verbatim.
const GUIDE: &str = include_str!("data/dynamodb-guide.yaml");

#[test]
fn the_dynamodb_guide_template_transforms_and_plans() {
    let t = transformed(GUIDE).unwrap();
    assert!(
        t.transform.is_empty(),
        "the processed template has no transform left"
    );
    let ids: Vec<&str> = t.resources.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "DynamoDBTable",
            "ProcessDynamoDBStream",
            "ProcessDynamoDBStreamRole",
            "ProcessDynamoDBStreamStream"
        ]
    );
    let types: Vec<&str> = t.resources.values().map(|r| r.type_.as_str()).collect();
    assert_eq!(
        types,
        [
            "AWS::DynamoDB::Table",
            "AWS::Lambda::Function",
            "AWS::IAM::Role",
            "AWS::Lambda::EventSourceMapping"
        ]
    );

    assert_eq!(
        props(&t, "ProcessDynamoDBStream"),
        &json!({
            "Handler": "handler",
            "Runtime": "runtime",
            "Code": {LOCAL_PATH_KEY: "."},
            "Role": {"Fn::GetAtt": ["ProcessDynamoDBStreamRole", "Arn"]},
            "Tags": [{"Key": "lambda:createdBy", "Value": "SAM"}]
        })
    );
    assert_eq!(
        props(&t, "ProcessDynamoDBStreamRole"),
        &json!({
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Action": ["sts:AssumeRole"],
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com"]}
                }]
            },
            "ManagedPolicyArns": [
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
            ],
            "Tags": [{"Key": "lambda:createdBy", "Value": "SAM"}]
        })
    );
    assert_eq!(
        props(&t, "ProcessDynamoDBStreamStream"),
        &json!({
            "FunctionName": {"Ref": "ProcessDynamoDBStream"},
            "EventSourceArn": {"Fn::GetAtt": ["DynamoDBTable", "StreamArn"]},
            "BatchSize": 100,
            "StartingPosition": "TRIM_HORIZON"
        })
    );
    // The table is untouched.
    assert_eq!(
        props(&t, "DynamoDBTable")["StreamSpecification"],
        json!({"StreamViewType": "NEW_IMAGE"})
    );
    assert_eq!(
        props(&t, "DynamoDBTable")["ProvisionedThroughput"],
        json!({"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    );

    validate(&t).unwrap();
    let ctx = Context::new(pseudo(), resolve_parameters(&t, []).unwrap());
    let p = plan(&t, &ctx).unwrap();
    let order: Vec<&str> = p.creation_order().map(|r| r.logical_id.as_str()).collect();
    assert_eq!(
        order,
        [
            "DynamoDBTable",
            "ProcessDynamoDBStreamRole",
            "ProcessDynamoDBStream",
            "ProcessDynamoDBStreamStream"
        ]
    );
    let deletion: Vec<&str> = p.deletion_order().map(|r| r.logical_id.as_str()).collect();
    assert_eq!(
        deletion,
        [
            "ProcessDynamoDBStreamStream",
            "ProcessDynamoDBStream",
            "ProcessDynamoDBStreamRole",
            "DynamoDBTable"
        ]
    );
    assert_eq!(
        p.waves,
        vec![
            vec![
                "DynamoDBTable".to_owned(),
                "ProcessDynamoDBStreamRole".to_owned()
            ],
            vec!["ProcessDynamoDBStream".to_owned()],
            vec!["ProcessDynamoDBStreamStream".to_owned()],
        ]
    );
    assert_eq!(
        p.get("ProcessDynamoDBStreamStream").unwrap().dependencies,
        ["DynamoDBTable", "ProcessDynamoDBStream"]
    );

    // Just before creating the mapping, with the table and function created.
    let stream = "arn:aws:dynamodb:us-east-1:123456789012:table/app-DynamoDBTable-ABC/stream/2024-01-01T00:00:00.000";
    let resolver = (
        |id: &str| match id {
            "ProcessDynamoDBStream" => Some(json!("app-ProcessDynamoDBStream-XYZ")),
            _ => None,
        },
        move |id: &str, attr: &str| {
            (id == "DynamoDBTable" && attr == "StreamArn").then(|| json!(stream))
        },
    );
    let resolved = p
        .resolve_properties(&t, &ctx, "ProcessDynamoDBStreamStream", &resolver)
        .unwrap();
    assert_eq!(
        resolved,
        json!({
            "FunctionName": "app-ProcessDynamoDBStream-XYZ",
            "EventSourceArn": stream,
            "BatchSize": 100,
            "StartingPosition": "TRIM_HORIZON"
        })
    );
}

#[test]
fn a_dynamodb_event_carries_every_mapping_property() {
    let t = transformed(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Failures:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      CodeUri: s3://code-bucket/fn.zip?versionId=v3
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Table.StreamArn
            StartingPosition: LATEST
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 2
            Enabled: false
            BisectBatchOnFunctionError: true
            MaximumRecordAgeInSeconds: 3600
            MaximumRetryAttempts: 3
            ParallelizationFactor: 4
            TumblingWindowInSeconds: 60
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"]}'
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt Failures.Arn
"#,
    )
    .unwrap();
    assert_eq!(
        props(&t, "FnChanges"),
        &json!({
            "FunctionName": {"Ref": "Fn"},
            "EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]},
            "StartingPosition": "LATEST",
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 2,
            "Enabled": false,
            "BisectBatchOnFunctionError": true,
            "MaximumRecordAgeInSeconds": 3600,
            "MaximumRetryAttempts": 3,
            "ParallelizationFactor": 4,
            "TumblingWindowInSeconds": 60,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FilterCriteria": {"Filters": [{"Pattern": "{\"eventName\": [\"INSERT\"]}"}]},
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Failures", "Arn"]}}}
        })
    );
    assert_eq!(
        props(&t, "Fn")["Code"],
        json!({"S3Bucket": "code-bucket", "S3Key": "fn.zip", "S3ObjectVersion": "v3"})
    );
    let role = props(&t, "FnRole");
    assert_eq!(
        role["Policies"],
        json!([{
            "PolicyName": "FnChangesSQSPolicy",
            "PolicyDocument": {"Statement": [{
                "Action": "sqs:SendMessage",
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": ["Failures", "Arn"]}
            }]}
        }])
    );
    assert_eq!(
        role["ManagedPolicyArns"],
        json!([
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
        ])
    );
    validate(&t).unwrap();
}

#[test]
fn policies_managed_documents_and_templates() {
    let t = transformed(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Queue: {Type: AWS::SQS::Queue}
  Topic: {Type: AWS::SNS::Topic}
  Bucket: {Type: AWS::S3::Bucket}
  Other:
    Type: AWS::Serverless::Function
    Properties: {Handler: i.h, Runtime: nodejs20.x, InlineCode: "exports.h = async () => 1"}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: i.h
      Runtime: nodejs20.x
      InlineCode: "exports.h = async () => 1"
      Policies:
        - AmazonS3ReadOnlyAccess
        - arn:aws:iam::123456789012:policy/Mine
        - Statement:
            - Effect: Allow
              Action: logs:PutLogEvents
              Resource: '*'
        - DynamoDBCrudPolicy: {TableName: !Ref Table}
        - DynamoDBReadPolicy: {TableName: !Ref Table}
        - DynamoDBWritePolicy: {TableName: !Ref Table}
        - DynamoDBStreamReadPolicy: {TableName: !Ref Table, StreamName: '*'}
        - SQSSendMessagePolicy: {QueueName: !GetAtt Queue.QueueName}
        - SQSPollerPolicy: {QueueName: !GetAtt Queue.QueueName}
        - SNSPublishMessagePolicy: {TopicName: !GetAtt Topic.TopicName}
        - S3ReadPolicy: {BucketName: !Ref Bucket}
        - S3CrudPolicy: {BucketName: !Ref Bucket}
        - LambdaInvokePolicy: {FunctionName: !Ref Other}
"#,
    )
    .unwrap();
    let role = props(&t, "FnRole");
    assert_eq!(
        role["ManagedPolicyArns"],
        json!([
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:iam::123456789012:policy/Mine"
        ])
    );
    let policies = role["Policies"].as_array().unwrap();
    let names: Vec<&str> = policies
        .iter()
        .map(|p| p["PolicyName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        (2..=12)
            .map(|i| format!("FnRolePolicy{i}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        policies[0]["PolicyDocument"],
        json!({"Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]})
    );
    assert_eq!(
        policies[1]["PolicyDocument"]["Statement"][0]["Resource"][0],
        json!({"Fn::Sub": [
            "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}",
            {"tableName": {"Ref": "Table"}}
        ]})
    );
    assert_eq!(
        policies[4]["PolicyDocument"]["Statement"][0]["Resource"],
        json!({"Fn::Sub": [
            "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${tableName}/stream/${streamName}",
            {"streamName": "*", "tableName": {"Ref": "Table"}}
        ]})
    );
    assert_eq!(
        policies[10]["PolicyDocument"],
        json!({"Statement": [{
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": {"Fn::Sub": [
                "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*",
                {"functionName": {"Ref": "Other"}}
            ]}
        }]})
    );
    // The expanded policies resolve like any other property.
    validate(&t).unwrap();
    let ctx = Context::new(pseudo(), Default::default());
    let p = plan(&t, &ctx).unwrap();
    let resolver = (
        |id: &str| Some(json!(format!("{id}-physical"))),
        |_: &str, _: &str| Some(json!("x")),
    );
    let role = p.resolve_properties(&t, &ctx, "FnRole", &resolver).unwrap();
    assert_eq!(
        role["Policies"][1]["PolicyDocument"]["Statement"][0]["Resource"],
        json!([
            "arn:aws:dynamodb:us-east-1:123456789012:table/Table-physical",
            "arn:aws:dynamodb:us-east-1:123456789012:table/Table-physical/index/*"
        ])
    );
    let fn_deps = &p.get("FnRole").unwrap().dependencies;
    assert_eq!(fn_deps, &["Table", "Queue", "Topic", "Bucket", "Other"]);
}

#[test]
fn policy_errors() {
    let base = |policies: &str| {
        format!(
            r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: i.h
      Runtime: nodejs20.x
      InlineCode: x
      Policies: {policies}
"#
        )
    };
    let prefix = "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document. Number of errors found: 1. ";
    assert_eq!(
        transformed(&base("[{DynamoDBCrudPolicy: {}}]")).unwrap_err(),
        format!("{prefix}Resource with id [Fn] is invalid. Following required parameters of template 'DynamoDBCrudPolicy' don't have values: ['TableName']")
    );
    assert_eq!(
        transformed(&base("[[nested]]")).unwrap_err(),
        format!("{prefix}Resource with id [Fn] is invalid. Policy at index 0 in the 'Policies' property is not valid")
    );
    let err = transformed(&base("[{KMSDecryptPolicy: {KeyId: k}}]")).unwrap_err();
    assert!(
        err.starts_with(&format!("{prefix}Resource with id [Fn] is invalid. Policy template 'KMSDecryptPolicy' is not supported by this server yet.")),
        "{err}"
    );
}

#[test]
fn globals_apply_to_functions_and_tables() {
    let t = transformed(
        r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Timeout: 30
    Handler: app.handler
    Layers: [arn:aws:lambda:us-east-1:123456789012:layer:base:1]
    Environment:
      Variables: {TABLE: shared, STAGE: global}
    Tags: {team: data}
  SimpleTable:
    SSESpecification: {SSEEnabled: true}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./src
      Timeout: 5
      Layers: [arn:aws:lambda:us-east-1:123456789012:layer:extra:2]
      Environment:
        Variables: {STAGE: local}
  Items:
    Type: AWS::Serverless::SimpleTable
"#,
    )
    .unwrap();
    let f = props(&t, "Fn");
    assert_eq!(f["Runtime"], json!("python3.12"));
    assert_eq!(f["Handler"], json!("app.handler"));
    assert_eq!(f["Timeout"], json!(5));
    assert_eq!(f["Code"], json!({LOCAL_PATH_KEY: "./src"}));
    assert_eq!(
        f["Layers"],
        json!([
            "arn:aws:lambda:us-east-1:123456789012:layer:base:1",
            "arn:aws:lambda:us-east-1:123456789012:layer:extra:2"
        ])
    );
    assert_eq!(
        f["Environment"],
        json!({"Variables": {"TABLE": "shared", "STAGE": "local"}})
    );
    assert_eq!(
        f["Tags"],
        json!([{"Key": "lambda:createdBy", "Value": "SAM"}, {"Key": "team", "Value": "data"}])
    );
    assert_eq!(
        props(&t, "Items"),
        &json!({
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": true}
        })
    );
    assert!(t.globals.is_none());

    let err = transformed(
        "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function:\n    Events: {}\nResources:\n  T: {Type: AWS::Serverless::SimpleTable}\n",
    )
    .unwrap_err();
    assert!(
        err.contains(
            "'Globals' section is invalid. 'Events' is not a supported property of 'Function'."
        ),
        "{err}"
    );
}

#[test]
fn simple_table_with_a_key_and_throughput() {
    let t = transformed(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Items:
    Type: AWS::Serverless::SimpleTable
    DeletionPolicy: Retain
    Properties:
      TableName: items
      PrimaryKey: {Name: pk, Type: Number}
      ProvisionedThroughput: {ReadCapacityUnits: 2, WriteCapacityUnits: 3}
      Tags: {env: test}
"#,
    )
    .unwrap();
    let r = &t.resources["Items"];
    assert_eq!(r.type_, "AWS::DynamoDB::Table");
    assert_eq!(
        r.deletion_policy,
        Some(tributary_cfn::RetentionPolicy::Retain)
    );
    assert_eq!(
        r.properties,
        json!({
            "TableName": "items",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": 3},
            "Tags": [{"Key": "env", "Value": "test"}]
        })
    );
    let err = transformed(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  T:\n    Type: AWS::Serverless::SimpleTable\n    Properties: {PrimaryKey: {Name: k, Type: Date}}\n",
    )
    .unwrap_err();
    assert!(
        err.ends_with("Resource with id [T] is invalid. Invalid 'Type' \"Date\"."),
        "{err}"
    );
}

#[test]
fn auto_publish_alias_versions_and_aliases() {
    let text = |code: &str| {
        format!(
            r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  AliasName: {{Type: String, Default: live}}
Resources:
  Table: {{Type: AWS::DynamoDB::Table}}
  Fn:
    Type: AWS::Serverless::Function
    Condition: Always
    Properties:
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 256
      CodeUri: {code}
      Environment:
        Variables: {{GREETING: "h\u00e9llo"}}
      AutoPublishAlias: !Ref AliasName
      ProvisionedConcurrencyConfig: {{ProvisionedConcurrentExecutions: 1}}
      Events:
        S:
          Type: DynamoDB
          Properties: {{Stream: !GetAtt Table.StreamArn, StartingPosition: LATEST}}
Conditions:
  Always: !Equals [a, a]
Outputs:
  AliasArn:
    Value: !Ref Fn.Alias
  Sub:
    Value: !Sub '${{Fn.Version}} via ${{Fn.Alias}}'
"#
        )
    };
    let t = transformed(&text("s3://bucket/key.zip")).unwrap();
    // sha1 of Python's json.dumps of {code, Variables, MemorySize}, sorted and compact.
    let version = "FnVersion235f7e72b8";
    let ids: Vec<&str> = t.resources.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        ["Table", "Fn", version, "FnAliaslive", "FnRole", "FnS"]
    );
    let v = &t.resources[version];
    assert_eq!(v.type_, "AWS::Lambda::Version");
    assert_eq!(
        v.deletion_policy,
        Some(tributary_cfn::RetentionPolicy::Retain)
    );
    assert_eq!(v.condition.as_deref(), Some("Always"));
    assert_eq!(v.properties, json!({"FunctionName": {"Ref": "Fn"}}));
    assert_eq!(
        props(&t, "FnAliaslive"),
        &json!({
            "Name": "live",
            "FunctionName": {"Ref": "Fn"},
            "FunctionVersion": {"Fn::GetAtt": [version, "Version"]},
            "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 1}
        })
    );
    // Event sources go to the alias.
    assert_eq!(
        props(&t, "FnS")["FunctionName"],
        json!({"Ref": "FnAliaslive"})
    );
    assert_eq!(t.outputs["AliasArn"].value, json!({"Ref": "FnAliaslive"}));
    assert_eq!(
        t.outputs["Sub"].value,
        json!({"Fn::Sub": format!("${{{version}}} via ${{FnAliaslive}}")})
    );
    validate(&t).unwrap();

    // New code, new version id.
    let t2 = transformed(&text("s3://bucket/key2.zip")).unwrap();
    assert!(!t2.resources.contains_key(version));
    assert!(t2
        .resources
        .keys()
        .any(|k| k.starts_with("FnVersion") && k.len() == version.len()));
}

#[test]
fn dead_letter_queue_and_event_invoke_config() {
    let t = transformed(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Dlq: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      InlineCode: "def handler(e, c): pass"
      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Dlq.Arn}
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        MaximumEventAgeInSeconds: 600
        DestinationConfig:
          OnFailure: {Type: SQS}
          OnSuccess: {Type: SNS, Destination: arn:aws:sns:us-east-1:123456789012:done}
"#,
    )
    .unwrap();
    assert_eq!(
        props(&t, "Fn")["Code"],
        json!({"ZipFile": "def handler(e, c): pass"})
    );
    assert_eq!(
        props(&t, "Fn")["DeadLetterConfig"],
        json!({"TargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}})
    );
    assert_eq!(
        props(&t, "FnEventInvokeConfig"),
        &json!({
            "FunctionName": {"Ref": "Fn"},
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 1,
            "MaximumEventAgeInSeconds": 600,
            "DestinationConfig": {
                "OnSuccess": {"Destination": "arn:aws:sns:us-east-1:123456789012:done"},
                "OnFailure": {"Destination": {"Fn::GetAtt": ["FnEventInvokeConfigOnFailureQueue", "Arn"]}}
            }
        })
    );
    assert_eq!(
        t.resources["FnEventInvokeConfigOnFailureQueue"].type_,
        "AWS::SQS::Queue"
    );
    let names: Vec<&str> = props(&t, "FnRole")["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PolicyName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "DeadLetterQueuePolicy",
            "FnEventInvokeConfigOnSuccessSNSPolicy",
            "FnEventInvokeConfigOnFailureSQSPolicy"
        ]
    );
    validate(&t).unwrap();
}

#[test]
fn a_given_role_is_used_and_no_role_is_generated() {
    let t = transformed(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      InlineCode: x
      Role: arn:aws:iam::123456789012:role/existing
      Policies: AmazonS3ReadOnlyAccess
"#,
    )
    .unwrap();
    assert!(!t.resources.contains_key("FnRole"));
    assert_eq!(
        props(&t, "Fn")["Role"],
        json!("arn:aws:iam::123456789012:role/existing")
    );
}

#[test]
fn layer_versions_get_a_hashed_id_and_references_follow() {
    let t = transformed(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  MyLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: shared
      ContentUri: s3://bucket/layer.zip
      CompatibleRuntimes: [python3.12]
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      InlineCode: x
      Layers: [!Ref MyLayer]
Outputs:
  Layer:
    Value: !Ref MyLayer
"#,
    )
    .unwrap();
    let id = "MyLayer673b9dc307";
    let l = &t.resources[id];
    assert_eq!(l.type_, "AWS::Lambda::LayerVersion");
    assert_eq!(
        l.deletion_policy,
        Some(tributary_cfn::RetentionPolicy::Retain)
    );
    assert_eq!(
        l.properties,
        json!({
            "LayerName": "shared",
            "Content": {"S3Bucket": "bucket", "S3Key": "layer.zip"},
            "CompatibleRuntimes": ["python3.12"]
        })
    );
    assert_eq!(props(&t, "Fn")["Layers"], json!([{"Ref": id}]));
    assert_eq!(t.outputs["Layer"].value, json!({"Ref": id}));
    validate(&t).unwrap();

    let t = transformed(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  L:\n    Type: AWS::Serverless::LayerVersion\n    Properties: {ContentUri: ./layer, RetentionPolicy: delete}\n",
    )
    .unwrap();
    let (id, l) = t.resources.iter().next().unwrap();
    assert!(id.starts_with('L') && id.len() == 11);
    assert_eq!(
        l.deletion_policy,
        Some(tributary_cfn::RetentionPolicy::Delete)
    );
    assert_eq!(l.properties["LayerName"], json!("L"));
    assert_eq!(l.properties["Content"], json!({LOCAL_PATH_KEY: "./layer"}));
}

#[test]
fn a_local_code_hook_packages_the_path() {
    let t = Template::parse(GUIDE).unwrap();
    let hook = |a: &sam::LocalArtifact| -> Result<Value, String> {
        Ok(json!({"S3Bucket": "staging", "S3Key": format!("{}/{}.zip", a.logical_id, a.path)}))
    };
    let ctx = SamContext::new(pseudo(), Default::default()).with_local_code(&hook);
    let t = sam::transform(&t, &ctx).unwrap();
    assert_eq!(
        props(&t, "ProcessDynamoDBStream")["Code"],
        json!({"S3Bucket": "staging", "S3Key": "ProcessDynamoDBStream/..zip"})
    );
}

#[test]
fn what_the_server_cannot_serve_fails_clearly() {
    let err = transformed(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Q: {Type: AWS::SQS::Queue}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      InlineCode: x
      Events:
        Api: {Type: Api, Properties: {Path: /, Method: get}}
        Queue: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
        Odd: {Type: Carrier, Properties: {}}
  Rest:
    Type: AWS::Serverless::Api
    Properties: {StageName: prod}
"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document. Number of errors found: 4. \
Resource with id [Fn] is invalid. Event with id [Api] is invalid. Event type Api is not supported by this server yet: the only event source it can serve is DynamoDB (a DynamoDB stream). \
Resource with id [Fn] is invalid. Event with id [Odd] is invalid. Resource dict has missing or invalid value for key Type. Event Type is: Carrier. \
Resource with id [Fn] is invalid. Event with id [Queue] is invalid. Event type SQS is not supported by this server yet: the only event source it can serve is DynamoDB (a DynamoDB stream). \
Resource with id [Rest] is invalid. Resource type AWS::Serverless::Api is not supported by this server yet: the SAM resources it can deploy are AWS::Serverless::Function, AWS::Serverless::SimpleTable and AWS::Serverless::LayerVersion."
    );
}

#[test]
fn event_errors_use_the_translators_texts() {
    let event = |props: &str| {
        format!(
            r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  T: {{Type: AWS::DynamoDB::Table}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      InlineCode: x
      Events:
        S: {{Type: DynamoDB, Properties: {props}}}
"#
        )
    };
    let prefix = "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document. Number of errors found: 1. ";
    let cases = [
        ("{StartingPosition: LATEST}", "Resource with id [FnS] is invalid. Missing required property 'Stream'."),
        ("{Stream: !GetAtt T.StreamArn}", "Resource with id [FnS] is invalid. Missing required property 'StartingPosition'."),
        ("{Stream: x, StartingPosition: LATEST, Enabled: 'yes'}", "Resource with id [FnS] is invalid. Type of property 'Enabled' is invalid."),
        ("{Stream: x, StartingPosition: LATEST, BatchSize: many}", "Resource with id [FnS] is invalid. Type of property 'BatchSize' is invalid."),
        ("{Stream: x, StartingPosition: LATEST, Bogus: 1}", "Resource with id [FnS] is invalid. property Bogus not defined for resource of type DynamoDB"),
        ("{Stream: x, StartingPosition: LATEST, FilterCriteria: {Patterns: []}}", "Resource with id [Fn] is invalid. Event with id [S] is invalid. FilterCriteria field has a wrong format"),
        ("{Stream: x, StartingPosition: LATEST, DestinationConfig: {OnFailure: {Type: Lambda, Destination: y}}}", "Resource with id [Fn] is invalid. Event with id [FnS] is invalid. The only valid values for 'Type' are 'SQS' and 'SNS'"),
        ("{Stream: x, StartingPosition: LATEST, DestinationConfig: {OnFailure: y}}", "Resource with id [Fn] is invalid. Event with id [FnS] is invalid. Property 'DestinationConfig.OnFailure' should be a map."),
    ];
    for (p, expected) in cases {
        assert_eq!(
            transformed(&event(p)).unwrap_err(),
            format!("{prefix}{expected}"),
            "{p}"
        );
    }
}

#[test]
fn function_errors() {
    let prefix = "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document. Number of errors found: ";
    let err = transformed(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {InlineCode: x, Colour: red}\n",
    )
    .unwrap_err();
    assert_eq!(err, format!("{prefix}1. Resource with id [Fn] is invalid. property Colour not defined for resource of type AWS::Serverless::Function"));
    let err = transformed(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {InlineCode: x, CodeUri: 's3://nokey', Tags: {'lambda:createdBy': me}}\n",
    )
    .unwrap_err();
    assert_eq!(
        err,
        format!("{prefix}2. Resource with id [Fn] is invalid. lambda:createdBy is a reserved Tag key name and cannot be set on your resource. Please change the tag key in the input. Resource with id [Fn] is invalid. Runtime and Handler needs to be present when PackageType is of type `Zip`")
    );
    let err = transformed(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Handler: h, Runtime: r, CodeUri: 's3://nokey'}\n",
    )
    .unwrap_err();
    assert_eq!(
        err,
        format!("{prefix}1. Resource with id [Fn] is invalid. 'CodeUri' is not a valid S3 Uri of the form 's3://bucket/key' with optional versionId query parameter.")
    );
    let err = transformed(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  FnRole: {Type: AWS::IAM::Role}\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Handler: h, Runtime: r, InlineCode: x}\n",
    )
    .unwrap_err();
    assert_eq!(
        err,
        format!("{prefix}1. Transforming resource with id [Fn] attempts to create a new resource with id [FnRole] and type \"AWS::IAM::Role\". A resource with that id already exists within this template. Please use a different id for that resource.")
    );
}

#[test]
fn templates_without_the_transform_pass_unchanged() {
    let text = "Resources:\n  T: {Type: AWS::SQS::Queue}\n";
    let t = Template::parse(text).unwrap();
    assert_eq!(transformed(text).unwrap(), t);
}

//! Table tests: each intrinsic function and condition operator, in YAML short form and JSON
//! long form, with its errors.

use serde_json::{json, Value};
use tributary_cfn::{plan, resolve_parameters, Context, Pseudo, Template};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

fn pseudo() -> Pseudo {
    Pseudo::new(
        REGION,
        ACCOUNT,
        "demo",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/11111111-2222-3333-4444-555555555555",
    )
}

fn template_with(expr: &str) -> String {
    format!(
        r#"
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Env: {{Type: String, Default: prod}}
  Count: {{Type: Number, Default: "3"}}
  Subnets: {{Type: CommaDelimitedList, Default: "a,b,c"}}
Mappings:
  Regions:
    us-east-1: {{Ami: ami-1, Zones: [x, y]}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Gone:
    Type: AWS::SQS::Queue
    Condition: IsDev
  Thing:
    Type: Test::Thing
    Properties:
      Value: {expr}
"#
    )
}

fn resolver() -> impl tributary_cfn::Resolver {
    (
        |id: &str| (id == "Table").then(|| json!("tbl-physical")),
        |id: &str, attr: &str| {
            match (id, attr) {
            ("Table", "Arn") => Some(json!(
                "arn:aws:dynamodb:us-east-1:123456789012:table/tbl-physical"
            )),
            ("Table", "StreamArn") => Some(json!(
                "arn:aws:dynamodb:us-east-1:123456789012:table/tbl-physical/stream/2024-01-01T00:00:00.000"
            )),
            _ => None,
        }
        },
    )
}

/// The resolved `Value` property (`None`: removed by `AWS::NoValue`), or the error text.
fn eval(expr: &str) -> Result<Option<Value>, String> {
    let t = Template::parse(&template_with(expr)).map_err(|e| e.to_string())?;
    let params = resolve_parameters(&t, []).map_err(|e| e.to_string())?;
    let ctx = Context::new(pseudo(), params);
    let p = plan(&t, &ctx).map_err(|e| e.to_string())?;
    let props = p
        .resolve_properties(&t, &ctx, "Thing", &resolver())
        .map_err(|e| e.to_string())?;
    Ok(props.get("Value").cloned())
}

#[track_caller]
fn check(cases: &[(&str, Result<Option<Value>, &str>)]) {
    for (expr, expected) in cases {
        let got = eval(expr);
        let expected = expected.clone().map_err(str::to_owned);
        assert_eq!(got, expected, "expression: {expr}");
    }
}

#[test]
fn ref_() {
    check(&[
        ("!Ref Env", Ok(Some(json!("prod")))),
        ("{Ref: Env}", Ok(Some(json!("prod")))),
        ("!Ref Count", Ok(Some(json!("3")))),
        ("!Ref Subnets", Ok(Some(json!(["a", "b", "c"])))),
        ("!Ref Table", Ok(Some(json!("tbl-physical")))),
        ("!Ref AWS::Region", Ok(Some(json!("us-east-1")))),
        ("!Ref AWS::AccountId", Ok(Some(json!("123456789012")))),
        ("!Ref AWS::StackName", Ok(Some(json!("demo")))),
        ("!Ref AWS::Partition", Ok(Some(json!("aws")))),
        ("!Ref AWS::URLSuffix", Ok(Some(json!("amazonaws.com")))),
        ("!Ref AWS::NotificationARNs", Ok(Some(json!([])))),
        ("!Ref AWS::NoValue", Ok(None)),
        (
            "!Ref Nope",
            Err("Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template"),
        ),
        (
            "!Ref Gone",
            Err("Template format error: Unresolved resource dependencies [Gone] in the Resources block of the template"),
        ),
        ("{Ref: [a]}", Err("Template error: every Ref object must have a single String value.")),
    ]);
}

#[test]
fn stack_id_pseudo_parameter() {
    let v = eval("!Ref AWS::StackId").unwrap().unwrap();
    assert!(v
        .as_str()
        .unwrap()
        .starts_with("arn:aws:cloudformation:us-east-1:123456789012:stack/demo/"));
}

#[test]
fn get_att() {
    let arn = json!("arn:aws:dynamodb:us-east-1:123456789012:table/tbl-physical");
    check(&[
        ("!GetAtt Table.Arn", Ok(Some(arn.clone()))),
        ("!GetAtt [Table, Arn]", Ok(Some(arn.clone()))),
        ("{'Fn::GetAtt': [Table, Arn]}", Ok(Some(arn.clone()))),
        ("{'Fn::GetAtt': Table.Arn}", Ok(Some(arn.clone()))),
        ("!GetAtt [Table, !Sub 'A${AWS::NoValue}rn']", Ok(Some(arn))),
        (
            "!GetAtt Table.StreamArn",
            Ok(Some(json!("arn:aws:dynamodb:us-east-1:123456789012:table/tbl-physical/stream/2024-01-01T00:00:00.000"))),
        ),
        (
            "!GetAtt Table.Nope",
            Err("Template error: resource Table does not support attribute type Nope in Fn::GetAtt"),
        ),
        (
            "!GetAtt Ghost.Arn",
            Err("Template error: instance of Fn::GetAtt references undefined resource Ghost"),
        ),
        (
            "!GetAtt Table",
            Err("Template error: every Fn::GetAtt object requires two non-empty parameters, (1) the resource name and (2) the resource attribute."),
        ),
        (
            "!GetAtt [Table]",
            Err("Template error: every Fn::GetAtt object requires two non-empty parameters, (1) the resource name and (2) the resource attribute."),
        ),
    ]);
}

#[test]
fn sub() {
    check(&[
        (
            "!Sub 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}'",
            Ok(Some(json!("arn:aws:dynamodb:us-east-1:123456789012:table/tbl-physical"))),
        ),
        ("!Sub '${Env}-${Count}'", Ok(Some(json!("prod-3")))),
        ("!Sub '${Table.Arn}/index/*'", Ok(Some(json!("arn:aws:dynamodb:us-east-1:123456789012:table/tbl-physical/index/*")))),
        ("!Sub ['${A}-${B}', {A: x, B: !Ref Env}]", Ok(Some(json!("x-prod")))),
        ("!Sub ['${Env}', {Env: overridden}]", Ok(Some(json!("overridden")))),
        ("!Sub 'literal ${!Env} stays'", Ok(Some(json!("literal ${Env} stays")))),
        ("!Sub 'no vars'", Ok(Some(json!("no vars")))),
        ("!Sub 'unterminated ${Env'", Ok(Some(json!("unterminated ${Env")))),
        ("!Sub ['${N}', {N: 5}]", Ok(Some(json!("5")))),
        (
            "!Sub '${Nope}'",
            Err("Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template"),
        ),
        (
            "!Sub '${bad-name}'",
            Err("Template error: variable names in Fn::Sub syntax must contain only alphanumeric characters, underscores, periods, and colons"),
        ),
        (
            "!Sub '${Subnets}'",
            Err("Template error: variable Subnets in Fn::Sub expression does not resolve to a string"),
        ),
        (
            "!Sub [a, b, c]",
            Err("Template error: every Fn::Sub object requires a string or a list of a string and a map of variables"),
        ),
    ]);
}

#[test]
fn join() {
    let err = "Template error: every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined.";
    check(&[
        ("!Join [',', [a, b]]", Ok(Some(json!("a,b")))),
        (
            "!Join ['', [a, !Ref Env, 1, true]]",
            Ok(Some(json!("aprod1true"))),
        ),
        ("!Join ['-', !Ref Subnets]", Ok(Some(json!("a-b-c")))),
        (
            "!Join ['-', !GetAZs '']",
            Ok(Some(json!("us-east-1a-us-east-1b-us-east-1c"))),
        ),
        (
            "!Join [':', [a, !Ref AWS::NoValue, b]]",
            Ok(Some(json!("a:b"))),
        ),
        ("!Join [':', []]", Ok(Some(json!("")))),
        (
            "!Join [',', [!GetAtt Table.Arn, x]]",
            Ok(Some(json!(
                "arn:aws:dynamodb:us-east-1:123456789012:table/tbl-physical,x"
            ))),
        ),
        ("!Join [',']", Err(err)),
        ("!Join [',', a]", Err(err)),
        ("!Join [',', [[a]]]", Err(err)),
        ("!Join [[a], [b]]", Err(err)),
    ]);
}

#[test]
fn select() {
    check(&[
        ("!Select [1, [a, b, c]]", Ok(Some(json!("b")))),
        ("!Select ['0', [a, b, c]]", Ok(Some(json!("a")))),
        ("!Select [2, !Ref Subnets]", Ok(Some(json!("c")))),
        ("!Select [0, !GetAZs '']", Ok(Some(json!("us-east-1a")))),
        ("!Select [1, !Split [',', 'x,y']]", Ok(Some(json!("y")))),
        ("!Select [3, [a, b, c]]", Err("Template error: Fn::Select cannot select nonexistent value at index 3")),
        ("!Select [-1, [a]]", Err("Template error: every Fn::Select object requires two parameters, (1) an index and (2) a list of values or a function that returns a list of values.")),
        ("!Select [0]", Err("Template error: every Fn::Select object requires two parameters, (1) an index and (2) a list of values or a function that returns a list of values.")),
    ]);
}

#[test]
fn split() {
    let err = "Template error: every Fn::Split object requires two parameters, (1) a string delimiter and (2) a string to be split or a function that returns a string to be split.";
    check(&[
        (
            "!Split [',', 'a,b,,c']",
            Ok(Some(json!(["a", "b", "", "c"]))),
        ),
        (
            "!Split ['/', !GetAtt Table.Arn]",
            Ok(Some(json!([
                "arn:aws:dynamodb:us-east-1:123456789012:table",
                "tbl-physical"
            ]))),
        ),
        ("!Split [',', '']", Ok(Some(json!([""])))),
        ("!Split ['', 'abc']", Err(err)),
        ("!Split [',']", Err(err)),
        ("!Split [',', [a]]", Err(err)),
    ]);
}

#[test]
fn if_() {
    check(&[
        ("!If [IsProd, big, small]", Ok(Some(json!("big")))),
        ("!If [IsDev, big, small]", Ok(Some(json!("small")))),
        ("!If [IsProd, !Ref AWS::NoValue, small]", Ok(None)),
        ("!If [IsDev, a, !Ref AWS::NoValue]", Ok(None)),
        ("[x, !If [IsDev, a, !Ref AWS::NoValue], y]", Ok(Some(json!(["x", "y"])))),
        ("{Keep: 1, Drop: !If [IsDev, 2, !Ref AWS::NoValue]}", Ok(Some(json!({"Keep": 1})))),
        // The branch not taken may name what does not exist.
        ("!If [IsProd, ok, !Ref Gone]", Ok(Some(json!("ok")))),
        ("!If [IsProd, !If [IsDev, a, b], c]", Ok(Some(json!("b")))),
        ("!If [Nope, a, b]", Err("Template error: unresolved condition dependency Nope in Fn::If")),
        ("!If [IsProd, a]", Err("Template error: every Fn::If object requires three parameters, (1) a condition name, (2) a value if the condition is true and (3) a value if the condition is false.")),
    ]);
}

#[test]
fn find_in_map() {
    check(&[
        ("!FindInMap [Regions, !Ref 'AWS::Region', Ami]", Ok(Some(json!("ami-1")))),
        ("!FindInMap [Regions, us-east-1, Zones]", Ok(Some(json!(["x", "y"])))),
        ("!FindInMap [Regions, eu-west-1, Ami]", Err("Template error: Unable to get mapping for Regions::eu-west-1::Ami")),
        ("!FindInMap [Nope, a, b]", Err("Template error: Unable to get mapping for Nope::a::b")),
        ("!FindInMap [Regions, us-east-1]", Err("Template error: every Fn::FindInMap object requires three parameters, the map name, map key and the attribute for return value")),
    ]);
}

#[test]
fn get_azs_base64_cidr() {
    check(&[
        ("!GetAZs ''", Ok(Some(json!(["us-east-1a", "us-east-1b", "us-east-1c"])))),
        ("{'Fn::GetAZs': !Ref 'AWS::Region'}", Ok(Some(json!(["us-east-1a", "us-east-1b", "us-east-1c"])))),
        ("!GetAZs eu-west-1", Ok(Some(json!(["eu-west-1a", "eu-west-1b", "eu-west-1c"])))),
        ("{'Fn::GetAZs': ''}", Ok(Some(json!(["us-east-1a", "us-east-1b", "us-east-1c"])))),
        ("!Base64 'hello'", Ok(Some(json!("aGVsbG8=")))),
        ("{'Fn::Base64': !Sub '#!/bin/sh ${Env}'}", Ok(Some(json!("IyEvYmluL3NoIHByb2Q=")))),
        ("!Base64 [a]", Err("Template error: every Fn::Base64 object must contain a String.")),
        ("!Cidr ['10.0.0.0/16', 3, 8]", Ok(Some(json!(["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"])))),
        ("!Cidr ['192.168.0.0/24', 2, 5]", Ok(Some(json!(["192.168.0.0/27", "192.168.0.32/27"])))),
        ("!Cidr ['10.0.0.7/24', '2', '6']", Ok(Some(json!(["10.0.0.0/26", "10.0.0.64/26"])))),
        ("!Cidr ['2001:db8::/56', 2, 64]", Ok(Some(json!(["2001:db8::/64", "2001:db8:0:1::/64"])))),
        ("!Cidr ['10.0.0.0/24', 5, 7]", Err("Template error: Fn::Cidr cannot fit 5 subnets of 7 bits in 10.0.0.0/24")),
        ("!Cidr ['10.0.0.0/24', 0, 4]", Err("Template error: every Fn::Cidr object requires three parameters, (1) an IP address block in CIDR notation, (2) the number of subnets to generate (1 to 256) and (3) the number of subnet bits.")),
        ("!Cidr ['nope', 1, 4]", Err("Template error: every Fn::Cidr object requires three parameters, (1) an IP address block in CIDR notation, (2) the number of subnets to generate (1 to 256) and (3) the number of subnet bits.")),
    ]);
}

#[test]
fn condition_functions_inside_properties() {
    check(&[
        ("!Equals [a, a]", Ok(Some(json!(true)))),
        ("!Equals [1, '1']", Ok(Some(json!(true)))),
        ("!Equals [!Ref Env, dev]", Ok(Some(json!(false)))),
        ("!Not [!Equals [a, b]]", Ok(Some(json!(true)))),
        ("!And [!Equals [a, a], !Condition IsProd]", Ok(Some(json!(true)))),
        ("!Or [!Condition IsDev, !Equals [a, b]]", Ok(Some(json!(false)))),
        ("!Equals [a]", Err("Template error: every Fn::Equals object requires a list of 2 string parameters.")),
        ("!And [!Equals [a, a]]", Err("Template error: every Fn::And object requires a list of at least 2 and at most 10 boolean parameters.")),
        ("!Not [a, b]", Err("Template error: every Fn::Not object requires a list of 1 boolean parameter.")),
    ]);
}

#[test]
fn nested_tags() {
    check(&[
        (
            "!Join ['', ['arn:', !Select [0, !Split ['/', !Sub '${Table}/x']], !If [IsProd, !Sub '-${Env}', !Ref AWS::NoValue]]]",
            Ok(Some(json!("arn:tbl-physical-prod"))),
        ),
        (
            "!Sub ['${Zone}-${Arn}', {Zone: !Select [1, !GetAZs ''], Arn: !GetAtt Table.Arn}]",
            Ok(Some(json!("us-east-1b-arn:aws:dynamodb:us-east-1:123456789012:table/tbl-physical"))),
        ),
    ]);
}

#[test]
fn unsupported_functions_are_named() {
    let got = eval("{'Fn::Length': [a, b]}").unwrap_err();
    assert!(
        got.starts_with("Template format error: Encountered unsupported function: Fn::Length Supported functions are: [Fn::Base64,"),
        "{got}"
    );
}

#[test]
fn import_value() {
    let t = Template::parse(&template_with("!ImportValue SharedVpc")).unwrap();
    let params = resolve_parameters(&t, []).unwrap();
    let lookup = |name: &str| (name == "SharedVpc").then(|| "vpc-123".to_owned());
    let ctx = Context::new(pseudo(), params.clone()).with_imports(&lookup);
    let p = plan(&t, &ctx).unwrap();
    let props = p
        .resolve_properties(&t, &ctx, "Thing", &resolver())
        .unwrap();
    assert_eq!(props["Value"], json!("vpc-123"));

    let t = Template::parse(&template_with("!ImportValue Missing")).unwrap();
    let ctx = Context::new(pseudo(), params).with_imports(&lookup);
    assert_eq!(
        plan(&t, &ctx).unwrap_err().to_string(),
        "No export named Missing found."
    );
}

/// Conditions evaluate to booleans with each operator, referencing parameters, mappings and
/// other conditions.
#[test]
fn condition_evaluation() {
    let cases: &[(&str, Result<bool, &str>)] = &[
        ("!Equals [!Ref Env, prod]", Ok(true)),
        ("!Equals [!Ref Env, dev]", Ok(false)),
        ("!Equals [!FindInMap [Regions, !Ref 'AWS::Region', Ami], ami-1]", Ok(true)),
        ("!Equals [!Select [0, !Ref Subnets], a]", Ok(true)),
        ("!Not [!Equals [!Ref Env, prod]]", Ok(false)),
        ("!And [!Equals [1, 1], !Equals [a, a], !Condition Base]", Ok(true)),
        ("!And [!Equals [1, 1], !Equals [a, b]]", Ok(false)),
        ("!Or [!Equals [1, 2], !Equals [a, b]]", Ok(false)),
        ("!Or [!Equals [1, 2], !Condition Base]", Ok(true)),
        ("{'Fn::Or': [{'Condition': Base}, {'Fn::Equals': [x, y]}]}", Ok(true)),
        ("!Condition Base", Ok(true)),
        ("!Equals [!Ref AWS::AccountId, '123456789012']", Ok(true)),
        ("!Equals [!Join ['-', [a, b]], a-b]", Ok(true)),
        (
            "!Equals [!Ref Table, x]",
            Err("Template format error: Unresolved dependencies [Table]. Cannot reference resources in the Conditions block of the template"),
        ),
        (
            "!Condition Missing",
            Err("Template format error: Unresolved dependencies [Missing]. Cannot reference undefined conditions in the Conditions block of the template"),
        ),
        (
            "!Or [!Equals [1, 2]]",
            Err("Template error: every Fn::Or object requires a list of at least 2 and at most 10 boolean parameters."),
        ),
        (
            "!Ref Env",
            Err("Template format error: Conditions can only be boolean operations on parameters and other conditions: Test is not"),
        ),
    ];
    for (expr, expected) in cases {
        let text = format!(
            r#"
Parameters:
  Env: {{Type: String, Default: prod}}
  Subnets: {{Type: CommaDelimitedList, Default: "a,b"}}
Mappings:
  Regions:
    us-east-1: {{Ami: ami-1}}
Conditions:
  Base: !Equals [x, x]
  Test: {expr}
Resources:
  Table: {{Type: AWS::DynamoDB::Table}}
"#
        );
        let t = Template::parse(&text).unwrap();
        let ctx = Context::new(pseudo(), resolve_parameters(&t, []).unwrap());
        let got = tributary_cfn::evaluate_conditions(&t, &ctx)
            .map(|c| c["Test"])
            .map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "condition: {expr}");
    }
}

#[test]
fn circular_conditions() {
    let t = Template::parse(
        r#"
Conditions:
  A: !Condition B
  B: !Not [!Condition A]
Resources:
  Table: {Type: AWS::DynamoDB::Table}
"#,
    )
    .unwrap();
    let ctx = Context::new(pseudo(), Default::default());
    assert_eq!(
        tributary_cfn::evaluate_conditions(&t, &ctx)
            .unwrap_err()
            .to_string(),
        "Template format error: Circular dependency between conditions: [A, B]"
    );
}

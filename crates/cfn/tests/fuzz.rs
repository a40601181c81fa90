//! No template can make the crate panic: random texts, and random templates built from
//! intrinsic functions, names and SAM properties, go through every entry point.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tributary_cfn::sam::{self, SamContext};
use tributary_cfn::{
    diff, outputs, plan, resolve_parameters, validate, Context, NoReplacementRules, Pseudo,
    Template,
};

const KEYS: &[&str] = &[
    "Ref",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
    "Fn::FindInMap",
    "Fn::GetAZs",
    "Fn::Base64",
    "Fn::Cidr",
    "Fn::ImportValue",
    "Fn::Length",
    "Condition",
    "Type",
    "Properties",
    "Stream",
    "StartingPosition",
    "Destination",
    "OnFailure",
    "Statement",
    "X",
];

const WORDS: &[&str] = &[
    "A",
    "B",
    "Fn",
    "P",
    "L",
    "C",
    "M",
    "k",
    "v",
    "AWS::Region",
    "AWS::NoValue",
    "AWS::StackName",
    "A.Arn",
    "${A}",
    "${B.Arn}-${P}",
    "${!x}",
    "${",
    "x",
    "",
    "a,b",
    "10.0.0.0/16",
    "s3://b/k",
    "./src",
    "DynamoDB",
    "SQS",
    "DynamoDBCrudPolicy",
    "AWSLambdaDynamoDBExecutionRole",
    "TRIM_HORIZON",
    "live",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(WORDS).prop_map(|w| json!(w)),
        (-3i64..300).prop_map(|n| json!(n)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
        "[ -~]{0,12}".prop_map(|s| json!(s)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 1..3).prop_map(|entries| {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k.to_owned(), v);
                }
                Value::Object(m)
            }),
        ]
    })
}

fn sam_properties() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(
        &[
            "Handler",
            "Runtime",
            "CodeUri",
            "InlineCode",
            "Policies",
            "AutoPublishAlias",
            "Environment",
            "DeadLetterQueue",
            "EventInvokeConfig",
            "Layers",
            "Tags",
            "Role",
            "MemorySize",
            "PrimaryKey",
            "ContentUri",
            "RetentionPolicy",
        ][..],
    );
    (
        prop::collection::vec((keys, value()), 0..6),
        value(),
        prop::option::of(value()),
    )
        .prop_map(|(entries, event_props, policies)| {
            let mut m = Map::new();
            for (k, v) in entries {
                m.insert(k.to_owned(), v);
            }
            m.insert(
                "Events".into(),
                json!({"E": {"Type": "DynamoDB", "Properties": event_props}}),
            );
            if let Some(p) = policies {
                m.insert(
                    "Policies".into(),
                    json!([p, {"DynamoDBCrudPolicy": {"TableName": "t"}}]),
                );
            }
            Value::Object(m)
        })
}

fn template() -> impl Strategy<Value = Value> {
    (
        value(),
        value(),
        value(),
        value(),
        prop::option::of(prop::sample::select(&["A", "B", "Fn", "Ghost"][..])),
        sam_properties(),
        sam_properties(),
        any::<bool>(),
    )
        .prop_map(|(cond, a, b, out, dep, fn_props, other_props, sam)| {
            let mut resources = json!({
                "A": {"Type": "T::A", "Properties": {"V": a}},
                "B": {"Type": "T::B", "Properties": {"V": b}, "Condition": "C"},
            });
            if let Some(d) = dep {
                resources["B"]["DependsOn"] = json!(d);
            }
            let mut t = json!({
                "Parameters": {"P": {"Type": "String", "Default": "x"}},
                "Mappings": {"M": {"k": {"v": "1"}}},
                "Conditions": {"C": cond},
                "Resources": resources,
                "Outputs": {"O": {"Value": out}},
            });
            if sam {
                t["Transform"] = json!("AWS::Serverless-2016-10-31");
                t["Resources"]["Fn"] = json!({"Type": "AWS::Serverless::Function", "Properties": fn_props});
                t["Resources"]["L"] = json!({"Type": "AWS::Serverless::LayerVersion", "Properties": other_props.clone()});
                t["Resources"]["S"] = json!({"Type": "AWS::Serverless::SimpleTable", "Properties": other_props});
            }
            t
        })
}

fn pseudo() -> Pseudo {
    Pseudo::new(
        "us-east-1",
        "123456789012",
        "s",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
    )
}

/// Every entry point, in the order a deployer calls them; errors are fine, panics are not.
fn exercise(text: &str) {
    let Ok(t) = Template::parse(text) else { return };
    let _ = validate(&t);
    let Ok(params) = resolve_parameters(&t, []) else {
        return;
    };
    let Ok(t) = sam::transform(&t, &SamContext::new(pseudo(), params.clone())) else {
        return;
    };
    let _ = validate(&t);
    let _ = Template::from_value(&t.to_json());
    let ctx = Context::new(pseudo(), params);
    let Ok(p) = plan(&t, &ctx) else { return };
    let resolver = (
        |id: &str| Some(json!(format!("{id}-phys"))),
        |_: &str, attr: &str| (attr != "Nope").then(|| json!("att")),
    );
    for r in p.creation_order() {
        let _ = p.resolve_properties(&t, &ctx, &r.logical_id, &resolver);
    }
    let _ = outputs(&t, &p, &ctx, &resolver);
    let _ = diff(&p, &p, &NoReplacementRules);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn random_templates_never_panic(t in template(), yaml in any::<bool>()) {
        let json_text = serde_json::to_string(&t).unwrap_or_default();
        exercise(&json_text);
        if yaml {
            // The same document as YAML flow style (JSON is YAML).
            exercise(&format!("# yaml\n{json_text}"));
        }
    }

    #[test]
    fn random_text_never_panics(s in "\\PC{0,200}") {
        exercise(&s);
    }

    #[test]
    fn random_yaml_shaped_text_never_panics(
        lines in prop::collection::vec(
            ("[ ]{0,6}", prop::sample::select(&["Resources:", "Q:", "Type: T", "Properties:", "X: !Ref", "- !Sub '${A}'", "!GetAtt A.B", "[", "]", "{", "}", "&a", "*a", "? x", "---", "|", "!!str 1", "!If [C, a]", "Y: !Join [',', [a]]"][..])),
            0..20,
        )
    ) {
        let text: String = lines.into_iter().map(|(indent, l)| format!("{indent}{l}\n")).collect();
        exercise(&text);
    }
}

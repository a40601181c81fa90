//! Which IAM action an operation needs, and on which resources: the table in
//! `data/actions.tsv`, from AWS's Service Authorization Reference (see `data/gen_actions.py`
//! for the sources and the rules), parsed once.
//!
//! A row names the operation by the service's signing name (`dynamodb` for DynamoDB and its
//! Streams API, `monitoring` for CloudWatch) and its name in the service model; its resources
//! are ARN templates such as `arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}`,
//! whose variables after Partition, Region and Account are the operation's input members (the
//! derived ones are listed at the top of the data file). [`render`] fills a template in.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The data, compiled in.
const TABLE: &str = include_str!("../data/actions.tsv");

/// What one operation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionDef {
    /// The service's signing name (`dynamodb`, `monitoring`, ...).
    pub service: &'static str,
    /// The operation's name in the service model (`PutItem`).
    pub operation: &'static str,
    /// The IAM action (`dynamodb:PutItem`); `None` for an operation that needs no permission.
    pub action: Option<&'static str>,
    /// ARN templates of the resources the action is checked on; `["*"]` when the action has no
    /// resource type. Render each with [`render`]; one whose variable the request lacks is
    /// skipped (an optional resource type, such as a Query's index).
    pub resources: Vec<&'static str>,
    /// What the row does not say by itself: the other actions an operation may need ("per
    /// item: ...", "also s3:GetObject on the source object"), `derive` when a template
    /// variable has no input member of its name, or that AWS's reference does not list the
    /// operation.
    pub note: &'static str,
}

/// Rows by signing name, then operation.
type Defs = HashMap<&'static str, HashMap<&'static str, ActionDef>>;

static DEFS: LazyLock<Defs> = LazyLock::new(|| {
    let mut defs: Defs = HashMap::new();
    let rows = TABLE
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let mut columns = line.split('\t');
            let service = columns.next()?;
            let operation = columns.next()?;
            let action = columns.next()?;
            let resources = columns
                .next()?
                .split(' ')
                .filter(|r| !r.is_empty())
                .collect();
            let note = columns.next().unwrap_or("");
            let def = ActionDef {
                service,
                operation,
                action: (action != "-").then_some(action),
                resources,
                note,
            };
            Some(def)
        });
    for def in rows {
        defs.entry(def.service)
            .or_default()
            .insert(def.operation, def);
    }
    defs
});

/// The row of one operation, by the service's signing name and the operation's model name.
pub fn lookup(service_signing_name: &str, operation: &str) -> Option<&'static ActionDef> {
    DEFS.get(service_signing_name)
        .and_then(|ops| ops.get(operation))
}

/// Every row, in no particular order.
pub fn all() -> impl Iterator<Item = &'static ActionDef> {
    DEFS.values().flat_map(|ops| ops.values())
}

/// Fills in a template: each `${Name}` becomes `var("Name")`. `None` when `var` has no value
/// for one of them (or a `${` is not closed).
pub fn render(template: &str, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        out.push_str(&var(&after[..end])?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The models the table covers, with the signing name their operations are listed under.
    const MODELS: &[(&str, &str)] = &[
        ("dynamodb", "dynamodb"),
        ("dynamodbstreams", "dynamodb"),
        ("lambda", "lambda"),
        ("sqs", "sqs"),
        ("sns", "sns"),
        ("s3", "s3"),
        ("logs", "logs"),
        ("cloudwatch", "monitoring"),
        ("iam", "iam"),
        ("sts", "sts"),
    ];

    fn model_operations(dir: &str) -> BTreeSet<String> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/models/");
        let service_dir = std::path::Path::new(root).join(dir);
        let mut ops = BTreeSet::new();
        let versions = std::fs::read_dir(&service_dir).map(|d| d.flatten().collect::<Vec<_>>());
        for version in versions.unwrap_or_default() {
            let path = version.path().join("service-2.json");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let model: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if let Some(map) = model.get("operations").and_then(|o| o.as_object()) {
                ops.extend(map.keys().cloned());
            }
        }
        ops
    }

    /// A model update that adds an operation fails here until the table has a row for it
    /// (regenerate with `data/gen_actions.py`).
    #[test]
    fn every_model_operation_has_a_row() {
        let mut missing = Vec::new();
        for (dir, signing) in MODELS {
            let ops = model_operations(dir);
            assert!(!ops.is_empty(), "no operations read for {dir}");
            for op in ops {
                if lookup(signing, &op).is_none() {
                    missing.push(format!("{signing} {op}"));
                }
            }
        }
        assert!(missing.is_empty(), "operations without a row: {missing:?}");
    }

    #[test]
    fn every_row_is_well_formed() {
        for def in all() {
            if let Some(action) = def.action {
                let (service, name) = action.split_once(':').unwrap_or_default();
                assert!(!service.is_empty() && !name.is_empty(), "{action}");
            }
            assert!(
                !def.resources.is_empty(),
                "{} {}",
                def.service,
                def.operation
            );
            for template in &def.resources {
                assert!(
                    *template == "*" || template.starts_with("arn:") || template.starts_with("${"),
                    "{template}"
                );
                assert!(
                    render(template, &|_| Some("x".into())).is_some(),
                    "{template}"
                );
            }
        }
    }

    #[test]
    fn known_rows() {
        let put = lookup("dynamodb", "PutItem");
        assert_eq!(put.and_then(|d| d.action), Some("dynamodb:PutItem"));
        let stream = lookup("dynamodb", "GetRecords").map(|d| d.resources.clone());
        assert_eq!(
            stream,
            Some(vec!["arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/stream/${StreamLabel}"])
        );
        assert_eq!(
            lookup("dynamodb", "DescribeStream").map(|d| d.resources.clone()),
            Some(vec!["${StreamArn}"])
        );
        assert_eq!(
            lookup("lambda", "Invoke").and_then(|d| d.action),
            Some("lambda:InvokeFunction")
        );
        assert_eq!(
            lookup("sqs", "SendMessageBatch").and_then(|d| d.action),
            Some("sqs:SendMessage")
        );
        assert_eq!(
            lookup("s3", "HeadObject").and_then(|d| d.action),
            Some("s3:GetObject")
        );
        assert_eq!(
            lookup("s3", "GetObject").map(|d| d.resources.clone()),
            Some(vec!["arn:${Partition}:s3:::${Bucket}/${Key}"])
        );
        assert_eq!(
            lookup("s3", "ListObjectsV2").and_then(|d| d.action),
            Some("s3:ListBucket")
        );
        assert_eq!(
            lookup("monitoring", "PutMetricData").and_then(|d| d.action),
            Some("cloudwatch:PutMetricData")
        );
        assert_eq!(
            lookup("sts", "AssumeRole").and_then(|d| d.action),
            Some("sts:AssumeRole")
        );
        assert_eq!(
            lookup("sts", "GetCallerIdentity").and_then(|d| d.action),
            None
        );
        assert!(lookup("dynamodb", "NoSuchOperation").is_none());
    }

    #[test]
    fn render_fills_and_refuses() {
        let var = |name: &str| match name {
            "Partition" => Some("aws".to_owned()),
            "Region" => Some("us-east-1".to_owned()),
            "Account" => Some("111122223333".to_owned()),
            "TableName" => Some("Books".to_owned()),
            _ => None,
        };
        let table = "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}";
        assert_eq!(
            render(table, &var).as_deref(),
            Some("arn:aws:dynamodb:us-east-1:111122223333:table/Books")
        );
        assert_eq!(render(&format!("{table}/index/${{IndexName}}"), &var), None);
        assert_eq!(render("arn:${Partition", &var), None);
        assert_eq!(render("*", &var).as_deref(), Some("*"));
    }
}

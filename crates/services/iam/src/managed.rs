//! AWS-managed policies (`arn:aws:iam::aws:policy/...`): the documents AWS publishes, kept as
//! data files under `data/managed/` (one `<Name>.json` with the policy's metadata and where it
//! was taken from, one `<Name>.policy.json` with the document). They are the same in every
//! account, cannot be changed or deleted, and only their default version is kept.

use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::model;
use crate::wire;

/// One AWS-managed policy.
#[derive(Debug)]
pub struct AwsPolicy {
    pub name: String,
    pub path: String,
    pub arn: String,
    pub policy_id: String,
    pub description: String,
    pub version: String,
    pub create_ms: i64,
    pub update_ms: i64,
    pub document: &'static str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Meta {
    policy_name: String,
    path: String,
    description: String,
    default_version_id: String,
    create_date: String,
    update_date: String,
}

macro_rules! managed {
    ($($name:literal),* $(,)?) => {
        &[$((
            include_str!(concat!("../data/managed/", $name, ".json")),
            include_str!(concat!("../data/managed/", $name, ".policy.json")),
        )),*]
    };
}

/// (metadata, document) of every policy we ship.
const DATA: &[(&str, &str)] = managed![
    "AWSLambdaBasicExecutionRole",
    "AWSLambdaDynamoDBExecutionRole",
    "AWSLambdaInvocation-DynamoDB",
    "AWSLambdaSQSQueueExecutionRole",
    "AWSLambdaKinesisExecutionRole",
    "AWSLambdaRole",
    "AmazonDynamoDBFullAccess",
    "AmazonDynamoDBReadOnlyAccess",
    "AmazonSQSFullAccess",
    "AmazonSNSFullAccess",
    "AmazonS3FullAccess",
    "CloudWatchLogsFullAccess",
    "AdministratorAccess",
];

/// Every AWS-managed policy we know, parsed once.
pub fn all() -> &'static [AwsPolicy] {
    static ALL: OnceLock<Vec<AwsPolicy>> = OnceLock::new();
    ALL.get_or_init(|| {
        DATA.iter()
            .filter_map(
                |(meta, document)| match serde_json::from_str::<Meta>(meta) {
                    Ok(m) => Some(AwsPolicy {
                        arn: model::arn("aws", "policy", &m.path, &m.policy_name),
                        policy_id: stable_id(&model::arn("aws", "policy", &m.path, &m.policy_name)),
                        name: m.policy_name,
                        path: m.path,
                        description: m.description,
                        version: m.default_version_id,
                        create_ms: wire::parse_iso(&m.create_date).unwrap_or(0),
                        update_ms: wire::parse_iso(&m.update_date).unwrap_or(0),
                        document,
                    }),
                    Err(e) => {
                        tracing::error!(error = %e, "unreadable aws-managed policy metadata");
                        None
                    }
                },
            )
            .collect()
    })
}

/// The AWS-managed policy with this ARN.
pub fn by_arn(arn: &str) -> Option<&'static AwsPolicy> {
    all().iter().find(|p| p.arn == arn)
}

/// `ANPA` + 17 characters derived from the ARN: AWS's real ids are not published, and a
/// derived one stays the same across restarts and servers.
fn stable_id(arn: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(arn.as_bytes());
    let mut id = String::from("ANPA");
    for b in digest.iter().take(17) {
        id.push(ALPHABET[usize::from(b % 32)] as char);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_policy::{Policy, PolicyKind};

    #[test]
    fn every_shipped_policy_loads_and_parses() {
        assert_eq!(all().len(), DATA.len());
        for p in all() {
            assert!(p.arn.starts_with("arn:aws:iam::aws:policy/"), "{}", p.arn);
            assert!(p.create_ms > 0 && p.update_ms >= p.create_ms, "{}", p.name);
            assert_eq!(p.policy_id.len(), 21);
            Policy::parse(p.document, PolicyKind::Identity)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
        let basic = by_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
            .expect("the basic execution role");
        assert!(basic.document.contains("logs:PutLogEvents"));
        assert!(by_arn("arn:aws:iam::aws:policy/AdministratorAccess").is_some());
    }
}

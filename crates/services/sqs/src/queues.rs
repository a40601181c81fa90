//! SQS queues: the stored document, attribute defaults and validation, names, URLs and ARNs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tributary_model::AwsError;
use tributary_store::Catalog;

use super::invalid_param;
use crate::Sqs;
use tributary_service::Config;

/// Document kind of a queue (id = queue name).
pub(super) const QUEUE_KIND: &str = "sqs-queue";
/// Document kind remembering when a queue name was last deleted (id = queue name).
pub(super) const DELETED_KIND: &str = "sqs-deleted";
/// A deleted queue's name cannot be reused for this long (`QueueDeletedRecently`).
pub(super) const REUSE_DELAY_MS: i64 = 60_000;
/// Only one PurgeQueue per queue in this period (`PurgeQueueInProgress`).
pub(super) const PURGE_INTERVAL_MS: i64 = 60_000;

/// Every queue attribute name GetQueueAttributes accepts (botocore's `QueueAttributeName`).
pub(super) const ATTRIBUTE_NAMES: &[&str] = &[
    "All",
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

/// Defaults of the settable attributes every queue has.
const DEFAULTS: &[(&str, &str)] = &[
    ("DelaySeconds", "0"),
    ("MaximumMessageSize", "1048576"),
    ("MessageRetentionPeriod", "345600"),
    ("ReceiveMessageWaitTimeSeconds", "0"),
    ("VisibilityTimeout", "30"),
    ("SqsManagedSseEnabled", "true"),
];

/// Defaults every FIFO queue adds.
const FIFO_DEFAULTS: &[(&str, &str)] = &[
    ("FifoQueue", "true"),
    ("ContentBasedDeduplication", "false"),
    ("DeduplicationScope", "queue"),
    ("FifoThroughputLimit", "perQueue"),
];

/// A queue as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QueueDoc {
    pub name: String,
    /// Prefix of this queue's messages in the key-value space; new for every incarnation of a
    /// name, so receipt handles of a deleted queue never match its successor.
    pub id: u64,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// The settable attributes, defaults included, in AWS's string form.
    pub attrs: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub last_purge_ms: Option<i64>,
    /// Messages with a lower seq were purged: readers start at it, and the store clears what
    /// is below it in the background.
    #[serde(default)]
    pub purged_below: u64,
}

impl QueueDoc {
    pub fn fifo(&self) -> bool {
        self.attrs.get("FifoQueue").is_some_and(|v| v == "true")
    }

    fn num(&self, name: &str) -> i64 {
        self.attrs
            .get(name)
            .and_then(|v| v.parse().ok())
            .or_else(|| {
                DEFAULTS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .and_then(|(_, d)| d.parse().ok())
            })
            .unwrap_or(0)
    }

    pub fn visibility_timeout_s(&self) -> i64 {
        self.num("VisibilityTimeout")
    }

    pub fn delay_s(&self) -> i64 {
        self.num("DelaySeconds")
    }

    pub fn retention_s(&self) -> i64 {
        self.num("MessageRetentionPeriod")
    }

    pub fn max_message_size(&self) -> usize {
        self.num("MaximumMessageSize").max(0) as usize
    }

    pub fn wait_s(&self) -> i64 {
        self.num("ReceiveMessageWaitTimeSeconds")
    }

    pub fn content_based_dedup(&self) -> bool {
        self.attrs
            .get("ContentBasedDeduplication")
            .is_some_and(|v| v == "true")
    }

    pub fn dedup_per_group(&self) -> bool {
        self.attrs
            .get("DeduplicationScope")
            .is_some_and(|v| v == "messageGroup")
    }

    /// `(dead-letter queue name, maxReceiveCount)` of the redrive policy.
    pub fn redrive(&self, cfg: &Config) -> Option<(String, u32)> {
        let policy: serde_json::Value =
            serde_json::from_str(self.attrs.get("RedrivePolicy")?).ok()?;
        let arn = policy.get("deadLetterTargetArn")?.as_str()?;
        let max = policy.get("maxReceiveCount")?.as_u64()?;
        Some((name_from_arn(cfg, arn)?.to_owned(), max as u32))
    }

    /// The ARN of the dead-letter queue this queue sends to, if any.
    pub fn dead_letter_target(&self) -> Option<String> {
        let policy: serde_json::Value =
            serde_json::from_str(self.attrs.get("RedrivePolicy")?).ok()?;
        Some(policy.get("deadLetterTargetArn")?.as_str()?.to_owned())
    }
}

/// The live queue named `name`.
pub(super) fn lookup(app: &Sqs, name: &str) -> Option<QueueDoc> {
    lookup_in(&app.store.catalog(), name)
}

pub(super) fn lookup_in(cat: &Catalog, name: &str) -> Option<QueueDoc> {
    serde_json::from_value(cat.doc(QUEUE_KIND, name)?.clone()).ok()
}

/// Every live queue, by name.
pub(super) fn all(app: &Sqs) -> Vec<QueueDoc> {
    app.store
        .catalog()
        .docs_of(QUEUE_KIND)
        .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
        .collect()
}

pub(super) fn arn(cfg: &Config, name: &str) -> String {
    format!("arn:aws:sqs:{}:{}:{name}", cfg.region, cfg.account_id)
}

/// The queue name of an SQS ARN of this server's region and account.
pub(super) fn name_from_arn<'a>(cfg: &Config, arn: &'a str) -> Option<&'a str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" || !parts.next()?.starts_with("aws") || parts.next()? != "sqs" {
        return None;
    }
    if parts.next()? != cfg.region || parts.next()? != cfg.account_id {
        return None;
    }
    parts.next().filter(|n| !n.is_empty() && !n.contains(':'))
}

/// `{base}/{account}/{name}`.
pub(super) fn url(base: &str, account: &str, name: &str) -> String {
    format!("{}/{account}/{name}", base.trim_end_matches('/'))
}

/// The queue name a QueueUrl designates, whatever host it names (the SDK may have used
/// `localhost`, an IP, or an AWS hostname): the last path segment. An account segment other
/// than ours names some other account's queue, which does not exist here.
pub(super) fn name_from_url(queue_url: &str, account: &str) -> Result<String, AwsError> {
    let path = match queue_url.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, p)| p),
        None => queue_url,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(name) = segs.last() else {
        return Err(super::queue_not_found());
    };
    if segs.len() >= 2 {
        let acct = segs[segs.len() - 2];
        if acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()) && acct != account {
            return Err(super::queue_not_found());
        }
    }
    Ok(tributary_service::percent_decode(name))
}

/// Queue names: 1–80 alphanumerics, hyphens and underscores; FIFO names end in `.fifo`.
pub(super) fn validate_name(name: &str, fifo: bool) -> Result<(), AwsError> {
    let ok_chars = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if fifo {
        let stem = name.strip_suffix(".fifo");
        if name.len() > 80 || !stem.is_some_and(|s| !s.is_empty() && ok_chars(s)) {
            return Err(invalid_param(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or \
                 underscores, must end with .fifo suffix and be 1 to 80 in length.",
            ));
        }
    } else if name.is_empty() || name.len() > 80 || !ok_chars(name) {
        return Err(invalid_param(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    Ok(())
}

fn unknown_attribute(name: &str) -> AwsError {
    AwsError::new(
        "InvalidAttributeName",
        400,
        format!("Unknown Attribute {name}."),
    )
}

fn invalid_value(name: &str) -> AwsError {
    AwsError::new(
        "InvalidAttributeValue",
        400,
        format!("Invalid value for the parameter {name}."),
    )
}

fn int_in(name: &str, v: &str, min: i64, max: i64) -> Result<String, AwsError> {
    match v.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
        _ => Err(invalid_value(name)),
    }
}

fn boolean(name: &str, v: &str) -> Result<String, AwsError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok("true".into()),
        "false" => Ok("false".into()),
        _ => Err(invalid_value(name)),
    }
}

/// Validates attributes given to CreateQueue (`creating`) or SetQueueAttributes and returns
/// them in their stored form. `cat` resolves dead-letter targets.
pub(super) fn validate_attrs(
    cfg: &Config,
    cat: &Catalog,
    given: &BTreeMap<String, String>,
    fifo: bool,
    creating: bool,
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    for (name, v) in given {
        let n = name.as_str();
        let value =
            match n {
                "DelaySeconds" => int_in(n, v, 0, 900)?,
                "MaximumMessageSize" => int_in(n, v, 1024, 1_048_576)?,
                "MessageRetentionPeriod" => int_in(n, v, 60, 1_209_600)?,
                "ReceiveMessageWaitTimeSeconds" => int_in(n, v, 0, 20)?,
                "VisibilityTimeout" => int_in(n, v, 0, 43_200)?,
                "KmsDataKeyReusePeriodSeconds" => int_in(n, v, 60, 86_400)?,
                "SqsManagedSseEnabled" => boolean(n, v)?,
                "KmsMasterKeyId" => v.clone(),
                "Policy" | "RedriveAllowPolicy" => {
                    if !v.is_empty() && serde_json::from_str::<serde_json::Value>(v).is_err() {
                        return Err(invalid_value(n));
                    }
                    v.clone()
                }
                "RedrivePolicy" => redrive_policy(cfg, cat, v, fifo)?,
                "FifoQueue" if creating => {
                    let b = boolean(n, v)?;
                    if (b == "true") != fifo {
                        return Err(invalid_value(n));
                    }
                    if b == "false" {
                        // The default of a standard queue, which does not list it.
                        continue;
                    }
                    b
                }
                "FifoQueue" if fifo => return Err(AwsError::new(
                    "InvalidAttributeValue",
                    400,
                    "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is \
                     not supported.",
                )),
                "ContentBasedDeduplication" if fifo => boolean(n, v)?,
                "DeduplicationScope" if fifo => match v.as_str() {
                    "queue" | "messageGroup" => v.clone(),
                    _ => return Err(invalid_value(n)),
                },
                "FifoThroughputLimit" if fifo => match v.as_str() {
                    "perQueue" | "perMessageGroupId" => v.clone(),
                    _ => return Err(invalid_value(n)),
                },
                _ => return Err(unknown_attribute(n)),
            };
        out.insert(name.clone(), value);
    }
    let kms = out.get("KmsMasterKeyId").is_some_and(|k| !k.is_empty());
    if kms && out.get("SqsManagedSseEnabled").is_some_and(|v| v == "true") {
        return Err(AwsError::new(
            "InvalidAttributeName",
            400,
            "You can use one type of server-side encryption (SSE) at one time. You can either \
             enable KMS SSE or SQS SSE.",
        ));
    }
    Ok(out)
}

/// Validates a RedrivePolicy and returns its normalised JSON (`""` removes the policy).
fn redrive_policy(cfg: &Config, cat: &Catalog, v: &str, fifo: bool) -> Result<String, AwsError> {
    if v.trim().is_empty() {
        return Ok(String::new());
    }
    let bad = |reason: &str| {
        invalid_param(format!(
            "Value {v} for parameter RedrivePolicy is invalid. Reason: {reason}"
        ))
    };
    let policy: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(v).map_err(|_| bad("Redrive policy is not a valid JSON map."))?;
    let target = policy.get("deadLetterTargetArn").ok_or_else(|| {
        bad("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
    })?;
    let max = policy.get("maxReceiveCount").ok_or_else(|| {
        bad("Redrive policy does not contain mandatory attribute: maxReceiveCount.")
    })?;
    let target = target
        .as_str()
        .filter(|t| t.starts_with("arn:") && t.split(':').count() == 6)
        .ok_or_else(|| bad("Invalid value for deadLetterTargetArn."))?;
    let max = match max {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let max = max.filter(|m| (1..=1000).contains(m)).ok_or_else(|| {
        bad("Invalid value for maxReceiveCount: valid values are from 1 to 1000 both inclusive.")
    })?;
    let dlq = name_from_arn(cfg, target)
        .and_then(|n| lookup_in(cat, n))
        .ok_or_else(|| bad("Dead letter target does not exist."))?;
    if dlq.fifo() != fifo {
        return Err(bad(
            "Dead-letter target must be the same type of queue as the source queue.",
        ));
    }
    Ok(serde_json::json!({"deadLetterTargetArn": target, "maxReceiveCount": max}).to_string())
}

/// The full attribute set of a new queue: defaults overridden by the validated `given` ones.
pub(super) fn initial_attrs(
    given: &BTreeMap<String, String>,
    fifo: bool,
) -> BTreeMap<String, String> {
    let mut attrs: BTreeMap<String, String> = DEFAULTS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if fifo {
        attrs.extend(
            FIFO_DEFAULTS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
    }
    apply(&mut attrs, given);
    attrs
}

/// Applies validated attribute changes: empty policies are removed, a KMS key turns SQS-managed
/// encryption off (and gets the default data-key reuse period), SQS-managed encryption turns a
/// KMS key off.
pub(super) fn apply(attrs: &mut BTreeMap<String, String>, changes: &BTreeMap<String, String>) {
    for (k, v) in changes {
        if v.is_empty()
            && matches!(
                k.as_str(),
                "RedrivePolicy" | "Policy" | "RedriveAllowPolicy" | "KmsMasterKeyId"
            )
        {
            attrs.remove(k);
        } else {
            attrs.insert(k.clone(), v.clone());
        }
    }
    if changes.get("KmsMasterKeyId").is_some_and(|k| !k.is_empty()) {
        attrs.insert("SqsManagedSseEnabled".into(), "false".into());
        attrs
            .entry("KmsDataKeyReusePeriodSeconds".into())
            .or_insert_with(|| "300".into());
    }
    if changes
        .get("SqsManagedSseEnabled")
        .is_some_and(|v| v == "true")
    {
        attrs.remove("KmsMasterKeyId");
        attrs.remove("KmsDataKeyReusePeriodSeconds");
    }
}

/// The first attribute CreateQueue was given whose value differs from the existing queue's.
pub(super) fn first_difference(
    existing: &BTreeMap<String, String>,
    given: &BTreeMap<String, String>,
    fifo: bool,
) -> Option<String> {
    let wanted = initial_attrs(given, fifo);
    given
        .keys()
        .find(|k| wanted.get(*k) != existing.get(*k))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_last_path_segment() {
        let acct = "000000000000";
        for url in [
            "http://127.0.0.1:4566/000000000000/orders",
            "https://sqs.us-east-1.amazonaws.com/000000000000/orders",
            "http://localhost:4566/queue/us-east-1/000000000000/orders",
            "/000000000000/orders",
        ] {
            assert_eq!(name_from_url(url, acct).unwrap(), "orders", "{url}");
        }
        let e = name_from_url("http://localhost/123456789012/orders", acct).unwrap_err();
        assert_eq!(e.code, "QueueDoesNotExist");
        assert!(name_from_url("http://localhost:4566/", acct).is_err());
    }

    #[test]
    fn validates_queue_names() {
        assert!(validate_name("a-b_C9", false).is_ok());
        assert!(validate_name("jobs.fifo", true).is_ok());
        assert!(validate_name("jobs.fifo", false).is_err());
        assert!(validate_name("jobs", true).is_err());
        assert!(validate_name(".fifo", true).is_err());
        assert!(validate_name(&"x".repeat(81), false).is_err());
        assert!(validate_name("", false).is_err());
    }

    #[test]
    fn defaults_and_differences() {
        let given: BTreeMap<String, String> = [("VisibilityTimeout".to_owned(), "30".to_owned())]
            .into_iter()
            .collect();
        let a = initial_attrs(&BTreeMap::new(), false);
        assert_eq!(a["MaximumMessageSize"], "1048576");
        assert_eq!(first_difference(&a, &given, false), None);
        let other: BTreeMap<String, String> = [("DelaySeconds".to_owned(), "5".to_owned())]
            .into_iter()
            .collect();
        assert_eq!(
            first_difference(&a, &other, false).as_deref(),
            Some("DelaySeconds")
        );
        let f = initial_attrs(&BTreeMap::new(), true);
        assert_eq!(f["FifoQueue"], "true");
        assert_eq!(f["DeduplicationScope"], "queue");
    }
}

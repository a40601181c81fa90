//! Tags of functions and event source mappings (`/2017-03-31/tags/{ARN}`: TagResource,
//! UntagResource, ListTags). Each resource's tags are one store document of kind
//! [`TAGS_KIND`] keyed by its ARN, so the resources themselves need not know about tags.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use tributary_model::arn::parse_function_ref;
use tributary_model::AwsError;
use tributary_store::Tx;

use super::FunctionDoc;
use crate::model_check::Input;
use crate::types::{ListTagsRequest, ListTagsResponse, TagResourceRequest, UntagResourceRequest};
use crate::Lambda;
use tributary_service::json::{constraint, lambda_err};

pub const TAGS_KIND: &str = "tags";

/// AWS's per-resource tag limit.
const MAX_TAGS: usize = 50;

const RESOURCE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|(capacity-provider|network-connector):[a-zA-Z0-9-_]{1,64})";

/// The tags of the resource `arn` (empty when it has none).
pub fn tags_of(app: &Lambda, arn: &str) -> BTreeMap<String, String> {
    let cat = app.store.catalog();
    cat.doc(TAGS_KIND, arn)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// Replaces the tags of `arn` inside a write transaction (CreateFunction, and
/// CreateEventSourceMapping's `Tags`).
pub fn put_tags_tx(
    tx: &mut Tx<'_>,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if tags.is_empty() {
        if tx.catalog().doc(TAGS_KIND, arn).is_some() {
            tx.delete_doc(TAGS_KIND, arn)?;
        }
        return Ok(());
    }
    tx.put_doc(TAGS_KIND, arn, json!(tags))
}

/// The `Tags` member of a request, validated; `None` when absent.
pub fn parse_tags(
    tags: Option<BTreeMap<String, String>>,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let Some(tags) = tags else {
        return Ok(None);
    };
    for (k, v) in &tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(constraint(
                &Value::String(k.clone()),
                "tags",
                "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]",
            ));
        }
        if v.chars().count() > 256 {
            return Err(constraint(
                &Value::String(v.clone()),
                "tags",
                "Map value must satisfy constraint: [Member must have length less than or equal to 256]",
            ));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(lambda_err::invalid_parameter(
            "Number of tags exceeds resource tag limit.",
        ));
    }
    Ok(Some(tags))
}

/// Checks the ARN's form and that the resource (a function or an event source mapping) exists
/// in this account and region.
fn resource(app: &Lambda, arn: &str) -> Result<(), AwsError> {
    let bad = || {
        constraint(
            &Value::String(arn.into()),
            "resource",
            &format!("Member must satisfy regular expression pattern: {RESOURCE_PATTERN}"),
        )
    };
    let local_prefix = format!("arn:aws:lambda:{}:{}:", app.cfg.region, app.cfg.account_id);
    if let Some(uuid) = arn
        .split_once(":event-source-mapping:")
        .map(|(_, uuid)| uuid)
    {
        let uuid_like = uuid.len() == 36
            && uuid.bytes().enumerate().all(|(i, b)| {
                if [8, 13, 18, 23].contains(&i) {
                    b == b'-'
                } else {
                    b.is_ascii_hexdigit()
                }
            });
        if !arn.starts_with("arn:aws") || !uuid_like {
            return Err(bad());
        }
        let exists = arn.starts_with(&local_prefix)
            && app
                .store
                .catalog()
                .doc(crate::mappings::ESM_KIND, uuid)
                .is_some();
        return if exists {
            Ok(())
        } else {
            Err(lambda_err::not_found(
                "The resource you requested does not exist.",
            ))
        };
    }
    let r = parse_function_ref(arn)
        .filter(|r| r.region.is_some() && arn.contains(":function:"))
        .ok_or_else(bad)?;
    if r.qualifier.is_some() {
        return Err(lambda_err::invalid_parameter(
            "Tagging operations are permitted on Lambda functions only. Tags on aliases and versions are not supported. Please specify either a function name or a function ARN.",
        ));
    }
    let exists = arn.starts_with(&local_prefix) && FunctionDoc::load(app, &r.name).is_some();
    if exists {
        Ok(())
    } else {
        Err(lambda_err::not_found(format!("Function not found: {arn}")))
    }
}

/// TagResource (POST), UntagResource (DELETE) and ListTags (GET), their inputs read from
/// `input`. Answers ListTags's output, `None` for the 204 of the others.
pub(crate) async fn dispatch(
    app: &Lambda,
    method: &http::Method,
    segments: &[String],
    input: &Input,
) -> Result<Option<ListTagsResponse>, AwsError> {
    use http::Method;
    match *method {
        Method::GET => {
            let req: ListTagsRequest = input.read()?;
            resource(app, &req.resource)?;
            Ok(Some(ListTagsResponse {
                tags: Some(tags_of(app, &req.resource)),
            }))
        }
        Method::POST => {
            let req: TagResourceRequest = input.read()?;
            // `Tags` is required: the validator has refused a request without it.
            let tags = parse_tags(Some(req.tags))?.unwrap_or_default();
            let arn = req.resource;
            resource(app, &arn)?;
            if tags.is_empty() {
                return Err(lambda_err::invalid_parameter(
                    "An error occurred and the request cannot be processed.",
                ));
            }
            change(app, &arn, move |current| {
                current.extend(tags.clone());
                if current.len() > MAX_TAGS {
                    return Err(lambda_err::invalid_parameter(
                        "Number of tags exceeds resource tag limit.",
                    ));
                }
                Ok(())
            })
            .await?;
            Ok(None)
        }
        Method::DELETE => {
            let req: UntagResourceRequest = input.read()?;
            let keys = req.tag_keys;
            if keys.is_empty() {
                return Err(constraint(
                    &Value::Null,
                    "tagKeys",
                    "Member must not be null",
                ));
            }
            resource(app, &req.resource)?;
            change(app, &req.resource, move |current| {
                for k in &keys {
                    current.remove(k);
                }
                Ok(())
            })
            .await?;
            Ok(None)
        }
        _ => Err(crate::unknown_rest_operation(method, segments)),
    }
}

/// Applies `f` to the tags of `arn` in one transaction.
async fn change(
    app: &Lambda,
    arn: &str,
    f: impl Fn(&mut BTreeMap<String, String>) -> Result<(), AwsError> + Send + 'static,
) -> Result<(), AwsError> {
    let arn = arn.to_owned();
    app.store
        .write(move |tx| {
            let mut current: BTreeMap<String, String> = tx
                .catalog()
                .doc(TAGS_KIND, &arn)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            f(&mut current)?;
            put_tags_tx(tx, &arn, &current)
        })
        .await
}

#[cfg(test)]
mod tests {
    use crate::model_check::query_values;

    #[test]
    fn repeated_query_keys_are_all_read() {
        assert_eq!(
            query_values("tagKeys=a&tagKeys=b%20c&other=x", "tagKeys"),
            vec!["a".to_string(), "b c".to_string()]
        );
        assert!(query_values("", "tagKeys").is_empty());
    }
}

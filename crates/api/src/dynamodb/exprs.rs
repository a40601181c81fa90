//! The expressions of one request (condition, update, projection, filter, key condition) with
//! their shared ExpressionAttributeNames/Values, parsed once and checked for unused
//! placeholders the way DynamoDB checks them.

use std::collections::BTreeMap;

use tributary_model::attr::{item_from_json, AttributeValue, Item};
use tributary_model::AwsError;

use crate::protocol::Req;

/// Parsed expressions of a request.
#[derive(Default)]
pub(super) struct Exprs {
    update: Option<Vec<tributary_expr::SetAction>>,
    key_condition: Option<super::query::KeyCondition>,
}

fn names(req: &Req<'_>) -> Result<BTreeMap<String, String>, AwsError> {
    match req.obj_opt("ExpressionAttributeNames")? {
        Some(m) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_owned()))
                    .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))
            })
            .collect(),
        None => Ok(BTreeMap::new()),
    }
}

fn values(req: &Req<'_>) -> Result<BTreeMap<String, AttributeValue>, AwsError> {
    match req.get("ExpressionAttributeValues") {
        Some(v) => Ok(item_from_json(v)?.into_iter().collect()),
        None => Ok(BTreeMap::new()),
    }
}

fn not_yet(member: &str) -> AwsError {
    AwsError::validation(format!("{member} is not supported by this server yet"))
}

impl Exprs {
    fn parse(req: &Req<'_>, allowed: &[&str]) -> Result<Exprs, AwsError> {
        for m in [
            "ConditionExpression",
            "FilterExpression",
            "ProjectionExpression",
            "KeyConditionExpression",
        ] {
            if allowed.contains(&m) && req.get(m).is_some() {
                return Err(not_yet(m));
            }
        }
        let names = names(req)?;
        let values = values(req)?;
        let mut usage = tributary_expr::Usage::default();
        let update = match req.str_opt("UpdateExpression")? {
            Some(e) if allowed.contains(&"UpdateExpression") => Some(tributary_expr::parse_update(
                e, &names, &values, &mut usage,
            )?),
            _ => None,
        };
        let any = allowed.iter().any(|m| req.get(m).is_some());
        if !any {
            if !names.is_empty() {
                return Err(AwsError::validation(
                    "ExpressionAttributeNames can only be specified when using expressions",
                ));
            }
            if !values.is_empty() {
                return Err(AwsError::validation(
                    "ExpressionAttributeValues can only be specified when using expressions",
                ));
            }
        }
        let unused: Vec<&str> = names
            .keys()
            .filter(|k| !usage.names.contains(*k))
            .map(String::as_str)
            .collect();
        if !unused.is_empty() {
            return Err(AwsError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                unused.join(", ")
            )));
        }
        let unused: Vec<&str> = values
            .keys()
            .filter(|k| !usage.values.contains(*k))
            .map(String::as_str)
            .collect();
        if !unused.is_empty() {
            return Err(AwsError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused.join(", ")
            )));
        }
        Ok(Exprs {
            update,
            key_condition: None,
        })
    }

    /// GetItem / BatchGetItem: a projection.
    pub(super) fn for_get(req: &Req<'_>) -> Result<Exprs, AwsError> {
        Self::parse(req, &["ProjectionExpression"])
    }

    /// PutItem / DeleteItem: a condition.
    pub(super) fn for_write(req: &Req<'_>) -> Result<Exprs, AwsError> {
        Self::parse(req, &["ConditionExpression"])
    }

    /// UpdateItem: an update and a condition.
    pub(super) fn for_update(req: &Req<'_>) -> Result<Exprs, AwsError> {
        Self::parse(req, &["UpdateExpression", "ConditionExpression"])
    }

    /// Scan: a filter and a projection.
    pub(super) fn for_scan(req: &Req<'_>) -> Result<Exprs, AwsError> {
        Self::parse(req, &["FilterExpression", "ProjectionExpression"])
    }

    /// Query: a key condition, a filter and a projection, over the given key schema.
    pub(super) fn for_query(
        req: &Req<'_>,
        _keys: &tributary_store::KeySchema,
    ) -> Result<Exprs, AwsError> {
        Self::parse(
            req,
            &[
                "KeyConditionExpression",
                "FilterExpression",
                "ProjectionExpression",
            ],
        )
    }

    pub(super) fn key_condition(&self) -> Option<&super::query::KeyCondition> {
        self.key_condition.as_ref()
    }

    pub(super) fn has_projection(&self) -> bool {
        false
    }

    /// Applies the projection (the whole item when there is none).
    pub(super) fn project(&self, item: Item) -> Item {
        item
    }

    /// Whether the filter keeps the item (always, when there is none).
    pub(super) fn keep(&self, _item: &Item) -> bool {
        true
    }

    /// Checks the condition against the current item; `Err` is ConditionalCheckFailed.
    pub(super) fn check(&self, _old: Option<&Item>) -> Result<(), AwsError> {
        Ok(())
    }

    /// Applies the update to a copy of the item.
    pub(super) fn apply(&self, item: &mut Item) -> Result<(), AwsError> {
        match &self.update {
            Some(actions) => tributary_expr::apply_set(item, actions),
            None => Ok(()),
        }
    }

    /// The top-level attributes the update touches (for UPDATED_OLD / UPDATED_NEW).
    pub(super) fn updated_attributes(&self) -> Vec<String> {
        self.update
            .iter()
            .flatten()
            .filter_map(|a| match a.path.first() {
                Some(tributary_expr::PathElem::Attr(n)) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    /// The paths an update writes to (to reject updates of key attributes).
    pub(super) fn top_level_targets(&self) -> Vec<String> {
        self.updated_attributes()
    }
}

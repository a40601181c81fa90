//! The expressions of one request (condition, update, projection, filter, key condition) with
//! their shared ExpressionAttributeNames/Values, parsed once and checked for unused
//! placeholders the way DynamoDB checks them.

use std::collections::BTreeMap;

use serde_json::Value;
use tributary_expr::{Condition, ExprKind, KeyAttr, KeyCondition, Path, Placeholders, Update};
use tributary_model::attr::{item_from_json, AttributeValue, Item};
use tributary_model::AwsError;
use tributary_store::KeySchema;

/// Parsed expressions of a request.
#[derive(Default)]
pub(super) struct Exprs {
    condition: Option<Condition>,
    filter: Option<Condition>,
    update: Option<Update>,
    projection: Option<Vec<Path>>,
    key_condition: Option<KeyCondition>,
}

/// The expression members of one request: the texts its operation takes (the others stay
/// `None`), the names from its typed input and the values from its request object.
#[derive(Default)]
pub(super) struct Texts<'a> {
    pub condition: Option<&'a str>,
    pub filter: Option<&'a str>,
    pub update: Option<&'a str>,
    pub projection: Option<&'a str>,
    pub key_condition: Option<&'a str>,
    pub names: Option<&'a BTreeMap<String, String>>,
    /// `ExpressionAttributeValues`, raw.
    pub values: Option<&'a Value>,
}

impl Exprs {
    /// Parses the expressions; a key condition is resolved against `keys` (the table's or the
    /// index's, for a Query), which also keeps key attributes out of the filter.
    pub(super) fn parse(t: Texts<'_>, keys: Option<&KeySchema>) -> Result<Exprs, AwsError> {
        let values_map: Option<BTreeMap<String, AttributeValue>> = match t.values {
            Some(v) => Some(item_from_json(v)?.into_iter().collect()),
            None => None,
        };
        let any = [
            t.condition,
            t.filter,
            t.update,
            t.projection,
            t.key_condition,
        ]
        .iter()
        .any(Option::is_some);
        if !any {
            if t.names.is_some() {
                return Err(AwsError::validation(
                    "ExpressionAttributeNames can only be specified when using expressions",
                ));
            }
            if values_map.is_some() {
                return Err(AwsError::validation(
                    "ExpressionAttributeValues can only be specified when using expressions",
                ));
            }
            return Ok(Exprs::default());
        }
        if let Some(n) = t.names {
            tributary_expr::check_names_map(n)?;
        }
        if let Some(v) = &values_map {
            tributary_expr::check_values_map(v)?;
        }
        let (empty_n, empty_v) = (BTreeMap::new(), BTreeMap::new());
        let mut ph = Placeholders::new(
            t.names.unwrap_or(&empty_n),
            values_map.as_ref().unwrap_or(&empty_v),
        );
        let mut out = Exprs::default();
        // DynamoDB validates the expressions in this order.
        if let Some(k) = t.key_condition {
            let parsed = tributary_expr::parse_key_condition(k, &mut ph)?;
            if let Some(ks) = keys {
                let hash = KeyAttr {
                    name: &ks.hash.name,
                    attr_type: &ks.hash.ty,
                };
                let range = ks.range.as_ref().map(|r| KeyAttr {
                    name: &r.name,
                    attr_type: &r.ty,
                });
                out.key_condition = Some(parsed.resolve(hash, range)?);
            }
        }
        if let Some(u) = t.update {
            out.update = Some(tributary_expr::parse_update_expression(u, &mut ph)?);
        }
        if let Some(c) = t.condition {
            out.condition = Some(tributary_expr::parse_condition(
                c,
                ExprKind::Condition,
                &mut ph,
            )?);
        }
        if let Some(f) = t.filter {
            let filter = tributary_expr::parse_condition(f, ExprKind::Filter, &mut ph)?;
            if let Some(ks) = keys {
                let used = filter.top_level_names();
                for k in std::iter::once(&ks.hash).chain(ks.range.as_ref()) {
                    if used.contains(&k.name) {
                        return Err(AwsError::validation(format!(
                            "Filter Expression can only contain non-primary key attributes: Primary key attribute: {}",
                            k.name
                        )));
                    }
                }
            }
            out.filter = Some(filter);
        }
        if let Some(p) = t.projection {
            out.projection = Some(tributary_expr::parse_projection(p, &mut ph)?);
        }
        ph.check_unused()?;
        Ok(out)
    }

    pub(super) fn key_condition(&self) -> Option<&KeyCondition> {
        self.key_condition.as_ref()
    }

    pub(super) fn has_update(&self) -> bool {
        self.update.is_some()
    }

    pub(super) fn has_projection(&self) -> bool {
        self.projection.is_some()
    }

    /// Applies the projection (the whole item when there is none).
    pub(super) fn project(&self, item: Item) -> Item {
        match &self.projection {
            Some(paths) => tributary_expr::project(&item, paths),
            None => item,
        }
    }

    /// Whether the filter keeps the item (always, when there is none).
    pub(super) fn keep(&self, item: &Item) -> bool {
        self.filter.as_ref().is_none_or(|f| f.eval(item))
    }

    /// Checks the condition against the current item; `Err(())` means the condition failed.
    pub(super) fn check(&self, old: Option<&Item>) -> Result<(), ()> {
        match &self.condition {
            Some(c) if !c.eval_opt(old) => Err(()),
            _ => Ok(()),
        }
    }

    /// Applies the update to `item`: a copy of the stored item, or just the key when
    /// `existed` is false.
    pub(super) fn apply(&self, item: &mut Item, existed: bool) -> Result<(), AwsError> {
        match &self.update {
            Some(u) if existed => u.apply(item),
            Some(u) => u.apply_to_new_item(item),
            None => Ok(()),
        }
    }

    /// What UPDATED_OLD / UPDATED_NEW return: the updated paths of `item`.
    pub(super) fn updated_part(&self, item: &Item) -> Item {
        match &self.update {
            Some(u) => tributary_expr::project(item, &u.paths()),
            None => Item::new(),
        }
    }

    /// The top-level attributes an update writes to (to reject updates of key attributes).
    pub(super) fn top_level_targets(&self) -> Vec<String> {
        self.update
            .as_ref()
            .map(Update::top_level_names)
            .unwrap_or_default()
    }
}

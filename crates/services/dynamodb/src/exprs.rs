//! The expressions of one request (condition, update, projection, filter, key condition) with
//! their shared ExpressionAttributeNames/Values, parsed once and checked for unused
//! placeholders the way DynamoDB checks them.

use std::collections::BTreeMap;

use tributary_expr::{Condition, ExprKind, KeyAttr, KeyCondition, Path, Placeholders, Update};
use tributary_model::attr::{item_from_json, AttributeValue, Item};
use tributary_model::AwsError;
use tributary_store::KeySchema;

use tributary_service::json::Req;

/// Parsed expressions of a request.
#[derive(Default)]
pub(super) struct Exprs {
    condition: Option<Condition>,
    filter: Option<Condition>,
    update: Option<Update>,
    projection: Option<Vec<Path>>,
    key_condition: Option<KeyCondition>,
}

fn names(req: &Req<'_>) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    match req.obj_opt("ExpressionAttributeNames")? {
        Some(m) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_owned()))
                    .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))
            })
            .collect::<Result<_, _>>()
            .map(Some),
        None => Ok(None),
    }
}

fn values(req: &Req<'_>) -> Result<Option<BTreeMap<String, AttributeValue>>, AwsError> {
    match req.get("ExpressionAttributeValues") {
        Some(v) => Ok(Some(item_from_json(v)?.into_iter().collect())),
        None => Ok(None),
    }
}

/// Which expressions a request may carry.
#[derive(Clone, Copy)]
struct Allowed {
    condition: bool,
    filter: bool,
    update: bool,
    projection: bool,
    key_condition: bool,
}

const NONE: Allowed = Allowed {
    condition: false,
    filter: false,
    update: false,
    projection: false,
    key_condition: false,
};

impl Exprs {
    fn parse(req: &Req<'_>, allowed: Allowed, keys: Option<&KeySchema>) -> Result<Exprs, AwsError> {
        let names_map = names(req)?;
        let values_map = values(req)?;
        let text = |member: &str, ok: bool| -> Result<Option<String>, AwsError> {
            if !ok {
                return Ok(None);
            }
            Ok(req.str_opt(member)?.map(str::to_owned))
        };
        let condition_text = text("ConditionExpression", allowed.condition)?;
        let filter_text = text("FilterExpression", allowed.filter)?;
        let update_text = text("UpdateExpression", allowed.update)?;
        let projection_text = text("ProjectionExpression", allowed.projection)?;
        let key_text = text("KeyConditionExpression", allowed.key_condition)?;
        let any = [
            &condition_text,
            &filter_text,
            &update_text,
            &projection_text,
            &key_text,
        ]
        .iter()
        .any(|t| t.is_some());
        if !any {
            if names_map.is_some() {
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
        if let Some(n) = &names_map {
            tributary_expr::check_names_map(n)?;
        }
        if let Some(v) = &values_map {
            tributary_expr::check_values_map(v)?;
        }
        let (empty_n, empty_v) = (BTreeMap::new(), BTreeMap::new());
        let mut ph = Placeholders::new(
            names_map.as_ref().unwrap_or(&empty_n),
            values_map.as_ref().unwrap_or(&empty_v),
        );
        let mut out = Exprs::default();
        // DynamoDB validates the expressions in this order.
        if let Some(k) = &key_text {
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
        if let Some(u) = &update_text {
            out.update = Some(tributary_expr::parse_update_expression(u, &mut ph)?);
        }
        if let Some(c) = &condition_text {
            out.condition = Some(tributary_expr::parse_condition(
                c,
                ExprKind::Condition,
                &mut ph,
            )?);
        }
        if let Some(f) = &filter_text {
            let filter = tributary_expr::parse_condition(f, ExprKind::Filter, &mut ph)?;
            if let (Some(ks), true) = (keys, allowed.key_condition) {
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
        if let Some(p) = &projection_text {
            out.projection = Some(tributary_expr::parse_projection(p, &mut ph)?);
        }
        ph.check_unused()?;
        Ok(out)
    }

    /// GetItem / BatchGetItem / TransactGetItems: a projection.
    pub(super) fn for_get(req: &Req<'_>) -> Result<Exprs, AwsError> {
        Self::parse(
            req,
            Allowed {
                projection: true,
                ..NONE
            },
            None,
        )
    }

    /// PutItem / DeleteItem / ConditionCheck: a condition.
    pub(super) fn for_write(req: &Req<'_>) -> Result<Exprs, AwsError> {
        Self::parse(
            req,
            Allowed {
                condition: true,
                ..NONE
            },
            None,
        )
    }

    /// UpdateItem: an update and a condition.
    pub(super) fn for_update(req: &Req<'_>) -> Result<Exprs, AwsError> {
        Self::parse(
            req,
            Allowed {
                update: true,
                condition: true,
                ..NONE
            },
            None,
        )
    }

    /// Scan: a filter and a projection.
    pub(super) fn for_scan(req: &Req<'_>) -> Result<Exprs, AwsError> {
        Self::parse(
            req,
            Allowed {
                filter: true,
                projection: true,
                ..NONE
            },
            None,
        )
    }

    /// Query: a key condition over `keys` (the table's or the index's), a filter and a
    /// projection.
    pub(super) fn for_query(req: &Req<'_>, keys: &KeySchema) -> Result<Exprs, AwsError> {
        let allowed = Allowed {
            key_condition: true,
            filter: true,
            projection: true,
            ..NONE
        };
        Self::parse(req, allowed, Some(keys))
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

//! The DynamoDB expression language: ConditionExpression, FilterExpression,
//! KeyConditionExpression, UpdateExpression and ProjectionExpression, parsed, validated and
//! evaluated with DynamoDB's semantics and DynamoDB's error messages.
//!
//! Every expression of one request is parsed with the same [`Placeholders`] (the request's
//! ExpressionAttributeNames / ExpressionAttributeValues); afterwards
//! [`Placeholders::check_unused`] rejects placeholders no expression used.
//!
//! ```
//! use std::collections::BTreeMap;
//! use tributary_expr::{parse_condition, parse_update_expression, ExprKind, Placeholders};
//! use tributary_model::attr::{AttributeValue, Item};
//!
//! let names = BTreeMap::from([("#c".to_string(), "count".to_string())]);
//! let values = BTreeMap::from([(":one".to_string(), AttributeValue::N("1".into()))]);
//! let mut ph = Placeholders::new(&names, &values);
//! let cond = parse_condition("attribute_not_exists(#c) OR #c < :one", ExprKind::Condition, &mut ph).unwrap();
//! let update = parse_update_expression("ADD #c :one", &mut ph).unwrap();
//! ph.check_unused().unwrap();
//!
//! let mut item = Item::new();
//! assert!(cond.eval(&item));
//! update.apply_to_new_item(&mut item).unwrap();
//! assert_eq!(item["count"], AttributeValue::N("1".into()));
//! ```

mod ast;
mod eval;
mod keycond;
mod legacy;
mod lexer;
mod parser;
mod path;
mod placeholders;
mod reserved;
mod update;
mod validate;

use std::collections::BTreeSet;
use std::fmt;

use tributary_model::attr::Item;
use tributary_model::AwsError;

pub use keycond::{KeyAttr, KeyCondition, KeyConditions, KeyOp, KeyPart, RangeCond};
pub use legacy::{apply_set, parse_update, SetAction};
pub use path::{project, Path, PathElem};
pub use placeholders::{check_names_map, check_values_map, Placeholders, Usage};
pub use update::Update;

use parser::{Parser, RawAction};
use update::Action;
use validate::{build_path_tree, front_checks, parse_fail_message, Msg, Validator};

/// Which request parameter an expression came from; it prefixes every error message
/// (`Invalid ConditionExpression: ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl ExprKind {
    /// The parameter name, e.g. `ConditionExpression`.
    pub fn param(self) -> &'static str {
        match self {
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Update => "UpdateExpression",
            ExprKind::Projection => "ProjectionExpression",
        }
    }
}

impl fmt::Display for ExprKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.param())
    }
}

fn invalid(kind: ExprKind, msg: Msg) -> AwsError {
    AwsError::validation(format!("Invalid {kind}: {msg}"))
}

/// A parsed and validated condition (ConditionExpression, FilterExpression, or the condition
/// behind a KeyConditionExpression).
#[derive(Debug, Clone)]
pub struct Condition {
    root: ast::Cond,
}

impl Condition {
    /// Evaluates the condition against an item. A missing item is evaluated as an empty one:
    /// `attribute_not_exists(x)` holds, comparisons with its attributes do not.
    pub fn eval(&self, item: &Item) -> bool {
        eval::cond(&self.root, item)
    }

    /// [`Condition::eval`] for an item that may not exist.
    pub fn eval_opt(&self, item: Option<&Item>) -> bool {
        match item {
            Some(i) => self.eval(i),
            None => self.eval(&Item::new()),
        }
    }

    /// Every document path the condition reads, in source order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.root.collect_paths(&mut out);
        out
    }

    /// The top-level attributes the condition reads (for "Filter Expression can only contain
    /// non-primary key attributes").
    pub fn top_level_names(&self) -> BTreeSet<String> {
        self.paths().iter().map(|p| p.top().to_owned()).collect()
    }
}

fn parse_condition_inner(expr: &str, ph: &mut Placeholders<'_>) -> Result<ast::Cond, Msg> {
    front_checks(expr, true)?;
    let mut parser = Parser::new(expr);
    let raw = parser
        .parse_condition()
        .map_err(|f| parse_fail_message(expr, &parser, f))?;
    validate::walk_cond(&raw)?;
    Validator::new(ph).cond(&raw)
}

/// Parses and validates a ConditionExpression or FilterExpression (`kind` names the parameter in
/// error messages).
pub fn parse_condition(
    expr: &str,
    kind: ExprKind,
    ph: &mut Placeholders<'_>,
) -> Result<Condition, AwsError> {
    parse_condition_inner(expr, ph)
        .map(|root| Condition { root })
        .map_err(|m| invalid(kind, m))
}

/// Parses a KeyConditionExpression and checks its shape (only `AND`ed key conditions, one per
/// key, at most two). Resolve the result against the key schema with
/// [`KeyConditions::resolve`] once the table (or index) is known.
pub fn parse_key_condition(
    expr: &str,
    ph: &mut Placeholders<'_>,
) -> Result<KeyConditions, AwsError> {
    let root = parse_condition_inner(expr, ph).map_err(|m| invalid(ExprKind::KeyCondition, m))?;
    keycond::extract(&root)
}

/// Parses and validates an UpdateExpression.
pub fn parse_update_expression(expr: &str, ph: &mut Placeholders<'_>) -> Result<Update, AwsError> {
    parse_update_inner(expr, ph).map_err(|m| invalid(ExprKind::Update, m))
}

fn parse_update_inner(expr: &str, ph: &mut Placeholders<'_>) -> Result<Update, Msg> {
    front_checks(expr, false)?;
    let mut parser = Parser::new(expr);
    let sections = parser
        .parse_update()
        .map_err(|f| parse_fail_message(expr, &parser, f))?;
    validate::walk_update(&sections)?;
    let raw: Vec<&RawAction> = sections.iter().flat_map(|(_, a)| a.iter()).collect();
    let raw_paths: Vec<&parser::RawPath> = raw
        .iter()
        .map(|a| match a {
            RawAction::Set(p, _) | RawAction::Remove(p) | RawAction::Add(p, _) => p,
            RawAction::Delete(p, _) => p,
        })
        .collect();
    let mut v = Validator::new(ph);
    let (paths, _) = build_path_tree(&mut v, &raw_paths)?;
    let mut actions: Vec<Option<Action>> = vec![None; raw.len()];
    for (i, a) in raw.iter().enumerate().rev() {
        actions[i] = Some(match a {
            RawAction::Set(_, value) => Action::Set(v.set_value(value)?),
            RawAction::Remove(_) => Action::Remove,
            RawAction::Add(_, key) => Action::Add(v.add_delete_value(key, true)?),
            RawAction::Delete(_, key) => Action::Delete(v.add_delete_value(key, false)?),
        });
    }
    Ok(Update::new(
        paths
            .into_iter()
            .zip(actions.into_iter().flatten())
            .collect(),
    ))
}

/// Parses and validates a ProjectionExpression into its paths (in source order).
pub fn parse_projection(expr: &str, ph: &mut Placeholders<'_>) -> Result<Vec<Path>, AwsError> {
    parse_projection_inner(expr, ph).map_err(|m| invalid(ExprKind::Projection, m))
}

fn parse_projection_inner(expr: &str, ph: &mut Placeholders<'_>) -> Result<Vec<Path>, Msg> {
    front_checks(expr, false)?;
    let mut parser = Parser::new(expr);
    let raw = parser
        .parse_projection()
        .map_err(|f| parse_fail_message(expr, &parser, f))?;
    validate::walk_projection(&raw)?;
    let refs: Vec<&parser::RawPath> = raw.iter().collect();
    Ok(build_path_tree(&mut Validator::new(ph), &refs)?.0)
}

#[cfg(test)]
mod tests;

//! The first, SET-only entry points, kept with their signatures until callers move to
//! [`crate::parse_update_expression`] and [`crate::Update::apply`]. They now run on the full
//! engine: any valid UpdateExpression parses, but only `SET path = :value` actions can be
//! returned in this form.

use std::collections::BTreeMap;

use tributary_model::attr::{AttributeValue, Item};
use tributary_model::AwsError;

use crate::ast::Operand;
use crate::path::PathElem;
use crate::placeholders::{Placeholders, Usage};
use crate::update::Action;

/// A parsed `SET path = :value` action.
#[derive(Debug, Clone, PartialEq)]
pub struct SetAction {
    pub path: Vec<PathElem>,
    pub value: AttributeValue,
}

/// Parses an UpdateExpression made only of `SET path = :value` actions (other valid actions are
/// refused with a ValidationException saying so).
pub fn parse_update(
    expr: &str,
    names: &BTreeMap<String, String>,
    values: &BTreeMap<String, AttributeValue>,
    usage: &mut Usage,
) -> Result<Vec<SetAction>, AwsError> {
    let mut ph = Placeholders::new(names, values);
    let parsed = crate::parse_update_expression(expr, &mut ph);
    let used = ph.into_usage();
    usage.names.extend(used.names);
    usage.values.extend(used.values);
    let update = parsed?;
    update
        .actions()
        .iter()
        .map(|(path, action)| match action {
            Action::Set(Operand::Value(v)) => Ok(SetAction {
                path: path.0.clone(),
                value: v.clone(),
            }),
            _ => Err(AwsError::validation(
                "Invalid UpdateExpression: only SET path = :value actions are supported by this entry point; use parse_update_expression",
            )),
        })
        .collect()
}

/// Applies SET actions in order to an item (a copy of the old item, or just its key for a new
/// one). Setting a list index past the end appends.
pub fn apply_set(item: &mut Item, actions: &[SetAction]) -> Result<(), AwsError> {
    for a in actions {
        set_path(item, &a.path, a.value.clone())?;
    }
    Ok(())
}

fn invalid_path() -> AwsError {
    AwsError::validation(
        "The document path provided in the update expression is invalid for update",
    )
}

fn set_path(item: &mut Item, path: &[PathElem], value: AttributeValue) -> Result<(), AwsError> {
    let Some((PathElem::Attr(first), rest)) = path.split_first() else {
        return Err(invalid_path());
    };
    if rest.is_empty() {
        item.insert(first.clone(), value);
        return Ok(());
    }
    let target = item.get_mut(first).ok_or_else(invalid_path)?;
    set_in(target, rest, value)
}

fn set_in(
    target: &mut AttributeValue,
    path: &[PathElem],
    value: AttributeValue,
) -> Result<(), AwsError> {
    let last = path.len() == 1;
    match (&path[0], target) {
        (PathElem::Attr(name), AttributeValue::M(m)) => {
            if last {
                m.insert(name.clone(), value);
                Ok(())
            } else {
                set_in(m.get_mut(name).ok_or_else(invalid_path)?, &path[1..], value)
            }
        }
        (PathElem::Index(i), AttributeValue::L(l)) => {
            if last {
                if *i < l.len() {
                    l[*i] = value;
                } else {
                    l.push(value);
                }
                Ok(())
            } else {
                set_in(l.get_mut(*i).ok_or_else(invalid_path)?, &path[1..], value)
            }
        }
        _ => Err(invalid_path()),
    }
}

//! The DynamoDB expression language. This first part covers UpdateExpression `SET` clauses
//! with document paths (`a`, `#n`, `a.b`, `a[2].c`) and `:value` operands; the full language
//! (conditions, functions, REMOVE/ADD/DELETE, projections) grows here.

use std::collections::{BTreeMap, HashSet};

use tributary_model::attr::{AttributeValue, Item};
use tributary_model::AwsError;

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathElem {
    Attr(String),
    Index(usize),
}

/// A parsed `SET path = :value` action.
#[derive(Debug, Clone, PartialEq)]
pub struct SetAction {
    pub path: Vec<PathElem>,
    pub value: AttributeValue,
}

/// Which placeholders an expression used, so callers can reject unused ones.
#[derive(Debug, Default)]
pub struct Usage {
    pub names: HashSet<String>,
    pub values: HashSet<String>,
}

fn syntax_error(token: &str) -> AwsError {
    AwsError::validation(format!(
        "Invalid UpdateExpression: Syntax error; token: \"{token}\", near: \"{token}\""
    ))
}

/// Parses an UpdateExpression made of one `SET` clause.
pub fn parse_update(
    expr: &str,
    names: &BTreeMap<String, String>,
    values: &BTreeMap<String, AttributeValue>,
    usage: &mut Usage,
) -> Result<Vec<SetAction>, AwsError> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(AwsError::validation(
            "Invalid UpdateExpression: The expression can not be empty;",
        ));
    }
    let (kw, rest) = trimmed.split_at(trimmed.find(char::is_whitespace).unwrap_or(trimmed.len()));
    if !kw.eq_ignore_ascii_case("SET") {
        if ["REMOVE", "ADD", "DELETE"]
            .iter()
            .any(|k| kw.eq_ignore_ascii_case(k))
        {
            return Err(AwsError::validation(format!(
                "Invalid UpdateExpression: the {} action is not supported by this server yet",
                kw.to_ascii_uppercase()
            )));
        }
        return Err(syntax_error(kw));
    }
    let mut actions = Vec::new();
    for clause in rest.split(',') {
        let (lhs, rhs) = clause
            .split_once('=')
            .ok_or_else(|| syntax_error(clause.trim()))?;
        let path = parse_path(lhs.trim(), names, usage)?;
        let rhs = rhs.trim();
        if !rhs.starts_with(':') || rhs.len() < 2 || rhs.contains(char::is_whitespace) {
            return Err(syntax_error(rhs));
        }
        let value = values.get(rhs).cloned().ok_or_else(|| {
            AwsError::validation(format!(
                "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: {rhs}"
            ))
        })?;
        usage.values.insert(rhs.to_owned());
        actions.push(SetAction { path, value });
    }
    Ok(actions)
}

fn parse_path(
    s: &str,
    names: &BTreeMap<String, String>,
    usage: &mut Usage,
) -> Result<Vec<PathElem>, AwsError> {
    if s.is_empty() {
        return Err(syntax_error("="));
    }
    let mut out = Vec::new();
    for part in s.split('.') {
        let (name, mut idx) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        let name = name.trim();
        let resolved = if let Some(placeholder) = name.strip_prefix('#') {
            let _ = placeholder;
            usage.names.insert(name.to_owned());
            names.get(name).cloned().ok_or_else(|| {
                AwsError::validation(format!(
                    "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: {name}"
                ))
            })?
        } else if !name.is_empty()
            && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            name.to_owned()
        } else {
            return Err(syntax_error(name));
        };
        out.push(PathElem::Attr(resolved));
        while !idx.is_empty() {
            let close = idx.find(']').ok_or_else(|| syntax_error(idx))?;
            let n: usize = idx[1..close]
                .trim()
                .parse()
                .map_err(|_| syntax_error(&idx[..=close]))?;
            out.push(PathElem::Index(n));
            idx = &idx[close + 1..];
        }
    }
    Ok(out)
}

/// Applies SET actions to an item (a copy of the old item, or just its key for a new one).
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
    let (PathElem::Attr(first), rest) = (&path[0], &path[1..]) else {
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
                // Past the end appends, as DynamoDB does.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[test]
    fn parses_and_applies_set() {
        let names = BTreeMap::from([("#n".to_string(), "name".to_string())]);
        let values = BTreeMap::from([(":a".to_string(), s("x")), (":b".to_string(), s("y"))]);
        let mut usage = Usage::default();
        let acts = parse_update("SET #n = :a, m.inner = :b", &names, &values, &mut usage).unwrap();
        let mut item = Item::new();
        item.insert("m".into(), AttributeValue::M(BTreeMap::new()));
        apply_set(&mut item, &acts).unwrap();
        assert_eq!(item["name"], s("x"));
        assert_eq!(
            item["m"],
            AttributeValue::M(BTreeMap::from([("inner".to_string(), s("y"))]))
        );
        assert!(usage.names.contains("#n") && usage.values.contains(":b"));
    }

    #[test]
    fn undefined_value_is_an_error() {
        let e = parse_update(
            "SET a = :zz",
            &BTreeMap::new(),
            &BTreeMap::new(),
            &mut Usage::default(),
        )
        .unwrap_err();
        assert!(e.message.contains("attribute value: :zz"));
    }

    #[test]
    fn nested_path_into_missing_attribute_fails() {
        let values = BTreeMap::from([(":a".to_string(), s("x"))]);
        let acts = parse_update(
            "SET m.x = :a",
            &BTreeMap::new(),
            &values,
            &mut Usage::default(),
        )
        .unwrap();
        assert!(apply_set(&mut Item::new(), &acts).is_err());
    }
}

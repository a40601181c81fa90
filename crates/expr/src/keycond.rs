//! KeyConditionExpression: a condition restricted to `hash = :v` plus at most one sort-key
//! condition. Checked in two steps, as DynamoDB does: the shape of the expression (before the
//! table is looked up), then against the key schema of the table or index.

use std::cmp::Ordering;

use tributary_model::attr::AttributeValue;
use tributary_model::AwsError;

use crate::ast::{CmpOp, Cond, Operand};
use crate::eval::{begins_with, compare_ordered};

/// The comparison of one key condition, normalised so that the key is on the left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
    Between,
    BeginsWith,
}

/// One `key <op> value(s)` condition of a KeyConditionExpression.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPart {
    pub name: String,
    pub op: KeyOp,
    pub values: Vec<AttributeValue>,
}

/// A KeyConditionExpression whose shape is valid; resolve it against a key schema with
/// [`KeyConditions::resolve`].
#[derive(Debug, Clone, PartialEq)]
pub struct KeyConditions {
    pub parts: Vec<KeyPart>,
}

/// A key attribute of the queried table or index and its type (`"S"`, `"N"` or `"B"`).
#[derive(Debug, Clone, Copy)]
pub struct KeyAttr<'a> {
    pub name: &'a str,
    pub attr_type: &'a str,
}

/// The sort-key part of a key condition.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeCond {
    Eq(AttributeValue),
    Lt(AttributeValue),
    Le(AttributeValue),
    Gt(AttributeValue),
    Ge(AttributeValue),
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

impl RangeCond {
    /// Whether a sort-key value satisfies the condition (values of another type never do).
    pub fn matches(&self, v: &AttributeValue) -> bool {
        let ord = |w: &AttributeValue| compare_ordered(v, w);
        match self {
            RangeCond::Eq(w) => ord(w) == Some(Ordering::Equal),
            RangeCond::Lt(w) => ord(w) == Some(Ordering::Less),
            RangeCond::Le(w) => matches!(ord(w), Some(Ordering::Less | Ordering::Equal)),
            RangeCond::Gt(w) => ord(w) == Some(Ordering::Greater),
            RangeCond::Ge(w) => matches!(ord(w), Some(Ordering::Greater | Ordering::Equal)),
            RangeCond::Between(lo, hi) => {
                matches!(ord(lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(ord(hi), Some(Ordering::Less | Ordering::Equal))
            }
            RangeCond::BeginsWith(w) => begins_with(v, w),
        }
    }
}

/// A key condition resolved against the key schema.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    pub hash_key: String,
    pub hash: AttributeValue,
    /// The sort key's name and condition, when the expression has one.
    pub range: Option<(String, RangeCond)>,
}

fn invalid_condition(what: &str) -> AwsError {
    AwsError::validation(format!(
        "Invalid condition in KeyConditionExpression: {what}"
    ))
}

fn invalid_operator(name: &str) -> AwsError {
    AwsError::validation(format!(
        "Invalid operator used in KeyConditionExpression: {name}"
    ))
}

fn invert(op: KeyOp) -> KeyOp {
    match op {
        KeyOp::Lt => KeyOp::Gt,
        KeyOp::Gt => KeyOp::Lt,
        KeyOp::Le => KeyOp::Ge,
        KeyOp::Ge => KeyOp::Le,
        other => other,
    }
}

/// Splits the condition into its `AND`ed key conditions, with DynamoDB's complaints.
pub(crate) fn extract(c: &Cond) -> Result<KeyConditions, AwsError> {
    let mut parts = Vec::new();
    collect(c, &mut parts)?;
    if parts.len() > 2 {
        return Err(AwsError::validation(
            "Conditions can be of length 1 or 2 only",
        ));
    }
    Ok(KeyConditions { parts })
}

fn collect(c: &Cond, parts: &mut Vec<KeyPart>) -> Result<(), AwsError> {
    let (op, operands, op_name): (KeyOp, Vec<&Operand>, &str) = match c {
        Cond::And(terms) => {
            for t in terms {
                collect(t, parts)?;
            }
            return Ok(());
        }
        Cond::Cmp(op, a, b) => {
            let k = match op {
                CmpOp::Eq => KeyOp::Eq,
                CmpOp::Lt => KeyOp::Lt,
                CmpOp::Le => KeyOp::Le,
                CmpOp::Gt => KeyOp::Gt,
                CmpOp::Ge => KeyOp::Ge,
                CmpOp::Ne => return Err(invalid_operator("<>")),
            };
            (k, vec![a, b], op.symbol())
        }
        Cond::Between(a, b, c) => (KeyOp::Between, vec![a, b, c], "BETWEEN"),
        Cond::BeginsWith(a, b) => (KeyOp::BeginsWith, vec![a, b], "begins_with"),
        Cond::In(..) => return Err(invalid_operator("IN")),
        Cond::Exists(_) => return Err(invalid_operator("attribute_exists")),
        Cond::NotExists(_) => return Err(invalid_operator("attribute_not_exists")),
        Cond::Type(..) => return Err(invalid_operator("attribute_type")),
        Cond::Contains(..) => return Err(invalid_operator("contains")),
        Cond::Not(_) => return Err(invalid_operator("NOT")),
        Cond::Or(..) => return Err(invalid_operator("OR")),
    };
    let mut op = op;
    let mut key: Option<String> = None;
    let mut values = Vec::new();
    for o in operands {
        match o {
            Operand::Path(p) => {
                if key.is_some() {
                    return Err(invalid_condition(
                        "Multiple attribute names used in one condition",
                    ));
                }
                if p.is_nested() {
                    return Err(AwsError::validation(
                        "KeyConditionExpressions cannot have conditions on nested attributes",
                    ));
                }
                key = Some(p.top().to_owned());
            }
            Operand::Value(v) => {
                if key.is_none() {
                    if matches!(op, KeyOp::Between | KeyOp::BeginsWith) {
                        return Err(invalid_condition(&format!(
                            "{op_name} operator must have the key attribute as its first operand"
                        )));
                    }
                    op = invert(op);
                }
                values.push(v.clone());
            }
            _ => {
                return Err(AwsError::validation(
                    "KeyConditionExpressions cannot contain nested operations",
                ))
            }
        }
    }
    let Some(name) = key else {
        return Err(invalid_condition("No key attribute specified"));
    };
    if parts.iter().any(|p: &KeyPart| p.name == name) {
        return Err(AwsError::validation(
            "KeyConditionExpressions must only contain one condition per key",
        ));
    }
    parts.push(KeyPart { name, op, values });
    Ok(())
}

impl KeyConditions {
    /// Checks the conditions against the key schema of the queried table or index.
    pub fn resolve(
        &self,
        hash: KeyAttr<'_>,
        range: Option<KeyAttr<'_>>,
    ) -> Result<KeyCondition, AwsError> {
        for part in &self.parts {
            let ty = if part.name == hash.name {
                Some(hash.attr_type)
            } else {
                range.filter(|r| r.name == part.name).map(|r| r.attr_type)
            };
            if let Some(ty) = ty {
                if part.values.iter().any(|v| v.type_name() != ty) {
                    return Err(AwsError::validation(
                        "One or more parameter values were invalid: Condition parameter type does not match schema type",
                    ));
                }
            }
        }
        let unsupported = || AwsError::validation("Query key condition not supported");
        if range.is_none() && self.parts.len() > 1 {
            return Err(unsupported());
        }
        let missed = |name: &str| {
            AwsError::validation(format!("Query condition missed key schema element: {name}"))
        };
        let Some(hash_part) = self.parts.iter().find(|p| p.name == hash.name) else {
            return Err(missed(hash.name));
        };
        let range_part = self.parts.iter().find(|p| p.name != hash.name);
        if let Some(rp) = range_part {
            match range {
                Some(r) if r.name == rp.name => {}
                Some(r) => return Err(missed(r.name)),
                None => return Err(unsupported()),
            }
        }
        if hash_part.op != KeyOp::Eq {
            return Err(unsupported());
        }
        let range_cond = range_part.map(|rp| {
            let v = |i: usize| rp.values.get(i).cloned().unwrap_or(AttributeValue::Null);
            let cond = match rp.op {
                KeyOp::Eq => RangeCond::Eq(v(0)),
                KeyOp::Lt => RangeCond::Lt(v(0)),
                KeyOp::Le => RangeCond::Le(v(0)),
                KeyOp::Gt => RangeCond::Gt(v(0)),
                KeyOp::Ge => RangeCond::Ge(v(0)),
                KeyOp::Between => RangeCond::Between(v(0), v(1)),
                KeyOp::BeginsWith => RangeCond::BeginsWith(v(0)),
            };
            (rp.name.clone(), cond)
        });
        Ok(KeyCondition {
            hash_key: hash.name.to_owned(),
            hash: hash_part
                .values
                .first()
                .cloned()
                .unwrap_or(AttributeValue::Null),
            range: range_cond,
        })
    }
}

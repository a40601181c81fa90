//! ExpressionAttributeNames / ExpressionAttributeValues of one request, and which of them the
//! request's expressions used.

use std::collections::{BTreeMap, HashSet};

use tributary_model::attr::AttributeValue;
use tributary_model::AwsError;

/// Which placeholders an expression used, so callers can reject unused ones.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub names: HashSet<String>,
    pub values: HashSet<String>,
}

/// The placeholder maps of one request plus the usage accumulated over all its expressions.
/// Parse every expression of the request with the same `Placeholders`, then call
/// [`Placeholders::check_unused`].
#[derive(Debug)]
pub struct Placeholders<'a> {
    names: &'a BTreeMap<String, String>,
    values: &'a BTreeMap<String, AttributeValue>,
    usage: Usage,
}

impl<'a> Placeholders<'a> {
    pub fn new(
        names: &'a BTreeMap<String, String>,
        values: &'a BTreeMap<String, AttributeValue>,
    ) -> Self {
        Placeholders {
            names,
            values,
            usage: Usage::default(),
        }
    }

    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    pub fn into_usage(self) -> Usage {
        self.usage
    }

    /// Marks `#name` used and returns what it stands for.
    pub(crate) fn name(&mut self, key: &str) -> Option<&'a str> {
        self.usage.names.insert(key.to_owned());
        self.names.get(key).map(String::as_str)
    }

    /// Marks `:value` used and returns its value.
    pub(crate) fn value(&mut self, key: &str) -> Option<&'a AttributeValue> {
        self.usage.values.insert(key.to_owned());
        self.values.get(key)
    }

    /// Names defined but used by no expression, in key order.
    pub fn unused_names(&self) -> Vec<&'a str> {
        self.names
            .keys()
            .filter(|k| !self.usage.names.contains(*k))
            .map(String::as_str)
            .collect()
    }

    /// Values defined but used by no expression, in key order.
    pub fn unused_values(&self) -> Vec<&'a str> {
        self.values
            .keys()
            .filter(|k| !self.usage.values.contains(*k))
            .map(String::as_str)
            .collect()
    }

    /// DynamoDB's check once every expression of the request is parsed: unused names first,
    /// then unused values.
    pub fn check_unused(&self) -> Result<(), AwsError> {
        let names = self.unused_names();
        if !names.is_empty() {
            return Err(AwsError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                names.join(", ")
            )));
        }
        let values = self.unused_values();
        if !values.is_empty() {
            return Err(AwsError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                values.join(", ")
            )));
        }
        Ok(())
    }
}

fn valid_key(key: &str, prefix: char) -> bool {
    let mut chars = key.chars();
    chars.next() == Some(prefix)
        && key.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a present ExpressionAttributeNames map: not empty, every key `#` followed by
/// letters, digits or `_`.
pub fn check_names_map(names: &BTreeMap<String, String>) -> Result<(), AwsError> {
    if names.is_empty() {
        return Err(AwsError::validation(
            "ExpressionAttributeNames must not be empty",
        ));
    }
    for k in names.keys() {
        if !valid_key(k, '#') {
            return Err(AwsError::validation(format!(
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
            )));
        }
    }
    Ok(())
}

/// Checks a present ExpressionAttributeValues map: not empty, every key `:` followed by
/// letters, digits or `_`.
pub fn check_values_map(values: &BTreeMap<String, AttributeValue>) -> Result<(), AwsError> {
    if values.is_empty() {
        return Err(AwsError::validation(
            "ExpressionAttributeValues must not be empty",
        ));
    }
    for k in values.keys() {
        if !valid_key(k, ':') {
            return Err(AwsError::validation(format!(
                "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
            )));
        }
    }
    Ok(())
}

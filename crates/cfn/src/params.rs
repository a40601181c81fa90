//! Parameter values: the caller's overrides and the template's defaults, checked against each
//! parameter's type and constraints with CloudFormation's messages.

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Result, TemplateError};
use crate::template::{ParameterDecl, ParameterKind, Template};

/// The value of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamValue {
    /// What `Ref` gives: a string, or a list of strings for list types.
    pub value: Value,
    /// The value as given (for an SSM parameter type: the parameter's name).
    pub text: String,
    /// For an SSM parameter type, the value read from the parameter store.
    pub resolved: Option<String>,
    /// `NoEcho`: show `****` instead of the value.
    pub no_echo: bool,
}

impl ParamValue {
    /// What `DescribeStacks` shows: the value, or `****` for `NoEcho` parameters.
    pub fn shown(&self) -> &str {
        if self.no_echo {
            "****"
        } else {
            &self.text
        }
    }
}

/// The resolved parameters of a stack, in template order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: IndexMap<String, ParamValue>,
}

impl Params {
    /// What `Ref` of the parameter gives.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).map(|p| &p.value)
    }

    /// The full record of one parameter.
    pub fn param(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    /// Every parameter, in template order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Parameters given directly as strings (tests, and templates without declarations).
    pub fn from_strings<'s>(pairs: impl IntoIterator<Item = (&'s str, &'s str)>) -> Self {
        let values = pairs
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    ParamValue {
                        value: Value::String(v.to_owned()),
                        text: v.to_owned(),
                        resolved: None,
                        no_echo: false,
                    },
                )
            })
            .collect();
        Self { values }
    }
}

/// Reads the value of an SSM parameter by name (`AWS::SSM::Parameter::Value<...>` types).
pub type SsmLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Resolves the parameter values of a stack: each override or else the default, checked
/// against the declaration. SSM parameter types fail: there is no parameter store to read
/// (see [`resolve_parameters_with`]).
pub fn resolve_parameters<'v>(
    template: &Template,
    overrides: impl IntoIterator<Item = (&'v str, &'v str)>,
) -> Result<Params> {
    resolve_parameters_with(template, overrides, &|_| None)
}

/// [`resolve_parameters`], reading SSM parameter types through `ssm`.
pub fn resolve_parameters_with<'v>(
    template: &Template,
    overrides: impl IntoIterator<Item = (&'v str, &'v str)>,
    ssm: SsmLookup<'_>,
) -> Result<Params> {
    let overrides: IndexMap<&str, &str> = overrides.into_iter().collect();
    let unknown: Vec<&str> = overrides
        .keys()
        .filter(|k| !template.parameters.contains_key(**k))
        .copied()
        .collect();
    if !unknown.is_empty() {
        return Err(TemplateError::Parameter(format!(
            "Parameters: [{}] do not exist in the template",
            unknown.join(", ")
        )));
    }
    let missing: Vec<&str> = template
        .parameters
        .iter()
        .filter(|(name, decl)| !overrides.contains_key(name.as_str()) && decl.default.is_none())
        .map(|(name, _)| name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(TemplateError::Parameter(format!(
            "Parameters: [{}] must have values",
            missing.join(", ")
        )));
    }
    let mut values = IndexMap::new();
    let mut unfetched = Vec::new();
    for (name, decl) in &template.parameters {
        let text = match overrides.get(name.as_str()) {
            Some(v) => (*v).to_owned(),
            None => decl.default.clone().unwrap_or_default(),
        };
        check(name, decl, &text)?;
        let (value, resolved) = match &decl.kind {
            ParameterKind::SsmValue(inner) => match ssm(&text) {
                Some(stored) => {
                    check_kind(name, inner, &stored)?;
                    (typed(inner, &stored), Some(stored))
                }
                None => {
                    unfetched.push(text.clone());
                    (Value::Null, None)
                }
            },
            kind => (typed(kind, &text), None),
        };
        values.insert(
            name.clone(),
            ParamValue {
                value,
                text,
                resolved,
                no_echo: decl.no_echo,
            },
        );
    }
    if !unfetched.is_empty() {
        return Err(TemplateError::Parameter(format!(
            "Unable to fetch parameters [{}] from parameter store for this account.",
            unfetched.join(",")
        )));
    }
    Ok(Params { values })
}

fn typed(kind: &ParameterKind, text: &str) -> Value {
    if kind.is_list() {
        Value::Array(
            text.split(',')
                .map(|s| Value::String(s.trim().to_owned()))
                .collect(),
        )
    } else {
        Value::String(text.to_owned())
    }
}

fn is_number(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty() && s.parse::<f64>().is_ok_and(f64::is_finite)
}

fn check_kind(name: &str, kind: &ParameterKind, text: &str) -> Result<()> {
    match kind {
        ParameterKind::Number if !is_number(text) => Err(TemplateError::Parameter(format!(
            "Parameter '{name}' must be a number"
        ))),
        ParameterKind::NumberList if !text.split(',').all(is_number) => Err(
            TemplateError::Parameter(format!("Parameter '{name}' must be a list of numbers")),
        ),
        _ => Ok(()),
    }
}

/// The constraint failure text: the template's `ConstraintDescription` when it has one.
fn failed(name: &str, decl: &ParameterDecl, default: String) -> TemplateError {
    match &decl.constraint_description {
        Some(desc) => TemplateError::Parameter(format!(
            "Parameter '{name}' failed to satisfy constraint: {desc}"
        )),
        None => TemplateError::Parameter(default),
    }
}

fn check(name: &str, decl: &ParameterDecl, text: &str) -> Result<()> {
    if !matches!(decl.kind, ParameterKind::SsmValue(_)) {
        check_kind(name, &decl.kind, text)?;
    }
    if let Some(allowed) = &decl.allowed_values {
        let ok = allowed.iter().any(|a| a == text)
            || (decl.kind.is_list()
                && text
                    .split(',')
                    .all(|item| allowed.iter().any(|a| a == item.trim())));
        if !ok {
            return Err(TemplateError::Parameter(format!(
                "Parameter '{name}' must be one of AllowedValues"
            )));
        }
    }
    let chars = text.chars().count() as u64;
    if let Some(min) = decl.min_length {
        if chars < min {
            return Err(failed(
                name,
                decl,
                format!("Parameter '{name}' must contain at least {min} characters"),
            ));
        }
    }
    if let Some(max) = decl.max_length {
        if chars > max {
            return Err(failed(
                name,
                decl,
                format!("Parameter '{name}' must contain at most {max} characters"),
            ));
        }
    }
    if decl.min_value.is_some() || decl.max_value.is_some() {
        let numbers: Vec<f64> = text
            .split(',')
            .filter_map(|s| s.trim().parse::<f64>().ok())
            .collect();
        for n in numbers {
            if let Some(min) = decl.min_value {
                if n < min {
                    return Err(failed(
                        name,
                        decl,
                        format!("Parameter '{name}' must be a number not less than {min}"),
                    ));
                }
            }
            if let Some(max) = decl.max_value {
                if n > max {
                    return Err(failed(
                        name,
                        decl,
                        format!("Parameter '{name}' must be a number not greater than {max}"),
                    ));
                }
            }
        }
    }
    if let Some(pattern) = &decl.allowed_pattern {
        // Java semantics: the whole value must match.
        let re = fancy_regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
            TemplateError::format(format!(
                "Parameter '{name}' has an AllowedPattern that is not a valid regular expression"
            ))
        })?;
        if !re.is_match(text).unwrap_or(false) {
            return Err(failed(
                name,
                decl,
                format!("Parameter '{name}' must match pattern {pattern}"),
            ));
        }
    }
    Ok(())
}

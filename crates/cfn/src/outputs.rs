//! The `Outputs` of a stack once its resources exist, and the exports they declare.

use std::collections::HashSet;

use serde_json::Value;

use crate::context::{Context, Resolver};
use crate::error::{Result, TemplateError};
use crate::intrinsics::scalar_string;
use crate::plan::Plan;
use crate::template::Template;

/// One output as `DescribeStacks` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedOutput {
    /// The output's logical id (`OutputKey`).
    pub key: String,
    /// `OutputValue` (a list is shown comma-separated, as CloudFormation shows it).
    pub value: String,
    /// `Description`.
    pub description: Option<String>,
    /// `ExportName`, when the output is exported.
    pub export_name: Option<String>,
}

fn text(v: Value, what: &str, key: &str) -> Result<String> {
    if let Some(s) = scalar_string(&v) {
        return Ok(s);
    }
    if let Value::Array(items) = &v {
        let parts: Option<Vec<String>> = items.iter().map(scalar_string).collect();
        if let Some(parts) = parts {
            return Ok(parts.join(","));
        }
    }
    Err(TemplateError::intrinsic(format!(
        "The {what} of output {key} must resolve to a string or a list of strings"
    )))
}

/// Resolves the outputs whose condition holds, in template order. Export names must be
/// unique within the stack; uniqueness across stacks is the caller's to check.
pub fn outputs(
    template: &Template,
    plan: &Plan,
    ctx: &Context,
    resolver: &dyn Resolver,
) -> Result<Vec<ResolvedOutput>> {
    let mut out = Vec::new();
    let mut exports = HashSet::new();
    for (key, o) in &template.outputs {
        if let Some(c) = &o.condition {
            if !plan.conditions.get(c).copied().unwrap_or(false) {
                continue;
            }
        }
        let Some(value) = plan.resolve(template, ctx, &o.value, resolver)? else {
            continue;
        };
        let value = text(value, "Value", key)?;
        let description = match &o.description {
            Some(d) => match plan.resolve(template, ctx, d, resolver)? {
                Some(v) => Some(text(v, "Description", key)?),
                None => None,
            },
            None => None,
        };
        let export_name = match &o.export_name {
            Some(e) => match plan.resolve(template, ctx, e, resolver)? {
                Some(v) => Some(text(v, "Export Name", key)?),
                None => None,
            },
            None => None,
        };
        if let Some(name) = &export_name {
            if !exports.insert(name.clone()) {
                return Err(TemplateError::format(format!(
                    "Duplicate Export names: {name}"
                )));
            }
        }
        out.push(ResolvedOutput {
            key: key.clone(),
            value,
            description,
            export_name,
        });
    }
    Ok(out)
}

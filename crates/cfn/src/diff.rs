//! Updates by diff: given the plans of the old and the new template, which resources are
//! added, removed and modified, and which modifications replace the resource.
//!
//! Properties are compared as planned ([`crate::PlannedResource::properties`]): parameters,
//! mappings and conditions resolved, references to resources still symbolic, so a changed
//! parameter value or a changed reference is a change. Whether a property change needs a
//! replacement is per resource type, as AWS documents it for each property: the resource
//! handlers answer through [`ReplacementRules`].

use std::collections::HashSet;

use serde_json::Value;

use crate::error::{Result, TemplateError};
use crate::plan::Plan;

/// Whether changing a property replaces the resource (CloudFormation's `Replacement` of a
/// change set: `False`, `Conditional`, `True`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Replacement {
    /// Updated in place.
    Never,
    /// Replaced or not depending on the new value (the handler decides when it updates).
    Conditional,
    /// A new physical resource replaces the old one.
    Always,
}

/// The replacement rules of the resource types: supplied by the resource handlers.
pub trait ReplacementRules {
    /// Whether a change of `property` (a top-level property name) of a resource of
    /// `type_` replaces it.
    fn replacement(&self, type_: &str, property: &str) -> Replacement;
}

/// Rules under which every change is an update in place.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReplacementRules;

impl ReplacementRules for NoReplacementRules {
    fn replacement(&self, _: &str, _: &str) -> Replacement {
        Replacement::Never
    }
}

impl<F: Fn(&str, &str) -> Replacement> ReplacementRules for F {
    fn replacement(&self, type_: &str, property: &str) -> Replacement {
        self(type_, property)
    }
}

/// One resource present in both plans whose definition changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modification {
    /// The logical id.
    pub logical_id: String,
    /// The resource type (the same in both plans).
    pub type_: String,
    /// The top-level properties whose value changed (added, removed or different), sorted.
    pub properties: Vec<String>,
    /// Whether the resource's `Metadata` changed.
    pub metadata: bool,
    /// Whether `DeletionPolicy` or `UpdateReplacePolicy` changed (no physical change).
    pub policies: bool,
    /// The strongest replacement any changed property needs.
    pub replacement: Replacement,
}

/// What an update does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// Resources only in the new plan, in its creation order.
    pub add: Vec<String>,
    /// Resources only in the old plan, in its deletion order.
    pub remove: Vec<String>,
    /// Resources in both whose definition changed, in the new plan's creation order.
    pub modify: Vec<Modification>,
    /// Resources unchanged themselves that depend on one being replaced: their references
    /// resolve to a new physical id, so the deployer updates them after it ("Dynamic" in a
    /// change set). In the new plan's creation order.
    pub dynamic: Vec<String>,
}

impl Changes {
    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty() && self.modify.is_empty()
    }
}

/// Compares two plans of a stack. Changing a resource's type is refused, as CloudFormation
/// refuses it.
pub fn diff(old: &Plan, new: &Plan, rules: &dyn ReplacementRules) -> Result<Changes> {
    let retyped: Vec<String> = new
        .creation_order()
        .filter(|n| old.get(&n.logical_id).is_some_and(|o| o.type_ != n.type_))
        .map(|n| n.logical_id.clone())
        .collect();
    if !retyped.is_empty() {
        return Err(TemplateError::Validation(format!(
            "Update of resource type is not permitted. The new template modifies resource type of the following resources: [{}]",
            retyped.join(", ")
        )));
    }
    let mut changes = Changes::default();
    for n in new.creation_order() {
        let Some(o) = old.get(&n.logical_id) else {
            changes.add.push(n.logical_id.clone());
            continue;
        };
        let properties = changed_properties(&o.properties, &n.properties);
        let metadata = o.metadata != n.metadata;
        let policies = o.deletion_policy != n.deletion_policy
            || o.update_replace_policy != n.update_replace_policy;
        if properties.is_empty() && !metadata && !policies {
            continue;
        }
        let replacement = properties
            .iter()
            .map(|p| rules.replacement(&n.type_, p))
            .max()
            .unwrap_or(Replacement::Never);
        changes.modify.push(crate::diff::Modification {
            logical_id: n.logical_id.clone(),
            type_: n.type_.clone(),
            properties,
            metadata,
            policies,
            replacement,
        });
    }
    for o in old.deletion_order() {
        if new.get(&o.logical_id).is_none() {
            changes.remove.push(o.logical_id.clone());
        }
    }
    let mut replaced: HashSet<&str> = changes
        .modify
        .iter()
        .filter(|m| m.replacement == Replacement::Always)
        .map(|m| m.logical_id.as_str())
        .collect();
    let modified: HashSet<&str> = changes
        .modify
        .iter()
        .map(|m| m.logical_id.as_str())
        .collect();
    let added: HashSet<&str> = changes.add.iter().map(String::as_str).collect();
    let mut dynamic = Vec::new();
    // Creation order: a dependency's replacement is known before its dependents are seen.
    for n in new.creation_order() {
        let id = n.logical_id.as_str();
        if modified.contains(id) || added.contains(id) {
            continue;
        }
        if n.dependencies.iter().any(|d| replaced.contains(d.as_str())) {
            dynamic.push(id.to_owned());
            replaced.insert(id);
        }
    }
    changes.dynamic = dynamic;
    Ok(changes)
}

fn changed_properties(old: &Value, new: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut names: Vec<String> = o
        .keys()
        .chain(n.keys())
        .filter(|k| o.get(*k) != n.get(*k))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

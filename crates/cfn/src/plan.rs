//! Conditions, dependencies and order: which resources a stack has under the given
//! parameters, what each depends on (`DependsOn`, and every `Ref`, `Fn::GetAtt` and `Fn::Sub`
//! reference in the branches `Fn::If` takes), and an order that creates every resource after
//! all it depends on (deletion runs it backwards).

use std::collections::{HashMap, HashSet};

use indexmap::{IndexMap, IndexSet};
use serde_json::Value;

use crate::context::{Context, NoResources, Resolver};
use crate::error::{Result, TemplateError};
use crate::intrinsics::{intrinsic_call, Eval, Mode};
use crate::template::{RetentionPolicy, Template};

/// The value of each condition, by name.
pub type Conditions = IndexMap<String, bool>;

/// Evaluates the `Conditions` block. A condition may use parameters, pseudo parameters,
/// mappings and other conditions, never a resource.
pub fn evaluate_conditions(template: &Template, ctx: &Context) -> Result<Conditions> {
    let order = check_condition_graph(template)?;
    let mut results = Conditions::new();
    for name in order {
        let Some(expr) = template.conditions.get(&name) else {
            continue;
        };
        let value = {
            let mut eval = Eval::new(template, ctx, &results, &NoResources, Mode::Conditions);
            eval.block = "Conditions";
            eval.eval(expr)?
        };
        match value {
            Some(Value::Bool(b)) => {
                results.insert(name, b);
            }
            _ => {
                return Err(TemplateError::format(format!(
                    "Conditions can only be boolean operations on parameters and other conditions: {name} is not"
                )))
            }
        }
    }
    // Back in template order.
    let ordered = template
        .conditions
        .keys()
        .filter_map(|k| results.get(k).map(|b| (k.clone(), *b)))
        .collect();
    Ok(ordered)
}

/// Checks that conditions only name conditions that exist, without cycles; returns an
/// order in which each comes after those it uses.
fn check_condition_graph(template: &Template) -> Result<Vec<String>> {
    let names: Vec<String> = template.conditions.keys().cloned().collect();
    let mut edges: HashMap<String, Vec<String>> = HashMap::new();
    for (name, expr) in &template.conditions {
        let mut refs = Vec::new();
        condition_refs(expr, &mut refs);
        for r in &refs {
            if !template.conditions.contains_key(r) {
                return Err(TemplateError::format(format!(
                    "Unresolved dependencies [{r}]. Cannot reference undefined conditions in the Conditions block of the template"
                )));
            }
        }
        edges.insert(name.clone(), refs);
    }
    match topo_order(&names, &edges) {
        Ok(order) => Ok(order),
        Err(cycle) => Err(TemplateError::format(format!(
            "Circular dependency between conditions: [{}]",
            cycle.join(", ")
        ))),
    }
}

/// Names of the conditions an expression uses (`{"Condition": X}`, `Fn::If`'s first
/// argument).
fn condition_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some((name, arg)) = intrinsic_call(m, true) {
                match (name, arg) {
                    ("Condition", Value::String(c)) => {
                        out.push(c.clone());
                        return;
                    }
                    ("Fn::If", Value::Array(a)) => {
                        if let Some(Value::String(c)) = a.first() {
                            out.push(c.clone());
                        }
                    }
                    _ => {}
                }
            }
            m.values().for_each(|v| condition_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| condition_refs(v, out)),
        _ => {}
    }
}

/// A topological order of `ids` (each after what it depends on), ties broken by the order
/// of `ids`; or the ids caught in cycles.
pub(crate) fn topo_order(
    ids: &[String],
    deps: &HashMap<String, Vec<String>>,
) -> std::result::Result<Vec<String>, Vec<String>> {
    Ok(waves(ids, deps)?.into_iter().flatten().collect())
}

/// Groups `ids` into waves: each wave depends only on earlier ones, so a wave's members can
/// be created together. Within a wave, `ids`' order.
pub(crate) fn waves(
    ids: &[String],
    deps: &HashMap<String, Vec<String>>,
) -> std::result::Result<Vec<Vec<String>>, Vec<String>> {
    let known: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut remaining: IndexSet<&str> = ids.iter().map(String::as_str).collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    while !remaining.is_empty() {
        let ready: Vec<&str> = remaining
            .iter()
            .copied()
            .filter(|id| {
                deps.get(*id).is_none_or(|ds| {
                    ds.iter()
                        .all(|d| done.contains(d.as_str()) || !known.contains(d.as_str()))
                })
            })
            .collect();
        if ready.is_empty() {
            return Err(cycle_members(&remaining, deps));
        }
        for id in &ready {
            remaining.shift_remove(id);
            done.insert(id);
        }
        out.push(ready.into_iter().map(str::to_owned).collect());
    }
    Ok(out)
}

/// Of the ids left when no progress is possible, those on a cycle: repeatedly drop the ones
/// nothing left depends on.
fn cycle_members(remaining: &IndexSet<&str>, deps: &HashMap<String, Vec<String>>) -> Vec<String> {
    let mut left: IndexSet<&str> = remaining.clone();
    loop {
        let needed: HashSet<&str> = left
            .iter()
            .flat_map(|id| deps.get(*id).into_iter().flatten())
            .map(String::as_str)
            .filter(|d| left.contains(d))
            .collect();
        let before = left.len();
        left.retain(|id| needed.contains(id));
        if left.len() == before {
            break;
        }
    }
    left.into_iter().map(str::to_owned).collect()
}

/// One resource of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedResource {
    /// The logical id.
    pub logical_id: String,
    /// The resource type.
    pub type_: String,
    /// What it depends on, explicitly or through references, in template order.
    pub dependencies: Vec<String>,
    /// The properties with parameters, pseudo parameters, mappings and conditions resolved;
    /// references to resources are still intrinsic functions. This is what an update
    /// compares.
    pub properties: Value,
    /// The resource's `Metadata`, resolved as far as the properties are.
    pub metadata: Option<Value>,
    /// `Condition`, if any (it holds: resources whose condition is false are not planned).
    pub condition: Option<String>,
    /// `DeletionPolicy`, default `Delete`.
    pub deletion_policy: RetentionPolicy,
    /// `UpdateReplacePolicy`, default `Delete`.
    pub update_replace_policy: RetentionPolicy,
}

/// The resources a stack has under one set of parameters, in creation order.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The value of every condition.
    pub conditions: Conditions,
    /// The resources whose condition holds, in creation order.
    pub resources: IndexMap<String, PlannedResource>,
    /// The same resources in waves that can each be created at once, in order.
    pub waves: Vec<Vec<String>>,
    /// Resources left out because their condition is false, in template order.
    pub excluded: Vec<String>,
}

impl Plan {
    /// The resources in creation order.
    pub fn creation_order(&self) -> impl Iterator<Item = &PlannedResource> {
        self.resources.values()
    }

    /// The resources in deletion order (the reverse of creation).
    pub fn deletion_order(&self) -> impl Iterator<Item = &PlannedResource> {
        self.resources.values().rev()
    }

    /// One planned resource.
    pub fn get(&self, logical_id: &str) -> Option<&PlannedResource> {
        self.resources.get(logical_id)
    }

    /// The resources that depend directly on `logical_id`, in creation order.
    pub fn dependents(&self, logical_id: &str) -> Vec<&str> {
        self.resources
            .values()
            .filter(|r| r.dependencies.iter().any(|d| d == logical_id))
            .map(|r| r.logical_id.as_str())
            .collect()
    }

    /// The resource's properties with every intrinsic function resolved: call it just
    /// before creating (or updating) the resource, once all it depends on exists.
    /// `AWS::NoValue` has removed the keys that held it.
    pub fn resolve_properties(
        &self,
        template: &Template,
        ctx: &Context,
        logical_id: &str,
        resolver: &dyn Resolver,
    ) -> Result<Value> {
        let Some(resource) = template.resources.get(logical_id) else {
            return Err(TemplateError::unresolved(
                &[logical_id.to_owned()],
                "Resources",
            ));
        };
        let eval = Eval::new(template, ctx, &self.conditions, resolver, Mode::Full);
        Ok(eval
            .eval(&resource.properties)?
            .unwrap_or_else(|| Value::Object(Default::default())))
    }

    /// Any template value resolved against created resources (a resource's metadata, an
    /// output). `None` is `AWS::NoValue`.
    pub fn resolve(
        &self,
        template: &Template,
        ctx: &Context,
        value: &Value,
        resolver: &dyn Resolver,
    ) -> Result<Option<Value>> {
        Eval::new(template, ctx, &self.conditions, resolver, Mode::Full).eval(value)
    }
}

/// Plans a stack: evaluates the conditions, keeps the resources whose condition holds,
/// finds every dependency and orders them. Fails with CloudFormation's texts for
/// references to unknown (or conditioned-out) resources, unknown conditions and cycles.
/// The outputs are checked the same way.
pub fn plan(template: &Template, ctx: &Context) -> Result<Plan> {
    let conditions = evaluate_conditions(template, ctx)?;
    let mut active: Vec<String> = Vec::new();
    let mut excluded = Vec::new();
    for (id, r) in &template.resources {
        match &r.condition {
            None => active.push(id.clone()),
            Some(c) => match conditions.get(c) {
                Some(true) => active.push(id.clone()),
                Some(false) => excluded.push(id.clone()),
                None => {
                    return Err(TemplateError::format(format!(
                        "Unresolved dependencies [{c}]. Cannot reference undefined conditions in the Resources block of the template"
                    )))
                }
            },
        }
    }
    let active_set: HashSet<&str> = active.iter().map(String::as_str).collect();

    let mut unresolved: IndexSet<String> = IndexSet::new();
    let mut planned: IndexMap<String, PlannedResource> = IndexMap::new();
    let mut edges: HashMap<String, Vec<String>> = HashMap::new();
    for id in &active {
        let Some(r) = template.resources.get(id) else {
            continue;
        };
        let eval = Eval::new(template, ctx, &conditions, &NoResources, Mode::Partial);
        let properties = eval
            .eval(&r.properties)?
            .unwrap_or_else(|| Value::Object(Default::default()));
        let metadata = match &r.metadata {
            Some(m) => eval.eval(m)?,
            None => None,
        };
        for extra in [&r.creation_policy, &r.update_policy].into_iter().flatten() {
            eval.eval(extra)?;
        }
        let mut deps: IndexSet<String> = eval.deps.into_inner().into_iter().collect();
        unresolved.extend(eval.unresolved.into_inner());
        for d in &r.depends_on {
            if active_set.contains(d.as_str()) {
                deps.insert(d.clone());
            } else {
                unresolved.insert(d.clone());
            }
        }
        // Template order, so that plans read the same way whatever the property order.
        let dependencies: Vec<String> = active
            .iter()
            .filter(|a| deps.contains(a.as_str()))
            .cloned()
            .collect();
        edges.insert(id.clone(), dependencies.clone());
        planned.insert(
            id.clone(),
            PlannedResource {
                logical_id: id.clone(),
                type_: r.type_.clone(),
                dependencies,
                properties,
                metadata,
                condition: r.condition.clone(),
                deletion_policy: r.effective_deletion_policy(),
                update_replace_policy: r.effective_update_replace_policy(),
            },
        );
    }
    if !unresolved.is_empty() {
        let names: Vec<String> = unresolved.into_iter().collect();
        return Err(TemplateError::unresolved(&names, "Resources"));
    }
    check_outputs(template, ctx, &conditions)?;

    let waves = match waves(&active, &edges) {
        Ok(w) => w,
        Err(cycle) => {
            return Err(TemplateError::Validation(format!(
                "Circular dependency between resources: [{}]",
                cycle.join(", ")
            )))
        }
    };
    let mut resources = IndexMap::new();
    for id in waves.iter().flatten() {
        if let Some(p) = planned.swap_remove(id) {
            resources.insert(id.clone(), p);
        }
    }
    Ok(Plan {
        conditions,
        resources,
        waves,
        excluded,
    })
}

/// Checks the references of the outputs whose condition holds.
fn check_outputs(template: &Template, ctx: &Context, conditions: &Conditions) -> Result<()> {
    let mut unresolved: IndexSet<String> = IndexSet::new();
    for (name, out) in &template.outputs {
        if let Some(c) = &out.condition {
            match conditions.get(c) {
                Some(true) => {}
                Some(false) => continue,
                None => {
                    return Err(TemplateError::format(format!(
                        "Unresolved dependencies [{c}]. Cannot reference undefined conditions in the Outputs block of the template (output {name})"
                    )))
                }
            }
        }
        let mut eval = Eval::new(template, ctx, conditions, &NoResources, Mode::Partial);
        eval.block = "Outputs";
        eval.eval(&out.value)?;
        if let Some(e) = &out.export_name {
            eval.eval(e)?;
        }
        unresolved.extend(eval.unresolved.into_inner());
    }
    if !unresolved.is_empty() {
        let names: Vec<String> = unresolved.into_iter().collect();
        return Err(TemplateError::unresolved(&names, "Outputs"));
    }
    Ok(())
}

/// What `ValidateTemplate` checks beyond structure, without parameter values: every
/// reference, condition name and `DependsOn` resolves, and nothing is circular. Parameters
/// stay unknown, so both branches of every `Fn::If` must resolve.
pub fn validate(template: &Template) -> Result<()> {
    check_condition_graph(template)?;
    let ctx = Context::new(
        crate::context::Pseudo::new("us-east-1", "000000000000", "validation", "validation"),
        crate::params::Params::default(),
    );
    let no_conditions = Conditions::new();
    let ids: Vec<String> = template.resources.keys().cloned().collect();
    let mut edges: HashMap<String, Vec<String>> = HashMap::new();
    let mut unresolved: IndexSet<String> = IndexSet::new();
    for (id, r) in &template.resources {
        if let Some(c) = &r.condition {
            if !template.conditions.contains_key(c) {
                return Err(TemplateError::format(format!(
                    "Unresolved dependencies [{c}]. Cannot reference undefined conditions in the Resources block of the template"
                )));
            }
        }
        let eval = Eval::new(template, &ctx, &no_conditions, &NoResources, Mode::Static);
        eval.eval(&r.properties)?;
        for extra in [&r.metadata, &r.creation_policy, &r.update_policy]
            .into_iter()
            .flatten()
        {
            eval.eval(extra)?;
        }
        let mut deps: IndexSet<String> = eval.deps.into_inner().into_iter().collect();
        unresolved.extend(eval.unresolved.into_inner());
        for d in &r.depends_on {
            if template.resources.contains_key(d) {
                deps.insert(d.clone());
            } else {
                unresolved.insert(d.clone());
            }
        }
        edges.insert(id.clone(), deps.into_iter().collect());
    }
    if !unresolved.is_empty() {
        let names: Vec<String> = unresolved.into_iter().collect();
        return Err(TemplateError::unresolved(&names, "Resources"));
    }
    for (name, out) in &template.outputs {
        if let Some(c) = &out.condition {
            if !template.conditions.contains_key(c) {
                return Err(TemplateError::format(format!(
                    "Unresolved dependencies [{c}]. Cannot reference undefined conditions in the Outputs block of the template (output {name})"
                )));
            }
        }
        let mut eval = Eval::new(template, &ctx, &no_conditions, &NoResources, Mode::Static);
        eval.block = "Outputs";
        eval.eval(&out.value)?;
        if let Some(e) = &out.export_name {
            eval.eval(e)?;
        }
        unresolved.extend(eval.unresolved.into_inner());
    }
    if !unresolved.is_empty() {
        let names: Vec<String> = unresolved.into_iter().collect();
        return Err(TemplateError::unresolved(&names, "Outputs"));
    }
    if let Err(cycle) = waves(&ids, &edges) {
        return Err(TemplateError::Validation(format!(
            "Circular dependency between resources: [{}]",
            cycle.join(", ")
        )));
    }
    Ok(())
}

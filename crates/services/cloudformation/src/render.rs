//! The read operations: stacks, their events, resources, templates and exports, in
//! CloudFormation's XML shapes.

use std::ops::Bound;

use tributary_model::clock::iso_millis;
use tributary_model::AwsError;
use tributary_service::query::{Params as QueryParams, Xml};

use crate::model::{Event, Stack, EVENT_SPACE};
use crate::{validation, Inner};

/// Entries of one page of the list operations.
const PAGE: usize = 100;

fn not_found(name: &str) -> AwsError {
    validation(format!("Stack with id {name} does not exist"))
}

fn named(inner: &Inner, p: &QueryParams) -> Result<Stack, AwsError> {
    let name = p.get("StackName").unwrap_or_default();
    inner.find(name).ok_or_else(|| not_found(name))
}

/// `NextToken` pagination over an ordered list: the token is the index to resume at.
fn page<T>(items: Vec<T>, p: &QueryParams) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = match p.get("NextToken") {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| validation("Invalid NextToken"))?,
        None => 0,
    };
    let total = items.len();
    let slice: Vec<T> = items.into_iter().skip(start).take(PAGE).collect();
    let next = (start + PAGE < total).then(|| (start + PAGE).to_string());
    Ok((slice, next))
}

fn drift(x: &mut Xml, key: &str) {
    x.open("DriftInformation")
        .elem(key, "NOT_CHECKED")
        .close("DriftInformation");
}

fn stack_xml(x: &mut Xml, s: &Stack) {
    x.open("member");
    x.elem("StackId", &s.id).elem("StackName", &s.name);
    if let Some(c) = &s.change_set_id {
        x.elem("ChangeSetId", c);
    }
    if let Some(d) = &s.description {
        x.elem("Description", d);
    }
    x.open("Parameters");
    for p in &s.parameters {
        x.open("member")
            .elem("ParameterKey", &p.key)
            .elem("ParameterValue", if p.no_echo { "****" } else { &p.value });
        if let Some(r) = &p.resolved {
            x.elem("ResolvedValue", r);
        }
        x.close("member");
    }
    x.close("Parameters");
    x.elem("CreationTime", &iso_millis(s.created_ms));
    if let Some(d) = s.deleted_ms {
        x.elem("DeletionTime", &iso_millis(d));
    }
    if let Some(u) = s.updated_ms {
        x.elem("LastUpdatedTime", &iso_millis(u));
    }
    x.open("RollbackConfiguration")
        .close("RollbackConfiguration");
    x.elem("StackStatus", &s.status);
    if let Some(r) = &s.status_reason {
        x.elem("StackStatusReason", r);
    }
    x.elem(
        "DisableRollback",
        if s.disable_rollback { "true" } else { "false" },
    );
    x.open("NotificationARNs");
    for n in &s.notification_arns {
        x.elem("member", n);
    }
    x.close("NotificationARNs");
    if let Some(t) = s.timeout_minutes {
        x.elem("TimeoutInMinutes", &t.to_string());
    }
    if !s.capabilities.is_empty() {
        x.open("Capabilities");
        for c in &s.capabilities {
            x.elem("member", c);
        }
        x.close("Capabilities");
    }
    if !s.outputs.is_empty() {
        x.open("Outputs");
        for o in &s.outputs {
            x.open("member")
                .elem("OutputKey", &o.key)
                .elem("OutputValue", &o.value);
            if let Some(d) = &o.description {
                x.elem("Description", d);
            }
            if let Some(e) = &o.export_name {
                x.elem("ExportName", e);
            }
            x.close("member");
        }
        x.close("Outputs");
    }
    if let Some(r) = &s.role_arn {
        x.elem("RoleARN", r);
    }
    x.open("Tags");
    for (k, v) in &s.tags {
        x.open("member")
            .elem("Key", k)
            .elem("Value", v)
            .close("member");
    }
    x.close("Tags");
    x.elem(
        "EnableTerminationProtection",
        if s.termination_protection {
            "true"
        } else {
            "false"
        },
    );
    drift(x, "StackDriftStatus");
    x.close("member");
}

pub fn describe_stacks(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let stacks: Vec<Stack> = match p.get("StackName") {
        Some(name) => vec![inner.find(name).ok_or_else(|| not_found(name))?],
        None => {
            let mut all: Vec<Stack> = inner
                .state()
                .stacks
                .values()
                .filter(|s| !s.is_deleted())
                .cloned()
                .collect();
            all.sort_by_key(|s| std::cmp::Reverse(s.created_ms));
            all
        }
    };
    let (stacks, next) = page(stacks, p)?;
    let mut x = Xml::new();
    x.open("Stacks");
    for s in &stacks {
        stack_xml(&mut x, s);
    }
    x.close("Stacks");
    if let Some(n) = next {
        x.elem("NextToken", &n);
    }
    Ok(x.into_string())
}

pub fn list_stacks(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let filter = p.list("StackStatusFilter.member");
    let mut stacks: Vec<Stack> = inner
        .state()
        .stacks
        .values()
        .filter(|s| filter.is_empty() || filter.contains(&s.status))
        .cloned()
        .collect();
    stacks.sort_by_key(|s| std::cmp::Reverse(s.created_ms));
    let (stacks, next) = page(stacks, p)?;
    let mut x = Xml::new();
    x.open("StackSummaries");
    for s in &stacks {
        x.open("member");
        x.elem("StackId", &s.id).elem("StackName", &s.name);
        if let Some(d) = &s.description {
            x.elem("TemplateDescription", d);
        }
        x.elem("CreationTime", &iso_millis(s.created_ms));
        if let Some(u) = s.updated_ms {
            x.elem("LastUpdatedTime", &iso_millis(u));
        }
        if let Some(d) = s.deleted_ms {
            x.elem("DeletionTime", &iso_millis(d));
        }
        x.elem("StackStatus", &s.status);
        if let Some(r) = &s.status_reason {
            x.elem("StackStatusReason", r);
        }
        drift(&mut x, "StackDriftStatus");
        x.close("member");
    }
    x.close("StackSummaries");
    if let Some(n) = next {
        x.elem("NextToken", &n);
    }
    Ok(x.into_string())
}

/// A stack's events, newest first.
pub fn events(inner: &Inner, stack: &Stack) -> Result<Vec<Event>, AwsError> {
    let mut lo = stack.id.as_bytes().to_vec();
    lo.push(0);
    let mut hi = stack.id.as_bytes().to_vec();
    hi.push(1);
    let entries = inner
        .store
        .kv_range(
            EVENT_SPACE,
            Bound::Included(lo.as_slice()),
            Bound::Excluded(hi.as_slice()),
            true,
            usize::MAX,
        )
        .map_err(AwsError::from)?;
    Ok(entries
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
        .collect())
}

pub fn describe_stack_events(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let stack = named(inner, p)?;
    let (events, next) = page(events(inner, &stack)?, p)?;
    let mut x = Xml::new();
    x.open("StackEvents");
    for e in &events {
        x.open("member");
        x.elem("StackId", &e.stack_id)
            .elem("EventId", &e.event_id)
            .elem("StackName", &e.stack_name)
            .elem("LogicalResourceId", &e.logical_id);
        if let Some(ph) = &e.physical_id {
            x.elem("PhysicalResourceId", ph);
        } else {
            x.elem("PhysicalResourceId", "");
        }
        x.elem("ResourceType", &e.type_)
            .elem("Timestamp", &iso_millis(e.timestamp_ms))
            .elem("ResourceStatus", &e.status);
        if let Some(r) = &e.reason {
            x.elem("ResourceStatusReason", r);
        }
        if let Some(props) = &e.properties {
            x.elem("ResourceProperties", props);
        }
        x.close("member");
    }
    x.close("StackEvents");
    if let Some(n) = next {
        x.elem("NextToken", &n);
    }
    Ok(x.into_string())
}

/// The stack a resource request names: by stack name, or by a resource's physical id (the
/// stack it belongs to, whose resources are all listed, as AWS lists them).
fn resource_stack(inner: &Inner, p: &QueryParams) -> Result<Stack, AwsError> {
    if let Some(physical) = p.get("PhysicalResourceId") {
        let state = inner.state();
        return state
            .stacks
            .values()
            .filter(|s| !s.is_deleted())
            .find(|s| {
                s.resources
                    .values()
                    .any(|r| r.physical_id.as_deref() == Some(physical))
            })
            .cloned()
            .ok_or_else(|| validation(format!("Stack for {physical} does not exist")));
    }
    named(inner, p)
}

fn resource_common(x: &mut Xml, s: &Stack, r: &crate::model::ResourceRec) {
    x.elem("StackName", &s.name)
        .elem("StackId", &s.id)
        .elem("LogicalResourceId", &r.logical_id);
    if let Some(ph) = &r.physical_id {
        x.elem("PhysicalResourceId", ph);
    }
    x.elem("ResourceType", &r.type_);
}

pub fn describe_stack_resources(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let stack = resource_stack(inner, p)?;
    let logical = p.get("LogicalResourceId");
    let mut x = Xml::new();
    x.open("StackResources");
    for r in stack.resources.values() {
        if logical.is_some_and(|l| l != r.logical_id) {
            continue;
        }
        x.open("member");
        resource_common(&mut x, &stack, r);
        x.elem("Timestamp", &iso_millis(r.updated_ms))
            .elem("ResourceStatus", &r.status);
        if let Some(reason) = &r.status_reason {
            x.elem("ResourceStatusReason", reason);
        }
        if let Some(d) = &r.description {
            x.elem("Description", d);
        }
        drift(&mut x, "StackResourceDriftStatus");
        x.close("member");
    }
    x.close("StackResources");
    Ok(x.into_string())
}

pub fn describe_stack_resource(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let stack = named(inner, p)?;
    let logical = p.get("LogicalResourceId").unwrap_or_default();
    let r = stack.resources.get(logical).ok_or_else(|| {
        validation(format!(
            "Resource {logical} does not exist for stack {}",
            stack.name
        ))
    })?;
    let mut x = Xml::new();
    x.open("StackResourceDetail");
    resource_common(&mut x, &stack, r);
    x.elem("LastUpdatedTimestamp", &iso_millis(r.updated_ms))
        .elem("ResourceStatus", &r.status);
    if let Some(reason) = &r.status_reason {
        x.elem("ResourceStatusReason", reason);
    }
    if let Some(d) = &r.description {
        x.elem("Description", d);
    }
    if let Some(m) = &r.metadata {
        x.elem("Metadata", &m.to_string());
    }
    drift(&mut x, "StackResourceDriftStatus");
    x.close("StackResourceDetail");
    Ok(x.into_string())
}

pub fn list_stack_resources(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let stack = named(inner, p)?;
    let resources: Vec<_> = stack.resources.values().cloned().collect();
    let (resources, next) = page(resources, p)?;
    let mut x = Xml::new();
    x.open("StackResourceSummaries");
    for r in &resources {
        x.open("member");
        x.elem("LogicalResourceId", &r.logical_id);
        if let Some(ph) = &r.physical_id {
            x.elem("PhysicalResourceId", ph);
        }
        x.elem("ResourceType", &r.type_)
            .elem("LastUpdatedTimestamp", &iso_millis(r.updated_ms))
            .elem("ResourceStatus", &r.status);
        if let Some(reason) = &r.status_reason {
            x.elem("ResourceStatusReason", reason);
        }
        drift(&mut x, "StackResourceDriftStatus");
        x.close("member");
    }
    x.close("StackResourceSummaries");
    if let Some(n) = next {
        x.elem("NextToken", &n);
    }
    Ok(x.into_string())
}

pub fn get_template(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let body = if let Some(cs) = p.get("ChangeSetName") {
        let change_set = crate::changesets::find(inner, cs, p.get("StackName"))?;
        change_set.template_body
    } else {
        let stack = named(inner, p)?;
        match p.get("TemplateStage") {
            Some("Processed") => stack
                .processed
                .as_ref()
                .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
                .unwrap_or(stack.template_body),
            Some("Original") | None => stack.template_body,
            Some(other) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'templateStage' failed to satisfy constraint: Member must satisfy enum value set: [Original, Processed]"
                )))
            }
        }
    };
    let mut x = Xml::new();
    x.elem("TemplateBody", &body);
    x.open("StagesAvailable")
        .elem("member", "Original")
        .elem("member", "Processed")
        .close("StagesAvailable");
    Ok(x.into_string())
}

pub fn list_exports(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let mut exports: Vec<(String, String, String)> = inner
        .state()
        .stacks
        .values()
        .filter(|s| !s.is_deleted())
        .flat_map(|s| {
            s.outputs
                .iter()
                .filter_map(|o| Some((o.export_name.clone()?, o.value.clone(), s.id.clone())))
        })
        .collect();
    exports.sort();
    let (exports, next) = page(exports, p)?;
    let mut x = Xml::new();
    x.open("Exports");
    for (name, value, stack) in &exports {
        x.open("member")
            .elem("ExportingStackId", stack)
            .elem("Name", name)
            .elem("Value", value)
            .close("member");
    }
    x.close("Exports");
    if let Some(n) = next {
        x.elem("NextToken", &n);
    }
    Ok(x.into_string())
}

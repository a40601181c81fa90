//! The read operations: stacks, their events, resources, templates and exports, as the
//! model's output structures.

use std::ops::Bound;

use tributary_model::AwsError;
use tributary_shapes::types::Timestamp;

use crate::model::{Event, ParameterRec, ResourceRec, Stack, EVENT_SPACE};
use crate::{types, validation, Inner};

/// Entries of one page of the list operations.
const PAGE: usize = 100;

fn not_found(name: &str) -> AwsError {
    validation(format!("Stack with id {name} does not exist"))
}

fn named(inner: &Inner, name: &str) -> Result<Stack, AwsError> {
    inner.find(name).ok_or_else(|| not_found(name))
}

/// `NextToken` pagination over an ordered list: the token is the index to resume at.
fn page<T>(items: Vec<T>, token: Option<&str>) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = match token {
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

/// Drift detection is not served: every stack and resource is `NOT_CHECKED`.
const NOT_CHECKED: &str = "NOT_CHECKED";

fn resource_drift() -> Option<types::StackResourceDriftInformation> {
    Some(types::StackResourceDriftInformation {
        stack_resource_drift_status: NOT_CHECKED.into(),
        last_check_timestamp: None,
    })
}

/// A stack's or change set's parameters as they are described: a `NoEcho` value masked.
pub fn parameters(params: &[ParameterRec]) -> Vec<types::Parameter> {
    params
        .iter()
        .map(|p| types::Parameter {
            parameter_key: Some(p.key.clone()),
            parameter_value: Some(if p.no_echo {
                "****".into()
            } else {
                p.value.clone()
            }),
            use_previous_value: None,
            resolved_value: p.resolved.clone(),
        })
        .collect()
}

pub fn tags(tags: &[(String, String)]) -> Vec<types::Tag> {
    tags.iter()
        .map(|(k, v)| types::Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

fn stack(s: &Stack) -> types::Stack {
    types::Stack {
        stack_id: Some(s.id.clone()),
        stack_name: s.name.clone(),
        change_set_id: s.change_set_id.clone(),
        description: s.description.clone(),
        parameters: Some(parameters(&s.parameters)),
        creation_time: Timestamp::from_millis(s.created_ms),
        deletion_time: s.deleted_ms.map(Timestamp::from_millis),
        last_updated_time: s.updated_ms.map(Timestamp::from_millis),
        rollback_configuration: Some(types::RollbackConfiguration::default()),
        stack_status: s.status.clone(),
        stack_status_reason: s.status_reason.clone(),
        disable_rollback: Some(s.disable_rollback),
        notification_ar_ns: Some(s.notification_arns.clone()),
        timeout_in_minutes: s.timeout_minutes.and_then(|t| i32::try_from(t).ok()),
        capabilities: (!s.capabilities.is_empty()).then(|| s.capabilities.clone()),
        outputs: (!s.outputs.is_empty()).then(|| {
            s.outputs
                .iter()
                .map(|o| types::Output {
                    output_key: Some(o.key.clone()),
                    output_value: Some(o.value.clone()),
                    description: o.description.clone(),
                    export_name: o.export_name.clone(),
                })
                .collect()
        }),
        role_arn: s.role_arn.clone(),
        tags: Some(tags(&s.tags)),
        enable_termination_protection: Some(s.termination_protection),
        drift_information: Some(types::StackDriftInformation {
            stack_drift_status: NOT_CHECKED.into(),
            last_check_timestamp: None,
        }),
        // Nested stacks, deployment configs, deletion modes and the operation history are
        // not served.
        ..Default::default()
    }
}

pub fn describe_stacks(
    inner: &Inner,
    input: types::DescribeStacksInput,
) -> Result<types::DescribeStacksOutput, AwsError> {
    let stacks: Vec<Stack> = match input.stack_name.as_deref() {
        Some(name) => vec![named(inner, name)?],
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
    let (stacks, next_token) = page(stacks, input.next_token.as_deref())?;
    Ok(types::DescribeStacksOutput {
        stacks: Some(stacks.iter().map(stack).collect()),
        next_token,
    })
}

pub fn list_stacks(
    inner: &Inner,
    input: types::ListStacksInput,
) -> Result<types::ListStacksOutput, AwsError> {
    let filter = input.stack_status_filter.unwrap_or_default();
    let mut stacks: Vec<Stack> = inner
        .state()
        .stacks
        .values()
        .filter(|s| filter.is_empty() || filter.contains(&s.status))
        .cloned()
        .collect();
    stacks.sort_by_key(|s| std::cmp::Reverse(s.created_ms));
    let (stacks, next_token) = page(stacks, input.next_token.as_deref())?;
    let summaries = stacks
        .into_iter()
        .map(|s| types::StackSummary {
            stack_id: Some(s.id),
            stack_name: s.name,
            template_description: s.description,
            creation_time: Timestamp::from_millis(s.created_ms),
            last_updated_time: s.updated_ms.map(Timestamp::from_millis),
            deletion_time: s.deleted_ms.map(Timestamp::from_millis),
            stack_status: s.status,
            stack_status_reason: s.status_reason,
            drift_information: Some(types::StackDriftInformationSummary {
                stack_drift_status: NOT_CHECKED.into(),
                last_check_timestamp: None,
            }),
            // Nested stacks and the operation history are not served.
            ..Default::default()
        })
        .collect();
    Ok(types::ListStacksOutput {
        stack_summaries: Some(summaries),
        next_token,
    })
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

pub fn describe_stack_events(
    inner: &Inner,
    input: types::DescribeStackEventsInput,
) -> Result<types::DescribeStackEventsOutput, AwsError> {
    let stack = named(inner, &input.stack_name)?;
    let (events, next_token) = page(events(inner, &stack)?, input.next_token.as_deref())?;
    let events = events
        .into_iter()
        .map(|e| types::StackEvent {
            stack_id: e.stack_id,
            event_id: e.event_id,
            stack_name: e.stack_name,
            logical_resource_id: Some(e.logical_id),
            physical_resource_id: Some(e.physical_id.unwrap_or_default()),
            resource_type: Some(e.type_),
            timestamp: Timestamp::from_millis(e.timestamp_ms),
            resource_status: Some(e.status),
            resource_status_reason: e.reason,
            resource_properties: e.properties,
            // Operation ids, client request tokens and hooks are not recorded.
            ..Default::default()
        })
        .collect();
    Ok(types::DescribeStackEventsOutput {
        stack_events: Some(events),
        next_token,
    })
}

/// The stack a resource request names: by stack name, or by a resource's physical id (the
/// stack it belongs to, whose resources are all listed, as AWS lists them).
fn resource_stack(
    inner: &Inner,
    stack_name: Option<&str>,
    physical_id: Option<&str>,
) -> Result<Stack, AwsError> {
    if let Some(physical) = physical_id {
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
    named(inner, stack_name.unwrap_or_default())
}

pub fn describe_stack_resources(
    inner: &Inner,
    input: types::DescribeStackResourcesInput,
) -> Result<types::DescribeStackResourcesOutput, AwsError> {
    let stack = resource_stack(
        inner,
        input.stack_name.as_deref(),
        input.physical_resource_id.as_deref(),
    )?;
    let logical = input.logical_resource_id.as_deref();
    let resources = stack
        .resources
        .values()
        .filter(|r| logical.is_none_or(|l| l == r.logical_id))
        .map(|r| types::StackResource {
            stack_name: Some(stack.name.clone()),
            stack_id: Some(stack.id.clone()),
            logical_resource_id: r.logical_id.clone(),
            physical_resource_id: r.physical_id.clone(),
            resource_type: r.type_.clone(),
            timestamp: Timestamp::from_millis(r.updated_ms),
            resource_status: r.status.clone(),
            resource_status_reason: r.status_reason.clone(),
            description: r.description.clone(),
            drift_information: resource_drift(),
            module_info: None,
        })
        .collect();
    Ok(types::DescribeStackResourcesOutput {
        stack_resources: Some(resources),
    })
}

pub fn describe_stack_resource(
    inner: &Inner,
    input: types::DescribeStackResourceInput,
) -> Result<types::DescribeStackResourceOutput, AwsError> {
    let stack = named(inner, &input.stack_name)?;
    let logical = input.logical_resource_id.as_str();
    let r: &ResourceRec = stack.resources.get(logical).ok_or_else(|| {
        validation(format!(
            "Resource {logical} does not exist for stack {}",
            stack.name
        ))
    })?;
    Ok(types::DescribeStackResourceOutput {
        stack_resource_detail: Some(types::StackResourceDetail {
            stack_name: Some(stack.name.clone()),
            stack_id: Some(stack.id.clone()),
            logical_resource_id: r.logical_id.clone(),
            physical_resource_id: r.physical_id.clone(),
            resource_type: r.type_.clone(),
            last_updated_timestamp: Timestamp::from_millis(r.updated_ms),
            resource_status: r.status.clone(),
            resource_status_reason: r.status_reason.clone(),
            description: r.description.clone(),
            metadata: r.metadata.as_ref().map(|m| m.to_string()),
            drift_information: resource_drift(),
            module_info: None,
        }),
    })
}

pub fn list_stack_resources(
    inner: &Inner,
    input: types::ListStackResourcesInput,
) -> Result<types::ListStackResourcesOutput, AwsError> {
    let stack = named(inner, &input.stack_name)?;
    let resources: Vec<_> = stack.resources.values().cloned().collect();
    let (resources, next_token) = page(resources, input.next_token.as_deref())?;
    let summaries = resources
        .into_iter()
        .map(|r| types::StackResourceSummary {
            logical_resource_id: r.logical_id,
            physical_resource_id: r.physical_id,
            resource_type: r.type_,
            last_updated_timestamp: Timestamp::from_millis(r.updated_ms),
            resource_status: r.status,
            resource_status_reason: r.status_reason,
            drift_information: Some(types::StackResourceDriftInformationSummary {
                stack_resource_drift_status: NOT_CHECKED.into(),
                last_check_timestamp: None,
            }),
            module_info: None,
        })
        .collect();
    Ok(types::ListStackResourcesOutput {
        stack_resource_summaries: Some(summaries),
        next_token,
    })
}

pub fn get_template(
    inner: &Inner,
    input: types::GetTemplateInput,
) -> Result<types::GetTemplateOutput, AwsError> {
    let stack_name = input.stack_name.as_deref();
    let body = if let Some(cs) = &input.change_set_name {
        let change_set = crate::changesets::find(inner, cs, stack_name)?;
        change_set.template_body
    } else {
        let stack = named(inner, stack_name.unwrap_or_default())?;
        match input.template_stage.as_deref() {
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
    Ok(types::GetTemplateOutput {
        template_body: Some(body),
        stages_available: Some(vec!["Original".into(), "Processed".into()]),
    })
}

pub fn list_exports(
    inner: &Inner,
    input: types::ListExportsInput,
) -> Result<types::ListExportsOutput, AwsError> {
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
    let (exports, next_token) = page(exports, input.next_token.as_deref())?;
    Ok(types::ListExportsOutput {
        exports: Some(
            exports
                .into_iter()
                .map(|(name, value, stack)| types::Export {
                    exporting_stack_id: Some(stack),
                    name: Some(name),
                    value: Some(value),
                })
                .collect(),
        ),
        next_token,
    })
}

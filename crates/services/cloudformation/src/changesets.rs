//! Change sets: a stack operation proposed, described, then executed (what `aws
//! cloudformation deploy` and `sam deploy` do). A `CREATE` change set makes the stack in
//! `REVIEW_IN_PROGRESS`; executing it runs the create, executing an `UPDATE` one runs the
//! update. A change set that changes nothing fails with the reason clients look for.

use tributary_cfn::Replacement;
use tributary_model::AwsError;
use tributary_shapes::types::Timestamp;

use crate::calls::Calls;
use crate::engine::{changed_keys, OnFailure, Prepared};
use crate::handlers;
use crate::model::{Change, ChangeDetail, ChangeSet, Stack};
use crate::render::{parameters, tags};
use crate::{check_stack_name, given_parameters, given_tags, types, validation};
use crate::{CloudFormation, Inner};

pub const NO_CHANGES: &str =
    "The submitted information didn't contain changes. Submit different information to create a change set.";

fn not_found(name: &str) -> AwsError {
    AwsError::new(
        "ChangeSetNotFound",
        404,
        format!("ChangeSet [{name}] does not exist"),
    )
}

/// A change set by ARN, or by name within a stack.
pub fn find(inner: &Inner, name: &str, stack: Option<&str>) -> Result<ChangeSet, AwsError> {
    let state = inner.state();
    if name.starts_with("arn:") {
        return state
            .change_sets
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name));
    }
    let Some(stack) = stack else {
        return Err(validation(
            "StackName must be specified if ChangeSetName is not specified as an ARN.",
        ));
    };
    let stack_id = if stack.starts_with("arn:") {
        Some(stack.to_owned())
    } else {
        state
            .stacks
            .values()
            .find(|s| s.name == stack && !s.is_deleted())
            .map(|s| s.id.clone())
    };
    let Some(stack_id) = stack_id else {
        return Err(not_found(name));
    };
    state
        .change_sets
        .values()
        .find(|c| c.name == name && c.stack_id == stack_id)
        .cloned()
        .ok_or_else(|| not_found(name))
}

/// What executing `prep` on `old` (or on nothing) would change.
pub fn changes(old: Option<&Stack>, prep: &Prepared) -> Vec<Change> {
    let mut out = Vec::new();
    let existing = old.map(|s| &s.resources);
    for planned in prep.plan.creation_order() {
        let id = &planned.logical_id;
        let Some(rec) = existing.and_then(|r| r.get(id)) else {
            out.push(Change {
                action: "Add".into(),
                logical_id: id.clone(),
                physical_id: None,
                type_: planned.type_.clone(),
                replacement: None,
                scope: Vec::new(),
                details: Vec::new(),
            });
            continue;
        };
        let keys = changed_keys(&rec.planned, &planned.properties);
        let mut scope = Vec::new();
        if !keys.is_empty() {
            scope.push("Properties".to_owned());
        }
        if rec.metadata != planned.metadata {
            scope.push("Metadata".to_owned());
        }
        if rec.deletion_policy != planned.deletion_policy.as_str() {
            scope.push("DeletionPolicy".to_owned());
        }
        if rec.update_replace_policy != planned.update_replace_policy.as_str() {
            scope.push("UpdateReplacePolicy".to_owned());
        }
        if scope.is_empty() {
            continue;
        }
        let rules = |k: &str| {
            handlers::handler(&planned.type_)
                .map(|h| h.replacement(k))
                .unwrap_or(Replacement::Never)
        };
        let replace = keys.iter().any(|k| rules(k) == Replacement::Always);
        let details = keys
            .iter()
            .map(|k| ChangeDetail {
                attribute: "Properties".into(),
                name: Some(k.clone()),
                requires_recreation: match rules(k) {
                    Replacement::Always => "Always",
                    Replacement::Conditional => "Conditionally",
                    Replacement::Never => "Never",
                }
                .into(),
                evaluation: "Static".into(),
                change_source: "DirectModification".into(),
            })
            .collect();
        out.push(Change {
            action: "Modify".into(),
            logical_id: id.clone(),
            physical_id: rec.physical_id.clone(),
            type_: planned.type_.clone(),
            replacement: Some(if replace { "True" } else { "False" }.into()),
            scope,
            details,
        });
    }
    if let Some(existing) = existing {
        for (id, rec) in existing.iter().rev() {
            if prep.plan.get(id).is_none() && !rec.status.starts_with("DELETE_") {
                out.push(Change {
                    action: "Remove".into(),
                    logical_id: id.clone(),
                    physical_id: rec.physical_id.clone(),
                    type_: rec.type_.clone(),
                    replacement: None,
                    scope: Vec::new(),
                    details: Vec::new(),
                });
            }
        }
    }
    out
}

/// Whether running `prep` on the stack would change anything: its resources or its
/// outputs.
pub fn has_changes(old: &Stack, prep: &Prepared) -> bool {
    if !changes(Some(old), prep).is_empty() {
        return true;
    }
    let outputs = |v: Option<&serde_json::Value>| v.and_then(|p| p.get("Outputs")).cloned();
    outputs(old.processed.as_ref()) != outputs(Some(&prep.expanded.to_json()))
}

fn check_name(name: &str) -> Result<(), AwsError> {
    crate::check_resource_name(name, "changeSetName", "[a-zA-Z][-a-zA-Z0-9]*")
}

pub async fn create(
    inner: &std::sync::Arc<Inner>,
    input: types::CreateChangeSetInput,
    calls: Calls,
) -> Result<types::CreateChangeSetOutput, AwsError> {
    // `StackName` and `ChangeSetName` are required: the model's validator refused their
    // absence (`Value null at 'stackName'`) before this runs.
    let stack_name = input.stack_name.as_str();
    let name = input.change_set_name.as_str();
    check_name(name)?;
    let kind = input.change_set_type.as_deref().unwrap_or("UPDATE");
    let template_body = input.template_body.as_deref();
    let template_url = input.template_url.as_deref();
    let existing = inner.find(stack_name);
    let stack = match kind {
        "CREATE" => {
            check_stack_name(stack_name)?;
            match existing {
                Some(s) if s.status == "REVIEW_IN_PROGRESS" => s,
                Some(_) => {
                    return Err(AwsError::new(
                        "AlreadyExistsException",
                        400,
                        format!("Stack [{stack_name}] already exists and cannot be created again with the changeSet [{name}]."),
                    ))
                }
                None => {
                    let body = inner
                        .template_body(template_body, template_url, &calls)
                        .await?;
                    let written = tributary_cfn::Template::parse(&body)
                        .map_err(|e| validation(e.to_string()))?;
                    let mut s = inner.new_stack(stack_name, String::new(), &written);
                    s.status = "REVIEW_IN_PROGRESS".into();
                    s
                }
            }
        }
        "UPDATE" => match existing {
            Some(s) if s.status != "REVIEW_IN_PROGRESS" => {
                CloudFormation::updatable(&s)?;
                s
            }
            _ => return Err(validation(format!("Stack [{stack_name}] does not exist"))),
        },
        "IMPORT" => {
            return Err(AwsError::new(
                "NotImplemented",
                501,
                "Change sets of type IMPORT are not served by this Tributary server",
            ))
        }
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'changeSetType' failed to satisfy constraint: Member must satisfy enum value set: [IMPORT, UPDATE, CREATE]"
            )))
        }
    };
    if inner
        .state()
        .change_sets
        .values()
        .any(|c| c.stack_id == stack.id && c.name == name)
    {
        return Err(AwsError::new(
            "AlreadyExistsException",
            400,
            format!("ChangeSet [{name}] already exists"),
        ));
    }
    let body = if input.use_previous_template == Some(true) {
        if kind == "CREATE" {
            return Err(validation(
                "UsePreviousTemplate can not be used with a change set of type CREATE",
            ));
        }
        stack.template_body.clone()
    } else {
        inner
            .template_body(template_body, template_url, &calls)
            .await?
    };
    let capabilities = input.capabilities.unwrap_or_default();
    let previous = (kind == "UPDATE").then_some(&stack);
    let id = format!(
        "arn:aws:cloudformation:{}:{}:changeSet/{name}/{}",
        inner.region,
        inner.account_id,
        uuid::Uuid::new_v4()
    );
    let tags = match input.tags {
        Some(given) => given_tags(given),
        None if kind == "CREATE" => Vec::new(),
        None => stack.tags.clone(),
    };
    let mut cs = ChangeSet {
        id: id.clone(),
        name: name.to_owned(),
        stack_id: stack.id.clone(),
        stack_name: stack.name.clone(),
        change_set_type: kind.to_owned(),
        status: "CREATE_COMPLETE".into(),
        status_reason: None,
        execution_status: "AVAILABLE".into(),
        created_ms: inner.now(),
        description: input.description,
        template_body: body.clone(),
        parameters: Vec::new(),
        capabilities: capabilities.clone(),
        tags: tags.clone(),
        notification_arns: input.notification_ar_ns.unwrap_or_default(),
        role_arn: input.role_arn,
        changes: Vec::new(),
        disable_rollback: input.on_stack_failure.map(|f| f == "DO_NOTHING"),
    };
    let given = given_parameters(input.parameters);
    match inner.prepare(
        &body,
        (&stack.name, &stack.id),
        &given,
        previous,
        &capabilities,
        false,
    ) {
        Ok((prep, params, _)) => {
            cs.changes = changes(previous, &prep);
            cs.parameters = params;
            let unchanged = match previous {
                Some(old) => {
                    !has_changes(old, &prep) && cs.parameters == old.parameters && tags == old.tags
                }
                None => false,
            };
            if unchanged {
                cs.status = "FAILED".into();
                cs.execution_status = "UNAVAILABLE".into();
                cs.status_reason = Some(NO_CHANGES.into());
            }
        }
        // Errors of the template's shape, its parameters and capabilities answer the call;
        // a transform's failure is the change set's.
        Err(e) if e.message.starts_with("Transform ") => {
            cs.status = "FAILED".into();
            cs.execution_status = "UNAVAILABLE".into();
            cs.status_reason = Some(e.message);
        }
        Err(e) => return Err(e),
    }
    if stack.status == "REVIEW_IN_PROGRESS" && inner.stack(&stack.id).is_none() {
        let mut s = stack.clone();
        inner
            .stack_status(&mut s, "REVIEW_IN_PROGRESS", Some("User Initiated".into()))
            .await;
    }
    inner.save_change_set(&cs).await?;
    Ok(types::CreateChangeSetOutput {
        id: Some(id),
        stack_id: Some(stack.id),
    })
}

pub fn describe(
    inner: &Inner,
    input: types::DescribeChangeSetInput,
) -> Result<types::DescribeChangeSetOutput, AwsError> {
    let cs = find(inner, &input.change_set_name, input.stack_name.as_deref())?;
    let changes = cs
        .changes
        .iter()
        .map(|c| types::Change {
            r#type: Some("Resource".into()),
            hook_invocation_count: None,
            resource_change: Some(types::ResourceChange {
                action: Some(c.action.clone()),
                logical_resource_id: Some(c.logical_id.clone()),
                physical_resource_id: c.physical_id.clone(),
                resource_type: Some(c.type_.clone()),
                replacement: c.replacement.clone(),
                scope: Some(c.scope.clone()),
                details: Some(c.details.iter().map(detail).collect()),
                // Policy actions, drift, modules and property values
                // (`IncludePropertyValues`) are not served.
                ..Default::default()
            }),
        })
        .collect();
    Ok(types::DescribeChangeSetOutput {
        change_set_name: Some(cs.name),
        change_set_id: Some(cs.id),
        stack_id: Some(cs.stack_id),
        stack_name: Some(cs.stack_name),
        description: cs.description,
        parameters: Some(parameters(&cs.parameters)),
        creation_time: Some(Timestamp::from_millis(cs.created_ms)),
        execution_status: Some(cs.execution_status),
        status: Some(cs.status),
        status_reason: cs.status_reason,
        notification_ar_ns: Some(cs.notification_arns),
        rollback_configuration: Some(types::RollbackConfiguration::default()),
        capabilities: Some(cs.capabilities),
        tags: Some(tags(&cs.tags)),
        changes: Some(changes),
        include_nested_stacks: Some(false),
        on_stack_failure: cs
            .disable_rollback
            .map(|d| if d { "DO_NOTHING" } else { "ROLLBACK" }.into()),
        // One page of changes always; drift, nested change sets, imports and deployment
        // modes are not served.
        ..Default::default()
    })
}

fn detail(d: &ChangeDetail) -> types::ResourceChangeDetail {
    types::ResourceChangeDetail {
        target: Some(types::ResourceTargetDefinition {
            attribute: Some(d.attribute.clone()),
            name: d.name.clone(),
            requires_recreation: Some(d.requires_recreation.clone()),
            // Paths and before/after values answer `IncludePropertyValues`, not served.
            ..Default::default()
        }),
        evaluation: Some(d.evaluation.clone()),
        change_source: Some(d.change_source.clone()),
        causing_entity: None,
    }
}

pub async fn execute(
    inner: &std::sync::Arc<Inner>,
    input: types::ExecuteChangeSetInput,
    calls: Calls,
) -> Result<types::ExecuteChangeSetOutput, AwsError> {
    let mut cs = find(inner, &input.change_set_name, input.stack_name.as_deref())?;
    if cs.execution_status != "AVAILABLE" {
        return Err(AwsError::new(
            "InvalidChangeSetStatus",
            400,
            format!(
                "ChangeSet [{}] cannot be executed in its current execution status of [{}]",
                cs.id, cs.execution_status
            ),
        ));
    }
    let old = inner
        .stack(&cs.stack_id)
        .filter(|s| !s.is_deleted())
        .ok_or_else(|| validation(format!("Stack [{}] does not exist", cs.stack_name)))?;
    let creating = cs.change_set_type == "CREATE";
    if !creating {
        CloudFormation::updatable(&old)?;
    } else if old.status != "REVIEW_IN_PROGRESS" {
        return Err(validation(format!(
            "Stack:{} is in {} state and can not be updated.",
            old.id, old.status
        )));
    }
    let given: Vec<(String, Option<String>)> = cs
        .parameters
        .iter()
        .map(|p| (p.key.clone(), Some(p.value.clone())))
        .collect();
    let previous = (!creating).then_some(&old);
    let (prep, params, written) = inner.prepare(
        &cs.template_body,
        (&old.name, &old.id),
        &given,
        previous,
        &cs.capabilities,
        false,
    )?;
    let mut stack = old.clone();
    stack.template_body = cs.template_body.clone();
    stack.description = written.description.clone();
    stack.parameters = params;
    stack.capabilities = cs.capabilities.clone();
    stack.tags = cs.tags.clone();
    stack.notification_arns = cs.notification_arns.clone();
    stack.processed = Some(prep.expanded.to_json());
    stack.change_set_id = Some(cs.id.clone());
    if let Some(r) = &cs.role_arn {
        stack.role_arn = Some(r.clone());
    }
    let disable_rollback = input
        .disable_rollback
        .unwrap_or(cs.disable_rollback.unwrap_or(false));
    let calls = inner.as_role(calls, stack.role_arn.as_deref()).await?;
    cs.execution_status = "EXECUTE_IN_PROGRESS".into();
    inner.save_change_set(&cs).await?;
    // Executing one change set removes the stack's others.
    let others: Vec<String> = inner
        .state()
        .change_sets
        .values()
        .filter(|c| c.stack_id == cs.stack_id && c.id != cs.id)
        .map(|c| c.id.clone())
        .collect();
    for id in others {
        inner.delete_change_set(&id).await?;
    }
    let runner = inner.clone();
    let stack_id = stack.id.clone();
    if creating {
        stack.disable_rollback = disable_rollback;
        stack.created_ms = inner.now();
        inner
            .stack_status(
                &mut stack,
                "CREATE_IN_PROGRESS",
                Some("User Initiated".into()),
            )
            .await;
        let on_failure = if disable_rollback {
            OnFailure::DoNothing
        } else {
            OnFailure::Rollback
        };
        crate::run(async move {
            runner
                .clone()
                .run_create(stack, prep, calls, on_failure)
                .await;
            finish(&runner, &stack_id, cs).await;
        })
        .await;
    } else {
        stack.updated_ms = Some(inner.now());
        inner
            .stack_status(
                &mut stack,
                "UPDATE_IN_PROGRESS",
                Some("User Initiated".into()),
            )
            .await;
        crate::run(async move {
            runner.clone().run_update(stack, old, prep, calls).await;
            finish(&runner, &stack_id, cs).await;
        })
        .await;
    }
    Ok(types::ExecuteChangeSetOutput {})
}

/// Records how the execution of a change set ended.
async fn finish(inner: &Inner, stack_id: &str, mut cs: ChangeSet) {
    let status = inner.stack(stack_id).map(|s| s.status).unwrap_or_default();
    cs.execution_status = if status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE" {
        "EXECUTE_COMPLETE"
    } else {
        "EXECUTE_FAILED"
    }
    .into();
    if let Err(e) = inner.save_change_set(&cs).await {
        tracing::warn!(error = %e.message, "could not save the change set");
    }
}

pub async fn delete(
    inner: &Inner,
    input: types::DeleteChangeSetInput,
) -> Result<types::DeleteChangeSetOutput, AwsError> {
    let cs = find(inner, &input.change_set_name, input.stack_name.as_deref())?;
    if cs.execution_status == "EXECUTE_IN_PROGRESS" {
        return Err(AwsError::new(
            "InvalidChangeSetStatus",
            400,
            format!(
                "ChangeSet [{}] cannot be deleted in its current execution status of [EXECUTE_IN_PROGRESS]",
                cs.id
            ),
        ));
    }
    inner.delete_change_set(&cs.id).await?;
    Ok(types::DeleteChangeSetOutput {})
}

pub fn list(
    inner: &Inner,
    input: types::ListChangeSetsInput,
) -> Result<types::ListChangeSetsOutput, AwsError> {
    let name = input.stack_name.as_str();
    let stack = inner
        .find(name)
        .ok_or_else(|| validation(format!("Stack [{name}] does not exist")))?;
    let mut sets: Vec<ChangeSet> = inner
        .state()
        .change_sets
        .values()
        .filter(|c| c.stack_id == stack.id)
        .cloned()
        .collect();
    sets.sort_by_key(|c| c.created_ms);
    let summaries = sets
        .into_iter()
        .map(|c| types::ChangeSetSummary {
            stack_id: Some(c.stack_id),
            stack_name: Some(c.stack_name),
            change_set_id: Some(c.id),
            change_set_name: Some(c.name),
            execution_status: Some(c.execution_status),
            status: Some(c.status),
            status_reason: c.status_reason,
            creation_time: Some(Timestamp::from_millis(c.created_ms)),
            description: c.description,
            include_nested_stacks: Some(false),
            // Nested change sets and imports are not served.
            ..Default::default()
        })
        .collect();
    // Every change set of the stack fits one page.
    Ok(types::ListChangeSetsOutput {
        summaries: Some(summaries),
        next_token: None,
    })
}

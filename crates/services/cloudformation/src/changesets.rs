//! Change sets: a stack operation proposed, described, then executed (what `aws
//! cloudformation deploy` and `sam deploy` do). A `CREATE` change set makes the stack in
//! `REVIEW_IN_PROGRESS`; executing it runs the create, executing an `UPDATE` one runs the
//! update. A change set that changes nothing fails with the reason clients look for.

use tributary_cfn::Replacement;
use tributary_model::clock::iso_millis;
use tributary_model::AwsError;
use tributary_service::query::{Params as QueryParams, Xml};

use crate::calls::Calls;
use crate::engine::{changed_keys, OnFailure, Prepared};
use crate::handlers;
use crate::model::{Change, ChangeDetail, ChangeSet, Stack};
use crate::{check_stack_name, given_parameters, given_tags, validation, CloudFormation, Inner};

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
    p: &QueryParams,
    calls: Calls,
) -> Result<String, AwsError> {
    let stack_name = p
        .get("StackName")
        .ok_or_else(|| validation("1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null"))?;
    let name = p
        .get("ChangeSetName")
        .ok_or_else(|| validation("1 validation error detected: Value null at 'changeSetName' failed to satisfy constraint: Member must not be null"))?;
    check_name(name)?;
    let kind = p.get("ChangeSetType").unwrap_or("UPDATE");
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
                    let body = inner.template_body(p, &calls).await?;
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
    let body = if p.get("UsePreviousTemplate") == Some("true") {
        if kind == "CREATE" {
            return Err(validation(
                "UsePreviousTemplate can not be used with a change set of type CREATE",
            ));
        }
        stack.template_body.clone()
    } else {
        inner.template_body(p, &calls).await?
    };
    let capabilities = p.list("Capabilities.member");
    let previous = (kind == "UPDATE").then_some(&stack);
    let id = format!(
        "arn:aws:cloudformation:{}:{}:changeSet/{name}/{}",
        inner.region,
        inner.account_id,
        uuid::Uuid::new_v4()
    );
    let tags = if crate::has_tags(p) || kind == "CREATE" {
        given_tags(p)
    } else {
        stack.tags.clone()
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
        description: p.get("Description").map(str::to_owned),
        template_body: body.clone(),
        parameters: Vec::new(),
        capabilities: capabilities.clone(),
        tags: tags.clone(),
        notification_arns: p.list("NotificationARNs.member"),
        role_arn: p.get("RoleARN").map(str::to_owned),
        changes: Vec::new(),
        disable_rollback: match p.get("OnStackFailure") {
            Some("DO_NOTHING") => Some(true),
            Some(_) => Some(false),
            None => None,
        },
    };
    let given = given_parameters(p);
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
    let mut x = Xml::new();
    x.elem("Id", &id).elem("StackId", &stack.id);
    Ok(x.into_string())
}

fn parameters_xml(x: &mut Xml, params: &[crate::model::ParameterRec]) {
    x.open("Parameters");
    for p in params {
        x.open("member")
            .elem("ParameterKey", &p.key)
            .elem("ParameterValue", if p.no_echo { "****" } else { &p.value });
        if let Some(r) = &p.resolved {
            x.elem("ResolvedValue", r);
        }
        x.close("member");
    }
    x.close("Parameters");
}

pub fn describe(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let name = p.get("ChangeSetName").unwrap_or_default();
    let cs = find(inner, name, p.get("StackName"))?;
    let mut x = Xml::new();
    x.elem("ChangeSetName", &cs.name)
        .elem("ChangeSetId", &cs.id)
        .elem("StackId", &cs.stack_id)
        .elem("StackName", &cs.stack_name);
    if let Some(d) = &cs.description {
        x.elem("Description", d);
    }
    parameters_xml(&mut x, &cs.parameters);
    x.elem("CreationTime", &iso_millis(cs.created_ms))
        .elem("ExecutionStatus", &cs.execution_status)
        .elem("Status", &cs.status);
    if let Some(r) = &cs.status_reason {
        x.elem("StatusReason", r);
    }
    x.open("NotificationARNs");
    for n in &cs.notification_arns {
        x.elem("member", n);
    }
    x.close("NotificationARNs");
    x.open("RollbackConfiguration")
        .close("RollbackConfiguration");
    x.open("Capabilities");
    for c in &cs.capabilities {
        x.elem("member", c);
    }
    x.close("Capabilities");
    x.open("Tags");
    for (k, v) in &cs.tags {
        x.open("member")
            .elem("Key", k)
            .elem("Value", v)
            .close("member");
    }
    x.close("Tags");
    x.open("Changes");
    for c in &cs.changes {
        x.open("member")
            .elem("Type", "Resource")
            .open("ResourceChange");
        x.elem("Action", &c.action)
            .elem("LogicalResourceId", &c.logical_id);
        if let Some(ph) = &c.physical_id {
            x.elem("PhysicalResourceId", ph);
        }
        x.elem("ResourceType", &c.type_);
        if let Some(r) = &c.replacement {
            x.elem("Replacement", r);
        }
        x.open("Scope");
        for s in &c.scope {
            x.elem("member", s);
        }
        x.close("Scope");
        x.open("Details");
        for d in &c.details {
            x.open("member")
                .open("Target")
                .elem("Attribute", &d.attribute);
            if let Some(n) = &d.name {
                x.elem("Name", n);
            }
            x.elem("RequiresRecreation", &d.requires_recreation)
                .close("Target")
                .elem("Evaluation", &d.evaluation)
                .elem("ChangeSource", &d.change_source)
                .close("member");
        }
        x.close("Details");
        x.close("ResourceChange").close("member");
    }
    x.close("Changes");
    x.elem("IncludeNestedStacks", "false");
    if let Some(d) = cs.disable_rollback {
        x.elem("OnStackFailure", if d { "DO_NOTHING" } else { "ROLLBACK" });
    }
    Ok(x.into_string())
}

pub async fn execute(
    inner: &std::sync::Arc<Inner>,
    p: &QueryParams,
    calls: Calls,
) -> Result<String, AwsError> {
    let name = p.get("ChangeSetName").unwrap_or_default();
    let mut cs = find(inner, name, p.get("StackName"))?;
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
    let disable_rollback = match p.get("DisableRollback") {
        Some(v) => v == "true",
        None => cs.disable_rollback.unwrap_or(false),
    };
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
    Ok(String::new())
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

pub async fn delete(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let name = p.get("ChangeSetName").unwrap_or_default();
    let cs = find(inner, name, p.get("StackName"))?;
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
    Ok(String::new())
}

pub fn list(inner: &Inner, p: &QueryParams) -> Result<String, AwsError> {
    let name = p.get("StackName").unwrap_or_default();
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
    let mut x = Xml::new();
    x.open("Summaries");
    for c in &sets {
        x.open("member")
            .elem("StackId", &c.stack_id)
            .elem("StackName", &c.stack_name)
            .elem("ChangeSetId", &c.id)
            .elem("ChangeSetName", &c.name)
            .elem("ExecutionStatus", &c.execution_status)
            .elem("Status", &c.status);
        if let Some(r) = &c.status_reason {
            x.elem("StatusReason", r);
        }
        x.elem("CreationTime", &iso_millis(c.created_ms));
        if let Some(d) = &c.description {
            x.elem("Description", d);
        }
        x.elem("IncludeNestedStacks", "false");
        x.close("member");
    }
    x.close("Summaries");
    Ok(x.into_string())
}

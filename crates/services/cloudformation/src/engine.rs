//! Stack operations: create, update and delete, with rollback, as CloudFormation runs them.
//!
//! An operation is accepted in the request (the stack moves to `*_IN_PROGRESS` and the
//! request answers) and then runs on its own task, resource by resource in dependency
//! order, recording an event for every step. Every state change is written to the store
//! before the next call, so a stack always says what exists.
//!
//! - Create: each resource `CREATE_IN_PROGRESS` → `CREATE_COMPLETE`. A failure marks the
//!   resource `CREATE_FAILED` with the handler's reason and rolls back: what was created is
//!   deleted in reverse order (`ROLLBACK_IN_PROGRESS` → `ROLLBACK_COMPLETE`), unless
//!   rollback is disabled (`CREATE_FAILED`) or `OnFailure` is `DELETE`.
//! - Update: new resources are created, changed ones updated in place or replaced (the new
//!   one first), then `UPDATE_COMPLETE_CLEANUP_IN_PROGRESS` deletes the removed and the
//!   replaced ones. A failure rolls every change back to the previous template
//!   (`UPDATE_ROLLBACK_IN_PROGRESS` → `UPDATE_ROLLBACK_COMPLETE`).
//! - Delete: in reverse creation order; `DeletionPolicy: Retain` keeps a resource
//!   (`DELETE_SKIPPED`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;

use serde_json::{Map, Value};
use tributary_cfn::{
    Context, Imports, Params, Plan, PlannedResource, Pseudo, Replacement, Resolver,
    RetentionPolicy, Template,
};

use crate::calls::Calls;
use crate::handlers::{self, Created, Current, Cx, Failure};
use crate::model::{Event, OutputRec, ResourceRec, Stack};
use crate::Inner;

/// A template ready to run: parsed, parameters resolved, transformed and planned.
pub struct Prepared {
    pub expanded: Template,
    pub params: Params,
    pub plan: Plan,
    pub pseudo: Pseudo,
}

impl Prepared {
    pub fn context<'a>(&self, imports: Imports<'a>) -> Context<'a> {
        Context::new(self.pseudo.clone(), self.params.clone()).with_imports(imports)
    }
}

/// Answers `Ref` and `Fn::GetAtt` from the stack's resources.
pub struct StackResolver<'a>(pub &'a indexmap::IndexMap<String, ResourceRec>);

impl Resolver for StackResolver<'_> {
    fn ref_value(&self, logical_id: &str) -> Option<Value> {
        let r = self.0.get(logical_id)?;
        if r.status.starts_with("DELETE_") && r.status != "DELETE_FAILED" {
            return None;
        }
        r.ref_value
            .clone()
            .or_else(|| r.physical_id.clone().map(Value::String))
    }

    fn get_att(&self, logical_id: &str, attribute: &str) -> Option<Value> {
        self.0.get(logical_id)?.attributes.get(attribute).cloned()
    }
}

/// How a failed create ends (`OnFailure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    Rollback,
    Delete,
    DoNothing,
}

impl Inner {
    fn cx<'a>(&'a self, stack: &'a Stack, calls: &'a Calls, resource_type: &'a str) -> Cx<'a> {
        Cx {
            calls,
            region: &self.region,
            account_id: &self.account_id,
            stack_name: &stack.name,
            stack_id: &stack.id,
            stack_tags: &stack.tags,
            resource_type,
            endpoint: &self.endpoint,
            responses: &self.responses,
        }
    }

    /// Records one event of the stack (and the stack as it is now) durably.
    /// `resource` is the logical id, physical id and type the event is about.
    pub async fn event(
        &self,
        stack: &mut Stack,
        resource: (&str, Option<&str>, &str),
        status: &str,
        reason: Option<String>,
        properties: Option<&Value>,
    ) {
        let (logical_id, physical_id, type_) = resource;
        let now = self.now();
        let event = Event {
            event_id: if type_ == "AWS::CloudFormation::Stack" {
                uuid::Uuid::new_v4().to_string()
            } else {
                format!(
                    "{logical_id}-{status}-{}",
                    tributary_model::clock::iso_millis(now)
                )
            },
            stack_id: stack.id.clone(),
            stack_name: stack.name.clone(),
            logical_id: logical_id.to_owned(),
            physical_id: physical_id.map(str::to_owned),
            type_: type_.to_owned(),
            timestamp_ms: now,
            status: status.to_owned(),
            reason,
            properties: properties.map(Value::to_string),
        };
        self.persist(stack, Some(event)).await;
    }

    /// A stack-level event that also moves the stack's status.
    pub async fn stack_status(&self, stack: &mut Stack, status: &str, reason: Option<String>) {
        stack.status = status.to_owned();
        stack.status_reason = reason.clone();
        let (name, id) = (stack.name.clone(), stack.id.clone());
        self.event(
            stack,
            (&name, Some(&id), "AWS::CloudFormation::Stack"),
            status,
            reason,
            None,
        )
        .await;
    }

    async fn resource_status(
        &self,
        stack: &mut Stack,
        logical_id: &str,
        status: &str,
        reason: Option<String>,
        properties: Option<&Value>,
    ) {
        let now = self.now();
        let (physical, type_) = match stack.resources.get_mut(logical_id) {
            Some(r) => {
                r.status = status.to_owned();
                r.status_reason = reason.clone();
                r.updated_ms = now;
                (r.physical_id.clone(), r.type_.clone())
            }
            None => return,
        };
        self.event(
            stack,
            (logical_id, physical.as_deref(), &type_),
            status,
            reason,
            properties,
        )
        .await;
    }

    fn record(planned: &PlannedResource, template: &Template, now: i64) -> ResourceRec {
        let description = template
            .resources
            .get(&planned.logical_id)
            .and_then(|r| r.properties.get("Description"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        ResourceRec {
            logical_id: planned.logical_id.clone(),
            type_: planned.type_.clone(),
            physical_id: None,
            status: "CREATE_IN_PROGRESS".into(),
            status_reason: None,
            updated_ms: now,
            planned: planned.properties.clone(),
            properties: Value::Null,
            ref_value: None,
            attributes: Map::new(),
            metadata: planned.metadata.clone(),
            dependencies: planned.dependencies.clone(),
            deletion_policy: planned.deletion_policy.as_str().to_owned(),
            update_replace_policy: planned.update_replace_policy.as_str().to_owned(),
            description,
        }
    }

    /// Resolves a resource's properties against what exists now.
    /// Resolves a resource's properties against what exists now, noting the exports used.
    fn resolve(
        &self,
        stack: &mut Stack,
        prep: &Prepared,
        logical_id: &str,
    ) -> Result<Value, String> {
        let used = Mutex::new(BTreeSet::new());
        let resolved = {
            let imports = self.imports_for(&stack.id, &used);
            let ctx = prep.context(&imports);
            prep.plan
                .resolve_properties(
                    &prep.expanded,
                    &ctx,
                    logical_id,
                    &StackResolver(&stack.resources),
                )
                .map_err(|e| e.to_string())
        };
        note_imports(stack, used);
        resolved
    }

    /// Creates one planned resource; `Err` is the reason it failed (already recorded).
    async fn create_one(
        &self,
        stack: &mut Stack,
        prep: &Prepared,
        planned: &PlannedResource,
        calls: &Calls,
        status_prefix: &str,
    ) -> Result<(), String> {
        let id = planned.logical_id.as_str();
        let mut rec = Self::record(planned, &prep.expanded, self.now());
        rec.status = format!("{status_prefix}_IN_PROGRESS");
        stack.resources.insert(id.to_owned(), rec);
        let props = match self.resolve(stack, prep, id) {
            Ok(p) => p,
            Err(reason) => {
                self.resource_status(stack, id, "CREATE_IN_PROGRESS", None, None)
                    .await;
                self.resource_status(stack, id, "CREATE_FAILED", Some(reason.clone()), None)
                    .await;
                return Err(reason);
            }
        };
        self.resource_status(stack, id, "CREATE_IN_PROGRESS", None, Some(&props))
            .await;
        let Some(handler) = handlers::handler(&planned.type_) else {
            let reason = format!(
                "Resource type {} is not supported by this Tributary server",
                planned.type_
            );
            self.resource_status(
                stack,
                id,
                "CREATE_FAILED",
                Some(reason.clone()),
                Some(&props),
            )
            .await;
            return Err(reason);
        };
        let result = {
            let cx = self.cx(stack, calls, &planned.type_);
            handler.create(&cx, id, &props).await
        };
        match result {
            Ok(created) => {
                self.apply(stack, id, created, props.clone());
                self.resource_status(
                    stack,
                    id,
                    "CREATE_IN_PROGRESS",
                    Some("Resource creation Initiated".into()),
                    Some(&props),
                )
                .await;
                self.resource_status(stack, id, "CREATE_COMPLETE", None, Some(&props))
                    .await;
                Ok(())
            }
            Err(Failure(reason)) => {
                self.resource_status(
                    stack,
                    id,
                    "CREATE_FAILED",
                    Some(reason.clone()),
                    Some(&props),
                )
                .await;
                Err(reason)
            }
        }
    }

    fn apply(&self, stack: &mut Stack, id: &str, created: Created, props: Value) {
        if let Some(r) = stack.resources.get_mut(id) {
            r.physical_id = Some(created.physical_id);
            r.ref_value = created.ref_value;
            r.attributes = created.attributes;
            r.properties = props;
        }
    }

    /// Deletes one resource (or keeps it, under `Retain`); `Err` is the failure reason.
    async fn delete_one(
        &self,
        stack: &mut Stack,
        logical_id: &str,
        calls: &Calls,
        retain: bool,
    ) -> Result<(), String> {
        let Some(rec) = stack.resources.get(logical_id).cloned() else {
            return Ok(());
        };
        if rec.status == "DELETE_COMPLETE" || rec.status == "DELETE_SKIPPED" {
            return Ok(());
        }
        if retain || rec.deletion_policy == RetentionPolicy::Retain.as_str() {
            self.resource_status(stack, logical_id, "DELETE_SKIPPED", None, None)
                .await;
            return Ok(());
        }
        let Some(physical) = rec.physical_id.clone() else {
            // Never created (it failed, or the operation stopped before it).
            self.resource_status(stack, logical_id, "DELETE_COMPLETE", None, None)
                .await;
            return Ok(());
        };
        self.resource_status(stack, logical_id, "DELETE_IN_PROGRESS", None, None)
            .await;
        let result = match handlers::handler(&rec.type_) {
            Some(h) => {
                let cx = self.cx(stack, calls, &rec.type_);
                h.delete(
                    &cx,
                    &Current {
                        logical_id,
                        physical_id: &physical,
                        properties: &rec.properties,
                        attributes: &rec.attributes,
                    },
                )
                .await
            }
            None => Ok(()),
        };
        match result {
            Ok(()) => {
                self.resource_status(stack, logical_id, "DELETE_COMPLETE", None, None)
                    .await;
                Ok(())
            }
            Err(Failure(reason)) => {
                self.resource_status(
                    stack,
                    logical_id,
                    "DELETE_FAILED",
                    Some(reason.clone()),
                    None,
                )
                .await;
                Err(reason)
            }
        }
    }

    /// Resolves the outputs once every resource exists.
    fn outputs(&self, stack: &mut Stack, prep: &Prepared) -> Result<Vec<OutputRec>, String> {
        let used = Mutex::new(BTreeSet::new());
        let outs = {
            let imports = self.imports_for(&stack.id, &used);
            let ctx = prep.context(&imports);
            tributary_cfn::outputs(
                &prep.expanded,
                &prep.plan,
                &ctx,
                &StackResolver(&stack.resources),
            )
        };
        note_imports(stack, used);
        let outs = outs.map_err(|e| e.to_string())?;
        let mut recs = Vec::new();
        for o in outs {
            if let Some(name) = &o.export_name {
                if let Some(owner) = self.export_owner(name) {
                    if owner != stack.id {
                        return Err(format!(
                            "Export with name {name} is already exported by stack {}",
                            owner.split('/').nth(1).unwrap_or(&owner)
                        ));
                    }
                }
            }
            recs.push(OutputRec {
                key: o.key,
                value: o.value,
                description: o.description,
                export_name: o.export_name,
            });
        }
        Ok(recs)
    }

    /// Runs a create to its end.
    pub async fn run_create(
        self: Arc<Self>,
        mut stack: Stack,
        prep: Prepared,
        calls: Calls,
        on_failure: OnFailure,
    ) {
        let lock = self.lock(&stack.id);
        let _guard = lock.lock().await;
        let mut failed: Option<String> = None;
        let order: Vec<PlannedResource> = prep.plan.creation_order().cloned().collect();
        for planned in &order {
            if let Err(reason) = self
                .create_one(&mut stack, &prep, planned, &calls, "CREATE")
                .await
            {
                failed = Some(format!(
                    "The following resource(s) failed to create: [{}]. ",
                    planned.logical_id
                ));
                let _ = reason;
                break;
            }
        }
        if failed.is_none() {
            match self.outputs(&mut stack, &prep) {
                Ok(outs) => {
                    stack.outputs = outs;
                    self.stack_status(&mut stack, "CREATE_COMPLETE", None).await;
                    return;
                }
                Err(reason) => failed = Some(reason),
            }
        }
        let reason = failed.unwrap_or_default();
        match on_failure {
            OnFailure::DoNothing => {
                self.stack_status(
                    &mut stack,
                    "CREATE_FAILED",
                    Some(reason.trim_end().to_owned()),
                )
                .await;
            }
            OnFailure::Rollback | OnFailure::Delete => {
                self.stack_status(
                    &mut stack,
                    "ROLLBACK_IN_PROGRESS",
                    Some(format!("{reason}Rollback requested by user.")),
                )
                .await;
                let ids: Vec<String> = stack.resources.keys().rev().cloned().collect();
                let mut rollback_failed = false;
                for id in ids {
                    if self
                        .delete_one(&mut stack, &id, &calls, false)
                        .await
                        .is_err()
                    {
                        rollback_failed = true;
                    }
                }
                if rollback_failed {
                    self.stack_status(
                        &mut stack,
                        "ROLLBACK_FAILED",
                        Some("The following resource(s) failed to delete during rollback.".into()),
                    )
                    .await;
                    return;
                }
                self.stack_status(&mut stack, "ROLLBACK_COMPLETE", None)
                    .await;
                if on_failure == OnFailure::Delete {
                    self.stack_status(
                        &mut stack,
                        "DELETE_IN_PROGRESS",
                        Some("User Initiated".into()),
                    )
                    .await;
                    stack.deleted_ms = Some(self.now());
                    self.stack_status(&mut stack, "DELETE_COMPLETE", None).await;
                }
            }
        }
    }

    /// Runs an update to its end. `old` is the stack before (for the rollback).
    pub async fn run_update(
        self: Arc<Self>,
        mut stack: Stack,
        old: Stack,
        prep: Prepared,
        calls: Calls,
    ) {
        let lock = self.lock(&stack.id);
        let _guard = lock.lock().await;
        // What the new template imports is noted as it is resolved.
        stack.imports.clear();
        // Resources whose physical resource was replaced: logical id → the old record.
        let mut replaced: HashMap<String, ResourceRec> = HashMap::new();
        let mut touched: Vec<String> = Vec::new();
        let mut failure: Option<String> = None;
        let order: Vec<PlannedResource> = prep.plan.creation_order().cloned().collect();
        // Keep the new plan's order for resources that exist in it.
        let mut ordered = indexmap::IndexMap::new();
        for p in &order {
            if let Some(r) = stack.resources.shift_remove(&p.logical_id) {
                ordered.insert(p.logical_id.clone(), r);
            }
        }
        let removed: Vec<(String, ResourceRec)> = stack.resources.drain(..).collect();
        stack.resources = ordered;
        for planned in &order {
            let id = planned.logical_id.as_str();
            let Some(existing) = stack.resources.get(id).cloned() else {
                touched.push(id.to_owned());
                if self
                    .create_one(&mut stack, &prep, planned, &calls, "CREATE")
                    .await
                    .is_err()
                {
                    failure = Some(format!(
                        "The following resource(s) failed to create: [{id}]. "
                    ));
                    break;
                }
                continue;
            };
            let props = match self.resolve(&mut stack, &prep, id) {
                Ok(p) => p,
                Err(reason) => {
                    self.resource_status(&mut stack, id, "UPDATE_FAILED", Some(reason), None)
                        .await;
                    failure = Some(format!(
                        "The following resource(s) failed to update: [{id}]. "
                    ));
                    break;
                }
            };
            let policies_changed = existing.deletion_policy != planned.deletion_policy.as_str()
                || existing.update_replace_policy != planned.update_replace_policy.as_str();
            if let Some(r) = stack.resources.get_mut(id) {
                r.planned = planned.properties.clone();
                r.metadata = planned.metadata.clone();
                r.dependencies = planned.dependencies.clone();
                r.deletion_policy = planned.deletion_policy.as_str().to_owned();
                r.update_replace_policy = planned.update_replace_policy.as_str().to_owned();
            }
            if props == existing.properties {
                if policies_changed {
                    self.persist(&mut stack, None).await;
                }
                continue;
            }
            let Some(handler) = handlers::handler(&planned.type_) else {
                continue;
            };
            let changed = changed_keys(&existing.properties, &props);
            let replace = changed
                .iter()
                .any(|k| handler.replacement(k) == Replacement::Always);
            touched.push(id.to_owned());
            if replace {
                if let Some(name) = handler.name_property() {
                    if props.get(name).is_some() && existing.properties.get(name) == props.get(name)
                    {
                        let reason = format!(
                            "CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename {} and update the stack again.",
                            props.get(name).and_then(Value::as_str).unwrap_or(id)
                        );
                        self.resource_status(&mut stack, id, "UPDATE_FAILED", Some(reason), None)
                            .await;
                        failure = Some(format!(
                            "The following resource(s) failed to update: [{id}]. "
                        ));
                        break;
                    }
                }
                replaced.insert(id.to_owned(), existing.clone());
                self.resource_status(
                    &mut stack,
                    id,
                    "UPDATE_IN_PROGRESS",
                    Some("Requested update requires the creation of a new physical resource; hence creating one.".into()),
                    Some(&props),
                )
                .await;
                let result = {
                    let cx = self.cx(&stack, &calls, &planned.type_);
                    handler.create(&cx, id, &props).await
                };
                match result {
                    Ok(created) => {
                        self.apply(&mut stack, id, created, props.clone());
                        self.resource_status(
                            &mut stack,
                            id,
                            "UPDATE_IN_PROGRESS",
                            Some("Resource creation Initiated".into()),
                            Some(&props),
                        )
                        .await;
                        self.resource_status(&mut stack, id, "UPDATE_COMPLETE", None, Some(&props))
                            .await;
                    }
                    Err(Failure(reason)) => {
                        replaced.remove(id);
                        self.resource_status(
                            &mut stack,
                            id,
                            "UPDATE_FAILED",
                            Some(reason),
                            Some(&props),
                        )
                        .await;
                        failure = Some(format!(
                            "The following resource(s) failed to update: [{id}]. "
                        ));
                        break;
                    }
                }
            } else {
                self.resource_status(&mut stack, id, "UPDATE_IN_PROGRESS", None, Some(&props))
                    .await;
                let result = {
                    let physical = existing.physical_id.clone().unwrap_or_default();
                    let cx = self.cx(&stack, &calls, &planned.type_);
                    handler
                        .update(
                            &cx,
                            &Current {
                                logical_id: id,
                                physical_id: &physical,
                                properties: &existing.properties,
                                attributes: &existing.attributes,
                            },
                            &props,
                        )
                        .await
                };
                match result {
                    Ok(created) => {
                        // A new physical id is a replacement (custom resources decide so): the
                        // old one is deleted in the cleanup.
                        if existing.physical_id.as_deref() != Some(created.physical_id.as_str()) {
                            replaced.insert(id.to_owned(), existing.clone());
                        }
                        self.apply(&mut stack, id, created, props.clone());
                        self.resource_status(&mut stack, id, "UPDATE_COMPLETE", None, Some(&props))
                            .await;
                    }
                    Err(Failure(reason)) => {
                        self.resource_status(
                            &mut stack,
                            id,
                            "UPDATE_FAILED",
                            Some(reason),
                            Some(&props),
                        )
                        .await;
                        failure = Some(format!(
                            "The following resource(s) failed to update: [{id}]. "
                        ));
                        break;
                    }
                }
            }
        }
        if failure.is_none() {
            match self.outputs(&mut stack, &prep) {
                Ok(outs) => stack.outputs = outs,
                Err(reason) => failure = Some(reason),
            }
        }
        if let Some(reason) = failure {
            // Put back what the removed resources were, then roll back.
            for (id, r) in removed {
                stack.resources.insert(id, r);
            }
            self.rollback_update(stack, old, replaced, touched, reason, &calls)
                .await;
            return;
        }
        self.stack_status(&mut stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None)
            .await;
        // The removed resources, in reverse of their old order, then the replaced ones.
        let mut cleanup_failed = false;
        for (id, r) in removed.into_iter().rev() {
            stack.resources.insert(id.clone(), r);
            if self
                .delete_one(&mut stack, &id, &calls, false)
                .await
                .is_err()
            {
                cleanup_failed = true;
            }
            stack.resources.shift_remove(&id);
        }
        for (id, old_rec) in replaced {
            if old_rec.update_replace_policy == RetentionPolicy::Retain.as_str() {
                continue;
            }
            if let (Some(h), Some(physical)) =
                (handlers::handler(&old_rec.type_), &old_rec.physical_id)
            {
                self.event(
                    &mut stack,
                    (&id, Some(physical), &old_rec.type_),
                    "DELETE_IN_PROGRESS",
                    None,
                    None,
                )
                .await;
                let result = {
                    let cx = self.cx(&stack, &calls, &old_rec.type_);
                    h.delete(
                        &cx,
                        &Current {
                            logical_id: &id,
                            physical_id: physical,
                            properties: &old_rec.properties,
                            attributes: &old_rec.attributes,
                        },
                    )
                    .await
                };
                let (status, reason) = match result {
                    Ok(()) => ("DELETE_COMPLETE", None),
                    Err(Failure(r)) => {
                        cleanup_failed = true;
                        ("DELETE_FAILED", Some(r))
                    }
                };
                self.event(
                    &mut stack,
                    (&id, Some(physical), &old_rec.type_),
                    status,
                    reason,
                    None,
                )
                .await;
            }
        }
        let _ = cleanup_failed;
        self.stack_status(&mut stack, "UPDATE_COMPLETE", None).await;
    }

    async fn rollback_update(
        &self,
        mut stack: Stack,
        old: Stack,
        replaced: HashMap<String, ResourceRec>,
        touched: Vec<String>,
        reason: String,
        calls: &Calls,
    ) {
        self.stack_status(&mut stack, "UPDATE_ROLLBACK_IN_PROGRESS", Some(reason))
            .await;
        let mut failed = false;
        let mut created_new: Vec<(String, ResourceRec)> = Vec::new();
        for id in touched.iter().rev() {
            let Some(now) = stack.resources.get(id).cloned() else {
                continue;
            };
            match old.resources.get(id) {
                // New in this update: deleted in the cleanup below.
                None => created_new.push((id.clone(), now)),
                Some(before) => {
                    if let Some(prev) = replaced.get(id) {
                        // Back to the old physical resource; the new one goes in cleanup.
                        created_new.push((id.clone(), now));
                        stack.resources.insert(id.clone(), prev.clone());
                        self.resource_status(&mut stack, id, "UPDATE_COMPLETE", None, None)
                            .await;
                        continue;
                    }
                    if now.properties == before.properties || now.physical_id.is_none() {
                        stack.resources.insert(id.clone(), before.clone());
                        continue;
                    }
                    self.resource_status(
                        &mut stack,
                        id,
                        "UPDATE_IN_PROGRESS",
                        None,
                        Some(&before.properties),
                    )
                    .await;
                    let Some(h) = handlers::handler(&before.type_) else {
                        continue;
                    };
                    let physical = now.physical_id.clone().unwrap_or_default();
                    let result = {
                        let cx = self.cx(&stack, calls, &before.type_);
                        h.update(
                            &cx,
                            &Current {
                                logical_id: id,
                                physical_id: &physical,
                                properties: &now.properties,
                                attributes: &now.attributes,
                            },
                            &before.properties,
                        )
                        .await
                    };
                    match result {
                        Ok(_) => {
                            stack.resources.insert(id.clone(), before.clone());
                            self.resource_status(&mut stack, id, "UPDATE_COMPLETE", None, None)
                                .await;
                        }
                        Err(Failure(r)) => {
                            failed = true;
                            self.resource_status(&mut stack, id, "UPDATE_FAILED", Some(r), None)
                                .await;
                        }
                    }
                }
            }
        }
        if failed {
            self.stack_status(&mut stack, "UPDATE_ROLLBACK_FAILED", None)
                .await;
            return;
        }
        self.stack_status(
            &mut stack,
            "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            None,
        )
        .await;
        for (id, rec) in created_new {
            let holder = stack.resources.insert(id.clone(), rec);
            let _ = self.delete_one(&mut stack, &id, calls, false).await;
            match holder {
                Some(prev) if old.resources.contains_key(&id) => {
                    stack.resources.insert(id, prev);
                }
                _ => {
                    stack.resources.shift_remove(&id);
                }
            }
        }
        // The stack is as it was: its template, parameters, outputs and resources.
        let event_seq = stack.event_seq;
        let mut restored = old;
        restored.event_seq = event_seq;
        restored.updated_ms = Some(self.now());
        restored.resources = {
            let mut r = restored.resources.clone();
            for (id, rec) in r.iter_mut() {
                if let Some(now) = stack.resources.get(id) {
                    rec.status = now.status.clone();
                    rec.updated_ms = now.updated_ms;
                }
            }
            r
        };
        self.stack_status(&mut restored, "UPDATE_ROLLBACK_COMPLETE", None)
            .await;
    }

    /// Runs a delete to its end.
    pub async fn run_delete(
        self: Arc<Self>,
        stack_id: String,
        calls: Calls,
        retain: HashSet<String>,
    ) {
        let lock = self.lock(&stack_id);
        let _guard = lock.lock().await;
        let Some(mut stack) = self.stack(&stack_id) else {
            return;
        };
        if stack.is_deleted() {
            return;
        }
        if stack.status != "DELETE_IN_PROGRESS" {
            self.stack_status(
                &mut stack,
                "DELETE_IN_PROGRESS",
                Some("User Initiated".into()),
            )
            .await;
        }
        let ids: Vec<String> = stack.resources.keys().rev().cloned().collect();
        let mut failed = Vec::new();
        for id in ids {
            let keep = retain.contains(&id);
            if self
                .delete_one(&mut stack, &id, &calls, keep)
                .await
                .is_err()
            {
                failed.push(id);
            }
        }
        if !failed.is_empty() {
            self.stack_status(
                &mut stack,
                "DELETE_FAILED",
                Some(format!(
                    "The following resource(s) failed to delete: [{}]. ",
                    failed.join(", ")
                )),
            )
            .await;
            return;
        }
        stack.deleted_ms = Some(self.now());
        stack.outputs.clear();
        self.stack_status(&mut stack, "DELETE_COMPLETE", None).await;
    }
}

/// Adds the exports a resolution used to what the stack imports.
fn note_imports(stack: &mut Stack, used: Mutex<BTreeSet<String>>) {
    for name in used.into_inner().unwrap_or_else(|p| p.into_inner()) {
        if !stack.imports.contains(&name) {
            stack.imports.push(name);
        }
    }
}

/// The top-level keys whose values differ between two property objects.
pub fn changed_keys(old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut keys: Vec<String> = o
        .keys()
        .chain(n.keys())
        .filter(|k| o.get(*k) != n.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

//! `State` and `LastUpdateStatus` of functions and versions, as AWS reports them.
//!
//! A create or an update is stored in its final form at once (a restart never finds a function
//! half-created), and the transition is tracked in memory until the function is ready: while
//! the code is being unpacked the function is `Pending` (or its update `InProgress`), reports a
//! transient `RevisionId`, refuses invocations and further updates with AWS's conflicts, and
//! (during an update) keeps running its previous configuration.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tributary_model::AwsError;

use super::FunctionDoc;
use crate::types::FunctionConfiguration;
use crate::Lambda;
use tributary_service::json::lambda_err;

/// What a settling function is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Created (or published by `UpdateFunctionCode` with `Publish`): `State: Pending`.
    Creating,
    /// Code or configuration updated: `LastUpdateStatus: InProgress`.
    Updating,
}

/// A function version on its way to `Active` / `Successful`, or one that failed to get there.
#[derive(Debug, Clone)]
pub struct Settling {
    pub phase: Phase,
    /// The `RevisionId` reported until the transition completes (AWS assigns a new one then).
    pub revision_id: String,
    /// What invocations run while an update settles: AWS keeps serving the previous code and
    /// configuration until the update is complete.
    pub previous: Option<FunctionDoc>,
    /// Why preparing the function failed; the state stays `Failed` until the next update.
    pub failure: Option<String>,
}

/// The in-memory half of the function lifecycle, one per server.
#[derive(Default)]
pub struct LambdaState {
    /// By version key (`name` for `$LATEST`, `name:N` for a version).
    settling: Mutex<HashMap<String, Settling>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `name` for `$LATEST`, `name:N` for a published version.
pub fn version_key(name: &str, version: &str) -> String {
    if version == "$LATEST" {
        name.to_owned()
    } else {
        format!("{name}:{version}")
    }
}

impl LambdaState {
    /// The transition `doc` is in, if any.
    pub fn get(&self, doc: &FunctionDoc) -> Option<Settling> {
        lock(&self.settling)
            .get(&version_key(&doc.name, &doc.version))
            .cloned()
    }

    pub fn begin(&self, doc: &FunctionDoc, phase: Phase, previous: Option<FunctionDoc>) {
        let s = Settling {
            phase,
            revision_id: uuid::Uuid::new_v4().to_string(),
            previous,
            failure: None,
        };
        lock(&self.settling).insert(version_key(&doc.name, &doc.version), s);
    }

    fn finish(&self, key: &str, failure: Option<String>) {
        let mut map = lock(&self.settling);
        match failure {
            None => {
                map.remove(key);
            }
            Some(reason) => {
                if let Some(s) = map.get_mut(key) {
                    s.failure = Some(reason);
                    s.previous = None;
                }
            }
        }
    }

    /// Forgets every transition of `name` (all versions), e.g. when it is deleted.
    pub fn forget_function(&self, name: &str) {
        lock(&self.settling).retain(|key, _| {
            key.strip_prefix(name)
                .is_none_or(|rest| !(rest.is_empty() || rest.starts_with(':')))
        });
    }

    pub fn forget_version(&self, name: &str, version: &str) {
        lock(&self.settling).remove(&version_key(name, version));
    }

    /// The state members of a `FunctionConfiguration` (`State`, `LastUpdateStatus` and their
    /// reasons) and the `RevisionId` to report.
    pub fn render_state(
        &self,
        doc: &FunctionDoc,
        c: &mut FunctionConfiguration,
        with_update_status: bool,
    ) {
        let settling = self.get(doc);
        match settling {
            None => {
                c.state = Some("Active".to_owned());
                if with_update_status {
                    c.last_update_status = Some("Successful".to_owned());
                }
            }
            Some(s) => {
                c.revision_id = Some(s.revision_id.clone());
                match (s.phase, &s.failure) {
                    (Phase::Creating, None) => {
                        c.state = Some("Pending".to_owned());
                        c.state_reason = Some("The function is being created.".to_owned());
                        c.state_reason_code = Some("Creating".to_owned());
                    }
                    (Phase::Creating, Some(reason)) => {
                        c.state = Some("Failed".to_owned());
                        c.state_reason = Some(reason.clone());
                        c.state_reason_code = Some("InvalidZipFileException".to_owned());
                        c.last_update_status = Some("Failed".to_owned());
                        c.last_update_status_reason = Some(reason.clone());
                        c.last_update_status_reason_code =
                            Some("InvalidZipFileException".to_owned());
                    }
                    (Phase::Updating, None) => {
                        c.state = Some("Active".to_owned());
                        c.last_update_status = Some("InProgress".to_owned());
                        c.last_update_status_reason =
                            Some("The function is being created.".to_owned());
                        c.last_update_status_reason_code = Some("Creating".to_owned());
                    }
                    (Phase::Updating, Some(reason)) => {
                        c.state = Some("Active".to_owned());
                        c.last_update_status = Some("Failed".to_owned());
                        c.last_update_status_reason = Some(reason.clone());
                        c.last_update_status_reason_code =
                            Some("InvalidZipFileException".to_owned());
                    }
                }
            }
        }
    }

    /// The configuration an invocation of `doc` runs, or AWS's conflict when it cannot run now.
    pub fn runnable(&self, doc: &FunctionDoc) -> Result<FunctionDoc, AwsError> {
        match self.get(doc) {
            None => Ok(doc.clone()),
            Some(s) => match (s.phase, s.failure, s.previous) {
                (Phase::Creating, failure, _) => Err(state_conflict(if failure.is_some() {
                    "Failed"
                } else {
                    "Pending"
                })),
                (Phase::Updating, None, Some(previous)) => Ok(previous),
                (Phase::Updating, _, _) => Ok(doc.clone()),
            },
        }
    }

    /// Refuses a change to `doc` while it is still being created or updated.
    pub fn check_idle(&self, doc: &FunctionDoc, arn: &str) -> Result<(), AwsError> {
        match self.get(doc) {
            Some(s) if s.failure.is_none() => Err(match s.phase {
                Phase::Creating => state_conflict("Pending"),
                Phase::Updating => lambda_err::conflict(format!(
                    "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
                )),
            }),
            _ => Ok(()),
        }
    }
}

/// ResourceConflictException for a function that is not `Active`.
pub fn state_conflict(state: &str) -> AwsError {
    lambda_err::conflict(format!(
        "The operation cannot be performed at this time. The function is currently in the following state: {state}"
    ))
}

/// Completes the transitions of `docs` in the background: prepares each one's code (unpacks
/// it) and then reports it `Active`/`Successful`, or `Failed` with the reason. Warm
/// environments of the replaced revision are retired once the new one is ready.
pub fn settle(app: &Lambda, docs: Vec<FunctionDoc>) {
    let Some(app) = app.me.upgrade() else {
        return;
    };
    tokio::spawn(async move {
        for doc in docs {
            let key = version_key(&doc.name, &doc.version);
            let outcome = app.function_spec(&doc).await;
            let failure = outcome.err().map(|e| e.message);
            app.state.finish(&key, failure);
            app.host.retire_version(&doc.name, &doc.version).await;
        }
    });
}

//! Who may do what, as the services see it: the `--iam` mode, the [`Authorizer`] that IAM
//! implements over its roles, users and policies, and the [`Guard`] every check goes through,
//! which denies under `enforce`, records the would-be denial under `warn` and skips under
//! `off`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tributary_model::{AwsError, Clock};

/// `--iam`: how the server applies IAM's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamMode {
    /// Deny exactly what AWS would deny.
    Enforce,
    /// Let the call through, and record what AWS would have denied.
    Warn,
    /// Evaluate nothing.
    Off,
}

impl IamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            IamMode::Enforce => "enforce",
            IamMode::Warn => "warn",
            IamMode::Off => "off",
        }
    }
}

/// How a role can be assumed by a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleTrust {
    /// No such role.
    Missing,
    /// The role's trust policy does not let the service assume it.
    NotTrusted,
    Trusted,
}

/// Decisions over IAM's state (implemented by IAM; the binary wires it).
pub trait Authorizer: Send + Sync + 'static {
    /// Whether `principal` (an IAM user, a role, or a role session, by ARN) may perform
    /// `action` on `resource`, given the request's condition keys and the resource's own
    /// policy document, if it has one. The account root is allowed everything. `Err` carries
    /// AWS's AccessDenied message (`User: … is not authorized to perform: …`).
    fn authorize(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        context: &HashMap<String, Vec<String>>,
        resource_policy: Option<&str>,
    ) -> Result<(), String>;

    /// Whether `service` (`lambda.amazonaws.com`) may assume the role `role_arn`.
    fn role_trust(&self, role_arn: &str, service: &str) -> RoleTrust;

    /// Moves whenever anything a decision reads may have changed; a decision made at one
    /// value may be reused while it stays.
    fn generation(&self) -> u64;
}

/// A decision AWS would have denied.
#[derive(Debug, Clone, Serialize)]
pub struct Denial {
    /// Server clock, epoch milliseconds.
    pub time: i64,
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// Why AWS would deny it: its AccessDenied text, or the check's own message.
    pub reason: String,
    /// The error AWS would raise (`AccessDeniedException`, `InvalidParameterValueException`).
    pub error: String,
    /// Whether the call was refused (`enforce`) or let through (`warn`).
    pub enforced: bool,
}

/// The most denials kept for `GET /_tributary/iam/denials`.
const KEPT: usize = 500;

/// Applies the `--iam` mode to every check, and keeps the denials.
pub struct Guard {
    mode: IamMode,
    authorizer: Arc<dyn Authorizer>,
    clock: Arc<dyn Clock>,
    denials: Mutex<VecDeque<Denial>>,
}

impl Guard {
    pub fn new(mode: IamMode, authorizer: Arc<dyn Authorizer>, clock: Arc<dyn Clock>) -> Guard {
        Guard {
            mode,
            authorizer,
            clock,
            denials: Mutex::new(VecDeque::new()),
        }
    }

    pub fn mode(&self) -> IamMode {
        self.mode
    }

    pub fn authorizer(&self) -> &dyn Authorizer {
        &*self.authorizer
    }

    /// Checks `principal` may perform `action` on `resource`; a denial becomes `error(message)`
    /// under `enforce` and a record under `warn`.
    pub fn check(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        context: &HashMap<String, Vec<String>>,
        resource_policy: Option<&str>,
        error: impl FnOnce(String) -> AwsError,
    ) -> Result<(), AwsError> {
        if self.mode == IamMode::Off {
            return Ok(());
        }
        match self
            .authorizer
            .authorize(principal, action, resource, context, resource_policy)
        {
            Ok(()) => Ok(()),
            Err(message) => self.deny(principal, action, resource, error(message)),
        }
    }

    /// A would-be denial found by a check of the caller's own: the error under `enforce`,
    /// recorded (and `Ok`) under `warn`, ignored under `off`.
    pub fn deny(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        error: AwsError,
    ) -> Result<(), AwsError> {
        if self.mode == IamMode::Off {
            return Ok(());
        }
        let enforced = self.mode == IamMode::Enforce;
        let now = self.clock.now_millis();
        let mut log = self.denials.lock().unwrap_or_else(|p| p.into_inner());
        // The same denial again (a mapping retrying its batch): one record, its time moved on.
        let repeated = log.back_mut().filter(|d| {
            d.principal == principal
                && d.action == action
                && d.resource == resource
                && d.error == error.code
        });
        if let Some(last) = repeated {
            last.time = now;
            drop(log);
            return if enforced { Err(error) } else { Ok(()) };
        }
        // Under `warn` the call goes on: the record is news, not a fault of the server.
        if enforced {
            tracing::warn!(principal, action, resource, code = error.code, message = %error.message,
                "IAM denied a request");
        } else {
            tracing::info!(principal, action, resource, code = error.code, message = %error.message,
                "IAM would deny this request (--iam warn)");
        }
        if log.len() == KEPT {
            log.pop_front();
        }
        log.push_back(Denial {
            time: now,
            principal: principal.to_owned(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            reason: error.message.clone(),
            error: error.code.to_owned(),
            enforced,
        });
        drop(log);
        if enforced {
            Err(error)
        } else {
            Ok(())
        }
    }

    /// The denials recorded, oldest first.
    pub fn denials(&self) -> Vec<Denial> {
        self.denials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// AWS's `AccessDeniedException` / `AccessDenied`, by the protocol family's habit.
pub fn access_denied(json: bool, message: String) -> AwsError {
    let code = if json {
        "AccessDeniedException"
    } else {
        "AccessDenied"
    };
    AwsError::new(code, 403, message)
}

/// Temporary credentials for a role session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Server clock, epoch milliseconds.
    pub expires_at_ms: i64,
}

/// STS, as services that run code under a role use it (Lambda's execution role).
#[async_trait::async_trait]
pub trait RoleSessions: Send + Sync + 'static {
    /// Credentials of a session of `role_arn` for `service`, if its trust policy allows the
    /// service to assume it.
    async fn assume_for_service(
        &self,
        service: &str,
        role_arn: &str,
        session_name: &str,
        duration_secs: u32,
    ) -> Result<TemporaryCredentials, AwsError>;
}

//! IAM's errors, with the codes and HTTP statuses of its model (`NoSuchEntity` 404,
//! `EntityAlreadyExists` 409, ...) and the message texts AWS sends, as far as they are known.

use tributary_model::AwsError;

pub fn no_such_entity(message: impl Into<String>) -> AwsError {
    AwsError::new("NoSuchEntity", 404, message)
}

pub fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::new("EntityAlreadyExists", 409, message)
}

pub fn malformed_policy(message: impl Into<String>) -> AwsError {
    AwsError::new("MalformedPolicyDocument", 400, message)
}

pub fn delete_conflict(message: impl Into<String>) -> AwsError {
    AwsError::new("DeleteConflict", 409, message)
}

pub fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new("LimitExceeded", 409, message)
}

pub fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidInput", 400, message)
}

pub fn access_denied(message: impl Into<String>) -> AwsError {
    AwsError::new("AccessDenied", 403, message)
}

pub fn role_not_found(name: &str) -> AwsError {
    no_such_entity(format!("The role with name {name} cannot be found."))
}

pub fn user_not_found(name: &str) -> AwsError {
    no_such_entity(format!("The user with name {name} cannot be found."))
}

pub fn profile_not_found(name: &str) -> AwsError {
    no_such_entity(format!("Instance Profile {name} cannot be found."))
}

pub fn key_not_found(id: &str) -> AwsError {
    no_such_entity(format!("The Access Key with id {id} cannot be found."))
}

/// GetPolicy, DeletePolicy, DetachRolePolicy, ... on a policy that is not there.
pub fn policy_not_found(arn: &str) -> AwsError {
    no_such_entity(format!("Policy {arn} was not found."))
}

/// AttachRolePolicy and AttachUserPolicy on a policy that is not there.
pub fn policy_not_attachable(arn: &str) -> AwsError {
    no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
}

pub fn version_not_found(arn: &str, version: &str) -> AwsError {
    no_such_entity(format!(
        "Policy {arn} version {version} does not exist or is not attachable."
    ))
}

pub fn invalid_arn(arn: &str) -> AwsError {
    invalid_input(format!("ARN {arn} is not valid."))
}

/// A failure below the protocol (the store): IAM's `ServiceFailure` (HTTP 500).
pub fn service_failure(e: AwsError) -> AwsError {
    tracing::warn!(code = e.code, message = %e.message, "iam request failed in the store");
    AwsError::new("ServiceFailure", 500, e.message)
}

pub fn group_not_found(name: &str) -> AwsError {
    no_such_entity(format!("The group with name {name} cannot be found."))
}

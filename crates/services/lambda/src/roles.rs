//! The execution role, checked as Lambda checks it: CreateFunction and
//! UpdateFunctionConfiguration need a role Lambda may assume; an event source mapping needs
//! a role that may read its stream and write to its on-failure destination. Each check goes
//! through the [`Guard`](tributary_service::iam::Guard): refused under `--iam enforce`,
//! recorded under `warn`.

use std::collections::HashMap;

use tributary_model::AwsError;
use tributary_service::iam::{IamMode, RoleTrust};
use tributary_service::json::lambda_err;

use crate::Lambda;

const LAMBDA: &str = "lambda.amazonaws.com";

/// The actions a DynamoDB stream event source needs, in the order AWS's message lists them.
const STREAM_ACTIONS: [&str; 4] = [
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:DescribeStream",
    "dynamodb:ListStreams",
];

/// The role must exist and trust `lambda.amazonaws.com`.
pub(crate) fn check_assumable(app: &Lambda, role: &str) -> Result<(), AwsError> {
    if app.guard.mode() == IamMode::Off {
        return Ok(());
    }
    match app.guard.authorizer().role_trust(role, LAMBDA) {
        RoleTrust::Trusted => Ok(()),
        RoleTrust::Missing | RoleTrust::NotTrusted => app.guard.deny(
            LAMBDA,
            "sts:AssumeRole",
            role,
            lambda_err::invalid_parameter(
                "The role defined for the function cannot be assumed by Lambda.",
            ),
        ),
    }
}

/// AWS's text when the role may not read the stream.
fn cannot_access(stream: &str) -> String {
    format!(
        "Cannot access stream {stream}. Please ensure the role can perform the GetRecords, \
         GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM."
    )
}

/// Before each batch: may the mapping of `function` still read `stream`? Under `enforce` a
/// role that lost the permission holds the mapping back (`Err` with AWS's text) until it is
/// given back; under `warn` it is recorded and the batch goes on.
pub(crate) fn may_read(app: &Lambda, function: &str, stream: &str) -> Result<(), String> {
    if app.guard.mode() == IamMode::Off {
        return Ok(());
    }
    // Asked before every batch: the answer is kept until IAM changes (its generation moves)
    // or the function's configuration does (`forget_read_checks`).
    let generation = app.guard.authorizer().generation();
    let key = (function.to_owned(), stream.to_owned());
    if let Some((at, answer)) = app.read_checks().get(&key) {
        if *at == generation {
            return answer.clone();
        }
    }
    let answer = match crate::FunctionDoc::load(app, function) {
        None => Ok(()),
        Some(doc) => check_stream_access(app, &doc.role, stream).map_err(|_| cannot_access(stream)),
    };
    app.read_checks().insert(key, (generation, answer.clone()));
    answer
}

/// The role may read the stream: all four stream actions on its ARN.
pub(crate) fn check_stream_access(app: &Lambda, role: &str, stream: &str) -> Result<(), AwsError> {
    if app.guard.mode() == IamMode::Off {
        return Ok(());
    }
    let ctx = HashMap::new();
    for action in STREAM_ACTIONS {
        if let Err(reason) = app
            .guard
            .authorizer()
            .authorize(role, action, stream, &ctx, None)
        {
            tracing::debug!(role, action, stream, %reason, "execution role cannot read the stream");
            return app.guard.deny(
                role,
                action,
                stream,
                lambda_err::invalid_parameter(cannot_access(stream)),
            );
        }
    }
    Ok(())
}

/// The role may write to the on-failure destination: `sqs:SendMessage`, `sns:Publish` or
/// `s3:PutObject`.
pub(crate) fn check_destination(
    app: &Lambda,
    role: &str,
    destination: &str,
) -> Result<(), AwsError> {
    if app.guard.mode() == IamMode::Off {
        return Ok(());
    }
    let (action, resource, call, service) = match destination.split(':').nth(2) {
        Some("sqs") => (
            "sqs:SendMessage",
            destination.to_owned(),
            "SendMessage",
            "SQS",
        ),
        Some("sns") => ("sns:Publish", destination.to_owned(), "Publish", "SNS"),
        Some("s3") => (
            "s3:PutObject",
            format!("{destination}/*"),
            "PutObject",
            "S3",
        ),
        _ => return Ok(()),
    };
    let ctx = HashMap::new();
    let policy = match service {
        "SQS" => app.queues.policy(destination),
        "SNS" => app.topics.policy(destination),
        _ => None,
    };
    match app
        .guard
        .authorizer()
        .authorize(role, action, &resource, &ctx, policy.as_deref())
    {
        Ok(()) => Ok(()),
        Err(_) => app.guard.deny(
            role,
            action,
            &resource,
            lambda_err::invalid_parameter(format!(
                "The provided execution role does not have permissions to call {call} on {service}"
            )),
        ),
    }
}

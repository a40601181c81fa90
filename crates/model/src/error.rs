//! The one error type that crosses the API boundary: an AWS error code, message and HTTP status.
//! Each protocol (JSON 1.0, REST-JSON, query/XML) renders it in its own envelope.

use std::fmt;

/// An error as AWS reports it to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The error code, e.g. `ValidationException` (without any `namespace#` prefix).
    pub code: &'static str,
    /// Human-readable message, worded as AWS words it.
    pub message: String,
    /// HTTP status code.
    pub status: u16,
    /// Extra top-level JSON members some errors carry (e.g. Lambda's `Type`, `Reason`).
    pub extra: Vec<(&'static str, serde_json::Value)>,
    /// Whether the message member is spelled `message` (false) or `Message` (true).
    pub capital_message: bool,
}

impl AwsError {
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        AwsError {
            code,
            message: message.into(),
            status,
            extra: Vec::new(),
            capital_message: false,
        }
    }

    /// DynamoDB's and the Lambda validator's generic input error (HTTP 400).
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", 400, message)
    }

    /// DynamoDB `ResourceNotFoundException` (HTTP 400).
    pub fn ddb_not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", 400, message)
    }

    /// DynamoDB `ResourceInUseException` (HTTP 400).
    pub fn ddb_in_use(message: impl Into<String>) -> Self {
        Self::new("ResourceInUseException", 400, message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", 400, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("InternalServerError", 500, message)
    }

    pub fn with_extra(mut self, key: &'static str, value: serde_json::Value) -> Self {
        self.extra.push((key, value));
        self
    }

    pub fn capital_message(mut self) -> Self {
        self.capital_message = true;
        self
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}

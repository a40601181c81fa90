//! The one error type of the crate: every refusal is a value carrying CloudFormation's text.
//!
//! CloudFormation answers all of these with the `ValidationError` code (HTTP 400), whether
//! `ValidateTemplate`, `CreateStack` or a change set found them; the variants differ only in
//! the prefix CloudFormation puts before the detail. Where AWS's exact wording is widely
//! reported (`Unresolved resource dependencies [X] in the Resources block of the template`,
//! `Parameters: [X] must have values`, `Parameter 'X' must be one of AllowedValues`,
//! `Circular dependency between resources: [A, B]`, `No export named X found.`) it is used
//! verbatim; the other texts are the best known forms.

/// A template CloudFormation (or its SAM transform) refuses, with the message it shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template's structure is wrong: what `ValidateTemplate` answers
    /// (`Template format error: ...`).
    #[error("Template format error: {0}")]
    Format(String),
    /// An intrinsic function is used wrongly, found while evaluating it
    /// (`Template error: ...`).
    #[error("Template error: {0}")]
    Intrinsic(String),
    /// A parameter value is missing or breaks its constraints; the text stands alone
    /// (`Parameters: [X] must have values`).
    #[error("{0}")]
    Parameter(String),
    /// Any other refusal whose text stands alone (`Circular dependency between resources:
    /// [A, B]`, `No export named X found.`).
    #[error("{0}")]
    Validation(String),
    /// The SAM transform refused the template; the detail is the translator's
    /// `Invalid Serverless Application Specification document. ...` text.
    #[error("Transform AWS::Serverless-2016-10-31 failed with: {0}")]
    Transform(String),
}

impl TemplateError {
    /// The AWS error code CloudFormation answers with: always `ValidationError`.
    pub fn code(&self) -> &'static str {
        "ValidationError"
    }

    pub(crate) fn format(msg: impl Into<String>) -> Self {
        Self::Format(msg.into())
    }

    pub(crate) fn intrinsic(msg: impl Into<String>) -> Self {
        Self::Intrinsic(msg.into())
    }

    /// `Unresolved resource dependencies [X] in the <block> block of the template`.
    pub(crate) fn unresolved(names: &[String], block: &str) -> Self {
        Self::Format(format!(
            "Unresolved resource dependencies [{}] in the {block} block of the template",
            names.join(", ")
        ))
    }
}

/// The crate's result type.
pub type Result<T, E = TemplateError> = std::result::Result<T, E>;

//! CloudFormation's template engine and the SAM transform, as a library that knows no
//! service.
//!
//! - [`Template::parse`] reads a template (JSON or YAML with the short-form tags `!Ref`,
//!   `!GetAtt`, `!Sub` ...) and checks its structure; [`validate`] checks its references,
//!   conditions and cycles as `ValidateTemplate` does.
//! - [`sam::transform`] turns a template with `Transform: AWS::Serverless-2016-10-31` into
//!   plain CloudFormation, with the logical ids SAM generates.
//! - [`resolve_parameters`] applies the caller's parameter values and the defaults, with
//!   CloudFormation's validation messages; [`Context`] bundles them with the pseudo
//!   parameters and the other stacks' exports.
//! - [`plan`] evaluates the conditions and orders the resources whose condition holds by
//!   their dependencies; the deployer creates them in that order, resolving each resource's
//!   properties just before ([`Plan::resolve_properties`]) through a [`Resolver`] that knows
//!   the resources already created, and deletes them in reverse.
//! - [`diff`] compares two plans: resources added, removed and modified, with a hook
//!   ([`ReplacementRules`]) through which the resource handlers say which property changes
//!   need a replacement.
//! - [`outputs`] resolves the `Outputs` and the exports they declare.
//!
//! A stack operation goes: [`Template::parse`] → [`resolve_parameters`] (on the template as
//! written: SAM adds no parameter) → [`sam::transform`] → [`validate`] → [`plan`] → for each
//! resource in [`Plan::creation_order`], [`Plan::resolve_properties`] then the handler's
//! create → [`outputs`]. An update plans the new template and [`diff`]s the plans; a delete
//! walks [`Plan::deletion_order`], keeping what [`PlannedResource::deletion_policy`] retains.
//!
//! Every refusal is a [`TemplateError`] carrying CloudFormation's message; no template can
//! make this crate panic.

mod context;
mod diff;
mod error;
mod intrinsics;
mod node;
mod outputs;
mod params;
mod plan;
pub mod sam;
mod template;

pub use context::{
    availability_zones, partition_of, Context, Imports, NoResources, Pseudo, Resolver,
    PSEUDO_PARAMETERS,
};
pub use diff::{diff, Changes, Modification, NoReplacementRules, Replacement, ReplacementRules};
pub use error::{Result, TemplateError};
pub use outputs::{outputs, ResolvedOutput};
pub use params::{resolve_parameters, resolve_parameters_with, ParamValue, Params, SsmLookup};
pub use plan::{evaluate_conditions, plan, validate, Conditions, Plan, PlannedResource};
pub use template::{
    Output, ParameterDecl, ParameterKind, Resource, RetentionPolicy, Template, FORMAT_VERSION,
    SAM_TRANSFORM,
};

/// Resolves one value against a stack: intrinsic functions, conditions (from `conditions`)
/// and the resources already created (from `resolver`). `None` is `AWS::NoValue`.
pub fn resolve(
    value: &serde_json::Value,
    template: &Template,
    ctx: &Context,
    conditions: &Conditions,
    resolver: &dyn Resolver,
) -> Result<Option<serde_json::Value>> {
    intrinsics::Eval::new(template, ctx, conditions, resolver, intrinsics::Mode::Full).eval(value)
}

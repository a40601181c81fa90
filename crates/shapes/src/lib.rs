//! The request surface of the AWS services Tributary speaks, generated from AWS's service models
//! (`data/models/`, by `crates/codegen`): per service an `Operation` enum and static shape tables
//! with their constraints, plus a validator that reports violations in AWS's words.
//!
//! ```
//! use tributary_shapes::generated::dynamodb::{Operation, SERVICE};
//! use tributary_shapes::validate::{validate, Options};
//!
//! let op = Operation::from_name("DescribeTable").unwrap();
//! let err = validate(&SERVICE, op.def(), &serde_json::json!({}), &Options::default()).unwrap_err();
//! assert_eq!(
//!     err.message(),
//!     "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: \
//!      Member must not be null"
//! );
//! ```

pub mod model;
pub mod query;
pub mod rest;
pub mod types;
pub mod validate;
pub mod xml;

/// One module per service, written by `cargo run -p tributary-codegen`; never edit by hand.
#[rustfmt::skip]
pub mod generated;

pub use model::{Bound, Kind, Location, Member, OperationDef, Pattern, Service, Shape, ShapeId};

//! The shared vocabulary of Tributary: DynamoDB attribute values and items, exact decimal
//! numbers, the order-preserving key encoding, item sizes, ARNs, stream records, the clock seam
//! and the AWS error type. Pure data and pure functions; no I/O.

pub mod arn;
pub mod attr;
pub mod clock;
pub mod codec;
pub mod error;
pub mod keyenc;
pub mod number;
pub mod size;
pub mod stream;

pub use attr::{AttributeValue, Item};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::AwsError;

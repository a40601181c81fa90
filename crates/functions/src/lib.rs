//! Runs Lambda functions as local processes that speak the real Lambda Runtime API (2018-06-01).
//!
//! One execution environment is one OS process (in its own process group) plus its own Runtime
//! API listener on `127.0.0.1:<port>`. Unmodified handlers and real runtime clients (the Rust
//! `lambda_runtime` crate, PyPI `awslambdaric`, npm `aws-lambda-ric`, any `provided` bootstrap,
//! and the shipped Python and Node.js bootstraps) work against it.
//! [`FunctionHost`] keeps warm environments per function and revision, starts new ones when all
//! are busy, and turns timeouts, crashes and oversized responses into the payloads AWS returns.

mod code;
mod environment;
mod host;
mod output;
mod runtime_api;

pub use code::{unpack_zip, CodeError, MAX_UNZIPPED_BYTES};
pub use environment::{check_interpreter, MissingInterpreter};
pub use host::FunctionHost;
pub use runtime_api::MAX_PAYLOAD_BYTES;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where and how the host runs functions; filled in by the binary.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Host-owned scratch directory: `runtimes/` (bootstraps written at start) and `logs/`.
    pub work_dir: PathBuf,
    /// The Python interpreter used for `python3.x` runtimes (`python3` resolves through `PATH`).
    pub python: PathBuf,
    /// The Node.js interpreter used for `nodejs*.x` runtimes (`node` resolves through `PATH`).
    pub node: PathBuf,
    /// Exported as `AWS_REGION` / `AWS_DEFAULT_REGION`.
    pub region: String,
    /// The account id of the function ARNs.
    pub account_id: String,
    /// Exported to functions as `AWS_ENDPOINT_URL`, e.g. `http://127.0.0.1:4566`.
    pub endpoint_url: String,
}

/// Everything needed to start an execution environment of one function revision.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    pub name: String,
    /// Unqualified function ARN.
    pub function_arn: String,
    /// `python3.9`..`python3.14`, `nodejs18.x`..`nodejs24.x`, `provided`, `provided.al2`,
    /// `provided.al2023`.
    pub runtime: String,
    /// e.g. `app.handler` (python: `module.function`, dotted packages allowed; node:
    /// `dir/file.export`).
    pub handler: String,
    pub timeout_secs: u32,
    pub memory_mb: u32,
    /// The user's environment variables, applied on top of the Lambda-defined ones.
    pub environment: BTreeMap<String, String>,
    /// The unpacked code (the output of [`unpack_zip`]).
    pub code_dir: PathBuf,
    /// The function's layers merged in order: what Lambda mounts at `/opt` (its `python/`,
    /// `nodejs/node_modules/`, `bin/` and `lib/` go on the runtime's search paths).
    pub layers_dir: Option<PathBuf>,
    /// Changes whenever code or configuration changes; warm environments of an older revision
    /// are never reused.
    pub revision: String,
    /// `$LATEST` or a published version number: `AWS_LAMBDA_FUNCTION_VERSION`, Invoke's
    /// `X-Amz-Executed-Version`. Each version has its own pool of environments.
    pub version: String,
    /// Where its logs go and in which format (the function's `LoggingConfig`).
    pub logging: LogConfig,
    /// The execution role's temporary credentials (`AWS_ACCESS_KEY_ID`, ...); `None` runs
    /// with the local convention's `test` keys (a role that cannot be assumed, `--iam off`).
    pub credentials: Option<RoleCredentials>,
}

/// Temporary credentials a function runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

/// A function's `LoggingConfig`, as the host applies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// The CloudWatch Logs group of every environment's stream: `/aws/lambda/<function>` unless
    /// the function names another (`AWS_LAMBDA_LOG_GROUP_NAME`).
    pub group: String,
    /// `LogFormat: JSON`: platform events (`START`, `END`, `REPORT`) are written as
    /// `{"time":…,"type":"platform.start","record":{…}}` objects, and runtimes are told
    /// (`AWS_LAMBDA_LOG_FORMAT=JSON`) to write JSON application logs.
    pub json: bool,
    /// `ApplicationLogLevel` (JSON only): exported as `AWS_LAMBDA_LOG_LEVEL` for the runtime's
    /// own filtering.
    pub application_level: Option<String>,
    /// `SystemLogLevel` (JSON only): `DEBUG`, `INFO` or `WARN`. The platform events written are
    /// INFO-level, so `WARN` leaves them out.
    pub system_level: Option<String>,
}

impl LogConfig {
    /// Lambda's default: plain text in `/aws/lambda/<function>`.
    pub fn text(function_name: &str) -> Self {
        LogConfig {
            group: format!("/aws/lambda/{function_name}"),
            json: false,
            application_level: None,
            system_level: None,
        }
    }
}

/// One synchronous invocation.
#[derive(Clone, Debug)]
pub struct InvokeRequest {
    pub payload: bytes::Bytes,
    /// The ARN as invoked (may carry a qualifier); passed as `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_arn: String,
    /// Client context as JSON text (already base64-decoded).
    pub client_context: Option<String>,
    /// Whether to collect [`InvokeResult::log_tail`].
    pub want_log_tail: bool,
}

/// What the Invoke API returns for one invocation.
#[derive(Clone, Debug)]
pub struct InvokeResult {
    /// The function result, or the error document on a function error.
    pub payload: bytes::Bytes,
    /// `Some("Unhandled")` on any function error (becomes `X-Amz-Function-Error`).
    pub function_error: Option<String>,
    /// The last 4 KB of this invocation's log, when asked for.
    pub log_tail: Option<String>,
    /// The version that ran (`$LATEST` or a number), from [`FunctionSpec::version`].
    pub executed_version: String,
    /// Time from handing the event to the runtime until its answer (or the failure).
    pub duration_ms: f64,
    /// The invocation's request id (the runtime's `aws_request_id`; Invoke's `x-amzn-RequestId`).
    pub request_id: String,
}

/// Failures of the host itself (function failures are an [`InvokeResult`] with an error).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The interpreter or the environment's listener could not be started.
    #[error("could not start the execution environment: {0}")]
    Spawn(String),
    /// The function's runtime is not one this host can run.
    #[error("unsupported runtime: {0}")]
    UnsupportedRuntime(String),
    /// [`FunctionHost::shutdown`] was called.
    #[error("the function host is shutting down")]
    ShuttingDown,
    /// Running the invocation would exceed a concurrency limit; nothing ran.
    #[error("Rate Exceeded.")]
    Throttled(ThrottleReason),
}

/// Which concurrency limit refused an invocation (the `Reason` of Invoke's
/// `TooManyRequestsException`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleReason {
    /// The function's reserved concurrency is in use (or is 0).
    ReservedFunctionConcurrentInvocationLimitExceeded,
    /// The account's unreserved concurrency is in use.
    ConcurrentInvocationLimitExceeded,
}

impl ThrottleReason {
    /// The name AWS uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded => {
                "ReservedFunctionConcurrentInvocationLimitExceeded"
            }
            ThrottleReason::ConcurrentInvocationLimitExceeded => {
                "ConcurrentInvocationLimitExceeded"
            }
        }
    }
}

/// One log event: a line a function wrote, or a platform line (`START …`, `REPORT …`), with its
/// trailing newline as Lambda keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    /// When the line was read, in server-clock milliseconds.
    pub timestamp_ms: i64,
    pub message: String,
}

/// Consecutive events of one log stream, in the order they were written.
#[derive(Clone, Debug)]
pub struct LogBatch {
    /// The function's log group: `/aws/lambda/<function>` unless its `LoggingConfig` names
    /// another.
    pub group: String,
    /// The environment's stream, `YYYY/MM/DD/[$LATEST]<32 hex>` (its `AWS_LAMBDA_LOG_STREAM_NAME`).
    pub stream: String,
    pub events: Vec<LogEvent>,
}

/// Where function logs go: the seam that keeps this crate free of storage. The server's
/// implementation keeps them as CloudWatch Logs in the store; by default the host appends them
/// to one file per function ([`FunctionHost::log_path`]).
pub trait LogWriter: Send + Sync + 'static {
    /// Takes a batch. Called on the invoke path (batches of one stream in order), so it must
    /// not block on I/O: persistence belongs in the background.
    fn write(&self, batch: LogBatch);
}

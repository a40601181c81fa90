//! Lambda functions (REST-JSON, `/2015-03-31/functions`): create, get, list, update code and
//! configuration, delete, versions, aliases, reserved concurrency, tags and invoke.
//!
//! Storage: the `$LATEST` configuration of a function is a store document of kind
//! [`FUNCTION_KIND`] keyed by name; each published version is an immutable snapshot of it
//! ([`VERSION_KIND`], `name:NNNNNNNNNN`); aliases are [`ALIAS_KIND`] documents (`name:alias`);
//! tags live in their own documents keyed by resource ARN. Code zips are store blobs,
//! content-addressed per function (`code/<name>/<sha256>`) and shared by the versions that use
//! them; they are unpacked under the work dir on demand.

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

pub mod backends;
mod concurrency;
mod invoke;
mod invoke_config;
mod layers;
pub mod mappings;
pub(crate) mod model_check;
mod policy;
mod roles;
pub mod state;
pub mod tags;
mod versions;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tributary_functions::FunctionSpec;
use tributary_model::arn::{function_arn, parse_function_ref};
use tributary_model::clock::lambda_timestamp;
use tributary_model::AwsError;

pub use invoke::invoke_for_mapping;
pub use state::LambdaState;
use state::{settle, version_key, Phase};
use tributary_shapes::types::Blob;
use types::{
    Concurrency, CreateFunctionRequest, DeadLetterConfig, DeleteFunctionRequest, Environment,
    EnvironmentResponse, EphemeralStorage, FileSystemConfig, FunctionCode, FunctionCodeLocation,
    FunctionConfiguration, GetFunctionConfigurationRequest, GetFunctionRequest,
    GetFunctionResponse, ListFunctionsRequest, ListFunctionsResponse, LoggingConfig,
    RuntimeVersionConfig, SnapStart, SnapStartResponse, TracingConfig, TracingConfigResponse,
    UpdateFunctionCodeRequest, UpdateFunctionConfigurationRequest,
};
use versions::AliasDoc;

use std::collections::HashMap;
use std::sync::{Mutex, Weak};
use tributary_service::json::{check_range, constraint, lambda_err, output};

use tributary_esm::{CheckpointStore, Engine};
use tributary_functions::FunctionHost;
use tributary_metrics::Metrics;
use tributary_service::iam::{Guard, RoleSessions};
use tributary_service::peers::{Objects, Queues, Topics};
use tributary_service::Config;
use tributary_store::Store;

/// What Lambda takes from the server: the store (and its clock), the function host, the metrics
/// registry, and the services its on-failure destinations write to.
pub struct LambdaDeps {
    pub cfg: Arc<Config>,
    pub store: Store,
    pub host: Arc<FunctionHost>,
    pub metrics: Arc<Metrics>,
    /// Cancelled at shutdown.
    pub background: tokio_util::sync::CancellationToken,
    pub queues: Arc<dyn Queues>,
    pub topics: Arc<dyn Topics>,
    pub objects: Arc<dyn Objects>,
    /// Applies `--iam` to the execution-role checks.
    pub guard: Arc<Guard>,
    /// Mints the execution role's credentials (STS).
    pub roles: Arc<dyn RoleSessions>,
}

/// A mapping's stream-read check: the IAM generation it was made at, and the answer.
type ReadCheck = (u64, Result<(), String>);

/// A function version's runnable spec, and until when it may be reused.
struct CachedSpec {
    spec: Arc<FunctionSpec>,
    config_revision: String,
    /// The role credentials inside are renewed from this time on (server clock, epoch ms).
    renew_at_ms: i64,
}

/// How long a function's role credentials last, and how long before their expiry new
/// environments get fresh ones.
const ROLE_SESSION_SECS: u32 = 3600;
const RENEW_BEFORE_MS: i64 = 5 * 60 * 1000;

/// Lambda: functions, versions, aliases, invocations and event source mappings. The mapping
/// engine is built by the caller, which chooses its backends ([`backends`] has the local ones).
pub struct Lambda {
    pub(crate) cfg: Arc<Config>,
    pub(crate) store: Store,
    pub(crate) host: Arc<FunctionHost>,
    pub(crate) engine: Arc<Engine>,
    pub(crate) metrics: Arc<Metrics>,
    /// Where the engine keeps its checkpoints (read for the shard views).
    pub(crate) checkpoints: Arc<dyn CheckpointStore>,
    pub(crate) background: tokio_util::sync::CancellationToken,
    pub(crate) queues: Arc<dyn Queues>,
    pub(crate) topics: Arc<dyn Topics>,
    pub(crate) objects: Arc<dyn Objects>,
    /// Runnable specs of function versions, by `name:version`.
    specs: Mutex<HashMap<String, CachedSpec>>,
    /// Applies `--iam` to the execution-role checks.
    pub(crate) guard: Arc<Guard>,
    /// Mints the execution role's credentials.
    pub(crate) roles: Arc<dyn RoleSessions>,
    /// The answers of `roles::may_read` by (function, stream), with the IAM generation they
    /// were made at.
    read_checks: Mutex<HashMap<(String, String), ReadCheck>>,
    /// Functions on their way to `Active` (Pending, update InProgress).
    pub(crate) state: LambdaState,
    /// Asynchronous events queued and not finished (bounded).
    pub(crate) queued_events: std::sync::atomic::AtomicUsize,
    /// This service, for the background tasks it spawns.
    pub(crate) me: Weak<Lambda>,
}

impl Lambda {
    /// Builds the service; `engine` builds the mapping engine from a handle to it (the local
    /// invoker and destinations call back into it) and answers it with its checkpoint store.
    pub fn new(
        deps: LambdaDeps,
        engine: impl FnOnce(&Weak<Lambda>) -> (Arc<Engine>, Arc<dyn CheckpointStore>),
    ) -> Arc<Lambda> {
        Arc::new_cyclic(|me| {
            let (engine, checkpoints) = engine(me);
            Lambda {
                cfg: deps.cfg,
                store: deps.store,
                host: deps.host,
                engine,
                metrics: deps.metrics,
                checkpoints,
                background: deps.background,
                queues: deps.queues,
                topics: deps.topics,
                objects: deps.objects,
                guard: deps.guard,
                roles: deps.roles,
                specs: Mutex::new(HashMap::new()),
                read_checks: Mutex::new(HashMap::new()),
                state: LambdaState::default(),
                queued_events: Default::default(),
                me: me.clone(),
            }
        })
    }

    /// Restores functions on their way to `Active`, resumes the queued asynchronous events and
    /// starts every enabled mapping found in the store.
    pub async fn start(&self) {
        restore(self);
        invoke::resume_events(self);
        for m in mappings::MappingDoc::all(self) {
            if m.enabled {
                self.engine.start(m.engine_config(self)).await;
            }
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// A mapping's durable checkpoint in one shard.
    pub fn engine_checkpoint(
        &self,
        uuid: &str,
        shard_id: &str,
    ) -> Option<tributary_esm::Checkpoint> {
        self.checkpoints.get(uuid, shard_id)
    }
}

#[async_trait::async_trait]
impl tributary_service::Service for Lambda {
    async fn call(&self, req: tributary_service::Request) -> tributary_service::Response {
        use tributary_service::json::rest_error;
        let tributary_service::Request {
            method,
            uri,
            headers,
            body,
            ..
        } = req;
        let segments: Vec<String> = uri
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(tributary_service::percent_decode)
            .collect();
        let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
        let result = match seg.as_slice() {
            ["2015-03-31", "functions", ..] => {
                dispatch(
                    self,
                    &method,
                    &segments,
                    uri.query().unwrap_or(""),
                    &headers,
                    body,
                )
                .await
            }
            ["2015-03-31", "event-source-mappings", ..] => {
                mappings::dispatch(self, &method, &segments, uri.query().unwrap_or(""), body).await
            }
            ["2017-10-31" | "2019-09-30" | "2019-09-25", "functions", ..]
            | ["2018-10-31", "layers", ..]
            | ["2016-08-19", "account-settings"]
            | ["2017-03-31", "tags", _] => {
                dispatch_dated(self, &method, &segments, uri.query().unwrap_or(""), body).await
            }
            _ => Err(unknown_rest_operation(&method, &segments)),
        };
        result.unwrap_or_else(|e| rest_error(&e))
    }
}

/// An unknown REST route: a proper AWS error, never a bare 404 page.
pub fn unknown_rest_operation(method: &http::Method, rest: &[String]) -> AwsError {
    AwsError::new(
        "UnknownOperationException",
        404,
        format!("Unknown operation: {method} /{}", rest.join("/")),
    )
}

pub const FUNCTION_KIND: &str = "function";
/// Published versions: `name:NNNNNNNNNN` (zero-padded so they list in numeric order).
pub const VERSION_KIND: &str = "function-version";
/// Aliases: `name:alias`.
pub const ALIAS_KIND: &str = "function-alias";

/// The largest zipped deployment package AWS accepts.
const MAX_ZIPPED_BYTES: usize = 52_428_800;

/// Runtimes this server can run as local processes.
pub const SUPPORTED_RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "provided.al2",
    "provided.al2023",
];

/// Runtimes AWS knows that this server cannot run yet.
const KNOWN_RUNTIMES: &[&str] = &[
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnet8",
    "dotnet10",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "provided",
    "python3.8",
    "nodejs16.x",
    "go1.x",
];

const ROLE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";
const QUALIFIER_PATTERN: &str = r"(|[a-zA-Z0-9$_-]+)";
const REVISION_MISMATCH: &str = "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id";

fn latest() -> String {
    "$LATEST".to_owned()
}

fn pass_through() -> String {
    "PassThrough".to_owned()
}

fn default_ephemeral_storage() -> i64 {
    512
}

/// The log levels of the model's `ApplicationLogLevel` and `SystemLogLevel` enums.
const APPLICATION_LOG_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const SYSTEM_LOG_LEVELS: &[&str] = &["DEBUG", "INFO", "WARN"];
const LOG_LEVEL_NEEDS_JSON: &str = "LogLevel is not supported when LogFormat is set to \"Text\". Remove LogLevel from your request or change the LogFormat to \"Json\" and try again.";

/// A function's `LoggingConfig` as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggingDoc {
    /// `Text` or `JSON`.
    pub format: String,
    /// JSON only: the `ApplicationLogLevel` (INFO unless set).
    pub application_level: Option<String>,
    /// JSON only: the `SystemLogLevel` (INFO unless set).
    pub system_level: Option<String>,
    /// The log group; `None` is Lambda's `/aws/lambda/<function>`.
    pub group: Option<String>,
}

impl Default for LoggingDoc {
    fn default() -> Self {
        LoggingDoc {
            format: "Text".to_owned(),
            application_level: None,
            system_level: None,
            group: None,
        }
    }
}

/// A function's stored configuration: `$LATEST`, or a published version's snapshot of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionDoc {
    pub name: String,
    pub runtime: String,
    pub role: String,
    pub handler: String,
    pub timeout: i64,
    pub memory_size: i64,
    pub description: String,
    pub environment: Option<BTreeMap<String, String>>,
    pub code_sha256: String,
    pub code_size: i64,
    /// Blob id of the code zip.
    pub code_blob: String,
    pub last_modified_ms: i64,
    pub revision_id: String,
    pub architectures: Vec<String>,
    /// `$LATEST`, or the number of a published version.
    #[serde(default = "latest")]
    pub version: String,
    /// Changes with every change of code or configuration, never with state changes (unlike
    /// `revision_id`): what warm environments are matched on and what PublishVersion compares.
    #[serde(default)]
    pub config_revision: String,
    /// The highest version number ever published; numbers are never reused (`$LATEST` only).
    #[serde(default)]
    pub last_version: u64,
    /// PutFunctionConcurrency's reservation (`$LATEST` only).
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// `LoggingConfig`: where its logs go and in which format.
    #[serde(default)]
    pub logging: LoggingDoc,
    /// `SnapStart.ApplyOn: PublishedVersions` (accepted and reported; environments start
    /// the ordinary way).
    #[serde(default)]
    pub snap_start: bool,
    /// `TracingConfig.Mode`: `PassThrough` or `Active` (reported; nothing is traced).
    #[serde(default = "pass_through")]
    pub tracing_mode: String,
    /// `EphemeralStorage.Size` in MB (reported; `/tmp` is the host's).
    #[serde(default = "default_ephemeral_storage")]
    pub ephemeral_storage: i64,
    /// `DeadLetterConfig.TargetArn`: the SQS queue or SNS topic an asynchronous event goes to
    /// once its retries are spent.
    #[serde(default)]
    pub dead_letter_target: Option<String>,
    /// `Layers`: layer version ARNs, in order.
    #[serde(default)]
    pub layers: Vec<String>,
}

impl FunctionDoc {
    /// The `$LATEST` document of `name`.
    pub fn load(app: &Lambda, name: &str) -> Option<FunctionDoc> {
        let cat = app.store.catalog();
        cat.doc(FUNCTION_KIND, name)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Published version `version` (a number) of `name`.
    pub fn load_version(app: &Lambda, name: &str, version: &str) -> Option<FunctionDoc> {
        let n: u64 = version.parse().ok()?;
        let cat = app.store.catalog();
        cat.doc(VERSION_KIND, &version_id(name, n))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Every published version of `name`, oldest first.
    pub fn versions(app: &Lambda, name: &str) -> Vec<FunctionDoc> {
        let cat = app.store.catalog();
        docs_with_prefix(&cat, VERSION_KIND, name)
            .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
            .collect()
    }

    fn arn(&self, app: &Lambda) -> String {
        function_arn(&app.cfg.region, &app.cfg.account_id, &self.name)
    }

    /// The revision warm environments and PublishVersion compare.
    fn config_revision(&self) -> &str {
        if self.config_revision.is_empty() {
            &self.revision_id
        } else {
            &self.config_revision
        }
    }

    /// The function's log group: its `LoggingConfig.LogGroup`, else `/aws/lambda/<name>`.
    pub fn log_group(&self) -> String {
        self.logging
            .group
            .clone()
            .unwrap_or_else(|| format!("/aws/lambda/{}", self.name))
    }

    /// The host's view of the `LoggingConfig`.
    fn log_config(&self) -> tributary_functions::LogConfig {
        let json = self.logging.format == "JSON";
        tributary_functions::LogConfig {
            group: self.log_group(),
            json,
            application_level: self.logging.application_level.clone().filter(|_| json),
            system_level: self.logging.system_level.clone().filter(|_| json),
        }
    }

    /// `FunctionConfiguration` with its state, as GetFunction returns it; `arn` is the
    /// `FunctionArn` to show (qualified as the caller named the function).
    pub fn configuration_as(&self, app: &Lambda, arn: String) -> FunctionConfiguration {
        let mut c = self.listed_as(app, arn);
        app.state.render_state(self, &mut c, true);
        c
    }

    /// `FunctionConfiguration` with the unqualified ARN and its state, as JSON.
    pub fn configuration(&self, app: &Lambda) -> Value {
        output(&self.configuration_as(app, self.arn(app)))
    }

    /// `FunctionConfiguration` without state members, as list operations return it.
    fn listed_as(&self, app: &Lambda, arn: String) -> FunctionConfiguration {
        let json_logs = self.logging.format == "JSON";
        let level =
            |l: &Option<String>| json_logs.then(|| l.clone().unwrap_or_else(|| "INFO".to_owned()));
        // Published versions of a SnapStart function run from a snapshot on AWS: `On`.
        let optimized = self.snap_start && self.version != "$LATEST";
        FunctionConfiguration {
            function_name: Some(self.name.clone()),
            function_arn: Some(arn),
            runtime: Some(self.runtime.clone()),
            role: Some(self.role.clone()),
            handler: Some(self.handler.clone()),
            code_size: Some(self.code_size),
            description: Some(self.description.clone()),
            timeout: Some(int32(self.timeout)),
            memory_size: Some(int32(self.memory_size)),
            last_modified: Some(lambda_timestamp(self.last_modified_ms)),
            code_sha256: Some(self.code_sha256.clone()),
            version: Some(self.version.clone()),
            dead_letter_config: self.dead_letter_target.as_ref().map(|t| DeadLetterConfig {
                target_arn: Some(t.clone()),
            }),
            environment: self.environment.as_ref().map(|env| EnvironmentResponse {
                variables: Some(env.clone()),
                error: None,
            }),
            tracing_config: Some(TracingConfigResponse {
                mode: Some(self.tracing_mode.clone()),
            }),
            revision_id: Some(self.revision_id.clone()),
            layers: (!self.layers.is_empty()).then(|| layers::configuration(app, &self.layers)),
            package_type: Some("Zip".to_owned()),
            architectures: Some(self.architectures.clone()),
            ephemeral_storage: Some(EphemeralStorage {
                size: int32(self.ephemeral_storage),
            }),
            snap_start: Some(SnapStartResponse {
                apply_on: Some(
                    if self.snap_start {
                        "PublishedVersions"
                    } else {
                        "None"
                    }
                    .to_owned(),
                ),
                optimization_status: Some(if optimized { "On" } else { "Off" }.to_owned()),
            }),
            runtime_version_config: Some(RuntimeVersionConfig {
                runtime_version_arn: Some(runtime_version_arn(&app.cfg.region, &self.runtime)),
                error: None,
            }),
            logging_config: Some(LoggingConfig {
                log_format: Some(self.logging.format.clone()),
                application_log_level: level(&self.logging.application_level),
                system_log_level: level(&self.logging.system_level),
                log_group: Some(self.log_group()),
            }),
            // Not served here: VPCs, KMS keys, code signing, images, file systems, tenancy,
            // capacity providers, durable and accelerator configs, `MasterArn` (Lambda@Edge),
            // `ConfigSha256`; the state members are `render_state`'s.
            ..Default::default()
        }
    }
}

/// A stored number (checked against the model's range when it was stored) as the model's
/// integer.
fn int32(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

/// The `RuntimeVersionArn` of a managed runtime: `arn:aws:lambda:<region>::runtime:<64 hex>`.
/// AWS's hex names a build of the runtime; here it is the SHA-256 of the runtime's name, so it
/// is stable, differs per runtime, and changes when the function's runtime does.
fn runtime_version_arn(region: &str, runtime: &str) -> String {
    let digest = Sha256::digest(runtime.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("arn:aws:lambda:{region}::runtime:{hex}")
}

/// Applies a `LoggingConfig` request member to `current`, as a partial update: members not
/// given keep their values. Switching to JSON sets both levels to INFO unless given; switching
/// to Text drops them; a level with the Text format is refused as AWS refuses it.
fn apply_logging(
    cfg: Option<&LoggingConfig>,
    current: &LoggingDoc,
) -> Result<LoggingDoc, AwsError> {
    let Some(cfg) = cfg else {
        return Ok(current.clone());
    };
    let enum_member = |given: &Option<String>,
                       field: &str,
                       allowed: &[&str]|
     -> Result<Option<String>, AwsError> {
        match given.as_deref() {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
            Some(v) => Err(constraint(
                &Value::String(v.into()),
                field,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            )),
        }
    };
    let format = enum_member(
        &cfg.log_format,
        "loggingConfig.logFormat",
        &["JSON", "Text"],
    )?;
    let app_level = enum_member(
        &cfg.application_log_level,
        "loggingConfig.applicationLogLevel",
        APPLICATION_LOG_LEVELS,
    )?;
    let sys_level = enum_member(
        &cfg.system_log_level,
        "loggingConfig.systemLogLevel",
        SYSTEM_LOG_LEVELS,
    )?;
    let group = cfg.log_group.as_deref();
    if let Some(g) = group {
        let v = Value::String(g.into());
        if g.is_empty() {
            return Err(constraint(
                &v,
                "loggingConfig.logGroup",
                "Member must have length greater than or equal to 1",
            ));
        }
        if g.len() > 512 {
            return Err(constraint(
                &v,
                "loggingConfig.logGroup",
                "Member must have length less than or equal to 512",
            ));
        }
        if !g
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_/#".contains(&b))
        {
            return Err(constraint(
                &v,
                "loggingConfig.logGroup",
                r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+",
            ));
        }
    }
    let mut next = current.clone();
    if let Some(f) = format {
        next.format = f;
    }
    if let Some(g) = group {
        next.group = Some(g.to_owned());
    }
    if next.format == "JSON" {
        let info = || Some("INFO".to_owned());
        next.application_level = app_level.or(next.application_level).or_else(info);
        next.system_level = sys_level.or(next.system_level).or_else(info);
    } else {
        if app_level.is_some() || sys_level.is_some() {
            return Err(lambda_err::invalid_parameter(LOG_LEVEL_NEEDS_JSON));
        }
        next.application_level = None;
        next.system_level = None;
    }
    Ok(next)
}

/// `SnapStart.ApplyOn`, when the request sets it: whether it is `PublishedVersions`. AWS takes
/// it for every runtime, not only the ones it documents (Java, Python 3.12+, .NET 8+).
fn parse_snap_start(s: Option<&SnapStart>) -> Result<Option<bool>, AwsError> {
    match s.and_then(|s| s.apply_on.as_deref()) {
        None => Ok(None),
        Some("PublishedVersions") => Ok(Some(true)),
        Some("None") => Ok(Some(false)),
        Some(other) => Err(constraint(
            &Value::String(other.into()),
            "snapStart.applyOn",
            "Member must satisfy enum value set: [PublishedVersions, None]",
        )),
    }
}

/// `TracingConfig.Mode`, when the request sets it.
fn parse_tracing(t: Option<&TracingConfig>) -> Result<Option<String>, AwsError> {
    match t.and_then(|t| t.mode.as_deref()) {
        None => Ok(None),
        Some(m @ ("Active" | "PassThrough")) => Ok(Some(m.to_owned())),
        Some(other) => Err(constraint(
            &Value::String(other.into()),
            "tracingConfig.mode",
            "Member must satisfy enum value set: [Active, PassThrough]",
        )),
    }
}

/// `EphemeralStorage.Size` (512..10240 MB), when the request sets it. `Size` is required: the
/// validator has refused an `EphemeralStorage` without it.
fn parse_ephemeral_storage(e: Option<&EphemeralStorage>) -> Result<Option<i64>, AwsError> {
    let Some(e) = e else {
        return Ok(None);
    };
    let size = i64::from(e.size);
    check_range(size, 512, 10240, "ephemeralStorage.size")?;
    Ok(Some(size))
}

/// The document id of version `n` of `name`.
fn version_id(name: &str, n: u64) -> String {
    format!("{name}:{n:010}")
}

/// The documents of `kind` whose id starts with `name:` (the versions or aliases of a function).
fn docs_with_prefix<'a>(
    cat: &'a tributary_store::Catalog,
    kind: &'a str,
    name: &str,
) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
    let prefix = format!("{name}:");
    cat.docs
        .range((kind.to_owned(), prefix.clone())..)
        .take_while(move |((k, id), _)| k == kind && id.starts_with(&prefix))
        .map(|((_, id), v)| (id.as_str(), v))
}

/// A function reference resolved to the version that serves it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The function's `$LATEST` document.
    pub function: FunctionDoc,
    /// The version the reference names: `$LATEST`, a number, or the alias's primary version.
    pub doc: FunctionDoc,
    /// The qualifier as the caller gave it (version, alias or `$LATEST`).
    pub qualifier: Option<String>,
    /// The alias the qualifier names.
    pub alias: Option<AliasDoc>,
}

impl Target {
    /// The ARN the way the caller named the function: qualified exactly when they qualified it
    /// (spec §1.3).
    pub fn shown_arn(&self, app: &Lambda) -> String {
        let arn = self.function.arn(app);
        match &self.qualifier {
            Some(q) => format!("{arn}:{q}"),
            None => arn,
        }
    }
}

/// A 204 answer.
fn no_content() -> axum::response::Response {
    let mut r = tributary_service::json::rest_ok(204, &json!({}));
    *r.body_mut() = axum::body::Body::empty();
    r
}

/// A generated output as a REST-JSON answer with `status`.
fn answer<T: Serialize>(status: u16, out: &T) -> axum::response::Response {
    tributary_service::json::rest_ok(status, &output(out))
}

/// Dispatches a `/2015-03-31/functions...` request. `segments` is the whole path; `raw_query`
/// the undecoded query string.
async fn dispatch(
    app: &Lambda,
    method: &http::Method,
    segments: &[String],
    raw_query: &str,
    headers: &http::HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, AwsError> {
    use http::Method;
    let query = tributary_service::parse_query(raw_query);
    let input = model_check::check(method.as_str(), segments, &query, raw_query, headers, &body)?;
    let rest = &segments[2..];
    let r = match (method, rest) {
        (&Method::POST, []) => {
            let (req, bad_zip) = input.read_package()?;
            answer(201, &create_function(app, req, bad_zip).await?)
        }
        (&Method::GET, []) => answer(200, &list_functions(app, input.read()?, &query)?),
        (&Method::GET, [_]) => answer(200, &get_function(app, input.read()?)?),
        (&Method::DELETE, [_]) => {
            delete_function(app, input.read()?).await?;
            no_content()
        }
        (&Method::GET, [_, c]) if c == "configuration" => {
            answer(200, &get_function_configuration(app, input.read()?)?)
        }
        (&Method::PUT, [_, c]) if c == "configuration" => {
            answer(200, &update_configuration(app, input.read()?).await?)
        }
        (&Method::PUT, [_, c]) if c == "code" => {
            let (req, bad_zip) = input.read_package()?;
            answer(200, &update_code(app, req, bad_zip).await?)
        }
        (&Method::POST, [name, i]) if i == "invocations" => {
            // Invoke answers the function's payload with headers, not a JSON structure: it
            // reads its request itself.
            match invoke::invoke(app, name, &query, headers, body).await {
                Ok(r) => r,
                // Throttles carry a `Retry-After` header.
                Err(e) if e.code == "TooManyRequestsException" => invoke::error_response(&e),
                Err(e) => return Err(e),
            }
        }
        (&Method::POST, [_, v]) if *v == "versions" => {
            answer(201, &versions::publish_version(app, input.read()?).await?)
        }
        (&Method::GET, [_, v]) if *v == "versions" => {
            answer(200, &versions::list_versions(app, input.read()?, &query)?)
        }
        (&Method::POST, [_, a]) if a == "aliases" => {
            answer(201, &versions::create_alias(app, input.read()?).await?)
        }
        (&Method::GET, [_, a]) if a == "aliases" => {
            answer(200, &versions::list_aliases(app, input.read()?, &query)?)
        }
        (&Method::GET, [_, a, _]) if a == "aliases" => {
            answer(200, &versions::get_alias(app, input.read()?)?)
        }
        (&Method::PUT, [_, a, _]) if a == "aliases" => {
            answer(200, &versions::update_alias(app, input.read()?).await?)
        }
        (&Method::DELETE, [_, a, _]) if a == "aliases" => {
            versions::delete_alias(app, input.read()?).await?;
            no_content()
        }
        (&Method::POST, [_, p]) if p == "policy" => {
            answer(201, &policy::add_permission(app, input.read()?).await?)
        }
        (&Method::GET, [_, p]) if p == "policy" => {
            answer(200, &policy::get_policy(app, input.read()?)?)
        }
        (&Method::DELETE, [_, p, _]) if p == "policy" => {
            policy::remove_permission(app, input.read()?).await?;
            no_content()
        }
        _ => return Err(crate::unknown_rest_operation(method, rest)),
    };
    Ok(r)
}

/// Dispatches the Lambda operations that live under other API dates:
/// `/2017-10-31/functions/{name}/concurrency` (Put/DeleteFunctionConcurrency),
/// `/2019-09-30/functions/{name}/concurrency` (GetFunctionConcurrency),
/// `/2019-09-25/functions/{name}/event-invoke-config`, `/2018-10-31/layers`,
/// `/2016-08-19/account-settings` (GetAccountSettings) and `/2017-03-31/tags/{arn}`.
/// `segments` is the whole path; `raw_query` the undecoded query string (UntagResource
/// repeats `tagKeys`).
async fn dispatch_dated(
    app: &Lambda,
    method: &http::Method,
    segments: &[String],
    raw_query: &str,
    body: Bytes,
) -> Result<axum::response::Response, AwsError> {
    use http::Method;
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let query = tributary_service::parse_query(raw_query);
    let input = model_check::check(
        method.as_str(),
        segments,
        &query,
        raw_query,
        &http::HeaderMap::new(),
        &body,
    )?;
    let r = match (method, seg.as_slice()) {
        (&Method::PUT, ["2017-10-31", "functions", _, "concurrency"]) => {
            answer(200, &concurrency::put(app, input.read()?).await?)
        }
        (&Method::DELETE, ["2017-10-31", "functions", _, "concurrency"]) => {
            concurrency::delete(app, input.read()?).await?;
            no_content()
        }
        (&Method::GET, ["2019-09-30", "functions", _, "concurrency"]) => {
            answer(200, &concurrency::get(app, input.read()?)?)
        }
        (_, ["2019-09-25", "functions", _, "event-invoke-config", rest @ ..]) => {
            match (method, rest) {
                (&Method::PUT, []) => answer(
                    200,
                    &invoke_config::put(
                        app,
                        input
                            .read::<types::PutFunctionEventInvokeConfigRequest>()?
                            .into(),
                        true,
                    )
                    .await?,
                ),
                (&Method::POST, []) => answer(
                    200,
                    &invoke_config::put(
                        app,
                        input
                            .read::<types::UpdateFunctionEventInvokeConfigRequest>()?
                            .into(),
                        false,
                    )
                    .await?,
                ),
                (&Method::GET, []) => answer(200, &invoke_config::get(app, input.read()?)?),
                (&Method::DELETE, []) => {
                    invoke_config::delete(app, input.read()?).await?;
                    no_content()
                }
                (&Method::GET, ["list"]) => answer(200, &invoke_config::list(app, input.read()?)?),
                _ => return Err(crate::unknown_rest_operation(method, segments)),
            }
        }
        (_, ["2018-10-31", "layers", rest @ ..]) => {
            let find = query.get("find").map(String::as_str);
            match (method, rest) {
                (&Method::GET, []) if find == Some("LayerVersion") => {
                    answer(200, &layers::get_by_arn(app, input.read()?)?)
                }
                (&Method::GET, []) => answer(200, &layers::list(app, input.read()?)?),
                (&Method::POST, [_, v]) if *v == "versions" => {
                    let (req, bad_zip) = input.read_package()?;
                    answer(201, &layers::publish(app, req, bad_zip).await?)
                }
                (&Method::GET, [_, v]) if *v == "versions" => {
                    answer(200, &layers::list_versions(app, input.read()?)?)
                }
                // The version number as the path gave it: AWS's messages quote it.
                (&Method::GET, [_, v, n]) if *v == "versions" => {
                    answer(200, &layers::get(app, input.read()?, n)?)
                }
                (&Method::DELETE, [_, v, n]) if *v == "versions" => {
                    layers::delete(app, input.read()?, n).await?;
                    no_content()
                }
                _ => return Err(crate::unknown_rest_operation(method, segments)),
            }
        }
        (&Method::GET, ["2016-08-19", "account-settings"]) => {
            answer(200, &concurrency::account_settings(app))
        }
        (_, ["2017-03-31", "tags", _]) => {
            match tags::dispatch(app, method, segments, &input).await? {
                Some(v) => answer(200, &v),
                None => no_content(),
            }
        }
        _ => return Err(crate::unknown_rest_operation(method, segments)),
    };
    Ok(r)
}

/// Brings in-memory state in line with the store at start: reserved concurrency.
fn restore(app: &Lambda) {
    let cat = app.store.catalog();
    for (_, v) in cat.docs_of(FUNCTION_KIND) {
        if let Ok(doc) = serde_json::from_value::<FunctionDoc>(v.clone()) {
            if doc.reserved_concurrency.is_some() {
                app.host
                    .set_reserved_concurrency(&doc.name, doc.reserved_concurrency);
            }
        }
    }
}

fn validate_name(name: &str) -> Result<(), AwsError> {
    if parse_function_ref(name).is_none() || name.len() > 140 {
        return Err(constraint(
            &Value::String(name.into()),
            "functionName",
            // The model's current pattern (the generic validator quotes the same one).
            &format!(
                "Member must satisfy regular expression pattern: {}",
                model_check::model_pattern("FunctionName")
            ),
        ));
    }
    Ok(())
}

/// Whether `q` matches the model's `Qualifier` pattern (`$LATEST`, a version, an alias).
fn valid_qualifier(q: &str) -> bool {
    !q.is_empty()
        && q.len() <= 128
        && q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_$.".contains(&b))
}

/// Whether `q` names a published version (digits only), as opposed to `$LATEST` or an alias.
fn is_version_number(q: &str) -> bool {
    !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit())
}

/// The function a reference names, ignoring any qualifier (for operations on the function as
/// a whole); not found is `Function not found: <unqualified ARN>`.
fn resolve_function(app: &Lambda, name: &str) -> Result<FunctionDoc, AwsError> {
    validate_name(name)?;
    let r = parse_function_ref(name).ok_or_else(|| lambda_err::not_found("Function not found"))?;
    let arn = function_arn(&app.cfg.region, &app.cfg.account_id, &r.name);
    let foreign = r
        .account
        .as_deref()
        .is_some_and(|a| a != app.cfg.account_id)
        || r.region.as_deref().is_some_and(|g| g != app.cfg.region);
    FunctionDoc::load(app, &r.name)
        .filter(|_| !foreign)
        .ok_or_else(|| lambda_err::not_found(format!("Function not found: {arn}")))
}

/// Resolves a function reference (any accepted form, plus the request's `Qualifier`) to the
/// version that serves it. A qualifier in the name and a different `Qualifier` conflict.
pub fn resolve(app: &Lambda, name: &str, qualifier: Option<&str>) -> Result<Target, AwsError> {
    validate_name(name)?;
    let r = parse_function_ref(name).ok_or_else(|| lambda_err::not_found("Function not found"))?;
    let param = qualifier.map(str::to_owned);
    if let Some(q) = &param {
        if !valid_qualifier(q) {
            return Err(constraint(
                &Value::String(q.clone()),
                "qualifier",
                &format!("Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"),
            ));
        }
    }
    let qualifier = match (r.qualifier.clone(), param) {
        (Some(a), Some(b)) if a != b => return Err(lambda_err::invalid_parameter(
            "The derived qualifier from the function name does not match the specified qualifier.",
        )),
        (a, b) => a.or(b),
    };
    let mut shown = function_arn(&app.cfg.region, &app.cfg.account_id, &r.name);
    if let Some(q) = &qualifier {
        shown = format!("{shown}:{q}");
    }
    let not_found = || lambda_err::not_found(format!("Function not found: {shown}"));
    let foreign = r
        .account
        .as_deref()
        .is_some_and(|a| a != app.cfg.account_id)
        || r.region.as_deref().is_some_and(|g| g != app.cfg.region);
    let function = FunctionDoc::load(app, &r.name)
        .filter(|_| !foreign)
        .ok_or_else(not_found)?;
    let (doc, alias) = match qualifier.as_deref() {
        None | Some("$LATEST") => (function.clone(), None),
        Some(q) if is_version_number(q) => (
            FunctionDoc::load_version(app, &r.name, q).ok_or_else(not_found)?,
            None,
        ),
        Some(q) => {
            let alias = AliasDoc::load(app, &r.name, q).ok_or_else(not_found)?;
            let doc = if alias.function_version == "$LATEST" {
                function.clone()
            } else {
                FunctionDoc::load_version(app, &r.name, &alias.function_version)
                    .ok_or_else(not_found)?
            };
            (doc, Some(alias))
        }
    };
    Ok(Target {
        function,
        doc,
        qualifier,
        alias,
    })
}

/// Refuses runtimes this server cannot run, including ones whose interpreter (python, node) it
/// cannot find: better at CreateFunction than as a failure at every Invoke.
fn validate_runtime(app: &Lambda, runtime: &str) -> Result<(), AwsError> {
    if SUPPORTED_RUNTIMES.contains(&runtime) {
        return tributary_functions::check_interpreter(app.host.config(), runtime)
            .map_err(|missing| lambda_err::invalid_parameter(missing.to_string()));
    }
    if KNOWN_RUNTIMES.contains(&runtime) {
        return Err(lambda_err::invalid_parameter(format!(
            "The runtime parameter of {runtime} is not supported by this server yet; supported runtimes: [{}]",
            SUPPORTED_RUNTIMES.join(", ")
        )));
    }
    Err(lambda_err::invalid_parameter(format!(
        "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
        SUPPORTED_RUNTIMES.join(", ")
    )))
}

fn validate_role(role: &str) -> Result<(), AwsError> {
    let ok = (|| {
        let rest = role.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        if !(partition.is_empty() || partition.starts_with("aws")) {
            return None;
        }
        let rest = rest.strip_prefix("iam::")?;
        let (acct, rest) = rest.split_once(':')?;
        if acct.len() != 12 || !acct.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let rest = rest.strip_prefix("role")?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        (!rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_/".contains(&b)))
        .then_some(())
    })();
    ok.ok_or_else(|| {
        constraint(
            &Value::String(role.into()),
            "role",
            &format!("Member must satisfy regular expression pattern: {ROLE_PATTERN}"),
        )
    })
}

/// `Environment.Variables`: `None` when `Environment` is not given; an `Environment` without
/// variables is an empty set.
fn parse_environment(
    env: Option<&Environment>,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let Some(env) = env else {
        return Ok(None);
    };
    let out = env.variables.clone().unwrap_or_default();
    let mut total = 0;
    for (k, v) in &out {
        let valid_key = k.len() >= 2
            && k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(AwsError::validation(
                "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
            ));
        }
        total += k.len() + v.len();
    }
    if total > 4096 {
        return Err(lambda_err::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {}",
            serde_json::to_string(&out).unwrap_or_default()
        )));
    }
    Ok(Some(out))
}

fn check_timeout_memory(
    timeout: Option<i32>,
    memory: Option<i32>,
) -> Result<(Option<i64>, Option<i64>), AwsError> {
    let timeout = timeout.map(i64::from);
    if let Some(t) = timeout {
        check_range(t, 1, 900, "timeout")?;
    }
    let memory = memory.map(i64::from);
    if let Some(m) = memory {
        check_range(m, 128, 10240, "memorySize")?;
    }
    Ok((timeout, memory))
}

fn check_description(description: Option<&str>) -> Result<(), AwsError> {
    match description {
        Some(d) if d.chars().count() > 256 => Err(constraint(
            &Value::String(d.into()),
            "description",
            "Member must have length less than or equal to 256",
        )),
        _ => Ok(()),
    }
}

fn check_handler(handler: &str) -> Result<(), AwsError> {
    if handler.len() > 128 {
        return Err(constraint(
            &Value::String(handler.into()),
            "handler",
            "Member must have length less than or equal to 128",
        ));
    }
    if handler.is_empty() || handler.chars().any(char::is_whitespace) {
        return Err(constraint(
            &Value::String(handler.into()),
            "handler",
            r"Member must satisfy regular expression pattern: [^\s]+",
        ));
    }
    Ok(())
}

/// `PreconditionFailedException` (412) unless `given` is absent or equals `current`.
fn check_revision(given: Option<&str>, current: &str) -> Result<(), AwsError> {
    match given {
        Some(rev) if rev != current => Err(AwsError::new(
            "PreconditionFailedException",
            412,
            REVISION_MISMATCH,
        )),
        _ => Ok(()),
    }
}

/// An uploaded deployment package, checked but not yet unpacked.
struct Package {
    zip: Vec<u8>,
    code_sha256: String,
    sha_hex: String,
}

fn bad_zip() -> AwsError {
    lambda_err::invalid_parameter(
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    )
}

/// Checks a deployment package: size limits and a readable zip whose entries stay inside
/// the code directory. Reading the central directory is cheap; unpacking happens while the
/// function is `Pending` (see [`state`]).
fn check_package(zip: Vec<u8>) -> Result<Package, AwsError> {
    if zip.len() > MAX_ZIPPED_BYTES {
        return Err(lambda_err::too_large(format!(
            "Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes"
        )));
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).map_err(|_| bad_zip())?;
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| bad_zip())?;
        if entry.enclosed_name().is_none() {
            return Err(bad_zip());
        }
        declared = declared.saturating_add(entry.size());
    }
    if declared > tributary_functions::MAX_UNZIPPED_BYTES {
        return Err(lambda_err::invalid_parameter(format!(
            "Unzipped size must be smaller than {} bytes",
            tributary_functions::MAX_UNZIPPED_BYTES
        )));
    }
    let sha = Sha256::digest(&zip);
    Ok(Package {
        code_sha256: B64.encode(sha),
        sha_hex: sha.iter().map(|b| format!("{b:02x}")).collect(),
        zip,
    })
}

/// Configuration this server would not apply: refused, never silently dropped.
fn refuse_unserved(file_systems: Option<&[FileSystemConfig]>) -> Result<(), AwsError> {
    for (member, what, given) in [("FileSystemConfigs", "File systems are", file_systems)] {
        if given.is_some_and(|a| !a.is_empty()) {
            return Err(lambda_err::invalid_parameter(format!(
                "{what} not supported by this server yet ({member})"
            )));
        }
    }
    Ok(())
}

/// `Layers`: `None` when not given, else the version ARNs (checked to exist).
fn parse_layers(
    app: &Lambda,
    layers: Option<Vec<String>>,
) -> Result<Option<Vec<String>>, AwsError> {
    let Some(arns) = layers else {
        return Ok(None);
    };
    layers::check_function_layers(app, &arns)?;
    Ok(Some(arns))
}

/// `DeadLetterConfig`: `None` when not given, `Some(None)` to remove it (no or an empty
/// `TargetArn`), else the queue or topic ARN.
fn parse_dead_letter(cfg: Option<&DeadLetterConfig>) -> Result<Option<Option<String>>, AwsError> {
    let Some(cfg) = cfg else {
        return Ok(None);
    };
    let target = cfg.target_arn.as_deref().unwrap_or_default();
    if target.is_empty() {
        return Ok(Some(None));
    }
    let service = target.split(':').nth(2).unwrap_or_default();
    if !target.starts_with("arn:aws:") || !matches!(service, "sqs" | "sns") {
        return Err(lambda_err::invalid_parameter(format!(
            "The provided target arn {target} is invalid: a dead-letter queue is an SQS queue or an SNS topic"
        )));
    }
    Ok(Some(Some(target.to_owned())))
}

/// Where the code of a create or code update comes from: `ZipFile` (already decoded from its
/// base64), or an object of this server's S3.
struct CodeSource<'a> {
    /// The refusal of a `ZipFile` that was given but is not base64 (left out of the request).
    bad_zip: Option<AwsError>,
    zip_file: Option<Blob>,
    s3_bucket: Option<&'a str>,
    s3_key: Option<&'a str>,
    s3_object_version: Option<&'a str>,
    image_uri: Option<&'a str>,
}

impl<'a> CodeSource<'a> {
    fn of_code(code: &'a mut FunctionCode, bad_zip: Option<AwsError>) -> CodeSource<'a> {
        CodeSource {
            bad_zip,
            zip_file: code.zip_file.take(),
            s3_bucket: code.s3_bucket.as_deref(),
            s3_key: code.s3_key.as_deref(),
            s3_object_version: code.s3_object_version.as_deref(),
            image_uri: code.image_uri.as_deref(),
        }
    }

    fn of_update(
        req: &'a mut UpdateFunctionCodeRequest,
        bad_zip: Option<AwsError>,
    ) -> CodeSource<'a> {
        CodeSource {
            bad_zip,
            zip_file: req.zip_file.take(),
            s3_bucket: req.s3_bucket.as_deref(),
            s3_key: req.s3_key.as_deref(),
            s3_object_version: req.s3_object_version.as_deref(),
            image_uri: req.image_uri.as_deref(),
        }
    }
}

/// The package of a create or code update: `ZipFile`, or an object of this server's S3
/// (`S3Bucket`, `S3Key`, `S3ObjectVersion`), read as Lambda reads it.
fn package_of(app: &Lambda, src: CodeSource<'_>) -> Result<Package, AwsError> {
    if let Some(refusal) = src.bad_zip {
        return Err(refusal);
    }
    if let Some(zip) = src.zip_file {
        return check_package(zip.0);
    }
    if let Some(bucket) = src.s3_bucket {
        let key = src.s3_key.unwrap_or_default();
        let zip = app
            .objects
            .get(bucket, key, src.s3_object_version)
            .map_err(|e| {
                lambda_err::invalid_parameter(format!(
                    "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}",
                    e.code, e.message
                ))
            })?;
        return check_package(zip);
    }
    if src.image_uri.is_some() {
        return Err(lambda_err::invalid_parameter(
            "Please don't provide ImageUri when updating a function with packageType Zip.",
        ));
    }
    Err(lambda_err::invalid_parameter(
        "Please provide a source for function code.",
    ))
}

fn validate_architectures(list: Option<Vec<String>>) -> Result<Option<Vec<String>>, AwsError> {
    let Some(names) = list else {
        return Ok(None);
    };
    let shown = format!("[{}]", names.join(", "));
    if names.len() != 1 {
        return Err(constraint(
            &Value::String(shown),
            "architectures",
            "Member must have length less than or equal to 1",
        ));
    }
    if !matches!(names[0].as_str(), "x86_64" | "arm64") {
        return Err(constraint(
            &Value::String(shown),
            "architectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]",
        ));
    }
    Ok(Some(names))
}

/// CreateFunction; `bad_zip` is the refusal of a `ZipFile` that is not base64 (see
/// `package_of`).
async fn create_function(
    app: &Lambda,
    mut req: CreateFunctionRequest,
    bad_zip: Option<AwsError>,
) -> Result<FunctionConfiguration, AwsError> {
    // FunctionName, Role and Code are required: the validator has refused a request without
    // them.
    let name = req.function_name.as_str();
    validate_name(name)?;
    let fref = parse_function_ref(name)
        .ok_or_else(|| lambda_err::invalid_parameter("Invalid function name"))?;
    if fref.qualifier.is_some() {
        return Err(lambda_err::invalid_parameter(
            "Unsupported function name with qualifier",
        ));
    }
    let name = fref.name;
    let role = req.role.as_str();
    validate_role(role)?;
    crate::roles::check_assumable(app, role)?;
    let package_type = req.package_type.as_deref().unwrap_or("Zip");
    if package_type != "Zip" {
        return Err(lambda_err::invalid_parameter(
            "Image package type is not supported by this server; use a Zip package",
        ));
    }
    let runtime = req.runtime.as_deref();
    let handler = req.handler.as_deref();
    let (Some(runtime), Some(handler)) = (runtime, handler) else {
        return Err(lambda_err::invalid_parameter(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ));
    };
    validate_runtime(app, runtime)?;
    check_handler(handler)?;
    let (timeout, memory) = check_timeout_memory(req.timeout, req.memory_size)?;
    let environment = parse_environment(req.environment.as_ref())?;
    let description = req.description.as_deref();
    check_description(description)?;
    let architectures =
        validate_architectures(req.architectures.take())?.unwrap_or_else(|| vec!["x86_64".into()]);
    let tags = tags::parse_tags(req.tags.take())?;
    let logging = apply_logging(req.logging_config.as_ref(), &LoggingDoc::default())?;
    let snap_start = parse_snap_start(req.snap_start.as_ref())?.unwrap_or(false);
    let tracing_mode = parse_tracing(req.tracing_config.as_ref())?.unwrap_or_else(pass_through);
    let ephemeral_storage = parse_ephemeral_storage(req.ephemeral_storage.as_ref())?.unwrap_or(512);
    refuse_unserved(req.file_system_configs.as_deref())?;
    let layers = parse_layers(app, req.layers.take())?.unwrap_or_default();
    let dead_letter_target = parse_dead_letter(req.dead_letter_config.as_ref())?.flatten();
    if let Some(target) = &dead_letter_target {
        crate::roles::check_destination(app, role, target)?;
    }
    let publish = req.publish.unwrap_or(false);
    let package = package_of(app, CodeSource::of_code(&mut req.code, bad_zip))?;
    let revision = uuid::Uuid::new_v4().to_string();
    let doc = FunctionDoc {
        name: name.clone(),
        runtime: runtime.to_owned(),
        role: role.to_owned(),
        handler: handler.to_owned(),
        timeout: timeout.unwrap_or(3),
        memory_size: memory.unwrap_or(128),
        description: description.unwrap_or("").to_owned(),
        environment,
        code_sha256: package.code_sha256.clone(),
        code_size: package.zip.len() as i64,
        code_blob: format!("code/{name}/{}", package.sha_hex),
        last_modified_ms: app.store.clock().now_millis(),
        revision_id: uuid::Uuid::new_v4().to_string(),
        architectures,
        version: latest(),
        config_revision: revision,
        last_version: if publish { 1 } else { 0 },
        reserved_concurrency: None,
        logging,
        snap_start,
        tracing_mode,
        ephemeral_storage,
        dead_letter_target,
        layers,
    };
    let version = publish.then(|| new_version(&doc, 1, None));
    let (stored, published) = (doc.clone(), version.clone());
    let arn = doc.arn(app);
    app.store
        .write(move |tx| {
            if tx.catalog().doc(FUNCTION_KIND, &stored.name).is_some() {
                return Err(lambda_err::conflict(format!(
                    "Function already exist: {}",
                    stored.name
                )));
            }
            tx.put_blob(&stored.code_blob, &package.zip)?;
            tx.put_doc(FUNCTION_KIND, &stored.name, to_json(&stored)?)?;
            if let Some(v) = &published {
                tx.put_doc(VERSION_KIND, &version_id(&v.name, 1), to_json(v)?)?;
            }
            if let Some(tags) = &tags {
                tags::put_tags_tx(tx, &arn, tags)?;
            }
            Ok(())
        })
        .await?;
    app.state.begin(&doc, Phase::Creating, None);
    let mut settling = vec![doc.clone()];
    if let Some(v) = &version {
        app.state.begin(v, Phase::Creating, None);
        settling.push(v.clone());
    }
    // As recorded on AWS: the create response shows no LastUpdateStatus, and with `Publish`
    // it describes version 1 (under the unqualified ARN).
    let shown = version.as_ref().unwrap_or(&doc);
    let mut c = shown.listed_as(app, doc.arn(app));
    app.state.render_state(shown, &mut c, false);
    settle(app, settling);
    Ok(c)
}

fn to_json(doc: &impl Serialize) -> Result<Value, AwsError> {
    serde_json::to_value(doc).map_err(|e| AwsError::internal(e.to_string()))
}

/// Version `n` of `latest`: an immutable snapshot with its own revision id.
fn new_version(latest: &FunctionDoc, n: u64, description: Option<&str>) -> FunctionDoc {
    let mut v = latest.clone();
    v.version = n.to_string();
    v.revision_id = uuid::Uuid::new_v4().to_string();
    v.config_revision = latest.config_revision().to_owned();
    v.last_version = 0;
    v.reserved_concurrency = None;
    if let Some(d) = description {
        v.description = d.to_owned();
    }
    v
}

async fn unpack(zip: &[u8], dir: &std::path::Path) -> Result<(), AwsError> {
    if dir.exists() {
        return Ok(());
    }
    let tmp = dir.with_extension(format!("tmp{}", uuid::Uuid::new_v4().simple()));
    let zip = zip.to_vec();
    let tmp2 = tmp.clone();
    let res = tokio::task::spawn_blocking(move || tributary_functions::unpack_zip(&zip, &tmp2))
        .await
        .map_err(|e| AwsError::internal(e.to_string()))?;
    match res {
        Ok(_) => {
            if std::fs::rename(&tmp, dir).is_err() && !dir.exists() {
                return Err(lambda_err::service("Could not store function code"));
            }
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(match e {
                tributary_functions::CodeError::TooLarge => lambda_err::invalid_parameter(
                    "Unzipped size must be smaller than 262144000 bytes",
                ),
                tributary_functions::CodeError::Io(_) => {
                    lambda_err::service("Could not store function code")
                }
                _ => bad_zip(),
            })
        }
    }
}

fn get_function(app: &Lambda, req: GetFunctionRequest) -> Result<GetFunctionResponse, AwsError> {
    let t = resolve(app, &req.function_name, req.qualifier.as_deref())?;
    let code_ref = version_key(&t.doc.name, &t.doc.version);
    let tags = tags::tags_of(app, &t.function.arn(app));
    Ok(GetFunctionResponse {
        configuration: Some(t.doc.configuration_as(app, t.shown_arn(app))),
        code: Some(FunctionCodeLocation {
            repository_type: Some("S3".to_owned()),
            location: Some(format!(
                "{}/_tributary/functions/{code_ref}/code",
                app.cfg.endpoint_url
            )),
            // Zip packages only: no image, resolved object or KMS key to show.
            ..Default::default()
        }),
        tags: (!tags.is_empty()).then_some(tags),
        // Tags are read from this server's own store: they cannot fail to be read.
        tags_error: None,
        concurrency: t.function.reserved_concurrency.map(|r| Concurrency {
            reserved_concurrent_executions: Some(int32(i64::from(r))),
        }),
    })
}

fn get_function_configuration(
    app: &Lambda,
    req: GetFunctionConfigurationRequest,
) -> Result<FunctionConfiguration, AwsError> {
    let t = resolve(app, &req.function_name, req.qualifier.as_deref())?;
    Ok(t.doc.configuration_as(app, t.shown_arn(app)))
}

/// ListFunctions. `MaxItems` is read from the query string: a value that is not a number is not in
/// the typed request, and AWS's message quotes it.
fn list_functions(
    app: &Lambda,
    req: ListFunctionsRequest,
    query: &BTreeMap<String, String>,
) -> Result<ListFunctionsResponse, AwsError> {
    let max = tributary_service::json::max_items(query, 50)?;
    // `MasterRegion` and `FunctionVersion=ALL` (Lambda@Edge, every version) are not served:
    // the list is of `$LATEST`s.
    let marker = req.marker;
    let cat = app.store.catalog();
    let docs: Vec<FunctionDoc> = cat
        .docs_of(FUNCTION_KIND)
        .filter(|(id, _)| marker.as_deref().is_none_or(|m| *id > m))
        .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
        .take(max + 1)
        .collect();
    drop(cat);
    let more = docs.len() > max;
    let page: Vec<FunctionConfiguration> = docs
        .iter()
        .take(max)
        .map(|d| d.listed_as(app, d.arn(app)))
        .collect();
    Ok(ListFunctionsResponse {
        next_marker: more.then(|| docs[max - 1].name.clone()),
        functions: Some(page),
    })
}

/// Stores a new `$LATEST` (after a code or configuration change) unless it changed meanwhile,
/// then starts its `InProgress` transition. Returns what was stored.
async fn store_update(
    app: &Lambda,
    old: FunctionDoc,
    mut doc: FunctionDoc,
    new_blob: Option<Vec<u8>>,
) -> Result<FunctionDoc, AwsError> {
    doc.last_modified_ms = app.store.clock().now_millis();
    doc.revision_id = uuid::Uuid::new_v4().to_string();
    doc.config_revision = uuid::Uuid::new_v4().to_string();
    let stored = doc.clone();
    let arn = doc.arn(app);
    let expected = old.revision_id.clone();
    let old_blob = old.code_blob.clone();
    app.store
        .write(move |tx| {
            let current: Option<FunctionDoc> = tx
                .catalog()
                .doc(FUNCTION_KIND, &stored.name)
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            let Some(current) = current else {
                return Err(lambda_err::not_found(format!("Function not found: {arn}")));
            };
            if current.revision_id != expected {
                // Another update got in between this one's checks and its write.
                return Err(lambda_err::conflict(format!(
                    "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
                )));
            }
            // Fields other operations change without a new revision (PublishVersion's counter,
            // PutFunctionConcurrency) are taken as they are now, never from the snapshot.
            let mut stored = stored.clone();
            stored.last_version = current.last_version;
            stored.reserved_concurrency = current.reserved_concurrency;
            if let Some(zip) = &new_blob {
                tx.put_blob(&stored.code_blob, zip)?;
            }
            tx.put_doc(FUNCTION_KIND, &stored.name, to_json(&stored)?)?;
            if old_blob != stored.code_blob && !blob_in_use(tx.catalog(), &stored.name, &old_blob)
            {
                tx.delete_blob(&old_blob)?;
            }
            Ok(())
        })
        .await?;
    app.forget_spec(&doc.name, "$LATEST");
    app.state.begin(&doc, Phase::Updating, Some(old));
    Ok(doc)
}

/// Whether a version of `name` still uses the code blob `blob`.
fn blob_in_use(cat: &tributary_store::Catalog, name: &str, blob: &str) -> bool {
    let latest_uses = cat
        .doc(FUNCTION_KIND, name)
        .and_then(|v| v.get("code_blob"))
        .and_then(Value::as_str)
        == Some(blob);
    latest_uses
        || docs_with_prefix(cat, VERSION_KIND, name)
            .any(|(_, v)| v.get("code_blob").and_then(Value::as_str) == Some(blob))
}

async fn update_configuration(
    app: &Lambda,
    req: UpdateFunctionConfigurationRequest,
) -> Result<FunctionConfiguration, AwsError> {
    let old = resolve_function(app, &req.function_name)?;
    let arn = old.arn(app);
    let mut doc = old.clone();
    if let Some(r) = req.role {
        validate_role(&r)?;
        crate::roles::check_assumable(app, &r)?;
        doc.role = r;
    }
    if let Some(r) = req.runtime {
        validate_runtime(app, &r)?;
        doc.runtime = r;
    }
    if let Some(h) = req.handler {
        check_handler(&h)?;
        doc.handler = h;
    }
    if let Some(d) = req.description {
        check_description(Some(&d))?;
        doc.description = d;
    }
    let (timeout, memory) = check_timeout_memory(req.timeout, req.memory_size)?;
    if let Some(t) = timeout {
        doc.timeout = t;
    }
    if let Some(m) = memory {
        doc.memory_size = m;
    }
    if req.environment.is_some() {
        doc.environment = parse_environment(req.environment.as_ref())?;
    }
    doc.logging = apply_logging(req.logging_config.as_ref(), &doc.logging)?;
    if let Some(s) = parse_snap_start(req.snap_start.as_ref())? {
        doc.snap_start = s;
    }
    if let Some(t) = parse_tracing(req.tracing_config.as_ref())? {
        doc.tracing_mode = t;
    }
    if let Some(e) = parse_ephemeral_storage(req.ephemeral_storage.as_ref())? {
        doc.ephemeral_storage = e;
    }
    refuse_unserved(req.file_system_configs.as_deref())?;
    if let Some(l) = parse_layers(app, req.layers)? {
        doc.layers = l;
    }
    if let Some(target) = parse_dead_letter(req.dead_letter_config.as_ref())? {
        if let Some(t) = &target {
            crate::roles::check_destination(app, &doc.role, t)?;
        }
        doc.dead_letter_target = target;
    }
    app.state.check_idle(&old, &arn)?;
    check_revision(req.revision_id.as_deref(), &old.revision_id)?;
    let doc = store_update(app, old, doc, None).await?;
    // Rendered before the transition can complete: the answer says `InProgress`, as on AWS.
    let c = doc.configuration_as(app, arn);
    settle(app, vec![doc]);
    Ok(c)
}

/// UpdateFunctionCode; `bad_zip` is the refusal of a `ZipFile` that is not base64 (see
/// `package_of`).
async fn update_code(
    app: &Lambda,
    mut req: UpdateFunctionCodeRequest,
    bad_zip: Option<AwsError>,
) -> Result<FunctionConfiguration, AwsError> {
    let old = resolve_function(app, &req.function_name)?;
    let arn = old.arn(app);
    let package = package_of(app, CodeSource::of_update(&mut req, bad_zip))?;
    let architectures = validate_architectures(req.architectures.take())?;
    let publish = req.publish.unwrap_or(false);
    app.state.check_idle(&old, &arn)?;
    check_revision(req.revision_id.as_deref(), &old.revision_id)?;
    let mut doc = old.clone();
    doc.code_sha256 = package.code_sha256.clone();
    doc.code_size = package.zip.len() as i64;
    doc.code_blob = format!("code/{}/{}", doc.name, package.sha_hex);
    if let Some(a) = architectures {
        doc.architectures = a;
    }
    if req.dry_run.unwrap_or(false) {
        return Ok(doc.configuration_as(app, arn));
    }
    let doc = store_update(app, old, doc, Some(package.zip)).await?;
    if !publish {
        let c = doc.configuration_as(app, arn);
        settle(app, vec![doc]);
        return Ok(c);
    }
    // Publishing with the update: the new version is `Pending` until the code is ready.
    let version = match versions::publish(app, &doc.name, None, None, None).await {
        Ok(v) => v,
        Err(e) => {
            settle(app, vec![doc]);
            return Err(e);
        }
    };
    app.state.begin(&version, Phase::Creating, None);
    let mut c = version.listed_as(app, format!("{arn}:{}", version.version));
    app.state.render_state(&version, &mut c, false);
    settle(app, vec![doc, version]);
    Ok(c)
}

async fn delete_function(app: &Lambda, req: DeleteFunctionRequest) -> Result<(), AwsError> {
    let t = resolve(app, &req.function_name, req.qualifier.as_deref())?;
    match t.qualifier.as_deref() {
        Some("$LATEST") => Err(lambda_err::invalid_parameter(
            "$LATEST version cannot be deleted without deleting the function.",
        )),
        Some(q) if is_version_number(q) => versions::delete_version(app, &t.doc).await,
        Some(_) => Err(lambda_err::invalid_parameter(
            "Deletion of aliases is not supported.",
        )),
        None => {
            let fname = t.function.name.clone();
            let arn = t.function.arn(app);
            app.store
                .write(move |tx| {
                    let cat = tx.catalog();
                    let versions: Vec<String> = docs_with_prefix(cat, VERSION_KIND, &fname)
                        .map(|(id, _)| id.to_owned())
                        .collect();
                    let aliases: Vec<String> = docs_with_prefix(cat, ALIAS_KIND, &fname)
                        .map(|(id, _)| id.to_owned())
                        .collect();
                    let mut blobs: Vec<String> = docs_with_prefix(cat, VERSION_KIND, &fname)
                        .chain(cat.doc(FUNCTION_KIND, &fname).map(|v| ("", v)))
                        .filter_map(|(_, v)| v.get("code_blob")?.as_str().map(str::to_owned))
                        .collect();
                    blobs.sort();
                    blobs.dedup();
                    let policies: Vec<String> = std::iter::once(fname.clone())
                        .chain(
                            docs_with_prefix(cat, policy::POLICY_KIND, &fname)
                                .map(|(id, _)| id.to_owned()),
                        )
                        .collect();
                    for id in versions {
                        tx.delete_doc(VERSION_KIND, &id)?;
                    }
                    for id in aliases {
                        tx.delete_doc(ALIAS_KIND, &id)?;
                    }
                    for blob in blobs {
                        tx.delete_blob(&blob)?;
                    }
                    invoke_config::delete_all(tx, &fname)?;
                    tx.delete_doc(tags::TAGS_KIND, &arn)?;
                    for id in policies {
                        tx.delete_doc(policy::POLICY_KIND, &id)?;
                    }
                    tx.delete_doc(FUNCTION_KIND, &fname)
                })
                .await?;
            let fname = &t.function.name;
            app.forget_function_specs(fname);
            app.state.forget_function(fname);
            app.host.set_reserved_concurrency(fname, None);
            app.host.retire(fname).await;
            Ok(())
        }
    }
}

impl Lambda {
    fn code_dir(&self, name: &str, sha_hex: &str) -> PathBuf {
        self.cfg
            .work_dir
            .join("code")
            .join(format!("{name}-{}", &sha_hex[..16]))
    }

    fn forget_spec(&self, name: &str, version: &str) {
        self.forget_read_checks(name);
        self.specs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&version_key(name, version));
    }

    pub(crate) fn read_checks(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), ReadCheck>> {
        self.read_checks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops the kept stream-read checks of a function (its role may have changed).
    fn forget_read_checks(&self, name: &str) {
        self.read_checks().retain(|(f, _), _| f != name);
    }

    fn forget_function_specs(&self, name: &str) {
        self.forget_read_checks(name);
        self.specs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|key, _| {
                key.strip_prefix(name)
                    .is_none_or(|rest| !(rest.is_empty() || rest.starts_with(':')))
            });
    }

    /// The execution role's credentials for a function, as Lambda assumes the role; `None`
    /// when the role cannot be assumed (then the function runs with the `test` keys, and the
    /// would-be failure is on record as a denial) or under `--iam off`.
    async fn role_credentials(
        &self,
        doc: &FunctionDoc,
    ) -> Option<tributary_service::iam::TemporaryCredentials> {
        if self.guard.mode() == tributary_service::iam::IamMode::Off {
            return None;
        }
        match self
            .roles
            .assume_for_service(
                "lambda.amazonaws.com",
                &doc.role,
                &doc.name,
                ROLE_SESSION_SECS,
            )
            .await
        {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!(function = %doc.name, role = %doc.role, error = %e.message,
                    "the execution role cannot be assumed; running with the test keys");
                None
            }
        }
    }

    /// The runnable spec of a function version, unpacking its code from the store if needed.
    pub async fn function_spec(&self, doc: &FunctionDoc) -> Result<Arc<FunctionSpec>, AwsError> {
        let key = version_key(&doc.name, &doc.version);
        let now = self.store.clock().now_millis();
        if let Some(c) = self
            .specs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if c.config_revision == doc.config_revision() && now < c.renew_at_ms {
                return Ok(c.spec.clone());
            }
        }
        let credentials = self.role_credentials(doc).await;
        let renew_at_ms = credentials
            .as_ref()
            .map_or(i64::MAX, |c| c.expires_at_ms - RENEW_BEFORE_MS);
        // New credentials make a new revision: warm environments holding the old ones are
        // not reused.
        let revision = match &credentials {
            Some(c) => format!("{}/{}", doc.config_revision(), c.expires_at_ms),
            None => doc.config_revision().to_owned(),
        };
        let sha_hex = doc
            .code_blob
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let dir = self.code_dir(&doc.name, &sha_hex);
        if !dir.exists() {
            let zip = self
                .store
                .get_blob(&doc.code_blob)?
                .ok_or_else(|| lambda_err::service("Function code is missing"))?;
            unpack(&zip, &dir).await?;
        }
        let layers_dir = layers::merged_dir(self, &doc.layers).await?;
        let spec = Arc::new(FunctionSpec {
            layers_dir,
            name: doc.name.clone(),
            function_arn: doc.arn(self),
            runtime: doc.runtime.clone(),
            handler: doc.handler.clone(),
            timeout_secs: doc.timeout as u32,
            memory_mb: doc.memory_size as u32,
            environment: doc.environment.clone().unwrap_or_default(),
            code_dir: dir,
            revision,
            version: doc.version.clone(),
            logging: doc.log_config(),
            credentials: credentials.map(|c| tributary_functions::RoleCredentials {
                access_key_id: c.access_key_id,
                secret_access_key: c.secret_access_key,
                session_token: c.session_token,
            }),
        });
        self.specs.lock().unwrap_or_else(|p| p.into_inner()).insert(
            key,
            CachedSpec {
                spec: spec.clone(),
                config_revision: doc.config_revision().to_owned(),
                renew_at_ms,
            },
        );
        Ok(spec)
    }
}

/// Serves a function version's code zip (the `Code.Location` of GetFunction): `name` is the
/// function name, or `name:N` for a published version.
pub fn code_zip(app: &Lambda, name: &str) -> Result<Vec<u8>, AwsError> {
    let not_found = || {
        lambda_err::not_found(format!(
            "Function not found: {}",
            function_arn_of(app, name)
        ))
    };
    let doc = match name.split_once(':') {
        Some((fname, version)) => FunctionDoc::load_version(app, fname, version),
        None => FunctionDoc::load(app, name),
    }
    .ok_or_else(not_found)?;
    app.store
        .get_blob(&doc.code_blob)?
        .ok_or_else(|| lambda_err::not_found("Code not found"))
}

pub fn function_arn_of(app: &Lambda, name: &str) -> String {
    function_arn(&app.cfg.region, &app.cfg.account_id, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_follow_the_model() {
        assert!(valid_qualifier("$LATEST"));
        assert!(valid_qualifier("12"));
        assert!(valid_qualifier("live-2_b"));
        assert!(!valid_qualifier(""));
        assert!(!valid_qualifier("a/b"));
        assert!(is_version_number("7"));
        assert!(!is_version_number("$LATEST"));
        assert!(!is_version_number("v1"));
    }

    #[test]
    fn revision_checks_answer_412() {
        assert!(check_revision(None, "a").is_ok());
        assert!(check_revision(Some("a"), "a").is_ok());
        let e = check_revision(Some("b"), "a").unwrap_err();
        assert_eq!((e.code, e.status), ("PreconditionFailedException", 412));
        assert_eq!(e.message, REVISION_MISMATCH);
    }

    #[test]
    fn version_ids_sort_numerically() {
        assert!(version_id("f", 9) < version_id("f", 10));
        assert_eq!(version_id("f", 3), "f:0000000003");
    }

    #[test]
    fn packages_are_checked_before_anything_is_stored() {
        assert_eq!(
            check_package(b"not a zip".to_vec()).err().map(|e| e.code),
            Some("InvalidParameterValueException")
        );
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            w.start_file("../escape.py", zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut w, b"x").unwrap();
            w.finish().unwrap();
        }
        assert_eq!(
            check_package(buf.into_inner()).err().map(|e| e.message),
            Some(bad_zip().message)
        );
    }
}

//! Lambda functions (REST-JSON, `/2015-03-31/functions`): create, get, list, update
//! configuration, delete and invoke. Function configuration lives in the store as documents;
//! code zips live in the store as blobs and are unpacked under the work dir on demand.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tributary_functions::{FunctionSpec, InvokeRequest};
use tributary_model::arn::{function_arn, parse_function_ref};
use tributary_model::clock::lambda_timestamp;
use tributary_model::AwsError;

use crate::protocol::{check_range, constraint, lambda_err, Req};
use crate::App;

pub const FUNCTION_KIND: &str = "function";

/// Runtimes this server can run as local processes.
pub const SUPPORTED_RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "provided.al2",
    "provided.al2023",
];

/// Runtimes AWS knows that this server cannot run yet.
const KNOWN_RUNTIMES: &[&str] = &[
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
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
const NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";

/// A function's stored configuration.
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
}

impl FunctionDoc {
    pub fn load(app: &App, name: &str) -> Option<FunctionDoc> {
        let cat = app.store.catalog();
        cat.doc(FUNCTION_KIND, name)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    fn arn(&self, app: &App) -> String {
        function_arn(&app.cfg.region, &app.cfg.account_id, &self.name)
    }

    /// `FunctionConfiguration` as Lambda returns it.
    pub fn configuration(&self, app: &App) -> Value {
        let mut c = json!({
            "FunctionName": self.name,
            "FunctionArn": self.arn(app),
            "Runtime": self.runtime,
            "Role": self.role,
            "Handler": self.handler,
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": lambda_timestamp(self.last_modified_ms),
            "CodeSha256": self.code_sha256,
            "Version": "$LATEST",
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": self.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": self.architectures,
            "EphemeralStorage": {"Size": 512},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", self.name)},
        });
        if let Some(env) = &self.environment {
            c["Environment"] = json!({ "Variables": env });
        }
        c
    }
}

/// Dispatches a `/2015-03-31/functions...` request. `rest` is the path after `functions`.
pub async fn dispatch(
    app: &Arc<App>,
    method: &http::Method,
    rest: &[String],
    query: &BTreeMap<String, String>,
    headers: &http::HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, AwsError> {
    use crate::protocol::{parse_body, rest_ok};
    use http::Method;
    let r = match (method, rest) {
        (&Method::POST, []) => {
            let m = parse_body(&body)?;
            rest_ok(201, &create_function(app, Req(&m)).await?)
        }
        (&Method::GET, []) => rest_ok(200, &list_functions(app, query)?),
        (&Method::GET, [name]) => rest_ok(200, &get_function(app, name, query)?),
        (&Method::DELETE, [name]) => {
            delete_function(app, name, query).await?;
            let mut r = rest_ok(204, &json!({}));
            *r.body_mut() = axum::body::Body::empty();
            r
        }
        (&Method::GET, [name, c]) if c == "configuration" => {
            let doc = resolve(app, name, query)?.0;
            rest_ok(200, &doc.configuration(app))
        }
        (&Method::PUT, [name, c]) if c == "configuration" => {
            let m = parse_body(&body)?;
            rest_ok(200, &update_configuration(app, name, Req(&m)).await?)
        }
        (&Method::POST, [name, i]) if i == "invocations" => {
            invoke(app, name, query, headers, body).await?
        }
        _ => return Err(crate::unknown_rest_operation(method, rest)),
    };
    Ok(r)
}

fn validate_name(name: &str) -> Result<(), AwsError> {
    if parse_function_ref(name).is_none() || name.len() > 140 {
        return Err(constraint(
            &Value::String(name.into()),
            "functionName",
            &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
        ));
    }
    Ok(())
}

/// Resolves a function reference (any accepted form, plus `?Qualifier=`) to its document.
pub fn resolve(
    app: &App,
    name: &str,
    query: &BTreeMap<String, String>,
) -> Result<(FunctionDoc, Option<String>), AwsError> {
    validate_name(name)?;
    let r = parse_function_ref(name).ok_or_else(|| lambda_err::not_found("Function not found"))?;
    let qualifier = query.get("Qualifier").cloned().or(r.qualifier.clone());
    let mut shown = function_arn(&app.cfg.region, &app.cfg.account_id, &r.name);
    if let Some(q) = &qualifier {
        shown = format!("{shown}:{q}");
    }
    let foreign = r
        .account
        .as_deref()
        .is_some_and(|a| a != app.cfg.account_id)
        || r.region.as_deref().is_some_and(|g| g != app.cfg.region);
    let doc = FunctionDoc::load(app, &r.name).filter(|_| !foreign);
    let doc = doc.ok_or_else(|| lambda_err::not_found(format!("Function not found: {shown}")))?;
    if let Some(q) = &qualifier {
        if q != "$LATEST" {
            return Err(lambda_err::not_found(format!(
                "Function not found: {shown}"
            )));
        }
    }
    Ok((doc, qualifier))
}

fn validate_runtime(runtime: &str) -> Result<(), AwsError> {
    if SUPPORTED_RUNTIMES.contains(&runtime) {
        return Ok(());
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

fn parse_environment(req: &Req<'_>) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let Some(env) = req.obj_opt("Environment")? else {
        return Ok(None);
    };
    let vars = Req(env).obj_opt("Variables")?;
    let mut out = BTreeMap::new();
    let mut total = 0;
    for (k, v) in vars.into_iter().flatten() {
        let v = v
            .as_str()
            .ok_or_else(|| AwsError::serialization("Unexpected value type in payload"))?;
        let valid_key = k.len() >= 2
            && k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(AwsError::validation(
                "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
            ));
        }
        total += k.len() + v.len();
        out.insert(k.clone(), v.to_owned());
    }
    if total > 4096 {
        return Err(lambda_err::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {}",
            serde_json::to_string(&out).unwrap_or_default()
        )));
    }
    Ok(Some(out))
}

fn check_timeout_memory(req: &Req<'_>) -> Result<(Option<i64>, Option<i64>), AwsError> {
    let timeout = req.int_opt("Timeout")?;
    if let Some(t) = timeout {
        check_range(t, 1, 900, "timeout")?;
    }
    let memory = req.int_opt("MemorySize")?;
    if let Some(m) = memory {
        check_range(m, 128, 10240, "memorySize")?;
    }
    Ok((timeout, memory))
}

async fn create_function(app: &Arc<App>, req: Req<'_>) -> Result<Value, AwsError> {
    let name = req.str_req("FunctionName", "functionName")?;
    validate_name(name)?;
    let fref = parse_function_ref(name)
        .ok_or_else(|| lambda_err::invalid_parameter("Invalid function name"))?;
    if fref.qualifier.is_some() {
        return Err(lambda_err::invalid_parameter(
            "Unsupported function name with qualifier",
        ));
    }
    let name = fref.name;
    let role = req.str_req("Role", "role")?;
    validate_role(role)?;
    let package_type = req.str_opt("PackageType")?.unwrap_or("Zip");
    if package_type != "Zip" {
        return Err(lambda_err::invalid_parameter(
            "Image package type is not supported by this server; use a Zip package",
        ));
    }
    let runtime = req.str_opt("Runtime")?;
    let handler = req.str_opt("Handler")?;
    let (Some(runtime), Some(handler)) = (runtime, handler) else {
        return Err(lambda_err::invalid_parameter(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ));
    };
    validate_runtime(runtime)?;
    if handler.len() > 128 {
        return Err(constraint(
            &Value::String(handler.into()),
            "handler",
            "Member must have length less than or equal to 128",
        ));
    }
    let (timeout, memory) = check_timeout_memory(&req)?;
    let environment = parse_environment(&req)?;
    let code = req
        .obj_opt("Code")?
        .ok_or_else(|| constraint(&Value::Null, "code", "Member must not be null"))?;
    let code = Req(code);
    let zip = match code.str_opt("ZipFile")? {
        Some(b64) => B64.decode(b64).map_err(|_| {
            lambda_err::invalid_parameter(
                "Could not unzip uploaded file. Please check your file, then try to upload again.",
            )
        })?,
        None if code.get("S3Bucket").is_some() => {
            return Err(lambda_err::invalid_parameter(
                "Code from S3 is not supported by this server yet; use Code.ZipFile",
            ))
        }
        None => {
            return Err(lambda_err::invalid_parameter(
                "Please provide a source for function code.",
            ))
        }
    };
    if zip.len() > 52_428_800 {
        return Err(lambda_err::too_large(
            "Zipped size must be smaller than 52428800 bytes",
        ));
    }
    let sha = Sha256::digest(&zip);
    let code_sha256 = B64.encode(sha);
    let sha_hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    // Unpack now so a bad zip is refused before anything is stored.
    let code_dir = app.code_dir(&name, &sha_hex);
    unpack(&zip, &code_dir).await?;
    let architectures = match req.array_opt("Architectures")? {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => vec!["x86_64".to_owned()],
    };
    let doc = FunctionDoc {
        name: name.clone(),
        runtime: runtime.to_owned(),
        role: role.to_owned(),
        handler: handler.to_owned(),
        timeout: timeout.unwrap_or(3),
        memory_size: memory.unwrap_or(128),
        description: req.str_opt("Description")?.unwrap_or("").to_owned(),
        environment,
        code_sha256,
        code_size: zip.len() as i64,
        code_blob: format!("code/{name}/{sha_hex}"),
        last_modified_ms: app.store.clock().now_millis(),
        revision_id: uuid::Uuid::new_v4().to_string(),
        architectures,
    };
    let stored = doc.clone();
    let doc_json = serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
    app.store
        .write(move |tx| {
            if tx.catalog().doc(FUNCTION_KIND, &stored.name).is_some() {
                return Err(lambda_err::conflict(format!(
                    "Function already exist: {}",
                    stored.name
                )));
            }
            tx.put_blob(&stored.code_blob, &zip)?;
            tx.put_doc(FUNCTION_KIND, &stored.name, doc_json)
        })
        .await?;
    let mut c = doc.configuration(app);
    c["State"] = json!("Pending");
    c["StateReason"] = json!("The function is being created.");
    c["StateReasonCode"] = json!("Creating");
    Ok(c)
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
                tributary_functions::CodeError::Io(_) => lambda_err::service("Could not store function code"),
                _ => lambda_err::invalid_parameter(
                    "Could not unzip uploaded file. Please check your file, then try to upload again.",
                ),
            })
        }
    }
}

fn get_function(
    app: &App,
    name: &str,
    query: &BTreeMap<String, String>,
) -> Result<Value, AwsError> {
    let (doc, _) = resolve(app, name, query)?;
    Ok(json!({
        "Configuration": doc.configuration(app),
        "Code": {
            "RepositoryType": "S3",
            "Location": format!("{}/_tributary/functions/{}/code", app.cfg.endpoint_url, doc.name),
        },
    }))
}

fn list_functions(app: &App, query: &BTreeMap<String, String>) -> Result<Value, AwsError> {
    let max = crate::protocol::max_items(query, 50)?;
    let marker = query.get("Marker").cloned();
    let cat = app.store.catalog();
    let docs: Vec<FunctionDoc> = cat
        .docs_of(FUNCTION_KIND)
        .filter(|(id, _)| marker.as_deref().is_none_or(|m| *id > m))
        .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
        .take(max + 1)
        .collect();
    drop(cat);
    let more = docs.len() > max;
    let page: Vec<Value> = docs
        .iter()
        .take(max)
        .map(|d| d.configuration(app))
        .collect();
    let mut out = json!({ "Functions": page });
    if more {
        out["NextMarker"] = json!(docs[max - 1].name);
    }
    Ok(out)
}

async fn update_configuration(app: &Arc<App>, name: &str, req: Req<'_>) -> Result<Value, AwsError> {
    let (mut doc, _) = resolve(app, name, &BTreeMap::new())?;
    if let Some(r) = req.str_opt("Role")? {
        validate_role(r)?;
        doc.role = r.to_owned();
    }
    if let Some(r) = req.str_opt("Runtime")? {
        validate_runtime(r)?;
        doc.runtime = r.to_owned();
    }
    if let Some(h) = req.str_opt("Handler")? {
        doc.handler = h.to_owned();
    }
    if let Some(d) = req.str_opt("Description")? {
        doc.description = d.to_owned();
    }
    let (timeout, memory) = check_timeout_memory(&req)?;
    if let Some(t) = timeout {
        doc.timeout = t;
    }
    if let Some(m) = memory {
        doc.memory_size = m;
    }
    if req.get("Environment").is_some() {
        doc.environment = parse_environment(&req)?;
    }
    if let Some(rev) = req.str_opt("RevisionId")? {
        if rev != doc.revision_id {
            return Err(lambda_err::invalid_parameter(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
            )
            .with_extra("Type", json!("User")));
        }
    }
    doc.last_modified_ms = app.store.clock().now_millis();
    doc.revision_id = uuid::Uuid::new_v4().to_string();
    let stored = serde_json::to_value(&doc).map_err(|e| AwsError::internal(e.to_string()))?;
    let fname = doc.name.clone();
    app.store
        .write(move |tx| {
            if tx.catalog().doc(FUNCTION_KIND, &fname).is_none() {
                return Err(lambda_err::not_found(format!(
                    "Function not found: {fname}"
                )));
            }
            tx.put_doc(FUNCTION_KIND, &fname, stored)
        })
        .await?;
    app.forget_spec(&doc.name);
    app.host.retire(&doc.name).await;
    let mut c = doc.configuration(app);
    c["LastUpdateStatus"] = json!("InProgress");
    c["LastUpdateStatusReason"] = json!("The function is being created.");
    c["LastUpdateStatusReasonCode"] = json!("Creating");
    Ok(c)
}

async fn delete_function(
    app: &Arc<App>,
    name: &str,
    query: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let (doc, qualifier) = resolve(app, name, query)?;
    if qualifier.as_deref() == Some("$LATEST") {
        return Err(lambda_err::invalid_parameter(
            "$LATEST version cannot be deleted without deleting the function.",
        ));
    }
    let fname = doc.name.clone();
    let blob = doc.code_blob.clone();
    app.store
        .write(move |tx| {
            tx.delete_doc(FUNCTION_KIND, &fname)?;
            tx.delete_blob(&blob)
        })
        .await?;
    app.forget_spec(&doc.name);
    app.host.retire(&doc.name).await;
    Ok(())
}

impl App {
    fn code_dir(&self, name: &str, sha_hex: &str) -> PathBuf {
        self.cfg
            .work_dir
            .join("code")
            .join(format!("{name}-{}", &sha_hex[..16]))
    }

    fn forget_spec(&self, name: &str) {
        self.specs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// The runnable spec of a function, unpacking its code from the store if needed.
    pub async fn function_spec(&self, doc: &FunctionDoc) -> Result<Arc<FunctionSpec>, AwsError> {
        if let Some(s) = self
            .specs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&doc.name)
        {
            if s.revision == doc.revision_id {
                return Ok(s.clone());
            }
        }
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
        let spec = Arc::new(FunctionSpec {
            name: doc.name.clone(),
            function_arn: doc.arn(self),
            runtime: doc.runtime.clone(),
            handler: doc.handler.clone(),
            timeout_secs: doc.timeout as u32,
            memory_mb: doc.memory_size as u32,
            environment: doc.environment.clone().unwrap_or_default(),
            code_dir: dir,
            revision: doc.revision_id.clone(),
        });
        self.specs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(doc.name.clone(), spec.clone());
        Ok(spec)
    }

    /// Invokes a function synchronously (used by Invoke and by event source mappings).
    pub async fn invoke_function(
        &self,
        doc: &FunctionDoc,
        invoked_arn: String,
        payload: Bytes,
        client_context: Option<String>,
        want_log_tail: bool,
    ) -> Result<tributary_functions::InvokeResult, AwsError> {
        let spec = self.function_spec(doc).await?;
        self.host
            .invoke(
                spec,
                InvokeRequest {
                    payload,
                    invoked_arn,
                    client_context,
                    want_log_tail,
                },
            )
            .await
            .map_err(|e| lambda_err::service(e.to_string()))
    }
}

async fn invoke(
    app: &Arc<App>,
    name: &str,
    query: &BTreeMap<String, String>,
    headers: &http::HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, AwsError> {
    let (doc, qualifier) = resolve(app, name, query)?;
    let header = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let invocation_type =
        header("x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".into());
    let log_type = header("x-amz-log-type").unwrap_or_else(|| "None".into());
    if !matches!(
        invocation_type.as_str(),
        "RequestResponse" | "Event" | "DryRun"
    ) {
        return Err(constraint(
            &Value::String(invocation_type),
            "invocationType",
            "Member must satisfy enum value set: [RequestResponse, Event, DryRun]",
        ));
    }
    if !matches!(log_type.as_str(), "None" | "Tail") {
        return Err(constraint(
            &Value::String(log_type),
            "logType",
            "Member must satisfy enum value set: [None, Tail]",
        ));
    }
    let limit = if invocation_type == "Event" {
        262_144
    } else {
        6_291_456
    };
    if body.len() > limit {
        return Err(lambda_err::too_large(format!(
            "{} byte payload is too large for the {} invocation type (limit {limit} bytes)",
            body.len(),
            invocation_type
        ))
        .with_extra("Type", json!("User")));
    }
    let payload = if body.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
            return Err(AwsError::new(
                "InvalidRequestContentException",
                400,
                format!("Could not parse request body into json: Could not parse payload into json: {e}"),
            )
            .with_extra("Type", json!("User")));
        }
        body
    };
    let client_context = match header("x-amz-client-context") {
        Some(b64) => Some(
            B64.decode(b64.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    AwsError::new(
                        "InvalidRequestContentException",
                        400,
                        "Client context must be a valid Base64-encoded JSON object.",
                    )
                    .with_extra("Type", json!("User"))
                })?,
        ),
        None => None,
    };
    let mut invoked_arn = doc.arn(app);
    if let Some(q) = &qualifier {
        invoked_arn = format!("{invoked_arn}:{q}");
    }
    let mut resp = match invocation_type.as_str() {
        "DryRun" => {
            let mut r = axum::response::Response::new(axum::body::Body::empty());
            *r.status_mut() = http::StatusCode::NO_CONTENT;
            r
        }
        "Event" => {
            let app = app.clone();
            tokio::spawn(async move {
                if let Err(e) = app
                    .invoke_function(&doc, invoked_arn, payload, client_context, false)
                    .await
                {
                    tracing::warn!(error = %e, "asynchronous invocation failed");
                }
            });
            let mut r = axum::response::Response::new(axum::body::Body::empty());
            *r.status_mut() = http::StatusCode::ACCEPTED;
            r
        }
        _ => {
            let out = app
                .invoke_function(
                    &doc,
                    invoked_arn,
                    payload,
                    client_context,
                    log_type == "Tail",
                )
                .await?;
            let mut r = axum::response::Response::new(axum::body::Body::from(out.payload));
            let h = r.headers_mut();
            h.insert(
                "content-type",
                http::HeaderValue::from_static("application/json"),
            );
            if let Some(fe) = out.function_error {
                if let Ok(v) = http::HeaderValue::from_str(&fe) {
                    h.insert("x-amz-function-error", v);
                }
            }
            if let Some(tail) = out.log_tail {
                if let Ok(v) = http::HeaderValue::from_str(&B64.encode(tail.as_bytes())) {
                    h.insert("x-amz-log-result", v);
                }
            }
            if let Ok(v) = http::HeaderValue::from_str(&out.executed_version) {
                h.insert("x-amz-executed-version", v);
            }
            // As on AWS, the response's request id is the invocation's.
            if let Ok(v) = http::HeaderValue::from_str(&out.request_id) {
                h.insert("x-amzn-requestid", v);
            }
            r
        }
    };
    if !resp.headers().contains_key("x-amzn-requestid") {
        if let Ok(id) = http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            resp.headers_mut().insert("x-amzn-requestid", id);
        }
    }
    Ok(resp)
}

/// Serves a function's code zip (the `Code.Location` of GetFunction).
pub fn code_zip(app: &App, name: &str) -> Result<Vec<u8>, AwsError> {
    let doc = FunctionDoc::load(app, name)
        .ok_or_else(|| lambda_err::not_found(format!("Function not found: {name}")))?;
    app.store
        .get_blob(&doc.code_blob)?
        .ok_or_else(|| lambda_err::not_found("Code not found"))
}

pub fn function_arn_of(app: &App, name: &str) -> String {
    function_arn(&app.cfg.region, &app.cfg.account_id, name)
}

//! AWS CloudFormation on the shared endpoint (query protocol, XML), over the template engine
//! in `tributary-cfn`.
//!
//! - `ValidateTemplate` and `GetTemplateSummary` read a template (JSON or YAML, the SAM
//!   transform expanded).
//! - Stacks: `CreateStack`, `UpdateStack`, `DeleteStack`, `DescribeStacks`, `ListStacks`,
//!   `DescribeStackEvents`, `DescribeStackResource(s)`, `ListStackResources`, `GetTemplate`,
//!   `ListExports`, run by [`engine`] through the resource handlers in [`handlers`], which
//!   call the other services as a client would ([`calls`]).
//! - Change sets: `CreateChangeSet` (`CREATE` and `UPDATE`), `DescribeChangeSet`,
//!   `ExecuteChangeSet`, `DeleteChangeSet`, `ListChangeSets`: what `aws cloudformation
//!   deploy` and `sam deploy` use.
//!
//! Stacks, change sets and events live in the store and survive a restart; an operation a
//! restart interrupted ends failed, with a reason that says so.

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

pub mod calls;
mod changesets;
mod code;
mod engine;
pub mod handlers;
mod model;
mod render;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tributary_cfn::{sam, validate, Params, Pseudo, Template};
use tributary_model::{AwsError, Clock};
use tributary_service::iam::RoleSessions;
use tributary_service::query::{self, Params as QueryParams};
use tributary_service::{Caller, Request, Response, Service};
use tributary_shapes::generated::cloudformation as shapes;
use tributary_shapes::validate::Options;
use tributary_shapes::xml::{TimestampStyle, ToXml, Xml};
use tributary_store::Store;

use calls::Calls;
pub use calls::Dispatch;
use engine::{OnFailure, Prepared};
use model::{ChangeSet, ParameterRec, Stack, CHANGE_SET_DOC, EVENT_SPACE, STACK_DOC};

const NAMESPACE: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";
/// The largest `TemplateBody` CloudFormation takes (51,200 bytes).
const MAX_TEMPLATE_BODY: usize = 51_200;
/// The largest template read from S3 (1 MB).
const MAX_TEMPLATE_URL_BODY: usize = 1_048_576;

/// Resource types whose creation needs `CAPABILITY_IAM` (or `CAPABILITY_NAMED_IAM` when they
/// are given a name), per CloudFormation's "Acknowledging IAM resources" list.
const IAM_TYPES: &[(&str, &str)] = &[
    ("AWS::IAM::AccessKey", ""),
    ("AWS::IAM::Group", "GroupName"),
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::IAM::Policy", ""),
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::IAM::User", "UserName"),
    ("AWS::IAM::UserToGroupAddition", ""),
];

/// What the CloudFormation service shares with its running operations.
pub struct Inner {
    region: String,
    account_id: String,
    store: Store,
    clock: Arc<dyn Clock>,
    dispatch: Arc<Dispatch>,
    /// Sessions of a stack's service role (`RoleARN`), which its operations run as.
    roles: Arc<dyn RoleSessions>,
    /// The URL this server is reached at (custom resources' response URLs).
    endpoint: String,
    /// Custom resource requests waiting for their function's response.
    responses: handlers::Responses,
    state: Mutex<State>,
    /// One operation at a time per stack.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Default)]
struct State {
    stacks: HashMap<String, Stack>,
    change_sets: HashMap<String, ChangeSet>,
}

/// The CloudFormation service.
pub struct CloudFormation {
    inner: Arc<Inner>,
}

impl CloudFormation {
    /// Loads the stacks and change sets in the store. An operation that a stop interrupted
    /// ends failed.
    pub fn new(
        region: impl Into<String>,
        account_id: impl Into<String>,
        store: Store,
        clock: Arc<dyn Clock>,
        roles: Arc<dyn RoleSessions>,
        endpoint: impl Into<String>,
    ) -> CloudFormation {
        let mut state = State::default();
        let catalog = store.catalog();
        for ((kind, id), doc) in catalog.docs.iter() {
            match kind.as_str() {
                STACK_DOC => {
                    if let Ok(s) = serde_json::from_value::<Stack>(doc.clone()) {
                        state.stacks.insert(id.clone(), s);
                    }
                }
                CHANGE_SET_DOC => {
                    if let Ok(c) = serde_json::from_value::<ChangeSet>(doc.clone()) {
                        state.change_sets.insert(id.clone(), c);
                    }
                }
                _ => {}
            }
        }
        let inner = Arc::new(Inner {
            region: region.into(),
            account_id: account_id.into(),
            store,
            clock,
            dispatch: Arc::new(Dispatch::default()),
            roles,
            endpoint: endpoint.into(),
            responses: handlers::Responses::default(),
            state: Mutex::new(state),
            locks: Mutex::new(HashMap::new()),
        });
        CloudFormation { inner }
    }

    /// Where resource handlers send their calls: the server's own entry point (holding the
    /// server weakly).
    pub fn connect(&self, to: Arc<dyn Service>) {
        self.inner.dispatch.connect(to);
    }

    /// A custom resource's function answered (`PUT` to its request's `ResponseURL`).
    pub fn custom_resource_response(&self, token: &str, body: &[u8]) -> Result<(), AwsError> {
        self.inner
            .responses
            .deliver(token, body)
            .map_err(|m| AwsError::new("AccessDenied", 403, m))
    }

    /// Ends the operations a stop interrupted: call once the server is up.
    pub async fn recover(&self) {
        let interrupted: Vec<Stack> = self
            .inner
            .state()
            .stacks
            .values()
            .filter(|s| s.in_progress() && s.status != "REVIEW_IN_PROGRESS")
            .cloned()
            .collect();
        for mut stack in interrupted {
            let failed = match stack.status.as_str() {
                "CREATE_IN_PROGRESS" => "CREATE_FAILED",
                "ROLLBACK_IN_PROGRESS" => "ROLLBACK_FAILED",
                "DELETE_IN_PROGRESS" => "DELETE_FAILED",
                "UPDATE_IN_PROGRESS" | "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" => {
                    "UPDATE_ROLLBACK_FAILED"
                }
                _ => "UPDATE_ROLLBACK_FAILED",
            };
            self.inner
                .stack_status(
                    &mut stack,
                    failed,
                    Some("The server stopped while this operation was in progress".into()),
                )
                .await;
        }
    }
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    fn lock(&self, stack_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(stack_id.to_owned())
            .or_default()
            .clone()
    }

    fn stack(&self, id: &str) -> Option<Stack> {
        self.state().stacks.get(id).cloned()
    }

    /// The live (not deleted) stack of a name, or any stack by its id.
    fn find(&self, name_or_id: &str) -> Option<Stack> {
        let state = self.state();
        if name_or_id.starts_with("arn:") {
            return state.stacks.get(name_or_id).cloned();
        }
        state
            .stacks
            .values()
            .find(|s| s.name == name_or_id && !s.is_deleted())
            .cloned()
    }

    /// Saves the stack (and an event) durably, then publishes it to readers.
    async fn persist(&self, stack: &mut Stack, event: Option<model::Event>) {
        if event.is_some() {
            stack.event_seq += 1;
        }
        let doc = serde_json::to_value(&*stack).unwrap_or_default();
        let id = stack.id.clone();
        let seq = stack.event_seq;
        let written = self
            .store
            .write(move |tx| {
                tx.put_doc(STACK_DOC, &id, doc.clone())?;
                if let Some(e) = &event {
                    let bytes = serde_json::to_vec(e).unwrap_or_default();
                    tx.kv_put(EVENT_SPACE, &event_key(&id, seq), &bytes)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = written {
            tracing::warn!(stack = %stack.id, error = %e.message, "could not save the stack");
        }
        self.state().stacks.insert(stack.id.clone(), stack.clone());
    }

    async fn save_change_set(&self, cs: &ChangeSet) -> Result<(), AwsError> {
        let doc = serde_json::to_value(cs).unwrap_or_default();
        let id = cs.id.clone();
        self.store
            .write(move |tx| tx.put_doc(CHANGE_SET_DOC, &id, doc.clone()))
            .await?;
        self.state().change_sets.insert(cs.id.clone(), cs.clone());
        Ok(())
    }

    async fn delete_change_set(&self, id: &str) -> Result<(), AwsError> {
        let key = id.to_owned();
        self.store
            .write(move |tx| tx.delete_doc(CHANGE_SET_DOC, &key))
            .await?;
        self.state().change_sets.remove(id);
        Ok(())
    }

    /// The stack that exports `name`, if any live one does.
    fn export_owner(&self, name: &str) -> Option<String> {
        self.state()
            .stacks
            .values()
            .filter(|s| !s.is_deleted())
            .find(|s| {
                s.outputs
                    .iter()
                    .any(|o| o.export_name.as_deref() == Some(name))
            })
            .map(|s| s.id.clone())
    }

    /// `Fn::ImportValue` for a stack: the other live stacks' exports. Every name it answers
    /// is added to `used`, what the stack imports.
    fn imports_for<'a>(
        &'a self,
        stack_id: &'a str,
        used: &'a Mutex<BTreeSet<String>>,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        move |name: &str| {
            let state = self.state();
            let value = state
                .stacks
                .values()
                .filter(|s| !s.is_deleted() && s.id != stack_id)
                .flat_map(|s| s.outputs.iter())
                .find(|o| o.export_name.as_deref() == Some(name))
                .map(|o| o.value.clone());
            if value.is_some() {
                used.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.to_owned());
            }
            value
        }
    }

    /// Which other stacks import one of this stack's exports: `(export, importer name)`.
    fn importers_of(&self, stack: &Stack) -> Vec<(String, String)> {
        let state = self.state();
        let mut out = Vec::new();
        for o in &stack.outputs {
            let Some(export) = &o.export_name else {
                continue;
            };
            for s in state.stacks.values() {
                if !s.is_deleted() && s.id != stack.id && s.imports.contains(export) {
                    out.push((export.clone(), s.name.clone()));
                }
            }
        }
        out
    }
}

impl Inner {
    /// The client an operation runs with: as the stack's service role when it has one (whose
    /// trust policy must let CloudFormation assume it), else as the caller.
    async fn as_role(&self, calls: Calls, role_arn: Option<&str>) -> Result<Calls, AwsError> {
        let Some(role) = role_arn else {
            return Ok(calls);
        };
        let invalid = || validation(format!("Role {role} is invalid or cannot be assumed"));
        let name = role.split(":role/").nth(1).ok_or_else(invalid)?;
        let name = name.rsplit('/').next().unwrap_or(name);
        let account = role
            .split(':')
            .nth(4)
            .unwrap_or(&self.account_id)
            .to_owned();
        let session = format!(
            "AWSCloudFormation-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let creds = self
            .roles
            .assume_for_service("cloudformation.amazonaws.com", role, &session, 3600)
            .await
            .map_err(|_| invalid())?;
        Ok(Calls {
            dispatch: calls.dispatch,
            caller: Some(Caller {
                access_key: creds.access_key_id,
                arn: Some(format!(
                    "arn:aws:sts::{account}:assumed-role/{name}/{session}"
                )),
                account_id: account,
                session_token: Some(creds.session_token),
            }),
        })
    }
}

fn event_key(stack_id: &str, seq: u64) -> Vec<u8> {
    let mut k = stack_id.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", 400, message)
}

/// A stack operation's parameters as the request gives them: `(key, value)`, with `None`
/// for `UsePreviousValue`.
type GivenParameters = Vec<(String, Option<String>)>;

fn given_parameters(given: Option<Vec<types::Parameter>>) -> GivenParameters {
    given
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let key = p.parameter_key?;
            if p.use_previous_value == Some(true) {
                return Some((key, None));
            }
            Some((key, Some(p.parameter_value.unwrap_or_default())))
        })
        .collect()
}

/// How long a request that starts an operation waits for it to end before answering: the
/// clients' waiters poll once at once and then sleep for many seconds, so an operation that
/// ends within the request saves them the wait.
const WAIT_FOR_OPERATION: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs an operation on its own task and waits for it up to [`WAIT_FOR_OPERATION`]; it
/// goes on after that if it must.
async fn run<F: std::future::Future<Output = ()> + Send + 'static>(op: F) {
    let task = tokio::spawn(op);
    let _ = tokio::time::timeout(WAIT_FOR_OPERATION, task).await;
}

/// A request's `Tags` as a stack keeps them. A request that gives `Tags` at all (an empty list
/// arrives as a bare `Tags=`) replaces the stack's; one that leaves them out keeps them.
fn given_tags(given: Vec<types::Tag>) -> Vec<(String, String)> {
    given.into_iter().map(|t| (t.key, t.value)).collect()
}

/// A stack or change set name: `[a-zA-Z][-a-zA-Z0-9]*`, at most 128 characters; `field`
/// and `pattern` are how the refusal names the member and quotes its model pattern.
fn check_resource_name(name: &str, field: &str, pattern: &str) -> Result<(), AwsError> {
    let ok = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        return Ok(());
    }
    Err(validation(format!(
        "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    )))
}

fn check_stack_name(name: &str) -> Result<(), AwsError> {
    check_resource_name(
        name,
        "stackName",
        "[a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*",
    )
}

/// The capability a template needs, if any.
fn needed_capability(expanded: &Template) -> Option<&'static str> {
    let mut needed = None;
    for r in expanded.resources.values() {
        if let Some((_, name_prop)) = IAM_TYPES.iter().find(|(t, _)| *t == r.type_) {
            if !name_prop.is_empty() && r.properties.get(*name_prop).is_some() {
                return Some("CAPABILITY_NAMED_IAM");
            }
            needed = Some("CAPABILITY_IAM");
        }
    }
    needed
}

fn check_capabilities(
    written: &Template,
    expanded: &Template,
    given: &[String],
    auto_expand: bool,
) -> Result<(), AwsError> {
    let insufficient = |c: &str| {
        AwsError::new(
            "InsufficientCapabilitiesException",
            400,
            format!("Requires capabilities : [{c}]"),
        )
    };
    if auto_expand
        && !written.transform.is_empty()
        && !given.iter().any(|c| c == "CAPABILITY_AUTO_EXPAND")
    {
        return Err(insufficient("CAPABILITY_AUTO_EXPAND"));
    }
    match needed_capability(expanded) {
        Some("CAPABILITY_NAMED_IAM") if !given.iter().any(|c| c == "CAPABILITY_NAMED_IAM") => {
            Err(insufficient("CAPABILITY_NAMED_IAM"))
        }
        Some("CAPABILITY_IAM")
            if !given
                .iter()
                .any(|c| c == "CAPABILITY_IAM" || c == "CAPABILITY_NAMED_IAM") =>
        {
            Err(insufficient("CAPABILITY_IAM"))
        }
        _ => Ok(()),
    }
}

impl Inner {
    /// The template body a request gives: `TemplateBody`, or `TemplateURL` read from this
    /// server's S3.
    async fn template_body(
        &self,
        body: Option<&str>,
        url: Option<&str>,
        calls: &Calls,
    ) -> Result<String, AwsError> {
        match (body, url) {
            (Some(b), None) => {
                if b.len() > MAX_TEMPLATE_BODY {
                    return Err(validation(format!(
                        "1 validation error detected: Value '{}...' at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to {MAX_TEMPLATE_BODY}",
                        b.chars().take(16).collect::<String>()
                    )));
                }
                Ok(b.to_owned())
            }
            (None, Some(url)) => self.fetch_template(url, calls).await,
            (Some(_), Some(_)) => Err(validation(
                "Specify exactly one of TemplateBody or TemplateURL",
            )),
            (None, None) => Err(validation(
                "Either Template URL or Template Body must be specified.",
            )),
        }
    }

    async fn fetch_template(&self, url: &str, calls: &Calls) -> Result<String, AwsError> {
        let bad = || validation("TemplateURL must be a supported URL.");
        let (bucket, key) = s3_location(url).ok_or_else(bad)?;
        let path = format!(
            "/{}/{}",
            handlers::segment(&bucket),
            key.split('/')
                .map(handlers::segment)
                .collect::<Vec<_>>()
                .join("/")
        );
        let body = calls
            .rest_xml("s3", http::Method::GET, &path, &[], bytes::Bytes::new())
            .await
            .map_err(|e| {
                validation(format!(
                    "S3 error: Unable to get object {key} from bucket {bucket}: {}",
                    e.message
                ))
            })?;
        if body.len() > MAX_TEMPLATE_URL_BODY {
            return Err(validation(format!(
                "Template may not exceed {MAX_TEMPLATE_URL_BODY} bytes in size."
            )));
        }
        String::from_utf8(body.to_vec())
            .map_err(|_| validation("Template format error: the template is not UTF-8 text"))
    }

    /// Parses, resolves, transforms, checks and plans a template for a stack.
    /// `stack` is the stack's name and id.
    fn prepare(
        &self,
        body: &str,
        stack: (&str, &str),
        given: &GivenParameters,
        previous: Option<&Stack>,
        capabilities: &[String],
        auto_expand: bool,
    ) -> Result<(Prepared, Vec<ParameterRec>, Template), AwsError> {
        let (stack_name, stack_id) = stack;
        let written = Template::parse(body).map_err(|e| validation(e.to_string()))?;
        if let Some(t) = written
            .transform
            .iter()
            .find(|t| *t != tributary_cfn::SAM_TRANSFORM)
        {
            return Err(validation(format!(
                "Template format error: the transform {t} is not supported by this server (only {} is)",
                tributary_cfn::SAM_TRANSFORM
            )));
        }
        let mut overrides: Vec<(String, String)> = Vec::new();
        for (key, value) in given {
            let value = match value {
                Some(v) => v.clone(),
                None => previous
                    .and_then(|s| s.parameters.iter().find(|p| &p.key == key))
                    .map(|p| p.value.clone())
                    .ok_or_else(|| {
                        validation(format!(
                            "Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template"
                        ))
                    })?,
            };
            overrides.push((key.clone(), value));
        }
        let params = tributary_cfn::resolve_parameters(
            &written,
            overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .map_err(|e| validation(e.to_string()))?;
        let pseudo = Pseudo::new(&self.region, &self.account_id, stack_name, stack_id);
        let expanded = if written.has_sam_transform() {
            let local = |a: &sam::LocalArtifact| -> Result<serde_json::Value, String> {
                let fingerprint = code::fingerprint(a.path)?;
                Ok(serde_json::json!({
                    sam::LOCAL_PATH_KEY: a.path,
                    "Tributary::CodeSha256": fingerprint,
                }))
            };
            sam::transform(
                &written,
                &sam::SamContext::new(pseudo.clone(), params.clone()).with_local_code(&local),
            )
            .map_err(|e| validation(e.to_string()))?
        } else {
            written.clone()
        };
        let mut expanded = expanded;
        fingerprint_local_code(&mut expanded).map_err(validation)?;
        validate(&expanded).map_err(|e| validation(e.to_string()))?;
        check_capabilities(&written, &expanded, capabilities, auto_expand)?;
        let used = Mutex::new(BTreeSet::new());
        let imports = self.imports_for(stack_id, &used);
        let ctx =
            tributary_cfn::Context::new(pseudo.clone(), params.clone()).with_imports(&imports);
        let plan = tributary_cfn::plan(&expanded, &ctx).map_err(|e| validation(e.to_string()))?;
        let recs = params
            .iter()
            .map(|(k, v)| ParameterRec {
                key: k.to_owned(),
                value: v.text.clone(),
                resolved: v.resolved.clone(),
                no_echo: v.no_echo,
            })
            .collect();
        Ok((
            Prepared {
                expanded,
                params,
                plan,
                pseudo,
            },
            recs,
            written,
        ))
    }

    fn new_stack(&self, name: &str, body: String, written: &Template) -> Stack {
        let id = format!(
            "arn:aws:cloudformation:{}:{}:stack/{name}/{}",
            self.region,
            self.account_id,
            uuid::Uuid::new_v4()
        );
        Stack {
            id,
            name: name.to_owned(),
            status: "CREATE_IN_PROGRESS".into(),
            status_reason: None,
            description: written.description.clone(),
            created_ms: self.now(),
            updated_ms: None,
            deleted_ms: None,
            template_body: body,
            processed: None,
            parameters: Vec::new(),
            capabilities: Vec::new(),
            tags: Vec::new(),
            notification_arns: Vec::new(),
            disable_rollback: false,
            role_arn: None,
            timeout_minutes: None,
            termination_protection: false,
            outputs: Vec::new(),
            imports: Vec::new(),
            resources: indexmap::IndexMap::new(),
            change_set_id: None,
            event_seq: 0,
        }
    }
}

/// Local code of plain `AWS::Lambda::Function`s (`Code: {"Tributary::LocalPath": ...}`, as
/// `tributary deploy` writes for `Code: ./dir`) gets the fingerprint the SAM transform gives
/// its functions' code, so a changed file is a change of the template.
fn fingerprint_local_code(template: &mut Template) -> Result<(), String> {
    for r in template.resources.values_mut() {
        let Some(code) = r.properties.get_mut("Code").and_then(|c| c.as_object_mut()) else {
            continue;
        };
        if code.contains_key("Tributary::CodeSha256") {
            continue;
        }
        let Some(path) = code.get(sam::LOCAL_PATH_KEY).and_then(|p| p.as_str()) else {
            continue;
        };
        let fingerprint = code::fingerprint(path)?;
        code.insert("Tributary::CodeSha256".into(), fingerprint.into());
    }
    Ok(())
}

/// The bucket and key of a template URL: S3's path-style and virtual-hosted forms, and this
/// server's own endpoint.
fn s3_location(url: &str) -> Option<(String, String)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let path = path.split('?').next().unwrap_or(path);
    let host = host.split(':').next().unwrap_or(host);
    let decode = tributary_service::percent_decode;
    // Virtual-hosted: <bucket>.s3[.<region>|-<region>].amazonaws.com
    if let Some(idx) = host.find(".s3") {
        if host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn") {
            let bucket = &host[..idx];
            return Some((bucket.to_owned(), decode(path)));
        }
    }
    let (bucket, key) = path.split_once('/')?;
    if bucket.is_empty() || key.is_empty() {
        return None;
    }
    Some((decode(bucket), decode(key)))
}

// ------------------------------------------------------------------------------------------
// operations

impl CloudFormation {
    fn calls(&self, req: &Request) -> Calls {
        Calls {
            dispatch: self.inner.dispatch.clone(),
            caller: req.caller.clone(),
        }
    }

    async fn create_stack(
        &self,
        input: types::CreateStackInput,
        calls: Calls,
    ) -> Result<types::CreateStackOutput, AwsError> {
        let inner = &self.inner;
        // `StackName` is required: the model's validator refused its absence (`Value null at
        // 'stackName'`) before this runs.
        let name = input.stack_name.as_str();
        check_stack_name(name)?;
        if name.starts_with("arn:") {
            return Err(validation("Stack name cannot be an ARN"));
        }
        if inner.find(name).is_some() {
            return Err(AwsError::new(
                "AlreadyExistsException",
                400,
                format!("Stack [{name}] already exists"),
            ));
        }
        let body = inner
            .template_body(
                input.template_body.as_deref(),
                input.template_url.as_deref(),
                &calls,
            )
            .await?;
        let capabilities = input.capabilities.unwrap_or_default();
        let written = Template::parse(&body).map_err(|e| validation(e.to_string()))?;
        let mut stack = inner.new_stack(name, body.clone(), &written);
        let (prep, params, _) = inner.prepare(
            &body,
            (name, &stack.id),
            &given_parameters(input.parameters),
            None,
            &capabilities,
            true,
        )?;
        let on_failure = match (input.on_failure.as_deref(), input.disable_rollback) {
            (Some(_), Some(_)) => {
                return Err(validation(
                    "You may not specify both OnFailure and DisableRollback",
                ))
            }
            (Some("DELETE"), _) => OnFailure::Delete,
            (Some("DO_NOTHING"), _) | (None, Some(true)) => OnFailure::DoNothing,
            (Some("ROLLBACK") | None, _) => OnFailure::Rollback,
            (Some(other), _) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'onFailure' failed to satisfy constraint: Member must satisfy enum value set: [DO_NOTHING, ROLLBACK, DELETE]"
                )))
            }
        };
        stack.parameters = params;
        stack.capabilities = capabilities;
        stack.tags = input.tags.map(given_tags).unwrap_or_default();
        stack.notification_arns = input.notification_ar_ns.unwrap_or_default();
        stack.disable_rollback = on_failure == OnFailure::DoNothing;
        stack.role_arn = input.role_arn;
        let calls = inner.as_role(calls, stack.role_arn.as_deref()).await?;
        stack.timeout_minutes = input.timeout_in_minutes.map(i64::from);
        stack.termination_protection = input.enable_termination_protection == Some(true);
        stack.processed = Some(prep.expanded.to_json());
        inner
            .stack_status(
                &mut stack,
                "CREATE_IN_PROGRESS",
                Some("User Initiated".into()),
            )
            .await;
        let id = stack.id.clone();
        run(inner.clone().run_create(stack, prep, calls, on_failure)).await;
        Ok(types::CreateStackOutput {
            stack_id: Some(id),
            // `OperationId` is left out: stack operations have no ids here.
            operation_id: None,
        })
    }

    /// Checks that a stack can take an update now.
    fn updatable(stack: &Stack) -> Result<(), AwsError> {
        let ok = matches!(
            stack.status.as_str(),
            "CREATE_COMPLETE"
                | "UPDATE_COMPLETE"
                | "UPDATE_ROLLBACK_COMPLETE"
                | "IMPORT_COMPLETE"
                | "IMPORT_ROLLBACK_COMPLETE"
        );
        if ok {
            return Ok(());
        }
        Err(validation(format!(
            "Stack:{} is in {} state and can not be updated.",
            stack.id, stack.status
        )))
    }

    async fn update_stack(
        &self,
        input: types::UpdateStackInput,
        calls: Calls,
    ) -> Result<types::UpdateStackOutput, AwsError> {
        let inner = &self.inner;
        let name = input.stack_name.as_str();
        let old = inner
            .find(name)
            .ok_or_else(|| validation(format!("Stack [{name}] does not exist")))?;
        Self::updatable(&old)?;
        let body = if input.use_previous_template == Some(true) {
            old.template_body.clone()
        } else {
            inner
                .template_body(
                    input.template_body.as_deref(),
                    input.template_url.as_deref(),
                    &calls,
                )
                .await?
        };
        let capabilities = input.capabilities.unwrap_or_default();
        let (prep, params, written) = inner.prepare(
            &body,
            (&old.name, &old.id),
            &given_parameters(input.parameters),
            Some(&old),
            &capabilities,
            true,
        )?;
        let tags = match input.tags {
            Some(given) => given_tags(given),
            None => old.tags.clone(),
        };
        if !changesets::has_changes(&old, &prep) && params == old.parameters && tags == old.tags {
            return Err(validation("No updates are to be performed."));
        }
        let mut stack = old.clone();
        stack.template_body = body;
        stack.description = written.description.clone();
        stack.parameters = params;
        stack.capabilities = capabilities;
        stack.tags = tags;
        stack.updated_ms = Some(inner.now());
        stack.processed = Some(prep.expanded.to_json());
        if let Some(r) = input.role_arn {
            stack.role_arn = Some(r);
        }
        inner
            .stack_status(
                &mut stack,
                "UPDATE_IN_PROGRESS",
                Some("User Initiated".into()),
            )
            .await;
        let id = stack.id.clone();
        run(inner.clone().run_update(stack, old, prep, calls)).await;
        Ok(types::UpdateStackOutput {
            stack_id: Some(id),
            // `OperationId` is left out: stack operations have no ids here.
            operation_id: None,
        })
    }

    /// DeleteStack has no output in the model.
    async fn delete_stack(
        &self,
        input: types::DeleteStackInput,
        calls: Calls,
    ) -> Result<(), AwsError> {
        let inner = &self.inner;
        // Deleting a stack that does not exist succeeds, as on AWS.
        let Some(stack) = inner.find(&input.stack_name) else {
            return Ok(());
        };
        if stack.is_deleted() || stack.status == "DELETE_IN_PROGRESS" {
            return Ok(());
        }
        if stack.termination_protection {
            return Err(validation(format!(
                "Stack [{}] cannot be deleted while TerminationProtection is enabled",
                stack.name
            )));
        }
        let retain: HashSet<String> = input
            .retain_resources
            .unwrap_or_default()
            .into_iter()
            .collect();
        if !retain.is_empty() && stack.status != "DELETE_FAILED" {
            return Err(validation(format!(
                "Invalid operation on stack [{}]. RetainResources can only be specified when the stack is in the DELETE_FAILED state",
                stack.id
            )));
        }
        let role = input.role_arn.or_else(|| stack.role_arn.clone());
        let calls = inner.as_role(calls, role.as_deref()).await?;
        let importers = inner.importers_of(&stack);
        if let Some((export, importer)) = importers.first() {
            return Err(validation(format!(
                "Export {export} cannot be deleted as it is in use by {importer}"
            )));
        }
        if !stack.in_progress() {
            let mut s = stack.clone();
            if s.status == "REVIEW_IN_PROGRESS" {
                // Never created: nothing to delete but the stack.
                s.deleted_ms = Some(inner.now());
                inner.stack_status(&mut s, "DELETE_COMPLETE", None).await;
                return Ok(());
            }
            inner
                .stack_status(&mut s, "DELETE_IN_PROGRESS", Some("User Initiated".into()))
                .await;
        }
        run(inner.clone().run_delete(stack.id.clone(), calls, retain)).await;
        Ok(())
    }
}

/// Reads the request as the model's input for `op` and checks it: a violation is
/// `ValidationError` with AWS's message (`1 validation error detected: Value 'my_set' at
/// 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression
/// pattern: ...`).
fn input(op: shapes::Operation, p: &QueryParams) -> Result<Map<String, Value>, AwsError> {
    tributary_shapes::query::validated_input(&shapes::SERVICE, op.def(), &p.0, &Options::default())
        .map_err(validation)
}

/// The operation's generated input type, read from its validated input. The query reader
/// follows the model, so a member of the wrong type cannot normally reach here; if one does,
/// it is a `ValidationError` naming the member.
fn typed<T: serde::de::DeserializeOwned>(input: &Map<String, Value>) -> Result<T, AwsError> {
    tributary_shapes::types::from_object(input)
        .map_err(|e| validation(format!("Invalid value for the parameter {}", e.path)))
}

/// A generated output structure as the body of the `<...Result>` element, with
/// CloudFormation's timestamps (milliseconds).
fn result<T: ToXml>(output: &T) -> String {
    let mut x = Xml::with_timestamps(TimestampStyle::Millis);
    output.write_xml(&mut x);
    x.into_string()
}

fn invalid_action(action: &str) -> AwsError {
    AwsError::new(
        "InvalidAction",
        400,
        format!("Could not find operation {action} for version 2010-05-15"),
    )
}

#[async_trait::async_trait]
impl Service for CloudFormation {
    async fn call(&self, req: Request) -> Response {
        let p = QueryParams::parse(&req.uri, &req.body);
        let Some(action) = p.get("Action").map(str::to_owned) else {
            return error(&AwsError::new("MissingAction", 400, "Missing Action"));
        };
        let result = match shapes::Operation::from_name(&action) {
            // The model's constraints first, as AWS's request validator runs before any
            // handler.
            Some(op) => match input(op, &p) {
                Ok(input) => self.dispatch(op, &input, &req).await,
                Err(e) => {
                    tracing::debug!(action, code = e.code, message = %e.message, "cloudformation request refused");
                    return error(&e);
                }
            },
            None => Err(invalid_action(&action)),
        };
        match result {
            Ok(xml) => query::ok(&action, NAMESPACE, Some(&xml)),
            Err(e) => {
                tracing::debug!(action, code = e.code, message = %e.message, "cloudformation request failed");
                error(&e)
            }
        }
    }
}

impl CloudFormation {
    /// Runs an operation on its typed input; the answer is the body of its `<...Result>`
    /// element.
    async fn dispatch(
        &self,
        op: shapes::Operation,
        input: &Map<String, Value>,
        req: &Request,
    ) -> Result<String, AwsError> {
        use shapes::Operation as O;
        let inner = &self.inner;
        let calls = self.calls(req);
        Ok(match op {
            O::ValidateTemplate => result(&self.validate_template(typed(input)?, &calls).await?),
            O::GetTemplateSummary => {
                result(&self.get_template_summary(typed(input)?, &calls).await?)
            }
            O::CreateStack => result(&self.create_stack(typed(input)?, calls).await?),
            O::UpdateStack => result(&self.update_stack(typed(input)?, calls).await?),
            O::DeleteStack => {
                self.delete_stack(typed(input)?, calls).await?;
                // No output shape; the answer still has its (empty) `<DeleteStackResult>`.
                String::new()
            }
            O::DescribeStacks => result(&render::describe_stacks(inner, typed(input)?)?),
            O::ListStacks => result(&render::list_stacks(inner, typed(input)?)?),
            O::DescribeStackEvents => result(&render::describe_stack_events(inner, typed(input)?)?),
            O::DescribeStackResource => {
                result(&render::describe_stack_resource(inner, typed(input)?)?)
            }
            O::DescribeStackResources => {
                result(&render::describe_stack_resources(inner, typed(input)?)?)
            }
            O::ListStackResources => result(&render::list_stack_resources(inner, typed(input)?)?),
            O::GetTemplate => result(&render::get_template(inner, typed(input)?)?),
            O::ListExports => result(&render::list_exports(inner, typed(input)?)?),
            O::UpdateTerminationProtection => {
                result(&self.update_termination_protection(typed(input)?).await?)
            }
            O::CreateChangeSet => result(&changesets::create(inner, typed(input)?, calls).await?),
            O::DescribeChangeSet => result(&changesets::describe(inner, typed(input)?)?),
            O::ExecuteChangeSet => result(&changesets::execute(inner, typed(input)?, calls).await?),
            O::DeleteChangeSet => result(&changesets::delete(inner, typed(input)?).await?),
            O::ListChangeSets => result(&changesets::list(inner, typed(input)?)?),
            other => return Err(invalid_action(other.name())),
        })
    }
}

impl CloudFormation {
    async fn update_termination_protection(
        &self,
        input: types::UpdateTerminationProtectionInput,
    ) -> Result<types::UpdateTerminationProtectionOutput, AwsError> {
        let name = input.stack_name.as_str();
        let mut stack = self
            .inner
            .find(name)
            .filter(|s| !s.is_deleted())
            .ok_or_else(|| validation(format!("Stack [{name}] does not exist")))?;
        stack.termination_protection = input.enable_termination_protection;
        self.inner.persist(&mut stack, None).await;
        Ok(types::UpdateTerminationProtectionOutput {
            stack_id: Some(stack.id),
        })
    }

    /// The template a request names (a stack's, or its `TemplateBody` or `TemplateURL`),
    /// parsed and (for SAM) expanded, with the template as written for the answers that
    /// describe it.
    async fn template(
        &self,
        stack_name: Option<&str>,
        body: Option<&str>,
        url: Option<&str>,
        calls: &Calls,
    ) -> Result<(Template, Template), AwsError> {
        let body = if let Some(name) = stack_name {
            self.inner
                .find(name)
                .map(|s| s.template_body)
                .ok_or_else(|| validation(format!("Stack with id {name} does not exist")))?
        } else {
            self.inner.template_body(body, url, calls).await?
        };
        let written = Template::parse(&body).map_err(|e| validation(e.to_string()))?;
        let expanded = if written.has_sam_transform() {
            let pseudo = Pseudo::new(
                &self.inner.region,
                &self.inner.account_id,
                "validation",
                "validation",
            );
            sam::transform(&written, &sam::SamContext::new(pseudo, Params::default()))
                .map_err(|e| validation(e.to_string()))?
        } else {
            written.clone()
        };
        validate(&expanded).map_err(|e| validation(e.to_string()))?;
        Ok((written, expanded))
    }

    async fn validate_template(
        &self,
        input: types::ValidateTemplateInput,
        calls: &Calls,
    ) -> Result<types::ValidateTemplateOutput, AwsError> {
        let (written, expanded) = self
            .template(
                None,
                input.template_body.as_deref(),
                input.template_url.as_deref(),
                calls,
            )
            .await?;
        let (capabilities, capabilities_reason) = capabilities(&expanded);
        let parameters = written
            .parameters
            .iter()
            .map(|(name, p)| types::TemplateParameter {
                parameter_key: Some(name.clone()),
                default_value: p.default.clone(),
                no_echo: Some(p.no_echo),
                description: p.description.clone(),
            })
            .collect();
        Ok(types::ValidateTemplateOutput {
            parameters: Some(parameters),
            description: written.description.clone(),
            capabilities,
            capabilities_reason,
            declared_transforms: transforms(&written),
        })
    }

    async fn get_template_summary(
        &self,
        input: types::GetTemplateSummaryInput,
        calls: &Calls,
    ) -> Result<types::GetTemplateSummaryOutput, AwsError> {
        let (written, expanded) = self
            .template(
                input.stack_name.as_deref(),
                input.template_body.as_deref(),
                input.template_url.as_deref(),
                calls,
            )
            .await?;
        let (capabilities, capabilities_reason) = capabilities(&expanded);
        let parameters = written
            .parameters
            .iter()
            .map(|(name, p)| types::ParameterDeclaration {
                parameter_key: Some(name.clone()),
                default_value: p.default.clone(),
                parameter_type: Some(p.type_.clone()),
                no_echo: Some(p.no_echo),
                description: p.description.clone(),
                parameter_constraints: p.allowed_values.as_ref().map(|values| {
                    types::ParameterConstraints {
                        allowed_values: Some(values.clone()),
                    }
                }),
            })
            .collect();
        let resource_types: BTreeSet<&str> = expanded
            .resources
            .values()
            .map(|r| r.type_.as_str())
            .collect();
        Ok(types::GetTemplateSummaryOutput {
            parameters: Some(parameters),
            description: written.description.clone(),
            capabilities,
            capabilities_reason,
            resource_types: Some(resource_types.into_iter().map(str::to_owned).collect()),
            version: Some(
                written
                    .format_version
                    .clone()
                    .unwrap_or_else(|| "2010-09-09".into()),
            ),
            metadata: written.metadata.as_ref().map(Value::to_string),
            declared_transforms: transforms(&written),
            resource_identifier_summaries: Some(Vec::new()),
            // `Warnings` is left out: a resource type this server does not serve fails the
            // stack operation instead.
            warnings: None,
        })
    }
}

/// `Capabilities` and `CapabilitiesReason`: IAM resources need `CAPABILITY_IAM`, named ones
/// `CAPABILITY_NAMED_IAM`.
fn capabilities(expanded: &Template) -> (Option<Vec<String>>, Option<String>) {
    let Some(needed) = needed_capability(expanded) else {
        return (None, None);
    };
    let types: BTreeSet<&str> = expanded
        .resources
        .values()
        .filter(|r| IAM_TYPES.iter().any(|(t, _)| *t == r.type_))
        .map(|r| r.type_.as_str())
        .collect();
    let reason = format!(
        "The following resource(s) require capabilities: [{}]",
        types.into_iter().collect::<Vec<_>>().join(", ")
    );
    (Some(vec![needed.to_owned()]), Some(reason))
}

fn transforms(t: &Template) -> Option<Vec<String>> {
    (!t.transform.is_empty()).then(|| t.transform.clone())
}

fn error(e: &AwsError) -> Response {
    query::error(NAMESPACE, e.status, e.code, &e.message, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_urls() {
        for (url, bucket, key) in [
            ("https://s3.amazonaws.com/b/k/t.yaml", "b", "k/t.yaml"),
            ("https://b.s3.amazonaws.com/t.yaml", "b", "t.yaml"),
            (
                "https://b.s3.us-west-2.amazonaws.com/a/t.json",
                "b",
                "a/t.json",
            ),
            ("https://s3.eu-west-1.amazonaws.com/b/t.json", "b", "t.json"),
            ("http://127.0.0.1:4566/b/x%20y.yaml", "b", "x y.yaml"),
        ] {
            assert_eq!(s3_location(url), Some((bucket.into(), key.into())), "{url}");
        }
        assert_eq!(s3_location("ftp://x/y"), None);
        assert_eq!(s3_location("https://s3.amazonaws.com/b"), None);
    }

    #[test]
    fn stack_names() {
        assert!(check_stack_name("my-stack-1").is_ok());
        assert!(check_stack_name("1stack").is_err());
        assert!(check_stack_name("a_b").is_err());
        assert!(check_stack_name(&"a".repeat(129)).is_err());
    }
}

//! `tributary deploy`: deploys a CloudFormation or SAM template to a running server through
//! the CloudFormation API, as `sam deploy` would, but reading function code straight from
//! local folders (no S3 round trip).
//!
//! - The template's local `CodeUri`s (and layers' `ContentUri`s) are made absolute, so the
//!   server packs the folders itself; it fingerprints them, so changed code is a change.
//! - A change set is created and executed; the stack's events are printed as they happen,
//!   numbered by resource; a rollback exits non-zero.
//! - `--watch` deploys again whenever a function's files or the template change: only the
//!   changed functions are updated (their warm environments replaced), tables keep their
//!   data.
//! - `--delete` deletes the stack.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;
use tributary_cloudformation::calls::{form_urlencoded, xml_text};

use crate::status::{Client, Signer, DEFAULT_ENDPOINT};

/// How often `--watch` looks at the files, and how long it lets a burst of saves settle.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);
/// How often events are polled while an operation runs.
const EVENT_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Args)]
pub struct DeployArgs {
    /// The template (JSON or YAML; SAM templates are expanded by the server).
    #[arg(default_value = "template.yaml")]
    template: PathBuf,
    /// The stack's name (default: the template folder's name).
    #[arg(long)]
    stack_name: Option<String>,
    /// Parameter values, `Key=Value` each.
    #[arg(long, num_args = 1..)]
    parameter_overrides: Vec<String>,
    /// Capabilities to acknowledge (default: CAPABILITY_IAM, CAPABILITY_NAMED_IAM and
    /// CAPABILITY_AUTO_EXPAND, since this is your own machine).
    #[arg(long, num_args = 1..)]
    capabilities: Vec<String>,
    /// Keep watching the functions' folders and the template, deploying each change.
    #[arg(long)]
    watch: bool,
    /// Delete the stack instead.
    #[arg(long, conflicts_with = "watch")]
    delete: bool,
    /// The server to deploy to.
    #[arg(long, env = "TRIBUTARY_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    endpoint: String,
    /// The region requests are signed for.
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    region: String,
    /// The access key requests are signed with (the secret comes from
    /// AWS_SECRET_ACCESS_KEY, `test` if unset).
    #[arg(
        long,
        env = "AWS_ACCESS_KEY_ID",
        default_value = "test",
        hide_env_values = true
    )]
    access_key: String,
}

/// The CloudFormation API of one server.
struct Cfn {
    client: Client,
    signer: Signer,
}

impl Cfn {
    /// One query-protocol call; answers the response document or the AWS error.
    async fn call(&self, action: &str, params: &[(String, String)]) -> Result<String, ApiFailure> {
        let mut pairs = vec![
            ("Action".to_owned(), action.to_owned()),
            ("Version".to_owned(), "2010-05-15".to_owned()),
        ];
        pairs.extend_from_slice(params);
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = form_urlencoded(&refs).into_bytes();
        let ct = "application/x-www-form-urlencoded; charset=utf-8";
        let (date, authorization) = self.client.sign(
            "POST",
            "/",
            "cloudformation",
            &[("content-type", ct)],
            &body,
            &self.signer,
        );
        let (status, answer) = self
            .client
            .send(
                hyper::Method::POST,
                "/",
                &[
                    ("content-type", ct),
                    ("x-amz-date", &date),
                    ("authorization", &authorization),
                ],
                body,
            )
            .await
            .map_err(|e| ApiFailure {
                code: "Unreachable".into(),
                message: format!("{e:#}"),
            })?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        if status >= 300 {
            return Err(ApiFailure {
                code: xml_text(&text, "Code").unwrap_or_default(),
                message: xml_text(&text, "Message").unwrap_or(text),
            });
        }
        Ok(text)
    }
}

#[derive(Debug)]
struct ApiFailure {
    code: String,
    message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiFailure {}

fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_owned(), v.into())
}

/// The `<member>` elements of a list in a response, each as its own text.
fn members(xml: &str, list: &str) -> Vec<String> {
    let Some(start) = xml.find(&format!("<{list}>")) else {
        return Vec::new();
    };
    let Some(end) = xml[start..].find(&format!("</{list}>")) else {
        return Vec::new();
    };
    let inner = &xml[start + list.len() + 2..start + end];
    inner
        .split("<member>")
        .skip(1)
        .map(|m| format!("<member>{m}"))
        .collect()
}

/// The template to send, with local code locations made absolute, and the folders to watch.
fn prepare_template(path: &Path) -> Result<(String, Vec<PathBuf>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let template = tributary_cfn::Template::parse(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base = std::fs::canonicalize(base)
        .with_context(|| format!("cannot resolve {}", base.display()))?;
    let mut doc = template.to_json();
    let mut folders = Vec::new();
    let global_code = doc
        .pointer("/Globals/Function/CodeUri")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(uri) = &global_code {
        if let Some(abs) = local(&base, uri) {
            doc["Globals"]["Function"]["CodeUri"] = Value::String(abs.display().to_string());
        }
    }
    if let Some(resources) = doc.get_mut("Resources").and_then(Value::as_object_mut) {
        for r in resources.values_mut() {
            let key = match r.get("Type").and_then(Value::as_str) {
                Some("AWS::Serverless::Function") => "CodeUri",
                Some("AWS::Serverless::LayerVersion") => "ContentUri",
                Some("AWS::Lambda::Function") => {
                    // `Code: ./dir`, as `aws cloudformation package` takes it.
                    let code = r.pointer_mut("/Properties/Code");
                    if let Some(code) = code {
                        if let Some(abs) = code.as_str().and_then(|uri| local(&base, uri)) {
                            folders.push(abs.clone());
                            *code = serde_json::json!({
                                tributary_cfn::sam::LOCAL_PATH_KEY: abs.display().to_string()
                            });
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            let props = r.as_object_mut().map(|o| {
                o.entry("Properties")
                    .or_insert_with(|| Value::Object(Default::default()))
            });
            let Some(Value::Object(props)) = props else {
                continue;
            };
            if props.contains_key("InlineCode") || props.contains_key("ImageUri") {
                continue;
            }
            let uri = match props.get(key) {
                Some(Value::String(s)) => s.clone(),
                Some(_) => continue,
                // A function without a code location takes the global one, or the folder.
                None if key == "CodeUri" => match &global_code {
                    Some(g) => g.clone(),
                    None => ".".into(),
                },
                None => continue,
            };
            if let Some(abs) = local(&base, &uri) {
                folders.push(abs.clone());
                props.insert(key.to_owned(), Value::String(abs.display().to_string()));
            }
        }
    }
    folders.sort();
    folders.dedup();
    Ok((serde_json::to_string(&doc)?, folders))
}

/// A local code location as an absolute path (`None` for S3 URIs).
fn local(base: &Path, uri: &str) -> Option<PathBuf> {
    if uri.starts_with("s3://") || uri.starts_with("https://") {
        return None;
    }
    let p = Path::new(uri);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    Some(std::fs::canonicalize(&abs).unwrap_or(abs))
}

fn default_stack_name(template: &Path) -> String {
    let dir = std::fs::canonicalize(template)
        .ok()
        .and_then(|p| {
            p.parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "tributary".into());
    let mut name: String = dir
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        name.insert_str(0, "stack-");
    }
    name.truncate(128);
    name
}

/// `tributary deploy`.
pub async fn deploy(args: DeployArgs) -> Result<()> {
    let cfn = Cfn {
        client: Client::new(&args.endpoint)?,
        signer: Signer {
            access_key: args.access_key.clone(),
            secret: std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
            region: args.region.clone(),
        },
    };
    let stack = args
        .stack_name
        .clone()
        .unwrap_or_else(|| default_stack_name(&args.template));
    if args.delete {
        return delete(&cfn, &stack).await;
    }
    let (body, folders) = prepare_template(&args.template)?;
    let outcome = deploy_once(&cfn, &stack, &body, &args).await?;
    if !args.watch {
        if !outcome.ok {
            bail!("the deployment of {stack} failed: {}", outcome.status);
        }
        return Ok(());
    }
    let mut watched: Vec<PathBuf> = folders;
    watched.push(args.template.clone());
    // What is there now, taken before saying so: an edit right after the line is a change.
    let mut seen = snapshot(&watched);
    println!(
        "Watching {} for changes (Ctrl-C to stop)",
        watched
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
        let now = snapshot(&watched);
        if now == seen {
            continue;
        }
        // Let a burst of saves settle.
        tokio::time::sleep(WATCH_INTERVAL).await;
        let (body, folders) = match prepare_template(&args.template) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("not deployed: {e:#}");
                seen = snapshot(&watched);
                continue;
            }
        };
        watched = folders;
        watched.push(args.template.clone());
        seen = snapshot(&watched);
        println!("Change detected; deploying {stack}");
        if let Err(e) = deploy_once(&cfn, &stack, &body, &args).await {
            eprintln!("not deployed: {e:#}");
        }
    }
}

/// Every file under the watched paths with its modification time and size.
fn snapshot(paths: &[PathBuf]) -> BTreeMap<PathBuf, (SystemTime, u64)> {
    let mut out = BTreeMap::new();
    for p in paths {
        walk(p, &mut out);
    }
    out
}

fn walk(p: &Path, out: &mut BTreeMap<PathBuf, (SystemTime, u64)>) {
    let Ok(meta) = std::fs::metadata(p) else {
        return;
    };
    if meta.is_dir() {
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                walk(&e.path(), out);
            }
        }
    } else {
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        out.insert(p.to_path_buf(), (modified, meta.len()));
    }
}

struct Outcome {
    ok: bool,
    status: String,
}

/// A stack's id, status and name.
async fn stack_status(cfn: &Cfn, stack: &str) -> Result<Option<(String, String, String)>> {
    match cfn.call("DescribeStacks", &[p("StackName", stack)]).await {
        Ok(x) => Ok(Some((
            xml_text(&x, "StackId").unwrap_or_default(),
            xml_text(&x, "StackStatus").unwrap_or_default(),
            xml_text(&x, "StackName").unwrap_or_default(),
        ))),
        Err(e) if e.message.contains("does not exist") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn deploy_once(cfn: &Cfn, stack: &str, body: &str, args: &DeployArgs) -> Result<Outcome> {
    let existing = stack_status(cfn, stack).await?;
    let creating = match &existing {
        None => true,
        Some((_, s, _)) if s == "REVIEW_IN_PROGRESS" => true,
        Some((id, s, _)) if s == "ROLLBACK_COMPLETE" => {
            // A stack whose first create rolled back can only be deleted: start again.
            println!("{stack} is in ROLLBACK_COMPLETE; deleting it before deploying again");
            delete(cfn, id).await?;
            true
        }
        Some(_) => false,
    };
    let name = format!(
        "tributary-deploy-{}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let mut params = vec![
        p("StackName", stack),
        p("ChangeSetName", &name),
        p("ChangeSetType", if creating { "CREATE" } else { "UPDATE" }),
        p("TemplateBody", body),
    ];
    let capabilities = if args.capabilities.is_empty() {
        vec![
            "CAPABILITY_IAM".to_owned(),
            "CAPABILITY_NAMED_IAM".to_owned(),
            "CAPABILITY_AUTO_EXPAND".to_owned(),
        ]
    } else {
        args.capabilities.clone()
    };
    for (i, c) in capabilities.iter().enumerate() {
        params.push(p(&format!("Capabilities.member.{}", i + 1), c));
    }
    for (i, kv) in args.parameter_overrides.iter().enumerate() {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--parameter-overrides takes Key=Value, not {kv:?}"))?;
        params.push(p(&format!("Parameters.member.{}.ParameterKey", i + 1), k));
        params.push(p(&format!("Parameters.member.{}.ParameterValue", i + 1), v));
    }
    let created = cfn.call("CreateChangeSet", &params).await?;
    let change_set = xml_text(&created, "Id").unwrap_or_default();
    let stack_id = xml_text(&created, "StackId").unwrap_or_default();
    let described = cfn
        .call("DescribeChangeSet", &[p("ChangeSetName", &change_set)])
        .await?;
    let status = xml_text(&described, "Status").unwrap_or_default();
    if status == "FAILED" {
        let reason = xml_text(&described, "StatusReason").unwrap_or_default();
        if reason.contains("didn't contain changes") {
            let _ = cfn
                .call("DeleteChangeSet", &[p("ChangeSetName", &change_set)])
                .await;
            println!("No changes to deploy. Stack {stack} is up to date");
            return Ok(Outcome {
                ok: true,
                status: "UNCHANGED".into(),
            });
        }
        bail!("the change set failed: {reason}");
    }
    let changes: Vec<String> = members(&described, "Changes")
        .into_iter()
        .filter(|m| m.contains("<ResourceChange>"))
        .collect();
    let total = changes.len();
    for c in &changes {
        println!(
            "  {:<8} {:<40} {}",
            xml_text(c, "Action").unwrap_or_default(),
            xml_text(c, "LogicalResourceId").unwrap_or_default(),
            xml_text(c, "ResourceType").unwrap_or_default()
        );
    }
    // Events already there before this operation are not printed again.
    let mut seen: HashSet<String> = event_ids(cfn, &stack_id).await;
    let execute_params = [p("ChangeSetName", &change_set)];
    let execute = cfn.call("ExecuteChangeSet", &execute_params);
    tokio::pin!(execute);
    let mut executed = false;
    let mut done = 0usize;
    loop {
        if !executed {
            tokio::select! {
                r = &mut execute => { r?; executed = true; }
                _ = tokio::time::sleep(EVENT_INTERVAL) => {}
            }
        } else {
            tokio::time::sleep(EVENT_INTERVAL).await;
        }
        let finished = print_events(cfn, &stack_id, stack, &mut seen, &mut done, total).await?;
        if let Some(final_status) = finished {
            let ok = final_status == "CREATE_COMPLETE" || final_status == "UPDATE_COMPLETE";
            if ok {
                print_outputs(cfn, &stack_id).await;
                println!("Successfully deployed {stack} ({final_status})");
            } else {
                eprintln!("Deploying {stack} failed: {final_status}");
            }
            return Ok(Outcome {
                ok,
                status: final_status,
            });
        }
    }
}

async fn event_ids(cfn: &Cfn, stack_id: &str) -> HashSet<String> {
    match cfn
        .call("DescribeStackEvents", &[p("StackName", stack_id)])
        .await
    {
        Ok(x) => members(&x, "StackEvents")
            .iter()
            .filter_map(|m| xml_text(m, "EventId"))
            .collect(),
        Err(_) => HashSet::new(),
    }
}

/// Prints the events not yet printed, oldest first; answers the stack's final status once
/// the operation has ended.
async fn print_events(
    cfn: &Cfn,
    stack_id: &str,
    stack: &str,
    seen: &mut HashSet<String>,
    done: &mut usize,
    total: usize,
) -> Result<Option<String>> {
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = vec![p("StackName", stack_id)];
        if let Some(t) = &token {
            params.push(p("NextToken", t));
        }
        let x = cfn.call("DescribeStackEvents", &params).await?;
        let page = members(&x, "StackEvents");
        let fresh: Vec<String> = page
            .into_iter()
            .filter(|m| xml_text(m, "EventId").is_some_and(|id| !seen.contains(&id)))
            .collect();
        let more = !fresh.is_empty();
        all.extend(fresh);
        token = xml_text(&x, "NextToken");
        if token.is_none() || !more {
            break;
        }
    }
    let mut finished = None;
    for m in all.iter().rev() {
        let id = xml_text(m, "EventId").unwrap_or_default();
        seen.insert(id);
        let logical = xml_text(m, "LogicalResourceId").unwrap_or_default();
        let status = xml_text(m, "ResourceStatus").unwrap_or_default();
        let kind = xml_text(m, "ResourceType").unwrap_or_default();
        let reason = xml_text(m, "ResourceStatusReason").unwrap_or_default();
        let is_stack = kind == "AWS::CloudFormation::Stack" && logical == stack;
        if !is_stack
            && (status.ends_with("_COMPLETE")
                || status.ends_with("_FAILED")
                || status == "DELETE_SKIPPED")
        {
            *done += 1;
        }
        let progress = if is_stack || total == 0 {
            "      ".to_owned()
        } else {
            format!("[{}/{}]", (*done).min(total), total)
        };
        println!(
            "{progress} {status:<44} {kind:<36} {logical}{}",
            if reason.is_empty() {
                String::new()
            } else {
                format!("  {reason}")
            }
        );
        if is_stack && !status.ends_with("_IN_PROGRESS") {
            finished = Some(status);
        }
    }
    Ok(finished)
}

async fn print_outputs(cfn: &Cfn, stack_id: &str) {
    let Ok(x) = cfn
        .call("DescribeStacks", &[p("StackName", stack_id)])
        .await
    else {
        return;
    };
    let outputs = members(&x, "Outputs");
    if outputs.is_empty() {
        return;
    }
    println!("Outputs:");
    for o in outputs {
        println!(
            "  {} = {}",
            xml_text(&o, "OutputKey").unwrap_or_default(),
            xml_text(&o, "OutputValue").unwrap_or_default()
        );
    }
}

async fn delete(cfn: &Cfn, stack: &str) -> Result<()> {
    let Some((stack_id, _, name)) = stack_status(cfn, stack).await? else {
        println!("Stack {stack} does not exist");
        return Ok(());
    };
    let stack = name.as_str();
    let mut seen = event_ids(cfn, &stack_id).await;
    let mut done = 0;
    let delete_params = [p("StackName", &stack_id)];
    let delete = cfn.call("DeleteStack", &delete_params);
    tokio::pin!(delete);
    let mut called = false;
    loop {
        if !called {
            tokio::select! {
                r = &mut delete => { r?; called = true; }
                _ = tokio::time::sleep(EVENT_INTERVAL) => {}
            }
        } else {
            tokio::time::sleep(EVENT_INTERVAL).await;
        }
        if let Some(status) = print_events(cfn, &stack_id, stack, &mut seen, &mut done, 0).await? {
            if status == "DELETE_COMPLETE" {
                println!("Deleted {stack}");
                return Ok(());
            }
            if status == "DELETE_FAILED" {
                bail!("deleting {stack} failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_code_becomes_absolute() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("template.yaml"),
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: a.b\n      Runtime: python3.11\n  G:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: s3://b/k.zip\n      Handler: a.b\n      Runtime: python3.11\n",
        )
        .unwrap();
        let (body, folders) = prepare_template(&dir.path().join("template.yaml")).unwrap();
        let doc: Value = serde_json::from_str(&body).unwrap();
        let src = std::fs::canonicalize(dir.path().join("src")).unwrap();
        assert_eq!(
            doc["Resources"]["F"]["Properties"]["CodeUri"],
            src.display().to_string()
        );
        assert_eq!(
            doc["Resources"]["G"]["Properties"]["CodeUri"],
            "s3://b/k.zip"
        );
        assert_eq!(folders, vec![src]);
    }

    #[test]
    fn members_split_lists() {
        let x = "<R><StackEvents><member><EventId>a</EventId></member><member><EventId>b</EventId></member></StackEvents></R>";
        let m = members(x, "StackEvents");
        assert_eq!(m.len(), 2);
        assert_eq!(xml_text(&m[1], "EventId").as_deref(), Some("b"));
    }

    #[test]
    fn stack_names_from_folders() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("my_app 2");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("template.yaml"), "").unwrap();
        assert_eq!(default_stack_name(&sub.join("template.yaml")), "my-app-2");
    }
}

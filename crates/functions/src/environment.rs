//! One execution environment: a runtime process in its own process group, its Runtime API
//! listener, and the tasks that watch the process and copy its output.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::unix::pipe;
use tokio::process::Command;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tributary_model::Clock;

use crate::output::{EnvOutput, LogSink};
use crate::runtime_api::{Job, RuntimeApi};
use crate::{FunctionSpec, HostConfig};

/// Where the Python bootstrap lives under the host's work dir.
pub(crate) const PYTHON_BOOTSTRAP: &str = "runtimes/python/bootstrap.py";
/// Where the Node.js bootstrap lives under the host's work dir.
pub(crate) const NODE_BOOTSTRAP: &str = "runtimes/node/bootstrap.js";
/// Beside the Node.js bootstrap: keeps it CommonJS whatever `package.json` sits above the work
/// dir (a `"type": "module"` one would otherwise make Node load it as an ES module).
pub(crate) const NODE_PACKAGE_JSON: &str = "runtimes/node/package.json";

/// The kinds of runtime this host can start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuntimeKind {
    Python,
    Node,
    Provided,
}

impl RuntimeKind {
    pub(crate) fn parse(runtime: &str) -> Option<RuntimeKind> {
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if runtime.strip_prefix("python3.").is_some_and(all_digits) {
            return Some(RuntimeKind::Python);
        }
        if runtime
            .strip_prefix("nodejs")
            .and_then(|v| v.strip_suffix(".x"))
            .is_some_and(all_digits)
        {
            return Some(RuntimeKind::Node);
        }
        match runtime {
            "provided" | "provided.al2" | "provided.al2023" => Some(RuntimeKind::Provided),
            _ => None,
        }
    }

    /// The interpreter this kind runs on, the flag that sets it and what to call it in messages;
    /// `None` for `provided` runtimes, which bring their own executable.
    fn interpreter(self, cfg: &HostConfig) -> Option<(&Path, &'static str, &'static str)> {
        match self {
            RuntimeKind::Python => Some((
                cfg.python.as_path(),
                "--python (TRIBUTARY_PYTHON)",
                "Python",
            )),
            RuntimeKind::Node => Some((cfg.node.as_path(), "--node (TRIBUTARY_NODE)", "Node.js")),
            RuntimeKind::Provided => None,
        }
    }
}

/// A function's runtime needs an interpreter this server does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "The runtime {runtime} needs the {language} interpreter '{interpreter}', which was not found \
     on this server{looked}; install it or point {flag} at it"
)]
pub struct MissingInterpreter {
    pub runtime: String,
    pub language: &'static str,
    pub interpreter: String,
    pub flag: &'static str,
    /// ` (searched PATH)` for a bare command name, empty for a path.
    looked: &'static str,
}

/// Checks that the interpreter `runtime` runs on (python or node, as configured: a path, or a
/// command name looked up on `PATH` as the process spawn will) exists and is executable, so
/// CreateFunction can refuse a function this server could never start. Runtimes the host does
/// not know, and `provided` ones, pass: they are not this check's business.
pub fn check_interpreter(cfg: &HostConfig, runtime: &str) -> Result<(), MissingInterpreter> {
    let Some((program, flag, language)) =
        RuntimeKind::parse(runtime).and_then(|kind| kind.interpreter(cfg))
    else {
        return Ok(());
    };
    let bare = program.components().count() == 1 && !program.is_absolute();
    let found = if bare {
        std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths)
                .filter(|dir| !dir.as_os_str().is_empty())
                .any(|dir| is_executable_file(&dir.join(program)))
        })
    } else {
        is_executable_file(program)
    };
    if found {
        return Ok(());
    }
    Err(MissingInterpreter {
        runtime: runtime.to_string(),
        language,
        interpreter: program.display().to_string(),
        flag,
        looked: if bare { " (searched PATH)" } else { "" },
    })
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// How the runtime process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExitInfo {
    Code(i32),
    Signal(i32),
    Unknown,
}

impl ExitInfo {
    fn from_status(status: std::io::Result<ExitStatus>) -> ExitInfo {
        match status {
            Ok(s) => match (s.code(), s.signal()) {
                (Some(code), _) => ExitInfo::Code(code),
                (None, Some(sig)) => ExitInfo::Signal(sig),
                _ => ExitInfo::Unknown,
            },
            Err(_) => ExitInfo::Unknown,
        }
    }

    /// The reason part of AWS's `Runtime.ExitError` message.
    pub(crate) fn reason(self) -> String {
        match self {
            ExitInfo::Code(0) | ExitInfo::Unknown => {
                "Runtime exited without providing a reason".into()
            }
            ExitInfo::Code(code) => format!("Runtime exited with error: exit status {code}"),
            ExitInfo::Signal(sig) => {
                let name = match sig {
                    6 => "aborted".to_string(),
                    9 => "killed".to_string(),
                    11 => "segmentation fault".to_string(),
                    15 => "terminated".to_string(),
                    other => other.to_string(),
                };
                format!("Runtime exited with error: signal: {name}")
            }
        }
    }
}

/// Why an environment could not be started.
#[derive(Debug)]
pub(crate) enum SpawnError {
    /// The `provided` bootstrap is missing or cannot be executed: a function error
    /// (`Runtime.InvalidEntrypoint`) on AWS, with this message.
    Entrypoint(String),
    /// Anything else: a host failure.
    Host(String),
}

/// A running execution environment.
pub(crate) struct Environment {
    pub id: u64,
    pub revision: String,
    /// The pool generation it was started in; a retire bumps the pool's.
    pub generation: u64,
    pub pid: u32,
    pub api: Arc<RuntimeApi>,
    pub jobs: mpsc::Sender<Job>,
    pub exit: watch::Receiver<Option<ExitInfo>>,
    pub output: Arc<EnvOutput>,
    pub spawned_at: Instant,
    pub invocations: AtomicU64,
    kill: CancellationToken,
    server: AbortHandle,
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.kill.cancel();
        self.server.abort();
    }
}

impl Environment {
    /// Kills the process group (idempotent; the watcher task reaps it).
    pub(crate) fn kill(&self) {
        self.kill.cancel();
    }

    pub(crate) fn exited(&self) -> Option<ExitInfo> {
        *self.exit.borrow()
    }

    /// Waits until the process has been reaped.
    pub(crate) async fn wait_exit(&self) {
        let mut exit = self.exit.clone();
        let _ = exit.wait_for(|e| e.is_some()).await;
    }

    /// Peak resident memory of the runtime process in MB (`VmHWM`), 0 if unknown.
    pub(crate) fn max_memory_mb(&self) -> u64 {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.pid)) else {
            return 0;
        };
        let field = |name: &str| {
            status.lines().find_map(|l| {
                let rest = l.strip_prefix(name)?;
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        };
        let kb = field("VmHWM:").or_else(|| field("VmRSS:")).unwrap_or(0);
        kb.div_ceil(1024)
    }

    /// Starts an environment for `spec`: listener first, then the process.
    pub(crate) async fn spawn(
        cfg: &HostConfig,
        spec: &FunctionSpec,
        kind: RuntimeKind,
        clock: Arc<dyn Clock>,
        sink: Arc<LogSink>,
        id: u64,
        generation: u64,
    ) -> Result<Environment, SpawnError> {
        let code_dir = std::path::absolute(&spec.code_dir)
            .map_err(|e| SpawnError::Host(format!("bad code directory: {e}")))?;

        let (program, args) = match kind {
            RuntimeKind::Python => {
                let bootstrap = cfg.work_dir.join(PYTHON_BOOTSTRAP);
                (
                    cfg.python.clone(),
                    vec![OsString::from("-u"), bootstrap.into_os_string()],
                )
            }
            RuntimeKind::Node => {
                let bootstrap = cfg.work_dir.join(NODE_BOOTSTRAP);
                let mut args = node_arguments(spec.memory_mb);
                args.push(bootstrap.into_os_string());
                (cfg.node.clone(), args)
            }
            RuntimeKind::Provided => {
                let bootstrap = code_dir.join("bootstrap");
                prepare_bootstrap(&bootstrap)?;
                (bootstrap, Vec::new())
            }
        };

        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|_| l))
            .and_then(tokio::net::TcpListener::from_std)
            .map_err(|e| SpawnError::Host(format!("cannot open a Runtime API listener: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SpawnError::Host(format!("cannot open a Runtime API listener: {e}")))?;

        let log_stream = crate::output::log_stream_name(clock.now_millis(), &spec.version);
        let output = EnvOutput::new(
            sink,
            log_stream.clone(),
            crate::output::PlatformLog::of(spec),
        );
        let (jobs_tx, jobs_rx) = mpsc::channel(1);
        let timeout_ms = i64::from(spec.timeout_secs) * 1000;
        let api = RuntimeApi::new(jobs_rx, Arc::clone(&clock), timeout_ms, Arc::clone(&output));
        let router = api.router();
        let server = tokio::spawn(async move {
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(error = %e, "runtime api listener stopped");
            }
        })
        .abort_handle();

        let vars =
            environment_variables(cfg, spec, kind, &addr.to_string(), &log_stream, &code_dir);

        let spawned_at = Instant::now();
        let (mut child, stdout, stderr) =
            match start_process(&program, &args, &code_dir, &vars).await {
                Ok(started) => started,
                Err(e) => {
                    server.abort();
                    return Err(match kind {
                        RuntimeKind::Provided => {
                            SpawnError::Entrypoint(format!("fork/exec {}: {e}", program.display()))
                        }
                        RuntimeKind::Python | RuntimeKind::Node => {
                            SpawnError::Host(format!("cannot start {}: {e}", program.display()))
                        }
                    });
                }
            };
        output.attach(stdout);
        output.attach(stderr);

        let pid = child.id().unwrap_or(0);
        let kill = CancellationToken::new();
        let (exit_tx, exit_rx) = watch::channel(None);
        let watcher_kill = kill.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                biased;
                status = child.wait() => status,
                _ = watcher_kill.cancelled() => {
                    // The leader is not reaped yet, so its pid still names this group.
                    kill_group(pid);
                    child.wait().await
                }
            };
            // Leftover children of the runtime (shell bootstraps, handler subprocesses).
            kill_group(pid);
            let _ = exit_tx.send(Some(ExitInfo::from_status(status)));
        });

        Ok(Environment {
            id,
            revision: spec.revision.clone(),
            generation,
            pid,
            api,
            jobs: jobs_tx,
            exit: exit_rx,
            output,
            spawned_at,
            invocations: AtomicU64::new(0),
            kill,
            server,
        })
    }
}

/// The options AWS's Node.js runtimes start `node` with: `gc()` exposed, large HTTP headers
/// allowed, and the V8 heap sized from the function's memory (1/25 of it for the young
/// generation, the rest for the old one), so a function runs out of heap here where it would
/// on Lambda.
fn node_arguments(memory_mb: u32) -> Vec<OsString> {
    let new_space = memory_mb / 25;
    vec![
        "--expose-gc".into(),
        "--max-http-header-size=81920".into(),
        format!("--max-semi-space-size={}", new_space / 2).into(),
        format!("--max-old-space-size={}", memory_mb - new_space).into(),
    ]
}

fn kill_group(pid: u32) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

/// Makes sure a `provided` bootstrap exists and is executable (zips made on some systems lose
/// the mode bits; AWS users expect `chmod +x` to be enough, and we are lenient).
fn prepare_bootstrap(path: &Path) -> Result<(), SpawnError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|_| {
        SpawnError::Entrypoint(format!(
            "Couldn't find valid bootstrap(s): [{}]",
            path.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(SpawnError::Entrypoint(format!(
            "Couldn't find valid bootstrap(s): [{}]",
            path.display()
        )));
    }
    let mode = meta.permissions().mode();
    if mode & 0o111 != 0o111 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o755)).map_err(
            |e| SpawnError::Entrypoint(format!("cannot make {} executable: {e}", path.display())),
        )?;
    }
    Ok(())
}

type Started = (tokio::process::Child, pipe::Receiver, pipe::Receiver);

async fn start_process(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    vars: &[(String, OsString)],
) -> std::io::Result<Started> {
    // ETXTBSY: a freshly written bootstrap can be "busy" for a moment while another thread's
    // fork still holds its write descriptor. Only this error path waits.
    let mut attempts = 0;
    loop {
        match start_once(program, args, cwd, vars) {
            Err(e) if e.raw_os_error() == Some(26) && attempts < 20 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            other => return other,
        }
    }
}

fn start_once(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    vars: &[(String, OsString)],
) -> std::io::Result<Started> {
    let (out_tx, out_rx) = pipe::pipe()?;
    let (err_tx, err_rx) = pipe::pipe()?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(out_tx.into_blocking_fd()?))
        .stderr(Stdio::from(err_tx.into_blocking_fd()?))
        .process_group(0)
        .kill_on_drop(true);
    let child = cmd.spawn()?;
    // `cmd` (and with it our copies of the write ends) is dropped here, so the pumps see
    // end-of-file once the process group is gone.
    drop(cmd);
    Ok((child, out_rx, err_rx))
}

/// Variables a function may inherit from the host process; everything else is dropped so the
/// server's own environment never leaks into functions. `PATH`/`HOME` keep interpreters (and
/// version-manager shims such as pyenv's) resolvable.
const INHERITED: &[&str] = &[
    "PATH",
    "HOME",
    "LD_LIBRARY_PATH",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PYENV_ROOT",
    "PYENV_VERSION",
];

fn environment_variables(
    cfg: &HostConfig,
    spec: &FunctionSpec,
    kind: RuntimeKind,
    runtime_api: &str,
    log_stream: &str,
    code_dir: &Path,
) -> Vec<(String, OsString)> {
    let mut vars: BTreeMap<String, OsString> = BTreeMap::new();
    for name in INHERITED {
        if let Some(value) = std::env::var_os(name) {
            vars.insert((*name).to_string(), value);
        }
    }
    let runtime_dir: PathBuf = match kind {
        RuntimeKind::Python => cfg.work_dir.join("runtimes/python"),
        RuntimeKind::Node => cfg.work_dir.join("runtimes/node"),
        RuntimeKind::Provided => cfg.work_dir.join("runtimes"),
    };
    let mut set = |k: &str, v: OsString| {
        vars.insert(k.to_string(), v);
    };
    set("_HANDLER", spec.handler.clone().into());
    set("AWS_REGION", cfg.region.clone().into());
    set("AWS_DEFAULT_REGION", cfg.region.clone().into());
    if kind != RuntimeKind::Provided {
        set(
            "AWS_EXECUTION_ENV",
            format!("AWS_Lambda_{}", spec.runtime).into(),
        );
    }
    set("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone().into());
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        spec.memory_mb.to_string().into(),
    );
    set("AWS_LAMBDA_FUNCTION_VERSION", spec.version.clone().into());
    set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into());
    set(
        "AWS_LAMBDA_LOG_GROUP_NAME",
        spec.logging.group.clone().into(),
    );
    if spec.logging.json {
        // What Lambda's runtimes read to write JSON application logs and filter them.
        set("AWS_LAMBDA_LOG_FORMAT", "JSON".into());
        if let Some(level) = &spec.logging.application_level {
            set("AWS_LAMBDA_LOG_LEVEL", level.clone().into());
        }
    }
    set("AWS_LAMBDA_LOG_STREAM_NAME", log_stream.into());
    match &spec.credentials {
        Some(c) => {
            set("AWS_ACCESS_KEY_ID", c.access_key_id.clone().into());
            set("AWS_SECRET_ACCESS_KEY", c.secret_access_key.clone().into());
            set("AWS_SESSION_TOKEN", c.session_token.clone().into());
        }
        None => {
            set("AWS_ACCESS_KEY_ID", "test".into());
            set("AWS_SECRET_ACCESS_KEY", "test".into());
            set("AWS_SESSION_TOKEN", "test".into());
        }
    }
    set("AWS_LAMBDA_RUNTIME_API", runtime_api.into());
    set("LAMBDA_TASK_ROOT", code_dir.as_os_str().to_owned());
    set("LAMBDA_RUNTIME_DIR", runtime_dir.clone().into_os_string());
    set("LANG", "en_US.UTF-8".into());
    set("TZ", ":UTC".into());
    set("AWS_ENDPOINT_URL", cfg.endpoint_url.clone().into());
    let opt = spec.layers_dir.as_deref();
    if kind == RuntimeKind::Node {
        // Lambda's order with its directories mapped to ours: layers (/opt/nodejs/node<N>/
        // node_modules, /opt/nodejs/node_modules), the runtime's node_modules, the runtime
        // dir, then the task root. A user's NODE_PATH replaces it, as on Lambda.
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(opt) = opt {
            let major = spec
                .runtime
                .trim_start_matches("nodejs")
                .trim_end_matches(".x")
                .to_owned();
            dirs.push(opt.join(format!("nodejs/node{major}/node_modules")));
            dirs.push(opt.join("nodejs/node_modules"));
        }
        dirs.push(runtime_dir.join("node_modules"));
        dirs.push(runtime_dir.clone());
        dirs.push(code_dir.to_path_buf());
        set("NODE_PATH", std::env::join_paths(dirs).unwrap_or_default());
    }
    if let Some(opt) = opt {
        // /opt/bin at the end of PATH and /opt/lib on the library path, as on Lambda.
        for (var, sub) in [("PATH", "bin"), ("LD_LIBRARY_PATH", "lib")] {
            let mut value = vars.get(var).cloned().unwrap_or_default();
            if !value.is_empty() {
                value.push(":");
            }
            value.push(opt.join(sub));
            vars.insert(var.to_owned(), value);
        }
    }

    for (k, v) in &spec.environment {
        vars.insert(k.clone(), v.into());
    }
    if kind == RuntimeKind::Python {
        let mut path = code_dir.as_os_str().to_owned();
        // Then the layers: /opt/python/lib/python3.x/site-packages and /opt/python.
        if let Some(opt) = opt {
            for dir in [
                opt.join(format!("python/lib/{}/site-packages", spec.runtime)),
                opt.join("python"),
            ] {
                path.push(":");
                path.push(dir);
            }
        }
        if let Some(user) = vars.get("PYTHONPATH").filter(|p| !p.is_empty()) {
            path.push(":");
            path.push(user);
        }
        vars.insert("PYTHONPATH".into(), path);
    }
    vars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes() {
        assert_eq!(RuntimeKind::parse("python3.12"), Some(RuntimeKind::Python));
        assert_eq!(RuntimeKind::parse("python3.9"), Some(RuntimeKind::Python));
        assert_eq!(
            RuntimeKind::parse("provided.al2023"),
            Some(RuntimeKind::Provided)
        );
        assert_eq!(
            RuntimeKind::parse("provided.al2"),
            Some(RuntimeKind::Provided)
        );
        assert_eq!(RuntimeKind::parse("python3."), None);
        assert_eq!(RuntimeKind::parse("nodejs22.x"), Some(RuntimeKind::Node));
        assert_eq!(RuntimeKind::parse("nodejs18.x"), Some(RuntimeKind::Node));
        assert_eq!(RuntimeKind::parse("nodejs.x"), None);
        assert_eq!(RuntimeKind::parse("nodejs22"), None);
        assert_eq!(RuntimeKind::parse("java21"), None);
    }

    #[test]
    fn exit_reasons() {
        assert_eq!(
            ExitInfo::Code(0).reason(),
            "Runtime exited without providing a reason"
        );
        assert_eq!(
            ExitInfo::Code(127).reason(),
            "Runtime exited with error: exit status 127"
        );
        assert_eq!(
            ExitInfo::Signal(9).reason(),
            "Runtime exited with error: signal: killed"
        );
    }

    #[test]
    fn user_environment_wins_and_pythonpath_is_prepended() {
        let cfg = HostConfig {
            work_dir: "/w".into(),
            python: "python3".into(),
            node: "node".into(),
            region: "eu-west-1".into(),
            account_id: "000000000000".into(),
            endpoint_url: "http://127.0.0.1:4566".into(),
        };
        let spec = FunctionSpec {
            name: "f".into(),
            function_arn: "arn:aws:lambda:eu-west-1:000000000000:function:f".into(),
            runtime: "python3.12".into(),
            handler: "app.handler".into(),
            timeout_secs: 3,
            memory_mb: 128,
            environment: [
                ("PYTHONPATH".to_string(), "/extra".to_string()),
                ("TZ".into(), "x".into()),
            ]
            .into_iter()
            .collect(),
            code_dir: "/code".into(),
            layers_dir: None,
            revision: "1".into(),
            version: "$LATEST".into(),
            logging: crate::LogConfig::text("f"),
            credentials: None,
        };
        let vars: BTreeMap<_, _> = environment_variables(
            &cfg,
            &spec,
            RuntimeKind::Python,
            "127.0.0.1:9",
            "s",
            Path::new("/code"),
        )
        .into_iter()
        .collect();
        assert_eq!(vars["PYTHONPATH"], "/code:/extra");
        assert_eq!(vars["TZ"], "x");
        assert_eq!(vars["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.12");
        assert_eq!(vars["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/f");
        assert_eq!(vars["LAMBDA_TASK_ROOT"], "/code");
        assert!(!vars.contains_key("AWS_LAMBDA_LOG_FORMAT"));
    }

    #[test]
    fn logging_config_sets_the_log_group_format_and_level() {
        let cfg = HostConfig {
            work_dir: "/w".into(),
            python: "python3".into(),
            node: "node".into(),
            region: "eu-west-1".into(),
            account_id: "000000000000".into(),
            endpoint_url: "http://127.0.0.1:4566".into(),
        };
        let spec = FunctionSpec {
            name: "f".into(),
            function_arn: "arn:aws:lambda:eu-west-1:000000000000:function:f".into(),
            runtime: "python3.12".into(),
            handler: "app.handler".into(),
            timeout_secs: 3,
            memory_mb: 128,
            environment: BTreeMap::new(),
            code_dir: "/code".into(),
            layers_dir: None,
            revision: "1".into(),
            version: "$LATEST".into(),
            logging: crate::LogConfig {
                group: "/custom/f".into(),
                json: true,
                application_level: Some("WARN".into()),
                system_level: Some("INFO".into()),
            },
            credentials: None,
        };
        let vars: BTreeMap<_, _> = environment_variables(
            &cfg,
            &spec,
            RuntimeKind::Python,
            "127.0.0.1:9",
            "s",
            Path::new("/code"),
        )
        .into_iter()
        .collect();
        assert_eq!(vars["AWS_LAMBDA_LOG_GROUP_NAME"], "/custom/f");
        assert_eq!(vars["AWS_LAMBDA_LOG_FORMAT"], "JSON");
        assert_eq!(vars["AWS_LAMBDA_LOG_LEVEL"], "WARN");
    }

    #[test]
    fn node_environment_and_arguments() {
        let cfg = HostConfig {
            work_dir: "/w".into(),
            python: "python3".into(),
            node: "node".into(),
            region: "eu-west-1".into(),
            account_id: "000000000000".into(),
            endpoint_url: "http://127.0.0.1:4566".into(),
        };
        let mut spec = FunctionSpec {
            name: "f".into(),
            function_arn: "arn:aws:lambda:eu-west-1:000000000000:function:f".into(),
            runtime: "nodejs20.x".into(),
            handler: "src/app.handler".into(),
            timeout_secs: 3,
            memory_mb: 1024,
            environment: BTreeMap::new(),
            code_dir: "/code".into(),
            layers_dir: None,
            revision: "1".into(),
            version: "$LATEST".into(),
            logging: crate::LogConfig::text("f"),
            credentials: None,
        };
        let vars = |spec: &FunctionSpec| -> BTreeMap<String, OsString> {
            environment_variables(
                &cfg,
                spec,
                RuntimeKind::Node,
                "127.0.0.1:9",
                "s",
                Path::new("/code"),
            )
            .into_iter()
            .collect()
        };
        let v = vars(&spec);
        assert_eq!(v["AWS_EXECUTION_ENV"], "AWS_Lambda_nodejs20.x");
        assert_eq!(v["_HANDLER"], "src/app.handler");
        assert_eq!(v["LAMBDA_RUNTIME_DIR"], "/w/runtimes/node");
        assert_eq!(
            v["NODE_PATH"],
            "/w/runtimes/node/node_modules:/w/runtimes/node:/code"
        );
        assert!(!v.contains_key("PYTHONPATH"));

        spec.environment.insert("NODE_PATH".into(), "/mine".into());
        assert_eq!(vars(&spec)["NODE_PATH"], "/mine");

        // 1024 MB as on Lambda: 40 MB new space (20 MB semi-space), the rest old space.
        let args = node_arguments(1024);
        assert_eq!(
            args,
            [
                "--expose-gc",
                "--max-http-header-size=81920",
                "--max-semi-space-size=20",
                "--max-old-space-size=984"
            ]
            .map(OsString::from)
        );
    }

    #[test]
    fn interpreters_are_looked_up_like_the_spawn_does() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake-node");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        let cfg = |python: &Path, node: &Path| HostConfig {
            work_dir: "/w".into(),
            python: python.into(),
            node: node.into(),
            region: "eu-west-1".into(),
            account_id: "000000000000".into(),
            endpoint_url: "http://127.0.0.1:4566".into(),
        };
        // Not executable yet: refused, with the runtime, the path and the flag in the message.
        let c = cfg(Path::new("python3"), &fake);
        let err = check_interpreter(&c, "nodejs22.x").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("nodejs22.x"), "{msg}");
        assert!(msg.contains(&fake.display().to_string()), "{msg}");
        assert!(msg.contains("--node (TRIBUTARY_NODE)"), "{msg}");
        assert!(!msg.contains("PATH"), "{msg}");

        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(check_interpreter(&c, "nodejs22.x"), Ok(()));
        // `provided` runtimes and runtimes the host cannot run are not this check's business.
        let none = cfg(
            Path::new("/nonexistent/python"),
            Path::new("/nonexistent/node"),
        );
        assert_eq!(check_interpreter(&none, "provided.al2023"), Ok(()));
        assert_eq!(check_interpreter(&none, "java21"), Ok(()));
        let err = check_interpreter(&none, "python3.12").unwrap_err();
        assert!(
            err.to_string().contains("--python (TRIBUTARY_PYTHON)"),
            "{err}"
        );

        // A bare name is searched on PATH (`sh` is on every PATH this runs with).
        assert_eq!(
            check_interpreter(&cfg(Path::new("sh"), &fake), "python3.12"),
            Ok(())
        );
        let missing = cfg(Path::new("no-such-interpreter-xyz"), &fake);
        let err = check_interpreter(&missing, "python3.13").unwrap_err();
        assert!(err.to_string().contains("(searched PATH)"), "{err}");
    }
}

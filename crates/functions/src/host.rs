//! The function host: pools of execution environments per function, and one invocation's life
//! from checkout to the platform log lines.
//!
//! Invariants: an environment is either idle in its pool or leased by exactly one invocation;
//! an environment that timed out, died, failed init or was abandoned by a dropped invoke future
//! is killed and never reused; idle environments are reused only for the same revision and pool
//! generation (a retire bumps the generation).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;
use tributary_model::Clock;

use crate::environment::{Environment, ExitInfo, RuntimeKind, SpawnError, PYTHON_BOOTSTRAP};
use crate::output::{EnvOutput, LogSink};
use crate::runtime_api::{Job, Outcome};
use crate::{FunctionSpec, HostConfig, HostError, InvokeRequest, InvokeResult};

/// The Python bootstrap shipped in `runtimes/python/`, written under the work dir at start.
const PYTHON_BOOTSTRAP_SOURCE: &str = include_str!("../../../runtimes/python/bootstrap.py");

/// What Invoke returns when a runtime posts more than [`crate::MAX_PAYLOAD_BYTES`].
const RESPONSE_TOO_LARGE: &[u8] = br#"{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}"#;

/// How long a runtime may take to ask for its first event (AWS's init phase limit).
const INIT_LIMIT: Duration = Duration::from_secs(10);
/// Idle environments older than this are killed by the reaper.
const IDLE_LIMIT: Duration = Duration::from_secs(600);
const REAP_EVERY: Duration = Duration::from_secs(60);
/// How long `retire`/`shutdown` wait for killed processes to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Default)]
struct FunctionPool {
    generation: u64,
    idle: Vec<Arc<Environment>>,
    busy: HashMap<u64, Arc<Environment>>,
}

#[derive(Default)]
struct Pools {
    functions: HashMap<String, FunctionPool>,
    next_id: u64,
}

/// Runs functions as local processes; see the crate documentation.
pub struct FunctionHost {
    cfg: HostConfig,
    clock: Arc<dyn Clock>,
    pools: Mutex<Pools>,
    sinks: Mutex<HashMap<String, Arc<LogSink>>>,
    shutting_down: AtomicBool,
}

enum StartFailure {
    /// A function error (`Runtime.InvalidEntrypoint`) with this reason.
    Entrypoint(String),
    Host(HostError),
}

/// How an invocation ended, before it is turned into an [`InvokeResult`].
enum Ending {
    Answered(Outcome),
    Exited,
    TimedOut,
}

/// An environment checked out for one invocation. Dropping it without [`Lease::keep`] kills the
/// environment, which also covers invoke futures that are dropped half-way.
struct Lease<'a> {
    host: &'a FunctionHost,
    function: &'a str,
    env: Option<Arc<Environment>>,
}

impl Lease<'_> {
    fn keep(mut self) {
        if let Some(env) = self.env.take() {
            self.host.release(self.function, env, true);
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(env) = self.env.take() {
            self.host.release(self.function, env, false);
        }
    }
}

impl FunctionHost {
    /// Creates the host and writes `runtimes/python/bootstrap.py` and `logs/` under
    /// `cfg.work_dir`. Starts an idle reaper when called inside a tokio runtime.
    pub fn new(cfg: HostConfig, clock: Arc<dyn Clock>) -> std::io::Result<Arc<FunctionHost>> {
        let bootstrap = cfg.work_dir.join(PYTHON_BOOTSTRAP);
        if let Some(dir) = bootstrap.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Write-then-rename so a running environment never reads a half-written file.
        let tmp = bootstrap.with_extension(format!("py.{}.tmp", std::process::id()));
        std::fs::write(&tmp, PYTHON_BOOTSTRAP_SOURCE)?;
        std::fs::rename(&tmp, &bootstrap)?;
        std::fs::create_dir_all(cfg.work_dir.join("logs"))?;

        let host = Arc::new(FunctionHost {
            cfg,
            clock,
            pools: Mutex::new(Pools::default()),
            sinks: Mutex::new(HashMap::new()),
            shutting_down: AtomicBool::new(false),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(reap_idle_environments(Arc::downgrade(&host)));
        }
        Ok(host)
    }

    /// The log file of `function_name`: `<work_dir>/logs/<function>.log`.
    pub fn log_path(&self, function_name: &str) -> PathBuf {
        let safe: String = function_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.cfg.work_dir.join("logs").join(format!("{safe}.log"))
    }

    /// Invokes `spec` synchronously: on a warm environment of the same revision if one is idle,
    /// otherwise on a new one.
    pub async fn invoke(
        &self,
        spec: Arc<FunctionSpec>,
        req: InvokeRequest,
    ) -> Result<InvokeResult, HostError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(HostError::ShuttingDown);
        }
        let kind = RuntimeKind::parse(&spec.runtime)
            .ok_or_else(|| HostError::UnsupportedRuntime(spec.runtime.clone()))?;
        let request_id = uuid::Uuid::new_v4().to_string();

        let (env, cold) = match self.take_idle(&spec) {
            Some(env) => (env, false),
            None => match self.start_environment(&spec, kind).await {
                Ok(env) => (env, true),
                Err(StartFailure::Host(e)) => return Err(e),
                Err(StartFailure::Entrypoint(reason)) => {
                    return Ok(self.entrypoint_failure(&spec, &request_id, &reason, &req));
                }
            },
        };
        let lease = Lease {
            host: self,
            function: &spec.name,
            env: Some(Arc::clone(&env)),
        };
        let (result, keep) = self.run(&spec, &env, req, request_id, cold).await;
        if keep {
            lease.keep();
        } else {
            drop(lease);
        }
        // `None`: the environment was killed by `shutdown` under this invocation.
        result.ok_or(HostError::ShuttingDown)
    }

    /// Kills all environments of `function_name`: idle ones now, busy ones when their
    /// invocation ends. Waits (briefly) until the idle ones are gone.
    pub async fn retire(&self, function_name: &str) {
        let idle = {
            let mut pools = lock(&self.pools);
            match pools.functions.get_mut(function_name) {
                Some(pool) => {
                    pool.generation += 1;
                    std::mem::take(&mut pool.idle)
                }
                None => Vec::new(),
            }
        };
        kill_and_wait(idle).await;
    }

    /// Kills every environment; later invokes fail with [`HostError::ShuttingDown`].
    pub async fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        let all: Vec<Arc<Environment>> = {
            let mut pools = lock(&self.pools);
            pools
                .functions
                .values_mut()
                .flat_map(|pool| {
                    let mut envs = std::mem::take(&mut pool.idle);
                    envs.extend(pool.busy.drain().map(|(_, env)| env));
                    envs
                })
                .collect()
        };
        kill_and_wait(all).await;
    }

    fn sink(&self, function_name: &str) -> Arc<LogSink> {
        let mut sinks = lock(&self.sinks);
        if let Some(sink) = sinks.get(function_name) {
            return Arc::clone(sink);
        }
        let sink = Arc::new(LogSink::new(self.log_path(function_name)));
        sinks.insert(function_name.to_string(), Arc::clone(&sink));
        sink
    }

    /// Checks out the most recently used idle environment of this revision, killing stale ones.
    fn take_idle(&self, spec: &FunctionSpec) -> Option<Arc<Environment>> {
        let mut stale = Vec::new();
        let found = {
            let mut pools = lock(&self.pools);
            let pool = pools.functions.get_mut(&spec.name)?;
            let generation = pool.generation;
            pool.idle.retain(|env| {
                let usable = env.revision == spec.revision
                    && env.generation == generation
                    && env.exited().is_none();
                if !usable {
                    stale.push(Arc::clone(env));
                }
                usable
            });
            let env = pool.idle.pop();
            if let Some(env) = &env {
                pool.busy.insert(env.id, Arc::clone(env));
            }
            env
        };
        for env in stale {
            env.kill();
        }
        found
    }

    async fn start_environment(
        &self,
        spec: &FunctionSpec,
        kind: RuntimeKind,
    ) -> Result<Arc<Environment>, StartFailure> {
        let (id, generation) = {
            let mut pools = lock(&self.pools);
            pools.next_id += 1;
            let id = pools.next_id;
            let pool = pools.functions.entry(spec.name.clone()).or_default();
            (id, pool.generation)
        };
        let sink = self.sink(&spec.name);
        let env = Environment::spawn(
            &self.cfg,
            spec,
            kind,
            Arc::clone(&self.clock),
            sink,
            id,
            generation,
        )
        .await
        .map_err(|e| match e {
            SpawnError::Entrypoint(reason) => StartFailure::Entrypoint(reason),
            SpawnError::Host(msg) => StartFailure::Host(HostError::Spawn(msg)),
        })?;
        let env = Arc::new(env);
        {
            let mut pools = lock(&self.pools);
            // Checked under the lock `shutdown` takes, so no environment escapes it.
            if !self.shutting_down.load(Ordering::Acquire) {
                let pool = pools.functions.entry(spec.name.clone()).or_default();
                pool.busy.insert(id, Arc::clone(&env));
                return Ok(env);
            }
        }
        env.kill();
        Err(StartFailure::Host(HostError::ShuttingDown))
    }

    /// Returns a leased environment to its pool, or kills it.
    fn release(&self, function: &str, env: Arc<Environment>, keep: bool) {
        {
            let mut pools = lock(&self.pools);
            let shutting_down = self.shutting_down.load(Ordering::Acquire);
            if let Some(pool) = pools.functions.get_mut(function) {
                pool.busy.remove(&env.id);
                if keep
                    && !shutting_down
                    && env.generation == pool.generation
                    && env.exited().is_none()
                {
                    *lock(&env.last_used) = Instant::now();
                    pool.idle.push(env);
                    return;
                }
            }
        }
        env.kill();
    }

    fn reap_idle(&self, older_than: Duration) {
        let now = Instant::now();
        let mut expired = Vec::new();
        {
            let mut pools = lock(&self.pools);
            for pool in pools.functions.values_mut() {
                pool.idle.retain(|env| {
                    let keep = now.duration_since(*lock(&env.last_used)) < older_than;
                    if !keep {
                        expired.push(Arc::clone(env));
                    }
                    keep
                });
            }
        }
        for env in expired {
            tracing::debug!(env = env.id, "killing idle environment");
            env.kill();
        }
    }

    /// Runs one invocation on a leased environment. Returns the result (None when the
    /// environment died because the host is shutting down) and whether the environment may be
    /// reused.
    async fn run(
        &self,
        spec: &FunctionSpec,
        env: &Environment,
        req: InvokeRequest,
        request_id: String,
        cold: bool,
    ) -> (Option<InvokeResult>, bool) {
        let out = &env.output;
        let want_tail = req.want_log_tail;
        if want_tail {
            out.begin_capture();
        }
        let started = Instant::now();
        let (reply_tx, mut reply_rx) = oneshot::channel();
        let (dispatched_tx, mut dispatched_rx) = oneshot::channel();
        env.api.arm(&request_id, reply_tx);
        let job = Job {
            request_id: request_id.clone(),
            payload: req.payload,
            invoked_arn: req.invoked_arn,
            client_context: req.client_context,
            trace_id: trace_id(self.clock.now_millis()),
            dispatched: dispatched_tx,
        };
        let queued = env.jobs.try_send(job).is_ok();
        let timeout = Duration::from_secs(u64::from(spec.timeout_secs));

        let mut dispatched_at: Option<Instant> = None;
        let mut dispatch_pending = true;
        let deadline = tokio::time::sleep(INIT_LIMIT.max(timeout));
        tokio::pin!(deadline);
        let mut exit = env.exit.clone();
        let ending = if !queued {
            Ending::Exited
        } else {
            loop {
                tokio::select! {
                    biased;
                    answer = &mut reply_rx => break match answer {
                        Ok(outcome) => Ending::Answered(outcome),
                        Err(_) => Ending::Exited,
                    },
                    dispatch = &mut dispatched_rx, if dispatch_pending => {
                        dispatch_pending = false;
                        if let Ok(dispatch) = dispatch {
                            dispatched_at = Some(dispatch.at);
                            deadline.as_mut().reset((dispatch.at + timeout).into());
                        }
                    }
                    _ = exit.wait_for(|e| e.is_some()) => break Ending::Exited,
                    _ = &mut deadline => break Ending::TimedOut,
                }
            }
        };
        let ended_at = Instant::now();
        if dispatch_pending {
            if let Ok(dispatch) = dispatched_rx.try_recv() {
                dispatched_at = Some(dispatch.at);
            }
        }
        env.api.disarm();
        env.invocations.fetch_add(1, Ordering::Relaxed);
        let max_memory_mb = env.max_memory_mb();

        let id = &request_id;
        let unhandled = Some("Unhandled".to_string());
        let mut exit_reason = None;
        let timed_out = matches!(ending, Ending::TimedOut);
        let (payload, function_error, keep) = match ending {
            Ending::Answered(Outcome::Response(body)) => (body, None, true),
            Ending::Answered(Outcome::Error(body)) => (body, unhandled, true),
            Ending::Answered(Outcome::InitError(body)) => (body, unhandled, false),
            Ending::Answered(Outcome::TooLarge) => {
                (Bytes::from_static(RESPONSE_TOO_LARGE), unhandled, true)
            }
            Ending::Exited => {
                if self.shutting_down.load(Ordering::Acquire) {
                    out.end_capture();
                    return (None, false);
                }
                let reason = env.exited().unwrap_or(ExitInfo::Unknown).reason();
                let message = format!("RequestId: {id} Error: {reason}");
                exit_reason = Some(reason);
                (error_json("Runtime.ExitError", &message), unhandled, false)
            }
            Ending::TimedOut => {
                env.kill();
                let secs = spec.timeout_secs;
                let message =
                    format!("RequestId: {id} Error: Task timed out after {secs}.00 seconds");
                (error_json("Sandbox.Timedout", &message), unhandled, false)
            }
        };
        if !keep {
            env.kill();
        }

        // Platform lines, after whatever the runtime wrote up to now.
        out.flush();
        if dispatched_at.is_none() {
            out.platform_line(&format!("START RequestId: {id} Version: $LATEST"));
        }
        if let Some(reason) = &exit_reason {
            out.platform_line(&format!("RequestId: {id} Error: {reason}"));
            out.platform_line("Runtime.ExitError");
        }
        let duration = ended_at.duration_since(dispatched_at.unwrap_or(started));
        let duration_ms = duration.as_secs_f64() * 1000.0;
        let billed_ms = (duration_ms.ceil() as u64).max(1);
        out.platform_line(&format!("END RequestId: {id}"));
        let mut report = format!(
            "REPORT RequestId: {id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed_ms} ms\t\
             Memory Size: {} MB\tMax Memory Used: {max_memory_mb} MB\t",
            spec.memory_mb
        );
        if cold {
            let init_end = env.api.init_done().unwrap_or(ended_at);
            let init_ms = init_end.duration_since(env.spawned_at).as_secs_f64() * 1000.0;
            report.push_str(&format!("Init Duration: {init_ms:.2} ms\t"));
        }
        out.platform_line(&report);
        if timed_out {
            let now = tributary_model::clock::iso_millis(self.clock.now_millis());
            out.platform_line(&format!(
                "{now} {id} Task timed out after {}.00 seconds",
                spec.timeout_secs
            ));
        }
        let log_tail = if want_tail { out.end_capture() } else { None };

        let result = InvokeResult {
            payload,
            function_error,
            log_tail,
            executed_version: "$LATEST".to_string(),
            duration_ms,
            request_id: id.to_string(),
        };
        (Some(result), keep)
    }

    /// The result when a `provided` bootstrap cannot be found or executed.
    fn entrypoint_failure(
        &self,
        spec: &FunctionSpec,
        request_id: &str,
        reason: &str,
        req: &InvokeRequest,
    ) -> InvokeResult {
        let out = EnvOutput::new(self.sink(&spec.name));
        if req.want_log_tail {
            out.begin_capture();
        }
        let message = format!("RequestId: {request_id} Error: {reason}");
        out.platform_line(&format!("START RequestId: {request_id} Version: $LATEST"));
        out.platform_line(&message);
        out.platform_line("Runtime.InvalidEntrypoint");
        out.platform_line(&format!("END RequestId: {request_id}"));
        out.platform_line(&format!(
            "REPORT RequestId: {request_id}\tDuration: 0.00 ms\tBilled Duration: 0 ms\t\
             Memory Size: {} MB\tMax Memory Used: 0 MB\t",
            spec.memory_mb
        ));
        InvokeResult {
            payload: error_json("Runtime.InvalidEntrypoint", &message),
            function_error: Some("Unhandled".to_string()),
            log_tail: out.end_capture(),
            executed_version: "$LATEST".to_string(),
            duration_ms: 0.0,
            request_id: request_id.to_string(),
        }
    }
}

/// `{"errorType":…,"errorMessage":…}` in AWS's field order.
fn error_json(error_type: &str, message: &str) -> Bytes {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    Bytes::from(format!(
        r#"{{"errorType":{},"errorMessage":{}}}"#,
        quote(error_type),
        quote(message)
    ))
}

/// An X-Ray trace header: `Root=1-<epoch hex>-<96 bit hex>;Parent=<64 bit hex>;Sampled=0`.
fn trace_id(now_ms: i64) -> String {
    let secs = (now_ms / 1000).max(0) as u64;
    let root: u128 = rand::random::<u128>() & ((1u128 << 96) - 1);
    let parent: u64 = rand::random();
    format!("Root=1-{secs:08x}-{root:024x};Parent={parent:016x};Sampled=0")
}

async fn kill_and_wait(envs: Vec<Arc<Environment>>) {
    for env in &envs {
        env.kill();
    }
    let all = async {
        for env in &envs {
            env.wait_exit().await;
        }
    };
    let _ = tokio::time::timeout(KILL_WAIT, all).await;
}

async fn reap_idle_environments(host: Weak<FunctionHost>) {
    let mut tick = tokio::time::interval(REAP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(host) = host.upgrade() else { break };
        if host.shutting_down.load(Ordering::Acquire) {
            break;
        }
        host.reap_idle(IDLE_LIMIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_keeps_aws_field_order() {
        let body = error_json(
            "Sandbox.Timedout",
            "RequestId: x Error: Task timed out after 1.00 seconds",
        );
        assert_eq!(
            body,
            Bytes::from_static(
                br#"{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: x Error: Task timed out after 1.00 seconds"}"#
            )
        );
    }

    #[test]
    fn trace_ids_look_like_xray() {
        let t = trace_id(1_573_690_429_717);
        assert!(t.starts_with("Root=1-5dcc9c3d-"), "{t}");
        assert!(t.ends_with(";Sampled=0"));
        assert_eq!(
            t.len(),
            "Root=1-5dcc9c3d-".len() + 24 + ";Parent=".len() + 16 + ";Sampled=0".len()
        );
    }
}

//! The function host: pools of execution environments per function, and one invocation's life
//! from checkout to the platform log lines.
//!
//! Invariants: an environment is either idle in its pool or leased by exactly one invocation;
//! an environment that timed out, died, failed init or was abandoned by a dropped invoke future
//! is killed and never reused; idle environments are reused only for the same revision and pool
//! generation (a retire bumps the generation).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;
use tributary_model::Clock;

use crate::environment::{
    Environment, ExitInfo, RuntimeKind, SpawnError, NODE_BOOTSTRAP, NODE_PACKAGE_JSON,
    PYTHON_BOOTSTRAP,
};
use crate::output::{
    log_file_name, log_stream_name, EnvOutput, FileLogWriter, LogSink, Platform, PlatformLog,
    Status,
};
use crate::runtime_api::{Job, Outcome};
use crate::{
    FunctionSpec, HostConfig, HostError, InvokeRequest, InvokeResult, LogWriter, ThrottleReason,
};

/// The Python bootstrap shipped in `runtimes/python/`, written under the work dir at start.
const PYTHON_BOOTSTRAP_SOURCE: &str = include_str!("../../../runtimes/python/bootstrap.py");
/// The Node.js bootstrap shipped in `runtimes/node/` (with its package.json), written likewise.
const NODE_BOOTSTRAP_SOURCE: &str = include_str!("../../../runtimes/node/bootstrap.js");
const NODE_PACKAGE_JSON_SOURCE: &str = include_str!("../../../runtimes/node/package.json");

/// What Invoke returns when a runtime posts more than [`crate::MAX_PAYLOAD_BYTES`].
const RESPONSE_TOO_LARGE: &[u8] = br#"{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}"#;

/// How long a runtime may take to ask for its first event (AWS's init phase limit).
const INIT_LIMIT: Duration = Duration::from_secs(10);
/// Environments idle longer than this (on the server clock) are killed, unless
/// [`FunctionHost::set_idle_timeout`] says otherwise.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// The reaper looks at least this often (more often for short idle timeouts).
const REAP_EVERY: Duration = Duration::from_secs(60);
/// AWS's default concurrency quota of an account.
pub const DEFAULT_CONCURRENCY_LIMIT: u32 = 1000;
/// How long `retire`/`shutdown` wait for killed processes to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The environments of one function version.
#[derive(Default)]
struct FunctionPool {
    generation: u64,
    idle: Vec<IdleEnv>,
    busy: HashMap<u64, Arc<Environment>>,
}

/// An idle environment and when it became idle (server clock, ms), so idleness is judged on the
/// same clock as every other timer and tests can move it.
struct IdleEnv {
    env: Arc<Environment>,
    since_ms: i64,
}

#[derive(Default)]
struct Pools {
    /// By [`pool_key`]: versions of a function never share environments.
    functions: HashMap<String, FunctionPool>,
    next_id: u64,
}

/// The pool of a function version: `name` for `$LATEST`, `name:version` otherwise (names never
/// contain `:`).
fn pool_key(spec: &FunctionSpec) -> String {
    if spec.version == "$LATEST" {
        spec.name.clone()
    } else {
        format!("{}:{}", spec.name, spec.version)
    }
}

/// Whether `key` names a pool of `function` (any version).
fn pool_of(key: &str, function: &str) -> bool {
    key.strip_prefix(function)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
}

/// Invocations in flight, counted against the account limit and reservations (AWS's model:
/// a function with reserved concurrency R runs at most R at once and R is carved out of the
/// account limit; all other functions share what is left).
#[derive(Default)]
struct Concurrency {
    /// Reserved concurrency by function name.
    reserved: HashMap<String, u32>,
    /// Sum of `reserved`.
    reserved_total: u64,
    /// In-flight invocations by function name (all versions); only functions with some.
    in_flight: HashMap<String, u32>,
}

impl Concurrency {
    /// In-flight invocations of the functions without a reservation (counted when asked, so a
    /// reservation set or removed mid-invocation moves those invocations with it).
    fn unreserved_in_flight(&self) -> u64 {
        self.in_flight
            .iter()
            .filter(|(name, _)| !self.reserved.contains_key(*name))
            .map(|(_, n)| u64::from(*n))
            .sum()
    }
}

/// One admitted invocation; dropping it gives the slot back.
struct Slot<'a> {
    host: &'a FunctionHost,
    function: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut c = lock(&self.host.concurrency);
        if let Some(n) = c.in_flight.get_mut(&self.function) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.in_flight.remove(&self.function);
            }
        }
    }
}

/// Runs functions as local processes; see the crate documentation.
pub struct FunctionHost {
    cfg: HostConfig,
    clock: Arc<dyn Clock>,
    pools: Mutex<Pools>,
    sinks: Mutex<HashMap<String, Arc<LogSink>>>,
    /// Where every function's log events go (see [`FunctionHost::set_log_writer`]).
    log_writer: Mutex<Arc<dyn LogWriter>>,
    shutting_down: AtomicBool,
    concurrency: Mutex<Concurrency>,
    /// The account's concurrency quota.
    concurrency_limit: AtomicU32,
    idle_timeout_ms: AtomicU64,
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
    /// Creates the host and writes the runtimes' bootstraps (`runtimes/python/`,
    /// `runtimes/node/`) and `logs/` under `cfg.work_dir`. Starts an idle reaper when called
    /// inside a tokio runtime.
    pub fn new(cfg: HostConfig, clock: Arc<dyn Clock>) -> std::io::Result<Arc<FunctionHost>> {
        for (file, source) in [
            (PYTHON_BOOTSTRAP, PYTHON_BOOTSTRAP_SOURCE),
            (NODE_BOOTSTRAP, NODE_BOOTSTRAP_SOURCE),
            (NODE_PACKAGE_JSON, NODE_PACKAGE_JSON_SOURCE),
        ] {
            let path = cfg.work_dir.join(file);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Write-then-rename so a running environment never reads a half-written file.
            let mut tmp = path.clone().into_os_string();
            tmp.push(format!(".{}.tmp", std::process::id()));
            std::fs::write(&tmp, source)?;
            std::fs::rename(&tmp, &path)?;
        }
        std::fs::create_dir_all(cfg.work_dir.join("logs"))?;

        let file_logs: Arc<dyn LogWriter> = Arc::new(FileLogWriter::new(cfg.work_dir.join("logs")));
        let host = Arc::new(FunctionHost {
            cfg,
            clock,
            pools: Mutex::new(Pools::default()),
            sinks: Mutex::new(HashMap::new()),
            log_writer: Mutex::new(file_logs),
            shutting_down: AtomicBool::new(false),
            concurrency: Mutex::new(Concurrency::default()),
            concurrency_limit: AtomicU32::new(DEFAULT_CONCURRENCY_LIMIT),
            idle_timeout_ms: AtomicU64::new(DEFAULT_IDLE_TIMEOUT.as_millis() as u64),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(reap_idle_environments(Arc::downgrade(&host)));
        }
        Ok(host)
    }

    /// The configuration this host runs with (e.g. for [`crate::check_interpreter`]).
    pub fn config(&self) -> &HostConfig {
        &self.cfg
    }

    /// Sets the account's concurrency quota (default [`DEFAULT_CONCURRENCY_LIMIT`]).
    pub fn set_concurrency_limit(&self, limit: u32) {
        self.concurrency_limit.store(limit, Ordering::Relaxed);
    }

    /// The account's concurrency quota.
    pub fn concurrency_limit(&self) -> u32 {
        self.concurrency_limit.load(Ordering::Relaxed)
    }

    /// Sets (`Some`) or removes (`None`) a function's reserved concurrency. `Some(0)` throttles
    /// every invocation of it.
    pub fn set_reserved_concurrency(&self, function_name: &str, reserved: Option<u32>) {
        let mut c = lock(&self.concurrency);
        let old = match reserved {
            Some(r) => c.reserved.insert(function_name.to_owned(), r),
            None => c.reserved.remove(function_name),
        };
        c.reserved_total =
            c.reserved_total - u64::from(old.unwrap_or(0)) + u64::from(reserved.unwrap_or(0));
    }

    /// Sets how long an environment may stay idle before it is killed (default 10 minutes).
    pub fn set_idle_timeout(&self, idle: Duration) {
        let ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX).max(1);
        self.idle_timeout_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_timeout_ms(&self) -> i64 {
        i64::try_from(self.idle_timeout_ms.load(Ordering::Relaxed)).unwrap_or(i64::MAX)
    }

    /// Takes a concurrency slot for one invocation of `function_name`, or says which limit
    /// refuses it.
    fn admit(&self, function_name: &str) -> Result<Slot<'_>, ThrottleReason> {
        let limit = u64::from(self.concurrency_limit());
        let mut c = lock(&self.concurrency);
        let running = c.in_flight.get(function_name).copied().unwrap_or(0);
        match c.reserved.get(function_name) {
            Some(&reserved) if running >= reserved => {
                return Err(ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded);
            }
            Some(_) => {}
            None if c.unreserved_in_flight() >= limit.saturating_sub(c.reserved_total) => {
                return Err(ThrottleReason::ConcurrentInvocationLimitExceeded);
            }
            None => {}
        }
        *c.in_flight.entry(function_name.to_owned()).or_default() += 1;
        Ok(Slot {
            host: self,
            function: function_name.to_owned(),
        })
    }

    /// The log file of `function_name`: `<work_dir>/logs/<function>.log`.
    pub fn log_path(&self, function_name: &str) -> PathBuf {
        self.cfg
            .work_dir
            .join("logs")
            .join(log_file_name(function_name))
    }

    /// Sends every function's log events to `writer` instead of the per-function files of
    /// [`FunctionHost::log_path`]. Call it before the first invocation: environments already
    /// running keep the writer they started with.
    pub fn set_log_writer(&self, writer: Arc<dyn LogWriter>) {
        *lock(&self.log_writer) = writer;
        lock(&self.sinks).clear();
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
        // Held until the invocation is over, whichever way it ends.
        let _slot = self.admit(&spec.name).map_err(HostError::Throttled)?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let key = pool_key(&spec);

        // A warm environment whose runtime exited before it took the job (e.g. just after it
        // answered and then crashed) never saw the invocation: Lambda starts a fresh one, and
        // so does the second pass here.
        let mut warm = self.take_idle(&spec);
        let result = loop {
            let (env, cold) = match warm.take() {
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
                function: &key,
                env: Some(Arc::clone(&env)),
            };
            let (result, keep) = self
                .run(&spec, &env, req.clone(), request_id.clone(), cold)
                .await;
            if keep {
                lease.keep();
            } else {
                drop(lease);
            }
            if result.is_some() || cold || self.shutting_down.load(Ordering::Acquire) {
                break result;
            }
        };
        // `None`: the environment was killed by `shutdown` under this invocation.
        result.ok_or(HostError::ShuttingDown)
    }

    /// Kills all environments of `function_name` (every version): idle ones now, busy ones
    /// when their invocation ends. Waits (briefly) until the idle ones are gone.
    pub async fn retire(&self, function_name: &str) {
        self.retire_pools(|key| pool_of(key, function_name)).await;
    }

    /// Like [`FunctionHost::retire`], for one version of a function (`$LATEST` or a number).
    pub async fn retire_version(&self, function_name: &str, version: &str) {
        let key = if version == "$LATEST" {
            function_name.to_owned()
        } else {
            format!("{function_name}:{version}")
        };
        self.retire_pools(|k| k == key).await;
    }

    async fn retire_pools(&self, mut matches: impl FnMut(&str) -> bool) {
        let idle: Vec<Arc<Environment>> = {
            let mut pools = lock(&self.pools);
            pools
                .functions
                .iter_mut()
                .filter(|(key, _)| matches(key))
                .flat_map(|(_, pool)| {
                    pool.generation += 1;
                    std::mem::take(&mut pool.idle)
                })
                .map(|idle| idle.env)
                .collect()
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
                    let mut envs: Vec<Arc<Environment>> =
                        pool.idle.drain(..).map(|idle| idle.env).collect();
                    envs.extend(pool.busy.drain().map(|(_, env)| env));
                    envs
                })
                .collect()
        };
        kill_and_wait(all).await;
    }

    /// The sink of the log group `spec`'s configuration names (shared by every function that
    /// logs there).
    fn sink(&self, spec: &FunctionSpec) -> Arc<LogSink> {
        let group = &spec.logging.group;
        let mut sinks = lock(&self.sinks);
        if let Some(sink) = sinks.get(group) {
            return Arc::clone(sink);
        }
        let writer = Arc::clone(&*lock(&self.log_writer));
        let sink = Arc::new(LogSink::new(group.clone(), writer, Arc::clone(&self.clock)));
        sinks.insert(group.clone(), Arc::clone(&sink));
        sink
    }

    /// Checks out the most recently used idle environment of this revision, killing stale ones
    /// (older revision or generation, dead, or idle past the idle timeout).
    fn take_idle(&self, spec: &FunctionSpec) -> Option<Arc<Environment>> {
        let mut stale = Vec::new();
        let expired_before = self
            .clock
            .now_millis()
            .saturating_sub(self.idle_timeout_ms());
        let found = {
            let mut pools = lock(&self.pools);
            let pool = pools.functions.get_mut(&pool_key(spec))?;
            let generation = pool.generation;
            pool.idle.retain(|idle| {
                let env = &idle.env;
                let usable = env.revision == spec.revision
                    && env.generation == generation
                    && env.exited().is_none()
                    && idle.since_ms > expired_before;
                if !usable {
                    stale.push(Arc::clone(env));
                }
                usable
            });
            let env = pool.idle.pop().map(|idle| idle.env);
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
            let pool = pools.functions.entry(pool_key(spec)).or_default();
            (id, pool.generation)
        };
        let sink = self.sink(spec);
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
                let pool = pools.functions.entry(pool_key(spec)).or_default();
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
                    pool.idle.push(IdleEnv {
                        env,
                        since_ms: self.clock.now_millis(),
                    });
                    return;
                }
            }
        }
        env.kill();
    }

    /// Kills the environments idle longer than the idle timeout.
    fn reap_idle(&self) {
        let expired_before = self
            .clock
            .now_millis()
            .saturating_sub(self.idle_timeout_ms());
        let mut expired = Vec::new();
        {
            let mut pools = lock(&self.pools);
            for pool in pools.functions.values_mut() {
                pool.idle.retain(|idle| {
                    let keep = idle.since_ms > expired_before;
                    if !keep {
                        expired.push(Arc::clone(&idle.env));
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
        if !cold && matches!(ending, Ending::Exited) && dispatched_at.is_none() {
            // The warm runtime died before taking the job; the caller retries on a fresh one.
            env.api.disarm();
            env.kill();
            if want_tail {
                out.end_capture();
            }
            return (None, false);
        }
        env.api.disarm();
        env.invocations.fetch_add(1, Ordering::Relaxed);
        let max_memory_mb = env.max_memory_mb();

        let id = &request_id;
        let unhandled = Some("Unhandled".to_string());
        let mut exit_reason = None;
        let timed_out = matches!(ending, Ending::TimedOut);
        // How the platform events report it: (the runtime's outcome, its error type, the
        // platform's status, its error type).
        let mut outcome: (Status, Option<String>, Status, Option<String>) =
            (Status::Success, None, Status::Success, None);
        let (payload, function_error, keep) = match ending {
            Ending::Answered(Outcome::Response(body)) => (body, None, true),
            Ending::Answered(Outcome::Error(body)) => {
                outcome.0 = Status::Error;
                outcome.1 = Some(error_type_of(&body));
                (body, unhandled, true)
            }
            Ending::Answered(Outcome::InitError(body)) => {
                let t = error_type_of(&body);
                outcome = (Status::Error, Some(t.clone()), Status::Error, Some(t));
                (body, unhandled, false)
            }
            Ending::Answered(Outcome::TooLarge) => {
                let t = "Function.ResponseSizeTooLarge".to_string();
                outcome = (Status::Error, Some(t.clone()), Status::Error, Some(t));
                (Bytes::from_static(RESPONSE_TOO_LARGE), unhandled, true)
            }
            Ending::Exited => {
                if self.shutting_down.load(Ordering::Acquire) {
                    out.publish();
                    out.end_capture();
                    return (None, false);
                }
                let reason = env.exited().unwrap_or(ExitInfo::Unknown).reason();
                let message = format!("RequestId: {id} Error: {reason}");
                exit_reason = Some(reason);
                let t = "Runtime.ExitError".to_string();
                outcome = (Status::Error, Some(t.clone()), Status::Error, Some(t));
                (error_json("Runtime.ExitError", &message), unhandled, false)
            }
            Ending::TimedOut => {
                env.kill();
                outcome = (Status::Timeout, None, Status::Timeout, None);
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
            out.platform(Platform::Start { request_id: id });
        }
        if let Some(reason) = &exit_reason {
            out.platform_text(&format!("RequestId: {id} Error: {reason}"));
            out.platform_text("Runtime.ExitError");
        }
        let duration = ended_at.duration_since(dispatched_at.unwrap_or(started));
        let duration_ms = duration.as_secs_f64() * 1000.0;
        let billed_ms = (duration_ms.ceil() as u64).max(1);
        let (done_status, done_error, report_status, report_error) = &outcome;
        out.platform(Platform::RuntimeDone {
            request_id: id,
            status: *done_status,
            error_type: done_error.as_deref(),
            duration_ms,
            produced_bytes: payload.len(),
        });
        let init_ms = cold.then(|| {
            let init_end = env.api.init_done().unwrap_or(ended_at);
            init_end.duration_since(env.spawned_at).as_secs_f64() * 1000.0
        });
        out.platform(Platform::Report {
            request_id: id,
            status: *report_status,
            error_type: report_error.as_deref(),
            duration_ms,
            billed_ms,
            memory_mb: spec.memory_mb,
            max_memory_mb,
            init_ms,
        });
        if timed_out {
            let now = tributary_model::clock::iso_millis(self.clock.now_millis());
            out.platform_text(&format!(
                "{now} {id} Task timed out after {}.00 seconds",
                spec.timeout_secs
            ));
        }
        out.publish();
        let log_tail = if want_tail { out.end_capture() } else { None };

        let result = InvokeResult {
            payload,
            function_error,
            log_tail,
            executed_version: spec.version.clone(),
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
        let sink = self.sink(spec);
        let stream = log_stream_name(sink.now_millis(), &spec.version);
        let out = EnvOutput::new(sink, stream, PlatformLog::of(spec));
        if req.want_log_tail {
            out.begin_capture();
        }
        let message = format!("RequestId: {request_id} Error: {reason}");
        let error_type = Some("Runtime.InvalidEntrypoint");
        out.platform(Platform::Start { request_id });
        out.platform_text(&message);
        out.platform_text("Runtime.InvalidEntrypoint");
        out.platform(Platform::RuntimeDone {
            request_id,
            status: Status::Error,
            error_type,
            duration_ms: 0.0,
            produced_bytes: 0,
        });
        out.platform(Platform::Report {
            request_id,
            status: Status::Error,
            error_type,
            duration_ms: 0.0,
            billed_ms: 0,
            memory_mb: spec.memory_mb,
            max_memory_mb: 0,
            init_ms: None,
        });
        out.publish();
        InvokeResult {
            payload: error_json("Runtime.InvalidEntrypoint", &message),
            function_error: Some("Unhandled".to_string()),
            log_tail: out.end_capture(),
            executed_version: spec.version.clone(),
            duration_ms: 0.0,
            request_id: request_id.to_string(),
        }
    }
}

/// The `errorType` of an error a runtime posted, for the platform events (`Runtime.Unknown`
/// when it names none).
fn error_type_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errorType")?.as_str().map(str::to_owned))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "Runtime.Unknown".to_string())
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
    loop {
        // A quarter of the idle timeout (at most REAP_EVERY): an environment outlives its
        // timeout by at most that much, on a quiet server too.
        let every = match host.upgrade() {
            Some(host) => {
                let quarter = (host.idle_timeout_ms() / 4).max(10);
                REAP_EVERY.min(Duration::from_millis(quarter as u64))
            }
            None => break,
        };
        tokio::time::sleep(every).await;
        let Some(host) = host.upgrade() else { break };
        if host.shutting_down.load(Ordering::Acquire) {
            break;
        }
        host.reap_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_in(dir: &std::path::Path) -> Arc<FunctionHost> {
        let cfg = HostConfig {
            work_dir: dir.to_path_buf(),
            python: "python3".into(),
            node: "node".into(),
            region: "eu-west-1".into(),
            account_id: "000000000000".into(),
            endpoint_url: "http://127.0.0.1:4566".into(),
        };
        FunctionHost::new(cfg, tributary_model::SystemClock::new()).unwrap()
    }

    #[test]
    fn reservations_and_the_account_limit_throttle() {
        use ThrottleReason::*;
        let dir = tempfile::tempdir().unwrap();
        let host = host_in(dir.path());
        host.set_concurrency_limit(3);
        host.set_reserved_concurrency("r", Some(1));
        let r1 = host.admit("r").unwrap();
        assert_eq!(
            host.admit("r").err(),
            Some(ReservedFunctionConcurrentInvocationLimitExceeded)
        );
        // The other functions share 3 - 1 = 2.
        let a = host.admit("a").unwrap();
        let b = host.admit("b").unwrap();
        assert_eq!(
            host.admit("c").err(),
            Some(ConcurrentInvocationLimitExceeded)
        );
        drop(b);
        let c = host.admit("c").unwrap();
        drop((r1, a, c));
        let _r = host.admit("r").unwrap();
        host.set_reserved_concurrency("z", Some(0));
        assert_eq!(
            host.admit("z").err(),
            Some(ReservedFunctionConcurrentInvocationLimitExceeded)
        );
        // Removing reservations gives them back to the shared pool, where the invocation of
        // "r" still running now counts.
        host.set_reserved_concurrency("r", None);
        host.set_reserved_concurrency("z", None);
        let _x: Vec<_> = (0..2).map(|_| host.admit("x").unwrap()).collect();
        assert_eq!(
            host.admit("y").err(),
            Some(ConcurrentInvocationLimitExceeded)
        );
    }

    #[test]
    fn pools_are_per_version() {
        assert!(pool_of("f", "f") && pool_of("f:3", "f"));
        assert!(!pool_of("fa", "f") && !pool_of("g:1", "f"));
    }

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

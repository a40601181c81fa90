//! The `tributary` binary: parses the command line, opens the store, starts the function host,
//! the ESM engine and the one HTTP listener, and shuts everything down cleanly on a signal.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tributary_api::{App, Config, IamMode};
use tributary_functions::{FunctionHost, HostConfig};
use tributary_gateway::{AuthMode, BrowserPolicy, GatewayConfig};
use tributary_model::{Clock, SystemClock};
use tributary_store::Store;

mod credentials;
mod deploy;
mod status;

/// mimalloc: the request path allocates many small, short-lived values (JSON, items); glibc's
/// allocator showed up as ~15% of PutItem CPU in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tributary",
    version,
    about = "DynamoDB table → stream → Lambda function pipelines, locally"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve DynamoDB, DynamoDB Streams and Lambda on one endpoint.
    Serve(ServeArgs),
    /// Print what a running server is doing: tables, streams, functions, mappings.
    Status(status::StatusArgs),
    /// Print a function's log events (`--follow` to keep printing new ones).
    Logs(status::LogsArgs),
    /// Deploy a CloudFormation or SAM template to a running server, code from local folders
    /// (`--watch` redeploys on every change, `--delete` removes the stack).
    Deploy(deploy::DeployArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TRIBUTARY_LISTEN", default_value = "127.0.0.1:4566")]
    listen: SocketAddr,
    /// Directory of the embedded store.
    #[arg(long, env = "TRIBUTARY_DATA_DIR", default_value = "./.tributary")]
    data_dir: PathBuf,
    /// Keep everything in memory (nothing survives a restart).
    #[arg(long, env = "TRIBUTARY_IN_MEMORY")]
    in_memory: bool,
    /// The storage engine of the data directory: `redb` (a B-tree with Tributary's own
    /// write-ahead log) or `fjall` (an LSM tree). A directory keeps the engine it was made with.
    #[arg(long, env = "TRIBUTARY_STORE_ENGINE", default_value = "redb")]
    store_engine: tributary_store::EngineKind,
    /// AWS region the server reports.
    #[arg(long, env = "TRIBUTARY_REGION", default_value = "us-east-1")]
    region: String,
    /// AWS account id the server reports.
    #[arg(long, env = "TRIBUTARY_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// Open shards of each new stream.
    #[arg(long, env = "TRIBUTARY_STREAM_SHARDS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    stream_shards: u32,
    /// How long a stream shard stays open before it rolls over to a child (e.g. 4h, 30m, 90s).
    #[arg(long, env = "TRIBUTARY_SHARD_ROLLOVER", default_value = "4h", value_parser = parse_duration_ms)]
    shard_rollover: i64,
    /// How long stream records stay readable before they are trimmed (e.g. 24h).
    #[arg(long, env = "TRIBUTARY_STREAM_RETENTION", default_value = "24h", value_parser = parse_duration_ms)]
    stream_retention: i64,
    /// Python interpreter for python runtimes.
    #[arg(long, env = "TRIBUTARY_PYTHON", default_value = "python3")]
    python: PathBuf,
    /// Days function and user log events are kept in log groups without a retention policy of
    /// their own (default: forever).
    #[arg(long, env = "TRIBUTARY_LOG_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    log_retention_days: Option<u32>,
    /// How long CloudWatch metrics (GetMetricStatistics, GetMetricData) are kept, at
    /// one-minute resolution (e.g. 3h, 1d).
    #[arg(long, env = "TRIBUTARY_METRICS_RETENTION", default_value = "3h", value_parser = parse_duration_ms)]
    metrics_retention: i64,
    /// Node.js interpreter for nodejs runtimes.
    #[arg(long, env = "TRIBUTARY_NODE", default_value = "node")]
    node: PathBuf,
    /// The account's concurrency quota: invocations beyond it are throttled (429).
    #[arg(long, env = "TRIBUTARY_CONCURRENCY_LIMIT", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency_limit: u32,
    /// How long an idle function environment is kept warm (e.g. 10m, 90s).
    #[arg(long, env = "TRIBUTARY_IDLE_TIMEOUT", default_value = "10m", value_parser = parse_duration_ms)]
    idle_timeout: i64,
    /// On SIGTERM/SIGINT, how long in-flight requests and invocations may take to finish
    /// before they are aborted and the function processes are stopped (e.g. 5s, 500ms).
    #[arg(long, env = "TRIBUTARY_SHUTDOWN_GRACE", default_value = "5s", value_parser = parse_duration_ms)]
    shutdown_grace: i64,
    /// How requests are authenticated: `open` (a well-formed SigV4 signature, any key and
    /// secret; the default on a loopback address), `verify` (signatures checked against
    /// known credentials; the default on any other address) or `none` (unsigned too).
    #[arg(long, env = "TRIBUTARY_AUTH", value_enum)]
    auth: Option<AuthArg>,
    /// How IAM's decisions apply: `enforce` denies what AWS would deny; `warn` lets the call
    /// through and records the would-be denial (server log, `GET /_tributary/iam/denials`);
    /// `off` evaluates nothing. Requests signed with the account's own keys act as the root.
    #[arg(long, env = "TRIBUTARY_IAM", value_enum, default_value = "warn")]
    iam: IamArg,
    /// Credentials `verify` accepts besides `test`/`test`: an AWS shared credentials file
    /// (`[profile]` sections with `aws_access_key_id`, `aws_secret_access_key` and an
    /// optional `account_id`).
    #[arg(long, env = "TRIBUTARY_CREDENTIALS")]
    credentials: Option<PathBuf>,
    /// An origin whose web pages may call the server (`http://localhost:3000`, or `*`);
    /// repeat for more. Pages of any other origin are refused.
    #[arg(
        long = "cors-origin",
        env = "TRIBUTARY_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// A host name the server may be reached by, besides loopback names, IP addresses and
    /// the --listen host (its subdomains too); repeat for more.
    #[arg(
        long = "allowed-host",
        env = "TRIBUTARY_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum IamArg {
    Enforce,
    Warn,
    Off,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuthArg {
    Open,
    Verify,
    None,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRIBUTARY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tributary: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Status(args) => runtime.block_on(status::status(args)),
        Command::Logs(args) => runtime.block_on(status::logs(args)),
        Command::Deploy(args) => runtime.block_on(deploy::deploy(args)),
    };
    // Whatever is still running (a connection whose invocation was aborted, a blocking read
    // of a dead process's pipe) must not hold the exit up.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tributary: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A scratch directory removed when dropped (in-memory mode keeps nothing on disk).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let clock = SystemClock::new();
    let (store, work_dir, _temp) = if args.in_memory {
        let dir = std::env::temp_dir().join(format!(
            "tributary-{}-{:08x}",
            std::process::id(),
            rand_u32(&*clock)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let store = Store::open(None, clock.clone()).context("opening the in-memory store")?;
        (store, dir.clone(), Some(TempDir(dir)))
    } else {
        let store = Store::open_on(Some(&args.data_dir), args.store_engine, clock.clone())
            .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
        (store, args.data_dir.join("work"), None)
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let endpoint_url = format!("http://{addr}");
    let host = FunctionHost::new(
        HostConfig {
            work_dir: work_dir.join("functions"),
            python: args.python.clone(),
            node: args.node.clone(),
            region: args.region.clone(),
            account_id: args.account_id.clone(),
            endpoint_url: endpoint_url.clone(),
        },
        clock.clone() as Arc<dyn Clock>,
    )
    .context("starting the function host")?;
    host.set_concurrency_limit(args.concurrency_limit);
    host.set_idle_timeout(std::time::Duration::from_millis(args.idle_timeout as u64));
    let app = App::start(
        Config {
            region: args.region,
            account_id: args.account_id,
            endpoint_url: endpoint_url.clone(),
            work_dir,
            stream_shards: args.stream_shards,
            shard_rollover_ms: args.shard_rollover,
            log_retention_days: args.log_retention_days,
            stream_retention_ms: args.stream_retention,
            metrics_retention_ms: args.metrics_retention,
        },
        store,
        host,
        clock.clone(),
        match args.iam {
            IamArg::Enforce => IamMode::Enforce,
            IamArg::Warn => IamMode::Warn,
            IamArg::Off => IamMode::Off,
        },
        // The mapping engine runs on the embedded backends: the store's streams and
        // checkpoints, the local function host, this server's queues, topics and buckets.
        Box::new(|local| local),
    )
    .await;
    let auth = match args.auth {
        Some(AuthArg::Open) => AuthMode::Open,
        Some(AuthArg::Verify) => AuthMode::Verify,
        Some(AuthArg::None) => AuthMode::None,
        None if addr.ip().is_loopback() => AuthMode::Open,
        None => AuthMode::Verify,
    };
    if auth == AuthMode::None {
        tracing::warn!("--auth none: unsigned requests are accepted");
    }
    let gateway = GatewayConfig {
        auth,
        browser: BrowserPolicy {
            cors_origins: args.cors_origins.clone(),
            allowed_hosts: args.allowed_hosts.clone(),
            listen_host: args.listen.ip().to_string(),
        },
        credentials: Arc::new(credentials::Chain {
            known: credentials::Known::load(args.credentials.as_deref(), &app.cfg.account_id)?,
            keys: app.sts.keys(),
        }),
        default_account: app.cfg.account_id.clone(),
        max_body: tributary_api::MAX_REQUEST_BYTES,
        clock: clock.clone() as Arc<dyn Clock>,
    };
    let service = Arc::new(tributary_api::Api(app.clone()));
    tracing::info!(endpoint = %endpoint_url, auth = ?auth, "tributary ready");
    let stop = tokio_util::sync::CancellationToken::new();
    let mut server = tokio::spawn(
        axum::serve(listener, tributary_gateway::router(gateway, service))
            .with_graceful_shutdown(stop.clone().cancelled_owned())
            .into_future(),
    );
    tokio::select! {
        ended = &mut server => {
            // The listener failed before any signal: report it, but still stop cleanly.
            app.shutdown(tokio::time::Instant::now()).await;
            return match ended {
                Ok(r) => r.context("serving HTTP"),
                Err(e) => Err(anyhow::anyhow!("the HTTP server stopped: {e}")),
            };
        }
        () = shutdown_signal() => {}
        why = app.store.fatal() => {
            // The store failed and cannot be reopened: nothing more can be served.
            tracing::error!(%why, "the store failed for good; stopping");
            stop.cancel();
            app.shutdown(tokio::time::Instant::now()).await;
            server.abort();
            anyhow::bail!("the store failed and cannot be reopened: {why}");
        }
    }
    // Stop accepting; in-flight requests and mapping invocations get the grace to finish.
    let grace = std::time::Duration::from_millis(args.shutdown_grace as u64);
    let deadline = tokio::time::Instant::now() + grace;
    tracing::info!(grace_ms = args.shutdown_grace, "shutting down");
    stop.cancel();
    let drained = tokio::select! {
        _ = &mut server => true,
        () = tokio::time::sleep_until(deadline) => false,
        // A second signal means now.
        () = shutdown_signal() => false,
    };
    if !drained {
        tracing::warn!("in-flight requests did not finish within the grace; aborting them");
    }
    app.shutdown(deadline).await;
    server.abort();
    Ok(())
}

/// `4h`, `30m`, `90s`, `250ms` (or bare seconds) → milliseconds.
fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (try 4h, 30m, 90s)"))?;
    let factor = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("unknown unit in {s:?} (use ms, s, m, h or d)")),
    };
    n.checked_mul(factor)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("duration out of range: {s:?}"))
}

fn rand_u32(clock: &dyn Clock) -> u32 {
    (clock.now_millis() as u32) ^ std::process::id().rotate_left(16)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

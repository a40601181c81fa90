//! The wire side of Tributary: one HTTP listener for every service. Requests are routed by
//! `X-Amz-Target` (JSON 1.0: DynamoDB, DynamoDB Streams) or by path (REST-JSON: Lambda), and
//! every failure is rendered in its protocol's AWS error envelope.

mod authz;
pub mod metrics;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Method;
use serde_json::json;
use tributary_functions::FunctionHost;
use tributary_lambda::backends::{LocalDestinations, LocalInvoker, StoreCheckpoints, StoreSource};
use tributary_lambda::{mappings, Lambda, LambdaDeps};
use tributary_model::AwsError;
use tributary_service::iam::Guard;
pub use tributary_service::iam::IamMode;
use tributary_service::{Protocol, Request, Response, Service};
use tributary_store::Store;

use crate::protocol::{json10_error, rest_error, rest_ok};

pub use tributary_service::Config;

/// The mapping engine's backends: where it reads streams, how it invokes functions, where it
/// keeps checkpoints and where failure records go. [`Backends::local`] is the embedded set;
/// the binary chooses, and may swap any of them for a remote one.
pub type Backends = tributary_esm::Deps;

/// Chooses the engine's backends given the local ones.
pub type ChooseBackends = Box<dyn FnOnce(Backends) -> Backends + Send>;

/// The server: every service, the clock signals, the sampler and Tributary's own endpoints.
/// Services hold only the handles they were given; this is where they are wired together.
pub struct App {
    pub cfg: Arc<Config>,
    pub s3: Arc<tributary_s3::S3>,
    pub sqs: Arc<tributary_sqs::Sqs>,
    pub sns: Arc<tributary_sns::Sns>,
    pub dynamodb: Arc<tributary_dynamodb::DynamoDb>,
    pub streams: Arc<tributary_dynamodb_streams::Streams>,
    pub lambda: Arc<Lambda>,
    /// CloudWatch Logs: function output and the Logs API.
    pub logs: Arc<tributary_logs::CloudWatchLogs>,
    /// CloudWatch metrics, `/metrics` counters and the status picture.
    pub metrics: Arc<metrics::Metrics>,
    pub cloudwatch: Arc<tributary_cloudwatch::CloudWatch>,
    pub iam: Arc<tributary_iam::Iam>,
    pub sts: Arc<tributary_sts::Sts>,
    pub cloudformation: Arc<tributary_cloudformation::CloudFormation>,
    /// Applies `--iam` to every check, and keeps the would-be denials.
    pub guard: Arc<Guard>,
    /// The server clock, which `POST /_tributary/clock/advance` moves forward.
    clock: Arc<tributary_model::SystemClock>,
    pub store: Store,
    pub host: Arc<FunctionHost>,
    /// Wakes time-driven background work (shard roll-over) when the clock is moved.
    time_moved: Arc<tokio::sync::Notify>,
    /// Stops background tasks (the TTL sweeper) at shutdown.
    background: tokio_util::sync::CancellationToken,
}

impl App {
    /// Builds the services, wires them together, and starts every enabled mapping found in the
    /// store. `choose` picks the mapping engine's backends from the local ones.
    pub async fn start(
        cfg: Config,
        store: Store,
        host: Arc<FunctionHost>,
        clock: Arc<tributary_model::SystemClock>,
        iam_mode: IamMode,
        choose: ChooseBackends,
    ) -> Arc<App> {
        let cfg = Arc::new(cfg);
        let time_moved = Arc::new(tokio::sync::Notify::new());
        let background = tokio_util::sync::CancellationToken::new();
        let s3 = Arc::new(tributary_s3::S3::new(cfg.clone(), store.clone()));
        let sqs = Arc::new(tributary_sqs::Sqs::new(
            cfg.clone(),
            store.clone(),
            time_moved.clone(),
            background.clone(),
        ));
        let sns = Arc::new(tributary_sns::Sns::new(
            cfg.clone(),
            store.clone(),
            sqs.clone(),
        ));
        let logs = Arc::new(tributary_logs::CloudWatchLogs::new(
            &cfg,
            store.clone(),
            time_moved.clone(),
            background.clone(),
        ));
        host.set_log_writer(logs.writer());
        let dynamodb = Arc::new(tributary_dynamodb::DynamoDb::new(
            cfg.clone(),
            store.clone(),
            clock.clone(),
        ));
        let streams = Arc::new(tributary_dynamodb_streams::Streams::new(
            cfg.clone(),
            store.clone(),
            time_moved.clone(),
        ));
        let metrics = Arc::new(metrics::Metrics::new(cfg.metrics_retention_ms));
        let iam = Arc::new(tributary_iam::Iam::new(
            store.clone(),
            clock.clone(),
            tributary_iam::IamConfig {
                default_account: cfg.account_id.clone(),
            },
        ));
        let sts = Arc::new(tributary_sts::Sts::new(
            store.clone(),
            clock.clone(),
            Arc::new(iam.directory()),
            tributary_sts::StsConfig {
                default_account: cfg.account_id.clone(),
            },
        ));
        let guard = Arc::new(Guard::new(
            iam_mode,
            Arc::new(iam.directory()),
            clock.clone(),
        ));
        let lambda = Lambda::new(
            LambdaDeps {
                cfg: cfg.clone(),
                store: store.clone(),
                host: host.clone(),
                metrics: metrics.clone(),
                background: background.clone(),
                queues: sqs.clone(),
                topics: sns.clone(),
                objects: s3.clone(),
                guard: guard.clone(),
                roles: sts.clone(),
            },
            |me| {
                let local = Backends {
                    source: Arc::new(StoreSource {
                        store: store.clone(),
                    }),
                    invoker: Arc::new(LocalInvoker { app: me.clone() }),
                    checkpoints: Arc::new(StoreCheckpoints {
                        store: store.clone(),
                    }),
                    destinations: Arc::new(LocalDestinations { app: me.clone() }),
                    clock: clock.clone(),
                };
                let deps = choose(local);
                let checkpoints = deps.checkpoints.clone();
                (tributary_esm::Engine::new(deps), checkpoints)
            },
        );
        let cloudformation = Arc::new(tributary_cloudformation::CloudFormation::new(
            cfg.region.clone(),
            cfg.account_id.clone(),
            store.clone(),
            clock.clone(),
            sts.clone(),
            cfg.endpoint_url.clone(),
        ));
        let app = Arc::new_cyclic(|weak: &std::sync::Weak<App>| {
            let sampled = weak.clone();
            let cloudwatch = Arc::new(tributary_cloudwatch::CloudWatch::new(
                store.clone(),
                metrics.clone(),
                Box::new(move || {
                    if let Some(app) = sampled.upgrade() {
                        app.sample_metrics();
                    }
                }),
            ));
            App {
                cfg,
                s3,
                sqs,
                sns,
                dynamodb,
                streams,
                lambda,
                logs,
                metrics,
                cloudwatch,
                iam,
                sts,
                cloudformation,
                guard,
                clock,
                store,
                host,
                time_moved,
                background,
            }
        });
        // CloudFormation's resource handlers call the services through the same entry point
        // (and the same IAM checks) as any client.
        app.cloudformation
            .connect(Arc::new(Internal(Arc::downgrade(&app))));
        tributary_logs::start(&app.logs);
        app.dynamodb.start(app.background.clone());
        app.streams.start(app.background.clone());
        tokio::spawn(metrics::run_sampler(app.clone(), app.background.clone()));
        app.lambda.start().await;
        app.cloudformation.recover().await;
        app
    }

    /// Stops mappings and function processes and flushes the store. Mappings may finish their
    /// in-flight invocations until `deadline`; then the function processes are killed, which
    /// fails whatever still runs, and the mappings stop without checkpointing those batches
    /// (they are delivered again after a restart, never lost).
    pub async fn shutdown(&self, deadline: tokio::time::Instant) {
        self.background.cancel();
        if tokio::time::timeout_at(deadline, self.lambda.engine().shutdown())
            .await
            .is_err()
        {
            tracing::warn!("mappings did not drain in time; stopping functions");
        }
        self.host.shutdown().await;
        self.logs.flush().await;
        if let Err(e) = self.store.flush().await {
            tracing::warn!(error = %e, "final flush failed");
        }
        self.store.close();
    }

    /// Asks the TTL sweeper to look for expired items now.
    pub fn ttl_changed(&self) {
        self.dynamodb.ttl_changed();
    }
}

/// Every AWS service this crate serves, behind the gateway's one [`Service`] trait.
pub struct Api(pub Arc<App>);

#[async_trait::async_trait]
impl Service for Api {
    /// Every request runs inside a span naming its operation (the target, or method and path)
    /// and is counted per operation.
    async fn call(&self, req: Request) -> Response {
        use tracing::Instrument;
        let app = &self.0;
        let span = match req
            .headers
            .get(tributary_service::names::X_AMZ_TARGET)
            .and_then(|v| v.to_str().ok())
        {
            Some(target) => tracing::debug_span!("request", target),
            None => tracing::debug_span!("request", method = %req.method, path = req.uri.path()),
        };
        let label = metrics::RequestLabel::of(&req.method, &req.uri, &req.headers, &req.body);
        let started = std::time::Instant::now();
        let resp = route(app.clone(), req).instrument(span).await;
        app.metrics
            .count_request(label, resp.status().as_u16(), started.elapsed());
        resp
    }
}

/// The server's entry point for requests one service makes of another (CloudFormation's
/// resource handlers), holding the server weakly: the server holds the services.
struct Internal(std::sync::Weak<App>);

#[async_trait::async_trait]
impl Service for Internal {
    async fn call(&self, req: Request) -> Response {
        match self.0.upgrade() {
            Some(app) => Api(app).call(req).await,
            None => json10_error(&AwsError::new(
                "ServiceUnavailable",
                503,
                "The server is shutting down",
            )),
        }
    }
}

/// The largest request body the gateway reads: a 50 MB code zip, base64-encoded inside
/// JSON. Each operation enforces its own AWS limit below this.
pub const MAX_REQUEST_BYTES: usize = 72 * 1024 * 1024;

async fn route(app: Arc<App>, req: Request) -> Response {
    let policies = |arn: &str| resource_policy(&app, arn);
    if let Some(refused) = authz::check(&app.guard, &app.cfg.region, &req, &policies) {
        return refused;
    }
    let service: &dyn Service = match (req.route.protocol, req.route.service.as_str()) {
        (Protocol::RestXml, "s3") => &*app.s3,
        (_, "sqs") => &*app.sqs,
        (Protocol::Query, "sns") => &*app.sns,
        (_, "logs") => &*app.logs,
        (_, "monitoring") | (Protocol::RpcV2Cbor, _) => &*app.cloudwatch,
        (Protocol::RestJson, "lambda") => &*app.lambda,
        (_, "iam") => &*app.iam,
        (_, "sts") => &*app.sts,
        (_, "cloudformation") => &*app.cloudformation,
        (Protocol::AwsJson10 | Protocol::AwsJson11, _) => {
            let target = req
                .headers
                .get(tributary_service::names::X_AMZ_TARGET)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if target.is_empty() {
                return json10_error(&AwsError::new(
                    "UnknownOperationException",
                    400,
                    "Missing X-Amz-Target header",
                ));
            }
            if target.starts_with("DynamoDBStreams_20120810.") {
                &*app.streams
            } else {
                // Unknown targets get DynamoDB's UnknownOperationException.
                &*app.dynamodb
            }
        }
        _ => return admin(&app, req).await,
    };
    service.call(req).await
}

/// The resource-based policy a resource ARN has: a function's (AddPermission), a queue's or a
/// topic's (their `Policy` attribute).
fn resource_policy(app: &App, arn: &str) -> Option<String> {
    if arn.starts_with("arn:aws:sqs:") {
        return app.sqs.queue_policy(arn);
    }
    if arn.starts_with("arn:aws:sns:") {
        return app.sns.topic_policy(arn);
    }
    let rest = arn.split_once(":function:")?.1;
    let (name, qualifier) = match rest.split_once(':') {
        Some((n, q)) => (n, Some(q)),
        None => (rest, None),
    };
    app.lambda.resource_policy(name, qualifier)
}

/// Tributary's own endpoints (`/_tributary/...`, `/metrics`), and any other path.
async fn admin(app: &Arc<App>, req: Request) -> Response {
    let Request {
        method, uri, body, ..
    } = req;
    let path = uri.path();
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let query = parse_query(uri.query().unwrap_or(""));
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    match seg.as_slice() {
        ["_tributary", "health"] => {
            // A failed store refuses requests until it reopens (a full disk), or for good.
            let (code, status, reason) = match app.store.health() {
                tributary_store::Health::Ok => (200, "ready", None),
                tributary_store::Health::Failed(r) => (503, "failed", Some(r)),
                tributary_store::Health::Fatal(r) => (503, "fatal", Some(r)),
            };
            let mut body = json!({"status": status, "version": env!("CARGO_PKG_VERSION")});
            if let Some(r) = reason {
                body["reason"] = json!(r);
            }
            rest_ok(code, &body)
        }
        ["_tributary", "clock", "advance"] if method == Method::POST => {
            advance_clock(app, &body).unwrap_or_else(|e| rest_error(&e))
        }
        ["_tributary", "clock"] if method == Method::GET => rest_ok(200, &clock_json(app)),
        ["_tributary", "iam", "denials"] if method == Method::GET => rest_ok(
            200,
            &json!({"Mode": app.guard.mode().as_str(), "Denials": app.guard.denials()}),
        ),
        ["metrics"]
        | ["_tributary"]
        | ["_tributary", "dashboard" | "status"]
        | ["_tributary", "metrics", "series"]
            if method == Method::GET =>
        {
            metrics::observability(app, &seg, &query)
        }
        ["_tributary", "streams", "rollover"] if method == Method::POST => {
            tributary_dynamodb_streams::rollover_endpoint(&app.streams, &body)
                .await
                .unwrap_or_else(|e| rest_error(&e))
        }
        // A custom resource's function answering (what a presigned S3 URL is on AWS).
        ["_tributary", "cloudformation", "custom-resource", token] if method == Method::PUT => {
            match app.cloudformation.custom_resource_response(token, &body) {
                Ok(()) => Response::new(Body::empty()),
                Err(e) => rest_error(&e),
            }
        }
        ["_tributary", "functions", name, "code"] if method == Method::GET => {
            match tributary_lambda::code_zip(&app.lambda, name) {
                Ok(zip) => {
                    let mut r = Response::new(Body::from(zip));
                    r.headers_mut().insert(
                        "content-type",
                        http::HeaderValue::from_static("application/zip"),
                    );
                    r
                }
                Err(e) => rest_error(&e),
            }
        }
        ["_tributary", "event-source-mappings", uuid, "drain"] if method == Method::POST => {
            match mappings::drain(&app.lambda, uuid, &query).await {
                Ok(v) => rest_ok(200, &v),
                Err(e) => rest_error(&e),
            }
        }
        ["_tributary", "event-source-mappings", uuid, "shards"] if method == Method::GET => {
            match mappings::shards_view(&app.lambda, uuid) {
                Ok(v) => rest_ok(200, &v),
                Err(e) => rest_error(&e),
            }
        }
        _ => rest_error(&tributary_lambda::unknown_rest_operation(
            &method, &segments,
        )),
    }
}

fn clock_json(app: &App) -> serde_json::Value {
    use tributary_model::Clock;
    let now = app.clock.now_millis();
    json!({"now": now as f64 / 1000.0, "iso": tributary_model::clock::iso_millis(now)})
}

/// `POST /_tributary/clock/advance {"seconds": N}`: moves the server clock forward for every
/// time-based rule, then wakes whoever waits on time.
fn advance_clock(app: &App, body: &[u8]) -> Result<Response, AwsError> {
    let req = protocol::parse_body(body)?;
    let secs = req
        .get("seconds")
        .and_then(serde_json::Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| AwsError::validation("seconds must be a non-negative number"))?;
    // What happened before the jump belongs to the minutes before it.
    app.sample_metrics();
    app.clock.advance_millis((secs * 1000.0).round() as i64);
    app.ttl_changed();
    // Sleepers on the clock itself (the mappings' delays) woke with the move.
    app.time_moved.notify_waiters();
    Ok(rest_ok(200, &clock_json(app)))
}

pub use tributary_service::json as protocol;
pub(crate) use tributary_service::{parse_query, percent_decode};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("arn%3Aaws%3Alambda"), "arn:aws:lambda");
        assert_eq!(percent_decode("%24LATEST"), "$LATEST");
        assert_eq!(percent_decode("100%"), "100%");
        let q = parse_query("Qualifier=%24LATEST&MaxItems=5");
        assert_eq!(q["Qualifier"], "$LATEST");
        assert_eq!(q["MaxItems"], "5");
    }
}

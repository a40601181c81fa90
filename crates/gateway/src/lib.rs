//! The gateway: the one listener's front door. For every request, in order, it
//! 1. refuses a `Host` the server is not known by (DNS rebinding) and a request from a web
//!    page of another origin that was not allowed, and answers CORS preflights;
//! 2. reads the body (bounded) and works out the service and protocol ([`route`]);
//! 3. answers a service this server does not serve with a clean error in that service's own
//!    protocol;
//! 4. authenticates the signature ([`auth`]) and hands the request, with its [`Caller`], to
//!    the [`Service`].
//!
//! Errors it raises itself are rendered in the request's protocol ([`envelope`]). Admin
//! endpoints (`/_tributary/...`, `/metrics`) skip step 4 but not step 1.

pub mod auth;
pub mod browser;
pub use tributary_service::envelope;
pub mod route;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use http::{HeaderValue, Method, StatusCode};
use tributary_service::{Protocol, Request, Response, Route, Service};

pub use auth::{AuthMode, Credentials, Principal, SessionKey};
pub use browser::BrowserPolicy;
use browser::Origin;
use envelope::{render, GatewayError};
pub use tributary_service::Caller;

/// What the gateway enforces.
#[derive(Clone)]
pub struct GatewayConfig {
    pub auth: AuthMode,
    pub browser: BrowserPolicy,
    pub credentials: Arc<dyn Credentials>,
    /// The account of callers whose key is not otherwise known (under `open` and `none`).
    pub default_account: String,
    /// The largest request body read (each operation enforces its own AWS limit below it).
    pub max_body: usize,
    /// The server clock, against which temporary credentials expire.
    pub clock: Arc<dyn tributary_model::Clock>,
}

struct Gateway {
    cfg: GatewayConfig,
    service: Arc<dyn Service>,
}

/// The router for the one listener: every path goes through the gateway.
pub fn router(cfg: GatewayConfig, service: Arc<dyn Service>) -> axum::Router {
    axum::Router::new()
        .fallback(handle)
        .with_state(Arc::new(Gateway { cfg, service }))
}

/// Headers a page may read from our answers.
const EXPOSED: &str = "x-amzn-requestid, x-amz-request-id, x-amz-id-2, x-amzn-errortype, \
    x-amz-crc32, x-amz-function-error, x-amz-log-result, x-amz-executed-version, etag, \
    x-amz-version-id, x-amz-checksum-crc32, x-amz-checksum-crc32c, x-amz-checksum-sha1, \
    x-amz-checksum-sha256, content-length, date";

async fn handle(State(gw): State<Arc<Gateway>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let signing = route::signing_service(&parts.headers, &parts.uri);
    // A first guess of the route, from the headers alone, so early refusals are readable.
    let early = route::classify(
        &parts.method,
        &parts.uri,
        &parts.headers,
        b"",
        signing.as_deref(),
    );
    let policy = &gw.cfg.browser;
    if let Err(host) = policy.host_allowed(&parts.headers) {
        tracing::warn!(%host, "refused a request for an unknown host");
        return render(
            &early,
            &GatewayError::new(
                forbidden_code(&early),
                403,
                format!(
                    "Host '{host}' is not a name this server is known by; start it with \
                     --allowed-host {host} to allow it"
                ),
            ),
        );
    }
    let origin = policy.origin(&parts.headers);
    if let Origin::Refused(from) = &origin {
        tracing::warn!(origin = %from, "refused a cross-origin request");
        return render(
            &early,
            &GatewayError::new(
                forbidden_code(&early),
                403,
                format!(
                    "Cross-origin request from {from} refused; start the server with \
                     --cors-origin {from} to allow it"
                ),
            ),
        );
    }
    let allowed = match origin {
        Origin::Allowed(o) => Some(o),
        _ => None,
    };
    if parts.method == Method::OPTIONS
        && parts.headers.contains_key("access-control-request-method")
    {
        return preflight(allowed.as_deref(), &parts.headers);
    }
    let body = match axum::body::to_bytes(body, gw.cfg.max_body).await {
        Ok(b) => b,
        Err(_) => {
            return with_cors(
                render(
                    &early,
                    &GatewayError::new(
                        "RequestEntityTooLargeException",
                        413,
                        format!(
                            "Request must be smaller than {} bytes for the whole request",
                            gw.cfg.max_body
                        ),
                    ),
                ),
                allowed.as_deref(),
            )
        }
    };
    // Only an unsigned form POST is told apart by its body; every other route is already known.
    let route = if signing.is_none() && parts.method == Method::POST && !body.is_empty() {
        route::classify(&parts.method, &parts.uri, &parts.headers, &body, None)
    } else {
        early
    };
    if route.protocol != Protocol::Admin && !route::SERVED.contains(&route.service.as_str()) {
        return with_cors(not_served(&route), allowed.as_deref());
    }
    let caller = if route.protocol == Protocol::Admin {
        None
    } else {
        match auth::authenticate(
            gw.cfg.auth,
            &*gw.cfg.credentials,
            &gw.cfg.default_account,
            gw.cfg.clock.now_millis(),
            &route,
            &parts,
            &body,
        ) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(code = e.code, message = %e.message, "authentication failed");
                return with_cors(render(&route, &e), allowed.as_deref());
            }
        }
    };
    let resp = gw
        .service
        .call(Request {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
            route,
            caller,
        })
        .await;
    with_cors(resp, allowed.as_deref())
}

fn forbidden_code(route: &Route) -> &'static str {
    match route.protocol {
        Protocol::Query | Protocol::RestXml => "AccessDenied",
        _ => "AccessDeniedException",
    }
}

/// A service we do not serve: an error in its own protocol that says so, with a status
/// SDKs do not retry.
fn not_served(route: &Route) -> Response {
    let name = if route.service == "unknown" {
        "this service".to_owned()
    } else {
        format!("The service '{}'", route.service)
    };
    render(
        route,
        &GatewayError::new(
            "NotImplemented",
            501,
            format!("{name} is not served by this Tributary server"),
        ),
    )
}

fn preflight(allowed: Option<&str>, headers: &http::HeaderMap) -> Response {
    let Some(origin) = allowed else {
        // The page's own origin needs no preflight; any other is not allowed.
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    };
    let mut r = Response::new(Body::empty());
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert("access-control-allow-origin", v);
    }
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, PUT, POST, DELETE, HEAD, PATCH"),
    );
    if let Some(v) = headers.get("access-control-request-headers") {
        h.insert("access-control-allow-headers", v.clone());
    }
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    h.insert("vary", HeaderValue::from_static("Origin"));
    r
}

fn with_cors(mut resp: Response, allowed: Option<&str>) -> Response {
    if let Some(origin) = allowed {
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(origin) {
            h.insert("access-control-allow-origin", v);
        }
        h.insert(
            "access-control-expose-headers",
            HeaderValue::from_static(EXPOSED),
        );
        h.append("vary", HeaderValue::from_static("Origin"));
    }
    resp
}

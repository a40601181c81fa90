//! The sampler that turns the engine's counters into metrics, and the views over them:
//! `/metrics`, `GET /_tributary/status`, the dashboard's series. The registry itself is the
//! `tributary-metrics` crate.

mod prometheus;
mod status;

use crate::App;
pub use prometheus::render as render_prometheus;
pub use status::{series as series_json, status as status_json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tributary_lambda::mappings::MappingDoc;
pub use tributary_metrics::*;

impl App {
    /// Reads the engine's counters into the metrics; true when anything moved (see
    /// [`Metrics::sample`]).
    pub fn sample_metrics(&self) -> bool {
        let mappings: Vec<SampledMapping> = MappingDoc::all(&self.lambda)
            .iter()
            .map(|doc| SampledMapping {
                uuid: doc.uuid.clone(),
                function_name: doc.function_name.clone(),
                function_arn: doc.function_arn.clone(),
                enabled: doc.enabled,
                event_counts: event_counts_enabled(doc),
            })
            .collect();
        self.metrics.sample(
            self.store.clock().now_millis(),
            &mappings,
            self.lambda.engine(),
        )
    }
}

/// Whether a mapping asked for the event count metrics (`MetricsConfig {"Metrics":
/// ["EventCount"]}`).
fn event_counts_enabled(doc: &MappingDoc) -> bool {
    doc.metrics_config
        .as_ref()
        .and_then(|m| m.get("Metrics"))
        .and_then(|m| m.as_array())
        .is_some_and(|a| a.iter().any(|v| v == "EventCount"))
}

/// The dashboard: one self-contained page (inline script and styles, no external assets).
const DASHBOARD_HTML: &str = include_str!("dashboard.html");

/// The read-only observability routes: `GET /metrics` (Prometheus), `GET /_tributary/` and
/// `/_tributary/dashboard` (the dashboard), `GET /_tributary/status` and
/// `GET /_tributary/metrics/series` (JSON).
pub fn observability(
    app: &App,
    seg: &[&str],
    query: &BTreeMap<String, String>,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    let text = |body: String, content_type: &'static str| {
        let mut r = axum::response::Response::new(axum::body::Body::from(body));
        let h = r.headers_mut();
        h.insert("content-type", HeaderValue::from_static(content_type));
        h.insert("cache-control", HeaderValue::from_static("no-store"));
        r
    };
    match seg {
        ["metrics"] => text(render_prometheus(app), prometheus::CONTENT_TYPE),
        ["_tributary", "status"] => crate::protocol::rest_ok(200, &status_json(app)),
        ["_tributary", "metrics", "series"] => {
            crate::protocol::rest_ok(200, &series_json(app, query))
        }
        _ => text(DASHBOARD_HTML.to_owned(), "text/html; charset=utf-8"),
    }
}

/// Samples the engine until shutdown: every second, five times a second while something
/// moves, and shortly after every invocation (at most every [`KICK_GAP`]).
pub async fn run_sampler(app: Arc<App>, stop: tokio_util::sync::CancellationToken) {
    loop {
        let sampled = tokio::time::Instant::now();
        let busy = app.sample_metrics();
        let wait = if busy { BUSY_TICK } else { IDLE_TICK };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = app.metrics.kick.notified() => {
                tokio::time::sleep_until(sampled + KICK_GAP).await;
            }
        }
    }
}

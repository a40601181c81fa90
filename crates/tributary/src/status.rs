//! `tributary status` and `tributary logs`: clients of a running server. `status` prints what
//! `GET /_tributary/status` reports (the same picture as the dashboard) as terminal tables, or
//! as JSON for scripts; `logs` reads a function's log group through the CloudWatch Logs API
//! (FilterLogEvents), optionally following it.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{json, Value};

/// Where the server is, unless told.
pub(crate) const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4566";
/// How long a request to the server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `logs --follow` asks for new events.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);
/// The widest a table cell gets before it is cut (error messages can be long).
const MAX_CELL: usize = 72;

#[derive(Args)]
pub struct StatusArgs {
    /// The server to ask.
    #[arg(long, env = "TRIBUTARY_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    endpoint: String,
    /// Print the status as JSON (the document of GET /_tributary/status).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct LogsArgs {
    /// The function whose logs to print: the log group its LoggingConfig names
    /// (/aws/lambda/<function> unless it names another).
    function: String,
    /// Keep printing new events as they arrive (Ctrl-C stops).
    #[arg(long, short = 'f')]
    follow: bool,
    /// How far back to start, on the server clock (e.g. 10m, 2h, 1d).
    #[arg(long, default_value = "10m", value_parser = crate::parse_duration_ms)]
    since: i64,
    /// The server to ask.
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

/// The credentials and region `tributary logs` signs with.
pub(crate) struct Signer {
    pub(crate) access_key: String,
    pub(crate) secret: String,
    pub(crate) region: String,
}

/// A minimal HTTP/1.1 client for one server (plain `http://host:port`).
pub(crate) struct Client {
    authority: String,
}

impl Client {
    pub(crate) fn new(endpoint: &str) -> Result<Client> {
        let uri: hyper::Uri = endpoint
            .parse()
            .with_context(|| format!("not a URL: {endpoint}"))?;
        match uri.scheme_str() {
            Some("http") | None => {}
            Some(other) => bail!("only http:// endpoints are supported, not {other}://"),
        }
        let authority = uri
            .authority()
            .map(|a| a.to_string())
            .with_context(|| format!("no host in {endpoint}"))?;
        let authority = if authority.contains(':') {
            authority
        } else {
            format!("{authority}:80")
        };
        Ok(Client { authority })
    }

    /// Sends one request on a fresh connection; answers the status and the body.
    pub(crate) async fn send(
        &self,
        method: hyper::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>)> {
        let fut = async {
            let stream = tokio::net::TcpStream::connect(&self.authority)
                .await
                .with_context(|| format!("cannot reach the server at {}", self.authority))?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .context("HTTP handshake")?;
            tokio::spawn(conn);
            let mut req = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", &self.authority);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let req = req.body(Full::new(Bytes::from(body)))?;
            let resp = sender
                .send_request(req)
                .await
                .context("sending the request")?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .context("reading the answer")?
                .to_bytes();
            Ok::<_, anyhow::Error>((status, body.to_vec()))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .with_context(|| format!("no answer from {} in {REQUEST_TIMEOUT:?}", self.authority))?
    }

    /// Signs a request as the AWS CLI would (the server requires a signature; under
    /// `--auth verify` the key must be one it knows): answers `x-amz-date` and `authorization`.
    /// `headers` are the other headers sent, all of which are signed.
    pub(crate) fn sign(
        &self,
        method: &str,
        path: &str,
        service: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        auth: &Signer,
    ) -> (String, String) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let date = tributary_sigv4::format_amz_date(now);
        let mut all = vec![
            ("host", self.authority.as_str()),
            ("x-amz-date", date.as_str()),
        ];
        all.extend_from_slice(headers);
        let parts = tributary_sigv4::RequestParts {
            method,
            path,
            query: "",
            headers: &all,
        };
        let params = tributary_sigv4::SigningParams {
            access_key: &auth.access_key,
            secret: &auth.secret,
            region: &auth.region,
            service,
        };
        let authorization =
            tributary_sigv4::sign(&parts, &params, &tributary_sigv4::sha256_hex(body));
        (date, authorization)
    }

    async fn get_json(&self, path: &str) -> Result<Value> {
        let (status, body) = self.send(hyper::Method::GET, path, &[], Vec::new()).await?;
        if status != 200 {
            bail!(
                "GET {path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        serde_json::from_slice(&body).with_context(|| format!("GET {path}: not JSON"))
    }
}

/// `tributary status`.
pub async fn status(args: StatusArgs) -> Result<()> {
    let client = Client::new(&args.endpoint)?;
    let doc = client.get_json("/_tributary/status").await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", render(&doc));
    }
    Ok(())
}

/// `tributary logs`.
pub async fn logs(args: LogsArgs) -> Result<()> {
    let client = Client::new(&args.endpoint)?;
    // The group the function's LoggingConfig names; Lambda's default when it names none or the
    // function is gone (its logs outlive it).
    let signer = Signer {
        access_key: args.access_key.clone(),
        secret: std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
        region: args.region.clone(),
    };
    let path = format!("/2015-03-31/functions/{}/configuration", args.function);
    let (date, authorization) = client.sign("GET", &path, "lambda", &[], b"", &signer);
    let group = client
        .send(
            hyper::Method::GET,
            &path,
            &[("x-amz-date", &date), ("authorization", &authorization)],
            Vec::new(),
        )
        .await
        .ok()
        .filter(|(status, _)| *status == 200)
        .and_then(|(_, body)| serde_json::from_slice::<Value>(&body).ok())
        .and_then(|c| {
            c.pointer("/LoggingConfig/LogGroup")?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| format!("/aws/lambda/{}", args.function));
    let now = client
        .get_json("/_tributary/clock")
        .await?
        .get("now")
        .and_then(Value::as_f64)
        .map(|s| (s * 1000.0) as i64)
        .context("the server did not say what time it is")?;
    let mut start = now - args.since;
    // Events already printed at the newest timestamp seen (the next query starts there).
    let mut printed_at_start: HashSet<String> = HashSet::new();
    let mut warned_missing = false;
    loop {
        let mut token: Option<String> = None;
        let mut newest = start;
        let mut printed_at_newest: HashSet<String> = HashSet::new();
        loop {
            let mut req = json!({"logGroupName": group, "startTime": start});
            if let Some(t) = &token {
                req["nextToken"] = json!(t);
            }
            let body = serde_json::to_vec(&req)?;
            let (date, authorization) = client.sign(
                "POST",
                "/",
                "logs",
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", "Logs_20140328.FilterLogEvents"),
                ],
                &body,
                &signer,
            );
            let (status, body) = client
                .send(
                    hyper::Method::POST,
                    "/",
                    &[
                        ("x-amz-target", "Logs_20140328.FilterLogEvents"),
                        ("content-type", "application/x-amz-json-1.1"),
                        ("x-amz-date", &date),
                        ("authorization", &authorization),
                    ],
                    body,
                )
                .await?;
            let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if status != 200 {
                let kind = answer
                    .get("__type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if kind.ends_with("ResourceNotFoundException") {
                    if !args.follow {
                        bail!(
                            "log group {group} does not exist: has {} run yet?",
                            args.function
                        );
                    }
                    if !warned_missing {
                        eprintln!("waiting for {group} (the function has not logged yet)");
                        warned_missing = true;
                    }
                    break;
                }
                bail!(
                    "FilterLogEvents answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            for e in answer
                .get("events")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let ts = e.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
                let id = e
                    .get("eventId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if ts == start && printed_at_start.contains(&id) {
                    continue;
                }
                let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
                println!(
                    "{} {}",
                    tributary_model::clock::iso_millis(ts),
                    message.trim_end_matches(['\n', '\r'])
                );
                match ts.cmp(&newest) {
                    std::cmp::Ordering::Greater => {
                        newest = ts;
                        printed_at_newest.clear();
                        printed_at_newest.insert(id);
                    }
                    std::cmp::Ordering::Equal => {
                        printed_at_newest.insert(id);
                    }
                    std::cmp::Ordering::Less => {}
                }
            }
            token = answer
                .get("nextToken")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        if newest > start {
            start = newest;
            printed_at_start = printed_at_newest;
        } else {
            printed_at_start.extend(printed_at_newest);
        }
        if !args.follow {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_INTERVAL) => {}
        }
    }
}

// ------------------------------------------------------------------------------------------
// rendering

/// A table with a header row; columns are as wide as their widest cell (cut at [`MAX_CELL`]).
struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

fn cut(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX_CELL {
        one_line
    } else {
        let mut t: String = one_line.chars().take(MAX_CELL - 1).collect();
        t.push('…');
        t
    }
}

impl Table {
    fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| cut(c)).collect());
    }

    fn write(&self, out: &mut String, indent: &str) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        let line = |out: &mut String, cells: &[String]| {
            let mut l = String::from(indent);
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(c);
                } else {
                    let pad = widths[i].saturating_sub(c.chars().count());
                    l.push_str(c);
                    l.push_str(&" ".repeat(pad + 2));
                }
            }
            let _ = writeln!(out, "{}", l.trim_end());
        };
        let header: Vec<String> = self.header.iter().map(|h| (*h).to_owned()).collect();
        line(out, &header);
        for r in &self.rows {
            line(out, r);
        }
    }
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn num(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`.
fn millis(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "-".into() };
    let ms = ms.max(0);
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m {:02}s", ms / 60_000, ms / 1000 % 60),
        _ => format!("{}h {:02}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

fn bytes(n: i64) -> String {
    match n {
        ..=1023 => format!("{n} B"),
        1024..=1_048_575 => format!("{:.1} KB", n as f64 / 1024.0),
        _ => format!("{:.1} MB", n as f64 / 1_048_576.0),
    }
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The status document as terminal tables.
fn render(doc: &Value) -> String {
    let mut out = String::new();
    let server = doc.get("Server").cloned().unwrap_or(Value::Null);
    let _ = writeln!(
        out,
        "tributary {} at {} ({}), server time {}",
        text(&server, "Version"),
        text(&server, "Endpoint"),
        text(&server, "Region"),
        text(&server, "Now"),
    );

    let tables = array(doc, "Tables");
    let _ = writeln!(out, "\nTABLES ({})", tables.len());
    if !tables.is_empty() {
        let mut t = Table::new(&["NAME", "ITEMS", "SIZE", "STREAM"]);
        for x in tables {
            let stream = x
                .get("StreamArn")
                .and_then(Value::as_str)
                .and_then(|a| a.rsplit('/').next())
                .unwrap_or("off")
                .to_owned();
            t.row(vec![
                text(x, "TableName"),
                num(x, "ItemCount").to_string(),
                bytes(num(x, "SizeBytes")),
                stream,
            ]);
        }
        t.write(&mut out, "  ");
    }

    let streams = array(doc, "Streams");
    let _ = writeln!(out, "\nSTREAMS ({})", streams.len());
    if !streams.is_empty() {
        let mut t = Table::new(&[
            "TABLE",
            "LABEL",
            "VIEW",
            "STATE",
            "OPEN SHARDS",
            "CLOSED SHARDS",
        ]);
        for s in streams {
            let enabled = s.get("Enabled").and_then(Value::as_bool) == Some(true);
            t.row(vec![
                text(s, "TableName"),
                text(s, "StreamLabel"),
                text(s, "StreamViewType"),
                if enabled { "ENABLED" } else { "DISABLED" }.into(),
                num(s, "OpenShards").to_string(),
                num(s, "ClosedShards").to_string(),
            ]);
        }
        t.write(&mut out, "  ");
    }

    let functions = array(doc, "Functions");
    let _ = writeln!(out, "\nFUNCTIONS ({})", functions.len());
    if !functions.is_empty() {
        let mut t = Table::new(&[
            "NAME",
            "RUNTIME",
            "STATE",
            "RUNNING",
            "INVOCATIONS",
            "ERRORS",
            "THROTTLES",
            "AVG DURATION",
        ]);
        for f in functions {
            let avg = f
                .get("AverageDurationMillis")
                .and_then(Value::as_f64)
                .map_or("-".into(), |a| format!("{a:.1} ms"));
            t.row(vec![
                text(f, "FunctionName"),
                text(f, "Runtime"),
                text(f, "State"),
                num(f, "Running").to_string(),
                num(f, "Invocations").to_string(),
                num(f, "Errors").to_string(),
                num(f, "Throttles").to_string(),
                avg,
            ]);
        }
        t.write(&mut out, "  ");
    }

    let mappings = array(doc, "EventSourceMappings");
    let _ = writeln!(out, "\nEVENT SOURCE MAPPINGS ({})", mappings.len());
    for m in mappings {
        let c = m.get("Counters").cloned().unwrap_or(Value::Null);
        let _ = writeln!(
            out,
            "  {}  {} -> {}  {}",
            text(m, "UUID"),
            text(m, "TableName"),
            text(m, "FunctionName"),
            text(m, "State"),
        );
        let _ = writeln!(
            out,
            "    last result: {}   iterator age: {}   max lag: {}",
            text(m, "LastProcessingResult"),
            millis(m.get("IteratorAgeMillis").and_then(Value::as_i64)),
            millis(m.get("MaxLagMillis").and_then(Value::as_i64)),
        );
        let _ = writeln!(
            out,
            "    records: {} polled, {} filtered out, {} invoked, {} failed, {} dropped, {} sent to the on-failure destination",
            num(&c, "PolledEvents"),
            num(&c, "FilteredOutEvents"),
            num(&c, "InvokedEvents"),
            num(&c, "FailedInvokeEvents"),
            num(&c, "DroppedEvents"),
            num(&c, "OnFailureDestinationDeliveredEvents"),
        );
        let shards = array(m, "Shards");
        if !shards.is_empty() {
            let mut t = Table::new(&[
                "SHARD",
                "STATE",
                "CHECKPOINT",
                "LAG",
                "ITERATOR AGE",
                "IN FLIGHT",
                "RETRIES",
                "LAST ERROR",
            ]);
            for s in shards {
                let finished = s.get("Finished").and_then(Value::as_bool) == Some(true);
                let closed = s.get("Closed").and_then(Value::as_bool) == Some(true);
                let state = match (finished, closed) {
                    (true, _) => "finished",
                    (false, true) => "closed",
                    (false, false) => "open",
                };
                t.row(vec![
                    text(s, "ShardId"),
                    state.into(),
                    text(s, "Checkpoint"),
                    millis(s.get("LagMillis").and_then(Value::as_i64)),
                    millis(s.get("IteratorAgeMillis").and_then(Value::as_i64)),
                    num(s, "InFlightBatches").to_string(),
                    num(s, "RetryCount").to_string(),
                    text(s, "LastError"),
                ]);
            }
            t.write(&mut out, "    ");
        }
        let failures = array(m, "RecentFailures");
        if !failures.is_empty() {
            let _ = writeln!(out, "    recent failures:");
            let mut t = Table::new(&["TIME", "SHARD", "KIND", "COUNT", "MESSAGE"]);
            for f in failures.iter().take(5) {
                t.row(vec![
                    text(f, "Time"),
                    text(f, "ShardId"),
                    text(f, "Kind"),
                    num(f, "Count").to_string(),
                    text(f, "Message"),
                ]);
            }
            t.write(&mut out, "      ");
        }
    }
    if let Some(iam) = doc.get("Iam") {
        let denials = array(iam, "RecentDenials");
        let _ = writeln!(
            out,
            "\nIAM (--iam {}): {} denials{}",
            text(iam, "Mode"),
            num(iam, "DenialCount"),
            if denials.is_empty() {
                ""
            } else {
                ", newest first:"
            },
        );
        if !denials.is_empty() {
            let mut t = Table::new(&["TIME", "PRINCIPAL", "ACTION", "RESOURCE", "ERROR"]);
            for d in denials {
                t.row(vec![
                    text(d, "Time"),
                    text(d, "Principal"),
                    text(d, "Action"),
                    text(d, "Resource"),
                    text(d, "Error"),
                ]);
            }
            t.write(&mut out, "  ");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(millis(Some(850)), "850 ms");
        assert_eq!(millis(Some(12_340)), "12.3 s");
        assert_eq!(millis(Some(245_000)), "4m 05s");
        assert_eq!(millis(Some(7_380_000)), "2h 03m");
        assert_eq!(millis(None), "-");
    }

    #[test]
    fn tables_align_their_columns() {
        let mut t = Table::new(&["A", "LONGER"]);
        t.row(vec!["wide cell".into(), "x".into()]);
        let mut out = String::new();
        t.write(&mut out, "");
        assert_eq!(out, "A          LONGER\nwide cell  x\n");
    }

    #[test]
    fn renders_the_status_document() {
        let doc = json!({
            "Server": {"Version": "0.1.0", "Endpoint": "http://x", "Region": "us-east-1", "Now": "now"},
            "Tables": [{"TableName": "orders", "ItemCount": 3, "SizeBytes": 2048, "StreamArn": "arn:aws:dynamodb:us-east-1:0:table/orders/stream/2024-01-01T00:00:00.000"}],
            "Streams": [],
            "Functions": [{"FunctionName": "f", "Runtime": "python3.12", "State": "Active", "Invocations": 4, "Errors": 1}],
            "EventSourceMappings": [{"UUID": "u-1", "TableName": "orders", "FunctionName": "f", "State": "Enabled",
                "LastProcessingResult": "OK", "IteratorAgeMillis": 1500, "Counters": {"PolledEvents": 7},
                "Shards": [{"ShardId": "shardId-1", "Closed": false, "Checkpoint": "100", "LagMillis": 0, "LastError": "boom\nline"}]}],
        });
        let text = render(&doc);
        assert!(
            text.contains("orders  3      2.0 KB  2024-01-01T00:00:00.000"),
            "{text}"
        );
        assert!(text.contains("iterator age: 1.5 s"), "{text}");
        assert!(text.contains("7 polled"), "{text}");
        assert!(text.contains("boom line"), "{text}");
    }
}

//! Function logs: each environment's stdout/stderr pumps, the per-invocation capture behind
//! `X-Amz-Log-Result`, and the batching of lines into CloudWatch Logs events for a
//! [`LogWriter`].
//!
//! Every line a function writes (and every platform line: `START`, `END`, `REPORT`, …) becomes
//! one event of the environment's log stream, timestamped with the server clock when it is read.
//! Events are buffered per environment and handed to the writer in batches: when a batch is
//! large, [`FLUSH_AFTER`] after its first event, and at the end of every invocation. Handing
//! over never waits for persistence, so logging adds no latency (and no fsync per line) to
//! Invoke.
//!
//! Platform events are written as text lines (`START RequestId: …`) or, for functions whose
//! `LoggingConfig` says `LogFormat: JSON`, as the JSON objects Lambda writes then
//! (`{"time":…,"type":"platform.start","record":{…}}`, see [`Platform`]).
//!
//! Ordering matters: the Python bootstrap (and most runtimes) write to the pipe before they
//! post their answer, so the bytes are already in the kernel when the answer arrives.
//! [`EnvOutput::flush`] reads what is readable *now* (no waiting), which puts a handler's prints
//! before `END` without any sleep or hand-off to another task.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::unix::pipe;
use tributary_model::Clock;

use crate::{FunctionSpec, LogBatch, LogEvent, LogWriter};

/// `X-Amz-Log-Result` carries at most this many bytes.
pub(crate) const LOG_TAIL_BYTES: usize = 4096;
/// A line longer than this is cut into pieces rather than buffered without bound.
const MAX_LINE_BYTES: usize = 256 * 1024;
/// A batch is handed to the writer at most this long after its first event.
const FLUSH_AFTER: Duration = Duration::from_millis(100);
/// A batch with this many events, or this many message bytes, is handed over at once.
const BATCH_EVENTS: usize = 1000;
const BATCH_BYTES: usize = 512 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `YYYY/MM/DD/[<version>]<32 hex>`: the name of a new environment's log stream.
pub(crate) fn log_stream_name(now_ms: i64, version: &str) -> String {
    let date = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .format("%Y/%m/%d");
    format!("{date}/[{version}]{}", uuid::Uuid::new_v4().simple())
}

/// The file name [`FileLogWriter`] uses for a function (or a log group that is not a function's
/// default): unsafe characters become `_`.
pub(crate) fn log_file_name(function_name: &str) -> String {
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
    format!("{safe}.log")
}

/// The writer a host uses until it is given another: one append-only text file per function
/// (per log group, for a function that names its own) under `dir`, each event as written. It keeps the functions crate usable on its own (tests,
/// tools); the server installs a writer that keeps logs in the store instead.
pub(crate) struct FileLogWriter {
    dir: PathBuf,
    files: Mutex<HashMap<String, File>>,
}

impl FileLogWriter {
    pub(crate) fn new(dir: PathBuf) -> Self {
        FileLogWriter {
            dir,
            files: Mutex::new(HashMap::new()),
        }
    }
}

impl LogWriter for FileLogWriter {
    fn write(&self, batch: LogBatch) {
        let function = batch
            .group
            .strip_prefix("/aws/lambda/")
            .unwrap_or(&batch.group);
        let path = self.dir.join(log_file_name(function));
        let mut bytes = Vec::new();
        for event in &batch.events {
            bytes.extend_from_slice(event.message.as_bytes());
        }
        let mut files = lock(&self.files);
        if !files.contains_key(&batch.group) {
            match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(f) => {
                    files.insert(batch.group.clone(), f);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot open function log");
                    return;
                }
            }
        }
        if let Some(f) = files.get_mut(&batch.group) {
            if let Err(e) = f.write_all(&bytes) {
                tracing::warn!(path = %path.display(), error = %e, "cannot write function log");
                files.remove(&batch.group);
            }
        }
    }
}

/// Where environments send their log events: a log group, the writer, and the clock that
/// timestamps events.
pub(crate) struct LogSink {
    group: String,
    writer: Arc<dyn LogWriter>,
    clock: Arc<dyn Clock>,
}

impl LogSink {
    pub(crate) fn new(group: String, writer: Arc<dyn LogWriter>, clock: Arc<dyn Clock>) -> Self {
        LogSink {
            group,
            writer,
            clock,
        }
    }

    /// The current server time, for the names of new log streams.
    pub(crate) fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }
}

/// How one environment writes platform events: its function version and `LoggingConfig`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlatformLog {
    /// `$LATEST` or the version number, as `START … Version:` shows it.
    pub(crate) version: String,
    /// JSON objects instead of text lines.
    pub(crate) json: bool,
    /// `SystemLogLevel: WARN`: the INFO-level events (all of [`Platform`]) are left out.
    pub(crate) quiet: bool,
}

impl PlatformLog {
    pub(crate) fn of(spec: &FunctionSpec) -> Self {
        let json = spec.logging.json;
        PlatformLog {
            version: spec.version.clone(),
            json,
            quiet: json && spec.logging.system_level.as_deref() == Some("WARN"),
        }
    }
}

/// How an invocation ended, as platform events report it (`status` in the JSON records).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Success,
    Error,
    Timeout,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Timeout => "timeout",
        }
    }
}

/// A platform event of one invocation. As text: `START RequestId: <id> Version: <v>`,
/// `END RequestId: <id>`, `REPORT RequestId: <id>\tDuration: …`. As JSON, the records
/// `platform.start`, `platform.runtimeDone` and `platform.report`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Platform<'a> {
    Start {
        request_id: &'a str,
    },
    /// The runtime is done with the invocation (text: `END`). `status` is what the runtime
    /// reported: an error it posted is `error` with its `errorType`.
    RuntimeDone {
        request_id: &'a str,
        status: Status,
        error_type: Option<&'a str>,
        duration_ms: f64,
        produced_bytes: usize,
    },
    /// The invocation's report. `status` is the platform's view, as text REPORT lines show it
    /// (`Status: timeout`): a function error the runtime reported is still a `success`.
    Report {
        request_id: &'a str,
        status: Status,
        error_type: Option<&'a str>,
        duration_ms: f64,
        billed_ms: u64,
        memory_mb: u32,
        max_memory_mb: u64,
        init_ms: Option<f64>,
    },
}

/// Milliseconds as AWS's JSON records give them: at most three decimals.
fn millis(ms: f64) -> serde_json::Value {
    serde_json::json!((ms * 1000.0).round() / 1000.0)
}

impl Platform<'_> {
    fn text(&self, version: &str) -> String {
        match self {
            Platform::Start { request_id } => {
                format!("START RequestId: {request_id} Version: {version}")
            }
            Platform::RuntimeDone { request_id, .. } => format!("END RequestId: {request_id}"),
            Platform::Report {
                request_id,
                duration_ms,
                billed_ms,
                memory_mb,
                max_memory_mb,
                init_ms,
                ..
            } => {
                let mut report = format!(
                    "REPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed_ms} ms\t\
                     Memory Size: {memory_mb} MB\tMax Memory Used: {max_memory_mb} MB\t"
                );
                if let Some(init) = init_ms {
                    report.push_str(&format!("Init Duration: {init:.2} ms\t"));
                }
                report
            }
        }
    }

    /// `{"time":"<ISO-8601 ms>Z","type":"platform.…","record":{…}}`, members in AWS's order.
    fn json(&self, version: &str, now_ms: i64) -> String {
        use serde_json::{json, Map, Value};
        let (kind, record) = match self {
            Platform::Start { request_id } => (
                "platform.start",
                json!({"requestId": request_id, "version": version}),
            ),
            Platform::RuntimeDone {
                request_id,
                status,
                error_type,
                duration_ms,
                produced_bytes,
            } => {
                let mut r = Map::new();
                r.insert("requestId".into(), json!(request_id));
                r.insert("status".into(), json!(status.as_str()));
                if let Some(t) = error_type {
                    r.insert("errorType".into(), json!(t));
                }
                r.insert(
                    "metrics".into(),
                    json!({"durationMs": millis(*duration_ms), "producedBytes": produced_bytes}),
                );
                ("platform.runtimeDone", Value::Object(r))
            }
            Platform::Report {
                request_id,
                status,
                error_type,
                duration_ms,
                billed_ms,
                memory_mb,
                max_memory_mb,
                init_ms,
            } => {
                let mut metrics = Map::new();
                metrics.insert("durationMs".into(), millis(*duration_ms));
                metrics.insert("billedDurationMs".into(), json!(billed_ms));
                metrics.insert("memorySizeMB".into(), json!(memory_mb));
                metrics.insert("maxMemoryUsedMB".into(), json!(max_memory_mb));
                if let Some(init) = init_ms {
                    metrics.insert("initDurationMs".into(), millis(*init));
                }
                let mut r = Map::new();
                r.insert("requestId".into(), json!(request_id));
                r.insert("metrics".into(), Value::Object(metrics));
                r.insert("status".into(), json!(status.as_str()));
                if let Some(t) = error_type {
                    r.insert("errorType".into(), json!(t));
                }
                ("platform.report", Value::Object(r))
            }
        };
        format!(
            r#"{{"time":{},"type":"{kind}","record":{record}}}"#,
            json!(tributary_model::clock::iso_millis(now_ms))
        )
    }
}

/// The events of one log stream not yet handed to the writer.
struct StreamBuffer {
    sink: Arc<LogSink>,
    stream: String,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    events: Vec<LogEvent>,
    bytes: usize,
    /// A delayed hand-over is on its way.
    scheduled: bool,
}

impl StreamBuffer {
    /// Adds complete lines (each ending in `\n`), one event each; the newline stays part of the
    /// message, as in the events Lambda writes.
    fn push_lines(self: &Arc<Self>, bytes: &[u8]) {
        let timestamp_ms = self.sink.clock.now_millis();
        let mut pending = lock(&self.pending);
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            pending.bytes += line.len();
            pending.events.push(LogEvent {
                timestamp_ms,
                message: String::from_utf8_lossy(line).into_owned(),
            });
        }
        if pending.events.len() >= BATCH_EVENTS || pending.bytes >= BATCH_BYTES {
            self.hand_over(&mut pending);
            return;
        }
        if pending.scheduled {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                pending.scheduled = true;
                let buffer = Arc::clone(self);
                runtime.spawn(async move {
                    tokio::time::sleep(FLUSH_AFTER).await;
                    buffer.publish();
                });
            }
            Err(_) => self.hand_over(&mut pending),
        }
    }

    fn publish(&self) {
        let mut pending = lock(&self.pending);
        self.hand_over(&mut pending);
    }

    /// Gives the pending events to the writer. Called with the lock held, so batches of one
    /// stream reach the writer in the order their lines were written.
    fn hand_over(&self, pending: &mut Pending) {
        pending.scheduled = false;
        pending.bytes = 0;
        if pending.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut pending.events);
        self.sink.writer.write(LogBatch {
            group: self.sink.group.clone(),
            stream: self.stream.clone(),
            events,
        });
    }
}

/// One child pipe (stdout or stderr) and the bytes of its unfinished line.
struct Pipe {
    rx: pipe::Receiver,
    state: Mutex<PipeState>,
}

struct PipeState {
    pending: Vec<u8>,
    eof: bool,
}

/// Everything one environment writes, plus the lines of the invocation in progress.
pub(crate) struct EnvOutput {
    buffer: Arc<StreamBuffer>,
    platform: PlatformLog,
    /// `Some` while an invocation that wants its log tail is running; bounded.
    capture: Mutex<Option<Vec<u8>>>,
    pipes: Mutex<Vec<Arc<Pipe>>>,
}

impl EnvOutput {
    /// The output of one environment, whose log stream is `stream` (see [`log_stream_name`]).
    pub(crate) fn new(sink: Arc<LogSink>, stream: String, platform: PlatformLog) -> Arc<Self> {
        Arc::new(EnvOutput {
            buffer: Arc::new(StreamBuffer {
                sink,
                stream,
                pending: Mutex::new(Pending::default()),
            }),
            platform,
            capture: Mutex::new(None),
            pipes: Mutex::new(Vec::new()),
        })
    }

    /// Writes complete lines (each ending in `\n`) to the log and the current capture.
    fn write_lines(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        {
            let mut capture = lock(&self.capture);
            if let Some(buf) = capture.as_mut() {
                buf.extend_from_slice(bytes);
                if buf.len() > 4 * LOG_TAIL_BYTES {
                    let cut = buf.len() - LOG_TAIL_BYTES;
                    buf.drain(..cut);
                }
            }
        }
        self.buffer.push_lines(bytes);
    }

    /// Writes a platform event in the environment's log format (or nothing, when its
    /// `SystemLogLevel` leaves it out).
    pub(crate) fn platform(&self, event: Platform<'_>) {
        if self.platform.quiet {
            return;
        }
        let line = if self.platform.json {
            event.json(&self.platform.version, self.buffer.sink.now_millis())
        } else {
            event.text(&self.platform.version)
        };
        self.platform_line(&line);
    }

    /// Writes one of the text lines the platform writes besides its events (a timeout, a
    /// runtime that exited); JSON-format functions get the event's `status` instead.
    pub(crate) fn platform_text(&self, line: &str) {
        if !self.platform.json {
            self.platform_line(line);
        }
    }

    /// Writes one platform line as it is; `line` has no trailing newline.
    pub(crate) fn platform_line(&self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.write_lines(&bytes);
    }

    /// Hands everything logged so far to the writer now (the end of an invocation).
    pub(crate) fn publish(&self) {
        self.buffer.publish();
    }

    pub(crate) fn begin_capture(&self) {
        *lock(&self.capture) = Some(Vec::new());
    }

    /// Ends the capture and returns its last [`LOG_TAIL_BYTES`] bytes, if one was running.
    pub(crate) fn end_capture(&self) -> Option<String> {
        let buf = lock(&self.capture).take()?;
        let mut start = buf.len().saturating_sub(LOG_TAIL_BYTES);
        // Do not start in the middle of a UTF-8 sequence.
        while start < buf.len() && (buf[start] & 0b1100_0000) == 0b1000_0000 {
            start += 1;
        }
        Some(String::from_utf8_lossy(&buf[start..]).into_owned())
    }

    /// Writes out what every pipe holds right now, including unfinished lines. Never waits:
    /// it reads the pipes itself, under the same lock the pump tasks use.
    pub(crate) fn flush(&self) {
        let pipes: Vec<Arc<Pipe>> = lock(&self.pipes).clone();
        for pipe in pipes {
            let mut state = lock(&pipe.state);
            drain(&pipe.rx, &mut state, self);
            emit_partial(&mut state.pending, self);
        }
    }

    /// Starts a task that copies `rx` (a child's stdout or stderr) into this output, line by
    /// line, until end-of-file.
    pub(crate) fn attach(self: &Arc<Self>, rx: pipe::Receiver) {
        let pipe = Arc::new(Pipe {
            rx,
            state: Mutex::new(PipeState {
                pending: Vec::new(),
                eof: false,
            }),
        });
        lock(&self.pipes).push(Arc::clone(&pipe));
        let out = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if pipe.rx.readable().await.is_err() {
                    break;
                }
                let mut state = lock(&pipe.state);
                if drain(&pipe.rx, &mut state, &out) {
                    break;
                }
            }
            let mut state = lock(&pipe.state);
            emit_partial(&mut state.pending, &out);
            drop(state);
            // Nothing more will come; stop flushing this pipe.
            lock(&out.pipes).retain(|p| !Arc::ptr_eq(p, &pipe));
        });
    }
}

/// Reads whatever the pipe holds without waiting; returns true at end-of-file (or on an error).
fn drain(rx: &pipe::Receiver, state: &mut PipeState, out: &EnvOutput) -> bool {
    if state.eof {
        return true;
    }
    let mut buf = [0u8; 16 * 1024];
    loop {
        match rx.try_read(&mut buf) {
            Ok(0) => {
                state.eof = true;
                return true;
            }
            Ok(n) => {
                let pending = &mut state.pending;
                pending.extend_from_slice(&buf[..n]);
                if let Some(last_newline) = pending.iter().rposition(|&b| b == b'\n') {
                    out.write_lines(&pending[..=last_newline]);
                    pending.drain(..=last_newline);
                }
                if pending.len() > MAX_LINE_BYTES {
                    emit_partial(pending, out);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                state.eof = true;
                return true;
            }
        }
    }
}

/// Writes an unterminated line as a line of its own.
fn emit_partial(pending: &mut Vec<u8>, out: &EnvOutput) {
    if !pending.is_empty() {
        pending.push(b'\n');
        out.write_lines(pending);
        pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_model::ManualClock;

    /// Collects what it is given.
    #[derive(Default)]
    struct Collect(Mutex<Vec<LogBatch>>);

    impl LogWriter for Collect {
        fn write(&self, batch: LogBatch) {
            lock(&self.0).push(batch);
        }
    }

    fn output(clock: Arc<ManualClock>) -> (Arc<Collect>, Arc<EnvOutput>) {
        let writer = Arc::new(Collect::default());
        let sink = Arc::new(LogSink::new("/aws/lambda/f".into(), writer.clone(), clock));
        let platform = PlatformLog {
            version: "$LATEST".into(),
            json: false,
            quiet: false,
        };
        let out = EnvOutput::new(sink, "2024/01/02/[$LATEST]abc".into(), platform);
        (writer, out)
    }

    #[test]
    fn stream_names_look_like_lambdas() {
        let name = log_stream_name(1_573_690_429_717, "$LATEST");
        assert!(name.starts_with("2019/11/14/[$LATEST]"), "{name}");
        let hex = &name["2019/11/14/[$LATEST]".len()..];
        assert_eq!(hex.len(), 32);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(log_stream_name(0, "3").starts_with("1970/01/01/[3]"));
    }

    #[tokio::test]
    async fn each_line_is_one_event_with_its_newline_and_the_clock_time() {
        let clock = ManualClock::new(1_000);
        let (writer, out) = output(clock.clone());
        out.platform_line("START RequestId: 1 Version: $LATEST");
        clock.advance_millis(5);
        out.write_lines(b"a\nb\n");
        assert!(
            lock(&writer.0).is_empty(),
            "nothing is handed over before a flush"
        );
        out.publish();
        let batches = lock(&writer.0);
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(b.group, "/aws/lambda/f");
        assert_eq!(b.stream, "2024/01/02/[$LATEST]abc");
        let got: Vec<(i64, &str)> = b
            .events
            .iter()
            .map(|e| (e.timestamp_ms, e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (1_000, "START RequestId: 1 Version: $LATEST\n"),
                (1_005, "a\n"),
                (1_005, "b\n")
            ]
        );
    }

    #[test]
    fn platform_events_as_text_and_as_json() {
        let start = Platform::Start { request_id: "r1" };
        assert_eq!(start.text("3"), "START RequestId: r1 Version: 3");
        let v: serde_json::Value = serde_json::from_str(&start.json("3", 1_000)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"time": "1970-01-01T00:00:01.000Z", "type": "platform.start",
                               "record": {"requestId": "r1", "version": "3"}})
        );
        assert!(
            start.json("3", 0).starts_with(r#"{"time":"#),
            "AWS's member order"
        );
        let done = Platform::RuntimeDone {
            request_id: "r1",
            status: Status::Error,
            error_type: Some("ValueError"),
            duration_ms: 1.23456,
            produced_bytes: 7,
        };
        assert_eq!(done.text("3"), "END RequestId: r1");
        let v: serde_json::Value = serde_json::from_str(&done.json("3", 0)).unwrap();
        assert_eq!(v["type"], "platform.runtimeDone");
        assert_eq!(
            v["record"],
            serde_json::json!({"requestId": "r1", "status": "error", "errorType": "ValueError",
                               "metrics": {"durationMs": 1.235, "producedBytes": 7}})
        );
        let report = Platform::Report {
            request_id: "r1",
            status: Status::Timeout,
            error_type: None,
            duration_ms: 1000.0,
            billed_ms: 1000,
            memory_mb: 128,
            max_memory_mb: 40,
            init_ms: Some(12.5),
        };
        assert_eq!(
            report.text("3"),
            "REPORT RequestId: r1\tDuration: 1000.00 ms\tBilled Duration: 1000 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 12.50 ms\t"
        );
        let v: serde_json::Value = serde_json::from_str(&report.json("3", 0)).unwrap();
        assert_eq!(
            v["record"],
            serde_json::json!({"requestId": "r1", "status": "timeout",
                               "metrics": {"durationMs": 1000.0, "billedDurationMs": 1000,
                                           "memorySizeMB": 128, "maxMemoryUsedMB": 40,
                                           "initDurationMs": 12.5}})
        );
    }

    #[tokio::test]
    async fn json_format_and_system_log_level_shape_the_platform_lines() {
        let writer = Arc::new(Collect::default());
        let sink = Arc::new(LogSink::new(
            "/custom/group".into(),
            writer.clone(),
            ManualClock::new(0),
        ));
        let json = PlatformLog {
            version: "$LATEST".into(),
            json: true,
            quiet: false,
        };
        let out = EnvOutput::new(sink.clone(), "s".into(), json.clone());
        out.platform(Platform::Start { request_id: "r" });
        out.platform_text("a text-only platform line");
        let quiet = EnvOutput::new(
            sink,
            "s2".into(),
            PlatformLog {
                quiet: true,
                ..json
            },
        );
        quiet.platform(Platform::Start { request_id: "r" });
        out.publish();
        quiet.publish();
        let batches = lock(&writer.0);
        assert_eq!(batches.len(), 1, "the quiet environment wrote nothing");
        assert_eq!(batches[0].group, "/custom/group");
        let [event] = batches[0].events.as_slice() else {
            panic!("one event: {:?}", batches[0].events)
        };
        assert!(event
            .message
            .starts_with(r#"{"time":"1970-01-01T00:00:00.000Z","type":"platform.start""#));
    }

    #[tokio::test]
    async fn large_batches_are_handed_over_at_once_and_empty_ones_never() {
        let (writer, out) = output(ManualClock::new(0));
        out.publish();
        assert!(lock(&writer.0).is_empty());
        let lines = "x\n".repeat(BATCH_EVENTS);
        out.write_lines(lines.as_bytes());
        assert_eq!(lock(&writer.0).len(), 1);
        assert_eq!(lock(&writer.0)[0].events.len(), BATCH_EVENTS);
    }

    #[tokio::test]
    async fn a_batch_is_handed_over_shortly_after_its_first_line() {
        let (writer, out) = output(ManualClock::new(0));
        out.platform_line("hello");
        assert!(lock(&writer.0).is_empty());
        for _ in 0..200 {
            if !lock(&writer.0).is_empty() {
                break;
            }
            tokio::time::sleep(FLUSH_AFTER / 10).await;
        }
        assert_eq!(
            lock(&writer.0).len(),
            1,
            "handed over without an explicit publish"
        );
    }

    #[test]
    fn the_tail_keeps_the_last_4_kb() {
        let (_, out) = output(ManualClock::new(0));
        out.begin_capture();
        for i in 0..1000 {
            out.platform_line(&format!("line {i}"));
        }
        let tail = out.end_capture().unwrap();
        assert!(tail.len() <= LOG_TAIL_BYTES);
        assert!(tail.ends_with("line 999\n"));
        assert_eq!(out.end_capture(), None);
    }
}

//! Function logs: the per-function log file, each environment's stdout/stderr pumps, and the
//! per-invocation capture behind `X-Amz-Log-Result`.
//!
//! Ordering matters: the Python bootstrap (and most runtimes) write to the pipe before they
//! post their answer, so the bytes are already in the kernel when the answer arrives.
//! [`EnvOutput::flush`] reads what is readable *now* (no waiting), which puts a handler's prints
//! before `END` without any sleep or hand-off to another task.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::unix::pipe;

/// `X-Amz-Log-Result` carries at most this many bytes.
pub(crate) const LOG_TAIL_BYTES: usize = 4096;
/// A line longer than this is cut into pieces rather than buffered without bound.
const MAX_LINE_BYTES: usize = 256 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The append-only log file of one function, shared by all its environments.
pub(crate) struct LogSink {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl LogSink {
    pub(crate) fn new(path: PathBuf) -> Self {
        LogSink {
            path,
            file: Mutex::new(None),
        }
    }

    fn write(&self, bytes: &[u8]) {
        let mut file = lock(&self.file);
        if file.is_none() {
            match OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(f) => *file = Some(f),
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot open function log");
                    return;
                }
            }
        }
        if let Some(f) = file.as_mut() {
            if let Err(e) = f.write_all(bytes) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot write function log");
                *file = None;
            }
        }
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
    sink: Arc<LogSink>,
    /// `Some` while an invocation that wants its log tail is running; bounded.
    capture: Mutex<Option<Vec<u8>>>,
    pipes: Mutex<Vec<Arc<Pipe>>>,
}

impl EnvOutput {
    pub(crate) fn new(sink: Arc<LogSink>) -> Arc<Self> {
        Arc::new(EnvOutput {
            sink,
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
        self.sink.write(bytes);
    }

    /// Writes one platform line (`START …`, `REPORT …`); `line` has no trailing newline.
    pub(crate) fn platform_line(&self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.write_lines(&bytes);
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

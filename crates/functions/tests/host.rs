//! The function host against real processes: the shipped Python bootstrap on `python3` from
//! PATH, and a `provided.al2023` bootstrap script that speaks the Runtime API by itself.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Value};
use tributary_functions::{
    unpack_zip, FunctionHost, FunctionSpec, HostConfig, HostError, InvokeRequest, InvokeResult,
};
use tributary_model::SystemClock;

const ACCOUNT: &str = "000000000000";

struct Fixture {
    dir: tempfile::TempDir,
    host: Arc<FunctionHost>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HostConfig {
        work_dir: dir.path().join("work"),
        python: "python3".into(),
        node: "node".into(),
        region: "eu-west-1".into(),
        account_id: ACCOUNT.into(),
        endpoint_url: "http://127.0.0.1:4566".into(),
    };
    let host = FunctionHost::new(cfg, SystemClock::new()).unwrap();
    Fixture { dir, host }
}

fn zip_of(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body, mode) in files {
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
        w.start_file(*name, opts).unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

impl Fixture {
    /// Unpacks `files` into a fresh code dir and describes a function over it.
    fn function(
        &self,
        name: &str,
        runtime: &str,
        handler: &str,
        files: &[(&str, &str, u32)],
    ) -> FunctionSpec {
        let code_dir = self.dir.path().join("code").join(name);
        unpack_zip(&zip_of(files), &code_dir).unwrap();
        FunctionSpec {
            name: name.into(),
            function_arn: format!("arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}"),
            runtime: runtime.into(),
            handler: handler.into(),
            timeout_secs: 3,
            memory_mb: 128,
            environment: BTreeMap::new(),
            code_dir,
            layers_dir: None,
            revision: "1".into(),
            version: "$LATEST".into(),
            logging: tributary_functions::LogConfig::text(name),
            credentials: None,
        }
    }

    fn python(&self, name: &str, source: &str) -> FunctionSpec {
        self.function(
            name,
            "python3.12",
            "app.handler",
            &[("app.py", source, 0o644)],
        )
    }

    async fn invoke(&self, spec: &Arc<FunctionSpec>, payload: Value) -> InvokeResult {
        self.host
            .invoke(
                Arc::clone(spec),
                InvokeRequest {
                    payload: Bytes::from(payload.to_string()),
                    invoked_arn: spec.function_arn.clone(),
                    client_context: None,
                    want_log_tail: true,
                },
            )
            .await
            .unwrap()
    }
}

fn body(r: &InvokeResult) -> Value {
    serde_json::from_slice(&r.payload).unwrap_or_else(|e| {
        panic!(
            "payload is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&r.payload)
        )
    })
}

const PID_HANDLER: &str = "import os\ndef handler(event, context):\n    return os.getpid()\n";

#[tokio::test(flavor = "multi_thread")]
async fn python_handler_sees_event_context_and_environment() {
    let f = fixture();
    let mut spec = f.python(
        "ctx",
        r#"
import os
print("loading module")
def handler(event, context):
    print("handling", event["n"])
    return {
        "event": event,
        "function_name": context.function_name,
        "env_name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
        "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 3000,
        "custom": context.client_context.custom if context.client_context else None,
        "greeting": os.environ.get("GREETING"),
        "region": os.environ.get("AWS_REGION"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "exec_env": os.environ.get("AWS_EXECUTION_ENV"),
        "tz": os.environ.get("TZ"),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "cwd": os.getcwd(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID", ""),
    }
"#,
    );
    spec.environment.insert("GREETING".into(), "hello".into());
    let spec = Arc::new(spec);
    let result = f
        .host
        .invoke(
            Arc::clone(&spec),
            InvokeRequest {
                payload: Bytes::from_static(br#"{"n": 7}"#),
                invoked_arn: format!("{}:$LATEST", spec.function_arn),
                client_context: Some(r#"{"custom":{"k":"v"}}"#.into()),
                want_log_tail: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        result.function_error,
        None,
        "{:?}",
        String::from_utf8_lossy(&result.payload)
    );
    assert_eq!(result.executed_version, "$LATEST");
    let v = body(&result);
    assert_eq!(v["event"], json!({"n": 7}));
    assert_eq!(v["function_name"], "ctx");
    assert_eq!(v["env_name"], "ctx");
    assert_eq!(v["arn"], format!("{}:$LATEST", spec.function_arn));
    assert_eq!(v["version"], "$LATEST");
    assert_eq!(v["memory"], "128");
    assert_eq!(v["group"], "/aws/lambda/ctx");
    assert!(v["stream"].as_str().unwrap().contains("/[$LATEST]"), "{v}");
    assert_eq!(v["remaining_ok"], true);
    assert_eq!(v["custom"], json!({"k": "v"}));
    assert_eq!(v["greeting"], "hello");
    assert_eq!(v["region"], "eu-west-1");
    assert_eq!(v["endpoint"], "http://127.0.0.1:4566");
    assert_eq!(v["exec_env"], "AWS_Lambda_python3.12");
    assert_eq!(v["tz"], ":UTC");
    let code_dir = spec.code_dir.canonicalize().unwrap();
    assert_eq!(
        Path::new(v["task_root"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        code_dir
    );
    assert_eq!(
        Path::new(v["cwd"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        code_dir
    );
    assert!(v["trace"].as_str().unwrap().starts_with("Root=1-"), "{v}");
    let request_id = v["request_id"].as_str().unwrap();

    // The log tail: init output, START, the handler's print, END, REPORT with Init Duration.
    let tail = result.log_tail.unwrap();
    let lines: Vec<&str> = tail.lines().collect();
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no line starting with {needle:?} in {tail}"))
    };
    let start = pos(&format!("START RequestId: {request_id} Version: $LATEST"));
    assert!(pos("loading module") < start, "{tail}");
    assert!(start < pos("handling 7"));
    assert!(pos("handling 7") < pos(&format!("END RequestId: {request_id}")));
    let report = lines[pos(&format!("REPORT RequestId: {request_id}\tDuration: "))];
    assert!(
        report.contains("\tMemory Size: 128 MB\tMax Memory Used: "),
        "{report}"
    );
    assert!(report.contains(" MB\tInit Duration: "), "{report}");
    assert!(report.ends_with(" ms\t"), "{report}");

    // Warm: no Init Duration, and the file has both invocations.
    let again = f.invoke(&spec, json!({"n": 8})).await;
    let tail = again.log_tail.unwrap();
    assert!(!tail.contains("Init Duration"), "{tail}");
    assert!(!tail.contains("loading module"), "{tail}");
    let log = std::fs::read_to_string(f.host.log_path("ctx")).unwrap();
    assert_eq!(log.matches("START RequestId: ").count(), 2, "{log}");
    assert_eq!(log.matches("END RequestId: ").count(), 2, "{log}");
    assert_eq!(log.matches("REPORT RequestId: ").count(), 2, "{log}");
    assert_eq!(log.matches("loading module").count(), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn handler_exception_is_unhandled_and_environment_survives() {
    let f = fixture();
    let spec = Arc::new(f.python(
        "raises",
        "import os\ndef handler(event, context):\n    if event.get('fail'):\n        raise ValueError('bad input ' + str(event['fail']))\n    return os.getpid()\n",
    ));
    let first = f.invoke(&spec, json!({})).await;
    let pid = body(&first);
    let failed = f.invoke(&spec, json!({"fail": 1})).await;
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    let v = body(&failed);
    assert_eq!(v["errorType"], "ValueError");
    assert_eq!(v["errorMessage"], "bad input 1");
    assert!(
        v["requestId"].as_str().is_some_and(|s| s.len() == 36),
        "{v}"
    );
    let stack = v["stackTrace"].as_array().unwrap();
    assert!(
        !stack.is_empty() && stack[0].as_str().unwrap().contains("app.py"),
        "{v}"
    );
    assert!(
        !stack
            .iter()
            .any(|l| l.as_str().unwrap().contains("bootstrap.py")),
        "{v}"
    );
    let tail = failed.log_tail.unwrap();
    assert!(tail.contains("[ERROR] ValueError: bad input 1"), "{tail}");
    // A handler error does not cost the environment.
    assert_eq!(body(&f.invoke(&spec, json!({})).await), pid);
}

#[tokio::test(flavor = "multi_thread")]
async fn init_errors_are_returned_to_the_first_invoke() {
    let f = fixture();
    let spec = Arc::new(f.function(
        "noimport",
        "python3.11",
        "missing.handler",
        &[("app.py", "x = 1\n", 0o644)],
    ));
    let r = f.invoke(&spec, json!({})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let v = body(&r);
    assert_eq!(v["errorType"], "Runtime.ImportModuleError");
    assert_eq!(
        v["errorMessage"],
        "Unable to import module 'missing': No module named 'missing'"
    );
    assert_eq!(v["stackTrace"], json!([]));
    // The broken environment is discarded; the next invoke fails the same way from scratch.
    let again = body(&f.invoke(&spec, json!({})).await);
    assert_eq!(again["errorType"], "Runtime.ImportModuleError");

    let spec = Arc::new(f.python("nohandler", "def other(event, context):\n    return 1\n"));
    let v = body(&f.invoke(&spec, json!({})).await);
    assert_eq!(v["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(
        v["errorMessage"],
        "Handler 'handler' missing on module 'app'"
    );

    let spec = Arc::new(f.python("raisesatimport", "raise RuntimeError('no config')\n"));
    let v = body(&f.invoke(&spec, json!({})).await);
    assert_eq!(v["errorType"], "RuntimeError");
    assert_eq!(v["errorMessage"], "no config");
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_kills_the_environment() {
    let f = fixture();
    let mut spec = f.python(
        "sleepy",
        r#"
import os, subprocess, time
def handler(event, context):
    if event.get("sleep"):
        # A grandchild in the same process group must die with the environment.
        child = subprocess.Popen(["sleep", "30"])
        print("child", child.pid)
        time.sleep(30)
    return os.getpid()
"#,
    );
    spec.timeout_secs = 1;
    let spec = Arc::new(spec);
    let pid = body(&f.invoke(&spec, json!({})).await);

    let started = std::time::Instant::now();
    let r = f.invoke(&spec, json!({"sleep": true})).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_millis(990)
            && elapsed < std::time::Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let v = body(&r);
    let request_id = r
        .log_tail
        .as_deref()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("START RequestId: "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        r.payload,
        Bytes::from(format!(
            r#"{{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: {request_id} Error: Task timed out after 1.00 seconds"}}"#
        )),
        "{v}"
    );
    let tail = r.log_tail.unwrap();
    assert!(
        tail.contains(&format!("Z {request_id} Task timed out after 1.00 seconds")),
        "{tail}"
    );

    // The whole process group is killed, grandchildren included.
    let child: u32 = tail
        .lines()
        .find_map(|l| l.strip_prefix("child "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no child pid in {tail}"));
    let gone = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true)
    };
    let wait_until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !gone(child) && std::time::Instant::now() < wait_until {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(gone(child), "grandchild {child} survived the timeout");

    // The next invoke gets a fresh environment.
    let fresh = body(&f.invoke(&spec, json!({})).await);
    assert_ne!(fresh, pid);
}

#[tokio::test(flavor = "multi_thread")]
async fn process_exit_is_a_runtime_exit_error() {
    let f = fixture();
    let spec = Arc::new(f.python(
        "exits",
        "import os\ndef handler(event, context):\n    if 'code' in event:\n        os._exit(event['code'])\n    return os.getpid()\n",
    ));
    let pid = body(&f.invoke(&spec, json!({})).await);
    let r = f.invoke(&spec, json!({"code": 3})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let v = body(&r);
    assert_eq!(v["errorType"], "Runtime.ExitError");
    let message = v["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("RequestId: ")
            && message.ends_with(" Error: Runtime exited with error: exit status 3"),
        "{message}"
    );

    let v = body(&f.invoke(&spec, json!({"code": 0})).await);
    assert!(
        v["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with(" Error: Runtime exited without providing a reason"),
        "{v}"
    );
    assert_ne!(body(&f.invoke(&spec, json!({})).await), pid);
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_environments_are_reused_per_revision() {
    let f = fixture();
    let spec = Arc::new(f.python("warm", PID_HANDLER));
    let a = body(&f.invoke(&spec, json!({})).await);
    let b = body(&f.invoke(&spec, json!({})).await);
    assert_eq!(a, b, "the second invoke should reuse the warm process");

    let mut changed = (*spec).clone();
    changed.revision = "2".into();
    let changed = Arc::new(changed);
    let c = body(&f.invoke(&changed, json!({})).await);
    assert_ne!(c, a, "a new revision must not reuse an old environment");

    f.host.retire("warm").await;
    let d = body(&f.invoke(&changed, json!({})).await);
    assert_ne!(d, c, "retire kills warm environments");
    let e = body(&f.invoke(&changed, json!({})).await);
    assert_eq!(d, e);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_invokes_get_their_own_environments() {
    let f = fixture();
    let rendezvous = f.dir.path().join("rendezvous");
    std::fs::create_dir_all(&rendezvous).unwrap();
    // Each invocation waits until both are running, so they must overlap in two processes.
    let source = format!(
        r#"
import os, time
DIR = {dir:?}
def handler(event, context):
    open(os.path.join(DIR, str(os.getpid())), "w").close()
    deadline = time.time() + 5
    while len(os.listdir(DIR)) < 2 and time.time() < deadline:
        time.sleep(0.002)
    return os.getpid()
"#,
        dir = rendezvous.to_str().unwrap()
    );
    let spec = Arc::new(f.python("parallel", &source));
    let (a, b) = tokio::join!(f.invoke(&spec, json!({})), f.invoke(&spec, json!({})));
    let (a, b) = (body(&a), body(&b));
    assert_ne!(a, b);
    assert_eq!(std::fs::read_dir(&rendezvous).unwrap().count(), 2);
    // Both stay warm: two more concurrent invokes run on the same two processes.
    let (c, d) = tokio::join!(f.invoke(&spec, json!({})), f.invoke(&spec, json!({})));
    let mut before = vec![a.to_string(), b.to_string()];
    let mut after = vec![body(&c).to_string(), body(&d).to_string()];
    before.sort();
    after.sort();
    assert_eq!(before, after);
}

const PROVIDED_BOOTSTRAP: &str = r#"#!/usr/bin/env python3
# A custom runtime written against the Runtime API directly.
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
print("custom runtime up, handler", os.environ["_HANDLER"], flush=True)
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        deadline = int(r.headers["Lambda-Runtime-Deadline-Ms"])
        event = json.loads(r.read())
    if event.get("fail"):
        req = urllib.request.Request(api + request_id + "/error", data=b"not json",
                                     headers={"Lambda-Runtime-Function-Error-Type": "Function.Custom"})
    else:
        out = {"echo": event, "pid": os.getpid(), "has_deadline": deadline > 0,
               "exec_env": os.environ.get("AWS_EXECUTION_ENV")}
        req = urllib.request.Request(api + request_id + "/response", data=json.dumps(out).encode())
    urllib.request.urlopen(req).read()
"#;

#[tokio::test(flavor = "multi_thread")]
async fn provided_runtime_bootstrap_speaks_the_runtime_api() {
    let f = fixture();
    let spec = Arc::new(f.function(
        "custom",
        "provided.al2023",
        "ignored.handler",
        &[("bootstrap", PROVIDED_BOOTSTRAP, 0o755)],
    ));
    let r = f.invoke(&spec, json!({"a": [1, 2]})).await;
    assert_eq!(
        r.function_error,
        None,
        "{:?}",
        String::from_utf8_lossy(&r.payload)
    );
    let v = body(&r);
    assert_eq!(v["echo"], json!({"a": [1, 2]}));
    assert_eq!(v["has_deadline"], true);
    assert_eq!(
        v["exec_env"],
        Value::Null,
        "provided runtimes get no AWS_EXECUTION_ENV"
    );
    assert!(r
        .log_tail
        .unwrap()
        .contains("custom runtime up, handler ignored.handler"));

    let err = f.invoke(&spec, json!({"fail": true})).await;
    assert_eq!(err.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        body(&err),
        json!({"errorType": "Function.Custom", "errorMessage": "not json"})
    );
    let again = body(&f.invoke(&spec, json!({})).await);
    assert_eq!(again["pid"], v["pid"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn provided_runtime_without_exec_bit_or_bootstrap() {
    let f = fixture();
    // Zips made without unix modes: the host makes the bootstrap executable.
    let spec = Arc::new(f.function(
        "noexec",
        "provided.al2",
        "x",
        &[("bootstrap", PROVIDED_BOOTSTRAP, 0o644)],
    ));
    let r = f.invoke(&spec, json!({"k": 1})).await;
    assert_eq!(body(&r)["echo"], json!({"k": 1}));

    let spec = Arc::new(f.function(
        "nobootstrap",
        "provided.al2023",
        "x",
        &[("main.sh", "echo\n", 0o755)],
    ));
    let r = f.invoke(&spec, json!({})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let v = body(&r);
    assert_eq!(v["errorType"], "Runtime.InvalidEntrypoint");
    assert!(
        v["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Couldn't find valid bootstrap(s)"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_response_is_function_response_size_too_large() {
    let f = fixture();
    let spec = Arc::new(f.python(
        "big",
        "import os\ndef handler(event, context):\n    if event.get('big'):\n        return 'x' * 7000000\n    return os.getpid()\n",
    ));
    let pid = body(&f.invoke(&spec, json!({})).await);
    let r = f.invoke(&spec, json!({"big": true})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        body(&r),
        json!({"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).", "errorType": "Function.ResponseSizeTooLarge"})
    );
    assert_eq!(body(&f.invoke(&spec, json!({})).await), pid);
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_kills_everything_and_refuses_new_invokes() {
    let f = fixture();
    let spec = Arc::new(f.python("down", PID_HANDLER));
    let pid = body(&f.invoke(&spec, json!({})).await).as_u64().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    f.host.shutdown().await;
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the process must be gone after shutdown"
    );
    let err = f
        .host
        .invoke(
            Arc::clone(&spec),
            InvokeRequest {
                payload: Bytes::from_static(b"{}"),
                invoked_arn: spec.function_arn.clone(),
                client_context: None,
                want_log_tail: false,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, HostError::ShuttingDown), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_runtime_and_missing_interpreter_are_host_errors() {
    let f = fixture();
    let spec = Arc::new(f.function(
        "java",
        "java21",
        "example.Handler::handleRequest",
        &[("Handler.class", "", 0o644)],
    ));
    let req = InvokeRequest {
        payload: Bytes::from_static(b"{}"),
        invoked_arn: spec.function_arn.clone(),
        client_context: None,
        want_log_tail: false,
    };
    let err = f
        .host
        .invoke(Arc::clone(&spec), req.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, HostError::UnsupportedRuntime(ref r) if r == "java21"),
        "{err:?}"
    );

    let cfg = HostConfig {
        work_dir: f.dir.path().join("work2"),
        python: "/nonexistent/python3".into(),
        node: "node".into(),
        region: "eu-west-1".into(),
        account_id: ACCOUNT.into(),
        endpoint_url: "http://127.0.0.1:4566".into(),
    };
    let host = FunctionHost::new(cfg, SystemClock::new()).unwrap();
    let spec = Arc::new(f.python("nopython", PID_HANDLER));
    let err = host.invoke(spec, req).await.unwrap_err();
    assert!(matches!(err, HostError::Spawn(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn warm_invokes_are_fast() {
    let f = fixture();
    let spec = Arc::new(f.python("fast", "def handler(event, context):\n    return event\n"));
    f.invoke(&spec, json!({})).await;
    let n = 200;
    let started = std::time::Instant::now();
    let mut in_runtime_ms = 0.0;
    for i in 0..n {
        let r = f.invoke(&spec, json!({"i": i})).await;
        assert_eq!(body(&r), json!({"i": i}));
        in_runtime_ms += r.duration_ms;
    }
    let per_invoke = started.elapsed() / n;
    eprintln!(
        "warm invoke round trip: {per_invoke:?}, of which in the runtime: {:.3} ms",
        in_runtime_ms / f64::from(n)
    );
    // Generous bound (shared CI machines); the real number is a fraction of a millisecond.
    assert!(
        per_invoke < std::time::Duration::from_millis(20),
        "{per_invoke:?}"
    );
}

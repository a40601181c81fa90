"""The Node.js runtimes (nodejs18.x–24.x): the shipped bootstrap runs unmodified handlers as AWS's
Node.js runtime does — CommonJS and ES modules, async, callback and legacy `context.succeed`
handlers, the `context` object, console log lines, and the error documents of handler, import,
init and unhandled-rejection failures (spec §7) — through the real binary with boto3."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from harness import (
    ROLE,
    UUID_RE,
    RecordLog,
    Tributary,
    client,
    error_of,
    function_arn,
    unique,
    wait_for,
    zip_bytes,
)

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not on PATH (the Node.js runtimes need it)")

ISO_MS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def invoke(c, name, payload=None, **kw):
    resp = c.lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kw)
    return resp, json.loads(resp["Payload"].read())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # a zombie still counts: the host has not reaped it yet
    except ProcessLookupError:
        return False
    return True


def tail_of(resp) -> str:
    return base64.b64decode(resp["LogResult"]).decode()


def create(fx, files: dict[str, str], handler="index.handler", runtime="nodejs20.x", **kw) -> str:
    """A function from `files` on the `env` fixture `fx`; `env=` in kw sets its variables."""
    return fx.create_function(zip_bytes(files), runtime=runtime, handler=handler, **kw)


# Reports what the function sees of itself: the context fields and the environment.
INTROSPECT = """\
exports.handler = async (event, context) => ({
  event,
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  remaining: context.getRemainingTimeInMillis(),
  callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
  legacy: [typeof context.done, typeof context.succeed, typeof context.fail],
  clientContext: context.clientContext === undefined ? "undefined" : context.clientContext,
  identity: context.identity === undefined ? "undefined" : context.identity,
  gc: typeof gc,
  nodeVersion: process.version,
  cwd: process.cwd(),
  env: Object.fromEntries([
    "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
    "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "NODE_PATH", "_HANDLER", "TZ", "LANG", "_X_AMZN_TRACE_ID",
    "AWS_ENDPOINT_URL", "GREETING",
  ].map((k) => [k, process.env[k] ?? null])),
});
"""


@pytest.mark.parametrize("runtime", ["nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"])
def test_context_and_environment(env, runtime):
    c = env.c
    name = create(env, {"index.js": INTROSPECT}, runtime=runtime, MemorySize=256, Timeout=7,
                  env={"GREETING": "hi"})  # fmt: skip
    resp, out = invoke(c, name, {"hello": "node"})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, out
    assert out["event"] == {"hello": "node"}
    assert out["awsRequestId"] == resp["ResponseMetadata"]["RequestId"]
    assert UUID_RE.match(out["awsRequestId"])
    assert out["functionName"] == name
    assert out["functionVersion"] == "$LATEST"
    assert out["invokedFunctionArn"] == function_arn(name)
    assert out["memoryLimitInMB"] == "256"  # a string, as on AWS
    assert out["logGroupName"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", out["logStreamName"]), out["logStreamName"]
    assert 5000 < out["remaining"] <= 7000
    assert out["clientContext"] == "undefined" and out["identity"] == "undefined"
    assert out["gc"] == "function"  # node runs with --expose-gc, as on AWS
    if runtime == "nodejs24.x":
        # The newer runtime has no callbacks, so no callback flags on the context either.
        assert "callbackWaitsForEmptyEventLoop" not in out
        assert out["legacy"] == ["undefined"] * 3
    else:
        assert out["callbackWaitsForEmptyEventLoop"] is True
        assert out["legacy"] == ["function"] * 3

    e = out["env"]
    task_root = e["LAMBDA_TASK_ROOT"]
    assert out["cwd"] == task_root
    assert e["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    assert e["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert e["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert e["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert e["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert e["AWS_REGION"] == e["AWS_DEFAULT_REGION"] == "us-east-1"
    assert e["_HANDLER"] == "index.handler"
    assert e["TZ"] == ":UTC" and e["LANG"] == "en_US.UTF-8"
    assert e["_X_AMZN_TRACE_ID"] and e["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert e["AWS_ENDPOINT_URL"] == c.endpoint
    assert e["GREETING"] == "hi"
    assert e["LAMBDA_RUNTIME_DIR"].endswith("/runtimes/node")
    # Lambda's NODE_PATH order: the runtime's modules, the runtime, then the task root.
    assert e["NODE_PATH"].split(":") == [e["LAMBDA_RUNTIME_DIR"] + "/node_modules", e["LAMBDA_RUNTIME_DIR"], task_root]


def test_qualified_arn_and_client_context(env):
    c = env.c
    name = create(env, {"index.js": INTROSPECT})
    resp, out = invoke(c, name, {}, Qualifier="$LATEST")
    assert "FunctionError" not in resp, out
    assert out["invokedFunctionArn"] == function_arn(name) + ":$LATEST"

    cc = {"client": {"installation_id": "inst-1", "app_title": "demo"}, "custom": {"k": "v"}, "env": {"locale": "en"}}
    resp, out = invoke(c, name, {}, ClientContext=base64.b64encode(json.dumps(cc).encode()).decode())
    assert "FunctionError" not in resp, out
    assert out["clientContext"] == cc


def test_user_node_path_wins(env):
    name = create(env, {"index.js": INTROSPECT}, env={"NODE_PATH": "/opt/mine"})
    _, out = invoke(env.c, name)
    assert out["env"]["NODE_PATH"] == "/opt/mine"


CALLBACK_STYLES = """\
const fs = require("fs");
exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { style: "callback", n: event.n + 1 }), 5);
};
exports.succeed = (event, context) => { context.succeed({ style: "succeed" }); };
exports.done = (event, context) => { context.done(null, { style: "done" }); };
exports.sync = (event) => ({ ignored: true });
exports.twice = (event, context, callback) => { callback(null, "first"); callback(null, "second"); };
exports.waits = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => console.log("timer fired"), 300);
  callback(null, "answered");
};
"""


def test_callback_handlers(env):
    c = env.c
    files = {"index.js": CALLBACK_STYLES}
    for export, expected in [
        ("callback", {"style": "callback", "n": 42}),
        ("succeed", {"style": "succeed"}),
        ("done", {"style": "done"}),
        ("twice", "first"),
        # A sync handler's return value is ignored: the answer is null once the loop drains.
        ("sync", None),
    ]:
        name = create(env, files, handler=f"index.{export}")
        resp, out = invoke(c, name, {"n": 41})
        assert "FunctionError" not in resp, (export, out)
        assert out == expected, export

    # callbackWaitsForEmptyEventLoop: the answer waits for the pending timer, unless turned off.
    name = create(env, files, handler="index.waits")
    resp, out = invoke(c, name, {"wait": True}, LogType="Tail")
    assert out == "answered" and "\tINFO\ttimer fired" in tail_of(resp)
    resp, out = invoke(c, name, {"wait": False}, LogType="Tail")
    assert out == "answered" and "timer fired" not in tail_of(resp)


def test_async_and_promise_handlers(env):
    c = env.c
    src = """\
exports.asyncFn = async (event) => ({ doubled: event.n * 2 });
exports.promise = (event) => new Promise((resolve) => setTimeout(() => resolve({ later: event.n }), 5));
exports.undef = async () => undefined;
exports.text = async () => "plain";
exports.nested = { deeper: { fn: async () => "nested export" } };
"""
    for handler, expected in [
        ("index.asyncFn", {"doubled": 42}),
        ("index.promise", {"later": 21}),
        ("index.undef", None),
        ("index.text", "plain"),
        ("index.nested.deeper.fn", "nested export"),
    ]:
        name = create(env, {"index.js": src}, handler=handler)
        resp, out = invoke(c, name, {"n": 21})
        assert "FunctionError" not in resp, (handler, out)
        assert out == expected, handler


def test_es_modules_and_nested_paths(env):
    c = env.c
    mjs = 'export const handler = async (event) => ({ kind: "mjs", url: import.meta.url.startsWith("file://") });\n'
    name = create(env, {"index.mjs": mjs})
    _, out = invoke(c, name)
    assert out == {"kind": "mjs", "url": True}

    # `.js` is an ES module when the nearest package.json says "type": "module".
    files = {
        "package.json": json.dumps({"type": "module"}),
        "app.js": 'import { helper } from "./lib/helper.js";\nexport async function handler() { return helper(); }\n',
        "lib/helper.js": 'export const helper = () => ({ kind: "type-module" });\n',
    }
    name = create(env, files, handler="app.handler")
    _, out = invoke(c, name)
    assert out == {"kind": "type-module"}

    # A handler in nested directories, CommonJS requiring a sibling and a node_modules package.
    files = {
        "src/handlers/orders.js": (
            'const util = require("../lib/util");\nconst pad = require("left-pad");\n'
            'exports.create = async (e) => ({ id: util.id(e), padded: pad("7", 3, "0") });\n'
        ),
        "src/lib/util.js": 'exports.id = (e) => "order-" + e.n;\n',
        "node_modules/left-pad/package.json": json.dumps({"name": "left-pad", "main": "index.js"}),
        "node_modules/left-pad/index.js": 'module.exports = (s, n, c) => String(s).padStart(n, c);\n',
    }
    name = create(env, files, handler="src/handlers/orders.create")
    _, out = invoke(c, name, {"n": 5})
    assert out == {"id": "order-5", "padded": "007"}

    # `.cjs` is CommonJS even inside a "type": "module" package.
    files = {"package.json": json.dumps({"type": "module"}), "legacy.cjs": 'exports.handler = async () => "cjs";\n'}
    name = create(env, files, handler="legacy.handler")
    _, out = invoke(c, name)
    assert out == "cjs"


def test_console_log_lines(env):
    c = env.c
    src = """\
console.log("during init");
exports.handler = async (event, context) => {
  console.log("hello %d", 42, { a: 1 });
  console.info("info line");
  console.warn("careful");
  console.error("bad", new Error("shown"));
  console.debug("details");
  return context.awsRequestId;
};
"""
    name = create(env, {"index.js": src})
    resp, rid = invoke(c, name, LogType="Tail")
    tail = tail_of(resp)
    lines = tail.splitlines()

    def line(level, text):
        pattern = re.compile(rf"^{ISO_MS}\t{re.escape(rid)}\t{level}\t{re.escape(text)}")
        found = [l for l in lines if pattern.match(l)]
        assert found, f"no {level} line starting {text!r} in:\n{tail}"
        return found[0]

    assert line("INFO", "hello 42 { a: 1 }").endswith("{ a: 1 }")
    line("INFO", "info line")
    line("WARN", "careful")
    line("ERROR", "bad Error: shown")
    line("DEBUG", "details")
    assert f"START RequestId: {rid}" in tail and f"END RequestId: {rid}" in tail

    # Levels below AWS_LAMBDA_LOG_LEVEL are dropped; JSON log format writes one object a line.
    name = create(env, {"index.js": src}, env={"AWS_LAMBDA_LOG_LEVEL": "WARN", "AWS_LAMBDA_LOG_FORMAT": "JSON"})
    resp, rid = invoke(c, name, LogType="Tail")
    docs = [json.loads(l) for l in tail_of(resp).splitlines() if l.startswith("{")]
    assert [(d["level"], d["message"]) for d in docs if d.get("requestId") == rid] == [
        ("WARN", "careful"),
        ("ERROR", docs[-1]["message"]),
    ], docs
    err = docs[-1]
    assert err["message"].startswith("bad Error: shown") and err["errorType"] == "Error"
    assert err["errorMessage"] == "shown" and isinstance(err["stackTrace"], list)
    assert re.fullmatch(ISO_MS, err["timestamp"])


def test_handler_errors(env):
    c = env.c
    src = """\
class ValidationError extends Error { constructor(m) { super(m); this.name = "ValidationError"; } }
exports.throws = async () => { throw new TypeError("bad input"); };
exports.custom = async () => { throw new ValidationError("nope"); };
exports.syncThrow = () => { throw new Error("sync boom"); };
exports.cbString = (e, ctx, cb) => cb("plain failure");
exports.fail = (e, ctx) => ctx.fail(new Error("legacy fail"));
exports.circular = async () => { const o = {}; o.self = o; return o; };
"""
    name = create(env, {"index.js": src}, handler="index.throws")
    resp, out = invoke(c, name, LogType="Tail")
    assert resp["StatusCode"] == 200 and resp["FunctionError"] == "Unhandled"
    assert set(out) == {"errorType", "errorMessage", "trace"}
    assert out["errorType"] == "TypeError" and out["errorMessage"] == "bad input"
    assert out["trace"][0] == "TypeError: bad input"
    assert any("index.js" in frame for frame in out["trace"][1:]), out["trace"]
    rid = resp["ResponseMetadata"]["RequestId"]
    tail = tail_of(resp)
    m = re.search(rf"^{ISO_MS}\t{rid}\tERROR\tInvoke Error \t(\{{.*)$", tail, re.M)
    assert m, tail
    logged = json.loads(m.group(1))
    assert logged["errorType"] == "TypeError" and logged["errorMessage"] == "bad input"
    assert logged["stack"][0] == "TypeError: bad input"

    # The environment survives a handler error.
    resp, out = invoke(c, name)
    assert out["errorMessage"] == "bad input"

    for handler, etype, msg, trace0 in [
        ("index.custom", "ValidationError", "nope", "ValidationError: nope"),
        ("index.syncThrow", "Error", "sync boom", "Error: sync boom"),
        ("index.cbString", "string", "plain failure", None),
        ("index.fail", "Error", "legacy fail", "Error: legacy fail"),
        ("index.circular", "Error", "Unable to stringify response body", "Error: Unable to stringify response body"),
    ]:
        name = create(env, {"index.js": src}, handler=handler)
        resp, out = invoke(c, name)
        assert resp.get("FunctionError") == "Unhandled", (handler, out)
        assert (out["errorType"], out["errorMessage"]) == (etype, msg), handler
        if trace0 is None:
            assert out["trace"] == []
        else:
            assert out["trace"][0] == trace0, handler


def test_oversized_response_keeps_the_runtime_going(env):
    c = env.c
    src = 'exports.handler = async (event) => event.big ? "x".repeat(7 * 1024 * 1024) : process.pid;\n'
    name = create(env, {"index.js": src})
    _, pid = invoke(c, name)
    resp, out = invoke(c, name, {"big": True})
    assert resp["FunctionError"] == "Unhandled"
    assert out == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    # The runtime took the 413 in its stride: the same process answers the next invoke.
    resp, again = invoke(c, name)
    assert "FunctionError" not in resp and again == pid


def test_import_module_error(env):
    c = env.c
    name = create(env, {"other.js": "exports.handler = async () => 1;\n"}, handler="missing.handler")
    resp, out = invoke(c, name)
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ImportModuleError"
    assert out["errorMessage"].startswith("Error: Cannot find module 'missing'\nRequire stack:\n- "), out
    assert out["trace"][0] == "Runtime.ImportModuleError: Error: Cannot find module 'missing'"

    # A CommonJS module requiring a package that is not there.
    name = create(env, {"index.js": 'const x = require("not-installed");\nexports.handler = async () => x;\n'})
    resp, out = invoke(c, name, LogType="Tail")
    assert out["errorType"] == "Runtime.ImportModuleError"
    assert out["errorMessage"].startswith("Error: Cannot find module 'not-installed'\nRequire stack:\n- "), out
    assert "/index.js" in out["errorMessage"]
    # As on AWS, init failures are logged as an uncaught exception with request id `undefined`.
    assert re.search(rf"^{ISO_MS}\tundefined\tERROR\tUncaught Exception \t\{{\"errorType\":\"Runtime.ImportModuleError\"",
                     tail_of(resp), re.M), tail_of(resp)  # fmt: skip

    # A syntax error is its own type.
    name = create(env, {"index.js": "exports.handler = async () => {;\n"})
    _, out = invoke(c, name)
    assert out["errorType"] == "Runtime.UserCodeSyntaxError" and out["errorMessage"].startswith("SyntaxError: ")


def test_handler_not_found(env):
    c = env.c
    files = {"index.js": "exports.handler = async () => 1;\nexports.notfn = 42;\n"}
    for handler, msg in [
        ("index.nope", "index.nope is undefined or not exported"),
        ("index.notfn", "index.notfn is not a function"),
    ]:
        name = create(env, files, handler=handler)
        resp, out = invoke(c, name)
        assert resp["FunctionError"] == "Unhandled"
        assert out["errorType"] == "Runtime.HandlerNotFound" and out["errorMessage"] == msg, out
        assert out["trace"][0] == f"Runtime.HandlerNotFound: {msg}"

    name = create(env, files, handler="index")
    _, out = invoke(c, name)
    assert (out["errorType"], out["errorMessage"]) == ("Runtime.MalformedHandlerName", "Bad handler")


def test_init_error_is_returned_to_the_first_invoke(env, tmp_path):
    c = env.c
    counter = tmp_path / "inits"
    src = """\
require("fs").appendFileSync(process.env.INIT_FILE, "init\\n");
throw new RangeError("config missing at init");
exports.handler = async () => "unreachable";
"""
    name = create(env, {"index.js": src}, env={"INIT_FILE": str(counter)})
    resp, out = invoke(c, name)
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "RangeError" and out["errorMessage"] == "config missing at init"
    assert out["trace"][0] == "RangeError: config missing at init"
    # The next invoke initializes a new environment, which fails the same way.
    resp, out = invoke(c, name)
    assert out["errorType"] == "RangeError"
    assert counter.read_text() == "init\ninit\n"


def test_unhandled_rejection_and_uncaught_exception(env):
    c = env.c
    src = """\
exports.rejects = async (event) => {
  Promise.reject(new Error("nobody caught me"));
  await new Promise((r) => setTimeout(r, 200));
  return "too late";
};
exports.throwsLater = (event, context, callback) => {
  setTimeout(() => { throw new Error("thrown from a timer"); }, 5);
};
exports.ok = async () => process.pid;
"""
    name = create(env, {"index.js": src}, handler="index.rejects")
    resp, out = invoke(c, name, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert out["errorMessage"] == "Error: nobody caught me"
    assert out["trace"][0] == "Runtime.UnhandledPromiseRejection: Error: nobody caught me"
    assert "\tERROR\tUnhandled Promise Rejection \t{" in tail_of(resp)

    name = create(env, {"index.js": src}, handler="index.throwsLater")
    resp, out = invoke(c, name)
    assert resp["FunctionError"] == "Unhandled"
    assert (out["errorType"], out["errorMessage"]) == ("Error", "thrown from a timer")


def test_unhandled_rejection_replaces_the_environment(env):
    c = env.c
    src = """\
let calls = 0;
exports.handler = async (event) => {
  calls += 1;
  if (event.reject) Promise.reject(new Error("lost"));
  await new Promise((r) => setTimeout(r, 50));
  return { pid: process.pid, calls };
};
"""
    name = create(env, {"index.js": src})
    _, first = invoke(c, name)
    resp, out = invoke(c, name, {"reject": True})
    assert out["errorType"] == "Runtime.UnhandledPromiseRejection"
    # The runtime exits (128) after reporting, as AWS's does, and the next invoke -- sent at
    # once, racing that exit -- gets a fresh environment.
    resp, out = invoke(c, name)
    assert "FunctionError" not in resp, out
    assert out["calls"] == 1 and out["pid"] != first["pid"]
    wait_for(lambda: not pid_alive(first["pid"]), f"runtime process {first['pid']} to exit")


def test_nodejs24_rules(env):
    c = env.c
    src = """\
exports.cb = (event, context, callback) => callback(null, "never");
exports.sync = (event) => ({ returned: event.n });
"""
    name = create(env, {"index.js": src}, handler="index.cb", runtime="nodejs24.x")
    resp, out = invoke(c, name)
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.CallbackHandlerDeprecated"
    assert "removed support for callback-based function handlers starting with Node.js 24" in out["errorMessage"]

    # The same handler runs on nodejs22.x; a sync handler's value is the answer on nodejs24.x.
    name = create(env, {"index.js": src}, handler="index.cb", runtime="nodejs22.x")
    assert invoke(c, name)[1] == "never"
    name = create(env, {"index.js": src}, handler="index.sync", runtime="nodejs24.x")
    assert invoke(c, name, {"n": 3})[1] == {"returned": 3}


def test_streaming_handler_answers_buffered(env):
    src = """\
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType("text/plain");
  responseStream.write("hello ");
  responseStream.write(context.functionName);
  responseStream.end();
});
"""
    name = create(env, {"index.js": src})
    resp = env.c.lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in resp
    assert resp["Payload"].read() == f"hello {name}".encode()


NODE_RECORDER = """\
const fs = require("fs");
exports.handler = async (event, context) => {
  fs.appendFileSync(process.env.RECORDS_FILE,
    JSON.stringify({ requestId: context.awsRequestId, failed: false, event }) + "\\n");
  return { batchItemFailures: [] };
};
"""


def test_stream_event_source_mapping_invokes_node(env, tmp_path):
    c = env.c
    records = tmp_path / "records.jsonl"
    name = create(env, {"index.js": NODE_RECORDER}, runtime="nodejs22.x", env={"RECORDS_FILE": str(records)})
    t = env.create_table()
    env.create_mapping(name, t["LatestStreamArn"], "TRIM_HORIZON")
    c.ddb.put_item(TableName=t["TableName"], Item={"pk": {"S": "to-node"}, "n": {"N": "7"}})
    (rec,) = RecordLog(records).wait_records(1)
    assert rec["eventName"] == "INSERT" and rec["eventSource"] == "aws:dynamodb"
    assert rec["dynamodb"]["Keys"] == {"pk": {"S": "to-node"}}
    assert rec["dynamodb"]["NewImage"] == {"pk": {"S": "to-node"}, "n": {"N": "7"}}
    assert rec["eventSourceARN"] == t["LatestStreamArn"]


# --------------------------------------------------------------------------------------------
# a server whose node cannot be found


@pytest.fixture(scope="module")
def nodeless_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("nodeless")
    srv = Tributary(data_dir=base / "data", log_path=base / "tributary.log")
    old = os.environ.get("TRIBUTARY_NODE")
    os.environ["TRIBUTARY_NODE"] = "/nonexistent/bin/node"
    try:
        srv.start()
    finally:
        if old is None:
            del os.environ["TRIBUTARY_NODE"]
        else:
            os.environ["TRIBUTARY_NODE"] = old
    yield srv
    srv.stop_cleanly()


def test_missing_interpreter_is_refused_at_create(nodeless_server):
    lam = client("lambda", nodeless_server.endpoint)
    code = zip_bytes({"index.js": INTROSPECT})
    name = unique("fn")
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName=name, Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                            Code={"ZipFile": code})  # fmt: skip
    code_, status, msg = error_of(e.value)
    assert (code_, status) == ("InvalidParameterValueException", 400)
    assert "nodejs20.x" in msg and "/nonexistent/bin/node" in msg and "--node" in msg, msg
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=name)

    # Python functions still work there; switching one to a node runtime is refused too.
    py = zip_bytes({"handler.py": "def handler(event, context):\n    return 'py'\n"})
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": py})  # fmt: skip
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=name, Runtime="nodejs22.x", Handler="index.handler")
    code_, _, msg = error_of(e.value)
    assert code_ == "InvalidParameterValueException" and "nodejs22.x" in msg, msg
    assert lam.get_function(FunctionName=name)["Configuration"]["Runtime"] == "python3.12"


# --------------------------------------------------------------------------------------------
# npm's aws-lambda-ric as a provided.al2023 bootstrap

RIC_CACHE = Path(os.environ.get("TRIBUTARY_TEST_CACHE", Path.home() / ".cache" / "tributary-tests")) / "aws-lambda-ric"
RIC_VERSION = "3.3.0"


@pytest.fixture(scope="module")
def aws_lambda_ric() -> Path:
    """npm's aws-lambda-ric, installed once into a cache dir. It builds native code (curl and
    aws-lambda-cpp, with cmake, autotools and a C++ compiler); where that cannot work, skip."""
    pkg = RIC_CACHE / RIC_VERSION / "node_modules" / "aws-lambda-ric"
    if (pkg / "dist" / "rapid-client.node").is_file() and (pkg / "bin" / "index.mjs").is_file():
        return pkg
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH, so aws-lambda-ric cannot be installed")
    staging = RIC_CACHE / f"{RIC_VERSION}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    log = RIC_CACHE / f"npm-install-{RIC_VERSION}.log"
    cmd = [npm, "install", "--prefix", str(staging), "--foreground-scripts", "--no-audit", "--no-fund",
           f"aws-lambda-ric@{RIC_VERSION}"]  # fmt: skip
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        output = p.stdout + p.stderr
        ok = p.returncode == 0
    except subprocess.TimeoutExpired as e:
        output, ok = f"{e.stdout or ''}{e.stderr or ''}\nnpm install timed out", False
    log.write_text(output)
    built = staging / "node_modules" / "aws-lambda-ric" / "dist" / "rapid-client.node"
    if not ok or not built.is_file():
        shutil.rmtree(staging, ignore_errors=True)
        errors = [l for l in output.splitlines() if "rror" in l] or output.splitlines()[-3:]
        pytest.skip(
            "npm install aws-lambda-ric failed (it builds native code and needs cmake, autoconf, automake, "
            f"libtool and a C++ compiler): {' | '.join(errors[-3:])} (full log: {log})"
        )
    shutil.rmtree(RIC_CACHE / RIC_VERSION, ignore_errors=True)
    staging.rename(RIC_CACHE / RIC_VERSION)
    return pkg


RIC_BOOTSTRAP = """#!/bin/sh
cd "$LAMBDA_TASK_ROOT"
exec "$RIC_NODE" "$RIC_DIR/bin/index.mjs" "$_HANDLER"
"""

RIC_APP = """\
exports.handler = async (event, context) => {
  if (event.fail) throw new TypeError("asked to fail");
  console.log("ric says hi");
  return {
    echo: event,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    memoryLimitInMB: context.memoryLimitInMB,
    invokedFunctionArn: context.invokedFunctionArn,
    clientContext: context.clientContext,
  };
};
"""


@pytest.mark.timeout(1500)  # a fresh machine builds aws-lambda-ric's native code first
def test_aws_lambda_ric_bootstrap(env, aws_lambda_ric, tmp_path):
    """AWS's own Node.js runtime client runs against our Runtime API as a provided.al2023 bootstrap,
    and our shipped bootstrap answers the same handler with the same documents."""
    c = env.c
    code = zip_bytes({"bootstrap": RIC_BOOTSTRAP, "app.js": RIC_APP}, executable=("bootstrap",))
    ric = env.create_function(code, runtime="provided.al2023", handler="app.handler", MemorySize=256,
                              env={"RIC_NODE": NODE, "RIC_DIR": str(aws_lambda_ric)})  # fmt: skip
    ours = create(env, {"app.js": RIC_APP}, handler="app.handler", MemorySize=256)
    cc = {"custom": {"who": "ric"}}
    cc64 = base64.b64encode(json.dumps(cc).encode()).decode()

    outs = {}
    for name in (ric, ours):
        resp, out = invoke(c, name, {"hello": "ric"}, ClientContext=cc64, LogType="Tail")
        assert resp["StatusCode"] == 200 and "FunctionError" not in resp, out
        assert out["requestId"] == resp["ResponseMetadata"]["RequestId"]
        assert out["functionName"] == name and out["invokedFunctionArn"] == function_arn(name)
        assert out["memoryLimitInMB"] == "256" and out["echo"] == {"hello": "ric"}
        assert out["clientContext"] == cc
        assert re.search(rf"^{ISO_MS}\t{out['requestId']}\tINFO\tric says hi$", tail_of(resp), re.M), tail_of(resp)
        resp, err = invoke(c, name, {"fail": True})
        assert resp["FunctionError"] == "Unhandled"
        outs[name] = err
    # The same error document from AWS's runtime client and from ours.
    a, b = outs[ric], outs[ours]
    assert set(a) == set(b) == {"errorType", "errorMessage", "trace"}
    assert (a["errorType"], a["errorMessage"], a["trace"][0]) == (b["errorType"], b["errorMessage"], b["trace"][0])
    assert a["trace"][0] == "TypeError: asked to fail"

    # Failures outside the handler: the same types and messages from both runtimes.
    broken = {
        "boom.js": 'throw new RangeError("init failed");\n',
        "ok.js": "exports.handler = async () => 1;\n",
        "rejects.js": 'exports.handler = async () => { Promise.reject(new Error("lost")); await new Promise((r) => setTimeout(r, 100)); };\n',
    }
    for handler in ["missing.handler", "ok.nope", "boom.handler", "rejects.handler"]:
        docs = []
        for files, kw in [
            ({**broken, "bootstrap": RIC_BOOTSTRAP}, dict(runtime="provided.al2023", executable=True)),
            (broken, dict(runtime="nodejs20.x", executable=False)),
        ]:
            code = zip_bytes(files, executable=("bootstrap",) if kw["executable"] else ())
            name = env.create_function(code, runtime=kw["runtime"], handler=handler,
                                       env={"RIC_NODE": NODE, "RIC_DIR": str(aws_lambda_ric)})  # fmt: skip
            resp, doc = invoke(c, name)
            assert resp["FunctionError"] == "Unhandled", (handler, doc)
            docs.append(doc)
        a, b = docs
        assert a["errorType"] == b["errorType"], (handler, a, b)
        # Import errors name the requiring file: AWS's runtime file there, ours here.
        first_line = lambda doc: doc["errorMessage"].split("\n")[0]  # noqa: E731
        assert first_line(a) == first_line(b), (handler, a, b)
        assert a["trace"][0].split("\n")[0] == b["trace"][0].split("\n")[0], (handler, a, b)

    # A stream record reaches the aws-lambda-ric function through a mapping.
    records = tmp_path / "records.jsonl"
    code = zip_bytes({"bootstrap": RIC_BOOTSTRAP, "app.js": NODE_RECORDER}, executable=("bootstrap",))
    name = env.create_function(code, runtime="provided.al2023", handler="app.handler",
                               env={"RIC_NODE": NODE, "RIC_DIR": str(aws_lambda_ric), "RECORDS_FILE": str(records)})  # fmt: skip
    t = env.create_table()
    env.create_mapping(name, t["LatestStreamArn"], "TRIM_HORIZON")
    c.ddb.put_item(TableName=t["TableName"], Item={"pk": {"S": "via-npm-ric"}})
    (rec,) = RecordLog(records).wait_records(1)
    assert rec["dynamodb"]["Keys"] == {"pk": {"S": "via-npm-ric"}}

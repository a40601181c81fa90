"""The Runtime API is the real one: unmodified runtime clients run against it — a function built
with the Rust `lambda_runtime` crate (examples/rust-echo), PyPI's `awslambdaric` started from a
provided.al2023 bootstrap (examples/awslambdaric), and a hand-written provided.al2 bootstrap that
checks the wire details of the API itself (spec §7)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from harness import (
    REPO,
    RUST_ECHO_BIN,
    RecordLog,
    function_arn,
    raw_responses,
    zip_bytes,
)

EXAMPLES = REPO / "examples"


def invoke(c, name, payload):
    resp = c.lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    return resp, json.loads(resp["Payload"].read())


@pytest.fixture(scope="module")
def rust_echo_zip() -> bytes:
    if not RUST_ECHO_BIN.is_file():  # scripts/test.sh builds it; build it here for a bare pytest run
        subprocess.run(["cargo", "build", "--release", "-p", "rust-echo"], cwd=REPO, check=True)
    return zip_bytes({"bootstrap": RUST_ECHO_BIN.read_bytes()}, executable=("bootstrap",))


@pytest.mark.parametrize("runtime", ["provided.al2023", "provided.al2"])
def test_rust_lambda_runtime_function(env, rust_echo_zip, runtime):
    c = env.c
    name = env.create_function(rust_echo_zip, runtime=runtime, handler="bootstrap")
    resp, out = invoke(c, name, {"hello": "world", "n": [1, 2]})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    assert out == {
        "echo": {"hello": "world", "n": [1, 2]},
        "requestId": resp["ResponseMetadata"]["RequestId"],
        "functionArn": function_arn(name),
        "runtime": "rust-lambda_runtime",
    }
    # The same warm process answers the next one.
    resp2, out2 = invoke(c, name, {"again": True})
    assert out2["echo"] == {"again": True} and out2["requestId"] != out["requestId"]

    resp, out = invoke(c, name, {"fail": True})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorMessage"] == "asked to fail"
    assert isinstance(out["errorType"], str) and out["errorType"]

    resp, out = invoke(c, name, {"after": "error"})
    assert "FunctionError" not in resp and out["echo"] == {"after": "error"}


def awslambdaric_zip() -> bytes:
    d = EXAMPLES / "awslambdaric"
    return zip_bytes(
        {"bootstrap": (d / "bootstrap").read_text(), "app.py": (d / "app.py").read_text()},
        executable=("bootstrap",),
    )


def test_awslambdaric_function(env, tmp_path):
    try:
        import awslambdaric  # noqa: F401
    except ImportError:
        pytest.fail("awslambdaric is not installed in the test virtualenv (scripts/test.sh installs it)")
    c = env.c
    records_file = tmp_path / "records.jsonl"
    name = env.create_function(
        awslambdaric_zip(), runtime="provided.al2023", handler="app.handler", MemorySize=256, Timeout=5,
        env={"RIC_PYTHON": sys.executable, "RECORDS_FILE": str(records_file)},
    )  # fmt: skip

    resp, out = invoke(c, name, {"hello": "ric"})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, out
    assert out["echo"] == {"hello": "ric"}
    assert out["runtime"] == "awslambdaric"
    assert out["requestId"] == resp["ResponseMetadata"]["RequestId"]
    assert out["functionName"] == name
    assert out["functionVersion"] == "$LATEST"
    assert out["invokedFunctionArn"] == function_arn(name)
    assert out["memoryLimitInMB"] == "256"
    assert out["logGroupName"] == f"/aws/lambda/{name}"
    assert 0 < out["remainingTimeInMillis"] <= 5000

    resp, out = invoke(c, name, {"fail": True})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError"
    assert out["errorMessage"] == "asked to fail"
    assert out["requestId"] == resp["ResponseMetadata"]["RequestId"]
    assert isinstance(out["stackTrace"], list) and out["stackTrace"]

    # Stream records reach the awslambdaric function through a mapping too.
    t = env.create_table()
    env.create_mapping(name, t["LatestStreamArn"], "TRIM_HORIZON")
    c.ddb.put_item(TableName=t["TableName"], Item={"pk": {"S": "via-ric"}})
    (rec,) = RecordLog(records_file).wait_records(1)
    assert rec["eventName"] == "INSERT" and rec["dynamodb"]["Keys"] == {"pk": {"S": "via-ric"}}
    assert rec["eventSourceARN"] == t["LatestStreamArn"]


# A custom runtime written against the Runtime API by hand: it reports what the API sent it and
# how the API answered its previous calls.
CUSTOM_BOOTSTRAP = """#!{python}
import json, os, urllib.error, urllib.request

base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/"


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {{}})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, {{k.lower(): v for k, v in r.headers.items()}}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {{k.lower(): v for k, v in e.headers.items()}}, e.read()


previous = None
while True:
    status, headers, body = call("GET", "invocation/next")
    rid = headers["lambda-runtime-aws-request-id"]
    event = json.loads(body)
    bad_status, _, bad_body = call("POST", "invocation/not-the-current-request/response", b"{{}}")
    if event.get("fail"):
        err = {{"errorMessage": "custom failure", "errorType": "CustomError", "stackTrace": ["here"]}}
        previous = call("POST", "invocation/" + rid + "/error", json.dumps(err).encode(),
                        {{"Lambda-Runtime-Function-Error-Type": "Function.CustomError",
                          "Content-Type": "application/vnd.aws.lambda.error+json"}})
        continue
    out = {{
        "event": event,
        "nextStatus": status,
        "headers": headers,
        "wrongIdStatus": bad_status,
        "wrongIdBody": json.loads(bad_body or b"null"),
        "previous": None if previous is None else [previous[0], json.loads(previous[2] or b"null")],
        "env": {{k: os.environ.get(k) for k in ["_HANDLER", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
                                              "AWS_LAMBDA_FUNCTION_VERSION", "AWS_REGION"]}},
    }}
    previous = call("POST", "invocation/" + rid + "/response", json.dumps(out).encode())
"""


def test_runtime_api_wire_details(env):
    c = env.c
    code = zip_bytes({"bootstrap": CUSTOM_BOOTSTRAP.format(python=sys.executable)}, executable=("bootstrap",))
    name = env.create_function(code, runtime="provided.al2", handler="my.handler", Timeout=4)

    before_ms = time.time() * 1000
    resp, out = invoke(c, name, {"first": 1})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, out
    assert out["event"] == {"first": 1}
    assert out["nextStatus"] == 200
    h = out["headers"]
    assert h["lambda-runtime-aws-request-id"] == resp["ResponseMetadata"]["RequestId"]
    assert h["lambda-runtime-invoked-function-arn"] == function_arn(name)
    deadline = int(h["lambda-runtime-deadline-ms"])
    assert before_ms < deadline <= time.time() * 1000 + 4000 + 50
    assert h.get("content-type", "").startswith("application/json")
    assert h.get("lambda-runtime-trace-id", "Root=").startswith("Root=")
    assert out["wrongIdStatus"] == 400
    assert out["wrongIdBody"]["errorType"] == "InvalidRequestID"
    assert out["previous"] is None
    assert out["env"] == {
        "_HANDLER": "my.handler",
        "AWS_EXECUTION_ENV": None,  # not set for provided runtimes
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
    }

    # /response was accepted with 202 {"status":"OK"}.
    _, out2 = invoke(c, name, {"second": 2})
    assert out2["previous"] == [202, {"status": "OK"}]
    assert out2["headers"]["lambda-runtime-aws-request-id"] != h["lambda-runtime-aws-request-id"]

    # /error: the invoker sees Unhandled and the body the runtime posted.
    with raw_responses(c.lam) as raw:
        resp, out = invoke(c, name, {"fail": True})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert raw[-1][1].get("x-amz-function-error") == "Unhandled"
    assert out == {"errorMessage": "custom failure", "errorType": "CustomError", "stackTrace": ["here"]}
    _, out3 = invoke(c, name, {"third": 3})
    assert out3["previous"] == [202, {"status": "OK"}]

"""Lambda functions (REST-JSON): CreateFunction, GetFunction, ListFunctions,
UpdateFunctionConfiguration, DeleteFunction and synchronous Invoke, on the python runtimes."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError
from harness import (
    ROLE,
    UUID_RE,
    code_sha256,
    error_of,
    function_arn,
    raw_responses,
    unique,
    wait_for,
    zip_bytes,
)

# Returns what the function sees of itself; raises when the event asks it to.
INTROSPECT_PY = """\
import os
import sys


def handler(event, context):
    if isinstance(event, dict) and "raise" in event:
        raise ValueError(event["raise"])
    names = [
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "_HANDLER", "AWS_LAMBDA_RUNTIME_API",
        "AWS_LAMBDA_LOG_GROUP_NAME", "LAMBDA_TASK_ROOT", "GREETING",
    ]
    return {
        "event": event,
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "invokedFunctionArn": context.invoked_function_arn,
        "memoryLimitInMB": str(context.memory_limit_in_mb),
        "remainingTimeInMillis": context.get_remaining_time_in_millis(),
        "env": {n: os.environ.get(n) for n in names},
        "cwdFiles": sorted(os.listdir(os.environ.get("LAMBDA_TASK_ROOT") or ".")),
    }
"""

CODE = zip_bytes({"handler.py": INTROSPECT_PY})


def invoke(c, name, payload) -> tuple[dict, object]:
    resp = c.lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    return resp, json.loads(resp["Payload"].read())


def test_create_function_response(env):
    c = env.c
    name = unique("fn")
    resp = c.lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Code={"ZipFile": CODE},
        Environment={"Variables": {"GREETING": "hi"}},
    )  # fmt: skip
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert resp["FunctionName"] == name
    assert resp["FunctionArn"] == function_arn(name)
    assert resp["Runtime"] == "python3.12"
    assert resp["Role"] == ROLE
    assert resp["Handler"] == "handler.handler"
    assert resp["Timeout"] == 3 and resp["MemorySize"] == 128  # defaults
    assert resp["CodeSize"] == len(CODE)
    assert resp["CodeSha256"] == code_sha256(CODE)
    assert resp["Version"] == "$LATEST"
    assert resp["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert resp["State"] == "Pending"
    assert resp["StateReason"] == "The function is being created."
    assert resp["StateReasonCode"] == "Creating"
    assert resp["PackageType"] == "Zip"
    assert resp["Architectures"] == ["x86_64"]
    assert resp["TracingConfig"] == {"Mode": "PassThrough"}
    assert resp["EphemeralStorage"] == {"Size": 512}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", resp["LastModified"]), resp["LastModified"]
    assert UUID_RE.match(resp["RevisionId"])

    cfg = env.wait_function_active(name)
    got = c.lam.get_function(FunctionName=name)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert cfg["LastUpdateStatus"] == "Successful"
    assert cfg["FunctionArn"] == function_arn(name) and cfg["CodeSha256"] == code_sha256(CODE)
    assert got["Code"]["RepositoryType"] == "S3" and got["Code"]["Location"]

    listed = c.lam.list_functions()["Functions"]
    mine = [f for f in listed if f["FunctionName"] == name]
    assert len(mine) == 1
    assert mine[0]["FunctionArn"] == function_arn(name) and mine[0]["Runtime"] == "python3.12"


@pytest.mark.parametrize("runtime", ["python3.9", "python3.10", "python3.11", "python3.12", "python3.13"])
def test_invoke_python_runtimes(env, runtime):
    c = env.c
    name = env.create_function(CODE, runtime=runtime, env={"GREETING": "hello"}, MemorySize=256, Timeout=7)
    resp, out = invoke(c, name, {"n": 1, "s": "é"})
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert resp["ExecutedVersion"] == "$LATEST"
    assert out["event"] == {"n": 1, "s": "é"}
    # The invocation's request id is the one the Invoke response carries.
    assert out["requestId"] == resp["ResponseMetadata"]["RequestId"]
    assert out["functionName"] == name
    assert out["functionVersion"] == "$LATEST"
    assert out["invokedFunctionArn"] == function_arn(name)
    assert out["memoryLimitInMB"] == "256"
    assert 0 < out["remainingTimeInMillis"] <= 7000
    e = out["env"]
    assert e["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert e["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert e["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert e["AWS_REGION"] == e["AWS_DEFAULT_REGION"] == "us-east-1"
    assert e["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    assert e["_HANDLER"] == "handler.handler"
    assert e["AWS_LAMBDA_RUNTIME_API"]
    assert e["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert e["GREETING"] == "hello"
    assert "handler.py" in out["cwdFiles"]  # the code lives in LAMBDA_TASK_ROOT

    # A warm second invoke gets a new request id.
    resp2, out2 = invoke(c, name, [1, 2, 3])
    assert out2["event"] == [1, 2, 3]
    assert out2["requestId"] != out["requestId"]


def test_invoke_handler_error_is_unhandled(env):
    c = env.c
    name = env.create_function(CODE)
    with raw_responses(c.lam) as raw:
        resp, out = invoke(c, name, {"raise": "boom"})
    assert resp["StatusCode"] == 200  # function errors are still HTTP 200
    assert resp["FunctionError"] == "Unhandled"
    assert raw[-1][1].get("x-amz-function-error") == "Unhandled"
    assert out["errorType"] == "ValueError"
    assert out["errorMessage"] == "boom"
    assert isinstance(out["stackTrace"], list) and out["stackTrace"]
    assert out["requestId"] == resp["ResponseMetadata"]["RequestId"]
    # The function keeps working afterwards.
    resp, out = invoke(c, name, {"ok": True})
    assert "FunctionError" not in resp and out["event"] == {"ok": True}


def test_update_function_configuration(env):
    c = env.c
    name = env.create_function(CODE, env={"GREETING": "before"})
    resp = c.lam.update_function_configuration(
        FunctionName=name, Timeout=9, MemorySize=512, Environment={"Variables": {"GREETING": "after"}}
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["FunctionName"] == name
    assert resp["Timeout"] == 9 and resp["MemorySize"] == 512
    assert resp["Environment"] == {"Variables": {"GREETING": "after"}}

    def updated():
        cfg = c.lam.get_function(FunctionName=name)["Configuration"]
        return cfg if cfg.get("LastUpdateStatus") == "Successful" and cfg["State"] == "Active" else None

    cfg = wait_for(updated, "the update to finish")
    assert cfg["Timeout"] == 9 and cfg["MemorySize"] == 512
    assert cfg["Environment"] == {"Variables": {"GREETING": "after"}}
    _, out = invoke(c, name, {})
    assert out["env"]["GREETING"] == "after"
    assert out["memoryLimitInMB"] == "512"
    assert 7000 < out["remainingTimeInMillis"] <= 9000


def test_delete_function(env):
    c = env.c
    name = env.create_function(CODE)
    invoke(c, name, {})  # a warm process exists
    resp = c.lam.delete_function(FunctionName=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    with pytest.raises(ClientError) as e:
        c.lam.get_function(FunctionName=name)
    assert error_of(e.value) == ("ResourceNotFoundException", 404, f"Function not found: {function_arn(name)}")
    assert name not in [f["FunctionName"] for f in c.lam.list_functions()["Functions"]]


@pytest.mark.parametrize("op", ["GetFunction", "Invoke", "UpdateFunctionConfiguration", "DeleteFunction"])
def test_unknown_function_is_404(env, op):
    c = env.c
    name = unique("no-such-fn")
    calls = {
        "GetFunction": lambda: c.lam.get_function(FunctionName=name),
        "Invoke": lambda: c.lam.invoke(FunctionName=name, Payload=b"{}"),
        "UpdateFunctionConfiguration": lambda: c.lam.update_function_configuration(FunctionName=name, Timeout=5),
        "DeleteFunction": lambda: c.lam.delete_function(FunctionName=name),
    }
    with raw_responses(c.lam) as raw:
        with pytest.raises(ClientError) as e:
            calls[op]()
    assert error_of(e.value) == ("ResourceNotFoundException", 404, f"Function not found: {function_arn(name)}")
    status, headers, body = raw[-1]
    assert headers.get("x-amzn-errortype", "").split(":")[0] == "ResourceNotFoundException"
    assert json.loads(body) == {"Type": "User", "Message": f"Function not found: {function_arn(name)}"}


def test_create_function_twice_is_conflict(env):
    c = env.c
    name = env.create_function(CODE)
    with pytest.raises(ClientError) as e:
        c.lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Code={"ZipFile": CODE}
        )
    code, status, message = error_of(e.value)
    assert (code, status) == ("ResourceConflictException", 409)
    assert message == f"Function already exist: {name}"


def test_bad_zip_is_invalid_parameter(env):
    c = env.c
    with pytest.raises(ClientError) as e:
        c.lam.create_function(
            FunctionName=unique("fn"), Runtime="python3.12", Role=ROLE, Handler="handler.handler",
            Code={"ZipFile": b"this is not a zip file"},
        )  # fmt: skip
    assert error_of(e.value) == (
        "InvalidParameterValueException",
        400,
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    )

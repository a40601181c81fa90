"""The `context` object of the shipped Python runtime, field by field, as AWS's Python runtime
(awslambdaric) builds it: identity and client context objects, ARNs as invoked, the deadline."""

from __future__ import annotations

import base64
import json
import re

from harness import UUID_RE, function_arn, zip_bytes

CONTEXT_PY = """\
import time


def fields(obj, names):
    return None if obj is None else {n: getattr(obj, n) for n in names}


def handler(event, context):
    cc = context.client_context
    before = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    after = context.get_remaining_time_in_millis()
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": [before, after],
        "identity": fields(context.identity, ["cognito_identity_id", "cognito_identity_pool_id"]),
        "client_context": None if cc is None else {
            "client": fields(cc.client, ["installation_id", "app_title", "app_version_name",
                                         "app_version_code", "app_package_name"]),
            "custom": cc.custom,
            "env": cc.env,
        },
        "repr": repr(context),
    }
"""


def invoke(c, name, **kw):
    resp = c.lam.invoke(FunctionName=name, Payload=b"{}", **kw)
    return resp, json.loads(resp["Payload"].read())


def test_python_context_fields(env):
    c = env.c
    name = env.create_function(zip_bytes({"handler.py": CONTEXT_PY}), MemorySize=512, Timeout=9)
    resp, out = invoke(c, name)
    assert "FunctionError" not in resp, out
    assert out["aws_request_id"] == resp["ResponseMetadata"]["RequestId"] and UUID_RE.match(out["aws_request_id"])
    assert out["function_name"] == name
    assert out["function_version"] == "$LATEST"
    assert out["invoked_function_arn"] == function_arn(name)
    assert out["memory_limit_in_mb"] == "512"  # a string on AWS as well
    assert out["log_group_name"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", out["log_stream_name"])
    before, after = out["remaining"]
    assert 8000 < before <= 9000 and 40 <= before - after < 1000, out["remaining"]
    # No Cognito identity: an identity object whose fields are None; no client context: None.
    assert out["identity"] == {"cognito_identity_id": None, "cognito_identity_pool_id": None}
    assert out["client_context"] is None
    assert out["repr"].startswith(f"LambdaContext([aws_request_id={out['aws_request_id']},")


def test_python_client_context_and_qualified_arn(env):
    c = env.c
    name = env.create_function(zip_bytes({"handler.py": CONTEXT_PY}))
    cc = {
        "client": {"installation_id": "inst-7", "app_title": "Demo", "app_version_name": "1.2",
                   "app_version_code": "12", "app_package_name": "com.example.demo"},
        "custom": {"tenant": "acme", "n": 3},
        "env": {"platform": "Android", "locale": "en_US"},
    }  # fmt: skip
    encoded = base64.b64encode(json.dumps(cc).encode()).decode()
    resp, out = invoke(c, name, ClientContext=encoded, Qualifier="$LATEST")
    assert "FunctionError" not in resp, out
    assert out["client_context"] == cc
    assert out["invoked_function_arn"] == function_arn(name) + ":$LATEST"

    # A client context with only some members: the others are None, as on AWS.
    encoded = base64.b64encode(json.dumps({"custom": {"only": True}}).encode()).decode()
    _, out = invoke(c, name, ClientContext=encoded)
    assert out["client_context"] == {"client": None, "custom": {"only": True}, "env": None}

"""Reserved concurrency, the account concurrency limit and throttling (429 with Reason and
Retry-After), asynchronous (Event) invocations with Lambda's retry schedule driven by the server
clock, DryRun, payload limits and idle-environment reaping, against the real binary."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from harness import REGION, Clients, Env, Tributary, client, error_of, function_arn, raw_responses, unique, wait_for, zip_bytes

# Appends one JSON line per attempt to $RECORDS_FILE, sleeps `sleep` seconds, and fails when
# the event asks it to.
HANDLER = """\
import json
import os
import time


def handler(event, context):
    with open(os.environ["RECORDS_FILE"], "a") as f:
        f.write(json.dumps({"requestId": context.aws_request_id, "event": event}) + "\\n")
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise RuntimeError("failing on purpose")
    return {"pid": os.getpid()}
"""
CODE = zip_bytes({"handler.py": HANDLER})
RATE_EXCEEDED = "Rate Exceeded."


class Records:
    def __init__(self, path: Path):
        self.path = path

    def all(self) -> list[dict]:
        try:
            lines = self.path.read_text().splitlines(keepends=True)
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.endswith("\n")]

    def wait(self, n: int) -> list[dict]:
        return wait_for(lambda: (lambda r: r if len(r) >= n else None)(self.all()), f"{n} invocations")

    def stays(self, n: int, seconds: float = 0.6) -> None:
        """Asserts that no further attempt arrives for a while."""
        time.sleep(seconds)
        assert len(self.all()) == n, self.all()


def make_function(env: Env, **kw) -> tuple[str, Records]:
    path = env.tmp / f"{unique('records')}.jsonl"
    name = env.create_function(CODE, env={"RECORDS_FILE": str(path)}, **kw)
    return name, Records(path)


def invoke(c, name, event=None, **kw):
    resp = c.lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kw)
    return resp, resp["Payload"].read()


def advance(env: Env, seconds: float) -> None:
    req = urllib.request.Request(
        f"{env.server.endpoint}/_tributary/clock/advance",
        data=json.dumps({"seconds": seconds}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def raw_rest(env: Env, method: str, path: str, body: dict) -> tuple[int, dict, bytes]:
    """A signed REST-JSON request with a body boto3 would refuse to send."""
    data = json.dumps(body).encode()
    signed = AWSRequest(method=method, url=env.server.endpoint + path, data=data,
                        headers={"Content-Type": "application/json"})  # fmt: skip
    SigV4Auth(Credentials("test", "test"), "lambda", REGION).add_auth(signed)
    req = urllib.request.Request(
        env.server.endpoint + path, data=data, method=method, headers=dict(signed.headers.items()),
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def throttled(call) -> ClientError:
    with pytest.raises(ClientError) as e:
        call()
    code, status, message = error_of(e.value)
    assert (code, status, message) == ("TooManyRequestsException", 429, RATE_EXCEEDED)
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"].get("retry-after") == "1"
    return e.value


def in_background(call) -> threading.Thread:
    t = threading.Thread(target=call, daemon=True)
    t.start()
    return t


def test_reserved_concurrency_put_get_delete(env):
    c = env.c
    name, _ = make_function(env)
    arn = function_arn(name)
    assert "ReservedConcurrentExecutions" not in c.lam.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in c.lam.get_function(FunctionName=name)
    before = c.lam.get_account_settings()["AccountLimit"]
    assert before["ConcurrentExecutions"] == 1000

    put = c.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert c.lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert c.lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    after = c.lam.get_account_settings()["AccountLimit"]
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 5

    # The account keeps 100 unreserved: 1000 - 900 is the most one function can take.
    unreserved = after["UnreservedConcurrentExecutions"] + 5
    with pytest.raises(ClientError) as e:
        c.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=unreserved - 99)
    assert error_of(e.value) == (
        "InvalidParameterValueException",
        400,
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100].",
    )
    assert c.lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    assert (
        c.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=unreserved - 100)[
            "ReservedConcurrentExecutions"
        ]
        == unreserved - 100
    )

    with pytest.raises(ClientError) as e:
        c.lam.put_function_concurrency(FunctionName=f"{arn}:1", ReservedConcurrentExecutions=1)
    assert error_of(e.value) == (
        "InvalidParameterValueException",
        400,
        "This operation is permitted on Lambda functions only. Aliases and versions do not support this "
        "operation. Please specify either a function name or an unqualified function ARN.",
    )
    missing = unique("nofn")
    with pytest.raises(ClientError) as e:
        c.lam.put_function_concurrency(FunctionName=missing, ReservedConcurrentExecutions=1)
    assert error_of(e.value) == ("ResourceNotFoundException", 404, f"Function not found: {function_arn(missing)}:$LATEST")
    # botocore refuses a negative value client-side; the server must too.
    status, headers, body = raw_rest(
        env, "PUT", f"/2017-10-31/functions/{name}/concurrency", {"ReservedConcurrentExecutions": -1}
    )
    assert (status, headers.get("x-amzn-errortype")) == (400, "ValidationException")
    assert json.loads(body)["message"] == (
        "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy "
        "constraint: Member must have value greater than or equal to 0"
    )

    with raw_responses(c.lam) as raw:
        c.lam.delete_function_concurrency(FunctionName=name)
    assert raw[-1][0] == 204
    assert "ReservedConcurrentExecutions" not in c.lam.get_function_concurrency(FunctionName=name)
    assert c.lam.get_account_settings()["AccountLimit"] == before


def test_reserved_concurrency_one_throttles_the_second_invocation(env):
    c = env.c
    name, records = make_function(env, Timeout=10)
    c.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    results: list = []
    slow = in_background(lambda: results.append(invoke(c, name, {"sleep": 2})))
    records.wait(1)  # the slow invocation is running

    e = throttled(lambda: c.lam.invoke(FunctionName=name, Payload=b"{}"))
    assert e.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert e.response["Error"]["Code"] == "TooManyRequestsException"

    slow.join(timeout=15)
    assert results and results[0][0]["StatusCode"] == 200
    # Once it is done, the slot is free again.
    resp, _ = invoke(c, name)
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    assert len(records.all()) == 2


def test_reserved_concurrency_zero_throttles_everything(env):
    c = env.c
    name, records = make_function(env)
    c.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    for _ in range(2):
        e = throttled(lambda: c.lam.invoke(FunctionName=name, Payload=b"{}"))
        assert e.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    # An asynchronous invocation is accepted and waits for capacity.
    resp, body = invoke(c, name, {"queued": True}, InvocationType="Event")
    assert resp["StatusCode"] == 202 and body == b""
    records.stays(0)
    c.lam.delete_function_concurrency(FunctionName=name)
    advance(env, 600)  # past any backoff the throttled event is waiting out
    assert [r["event"] for r in records.wait(1)] == [{"queued": True}]
    assert invoke(c, name)[0]["StatusCode"] == 200


def test_event_invocations_retry_twice_on_the_server_clock(env):
    c = env.c
    name, records = make_function(env)
    resp, body = invoke(c, name, {"fail": True, "n": 1}, InvocationType="Event")
    assert resp["StatusCode"] == 202 and body == b""
    assert "ExecutedVersion" not in resp
    records.wait(1)
    records.stays(1)
    # (The margins leave room for the real seconds that pass meanwhile.)
    advance(env, 55)
    records.stays(1)
    advance(env, 6)  # one minute after the first attempt
    records.wait(2)
    advance(env, 112)
    records.stays(2)
    advance(env, 9)  # two minutes after the second attempt
    records.wait(3)
    advance(env, 900)
    records.stays(3)
    assert all(r["event"] == {"fail": True, "n": 1} for r in records.all())

    # A successful event runs exactly once.
    ok_name, ok_records = make_function(env)
    invoke(c, ok_name, {"ok": 1}, InvocationType="Event")
    ok_records.wait(1)
    advance(env, 300)
    ok_records.stays(1)


def test_a_discarded_event_goes_to_the_dead_letter_queue(env):
    c = env.c
    sqs = client("sqs", env.server.endpoint)
    url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name, records = make_function(env, DeadLetterConfig={"TargetArn": dlq})
    assert c.lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": dlq}
    resp, _ = invoke(c, name, {"fail": True, "n": 2}, InvocationType="Event")
    records.wait(1)
    advance(env, 61)
    records.wait(2)
    advance(env, 121)
    records.wait(3)
    # The third failure spends the retries: the event goes to the queue, with Lambda's attributes.
    msgs = wait_for(lambda: sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                                                WaitTimeSeconds=1).get("Messages"), "the dead-lettered event")
    assert json.loads(msgs[0]["Body"]) == {"fail": True, "n": 2}
    attrs = msgs[0]["MessageAttributes"]
    assert attrs["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attrs["RequestID"]["StringValue"] == records.all()[-1]["requestId"]
    assert attrs["ErrorMessage"]["DataType"] == "String"
    # Removing it; a bad target, and a layer that does not exist, are refused.
    c.lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})
    wait_for(lambda: c.lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"] == "Successful" or None,
             "the update")
    assert "DeadLetterConfig" not in c.lam.get_function_configuration(FunctionName=name)
    with pytest.raises(ClientError) as e:
        c.lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": "arn:aws:s3:::b"})
    assert error_of(e.value)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        c.lam.update_function_configuration(
            FunctionName=name, Layers=[f"arn:aws:lambda:{REGION}:123456789012:layer:tools:1"])
    assert error_of(e.value) == ("InvalidParameterValueException", 400,
                                 f"Layer version arn:aws:lambda:{REGION}:123456789012:layer:tools:1 does not exist.")


def test_a_dead_letter_topic_gets_the_event_with_its_attributes(env):
    c = env.c
    sqs, sns = client("sqs", env.server.endpoint), client("sns", env.server.endpoint)
    topic = sns.create_topic(Name=unique("dlt"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("dlt-q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    name, records = make_function(env, DeadLetterConfig={"TargetArn": topic})
    # No retries: the first failure spends them.
    c.lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    invoke(c, name, {"fail": True, "n": 4}, InvocationType="Event")
    records.wait(1)
    msgs = wait_for(lambda: sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                                                WaitTimeSeconds=1).get("Messages"), "the dead-lettered event")
    assert json.loads(msgs[0]["Body"]) == {"fail": True, "n": 4}
    attrs = msgs[0]["MessageAttributes"]
    assert attrs["RequestID"]["StringValue"] == records.all()[0]["requestId"]
    assert attrs["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}


def test_event_invoke_config_retries_and_destinations(env):
    c = env.c
    sqs = client("sqs", env.server.endpoint)

    def queue():
        url = sqs.create_queue(QueueName=unique("dest"))["QueueUrl"]
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    (ok_url, ok_arn), (fail_url, fail_arn) = queue(), queue()
    name, records = make_function(env)
    with pytest.raises(ClientError) as e:
        c.lam.get_function_event_invoke_config(FunctionName=name)
    assert error_of(e.value) == ("ResourceNotFoundException", 404,
                                 f"The function {function_arn(name)}:$LATEST doesn't have an EventInvokeConfig")
    put = c.lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": ok_arn}, "OnFailure": {"Destination": fail_arn}})
    assert put["FunctionArn"] == f"{function_arn(name)}:$LATEST"
    assert put["MaximumRetryAttempts"] == 0
    assert put["DestinationConfig"] == {"OnSuccess": {"Destination": ok_arn}, "OnFailure": {"Destination": fail_arn}}
    assert c.lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 0

    def record(url):
        msgs = wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), "a record")
        return json.loads(msgs[0]["Body"])

    # No retries: one attempt, then the failure record.
    invoke(c, name, {"fail": True, "n": 3}, InvocationType="Event")
    records.wait(1)
    failed = record(fail_url)
    assert failed["version"] == "1.0"
    assert failed["requestContext"]["condition"] == "RetriesExhausted"
    assert failed["requestContext"]["approximateInvokeCount"] == 1
    assert failed["requestContext"]["functionArn"] == f"{function_arn(name)}:$LATEST"
    assert failed["requestContext"]["requestId"] == records.all()[0]["requestId"]
    assert failed["requestPayload"] == {"fail": True, "n": 3}
    assert failed["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert "errorMessage" in failed["responsePayload"]
    advance(env, 200)
    records.stays(1)
    # A success goes to OnSuccess, with the function's result.
    invoke(c, name, {"ok": 1}, InvocationType="Event")
    succeeded = record(ok_url)
    assert succeeded["requestContext"]["condition"] == "Success"
    assert succeeded["requestPayload"] == {"ok": 1}
    assert "functionError" not in succeeded["responseContext"]

    # Update changes only what it names; list, delete; bad values are refused.
    upd = c.lam.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=120)
    assert (upd["MaximumRetryAttempts"], upd["MaximumEventAgeInSeconds"]) == (0, 120)
    listed = c.lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [x["FunctionArn"] for x in listed] == [f"{function_arn(name)}:$LATEST"]
    with pytest.raises(ClientError) as e:
        c.lam.put_function_event_invoke_config(FunctionName=name, Qualifier="nope", MaximumRetryAttempts=1)
    assert error_of(e.value)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        c.lam.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnFailure": {"Destination": "arn:aws:events:us-east-1:000000000000:event-bus/default"}})
    assert error_of(e.value)[0] == "InvalidParameterValueException"
    c.lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(ClientError):
        c.lam.get_function_event_invoke_config(FunctionName=name)


def test_dry_run_and_payload_limits(env):
    c = env.c
    name, records = make_function(env)
    resp, body = invoke(c, name, InvocationType="DryRun")
    assert resp["StatusCode"] == 204 and body == b""
    records.stays(0, 0.3)

    too_big = b'"' + b"a" * 6_291_456 + b'"'
    with pytest.raises(ClientError) as e:
        c.lam.invoke(FunctionName=name, Payload=too_big)
    assert error_of(e.value) == (
        "RequestTooLargeException",
        413,
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    )
    async_too_big = b'"' + b"a" * 1_048_576 + b'"'
    with pytest.raises(ClientError) as e:
        c.lam.invoke(FunctionName=name, Payload=async_too_big, InvocationType="Event")
    assert error_of(e.value) == (
        "RequestTooLargeException",
        413,
        "Request must be smaller than 1048576 bytes for the InvokeFunction operation",
    )
    assert c.lam.invoke(FunctionName=name, Payload=b'{"s": "' + b"a" * 900_000 + b'"}', InvocationType="Event")[
        "StatusCode"
    ] == 202
    records.wait(1)

    big_context = base64.b64encode(json.dumps({"custom": {"k": "v" * 2700}}).encode()).decode()
    assert len(big_context) > 3583
    with pytest.raises(ClientError) as e:
        c.lam.invoke(FunctionName=name, Payload=b"{}", ClientContext=big_context)
    assert error_of(e.value)[:2] == ("InvalidRequestContentException", 400)
    ok_context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    assert c.lam.invoke(FunctionName=name, Payload=b"{}", ClientContext=ok_context)["StatusCode"] == 200


def test_idle_environments_are_reaped_on_the_server_clock(env):
    c = env.c
    name, _ = make_function(env)
    pid = json.loads(invoke(c, name)[1])["pid"]
    advance(env, 5 * 60)
    assert json.loads(invoke(c, name)[1])["pid"] == pid  # still warm after 5 minutes idle
    advance(env, 11 * 60)
    assert json.loads(invoke(c, name)[1])["pid"] != pid  # reaped after the 10 minute default


def test_account_concurrency_limit(tmp_path):
    """A server with --concurrency-limit 1 (via TRIBUTARY_CONCURRENCY_LIMIT): a second
    concurrent invocation of any function is throttled, and nothing can be reserved."""
    server = Tributary(data_dir=tmp_path / "data", log_path=tmp_path / "tributary.log")
    os.environ["TRIBUTARY_CONCURRENCY_LIMIT"] = "1"
    try:
        server.start()
    finally:
        del os.environ["TRIBUTARY_CONCURRENCY_LIMIT"]
    try:
        env = Env(server, Clients(server.endpoint), tmp_path)
        c = env.c
        limits = c.lam.get_account_settings()["AccountLimit"]
        assert limits["ConcurrentExecutions"] == 1 and limits["UnreservedConcurrentExecutions"] == 1
        slow_name, slow_records = make_function(env, Timeout=10)
        other, _ = make_function(env)
        with pytest.raises(ClientError) as e:
            c.lam.put_function_concurrency(FunctionName=other, ReservedConcurrentExecutions=1)
        assert error_of(e.value)[2].endswith("below its minimum value of [1].")

        results: list = []
        slow = in_background(lambda: results.append(invoke(c, slow_name, {"sleep": 2})))
        slow_records.wait(1)
        e = throttled(lambda: c.lam.invoke(FunctionName=other, Payload=b"{}"))
        assert e.response["Reason"] == "ConcurrentInvocationLimitExceeded"
        slow.join(timeout=15)
        assert results and results[0][0]["StatusCode"] == 200
        assert invoke(c, other)[0]["StatusCode"] == 200
    finally:
        server.stop_cleanly()

"""The event source mapping failure model end to end (spec §3.2, §3.3, §4): retries, bisect,
partial batch responses, maximum record age under the server clock, throttles that do not
consume retries, on-failure destinations, and LastProcessingResult."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest

from harness import ACCOUNT, REGION, client, read_jsonl, unique, wait_for, zip_bytes

# Behaviour per record, from the item's `mode` attribute:
#   poison   -> the whole invocation raises
#   partial  -> reported in batchItemFailures (as long as PARTIAL_FLAG exists, if set)
#   badid    -> batchItemFailures with an itemIdentifier that is not a string
FAILING_PY = """\
import json
import os


def handler(event, context):
    recs = event.get("Records", [])
    modes = [r["dynamodb"].get("NewImage", {}).get("mode", {}).get("S", "") for r in recs]
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in recs]
    with open(os.environ["RECORDS_FILE"], "a") as f:
        f.write(json.dumps({"keys": keys, "modes": modes, "requestId": context.aws_request_id}) + "\\n")
    if "poison" in modes:
        raise ValueError("poison record in batch")
    flag = os.environ.get("PARTIAL_FLAG")
    if "partial" in modes and (not flag or os.path.exists(flag)):
        return {"batchItemFailures": [
            {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r, m in zip(recs, modes) if m == "partial"
        ]}
    if "badid" in modes:
        return {"batchItemFailures": [{"itemIdentifier": 123}]}
    return {"batchItemFailures": []}
"""


def failing_fn(env, **env_vars):
    path = env.tmp / f"{unique('calls')}.jsonl"
    name = env.create_function(zip_bytes({"handler.py": FAILING_PY}), env={"RECORDS_FILE": str(path), **env_vars})
    return name, path


def calls(path) -> list[dict]:
    return read_jsonl(path)


def drain(env, uuid: str, timeout: float = 30) -> dict:
    return env.drain(uuid, timeout)


def put_all(env, table: str, items: list[tuple[str, str]]) -> None:
    # One BatchWriteItem: the records arrive together and form one batch.
    env.c.ddb.batch_write_item(
        RequestItems={
            table: [{"PutRequest": {"Item": {"pk": {"S": k}, "mode": {"S": m}}}} for k, m in items]
        }
    )


def test_bisect_isolates_a_poison_record_and_the_rest_arrive_in_order(env):
    table = env.create_table()
    name, path = failing_fn(env)
    items = [(f"r{i}", "poison" if i == 6 else "ok") for i in range(10)]
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=10, MaximumBatchingWindowInSeconds=1,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=0, Enabled=False,
    )  # fmt: skip
    put_all(env, table["TableName"], items)
    env.c.lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=True)
    drain(env, esm["UUID"])
    log = calls(path)
    assert log[0]["keys"] == [k for k, _ in items], "first the whole batch"
    good = [k for c in log if "poison" not in c["modes"] for k in c["keys"]]
    assert good == [k for k, m in items if m == "ok"], "the nine others, each once, in order"
    assert ["r6"] in [c["keys"] for c in log], "the poison record was isolated"
    assert sum(1 for c in log if c["keys"] == ["r6"]) == 1, "MaximumRetryAttempts 0: no retry once isolated"
    m = env.c.lam.get_event_source_mapping(UUID=esm["UUID"])
    assert m["LastProcessingResult"] in ("OK", "PROBLEM: Function call failed")


def test_partial_batch_response_checkpoints_before_the_lowest_failure(env):
    table = env.create_table()
    flag = env.tmp / "partial-fails"
    flag.write_text("x")
    name, path = failing_fn(env, PARTIAL_FLAG=str(flag))
    items = [("p0", "ok"), ("p1", "ok"), ("p2", "partial"), ("p3", "ok"), ("p4", "partial")]
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=10, MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"], Enabled=False,
    )  # fmt: skip
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    put_all(env, table["TableName"], items)
    env.c.lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=True)
    wait_for(lambda: len(calls(path)) >= 2, "a retry after the partial failure")
    flag.unlink()
    drain(env, esm["UUID"])
    log = calls(path)
    assert log[0]["keys"] == ["p0", "p1", "p2", "p3", "p4"]
    # Every retry starts at the lowest failed record; the records after it come again.
    for c in log[1:]:
        assert c["keys"] == ["p2", "p3", "p4"], log
    assert len(log) >= 2


def test_partial_response_with_a_bad_identifier_fails_the_whole_batch(env):
    table = env.create_table()
    name, path = failing_fn(env)
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=10, MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=2, Enabled=False,
    )  # fmt: skip
    put_all(env, table["TableName"], [("b0", "ok"), ("b1", "badid")])
    env.c.lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=True)
    drain(env, esm["UUID"])
    log = calls(path)
    assert [c["keys"] for c in log] == [["b0", "b1"]] * 3, "1 attempt + 2 retries of the whole batch"


def test_record_age_discards_records_under_the_server_clock(env):
    table = env.create_table()
    name, path = failing_fn(env)
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=10, MaximumRecordAgeInSeconds=60, MaximumRetryAttempts=-1,
    )  # fmt: skip
    assert esm["MaximumRecordAgeInSeconds"] == 60
    put_all(env, table["TableName"], [("old", "poison")])
    wait_for(lambda: len(calls(path)) >= 2, "retries of the failing record")
    env.advance_clock(61)
    drain(env, esm["UUID"])
    n = len(calls(path))
    time.sleep(0.3)
    assert len(calls(path)) == n, "no more retries once the record passed MaximumRecordAge"
    put_all(env, table["TableName"], [("fresh", "ok")])
    drain(env, esm["UUID"])
    assert calls(path)[-1]["keys"] == ["fresh"]


def test_throttles_are_retried_without_consuming_retry_attempts(env):
    table = env.create_table()
    name, path = failing_fn(env)
    env.c.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    esm = env.create_mapping(name, table["LatestStreamArn"], BatchSize=1, MaximumRetryAttempts=0)
    put_all(env, table["TableName"], [("held", "ok")])

    def shard():
        req = urllib.request.Request(f"{env.server.endpoint}/_tributary/event-source-mappings/{esm['UUID']}/shards")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    wait_for(lambda: shard()["Shards"][0]["RetryCount"] >= 3, "throttled retries")
    view = shard()
    assert view["LastProcessingResult"].startswith("PROBLEM"), view
    assert calls(path) == [], "a throttled invocation never reaches the function"
    env.c.lam.delete_function_concurrency(FunctionName=name)
    drain(env, esm["UUID"])
    assert [c["keys"] for c in calls(path)] == [["held"]], "delivered once the throttle is lifted, not discarded"
    assert env.c.lam.get_event_source_mapping(UUID=esm["UUID"])["LastProcessingResult"] == "OK"


def test_retries_exhausted_moves_the_shard_on(env):
    table = env.create_table()
    name, path = failing_fn(env)
    esm = env.create_mapping(name, table["LatestStreamArn"], BatchSize=1, MaximumRetryAttempts=1)
    put_all(env, table["TableName"], [("bad", "poison")])
    put_all(env, table["TableName"], [("good", "ok")])
    drain(env, esm["UUID"])
    assert [c["keys"] for c in calls(path)] == [["bad"], ["bad"], ["good"]]
    m = env.c.lam.get_event_source_mapping(UUID=esm["UUID"])
    assert m["LastProcessingResult"] == "OK"


# on-failure destinations ---------------------------------------------------------------------------


ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def queue(env) -> tuple[object, str, str]:
    sqs = client("sqs", env.server.endpoint)
    url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def receive_one(sqs, url: str) -> dict:
    msgs = wait_for(
        lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages"),
        "a message on the destination queue",
    )
    assert len(msgs) == 1, msgs
    return json.loads(msgs[0]["Body"])


def check_record(rec: dict, fn: str, stream_arn: str, condition: str, invokes: int, function_error) -> None:
    assert list(rec) == ["requestContext", "responseContext", "version", "timestamp", "DDBStreamBatchInfo"] or (
        condition == "RecordAgeExceeded"
        and list(rec) == ["requestContext", "version", "timestamp", "DDBStreamBatchInfo"]
    ), list(rec)
    ctx = rec["requestContext"]
    assert ctx["functionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"
    assert ctx["condition"] == condition
    assert ctx["approximateInvokeCount"] == invokes
    assert re.match(r"^[0-9a-f-]{36}$", ctx["requestId"])
    if condition == "RetryAttemptsExhausted":
        assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": function_error}
    assert rec["version"] == "1.0"
    assert ISO_MILLIS.match(rec["timestamp"])
    info = rec["DDBStreamBatchInfo"]
    assert info["streamArn"] == stream_arn
    assert info["shardId"].startswith("shardId-")
    assert ISO_SECONDS.match(info["approximateArrivalOfFirstRecord"])
    assert ISO_SECONDS.match(info["approximateArrivalOfLastRecord"])


def test_sqs_destination_gets_the_invocation_record(env):
    table = env.create_table()
    name, path = failing_fn(env)
    sqs, url, arn = queue(env)
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=1, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )  # fmt: skip
    assert esm["DestinationConfig"] == {"OnFailure": {"Destination": arn}, "OnSuccess": {}} or esm[
        "DestinationConfig"
    ]["OnFailure"] == {"Destination": arn}
    put_all(env, table["TableName"], [("bad", "poison")])
    drain(env, esm["UUID"])
    rec = receive_one(sqs, url)
    check_record(rec, name, table["LatestStreamArn"], "RetryAttemptsExhausted", 2, "Unhandled")
    info = rec["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert "payload" not in rec


def test_partial_failure_record_has_null_function_error(env):
    table = env.create_table()
    name, _ = failing_fn(env)
    sqs, url, arn = queue(env)
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=10, MaximumBatchingWindowInSeconds=1, MaximumRetryAttempts=3,
        FunctionResponseTypes=["ReportBatchItemFailures"], DestinationConfig={"OnFailure": {"Destination": arn}},
        Enabled=False,
    )  # fmt: skip
    put_all(env, table["TableName"], [("x0", "ok"), ("x1", "partial"), ("x2", "ok")])
    env.c.lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=True)
    drain(env, esm["UUID"])
    rec = receive_one(sqs, url)
    check_record(rec, name, table["LatestStreamArn"], "RetryAttemptsExhausted", 4, None)
    assert rec["DDBStreamBatchInfo"]["batchSize"] == 2  # x1 and x2: from the lowest failure on


def test_record_age_exceeded_record_has_no_response_context(env):
    table = env.create_table()
    name, path = failing_fn(env)
    sqs, url, arn = queue(env)
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=1, MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )  # fmt: skip
    put_all(env, table["TableName"], [("aged", "poison")])
    wait_for(lambda: len(calls(path)) >= 1, "a first failed invocation")
    env.advance_clock(61)
    drain(env, esm["UUID"])
    rec = receive_one(sqs, url)
    check_record(rec, name, table["LatestStreamArn"], "RecordAgeExceeded", rec["requestContext"]["approximateInvokeCount"], None)
    assert rec["requestContext"]["approximateInvokeCount"] >= 1
    assert "responseContext" not in rec


def test_sns_destination_wraps_the_record_in_a_notification(env):
    table = env.create_table()
    name, _ = failing_fn(env)
    sqs, url, qarn = queue(env)
    sns = client("sns", env.server.endpoint)
    topic = sns.create_topic(Name=unique("failures"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=1, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": topic}},
    )  # fmt: skip
    put_all(env, table["TableName"], [("bad", "poison")])
    drain(env, esm["UUID"])
    envelope = receive_one(sqs, url)
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
    rec = json.loads(envelope["Message"])
    check_record(rec, name, table["LatestStreamArn"], "RetryAttemptsExhausted", 1, "Unhandled")


def test_s3_destination_object_carries_the_payload(env):
    table = env.create_table()
    name, _ = failing_fn(env)
    s3 = client("s3", env.server.endpoint)
    bucket = unique("failures")
    s3.create_bucket(Bucket=bucket)
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=1, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}},
    )  # fmt: skip
    put_all(env, table["TableName"], [("bad", "poison")])
    drain(env, esm["UUID"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert len(keys) == 1, keys
    shard = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())["DDBStreamBatchInfo"]["shardId"]
    assert re.match(
        rf"^aws/lambda/{esm['UUID']}/{shard}/\d{{4}}/\d\d/\d\d/\d{{4}}-\d\d-\d\dT\d\d\.\d\d\.\d\d-[0-9a-f-]{{36}}$", keys[0]
    ), keys[0]
    rec = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    payload = json.loads(rec["payload"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in payload["Records"]] == ["bad"]


def shards_view(env, uuid_: str) -> dict:
    url = f"{env.server.endpoint}/_tributary/event-source-mappings/{uuid_}/shards"
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def delivery_failures(env, uuid_: str) -> int:
    with urllib.request.urlopen(f"{env.server.endpoint}/_tributary/status", timeout=10) as r:
        status = json.loads(r.read())
    (m,) = [m for m in status["EventSourceMappings"] if m["UUID"] == uuid_]
    return m["Counters"]["DestinationDeliveryFailures"]


def test_a_refused_destination_holds_the_shard_until_its_record_arrives(env):
    """The checkpoint passes discarded records only once their failure record is delivered:
    while the queue is gone the shard waits (and says why), and the record arrives once the
    queue exists again, before any later record of the shard is delivered."""
    table = env.create_table()
    name, path = failing_fn(env)
    sqs, url, arn = queue(env)
    qname = url.rsplit("/", 1)[1]
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=1, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )  # fmt: skip
    sqs.delete_queue(QueueUrl=url)
    put_all(env, table["TableName"], [("bad", "poison")])
    put_all(env, table["TableName"], [("good", "ok")])

    # The destination refuses: the failure is counted, the shard says why and holds.
    wait_for(lambda: delivery_failures(env, esm["UUID"]) >= 2, "repeated delivery failures")
    (shard,) = shards_view(env, esm["UUID"])["Shards"]
    assert qname in (shard["LastError"] or ""), shard
    assert [c["keys"] for c in calls(path)] == [["bad"]], "the shard must not move past the failed batch"
    cp = shard["Checkpoint"]

    # A deleted queue's name is reusable after 60 s of the server clock.
    with pytest.raises(sqs.exceptions.ClientError) as e:
        sqs.create_queue(QueueName=qname)
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.QueueDeletedRecently"
    time.sleep(0.3)  # more refused tries happen meanwhile; none may move the checkpoint
    assert shards_view(env, esm["UUID"])["Shards"][0]["Checkpoint"] == cp
    env.advance_clock(61)
    url = sqs.create_queue(QueueName=qname)["QueueUrl"]

    drain(env, esm["UUID"])
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert len(msgs) == 1, msgs
    body = json.loads(msgs[0]["Body"])
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["DDBStreamBatchInfo"]["batchSize"] == 1
    assert [c["keys"] for c in calls(path)] == [["bad"], ["good"]]
    (shard,) = shards_view(env, esm["UUID"])["Shards"]
    assert shard["LastError"] is None, shard
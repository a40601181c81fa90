"""Event source mappings from DynamoDB streams: the control-plane API (shapes, defaults, states,
status codes, errors — spec §1) and delivery (batch size, starting positions, checkpoint after
success, retry of the same batch on function error, disable and re-enable — spec §3)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from harness import (
    ACCOUNT,
    REGION,
    UUID_RE,
    error_of,
    function_arn,
    raw_responses,
    unique,
    wait_for,
)

ESM_FIELDS = {
    "UUID", "BatchSize", "BisectBatchOnFunctionError", "DestinationConfig", "EventSourceArn",
    "EventSourceMappingArn", "FunctionArn", "FunctionResponseTypes", "LastModified", "LastProcessingResult",
    "MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds", "MaximumRetryAttempts",
    "ParallelizationFactor", "StartingPosition", "State", "StateTransitionReason", "TumblingWindowInSeconds",
}  # fmt: skip

NOT_FOUND = "The resource you requested does not exist."

# How long a negative check ("nothing is delivered") watches: delivery is woken by commits, so a
# broken pause would show within milliseconds.
QUIET = 1.0


def fields(resp: dict) -> dict:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def put_keys(env, table: str, keys) -> None:
    for k in keys:
        env.c.ddb.put_item(TableName=table, Item={"pk": {"S": k}})


def keys_of(records) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]


def test_create_get_list_shapes_and_defaults(env):
    c = env.c
    fn, _ = env.recorder()
    stream_arn = env.create_table()["LatestStreamArn"]
    with raw_responses(c.lam) as raw:
        resp = c.lam.create_event_source_mapping(
            FunctionName=fn, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON"
        )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    esm = fields(resp)
    assert set(esm) == ESM_FIELDS, set(esm) ^ ESM_FIELDS
    u = esm["UUID"]
    assert UUID_RE.match(u)
    assert esm["EventSourceMappingArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{u}"
    assert esm["EventSourceArn"] == stream_arn
    assert esm["FunctionArn"] == function_arn(fn)
    assert esm["StartingPosition"] == "TRIM_HORIZON"
    assert esm["State"] == "Creating"
    assert esm["StateTransitionReason"] == "User action"
    assert esm["LastProcessingResult"] == "No records processed"
    assert esm["BatchSize"] == 100
    assert esm["MaximumBatchingWindowInSeconds"] == 0
    assert esm["ParallelizationFactor"] == 1
    assert esm["MaximumRetryAttempts"] == -1
    assert esm["MaximumRecordAgeInSeconds"] == -1
    assert esm["BisectBatchOnFunctionError"] is False
    assert esm["DestinationConfig"] == {"OnFailure": {}}
    assert esm["FunctionResponseTypes"] == []
    assert esm["TumblingWindowInSeconds"] == 0
    wire = json.loads(raw[-1][2])
    assert isinstance(wire["LastModified"], (int, float)), "LastModified is epoch seconds, a JSON number"
    assert "Enabled" not in wire

    got = env.wait_mapping_state(u, "Enabled")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert set(fields(got)) == ESM_FIELDS
    for k in ESM_FIELDS - {"State", "LastModified", "LastProcessingResult"}:
        assert got[k] == esm[k], k

    by_fn = c.lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert [m["UUID"] for m in by_fn] == [u]
    assert set(by_fn[0]) == ESM_FIELDS
    by_arn = c.lam.list_event_source_mappings(FunctionName=function_arn(fn), EventSourceArn=stream_arn)
    assert [m["UUID"] for m in by_arn["EventSourceMappings"]] == [u]
    assert "NextMarker" not in by_arn
    assert u in [m["UUID"] for m in c.lam.list_event_source_mappings()["EventSourceMappings"]]
    # Filters naming resources that do not exist are not errors.
    assert c.lam.list_event_source_mappings(FunctionName=unique("nobody"))["EventSourceMappings"] == []


def test_update_and_delete(env):
    c = env.c
    fn, _ = env.recorder()
    stream_arn = env.create_table()["LatestStreamArn"]
    u = env.create_mapping(fn, stream_arn)["UUID"]

    resp = c.lam.update_event_source_mapping(UUID=u, BatchSize=10, MaximumRetryAttempts=5)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert resp["UUID"] == u and resp["State"] == "Updating"
    assert set(fields(resp)) == ESM_FIELDS

    def applied():
        m = c.lam.get_event_source_mapping(UUID=u)
        return m if m["State"] == "Enabled" and m["BatchSize"] == 10 and m["MaximumRetryAttempts"] == 5 else None

    m = wait_for(applied, "the update to apply")
    assert m["StartingPosition"] == "TRIM_HORIZON" and m["EventSourceArn"] == stream_arn  # unchanged

    resp = c.lam.delete_event_source_mapping(UUID=u)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert resp["UUID"] == u and resp["State"] == "Deleting"

    def gone():
        try:
            c.lam.get_event_source_mapping(UUID=u)
            return False
        except ClientError as e:
            return error_of(e) == ("ResourceNotFoundException", 404, NOT_FOUND)

    wait_for(gone, "the mapping to disappear")
    assert c.lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"] == []


@pytest.mark.parametrize("op", ["get", "update", "delete"])
def test_unknown_uuid_is_404(env, op):
    c = env.c
    u = str(uuid.uuid4())
    call = {
        "get": lambda: c.lam.get_event_source_mapping(UUID=u),
        "update": lambda: c.lam.update_event_source_mapping(UUID=u, BatchSize=5),
        "delete": lambda: c.lam.delete_event_source_mapping(UUID=u),
    }[op]
    with raw_responses(c.lam) as raw:
        with pytest.raises(ClientError) as e:
            call()
    assert error_of(e.value) == ("ResourceNotFoundException", 404, NOT_FOUND)
    status, headers, body = raw[-1]
    assert headers.get("x-amzn-errortype", "").split(":")[0] == "ResourceNotFoundException"
    assert json.loads(body) == {"Type": "User", "Message": NOT_FOUND}


def test_missing_starting_position_is_invalid_parameter(env):
    c = env.c
    fn, _ = env.recorder()
    stream_arn = env.create_table()["LatestStreamArn"]
    with raw_responses(c.lam) as raw:
        with pytest.raises(ClientError) as e:
            c.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream_arn)
    assert error_of(e.value) == (
        "InvalidParameterValueException",
        400,
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
        "Member must not be null.",
    )
    body = json.loads(raw[-1][2])
    assert body["Type"] == "User" and "message" in body  # lowercase `message` for this exception
    assert c.lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"] == []


def test_same_function_and_stream_twice_is_conflict(env):
    c = env.c
    fn, _ = env.recorder()
    stream_arn = env.create_table()["LatestStreamArn"]
    u = env.create_mapping(fn, stream_arn)["UUID"]
    with pytest.raises(ClientError) as e:
        c.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=stream_arn, StartingPosition="LATEST")
    code, status, message = error_of(e.value)
    assert (code, status) == ("ResourceConflictException", 409)
    assert message == (
        f'The event source arn (" {stream_arn} ") and function (" {fn} ") provided mapping already exists. '
        f"Please update or delete the existing mapping with UUID {u}"
    )


def test_trim_horizon_and_batch_size(env):
    fn, log = env.recorder()
    t = env.create_table()
    put_keys(env, t["TableName"], [f"k{i}" for i in range(5)])
    env.create_mapping(fn, t["LatestStreamArn"], "TRIM_HORIZON", BatchSize=2)
    records = log.wait_records(5)
    assert keys_of(records) == ["k0", "k1", "k2", "k3", "k4"]
    invocations = log.invocations()
    # Everything was in the stream before the mapping started: full batches of BatchSize.
    assert [len(i["event"]["Records"]) for i in invocations] == [2, 2, 1]
    for inv in invocations:
        assert set(inv["event"]) == {"Records"}
        for r in inv["event"]["Records"]:
            assert r["eventSourceARN"] == t["LatestStreamArn"]
            assert r["eventVersion"] == "1.1" and r["eventName"] == "INSERT"


def test_latest_delivers_only_new_records(env):
    fn, log = env.recorder()
    t = env.create_table()
    put_keys(env, t["TableName"], ["old1", "old2"])
    env.create_mapping(fn, t["LatestStreamArn"], "LATEST")
    put_keys(env, t["TableName"], ["new1", "new2"])
    # In-order delivery: had the old records been sent, they would come first.
    assert keys_of(log.wait_records(2)) == ["new1", "new2"]


def test_function_error_retries_the_same_batch_then_moves_on(env, tmp_path):
    c = env.c
    flag = tmp_path / "fail"
    flag.write_text("fail while this file exists")
    fn, log = env.recorder(fail_flag=flag)
    t = env.create_table()
    put_keys(env, t["TableName"], ["a", "b"])  # both in the stream before the first batch is read
    u = env.create_mapping(fn, t["LatestStreamArn"], "TRIM_HORIZON")["UUID"]

    # Wait for a failed attempt and a retry of it.
    def failed_attempts():
        fails = [i for i in log.invocations() if i["failed"]]
        return fails if len(fails) >= 2 else None

    fails = wait_for(failed_attempts, "a failed batch to be retried", timeout=20)
    first = [r["eventID"] for r in fails[0]["event"]["Records"]]
    assert keys_of(fails[0]["event"]["Records"]) == ["a", "b"]
    for attempt in fails:  # every retry carries exactly the records of the first attempt
        assert [r["eventID"] for r in attempt["event"]["Records"]] == first
    wait_for(
        lambda: c.lam.get_event_source_mapping(UUID=u)["LastProcessingResult"] == "PROBLEM: Function call failed",
        "LastProcessingResult to report the failure",
    )
    assert log.successful() == []

    flag.unlink()
    records = log.wait_records(2, timeout=20)
    assert keys_of(records) == ["a", "b"]  # delivered once successfully, in order
    wait_for(lambda: c.lam.get_event_source_mapping(UUID=u)["LastProcessingResult"] == "OK", "LastProcessingResult OK")

    # The checkpoint moved past the batch: the next batch holds only the new record.
    put_keys(env, t["TableName"], ["c"])
    records = log.wait_records(3)
    assert keys_of(records) == ["a", "b", "c"]
    assert keys_of(log.successful()[-1]["event"]["Records"]) == ["c"]


def test_disable_then_enable_resumes_at_checkpoint(env):
    c = env.c
    fn, log = env.recorder()
    t = env.create_table()
    table = t["TableName"]
    u = env.create_mapping(fn, t["LatestStreamArn"], "TRIM_HORIZON")["UUID"]
    put_keys(env, table, ["k1"])
    assert keys_of(log.wait_records(1)) == ["k1"]

    resp = c.lam.update_event_source_mapping(UUID=u, Enabled=False)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert resp["State"] == "Disabling"
    env.wait_mapping_state(u, "Disabled")
    put_keys(env, table, ["k2", "k3"])
    time.sleep(QUIET)  # nothing may arrive while disabled
    assert keys_of(log.records()) == ["k1"]
    assert len(log.invocations()) == 1

    resp = c.lam.update_event_source_mapping(UUID=u, Enabled=True)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert resp["State"] == "Enabling"
    env.wait_mapping_state(u, "Enabled")
    assert keys_of(log.wait_records(3)) == ["k1", "k2", "k3"]
    put_keys(env, table, ["k4"])
    assert keys_of(log.wait_records(4)) == ["k1", "k2", "k3", "k4"]


def test_create_disabled_then_enable(env):
    c = env.c
    fn, log = env.recorder()
    t = env.create_table()
    put_keys(env, t["TableName"], ["x"])
    esm = env.create_mapping(fn, t["LatestStreamArn"], "TRIM_HORIZON", Enabled=False)
    assert esm["State"] == "Creating"
    time.sleep(QUIET)
    assert log.invocations() == []
    c.lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=True)
    env.wait_mapping_state(esm["UUID"], "Enabled")
    assert keys_of(log.wait_records(1)) == ["x"]


def test_deleting_the_function_keeps_the_mapping(env):
    c = env.c
    fn, _ = env.recorder()
    stream_arn = env.create_table()["LatestStreamArn"]
    u = env.create_mapping(fn, stream_arn)["UUID"]
    c.lam.delete_function(FunctionName=fn)
    m = c.lam.get_event_source_mapping(UUID=u)
    assert m["UUID"] == u and m["FunctionArn"] == function_arn(fn)
    c.lam.delete_event_source_mapping(UUID=u)


def test_create_for_missing_function_or_stream_is_invalid_parameter(env):
    c = env.c
    fn, _ = env.recorder()
    stream_arn = env.create_table()["LatestStreamArn"]
    with pytest.raises(ClientError) as e:
        c.lam.create_event_source_mapping(
            FunctionName=unique("no-such-fn"), EventSourceArn=stream_arn, StartingPosition="LATEST"
        )
    assert error_of(e.value) == ("InvalidParameterValueException", 400, "Function does not exist")

    missing = stream_arn.rsplit("/stream/", 1)[0] + "-gone/stream/2024-01-01T00:00:00.000"
    with pytest.raises(ClientError) as e:
        c.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=missing, StartingPosition="LATEST")
    assert error_of(e.value) == ("InvalidParameterValueException", 400, f"Stream not found: {missing}")

"""The event source mapping failure model end to end (spec §3.2, §3.3, §4): retries, bisect,
partial batch responses, maximum record age under the server clock, throttles that do not
consume retries, on-failure destinations, and LastProcessingResult."""

from __future__ import annotations

import json
import time
import urllib.request

from harness import unique, wait_for, zip_bytes

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
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def drain(env, uuid: str, timeout: float = 30) -> dict:
    req = urllib.request.Request(
        f"{env.server.endpoint}/_tributary/event-source-mappings/{uuid}/drain?timeout={timeout}", method="POST", data=b""
    )
    with urllib.request.urlopen(req, timeout=timeout + 10) as r:
        out = json.loads(r.read())
    assert out["Drained"], out
    return out


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

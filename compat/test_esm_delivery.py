"""Event source mapping delivery knobs end to end: FilterCriteria, ParallelizationFactor with
per-key order, batching windows and tumbling windows under the server clock, and the drain and
shards admin views that make these tests deterministic."""

from __future__ import annotations

import json
import time
import urllib.request

from botocore.exceptions import ClientError
from harness import error_of, read_jsonl, unique, wait_for, zip_bytes

# Logs every invocation (records' keys and versions, window fields, start/end times) and can
# sleep, so tests can see order and overlap; keeps a tumbling-window count in `state`.
SCRIPTED_PY = """\
import json
import os
import time


def handler(event, context):
    start = time.time()
    if os.environ.get("SLEEP_MS"):
        time.sleep(int(os.environ["SLEEP_MS"]) / 1000)
    recs = event.get("Records", [])
    line = {
        "start": start,
        "end": time.time(),
        "keys": [r["dynamodb"]["Keys"]["pk"]["S"] for r in recs],
        "versions": [int(r["dynamodb"].get("NewImage", {}).get("v", {}).get("N", "0")) for r in recs],
        "events": [r["eventName"] for r in recs],
        "window": {k: event[k] for k in ("window", "state", "isFinalInvokeForWindow",
                                           "isWindowTerminatedEarly", "shardId", "eventSourceARN") if k in event},
    }
    with open(os.environ["RECORDS_FILE"], "a") as f:
        f.write(json.dumps(line) + "\\n")
    if "window" in event:
        count = event["state"].get("count", 0) + len(recs)
        return {"state": {"count": count}}
    return None
"""


def scripted(env, **env_vars) -> tuple[str, object]:
    path = env.tmp / f"{unique('calls')}.jsonl"
    name = env.create_function(
        zip_bytes({"handler.py": SCRIPTED_PY}), env={"RECORDS_FILE": str(path), **env_vars}, Timeout=30
    )
    return name, path


def calls(path) -> list[dict]:
    return read_jsonl(path)


def admin(env, method: str, path: str) -> dict:
    req = urllib.request.Request(env.server.endpoint + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def drain(env, uuid: str, timeout: float = 20) -> dict:
    return env.drain(uuid, timeout)


def fails(call) -> tuple[str, int, str]:
    try:
        call()
    except ClientError as e:
        return error_of(e)
    raise AssertionError("the call succeeded")


# filters ----------------------------------------------------------------------------------------


def test_filters_select_records_and_filtered_records_advance_the_checkpoint(env):
    table = env.create_table()
    name, path = scripted(env)
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"color": {"S": ["red", {"prefix": "bl"}]}}}}
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=100,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]},
    )  # fmt: skip
    assert json.loads(esm["FilterCriteria"]["Filters"][0]["Pattern"]) == pattern
    t = table["TableName"]
    for pk, color in [("a", "red"), ("b", "green"), ("c", "blue"), ("d", "black"), ("e", "Red")]:
        env.c.ddb.put_item(TableName=t, Item={"pk": {"S": pk}, "color": {"S": color}})
    env.c.ddb.update_item(  # a MODIFY of a red item: filtered out by eventName
        TableName=t, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "1"}}
    )
    out = drain(env, esm["UUID"])
    delivered = [k for c in calls(path) for k in c["keys"]]
    assert sorted(delivered) == ["a", "c", "d"]
    # Filtered-out records advanced the checkpoint: it sits at the newest record.
    shard = out["Shards"][0]
    assert shard["Checkpoint"] is not None
    wait_for(
        lambda: admin(env, "GET", f"/_tributary/event-source-mappings/{esm['UUID']}/shards")["Shards"][0]["Checkpoint"]
        == shard["LatestSequenceNumber"],
        "checkpoint at the newest record",
    )


def test_invalid_filters_are_refused_on_create_and_update(env):
    table = env.create_table()
    name, _ = scripted(env)
    for bad in ("not json", '{"eventName": "INSERT"}', '{"eventName": [{"nope": 1}]}'):
        code, status, msg = fails(
            lambda bad=bad: env.c.lam.create_event_source_mapping(
                FunctionName=name, EventSourceArn=table["LatestStreamArn"], StartingPosition="LATEST",
                FilterCriteria={"Filters": [{"Pattern": bad}]},
            )
        )  # fmt: skip
        assert (code, status, msg) == ("InvalidParameterValueException", 400, "Invalid filter pattern definition.")
    six = {"Filters": [{"Pattern": json.dumps({"eventName": [f"E{i}"]})} for i in range(6)]}
    code, status, _ = fails(
        lambda: env.c.lam.create_event_source_mapping(
            FunctionName=name, EventSourceArn=table["LatestStreamArn"], StartingPosition="LATEST", FilterCriteria=six
        )
    )
    assert (code, status) == ("InvalidParameterValueException", 400)
    esm = env.create_mapping(name, table["LatestStreamArn"], starting_position="LATEST")
    code, _, msg = fails(
        lambda: env.c.lam.update_event_source_mapping(
            UUID=esm["UUID"], FilterCriteria={"Filters": [{"Pattern": "{"}]}
        )
    )
    assert (code, msg) == ("InvalidParameterValueException", "Invalid filter pattern definition.")


# parallelization ---------------------------------------------------------------------------------


def test_parallelization_factor_keeps_per_key_order_with_concurrency(env):
    table = env.create_table()
    name, path = scripted(env, SLEEP_MS="30")
    t = table["TableName"]
    keys = [f"item{i}" for i in range(20)]
    for version in range(1, 6):
        for k in keys:
            env.c.ddb.put_item(TableName=t, Item={"pk": {"S": k}, "v": {"N": str(version)}})
    esm = env.create_mapping(name, table["LatestStreamArn"], BatchSize=5, ParallelizationFactor=10)
    assert esm["ParallelizationFactor"] == 10
    drain(env, esm["UUID"], timeout=60)
    log = calls(path)
    seen: dict[str, list[int]] = {}
    spans: dict[str, list[tuple[float, float]]] = {}
    for c in log:
        for k, v in zip(c["keys"], c["versions"]):
            seen.setdefault(k, []).append(v)
            spans.setdefault(k, []).append((c["start"], c["end"]))
    assert set(seen) == set(keys)
    for k in keys:
        assert seen[k] == [1, 2, 3, 4, 5], (k, seen[k])  # each version once, in order
        ordered = sorted(spans[k])
        for (s1, e1), (s2, _) in zip(ordered, ordered[1:]):
            assert s2 >= e1 or (s1, e1) == (s2, _), f"{k} delivered concurrently"
    # Evidence of concurrency: some invocations overlapped in time.
    intervals = sorted((c["start"], c["end"]) for c in log)
    overlaps = sum(1 for (s1, e1), (s2, e2) in zip(intervals, intervals[1:]) if s2 < e1)
    assert overlaps > 0, "no two batches of the shard ran at the same time"


# windows -----------------------------------------------------------------------------------------


def test_batching_window_follows_the_server_clock(env):
    table = env.create_table()
    name, path = scripted(env)
    esm = env.create_mapping(
        name, table["LatestStreamArn"], BatchSize=100, MaximumBatchingWindowInSeconds=300
    )
    t = table["TableName"]
    for k in ("w1", "w2", "w3"):
        env.c.ddb.put_item(TableName=t, Item={"pk": {"S": k}})
    time.sleep(0.5)
    assert calls(path) == [], "the window (300 s) has not passed"
    env.advance_clock(301)
    wait_for(lambda: calls(path), "the batch after the window")
    assert [c["keys"] for c in calls(path)] == [["w1", "w2", "w3"]]
    drain(env, esm["UUID"])


def test_tumbling_window_carries_state_and_ends_with_a_final_invoke(env):
    table = env.create_table()
    name, path = scripted(env)
    esm = env.create_mapping(name, table["LatestStreamArn"], BatchSize=2, TumblingWindowInSeconds=60)
    assert esm["TumblingWindowInSeconds"] == 60
    t = table["TableName"]
    for k in ("t1", "t2", "t3"):
        env.c.ddb.put_item(TableName=t, Item={"pk": {"S": k}})
    wait_for(lambda: sum(len(c["keys"]) for c in calls(path)) == 3, "records delivered in the window")
    assert not any(c["window"]["isFinalInvokeForWindow"] for c in calls(path))
    env.advance_clock(61)
    wait_for(lambda: any(c["window"].get("isFinalInvokeForWindow") for c in calls(path)), "final invoke")
    log = calls(path)
    final = log[-1]
    assert final["keys"] == [] and final["window"]["isFinalInvokeForWindow"] is True
    assert final["window"]["isWindowTerminatedEarly"] is False
    assert final["window"]["state"] == {"count": 3}
    first = log[0]["window"]
    assert first["state"] == {}
    assert first["shardId"].startswith("shardId-") and first["eventSourceARN"] == table["LatestStreamArn"]
    start, end = first["window"]["start"], first["window"]["end"]
    assert start.endswith("Z") and end.endswith("Z")
    assert all(c["window"]["window"] == first["window"] for c in log)
    # Each invocation sees the state the previous one returned: the count of records so far.
    so_far = 0
    for c in log[:-1]:
        assert c["window"]["state"] == ({} if so_far == 0 else {"count": so_far})
        so_far += len(c["keys"])
    drain(env, esm["UUID"])


# admin views ---------------------------------------------------------------------------------------


def test_shards_view_and_drain_report(env):
    table = env.create_table()
    name, path = scripted(env)
    esm = env.create_mapping(name, table["LatestStreamArn"])
    env.c.ddb.put_item(TableName=table["TableName"], Item={"pk": {"S": "x"}})
    out = drain(env, esm["UUID"])
    assert out["UUID"] == esm["UUID"] and out["State"] == "Enabled"
    assert out["LastProcessingResult"] == "OK"
    (shard,) = out["Shards"]
    assert shard["ProcessedSequenceNumber"] == shard["LatestSequenceNumber"]
    assert shard["InFlightBatches"] == 0 and shard["RetryCount"] == 0 and shard["LastError"] is None
    assert shard["LagMillis"] == 0
    view = admin(env, "GET", f"/_tributary/event-source-mappings/{esm['UUID']}/shards")
    assert view["Shards"][0]["ShardId"] == shard["ShardId"]
    # A disabled mapping does not drain: the report says so after the timeout.
    env.c.lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=False)
    env.wait_mapping_state(esm["UUID"], "Disabled")
    env.c.ddb.put_item(TableName=table["TableName"], Item={"pk": {"S": "y"}})
    out = admin(env, "POST", f"/_tributary/event-source-mappings/{esm['UUID']}/drain?timeout=0.2")
    assert out["Drained"] is False


def _cpu_seconds(pid: int) -> float:
    import os

    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_hundred_idle_mappings_cost_no_cpu(env):
    names = [scripted(env)[0] for _ in range(20)]
    arns = [env.create_table()["LatestStreamArn"] for _ in range(5)]
    uuids = [
        env.c.lam.create_event_source_mapping(FunctionName=n, EventSourceArn=a, StartingPosition="LATEST")["UUID"]
        for n in names
        for a in arns
    ]
    assert len(uuids) == 100
    for u in uuids:
        env.wait_mapping_state(u, "Enabled")
    time.sleep(0.5)  # let start-up settle
    pid = env.server.proc.pid
    before = _cpu_seconds(pid)
    time.sleep(3)
    used = _cpu_seconds(pid) - before
    assert used <= 0.06, f"100 idle mappings used {used:.2f} s of CPU in 3 s"
    for u in uuids:
        env.c.lam.delete_event_source_mapping(UUID=u)


BIG_STATE_PY = """\
import json
import os


def handler(event, context):
    with open(os.environ["RECORDS_FILE"], "a") as f:
        f.write(json.dumps({
            "keys": [r["dynamodb"]["Keys"]["pk"]["S"] for r in event.get("Records", [])],
            "final": event.get("isFinalInvokeForWindow"),
            "early": event.get("isWindowTerminatedEarly"),
            "state_bytes": len(json.dumps(event.get("state", {}))),
        }) + "\\n")
    return {"state": {"blob": "x" * (1024 * 1024 + 10)}}
"""


def test_tumbling_window_state_over_1_mb_ends_the_window_early(env):
    table = env.create_table()
    path = env.tmp / f"{unique('calls')}.jsonl"
    name = env.create_function(zip_bytes({"handler.py": BIG_STATE_PY}), env={"RECORDS_FILE": str(path)}, Timeout=30)
    esm = env.create_mapping(name, table["LatestStreamArn"], BatchSize=10, TumblingWindowInSeconds=900)
    env.c.ddb.put_item(TableName=table["TableName"], Item={"pk": {"S": "big"}})
    wait_for(lambda: any(c["final"] for c in calls(path)), "the window ended early")
    log = calls(path)
    assert log[0]["keys"] == ["big"] and log[0]["final"] is False and log[0]["early"] is False
    final = next(c for c in log if c["final"])
    assert final["early"] is True and final["keys"] == []
    assert final["state_bytes"] > 1024 * 1024  # the final invoke gets the state that ended it
    drain(env, esm["UUID"])


# huge items ---------------------------------------------------------------------------------------

SIZES_PY = """\
import json
import os


def handler(event, context):
    recs = event["Records"]
    with open(os.environ["RECORDS_FILE"], "a") as f:
        f.write(json.dumps({
            "keys": [r["dynamodb"]["Keys"]["pk"]["S"] for r in recs],
            "bytes": len(json.dumps(event, separators=(",", ":"))),
        }) + "\\n")
"""


def test_huge_items_with_the_largest_batch_size_arrive_in_invokes_under_6_mb(env):
    """40 items of 350 KB (14 MB) under BatchSize 10000: every record arrives once, in order,
    in several invokes of at most 6 MB each (the synchronous payload limit), and GetRecords
    pages stay within their 1 MB."""
    table = env.create_table(view_type="NEW_IMAGE")
    t = table["TableName"]
    path = env.tmp / f"{unique('calls')}.jsonl"
    name = env.create_function(zip_bytes({"handler.py": SIZES_PY}), env={"RECORDS_FILE": str(path)}, Timeout=30)
    blob = "x" * (350 * 1024)
    keys = [f"big{i:02}" for i in range(40)]
    for k in keys:
        env.c.ddb.put_item(TableName=t, Item={"pk": {"S": k}, "blob": {"S": blob}})
    esm = env.create_mapping(name, table["LatestStreamArn"], BatchSize=10000)
    assert esm["BatchSize"] == 10000
    drain(env, esm["UUID"], timeout=60)
    log = calls(path)
    assert [k for c in log for k in c["keys"]] == keys
    assert len(log) >= 3, [len(c["keys"]) for c in log]
    assert all(c["bytes"] <= 6 * 1024 * 1024 for c in log), [c["bytes"] for c in log]

    streams = env.c.streams
    shard = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]["Shards"][0]
    it = streams.get_shard_iterator(
        StreamArn=table["LatestStreamArn"], ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    seen: list[str] = []
    while it and len(seen) < len(keys):
        page = streams.get_records(ShardIterator=it, Limit=1000)
        assert 1 <= len(page["Records"]) <= 3, len(page["Records"])  # 1 MB of 350 KB records
        seen += [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]]
        it = page.get("NextShardIterator")
    assert seen == keys

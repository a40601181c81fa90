"""Shard lineage: roll-overs and splits through POST /_tributary/streams/rollover, read back with
the Streams API the way KCL-style consumers read (parents before children), and through an
event source mapping, with no record lost, repeated or reordered per item."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from harness import SEQ, SHARD_ID, unique


def rollover(env, stream_arn: str, split: bool) -> tuple[int, dict]:
    status, _, body = rollover_raw(env, stream_arn, split)
    return status, body


def rollover_raw(env, stream_arn: str, split: bool) -> tuple[int, str, dict]:
    """(status, X-Amzn-ErrorType, body)"""
    req = urllib.request.Request(
        env.server.endpoint + "/_tributary/streams/rollover",
        data=json.dumps({"StreamArn": stream_arn, "split": split}).encode(),
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, "", json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("x-amzn-errortype", ""), json.loads(e.read())


def shards(env, stream_arn: str) -> list[dict]:
    return env.c.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]


def read_shard(env, stream_arn: str, shard_id: str) -> list[dict]:
    """Reads a shard to its end (closed) or until an empty page (open)."""
    it = env.c.streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    out = []
    while it:
        page = env.c.streams.get_records(ShardIterator=it)
        out.extend(page["Records"])
        it = page.get("NextShardIterator")
        if not page["Records"] and it:
            break
    return out


def read_in_lineage_order(env, stream_arn: str) -> list[dict]:
    """Reads every shard, each only after its parent, as a KCL-style consumer does."""
    all_shards = shards(env, stream_arn)
    ids = {s["ShardId"] for s in all_shards}
    done: set[str] = set()
    records: list[dict] = []
    while len(done) < len(all_shards):
        ready = [
            s for s in all_shards
            if s["ShardId"] not in done and (s.get("ParentShardId") not in ids or s["ParentShardId"] in done)
        ]  # fmt: skip
        assert ready, "lineage has a cycle or a missing parent"
        for s in ready:
            records.extend(read_shard(env, stream_arn, s["ShardId"]))
            done.add(s["ShardId"])
    return records


def put_round(env, table: str, start: int, n: int, keys: int) -> int:
    for i in range(n):
        env.c.ddb.put_item(
            TableName=table, Item={"pk": {"S": f"k{i % keys}"}, "v": {"N": str(start + i)}}
        )
    return start + n


def values_per_key(records: list[dict]) -> dict[str, list[int]]:
    per: dict[str, list[int]] = {}
    for r in records:
        per.setdefault(r["dynamodb"]["Keys"]["pk"]["S"], []).append(int(r["dynamodb"]["NewImage"]["v"]["N"]))
    return per


def test_rollover_and_split_shape_the_lineage(env):
    t = env.create_table(view_type="NEW_IMAGE")
    arn = t["LatestStreamArn"]
    [first] = shards(env, arn)
    status, body = rollover(env, arn, split=False)
    assert status == 200 and len(body["Shards"]) == 1
    status, body = rollover(env, arn, split=True)
    assert status == 200 and len(body["Shards"]) == 2
    all_shards = shards(env, arn)
    assert len(all_shards) == 4
    assert [s["ShardId"] for s in all_shards] == sorted(s["ShardId"] for s in all_shards)
    by_id = {s["ShardId"]: s for s in all_shards}
    closed = [s for s in all_shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    open_ = [s for s in all_shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    assert len(closed) == 2 and len(open_) == 2
    for s in all_shards:
        assert SHARD_ID.fullmatch(s["ShardId"])
        assert SEQ.fullmatch(s["SequenceNumberRange"]["StartingSequenceNumber"])
    assert "ParentShardId" not in by_id[first["ShardId"]]
    middle = [s for s in closed if s.get("ParentShardId") == first["ShardId"]]
    assert len(middle) == 1
    assert all(s["ParentShardId"] == middle[0]["ShardId"] for s in open_)
    # A child starts after its parent ends.
    for s in open_:
        assert int(s["SequenceNumberRange"]["StartingSequenceNumber"]) > int(
            middle[0]["SequenceNumberRange"]["EndingSequenceNumber"]
        )


def test_consumer_following_lineage_sees_every_change_once_in_item_order(env):
    t = env.create_table(view_type="NEW_IMAGE")
    arn, table = t["LatestStreamArn"], t["TableName"]
    n = 0
    for split in (True, False, True, True):
        n = put_round(env, table, n, 24, keys=8)
        assert rollover(env, arn, split)[0] == 200
    n = put_round(env, table, n, 24, keys=8)
    records = read_in_lineage_order(env, arn)
    assert len(records) == n
    assert len({r["eventID"] for r in records}) == n
    for key, values in values_per_key(records).items():
        assert values == sorted(values), key
    # Each item's records stay on one line of descent: every record of a key after a split
    # lands in a descendant of the shard that held its earlier records.
    assert len(shards(env, arn)) == 1 + 2 + 2 + 4 + 8


def test_mapping_follows_splits_without_loss_repeat_or_reorder(env):
    t = env.create_table(view_type="NEW_IMAGE")
    arn, table = t["LatestStreamArn"], t["TableName"]
    fn, log = env.recorder()
    env.create_mapping(fn, arn, BatchSize=5)
    n = 0
    for split in (True, True, False):
        n = put_round(env, table, n, 30, keys=7)
        assert rollover(env, arn, split)[0] == 200
    n = put_round(env, table, n, 30, keys=7)
    records = log.wait_records(n)
    assert len(records) == n
    assert len({r["eventID"] for r in records}) == n
    for key, values in values_per_key(records).items():
        assert values == sorted(values), key


def test_rollover_errors(env):
    assert rollover_raw(env, "garbage", split=False)[:2] == (400, "ValidationException")
    arn = f"arn:aws:dynamodb:us-east-1:000000000000:table/{unique('none')}/stream/2026-01-01T00:00:00.000"
    status, kind, body = rollover_raw(env, arn, split=False)
    assert (status, kind) == (400, "ResourceNotFoundException")
    assert arn in body["message"]
    # A disabled stream's shards stay as they are.
    t = env.create_table(view_type="NEW_IMAGE")
    env.c.ddb.update_table(TableName=t["TableName"], StreamSpecification={"StreamEnabled": False})
    assert rollover_raw(env, t["LatestStreamArn"], split=True)[:2] == (400, "ValidationException")

"""DynamoDB Streams API: ListStreams, DescribeStream, GetShardIterator (all four types),
GetRecords, and the stream records themselves (spec §2 and §6)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError
from harness import (
    HEX32,
    REGION,
    SEQ,
    SHARD_ID,
    error_of,
    raw_responses,
    table_arn,
    unique,
    wait_for,
)


def only_shard(env, stream_arn):
    shards = env.c.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    assert len(shards) == 1, shards
    return shards[0]


def test_list_and_describe_stream(env):
    c = env.c
    t = env.create_table(view_type="NEW_IMAGE", key="Username")
    name, stream_arn, label = t["TableName"], t["LatestStreamArn"], t["LatestStreamLabel"]

    streams = c.streams.list_streams(TableName=name)["Streams"]
    assert streams == [{"StreamArn": stream_arn, "TableName": name, "StreamLabel": label}]
    assert {"StreamArn": stream_arn, "TableName": name, "StreamLabel": label} in c.streams.list_streams()["Streams"]

    def enabled():
        d = c.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
        return d if d["StreamStatus"] == "ENABLED" else None

    d = wait_for(enabled, "stream ENABLED")
    assert d["StreamArn"] == stream_arn
    assert d["StreamLabel"] == label
    assert d["StreamViewType"] == "NEW_IMAGE"
    assert d["TableName"] == name
    assert d["KeySchema"] == [{"AttributeName": "Username", "KeyType": "HASH"}]
    assert isinstance(d["CreationRequestDateTime"], datetime)
    assert "LastEvaluatedShardId" not in d or d["LastEvaluatedShardId"] == d["Shards"][-1]["ShardId"]
    (shard,) = d["Shards"]
    assert SHARD_ID.match(shard["ShardId"]), shard["ShardId"]
    assert "ParentShardId" not in shard  # the first shard of a new table
    rng = shard["SequenceNumberRange"]
    assert SEQ.match(rng["StartingSequenceNumber"]) and "EndingSequenceNumber" not in rng  # open shard


def test_get_records_fields_order_and_wire_format(env):
    c = env.c
    t = env.create_table(view_type="NEW_AND_OLD_IMAGES")
    name, stream_arn = t["TableName"], t["LatestStreamArn"]
    before = datetime.now(timezone.utc).timestamp()
    for i in range(3):
        c.ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}, "v": {"N": str(i)}})
    c.ddb.update_item(
        TableName=name, Key={"pk": {"S": "k0"}}, UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "100"}},
    )  # fmt: skip
    c.ddb.delete_item(TableName=name, Key={"pk": {"S": "k1"}})

    shard = only_shard(env, stream_arn)
    it = c.streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    with raw_responses(c.streams) as raw:
        page = c.streams.get_records(ShardIterator=it["ShardIterator"])
    records = page["Records"]
    assert "NextShardIterator" in page  # the shard is open
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "INSERT", "MODIFY", "REMOVE"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["k0", "k1", "k2", "k0", "k1"]

    ids = [r["eventID"] for r in records]
    assert all(HEX32.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert all(SEQ.match(s) for s in seqs), seqs
    assert [int(s) for s in seqs] == sorted(int(s) for s in seqs) and len(set(seqs)) == len(seqs)
    assert int(seqs[0]) >= int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
    after = datetime.now(timezone.utc).timestamp()
    for r in records:
        assert set(r) == {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb"}
        assert r["eventVersion"] == "1.1"
        assert r["eventSource"] == "aws:dynamodb"
        assert r["awsRegion"] == REGION
        d = r["dynamodb"]
        assert d["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert d["SizeBytes"] >= 1
        ts = d["ApproximateCreationDateTime"].timestamp()
        assert int(before) - 1 <= ts <= after + 1 and ts == int(ts)  # whole seconds
    mod = records[3]["dynamodb"]
    assert mod["OldImage"] == {"pk": {"S": "k0"}, "v": {"N": "0"}}
    assert mod["NewImage"] == {"pk": {"S": "k0"}, "v": {"N": "100"}}
    assert records[4]["dynamodb"]["OldImage"] == {"pk": {"S": "k1"}, "v": {"N": "1"}}

    # On the wire: timestamps are JSON numbers (epoch seconds), sequence numbers are strings.
    status, _, body = raw[-1]
    assert status == 200
    for r in json.loads(body)["Records"]:
        assert isinstance(r["dynamodb"]["ApproximateCreationDateTime"], (int, float))
        assert isinstance(r["dynamodb"]["SequenceNumber"], str)
        assert isinstance(r["dynamodb"]["SizeBytes"], int)


def test_shard_iterator_types(env):
    c = env.c
    t = env.create_table(view_type="KEYS_ONLY")
    name, stream_arn = t["TableName"], t["LatestStreamArn"]
    for i in range(3):
        c.ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}})
    shard_id = only_shard(env, stream_arn)["ShardId"]
    all_records = env.stream_records(stream_arn)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in all_records] == ["k0", "k1", "k2"]
    seq1 = all_records[1]["dynamodb"]["SequenceNumber"]

    def first_keys(iterator_type, **kw):
        it = c.streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType=iterator_type, **kw
        )["ShardIterator"]
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in c.streams.get_records(ShardIterator=it)["Records"]]

    assert first_keys("TRIM_HORIZON") == ["k0", "k1", "k2"]
    assert first_keys("AT_SEQUENCE_NUMBER", SequenceNumber=seq1) == ["k1", "k2"]
    assert first_keys("AFTER_SEQUENCE_NUMBER", SequenceNumber=seq1) == ["k2"]

    # Limit pages through the shard.
    it = c.streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
    page = c.streams.get_records(ShardIterator=it["ShardIterator"], Limit=2)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["k0", "k1"]
    page = c.streams.get_records(ShardIterator=page["NextShardIterator"], Limit=2)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["k2"]

    # LATEST: nothing that was already there; what is written afterwards shows up.
    it = c.streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="LATEST")
    page = c.streams.get_records(ShardIterator=it["ShardIterator"])
    assert page["Records"] == [] and page["NextShardIterator"]
    c.ddb.put_item(TableName=name, Item={"pk": {"S": "k3"}})
    state = {"it": page["NextShardIterator"], "seen": []}

    def read_more():
        p = c.streams.get_records(ShardIterator=state["it"])
        state["it"] = p["NextShardIterator"]
        state["seen"] += [r["dynamodb"]["Keys"]["pk"]["S"] for r in p["Records"]]
        return state["seen"]

    assert wait_for(read_more, "the write after LATEST") == ["k3"]


VIEW_TYPES = {
    # view type: (INSERT, MODIFY, REMOVE) -> which images the record carries besides Keys
    "KEYS_ONLY": (set(), set(), set()),
    "NEW_IMAGE": ({"NewImage"}, {"NewImage"}, set()),
    "OLD_IMAGE": (set(), {"OldImage"}, {"OldImage"}),
    "NEW_AND_OLD_IMAGES": ({"NewImage"}, {"NewImage", "OldImage"}, {"OldImage"}),
}


@pytest.mark.parametrize("view_type", list(VIEW_TYPES))
def test_images_per_stream_view_type(env, view_type):
    c = env.c
    t = env.create_table(view_type=view_type)
    name, stream_arn = t["TableName"], t["LatestStreamArn"]
    key = {"pk": {"S": "item"}}
    v1 = {**key, "color": {"S": "red"}}
    v2 = {**key, "color": {"S": "blue"}, "size": {"N": "3"}}
    c.ddb.put_item(TableName=name, Item=v1)
    c.ddb.put_item(TableName=name, Item=v2)  # replacing an item is one MODIFY
    c.ddb.delete_item(TableName=name, Key=key)

    records = env.stream_records(stream_arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for r, images, (new, old) in zip(records, VIEW_TYPES[view_type], [(v1, None), (v2, v1), (None, v2)]):
        d = r["dynamodb"]
        assert d["StreamViewType"] == view_type
        assert d["Keys"] == key
        assert set(d) & {"NewImage", "OldImage"} == images, (r["eventName"], d)
        if "NewImage" in d:
            assert d["NewImage"] == new
        if "OldImage" in d:
            assert d["OldImage"] == old


def test_size_bytes(env):
    c = env.c
    # KEYS_ONLY {Username: "Fred"}: len("Username") + len("Fred") = 12 (recorded on AWS).
    t = env.create_table(view_type="KEYS_ONLY", key="Username")
    c.ddb.put_item(TableName=t["TableName"], Item={"Username": {"S": "Fred"}, "Age": {"N": "42"}})
    (r,) = env.stream_records(t["LatestStreamArn"])
    assert r["dynamodb"]["SizeBytes"] == 12

    # NEW_IMAGE: Keys 27 + NewImage 43 = 70 (recorded on AWS).
    t = env.create_table(view_type="NEW_IMAGE", key="my_partition_key")
    item = {"my_partition_key": {"S": "hello world"}, "binary_key": {"B": b"foobar"}}
    c.ddb.put_item(TableName=t["TableName"], Item=item)
    (r,) = env.stream_records(t["LatestStreamArn"])
    assert r["dynamodb"]["NewImage"] == item
    assert r["dynamodb"]["SizeBytes"] == 70

    # NEW_AND_OLD_IMAGES MODIFY: Keys + NewImage + OldImage.
    t = env.create_table(view_type="NEW_AND_OLD_IMAGES", key="Username")
    c.ddb.put_item(TableName=t["TableName"], Item={"Username": {"S": "Fred"}, "City": {"S": "Paris"}})
    c.ddb.put_item(TableName=t["TableName"], Item={"Username": {"S": "Fred"}, "City": {"S": "Lyon"}})
    ins, mod = env.stream_records(t["LatestStreamArn"])
    assert ins["dynamodb"]["SizeBytes"] == 12 + (12 + 9)
    assert mod["dynamodb"]["SizeBytes"] == 12 + (12 + 8) + (12 + 9)


def test_only_real_changes_make_records(env):
    c = env.c
    t = env.create_table(view_type="NEW_AND_OLD_IMAGES")
    name, stream_arn = t["TableName"], t["LatestStreamArn"]
    item = {"pk": {"S": "a"}, "v": {"S": "1"}}
    c.ddb.put_item(TableName=name, Item=item)
    c.ddb.put_item(TableName=name, Item=item)  # identical: no record
    c.ddb.update_item(
        TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "1"}},
    )  # fmt: skip  # no effective change: no record
    c.ddb.delete_item(TableName=name, Key={"pk": {"S": "missing"}})  # nothing to delete: no record
    c.ddb.update_item(
        TableName=name, Key={"pk": {"S": "b"}}, UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "2"}},
    )  # fmt: skip  # creates the item: INSERT
    records = env.stream_records(stream_arn)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records] == [("INSERT", "a"), ("INSERT", "b")]


def test_stream_errors(env):
    c = env.c
    t = env.create_table(view_type="KEYS_ONLY")
    stream_arn = t["LatestStreamArn"]
    shard_id = only_shard(env, stream_arn)["ShardId"]

    unknown = f"{table_arn(unique('nope'))}/stream/2024-01-01T00:00:00.000"
    with pytest.raises(ClientError) as e:
        c.streams.describe_stream(StreamArn=unknown)
    code, status, message = error_of(e.value)
    assert (code, status) == ("ResourceNotFoundException", 400)
    assert message == f"Requested resource not found: Stream: {unknown} not found"

    with pytest.raises(ClientError) as e:
        c.streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert error_of(e.value)[:2] == ("ValidationException", 400)

    with pytest.raises(ClientError) as e:
        c.streams.get_records(ShardIterator="not-an-iterator")
    assert error_of(e.value)[:2] == ("ValidationException", 400)

"""Stream retention, trimming, shard filters, pagination and the stream lifecycle, driven by the
server clock (`POST /_tributary/clock/advance`) instead of waiting a day.

The server runs with 3 open shards per stream so pagination and filters have something to page
over, and with a one-hour roll-over so the roll-over timer can be observed by moving the clock.
Every test moves the clock forward only, so each one creates its own tables."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError
from harness import SEQ, SHARD_ID, client, error_of, unique, wait_for

SERVER_ARGS = ["--stream-shards", "3", "--shard-rollover", "1h", "--stream-retention", "24h"]

HOUR = 3600


def fails(call) -> dict:
    """The AWS error a call answers with (code, HTTP status, message); the call must fail."""
    try:
        call()
    except ClientError as e:
        code, status, message = error_of(e)
        return {"Code": code, "HTTPStatusCode": status, "Message": message}
    raise AssertionError("the call succeeded")


def rollover(env, stream_arn: str, split: bool = False) -> dict:
    req = urllib.request.Request(
        env.server.endpoint + "/_tributary/streams/rollover",
        data=json.dumps({"StreamArn": stream_arn, "split": split}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def describe(env, arn: str, **kw) -> dict:
    return env.c.streams.describe_stream(StreamArn=arn, **kw)["StreamDescription"]


def all_shards(env, arn: str) -> list[dict]:
    return describe(env, arn)["Shards"]


def put(env, table: str, *keys: str) -> None:
    for k in keys:
        env.c.ddb.put_item(TableName=table, Item={"pk": {"S": k}, "v": {"S": "x" * 10}})


def read_all(env, arn: str, shard_id: str, iterator_type: str = "TRIM_HORIZON", **kw) -> list[dict]:
    it = env.c.streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType=iterator_type, **kw
    )["ShardIterator"]
    out: list[dict] = []
    while it:
        page = env.c.streams.get_records(ShardIterator=it)
        assert "Records" in page
        out.extend(page["Records"])
        if not page["Records"]:
            break
        it = page.get("NextShardIterator")
    return out


def stream_keys(env, arn: str) -> list[str]:
    keys = []
    for shard in all_shards(env, arn):
        keys += [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(env, arn, shard["ShardId"])]
    return sorted(keys)


def new_stream(env) -> tuple[str, str]:
    table = env.create_table()
    return table["TableName"], table["LatestStreamArn"]


# retention -------------------------------------------------------------------------------------


def test_records_past_retention_are_trimmed_and_trim_horizon_moves(env):
    name, arn = new_stream(env)
    put(env, name, "old-1", "old-2", "old-3")
    env.advance_clock(23 * HOUR)
    put(env, name, "new-1", "new-2")
    assert stream_keys(env, arn) == ["new-1", "new-2", "old-1", "old-2", "old-3"]

    env.advance_clock(2 * HOUR)  # the old records are now 25 h old, the new ones 2 h
    assert stream_keys(env, arn) == ["new-1", "new-2"]


def test_at_sequence_number_of_a_trimmed_record_is_trimmed_data_access(env):
    name, arn = new_stream(env)
    put(env, name, "gone")
    env.advance_clock(12 * HOUR)
    put(env, name, "kept")
    # Every shard's records, before anything is trimmed.
    by_key = {}
    for shard in all_shards(env, arn):
        for r in read_all(env, arn, shard["ShardId"]):
            by_key[r["dynamodb"]["Keys"]["pk"]["S"]] = (shard["ShardId"], r["dynamodb"]["SequenceNumber"])
    env.advance_clock(13 * HOUR)

    shard_id, seq = by_key["gone"]
    err = fails(
        lambda: env.c.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=seq
        )
    )
    assert err["Code"] == "TrimmedDataAccessException"
    assert err["Message"] == "The data you are trying to access has been trimmed."
    # Just after the trimmed record nothing trimmed remains.
    env.c.streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=seq
    )

    shard_id, seq = by_key["kept"]
    recs = read_all(env, arn, shard_id, "AT_SEQUENCE_NUMBER", SequenceNumber=seq)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in recs] == ["kept"]


def test_an_iterator_whose_records_pass_retention_reads_trimmed_data(env):
    name, arn = new_stream(env)
    put(env, name, "soon-gone")
    env.advance_clock(24 * HOUR - 60)
    shard = next(
        s["ShardId"] for s in all_shards(env, arn) if read_all(env, arn, s["ShardId"])
    )
    it = env.c.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    env.advance_clock(120)  # the iterator is 2 minutes old (valid), its record 24 h 1 min old
    err = fails(lambda: env.c.streams.get_records(ShardIterator=it))
    assert err["Code"] == "TrimmedDataAccessException"
    assert err["HTTPStatusCode"] == 400


def test_fully_trimmed_closed_shards_leave_describe_stream(env):
    name, arn = new_stream(env)
    put(env, name, *[f"k{i}" for i in range(12)])
    parents = {s["ShardId"] for s in all_shards(env, arn)}
    assert len(parents) == 3
    children = rollover(env, arn)["Shards"]
    assert {c["ParentShardId"] for c in children} == parents
    put(env, name, "after-rollover")
    assert len(all_shards(env, arn)) == 6

    env.advance_clock(25 * HOUR)
    left = all_shards(env, arn)
    ids = {s["ShardId"] for s in left}
    assert not ids & parents, "closed shards past retention are gone"
    # The roll-over timer (1 h here) has rolled the children over too, while the clock moved.
    assert {c["ShardId"] for c in children} <= ids
    for c in left:
        if c["ShardId"] in {x["ShardId"] for x in children}:
            assert c["ParentShardId"] in parents  # lineage still names the trimmed parent
    for p in parents:
        err = fails(
            lambda p=p: env.c.streams.get_shard_iterator(StreamArn=arn, ShardId=p, ShardIteratorType="TRIM_HORIZON")
        )
        assert err["Code"] == "ResourceNotFoundException"
    assert stream_keys(env, arn) == []  # after-rollover is 25 h old as well


def test_roll_over_timer_follows_the_server_clock(env):
    name, arn = new_stream(env)
    before = all_shards(env, arn)
    assert all("EndingSequenceNumber" not in s["SequenceNumberRange"] for s in before)
    env.advance_clock(HOUR + 1)

    def rolled():
        shards = all_shards(env, arn)
        closed = [s for s in shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
        return len(closed) == 3 and len(shards) == 6

    wait_for(rolled, "open shards rolled over after --shard-rollover", timeout=5)
    shards = all_shards(env, arn)
    open_ = [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    assert {s["ParentShardId"] for s in open_} == {s["ShardId"] for s in before}


# DescribeStream -------------------------------------------------------------------------------


def test_describe_stream_pages_through_shards_in_id_order(env):
    name, arn = new_stream(env)
    rollover(env, arn, split=True)  # 3 closed + 6 open
    full = all_shards(env, arn)
    assert len(full) == 9
    assert [s["ShardId"] for s in full] == sorted(s["ShardId"] for s in full)
    seen: list[str] = []
    kw: dict = {}
    pages = 0
    while True:
        d = describe(env, arn, Limit=2, **kw)
        pages += 1
        seen += [s["ShardId"] for s in d["Shards"]]
        if "LastEvaluatedShardId" not in d:
            break
        assert d["LastEvaluatedShardId"] == d["Shards"][-1]["ShardId"]
        kw = {"ExclusiveStartShardId": d["LastEvaluatedShardId"]}
    assert seen == [s["ShardId"] for s in full]
    assert pages == 5
    # Starting after the last shard gives an empty page, not an error.
    d = describe(env, arn, ExclusiveStartShardId=full[-1]["ShardId"])
    assert d["Shards"] == [] and "LastEvaluatedShardId" not in d


def test_shard_filter_child_shards(env):
    name, arn = new_stream(env)
    parent = all_shards(env, arn)[0]["ShardId"]
    rollover(env, arn, split=True)
    kids = describe(env, arn, ShardFilter={"Type": "CHILD_SHARDS", "ShardId": parent})["Shards"]
    assert len(kids) == 2
    assert all(k["ParentShardId"] == parent for k in kids)
    assert all(SHARD_ID.match(k["ShardId"]) and SEQ.match(k["SequenceNumberRange"]["StartingSequenceNumber"]) for k in kids)
    # A shard without children (an open one) has none.
    leaf = kids[0]["ShardId"]
    assert describe(env, arn, ShardFilter={"Type": "CHILD_SHARDS", "ShardId": leaf})["Shards"] == []


def test_describe_stream_validation(env):
    name, arn = new_stream(env)
    raw = client("dynamodbstreams", env.server.endpoint, validate=False)
    for kw in ({"Limit": 0}, {"Limit": 101}):
        err = fails(lambda kw=kw: raw.describe_stream(StreamArn=arn, **kw))
        assert err["Code"] == "ValidationException", kw
    err = fails(lambda: raw.describe_stream(StreamArn="arn:aws:dynamodb:us-east-1:000000000000:table/nope"))
    assert err["Code"] == "ValidationException"
    missing = arn.rsplit("/stream/", 1)[0] + "/stream/2001-01-01T00:00:00.000"
    err = fails(lambda: env.c.streams.describe_stream(StreamArn=missing))
    assert err["Code"] == "ResourceNotFoundException"
    assert err["Message"] == f"Requested resource not found: Stream: {missing} not found"


def test_list_streams_pages(env):
    name = unique("many")
    arns = []
    for i in range(3):
        t = env.create_table(name=f"{name}-{i}")
        arns.append(t["LatestStreamArn"])
    seen = []
    kw: dict = {}
    while True:
        page = env.c.streams.list_streams(Limit=1, **kw)
        seen += [s["StreamArn"] for s in page["Streams"]]
        if "LastEvaluatedStreamArn" not in page:
            break
        kw = {"ExclusiveStartStreamArn": page["LastEvaluatedStreamArn"]}
    assert set(arns) <= set(seen)
    assert len(seen) == len(set(seen))
    raw = client("dynamodbstreams", env.server.endpoint, validate=False)
    for limit in (0, 101):
        err = fails(lambda limit=limit: raw.list_streams(Limit=limit))
        assert err["Code"] == "ValidationException"
    assert env.c.streams.list_streams(TableName=unique("nostream"))["Streams"] == []


# lifecycle --------------------------------------------------------------------------------------


def test_disabling_closes_shards_and_keeps_data_for_retention(env):
    name, arn = new_stream(env)
    put(env, name, "a", "b")
    label = arn.rsplit("/stream/", 1)[1]
    env.c.ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    d = describe(env, arn)
    assert d["StreamStatus"] == "DISABLED"
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in d["Shards"])
    table = env.c.ddb.describe_table(TableName=name)["Table"]
    assert "StreamSpecification" not in table
    assert table["LatestStreamArn"] == arn and table["LatestStreamLabel"] == label
    assert stream_keys(env, arn) == ["a", "b"]
    # A closed shard read to its end hands out no further iterator.
    for s in d["Shards"]:
        it = env.c.streams.get_shard_iterator(StreamArn=arn, ShardId=s["ShardId"], ShardIteratorType="LATEST")[
            "ShardIterator"
        ]
        page = env.c.streams.get_records(ShardIterator=it)
        assert page["Records"] == [] and "NextShardIterator" not in page

    err = fails(lambda: env.c.ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False}))
    assert err["Code"] == "ValidationException"

    env.c.ddb.update_table(
        TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    )
    table = env.wait_table_active(name)
    new_arn = table["LatestStreamArn"]
    assert new_arn != arn and table["LatestStreamLabel"] != label
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    err = fails(
        lambda: env.c.ddb.update_table(
            TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
        )
    )
    assert err["Code"] == "ValidationException"
    assert err["Message"] == f"Table already has an enabled stream: TableName: {name}"
    listed = {s["StreamArn"] for s in env.c.streams.list_streams(TableName=name)["Streams"]}
    assert listed == {arn, new_arn}  # the disabled stream stays listed until it expires

    env.advance_clock(25 * HOUR)
    listed = {s["StreamArn"] for s in env.c.streams.list_streams(TableName=name)["Streams"]}
    assert listed == {new_arn}
    err = fails(lambda: env.c.streams.describe_stream(StreamArn=arn))
    assert err["Code"] == "ResourceNotFoundException"


def test_delete_table_disables_its_stream(env):
    name, arn = new_stream(env)
    put(env, name, "x")
    env.c.ddb.delete_table(TableName=name)
    def gone() -> bool:
        try:
            env.c.ddb.describe_table(TableName=name)
            return False
        except ClientError as e:
            return error_of(e)[0] == "ResourceNotFoundException"

    wait_for(gone, "table deleted")
    d = describe(env, arn)
    assert d["StreamStatus"] == "DISABLED"
    assert d["TableName"] == name
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in d["Shards"])
    assert stream_keys(env, arn) == ["x"]


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_get_records_limit_range(env, limit):
    name, arn = new_stream(env)
    shard = all_shards(env, arn)[0]["ShardId"]
    it = env.c.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    raw = client("dynamodbstreams", env.server.endpoint, validate=False)
    err = fails(lambda: raw.get_records(ShardIterator=it, Limit=limit))
    assert err["Code"] == "ValidationException"
    assert "limit" in err["Message"].lower()

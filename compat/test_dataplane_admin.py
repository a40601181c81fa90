"""Table administration through the real binary: UpdateTable (stream on/off, GSI create/delete,
billing mode), DescribeTimeToLive / UpdateTimeToLive and the TTL sweeper (driven by the server
clock, `POST /_tributary/clock/advance`), TagResource / UntagResource / ListTagsOfResource,
DescribeLimits, DescribeEndpoints and ReturnConsumedCapacity."""

from __future__ import annotations

import json
import math
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError
from harness import STREAM_LABEL, error_of, table_arn, unique, wait_for

S = lambda x: {"S": x}  # noqa: E731
N = lambda x: {"N": str(x)}  # noqa: E731


def validation(call) -> str:
    with pytest.raises(ClientError) as e:
        call()
    code, status, message = error_of(e.value)
    assert (code, status) == ("ValidationException", 400), (code, status, message)
    return message


def clock(env, advance: float | None = None) -> float:
    """The server clock in epoch seconds; with `advance`, moves it forward first."""
    if advance is None:
        req = urllib.request.Request(f"{env.server.endpoint}/_tributary/clock")
    else:
        req = urllib.request.Request(
            f"{env.server.endpoint}/_tributary/clock/advance", data=json.dumps({"seconds": advance}).encode(),
            method="POST", headers={"Content-Type": "application/json"},
        )  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
        return float(json.loads(r.read())["now"])


# --------------------------------------------------------------------------------------------
# UpdateTable


def test_update_table_stream_on_off(env):
    c = env.c.ddb
    name = env.create_table(view_type=None)["TableName"]
    t = c.update_table(
        TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    )["TableDescription"]
    assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    arn1, label1 = t["LatestStreamArn"], t["LatestStreamLabel"]
    assert STREAM_LABEL.match(label1) and arn1 == f"{table_arn(name)}/stream/{label1}"
    env.wait_table_active(name)
    c.put_item(TableName=name, Item={"pk": S("a")})
    wait_for(lambda: len(env.stream_records(arn1)) == 1, "one record in the new stream")

    for view in ("KEYS_ONLY", "NEW_IMAGE"):
        msg = validation(
            lambda: c.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
        )
        assert msg == f"Table already has an enabled stream: TableName: {name}"

    t = c.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})["TableDescription"]
    assert "StreamSpecification" not in t or t["StreamSpecification"].get("StreamEnabled") is False
    env.wait_table_active(name)
    t = c.describe_table(TableName=name)["Table"]
    assert "StreamSpecification" not in t
    assert t["LatestStreamArn"] == arn1 and t["LatestStreamLabel"] == label1
    wait_for(
        lambda: env.c.streams.describe_stream(StreamArn=arn1)["StreamDescription"]["StreamStatus"] == "DISABLED",
        "stream DISABLED",
    )
    # Writes after disabling do not reach the old stream.
    c.put_item(TableName=name, Item={"pk": S("b")})
    assert len(env.stream_records(arn1)) == 1
    validation(lambda: c.update_table(TableName=name, StreamSpecification={"StreamEnabled": False}))

    t = c.update_table(
        TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    )["TableDescription"]
    assert t["LatestStreamArn"] != arn1
    env.wait_table_active(name)
    c.put_item(TableName=name, Item={"pk": S("c")})
    recs = wait_for(lambda: env.stream_records(t["LatestStreamArn"]), "a record in the second stream")
    assert [r["dynamodb"]["Keys"] for r in recs] == [{"pk": S("c")}]
    streams = {s["StreamArn"] for s in env.c.streams.list_streams(TableName=name)["Streams"]}
    assert streams == {arn1, t["LatestStreamArn"]}
    validation(
        lambda: c.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "ALL"})
    )


def test_update_table_gsi_create_and_delete(env):
    c = env.c.ddb
    name = env.create_table(view_type=None)["TableName"]
    for i in range(20):
        item = {"pk": S(f"k{i}"), "v": N(i)}
        if i % 2 == 0:
            item["g"] = S("even")
        c.put_item(TableName=name, Item=item)

    t = c.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}, {"AttributeName": "v", "AttributeType": "N"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                               {"AttributeName": "v", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}}],
    )["TableDescription"]  # fmt: skip
    gsis = {g["IndexName"]: g for g in t["GlobalSecondaryIndexes"]}
    assert gsis["by_g"]["IndexStatus"] in ("CREATING", "ACTIVE")
    assert {"AttributeName": "g", "AttributeType": "S"} in t["AttributeDefinitions"]

    def active():
        desc = c.describe_table(TableName=name)["Table"]
        g = {x["IndexName"]: x for x in desc.get("GlobalSecondaryIndexes", [])}.get("by_g")
        return desc if g and g["IndexStatus"] == "ACTIVE" and desc["TableStatus"] == "ACTIVE" else None

    desc = wait_for(active, "GSI by_g ACTIVE")
    assert desc["GlobalSecondaryIndexes"][0]["IndexArn"] == f"{table_arn(name)}/index/by_g"
    # Backfilled: existing items are in the index, in range-key order.
    page = c.query(
        TableName=name, IndexName="by_g", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": S("even")},
        Select="ALL_PROJECTED_ATTRIBUTES",
    )
    assert [it["v"]["N"] for it in page["Items"]] == [str(i) for i in range(0, 20, 2)]
    assert all(set(it) == {"pk", "g", "v"} for it in page["Items"])
    # Maintained from now on.
    c.put_item(TableName=name, Item={"pk": S("new"), "g": S("even"), "v": N(100)})
    page = c.query(
        TableName=name, IndexName="by_g", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": S("even")},
        ScanIndexForward=False, Limit=1, Select="ALL_PROJECTED_ATTRIBUTES",
    )  # fmt: skip
    assert page["Items"][0]["pk"] == S("new")

    # A second index with the same name is refused.
    validation(
        lambda: c.update_table(
            TableName=name, AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[{"Create": {
                "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}}],
        )
    )  # fmt: skip
    # Deleting it.
    t = c.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_g"}}])[
        "TableDescription"
    ]
    assert {g["IndexName"]: g["IndexStatus"] for g in t.get("GlobalSecondaryIndexes", [])}.get("by_g") in (
        "DELETING", None,
    )  # fmt: skip

    def gone():
        desc = c.describe_table(TableName=name)["Table"]
        return "by_g" not in {g["IndexName"] for g in desc.get("GlobalSecondaryIndexes", [])}

    wait_for(gone, "GSI by_g deleted")
    msg = validation(
        lambda: c.query(
            TableName=name, IndexName="by_g", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": S("x")}
        )
    )
    assert msg == "The table does not have the specified index: by_g"
    with pytest.raises(ClientError) as e:
        c.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "nope"}}])
    assert error_of(e.value)[0] in ("ResourceNotFoundException", "ValidationException")


def test_update_table_billing_mode(env):
    c = env.c.ddb
    name = env.create_table(view_type=None)["TableName"]
    t = c.update_table(
        TableName=name, BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 7, "WriteCapacityUnits": 3}
    )["TableDescription"]
    # AWS omits BillingModeSummary for provisioned tables in some cases; present, it says PROVISIONED.
    assert t.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") == "PROVISIONED"
    t = env.wait_table_active(name)
    assert t.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") == "PROVISIONED"
    assert (t["ProvisionedThroughput"]["ReadCapacityUnits"], t["ProvisionedThroughput"]["WriteCapacityUnits"]) == (7, 3)
    c.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 9, "WriteCapacityUnits": 4})
    t = env.wait_table_active(name)
    assert (t["ProvisionedThroughput"]["ReadCapacityUnits"], t["ProvisionedThroughput"]["WriteCapacityUnits"]) == (9, 4)
    c.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
    t = env.wait_table_active(name)
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert (t["ProvisionedThroughput"]["ReadCapacityUnits"], t["ProvisionedThroughput"]["WriteCapacityUnits"]) == (0, 0)
    # Throughput on an on-demand table, and PROVISIONED without throughput, are refused.
    validation(
        lambda: c.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    )
    validation(lambda: c.update_table(TableName=name, BillingMode="PROVISIONED"))
    with pytest.raises(ClientError) as e:
        c.update_table(TableName=unique("no-such"), BillingMode="PAY_PER_REQUEST")
    assert error_of(e.value)[:2] == ("ResourceNotFoundException", 400)


# --------------------------------------------------------------------------------------------
# TTL


def test_time_to_live_configuration(env):
    c = env.c.ddb
    name = env.create_table(view_type=None)["TableName"]
    assert c.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    spec = c.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert spec["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "exp"}
    d = c.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert d["TimeToLiveStatus"] in ("ENABLING", "ENABLED") and d["AttributeName"] == "exp"
    msg = validation(
        lambda: c.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    )
    assert "TimeToLive is already enabled" in msg, msg
    spec = c.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "exp"})
    assert spec["TimeToLiveSpecification"] == {"Enabled": False, "AttributeName": "exp"}
    d = c.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert d["TimeToLiveStatus"] in ("DISABLING", "DISABLED")
    with pytest.raises(ClientError) as e:
        c.describe_time_to_live(TableName=unique("no-such"))
    assert error_of(e.value)[:2] == ("ResourceNotFoundException", 400)


def test_ttl_sweeper_deletes_expired_items_with_service_identity(env):
    c = env.c.ddb
    name = env.create_table(view_type="NEW_AND_OLD_IMAGES")["TableName"]
    arn = c.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    c.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    now = clock(env)
    items = {
        "past": {"pk": S("past"), "exp": N(int(now) - 30)},
        "future": {"pk": S("future"), "exp": N(int(now) + 60)},
        "far-future": {"pk": S("far-future"), "exp": N(int(now) + 10 * 365 * 86400)},
        "ancient": {"pk": S("ancient"), "exp": N(int(now) - 6 * 365 * 86400)},  # > 5 years ago: ignored
        "string": {"pk": S("string"), "exp": S(str(int(now) - 30))},  # not a number: ignored
        "none": {"pk": S("none")},
    }
    for it in items.values():
        c.put_item(TableName=name, Item=it)

    def present():
        return {it["pk"]["S"] for it in c.scan(TableName=name, ConsistentRead=True)["Items"]}

    wait_for(lambda: present() == set(items) - {"past"}, "expired items swept", timeout=5)
    clock(env, advance=120)
    wait_for(lambda: present() == {"far-future", "ancient", "string", "none"}, "item expired by the clock", timeout=5)

    recs = env.stream_records(arn)
    removes = [r for r in recs if r["eventName"] == "REMOVE"]
    assert sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in removes) == ["future", "past"]
    for r in removes:
        assert r["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}, r
        key = r["dynamodb"]["Keys"]["pk"]["S"]
        assert r["dynamodb"]["OldImage"] == items[key]
        assert "NewImage" not in r["dynamodb"]
    # A user's delete carries no userIdentity.
    c.delete_item(TableName=name, Key={"pk": S("none")})
    recs = env.stream_records(arn)
    user_delete = [r for r in recs if r["eventName"] == "REMOVE" and r["dynamodb"]["Keys"]["pk"] == S("none")]
    assert len(user_delete) == 1 and "userIdentity" not in user_delete[0]
    assert all("userIdentity" not in r for r in recs if r["eventName"] != "REMOVE")


def test_ttl_disabled_table_keeps_expired_items(env):
    c = env.c.ddb
    name = env.create_table(view_type=None)["TableName"]
    now = clock(env)
    c.put_item(TableName=name, Item={"pk": S("old"), "exp": N(int(now) - 100)})
    clock(env, advance=5)
    time.sleep(2.2)  # the sweeper (1 s period) had two chances to misbehave
    assert "Item" in c.get_item(TableName=name, Key={"pk": S("old")}, ConsistentRead=True)


# --------------------------------------------------------------------------------------------
# tags, limits, endpoints


def test_tags(env):
    c = env.c.ddb
    name = unique("tagged")
    c.create_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "team", "Value": "data"}],
    )  # fmt: skip
    env.wait_table_active(name)
    arn = table_arn(name)
    assert c.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "data"}]
    c.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "platform"}])
    tags = sorted(c.list_tags_of_resource(ResourceArn=arn)["Tags"], key=lambda t: t["Key"])
    assert tags == [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "platform"}]
    c.untag_resource(ResourceArn=arn, TagKeys=["team", "not-there"])
    assert c.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "test"}]
    c.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert c.list_tags_of_resource(ResourceArn=arn).get("Tags", []) == []
    missing = table_arn(unique("no-such"))
    for call in (
        lambda: c.list_tags_of_resource(ResourceArn=missing),
        lambda: c.tag_resource(ResourceArn=missing, Tags=[{"Key": "a", "Value": "b"}]),
        lambda: c.untag_resource(ResourceArn=missing, TagKeys=["a"]),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e.value)[:2] == ("ResourceNotFoundException", 400)
    validation(lambda: c.list_tags_of_resource(ResourceArn="not-an-arn"))


def test_tags_with_the_aws_cli(env, aws):
    name = env.create_table(view_type=None)["TableName"]
    arn = table_arn(name)
    aws("dynamodb", "tag-resource", "--resource-arn", arn, "--tags", "Key=owner,Value=me", "Key=tier,Value=1")
    out = aws("dynamodb", "list-tags-of-resource", "--resource-arn", arn)
    assert sorted(out["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "owner", "Value": "me"}, {"Key": "tier", "Value": "1"}
    ]  # fmt: skip


def test_describe_limits_and_endpoints(env):
    c = env.c.ddb
    limits = c.describe_limits()
    assert {k: v for k, v in limits.items() if k != "ResponseMetadata"} == {
        "AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000,
    }  # fmt: skip
    eps = c.describe_endpoints()["Endpoints"]
    assert len(eps) == 1 and eps[0]["CachePeriodInMinutes"] == 1440 and eps[0]["Address"]


# --------------------------------------------------------------------------------------------
# consumed capacity


def test_return_consumed_capacity(env):
    c = env.c.ddb
    name = unique("cap")
    c.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
    )  # fmt: skip
    env.wait_table_active(name)

    def units(resp):
        cc = resp["ConsumedCapacity"]
        assert cc["TableName"] == name
        return cc["CapacityUnits"]

    small = {"pk": S("p"), "sk": S("small"), "v": S("x" * 100)}
    big = {"pk": S("p"), "sk": S("big"), "v": S("x" * 5000)}  # ~5 KB: 5 WCU, 2 RCU strongly consistent
    assert units(c.put_item(TableName=name, Item=small, ReturnConsumedCapacity="TOTAL")) == 1.0
    assert units(c.put_item(TableName=name, Item=big, ReturnConsumedCapacity="TOTAL")) == 5.0
    assert "ConsumedCapacity" not in c.put_item(TableName=name, Item=small, ReturnConsumedCapacity="NONE")
    assert "ConsumedCapacity" not in c.put_item(TableName=name, Item=small)
    k_small, k_big = {"pk": S("p"), "sk": S("small")}, {"pk": S("p"), "sk": S("big")}
    assert units(c.get_item(TableName=name, Key=k_small, ReturnConsumedCapacity="TOTAL")) == 0.5
    assert units(c.get_item(TableName=name, Key=k_small, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")) == 1.0
    assert units(c.get_item(TableName=name, Key=k_big, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")) == 2.0
    assert units(c.get_item(TableName=name, Key=k_big, ReturnConsumedCapacity="TOTAL")) == 1.0
    # A missing item still costs the minimum.
    assert units(c.get_item(TableName=name, Key={"pk": S("p"), "sk": S("zz")}, ReturnConsumedCapacity="TOTAL")) == 0.5
    # An update is charged for the larger of the old and new item.
    r = c.update_item(
        TableName=name, Key=k_big, UpdateExpression="REMOVE v", ReturnConsumedCapacity="TOTAL"
    )
    assert units(r) == 5.0
    assert units(c.delete_item(TableName=name, Key=k_big, ReturnConsumedCapacity="TOTAL")) == 1.0
    assert units(c.delete_item(TableName=name, Key=k_big, ReturnConsumedCapacity="TOTAL")) == 1.0

    # INDEXES: the table and every GSI the write touches.
    idx_item = {"pk": S("p"), "sk": S("indexed"), "g": S("G")}
    r = c.put_item(TableName=name, Item=idx_item, ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
    assert r["TableName"] == name and r["CapacityUnits"] == 2.0
    assert r["Table"]["CapacityUnits"] == 1.0
    assert r["GlobalSecondaryIndexes"] == {"gsi": {"CapacityUnits": 1.0}} or r["GlobalSecondaryIndexes"]["gsi"][
        "CapacityUnits"] == 1.0  # fmt: skip
    r = c.put_item(TableName=name, Item={"pk": S("p"), "sk": S("plain")}, ReturnConsumedCapacity="INDEXES")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0  # not in the sparse index

    # Query / Scan: the total size read, in 4 KB units, halved when eventually consistent.
    for i in range(10):
        c.put_item(TableName=name, Item={"pk": S("q"), "sk": S(f"{i:02d}"), "v": S("y" * 1000)})
    q = c.query(
        TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("q")},
        ReturnConsumedCapacity="TOTAL",
    )  # fmt: skip
    assert q["Count"] == 10
    assert units(q) == 1.5  # ~10 KB -> 3 units of 4 KB, eventually consistent
    q = c.query(
        TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("q")},
        ReturnConsumedCapacity="TOTAL", ConsistentRead=True, Select="COUNT",
    )  # fmt: skip
    assert units(q) == 3.0
    s = c.scan(TableName=name, ReturnConsumedCapacity="TOTAL")
    assert s["Count"] == 13 and 1.5 <= units(s) <= 2.5
    assert math.isclose(units(s) * 2, round(units(s) * 2))  # whole half units

"""DynamoDB (JSON 1.0) as the tutorial uses it: tables with streams, item writes and reads,
UpdateItem `SET path = :value`, and AWS's errors for the usual mistakes."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from botocore.exceptions import ClientError
from harness import STREAM_LABEL, error_of, signed_request, table_arn, unique, wait_for


def test_create_describe_list_delete_table(env):
    c = env.c
    name = unique("users")
    resp = c.ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "Username", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "Username", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    created = resp["TableDescription"]
    assert created["TableName"] == name
    assert created["TableArn"] == table_arn(name)
    # AWS answers CREATING and turns ACTIVE shortly after; an emulator may already be ACTIVE.
    assert created["TableStatus"] in ("CREATING", "ACTIVE")
    assert created["KeySchema"] == [{"AttributeName": "Username", "KeyType": "HASH"}]
    assert created["AttributeDefinitions"] == [{"AttributeName": "Username", "AttributeType": "S"}]
    assert created["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert created["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    label = created["LatestStreamLabel"]
    assert STREAM_LABEL.match(label), label
    assert created["LatestStreamArn"] == f"{table_arn(name)}/stream/{label}"

    t = env.wait_table_active(name)
    assert t["TableName"] == name and t["TableArn"] == table_arn(name)
    assert t["KeySchema"] == created["KeySchema"]
    assert t["AttributeDefinitions"] == created["AttributeDefinitions"]
    assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert t["LatestStreamArn"] == created["LatestStreamArn"]
    assert t["LatestStreamLabel"] == label
    assert t["ItemCount"] == 0 and t["TableSizeBytes"] == 0
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 0
    assert uuid.UUID(t["TableId"])

    names = c.ddb.list_tables()["TableNames"]
    assert name in names
    assert names == sorted(names)

    deleted = c.ddb.delete_table(TableName=name)["TableDescription"]
    assert deleted["TableName"] == name and deleted["TableStatus"] == "DELETING"

    def gone():
        try:
            c.ddb.describe_table(TableName=name)
            return False
        except ClientError as e:
            return error_of(e)[:2] == ("ResourceNotFoundException", 400)

    wait_for(gone, f"table {name} to be deleted")
    wait_for(lambda: name not in c.ddb.list_tables()["TableNames"], "ListTables without the table")


def test_provisioned_table_without_stream(env):
    c = env.c
    name = unique("plain")
    created = c.ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4},
    )["TableDescription"]
    assert created["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    assert created["ProvisionedThroughput"]["WriteCapacityUnits"] == 4
    t = env.wait_table_active(name)
    # No stream has ever existed: none of the stream members appear.
    for member in ("StreamSpecification", "LatestStreamArn", "LatestStreamLabel"):
        assert member not in t, member
    assert c.streams.list_streams(TableName=name)["Streams"] == []


def test_put_get_update_delete_item(env):
    c = env.c
    name = env.create_table(view_type=None)["TableName"]
    key = {"pk": {"S": "user#1"}}
    item = {
        **key,
        "name": {"S": "Fred"},
        "age": {"N": "42"},
        "tags": {"SS": ["a", "b"]},
        "info": {"M": {"rating": {"N": "3"}, "nick": {"S": "fr"}}},
        "list": {"L": [{"S": "x"}, {"N": "1.5"}, {"BOOL": True}, {"NULL": True}]},
        "blob": {"B": b"\x00\x01binary"},
    }
    assert "Attributes" not in c.ddb.put_item(TableName=name, Item=item)

    got = c.ddb.get_item(TableName=name, Key=key, ConsistentRead=True)
    assert got["Item"]["tags"]["SS"] and sorted(got["Item"]["tags"]["SS"]) == ["a", "b"]
    got["Item"]["tags"]["SS"] = sorted(got["Item"]["tags"]["SS"])
    assert got["Item"] == item

    # SET on a top-level attribute, and on a nested document path.
    upd = c.ddb.update_item(
        TableName=name, Key=key, UpdateExpression="SET age = :a", ExpressionAttributeValues={":a": {"N": "43"}},
        ReturnValues="UPDATED_NEW",
    )  # fmt: skip
    assert upd["Attributes"] == {"age": {"N": "43"}}
    upd = c.ddb.update_item(
        TableName=name, Key=key, UpdateExpression="SET info.rating = :r, #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":r": {"N": "5"}, ":n": {"S": "Frederick"}},
        ReturnValues="ALL_NEW",
    )  # fmt: skip
    assert upd["Attributes"]["info"] == {"M": {"rating": {"N": "5"}, "nick": {"S": "fr"}}}
    assert upd["Attributes"]["name"] == {"S": "Frederick"}
    assert upd["Attributes"]["age"] == {"N": "43"}

    # UpdateItem on a missing key creates the item.
    key2 = {"pk": {"S": "user#2"}}
    c.ddb.update_item(
        TableName=name, Key=key2, UpdateExpression="SET city = :c", ExpressionAttributeValues={":c": {"S": "Oslo"}}
    )
    assert c.ddb.get_item(TableName=name, Key=key2)["Item"] == {**key2, "city": {"S": "Oslo"}}

    # PutItem replaces the whole item; ALL_OLD returns what was there.
    old = c.ddb.put_item(TableName=name, Item={**key2, "city": {"S": "Bergen"}}, ReturnValues="ALL_OLD")
    assert old["Attributes"] == {**key2, "city": {"S": "Oslo"}}

    deleted = c.ddb.delete_item(TableName=name, Key=key, ReturnValues="ALL_OLD")
    assert deleted["Attributes"]["name"] == {"S": "Frederick"}
    assert "Item" not in c.ddb.get_item(TableName=name, Key=key)
    # Deleting a missing item is not an error.
    assert "Attributes" not in c.ddb.delete_item(TableName=name, Key=key, ReturnValues="ALL_OLD")


@pytest.mark.parametrize(
    "call",
    [
        lambda c, t: c.ddb.describe_table(TableName=t),
        lambda c, t: c.ddb.put_item(TableName=t, Item={"pk": {"S": "a"}}),
        lambda c, t: c.ddb.get_item(TableName=t, Key={"pk": {"S": "a"}}),
        lambda c, t: c.ddb.update_item(
            TableName=t,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET x = :x",
            ExpressionAttributeValues={":x": {"S": "y"}},
        ),  # fmt: skip
        lambda c, t: c.ddb.delete_item(TableName=t, Key={"pk": {"S": "a"}}),
        lambda c, t: c.ddb.delete_table(TableName=t),
    ],
    ids=["DescribeTable", "PutItem", "GetItem", "UpdateItem", "DeleteItem", "DeleteTable"],
)
def test_unknown_table_is_resource_not_found(env, call):
    with pytest.raises(ClientError) as e:
        call(env.c, unique("no-such-table"))
    code, status, message = error_of(e.value)
    assert (code, status) == ("ResourceNotFoundException", 400)
    assert message.startswith("Requested resource not found"), message


def test_unknown_table_error_on_the_wire(env):
    name = unique("no-such-table")
    status, headers, body = signed_request(
        env.server.endpoint, "DynamoDB_20120810.DescribeTable", json.dumps({"TableName": name}).encode()
    )
    assert status == 400
    err = json.loads(body)
    assert err["__type"] == "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    assert err["message"] == f"Requested resource not found: Table: {name} not found"


@pytest.mark.parametrize(
    "target", ["DynamoDB_20120810.GetItem", "DynamoDB_20120810.CreateTable", "DynamoDBStreams_20120810.ListStreams"]
)
def test_malformed_json_is_serialization_exception(env, target):
    status, _, body = signed_request(env.server.endpoint, target, b'{"TableName": "t", "Key": {')
    assert status == 400, body
    err = json.loads(body)
    assert err["__type"].rsplit("#", 1)[-1] == "SerializationException", err


def test_wrong_key_type_is_validation_exception(env):
    c = env.c
    name = env.create_table(view_type=None)["TableName"]  # pk is S
    for call in (
        lambda: c.ddb.get_item(TableName=name, Key={"pk": {"N": "1"}}),
        lambda: c.ddb.put_item(TableName=name, Item={"pk": {"N": "1"}}),
        lambda: c.ddb.delete_item(TableName=name, Key={"pk": {"N": "1"}}),
        lambda: c.ddb.update_item(
            TableName=name,
            Key={"pk": {"N": "1"}},
            UpdateExpression="SET a = :a",
            ExpressionAttributeValues={":a": {"S": "b"}},
        ),  # fmt: skip
    ):
        with pytest.raises(ClientError) as e:
            call()
        code, status, message = error_of(e.value)
        assert (code, status) == ("ValidationException", 400), message
        assert message, "AWS explains the mismatch"


def test_missing_key_attribute_is_validation_exception(env):
    c = env.c
    name = env.create_table(view_type=None)["TableName"]
    with pytest.raises(ClientError) as e:
        c.ddb.put_item(TableName=name, Item={"other": {"S": "x"}})
    code, status, message = error_of(e.value)
    assert (code, status) == ("ValidationException", 400)
    assert re.search(r"[Mm]issing the key pk", message), message

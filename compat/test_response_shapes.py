"""Response shapes against AWS's service models: DynamoDB's WarmThroughput, BillingModeSummary and
UpdateTable's UPDATING, table ARNs wherever a table is named, `x-amz-crc32` on every DynamoDB and
Streams response; Lambda's RuntimeVersionConfig, LoggingConfig (a custom log group and the JSON
format, honoured by the function's logs), SnapStart, TracingConfig and EphemeralStorage; and a
model-driven check that every member we return is in the operation's output shape, with every
model member we never return named and justified."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import zlib

import pytest
from botocore.exceptions import ClientError
from harness import (
    ACCOUNT,
    REGION,
    TRIBUTARY_BIN,
    client,
    error_of,
    signed_request,
    table_arn,
    unique,
    wait_for,
    zip_bytes,
)

S = lambda v: {"S": v}  # noqa: E731

RUNTIME_VERSION_ARN = re.compile(rf"^arn:aws:lambda:{REGION}::runtime:[0-9a-f]{{64}}$")

HANDLER_PY = """\
import logging
import os


def handler(event, context):
    print("hello from", context.aws_request_id)
    logging.getLogger().warning("a warning")
    if event.get("fail"):
        raise ValueError("boom")
    return {"group": context.log_group_name, "env": os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME"),
            "format": os.environ.get("AWS_LAMBDA_LOG_FORMAT"), "level": os.environ.get("AWS_LAMBDA_LOG_LEVEL")}
"""
CODE = zip_bytes({"handler.py": HANDLER_PY})


@pytest.fixture(scope="module")
def logs(server):
    return client("logs", server.endpoint)


def on_demand_table(c, name, **kw):
    return c.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[{
            "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}, **kw.pop("gsi", {}),
        }],
        **kw,
    )["TableDescription"]  # fmt: skip


# --------------------------------------------------------------------------------------------
# DynamoDB


def test_warm_throughput_of_on_demand_and_provisioned_tables_and_their_indexes(env, aws):
    c = env.c.ddb
    name = unique("warm")
    created = on_demand_table(c, name)
    assert {k: created["WarmThroughput"][k] for k in ("ReadUnitsPerSecond", "WriteUnitsPerSecond")} == {
        "ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 4000,
    }  # fmt: skip
    # The answer describes a table being created; it is usable at once.
    assert created["WarmThroughput"]["Status"] in ("CREATING", "ACTIVE")
    assert created["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING"
    t = env.wait_table_active(name)
    on_demand = {"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 4000, "Status": "ACTIVE"}
    assert t["WarmThroughput"] == on_demand
    assert t["GlobalSecondaryIndexes"][0]["WarmThroughput"] == on_demand

    prov = unique("warm-prov")
    c.create_table(
        TableName=prov,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 6},
        GlobalSecondaryIndexes=[{
            "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 2},
        }],
    )  # fmt: skip
    t = env.wait_table_active(prov)
    assert t["WarmThroughput"] == {"ReadUnitsPerSecond": 5, "WriteUnitsPerSecond": 6, "Status": "ACTIVE"}
    assert t["GlobalSecondaryIndexes"][0]["WarmThroughput"] == {
        "ReadUnitsPerSecond": 3, "WriteUnitsPerSecond": 2, "Status": "ACTIVE",
    }  # fmt: skip
    # Local indexes share the table's throughput: the model gives them no WarmThroughput.
    # The AWS CLI shows the same.
    assert aws("dynamodb", "describe-table", "--table-name", prov, "--query", "Table.WarmThroughput") == {
        "ReadUnitsPerSecond": 5, "WriteUnitsPerSecond": 6, "Status": "ACTIVE",
    }  # fmt: skip


def test_warm_throughput_is_raised_on_request_and_never_lowered(env):
    c = env.c.ddb
    name = unique("prewarm")
    on_demand_table(
        c, name, WarmThroughput={"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 100},
        gsi={"WarmThroughput": {"ReadUnitsPerSecond": 13000}},
    )  # fmt: skip
    t = env.wait_table_active(name)
    assert t["WarmThroughput"] == {"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 4000, "Status": "ACTIVE"}
    assert t["GlobalSecondaryIndexes"][0]["WarmThroughput"] == {
        "ReadUnitsPerSecond": 13000, "WriteUnitsPerSecond": 4000, "Status": "ACTIVE",
    }  # fmt: skip

    updated = c.update_table(
        TableName=name,
        WarmThroughput={"WriteUnitsPerSecond": 9000},
        GlobalSecondaryIndexUpdates=[{"Update": {"IndexName": "by_g", "WarmThroughput": {"WriteUnitsPerSecond": 5000}}}],
    )["TableDescription"]
    assert updated["TableStatus"] == "UPDATING"
    assert updated["WarmThroughput"] == {"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 9000, "Status": "UPDATING"}
    gsi = updated["GlobalSecondaryIndexes"][0]
    assert gsi["WarmThroughput"] == {"ReadUnitsPerSecond": 13000, "WriteUnitsPerSecond": 5000, "Status": "UPDATING"}
    assert gsi["ProvisionedThroughput"]["ReadCapacityUnits"] == 0, "a warm-only update leaves the throughput alone"
    t = env.wait_table_active(name)
    assert t["WarmThroughput"] == {"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 9000, "Status": "ACTIVE"}

    # Asking for less changes nothing: warm throughput is never lowered.
    c.update_table(TableName=name, WarmThroughput={"ReadUnitsPerSecond": 1, "WriteUnitsPerSecond": 1})
    t = env.wait_table_active(name)
    assert t["WarmThroughput"] == {"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 9000, "Status": "ACTIVE"}
    with pytest.raises(ClientError) as e:
        client("dynamodb", env.server.endpoint, validate=False).update_table(
            TableName=name, WarmThroughput={"ReadUnitsPerSecond": 0}
        )
    assert error_of(e.value)[0] == "ValidationException"


def test_billing_mode_summary_is_not_in_the_create_answer(env):
    c = env.c.ddb
    name = unique("bill")
    before = env.clock()
    created = on_demand_table(c, name)
    assert created["BillingModeSummary"] == {"BillingMode": "PAY_PER_REQUEST"}
    t = env.wait_table_active(name)
    since = t["BillingModeSummary"]["LastUpdateToPayPerRequestDateTime"]
    assert isinstance(since, datetime.datetime)
    assert abs(since.timestamp() - before) < 5

    # A provisioned table has none until it switches; then the switch time is reported.
    prov = unique("bill-prov")
    created = c.create_table(
        TableName=prov,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )["TableDescription"]
    assert "BillingModeSummary" not in created
    assert "BillingModeSummary" not in env.wait_table_active(prov)
    switch = env.advance_clock(3600)
    updated = c.update_table(TableName=prov, BillingMode="PAY_PER_REQUEST")["TableDescription"]
    assert updated["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    t = env.wait_table_active(prov)
    assert abs(t["BillingModeSummary"]["LastUpdateToPayPerRequestDateTime"].timestamp() - switch) < 5
    assert t["WarmThroughput"]["ReadUnitsPerSecond"] == 12000


def test_update_table_answers_updating_then_the_table_is_active(env):
    c = env.c.ddb
    name = env.create_table(view_type=None)["TableName"]
    c.put_item(TableName=name, Item={"pk": S("a"), "g": S("x")})
    t = c.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}}],
    )["TableDescription"]  # fmt: skip
    assert t["TableStatus"] == "UPDATING"
    assert t["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING"
    # Usable at once: the next DescribeTable shows it ACTIVE, deterministically.
    t = c.describe_table(TableName=name)["Table"]
    assert t["TableStatus"] == "ACTIVE" and t["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    t = c.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_g"}}])[
        "TableDescription"
    ]
    assert (t["TableStatus"], t["GlobalSecondaryIndexes"][0]["IndexStatus"]) == ("UPDATING", "DELETING")
    assert "GlobalSecondaryIndexes" not in c.describe_table(TableName=name)["Table"]
    t = c.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    assert t["TableDescription"]["TableStatus"] == "UPDATING"
    assert t["TableDescription"]["WarmThroughput"]["Status"] == "ACTIVE", "its warm throughput did not change"
    assert c.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"


def test_provisioned_throughput_changes_and_index_reads_are_reported(env):
    c = env.c.ddb
    name = unique("pt")
    c.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        GlobalSecondaryIndexes=[{
            "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        }],
    )  # fmt: skip
    t = env.wait_table_active(name)
    assert t["ProvisionedThroughput"] == {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    up = env.clock()
    c.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 8, "WriteCapacityUnits": 5})
    pt = env.wait_table_active(name)["ProvisionedThroughput"]
    assert abs(pt["LastIncreaseDateTime"].timestamp() - up) < 5 and "LastDecreaseDateTime" not in pt
    assert pt["NumberOfDecreasesToday"] == 0
    # Decreases are counted per UTC day of the server clock: start just after a midnight, so
    # both fall on one day.
    now = env.clock()
    env.advance_clock(86400 - now % 86400 + 60)
    c.update_table(
        TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 5},
        GlobalSecondaryIndexUpdates=[{"Update": {
            "IndexName": "by_g", "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 3}}}],
    )  # fmt: skip
    c.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 5})
    t = env.wait_table_active(name)
    assert t["ProvisionedThroughput"]["NumberOfDecreasesToday"] == 2 and "LastDecreaseDateTime" in t["ProvisionedThroughput"]
    gsi = t["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]
    assert "LastIncreaseDateTime" in gsi and gsi["NumberOfDecreasesToday"] == 0
    # The next day starts from zero.
    env.advance_clock(86400)
    assert c.describe_table(TableName=name)["Table"]["ProvisionedThroughput"]["NumberOfDecreasesToday"] == 0

    c.put_item(TableName=name, Item={"pk": S("a"), "g": S("x")})
    q = c.query(
        TableName=name, IndexName="by_g", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": S("x")},
        ReturnConsumedCapacity="INDEXES",
    )["ConsumedCapacity"]  # fmt: skip
    assert q["Table"]["CapacityUnits"] == 0
    assert q["GlobalSecondaryIndexes"]["by_g"]["CapacityUnits"] == q["CapacityUnits"] > 0
    s = c.scan(TableName=name, IndexName="by_g", ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
    assert set(s["GlobalSecondaryIndexes"]) == {"by_g"}
    assert "GlobalSecondaryIndexes" not in c.scan(TableName=name, ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]


def test_a_table_arn_is_accepted_wherever_a_table_is_named(env, aws):
    c = env.c.ddb
    name = env.create_table(view_type=None, sort_key=("sk", "S"))["TableName"]
    arn = table_arn(name)
    assert c.describe_table(TableName=arn)["Table"]["TableName"] == name
    r = c.put_item(TableName=arn, Item={"pk": S("a"), "sk": S("1"), "v": S("x")}, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["TableName"] == arn, "AWS reports the table as the caller named it"
    got = c.get_item(TableName=arn, Key={"pk": S("a"), "sk": S("1")}, ReturnConsumedCapacity="INDEXES")
    assert got["Item"]["v"] == S("x") and got["ConsumedCapacity"]["TableName"] == arn
    c.update_item(
        TableName=arn, Key={"pk": S("a"), "sk": S("1")}, UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": S("y")},
    )  # fmt: skip
    q = c.query(
        TableName=arn, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("a")},
        ReturnConsumedCapacity="TOTAL",
    )  # fmt: skip
    assert [i["v"] for i in q["Items"]] == [S("y")] and q["ConsumedCapacity"]["TableName"] == arn
    assert c.scan(TableName=arn)["Count"] == 1

    w = c.batch_write_item(
        RequestItems={arn: [{"PutRequest": {"Item": {"pk": S("b"), "sk": S("1")}}}]}, ReturnConsumedCapacity="TOTAL"
    )
    assert w["UnprocessedItems"] == {} and [x["TableName"] for x in w["ConsumedCapacity"]] == [arn]
    g = c.batch_get_item(
        RequestItems={arn: {"Keys": [{"pk": S("b"), "sk": S("1")}]}, name: {"Keys": [{"pk": S("a"), "sk": S("1")}]}}
    )
    assert set(g["Responses"]) == {arn, name}, "Responses are keyed by what the caller sent"
    assert len(g["Responses"][arn]) == 1 and len(g["Responses"][name]) == 1
    # The same item through both spellings is one item twice.
    with pytest.raises(ClientError) as e:
        c.batch_write_item(RequestItems={
            arn: [{"PutRequest": {"Item": {"pk": S("c"), "sk": S("1")}}}],
            name: [{"DeleteRequest": {"Key": {"pk": S("c"), "sk": S("1")}}}],
        })  # fmt: skip
    assert error_of(e.value)[0] == "ValidationException"

    c.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": arn, "Item": {"pk": S("t"), "sk": S("1")}}},
            {"Delete": {"TableName": arn, "Key": {"pk": S("b"), "sk": S("1")}}},
        ]
    )
    tg = c.transact_get_items(TransactItems=[{"Get": {"TableName": arn, "Key": {"pk": S("t"), "sk": S("1")}}}])
    assert tg["Responses"][0]["Item"]["pk"] == S("t")
    c.delete_item(TableName=arn, Key={"pk": S("t"), "sk": S("1")})

    c.update_time_to_live(TableName=arn, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert c.describe_time_to_live(TableName=arn)["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    assert c.update_table(TableName=arn, DeletionProtectionEnabled=False)["TableDescription"]["TableName"] == name
    assert aws("dynamodb", "get-item", "--table-name", arn, "--key", json.dumps({"pk": S("a"), "sk": S("1")}))[
        "Item"
    ]["v"] == S("y")

    # Another account's table of the same name is not this one.
    other = f"arn:aws:dynamodb:{REGION}:111111111111:table/{name}"
    for call in (
        lambda: c.get_item(TableName=other, Key={"pk": S("a"), "sk": S("1")}),
        lambda: c.describe_table(TableName=other),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e.value)[0] == "ResourceNotFoundException"
    # An index ARN names no table.
    with pytest.raises(ClientError) as e:
        c.describe_table(TableName=f"{arn}/index/x")
    assert error_of(e.value)[0] == "ValidationException"

    deleted = c.delete_table(TableName=arn)["TableDescription"]
    assert (deleted["TableName"], deleted["TableStatus"]) == (name, "DELETING")
    assert name not in c.list_tables()["TableNames"]
    # CreateTable takes an ARN too and names the table after it.
    created = c.create_table(
        TableName=arn, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]  # fmt: skip
    assert (created["TableName"], created["TableArn"]) == (name, arn)


def test_every_dynamodb_and_streams_response_carries_the_crc32_of_its_body(env, logs):
    name = env.create_table(view_type="KEYS_ONLY")["TableName"]
    calls = [
        ("DynamoDB_20120810.DescribeTable", {"TableName": name}, 200),
        ("DynamoDB_20120810.GetItem", {"TableName": name, "Key": {"pk": S("x")}}, 200),
        ("DynamoDB_20120810.DescribeTable", {"TableName": "no-such-table"}, 400),
        ("DynamoDB_20120810.NoSuchOperation", {}, 400),
        ("DynamoDBStreams_20120810.ListStreams", {"TableName": name}, 200),
        ("DynamoDBStreams_20120810.DescribeStream", {"StreamArn": "nope"}, 400),
    ]
    for target, body, status in calls:
        code, headers, raw = signed_request(env.server.endpoint, target, json.dumps(body).encode())
        assert code == status, (target, code, raw)
        headers = {k.lower(): v for k, v in headers.items()}
        assert headers["x-amz-crc32"] == str(zlib.crc32(raw)), (target, headers)
    # Malformed JSON is an error with a checksum too.
    code, headers, raw = signed_request(env.server.endpoint, "DynamoDB_20120810.ListTables", b"{not json")
    assert code == 400 and {k.lower(): v for k, v in headers.items()}["x-amz-crc32"] == str(zlib.crc32(raw))
    # CloudWatch Logs (JSON 1.1) does not send one, as on AWS.
    code, headers, _ = signed_request(env.server.endpoint, "Logs_20140328.DescribeLogGroups", b"{}", service="logs")
    assert code == 200 and "x-amz-crc32" not in {k.lower() for k in headers}


# --------------------------------------------------------------------------------------------
# Lambda


def test_runtime_version_config_in_every_function_configuration(env):
    lam = env.c.lam
    name = unique("rv")
    created = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/r", Handler="handler.handler",
        Code={"ZipFile": CODE},
    )  # fmt: skip
    arn = created["RuntimeVersionConfig"]["RuntimeVersionArn"]
    assert RUNTIME_VERSION_ARN.match(arn), arn
    env.wait_function_active(name)
    assert lam.get_function(FunctionName=name)["Configuration"]["RuntimeVersionConfig"] == {"RuntimeVersionArn": arn}
    assert lam.get_function_configuration(FunctionName=name)["RuntimeVersionConfig"]["RuntimeVersionArn"] == arn
    listed = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name]
    assert listed[0]["RuntimeVersionConfig"]["RuntimeVersionArn"] == arn
    published = lam.publish_version(FunctionName=name)
    assert published["RuntimeVersionConfig"]["RuntimeVersionArn"] == arn
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert {v["RuntimeVersionConfig"]["RuntimeVersionArn"] for v in versions} == {arn}
    # Stable per runtime: another function on it shares it; another runtime has its own.
    other = env.create_function(CODE, runtime="python3.12")
    assert lam.get_function(FunctionName=other)["Configuration"]["RuntimeVersionConfig"]["RuntimeVersionArn"] == arn
    changed = lam.update_function_configuration(FunctionName=other, Runtime="provided.al2023")
    assert RUNTIME_VERSION_ARN.match(changed["RuntimeVersionConfig"]["RuntimeVersionArn"])
    assert changed["RuntimeVersionConfig"]["RuntimeVersionArn"] != arn


def group_messages(logs, group):
    try:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    except ClientError:
        return []


def test_logging_config_custom_group_and_json_format_are_honoured(env, logs):
    lam = env.c.lam
    group = f"/custom/{unique('lg')}"
    name = unique("logcfg")
    created = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/r", Handler="handler.handler",
        Code={"ZipFile": CODE}, LoggingConfig={"LogFormat": "JSON", "LogGroup": group},
    )  # fmt: skip
    json_config = {"LogFormat": "JSON", "LogGroup": group, "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO"}
    assert created["LoggingConfig"] == json_config, "switching to JSON sets both levels to INFO"
    env.wait_function_active(name)
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == json_config

    r = lam.invoke(FunctionName=name, Payload=b"{}")
    seen = json.loads(r["Payload"].read())
    assert seen == {"group": group, "env": group, "format": "JSON", "level": "INFO"}
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    def platform_records():
        records = []
        for m in group_messages(logs, group):
            try:
                doc = json.loads(m)
            except ValueError:
                continue
            if isinstance(doc, dict) and str(doc.get("type", "")).startswith("platform."):
                records.append(doc)
        return records if any(d["type"] == "platform.report" for d in records) else None

    records = wait_for(platform_records, f"platform records in {group}")
    by_type = {d["type"]: d for d in records}
    assert set(by_type) == {"platform.start", "platform.runtimeDone", "platform.report"}
    start, done, report = by_type["platform.start"], by_type["platform.runtimeDone"], by_type["platform.report"]
    assert list(start) == ["time", "type", "record"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", start["time"])
    assert start["record"] == {"requestId": rid, "version": "$LATEST"}
    assert done["record"]["requestId"] == rid and done["record"]["status"] == "success"
    assert set(done["record"]["metrics"]) == {"durationMs", "producedBytes"}
    assert report["record"]["status"] == "success"
    assert {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"} <= set(report["record"]["metrics"])
    assert report["record"]["metrics"]["memorySizeMB"] == 128
    assert not any(m.startswith(("START ", "END ", "REPORT ")) for m in group_messages(logs, group))
    # The function's own output is there, and nothing went to the default group.
    assert any("hello from" in m for m in group_messages(logs, group))
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")
    assert error_of(e.value)[0] == "ResourceNotFoundException"

    # A function error: the runtime's outcome is `error`, the platform's report a success.
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"fail": True}).encode())
    assert r.get("FunctionError") == "Unhandled"
    failed = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    def failed_done():
        recs = [json.loads(m) for m in group_messages(logs, group) if m.startswith('{"time"')]
        return [d for d in recs if d["record"].get("requestId") == failed and d["type"] == "platform.runtimeDone"]

    [done] = wait_for(failed_done, "runtimeDone of the failed invocation")
    assert (done["record"]["status"], done["record"]["errorType"]) == ("error", "ValueError")

    # Back to Text: the levels go, the group stays, and the lines are text again.
    updated = lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "Text"})
    assert updated["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": group}
    env.wait_function_active(name)
    r = lam.invoke(FunctionName=name, Payload=b"{}")
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert json.loads(r["Payload"].read())["format"] is None
    wait_for(lambda: f"START RequestId: {rid} Version: $LATEST\n" in group_messages(logs, group), "a text START line")
    # `tributary logs <function>` reads the group the function's configuration names.
    p = subprocess.run(
        [str(TRIBUTARY_BIN), "logs", name, "--endpoint", env.server.endpoint, "--since", "1d"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert f"START RequestId: {rid} Version: $LATEST" in p.stdout

    # SystemLogLevel WARN leaves the (INFO-level) platform events out.
    quiet = lam.update_function_configuration(
        FunctionName=name, LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN", "ApplicationLogLevel": "ERROR"}
    )
    assert quiet["LoggingConfig"] == {
        "LogFormat": "JSON", "LogGroup": group, "ApplicationLogLevel": "ERROR", "SystemLogLevel": "WARN",
    }  # fmt: skip
    env.wait_function_active(name)
    r = lam.invoke(FunctionName=name, Payload=b"{}")
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert json.loads(r["Payload"].read())["level"] == "ERROR"
    wait_for(lambda: any(f"hello from {rid}" in m for m in group_messages(logs, group)), "the function's output")
    assert not any(rid in m for m in group_messages(logs, group) if "platform." in m)


def test_logging_config_is_validated_as_aws_validates_it(env):
    lam = client("lambda", env.server.endpoint, validate=False)
    base = dict(
        Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/r", Handler="handler.handler", Code={"ZipFile": CODE}
    )
    cases = [
        ({"LogFormat": "Text", "ApplicationLogLevel": "INFO"}, "InvalidParameterValueException", "LogLevel is not supported"),
        ({"SystemLogLevel": "DEBUG"}, "InvalidParameterValueException", "LogFormat is set to \"Text\""),
        ({"LogFormat": "XML"}, "ValidationException", "Member must satisfy enum value set: [JSON, Text]"),
        ({"LogFormat": "JSON", "SystemLogLevel": "TRACE"}, "ValidationException", "loggingConfig.systemLogLevel"),
        ({"LogGroup": "bad group!"}, "ValidationException", "loggingConfig.logGroup"),
        ({"LogGroup": "x" * 513}, "ValidationException", "less than or equal to 512"),
    ]
    for cfg, code, text in cases:
        with pytest.raises(ClientError) as e:
            lam.create_function(FunctionName=unique("badlog"), LoggingConfig=cfg, **base)
        got = error_of(e.value)
        assert (got[0], text in got[2]) == (code, True), (cfg, got)
    name = env.create_function(CODE)
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert error_of(e.value)[0] == "InvalidParameterValueException"


def test_snap_start_tracing_and_ephemeral_storage_are_echoed(env):
    lam = env.c.lam
    name = env.create_function(
        CODE, SnapStart={"ApplyOn": "PublishedVersions"}, TracingConfig={"Mode": "Active"},
        EphemeralStorage={"Size": 1024},
    )  # fmt: skip
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    assert cfg["TracingConfig"] == {"Mode": "Active"} and cfg["EphemeralStorage"] == {"Size": 1024}
    v = lam.publish_version(FunctionName=name)
    assert v["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    off = lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "None"})
    assert off["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert off["TracingConfig"] == {"Mode": "Active"}
    plain = env.create_function(CODE)
    cfg = lam.get_function_configuration(FunctionName=plain)
    assert cfg["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert cfg["TracingConfig"] == {"Mode": "PassThrough"} and cfg["EphemeralStorage"] == {"Size": 512}
    raw = client("lambda", env.server.endpoint, validate=False)
    for kw, field in [
        ({"SnapStart": {"ApplyOn": "Always"}}, "snapStart.applyOn"),
        ({"TracingConfig": {"Mode": "On"}}, "tracingConfig.mode"),
        ({"EphemeralStorage": {"Size": 100}}, "ephemeralStorage.size"),
    ]:
        with pytest.raises(ClientError) as e:
            raw.update_function_configuration(FunctionName=plain, **kw)
        code, _, msg = error_of(e.value)
        assert code == "ValidationException" and field in msg, (kw, msg)


# --------------------------------------------------------------------------------------------
# the model-driven check

# Model members no exercised response carries, each with the reason. The check fails when a
# member outside the model is returned, when a model member is neither returned nor listed here
# (a new member in the model, or one we stopped returning), and when a member listed here is
# returned after all (the list must stay true).
NEVER_RETURNED: dict[str, str] = {
    # --- DynamoDB: returned only in situations this workload does not create (covered elsewhere)
    "StreamDescription.LastEvaluatedShardId": "only while more shards remain; one shard here (test_streams pages them)",
    "Shard.ParentShardId": "only for shards split or rolled over from another (test_streams_lineage)",
    "SequenceNumberRange.EndingSequenceNumber": "only for closed shards (test_streams_lineage, test_streams_retention)",
    "Record.userIdentity": "only on records of TTL deletions (test_dataplane_admin)",
    "ListTagsOfResourceOutput.NextToken": "a table has at most 50 tags, all returned in one page",
    "GlobalSecondaryIndexDescription.Backfilling": (
        "only while a GSI added to an existing table backfills; the backfill is part of UpdateTable's write, "
        "so no index is ever seen backfilling"
    ),
    # --- DynamoDB: features we do not accept, so we have no value for them
    "TableDescription.Replicas": "global tables are not supported",
    "TableDescription.GlobalTableVersion": "global tables are not supported",
    "TableDescription.GlobalTableWitnesses": "global tables are not supported",
    "TableDescription.GlobalTableSettingsReplicationMode": "global tables are not supported",
    "TableDescription.MultiRegionConsistency": "global tables are not supported",
    "TableDescription.DisassociationProtectionEnabled": "multi-account global tables are not supported",
    "TableDescription.RestoreSummary": "backups and restores are not supported",
    "TableDescription.ArchivalSummary": "only for tables archived after losing their KMS key; no KMS here",
    "TableDescription.SSEDescription": (
        "SSESpecification is not accepted; AWS reports it only for KMS encryption, the default (AWS-owned key) "
        "has none"
    ),
    "TableDescription.TableClassSummary": "TableClass is not accepted; left out rather than guessed",
    "TableDescription.OnDemandThroughput": "OnDemandThroughput (maximum request units) is not accepted",
    "GlobalSecondaryIndexDescription.OnDemandThroughput": "OnDemandThroughput (maximum request units) is not accepted",
    "TableDescription.VectorIndexes": "vector indexes are not supported",
    "ConsumedCapacity.VectorIndexes": "vector indexes are not supported",
    # --- DynamoDB: a value we could compute but do not yet (reported as remaining work)
    "PutItemOutput.ItemCollectionMetrics": "ReturnItemCollectionMetrics is ignored: item collection sizes are not tracked",
    "UpdateItemOutput.ItemCollectionMetrics": "ReturnItemCollectionMetrics is ignored: item collection sizes are not tracked",
    "DeleteItemOutput.ItemCollectionMetrics": "ReturnItemCollectionMetrics is ignored: item collection sizes are not tracked",
    "BatchWriteItemOutput.ItemCollectionMetrics": (
        "ReturnItemCollectionMetrics is ignored: item collection sizes are not tracked"
    ),
    "TransactWriteItemsOutput.ItemCollectionMetrics": (
        "ReturnItemCollectionMetrics is ignored: item collection sizes are not tracked"
    ),
    # --- Lambda: errors of features we do not have
    "EnvironmentResponse.Error": "only when KMS cannot decrypt the variables; no KMS here",
    "RuntimeVersionConfig.Error": "only when a runtime version cannot be resolved; ours always is",
    "FunctionCodeLocation.Error": "only when the code of an image function cannot be located",
    "GetFunctionResponse.TagsError": "only when the tags cannot be read; ours are in the same store",
    # --- Lambda: packaging, networking and features we do not accept, so we have no value for them
    "FunctionCodeLocation.ImageUri": "container image functions are not supported",
    "FunctionCodeLocation.ResolvedImageUri": "container image functions are not supported",
    "FunctionCodeLocation.ResolvedS3Object": "code comes from ZipFile only, never from S3",
    "FunctionCodeLocation.SourceKMSKeyArn": "SourceKMSKeyArn is not accepted (no KMS)",
    "FunctionConfiguration.ImageConfigResponse": "container image functions are not supported",
    "FunctionConfiguration.KMSKeyArn": "KMSKeyArn is not accepted (no KMS)",
    "FunctionConfiguration.VpcConfig": "VpcConfig is not accepted; AWS leaves it out for functions outside a VPC",
    "FunctionConfiguration.DeadLetterConfig": "DeadLetterConfig is not accepted",
    "FunctionConfiguration.Layers": "layers are not supported",
    "FunctionConfiguration.FileSystemConfigs": "EFS file systems are not supported",
    "FunctionConfiguration.MasterArn": "only for Lambda@Edge replicas",
    "FunctionConfiguration.SigningJobArn": "code signing is not supported",
    "FunctionConfiguration.SigningProfileVersionArn": "code signing is not supported",
    "FunctionConfiguration.TenancyConfig": "tenant isolation is not supported",
    "FunctionConfiguration.CapacityProviderConfig": "Lambda Managed Instances (capacity providers) are not supported",
    "FunctionConfiguration.AcceleratorConfig": "accelerators are not supported",
    "FunctionConfiguration.DurableConfig": "durable functions are not supported",
    "FunctionConfiguration.RuntimeConfig": "customer-managed runtimes are not supported",
    "FunctionConfiguration.ConfigSha256": (
        "how AWS hashes the configuration is undocumented, and it is not seen on ordinary functions; "
        "left out rather than invented"
    ),
    # --- Lambda event source mappings: other event sources, and settings for them
    "DestinationConfig.OnSuccess": "stream mappings refuse OnSuccess (InvalidParameterValueException), as AWS does",
    "EventSourceMappingConfiguration.AmazonManagedKafkaEventSourceConfig": "Kafka sources are not supported",
    "EventSourceMappingConfiguration.SelfManagedKafkaEventSourceConfig": "Kafka sources are not supported",
    "EventSourceMappingConfiguration.SelfManagedEventSource": "Kafka sources are not supported",
    "EventSourceMappingConfiguration.Topics": "Kafka sources are not supported",
    "EventSourceMappingConfiguration.ProvisionedPollerConfig": "Kafka and SQS only",
    "EventSourceMappingConfiguration.LoggingConfig": "Kafka only (the model says so)",
    "EventSourceMappingConfiguration.Queues": "Amazon MQ sources are not supported",
    "EventSourceMappingConfiguration.SourceAccessConfigurations": "Kafka and Amazon MQ only",
    "EventSourceMappingConfiguration.DocumentDBEventSourceConfig": "DocumentDB sources are not supported",
    "EventSourceMappingConfiguration.ScalingConfig": "SQS only",
    "EventSourceMappingConfiguration.StartingPositionTimestamp": "AT_TIMESTAMP is for Kinesis and Kafka, not DynamoDB",
    "EventSourceMappingConfiguration.KMSKeyArn": "only when the filter criteria are encrypted with KMS",
    "EventSourceMappingConfiguration.FilterCriteriaError": "only when KMS cannot decrypt the filter criteria",
}


class ShapeCheck:
    """Records each response body by operation and compares its member names with the
    operation's output shape in botocore's loaded model."""

    # Values whose members are data, not model members: attribute values and item maps.
    OPAQUE = {"AttributeValue"}

    def __init__(self):
        self.calls: list[tuple[str, object, object]] = []  # (service, operation model, body)
        self.unknown: list[str] = []
        self.seen: set[str] = set()
        self.reachable: set[str] = set()

    def hook(self, service):
        def after_call(http_response, model=None, **_):
            if model is None or http_response.status_code >= 300 or model.has_streaming_output:
                return
            text = http_response.text
            if text.strip():
                self.calls.append((service, model, json.loads(text)))

        return after_call

    def attach(self, boto_client, service):
        boto_client.meta.events.register("after-call", self.hook(service))

    def walk(self, shape, value, path):
        if shape.name in self.OPAQUE:
            return
        if shape.type_name == "structure":
            if not isinstance(value, dict):
                self.unknown.append(f"{path}: {type(value).__name__} where {shape.name} is an object")
                return
            body = {
                m.serialization.get("name", n): (n, m)
                for n, m in shape.members.items()
                if m.serialization.get("location") is None
            }
            for n, _ in body.values():
                self.reachable.add(f"{shape.name}.{n}")
            for key, v in value.items():
                if key not in body:
                    self.unknown.append(f"{path}.{key} is not a member of {shape.name}")
                    continue
                n, m = body[key]
                self.seen.add(f"{shape.name}.{n}")
                self.walk(m, v, f"{path}.{key}")
        elif shape.type_name == "list":
            for v in value if isinstance(value, list) else []:
                self.walk(shape.member, v, f"{path}[]")
        elif shape.type_name == "map":
            for v in (value if isinstance(value, dict) else {}).values():
                self.walk(shape.value, v, f"{path}{{}}")

    def run(self):
        for service, model, body in self.calls:
            if model.output_shape is not None:
                self.walk(model.output_shape, body, f"{service}.{model.name}")
        return sorted(set(self.unknown)), sorted(self.reachable - self.seen)


def test_responses_match_the_service_models(env, server):
    check = ShapeCheck()
    ddb = client("dynamodb", server.endpoint)
    streams = client("dynamodbstreams", server.endpoint)
    lam = client("lambda", server.endpoint)
    for c, service in [(ddb, "dynamodb"), (streams, "dynamodbstreams"), (lam, "lambda")]:
        check.attach(c, service)

    # DynamoDB: every operation the compat suite uses.
    name = unique("shape")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g", "l")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        GlobalSecondaryIndexes=[{
            "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v"]},
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        }],
        LocalSecondaryIndexes=[{
            "IndexName": "by_l", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                               {"AttributeName": "l", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        Tags=[{"Key": "k", "Value": "v"}],
    )  # fmt: skip
    od = unique("shape-od")
    on_demand_table(ddb, od, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    ddb.describe_table(TableName=od)
    ddb.describe_table(TableName=name)
    ddb.list_tables(Limit=1)
    arn = table_arn(name)
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "k2", "Value": "v2"}])
    ddb.list_tags_of_resource(ResourceArn=arn)
    ddb.untag_resource(ResourceArn=arn, TagKeys=["k2"])
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    ddb.describe_time_to_live(TableName=name)
    ddb.describe_limits()
    ddb.describe_endpoints()
    for rcc in ("TOTAL", "INDEXES"):
        item = {"pk": S("a"), "sk": S("1"), "g": S("x"), "l": S(rcc), "v": S(rcc)}
        ddb.put_item(TableName=name, Item=item, ReturnValues="ALL_OLD", ReturnConsumedCapacity=rcc,
                     ReturnItemCollectionMetrics="SIZE")  # fmt: skip
        ddb.get_item(TableName=name, Key={"pk": S("a"), "sk": S("1")}, ReturnConsumedCapacity=rcc)
        ddb.update_item(
            TableName=name, Key={"pk": S("a"), "sk": S("1")}, UpdateExpression="SET w = :w",
            ExpressionAttributeValues={":w": S("w")}, ReturnValues="ALL_NEW", ReturnConsumedCapacity=rcc,
        )  # fmt: skip
        ddb.query(TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("a")},
                  ReturnConsumedCapacity=rcc, Limit=1)  # fmt: skip
        ddb.query(TableName=name, IndexName="by_g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": S("x")}, ReturnConsumedCapacity=rcc)  # fmt: skip
        ddb.scan(TableName=name, ReturnConsumedCapacity=rcc, Limit=1)
        ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": S("b"), "sk": S("1")}}}]},
                             ReturnConsumedCapacity=rcc, ReturnItemCollectionMetrics="SIZE")  # fmt: skip
        ddb.batch_get_item(RequestItems={name: {"Keys": [{"pk": S("b"), "sk": S("1")}]}}, ReturnConsumedCapacity=rcc)
        ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": name, "Item": {"pk": S("t"), "sk": S("1")}}}],
            ReturnConsumedCapacity=rcc, ReturnItemCollectionMetrics="SIZE",
        )  # fmt: skip
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": {"pk": S("t"), "sk": S("1")}}}],
                               ReturnConsumedCapacity=rcc)  # fmt: skip
        ddb.delete_item(TableName=name, Key={"pk": S("t"), "sk": S("1")}, ReturnValues="ALL_OLD",
                        ReturnConsumedCapacity=rcc)  # fmt: skip
    ddb.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 6, "WriteCapacityUnits": 6})
    ddb.update_table(
        TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 4, "WriteCapacityUnits": 4},
        GlobalSecondaryIndexUpdates=[{"Update": {
            "IndexName": "by_g", "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": 2}}}],
    )  # fmt: skip
    ddb.describe_table(TableName=name)

    # DynamoDB Streams.
    stream_arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    streams.list_streams(TableName=name)
    streams.list_streams(Limit=1)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    streams.get_records(ShardIterator=it["ShardIterator"])

    # Lambda: functions, versions, aliases, concurrency, tags, mappings.
    fn = unique("shape-fn")
    role = f"arn:aws:iam::{ACCOUNT}:role/r"
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=role, Handler="handler.handler",
                        Code={"ZipFile": CODE}, Environment={"Variables": {"AB": "c"}}, Tags={"t": "1"},
                        LoggingConfig={"LogFormat": "JSON"})  # fmt: skip
    env.wait_function_active(fn)
    lam.get_function(FunctionName=fn)
    lam.get_function_configuration(FunctionName=fn)
    lam.list_functions()
    env.create_function(CODE)
    lam.list_functions(MaxItems=1)
    lam.update_function_configuration(FunctionName=fn, Timeout=5)
    env.wait_function_active(fn)
    lam.update_function_code(FunctionName=fn, ZipFile=CODE)
    wait_for(lambda: lam.get_function(FunctionName=fn)["Configuration"].get("LastUpdateStatus") == "Successful",
             "the code update to settle")  # fmt: skip
    v = lam.publish_version(FunctionName=fn)["Version"]
    lam.update_function_configuration(FunctionName=fn, Description="second")
    env.wait_function_active(fn)
    wait_for(lambda: lam.get_function(FunctionName=fn)["Configuration"].get("LastUpdateStatus") == "Successful",
             "the configuration update to settle")  # fmt: skip
    v2 = lam.publish_version(FunctionName=fn)["Version"]
    lam.list_versions_by_function(FunctionName=fn)
    lam.list_versions_by_function(FunctionName=fn, MaxItems=1)
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=v,
                     RoutingConfig={"AdditionalVersionWeights": {v2: 0.5}})  # fmt: skip
    lam.create_alias(FunctionName=fn, Name="beta", FunctionVersion=v2)
    lam.get_alias(FunctionName=fn, Name="live")
    lam.list_aliases(FunctionName=fn)
    lam.list_aliases(FunctionName=fn, MaxItems=1)
    lam.update_alias(FunctionName=fn, Name="live", Description="d")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=2)
    lam.get_function_concurrency(FunctionName=fn)
    lam.get_function(FunctionName=fn)
    lam.delete_function_concurrency(FunctionName=fn)
    lam.get_account_settings()
    fn_arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=fn_arn, Tags={"t2": "2"})
    lam.list_tags(Resource=fn_arn)
    lam.untag_resource(Resource=fn_arn, TagKeys=["t2"])
    lam.invoke(FunctionName=fn, Payload=b"{}")["Payload"].read()
    sqs = client("sqs", server.endpoint)
    url = sqs.create_queue(QueueName=unique("shape-dlq"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    esm = lam.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=stream_arn, StartingPosition="LATEST",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]},
        MetricsConfig={"Metrics": ["EventCount"]}, DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )  # fmt: skip
    env.wait_mapping_state(esm["UUID"], "Enabled")
    od_stream = ddb.describe_table(TableName=od)["Table"]["LatestStreamArn"]
    esm2 = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=od_stream, StartingPosition="LATEST")
    env.wait_mapping_state(esm2["UUID"], "Enabled")
    lam.get_event_source_mapping(UUID=esm["UUID"])
    lam.list_event_source_mappings(FunctionName=fn)
    lam.list_event_source_mappings(FunctionName=fn, MaxItems=1)
    lam.update_event_source_mapping(UUID=esm["UUID"], BatchSize=10)
    env.wait_mapping_state(esm["UUID"], "Enabled")
    lam.delete_event_source_mapping(UUID=esm["UUID"])
    lam.delete_event_source_mapping(UUID=esm2["UUID"])
    lam.delete_alias(FunctionName=fn, Name="live")
    lam.delete_function(FunctionName=fn)
    ddb.delete_table(TableName=name)

    unknown, never = check.run()
    assert not unknown, "members outside the model:\n" + "\n".join(unknown)
    unexplained = [m for m in never if m not in NEVER_RETURNED]
    assert not unexplained, "model members never returned and not justified:\n" + "\n".join(unexplained)
    returned = sorted(m for m in NEVER_RETURNED if m in check.seen)
    assert not returned, "listed as never returned, but returned:\n" + "\n".join(returned)

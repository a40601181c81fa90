"""Deeply nested input through the real binary: expressions, attribute values, filter patterns and
request bodies nested past every limit get AWS's error (code, HTTP status, message) instead of
recursing until the stack overflows (which aborts the whole server), and the server is still
healthy afterwards. scripts/test.sh also runs this file against a debug build, whose stack frames
are the largest.

The limits: expressions nest at most 50 parentheses, NOTs and function calls (ours; DynamoDB
documents none), document paths 32 steps and attribute values 32 levels (DynamoDB's), filter
patterns 72 objects (ours; deeper than any stream record field), JSON bodies 128 levels
(serde_json's), CBOR bodies 32 levels, XML bodies 32 elements."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import RpcV2CBORParser
from harness import REGION, client, error_of, signed_request, unique

EXPR_LIMIT = 50
TOO_DEEP = f"The expression has too many nesting levels; maximum nesting levels: {EXPR_LIMIT}"
NESTING = (
    "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
)


@pytest.fixture(autouse=True)
def _still_healthy(server):
    """Every test here ends with the server alive and answering its health check."""
    yield
    assert server.proc is not None and server.proc.poll() is None, server.log_tail()
    health = server.health()
    assert health is not None and health["status"] == "ready", server.log_tail()


@pytest.fixture(scope="module")
def table(server):
    """A table with one item; tests only read it or write keys of their own."""
    ddb = client("dynamodb", server.endpoint)
    name = unique("nesting")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200})
    ddb.put_item(TableName=name, Item={"pk": {"S": "k"}, "a": {"N": "1"}})
    return name


def fails(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as e:
        call()
    return error_of(e.value)


def invalid(param: str, reason: str = TOO_DEEP) -> tuple[str, int, str]:
    return ("ValidationException", 400, f"Invalid {param}: {reason}")


def or_chain(levels: int) -> str:
    """`((a <> :v OR a = :v) OR a = :v)`, `levels` parentheses deep: what boto3 writes for
    `c1 | c2 | c3`; true for an item that does not exist (a missing `a` is unequal to anything)."""
    e = "a <> :v"
    for _ in range(levels):
        e = f"({e} OR a = :v)"
    return e


def and_chain(levels: int) -> str:
    """`(a = :v AND (a = :v AND ...))`: the costliest shape to parse."""
    e = "a = :v"
    for _ in range(levels):
        e = f"(a = :v AND {e})"
    return e


def nested_map(maps: int) -> dict:
    """`maps` maps around a string: the string is at level maps + 1."""
    v: dict = {"S": "x"}
    for _ in range(maps):
        v = {"M": {"k": v}}
    return v


# expressions -------------------------------------------------------------------------------------


def test_condition_expressions(env, table):
    ddb = env.c.ddb
    v = {":v": {"N": "1"}}

    def put(pk: str, condition: str):
        return ddb.put_item(
            TableName=table, Item={"pk": {"S": pk}}, ConditionExpression=condition, ExpressionAttributeValues=v
        )

    put(unique("p"), or_chain(EXPR_LIMIT))
    assert fails(lambda: put(unique("p"), or_chain(EXPR_LIMIT + 1))) == invalid("ConditionExpression")
    assert fails(lambda: put(unique("p"), and_chain(EXPR_LIMIT + 1))) == invalid("ConditionExpression")
    # The input that used to abort a debug build: 2,000 parentheses fit in DynamoDB's 4 KB.
    deep = "(" * 2000 + "a = :v" + ")" * 2000
    assert fails(lambda: put(unique("p"), deep)) == invalid("ConditionExpression")
    assert fails(lambda: put(unique("p"), "NOT " * 1000 + "a = :v")) == invalid("ConditionExpression")
    huge = "(" * 100_000 + "a = :v" + ")" * 100_000
    assert fails(lambda: put(unique("p"), huge)) == invalid(
        "ConditionExpression",
        f"Expression size has exceeded the maximum allowed size; expression size: {len(huge)}",
    )


def test_filter_and_key_condition_expressions(env, table):
    ddb = env.c.ddb
    v = {":v": {"N": "1"}}
    out = ddb.scan(TableName=table, FilterExpression=and_chain(EXPR_LIMIT), ExpressionAttributeValues=v)
    assert {"pk": {"S": "k"}, "a": {"N": "1"}} in out["Items"]
    deep = and_chain(EXPR_LIMIT + 1)
    assert fails(
        lambda: ddb.scan(TableName=table, FilterExpression=deep, ExpressionAttributeValues=v)
    ) == invalid("FilterExpression")
    assert fails(
        lambda: ddb.query(
            TableName=table,
            KeyConditionExpression="(" * 2000 + "pk = :k" + ")" * 2000,
            ExpressionAttributeValues={":k": {"S": "k"}},
        )
    ) == invalid("KeyConditionExpression")


def test_update_expressions(env, table):
    ddb = env.c.ddb
    pk = unique("u")

    def update(expr: str, values: dict):
        return ddb.update_item(
            TableName=table, Key={"pk": {"S": pk}}, UpdateExpression=expr, ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )  # fmt: skip

    chain = lambda n: "SET a = " + "if_not_exists(a, " * n + ":v" + ")" * n  # noqa: E731
    assert update(chain(EXPR_LIMIT), {":v": {"N": "7"}})["Attributes"]["a"] == {"N": "7"}
    assert fails(lambda: update(chain(EXPR_LIMIT + 1), {":v": {"N": "7"}})) == invalid("UpdateExpression")
    assert fails(lambda: update(chain(200), {":v": {"N": "7"}})) == invalid("UpdateExpression")
    parens = lambda n: "SET a = " + "(" * n + ":v + :v" + ")" * n  # noqa: E731
    assert fails(lambda: update(parens(EXPR_LIMIT + 1), {":v": {"N": "1"}})) == invalid("UpdateExpression")
    assert fails(lambda: update(parens(2000), {":v": {"N": "1"}})) == invalid("UpdateExpression")
    appends = lambda n: "SET l = " + "list_append(:l, " * n + ":l" + ")" * n  # noqa: E731
    assert fails(lambda: update(appends(EXPR_LIMIT), {":l": {"L": []}})) == invalid(
        "UpdateExpression",
        "The function is not allowed to be used this way in an expression; function: list_append",
    )
    assert fails(lambda: update(appends(200), {":l": {"L": []}})) == invalid("UpdateExpression")


def test_projection_expressions_and_document_paths(env, table):
    ddb = env.c.ddb

    def get(projection: str):
        return ddb.get_item(TableName=table, Key={"pk": {"S": "k"}}, ProjectionExpression=projection)

    assert get(".".join(["a"] * 32)).get("Item", {}) == {}  # 32 steps: a valid path that matches nothing
    too_long = "The document path has too many nesting levels; nesting levels: 33"
    assert fails(lambda: get(".".join(["a"] * 33))) == invalid("ProjectionExpression", too_long)
    assert fails(lambda: get("a" + "[0]" * 32)) == invalid("ProjectionExpression", too_long)
    assert fails(lambda: get("a" + "[0]" * 1300)) == invalid(
        "ProjectionExpression", "The document path has too many nesting levels; nesting levels: 1301"
    )
    assert fails(lambda: get("(" * 2000 + "a" + ")" * 2000)) == invalid(
        "ProjectionExpression", 'Syntax error; token: "(", near: "(("'
    )
    assert fails(
        lambda: ddb.update_item(
            TableName=table, Key={"pk": {"S": unique("u")}}, UpdateExpression="REMOVE " + ".".join(["a"] * 1000)
        )
    ) == invalid("UpdateExpression", "The document path has too many nesting levels; nesting levels: 1000")


# attribute values --------------------------------------------------------------------------------


def test_attribute_values_nest_at_most_32_levels(env, table):
    ddb = env.c.ddb
    pk = unique("m")
    # 31 maps: the string is at level 32, the deepest DynamoDB stores.
    ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "doc": nested_map(31)})
    got = ddb.get_item(TableName=table, Key={"pk": {"S": pk}})["Item"]
    assert got["doc"] == nested_map(31)
    # 32 maps put the string at level 33.
    assert fails(lambda: ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "doc": nested_map(32)})) == (
        "ValidationException", 400, NESTING,
    )  # fmt: skip
    deep_list = {"L": [nested_map(31)]}
    assert fails(
        lambda: ddb.update_item(
            TableName=table, Key={"pk": {"S": pk}}, UpdateExpression="SET doc = :d",
            ExpressionAttributeValues={":d": deep_list},
        )
    ) == ("ValidationException", 400, NESTING)  # fmt: skip
    # An update that would store 32 maps is refused too.
    assert fails(
        lambda: ddb.update_item(
            TableName=table, Key={"pk": {"S": pk}}, UpdateExpression="SET doc.k = :d",
            ExpressionAttributeValues={":d": nested_map(31)},
        )
    ) == ("ValidationException", 400, "Nesting Levels have exceeded supported limits")  # fmt: skip
    assert ddb.get_item(TableName=table, Key={"pk": {"S": pk}})["Item"]["doc"] == nested_map(31)


def test_pathologically_deep_attribute_values(env, table):
    # boto3 itself recurses over values, so 10,000 levels go raw. serde_json stops reading at 128
    # levels: the whole body is then a SerializationException, in DynamoDB's error shape.
    body = (
        '{"TableName":"' + table + '","Item":{"pk":{"S":"deep"},"doc":'
        + '{"M":{"k":' * 10_000 + '{"S":"x"}' + "}}" * 10_000 + "}}"
    )  # fmt: skip
    status, headers, raw = signed_request(env.server.endpoint, "DynamoDB_20120810.PutItem", body.encode())
    assert status == 400, raw
    assert {k.lower(): v for k, v in headers.items()}["content-type"] == "application/x-amz-json-1.0"
    assert json.loads(raw) == {
        "__type": "com.amazon.coral.service#SerializationException",
        "message": "Malformed JSON in request body",
    }
    assert "Item" not in env.c.ddb.get_item(TableName=table, Key={"pk": {"S": "deep"}})


# request bodies ----------------------------------------------------------------------------------


def signed(server, method: str, path: str, body: bytes, service: str, headers: dict) -> tuple[int, dict, bytes]:
    req = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=headers)
    auth = S3SigV4Auth if service == "s3" else SigV4Auth
    auth(Credentials("test", "test"), service, REGION).add_auth(req)
    prepared = req.prepare()
    http_req = urllib.request.Request(prepared.url, data=body, method=method, headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http_req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


@pytest.mark.parametrize(
    "target", ["DynamoDB_20120810.Query", "DynamoDBStreams_20120810.GetRecords", "Logs_20140328.PutLogEvents"]
)
def test_deep_json_bodies_are_serialization_exceptions(env, target):
    for body in (b"[" * 100_000, b'{"a":' * 100_000, b"[" * 128 + b"]" * 128):
        status, _, raw = signed_request(env.server.endpoint, target, body)
        assert status == 400, raw
        err = json.loads(raw)
        assert err["__type"].rsplit("#", 1)[-1] == "SerializationException", err


def test_deep_lambda_json_body(env):
    body = b'{"FunctionName":' * 100_000
    status, headers, raw = signed(
        env.server, "POST", "/2015-03-31/functions", body, "lambda", {"Content-Type": "application/json"}
    )
    assert status == 400, raw
    assert headers["x-amzn-errortype"] == "SerializationException", headers
    assert "message" in json.loads(raw)


def test_deep_cbor_body(env):
    # {"MetricData": [[[...]]]}: a map holding 100,000 nested arrays.
    body = bytes([0xA1, 0x6A]) + b"MetricData" + bytes([0x81]) * 100_000 + bytes([0x01])
    status, headers, raw = signed(
        env.server, "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", body, "monitoring",
        {"Content-Type": "application/cbor", "Smithy-Protocol": "rpc-v2-cbor", "Accept": "application/cbor"},
    )  # fmt: skip
    assert status == 400, raw
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    parser = RpcV2CBORParser()
    err = parser.parse_data_item(parser.get_peekable_stream_from_bytes(raw))
    assert err["__type"] == "com.amazon.coral.service#SerializationException", err


def test_deep_xml_body(env):
    s3 = client("s3", env.server.endpoint)
    bucket = unique("nesting")
    s3.create_bucket(Bucket=bucket)
    body = b"<Delete>" + b"<Object>" * 100_000 + b"<Key>k</Key>" + b"</Object>" * 100_000 + b"</Delete>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    headers = {"Content-Type": "application/xml", "Content-MD5": md5}
    status, _, raw = signed(env.server, "POST", f"/{bucket}?delete", body, "s3", headers)
    assert status == 400, raw
    assert b"<Code>MalformedXML</Code>" in raw, raw


def test_deep_query_parameter_names(env):
    sqs = client("sqs", env.server.endpoint)
    url = sqs.create_queue(QueueName=unique("nesting"))["QueueUrl"]
    deep_name = ".".join(["Attribute"] * 100_000)
    body = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": url, "MessageBody": "hi", deep_name: "x"})
    status, _, raw = signed(
        env.server, "POST", "/", body.encode(), "sqs", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200, raw
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in got] == ["hi"]


# event source mappings ---------------------------------------------------------------------------


def test_deep_filter_patterns(env, table):
    stream = env.c.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    function, _ = env.recorder()

    def create(pattern: str):
        return env.c.lam.create_event_source_mapping(
            FunctionName=function, EventSourceArn=stream, StartingPosition="LATEST",
            FilterCriteria={"Filters": [{"Pattern": pattern}]},
        )  # fmt: skip

    nested = lambda n: '{"a": ' * n + '["x"]' + "}" * n  # noqa: E731
    esm = create(nested(72))
    env.c.lam.delete_event_source_mapping(UUID=esm["UUID"])
    refused = ("InvalidParameterValueException", 400, "Invalid filter pattern definition.")
    assert fails(lambda: create(nested(73))) == refused
    assert fails(lambda: create(nested(500))) == refused  # serde_json's 128 levels, within 4096 characters
    assert fails(lambda: create("[" * 4000)) == refused
    code, status, _ = fails(lambda: create(nested(100_000)))
    assert (code, status) == ("ValidationException", 400)  # the 4096-character model limit comes first
